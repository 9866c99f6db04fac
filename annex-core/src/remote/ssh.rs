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
//! - [`SshRemote`]: a [`Remote`] over one P2P connection, opened at its
//!   first use and kept for the whole command (every file goes over it);
//!   a content lock (`LOCKCONTENT`) takes a connection of its own, held
//!   for the whole drop proof.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

use super::{ContentLockGuard, Progress, Remote, RemoteError};
use crate::key::Key;
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
}

impl SshConfig {
    /// For content: git's ssh only when `GIT_ANNEX_USE_GIT_SSH=1`.
    pub fn for_content(options: Vec<String>, git_ssh_command: Option<String>) -> SshConfig {
        SshConfig {
            options,
            git_ssh_command,
            use_git_ssh: std::env::var("GIT_ANNEX_USE_GIT_SSH").is_ok_and(|v| v == "1"),
        }
    }
}

/// The command that runs `remote_command` (a shell line) on `url`'s host.
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
    let mut args: Vec<String> = Vec::new();
    if !config.use_git_ssh {
        args.extend(config.options.iter().cloned());
    }
    if let Some(p) = &url.port {
        args.push("-p".into());
        args.push(p.clone());
    }
    args.push(url.host.clone());
    args.push(remote_command.to_string());
    let git_command = if config.use_git_ssh {
        std::env::var("GIT_SSH_COMMAND")
            .ok()
            .filter(|c| !c.is_empty())
            .or_else(|| config.git_ssh_command.clone())
    } else {
        None
    };
    let mut cmd = match git_command {
        Some(c) => {
            let mut cmd = Command::new("sh");
            cmd.arg("-c").arg(format!("{c} \"$@\"")).arg("ssh");
            cmd
        }
        None => Command::new(
            std::env::var_os("GIT_SSH")
                .filter(|c| config.use_git_ssh && !c.is_empty())
                .unwrap_or_else(|| "ssh".into()),
        ),
    };
    cmd.args(&args);
    Ok(cmd)
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
    w: P2pWriter<ChildStdin>,
    version: u64,
    _child: Reaper,
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
    conn: Mutex<Option<Conn>>,
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
}

impl std::fmt::Debug for SshLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SshLock")
    }
}

impl ContentLockGuard for SshLock {}

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
            conn: Mutex::new(None),
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

    /// Opens a connection: ssh, the server's greeting (its UUID must be
    /// the one we know), and the protocol version.
    fn connect(&self) -> Result<Conn, RemoteError> {
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
        let mut c = Conn {
            r: P2pReader::new(out),
            w: P2pWriter::new(inp),
            version: 0,
            _child: Reaper(child),
        };
        match c.r.read_message().map_err(|e| self.proto(e))? {
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
        c.version = match c.r.read_message().map_err(|e| self.proto(e))? {
            Some(Message::Version(v)) => v.min(MAX_PROTOCOL_VERSION),
            // An old server that knows no VERSION.
            Some(Message::Error(_)) => 0,
            _ => return Err(self.unavailable("expected VERSION")),
        };
        Ok(c)
    }

    /// Runs `f` on the shared connection, opened first when needed; a
    /// connection that failed is closed, so the next request opens another.
    fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<T, RemoteError>,
    ) -> Result<T, RemoteError> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(self.connect()?);
        }
        let Some(conn) = guard.as_mut() else {
            return Err(self.unavailable("no connection"));
        };
        let r = f(conn);
        if matches!(r, Err(RemoteError::Unavailable { .. })) {
            *guard = None;
        }
        r
    }

    /// SUCCESS (or -PLUS) or FAILURE (or -PLUS); ERROR is the remote's
    /// refusal.
    fn success(&self, c: &mut Conn) -> Result<bool, RemoteError> {
        match c.r.read_message().map_err(|e| self.proto(e))? {
            Some(Message::Success | Message::SuccessPlus(_)) => Ok(true),
            Some(Message::Failure | Message::FailurePlus(_)) => Ok(false),
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

fn file_field(file: &[u8]) -> Option<Vec<u8>> {
    (!file.is_empty()).then(|| file.to_vec())
}

fn size_and_mtime(p: &Path) -> Option<(u64, std::time::SystemTime)> {
    let m = std::fs::metadata(p).ok()?;
    Some((m.len(), m.modified().ok()?))
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
            let len = match c.r.read_message().map_err(|e| self.proto(e))? {
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
                .write(true)
                .create(true)
                .truncate(false)
                .open(dest)
                .map_err(|e| io("write", dest, e))?;
            out.set_len(have).map_err(|e| io("write", dest, e))?;
            out.seek(SeekFrom::Start(have))
                .map_err(|e| io("write", dest, e))?;
            progress(have);
            {
                let mut buf = std::io::BufWriter::with_capacity(1 << 20, &mut out);
                c.r.read_data(len, &mut buf, &mut |n| progress(have + n))
                    .map_err(|e| self.proto(e))?;
                std::io::Write::flush(&mut buf).map_err(|e| io("write", dest, e))?;
            }
            out.sync_all().map_err(|e| io("sync", dest, e))?;
            drop(out);
            let valid = if c.version >= 1 {
                match c.r.read_message().map_err(|e| self.proto(e))? {
                    Some(Message::Valid) => true,
                    Some(Message::Invalid) => false,
                    _ => return Err(self.unavailable("expected VALID or INVALID")),
                }
            } else {
                true
            };
            let verified = crate::backend::received_content_ok(key, dest, !valid);
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
            let offset = match c.r.read_message().map_err(|e| self.proto(e))? {
                Some(Message::AlreadyHave | Message::AlreadyHavePlus(_)) => return Ok(()),
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
            if self.success(c)? {
                Ok(())
            } else {
                Err(RemoteError::Refused {
                    remote: self.name.clone(),
                    reason: "transfer failed".into(),
                })
            }
        })
    }

    fn remove(&self, key: &Key) -> Result<(), RemoteError> {
        self.with_conn(|c| {
            c.w.send(&Message::Remove(key.clone()))
                .map_err(|e| self.proto(e))?;
            if self.success(c)? {
                Ok(())
            } else {
                Err(RemoteError::Refused {
                    remote: self.name.clone(),
                    reason: "removal failed (the content may be locked)".into(),
                })
            }
        })
    }

    fn lock_content(&self, key: &Key) -> Result<Box<dyn ContentLockGuard>, RemoteError> {
        // A connection of its own: while locked, it can carry nothing
        // else.
        let mut c = self.connect()?;
        c.w.send(&Message::LockContent(key.clone()))
            .map_err(|e| self.proto(e))?;
        if self.success(&mut c)? {
            Ok(Box::new(SshLock { conn: Some(c) }))
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
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        *guard = None;
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

    #[test]
    fn remote_words_are_quoted_for_the_remote_shell() {
        assert_eq!(shell_quote("a'b c"), "'a'\"'\"'b c'");
    }
}
