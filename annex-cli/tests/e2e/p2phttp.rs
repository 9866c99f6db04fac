//! The P2P protocol over HTTP (issue 16), with real servers on 127.0.0.1:
//! our `p2phttp` worked by the reference's client, and the reference's
//! `p2phttp` worked by ours (`annex+http` in `remote.origin.annexUrl`);
//! the auth modes answered with the reference's status codes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support;

const SERVER_UUID: &str = "aaaaaaaa-1600-0000-0000-000000000001";
const CLIENT_UUID: &str = "cccccccc-1600-0000-0000-000000000002";

/// Which implementation runs a side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Impl {
    Ours,
    Reference,
}

impl Impl {
    fn bin(self) -> PathBuf {
        match self {
            Impl::Ours => PathBuf::from(env!("CARGO_BIN_EXE_git-annex-rs")),
            Impl::Reference => support::reference_git_annex().to_path_buf(),
        }
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run(who: Impl, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(who.bin());
    support::hermetic(&mut cmd)
        .current_dir(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0");
    support::output_with_stdin(cmd, None)
}

/// A `p2phttp` server process, stopped when dropped.
struct Served {
    child: Child,
    port: u16,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

fn serve(who: Impl, repo: &Path, opts: &[&str], env: &[(&str, &str)]) -> Served {
    let port = free_port();
    let port_s = port.to_string();
    let mut cmd = Command::new(who.bin());
    support::hermetic(&mut cmd)
        .current_dir(repo)
        .args(["p2phttp", "--bind", "127.0.0.1", "--port", &port_s, "-J2"])
        .args(opts)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("start p2phttp");
    let served = Served { child, port };
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{who:?} p2phttp did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    served
}

/// A server repository made by the reference (files `f`, `g`) and a
/// clone whose `origin` is reachable only through `annexUrl` (its `url`
/// is a path that does not exist).
struct Net {
    _top: tempfile::TempDir,
    srv: PathBuf,
    cli: PathBuf,
}

fn net() -> Net {
    let top = tempfile::tempdir().expect("temp dir");
    let srv = top.path().join("srv");
    std::fs::create_dir(&srv).expect("mkdir");
    support::git(&srv, &["init", "-q", "-b", "main"]);
    support::git(&srv, &["config", "annex.uuid", SERVER_UUID]);
    support::annex(&srv, &["init", "srv"]);
    std::fs::write(srv.join("f"), "f content\n").expect("write");
    std::fs::write(srv.join("g"), "g content\n").expect("write");
    support::annex(&srv, &["add", "f", "g"]);
    support::git(&srv, &["commit", "-q", "-m", "add"]);
    let cli = top.path().join("cli");
    support::git(
        top.path(),
        &["clone", "-q", srv.to_str().expect("utf-8"), "cli"],
    );
    support::git(&cli, &["config", "annex.uuid", CLIENT_UUID]);
    support::annex(&cli, &["init", "cli"]);
    support::git(&cli, &["config", "remote.origin.annex-uuid", SERVER_UUID]);
    let gone = top.path().join("not-there");
    support::git(
        &cli,
        &["remote", "set-url", "origin", gone.to_str().expect("utf-8")],
    );
    support::git(
        &cli,
        &["config", "annex.security.allowed-ip-addresses", "127.0.0.1"],
    );
    Net {
        _top: top,
        srv,
        cli,
    }
}

fn point_at(n: &Net, s: &Served) {
    support::git(
        &n.cli,
        &[
            "config",
            "remote.origin.annexUrl",
            &format!("annex+http://127.0.0.1:{}/git-annex/", s.port),
        ],
    );
}

/// Whether `repo` has the content of `file` (named in `cli`).
fn has_content(repo: &Path, cli: &Path, file: &str) -> bool {
    let key = support::annex(cli, &["lookupkey", file]);
    run(Impl::Reference, repo, &["contentlocation", key.trim()])
        .status
        .success()
}

/// The UUIDs the location log (read by the reference in `repo`) lists for
/// `file`.
fn whereis(repo: &Path, file: &str) -> Vec<String> {
    let out = run(Impl::Reference, repo, &["whereis", "--json", file]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("whereis --json: {e}: {}", text(&out)));
    let mut l: Vec<String> = v["whereis"]
        .as_array()
        .expect("whereis list")
        .iter()
        .map(|w| w["uuid"].as_str().expect("uuid").to_string())
        .collect();
    l.sort();
    l
}

/// get, whereis, drop --from, copy --to, a local drop proven by a lock
/// kept on the server, a new file sent: each side's logs as git-annex
/// keeps them.
fn content_round_trip(server: Impl, client: Impl) {
    let n = net();
    let s = serve(server, &n.srv, &["--wideopen"], &[]);
    point_at(&n, &s);
    let ctx = format!("{server:?} server, {client:?} client");

    let out = run(client, &n.cli, &["get", "f"]);
    assert!(out.status.success(), "{ctx}: get: {}", text(&out));
    assert_eq!(
        std::fs::read_to_string(n.cli.join("f")).expect("read f"),
        "f content\n"
    );
    assert_eq!(
        whereis(&n.cli, "f"),
        vec![SERVER_UUID.to_string(), CLIENT_UUID.to_string()],
        "{ctx}"
    );

    let out = run(client, &n.cli, &["drop", "--from", "origin", "f"]);
    assert!(out.status.success(), "{ctx}: drop --from: {}", text(&out));
    assert!(
        !has_content(&n.srv, &n.cli, "f"),
        "{ctx}: still on the server"
    );
    // The server recorded the removal in its own log.
    assert_eq!(whereis(&n.srv, "f"), Vec::<String>::new(), "{ctx}");

    let out = run(client, &n.cli, &["copy", "--to", "origin", "f"]);
    assert!(out.status.success(), "{ctx}: copy --to: {}", text(&out));
    assert!(has_content(&n.srv, &n.cli, "f"), "{ctx}: not stored");
    assert_eq!(whereis(&n.srv, "f"), vec![SERVER_UUID.to_string()], "{ctx}");

    // The only other copy is on the server: dropping here needs its lock.
    let out = run(client, &n.cli, &["drop", "f"]);
    assert!(out.status.success(), "{ctx}: drop: {}", text(&out));
    assert!(
        text(&out).contains("locking origin"),
        "{ctx}: {}",
        text(&out)
    );
    assert!(has_content(&n.srv, &n.cli, "f"), "{ctx}");
    assert!(!has_content(&n.cli, &n.cli, "f"), "{ctx}");

    std::fs::write(n.cli.join("h"), "h content\n").expect("write");
    assert!(run(client, &n.cli, &["add", "h"]).status.success());
    let out = run(client, &n.cli, &["copy", "--to", "origin", "h"]);
    assert!(out.status.success(), "{ctx}: copy h: {}", text(&out));
    assert!(has_content(&n.srv, &n.cli, "h"), "{ctx}");
    let out = run(Impl::Reference, &n.srv, &["fsck", "--fast", "--quiet"]);
    assert!(out.status.success(), "{ctx}: fsck: {}", text(&out));
}

#[test]
fn p2phttp_ours_served_to_the_reference_client() {
    content_round_trip(Impl::Ours, Impl::Reference);
}

#[test]
fn p2phttp_reference_served_to_our_client() {
    content_round_trip(Impl::Reference, Impl::Ours);
}

#[test]
fn p2phttp_ours_served_to_our_client() {
    content_round_trip(Impl::Ours, Impl::Ours);
}

/// One HTTP/1.1 request; the status code and the response's head.
fn request(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut req = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("send");
    s.write_all(body).expect("send body");
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let resp = String::from_utf8_lossy(&resp).into_owned();
    let code = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {resp:?}"));
    let head = resp.split("\r\n\r\n").next().unwrap_or("").to_string();
    (code, head)
}

/// The status codes of a few requests, under `opts`, with and without
/// credentials.
fn statuses(who: Impl, opts: &[&str]) -> Vec<(String, u16, bool)> {
    let n = net();
    let env = [
        ("GIT_ANNEX_P2PHTTP_PASSWORD_alice", "secret"),
        ("GIT_ANNEX_P2PHTTP_PASSWORD_bob", "bobpw"),
        ("GIT_ANNEX_P2PHTTP_PERMISSIONS_bob", "readonly"),
    ];
    let s = serve(who, &n.srv, opts, &env);
    let key = support::annex(&n.cli, &["lookupkey", "g"]);
    let key = key.trim();
    // Removed while g is locked: git-annex's server fails (500) removing
    // content its own process holds a lock on; ours answers that it was
    // not removed. Not compared here.
    let other = support::annex(&n.cli, &["lookupkey", "f"]);
    let other = other.trim();
    let base = format!("/git-annex/{SERVER_UUID}");
    let q = format!("key={key}&clientuuid={CLIENT_UUID}");
    let q_other = format!("key={other}&clientuuid={CLIENT_UUID}");
    let basic = |u: &str, p: &str| {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::URL_SAFE.encode(format!("{u}:{p}"))
        )
    };
    let creds: [(&str, Option<String>); 4] = [
        ("none", None),
        ("alice", Some(basic("alice", "secret"))),
        ("wrong", Some(basic("alice", "nope"))),
        ("bob", Some(basic("bob", "bobpw"))),
    ];
    let mut out = Vec::new();
    for (who_auth, auth) in &creds {
        let mut h: Vec<(&str, &str)> = Vec::new();
        if let Some(a) = auth {
            h.push(("Authorization", a.as_str()));
        }
        let checks: [(&str, &str, String); 5] = [
            (
                "checkpresent",
                "POST",
                format!("{base}/v4/checkpresent?{q}"),
            ),
            (
                "get",
                "GET",
                format!("{base}/v4/key/{key}?clientuuid={CLIENT_UUID}"),
            ),
            ("lockcontent", "POST", format!("{base}/v4/lockcontent?{q}")),
            ("putoffset", "POST", format!("{base}/v4/putoffset?{q}")),
            ("remove", "POST", format!("{base}/v4/remove?{q_other}")),
        ];
        for (name, method, target) in checks {
            let (code, head) = request(s.port, method, &target, &h, b"");
            let www = head
                .to_ascii_lowercase()
                .contains("www-authenticate: basic realm=\"git-annex\"");
            out.push((format!("{who_auth} {name}"), code, www));
        }
    }
    // Not a version the API has, a version without the endpoint, no such
    // endpoint, a missing parameter, a repository not served.
    for (name, target) in [
        ("v9", format!("{base}/v9/checkpresent?{q}")),
        ("v2 gettimestamp", format!("{base}/v2/gettimestamp?{q}")),
        ("v4 nosuch", format!("{base}/v4/nosuch?{q}")),
        (
            "no key",
            format!("{base}/v4/checkpresent?clientuuid={CLIENT_UUID}"),
        ),
    ] {
        let (code, _) = request(s.port, "POST", &target, &[], b"");
        out.push((name.into(), code, false));
    }
    let (code, _) = request(
        s.port,
        "POST",
        &format!("/git-annex/dddddddd-0000-0000-0000-000000000000/v4/checkpresent?{q}"),
        &[],
        b"",
    );
    out.push(("unknown uuid".into(), code, false));
    out
}

fn same_statuses(opts: &[&str]) {
    let theirs = statuses(Impl::Reference, opts);
    let ours = statuses(Impl::Ours, opts);
    assert_eq!(ours, theirs, "status codes under {opts:?}");
}

#[test]
fn p2phttp_unauth_readonly_answers_as_the_reference() {
    same_statuses(&["--unauth-readonly"]);
}

#[test]
fn p2phttp_unauth_appendonly_with_authenv_answers_as_the_reference() {
    same_statuses(&["--unauth-appendonly", "--authenv-http"]);
}

#[test]
fn p2phttp_authenv_only_answers_as_the_reference() {
    same_statuses(&["--authenv-http"]);
}

#[test]
fn p2phttp_authenv_over_plain_http_is_not_accepted() {
    // --authenv accepts passwords over HTTPS only.
    same_statuses(&["--authenv", "--unauth-readonly"]);
}

/// Writes a credential helper answering `user`/`password` and sets it.
fn credential_helper(n: &Net, user: &str, password: &str) {
    let script = n
        .cli
        .parent()
        .expect("top")
        .join(format!("cred-{user}-{password}.sh"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ntest \"$1\" = get || exit 0\necho username={user}\necho password={password}\n"
        ),
    )
    .expect("write helper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    support::git(
        &n.cli,
        &[
            "config",
            "credential.helper",
            script.to_str().expect("utf-8"),
        ],
    );
}

/// Against a server that wants a password, from both clients: without
/// one (no credential helper) and with a wrong one a write is refused and
/// nothing is stored; with the right one from git's credential helper it
/// is stored. A read-only server refuses a put outright.
fn auth_refusals(server: Impl, client: Impl) {
    let ctx = format!("{server:?} server, {client:?} client");
    let n = net();
    let s = serve(
        server,
        &n.srv,
        &["--authenv-http"],
        &[("GIT_ANNEX_P2PHTTP_PASSWORD_alice", "secret")],
    );
    point_at(&n, &s);
    std::fs::write(n.cli.join("h"), "h content\n").expect("write");
    assert!(run(client, &n.cli, &["add", "h"]).status.success());

    // No credential helper: the reference's client fails asking git for
    // a password, ours on the 401 itself.
    let out = run(client, &n.cli, &["copy", "--to", "origin", "h"]);
    assert!(
        !out.status.success(),
        "{ctx}: unauthenticated copy: {}",
        text(&out)
    );
    assert!(
        text(&out).contains("401 Unauthorized") || text(&out).contains("credential"),
        "{ctx}: {}",
        text(&out)
    );
    assert!(!has_content(&n.srv, &n.cli, "h"), "{ctx}");

    credential_helper(&n, "alice", "wrong");
    let out = run(client, &n.cli, &["copy", "--to", "origin", "h"]);
    assert!(
        !out.status.success(),
        "{ctx}: wrong password: {}",
        text(&out)
    );
    assert!(
        text(&out).contains("401 Unauthorized"),
        "{ctx}: {}",
        text(&out)
    );
    assert!(!has_content(&n.srv, &n.cli, "h"), "{ctx}");

    credential_helper(&n, "alice", "secret");
    let out = run(client, &n.cli, &["copy", "--to", "origin", "h"]);
    assert!(
        out.status.success(),
        "{ctx}: right password: {}",
        text(&out)
    );
    assert!(has_content(&n.srv, &n.cli, "h"), "{ctx}");
    drop(s);

    let s = serve(server, &n.srv, &["--unauth-readonly"], &[]);
    point_at(&n, &s);
    std::fs::write(n.cli.join("i"), "i content\n").expect("write");
    assert!(run(client, &n.cli, &["add", "i"]).status.success());
    let out = run(client, &n.cli, &["copy", "--to", "origin", "i"]);
    assert!(
        !out.status.success(),
        "{ctx}: read-only put: {}",
        text(&out)
    );
    assert!(
        text(&out).contains("403 Forbidden"),
        "{ctx}: {}",
        text(&out)
    );
    assert!(!has_content(&n.srv, &n.cli, "i"), "{ctx}");
    let out = run(client, &n.cli, &["get", "g"]);
    assert!(out.status.success(), "{ctx}: read-only get: {}", text(&out));
}

#[test]
fn p2phttp_auth_refusals_reference_client_our_server() {
    auth_refusals(Impl::Ours, Impl::Reference);
}

#[test]
fn p2phttp_auth_refusals_our_client_reference_server() {
    auth_refusals(Impl::Reference, Impl::Ours);
}

#[test]
fn p2phttp_private_address_refused_unless_allowed() {
    // As git-annex: 127.0.0.1 is not reached unless
    // annex.security.allowed-ip-addresses lets it.
    let n = net();
    let s = serve(Impl::Ours, &n.srv, &["--wideopen"], &[]);
    point_at(&n, &s);
    support::git(
        &n.cli,
        &["config", "--unset", "annex.security.allowed-ip-addresses"],
    );
    let out = run(Impl::Ours, &n.cli, &["get", "f"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("annex.security.allowed-ip-addresses does not allow accessing address"),
        "{}",
        text(&out)
    );
    assert!(!has_content(&n.cli, &n.cli, "f"));
}

/// One HTTP/1.1 request; the status code and the body (de-chunked).
fn request_body(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut req = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("send");
    let _ = s.write_all(body);
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    parse_response(&resp)
}

fn parse_response(resp: &[u8]) -> (u16, Vec<u8>) {
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(resp)));
    let head = String::from_utf8_lossy(&resp[..split]).to_ascii_lowercase();
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    let mut body = &resp[split + 4..];
    if !head.contains("transfer-encoding: chunked") {
        return (code, body.to_vec());
    }
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&body[..eol]).trim(), 16)
            .expect("chunk size");
        if size == 0 || body.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&body[eol + 2..eol + 2 + size]);
        body = &body[(eol + 4 + size).min(body.len())..];
    }
    (code, out)
}

fn json_of(b: &[u8]) -> serde_json::Value {
    serde_json::from_slice(b)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(b)))
}

/// Puts of content that is not the key's, of a body shorter and longer
/// than its data length, then the right one, then `putoffset` of what is
/// stored; each answer (status, JSON) and what the server then has.
fn put_answers(who: Impl) -> Vec<String> {
    let n = net();
    std::fs::write(n.cli.join("h"), "h content\n").expect("write");
    support::annex(&n.cli, &["add", "h"]);
    let key = support::annex(&n.cli, &["lookupkey", "h"]);
    let key = key.trim();
    let s = serve(who, &n.srv, &["--wideopen"], &[]);
    let put = format!("/git-annex/{SERVER_UUID}/v4/put?key={key}&clientuuid={CLIENT_UUID}");
    let mut out = Vec::new();
    for (name, len, body) in [
        ("wrong content", "10", &b"H CONTENT\n"[..]),
        ("too long", "10", &b"h content\nX"[..]),
        ("too short", "10", &b"h conte"[..]),
        ("right", "10", &b"h content\n"[..]),
    ] {
        let (code, resp) = request_body(
            s.port,
            "POST",
            &put,
            &[
                ("X-git-annex-data-length", len),
                ("Content-Type", "application/octet-stream"),
            ],
            body,
        );
        let json = if code == 200 {
            json_of(&resp).to_string()
        } else {
            String::new()
        };
        out.push(format!(
            "{name}: {code} {json} stored={}",
            has_content(&n.srv, &n.cli, "h")
        ));
    }
    let (code, resp) = request_body(
        s.port,
        "POST",
        &format!("/git-annex/{SERVER_UUID}/v4/putoffset?key={key}&clientuuid={CLIENT_UUID}"),
        &[],
        b"",
    );
    out.push(format!("putoffset: {code} {}", json_of(&resp)));
    let (code, resp) = request_body(
        s.port,
        "POST",
        &format!("/git-annex/{SERVER_UUID}/v1/putoffset?key={key}&clientuuid={CLIENT_UUID}"),
        &[],
        b"",
    );
    out.push(format!("v1 putoffset: {code} {}", json_of(&resp)));
    let fsck = run(Impl::Reference, &n.srv, &["fsck", "--quiet"]);
    out.push(format!("fsck ok: {}", fsck.status.success()));
    out
}

#[test]
fn p2phttp_puts_of_bad_data_answered_as_the_reference() {
    let theirs = put_answers(Impl::Reference);
    let ours = put_answers(Impl::Ours);
    assert_eq!(ours, theirs);
    assert!(
        ours.iter()
            .any(|l| l.starts_with("right: 200") && l.ends_with("stored=true"))
    );
}

#[test]
fn p2phttp_keeplocked_holds_the_lock_until_unlocked() {
    let n = net();
    let s = serve(Impl::Ours, &n.srv, &["--wideopen"], &[]);
    let key = support::annex(&n.cli, &["lookupkey", "f"]);
    let key = key.trim();
    let base = format!("/git-annex/{SERVER_UUID}/v4");
    let q = format!("key={key}&clientuuid={CLIENT_UUID}");
    let (code, resp) = request_body(s.port, "POST", &format!("{base}/lockcontent?{q}"), &[], b"");
    assert_eq!(code, 200);
    let lock = json_of(&resp);
    assert_eq!(lock["locked"], serde_json::Value::Bool(true), "{lock}");
    let lockid = lock["lockid"].as_str().expect("lockid").to_string();
    let remove = || {
        let (code, resp) = request_body(s.port, "POST", &format!("{base}/remove?{q}"), &[], b"");
        assert_eq!(code, 200, "{}", String::from_utf8_lossy(&resp));
        json_of(&resp)["removed"].clone()
    };
    assert_eq!(
        remove(),
        serde_json::Value::Bool(false),
        "removed while locked"
    );

    // keeplocked: a body streamed in chunks, `{"unlock": false}` first.
    let mut ka = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    ka.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let head = format!(
        "POST {base}/keeplocked?lockid={lockid}&clientuuid={CLIENT_UUID} HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive\r\nKeep-Alive: timeout=1200\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    ka.write_all(head.as_bytes()).expect("send");
    let chunk = |s: &mut TcpStream, b: &[u8]| {
        s.write_all(format!("{:x}\r\n", b.len()).as_bytes())
            .expect("send");
        s.write_all(b).expect("send");
        s.write_all(b"\r\n").expect("send");
    };
    chunk(&mut ka, b"{\"unlock\": false}\n");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        remove(),
        serde_json::Value::Bool(false),
        "removed while kept locked"
    );
    assert!(has_content(&n.srv, &n.cli, "f"));
    chunk(&mut ka, b"{\"unlock\": true}\n");
    ka.write_all(b"0\r\n\r\n").expect("send");
    let mut resp = Vec::new();
    let mut buf = [0u8; 4096];
    // Read until the JSON answer is in (the connection is kept alive).
    while !resp.ends_with(b"}") && !String::from_utf8_lossy(&resp).contains("\r\n0\r\n") {
        match ka.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => resp.extend_from_slice(&buf[..k]),
        }
    }
    let (code, body) = parse_response(&resp);
    assert_eq!(code, 200);
    assert_eq!(json_of(&body)["locked"], serde_json::Value::Bool(false));
    // Unlocked: the removal goes through.
    let start = Instant::now();
    loop {
        if remove() == serde_json::Value::Bool(true) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still locked after unlock"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!has_content(&n.srv, &n.cli, "f"));
}

/// Regression: the server answered `keeplocked` as soon as it read the
/// unlock, and closed the connection while the client was still ending
/// its chunked stream (a broken pipe on the client's last chunk).
#[test]
fn p2phttp_keeplocked_end_of_stream_after_unlock_is_read_before_the_answer() {
    let n = net();
    let s = serve(Impl::Ours, &n.srv, &["--wideopen"], &[]);
    let key = support::annex(&n.cli, &["lookupkey", "f"]);
    let base = format!("/git-annex/{SERVER_UUID}/v4");
    let q = format!("key={}&clientuuid={CLIENT_UUID}", key.trim());
    let (code, resp) = request_body(s.port, "POST", &format!("{base}/lockcontent?{q}"), &[], b"");
    assert_eq!(code, 200);
    let lockid = json_of(&resp)["lockid"]
        .as_str()
        .expect("lockid")
        .to_string();
    let mut ka = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
    ka.set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let body = b"{\"unlock\": true}\n";
    let head = format!(
        "POST {base}/keeplocked?lockid={lockid}&clientuuid={CLIENT_UUID} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
        body.len()
    );
    ka.write_all(head.as_bytes()).expect("send");
    ka.write_all(body).expect("send");
    ka.write_all(b"\r\n").expect("send");
    // Long enough for an answer and a close to arrive before the end.
    std::thread::sleep(Duration::from_millis(500));
    // In two writes: on a connection the server has closed by now the
    // second fails (the first only brings back the reset).
    ka.write_all(b"0\r\n").expect("send the stream's end");
    std::thread::sleep(Duration::from_millis(200));
    ka.write_all(b"\r\n").expect("send the stream's end");
    let mut resp = Vec::new();
    let mut buf = [0u8; 4096];
    while !resp.ends_with(b"}") && !String::from_utf8_lossy(&resp).contains("\r\n0\r\n") {
        match ka.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => resp.extend_from_slice(&buf[..k]),
        }
    }
    let (code, body) = parse_response(&resp);
    assert_eq!(code, 200);
    assert_eq!(json_of(&body)["locked"], serde_json::Value::Bool(false));
}

#[test]
fn p2phttp_directory_serves_each_repository_under_its_uuid() {
    // Two servers' repositories under one directory, one port: each
    // clone reaches its own through the same annex+http URL.
    let a = net();
    let b_top = tempfile::tempdir().expect("temp dir");
    let dir = b_top.path().join("served");
    std::fs::create_dir(&dir).expect("mkdir");
    let nested = dir.join("group").join("srv-b");
    std::fs::create_dir_all(&nested).expect("mkdir");
    support::git(&nested, &["init", "-q", "-b", "main"]);
    support::git(
        &nested,
        &[
            "config",
            "annex.uuid",
            "bbbbbbbb-1600-0000-0000-000000000003",
        ],
    );
    support::annex(&nested, &["init", "srv-b"]);
    std::fs::write(nested.join("k"), "k content\n").expect("write");
    support::annex(&nested, &["add", "k"]);
    support::git(&nested, &["commit", "-q", "-m", "k"]);
    let moved = dir.join("srv-a");
    std::fs::rename(&a.srv, &moved).expect("move srv");

    let cli_b = b_top.path().join("cli-b");
    support::git(
        b_top.path(),
        &["clone", "-q", nested.to_str().expect("utf-8"), "cli-b"],
    );
    support::annex(&cli_b, &["init", "cli-b"]);
    support::git(
        &cli_b,
        &[
            "config",
            "remote.origin.annex-uuid",
            "bbbbbbbb-1600-0000-0000-000000000003",
        ],
    );
    support::git(
        &cli_b,
        &["config", "annex.security.allowed-ip-addresses", "127.0.0.1"],
    );

    let port = free_port();
    let port_s = port.to_string();
    let mut cmd = Command::new(Impl::Ours.bin());
    support::hermetic(&mut cmd)
        .current_dir(b_top.path())
        .args([
            "p2phttp",
            "--bind",
            "127.0.0.1",
            "--port",
            &port_s,
            "--wideopen",
        ])
        .arg("--directory")
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let s = Served {
        child: cmd.spawn().expect("start p2phttp"),
        port,
    };
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "not listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!("annex+http://127.0.0.1:{}/git-annex/", s.port);
    for cli in [&a.cli, &cli_b] {
        support::git(cli, &["config", "remote.origin.annexUrl", &url]);
    }
    let out = run(Impl::Reference, &a.cli, &["get", "f"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(Impl::Reference, &cli_b, &["get", "k"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(cli_b.join("k")).expect("read k"),
        "k content\n"
    );
}

/// Regression: a client gone in the middle of a large GET left the
/// server's session thread waiting to write, holding its job for good:
/// with `-J2`, two such clients stopped the server from serving anyone.
#[test]
fn p2phttp_clients_gone_mid_get_do_not_hold_the_jobs() {
    let n = net();
    let big: Vec<u8> = (0..16u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(n.srv.join("big"), &big).expect("write");
    support::annex(&n.srv, &["add", "big"]);
    support::git(&n.srv, &["commit", "-q", "-m", "big"]);
    let key = support::annex(&n.srv, &["lookupkey", "big"]);
    let key = key.trim();
    let s = serve(Impl::Ours, &n.srv, &["--wideopen"], &[]);
    let base = format!("/git-annex/{SERVER_UUID}/v4");
    for _ in 0..3 {
        let mut c = TcpStream::connect(("127.0.0.1", s.port)).expect("connect");
        let req = format!(
            "GET {base}/key/{key}?clientuuid={CLIENT_UUID} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
            s.port
        );
        c.write_all(req.as_bytes()).expect("send");
        let mut some = [0u8; 4096];
        let got = c.read(&mut some).expect("the start of the answer");
        assert!(
            String::from_utf8_lossy(&some[..got]).starts_with("HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&some[..got])
        );
        // Gone, with most of the content unread.
    }
    let (code, _) = request_body(
        s.port,
        "POST",
        &format!("{base}/checkpresent?key={key}&clientuuid={CLIENT_UUID}"),
        &[],
        b"",
    );
    assert_eq!(code, 200, "the server serves again");
}

/// `run` with extra environment.
fn run_env(who: Impl, dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(who.bin());
    support::hermetic(&mut cmd)
        .current_dir(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0");
    for (k, v) in env {
        cmd.env(k, v);
    }
    support::output_with_stdin(cmd, None)
}

#[test]
fn p2phttp_over_tls_with_a_self_signed_certificate_serves_a_client_trusting_it() {
    let n = net();
    let tls = n._top.path().join("tls");
    std::fs::create_dir(&tls).expect("mkdir");
    let (cert, key) = (tls.join("cert.pem"), tls.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            // A server's certificate, not a CA's (which webpki refuses
            // as one).
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(made.status.success(), "openssl: {made:?}");
    let s = serve(
        Impl::Ours,
        &n.srv,
        &[
            "--wideopen",
            "--certfile",
            cert.to_str().expect("utf-8"),
            "--privatekeyfile",
            key.to_str().expect("utf-8"),
        ],
        &[],
    );
    support::git(
        &n.cli,
        &[
            "config",
            "remote.origin.annexUrl",
            &format!("annex+https://127.0.0.1:{}/git-annex/", s.port),
        ],
    );
    // Plain HTTP to the TLS port, and TLS without trusting the
    // certificate: both fail, nothing fetched.
    let out = run(Impl::Ours, &n.cli, &["get", "f"]);
    assert!(!out.status.success(), "untrusted: {}", text(&out));
    assert!(!has_content(&n.cli, &n.cli, "f"));
    // Trusted as git is told (GIT_SSL_CAINFO).
    {
        let var = "GIT_SSL_CAINFO";
        let env = [(var, cert.as_path())];
        let out = run_env(Impl::Ours, &n.cli, &["get", "f"], &env);
        assert!(out.status.success(), "{var}: get: {}", text(&out));
        assert_eq!(
            std::fs::read_to_string(n.cli.join("f")).expect("read f"),
            "f content\n"
        );
        let out = run_env(Impl::Ours, &n.cli, &["drop", "--from", "origin", "f"], &env);
        assert!(out.status.success(), "{var}: drop --from: {}", text(&out));
        assert!(!has_content(&n.srv, &n.cli, "f"));
        let out = run_env(Impl::Ours, &n.cli, &["copy", "--to", "origin", "f"], &env);
        assert!(out.status.success(), "{var}: copy --to: {}", text(&out));
        assert!(has_content(&n.srv, &n.cli, "f"));
        let out = run_env(Impl::Ours, &n.cli, &["drop", "f"], &env);
        assert!(out.status.success(), "{var}: drop: {}", text(&out));
        assert!(!has_content(&n.cli, &n.cli, "f"));
    }
    let out = run(Impl::Reference, &n.srv, &["fsck", "--quiet"]);
    assert!(out.status.success(), "fsck: {}", text(&out));
}
