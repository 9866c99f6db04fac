//! Liveness of the processes that hold reservations.
//!
//! Each process that reserves space names itself with an owner name
//! (`PID-RANDOM`) and holds an exclusive POSIX lock on a file of that name
//! in the live directory for as long as it runs. The kernel drops the lock
//! when the process dies, however it dies (`SIGKILL` included), so another
//! process that can take a lock on the file knows the owner is gone and its
//! reservations are stale. The random part keeps a reused PID from
//! inheriting a dead process's reservations.
//!
//! The lock is taken once per process and live directory, and kept until
//! the process exits (a POSIX lock would be lost if this process closed
//! any other descriptor of the same file, so the owner's own file is never
//! opened again).

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustix::fs::FlockOperation;

use super::SizesError;

/// This process's owner identity in one live directory.
#[derive(Debug)]
pub(super) struct Owner {
    name: String,
    _file: fs::File,
}

impl Owner {
    /// The owner name stored with this process's reservations.
    pub(super) fn name(&self) -> &str {
        &self.name
    }
}

static OWNERS: Mutex<Option<HashMap<PathBuf, Arc<Owner>>>> = Mutex::new(None);

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SizesError + 'a {
    move |source| SizesError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// This process's owner in `dir` (created, locked and kept the first time).
pub(super) fn owner(dir: &Path) -> Result<Arc<Owner>, SizesError> {
    let mut owners = OWNERS.lock().unwrap_or_else(|e| e.into_inner());
    let map = owners.get_or_insert_with(HashMap::new);
    if let Some(o) = map.get(dir) {
        return Ok(o.clone());
    }
    fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    sweep(dir, None);
    let o = loop {
        let name = format!("{}-{}", std::process::id(), ::uuid::Uuid::new_v4().simple());
        let path = dir.join(&name);
        let file = match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err("create", &path)(e)),
        };
        rustix::fs::fcntl_lock(&file, FlockOperation::NonBlockingLockExclusive)
            .map_err(|e| io_err("lock", &path)(e.into()))?;
        // A sweeper may have taken the file for a dead owner's and removed
        // it before we locked it: then start again with a new name.
        let ours = file.metadata().map_err(io_err("stat", &path))?;
        match fs::metadata(&path) {
            Ok(m) if m.ino() == ours.ino() && m.dev() == ours.dev() => {
                break Owner { name, _file: file };
            }
            _ => continue,
        }
    };
    let o = Arc::new(o);
    map.insert(dir.to_path_buf(), o.clone());
    Ok(o)
}

/// Whether the owner `name` in `dir` is gone (its file missing or not
/// locked). `own` is this process's owner name, never checked (opening our
/// own file would drop our lock when closed).
pub(super) fn is_dead(dir: &Path, name: &str, own: Option<&str>) -> bool {
    if own == Some(name) || name.contains('/') {
        return false;
    }
    let path = dir.join(name);
    let file = match fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return true,
        // Cannot tell: keep its reservations (err on the side of full).
        Err(_) => return false,
    };
    rustix::fs::fcntl_lock(&file, FlockOperation::NonBlockingLockShared).is_ok()
}

/// Removes the file of a dead owner (taking its lock first, so a live
/// owner's file is never removed).
pub(super) fn remove_dead(dir: &Path, name: &str, own: Option<&str>) {
    if own == Some(name) || name.contains('/') {
        return;
    }
    let path = dir.join(name);
    if let Ok(file) = fs::OpenOptions::new().write(true).open(&path)
        && rustix::fs::fcntl_lock(&file, FlockOperation::NonBlockingLockExclusive).is_ok()
    {
        let _ = fs::remove_file(&path);
    }
}

/// Removes the files of every dead owner in `dir` (best effort).
pub(super) fn sweep(dir: &Path, own: Option<&str>) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        if let Some(name) = e.file_name().to_str() {
            remove_dead(dir, name, own);
        }
    }
}
