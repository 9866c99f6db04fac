//! `rmurl FILE URL...` (or `--batch` lines `FILE URL`, split at the last
//! space): the URL forgotten for the file's key, whatever downloader
//! prefix it was recorded with; when no web URL is left, the web no longer
//! has the content ([`annex_ops::urls::forget_url`]). Shown as
//! `rmurl FILE ok`; a file that is not annexed is skipped silently, as
//! git-annex skips it.

use std::path::Path;

use annex_core::worktree::pathspec_from_arg;
use serde_json::Value;

use crate::action::{CommonArgs, OutputArgs, Reporter};
use crate::context::Ctx;
use crate::error::CommandError;

/// Arguments of `rmurl`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Pairs of FILE URL.
    params: Vec<String>,
    /// Read `FILE URL` lines from stdin.
    #[arg(long)]
    batch: bool,
    /// With `--batch`, items end with NUL.
    #[arg(short = 'z')]
    z: bool,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

fn one(
    ctx: &Ctx,
    reporter: &mut Reporter,
    file: &str,
    url: &str,
    inputs: &[&str],
) -> Result<(), CommandError> {
    let wt = ctx.worktree()?;
    let top = wt
        .top()
        .canonicalize()
        .unwrap_or_else(|_| wt.top().to_path_buf());
    let path = pathspec_from_arg(&top, &ctx.cwd, Path::new(file))?;
    let Some((key, _)) = wt
        .lookup_key(&path)
        .map_err(|e| CommandError::failed(e.to_string()))?
    else {
        return Ok(());
    };
    let mut action = reporter.start(Some(file.as_bytes()), Some(&key), inputs[0].as_bytes())?;
    action.field(
        "input",
        Value::Array(inputs.iter().map(|s| Value::String((*s).into())).collect()),
    );
    annex_ops::urls::forget_url(ctx, &key, url.as_bytes())?;
    action.end(true)
}

/// Forgets the URLs.
pub fn run(args: Args) -> Result<(), CommandError> {
    let json = args.output.json || args.output.json_progress || args.output.json_error_messages;
    let ctx = Ctx::open(&args.common.config, args.output.quiet || json)?;
    let mut reporter = ctx.reporter(&args.output, "rmurl");
    if args.batch {
        crate::batch::for_each_item(args.z, |line| {
            let text = String::from_utf8_lossy(line).into_owned();
            match text.rsplit_once(' ') {
                Some((f, u)) if !f.is_empty() && !u.is_empty() => {
                    one(&ctx, &mut reporter, f, u, &[&text])
                }
                _ => Err(CommandError::failed(
                    "Batch input parse failure: Expected: \"file url\"",
                )),
            }
        })?;
    } else {
        if !args.params.len().is_multiple_of(2) {
            return Err(CommandError::failed("expected pairs of file and url"));
        }
        for pair in args.params.chunks(2) {
            one(
                &ctx,
                &mut reporter,
                &pair[0],
                &pair[1],
                &[&pair[0], &pair[1]],
            )?;
        }
    }
    crate::commands::add::finish_recording(&ctx, &reporter, false)?;
    reporter.finish()
}
