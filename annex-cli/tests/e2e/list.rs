//! End-to-end tests: `list` and `whereused`, compared with the reference.

use std::path::Path;

use crate::pair::{Pair, annexed, theirs};
use crate::support;

const A: &str = "SHA256E-s2--87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7";
const C: &str = "SHA256E-s2--a3a5e715f0cc574a73c3f9bebb6bc24f32ffd5b67b387244c2c909da779a1478";

/// Files (two with the same content), one dropped, one moved, a remote
/// that has some, an untrusted one, a file removed from the tree later.
fn setup(d: &Path) {
    annexed(&[
        ("a", "a\n"),
        ("a2", "a\n"),
        ("b", "b\n"),
        ("d/c", "c\n"),
        ("e", "e\n"),
        ("s/f", "f\n"),
    ])(d);
    assert!(theirs(d, &["drop", "--force", "b"], None).status.success());
    support::git(d, &["mv", "a", "a3"]);
    support::git(d, &["commit", "-q", "-m", "mv"]);
    support::git(d, &["tag", "v1"]);
    support::git(d, &["rm", "-q", "d/c"]);
    support::git(d, &["commit", "-q", "-m", "rm"]);
    // Another repository that has `a2`'s content and is untrusted, known
    // only through the git-annex branch.
    let other = d.join(".git").join("other");
    support::git(
        d,
        &[
            "clone",
            "-q",
            d.to_str().expect("utf-8"),
            other.to_str().expect("utf-8"),
        ],
    );
    assert!(
        theirs(&other, &["init", "other repo"], None)
            .status
            .success()
    );
    assert!(
        theirs(&other, &["get", "--quiet", "a2"], None)
            .status
            .success()
    );
    assert!(theirs(&other, &["untrust", "here"], None).status.success());
    support::git(
        d,
        &["remote", "add", "other", other.to_str().expect("utf-8")],
    );
    assert!(
        theirs(d, &["sync", "--quiet", "--no-push", "other"], None)
            .status
            .success()
    );
}

#[test]
fn list_matches_the_reference() {
    let p = Pair::new(setup);
    p.same(&["list"]);
    p.same(&["list", "--allrepos"]);
    p.same(&["list", "a3", "b"]);
    p.same(&["list", "--in", "here"]);
    p.same(&["list", "nosuch"]);
}

#[test]
fn whereused_matches_the_reference() {
    let p = Pair::new(setup);
    p.same(&["whereused", "--key", A]);
    p.same_in("s", &["whereused", "--key", A], None);
    p.same(&["whereused", "--key", C]);
    p.same(&["whereused", "--key", C, "--historical"]);
    p.same(&["whereused", "--key", A, "--historical"]);
    p.same_code(&["whereused"]);
    p.same_code(&["whereused", "--key", "BAD"]);
    assert!(theirs(&p.theirs, &["unused"], None).status.success());
    assert!(theirs(&p.ours, &["unused"], None).status.success());
    p.same(&["whereused", "--unused", "--historical"]);
}
