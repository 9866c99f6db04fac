//! The daemon's log, `.git/annex/daemon.log`: rotated when opened, as
//! git-annex's `Utility.LogFile` rotates it (`daemon.log` becomes
//! `daemon.log.1`, `.1` becomes `.2`, and so on; numbers up to 9 move up
//! one, so at most `daemon.log.10` is kept).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// How many rotated logs are moved up (git-annex's `maxLogs`).
pub const MAX_LOGS: u32 = 9;

fn rotated(log: &Path, n: u32) -> PathBuf {
    if n == 0 {
        return log.to_path_buf();
    }
    let mut s = log.as_os_str().to_os_string();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}

/// Moves `log` to `log.1`, `log.1` to `log.2`, ... (the highest first),
/// stopping at the first number that does not exist, as git-annex does.
pub fn rotate(log: &Path) -> io::Result<()> {
    let mut top = 0;
    while top <= MAX_LOGS && rotated(log, top).exists() {
        top += 1;
    }
    for n in (0..top).rev() {
        std::fs::rename(rotated(log, n), rotated(log, n + 1))?;
    }
    Ok(())
}

/// Rotates the log and opens a fresh one for appending.
pub fn open(log: &Path) -> io::Result<File> {
    rotate(log)?;
    OpenOptions::new().create(true).append(true).open(log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_moves_each_log_up_one() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("daemon.log");
        std::fs::write(&log, "0").unwrap();
        std::fs::write(rotated(&log, 1), "1").unwrap();
        std::fs::write(rotated(&log, 3), "3").unwrap();
        open(&log).unwrap();
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "");
        assert_eq!(std::fs::read_to_string(rotated(&log, 1)).unwrap(), "0");
        assert_eq!(std::fs::read_to_string(rotated(&log, 2)).unwrap(), "1");
        // A gap stops the rotation, as git-annex's does.
        assert_eq!(std::fs::read_to_string(rotated(&log, 3)).unwrap(), "3");
    }

    #[test]
    fn rotation_keeps_at_most_ten() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("daemon.log");
        for n in 0..=10 {
            std::fs::write(rotated(&log, n), n.to_string()).unwrap();
        }
        rotate(&log).unwrap();
        assert!(!log.exists());
        assert_eq!(std::fs::read_to_string(rotated(&log, 10)).unwrap(), "9");
        assert!(!rotated(&log, 11).exists());
    }
}
