//! One module per command; [`run`] dispatches.

mod calckey;
mod checkpresentkey;
mod contentlocation;
mod copy;
mod drop;
mod dropkey;
mod examinekey;
mod get;
mod init;
mod move_;
mod setpresentkey;
mod version;
mod xfer;

use crate::error::CommandError;

/// The commands of `git-annex-rs`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Calculate the key for a file.
    Calckey(calckey::Args),
    /// Check if a key is present in a remote (or any remote).
    Checkpresentkey(checkpresentkey::Args),
    /// Look up the content of a key in this repository.
    Contentlocation(contentlocation::Args),
    /// Copy content of files to or from another repository.
    Copy(copy::Args),
    /// Remove content of files from this repository or a remote.
    Drop(drop::Args),
    /// Drop content of keys from this repository, unsafely.
    Dropkey(dropkey::Args),
    /// Print information that can be told from a key alone.
    Examinekey(examinekey::Args),
    /// Make content of annexed files available.
    Get(get::Args),
    /// Initialize git-annex in the current git repository.
    Init(init::Args),
    /// Move content of files to or from another repository.
    Move(move_::Args),
    /// Change the location log of a key.
    Setpresentkey(setpresentkey::Args),
    /// Show the version of git-annex-rs and what it supports.
    Version(version::Args),
}

/// Runs one command.
pub fn run(command: Command) -> Result<(), CommandError> {
    match command {
        Command::Calckey(args) => calckey::run(args),
        Command::Checkpresentkey(args) => checkpresentkey::run(args),
        Command::Contentlocation(args) => contentlocation::run(args),
        Command::Copy(args) => copy::run(args),
        Command::Drop(args) => drop::run(args),
        Command::Dropkey(args) => dropkey::run(args),
        Command::Examinekey(args) => examinekey::run(args),
        Command::Get(args) => get::run(args),
        Command::Init(args) => init::run(args),
        Command::Move(args) => move_::run(args),
        Command::Setpresentkey(args) => setpresentkey::run(args),
        Command::Version(args) => version::run(args),
    }
}
