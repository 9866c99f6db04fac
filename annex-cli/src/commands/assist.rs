//! `assist [REMOTE...]`: add files and sync changes with remotes, as
//! `git annex assist` does: from the top of the work tree (wherever it is
//! run), the new and modified files are added as `add` adds them (only
//! those under `--content-of` paths when given), then the sync machinery
//! runs in its `assist` mode: commit, pull, push, and content transferred
//! unless `annex.synccontent` is false.
//!
//! Difference: the options are `sync`'s (a superset of the reference's
//! `assist` options, which are `pull`'s and `push`'s with `--message`).

use std::ffi::OsString;

use clap::Parser;

use super::sync::{self, Mode};
use crate::context::Ctx;
use crate::error::CommandError;

/// `add`'s arguments, parsed from words.
#[derive(Parser)]
struct AddWords {
    #[command(flatten)]
    args: super::add::Args,
}

/// Adds, then syncs.
pub fn run(mut args: sync::Args) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.common.config, true)?;
    let top = ctx.worktree()?.top().to_path_buf();
    let cwd = ctx.cwd.clone();
    drop(ctx);
    // --content-of paths are the user's, relative to where assist runs;
    // the rest runs from the top, as git-annex's (`prepMerge`).
    for p in &mut args.content_of {
        *p = cwd.join(&*p).into_os_string();
    }
    std::env::set_current_dir(&top)
        .map_err(|e| CommandError::failed(format!("cannot change to {}: {e}", top.display())))?;
    let mut words: Vec<OsString> = vec!["add".into()];
    for c in &args.common.config {
        words.push("-c".into());
        words.push(c.into());
    }
    if args.out.quiet {
        words.push("--quiet".into());
    }
    words.push("--".into());
    if args.content_of.is_empty() {
        words.push(".".into());
    } else {
        words.extend(args.content_of.iter().cloned());
    }
    let add = AddWords::try_parse_from(words).map_err(|e| CommandError::failed(e.to_string()))?;
    super::add::run(add.args)?;
    sync::run_mode(args, Mode::Assist)
}
