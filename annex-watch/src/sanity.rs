//! The sanity checker, as git-annex's assistant's `SanityChecker` threads:
//! once at startup (after `--startdelay`), then hourly and daily.
//!
//! - Stale transfer information (startup and hourly): a transfer
//!   information file under `.git/annex/transfer/{upload,download}/UUID/`
//!   whose lock no process holds was left by a transfer that died; it is
//!   removed with its lock files, so no one waits on a transfer that is
//!   not happening. The daemon's own transfers hold the repository lock
//!   the check is run under, so none of them is ever taken for stale.
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

/// Whether some other process holds a lock on `path` (asked without
/// taking it); a missing file is not locked.
fn locked_elsewhere(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    let probe = rustix::process::Flock::from(rustix::process::FlockType::WriteLock);
    matches!(rustix::process::fcntl_getlk(&file, &probe), Ok(Some(_)))
}

/// Removes the transfer information files of `git_dir` whose transfer no
/// process holds locked, with their lock files; returns those removed.
/// The caller makes sure no transfer of its own process is running.
pub fn remove_stale_transfers(git_dir: &Path) -> Vec<PathBuf> {
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
                let mut locks = vec![dir.path().join(&lck)];
                if direction == "download" {
                    locks.push(base.join("download").join("lck").join(&lck));
                }
                if locks.iter().any(|l| locked_elsewhere(l)) {
                    continue;
                }
                if std::fs::remove_file(f.path()).is_ok() {
                    for l in &locks {
                        let _ = std::fs::remove_file(l);
                    }
                    removed.push(f.path());
                }
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
}
