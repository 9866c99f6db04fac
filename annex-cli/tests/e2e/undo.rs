//! `undo` against the reference: the same undos on two identical
//! repositories, one worked by the reference, the other by us: stdout,
//! stderr (program name aside), exit code, and the index, work tree and
//! commits left.

use std::fs;
use std::path::Path;
use std::process::Output;

use crate::{ours, support};

/// A repository with two commits: `a` and `d/b` added, then `d/c` added
/// and `a` removed; `staged` staged, not committed.
fn repo() -> tempfile::TempDir {
    let dir = support::new_git_repo();
    let p = dir.path();
    support::annex(p, &["init", "-q"]);
    fs::write(p.join("a"), "1").unwrap();
    fs::create_dir(p.join("d")).unwrap();
    fs::write(p.join("d/b"), "2").unwrap();
    support::annex(p, &["add", "-q", "a", "d"]);
    support::git(p, &["commit", "-q", "-m", "one"]);
    fs::write(p.join("d/c"), "3").unwrap();
    support::annex(p, &["add", "-q", "d/c"]);
    support::git(p, &["rm", "-q", "a"]);
    support::git(p, &["commit", "-q", "-m", "two"]);
    fs::write(p.join("staged"), "x").unwrap();
    support::git(p, &["add", "staged"]);
    dir
}

fn left(p: &Path) -> String {
    let mut s = support::git(p, &["ls-files", "-s"]);
    s.push_str(&support::git(p, &["status", "--porcelain"]));
    s.push_str(&support::git(p, &["log", "--format=%s"]));
    s
}

fn text(o: &Output) -> (String, String, Option<i32>) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).replace("git-annex-rs:", "git-annex:"),
        o.status.code(),
    )
}

#[test]
fn undo_takes_back_the_last_change_as_the_reference() {
    let (t, o) = (repo(), repo());
    fs::create_dir(t.path().join("s")).unwrap();
    fs::create_dir(o.path().join("s")).unwrap();
    let steps: &[(&str, &[&str])] = &[
        ("", &["undo", "d"]),
        ("", &["undo", "a", "--json"]),
        ("s", &["undo", "../d/b"]),
        ("", &["undo", "d", "a"]),
    ];
    for (sub, args) in steps {
        let theirs = support::annex_output(&t.path().join(sub), args, None);
        let mine = ours(&o.path().join(sub), args);
        assert_eq!(text(&mine), text(&theirs), "{args:?}");
        assert_eq!(left(o.path()), left(t.path()), "{args:?}: left");
    }
    // Untracked files are refused before anything changes.
    fs::write(t.path().join("u"), "u").unwrap();
    fs::write(o.path().join("u"), "u").unwrap();
    let theirs = support::annex_output(t.path(), &["undo", "u", "d"], None);
    let mine = ours(o.path(), &["undo", "u", "d"]);
    assert_eq!(text(&mine), text(&theirs));
    assert_eq!(mine.status.code(), Some(1));
    assert_eq!(left(o.path()), left(t.path()));
}
