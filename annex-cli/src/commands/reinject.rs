//! `reinject SRC DEST` (pairs) and `reinject --known SRC...`: content put
//! back into the annex from outside, only when it is the content of the
//! file's key (`--known`: of any key the branch knows)
//! ([`annex_ops::reinject`]); shown as `reinject SRC (checksum...) ok`.

use std::ffi::OsString;
use std::path::Path;

use annex_ops::reinject::{ReinjectError, Reinjected};

use crate::action::{CommonArgs, OutputArgs, lossy};
use crate::context::Ctx;
use crate::error::{CommandError, ErrorKind};

use super::whereis::{lookup_file, os_bytes};

/// Arguments of `reinject`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// SRC DEST pairs, or with `--known`, sources.
    params: Vec<OsString>,
    /// Reinject any content whose key the git-annex branch knows.
    #[arg(long)]
    known: bool,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

fn lib_error(e: ReinjectError) -> CommandError {
    CommandError::new(ErrorKind::Failure, e)
}

/// Reinjects the content.
pub fn run(args: Args) -> Result<(), CommandError> {
    if !args.known && !args.params.len().is_multiple_of(2) {
        return Err(CommandError::failed("expected pairs"));
    }
    let json = args.output.json || args.output.json_progress || args.output.json_error_messages;
    let ctx = Ctx::open(&args.common.config, args.output.quiet || json)?;
    let mut reporter = ctx.reporter(&args.output, "reinject");
    if args.known {
        for src in &args.params {
            let shown = os_bytes(src);
            let mut action = reporter.start(None, None, &shown)?;
            let path = Path::new(src);
            if !path.exists() {
                action.fail(&format!(
                    "{}: getFileStatus: does not exist (No such file or directory)",
                    lossy(&shown)
                ))?;
                action.end(false)?;
                continue;
            }
            match annex_ops::reinject::known_key(&ctx, path) {
                None => {
                    action.warn("Not known content; skipping")?;
                    action.end(true)?;
                }
                Some(key) => {
                    action.field("key", serde_json::Value::String(key.to_string()));
                    let r = annex_ops::reinject::reinject(&ctx, path, &key).map_err(lib_error)?;
                    action.end(r == Reinjected::Stored)?;
                }
            }
        }
    } else {
        for pair in args.params.chunks(2) {
            let (src, dest) = (&pair[0], &pair[1]);
            let shown = os_bytes(src);
            let mut action = reporter.start(None, None, &shown)?;
            action.field(
                "input",
                serde_json::Value::Array(vec![
                    serde_json::Value::String(lossy(&shown)),
                    serde_json::Value::String(lossy(&os_bytes(dest))),
                ]),
            );
            let Some(file) = lookup_file(&ctx, Path::new(dest))? else {
                action.fail(&format!(
                    "{} is not an annexed file",
                    lossy(&os_bytes(dest))
                ))?;
                action.end(false)?;
                continue;
            };
            let mismatch = format!(
                "{} does not have expected content of {}",
                lossy(&shown),
                lossy(&os_bytes(dest))
            );
            let size_differs = match (file.key.size(), std::fs::metadata(src)) {
                (Some(want), Ok(m)) => m.len() != want,
                _ => false,
            };
            if !Path::new(src).is_file() || size_differs {
                action.fail(&mismatch)?;
                action.end(false)?;
                continue;
            }
            action.field("key", serde_json::Value::String(file.key.to_string()));
            if annex_ops::reinject::verifies(&file.key) {
                action.note("checksum...")?;
            }
            match annex_ops::reinject::reinject(&ctx, Path::new(src), &file.key)
                .map_err(lib_error)?
            {
                Reinjected::Stored => action.end(true)?,
                Reinjected::Mismatch => {
                    action.fail(&mismatch)?;
                    action.end(false)?;
                }
            }
        }
    }
    ctx.commit(&reporter)?;
    reporter.finish()
}
