//! Repository URLs: what may be registered, how it is shown (TCA's normalisation, §9.1) and what
//! git is given. Nothing that could make git run a command or read an option gets through.

use std::path::{Path, PathBuf};

/// A repository location that passed every check. `scm_url` is the normalised form used for
/// display and per-team uniqueness; `fetch_url` is what git is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoUrl {
    scm_url: String,
    fetch_url: String,
    default_name: String,
}

/// Transports git may use, for remote and local repositories alike.
pub const ALLOWED_SCHEMES: &[&str] = &["http", "https", "ssh", "git", "file"];

impl RepoUrl {
    /// Parses what a client sent as `scm_url`. Local paths and `file://` URLs must lie below one
    /// of `local_roots` (after resolving symlinks and `..`).
    pub fn parse(text: &str, local_roots: &[PathBuf]) -> Result<RepoUrl, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("This field may not be blank.".to_string());
        }
        if text.starts_with('-') {
            return Err("a repository URL may not start with '-'".to_string());
        }
        if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(
                "a repository URL may not contain spaces or control characters".to_string(),
            );
        }
        if text.contains("::") {
            return Err(format!(
                "transport not allowed: use one of {}",
                ALLOWED_SCHEMES.join(", ")
            ));
        }
        let text = text.split('#').next().unwrap_or(text);
        if let Some((scheme, rest)) = split_scheme(text) {
            let scheme = scheme.to_ascii_lowercase();
            if !ALLOWED_SCHEMES.contains(&scheme.as_str()) {
                return Err(format!(
                    "transport {scheme:?} not allowed: use one of {}",
                    ALLOWED_SCHEMES.join(", ")
                ));
            }
            if scheme == "file" {
                return local(rest, local_roots);
            }
            return remote(&scheme, rest, text);
        }
        if text.starts_with('/') || text.starts_with('.') || text.starts_with('~') {
            return local(text, local_roots);
        }
        if let Some((authority, path)) = scp_like(text) {
            return remote("ssh", &format!("{authority}/{path}"), text);
        }
        remote("http", text, &format!("http://{text}"))
    }

    pub fn scm_url(&self) -> &str {
        &self.scm_url
    }

    pub fn fetch_url(&self) -> &str {
        &self.fetch_url
    }

    /// The last path segment without `.git`, TCA's default repository name.
    pub fn default_name(&self) -> &str {
        &self.default_name
    }

    /// The directory of a local repository, `None` for a remote one. Where git would really
    /// read from (a `.git` file can point anywhere) is for `git::check_local_repository`.
    pub fn local_path(&self) -> Option<&Path> {
        local_path(&self.scm_url, &self.fetch_url)
    }
}

/// A local repository's directory: its `scm_url` is always `file://` and its `fetch_url` the
/// canonical path.
fn local_path<'a>(scm_url: &str, fetch_url: &'a str) -> Option<&'a Path> {
    scm_url.starts_with("file://").then(|| Path::new(fetch_url))
}

/// How an admin allows local repositories, for error messages.
const HOW: &str = "start codepup with --allow-local-repos DIR (or CODEPUP_LOCAL_REPO_ROOTS) naming a directory above it";

/// `path` with symlinks and `..` resolved, when it lies below one of `roots` (resolved too).
pub fn below_a_root(path: &Path, roots: &[PathBuf]) -> Result<PathBuf, String> {
    if roots.is_empty() {
        return Err(format!(
            "local repositories are not allowed on this server: {HOW}"
        ));
    }
    let canonical = path.canonicalize().map_err(|error| {
        format!(
            "local repository {} cannot be read: {error}",
            path.display()
        )
    })?;
    if !is_below_a_root(&canonical, roots) {
        return Err(format!(
            "local repository {} is not below an allowed root: {HOW}",
            canonical.display()
        ));
    }
    Ok(canonical)
}

/// Whether `canonical` (a path with symlinks and `..` already resolved) lies below one of
/// `roots`.
pub fn is_below_a_root(canonical: &Path, roots: &[PathBuf]) -> bool {
    roots.iter().any(|root| {
        root.canonicalize()
            .is_ok_and(|root| canonical.starts_with(root))
    })
}

/// `scheme://rest` -> `(scheme, rest)` when `scheme` looks like a URL scheme.
fn split_scheme(text: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    (first_ok && chars.all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)))
        .then_some((scheme, rest))
}

/// `[user@]host:path` (git's scp-like ssh syntax), when the colon comes before any slash.
fn scp_like(text: &str) -> Option<(&str, &str)> {
    let (authority, path) = text.split_once(':')?;
    if authority.is_empty() || authority.contains('/') || path.is_empty() {
        return None;
    }
    Some((authority, path.trim_start_matches('/')))
}

/// Builds TCA's `http://<host>/<path>` form from `authority/path` and keeps `fetch_url` for git.
fn remote(scheme: &str, rest: &str, fetch_url: &str) -> Result<RepoUrl, String> {
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (users, host_port) = authority.rsplit_once('@').unwrap_or(("", authority));
    // git hands ssh the user, host and port as arguments: one that starts with `-` would be
    // read as an option (`-oProxyCommand=...`), bracketed or not. git refuses them too, but
    // they are never registered.
    let option_like = |part: &str| part.trim_start_matches('[').starts_with('-');
    if users.split('@').any(option_like) || host_port.split(':').any(option_like) {
        return Err("a repository URL's user, host or port may not start with '-'".to_string());
    }
    let host_port = if scheme == "ssh" {
        // An ssh port says nothing about where the web view lives.
        host_port.split(':').next().unwrap_or(host_port)
    } else {
        host_port
    };
    if host_port.is_empty() {
        return Err("a repository URL needs a host".to_string());
    }
    let path = path.split('?').next().unwrap_or(path).trim_end_matches('/');
    let path = path
        .strip_suffix(".git")
        .unwrap_or(path)
        .trim_end_matches('/');
    if path.is_empty() {
        return Err("a repository URL needs a path after the host".to_string());
    }
    let default_name = path.rsplit('/').next().unwrap_or(path).to_string();
    Ok(RepoUrl {
        scm_url: format!("http://{}/{}", host_port.to_ascii_lowercase(), path),
        fetch_url: fetch_url.trim_end_matches('/').to_string(),
        default_name,
    })
}

fn local(path_text: &str, local_roots: &[PathBuf]) -> Result<RepoUrl, String> {
    let canonical = below_a_root(Path::new(path_text), local_roots)?;
    let canonical_text = canonical
        .to_str()
        .ok_or_else(|| "a local repository path must be valid UTF-8".to_string())?
        .to_string();
    let name = canonical
        .file_name()
        .and_then(|name| name.to_str())
        .unwrap_or("repo");
    let default_name = name.strip_suffix(".git").unwrap_or(name).to_string();
    Ok(RepoUrl {
        scm_url: format!("file://{canonical_text}"),
        fetch_url: canonical_text,
        default_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scm(text: &str) -> String {
        RepoUrl::parse(text, &[])
            .map(|url| url.scm_url)
            .unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn remote_urls_are_normalised_as_tca_does() {
        assert_eq!(
            scm("https://GitHub.com/Tencent/CodeAnalysis.git"),
            "http://github.com/Tencent/CodeAnalysis"
        );
        assert_eq!(
            scm("git@github.com:Tencent/CodeAnalysis.git"),
            "http://github.com/Tencent/CodeAnalysis"
        );
        assert_eq!(
            scm("ssh://git@host.example:2222/a/b.git/"),
            "http://host.example/a/b"
        );
        assert_eq!(scm("http://host:8080/a/b#main"), "http://host:8080/a/b");
        assert_eq!(scm("host.example/a/b"), "http://host.example/a/b");
        let url = RepoUrl::parse("https://github.com/Tencent/CodeAnalysis.git", &[]).unwrap();
        assert_eq!(
            url.fetch_url(),
            "https://github.com/Tencent/CodeAnalysis.git"
        );
        assert_eq!(url.default_name(), "CodeAnalysis");
    }

    #[test]
    fn dangerous_or_unknown_transports_are_refused() {
        for text in [
            "-uhttp://x/y",
            "ext::sh -c touch% /tmp/pwned",
            "ftp://host/x",
            "fd::17",
            "http://x/y z",
            "",
        ] {
            assert!(RepoUrl::parse(text, &[]).is_err(), "{text} was accepted");
        }
    }

    #[test]
    fn users_hosts_and_ports_that_ssh_would_read_as_options_are_refused() {
        for text in [
            "ssh://-oProxyCommand=touch@host/x/y",
            "ssh://[-oProxyCommand=touch]/x/y",
            "ssh://[-oProxyCommand=touch]:22/x/y",
            "ssh://git@[-oProxyCommand=touch]/x/y",
            "ssh://git@-oProxyCommand=touch/x/y",
            "ssh://git@host:-oProxyCommand=touch/x/y",
            "ssh://a@b@-oProxyCommand=touch/x/y",
            "git@[-oProxyCommand=touch]:x/y",
            "[-oProxyCommand=touch]:x/y",
            "git@-oProxyCommand=touch:x/y",
            "https://-oProxyCommand=touch@host/x/y",
            "git://[-x]/y",
        ] {
            let error = RepoUrl::parse(text, &[]).unwrap_err();
            assert!(error.contains("'-'"), "{text}: {error}");
        }
        for text in [
            "ssh://git@host:2222/x/y",
            "ssh://my-user@my-host/x-y/z",
            "git@host:-x/y",
            "https://user:-password@host/x/y",
        ] {
            assert!(RepoUrl::parse(text, &[]).is_ok(), "{text} was refused");
        }
    }

    #[test]
    fn local_repositories_need_an_allowed_root() {
        let root = std::env::temp_dir().join(format!("codepup-repo-test-{}", std::process::id()));
        let repo = root.join("inside.git");
        std::fs::create_dir_all(&repo).unwrap();
        let repo_text = repo.to_str().unwrap();
        let refused = RepoUrl::parse(repo_text, &[]).unwrap_err();
        assert!(refused.contains("--allow-local-repos"), "{refused}");
        let url =
            RepoUrl::parse(&format!("file://{repo_text}"), std::slice::from_ref(&root)).unwrap();
        assert_eq!(url.default_name(), "inside");
        assert!(url.scm_url().starts_with("file:///"));
        let outside = RepoUrl::parse("/", std::slice::from_ref(&root)).unwrap_err();
        assert!(outside.contains("not below an allowed root"), "{outside}");
        let escape = RepoUrl::parse(&format!("{repo_text}/../../"), std::slice::from_ref(&root));
        assert!(escape.is_err());
        assert_eq!(
            url.local_path(),
            Some(repo.canonicalize().unwrap().as_path())
        );
        let remote = RepoUrl::parse("https://host/a/b", std::slice::from_ref(&root)).unwrap();
        assert_eq!(remote.local_path(), None);
        std::fs::remove_dir_all(&root).unwrap();
    }
}

/// A registered repository.
#[derive(Debug, Clone)]
pub struct Repo {
    pub id: crate::domain::ids::RepoId,
    pub team_id: crate::domain::ids::TeamId,
    pub name: String,
    pub scm_url: String,
    pub fetch_url: String,
    pub ssh_url: Option<String>,
    pub scm_type: String,
    pub created_from: String,
    pub creator_id: Option<crate::domain::ids::UserId>,
    pub created_time: String,
}

impl Repo {
    /// The directory of a local repository, `None` for a remote one.
    pub fn local_path(&self) -> Option<&Path> {
        local_path(&self.scm_url, &self.fetch_url)
    }
}

/// Counts shown with a repository (TCA's repo detail).
#[derive(Debug, Clone, Default)]
pub struct RepoStats {
    pub branch_count: i64,
    pub scheme_count: i64,
    pub job_count: i64,
    pub recent_active: Option<RecentActive>,
}

/// The repository's job that started last (TCA's `recent_active`): its project and branch, when
/// it started (never, for a job that only waited), and its line counts.
#[derive(Debug, Clone)]
pub struct RecentActive {
    pub project_id: i64,
    pub branch_name: String,
    pub active_time: Option<String>,
    pub total_line_num: Option<i64>,
    pub code_line_num: Option<i64>,
}
