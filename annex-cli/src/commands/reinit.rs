//! `reinit UUID|DESCRIPTION`: git-annex initialized again with the UUID of
//! an earlier repository ([`annex_ops::reinit`]), shown as `reinit NAME
//! ok`.

use std::ffi::OsString;

use crate::action::OutputArgs;
use crate::error::CommandError;

/// Arguments of `reinit`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The UUID, remote name or description of the repository to be.
    words: Vec<OsString>,
    #[command(flatten)]
    output: OutputArgs,
    /// Override a git config setting for this command (`name=value`).
    #[arg(short = 'c', long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
}

/// Reinitializes the repository.
pub fn run(args: Args) -> Result<(), CommandError> {
    let name = super::describe::strings(&args.words).join(" ");
    let cwd = std::env::current_dir()
        .map_err(|e| CommandError::failed(format!("cannot read the current directory: {e}")))?;
    let mut reporter = args.output.reporter("reinit");
    let mut action = reporter.start(None, None, name.as_bytes())?;
    for warning in annex_ops::reinit::learn_remote_uuids(&cwd, &name, &args.config) {
        action.warn(&warning)?;
    }
    let done = annex_ops::reinit::resolve(&cwd, &name, &args.config)
        .and_then(|u| annex_ops::reinit::reinit(&cwd, &u));
    match done {
        Ok(()) => action.end(true)?,
        Err(e) => {
            action.fail(&e.to_string())?;
            action.end(false)?;
        }
    }
    reporter.finish()
}
