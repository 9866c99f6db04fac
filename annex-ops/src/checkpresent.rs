//! Asking a remote about a key's content: whether it has it now
//! (`checkpresentkey`), and locking it there (`lockcontent`, the proof a
//! drop elsewhere relies on).

use annex_core::key::Key;
use annex_core::remote::{ContentLockGuard, RemoteError};

use crate::annex::Annex;
use crate::remotes::RemoteEntry;

/// Why a remote could not answer.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The remote could not be opened.
    #[error("cannot access remote {remote}: {reason}")]
    Unreachable {
        /// The remote's name.
        remote: String,
        /// Why.
        reason: String,
    },
    /// The remote failed to answer.
    #[error(transparent)]
    Remote(#[from] RemoteError),
}

/// What the built-in bittorrent remote says of any key.
const TORRENT: &str = "cannot reliably check torrent status";

/// Whether content is present, as far as can be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// It is.
    Present,
    /// It is not.
    Absent,
    /// It could not be told (the last remote's reason).
    Unknown(String),
}

fn opened(entry: &RemoteEntry) -> Result<&dyn annex_core::remote::Remote, CheckError> {
    match &entry.remote {
        Ok(r) => Ok(r.as_ref()),
        Err(reason) => Err(CheckError::Unreachable {
            remote: entry.name.clone(),
            reason: reason.clone(),
        }),
    }
}

impl Annex {
    /// Whether the remote has the key's content now (git-annex's
    /// `checkPresent`): `Err` when it cannot tell.
    pub fn check_present(&self, entry: &RemoteEntry, key: &Key) -> Result<bool, CheckError> {
        Ok(opened(entry)?.check_present(key)?)
    }

    /// `checkpresentkey`: whether the remote `name` (or, with none, any
    /// remote: those the location log names first, then the others) has
    /// the key's content now. git-annex always has the bittorrent special
    /// remote, which cannot tell: with no remote named, a key found
    /// nowhere is [`Presence::Unknown`] with its message.
    pub fn check_present_key(&self, key: &Key, name: Option<&str>) -> Presence {
        let mut failure: Option<String> = None;
        let candidates: Vec<&RemoteEntry> = match name {
            Some(name) => self
                .remotes
                .entries
                .iter()
                .filter(|r| r.name == name)
                .collect(),
            None => {
                let locs = self.locations(key).unwrap_or_default();
                let (mut likely, others): (Vec<_>, Vec<_>) = self
                    .remotes
                    .entries
                    .iter()
                    .partition(|r| r.uuid.as_ref().is_some_and(|u| locs.contains(u)));
                likely.extend(others);
                likely
            }
        };
        for entry in candidates {
            match self.check_present(entry, key) {
                Ok(true) => return Presence::Present,
                Ok(false) => {}
                Err(CheckError::Unreachable { reason, .. }) => failure = Some(reason),
                Err(CheckError::Remote(e)) => failure = Some(e.to_string()),
            }
        }
        if name.is_none() {
            failure = Some(TORRENT.to_owned());
        }
        match failure {
            Some(f) => Presence::Unknown(f),
            None => Presence::Absent,
        }
    }

    /// Locks the remote's copy of the key so that it cannot be dropped
    /// while the guard lives.
    pub fn lock_content(
        &self,
        entry: &RemoteEntry,
        key: &Key,
    ) -> Result<Box<dyn ContentLockGuard>, CheckError> {
        Ok(opened(entry)?.lock_content(key)?)
    }
}
