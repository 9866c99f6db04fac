//! End-to-end tests: `findref` and `findkeys`, compared with the reference
//! (output, `--format`, `--print0`, `--json`, matching options, exit codes).

use std::path::Path;

use crate::pair::{Pair, annexed, theirs};
use crate::support;

const FILES: &[(&str, &str)] = &[("a", "a\n"), ("b", "b\n"), ("d/c", "c\n"), ("d/e", "e\n")];

/// Files added and committed, a tag made, one more file on a side branch,
/// and `b`'s content dropped.
fn setup(d: &Path) {
    annexed(FILES)(d);
    support::git(d, &["tag", "v1"]);
    support::git(d, &["checkout", "-q", "-b", "side"]);
    std::fs::write(d.join("s"), "s\n").expect("write");
    assert!(theirs(d, &["add", "--quiet", "s"], None).status.success());
    support::git(d, &["commit", "-q", "-m", "side"]);
    support::git(d, &["checkout", "-q", "main"]);
    assert!(
        theirs(d, &["drop", "--force", "--quiet", "b"], None)
            .status
            .success()
    );
}

#[test]
fn findref_matches_the_reference() {
    let p = Pair::new(setup);
    for args in [
        &["findref"][..],
        &["findref", "main"],
        &["findref", "side", "v1"],
        &["findref", "HEAD", "--json"],
        &["findref", "side", "--format=${key} ${file}\\n"],
        &["findref", "side", "--print0"],
        &["findref", "side", "--not", "--in", "here"],
        &["findref", "side", "--include", "d/*"],
        &["findref", "main", "nosuch"],
        &["findref", "nosuch"],
    ] {
        p.same(args);
    }
    p.same_in("d", &["findref", "main"], None);
}

#[test]
fn findkeys_matches_the_reference() {
    let p = Pair::new(setup);
    for args in [
        &["findkeys"][..],
        &["findkeys", "--json"],
        &["findkeys", "--in", "here"],
        &["findkeys", "--not", "--in", "here"],
        &["findkeys", "--format=${key}:${bytesize}\\n"],
        &["findkeys", "--print0"],
        &["findkeys", "--largerthan", "1"],
    ] {
        p.same(args);
    }
    p.same_code(&["findkeys", "d"]);
}
