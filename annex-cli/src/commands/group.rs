//! `group REPOSITORY GROUP` (add to a group), `group REPOSITORY` (show its
//! groups), `group --list` (every group in use) and `ungroup REPOSITORY
//! GROUP`: the repository groups of `group.log`.

use std::collections::BTreeSet;
use std::ffi::OsString;

use annex_core::logs::trust::TrustLevel;

use crate::action::{Mode, Reporter};
use crate::context::Ctx;
use crate::error::CommandError;
use crate::output::bytes_line;

use super::describe::{record, resolve, strings};

/// Arguments of `group`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The repository and, to add it to one, the group.
    params: Vec<OsString>,
    /// List all currently defined groups.
    #[arg(long)]
    list: bool,
    /// Avoid the usual informational output (adding still reports).
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Override a git config setting for this command (`name=value`).
    #[arg(short = 'c', long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
}

/// Arguments of `ungroup`.
#[derive(clap::Args, Debug)]
pub struct UngroupArgs {
    /// The repository and the group.
    params: Vec<OsString>,
    /// Avoid the usual informational output.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Override a git config setting for this command (`name=value`).
    #[arg(short = 'c', long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
}

/// `group`.
pub fn run(args: Args) -> Result<(), CommandError> {
    let params = strings(&args.params);
    if args.list {
        if !params.is_empty() {
            return Err(CommandError::failed(
                "Cannot combine --list with other options",
            ));
        }
        let ctx = Ctx::open(&args.config, false)?;
        let trust = ctx.state.trust(&ctx.config)?;
        let groups = ctx.state.groups()?;
        let mut all = BTreeSet::new();
        for uuid in ctx.state.descriptions()?.keys() {
            if trust.get(uuid) == Some(&TrustLevel::Dead) {
                continue;
            }
            if let Some(gs) = groups.get(uuid) {
                all.extend(gs.iter().cloned());
            }
        }
        return show_groups(&all);
    }
    match params.as_slice() {
        [name] => {
            let ctx = Ctx::open(&args.config, false)?;
            let uuid = resolve(&ctx, name)?;
            let groups = ctx.state.groups()?.remove(&uuid).unwrap_or_default();
            show_groups(&groups)
        }
        [name, group] => {
            let ctx = Ctx::open(&args.config, false)?;
            let uuid = resolve(&ctx, name)?;
            // Reported even with --quiet, as git-annex does.
            let mut reporter = Reporter::new("group", Mode::Plain);
            let action = reporter.start(None, None, name.as_bytes())?;
            let mut groups = ctx.state.groups()?.remove(&uuid).unwrap_or_default();
            groups.insert(group.as_bytes().to_vec());
            ctx.state.set_groups(&uuid, groups)?;
            action.end(true)?;
            record(&ctx, true)?;
            reporter.finish()
        }
        _ => Err(CommandError::failed("Specify a repository and a group.")),
    }
}

/// `ungroup`.
pub fn run_ungroup(args: UngroupArgs) -> Result<(), CommandError> {
    let params = strings(&args.params);
    let [name, group] = params.as_slice() else {
        return Err(CommandError::failed("Specify a repository and a group."));
    };
    let ctx = Ctx::open(&args.config, args.quiet)?;
    let uuid = resolve(&ctx, name)?;
    let mut reporter = Reporter::new("ungroup", Mode::Plain).quiet(args.quiet);
    let action = reporter.start(None, None, name.as_bytes())?;
    let mut groups = ctx.state.groups()?.remove(&uuid).unwrap_or_default();
    groups.remove(group.as_bytes());
    ctx.state.set_groups(&uuid, groups)?;
    action.end(true)?;
    record(&ctx, !args.quiet)?;
    reporter.finish()
}

/// Prints groups on one line, separated by spaces, in order.
fn show_groups(groups: &BTreeSet<Vec<u8>>) -> Result<(), CommandError> {
    let line: Vec<&[u8]> = groups.iter().map(Vec::as_slice).collect();
    bytes_line(&line.join(&b' '))
}
