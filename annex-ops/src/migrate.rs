//! `migrate`: files moved to another backend (`--backend`, else
//! `annex.backend`, else SHA256E): the content here checked against its
//! old key (when that backend has a checksum), its new key computed, the
//! metadata and URLs of the old key given to the new one, and the file
//! rekeyed ([`crate::rekey`]). Files whose content is not here are left
//! alone, as git-annex leaves them.
//!
//! ```no_run
//! use annex_core::backend::Backend;
//! use annex_ops::session::{OpenOptions, Session};
//! let (session, _) = Session::open(&OpenOptions::new(".".as_ref()))?;
//! let wt = session.worktree()?;
//! let (key, locked) = wt.lookup_key(b"a")?.ok_or("not annexed")?;
//! let file = annex_core::worktree::AnnexedFile { path: b"a".to_vec(), key, locked };
//! if annex_ops::migrate::wanted(&session, &file, Backend::Sha256E, false) {
//!     let new = annex_ops::migrate::migrate(&session, &file, Backend::Sha256E)?;
//!     println!("{new}");
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;

use annex_core::backend::{Backend, KeyOptions, KeySource};
use annex_core::key::Key;
use annex_core::logs::metadata::MetaData;
use annex_core::worktree::AnnexedFile;

use crate::rekey::RekeyError;
use crate::session::Session;

/// What can go wrong migrating.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The content here is not its old key's.
    #[error("content does not match its key; not migrating")]
    BadContent,
    /// The content could not be read or hashed.
    #[error(transparent)]
    Backend(#[from] annex_core::backend::BackendError),
    /// The logs could not be read or written.
    #[error(transparent)]
    Branch(#[from] annex_core::branch::BranchError),
    /// Rekeying failed.
    #[error(transparent)]
    Rekey(#[from] RekeyError),
}

/// The backend files migrate to: `--backend`, else `annex.backend`, else
/// SHA256E. `None` for a name no backend has.
pub fn target_backend(session: &Session, option: Option<&str>) -> Option<Backend> {
    let name = option.map(str::to_owned).or_else(|| {
        session
            .config
            .get_str("annex.backend")
            .filter(|v| !v.is_empty())
    });
    match name {
        Some(n) => Backend::from_name(&n),
        None => Some(Backend::Sha256E),
    }
}

/// Whether the file is migrated: its content is here, and its backend is
/// not the target one (or `force`).
pub fn wanted(session: &Session, file: &AnnexedFile, target: Backend, force: bool) -> bool {
    session.store.has(&file.key) && (force || Backend::for_key(&file.key) != Some(target))
}

/// Whether the old key's content is checked first (its backend has a
/// checksum).
pub fn checks_old(file: &AnnexedFile) -> bool {
    Backend::for_key(&file.key).is_some_and(|b| b.hash_kind().is_some())
}

/// Migrates one file whose content is here; returns its new key.
pub fn migrate(
    session: &Session,
    file: &AnnexedFile,
    target: Backend,
) -> Result<Key, MigrateError> {
    let Some(object) = session.store.find(&file.key) else {
        return Err(MigrateError::BadContent);
    };
    if annex_core::backend::verify_key(&file.key, &object)? == Some(false) {
        return Err(MigrateError::BadContent);
    }
    use std::os::unix::ffi::OsStrExt;
    let name = Path::new(std::ffi::OsStr::from_bytes(&file.path));
    let source = KeySource {
        content: &object,
        name,
    };
    let new = target.key_for_file(&source, &KeyOptions::default())?;
    if new != file.key {
        let current = session.state.metadata(&file.key)?;
        if !current.is_empty() {
            let mut set = MetaData::default();
            for f in current.fields.values() {
                for v in f.values.keys() {
                    set.update(&f.name, v.clone(), true);
                }
            }
            session.state.change_metadata(&new, &set)?;
        }
        for url in session.state.urls(&file.key)? {
            session.state.set_url(&new, &url, true)?;
        }
        crate::rekey::rekey(session, file, &new)?;
    }
    Ok(new)
}
