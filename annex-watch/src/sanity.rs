//! The sanity checker, as git-annex's assistant's `SanityChecker` threads:
//! once at startup (after `--startdelay`), then hourly and daily.
//!
//! - Stale transfer information (startup and hourly): a transfer
//!   information file under `.git/annex/transfer/{upload,download}/UUID/`
//!   whose lock no process holds was left by a transfer that died; it is
//!   removed with its lock files, so no one waits on a transfer that is
//!   not happening. As the reference's check, it takes each lock before
//!   removing anything and holds it meanwhile, so a transfer that starts
//!   at that moment is never taken for stale; the lock (an open file
//!   description lock on Linux) also conflicts with the daemon's own
//!   transfers, which run in its process.
//! - Unstaged files (daily): what `git ls-files` finds new or modified and
//!   not staged (a change the watcher missed) is sent to the committer, as
//!   the startup scan's are.

use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// How often the hourly check runs.
pub const HOURLY: std::time::Duration = std::time::Duration::from_secs(3600);

/// How often the daily check runs.
pub const DAILY: std::time::Duration = std::time::Duration::from_secs(86400);

/// An exclusive lock on a transfer lock file, taken without waiting;
/// released when dropped (its descriptor closed).
struct Held {
    _file: File,
}

/// Takes an exclusive lock on the transfer lock file `path` at once, as
/// the reference's stale-transfer check does (`tryLockExclusive`); `None`
/// when a transfer holds it (or it cannot be opened or locked). On Linux
/// the lock is an open file description lock: it conflicts with the
/// record locks of every process, this one's own transfers included (the
/// daemon's transferrer runs in this process), and a transfer starting
/// meanwhile finds it held and does not start.
fn try_lock(path: &Path) -> Option<Held> {
    // Never opened while this process holds a lock on it (its own
    // transfer): closing the descriptor after a refused lock would release
    // that transfer's lock.
    annex_core::content::unless_held_here(path, || try_lock_unheld(path)).flatten()
}

/// [`try_lock`] of a file this process holds no lock on.
fn try_lock_unheld(path: &Path) -> Option<Held> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .ok()?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use nix::fcntl::{FcntlArg, fcntl};
        use nix::libc;
        // The whole file, for writing; `l_pid` must be 0 for OFD locks.
        let fl = libc::flock {
            l_type: libc::F_WRLCK as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: 0,
            l_len: 0,
            l_pid: 0,
        };
        fcntl(&file, FcntlArg::F_OFD_SETLK(&fl)).ok()?;
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    rustix::fs::fcntl_lock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).ok()?;
    Some(Held { _file: file })
}

/// Removes the transfer information files of `git_dir` whose transfer no
/// process holds, with their lock files; returns those removed. Each lock
/// file is taken first (for a download, the new lock then the old one,
/// the order transfers take them) and held while the files go, so a
/// transfer starting meanwhile is never taken for stale: it either holds
/// the lock (then nothing is removed) or cannot take it until the stale
/// files are gone.
pub fn remove_stale_transfers(git_dir: &Path) -> Vec<PathBuf> {
    remove_stale_transfers_with(git_dir, |_| {})
}

/// [`remove_stale_transfers`], calling `locked` with each information
/// file about to go, once its locks are held (for tests: what a transfer
/// starting at that moment meets).
pub fn remove_stale_transfers_with(git_dir: &Path, mut locked: impl FnMut(&Path)) -> Vec<PathBuf> {
    let base = git_dir.join("annex").join("transfer");
    let mut removed = Vec::new();
    for direction in ["upload", "download"] {
        let Ok(dirs) = std::fs::read_dir(base.join(direction)) else {
            continue;
        };
        for dir in dirs.filter_map(Result::ok) {
            let name = dir.file_name();
            // `download/lck/` holds only lock files.
            if name.as_bytes() == b"lck" || !dir.path().is_dir() {
                continue;
            }
            let Ok(files) = std::fs::read_dir(dir.path()) else {
                continue;
            };
            for f in files.filter_map(Result::ok) {
                let fname = f.file_name();
                if fname.as_bytes().starts_with(b"lck.") {
                    continue;
                }
                let mut lck = std::ffi::OsString::from("lck.");
                lck.push(&fname);
                // In the order transfers take them.
                let mut locks = Vec::new();
                if direction == "download" {
                    locks.push(base.join("download").join("lck").join(&lck));
                }
                locks.push(dir.path().join(&lck));
                // A lock file that is not there is held by no one; the
                // others are taken and held until the files are gone.
                let mut held = Vec::new();
                let mut busy = false;
                for l in &locks {
                    if std::fs::symlink_metadata(l).is_err() {
                        continue;
                    }
                    match try_lock(l) {
                        Some(h) => held.push(h),
                        None => {
                            busy = true;
                            break;
                        }
                    }
                }
                if busy {
                    continue;
                }
                locked(&f.path());
                if std::fs::remove_file(f.path()).is_ok() {
                    for l in &locks {
                        let _ = std::fs::remove_file(l);
                    }
                    removed.push(f.path());
                }
                drop(held);
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn stale_transfer_info_is_removed_and_live_is_kept() {
        let d = tempfile::tempdir().unwrap();
        let up = d.path().join("annex/transfer/upload/u1");
        std::fs::create_dir_all(&up).unwrap();
        std::fs::write(up.join("KEY1"), "1s\nf\n").unwrap();
        std::fs::write(up.join("lck.KEY1"), "").unwrap();
        std::fs::write(up.join("KEY2"), "1s\ng\n").unwrap();
        std::fs::write(up.join("lck.KEY2"), "").unwrap();
        // Another process holds KEY2's lock (flock(1) takes an fcntl lock
        // only with -x on some systems, so a tiny python does it).
        let mut holder = Command::new("python3")
            .arg("-c")
            .arg(
                "import fcntl,sys,time\nf=open(sys.argv[1],'r+')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('locked',flush=True)\ntime.sleep(30)",
            )
            .arg(up.join("lck.KEY2"))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(holder.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "locked");
        let removed = remove_stale_transfers(d.path());
        let _ = holder.kill();
        let _ = holder.wait();
        assert_eq!(removed, vec![up.join("KEY1")]);
        assert!(!up.join("KEY1").exists() && !up.join("lck.KEY1").exists());
        assert!(up.join("KEY2").exists());
    }

    /// Regression: the check looked at the lock and then removed the
    /// files without holding it, so a transfer starting in between lost
    /// its information file. Now a transfer trying to start while the
    /// stale files go finds the lock held.
    #[test]
    fn stale_transfer_cleanup_holds_the_lock_while_it_removes() {
        let d = tempfile::tempdir().unwrap();
        let down = d.path().join("annex/transfer/download/u1");
        let lckdir = d.path().join("annex/transfer/download/lck");
        std::fs::create_dir_all(&down).unwrap();
        std::fs::create_dir_all(&lckdir).unwrap();
        std::fs::write(down.join("KEY1"), "1s\nf\n").unwrap();
        std::fs::write(down.join("lck.KEY1"), "").unwrap();
        std::fs::write(lckdir.join("lck.KEY1"), "").unwrap();
        let mut tried = Vec::new();
        let removed = remove_stale_transfers_with(d.path(), |info| {
            // A transfer starting now, in another process, takes the new
            // lock then the old one without waiting, as git-annex does.
            for l in [lckdir.join("lck.KEY1"), down.join("lck.KEY1")] {
                let out = Command::new("python3")
                    .arg("-c")
                    .arg(
                        "import fcntl,sys\nf=open(sys.argv[1],'r+')\ntry:\n fcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB)\n print('took')\nexcept OSError:\n print('held')",
                    )
                    .arg(&l)
                    .output()
                    .unwrap();
                tried.push((
                    info.to_path_buf(),
                    String::from_utf8_lossy(&out.stdout).trim().to_string(),
                ));
            }
        });
        assert_eq!(removed, vec![down.join("KEY1")]);
        assert_eq!(
            tried,
            vec![
                (down.join("KEY1"), "held".to_string()),
                (down.join("KEY1"), "held".to_string())
            ]
        );
        assert!(!down.join("lck.KEY1").exists() && !lckdir.join("lck.KEY1").exists());
    }

    /// Regression: a transfer of the daemon's own process (its transferrer
    /// runs beside the checker) holds a lock the check could not see, as
    /// a process does not conflict with its own record locks.
    #[test]
    /// Regression: the cleanup opened the lock file of a transfer this
    /// process runs, its own lock refused it, and closing the descriptor
    /// released the transfer's POSIX lock: another process could then
    /// start the same transfer. The lock now survives the cleanup.
    fn stale_transfer_cleanup_leaves_this_processs_transfer_locked_for_others() {
        let d = tempfile::tempdir().unwrap();
        let key = annex_core::key::Key::parse(b"SHA256E-s1--aa").unwrap();
        let uuid = annex_core::uuid::Uuid::parse(b"11111111-2222-3333-4444-555555555555").unwrap();
        let t = annex_core::transfer::Transfer::start(
            d.path(),
            annex_core::transfer::Direction::Upload,
            &uuid,
            &key,
            b"f",
            false,
        )
        .unwrap();
        let p = annex_core::transfer::paths(
            d.path(),
            annex_core::transfer::Direction::Upload,
            &uuid,
            &key,
        );
        assert!(remove_stale_transfers(d.path()).is_empty());
        assert!(p.info.exists());
        let probe = std::process::Command::new("python3")
            .arg("-c")
            .arg("import fcntl,sys\nf=open(sys.argv[1],'r+')\ntry:\n fcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB)\n print('taken')\nexcept OSError:\n print('held')")
            .arg(&p.lock)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "held");
        t.finish(true);
    }

    #[test]
    fn stale_transfer_cleanup_keeps_a_transfer_of_this_process() {
        let d = tempfile::tempdir().unwrap();
        let up = d.path().join("annex/transfer/upload/u1");
        std::fs::create_dir_all(&up).unwrap();
        std::fs::write(up.join("KEY1"), "1s\nf\n").unwrap();
        let lck = up.join("lck.KEY1");
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lck)
            .unwrap();
        rustix::fs::fcntl_lock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).unwrap();
        assert!(remove_stale_transfers(d.path()).is_empty());
        assert!(up.join("KEY1").exists() && lck.exists());
        drop(f);
        assert_eq!(remove_stale_transfers(d.path()), vec![up.join("KEY1")]);
    }
}
