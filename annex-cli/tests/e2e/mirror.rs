//! `mirror` against the reference: the same commands on two identical
//! origin/clone pairs (content spread differently between them), one run
//! by the reference, the other by us: stdout (the reference's progress
//! meter aside), exit code, and the content each repository is left with.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{ours, support};

/// An origin with four annexed files and a clone, fixed UUIDs: `f1` only
/// in the origin, `f2` only in the clone, `f3` in both, `f4` in the
/// origin (dropped here).
fn pair() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let o = crate::pair::origin_in(dir.path());
    for (f, c) in [
        ("f1", "one"),
        ("f2", "two"),
        ("f3", "three"),
        ("d/f4", "four"),
    ] {
        fs::create_dir_all(o.join(f).parent().unwrap()).unwrap();
        fs::write(o.join(f), c).unwrap();
    }
    support::annex(&o, &["add", "-q", "."]);
    support::git(&o, &["commit", "-q", "-m", "files"]);
    support::git(dir.path(), &["clone", "-q", "o", "c"]);
    let c = dir.path().join("c");
    support::git(
        &c,
        &[
            "config",
            "annex.uuid",
            "22222222-0000-4000-8000-000000000002",
        ],
    );
    support::annex(&c, &["init", "-q", "clone"]);
    support::annex(&c, &["get", "-q", "f2", "f3"]);
    support::annex(&o, &["drop", "-q", "--force", "f2"]);
    (dir, o, c)
}

fn present(repo: &Path) -> String {
    support::annex(repo, &["find"])
}

/// `args` in the clone of a fresh pair, by the reference and by us.
fn same(setup: &dyn Fn(&Path, &Path), args: &[&str]) {
    let (_a, oa, ca) = pair();
    let (_b, ob, cb) = pair();
    setup(&oa, &ca);
    setup(&ob, &cb);
    let theirs = support::annex_output(&ca, args, None);
    let mine = ours(&cb, args);
    assert_eq!(
        crate::transfer::strip_meter(&String::from_utf8_lossy(&mine.stdout)),
        crate::transfer::strip_meter(&String::from_utf8_lossy(&theirs.stdout)),
        "{args:?}: stdout; stderr ours {}",
        String::from_utf8_lossy(&mine.stderr)
    );
    assert_eq!(mine.status.code(), theirs.status.code(), "{args:?}: code");
    assert_eq!(present(&cb), present(&ca), "{args:?}: clone's content");
    assert_eq!(present(&ob), present(&oa), "{args:?}: origin's content");
}

fn nothing(_: &Path, _: &Path) {}

#[test]
fn mirror_to_copies_and_drops_as_the_reference() {
    // f1 and f4 are dropped from the origin (refused: no other copy).
    same(&nothing, &["mirror", "--to", "origin"]);
    same(&nothing, &["mirror", "--to", "origin", "--json"]);
    same(&nothing, &["mirror", "-t", "origin", "f2", "d"]);
    // With another copy here of what is to go, the drop is done.
    same(
        &|_, c| {
            support::annex(c, &["get", "-q", "f1"]);
            support::annex(c, &["drop", "-q", "--force", "f3"]);
        },
        &["mirror", "--to", "origin"],
    );
    same(&nothing, &["mirror", "--to", "origin", "--include", "f*"]);
}

#[test]
fn mirror_from_gets_and_drops_as_the_reference() {
    same(&nothing, &["mirror", "--from", "origin"]);
    same(&nothing, &["mirror", "--from", "origin", "--json"]);
    // f3 gone from the origin: dropped here (refused, no other copy);
    // f2 now in both: nothing to do.
    same(
        &|o, c| {
            support::annex(c, &["copy", "-q", "--to", "origin", "f2"]);
            support::annex(o, &["drop", "-q", "--force", "f3"]);
        },
        &["mirror", "--from", "origin"],
    );
    same(&nothing, &["mirror", "--from", "nosuch"]);
}
