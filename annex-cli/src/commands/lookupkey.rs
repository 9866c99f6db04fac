//! `lookupkey FILE...`: the key of each annexed file, as staged in the
//! index (the work tree is not looked at); `--ref` reads a git ref such as
//! `HEAD:file` instead; `--batch` (`-z`) answers each input line, an empty
//! line for a file that is not annexed. Exit code 1 when some file is not
//! annexed.

use std::ffi::OsString;
use std::io::IsTerminal;

use annex_core::gitrepo::GitRepo;
use annex_core::key::Key;
use annex_core::worktree::pathspec_from_arg;

use crate::error::{CommandError, ErrorKind};
use annex_core::repo::Repo;

use super::whereis::{os_bytes, os_str};

/// Arguments of `lookupkey`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files (relative to the current directory, or absolute).
    files: Vec<OsString>,
    /// Look the keys up in git refs (`REF:PATH`) rather than the index.
    #[arg(long = "ref")]
    ref_: bool,
    /// Read files from stdin, one a line.
    #[arg(long)]
    batch: bool,
    /// With `--batch`, input items end with NUL instead of newline.
    #[arg(short = 'z')]
    z: bool,
}

struct Lookup {
    cwd: std::path::PathBuf,
    repo: GitRepo,
    by_ref: bool,
    terminal: bool,
    /// Set once a `--ref` did not resolve: the reference git-annex's
    /// reader of git objects is then out of step, and every later lookup
    /// of the command finds nothing. Matched, so scripts see the same.
    broken: std::cell::Cell<bool>,
}

impl Lookup {
    fn key(&self, item: &[u8]) -> Result<Option<Key>, CommandError> {
        if self.broken.get() {
            return Ok(None);
        }
        let id = if self.by_ref {
            match self.repo.rev_parse(item) {
                Some(id) => id,
                None => {
                    self.broken.set(true);
                    return Ok(None);
                }
            }
        } else {
            let top = self
                .repo
                .work_tree()
                .ok_or_else(|| CommandError::failed(super::whereis::BARE_REFUSAL))?;
            let top = top.canonicalize().unwrap_or_else(|_| top.to_path_buf());
            let Ok(rel) = pathspec_from_arg(&top, &self.cwd, std::path::Path::new(os_str(item)))
            else {
                return Ok(None);
            };
            match self.repo.staged_id(&rel)? {
                Some(id) => id,
                None => return Ok(None),
            }
        };
        Ok(self.repo.annexed_key(id))
    }

    /// Prints the key of `item`; returns whether it had one.
    fn show(&self, item: &[u8], batch: bool) -> Result<bool, CommandError> {
        match self.key(item)? {
            Some(k) => {
                let shown = if self.terminal {
                    k.as_bytes()
                        .iter()
                        .map(|&c| if c < 0x20 || c == 0x7f { b'?' } else { c })
                        .collect()
                } else {
                    k.as_bytes().to_vec()
                };
                crate::output::bytes_line(&shown)?;
                Ok(true)
            }
            None => {
                if batch {
                    crate::output::bytes(b"\n")?;
                }
                Ok(false)
            }
        }
    }
}

/// Looks up the keys.
pub fn run(args: Args) -> Result<(), CommandError> {
    // The key is in git's objects: neither the git-annex branch nor the
    // annex is read (nothing is merged or committed, as git-annex).
    let cwd = std::env::current_dir().map_err(|e| {
        CommandError::with_message(ErrorKind::Failure, "cannot read the current directory", e)
    })?;
    let cwd = cwd.canonicalize().unwrap_or(cwd);
    let start = match std::env::var_os("GIT_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => cwd.join(dir),
        None => cwd.clone(),
    };
    let repo = Repo::open(&start).map_err(|_| CommandError::user("Not in a git repository."))?;
    repo.check_version()?;
    let repo = GitRepo::open(repo.git_dir())?;
    if !args.ref_ && repo.work_tree().is_none() {
        return Err(CommandError::failed(super::whereis::BARE_REFUSAL));
    }
    let lookup = Lookup {
        cwd,
        repo,
        broken: std::cell::Cell::new(false),
        by_ref: args.ref_,
        terminal: std::io::stdout().is_terminal(),
    };
    let mut failed = false;
    if args.batch {
        crate::batch::for_each_item(args.z, |item| {
            let ok = lookup.show(item, true)?;
            failed |= !ok;
            crate::output::bytes(b"")
        })?;
        // git-annex's batch mode answers every line and succeeds.
        failed = false;
    } else {
        for f in &args.files {
            failed |= !lookup.show(&os_bytes(f), false)?;
        }
    }
    if failed {
        return Err(CommandError::quiet_failure(String::new()));
    }
    Ok(())
}
