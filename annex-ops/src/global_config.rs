//! Repository-global settings, as `git annex config` keeps them: the few
//! git config names git-annex lets a repository share through its
//! `git-annex` branch (`config.log`), plus `annex.numcopies` and
//! `annex.mincopies` (their own logs), and where a setting in effect comes
//! from (`--show-origin`: git config, `.gitattributes`, the branch).
//!
//! ```no_run
//! use annex_ops::global_config;
//! use annex_ops::session::{OpenOptions, Session};
//! let (session, _) = Session::open(&OpenOptions::new(".".as_ref()))?;
//! global_config::set(&session, "annex.largefiles", b"largerthan=1mb")?;
//! assert_eq!(global_config::get(&session, "annex.largefiles")?, Some(b"largerthan=1mb".to_vec()));
//! session.commit()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;

use annex_core::branch::BranchError;

use crate::session::Session;

/// The git config names a repository can share through its branch.
pub const GLOBAL_CONFIGS: [&str; 8] = [
    "annex.largefiles",
    "annex.dotfiles",
    "annex.addunlocked",
    "annex.autocommit",
    "annex.resolvemerge",
    "annex.synccontent",
    "annex.synconlyannex",
    "annex.securehashesonly",
];

/// The settings `.gitattributes` can also give (`--for-file` is needed to
/// tell).
const ATTRIBUTES: [&str; 4] = [
    "annex.backend",
    "annex.largefiles",
    "annex.numcopies",
    "annex.mincopies",
];

/// The setting also kept in the local git config.
const LOCAL_TOO: &str = "annex.securehashesonly";

/// What can go wrong with a global setting.
#[derive(Debug, thiserror::Error)]
pub enum GlobalConfigError {
    /// The name is not one that can be stored in the branch.
    #[error("{0} is not a configuration setting that can be stored in the git-annex branch")]
    NotGlobal(String),
    /// numcopies or mincopies given something that is not a number.
    #[error("invalid value for {0}")]
    InvalidValue(String),
    /// numcopies and mincopies cannot be unset.
    #[error("unsetting {0} is not supported")]
    UnsetNotSupported(String),
    /// The local git config could not be changed.
    #[error("cannot change {name} in the git config of {}", git_dir.display())]
    GitConfig {
        /// The setting.
        name: String,
        /// The repository's git directory.
        git_dir: std::path::PathBuf,
    },
    /// The `git-annex` branch could not be read or written.
    #[error(transparent)]
    Branch(#[from] BranchError),
}

/// Where a setting is kept.
enum Kind {
    /// `config.log`.
    Branch,
    /// `numcopies.log`.
    NumCopies,
    /// `mincopies.log`.
    MinCopies,
}

fn kind(name: &str) -> Result<Kind, GlobalConfigError> {
    match name {
        "annex.numcopies" => Ok(Kind::NumCopies),
        "annex.mincopies" => Ok(Kind::MinCopies),
        n if GLOBAL_CONFIGS.contains(&n) => Ok(Kind::Branch),
        n => Err(GlobalConfigError::NotGlobal(n.to_owned())),
    }
}

/// Whether `name` can be stored in the branch (with `set`, `get`, `unset`).
pub fn is_global(name: &str) -> bool {
    kind(name).is_ok()
}

/// Fails unless `name` can be stored in the branch.
pub fn check(name: &str) -> Result<(), GlobalConfigError> {
    kind(name).map(drop)
}

/// The value the branch has for a setting (`None`: not set).
pub fn get(session: &Session, name: &str) -> Result<Option<Vec<u8>>, GlobalConfigError> {
    Ok(match kind(name)? {
        Kind::Branch => session.state.config()?.remove(name.as_bytes()),
        Kind::NumCopies => session
            .state
            .numcopies()?
            .map(|n| n.to_string().into_bytes()),
        Kind::MinCopies => session
            .state
            .mincopies()?
            .map(|n| n.to_string().into_bytes()),
    })
}

/// Sets a setting in the branch (and `annex.securehashesonly` in the local
/// git config too, as git-annex does).
pub fn set(session: &Session, name: &str, value: &[u8]) -> Result<(), GlobalConfigError> {
    match kind(name)? {
        Kind::Branch => {
            // An unchanged value is not logged again.
            if get(session, name)?.as_deref() != Some(value) {
                session.state.set_config(name.as_bytes(), value)?;
            }
            if name == LOCAL_TOO {
                let v = String::from_utf8_lossy(value);
                if !crate::git::set_config(session.repo.git_dir(), name, &v) {
                    return Err(GlobalConfigError::GitConfig {
                        name: name.to_owned(),
                        git_dir: session.repo.git_dir().to_path_buf(),
                    });
                }
            }
        }
        k @ (Kind::NumCopies | Kind::MinCopies) => {
            let n = annex_core::logs::format::hs_read_int(value)
                .ok_or_else(|| GlobalConfigError::InvalidValue(name.to_owned()))?;
            if get(session, name)? == Some(n.to_string().into_bytes()) {
                return Ok(());
            }
            match k {
                Kind::NumCopies => session.state.set_numcopies(n)?,
                _ => session.state.set_mincopies(n)?,
            }
        }
    }
    Ok(())
}

/// Unsets a setting in the branch (and `annex.securehashesonly` in the
/// local git config).
pub fn unset(session: &Session, name: &str) -> Result<(), GlobalConfigError> {
    match kind(name)? {
        Kind::Branch => {
            // Nothing to unset is nothing to log.
            if get(session, name)?.is_some() {
                session.state.set_config(name.as_bytes(), b"")?;
            }
            if name == LOCAL_TOO {
                // Not set locally is as good as unset.
                let _ = crate::git::unset_config(session.repo.git_dir(), name);
            }
            Ok(())
        }
        Kind::NumCopies | Kind::MinCopies => {
            Err(GlobalConfigError::UnsetNotSupported(name.to_owned()))
        }
    }
}

/// Where a setting in effect comes from.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// Warnings on the way (`NAME may be configured in gitattributes...`).
    pub warnings: Vec<String>,
    /// What was found: `git config --show-origin`'s own output, or a place
    /// and a value (`gitattributes`, `branch:git-annex`); `None` when the
    /// setting is not configured anywhere.
    pub found: Option<Found>,
}

/// A setting's origin.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// Output of `git config --show-origin NAME` (`file:PATH\tVALUE\n`).
    GitConfig(Vec<u8>),
    /// A place other than git config, and the value there.
    Other(&'static str, Vec<u8>),
}

/// Finds where a setting comes from, as `git annex config --show-origin`
/// does: git config first (except numcopies and mincopies, whose git
/// config is only a fallback), then `.gitattributes` for `for_file` (a
/// path from the top of the work tree), then the branch.
pub fn show_origin(
    session: &Session,
    cwd: &Path,
    name: &str,
    for_file: Option<&[u8]>,
) -> Result<Origin, GlobalConfigError> {
    let mut origin = Origin::default();
    let git_first = !matches!(name, "annex.numcopies" | "annex.mincopies");
    if git_first && let Some(out) = crate::git::config_origin(cwd, name) {
        origin.found = Some(Found::GitConfig(out));
        return Ok(origin);
    }
    if ATTRIBUTES.contains(&name) {
        match (for_file, session.worktree.as_ref()) {
            (Some(file), Some(wt)) => {
                if let Some(v) = attribute(wt.top(), name, file) {
                    origin.found = Some(Found::Other("gitattributes", v));
                    return Ok(origin);
                }
            }
            (Some(_), None) => {}
            (None, _) => origin.warnings.push(format!(
                "{name} may be configured in gitattributes. Pass --for-file= with a filename to check"
            )),
        }
    }
    if is_global(name)
        && name != LOCAL_TOO
        && let Some(v) = get(session, name)?
    {
        origin.found = Some(Found::Other("branch:git-annex", v));
        return Ok(origin);
    }
    // The git config of numcopies counts only when nothing else sets it.
    if name == "annex.numcopies"
        && let Some(out) = crate::git::config_origin(cwd, name)
    {
        origin.found = Some(Found::GitConfig(out));
    }
    Ok(origin)
}

/// A file's value of a `.gitattributes` attribute, if it has one.
fn attribute(top: &Path, name: &str, file: &[u8]) -> Option<Vec<u8>> {
    let mut p =
        annex_core::attr::Coprocess::spawn(top, &["check-attr", "-z", "--stdin", name]).ok()?;
    let answer = p.query_all(&[file], 3).ok()?;
    let v = answer.into_iter().next()?.into_iter().nth(2)?;
    annex_core::attr::attr_value(v).filter(|v| !v.is_empty())
}
