//! Blobs read in-process from a cache's object database (gitoxide's `gix-odb`): a reader per
//! thread inflates objects straight into a buffer the caller parses, with no `git cat-file`
//! process and no pipe between them. Objects are data only: an id is looked up in the cache's
//! packs and loose objects, nothing in them is ever taken for a path; the git CLI still does
//! every fetch.

use std::path::Path;
use std::sync::Arc;

use gix_object::Find;

use crate::git::GitError;
use crate::scan::checkout::Oid;

/// The most bytes one object in a pack may make the reader allocate: a pack is the remote's
/// data, and a hostile one declaring a huge object (or delta) fails the read rather than the
/// server.
const MAX_ALLOCATION: usize = 1 << 30;

/// Delta bases each reader keeps inflated: neighbouring blobs in a pack often share them.
const DELTA_BASES: usize = 64;

/// A cache's object database, opened once per read and shared by its readers.
pub struct Objects {
    store: Arc<gix_odb::Store>,
}

impl Objects {
    /// Opens the object database of the bare repository `cache` (SHA-1 object ids).
    pub fn open(cache: &Path) -> Result<Objects, GitError> {
        let options = gix_odb::store::init::Options {
            alloc_limit_bytes: Some(MAX_ALLOCATION),
            ..Default::default()
        };
        let store = gix_odb::Store::at_opts(
            cache.join("objects"),
            gix_hash::Kind::Sha1,
            &mut std::iter::empty(),
            options,
        )
        .map_err(|error| GitError::Other(format!("cannot open the cache's objects: {error}")))?;
        Ok(Objects {
            store: Arc::new(store),
        })
    }

    /// Whether `id` is an id this database can look up.
    pub fn takes(id: &Oid) -> bool {
        id.as_bytes().len() == gix_hash::Kind::Sha1.len_in_bytes()
    }

    /// A reader for one thread, with its own cache of delta bases.
    pub fn reader(&self) -> Reader {
        let mut handle = self.store.to_cache_arc();
        handle.set_pack_cache(|| {
            Box::new(gix_pack::cache::lru::StaticLinkedList::<DELTA_BASES>::default())
        });
        Reader { handle }
    }
}

/// Reads blobs on one thread.
pub struct Reader {
    handle: gix_odb::HandleArc,
}

impl Reader {
    /// The bytes of blob `id`, inflated: an error when the cache has no such object, or it is not
    /// a blob.
    pub fn blob(&mut self, id: &Oid) -> Result<Vec<u8>, GitError> {
        let key = gix_hash::oid::try_from_bytes(id.as_bytes())
            .map_err(|error| GitError::Other(format!("object id {id}: {error}")))?;
        // git knows the empty blob without storing it.
        if key == gix_hash::ObjectId::empty_blob(gix_hash::Kind::Sha1) {
            return Ok(Vec::new());
        }
        let mut bytes = Vec::new();
        let found = self
            .handle
            .try_find(key, &mut bytes)
            .map_err(|error| GitError::Other(format!("reading object {id}: {error}")))?
            .map(|data| (data.kind, data.data.as_ptr() as usize, data.data.len()));
        let Some((kind, at, len)) = found else {
            return Err(GitError::Other(format!(
                "object {id} is missing from the cache"
            )));
        };
        if kind != gix_object::Kind::Blob {
            return Err(GitError::Other(format!(
                "object {id} is a {kind}, not a blob"
            )));
        }
        // The object is the buffer, or a part of it.
        let start = at.saturating_sub(bytes.as_ptr() as usize).min(bytes.len());
        bytes.truncate(start.saturating_add(len));
        bytes.drain(..start);
        Ok(bytes)
    }
}
