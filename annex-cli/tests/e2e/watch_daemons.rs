//! End-to-end tests with two real assistants, or one killed in the
//! middle of its work: a conflict made on both sides ends as `sync`
//! resolves it, and a daemon killed with `kill -9` during a transfer
//! finishes the work when started again, with nothing lost and nothing
//! left behind that blocks it; the reference's `fsck` checks the results.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support;
use crate::watch::{alive, committed, daemon_pid, fsck_clean, stop, wait_for};
use crate::watch_sync::{assistant, has_content, pair};

/// The files of `HEAD` in `d`, sorted.
fn tree(d: &Path) -> Vec<String> {
    let mut files: Vec<String> = support::git(d, &["ls-tree", "-r", "--name-only", "HEAD"])
        .lines()
        .map(str::to_string)
        .collect();
    files.sort();
    files
}

/// What the reference's `sync` makes of the same conflict: `conflict`
/// written in both repositories of a fresh pair with these contents, then
/// synced a, b, a. Returns the tree both end with.
fn as_sync_resolves(in_a: &str, in_b: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = pair(dir.path());
    for (d, content) in [(&a, in_a), (&b, in_b)] {
        std::fs::write(d.join("conflict"), content).expect("write");
        support::annex(d, &["add", "-q", "conflict"]);
        support::git(d, &["commit", "-q", "-m", "conflict"]);
    }
    for d in [&a, &b, &a] {
        support::annex(d, &["sync", "-q", "--no-content"]);
    }
    let t = tree(&a);
    assert_eq!(t, tree(&b), "the reference's sync left the pair apart");
    t
}

#[test]
fn two_assistants_resolve_a_conflict_as_sync_does() {
    let (in_a, in_b) = ("written in a\n", "written in b\n");
    let expected = as_sync_resolves(in_a, in_b);
    assert!(
        expected
            .iter()
            .filter(|f| f.starts_with("conflict.variant-"))
            .count()
            == 2,
        "{expected:?}"
    );

    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = pair(dir.path());
    let da = assistant(&a);
    let db = assistant(&b);
    // The startup work over (each pulled, pushed and got `first`).
    wait_for(60, "the startup content passes", || {
        has_content(&a, "first") && has_content(&b, "first")
    });
    std::thread::sleep(Duration::from_secs(3));
    // The same file made on both sides at once: each daemon commits its
    // own before the other's push comes.
    std::fs::write(a.join("conflict"), in_a).expect("write");
    std::fs::write(b.join("conflict"), in_b).expect("write");
    wait_for(120, "both trees to hold the resolved conflict", || {
        tree(&a) == expected && tree(&b) == expected
    });
    // The variants' content, in both, once the transferrers are done.
    let variants: Vec<&String> = expected
        .iter()
        .filter(|f| f.starts_with("conflict.variant-"))
        .collect();
    wait_for(120, "both variants' content in both", || {
        [&a, &b].iter().all(|d| {
            let mut got: Vec<String> = variants
                .iter()
                .filter_map(|v| std::fs::read_to_string(d.join(v)).ok())
                .collect();
            got.sort();
            got == vec![in_a.to_string(), in_b.to_string()]
        })
    });
    stop(&a, da);
    stop(&b, db);
    for d in [&a, &b] {
        assert_eq!(tree(d), expected);
        assert!(!committed(d, "conflict"));
        fsck_clean(d);
    }
}

/// The repository's transfer information files (not lock files).
fn transfer_infos(d: &Path) -> Vec<std::path::PathBuf> {
    let base = d.join(".git/annex/transfer");
    let mut out = Vec::new();
    for dir in ["upload", "download"] {
        for e in files_under(&base.join(dir)) {
            let name = e.file_name().map(|n| n.to_string_lossy().into_owned());
            if name.is_some_and(|n| !n.starts_with("lck.")) {
                out.push(e);
            }
        }
    }
    out
}

/// The files under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn assistant_killed_mid_transfer_finishes_the_work_when_restarted() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = pair(dir.path());
    // b wants everything (its preferred content), and no daemon runs
    // there: a's sends it.
    support::annex(&b, &["wanted", "here", "anything"]);
    support::annex(&b, &["sync", "-q", "--no-content"]);
    support::annex(&a, &["sync", "-q", "--no-content"]);
    let da = assistant(&a);
    let pid = da.0;
    // Big enough that its upload takes a while.
    let content: Vec<u8> = (0..150_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(a.join("big"), &content).expect("write");
    let b_uuid = support::git(&b, &["config", "annex.uuid"])
        .trim()
        .to_string();
    let upload_dir = a.join(".git/annex/transfer/upload").join(&b_uuid);
    // Killed as soon as the upload has started (looked for often: the
    // upload takes a fraction of a second).
    let end = std::time::Instant::now() + Duration::from_secs(120);
    while !files_under(&upload_dir).iter().any(|p| {
        p.file_name()
            .is_some_and(|n| !n.to_string_lossy().starts_with("lck."))
    }) {
        assert!(std::time::Instant::now() < end, "the upload did not start");
        std::thread::sleep(Duration::from_millis(2));
    }
    let st = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(st.success());
    wait_for(20, "the daemon to die", || !alive(pid));
    std::mem::forget(da);
    let key = support::git(&a, &["show", "HEAD:big"])
        .trim()
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_string();
    let in_b = || {
        let out = support::annex_output(&b, &["contentlocation", &key], None);
        out.status.success()
    };
    assert!(!in_b(), "the upload was over before the kill");
    // What the killed daemon left: its pid file, the transfer's files.
    assert_eq!(daemon_pid(&a), Some(pid));
    let restarted = assistant(&a);
    wait_for(180, "the upload, after the restart", in_b);
    // Recorded, and the location log pushed to b.
    wait_for(60, "b known to have big", || {
        support::annex(&a, &["find", "--in", "b", "big"]) == "big\n"
    });
    stop(&a, restarted);
    // Nothing lost, nothing left that blocks a transfer.
    assert_eq!(std::fs::read(a.join("big")).expect("read"), content);
    let loc = support::annex(&b, &["contentlocation", &key]);
    assert_eq!(
        std::fs::read(b.join(loc.trim())).expect("b's copy"),
        content
    );
    assert!(transfer_infos(&a).is_empty(), "{:?}", transfer_infos(&a));
    // The interrupted upload's temporary file went with its completion.
    assert!(!b.join(".git/annex/tmp").join(&key).exists());
    fsck_clean(&a);
    let out = support::annex_output(&b, &["fsck", "--all", "--quiet"], None);
    assert!(out.status.success(), "reference fsck --all in b: {out:?}");
}
