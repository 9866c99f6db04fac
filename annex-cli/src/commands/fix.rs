//! `fix [PATH...]`: locked files whose symlink no longer points at their
//! content (moved to another directory) get a right one, staged; unlocked
//! files get their content in place of a pointer, and a hard link to the
//! object with `annex.thin` or a copy without ([`annex_ops::fix`]); shown
//! as `fix FILE ok`.

use std::ffi::OsString;

use annex_ops::fix::{Fix, FixError, Fixed, Fixer};

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
    let mut refreshed = Vec::new();
    // git-annex restages populated files through its queue, and says so.
    let mut populated = false;
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
        // Only files that need fixing are shown.
        let Some(fix) = fixer.plan(&f) else {
            return Ok(());
        };
        if !crate::global::size_limit_admits_key(&ctx.store, &f.key) {
            return Ok(());
        }
        let file = shown.path(&ctx, &f.path);
        let input = input.map_or_else(|| file.clone(), |i| os_bytes(i));
        let mut action = reporter.start(Some(&file), Some(&f.key), &input)?;
        populated |= fix == Fix::Populate;
        match fixer.apply(&f, fix) {
            Ok(Fixed::Stage(entry)) => {
                staged.push(*entry);
                action.end(true)
            }
            Ok(Fixed::Refresh(path)) => {
                refreshed.push(path);
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
    fixer.refresh(&refreshed);
    if !staged.is_empty() {
        fixer.stage(&staged).map_err(fix_error)?;
    }
    if (!staged.is_empty() || populated) && !reporter.is_json() && !args.output.quiet {
        crate::output::outln!("(recording state in git...)")?;
    }
    ctx.commit(&reporter)?;
    crate::global::finish_size_limit(reporter.finish())
}
