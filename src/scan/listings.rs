//! The last few tree listings the engine made, kept in memory: a commit's tree never changes,
//! so a repeat scan at the same head, or another project on the same branch, skips `git
//! ls-tree` (which reads every blob's size) and lists nothing. Small listings only, so the
//! memory this holds stays bounded.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::domain::ids::RepoId;
use crate::scan::checkout::{Tree, TreeError};

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
        if tree.entries.len() <= MOST_FILES {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            if recent.len() == KEPT {
                recent.pop_back();
            }
            recent.push_front((key, tree.clone()));
        }
        Ok(tree)
    }

    fn find(&self, key: &ListingKey) -> Option<Arc<Tree>> {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let at = recent.iter().position(|(kept, _)| kept == key)?;
        let found = recent.remove(at)?;
        let tree = found.1.clone();
        recent.push_front(found);
        Some(tree)
    }
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
