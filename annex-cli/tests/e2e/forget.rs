//! End-to-end tests: `forget`, compared with the reference (output, exit
//! codes, the branch's new single commit and its tree), and read across.

use std::path::Path;

use crate::pair::{Pair, annexed, theirs};
use crate::support;

fn history(d: &Path) -> (String, String) {
    // Subjects and how many parents each commit has.
    let log = support::git(d, &["log", "--format=%s|%P", "git-annex"])
        .lines()
        .map(|l| {
            let (s, p) = l.split_once('|').unwrap_or((l, ""));
            format!("{s} {}\n", p.split_whitespace().count())
        })
        .collect::<String>();
    let tree = support::git(d, &["ls-tree", "-r", "--name-only", "git-annex"]);
    (log, tree)
}

#[test]
fn forget_matches_the_reference() {
    let p = Pair::new(annexed(&[("a", "a\n"), ("b", "b\n")]));
    p.same(&["forget"]);
    assert_eq!(history(&p.ours), history(&p.theirs));
    p.same(&["forget", "--force"]);
    assert_eq!(history(&p.ours), history(&p.theirs));
    assert_eq!(history(&p.ours).0.lines().count(), 1);
    p.same_branch(|_| true);
    // The reference reads what we left: its fsck and whereis are content.
    for d in [&p.ours, &p.theirs] {
        let out = theirs(d, &["whereis", "a"], None);
        assert!(out.status.success(), "{out:?}");
        let out = theirs(d, &["fsck", "--quiet"], None);
        assert!(out.status.success(), "{out:?}");
    }
}

/// Every file of the `git-annex` branch with its lines, the repository's
/// own (random) UUID replaced and the lines sorted (where it sorts among
/// other UUIDs differs between the two sides).
fn branch(d: &Path) -> Vec<(String, Vec<String>)> {
    let own = support::git(d, &["config", "annex.uuid"]).trim().to_owned();
    support::git(d, &["ls-tree", "-r", "--name-only", "git-annex"])
        .lines()
        .map(|p| {
            let body = support::git(d, &["show", &format!("git-annex:{p}")]);
            let mut lines: Vec<String> = body.lines().map(|l| l.replace(&own, "UUID")).collect();
            lines.sort();
            (p.to_owned(), lines)
        })
        .collect()
}

/// The dead repository and the living one of [`with_dead_remote`].
const DEAD: &str = "d0d0d0d0-0000-4000-8000-000000000000";
const LIVE: &str = "a1a1a1a1-0000-4000-8000-000000000000";

/// A setup: files added, and two repositories known (remotes `gone` and
/// `live` with fixed UUIDs, never reachable) with a copy of `a`, a
/// description each, and for `gone` a group, preferred content and a
/// maximum size; then `gone` marked dead. All by the reference.
fn with_dead_remote(d: &Path) {
    annexed(&[("a", "a\n"), ("b", "b\n")])(d);
    let run = |args: &[&str]| {
        let out = theirs(d, args, None);
        assert!(out.status.success(), "{args:?}: {out:?}");
    };
    let key = String::from_utf8_lossy(&theirs(d, &["lookupkey", "a"], None).stdout)
        .trim()
        .to_owned();
    for (name, uuid) in [("gone", DEAD), ("live", LIVE)] {
        support::git(d, &["remote", "add", name, &format!("/nonexistent/{name}")]);
        support::git(d, &["config", &format!("remote.{name}.annex-uuid"), uuid]);
        run(&["setpresentkey", &key, uuid, "1"]);
        run(&["describe", name, name]);
    }
    run(&["group", "gone", "archive"]);
    run(&["wanted", "gone", "include=*"]);
    run(&["maxsize", "gone", "1000"]);
    run(&["dead", "gone"]);
}

#[test]
fn forget_drop_dead_matches_the_reference() {
    let p = Pair::new(with_dead_remote);
    p.same(&["forget", "--force", "--drop-dead"]);
    assert_eq!(history(&p.ours), history(&p.theirs));
    assert_eq!(branch(&p.ours), branch(&p.theirs));
    let tree = history(&p.ours).1;
    assert!(!tree.contains("group.log"), "{tree}");
    assert!(tree.contains("trust.log"), "{tree}");
    // Again: the transition is known now, and the output says so.
    p.same(&["forget", "--force", "--drop-dead"]);
    assert_eq!(branch(&p.ours), branch(&p.theirs));
    for d in [&p.ours, &p.theirs] {
        let out = theirs(d, &["whereis", "a"], None);
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(shown.contains(LIVE) && !shown.contains(DEAD), "{shown}");
    }
}

/// A repository merging a `git-annex` branch that dropped the dead
/// performs the transition too (its own logs of the dead go), as the
/// reference's merge does.
#[test]
fn merging_a_branch_that_dropped_the_dead_drops_them_here_as_the_reference() {
    let p = Pair::new(with_dead_remote);
    for d in [&p.ours, &p.theirs] {
        let up = d.join(".git/upstream");
        support::git(d, &["clone", "-q", ".", up.to_str().unwrap()]);
        support::git(
            &up,
            &[
                "config",
                "annex.uuid",
                "22222222-0000-4000-8000-000000000002",
            ],
        );
        for args in [
            &["init", "-q", "up"][..],
            &["forget", "--force", "--drop-dead"],
        ] {
            let out = theirs(&up, args, None);
            assert!(out.status.success(), "{args:?}: {out:?}");
        }
        support::git(d, &["remote", "add", "up", up.to_str().unwrap()]);
        support::git(d, &["fetch", "-q", "up"]);
    }
    p.same(&["merge"]);
    assert_eq!(branch(&p.ours), branch(&p.theirs));
    assert_eq!(history(&p.ours), history(&p.theirs));
    assert!(!history(&p.ours).1.contains("group.log"));
}
