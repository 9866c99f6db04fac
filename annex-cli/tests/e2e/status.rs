//! End-to-end tests: `status`, compared with the reference on the same
//! repository (a read-only command).

use std::path::Path;

use crate::pair::{annexed, ours, theirs};
use crate::support;

fn same(dir: &Path, args: &[&str]) {
    let clean = |b: &[u8]| String::from_utf8_lossy(b).replace("git-annex-rs:", "git-annex:");
    let t = theirs(dir, args, None);
    let o = ours(dir, args, None);
    assert_eq!(
        (clean(&o.stdout), clean(&o.stderr), o.status.code()),
        (clean(&t.stdout), clean(&t.stderr), t.status.code()),
        "git-annex {args:?}: ours (left) differs from the reference (right)"
    );
}

#[test]
fn status_matches_the_reference() {
    let repo = support::new_git_repo();
    let d = repo.path();
    assert!(theirs(d, &["init", "repo"], None).status.success());
    annexed(&[
        ("a", "a\n"),
        ("b", "b\n"),
        ("c", "c\n"),
        ("u1", "u1\n"),
        ("u2", "u2\n"),
    ])(d);
    std::fs::write(d.join("g"), "g\n").expect("write");
    support::git(d, &["add", "g"]);
    support::git(d, &["commit", "-q", "-m", "g"]);
    assert!(theirs(d, &["unlock", "u1", "u2"], None).status.success());
    std::fs::write(d.join("u2"), "changed\n").expect("write");
    std::fs::write(d.join("new"), "new\n").expect("write");
    std::fs::create_dir_all(d.join("sd")).expect("mkdir");
    std::fs::write(d.join("sd/z"), "z\n").expect("write");
    support::git(d, &["rm", "-q", "--cached", "b"]);
    std::fs::remove_file(d.join("c")).expect("rm");
    std::fs::write(d.join("g"), "g changed\n").expect("write");
    std::fs::write(d.join("staged"), "s\n").expect("write");
    support::git(d, &["add", "staged"]);
    support::git(d, &["mv", "a", "a-renamed"]);
    same(d, &["status"]);
    same(d, &["status", "--json"]);
    same(d, &["status", "g", "sd"]);
    same(d, &["status", "--ignore-submodules=all"]);
    same(&d.join("sd"), &["status"]);
}
