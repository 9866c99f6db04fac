//! End-to-end tests: `migrate`, compared with the reference (output,
//! `--json`, exit codes, links, index, objects and the location and
//! metadata logs of the new keys).

use std::path::Path;

use crate::pair::{Pair, theirs, write_files};
use crate::support;

fn setup(d: &Path) {
    write_files(
        d,
        &[("a.txt", "a\n"), ("b", "b\n"), ("u", "u\n"), ("g", "g\n")],
    );
    // WORM keys hold the mtime: the same on both sides.
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    for f in ["a.txt", "b", "u", "g"] {
        let file = std::fs::File::options()
            .write(true)
            .open(d.join(f))
            .expect("open");
        file.set_modified(t).expect("mtime");
    }
    assert!(
        theirs(d, &["add", "--quiet", "--backend=WORM", "."], None)
            .status
            .success()
    );
    assert!(theirs(d, &["unlock", "u"], None).status.success());
    support::git(d, &["commit", "-q", "-m", "add"]);
    assert!(theirs(d, &["drop", "--force", "g"], None).status.success());
    assert!(
        theirs(d, &["metadata", "-s", "t=1", "a.txt"], None)
            .status
            .success()
    );
}

fn state(d: &Path) -> String {
    format!(
        "{}\n{}\n{:?}",
        support::git(d, &["ls-files", "-s"]),
        support::git(d, &["status", "--short"]),
        ["a.txt", "b", "g"].map(|f| std::fs::read_link(d.join(f)).ok()),
    )
}

#[test]
fn migrate_matches_the_reference() {
    let p = Pair::new(setup);
    for args in [
        &["migrate", "a.txt"][..],
        &["migrate", "--json", "b"],
        &["migrate", "u", "g"],
        &["migrate"],
        &["migrate", "--backend=MD5E", "a.txt"],
        &["migrate", "nosuch"],
    ] {
        p.same(args);
        assert_eq!(state(&p.ours), state(&p.theirs), "after {args:?}");
    }
    p.same(&["metadata", "a.txt"]);
    p.same(&["whereis", "a.txt", "b", "u"]);
    p.same_branch(|f| f.ends_with(".log.met") || f.ends_with(".log"));
}

/// The `migrate.tree` grafted by the last migration of `d`'s
/// `git-annex` branch: its files and their blobs.
fn migration_tree(d: &Path) -> String {
    let log = support::git(d, &["log", "--format=%H %s", "git-annex"]);
    let graft = log
        .lines()
        .find(|l| l.ends_with(" graft"))
        .and_then(|l| l.split(' ').next())
        .expect("a graft commit");
    support::git(d, &["ls-tree", "-r", graft, "migrate.tree"])
}

/// Regression: a migration was not recorded for other repositories. It is
/// now as the reference records it (the same `migrate.tree` of old and new
/// blobs, grafted then removed, `migrations.log`), and a clone's `git
/// annex migrate --update` (the reference's) moves its content to the new
/// keys.
#[test]
fn a_migration_is_recorded_for_other_repositories_as_the_reference() {
    let p = Pair::new(setup);
    for d in [&p.ours, &p.theirs] {
        let c = d.join(".git/clone");
        support::git(d, &["clone", "-q", ".", c.to_str().unwrap()]);
        assert!(theirs(&c, &["init", "-q", "clone"], None).status.success());
        assert!(
            theirs(&c, &["get", "-q", "a.txt", "u"], None)
                .status
                .success()
        );
    }
    p.same(&["migrate", "--backend=SHA256E", "a.txt", "u"]);
    assert_eq!(migration_tree(&p.ours), migration_tree(&p.theirs));
    for d in [&p.ours, &p.theirs] {
        let log = std::fs::read_to_string(d.join(".git/annex/migrations.log")).unwrap();
        assert!(
            log.starts_with("0000000000000000000000000000000000000000\n"),
            "{log}"
        );
        assert_eq!(log.lines().count(), 2, "{log}");
        support::git(d, &["commit", "-q", "-a", "-m", "migrated"]);
    }
    let applied = |d: &Path| {
        let c = d.join(".git/clone");
        support::git(&c, &["pull", "-q", "--no-rebase", "origin"]);
        let out = theirs(&c, &["migrate", "--update"], None);
        assert!(out.status.success(), "{out:?}");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            support::annex(&c, &["find", "--format=${file} ${key}\\n"]),
        )
    };
    let ours = applied(&p.ours);
    assert_eq!(ours, applied(&p.theirs));
    assert!(ours.1.contains("a.txt SHA256E-"), "{ours:?}");
    assert!(ours.0.contains("migrate"), "{ours:?}");
}
