//! Source for a job: one cached bare clone per repository (cloned once, fetched on later scans),
//! and a clean per-job checkout of one revision, removed when the job ends.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::git::{self, GitError};

/// How long a clone or fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// How long a local git command (read-tree, diff, ...) may take.
const LOCAL_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The cache of repository `repo_id`, cloned or brought up to date from `fetch_url`. The caller
/// holds the repository's lock, so one repository is never fetched twice at once.
pub fn update_cache(
    cache_root: &Path,
    repo_id: i64,
    fetch_url: &str,
    log: &mut impl Write,
) -> Result<PathBuf, GitError> {
    let cache = cache_root.join(format!("repo-{repo_id}.git"));
    if cache.join("HEAD").exists() {
        let _ = writeln!(log, "$ git fetch --prune -- {fetch_url}");
        let mut command = git::command();
        command
            .args(["-c", "gc.auto=0", "--git-dir"])
            .arg(&cache)
            .args([
                "fetch",
                "--quiet",
                "--prune",
                "--force",
                "--no-tags",
                "--",
                fetch_url,
                "+refs/heads/*:refs/heads/*",
            ]);
        git::run(command, FETCH_TIMEOUT)?;
        return Ok(cache);
    }
    // Clone under a temporary name and rename, so a clone cut short is never taken for a cache.
    let partial = cache_root.join(format!("repo-{repo_id}.git.partial"));
    let _ = fs::remove_dir_all(&partial);
    let _ = writeln!(log, "$ git clone --bare -- {fetch_url}");
    let mut command = git::command();
    command
        .args([
            "-c",
            "gc.auto=0",
            "clone",
            "--bare",
            "--quiet",
            "--",
            fetch_url,
        ])
        .arg(&partial);
    git::run(command, FETCH_TIMEOUT)?;
    fs::rename(&partial, &cache)
        .map_err(|error| GitError::Other(format!("cannot keep the clone: {error}")))?;
    Ok(cache)
}

/// Removes clones a crash cut short.
pub fn remove_partial_clones(cache_root: &Path) {
    let Ok(entries) = fs::read_dir(cache_root) else {
        return;
    };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().ends_with(".partial") {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn local(cache: &Path, args: &[&str]) -> Result<Vec<u8>, GitError> {
    let mut command = git::command();
    command.arg("--git-dir").arg(cache).args(args);
    git::run(command, LOCAL_TIMEOUT)
}

/// The commit `branch` points to in the cache, or `None` when the branch does not exist.
pub fn resolve_branch(cache: &Path, branch: &str) -> Result<Option<String>, GitError> {
    match local(
        cache,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}^{{commit}}"),
        ],
    ) {
        Ok(stdout) => Ok(Some(String::from_utf8_lossy(&stdout).trim().to_string())),
        // rev-parse --quiet fails without a message when the ref is missing.
        Err(GitError::Other(message)) if message.contains("without a message") => Ok(None),
        Err(error) => Err(error),
    }
}

/// Whether the cache holds `revision` (a baseline may be gone after a force-push).
pub fn has_commit(cache: &Path, revision: &str) -> bool {
    local(
        cache,
        &["cat-file", "-e", &format!("{revision}^{{commit}}")],
    )
    .is_ok()
}

/// Writes the tree of `revision` into `dest`, using `index` as a private index file so concurrent
/// jobs never share one. With `only`, just those paths are written (an incremental job whose
/// tools need nothing else); the rest of the tree stays in git.
pub fn checkout(
    cache: &Path,
    revision: &str,
    dest: &Path,
    index: &Path,
    only: Option<&[String]>,
) -> Result<(), GitError> {
    fs::create_dir_all(dest)
        .map_err(|error| GitError::Other(format!("cannot create the workspace: {error}")))?;
    let in_workspace = |args: &[&str]| {
        let mut command = git::command();
        command
            .env("GIT_INDEX_FILE", index)
            .arg("--git-dir")
            .arg(cache)
            .arg("--work-tree")
            .arg(dest)
            .args(args);
        command
    };
    git::run(in_workspace(&["read-tree", revision]), LOCAL_TIMEOUT)?;
    match only {
        None => {
            git::run(
                in_workspace(&["checkout-index", "--all", "--force"]),
                LOCAL_TIMEOUT,
            )?;
        }
        Some([]) => {}
        Some(paths) => {
            let mut input = Vec::with_capacity(paths.len() * 32);
            for path in paths {
                input.extend_from_slice(path.as_bytes());
                input.push(0);
            }
            let command = in_workspace(&["checkout-index", "--force", "-z", "--stdin"]);
            git::run_with_input(command, input, LOCAL_TIMEOUT)?;
        }
    }
    Ok(())
}

/// Paths deleted between `base` and `head`.
pub fn deleted_files(cache: &Path, base: &str, head: &str) -> Result<Vec<String>, GitError> {
    let stdout = local(
        cache,
        &[
            "diff",
            "--name-only",
            "-z",
            "--no-renames",
            "--diff-filter=D",
            base,
            head,
            "--",
        ],
    )?;
    Ok(split_nul(&stdout))
}

/// Paths changed between `base` and `head` (added, copied, modified, renamed; not deleted).
pub fn changed_files(cache: &Path, base: &str, head: &str) -> Result<Vec<String>, GitError> {
    let stdout = local(
        cache,
        &[
            "diff",
            "--name-only",
            "-z",
            "--no-renames",
            "--diff-filter=ACMRT",
            base,
            head,
            "--",
        ],
    )?;
    Ok(split_nul(&stdout))
}

fn split_nul(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|b| *b == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect()
}

/// Whether `path` (relative, without a leading `/`) is a directory in the tree of `revision`:
/// every component a tree, none a symlink, a file or a submodule.
pub fn is_directory(cache: &Path, revision: &str, path: &str) -> Result<bool, GitError> {
    if path.is_empty() {
        return Ok(true);
    }
    match local(cache, &["cat-file", "-t", &format!("{revision}:{path}")]) {
        Ok(kind) => Ok(kind.trim_ascii() == b"tree"),
        // A path that does not exist, or that runs through a blob, has no object.
        Err(GitError::Other(_) | GitError::NotFound(_)) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Keeps the paths of `files` that are regular files in `tree` (the revision's listing, which
/// has no symlinks or submodules); returns them and the paths left out.
pub fn regular_files(files: Vec<String>, tree: &[TreeEntry]) -> (Vec<String>, Vec<String>) {
    let regular: HashSet<&str> = tree.iter().map(|entry| entry.path.as_str()).collect();
    files
        .into_iter()
        .partition(|file| regular.contains(file.as_str()))
}

/// Whether `root/path` is a directory reached through real directories only: no component
/// below `root` is a symlink (or anything but a directory). `path` is relative.
pub fn is_real_directory(root: &Path, path: &Path) -> bool {
    let mut dir = root.to_path_buf();
    for component in path.components() {
        let std::path::Component::Normal(name) = component else {
            return false;
        };
        dir.push(name);
        if !fs::symlink_metadata(&dir).is_ok_and(|meta| meta.file_type().is_dir()) {
            return false;
        }
    }
    true
}

/// Keeps the paths of `files` that are regular files on disk below `root` reached through real
/// directories only, so that no path a tool is given can lead out of the checkout; returns
/// them and the paths left out. Each directory is looked at once.
pub fn confined_files(root: &Path, files: Vec<String>) -> (Vec<String>, Vec<String>) {
    let mut directories: HashMap<PathBuf, bool> = HashMap::new();
    files.into_iter().partition(|file| {
        let path = Path::new(file);
        let parent_ok = match path.parent() {
            None => false,
            Some(parent) if parent.as_os_str().is_empty() => true,
            Some(parent) => *directories
                .entry(parent.to_path_buf())
                .or_insert_with(|| is_real_directory(root, parent)),
        };
        parent_ok
            && path
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)))
            && fs::symlink_metadata(root.join(path)).is_ok_and(|meta| meta.file_type().is_file())
    })
}

/// Keeps the paths inside `scan_path` (`/` keeps everything).
pub fn within_scan_path(files: Vec<String>, scan_path: &str) -> Vec<String> {
    let prefix = scan_path.trim_start_matches('/');
    if prefix.is_empty() {
        return files;
    }
    let dir = format!("{prefix}/");
    files
        .into_iter()
        .filter(|file| file.starts_with(&dir))
        .collect()
}

/// A job's workspace: the checkout and its private index, removed when dropped, whatever the
/// job's outcome.
pub struct Workspace {
    pub dir: PathBuf,
    pub index: PathBuf,
    pub file_list: PathBuf,
    /// The tools' own writable space (home, temporary files, caches), made on first use.
    pub scratch: PathBuf,
}

impl Workspace {
    pub fn new(root: &Path, job_id: i64) -> Workspace {
        Workspace {
            dir: root.join(format!("job-{job_id}")),
            index: root.join(format!("job-{job_id}.index")),
            file_list: root.join(format!("job-{job_id}.files")),
            scratch: root.join(format!("job-{job_id}.scratch")),
        }
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
        let _ = fs::remove_dir_all(&self.scratch);
        let _ = fs::remove_file(&self.index);
        let _ = fs::remove_file(&self.file_list);
    }
}

/// Removes every workspace left behind by a crash (called before workers start).
pub fn clear_workspaces(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let _ = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_paths_keep_only_their_directory() {
        let files = vec![
            "src/a.rs".to_string(),
            "srcx/b.rs".to_string(),
            "README".to_string(),
        ];
        assert_eq!(within_scan_path(files.clone(), "/"), files);
        assert_eq!(within_scan_path(files, "/src"), ["src/a.rs"]);
    }

    #[test]
    fn only_regular_files_reached_through_real_directories_are_confined() {
        use std::os::unix::fs::symlink;
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "s").unwrap();
        fs::create_dir(outside.path().join("dir")).unwrap();
        fs::write(outside.path().join("dir/f"), "f").unwrap();
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        fs::create_dir_all(root.join("src/deep")).unwrap();
        fs::write(root.join("a.sh"), "a").unwrap();
        fs::write(root.join("src/deep/b.sh"), "b").unwrap();
        symlink(outside.path().join("secret"), root.join("evil.sh")).unwrap();
        symlink(outside.path().join("dir"), root.join("linked")).unwrap();
        symlink(outside.path(), root.join("src/up")).unwrap();
        let files = [
            "a.sh",
            "src/deep/b.sh",
            "evil.sh",
            "linked/f",
            "src/up/dir/f",
            "src/deep",
            "missing.sh",
            "src/../a.sh",
            "/etc/passwd",
        ];
        let (kept, left_out) = confined_files(root, files.iter().map(|f| f.to_string()).collect());
        assert_eq!(kept, ["a.sh", "src/deep/b.sh"]);
        assert_eq!(left_out.len(), files.len() - 2);
        assert!(is_real_directory(root, Path::new("src/deep")));
        assert!(is_real_directory(root, Path::new("")));
        assert!(!is_real_directory(root, Path::new("linked")));
        assert!(!is_real_directory(root, Path::new("src/up/dir")));
        assert!(!is_real_directory(root, Path::new("a.sh")));
        assert!(!is_real_directory(root, Path::new("src/../src")));
    }
}

/// A file of a revision as git stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    pub blob: String,
    pub path: String,
}

/// Every regular file of `revision` (symlinks and submodules left out), with its blob id.
pub fn tree_entries(cache: &Path, revision: &str) -> Result<Vec<TreeEntry>, GitError> {
    let stdout = local(cache, &["ls-tree", "-r", "-z", "--full-tree", revision])?;
    Ok(stdout
        .split(|b| *b == 0)
        .filter_map(|record| {
            let record = std::str::from_utf8(record).ok()?;
            let (meta, path) = record.split_once('\t')?;
            let mut meta = meta.split(' ');
            let (mode, kind, blob) = (meta.next()?, meta.next()?, meta.next()?);
            // Regular files only: no symlinks (120000), no submodules (160000, a commit).
            (kind == "blob" && matches!(mode, "100644" | "100755")).then(|| TreeEntry {
                blob: blob.to_string(),
                path: path.to_string(),
            })
        })
        .collect())
}

/// Streams the contents of `entries` out of the cache with one `git cat-file --batch`, calling
/// `each` with every entry and its bytes, in order. Nothing is written to disk. A reader thread
/// drains git's output into a bounded queue, so git inflates objects on one core while `each`
/// works on the other.
pub fn read_blobs(
    cache: &Path,
    entries: &[TreeEntry],
    mut each: impl FnMut(&TreeEntry, &[u8]),
) -> Result<(), GitError> {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::Stdio;
    use std::sync::mpsc;
    /// Blobs waiting to be handled; bounds the memory the queue can hold to this many blobs.
    const QUEUE: usize = 256;
    if entries.is_empty() {
        return Ok(());
    }
    let mut command = git::command();
    command
        .arg("--git-dir")
        .arg(cache)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command
        .spawn()
        .map_err(|error| GitError::Other(format!("cannot run git: {error}")))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| GitError::Other("no stdin for git".into()))?;
    let ids: Vec<u8> = entries
        .iter()
        .flat_map(|entry| format!("{}\n", entry.blob).into_bytes())
        .collect();
    // A writer thread: git answers while we are still asking, and both pipes must keep moving.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&ids);
    });
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| GitError::Other("no stdout for git".into()))?;
    let count = entries.len();
    let (sender, receiver) = mpsc::sync_channel::<Result<Vec<u8>, GitError>>(QUEUE);
    let reader = std::thread::spawn(move || {
        let mut reader = BufReader::with_capacity(1 << 20, stdout);
        let mut header = String::new();
        for _ in 0..count {
            header.clear();
            let blob = reader
                .read_line(&mut header)
                .map_err(|error| GitError::Other(format!("reading blobs: {error}")))
                .and_then(|_| {
                    header
                        .trim_end()
                        .rsplit(' ')
                        .next()
                        .and_then(|size| size.parse::<usize>().ok())
                        .ok_or_else(|| {
                            GitError::Other(format!(
                                "unexpected answer from git cat-file: {}",
                                header.trim_end()
                            ))
                        })
                })
                .and_then(|size| {
                    let mut content = vec![0; size + 1];
                    reader
                        .read_exact(&mut content)
                        .map_err(|error| GitError::Other(format!("reading a blob: {error}")))?;
                    content.truncate(size);
                    Ok(content)
                });
            let failed = blob.is_err();
            if sender.send(blob).is_err() || failed {
                return;
            }
        }
    });
    let mut result = Ok(());
    for entry in entries {
        match receiver.recv() {
            Ok(Ok(bytes)) => each(entry, &bytes),
            Ok(Err(error)) => {
                result = Err(error);
                break;
            }
            Err(_) => {
                result = Err(GitError::Other("git cat-file stopped early".into()));
                break;
            }
        }
    }
    drop(receiver);
    let _ = child.kill();
    let _ = child.wait();
    let _ = writer.join();
    let _ = reader.join();
    result
}

/// The author (name and e-mail) of every line of `path` at `revision`, from `git blame`.
pub fn blame(
    cache: &Path,
    revision: &str,
    path: &str,
) -> Result<std::collections::HashMap<u32, (String, String)>, GitError> {
    let stdout = local(cache, &["blame", "--line-porcelain", revision, "--", path])?;
    let mut authors = std::collections::HashMap::new();
    let (mut line, mut name, mut mail) = (0u32, String::new(), String::new());
    for text in String::from_utf8_lossy(&stdout).lines() {
        if text.starts_with('\t') {
            authors.insert(line, (std::mem::take(&mut name), std::mem::take(&mut mail)));
        } else if let Some(value) = text.strip_prefix("author-mail ") {
            mail = value
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string();
        } else if let Some(value) = text.strip_prefix("author ") {
            name = value.to_string();
        } else {
            // A group's first line: `<sha> <original line> <final line> [<lines in group>]`.
            let mut fields = text.split(' ');
            let is_header = fields
                .next()
                .is_some_and(|sha| sha.len() >= 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()));
            if is_header {
                line = fields.nth(1).and_then(|n| n.parse().ok()).unwrap_or(0);
            }
        }
    }
    Ok(authors)
}
