//! The client of git-annex's HTTP API: a [`Remote`] for a git remote whose
//! `remote.NAME.annexUrl` is an `annex+http://` or `annex+https://` URL.
//!
//! As git-annex's client does, each request tries the newest protocol
//! version first and falls back to older ones while the server answers
//! 404; a 401 asks git's credential helper (`git credential fill`) for a
//! user name and password, which are approved once they work and rejected
//! when refused. Credentials are asked for the remote's own URL when it
//! is an HTTP URL on the same host (git-annex assumes the same users
//! there), otherwise for the `annex+http` URL.
//!
//! A lock for a drop proof is `lockcontent`, then a `keeplocked` request
//! held open (its body streams `{"unlock": false}` and, when the lock is
//! released, `{"unlock": true}`); the server keeps the content at least
//! ten minutes from the lock even if that request breaks.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use base64::Engine;
use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::Value;

use annex_core::key::Key;
use annex_core::remote::ssh::{LOCK_RETENTION, remove_deadline};
use annex_core::remote::{ContentLockGuard, Progress, Remote, RemoteError};
use annex_core::transfer::TransferError;
use annex_core::uuid::Uuid;

use super::server::DATA_LENGTH_HEADER;
use super::{P2pHttpUrl, encode_b64_text};

/// Every protocol version, newest first.
const ALL_VERSIONS: &[u64] = &[4, 3, 2, 1, 0];

/// Credentials from git's credential helper.
#[derive(Debug, Clone)]
struct Credential {
    /// What `git credential fill` answered (to approve or reject it).
    lines: Vec<u8>,
    user: String,
    password: String,
    approved: bool,
}

/// A remote reached through git-annex's HTTP API.
pub struct HttpRemote {
    name: String,
    uuid: Uuid,
    cost: f64,
    url: P2pHttpUrl,
    local: Uuid,
    allowed_ip: String,
    client: std::sync::OnceLock<Result<Client, String>>,
    credential_url: String,
    repo_dir: PathBuf,
    credential: Mutex<Option<Credential>>,
    version: Mutex<u64>,
    fanout: Mutex<Vec<(Key, Uuid, bool)>>,
}

impl std::fmt::Debug for HttpRemote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRemote")
            .field("name", &self.name)
            .field("url", &self.url.url)
            .finish()
    }
}

/// Percent-encodes a path segment.
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> RemoteError {
    let path = path.to_path_buf();
    move |source| RemoteError::Transfer(TransferError::Io { op, path, source })
}

impl HttpRemote {
    /// A remote named `name` with repository `uuid`, served at `url`; `local` is
    /// our repository's UUID, `repo_dir` where `git credential` runs, and
    /// `remote_url` the remote's `remote.NAME.url` (for credentials).
    /// `allowed_ip` is `annex.security.allowed-ip-addresses`: unless it
    /// is `all` or lists the address, a loopback or private address is
    /// refused, as git-annex refuses it.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: &str,
        uuid: Uuid,
        cost: f64,
        url: P2pHttpUrl,
        local: Uuid,
        repo_dir: &Path,
        remote_url: Option<&str>,
        allowed_ip: &str,
    ) -> Result<HttpRemote, RemoteError> {
        let same_host = remote_url.filter(|u| {
            (u.starts_with("http://") || u.starts_with("https://"))
                && url_host(u).is_some_and(|h| h.eq_ignore_ascii_case(url_host_of(&url)))
        });
        let credential_url = same_host.map(str::to_string).unwrap_or(url.url.clone());
        Ok(HttpRemote {
            name: name.to_string(),
            uuid,
            cost,
            url,
            local,
            allowed_ip: allowed_ip.to_string(),
            client: std::sync::OnceLock::new(),
            credential_url,
            repo_dir: repo_dir.to_path_buf(),
            credential: Mutex::new(None),
            version: Mutex::new(4),
            fanout: Mutex::new(Vec::new()),
        })
    }

    /// The HTTP client, connecting only to the address checked against
    /// `annex.security.allowed-ip-addresses`.
    fn client(&self) -> Result<&Client, RemoteError> {
        let made = self.client.get_or_init(|| {
            let mut b = Client::builder()
                .timeout(None)
                .connect_timeout(Duration::from_secs(60));
            // Certificates trusted besides the built-in roots, as git is
            // told (`GIT_SSL_CAINFO`): a server with its own (self-signed)
            // certificate.
            if let Some(path) = std::env::var_os("GIT_SSL_CAINFO").filter(|p| !p.is_empty()) {
                let var = "GIT_SSL_CAINFO";
                let shown = std::path::Path::new(&path).display().to_string();
                let pem = std::fs::read(&path).map_err(|e| format!("{var} {shown}: {e}"))?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| format!("{var} {shown}: {e}"))?;
                for c in certs {
                    b = b.add_root_certificate(c);
                }
            }
            if !annex_core::remote::special::web::AddressPolicy::parse(Some(&self.allowed_ip))
                .unrestricted()
            {
                let host = self.url.host.trim_start_matches('[').trim_end_matches(']');
                let addrs: Vec<std::net::SocketAddr> =
                    std::net::ToSocketAddrs::to_socket_addrs(&(host, self.url.port))
                        .map_err(|e| format!("unable to connect to HTTP server: {e}"))?
                        .collect();
                let Some(first) = addrs.first() else {
                    return Err(format!("unable to connect to HTTP server: {host}: no address"));
                };
                let ok: Vec<std::net::SocketAddr> = addrs
                    .iter()
                    .copied()
                    .filter(|a| address_allowed(&self.allowed_ip, a))
                    .collect();
                if ok.is_empty() {
                    return Err(format!(
                        "Configuration of annex.security.allowed-ip-addresses does not allow accessing address {first}"
                    ));
                }
                // Only the checked addresses: no redirect elsewhere, no
                // proxy in between (as the web remote's client).
                b = b
                    .resolve_to_addrs(host, &ok)
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy();
            }
            b.build().map_err(|e| e.to_string())
        });
        made.as_ref().map_err(|e| self.refused(e.clone()))
    }

    fn refused(&self, reason: impl Into<String>) -> RemoteError {
        RemoteError::Refused {
            remote: self.name.clone(),
            reason: reason.into(),
        }
    }

    fn endpoint(&self, version: u64, what: &str) -> String {
        format!(
            "{}/{}/v{version}/{what}",
            self.url.api_root(),
            segment(&encode_b64_text(self.uuid.as_str().as_bytes()))
        )
    }

    fn key_param(key: &Key) -> String {
        encode_b64_text(key.as_bytes())
    }

    fn common(&self, b: RequestBuilder, key: Option<&Key>) -> RequestBuilder {
        let b = b.query(&[(
            "clientuuid",
            encode_b64_text(self.local.as_str().as_bytes()),
        )]);
        match key {
            Some(k) => b.query(&[("key", Self::key_param(k))]),
            None => b,
        }
    }

    fn with_auth(&self, b: RequestBuilder) -> RequestBuilder {
        let cred = self
            .credential
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match cred {
            // git-annex's server reads base64url.
            Some(c) => b.header(
                reqwest::header::AUTHORIZATION,
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::URL_SAFE
                        .encode(format!("{}:{}", c.user, c.password))
                ),
            ),
            None => b,
        }
    }

    /// Sends the request `build` makes for each protocol version in
    /// `versions` (newest first, from the newest that worked before),
    /// falling back while the server answers 404, asking for credentials
    /// on a 401.
    fn call(
        &self,
        versions: &[u64],
        build: &dyn Fn(u64) -> Result<RequestBuilder, RemoteError>,
    ) -> Result<Option<(u64, Response)>, RemoteError> {
        let newest = *self.version.lock().unwrap_or_else(|p| p.into_inner());
        let mut vs = versions.iter().copied().filter(|v| *v <= newest).peekable();
        let mut asked = false;
        while let Some(&v) = vs.peek() {
            let resp = self
                .with_auth(build(v)?)
                .send()
                .map_err(|e| self.refused(connection_error(&e)))?;
            let status = resp.status();
            if status.is_success() {
                *self.version.lock().unwrap_or_else(|p| p.into_inner()) = v;
                self.approve();
                return Ok(Some((v, resp)));
            }
            if status == StatusCode::NOT_FOUND {
                vs.next();
                continue;
            }
            if status == StatusCode::UNAUTHORIZED {
                let have = self
                    .credential
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .is_some();
                if !have && !asked {
                    asked = true;
                    if self.fill() {
                        continue;
                    }
                } else if have {
                    self.reject();
                }
            }
            return Err(self.refused(format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            )));
        }
        Ok(None)
    }

    /// [`HttpRemote::call`], with a missing endpoint an error.
    fn call_any(
        &self,
        versions: &[u64],
        build: &dyn Fn(u64) -> Result<RequestBuilder, RemoteError>,
    ) -> Result<(u64, Response), RemoteError> {
        self.call(versions, build)?
            .ok_or_else(|| self.refused("git-annex HTTP API server is missing an endpoint"))
    }

    fn json(&self, resp: Response) -> Result<Value, RemoteError> {
        let bad = |e: String| {
            self.refused(format!(
                "git-annex HTTP API server returned an unexpected response: {e}"
            ))
        };
        let body = resp.bytes().map_err(|e| bad(e.to_string()))?;
        serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))
    }

    fn git_credential(&self, action: &str, input: &[u8]) -> Option<Vec<u8>> {
        let mut child = Command::new("git")
            .arg("credential")
            .arg(action)
            .current_dir(&self.repo_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .ok()?;
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(input);
        }
        let out = child.wait_with_output().ok()?;
        out.status.success().then_some(out.stdout)
    }

    /// Asks git's credential helper; whether credentials were had.
    fn fill(&self) -> bool {
        let input = format!("url={}\n\n", self.credential_url);
        let Some(out) = self.git_credential("fill", input.as_bytes()) else {
            return false;
        };
        let mut user = None;
        let mut password = None;
        for line in out.split(|c| *c == b'\n') {
            let line = String::from_utf8_lossy(line);
            if let Some(u) = line.strip_prefix("username=") {
                user = Some(u.to_string());
            } else if let Some(p) = line.strip_prefix("password=") {
                password = Some(p.to_string());
            }
        }
        let (Some(user), Some(password)) = (user, password) else {
            return false;
        };
        *self.credential.lock().unwrap_or_else(|p| p.into_inner()) = Some(Credential {
            lines: out,
            user,
            password,
            approved: false,
        });
        true
    }

    fn approve(&self) {
        let mut c = self.credential.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = c.as_mut()
            && !c.approved
        {
            c.approved = true;
            let mut input = c.lines.clone();
            input.extend_from_slice(b"\n");
            let _ = self.git_credential("approve", &input);
        }
    }

    fn reject(&self) {
        let c = self
            .credential
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(c) = c {
            let mut input = c.lines;
            input.extend_from_slice(b"\n");
            let _ = self.git_credential("reject", &input);
        }
    }

    fn note_fanout(&self, key: &Key, v: &Value, present: bool) {
        let Some(l) = v.get("plusuuids").and_then(Value::as_array) else {
            return;
        };
        let mut f = self.fanout.lock().unwrap_or_else(|p| p.into_inner());
        for u in l.iter().filter_map(Value::as_str) {
            if let Some(u) = super::decode_b64_text(u.as_bytes()).and_then(|b| Uuid::parse(&b).ok())
            {
                f.push((key.clone(), u, present));
            }
        }
    }
}

/// Whether `annex.security.allowed-ip-addresses` (`setting`) lets us
/// connect to `addr`: the web remote's policy
/// ([`AddressPolicy`](annex_core::remote::special::web::AddressPolicy)).
fn address_allowed(setting: &str, addr: &std::net::SocketAddr) -> bool {
    annex_core::remote::special::web::AddressPolicy::parse(Some(setting)).allows(addr)
}

fn connection_error(e: &reqwest::Error) -> String {
    if e.is_connect() {
        let mut src: Option<&dyn std::error::Error> = Some(e);
        let mut last = e.to_string();
        while let Some(s) = src {
            last = s.to_string();
            src = s.source();
        }
        format!("unable to connect to HTTP server: {last}")
    } else {
        e.to_string()
    }
}

fn url_host(u: &str) -> Option<&str> {
    let rest = u.split_once("://")?.1;
    let auth = rest.split('/').next()?;
    let auth = auth.rsplit('@').next()?;
    Some(match auth.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.ends_with(':') => h,
        _ => auth,
    })
}

fn url_host_of(u: &P2pHttpUrl) -> &str {
    &u.host
}

/// A lock held through a `keeplocked` request.
struct HttpLock {
    release: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    until: SystemTime,
}

impl std::fmt::Debug for HttpLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpLock")
    }
}

impl ContentLockGuard for HttpLock {
    fn valid_until(&self) -> Option<SystemTime> {
        Some(self.until)
    }
}

impl Drop for HttpLock {
    fn drop(&mut self) {
        drop(self.release.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The body of a `keeplocked` request: `{"unlock": false}`, then, once
/// released, `{"unlock": true}`.
struct UnlockStream {
    wait: std::sync::mpsc::Receiver<()>,
    pending: Vec<u8>,
    done: bool,
}

impl Read for UnlockStream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pending.is_empty() {
            if self.done {
                return Ok(0);
            }
            // Released (or the guard gone): unlock.
            let _ = self.wait.recv();
            self.pending = b"{\"unlock\":true}\n".to_vec();
            self.done = true;
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

impl Remote for HttpRemote {
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
        let (_, resp) = self.call_any(ALL_VERSIONS, &|v| {
            Ok(self.common(
                self.client()?.post(self.endpoint(v, "checkpresent")),
                Some(key),
            ))
        })?;
        let v = self.json(resp)?;
        v.get("present").and_then(Value::as_bool).ok_or_else(|| {
            self.refused("git-annex HTTP API server returned an unexpected response")
        })
    }

    fn retrieve(
        &self,
        key: &Key,
        dest: &Path,
        _our_uuid: &Uuid,
        file: &[u8],
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(io_err("create", dir))?;
        }
        let mut have = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
        if key.size().is_some_and(|s| have > s) {
            have = 0;
        }
        let (_, mut resp) = self.call_any(ALL_VERSIONS, &|v| {
            let what = format!("key/{}", segment(&Self::key_param(key)));
            let mut b = self.common(self.client()?.get(self.endpoint(v, &what)), None);
            if !file.is_empty() {
                b = b.query(&[("associatedfile", encode_b64_text(file))]);
            }
            if have > 0 {
                b = b.query(&[("offset", have.to_string())]);
            }
            Ok(b)
        })?;
        let announced = resp
            .headers()
            .get(DATA_LENGTH_HEADER)
            .and_then(|h| h.to_str().ok())
            .and_then(|s| s.trim().parse::<u64>().ok());
        let mut out = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(dest)
            .map_err(io_err("write", dest))?;
        out.set_len(have).map_err(io_err("write", dest))?;
        out.seek(SeekFrom::Start(have))
            .map_err(io_err("write", dest))?;
        progress(have);
        let mut got: u64 = 0;
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match resp.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.refused(e.to_string())),
            };
            out.write_all(&buf[..n]).map_err(io_err("write", dest))?;
            got += n as u64;
            progress(have + got);
        }
        out.sync_all().map_err(io_err("sync", dest))?;
        drop(out);
        if announced.is_some_and(|a| a != got) {
            let _ = std::fs::remove_file(dest);
            return Err(self.refused("Transfer failed"));
        }
        if annex_core::backend::received_content_ok(key, dest, false) {
            return Ok(());
        }
        let _ = std::fs::remove_file(dest);
        if got == 0 && have == 0 {
            Err(RemoteError::NotPresent)
        } else {
            Err(RemoteError::VerificationFailed)
        }
    }

    fn store(
        &self,
        key: &Key,
        src: &Path,
        _our_uuid: &Uuid,
        file: &[u8],
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        let size = std::fs::metadata(src).map_err(io_err("read", src))?.len();
        // As git-annex: any trouble asking for the offset is offset 0.
        let asked = self.call(&[4, 3, 2, 1], &|v| {
            Ok(self.common(
                self.client()?.post(self.endpoint(v, "putoffset")),
                Some(key),
            ))
        });
        let mut offset = 0;
        if let Ok(Some((_, resp))) = asked
            && let Ok(v) = self.json(resp)
        {
            if v.get("alreadyhave").and_then(Value::as_bool) == Some(true) {
                self.note_fanout(key, &v, true);
                return Ok(());
            }
            offset = v
                .get("offset")
                .and_then(Value::as_u64)
                .unwrap_or(0)
                .min(size);
        }
        progress(offset);
        let (_, resp) = self.call_any(ALL_VERSIONS, &|v| {
            let mut f = std::fs::File::open(src).map_err(io_err("read", src))?;
            f.seek(SeekFrom::Start(offset))
                .map_err(io_err("read", src))?;
            let len = size - offset;
            let mut b = self
                .common(self.client()?.post(self.endpoint(v, "put")), Some(key))
                .query(&[("offset", offset.to_string())])
                .header(DATA_LENGTH_HEADER, len.to_string())
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream");
            if !file.is_empty() {
                b = b.query(&[("associatedfile", encode_b64_text(file))]);
            }
            Ok(b.body(reqwest::blocking::Body::sized(f, len)))
        })?;
        let v = self.json(resp)?;
        self.note_fanout(key, &v, true);
        if v.get("stored").and_then(Value::as_bool) == Some(true) {
            progress(size);
            Ok(())
        } else {
            Err(self.refused("failed to send content to remote"))
        }
    }

    fn remove(&self, key: &Key) -> Result<(), RemoteError> {
        self.remove_before(key, None)
    }

    fn remove_before(&self, key: &Key, end: Option<SystemTime>) -> Result<(), RemoteError> {
        let mut before = None;
        if let Some(end) = end {
            let ts = self.call(&[4, 3], &|v| {
                Ok(self.common(self.client()?.post(self.endpoint(v, "gettimestamp")), None))
            })?;
            // A server too old for remove-before: a plain remove.
            if let Some((_, resp)) = ts {
                let theirs = self
                    .json(resp)?
                    .get("timestamp")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| {
                        self.refused("git-annex HTTP API server returned an unexpected response")
                    })?;
                match remove_deadline(theirs, end, SystemTime::now()) {
                    Some(t) => before = Some(t),
                    None => return Err(self.refused("removing content from remote failed")),
                }
            }
        }
        let (_, resp) = match before {
            Some(t) => self.call_any(&[4, 3], &|v| {
                Ok(self
                    .common(
                        self.client()?.post(self.endpoint(v, "remove-before")),
                        Some(key),
                    )
                    .query(&[("timestamp", t.to_string())]))
            })?,
            None => self.call_any(ALL_VERSIONS, &|v| {
                Ok(self.common(self.client()?.post(self.endpoint(v, "remove")), Some(key)))
            })?,
        };
        let v = self.json(resp)?;
        self.note_fanout(key, &v, false);
        if v.get("removed").and_then(Value::as_bool) == Some(true) {
            Ok(())
        } else {
            Err(self.refused("removing content from remote failed"))
        }
    }

    fn take_fanout(&self, key: &Key) -> Vec<(Uuid, bool)> {
        annex_core::remote::take_fanout_of(&self.fanout, key)
    }

    fn lock_content(&self, key: &Key) -> Result<Box<dyn ContentLockGuard>, RemoteError> {
        let asked = SystemTime::now();
        let (version, resp) = self.call_any(ALL_VERSIONS, &|v| {
            Ok(self.common(
                self.client()?.post(self.endpoint(v, "lockcontent")),
                Some(key),
            ))
        })?;
        let v = self.json(resp)?;
        let lockid = match (v.get("locked").and_then(Value::as_bool), v.get("lockid")) {
            (Some(true), Some(Value::String(id))) => id.clone(),
            _ => return Err(self.refused("can't lock content")),
        };
        let (release, wait) = std::sync::mpsc::channel();
        let request = self
            .with_auth(self.common(
                self.client()?.post(self.endpoint(version, "keeplocked")),
                None,
            ))
            .query(&[("lockid", lockid)])
            .header(reqwest::header::CONNECTION, "Keep-Alive")
            .header("Keep-Alive", "timeout=1200")
            .body(reqwest::blocking::Body::new(UnlockStream {
                wait,
                pending: b"{\"unlock\":false}\n".to_vec(),
                done: false,
            }));
        let thread = std::thread::spawn(move || {
            let _ = request.send();
        });
        Ok(Box::new(HttpLock {
            release: Some(release),
            thread: Some(thread),
            until: asked + LOCK_RETENTION,
        }))
    }

    fn commit(&self) -> Result<(), RemoteError> {
        // The server commits what it records.
        Ok(())
    }

    fn locks_over_network(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_loopback_addresses_need_listing() {
        let a: std::net::SocketAddr = "127.0.0.1:9417".parse().unwrap();
        assert!(!address_allowed("", &a));
        assert!(address_allowed("127.0.0.1", &a));
        assert!(address_allowed("[127.0.0.1]:9417", &a));
        assert!(!address_allowed("[127.0.0.1]:80", &a));
        let p: std::net::SocketAddr = "192.168.1.2:9417".parse().unwrap();
        assert!(!address_allowed("10.0.0.1", &p));
        let v6: std::net::SocketAddr = "[::1]:9417".parse().unwrap();
        assert!(!address_allowed("", &v6));
        assert!(address_allowed("::1", &v6));
        let public: std::net::SocketAddr = "93.184.216.34:9417".parse().unwrap();
        assert!(address_allowed("", &public));
    }
}
