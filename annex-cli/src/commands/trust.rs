//! `trust`, `untrust`, `semitrust` and `dead REPOSITORY...`: set trust
//! levels in `trust.log` (a dead repository also leaves its groups);
//! `dead --key KEY...` marks keys whose content is lost for good.

use std::collections::BTreeSet;
use std::ffi::OsString;

use annex_core::key::Key;
use annex_core::logs::trust::TrustLevel;
use annex_core::state::key_log_path;
use serde_json::Value;

use crate::action::{CommonArgs, OutputArgs};
use crate::context::Ctx;
use crate::error::CommandError;

use super::describe::{record, resolve, strings};

/// Arguments of `trust`, `untrust` and `semitrust`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The repositories.
    repositories: Vec<OsString>,
    /// Needed to trust a repository.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// Arguments of `dead`.
#[derive(clap::Args, Debug)]
pub struct DeadArgs {
    /// The repositories that are lost.
    #[arg(conflicts_with = "keys")]
    repositories: Vec<OsString>,
    /// Keys whose content has been irretrievably lost.
    #[arg(long = "key", value_name = "KEY", value_parser = parse_key)]
    keys: Vec<Key>,
    /// Accepted as git-annex accepts it.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

fn parse_key(s: &str) -> Result<Key, String> {
    Key::parse(s.as_bytes()).map_err(|_| "invalid key".to_string())
}

/// Sets the trust level of each repository named.
pub fn run(level: TrustLevel, args: Args) -> Result<(), CommandError> {
    set_levels(
        level,
        &args.repositories,
        args.force,
        &args.output,
        &args.common,
    )
}

/// `dead`: repositories, or keys with `--key`.
pub fn run_dead(args: DeadArgs) -> Result<(), CommandError> {
    if args.keys.is_empty() {
        return set_levels(
            TrustLevel::Dead,
            &args.repositories,
            args.force,
            &args.output,
            &args.common,
        );
    }
    let ctx = Ctx::open(&args.common.config, args.output.quiet)?;
    let mut reporter = args.output.reporter("dead");
    for key in &args.keys {
        let mut action = reporter.start(None, Some(key), b"")?;
        action.field("input", Value::Array(Vec::new()));
        if !ctx.state.whereis(key)?.is_empty() {
            action.fail(
                "This key is still known to be present in some locations; not marking as dead.",
            )?;
            action.end(false)?;
            continue;
        }
        // Every repository recorded as not having it is now recorded as
        // having lost it.
        let log = annex_core::logs::location::LocationLog::parse(
            &ctx.state.branch().get(&key_log_path(key, ".log"))?,
        );
        let uuids = log.uuids_with(|s| s == annex_core::logs::presence::Status::Missing);
        ctx.state
            .branch()
            .change_opt(&key_log_path(key, ".log"), &uuids, |old| {
                annex_core::logs::location::set_dead(old)
            })?;
        action.end(true)?;
    }
    record(&ctx, !args.output.quiet && !reporter.is_json())?;
    reporter.finish()
}

fn set_levels(
    level: TrustLevel,
    names: &[OsString],
    force: bool,
    output: &OutputArgs,
    common: &CommonArgs,
) -> Result<(), CommandError> {
    let command = match level {
        TrustLevel::Trusted => "trust",
        TrustLevel::SemiTrusted => "semitrust",
        TrustLevel::Untrusted => "untrust",
        TrustLevel::Dead => "dead",
    };
    let names = strings(names);
    if names.is_empty() {
        return Err(CommandError::failed("no repository name specified"));
    }
    let ctx = Ctx::open(&common.config, output.quiet)?;
    let mut reporter = output.reporter(command);
    for name in &names {
        // An unknown name stops the command, as in git-annex.
        let uuid = resolve(&ctx, name)?;
        let mut action = reporter.start(None, None, name.as_bytes())?;
        action.field("uuid", Value::String(uuid.to_string()));
        if level >= TrustLevel::Trusted && !force {
            action.fail(&format!(
                "Trusting a repository can lead to data loss. If you're sure you know what \
                 you're doing, use --force to make this take effect. If you choose to do so, \
                 bear in mind that any time you drop content from {name}, you will risk \
                 losing data."
            ))?;
            action.end(false)?;
            continue;
        }
        ctx.state.set_trust(&uuid, level)?;
        if level == TrustLevel::Dead {
            ctx.state.set_groups(&uuid, BTreeSet::new())?;
        }
        if let Some(&overridden) = annex_core::trust::configured(&ctx.config).get(&uuid)
            && overridden != level
        {
            action.warn(&format!(
                "This remote's trust level is overridden to {}.",
                overridden.name()
            ))?;
        }
        action.end(true)?;
    }
    record(&ctx, !output.quiet && !reporter.is_json())?;
    reporter.finish()
}
