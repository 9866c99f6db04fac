//! End-to-end regression tests for hostile trees, batch input and settings
//! (issue 21, points 3, 7 and 10): a directory replaced by a symbolic link
//! to the outside, empty batch lines, an unparsable `annex.addunlocked`,
//! a full disk. Each is compared with the reference where it has an answer;
//! where the reference writes outside the repository we refuse, and say so.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::{ours, ours_with, support};

/// Stdout without the reference's progress meter, stderr with its
/// program name, and the exit code.
fn text(o: &Output) -> (String, String, Option<i32>) {
    (
        // Our name for ourselves is in JSON error messages too.
        crate::transfer::strip_meter(&String::from_utf8_lossy(&o.stdout))
            .replace("git-annex-rs:", "git-annex:"),
        String::from_utf8_lossy(&o.stderr).replace("git-annex-rs:", "git-annex:"),
        o.status.code(),
    )
}

/// A repository (initialized by the reference) beside an `out` directory
/// holding `h.txt`, in one temp dir: `(temp dir, repository, outside)`.
fn repo_and_outside(outside_content: &[u8]) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let t = tempfile::tempdir().expect("temp dir");
    let r = t.path().join("r");
    fs::create_dir(&r).expect("mkdir");
    support::git(&r, &["init", "-q", "-b", "main"]);
    support::annex(&r, &["init", "-q"]);
    let out = t.path().join("out");
    fs::create_dir(&out).expect("mkdir");
    fs::write(out.join("h.txt"), outside_content).expect("write");
    (t, r, out)
}

/// `d/h.txt` annexed (unlocked with `unlock`) and committed, then `d`
/// replaced by a symbolic link to the outside directory.
fn annexed_then_linked(
    unlock: bool,
    outside_content: &[u8],
) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let (t, r, out) = repo_and_outside(outside_content);
    fs::create_dir(r.join("d")).expect("mkdir");
    fs::write(r.join("d/h.txt"), "hello\n").expect("write");
    support::annex(&r, &["add", "-q", "d/h.txt"]);
    if unlock {
        support::annex(&r, &["unlock", "-q", "d/h.txt"]);
    }
    support::git(&r, &["commit", "-q", "-m", "add"]);
    fs::remove_dir_all(r.join("d")).expect("rm");
    std::os::unix::fs::symlink("../out", r.join("d")).expect("symlink");
    (t, r, out)
}

/// What the outside directory holds: each entry, its kind and content.
fn outside_state(out: &Path) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = fs::read_dir(out)
        .expect("read dir")
        .map(|e| {
            let p = e.expect("entry").path();
            let m = fs::symlink_metadata(&p).expect("stat");
            let what = if m.file_type().is_symlink() {
                format!("link {}", fs::read_link(&p).expect("readlink").display())
            } else {
                format!(
                    "file {}",
                    String::from_utf8_lossy(&fs::read(&p).expect("read"))
                )
            };
            (
                p.file_name().expect("name").to_string_lossy().into_owned(),
                what,
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn add_moved_a_file_from_outside_the_repository_through_a_symlinked_directory() {
    for args in [
        &["add", "d/h.txt"][..],
        &["add", "--json", "d/h.txt"],
        &["add", "--json", "--json-error-messages", "d/h.txt"],
    ] {
        let (_ta, a, _) = annexed_then_linked(false, b"outside\n");
        let (_tb, b, out) = annexed_then_linked(false, b"outside\n");
        let before = outside_state(&out);
        let theirs = text(&support::annex_output(&a, args, None));
        let mine = text(&ours(&b, args));
        assert_eq!(mine, theirs, "{args:?}");
        assert_eq!(outside_state(&out), before, "{args:?} wrote outside");
    }
    // The directory named: the reference adds the link `d` and then moves
    // the outside file into its store; we add the link and refuse the
    // file, naming it.
    let (_t, r, out) = annexed_then_linked(false, b"outside\n");
    let before = outside_state(&out);
    let o = ours(&r, &["add", "d"]);
    let (stdout, stderr, code) = text(&o);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stdout.starts_with("add d ok\n"), "{stdout}");
    assert!(
        stderr.contains("git-annex: d/h.txt is beyond a symbolic link"),
        "{stderr}"
    );
    assert_eq!(outside_state(&out), before);
    let json = ours(&r, &["add", "--json", "d/h.txt"]);
    assert!(
        String::from_utf8_lossy(&json.stdout).contains("\"message-id\":\"FileBeyondSymbolicLink\""),
        "{json:?}"
    );
}

#[test]
fn add_of_an_untracked_path_beyond_a_symlink_exited_0_silently() {
    let setup = || {
        let (t, r, out) = repo_and_outside(b"outside\n");
        fs::create_dir(r.join("sub")).expect("mkdir");
        std::os::unix::fs::symlink("../../out", r.join("sub/d")).expect("symlink");
        (t, r, out)
    };
    for args in [
        &["add", "sub/d/h.txt"][..],
        &["add", "--json", "sub/d/h.txt", "./sub/d/h.txt"],
        &["add", "sub/d/h.txt", "sub/d/", "sub/d"],
    ] {
        let (_ta, a, _) = setup();
        let (_tb, b, out) = setup();
        let theirs = text(&support::annex_output(&a, args, None));
        let mine = text(&ours(&b, args));
        assert_eq!(mine, theirs, "{args:?}");
        assert_eq!(mine.2, Some(1), "{args:?}");
        assert_eq!(
            outside_state(&out),
            vec![("h.txt".into(), "file outside\n".into())]
        );
    }
}

/// Runs ours and expects a failure naming the path, with nothing written
/// outside.
fn refused(r: &Path, out: &Path, args: &[&str]) {
    let before = outside_state(out);
    let o = ours(r, args);
    let (stdout, stderr, code) = text(&o);
    assert_eq!(code, Some(1), "{args:?}: {stdout}{stderr}");
    assert!(
        stderr.contains("d/h.txt is beyond a symbolic link")
            || stderr.contains("d/new.txt is beyond a symbolic link"),
        "{args:?}: {stderr}"
    );
    assert_eq!(outside_state(out), before, "{args:?} wrote outside");
}

#[test]
fn unlock_lock_drop_and_fromkey_wrote_beyond_a_symlink() {
    // The reference replaces the outside link by the content (unlock),
    // the outside file by a link (lock), the outside file by a pointer
    // (drop of an unlocked file), and makes a link outside (fromkey): we
    // refuse each.
    let (_t, r, out) = annexed_then_linked(false, b"");
    let key = support::annex(&r, &["lookupkey", "d/h.txt"]);
    let key = key.trim().to_string();
    // The outside file is the annex link that was in `d`.
    fs::remove_file(out.join("h.txt")).expect("rm");
    std::os::unix::fs::symlink(
        support::git(&r, &["cat-file", "-p", "HEAD:d/h.txt"]),
        out.join("h.txt"),
    )
    .expect("symlink");
    refused(&r, &out, &["unlock", "d/h.txt"]);
    refused(&r, &out, &["drop", "--force", "d/h.txt"]);
    refused(&r, &out, &["fromkey", "--force", &key, "d/new.txt"]);

    let (_t, r, out) = annexed_then_linked(true, b"hello\n");
    refused(&r, &out, &["lock", "d/h.txt"]);
    refused(&r, &out, &["drop", "--force", "d/h.txt"]);
    refused(&r, &out, &["drop", "--force", "--json", "d/h.txt"]);
    // Nothing was dropped.
    assert!(support::annex(&r, &["whereis", "--key", &key]).contains("[here]"));
}

#[test]
fn fromkey_made_a_link_inside_dot_git() {
    let (_t, r, _) = repo_and_outside(b"x");
    fs::write(r.join("a"), "hello\n").expect("write");
    support::annex(&r, &["add", "-q", "a"]);
    let key = support::annex(&r, &["lookupkey", "a"]);
    for p in [".git/hooks/post-commit", "sub/.GIT/x", "../escape"] {
        let o = ours(&r, &["fromkey", "--force", key.trim(), p]);
        assert_eq!(o.status.code(), Some(1), "{p}: {o:?}");
        assert!(
            !r.join(p).exists() && fs::symlink_metadata(r.join(p)).is_err(),
            "{p} was made"
        );
    }
}

#[test]
fn fsck_filled_an_unlocked_file_beyond_a_symlink() {
    // The outside file is the pointer; the content is present: the
    // reference's fsck "fixes" the outside file with the content.
    let (_t, r, out) = annexed_then_linked(true, b"");
    let pointer = support::git(&r, &["cat-file", "-p", "HEAD:d/h.txt"]);
    fs::write(out.join("h.txt"), &pointer).expect("write");
    let o = ours(&r, &["fsck", "d/h.txt"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        fs::read_to_string(out.join("h.txt")).expect("read"),
        pointer
    );
}

#[test]
fn add_batch_empty_lines_cost_a_work_tree_scan_each() {
    let setup = || {
        let (t, r, _) = repo_and_outside(b"x");
        fs::write(r.join("a"), "a\n").expect("write");
        fs::write(r.join("b"), "b\n").expect("write");
        fs::create_dir(r.join("sub")).expect("mkdir");
        fs::write(r.join("sub/c"), "c\n").expect("write");
        (t, r)
    };
    // The reference answers an empty line (and the top, and a directory)
    // with an empty line; without --force, `git check-ignore` refuses the
    // empty path and the reference stops (`git check-ignore EOF`): we
    // answer it as with --force.
    let input = b"a\n\n.\nsub\n\nb\n";
    let (_ta, a) = setup();
    let (_tb, b) = setup();
    let args = ["add", "--batch", "--force"];
    let theirs = text(&support::annex_output(&a, &args, Some(input)));
    let mine = text(&ours_with(&b, &args, Some(input)));
    assert_eq!(mine, theirs);
    let (_tc, c) = setup();
    let mine = text(&ours_with(&c, &["add", "--batch"], Some(input)));
    assert_eq!(mine.0, theirs.0);
    assert_eq!(mine.2, Some(0));
    // 5,000 empty lines: each was a look at the work tree and a git
    // process (55 s); now nothing.
    let (_td, d) = setup();
    let many = vec![b'\n'; 5000];
    let start = Instant::now();
    let o = ours_with(&d, &["add", "--batch"], Some(&many));
    let took = start.elapsed();
    assert!(o.status.success(), "{o:?}");
    assert_eq!(o.stdout, many);
    assert!(
        took < Duration::from_secs(10),
        "5000 empty lines took {took:?}"
    );
}

#[test]
fn a_bad_addunlocked_was_reported_as_a_bad_largefiles() {
    for v in ["sometimes", "largerthan=foo", "true", "include=*.gz and"] {
        let (_ta, a, _) = repo_and_outside(b"x");
        let (_tb, b, _) = repo_and_outside(b"x");
        for r in [&a, &b] {
            fs::write(r.join("f"), "f\n").expect("write");
        }
        let setting = format!("annex.addunlocked={v}");
        let args = ["add", "-c", &setting, "f"];
        let theirs = text(&support::annex_output(&a, &args, None));
        let mine = text(&ours(&b, &args));
        assert_eq!(mine, theirs, "{v}");
    }
}

/// A tmpfs of `size` mounted on a temp dir while this lives.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let uid = Command::new("id").arg("-u").output().expect("id -u");
        assert_eq!(
            String::from_utf8_lossy(&uid.stdout).trim(),
            "0",
            "this test mounts a small tmpfs (a full disk) and must run as root (CI does)"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount");
        assert!(st.success(), "mount -t tmpfs failed");
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills what is left of the file system.
    fn fill(&self) {
        let f = self.path().join("filler");
        let _ = fs::write(&f, vec![0u8; 8 << 20]);
    }

    fn unfill(&self) {
        fs::remove_file(self.path().join("filler")).expect("rm filler");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_while_adding_was_reported_as_cannot_read() {
    let fs_ = Tmpfs::mount("2m");
    let r = fs_.path().join("r");
    fs::create_dir(&r).expect("mkdir");
    support::git(&r, &["init", "-q", "-b", "main"]);
    assert!(ours(&r, &["init", "-q"]).status.success());
    // Copied to othertmp to be added unlocked: the copy cannot fit.
    fs::write(r.join("big"), vec![7u8; 1200 << 10]).expect("write");
    let o = ours(&r, &["add", "-c", "annex.addunlocked=true", "big"]);
    let (stdout, stderr, code) = text(&o);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(!stderr.contains("cannot read"), "{stderr}");
    assert!(
        stderr.contains("cannot write ")
            && stderr.contains(".git/annex/othertmp/")
            && stderr.contains("No space left on device"),
        "{stderr}"
    );
    // The file is untouched and not added.
    assert_eq!(fs::read(r.join("big")).expect("read").len(), 1200 << 10);
    assert!(support::git(&r, &["status", "--porcelain"]).contains("?? big"));
}

#[test]
fn drop_force_on_a_full_disk_exited_1_after_removing_the_content() {
    let fs_ = Tmpfs::mount("2m");
    let r = fs_.path().join("r");
    fs::create_dir(&r).expect("mkdir");
    support::git(&r, &["init", "-q", "-b", "main"]);
    assert!(ours(&r, &["init", "-q"]).status.success());
    fs::write(r.join("f"), "small\n").expect("write");
    assert!(ours(&r, &["add", "f"]).status.success());
    support::git(&r, &["commit", "-q", "-m", "add"]);
    let key = support::annex(&r, &["lookupkey", "f"]);
    let key = key.trim();
    fs_.fill();
    let o = ours(&r, &["drop", "--force", "f"]);
    let (stdout, stderr, code) = text(&o);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    fs_.unfill();
    let gone = support::annex_output(&r, &["contentlocation", key], None);
    let gone = !gone.status.success();
    if gone {
        // The content went: the message says where the record of it is.
        assert!(
            stderr.contains("recorded in .git/annex/journal"),
            "{stderr}"
        );
    }
    // Whatever went, the log (read by the reference) agrees with the store
    // once the next command commits.
    assert!(ours(&r, &["whereis", "f"]).status.code().is_some());
    let here = || {
        let o = support::annex_output(&r, &["whereis", "--json", "f"], None);
        String::from_utf8_lossy(&o.stdout).contains("\"here\":true")
    };
    let here_now = here();
    assert_eq!(
        here_now, !gone,
        "the log says here={here_now}, content gone={gone}"
    );
    // A rerun finishes the job.
    assert!(ours(&r, &["drop", "--force", "f"]).status.success());
    assert!(!here());
}

#[test]
fn get_filled_an_unlocked_file_beyond_a_symlink() {
    // A clone whose `d` (holding an unlocked file, its pointer) became a
    // link to an outside copy of that pointer file: the reference's get
    // writes the content there; ours gets the content into the store and
    // leaves the outside file alone.
    let t = tempfile::tempdir().expect("temp dir");
    let a = t.path().join("a");
    fs::create_dir(&a).expect("mkdir");
    support::git(&a, &["init", "-q", "-b", "main"]);
    support::annex(&a, &["init", "-q", "a"]);
    fs::create_dir(a.join("d")).expect("mkdir");
    fs::write(a.join("d/h.txt"), "hello\n").expect("write");
    support::annex(&a, &["add", "-q", "d/h.txt"]);
    support::annex(&a, &["unlock", "-q", "d/h.txt"]);
    support::git(&a, &["commit", "-q", "-m", "add"]);
    support::git(t.path(), &["clone", "-q", "a", "b"]);
    let b = t.path().join("b");
    assert!(ours(&b, &["init", "-q", "b"]).status.success());
    let out = t.path().join("out");
    fs::create_dir(&out).expect("mkdir");
    let pointer = fs::read(b.join("d/h.txt")).expect("read");
    fs::write(out.join("h.txt"), &pointer).expect("write");
    fs::remove_dir_all(b.join("d")).expect("rm");
    std::os::unix::fs::symlink("../out", b.join("d")).expect("symlink");
    let o = ours(&b, &["get", "d/h.txt"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(fs::read(out.join("h.txt")).expect("read"), pointer);
}

#[test]
fn add_batch_of_a_path_beyond_a_symlink_stopped_the_run() {
    // The reference: `git check-ignore` dies on the path and git-annex
    // with it (with --force it moves the outside file in). Ours: the line
    // fails, a path outside the repository gets an empty line, and the
    // next lines are added.
    let (_t, r, out) = repo_and_outside(b"outside\n");
    std::os::unix::fs::symlink("../out", r.join("d")).expect("symlink");
    fs::write(r.join("a"), "a\n").expect("write");
    let before = outside_state(&out);
    for args in [
        &["add", "--batch", "--json"][..],
        &["add", "--batch", "--json", "--force"],
    ] {
        let o = ours_with(&r, args, Some(b"d/h.txt\n../out/h.txt\na\n"));
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {o:?}");
        assert_eq!(lines.len(), 3, "{args:?}: {stdout}");
        assert!(
            lines[0].contains("\"message-id\":\"FileBeyondSymbolicLink\"")
                && lines[0].contains("\"success\":false"),
            "{stdout}"
        );
        assert_eq!(lines[1], "");
        assert!(lines[2].contains("\"file\":\"a\""), "{stdout}");
        assert_eq!(outside_state(&out), before, "{args:?} wrote outside");
    }
}
