//! Opening a repository for operations: what every command does first.
//!
//! [`Session::open`] finds the repository from a directory, initializes it
//! when it is not yet but has a `git-annex` branch (here or from a remote,
//! as git-annex does on first use), reads its git config (with `-c`
//! overrides), merges the remotes' `git-annex` branches into its own, and
//! commits a dirty journal before the branch is read (unless
//! `annex.alwayscommit` is false), as git-annex's branch update does. What
//! it did is returned as an [`Opened`] for the caller to show.
//!
//! ```no_run
//! use annex_ops::session::{OpenOptions, Session};
//! let (session, opened) = Session::open(&OpenOptions::new(".".as_ref()))?;
//! for name in &opened.merged {
//!     println!("(merging {name} into git-annex...)");
//! }
//! println!("{}", session.here());
//! # Ok::<(), annex_ops::session::SessionError>(())
//! ```

use std::path::{Path, PathBuf};

use annex_core::branch::BranchError;
use annex_core::config::{AnnexConfig, ConfigError};
use annex_core::journal::JournalError;
use annex_core::objects::{ObjectStore, ObjectsError};
use annex_core::repo::{Repo, RepoError};
use annex_core::state::State;
use annex_core::uuid::Uuid;
use annex_core::worktree::{WorkTree, WorkTreeError};

/// Why a repository could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The directory is not in a git repository.
    #[error("Not in a git repository.")]
    NotARepository,
    /// The repository is not initialized and has no `git-annex` branch.
    #[error("First run: git-annex init")]
    NotInitialized,
    /// A bare repository where a work tree is needed.
    #[error("This command cannot be run in a bare repository.")]
    Bare,
    /// The git repository could not be opened.
    #[error("cannot open the git repository: {0}")]
    Git(String),
    /// The repository handle.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// Its git config.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Its `git-annex` branch.
    #[error(transparent)]
    Branch(#[from] BranchError),
    /// Its journal.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Its object store.
    #[error(transparent)]
    Objects(#[from] ObjectsError),
    /// Its work tree.
    #[error(transparent)]
    WorkTree(#[from] WorkTreeError),
}

/// How to open a repository.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// A directory in the repository (or its git dir).
    pub start: PathBuf,
    /// `-c NAME=VALUE` overrides of git config.
    pub overrides: Vec<String>,
}

impl OpenOptions {
    /// Options to open the repository `start` is in, with no overrides.
    pub fn new(start: &Path) -> OpenOptions {
        OpenOptions {
            start: start.to_path_buf(),
            overrides: Vec::new(),
        }
    }
}

/// What opening did, for the caller to show as git-annex does.
#[derive(Debug, Default, Clone)]
pub struct Opened {
    /// Remote `git-annex` branches merged into ours, by full ref name
    /// (`refs/remotes/origin/git-annex`), in order.
    pub merged: Vec<String>,
    /// Refs left unmerged, each a warning to show.
    pub skipped: Vec<String>,
    /// Whether a dirty journal was committed (`(recording state in git...)`).
    pub recorded: bool,
    /// Whether the repository was initialized by this open.
    pub initialized: bool,
}

/// An opened, initialized repository: its handle, settings, `git-annex`
/// branch, object store and work tree.
pub struct Session {
    /// The repository.
    pub repo: Repo,
    /// Its git config with `-c` overrides.
    pub config: AnnexConfig,
    /// Its `git-annex` branch, typed.
    pub state: State,
    /// Its object store.
    pub store: ObjectStore,
    /// Its work tree, `None` when bare.
    pub worktree: Option<WorkTree>,
    here: Uuid,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("git_dir", &self.repo.git_dir())
            .field("here", &self.here)
            .finish()
    }
}

impl Session {
    /// Opens the repository `options.start` is in (see the module doc).
    pub fn open(options: &OpenOptions) -> Result<(Session, Opened), SessionError> {
        let start = &options.start;
        let mut opened = Opened::default();
        let mut repo = Repo::open(start).map_err(|_| SessionError::NotARepository)?;
        repo.check_version()?;
        if crate::upgrade::auto_upgrade(&repo) {
            repo = Repo::open(start).map_err(|_| SessionError::NotARepository)?;
        }
        if repo.uuid().is_none() {
            let branch = repo.branch()?;
            let has_branch = branch.tip()?.is_some() || !branch.sibling_refs()?.is_empty();
            if !has_branch {
                return Err(SessionError::NotInitialized);
            }
            repo = Repo::init(start, None)?;
            opened.initialized = true;
            // A clone of a repository in an adjusted branch: its basis set
            // up, as git-annex's init does (best effort here).
            let _ = crate::adjust::check_adjusted_clone(start);
        }
        let here = repo.uuid().cloned().ok_or(SessionError::NotInitialized)?;
        let gix_repo = gix::discover(start)
            .map(annex_core::config::with_overrides)
            .map_err(|e| SessionError::Git(e.to_string()))?;
        let config = AnnexConfig::from_repo(&gix_repo, &options.overrides)?;
        let state = State::new(repo.branch()?);
        let outcome = state.branch().update()?;
        // A merge commit (not a fast-forward) is announced as git-annex's
        // `commitIndex` announces it.
        opened.recorded =
            !outcome.merged.is_empty() && outcome.new_tip.is_some() && !outcome.fast_forwarded;
        opened.merged = outcome.merged.into_iter().map(|(_, name)| name).collect();
        opened.skipped = outcome.skipped.iter().map(|s| s.to_string()).collect();
        // As git-annex's branch update: a dirty journal is committed before
        // the branch is read (unless annex.alwayscommit is false), even by
        // commands that only read.
        if opened.merged.is_empty()
            && config.get_bool("annex.alwayscommit").unwrap_or(true)
            && state.branch().journal().is_dirty()?
        {
            opened.recorded = state.commit()?.is_some();
        }
        let store = ObjectStore::open(repo.git_dir())?;
        // What killed processes left in annex/othertmp goes (unless a live
        // process is using it).
        let _ = store.clean_other_tmp();
        annex_core::branch::clean_after_killed_update(repo.git_dir());
        let worktree = if repo.is_bare() {
            None
        } else {
            Some(WorkTree::from_repo(gix_repo)?)
        };
        Ok((
            Session {
                repo,
                config,
                state,
                store,
                worktree,
                here,
            },
            opened,
        ))
    }

    /// This repository's UUID.
    pub fn here(&self) -> &Uuid {
        &self.here
    }

    /// The work tree, or [`SessionError::Bare`].
    pub fn worktree(&self) -> Result<&WorkTree, SessionError> {
        self.worktree.as_ref().ok_or(SessionError::Bare)
    }

    /// The directory paths of the repository are relative to: the top of
    /// the work tree, or the git dir of a bare repository.
    pub fn base_dir(&self) -> PathBuf {
        match &self.worktree {
            Some(wt) => wt.top().to_path_buf(),
            None => self.repo.git_dir().to_path_buf(),
        }
    }

    /// Commits the journal to the `git-annex` branch; whether a commit was
    /// made.
    pub fn commit(&self) -> Result<bool, BranchError> {
        Ok(self.state.commit()?.is_some())
    }
}
