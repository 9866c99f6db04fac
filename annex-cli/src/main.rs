//! `git-annex-rs`: the command line. Each command lives in `commands/` with
//! its arguments and one function that calls into the libraries; no
//! repository logic lives here.

mod action;
mod batch;
mod commands;
mod context;
mod error;
mod matching;
mod output;
mod progress;

use clap::Parser;

/// git-annex-rs: a fast, compatible reimplementation of git-annex.
#[derive(Parser, Debug)]
#[command(name = "git-annex-rs", version, about)]
struct Cli {
    #[command(subcommand)]
    command: commands::Command,
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout and succeed; a usage error
            // exits 1, as git-annex's do (clap's own code would be 2).
            let code = if e.use_stderr() { 1 } else { 0 };
            // Nothing more can be said if stderr is gone.
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let code = match commands::run(cli.command) {
        Ok(()) => 0,
        Err(e) => e.report(),
    };
    std::process::exit(code);
}
