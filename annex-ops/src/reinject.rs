//! `reinject`: content found outside the repository (a backup, a file
//! salvaged from elsewhere) moved back into the object store as the
//! content of a key, only when it is that content (checked by the key's
//! backend when it has a checksum), and recorded present here.
//!
//! ```no_run
//! use annex_ops::session::{OpenOptions, Session};
//! let (session, _) = Session::open(&OpenOptions::new(".".as_ref()))?;
//! let key = annex_core::key::Key::parse(b"SHA256E-s0--e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")?;
//! let done = annex_ops::reinject::reinject(&session, "/backup/empty".as_ref(), &key)?;
//! println!("{done:?}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;

use annex_core::backend::{Backend, KeyOptions, KeySource};
use annex_core::key::Key;

use crate::session::Session;

/// What can go wrong reinjecting.
#[derive(Debug, thiserror::Error)]
pub enum ReinjectError {
    /// The content could not be stored.
    #[error(transparent)]
    Objects(#[from] annex_core::objects::ObjectsError),
    /// The location log could not be written.
    #[error(transparent)]
    Branch(#[from] annex_core::branch::BranchError),
    /// The source could not be removed after it was stored.
    #[error("cannot remove {}: {source}", path.display())]
    Remove {
        /// The source.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// What happened to a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reinjected {
    /// Its content is now in the store (it was moved there, or the store
    /// had it already and the source was removed).
    Stored,
    /// It is not the content of the key: left alone.
    Mismatch,
}

/// Whether the backend of `key` can check content against it (a key of a
/// checksum backend), so that a note is shown while it is checked.
pub fn verifies(key: &Key) -> bool {
    Backend::for_key(key).is_some_and(|b| b.hash_kind().is_some())
}

/// Moves `src` into the store as the content of `key` when it is that
/// content, and records it present here.
pub fn reinject(session: &Session, src: &Path, key: &Key) -> Result<Reinjected, ReinjectError> {
    match annex_core::backend::verify_key(key, src) {
        Ok(Some(true)) | Ok(None) if src.is_file() => {}
        _ => return Ok(Reinjected::Mismatch),
    }
    session.store.ingest_file(src, key)?;
    std::fs::remove_file(src).map_err(|source| ReinjectError::Remove {
        path: src.to_path_buf(),
        source,
    })?;
    session.state.set_present(key, session.here(), true)?;
    Ok(Reinjected::Stored)
}

/// The key `src` would have with the repository's backend (`annex.backend`,
/// else SHA256E), when the branch knows it (it has a location log), as
/// `reinject --known` looks content up.
pub fn known_key(session: &Session, src: &Path) -> Option<Key> {
    let backend = session
        .config
        .get_str("annex.backend")
        .filter(|v| !v.is_empty())
        .and_then(|n| Backend::from_name(&n))
        .unwrap_or(Backend::Sha256E);
    let name = Path::new(src.file_name()?);
    let source = KeySource { content: src, name };
    let key = backend.key_for_file(&source, &KeyOptions::default()).ok()?;
    let logged = session
        .state
        .branch()
        .get(&annex_core::state::key_log_path(&key, ".log"))
        .is_ok_and(|c| !c.is_empty());
    logged.then_some(key)
}
