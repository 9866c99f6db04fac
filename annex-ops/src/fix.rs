//! `fix`: the pointers of annexed files made right again, as `git annex
//! fix` makes them:
//!
//! - a locked file's symlink pointed at its content again (after a file
//!   was moved to another directory, its relative link no longer reaches
//!   `.git/annex/objects`), and restaged;
//! - an unlocked file still holding its pointer while the content is here
//!   gets the content;
//! - an unlocked file holding its content (checked against its key, as
//!   the object is) becomes a hard link to the object with `annex.thin`,
//!   and a copy when it is one without; the index entries of unlocked files
//!   are refreshed.
//!
//! What to do is decided first ([`Fixer::plan`], which changes nothing),
//! then done ([`Fixer::apply`]).
//!
//! ```no_run
//! use annex_ops::session::{OpenOptions, Session};
//! use annex_ops::fix::Fixed;
//! let (session, _) = Session::open(&OpenOptions::new(".".as_ref()))?;
//! let fixer = annex_ops::fix::Fixer::new(&session)?;
//! let wt = session.worktree()?;
//! let (mut staged, mut refreshed) = (Vec::new(), Vec::new());
//! wt.for_each_annexed_file::<annex_ops::fix::FixError>(&[Vec::new()], |_, f| {
//!     if let Some(fix) = fixer.plan(&f) {
//!         match fixer.apply(&f, fix)? {
//!             Fixed::Stage(entry) => staged.push(*entry),
//!             Fixed::Refresh(path) => refreshed.push(path),
//!         }
//!     }
//!     Ok(())
//! })?;
//! fixer.stage(&staged)?;
//! fixer.refresh(&refreshed);
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
    /// A work tree file could not be replaced.
    #[error("cannot fix {}: {source}", path.display())]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// What a file needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    /// A locked file's symlink pointed at its content.
    Relink,
    /// An unlocked file's pointer replaced by its content.
    Populate,
    /// An unlocked file made a hard link to the object (`annex.thin`).
    HardLink,
    /// An unlocked file that is a hard link to the object made a copy.
    BreakHardLink,
}

/// What a fix leaves to do.
#[derive(Debug)]
pub enum Fixed {
    /// An index entry to stage ([`Fixer::stage`]).
    Stage(Box<IndexEntry>),
    /// A path (from the top) whose index entry to refresh
    /// ([`Fixer::refresh`]).
    Refresh(Vec<u8>),
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

    /// What `file` needs, if anything (nothing is changed here; the
    /// content checks of unlocked files read them whole).
    pub fn plan(&self, file: &AnnexedFile) -> Option<Fix> {
        let full = self.full(file);
        if file.locked {
            let current = std::fs::read_link(&full).ok()?;
            let want = self.ingester.link_target(&file.path, &file.key);
            return (current != want).then_some(Fix::Relink);
        }
        let store = &self.session.store;
        match annex_core::pointer::is_pointer_file(&full) {
            Ok(Some(k)) if k == file.key => {
                return store.has(&file.key).then_some(Fix::Populate);
            }
            Ok(None) => {}
            _ => return None,
        }
        let object = store.find(&file.key)?;
        let (fm, om) = (
            std::fs::symlink_metadata(&full).ok()?,
            std::fs::metadata(&object).ok()?,
        );
        if !fm.file_type().is_file() {
            return None;
        }
        use std::os::unix::fs::MetadataExt;
        let thin = self.session.config.get_bool("annex.thin") == Some(true);
        let fix = match (fm.nlink(), om.nlink(), thin) {
            (1, 1, true) => Fix::HardLink,
            (n, m, false) if n > 1 && n == m => Fix::BreakHardLink,
            _ => return None,
        };
        // Unmodified, both: never a changed file replaced, nor a good
        // one by a damaged object.
        let unmodified = |p: &std::path::Path| {
            annex_core::backend::verify_key(&file.key, p).ok().flatten() == Some(true)
        };
        let same_inode = fm.dev() == om.dev() && fm.ino() == om.ino();
        let ok = match fix {
            Fix::BreakHardLink if same_inode => unmodified(&object),
            _ => unmodified(&object) && unmodified(&full),
        };
        ok.then_some(fix)
    }

    /// Does what [`Fixer::plan`] found `file` needs.
    pub fn apply(&self, file: &AnnexedFile, fix: Fix) -> Result<Fixed, FixError> {
        let full = self.full(file);
        let store = &self.session.store;
        let io = |e: std::io::Error| FixError::Write {
            path: full.clone(),
            source: e,
        };
        match fix {
            Fix::Relink => {
                let wt = self.session.worktree()?;
                return Ok(Fixed::Stage(Box::new(ingest::make_link(
                    wt.repo(),
                    &self.ingester,
                    &file.path,
                    &file.key,
                    true,
                )?)));
            }
            Fix::Populate => {
                let thin = annex_core::pointer::Thin::from_config(
                    self.session.config.get_bool("annex.thin"),
                );
                annex_core::pointer::populate_pointer(&full, &file.key, store, thin).map_err(io)?;
            }
            Fix::HardLink => annex_core::pointer::relink_unlocked(
                &full,
                &file.key,
                store,
                annex_core::pointer::Thin::HardLink,
            )
            .map_err(io)?,
            Fix::BreakHardLink => annex_core::pointer::relink_unlocked(
                &full,
                &file.key,
                store,
                annex_core::pointer::Thin::Copy,
            )
            .map_err(io)?,
        }
        Ok(Fixed::Refresh(file.path.clone()))
    }

    /// Refreshes the index entries of the unlocked files fixed (git then
    /// sees them unchanged).
    pub fn refresh(&self, paths: &[Vec<u8>]) {
        annex_core::hooks::restage(self.ingester.top(), paths);
    }

    fn full(&self, file: &AnnexedFile) -> std::path::PathBuf {
        self.ingester
            .top()
            .join(std::ffi::OsStr::from_bytes(&file.path))
    }

    /// Stages the fixed links.
    pub fn stage(&self, entries: &[IndexEntry]) -> Result<(), FixError> {
        let wt = self.session.worktree()?;
        ingest::stage(wt.repo(), entries)?;
        Ok(())
    }
}
