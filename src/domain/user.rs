//! Users, their API tokens and passwords. A token is shown once, when made; only its SHA-256 is
//! kept. A password is kept only as an argon2id hash (PHC string, with its own salt).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::ids::UserId;

/// How many leading characters of a token are stored in clear to find its row.
pub const TOKEN_PREFIX_LEN: usize = 8;

/// The user a request acts for.
#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub nickname: String,
    pub is_superuser: bool,
    pub is_active: bool,
}

/// A fresh token: 40 random hex characters, like TCA's.
pub fn new_token() -> String {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    crate::domain::hex(&bytes)
}

/// What the database keeps of a token: the prefix that finds the row and the hash that proves it.
pub struct TokenDigest {
    pub prefix: String,
    pub hash: Vec<u8>,
}

pub fn digest(token: &str) -> TokenDigest {
    TokenDigest {
        prefix: token.chars().take(TOKEN_PREFIX_LEN).collect(),
        hash: Sha256::digest(token.as_bytes()).to_vec(),
    }
}

/// Compares a presented token with a stored hash without leaking, through timing, how much matched.
pub fn token_matches(token: &str, stored_hash: &[u8]) -> bool {
    let presented = Sha256::digest(token.as_bytes());
    presented.as_slice().ct_eq(stored_hash).into()
}

/// Tokens chosen by an admin (`CODEPUP_ADMIN_TOKEN`) must be usable in an `Authorization` header.
pub fn check_token_shape(token: &str) -> Result<(), String> {
    if token.len() < 16 || token.len() > 128 {
        return Err("a token must have 16 to 128 characters".to_string());
    }
    if !token.chars().all(|c| c.is_ascii_graphic()) {
        return Err("a token may hold only printable ASCII characters, no spaces".to_string());
    }
    Ok(())
}

/// Usernames as Django allows them: letters, digits and `@.+-_`, at most 150.
pub fn check_username(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > 150 {
        return Err("Ensure this field has 1 to 150 characters.".to_string());
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "@.+-_".contains(c))
    {
        return Err("Enter a valid username: letters, digits and @/./+/-/_ only.".to_string());
    }
    Ok(())
}

/// The shortest and longest password accepted, in characters. The upper bound keeps a request
/// from making the hash read megabytes.
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 256;

pub fn check_password_shape(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&n) {
        return Err(format!(
            "a password must have {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters"
        ));
    }
    if password.chars().any(char::is_control) {
        return Err("a password may not hold control characters".to_string());
    }
    Ok(())
}

/// The argon2id hash (argon2's default parameters, a fresh random salt) to store for `password`.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random source is available");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters hashes any password of bounded length")
        .to_string()
}

/// Whether `password` matches a stored hash (argon2 compares in constant time). A stored value
/// that is no PHC string matches nothing.
pub fn password_matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// A hash to verify against when the user does not exist or has no password, so that such a
/// sign-in takes as long as a wrong password and does not tell which names exist.
pub fn decoy_password_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password(&new_token()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_40_hex_characters_and_differ() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 40);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn a_token_matches_only_its_own_digest() {
        let token = new_token();
        let stored = digest(&token);
        assert_eq!(stored.prefix, token[..8]);
        assert!(token_matches(&token, &stored.hash));
        assert!(!token_matches(&new_token(), &stored.hash));
    }

    #[test]
    fn usernames_follow_django_rules() {
        assert!(check_username("alice.b-c_d@x+y").is_ok());
        assert!(check_username("").is_err());
        assert!(check_username("has space").is_err());
    }

    #[test]
    fn a_password_matches_only_its_own_hash() {
        let stored = hash_password("correct horse");
        assert!(stored.starts_with("$argon2id$"));
        assert!(password_matches("correct horse", &stored));
        assert!(!password_matches("correct hors", &stored));
        assert!(!password_matches("correct horse", "not a hash"));
        assert_ne!(
            hash_password("correct horse"),
            stored,
            "each hash has its own salt"
        );
    }

    #[test]
    fn passwords_have_bounds() {
        assert!(check_password_shape("seven77").is_err());
        assert!(check_password_shape("eight888").is_ok());
        assert!(check_password_shape(&"x".repeat(257)).is_err());
        assert!(check_password_shape("tab\there!").is_err());
    }
}
