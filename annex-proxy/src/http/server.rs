//! The `p2phttp` server: git-annex's HTTP API in front of repositories on
//! this machine.
//!
//! Each request is authorized (the `--wideopen`, `--unauth-*` and
//! `--authenv*` modes, users from `GIT_ANNEX_P2PHTTP_PASSWORD_*` and
//! `GIT_ANNEX_P2PHTTP_PERMISSIONS_*`), then served by a P2P protocol
//! session with [`Server`] in the mode it was granted: the mode is checked
//! twice, here and by the protocol server. At most `--jobs` requests are
//! served at once (others wait); locks do not count against that, but at
//! most `--lockedfiles` are held at once. A lock taken by `lockcontent`
//! lives in its own session until `keeplocked` is told to unlock, its
//! stream ends, or ten minutes pass without a `keeplocked`; the protocol
//! server's retention time keeps the content even if the process dies.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{PipeReader, PipeWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::header::HeaderValue;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use annex_core::key::Key;
use annex_core::p2p::{Message, P2pReader, P2pWriter};
use annex_core::uuid::Uuid;

use super::{decode_b64_text, decode_base64_any};
use crate::server::{Server, ServerError, ServerMode};

/// The header carrying the length of content in a `GET` answer or a `put`.
pub const DATA_LENGTH_HEADER: &str = "X-git-annex-data-length";

/// The longest `keeplocked` line taken; `{"unlock": false}` is 18 bytes.
const KEEPLOCKED_LINE_MAX: usize = 4096;

/// How long `keeplocked` waits for the end of a stream that asked to
/// unlock before it answers anyway.
const KEEPLOCKED_DRAIN: Duration = Duration::from_secs(5);

/// How long a lock taken by `lockcontent` waits for its `keeplocked`.
const LOCK_WAIT: Duration = Duration::from_secs(600);

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum HttpServerError {
    /// A served repository could not be opened.
    #[error("{0}")]
    Repository(#[from] ServerError),
    /// The address could not be bound or served.
    #[error("{what} {addr}: {source}")]
    Io {
        /// What failed.
        what: &'static str,
        /// The address or file.
        addr: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Options that do not go together, in git-annex's words.
    #[error("{0}")]
    Usage(&'static str),
    /// The TLS certificate or key could not be used.
    #[error("{0}")]
    Tls(String),
}

/// The server's options (git-annex's `p2phttp` options).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--bind`: the address (all addresses when `None`).
    pub bind: Option<String>,
    /// `--port` (9417 when `None`).
    pub port: Option<u16>,
    /// `--jobs`: requests served at once (at least 1).
    pub jobs: usize,
    /// `--lockedfiles`: locks held at once (100 when `None`).
    pub lockedfiles: Option<usize>,
    /// `--wideopen`.
    pub wideopen: bool,
    /// `--unauth-readonly`.
    pub unauth_readonly: bool,
    /// `--unauth-appendonly`.
    pub unauth_appendonly: bool,
    /// `--unauth-nolocking`.
    pub unauth_nolocking: bool,
    /// `--authenv` (HTTPS only).
    pub authenv: bool,
    /// `--authenv-http`.
    pub authenv_http: bool,
    /// `--certfile`.
    pub certfile: Option<PathBuf>,
    /// `--privatekeyfile`.
    pub privatekeyfile: Option<PathBuf>,
    /// `--clusterjobs`: nodes of a cluster worked with at once per
    /// request (1 when `None`, as the reference; not `annex.jobs`).
    pub clusterjobs: Option<usize>,
}

/// The users of `--authenv`: a user name and password, and what the
/// user may do.
#[derive(Debug, Clone, Default)]
pub struct Users(HashMap<(Vec<u8>, Vec<u8>), ServerMode>);

impl Users {
    /// Reads `GIT_ANNEX_P2PHTTP_PASSWORD_<user>` and
    /// `GIT_ANNEX_P2PHTTP_PERMISSIONS_<user>` (`readonly`, `appendonly`;
    /// full access otherwise) from `vars`.
    pub fn from_env(vars: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>) -> Users {
        use std::os::unix::ffi::OsStrExt;
        let vars: Vec<(Vec<u8>, Vec<u8>)> = vars
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect();
        let mut perms = HashMap::new();
        for (k, v) in &vars {
            if let Some(user) = k.strip_prefix(b"GIT_ANNEX_P2PHTTP_PERMISSIONS_") {
                let mode = match v.as_slice() {
                    b"readonly" => ServerMode::ReadOnly,
                    b"appendonly" => ServerMode::AppendOnly,
                    _ => continue,
                };
                perms.insert(user.to_vec(), mode);
            }
        }
        let mut users = HashMap::new();
        for (k, v) in &vars {
            if let Some(user) = k.strip_prefix(b"GIT_ANNEX_P2PHTTP_PASSWORD_") {
                let mode = perms.get(user).copied().unwrap_or(ServerMode::ReadWrite);
                users.insert((user.to_vec(), v.clone()), mode);
            }
        }
        Users(users)
    }
}

/// What a request does, for authorization (git-annex's `ActionClass`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Read,
    Write,
    Remove,
    Lock,
}

/// What a client may do before looking at the request.
#[derive(Debug, Clone, Copy)]
enum Access {
    Mode {
        mode: ServerMode,
        unauth_locking: bool,
        auth_allowed: bool,
    },
    CannotServe,
}

/// A request answered early.
type Fail = Response<Body>;

/// A served repository.
#[derive(Debug, Clone)]
struct Repo {
    uuid: Uuid,
    path: PathBuf,
    /// A remote or cluster the repository at `path` is a gateway for.
    proxied: Option<crate::gateway::Target>,
    /// `--clusterjobs`.
    clusterjobs: usize,
}

struct LockEntry {
    unlock: std::sync::mpsc::Sender<()>,
    kept: Arc<AtomicBool>,
}

struct State {
    opts: Options,
    users: Users,
    repos: Vec<Repo>,
    secure: bool,
    jobs: Arc<Semaphore>,
    locked_files: Arc<Semaphore>,
    locks: Mutex<HashMap<String, LockEntry>>,
}

/// A response body: whole, or streamed from a channel.
pub enum Body {
    /// Nothing or all of it at once.
    Full(Option<Bytes>),
    /// Chunks as they come; the stream ends when the sender is dropped.
    Stream(mpsc::Receiver<Bytes>),
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Stream(rx) => rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self {
            Body::Full(b) => {
                hyper::body::SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64))
            }
            Body::Stream(_) => hyper::body::SizeHint::default(),
        }
    }
}

fn respond(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let body: Bytes = body.into();
    let mut r = Response::new(Body::Full((!body.is_empty()).then_some(body)));
    *r.status_mut() = status;
    r
}

fn json_response(v: Value) -> Response<Body> {
    let mut r = respond(StatusCode::OK, v.to_string());
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    r
}

fn server_error(msg: impl std::fmt::Display) -> Response<Body> {
    respond(StatusCode::INTERNAL_SERVER_ERROR, msg.to_string())
}

fn bad_request(msg: impl std::fmt::Display) -> Response<Body> {
    respond(StatusCode::BAD_REQUEST, msg.to_string())
}

fn auth_required() -> Response<Body> {
    let mut r = respond(StatusCode::UNAUTHORIZED, Bytes::new());
    r.headers_mut().insert(
        hyper::header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"git-annex\", charset=\"UTF-8\""),
    );
    r
}

impl State {
    /// git-annex's `mkGetServerMode`.
    fn access(&self, auth: Option<&(Vec<u8>, Vec<u8>)>, authenv: bool) -> Access {
        let o = &self.opts;
        if let Some(a) = auth {
            let may = (self.secure && o.authenv) || (!self.secure && o.authenv_http);
            if authenv
                && may
                && let Some(mode) = self.users.0.get(a)
            {
                return Access::Mode {
                    mode: *mode,
                    unauth_locking: false,
                    auth_allowed: false,
                };
            }
            // Not accepted: as if unauthenticated, with no authentication
            // offered.
            return self.access(None, false);
        }
        let can_auth = authenv && (o.authenv || o.authenv_http);
        let unauth_locking = !o.unauth_nolocking;
        if o.wideopen {
            Access::Mode {
                mode: ServerMode::ReadWrite,
                unauth_locking,
                auth_allowed: false,
            }
        } else if o.unauth_appendonly {
            Access::Mode {
                mode: ServerMode::AppendOnly,
                unauth_locking,
                auth_allowed: can_auth,
            }
        } else if o.unauth_readonly {
            Access::Mode {
                mode: ServerMode::ReadOnly,
                unauth_locking,
                auth_allowed: can_auth,
            }
        } else {
            Access::CannotServe
        }
    }

    /// git-annex's `checkAuthActionClass`: the mode to serve the request
    /// in, or its refusal.
    fn authorize(
        &self,
        auth: Option<&(Vec<u8>, Vec<u8>)>,
        class: Class,
    ) -> Result<ServerMode, Fail> {
        let Access::Mode {
            mode,
            unauth_locking,
            auth_allowed,
        } = self.access(auth, true)
        else {
            return Err(auth_required());
        };
        let forbidden = || {
            if auth_allowed {
                auth_required()
            } else {
                respond(StatusCode::FORBIDDEN, Bytes::new())
            }
        };
        match (mode, class) {
            (ServerMode::ReadWrite, _) => Ok(ServerMode::ReadWrite),
            (_, Class::Lock) if unauth_locking => Ok(ServerMode::ReadOnly),
            (ServerMode::AppendOnly, Class::Remove) => Err(forbidden()),
            (ServerMode::AppendOnly, _) => Ok(ServerMode::AppendOnly),
            (ServerMode::ReadOnly, Class::Read) => Ok(ServerMode::ReadOnly),
            (ServerMode::ReadOnly, _) => Err(forbidden()),
        }
    }
}

/// One P2P protocol session with a served repository, on this side the
/// client.
struct Session {
    r: P2pReader<PipeReader>,
    w: P2pWriter<PipeWriter>,
    version: u64,
    thread: Option<std::thread::JoinHandle<Result<(), ServerError>>>,
}

impl Session {
    fn open(
        repo: &Repo,
        client: &Uuid,
        mode: ServerMode,
        version: u64,
        bypass: &[Uuid],
    ) -> Result<Session, Fail> {
        let pipe = || std::io::pipe().map_err(server_error);
        let (to_server_r, to_server_w) = pipe()?;
        let (from_server_r, from_server_w) = pipe()?;
        let thread = match &repo.proxied {
            Some(target) => crate::gateway::spawn(
                &repo.path,
                target.clone(),
                mode,
                repo.clusterjobs,
                to_server_r,
                from_server_w,
            )
            .map_err(|e| respond(StatusCode::BAD_GATEWAY, e.to_string()))?,
            None => {
                let mut server = Server::open(&repo.path, client.clone(), mode)
                    .map_err(|e| respond(StatusCode::BAD_GATEWAY, e.to_string()))?;
                std::thread::spawn(move || server.serve(to_server_r, from_server_w))
            }
        };
        let mut s = Session {
            r: P2pReader::new(from_server_r),
            w: P2pWriter::new(to_server_w),
            version: 0,
            thread: Some(thread),
        };
        match s.recv()? {
            Message::AuthSuccess(_) => {}
            other => return Err(s.unexpected(&other)),
        }
        s.send(&Message::Version(version))?;
        s.version = match s.recv()? {
            Message::Version(v) => v,
            other => return Err(s.unexpected(&other)),
        };
        if s.version >= 2 && !bypass.is_empty() {
            s.send(&Message::Bypass(bypass.to_vec()))?;
        }
        Ok(s)
    }

    fn send(&mut self, m: &Message) -> Result<(), Fail> {
        self.w.send(m).map_err(server_error)
    }

    fn recv(&mut self) -> Result<Message, Fail> {
        match self.r.read_message() {
            Ok(Some(m)) => Ok(m),
            Ok(None) => Err(self.failed("the repository's session ended")),
            Err(e) => Err(server_error(e)),
        }
    }

    /// The session's own failure when it has one, else `what`.
    fn failed(&mut self, what: &str) -> Fail {
        if let Some(t) = self.thread.take()
            && let Ok(Err(e)) = t.join()
        {
            return server_error(e);
        }
        server_error(what)
    }

    fn unexpected(&mut self, m: &Message) -> Fail {
        match m {
            Message::Error(e) => server_error(e),
            m => server_error(format!("unexpected P2P message {}", m.name())),
        }
    }

    /// `SUCCESS`, `FAILURE` and their `-PLUS` forms.
    fn success_plus(&mut self) -> Result<(bool, Vec<Uuid>), Fail> {
        match self.recv()? {
            Message::Success => Ok((true, Vec::new())),
            Message::Failure => Ok((false, Vec::new())),
            Message::SuccessPlus(l) => Ok((true, l)),
            Message::FailurePlus(l) => Ok((false, l)),
            other => Err(self.unexpected(&other)),
        }
    }

    /// Ends the session: the server sees the connection close and
    /// commits what it recorded.
    fn close(self) {
        let Session { r, w, thread, .. } = self;
        // Both ends first: a server still writing (a client gone in the
        // middle of a GET) then fails instead of waiting for a reader,
        // and the thread ends.
        drop(w);
        drop(r);
        if let Some(t) = thread {
            let _ = t.join();
        }
    }
}

fn plus_list(l: &[Uuid]) -> Value {
    Value::Array(l.iter().map(|u| Value::String(u.as_str().into())).collect())
}

/// A request's parsed parts.
struct Req {
    repo: Repo,
    version: u64,
    query: Vec<(String, Vec<u8>)>,
    auth: Option<(Vec<u8>, Vec<u8>)>,
}

impl Req {
    fn param(&self, name: &str) -> Option<&[u8]> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }

    fn required(&self, name: &str) -> Result<&[u8], Fail> {
        self.param(name)
            .ok_or_else(|| bad_request(format!("Query parameter {name} is required")))
    }

    fn key(&self) -> Result<Key, Fail> {
        let v = self.required("key")?;
        decode_b64_text(v)
            .and_then(|b| Key::parse(&b).ok())
            .ok_or_else(|| bad_request("Error parsing query parameter key failed: key parse error"))
    }

    fn uuid_param(&self, name: &str) -> Result<Option<Uuid>, Fail> {
        match self.param(name) {
            None => Ok(None),
            Some(v) => decode_b64_text(v)
                .and_then(|b| Uuid::parse(&b).ok())
                .map(Some)
                .ok_or_else(|| {
                    bad_request(format!(
                        "Error parsing query parameter {name} failed: empty UUID"
                    ))
                }),
        }
    }

    fn client(&self) -> Result<Uuid, Fail> {
        self.uuid_param("clientuuid")?
            .ok_or_else(|| bad_request("Query parameter clientuuid is required"))
    }

    fn bypass(&self) -> Result<Vec<Uuid>, Fail> {
        if self.version < 2 {
            return Ok(Vec::new());
        }
        self.query
            .iter()
            .filter(|(k, _)| k == "bypass")
            .map(|(_, v)| {
                decode_b64_text(v)
                    .and_then(|b| Uuid::parse(&b).ok())
                    .ok_or_else(|| bad_request("Error parsing query parameter bypass failed"))
            })
            .collect()
    }

    fn number(&self, name: &str) -> Result<Option<u64>, Fail> {
        match self.param(name) {
            None => Ok(None),
            Some(v) => std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse().ok())
                .map(Some)
                .ok_or_else(|| bad_request(format!("Error parsing query parameter {name} failed"))),
        }
    }

    fn file(&self) -> Result<Option<Vec<u8>>, Fail> {
        match self.param("associatedfile") {
            None => Ok(None),
            Some(v) => decode_b64_text(v)
                .map(Some)
                .ok_or_else(|| bad_request("Error parsing query parameter associatedfile failed")),
        }
    }
}

fn percent_decode(s: &[u8], plus_is_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'%' if i + 2 < s.len() => {
                let hex = std::str::from_utf8(&s[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

fn parse_query(q: Option<&str>) -> Vec<(String, Vec<u8>)> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                String::from_utf8_lossy(&percent_decode(k.as_bytes(), true)).into_owned(),
                percent_decode(v.as_bytes(), true),
            )
        })
        .collect()
}

fn parse_auth(h: &HeaderValue) -> Option<(Vec<u8>, Vec<u8>)> {
    let h = h.as_bytes();
    let sp = h.iter().position(|c| c.is_ascii_whitespace())?;
    if !h[..sp].eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let v = decode_base64_any(h[sp..].trim_ascii())?;
    let colon = v.iter().position(|c| *c == b':')?;
    Some((v[..colon].to_vec(), v[colon + 1..].to_vec()))
}

async fn handle(st: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    Ok(route(st, req).await.unwrap_or_else(|r| r))
}

async fn route(st: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, Fail> {
    let not_found = || respond(StatusCode::NOT_FOUND, Bytes::new());
    let path = req.uri().path().to_string();
    let segs: Vec<Vec<u8>> = path
        .split('/')
        .skip(1)
        .map(|s| percent_decode(s.as_bytes(), false))
        .collect();
    let segs: Vec<&[u8]> = segs.iter().map(|s| s.as_slice()).collect();
    let [b"git-annex", su, rest @ ..] = segs.as_slice() else {
        return Err(not_found());
    };
    let su = decode_b64_text(su)
        .and_then(|b| Uuid::parse(&b).ok())
        .ok_or_else(|| bad_request("Error parsing capture serveruuid failed: empty UUID"))?;
    let parse_version = |v: &[u8]| -> Option<u64> {
        let n = v.strip_prefix(b"v")?;
        match n {
            b"0" | b"1" | b"2" | b"3" | b"4" => Some(u64::from(n[0] - b'0')),
            _ => None,
        }
    };
    // (endpoint, version, key in the path). A known endpoint with a
    // version it does not have is a bad request, as with git-annex's
    // server; an unknown path is not found.
    let bad_version = || respond(StatusCode::BAD_REQUEST, "bad version");
    let (endpoint, version, path_key): (&[u8], Option<u64>, Option<&[u8]>) = match rest {
        [b"key", k] => (b"key-generic", Some(0), Some(*k)),
        [v, b"key", k] => (b"key", parse_version(v), Some(*k)),
        [v, ep] => (*ep, parse_version(v), None),
        _ => return Err(not_found()),
    };
    let lowest = match endpoint {
        b"key-generic" | b"key" | b"checkpresent" | b"remove" | b"put" | b"lockcontent"
        | b"keeplocked" => 0,
        b"remove-before" | b"gettimestamp" => 3,
        b"putoffset" => 1,
        _ => return Err(not_found()),
    };
    let version = version.filter(|v| *v >= lowest).ok_or_else(bad_version)?;
    let want = if endpoint.starts_with(b"key") {
        Method::GET
    } else {
        Method::POST
    };
    if req.method() != want {
        return Err(respond(StatusCode::METHOD_NOT_ALLOWED, Bytes::new()));
    }
    let auth = match req.headers().get(hyper::header::AUTHORIZATION) {
        None => None,
        Some(h) => Some(parse_auth(h).ok_or_else(|| {
            bad_request("Error parsing header Authorization failed: invalid basic auth header")
        })?),
    };
    let repo = st
        .repos
        .iter()
        .find(|r| r.uuid == su)
        .cloned()
        .ok_or_else(not_found)?;
    let r = Req {
        repo,
        version,
        query: parse_query(req.uri().query()),
        auth,
    };
    match endpoint {
        b"key-generic" | b"key" => {
            let k = path_key.unwrap_or_default();
            let key = decode_b64_text(k)
                .and_then(|b| Key::parse(&b).ok())
                .ok_or_else(|| bad_request("Error parsing capture key failed: key parse error"))?;
            serve_get(st, r, key, endpoint == b"key-generic").await
        }
        b"checkpresent" => {
            let key = r.key()?;
            simple(st, r, Class::Read, move |s| {
                s.send(&Message::CheckPresent(key))?;
                match s.recv()? {
                    Message::Success => Ok(json!({"present": true})),
                    Message::Failure => Ok(json!({"present": false})),
                    other => Err(s.unexpected(&other)),
                }
            })
            .await
        }
        b"remove" | b"remove-before" => {
            let key = r.key()?;
            let msg = if endpoint == b"remove" {
                Message::Remove(key)
            } else {
                let ts = r.number("timestamp")?;
                let Some(timestamp) = ts else {
                    r.required("timestamp")?;
                    return Err(bad_request("timestamp"));
                };
                Message::RemoveBefore { timestamp, key }
            };
            simple(st, r, Class::Remove, move |s| {
                s.send(&msg)?;
                let (ok, plus) = s.success_plus()?;
                Ok(if version >= 2 {
                    json!({"removed": ok, "plusuuids": plus_list(&plus)})
                } else {
                    json!({"removed": ok})
                })
            })
            .await
        }
        b"gettimestamp" => {
            simple(st, r, Class::Read, |s| {
                s.send(&Message::GetTimestamp)?;
                match s.recv()? {
                    Message::Timestamp(t) => Ok(json!({"timestamp": t})),
                    other => Err(s.unexpected(&other)),
                }
            })
            .await
        }
        b"putoffset" => {
            let key = r.key()?;
            simple(st, r, Class::Write, move |s| {
                s.send(&Message::Put { file: None, key })?;
                match s.recv()? {
                    // The session then ends without DATA: the server
                    // keeps what it has for the put to come.
                    Message::PutFrom(o) => Ok(json!({"offset": o})),
                    Message::AlreadyHave => Ok(already_have(version, &[])),
                    Message::AlreadyHavePlus(l) => Ok(already_have(version, &l)),
                    other => Err(s.unexpected(&other)),
                }
            })
            .await
        }
        b"put" => {
            let len = req
                .headers()
                .get(DATA_LENGTH_HEADER)
                .ok_or_else(|| bad_request("Header X-git-annex-data-length is required"))?
                .to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| {
                    bad_request("Error parsing header X-git-annex-data-length failed")
                })?;
            serve_put(st, r, len, req.into_body()).await
        }
        b"lockcontent" => serve_lock(st, r).await,
        b"keeplocked" => serve_keeplocked(st, r, req.into_body()).await,
        _ => Err(not_found()),
    }
}

fn already_have(version: u64, l: &[Uuid]) -> Value {
    if version >= 2 {
        json!({"alreadyhave": true, "plusuuids": plus_list(l)})
    } else {
        json!({"alreadyhave": true})
    }
}

async fn job(st: &State) -> Result<OwnedSemaphorePermit, Fail> {
    st.jobs
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| respond(StatusCode::SERVICE_UNAVAILABLE, Bytes::new()))
}

/// A request answered by one exchange in a session, with JSON.
async fn simple(
    st: Arc<State>,
    r: Req,
    class: Class,
    f: impl FnOnce(&mut Session) -> Result<Value, Fail> + Send + 'static,
) -> Result<Response<Body>, Fail> {
    let mode = st.authorize(r.auth.as_ref(), class)?;
    let client = r.client()?;
    let bypass = r.bypass()?;
    let permit = job(&st).await?;
    let out = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut s = Session::open(&r.repo, &client, mode, r.version, &bypass)?;
        let v = f(&mut s);
        s.close();
        v
    })
    .await
    .map_err(server_error)??;
    Ok(json_response(out))
}

/// A sink sending chunks to a response body, holding back the last one
/// until the content's validity is known.
struct ChunkSink {
    tx: mpsc::Sender<Bytes>,
    held: Option<Vec<u8>>,
}

impl Write for ChunkSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(prev) = self.held.take() {
            self.tx
                .blocking_send(Bytes::from(prev))
                .map_err(|_| std::io::Error::other("client disconnected"))?;
        }
        self.held = Some(buf.to_vec());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn serve_get(
    st: Arc<State>,
    r: Req,
    key: Key,
    generic: bool,
) -> Result<Response<Body>, Fail> {
    let mode = st.authorize(r.auth.as_ref(), Class::Read)?;
    let client = if generic {
        r.uuid_param("clientuuid")?
            .unwrap_or_else(|| r.repo.uuid.clone())
    } else {
        r.client()?
    };
    let bypass = r.bypass()?;
    let (offset, file) = if generic {
        (0, None)
    } else {
        (r.number("offset")?.unwrap_or(0), r.file()?)
    };
    let permit = job(&st).await?;
    let (len_tx, len_rx) = oneshot::channel::<Result<u64, Fail>>();
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut s = match Session::open(&r.repo, &client, mode, r.version, &bypass) {
            Ok(s) => s,
            Err(e) => {
                let _ = len_tx.send(Err(e));
                return;
            }
        };
        let started = (|| {
            s.send(&Message::Get { offset, file, key })?;
            match s.recv()? {
                Message::Data(n) => Ok(n),
                other => Err(s.unexpected(&other)),
            }
        })();
        let len = match started {
            Ok(n) => n,
            Err(e) => {
                let _ = len_tx.send(Err(e));
                s.close();
                return;
            }
        };
        if len_tx.send(Ok(len)).is_err() {
            s.close();
            return;
        }
        let mut sink = ChunkSink { tx, held: None };
        if s.r.read_data(len, &mut sink, &mut |_| {}).is_err() {
            // The client went away, or the repository's side failed: the
            // body ends short, which the client sees as invalid.
            s.close();
            return;
        }
        let valid = if s.version >= 1 {
            matches!(s.r.read_message(), Ok(Some(Message::Valid)))
        } else {
            true
        };
        if let Some(mut last) = sink.held.take() {
            // Content that changed while sent, yet of the announced
            // length: one byte short tells the client.
            if !valid {
                last.pop();
            }
            let _ = sink.tx.blocking_send(Bytes::from(last));
        }
        let _ = s.send(if valid {
            &Message::Success
        } else {
            &Message::Failure
        });
        s.close();
    });
    let len = len_rx.await.map_err(server_error)??;
    let mut resp = Response::new(Body::Stream(rx));
    let h = resp.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(DATA_LENGTH_HEADER, HeaderValue::from(len));
    Ok(resp)
}

/// The request body as a blocking reader.
struct BodyReader {
    rx: mpsc::Receiver<Result<Bytes, ()>>,
    cur: Bytes,
    total: u64,
    errored: bool,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(())) => {
                    self.errored = true;
                    return Ok(0);
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        self.total += n as u64;
        Ok(n)
    }
}

fn pump_body(mut body: Incoming) -> mpsc::Receiver<Result<Bytes, ()>> {
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        while let Some(frame) = body.frame().await {
            let item = match frame {
                Ok(f) => match f.into_data() {
                    Ok(d) => Ok(d),
                    Err(_) => continue,
                },
                Err(_) => Err(()),
            };
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                return;
            }
        }
    });
    rx
}

async fn serve_put(
    st: Arc<State>,
    r: Req,
    len: u64,
    body: Incoming,
) -> Result<Response<Body>, Fail> {
    let mode = match st.authorize(r.auth.as_ref(), Class::Write) {
        Ok(m) => m,
        Err(refused) => {
            // Read (and drop) the body first, so that a client still
            // sending it gets the answer rather than a broken connection.
            let mut body = body;
            while let Some(Ok(_)) = body.frame().await {}
            return Err(refused);
        }
    };
    let client = r.client()?;
    let bypass = r.bypass()?;
    let key = r.key()?;
    let file = r.file()?;
    let offset = r.number("offset")?.unwrap_or(0);
    let data_present = r.version >= 4 && r.param("data-present") == Some(b"true");
    let version = r.version;
    let permit = job(&st).await?;
    let rx = pump_body(body);
    let out = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let mut s = Session::open(&r.repo, &client, mode, r.version, &bypass)?;
        let res = put_session(&mut s, key, file, offset, len, data_present, rx);
        s.close();
        res
    })
    .await
    .map_err(server_error)??;
    let (ok, plus) = out;
    Ok(json_response(if version >= 2 {
        json!({"stored": ok, "plusuuids": plus_list(&plus)})
    } else {
        json!({"stored": ok})
    }))
}

fn put_session(
    s: &mut Session,
    key: Key,
    file: Option<Vec<u8>>,
    offset: u64,
    len: u64,
    data_present: bool,
    rx: mpsc::Receiver<Result<Bytes, ()>>,
) -> Result<(bool, Vec<Uuid>), Fail> {
    s.send(&Message::Put { file, key })?;
    let theirs = match s.recv()? {
        Message::AlreadyHave => return Ok((true, Vec::new())),
        Message::AlreadyHavePlus(l) => return Ok((true, l)),
        Message::PutFrom(o) => o,
        other => return Err(s.unexpected(&other)),
    };
    if data_present {
        s.send(&Message::DataPresent)?;
        return s.success_plus();
    }
    let mut body = BodyReader {
        rx,
        cur: Bytes::new(),
        total: 0,
        errored: false,
    };
    // What the server has and what the client skipped may differ: skip
    // more of the body, or send it all and have it refused.
    let (send_len, force_invalid) = if theirs >= offset {
        let delta = theirs - offset;
        let skipped = std::io::copy(&mut (&mut body).take(delta), &mut std::io::sink())
            .map_err(server_error)?;
        if skipped < delta {
            // Short: nothing stored (see below).
            return Ok((false, Vec::new()));
        }
        (len.saturating_sub(delta), delta > len)
    } else {
        (len, true)
    };
    let mut limited = (&mut body).take(send_len);
    match s.w.send_data(send_len, &mut limited, &mut |_| {}) {
        Ok(()) => {}
        // A body shorter than announced: the DATA cannot be finished, so
        // the session ends here (the server keeps what arrived for a
        // later put to resume) and nothing is stored, as git-annex's
        // server answers.
        Err(annex_core::p2p::io::P2pError::ShortSource { .. }) => return Ok((false, Vec::new())),
        Err(e) => return Err(server_error(e)),
    }
    // Anything beyond the announced length makes the content invalid.
    let mut extra = [0u8; 1];
    let more = body.read(&mut extra).map_err(server_error)? > 0;
    let valid = !force_invalid && !more && !body.errored && body.total == len;
    if s.version >= 1 {
        if more {
            // More than announced: refused outright, as git-annex's
            // server refuses it, even when what was announced is the
            // key's content (INVALID would have it verified and kept).
            s.send(&Message::Error("more data than the data length".into()))?;
        } else {
            s.send(if valid {
                &Message::Valid
            } else {
                &Message::Invalid
            })?;
        }
    }
    s.success_plus()
}

async fn serve_lock(st: Arc<State>, r: Req) -> Result<Response<Body>, Fail> {
    let mode = st.authorize(r.auth.as_ref(), Class::Lock)?;
    let client = r.client()?;
    let bypass = r.bypass()?;
    let key = r.key()?;
    let Ok(permit) = st.locked_files.clone().try_acquire_owned() else {
        return Ok(json_response(json!({"locked": false})));
    };
    let st2 = st.clone();
    let out = tokio::task::spawn_blocking(move || -> Result<Value, Fail> {
        let mut s = Session::open(&r.repo, &client, mode, r.version, &bypass)?;
        s.send(&Message::LockContent(key))?;
        match s.recv() {
            Ok(Message::Success) => {}
            Ok(Message::Failure) => {
                s.close();
                return Ok(json!({"locked": false}));
            }
            Ok(other) => {
                let e = s.unexpected(&other);
                s.close();
                return Err(e);
            }
            Err(e) => {
                s.close();
                return Err(e);
            }
        }
        let lockid = Uuid::new_random().as_str().to_string();
        let (unlock, wait) = std::sync::mpsc::channel::<()>();
        let kept = Arc::new(AtomicBool::new(false));
        let kept2 = kept.clone();
        let id2 = lockid.clone();
        st2.locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(lockid.clone(), LockEntry { unlock, kept });
        std::thread::spawn(move || {
            let _permit = permit;
            // Held until unlocked; a lock nobody keeps goes after ten
            // minutes.
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(LOCK_WAIT)
                && kept2.load(Ordering::SeqCst)
            {
                let _ = wait.recv();
            }
            let _ = s.send(&Message::UnlockContent);
            s.close();
            st2.locks
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id2);
        });
        Ok(json!({"locked": true, "lockid": lockid}))
    })
    .await
    .map_err(server_error)??;
    Ok(json_response(out))
}

async fn serve_keeplocked(
    st: Arc<State>,
    r: Req,
    mut body: Incoming,
) -> Result<Response<Body>, Fail> {
    st.authorize(r.auth.as_ref(), Class::Lock)?;
    let lockid = decode_b64_text(r.required("lockid")?)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .ok_or_else(|| bad_request("Error parsing query parameter lockid failed"))?;
    let unlock = {
        let locks = st.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.get(&lockid).map(|e| {
            e.kept.store(true, Ordering::SeqCst);
            e.unlock.clone()
        })
    };
    // Newline-separated `{"unlock": BOOL}` until one says true or the
    // stream ends. A line longer than any such message ends it too.
    let mut buf: Vec<u8> = Vec::new();
    let mut ended = false;
    'read: while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            ended = true;
            break;
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        while let Some(nl) = buf.iter().position(|c| *c == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            match serde_json::from_slice::<Value>(line) {
                Ok(v) if v.get("unlock") == Some(&Value::Bool(false)) => {}
                _ => break 'read,
            }
        }
        if buf.len() > KEEPLOCKED_LINE_MAX {
            break;
        }
    }
    if let Some(u) = unlock {
        let _ = u.send(());
    }
    // The client ends its stream after the unlock: read that end (for a
    // little while) before answering, or the connection would be closed
    // under a client still writing it.
    if !ended {
        let _ = tokio::time::timeout(KEEPLOCKED_DRAIN, async {
            let mut left = KEEPLOCKED_LINE_MAX;
            while let Some(Ok(frame)) = body.frame().await {
                let n = frame.data_ref().map_or(0, |d| d.len());
                match left.checked_sub(n) {
                    Some(l) => left = l,
                    None => break,
                }
            }
        })
        .await;
    }
    Ok(json_response(json!({"locked": false})))
}

/// Serves the repositories at `paths` until the process is stopped.
pub fn run(paths: &[PathBuf], opts: Options, users: Users) -> Result<(), HttpServerError> {
    let mut repos = Vec::new();
    let clusterjobs = opts.clusterjobs.unwrap_or(1).max(1);
    for p in paths {
        let s = Server::open(p, Uuid::new_random(), ServerMode::ReadOnly)?;
        repos.push(Repo {
            uuid: s.uuid().clone(),
            path: p.clone(),
            proxied: None,
            clusterjobs,
        });
        // The remotes and clusters it is a gateway for, each under its
        // own UUID.
        for (uuid, target) in crate::gateway::proxied_targets(p) {
            repos.push(Repo {
                uuid,
                path: p.clone(),
                proxied: Some(target),
                clusterjobs,
            });
        }
    }
    let tls = match (&opts.certfile, &opts.privatekeyfile) {
        (None, None) => None,
        (Some(c), Some(k)) => Some(tls_config(c, k)?),
        _ => {
            return Err(HttpServerError::Usage(
                "You must use both --certfile and --privatekeyfile options to enable HTTPS.",
            ));
        }
    };
    let jobs = opts.jobs.max(1);
    let state = Arc::new(State {
        secure: tls.is_some(),
        jobs: Arc::new(Semaphore::new(jobs)),
        locked_files: Arc::new(Semaphore::new(opts.lockedfiles.unwrap_or(100))),
        locks: Mutex::new(HashMap::new()),
        repos,
        users,
        opts,
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(jobs + 8)
        .enable_io()
        .enable_time()
        .build()
        .map_err(|source| HttpServerError::Io {
            what: "start",
            addr: "runtime".into(),
            source,
        })?;
    rt.block_on(serve(state, tls))
}

fn tls_config(
    cert: &Path,
    key: &Path,
) -> Result<Arc<tokio_rustls::rustls::ServerConfig>, HttpServerError> {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect::<Result<_, _>>())
        .map_err(|e| HttpServerError::Tls(format!("{}: {e}", cert.display())))?;
    let pkey = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| HttpServerError::Tls(format!("{}: {e}", key.display())))?;
    // ring: the provider reqwest's rustls already builds (aws-lc would
    // need cmake and a C toolchain in CI).
    #[allow(deprecated)]
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let cfg = tokio_rustls::rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, pkey)
        .map_err(|e| HttpServerError::Tls(e.to_string()))?;
    Ok(Arc::new(cfg))
}

async fn bind(opts: &Options) -> Result<tokio::net::TcpListener, HttpServerError> {
    let port = opts.port.unwrap_or(super::DEFAULT_PORT);
    let io = |addr: String| {
        move |source| HttpServerError::Io {
            what: "bind",
            addr,
            source,
        }
    };
    match &opts.bind {
        Some(host) => tokio::net::TcpListener::bind((host.as_str(), port))
            .await
            .map_err(io(format!("{host}:{port}"))),
        // Every address, IPv6 and IPv4 alike when the system allows.
        None => match tokio::net::TcpListener::bind(("::", port)).await {
            Ok(l) => Ok(l),
            Err(_) => tokio::net::TcpListener::bind(("0.0.0.0", port))
                .await
                .map_err(io(format!("*:{port}"))),
        },
    }
}

async fn serve(
    st: Arc<State>,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
) -> Result<(), HttpServerError> {
    let listener = bind(&st.opts).await?;
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            // Out of file descriptors and the like: wait, then go on.
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let st = st.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(st.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new();
            match acceptor {
                None => {
                    let _ = conn
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                        .await;
                }
                Some(a) => {
                    if let Ok(s) = a.accept(stream).await {
                        let _ = conn
                            .serve_connection(hyper_util::rt::TokioIo::new(s), svc)
                            .await;
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(opts: Options, users: &[(&str, &str, Option<&str>)], secure: bool) -> State {
        let mut env = Vec::new();
        for (u, p, perm) in users {
            env.push((
                format!("GIT_ANNEX_P2PHTTP_PASSWORD_{u}").into(),
                std::ffi::OsString::from(p),
            ));
            if let Some(perm) = perm {
                env.push((
                    format!("GIT_ANNEX_P2PHTTP_PERMISSIONS_{u}").into(),
                    std::ffi::OsString::from(perm),
                ));
            }
        }
        State {
            opts,
            users: Users::from_env(env.into_iter()),
            repos: Vec::new(),
            secure,
            jobs: Arc::new(Semaphore::new(1)),
            locked_files: Arc::new(Semaphore::new(1)),
            locks: Mutex::new(HashMap::new()),
        }
    }

    fn cred(u: &str, p: &str) -> Option<(Vec<u8>, Vec<u8>)> {
        Some((u.as_bytes().to_vec(), p.as_bytes().to_vec()))
    }

    fn code(r: Result<ServerMode, Fail>) -> Result<ServerMode, u16> {
        r.map_err(|f| f.status().as_u16())
    }

    #[test]
    fn modes_are_granted_as_git_annex_grants_them() {
        let users = [("alice", "pw", None), ("bob", "pw2", Some("appendonly"))];
        let o = Options {
            unauth_readonly: true,
            authenv_http: true,
            ..Options::default()
        };
        let st = state(o, &users, false);
        assert_eq!(
            code(st.authorize(None, Class::Read)),
            Ok(ServerMode::ReadOnly)
        );
        // Writes want a password, which may be given.
        assert_eq!(code(st.authorize(None, Class::Write)), Err(401));
        assert_eq!(
            code(st.authorize(None, Class::Lock)),
            Ok(ServerMode::ReadOnly)
        );
        assert_eq!(
            code(st.authorize(cred("alice", "pw").as_ref(), Class::Remove)),
            Ok(ServerMode::ReadWrite)
        );
        // A wrong password: as unauthenticated, with no password offered.
        assert_eq!(
            code(st.authorize(cred("alice", "no").as_ref(), Class::Write)),
            Err(403)
        );
        assert_eq!(
            code(st.authorize(cred("bob", "pw2").as_ref(), Class::Write)),
            Ok(ServerMode::AppendOnly)
        );
        assert_eq!(
            code(st.authorize(cred("bob", "pw2").as_ref(), Class::Remove)),
            Err(403)
        );
        assert_eq!(
            code(st.authorize(cred("bob", "pw2").as_ref(), Class::Lock)),
            Ok(ServerMode::AppendOnly)
        );
    }

    #[test]
    fn authenv_wants_https_and_nothing_is_served_without_a_mode() {
        let users = [("alice", "pw", None)];
        let o = Options {
            authenv: true,
            ..Options::default()
        };
        let plain = state(o.clone(), &users, false);
        assert_eq!(
            code(plain.authorize(cred("alice", "pw").as_ref(), Class::Read)),
            Err(401)
        );
        let tls = state(o, &users, true);
        assert_eq!(
            code(tls.authorize(cred("alice", "pw").as_ref(), Class::Read)),
            Ok(ServerMode::ReadWrite)
        );
        assert_eq!(code(tls.authorize(None, Class::Read)), Err(401));
        let nolock = state(
            Options {
                unauth_appendonly: true,
                unauth_nolocking: true,
                ..Options::default()
            },
            &[],
            false,
        );
        assert_eq!(
            code(nolock.authorize(None, Class::Lock)),
            Ok(ServerMode::AppendOnly)
        );
        assert_eq!(code(nolock.authorize(None, Class::Remove)), Err(403));
        let wide = state(
            Options {
                wideopen: true,
                ..Options::default()
            },
            &[],
            false,
        );
        assert_eq!(
            code(wide.authorize(None, Class::Remove)),
            Ok(ServerMode::ReadWrite)
        );
    }

    #[test]
    fn basic_auth_in_either_base64_alphabet() {
        let h = HeaderValue::from_static("Basic YWxpY2U6cD9wOnc+");
        assert_eq!(
            parse_auth(&h),
            Some((b"alice".to_vec(), b"p?p:w>".to_vec()))
        );
        let h = HeaderValue::from_static("basic YWxpY2U6cD9wOnc-");
        assert_eq!(
            parse_auth(&h),
            Some((b"alice".to_vec(), b"p?p:w>".to_vec()))
        );
        assert_eq!(parse_auth(&HeaderValue::from_static("Bearer x")), None);
        assert_eq!(parse_auth(&HeaderValue::from_static("Basic !!!")), None);
    }

    #[test]
    fn queries_are_percent_decoded() {
        let q = parse_query(Some("key=a%2Bb+c&clientuuid=%5Bx%5D&bad=%zz&flag"));
        assert_eq!(q[0], ("key".to_string(), b"a+b c".to_vec()));
        assert_eq!(q[1], ("clientuuid".to_string(), b"[x]".to_vec()));
        assert_eq!(q[2], ("bad".to_string(), b"%zz".to_vec()));
        assert_eq!(q[3], ("flag".to_string(), Vec::new()));
        assert_eq!(percent_decode(b"a+b%2", false), b"a+b%2".to_vec());
    }
}
