//! Space reservations for uploads to repositories with a maxsize
//! (`maxsize.log`), on top of [`annex_core::sizes::RepoSizes`].
//!
//! Before an upload to a repository that has a maxsize, the key's size is
//! reserved in the repository sizes database; a reservation that would take
//! the repository over its maxsize is refused. A successful upload's
//! reservation is finished once the location log says the repository has
//! the key; a failed one is cancelled (dropped). Uploads to repositories
//! without a maxsize reserve nothing (the database is not even opened).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use annex_core::branch::Branch;
use annex_core::key::Key;
use annex_core::sizes::{Exceeded, RepoSizes, Reservation, SizesError};
use annex_core::uuid::Uuid;

/// What [`Reserver::reserve`] decided.
#[derive(Debug)]
pub enum Outcome {
    /// The repository has no maxsize: nothing reserved.
    Unlimited,
    /// The space is reserved.
    Reserved(Reservation),
    /// The repository would go over its maxsize.
    Full(Box<Exceeded>),
}

/// The reservations of one command: opens the sizes database on first
/// need, and keeps the reservations of uploads whose location log is not
/// recorded yet (parallel uploads are recorded after they all ran).
#[derive(Debug)]
pub struct Reserver {
    annex_dir: PathBuf,
    sizes: OnceLock<RepoSizes>,
    held: Mutex<HashMap<(Uuid, Key), Reservation>>,
}

impl Reserver {
    /// A reserver for the repository whose annex directory is `annex_dir`.
    pub fn new(annex_dir: PathBuf) -> Reserver {
        Reserver {
            annex_dir,
            sizes: OnceLock::new(),
            held: Mutex::new(HashMap::new()),
        }
    }

    fn sizes(&self) -> Result<&RepoSizes, String> {
        if let Some(s) = self.sizes.get() {
            return Ok(s);
        }
        let opened = RepoSizes::open(&self.annex_dir).map_err(|e| e.to_string())?;
        Ok(self.sizes.get_or_init(|| opened))
    }

    /// Reserves `key`'s size in the repository `uuid` when it has a
    /// maxsize (a key of unknown size counts 0, as git-annex counts it).
    /// With `enforce`, a key that would take the repository over its
    /// maxsize is refused ([`Outcome::Full`]); without, it is reserved all
    /// the same, as git-annex lets an explicit copy go over an advisory
    /// maxsize.
    pub fn reserve(
        &self,
        branch: &Branch,
        uuid: &Uuid,
        key: &Key,
        enforce: bool,
    ) -> Result<Outcome, String> {
        let maxsize = annex_core::logs::maxsize::parse(
            &branch
                .get(annex_core::state::paths::MAXSIZE)
                .map_err(|e| e.to_string())?,
        )
        .current()
        .get(uuid)
        .copied()
        .filter(|m| *m > 0);
        let Some(maxsize) = maxsize else {
            return Ok(Outcome::Unlimited);
        };
        let max = u64::try_from(maxsize).unwrap_or(u64::MAX);
        let sizes = self.sizes()?;
        match retry_busy(|| {
            sizes.reserve_within(
                branch,
                uuid,
                key,
                key.size().unwrap_or(0),
                enforce.then_some(max),
            )
        }) {
            Ok(r) => Ok(Outcome::Reserved(r)),
            Err(SizesError::WouldExceed(e)) => Ok(Outcome::Full(e)),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Keeps a reservation until [`Reserver::finish`] (or the end of the
    /// command, which cancels it).
    pub fn hold(&self, r: Reservation) {
        let k = (r.uuid().clone(), r.key().clone());
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(k, r);
    }

    /// Finishes the held reservation of `key` in `uuid`, if any: call it
    /// once the location log says `uuid` has `key`.
    pub fn finish(&self, uuid: &Uuid, key: &Key) {
        let r = self
            .held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(uuid.clone(), key.clone()));
        if let Some(r) = r {
            finish(r);
        }
    }

    /// Cancels the held reservation of `key` in `uuid`, if any (its upload
    /// failed).
    pub fn cancel(&self, uuid: &Uuid, key: &Key) {
        let r = self
            .held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(uuid.clone(), key.clone()));
        if let Some(r) = r
            && let Err(e) = r.cancel()
        {
            eprintln!("git-annex-rs: {e}");
        }
    }
}

/// Whether a database error is SQLite's "busy"/"locked". `RepoSizes`
/// avoids the known causes (openers take turns; writes start as immediate
/// transactions under a busy timeout), so this is only a guard.
fn is_busy(e: &SizesError) -> bool {
    matches!(
        e,
        SizesError::Db {
            source: rusqlite::Error::SqliteFailure(f, _),
            ..
        } if matches!(
            f.code,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
        )
    )
}

/// Runs `f` again while the database is busy (for up to about a minute).
fn retry_busy<T>(mut f: impl FnMut() -> Result<T, SizesError>) -> Result<T, SizesError> {
    let mut wait = std::time::Duration::from_millis(5);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match f() {
            Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(wait);
                wait = (wait * 2).min(std::time::Duration::from_millis(200));
            }
            r => return r,
        }
    }
}

/// Finishes a reservation whose upload is recorded; a database failure is
/// reported (the reservation then ends with the process).
pub fn finish(r: Reservation) {
    if let Err(e) = r.finish() {
        eprintln!("git-annex-rs: {e}");
    }
}

/// Bytes missing for `e`'s key to fit within the maxsize.
pub fn shortfall(e: &Exceeded) -> u64 {
    e.live.saturating_add(e.size).saturating_sub(e.maxsize)
}
