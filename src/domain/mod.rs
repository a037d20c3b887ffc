//! Validated values: once you hold one, it is valid. Knows nothing of actix, rusqlite or threads.

pub mod access;
pub mod finding;
pub mod gate;
pub mod hook;
pub mod ids;
pub mod job;
pub mod metrics;
pub mod notify;
pub mod org;
pub mod project;
pub mod repo;
pub mod rules;
pub mod scheme;
pub mod triage;
pub mod user;

/// `bytes` as lower-case hex (digests, tokens, signatures).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_two_lower_case_digits_per_byte() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(super::hex(&[]), "");
    }
}
