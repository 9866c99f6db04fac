//! `git-annex-rs`: the command line. Each command lives in `commands/` and
//! calls into the libraries; no repository logic lives here.

use clap::Parser;

/// git-annex-rs: a fast, compatible reimplementation of git-annex.
#[derive(Parser, Debug)]
#[command(name = "git-annex-rs", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Show the version of git-annex-rs and what it supports.
    Version,
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Version => {
            println!("git-annex-rs version: {}", env!("CARGO_PKG_VERSION"));
            println!("repository versions: 10");
        }
    }
}
