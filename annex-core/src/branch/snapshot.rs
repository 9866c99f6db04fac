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
use crate::odb::CycledRepo;
use crate::uuid::Uuid;

/// A decoded tree, its entries sorted by name, kept compact: the names
/// end to end, and the ids and modes in arrays (about 30 bytes an entry
/// for the 3-character names of the hash directories, where a vector of
/// owned names took about 80: at 10^6 keys the second-level trees hold
/// about 10^6 entries).
#[derive(Debug, Default)]
struct Tree {
    names: Vec<u8>,
    /// Where each name ends in `names`.
    ends: Vec<u32>,
    ids: Vec<ObjectId>,
    modes: Vec<EntryMode>,
}

impl Tree {
    fn name(&self, i: usize) -> &[u8] {
        let start = i.checked_sub(1).map_or(0, |j| self.ends[j] as usize);
        &self.names[start..self.ends[i] as usize]
    }

    fn find(&self, name: &[u8]) -> Option<(ObjectId, EntryMode)> {
        let (mut lo, mut hi) = (0, self.ends.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.name(mid).cmp(name) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some((self.ids[mid], self.modes[mid])),
            }
        }
        None
    }

    /// The heap bytes it holds.
    fn bytes(&self) -> usize {
        self.names.capacity()
            + self.ends.capacity() * 4
            + self.ids.capacity() * std::mem::size_of::<ObjectId>()
            + self.modes.capacity() * std::mem::size_of::<EntryMode>()
    }
}

type Entries = Arc<Tree>;

/// Decoded trees by id, and the heap they take.
#[derive(Debug, Default)]
struct Cache {
    trees: HashMap<ObjectId, Entries>,
    bytes: usize,
}

/// The memory the pack delta cache of a snapshot may use.
const PACK_CACHE_BYTES: usize = 8 * 1024 * 1024;

/// The caches of a snapshot's object store: trees and blobs of
/// neighbouring keys share pack deltas; gix's default delta cache may
/// grow to 96 MB over a walk of every key, far more than helps here.
fn snapshot_caches(repo: &mut gix::Repository) {
    repo.object_cache_size(4 * 1024 * 1024);
    repo.objects.set_pack_cache(|| {
        Box::new(gix::odb::pack::cache::lru::StaticLinkedList::<64>::new(
            PACK_CACHE_BYTES,
        ))
    });
}

/// How many leaf trees are kept decoded at once.
const LEAF_CACHE: usize = 64;

/// The heap the decoded second-level trees may take before they are
/// dropped and decoded again as needed (they all fit up to about 10^6
/// keys).
const DIRS_BUDGET: usize = 48 * 1024 * 1024;

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
    /// The repository, with an object store of the snapshot's own
    /// replaced as it reads.
    repo: CycledRepo,
    tip: Option<ObjectId>,
    root: Option<Entries>,
    /// Decoded second-level trees, by id (within `dirs_budget` bytes).
    dirs: Mutex<Cache>,
    /// [`DIRS_BUDGET`] (smaller in tests).
    dirs_budget: usize,
    /// A few decoded leaf trees, by id.
    leaves: Mutex<Cache>,
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
        // Its own object store, replaced as it reads (what a store maps
        // stays resident while it lives: see `crate::odb`).
        let repo = CycledRepo::new(&branch.repo, snapshot_caches);
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
            dirs: Mutex::default(),
            dirs_budget: DIRS_BUDGET,
            leaves: Mutex::default(),
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
        let repo = self.repo.get();
        let t = repo
            .find_tree(id)
            .map_err(git_err("read tree", id.to_string()))?;
        let decoded = t.decode().map_err(git_err("decode tree", id.to_string()))?;
        // Tree order puts a directory as if its name ended in `/`: sorted
        // again by the names alone.
        let mut order: Vec<usize> = (0..decoded.entries.len()).collect();
        order.sort_by(|&a, &b| decoded.entries[a].filename.cmp(decoded.entries[b].filename));
        let mut tree = Tree {
            names: Vec::with_capacity(
                order
                    .iter()
                    .map(|&i| decoded.entries[i].filename.len())
                    .sum(),
            ),
            ends: Vec::with_capacity(order.len()),
            ids: Vec::with_capacity(order.len()),
            modes: Vec::with_capacity(order.len()),
        };
        for i in order {
            let e = &decoded.entries[i];
            tree.names.extend_from_slice(e.filename);
            let end = u32::try_from(tree.names.len()).map_err(|_| BranchError::Io {
                what: "decode tree",
                path: id.to_string().into(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "its names take over 4 GiB",
                ),
            })?;
            tree.ends.push(end);
            tree.ids.push(e.oid.to_owned());
            tree.modes.push(e.mode);
        }
        Ok(Arc::new(tree))
    }

    /// A decoded tree from `cache`, decoded and added when missing; the
    /// cache is emptied first when it holds `max_trees` trees or its trees
    /// take over `max_bytes`.
    fn cached(
        &self,
        cache: &Mutex<Cache>,
        id: ObjectId,
        max_trees: usize,
        max_bytes: usize,
    ) -> Result<Entries, BranchError> {
        if let Some(e) = cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .trees
            .get(&id)
        {
            return Ok(e.clone());
        }
        let e = self.decode(id)?;
        let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
        if c.trees.len() >= max_trees || c.bytes + e.bytes() > max_bytes {
            c.trees.clear();
            c.bytes = 0;
        }
        c.bytes += e.bytes();
        c.trees.insert(id, e.clone());
        Ok(e)
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
            let Some((id, mode)) = entries.find(name) else {
                return Ok(None);
            };
            if parts.peek().is_none() {
                if !mode.is_blob() {
                    return Ok(None);
                }
                let repo = self.repo.get();
                let blob = repo
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
                self.cached(&self.dirs, id, usize::MAX, self.dirs_budget)?
            } else {
                self.cached(&self.leaves, id, LEAF_CACHE, usize::MAX)?
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

    /// With the second-level trees dropped at every other tree (a budget
    /// of one byte) and the object store replaced several times over
    /// (more reads than `READS_PER_STORE`), every answer stays
    /// `Branch::get`'s.
    #[test]
    fn answers_stay_the_same_when_trees_are_dropped_and_stores_replaced() {
        let (_d, repo) = new_repo();
        let state = State::with_clock(repo.branch().expect("branch"), Clock::from_env());
        for i in 0..200 {
            state.set_present(&key(i), &uuid(i % 3), true).expect("set");
        }
        state.commit().expect("commit");
        let branch = state.branch();
        let mut snap = Snapshot::new(branch).expect("snapshot");
        snap.dirs_budget = 1;
        let want: Vec<Vec<u8>> = (0..200)
            .map(|i| branch.get(&key_log_path(&key(i), ".log")).expect("get"))
            .collect();
        let rounds = crate::odb::READS_PER_STORE as usize * 2 / 200 + 2;
        for _ in 0..rounds {
            for (i, w) in want.iter().enumerate() {
                let p = key_log_path(&key(i as u32), ".log");
                assert_eq!(&snap.get(&p).expect("snap"), w, "key {i}");
            }
        }
        assert!(want.iter().all(|c| !c.is_empty()), "every key has a log");
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
