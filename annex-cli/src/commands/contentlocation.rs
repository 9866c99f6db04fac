//! `contentlocation KEY...`: print where the content of each key is in this
//! repository, relative to the current directory.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use annex_core::backend::path::top_file_path;
use annex_core::key::Key;
use annex_core::objects::ObjectStore;
use annex_core::repo::Repo;

use crate::error::{CommandError, ErrorKind};

/// Arguments of `contentlocation`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The keys to look up.
    keys: Vec<OsString>,
    /// Read keys from stdin, one a line, and print one path a line (an empty
    /// line when the content is not here).
    #[arg(long)]
    batch: bool,
    /// With `--batch`, keys are ended by NUL instead of newline.
    #[arg(short = 'z')]
    nul: bool,
}

/// Prints the content location of each key; the first key whose content is
/// not here ends the command with status 1 (with `--batch`, an empty line).
pub fn run(args: Args) -> Result<(), CommandError> {
    let here = std::env::current_dir().map_err(|e| {
        CommandError::with_message(ErrorKind::Failure, "cannot read the current directory", e)
    })?;
    // `GIT_DIR` names the repository as it does for git.
    let start = match std::env::var_os("GIT_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => here.join(dir),
        None => here.clone(),
    };
    let repo = Repo::open(&start).map_err(|_| CommandError::user("Not in a git repository."))?;
    repo.check_version()?;
    if args.batch && !args.keys.is_empty() {
        return Err(CommandError::user(
            "Cannot combine batch option with file or key options",
        ));
    }
    if repo.version().is_none() && !has_annex_branch(&start) {
        return Err(CommandError::failed("First run: git-annex init"));
    }
    // Where there is a git-annex branch, git-annex initializes the
    // repository here and then finds no content; this looks in the (empty)
    // store without initializing.
    let store = ObjectStore::open(repo.git_dir())?;
    // Paths are shown from the current directory to the git dir, as git
    // found it: `.git/annex/...` at the top of a work tree, `./annex/...`
    // at the top of a bare repository.
    let git_dir = std::path::absolute(repo.git_dir()).unwrap_or_else(|_| repo.git_dir().into());
    let git_dir = git_dir.canonicalize().unwrap_or(git_dir);
    let mut shown_git_dir = top_file_path(&here, &git_dir).map_err(|e| {
        CommandError::with_message(ErrorKind::Failure, "cannot read the current directory", e)
    })?;
    if shown_git_dir.as_os_str().is_empty() {
        shown_git_dir = PathBuf::from(".");
    }
    // Run from inside the git dir of a work tree, git-annex looks for the
    // content in a `.git` below it, and finds none.
    let inside_git_dir = !repo.is_bare() && here.starts_with(&git_dir);
    let locate = |key: &[u8]| -> Result<Option<PathBuf>, CommandError> {
        let key = Key::parse(key).map_err(|_| CommandError::failed("bad key"))?;
        if inside_git_dir {
            return Ok(None);
        }
        let Some(found) = store.find(&key) else {
            return Ok(None);
        };
        if !found.is_file() {
            return Ok(None);
        }
        let inside = found.strip_prefix(store.git_dir()).unwrap_or(&found);
        Ok(Some(shown_git_dir.join(inside)))
    };
    if args.batch {
        return crate::batch::for_each_item(args.nul, |line| match locate(line)? {
            Some(path) => show(&path),
            None => crate::output::bytes_line(b""),
        });
    }
    for key in &args.keys {
        match locate(key.as_bytes())? {
            Some(path) => show(&path)?,
            // As git-annex: the first key whose content is not here ends the
            // command with status 1 and no message.
            None => return Err(CommandError::failed("")),
        }
    }
    Ok(())
}

fn show(path: &Path) -> Result<(), CommandError> {
    crate::output::bytes_line(path.as_os_str().as_bytes())
}

/// Whether the repository at `here` has a git-annex branch of its own or
/// from a remote (git-annex then initializes it on first use).
fn has_annex_branch(here: &Path) -> bool {
    annex_core::gitrepo::GitRepo::discover(here).is_ok_and(|r| r.has_annex_branch())
}
