//! `version`: what this build is and what it supports.

use crate::output::{out, outln};

/// Arguments of `version`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Show only the version number.
    #[arg(long)]
    raw: bool,
}

/// Prints the version.
pub fn run(args: Args) -> Result<(), crate::error::CommandError> {
    let version = env!("CARGO_PKG_VERSION");
    if args.raw {
        return out!("{version}");
    }
    outln!("git-annex-rs version: {version}")?;
    let backends: Vec<&str> = annex_core::backend::Backend::ALL
        .iter()
        .map(|b| b.name())
        .collect();
    outln!("key/value backends: {}", backends.join(" "))?;
    println!(
        "supported repository versions: {}",
        annex_core::repo::VERSION
    );
    Ok(())
}
