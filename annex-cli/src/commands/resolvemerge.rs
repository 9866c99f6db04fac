//! `resolvemerge`: resolves the conflicts a `git merge` left, as git-annex
//! does (variant files for annexed files), then commits the merge.
//!
//! Output as git-annex's: `resolvemerge  (recording state in git...)`, the
//! note that the conflict was resolved, `git commit`'s own output, `ok`; or
//! `failed` with the reason on stderr and `resolvemerge: 1 failed`.

use std::io::Write;
use std::path::{Path, PathBuf};

use annex_sync::git::Git;
use annex_sync::resolve::{self, ResolveError};

use crate::error::{CommandError, ErrorKind};

/// Arguments of `resolvemerge`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    common: crate::action::CommonArgs,
}

/// How a failed action ends: the reason, then `failed`.
fn fail(reason: &str) -> Result<(), CommandError> {
    crate::output::bytes(b"\n")?;
    eprintln!("git-annex-rs: {reason}");
    crate::output::line(format_args!("failed"))?;
    Err(CommandError::quiet_failure("resolvemerge: 1 failed"))
}

/// The current branch, when it exists (git-annex's `Git.Branch.current`).
fn current_branch(top: &Path) -> Option<String> {
    let git = Git::new(top);
    let out = git.run(["symbolic-ref", "-q", "HEAD"]).ok()?;
    let name = String::from_utf8(out.stdout).ok()?.trim().to_string();
    git.run(["show-ref", "--verify", "-q", &name]).ok()?;
    Some(name)
}

/// `path` as git-annex shows it: relative to `cwd` (both absolute).
fn shown(path: &Path, cwd: &Path) -> String {
    let p: Vec<_> = path.components().collect();
    let c: Vec<_> = cwd.components().collect();
    let common = p.iter().zip(&c).take_while(|(a, b)| a == b).count();
    let mut rel = PathBuf::new();
    for _ in common..c.len() {
        rel.push("..");
    }
    for comp in &p[common..] {
        rel.push(comp);
    }
    rel.display().to_string()
}

fn merge_head_error(e: &ResolveError, cwd: &Path) -> String {
    match e {
        ResolveError::MergeHead { path, source } => {
            let what = match source.kind() {
                std::io::ErrorKind::NotFound => {
                    "does not exist (No such file or directory)".to_string()
                }
                _ => source.to_string(),
            };
            format!("{}: withFile: {what}", shown(path, cwd))
        }
        ResolveError::NoMergeSha { path } => {
            format!("No SHA found in {}", shown(path, cwd))
        }
        other => other.to_string(),
    }
}

/// Runs `resolvemerge`.
pub fn run(args: Args) -> Result<(), CommandError> {
    let _ = &args.common;
    let cwd = std::env::current_dir().map_err(|e| {
        CommandError::with_message(ErrorKind::Failure, "cannot read the current directory", e)
    })?;
    let repo = annex_core::gitrepo::GitRepo::discover(&cwd)
        .map_err(|_| CommandError::user("Not in a git repository."))?;
    let top: PathBuf = repo
        .work_tree()
        .map(Path::to_path_buf)
        .ok_or_else(|| CommandError::failed("This command cannot be run in a bare repository."))?;
    let top = top.canonicalize().unwrap_or(top);
    let git_dir = repo.git_dir().to_path_buf();
    let git_dir = git_dir.canonicalize().unwrap_or(git_dir);
    let cwd = cwd.canonicalize().unwrap_or(cwd);
    crate::output::text(format_args!("resolvemerge  "))?;
    // As in git-annex, a missing branch or a MERGE_HEAD without an object
    // id only matter when a conflict needs that side's tree; an unreadable
    // MERGE_HEAD fails at once.
    let branch = current_branch(&top);
    if let Err(e @ ResolveError::MergeHead { .. }) = resolve::read_merge_head(&git_dir) {
        return fail(&merge_head_error(&e, &cwd));
    }
    let resolution = match resolve::resolve_conflicts(&top, &git_dir, branch.as_deref()) {
        Ok(r) => r,
        Err(e) => return fail(&merge_head_error(&e, &cwd)),
    };
    if resolution.is_none() {
        return fail("Merge conflict could not be automatically resolved.");
    }
    crate::output::line(format_args!("(recording state in git...)"))?;
    crate::output::line(format_args!("\n  {}", resolve::RESOLVED_NOTE))?;
    // git-annex shows git commit's output and ignores its failure (with
    // conflicts left unresolved, git refuses to commit).
    match Git::new(&top)
        .command(["commit", "--no-verify", "-m", resolve::COMMIT_MESSAGE])
        .output()
    {
        Ok(out) => {
            crate::output::bytes(&out.stdout)?;
            let _ = std::io::stderr().write_all(&out.stderr);
        }
        Err(e) => eprintln!("git-annex-rs: cannot run git commit: {e}"),
    }
    crate::output::line(format_args!("ok"))
}
