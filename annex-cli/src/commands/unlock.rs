//! `unlock [PATH...]`: turn locked files into unlocked ones, as `git annex
//! unlock` does: the symlink is replaced by the content (a copy, or a hard
//! link with `annex.thin`), or by the pointer file when the content is
//! absent, and the pointer file is staged.
//!
//! git-annex also records the file in its keys database; we do not write
//! that database: git-annex finds the staged pointer files itself
//! (`reconcileStaged`) the next time it opens it.

use std::ffi::OsString;

use annex_core::ingest::{self, Thin};
use serde_json::Value;

use crate::action::{CommonArgs, OutputArgs};
use crate::commands::add::{Shower, giveup, seek_inputs};
use crate::context::Ctx;
use crate::error::CommandError;

/// Arguments of `unlock`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The files to unlock (default: all under the current directory).
    paths: Vec<OsString>,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// Unlocks the named files.
pub fn run(args: Args) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.common.config, args.output.quiet)?;
    let mut reporter = ctx.reporter(&args.output, "unlock");
    let seek = ctx.seek(&args.paths, &mut reporter)?;
    let wt = ctx.worktree()?;
    let top = wt
        .top()
        .canonicalize()
        .unwrap_or_else(|_| wt.top().to_path_buf());
    let repo = wt.repo().clone();
    let thin = if ctx.config.get_bool("annex.thin").unwrap_or(false) {
        Thin::HardLink
    } else {
        Thin::Copy
    };
    let shower = Shower::new(&ctx, reporter.is_json());
    let input_of = seek_inputs(&ctx, &args.paths)?;
    let mut entries = Vec::new();
    // A file still staged as a symlink but unlocked in the work tree (an
    // unlock killed before it staged it) is unlocked again: it is staged.
    let staged = ingest::Staged::read(&repo)?;
    for f in seek
        .files
        .iter()
        .filter(|f| f.locked || staged.is_symlink(&f.path) == Some(true))
    {
        if !crate::global::size_limit_admits_key(&ctx.store, &f.key) {
            continue;
        }
        let input = input_of(&f.path).unwrap_or_else(|| shower.raw(&f.path));
        let mut action = reporter.start(Some(&shower.raw(&f.path)), None, &input)?;
        action.field("key", Value::String(f.key.to_string()));
        match ingest::unlock(&repo, &top, &ctx.store, &f.path, &f.key, thin) {
            Ok(entry) => {
                entries.push(entry);
                action.end(true)?;
            }
            Err(e) => {
                let msg = CommandError::from(e).to_string();
                giveup(&mut action, &msg, args.output.json_error_messages)?;
                action.end(false)?;
            }
        }
    }
    ingest::stage(&repo, &entries)?;
    crate::commands::add::finish_recording(&ctx, &reporter, !entries.is_empty())?;
    crate::global::finish_size_limit(reporter.finish())
}
