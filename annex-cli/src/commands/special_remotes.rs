//! `initremote NAME PARAM=VALUE...` and `enableremote NAME
//! [PARAM=VALUE...]`: set up a special remote (the operations are
//! `annex_ops::special`); this module parses and reports.

use std::ffi::OsString;

use serde_json::Value;

use crate::action::OutputArgs;
use crate::context::Ctx;
use crate::error::CommandError;

/// Arguments of `initremote` and `enableremote`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The remote's name, then its parameters (`type=directory`...).
    params: Vec<OsString>,
    #[command(flatten)]
    output: OutputArgs,
    /// Override a git config setting for this command (`name=value`).
    #[arg(short = 'c', long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
}

/// `initremote`.
pub fn run_init(args: Args) -> Result<(), CommandError> {
    run(args, "initremote")
}

/// `enableremote`.
pub fn run_enable(args: Args) -> Result<(), CommandError> {
    run(args, "enableremote")
}

fn run(args: Args, command: &str) -> Result<(), CommandError> {
    let words = super::describe::strings(&args.params);
    let Some((name, params)) = words.split_first() else {
        return Err(CommandError::failed(if command == "initremote" {
            "Specify a name for the remote."
        } else {
            "Specify the special remote to enable."
        }));
    };
    let ctx = Ctx::open(&args.config, args.output.quiet)?;
    let mut reporter = ctx.reporter(&args.output, command);
    let mut action = reporter.start(None, None, name.as_bytes())?;
    action.field(
        "input",
        Value::Array(words.iter().cloned().map(Value::String).collect()),
    );
    let result = if command == "initremote" {
        annex_ops::special::init(&ctx, name, params)
    } else {
        annex_ops::special::enable(&ctx, name, params)
    };
    match result {
        Ok(setup) => {
            if !setup.notes.is_empty() {
                action.warn(&setup.notes.join("\n"))?;
            }
            action.end(true)?;
        }
        Err(e) => {
            action.fail(&e.to_string())?;
            action.end(false)?;
        }
    }
    ctx.commit(&reporter)?;
    reporter.finish()
}
