//! One module per command; [`run`] dispatches.

mod calckey;
mod contentlocation;
mod examinekey;
mod find;
mod info;
mod init;
mod lookupkey;
mod version;
mod whereis;

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
    /// List the annexed files whose content is present (or that match).
    Find(find::Args),
    /// Show information about the repository, a path, a key or a remote.
    Info(info::Args),
    /// Initialize git-annex in the current git repository.
    Init(init::Args),
    /// Look up the key of annexed files.
    Lookupkey(lookupkey::Args),
    /// Show the version of git-annex-rs and what it supports.
    Version(version::Args),
    /// List the repositories that have the content of files.
    Whereis(whereis::Args),
}

/// Runs one command.
pub fn run(command: Command) -> Result<(), CommandError> {
    match command {
        Command::Calckey(args) => calckey::run(args),
        Command::Contentlocation(args) => contentlocation::run(args),
        Command::Examinekey(args) => examinekey::run(args),
        Command::Find(args) => find::run(args),
        Command::Info(args) => info::run(args),
        Command::Init(args) => init::run(args),
        Command::Lookupkey(args) => lookupkey::run(args),
        Command::Version(args) => version::run(args),
        Command::Whereis(args) => whereis::run(args),
    }
}
