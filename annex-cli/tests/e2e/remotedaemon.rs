//! `remotedaemon` (issue 15) against the reference, through a real sshd on
//! 127.0.0.1: our daemon watching a remote served by the reference's
//! `git-annex-shell notifychanges`, and the reference's daemon watching
//! one served by ours, say the same control messages in the same form
//! when a third clone pushes, and fetch. Ours also: a remote that goes
//! away and comes back (a bounded, counted number of attempts meanwhile,
//! and what changed fetched on return), `PAUSE`/`RESUME` (no traffic while
//! paused, what changed fetched on resume), `STOP` and EOF leaving no
//! process behind, a local remote watched, malformed control lines.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use crate::support;
use crate::support::sshd::Sshd;

const SERVER_UUID: &str = "aaaaaaaa-0000-0000-0000-00000000000a";

fn ours_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_git-annex-rs"))
}

fn our_shell() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_git-annex-shell"))
}

fn their_shell() -> PathBuf {
    support::reference_git_annex().with_file_name("git-annex-shell")
}

/// A server repository (bare, made by the reference), a clone of it over
/// ssh that the daemon runs in (`w`), and a clone that pushes (`p`).
struct Net {
    top: tempfile::TempDir,
    srv: PathBuf,
    w: PathBuf,
    p: PathBuf,
    /// Counts the ssh commands run through the wrapper (one line each).
    count: PathBuf,
    ssh_command: String,
}

impl Net {
    fn new(sshd: &Sshd, shell: &Path) -> Net {
        let top = tempfile::tempdir().expect("temp dir");
        let srv = top.path().join("srv.git");
        std::fs::create_dir(&srv).expect("mkdir");
        support::git(&srv, &["init", "-q", "--bare", "-b", "main"]);
        support::git(&srv, &["config", "annex.uuid", SERVER_UUID]);
        support::annex(&srv, &["init", "srv"]);
        let seed = top.path().join("seed");
        support::git(
            top.path(),
            &["clone", "-q", srv.to_str().expect("utf-8"), "seed"],
        );
        std::fs::write(seed.join("f"), "one\n").expect("write");
        support::git(&seed, &["add", "f"]);
        support::git(&seed, &["commit", "-q", "-m", "one"]);
        support::git(&seed, &["push", "-q", "origin", "main"]);
        // ssh through a wrapper that counts the connections made.
        let count = top.path().join("ssh-count");
        let wrapper = top.path().join("countssh");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\necho x >> '{}'\nexec ssh \"$@\"\n",
                count.display()
            ),
        )
        .expect("write wrapper");
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
        }
        let ssh_command = sshd
            .ssh_command()
            .replacen("ssh", wrapper.to_str().expect("utf-8"), 1);
        let net = Net {
            srv,
            w: top.path().join("w"),
            p: top.path().join("p"),
            count,
            ssh_command,
            top,
        };
        let url = format!("127.0.0.1:{}", net.srv.display());
        for name in ["w", "p"] {
            net.git_ssh(net.top.path(), &["clone", "-q", &url, name]);
        }
        support::git(
            &net.w,
            &[
                "config",
                "remote.origin.annex-shell",
                shell.to_str().expect("utf-8"),
            ],
        );
        support::git(&net.w, &["config", "remote.origin.annex-uuid", SERVER_UUID]);
        support::annex(&net.w, &["init", "w"]);
        net
    }

    fn env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("GIT_SSH_COMMAND", &self.ssh_command)
            .env("GIT_ANNEX_USE_GIT_SSH", "1")
    }

    fn git_ssh(&self, dir: &Path, args: &[&str]) {
        let mut cmd = Command::new("git");
        support::hermetic(&mut cmd).current_dir(dir).args(args);
        self.env(&mut cmd);
        let out = support::output_with_stdin(cmd, None);
        assert!(out.status.success(), "git {args:?}: {out:?}");
    }

    /// The URI both daemons name the server by.
    fn uri(&self) -> String {
        format!("ssh://127.0.0.1{}", self.srv.display())
    }

    /// A new commit in `p`, pushed to the server (over ssh, or straight
    /// to its path when `direct`); its sha.
    fn push(&self, n: u32, direct: bool) -> String {
        std::fs::write(self.p.join("f"), format!("change {n}\n")).expect("write");
        support::git(
            &self.p,
            &["commit", "-q", "-a", "-m", &format!("change {n}")],
        );
        if direct {
            support::git(
                &self.p,
                &["push", "-q", self.srv.to_str().expect("utf-8"), "main"],
            );
        } else {
            self.git_ssh(&self.p, &["push", "-q", "origin", "main"]);
        }
        support::git(&self.p, &["rev-parse", "HEAD"])
            .trim()
            .to_string()
    }

    fn tracking(&self) -> String {
        support::git(&self.w, &["rev-parse", "refs/remotes/origin/main"])
            .trim()
            .to_string()
    }

    fn ssh_count(&self) -> usize {
        std::fs::read_to_string(&self.count)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }
}

/// A `remotedaemon --foreground` (ours or the reference's) and the lines
/// it says.
struct Daemon {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Daemon {
    fn start(bin: &Path, net: &Net) -> Daemon {
        let mut cmd = Command::new(bin);
        support::hermetic(&mut cmd)
            .current_dir(&net.w)
            .args(["remotedaemon", "--foreground"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        net.env(&mut cmd);
        let mut child = cmd.spawn().expect("run remotedaemon");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines() {
                let Ok(l) = l else { return };
                if tx.send(l).is_err() {
                    return;
                }
            }
        });
        Daemon {
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn send(&mut self, line: &str) {
        let i = self.stdin.as_mut().expect("stdin open");
        i.write_all(format!("{line}\n").as_bytes()).expect("write");
        i.flush().expect("flush");
    }

    /// Reads until a line equal to `want`; panics after `secs`.
    fn expect(&mut self, want: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    let found = l == want;
                    self.seen.push(l);
                    if found {
                        return;
                    }
                }
                Err(e) => panic!("no {want:?} within {secs}s ({e:?}); seen: {:?}", self.seen),
            }
        }
    }

    /// What it says within `d` (for checking that it says nothing).
    fn quiet_for(&mut self, d: Duration) -> Vec<String> {
        let deadline = Instant::now() + d;
        let mut got = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    got.push(l);
                }
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {
                    return got;
                }
            }
        }
    }

    /// Waits for it to exit (within `secs`); everything it said.
    fn finish(mut self, secs: u64) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                assert!(
                    st.success(),
                    "remotedaemon exited with {st}; seen {:?}",
                    self.seen
                );
                break;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "remotedaemon still running after {secs}s; seen {:?}",
                    self.seen
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        while let Ok(l) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.seen.push(l);
        }
        std::mem::take(&mut self.seen)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The processes whose command line names `needle` (the server's path:
/// the ssh client and the `git-annex-shell` it runs there).
fn processes_naming(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        if !e
            .file_name()
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        {
            continue;
        }
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) && cmdline.contains("notifychanges") {
            out.push(cmdline);
        }
    }
    out
}

/// Waits (up to 10 s) until no process names the server.
fn assert_none_left(net: &Net) {
    let needle = net.srv.to_str().expect("utf-8").to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_naming(&needle);
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "processes left behind: {left:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A push from the third clone, watched by `daemon` through `shell`: the
/// messages said (the URI replaced by `URI`), after the fetch is seen.
fn push_watched(sshd: &Sshd, daemon: &Path, shell: &Path) -> Vec<String> {
    let net = Net::new(sshd, shell);
    let uri = net.uri();
    let mut d = Daemon::start(daemon, &net);
    d.expect(&format!("CONNECTED {uri}"), 30);
    // The first report (every ref there) settles before the push.
    let early = d.quiet_for(Duration::from_secs(2));
    assert!(early.is_empty(), "said before any change: {early:?}");
    let sha = net.push(1, false);
    d.expect(&format!("DONESYNCING {uri} 1"), 30);
    assert_eq!(net.tracking(), sha, "the push is fetched");
    d.quiet_for(Duration::from_secs(1));
    d.send("STOP");
    let seen = d.finish(10);
    assert_none_left(&net);
    seen.iter().map(|l| l.replace(&uri, "URI")).collect()
}

/// The reference's daemon with its own shell is the baseline; ours with
/// the reference's shell, and the reference's with ours, say the same.
#[test]
fn remotedaemon_push_is_fetched_and_said_as_the_reference_says_it() {
    let sshd = Sshd::start();
    let reference = support::reference_git_annex();
    let baseline = push_watched(&sshd, reference, &their_shell());
    assert_eq!(
        baseline,
        vec!["CONNECTED URI", "SYNCING URI", "DONESYNCING URI 1"],
        "the reference's baseline"
    );
    let ours_theirs = push_watched(&sshd, ours_bin(), &their_shell());
    assert_eq!(ours_theirs, baseline, "our daemon, the reference's shell");
    let theirs_ours = push_watched(&sshd, reference, &our_shell());
    assert_eq!(theirs_ours, baseline, "the reference's daemon, our shell");
}

/// sshd stopped: `DISCONNECTED` at once, few attempts while it is gone
/// (doubling delays), `CONNECTED` after it returns, and what was pushed
/// meanwhile fetched.
#[test]
fn remotedaemon_reconnects_with_backoff_and_fetches_what_changed_meanwhile() {
    let mut sshd = Sshd::start();
    let net = Net::new(&sshd, &our_shell());
    let uri = net.uri();
    let mut d = Daemon::start(ours_bin(), &net);
    d.expect(&format!("CONNECTED {uri}"), 30);
    d.quiet_for(Duration::from_secs(1));
    sshd.stop();
    d.expect(&format!("DISCONNECTED {uri}"), 10);
    let before = net.ssh_count();
    let down = Duration::from_secs(12);
    let said = d.quiet_for(down);
    let attempts = net.ssh_count() - before;
    // Delays of 1, 2, 4, 8 s (each jittered to half to all of it) fit at
    // most 5 attempts in 12 s; a retry loop without backoff makes many.
    assert!(
        (2..=5).contains(&attempts),
        "{attempts} connection attempts in {down:?} while the remote was gone"
    );
    assert!(said.is_empty(), "DISCONNECTED is said once: {said:?}");
    let sha = net.push(2, true);
    sshd.restart();
    // The next attempt comes within the longest delay so far (16 s).
    d.expect(&format!("CONNECTED {uri}"), 30);
    d.expect(&format!("DONESYNCING {uri} 1"), 20);
    assert_eq!(net.tracking(), sha, "what changed while away is fetched");
    d.send("STOP");
    d.finish(10);
    assert_none_left(&net);
}

/// Nothing is sent while paused (no connection, no message); on resume
/// what changed meanwhile is fetched. EOF on stdin ends it.
#[test]
fn remotedaemon_pause_resume_and_eof() {
    let sshd = Sshd::start();
    let net = Net::new(&sshd, &their_shell());
    let uri = net.uri();
    let mut d = Daemon::start(ours_bin(), &net);
    d.expect(&format!("CONNECTED {uri}"), 30);
    d.quiet_for(Duration::from_secs(1));
    d.send("PAUSE");
    d.expect(&format!("DISCONNECTED {uri}"), 10);
    let before = net.ssh_count();
    let sha = net.push(3, true);
    let said = d.quiet_for(Duration::from_secs(3));
    assert!(said.is_empty(), "said while paused: {said:?}");
    assert_eq!(net.ssh_count(), before, "no connection while paused");
    d.send("RESUME");
    d.expect(&format!("CONNECTED {uri}"), 30);
    d.expect(&format!("SYNCING {uri}"), 20);
    d.expect(&format!("DONESYNCING {uri} 1"), 20);
    assert_eq!(net.tracking(), sha, "what changed while paused is fetched");
    // A malformed line is an error on stderr, not the end.
    d.send("BOGUS 1");
    d.send("PAUSE now");
    let said = d.quiet_for(Duration::from_secs(1));
    assert!(said.is_empty(), "{said:?}");
    // EOF.
    drop(d.stdin.take());
    d.finish(10);
    assert_none_left(&net);
}

/// A remote that is a path here: its refs watched, a push into it fetched.
#[test]
fn remotedaemon_watches_a_local_remote() {
    let top = tempfile::tempdir().expect("temp dir");
    let srv = top.path().join("srv.git");
    std::fs::create_dir(&srv).expect("mkdir");
    support::git(&srv, &["init", "-q", "--bare", "-b", "main"]);
    let src = srv.to_str().expect("utf-8");
    for name in ["w", "p"] {
        support::git(top.path(), &["clone", "-q", src, name]);
    }
    let (w, p) = (top.path().join("w"), top.path().join("p"));
    std::fs::write(p.join("f"), "one\n").expect("write");
    support::git(&p, &["add", "f"]);
    support::git(&p, &["commit", "-q", "-m", "one"]);
    support::annex(&w, &["init", "w"]);
    let mut cmd = Command::new(ours_bin());
    support::hermetic(&mut cmd)
        .current_dir(&w)
        .args(["remotedaemon", "--foreground"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("run");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let mut d = Daemon {
        stdin: child.stdin.take(),
        child,
        lines,
        seen: Vec::new(),
    };
    let uri = format!("file://{}", srv.display());
    d.expect(&format!("CONNECTED {uri}"), 20);
    support::git(&p, &["push", "-q", "origin", "main"]);
    d.expect(&format!("SYNCING {uri}"), 20);
    d.expect(&format!("DONESYNCING {uri} 1"), 20);
    let sha = support::git(&p, &["rev-parse", "HEAD"]);
    let tracking = support::git(&w, &["rev-parse", "refs/remotes/origin/main"]);
    assert_eq!(tracking, sha);
    d.send("STOP");
    let seen = d.finish(10);
    assert_eq!(
        seen,
        vec![
            format!("CONNECTED {uri}"),
            format!("SYNCING {uri}"),
            format!("DONESYNCING {uri} 1"),
        ]
    );
}

/// A sha this repository already has (pushed from here by another way)
/// is fetched all the same, so that the remote-tracking ref is not left
/// stale (git-annex skips the fetch when it has one of the shas).
#[test]
fn remotedaemon_fetch_of_a_known_sha_updates_the_stale_tracking_ref() {
    let sshd = Sshd::start();
    let net = Net::new(&sshd, &their_shell());
    let uri = net.uri();
    let mut d = Daemon::start(ours_bin(), &net);
    d.expect(&format!("CONNECTED {uri}"), 30);
    d.quiet_for(Duration::from_secs(2));
    std::fs::write(net.w.join("g"), "from w\n").expect("write");
    support::git(&net.w, &["add", "g"]);
    support::git(&net.w, &["commit", "-q", "-m", "from w"]);
    let sha = support::git(&net.w, &["rev-parse", "HEAD"])
        .trim()
        .to_string();
    support::git(
        &net.w,
        &["push", "-q", net.srv.to_str().expect("utf-8"), "HEAD:main"],
    );
    assert_ne!(net.tracking(), sha, "stale before the daemon fetches");
    d.expect(&format!("DONESYNCING {uri} 1"), 20);
    assert_eq!(net.tracking(), sha);
    d.send("STOP");
    d.finish(10);
    assert_none_left(&net);
}

fn start_in(dir: &Path) -> Daemon {
    let mut cmd = Command::new(ours_bin());
    support::hermetic(&mut cmd)
        .current_dir(dir)
        .args(["remotedaemon", "--foreground"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("run");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = channel();
    std::thread::spawn(move || {
        for l in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    Daemon {
        stdin: child.stdin.take(),
        child,
        lines,
        seen: Vec::new(),
    }
}

/// Bare repositories `names` under `top`, each with a first commit.
fn bare_servers(top: &Path, names: &[&str]) {
    let seed = top.join("seed");
    support::git(top, &["init", "-q", "-b", "main", "seed"]);
    std::fs::write(seed.join("f"), "one\n").expect("write");
    support::git(&seed, &["add", "f"]);
    support::git(&seed, &["commit", "-q", "-m", "one"]);
    for n in names {
        let d = top.join(n);
        support::git(top, &["init", "-q", "--bare", "-b", "main", n]);
        support::git(&seed, &["push", "-q", d.to_str().expect("utf-8"), "main"]);
    }
}

/// A new commit in `seed` pushed into `server`.
fn push_into(top: &Path, server: &str, n: u32) {
    let seed = top.join("seed");
    std::fs::write(seed.join("f"), format!("{n}\n")).expect("write");
    support::git(&seed, &["commit", "-q", "-a", "-m", &format!("{n}")]);
    let d = top.join(server);
    support::git(&seed, &["push", "-q", d.to_str().expect("utf-8"), "main"]);
}

/// `RELOAD` reads `.git/config` again: a new remote is connected (with
/// `annex-pull=false` it is watched but never fetched from), one set to
/// `annex-sync=false` is let go; `CHANGED` from the caller is taken.
#[test]
fn remotedaemon_reload_follows_annex_sync_and_annex_pull() {
    let top = tempfile::tempdir().expect("temp dir");
    let t = top.path();
    bare_servers(t, &["a.git", "b.git"]);
    support::git(
        t,
        &["clone", "-q", t.join("a.git").to_str().expect("utf-8"), "w"],
    );
    let w = t.join("w");
    support::annex(&w, &["init", "w"]);
    let uri = |n: &str| format!("file://{}", t.join(n).display());
    let mut d = start_in(&w);
    d.expect(&format!("CONNECTED {}", uri("a.git")), 20);
    support::git(&w, &["remote", "add", "b", "../b.git"]);
    support::git(&w, &["config", "remote.b.annex-pull", "false"]);
    d.send("RELOAD");
    d.expect(&format!("CONNECTED {}", uri("b.git")), 20);
    push_into(t, "b.git", 2);
    let said = d.quiet_for(Duration::from_secs(2));
    assert!(said.is_empty(), "annex-pull=false: no fetch: {said:?}");
    assert!(
        support::git(&w, &["for-each-ref", "refs/remotes/b/"]).is_empty(),
        "nothing fetched from b"
    );
    support::git(&w, &["config", "remote.origin.annex-sync", "false"]);
    d.send("RELOAD");
    d.expect(&format!("DISCONNECTED {}", uri("a.git")), 20);
    push_into(t, "a.git", 3);
    d.send("CHANGED refs/heads/main refs/heads/git-annex");
    let said = d.quiet_for(Duration::from_secs(2));
    assert!(said.is_empty(), "annex-sync=false: let go: {said:?}");
    d.send("STOP");
    d.finish(10);
}

/// Without `--foreground` it goes to the background at once (as the
/// reference, without a pid file); `--stop` is no option of it, as in
/// the reference.
#[test]
fn remotedaemon_background_and_stop_option() {
    let top = tempfile::tempdir().expect("temp dir");
    let t = top.path();
    bare_servers(t, &["a.git"]);
    support::git(
        t,
        &["clone", "-q", t.join("a.git").to_str().expect("utf-8"), "w"],
    );
    let w = t.join("w");
    support::annex(&w, &["init", "w"]);
    let theirs = support::annex_output(&w, &["remotedaemon", "--stop"], None);
    let ours = crate::ours(&w, &["remotedaemon", "--stop"]);
    assert_eq!(ours.status.code(), theirs.status.code(), "{ours:?}");
    assert!(
        String::from_utf8_lossy(&ours.stderr).contains("--stop"),
        "{ours:?}"
    );

    let started = Instant::now();
    let out = crate::ours(&w, &["remotedaemon"]);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // The background process, found by its directory.
    let w_canon = w.canonicalize().expect("canonical");
    let deadline = Instant::now() + Duration::from_secs(10);
    let pid = loop {
        let found = std::fs::read_dir("/proc")
            .expect("/proc")
            .flatten()
            .filter_map(|e| {
                let pid: u32 = e.file_name().to_str()?.parse().ok()?;
                let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
                let cwd = std::fs::read_link(e.path().join("cwd")).ok()?;
                (cwd == w_canon && String::from_utf8_lossy(&cmdline).contains("remotedaemon"))
                    .then_some(pid)
            })
            .next();
        if let Some(p) = found {
            break p;
        }
        assert!(Instant::now() < deadline, "no background remotedaemon");
        std::thread::sleep(Duration::from_millis(100));
    };
    // It keeps running (and watches): the push is fetched.
    push_into(t, "a.git", 2);
    let want = support::git(&t.join("seed"), &["rev-parse", "HEAD"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while support::git(&w, &["rev-parse", "refs/remotes/origin/main"]) != want {
        assert!(Instant::now() < deadline, "not fetched in the background");
        std::thread::sleep(Duration::from_millis(200));
    }
    let st = Command::new("kill")
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(st.success());
}

/// A ref there that git's refspec does not fetch (the server's own
/// remote-tracking ref, at a commit no branch has): fetched for once when
/// first reported, not again each time it is reported again.
#[test]
fn remotedaemon_does_not_fetch_again_for_a_ref_a_fetch_does_not_bring() {
    let sshd = Sshd::start();
    let net = Net::new(&sshd, &their_shell());
    // A commit only the server's refs/remotes/other/main names.
    std::fs::write(net.p.join("f"), "elsewhere\n").expect("write");
    support::git(&net.p, &["commit", "-q", "-a", "-m", "elsewhere"]);
    support::git(
        &net.p,
        &[
            "push",
            "-q",
            net.srv.to_str().expect("utf-8"),
            "HEAD:refs/remotes/other/main",
        ],
    );
    support::git(&net.p, &["reset", "-q", "--hard", "HEAD~1"]);
    let uri = net.uri();
    let mut d = Daemon::start(ours_bin(), &net);
    d.expect(&format!("CONNECTED {uri}"), 30);
    d.expect(&format!("DONESYNCING {uri} 1"), 20);
    d.quiet_for(Duration::from_secs(1));
    // The ref file written again, with the same value: reported again.
    let file = net.srv.join("refs/remotes/other/main");
    let value = std::fs::read(&file).expect("ref file");
    std::fs::remove_file(&file).expect("rm");
    std::fs::write(&file, value).expect("rewrite");
    let said = d.quiet_for(Duration::from_secs(3));
    assert!(said.is_empty(), "fetched again for nothing: {said:?}");
    // A real change still is.
    let sha = net.push(9, false);
    d.expect(&format!("DONESYNCING {uri} 1"), 20);
    assert_eq!(net.tracking(), sha);
    d.send("STOP");
    d.finish(10);
}

/// A server that says `READY` and drops the connection at once, again
/// and again: the delays still double (a connection that did not hold is
/// no success), so the attempts stay few.
#[test]
fn remotedaemon_server_failing_after_ready_makes_no_reconnection_storm() {
    let sshd = Sshd::start();
    let scratch = tempfile::tempdir().expect("temp dir");
    let flaky = scratch.path().join("flaky-shell");
    std::fs::write(&flaky, "#!/bin/sh\necho READY\nexit 0\n").expect("write");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&flaky, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let net = Net::new(&sshd, &flaky);
    let uri = net.uri();
    let mut d = Daemon::start(ours_bin(), &net);
    d.expect(&format!("CONNECTED {uri}"), 30);
    let before = net.ssh_count();
    let window = Duration::from_secs(12);
    d.quiet_for(window);
    let attempts = net.ssh_count() - before;
    assert!(
        attempts <= 5,
        "{attempts} connections in {window:?} to a server that drops each at once"
    );
    d.send("STOP");
    d.finish(10);
}
