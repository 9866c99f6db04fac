//! `calckey FILE...`: print the key a backend makes for each file, without
//! adding anything to the annex.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use annex_core::backend::path::top_file_path;
use annex_core::backend::{Backend, FilenameEncoding, KeyOptions, KeySource};
use annex_core::gitrepo::{GitRepo, git_dir_env};

use crate::error::{CommandError, ErrorKind};

/// Arguments of `calckey`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The files to make keys for.
    files: Vec<OsString>,
    /// The backend to use, instead of `annex.backend` (default SHA256E).
    #[arg(long, value_name = "NAME")]
    backend: Option<String>,
    /// Read file names from stdin, one a line, and print one key a line (an
    /// empty line when no key can be made).
    #[arg(long)]
    batch: bool,
    /// With `--batch`, file names are ended by NUL instead of newline.
    #[arg(short = 'z')]
    nul: bool,
    /// Override a git config setting for this command (`name=value`).
    #[arg(short = 'c', value_name = "NAME=VALUE")]
    config: Vec<String>,
}

/// The settings a key depends on, from git config and `-c`.
struct Settings {
    /// The backend, or the name that is not one.
    backend: Result<Backend, String>,
    opts: KeyOptions,
    /// The top of the work tree (the repository when bare).
    top: PathBuf,
}

/// Prints the key of each file, or of each file named on stdin with `--batch`.
pub fn run(args: Args) -> Result<(), CommandError> {
    let here = std::env::current_dir().map_err(|e| {
        CommandError::with_message(ErrorKind::Failure, "cannot read the current directory", e)
    })?;
    let repo =
        GitRepo::from_env(&here).map_err(|_| CommandError::user("Not in a git repository."))?;
    if args.batch && !args.files.is_empty() {
        return Err(CommandError::user(
            "Cannot combine batch option with file or key options",
        ));
    }
    let settings = settings(&repo, &args);
    if args.batch {
        return crate::batch::for_each_item(args.nul, |line| {
            let file = PathBuf::from(OsString::from_vec(line.to_vec()));
            match key_of(&settings, &file) {
                Some(key) => crate::output::bytes_line(&key),
                None => crate::output::bytes_line(b""),
            }
        });
    }
    for file in &args.files {
        match key_of(&settings, Path::new(file)) {
            Some(key) => crate::output::bytes_line(&key)?,
            // As git-annex: the first file without a key ends the command
            // with status 1 and no message.
            None => return Err(CommandError::failed("")),
        }
    }
    Ok(())
}

/// The key of `file`, or `None` when none can be made (missing file,
/// directory, unknown backend, unreadable content).
fn key_of(settings: &Settings, file: &Path) -> Option<Vec<u8>> {
    let backend = settings.backend.as_ref().ok()?;
    let name = top_file_path(&settings.top, file).ok()?;
    let source = KeySource {
        content: file,
        name: &name,
    };
    let key = backend.key_for_file(&source, &settings.opts).ok()?;
    Some(key.as_bytes().to_vec())
}

fn settings(repo: &GitRepo, args: &Args) -> Settings {
    let get = |name: &str| -> Option<String> {
        // The last `-c` for a name wins over git config.
        let from_args = args.config.iter().rev().find_map(|c| {
            let (k, v) = c.split_once('=')?;
            k.eq_ignore_ascii_case(name).then(|| v.to_string())
        });
        from_args.or_else(|| repo.config_string(name))
    };
    let backend_name = args
        .backend
        .clone()
        .or_else(|| get("annex.backend").filter(|v| !v.is_empty()))
        .unwrap_or_else(|| Backend::Sha256E.name().to_string());
    let backend = Backend::from_name(&backend_name).ok_or(backend_name);
    let mut opts = KeyOptions {
        filename_encoding: FilenameEncoding::from_env(),
        ..KeyOptions::default()
    };
    // A number that does not parse leaves the default; a negative one keeps
    // no extension, as git-annex.
    let count = |name: &str| {
        get(name)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map(|n| usize::try_from(n).unwrap_or(0))
    };
    if let Some(n) = count("annex.maxextensionlength") {
        opts.max_extension_length = n;
    }
    if let Some(n) = count("annex.maxextensions") {
        opts.max_extensions = n;
    }
    let top = repo
        .work_tree()
        .unwrap_or_else(|| repo.git_dir())
        .to_path_buf();
    let top = std::path::absolute(&top).unwrap_or(top);
    // Run from inside the git dir of a work tree, git-annex takes the git
    // dir as the top (WORM names are relative to it).
    let git_dir = std::path::absolute(repo.git_dir()).unwrap_or_else(|_| repo.git_dir().into());
    let git_dir = git_dir.canonicalize().unwrap_or(git_dir);
    let top = match std::env::current_dir() {
        Ok(here) if here.starts_with(&git_dir) => git_dir,
        // With `GIT_DIR`, the current directory is the top of a work tree.
        Ok(here) if git_dir_env().is_some() && repo.work_tree().is_some() => here,
        _ => top,
    };
    Settings { backend, opts, top }
}
