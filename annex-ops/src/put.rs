//! Putting content on a remote (`copy --to`, `move --to`): uploaded unless
//! the remote has it already, and, moving, dropped here afterwards.

use annex_core::key::Key;
use annex_core::remote::{Remote, RemoteError};
use annex_core::transfer::Direction;

use crate::annex::{Annex, AnnexError};
use crate::drop::{DropError, DropOptions, DropOutcome};
use crate::item::Item;
use crate::observer::{Observer, Warning};
use crate::remotes::RemoteEntry;

/// How a put acts.
#[derive(Debug, Clone, Copy, Default)]
pub struct PutOptions {
    /// A move: this repository's copy is dropped afterwards.
    pub moving: bool,
    /// Moving: drop here without verifying copies when the remote had the
    /// content already (`--force`).
    pub force: bool,
    /// Copy: trust the location log instead of checking the remote
    /// (`--fast`).
    pub fast: bool,
    /// Copy: only what the remote wants (`--auto`).
    pub auto: bool,
}

/// What a put of one item did.
#[derive(Debug)]
pub enum PutOutcome {
    /// The remote could not be opened.
    Unreachable,
    /// Whether the remote has the content could not be checked.
    CheckFailed(RemoteError),
    /// The upload failed (a warning went to the observer).
    Failed,
    /// The remote has the content (copy).
    Copied,
    /// The remote has the content, and this repository's copy was dropped
    /// or not. `verified` says whether the drop had to verify copies (the
    /// remote had the content before).
    Moved {
        /// The drop here.
        dropped: DropOutcome,
        /// Whether copies were verified (else the drop was forced: the
        /// upload kept the number of copies).
        verified: bool,
    },
}

impl Annex {
    /// Whether a put of `item` to `entry` acts at all: the content is here,
    /// the remote is not this repository, `--auto` (copy) and the remote
    /// wants it, and `--fast` (copy) and the location log does not already
    /// say the remote has it.
    pub fn wants_put(
        &self,
        item: &Item,
        entry: &RemoteEntry,
        options: PutOptions,
    ) -> Result<bool, AnnexError> {
        if !self.session.store.has(&item.key) || entry.uuid.as_ref() == Some(self.here()) {
            return Ok(false);
        }
        if options.auto && !options.moving && !self.auto_wants_copy(item, entry.uuid.as_ref())? {
            return Ok(false);
        }
        if options.fast
            && !options.moving
            && let Some(u) = entry.uuid.as_ref()
            && self.locations(&item.key)?.contains(u)
        {
            return Ok(false);
        }
        Ok(true)
    }

    /// Asks `remote` at once (one round trip over a connection) whether
    /// it has the keys the [queue](crate::queue) uploaded to it: a
    /// [`put`](Annex::put) of one of them that it has then needs no
    /// question of its own. Keys it does not have are left for `put` to
    /// ask again (and fail).
    pub fn confirm_uploads(&self, remote: &dyn Remote, keys: &[&Key]) {
        let answers = remote.check_present_many(keys);
        let mut confirmed = self.confirmed.lock().unwrap_or_else(|p| p.into_inner());
        for (key, answer) in keys.iter().zip(answers) {
            if matches!(answer, Ok(true)) {
                confirmed.insert((remote.uuid().clone(), (*key).clone()));
            }
        }
    }

    /// Puts `item` (that the caller [wants](Annex::wants_put)) on the
    /// remote. `uploaded`: the [queue](crate::queue) already uploaded it;
    /// it is recorded now, once the remote is seen to have it (else the
    /// put fails: nothing is recorded or dropped).
    pub fn put(
        &self,
        item: &Item,
        entry: &RemoteEntry,
        options: PutOptions,
        uploaded: bool,
        obs: &mut dyn Observer,
    ) -> Result<PutOutcome, DropError> {
        let Some(remote) = entry.usable() else {
            return Ok(PutOutcome::Unreachable);
        };
        if uploaded {
            obs.note(&crate::transfer::transfer_note(
                Direction::Upload,
                remote.name(),
            ));
            // The caller's word is not enough to record the copy (a move
            // then drops here without counting copies): the remote must
            // have the content now.
            let confirmed = self
                .confirmed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&(remote.uuid().clone(), item.key.clone()));
            if !confirmed && !matches!(remote.check_present(&item.key), Ok(true)) {
                obs.warning(&Warning::Message(
                    "the upload could not be confirmed: the remote does not have the content",
                ));
                return Ok(PutOutcome::Failed);
            }
            self.uploaded(remote, item)?;
        }
        let fast = options.fast && !options.moving && !uploaded;
        let there = if uploaded || fast {
            false
        } else {
            match remote.check_present(&item.key) {
                Ok(b) => b,
                Err(e) => return Ok(PutOutcome::CheckFailed(e)),
            }
        };
        if !there && !uploaded {
            if let Err(error) = self.upload(remote, item, obs) {
                obs.warning(&Warning::Remote {
                    remote: &entry.name,
                    direction: Direction::Upload,
                    error: &error,
                });
                return Ok(PutOutcome::Failed);
            }
        } else if !self.locations(&item.key)?.contains(remote.uuid()) {
            self.session
                .state
                .set_present(&item.key, remote.uuid(), true)?;
        }
        if !options.moving {
            return Ok(PutOutcome::Copied);
        }
        // The move: the remote now has it; drop here. When the remote had
        // it already, the copies must be verified (it is checked first).
        let dropped = if !there {
            self.drop_here(
                item,
                DropOptions {
                    force: true,
                    first: None,
                },
            )?
        } else {
            self.drop_here(
                item,
                DropOptions {
                    force: options.force,
                    first: Some(remote.uuid()),
                },
            )?
        };
        Ok(PutOutcome::Moved {
            dropped,
            verified: there,
        })
    }
}
