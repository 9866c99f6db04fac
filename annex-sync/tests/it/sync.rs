//! `annex_sync::sync`: the failed-push record and the ref comparisons.

use std::path::Path;
use std::process::Command;

use annex_sync::sync::{FAILED_PUSHES_FILE, FailedPushes, SyncRepo, remote_branch, synced_branch};

fn git(dir: &Path, args: &[&str]) {
    let st = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "T")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "T")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .args(args)
        .status()
        .expect("run git");
    assert!(st.success(), "git {args:?}");
}

#[test]
fn failed_push_record_round_trips_and_vanishes_when_empty() {
    let dir = tempfile::tempdir().unwrap();
    let git_dir = dir.path();
    assert_eq!(
        FailedPushes::load(git_dir).unwrap(),
        FailedPushes::default()
    );
    let mut r = FailedPushes::default();
    r.record("origin");
    r.record("backup");
    r.save(git_dir).unwrap();
    let path = git_dir.join("annex").join(FAILED_PUSHES_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let names: Vec<&str> = text
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(names, ["backup", "origin"]);
    assert!(
        text.lines()
            .all(|l| l.split('\t').nth(1).unwrap().parse::<i64>().is_ok())
    );
    let back = FailedPushes::load(git_dir).unwrap();
    assert_eq!(back, r);
    // Malformed lines are skipped.
    std::fs::write(&path, "good\t12\nno time\nbad\tx\n\n").unwrap();
    let back = FailedPushes::load(git_dir).unwrap();
    assert_eq!(back.remotes.keys().collect::<Vec<_>>(), ["good"]);
    let mut back = back;
    back.clear("good");
    back.save(git_dir).unwrap();
    assert!(!path.exists());
}

#[test]
fn changed_follows_git_annex() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "-b", "master"]);
    git(d, &["commit", "-q", "--allow-empty", "-m", "one"]);
    git(d, &["branch", "old"]);
    git(d, &["commit", "-q", "--allow-empty", "-m", "two"]);
    let repo = SyncRepo::open(&d.join(".git"), Some(d)).unwrap();
    let b = repo.current_branch().unwrap().unwrap();
    assert_eq!(b.full, "refs/heads/master");
    assert!(b.born);
    assert_eq!(b.synced(), "refs/heads/synced/master");
    assert_eq!(synced_branch("x"), "refs/heads/synced/x");
    assert_eq!(
        remote_branch("o", "refs/heads/synced/master"),
        "refs/remotes/o/synced/master"
    );
    // master has a commit old lacks, not the other way round.
    assert!(repo.changed("refs/heads/old", "refs/heads/master").unwrap());
    assert!(!repo.changed("refs/heads/master", "refs/heads/old").unwrap());
    assert!(
        !repo
            .changed("refs/heads/master", "refs/heads/master")
            .unwrap()
    );
    // A missing new ref has nothing; a missing old ref lacks everything.
    assert!(
        !repo
            .changed("refs/heads/master", "refs/heads/nope")
            .unwrap()
    );
    assert!(
        repo.changed("refs/heads/nope", "refs/heads/master")
            .unwrap()
    );
}

#[test]
fn commit_reports_nothing_to_commit_without_committing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "-b", "master"]);
    std::fs::write(d.join("a"), "a").unwrap();
    git(d, &["add", "a"]);
    git(d, &["commit", "-q", "-m", "a"]);
    let repo = SyncRepo::open(&d.join(".git"), Some(d)).unwrap();
    let out = repo.commit(&["msg".to_string()], false).unwrap();
    assert!(!out.committed);
    assert!(String::from_utf8_lossy(&out.run.stdout).contains("nothing to commit"));
    std::fs::write(d.join("a"), "b").unwrap();
    let out = repo
        .commit(&["first".to_string(), "second".to_string()], true)
        .unwrap();
    assert!(
        out.committed,
        "{}",
        String::from_utf8_lossy(&out.run.stderr)
    );
    let msg = Command::new("git")
        .current_dir(d)
        .args(["log", "-1", "--format=%B"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&msg.stdout).trim(),
        "first\n\nsecond"
    );
}
