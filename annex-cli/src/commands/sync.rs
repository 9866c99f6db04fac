//! `sync`: commit, pull (fetch and merge), transfer content, push.
//!
//! INTERFACE PLACEHOLDER: the options are final; the git-level part is
//! being built. Until then only the content pass runs, and only with
//! `--no-pull --no-push --no-commit --content`.

use std::ffi::OsString;

use super::sync_content::{self, ContentOptions};
use crate::action::{CommonArgs, OutputArgs};
use crate::context::Ctx;
use crate::error::CommandError;

/// Arguments of `sync`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The remotes to sync with (default: every remote that syncs).
    #[arg(value_name = "REMOTE")]
    pub remotes: Vec<String>,
    /// Do not operate on git branches.
    #[arg(long = "only-annex", short = 'a')]
    pub only_annex: bool,
    /// Operate on git branches as well as annex.
    #[arg(long = "not-only-annex")]
    pub not_only_annex: bool,
    /// Commit changes to git.
    #[arg(long = "commit")]
    pub commit: bool,
    /// Avoid git commit.
    #[arg(long = "no-commit")]
    pub no_commit: bool,
    /// Commit message.
    #[arg(long = "message", short = 'm', value_name = "MSG")]
    pub message: Option<String>,
    /// Pull from remotes (the default).
    #[arg(long = "pull")]
    pub pull: bool,
    /// Avoid git pulls from remotes.
    #[arg(long = "no-pull")]
    pub no_pull: bool,
    /// Push to remotes (the default).
    #[arg(long = "push")]
    pub push: bool,
    /// Avoid git pushes to remotes.
    #[arg(long = "no-push")]
    pub no_push: bool,
    /// Transfer annexed file contents.
    #[arg(long = "content")]
    pub content: bool,
    /// Do not transfer annexed file contents.
    #[arg(long = "no-content", short = 'g')]
    pub no_content: bool,
    /// Transfer contents of annexed files in a given location.
    #[arg(long = "content-of", short = 'C', value_name = "PATH")]
    pub content_of: Vec<OsString>,
    /// Remove synced/ branches.
    #[arg(long = "cleanup")]
    pub cleanup: bool,
    /// Operate on all versions of all files.
    #[arg(long = "all", short = 'A')]
    pub all: bool,
    /// Automatically resolve merge conflicts (the default).
    #[arg(long = "resolvemerge")]
    pub resolvemerge: bool,
    /// Do not automatically resolve merge conflicts.
    #[arg(long = "no-resolvemerge")]
    pub no_resolvemerge: bool,
    /// Allow merging unrelated histories.
    #[arg(long = "allow-unrelated-histories")]
    pub allow_unrelated_histories: bool,
    /// Do not allow merging unrelated histories (the default).
    #[arg(long = "no-allow-unrelated-histories")]
    pub no_allow_unrelated_histories: bool,
    /// Allow actions that may lose annexed data.
    #[arg(long = "force")]
    pub force: bool,
    /// Avoid slow operations.
    #[arg(long = "fast", short = 'F')]
    pub fast: bool,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Runs `sync`.
pub fn run(args: Args) -> Result<(), CommandError> {
    if !(args.no_pull && args.no_push && args.no_commit) {
        return Err(CommandError::failed(
            "sync: only the content pass is built yet (--no-pull --no-push --no-commit --content)",
        ));
    }
    let content = args.content || !args.content_of.is_empty();
    if !content {
        return Ok(());
    }
    let reporter = args.out.reporter("sync");
    let ctx = Ctx::open(&args.common.config, args.out.quiet || reporter.is_json())?;
    let remotes = if args.remotes.is_empty() {
        ctx.config
            .remotes()
            .iter()
            .map(|r| r.name.clone())
            .collect()
    } else {
        args.remotes.clone()
    };
    let options = ContentOptions {
        remotes,
        all: args.all,
        content_of: args.content_of.clone(),
        jobs: args.common.jobs()?,
        pull: !args.no_pull,
        push: !args.no_push,
        only_configured: false,
    };
    let failed = sync_content::run(ctx, &options, &args.out)?;
    if failed > 0 {
        return Err(CommandError::quiet_failure(format!(
            "sync: {failed} failed"
        )));
    }
    Ok(())
}
