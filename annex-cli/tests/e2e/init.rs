//! `init`, checked by the reference git-annex.

use crate::{ours, support};

#[test]
fn init_then_reference_fsck_and_info_are_clean() {
    let repo = support::new_git_repo();
    let out = ours(repo.path(), &["init", "e2e laptop"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "init e2e laptop ok\n");

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

#[test]
fn init_json_record() {
    let repo = support::new_git_repo();
    let out = ours(repo.path(), &["init", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["command"], "init");
    assert_eq!(v["success"], true);
}

#[test]
fn init_outside_a_repository_fails_naming_the_directory() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = ours(dir.path(), &["init"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a git repository"), "{err}");
    let name = dir
        .path()
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(err.contains(&name), "{err}");
}

#[test]
fn reinit_keeps_the_uuid() {
    let repo = support::new_git_repo();
    assert!(ours(repo.path(), &["init"]).status.success());
    let first = support::git(repo.path(), &["config", "annex.uuid"]);
    assert!(ours(repo.path(), &["init", "again"]).status.success());
    assert_eq!(first, support::git(repo.path(), &["config", "annex.uuid"]));
}
