//! The remote daemon in process, as the assistant uses it: a remote over
//! HTTP (git's dumb protocol, from a small static file server here) is
//! listed every poll interval, a change there fetched; the server gone is
//! `DISCONNECTED`, back is `CONNECTED`; `PAUSE` stops the polling.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use annex_sync::remotedaemon::protocol::{Consumed, Emitted};
use annex_sync::remotedaemon::{Options, RemoteDaemon};

use crate::support;

/// Serves the files under `root` (GET, the query ignored); answers 503
/// while `down`; counts the requests.
struct Static {
    port: u16,
    down: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
}

fn serve(root: PathBuf) -> Static {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let down = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicUsize::new(0));
    let (d, r) = (down.clone(), requests.clone());
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            r.fetch_add(1, Ordering::SeqCst);
            let mut rd = BufReader::new(match s.try_clone() {
                Ok(c) => c,
                Err(_) => continue,
            });
            let mut first = String::new();
            let _ = rd.read_line(&mut first);
            let mut h = String::new();
            while rd.read_line(&mut h).is_ok_and(|n| n > 2) {
                h.clear();
            }
            let path = first.split_whitespace().nth(1).unwrap_or("/");
            let path = path
                .split('?')
                .next()
                .unwrap_or("/")
                .trim_start_matches('/');
            let mut s = s;
            let body = std::fs::read(root.join(path)).ok();
            let _ = match (d.load(Ordering::SeqCst), body) {
                (true, _) => s.write_all(b"HTTP/1.0 503 Down\r\nContent-Length: 0\r\n\r\n"),
                (false, Some(b)) => s
                    .write_all(
                        format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", b.len())
                            .as_bytes(),
                    )
                    .and_then(|()| s.write_all(&b)),
                (false, None) => s.write_all(b"HTTP/1.0 404 No\r\nContent-Length: 0\r\n\r\n"),
            };
        }
    });
    Static {
        port,
        down,
        requests,
    }
}

fn commit_and_push(seed: &Path, srv: &Path, n: u32) -> String {
    std::fs::write(seed.join("f"), format!("{n}\n")).expect("write");
    support::git(seed, &["add", "f"]);
    support::git(seed, &["commit", "-q", "-m", &format!("{n}")]);
    support::git(seed, &["push", "-q", srv.to_str().expect("utf-8"), "main"]);
    support::git(srv, &["update-server-info"]);
    support::git(seed, &["rev-parse", "HEAD"])
        .trim()
        .to_string()
}

fn next(d: &RemoteDaemon, secs: u64) -> Emitted {
    d.messages()
        .recv_timeout(Duration::from_secs(secs))
        .expect("a message in time")
}

#[test]
fn remotedaemon_polls_an_http_remote() {
    let top = tempfile::tempdir().expect("temp dir");
    let t = top.path();
    let srv = t.join("srv.git");
    support::git(t, &["init", "-q", "--bare", "-b", "main", "srv.git"]);
    support::git(t, &["init", "-q", "-b", "main", "seed"]);
    let seed = t.join("seed");
    commit_and_push(&seed, &srv, 1);
    let server = serve(t.to_path_buf());
    let url = format!("http://127.0.0.1:{}/srv.git", server.port);
    support::git(t, &["init", "-q", "-b", "main", "w"]);
    let w = t.join("w");
    support::git(&w, &["remote", "add", "origin", &url]);
    let opts = Options {
        initial_backoff: Duration::from_millis(200),
        max_backoff: Duration::from_secs(1),
        poll_interval: Duration::from_millis(500),
        local_recheck: Duration::from_secs(1),
    };
    let d = RemoteDaemon::start(&w, opts).expect("start");
    // First contact: connected, and what is there fetched.
    assert_eq!(next(&d, 20), Emitted::Connected(url.clone()));
    assert_eq!(next(&d, 20), Emitted::Syncing(url.clone()));
    assert_eq!(next(&d, 60), Emitted::DoneSyncing(url.clone(), true));
    let sha = commit_and_push(&seed, &srv, 2);
    assert_eq!(next(&d, 20), Emitted::Syncing(url.clone()));
    assert_eq!(next(&d, 60), Emitted::DoneSyncing(url.clone(), true));
    assert_eq!(
        support::git(&w, &["rev-parse", "refs/remotes/origin/main"]).trim(),
        sha
    );
    // Gone, then back.
    server.down.store(true, Ordering::SeqCst);
    assert_eq!(next(&d, 20), Emitted::Disconnected(url.clone()));
    server.down.store(false, Ordering::SeqCst);
    assert_eq!(next(&d, 20), Emitted::Connected(url.clone()));
    // Paused: no requests at all.
    d.send(Consumed::Pause);
    assert_eq!(next(&d, 20), Emitted::Disconnected(url.clone()));
    let before = server.requests.load(Ordering::SeqCst);
    let start = Instant::now();
    assert!(
        d.messages().recv_timeout(Duration::from_secs(2)).is_err(),
        "nothing said while paused"
    );
    assert!(start.elapsed() >= Duration::from_secs(2));
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        before,
        "no polling while paused"
    );
    let sha = commit_and_push(&seed, &srv, 3);
    d.send(Consumed::Resume);
    assert_eq!(next(&d, 20), Emitted::Connected(url.clone()));
    assert_eq!(next(&d, 20), Emitted::Syncing(url.clone()));
    assert_eq!(next(&d, 60), Emitted::DoneSyncing(url.clone(), true));
    assert_eq!(
        support::git(&w, &["rev-parse", "refs/remotes/origin/main"]).trim(),
        sha
    );
    d.send(Consumed::Stop);
    // The channel ends once every transport has stopped.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match d.messages().recv_timeout(Duration::from_secs(1)) {
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            _ => assert!(Instant::now() < deadline, "the daemon did not stop"),
        }
    }
    d.wait();
}
