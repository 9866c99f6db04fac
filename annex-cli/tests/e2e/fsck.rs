//! End-to-end tests: `fsck` and `unused`, compared with the reference
//! git-annex on copies of the same (broken) repositories: the same output
//! byte for byte, the same exit codes, the same repairs (checked by the
//! reference's own `fsck` afterwards), the same unused lists (which the
//! reference's `dropunused` then uses).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::{ours, support};

/// A directory holding repositories made by the reference, copied whole
/// (`cp -a`) so that the reference and we work on identical states.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    /// `orig`, filled by the reference (locked `a`, `b`, `d/c`, unlocked
    /// `u`), and `clone`, a clone of it (through a relative URL, so copies
    /// stay self-contained) that got `a` and `b`.
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("temp dir");
        let o = dir.path().join("orig");
        std::fs::create_dir(&o).expect("mkdir");
        support::git(&o, &["init", "-q", "-b", "main"]);
        support::annex(&o, &["init", "orig repo"]);
        std::fs::write(o.join("a"), "aaa\n").expect("write");
        std::fs::write(o.join("b"), "bbbb\n").expect("write");
        std::fs::create_dir(o.join("d")).expect("mkdir");
        std::fs::write(o.join("d/c"), "cc\n").expect("write");
        std::fs::write(o.join("u"), "unlocked\n").expect("write");
        support::annex(&o, &["add", "-q", "a", "b", "d", "u"]);
        support::git(&o, &["commit", "-q", "-m", "files"]);
        support::annex(&o, &["unlock", "-q", "u"]);
        support::git(&o, &["commit", "-q", "-m", "unlock"]);
        support::git(dir.path(), &["clone", "-q", "orig", "clone"]);
        let c = dir.path().join("clone");
        // git records the absolute path; a relative one keeps each copy
        // of the fixture pointing at its own origin.
        support::git(&c, &["config", "remote.origin.url", "../orig"]);
        support::annex(&c, &["init", "clone repo"]);
        support::annex(&c, &["get", "-q", "a", "b"]);
        Fixture { dir }
    }

    /// Two copies of the whole fixture: (the reference's, ours).
    fn copies(&self) -> (tempfile::TempDir, tempfile::TempDir) {
        let copy = || {
            let t = tempfile::tempdir().expect("temp dir");
            let out = std::process::Command::new("cp")
                .arg("-a")
                .arg(format!("{}/.", self.dir.path().display()))
                .arg(t.path())
                .output()
                .expect("cp");
            assert!(out.status.success(), "{out:?}");
            t
        };
        (copy(), copy())
    }
}

/// The object file of `file`'s key in the repository `repo`, made writable.
fn object_of(repo: &Path, file: &str) -> PathBuf {
    let key = support::annex(repo, &["lookupkey", file]);
    let loc = support::annex(repo, &["contentlocation", key.trim()]);
    let obj = repo.join(loc.trim());
    let writable = |p: &Path| {
        let mut perm = std::fs::metadata(p).expect("stat").permissions();
        perm.set_mode(perm.mode() | 0o200);
        std::fs::set_permissions(p, perm).expect("chmod");
    };
    writable(obj.parent().expect("key dir"));
    writable(&obj);
    obj
}

fn normalized(out: &Output) -> (String, String, Option<i32>) {
    let clean = |b: &[u8]| String::from_utf8_lossy(b).replace("git-annex-rs:", "git-annex:");
    (clean(&out.stdout), clean(&out.stderr), out.status.code())
}

/// Breaks both copies the same way, runs `args` in `sub` with the
/// reference in one and with us in the other, and checks that everything
/// printed is the same, then that the reference's `fsck` finds the two
/// repositories in the same state. Returns the copies (theirs, ours).
fn compare(
    fixture: &Fixture,
    sub: &str,
    break_it: impl Fn(&Path),
    args: &[&str],
) -> (tempfile::TempDir, tempfile::TempDir) {
    let (theirs, mine) = fixture.copies();
    break_it(&theirs.path().join(sub));
    break_it(&mine.path().join(sub));
    let t = support::annex_output(&theirs.path().join(sub), args, None);
    let o = ours(&mine.path().join(sub), args);
    assert_eq!(
        normalized(&o),
        normalized(&t),
        "{args:?}: ours (left) differs from the reference (right)"
    );
    let after = |d: &Path| normalized(&support::annex_output(&d.join(sub), &["fsck"], None));
    assert_eq!(
        after(mine.path()),
        after(theirs.path()),
        "the reference's fsck after {args:?}: on our repair (left), on its own (right)"
    );
    (theirs, mine)
}

#[test]
fn fsck_of_sound_repositories_matches_the_reference() {
    let f = Fixture::new();
    for args in [
        &["fsck"][..],
        &["fsck", "--fast"],
        &["fsck", "--json"],
        &["fsck", "--fast", "--json"],
        &["fsck", "d"],
        &["fsck", "nosuch"],
        &["fsck", "--all"],
        &["fsck", "--numcopies", "2", "a"],
        &["fsck", "--numcopies", "2", "--json", "a"],
        &["fsck", "--key", "SHA256E-s1--nosuch"],
    ] {
        compare(&f, "orig", |_| {}, args);
    }
    let dead_here = |d: &Path| {
        support::annex(d, &["dead", "here"]);
    };
    compare(&f, "orig", dead_here, &["fsck", "a"]);
}

#[test]
fn fsck_in_a_clone_matches_the_reference() {
    let f = Fixture::new();
    for args in [
        &["fsck"][..],
        &["fsck", "--json"],
        &["fsck", "--numcopies", "2"],
        &["fsck", "--from", "origin"],
        &["fsck", "--from", "origin", "--json"],
        &["fsck", "--from", "nosuch"],
    ] {
        compare(&f, "clone", |_| {}, args);
    }
    // Untrusted and dead copies are listed as the reference lists them.
    let untrust = |d: &Path| {
        support::annex(d, &["untrust", "origin"]);
    };
    compare(&f, "clone", untrust, &["fsck", "--numcopies", "2"]);
    compare(
        &f,
        "clone",
        untrust,
        &["fsck", "--numcopies", "2", "--json"],
    );
    let dead = |d: &Path| {
        support::annex(d, &["dead", "origin"]);
    };
    compare(&f, "clone", dead, &["fsck", "--numcopies", "2"]);
}

#[test]
fn corrupted_object_is_moved_aside() {
    let f = Fixture::new();
    let corrupt = |d: &Path| std::fs::write(object_of(d, "b"), "XXXX\n").expect("write");
    let (_, mine) = compare(&f, "orig", corrupt, &["fsck"]);
    let orig = mine.path().join("orig");
    let key = support::annex(&orig, &["lookupkey", "b"]);
    let bad = orig.join(".git/annex/bad").join(key.trim());
    assert_eq!(std::fs::read(&bad).expect("bad copy kept"), b"XXXX\n");
    // The location log says it is gone: the reference's whereis agrees.
    let w = support::annex_output(&orig, &["whereis", "b"], None);
    assert_eq!(w.status.code(), Some(1), "{w:?}");

    compare(&f, "orig", corrupt, &["fsck", "--json"]);
    compare(&f, "orig", corrupt, &["fsck", "-q"]);
    // --fast does not hash: the same size passes, a different one does not.
    compare(&f, "orig", corrupt, &["fsck", "--fast"]);
    let resized = |d: &Path| std::fs::write(object_of(d, "b"), "XXXXXX\n").expect("write");
    compare(&f, "orig", resized, &["fsck", "--fast"]);

    // In the clone, the other copy in origin keeps the file safe: after
    // our repair, the reference's fsck of the clone passes.
    let corrupt_a = |d: &Path| std::fs::write(object_of(d, "a"), "XXX\n").expect("write");
    let (_, mine) = compare(&f, "clone", corrupt_a, &["fsck"]);
    let fsck = support::annex_output(&mine.path().join("clone"), &["fsck"], None);
    assert!(fsck.status.success(), "{fsck:?}");
}

#[test]
fn missing_object_with_a_stale_location_log_is_corrected() {
    let f = Fixture::new();
    let remove = |d: &Path| std::fs::remove_file(object_of(d, "b")).expect("rm");
    compare(&f, "orig", remove, &["fsck"]);
    compare(&f, "orig", remove, &["fsck", "--json"]);
    compare(
        &f,
        "orig",
        remove,
        &["fsck", "--json", "--json-error-messages"],
    );
    compare(&f, "orig", remove, &["fsck", "--all"]);
    compare(&f, "orig", remove, &["fsck", "--fast", "b"]);
    let (_, mine) = compare(&f, "clone", remove, &["fsck", "b"]);
    // Fixed: the reference's fsck of the clone is clean again.
    let fsck = support::annex_output(&mine.path().join("clone"), &["fsck"], None);
    assert!(fsck.status.success(), "{fsck:?}");
}

#[test]
fn fsck_from_a_remote_on_this_machine() {
    let f = Fixture::new();
    // Same size: a different size makes the reference (10.20261026) fail
    // reading its moved temp copy, a bug not reproduced here.
    let corrupt_c =
        |d: &Path| std::fs::write(object_of(&d.join("../orig"), "d/c"), "XX\n").expect("write");
    let (_, mine) = compare(&f, "clone", corrupt_c, &["fsck", "--from", "origin"]);
    compare(
        &f,
        "clone",
        corrupt_c,
        &["fsck", "--from", "origin", "--json"],
    );
    // The bad copy was kept here and dropped from the remote.
    let c = mine.path().join("clone");
    let key = support::annex(&c, &["lookupkey", "d/c"]);
    assert!(c.join(".git/annex/bad").join(key.trim()).exists());
    let corrupt_a =
        |d: &Path| std::fs::write(object_of(&d.join("../orig"), "a"), "XXX\n").expect("write");
    compare(&f, "clone", corrupt_a, &["fsck", "--from", "origin", "a"]);
    let resized =
        |d: &Path| std::fs::write(object_of(&d.join("../orig"), "a"), "XXXXXXX\n").expect("write");
    compare(
        &f,
        "clone",
        resized,
        &["fsck", "--from", "origin", "--fast"],
    );
    let removed = |d: &Path| std::fs::remove_file(object_of(&d.join("../orig"), "b")).expect("rm");
    compare(&f, "clone", removed, &["fsck", "--from", "origin"]);
}

/// A repository whose content is used in various ways: by branches, tags
/// (light and annotated), a detached HEAD, unlocked files, a file staged
/// but not committed, one committed then removed from the index, an
/// untracked symlink, and content no longer used at all.
fn unused_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let r = dir.path().join("r");
    std::fs::create_dir(&r).expect("mkdir");
    support::git(&r, &["init", "-q", "-b", "main"]);
    support::annex(&r, &["init", "unused repo"]);
    for i in 1..=40 {
        std::fs::write(r.join(format!("f{i}")), format!("content {i}\n")).expect("write");
    }
    support::annex(&r, &["add", "-q", "."]);
    support::git(&r, &["commit", "-q", "-m", "files"]);
    support::annex(&r, &["unlock", "-q", "f1", "f2", "f3"]);
    support::git(&r, &["commit", "-q", "-a", "-m", "unlock"]);
    support::git(&r, &["branch", "keep1"]);
    support::git(&r, &["tag", "v1"]);
    support::git(&r, &["rm", "-q", "f1", "f4", "f5", "f6", "f7", "f8"]);
    support::git(&r, &["commit", "-q", "-m", "rm"]);
    support::git(&r, &["checkout", "-q", "-b", "side"]);
    support::git(&r, &["rm", "-q", "f9", "f10"]);
    support::git(&r, &["commit", "-q", "-m", "side"]);
    support::git(&r, &["checkout", "-q", "main"]);
    support::git(&r, &["rm", "-q", "f11", "f12", "f13"]);
    support::git(&r, &["commit", "-q", "-m", "rm more"]);
    support::git(&r, &["tag", "-a", "-m", "annotated", "v2"]);
    support::git(&r, &["rm", "-q", "f14", "f15"]);
    support::git(&r, &["commit", "-q", "-m", "rm after tag"]);
    std::fs::write(r.join("staged"), "staged only\n").expect("write");
    support::annex(&r, &["add", "-q", "staged"]);
    let link = std::fs::read_link(r.join("f20")).expect("f20 is a link");
    std::os::unix::fs::symlink(link, r.join("untracked-link")).expect("symlink");
    support::git(&r, &["rm", "-q", "--cached", "f20", "f21"]);
    std::fs::write(r.join("f2"), "changed unlocked\n").expect("write");
    support::git(&r, &["add", "f2"]);
    // The journal is committed, so both start alike.
    support::annex(&r, &["numcopies"]);
    dir
}

/// Copies of the unused fixture, the same change in both, `args` run by
/// the reference and by us: the same output and the same lists.
fn compare_unused(
    fixture: &tempfile::TempDir,
    change: impl Fn(&Path),
    args: &[&str],
) -> (tempfile::TempDir, tempfile::TempDir) {
    let copy = || {
        let t = tempfile::tempdir().expect("temp dir");
        let out = std::process::Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", fixture.path().display()))
            .arg(t.path())
            .output()
            .expect("cp");
        assert!(out.status.success(), "{out:?}");
        t
    };
    let (theirs, mine) = (copy(), copy());
    change(&theirs.path().join("r"));
    change(&mine.path().join("r"));
    let t = support::annex_output(&theirs.path().join("r"), args, None);
    let o = ours(&mine.path().join("r"), args);
    assert_eq!(
        normalized(&o),
        normalized(&t),
        "{args:?}: ours (left) differs from the reference (right)"
    );
    // The lists name the same keys with the same numbers (the times differ).
    for list in ["unused", "badunused", "tmpunused"] {
        let read = |d: &Path| {
            std::fs::read_to_string(d.join("r/.git/annex").join(list))
                .unwrap_or_default()
                .lines()
                .map(|l| l.rsplit_once(' ').map_or(l, |(a, _)| a).to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            read(mine.path()),
            read(theirs.path()),
            "{list} after {args:?}"
        );
    }
    (theirs, mine)
}

#[test]
fn unused_matches_the_reference() {
    let fixture = unused_fixture();
    for args in [
        &["unused"][..],
        &["unused", "--json"],
        &["unused", "--fast"],
        &["unused", "--from", "here"],
        &["unused", "--used-refspec", "+HEAD"],
        &[
            "unused",
            "--used-refspec",
            "+refs/tags/v?:+refs/heads/keep1",
        ],
        &["unused", "--used-refspec", "+refs/heads/*:-refs/heads/side"],
        &["unused", "-c", "annex.used-refspec=+refs/heads/main"],
    ] {
        compare_unused(&fixture, |_| {}, args);
    }
    // A bad refspec is a usage error (clap's words, not the reference's).
    let bad = ours(
        fixture.path().join("r").as_path(),
        &["unused", "--used-refspec", "bad"],
    );
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("bad refspec item \"bad\" (expected + or - prefix)"),
        "{bad:?}"
    );
}

#[test]
fn unused_with_fewer_refs_matches_the_reference() {
    let fixture = unused_fixture();
    let detach = |d: &Path| {
        support::git(d, &["checkout", "-q", "--detach", "HEAD~1"]);
    };
    compare_unused(&fixture, detach, &["unused"]);
    let only_main = |d: &Path| {
        support::git(d, &["branch", "-q", "-D", "keep1", "side"]);
        support::git(d, &["tag", "-d", "v1", "v2"]);
    };
    compare_unused(&fixture, only_main, &["unused"]);
    compare_unused(&fixture, only_main, &["unused", "--json"]);
}

#[test]
fn unused_stale_files_and_dropunused() {
    let fixture = unused_fixture();
    let only_main = |d: &Path| {
        support::git(d, &["branch", "-q", "-D", "keep1", "side"]);
        support::git(d, &["tag", "-d", "v1", "v2"]);
    };
    // Stale bad and temp files: those whose key is present are removed,
    // the others listed after the unused keys.
    let stale = |d: &Path| {
        let annex = d.join(".git/annex");
        std::fs::create_dir_all(annex.join("bad")).expect("mkdir");
        std::fs::create_dir_all(annex.join("tmp")).expect("mkdir");
        std::fs::write(annex.join("bad/SHA256E-s2--abc"), "x\n").expect("write");
        std::fs::write(annex.join("tmp/SHA256E-s2--def"), "y\n").expect("write");
        let present = support::annex(d, &["lookupkey", "f30"]);
        std::fs::write(annex.join("tmp").join(present.trim()), "dup\n").expect("write");
    };
    let (_, mine) = compare_unused(&fixture, stale, &["unused"]);
    let r = mine.path().join("r");
    let present = support::annex(&r, &["lookupkey", "f30"]);
    assert!(!r.join(".git/annex/tmp").join(present.trim()).exists());
    compare_unused(&fixture, stale, &["unused", "--json"]);

    // The reference's dropunused works from our list.
    let (_, mine) = compare_unused(&fixture, only_main, &["unused"]);
    let r = mine.path().join("r");
    let list = std::fs::read_to_string(r.join(".git/annex/unused")).expect("unused list");
    let first = list
        .lines()
        .find(|l| l.starts_with("1 "))
        .and_then(|l| l.split(' ').nth(1))
        .expect("key 1")
        .to_string();
    support::annex(&r, &["dropunused", "--force", "1"]);
    let left = ours(&r, &["unused"]);
    assert!(left.status.success(), "{left:?}");
    assert!(!String::from_utf8_lossy(&left.stdout).contains(&first));
}

#[test]
fn numcopies_from_gitattributes_and_worktree_content_fixed() {
    let f = Fixture::new();
    let attrs = |d: &Path| {
        std::fs::write(
            d.join(".gitattributes"),
            "a annex.numcopies=3\nd/* annex.numcopies=0x2\n",
        )
        .expect("write")
    };
    compare(&f, "orig", attrs, &["fsck"]);
    compare(&f, "orig", attrs, &["fsck", "--json"]);
    // --numcopies wins over the attribute.
    compare(&f, "orig", attrs, &["fsck", "--numcopies", "1"]);

    // An unlocked file left as a pointer while its content is present gets
    // its content back.
    let pointer_left = |d: &Path| {
        let key = support::annex(d, &["lookupkey", "u"]);
        let obj = d.join(support::annex(d, &["contentlocation", key.trim()]).trim());
        let saved = std::fs::read(&obj).expect("read object");
        support::annex(d, &["drop", "--force", "-q", "u"]);
        std::fs::create_dir_all(obj.parent().expect("key dir")).expect("mkdir");
        std::fs::write(&obj, saved).expect("restore object");
    };
    let (_, mine) = compare(&f, "orig", pointer_left, &["fsck"]);
    assert_eq!(
        std::fs::read(mine.path().join("orig/u")).expect("read u"),
        b"unlocked\n"
    );
}

#[test]
fn fsck_in_a_bare_repository_and_in_a_subdirectory() {
    let f = Fixture::new();
    let root = f.dir.path();
    support::git(root, &["clone", "-q", "--bare", "orig", "bare.git"]);
    let bare = root.join("bare.git");
    support::annex(&bare, &["init", "bare repo"]);
    let o = root.join("orig");
    support::git(&o, &["remote", "add", "bare", "../bare.git"]);
    support::annex(&o, &["copy", "-q", "--to", "bare", "a", "b", "d"]);
    // Without paths, a bare repository's keys are all checked.
    compare(&f, "bare.git", |_| {}, &["fsck"]);
    compare(&f, "bare.git", |_| {}, &["fsck", "--json"]);
    let corrupt = |d: &Path| {
        let key = support::annex(&d.join("../orig"), &["lookupkey", "b"]);
        let loc = support::annex(d, &["contentlocation", key.trim()]);
        let obj = d.join(loc.trim());
        for p in [obj.parent().expect("key dir"), obj.as_path()] {
            let mut perm = std::fs::metadata(p).expect("stat").permissions();
            perm.set_mode(perm.mode() | 0o200);
            std::fs::set_permissions(p, perm).expect("chmod");
        }
        std::fs::write(&obj, "XXXX\n").expect("write");
    };
    compare(&f, "bare.git", corrupt, &["fsck"]);
    // From a subdirectory, paths (and the bad directory) are shown relative to it.
    let corrupt_b =
        |d: &Path| std::fs::write(object_of(&d.join(".."), "b"), "XXXX\n").expect("write");
    compare(&f, "orig/d", corrupt_b, &["fsck", "../b", "c"]);
}

#[test]
fn dead_keys_are_refused_while_present_and_skipped_once_dead() {
    let f = Fixture::new();
    let key = |d: &Path| support::annex(d, &["lookupkey", "b"]).trim().to_string();
    // Still present: `dead --key` refuses.
    let (_, mine) = compare(
        &f,
        "orig",
        |_| {},
        &[
            "dead",
            "--key",
            "SHA256E-s5--4551db5fd4d56e27be71a8a943070cfaa4342b8e960a326e2d6427b3aa0a5a48",
        ],
    );
    assert_eq!(
        key(&mine.path().join("orig")),
        "SHA256E-s5--4551db5fd4d56e27be71a8a943070cfaa4342b8e960a326e2d6427b3aa0a5a48"
    );
    let dropped = |d: &Path| {
        support::annex(d, &["drop", "--force", "-q", "b"]);
    };
    compare(
        &f,
        "orig",
        dropped,
        &["dead", "--key", &key(&f.dir.path().join("orig")), "--json"],
    );
    // Dead: fsck skips it, with a note.
    let dead = |d: &Path| {
        support::annex(d, &["drop", "--force", "-q", "b"]);
        support::annex(d, &["dead", "--key", &key(d)]);
    };
    compare(&f, "orig", dead, &["fsck"]);
    compare(&f, "orig", dead, &["fsck", "--json"]);
    compare(&f, "orig", dead, &["fsck", "--all"]);
}

#[test]
fn unused_from_a_remote_matches_the_reference() {
    let f = Fixture::new();
    for args in [
        &["unused", "--from", "origin"][..],
        &["unused", "--from", "origin", "--json"],
        &["unused", "--from", "orig repo"],
        &["unused", "--from", "nosuch"],
        &["unused", "--from", "nosuch", "--json"],
        &["unused", "--from", "here"],
    ] {
        compare(&f, "clone", |_| {}, args);
    }
    // b removed in origin's branch, then merged here: origin's copy (and
    // ours) are unused.
    let removed = |d: &Path| {
        let o = d.join("../orig");
        support::git(&o, &["rm", "-q", "b"]);
        support::git(&o, &["commit", "-q", "-m", "rm b"]);
        support::git(d, &["pull", "-q", "--no-rebase", "origin", "main"]);
    };
    compare(&f, "clone", removed, &["unused", "--from", "origin"]);
    compare(
        &f,
        "clone",
        removed,
        &["unused", "--from", "origin", "--json"],
    );
    compare(&f, "clone", removed, &["unused"]);
}
