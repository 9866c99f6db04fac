//! The server side of the P2P protocol for a repository on this machine:
//! what `git-annex-shell p2pstdio` runs. It answers a client's requests
//! with the repository's object store and records what changes in the
//! repository's own location log, as git-annex's server does:
//!
//! - `CHECKPRESENT`: whether the content is here.
//! - `LOCKCONTENT`: a shared lock until `UNLOCKCONTENT`, with a retention
//!   time ten minutes ahead, so that content a client counted for a drop
//!   stays even when the connection breaks before it unlocks.
//! - `REMOVE`, `REMOVE-BEFORE`: under the removal lock (refused while any
//!   lock or retention time holds the content), the log written first.
//! - `GET`: the content from an offset, then `VALID` (or `INVALID` when
//!   it changed while sent); absent content is `DATA 0` and `INVALID`.
//! - `PUT`: resumed from the temp file, the whole received content
//!   verified against the key before it enters the store. A client gone
//!   in the middle of the `DATA` is told `FAILURE` (if it still listens)
//!   and the session fails with a clear error; what arrived stays in the
//!   temp file only, for the next `PUT` to resume.
//! - `GETTIMESTAMP`: the system's monotonic clock, in seconds.
//! - `CONNECT` (git over the protocol, [`Server::relay_git`]) and
//!   `NOTIFYCHANGE` ([`Server::notify_changes`]): served only when asked
//!   for, as git-annex's servers that know their repository serve them;
//!   otherwise the session fails in git-annex's words, as its
//!   `git-annex-shell p2pstdio` does. `CONNECT git-receive-pack` is
//!   refused unless read-write, and ends the session either way.
//! - `VERSION`, `BYPASS`; anything else is `ERROR`, and the loop goes on.
//!
//! The server mode (read-only, append-only) refuses what git-annex's
//! refuses, with its words.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use annex_core::content;
use annex_core::key::Key;
use annex_core::objects::ObjectStore;
use annex_core::p2p::io::P2pError;
use annex_core::p2p::{MAX_PROTOCOL_VERSION, Message, P2pReader, P2pWriter, Service};
use annex_core::remote::{LocalGitRemote, Remote, RemoteError};
use annex_core::transfer::{self, Direction};
use annex_core::uuid::Uuid;

use crate::refwatch::RefWatcher;

/// What the client may do (git-annex's `ServerMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerMode {
    /// Read, no write (`GIT_ANNEX_SHELL_READONLY`).
    ReadOnly,
    /// Read and store, no removal (`GIT_ANNEX_SHELL_APPENDONLY`).
    AppendOnly,
    /// Everything.
    ReadWrite,
}

/// How long a lock outlives a broken connection (git-annex's
/// `p2pDefaultLockContentRetentionDuration`).
pub const LOCK_RETENTION_SECS: f64 = 600.0;

/// Why serving stopped short.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The repository could not be opened.
    #[error("{0}")]
    Repository(#[from] RemoteError),
    /// The connection failed.
    #[error(transparent)]
    Connection(#[from] P2pError),
    /// A request this server does not serve, in git-annex's words; the
    /// session ends.
    #[error("{0}")]
    Unsupported(&'static str),
    /// A transfer could not be recorded.
    #[error(transparent)]
    Transfer(#[from] transfer::TransferError),
    /// A local file could not be read or written.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ServerError {
    let path = path.to_path_buf();
    move |source| ServerError::Io { what, path, source }
}

/// Seconds of the system's monotonic clock (comparable across the
/// server's processes on this machine, as git-annex's).
pub fn monotonic_seconds() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    u64::try_from(t.tv_sec).unwrap_or(0)
}

fn now_epoch() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// One client's session with the repository at `path`.
pub struct Server {
    repo: LocalGitRemote,
    store: ObjectStore,
    client: Uuid,
    mode: ServerMode,
    version: u64,
    path: PathBuf,
    relay_git: bool,
    watcher: Option<RefWatcher>,
}

/// How a session ended.
enum Ended {
    /// The client closed the connection or sent `ERROR`.
    Closed,
    /// `CONNECT` to a git service: the rest of the connection is git's.
    Connect(Service),
}

impl Server {
    /// Opens the repository at `path` (a work tree or a bare repository)
    /// to serve `client`.
    pub fn open(path: &Path, client: Uuid, mode: ServerMode) -> Result<Server, ServerError> {
        let repo = LocalGitRemote::open("here", path, None, 0.0)?;
        let store = repo.object_store().clone();
        Ok(Server {
            repo,
            store,
            client,
            mode,
            version: 0,
            path: path.to_path_buf(),
            relay_git: false,
            watcher: None,
        })
    }

    /// Serves `CONNECT` (git's `upload-pack` and, unless the mode refuses
    /// it, `receive-pack` over the connection). git-annex's servers that
    /// know their repository do (its P2P network servers); its
    /// `git-annex-shell p2pstdio` does not, and neither does ours.
    pub fn relay_git(mut self) -> Server {
        self.relay_git = true;
        self
    }

    /// Serves `NOTIFYCHANGE` with the refs changed since the watch began
    /// (here, at once; the refs already there are the first change, as
    /// with git-annex's watch). git-annex's `git-annex-shell p2pstdio`
    /// does not, and neither does ours.
    pub fn notify_changes(mut self) -> Server {
        self.watcher = Some(RefWatcher::start(self.repo.git_dir()));
        self
    }

    /// The served repository's UUID.
    pub fn uuid(&self) -> &Uuid {
        self.repo.uuid()
    }

    /// Serves one connection: greets with `AUTH-SUCCESS`, answers until
    /// the client closes the connection or sends `ERROR` (or until a git
    /// service it connected to ends), then commits what was recorded in
    /// the repository's journal.
    pub fn serve<R: Read + Send + 'static, W: Write>(
        &mut self,
        reader: R,
        writer: W,
    ) -> Result<(), ServerError> {
        let mut r = P2pReader::new(reader);
        let mut w = P2pWriter::new(writer);
        w.send(&Message::AuthSuccess(self.uuid().clone()))?;
        let result = match self.serve_loop(&mut r, &mut w) {
            Ok(Ended::Closed) => Ok(()),
            Ok(Ended::Connect(service)) => crate::relay::relay(&self.path, service, r, &mut w),
            Err(e) => Err(e),
        };
        let committed = self.repo.commit().map_err(ServerError::from);
        result.and(committed)
    }

    fn serve_loop<R: Read, W: Write>(
        &mut self,
        r: &mut P2pReader<R>,
        w: &mut P2pWriter<W>,
    ) -> Result<Ended, ServerError> {
        loop {
            let m = match r.read_message() {
                Ok(Some(m)) => m,
                Ok(None) => return Ok(Ended::Closed),
                // An unparsable message: answered, and the loop goes on,
                // so that the protocol can grow.
                Err(P2pError::Message(_)) => {
                    w.send(&Message::Error("unknown command".into()))?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            match m {
                Message::Error(_) => return Ok(Ended::Closed),
                Message::Version(v) => {
                    self.version = v.min(MAX_PROTOCOL_VERSION);
                    w.send(&Message::Version(self.version))?;
                }
                Message::CheckPresent(key) => {
                    w.send(&success(self.store.has(&key)))?;
                }
                Message::LockContent(key) => self.lock_content(&key, r, w)?,
                Message::Remove(key) => self.remove(&key, None, w)?,
                Message::RemoveBefore { timestamp, key } => {
                    self.remove(&key, Some(timestamp), w)?
                }
                Message::GetTimestamp => w.send(&Message::Timestamp(monotonic_seconds()))?,
                Message::Get { offset, file, key } => {
                    self.get(&key, offset, file.as_deref().unwrap_or_default(), r, w)?
                }
                Message::Put { file, key } => {
                    if self.mode == ServerMode::ReadOnly {
                        w.send(&read_only())?;
                    } else {
                        self.put(&key, file.as_deref().unwrap_or_default(), r, w)?;
                    }
                }
                // git's receive-pack could rewrite refs: refused unless
                // read-write, and either way git-annex ends the session
                // (git may leave data behind on the connection).
                Message::Connect(service) => {
                    if service == Service::ReceivePack && self.mode != ServerMode::ReadWrite {
                        w.send(&read_only())?;
                        return Ok(Ended::Closed);
                    }
                    if !self.relay_git {
                        return Err(ServerError::Unsupported(
                            "relaying to git not supported on this connection",
                        ));
                    }
                    return Ok(Ended::Connect(service));
                }
                Message::NotifyChange => {
                    let Some(watcher) = self.watcher.as_mut() else {
                        return Err(ServerError::Unsupported(
                            "change notification not available",
                        ));
                    };
                    let shas = watcher.wait();
                    w.send(&Message::Changed(shas))?;
                }
                Message::Bypass(_) => {}
                _ => w.send(&Message::Error("unexpected command".into()))?,
            }
        }
    }

    fn lock_content<R: Read, W: Write>(
        &mut self,
        key: &Key,
        r: &mut P2pReader<R>,
        w: &mut P2pWriter<W>,
    ) -> Result<(), ServerError> {
        let until = now_epoch() + LOCK_RETENTION_SECS;
        let lock = match content::lock_shared_retained(&self.store, key, until) {
            Ok(l) => l,
            Err(_) => {
                w.send(&Message::Failure)?;
                return Ok(());
            }
        };
        if let Err(e) = w.send(&Message::Success) {
            lock.keep_retention();
            return Err(e.into());
        }
        match r.read_message() {
            Ok(Some(Message::UnlockContent)) => {
                lock.release();
                Ok(())
            }
            Ok(Some(_)) | Err(P2pError::Message(_)) => {
                lock.release();
                w.send(&Message::Error("expected UNLOCKCONTENT".into()))?;
                Ok(())
            }
            // The connection broke while the client relied on the lock:
            // the retention time keeps the content.
            Ok(None) => {
                lock.keep_retention();
                Ok(())
            }
            Err(e) => {
                lock.keep_retention();
                Err(e.into())
            }
        }
    }

    fn remove<W: Write>(
        &mut self,
        key: &Key,
        before: Option<u64>,
        w: &mut P2pWriter<W>,
    ) -> Result<(), ServerError> {
        match self.mode {
            ServerMode::ReadOnly => return Ok(w.send(&read_only())?),
            ServerMode::AppendOnly => {
                return Ok(w.send(&Message::Error(
                    "this repository is append-only; removal denied".into(),
                ))?);
            }
            ServerMode::ReadWrite => {}
        }
        if !self.store.has(key) {
            return Ok(w.send(&Message::Success)?);
        }
        // Past the client's deadline: refused. Otherwise the repository's
        // removal takes the removal lock (refused while any lock or
        // retention time holds the content), writes the log, then removes.
        let ok = before.is_none_or(|ts| monotonic_seconds() < ts)
            && self.repo.remove(key).is_ok()
            && !self.store.has(key);
        Ok(w.send(&success(ok))?)
    }

    fn get<R: Read, W: Write>(
        &mut self,
        key: &Key,
        offset: u64,
        file: &[u8],
        r: &mut P2pReader<R>,
        w: &mut P2pWriter<W>,
    ) -> Result<(), ServerError> {
        // Held while sending, so a drop here cannot take it mid-way.
        let lock = content::lock_shared(&self.store, key).ok();
        let object = lock.as_ref().and_then(|_| self.store.find(key));
        let opened = object
            .as_ref()
            .and_then(|p| File::open(p).ok().map(|f| (p.clone(), f)));
        let valid = match opened {
            None => {
                w.send_data(0, &mut std::io::empty(), &mut |_| {})?;
                false
            }
            Some((path, mut f)) => {
                let before = f.metadata().map_err(io_err("read", &path))?;
                let size = before.len();
                let len = size.saturating_sub(offset);
                let mut t = transfer::Transfer::start(
                    self.store.git_dir(),
                    Direction::Upload,
                    &self.client,
                    key,
                    file,
                    true,
                )
                .ok();
                if len > 0 {
                    f.seek(SeekFrom::Start(offset))
                        .map_err(io_err("read", &path))?;
                }
                w.send_data(len, &mut f, &mut |n| {
                    if let Some(t) = t.as_mut() {
                        t.progress(offset + n);
                    }
                })?;
                let after = std::fs::metadata(&path).ok();
                let unchanged = after.is_some_and(|a| {
                    a.len() == before.len() && a.modified().ok() == before.modified().ok()
                });
                if let Some(t) = t {
                    t.finish(unchanged);
                }
                unchanged
            }
        };
        drop(lock);
        if self.version >= 1 {
            w.send(&if valid {
                Message::Valid
            } else {
                Message::Invalid
            })?;
        }
        // The client's answer: it may have thrown the content away, so
        // nothing is recorded either way.
        match r.read_message()? {
            Some(Message::Success | Message::Failure)
            | Some(Message::SuccessPlus(_) | Message::FailurePlus(_)) => Ok(()),
            Some(Message::Error(_)) | None => Ok(()),
            Some(_) => Ok(w.send(&Message::Error(
                "expected SUCCESS or SUCCESS-PLUS or FAILURE or FAILURE-PLUS".into(),
            ))?),
        }
    }

    fn put<R: Read, W: Write>(
        &mut self,
        key: &Key,
        file: &[u8],
        r: &mut P2pReader<R>,
        w: &mut P2pWriter<W>,
    ) -> Result<(), ServerError> {
        if self.store.has(key) {
            return Ok(w.send(&Message::AlreadyHave)?);
        }
        let t = match transfer::Transfer::start(
            self.store.git_dir(),
            Direction::Download,
            &self.client,
            key,
            file,
            false,
        ) {
            Ok(t) => t,
            Err(transfer::TransferError::InProgress) => {
                return Ok(w.send(&Message::Error(
                    "transfer already in progress, or unable to take transfer lock".into(),
                ))?);
            }
            // A key no file can be named for (a NUL in it): the session
            // fails, as git-annex's does.
            Err(e) => return Err(ServerError::Transfer(e)),
        };
        let tmp = self.store.tmp_path(key);
        let have = std::fs::metadata(&tmp).map(|m| m.len()).unwrap_or(0);
        let offset = match key.size() {
            Some(size) if have > size => 0,
            _ => have,
        };
        w.send(&Message::PutFrom(offset))?;
        let stored = match r.read_message()? {
            Some(Message::Data(len)) => {
                if let Err(e) = self.receive(&tmp, offset, len, r) {
                    // What arrived stays in the temp file for the next
                    // PUT to resume; the client is told, as git-annex's
                    // tells it, if it still listens.
                    t.finish(false);
                    let _ = w.send(&Message::Failure);
                    return Err(e);
                }
                let validity = if self.version >= 1 {
                    r.read_message()?
                } else {
                    Some(Message::Valid)
                };
                match validity {
                    Some(Message::Valid) => self.admit(key, &tmp, false)?,
                    Some(Message::Invalid) => self.admit(key, &tmp, true)?,
                    _ => false,
                }
            }
            Some(Message::DataPresent) if self.version >= 4 => self.store.has(key),
            None => {
                t.finish(false);
                return Ok(());
            }
            Some(_) => {
                t.finish(false);
                return Ok(w.send(&Message::Error("expected DATA".into()))?);
            }
        };
        t.finish(stored);
        if stored {
            self.repo.record_presence(key, true)?;
        }
        Ok(w.send(&success(stored))?)
    }

    /// Appends the `len` bytes of a `DATA` to the temp file at `offset`.
    fn receive<R: Read>(
        &self,
        tmp: &Path,
        offset: u64,
        len: u64,
        r: &mut P2pReader<R>,
    ) -> Result<(), ServerError> {
        if let Some(dir) = tmp.parent() {
            std::fs::create_dir_all(dir).map_err(io_err("create", dir))?;
        }
        let mut out = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(tmp)
            .map_err(io_err("write", tmp))?;
        out.set_len(offset).map_err(io_err("write", tmp))?;
        out.seek(SeekFrom::Start(offset))
            .map_err(io_err("write", tmp))?;
        let mut buf = std::io::BufWriter::with_capacity(1 << 20, &mut out);
        r.read_data(len, &mut buf, &mut |_| {})?;
        buf.flush().map_err(io_err("write", tmp))?;
        // Not synced here: admitting it into the store syncs it (when
        // the store syncs at all) before the rename, and a partial file
        // left for a resume is hashed whole before it is admitted.
        Ok(())
    }

    /// Verifies the whole temp file against the key and moves it into
    /// the store; content that does not verify is removed. `changed`: the
    /// sender saw the content change while sending, so a key with no hash
    /// to check cannot be admitted.
    fn admit(&self, key: &Key, tmp: &Path, changed: bool) -> Result<bool, ServerError> {
        if !annex_core::backend::received_content_ok(key, tmp, changed) {
            let _ = std::fs::remove_file(tmp);
            return Ok(false);
        }
        if self.store.ingest_from_temp(tmp, key).is_err() {
            return Ok(false);
        }
        // The served repository's unlocked files of the key get the
        // content now, as git-annex's server fills them in before it
        // answers (their index entries are refreshed when the session
        // ends).
        self.repo.note_received(key);
        Ok(true)
    }
}

fn success(ok: bool) -> Message {
    if ok {
        Message::Success
    } else {
        Message::Failure
    }
}

fn read_only() -> Message {
    Message::Error("this repository is read-only; write access denied".into())
}
