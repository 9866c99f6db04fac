//! One module per command; [`run`] dispatches.

mod calckey;
mod contentlocation;
mod examinekey;
mod init;
mod matchexpression;
mod version;

use crate::error::CommandError;

/// The commands of `git-annex-rs`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Calculate the key for a file.
    Calckey(calckey::Args),
    /// Look up the content of a key in this repository.
    Contentlocation(contentlocation::Args),
    /// Print information that can be told from a key alone.
    Examinekey(examinekey::Args),
    /// Initialize git-annex in the current git repository.
    Init(init::Args),
    /// Check if a preferred content expression matches.
    Matchexpression(matchexpression::Args),
    /// Show the version of git-annex-rs and what it supports.
    Version(version::Args),
}

/// Runs one command.
pub fn run(command: Command) -> Result<(), CommandError> {
    match command {
        Command::Calckey(args) => calckey::run(args),
        Command::Contentlocation(args) => contentlocation::run(args),
        Command::Examinekey(args) => examinekey::run(args),
        Command::Init(args) => init::run(args),
        Command::Matchexpression(args) => matchexpression::run(args),
        Command::Version(args) => version::run(args),
    }
}
