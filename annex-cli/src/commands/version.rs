//! `version`: what this build is and what it supports, in git-annex's
//! fields (`NAME: VALUE` lines, which clients such as DataLad parse), plus
//! a line of our own naming git-annex-rs's version.
//!
//! The version given (`version --raw`, the first line) is the git-annex
//! release whose behaviour this program matches ([`ANNEX_VERSION`]):
//! clients compare it with the git-annex versions they know.

use crate::global::{ANNEX_VERSION, OWN_VERSION};
use crate::output::{out, outln};

/// Arguments of `version`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Show only the version number.
    #[arg(long)]
    raw: bool,
}

/// The repository versions this build works in.
const SUPPORTED_REPOSITORY_VERSIONS: &str = "8 9 10";

/// The repository versions it can upgrade from.
const UPGRADABLE_REPOSITORY_VERSIONS: &str = "3 4 5 6 7 8 9 10";

/// The special remote types it has.
const REMOTE_TYPES: &str = "git";

/// git-annex's build flags that describe this build: the optional
/// features it has (`MagicMime`: `mimetype=`/`mimeencoding=` through
/// libmagic; `Blake3`: the BLAKE3 backends), in the reference's order.
/// Only what is true is listed: clients (DataLad) switch on these flags.
const BUILD_FLAGS: &str = "MagicMime Blake3";

/// Prints the version.
pub fn run(args: Args) -> Result<(), crate::error::CommandError> {
    if args.raw {
        return out!("{ANNEX_VERSION}");
    }
    outln!("git-annex version: {ANNEX_VERSION}")?;
    outln!("git-annex-rs version: {OWN_VERSION}")?;
    outln!("build flags: {BUILD_FLAGS}")?;
    let backends: Vec<&str> = annex_core::backend::Backend::ALL
        .iter()
        .map(|b| b.name())
        .collect();
    outln!("key/value backends: {}", backends.join(" "))?;
    outln!("remote types: {REMOTE_TYPES}")?;
    outln!(
        "operating system: {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )?;
    outln!("supported repository versions: {SUPPORTED_REPOSITORY_VERSIONS}")?;
    outln!("upgrade supported from repository versions: {UPGRADABLE_REPOSITORY_VERSIONS}")?;
    // In a repository, its version, as git-annex adds.
    if let Ok(here) = std::env::current_dir()
        && let Ok(repo) = annex_core::repo::Repo::open(&here)
        && let Some(v) = repo.version()
    {
        outln!("local repository version: {v}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_supported_version_is_the_one_init_writes() {
        // The last listed is what init writes by default; the others are
        // the older ones `init --version` makes (8 and 9).
        let listed: Vec<u32> = SUPPORTED_REPOSITORY_VERSIONS
            .split(' ')
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        assert_eq!(listed.last(), Some(&annex_core::repo::VERSION));
        assert_eq!(listed, vec![8, 9, annex_core::repo::VERSION]);
    }

    #[test]
    fn build_flags_claim_only_backends_we_have() {
        for flag in BUILD_FLAGS.split(' ') {
            match flag {
                "Blake3" => assert!(
                    annex_core::backend::Backend::from_name("BLAKE3_256E").is_some()
                        || annex_core::backend::Backend::ALL
                            .iter()
                            .any(|b| b.name().starts_with("BLAKE3"))
                ),
                // libmagic is there and answers (`mimetype=`).
                "MagicMime" => {
                    let exe = std::env::current_exe().expect("the test binary's path");
                    assert!(annex_core::mime::detect(&exe).is_some());
                }
                other => panic!("build flag {other} is not checked"),
            }
        }
    }
}
