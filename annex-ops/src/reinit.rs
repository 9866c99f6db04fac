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

/// Learns the UUIDs of the git remotes our config has none for, as
/// git-annex does when it lists the remotes to look a name up (any name
/// that is not a UUID): a remote on this machine is read, one over ssh
/// asked (`git-annex-shell configlist`), and a UUID found recorded as
/// `remote.NAME.annex-uuid`. Remotes with `annex-ignore` are left alone,
/// as are remotes whose repository has no UUID. Returns the warnings to
/// show: a remote on this machine that is not there.
pub fn learn_remote_uuids(start: &Path, name: &str, overrides: &[String]) -> Vec<String> {
    let mut warnings = Vec::new();
    if looks_like_uuid(name) {
        return warnings;
    }
    let Ok(repo) = Repo::open(start) else {
        return warnings;
    };
    let Ok(branch) = repo.branch() else {
        return warnings;
    };
    let Ok(config) = AnnexConfig::from_repo(branch.repo(), overrides) else {
        return warnings;
    };
    let base = repo
        .work_tree()
        .unwrap_or_else(|| repo.git_dir())
        .to_path_buf();
    for rc in config.remotes() {
        // The UUID of a remote on this machine is read with the config
        // (`rc.uuid`), but not recorded yet.
        let recorded = config
            .get(&format!("remote.{}.annex-uuid", rc.name))
            .is_some_and(|v| !v.is_empty());
        if rc.ignore || recorded {
            continue;
        }
        let learned = if let Some(url) = rc
            .url
            .as_deref()
            .and_then(annex_core::remote::ssh::SshUrl::parse)
        {
            let get = |k: &str| config.get_str(&format!("remote.{}.{k}", rc.name));
            let shell = get("annex-shell").unwrap_or_else(|| "git-annex-shell".to_string());
            let options = get("annex-ssh-options")
                .map(|o| o.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default();
            let ssh = annex_core::remote::ssh::SshConfig::for_content(
                options,
                config.get_str("core.sshCommand"),
            );
            annex_core::remote::ssh::configlist_uuid(&url, &shell, &ssh, false)
                .ok()
                .flatten()
        } else if let Some(path) = rc.local_path(&base) {
            if !path.exists() {
                warnings.push(format!("Remote {} cannot currently be accessed.", rc.name));
                continue;
            }
            rc.uuid.clone()
        } else {
            None
        };
        if let Some(u) = learned {
            crate::git::set_config(
                repo.git_dir(),
                &format!("remote.{}.annex-uuid", rc.name),
                u.as_str(),
            );
        }
    }
    warnings
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
