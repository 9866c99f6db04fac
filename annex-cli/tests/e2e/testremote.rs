//! `testremote` against the reference: its checks pass on a remote the
//! other implementation set up (directory and external), both show the
//! same groups and checks in the same order (the reference's export tree
//! groups aside: export is not implemented), the same verdicts and exit
//! codes when the remote is broken, and the same refusals.

use std::path::Path;
use std::process::Output;

use crate::special::{Area, ok};

/// What a test runner's output says, each line with its spacing and
/// timing taken out; the reference's export tree groups left out; the
/// summary line apart. Returns (lines, summary, export checks left out).
fn checks(o: &Output) -> (Vec<String>, String, usize) {
    // The reference's runtime now and then prints this in the middle of a
    // check's line (GHC's message for a signal arriving while its handler
    // is being replaced, when its external remote process ends): noise,
    // not a verdict.
    let text =
        String::from_utf8_lossy(&o.stdout).replace("runHandler: couldn't find handler\n", "");
    let mut lines = Vec::new();
    let mut summary = String::new();
    let mut in_export = false;
    let mut export_checks = 0;
    for l in text.lines() {
        if l.trim().is_empty() {
            continue;
        }
        if l.starts_with("All ") || l.contains(" tests failed") {
            summary = l.to_string();
            continue;
        }
        let indent = l.len() - l.trim_start().len();
        if indent == 2 {
            in_export = l.trim_start().starts_with("exporttree=yes");
        }
        if in_export {
            if indent == 4 {
                export_checks += 1;
            }
            continue;
        }
        if indent > 4 {
            // A failure's message: the implementations' words differ.
            continue;
        }
        let mut t = l.trim().to_string();
        if t.ends_with("s)")
            && let Some(i) = t.rfind(" (")
        {
            t.truncate(i);
        }
        let words: Vec<&str> = t.split_whitespace().collect();
        lines.push(format!("{}{}", " ".repeat(indent), words.join(" ")));
    }
    (lines, summary, export_checks)
}

/// The number of checks a summary line counts, and how many failed.
fn counts(summary: &str) -> (usize, usize) {
    let w: Vec<&str> = summary.split_whitespace().collect();
    if summary.starts_with("All ") {
        let n = w[1].parse().expect("count");
        (n, 0)
    } else {
        let failed = w[0].parse().expect("failed");
        let n = w[3].parse().expect("count");
        (n, failed)
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs both implementations' `testremote` with `args` in `repo` and
/// checks that they agree: the same checks in the same order with the
/// same verdicts, the same exit code; returns ours.
fn compare(area: &Area, repo: &Path, args: &[&str]) -> Output {
    let mut a = vec!["testremote"];
    a.extend_from_slice(args);
    let theirs = area.theirs(repo, &a);
    let ours = area.ours(repo, &a);
    let (tl, ts, texport) = checks(&theirs);
    let (ol, os, oexport) = checks(&ours);
    assert_eq!(oexport, 0);
    assert_eq!(
        ol,
        tl,
        "ours:\n{}\n{}\ntheirs:\n{}\n{}",
        stdout(&ours),
        stderr(&ours),
        stdout(&theirs),
        stderr(&theirs)
    );
    let (tn, tf) = counts(&ts);
    let (on, of) = counts(&os);
    assert_eq!(on, tn - texport, "{os} / {ts}");
    assert_eq!(of, tf, "{os} / {ts}");
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "{}",
        stderr(&ours)
    );
    ours
}

/// A repository of the reference's with a directory remote `d` set up by
/// `setup`'s implementation.
fn with_directory_remote(area: &Area, ours_setup: bool) -> std::path::PathBuf {
    let r = area.repo("r");
    let dir = area.path("store");
    std::fs::create_dir(&dir).expect("mkdir");
    let d = format!("directory={}", dir.display());
    let args = ["initremote", "d", "type=directory", &d, "encryption=none"];
    if ours_setup {
        ok(&area.ours(&r, &args));
    } else {
        ok(&area.theirs(&r, &args));
    }
    r
}

#[test]
fn testremote_of_a_directory_remote_passes_both_ways() {
    for ours_setup in [false, true] {
        let area = Area::new();
        let r = with_directory_remote(&area, ours_setup);
        let o = compare(&area, &r, &["d", "--fast", "--size=64KiB"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let (lines, summary, _) = checks(&o);
        assert_eq!(lines[0], "Remote Tests");
        assert_eq!(lines[1], "  unavailable remote");
        assert!(
            lines.contains(
                &"  key size Just 65535; remote chunksize=0 encryption=shared".to_string()
            )
        );
        // 5 unavailable checks, 2 keys x 2 variants x 16.
        assert_eq!(summary.split(' ').nth(1), Some("69"), "{summary}");
        // Nothing left behind: the remote is empty, the keys gone here.
        let left: Vec<_> = walk(&area.path("store"));
        assert!(left.is_empty(), "left in the remote: {left:?}");
        let objects = walk(&r.join(".git/annex/objects"));
        assert!(
            !objects.iter().any(|p| p.contains("this-is-a-test-key")),
            "{objects:?}"
        );
    }
}

/// The files under `dir`, recursively (directories left out).
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}

#[test]
fn testremote_without_fast_tries_every_chunk_size_and_key_size() {
    let area = Area::new();
    let r = with_directory_remote(&area, true);
    // Chunks of 3 bytes (size/100), none (size/1000 is 0), 300.
    let o = compare(&area, &r, &["d", "--size=300"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (lines, _, _) = checks(&o);
    for k in ["300", "301", "299", "600"] {
        for c in ["0", "3", "300"] {
            for e in ["none", "shared"] {
                let g = format!("  key size Just {k}; remote chunksize={c} encryption={e}");
                assert!(lines.contains(&g), "{g} not in {lines:#?}");
            }
        }
    }
}

#[test]
fn testremote_of_an_external_remote_passes_both_ways() {
    for ours_setup in [false, true] {
        let area = Area::new();
        let r = area.repo("r");
        let dir = area.path("ext");
        let d = format!("dir={}", dir.display());
        let args = [
            "initremote",
            "e",
            "type=external",
            "externaltype=pydir",
            &d,
            "encryption=none",
        ];
        if ours_setup {
            ok(&area.ours(&r, &args));
        } else {
            ok(&area.theirs(&r, &args));
        }
        let o = compare(&area, &r, &["e", "--fast", "--size=10KiB"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
}

#[test]
fn testremote_of_a_broken_remote_fails_as_the_references() {
    let area = Area::new();
    let r = with_directory_remote(&area, false);
    // The directory gone: every check that needs it fails, the
    // unavailable remote's pass.
    std::fs::rename(area.path("store"), area.path("gone")).expect("mv");
    let theirs = area.theirs(&r, &["testremote", "d", "--fast", "--size=1KiB"]);
    let ours = area.ours(&r, &["testremote", "d", "--fast", "--size=1KiB"]);
    assert_eq!(ours.status.code(), Some(1));
    assert_eq!(theirs.status.code(), Some(1));
    assert!(
        stderr(&ours).ends_with("testremote: 1 failed\n"),
        "{}",
        stderr(&ours)
    );
    assert!(stderr(&theirs).ends_with("testremote: 1 failed\n"));
    let (ol, os, _) = checks(&ours);
    let (tl, _, _) = checks(&theirs);
    // The unavailable remote's checks pass in both.
    assert_eq!(ol[..7], tl[..7]);
    assert!(ol[2..7].iter().all(|l| l.ends_with(": OK")), "{ol:#?}");
    // Storing fails in both (after the unavailable remote's group).
    let first_store = |l: &[String]| {
        l.iter()
            .skip(7)
            .find(|l| l.starts_with("    storeKey:"))
            .cloned()
    };
    assert_eq!(first_store(&ol), Some("    storeKey: FAIL".to_string()));
    assert_eq!(first_store(&tl), Some("    storeKey: FAIL".to_string()));
    let (_, failed) = counts(&os);
    assert!(failed > 0, "{os}");
}

#[test]
fn testremote_refusals_match_the_references() {
    let area = Area::new();
    let r = with_directory_remote(&area, false);
    // No such remote.
    let theirs = area.theirs(&r, &["testremote", "nosuch"]);
    let ours = area.ours(&r, &["testremote", "nosuch"]);
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(stdout(&ours), stdout(&theirs));
    let last = |o: &Output| {
        stderr(o)
            .lines()
            .map(|l| l.replacen("git-annex-rs:", "git-annex:", 1))
            .collect::<Vec<_>>()
    };
    assert_eq!(last(&ours), last(&theirs));
    // Readonly files that cannot be used.
    for f in ["f", "nofile"] {
        let a = ["testremote", "d", "--test-readonly", f];
        let theirs = area.theirs(&r, &a);
        let ours = area.ours(&r, &a);
        assert_eq!(ours.status.code(), theirs.status.code(), "{f}");
        assert_eq!(last(&ours), last(&theirs), "{f}");
    }
}

#[test]
fn testremote_of_readonly_files_matches_the_reference() {
    let area = Area::new();
    let r = with_directory_remote(&area, false);
    ok(&area.theirs(&r, &["copy", "-q", "f", "--to", "d"]));
    let o = compare(&area, &r, &["d", "--test-readonly=f"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (lines, _, _) = checks(&o);
    assert!(
        lines.contains(&"  key size Just 13; remote".to_string()),
        "{lines:#?}"
    );
    // The file's content is here and in the remote still.
    assert_eq!(
        std::fs::read_to_string(r.join("f")).expect("f"),
        "content of f\n"
    );
    let store = walk(&area.path("store"));
    assert_eq!(store.len(), 1, "{store:?}");
}

#[test]
fn testremote_of_a_shared_encrypted_chunked_remote_passes_both_ways() {
    // The `encryption=shared` variants encrypt with the remote's own
    // cipher; the `none` ones store in the clear; both implementations
    // agree on every check of each.
    for ours_setup in [false, true] {
        let area = Area::new();
        let r = area.repo("r");
        let dir = area.path("store");
        std::fs::create_dir(&dir).expect("mkdir");
        let d = format!("directory={}", dir.display());
        let args = [
            "initremote",
            "d",
            "type=directory",
            &d,
            "encryption=shared",
            "chunk=5KiB",
        ];
        if ours_setup {
            ok(&area.ours(&r, &args));
        } else {
            ok(&area.theirs(&r, &args));
        }
        let o = compare(&area, &r, &["d", "--fast", "--size=12KiB"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
}

#[test]
fn testremote_of_a_local_rsync_remote_passes_both_ways() {
    // `--fast`: chunking of rsync remotes is not ours yet (compat.md).
    for ours_setup in [false, true] {
        let area = Area::new();
        let r = area.repo("r");
        let dir = area.path("rs");
        std::fs::create_dir(&dir).expect("mkdir");
        let u = format!("rsyncurl={}", dir.display());
        let args = ["initremote", "s", "type=rsync", &u, "encryption=none"];
        if ours_setup {
            ok(&area.ours(&r, &args));
        } else {
            ok(&area.theirs(&r, &args));
        }
        let o = compare(&area, &r, &["s", "--fast", "--size=8KiB"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
}

/// `--test-readonly` of `f` after `spoil` did something to the remote's
/// copy of it: testremote fails, and the content here is as it was (the
/// file reads the same, fsck is clean, nothing kept aside is left).
fn readonly_test_keeps_the_content(spoil: &dyn Fn(&Area)) {
    let area = Area::new();
    let r = with_directory_remote(&area, false);
    ok(&area.theirs(&r, &["copy", "-q", "f", "--to", "d"]));
    spoil(&area);
    let o = area.ours(&r, &["testremote", "d", "--test-readonly=f"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert_eq!(
        std::fs::read_to_string(r.join("f")).expect("f"),
        "content of f\n"
    );
    ok(&area.ours(&r, &["fsck", "f"]));
    ok(&area.theirs(&r, &["fsck", "f"]));
    let tmp = walk(&r.join(".git/annex/tmp"));
    assert!(
        tmp.iter().all(|p| !p.contains("testremote-kept")),
        "{tmp:?}"
    );
}

#[test]
fn testremote_readonly_of_content_the_remote_lacks_keeps_the_local_copy() {
    // The location log says the remote has it; it does not.
    readonly_test_keeps_the_content(&|area| {
        for f in walk(&area.path("store")) {
            std::fs::remove_file(f).expect("rm");
        }
    });
}

#[test]
fn testremote_readonly_of_content_the_remote_has_corrupt_keeps_the_local_copy() {
    // The remote has it, with other bytes: the retrieval does not verify.
    readonly_test_keeps_the_content(&|area| {
        let files = walk(&area.path("store"));
        assert_eq!(files.len(), 1, "{files:?}");
        let f = Path::new(&files[0]);
        let mut perm = std::fs::metadata(f).expect("stat").permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        perm.set_readonly(false);
        std::fs::set_permissions(f, perm).expect("chmod");
        std::fs::write(f, "content of g\n").expect("write");
    });
}

#[test]
fn testremote_of_a_readonly_remote_refuses_to_write() {
    let area = Area::new();
    let r = with_directory_remote(&area, false);
    ok(&area.theirs(&r, &["copy", "-q", "f", "--to", "d"]));
    crate::support::git(&r, &["config", "remote.d.annex-readonly", "true"]);
    // (The reference's variants write to it: compat.md says so.)
    let a = ["testremote", "d", "--fast", "--size=1KiB"];
    let ours = area.ours(&r, &a);
    assert_eq!(ours.status.code(), Some(1));
    assert!(
        stderr(&ours)
            .contains("This remote is readonly, so you need to use the --test-readonly option."),
        "{}",
        stderr(&ours)
    );
    // Nothing was stored.
    assert_eq!(walk(&area.path("store")).len(), 1);
    // With --test-readonly it runs, reading only.
    let o = compare(&area, &r, &["d", "--test-readonly=f"]);
    assert!(o.status.success(), "{}", stderr(&o));
}
