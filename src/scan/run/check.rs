//! The built-in checker's task (`codepup`): the revision's files below the scan path (or only
//! the changed files of an incremental scan), read from git through the result cache. A file
//! whose path and blob the cache knows keeps that result; other files are read whole up to the
//! checker's own `file-too-large` limit, only their first bytes (to tell binary from text) up
//! to `--max-check-file-size`, and not at all beyond, where the size alone makes the
//! `file-too-large` finding. Each finding comes with its fingerprint, from the file's own lines.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::analyzers::builtin;
use crate::config::format_size;
use crate::db::results::{self, Scope};
use crate::domain::finding::{self, Finding};
use crate::scan::checkout::{Blob, TreeEntry};
use crate::scan::per_file::{self, CacheUpdate, Fresh};
use crate::scan::run::notes::LeftOut;
use crate::scan::run::{git_stop, JobRun, Step};

/// The cache's name for the checker's results; bumped whenever its rules or settings change,
/// so results of an older checker are never reused. Each set of rules a scheme runs is a
/// variant of it (`cache_key`): results found with other rules are never reused.
pub const ANALYZER: &str = "codepup@2";

/// The cache's name for the checker's results with `rules`: `codepup@2+<rules in hex>`. There
/// are at most 2^9 of them, each made once.
fn cache_key(rules: builtin::RuleSet) -> &'static str {
    static KEYS: OnceLock<Mutex<HashMap<u16, &'static str>>> = OnceLock::new();
    let mut keys = KEYS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    keys.entry(rules.bits()).or_insert_with(|| {
        Box::leak(format!("{ANALYZER}{}{:04x}", results::VARIANT, rules.bits()).into_boxed_str())
    })
}

/// The most findings the checker keeps in one scan. Past it, the findings of further files are
/// dropped and those files are left out of the scan's coverage (their open findings stay
/// open), so a repository made to hold millions of flaws costs a bounded amount of memory.
/// Which files are dropped at the limit depends on which reader gets there first.
const MAX_CHECKER_FINDINGS: usize = 50_000;

/// A finished check.
pub struct Checked<'t> {
    pub found: Vec<(Finding, String)>,
    /// Its `Fresh::Findings` ranges point into `found`.
    pub update: CacheUpdate<'t>,
    /// Files whose findings the checker did not all report (skipped, or past a findings
    /// limit): the scan does not count as having looked at them.
    pub unchecked: Vec<String>,
    pub left_out: LeftOut,
}

/// What became of the files the checker did not report in full.
#[derive(Default)]
struct Shortfall {
    /// Too large to read: `file-too-large` from the size alone.
    unread: Vec<String>,
    /// Too large to read and below the checker's own limit: not checked.
    skipped: Vec<String>,
    /// More findings than a file may have.
    capped: Vec<String>,
    /// Past the scan's findings limit.
    unreported: Vec<String>,
}

/// One file read by the checker: its findings and how many it dropped over the per-file cap,
/// or nothing for want of room in the scan.
enum FileCheck {
    Found(Vec<(Finding, String)>, usize),
    NoRoom,
}

/// Runs the checker's `rules` over `tree` (or only the `only` files of it).
pub fn check<'t>(
    run: &JobRun,
    cache: &Path,
    tree: &'t [TreeEntry],
    only: Option<&[String]>,
    rules: builtin::RuleSet,
) -> Step<Checked<'t>> {
    let config = builtin::Config {
        rules,
        ..builtin::Config::default()
    };
    let max_read = run.shared.limits.max_check_file_size;
    let only: Option<HashSet<&str>> = only.map(|files| files.iter().map(String::as_str).collect());
    let in_scope = |entry: &TreeEntry| only.as_ref().is_none_or(|only| only.contains(&*entry.path));
    let scope = Scope {
        repo_id: run.repo.id,
        project_id: run.project.id,
        analyzer: cache_key(rules),
    };
    let mut found: Vec<(Finding, String)> = Vec::new();
    let mut short = Shortfall::default();
    let wanted = |entry: &TreeEntry| in_scope(entry) && entry.size <= max_read;
    let lookup = per_file::lookup(run.store(), scope, tree, wanted, |entry, json| {
        keep_cached(entry, json, &config, &mut found, &mut short)
    })?;
    for entry in tree
        .iter()
        .filter(|entry| in_scope(entry) && entry.size > max_read)
    {
        too_large_to_read(entry, &config, &mut found, &mut short);
    }
    let budget = AtomicUsize::new(found.len());
    let read = per_file::read_parallel(cache, &lookup.misses, max_read, |entry, blob| {
        check_blob(entry, blob, &config, &budget)
    })
    .map_err(git_stop)?;
    let mut update = lookup.update;
    update.default_severity = Some(builtin::default_severity);
    for (entry, file) in read {
        let FileCheck::Found(file_found, dropped) = file else {
            // Not cached either: a later scan with room for them reads the file again.
            short.unreported.push(entry.path.to_string());
            continue;
        };
        if dropped > 0 {
            short.capped.push(entry.path.to_string());
        }
        let start = found.len();
        found.extend(file_found);
        update
            .fresh
            .push((entry, Fresh::Findings(start..found.len())));
    }
    let (left_out, unchecked) = short.describe(&config, max_read);
    Ok(Checked {
        found,
        update,
        unchecked,
        left_out,
    })
}

/// Takes a file's cached findings while the scan has room for them; `false` when they cannot
/// be read back (the file is then read again).
fn keep_cached(
    entry: &TreeEntry,
    json: &str,
    config: &builtin::Config,
    found: &mut Vec<(Finding, String)>,
    short: &mut Shortfall,
) -> bool {
    if json == "[]" {
        return true;
    }
    if found.len() >= MAX_CHECKER_FINDINGS {
        short.unreported.push(entry.path.to_string());
        return true;
    }
    let Ok(file_found) = serde_json::from_str::<Vec<(Finding, String)>>(json) else {
        return false;
    };
    if found.len() + file_found.len() > MAX_CHECKER_FINDINGS {
        short.unreported.push(entry.path.to_string());
    } else {
        if file_found.len() >= config.max_findings_per_file {
            short.capped.push(entry.path.to_string());
        }
        found.extend(file_found);
    }
    true
}

/// A file over the read limit: its size alone decides, and nothing is cached.
fn too_large_to_read(
    entry: &TreeEntry,
    config: &builtin::Config,
    found: &mut Vec<(Finding, String)>,
    short: &mut Shortfall,
) {
    if entry.size <= config.max_file_bytes {
        short.skipped.push(entry.path.to_string());
    } else if found.len() >= MAX_CHECKER_FINDINGS {
        short.unreported.push(entry.path.to_string());
    } else if let Some(finding) = builtin::too_large(&entry.path, entry.size, config) {
        let fingerprint = finding::fingerprints(std::slice::from_ref(&finding), |_, _| None);
        found.extend(std::iter::once(finding).zip(fingerprint));
        short.unread.push(entry.path.to_string());
    }
}

/// Checks one blob (on a reader thread), taking room for its findings from `budget`; `None`
/// when git's answer could not be read.
fn check_blob(
    entry: &TreeEntry,
    blob: &mut Blob<'_>,
    config: &builtin::Config,
    budget: &AtomicUsize,
) -> Option<FileCheck> {
    let size = blob.size();
    let (file_found, dropped) = if size <= config.max_file_bytes {
        let bytes = blob.read_all().ok()?;
        let file = builtin::check_bounded(&entry.path, &bytes, config);
        let fingerprints = fingerprints_from(&file.findings, &bytes);
        (
            file.findings.into_iter().zip(fingerprints).collect(),
            file.dropped,
        )
    } else {
        // Only `file-too-large` or nothing: the first bytes tell which.
        let mut head = Vec::with_capacity(builtin::SNIFF_BYTES);
        blob.take(builtin::SNIFF_BYTES as u64)
            .read_to_end(&mut head)
            .ok()?;
        let findings: Vec<Finding> = if builtin::is_binary(&head) {
            Vec::new()
        } else {
            builtin::too_large(&entry.path, size, config)
                .into_iter()
                .collect()
        };
        let fingerprints = finding::fingerprints(&findings, |_, _| None);
        (
            findings.into_iter().zip(fingerprints).collect::<Vec<_>>(),
            0,
        )
    };
    let n = file_found.len();
    if n > 0 && budget.fetch_add(n, Ordering::SeqCst) + n > MAX_CHECKER_FINDINGS {
        budget.fetch_sub(n, Ordering::SeqCst);
        return Some(FileCheck::NoRoom);
    }
    Some(FileCheck::Found(file_found, dropped))
}

impl Shortfall {
    /// The task's notes, and the files the scan does not count as checked.
    fn describe(self, config: &builtin::Config, max_read: u64) -> (LeftOut, Vec<String>) {
        let read_limit = format_size(max_read);
        let mut left_out = LeftOut::default();
        left_out.add(
            &format!("did not read {{}} over {read_limit} (file-too-large from the size alone)"),
            self.unread,
        );
        left_out.add(
            &format!("skipped {{}} over {read_limit} (not checked)"),
            self.skipped.clone(),
        );
        left_out.add(
            &format!(
                "kept the first {} findings of {{}} with more",
                config.max_findings_per_file
            ),
            self.capped.clone(),
        );
        left_out.add(
            &format!("reported nothing for {{}} past the scan's {MAX_CHECKER_FINDINGS} findings"),
            self.unreported.clone(),
        );
        let unchecked = self
            .skipped
            .into_iter()
            .chain(self.capped)
            .chain(self.unreported)
            .collect();
        (left_out, unchecked)
    }
}

/// The fingerprints of one file's findings, from the file's bytes. Only the flagged lines are
/// turned into text.
fn fingerprints_from(findings: &[Finding], bytes: &[u8]) -> Vec<String> {
    let wanted: HashSet<u32> = findings.iter().map(|finding| finding.line).collect();
    let mut lines: HashMap<u32, String> = HashMap::new();
    if wanted.iter().any(|line| *line > 0) {
        for (index, text) in bytes.split(|b| *b == b'\n').enumerate() {
            let line = u32::try_from(index + 1).unwrap_or(u32::MAX);
            if wanted.contains(&line) {
                lines.insert(line, String::from_utf8_lossy(text).into_owned());
            }
        }
    }
    finding::fingerprints(findings, |_, line| lines.get(&line).cloned())
}
