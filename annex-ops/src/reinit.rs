//! `reinit`: git-annex initialized in a repository with the UUID of an
//! earlier one (named by its UUID, a remote name or its description), as
//! after `uninit` or in a new clone that takes the place of a lost
//! repository. Unlike opening a [`Session`](crate::session::Session), it
//! does not initialize the repository with a new UUID first.
//!
//! ```no_run
//! let uuid = annex_ops::reinit::resolve(".".as_ref(), "my laptop", &[])?;
//! annex_ops::reinit::reinit(".".as_ref(), &uuid)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;

use annex_core::config::AnnexConfig;
use annex_core::repo::Repo;
use annex_core::state::State;
use annex_core::uuid::Uuid;

/// What can go wrong reinitializing.
#[derive(Debug, thiserror::Error)]
pub enum ReinitError {
    /// No repository was named.
    #[error("no repository name specified")]
    NoName,
    /// The repository could not be opened or initialized.
    #[error(transparent)]
    Repo(#[from] annex_core::repo::RepoError),
    /// Its git config could not be read, or the name matches no repository.
    #[error(transparent)]
    Config(#[from] annex_core::config::ConfigError),
    /// The `git-annex` branch could not be read.
    #[error(transparent)]
    Branch(#[from] annex_core::branch::BranchError),
}

/// The UUID a name gives: a UUID as it is, else a remote's name, a
/// repository's description (or UUID) in the `git-annex` branch.
pub fn resolve(start: &Path, name: &str, overrides: &[String]) -> Result<Uuid, ReinitError> {
    if looks_like_uuid(name)
        && let Ok(u) = Uuid::parse(name.as_bytes())
    {
        return Ok(u);
    }
    let repo = Repo::open(start)?;
    let branch = repo.branch()?;
    // As git-annex reads the branch: made from a remote's when there is
    // none here, with the remotes' branches merged in.
    branch.create()?;
    branch.update()?;
    let config = AnnexConfig::from_repo(branch.repo(), overrides)?;
    let descriptions = State::new(branch).descriptions()?;
    if name.is_empty() {
        // An empty name is taken as git-annex takes it: this repository's
        // own UUID when it has no description, else no name at all.
        return match repo.uuid() {
            Some(u) if !descriptions.contains_key(u) => Ok(u.clone()),
            _ => Err(ReinitError::NoName),
        };
    }
    Ok(annex_core::config::resolve_repository(
        name,
        repo.uuid(),
        &config,
        &descriptions,
    )?)
}

/// Whether a name is written as a UUID (`8-4-4-4-12` hexadecimal digits).
fn looks_like_uuid(name: &str) -> bool {
    let groups: Vec<&str> = name.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Initializes git-annex in the repository at or above `start` with `uuid`.
pub fn reinit(start: &Path, uuid: &Uuid) -> Result<(), ReinitError> {
    Repo::reinit(start, uuid)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_told_from_names() {
        assert!(looks_like_uuid("11111111-2222-3333-4444-555555555555"));
        assert!(!looks_like_uuid("nosuch"));
        assert!(!looks_like_uuid("11111111-2222-3333-4444-55555555555x"));
    }
}
