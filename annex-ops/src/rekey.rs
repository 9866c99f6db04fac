//! `rekey`: a file made to use another key for the same content (another
//! backend, a fixed key). The content here, when present, is checked
//! against the new key (when its backend has a checksum), stored under it
//! (the old object stays, now unused), the new key logged present, and the
//! file's symlink or pointer replaced and staged.
//!
//! ```no_run
//! use annex_ops::session::{OpenOptions, Session};
//! let (session, _) = Session::open(&OpenOptions::new(".".as_ref()))?;
//! let wt = session.worktree()?;
//! let (key, locked) = wt.lookup_key(b"a")?.ok_or("not annexed")?;
//! let file = annex_core::worktree::AnnexedFile { path: b"a".to_vec(), key, locked };
//! let new = annex_core::key::Key::parse(b"WORM-s2-m1700000000--a")?;
//! annex_ops::rekey::rekey(&session, &file, &new)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::os::unix::ffi::OsStrExt;

use annex_core::backend::Backend;
use annex_core::ingest::{self, Ingester};
use annex_core::key::Key;
use annex_core::pointer::Thin;
use annex_core::worktree::AnnexedFile;

use crate::session::Session;

/// What can go wrong rekeying.
#[derive(Debug, thiserror::Error)]
pub enum RekeyError {
    /// The content here is not the new key's content.
    #[error("failed creating link from old to new key")]
    Verification,
    /// The repository has no work tree.
    #[error(transparent)]
    Session(#[from] crate::session::SessionError),
    /// The content could not be stored.
    #[error(transparent)]
    Objects(#[from] annex_core::objects::ObjectsError),
    /// The file could not be replaced or staged.
    #[error(transparent)]
    Ingest(#[from] ingest::IngestError),
    /// The location log could not be written.
    #[error(transparent)]
    Branch(#[from] annex_core::branch::BranchError),
    /// The content could not be read to check it.
    #[error(transparent)]
    Backend(#[from] annex_core::backend::BackendError),
    /// The old content could not be linked or copied.
    #[error("cannot link or copy {}: {source}", path.display())]
    Io {
        /// The object.
        path: std::path::PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// Stores the object `old` (another key's content in the store) as the
/// content of `new`, as git-annex's `linkKey'` does: a hard link when the
/// object has no other name (else a copy, keeping its modification time,
/// so that no unlocked file's content becomes the new key's), made in
/// `annex/othertmp`, checked against `new` first when `verify` (the
/// content must be the key's: [`RekeyError::Verification`]), then moved
/// into place. Nothing is changed on error.
pub fn store_linked(
    session: &Session,
    old: &std::path::Path,
    new: &Key,
    verify: bool,
) -> Result<(), RekeyError> {
    use std::os::unix::fs::MetadataExt;
    let io = |source| RekeyError::Io {
        path: old.to_path_buf(),
        source,
    };
    let tmpdir = session.store.other_tmp()?;
    let tmp = tmpdir.path("rekey");
    let meta = std::fs::metadata(old).map_err(io)?;
    if meta.nlink() > 1 || std::fs::hard_link(old, &tmp).is_err() {
        let copied = std::fs::copy(old, &tmp).and_then(|_| {
            let f = std::fs::File::options().write(true).open(&tmp)?;
            f.set_modified(meta.modified()?)
        });
        if let Err(e) = copied {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
    }
    if verify {
        match annex_core::backend::verify_key(new, &tmp) {
            Ok(Some(true)) => {}
            other => {
                let _ = std::fs::remove_file(&tmp);
                other?;
                return Err(RekeyError::Verification);
            }
        }
    }
    if let Err(e) = session.store.ingest_from_temp(&tmp, new) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.into());
    }
    Ok(())
}

/// Whether rekeying a locked file to `key` checks the content (its backend
/// has a checksum and the content is here), which git-annex announces. The
/// content of an unlocked file is checked too, without a word, as
/// git-annex says none.
pub fn verifies(session: &Session, file: &AnnexedFile, key: &Key) -> bool {
    file.locked
        && session.store.has(&file.key)
        && Backend::for_key(key).is_some_and(|b| b.hash_kind().is_some())
}

/// Makes `file` use `new`: its content stored under the new key (checked
/// first), the new key logged present here, the file replaced and staged.
pub fn rekey(session: &Session, file: &AnnexedFile, new: &Key) -> Result<(), RekeyError> {
    let wt = session.worktree()?;
    let top = wt
        .top()
        .canonicalize()
        .unwrap_or_else(|_| wt.top().to_path_buf());
    if let Some(old) = session.store.find(&file.key) {
        if annex_core::backend::verify_key(new, &old)? == Some(false) {
            return Err(RekeyError::Verification);
        }
        store_linked(session, &old, new, false)?;
    }
    let repo = wt.repo();
    let entry = if file.locked {
        let ingester = Ingester::new(top, session.store.clone(), Backend::Sha256E);
        ingest::make_link(repo, &ingester, &file.path, new, true)?
    } else {
        let full = top.join(std::ffi::OsStr::from_bytes(&file.path));
        if let Ok(Some(_)) = annex_core::pointer::is_pointer_file(&full) {
            // Content absent: the pointer itself names the new key.
            session
                .store
                .replace_file(&full, |tmp| {
                    std::fs::write(tmp, annex_core::pointer::format_pointer(new))
                })
                .map_err(|source| ingest::IngestError::Io {
                    op: "replace",
                    path: full.clone(),
                    source,
                })?;
        }
        ingest::unlock(repo, &top, &session.store, &file.path, new, Thin::Copy)?
    };
    ingest::stage(repo, &[entry])?;
    if session.store.has(new) {
        session.state.set_present(new, session.here(), true)?;
    }
    Ok(())
}
