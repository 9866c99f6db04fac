//! The content pass of `sync --content`: get what this repository wants,
//! send each remote what it wants, drop what is no longer wanted where
//! numcopies allows.
//!
//! INTERFACE PLACEHOLDER (replaced by the content work before it ships).

use std::ffi::OsString;

use crate::action::OutputArgs;
use crate::context::Ctx;
use crate::error::CommandError;

/// What `sync` asks of the content pass.
#[derive(Debug, Clone, Default)]
#[allow(dead_code)] // read by the content pass, being built
pub struct ContentOptions {
    /// The remotes to exchange content with, by name, as `sync` chose them
    /// (named on the command line, or every remote that syncs; without
    /// `annex-ignore`, `annex-sync=false`, or a failed fetch).
    pub remotes: Vec<String>,
    /// `--all`: every key with a location log, not only the work tree's files.
    pub all: bool,
    /// `--content-of=PATH` (repeatable); empty means the whole work tree.
    pub content_of: Vec<OsString>,
    /// `-J N`.
    pub jobs: usize,
}

/// Runs the content pass over the repository of `ctx` (already merged by
/// `sync`), reporting every action through `output` as git-annex does, and
/// commits the `git-annex` branch before it returns. Returns how many
/// actions failed.
pub fn run(ctx: Ctx, options: &ContentOptions, output: &OutputArgs) -> Result<usize, CommandError> {
    let _ = (ctx, options, output);
    Err(CommandError::failed(
        "sync --content: the content pass is not built yet",
    ))
}
