//! `rekey FILE KEY...` (pairs, or `--batch` lines `FILE KEY`): files made
//! to use other keys for their content ([`annex_ops::rekey`]); shown as
//! `rekey FILE (checksum...) ok`.

use std::ffi::OsString;
use std::path::Path;

use annex_core::key::Key;
use annex_ops::rekey::RekeyError;
use serde_json::Value;

use crate::action::{CommonArgs, OutputArgs, Reporter, lossy};
use crate::context::Ctx;
use crate::error::CommandError;

use super::whereis::{lookup_file, os_bytes};

/// Arguments of `rekey`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// FILE KEY pairs.
    params: Vec<OsString>,
    /// Read `FILE KEY` lines from stdin.
    #[arg(long)]
    batch: bool,
    /// With `--batch`, input items end with NUL instead of newline.
    #[arg(short = 'z')]
    z: bool,
    /// Rekey files whose content is not here.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// One file; whether it was changed (and staged).
fn one(
    ctx: &Ctx,
    reporter: &mut Reporter,
    force: bool,
    file: &[u8],
    key: &[u8],
    input: Vec<Value>,
) -> Result<bool, CommandError> {
    let new = Key::parse(key).map_err(|_| CommandError::failed("bad key"))?;
    let Some(f) = lookup_file(ctx, Path::new(super::whereis::os_str(file)))? else {
        return Ok(false);
    };
    let shown = ctx.display_path(&f.path);
    let mut action = reporter.start(Some(&shown), None, file)?;
    action.field("input", Value::Array(input));
    if f.key == new {
        action.end(true)?;
        return Ok(false);
    }
    if !force && !ctx.store.has(&f.key) {
        action.fail(&format!(
            "{} is not available (use --force to override)",
            lossy(&shown)
        ))?;
        action.end(false)?;
        return Ok(false);
    }
    if annex_ops::rekey::verifies(ctx, &f, &new) {
        action.note("checksum...")?;
    }
    match annex_ops::rekey::rekey(ctx, &f, &new) {
        Ok(()) => {
            action.end(true)?;
            Ok(true)
        }
        Err(RekeyError::Verification) => {
            action.warn("Verification of content failed")?;
            action.fail(&RekeyError::Verification.to_string())?;
            action.end(false)?;
            Ok(false)
        }
        Err(e) => {
            action.fail(&e.to_string())?;
            action.end(false)?;
            Ok(false)
        }
    }
}

/// Rekeys the files.
pub fn run(args: Args) -> Result<(), CommandError> {
    if !args.batch && (args.params.is_empty() || !args.params.len().is_multiple_of(2)) {
        return Err(CommandError::failed("expected pairs"));
    }
    let json = args.output.json || args.output.json_progress || args.output.json_error_messages;
    let ctx = Ctx::open(&args.common.config, args.output.quiet || json)?;
    let mut reporter = ctx.reporter(&args.output, "rekey");
    let mut staged = false;
    if args.batch {
        crate::batch::for_each_item(args.z, |line| {
            let Some(sp) = line.iter().rposition(|&b| b == b' ') else {
                return Err(CommandError::failed(
                    "Batch input parse failure: Expected a file and a key",
                ));
            };
            let input = vec![Value::String(lossy(line))];
            staged |= one(
                &ctx,
                &mut reporter,
                args.force,
                &line[..sp],
                &line[sp + 1..],
                input,
            )?;
            Ok(())
        })?;
    } else {
        for pair in args.params.chunks(2) {
            let (f, k) = (os_bytes(&pair[0]), os_bytes(&pair[1]));
            let input = vec![Value::String(lossy(&f)), Value::String(lossy(&k))];
            staged |= one(&ctx, &mut reporter, args.force, &f, &k, input)?;
        }
    }
    // Staging and the journal are recorded together, as git-annex says once.
    let committed = ctx.session.commit().map_err(CommandError::uncommitted)?;
    if (committed || staged) && !reporter.is_json() && !args.output.quiet {
        crate::output::outln!("(recording state in git...)")?;
    }
    reporter.finish()
}
