//! Orgs and teams: their identifiers.

/// `org_sid`: letters, digits, `-` and `_`, at most 64; generated when the client gives none.
pub fn check_org_sid(sid: &str) -> Result<(), String> {
    if sid.is_empty()
        || sid.len() > 64
        || !sid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("Enter a valid org_sid: 1 to 64 letters, digits, - or _.".to_string());
    }
    Ok(())
}

/// A short random `org_sid` such as `k3x9q2ma`.
pub fn new_org_sid() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// Team names are slugs (`[-a-zA-Z0-9_]+`) of at most 64, as in TCA.
pub fn check_team_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("Enter a valid team name: 1 to 64 letters, digits, - or _.".to_string());
    }
    Ok(())
}

/// A membership role: TCA's `PermissionEnum` (1 admin, 2 member).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin = 1,
    Member = 2,
}

impl Role {
    pub fn from_i64(value: i64) -> Option<Role> {
        match value {
            1 => Some(Role::Admin),
            2 => Some(Role::Member),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_org_sids_are_valid() {
        let sid = new_org_sid();
        assert_eq!(sid.len(), 8);
        assert!(check_org_sid(&sid).is_ok());
    }

    #[test]
    fn team_names_are_slugs() {
        assert!(check_team_name("web-app_2").is_ok());
        assert!(check_team_name("web app").is_err());
        assert!(check_team_name(&"x".repeat(65)).is_err());
    }
}

/// An organisation: the top of org -> team -> repo -> project.
#[derive(Debug, Clone)]
pub struct Org {
    pub id: crate::domain::ids::OrgId,
    pub org_sid: String,
    pub name: String,
    pub description: Option<String>,
    pub status: i64,
    pub level: i64,
    pub certificated: bool,
    pub owner: Option<String>,
    pub created_time: String,
}

/// A team ("project team" in TCA) of an org.
#[derive(Debug, Clone)]
pub struct Team {
    pub id: crate::domain::ids::TeamId,
    pub org_sid: String,
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub status: i64,
    pub created_time: String,
}

/// An org's or team's members by role.
#[derive(Debug, Clone, Default)]
pub struct Members {
    pub admins: Vec<crate::domain::user::User>,
    pub users: Vec<crate::domain::user::User>,
}
