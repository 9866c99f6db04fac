//! End-to-end tests: `dropunused` and `addunused`, compared with the
//! reference (output, `--json`, exit codes, what is left in the object
//! store and the index). A drop is refused unless numcopies is proven,
//! as the reference refuses it.

use std::path::Path;

use crate::pair::{Pair, theirs, write_files};
use crate::support;

/// Four files added and committed, then removed and committed: their
/// content is unused; the reference's `unused` lists it.
fn setup(d: &Path) {
    write_files(d, &[("a", "a\n"), ("b", "b\n"), ("c", "c\n"), ("d", "d\n")]);
    assert!(theirs(d, &["add", "--quiet", "."], None).status.success());
    support::git(d, &["commit", "-q", "-m", "add"]);
    support::git(d, &["rm", "-q", "a", "b", "c", "d"]);
    support::git(d, &["commit", "-q", "-m", "rm"]);
    assert!(theirs(d, &["unused"], None).status.success());
}

fn objects(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = walk(&d.join(".git/annex/objects"));
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(
                    p.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                );
            }
        }
    }
    out
}

#[test]
fn dropunused_refuses_without_copies_as_the_reference() {
    let p = Pair::new(setup);
    for args in [
        &["dropunused", "1"][..],
        &["dropunused", "--json", "3"],
        &["dropunused", "9"],
        &["dropunused", "x"],
        &["dropunused", "1-2"],
        &["dropunused"],
    ] {
        p.same(args);
        assert_eq!(objects(&p.ours), objects(&p.theirs), "after {args:?}");
    }
    // Nothing was dropped without --force.
    assert_eq!(objects(&p.ours).len(), 4);
    p.same(&["dropunused", "--force", "2"]);
    assert_eq!(objects(&p.ours), objects(&p.theirs));
    assert_eq!(objects(&p.ours).len(), 3);
    p.same(&["dropunused", "--force", "all"]);
    assert!(objects(&p.ours).is_empty());
    p.same_branch(|f| f.ends_with(".log"));
}

#[test]
fn dropunused_drops_with_copies_proven_as_the_reference() {
    let p = Pair::new(setup);
    // A clone that has every key: the copies are proven there.
    let clones: Vec<tempfile::TempDir> = [&p.theirs, &p.ours]
        .iter()
        .map(|d| {
            let c = tempfile::tempdir().expect("tmp");
            support::git(c.path(), &["clone", "-q", d.to_str().expect("utf-8"), "c"]);
            let cd = c.path().join("c");
            assert!(theirs(&cd, &["init", "clone"], None).status.success());
            support::git(&cd, &["checkout", "-q", "HEAD~1"]);
            assert!(theirs(&cd, &["get", "--quiet", "."], None).status.success());
            support::git(d, &["remote", "add", "cl", cd.to_str().expect("utf-8")]);
            assert!(
                theirs(d, &["sync", "--quiet", "--no-push", "cl"], None)
                    .status
                    .success()
            );
            c
        })
        .collect();
    p.same(&["dropunused", "1", "3"]);
    assert_eq!(objects(&p.ours), objects(&p.theirs));
    assert_eq!(objects(&p.ours).len(), 2);
    p.same(&["numcopies", "2"]);
    p.same(&["dropunused", "2"]);
    assert_eq!(objects(&p.ours).len(), 2);
    drop(clones);
}

#[test]
fn addunused_matches_the_reference() {
    let p = Pair::new(setup);
    p.same(&["addunused", "4"]);
    p.same(&["addunused", "--json", "1-2"]);
    p.same(&["addunused", "9"]);
    let status = |d: &Path| support::git(d, &["status", "--short"]);
    assert_eq!(status(&p.ours), status(&p.theirs));
    let links = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .expect("dir")
            .flatten()
            .map(|e| {
                format!(
                    "{} -> {:?}",
                    e.file_name().to_string_lossy(),
                    std::fs::read_link(e.path()).ok()
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(links(&p.ours), links(&p.theirs));
}
