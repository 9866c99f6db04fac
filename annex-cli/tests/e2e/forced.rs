//! The common options that override the repository's settings for one
//! run: `--numcopies`, `--mincopies`, `--semitrust`, `--untrust`, `--trust`
//! (refused with a warning), each compared with the reference on identical
//! repositories: stdout, stderr, exit code and what is left present.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::{ours, support};

/// An origin with three annexed files (one with `annex.numcopies=1` in
/// `.gitattributes`), cloned and given all the content.
fn origin_and_clone() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let o = crate::pair::origin_in(dir.path());
    fs::create_dir(o.join("attr")).unwrap();
    fs::write(o.join("f1"), "one").unwrap();
    fs::write(o.join("f2"), "two two").unwrap();
    fs::write(o.join("attr/f3"), "three three three").unwrap();
    fs::write(o.join("attr/.gitattributes"), "* annex.numcopies=3\n").unwrap();
    support::annex(&o, &["add", "-q", "f1", "f2", "attr/f3"]);
    support::git(&o, &["add", "attr/.gitattributes"]);
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
    support::annex(&c, &["get", "-q", "."]);
    (dir, c)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The files with content in the clone, as the reference lists them.
fn present(c: &Path) -> String {
    support::annex(c, &["find"])
}

/// Runs `args` by the reference in one fresh pair and by us in another:
/// same stdout, stderr (program name aside), exit code and content left.
fn same(args: &[&str]) -> Output {
    let (_a, ca) = origin_and_clone();
    let (_b, cb) = origin_and_clone();
    let theirs = support::annex_output(&ca, args, None);
    let mine = ours(&cb, args);
    assert_eq!(text(&mine.stdout), text(&theirs.stdout), "{args:?}: stdout");
    assert_eq!(
        text(&mine.stderr).replace("git-annex-rs:", "git-annex:"),
        text(&theirs.stderr),
        "{args:?}: stderr"
    );
    assert_eq!(
        mine.status.code(),
        theirs.status.code(),
        "{args:?}: exit code"
    );
    assert_eq!(present(&cb), present(&ca), "{args:?}: content left");
    mine
}

#[test]
fn numcopies_on_the_command_line_decides_drops_as_the_reference() {
    // Two copies (here and origin): enough for 1 and 2, not for 3.
    let o = same(&["drop", "--numcopies", "3", "f1"]);
    assert_eq!(o.status.code(), Some(1));
    same(&["drop", "-N", "2", "f1", "f2"]);
    // Below 1 counts as 1.
    same(&["drop", "--numcopies=0", "f1"]);
    // It wins over a file's annex.numcopies attribute (3 there).
    same(&["drop", "--numcopies", "2", "attr/f3"]);
    same(&["drop", "attr/f3"]);
    same(&["drop", "--numcopies", "2", "--mincopies", "3", "f2"]);
    same(&[
        "drop",
        "--json",
        "--mincopies",
        "1",
        "--numcopies",
        "1",
        ".",
    ]);
}

#[test]
fn trust_options_on_the_command_line_decide_as_the_reference() {
    // An untrusted origin's copy does not count for a drop.
    let o = same(&["drop", "--untrust", "origin", "f1"]);
    assert_eq!(o.status.code(), Some(1));
    // A later --semitrust gives it back its default level.
    same(&["drop", "--untrust", "origin", "--semitrust", "origin", "f1"]);
    // Shown apart by whereis; counted by the matching options.
    same(&["whereis", "--untrust", "origin"]);
    same(&["whereis", "--untrust", "clone", "--json"]);
    same(&["find", "--copies", "2", "--untrust", "origin"]);
    same(&["list", "--untrust", "here"]);
    // --trust is refused with a warning, and changes nothing.
    same(&["whereis", "--trust", "origin", "f1"]);
    // An unknown repository stops the command.
    let o = same(&["drop", "--untrust", "nosuch", "f1"]);
    assert_eq!(o.status.code(), Some(1));
    same(&["find", "--trust", "nosuch"]);
}
