//! `pull` and `push`: git-annex's split of `sync`, run by the same
//! machinery ([`super::sync`]) with what each fixes: neither commits;
//! both transfer content unless `annex.synccontent` is false (`sync` only
//! with repositories that have preferred content); `pull` fetches, merges
//! and gets (dropping here what is not wanted), `push` puts (dropping
//! from remotes what they do not want) and pushes. Their options are the
//! reference's for each: no `--commit`/`--message`, no `--pull`/`--push`,
//! `--cleanup` for `push` only, merge options for `pull` only, no `--json`.

use std::ffi::OsString;

use super::sync::{self, Mode};
use crate::action::{CommonArgs, OutputArgs};
use crate::error::CommandError;

/// The options `pull` and `push` share.
#[derive(clap::Args, Debug)]
pub struct Shared {
    /// The remotes (default: every remote that syncs).
    #[arg(value_name = "REMOTE")]
    remotes: Vec<String>,
    /// Do not operate on git branches.
    #[arg(long = "only-annex", short = 'a')]
    only_annex: bool,
    /// Operate on git branches as well as annex.
    #[arg(long = "not-only-annex")]
    not_only_annex: bool,
    /// Transfer annexed file contents (the default).
    #[arg(long = "content")]
    content: bool,
    /// Do not transfer annexed file contents.
    #[arg(long = "no-content", short = 'g')]
    no_content: bool,
    /// Transfer contents of annexed files in a given location.
    #[arg(long = "content-of", short = 'C', value_name = "PATH")]
    content_of: Vec<OsString>,
    /// Operate on all versions of all files.
    #[arg(long = "all", short = 'A')]
    all: bool,
    /// Only the remotes with the lowest cost.
    #[arg(long = "fast", short = 'F')]
    fast: bool,
    /// Allow actions that may lose annexed data.
    #[arg(long = "force")]
    force: bool,
    /// The backend of files imported from special remotes (none here).
    #[arg(long = "backend", short = 'b', value_name = "NAME")]
    backend: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

/// Arguments of `pull`.
#[derive(clap::Args, Debug)]
pub struct PullArgs {
    #[command(flatten)]
    shared: Shared,
    /// Automatically resolve merge conflicts (the default).
    #[arg(long = "resolvemerge")]
    resolvemerge: bool,
    /// Do not automatically resolve merge conflicts.
    #[arg(long = "no-resolvemerge")]
    no_resolvemerge: bool,
    /// Allow merging unrelated histories.
    #[arg(long = "allow-unrelated-histories")]
    allow_unrelated_histories: bool,
    /// Do not allow merging unrelated histories (the default).
    #[arg(long = "no-allow-unrelated-histories")]
    no_allow_unrelated_histories: bool,
}

/// Arguments of `push`.
#[derive(clap::Args, Debug)]
pub struct PushArgs {
    #[command(flatten)]
    shared: Shared,
    /// Remove the synced/ branches, here and on the remotes.
    #[arg(long = "cleanup")]
    cleanup: bool,
}

/// `sync`'s arguments for `shared`, everything else at its default.
fn sync_args(s: Shared) -> sync::Args {
    sync::Args {
        remotes: s.remotes,
        only_annex: s.only_annex,
        not_only_annex: s.not_only_annex,
        commit: false,
        no_commit: true,
        message: Vec::new(),
        pull: false,
        no_pull: false,
        push: false,
        no_push: false,
        content: s.content,
        no_content: s.no_content,
        content_of: s.content_of,
        cleanup: false,
        all: s.all,
        resolvemerge: false,
        no_resolvemerge: false,
        allow_unrelated_histories: false,
        no_allow_unrelated_histories: false,
        force: s.force,
        fast: s.fast,
        out: OutputArgs::default(),
        common: s.common,
    }
}

/// Runs `pull`.
pub fn run_pull(args: PullArgs) -> Result<(), CommandError> {
    let mut a = sync_args(args.shared);
    a.resolvemerge = args.resolvemerge;
    a.no_resolvemerge = args.no_resolvemerge;
    a.allow_unrelated_histories = args.allow_unrelated_histories;
    a.no_allow_unrelated_histories = args.no_allow_unrelated_histories;
    sync::run_mode(a, Mode::Pull)
}

/// Runs `push`.
pub fn run_push(args: PushArgs) -> Result<(), CommandError> {
    let mut a = sync_args(args.shared);
    a.cleanup = args.cleanup;
    sync::run_mode(a, Mode::Push)
}
