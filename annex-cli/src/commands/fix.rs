//! `fix [PATH...]`: locked files whose symlink no longer points at their
//! content (moved to another directory) get a right one, staged
//! ([`annex_ops::fix`]); shown as `fix FILE ok`.

use std::ffi::OsString;

use annex_ops::fix::{FixError, Fixer};

use crate::action::{CommonArgs, OutputArgs};
use crate::context::Ctx;
use crate::error::{CommandError, ErrorKind};

use super::whereis::{Shown, os_bytes, seek_each};

/// Arguments of `fix`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories.
    paths: Vec<OsString>,
    /// The file matching options (`--in`, `--copies`, `--include`, ...).
    #[command(flatten)]
    matching: crate::matching::MatchingArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

fn fix_error(e: FixError) -> CommandError {
    CommandError::new(ErrorKind::Failure, e)
}

/// Fixes the links.
pub fn run(args: Args) -> Result<(), CommandError> {
    let json = args.output.json || args.output.json_progress || args.output.json_error_messages;
    let ctx = Ctx::open(&args.common.config, args.output.quiet || json)?;
    let mut reporter = ctx.reporter(&args.output, "fix");
    let fixer = Fixer::new(&ctx).map_err(fix_error)?;
    let matching = args.matching.matcher(&ctx)?;
    let shown = Shown::new(&ctx);
    let mut staged = Vec::new();
    let unmatched = seek_each(&ctx, &args.paths, |f, input| {
        if let Some((m, mctx, wanted)) = &matching {
            let item = annex_core::preferred::Item::file(&f.path, Some(&f.key));
            if !m
                .matches(mctx, &item, wanted.as_ref())
                .map_err(|e| CommandError::failed(e.to_string()))?
            {
                return Ok(());
            }
        }
        // Only files whose link is wrong are shown.
        let entry = match fixer.fix(&f) {
            Ok(None) => return Ok(()),
            Ok(Some(entry)) => Ok(entry),
            Err(e) => Err(e),
        };
        let file = shown.path(&ctx, &f.path);
        let input = input.map_or_else(|| file.clone(), |i| os_bytes(i));
        let mut action = reporter.start(Some(&file), Some(&f.key), &input)?;
        match entry {
            Ok(entry) => {
                staged.push(entry);
                action.end(true)
            }
            Err(e) => {
                action.error(&e.to_string());
                action.end(false)
            }
        }
    })?;
    for _ in 0..unmatched {
        reporter.count_failure();
    }
    if !staged.is_empty() {
        fixer.stage(&staged).map_err(fix_error)?;
        if !reporter.is_json() && !args.output.quiet {
            crate::output::outln!("(recording state in git...)")?;
        }
    }
    ctx.commit(&reporter)?;
    reporter.finish()
}
