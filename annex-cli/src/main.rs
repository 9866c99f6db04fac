//! `git-annex-rs`: the command line. Each command lives in `commands/` with
//! its arguments and one function that calls into the libraries; no
//! repository logic lives here.

mod commands;
mod error;
mod output;

use clap::Parser;

/// git-annex-rs: a fast, compatible reimplementation of git-annex.
#[derive(Parser, Debug)]
#[command(name = "git-annex-rs", version, about)]
struct Cli {
    #[command(subcommand)]
    command: commands::Command,
}

fn main() {
    let cli = Cli::parse();
    let code = match commands::run(cli.command) {
        Ok(()) => 0,
        Err(e) => e.report(),
    };
    std::process::exit(code);
}
