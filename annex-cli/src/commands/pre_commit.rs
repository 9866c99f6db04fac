//! `pre-commit [PATH ...]`: what git's pre-commit hook runs (`git annex
//! pre-commit .`, as `init` writes it). Among the files staged for the
//! commit (only those: what git says changed, never the whole tree), a
//! locked file moved to another directory has its symlink pointed at the
//! object store from where it now is and restaged (`fix FILE ok`, as
//! git-annex's); unlocked files left as pointers by git-annex's smudge
//! filter (the smudge log) get their content when it is here; then the
//! `pre-commit-annex` hook (or `annex.pre-commit-command`) runs.
//!
//! With nothing staged (the index's cache tree is `HEAD`'s tree), git is
//! not even asked: the cost is one streaming pass over the index (its
//! entries stepped over, its checksum unverified), and none when the same
//! index file was already proven to hold the same `HEAD`'s tree
//! (`.git/annex/hook-index.clean`, [`hooks::index_is_head_remembered`]).
//!
//! Both hook commands (`pre-commit PATH...` and `smudge --update`) are
//! recognised before the whole command line is built ([`hook_fast_path`]):
//! building the parser for every command costs more than a hook with
//! nothing to do, and they run on every commit and checkout.
//!
//! Nothing is recorded in the `git-annex` branch, as git-annex's
//! `pre-commit` records nothing (views, which it updates metadata for,
//! are not supported here).

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use annex_core::gitrepo::GitRepo;
use annex_core::hooks::{self, Smudged};
use annex_core::objects::ObjectStore;
use annex_core::pointer::Thin;

use crate::action::{Mode, Reporter, quote};
use crate::error::{CommandError, ErrorKind};

/// Arguments of `pre-commit`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The paths whose staged files are looked at (all when none).
    paths: Vec<OsString>,
}

/// The repository as the hooks see it, opened without reading or merging
/// the `git-annex` branch (hooks run on every commit and checkout).
pub(crate) struct HookRepo {
    /// The current directory.
    pub cwd: std::path::PathBuf,
    /// The top of the work tree (`None` in a bare repository).
    pub top: Option<std::path::PathBuf>,
    /// The object store.
    pub store: ObjectStore,
    /// The repository.
    pub repo: GitRepo,
}

impl HookRepo {
    /// Opens the repository git would use here (`GIT_DIR` honoured).
    pub(crate) fn open() -> Result<HookRepo, CommandError> {
        let cwd = std::env::current_dir().map_err(|e| {
            CommandError::with_message(ErrorKind::Failure, "cannot read the current directory", e)
        })?;
        let cwd = cwd.canonicalize().unwrap_or(cwd);
        let repo = GitRepo::from_env(&cwd)?;
        let store = ObjectStore::open(repo.git_dir())?;
        let top = repo
            .work_tree()
            .map(|t| t.canonicalize().unwrap_or_else(|_| t.to_path_buf()));
        Ok(HookRepo {
            cwd,
            top,
            store,
            repo,
        })
    }

    /// `path` (from the top) as shown to the user: relative to the current
    /// directory, quoted as `core.quotepath` says.
    pub(crate) fn shown(&self, top: &std::path::Path, path: &[u8]) -> Vec<u8> {
        let full = top.join(std::ffi::OsStr::from_bytes(path));
        let rel = annex_core::backend::path::top_file_path(&self.cwd, &full)
            .map(|p| p.as_os_str().as_bytes().to_vec())
            .unwrap_or_else(|_| path.to_vec());
        let quote_path = !matches!(
            self.repo.config_string("core.quotepath").as_deref(),
            Some("false" | "no" | "off" | "0")
        );
        quote(&rel, quote_path)
    }

    /// `annex.thin`.
    pub(crate) fn thin(&self) -> Thin {
        let v = self.repo.config_string("annex.thin");
        Thin::from_config(
            v.as_deref()
                .and_then(|v| annex_core::config::parse_bool(v.as_bytes())),
        )
    }

    /// Fills in the files of the smudge log whose content is here,
    /// warning about those that could not be.
    pub(crate) fn update_smudged(&self) -> Result<Vec<Vec<u8>>, CommandError> {
        let Some(top) = &self.top else {
            return Ok(Vec::new());
        };
        let mut populated = Vec::new();
        hooks::update_smudged(
            top,
            &self.store,
            self.thin(),
            |file, _, outcome| match outcome {
                Smudged::Populated => populated.push(file.to_vec()),
                Smudged::Unpopulated => eprintln!(
                    "git-annex: unable to populate worktree file {}",
                    String::from_utf8_lossy(&self.shown(top, file))
                ),
                Smudged::Skipped => {}
            },
        )?;
        Ok(populated)
    }
}

/// The hook commands, run without building the parser of every command
/// when `args` (the program name first) is exactly what the hooks run:
/// `pre-commit` with paths and no option, or `smudge --update`. Returns
/// the exit code, or `None` to parse the command line as usual (any
/// other command line, and `smudge --update` with something logged).
pub(crate) fn hook_fast_path(args: &[OsString]) -> Option<i32> {
    let (command, rest) = args.get(1..)?.split_first()?;
    let code = |r: Result<(), CommandError>| match r {
        Ok(()) => 0,
        Err(e) => e.report(),
    };
    if command == "pre-commit" && rest.iter().all(|a| !a.as_bytes().starts_with(b"-")) {
        return Some(code(run(Args {
            paths: rest.to_vec(),
        })));
    }
    if command == "smudge" && rest.len() == 1 && rest[0] == "--update" && nothing_smudged() {
        return Some(0);
    }
    None
}

/// Whether the smudge log of the repository git would use here is
/// provably missing or empty, found without opening the repository: the
/// git dir `GIT_DIR` names, else the first `.git` directory at or above
/// the current directory. `false` (open it and look) whenever discovery
/// could go otherwise: a `.git` file (a linked work tree, a submodule)
/// or symlink, a directory on the way up that may itself be a git dir
/// (it has a `HEAD`), discovery limited by `GIT_CEILING_DIRECTORIES` or
/// `GIT_DISCOVERY_ACROSS_FILESYSTEM`, or anything that cannot be read.
fn nothing_smudged() -> bool {
    if std::env::var_os("GIT_CEILING_DIRECTORIES").is_some()
        || std::env::var_os("GIT_DISCOVERY_ACROSS_FILESYSTEM").is_some()
    {
        return false;
    }
    let Ok(cwd) = std::env::current_dir() else {
        return false;
    };
    let git_dir = match annex_core::gitrepo::git_dir_env() {
        Some(dir) => cwd.join(dir),
        None => {
            let mut found = None;
            for dir in cwd.ancestors() {
                let dot_git = dir.join(".git");
                match std::fs::symlink_metadata(&dot_git) {
                    Ok(m) if m.is_dir() => {
                        found = Some(dot_git);
                        break;
                    }
                    Ok(_) => return false,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(_) => return false,
                }
                if std::fs::symlink_metadata(dir.join("HEAD")).is_ok() {
                    return false;
                }
            }
            match found {
                Some(d) => d,
                None => return false,
            }
        }
    };
    match std::fs::metadata(hooks::smudge_log_path(&git_dir)) {
        Ok(m) => m.len() == 0,
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

/// Runs `pre-commit`.
pub fn run(args: Args) -> Result<(), CommandError> {
    let hr = HookRepo::open()?;
    let Some(top) = hr.top.clone() else {
        return Ok(());
    };
    // Nothing staged is proven without git when the index's cache tree is
    // HEAD's tree (as `git commit` leaves it); a temporary index (`git
    // commit -a` or with paths gives the hook one in GIT_INDEX_FILE) is
    // left to git, which reads it.
    let nothing_staged = std::env::var_os("GIT_INDEX_FILE").is_none()
        && hooks::index_is_head_remembered(hr.repo.gix());
    let files = if nothing_staged {
        Vec::new()
    } else {
        hooks::files_to_be_committed(&top, &hr.cwd, &args.paths)?
    };
    let mut reporter = Reporter::new("fix", Mode::Plain);
    let mut fixed = Vec::new();
    for file in files {
        if let Some((key, target)) = hooks::link_to_fix(&top, &hr.store, &file) {
            let shown = hr.shown(&top, &file);
            let mut action = reporter.start(Some(&shown), Some(&key), &shown)?;
            match hooks::fix_link(&top, &file, &target) {
                Ok(()) => {
                    fixed.push(file);
                    action.end(true)?;
                }
                Err(e) => {
                    action.error(&e.to_string());
                    action.end(false)?;
                }
            }
        }
    }
    hooks::stage_links(&top, &fixed)?;
    hr.update_smudged()?;
    run_annex_hook(&hr, "pre-commit-annex", "annex.pre-commit-command");
    reporter.finish()
}

/// Runs git-annex's own hook `name` (`.git/hooks/NAME`) when it exists,
/// else the command configured as `config`; a failure is a warning.
fn run_annex_hook(hr: &HookRepo, name: &str, config: &str) {
    use std::os::unix::fs::PermissionsExt;
    let hook = hr.repo.git_dir().join("hooks").join(name);
    let dir = hr
        .top
        .clone()
        .unwrap_or_else(|| hr.repo.git_dir().to_path_buf());
    let (status, what) = match std::fs::metadata(&hook) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => (
            std::process::Command::new(&hook).current_dir(&dir).status(),
            hook.display().to_string(),
        ),
        _ => match hr.repo.config_string(config) {
            Some(cmd) if !cmd.is_empty() => (
                std::process::Command::new("sh")
                    .args(["-c", &cmd])
                    .current_dir(&dir)
                    .status(),
                cmd,
            ),
            _ => return,
        },
    };
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("git-annex: {what} failed");
    }
}
