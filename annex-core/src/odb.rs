//! A repository handle for walks that read many objects: its object store
//! is its own and is replaced every [`READS_PER_STORE`] reads.
//!
//! Why: gix maps pack files and their indexes into memory, and every page
//! a read touches stays resident for as long as the store that mapped it
//! lives. A walk reading one object per key of a large repository ends up
//! with most of the pack and its index resident (about 400 MB at 10^6
//! keys: a 320 MB pack and an 85 MB index), counted in the process's
//! resident memory though it is only page cache. Replacing the store
//! unmaps them (the pages stay in the kernel's page cache, so reading
//! them again costs a minor fault). gix has no way to read a pack without
//! mapping it, nor to unmap one while its store lives.

use std::cell::{Cell, Ref, RefCell};

/// Object reads between two new object stores: a few thousand objects'
/// pages resident at most. Opening a store costs well under a
/// millisecond; the first lookups in a new one fault the pages of the
/// pack index they touch in again, from the page cache.
pub(crate) const READS_PER_STORE: u32 = 4096;

/// A repository whose object store is replaced every
/// [`READS_PER_STORE`] reads (see the module's documentation).
pub(crate) struct CycledRepo {
    repo: RefCell<gix::Repository>,
    reads: Cell<u32>,
    /// Sets the caches of each new store.
    configure: fn(&mut gix::Repository),
}

impl CycledRepo {
    /// A handle on `repo` with a store of its own, `configure`d.
    pub fn new(repo: &gix::Repository, configure: fn(&mut gix::Repository)) -> CycledRepo {
        let mut repo = repo.clone();
        fresh_store(&mut repo);
        configure(&mut repo);
        CycledRepo {
            repo: RefCell::new(repo),
            reads: Cell::new(0),
            configure,
        }
    }

    /// The repository to read one object through (every
    /// [`READS_PER_STORE`]th call replaces the store first).
    pub fn get(&self) -> Ref<'_, gix::Repository> {
        let n = self.reads.get().wrapping_add(1);
        self.reads.set(n);
        if n.is_multiple_of(READS_PER_STORE)
            && let Ok(mut r) = self.repo.try_borrow_mut()
        {
            fresh_store(&mut r);
            (self.configure)(&mut r);
        }
        self.repo.borrow()
    }
}

/// Gives `repo` a new object store of its own on the same objects
/// directory (alternates, replacements and the multi-pack index setting
/// as before); keeps the one it has when a new one cannot be opened.
fn fresh_store(repo: &mut gix::Repository) {
    let store = repo.objects.store_ref();
    let options = gix::odb::store::init::Options {
        use_multi_pack_index: store.use_multi_pack_index(),
        ..Default::default()
    };
    let replacements: Vec<_> = store.replacements().collect();
    if let Ok(h) = gix::odb::at_opts(
        store.path().to_path_buf(),
        store.object_hash(),
        replacements,
        options,
    ) {
        repo.objects = gix::odb::memory::Proxy::new(h, repo.object_hash());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_read_the_same_across_new_stores() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let git = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .current_dir(d)
                .output()
                .expect("git runs");
            assert!(out.status.success(), "git {args:?}: {out:?}");
            String::from_utf8(out.stdout).expect("utf8")
        };
        git(&["init", "-q"]);
        std::fs::write(d.join("a"), b"packed\n").expect("write");
        git(&["add", "a"]);
        git(&["commit", "-q", "-m", "1"]);
        git(&["gc", "-q"]);
        std::fs::write(d.join("b"), b"loose\n").expect("write");
        git(&["add", "b"]);
        let packed = git(&["rev-parse", ":a"]);
        let loose = git(&["rev-parse", ":b"]);
        let ids: Vec<gix::ObjectId> = [packed, loose]
            .iter()
            .map(|h| gix::ObjectId::from_hex(h.trim().as_bytes()).expect("hex"))
            .collect();
        let repo = gix::open(d).expect("open");
        let cycled = CycledRepo::new(&repo, |_| {});
        // A store of its own, not the repository's.
        let first = std::sync::Arc::downgrade(&cycled.get().objects.store());
        assert!(!std::sync::Arc::ptr_eq(
            &repo.objects.store(),
            &first.upgrade().expect("alive")
        ));
        // Past several store replacements, every read answers the same;
        // the first store lives until its last read, then is dropped (and
        // its mappings with it).
        for i in 1..(2 * READS_PER_STORE + 3) {
            let id = ids[i as usize % 2];
            let want: &[u8] = if i % 2 == 0 { b"packed\n" } else { b"loose\n" };
            let r = cycled.get();
            assert_eq!(
                r.find_blob(id).expect("blob").data.as_slice(),
                want,
                "read {i}"
            );
            // The first `get` was read 1: read `READS_PER_STORE` (here
            // `i + 1`) is the first through a new store.
            if i + 1 == READS_PER_STORE - 1 {
                assert!(first.upgrade().is_some(), "replaced too early");
            }
            if i + 1 == READS_PER_STORE {
                assert!(first.upgrade().is_none(), "not replaced");
            }
        }
    }
}
