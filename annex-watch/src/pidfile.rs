//! The daemon's pid file, `.git/annex/daemon.pid`, locked as git-annex
//! locks it, so that either implementation refuses to start a second daemon
//! and either one's `--stop` stops the other's.
//!
//! The protocol (git-annex's `Utility.Daemon`):
//!
//! - starting: the pid file is opened (created if missing) and a POSIX
//!   write lock (`fcntl F_SETLK`, whole file, non-blocking) is tried on it;
//!   then `daemon.pid.new` is created (truncated), write-locked the same
//!   way, the pid written into it in decimal, and it is renamed over
//!   `daemon.pid`. The lock on the `.new` file (now the pid file) is held
//!   for the life of the daemon; failing either lock means "Daemon is
//!   already running.";
//! - checking: the pid file's lock holder (`F_GETLK` for a read lock) must
//!   be the process whose pid the file holds; no lock means no daemon, a
//!   different pid is a stale pid file (an error, as git-annex's);
//! - stopping: `SIGTERM` to the checked pid.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, fcntl_lock};
use rustix::process::{Flock, FlockType, Pid, Signal, fcntl_getlk, kill_process};

/// What can go wrong with the pid file.
#[derive(Debug, thiserror::Error)]
pub enum PidFileError {
    /// Another process holds the pid file's lock.
    #[error("Daemon is already running.")]
    AlreadyRunning,
    /// The pid file names another process than the one holding its lock.
    #[error("stale pid in {} (got {got}; expected {expected} )", path.display())]
    Stale {
        /// The pid file.
        path: PathBuf,
        /// The pid in the file.
        got: i32,
        /// The lock holder's pid.
        expected: i32,
    },
    /// An I/O error on a file.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> PidFileError + 'a {
    move |source| PidFileError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The held lock on the pid file: dropping it (or the process ending)
/// releases the lock, and the daemon is then no longer seen as running.
#[derive(Debug)]
pub struct PidLock {
    _file: File,
}

fn open_rw(path: &Path, truncate: bool) -> Result<File, PidFileError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(truncate)
        .mode(0o666)
        .open(path)
        .map_err(io_err("open", path))
}

fn try_write_lock(file: &File) -> bool {
    fcntl_lock(file, FlockOperation::NonBlockingLockExclusive).is_ok()
}

/// Takes the pid file's lock for this process and writes its pid, as
/// git-annex's `lockPidFile` does (see the module documentation).
pub fn lock_pid_file(pidfile: &Path) -> Result<PidLock, PidFileError> {
    let newfile = new_file(pidfile);
    let old = open_rw(pidfile, false)?;
    let locked = try_write_lock(&old);
    let mut new = open_rw(&newfile, true)?;
    let locked_new = try_write_lock(&new);
    if !locked || !locked_new {
        return Err(PidFileError::AlreadyRunning);
    }
    new.write_all(std::process::id().to_string().as_bytes())
        .map_err(io_err("write", &newfile))?;
    // Closing the old pid file's descriptor drops its lock only: the new
    // file is another inode.
    drop(old);
    std::fs::rename(&newfile, pidfile).map_err(io_err("rename", &newfile))?;
    Ok(PidLock { _file: new })
}

/// `daemon.pid.new` beside `daemon.pid`.
fn new_file(pidfile: &Path) -> PathBuf {
    let mut s = pidfile.as_os_str().to_os_string();
    s.push(".new");
    PathBuf::from(s)
}

/// The pid of the running daemon, if any: the holder of the pid file's
/// lock, which must be the pid the file names (git-annex's `checkDaemon`).
pub fn check_daemon(pidfile: &Path) -> Result<Option<i32>, PidFileError> {
    let Ok(file) = File::open(pidfile) else {
        return Ok(None);
    };
    let probe = Flock::from(FlockType::ReadLock);
    let holder = match fcntl_getlk(&file, &probe) {
        Ok(Some(lock)) => lock.pid.map(Pid::as_raw_nonzero).map(|p| p.get()),
        Ok(None) | Err(_) => return Ok(None),
    };
    let content = std::fs::read_to_string(pidfile).unwrap_or_default();
    let listed: Option<i32> = content.trim().parse().ok();
    match (holder, listed) {
        (Some(h), Some(l)) if h == l => Ok(Some(h)),
        (Some(h), Some(l)) => Err(PidFileError::Stale {
            path: pidfile.to_path_buf(),
            got: l,
            expected: h,
        }),
        _ => Ok(None),
    }
}

/// Stops the running daemon, if any, with `SIGTERM` (git-annex's
/// `stopDaemon`). Returns the pid signalled.
pub fn stop_daemon(pidfile: &Path) -> Result<Option<i32>, PidFileError> {
    let Some(pid) = check_daemon(pidfile)? else {
        return Ok(None);
    };
    if let Some(p) = Pid::from_raw(pid) {
        kill_process(p, Signal::TERM).map_err(|e| PidFileError::Io {
            op: "signal the daemon named in",
            path: pidfile.to_path_buf(),
            source: e.into(),
        })?;
    }
    Ok(Some(pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_writes_pid_and_renames_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let pid = dir.path().join("daemon.pid");
        let _lock = lock_pid_file(&pid).unwrap();
        assert_eq!(
            std::fs::read_to_string(&pid).unwrap(),
            std::process::id().to_string()
        );
        assert!(!dir.path().join("daemon.pid.new").exists());
    }

    #[test]
    fn no_pid_file_means_no_daemon() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(check_daemon(&dir.path().join("daemon.pid")).unwrap(), None);
        assert_eq!(stop_daemon(&dir.path().join("daemon.pid")).unwrap(), None);
    }

    #[test]
    fn unlocked_pid_file_means_no_daemon() {
        let dir = tempfile::tempdir().unwrap();
        let pid = dir.path().join("daemon.pid");
        std::fs::write(&pid, "12345").unwrap();
        // F_GETLK does not see this process's own locks, and no one else
        // holds one.
        assert_eq!(check_daemon(&pid).unwrap(), None);
    }
}
