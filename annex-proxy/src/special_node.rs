//! A special remote as a proxied remote or cluster node: the P2P
//! protocol's server side played by the gateway itself, in front of the
//! special remote, as git-annex's `proxySpecialRemote` does.
//!
//! - `CHECKPRESENT`: the remote asked; `SUCCESS`/`FAILURE`, or `ERROR`
//!   when it cannot tell.
//! - `LOCKCONTENT`: `FAILURE` (special remotes do not lock content).
//! - `REMOVE`: removed from the remote, `SUCCESS`; `REMOVE-BEFORE`: the
//!   same when this machine's monotonic clock has not passed the
//!   timestamp, else `FAILURE`; `GETTIMESTAMP`: that clock. (git-annex's
//!   proxy takes neither of the last two from a client of version 3 and
//!   up and ends the session; answering them keeps a drop's proof
//!   bounded in time, which `REMOVE` alone would not.)
//! - `PUT`: always from offset 0, into a temporary file of its own under
//!   the gateway's `othertmp`, checked against the key (a client saying
//!   `VALID` is not enough: bad content never enters the remote), then
//!   stored; the temporary file removed whatever happens.
//! - `GET`: retrieved from the remote into a temporary file of its own,
//!   then sent from the offset asked, `VALID` after it (the client
//!   verifies too).
//! - Errors of the remote: `ERROR proxied special remote reports: ...`,
//!   as git-annex words them.
//!
//! What is stored or removed is recorded in the remote's location log by
//! the remote itself (its `store`/`remove`), in the gateway's repository.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use annex_core::key::Key;
use annex_core::p2p::io::P2pError;
use annex_core::p2p::{MAX_PROTOCOL_VERSION, Message, P2pReader, P2pWriter};
use annex_core::remote::Remote;
use annex_core::uuid::Uuid;

use crate::server::monotonic_seconds;

/// Serves the special remote `remote` over `reader`/`writer` until the
/// other side closes the connection. `annex_dir` is the gateway's
/// `.git/annex` (its `othertmp` holds the temporary files); `gateway` its
/// UUID (the repository the remote receives from and sends to).
pub fn serve<R: Read, W: Write>(
    remote: &dyn Remote,
    annex_dir: &Path,
    gateway: &Uuid,
    reader: R,
    writer: W,
) -> Result<(), P2pError> {
    let mut r = P2pReader::new(reader);
    let mut w = P2pWriter::new(writer);
    w.send(&Message::AuthSuccess(remote.uuid().clone()))?;
    let mut version = 0;
    loop {
        let Some(m) = r.read_message()? else {
            return Ok(());
        };
        match m {
            Message::Version(v) => {
                version = v.min(MAX_PROTOCOL_VERSION);
                w.send(&Message::Version(version))?;
            }
            Message::Bypass(_) => {}
            Message::CheckPresent(key) => {
                let answer = match remote.check_present(&key) {
                    Ok(true) => Message::Success,
                    Ok(false) => Message::Failure,
                    Err(e) => reports(&e),
                };
                w.send(&answer)?;
            }
            Message::LockContent(_) => w.send(&Message::Failure)?,
            Message::Remove(key) => w.send(&remove(remote, &key))?,
            Message::RemoveBefore { timestamp, key } => {
                let answer = if monotonic_seconds() < timestamp {
                    remove(remote, &key)
                } else {
                    Message::Failure
                };
                w.send(&answer)?;
            }
            Message::GetTimestamp => w.send(&Message::Timestamp(monotonic_seconds()))?,
            Message::Put { file, key } => {
                put(
                    remote, annex_dir, gateway, version, file, &key, &mut r, &mut w,
                )?;
            }
            Message::Get { offset, file, key } => {
                get(
                    remote, annex_dir, gateway, version, offset, file, &key, &mut r, &mut w,
                )?;
            }
            Message::NotifyChange => w.send(&Message::Error(
                "NOTIFYCHANGE unsupported for a special remote".into(),
            ))?,
            Message::Connect(_) => {
                w.send(&Message::ConnectDone(1))?;
                return Ok(());
            }
            _ => {
                w.send(&Message::Error("protocol error".into()))?;
                return Ok(());
            }
        }
    }
}

fn protocol_error(what: &str) -> P2pError {
    P2pError::Io {
        what: "reading the request",
        source: std::io::Error::other(what.to_string()),
    }
}

fn reports(e: &dyn std::fmt::Display) -> Message {
    Message::Error(format!("proxied special remote reports: {e}"))
}

fn remove(remote: &dyn Remote, key: &Key) -> Message {
    match remote.remove(key) {
        Ok(()) => Message::Success,
        Err(e) => reports(&e),
    }
}

/// A temporary file of one transfer, in a directory of its own under
/// `othertmp` (several transfers of one key may run at once), removed
/// with its directory when dropped. As a gateway's upload: the directory
/// is `proxy.special.PID.N` (never a name of the gateway's own
/// `proxy.PID.N`), `othertmp.lck` is held shared while it lives, and one
/// left by a process killed is removed as stale by the next upload.
struct Tmp {
    dir: PathBuf,
    path: PathBuf,
    /// The shared lock on `othertmp.lck`, released after the directory
    /// is removed (fields drop after `Drop::drop`).
    _lock: annex_core::lockfile::SharedLock,
}

impl Tmp {
    fn new(annex_dir: &Path, key: &Key) -> std::io::Result<Tmp> {
        let base = annex_dir.join("othertmp");
        std::fs::create_dir_all(&base)?;
        crate::gateway::remove_stale_tmp(annex_dir);
        let lock = annex_core::lockfile::shared(&annex_dir.join("othertmp.lck"))?;
        let dir = tempdir_in(&base)?;
        let name = String::from_utf8_lossy(&annex_core::objects::key_file(key)).into_owned();
        Ok(Tmp {
            path: dir.join(name),
            dir,
            _lock: lock,
        })
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh directory `proxy.special.PID.N` under `base`.
fn tempdir_in(base: &Path) -> std::io::Result<PathBuf> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = SERIAL.fetch_add(1, Ordering::Relaxed);
        let d = base.join(format!("proxy.special.{}.{n}", std::process::id()));
        match std::fs::create_dir(&d) {
            Ok(()) => return Ok(d),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn put<R: Read, W: Write>(
    remote: &dyn Remote,
    annex_dir: &Path,
    gateway: &Uuid,
    version: u64,
    file: Option<Vec<u8>>,
    key: &Key,
    r: &mut P2pReader<R>,
    w: &mut P2pWriter<W>,
) -> Result<(), P2pError> {
    w.send(&Message::PutFrom(0))?;
    let len = match r.read_message()? {
        Some(Message::Data(len)) => len,
        Some(Message::DataPresent) => {
            let answer = match remote.check_present(key) {
                Ok(true) => Message::Success,
                Ok(false) => Message::Failure,
                Err(e) => reports(&e),
            };
            return w.send(&answer);
        }
        None => return Ok(()),
        Some(_) => {
            w.send(&Message::Error("protocol error".into()))?;
            return Err(protocol_error("expected DATA after PUT-FROM"));
        }
    };
    let tmp = match Tmp::new(annex_dir, key) {
        Ok(t) => t,
        Err(e) => {
            r.read_data(len, &mut std::io::sink(), &mut |_| {})?;
            if version >= 1 && r.read_message()?.is_none() {
                return Ok(());
            }
            return w.send(&reports(&e));
        }
    };
    let mut f = match std::fs::File::create(&tmp.path) {
        Ok(f) => Some(std::io::BufWriter::with_capacity(1 << 20, f)),
        Err(_) => None,
    };
    match &mut f {
        Some(out) => r.read_data(len, out, &mut |_| {})?,
        None => r.read_data(len, &mut std::io::sink(), &mut |_| {})?,
    }
    let flushed = f.map(|mut out| out.flush().is_ok()).unwrap_or(false);
    let valid = if version >= 1 {
        match r.read_message()? {
            Some(Message::Valid) => true,
            Some(Message::Invalid) => false,
            None => return Ok(()),
            Some(_) => {
                w.send(&Message::Error("protocol error".into()))?;
                return Err(protocol_error("expected VALID or INVALID"));
            }
        }
    } else {
        true
    };
    // The content is checked here whatever the client said: a special
    // remote is never given content that is not the key's.
    let verified = flushed
        && valid
        && annex_core::backend::verify_key(key, &tmp.path)
            .ok()
            .flatten()
            .unwrap_or_else(|| {
                std::fs::metadata(&tmp.path).is_ok_and(|m| key.size().is_none_or(|s| s == m.len()))
            });
    if !verified {
        return w.send(&Message::Failure);
    }
    let af = file.unwrap_or_default();
    let answer = match remote.store(key, &tmp.path, gateway, &af, &mut |_| {}) {
        Ok(()) => Message::Success,
        Err(e) => reports(&e),
    };
    drop(tmp);
    w.send(&answer)
}

#[allow(clippy::too_many_arguments)]
fn get<R: Read, W: Write>(
    remote: &dyn Remote,
    annex_dir: &Path,
    gateway: &Uuid,
    version: u64,
    offset: u64,
    file: Option<Vec<u8>>,
    key: &Key,
    r: &mut P2pReader<R>,
    w: &mut P2pWriter<W>,
) -> Result<(), P2pError> {
    let tmp = match Tmp::new(annex_dir, key) {
        Ok(t) => t,
        Err(e) => return w.send(&reports(&e)),
    };
    let af = file.unwrap_or_default();
    if let Err(e) = remote.retrieve(key, &tmp.path, gateway, &af, &mut |_| {}) {
        return w.send(&reports(&e));
    }
    let opened = std::fs::File::open(&tmp.path).and_then(|mut f| {
        let size = f.metadata()?.len();
        f.seek(SeekFrom::Start(offset.min(size)))?;
        Ok((f, size))
    });
    let (mut f, size) = match opened {
        Ok(x) => x,
        Err(e) => return w.send(&reports(&e)),
    };
    let len = size.saturating_sub(offset);
    w.send_data(len, &mut f, &mut |_| {})?;
    if version >= 1 {
        w.send(&Message::Valid)?;
    }
    drop(tmp);
    // The client's SUCCESS or FAILURE.
    r.read_message().map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_node_temp_dirs_hold_the_othertmp_lock_and_are_cleaned_when_stale() {
        let repo = tempfile::tempdir().expect("temp dir");
        let annex_dir = repo.path();
        let key = Key::parse(
            b"SHA256E-s3--0000000000000000000000000000000000000000000000000000000000000000",
        )
        .expect("key");
        // Left by a gateway killed mid-transfer.
        let stale = annex_dir.join("othertmp/proxy.special.999999.0");
        std::fs::create_dir_all(&stale).expect("mkdir");
        std::fs::write(stale.join("x"), "partial").expect("write");
        let live = Tmp::new(annex_dir, &key).expect("tmp");
        assert!(!stale.exists(), "the stale directory is removed");
        let name = live
            .dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        assert!(name.starts_with("proxy."), "{name}");
        std::fs::write(&live.path, "abc").expect("write");
        // Another transfer meanwhile leaves the live one alone (the lock
        // is held).
        let other = Tmp::new(annex_dir, &key).expect("tmp");
        assert!(live.path.exists(), "a live transfer's file is kept");
        assert_ne!(other.dir, live.dir);
        let dir = live.dir.clone();
        drop(live);
        drop(other);
        assert!(!dir.exists());
    }
}
