//! End-to-end tests: the real `git-annex-rs` binary in a temp HOME with git
//! config isolated, checked by the reference git-annex.

// The same test support as annex-core's integration tests (reference
// git-annex lookup, hermetic environment), shared by path.
#[path = "../../../annex-core/tests/it/support.rs"]
mod support;

mod add;
mod adjust;
mod assist;
mod calckey;
mod cluster;
mod config;
mod conflicts;
mod contentlocation;
mod crash;
mod disableremote;
mod drop_safety;
mod dropin;
mod dropunused;
mod examinekey;
mod findref;
mod fix;
mod forced;
mod forget;
mod fsck;
mod gateway;
mod hardening;
mod help;
mod hostile_inputs;
mod init;
mod initremote_options;
mod inprogress;
mod interop;
mod leastcost;
mod list;
mod log;
mod matchexpression;
mod matching;
mod maxsize;
mod metadata;
mod migrate;
mod mime;
mod mirror;
mod p2phttp;
mod p2phttp_load;
mod pair;
mod pull_push;
mod read;
mod reinit;
mod reinject;
mod rekey;
mod remotedaemon;
mod settings;
mod shared;
mod shell;
mod sim;
mod size_limit;
mod special;
mod special_crypto;
mod special_programs;
mod special_types;
mod ssh;
mod ssh_conn;
mod status;
mod sync;
mod sync_content;
mod testremote;
mod transfer;
mod transferkey;
mod unannex;
mod undo;
mod urls;
mod watch;
mod watch_daemons;
mod watch_sync;
mod web;

use std::path::Path;
use std::process::{Command, Output};

/// Runs `git-annex-rs ARGS` in `dir` hermetically and returns its output.
pub fn ours(dir: &Path, args: &[&str]) -> Output {
    ours_with(dir, args, None)
}

/// Runs `git-annex-rs ARGS` in `dir` hermetically with `stdin` as its input.
pub fn ours_with(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_git-annex-rs"));
    support::hermetic(&mut cmd).current_dir(dir).args(args);
    support::output_with_stdin(cmd, stdin)
}
