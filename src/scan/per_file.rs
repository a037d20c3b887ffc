//! The result cache of the in-process per-file analyzers (line counting, the built-in checker):
//! one cache keyed by analyzer and version, path and blob id, shared by the projects of a
//! repository. A scan looks up what the cache knows of its tree (`lookup`), reads only the
//! other files from git on several readers at once (`read_parallel`), and stores what it learnt
//! with the job's results (`CacheUpdate`).

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use crate::db::results::{self, Scope};
use crate::domain::finding::{Author, Finding, Severity};
use crate::git::GitError;
use crate::scan::checkout::{self, Blob, Oid, TreeEntry};
use crate::scan::job_store::JobStore;
use crate::scan::objects::Objects;

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

/// Entries that hold the same blob, read once (`read_parallel` over `unique`) for all of them.
pub struct Twins<'t> {
    /// Each blob's first entry, in the order of the entries given.
    pub unique: Vec<&'t TreeEntry>,
    /// By shared blob: its first entry and the other entries that hold it.
    shared: HashMap<Oid, (&'t TreeEntry, Vec<&'t TreeEntry>)>,
}

impl<'t> Twins<'t> {
    /// Groups `entries` by blob; only those `shareable` accepts are grouped (a blob streamed
    /// rather than held whole can be read only once).
    pub fn of(entries: &[&'t TreeEntry], shareable: impl Fn(&TreeEntry) -> bool) -> Twins<'t> {
        let mut twins = Twins {
            unique: Vec::with_capacity(entries.len()),
            shared: HashMap::new(),
        };
        for &entry in entries {
            if !shareable(entry) {
                twins.unique.push(entry);
                continue;
            }
            match twins.shared.entry(entry.blob) {
                std::collections::hash_map::Entry::Occupied(mut first) => {
                    first.get_mut().1.push(entry)
                }
                std::collections::hash_map::Entry::Vacant(vacant) => {
                    vacant.insert((entry, Vec::new()));
                    twins.unique.push(entry);
                }
            }
        }
        twins
    }

    /// `entry` and, when it is the first of a shared blob, the other entries that hold it.
    pub fn with(&self, entry: &'t TreeEntry) -> Vec<&'t TreeEntry> {
        let others = match self.shared.get(&entry.blob) {
            Some((first, others)) if std::ptr::eq(*first, entry) => others.as_slice(),
            _ => &[],
        };
        std::iter::once(entry)
            .chain(others.iter().copied())
            .collect()
    }
}

/// The most threads that read and parse blobs, whatever the number of cores.
const MAX_READERS: usize = 4;

/// The blob readers: one rayon pool for the server, with a thread per core (up to
/// `MAX_READERS`), built on first use.
///
/// tokei parses a file with `rayon::join`, which on a thread outside any pool hands the work to
/// rayon's global pool and sleeps until it is done, a round trip through the scheduler for every
/// file; on a worker of this pool it runs in place, and what one worker splits off the others
/// steal. Jobs reading at once share the pool as they would share the cores.
fn readers() -> Result<&'static rayon::ThreadPool, GitError> {
    static READERS: std::sync::OnceLock<Result<rayon::ThreadPool, String>> =
        std::sync::OnceLock::new();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    READERS
        .get_or_init(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(cores.clamp(1, MAX_READERS))
                .thread_name(|n| format!("blob-reader-{n}"))
                .build()
                .map_err(|error| error.to_string())
        })
        .as_ref()
        .map_err(|error| GitError::Other(format!("cannot start the blob readers: {error}")))
}

/// Entries with their place in the list given to `read_parallel`.
type Placed<'t> = Vec<(usize, &'t TreeEntry)>;

/// Reads `entries` from the repository `cache` and calls `each` on every blob, on the blob
/// readers (`readers`): blobs of at most `whole_up_to` bytes are inflated in-process, on every
/// reader at once, and handed over whole; larger ones (and those of a SHA-256 cache) are
/// streamed from one `git cat-file --batch` meanwhile, so no reader holds more than
/// `whole_up_to` bytes of a blob. Returns what `each` made of each entry, in the order of
/// `entries`.
pub fn read_parallel<'t, R: Send>(
    cache: &Path,
    entries: &[&'t TreeEntry],
    whole_up_to: u64,
    each: impl Fn(&'t TreeEntry, &mut Blob<'_>) -> Option<R> + Sync,
) -> Result<Vec<(&'t TreeEntry, R)>, GitError> {
    use rayon::prelude::*;
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    let (whole, streamed): (Placed<'t>, Placed<'t>) = entries
        .iter()
        .copied()
        .enumerate()
        .partition(|(_, entry)| entry.size <= whole_up_to && Objects::takes(&entry.blob));
    let objects = Objects::open(cache)?;
    let read_whole = || {
        whole
            .par_iter()
            .map_init(
                || objects.reader(),
                |reader, &(at, entry)| {
                    let mut blob = Blob::whole(reader.blob(&entry.blob)?);
                    Ok(each(entry, &mut blob).map(|made| (at, entry, made)))
                },
            )
            .filter_map(Result::transpose)
            .collect::<Result<Vec<_>, GitError>>()
    };
    let read_streamed = || {
        let mut out = Vec::new();
        let list: Vec<&'t TreeEntry> = streamed.iter().map(|(_, entry)| *entry).collect();
        let mut places = streamed.iter().map(|(at, _)| *at);
        checkout::read_blobs(cache, &list, |entry, blob| {
            let at = places.next().unwrap_or_default();
            if let Some(made) = each(entry, blob) {
                out.push((at, entry, made));
            }
        })?;
        Ok::<_, GitError>(out)
    };
    let (whole, streamed) = readers()?.install(|| rayon::join(read_whole, read_streamed));
    let mut all = whole?;
    all.extend(streamed?);
    all.sort_unstable_by_key(|(at, _, _)| *at);
    Ok(all
        .into_iter()
        .map(|(_, entry, made)| (entry, made))
        .collect())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn entry(path: &str, size: u64) -> TreeEntry {
        TreeEntry {
            path: path.into(),
            blob: Oid::from_hex("0123456789abcdef0123456789abcdef01234567").unwrap(),
            size,
        }
    }

    /// Records which threads `each` runs on. The first call on a reader waits (up to ten minutes,
    /// a guard against a hang, never reached when readers run side by side) until a call runs
    /// on another thread, so a pool of several readers that read one blob at a time fails.
    struct Threads {
        seen: std::sync::Mutex<HashSet<String>>,
        grew: std::sync::Condvar,
        want: usize,
    }

    impl Threads {
        fn enter(&self) -> String {
            let name = std::thread::current().name().unwrap_or("").to_string();
            let mut seen = self.seen.lock().unwrap();
            seen.insert(name.clone());
            self.grew.notify_all();
            let wait = std::time::Duration::from_secs(600);
            let _ = self
                .grew
                .wait_timeout_while(seen, wait, |seen| seen.len() < self.want);
            name
        }
    }

    #[test]
    fn every_core_reads_and_each_blob_comes_back_in_order_counted_as_alone() {
        use crate::analyzers::codecount;
        // Code with strings and comments, so tokei parses with `rayon::join`; of many sizes, so
        // a limit between them sends some blobs through `git cat-file`.
        let files: Vec<(String, Vec<u8>)> = (0..48)
            .map(|n| {
                let text: String = (0..200 + 40 * n)
                    .map(|line| {
                        format!("fn f{n}_{line}() {{ let s = \"/* {line} */\"; }} // c\n\n")
                    })
                    .collect();
                (format!("src/{n:02}.rs"), text.into_bytes())
            })
            .collect();
        let borrowed: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(path, bytes)| (path.as_str(), bytes.as_slice()))
            .collect();
        let (_dir, git_dir, head) = checkout::tests::repo(&borrowed);
        let tree = checkout::scan_tree(&git_dir, &head, "", 1000, u64::MAX).unwrap();
        let entries: Vec<&TreeEntry> = tree.entries.iter().collect();
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let pool = cores.clamp(1, MAX_READERS);
        let middle = files[24].1.len() as u64;
        for whole_up_to in [u64::MAX, middle, 0] {
            // All in `git cat-file` is one stream, read on one reader.
            let wanted = if whole_up_to == 0 { 1 } else { pool.min(2) };
            let threads = Threads {
                seen: Default::default(),
                grew: Default::default(),
                want: wanted,
            };
            let read = read_parallel(&git_dir, &entries, whole_up_to, |entry, blob| {
                let reader = threads.enter();
                let bytes = blob.read_all().ok()?;
                Some((reader, codecount::count_blob(&entry.path, &bytes)))
            })
            .unwrap();
            let paths: Vec<&str> = read.iter().map(|(entry, _)| &*entry.path).collect();
            let expected: Vec<&str> = files.iter().map(|(path, _)| path.as_str()).collect();
            assert_eq!(paths, expected, "{whole_up_to}");
            for ((_, (reader, counted)), (path, bytes)) in read.iter().zip(&files) {
                assert_eq!(*counted, codecount::count_blob(path, bytes), "{path}");
                assert!(reader.starts_with("blob-reader-"), "{path} on {reader}");
            }
            let readers: HashSet<&str> = read.iter().map(|(_, (reader, _))| &**reader).collect();
            assert!(
                (wanted..=pool).contains(&readers.len()),
                "{whole_up_to}: {readers:?}"
            );
        }
    }

    #[test]
    fn a_blob_at_several_paths_is_read_once_for_all_of_them() {
        let other = |path: &str| TreeEntry {
            blob: Oid::from_hex("89abcdef0123456789abcdef0123456789abcdef").unwrap(),
            ..entry(path, 100)
        };
        let tree = [
            entry("a", 10),
            other("b"),
            entry("c", 10),
            entry("d", 10),
            other("e"),
        ];
        let refs: Vec<&TreeEntry> = tree.iter().collect();
        let twins = Twins::of(&refs, |entry| entry.path.as_ref() != "d");
        let paths = |entries: &[&TreeEntry]| -> Vec<String> {
            entries.iter().map(|entry| entry.path.to_string()).collect()
        };
        assert_eq!(paths(&twins.unique), ["a", "b", "d"]);
        assert_eq!(paths(&twins.with(twins.unique[0])), ["a", "c"]);
        assert_eq!(paths(&twins.with(twins.unique[1])), ["b", "e"]);
        assert_eq!(paths(&twins.with(twins.unique[2])), ["d"]);
    }
}
