//! The crash-consistency harness itself: two killed rounds of `drop` with
//! the git-annex-rs built beside it pass, and its summary says so; an
//! unknown command is a usage error. (The harness needs the reference
//! git-annex and `git-annex-rs` built: `cargo build -p annex-cli`.)

use std::path::PathBuf;
use std::process::Command;

/// `git-annex-rs` in the same target directory as the harness.
fn ours() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_crashtest")).with_file_name("git-annex-rs");
    assert!(
        p.is_file(),
        "{} is missing: build it first (cargo build -p annex-cli)",
        p.display()
    );
    p
}

#[test]
fn two_killed_rounds_of_drop_pass_and_are_summarized() {
    let out = Command::new(env!("CARGO_BIN_EXE_crashtest"))
        .args(["--rounds", "2", "--seed", "5", "--command", "drop"])
        .args(["--large-kib", "1024", "--verbose"])
        .arg("--ours")
        .arg(ours())
        .output()
        .expect("run crashtest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "crashtest failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches("drop round ").count(), 2, "{stdout}");
    assert!(stdout.contains("| drop | 2 | "), "{stdout}");
    assert!(stdout.contains("all passed"), "{stdout}");
}

#[test]
fn an_unknown_command_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_crashtest"))
        .args(["--rounds", "1", "--command", "frobnicate"])
        .arg("--ours")
        .arg(ours())
        .output()
        .expect("run crashtest");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown command \"frobnicate\""));
}
