//! `upgrade`: a repository of version 3 to 9 brought to version 10, one
//! step at a time as git-annex 10.20261026 does (each step's file changes
//! are [`annex_core::repo::Repo::upgrade_files`]); each step done sets
//! `annex.version` and appends `VERSION SECONDSs` to
//! `.git/annex/upgrade.log`. The step from 9 to 10 is put off for a year
//! after the upgrade to 9 (old git-annex processes may still lock content
//! the old way) unless forced.
//!
//! ```no_run
//! use annex_ops::upgrade::{upgrade, UpgradeOptions, Event};
//! let done = upgrade(".".as_ref(), UpgradeOptions::default(), &mut |e| match e {
//!     Event::Step { from, to } => print!("(v{from} to v{to}...) "),
//!     Event::Deferred => println!("deferred"),
//! })?;
//! println!("{done}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use annex_core::repo::{Repo, RepoError, VERSION};

/// What can go wrong upgrading.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    /// The repository could not be opened or changed.
    #[error(transparent)]
    Repo(#[from] RepoError),
    /// The upgrade log could not be written.
    #[error("{path}: {source}")]
    Log {
        /// The log.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A direct mode repository (git-annex's own upgrade converts it; we
    /// do not).
    #[error(
        "{0}: this repository is in direct mode (annex.direct=true); upgrade it with git-annex"
    )]
    Direct(PathBuf),
}

/// How to upgrade.
#[derive(Debug, Clone, Copy, Default)]
pub struct UpgradeOptions {
    /// `--force`: the step from 9 to 10 taken even within a year of the
    /// upgrade to 9.
    pub force: bool,
    /// `--autoonly`: only what git-annex upgrades by itself, silently.
    pub automatic: bool,
}

/// What the upgrade tells as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A step is starting (not told in an automatic upgrade, nor for
    /// the steps from 3 and 4, which change nothing).
    Step {
        /// The version upgraded from.
        from: u32,
        /// The version upgraded to.
        to: u32,
    },
    /// The step from 9 to 10 was put off (not told in an automatic
    /// upgrade); the caller shows git-annex's warning, [`DEFERRED_WARNING`].
    Deferred,
}

/// git-annex's warning when the step from 9 to 10 is put off.
pub const DEFERRED_WARNING: &str = "Not upgrading from v9 to v10, because there may be git-annex
processes running that predate the v9 upgrade. Upgrading with
such processes running could lead to data loss. This upgrade
will be deferred until one year after the v9 upgrade to make
sure there are no such old processes running.
(Use --force to upgrade immediately.)";

const YEAR: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// Upgrades the repository at or above `path` to version 10 (an
/// uninitialized one is initialized first, as git-annex's `upgrade`
/// does). Returns whether it succeeded (a put-off step counts as
/// success, as git-annex counts it).
pub fn upgrade(
    path: &Path,
    options: UpgradeOptions,
    events: &mut dyn FnMut(Event),
) -> Result<bool, UpgradeError> {
    let mut repo = Repo::open(path)?;
    if repo.uuid().is_none() || repo.version().is_none() {
        if options.automatic {
            return Ok(true);
        }
        repo = Repo::init(path, None)?;
    }
    let log = repo.annex_dir().join("upgrade.log");
    while let Some(v) = repo.version() {
        if v >= VERSION {
            break;
        }
        if v < 3 {
            // Repositories this old are refused when opened.
            return Ok(false);
        }
        if v == 5 && direct_mode(&repo) {
            return Err(UpgradeError::Direct(repo.git_dir().to_path_buf()));
        }
        if v == 9 && deferred(&log) && (options.automatic || !options.force) {
            if !options.automatic {
                events(Event::Deferred);
            }
            return Ok(true);
        }
        // The steps from 3 and 4 change nothing and are not shown.
        if !options.automatic && v >= 5 {
            events(Event::Step { from: v, to: v + 1 });
        }
        repo.upgrade_files(v)?;
        repo.set_version(v + 1)?;
        append_log(&log, v + 1)?;
    }
    Ok(true)
}

/// What git-annex does when any command opens a repository of version 3
/// to 9: the upgrade made silently, unless `annex.autoupgraderepository`
/// is false (the step to 10 held back as [`upgrade`] holds it). Returns
/// whether the version changed. A failure leaves the repository as it was
/// found, to be used at its version.
pub fn auto_upgrade(repo: &Repo) -> bool {
    let Some(v) = repo.version() else {
        return false;
    };
    if repo.uuid().is_none() || !(3..VERSION).contains(&v) {
        return false;
    }
    let disabled = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(repo.git_dir())
        .args(["config", "--bool", "annex.autoupgraderepository"])
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"false"));
    if disabled {
        return false;
    }
    let options = UpgradeOptions {
        force: false,
        automatic: true,
    };
    let start = repo.work_tree().unwrap_or(repo.git_dir()).to_path_buf();
    upgrade(&start, options, &mut |_| {}).is_ok()
        && Repo::open(&start).is_ok_and(|r| r.version() != Some(v))
}

fn direct_mode(repo: &Repo) -> bool {
    std::process::Command::new("git")
        .arg("--git-dir")
        .arg(repo.git_dir())
        .args(["config", "--bool", "annex.direct"])
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"true"))
}

/// Whether the upgrade to 9 is less than a year old (git-annex's
/// `oldprocessesdanger`; a repository made at version 9 has no record
/// of it and is not held back).
fn deferred(log: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(log) else {
        return false;
    };
    let first = text
        .lines()
        .filter_map(|l| {
            let (v, t) = l.split_once(' ')?;
            (v.trim() == "9").then_some(())?;
            t.trim().trim_end_matches('s').parse::<f64>().ok()
        })
        .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.min(t))));
    let Some(t) = first else { return false };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    now < t + YEAR.as_secs_f64()
}

/// Appends `VERSION SECONDS.NANOSs` (git-annex's `show` of a time).
fn append_log(log: &Path, version: u32) -> Result<(), UpgradeError> {
    let err = |source| UpgradeError::Log {
        path: log.to_path_buf(),
        source,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let nanos = format!("{:09}", now.subsec_nanos());
    let frac = nanos.trim_end_matches('0');
    let line = if frac.is_empty() {
        format!("{version} {}s\n", now.as_secs())
    } else {
        format!("{version} {}.{frac}s\n", now.as_secs())
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(err)?;
    f.write_all(line.as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upgrade_to_9_within_the_year_defers_the_next() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let log = dir.path().join("upgrade.log");
        assert!(!deferred(&log));
        append_log(&log, 9).unwrap_or_else(|e| panic!("{e}"));
        assert!(deferred(&log));
        std::fs::write(&log, "9 1000.5s\n").unwrap_or_else(|e| panic!("{e}"));
        assert!(!deferred(&log));
    }
}
