//! End-to-end tests of `assist`: new files added from the top wherever it
//! runs, committed, synced and their content sent, as the reference's.

use crate::support;

#[test]
fn assist_adds_commits_pushes_and_sends_content_like_the_reference() {
    let origin = support::new_git_repo();
    support::annex(origin.path(), &["init", "-q", "origin"]);
    let dir = tempfile::tempdir().expect("tmp");
    let clone = dir.path().join("clone");
    support::git(
        dir.path(),
        &["clone", "-q", &origin.path().to_string_lossy(), "clone"],
    );
    let out = crate::ours(&clone, &["init", "clone"]);
    assert!(out.status.success(), "{out:?}");
    std::fs::write(clone.join("top"), "top file\n").expect("write");
    std::fs::create_dir_all(clone.join("sub")).expect("mkdir");
    std::fs::write(clone.join("sub/inner"), "inner file\n").expect("write");
    // Run from a subdirectory: files anywhere are added, named from the top.
    let out = crate::ours(&clone.join("sub"), &["assist"]);
    assert!(out.status.success(), "assist: {out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("add top ok"), "{stdout}");
    assert!(stdout.contains("add sub/inner ok"), "{stdout}");
    assert_eq!(
        support::git(&clone, &["log", "-1", "--format=%s"]).trim(),
        "git-annex in clone"
    );
    assert_eq!(support::git(&clone, &["status", "--porcelain"]), "");
    // The content went to origin, as the reference's location log and
    // its own store say.
    let found = support::annex(&clone, &["find", "--in", "origin"]);
    assert_eq!(found, "sub/inner\ntop\n");
    let out = support::annex_output(origin.path(), &["fsck", "--quiet", "--all"], None);
    assert!(out.status.success(), "reference fsck in origin: {out:?}");
    let out = support::annex_output(&clone, &["fsck", "--quiet"], None);
    assert!(out.status.success(), "reference fsck in clone: {out:?}");
}

#[test]
fn assist_content_of_limits_the_adds() {
    let r = support::new_git_repo();
    let d = r.path();
    let out = crate::ours(d, &["init", "here"]);
    assert!(out.status.success(), "{out:?}");
    std::fs::create_dir_all(d.join("sub")).expect("mkdir");
    std::fs::write(d.join("sub/in"), "in\n").expect("write");
    std::fs::write(d.join("out"), "out\n").expect("write");
    let out = crate::ours(d, &["assist", "--content-of", "sub"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(support::git(d, &["ls-files"]), "sub/in\n");
    assert_eq!(support::git(d, &["status", "--porcelain"]), "?? out\n");
}
