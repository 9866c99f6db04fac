//! End-to-end tests of the assistant's syncing (merger, pusher,
//! transferrer) and of the daemon's settings (`annex.autocommit`,
//! `annex.delayadd`, `--autostart`, a stop with changes pending), with
//! the real daemons; where the reference's daemon's behaviour can be
//! observed, it is run the same way and compared.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support;
use crate::watch::{Daemon, alive, committed, daemon_pid, fsck_clean, repo, start, stop, wait_for};

/// Waits for the daemon of `d` to be up with its startup scan done.
fn started(d: &Path) -> Daemon {
    wait_for(30, "the daemon's startup", || {
        daemon_pid(d).is_some_and(alive)
            && std::fs::read_to_string(d.join(".git/annex/daemon.status"))
                .is_ok_and(|s| s.contains("scanComplete:True"))
    });
    Daemon(daemon_pid(d).expect("pid"))
}

/// Starts our assistant in `d`.
pub(crate) fn assistant(d: &Path) -> Daemon {
    let out = crate::ours(d, &["assistant"]);
    assert!(out.status.success(), "assistant: {out:?}");
    started(d)
}

/// Stops the reference's daemon of `d` and waits for it to end.
fn stop_reference(d: &Path, daemon: Daemon) {
    let out = support::annex_output(d, &["watch", "--stop"], None);
    assert!(out.status.success(), "reference watch --stop: {out:?}");
    wait_for(30, "the reference's daemon to stop", || !alive(daemon.0));
}

/// Starts the reference's `COMMAND` (watch or assistant) in `d` and waits
/// for its pid file to name a live process.
fn reference_daemon(d: &Path, command: &str) -> Daemon {
    let out = support::annex_output(d, &[command], None);
    assert!(out.status.success(), "reference {command}: {out:?}");
    wait_for(30, "the reference's daemon", || {
        daemon_pid(d).is_some_and(alive)
    });
    // Its startup scan has no status we can wait on before the first
    // write: give it the time it takes here.
    std::thread::sleep(Duration::from_secs(2));
    Daemon(daemon_pid(d).expect("pid"))
}

/// Whether the content of `file` is present in `d`, as the reference's
/// `find` sees it.
pub(crate) fn has_content(d: &Path, file: &str) -> bool {
    let out = support::annex_output(d, &["find", "--", file], None);
    out.status.success() && String::from_utf8_lossy(&out.stdout) == format!("{file}\n")
}

/// Two repositories, each the other's remote, with a first commit made by
/// the reference (so both have a branch the merger merges into).
pub(crate) fn pair(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let a = dir.join("a");
    let b = dir.join("b");
    std::fs::create_dir(&a).expect("mkdir");
    support::git(&a, &["init", "-q", "-b", "main"]);
    support::annex(&a, &["init", "-q", "a"]);
    std::fs::write(a.join("first"), "first\n").expect("write");
    support::annex(&a, &["add", "-q", "first"]);
    support::git(&a, &["commit", "-q", "-m", "first"]);
    support::git(dir, &["clone", "-q", &a.to_string_lossy(), "b"]);
    support::annex(&b, &["init", "-q", "b"]);
    support::git(&b, &["remote", "rename", "origin", "a"]);
    support::git(&a, &["remote", "add", "b", &b.to_string_lossy()]);
    support::annex(&a, &["sync", "-q", "--no-content"]);
    support::annex(&b, &["sync", "-q", "--no-content"]);
    (a, b)
}

#[test]
fn two_assistants_exchange_files_and_content_both_ways() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = pair(dir.path());
    let da = assistant(&a);
    let db = assistant(&b);
    std::fs::write(a.join("from-a"), "made in a\n").expect("write");
    wait_for(90, "a's file, with its content, in b", || {
        committed(&b, "from-a")
            && has_content(&b, "from-a")
            && std::fs::read_to_string(b.join("from-a")).is_ok_and(|s| s == "made in a\n")
    });
    std::fs::write(b.join("from-b"), "made in b\n").expect("write");
    wait_for(90, "b's file, with its content, in a", || {
        committed(&a, "from-b")
            && has_content(&a, "from-b")
            && std::fs::read_to_string(a.join("from-b")).is_ok_and(|s| s == "made in b\n")
    });
    stop(&a, da);
    stop(&b, db);
    // Both branches hold both files, and the reference finds both
    // repositories sound, each knowing the other has the content.
    for d in [&a, &b] {
        assert!(committed(d, "from-a") && committed(d, "from-b"));
        fsck_clean(d);
        let out = support::annex(d, &["whereis", "--quiet", "from-a", "from-b"]);
        assert!(out.is_empty(), "{out}");
        let copies = support::annex(d, &["find", "--copies=2", "from-a", "from-b"]);
        assert_eq!(copies, "from-a\nfrom-b\n", "in {}", d.display());
    }
}

/// Waits for the startup work of an assistant on one of a [`pair`] (its
/// pull and push of every remote, then its content pass, which sends or
/// gets `first`) to be over, and for the push that follows it: the
/// promise of a merge within a second is for a daemon that is not busy.
fn settled(a: &Path, b: &Path) {
    wait_for(60, "the startup content pass", || {
        has_content(a, "first") && has_content(b, "first")
    });
    std::thread::sleep(Duration::from_secs(4));
}

/// Pushes a new commit from a clone of `d` into `d`'s `synced/main`;
/// returns the commit and when the push ended.
fn push_into(d: &Path, work: &Path) -> (String, Instant) {
    let c = work.join("pusher");
    support::git(work, &["clone", "-q", &d.to_string_lossy(), "pusher"]);
    std::fs::write(c.join("pushed"), "pushed in\n").expect("write");
    support::git(&c, &["add", "pushed"]);
    support::git(&c, &["commit", "-q", "-m", "pushed"]);
    support::git(&c, &["push", "-q", "origin", "main:synced/main"]);
    let at = Instant::now();
    (
        support::git(&c, &["rev-parse", "HEAD"]).trim().to_string(),
        at,
    )
}

fn main_has(d: &Path, commit: &str) -> bool {
    let mut cmd = Command::new("git");
    support::hermetic(&mut cmd).current_dir(d).args([
        "merge-base",
        "--is-ancestor",
        commit,
        "main",
    ]);
    cmd.status().is_ok_and(|s| s.success())
}

#[test]
fn assistant_merges_a_push_into_it_within_a_second() {
    // The reference's assistant merges such a push into its branch.
    let work = tempfile::tempdir().expect("tmp");
    let (r, _) = pair(work.path());
    let daemon = reference_daemon(&r, "assistant");
    let (commit, _) = push_into(&r, work.path());
    wait_for(30, "the reference's merge of the push", || {
        main_has(&r, &commit)
    });
    stop_reference(&r, daemon);

    // Ours does the same, within a second of the push.
    let work = tempfile::tempdir().expect("tmp");
    let (d, peer) = pair(work.path());
    let daemon = assistant(&d);
    settled(&d, &peer);
    let (commit, pushed) = push_into(&d, work.path());
    // The promise is a second; a test allows for a loaded machine (the
    // time is measured, not asserted: docs/performance.md).
    wait_for(30, "our merge of the push", || main_has(&d, &commit));
    eprintln!("merged {:?} after the push", pushed.elapsed());
    // The work tree has the file (a merge, not only the ref moved).
    assert_eq!(
        std::fs::read_to_string(d.join("pushed")).expect("read"),
        "pushed in\n"
    );
    stop(&d, daemon);
    assert!(support::git(&d, &["status", "--porcelain"]).is_empty());
}

#[test]
fn autocommit_false_watches_but_commits_nothing_as_the_reference() {
    for reference in [true, false] {
        let r = repo();
        let d = r.path();
        support::git(d, &["config", "annex.autocommit", "false"]);
        let daemon = if reference {
            reference_daemon(d, "watch")
        } else {
            let out = crate::ours(d, &["watch"]);
            assert!(out.status.success(), "watch: {out:?}");
            started(d)
        };
        std::fs::write(d.join("left"), "left alone\n").expect("write");
        std::thread::sleep(Duration::from_secs(4));
        assert!(alive(daemon.0), "the daemon runs (reference: {reference})");
        assert!(!committed(d, "left"), "committed (reference: {reference})");
        assert_eq!(
            support::git(d, &["status", "--porcelain"]),
            "?? left\n",
            "not even added (reference: {reference})"
        );
        if reference {
            stop_reference(d, daemon);
        } else {
            stop(d, daemon);
        }
    }
}

#[test]
fn delayadd_holds_new_files_back_as_the_reference() {
    for reference in [true, false] {
        let r = repo();
        let d = r.path();
        support::git(d, &["config", "annex.delayadd", "4"]);
        let daemon = if reference {
            reference_daemon(d, "watch")
        } else {
            start(d)
        };
        std::fs::write(d.join("later"), "added later\n").expect("write");
        let written = Instant::now();
        std::thread::sleep(Duration::from_millis(2000));
        assert!(
            !committed(d, "later"),
            "committed before the delay (reference: {reference})"
        );
        wait_for(40, "the delayed commit", || committed(d, "later"));
        assert!(written.elapsed() >= Duration::from_secs(2));
        if reference {
            stop_reference(d, daemon);
        } else {
            stop(d, daemon);
        }
        fsck_clean(d);
    }
}

#[test]
fn stop_commits_what_is_pending() {
    let r = repo();
    let d = r.path();
    // A delay long enough that only the stop can get the file committed.
    support::git(d, &["config", "annex.delayadd", "600"]);
    let daemon = start(d);
    std::fs::write(d.join("pending"), "pending at stop\n").expect("write");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!committed(d, "pending"));
    stop(d, daemon);
    assert!(
        committed(d, "pending"),
        "the pending file was not committed"
    );
    assert!(support::git(d, &["status", "--porcelain"]).is_empty());
    fsck_clean(d);
}

#[test]
fn autostart_starts_and_autostop_stops_as_the_reference() {
    let r = repo();
    let d = r.path().canonicalize().expect("canonical");
    let cfg = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(cfg.path().join("git-annex")).expect("mkdir");
    // A relative line and a duplicate are ignored, as git-annex ignores them.
    std::fs::write(
        cfg.path().join("git-annex/autostart"),
        format!(".\n{0}\n{0}/\n", d.display()),
    )
    .expect("write");
    let run = |ours: bool, args: &[&str]| {
        let mut cmd = if ours {
            Command::new(env!("CARGO_BIN_EXE_git-annex-rs"))
        } else {
            Command::new(support::reference_git_annex())
        };
        support::hermetic(&mut cmd)
            .env("XDG_CONFIG_HOME", cfg.path())
            .current_dir(cfg.path())
            .args(args);
        cmd.output().expect("run")
    };
    let mut outputs = Vec::new();
    for ours in [false, true] {
        let out = run(ours, &["assistant", "--autostart", "--startdelay=1s"]);
        assert!(out.status.success(), "autostart (ours: {ours}): {out:?}");
        wait_for(30, "the autostarted daemon", || {
            daemon_pid(&d).is_some_and(alive)
        });
        let pid = daemon_pid(&d).expect("pid");
        let started = String::from_utf8_lossy(&out.stdout).into_owned();
        let out = run(ours, &["assistant", "--autostop"]);
        assert!(out.status.success(), "autostop (ours: {ours}): {out:?}");
        wait_for(30, "the daemon to stop", || !alive(pid));
        outputs.push((started, String::from_utf8_lossy(&out.stdout).into_owned()));
    }
    assert_eq!(
        outputs[0].0,
        format!("git-annex autostart in {}\nok\n", d.display())
    );
    assert_eq!(outputs[0], outputs[1]);
    // Nothing listed: an error, as the reference's.
    std::fs::write(cfg.path().join("git-annex/autostart"), "").expect("write");
    let theirs = run(false, &["assistant", "--autostart"]);
    let ours = run(true, &["assistant", "--autostart"]);
    assert!(!theirs.status.success() && !ours.status.success());
    let msg = format!(
        "Nothing listed in {}",
        cfg.path().join("git-annex/autostart").display()
    );
    assert!(
        String::from_utf8_lossy(&ours.stderr).contains(&msg),
        "{ours:?}"
    );
    assert!(
        String::from_utf8_lossy(&theirs.stderr).contains(&msg),
        "{theirs:?}"
    );
}

#[test]
fn stress_twenty_thousand_files_all_committed_once() {
    let r = repo();
    let d = r.path().to_path_buf();
    let daemon = start(&d);
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let d = d.clone();
            std::thread::spawn(move || {
                for i in 0..5000 {
                    let dir = d.join(format!("w{w}/d{}", i / 500));
                    if i % 500 == 0 {
                        std::fs::create_dir_all(&dir).expect("mkdir");
                    }
                    std::fs::write(dir.join(format!("f{i}")), format!("{w} {i}\n")).expect("write");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    wait_for(900, "all 20,000 files committed", || {
        let mut cmd = Command::new("git");
        support::hermetic(&mut cmd).current_dir(&d).args([
            "ls-files",
            "--others",
            "--modified",
            "--exclude-standard",
        ]);
        let pending = cmd.output().map(|o| o.stdout.is_empty()).unwrap_or(false);
        pending && support::git(&d, &["diff", "--cached", "--name-only"]).is_empty()
    });
    stop(&d, daemon);
    let tree = support::git(&d, &["ls-tree", "-r", "--name-only", "HEAD"]);
    assert_eq!(tree.lines().filter(|l| l.starts_with('w')).count(), 20_000);
    let added = support::git(&d, &["log", "--diff-filter=A", "--name-only", "--format="]);
    let mut names: Vec<&str> = added.lines().filter(|l| !l.is_empty()).collect();
    let n = names.len();
    names.sort();
    names.dedup();
    assert_eq!((n, names.len()), (20_000, 20_000), "each file added once");
    for (w, i) in [(0, 0), (1, 2499), (3, 4999)] {
        let p = format!("w{w}/d{}/f{i}", i / 500);
        let want = format!("{w} {i}\n");
        assert_eq!(std::fs::read_to_string(d.join(&p)).expect("read"), want);
        let ptr = support::git(&d, &["show", &format!("HEAD:{p}")]);
        assert!(ptr.contains(&format!("-s{}--", want.len())), "{p}: {ptr}");
    }
}

/// The path of the remote daemon: a fetch that updates `refs/remotes/*`
/// (no push into us) is merged as it lands.
#[test]
fn assistant_merges_a_fetch_as_it_lands() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = pair(dir.path());
    let daemon = assistant(&b);
    settled(&a, &b);
    std::fs::write(a.join("fetched"), "fetched in\n").expect("write");
    support::annex(&a, &["add", "-q", "fetched"]);
    support::git(&a, &["commit", "-q", "-m", "to fetch"]);
    let commit = support::git(&a, &["rev-parse", "HEAD"]).trim().to_string();
    // The assistant's remote daemon sees a's new commit too and may be
    // fetching it at this very moment: git then refuses one of the two
    // fetches its ref lock ("cannot lock ref"), so ours is tried again.
    let mut tries = 0;
    loop {
        let mut cmd = Command::new("git");
        support::hermetic(&mut cmd)
            .current_dir(&b)
            .args(["fetch", "-q", "a"]);
        let out = cmd.output().expect("git fetch");
        if out.status.success() {
            break;
        }
        tries += 1;
        assert!(
            tries < 5,
            "git fetch: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let fetched = Instant::now();
    wait_for(30, "our merge of the fetch", || main_has(&b, &commit));
    eprintln!("merged {:?} after the fetch", fetched.elapsed());
    assert!(b.join("fetched").symlink_metadata().is_ok());
    stop(&b, daemon);
}

/// A push that failed is retried on its own (no new commit needed) once
/// the remote takes it again.
#[test]
fn assistant_retries_a_failed_push() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = pair(dir.path());
    // b refuses any update of synced/main while the ref's lock is there.
    let lock = b.join(".git/refs/heads/synced/main.lock");
    std::fs::create_dir_all(lock.parent().expect("parent")).expect("mkdir");
    std::fs::write(&lock, "").expect("lock");
    let daemon = assistant(&a);
    std::fs::write(a.join("retried"), "pushed at last\n").expect("write");
    wait_for(30, "the commit", || committed(&a, "retried"));
    let has_it = || {
        let mut cmd = Command::new("git");
        support::hermetic(&mut cmd).current_dir(&b).args([
            "ls-tree",
            "--name-only",
            "refs/heads/synced/main",
            "retried",
        ]);
        cmd.output()
            .is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
    };
    // The push fails while the lock is there.
    std::thread::sleep(Duration::from_secs(5));
    assert!(!has_it(), "pushed through the lock");
    std::fs::remove_file(&lock).expect("unlock");
    wait_for(60, "the retried push", has_it);
    stop(&a, daemon);
}

/// The assistant runs the remote daemon: a commit made in a remote (a
/// repository on this machine, its refs watched) is fetched and merged
/// with no pull, push or fetch asked for here.
#[test]
fn assistant_learns_of_a_remotes_commit_through_the_remote_daemon() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = pair(dir.path());
    let daemon = assistant(&b);
    settled(&a, &b);
    std::fs::write(a.join("elsewhere"), "made in a\n").expect("write");
    support::annex(&a, &["add", "-q", "elsewhere"]);
    support::git(&a, &["commit", "-q", "-m", "made in a"]);
    let commit = support::git(&a, &["rev-parse", "HEAD"]).trim().to_string();
    let made = Instant::now();
    wait_for(60, "a's commit merged in b", || main_has(&b, &commit));
    eprintln!("merged {:?} after the commit", made.elapsed());
    assert!(b.join("elsewhere").symlink_metadata().is_ok());
    let log = std::fs::read_to_string(b.join(".git/annex/daemon.log")).expect("daemon.log");
    assert!(log.contains("remotedaemon: DONESYNCING"), "{log}");
    stop(&b, daemon);
}

/// Runs `PROGRAM watch --foreground` in a fresh repository, stops it with
/// `--stop` once it is up, and returns how it ended.
fn foreground_then_stop(program: &Path) -> std::process::ExitStatus {
    let r = repo();
    let d = r.path();
    let mut cmd = Command::new(program);
    support::hermetic(&mut cmd)
        .current_dir(d)
        .args(["watch", "--foreground"])
        .stdin(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("spawn the daemon");
    let guard = Daemon(child.id() as i32);
    wait_for(30, "the daemon's pid file", || {
        daemon_pid(d).is_some_and(|p| p == guard.0)
    });
    std::thread::sleep(Duration::from_secs(1));
    let out = crate::ours(d, &["watch", "--stop"]);
    assert!(out.status.success(), "watch --stop: {out:?}");
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(st) = child.try_wait().expect("wait") {
            std::mem::forget(guard);
            return st;
        }
        assert!(Instant::now() < end, "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Regression: after `--stop` our daemon ended by the signal it was sent,
/// where the reference's exits 0.
#[test]
fn watch_stop_ends_the_daemon_with_the_references_exit_status() {
    let reference = foreground_then_stop(support::reference_git_annex());
    let ours = foreground_then_stop(Path::new(env!("CARGO_BIN_EXE_git-annex-rs")));
    assert_eq!(reference.code(), Some(0), "the reference: {reference:?}");
    assert_eq!(ours.code(), reference.code(), "ours: {ours:?}");
}

/// Another process (a small python) running a download of `key` from
/// `from` (a UUID) in the repository `d`, holding its locks and its
/// information file as git-annex does, until [`HeldTransfer::end`].
struct HeldTransfer {
    child: std::process::Child,
    input: std::process::ChildStdin,
}

impl HeldTransfer {
    fn download(d: &Path, from: &str, key: &str) -> HeldTransfer {
        use std::io::BufRead;
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(
                "import fcntl,os,sys\n\
                 b,u,k=sys.argv[1:4]\n\
                 os.makedirs(b+'/download/lck',exist_ok=True)\n\
                 os.makedirs(b+'/download/'+u,exist_ok=True)\n\
                 l=open(b+'/download/lck/lck.'+k,'w')\n\
                 fcntl.lockf(l,fcntl.LOCK_EX)\n\
                 o=open(b+'/download/'+u+'/lck.'+k,'w')\n\
                 fcntl.lockf(o,fcntl.LOCK_EX)\n\
                 open(b+'/download/'+u+'/'+k,'w').write('1s\\nfirst\\n')\n\
                 print('started',flush=True)\n\
                 sys.stdin.readline()\n\
                 for f in [b+'/download/'+u+'/'+k,b+'/download/'+u+'/lck.'+k,b+'/download/lck/lck.'+k]:\n os.remove(f)\n",
            )
            .arg(d.join(".git/annex/transfer"))
            .arg(from)
            .arg(key)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        assert_eq!(line.trim(), "started");
        let input = child.stdin.take().expect("stdin");
        HeldTransfer { child, input }
    }

    fn end(mut self) {
        use std::io::Write;
        writeln!(self.input).expect("tell the transfer to end");
        let st = self.child.wait().expect("wait");
        assert!(st.success(), "the held transfer: {st:?}");
    }
}

impl Drop for HeldTransfer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The transfer watcher: while another process downloads a key here, the
/// assistant starts no transfer of that key (it would be refused, and
/// nothing would try again) but moves the others (regression: the whole
/// content pass waited for any other process's transfer); once that
/// transfer is over, it gets the content itself.
#[test]
fn assistant_leaves_only_the_key_another_process_transfers_then_gets_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = pair(dir.path());
    std::fs::write(a.join("second"), "second\n").expect("write");
    support::annex(&a, &["add", "-q", "second"]);
    support::git(&a, &["commit", "-q", "-m", "second"]);
    support::annex(&b, &["sync", "-q", "--no-content"]);
    let key = support::annex(&b, &["lookupkey", "first"])
        .trim()
        .to_string();
    let a_uuid = support::git(&a, &["config", "annex.uuid"])
        .trim()
        .to_string();
    assert!(!has_content(&b, "first"));
    assert!(!has_content(&b, "second"));
    let held = HeldTransfer::download(&b, &a_uuid, &key);
    let db = assistant(&b);
    let log = b.join(".git/annex/daemon.log");
    wait_for(
        30,
        "the transferrer to leave the other transfer's key",
        || {
            std::fs::read_to_string(&log).is_ok_and(|s| {
                s.contains("leaving for later 1 key(s) other processes are transferring")
            })
        },
    );
    wait_for(60, "the other file's content, meanwhile", || {
        has_content(&b, "second")
    });
    assert!(!has_content(&b, "first"), "got while another process did");
    let said = std::fs::read_to_string(&log).expect("log");
    assert!(!said.contains("transfer already in progress"), "{said}");
    held.end();
    wait_for(60, "the content, once the other transfer ended", || {
        has_content(&b, "first")
    });
    stop(&b, db);
    fsck_clean(&b);
}
