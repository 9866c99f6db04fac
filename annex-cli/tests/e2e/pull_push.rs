//! `pull` and `push` against the reference: the same steps on two
//! identical origin/clone pairs, one worked by the reference, the other by
//! us; each step's stdout (commit ids and the reference's progress meter
//! aside), exit code, and the branches and content each repository is left
//! with.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::{ours, support};

/// An origin with two annexed files and a clone of it, both initialized
/// by the reference with fixed UUIDs.
fn pair() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let o = crate::pair::origin_in(dir.path());
    fs::write(o.join("f1"), "one").unwrap();
    fs::write(o.join("f2"), "two").unwrap();
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
    (dir, o, c)
}

/// Stdout without the reference's progress meter and with commit ids
/// (`Updating 1a2b3c4..5d6e7f8`) replaced.
fn shown(o: &Output) -> String {
    let s = crate::transfer::strip_meter(&String::from_utf8_lossy(&o.stdout));
    s.lines()
        .map(|l| {
            l.split(' ')
                .map(|w| {
                    let hexish =
                        w.len() >= 7 && w.chars().all(|c| c.is_ascii_hexdigit() || c == '.');
                    if hexish { "ID" } else { w }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a repository is left with: its branches and their trees, and the
/// files whose content it has.
fn state(repo: &Path) -> String {
    // Commit ids differ between the two runs (dates); trees do not,
    // except the git-annex branches' (the logs' timestamps): their names.
    let mut s = support::git(
        repo,
        &["for-each-ref", "--format=%(refname)", "refs/heads/"],
    );
    s.push_str(&support::git(
        repo,
        &[
            "for-each-ref",
            "--format=%(refname) %(tree)",
            "refs/heads/master",
            "refs/heads/synced/master",
        ],
    ));
    s.push_str(&support::annex(repo, &["find"]));
    s
}

/// Runs `steps` in the clone, each either a command of the implementation
/// under test (`Annex`) or a change made alike in both pairs (`Setup`).
enum Step<'a> {
    Annex(&'a [&'a str]),
    Setup(&'a dyn Fn(&Path, &Path)),
}

fn same(steps: &[Step<'_>]) {
    let (_a, oa, ca) = pair();
    let (_b, ob, cb) = pair();
    for (n, step) in steps.iter().enumerate() {
        match step {
            Step::Setup(f) => {
                f(&oa, &ca);
                f(&ob, &cb);
            }
            Step::Annex(args) => {
                let theirs = support::annex_output(&ca, args, None);
                let mine = ours(&cb, args);
                assert_eq!(
                    shown(&mine),
                    shown(&theirs),
                    "step {n} {args:?}: stdout; stderr ours {}",
                    String::from_utf8_lossy(&mine.stderr)
                );
                assert_eq!(
                    mine.status.code(),
                    theirs.status.code(),
                    "step {n} {args:?}: code"
                );
                assert_eq!(state(&cb), state(&ca), "step {n} {args:?}: clone");
                assert_eq!(state(&ob), state(&oa), "step {n} {args:?}: origin");
            }
        }
    }
}

fn change_both(o: &Path, c: &Path) {
    fs::write(o.join("f3"), "three").unwrap();
    support::annex(o, &["add", "-q", "f3"]);
    support::git(o, &["commit", "-q", "-m", "f3"]);
    fs::write(c.join("f4"), "four").unwrap();
    support::annex(c, &["add", "-q", "f4"]);
    support::git(c, &["commit", "-q", "-m", "f4"]);
}

#[test]
fn pull_and_push_work_a_clone_as_the_reference() {
    same(&[
        // Content got, nothing committed, nothing pushed.
        Step::Annex(&["pull"]),
        Step::Setup(&change_both),
        // Content put, synced/master pushed (master is rejected).
        Step::Annex(&["push"]),
        Step::Annex(&["push"]),
        // The origin's change merged, no content.
        Step::Annex(&["pull", "--no-content"]),
        Step::Annex(&["push", "origin"]),
        Step::Annex(&["push", "--cleanup"]),
        Step::Annex(&["pull", "nosuchremote"]),
    ]);
}

#[test]
fn pull_and_push_honour_synccontent_and_only_annex_as_the_reference() {
    same(&[
        Step::Setup(&|_, c| {
            support::git(c, &["config", "annex.synccontent", "false"]);
        }),
        Step::Annex(&["pull"]),
        Step::Annex(&["pull", "--content"]),
        Step::Setup(&change_both),
        Step::Annex(&["push", "--only-annex"]),
        Step::Annex(&["pull", "-a"]),
        Step::Annex(&["push", "--commit"]),
        Step::Annex(&["pull", "--cleanup"]),
    ]);
}
