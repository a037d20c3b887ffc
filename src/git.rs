//! Running the git CLI safely: never interactive, only allowed transports, `--` before every URL,
//! and a time limit. Errors keep git's own message and say which kind of failure it was.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::domain::repo::{below_a_root, is_below_a_root};

/// The transports git may use (`GIT_ALLOW_PROTOCOL`), matching what `RepoUrl` accepts.
const ALLOWED_PROTOCOLS: &str = "http:https:ssh:git:file";

/// How long `run` looks for a command's exit every millisecond (then every 10 ms).
const QUICK_COMMAND: Duration = Duration::from_millis(200);

/// How long a remote query may take before it is abandoned.
pub const LS_REMOTE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a git command failed, in the classes TCA's result codes distinguish (110-115).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitError {
    #[error("authentication failed: {0}")]
    Auth(String),
    #[error("repository not found: {0}")]
    NotFound(String),
    #[error("access forbidden: {0}")]
    Forbidden(String),
    #[error("git timed out after {0} seconds")]
    Timeout(u64),
    #[error("{0}")]
    Other(String),
}

/// A base `git` command with the environment every invocation gets.
pub fn command() -> Command {
    let mut command = Command::new("git");
    command
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ALLOW_PROTOCOL", ALLOWED_PROTOCOLS)
        .env(
            "GIT_SSH_COMMAND",
            "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new",
        )
        .env("GCM_INTERACTIVE", "never")
        .env("LC_ALL", "C")
        // Local repositories were allowed by the server's admin; their owner may differ from ours.
        .args([
            "-c",
            "safe.directory=*",
            "-c",
            "core.askPass=",
            "-c",
            "credential.interactive=never",
        ])
        .stdin(Stdio::null());
    command
}

/// Runs `command`, returning stdout, or a classified error with git's stderr.
pub fn run(command: Command, timeout: Duration) -> Result<Vec<u8>, GitError> {
    run_with_input(command, Vec::new(), timeout)
}

/// Like `run`, writing `input` to the command's stdin (for `--stdin` options).
pub fn run_with_input(
    mut command: Command,
    input: Vec<u8>,
    timeout: Duration,
) -> Result<Vec<u8>, GitError> {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    if !input.is_empty() {
        command.stdin(Stdio::piped());
    }
    let mut child = command.spawn().map_err(|error| {
        GitError::Other(format!(
            "cannot run git: {error} (is git installed and on PATH?)"
        ))
    })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A writer thread, so a command that answers before reading everything cannot block us.
        thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&input);
        });
    }
    // Read both pipes on their own threads, so a chatty command can never fill a pipe and stall.
    let stdout = child.stdout.take().map(spawn_reader);
    let stderr = child.stderr.take().map(spawn_reader);
    let started = Instant::now();
    let deadline = started + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(GitError::Timeout(timeout.as_secs()));
            }
            // Most commands take a few milliseconds, and a scan runs several in a row before it
            // can start: look often at first, so none waits up to 10 ms more than it ran.
            Ok(None) if started.elapsed() < QUICK_COMMAND => {
                thread::sleep(Duration::from_millis(1))
            }
            Ok(None) => thread::sleep(Duration::from_millis(10)),
            Err(error) => return Err(GitError::Other(format!("waiting for git: {error}"))),
        }
    };
    let stdout = stdout
        .and_then(|reader| reader.join().ok())
        .unwrap_or_default();
    let stderr = stderr
        .and_then(|reader| reader.join().ok())
        .unwrap_or_default();
    if status.success() {
        return Ok(stdout);
    }
    Err(classify(String::from_utf8_lossy(&stderr).trim()))
}

fn spawn_reader<R: Read + Send + 'static>(mut pipe: R) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// Sorts git's stderr into the failure classes.
pub fn classify(stderr: &str) -> GitError {
    let message = if stderr.is_empty() {
        "git failed without a message".to_string()
    } else {
        stderr.to_string()
    };
    let lower = message.to_ascii_lowercase();
    if lower.contains("authentication failed")
        || lower.contains("could not read username")
        || lower.contains("could not read password")
        || lower.contains("permission denied (publickey")
        || lower.contains("terminal prompts disabled")
    {
        GitError::Auth(message)
    } else if lower.contains("403") || lower.contains("forbidden") {
        GitError::Forbidden(message)
    } else if lower.contains("not found")
        || lower.contains("does not appear to be a git repository")
        || lower.contains("does not exist")
        || lower.contains("no such file or directory")
    {
        GitError::NotFound(message)
    } else {
        GitError::Other(message)
    }
}

/// The revision `branch` points to in the repository at `fetch_url`, or `None` when there is no
/// such branch.
pub fn remote_branch_head(fetch_url: &str, branch: &str) -> Result<Option<String>, GitError> {
    let mut command = command();
    command.args([
        "ls-remote",
        "--heads",
        "--",
        fetch_url,
        &format!("refs/heads/{branch}"),
    ]);
    let stdout = run(command, LS_REMOTE_TIMEOUT)?;
    let wanted = format!("refs/heads/{branch}");
    Ok(String::from_utf8_lossy(&stdout).lines().find_map(|line| {
        let (revision, reference) = line.split_once('\t')?;
        (reference == wanted).then(|| revision.to_string())
    }))
}

/// How long the check of a local repository may take.
const LOCAL_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// How deep git follows alternates of alternates (its own limit).
const ALTERNATES_DEPTH: usize = 5;

/// Checks that everything git would read for the local repository at `path` lies below one of
/// `roots`: the directory itself, the git directory it names (a `.git` file can point
/// anywhere), the common directory (a worktree's main repository), the object store and its
/// alternates. All resolved with symlinks. Run at registration and before every fetch, since
/// the directory may change in between; a directory that is no repository is refused, and git
/// is not allowed to look in the directories above it. A repository that is gone is
/// `NotFound`; one that leads out of the roots is `Forbidden`.
pub fn check_local_repository(path: &Path, roots: &[PathBuf]) -> Result<(), GitError> {
    if !path.exists() {
        return Err(GitError::NotFound(format!(
            "local repository {} does not exist",
            path.display()
        )));
    }
    let dir = below_a_root(path, roots).map_err(GitError::Forbidden)?;
    let (git_dir, common_dir) = git_dirs_of(&dir)?;
    let check = RootCheck { dir: &dir, roots };
    check.inside("git directory", dir.join(git_dir))?;
    let common_dir = check.inside("common git directory", dir.join(common_dir))?;
    check.object_stores(check.inside("object store", common_dir.join("objects"))?)
}

/// The git directory and the common git directory git names for the repository at `dir`
/// (as `rev-parse` prints them: relative to `dir` or absolute), asked with only the
/// repository's own config and without looking in the directories above it.
fn git_dirs_of(dir: &Path) -> Result<(String, String), GitError> {
    let mut command = command();
    command
        .current_dir(dir)
        // Only the repository's own config: no system file, no hooks, no fsmonitor daemon.
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .args([
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "core.fsmonitor=false",
        ])
        .args(["rev-parse", "--git-dir", "--git-common-dir"]);
    for variable in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_COMMON_DIR",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    ] {
        command.env_remove(variable);
    }
    if let Some(parent) = dir.parent() {
        command.env("GIT_CEILING_DIRECTORIES", parent);
    }
    let stdout = run(command, LOCAL_CHECK_TIMEOUT).map_err(|error| match error {
        GitError::Timeout(_) => error,
        _ => GitError::NotFound(format!(
            "local repository {} does not appear to be a git repository: {error}",
            dir.display()
        )),
    })?;
    let stdout = String::from_utf8(stdout).map_err(|_| {
        GitError::Other(format!(
            "local repository {} has a non-UTF-8 git directory",
            dir.display()
        ))
    })?;
    let mut lines = stdout.lines();
    match (lines.next(), lines.next()) {
        (Some(git_dir), Some(common_dir)) => Ok((git_dir.to_string(), common_dir.to_string())),
        _ => Err(GitError::Other(format!(
            "local repository {}: git named no git directory",
            dir.display()
        ))),
    }
}

/// What git reads for the local repository at `dir`, each resolved and checked to lie below
/// one of `roots`; a refusal names the part that does not.
struct RootCheck<'a> {
    dir: &'a Path,
    roots: &'a [PathBuf],
}

impl RootCheck<'_> {
    /// `path` resolved with symlinks, if it lies below a root.
    fn inside(&self, what: &str, path: PathBuf) -> Result<PathBuf, GitError> {
        let resolved = path.canonicalize().map_err(|error| {
            GitError::NotFound(format!(
                "local repository {}: its {what} {} cannot be read: {error}",
                self.dir.display(),
                path.display()
            ))
        })?;
        if is_below_a_root(&resolved, self.roots) {
            Ok(resolved)
        } else {
            Err(GitError::Forbidden(format!(
                "local repository {}: its {what} {} is not below an allowed root",
                self.dir.display(),
                resolved.display()
            )))
        }
    }

    /// Objects can come from the object store and the alternates it lists, wherever they
    /// are, and from their alternates in turn, as deep as git follows them.
    fn object_stores(&self, objects: PathBuf) -> Result<(), GitError> {
        let mut stores = vec![objects];
        for _ in 0..ALTERNATES_DEPTH {
            let mut next = Vec::new();
            for store in &stores {
                next.extend(self.alternates_of(store)?);
            }
            if next.is_empty() {
                break;
            }
            stores = next;
        }
        Ok(())
    }

    /// The alternate object stores `store` lists, each checked.
    fn alternates_of(&self, store: &Path) -> Result<Vec<PathBuf>, GitError> {
        let Ok(text) = std::fs::read_to_string(store.join("info/alternates")) else {
            return Ok(Vec::new());
        };
        let mut alternates = Vec::new();
        for line in text.lines() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if line.starts_with('"') {
                return Err(GitError::Forbidden(format!(
                    "local repository {} has a quoted alternate, which codepup does not follow: {line}",
                    self.dir.display()
                )));
            }
            alternates.push(self.inside("alternate object store", store.join(line))?);
        }
        Ok(alternates)
    }
}

/// Whether `git` can be run at all (checked once at start-up, to warn early).
pub fn is_available() -> bool {
    Command::new("git")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn init(dir: &Path, bare: bool) {
        std::fs::create_dir_all(dir).unwrap();
        let mut command = Command::new("git");
        command
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .args(["init", "-q"]);
        if bare {
            command.arg("--bare");
        }
        assert!(command.status().unwrap().success());
    }

    #[test]
    fn a_local_repository_must_read_nothing_outside_the_roots() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let roots = [root.path().to_path_buf()];
        let forbidden = |dir: &Path| match check_local_repository(dir, &roots) {
            Err(GitError::Forbidden(message)) => message,
            other => panic!("{}: {other:?}", dir.display()),
        };
        // The root itself a repository: git must not find it from a directory below.
        init(root.path(), false);
        init(&root.path().join("work"), false);
        init(&root.path().join("bare.git"), true);
        assert_eq!(
            check_local_repository(&root.path().join("work"), &roots),
            Ok(())
        );
        assert_eq!(
            check_local_repository(&root.path().join("bare.git"), &roots),
            Ok(())
        );

        init(&outside.path().join("secret"), false);
        let trojan = root.path().join("trojan");
        std::fs::create_dir(&trojan).unwrap();
        let gitdir = outside.path().join("secret/.git");
        std::fs::write(
            trojan.join(".git"),
            format!("gitdir: {}\n", gitdir.display()),
        )
        .unwrap();
        assert!(forbidden(&trojan).contains("git directory"));

        // Alternates lend objects from wherever they name, relative or absolute.
        let alternates = root.path().join("bare.git/objects/info/alternates");
        std::fs::write(
            &alternates,
            format!("{}\n", gitdir.join("objects").display()),
        )
        .unwrap();
        assert!(forbidden(&root.path().join("bare.git")).contains("alternate"));
        std::fs::write(&alternates, "# a comment\n../../work/.git/objects\n").unwrap();
        assert_eq!(
            check_local_repository(&root.path().join("bare.git"), &roots),
            Ok(())
        );

        // Not a repository (git would look further up without the ceiling), gone, or no roots.
        std::fs::create_dir(root.path().join("plain")).unwrap();
        assert!(matches!(
            check_local_repository(&root.path().join("plain"), &roots),
            Err(GitError::NotFound(_))
        ));
        assert!(matches!(
            check_local_repository(&root.path().join("gone"), &roots),
            Err(GitError::NotFound(_))
        ));
        assert!(matches!(
            check_local_repository(&root.path().join("work"), &[]),
            Err(GitError::Forbidden(_))
        ));
    }

    #[test]
    fn stderr_is_sorted_into_failure_classes() {
        assert!(matches!(
            classify("fatal: Authentication failed for 'https://x/'"),
            GitError::Auth(_)
        ));
        assert!(matches!(
            classify("remote: Repository not found."),
            GitError::NotFound(_)
        ));
        assert!(matches!(
            classify("fatal: '/tmp/x' does not appear to be a git repository"),
            GitError::NotFound(_)
        ));
        assert!(matches!(
            classify("The requested URL returned error: 403"),
            GitError::Forbidden(_)
        ));
        assert!(matches!(
            classify("fatal: unable to access: Could not resolve host"),
            GitError::Other(_)
        ));
    }
}
