//! `lock [PATH...]`: turn unlocked files back into locked ones, as `git
//! annex lock` does. A file whose content is not its key's is refused
//! (its changes would be lost) unless `--force`.

use std::ffi::OsString;

use annex_core::backend::Backend;
use annex_core::ingest::{self, IngestError, Ingester, Locked};
use serde_json::Value;

use crate::action::{CommonArgs, OutputArgs};
use crate::commands::add::{Shower, giveup, seek_inputs};
use crate::context::Ctx;
use crate::error::CommandError;

/// Arguments of `lock`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The files to lock (default: all under the current directory).
    paths: Vec<OsString>,
    /// Lock even a modified file, discarding its changes.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

const MODIFIED: &str = "Locking this file would discard any changes you have made to it. Use 'git annex add' to stage your changes. (Or, use --force to override)";

/// Locks the named files.
pub fn run(args: Args) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.common.config, args.output.quiet)?;
    let mut reporter = ctx.reporter(&args.output, "lock");
    let seek = ctx.seek(&args.paths, &mut reporter)?;
    let wt = ctx.worktree()?;
    let top = wt
        .top()
        .canonicalize()
        .unwrap_or_else(|_| wt.top().to_path_buf());
    let repo = wt.repo().clone();
    let ingester = Ingester::new(top, ctx.store.clone(), Backend::Sha256E);
    let shower = Shower::new(&ctx, reporter.is_json());
    let input_of = seek_inputs(&ctx, &args.paths)?;
    let mut entries = Vec::new();
    // A file still staged unlocked but a symlink in the work tree (a lock
    // killed before it staged it) is locked again: it is staged.
    let staged = ingest::Staged::read(&repo)?;
    for f in seek
        .files
        .iter()
        .filter(|f| !f.locked || staged.is_symlink(&f.path) == Some(false))
    {
        if !crate::global::size_limit_admits_key(&ctx.store, &f.key) {
            continue;
        }
        let input = input_of(&f.path).unwrap_or_else(|| shower.raw(&f.path));
        let mut action = reporter.start(Some(&shower.raw(&f.path)), None, &input)?;
        action.field("key", Value::String(f.key.to_string()));
        match ingest::lock(&repo, &ingester, &f.path, &f.key, args.force) {
            Ok(Locked::Done(entry)) => {
                entries.push(entry);
                action.end(true)?;
            }
            Err(IngestError::Modified { .. }) => {
                // As git-annex's giveup: the message on stderr, in the JSON
                // only with --json-error-messages.
                giveup(&mut action, MODIFIED, args.output.json_error_messages)?;
                action.end(false)?;
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
