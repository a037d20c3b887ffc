//! Running the git CLI safely: never interactive, only allowed transports, `--` before every URL,
//! and a time limit. Errors keep git's own message and say which kind of failure it was.

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The transports git may use (`GIT_ALLOW_PROTOCOL`), matching what `RepoUrl` accepts.
const ALLOWED_PROTOCOLS: &str = "http:https:ssh:git:file";

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
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(GitError::Timeout(timeout.as_secs()));
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
