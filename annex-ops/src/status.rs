//! `status`: the work tree's changes as git-annex shows them, one status
//! character a file (the work tree's, else the index's; `?` for an
//! untracked file, each file listed), from `git status`. Renames are left
//! out, as git-annex leaves them.
//!
//! ```no_run
//! use annex_ops::session::{OpenOptions, Session};
//! let (session, _) = Session::open(&OpenOptions::new(".".as_ref()))?;
//! for (c, path) in annex_ops::status::changes(&session, &[], &[])? {
//!     println!("{} {}", c as char, String::from_utf8_lossy(&path));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::session::Session;

/// What can go wrong asking git.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The repository has no work tree.
    #[error(transparent)]
    Session(#[from] crate::session::SessionError),
    /// `git status` failed.
    #[error("git status failed: {0}")]
    Git(String),
}

/// The changed files (paths from the top) with their status character,
/// in git's order. `extra` are `git status` options (`--ignore-submodules`),
/// `specs` pathspecs from the top.
pub fn changes(
    session: &Session,
    extra: &[String],
    specs: &[Vec<u8>],
) -> Result<Vec<(u8, Vec<u8>)>, StatusError> {
    let wt = session.worktree()?;
    let entries = crate::git::status(wt.top(), extra, specs).map_err(StatusError::Git)?;
    Ok(entries
        .into_iter()
        .filter(|(x, y, _)| !matches!(x, b'R' | b'C') && !matches!(y, b'R' | b'C'))
        .map(|(x, y, p)| {
            let c = match (x, y) {
                (b'?', b'?') => b'?',
                (x, b' ') => x,
                (_, y) => y,
            };
            (c, p)
        })
        .collect())
}
