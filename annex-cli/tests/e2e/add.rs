//! End-to-end tests: `add`, `unlock`, `lock`, `fromkey`, and the
//! smudge/clean filter, each checked against the reference git-annex run
//! on an identical tree.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use crate::{ours, ours_with, support};

/// A git repository initialized by the reference, with a tree of files.
fn tree() -> tempfile::TempDir {
    let dir = support::new_git_repo();
    let p = dir.path();
    support::annex(p, &["init", "-q"]);
    fs::create_dir_all(p.join("d/e/f/g/h")).unwrap();
    fs::write(p.join("a"), "hello\n").unwrap();
    fs::write(p.join("d/e/f/g/h/deep.txt"), "deep\n").unwrap();
    fs::write(p.join("d/b"), "bee\n").unwrap();
    fs::write(p.join("empty"), "").unwrap();
    fs::write(p.join("ünï cödé"), "unicode\n").unwrap();
    fs::write(p.join("x.tar.gz"), "tgz\n").unwrap();
    fs::write(p.join("s"), "s\n").unwrap();
    fs::write(p.join(".hidden"), "dot\n").unwrap();
    fs::write(p.join("ignored"), "ign\n").unwrap();
    fs::write(p.join(".gitignore"), "ignored\n").unwrap();
    fs::write(p.join("script"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(p.join("script"), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", p.join("outside")).unwrap();
    dir
}

/// Stdout without the reference's progress meter (which it draws even
/// when stdout is not a terminal; we draw none): `add f \n\r100% ...\r
/// \rok` becomes `add f ok`.
fn normalize(out: &[u8]) -> String {
    let s = String::from_utf8_lossy(out).into_owned();
    let mut res = String::new();
    let mut rest = s.as_str();
    while let Some(i) = rest.find(" \n") {
        let (head, tail) = rest.split_at(i + 1);
        res.push_str(head);
        let tail = &tail[1..];
        // A meter: up to the last \r before the next line end.
        let line_end = tail.find('\n').unwrap_or(tail.len());
        match tail[..line_end].rfind('\r') {
            Some(j) => rest = &tail[j + 1..],
            None => rest = tail,
        }
    }
    res.push_str(rest);
    res
}

/// What must be the same after both sides worked: the staged entries,
/// link targets, the keys in location logs, and git status.
fn snapshot(p: &Path) -> String {
    let mut s = support::git(p, &["ls-files", "-s"]);
    for line in support::git(p, &["ls-files", "-z"]).split('\0') {
        if let Ok(t) = fs::read_link(p.join(line)) {
            s.push_str(&format!("{line} -> {}\n", t.display()));
        }
    }
    let logs = support::git(p, &["ls-tree", "-r", "--name-only", "git-annex"]);
    for l in logs
        .lines()
        .filter(|l| l.ends_with(".log") && l.contains("--"))
    {
        let content = support::git(p, &["show", &format!("git-annex:{l}")]);
        // Timestamp and UUID differ; the status does not.
        let status: Vec<&str> = content
            .lines()
            .filter_map(|x| x.split(' ').nth(1))
            .collect();
        s.push_str(&format!("{l}: {status:?}\n"));
    }
    s.push_str(&support::git(p, &["status", "--porcelain"]));
    s
}

fn check(out: &Output) {
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `add ARGS` with both on identical trees; compares output and
/// state; returns our tree.
fn same_add(args: &[&str], stdin: Option<&[u8]>) -> tempfile::TempDir {
    let a = tree();
    let b = tree();
    let mut full = vec!["add"];
    full.extend_from_slice(args);
    let theirs = support::annex_output(a.path(), &full, stdin);
    let mine = ours_with(b.path(), &full, stdin);
    assert_eq!(
        mine.status.code(),
        theirs.status.code(),
        "{args:?}: {mine:?}"
    );
    assert_eq!(
        normalize(&mine.stdout),
        normalize(&theirs.stdout),
        "stdout of add {args:?}"
    );
    assert_eq!(
        snapshot(b.path()),
        snapshot(a.path()),
        "state after add {args:?}"
    );
    b
}

#[test]
fn add_matches_the_reference() {
    let b = same_add(&[], None);
    // What we added passes the reference's fsck.
    check(&support::annex_output(b.path(), &["fsck"], None));
    // Adding again is a no-op, for both.
    let again = ours(b.path(), &["add"]);
    check(&again);
    assert_eq!(String::from_utf8_lossy(&again.stdout), "");
}

#[test]
fn add_json_and_options_match_the_reference() {
    same_add(&["--json"], None);
    same_add(&["--json-progress"], None);
    same_add(&["--json", "d", "a", "ignored"], None);
    same_add(&["-c", "annex.largefiles=largerthan=2b"], None);
    same_add(&["-c", "annex.dotfiles=true", "--json"], None);
    same_add(&["--force-small", "--json", "a"], None);
    same_add(&["--force-large", "s"], None);
    same_add(&["--force", "--json"], None);
    same_add(&["-c", "annex.addunlocked=true", "--json"], None);
    same_add(&["-c", "annex.addunlocked=include=*.gz", "--json"], None);
}

#[test]
fn add_missing_file_fails_as_the_reference() {
    for json in [false, true] {
        let args: &[&str] = if json {
            &["--json", "nope", "a"]
        } else {
            &["nope", "a"]
        };
        let b = same_add(args, None);
        let out = ours(b.path(), &["add", "nope"]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("nope not found"), "{err}");
        assert!(err.ends_with("add: 1 failed\n"), "{err}");
    }
}

#[test]
fn add_batch_matches_the_reference() {
    same_add(&["--batch"], Some(b"a\nnope\n.hidden\nignored\nd/b\n"));
    same_add(&["--batch", "--json"], Some(b"a\nnope\nd/b\n"));
    same_add(&["--batch", "-z", "--json"], Some(b"a\0d/b\0"));
}

#[test]
fn add_in_parallel_gives_the_same_state() {
    let a = tree();
    let b = tree();
    support::annex(a.path(), &["add", "-q"]);
    check(&ours(b.path(), &["add", "-J3", "--json"]));
    assert_eq!(snapshot(b.path()), snapshot(a.path()));
}

#[test]
fn modified_unlocked_file_is_added_again() {
    let a = tree();
    let b = tree();
    for (dir, mine) in [(a.path(), false), (b.path(), true)] {
        support::annex(dir, &["add", "-q", "a"]);
        support::git(dir, &["commit", "-q", "-m", "a"]);
        support::annex(dir, &["unlock", "a"]);
        fs::write(dir.join("a"), "changed\n").unwrap();
        let out = if mine {
            ours(dir, &["add", "--json", "a"])
        } else {
            support::annex_output(dir, &["add", "--json", "a"], None)
        };
        check(&out);
    }
    let l = |p: &Path| support::git(p, &["ls-files", "-s", "a"]);
    assert_eq!(l(b.path()), l(a.path()));
    check(&support::annex_output(b.path(), &["fsck"], None));
}

#[test]
fn unlock_and_lock_match_the_reference() {
    let a = tree();
    let b = tree();
    for dir in [a.path(), b.path()] {
        support::annex(dir, &["add", "-q"]);
        support::git(dir, &["commit", "-q", "-m", "add"]);
    }
    let both = |args: &[&str]| {
        let theirs = support::annex_output(a.path(), args, None);
        let mine = ours(b.path(), args);
        assert_eq!(
            mine.status.code(),
            theirs.status.code(),
            "{args:?}: {mine:?}"
        );
        assert_eq!(
            String::from_utf8_lossy(&mine.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "{args:?}"
        );
        assert_eq!(snapshot(b.path()), snapshot(a.path()), "{args:?}");
    };
    both(&["unlock", "--json", "a", "d"]);
    both(&["unlock", "ünï cödé"]);
    both(&["unlock", "a"]);
    for dir in [a.path(), b.path()] {
        fs::write(dir.join("d/b"), "modified\n").unwrap();
    }
    both(&["lock", "--json", "d/b"]);
    both(&["lock", "d/b", "a"]);
    both(&["lock", "--json", "--force", "d/b"]);
    check(&support::annex_output(b.path(), &["fsck"], None));

    // The reference locks what we unlocked, and we lock what it unlocked.
    check(&ours(b.path(), &["unlock", "a"]));
    check(&support::annex_output(b.path(), &["lock", "a"], None));
    check(&support::annex_output(b.path(), &["unlock", "a"], None));
    check(&ours(b.path(), &["lock", "a"]));
    assert!(
        fs::symlink_metadata(b.path().join("a"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    check(&support::annex_output(b.path(), &["fsck"], None));
}

#[test]
fn fromkey_matches_the_reference() {
    let a = tree();
    let b = tree();
    for dir in [a.path(), b.path()] {
        support::annex(dir, &["add", "-q", "a"]);
    }
    let key = support::annex(a.path(), &["lookupkey", "a"]);
    let key = key.trim();
    let both = |args: &[&str]| {
        let theirs = support::annex_output(a.path(), args, None);
        let mine = ours(b.path(), args);
        assert_eq!(
            mine.status.code(),
            theirs.status.code(),
            "{args:?}: {mine:?}"
        );
        assert_eq!(
            String::from_utf8_lossy(&mine.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "{args:?}"
        );
        assert_eq!(snapshot(b.path()), snapshot(a.path()), "{args:?}");
    };
    both(&["fromkey", key, "n1"]);
    both(&["fromkey", "--json", key, "sub/dir/n2"]);
    both(&["fromkey", key, "n1"]);
    both(&["fromkey", key, "s"]);
    both(&["fromkey", "SHA256E-s3--0000", "n3"]);
    both(&["fromkey", "--force", "SHA256E-s3--0000", "n3"]);
    check(&support::annex_output(b.path(), &["fsck", "n1"], None));
}

#[test]
fn reference_gets_and_drops_what_we_added_and_we_add_what_it_gets() {
    let origin = tree();
    check(&ours(origin.path(), &["add"]));
    support::git(origin.path(), &["commit", "-q", "-m", "ours"]);
    let clone = tempfile::tempdir().unwrap();
    let c = clone.path().join("c");
    support::git(
        clone.path(),
        &["clone", "-q", origin.path().to_str().unwrap(), "c"],
    );
    support::annex(&c, &["init", "-q", "clone"]);
    check(&support::annex_output(&c, &["get", "a", "d"], None));
    assert_eq!(fs::read_to_string(c.join("a")).unwrap(), "hello\n");
    check(&support::annex_output(&c, &["drop", "a"], None));
    check(&support::annex_output(&c, &["get", "a"], None));
    check(&support::annex_output(&c, &["fsck"], None));
    // Back in the origin, the reference sees the clone's copy.
    support::annex(&c, &["sync", "-q", "--no-content"]);
    let whereis = support::annex(origin.path(), &["whereis", "--json", "a"]);
    assert!(whereis.contains("clone"), "{whereis}");
    check(&support::annex_output(origin.path(), &["fsck"], None));
}

#[test]
fn git_add_and_checkout_through_our_filter_process() {
    let dir = tree();
    let p = dir.path();
    let bin = env!("CARGO_BIN_EXE_git-annex-rs");
    support::git(
        p,
        &[
            "config",
            "filter.annex.process",
            &format!("{bin} filter-process"),
        ],
    );
    support::git(p, &["config", "annex.largefiles", "largerthan=4b"]);
    fs::write(p.join("big"), "a large file\n").unwrap();
    support::git(p, &["add", "big", "s"]);
    // The large file is staged as a pointer, the small one as itself.
    let key = support::annex(p, &["calckey", "big"]);
    let key = key.trim();
    let staged = support::git(p, &["cat-file", "-p", ":big"]);
    assert_eq!(staged, format!("/annex/objects/{key}\n"));
    assert_eq!(support::git(p, &["cat-file", "-p", ":s"]), "s\n");
    support::git(p, &["commit", "-q", "-m", "filtered"]);
    // Content in the store and logged present: the reference agrees.
    let fsck = support::annex_output(p, &["fsck", "big"], None);
    check(&fsck);
    let whereis = support::annex(p, &["whereis", "big"]);
    assert!(whereis.contains("(1 copy)"), "{whereis}");
    // Checkout puts the content in place.
    fs::remove_file(p.join("big")).unwrap();
    support::git(p, &["checkout", "big"]);
    assert_eq!(fs::read_to_string(p.join("big")).unwrap(), "a large file\n");
    assert_eq!(
        support::git(p, &["status", "--porcelain"])
            .lines()
            .filter(|l| l.contains("big"))
            .count(),
        0
    );
    // Without the content, checkout leaves the pointer.
    check(&support::annex_output(p, &["drop", "--force", "big"], None));
    fs::remove_file(p.join("big")).unwrap();
    support::git(p, &["checkout", "big"]);
    assert_eq!(fs::read_to_string(p.join("big")).unwrap(), staged);

    // The one-shot filters give the same answers.
    let clean = ours_with(p, &["smudge", "--clean", "--", "s"], Some(b"s\n"));
    check(&clean);
    assert_eq!(clean.stdout, b"s\n");
    let smudge = ours_with(p, &["smudge", "--", "big"], Some(staged.as_bytes()));
    check(&smudge);
    assert_eq!(smudge.stdout, staged.as_bytes());
}

/// A file written to all the time while `add` runs (a writer with the
/// file open, which lockdown's removal of write bits cannot stop) is not
/// ingested: `add` warns, fails for it, and leaves it a regular file with
/// nothing in the store; the other file is added.
#[test]
fn a_file_written_during_add_is_not_ingested() {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tree();
    let p = dir.path().to_path_buf();
    // Large enough that hashing takes a while, so the writer, writing
    // without pause, is sure to change it meanwhile.
    fs::write(p.join("busy"), vec![b'x'; 32 << 20]).unwrap();
    let mut writer = fs::OpenOptions::new()
        .append(true)
        .open(p.join("busy"))
        .unwrap();
    let done = AtomicBool::new(false);
    let out = std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                writer.write_all(b"more\n").unwrap();
            }
        });
        let out = ours(&p, &["add", "--json", "busy", "a"]);
        done.store(true, Ordering::Relaxed);
        out
    });
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert_eq!(lines[0]["file"], "busy");
    assert_eq!(lines[0]["success"], false);
    assert_eq!(lines[1]["file"], "a");
    assert_eq!(lines[1]["success"], true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("busy changed while it was being added"),
        "{stderr}"
    );
    assert!(fs::symlink_metadata(p.join("busy")).unwrap().is_file());
    // Only `a`'s content is in the store, and nothing is left in othertmp.
    let objects = support::git(&p, &["ls-files", "-s"]);
    assert!(!objects.contains("busy"), "{objects}");
    let count = |d: &Path| fs::read_dir(d).map(|r| r.count()).unwrap_or(0);
    assert_eq!(count(&p.join(".git/annex/othertmp")), 0);
    check(&support::annex_output(&p, &["fsck"], None));
}

/// `annex.largefiles` and `annex.backend` from `.gitattributes`.
#[test]
fn gitattributes_decide_as_for_the_reference() {
    let a = tree();
    let b = tree();
    for dir in [a.path(), b.path()] {
        fs::write(
            dir.join(".gitattributes"),
            "*.txt annex.largefiles=nothing\n*.gz annex.backend=MD5E\n",
        )
        .unwrap();
    }
    let theirs = support::annex_output(a.path(), &["add", "--json"], None);
    let mine = ours(b.path(), &["add", "--json"]);
    check(&mine);
    assert_eq!(
        String::from_utf8_lossy(&mine.stdout),
        String::from_utf8_lossy(&theirs.stdout)
    );
    assert_eq!(snapshot(b.path()), snapshot(a.path()));
    // git config overrides .gitattributes.
    let a = tree();
    let b = tree();
    for dir in [a.path(), b.path()] {
        fs::write(dir.join(".gitattributes"), "* annex.largefiles=nothing\n").unwrap();
    }
    let args = ["add", "-c", "annex.largefiles=anything", "--json"];
    let theirs = support::annex_output(a.path(), &args, None);
    let mine = ours(b.path(), &args);
    assert_eq!(
        String::from_utf8_lossy(&mine.stdout),
        String::from_utf8_lossy(&theirs.stdout)
    );
    assert_eq!(snapshot(b.path()), snapshot(a.path()));
}

/// Regression: a file's `annex.backend` attribute wins over git config's
/// `annex.backend` (git-annex's `chooseBackend`), for `git annex add` and
/// for the clean filter of `git add` (which used git config alone).
#[test]
fn backend_attribute_overrides_git_config_for_add_and_clean_filter() {
    let a = tree();
    let b = tree();
    for dir in [a.path(), b.path()] {
        fs::write(dir.join(".gitattributes"), "*.txt annex.backend=SHA1\n").unwrap();
        support::git(dir, &["config", "annex.backend", "MD5E"]);
    }
    let theirs = support::annex_output(a.path(), &["add", "--json"], None);
    let mine = ours(b.path(), &["add", "--json"]);
    check(&mine);
    assert_eq!(
        String::from_utf8_lossy(&mine.stdout),
        String::from_utf8_lossy(&theirs.stdout)
    );
    assert_eq!(snapshot(b.path()), snapshot(a.path()));
    // New unlocked files through `git add`: each side's filter (ours
    // both as the long-running filter process and as the one-shot clean).
    let keys = |dir: &Path, filter: &[String], name: &str| {
        fs::write(dir.join(format!("{name}.txt")), "new text\n").unwrap();
        fs::write(dir.join(format!("{name}.dat")), "new data\n").unwrap();
        let mut args: Vec<String> = vec!["-c".into(), "annex.largefiles=anything".into()];
        args.extend_from_slice(filter);
        let (txt, dat) = (format!("{name}.txt"), format!("{name}.dat"));
        args.extend(["add".into(), txt.clone(), dat.clone()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        support::git(dir, &args);
        support::git(dir, &["show", &format!(":{txt}"), &format!(":{dat}")])
    };
    let theirs = keys(a.path(), &[], "new");
    assert!(theirs.contains("SHA1-s9--"), "{theirs}");
    assert!(theirs.contains("MD5E-s9--"), "{theirs}");
    let bin = env!("CARGO_BIN_EXE_git-annex-rs");
    let process = [
        "-c".to_string(),
        format!("filter.annex.process={bin} filter-process"),
    ];
    assert_eq!(keys(b.path(), &process, "new"), theirs);
    // git runs a `clean` command only when no filter process is set.
    support::git(b.path(), &["config", "--unset", "filter.annex.process"]);
    let one_shot = [
        "-c".to_string(),
        format!("filter.annex.clean={bin} smudge --clean -- %f"),
    ];
    assert_eq!(
        keys(b.path(), &one_shot, "other"),
        keys(a.path(), &[], "other")
    );
}
