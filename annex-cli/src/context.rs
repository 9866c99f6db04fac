//! What most commands open first: the repository, its git-annex settings,
//! its state (the `git-annex` branch), its object store and its work tree,
//! with the `git-annex` branches of remotes merged in as git-annex does
//! before it reads the branch.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use annex_core::worktree::{Seek, WorkTree, pathspec_from_arg};
use annex_ops::session::{OpenOptions, Session};

use crate::action::Reporter;
use crate::error::CommandError;
use crate::output::outln;

/// An opened, initialized repository ([`Session`]) and the directory the
/// command runs in. Dereferences to the session (`ctx.repo`, `ctx.state`,
/// `ctx.store`, `ctx.config`, `ctx.worktree`).
#[derive(Clone)]
pub struct Ctx {
    /// The current directory (canonical).
    pub cwd: PathBuf,
    /// The repository, shared with the operations opened on it.
    pub session: Rc<Session>,
}

impl std::ops::Deref for Ctx {
    type Target = Session;
    fn deref(&self) -> &Session {
        &self.session
    }
}

impl Ctx {
    /// Opens the repository the current directory is in
    /// ([`Session::open`]: auto-init, remotes' `git-annex` branches merged,
    /// the journal committed). Unless `quiet`, merging remote `git-annex`
    /// branches and recording the journal are announced on stdout, as
    /// git-annex does.
    pub fn open(overrides: &[String], quiet: bool) -> Result<Ctx, CommandError> {
        let cwd = std::env::current_dir()
            .map_err(|e| CommandError::failed(format!("cannot read the current directory: {e}")))?;
        let cwd = cwd.canonicalize().unwrap_or(cwd);
        let start = match std::env::var_os("GIT_DIR").filter(|d| !d.is_empty()) {
            Some(dir) => cwd.join(dir),
            None => cwd.clone(),
        };
        let quiet = quiet || crate::global::get().quiet;
        let (session, opened) = Session::open(&OpenOptions {
            start,
            overrides: overrides.to_vec(),
        })?;
        if !quiet && !opened.merged.is_empty() {
            // One line naming every branch merged, as git-annex's.
            let names: Vec<&str> = opened
                .merged
                .iter()
                .map(|n| n.strip_prefix("refs/remotes/").unwrap_or(n))
                .collect();
            outln!("(merging {} into git-annex...)", names.join(" "))?;
        }
        for skipped in &opened.skipped {
            eprintln!("git-annex-rs: {skipped}");
        }
        // `--semitrust`/`--untrust`/`--trust REPO` name repositories: an
        // unknown one stops the command, and `--trust` is refused with a
        // warning, as git-annex does.
        let g = crate::global::get();
        for name in g
            .forced
            .trust
            .iter()
            .map(|(n, _)| n)
            .chain(&g.trust_ignored)
        {
            annex_ops::matching::resolve_repo(&session, name)
                .map_err(|e| CommandError::user(e.to_string()))?;
        }
        for _ in &g.trust_ignored {
            crate::error::warn(
                "Ignoring request to trust repository, because that can lead to data loss.",
            );
        }
        if opened.recorded && !quiet {
            outln!("(recording state in git...)")?;
        }
        Ok(Ctx {
            cwd,
            session: Rc::new(session),
        })
    }

    /// The work tree, or git-annex's error for a bare repository.
    pub fn worktree(&self) -> Result<&WorkTree, CommandError> {
        Ok(self.session.worktree()?)
    }

    /// The annexed files named by command-line paths (all files when none
    /// are given). A path that matches nothing git knows is reported on
    /// stderr as git-annex does and counted as a failure.
    pub fn seek(&self, args: &[OsString], reporter: &mut Reporter) -> Result<Seek, CommandError> {
        let wt = self.worktree()?;
        let top = wt
            .top()
            .canonicalize()
            .unwrap_or_else(|_| wt.top().to_path_buf());
        let mut specs = Vec::with_capacity(args.len());
        for a in args {
            specs.push(pathspec_from_arg(&top, &self.cwd, Path::new(a))?);
        }
        if args.is_empty() {
            // No paths: the current directory, as git-annex seeks; a
            // directory with no files in it is no error then.
            let here = pathspec_from_arg(&top, &self.cwd, Path::new("."))?;
            let mut seek = wt.annexed_files(&[here])?;
            seek.unmatched.clear();
            return Ok(seek);
        }
        let seek = wt.annexed_files(&specs)?;
        for spec in &seek.unmatched {
            // Shown as the user wrote it.
            let shown = specs
                .iter()
                .position(|s| s.strip_suffix(b"/").unwrap_or(s) == spec.as_slice())
                .map(|i| args[i].to_string_lossy().into_owned())
                .unwrap_or_else(|| String::from_utf8_lossy(spec).into_owned());
            eprintln!("error: pathspec '{shown}' did not match any file(s) known to git");
            eprintln!("Did you forget to 'git add'?");
            reporter.count_failure();
        }
        Ok(seek)
    }

    /// A path from the top of the work tree as shown to the user: relative
    /// to the current directory, as git-annex shows file names.
    pub fn display_path(&self, path_from_top: &[u8]) -> Vec<u8> {
        use std::os::unix::ffi::OsStrExt;
        let Some(wt) = &self.worktree else {
            return path_from_top.to_vec();
        };
        let top = wt
            .top()
            .canonicalize()
            .unwrap_or_else(|_| wt.top().to_path_buf());
        let full = top.join(std::ffi::OsStr::from_bytes(path_from_top));
        match annex_core::backend::path::top_file_path(&self.cwd, &full) {
            Ok(rel) => rel.as_os_str().as_bytes().to_vec(),
            Err(_) => path_from_top.to_vec(),
        }
    }

    /// A reporter for `command` with `output`'s options, quoting file names
    /// as `core.quotepath` says (git's default: non-ASCII bytes escaped).
    pub fn reporter(&self, output: &crate::action::OutputArgs, command: &str) -> Reporter {
        output
            .reporter(command)
            .quote_path(self.config.get_bool("core.quotepath").unwrap_or(true))
    }

    /// Commits the journal to the `git-annex` branch, announcing it on
    /// stdout in plain mode as git-annex does.
    pub fn commit(&self, reporter: &Reporter) -> Result<(), CommandError> {
        let committed = self.session.commit().map_err(CommandError::uncommitted)?;
        if committed && !reporter.is_json() {
            outln!("(recording state in git...)")?;
        }
        Ok(())
    }
}
