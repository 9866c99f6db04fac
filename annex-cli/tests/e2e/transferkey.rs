//! End-to-end tests: `transferkey`, compared with the reference in two
//! clones of one repository (output, exit codes, what each has after).

use std::path::Path;

use crate::pair::{annexed, ours, theirs};
use crate::support;

#[test]
fn transferkey_matches_the_reference() {
    let origins: Vec<tempfile::TempDir> = (0..2).map(|_| support::new_git_repo()).collect();
    let clones: Vec<tempfile::TempDir> =
        (0..2).map(|_| tempfile::tempdir().expect("tmp")).collect();
    let mut dirs = Vec::new();
    for (o, c) in origins.iter().zip(&clones) {
        let o = o.path();
        assert!(theirs(o, &["init", "origin"], None).status.success());
        annexed(&[("a", "a\n"), ("b", "b\n"), ("c", "c\n")])(o);
        let cd = c.path().join("c");
        support::git(c.path(), &["clone", "-q", o.to_str().expect("utf-8"), "c"]);
        assert!(theirs(&cd, &["init", "clone"], None).status.success());
        std::fs::write(cd.join("n"), "n\n").expect("write");
        assert!(theirs(&cd, &["add", "--quiet", "n"], None).status.success());
        support::git(&cd, &["commit", "-q", "-m", "n"]);
        dirs.push(cd);
    }
    let key = |f: &str| {
        support::annex(&dirs[0], &["lookupkey", f])
            .trim()
            .to_string()
    };
    let (ka, kb, kn) = (key("a"), key("b"), key("n"));
    let clean = |b: &[u8]| String::from_utf8_lossy(b).replace("git-annex-rs:", "git-annex:");
    for args in [
        vec!["transferkey", ka.as_str(), "--from", "origin"],
        vec!["transferkey", ka.as_str(), "--from", "origin"],
        vec![
            "transferkey",
            kb.as_str(),
            "--from",
            "origin",
            "--file",
            "b",
        ],
        vec!["whereis", "a", "b", "c"],
        vec!["transferkey", kn.as_str(), "--to", "origin"],
        vec!["transferkey", kn.as_str(), "--to", "origin"],
        vec!["transferkey", "BAD", "--from", "origin"],
        vec!["transferkey", ka.as_str()],
        vec!["whereis", "n"],
    ] {
        let t = theirs(&dirs[0], &args, None);
        let o = ours(&dirs[1], &args, None);
        let strip = |s: String| {
            // Repository UUIDs differ between the two clones (and so does
            // the order whereis lists them in).
            let mut v: Vec<String> = s
                .lines()
                .map(|l| l.split(" -- ").last().unwrap_or(l).to_string())
                .collect();
            v.sort();
            v.join("\n")
        };
        assert_eq!(
            (strip(clean(&o.stdout)), o.status.code()),
            (strip(clean(&t.stdout)), t.status.code()),
            "git-annex {args:?}: ours (left) differs from the reference (right)"
        );
    }
    let present = |d: &Path| support::annex(d, &["find", "--in", "origin"]);
    assert_eq!(present(&dirs[1]), present(&dirs[0]));
}
