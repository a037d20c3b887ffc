//! The result cache of the in-process per-file analyzers (line counting, the built-in checker):
//! one cache keyed by analyzer and version, path and blob id, shared by the projects of a
//! repository. A scan looks up what the cache knows of its tree (`lookup`), reads only the
//! other files from git on several readers at once (`read_parallel`), and stores what it learnt
//! with the job's results (`CacheUpdate`).

use std::ops::Range;
use std::path::Path;

use crate::db::results::{self, Scope};
use crate::domain::finding::{Author, Finding, Severity};
use crate::git::GitError;
use crate::scan::checkout::{self, Blob, TreeEntry};
use crate::scan::job_store::JobStore;

/// What a scan changes in the result cache and in the project's references to it.
pub struct CacheUpdate<'t> {
    pub scope: Scope<'t>,
    /// References that go: the path is gone from the tree or now holds another blob.
    pub removed: Vec<String>,
    /// Files whose result another project already stored, with that result: only a reference
    /// is added.
    pub shared: Vec<(&'t TreeEntry, String)>,
    /// Files read and analysed anew, with their result.
    pub fresh: Vec<(&'t TreeEntry, Fresh)>,
    /// A rule's own severity, by rule id: findings are cached with it, whatever severity the
    /// scheme gave them (other schemes share the cache).
    pub default_severity: Option<fn(&str) -> Option<Severity>>,
}

/// A result to store.
pub enum Fresh {
    /// Encoded already.
    Text(String),
    /// Findings the job holds anyway (`Results::findings[range]`), encoded one file at a time
    /// when stored, so a scan never holds its findings twice.
    Findings(Range<usize>),
}

impl CacheUpdate<'_> {
    /// Writes the update (inside the job's close transaction); `findings` are the job's, which
    /// `Fresh::Findings` ranges point into.
    pub fn apply(
        &self,
        conn: &rusqlite::Connection,
        findings: &[(Finding, String, Option<Author>)],
    ) -> rusqlite::Result<()> {
        results::forget(conn, self.scope, self.removed.iter().map(String::as_str))?;
        results::forget_other_variants(conn, self.scope)?;
        for (entry, result) in &self.shared {
            let blob = entry.blob.to_string();
            results::refer(conn, self.scope, &entry.path, &blob, result, false)?;
        }
        for (entry, result) in &self.fresh {
            let blob = entry.blob.to_string();
            let encoded;
            let text = match result {
                Fresh::Text(text) => text.as_str(),
                Fresh::Findings(range) => {
                    let found = findings.get(range.clone()).unwrap_or(&[]);
                    encoded = encode_findings(found, self.default_severity);
                    encoded.as_str()
                }
            };
            results::refer(conn, self.scope, &entry.path, &blob, text, true)?;
        }
        Ok(())
    }

    /// Moves the `Fresh::Findings` ranges `by` places: the findings went `by` places further
    /// into the job's list.
    pub fn shift(&mut self, by: usize) {
        for (_, result) in &mut self.fresh {
            if let Fresh::Findings(range) = result {
                *range = range.start + by..range.end + by;
            }
        }
    }
}

/// Findings with their fingerprints as the cache keeps them: JSON `[[finding, fingerprint], ...]`,
/// each with its rule's `default_severity` when there is one.
pub fn encode_findings(
    findings: &[(Finding, String, Option<Author>)],
    default_severity: Option<fn(&str) -> Option<Severity>>,
) -> String {
    let pairs: Vec<(std::borrow::Cow<'_, Finding>, &String)> = findings
        .iter()
        .map(|(finding, fingerprint, _)| {
            let own = default_severity.and_then(|of| of(&finding.rule));
            let finding = match own {
                Some(severity) if severity != finding.severity => {
                    std::borrow::Cow::Owned(Finding {
                        severity,
                        ..finding.clone()
                    })
                }
                _ => std::borrow::Cow::Borrowed(finding),
            };
            (finding, fingerprint)
        })
        .collect();
    serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".to_string())
}

/// What the cache knows of a tree.
pub struct Lookup<'t> {
    /// Wanted files the cache holds no result for, in tree order: to read.
    pub misses: Vec<&'t TreeEntry>,
    /// How many wanted files had a result.
    pub hits: usize,
    pub update: CacheUpdate<'t>,
}

/// Looks up the cached results of the `wanted` files of `tree` (sorted by path, as git lists
/// it): first the project's own references, then the repository's cache for the rest. `hit`
/// gets every file with a result and the result's text, and says whether it could use it (a
/// result it cannot read makes the file a miss). References to paths gone from the tree, or to
/// another blob, are marked for removal.
pub fn lookup<'t>(
    store: &dyn JobStore,
    scope: Scope<'t>,
    tree: &'t [TreeEntry],
    wanted: impl Fn(&TreeEntry) -> bool,
    mut hit: impl FnMut(&'t TreeEntry, &str) -> bool,
) -> anyhow::Result<Lookup<'t>> {
    // Which files of the tree the project's references settled, by place in the tree.
    let mut settled = vec![false; tree.len()];
    let mut removed = Vec::new();
    let mut hits = 0;
    store.cached_results(
        scope,
        &mut |path, blob, result| match position(tree, path) {
            Some(at) if tree[at].blob.is(blob) => {
                if wanted(&tree[at]) && hit(&tree[at], result) {
                    hits += 1;
                    settled[at] = true;
                }
            }
            _ => removed.push(path.to_string()),
        },
    )?;
    let unsettled: Vec<&TreeEntry> = tree
        .iter()
        .zip(&settled)
        .filter(|(entry, settled)| !**settled && wanted(entry))
        .map(|(entry, _)| entry)
        .collect();
    let mut found = vec![false; unsettled.len()];
    let mut shared = Vec::new();
    store.shared_results(scope, &unsettled, &mut |index, result| {
        if hit(unsettled[index], result) {
            found[index] = true;
            shared.push((unsettled[index], result.to_string()));
        }
    })?;
    hits += shared.len();
    let misses = unsettled
        .into_iter()
        .zip(found)
        .filter(|(_, found)| !found)
        .map(|(entry, _)| entry)
        .collect();
    Ok(Lookup {
        misses,
        hits,
        update: CacheUpdate {
            scope,
            removed,
            shared,
            fresh: Vec::new(),
            default_severity: None,
        },
    })
}

/// Where `path` is in `tree`, which is sorted by path bytes (git lists a tree in that order).
pub fn position(tree: &[TreeEntry], path: &str) -> Option<usize> {
    tree.binary_search_by(|entry| (*entry.path).cmp(path)).ok()
}

/// Below this many bytes to read, one reader is as fast as several.
const PARALLEL_FROM_BYTES: u64 = 4 << 20;

/// The most `git cat-file` readers one scan starts.
const MAX_READERS: usize = 4;

/// Reads `entries` from the repository `cache` and calls `each` on every blob, on as many
/// threads as the machine has cores (up to `MAX_READERS`), each with its own `git cat-file
/// --batch`: inflating objects is the floor of a cold scan, and it then runs on every core.
/// Returns what `each` made of each entry, in the order of `entries`.
pub fn read_parallel<'t, R: Send>(
    cache: &Path,
    entries: &[&'t TreeEntry],
    each: impl Fn(&'t TreeEntry, &mut Blob<'_>) -> Option<R> + Sync,
) -> Result<Vec<(&'t TreeEntry, R)>, GitError> {
    let total: u64 = entries.iter().map(|entry| entry.size).sum();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let readers = if total < PARALLEL_FROM_BYTES {
        1
    } else {
        cores.clamp(1, MAX_READERS)
    };
    let slices = split_by_size(entries, readers);
    let each = &each;
    let parts: Vec<Result<Vec<(&'t TreeEntry, R)>, GitError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = slices
            .into_iter()
            .map(|slice| {
                scope.spawn(move || {
                    let mut out = Vec::with_capacity(slice.len());
                    checkout::read_blobs(cache, slice, |entry, blob| {
                        if let Some(result) = each(entry, blob) {
                            out.push((entry, result));
                        }
                    })?;
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| Err(GitError::Other("a blob reader panicked".into())))
            })
            .collect()
    });
    let mut all = Vec::with_capacity(entries.len());
    for part in parts {
        all.extend(part?);
    }
    Ok(all)
}

/// `entries` cut into at most `parts` consecutive slices of about the same number of bytes.
fn split_by_size<'a, 't>(entries: &'a [&'t TreeEntry], parts: usize) -> Vec<&'a [&'t TreeEntry]> {
    let total: u64 = entries.iter().map(|entry| entry.size.max(1)).sum();
    let share = total.div_ceil(parts.max(1) as u64);
    let mut slices = Vec::with_capacity(parts);
    let (mut start, mut bytes) = (0, 0u64);
    for (index, entry) in entries.iter().enumerate() {
        bytes += entry.size.max(1);
        if bytes >= share && slices.len() + 1 < parts {
            slices.push(&entries[start..=index]);
            start = index + 1;
            bytes = 0;
        }
    }
    if start < entries.len() {
        slices.push(&entries[start..]);
    }
    slices
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::checkout::Oid;

    fn entry(path: &str, size: u64) -> TreeEntry {
        TreeEntry {
            path: path.into(),
            blob: Oid::from_hex("0123456789abcdef0123456789abcdef01234567").unwrap(),
            size,
        }
    }

    #[test]
    fn slices_cover_every_entry_once_in_order_with_similar_sizes() {
        let tree: Vec<TreeEntry> = (0..10).map(|n| entry(&format!("f{n}"), 100)).collect();
        let refs: Vec<&TreeEntry> = tree.iter().collect();
        for parts in 1..=4 {
            let slices = split_by_size(&refs, parts);
            assert!(slices.len() <= parts);
            let joined: Vec<&str> = slices
                .iter()
                .flat_map(|s| s.iter().map(|e| &*e.path))
                .collect();
            let expected: Vec<&str> = tree.iter().map(|e| &*e.path).collect();
            assert_eq!(joined, expected, "{parts} parts");
        }
        let two = split_by_size(&refs, 2);
        assert_eq!((two[0].len(), two[1].len()), (5, 5));
        assert!(split_by_size(&[], 3).is_empty());
    }
}
