//! The `web` special remote: content downloaded from the URLs registered
//! for a key in the URL log (`KEY.log.web`), as git-annex's built-in
//! remote of UUID `00000000-0000-0000-0000-000000000001` does.
//!
//! [`Http`] is the HTTP client (reqwest, blocking, rustls) that `addurl`
//! and the [`WebRemote`] share: `HEAD` for presence and size
//! ([`Http::info`]), `GET` for content, resumed with a `Range` request
//! when an interrupted download left part of the file
//! ([`Http::download`]).
//!
//! No SSRF: `annex.security.allowed-ip-addresses` is enforced as git-annex
//! enforces it ([`AddressPolicy`]): unless it is `all`, loopback,
//! private, link-local and carrier-grade-NAT addresses are refused
//! unless listed. We connect by IP ourselves: for every request, the
//! host is resolved here, every address is checked, and reqwest is made
//! to connect only to the addresses allowed (`resolve_to_addrs`, so a
//! name cannot resolve to another address between the check and the
//! connection). Redirects are never followed by reqwest: each hop is
//! checked the same way before it is requested (at most 10 hops). Proxies
//! are not used while addresses are restricted (git-annex ignores them
//! then too).
//!
//! The remote is read-only: a store is refused, a removal forgets the
//! key's URLs (git-annex's `dropKey`), recorded in this repository's
//! journal and committed by [`Remote::commit`].

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::key::Key;
use crate::remote::{ContentLockGuard, Progress, Remote, RemoteError};
use crate::state::State;
use crate::uuid::Uuid;

pub use crate::uuid::WEB_UUID;

/// How many redirects a request follows.
const MAX_REDIRECTS: usize = 10;

/// A web download or check failure, in git-annex's words where it has
/// some.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The address is not allowed by `annex.security.allowed-ip-addresses`.
    #[error(
        "Configuration of annex.security.allowed-ip-addresses does not allow accessing address {0}"
    )]
    AddressRefused(String),
    /// The URL cannot be parsed.
    #[error("invalid url")]
    BadUrl(String),
    /// A scheme we do not download from.
    #[error("Configuration of annex.security.allowed-url-schemes does not allow accessing {0}")]
    Scheme(String),
    /// The host name does not resolve.
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        /// The host.
        host: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server answered with a failure status.
    #[error("{0}")]
    Status(String),
    /// Too many redirects.
    #[error("too many redirects")]
    TooManyRedirects,
    /// The HTTP client failed (connection, protocol).
    #[error("{0}")]
    Http(String),
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> WebError + '_ {
    move |source| WebError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One entry of `annex.security.allowed-ip-addresses`: an address,
/// optionally only on a port (`[addr]:port`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Allowed {
    addr: IpAddr,
    port: Option<u16>,
}

/// Which addresses may be connected to (`annex.security.allowed-ip-addresses`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AddressPolicy {
    all: bool,
    allowed: Vec<Allowed>,
}

/// The IPv4 address embedded in an IPv6 one (mapped `::ffff:a.b.c.d`,
/// translated `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`).
fn embedded_v4(v6: &std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    let s = v6.segments();
    let mk = |a: u16, b: u16| {
        let [a1, a2] = a.to_be_bytes();
        let [b1, b2] = b.to_be_bytes();
        std::net::Ipv4Addr::new(a1, a2, b1, b2)
    };
    match s {
        [0, 0, 0, 0, 0, 0xffff, a, b] => Some(mk(a, b)),
        [0, 0, 0, 0, 0xffff, 0, a, b] => Some(mk(a, b)),
        [0x64, 0xff9b, 0, 0, 0, 0, a, b] => Some(mk(a, b)),
        _ => None,
    }
}

/// Whether connecting to `ip` may connect back to this host (loopback,
/// `0.0.0.0/8`, `::`), as git-annex counts them.
pub fn is_loopback(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            o[0] == 127 || o[0] == 0
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || embedded_v4(v6).is_some_and(|v4| is_loopback(&IpAddr::V4(v4)))
        }
    }
}

/// Whether `ip` is private (LAN, carrier-grade NAT, link-local), as
/// git-annex counts them.
pub fn is_private(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            o[0] == 10
                || (o[0] == 172 && (16..=31).contains(&o[1]))
                || (o[0] == 192 && o[1] == 168)
                || (o[0] == 100 && (64..=127).contains(&o[1]) && o[2] == 0 && o[3] == 0)
                || (o[0] == 169 && o[1] == 254)
        }
        IpAddr::V6(v6) => {
            let n = v6.segments()[0];
            (0xfc00..=0xfdff).contains(&n)
                || (0xfe80..=0xfebf).contains(&n)
                || embedded_v4(v6).is_some_and(|v4| is_private(&IpAddr::V4(v4)))
        }
    }
}

impl AddressPolicy {
    /// The policy of a `annex.security.allowed-ip-addresses` value
    /// (`None`: unset). Entries that are not addresses are ignored, as
    /// git-annex ignores them.
    pub fn parse(value: Option<&str>) -> AddressPolicy {
        let words: Vec<&str> = value.unwrap_or("").split_whitespace().collect();
        if words == ["all"] {
            return AddressPolicy {
                all: true,
                allowed: Vec::new(),
            };
        }
        let allowed = words
            .iter()
            .filter_map(|w| {
                if let Some(rest) = w.strip_prefix('[') {
                    let (a, after) = rest.split_once(']')?;
                    let port = match after {
                        "" => None,
                        p => Some(p.strip_prefix(':')?.parse().ok()?),
                    };
                    Some(Allowed {
                        addr: a.parse().ok()?,
                        port,
                    })
                } else {
                    Some(Allowed {
                        addr: w.parse().ok()?,
                        port: None,
                    })
                }
            })
            .collect();
        AddressPolicy {
            all: false,
            allowed,
        }
    }

    /// Whether every address is allowed (`all`).
    pub fn unrestricted(&self) -> bool {
        self.all
    }

    /// Whether connecting to `sa` is allowed.
    pub fn allows(&self, sa: &SocketAddr) -> bool {
        if self.all {
            return true;
        }
        let ip = sa.ip();
        let listed = self
            .allowed
            .iter()
            .any(|a| a.addr == ip && a.port.is_none_or(|p| p == sa.port()));
        listed || !(is_loopback(&ip) || is_private(&ip))
    }
}

/// What a `HEAD` request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlInfo {
    /// Whether the URL answered with success.
    pub exists: bool,
    /// Its `Content-Length`.
    pub size: Option<u64>,
    /// The file name of its `Content-Disposition`.
    pub suggested_file: Option<String>,
}

/// The HTTP client of the web remote and `addurl`.
///
/// One `reqwest` client is kept per scheme, host and port (built on first
/// use, its addresses checked then and pinned), so that many downloads
/// from one server share its connections and TLS setup.
#[derive(Debug, Clone)]
pub struct Http {
    policy: AddressPolicy,
    user_agent: String,
    headers: Vec<(String, String)>,
    clients: ClientCache,
}

/// How many hosts' clients an [`Http`] keeps.
const MAX_CLIENTS: usize = 16;

/// The clients of an [`Http`], by scheme, host and port.
type ClientCache = std::sync::Arc<
    std::sync::Mutex<std::collections::HashMap<(String, String, u16), reqwest::blocking::Client>>,
>;

fn status_failure(resp: &reqwest::blocking::Response) -> WebError {
    let s = resp.status();
    WebError::Status(s.canonical_reason().unwrap_or(s.as_str()).to_string())
}

impl Http {
    /// A client under `policy`, sending `user_agent` and the extra
    /// `headers` (`annex.http-headers` lines, `Name: value`).
    pub fn new(policy: AddressPolicy, user_agent: &str, headers: &[String]) -> Http {
        Http {
            policy,
            user_agent: user_agent.to_string(),
            headers: headers
                .iter()
                .filter_map(|h| {
                    let (n, v) = h.split_once(':')?;
                    Some((n.trim().to_string(), v.trim().to_string()))
                })
                .collect(),
            clients: ClientCache::default(),
        }
    }

    /// A client configured from git config: the address policy,
    /// `annex.http-headers`, git-annex's user agent.
    pub fn from_config(config: &crate::config::AnnexConfig) -> Http {
        let policy = AddressPolicy::parse(
            config
                .get_str("annex.security.allowed-ip-addresses")
                .as_deref(),
        );
        let headers: Vec<String> = config
            .get_all("annex.http-headers")
            .iter()
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .collect();
        Http::new(policy, "git-annex/10.20261026", &headers)
    }

    /// A client that connects only to the allowed addresses of `url`'s
    /// host: the one kept for its scheme, host and port, else a new one
    /// (then kept).
    fn client_for(&self, url: &reqwest::Url) -> Result<reqwest::blocking::Client, WebError> {
        match url.scheme() {
            "http" | "https" => {}
            _ => return Err(WebError::Scheme(url.to_string())),
        }
        let host = url
            .host_str()
            .ok_or_else(|| WebError::BadUrl(url.to_string()))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| WebError::BadUrl(url.to_string()))?;
        let id = (url.scheme().to_string(), host.to_string(), port);
        if let Some(c) = self
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
        {
            return Ok(c.clone());
        }
        let client = self.new_client(host, port)?;
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        // A few hosts at a time (each client keeps a thread and its
        // connections): a long run over many hosts starts afresh.
        if clients.len() >= MAX_CLIENTS {
            clients.clear();
        }
        clients.insert(id, client.clone());
        Ok(client)
    }

    /// A new client for `host` and `port`, its addresses checked.
    fn new_client(&self, host: &str, port: u16) -> Result<reqwest::blocking::Client, WebError> {
        let mut builder = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(None)
            .user_agent(self.user_agent.clone());
        if !self.policy.unrestricted() {
            builder = builder.no_proxy();
        }
        let literal = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .parse::<IpAddr>();
        match literal {
            Ok(ip) => self.check(&SocketAddr::new(ip, port))?,
            Err(_) => {
                let name = host;
                if !self.policy.unrestricted() {
                    let addrs: Vec<SocketAddr> = (name, port)
                        .to_socket_addrs()
                        .map_err(|source| WebError::Resolve {
                            host: name.to_string(),
                            source,
                        })?
                        .collect();
                    let ok: Vec<SocketAddr> = addrs
                        .iter()
                        .filter(|a| self.policy.allows(a))
                        .copied()
                        .collect();
                    if ok.is_empty() {
                        return match addrs.first() {
                            Some(a) => Err(WebError::AddressRefused(a.ip().to_string())),
                            None => Err(WebError::Resolve {
                                host: name.to_string(),
                                source: std::io::Error::other("no address"),
                            }),
                        };
                    }
                    builder = builder.resolve_to_addrs(name, &ok);
                }
            }
        }
        builder.build().map_err(|e| WebError::Http(e.to_string()))
    }

    fn check(&self, sa: &SocketAddr) -> Result<(), WebError> {
        if self.policy.allows(sa) {
            Ok(())
        } else {
            Err(WebError::AddressRefused(sa.ip().to_string()))
        }
    }

    /// Sends `method` to `url`, following redirects (each checked).
    fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        range_from: Option<u64>,
    ) -> Result<reqwest::blocking::Response, WebError> {
        let mut url = reqwest::Url::parse(url).map_err(|_| WebError::BadUrl(url.to_string()))?;
        let origin = url.origin();
        for _ in 0..=MAX_REDIRECTS {
            let client = self.client_for(&url)?;
            let mut req = client.request(method.clone(), url.clone());
            // Credentials among the configured headers go only where
            // they were meant for: not to another host, port or scheme
            // a redirect leads to (as curl and reqwest drop them).
            let elsewhere = url.origin() != origin;
            for (n, v) in &self.headers {
                if elsewhere && is_credential_header(n) {
                    continue;
                }
                req = req.header(n.as_str(), v.as_str());
            }
            if let Some(from) = range_from {
                req = req.header(reqwest::header::RANGE, format!("bytes={from}-"));
            }
            let resp = req.send().map_err(|e| WebError::Http(describe(&e)))?;
            if resp.status().is_redirection()
                && let Some(loc) = resp.headers().get(reqwest::header::LOCATION)
            {
                let loc = loc.to_str().map_err(|_| {
                    WebError::BadUrl(String::from_utf8_lossy(loc.as_bytes()).into())
                })?;
                url = url
                    .join(loc)
                    .map_err(|_| WebError::BadUrl(loc.to_string()))?;
                continue;
            }
            return Ok(resp);
        }
        Err(WebError::TooManyRedirects)
    }

    /// `HEAD url`: whether it exists, its size and suggested file name.
    /// A failure status is "does not exist"; a refused address or a
    /// connection failure is an error.
    pub fn info(&self, url: &str) -> Result<UrlInfo, WebError> {
        let resp = self.send(reqwest::Method::HEAD, url, None)?;
        if !resp.status().is_success() {
            return Ok(UrlInfo {
                exists: false,
                size: None,
                suggested_file: None,
            });
        }
        let size = resp
            .headers()
            .get(reqwest::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let suggested_file = resp
            .headers()
            .get(reqwest::header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .and_then(disposition_filename);
        Ok(UrlInfo {
            exists: true,
            size,
            suggested_file,
        })
    }

    /// Downloads `url` into `dest`, resuming: when `dest` holds part of
    /// the content, only the rest is asked for (`Range`); a server that
    /// ignores the range sends the whole again, which replaces it.
    /// `expected` is the size the content must have, when known (a
    /// `dest` already that long is asked for nothing). `progress` gets
    /// the bytes done so far.
    pub fn download(
        &self,
        url: &str,
        dest: &Path,
        expected: Option<u64>,
        progress: Progress<'_>,
    ) -> Result<(), WebError> {
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        }
        let have = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
        if expected.is_some_and(|e| have > e) {
            std::fs::write(dest, b"").map_err(io_err(dest))?;
            return self.download(url, dest, expected, progress);
        }
        let range = (have > 0).then_some(have);
        let mut resp = self.send(reqwest::Method::GET, url, range)?;
        let status = resp.status();
        let mut out;
        let mut done;
        if range.is_some() && status == reqwest::StatusCode::RANGE_NOT_SATISFIABLE {
            // What we have is the whole (as curl and wget assume).
            progress(have);
            return Ok(());
        } else if range.is_some() && status == reqwest::StatusCode::PARTIAL_CONTENT {
            out = std::fs::OpenOptions::new()
                .append(true)
                .open(dest)
                .map_err(io_err(dest))?;
            done = have;
        } else if status.is_success() {
            out = std::fs::File::create(dest).map_err(io_err(dest))?;
            done = 0;
        } else {
            return Err(status_failure(&resp));
        }
        progress(done);
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match resp.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = out.sync_all();
                    return Err(WebError::Http(e.to_string()));
                }
            };
            out.write_all(&buf[..n]).map_err(io_err(dest))?;
            done += n as u64;
            progress(done);
        }
        out.sync_all().map_err(io_err(dest))?;
        Ok(())
    }
}

/// The error's message with its causes (reqwest's own says little).
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// The `filename` of a `Content-Disposition` header value.
fn disposition_filename(v: &str) -> Option<String> {
    v.split(';').find_map(|part| {
        let (k, val) = part.trim().split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("filename") {
            return None;
        }
        let val = val.trim();
        let val = val
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(val);
        (!val.is_empty()).then(|| val.to_string())
    })
}

/// The URL a URL log entry names for the web, when the web downloads it
/// itself (entries with a downloader prefix, `:` for another special
/// remote, `yt:` or `quvi:` for media, are not the web's to download).
pub fn web_url(logged: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(logged).ok()?;
    if s.starts_with(':') || s.starts_with("yt:") || s.starts_with("quvi:") {
        return None;
    }
    let scheme = s.split_once("://")?.0.to_ascii_lowercase();
    matches!(scheme.as_str(), "http" | "https").then(|| s.to_string())
}

/// The web special remote.
pub struct WebRemote {
    name: String,
    uuid: Uuid,
    cost: f64,
    git_dir: PathBuf,
    http: Http,
    state: Mutex<Option<State>>,
    dirty: Mutex<bool>,
}

impl std::fmt::Debug for WebRemote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRemote")
            .field("name", &self.name)
            .field("git_dir", &self.git_dir)
            .finish()
    }
}

impl WebRemote {
    /// The web remote `name` (of UUID `uuid`, [`WEB_UUID`] for the
    /// built-in one) of the repository at `git_dir`, downloading with
    /// `http`.
    pub fn new(name: &str, uuid: Uuid, cost: f64, git_dir: &Path, http: Http) -> WebRemote {
        WebRemote {
            name: name.to_string(),
            uuid,
            cost,
            git_dir: git_dir.to_path_buf(),
            http,
            state: Mutex::new(None),
            dirty: Mutex::new(false),
        }
    }

    fn err(&self, reason: String) -> RemoteError {
        RemoteError::Refused {
            remote: self.name.clone(),
            reason,
        }
    }

    fn with_state<T>(
        &self,
        f: impl FnOnce(&State) -> Result<T, crate::branch::BranchError>,
    ) -> Result<T, RemoteError> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.is_none() {
            let branch =
                crate::branch::Branch::open(&self.git_dir).map_err(|e| RemoteError::Branch {
                    remote: self.name.clone(),
                    source: e,
                })?;
            *st = Some(State::new(branch));
        }
        match st.as_ref() {
            Some(s) => f(s).map_err(|e| RemoteError::Branch {
                remote: self.name.clone(),
                source: e,
            }),
            None => Err(self.err("cannot open the git-annex branch".to_string())),
        }
    }

    /// The key's URLs the web downloads from.
    pub fn urls(&self, key: &Key) -> Result<Vec<String>, RemoteError> {
        let logged = self.with_state(|s| s.urls(key))?;
        Ok(logged.iter().filter_map(|u| web_url(u)).collect())
    }
}

impl Remote for WebRemote {
    fn name(&self) -> &str {
        &self.name
    }

    fn uuid(&self) -> &Uuid {
        &self.uuid
    }

    fn cost(&self) -> f64 {
        self.cost
    }

    fn check_present(&self, key: &Key) -> Result<bool, RemoteError> {
        let urls = self.urls(key)?;
        let mut last = Ok(false);
        for u in &urls {
            match self.http.info(u) {
                Ok(info) => {
                    let size_ok = match (key.size(), info.size) {
                        (Some(k), Some(s)) => k == s,
                        _ => true,
                    };
                    if info.exists && size_ok {
                        return Ok(true);
                    }
                    last = Ok(false);
                }
                Err(e) => last = Err(self.err(e.to_string())),
            }
        }
        last
    }

    fn retrieve(
        &self,
        key: &Key,
        dest: &Path,
        _our_uuid: &Uuid,
        _file: &[u8],
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        let urls = self.urls(key)?;
        if urls.is_empty() {
            return Err(self.err("no known url".to_string()));
        }
        // The transfer has begun (git-annex says `from web...` before any
        // request), from what an interrupted one left.
        progress(std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0));
        let mut failures = Vec::new();
        for u in &urls {
            match self.http.download(u, dest, key.size(), progress) {
                Ok(()) => return verify_download(key, dest),
                Err(e) => failures.push(format!("{u} {}", download_failure(&e))),
            }
        }
        failures.push(format!(
            "downloading from all {} known url(s) failed",
            urls.len()
        ));
        Err(self.err(failures.join("\n  ")))
    }

    fn store(
        &self,
        _key: &Key,
        _src: &Path,
        _our_uuid: &Uuid,
        _file: &[u8],
        _progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        Err(self.err("upload to web not supported".to_string()))
    }

    fn remove(&self, key: &Key) -> Result<(), RemoteError> {
        let logged = self.with_state(|s| s.urls(key))?;
        let web: Vec<&Vec<u8>> = logged.iter().filter(|u| web_url(u).is_some()).collect();
        for u in web {
            self.with_state(|s| s.set_url(key, u, false))?;
            *self.dirty.lock().unwrap_or_else(|p| p.into_inner()) = true;
        }
        Ok(())
    }

    fn lock_content(&self, _key: &Key) -> Result<Box<dyn ContentLockGuard>, RemoteError> {
        Err(self.err("the web cannot lock content".to_string()))
    }

    fn commit(&self) -> Result<(), RemoteError> {
        let mut dirty = self.dirty.lock().unwrap_or_else(|p| p.into_inner());
        if !*dirty {
            return Ok(());
        }
        self.with_state(|s| s.commit().map(|_| ()))?;
        *dirty = false;
        Ok(())
    }
}

/// How a failed download is shown: git-annex's `download failed: ...`.
pub fn download_failure(e: &WebError) -> String {
    format!("download failed: {e}")
}

/// Checks a downloaded file against its key (size, and hash for keys of
/// hashing backends); content that does not match is removed.
pub fn verify_download(key: &Key, dest: &Path) -> Result<(), RemoteError> {
    let len = std::fs::metadata(dest).map(|m| m.len()).ok();
    let size_ok = key.size().is_none_or(|s| Some(s) == len);
    let hash_ok = size_ok
        && !matches!(
            crate::backend::verify_key(key, dest),
            Ok(Some(false)) | Err(_)
        );
    if hash_ok {
        Ok(())
    } else {
        let _ = std::fs::remove_file(dest);
        Err(RemoteError::VerificationFailed)
    }
}

/// Whether a header carries credentials (not sent across origins).
fn is_credential_header(name: &str) -> bool {
    ["authorization", "proxy-authorization", "cookie"]
        .iter()
        .any(|c| name.trim().eq_ignore_ascii_case(c))
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_are_told_from_other_headers() {
        assert!(is_credential_header("Authorization"));
        assert!(is_credential_header("cookie"));
        assert!(!is_credential_header("User-Agent"));
    }

    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_and_loopback_refused_by_default() {
        let p = AddressPolicy::parse(None);
        for a in [
            "127.0.0.1:80",
            "0.0.0.0:80",
            "10.1.2.3:80",
            "172.16.0.1:80",
            "192.168.1.1:80",
            "169.254.169.254:80",
            "[::1]:80",
            "[fd00::1]:80",
            "[fe80::1]:80",
            "[::ffff:127.0.0.1]:80",
            "[64:ff9b::a00:1]:80",
        ] {
            assert!(!p.allows(&sa(a)), "{a}");
        }
        for a in ["93.184.216.34:80", "172.32.0.1:80", "[2001:db8::1]:443"] {
            assert!(p.allows(&sa(a)), "{a}");
        }
    }

    #[test]
    fn listed_addresses_and_all() {
        let p = AddressPolicy::parse(Some("127.0.0.1 [::1]:8080 bogus"));
        assert!(p.allows(&sa("127.0.0.1:1")));
        assert!(p.allows(&sa("[::1]:8080")));
        assert!(!p.allows(&sa("[::1]:8081")));
        assert!(!p.allows(&sa("10.0.0.1:80")));
        assert!(AddressPolicy::parse(Some("all")).allows(&sa("10.0.0.1:80")));
    }

    #[test]
    fn refused_literal_names_address_and_setting() {
        let h = Http::new(AddressPolicy::parse(None), "t", &[]);
        let e = h.info("http://127.0.0.1:9/x").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Configuration of annex.security.allowed-ip-addresses does not allow accessing address 127.0.0.1"
        );
        let e = h.info("http://localhost:9/x").unwrap_err();
        assert!(matches!(e, WebError::AddressRefused(_)), "{e}");
    }

    #[test]
    fn web_urls_and_dispositions() {
        assert_eq!(web_url(b"http://a/b").as_deref(), Some("http://a/b"));
        assert_eq!(web_url(b":http://a/b"), None);
        assert_eq!(web_url(b"yt:http://a/b"), None);
        assert_eq!(web_url(b"s3://a/b"), None);
        assert_eq!(
            disposition_filename("attachment; filename=\"x y.txt\"").as_deref(),
            Some("x y.txt")
        );
        assert_eq!(disposition_filename("inline"), None);
    }
}
