//! One module per command; [`run`] dispatches.

pub(crate) mod add;
mod calckey;
mod contentlocation;
mod examinekey;
mod filter_process;
mod fromkey;
mod init;
mod lock;
mod smudge;
mod unlock;
mod version;

use crate::error::CommandError;

/// The commands of `git-annex-rs`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Add files to the annex.
    Add(add::Args),
    /// Calculate the key for a file.
    Calckey(calckey::Args),
    /// Look up the content of a key in this repository.
    Contentlocation(contentlocation::Args),
    /// Print information that can be told from a key alone.
    Examinekey(examinekey::Args),
    /// Long-running git filter process for unlocked files.
    FilterProcess(filter_process::Args),
    /// Add a file using a specific key.
    Fromkey(fromkey::Args),
    /// Initialize git-annex in the current git repository.
    Init(init::Args),
    /// Lock files back into the annex (symlinks).
    Lock(lock::Args),
    /// git smudge/clean filter for unlocked files.
    Smudge(smudge::Args),
    /// Unlock files so they can be modified.
    Unlock(unlock::Args),
    /// Show the version of git-annex-rs and what it supports.
    Version(version::Args),
}

/// Runs one command.
pub fn run(command: Command) -> Result<(), CommandError> {
    match command {
        Command::Add(args) => add::run(args),
        Command::Calckey(args) => calckey::run(args),
        Command::Contentlocation(args) => contentlocation::run(args),
        Command::Examinekey(args) => examinekey::run(args),
        Command::FilterProcess(args) => filter_process::run(args),
        Command::Fromkey(args) => fromkey::run(args),
        Command::Init(args) => init::run(args),
        Command::Lock(args) => lock::run(args),
        Command::Smudge(args) => smudge::run(args),
        Command::Unlock(args) => unlock::run(args),
        Command::Version(args) => version::run(args),
    }
}
