//! End-to-end tests: `log`, compared with the reference on the same
//! repository (a read-only command: both read the same history), with a
//! second repository so that copies come and go.

use std::path::Path;

use crate::pair::{annexed, ours, theirs};
use crate::support;

const FILES: &[(&str, &str)] = &[("a", "a\n"), ("b", "b\n"), ("d/c", "c\n")];

/// A repository with history: files added, a clone that gets one and is
/// described, content dropped and got again, with the clone's branch merged.
fn repo_with_history() -> (tempfile::TempDir, tempfile::TempDir) {
    let origin = support::new_git_repo();
    let o = origin.path();
    assert!(theirs(o, &["init", "origin repo"], None).status.success());
    annexed(FILES)(o);
    let clone = tempfile::tempdir().expect("temp dir");
    let c = clone.path().join("c");
    support::git(
        o,
        &[
            "clone",
            "-q",
            o.to_str().expect("utf-8 path"),
            c.to_str().expect("utf-8 path"),
        ],
    );
    let ok = |d: &Path, args: &[&str]| {
        let out = theirs(d, args, None);
        assert!(out.status.success(), "{args:?}: {out:?}");
    };
    ok(&c, &["init", "the clone"]);
    ok(&c, &["get", "a", "b"]);
    support::git(o, &["remote", "add", "cl", c.to_str().expect("utf-8 path")]);
    ok(o, &["sync", "--quiet", "cl"]);
    ok(o, &["drop", "b"]);
    ok(o, &["get", "b"]);
    ok(o, &["dead", "the clone"]);
    (origin, clone)
}

fn same(dir: &Path, args: &[&str]) {
    let clean = |b: &[u8]| String::from_utf8_lossy(b).replace("git-annex-rs:", "git-annex:");
    let t = theirs(dir, args, None);
    let o = ours(dir, args, None);
    assert_eq!(
        (clean(&o.stdout), clean(&o.stderr), o.status.code()),
        (clean(&t.stdout), clean(&t.stderr), t.status.code()),
        "git-annex {args:?}: ours (left) differs from the reference (right)"
    );
}

#[test]
fn log_matches_the_reference() {
    let (origin, _clone) = repo_with_history();
    let d = origin.path();
    let key_a = support::annex(d, &["lookupkey", "a"]);
    for args in [
        &["log"][..],
        &["log", "b"],
        &["log", "a", "d"],
        &["log", "--json", "b"],
        &["log", "--raw-date", "b"],
        &["log", "--gource"],
        &["log", "--all"],
        &["log", "--all", "--json"],
        &["log", "--key", key_a.trim()],
        &["log", "--max-count=1", "b"],
        &["log", "--since", "1970-01-02", "a"],
        &["log", "--in", "here", "--json"],
        &["log", "nosuch"],
        &["log", "--all", "a"],
    ] {
        same(d, args);
    }
    same(&d.join("d"), &["log", "c"]);
}

/// `--sizes`, `--totalsizes` and `--sizesof` with their options, on the
/// same history: every line but the last (which shows the present time)
/// as the reference's; the last one's sizes too.
#[test]
fn log_sizes_match_the_reference() {
    let (origin, _clone) = repo_with_history();
    let d = origin.path();
    // Without the last line's date.
    let clean = |b: &[u8]| {
        let s = String::from_utf8_lossy(b).replace("git-annex-rs:", "git-annex:");
        let mut lines: Vec<String> = s.lines().map(str::to_owned).collect();
        if let Some(last) = lines.last_mut()
            && let Some((_, sizes)) = last.split_once(',')
            && !last.starts_with("date,")
        {
            *last = format!("NOW,{sizes}");
        }
        lines
    };
    for args in [
        &["log", "--sizes"][..],
        &["log", "--sizes", "--bytes"],
        &["log", "--sizes", "--raw-date"],
        &["log", "--totalsizes"],
        &["log", "--sizesof", "here"],
        &["log", "--sizesof", "the clone", "--bytes"],
        &["log", "--sizes", "--received"],
        &["log", "--totalsizes", "--received", "--bytes"],
        &["log", "--sizes", "--interval", "1h"],
        &["log", "--sizesof", "nosuch"],
    ] {
        let t = theirs(d, args, None);
        let o = ours(d, args, None);
        assert_eq!(
            (clean(&o.stdout), clean(&o.stderr), o.status.code()),
            (clean(&t.stdout), clean(&t.stderr), t.status.code()),
            "git-annex {args:?}: ours (left) differs from the reference (right)"
        );
        if t.status.success() {
            assert!(!t.stdout.is_empty(), "{args:?}: nothing shown");
        }
    }
}
