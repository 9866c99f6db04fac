//! The merge driver: resolving a conflicted merge of the current branch the
//! way git-annex does, keeping both sides (variant files), so that a sync
//! never stops on a conflict.
//!
//! INTERFACE PLACEHOLDER (replaced by the resolve work before it ships).

use std::path::Path;

/// Why conflicts could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Not built yet.
    #[error("resolving merge conflicts is not built yet")]
    NotBuilt,
}

/// What [`resolve_merge`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// The paths (from the top of the work tree) that were conflicted and
    /// are resolved now.
    pub resolved: Vec<Vec<u8>>,
}

/// Resolves the conflicts that a merge left in the index of the work tree
/// at `work_tree` (git directory `git_dir`) as git-annex does, and when
/// `commit` is set commits the merge. `Ok(None)` when nothing was
/// conflicted.
pub fn resolve_merge(
    work_tree: &Path,
    git_dir: &Path,
    commit: bool,
) -> Result<Option<Resolution>, ResolveError> {
    let _ = (work_tree, git_dir, commit);
    Err(ResolveError::NotBuilt)
}
