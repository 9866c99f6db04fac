//! Running the `git` executable, for what gix cannot do yet: fetch and push
//! over any transport, and merges that update the work tree.
//!
//! Every call goes through [`Git::run`], so the environment and the error
//! reporting are the same everywhere.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A failure to run `git` or a `git` command that failed.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// `git` could not be started.
    #[error("cannot run git {args}: {source}")]
    Spawn {
        /// The arguments, joined by spaces.
        args: String,
        /// Why.
        source: std::io::Error,
    },
    /// `git` ran and exited non-zero.
    #[error("git {args} failed ({status}): {stderr}")]
    Failed {
        /// The arguments, joined by spaces.
        args: String,
        /// Its exit status, as text.
        status: String,
        /// Its standard error, trimmed.
        stderr: String,
    },
}

/// How to run `git` for one repository.
#[derive(Debug, Clone)]
pub struct Git {
    /// The directory `git` runs in (the work tree's top, or the git
    /// directory of a bare repository).
    dir: PathBuf,
    /// Run apart from the caller's repository: `GIT_DIR`, `GIT_WORK_TREE`
    /// and `GIT_INDEX_FILE` removed and the annex filters off
    /// ([`annex_core::repo::BYPASS_FILTERS`]), as git-annex runs git in a
    /// temporary work tree of its own.
    isolated: bool,
}

impl Git {
    /// `git` run in `dir` (a work tree's top or a bare repository).
    pub fn new(dir: &Path) -> Git {
        Git {
            dir: dir.to_path_buf(),
            isolated: false,
        }
    }

    /// `git` run in `dir`, a temporary work tree of the repository's own:
    /// the caller's `GIT_DIR`, `GIT_WORK_TREE` and `GIT_INDEX_FILE` are
    /// not passed on (they name the real repository, not `dir`) and the
    /// annex filters are off, so that nothing written there is smudged or
    /// cleaned.
    pub fn isolated(dir: &Path) -> Git {
        Git {
            dir: dir.to_path_buf(),
            isolated: true,
        }
    }

    /// The directory `git` runs in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A `git` command in this repository, standard input closed, ready to
    /// be given more arguments.
    pub fn command<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = Command::new("git");
        cmd.current_dir(&self.dir);
        if self.isolated {
            cmd.env_remove("GIT_DIR")
                .env_remove("GIT_WORK_TREE")
                .env_remove("GIT_INDEX_FILE")
                .args(annex_core::repo::BYPASS_FILTERS);
        }
        cmd.args(args).stdin(Stdio::null());
        cmd
    }

    /// Runs `git ARGS`, capturing its output whatever its exit status;
    /// only a failure to start it is an error.
    pub fn output<I, S>(&self, args: I) -> Result<Output, GitError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args = os_args(args);
        self.command(&args)
            .output()
            .map_err(|source| GitError::Spawn {
                args: shown(&args),
                source,
            })
    }

    /// Runs `git ARGS`, capturing its output; a non-zero exit is
    /// [`GitError::Failed`] with its standard error.
    pub fn run<I, S>(&self, args: I) -> Result<Output, GitError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args = os_args(args);
        let out = self.output(&args)?;
        let shown = shown(&args);
        if out.status.success() {
            Ok(out)
        } else {
            Err(GitError::Failed {
                args: shown,
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            })
        }
    }
}

fn os_args<I, S>(args: I) -> Vec<std::ffi::OsString>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    args.into_iter()
        .map(|a| a.as_ref().to_os_string())
        .collect()
}

/// Arguments joined by spaces, for messages.
fn shown(args: &[std::ffi::OsString]) -> String {
    args.iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
