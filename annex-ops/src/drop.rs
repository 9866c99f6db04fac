//! Dropping content, here or from a remote, only when enough other copies
//! are verified at that moment (git-annex's numcopies and mincopies), with
//! the copies' locks held until the content is gone.
//!
//! The decision is a value: [`DropOutcome::Refused`] carries the copies
//! that were verified and where else the content is said to be, for the
//! caller to explain.

use annex_core::content::{self, ContentError, DropCheck, VerifiedCopy};
use annex_core::key::Key;
use annex_core::logs::presence::Status;
use annex_core::logs::trust::TrustLevel;
use annex_core::remote::ContentLockGuard;
use annex_core::uuid::Uuid;

use crate::annex::{Annex, AnnexError, Whereabouts};
use crate::item::Item;
use crate::remotes::RemoteEntry;

/// A drop's failure that ends the run (the repository's state could not
/// be read or changed).
#[derive(Debug, thiserror::Error)]
pub enum DropError {
    /// Reading the settings or logs failed.
    #[error(transparent)]
    Annex(#[from] AnnexError),
    /// The location log could not be written.
    #[error(transparent)]
    Branch(#[from] annex_core::branch::BranchError),
    /// The content could not be removed.
    #[error(transparent)]
    Content(#[from] ContentError),
}

/// Copies verified for a drop, and the locks that keep them.
#[derive(Debug)]
pub struct Proof {
    /// The verified copies and the rule.
    pub check: DropCheck,
    /// Locks on remotes' copies.
    pub locks: Vec<Box<dyn ContentLockGuard>>,
    /// Remotes that could not be checked.
    pub bad: Vec<String>,
    /// Repositories found without the content.
    pub missing: Vec<Uuid>,
    /// The lock on this repository's copy, when used.
    pub here_lock: Option<content::SharedContentLock>,
}

/// Why a drop was refused: what was verified, and where else to look.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The copies verified against numcopies and mincopies.
    pub check: DropCheck,
    /// Remotes that could not be checked (by name).
    pub unreachable: Vec<String>,
    /// Where else the content is said to be (less the copies verified,
    /// those found without it, and the repository dropped from).
    pub whereabouts: Whereabouts,
}

/// What a drop did.
#[derive(Debug, Clone)]
pub enum DropOutcome {
    /// The content is gone (or was not there) and the location log says so.
    Dropped,
    /// Not enough copies could be verified: nothing was removed.
    Refused(Box<Refusal>),
    /// The content here is locked by another process (`content is locked`).
    Locked,
    /// The content here could not be locked for removal (the error).
    Unlockable(String),
    /// The remote could not be reached or failed to remove the content
    /// (git-annex's warning).
    RemoteFailed(String),
    /// The copies were proven, but by locks that lapse on their own (a
    /// remote's lock over the P2P protocol), and they may have lapsed
    /// before the removal could start: nothing was removed (git-annex's
    /// "Dropping took too long").
    ProofExpired,
    /// The item's work-tree file is beyond a symbolic link (or otherwise
    /// not a path of the work tree, see [`Annex::refused_path`]): nothing
    /// was done. The message names the path.
    PathRefused(String),
}

impl DropOutcome {
    /// Whether the content is gone.
    pub fn dropped(&self) -> bool {
        matches!(self, DropOutcome::Dropped)
    }
}

/// How a drop is done.
#[derive(Debug, Clone, Copy, Default)]
pub struct DropOptions<'a> {
    /// Drop without verifying copies (`--force`).
    pub force: bool,
    /// A remote to check before the others (git-annex checks the remote
    /// just copied to first).
    pub first: Option<&'a Uuid>,
}

impl Annex {
    /// Verifies the global numcopies and mincopies copies for a drop of
    /// `key` from `dropping_from`; see [`Annex::verify_copies_with`].
    pub fn verify_copies(
        &self,
        key: &Key,
        dropping_from: &Uuid,
        local_removal: bool,
        first: Option<&Uuid>,
    ) -> Result<Proof, AnnexError> {
        self.verify_copies_with(
            self.numcopies,
            self.mincopies,
            key,
            dropping_from,
            local_removal,
            first,
        )
    }

    /// Verifies `numcopies` copies (and `mincopies` checked now) for a drop
    /// of `key` from `dropping_from`, in git-annex's order: trusted
    /// repositories count at once; then this repository (when dropping
    /// from a remote), then remotes, cheapest first (`first` before the
    /// others), each locked, or else checked. Untrusted and dead
    /// repositories never count. The proof holds the locks: drop while it
    /// lives.
    pub fn verify_copies_with(
        &self,
        numcopies: i64,
        mincopies: i64,
        key: &Key,
        dropping_from: &Uuid,
        local_removal: bool,
        first: Option<&Uuid>,
    ) -> Result<Proof, AnnexError> {
        let mut check = DropCheck::new(numcopies, mincopies, local_removal);
        let locs = self.locations(key)?;
        let mut proof = Proof {
            check: DropCheck::new(0, 0, true),
            locks: Vec::new(),
            bad: Vec::new(),
            missing: Vec::new(),
            here_lock: None,
        };
        for u in &locs {
            if u != dropping_from && self.trust_of(u) == TrustLevel::Trusted {
                check.have.push(VerifiedCopy::Trusted(u.clone()));
            }
        }
        let skip = |u: &Uuid| {
            u == dropping_from
                || matches!(
                    self.trust_of(u),
                    TrustLevel::Trusted | TrustLevel::Untrusted | TrustLevel::Dead
                )
        };
        let here = self.here();
        if !check.is_safe() && !skip(here) && locs.contains(here) && here != dropping_from {
            match content::lock_shared(&self.session.store, key) {
                Ok(l) => {
                    check.have.push(VerifiedCopy::Locked(here.clone()));
                    proof.here_lock = Some(l);
                }
                Err(_) => proof.missing.push(here.clone()),
            }
        }
        let mut order: Vec<&RemoteEntry> = Vec::new();
        if let Some(f) = first
            && let Some(r) = self.remotes.by_uuid(f)
        {
            order.push(r);
        }
        for r in &self.remotes.entries {
            if !order.iter().any(|o| std::ptr::eq(*o, r)) {
                order.push(r);
            }
        }
        for entry in order {
            if check.is_safe() {
                break;
            }
            let Some(u) = entry.uuid.as_ref() else {
                continue;
            };
            let forced_first = first == Some(u);
            if skip(u) || (!locs.contains(u) && !forced_first) {
                continue;
            }
            let Some(remote) = entry.usable() else {
                proof.bad.push(entry.name.clone());
                continue;
            };
            if remote.locks_over_network() {
                self.note_lock(&entry.name);
            }
            match remote.lock_content(key) {
                Ok(guard) => {
                    check.have.push(VerifiedCopy::Locked(u.clone()));
                    proof.locks.push(guard);
                }
                Err(_) => match remote.check_present(key) {
                    Ok(true) => check.have.push(VerifiedCopy::RecentlyVerified(u.clone())),
                    Ok(false) => proof.missing.push(u.clone()),
                    Err(_) => proof.bad.push(entry.name.clone()),
                },
            }
        }
        proof.check = check;
        Ok(proof)
    }

    /// The refusal for an unsafe proof: where else the content is said to
    /// be, less the copies verified, `skip` and those found missing.
    fn refusal(&self, key: &Key, proof: &Proof, skip: &[Uuid]) -> Result<Refusal, AnnexError> {
        let mut exclude: Vec<Uuid> = proof.check.have.iter().map(|c| c.uuid().clone()).collect();
        exclude.extend(skip.iter().cloned());
        exclude.extend(proof.missing.iter().cloned());
        Ok(Refusal {
            check: proof.check.clone(),
            unreachable: proof.bad.clone(),
            whereabouts: self.whereabouts(key, &exclude)?,
        })
    }

    /// Drops the item's content from this repository when the copies
    /// verified now allow it (or `force`), under its removal lock: an
    /// unlocked file gets its pointer back, the content is removed, and the
    /// location log updated. A work-tree file's `annex.numcopies` and
    /// `annex.mincopies` attributes win over the global settings.
    pub fn drop_here(
        &self,
        item: &Item,
        options: DropOptions<'_>,
    ) -> Result<DropOutcome, DropError> {
        self.drop_here_logging(item, options, false)
    }

    /// [`Annex::drop_here`] of content no file uses, as `dropunused`
    /// drops it: the location log then says the content is gone from here
    /// for good (`X`), as git-annex records it.
    pub fn drop_unused_here(
        &self,
        item: &Item,
        options: DropOptions<'_>,
    ) -> Result<DropOutcome, DropError> {
        self.drop_here_logging(item, options, true)
    }

    fn drop_here_logging(
        &self,
        item: &Item,
        options: DropOptions<'_>,
        dead: bool,
    ) -> Result<DropOutcome, DropError> {
        if let Some(e) = self.refused_path(item) {
            return Ok(DropOutcome::PathRefused(e.to_string()));
        }
        let key = &item.key;
        let lock = match content::lock_for_removal(&self.session.store, key) {
            Ok(Some(l)) => l,
            Ok(None) => {
                self.session.state.set_present(key, self.here(), false)?;
                return Ok(DropOutcome::Dropped);
            }
            Err(ContentError::Locked { .. }) => return Ok(DropOutcome::Locked),
            Err(e) => return Ok(DropOutcome::Unlockable(e.to_string())),
        };
        let proof = if options.force {
            None
        } else {
            let (numcopies, mincopies) = self.copies_for(item);
            let proof = self.verify_copies_with(
                numcopies,
                mincopies,
                key,
                self.here(),
                true,
                options.first,
            )?;
            if !proof.check.is_safe() {
                let refusal = self.refusal(key, &proof, &[]);
                drop(proof);
                drop(lock);
                return Ok(DropOutcome::Refused(Box::new(refusal?)));
            }
            Some(proof)
        };
        // A proof whose locks lapse on their own is good only until the
        // first lapses.
        if let Some(end) = proof
            .as_ref()
            .and_then(|p| p.locks.iter().filter_map(|l| l.valid_until()).min())
            && std::time::SystemTime::now() >= end
        {
            drop(proof);
            drop(lock);
            return Ok(DropOutcome::ProofExpired);
        }
        self.depopulate_unlocked(item);
        // The log first, then the content: a kill between the two leaves
        // the content here while the log says it is gone, so other
        // repositories count one copy fewer, never one more; the next drop
        // removes it (and fsck fixes the log). The other order (git-annex's)
        // can leave the log counting a copy that is gone.
        let gone = if dead { Status::Dead } else { Status::Missing };
        self.session.state.set_status(key, self.here(), gone)?;
        if let Err(e) = lock.remove_content(&self.session.store) {
            // Still here after all.
            let _ = self.session.state.set_present(key, self.here(), true);
            return Err(e.into());
        }
        drop(proof);
        drop(lock);
        if item.unlocked {
            self.refresh_index(item);
        }
        Ok(DropOutcome::Dropped)
    }

    /// Corrects the location log when this repository's copy of `key` is
    /// gone while the log still says it is here (a drop killed between
    /// removing the content and updating the log, by git-annex or an older
    /// version of ours): the log is updated, as `fsck` would. Nothing is
    /// shown for it (git-annex's `drop` skips such a file silently).
    /// Returns whether the log was changed.
    pub fn forget_lost_here(&self, key: &Key) -> Result<bool, DropError> {
        let store = &self.session.store;
        if store.has(key) || !self.session.state.whereis(key)?.contains(self.here()) {
            return Ok(false);
        }
        // Stored meanwhile (a get logs it present itself, after storing).
        if store.has(key) {
            return Ok(false);
        }
        self.session.state.set_present(key, self.here(), false)?;
        Ok(true)
    }

    /// Corrects the location log when this repository has the content of
    /// `key` while the log does not say so (a get or move killed after the
    /// content went into the store and before it was logged): the log is
    /// updated, silently, as `fsck` would. Done under the content's shared
    /// lock, so that a drop under way (which holds the removal lock from
    /// before it logs the content gone until it is gone) is never undone.
    /// Returns whether the log was changed.
    pub fn record_found_here(&self, key: &Key) -> Result<bool, annex_core::branch::BranchError> {
        let store = &self.session.store;
        if !store.has(key) {
            return Ok(false);
        }
        let Ok(_lock) = content::lock_shared(store, key) else {
            return Ok(false);
        };
        if !store.has(key) || self.session.state.whereis(key)?.contains(self.here()) {
            return Ok(false);
        }
        self.session.state.set_present(key, self.here(), true)?;
        Ok(true)
    }

    /// Drops the item's content from a remote when the copies verified now
    /// allow it (or `force`), and records that. A work-tree file's
    /// `annex.numcopies` and `annex.mincopies` attributes win over the
    /// global settings.
    pub fn drop_remote(
        &self,
        entry: &RemoteEntry,
        item: &Item,
        options: DropOptions<'_>,
    ) -> Result<DropOutcome, DropError> {
        if let Some(e) = self.refused_path(item) {
            return Ok(DropOutcome::PathRefused(e.to_string()));
        }
        let Some(ru) = entry.uuid.clone() else {
            return Ok(DropOutcome::RemoteFailed("cannot access remote".into()));
        };
        let key = &item.key;
        let proof = if options.force {
            None
        } else {
            let (n, m) = self.copies_for(item);
            let p = self.verify_copies_with(n, m, key, &ru, false, options.first)?;
            if !p.check.is_safe() {
                let refusal = self.refusal(key, &p, std::slice::from_ref(&ru));
                drop(p);
                return Ok(DropOutcome::Refused(Box::new(refusal?)));
            }
            Some(p)
        };
        let Some(remote) = entry.usable() else {
            return Ok(DropOutcome::RemoteFailed("cannot access remote".into()));
        };
        // The log first, as for a drop here: a kill before the remote
        // answers leaves the log counting one copy fewer, never one more.
        // Failing, the remote still has it as far as we know.
        let was = self.session.state.whereis(key)?.contains(&ru);
        self.session.state.set_present(key, &ru, false)?;
        // A proof holding locks that lapse on their own is good until the
        // first lapses: the remote is told to remove before then.
        let end = proof
            .as_ref()
            .and_then(|p| p.locks.iter().filter_map(|l| l.valid_until()).min());
        let r = remote.remove_before(key, end);
        for (u, present) in remote.take_fanout(key) {
            self.session.state.set_present(key, &u, present)?;
        }
        drop(proof);
        match r {
            Ok(()) => Ok(DropOutcome::Dropped),
            Err(e) => {
                if was {
                    self.session.state.set_present(key, &ru, true)?;
                }
                Ok(DropOutcome::RemoteFailed(e.to_string()))
            }
        }
    }
}
