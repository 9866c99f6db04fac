//! End-to-end tests of the preferred-content engine as the commands use
//! it: `annex.largefiles` in `add`, matching options, `--auto`; each
//! checked against the reference git-annex on an identical repository.

use std::fs;
use std::path::Path;

use crate::{ours, support};

/// A repository initialized by the reference with files of several sizes
/// and names.
fn tree() -> tempfile::TempDir {
    let dir = support::new_git_repo();
    let p = dir.path();
    support::annex(p, &["init", "-q"]);
    fs::create_dir_all(p.join("docs/old")).unwrap();
    fs::create_dir_all(p.join("media")).unwrap();
    fs::write(p.join("README.txt"), "read me\n").unwrap();
    fs::write(p.join("docs/guide.txt"), "x".repeat(3000)).unwrap();
    fs::write(p.join("docs/old/notes.md"), "notes\n").unwrap();
    fs::write(p.join("media/song.mp3"), "m".repeat(500)).unwrap();
    fs::write(p.join("media/film.mkv"), "f".repeat(5000)).unwrap();
    fs::write(p.join("media/tiny.mp3"), "t").unwrap();
    fs::write(p.join("data.bin"), "b".repeat(2048)).unwrap();
    dir
}

/// The staged entries (mode, blob: a symlink's blob is its key) and git
/// status.
fn staged(p: &Path) -> String {
    let mut s = support::git(p, &["ls-files", "-s"]);
    s.push_str(&support::git(p, &["status", "--porcelain"]));
    s
}

/// `add` on two identical trees prepared by `setup`, the reference on one
/// and us on the other: same exit code, same staged result, same error.
fn same_add(what: &str, setup: &dyn Fn(&Path), args: &[&str]) {
    let (a, b) = (tree(), tree());
    setup(a.path());
    setup(b.path());
    let mut full = vec!["add", "--quiet"];
    full.extend_from_slice(args);
    let theirs = support::annex_output(a.path(), &full, None);
    let mine = ours(b.path(), &full);
    assert_eq!(
        mine.status.code(),
        theirs.status.code(),
        "{what}: exit code; ours {mine:?}, theirs {theirs:?}"
    );
    assert_eq!(staged(b.path()), staged(a.path()), "{what}: staged result");
    if !theirs.status.success() {
        // The program name differs.
        assert_eq!(
            String::from_utf8_lossy(&mine.stderr)
                .replace("git-annex-rs:", "git-annex:")
                .trim(),
            String::from_utf8_lossy(&theirs.stderr).trim(),
            "{what}: error"
        );
    }
}

const EXPRESSIONS: &[&str] = &[
    "include=*.mp3 or largerthan=2kb",
    "(include=*.mp3 or include=*.mkv) and largerthan=10b",
    "not (include=docs/* or smallerthan=1kb)",
    "exclude=*.txt and ( largerthan=1KiB or include=media/* )",
    "include=docs/* and not include=*.md",
    "nothing or ( include=*.bin and not largerthan=2kib )",
    "anything and not ( exclude=*.txt or largerthan=4000 )",
    "include=*.txt bogus",
    "copies=2",
    "(include=*.mp3",
];

#[test]
fn largefiles_from_git_config_as_the_reference() {
    for e in EXPRESSIONS {
        same_add(
            e,
            &|p| {
                support::git(p, &["config", "annex.largefiles", e]);
            },
            &[],
        );
    }
}

#[test]
fn largefiles_from_gitattributes_and_branch_as_the_reference() {
    // Attribute values cannot hold spaces: parentheses separate the terms.
    let attr_exprs = [
        "(include=*.mp3)or(largerthan=2kb)",
        "not(include=docs/old/*)",
        "(largerthan=1kb)and(not(include=*.md))",
        "include=*.txt",
        "bogus",
    ];
    for e in attr_exprs {
        same_add(
            e,
            &|p| {
                fs::write(
                    p.join(".gitattributes"),
                    format!("*.mp3 annex.largefiles=nothing\ndocs/* annex.largefiles=\"{e}\"\n"),
                )
                .unwrap();
            },
            &[],
        );
    }
    // `git annex config` (the branch) is the last resort; git config wins
    // over it.
    for e in &EXPRESSIONS[..4] {
        same_add(
            e,
            &|p| {
                support::annex(p, &["config", "--set", "annex.largefiles", e]);
            },
            &[],
        );
        same_add(
            e,
            &|p| {
                support::annex(p, &["config", "--set", "annex.largefiles", "nothing"]);
                support::git(p, &["config", "annex.largefiles", e]);
            },
            &[],
        );
    }
}
