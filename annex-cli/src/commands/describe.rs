//! `describe REPOSITORY DESCRIPTION`: change a repository's description in
//! `uuid.log`. Also the small pieces the settings commands share: naming a
//! repository and recording the change.

use std::ffi::OsString;

use annex_core::config::resolve_repository;
use annex_core::uuid::Uuid;

use crate::action::{Mode, Reporter};
use crate::context::Ctx;
use crate::error::CommandError;
use crate::output::outln;

/// Arguments of `describe`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The repository, then the words of its new description.
    params: Vec<OsString>,
    /// Avoid the usual informational output.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Override a git config setting for this command (`name=value`).
    #[arg(short = 'c', long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
}

/// Sets the description (the words after the repository, joined by spaces).
pub fn run(args: Args) -> Result<(), CommandError> {
    let params = strings(&args.params);
    let [name, words @ ..] = params.as_slice() else {
        return Err(CommandError::failed(
            "Specify a repository and a description.",
        ));
    };
    if words.is_empty() {
        return Err(CommandError::failed(
            "Specify a repository and a description.",
        ));
    }
    let ctx = Ctx::open(&args.config, args.quiet)?;
    let uuid = resolve(&ctx, name)?;
    let mut reporter = Reporter::new("describe", Mode::Plain).quiet(args.quiet);
    let action = reporter.start(None, None, name.as_bytes())?;
    ctx.state
        .set_description(&uuid, words.join(" ").as_bytes())?;
    action.end(true)?;
    record(&ctx, !args.quiet)?;
    reporter.finish()
}

/// Command-line words as strings (lossy: git-annex's are strings too).
pub(super) fn strings(params: &[OsString]) -> Vec<String> {
    params
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

/// The UUID of a repository named on the command line (`here`, a remote,
/// a description or a UUID), failing with git-annex's message.
pub(super) fn resolve(ctx: &Ctx, name: &str) -> Result<Uuid, CommandError> {
    let descriptions = ctx.state.descriptions()?;
    Ok(resolve_repository(
        name,
        Some(ctx.here()),
        &ctx.config,
        &descriptions,
    )?)
}

/// Commits the journal to the `git-annex` branch; when `announce`, says so
/// on stdout as git-annex does.
pub(super) fn record(ctx: &Ctx, announce: bool) -> Result<(), CommandError> {
    if ctx.state.commit()?.is_some() && announce {
        outln!("(recording state in git...)")?;
    }
    Ok(())
}
