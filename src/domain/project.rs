//! Projects: one branch of a repo, scanned with one scheme below one path.

use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::domain::ids::{RepoId, SchemeId};

/// Branch names git would accept as `refs/heads/<name>` and that cannot be read as an option.
pub fn check_branch(name: &str) -> Result<(), String> {
    let bad = name.is_empty()
        || name.len() > 200
        || name.starts_with('-')
        || name.starts_with('/')
        || name.ends_with('/')
        || name.ends_with('.')
        || name.ends_with(".lock")
        || name.contains("..")
        || name.contains("//")
        || name.contains("@{")
        || name == "@"
        || name.split('/').any(|part| part.starts_with('.'))
        || name
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || "~^:?*[\\".contains(c));
    if bad {
        return Err(format!("{name:?} is not a valid branch name"));
    }
    Ok(())
}

/// `scan_path`: an absolute path inside the repository, `/` for all of it. Returned normalised
/// (no trailing slash, no empty or `.` segments).
pub fn normalise_scan_path(path: &str) -> Result<String, String> {
    if !path.starts_with('/') {
        return Err("scan_path must start with '/' (the repository root)".to_string());
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err("scan_path may not contain '..'".to_string()),
            part if part.chars().any(char::is_control) => {
                return Err("scan_path may not contain control characters".to_string())
            }
            part => parts.push(part),
        }
    }
    Ok(format!("/{}", parts.join("/")))
}

/// A string newtype that derefs to `str`, shows and serializes as the string.
macro_rules! text_newtype {
    ($name:ident) => {
        impl $name {
            /// A value read back from the database, which stores only parsed ones.
            pub fn from_stored(text: String) -> $name {
                $name(text)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }
    };
}

/// A project's branch: a name `check_branch` accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BranchName(String);

impl BranchName {
    pub fn parse(name: String) -> Result<BranchName, String> {
        check_branch(&name)?;
        Ok(BranchName(name))
    }
}

text_newtype!(BranchName);

/// A project's `scan_path`, normalised (`normalise_scan_path`): `/` or `/a/b`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScanPath(String);

impl ScanPath {
    pub fn parse(path: &str) -> Result<ScanPath, String> {
        normalise_scan_path(path).map(ScanPath)
    }

    /// The whole repository.
    pub fn root() -> ScanPath {
        ScanPath("/".to_string())
    }
}

text_newtype!(ScanPath);

/// TCA's `project_key`: SHA-256 of `repo_id#scheme_id#branch#scan_path`.
pub fn project_key(repo_id: RepoId, scheme_id: SchemeId, branch: &str, scan_path: &str) -> String {
    let digest = Sha256::digest(format!("{repo_id}#{scheme_id}#{branch}#{scan_path}").as_bytes());
    crate::domain::hex(&digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_follow_git_rules() {
        for good in ["main", "feature/x-1", "release-2.0", "v1"] {
            assert!(check_branch(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-x",
            "a..b",
            "a b",
            "a:b",
            "x.lock",
            "a/.b",
            "a~1",
            "refs/heads/",
        ] {
            assert!(check_branch(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn branch_and_path_values_are_parsed_once() {
        assert_eq!(BranchName::parse("main".into()).unwrap().as_str(), "main");
        assert!(BranchName::parse("-x".into()).is_err());
        assert_eq!(&*ScanPath::parse("/src/").unwrap(), "/src");
        assert_eq!(ScanPath::root().to_string(), "/");
        assert_eq!(
            serde_json::to_value(BranchName::parse("a/b".into()).unwrap()).unwrap(),
            "a/b"
        );
    }

    #[test]
    fn scan_paths_are_normalised() {
        assert_eq!(normalise_scan_path("/").as_deref(), Ok("/"));
        assert_eq!(
            normalise_scan_path("/src//lib/./").as_deref(),
            Ok("/src/lib")
        );
        assert!(normalise_scan_path("src").is_err());
        assert!(normalise_scan_path("/a/../b").is_err());
    }

    #[test]
    fn an_archived_project_cannot_become_active_again() {
        assert!(check_status(0).is_err() && check_status(6).is_err());
        assert!(check_status(5).is_ok());
        assert!(check_status_change(2, 1).is_ok());
        assert!(check_status_change(1, 5).is_ok());
        for archived in [3, 4, 5] {
            assert!(check_status_change(archived, 1).is_err());
            assert!(check_status_change(archived, 2).is_ok());
        }
    }

    #[test]
    fn project_keys_depend_on_every_part() {
        let key = project_key(RepoId(1), SchemeId(2), "main", "/");
        assert_eq!(key.len(), 64);
        assert_ne!(key, project_key(RepoId(1), SchemeId(2), "main", "/src"));
    }
}

/// A project: what `scans/create` scans.
#[derive(Debug, Clone)]
pub struct Project {
    pub id: crate::domain::ids::ProjectId,
    pub repo_id: RepoId,
    pub branch: BranchName,
    pub scheme_id: SchemeId,
    pub scan_path: ScanPath,
    pub status: i64,
    pub created_from: String,
    pub creator: Option<String>,
    pub creator_id: Option<crate::domain::ids::UserId>,
    pub scm_initial_revision: Option<String>,
    pub created_time: String,
}

/// A project's `status` (TCA's `Project.StatusEnum`): 1 active, 2 inactive, 3 archiving,
/// 4 archived but not cleaned, 5 archived. Kept and shown; scans do not look at it, as in TCA.
pub fn check_status(status: i64) -> Result<(), String> {
    if (1..=5).contains(&status) {
        Ok(())
    } else {
        Err(format!("\"{status}\" is not a valid choice."))
    }
}

/// TCA's rule for a status change: an archived project (3, 4, 5) cannot become active again.
pub fn check_status_change(from: i64, to: i64) -> Result<(), &'static str> {
    if to == 1 && (3..=5).contains(&from) {
        Err("归档项目无法更新状态")
    } else {
        Ok(())
    }
}

/// Where a project sits (org, team, repository) and the caller's roles there: what a page that
/// lists projects or jobs across teams needs to link to them and to offer only allowed actions.
#[derive(Debug, Clone)]
pub struct ProjectPlace {
    pub project_id: crate::domain::ids::ProjectId,
    pub branch: BranchName,
    pub repo_id: RepoId,
    pub repo_name: String,
    pub scm_url: String,
    pub org_sid: String,
    pub team_name: String,
    pub access: crate::domain::access::Access,
}
