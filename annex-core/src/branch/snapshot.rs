//! A read-only snapshot of the `git-annex` branch, for commands that read
//! the logs of many keys (`whereis`, `find`, `info`).
//!
//! [`Branch::get`] stays correct under concurrent writers by reading the
//! branch ref, its commit and the trees down to the file on every call.
//! A [`Snapshot`] resolves the tip's tree once, decodes trees lazily and
//! keeps them by object id (a tree id names its content, so a cached tree
//! never goes stale), and lists the journal once: a file the journal held
//! when the snapshot was taken is read through [`Branch::get`] (journal
//! over branch, private journal appended, exactly as it does); any other
//! file comes from the snapshot's tree. Answers are those [`Branch::get`]
//! would have given at the moment the snapshot was taken, as long as no
//! new journal file appears meanwhile (git-annex itself reads the journal
//! of a file once per command too).
//!
//! Memory stays bounded: the root and second-level trees (at most 4,097
//! of them, each small) are kept; the leaf trees, one per hash directory
//! holding a key's logs, are kept only a few at a time.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use annex_core::branch::{Branch, Snapshot};
//! use annex_core::key::Key;
//! let branch = Branch::open(std::path::Path::new(".git"))?;
//! let snap = Snapshot::new(&branch)?;
//! let key = Key::parse(b"SHA256E-s10--abc.txt")?;
//! for uuid in snap.locations(&key)? {
//!     println!("{uuid}");
//! }
//! # Ok(()) }
//! ```

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use gix::ObjectId;
use gix::object::tree::EntryMode;

use super::{Branch, BranchError, git_err, lossy};
use crate::key::Key;
use crate::logs;
use crate::logs::key_log_path;
use crate::logs::metadata::MetaData;
use crate::uuid::Uuid;

/// A decoded tree: its entries sorted by name.
type Entries = Arc<Vec<(Vec<u8>, ObjectId, EntryMode)>>;

/// The memory the pack delta cache of a snapshot may use.
const PACK_CACHE_BYTES: usize = 8 * 1024 * 1024;

/// How many leaf trees are kept decoded at once.
const LEAF_CACHE: usize = 64;

/// A read-only view of the `git-annex` branch taken at one moment, with
/// the journal laid over it, for commands that read the logs of many keys.
///
/// The tip's tree is resolved once and trees are decoded lazily and kept
/// by object id (second-level hash directories all, leaf trees a few), so
/// a key's log costs a few microseconds where [`Branch::get`] reads the
/// ref, the commit and the trees anew. Files the journal held when the
/// snapshot was taken are read through [`Branch::get`]; every answer is
/// the one [`Branch::get`] gave at that moment.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use annex_core::branch::{Branch, Snapshot};
/// let branch = Branch::open(std::path::Path::new(".git"))?;
/// let snap = Snapshot::new(&branch)?;
/// let key = annex_core::key::Key::parse(b"SHA256E-s10--abc.txt")?;
/// println!("{} copies", snap.locations(&key)?.len());
/// # Ok(()) }
/// ```
pub struct Snapshot<'a> {
    branch: &'a Branch,
    repo: gix::Repository,
    tip: Option<ObjectId>,
    root: Option<Entries>,
    /// Decoded second-level trees, by id.
    dirs: Mutex<HashMap<ObjectId, Entries>>,
    /// A few decoded leaf trees, by id.
    leaves: Mutex<HashMap<ObjectId, Entries>>,
    /// The branch paths the journals held when the snapshot was taken.
    journalled: BTreeSet<Vec<u8>>,
}

impl std::fmt::Debug for Snapshot<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("tip", &self.tip)
            .field("journalled", &self.journalled.len())
            .finish()
    }
}

impl<'a> Snapshot<'a> {
    /// Takes a snapshot of `branch`: its tip now, and the journal's list
    /// of files now.
    pub fn new(branch: &'a Branch) -> Result<Snapshot<'a>, BranchError> {
        let mut repo = branch.repo.clone();
        // Trees and blobs of neighbouring keys share pack deltas; gix's
        // default delta cache may grow to 96 MB over a walk of every key,
        // far more than helps here.
        repo.object_cache_size_if_unset(4 * 1024 * 1024);
        repo.objects.set_pack_cache(|| {
            Box::new(gix::odb::pack::cache::lru::StaticLinkedList::<64>::new(
                PACK_CACHE_BYTES,
            ))
        });
        let tip = branch.tip()?;
        let mut journalled: BTreeSet<Vec<u8>> = branch.journal.files()?.into_iter().collect();
        if branch.private_known {
            journalled.extend(branch.journal.private_files()?);
        }
        let mut snap = Snapshot {
            branch,
            repo,
            tip,
            root: None,
            dirs: Mutex::new(HashMap::new()),
            leaves: Mutex::new(HashMap::new()),
            journalled,
        };
        if let Some(t) = tip {
            let tree = branch.commit_tree(t)?;
            snap.root = Some(snap.decode(tree)?);
        }
        Ok(snap)
    }

    /// The branch commit the snapshot reads, `None` when the branch does
    /// not exist.
    pub fn tip(&self) -> Option<ObjectId> {
        self.tip
    }

    /// The branch the snapshot was taken of.
    pub fn branch(&self) -> &Branch {
        self.branch
    }

    fn decode(&self, id: ObjectId) -> Result<Entries, BranchError> {
        let t = self
            .repo
            .find_tree(id)
            .map_err(git_err("read tree", id.to_string()))?;
        let decoded = t.decode().map_err(git_err("decode tree", id.to_string()))?;
        let mut entries: Vec<(Vec<u8>, ObjectId, EntryMode)> = decoded
            .entries
            .iter()
            .map(|e| (e.filename.to_vec(), e.oid.to_owned(), e.mode))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(Arc::new(entries))
    }

    fn cached(
        &self,
        cache: &Mutex<HashMap<ObjectId, Entries>>,
        id: ObjectId,
        bound: Option<usize>,
    ) -> Result<Entries, BranchError> {
        if let Some(e) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&id) {
            return Ok(e.clone());
        }
        let e = self.decode(id)?;
        let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
        if bound.is_some_and(|b| c.len() >= b) {
            c.clear();
        }
        c.insert(id, e.clone());
        Ok(e)
    }

    fn find(entries: &Entries, name: &[u8]) -> Option<(ObjectId, EntryMode)> {
        entries
            .binary_search_by(|e| e.0.as_slice().cmp(name))
            .ok()
            .map(|i| (entries[i].1, entries[i].2))
    }

    /// The content of a file in the snapshot's tree (no journal), if any.
    pub fn committed(&self, path: &[u8]) -> Result<Option<Vec<u8>>, BranchError> {
        let Some(root) = &self.root else {
            return Ok(None);
        };
        let mut entries = root.clone();
        let mut parts = path.split(|&b| b == b'/').peekable();
        let mut depth = 0;
        while let Some(name) = parts.next() {
            let Some((id, mode)) = Self::find(&entries, name) else {
                return Ok(None);
            };
            if parts.peek().is_none() {
                if !mode.is_blob() {
                    return Ok(None);
                }
                let blob = self
                    .repo
                    .find_blob(id)
                    .map_err(git_err("read blob of", lossy(path)))?;
                return Ok(Some(blob.data.clone()));
            }
            if !mode.is_tree() {
                return Ok(None);
            }
            depth += 1;
            // Root entries lead to the hash directories (kept); deeper
            // trees hold the logs of a few keys (a few kept).
            entries = if depth == 1 {
                self.cached(&self.dirs, id, None)?
            } else {
                self.cached(&self.leaves, id, Some(LEAF_CACHE))?
            };
        }
        Ok(None)
    }

    /// The current content of a branch file, as [`Branch::get`] gives it:
    /// the journal's when it has the file, else the branch's; empty when
    /// neither has it.
    pub fn get(&self, path: &[u8]) -> Result<Vec<u8>, BranchError> {
        // An invalid path is the branch's error to give.
        if self.journalled.contains(path) || !crate::journal::is_valid_branch_path(path) {
            return self.branch.get(path);
        }
        Ok(self.committed(path)?.unwrap_or_default())
    }

    /// The UUIDs the location log says have the key's content (dead
    /// repositories included: filtering them is the caller's choice), in
    /// UUID order.
    pub fn locations(&self, key: &Key) -> Result<Vec<Uuid>, BranchError> {
        let content = self.get(&key_log_path(key, ".log"))?;
        Ok(logs::location::LocationLog::parse(&content).present_uuids())
    }

    /// Whether the key has a location log at all (even one listing no
    /// present copy).
    pub fn has_location_log(&self, key: &Key) -> Result<bool, BranchError> {
        Ok(!self.get(&key_log_path(key, ".log"))?.is_empty())
    }

    /// The URLs registered for the key (`KEY.log.web`), downloader
    /// prefixes kept.
    pub fn urls(&self, key: &Key) -> Result<Vec<Vec<u8>>, BranchError> {
        let content = self.get(&key_log_path(key, ".log.web"))?;
        Ok(logs::web::urls(&logs::web::parse(&content)))
    }

    /// The key's current metadata (`KEY.log.met`).
    pub fn metadata(&self, key: &Key) -> Result<MetaData, BranchError> {
        let content = self.get(&key_log_path(key, ".log.met"))?;
        Ok(logs::metadata::current(&logs::metadata::parse(&content)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::Repo;
    use crate::state::State;
    use crate::timestamp::Clock;
    use proptest::prelude::*;
    use std::process::Command;

    fn new_repo() -> (tempfile::TempDir, Repo) {
        let dir = tempfile::tempdir().expect("tmp");
        let ok = Command::new("git")
            .args(["init", "-q", "-b", "main"])
            .arg(dir.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .status()
            .expect("git init")
            .success();
        assert!(ok);
        let repo = Repo::init(dir.path(), Some("t")).expect("init");
        (dir, repo)
    }

    fn key(i: u32) -> Key {
        Key::new(
            b"SHA256E",
            format!("{:032x}.k", u128::from(i) * 0x9e37_79b9).as_bytes(),
        )
        .with_size(Some(u64::from(i)))
    }

    fn uuid(i: u32) -> Uuid {
        Uuid::parse(format!("00000000-0000-4000-8000-{i:012}").as_bytes()).expect("uuid")
    }

    /// Snapshot answers equal `Branch::get` for every key's logs, committed,
    /// journalled over committed, journalled only, and absent, plus the
    /// top-level logs and paths that name directories.
    #[test]
    fn equals_branch_get_with_journal() {
        let (_d, repo) = new_repo();
        let state = State::with_clock(repo.branch().expect("branch"), Clock::from_env());
        for i in 0..300 {
            state.set_present(&key(i), &uuid(i % 5), true).expect("set");
            if i % 3 == 0 {
                state
                    .set_url(&key(i), format!("http://x/{i}").as_bytes(), true)
                    .expect("url");
            }
        }
        state.commit().expect("commit");
        // Journalled changes over committed logs, and new keys only journalled.
        for i in (0..300).step_by(7) {
            state.set_present(&key(i), &uuid(9), true).expect("set");
            state
                .set_present(&key(i), &uuid(i % 5), false)
                .expect("unset");
        }
        for i in 300..320 {
            state.set_present(&key(i), &uuid(1), true).expect("set");
        }
        let branch = state.branch();
        let snap = Snapshot::new(branch).expect("snapshot");
        for i in 0..400 {
            let k = key(i);
            for suffix in [".log", ".log.web", ".log.met"] {
                let p = key_log_path(&k, suffix);
                assert_eq!(
                    snap.get(&p).expect("snap"),
                    branch.get(&p).expect("get"),
                    "{i}{suffix}"
                );
            }
            assert_eq!(
                snap.locations(&k).expect("loc"),
                state.whereis(&k).expect("whereis")
            );
            assert_eq!(snap.urls(&k).expect("urls"), state.urls(&k).expect("urls"));
            assert_eq!(
                snap.metadata(&k).expect("met"),
                state.metadata(&k).expect("met")
            );
        }
        for p in [&b"uuid.log"[..], b"trust.log", b"nonexistent", b"a/b/c/d"] {
            assert_eq!(
                snap.get(p).expect("snap"),
                branch.get(p).expect("get"),
                "{p:?}"
            );
        }
        for p in [&b""[..], b"/", b"a//b", b"../x"] {
            assert!(snap.get(p).is_err() && branch.get(p).is_err(), "{p:?}");
        }
        // A hash directory is no file.
        let p = key_log_path(&key(1), ".log");
        let dir = &p[..p.iter().position(|&b| b == b'/').expect("slash")];
        assert_eq!(snap.get(dir).expect("snap"), branch.get(dir).expect("get"));
        assert!(snap.get(dir).expect("snap").is_empty());
    }

    #[test]
    fn no_branch_reads_empty() {
        let dir = tempfile::tempdir().expect("tmp");
        let ok = Command::new("git")
            .args(["init", "-q"])
            .arg(dir.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .status()
            .expect("git")
            .success();
        assert!(ok);
        let branch = Branch::open(&dir.path().join(".git")).expect("open");
        let snap = Snapshot::new(&branch).expect("snapshot");
        assert_eq!(snap.tip(), None);
        assert!(snap.get(b"uuid.log").expect("get").is_empty());
        assert!(snap.locations(&key(1)).expect("loc").is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]
        /// Random sequences of presence changes, some committed and some
        /// left in the journal: the snapshot agrees with `Branch::get`.
        #[test]
        fn agrees_with_branch_get(ops in prop::collection::vec((0u32..40, 0u32..4, any::<bool>(), any::<bool>()), 1..60)) {
            let (_d, repo) = new_repo();
            let state = State::new(repo.branch().expect("branch"));
            for (k, u, present, commit) in ops {
                state.set_present(&key(k), &uuid(u), present).expect("set");
                if commit {
                    state.commit().expect("commit");
                }
            }
            let branch = state.branch();
            let snap = Snapshot::new(branch).expect("snapshot");
            for k in 0..40 {
                let p = key_log_path(&key(k), ".log");
                prop_assert_eq!(snap.get(&p).expect("snap"), branch.get(&p).expect("get"));
                prop_assert_eq!(snap.locations(&key(k)).expect("loc"), state.whereis(&key(k)).expect("w"));
            }
        }
    }
}
