//! Load on one `p2phttp` (issue 16): our server, a real process on
//! 127.0.0.1, worked for 60 seconds by 50 concurrent clients doing gets
//! and puts of keys of their own and of keys they all put at once. No
//! request that should succeed fails, none waits more than a minute (no
//! deadlock), the server's memory stays bounded (its RSS sampled), no
//! temporary file or lock is left behind, and the reference's `fsck`
//! finds the repository clean.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support;

const SERVER_UUID: &str = "aaaaaaaa-1602-0000-0000-000000000001";
const CLIENTS: usize = 50;
const SECONDS: u64 = 60;
const SERVED_FILES: usize = 20;
const SHARED: usize = 5;
/// Puts of its own keys each client has keys made for.
const OWN_PUTS: usize = 40;

struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn content(tag: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(4096);
    while v.len() < 4096 {
        v.extend_from_slice(tag.as_bytes());
        v.push(b' ');
    }
    v.truncate(4096);
    v
}

/// The keys of `contents`, as the reference computes them.
fn keys_of(dir: &Path, contents: &[Vec<u8>]) -> Vec<String> {
    let mut files = Vec::new();
    for (i, c) in contents.iter().enumerate() {
        let f = dir.join(format!("c{i}"));
        std::fs::write(&f, c).expect("write");
        files.push(f.to_str().expect("utf-8").to_string());
    }
    let mut keys = Vec::new();
    for chunk in files.chunks(200) {
        let mut args = vec!["calckey"];
        args.extend(chunk.iter().map(String::as_str));
        keys.extend(
            support::annex(dir, &args)
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>(),
        );
    }
    for f in files {
        let _ = std::fs::remove_file(f);
    }
    assert_eq!(keys.len(), contents.len());
    keys
}

/// One request; the status and the de-chunked body (`None`: no answer
/// within a minute, or the connection failed).
fn request(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    let mut req = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).ok()?;
    let split = resp.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&resp[..split]).to_ascii_lowercase();
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    let mut rest = &resp[split + 4..];
    if !head.contains("transfer-encoding: chunked") {
        return Some((code, rest.to_vec()));
    }
    let mut out = Vec::new();
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16).ok()?;
        if size == 0 || rest.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&rest[eol + 2..eol + 2 + size]);
        rest = &rest[(eol + 4 + size).min(rest.len())..];
    }
    Some((code, out))
}

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Files (not directories) under `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
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

#[test]
fn p2phttp_under_load_of_50_clients_for_60_seconds_loses_and_leaks_nothing() {
    let top = tempfile::tempdir().expect("temp dir");
    let srv = top.path().join("srv");
    std::fs::create_dir(&srv).expect("mkdir");
    support::git(&srv, &["init", "-q", "-b", "main"]);
    support::git(&srv, &["config", "annex.uuid", SERVER_UUID]);
    support::annex(&srv, &["init", "srv"]);
    let served: Vec<Vec<u8>> = (0..SERVED_FILES)
        .map(|i| content(&format!("served {i}")))
        .collect();
    for (i, c) in served.iter().enumerate() {
        std::fs::write(srv.join(format!("f{i}")), c).expect("write");
    }
    support::annex(&srv, &["add", "."]);
    support::git(&srv, &["commit", "-q", "-m", "add"]);
    let scratch = top.path().join("scratch");
    std::fs::create_dir(&scratch).expect("mkdir");
    let served_keys = keys_of(&srv, &served);
    let shared: Vec<Vec<u8>> = (0..SHARED)
        .map(|i| content(&format!("shared {i}")))
        .collect();
    let shared_keys = keys_of(&srv, &shared);
    let own: Vec<Vec<u8>> = (0..CLIENTS * OWN_PUTS)
        .map(|i| content(&format!("own {} {}", i / OWN_PUTS, i % OWN_PUTS)))
        .collect();
    let own_keys = keys_of(&srv, &own);

    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_git-annex-rs"));
    support::hermetic(&mut cmd)
        .current_dir(&srv)
        .args([
            "p2phttp",
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--jobs",
            "8",
            "--wideopen",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    let server = Served(cmd.spawn().expect("p2phttp"));
    let pid = server.0.id();
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "p2phttp did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let done = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new((served, served_keys, shared, shared_keys, own, own_keys));
    let start = Instant::now();
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (failures, done, stop, data, refused) = (
            failures.clone(),
            done.clone(),
            stop.clone(),
            served.clone(),
            refused.clone(),
        );
        clients.push(std::thread::spawn(move || {
            let (served, served_keys, shared, shared_keys, own, own_keys) = &*data;
            let client = format!("cccccccc-1602-0000-0000-{c:012}");
            let base = format!("/git-annex/{SERVER_UUID}/v4");
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(SECONDS) {
                let fail = |what: String| failures.lock().map(|mut f| f.push(what)).unwrap_or(());
                match n % 4 {
                    0 | 2 => {
                        let i = (c + n) % SERVED_FILES;
                        let r = request(
                            port,
                            "GET",
                            &format!("{base}/key/{}?clientuuid={client}", served_keys[i]),
                            &[],
                            b"",
                        );
                        match r {
                            Some((200, body)) if body == served[i] => {}
                            other => fail(format!(
                                "client {c} get {i}: {:?}",
                                other.map(|(s, b)| (s, b.len()))
                            )),
                        }
                    }
                    1 => {
                        let i = c * OWN_PUTS + (n / 4) % OWN_PUTS;
                        if let Put::Refused =
                            put(port, &base, &client, &own_keys[i], &own[i], &fail)
                        {
                            fail(format!("client {c}: put of its own key {i} refused"));
                        }
                    }
                    _ => {
                        // Everyone puts the same keys: a put while another
                        // is storing the key is refused as the reference's
                        // server refuses it (its transfer lock is taken);
                        // once one stored it, the others are told stored.
                        let i = (n / 4) % SHARED;
                        match put(port, &base, &client, &shared_keys[i], &shared[i], &fail) {
                            Put::Refused => {
                                refused.fetch_add(1, Ordering::Relaxed);
                            }
                            Put::Stored => {
                                let r = request(
                                    port,
                                    "GET",
                                    &format!("{base}/key/{}?clientuuid={client}", shared_keys[i]),
                                    &[],
                                    b"",
                                );
                                match r {
                                    Some((200, body)) if body == shared[i] => {}
                                    other => fail(format!(
                                        "client {c} get shared {i}: {:?}",
                                        other.map(|(s, b)| (s, b.len()))
                                    )),
                                }
                            }
                            Put::Failed => {}
                        }
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        }));
    }
    let mut rss = Vec::new();
    while start.elapsed() < Duration::from_secs(SECONDS) {
        if let Some(k) = rss_kib(pid) {
            rss.push(k);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().expect("client thread");
    }
    let failures = failures.lock().expect("failures").clone();
    let requests = done.load(Ordering::Relaxed);
    let peak = rss.iter().copied().max().unwrap_or(0);
    let late: u64 = rss.iter().rev().take(10).copied().max().unwrap_or(0);
    let early: u64 = rss
        .iter()
        .skip(rss.len() / 4)
        .take(10)
        .copied()
        .max()
        .unwrap_or(0);
    eprintln!(
        "p2phttp load: {requests} operations by {CLIENTS} clients in {SECONDS} s ({} puts of a shared key refused while another stored it); server RSS peak {peak} KiB, at a quarter {early} KiB, at the end {late} KiB",
        refused.load(Ordering::Relaxed)
    );
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(20)]
    );
    assert!(requests > CLIENTS as u64, "only {requests} operations");
    // Bounded: well under what leaking each request's buffers would need,
    // and not growing for the last three quarters of the run.
    assert!(peak < 400 * 1024, "RSS peak {peak} KiB");
    assert!(
        late <= early + 64 * 1024,
        "RSS grew from {early} KiB to {late} KiB"
    );
    // The server still answers.
    let (code, _) = request(
        port,
        "GET",
        &format!(
            "/git-annex/{SERVER_UUID}/v4/key/{}?clientuuid=cccccccc-1602-0000-0000-000000000999",
            served.1[0]
        ),
        &[],
        b"",
    )
    .expect("answer");
    assert_eq!(code, 200);
    drop(server);
    let annex = srv.join(".git/annex");
    for d in ["tmp", "othertmp"] {
        let left = files_under(&annex.join(d));
        assert!(left.is_empty(), "left in {d}: {left:?}");
    }
    let transfers: Vec<PathBuf> = files_under(&annex.join("transfer"));
    assert!(transfers.is_empty(), "transfer records left: {transfers:?}");
    let fsck = support::annex_output(&srv, &["fsck", "--quiet"], None);
    assert!(fsck.status.success(), "fsck: {fsck:?}");
    // Every put that was answered stored is there.
    for k in served.3.iter() {
        let o = support::annex_output(&srv, &["fsck", "--quiet", "--key", k], None);
        assert!(o.status.success(), "{k}: {o:?}");
    }
}

/// How a put ended.
enum Put {
    Stored,
    /// Refused while another put of the key held its transfer lock.
    Refused,
    Failed,
}

fn put(port: u16, base: &str, client: &str, key: &str, body: &[u8], fail: &dyn Fn(String)) -> Put {
    let len = body.len().to_string();
    let r = request(
        port,
        "POST",
        &format!("{base}/put?key={key}&clientuuid={client}"),
        &[
            ("X-git-annex-data-length", &len),
            ("Content-Type", "application/octet-stream"),
        ],
        body,
    );
    match r {
        Some((200, resp)) => {
            let ok = serde_json::from_slice::<serde_json::Value>(&resp)
                .ok()
                .and_then(|v| v.get("stored").and_then(serde_json::Value::as_bool))
                == Some(true);
            if ok {
                Put::Stored
            } else {
                fail(format!("put {key}: {}", String::from_utf8_lossy(&resp)));
                Put::Failed
            }
        }
        Some((500, resp))
            if resp == b"transfer already in progress, or unable to take transfer lock" =>
        {
            Put::Refused
        }
        other => {
            fail(format!(
                "put {key}: {:?}",
                other.map(|(s, b)| (s, String::from_utf8_lossy(&b).into_owned()))
            ));
            Put::Failed
        }
    }
}
