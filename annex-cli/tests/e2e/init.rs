//! `init`, checked by the reference git-annex.

use std::path::Path;

use crate::{ours, support};

/// What the reference's `git annex ARGS` prints on stdout in `dir`, and its exit code.
fn theirs(dir: &Path, args: &[&str]) -> (String, Option<i32>) {
    let out = support::annex_output(dir, args, None);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
    )
}

fn ours_text(dir: &Path, args: &[&str]) -> (String, Option<i32>) {
    let out = ours(dir, args);
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code(),
    )
}

#[test]
fn init_then_reference_fsck_and_info_are_clean() {
    let repo = support::new_git_repo();
    let out = ours(repo.path(), &["init", "e2e laptop"]);
    assert!(out.status.success(), "{out:?}");

    let uuid = support::git(repo.path(), &["config", "annex.uuid"]);
    let info = support::annex_output(repo.path(), &["info", "--json", "here"], None);
    assert!(info.status.success(), "{info:?}");
    assert!(
        info.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&info.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).expect("info --json");
    assert_eq!(v["uuid"], uuid.trim());
    // The reference marks the current repository with " [here]".
    assert_eq!(v["description"], "e2e laptop [here]");

    let fsck = support::annex_output(repo.path(), &["fsck"], None);
    assert!(fsck.status.success(), "{fsck:?}");
    assert!(
        fsck.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&fsck.stderr)
    );
}

/// The same sequence of `init`s in two repositories, one by us and one by
/// the reference, prints the same lines and exits the same way.
#[test]
fn init_output_matches_the_reference() {
    let a = support::new_git_repo();
    let b = support::new_git_repo();
    for args in [
        &["init"][..],
        &["init"],
        &["init", "a description"],
        &["init", "--json"],
        &["init", "--json", "another"],
        &["init", "--quiet", "third"],
    ] {
        assert_eq!(
            ours_text(a.path(), args),
            theirs(b.path(), args),
            "{args:?}"
        );
    }
}

#[test]
fn init_outside_a_repository_fails_naming_the_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    for args in [&["init"][..], &["init", "--json"]] {
        let out = ours(dir.path(), args);
        assert_eq!(out.status.code(), Some(1));
        // As the reference: no JSON record, the error alone.
        assert_eq!(theirs(dir.path(), args), (String::new(), Some(1)));
        assert!(out.stdout.is_empty(), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not in a git repository"), "{err}");
        let name = dir
            .path()
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert!(err.contains(&name), "{err}");
    }
}

#[test]
fn reinit_keeps_the_uuid() {
    let repo = support::new_git_repo();
    assert!(ours(repo.path(), &["init"]).status.success());
    let first = support::git(repo.path(), &["config", "annex.uuid"]);
    assert!(ours(repo.path(), &["init", "again"]).status.success());
    assert_eq!(first, support::git(repo.path(), &["config", "annex.uuid"]));
}

/// Output into a pipe nobody reads ends quietly: no panic, success.
#[test]
fn broken_pipe_is_quiet() {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_git-annex-rs"));
    support::hermetic(&mut cmd)
        .current_dir(dir.path())
        .arg("version")
        .stdout(writer);
    let out = cmd.output().expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A usage error exits as git-annex's do: 1, with nothing on stdout.
#[test]
fn usage_errors_exit_like_the_reference() {
    let repo = support::new_git_repo();
    for args in [&["init", "--no-such-option"][..], &["examinekey", "-s1--x"]] {
        let (out, code) = ours_text(repo.path(), args);
        assert_eq!((out.as_str(), code), ("", Some(1)), "{args:?}");
        assert_eq!(theirs(repo.path(), args).1, Some(1), "{args:?}");
    }
}
