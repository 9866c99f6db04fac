//! One module per command; [`run`] dispatches.

mod init;
mod version;

use crate::error::CommandError;

/// The commands of `git-annex-rs`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Initialize git-annex in the current git repository.
    Init(init::Args),
    /// Show the version of git-annex-rs and what it supports.
    Version(version::Args),
}

/// Runs one command.
pub fn run(command: Command) -> Result<(), CommandError> {
    match command {
        Command::Init(args) => init::run(args),
        Command::Version(args) => version::run(args),
    }
}
