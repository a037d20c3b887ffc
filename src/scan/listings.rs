//! The last few tree listings the engine made, kept in memory: a commit's tree never changes,
//! so a repeat scan at the same head, or another project on the same branch, skips `git
//! ls-tree` (which reads every blob's size) and lists nothing. Small listings only, so the
//! memory this holds stays bounded.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use std::collections::HashSet;

use crate::domain::ids::RepoId;
use crate::git::GitError;
use crate::scan::checkout::{Change, Oid, Tree, TreeEntry, TreeError, MAX_PATH_LIST_BYTES};

/// How many listings are kept.
const KEPT: usize = 4;

/// Listings of more files than this are not kept (about 14 MB each at most).
const MOST_FILES: usize = 100_000;

/// Which listing: a repository's commit, below a path (the scan limits are the server's own
/// and do not change while it runs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingKey {
    pub repo: RepoId,
    pub revision: String,
    pub prefix: String,
}

#[derive(Default)]
pub struct Listings {
    recent: Mutex<VecDeque<(ListingKey, Arc<Tree>)>>,
}

impl Listings {
    /// The listing of `key`, made with `list` unless it is kept.
    pub fn get_or_list(
        &self,
        key: ListingKey,
        list: impl FnOnce() -> Result<Tree, TreeError>,
    ) -> Result<Arc<Tree>, TreeError> {
        if let Some(tree) = self.find(&key) {
            return Ok(tree);
        }
        let tree = Arc::new(list()?);
        self.keep(key, tree.clone());
        Ok(tree)
    }

    /// Keeps `tree` as the listing of `key`, unless it is too large to keep.
    pub fn keep(&self, key: ListingKey, tree: Arc<Tree>) {
        if tree.entries.len() <= MOST_FILES {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            recent.retain(|(kept, _)| *kept != key);
            if recent.len() == KEPT {
                recent.pop_back();
            }
            recent.push_front((key, tree));
        }
    }

    /// The kept listing of `key`, if any.
    pub fn find(&self, key: &ListingKey) -> Option<Arc<Tree>> {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let at = recent.iter().position(|(kept, _)| kept == key)?;
        let found = recent.remove(at)?;
        let tree = found.1.clone();
        recent.push_front(found);
        Some(tree)
    }
}

/// Limits a derived listing must keep, as `checkout::scan_tree` does.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub max_files: usize,
    pub max_bytes: u64,
}

/// The listing at a newer commit, made from the listing at an older one and the paths that
/// differ between them (`checkout::tree_changes`), so an incremental scan reads the sizes of its
/// changed files only instead of listing the whole tree. `sizes` gives the sizes of new blobs.
/// `None` when the result could differ from a listing made from scratch in what it leaves out
/// (the older listing or a change has a long or escaped path, or the new tree would pass a
/// limit): the caller then lists the tree itself.
pub fn derive(
    base: &Tree,
    changes: &[Change],
    prefix: &str,
    bounds: Bounds,
    sizes: impl FnOnce(&[Oid]) -> Result<Vec<u64>, GitError>,
) -> Result<Option<Tree>, GitError> {
    let plain = |path: &str| !path.contains('\u{FFFD}');
    if base.long_paths > 0 || base.escaped_names > 0 || !base.over_budget.is_empty() {
        return Ok(None);
    }
    let dir = format!("{prefix}/");
    let within = |path: &str| prefix.is_empty() || path.starts_with(&dir);
    let changes: Vec<&Change> = changes.iter().filter(|c| within(&c.path)).collect();
    if !changes.iter().all(|change| plain(&change.path)) {
        return Ok(None);
    }
    let touched: HashSet<&str> = changes.iter().map(|change| change.path.as_str()).collect();
    let added: Vec<(&Change, Oid)> = changes
        .iter()
        .filter(|change| change.is_regular_file())
        .filter_map(|change| Some((*change, change.object?)))
        .collect();
    let blobs: Vec<Oid> = added.iter().map(|(_, blob)| *blob).collect();
    let sizes = sizes(&blobs)?;
    let mut entries: Vec<TreeEntry> = base
        .entries
        .iter()
        .filter(|entry| !touched.contains(&*entry.path))
        .cloned()
        .collect();
    entries.extend(
        added
            .iter()
            .zip(sizes)
            .map(|((change, blob), size)| TreeEntry {
                blob: *blob,
                path: change.path.as_str().into(),
                size,
            }),
    );
    entries.sort_unstable_by(|a, b| a.path.as_bytes().cmp(b.path.as_bytes()));
    let path_bytes: u64 = entries.iter().map(|entry| entry.path.len() as u64).sum();
    let bytes: u64 = entries.iter().map(|entry| entry.size).sum();
    if entries.len() > bounds.max_files
        || path_bytes > MAX_PATH_LIST_BYTES
        || bytes > bounds.max_bytes
    {
        return Ok(None);
    }
    Ok(Some(Tree {
        entries,
        ..Tree::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(revision: &str) -> ListingKey {
        ListingKey {
            repo: RepoId(1),
            revision: revision.into(),
            prefix: String::new(),
        }
    }

    #[test]
    fn a_kept_listing_is_not_made_again_and_the_oldest_goes_first() {
        let listings = Listings::default();
        let made = std::cell::Cell::new(0);
        let list = || {
            made.set(made.get() + 1);
            Ok(Tree::default())
        };
        for revision in ["a", "b", "c", "d"] {
            listings.get_or_list(key(revision), list).unwrap();
        }
        listings.get_or_list(key("a"), list).unwrap();
        assert_eq!(made.get(), 4, "a was kept");
        listings.get_or_list(key("e"), list).unwrap();
        listings.get_or_list(key("a"), list).unwrap();
        assert_eq!(made.get(), 5, "a was used last, so b went instead");
        listings.get_or_list(key("b"), list).unwrap();
        assert_eq!(made.get(), 6);
    }
}
