//! End-to-end tests: `reinit`, compared with the reference in two clones
//! of one repository (output, exit codes, the git config, hooks and the
//! `git-annex` branch's `uuid.log` it leaves).

use std::path::Path;

use crate::pair::{annexed, ours, theirs};
use crate::support;

fn clone(origin: &Path, into: &Path) {
    support::git(into, &["clone", "-q", origin.to_str().expect("utf-8"), "c"]);
}

fn config(d: &Path) -> String {
    let c = support::git(d, &["config", "--list", "--local"]);
    let mut hooks: Vec<String> = std::fs::read_dir(d.join(".git/hooks"))
        .expect("hooks")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".sample"))
        .collect();
    hooks.sort();
    let mut show = std::process::Command::new("git");
    support::hermetic(&mut show)
        .current_dir(d)
        .args(["show", "git-annex:uuid.log"]);
    let uuid_log =
        String::from_utf8_lossy(&support::output_with_stdin(show, None).stdout).into_owned();
    format!("{c}\n{}\n{uuid_log}", hooks.join(" "))
}

#[test]
fn reinit_matches_the_reference() {
    let origin = support::new_git_repo();
    let o = origin.path();
    assert!(theirs(o, &["init", "orig desc"], None).status.success());
    annexed(&[("a", "a\n")])(o);
    let uuid = support::git(o, &["config", "annex.uuid"])
        .trim()
        .to_string();
    let (t, u) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    clone(o, t.path());
    clone(o, u.path());
    let (td, od) = (t.path().join("c"), u.path().join("c"));
    let clean = |b: &[u8]| String::from_utf8_lossy(b).replace("git-annex-rs:", "git-annex:");
    for args in [
        &["reinit", "nosuch"][..],
        &["reinit", "--json", "11111111-2222-3333-4444-555555555555"],
        &["reinit"],
        &["reinit", "here"],
        &["reinit", "orig", "desc"],
        &["reinit", &uuid],
    ] {
        let (tt, oo) = (theirs(&td, args, None), ours(&od, args, None));
        assert_eq!(
            (clean(&oo.stdout), clean(&oo.stderr), oo.status.code()),
            (clean(&tt.stdout), clean(&tt.stderr), tt.status.code()),
            "git-annex {args:?}: ours (left) differs from the reference (right)"
        );
        // The reference also learns origin's UUID (another part of the
        // work); the rest must be the same.
        let strip = |s: String| {
            s.lines()
                .filter(|l| !l.starts_with("remote.origin.annex-uuid="))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(strip(config(&od)), strip(config(&td)), "after {args:?}");
    }
    assert_eq!(support::git(&od, &["config", "annex.uuid"]).trim(), uuid);
}

#[test]
fn reinit_after_uninit_by_description_matches_the_reference() {
    let (t, u) = (support::new_git_repo(), support::new_git_repo());
    for d in [t.path(), u.path()] {
        assert!(theirs(d, &["init", "the desc"], None).status.success());
        annexed(&[("a", "a\n")])(d);
        assert!(theirs(d, &["uninit"], None).status.success());
        // The branch is gone with uninit; a description needs it, a UUID does not.
    }
    let uuid = "22222222-2222-3333-4444-555555555555";
    let (tt, oo) = (
        theirs(t.path(), &["reinit", uuid], None),
        ours(u.path(), &["reinit", uuid], None),
    );
    assert_eq!((oo.stdout, oo.status.code()), (tt.stdout, tt.status.code()));
    let cfg = |d: &Path| support::git(d, &["config", "--list", "--local"]);
    assert_eq!(cfg(u.path()), cfg(t.path()));
}

/// Regression: `reinit NAME` did not learn the UUIDs of the remotes as the
/// reference does on the way (it lists the remotes for any name that is
/// not a UUID): a remote on this machine is read and its UUID recorded, a
/// missing one warned about, one without git-annex left alone; a remote
/// learned so can be named.
#[test]
fn reinit_learns_remote_uuids_as_the_reference() {
    let origin = support::new_git_repo();
    let o = origin.path();
    assert!(theirs(o, &["init", "orig"], None).status.success());
    annexed(&[("a", "a\n")])(o);
    let other = support::new_git_repo();
    assert!(
        theirs(other.path(), &["init", "other"], None)
            .status
            .success()
    );
    let plain = support::new_git_repo();
    let (t, u) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    clone(o, t.path());
    clone(o, u.path());
    let (td, od) = (t.path().join("c"), u.path().join("c"));
    for d in [&td, &od] {
        let p = |x: &Path| x.to_str().expect("utf-8").to_owned();
        support::git(d, &["remote", "add", "other", &p(other.path())]);
        support::git(d, &["remote", "add", "plain", &p(plain.path())]);
        support::git(d, &["remote", "add", "gone", &p(&o.join("nonexistent"))]);
    }
    let clean = |b: &[u8]| String::from_utf8_lossy(b).replace("git-annex-rs:", "git-annex:");
    let other_uuid = support::git(other.path(), &["config", "annex.uuid"]);
    for args in [&["reinit", "nosuch"][..], &["reinit", "other"]] {
        let (tt, oo) = (theirs(&td, args, None), ours(&od, args, None));
        assert_eq!(
            (clean(&oo.stdout), clean(&oo.stderr), oo.status.code()),
            (clean(&tt.stdout), clean(&tt.stderr), tt.status.code()),
            "git-annex {args:?}: ours (left) differs from the reference (right)"
        );
        assert_eq!(config(&od), config(&td), "after {args:?}");
    }
    assert!(
        config(&od).contains(&format!("remote.other.annex-uuid={}", other_uuid.trim())),
        "{}",
        config(&od)
    );
    assert_eq!(
        support::git(&od, &["config", "annex.uuid"]).trim(),
        other_uuid.trim()
    );
}
