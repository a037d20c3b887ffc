//! Source for a job: one cached bare repository per repository, holding the branches its projects
//! scan (fetched one branch at a time, only when the remote head is new to it), and a clean per-job
//! checkout of one revision, removed when the job ends.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use crate::git::{self, GitError};

/// How long a fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// How long a local git command (read-tree, diff, ...) may take.
const LOCAL_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The cache of repository `repo_id`: `repo-<id>.git` under `cache_root`.
pub fn cache_dir(cache_root: &Path, repo_id: i64) -> PathBuf {
    cache_root.join(format!("repo-{repo_id}.git"))
}

/// A branch brought into the repository's cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The repository's cache.
    pub cache: PathBuf,
    /// The commit the branch points to now.
    pub head: String,
    /// The commit the cache's branch pointed to before, which the cache therefore holds.
    pub previous: Option<String>,
}

impl Fetched {
    /// Whether the cache holds `revision`: known without asking git when it is the branch's
    /// head now or before.
    pub fn holds(&self, revision: &str) -> bool {
        self.head == revision
            || self.previous.as_deref() == Some(revision)
            || has_commit(&self.cache, revision)
    }
}

/// Brings `branch` of the repository at `fetch_url` into the repository's cache and returns the
/// cache and the commit the branch points to, or `None` when the remote has no such branch.
///
/// The cache is one bare repository per repository, shared by all its projects, holding only the
/// branches scanned (no tags, no other branch), each fetched alone. `git ls-remote` of the exact
/// branch comes first: when its commit is already in the cache (the same head as last time, or a
/// head another project's branch brought in) the local branch is pointed at it and nothing is
/// fetched. A fetch never prunes: other projects' branches stay, and a branch gone from the
/// remote is only forgotten when a scan asks for it.
///
/// Around the fetch git runs as little as it can, since an incremental scan waits for every
/// process: one `cat-file --batch-check` says where the cache's branch is and whether the
/// remote head is in the cache (a branch may point at an annotated tag: the commit it stands
/// for counts), and the head after a fetch is what git resolves the branch to.
///
/// Caches made by older versions (full bare clones with every branch and tag) are a superset of
/// this and are used as they are; nothing migrates them.
///
/// The caller holds the repository's lock (`Shared::repo_lock`), so one cache is never created or
/// fetched into twice at once; readers (other jobs' checkouts) may run meanwhile, which git
/// allows: a fetch writes its objects first and moves the ref last.
pub fn fetch_branch(
    cache_root: &Path,
    repo_id: i64,
    fetch_url: &str,
    branch: &str,
    log: &mut impl Write,
) -> Result<Option<Fetched>, GitError> {
    let cache = cache_dir(cache_root, repo_id);
    let reference = format!("refs/heads/{branch}");
    let shown_url = without_credentials(fetch_url);
    let _ = writeln!(log, "$ git ls-remote --heads -- {shown_url} {reference}");
    let Some(head) = git::remote_branch_head(fetch_url, branch)? else {
        if cache.join("HEAD").exists() {
            // Forget the branch, so the cache does not keep its objects alive for nothing.
            let _ = local(&cache, &["update-ref", "-d", &reference]);
        }
        return Ok(None);
    };
    if !cache.join("HEAD").exists() {
        create_cache(cache_root, repo_id, fetch_url, branch, log)?;
        // `None`: deleted since `ls-remote` looked.
        return Ok(resolve_branch(&cache, branch)?.map(|head| Fetched {
            cache,
            head,
            previous: None,
        }));
    }
    let (previous, head_commit) = branch_and_commit(&cache, &reference, &head)?;
    let fetched = |head: String| Fetched {
        cache: cache.clone(),
        head,
        previous: previous.clone(),
    };
    if let Some(commit) = head_commit {
        if previous.as_ref() == Some(&commit) {
            let _ = writeln!(log, "{reference} is at {commit} already: nothing to fetch");
        } else {
            // Pushed back to an older commit, or a commit another branch brought in.
            let _ = writeln!(
                log,
                "$ git update-ref {reference} {commit} (in the cache already)"
            );
            local(&cache, &["update-ref", &reference, &commit])?;
        }
        return Ok(Some(fetched(commit)));
    }
    let _ = writeln!(
        log,
        "$ git fetch --no-tags -- {shown_url} +{reference}:{reference}"
    );
    if !fetch_into(&cache, fetch_url, &reference)? {
        // Deleted since `ls-remote` looked.
        return Ok(None);
    }
    // What was fetched, which may be newer than what `ls-remote` saw.
    match resolve_branch(&cache, branch)? {
        Some(head) => Ok(Some(fetched(head))),
        None => Err(GitError::Other(format!(
            "{reference} is missing from the cache after its fetch"
        ))),
    }
}

/// Fetches `reference` alone from `fetch_url` into the cache; `false` when the remote has no
/// such reference.
fn fetch_into(cache: &Path, fetch_url: &str, reference: &str) -> Result<bool, GitError> {
    let refspec = format!("+{reference}:{reference}");
    let mut command = git::command();
    command
        .args([
            "-c",
            "gc.auto=0",
            "-c",
            "maintenance.auto=false",
            "--git-dir",
        ])
        .arg(cache)
        .args([
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--",
            fetch_url,
            &refspec,
        ]);
    match git::run(command, FETCH_TIMEOUT) {
        Ok(_) => Ok(true),
        Err(GitError::Other(message)) if message.contains("couldn't find remote ref") => Ok(false),
        Err(error) => Err(error),
    }
}

/// The commit `reference` points to in the cache, and the commit `head` (a commit, or a tag the
/// remote's branch points to) stands for when the cache holds it, from one `git cat-file
/// --batch-check` (a missing reference or object is `missing` to it).
fn branch_and_commit(
    cache: &Path,
    reference: &str,
    head: &str,
) -> Result<(Option<String>, Option<String>), GitError> {
    let mut command = git::command();
    command
        .arg("--git-dir")
        .arg(cache)
        .args(["cat-file", "--batch-check=%(objectname)"]);
    let input = format!("{reference}^{{commit}}\n{head}^{{commit}}\n");
    let stdout = git::run_with_input(command, input.into_bytes(), LOCAL_TIMEOUT)?;
    let text = String::from_utf8_lossy(&stdout);
    let mut answers = text
        .lines()
        .map(|line| Oid::from_hex(line).map(|_| line.to_string()));
    let previous = answers.next().flatten();
    let head_commit = answers.next().flatten();
    Ok((previous, head_commit))
}

/// Makes the repository's cache: a bare clone of `branch` alone, without tags, under a
/// temporary name renamed when complete, so a clone cut short is never taken for a cache. A
/// local repository's objects are hard-linked rather than copied. Without templates: no sample
/// hooks, nothing from the system's template directory (a `reference-transaction` hook there
/// would run on every fetch).
fn create_cache(
    cache_root: &Path,
    repo_id: i64,
    fetch_url: &str,
    branch: &str,
    log: &mut impl Write,
) -> Result<(), GitError> {
    let partial = cache_root.join(format!("repo-{repo_id}.git.partial"));
    let _ = fs::remove_dir_all(&partial);
    let _ = writeln!(
        log,
        "$ git clone --bare --single-branch --no-tags --branch {branch} -- {}",
        without_credentials(fetch_url)
    );
    let mut command = git::command();
    command
        .args([
            "-c",
            "gc.auto=0",
            "clone",
            "--quiet",
            "--bare",
            "--template=",
        ])
        .args([
            "--single-branch",
            "--no-tags",
            "--branch",
            branch,
            "--",
            fetch_url,
        ])
        .arg(&partial);
    match git::run(command, FETCH_TIMEOUT) {
        Ok(_) => {}
        Err(error) => {
            let _ = fs::remove_dir_all(&partial);
            return Err(error);
        }
    }
    fs::rename(&partial, cache_dir(cache_root, repo_id))
        .map_err(|error| GitError::Other(format!("cannot keep the new cache: {error}")))
}

/// `fetch_url` as the job log may show it: a user name or password in it becomes `***`.
fn without_credentials(fetch_url: &str) -> String {
    let Some((scheme, rest)) = fetch_url.split_once("://") else {
        return fetch_url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => fetch_url.to_string(),
    }
}

/// Removes a directory tree whatever its depth. A tool may leave a tree tens of thousands of
/// directories deep in its scratch space, which `fs::remove_dir_all` (recursive) would overflow
/// the worker's stack on, aborting the server; `rm -rf` walks it without recursion and never
/// follows a link.
pub fn remove_tree(path: &Path) {
    if fs::symlink_metadata(path).is_err() {
        return;
    }
    let removed = std::process::Command::new("rm")
        .args(["-rf", "--one-file-system", "--"])
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
    if !removed.is_ok_and(|status| status.success()) {
        log::warn!("could not remove {}", path.display());
    }
}

/// Removes caches whose creation a crash cut short (and clones older versions left so).
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
                input.extend_from_slice(&raw_name(path));
                input.push(0);
            }
            let command = in_workspace(&["checkout-index", "--force", "-z", "--stdin"]);
            git::run_with_input(command, input, LOCAL_TIMEOUT)?;
        }
    }
    Ok(())
}

/// One path that differs between two commits (`git diff-tree --raw`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The path as the scan names it (`escaped_name`).
    pub path: String,
    /// Whether the path is gone at the newer commit.
    pub deleted: bool,
    /// The path's mode and object at the newer commit (`100644`, `120000`, `160000`, ...).
    pub mode: String,
    pub object: Option<Oid>,
}

impl Change {
    /// Whether the path is a regular file at the newer commit.
    pub fn is_regular_file(&self) -> bool {
        !self.deleted && matches!(self.mode.as_str(), "100644" | "100755")
    }
}

/// Every path that differs between `base` and `head`, from one `git diff-tree -r --raw`
/// (without rename detection: a rename is a deletion and an addition). Paths of
/// `MAX_PATH_BYTES` or more are marked `long` in the second value and left out.
pub fn tree_changes(
    cache: &Path,
    base: &str,
    head: &str,
) -> Result<(Vec<Change>, usize), GitError> {
    let args = [
        "diff-tree",
        "-r",
        "-z",
        "--raw",
        "--no-renames",
        "--no-commit-id",
        base,
        head,
    ];
    let mut changes = Vec::new();
    let mut long = 0;
    // Records alternate: `:oldmode newmode oldid newid status`, then the path.
    let mut meta: Option<(String, Option<Oid>, bool)> = None;
    each_record(cache, &args, MAX_PATH_BYTES, |record, complete| {
        match meta.take() {
            None => {
                let text = String::from_utf8_lossy(record);
                let mut fields = text.trim_start_matches(':').split(' ');
                let (_, mode, _, object, status) = (
                    fields.next(),
                    fields.next(),
                    fields.next(),
                    fields.next(),
                    fields.next(),
                );
                let deleted = status == Some("D");
                let object = object.and_then(Oid::from_hex);
                meta = Some((mode.unwrap_or("").to_string(), object, deleted));
            }
            Some((mode, object, deleted)) => {
                if !complete || record.len() >= MAX_PATH_BYTES {
                    long += 1;
                } else {
                    changes.push(Change {
                        path: escaped_name(record).into_owned(),
                        deleted,
                        mode,
                        object,
                    });
                }
            }
        }
        Ok::<(), GitError>(())
    })?;
    Ok((changes, long))
}

/// The sizes of `blobs`, from one `git cat-file --batch-check`, in their order.
pub fn blob_sizes(cache: &Path, blobs: &[Oid]) -> Result<Vec<u64>, GitError> {
    use std::io::{BufRead, BufReader};
    if blobs.is_empty() {
        return Ok(Vec::new());
    }
    let (mut child, stdin, stdout) = cat_file(cache, "--batch-check=%(objectsize)")?;
    let sizes = std::thread::scope(|scope| {
        scope.spawn(move || ask_for(stdin, blobs.iter()));
        let mut sizes = Vec::with_capacity(blobs.len());
        for line in BufReader::new(stdout).lines().take(blobs.len()) {
            let line = line.map_err(|e| GitError::Other(format!("reading blob sizes: {e}")))?;
            let size = line.trim().parse::<u64>().map_err(|_| {
                GitError::Other(format!("unexpected answer from git cat-file: {line}"))
            })?;
            sizes.push(size);
        }
        Ok(sizes)
    });
    let _ = child.kill();
    let _ = child.wait();
    let sizes: Vec<u64> = sizes?;
    if sizes.len() == blobs.len() {
        Ok(sizes)
    } else {
        Err(GitError::Other("git cat-file stopped early".into()))
    }
}

/// Runs a local git command and hands each NUL-terminated record of its output to `each`, as a
/// stream: at most `limit` bytes of the record, and whether that is all of it. An `Err` from
/// `each` stops git and is returned.
fn each_record<E: From<GitError>>(
    cache: &Path,
    args: &[&str],
    limit: usize,
    mut each: impl FnMut(&[u8], bool) -> Result<(), E>,
) -> Result<(), E> {
    use std::io::{BufReader, Read};
    use std::process::Stdio;
    let mut command = git::command();
    command
        .arg("--git-dir")
        .arg(cache)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|error| GitError::Other(format!("cannot run git: {error}")))?;
    let stderr = child.stderr.take().map(|mut pipe| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.by_ref().take(64 * 1024).read_to_end(&mut text);
            // Drain the rest, so git never blocks on a full pipe.
            let _ = std::io::copy(&mut pipe, &mut std::io::sink());
            text
        })
    });
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| GitError::Other("no stdout for git".into()))?;
    let mut reader = BufReader::with_capacity(1 << 16, stdout);
    let mut record = Vec::new();
    let read = loop {
        record.clear();
        match read_record(&mut reader, &mut record, limit) {
            Ok(None) => break Ok(()),
            Ok(Some(complete)) => {
                if let Err(error) = each(&record, complete) {
                    break Err(error);
                }
            }
            Err(error) => {
                break Err(E::from(GitError::Other(format!(
                    "reading git's output: {error}"
                ))))
            }
        }
    };
    if read.is_err() {
        let _ = child.kill();
    }
    drop(reader);
    let status = child.wait();
    let stderr = stderr
        .and_then(|thread| thread.join().ok())
        .unwrap_or_default();
    read?;
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(_) => Err(E::from(git::classify(
            String::from_utf8_lossy(&stderr).trim(),
        ))),
        Err(error) => Err(E::from(GitError::Other(format!(
            "waiting for git: {error}"
        )))),
    }
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
    let regular: HashSet<&str> = tree.iter().map(|entry| &*entry.path).collect();
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
        let on_disk = disk_path(file);
        let path = on_disk.as_path();
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
    /// The same paths, NUL-separated (`{files0}`).
    pub file_list0: PathBuf,
    /// The tools' own writable space (home, temporary files, caches), made on first use.
    pub scratch: PathBuf,
}

impl Workspace {
    pub fn new(root: &Path, job_id: i64) -> Workspace {
        Workspace {
            dir: root.join(format!("job-{job_id}")),
            index: root.join(format!("job-{job_id}.index")),
            file_list: root.join(format!("job-{job_id}.files")),
            file_list0: root.join(format!("job-{job_id}.files0")),
            scratch: root.join(format!("job-{job_id}.scratch")),
        }
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        remove_tree(&self.dir);
        remove_tree(&self.scratch);
        let _ = fs::remove_file(&self.index);
        let _ = fs::remove_file(&self.file_list);
        let _ = fs::remove_file(&self.file_list0);
    }
}

/// Removes every workspace left behind by a crash (called before workers start).
pub fn clear_workspaces(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            remove_tree(&path);
        } else {
            let _ = fs::remove_file(&path);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn names_that_are_not_utf8_are_escaped_one_to_one() {
        assert_eq!(escaped_name(b"plain.rs"), "plain.rs");
        assert_eq!(escaped_name(b"caf\xe9.c"), "caf\u{FFFD}E9.c");
        assert_ne!(escaped_name(b"caf\xe9.c"), escaped_name(b"caf\xe8.c"));
        assert_eq!(escaped_name(b"\xff\xfeok"), "\u{FFFD}FF\u{FFFD}FEok");
        for name in [&b"plain.rs"[..], b"caf\xe9.c", b"\xff\xfeok"] {
            assert_eq!(&*raw_name(&escaped_name(name)), name);
        }
    }

    #[test]
    fn credentials_never_reach_the_job_log() {
        assert_eq!(
            without_credentials("https://bot:s3cret@example.com/a/b.git"),
            "https://***@example.com/a/b.git"
        );
        assert_eq!(
            without_credentials("https://example.com/u@x.git"),
            "https://example.com/u@x.git"
        );
        assert_eq!(without_credentials("/srv/repo"), "/srv/repo");
    }

    /// Runs git in `dir` with an isolated environment; returns its trimmed stdout.
    fn git_in(dir: &Path, args: &[&str]) -> String {
        let output = std::process::Command::new("git")
            .current_dir(dir)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "A")
            .env("GIT_AUTHOR_EMAIL", "a@example.com")
            .env("GIT_COMMITTER_NAME", "A")
            .env("GIT_COMMITTER_EMAIL", "a@example.com")
            .output()
            .unwrap();
        assert!(output.status.success(), "{args:?}: {output:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }

    #[test]
    fn a_listing_derived_from_the_baselines_equals_one_made_from_scratch() {
        use crate::scan::listings::{derive, Bounds};
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path();
        let git = |args: &[&str]| git_in(at, args);
        git(&["init", "-q", "-b", "main"]);
        for (path, text) in [
            ("a.rs", "fn a() {}\n"),
            ("a-b", "x\n"),
            ("a0", "y\n"),
            ("keep.txt", "k\n"),
            ("src/b.py", "b = 1\n"),
            ("src/c/d.txt", "d\n"),
            ("src/x", "a file, then a directory\n"),
            ("src/to-link.txt", "a file, then a symlink\n"),
        ] {
            fs::create_dir_all(at.join(path).parent().unwrap()).unwrap();
            fs::write(at.join(path), text).unwrap();
        }
        git(&["add", "-A"]);
        git(&["commit", "-q", "-m", "base"]);
        let base = git(&["rev-parse", "HEAD"]);
        fs::write(at.join("src/b.py"), "b = 2\nmore = 3\n").unwrap();
        fs::remove_file(at.join("keep.txt")).unwrap();
        fs::write(at.join("src/new.rs"), "fn new() {}\n").unwrap();
        fs::write(at.join("a.b"), "between a-b and a0\n").unwrap();
        fs::remove_file(at.join("src/x")).unwrap();
        fs::create_dir_all(at.join("src/x")).unwrap();
        fs::write(at.join("src/x/y.txt"), "y\n").unwrap();
        fs::remove_file(at.join("src/to-link.txt")).unwrap();
        std::os::unix::fs::symlink("b.py", at.join("src/to-link.txt")).unwrap();
        git(&["add", "-A"]);
        git(&["commit", "-q", "-m", "head"]);
        let head = git(&["rev-parse", "HEAD"]);
        let cache = at.join(".git");
        let (changes, long) = tree_changes(&cache, &base, &head).unwrap();
        assert_eq!(long, 0);
        assert!(changes.iter().any(|c| c.path == "keep.txt" && c.deleted));
        let bounds = Bounds {
            max_files: 1000,
            max_bytes: u64::MAX,
        };
        for prefix in ["", "src"] {
            let before = scan_tree(&cache, &base, prefix, 1000, u64::MAX).unwrap();
            let derived = derive(&before, &changes, prefix, bounds, |blobs| {
                blob_sizes(&cache, blobs)
            })
            .unwrap()
            .expect("derived");
            let fresh = scan_tree(&cache, &head, prefix, 1000, u64::MAX).unwrap();
            assert_eq!(derived.entries, fresh.entries, "below {prefix:?}");
        }
        // A tree that would pass a limit is listed from scratch instead.
        let before = scan_tree(&cache, &base, "", 1000, u64::MAX).unwrap();
        let tight = Bounds {
            max_files: 1000,
            max_bytes: 10,
        };
        let derived = derive(&before, &changes, "", tight, |blobs| {
            blob_sizes(&cache, blobs)
        });
        assert!(derived.unwrap().is_none());
    }

    /// `fetch_branch` of `branch`, with the log it wrote.
    /// Fetches `branch` of the repository at `url` over git's file transport (a plain path
    /// would hard-link every object of the repository into a new cache).
    fn fetch(root: &Path, url: &Path, branch: &str) -> (Option<(PathBuf, String)>, String) {
        let mut log = Vec::new();
        let url = format!("file://{}", url.display());
        let fetched = fetch_branch(root, 7, &url, branch, &mut log).unwrap();
        let fetched = fetched.map(|fetched| (fetched.cache, fetched.head));
        (fetched, String::from_utf8(log).unwrap())
    }

    #[test]
    fn a_branch_is_fetched_alone_without_tags_and_only_when_its_head_is_new() {
        let remote = tempfile::tempdir().unwrap();
        let caches = tempfile::tempdir().unwrap();
        let at = remote.path();
        let git = |args: &[&str]| git_in(at, args);
        git(&["init", "-q", "-b", "main"]);
        fs::write(at.join("a.txt"), "a\n").unwrap();
        git(&["add", "-A"]);
        git(&["commit", "-q", "-m", "a"]);
        git(&["tag", "v1"]);
        // `ls-remote main` also lists `foo/main`: only the exact branch counts.
        git(&["checkout", "-q", "-b", "foo/main"]);
        fs::write(at.join("b.txt"), "b\n").unwrap();
        git(&["add", "-A"]);
        git(&["commit", "-q", "-m", "b"]);
        let foo_head = git(&["rev-parse", "HEAD"]);
        git(&["tag", "-a", "-m", "v2", "v2"]);
        git(&["checkout", "-q", "main"]);
        let main_head = git(&["rev-parse", "HEAD"]);

        let (fetched, log) = fetch(caches.path(), at, "main");
        let (cache, head) = fetched.unwrap();
        assert_eq!(cache, caches.path().join("repo-7.git"));
        assert_eq!(head, main_head);
        assert!(
            log.contains("$ git clone --bare --single-branch --no-tags --branch main"),
            "{log}"
        );
        let refs = git_in(&cache, &["for-each-ref", "--format=%(refname)"]);
        assert_eq!(refs, "refs/heads/main");
        assert!(!has_commit(&cache, &foo_head));
        assert!(!cache.join("hooks").exists());

        // The same head again: `ls-remote` only.
        let (fetched, log) = fetch(caches.path(), at, "main");
        assert_eq!(fetched.unwrap().1, main_head);
        assert!(
            log.contains("$ git ls-remote") && !log.contains("$ git fetch"),
            "{log}"
        );

        // A new commit is fetched; a branch reset to a commit the cache holds is not.
        fs::write(at.join("a.txt"), "a2\n").unwrap();
        git(&["commit", "-q", "-am", "a2"]);
        let new_head = git(&["rev-parse", "HEAD"]);
        let (fetched, log) = fetch(caches.path(), at, "main");
        assert_eq!(fetched.unwrap().1, new_head);
        assert!(log.contains("$ git fetch"), "{log}");
        assert_eq!(
            resolve_branch(&cache, "main").unwrap(),
            Some(new_head.clone())
        );
        git(&["reset", "-q", "--hard", &main_head]);
        let (fetched, log) = fetch(caches.path(), at, "main");
        assert_eq!(fetched.unwrap().1, main_head);
        assert!(
            log.contains("$ git update-ref") && !log.contains("$ git fetch"),
            "{log}"
        );
        assert_eq!(
            resolve_branch(&cache, "main").unwrap(),
            Some(main_head.clone())
        );

        // A second branch joins the same cache, still without tags.
        let (fetched, _) = fetch(caches.path(), at, "foo/main");
        assert_eq!(fetched.unwrap(), (cache.clone(), foo_head.clone()));
        let refs = git_in(&cache, &["for-each-ref", "--format=%(refname)"]);
        assert_eq!(refs, "refs/heads/foo/main\nrefs/heads/main");

        // Missing branches: never there (and no suffix match), or deleted since.
        assert_eq!(fetch(caches.path(), at, "oo/main").0, None);
        git(&["branch", "-D", "foo/main"]);
        assert_eq!(fetch(caches.path(), at, "foo/main").0, None);
        assert_eq!(resolve_branch(&cache, "foo/main").unwrap(), None);
        let fs_entries: Vec<_> = fs::read_dir(caches.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(fs_entries, ["repo-7.git"]);

        // A repository that is gone is `NotFound`, as before.
        let mut log = Vec::new();
        let gone = caches.path().join("gone");
        assert!(matches!(
            fetch_branch(caches.path(), 8, gone.to_str().unwrap(), "main", &mut log),
            Err(GitError::NotFound(_))
        ));
    }

    #[test]
    fn the_branch_before_and_after_a_fetch_is_read_as_git_reads_it() {
        let remote = tempfile::tempdir().unwrap();
        let caches = tempfile::tempdir().unwrap();
        let at = remote.path();
        git_in(at, &["init", "-q", "-b", "main"]);
        git_in(at, &["commit", "-q", "--allow-empty", "-m", "one"]);
        let one = git_in(at, &["rev-parse", "HEAD"]);
        let url = format!("file://{}", at.display());
        let mut log = Vec::new();
        let first = fetch_branch(caches.path(), 7, &url, "main", &mut log)
            .unwrap()
            .unwrap();
        assert_eq!((first.head.as_str(), first.previous), (one.as_str(), None));
        let cache = first.cache;
        let missing = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            branch_and_commit(&cache, "refs/heads/main", &one).unwrap(),
            (Some(one.clone()), Some(one.clone()))
        );
        assert_eq!(
            branch_and_commit(&cache, "refs/heads/nope", missing).unwrap(),
            (None, None)
        );
        git_in(at, &["commit", "-q", "--allow-empty", "-m", "two"]);
        let two = git_in(at, &["rev-parse", "HEAD"]);
        let fetched = fetch_branch(caches.path(), 7, &url, "main", &mut log)
            .unwrap()
            .unwrap();
        assert_eq!(fetched.head, two);
        assert_eq!(fetched.previous.as_deref(), Some(one.as_str()));
        assert!(fetched.holds(&one) && fetched.holds(&two) && !fetched.holds(missing));
        // A symbolic ref is followed as git follows it.
        fs::write(cache.join("refs/heads/sym"), "ref: refs/heads/main\n").unwrap();
        assert_eq!(resolve_branch(&cache, "sym").unwrap(), Some(two));
    }

    #[test]
    fn a_branch_pointing_at_an_annotated_tag_is_its_commit_scan_after_scan() {
        let remote = tempfile::tempdir().unwrap();
        let caches = tempfile::tempdir().unwrap();
        let at = remote.path();
        git_in(at, &["init", "-q", "-b", "main"]);
        git_in(at, &["commit", "-q", "--allow-empty", "-m", "zero"]);
        let zero = git_in(at, &["rev-parse", "HEAD"]);
        git_in(at, &["tag", "-a", "-m", "t0", "t0"]);
        git_in(at, &["commit", "-q", "--allow-empty", "-m", "one"]);
        let one = git_in(at, &["rev-parse", "HEAD"]);
        git_in(at, &["tag", "-a", "-m", "t1", "t1"]);
        // git refuses to write a tag to a branch; a remote's files can hold one all the same.
        let point_at = |tag: &str| {
            let id = git_in(at, &["rev-parse", tag]);
            fs::write(at.join(".git/refs/heads/tagged"), format!("{id}\n")).unwrap();
        };
        point_at("t1");
        let url = format!("file://{}", at.display());
        let mut log = Vec::new();
        let mut fetch = || fetch_branch(caches.path(), 7, &url, "tagged", &mut log);
        assert_eq!(fetch().unwrap().unwrap().head, one);
        // The same head again: nothing to fetch, and still the commit.
        let again = fetch().unwrap().unwrap();
        assert_eq!(
            (again.head.as_str(), again.previous.as_deref()),
            (one.as_str(), Some(one.as_str()))
        );
        // Back to an older tagged commit the cache holds: no fetch, its commit.
        point_at("t0");
        let back = fetch().unwrap().unwrap();
        assert_eq!(back.head, zero);
        assert_eq!(resolve_branch(&back.cache, "tagged").unwrap(), Some(zero));
        let log = String::from_utf8(log).unwrap();
        assert!(!log.contains("$ git fetch"), "{log}");
    }

    #[test]
    fn a_cache_cloned_by_older_versions_is_used_as_it_is() {
        let remote = tempfile::tempdir().unwrap();
        let caches = tempfile::tempdir().unwrap();
        let at = remote.path();
        git_in(at, &["init", "-q", "-b", "main"]);
        git_in(at, &["commit", "-q", "--allow-empty", "-m", "one"]);
        git_in(at, &["branch", "other"]);
        git_in(at, &["tag", "v1"]);
        let cache = caches.path().join("repo-7.git");
        git_in(
            caches.path(),
            &[
                "clone",
                "-q",
                "--bare",
                "--",
                at.to_str().unwrap(),
                "repo-7.git",
            ],
        );
        let head = git_in(at, &["rev-parse", "HEAD"]);
        let (fetched, log) = fetch(caches.path(), at, "main");
        assert_eq!(fetched, Some((cache.clone(), head)));
        assert!(
            !log.contains("$ git fetch") && !log.contains("init"),
            "{log}"
        );
        git_in(at, &["commit", "-q", "--allow-empty", "-m", "two"]);
        let (fetched, log) = fetch(caches.path(), at, "main");
        assert_eq!(fetched.unwrap().1, git_in(at, &["rev-parse", "HEAD"]));
        assert!(log.contains("$ git fetch"), "{log}");
        // The other branches and tags it had stay: nothing is pruned.
        assert!(resolve_branch(&cache, "other").unwrap().is_some());
        assert!(!git_in(&cache, &["tag"]).is_empty());
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

    fn entry(path: &str, size: u64) -> TreeEntry {
        TreeEntry {
            blob: Oid::from_hex(&"0".repeat(40)).unwrap(),
            path: path.into(),
            size,
        }
    }

    #[test]
    fn over_the_byte_budget_the_largest_files_go_first() {
        let mut tree = Tree {
            entries: vec![
                entry("a", 50),
                entry("b", 10),
                entry("c", 30),
                entry("d", 30),
                entry("e", 5),
            ],
            ..Tree::default()
        };
        keep_within(&mut tree, 70);
        let kept: Vec<&str> = tree.entries.iter().map(|e| &*e.path).collect();
        // 5 + 10 + 30 (c, first of its size) fit; d would make 75.
        assert_eq!(kept, ["b", "c", "e"]);
        let left: Vec<&str> = tree.over_budget.iter().map(|e| &*e.path).collect();
        assert_eq!(left, ["a", "d"]);
        let mut small = Tree {
            entries: vec![entry("a", 1)],
            ..Tree::default()
        };
        keep_within(&mut small, 1);
        assert_eq!((small.entries.len(), small.over_budget.len()), (1, 0));
    }

    #[test]
    fn object_ids_read_back_as_the_hex_they_came_from() {
        let sha1 = "0123456789abcdef0123456789abcdef01234567";
        let oid = Oid::from_hex(sha1).unwrap();
        assert_eq!(oid.to_string(), sha1);
        assert!(oid.is(sha1) && !oid.is(&"1".repeat(40)));
        let sha256 = "ab".repeat(32);
        assert_eq!(Oid::from_hex(&sha256).unwrap().to_string(), sha256);
        assert_eq!(Oid::from_hex("abc"), None);
        assert_eq!(Oid::from_hex(&"g".repeat(40)), None);
    }

    #[test]
    fn records_past_the_limit_are_cut_and_marked() {
        let input = b"short\0muchlongerthanten\0tail";
        let mut reader = std::io::BufReader::with_capacity(4, &input[..]);
        let mut record = Vec::new();
        let mut read = Vec::new();
        while let Some(complete) = read_record(&mut reader, &mut record, 10).unwrap() {
            read.push((String::from_utf8(record.clone()).unwrap(), complete));
            record.clear();
        }
        assert_eq!(
            read,
            [
                ("short".to_string(), true),
                ("muchlonger".to_string(), false),
                ("tail".to_string(), true)
            ]
        );
        let long = "a/".repeat(200);
        assert!(shorten(&long).len() < 200 && shorten(&long).contains("(400 bytes)"));
        assert_eq!(shorten("src/a.rs"), "src/a.rs");
    }

    /// A bare-bones repository holding `files`, committed on `main`.
    /// A repository with one commit of `files`: its directory, git directory and head.
    pub(crate) fn repo(files: &[(&str, &[u8])]) -> (tempfile::TempDir, PathBuf, String) {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let output = std::process::Command::new("git")
                .current_dir(dir.path())
                .args(args)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_AUTHOR_NAME", "A")
                .env("GIT_AUTHOR_EMAIL", "a@example.com")
                .env("GIT_COMMITTER_NAME", "A")
                .env("GIT_COMMITTER_EMAIL", "a@example.com")
                .output()
                .unwrap();
            assert!(output.status.success(), "{output:?}");
            String::from_utf8(output.stdout).unwrap().trim().to_string()
        };
        git(&["init", "-q", "-b", "main"]);
        for (path, bytes) in files {
            let file = dir.path().join(path);
            fs::create_dir_all(file.parent().unwrap()).unwrap();
            fs::write(file, bytes).unwrap();
        }
        git(&["add", "-A"]);
        git(&["commit", "-q", "-m", "files"]);
        let head = git(&["rev-parse", "HEAD"]);
        let git_dir = dir.path().join(".git");
        (dir, git_dir, head)
    }

    #[test]
    fn blobs_stream_in_pieces_and_what_a_reader_leaves_is_skipped() {
        use std::io::Read;
        let big: Vec<u8> = (0..PIECE * 3 + 17).map(|i| (i % 251) as u8).collect();
        let (_dir, git_dir, head) = repo(&[
            ("a.txt", b"hello\n"),
            ("big.bin", &big),
            ("empty", b""),
            ("z.txt", b"last\n"),
        ]);
        let tree = scan_tree(&git_dir, &head, "", 100, u64::MAX).unwrap();
        let sizes: Vec<(&str, u64)> = tree.entries.iter().map(|e| (&*e.path, e.size)).collect();
        assert_eq!(
            sizes,
            [
                ("a.txt", 6),
                ("big.bin", big.len() as u64),
                ("empty", 0),
                ("z.txt", 5)
            ]
        );
        // Whole, partly, not at all, whole: every blob still lines up with its entry.
        let all: Vec<&TreeEntry> = tree.entries.iter().collect();
        let mut seen = Vec::new();
        read_blobs(&git_dir, &all, |entry, blob| match &*entry.path {
            "big.bin" => {
                let mut head = [0u8; 10];
                blob.read_exact(&mut head).unwrap();
                assert_eq!(head[..], big[..10]);
                seen.push((entry.path.clone(), blob.size(), head.to_vec()));
            }
            "empty" => seen.push((entry.path.clone(), blob.size(), Vec::new())),
            _ => seen.push((entry.path.clone(), blob.size(), blob.read_all().unwrap())),
        })
        .unwrap();
        assert_eq!(seen[0].2, b"hello\n");
        assert_eq!(seen[3], ("z.txt".into(), 5, b"last\n".to_vec()));
        let mut whole = Vec::new();
        read_blobs(&git_dir, &all[1..2], |_, blob| {
            whole = blob.read_all().unwrap();
        })
        .unwrap();
        assert_eq!(whole, big);
        // Limits: too many files, a budget, a scan path.
        assert!(matches!(
            scan_tree(&git_dir, &head, "", 3, u64::MAX),
            Err(TreeError::TooManyFiles { limit: 3 })
        ));
        let budget = scan_tree(&git_dir, &head, "", 100, 11).unwrap();
        assert_eq!(budget.entries.len(), 3);
        assert_eq!(&*budget.over_budget[0].path, "big.bin");
    }
}

/// A git object id as bytes (20 for SHA-1, 32 for SHA-256), shown in hex: a scan keeps one per
/// file, in a third of the memory of its hex text.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Oid {
    len: u8,
    bytes: [u8; 32],
}

impl Oid {
    /// The id `hex` spells (40 or 64 hex digits), if it is one.
    pub fn from_hex(hex: &str) -> Option<Oid> {
        let hex = hex.as_bytes();
        if hex.len() != 40 && hex.len() != 64 {
            return None;
        }
        let nibble = |digit: u8| (digit as char).to_digit(16).map(|n| n as u8);
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(hex.chunks(2)) {
            *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Some(Oid {
            len: (hex.len() / 2) as u8,
            bytes,
        })
    }

    /// The id's bytes: 20 for SHA-1, 32 for SHA-256.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// Whether `hex` spells this id.
    pub fn is(&self, hex: &str) -> bool {
        Oid::from_hex(hex).as_ref() == Some(self)
    }
}

impl std::fmt::Display for Oid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let bytes = &self.bytes[..usize::from(self.len)];
        let mut hex = [0u8; 64];
        for (pair, byte) in hex.chunks_mut(2).zip(bytes) {
            pair[0] = DIGITS[usize::from(byte >> 4)];
            pair[1] = DIGITS[usize::from(byte & 15)];
        }
        // Only ASCII digits were written.
        f.write_str(std::str::from_utf8(&hex[..bytes.len() * 2]).unwrap_or_default())
    }
}

impl std::fmt::Debug for Oid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// A file of a revision as git stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    pub blob: Oid,
    /// `Box<str>`, not `String`: a scan keeps one per file, and the capacity is never needed.
    pub path: Box<str>,
    /// The blob's size in bytes, as git records it (read without inflating the blob).
    pub size: u64,
}

/// A path this long or longer is left out of every scan: Linux cannot open a path of 4,096
/// bytes or more (`PATH_MAX`), and a tool sees the path below the workspace's own directory.
pub const MAX_PATH_BYTES: usize = 4000;

/// The files of a revision a scan takes, and those it leaves out.
#[derive(Debug, Default)]
pub struct Tree {
    /// The files the scan takes, in git's (path) order.
    pub entries: Vec<TreeEntry>,
    /// How many paths of `MAX_PATH_BYTES` or more were left out.
    pub long_paths: usize,
    /// The first few of them, shortened for the log.
    pub long_path_examples: Vec<String>,
    /// Files left out to keep the scan within its byte budget, largest first.
    pub over_budget: Vec<TreeEntry>,
    /// How many names are not UTF-8 (taken under their `escaped_name`).
    pub escaped_names: usize,
}

/// A file name as text: itself when it is UTF-8, else each byte that is not UTF-8 written as
/// U+FFFD and two hex digits (`caf\u{FFFD}E9.txt` for Latin-1 `café.txt`), so that different
/// names stay different.
pub fn escaped_name(name: &[u8]) -> std::borrow::Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(name) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut text = String::with_capacity(name.len() + 8);
    for chunk in name.utf8_chunks() {
        text.push_str(chunk.valid());
        for byte in chunk.invalid() {
            text.push_str(&format!("\u{FFFD}{byte:02X}"));
        }
    }
    std::borrow::Cow::Owned(text)
}

/// The name on disk of an `escaped_name`: each U+FFFD followed by two hex digits is that byte.
pub fn raw_name(name: &str) -> std::borrow::Cow<'_, [u8]> {
    if !name.contains('\u{FFFD}') {
        return std::borrow::Cow::Borrowed(name.as_bytes());
    }
    let mut raw = Vec::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find('\u{FFFD}') {
        raw.extend_from_slice(&rest.as_bytes()[..at]);
        let after = &rest[at + '\u{FFFD}'.len_utf8()..];
        match after
            .get(..2)
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            Some(byte) => {
                raw.push(byte);
                rest = &after[2..];
            }
            None => {
                raw.extend_from_slice('\u{FFFD}'.to_string().as_bytes());
                rest = after;
            }
        }
    }
    raw.extend_from_slice(rest.as_bytes());
    std::borrow::Cow::Owned(raw)
}

/// `name` (an `escaped_name`) as a path on disk.
pub fn disk_path(name: &str) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(&raw_name(name)))
}

/// Why a revision's tree could not be taken.
#[derive(Debug)]
pub enum TreeError {
    Git(GitError),
    /// More regular files below the scan path than a scan may take.
    TooManyFiles {
        limit: usize,
    },
    /// The paths of the files below the scan path add up to more than `MAX_PATH_LIST_BYTES`.
    PathsTooLong,
}

/// The most bytes the paths of one scan's files may add up to: every file's path is kept
/// while the scan runs, so this bounds the memory a tree of many long paths can take. Real
/// trees stay far below (a million files with 100-byte paths take 100 MB).
pub const MAX_PATH_LIST_BYTES: u64 = 256 << 20;

/// The regular files of `revision` below `prefix` (a directory, `""` for the whole tree;
/// symlinks and submodules left out), with their blob ids and sizes, read as a stream from one
/// `git ls-tree --long`: the listing is never held whole. More than `max_files` files stop the
/// listing with `TooManyFiles`, paths adding up to more than `MAX_PATH_LIST_BYTES` with
/// `PathsTooLong`; paths of `MAX_PATH_BYTES` or more are left out; when the sizes add up to
/// more than `max_bytes`, the largest files are left out until the rest fit.
pub fn scan_tree(
    cache: &Path,
    revision: &str,
    prefix: &str,
    max_files: usize,
    max_bytes: u64,
) -> Result<Tree, TreeError> {
    let dir = format!("{prefix}/");
    let mut tree = Tree::default();
    let mut files = 0usize;
    let mut path_bytes = 0u64;
    let args = ["ls-tree", "-r", "-z", "--long", "--full-tree", revision];
    // A record longer than any path we take is only counted: it is never held whole.
    each_record(cache, &args, 2 * MAX_PATH_BYTES, |record, complete| {
        let Some((meta, path)) = split_record(record) else {
            return Ok(());
        };
        let mut meta = meta.split(' ').filter(|part| !part.is_empty());
        let (mode, kind, blob, size) = (meta.next(), meta.next(), meta.next(), meta.next());
        // Regular files only: no symlinks (120000), no submodules (160000, a commit).
        if kind != Some("blob") || !matches!(mode, Some("100644" | "100755")) {
            return Ok(());
        }
        if !(prefix.is_empty() || path.starts_with(dir.as_bytes())) {
            return Ok(());
        }
        files += 1;
        if files > max_files {
            return Err(TreeError::TooManyFiles { limit: max_files });
        }
        path_bytes += path.len() as u64;
        if path_bytes > MAX_PATH_LIST_BYTES {
            return Err(TreeError::PathsTooLong);
        }
        let (Some(blob), Some(size)) = (
            blob.and_then(Oid::from_hex),
            size.and_then(|s| s.parse::<u64>().ok()),
        ) else {
            return Ok(());
        };
        if !complete || path.len() >= MAX_PATH_BYTES {
            tree.long_paths += 1;
            if tree.long_path_examples.len() < 5 {
                let shown = String::from_utf8_lossy(path);
                tree.long_path_examples.push(if complete {
                    shorten(&shown)
                } else {
                    let head: String = shown.chars().take(60).collect();
                    format!("{head}...(over {} bytes)", path.len())
                });
            }
            return Ok(());
        }
        // A name that is not UTF-8 (vim keeps Latin-1 ones) is counted and checked under its
        // escaped name; tools, which need the real name on disk, are not given it.
        let name = escaped_name(path);
        if matches!(name, std::borrow::Cow::Owned(_)) {
            tree.escaped_names += 1;
        }
        tree.entries.push(TreeEntry {
            blob,
            path: name.into(),
            size,
        });
        Ok(())
    })?;
    keep_within(&mut tree, max_bytes);
    tree.entries.shrink_to_fit();
    Ok(tree)
}

impl From<GitError> for TreeError {
    fn from(error: GitError) -> TreeError {
        TreeError::Git(error)
    }
}

/// Reads one NUL-terminated record into `record`, keeping at most `limit` bytes of it. Returns
/// `None` at the end of the stream, else whether the record was kept whole.
fn read_record(
    reader: &mut impl std::io::BufRead,
    record: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<Option<bool>> {
    let mut complete = true;
    let mut any = false;
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(any.then_some(complete));
        }
        any = true;
        let (part, done) = match buffer.iter().position(|b| *b == 0) {
            Some(end) => (&buffer[..end], Some(end + 1)),
            None => (buffer, None),
        };
        let room = limit.saturating_sub(record.len());
        if part.len() > room {
            complete = false;
        }
        record.extend_from_slice(&part[..part.len().min(room)]);
        let used = done.unwrap_or(buffer.len());
        reader.consume(used);
        if done.is_some() {
            return Ok(Some(complete));
        }
    }
}

/// `(meta, path)` of one `ls-tree` record: `<mode> <type> <object> <size>\t<path>`.
fn split_record(record: &[u8]) -> Option<(&str, &[u8])> {
    let tab = record.iter().position(|b| *b == b'\t')?;
    Some((
        std::str::from_utf8(&record[..tab]).ok()?,
        &record[tab + 1..],
    ))
}

/// A path shortened for a log line: its first and last 60 characters around its length.
pub fn shorten(path: &str) -> String {
    let chars = path.chars().count();
    if chars <= 160 {
        return path.to_string();
    }
    let head: String = path.chars().take(60).collect();
    let tail: String = path.chars().skip(chars - 60).collect();
    format!("{head}...({} bytes)...{tail}", path.len())
}

/// Leaves out the largest files of `tree` until the sizes of the others add up to at most
/// `max_bytes`. Files of one size go in path order, so the choice is the same every time.
fn keep_within(tree: &mut Tree, max_bytes: u64) {
    let total = tree
        .entries
        .iter()
        .fold(0u64, |sum, entry| sum.saturating_add(entry.size));
    if total <= max_bytes {
        return;
    }
    let mut order: Vec<usize> = (0..tree.entries.len()).collect();
    order.sort_by_key(|&i| (tree.entries[i].size, i));
    let mut keep = vec![false; tree.entries.len()];
    let mut used = 0u64;
    for i in order {
        match used.checked_add(tree.entries[i].size) {
            Some(sum) if sum <= max_bytes => {
                used = sum;
                keep[i] = true;
            }
            // Sorted by size: nothing after this one fits either.
            _ => break,
        }
    }
    let entries = std::mem::take(&mut tree.entries);
    for (entry, keep) in entries.into_iter().zip(keep) {
        if keep {
            tree.entries.push(entry);
        } else {
            tree.over_budget.push(entry);
        }
    }
    tree.over_budget
        .sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.path.cmp(&b.path)));
}

/// What `read_blobs` sends from its reader thread: a blob's size and first bytes, more of its
/// bytes, or why reading stopped.
enum Piece {
    Blob { size: u64, first: Vec<u8> },
    More(Vec<u8>),
    Failed(GitError),
}

/// Bytes of a blob sent in one piece.
const PIECE: usize = 128 * 1024;
/// Pieces waiting to be handled: with `PIECE`, at most 16 MiB of blob bytes are queued.
const QUEUE: usize = 128;

/// One blob as `read_blobs` hands it over: its size, and its bytes as a stream. What the
/// callback leaves unread is skipped, a piece at a time.
pub struct Blob<'a> {
    size: u64,
    /// Bytes of the blob not yet taken from the queue.
    left: u64,
    piece: Vec<u8>,
    at: usize,
    /// Where the rest comes from: none for a blob read whole.
    queue: Option<&'a mpsc::Receiver<Piece>>,
    error: Option<GitError>,
}

impl Blob<'_> {
    /// A blob read whole already.
    pub fn whole(bytes: Vec<u8>) -> Blob<'static> {
        Blob {
            size: bytes.len() as u64,
            left: 0,
            piece: bytes,
            at: 0,
            queue: None,
            error: None,
        }
    }

    /// The blob's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Reads the whole blob into memory; callers keep this for blobs whose size they checked.
    /// A blob that came in one piece is handed over without a copy.
    pub fn read_all(&mut self) -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        if self.left == 0 && self.at == 0 {
            self.at = self.piece.len();
            return Ok(std::mem::take(&mut self.piece));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(self.size).unwrap_or(0));
        self.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    fn next_piece(&mut self) -> std::io::Result<bool> {
        let Some(queue) = self.queue.filter(|_| self.left > 0) else {
            return Ok(false);
        };
        match queue.recv() {
            Ok(Piece::More(bytes)) => {
                self.left = self.left.saturating_sub(bytes.len() as u64);
                self.piece = bytes;
                self.at = 0;
                Ok(true)
            }
            Ok(Piece::Failed(error)) => {
                let message = error.to_string();
                self.error = Some(error);
                Err(std::io::Error::other(message))
            }
            Ok(Piece::Blob { .. }) | Err(_) => {
                let error = GitError::Other("git cat-file stopped early".into());
                let message = error.to_string();
                self.error = Some(error);
                Err(std::io::Error::other(message))
            }
        }
    }

    /// Takes what is left of the blob off the queue without looking at it.
    fn finish(&mut self) -> Result<(), GitError> {
        self.at = self.piece.len();
        while self.left > 0 && self.error.is_none() {
            let _ = self.next_piece();
        }
        self.error.take().map_or(Ok(()), Err)
    }
}

impl std::io::Read for Blob<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.piece.len() {
            if !self.next_piece()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.piece.len() - self.at);
        out[..n].copy_from_slice(&self.piece[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Streams the contents of `entries` out of the cache with one `git cat-file --batch`, calling
/// `each` with every entry and its blob, in order. Nothing is written to disk, and no blob is
/// held whole unless the callback asks for it: a reader thread drains git's output in pieces of
/// at most 128 KiB into a queue of at most 16 MiB, so git inflates objects on one core while
/// `each` works on the other. Callers pass only blobs whose size (`TreeEntry::size`) they mean
/// to read.
pub fn read_blobs<'e>(
    cache: &Path,
    entries: &[&'e TreeEntry],
    each: impl FnMut(&'e TreeEntry, &mut Blob<'_>),
) -> Result<(), GitError> {
    if entries.is_empty() {
        return Ok(());
    }
    let (mut child, stdin, stdout) = cat_file(cache, "--batch")?;
    let (sender, receiver) = mpsc::sync_channel::<Piece>(QUEUE);
    // Scoped threads borrow the entries: the ids are never copied.
    std::thread::scope(|scope| {
        // A writer thread: git answers while we are still asking, and both pipes must keep
        // moving.
        scope.spawn(move || ask_for(stdin, entries.iter().map(|entry| &entry.blob)));
        scope.spawn(move || pump(stdout, entries.len(), &sender));
        let result = hand_over(entries, &receiver, each);
        // Stops both threads: the reader's next send fails, and git's pipes close.
        drop(receiver);
        let _ = child.kill();
        let _ = child.wait();
        result
    })
}

/// A running `git cat-file` with its stdin and stdout.
type CatFile = (
    std::process::Child,
    std::process::ChildStdin,
    std::process::ChildStdout,
);

/// `git cat-file` in batch `mode` on the cache.
fn cat_file(cache: &Path, mode: &str) -> Result<CatFile, GitError> {
    use std::process::Stdio;
    let mut command = git::command();
    command
        .arg("--git-dir")
        .arg(cache)
        .args(["cat-file", mode])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command
        .spawn()
        .map_err(|error| GitError::Other(format!("cannot run git: {error}")))?;
    match (child.stdin.take(), child.stdout.take()) {
        (Some(stdin), Some(stdout)) => Ok((child, stdin, stdout)),
        _ => {
            let _ = child.kill();
            let _ = child.wait();
            Err(GitError::Other("no pipes to git".into()))
        }
    }
}

/// Writes the object ids `git cat-file` is to answer.
fn ask_for<'a>(stdin: std::process::ChildStdin, ids: impl Iterator<Item = &'a Oid>) {
    let mut stdin = std::io::BufWriter::new(stdin);
    for id in ids {
        if writeln!(stdin, "{id}").is_err() {
            return;
        }
    }
    let _ = stdin.flush();
}

/// The reader thread: `count` answers of git, cut into pieces for the queue. Stops at the first
/// failure, which it sends, or when the queue's receiver is gone.
fn pump(stdout: std::process::ChildStdout, count: usize, sender: &mpsc::SyncSender<Piece>) {
    use std::io::{BufRead, BufReader, Read};
    let mut reader = BufReader::with_capacity(1 << 20, stdout);
    let mut header = String::new();
    let fail = |message: String| Piece::Failed(GitError::Other(message));
    for _ in 0..count {
        header.clear();
        let size = match reader.read_line(&mut header) {
            Err(error) => Err(fail(format!("reading blobs: {error}"))),
            Ok(_) => header
                .trim_end()
                .rsplit(' ')
                .next()
                .and_then(|size| size.parse::<u64>().ok())
                .ok_or_else(|| {
                    fail(format!(
                        "unexpected answer from git cat-file: {}",
                        header.trim_end()
                    ))
                }),
        };
        match size.and_then(|size| send_blob(&mut reader, size, sender)) {
            Ok(true) => {}
            // Nobody listens any more.
            Ok(false) => return,
            Err(failed) => {
                let _ = sender.send(failed);
                return;
            }
        }
        // The newline after the contents.
        let mut newline = [0u8; 1];
        if reader.read_exact(&mut newline).is_err() {
            let _ = sender.send(fail("git cat-file stopped early".into()));
            return;
        }
    }
}

/// Sends one blob of `size` bytes from `reader` as pieces: whether the queue's receiver still
/// listens, or the failure to send.
fn send_blob(
    reader: &mut impl std::io::Read,
    size: u64,
    sender: &mpsc::SyncSender<Piece>,
) -> Result<bool, Piece> {
    let mut left = size;
    let mut first = true;
    loop {
        let n = usize::try_from(left).unwrap_or(PIECE).min(PIECE);
        let mut bytes = vec![0; n];
        if let Err(error) = reader.read_exact(&mut bytes) {
            return Err(Piece::Failed(GitError::Other(format!(
                "reading a blob: {error}"
            ))));
        }
        left -= n as u64;
        let piece = if first {
            Piece::Blob { size, first: bytes }
        } else {
            Piece::More(bytes)
        };
        first = false;
        if sender.send(piece).is_err() {
            return Ok(false);
        }
        if left == 0 {
            return Ok(true);
        }
    }
}

/// Hands each entry's blob, from the queue, to `each`, in order.
fn hand_over<'e>(
    entries: &[&'e TreeEntry],
    receiver: &mpsc::Receiver<Piece>,
    mut each: impl FnMut(&'e TreeEntry, &mut Blob<'_>),
) -> Result<(), GitError> {
    for entry in entries {
        let (size, first) = match receiver.recv() {
            Ok(Piece::Blob { size, first }) => (size, first),
            Ok(Piece::Failed(error)) => return Err(error),
            Ok(Piece::More(_)) | Err(_) => {
                return Err(GitError::Other("git cat-file stopped early".into()))
            }
        };
        let mut blob = Blob {
            size,
            left: size - first.len() as u64,
            piece: first,
            at: 0,
            queue: Some(receiver),
            error: None,
        };
        each(entry, &mut blob);
        blob.finish()?;
    }
    Ok(())
}

/// Lines blamed by one `git blame` run, so the argument list stays short.
const BLAME_BATCH: usize = 500;

/// The author (name and e-mail) of each of `lines` of `path` at `revision`, from `git blame`
/// run on those lines only (`-L`), so its output stays small however long the file is.
pub fn blame(
    cache: &Path,
    revision: &str,
    path: &str,
    lines: &[u32],
) -> Result<std::collections::HashMap<u32, (String, String)>, GitError> {
    let mut wanted: Vec<u32> = lines.iter().copied().filter(|line| *line > 0).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut authors = std::collections::HashMap::new();
    for batch in wanted.chunks(BLAME_BATCH) {
        let mut args = vec!["blame".to_string(), "--line-porcelain".to_string()];
        // Runs of consecutive lines make one range each.
        let mut i = 0;
        while i < batch.len() {
            let start = batch[i];
            let mut end = start;
            while i + 1 < batch.len() && batch[i + 1] == end + 1 {
                i += 1;
                end = batch[i];
            }
            args.push(format!("-L{start},{end}"));
            i += 1;
        }
        args.extend([revision.to_string(), "--".to_string(), path.to_string()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let stdout = local(cache, &args)?;
        parse_line_porcelain(&stdout, &mut authors);
    }
    Ok(authors)
}

fn parse_line_porcelain(
    stdout: &[u8],
    authors: &mut std::collections::HashMap<u32, (String, String)>,
) {
    let (mut line, mut name, mut mail) = (0u32, String::new(), String::new());
    for text in String::from_utf8_lossy(stdout).lines() {
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
}
