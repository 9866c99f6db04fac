//! `disableremote`: stop using a remote in this repository, as git-annex
//! 10.20261026's does. The remote's git config section and its remote
//! tracking branches (every `refs/remotes/NAME/...`) go (`git remote
//! remove`), and, unless another remote of this repository has the same
//! UUID, the files under `.git/annex/` that belong to it: its transfer
//! information (refused while a transfer with it runs), failed transfer
//! records, fsck state and results, import log, credentials
//! (`creds/UUID`, `creds/UUID-*`), lock and state files
//! (`remotes/UUID.lck`, `.state`). Nothing in the `git-annex` branch
//! changes: the remote can be enabled again with `enableremote`.

use std::path::Path;

use annex_core::transfer;
use annex_core::uuid::Uuid;

use crate::remotes::Remotes;
use crate::session::Session;

/// Why a remote cannot be disabled.
#[derive(Debug, thiserror::Error)]
pub enum DisableError {
    /// No remote of that name (git-annex's words, with its blank line).
    #[error("there is no available git remote named \"{0}\"\n")]
    NoSuchRemote(String),
    /// A transfer with the remote is running (git-annex's words, its
    /// spelling kept).
    #[error("Active trasfers, cannot disable the remote.")]
    ActiveTransfers,
    /// `git remote remove` failed.
    #[error("git remote remove {name}: {reason}")]
    Git {
        /// The remote.
        name: String,
        /// git's message.
        reason: String,
    },
}

/// Checks that the remote `name` exists (before the action starts, as
/// git-annex looks it up); its UUID when it has one.
pub fn find(session: &Session, name: &str) -> Result<Option<Uuid>, DisableError> {
    if let Some(e) = Remotes::open(session)
        .entries
        .into_iter()
        .find(|e| e.name == name)
    {
        return Ok(e.uuid);
    }
    // An ignored remote is a remote still.
    if session.config.remote(name).is_some()
        || annex_core::remote::special::configured(&session.config)
            .iter()
            .any(|s| s.name == name)
    {
        let uuid = session
            .config
            .get_str(&format!("remote.{name}.annex-uuid"))
            .and_then(|u| Uuid::parse(u.as_bytes()).ok());
        return Ok(uuid);
    }
    Err(DisableError::NoSuchRemote(name.to_string()))
}

/// Disables the remote `name` of UUID `uuid`.
pub fn disable(session: &Session, name: &str, uuid: Option<&Uuid>) -> Result<(), DisableError> {
    let git_dir = session.repo.git_dir();
    let annex = git_dir.join("annex");
    if let Some(u) = uuid {
        let shared = session.config.entries().any(|(k, v)| {
            k.strip_prefix("remote.")
                .and_then(|r| r.strip_suffix(".annex-uuid"))
                .is_some_and(|other| {
                    other != name
                        && v.last()
                            .is_some_and(|v| v.as_slice() == u.as_str().as_bytes())
                })
        });
        if !shared {
            if transfer::in_progress(git_dir).iter().any(|t| &t.uuid == u) {
                return Err(DisableError::ActiveTransfers);
            }
            let t = annex.join("transfer");
            for d in ["upload", "download"] {
                // Left when a transfer file is still in it, as the
                // reference's removeDirectory leaves it; the failed
                // transfers' records are removed after their directory
                // was tried, so a directory that had some stays, empty,
                // as the reference leaves it.
                let _ = std::fs::remove_dir(t.join(d).join(u.as_str()));
                let failed = t.join("failed").join(d).join(u.as_str());
                let _ = std::fs::remove_dir(&failed);
                if let Ok(rd) = std::fs::read_dir(&failed) {
                    for e in rd.flatten() {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
            let _ = std::fs::remove_dir_all(annex.join("fsck").join(u.as_str()));
            let _ = std::fs::remove_file(annex.join("fsckresults").join(u.as_str()));
            let _ = std::fs::remove_dir_all(annex.join("export").join(u.as_str()));
            let _ = std::fs::remove_file(annex.join("import").join(u.as_str()).join("log"));
            remove_creds(&annex.join("creds"), u);
            let remotes = annex.join("remotes");
            let _ = std::fs::remove_file(remotes.join(format!("{}.lck", u.as_str())));
            let _ = std::fs::remove_file(remotes.join(format!("{}.state", u.as_str())));
        }
    }
    let git = |args: &[&str]| {
        crate::git::run_in_git_dir(
            git_dir,
            &args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    };
    if let Err(reason) = git(&["remote", "remove", name]) {
        // git refuses a remote it does not see as one (a section with no
        // URL or fetch refspec): its section goes all the same.
        if git(&["config", "--remove-section", &format!("remote.{name}")]).is_err() {
            return Err(DisableError::Git {
                name: name.to_string(),
                reason,
            });
        }
    }
    let prefix = format!("refs/remotes/{name}/");
    if let Ok(out) = git(&["for-each-ref", "--format=%(refname)", &prefix]) {
        for r in String::from_utf8_lossy(&out).lines() {
            let _ = git(&["update-ref", "-d", r]);
        }
    }
    Ok(())
}

/// Removes the credential files of `uuid`: `UUID` and `UUID-*` (an
/// external remote's several).
fn remove_creds(dir: &Path, uuid: &Uuid) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let u = uuid.as_str();
    for e in rd.flatten() {
        let n = e.file_name();
        let n = n.to_string_lossy();
        if n == u || n.starts_with(&format!("{u}-")) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}
