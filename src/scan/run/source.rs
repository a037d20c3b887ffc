//! The source stage: bring the repository's cache up to date and resolve the branch head, find
//! the baseline an incremental scan compares with, list the revision's files within the scan
//! limits, and check out what the tools that run as processes need.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::format_size;
use crate::domain::ids::JobId;
use crate::domain::job::code;
use crate::scan::checkout::{self, Change, TreeEntry, Workspace};
use crate::scan::listings::{self, Bounds, ListingKey};
use crate::scan::run::notes::{files_count, name_some, some_of};
use crate::scan::run::{git_stop, JobRun, Planned, Step, Stop};

/// The revision a job scans.
pub struct Source {
    /// The repository's cached clone.
    pub cache: PathBuf,
    pub revision: String,
    /// The last stored scan's revision and job, when the job is incremental and the cache
    /// still holds that commit.
    pub baseline: Option<(String, JobId)>,
}

impl Source {
    /// The baseline's job when the head has not moved since it: nothing to scan.
    pub fn unchanged_since(&self) -> Option<JobId> {
        self.baseline
            .as_ref()
            .filter(|(base, _)| *base == self.revision)
            .map(|(_, job)| *job)
    }
}

/// The files of a job.
pub struct Files {
    /// The revision's files below the scan path that the scan takes (git's path order), and
    /// what the listing left out.
    pub listed: Arc<checkout::Tree>,
    /// Files the scan left out (over its byte budget): neither scanned nor fixed.
    pub left_out: HashSet<String>,
    /// The files the tools are given: the changed ones against a baseline, else all of them
    /// (only when a tool runs as a process).
    pub files: Vec<String>,
    /// How many files the scan looks at, for the task logs.
    pub file_count: usize,
    /// The files an incremental scan covered (changed and deleted); `None` for a full scan.
    pub covered: Option<HashSet<String>>,
    pub workspace: Workspace,
    /// The scan path in the checkout, where command tools run.
    pub scan_root: PathBuf,
}

/// Fetches the repository, resolves the branch head, and finds the baseline.
pub fn fetch(run: &mut JobRun) -> Step<Source> {
    let fetched = fetch_head(run)?;
    let revision = fetched.head.clone();
    let line = format!(
        "revision {revision} (source ready after {} ms)",
        run.elapsed_ms()
    );
    run.note(line);
    run.shared.metrics.phase("source", run.started.elapsed());
    let baseline = baseline(run, &fetched)?;
    if let Some(scan_id) = run.job.scan_id {
        let base = baseline.as_ref().map(|(base, _)| base.as_str());
        run.store().set_revisions(scan_id, &revision, base)?;
    }
    Ok(Source {
        cache: fetched.cache,
        revision,
        baseline,
    })
}

/// The branch's head commit, fetched into the repository's cache (under its lock) unless
/// already there, and the cache.
fn fetch_head(run: &mut JobRun) -> Step<checkout::Fetched> {
    let shared = run.shared;
    let lock = shared.repo_lock(run.repo.id);
    let _guard = lock.lock().unwrap_or_else(|p| p.into_inner());
    // A local repository may have changed since it was registered: a `.git` file, or a
    // symlink, could now lead git out of the allowed roots.
    if let Some(path) = run.repo.local_path() {
        crate::git::check_local_repository(path, &shared.local_repo_roots).map_err(git_stop)?;
    }
    checkout::fetch_branch(
        &shared.git_cache_dir,
        run.repo.id.0,
        &run.repo.fetch_url,
        &run.project.branch,
        &mut run.log,
    )
    .map_err(git_stop)?
    .ok_or_else(|| {
        Stop::Fail(
            code::E_SERVER_SCM_NOT_FOUND,
            format!(
                "branch {} does not exist in {}",
                run.project.branch, run.repo.scm_url
            ),
        )
    })
}

/// The baseline of an incremental scan: the revision of the last job whose results were stored.
fn baseline(run: &mut JobRun, fetched: &checkout::Fetched) -> Step<Option<(String, JobId)>> {
    if !run.job.incr_scan {
        return Ok(None);
    }
    match run.store().baseline(run.project.id, run.id())? {
        Some((_, job)) if run.store().job_config(job)?.as_deref() != Some(&run.rules.identity) => {
            // Findings of a rule turned off, or of a file filtered out, in files that did not
            // change would otherwise stay open.
            run.note(format_args!(
                "the scheme's rules or path filters are not those of the baseline (job {job}): full scan"
            ));
            Ok(None)
        }
        Some((base, job)) if fetched.holds(&base) => Ok(Some((base, job))),
        Some((base, _)) => {
            run.note(format_args!(
                "baseline {base} is no longer in the repository: full scan"
            ));
            Ok(None)
        }
        None => Ok(None),
    }
}

/// Lists the revision's files, works out which the tools get and which the scan covers, and
/// checks out what command tools need.
pub fn prepare(run: &mut JobRun, source: &Source, tasks: &[Planned]) -> Step<Files> {
    let scan_path = run.project.scan_path.as_str().to_string();
    let changes = changes_since_baseline(run, source)?;
    let listed = list_tree(run, source, &scan_path, changes.as_deref())?;
    let holds_files = !listed.entries.is_empty();
    let (listed, changes) = filter_paths(run, listed, changes);
    let mut left_out: HashSet<String> = listed
        .over_budget
        .iter()
        .map(|entry| entry.path.to_string())
        .collect();
    let needs_checkout = tasks.iter().any(Planned::needs_checkout);
    let (files, file_count, covered) = match &source.baseline {
        Some((base, _)) => {
            let changes = changes.as_deref().unwrap_or_default();
            changed(run, base, changes, &listed.entries, &mut left_out)
        }
        None => {
            run.note(format_args!("full scan: {} files", listed.entries.len()));
            let all = if needs_checkout {
                listed
                    .entries
                    .iter()
                    .map(|entry| entry.path.to_string())
                    .collect()
            } else {
                Vec::new()
            };
            (all, listed.entries.len(), None)
        }
    };
    let prefix = scan_path.trim_start_matches('/');
    if !checkout::is_directory(&source.cache, &source.revision, prefix).map_err(git_stop)? {
        return Err(not_a_directory(&scan_path, &source.revision));
    }
    if source.baseline.is_none() && scan_path != "/" && !holds_files {
        return Err(Stop::Fail(
            code::E_CLIENT,
            format!(
                "scan_path {scan_path} holds no files at revision {}",
                source.revision
            ),
        ));
    }
    let workspace = Workspace::new(&run.shared.workspace_dir, run.id().0);
    let scan_root = workspace.dir.join(prefix);
    let long_paths = listed.long_paths;
    let mut files = Files {
        listed,
        left_out,
        files,
        file_count,
        covered,
        workspace,
        scan_root,
    };
    if needs_checkout {
        // A tree with files left out is checked out file by file, so they never reach the disk.
        let partial = long_paths > 0 || !files.left_out.is_empty();
        let only_changed =
            source.baseline.is_some() && tasks.iter().all(Planned::changed_files_only);
        check_out(run, source, &mut files, only_changed, partial)?;
    } else {
        fs::create_dir_all(&run.shared.workspace_dir)
            .map_err(|e| Stop::Fail(code::E_SERVER, format!("cannot create the workspace: {e}")))?;
        run.note("no tool needs a checkout");
    }
    let with_newlines = write_file_lists(&files.workspace, &files.files)
        .map_err(|e| Stop::Fail(code::E_SERVER, format!("cannot write the file list: {e}")))?;
    if with_newlines > 0 {
        run.note(format_args!(
            "left {with_newlines} names with a newline out of {{files}} (one path a line); {{files0}} has them"
        ));
    }
    Ok(files)
}

fn not_a_directory(scan_path: &str, revision: &str) -> Stop {
    // Tools run in the scan path: it must be a real directory of the scanned tree, never a
    // symlink (to `/etc`, say) that a later commit put in its place.
    Stop::Fail(
        code::E_CLIENT,
        format!(
            "scan_path {scan_path} is not a directory at revision {revision} (missing, or a file, symlink or submodule)"
        ),
    )
}

/// An incremental scan's files: the changed regular files below the scan path for the tools,
/// their count, and the files it covers (changed, a file that became a symlink too, and
/// deleted).
fn changed(
    run: &mut JobRun,
    base: &str,
    changes: &[Change],
    tree: &[TreeEntry],
    left_out: &mut HashSet<String>,
) -> (Vec<String>, usize, Option<HashSet<String>>) {
    let changed: Vec<String> = changes
        .iter()
        .filter(|change| !change.deleted && !left_out.contains(&change.path))
        .map(|change| change.path.clone())
        .collect();
    let changed = checkout::within_scan_path(changed, run.project.scan_path.as_str());
    // Tools get regular files only, as in a full scan: a symlink may point anywhere.
    let (regular, links) = checkout::regular_files(changed.clone(), tree);
    run.note(format_args!(
        "incremental scan against {base}: {} changed files",
        regular.len()
    ));
    if !links.is_empty() {
        run.note(format_args!(
            "left out {} changed symlinks or submodules: {}",
            links.len(),
            some_of(&links)
        ));
    }
    let deleted = changes
        .iter()
        .filter(|change| change.deleted)
        .map(|change| change.path.clone());
    let count = regular.len();
    (
        regular,
        count,
        Some(changed.into_iter().chain(deleted).collect()),
    )
}

/// Writes the files the tools get into the job's workspace, and keeps only those that are
/// regular files inside the checkout.
fn check_out(
    run: &mut JobRun,
    source: &Source,
    files: &mut Files,
    only_changed: bool,
    partial: bool,
) -> Step<()> {
    let only = (only_changed || partial).then_some(files.files.as_slice());
    let workspace = &files.workspace;
    checkout::checkout(
        &source.cache,
        &source.revision,
        &workspace.dir,
        &workspace.index,
        only,
    )
    .map_err(git_stop)?;
    fs::create_dir_all(&files.scan_root).map_err(|e| {
        Stop::Fail(
            code::E_SERVER,
            format!("cannot create the scan directory: {e}"),
        )
    })?;
    let scan_path = run.project.scan_path.as_str();
    if !checkout::is_real_directory(&workspace.dir, Path::new(scan_path.trim_start_matches('/'))) {
        return Err(not_a_directory(scan_path, &source.revision));
    }
    // Nothing handed to a tool may lead out of the checkout, whatever git wrote.
    let (confined, outside) =
        checkout::confined_files(&workspace.dir, std::mem::take(&mut files.files));
    if !outside.is_empty() {
        run.note(format_args!(
            "left out {} paths that are not regular files inside the checkout: {}",
            outside.len(),
            some_of(&outside)
        ));
    }
    files.files = confined;
    let what = if only_changed {
        "the changed files"
    } else if partial {
        "the files the scan takes"
    } else {
        "the whole tree"
    };
    let line = format!("checked out {what} after {} ms", run.elapsed_ms());
    run.note(line);
    Ok(())
}

/// The revision's files below the scan path that the scan takes, within the server's limits
/// (`checkout::scan_tree`): a listing kept from an earlier scan, one derived from the
/// baseline's kept listing and the `changes` since, or a new one. What it leaves out goes to
/// the job log; a revision with more files than a scan takes fails the job.
fn list_tree(
    run: &mut JobRun,
    source: &Source,
    scan_path: &str,
    changes: Option<&[Change]>,
) -> Step<Arc<checkout::Tree>> {
    let started = std::time::Instant::now();
    let limits = run.shared.limits;
    let prefix = scan_path.trim_start_matches('/');
    let key = |revision: &str| listing_key(run, revision, prefix);
    let listings = &run.shared.listings;
    let derived = match listings.find(&key(&source.revision)) {
        Some(kept) => Some((kept, "kept from an earlier scan")),
        None => derived(run, source, prefix, changes)?
            .map(|tree| (tree, "from the baseline's and the changes")),
    };
    let (tree, how) = match derived {
        Some(found) => found,
        None => {
            let tree = listings
                .get_or_list(key(&source.revision), || {
                    checkout::scan_tree(
                        &source.cache,
                        &source.revision,
                        prefix,
                        limits.max_scan_files,
                        limits.max_scan_bytes,
                    )
                })
                .map_err(|error| tree_stop(error, scan_path))?;
            (tree, "with git ls-tree")
        }
    };
    run.note(format_args!(
        "listed {} files in {} ms ({how})",
        tree.entries.len(),
        started.elapsed().as_millis()
    ));
    note_left_out(run, &tree);
    Ok(tree)
}

/// The listing and changes with only the files the scheme's path filters allow: no tool and no
/// line count sees the others, and a full scan closes their findings.
fn filter_paths(
    run: &mut JobRun,
    listed: Arc<checkout::Tree>,
    changes: Option<Vec<Change>>,
) -> (Arc<checkout::Tree>, Option<Vec<Change>>) {
    let filter = &run.rules.paths;
    if filter.is_empty() {
        return (listed, changes);
    }
    let allowed = |entries: &[TreeEntry]| -> Vec<TreeEntry> {
        entries
            .iter()
            .filter(|entry| filter.allows(&entry.path))
            .cloned()
            .collect()
    };
    let tree = checkout::Tree {
        entries: allowed(&listed.entries),
        long_paths: listed.long_paths,
        long_path_examples: listed.long_path_examples.clone(),
        over_budget: allowed(&listed.over_budget),
        escaped_names: listed.escaped_names,
    };
    let changes = changes.map(|changes| {
        changes
            .into_iter()
            .filter(|change| filter.allows(&change.path))
            .collect()
    });
    let left = listed.entries.len() - tree.entries.len();
    run.note(format_args!(
        "path filters: {} of {} files taken, {left} left out",
        tree.entries.len(),
        listed.entries.len()
    ));
    (Arc::new(tree), changes)
}

/// Which kept listing is the job's repository's `revision` below `prefix`.
fn listing_key(run: &JobRun, revision: &str, prefix: &str) -> ListingKey {
    ListingKey {
        repo: run.repo.id,
        revision: revision.to_string(),
        prefix: prefix.to_string(),
    }
}

/// What changed since the baseline, for an incremental scan.
fn changes_since_baseline(run: &mut JobRun, source: &Source) -> Step<Option<Vec<Change>>> {
    let Some((base, _)) = &source.baseline else {
        return Ok(None);
    };
    let (changes, long) =
        checkout::tree_changes(&source.cache, base, &source.revision).map_err(git_stop)?;
    if long > 0 {
        run.note(format_args!(
            "left out {long} changed paths of {} bytes or longer",
            checkout::MAX_PATH_BYTES
        ));
    }
    Ok(Some(changes))
}

/// The listing of an incremental scan's revision made from the baseline's kept listing and the
/// `changes` since (kept in turn), or `None` when there is no such listing or it cannot be
/// derived.
fn derived(
    run: &JobRun,
    source: &Source,
    prefix: &str,
    changes: Option<&[Change]>,
) -> Step<Option<Arc<checkout::Tree>>> {
    let (Some((base, _)), Some(changes)) = (&source.baseline, changes) else {
        return Ok(None);
    };
    let key = |revision: &str| listing_key(run, revision, prefix);
    let listings = &run.shared.listings;
    let Some(base_tree) = listings.find(&key(base)) else {
        return Ok(None);
    };
    let bounds = Bounds {
        max_files: run.shared.limits.max_scan_files,
        max_bytes: run.shared.limits.max_scan_bytes,
    };
    let tree = listings::derive(&base_tree, changes, prefix, bounds, |blobs| {
        checkout::blob_sizes(&source.cache, blobs)
    })
    .map_err(git_stop)?;
    Ok(tree.map(|tree| {
        let tree = Arc::new(tree);
        listings.keep(key(&source.revision), tree.clone());
        tree
    }))
}

/// What the listing left out, for the job log.
fn note_left_out(run: &mut JobRun, tree: &checkout::Tree) {
    if tree.long_paths > 0 {
        let mut named = tree.long_path_examples.join(", ");
        if tree.long_paths > tree.long_path_examples.len() {
            named.push_str(&format!(
                " and {} more",
                tree.long_paths - tree.long_path_examples.len()
            ));
        }
        run.note(format_args!(
            "left out {} whose path is {} bytes or longer: {named}",
            files_count(tree.long_paths),
            checkout::MAX_PATH_BYTES
        ));
    }
    if tree.escaped_names > 0 {
        run.note(format_args!(
            "{} with a name that is not UTF-8: counted and checked under the escaped name (U+FFFD and the byte in hex); tools get the name as it is",
            files_count(tree.escaped_names)
        ));
    }
    if !tree.over_budget.is_empty() {
        let named: Vec<String> = tree
            .over_budget
            .iter()
            .map(|entry| format!("{} ({})", entry.path, format_size(entry.size)))
            .collect();
        run.note(format_args!(
            "left out {} to keep the scan within {} of files (--max-scan-bytes), largest \
             first: {}",
            files_count(named.len()),
            format_size(run.shared.limits.max_scan_bytes),
            name_some(&named, 5)
        ));
    }
}

fn tree_stop(error: checkout::TreeError, scan_path: &str) -> Stop {
    match error {
        checkout::TreeError::Git(error) => git_stop(error),
        checkout::TreeError::TooManyFiles { limit } => Stop::Fail(
            code::E_CLIENT,
            format!(
                "the revision holds more than {limit} files below {scan_path}, more than one \
                 scan takes on this server (--max-scan-files): scan a directory of it \
                 (scan_path), or ask the admin to raise the limit"
            ),
        ),
        checkout::TreeError::PathsTooLong => Stop::Fail(
            code::E_CLIENT,
            format!(
                "the paths of the revision's files below {scan_path} add up to more than {}, \
                 more than one scan takes: scan a directory of it (scan_path)",
                format_size(checkout::MAX_PATH_LIST_BYTES)
            ),
        ),
    }
}

/// Writes the tools' file lists: `{files}`, one path a line, without the names that hold a
/// newline (they would read as two paths), and `{files0}`, NUL-separated, with every name.
/// Returns how many names the first list left out.
fn write_file_lists(workspace: &Workspace, files: &[String]) -> std::io::Result<usize> {
    let mut lines = std::io::BufWriter::new(File::create(&workspace.file_list)?);
    let mut nul = std::io::BufWriter::new(File::create(&workspace.file_list0)?);
    let mut left_out = 0;
    for file in files {
        // The names as they are on disk (a name that is not UTF-8 is escaped in the scan).
        let name = checkout::raw_name(file);
        nul.write_all(&name)?;
        nul.write_all(b"\0")?;
        if name.contains(&b'\n') {
            left_out += 1;
            continue;
        }
        lines.write_all(&name)?;
        lines.write_all(b"\n")?;
    }
    lines.flush()?;
    nul.flush()?;
    Ok(left_out)
}
