//! The gateway (issue 16) against nodes that are not git-annex-rs: a
//! fake `git-annex-shell p2pstdio` speaking protocol version 0
//! (`gateway_nodes.py`, reached as the gateway's ssh through
//! `core.sshCommand`, with `GIT_ANNEX_USE_GIT_SSH=1`), and one that hangs mid-upload. The client is this
//! test, speaking the P2P protocol to our `git-annex-shell p2pstdio` run
//! as the gateway, every answer awaited with a deadline so that a stall
//! fails the test instead of hanging it.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use crate::support;

const GW_UUID: &str = "99999999-1601-4000-8000-000000000000";
const CLIENT_UUID: &str = "cccccccc-1601-4000-8000-000000000000";

fn node_uuid(n: usize) -> String {
    format!("0000000{n}-1601-4000-8000-000000000000")
}

fn ours_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_git-annex-rs"))
}

fn python() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 (the fake node is a python script)");
    assert!(out.status.success(), "python3: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn ours(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new(ours_bin());
    support::hermetic(&mut cmd).current_dir(dir).args(args);
    let out = support::output_with_stdin(cmd, None);
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A gateway whose remotes `hosts` (ssh remotes `HOST:/srv/HOST`, UUIDs
/// `node_uuid(1..)`) are fake version 0 nodes; as a cluster `c` when
/// `cluster`, else each proxied on its own.
struct Gw {
    top: tempfile::TempDir,
    gw: PathBuf,
    logs: PathBuf,
    store: PathBuf,
}

fn gateway(hosts: &[&str], cluster: bool) -> Gw {
    let top = tempfile::tempdir().expect("temp dir");
    let gw = top.path().join("gw");
    let logs = top.path().join("logs");
    let store = top.path().join("store");
    for d in [&gw, &logs, &store] {
        std::fs::create_dir(d).expect("mkdir");
    }
    support::git(&gw, &["init", "-q", "-b", "main"]);
    support::git(&gw, &["config", "annex.uuid", GW_UUID]);
    support::annex(&gw, &["init", "gw"]);
    let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/gateway_nodes.py");
    // `exec`: the gateway's ssh process is the fake node itself (a hung
    // node is killed by its process id).
    let ssh = format!(
        "exec {} {} {} {}",
        python(),
        fake.display(),
        logs.display(),
        store.display()
    );
    support::git(&gw, &["config", "core.sshCommand", &ssh]);
    if cluster {
        ours(&gw, &["initcluster", "c"]);
    }
    for (i, h) in hosts.iter().enumerate() {
        support::git(&gw, &["remote", "add", h, &format!("{h}:/srv/{h}")]);
        support::git(
            &gw,
            &[
                "config",
                &format!("remote.{h}.annex-uuid"),
                &node_uuid(i + 1),
            ],
        );
        let (k, v) = if cluster {
            (format!("remote.{h}.annex-cluster-node"), "c")
        } else {
            (format!("remote.{h}.annex-proxy"), "true")
        };
        support::git(&gw, &["config", &k, v]);
    }
    if cluster {
        ours(&gw, &["updatecluster"]);
    } else {
        ours(&gw, &["updateproxy"]);
    }
    Gw {
        top,
        gw,
        logs,
        store,
    }
}

impl Gw {
    /// The UUID of cluster `c`.
    fn cluster_uuid(&self) -> String {
        support::git(&self.gw, &["config", "annex.cluster.c"])
            .trim()
            .to_string()
    }

    /// Puts `content` on fake node `host` as `key`, and records it there
    /// in the gateway's location log.
    fn seed(&self, host: &str, n: usize, key: &str, content: &[u8]) {
        let d = self.store.join(host);
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(d.join(key), content).expect("write");
        support::annex(&self.gw, &["setpresentkey", key, &node_uuid(n), "1"]);
    }

    /// The lines node `host` was sent.
    fn log(&self, host: &str) -> Vec<String> {
        std::fs::read_to_string(self.logs.join(host))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The files under the gateway's `othertmp`.
    fn leftovers(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut dirs = vec![self.gw.join(".git/annex/othertmp")];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    dirs.push(e.path());
                } else {
                    out.push(e.path());
                }
            }
        }
        out
    }
}

fn key_of(gw: &Gw, content: &[u8]) -> String {
    let f = gw.top.path().join("k");
    std::fs::write(&f, content).expect("write");
    let out = support::annex(&gw.gw, &["calckey", f.to_str().expect("utf-8")]);
    out.trim().to_string()
}

/// The client: our `git-annex-shell p2pstdio` run as the gateway for
/// `target`, every read awaited for at most `deadline`.
struct Client {
    child: Child,
    w: Option<ChildStdin>,
    rx: Receiver<Vec<u8>>,
    buf: Vec<u8>,
    deadline: Duration,
}

impl Client {
    fn start(gw: &Gw, target: &str) -> Client {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_git-annex-shell"));
        support::hermetic(&mut cmd)
            .current_dir(&gw.gw)
            // The gateway's ssh to its nodes is git's (core.sshCommand).
            .env("GIT_ANNEX_USE_GIT_SSH", "1")
            .args(["p2pstdio"])
            .arg(&gw.gw)
            .args([CLIENT_UUID, "--uuid", target])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("git-annex-shell");
        let mut out = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut b = vec![0u8; 65536];
            while let Ok(n) = out.read(&mut b) {
                if n == 0 || tx.send(b[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let w = child.stdin.take();
        Client {
            child,
            w,
            rx,
            buf: Vec::new(),
            deadline: Duration::from_secs(30),
        }
    }

    fn send(&mut self, line: &str) {
        let w = self.w.as_mut().expect("open");
        w.write_all(line.as_bytes()).expect("send");
        w.write_all(b"\n").expect("send");
        w.flush().expect("flush");
    }

    fn send_bytes(&mut self, b: &[u8]) {
        let w = self.w.as_mut().expect("open");
        w.write_all(b).expect("send");
        w.flush().expect("flush");
    }

    fn fill(&mut self, until: impl Fn(&[u8]) -> bool, what: &str) {
        let end = Instant::now() + self.deadline;
        while !until(&self.buf) {
            let left = end.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(b) => self.buf.extend(b),
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "the gateway stalled waiting for {what} (got {:?})",
                        self.buf
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the gateway closed the connection before {what}")
                }
            }
        }
    }

    fn line(&mut self) -> String {
        self.fill(|b| b.contains(&b'\n'), "a line");
        let i = self.buf.iter().position(|&c| c == b'\n').unwrap_or(0);
        let l: Vec<u8> = self.buf.drain(..=i).collect();
        String::from_utf8_lossy(&l[..i]).into_owned()
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        self.fill(|b| b.len() >= n, "data");
        self.buf.drain(..n).collect()
    }

    fn ask(&mut self, line: &str) -> String {
        self.send(line);
        self.line()
    }

    /// Closes the connection; the gateway's exit status and stderr.
    fn finish(mut self) -> (Option<i32>, String) {
        drop(self.w.take());
        let out = self.child.wait_with_output().expect("wait");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

/// No message a version 0 server does not know was sent to `host`.
fn only_version_0_messages(gw: &Gw, host: &str) {
    let log = gw.log(host);
    assert!(!log.is_empty(), "{host} was never reached");
    let unknown: Vec<&String> = log
        .iter()
        .filter(|l| l.starts_with("UNKNOWN") || l.starts_with("VALID") || l.starts_with("INVALID"))
        .collect();
    assert!(
        unknown.is_empty(),
        "{host} was sent {unknown:?} (all: {log:?})"
    );
}

#[test]
fn gateway_connects_the_remote_before_telling_the_client_its_version() {
    // Regression: the gateway answered the client's VERSION with its own
    // before connecting the proxied remote; with a version 0 remote, a
    // GET then waited for ever for the VALID the remote never sends.
    let gw = gateway(&["old"], false);
    let content = b"hello from a version 0 node\n";
    let key = key_of(&gw, content);
    gw.seed("old", 1, &key, content);
    let mut c = Client::start(&gw, &node_uuid(1));
    assert_eq!(c.line(), format!("AUTH-SUCCESS {}", node_uuid(1)));
    assert_eq!(c.ask("VERSION 4"), "VERSION 0");
    assert_eq!(
        c.ask(&format!("GET 0 f {key}")),
        format!("DATA {}", content.len())
    );
    assert_eq!(c.bytes(content.len()), content);
    c.send("SUCCESS");
    // In step: no VALID came after the data.
    assert_eq!(c.ask(&format!("CHECKPRESENT {key}")), "SUCCESS");
    // A PUT at version 0: no validity sent on to the node.
    let new = b"a new file\n";
    let new_key = key_of(&gw, new);
    assert_eq!(c.ask(&format!("PUT g {new_key}")), "PUT-FROM 0");
    c.send(&format!("DATA {}", new.len()));
    c.send_bytes(new);
    assert_eq!(c.line(), "SUCCESS");
    let (code, err) = c.finish();
    assert_eq!(code, Some(0), "{err}");
    only_version_0_messages(&gw, "old");
    assert_eq!(
        std::fs::read(gw.store.join("old").join(&new_key)).expect("stored"),
        new
    );
    assert!(gw.leftovers().is_empty(), "{:?}", gw.leftovers());
}

#[test]
fn gateway_sends_a_cluster_node_only_what_its_version_knows() {
    // A cluster's version is the client's (as the reference's: its nodes
    // may speak older ones); each node is then sent only what its own
    // version knows, and a version 0 node does not stall a GET.
    let gw = gateway(&["old"], true);
    let cu = gw.cluster_uuid();
    let content = b"cluster content\n";
    let key = key_of(&gw, content);
    gw.seed("old", 1, &key, content);
    let mut c = Client::start(&gw, &cu);
    assert_eq!(c.line(), format!("AUTH-SUCCESS {cu}"));
    assert_eq!(c.ask("VERSION 4"), "VERSION 4");
    c.send(&format!("BYPASS {CLIENT_UUID}"));
    assert_eq!(
        c.ask(&format!("GET 0 f {key}")),
        format!("DATA {}", content.len())
    );
    assert_eq!(c.bytes(content.len()), content);
    assert_eq!(c.line(), "VALID");
    c.send("SUCCESS");
    let new = b"fanned out\n";
    let new_key = key_of(&gw, new);
    assert_eq!(c.ask(&format!("PUT g {new_key}")), "PUT-FROM 0");
    c.send(&format!("DATA {}", new.len()));
    c.send_bytes(new);
    c.send("VALID");
    assert_eq!(c.line(), format!("SUCCESS-PLUS {}", node_uuid(1)));
    assert!(c.ask("GETTIMESTAMP").starts_with("TIMESTAMP "));
    assert_eq!(
        c.ask(&format!("REMOVE-BEFORE 999999999 {new_key}")),
        format!("SUCCESS-PLUS {}", node_uuid(1))
    );
    let (code, err) = c.finish();
    assert_eq!(code, Some(0), "{err}");
    only_version_0_messages(&gw, "old");
    let log = gw.log("old");
    assert!(log.contains(&format!("REMOVE {new_key}")), "{log:?}");
    assert!(!gw.store.join("old").join(&new_key).exists());
    assert!(gw.leftovers().is_empty(), "{:?}", gw.leftovers());
}

/// Puts `content` through the gateway of cluster `c` at version 4; the
/// client's answer.
fn put_through_cluster(gw: &Gw, content: &[u8]) -> (String, String, (Option<i32>, String)) {
    let cu = gw.cluster_uuid();
    let key = key_of(gw, content);
    let mut c = Client::start(gw, &cu);
    assert_eq!(c.line(), format!("AUTH-SUCCESS {cu}"));
    assert_eq!(c.ask("VERSION 4"), "VERSION 4");
    c.send(&format!("BYPASS {CLIENT_UUID}"));
    assert_eq!(c.ask(&format!("PUT f {key}")), "PUT-FROM 0");
    c.send(&format!("DATA {}", content.len()));
    c.send_bytes(content);
    c.send("VALID");
    let answer = c.line();
    (key, answer, c.finish())
}

/// The most uploads the nodes `hosts` were busy with at once.
fn most_at_once(gw: &Gw, hosts: &[&str]) -> usize {
    most_at_once_of(gw, hosts, "SPAN")
}

/// The most exchanges of a `kind` (`SPAN`: uploads, `RSPAN`: removals,
/// `TSPAN`: timestamps) the nodes `hosts` were busy with at once, by
/// the nodes' own record of when each began and ended.
fn most_at_once_of(gw: &Gw, hosts: &[&str], kind: &str) -> usize {
    let mut spans: Vec<(f64, f64)> = Vec::new();
    for h in hosts {
        for l in gw.log(h) {
            let w: Vec<&str> = l.split(' ').collect();
            if w.len() == 3 && w[0] == kind {
                spans.push((w[1].parse().expect("time"), w[2].parse().expect("time")));
            }
        }
    }
    assert_eq!(spans.len(), hosts.len(), "each node stored once: {spans:?}");
    spans
        .iter()
        .map(|(b, _)| spans.iter().filter(|(b2, e2)| b2 <= b && b < e2).count())
        .max()
        .unwrap_or(0)
}

#[test]
fn gateway_fans_a_put_out_to_annex_jobs_nodes_at_once() {
    let hosts = ["slow1", "slow2", "slow3"];
    let content = vec![b'x'; 300_000];
    for (jobs, expected) in [(None, 1), (Some("2"), 2), (Some("3"), 3)] {
        let gw = gateway(&hosts, true);
        if let Some(j) = jobs {
            support::git(&gw.gw, &["config", "annex.jobs", j]);
        }
        let (key, answer, (code, err)) = put_through_cluster(&gw, &content);
        let mut expect = "SUCCESS-PLUS".to_string();
        for n in 1..=3 {
            expect.push(' ');
            expect.push_str(&node_uuid(n));
        }
        assert_eq!(answer, expect, "{err}");
        assert_eq!(code, Some(0), "{err}");
        assert_eq!(most_at_once(&gw, &hosts), expected, "annex.jobs {jobs:?}");
        for h in hosts {
            assert_eq!(
                std::fs::read(gw.store.join(h).join(&key)).expect("stored"),
                content
            );
        }
        assert!(gw.leftovers().is_empty(), "{:?}", gw.leftovers());
    }
}

#[test]
fn gateway_sends_gettimestamp_and_remove_to_annex_jobs_nodes_at_once() {
    // Version 3 nodes that take a second over each GETTIMESTAMP and
    // REMOVE: one after another without annex.jobs, all three at once
    // with annex.jobs=3 (a slow node does not hold the others up).
    let hosts = ["slowv3a", "slowv3b", "slowv3c"];
    let content = b"removed from three nodes\n";
    for (jobs, expected) in [(None, 1), (Some("3"), 3)] {
        let gw = gateway(&hosts, true);
        if let Some(j) = jobs {
            support::git(&gw.gw, &["config", "annex.jobs", j]);
        }
        let key = key_of(&gw, content);
        for (n, h) in hosts.iter().enumerate() {
            gw.seed(h, n + 1, &key, content);
        }
        let cu = gw.cluster_uuid();
        let mut c = Client::start(&gw, &cu);
        assert_eq!(c.line(), format!("AUTH-SUCCESS {cu}"));
        assert_eq!(c.ask("VERSION 4"), "VERSION 4");
        c.send(&format!("BYPASS {CLIENT_UUID}"));
        let ts = c.ask("GETTIMESTAMP");
        let t: u64 = ts
            .strip_prefix("TIMESTAMP ")
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("a timestamp: {ts}"));
        let answer = c.ask(&format!("REMOVE-BEFORE {} {key}", t + 600));
        let (code, err) = c.finish();
        let mut expect = "SUCCESS-PLUS".to_string();
        for n in 1..=3 {
            expect.push(' ');
            expect.push_str(&node_uuid(n));
        }
        assert_eq!(answer, expect, "{err}");
        assert_eq!(code, Some(0), "{err}");
        for h in hosts {
            assert!(
                gw.log(h).iter().any(|l| l.starts_with("REMOVE-BEFORE ")),
                "{h} was sent REMOVE-BEFORE: {:?}",
                gw.log(h)
            );
            assert!(!gw.store.join(h).join(&key).exists(), "{h} still has it");
        }
        assert_eq!(
            most_at_once_of(&gw, &hosts, "TSPAN"),
            expected,
            "GETTIMESTAMP, annex.jobs {jobs:?}"
        );
        assert_eq!(
            most_at_once_of(&gw, &hosts, "RSPAN"),
            expected,
            "REMOVE-BEFORE, annex.jobs {jobs:?}"
        );
        // The gateway recorded the removals (no copy left: whereis fails).
        let out = support::annex_output(&gw.gw, &["whereis", "--key", &key, "--json"], None);
        let whereis = String::from_utf8_lossy(&out.stdout);
        assert!(whereis.contains("\"0 copies\""), "{whereis}");
        for n in 1..=3 {
            assert!(!whereis.contains(&node_uuid(n)), "{whereis}");
        }
    }
}

#[test]
fn gateway_leaves_out_a_node_that_hangs_mid_upload_after_the_timeout() {
    let gw = gateway(&["n1", "hang2"], true);
    support::git(&gw.gw, &["config", "annex.jobs", "2"]);
    support::git(&gw.gw, &["config", "annex.rs-nodetimeout", "2"]);
    let started = Instant::now();
    let (key, answer, (code, err)) = put_through_cluster(&gw, b"to two nodes, one hung\n");
    assert_eq!(answer, format!("SUCCESS-PLUS {}", node_uuid(1)), "{err}");
    assert!(
        err.contains("hang2 did not answer for 2 seconds; left out"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(25));
    assert_eq!(code, Some(0), "{err}");
    assert!(gw.store.join("n1").join(&key).exists());
    assert!(!gw.store.join("hang2").join(&key).exists());
    assert!(gw.leftovers().is_empty(), "{:?}", gw.leftovers());
    // The gateway recorded the node that stored it, not the hung one.
    let whereis = support::annex(&gw.gw, &["whereis", "--key", &key, "--json"]);
    assert!(whereis.contains(&node_uuid(1)), "{whereis}");
    assert!(!whereis.contains(&node_uuid(2)), "{whereis}");
}

#[test]
fn gateway_killed_during_a_fan_out_leaves_nothing_half_written_and_a_retry_succeeds() {
    let hosts = ["slow1", "slow2", "slow3"];
    let gw = gateway(&hosts, true);
    let cu = gw.cluster_uuid();
    let content = vec![b'k'; 100_000];
    let key = key_of(&gw, &content);
    let mut c = Client::start(&gw, &cu);
    assert_eq!(c.line(), format!("AUTH-SUCCESS {cu}"));
    assert_eq!(c.ask("VERSION 4"), "VERSION 4");
    c.send(&format!("BYPASS {CLIENT_UUID}"));
    assert_eq!(c.ask(&format!("PUT f {key}")), "PUT-FROM 0");
    c.send(&format!("DATA {}", content.len()));
    c.send_bytes(&content);
    c.send("VALID");
    // Nodes are sent one after another (annex.jobs unset), each taking a
    // second: the gateway is killed while the first stores.
    let end = Instant::now() + Duration::from_secs(20);
    while gw.log("slow1").iter().all(|l| !l.starts_with("DATA ")) {
        assert!(Instant::now() < end, "slow1 never sent DATA");
        std::thread::sleep(Duration::from_millis(20));
    }
    c.child.kill().expect("kill the gateway");
    // The client sees the connection end, not an answer.
    c.deadline = Duration::from_secs(10);
    let closed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.line()));
    assert!(closed.is_err(), "an answer from a killed gateway");
    let _ = c.child.wait();
    // The killed gateway's temporary copy is all that is left.
    assert_eq!(gw.leftovers().len(), 1, "{:?}", gw.leftovers());
    for h in hosts {
        let d = gw.store.join(h);
        let partial: Vec<_> = std::fs::read_dir(&d)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(partial.is_empty(), "{h}: {partial:?}");
        if let Ok(got) = std::fs::read(d.join(&key)) {
            assert_eq!(got, content, "{h} has it whole or not at all");
        }
    }
    // The retry through a new gateway process: stored on every node, and
    // the dead gateway's temporary file removed.
    let (_, answer, (code, err)) = put_through_cluster(&gw, &content);
    assert!(
        answer.starts_with("SUCCESS-PLUS") || answer.starts_with("ALREADY-HAVE-PLUS"),
        "{answer} {err}"
    );
    assert_eq!(code, Some(0), "{err}");
    for h in hosts {
        assert_eq!(
            std::fs::read(gw.store.join(h).join(&key)).expect("stored"),
            content,
            "{h}"
        );
    }
    assert!(gw.leftovers().is_empty(), "{:?}", gw.leftovers());
}

/// A field of `/proc/PID/io`.
fn proc_io(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/io")).expect("/proc/PID/io");
    s.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(": ")?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {s}"))
}

#[test]
fn gateway_writes_one_temporary_copy_for_a_fan_out_to_3_nodes() {
    let hosts = ["n1", "n2", "n3"];
    let gw = gateway(&hosts, true);
    support::git(&gw.gw, &["config", "annex.jobs", "3"]);
    let cu = gw.cluster_uuid();
    let size = 16 << 20;
    let content: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let key = key_of(&gw, &content);
    let mut c = Client::start(&gw, &cu);
    let pid = c.child.id();
    assert_eq!(c.line(), format!("AUTH-SUCCESS {cu}"));
    assert_eq!(c.ask("VERSION 4"), "VERSION 4");
    c.send(&format!("BYPASS {CLIENT_UUID}"));
    assert_eq!(c.ask(&format!("PUT f {key}")), "PUT-FROM 0");
    let before = proc_io(pid, "write_bytes");
    c.send(&format!("DATA {}", content.len()));
    c.send_bytes(&content);
    c.send("VALID");
    let answer = c.line();
    let written = proc_io(pid, "write_bytes") - before;
    let wchar = proc_io(pid, "wchar");
    eprintln!(
        "fan-out of {size} bytes to 3 nodes: the gateway wrote {written} bytes to storage ({wchar} bytes through write calls, the pipes to the nodes included)"
    );
    assert!(answer.starts_with("SUCCESS-PLUS"), "{answer}");
    // Once, not once per node (the page cache may not have counted all
    // of it yet, so no lower bound).
    assert!(written < (size as u64) * 3 / 2, "{written} bytes written");
    // Through the pipes: to each node.
    assert!(wchar >= 3 * size as u64, "{wchar}");
    let (code, err) = c.finish();
    assert_eq!(code, Some(0), "{err}");
    for h in hosts {
        assert_eq!(
            std::fs::read(gw.store.join(h).join(&key)).expect("stored"),
            content
        );
    }
}
