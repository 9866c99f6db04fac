//! `upgrade`: the repository brought to version 10 by
//! [`annex_ops::upgrade`], shown as git-annex shows it (`upgrade  (v8 to
//! v9...) ok`, the warning when the step to 10 is put off).

use annex_ops::upgrade::{DEFERRED_WARNING, Event, UpgradeOptions};

use crate::action::OutputArgs;
use crate::error::CommandError;

/// Arguments of `upgrade`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Only do automatic upgrades.
    #[arg(long)]
    autoonly: bool,
    /// Upgrade from version 9 at once, even within a year of the upgrade
    /// to it.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    output: OutputArgs,
    /// Override a git config setting for this command (`name=value`).
    #[arg(short = 'c', long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
}

/// Upgrades the repository.
pub fn run(args: Args) -> Result<(), CommandError> {
    let cwd = std::env::current_dir()
        .map_err(|e| CommandError::failed(format!("cannot read the current directory: {e}")))?;
    let mut reporter = args.output.reporter("upgrade");
    let mut action = reporter.start_opt(None, None, None)?;
    let options = UpgradeOptions {
        force: args.force,
        automatic: args.autoonly,
    };
    let mut events = Vec::new();
    let done = annex_ops::upgrade::upgrade(&cwd, options, &mut |e| events.push(e));
    for e in events {
        match e {
            Event::Step { from, to } => action.note(&format!("v{from} to v{to}..."))?,
            Event::Deferred => action.warn(DEFERRED_WARNING)?,
        }
    }
    match done {
        Ok(ok) => action.end(ok)?,
        Err(e) => {
            action.fail(&e.to_string())?;
            action.end(false)?;
        }
    }
    reporter.finish()
}
