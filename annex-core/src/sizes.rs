//! Repository sizes: computed from the location logs into an SQLite
//! database, kept up to date with the `git-annex` branch, and reserved
//! against while transfers are in flight.
//!
//! # The numbers
//!
//! [`RepoSizes::sizes`] gives git-annex's numbers (those `git annex info`
//! shows as "annex sizes of repositories" and `git annex maxsize` lists):
//! for every repository, the sum of the `-s` sizes of the keys whose
//! location log says it has them (a key without a size counts 0); every
//! repository of `uuid.log` and this one appear, at 0 when empty; the
//! journal (uncommitted changes) is laid over the branch as git-annex lays
//! it. Dead repositories are included (callers filter them, as `info` and
//! `maxsize` do); clusters are not. What other `git-annex` branches hold
//! counts only once merged ([`Branch::update`](crate::branch::Branch::update)).
//!
//! # The database
//!
//! `.git/annex/rs-reposize.db` (SQLite, WAL mode, `user_version` 1). It is
//! ours: git-annex keeps its own in `.git/annex/reposize/db`, which is
//! never touched. It holds the sizes as of one commit of the branch; when
//! the branch has moved, only the location logs that differ between the
//! two commits' trees are read. The first time (or when the commit is
//! gone, or `annex.tune.branchhash1` changed) every location log is read.
//! Several processes may use it at once: every change is one transaction,
//! and opening (which creates the database and switches it to WAL the
//! first time) is done one at a time under an flock on
//! `.git/annex/rs-reposize.lck`.
//!
//! # Live updates and reservations
//!
//! A transfer to a repository calls [`RepoSizes::reserve`] before it
//! starts. In one write transaction (which serializes it with every other
//! process's), the repository's live size is computed, checked against its
//! maxsize (from `maxsize.log`), and the reservation recorded, so two
//! transfers can never both fit into the space that only one of them fits.
//! The reservation counts against the repository for every process until
//! it ends: [`Reservation::finish`] once the transfer's location log has
//! been recorded (its size then counts as a finished change until every
//! process has seen it in the logs), or dropped when the transfer failed.
//!
//! The live size of a repository is, for one [`RepoSizes`] handle: its
//! size as of a snapshot (branch and journal, taken under the journal lock
//! and retaken after a minute), plus the changes finished since the
//! snapshot, plus the reservations in flight. A reservation that had
//! already landed in the location log when the snapshot was taken is not
//! counted again. Like git-annex, only additions count while in flight.
//!
//! Reservations of a process that died (killed, crashed) expire: each
//! process holds a POSIX lock on a file named after it in
//! `.git/annex/rs-reposize-live/` while it runs, and the kernel drops the
//! lock when it dies; every reservation checks the owners of the others
//! and removes those whose lock is gone (a dead process's transfer whose
//! location log had landed is kept as finished).

mod live;
mod scan;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gix::ObjectId;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::branch::{Branch, BranchError};
use crate::journal::JournalError;
use crate::key::Key;
use crate::logs;
use crate::uuid::Uuid;

/// The database file, under `.git/annex`.
pub const DB_FILE: &str = "rs-reposize.db";
/// The lock file that serializes opening the database, under `.git/annex`.
pub const OPEN_LOCK_FILE: &str = "rs-reposize.lck";
/// The directory of the live owners' lock files, under `.git/annex`.
pub const LIVE_DIR: &str = "rs-reposize-live";
/// The schema version this code reads and writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

/// How long a handle's live snapshot is used before it is taken again.
const SNAPSHOT_MAX_AGE: Duration = Duration::from_secs(60);
/// How long finished changes are kept (far longer than a snapshot lives).
const FINISHED_KEEP_SECS: i64 = 600;

/// An error about repository sizes.
#[derive(Debug, thiserror::Error)]
pub enum SizesError {
    /// Reading the branch failed.
    #[error(transparent)]
    Branch(#[from] BranchError),
    /// Reading the journal failed.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A git object could not be read.
    #[error("repository sizes: {what} {name}: {detail}")]
    Git {
        /// What was being done.
        what: &'static str,
        /// The object or path concerned.
        name: String,
        /// The underlying error.
        detail: String,
    },
    /// The database failed.
    #[error("repository sizes database {path}: {source}")]
    Db {
        /// The database file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer version of this program.
    #[error(
        "repository sizes database {path}: schema version {found} is not supported (this program knows {SCHEMA_VERSION})"
    )]
    Schema {
        /// The database file.
        path: PathBuf,
        /// The version found.
        found: i64,
    },
    /// The database holds a value this code never writes.
    #[error("repository sizes database {path}: bad value {value:?}")]
    BadValue {
        /// The database file.
        path: PathBuf,
        /// The value.
        value: String,
    },
    /// An I/O error on a file.
    #[error("repository sizes: {what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The reservation would take the repository over its maxsize.
    #[error("{0}")]
    WouldExceed(Box<Exceeded>),
}

/// Why a reservation was refused: the repository would go over its maxsize.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("repository {uuid} would exceed its maxsize with {key}: {live} + {size} > {maxsize} bytes")]
pub struct Exceeded {
    /// The repository.
    pub uuid: Uuid,
    /// The key being reserved for.
    pub key: Key,
    /// The key's size (0 when the repository already has it).
    pub size: u64,
    /// The repository's live size before the reservation.
    pub live: u64,
    /// The repository's maxsize.
    pub maxsize: u64,
}

/// The repository sizes of one repository: a handle on its database.
///
/// Cheap to clone (clones share the connection and the live snapshot) and
/// usable from several threads.
#[derive(Debug, Clone)]
pub struct RepoSizes {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db_path: PathBuf,
    live_dir: PathBuf,
    conn: Mutex<Connection>,
    snapshot: Mutex<Option<Snapshot>>,
}

/// A handle's view of the sizes for live updates.
#[derive(Debug, Clone)]
struct Snapshot {
    sizes: BTreeMap<Uuid, i128>,
    /// The last finished change it includes.
    seq: i64,
    /// Reservations in flight whose location log had already landed.
    precounted: HashSet<i64>,
    taken: Instant,
}

/// What the branch part of the database says.
struct Stored {
    commit: Option<ObjectId>,
    depth: usize,
    sizes: BTreeMap<Uuid, i128>,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn clamp(v: i128) -> u64 {
    u64::try_from(v.max(0)).unwrap_or(u64::MAX)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The depth of location logs in the branch: hash levels + 1.
fn log_depth(branch: &Branch) -> usize {
    let snap = branch.repo().config_snapshot();
    if snap.boolean("annex.tune.branchhash1") == Some(true) {
        2
    } else {
        3
    }
}

/// The UUIDs git-annex starts the sizes from: those of `uuid.log` and this
/// repository's.
fn known_uuids(branch: &Branch) -> Result<BTreeMap<Uuid, i128>, SizesError> {
    let log = logs::uuid::parse(&branch.get(crate::state::paths::UUID)?);
    let mut m: BTreeMap<Uuid, i128> = log.descriptions().into_keys().map(|u| (u, 0)).collect();
    if let Some(here) = branch.repo().config_snapshot().string("annex.uuid")
        && let Ok(u) = Uuid::parse(&here)
    {
        m.entry(u).or_insert(0);
    }
    Ok(m)
}

/// Takes the exclusive flock on `path` (created if missing), waiting for
/// it; `None` when the file cannot be opened or locked.
fn open_turn(path: &Path) -> Option<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .ok()?;
    loop {
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive) {
            Ok(()) => return Some(file),
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return None,
        }
    }
}

impl RepoSizes {
    /// Opens (creating on first use) the sizes database of the repository
    /// whose annex directory (`.git/annex`) is `annex_dir`.
    ///
    /// Safe when several processes (or threads) open it at once: openers
    /// take turns on [`OPEN_LOCK_FILE`], and the schema is created in one
    /// transaction. Fails on a database of a newer schema.
    pub fn open(annex_dir: &Path) -> Result<RepoSizes, SizesError> {
        std::fs::create_dir_all(annex_dir).map_err(|source| SizesError::Io {
            what: "create",
            path: annex_dir.to_path_buf(),
            source,
        })?;
        let db_path = annex_dir.join(DB_FILE);
        let dberr = |source| SizesError::Db {
            path: db_path.clone(),
            source,
        };
        // Switching a new database to WAL changes its header under a lock
        // upgrade, and SQLite answers "database is locked" at once, without
        // the busy handler, to a second connection upgrading at the same
        // moment (it would deadlock otherwise). So openers take turns, on
        // an flock (which, unlike a POSIX lock, also separates threads).
        // Without a lock file (a read-only repository), go on unlocked.
        let _turn = open_turn(&annex_dir.join(OPEN_LOCK_FILE));
        let mut conn = Connection::open(&db_path).map_err(dberr)?;
        conn.busy_timeout(Duration::from_secs(120)).map_err(dberr)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(dberr)?;
        if !mode.eq_ignore_ascii_case("wal") {
            let _mode: String = conn
                .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
                .map_err(dberr)?;
        }
        conn.execute_batch("PRAGMA synchronous=NORMAL")
            .map_err(dberr)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(dberr)?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(dberr)?;
        match version {
            0 => {
                tx.execute_batch(
                    "CREATE TABLE branch_state(name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                     CREATE TABLE branch_sizes(uuid TEXT PRIMARY KEY NOT NULL, size TEXT NOT NULL);
                     CREATE TABLE live(id INTEGER PRIMARY KEY AUTOINCREMENT, uuid TEXT NOT NULL,
                         key BLOB NOT NULL, size INTEGER NOT NULL, owner TEXT NOT NULL,
                         started INTEGER NOT NULL);
                     CREATE INDEX live_uuid ON live(uuid);
                     CREATE TABLE finished(seq INTEGER PRIMARY KEY AUTOINCREMENT,
                         reservation INTEGER NOT NULL, uuid TEXT NOT NULL, key BLOB NOT NULL,
                         size INTEGER NOT NULL, at INTEGER NOT NULL);
                     CREATE INDEX finished_uuid ON finished(uuid, seq);
                     PRAGMA user_version = 1;",
                )
                .map_err(dberr)?;
            }
            SCHEMA_VERSION => {}
            found => {
                return Err(SizesError::Schema {
                    path: db_path.clone(),
                    found,
                });
            }
        }
        tx.commit().map_err(dberr)?;
        Ok(RepoSizes {
            inner: Arc::new(Inner {
                live_dir: annex_dir.join(LIVE_DIR),
                db_path,
                conn: Mutex::new(conn),
                snapshot: Mutex::new(None),
            }),
        })
    }

    /// The database file.
    pub fn db_path(&self) -> &Path {
        &self.inner.db_path
    }

    fn dberr(&self) -> impl Fn(rusqlite::Error) -> SizesError + '_ {
        |source| SizesError::Db {
            path: self.inner.db_path.clone(),
            source,
        }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.inner.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The sizes of every repository, as git-annex computes them, from the
    /// branch's current commit and the journal (see the module docs).
    ///
    /// Brings the database up to the branch's commit first (incrementally
    /// when it was up to an older one). Takes the journal lock for a
    /// moment: must not be called by a thread holding it.
    pub fn sizes(&self, branch: &Branch) -> Result<BTreeMap<Uuid, u64>, SizesError> {
        let (sizes, _) = self.current(branch, false)?;
        Ok(sizes.into_iter().map(|(u, v)| (u, clamp(v))).collect())
    }

    /// The sizes as of the branch's current commit only (no journal), and
    /// that commit; brings the database up to it.
    pub fn branch_sizes(
        &self,
        branch: &Branch,
    ) -> Result<(BTreeMap<Uuid, u64>, Option<ObjectId>), SizesError> {
        let s = self.update(branch)?;
        Ok((
            s.sizes.into_iter().map(|(u, v)| (u, clamp(v))).collect(),
            s.commit,
        ))
    }

    /// Recomputes the branch part from scratch (every location log read),
    /// ignoring what the database held, and stores it.
    pub fn recompute(&self, branch: &Branch) -> Result<BTreeMap<Uuid, u64>, SizesError> {
        let depth = log_depth(branch);
        let Some(tip) = branch.tip()? else {
            return Ok(known_uuids(branch)?
                .into_iter()
                .map(|(u, v)| (u, clamp(v)))
                .collect());
        };
        let tree = scan::commit_tree(branch.repo(), tip)?;
        let sizes = scan::full(branch.repo(), tree, depth, known_uuids(branch)?)?;
        self.store(tip, depth, &sizes)?;
        Ok(sizes.into_iter().map(|(u, v)| (u, clamp(v))).collect())
    }

    /// Sizes with the journal over them; with `snapshot`, also the live
    /// state read under the journal lock.
    fn current(
        &self,
        branch: &Branch,
        snapshot: bool,
    ) -> Result<(BTreeMap<Uuid, i128>, Option<Snapshot>), SizesError> {
        // The long part (a first full scan) runs before the lock.
        self.update(branch)?;
        // Under the journal lock, nothing is committed from the journal or
        // added to it, so the commit and the journal are seen together.
        // A repository we cannot lock (read-only) is read without it.
        let _lock = branch.journal().lock().ok();
        let stored = self.update(branch)?;
        let mut sizes = stored.sizes;
        scan::journal(branch, stored.commit, stored.depth, &mut sizes)?;
        if !snapshot {
            return Ok((sizes, None));
        }
        let (seq, live) = {
            let conn = self.conn();
            let seq: i64 = conn
                .query_row("SELECT COALESCE(MAX(seq), 0) FROM finished", [], |r| {
                    r.get(0)
                })
                .map_err(self.dberr())?;
            let mut st = conn
                .prepare("SELECT id, uuid, key FROM live")
                .map_err(self.dberr())?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                    ))
                })
                .map_err(self.dberr())?
                .collect::<Result<Vec<_>, _>>()
                .map_err(self.dberr())?;
            (seq, rows)
        };
        let mut precounted = HashSet::new();
        for (id, u, k) in live {
            if let (Ok(u), Ok(k)) = (Uuid::parse(u.as_bytes()), Key::parse(&k))
                && scan::is_present(branch, &k, &u)?
            {
                precounted.insert(id);
            }
        }
        let snap = Snapshot {
            sizes: sizes.clone(),
            seq,
            precounted,
            taken: Instant::now(),
        };
        Ok((sizes, Some(snap)))
    }

    fn read_stored(&self) -> Result<Stored, SizesError> {
        let conn = self.conn();
        let tx = conn.unchecked_transaction().map_err(self.dberr())?;
        let get = |name: &str| -> Result<Option<String>, SizesError> {
            tx.query_row(
                "SELECT value FROM branch_state WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.dberr())
        };
        let bad = |value: String| SizesError::BadValue {
            path: self.inner.db_path.clone(),
            value,
        };
        let commit = match get("commit")? {
            Some(c) => Some(ObjectId::from_hex(c.as_bytes()).map_err(|_| bad(c))?),
            None => None,
        };
        let depth = match get("depth")? {
            Some(d) => d.parse().map_err(|_| bad(d))?,
            None => 0,
        };
        let mut st = tx
            .prepare("SELECT uuid, size FROM branch_sizes")
            .map_err(self.dberr())?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(self.dberr())?;
        let mut sizes = BTreeMap::new();
        for row in rows {
            let (u, s) = row.map_err(self.dberr())?;
            let u = Uuid::parse(u.as_bytes()).map_err(|_| bad(u.clone()))?;
            let s: i128 = s.parse().map_err(|_| bad(s))?;
            sizes.insert(u, s);
        }
        drop(st);
        tx.finish().map_err(self.dberr())?;
        Ok(Stored {
            commit,
            depth,
            sizes,
        })
    }

    fn store(
        &self,
        commit: ObjectId,
        depth: usize,
        sizes: &BTreeMap<Uuid, i128>,
    ) -> Result<(), SizesError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.dberr())?;
        tx.execute("DELETE FROM branch_sizes", [])
            .map_err(self.dberr())?;
        {
            let mut ins = tx
                .prepare("INSERT INTO branch_sizes(uuid, size) VALUES (?1, ?2)")
                .map_err(self.dberr())?;
            for (u, s) in sizes {
                ins.execute(params![u.as_str(), s.to_string()])
                    .map_err(self.dberr())?;
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO branch_state(name, value) VALUES ('commit', ?1), ('depth', ?2)",
            params![commit.to_string(), depth.to_string()],
        )
        .map_err(self.dberr())?;
        tx.commit().map_err(self.dberr())
    }

    /// Brings the branch part of the database up to the branch's tip.
    fn update(&self, branch: &Branch) -> Result<Stored, SizesError> {
        let depth = log_depth(branch);
        let stored = self.read_stored()?;
        let Some(tip) = branch.tip()? else {
            return Ok(Stored {
                commit: None,
                depth,
                sizes: known_uuids(branch)?,
            });
        };
        if stored.commit == Some(tip) && stored.depth == depth {
            return Ok(stored);
        }
        let repo = branch.repo();
        let new_tree = scan::commit_tree(repo, tip)?;
        let old_tree = match stored.commit {
            Some(c) if stored.depth == depth => scan::commit_tree(repo, c).ok(),
            _ => None,
        };
        let sizes = match old_tree {
            Some(old_tree) => {
                let mut sizes = stored.sizes;
                scan::diff(repo, old_tree, new_tree, &mut sizes)?;
                for u in known_uuids(branch)?.into_keys() {
                    sizes.entry(u).or_insert(0);
                }
                sizes
            }
            None => scan::full(repo, new_tree, depth, known_uuids(branch)?)?,
        };
        self.store(tip, depth, &sizes)?;
        Ok(Stored {
            commit: Some(tip),
            depth,
            sizes,
        })
    }

    /// The handle's live snapshot, taken anew when missing or old.
    fn snapshot(&self, branch: &Branch) -> Result<Snapshot, SizesError> {
        let mut guard = self
            .inner
            .snapshot
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(s) = guard.as_ref()
            && s.taken.elapsed() < SNAPSHOT_MAX_AGE
        {
            return Ok(s.clone());
        }
        let (_, snap) = self.current(branch, true)?;
        let snap = snap.ok_or_else(|| SizesError::Git {
            what: "take snapshot",
            name: self.inner.db_path.display().to_string(),
            detail: "no snapshot".into(),
        })?;
        *guard = Some(snap.clone());
        Ok(snap)
    }

    /// Forgets the live snapshot, so the next live query takes a new one.
    pub fn refresh(&self) {
        *self
            .inner
            .snapshot
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The live size offsets on top of a snapshot, by UUID (in a
    /// transaction of the caller's).
    fn offsets(
        &self,
        tx: &rusqlite::Transaction<'_>,
        snap: &Snapshot,
        only: Option<&Uuid>,
    ) -> Result<BTreeMap<Uuid, i128>, SizesError> {
        let mut out: BTreeMap<Uuid, i128> = BTreeMap::new();
        let mut add = |u: String, id: i64, size: i64| {
            if snap.precounted.contains(&id) {
                return;
            }
            if let Ok(u) = Uuid::parse(u.as_bytes()) {
                *out.entry(u).or_insert(0) += i128::from(size);
            }
        };
        let filter = only.map(|u| u.as_str().to_owned());
        {
            let mut st = tx
                .prepare(
                    "SELECT uuid, reservation, size FROM finished WHERE seq > ?1 AND (?2 IS NULL OR uuid = ?2)",
                )
                .map_err(self.dberr())?;
            let rows = st
                .query_map(params![snap.seq, filter], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .map_err(self.dberr())?;
            for row in rows {
                let (u, id, size) = row.map_err(self.dberr())?;
                add(u, id, size);
            }
        }
        let mut st = tx
            .prepare("SELECT uuid, id, size FROM live WHERE ?1 IS NULL OR uuid = ?1")
            .map_err(self.dberr())?;
        let rows = st
            .query_map(params![filter], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(self.dberr())?;
        for row in rows {
            let (u, id, size) = row.map_err(self.dberr())?;
            add(u, id, size);
        }
        Ok(out)
    }

    /// Live sizes: [`RepoSizes::sizes`] as of this handle's snapshot (at
    /// most a minute old), plus the changes finished since and the
    /// reservations in flight of every process on this machine.
    pub fn live_sizes(&self, branch: &Branch) -> Result<BTreeMap<Uuid, u64>, SizesError> {
        let snap = self.snapshot(branch)?;
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.dberr())?;
        let offsets = self.offsets(&tx, &snap, None)?;
        tx.finish().map_err(self.dberr())?;
        let mut sizes = snap.sizes;
        for (u, o) in offsets {
            *sizes.entry(u).or_insert(0) += o;
        }
        Ok(sizes.into_iter().map(|(u, v)| (u, clamp(v))).collect())
    }

    /// Removes the reservations of processes that are gone (in the
    /// caller's write transaction). Those whose key has since been
    /// recorded present become finished changes.
    fn expire(
        &self,
        tx: &rusqlite::Transaction<'_>,
        branch: &Branch,
        own: Option<&str>,
    ) -> Result<(), SizesError> {
        let owners: Vec<String> = {
            let mut st = tx
                .prepare("SELECT DISTINCT owner FROM live")
                .map_err(self.dberr())?;
            st.query_map([], |r| r.get(0))
                .map_err(self.dberr())?
                .collect::<Result<_, _>>()
                .map_err(self.dberr())?
        };
        let now = now_secs();
        for o in owners {
            if !live::is_dead(&self.inner.live_dir, &o, own) {
                continue;
            }
            let rows: Vec<(i64, String, Vec<u8>, i64)> = {
                let mut st = tx
                    .prepare("SELECT id, uuid, key, size FROM live WHERE owner = ?1")
                    .map_err(self.dberr())?;
                st.query_map([&o], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                    .map_err(self.dberr())?
                    .collect::<Result<_, _>>()
                    .map_err(self.dberr())?
            };
            for (id, u, k, size) in rows {
                let landed = match (Uuid::parse(u.as_bytes()), Key::parse(&k)) {
                    (Ok(u), Ok(k)) => scan::is_present(branch, &k, &u)?,
                    _ => false,
                };
                if landed {
                    tx.execute(
                        "INSERT INTO finished(reservation, uuid, key, size, at) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![id, u, k, size, now],
                    )
                    .map_err(self.dberr())?;
                }
                tx.execute("DELETE FROM live WHERE id = ?1", [id])
                    .map_err(self.dberr())?;
            }
            live::remove_dead(&self.inner.live_dir, &o, own);
        }
        Ok(())
    }

    /// Reserves `size` bytes (the transfer of `key`) in the repository
    /// `uuid`, failing with [`SizesError::WouldExceed`] when that would
    /// take it over its maxsize.
    ///
    /// The check is git-annex's `repoHasSpace`: when the key's location
    /// log already says `uuid` has it, the reservation counts 0 and only
    /// needs the live size to be within the maxsize; else the live size
    /// plus `size` must be. A maxsize of 0 (or none in `maxsize.log`)
    /// means no limit. The live size includes every other process's
    /// reservations, and the check and the recording are one transaction.
    pub fn reserve(
        &self,
        branch: &Branch,
        uuid: &Uuid,
        key: &Key,
        size: u64,
    ) -> Result<Reservation, SizesError> {
        let maxsize = logs::maxsize::parse(&branch.get(crate::state::paths::MAXSIZE)?)
            .current()
            .get(uuid)
            .copied()
            .filter(|m| *m > 0)
            .map(clamp);
        self.reserve_within(branch, uuid, key, size, maxsize)
    }

    /// [`RepoSizes::reserve`] against a given maxsize (`None`: no limit)
    /// instead of the one in `maxsize.log`.
    pub fn reserve_within(
        &self,
        branch: &Branch,
        uuid: &Uuid,
        key: &Key,
        size: u64,
        maxsize: Option<u64>,
    ) -> Result<Reservation, SizesError> {
        let owner = live::owner(&self.inner.live_dir)?;
        let in_repo = scan::is_present(branch, key, uuid)?;
        let counted = if in_repo { 0 } else { size };
        let snap = self.snapshot(branch)?;
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.dberr())?;
        self.expire(&tx, branch, Some(owner.name()))?;
        let offsets = self.offsets(&tx, &snap, Some(uuid))?;
        let live =
            snap.sizes.get(uuid).copied().unwrap_or(0) + offsets.get(uuid).copied().unwrap_or(0);
        if let Some(max) = maxsize
            && live + i128::from(counted) > i128::from(max)
        {
            return Err(SizesError::WouldExceed(Box::new(Exceeded {
                uuid: uuid.clone(),
                key: key.clone(),
                size: counted,
                live: clamp(live),
                maxsize: max,
            })));
        }
        tx.execute(
            "INSERT INTO live(uuid, key, size, owner, started) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                uuid.as_str(),
                key.as_bytes(),
                to_i64(counted),
                owner.name(),
                now_secs()
            ],
        )
        .map_err(self.dberr())?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(self.dberr())?;
        Ok(Reservation {
            sizes: self.clone(),
            id,
            uuid: uuid.clone(),
            key: key.clone(),
            size: counted,
            done: false,
        })
    }

    /// How many reservations are in flight (every process's, stale ones
    /// included until a reservation expires them).
    pub fn reservations_in_flight(&self) -> Result<usize, SizesError> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM live", [], |r| r.get(0))
            .map_err(self.dberr())?;
        Ok(usize::try_from(n).unwrap_or(0))
    }
}

/// Space reserved in a repository for a transfer in flight; counts
/// against the repository for every process until it ends.
///
/// Dropping it (the transfer failed or was abandoned) removes it; call
/// [`Reservation::finish`] when the transfer succeeded and its location
/// log has been recorded.
#[derive(Debug)]
pub struct Reservation {
    sizes: RepoSizes,
    id: i64,
    uuid: Uuid,
    key: Key,
    size: u64,
    done: bool,
}

impl Reservation {
    /// The repository reserved in.
    pub fn uuid(&self) -> &Uuid {
        &self.uuid
    }

    /// The key reserved for.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The bytes counted (0 when the repository already had the key).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Ends the reservation of a transfer that succeeded, after its
    /// location log was recorded (journalled): its size keeps counting as
    /// a finished change for the processes whose snapshot predates it.
    pub fn finish(mut self) -> Result<(), SizesError> {
        self.done = true;
        let s = &self.sizes;
        let mut conn = s.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(s.dberr())?;
        let now = now_secs();
        tx.execute(
            "DELETE FROM finished WHERE at < ?1",
            [now - FINISHED_KEEP_SECS],
        )
        .map_err(s.dberr())?;
        let size = to_i64(self.size);
        tx.execute(
            "INSERT INTO finished(reservation, uuid, key, size, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![self.id, self.uuid.as_str(), self.key.as_bytes(), size, now],
        )
        .map_err(s.dberr())?;
        tx.execute("DELETE FROM live WHERE id = ?1", [self.id])
            .map_err(s.dberr())?;
        tx.commit().map_err(s.dberr())
    }

    /// Ends the reservation of a transfer that did not happen (as dropping
    /// it does, reporting errors).
    pub fn cancel(mut self) -> Result<(), SizesError> {
        self.done = true;
        self.remove()
    }

    fn remove(&self) -> Result<(), SizesError> {
        let s = &self.sizes;
        s.conn()
            .execute("DELETE FROM live WHERE id = ?1", [self.id])
            .map(|_| ())
            .map_err(s.dberr())
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.remove();
        }
    }
}
