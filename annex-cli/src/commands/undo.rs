//! `undo PATH...` (deprecated in git-annex, and said so): the last
//! committed change to each file or directory taken back in the index and
//! the work tree ([`annex_ops::undo`]); `--json`. Files git does not track
//! are refused first, naming them.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use crate::action::{CommonArgs, OutputArgs};
use crate::context::Ctx;
use crate::error::CommandError;

/// Arguments of `undo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories.
    paths: Vec<OsString>,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// Runs `undo`.
pub fn run(args: Args) -> Result<(), CommandError> {
    let mut reporter = args.out.reporter("undo");
    let ctx = Ctx::open(&args.common.config, true)?;
    ctx.worktree()?;
    if reporter.shows_side_messages() {
        crate::output::outln!("")?;
    }
    eprintln!(
        "  git-annex undo is deprecated and will be removed from a future version of git-annex"
    );
    let undo_error = |e: annex_ops::undo::UndoError| CommandError::failed(e.to_string());
    let untracked = annex_ops::undo::untracked(&ctx.cwd, &args.paths).map_err(undo_error)?;
    if !untracked.is_empty() {
        let quote = ctx.config.get_bool("core.quotepath").unwrap_or(true);
        let shown: Vec<String> = untracked
            .iter()
            .map(|p| String::from_utf8_lossy(&crate::action::quote(p, quote)).into_owned())
            .collect();
        return Err(CommandError::failed(format!(
            "Cannot undo changes to files that are not checked into git: {}",
            shown.join(" ")
        )));
    }
    annex_ops::undo::commit_staged(&ctx.cwd);
    for p in &args.paths {
        let action = reporter.start(None, None, p.as_bytes())?;
        let ok = match annex_ops::undo::undo(&ctx.cwd, p.as_ref()) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("git-annex-rs: {e}");
                false
            }
        };
        action.end(ok)?;
    }
    reporter.finish()
}
