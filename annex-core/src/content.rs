//! Content locking and drop safety: `KEY.lck` locks and verified copies.
//!
//! In a v10 repository git-annex locks a key's content through a separate
//! lock file next to the object, `annex/objects/XX/YY/KEY/KEY.lck`, with
//! POSIX record locks (`fcntl`), never blocking:
//!
//! - a **shared** lock ([`lock_shared`], git-annex's `lockContentShared`)
//!   keeps the content from being removed while another repository relies
//!   on it as a copy (a drop elsewhere uses it as its proof);
//! - an **exclusive** lock ([`lock_for_removal`], `lockContentForRemoval`)
//!   is held while the content is removed, so a concurrent drop elsewhere
//!   cannot take this copy as its proof;
//! - [`present_safe`] (`inAnnexSafe`) says whether content is present and
//!   not being removed: when any process holds a lock on `KEY.lck` it
//!   cannot tell.
//!
//! Lock files are checked after locking to still be the file at their path
//! (`checkSaneLock`): a process that removes a lock file does so under an
//! exclusive lock, so a lock on a removed file means nothing.
//!
//! A POSIX lock belongs to the whole process and is lost when the process
//! closes *any* descriptor of the file, so every lock file is opened once
//! per process here: a registry counts shared holders and refuses a second
//! exclusive holder, and nothing opens a file the process has locked.
//!
//! Drop safety ([`DropCheck`]) follows git-annex's `verifyEnoughCopiesToDrop`:
//! copies are counted only when verified at the moment of the drop (locked
//! on a remote, or present in a trusted repository), and the drop happens
//! while those locks are held.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use crate::key::Key;
use crate::objects::ObjectStore;
use crate::uuid::Uuid;

/// A content locking failure, naming the key or lock file.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// The content is not present, so it cannot be locked.
    #[error("failed to lock content: not present ({key})")]
    NotPresent {
        /// The key.
        key: String,
    },
    /// Another process (or this one) holds a conflicting lock.
    #[error("content is locked ({path})")]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// The content must be kept until a retention time (`KEY.rtm`).
    #[error("content is retained until a later time ({path})")]
    Retained {
        /// The retention timestamp file.
        path: PathBuf,
    },
    /// An I/O error on a lock file or object.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Removing the object failed.
    #[error(transparent)]
    Objects(#[from] crate::objects::ObjectsError),
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ContentError + 'a {
    move |source| ContentError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// git-annex's `gitAnnexContentLock`: the object file's path plus `.lck`.
pub fn lock_file(object: &Path) -> PathBuf {
    let mut s = object.as_os_str().to_owned();
    s.push(".lck");
    PathBuf::from(s)
}

fn retention_file(object: &Path) -> PathBuf {
    let mut s = object.as_os_str().to_owned();
    s.push(".rtm");
    PathBuf::from(s)
}

// ---- the process-wide registry of held lock files ----

#[derive(Debug)]
enum Held {
    /// Held shared by `count` guards; closing `_file` releases it.
    Shared {
        count: usize,
        _file: File,
    },
    Exclusive,
}

fn registry() -> &'static Mutex<HashMap<PathBuf, Held>> {
    static R: OnceLock<Mutex<HashMap<PathBuf, Held>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(HashMap::new()))
}

fn registry_lock() -> std::sync::MutexGuard<'static, HashMap<PathBuf, Held>> {
    registry()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Who holds a lock on a lock file, as [`lock_state`] tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    /// This process (a lock taken through this module).
    HeldHere,
    /// Another process.
    HeldElsewhere,
    /// Nobody (or the file is missing).
    Free,
}

/// Who holds a lock on `path`, asked without taking it. Every lock file
/// this process may hold must be asked about here, never opened directly:
/// closing any descriptor of a file releases the process's record locks on
/// it, so the file is opened only when this process holds no lock on it,
/// and closed before another thread of it can take one (all under the
/// registry's lock).
pub fn lock_state(path: &Path) -> LockState {
    let reg = registry_lock();
    if reg.contains_key(path) {
        return LockState::HeldHere;
    }
    let Ok(file) = File::open(path) else {
        return LockState::Free;
    };
    let probe = rustix::process::Flock::from(rustix::process::FlockType::WriteLock);
    let state = match rustix::process::fcntl_getlk(&file, &probe) {
        Ok(Some(_)) => LockState::HeldElsewhere,
        Ok(None) => LockState::Free,
        // Cannot be told: taken as held, the side that never removes.
        Err(_) => LockState::HeldElsewhere,
    };
    drop(file);
    drop(reg);
    state
}

/// Runs `f` unless this process holds a lock on `path` (then `None`), with
/// no lock of this module taken on it meanwhile, so that `f` may open and
/// close the file (which would release this process's record locks on it)
/// without harm.
pub fn unless_held_here<T>(path: &Path, f: impl FnOnce() -> T) -> Option<T> {
    let reg = registry_lock();
    if reg.contains_key(path) {
        return None;
    }
    let r = f();
    drop(reg);
    Some(r)
}

/// Takes an exclusive lock on `path` for the process, without blocking:
/// `Ok(None)` when this process or another holds it. Creates the file.
/// Checks that the locked file is still the one at `path`.
pub(crate) fn try_exclusive(path: &Path) -> io::Result<Option<File>> {
    let mut reg = registry_lock();
    if reg.contains_key(path) {
        return Ok(None);
    }
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o666)
        .open(path)?;
    match rustix::fs::fcntl_lock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(e) if is_contended(e) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    if !sane(&file, path) {
        return Ok(None);
    }
    reg.insert(path.to_path_buf(), Held::Exclusive);
    Ok(Some(file))
}

/// Releases an exclusive lock taken with [`try_exclusive`], removing the
/// lock file first when `remove` is set (it is safe to remove under an
/// exclusive lock).
pub(crate) fn release_exclusive(path: &Path, file: File, remove: bool) {
    if remove {
        let _ = fs::remove_file(path);
    }
    let mut reg = registry_lock();
    drop(file);
    reg.remove(path);
}

fn is_contended(e: rustix::io::Errno) -> bool {
    e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::ACCESS
}

/// git-annex's `checkSaneLock`: the locked descriptor is still the file at
/// `path` (another process may have removed and recreated it).
fn sane(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Runs `f` with the directory `dir` writable (when it exists), restoring
/// its mode afterwards, as git-annex's `modifyContentDirWhenExists` does.
fn with_dir_writable<T>(dir: &Path, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let old = match fs::metadata(dir) {
        Ok(m) => Some(m.permissions().mode() & 0o7777),
        Err(_) => None,
    };
    if let Some(mode) = old
        && mode & 0o200 == 0
    {
        fs::set_permissions(dir, fs::Permissions::from_mode(mode | 0o200))?;
    }
    let r = f();
    if let Some(mode) = old
        && mode & 0o200 == 0
        && fs::metadata(dir).is_ok()
    {
        let _ = fs::set_permissions(dir, fs::Permissions::from_mode(mode));
    }
    r
}

/// Removes `dir` and its parents up to (not including) `stop` while they
/// are empty (git-annex's `cleanObjectDirs`).
fn clean_dirs(mut dir: &Path, stop: &Path) {
    while dir != stop && dir.starts_with(stop) {
        if let Some(parent) = dir.parent() {
            let r = with_dir_writable(parent, || fs::remove_dir(dir));
            if r.is_err() {
                return;
            }
            dir = parent;
        } else {
            return;
        }
    }
}

fn parent_of(p: &Path) -> &Path {
    p.parent().unwrap_or(Path::new("."))
}

// ---- shared locks ----

/// A shared lock on a key's content (git-annex's `lockContentShared`):
/// while it lives, no git-annex process can drop the content. Dropping the
/// guard releases it and removes the lock file when no other process holds
/// it.
#[derive(Debug)]
pub struct SharedContentLock {
    path: PathBuf,
    objects_dir: PathBuf,
}

impl SharedContentLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Locks the content of `key` in `store` shared, without waiting: fails
/// with [`ContentError::Locked`] while it is being removed, and with
/// [`ContentError::NotPresent`] when it is not there.
pub fn lock_shared(store: &ObjectStore, key: &Key) -> Result<SharedContentLock, ContentError> {
    let not_present = || ContentError::NotPresent {
        key: key.to_string(),
    };
    let object = store.find(key).ok_or_else(not_present)?;
    let path = lock_file(&object);
    {
        let mut reg = registry_lock();
        match reg.get_mut(&path) {
            Some(Held::Shared { count, .. }) => {
                *count += 1;
                drop(reg);
                if !store.has(key) {
                    release_shared(&path);
                    return Err(not_present());
                }
                return Ok(SharedContentLock {
                    path,
                    objects_dir: store.objects_dir(),
                });
            }
            Some(Held::Exclusive) => return Err(ContentError::Locked { path }),
            None => {}
        }
        let dir = parent_of(&path);
        let file = with_dir_writable(dir, || {
            OpenOptions::new()
                .read(true)
                .create(true)
                .append(true)
                .mode(0o666)
                .open(&path)
        })
        .map_err(io_err("lock", &path))?;
        match rustix::fs::fcntl_lock(&file, rustix::fs::FlockOperation::NonBlockingLockShared) {
            Ok(()) => {}
            Err(e) if is_contended(e) => return Err(ContentError::Locked { path }),
            Err(e) => return Err(io_err("lock", &path)(e.into())),
        }
        if !sane(&file, &path) {
            return Err(ContentError::Locked { path });
        }
        reg.insert(
            path.clone(),
            Held::Shared {
                count: 1,
                _file: file,
            },
        );
    }
    let guard = SharedContentLock {
        path,
        objects_dir: store.objects_dir(),
    };
    if !store.has(key) {
        return Err(not_present());
    }
    Ok(guard)
}

/// A shared lock on a key's content with a retention time, as git-annex's
/// P2P server takes for `LOCKCONTENT`: besides the shared lock, the
/// object's `KEY.rtm` holds a time until which no removal may take the
/// content (written under `KEY.rtl`, never moved earlier). Released with
/// [`RetainedLock::release`] when the client says `UNLOCKCONTENT`; when the
/// connection breaks instead, [`RetainedLock::keep_retention`] leaves the
/// time in place, so the content stays until then though the shared lock
/// went with the process.
#[derive(Debug)]
pub struct RetainedLock {
    lock: Option<SharedContentLock>,
    rtm: PathBuf,
    written: Option<String>,
}

/// Locks `key`'s content shared (as [`lock_shared`]) and records that it
/// must be kept until `until` (seconds since the epoch).
pub fn lock_shared_retained(
    store: &ObjectStore,
    key: &Key,
    until: f64,
) -> Result<RetainedLock, ContentError> {
    let lock = lock_shared(store, key)?;
    let object = store.find(key).ok_or_else(|| ContentError::NotPresent {
        key: key.to_string(),
    })?;
    let rtm = retention_file(&object);
    let mut rtl = object.as_os_str().to_owned();
    rtl.push(".rtl");
    let rtl = PathBuf::from(rtl);
    let dir = parent_of(&rtm).to_path_buf();
    // git-annex prints a POSIXTime as seconds with a fraction and an `s`.
    let text = format!("{until:.6}s");
    let written = with_dir_writable(&dir, || {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o666)
            .open(&rtl)?;
        rustix::fs::fcntl_lock(&f, rustix::fs::FlockOperation::LockExclusive)?;
        let later = fs::read(&rtm)
            .ok()
            .and_then(|c| retention_time(&c))
            .is_some_and(|t| t >= until);
        if later {
            return Ok(None);
        }
        let mut tmp = rtm.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        fs::write(&tmp, &text)?;
        fs::rename(&tmp, &rtm)?;
        Ok(Some(text.clone()))
    })
    .map_err(io_err("write", &rtm))?;
    Ok(RetainedLock {
        lock: Some(lock),
        rtm,
        written,
    })
}

impl RetainedLock {
    /// Releases the lock and removes the retention time this lock wrote,
    /// once no other process holds the content locked (a later time
    /// written by another lock stays).
    pub fn release(mut self) {
        let lock = self.lock.take();
        let path = lock.as_ref().map(|l| l.path().to_path_buf());
        drop(lock);
        let (Some(path), Some(written)) = (path, self.written.take()) else {
            return;
        };
        let dir = parent_of(&self.rtm).to_path_buf();
        let _ = with_dir_writable(&dir, || {
            if let Ok(Some(excl)) = try_exclusive(&path) {
                if fs::read(&self.rtm).is_ok_and(|c| c == written.as_bytes()) {
                    let _ = fs::remove_file(&self.rtm);
                }
                release_exclusive(&path, excl, true);
            }
            Ok(())
        });
    }

    /// Releases the shared lock but leaves the retention time in place
    /// (the connection that asked for the lock broke).
    pub fn keep_retention(mut self) {
        self.written = None;
        drop(self.lock.take());
    }
}

/// The time in a retention file, `None` when it does not parse.
fn retention_time(content: &[u8]) -> Option<f64> {
    let text = String::from_utf8_lossy(content);
    text.trim().trim_end_matches('s').parse::<f64>().ok()
}

/// Drops one holder of a shared lock; the last one closes the file, then
/// removes it when an exclusive lock shows nobody else holds it.
fn release_shared(path: &Path) -> bool {
    let mut reg = registry_lock();
    let last = match reg.get_mut(path) {
        Some(Held::Shared { count, .. }) if *count > 1 => {
            *count -= 1;
            false
        }
        Some(Held::Shared { .. }) => true,
        _ => false,
    };
    if last {
        reg.remove(path);
    }
    last
}

impl Drop for SharedContentLock {
    fn drop(&mut self) {
        // All under the registry's lock: another thread's `lock_shared`
        // of the same key must not find the lock file mid-removal (it
        // answered "locked", and a GET sent nothing, under load).
        let mut reg = registry_lock();
        match reg.get_mut(&self.path) {
            Some(Held::Shared { count, .. }) if *count > 1 => {
                *count -= 1;
                return;
            }
            Some(Held::Shared { .. }) => {}
            _ => return,
        }
        // Our descriptor closed: this process's lock is gone.
        reg.remove(&self.path);
        // Another process may hold it shared too: only remove the file
        // under an exclusive lock.
        let dir = parent_of(&self.path).to_path_buf();
        let removed = OpenOptions::new()
            .write(true)
            .open(&self.path)
            .ok()
            .filter(|file| {
                rustix::fs::fcntl_lock(file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
                    .is_ok()
                    && sane(file, &self.path)
            })
            .map(|file| {
                let _ = with_dir_writable(&dir, || fs::remove_file(&self.path));
                drop(file);
            })
            .is_some();
        drop(reg);
        if removed {
            clean_dirs(&dir, &self.objects_dir);
        }
    }
}

// ---- exclusive (removal) locks ----

/// An exclusive lock on a key's content for removing it (git-annex's
/// `lockContentForRemoval`). While it lives, no other process can lock the
/// content as a copy it relies on.
#[derive(Debug)]
pub struct RemovalLock {
    path: PathBuf,
    file: Option<File>,
    key: Key,
    objects_dir: PathBuf,
}

impl RemovalLock {
    /// The key whose content is locked.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// Removes the content (the object file of every layout) while the lock
    /// is held. Returns whether there was content to remove.
    pub fn remove_content(&self, store: &ObjectStore) -> Result<bool, ContentError> {
        Ok(store.remove(&self.key)?)
    }
}

impl Drop for RemovalLock {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            let dir = parent_of(&self.path).to_path_buf();
            let _ = with_dir_writable(&dir, || fs::remove_file(&self.path));
            release_exclusive(&self.path, file, false);
            clean_dirs(&dir, &self.objects_dir);
        }
    }
}

/// Locks the content of `key` in `store` exclusively for removal, without
/// waiting. `Ok(None)` when the content is not present (nothing to lock).
/// [`ContentError::Locked`] when any process holds a lock on it (it is
/// being relied on by a drop elsewhere, or being removed), and
/// [`ContentError::Retained`] when a retention timestamp in the future is
/// set.
pub fn lock_for_removal(
    store: &ObjectStore,
    key: &Key,
) -> Result<Option<RemovalLock>, ContentError> {
    let Some(object) = store.find(key) else {
        return Ok(None);
    };
    let path = lock_file(&object);
    let dir = parent_of(&path).to_path_buf();
    let file = with_dir_writable(&dir, || try_exclusive(&path)).map_err(io_err("lock", &path))?;
    let Some(file) = file else {
        return Err(ContentError::Locked { path });
    };
    let lock = RemovalLock {
        path,
        file: Some(file),
        key: key.clone(),
        objects_dir: store.objects_dir(),
    };
    let rtm = retention_file(&object);
    if let Ok(content) = fs::read(&rtm)
        && retained(&content)
    {
        return Err(ContentError::Retained { path: rtm });
    }
    if !store.has(key) {
        return Ok(None);
    }
    Ok(Some(lock))
}

/// Whether a retention timestamp (POSIX seconds, maybe with a fraction
/// and an `s`) is still in the future; an unreadable one counts as such.
fn retained(content: &[u8]) -> bool {
    let text = String::from_utf8_lossy(content);
    let t = text.trim().trim_end_matches('s');
    let Ok(until) = t.parse::<f64>() else {
        return true;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    until > now
}

/// git-annex's `inAnnexSafe`: `Some(true)` when the content is present and
/// nobody holds a lock on it, `Some(false)` when it is absent, `None` when
/// a lock is held on it (it may be in the middle of being removed, so it
/// cannot be told).
pub fn present_safe(store: &ObjectStore, key: &Key) -> Option<bool> {
    let Some(object) = store.find(key) else {
        return Some(false);
    };
    match lock_state(&lock_file(&object)) {
        LockState::Free => Some(true),
        LockState::HeldHere | LockState::HeldElsewhere => None,
    }
}

// ---- drop safety ----

/// How a copy was verified (git-annex's `VerifiedCopy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifiedCopy {
    /// Locked in that repository: it cannot go away during the drop.
    Locked(Uuid),
    /// The repository is trusted: counted without a check.
    Trusted(Uuid),
    /// Seen present just now, but not locked.
    RecentlyVerified(Uuid),
}

impl VerifiedCopy {
    /// The repository holding the copy.
    pub fn uuid(&self) -> &Uuid {
        match self {
            VerifiedCopy::Locked(u)
            | VerifiedCopy::Trusted(u)
            | VerifiedCopy::RecentlyVerified(u) => u,
        }
    }

    /// Locked or trusted (git-annex's `fullVerification`).
    pub fn is_full(&self) -> bool {
        !matches!(self, VerifiedCopy::RecentlyVerified(_))
    }
}

/// Copies verified so far for one drop, and the rule they must meet.
#[derive(Debug, Clone)]
pub struct DropCheck {
    /// `numcopies`.
    pub numcopies: i64,
    /// `mincopies`.
    pub mincopies: i64,
    /// Whether the drop is from this repository under a [`RemovalLock`]:
    /// then any verified copies count towards `max(numcopies, mincopies)`;
    /// otherwise (dropping from a remote) `mincopies` of them must be
    /// locked or trusted.
    pub local_removal: bool,
    /// The copies verified so far.
    pub have: Vec<VerifiedCopy>,
}

impl DropCheck {
    /// A check with no copies verified yet.
    pub fn new(numcopies: i64, mincopies: i64, local_removal: bool) -> DropCheck {
        DropCheck {
            numcopies,
            mincopies,
            local_removal,
            have: Vec::new(),
        }
    }

    fn distinct(&self) -> Vec<&VerifiedCopy> {
        let mut seen: Vec<&VerifiedCopy> = Vec::new();
        for c in &self.have {
            if !seen.iter().any(|s| s.uuid() == c.uuid()) {
                seen.push(c);
            }
        }
        seen
    }

    /// Whether the copies verified so far make the drop safe (git-annex's
    /// `safeDropAnalysis`).
    pub fn is_safe(&self) -> bool {
        let n = self.distinct().len() as i64;
        if self.local_removal {
            n >= self.numcopies.max(self.mincopies)
        } else {
            (self.numcopies <= 0 && self.mincopies <= 0)
                || (n >= self.numcopies
                    && self.have.iter().filter(|c| c.is_full()).count() as i64 >= self.mincopies)
        }
    }

    /// The number of distinct copies verified.
    pub fn verified_count(&self) -> usize {
        self.distinct().len()
    }
}

/// The `Could not verify...` / `Unable to lock down...` explanation of an
/// unsafe drop, as git-annex words it.
pub fn unsafe_drop_explanation(check: &DropCheck) -> Vec<String> {
    let have = check.verified_count() as i64;
    let plural = |n: i64| if n == 1 { "copy" } else { "copies" };
    if have < check.numcopies {
        if check.numcopies == 1 {
            vec!["Could not verify the existence of the 1 necessary copy.".to_string()]
        } else {
            vec![format!(
                "Could only verify the existence of {have} out of {} necessary {}.",
                check.numcopies,
                plural(check.numcopies)
            )]
        }
    } else {
        vec![
            format!(
                "Unable to lock down {} {} of file necessary to safely drop it.",
                check.mincopies,
                plural(check.mincopies)
            ),
            "(This could have happened because of a concurrent drop, or because a remote has too old a version of git-annex-shell installed.)".to_string(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Uuid {
        Uuid::parse(s.as_bytes()).expect("uuid")
    }

    #[test]
    fn local_removal_counts_any_copy() {
        let mut c = DropCheck::new(2, 1, true);
        assert!(!c.is_safe());
        c.have.push(VerifiedCopy::RecentlyVerified(u(
            "11111111-1111-1111-1111-111111111111",
        )));
        assert!(!c.is_safe());
        c.have.push(VerifiedCopy::RecentlyVerified(u(
            "11111111-1111-1111-1111-111111111111",
        )));
        assert!(!c.is_safe(), "one repository counted twice");
        c.have.push(VerifiedCopy::Locked(u(
            "22222222-2222-2222-2222-222222222222",
        )));
        assert!(c.is_safe());
    }

    #[test]
    fn remote_drop_needs_mincopies_locked() {
        let mut c = DropCheck::new(1, 1, false);
        c.have.push(VerifiedCopy::RecentlyVerified(u(
            "11111111-1111-1111-1111-111111111111",
        )));
        assert!(!c.is_safe());
        c.have.push(VerifiedCopy::Trusted(u(
            "22222222-2222-2222-2222-222222222222",
        )));
        assert!(c.is_safe());
        assert_eq!(
            unsafe_drop_explanation(&DropCheck::new(2, 1, true)),
            vec!["Could only verify the existence of 0 out of 2 necessary copies."]
        );
    }

    #[test]
    fn retention_in_the_past_does_not_retain() {
        assert!(!retained(b"1000.5s"));
        assert!(retained(b"99999999999s"));
        assert!(retained(b"garbage"));
    }
}
