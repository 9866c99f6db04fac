//! `fix`: the symlinks of locked files pointed at their content again
//! (after a file was moved to another directory, its relative link no
//! longer reaches `.git/annex/objects`), and restaged.
//!
//! ```no_run
//! use annex_ops::session::{OpenOptions, Session};
//! let (session, _) = Session::open(&OpenOptions::new(".".as_ref()))?;
//! let fixer = annex_ops::fix::Fixer::new(&session)?;
//! let wt = session.worktree()?;
//! let mut staged = Vec::new();
//! wt.for_each_annexed_file::<annex_ops::fix::FixError>(&[Vec::new()], |_, f| {
//!     staged.extend(fixer.fix(&f)?);
//!     Ok(())
//! })?;
//! fixer.stage(&staged)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::os::unix::ffi::OsStrExt;

use annex_core::backend::Backend;
use annex_core::ingest::{self, IndexEntry, Ingester};
use annex_core::worktree::AnnexedFile;

use crate::session::Session;

/// What can go wrong fixing links.
#[derive(Debug, thiserror::Error)]
pub enum FixError {
    /// The repository has no work tree.
    #[error(transparent)]
    Session(#[from] crate::session::SessionError),
    /// A link could not be made or staged.
    #[error(transparent)]
    Ingest(#[from] ingest::IngestError),
    /// The index could not be read.
    #[error(transparent)]
    WorkTree(#[from] annex_core::worktree::WorkTreeError),
}

/// Fixes links of one work tree.
pub struct Fixer<'a> {
    session: &'a Session,
    ingester: Ingester,
}

impl<'a> Fixer<'a> {
    /// A fixer for the session's work tree.
    pub fn new(session: &'a Session) -> Result<Fixer<'a>, FixError> {
        let wt = session.worktree()?;
        let top = wt
            .top()
            .canonicalize()
            .unwrap_or_else(|_| wt.top().to_path_buf());
        Ok(Fixer {
            session,
            ingester: Ingester::new(top, session.store.clone(), Backend::Sha256E),
        })
    }

    /// Points a locked file's symlink at its content again when it does
    /// not; returns the index entry to stage, or `None` when the link was
    /// right (or the file is not a symlink).
    pub fn fix(&self, file: &AnnexedFile) -> Result<Option<IndexEntry>, FixError> {
        if !file.locked {
            return Ok(None);
        }
        let full = self
            .ingester
            .top()
            .join(std::ffi::OsStr::from_bytes(&file.path));
        let Ok(current) = std::fs::read_link(&full) else {
            return Ok(None);
        };
        let want = self.ingester.link_target(&file.path, &file.key);
        if current == want {
            return Ok(None);
        }
        let wt = self.session.worktree()?;
        Ok(Some(ingest::make_link(
            wt.repo(),
            &self.ingester,
            &file.path,
            &file.key,
            true,
        )?))
    }

    /// Stages the fixed links.
    pub fn stage(&self, entries: &[IndexEntry]) -> Result<(), FixError> {
        let wt = self.session.worktree()?;
        ingest::stage(wt.repo(), entries)?;
        Ok(())
    }
}
