//! The program invoked as `git-annex-shell`: what a remote runs over ssh.
//! Everything it does (its commands, the restriction variables, the P2P
//! server) is `annex_proxy::shell`; this only hands it the arguments.

use std::ffi::OsString;

/// Runs `git-annex-shell` with `args`; returns the exit code.
pub fn run(args: &[OsString]) -> i32 {
    annex_proxy::shell::run(args)
}
