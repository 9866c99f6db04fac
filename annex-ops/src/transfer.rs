//! Moving content: a download into this repository, an upload to a
//! remote, each with its transfer information file, progress, and the
//! location log updated; and the pointer files of unlocked files kept in
//! step with the content.

use annex_core::branch::BranchError;
use annex_core::remote::{Remote, RemoteError};
use annex_core::transfer::{Direction, Transfer};

use crate::annex::Annex;
use crate::item::Item;
use crate::observer::Observer;
use crate::reserve;

/// A failure writing this repository's location log, as a transfer's error.
fn here_branch(source: BranchError) -> RemoteError {
    RemoteError::Branch {
        remote: "here".into(),
        source,
    }
}

/// `from REMOTE...` / `to REMOTE...`: git-annex's note for a transfer.
pub fn transfer_note(direction: Direction, remote: &str) -> String {
    match direction {
        Direction::Download => format!("from {remote}..."),
        Direction::Upload => format!("to {remote}..."),
    }
}

impl Annex {
    /// Downloads a key from a remote into this repository: transfer files
    /// held, content received into `annex/tmp` (resuming), verified, moved
    /// into the object store, an unlocked file's pointer replaced by the
    /// content, and this repository recorded as having it. The
    /// `from REMOTE...` note goes to the observer once content starts to
    /// come (or with a shortfall of disk space).
    pub fn download(
        &self,
        remote: &dyn Remote,
        item: &Item,
        obs: &mut dyn Observer,
    ) -> Result<(), RemoteError> {
        let note = transfer_note(Direction::Download, remote.name());
        if let Some(needed) = self.space_shortfall(&item.key) {
            obs.note(&note);
            return Err(RemoteError::NotEnoughSpace { needed });
        }
        let mut t = Transfer::start(
            self.session.repo.git_dir(),
            Direction::Download,
            remote.uuid(),
            &item.key,
            &item.top_path,
            false,
        )?;
        let tmp = self.session.store.tmp_path(&item.key);
        let mut started = false;
        let r = remote.retrieve(&item.key, &tmp, self.here(), &item.top_path, &mut |n| {
            if !started {
                obs.note(&note);
                started = true;
            }
            obs.progress(n);
            t.progress(n);
        });
        if started {
            obs.end(r.is_ok());
        }
        let r = r.and_then(|()| {
            self.session
                .store
                .ingest_from_temp(&tmp, &item.key)
                .map(drop)
                .map_err(RemoteError::from)
        });
        match r {
            Ok(()) => {
                t.finish(true);
                self.received(item).map_err(here_branch)
            }
            Err(e) => {
                t.finish(false);
                Err(e)
            }
        }
    }

    /// What follows a download of `item` (done here or by the
    /// [queue](crate::queue)): an unlocked file gets its content, and the
    /// location log says this repository has the key.
    pub fn received(&self, item: &Item) -> Result<(), BranchError> {
        self.populate_unlocked(item);
        self.session.state.set_present(&item.key, self.here(), true)
    }

    /// Uploads a key's content from this repository to a remote and records
    /// that the remote has it. The `to REMOTE...` note goes to the observer
    /// first. A repository with a maxsize has the key's size reserved
    /// first; one it would not fit in is [`RemoteError::NotEnoughSpace`].
    pub fn upload(
        &self,
        remote: &dyn Remote,
        item: &Item,
        obs: &mut dyn Observer,
    ) -> Result<(), RemoteError> {
        obs.note(&transfer_note(Direction::Upload, remote.name()));
        let src = self
            .session
            .store
            .find(&item.key)
            .ok_or(RemoteError::NotPresent)?;
        let reservation = match self.reserver.reserve(
            self.session.state.branch(),
            remote.uuid(),
            &item.key,
            self.enforce_maxsize,
        ) {
            Ok(reserve::Outcome::Reserved(r)) => Some(r),
            Ok(reserve::Outcome::Unlimited) => None,
            Ok(reserve::Outcome::Full(e)) => {
                return Err(RemoteError::NotEnoughSpace {
                    needed: reserve::shortfall(&e),
                });
            }
            Err(reason) => {
                return Err(RemoteError::Unavailable {
                    remote: remote.name().to_owned(),
                    reason,
                });
            }
        };
        let mut t = Transfer::start(
            self.session.repo.git_dir(),
            Direction::Upload,
            remote.uuid(),
            &item.key,
            &item.top_path,
            false,
        )?;
        let r = remote.store(&item.key, &src, self.here(), &item.top_path, &mut |n| {
            obs.progress(n);
            t.progress(n);
        });
        obs.end(r.is_ok());
        t.finish(r.is_ok());
        r?;
        self.uploaded(remote, item).map_err(here_branch)?;
        if let Some(r) = reservation {
            reserve::finish(r);
        }
        Ok(())
    }

    /// What follows an upload of `item` to `remote` (done here or by the
    /// [queue](crate::queue)): the location log says the remote has the
    /// key, and a reservation held for it is finished.
    pub fn uploaded(&self, remote: &dyn Remote, item: &Item) -> Result<(), BranchError> {
        self.session
            .state
            .set_present(&item.key, remote.uuid(), true)?;
        for (u, present) in remote.take_fanout(&item.key) {
            self.session.state.set_present(&item.key, &u, present)?;
        }
        self.reserver.finish(remote.uuid(), &item.key);
        Ok(())
    }

    /// After content arrived: an unlocked file whose work tree file is
    /// still the pointer gets the content (git-annex's
    /// `populatePointerFile`), written beside it and renamed over it with
    /// its mode kept, then the index entry refreshed. Best effort: the
    /// content is safely in the object store either way.
    pub fn populate_unlocked(&self, item: &Item) {
        let Some(path) = self.unlocked_path(item) else {
            return;
        };
        let thin =
            annex_core::pointer::Thin::from_config(self.session.config.get_bool("annex.thin"));
        if matches!(
            annex_core::pointer::populate_pointer(&path, &item.key, &self.session.store, thin),
            Ok(true)
        ) {
            self.refresh_index(item);
        }
    }

    /// Before content is dropped: an unlocked file whose work tree file
    /// holds the content (checked against the key) gets its pointer back
    /// (git-annex's `depopulatePointerFile`). A modified file is left alone.
    /// The index is refreshed once the object is gone (else a clean filter
    /// run now would put the content back).
    pub fn depopulate_unlocked(&self, item: &Item) {
        if let Some(path) = self.unlocked_path(item) {
            annex_core::pointer::depopulate_pointer(&path, &item.key, &self.session.store);
        }
    }
}
