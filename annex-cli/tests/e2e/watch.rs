//! End-to-end tests of `watch` and `assistant`: the real daemon started on a temporary
//! repository, changes made while it runs, the commits awaited with a
//! bounded poll, then `--stop`; the reference's `fsck` checks the result,
//! and the reference's daemon and ours see each other's pid file lock.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support;

/// Polls `check` every 100 ms for up to `secs` seconds.
pub(crate) fn wait_for(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

pub(crate) fn repo() -> tempfile::TempDir {
    let d = support::new_git_repo();
    let out = crate::ours(d.path(), &["init", "watched"]);
    assert!(out.status.success(), "init: {out:?}");
    d
}

/// The daemon's pid, from its pid file.
pub(crate) fn daemon_pid(d: &Path) -> Option<i32> {
    std::fs::read_to_string(d.join(".git/annex/daemon.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

pub(crate) fn alive(pid: i32) -> bool {
    // A zombie is gone for our purposes, once no thread of it holds a
    // lock any more (a thread group's leader is a zombie while its other
    // threads still exit).
    let running = std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    });
    let locking = std::fs::read_to_string("/proc/locks").is_ok_and(|l| {
        l.lines()
            .any(|line| line.split_whitespace().nth(4) == Some(&pid.to_string()))
    });
    running || locking
}

/// A daemon a test started: stopped with `SIGTERM` when the test ends
/// early (a failed assertion), so no daemon outlives its test.
pub(crate) struct Daemon(pub(crate) i32);

impl Drop for Daemon {
    fn drop(&mut self) {
        if alive(self.0) {
            let _ = Command::new("kill").arg(self.0.to_string()).status();
        }
    }
}

/// Starts our daemon and waits until its pid file names a live process
/// and its startup scan is complete.
pub(crate) fn start(d: &Path) -> Daemon {
    start_in(d, d)
}

/// [`start`], run in `cwd` (the top of `d` or a directory of it).
pub(crate) fn start_in(d: &Path, cwd: &Path) -> Daemon {
    let out = crate::ours(cwd, &["watch"]);
    assert!(out.status.success(), "watch: {out:?}");
    wait_for(20, "the daemon's startup", || {
        daemon_pid(d).is_some_and(alive)
            && std::fs::read_to_string(d.join(".git/annex/daemon.status"))
                .is_ok_and(|s| s.contains("scanComplete:True"))
    });
    Daemon(daemon_pid(d).expect("pid"))
}

pub(crate) fn stop(d: &Path, daemon: Daemon) {
    let pid = daemon.0;
    let out = crate::ours(d, &["watch", "--stop"]);
    assert!(out.status.success(), "watch --stop: {out:?}");
    wait_for(20, "the daemon to stop", || !alive(pid));
}

/// The daemon's commits (subjects `git-annex in ...`).
fn daemon_commits(d: &Path) -> Vec<String> {
    support::git(d, &["log", "--format=%H %s"])
        .lines()
        .filter(|l| l.ends_with(" git-annex in watched"))
        .map(|l| l.split(' ').next().unwrap_or("").to_string())
        .collect()
}

/// Whether HEAD (once there is one) has `path`.
pub(crate) fn committed(d: &Path, path: &str) -> bool {
    let mut cmd = Command::new("git");
    support::hermetic(&mut cmd).current_dir(d).args([
        "ls-tree",
        "-r",
        "--name-only",
        "HEAD",
        "--",
        path,
    ]);
    cmd.output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
}

pub(crate) fn fsck_clean(d: &Path) {
    let out = support::annex_output(d, &["fsck", "--quiet"], None);
    assert!(out.status.success(), "reference fsck: {out:?}");
}

#[test]
fn watch_commits_a_burst_as_one_commit_then_edits_deletes_and_renames() {
    let r = repo();
    let d = r.path();
    let pid = start(d);
    for i in 0..30 {
        std::fs::write(d.join(format!("f{i}")), format!("content {i}\n")).expect("write");
    }
    std::fs::create_dir_all(d.join("sub")).expect("mkdir");
    std::fs::write(d.join("sub/inner"), "inner\n").expect("write");
    std::fs::write(d.join(".gitignore"), "ignored*\n").expect("write");
    std::fs::write(d.join("ignored1"), "not for git\n").expect("write");
    wait_for(30, "the burst's commit", || {
        committed(d, "f29") && committed(d, "sub/inner") && committed(d, ".gitignore")
    });
    let commits = daemon_commits(d);
    assert_eq!(commits.len(), 1, "one commit for the burst: {commits:?}");
    assert!(!committed(d, "ignored1"), "gitignored files are left alone");
    // Added unlocked, as the reference's assistant adds; .gitignore to git.
    let ptr = support::git(d, &["show", "HEAD:f0"]);
    assert!(ptr.starts_with("/annex/objects/SHA256E-"), "{ptr}");
    assert_eq!(support::git(d, &["show", "HEAD:.gitignore"]), "ignored*\n");

    // An edit, a deletion and a rename.
    std::fs::write(d.join("f1"), "changed\n").expect("write");
    std::fs::remove_file(d.join("f2")).expect("rm");
    std::fs::rename(d.join("f3"), d.join("sub/f3")).expect("mv");
    wait_for(30, "the edit's commit", || {
        committed(d, "sub/f3") && !committed(d, "f2") && !committed(d, "f3") && {
            let p = support::git(d, &["show", "HEAD:f1"]);
            p.contains("-s8--")
        }
    });
    // A whole directory deleted.
    std::fs::remove_dir_all(d.join("sub")).expect("rm -r");
    wait_for(30, "the directory's removal", || !committed(d, "sub"));
    stop(d, pid);
    assert_eq!(
        support::git(d, &["status", "--porcelain", "--untracked-files=no"]),
        ""
    );
    fsck_clean(d);
}

#[test]
fn watch_startup_scan_finds_what_changed_while_stopped() {
    let r = repo();
    let d = r.path();
    std::fs::write(d.join("kept"), "kept\n").expect("write");
    std::fs::write(d.join("gone"), "gone\n").expect("write");
    let pid = start(d);
    wait_for(30, "the first commit", || {
        committed(d, "kept") && committed(d, "gone")
    });
    stop(d, pid);
    std::fs::write(d.join("new"), "new\n").expect("write");
    std::fs::remove_file(d.join("gone")).expect("rm");
    std::fs::write(d.join("kept"), "kept, edited\n").expect("write");
    let pid = start(d);
    wait_for(30, "the scan's commit", || {
        committed(d, "new")
            && !committed(d, "gone")
            && support::git(d, &["show", "HEAD:kept"]).contains("-s13--")
    });
    stop(d, pid);
    fsck_clean(d);
}

#[test]
fn watch_does_not_ingest_a_file_still_open_for_writing() {
    let r = repo();
    let d = r.path();
    let pid = start(d);
    let mut slow = std::fs::File::create(d.join("slow")).expect("create");
    slow.write_all(b"first half\n").expect("write");
    slow.flush().expect("flush");
    // A file written after the slow one was opened, committed while the
    // slow one is still open: the slow one must not be in that commit.
    std::fs::write(d.join("marker"), "marker\n").expect("write");
    wait_for(30, "the marker's commit", || committed(d, "marker"));
    // A few more of the committer's rounds while the writer is open.
    let log = d.join(".git/annex/daemon.log");
    let rounds = Instant::now();
    wait_for(10, "three seconds with the writer open", || {
        rounds.elapsed() > Duration::from_secs(3)
    });
    assert!(
        !committed(d, "slow"),
        "a file open for writing was committed"
    );
    slow.write_all(b"second half\n").expect("write");
    drop(slow);
    wait_for(30, "the slow file's commit", || committed(d, "slow"));
    let ptr = support::git(d, &["show", "HEAD:slow"]);
    assert!(ptr.contains("-s23--"), "the whole file, not half: {ptr}");
    stop(d, pid);
    fsck_clean(d);
    assert!(log.exists());
}

#[test]
fn watch_pid_lock_interoperates_with_the_reference() {
    let r = repo();
    let d = r.path();
    // Ours running: the reference refuses a second daemon and stops ours.
    let pid = start(d);
    let out = support::annex_output(d, &["watch"], None);
    assert!(!out.status.success(), "reference started a second daemon");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Daemon is already running."),
        "{out:?}"
    );
    let out = support::annex_output(d, &["watch", "--stop"], None);
    assert!(out.status.success(), "{out:?}");
    wait_for(20, "the reference to stop our daemon", || !alive(pid.0));

    // The reference's running: ours refuses and stops it.
    let out = support::annex_output(d, &["watch"], None);
    assert!(out.status.success(), "{out:?}");
    wait_for(30, "the reference's daemon", || {
        daemon_pid(d).is_some_and(alive)
    });
    let theirs = Daemon(daemon_pid(d).expect("pid"));
    // The reference writes its pid file before locking fully: wait until
    // the lock is seen.
    wait_for(20, "the reference's lock", || {
        let out = crate::ours(d, &["watch"]);
        !out.status.success()
            && String::from_utf8_lossy(&out.stderr).contains("Daemon is already running.")
    });
    stop(d, theirs);
}

#[test]
fn watch_log_is_rotated_at_each_start() {
    let r = repo();
    let d = r.path();
    let pid = start(d);
    stop(d, pid);
    let pid = start(d);
    stop(d, pid);
    assert!(d.join(".git/annex/daemon.log").exists());
    assert!(d.join(".git/annex/daemon.log.1").exists());
    let status = std::fs::read_to_string(d.join(".git/annex/daemon.status")).expect("status");
    let fields: Vec<&str> = status
        .lines()
        .map(|l| l.split(':').next().unwrap_or(""))
        .collect();
    assert_eq!(
        fields,
        [
            "lastRunning",
            "scanComplete",
            "sanityCheckRunning",
            "lastSanityCheck"
        ]
    );
}

#[test]
fn watch_reports_the_inotify_watch_limit_and_keeps_watching() {
    let r = repo();
    let d = r.path();
    for i in 0..8 {
        std::fs::create_dir_all(d.join(format!("dir{i}/deeper"))).expect("mkdir");
    }
    // A user namespace of our own, where the watch limit can be lowered
    // without privileges; the daemon runs there in the foreground.
    let mut cmd = Command::new("unshare");
    support::hermetic(&mut cmd)
        .current_dir(d)
        .args(["-Ur", "sh", "-c"])
        .arg("echo 4 > /proc/sys/user/max_inotify_watches && exec \"$0\" watch --foreground")
        .arg(env!("CARGO_BIN_EXE_git-annex-rs"));
    let mut process = cmd.spawn().expect("unshare");
    let mut child = Daemon(process.id() as i32);
    let log = d.join(".git/annex/daemon.log");
    wait_for(30, "the limit's message", || {
        std::fs::read_to_string(&log).is_ok_and(|s| {
            s.contains("Too many directories to watch! (Not watching")
                && s.contains("fs.inotify.max_user_watches")
        })
    });
    // Still watching the directories it could watch: the top.
    std::fs::write(d.join("top-file"), "x\n").expect("write");
    wait_for(30, "a commit after the limit was hit", || {
        committed(d, "top-file")
    });
    let out = crate::ours(d, &["watch", "--stop"]);
    assert!(out.status.success(), "{out:?}");
    let st = process.wait().expect("wait");
    // As the reference's daemon: `--stop` (SIGTERM) ends it with 0.
    assert!(st.success(), "the daemon exits 0 after --stop: {st:?}");
    child.0 = 0;
}

#[test]
fn watch_never_stages_a_key_for_content_the_file_no_longer_has() {
    // A file rewritten in place and replaced by rename, over and over,
    // while the daemon adds it: whatever it ingests and stages must be a
    // key whose content is what was hashed, and the last version must end
    // up committed.
    let r = repo();
    let d = r.path();
    let pid = start(d);
    let hot = d.join("hot");
    let tmp = d.join(".git/hot.tmp");
    // Big enough that hashing takes a while, rewritten a few times a
    // second (slower than a burst, so the committer adds meanwhile).
    let mut last = String::new();
    for i in 0..16 {
        last = format!("version {i}\n{}", "x".repeat(4_000_000 + i * 7));
        if i % 2 == 0 {
            std::fs::write(&tmp, &last).expect("write");
            std::fs::rename(&tmp, &hot).expect("rename");
        } else {
            std::fs::write(&hot, &last).expect("rewrite");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let size = format!("-s{}--", last.len());
    wait_for(30, "the last version's commit", || {
        committed(d, "hot") && support::git(d, &["show", "HEAD:hot"]).contains(&size)
    });
    stop(d, pid);
    assert_eq!(std::fs::read_to_string(&hot).expect("read"), last);
    let key = support::git(d, &["show", "HEAD:hot"])
        .trim()
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_string();
    let loc = support::annex(d, &["contentlocation", &key]);
    assert_eq!(
        std::fs::read_to_string(d.join(loc.trim())).expect("object"),
        last
    );
    let out = support::annex_output(d, &["fsck", "--all", "--quiet"], None);
    assert!(out.status.success(), "reference fsck --all: {out:?}");
}

#[test]
fn assistant_syncs_each_commit_and_its_content_to_the_remote() {
    let origin = support::new_git_repo();
    support::annex(origin.path(), &["init", "-q", "origin"]);
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("clone");
    support::git(
        dir.path(),
        &["clone", "-q", &origin.path().to_string_lossy(), "clone"],
    );
    let out = crate::ours(&d, &["init", "watched"]);
    assert!(out.status.success(), "{out:?}");
    let out = crate::ours(&d, &["assistant"]);
    assert!(out.status.success(), "assistant: {out:?}");
    wait_for(20, "the assistant's startup", || {
        daemon_pid(&d).is_some_and(alive)
            && std::fs::read_to_string(d.join(".git/annex/daemon.status"))
                .is_ok_and(|s| s.contains("scanComplete:True"))
    });
    let daemon = Daemon(daemon_pid(&d).expect("pid"));
    std::fs::write(d.join("shared"), "for the remote\n").expect("write");
    // The commit reaches origin's synced branch, and the content origin's
    // store, as the reference sees them.
    let pushed = || {
        let heads = support::git(
            origin.path(),
            &["for-each-ref", "--format=%(refname)", "refs/heads"],
        );
        heads.lines().any(|h| {
            support::git(origin.path(), &["ls-tree", "-r", "--name-only", h]) == "shared\n"
        })
    };
    // The commit is pushed (to `main` or `synced/main`, as sync pushes)
    // and the content is in origin's store, as the reference sees it.
    wait_for(60, "the file's commit and content in origin", || {
        let out = support::annex_output(&d, &["find", "--in", "origin"], None);
        String::from_utf8_lossy(&out.stdout) == "shared\n" && pushed()
    });
    stop(&d, daemon);
    let out = support::annex_output(origin.path(), &["fsck", "--quiet", "--all"], None);
    assert!(out.status.success(), "reference fsck in origin: {out:?}");
}

#[test]
fn watch_stages_directories_moved_in_and_out_of_the_tree() {
    let r = repo();
    let d = r.path();
    let outside = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(d.join("leaving/deep")).expect("mkdir");
    std::fs::write(d.join("leaving/deep/f"), "leaving\n").expect("write");
    std::fs::create_dir_all(outside.path().join("arriving/deep")).expect("mkdir");
    std::fs::write(outside.path().join("arriving/deep/g"), "arriving\n").expect("write");
    let daemon = start(d);
    wait_for(30, "the first commit", || committed(d, "leaving/deep/f"));
    std::fs::rename(d.join("leaving"), outside.path().join("left")).expect("mv out");
    std::fs::rename(outside.path().join("arriving"), d.join("arrived")).expect("mv in");
    wait_for(30, "the moves' commit", || {
        !committed(d, "leaving") && committed(d, "arrived/deep/g")
    });
    // The directory moved in is watched: a file made in it is added.
    std::fs::write(d.join("arrived/deep/h"), "later\n").expect("write");
    wait_for(30, "a file in the moved-in directory", || {
        committed(d, "arrived/deep/h")
    });
    stop(d, daemon);
    fsck_clean(d);
}

#[test]
fn watch_commits_each_file_of_four_writers_once_with_its_final_content() {
    let r = repo();
    let d = r.path().to_path_buf();
    let daemon = start(&d);
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let d = d.clone();
            std::thread::spawn(move || {
                let dir = d.join(format!("w{w}"));
                std::fs::create_dir_all(&dir).expect("mkdir");
                for i in 0..250 {
                    let p = dir.join(format!("f{i}"));
                    std::fs::write(&p, "first\n").expect("write");
                    std::fs::write(&p, format!("final {w} {i}\n")).expect("rewrite");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    wait_for(120, "every file committed with its final content", || {
        let mut cmd = Command::new("git");
        support::hermetic(&mut cmd)
            .current_dir(&d)
            .args(["ls-tree", "-r", "HEAD"]);
        cmd.output().is_ok_and(|o| {
            let s = String::from_utf8_lossy(&o.stdout);
            s.lines().filter(|l| l.contains("/f")).count() == 1000
                && support::git(&d, &["status", "--porcelain"]).is_empty()
        })
    });
    stop(&d, daemon);
    let added = support::git(&d, &["log", "--diff-filter=A", "--name-only", "--format="]);
    let mut names: Vec<&str> = added.lines().filter(|l| !l.is_empty()).collect();
    let n = names.len();
    names.sort();
    names.dedup();
    assert_eq!((n, names.len()), (1000, 1000), "each file added once");
    for w in 0..4 {
        for i in [0, 249] {
            let p = format!("w{w}/f{i}");
            let want = format!("final {w} {i}\n");
            assert_eq!(std::fs::read_to_string(d.join(&p)).expect("read"), want);
            let ptr = support::git(&d, &["show", &format!("HEAD:{p}")]);
            assert!(ptr.contains(&format!("-s{}--", want.len())), "{p}: {ptr}");
        }
    }
    let out = support::annex_output(&d, &["fsck", "--all", "--quiet"], None);
    assert!(out.status.success(), "reference fsck --all: {out:?}");
}

/// Regression: started in a subdirectory, the daemon gave `add` paths
/// from the top as if they were from where it was started.
#[test]
fn watch_started_in_a_subdirectory_adds_the_whole_tree() {
    let r = repo();
    let d = r.path();
    std::fs::create_dir(d.join("sub")).expect("mkdir");
    let pid = start_in(d, &d.join("sub"));
    std::fs::write(d.join("at-top"), "top\n").expect("write");
    std::fs::write(d.join("sub/inside"), "inside\n").expect("write");
    wait_for(30, "both files committed", || {
        committed(d, "at-top") && committed(d, "sub/inside")
    });
    stop(d, pid);
    fsck_clean(d);
}

/// Shows that files written and removed at once, before the daemon could
/// add them, are never committed: the daemon stays alive, nothing is left
/// staged or untracked, and the reference's `fsck` is clean.
#[test]
fn watch_file_written_and_removed_at_once_is_never_committed() {
    let r = repo();
    let d = r.path();
    let daemon = start(d);
    for i in 0..20 {
        let p = d.join(format!("flash{i}"));
        std::fs::write(&p, format!("gone at once {i}\n")).expect("write");
        std::fs::remove_file(&p).expect("rm");
    }
    std::fs::write(d.join("marker"), "marker\n").expect("write");
    wait_for(30, "the marker's commit", || committed(d, "marker"));
    for i in 0..20 {
        assert!(
            !committed(d, &format!("flash{i}")),
            "flash{i} was committed"
        );
    }
    assert!(alive(daemon.0), "the daemon died");
    assert_eq!(support::git(d, &["status", "--porcelain"]), "");
    stop(d, daemon);
    fsck_clean(d);
}

/// Shows that a symlink removed at once, before it is processed, is not
/// committed (nor does it stop the daemon), while a plain symlink that
/// stays is committed as a git symlink with its target as it is.
#[test]
fn watch_commits_plain_symlinks_and_not_vanished_ones() {
    let r = repo();
    let d = r.path();
    let daemon = start(d);
    std::os::unix::fs::symlink("nowhere", d.join("dl")).expect("symlink");
    std::fs::remove_file(d.join("dl")).expect("rm");
    std::os::unix::fs::symlink("target", d.join("kept")).expect("symlink");
    std::fs::write(d.join("marker"), "marker\n").expect("write");
    wait_for(30, "the marker's and the symlink's commit", || {
        committed(d, "marker") && committed(d, "kept")
    });
    assert!(!committed(d, "dl"), "the vanished symlink was committed");
    assert!(alive(daemon.0), "the daemon died");
    let staged = support::git(d, &["ls-files", "-s", "kept"]);
    assert!(staged.starts_with("120000 "), "{staged}");
    assert_eq!(support::git(d, &["show", "HEAD:kept"]), "target");
    assert_eq!(
        std::fs::read_link(d.join("kept")).expect("readlink"),
        Path::new("target")
    );
    stop(d, daemon);
    assert_eq!(support::git(d, &["status", "--porcelain"]), "");
}

/// Shows that with `annex.dotfiles=true` the daemon still stages
/// `.gitattributes` and `.gitignore` in git as they are, never annexed,
/// while another dotfile is annexed. The reference's `git annex add`
/// annexes them under `annex.dotfiles=true` (and its watcher skips them),
/// so the exception is the daemon's adder's (`CliAdder`), not `add`'s.
#[test]
fn watch_with_dotfiles_keeps_gitattributes_and_gitignore_in_git() {
    let r = repo();
    let d = r.path();
    support::git(d, &["config", "annex.dotfiles", "true"]);
    let daemon = start(d);
    let attrs = "*.raw -text\n";
    let ignore = "ignored*\n";
    std::fs::write(d.join(".gitattributes"), attrs).expect("write");
    std::fs::write(d.join(".gitignore"), ignore).expect("write");
    std::fs::create_dir(d.join("sub")).expect("mkdir");
    std::fs::write(d.join("sub/.gitignore"), ignore).expect("write");
    std::fs::write(d.join(".other"), "a dotfile\n").expect("write");
    std::fs::write(d.join("marker"), "marker\n").expect("write");
    wait_for(30, "the dotfiles' commit", || {
        [
            ".gitattributes",
            ".gitignore",
            "sub/.gitignore",
            ".other",
            "marker",
        ]
        .iter()
        .all(|p| committed(d, p))
    });
    assert_eq!(support::git(d, &["show", "HEAD:.gitattributes"]), attrs);
    assert_eq!(support::git(d, &["show", "HEAD:.gitignore"]), ignore);
    assert_eq!(support::git(d, &["show", "HEAD:sub/.gitignore"]), ignore);
    let other = support::git(d, &["show", "HEAD:.other"]);
    assert!(other.starts_with("/annex/objects/"), "{other}");
    // Edited, it stays in git.
    let attrs2 = "*.raw -text\n*.bin binary\n";
    std::fs::write(d.join(".gitattributes"), attrs2).expect("write");
    wait_for(30, "the edit's commit", || {
        support::git(d, &["show", "HEAD:.gitattributes"]) == attrs2
    });
    stop(d, daemon);
    assert_eq!(
        std::fs::read_to_string(d.join(".gitattributes")).expect("read"),
        attrs2
    );
    fsck_clean(d);
}

/// Shows that the daemon honours `annex.largefiles`: with
/// `largerthan=10b` a 5-byte file goes to git as it is and a 100-byte
/// file is annexed.
#[test]
fn watch_honours_largefiles() {
    let r = repo();
    let d = r.path();
    support::git(d, &["config", "annex.largefiles", "largerthan=10b"]);
    let daemon = start(d);
    std::fs::write(d.join("small"), "tiny\n").expect("write");
    std::fs::write(d.join("big"), "b".repeat(100)).expect("write");
    wait_for(30, "both files' commit", || {
        committed(d, "small") && committed(d, "big")
    });
    assert_eq!(support::git(d, &["show", "HEAD:small"]), "tiny\n");
    let big = support::git(d, &["show", "HEAD:big"]);
    assert!(big.starts_with("/annex/objects/"), "{big}");
    assert!(big.contains("-s100--"), "{big}");
    stop(d, daemon);
    fsck_clean(d);
}

/// Shows that with `annex.assistant.allowunlocked=true` the daemon
/// follows `annex.addunlocked=false`: a new file is added locked (a
/// symlink in git and in the work tree).
#[test]
fn watch_with_allowunlocked_adds_locked_when_addunlocked_is_false() {
    let r = repo();
    let d = r.path();
    support::git(d, &["config", "annex.assistant.allowunlocked", "true"]);
    support::git(d, &["config", "annex.addunlocked", "false"]);
    let daemon = start(d);
    std::fs::write(d.join("f"), "locked content\n").expect("write");
    wait_for(30, "the file's commit", || committed(d, "f"));
    let staged = support::git(d, &["ls-files", "-s", "f"]);
    assert!(staged.starts_with("120000 "), "{staged}");
    // The work tree's file becomes the symlink (after the commit, at once
    // or nearly: the ingest replaces it before staging).
    let meta = std::fs::symlink_metadata(d.join("f")).expect("stat");
    assert!(meta.file_type().is_symlink(), "{meta:?}");
    assert_eq!(
        std::fs::read_to_string(d.join("f")).expect("read"),
        "locked content\n"
    );
    stop(d, daemon);
    fsck_clean(d);
}

/// Shows, strictly, that a file the daemon added unlocked stays unlocked
/// when edited: after the edit `HEAD:f` is a pointer to the new content's
/// key (its size), the index has `f` as a regular file (mode 100644), and
/// the work tree's `f` is a regular file with the new content.
#[test]
fn watch_unlocked_file_stays_unlocked_when_edited_strict() {
    let r = repo();
    let d = r.path();
    let daemon = start(d);
    std::fs::write(d.join("f"), "first\n").expect("write");
    wait_for(30, "the file's commit", || committed(d, "f"));
    let staged = support::git(d, &["ls-files", "-s", "f"]);
    assert!(staged.starts_with("100644 "), "added unlocked: {staged}");
    let edited = "edited content\n";
    std::fs::write(d.join("f"), edited).expect("write");
    wait_for(30, "the edit's commit", || {
        support::git(d, &["show", "HEAD:f"]).contains(&format!("-s{}--", edited.len()))
    });
    let ptr = support::git(d, &["show", "HEAD:f"]);
    assert!(ptr.starts_with("/annex/objects/"), "{ptr}");
    let staged = support::git(d, &["ls-files", "-s", "f"]);
    assert!(staged.starts_with("100644 "), "still unlocked: {staged}");
    let meta = std::fs::symlink_metadata(d.join("f")).expect("stat");
    assert!(meta.file_type().is_file(), "{meta:?}");
    assert_eq!(std::fs::read_to_string(d.join("f")).expect("read"), edited);
    stop(d, daemon);
    assert_eq!(support::git(d, &["status", "--porcelain"]), "");
    fsck_clean(d);
}

/// Shows that a file another process already has open for writing when
/// the daemon starts is not ingested by the startup scan (a marker
/// written later is committed without it), and that once the writer
/// closes it, it is committed with its whole content.
#[test]
fn watch_startup_scan_skips_a_file_open_for_writing() {
    use std::io::{BufRead, BufReader};
    let r = repo();
    let d = r.path();
    let mut writer = Command::new("python3")
        .current_dir(d)
        .args([
            "-c",
            "import sys\n\
             f = open('slow', 'w')\n\
             f.write('first half\\n'); f.flush()\n\
             print('ready', flush=True)\n\
             sys.stdin.readline()\n\
             f.write('second half\\n'); f.close()\n",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(writer.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read");
    assert_eq!(line, "ready\n");
    let daemon = start(d);
    std::fs::write(d.join("marker"), "marker\n").expect("write");
    wait_for(30, "the marker's commit", || committed(d, "marker"));
    assert!(
        !committed(d, "slow"),
        "a file open for writing was committed by the startup scan"
    );
    writer
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"go\n")
        .expect("write");
    assert!(writer.wait().expect("wait").success());
    wait_for(30, "the slow file's commit", || {
        committed(d, "slow") && support::git(d, &["show", "HEAD:slow"]).contains("-s23--")
    });
    stop(d, daemon);
    assert_eq!(
        std::fs::read_to_string(d.join("slow")).expect("read"),
        "first half\nsecond half\n"
    );
    fsck_clean(d);
}
