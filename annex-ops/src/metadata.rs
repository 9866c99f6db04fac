//! Metadata of keys, as `git annex metadata` reads and changes it: the
//! changes asked ([`ModMeta`]) applied against the current values and
//! recorded through the journal, and the result read back with the derived
//! `lastchanged` fields.
//!
//! ```no_run
//! use annex_core::logs::metadata::parse_mod_meta;
//! use annex_ops::session::{OpenOptions, Session};
//! let (session, _) = Session::open(&OpenOptions::new(".".as_ref()))?;
//! let key = annex_core::key::Key::parse(b"SHA256E-s0--e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")?;
//! let mods = [parse_mod_meta(b"tag=done")?];
//! let shown = annex_ops::metadata::modify(&session, &key, &mods)?;
//! println!("{:?}", shown.values_of("tag"));
//! session.commit()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use annex_core::branch::BranchError;
use annex_core::key::Key;
use annex_core::logs::metadata::{MetaData, ModMeta, combine_changes};

use crate::session::Session;

/// What can go wrong reading or changing metadata.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// The `git-annex` branch (or its journal) could not be read or written.
    #[error(transparent)]
    Branch(#[from] BranchError),
}

/// A key's metadata as shown: current values and `lastchanged` fields.
pub fn get(session: &Session, key: &Key) -> Result<MetaData, MetadataError> {
    Ok(session.state.metadata_shown(key)?)
}

/// Applies `mods` to a key's metadata (against its current values, later
/// modifications winning), records the change in the journal when there
/// is one, and returns the metadata as shown afterwards.
pub fn modify(session: &Session, key: &Key, mods: &[ModMeta]) -> Result<MetaData, MetadataError> {
    let current = session.state.metadata(key)?;
    let changes = combine_changes(&current, mods);
    session.state.change_metadata(key, &changes)?;
    get(session, key)
}
