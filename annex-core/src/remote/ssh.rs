//! Git remotes reached over ssh, for content: the P2P protocol spoken with
//! `git-annex-shell p2pstdio` on the other side, as git-annex's own client
//! speaks it.
//!
//! - [`SshUrl`]: `[user@]host:path` and `ssh://[user@]host[:port]/path`.
//! - [`ssh_command`]: the ssh command line that runs a command there: with
//!   `GIT_ANNEX_USE_GIT_SSH=1`, git's (`GIT_SSH_COMMAND`, else `GIT_SSH`),
//!   as git-annex's test suite drives it; else `ssh` with the remote's
//!   `annex-ssh-options`. A host beginning with `-` is refused: it never
//!   reaches ssh as an option.
//! - [`SshCaching`]: git-annex's ssh connection caching. One ssh master
//!   per host (`ControlMaster=auto`, `ControlPersist=yes`) whose socket is
//!   `.git/annex/ssh/HOST` (`HOST!PORT` with a port; the MD5 of that when
//!   longer than 32 characters), with a lock file `SOCKET.lock` beside it
//!   held shared while in use; at the end of the command every socket no
//!   other process holds is stopped (`ssh -O stop`). Off with
//!   `annex.sshcaching=false`, and when git's ssh is used
//!   (`GIT_ANNEX_USE_GIT_SSH=1` with `GIT_SSH` or `GIT_SSH_COMMAND`); a
//!   socket path too long for a unix socket means no caching, as in
//!   git-annex.
//! - [`SshRemote`]: a [`Remote`] over a small pool of P2P connections,
//!   each opened at first need and kept for the whole command: one
//!   request at a time takes one (every file of a sequential command goes
//!   over the same one), and `-J N` workers each get their own, as
//!   git-annex opens one per job. A content lock (`LOCKCONTENT`) takes a
//!   connection of its own, held for the whole drop proof. A download
//!   resumes from what the temporary file holds (`GET OFFSET`), an upload
//!   from the offset the server answers (`PUT-FROM`); the repositories a
//!   proxying server names in its `-PLUS` replies are handed over with
//!   [`Remote::take_fanout`]; a removal under a proof that expires is
//!   `REMOVE-BEFORE` the server's own clock (protocol 3 and up).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::{ContentLockGuard, Progress, Remote, RemoteError};
use crate::key::Key;
use crate::lockfile::{self, SharedLock};
use crate::p2p::io::P2pError;
use crate::p2p::{MAX_PROTOCOL_VERSION, Message, P2pReader, P2pWriter};
use crate::uuid::Uuid;

/// A git remote reached over ssh: `[user@]host:path` or
/// `ssh://[user@]host[:port]/path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshUrl {
    /// `[user@]host`.
    pub host: String,
    /// The port of an `ssh://` URL that names one.
    pub port: Option<String>,
    /// The repository's path as `git-annex-shell` takes it: absolute, or
    /// `/~/PATH` for a path relative to the home directory.
    pub path: String,
}

impl SshUrl {
    /// Parses a remote URL; `None` when it is not one of ssh's forms.
    pub fn parse(url: &str) -> Option<SshUrl> {
        let rest = url
            .strip_prefix("ssh://")
            .or_else(|| url.strip_prefix("git+ssh://"))
            .or_else(|| url.strip_prefix("ssh+git://"));
        if let Some(rest) = rest {
            let (hostport, path) = rest.split_at(rest.find('/')?);
            let (host, port) = match hostport.rsplit_once(':') {
                Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                    (h.to_string(), Some(p.to_string()))
                }
                _ => (hostport.to_string(), None),
            };
            let path = match path.strip_prefix("/~") {
                Some(home) if home.is_empty() || home.starts_with('/') => format!("/~{home}"),
                _ => path.to_string(),
            };
            return (!host.is_empty()).then_some(SshUrl { host, port, path });
        }
        if url.contains("://") {
            return None;
        }
        let colon = url.find(':')?;
        if url.find('/').is_some_and(|s| s < colon) {
            return None;
        }
        let (host, path) = (&url[..colon], &url[colon + 1..]);
        if host.is_empty() {
            return None;
        }
        let path = if path.starts_with('/') {
            path.to_string()
        } else if let Some(home) = path.strip_prefix("~/") {
            format!("/~/{home}")
        } else {
            format!("/~/{path}")
        };
        Some(SshUrl {
            host: host.to_string(),
            port: None,
            path,
        })
    }
}

/// Quotes a word for the remote shell as git-annex does (single quotes).
pub fn shell_quote(w: &str) -> String {
    format!("'{}'", w.replace('\'', "'\"'\"'"))
}

/// How to run ssh.
#[derive(Debug, Clone, Default)]
pub struct SshConfig {
    /// `remote.NAME.annex-ssh-options`, split at white space.
    pub options: Vec<String>,
    /// git's `core.sshCommand`, used when `GIT_SSH_COMMAND` is unset and
    /// git's ssh is to be used.
    pub git_ssh_command: Option<String>,
    /// Whether to use git's ssh (`GIT_ANNEX_USE_GIT_SSH=1`, or for git's
    /// own commands).
    pub use_git_ssh: bool,
    /// Connection caching, when on (`annex.sshcaching`); shared by the
    /// remotes of one command.
    pub caching: Option<Arc<SshCaching>>,
}

impl SshConfig {
    /// For content: git's ssh only when `GIT_ANNEX_USE_GIT_SSH=1`.
    pub fn for_content(options: Vec<String>, git_ssh_command: Option<String>) -> SshConfig {
        SshConfig {
            options,
            git_ssh_command,
            use_git_ssh: std::env::var("GIT_ANNEX_USE_GIT_SSH").is_ok_and(|v| v == "1"),
            caching: None,
        }
    }

    /// With connection caching through `caching` (`None`: without).
    pub fn with_caching(mut self, caching: Option<Arc<SshCaching>>) -> SshConfig {
        self.caching = caching;
        self
    }

    /// git's ssh command line (`GIT_SSH_COMMAND`, else `core.sshCommand`),
    /// when git's ssh is to be used and one is set.
    fn git_command(&self) -> Option<String> {
        if !self.use_git_ssh {
            return None;
        }
        std::env::var("GIT_SSH_COMMAND")
            .ok()
            .filter(|c| !c.is_empty())
            .or_else(|| self.git_ssh_command.clone().filter(|c| !c.is_empty()))
    }

    /// git's ssh program (`GIT_SSH`), when git's ssh is to be used and no
    /// command line is set.
    fn git_program(&self) -> Option<std::ffi::OsString> {
        if !self.use_git_ssh {
            return None;
        }
        std::env::var_os("GIT_SSH").filter(|c| !c.is_empty())
    }

    /// Whether plain `ssh` runs (with the remote's options and connection
    /// caching), rather than git's: as git-annex, git's is used only when
    /// `GIT_ANNEX_USE_GIT_SSH=1` and one is set.
    pub fn plain_ssh(&self) -> bool {
        self.git_command().is_none() && self.git_program().is_none()
    }
}

/// The command that runs `remote_command` (a shell line) on `url`'s host.
/// With plain ssh: the caching options (the master started first when
/// there is none), the remote's `annex-ssh-options`, the port, `-T`.
pub fn ssh_command(
    url: &SshUrl,
    remote_command: &str,
    config: &SshConfig,
) -> Result<Command, String> {
    if url.host.starts_with('-') {
        return Err(format!(
            "refusing ssh host {:?}: it begins with -",
            url.host
        ));
    }
    if let Some(c) = config.git_command() {
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(format!("{c} \"$@\"")).arg("ssh");
        cmd.args(git_ssh_args(url, remote_command));
        return Ok(cmd);
    }
    if let Some(p) = config.git_program() {
        let mut cmd = Command::new(p);
        cmd.args(git_ssh_args(url, remote_command));
        return Ok(cmd);
    }
    let mut args: Vec<String> = Vec::new();
    if let Some(caching) = &config.caching
        && let Some(socket) = caching.prepare(url, config)
    {
        args.extend(caching_args(&socket));
    }
    args.extend(plain_args(url, config));
    args.push(url.host.clone());
    args.push(remote_command.to_string());
    let mut cmd = Command::new("ssh");
    cmd.args(&args);
    Ok(cmd)
}

/// What git passes to its ssh: the host, the port, the command.
fn git_ssh_args(url: &SshUrl, remote_command: &str) -> Vec<String> {
    let mut args = vec![url.host.clone()];
    if let Some(p) = &url.port {
        args.push("-p".into());
        args.push(p.clone());
    }
    args.push(remote_command.to_string());
    args
}

/// Plain ssh's options after the caching ones: the remote's
/// `annex-ssh-options`, the port, `-T`.
fn plain_args(url: &SshUrl, config: &SshConfig) -> Vec<String> {
    let mut args: Vec<String> = config.options.clone();
    if let Some(p) = &url.port {
        args.push("-p".into());
        args.push(p.clone());
    }
    args.push("-T".into());
    args
}

/// ssh's options for a cached connection through `socket`.
fn caching_args(socket: &Path) -> Vec<String> {
    vec![
        "-S".into(),
        socket.to_string_lossy().into_owned(),
        "-o".into(),
        "ControlMaster=auto".into(),
        "-o".into(),
        "ControlPersist=yes".into(),
    ]
}

/// The length of `sockaddr_un`'s path as git-annex counts it (the
/// smallest of the systems it runs on, rounded down).
const SOCKET_PATH_MAX: usize = 100;

/// What ssh appends to a control socket's name while it sets it up.
const SSH_SOCKET_SUFFIX: usize = 1 + 16;

/// The name of the socket of `host` (with its `port`): `HOST` or
/// `HOST!PORT`, without `%` (ssh would expand it), or the MD5 of that in
/// hex when it is longer than an MD5 in hex.
pub fn socket_name(host: &str, port: Option<&str>) -> String {
    use md5::{Digest, Md5};
    let s: String = match port {
        Some(p) => format!("{host}!{p}"),
        None => host.to_string(),
    }
    .chars()
    .filter(|&c| c != '%')
    .collect();
    if s.len() > 32 {
        Md5::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    } else {
        s
    }
}

/// `to` relative to the directory `from` (both absolute).
fn relative_to(from: &Path, to: &Path) -> Option<PathBuf> {
    let f: Vec<Component> = from.components().collect();
    let t: Vec<Component> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return None;
    }
    let mut p = PathBuf::new();
    for _ in common..f.len() {
        p.push("..");
    }
    for c in &t[common..] {
        p.push(c);
    }
    Some(p)
}

/// The path to give ssh for the socket `abs`: the shorter of it and its
/// path relative to the current directory; `None` when neither fits a
/// unix socket (no caching then, as git-annex).
pub fn best_socket_path(abs: &Path) -> Option<PathBuf> {
    let rel = std::env::current_dir()
        .ok()
        .and_then(|cwd| relative_to(&cwd, abs));
    let len = |p: &Path| p.as_os_str().len();
    let best = match rel {
        Some(r) if len(&r) < len(abs) => r,
        _ => abs.to_path_buf(),
    };
    (len(&best) + SSH_SOCKET_SUFFIX < SOCKET_PATH_MAX).then_some(best)
}

/// The lock file beside a socket.
fn socket_lock(socket: &Path) -> PathBuf {
    let mut s = socket.as_os_str().to_os_string();
    s.push(".lock");
    PathBuf::from(s)
}

/// git-annex's ssh connection caching for the remotes of one command (see
/// the module doc). Dropping it (when the last remote using it is
/// dropped, at the end of the command) stops the masters nobody else
/// uses.
pub struct SshCaching {
    dir: PathBuf,
    state: Mutex<CachingState>,
}

#[derive(Default)]
struct CachingState {
    /// Whether masters left by an interrupted run were stopped.
    stale_cleaned: bool,
    /// The sockets in use, by absolute path: our shared lock on each.
    held: HashMap<PathBuf, SharedLock>,
}

impl std::fmt::Debug for SshCaching {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshCaching")
            .field("dir", &self.dir)
            .finish()
    }
}

impl SshCaching {
    /// Caching with its sockets in `dir` (`.git/annex/ssh`, made absolute
    /// by the caller); the directory is made when first needed.
    pub fn new(dir: PathBuf) -> SshCaching {
        SshCaching {
            dir,
            state: Mutex::new(CachingState::default()),
        }
    }

    /// The directory of the sockets.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The socket for `url`'s host, made ready: masters left over stopped
    /// (once), our shared lock taken on its lock file, and its master
    /// started when there is none (so that concurrent connections share
    /// it rather than racing to be the master). `None`: no caching for
    /// this host (the path is too long, or the directory cannot be made).
    fn prepare(&self, url: &SshUrl, config: &SshConfig) -> Option<PathBuf> {
        let abs = self.dir.join(socket_name(&url.host, url.port.as_deref()));
        let socket = best_socket_path(&abs)?;
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !st.stale_cleaned {
            st.stale_cleaned = true;
            std::fs::create_dir_all(&self.dir).ok()?;
            self.stop_unused(&mut st);
        }
        if !st.held.contains_key(&abs) {
            let lock = lockfile::shared(&socket_lock(&abs)).ok()?;
            st.held.insert(abs.clone(), lock);
        }
        if !abs.exists() {
            // ssh fails with 255 when it cannot connect; another status is
            // a connection made (the master is up).
            let mut base = caching_args(&socket);
            base.extend(plain_args(url, config));
            let try_ssh = |batch: bool| {
                let mut cmd = Command::new("ssh");
                if batch {
                    cmd.args(["-o", "BatchMode=true"]);
                }
                cmd.args(&base)
                    .arg(&url.host)
                    .arg("true")
                    .stdin(if batch {
                        Stdio::null()
                    } else {
                        Stdio::inherit()
                    })
                    .stdout(Stdio::null())
                    .stderr(Stdio::null());
                cmd.status().is_ok_and(|s| s.code() != Some(255))
            };
            if !try_ssh(true) {
                // Perhaps ssh needs to prompt; a failure is ssh's to tell.
                let _ = try_ssh(false);
            }
        }
        Some(socket)
    }

    /// The sockets in the directory that have a lock file beside them
    /// (those a git-annex set up).
    fn sockets(&self) -> Vec<PathBuf> {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        rd.filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                !p.as_os_str().as_encoded_bytes().ends_with(b".lock") && socket_lock(p).exists()
            })
            .collect()
    }

    /// Stops the master of every socket that no process holds: ours are
    /// released first.
    fn stop_unused(&self, st: &mut CachingState) {
        st.held.clear();
        for socket in self.sockets() {
            let _ =
                lockfile::with_exclusive_if_free(&socket_lock(&socket), || stop_master(&socket));
        }
    }
}

impl Drop for SshCaching {
    fn drop(&mut self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.held.is_empty() && !st.stale_cleaned {
            return;
        }
        self.stop_unused(&mut st);
    }
}

/// `ssh -O stop` of the master of `socket` (run in its directory, as
/// git-annex runs it, so that the path is short), then the socket removed.
fn stop_master(socket: &Path) {
    let (Some(dir), Some(base)) = (socket.parent(), socket.file_name()) else {
        return;
    };
    let _ = Command::new("ssh")
        .args(["-O", "stop"])
        .args(caching_args(Path::new(base)))
        .arg("localhost")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = std::fs::remove_file(socket);
}

/// Why `configlist` over ssh gave no UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfiglistError {
    /// ssh could not be run, or could not connect (exit 255).
    #[error("cannot connect: {0}")]
    Connect(String),
    /// It ran, but what came back is no config list.
    #[error("cannot parse the git config it sent")]
    Parse,
}

/// The UUID of the repository at `url`, as git-annex learns it:
/// `SHELL configlist PATH` run there (with `-- autoinit=1 --` when
/// `autoinit`, which initializes a repository that has a `git-annex`
/// branch). `Ok(None)` when the repository has no git-annex.
pub fn configlist_uuid(
    url: &SshUrl,
    shell: &str,
    config: &SshConfig,
    autoinit: bool,
) -> Result<Option<Uuid>, ConfiglistError> {
    let mut words = vec![
        shell.to_string(),
        shell_quote("configlist"),
        shell_quote(&url.path),
    ];
    if autoinit {
        words.extend([
            shell_quote("--"),
            shell_quote("autoinit=1"),
            shell_quote("--"),
        ]);
    }
    let mut cmd = ssh_command(url, &words.join(" "), config).map_err(ConfiglistError::Connect)?;
    cmd.stdin(Stdio::null());
    let out = cmd
        .output()
        .map_err(|e| ConfiglistError::Connect(e.to_string()))?;
    if !out.status.success() {
        return Err(if out.status.code() == Some(255) {
            ConfiglistError::Connect(String::from_utf8_lossy(&out.stderr).trim().to_string())
        } else {
            ConfiglistError::Parse
        });
    }
    for line in out.stdout.split(|&b| b == b'\n') {
        if let Some(v) = line.strip_prefix(b"annex.uuid=") {
            let v = v.strip_suffix(b"\r").unwrap_or(v);
            return Ok(if v.is_empty() {
                None
            } else {
                Uuid::parse(v).ok()
            });
        }
    }
    Err(ConfiglistError::Parse)
}

/// One P2P connection: ssh running `git-annex-shell p2pstdio` there.
/// Fields drop in order: the pipes close first, which ends the server's
/// loop (it commits and exits), then the ssh process is waited for.
struct Conn {
    r: P2pReader<ChildStdout>,
    w: P2pWriter<Batched>,
    version: u64,
    _child: Reaper,
}

impl Conn {
    /// The next message, after what was sent is written out.
    fn recv(&mut self) -> Result<Option<Message>, P2pError> {
        self.w.get_mut().push().map_err(|source| P2pError::Io {
            what: "sending a message",
            source,
        })?;
        self.r.read_message()
    }
}

/// What we send, held until we wait for an answer (or it grows large):
/// `DATA LEN`, the bytes and `VALID` of a small file then leave in one
/// write, so one ssh packet. Written piecemeal, the second small write
/// waits for the first one's acknowledgement (Nagle's algorithm: ssh
/// without a terminal does not turn it off), which the server delays:
/// tens of milliseconds a file.
struct Batched {
    buf: Vec<u8>,
    inner: ChildStdin,
}

/// How much is held before it is written anyway.
const BATCH: usize = 1 << 18;

impl Batched {
    fn new(inner: ChildStdin) -> Batched {
        Batched {
            buf: Vec::with_capacity(BATCH),
            inner,
        }
    }

    /// Writes out what is held.
    fn push(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            std::io::Write::write_all(&mut self.inner, &self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

impl std::io::Write for Batched {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= BATCH {
            self.push()?;
        }
        Ok(data.len())
    }

    /// Held until [`Batched::push`]: the codec flushes after every
    /// message.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Batched {
    fn drop(&mut self) {
        // UNLOCKCONTENT and the like, sent last with no answer awaited.
        let _ = self.push();
    }
}

/// Waits for the ssh process when dropped.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.wait();
    }
}

/// A git remote over ssh, for content.
pub struct SshRemote {
    name: String,
    uuid: Uuid,
    cost: f64,
    url: SshUrl,
    shell: String,
    ssh: SshConfig,
    local_uuid: Uuid,
    /// Idle connections; a request takes one (or opens one) and puts it
    /// back when done.
    pool: Mutex<Vec<Conn>>,
    /// Connections opened so far (for the tests' and `-J`'s sake).
    opened: std::sync::atomic::AtomicUsize,
    /// Repositories a proxying server said it also stored to or removed
    /// from, by key, until taken.
    fanout: Mutex<Vec<(Key, Uuid, bool)>>,
    /// Why the first connection that could not be opened failed: the
    /// remote is not tried again for the rest of the command (as git-annex
    /// gives up on it), and ssh's complaint is not repeated for each file.
    unreachable: Mutex<Option<String>>,
}

impl std::fmt::Debug for SshRemote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshRemote")
            .field("name", &self.name)
            .field("uuid", &self.uuid)
            .field("url", &self.url)
            .finish()
    }
}

/// A content lock held on a connection of its own; dropping it sends
/// `UNLOCKCONTENT`.
struct SshLock {
    conn: Option<Conn>,
    /// Until when the lock is sure to hold: the server keeps a lock for
    /// this long after a connection is lost (git-annex's
    /// `p2pDefaultLockContentRetentionDuration`), counted from when we
    /// asked for it.
    until: SystemTime,
}

/// How long a server keeps content locked after the connection is lost
/// (git-annex's `p2pDefaultLockContentRetentionDuration`, 10 minutes).
pub const LOCK_RETENTION: Duration = Duration::from_secs(600);

impl std::fmt::Debug for SshLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SshLock")
    }
}

impl ContentLockGuard for SshLock {
    fn valid_until(&self) -> Option<SystemTime> {
        Some(self.until)
    }
}

impl Drop for SshLock {
    fn drop(&mut self) {
        if let Some(mut c) = self.conn.take() {
            let _ = c.w.send(&Message::UnlockContent);
        }
    }
}

impl SshRemote {
    /// The remote `name` at `url` whose repository is `uuid`; `shell` is
    /// the program run there (`remote.NAME.annex-shell`, default
    /// `git-annex-shell`); `local_uuid` is this repository's. Nothing is
    /// connected until the first request.
    pub fn new(
        name: &str,
        uuid: Uuid,
        cost: f64,
        url: SshUrl,
        shell: Option<String>,
        ssh: SshConfig,
        local_uuid: Uuid,
    ) -> SshRemote {
        SshRemote {
            name: name.to_string(),
            uuid,
            cost,
            url,
            shell: shell.unwrap_or_else(|| "git-annex-shell".to_string()),
            ssh,
            local_uuid,
            pool: Mutex::new(Vec::new()),
            opened: std::sync::atomic::AtomicUsize::new(0),
            fanout: Mutex::new(Vec::new()),
            unreachable: Mutex::new(None),
        }
    }

    /// How many P2P connections (not counting content locks' own) were
    /// opened so far.
    pub fn connections_opened(&self) -> usize {
        self.opened.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Notes the repositories of a `-PLUS` reply (the remote's own UUID
    /// left out, as git-annex does).
    fn note_fanout(&self, key: &Key, uuids: Vec<Uuid>, present: bool) {
        let mut f = self.fanout.lock().unwrap_or_else(|p| p.into_inner());
        for u in uuids {
            if u != self.uuid {
                f.push((key.clone(), u, present));
            }
        }
    }

    fn unavailable(&self, reason: impl Into<String>) -> RemoteError {
        RemoteError::Unavailable {
            remote: self.name.clone(),
            reason: reason.into(),
        }
    }

    fn proto(&self, e: P2pError) -> RemoteError {
        self.unavailable(format!("P2P protocol: {e}"))
    }

    /// Opens a connection ([`SshRemote::connect_once`]), unless one
    /// failed to open before in this command: then that failure again.
    fn connect(&self) -> Result<Conn, RemoteError> {
        let before = self
            .unreachable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(reason) = before {
            return Err(self.unavailable(reason));
        }
        let r = self.connect_once();
        if let Err(RemoteError::Unavailable { reason, .. }) = &r {
            self.unreachable
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert_with(|| reason.clone());
        }
        r
    }

    /// Opens a connection: ssh, the server's greeting (its UUID must be
    /// the one we know), and the protocol version.
    fn connect_once(&self) -> Result<Conn, RemoteError> {
        let line = [
            self.shell.clone(),
            shell_quote("p2pstdio"),
            shell_quote(&self.url.path),
            shell_quote(self.local_uuid.as_str()),
            "--uuid".to_string(),
            self.uuid.as_str().to_string(),
        ]
        .join(" ");
        let mut cmd = ssh_command(&self.url, &line, &self.ssh).map_err(|e| self.unavailable(e))?;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .map_err(|e| self.unavailable(format!("cannot run ssh: {e}")))?;
        let (Some(out), Some(inp)) = (child.stdout.take(), child.stdin.take()) else {
            return Err(self.unavailable("ssh has no pipes"));
        };
        // Larger pipes (Linux), read in larger pieces: a large transfer
        // then wakes this process, and ssh, far less often.
        #[cfg(target_os = "linux")]
        {
            let _ = rustix::pipe::fcntl_setpipe_size(&out, PIPE_SIZE);
            let _ = rustix::pipe::fcntl_setpipe_size(&inp, PIPE_SIZE);
        }
        let mut c = Conn {
            r: P2pReader::with_capacity(PIPE_SIZE, out),
            w: P2pWriter::new(Batched::new(inp)),
            version: 0,
            _child: Reaper(child),
        };
        match c.recv().map_err(|e| self.proto(e))? {
            Some(Message::AuthSuccess(u)) if u == self.uuid => {}
            Some(Message::AuthSuccess(u)) => {
                return Err(self.unavailable(format!(
                    "remote does not have expected annex.uuid value (found {u})"
                )));
            }
            Some(other) => {
                return Err(self.unavailable(format!(
                    "unexpected greeting: {}",
                    String::from_utf8_lossy(&other.to_line())
                )));
            }
            None => return Err(self.unavailable("git-annex-shell closed the connection")),
        }
        c.w.send(&Message::Version(MAX_PROTOCOL_VERSION))
            .map_err(|e| self.proto(e))?;
        c.version = match c.recv().map_err(|e| self.proto(e))? {
            Some(Message::Version(v)) => v.min(MAX_PROTOCOL_VERSION),
            // An old server that knows no VERSION.
            Some(Message::Error(_)) => 0,
            _ => return Err(self.unavailable("expected VERSION")),
        };
        Ok(c)
    }

    /// Runs `f` on an idle connection of the pool, or a new one when
    /// none is idle (another thread has each); put back afterwards. A
    /// connection that failed is closed, so the next request opens
    /// another.
    fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<T, RemoteError>,
    ) -> Result<T, RemoteError> {
        let idle = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut conn = match idle {
            Some(c) => c,
            None => {
                let c = self.connect()?;
                self.opened
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                c
            }
        };
        let r = f(&mut conn);
        if !matches!(r, Err(RemoteError::Unavailable { .. })) {
            self.pool
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(conn);
        }
        r
    }

    /// SUCCESS or FAILURE; ERROR is the remote's refusal.
    fn success(&self, c: &mut Conn) -> Result<bool, RemoteError> {
        self.success_plus(c).map(|(ok, _)| ok)
    }

    /// SUCCESS or FAILURE, or their -PLUS forms with the other
    /// repositories a proxying server acted on; ERROR is the remote's
    /// refusal.
    fn success_plus(&self, c: &mut Conn) -> Result<(bool, Vec<Uuid>), RemoteError> {
        match c.recv().map_err(|e| self.proto(e))? {
            Some(Message::Success) => Ok((true, Vec::new())),
            Some(Message::SuccessPlus(l)) => Ok((true, l)),
            Some(Message::Failure) => Ok((false, Vec::new())),
            Some(Message::FailurePlus(l)) => Ok((false, l)),
            Some(Message::Error(e)) => Err(RemoteError::Refused {
                remote: self.name.clone(),
                reason: e,
            }),
            Some(other) => Err(self.unavailable(format!(
                "expected SUCCESS or FAILURE, got {}",
                String::from_utf8_lossy(&other.to_line())
            ))),
            None => Err(self.unavailable("git-annex-shell closed the connection")),
        }
    }
}

/// The server's time by which a removal must be done: its clock
/// `theirs` (seconds) plus what is left, at our `now`, until `end` (when
/// the proof's locks may lapse). `None` when no time is left (git-annex's
/// `canRemoveBefore`).
pub fn remove_deadline(theirs: u64, end: SystemTime, now: SystemTime) -> Option<u64> {
    let left = end.duration_since(now).ok()?;
    if left.is_zero() {
        return None;
    }
    Some(theirs.saturating_add(left.as_secs()))
}

/// A sink that hashes what it writes.
/// The size asked for the pipes to and from ssh, and of the buffer the
/// answers are read into.
const PIPE_SIZE: usize = 1 << 20;

/// The size of the pieces [`PieceSender`] hands over.
const PIECE: usize = 1 << 20;

/// A writer that gathers what it is given into pieces of [`PIECE`] bytes
/// and sends each to another thread (which sends the buffer back to be
/// used again); `flush` sends what is gathered. A write fails once that
/// thread is gone.
struct PieceSender {
    piece: Vec<u8>,
    tx: std::sync::mpsc::SyncSender<Vec<u8>>,
    back: std::sync::mpsc::Receiver<Vec<u8>>,
}

impl PieceSender {
    fn send(&mut self) -> std::io::Result<()> {
        if self.piece.is_empty() {
            return Ok(());
        }
        let next = self
            .back
            .try_recv()
            .map(|mut v| {
                v.clear();
                v
            })
            .unwrap_or_else(|_| Vec::with_capacity(PIECE));
        let full = std::mem::replace(&mut self.piece, next);
        self.tx
            .send(full)
            .map_err(|_| std::io::Error::other("the writing thread is gone"))
    }
}

impl std::io::Write for PieceSender {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len().min(PIECE - self.piece.len());
        self.piece.extend_from_slice(&buf[..n]);
        if self.piece.len() == PIECE {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

fn file_field(file: &[u8]) -> Option<Vec<u8>> {
    (!file.is_empty()).then(|| file.to_vec())
}

fn size_and_mtime(p: &Path) -> Option<(u64, std::time::SystemTime)> {
    let m = std::fs::metadata(p).ok()?;
    Some((m.len(), m.modified().ok()?))
}

impl Drop for SshRemote {
    fn drop(&mut self) {
        // The connections end before the caching (and so the master) may
        // be stopped.
        self.pool
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

impl Remote for SshRemote {
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
        self.with_conn(|c| {
            c.w.send(&Message::CheckPresent(key.clone()))
                .map_err(|e| self.proto(e))?;
            self.success(c)
        })
    }

    fn check_present_many(&self, keys: &[&Key]) -> Vec<Result<bool, RemoteError>> {
        let mut out = Vec::with_capacity(keys.len());
        // Asked in slices, so that the answers waiting to be read stay
        // far below what the pipes and ssh's channel window hold.
        for slice in keys.chunks(256) {
            let answers = self.with_conn(|c| {
                for key in slice {
                    c.w.send(&Message::CheckPresent((*key).clone()))
                        .map_err(|e| self.proto(e))?;
                }
                let mut answers = Vec::with_capacity(slice.len());
                for _ in slice {
                    match self.success(c) {
                        // The connection is out of step: no answer after
                        // this one can be trusted.
                        Err(e @ RemoteError::Unavailable { .. }) => return Err(e),
                        other => answers.push(other),
                    }
                }
                Ok(answers)
            });
            match answers {
                Ok(a) => out.extend(a),
                Err(_) => out.extend(slice.iter().map(|k| self.check_present(k))),
            }
        }
        out
    }

    fn retrieve(
        &self,
        key: &Key,
        dest: &Path,
        _our_uuid: &Uuid,
        file: &[u8],
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        let io = |op: &'static str, p: &Path, e: std::io::Error| {
            RemoteError::Transfer(crate::transfer::TransferError::Io {
                op,
                path: p.to_path_buf(),
                source: e,
            })
        };
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
        }
        let mut have = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
        if key.size().is_some_and(|s| have > s) {
            have = 0;
        }
        self.with_conn(|c| {
            c.w.send(&Message::Get {
                offset: have,
                file: file_field(file),
                key: key.clone(),
            })
            .map_err(|e| self.proto(e))?;
            let len = match c.recv().map_err(|e| self.proto(e))? {
                Some(Message::Data(n)) => n,
                Some(Message::Error(e)) => {
                    return Err(RemoteError::Refused {
                        remote: self.name.clone(),
                        reason: e,
                    });
                }
                _ => return Err(self.unavailable("expected DATA")),
            };
            let mut out = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(dest)
                .map_err(|e| io("write", dest, e))?;
            out.set_len(have).map_err(|e| io("write", dest, e))?;
            // The content is hashed as it comes (what an earlier transfer
            // left first), so that checking it needs no second read.
            let mut hasher = crate::backend::Backend::for_key(key).and_then(|b| b.hasher());
            if let Some(h) = hasher.as_mut() {
                out.seek(SeekFrom::Start(0))
                    .map_err(|e| io("read", dest, e))?;
                let mut prefix = std::io::Read::take(&mut out, have);
                let mut buf = vec![0u8; 1 << 16];
                loop {
                    let n = std::io::Read::read(&mut prefix, &mut buf)
                        .map_err(|e| io("read", dest, e))?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
            }
            out.seek(SeekFrom::Start(have))
                .map_err(|e| io("write", dest, e))?;
            progress(have);
            // Written and hashed on a thread of its own, so that the
            // connection is read on while a piece is hashed: ssh is never
            // held up by the hashing (with a core to spare, the transfer
            // goes at the connection's speed).
            let (received, written) = std::thread::scope(|scope| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
                let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<u8>>();
                let file = &mut out;
                let mut h = hasher.as_mut();
                let worker = scope.spawn(move || -> std::io::Result<()> {
                    let mut result = Ok(());
                    for piece in rx {
                        if result.is_ok() {
                            result = std::io::Write::write_all(file, &piece);
                            if let Some(h) = h.as_mut() {
                                h.update(&piece);
                            }
                        }
                        let _ = back_tx.send(piece);
                    }
                    result
                });
                let mut sink = PieceSender {
                    piece: Vec::with_capacity(PIECE),
                    tx,
                    back: back_rx,
                };
                let received = c.r.read_data(len, &mut sink, &mut |n| progress(have + n));
                let sent = std::io::Write::flush(&mut sink);
                // The thread ends once the channel is closed.
                drop(sink);
                let written = worker
                    .join()
                    .unwrap_or_else(|_| Err(std::io::Error::other("the writing thread failed")))
                    .and(sent);
                (received, written)
            });
            written.map_err(|e| io("write", dest, e))?;
            received.map_err(|e| self.proto(e))?;
            drop(out);
            let valid = if c.version >= 1 {
                match c.recv().map_err(|e| self.proto(e))? {
                    Some(Message::Valid) => true,
                    Some(Message::Invalid) => false,
                    _ => return Err(self.unavailable("expected VALID or INVALID")),
                }
            } else {
                true
            };
            let verified = match hasher {
                Some(h) => h.matches(key),
                None => crate::backend::received_content_ok(key, dest, !valid),
            };
            let reply = if verified {
                Message::Success
            } else {
                Message::Failure
            };
            c.w.send(&reply).map_err(|e| self.proto(e))?;
            if verified {
                Ok(())
            } else if len == 0 && have == 0 && !valid {
                let _ = std::fs::remove_file(dest);
                Err(RemoteError::NotPresent)
            } else {
                let _ = std::fs::remove_file(dest);
                Err(RemoteError::VerificationFailed)
            }
        })
    }

    fn store(
        &self,
        key: &Key,
        src: &Path,
        _our_uuid: &Uuid,
        file: &[u8],
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        let before = size_and_mtime(src);
        let mut f = File::open(src).map_err(|e| {
            RemoteError::Transfer(crate::transfer::TransferError::Io {
                op: "read",
                path: src.to_path_buf(),
                source: e,
            })
        })?;
        let size = before.map(|b| b.0).unwrap_or(0);
        self.with_conn(|c| {
            c.w.send(&Message::Put {
                file: file_field(file),
                key: key.clone(),
            })
            .map_err(|e| self.proto(e))?;
            let offset = match c.recv().map_err(|e| self.proto(e))? {
                Some(Message::AlreadyHave) => return Ok(()),
                Some(Message::AlreadyHavePlus(l)) => {
                    self.note_fanout(key, l, true);
                    return Ok(());
                }
                Some(Message::PutFrom(o)) => o.min(size),
                Some(Message::Error(e)) => {
                    return Err(RemoteError::Refused {
                        remote: self.name.clone(),
                        reason: e,
                    });
                }
                _ => return Err(self.unavailable("expected PUT-FROM or ALREADY-HAVE")),
            };
            f.seek(SeekFrom::Start(offset))
                .map_err(|e| self.unavailable(format!("{}: {e}", src.display())))?;
            progress(offset);
            c.w.send_data(size - offset, &mut f, &mut |n| progress(offset + n))
                .map_err(|e| self.proto(e))?;
            if c.version >= 1 {
                let same = size_and_mtime(src) == before;
                let v = if same {
                    Message::Valid
                } else {
                    Message::Invalid
                };
                c.w.send(&v).map_err(|e| self.proto(e))?;
            }
            match self.success_plus(c)? {
                (true, l) => {
                    self.note_fanout(key, l, true);
                    Ok(())
                }
                (false, _) => Err(RemoteError::Refused {
                    remote: self.name.clone(),
                    reason: "transfer failed".into(),
                }),
            }
        })
    }

    fn remove(&self, key: &Key) -> Result<(), RemoteError> {
        self.remove_before(key, None)
    }

    fn remove_before(&self, key: &Key, end: Option<SystemTime>) -> Result<(), RemoteError> {
        self.with_conn(|c| {
            let request = match end {
                Some(end) if c.version >= 3 => {
                    c.w.send(&Message::GetTimestamp)
                        .map_err(|e| self.proto(e))?;
                    let theirs = match c.recv().map_err(|e| self.proto(e))? {
                        Some(Message::Timestamp(t)) => t,
                        Some(Message::Error(e)) => {
                            return Err(RemoteError::Refused {
                                remote: self.name.clone(),
                                reason: e,
                            });
                        }
                        _ => return Err(self.unavailable("expected TIMESTAMP")),
                    };
                    // Our clock read after theirs: a slow answer shortens
                    // the time allowed, never lengthens it.
                    match remove_deadline(theirs, end, SystemTime::now()) {
                        Some(timestamp) => Message::RemoveBefore {
                            timestamp,
                            key: key.clone(),
                        },
                        None => {
                            return Err(RemoteError::Refused {
                                remote: self.name.clone(),
                                reason: "removing content from remote failed".into(),
                            });
                        }
                    }
                }
                // No proof that expires, or a server too old for
                // REMOVE-BEFORE.
                _ => Message::Remove(key.clone()),
            };
            c.w.send(&request).map_err(|e| self.proto(e))?;
            let (ok, l) = self.success_plus(c)?;
            self.note_fanout(key, l, false);
            if ok {
                Ok(())
            } else {
                Err(RemoteError::Refused {
                    remote: self.name.clone(),
                    reason: "removal failed (the content may be locked)".into(),
                })
            }
        })
    }

    fn take_fanout(&self, key: &Key) -> Vec<(Uuid, bool)> {
        super::take_fanout_of(&self.fanout, key)
    }

    fn lock_content(&self, key: &Key) -> Result<Box<dyn ContentLockGuard>, RemoteError> {
        // A connection of its own: while locked, it can carry nothing
        // else.
        let mut c = self.connect()?;
        let asked = SystemTime::now();
        c.w.send(&Message::LockContent(key.clone()))
            .map_err(|e| self.proto(e))?;
        if self.success(&mut c)? {
            Ok(Box::new(SshLock {
                conn: Some(c),
                until: asked + LOCK_RETENTION,
            }))
        } else {
            Err(RemoteError::Refused {
                remote: self.name.clone(),
                reason: "content could not be locked".into(),
            })
        }
    }

    fn locks_over_network(&self) -> bool {
        true
    }

    fn commit(&self) -> Result<(), RemoteError> {
        // The server commits what it recorded when the connection ends.
        self.pool.lock().unwrap_or_else(|p| p.into_inner()).clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_as_git_annex_reads_them() {
        let u = SshUrl::parse("ssh://me@host:2222/~/r").expect("ssh url");
        assert_eq!(
            (u.host.as_str(), u.port.as_deref(), u.path.as_str()),
            ("me@host", Some("2222"), "/~/r")
        );
        let u = SshUrl::parse("host:r").expect("scp");
        assert_eq!(u.path, "/~/r");
        let u = SshUrl::parse("host:/srv/r").expect("scp");
        assert_eq!(u.path, "/srv/r");
        assert_eq!(SshUrl::parse("/local/path"), None);
        assert_eq!(SshUrl::parse("https://h/r"), None);
    }

    #[test]
    fn a_host_beginning_with_a_dash_never_reaches_ssh() {
        let u = SshUrl::parse("-oProxyCommand=touch:r").expect("parses");
        let e = ssh_command(&u, "true", &SshConfig::default()).expect_err("refused");
        assert!(e.contains("begins with -"), "{e}");
        let u = SshUrl::parse("ssh://-oProxyCommand=x/r").expect("parses");
        assert!(ssh_command(&u, "true", &SshConfig::default()).is_err());
    }

    fn args_of(cmd: &Command) -> Vec<String> {
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn sockets_are_named_as_git_annex_names_them() {
        assert_eq!(socket_name("me@host", None), "me@host");
        assert_eq!(socket_name("127.0.0.1", Some("2222")), "127.0.0.1!2222");
        // ssh would expand a %.
        assert_eq!(socket_name("fe80::1%eth0", None), "fe80::1eth0");
        // Longer than 32: the MD5 of the name, in hex.
        let long = "someone@a-rather-long-host-name.example.org";
        assert_eq!(socket_name(long, None), {
            use md5::{Digest, Md5};
            Md5::digest(long.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        });
        assert_eq!(socket_name(long, None).len(), 32);
        assert_eq!(
            socket_lock(Path::new("/r/.git/annex/ssh/h")),
            Path::new("/r/.git/annex/ssh/h.lock")
        );
    }

    #[test]
    fn a_socket_path_too_long_for_a_unix_socket_means_no_caching() {
        let cwd = std::env::current_dir().expect("cwd");
        // Relative to the current directory when that is shorter.
        let near = cwd.join(".git/annex/ssh/h");
        assert_eq!(
            best_socket_path(&near),
            Some(PathBuf::from(".git/annex/ssh/h"))
        );
        let far = PathBuf::from(format!("/{}/.git/annex/ssh/h", "d".repeat(120)));
        assert_eq!(best_socket_path(&far), None);
        // 83 bytes and ssh's 17 make 100: too long as an absolute path.
        let over = PathBuf::from(format!("/{}", "e".repeat(82)));
        assert_eq!(best_socket_path(&over).filter(|p| p.is_absolute()), None);
        assert_eq!(
            relative_to(Path::new("/a/b/c"), Path::new("/a/x/y")),
            Some(PathBuf::from("../../x/y"))
        );
    }

    #[test]
    fn plain_ssh_gets_the_caching_options_and_git_ssh_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A socket already there: no master is started.
        let sockets = dir.path().join("ssh");
        std::fs::create_dir(&sockets).expect("mkdir");
        std::fs::write(sockets.join("h!22"), b"").expect("socket stand-in");
        let caching = Arc::new(SshCaching::new(sockets.clone()));
        let url = SshUrl::parse("ssh://h:22/r").expect("url");
        let mut config = SshConfig {
            options: vec!["-oFoo=bar".into()],
            caching: Some(caching.clone()),
            ..SshConfig::default()
        };
        let args = args_of(&ssh_command(&url, "true", &config).expect("command"));
        let socket = args[1].clone();
        assert!(socket.ends_with("ssh/h!22"), "{args:?}");
        assert_eq!(
            args[2..].to_vec(),
            [
                "-o",
                "ControlMaster=auto",
                "-o",
                "ControlPersist=yes",
                "-oFoo=bar",
                "-p",
                "22",
                "-T",
                "h",
                "true"
            ]
        );
        assert_eq!(args[0], "-S");
        // Our shared lock on the lock file beside it.
        assert!(sockets.join("h!22.lock").exists());
        // Git's ssh: exactly git's arguments, no caching, no options.
        config.use_git_ssh = true;
        config.git_ssh_command = Some("myssh -x".into());
        // SAFETY of the environment: GIT_SSH_COMMAND unset by no test.
        if std::env::var_os("GIT_SSH_COMMAND").is_none() {
            let cmd = ssh_command(&url, "true", &config).expect("command");
            assert_eq!(cmd.get_program(), "sh");
            let args = args_of(&cmd);
            assert_eq!(args[3..].to_vec(), ["h", "-p", "22", "true"]);
        }
        // GIT_ANNEX_USE_GIT_SSH=1 with no git ssh set: plain ssh, cached.
        config.git_ssh_command = None;
        if std::env::var_os("GIT_SSH_COMMAND").is_none() && std::env::var_os("GIT_SSH").is_none() {
            assert!(config.plain_ssh());
        }
    }

    #[test]
    fn the_removal_deadline_is_the_servers_clock_plus_the_time_left() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(
            remove_deadline(50, now + Duration::from_millis(600_900), now),
            Some(650)
        );
        assert_eq!(remove_deadline(50, now, now), None);
        assert_eq!(remove_deadline(50, now - Duration::from_secs(1), now), None);
        // Under a second left: by the server's current second.
        assert_eq!(
            remove_deadline(50, now + Duration::from_millis(300), now),
            Some(50)
        );
    }

    const SRV: &str = "aaaaaaaa-0000-0000-0000-000000000001";
    const U2: &str = "bbbbbbbb-0000-0000-0000-000000000002";
    const U3: &str = "bbbbbbbb-0000-0000-0000-000000000003";

    /// A remote whose "ssh" (git's, `core.sshCommand`) is a script
    /// speaking the server's side: protocol `version`, `ALREADY-HAVE-PLUS`
    /// to a PUT, `SUCCESS-PLUS` to a removal; it logs what it is sent.
    fn scripted(dir: &Path, version: u64) -> (SshRemote, PathBuf) {
        let log = dir.join(format!("sent-v{version}"));
        let script = dir.join(format!("server-v{version}"));
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho 'AUTH-SUCCESS {SRV}'\n\
                 while IFS= read -r line; do\n\
                 echo \"$line\" >> '{log}'\n\
                 case \"$line\" in\n\
                 VERSION*) echo 'VERSION {version}';;\n\
                 PUT*) echo 'ALREADY-HAVE-PLUS {U2} {SRV}';;\n\
                 GETTIMESTAMP) echo 'TIMESTAMP 1000';;\n\
                 REMOVE*) echo 'SUCCESS-PLUS {U3}';;\n\
                 esac\ndone\n",
                log = log.display()
            ),
        )
        .expect("script");
        let mut perm = std::fs::metadata(&script).expect("stat").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&script, perm).expect("chmod");
        let config = SshConfig {
            git_ssh_command: Some(script.display().to_string()),
            use_git_ssh: true,
            ..SshConfig::default()
        };
        let remote = SshRemote::new(
            "origin",
            Uuid::parse(SRV.as_bytes()).expect("uuid"),
            100.0,
            SshUrl::parse("h:/r").expect("url"),
            None,
            config,
            Uuid::parse(U3.as_bytes()).expect("uuid"),
        );
        (remote, log)
    }

    #[test]
    fn plus_replies_name_the_other_repositories_and_removal_is_remove_before_from_v3() {
        if std::env::var_os("GIT_SSH_COMMAND").is_some() {
            panic!("this test needs GIT_SSH_COMMAND unset");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let key = Key::parse(b"SHA256E-s3--0123").expect("key");
        let src = dir.path().join("src");
        std::fs::write(&src, b"abc").expect("src");
        let (remote, log) = scripted(dir.path(), 3);
        let u = |s: &str| Uuid::parse(s.as_bytes()).expect("uuid");
        remote
            .store(&key, &src, &u(U3), b"", &mut |_| {})
            .expect("already there");
        // The remote's own UUID is left out.
        assert_eq!(remote.take_fanout(&key), [(u(U2), true)]);
        assert_eq!(remote.take_fanout(&key), []);
        let end = SystemTime::now() + Duration::from_secs(600);
        remote.remove_before(&key, Some(end)).expect("removed");
        assert_eq!(remote.take_fanout(&key), [(u(U3), false)]);
        remote.remove_before(&key, None).expect("removed");
        // One connection for all of it.
        assert_eq!(remote.connections_opened(), 1);
        drop(remote);
        let sent = std::fs::read_to_string(&log).expect("log");
        let lines: Vec<&str> = sent.lines().collect();
        assert_eq!(lines[0], "VERSION 4");
        assert_eq!(lines[1], "PUT  SHA256E-s3--0123");
        assert_eq!(lines[2], "GETTIMESTAMP");
        // 1000 on the server's clock, plus 599 or 600 seconds left.
        assert!(
            lines[3] == "REMOVE-BEFORE 1600 SHA256E-s3--0123"
                || lines[3] == "REMOVE-BEFORE 1599 SHA256E-s3--0123",
            "{sent}"
        );
        assert_eq!(lines[4], "REMOVE SHA256E-s3--0123", "no proof that lapses");
        // A server of protocol 2 knows no REMOVE-BEFORE.
        let (remote, log) = scripted(dir.path(), 2);
        remote.remove_before(&key, Some(end)).expect("removed");
        drop(remote);
        let sent = std::fs::read_to_string(&log).expect("log");
        assert_eq!(sent, "VERSION 4\nREMOVE SHA256E-s3--0123\n");
    }

    #[test]
    fn remote_words_are_quoted_for_the_remote_shell() {
        assert_eq!(shell_quote("a'b c"), "'a'\"'\"'b c'");
    }
}
