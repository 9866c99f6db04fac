//! The daemon's status file, `.git/annex/daemon.status`, with git-annex's
//! fields (`Assistant.DaemonStatus`): `lastRunning` (a POSIX time as
//! Haskell shows it, e.g. `1733570000.25s`), `scanComplete` and
//! `sanityCheckRunning` (`True`/`False`) and `lastSanityCheck` (empty when
//! none). Written to a temporary file and renamed into place.

use std::io;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// What the status file records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DaemonStatus {
    /// The startup scan has finished.
    pub scan_complete: bool,
    /// A sanity check is running.
    pub sanity_check_running: bool,
    /// When the last sanity check ran.
    pub last_sanity_check: Option<SystemTime>,
}

/// A time as Haskell shows a `POSIXTime`: seconds, the fraction without
/// trailing zeros, then `s`.
pub fn show_posix_time(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let frac = format!("{:09}", d.subsec_nanos());
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{}s", d.as_secs())
    } else {
        format!("{}.{}s", d.as_secs(), frac)
    }
}

fn show_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

impl DaemonStatus {
    /// The file's text, with `now` as `lastRunning`.
    pub fn serialize(&self, now: SystemTime) -> String {
        format!(
            "lastRunning:{}\nscanComplete:{}\nsanityCheckRunning:{}\nlastSanityCheck:{}\n",
            show_posix_time(now),
            show_bool(self.scan_complete),
            show_bool(self.sanity_check_running),
            self.last_sanity_check
                .map(show_posix_time)
                .unwrap_or_default()
        )
    }

    /// Writes the status file atomically.
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let mut tmp = path.as_os_str().to_os_string();
        tmp.push(".tmp");
        std::fs::write(&tmp, self.serialize(SystemTime::now()))?;
        std::fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fields_as_git_annex_writes_them() {
        let t = UNIX_EPOCH + Duration::new(1_733_570_000, 250_000_000);
        let s = DaemonStatus {
            scan_complete: true,
            ..Default::default()
        };
        assert_eq!(
            s.serialize(t),
            "lastRunning:1733570000.25s\nscanComplete:True\nsanityCheckRunning:False\nlastSanityCheck:\n"
        );
        assert_eq!(show_posix_time(UNIX_EPOCH + Duration::from_secs(7)), "7s");
    }
}
