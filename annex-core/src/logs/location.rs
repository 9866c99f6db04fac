//! Location logs (`HASHDIR/KEY.log`): a presence log whose INFO is the UUID
//! of a repository that has (`1`), lost (`0`) or will never again have
//! (`X`) the key's content.
//!
//! ```
//! use annex_core::logs::location::LocationLog;
//! let log = LocationLog::parse(b"1s 1 u1\n1s 1 u2\n2s 0 u2\n");
//! assert_eq!(log.present_uuids().len(), 1);
//! ```

use super::presence::{PresenceLog, Status};
use crate::timestamp::Timestamp;
use crate::uuid::Uuid;

/// A parsed location log.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LocationLog(pub PresenceLog);

impl LocationLog {
    /// Parses a location log.
    pub fn parse(content: &[u8]) -> LocationLog {
        LocationLog(PresenceLog::parse(content))
    }

    /// The UUIDs that have the content (lines whose INFO is not a valid UUID
    /// are left out).
    pub fn present_uuids(&self) -> Vec<Uuid> {
        self.uuids_with(|s| s == Status::Present)
    }

    /// The UUIDs whose current status matches.
    pub fn uuids_with(&self, f: impl Fn(Status) -> bool) -> Vec<Uuid> {
        self.0
            .with_status(f)
            .into_iter()
            .filter_map(|i| Uuid::parse(i).ok())
            .collect()
    }

    /// Whether every logged location is dead (true for an empty log, as in
    /// git-annex).
    pub fn is_dead(&self) -> bool {
        self.0.current().values().all(|l| l.status == Status::Dead)
    }
}

/// The new content after logging a status for a UUID, or `None` when the
/// log already says so (git-annex then leaves the file alone).
pub fn set(old: &[u8], uuid: &Uuid, status: Status, candidate: Timestamp) -> Option<Vec<u8>> {
    PresenceLog::maybe_add(old, status, uuid.as_str().as_bytes(), candidate)
}

/// The new content after marking the key dead, as `git annex dead --key`
/// does: every location currently missing becomes dead, with a clock one
/// picosecond after its current one. `None` when nothing changes.
pub fn set_dead(old: &[u8]) -> Option<Vec<u8>> {
    let log = PresenceLog::parse(old);
    let missing: Vec<(Vec<u8>, Timestamp)> = log
        .current()
        .into_values()
        .filter(|l| l.status == Status::Missing)
        .map(|l| (l.info.clone(), l.date))
        .collect();
    let mut content = old.to_vec();
    let mut changed = false;
    for (info, date) in missing {
        let c = date.plus_picos(1);
        if let Some(new) = PresenceLog::maybe_add(&content, Status::Dead, &info, c) {
            content = new;
            changed = true;
        }
    }
    changed.then_some(content)
}
