//! `unannex [PATH...]` and `uninit`: annexed files taken out of the annex
//! (their content put back in place, the files removed from git's index),
//! and, for `uninit`, git-annex removed from the repository once no
//! content would be lost ([`annex_ops::unannex`]); shown as git-annex shows
//! them (`unannex FILE ok`, `uninit check`, `uninit objects`, `uninit
//! finish`).

use std::ffi::OsString;

use annex_ops::unannex::{self, UnannexError};

use crate::action::{CommonArgs, Mode, OutputArgs, Reporter};
use crate::context::Ctx;
use crate::error::{CommandError, ErrorKind};
use crate::output::outln;

use super::whereis::{Shown, os_bytes, seek_each};

/// Arguments of `unannex`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories.
    paths: Vec<OsString>,
    /// Hard link the content into place instead of copying it.
    #[arg(long)]
    fast: bool,
    /// The file matching options (`--in`, `--copies`, `--include`, ...).
    #[command(flatten)]
    matching: crate::matching::MatchingArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// Arguments of `uninit`.
#[derive(clap::Args, Debug)]
pub struct UninitArgs {
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

fn lib_error(e: UnannexError) -> CommandError {
    CommandError::new(ErrorKind::Failure, e)
}

/// Unannexes the files.
pub fn run(args: Args) -> Result<(), CommandError> {
    let json = args.output.json || args.output.json_progress || args.output.json_error_messages;
    let ctx = Ctx::open(&args.common.config, args.output.quiet || json)?;
    let mut reporter = ctx.reporter(&args.output, "unannex");
    unannex_files(
        &ctx,
        &mut reporter,
        &args.paths,
        &args.matching,
        args.fast,
        args.output.quiet,
    )?;
    crate::global::finish_size_limit(reporter.finish())
}

/// Unannexes the annexed files with content the paths name (all below the
/// current directory when none), then removes them from the index.
fn unannex_files(
    ctx: &Ctx,
    reporter: &mut Reporter,
    paths: &[OsString],
    matching: &crate::matching::MatchingArgs,
    fast: bool,
    quiet: bool,
) -> Result<(), CommandError> {
    let matching = matching.matcher(ctx)?;
    let shown = Shown::new(ctx);
    let mut done: Vec<Vec<u8>> = Vec::new();
    let unmatched = seek_each(ctx, paths, |f, input| {
        if !unannex::has_content(ctx, &f) {
            return Ok(());
        }
        if let Some((m, mctx, wanted)) = &matching {
            let item = annex_core::preferred::Item::file(&f.path, Some(&f.key));
            if !m
                .matches(mctx, &item, wanted.as_ref())
                .map_err(|e| CommandError::failed(e.to_string()))?
            {
                return Ok(());
            }
        }
        if !crate::global::size_limit_admits_key(&ctx.store, &f.key) {
            return Ok(());
        }
        let file = shown.path(ctx, &f.path);
        let input = input.map_or_else(|| file.clone(), |i| os_bytes(i));
        let mut action = reporter.start(Some(&file), Some(&f.key), &input)?;
        match unannex::unannex(ctx, &f, fast) {
            Ok(()) => {
                done.push(f.path.clone());
                action.end(true)
            }
            Err(e) => {
                action.fail(&e.to_string())?;
                action.end(false)
            }
        }
    })?;
    for _ in 0..unmatched {
        reporter.count_failure();
    }
    if !done.is_empty() {
        unannex::remove_from_index(ctx, &done).map_err(lib_error)?;
        if !reporter.is_json() && !quiet {
            outln!("(recording state in git...)")?;
        }
    }
    Ok(())
}

/// git-annex's words when content would be left behind.
fn leftovers_message(objects_dir: &str) -> String {
    [
        "Not fully uninitialized",
        &format!("Some annexed data is still left in {objects_dir}"),
        "This may include deleted files, or old versions of modified files.",
        "",
        "If you don't care about preserving the data, just delete the",
        "directory.",
        "",
        "Or, you can move it to another location, in case it turns out",
        "something in there is important.",
        "",
        "Or, you can run `git annex unused` followed by `git annex dropunused`",
        "to remove data that is not used by any tag or branch, which might",
        "take care of all the data.",
        "",
        "Then run `git annex uninit` again to finish.",
        "",
    ]
    .join("\n")
}

/// De-initializes git-annex in the repository.
pub fn run_uninit(args: UninitArgs) -> Result<(), CommandError> {
    let json = args.output.json || args.output.json_progress || args.output.json_error_messages;
    let quiet = args.output.quiet;
    let ctx = Ctx::open(&args.common.config, quiet || json)?;
    let mode = if json { Mode::Json } else { Mode::Plain };
    let failed = || Err(CommandError::quiet_failure("uninit: 1 failed"));
    let step = |name: &str| {
        Reporter::new(name, mode)
            .json_error_messages(args.output.json_error_messages)
            .quiet(quiet)
    };

    let mut check = step("uninit check");
    let mut action = check.start_opt(None, None, None)?;
    if let Err(e) = unannex::uninit_check(&ctx, &ctx.cwd) {
        action.fail(&e.to_string())?;
        action.end(false)?;
        return failed();
    }
    action.end(true)?;

    let mut reporter = ctx.reporter(&args.output, "unannex");
    unannex_files(&ctx, &mut reporter, &[], &Default::default(), true, quiet)?;

    let mut objects = step("uninit objects");
    let mut action = objects.start_opt(None, None, None)?;
    let left = unannex::remove_unannexed_objects(&ctx).map_err(lib_error)?;
    if !left.is_empty() {
        let dir = ctx.store.objects_dir();
        let top = ctx.worktree()?.top().to_path_buf();
        let shown = dir.strip_prefix(&top).unwrap_or(&dir);
        action.fail(&leftovers_message(&format!("{}/", shown.display())))?;
        action.end(false)?;
        return failed();
    }
    action.end(true)?;

    let mut finish = step("uninit finish");
    let mut action = finish.start_opt(None, None, None)?;
    let warnings = unannex::uninit_finish(&ctx).map_err(lib_error)?;
    for w in warnings {
        action.warn(&w)?;
    }
    action.end(true)
}
