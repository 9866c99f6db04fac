//! `status [PATH...]`: the work tree's changes, `C PATH` a line (or
//! `--json`), as git-annex shows them ([`annex_ops::status`]).

use std::ffi::OsString;
use std::path::Path;

use annex_core::worktree::pathspec_from_arg;
use serde_json::{Map, Value};

use crate::action::{CommonArgs, OutputArgs, lossy, print_json, quote};
use crate::context::Ctx;
use crate::error::{CommandError, ErrorKind};

/// Arguments of `status`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories.
    paths: Vec<OsString>,
    /// Passed to `git status` (`none`, `untracked`, `dirty`, `all`).
    #[arg(long = "ignore-submodules", value_name = "WHEN")]
    ignore_submodules: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// Shows the changes.
pub fn run(args: Args) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.common.config, true)?;
    let wt = ctx.worktree()?;
    let top = wt
        .top()
        .canonicalize()
        .unwrap_or_else(|_| wt.top().to_path_buf());
    let mut specs = Vec::new();
    for p in &args.paths {
        specs.push(pathspec_from_arg(&top, &ctx.cwd, Path::new(p))?);
    }
    let extra: Vec<String> = args
        .ignore_submodules
        .iter()
        .map(|w| format!("--ignore-submodules={w}"))
        .collect();
    let changes = annex_ops::status::changes(&ctx, &extra, &specs)
        .map_err(|e| CommandError::new(ErrorKind::Failure, e))?;
    let json = args.output.json || args.output.json_progress || args.output.json_error_messages;
    let quote_path = ctx.config.get_bool("core.quotepath").unwrap_or(true);
    let at_top = top == ctx.cwd;
    for (c, path) in changes {
        let mut shown = ctx.display_path(&path);
        // git-annex shows paths from the top with `./` in front.
        if at_top {
            shown.splice(0..0, *b"./");
        }
        if json {
            let mut m = Map::new();
            m.insert("error-messages".into(), Value::Array(Vec::new()));
            m.insert("file".into(), Value::String(lossy(&shown)));
            m.insert("status".into(), Value::String((c as char).to_string()));
            print_json(&Value::Object(m))?;
        } else {
            let mut line = vec![c, b' '];
            line.extend_from_slice(&quote(&shown, quote_path));
            crate::output::bytes_line(&line)?;
        }
    }
    Ok(())
}
