//! Transfers: transfer information files, resumable downloads, verification.
//!
//! While git-annex moves a key's content it keeps, in the repository doing
//! the moving, a transfer information file
//! `annex/transfer/{upload,download}/UUID/KEY` (UUID: the other repository)
//! holding a line `STARTTIME[ BYTESDONE]` and a line with the associated
//! file, and holds an exclusive `fcntl` lock on a lock file meanwhile:
//! `annex/transfer/upload/UUID/lck.KEY` for an upload, and for a download
//! both `annex/transfer/download/lck/lck.KEY` and (for older git-annex)
//! `annex/transfer/download/UUID/lck.KEY`, taken in that order. A process
//! that cannot take the lock knows the transfer is in progress; `git annex
//! info` lists the transfers whose lock is held. A failed transfer leaves
//! its information in `annex/transfer/failed/DIRECTION/UUID/KEY`.
//!
//! [`Transfer::start`] does that; [`receive`] copies content into a
//! temporary file (`annex/tmp/KEY`), resuming from what an interrupted
//! transfer left there, hashing while it copies, and [`Received`] says
//! whether it matches its key before anything enters the object store.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::backend::{Backend, ContentHasher};
use crate::key::Key;
use crate::objects::key_file;
use crate::uuid::Uuid;

/// A transfer failure, naming the file or key at fault.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// Another process (or thread) is transferring the same key.
    #[error("transfer already in progress, or unable to take transfer lock")]
    InProgress,
    /// An I/O error.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The source is shorter than the key's size or than what was received.
    #[error("{path}: content is shorter than expected")]
    Short {
        /// The source file.
        path: PathBuf,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> TransferError + 'a {
    move |source| TransferError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Which way content moves, seen from the repository keeping the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Sending content to another repository.
    Upload,
    /// Receiving content from another repository.
    Download,
}

impl Direction {
    /// `upload` or `download`, as in the directory names.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Upload => "upload",
            Direction::Download => "download",
        }
    }
}

/// Where a transfer's files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferPaths {
    /// The transfer information file.
    pub info: PathBuf,
    /// The lock file taken first.
    pub lock: PathBuf,
    /// The second lock file of a download (git-annex 10.20240227 and
    /// older lock it).
    pub old_lock: Option<PathBuf>,
    /// Where the information goes when the transfer fails.
    pub failed: PathBuf,
}

/// The files of a transfer of `key` in the repository whose git dir is
/// `git_dir`, with the repository `uuid` (git-annex's
/// `transferFileAndLockFile`).
pub fn paths(git_dir: &Path, direction: Direction, uuid: &Uuid, key: &Key) -> TransferPaths {
    use std::os::unix::ffi::OsStrExt;
    let kf = std::ffi::OsStr::from_bytes(&key_file(key)).to_owned();
    let mut lck_name = std::ffi::OsString::from("lck.");
    lck_name.push(&kf);
    let base = git_dir.join("annex").join("transfer");
    let dir = base.join(direction.as_str()).join(uuid.as_str());
    let uuid_lock = dir.join(&lck_name);
    let failed = base
        .join("failed")
        .join(direction.as_str())
        .join(uuid.as_str())
        .join(&kf);
    match direction {
        Direction::Upload => TransferPaths {
            info: dir.join(&kf),
            lock: uuid_lock,
            old_lock: None,
            failed,
        },
        Direction::Download => TransferPaths {
            info: dir.join(&kf),
            lock: base.join("download").join("lck").join(&lck_name),
            old_lock: Some(uuid_lock),
            failed,
        },
    }
}

/// A transfer in progress, as [`in_progress`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InProgress {
    /// Which way the content moves.
    pub direction: Direction,
    /// The other repository.
    pub uuid: Uuid,
    /// The key moved.
    pub key: Key,
    /// The file the transfer is for, as its information file names it.
    pub file: Option<Vec<u8>>,
}

/// The transfers in progress in the repository whose git dir is
/// `git_dir` (git-annex's `getTransfers`): every transfer information file
/// whose lock file another process holds locked, uploads first, each
/// direction in the order of its directories and files by name.
pub fn in_progress(git_dir: &Path) -> Vec<InProgress> {
    let base = git_dir.join("annex").join("transfer");
    let mut out = Vec::new();
    for direction in [Direction::Upload, Direction::Download] {
        let Ok(dirs) = fs::read_dir(base.join(direction.as_str())) else {
            continue;
        };
        let mut dirs: Vec<_> = dirs.filter_map(Result::ok).map(|e| e.file_name()).collect();
        dirs.sort();
        for dir in dirs {
            use std::os::unix::ffi::OsStrExt;
            let Ok(uuid) = Uuid::parse(dir.as_bytes()) else {
                continue;
            };
            let Ok(files) = fs::read_dir(base.join(direction.as_str()).join(&dir)) else {
                continue;
            };
            let mut files: Vec<_> = files
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .collect();
            files.sort();
            for f in files {
                if f.as_bytes().starts_with(b"lck.") {
                    continue;
                }
                let Some(key) = crate::objects::file_key(f.as_bytes()) else {
                    continue;
                };
                let p = paths(git_dir, direction, &uuid, &key);
                if lock_held_elsewhere(&p.lock) {
                    let file = fs::read(&p.info).ok().and_then(|c| associated_file(&c));
                    out.push(InProgress {
                        direction,
                        uuid: uuid.clone(),
                        key,
                        file,
                    });
                }
            }
        }
    }
    out
}

/// The file named by a transfer information file: what follows its first
/// line (less one final newline), as git-annex reads it; `None` when that
/// is empty.
fn associated_file(info: &[u8]) -> Option<Vec<u8>> {
    let nl = info.iter().position(|&b| b == b'\n')?;
    let rest = &info[nl + 1..];
    let rest = rest.strip_suffix(b"\n").unwrap_or(rest);
    (!rest.is_empty()).then(|| rest.to_vec())
}

/// Whether a lock is held on the file at `path` (asked without taking it,
/// and without opening a file this process holds a lock on: see
/// [`crate::content::lock_state`]); a missing file is not locked. A
/// transfer of this process is running too.
fn lock_held_elsewhere(path: &Path) -> bool {
    crate::content::lock_state(path) != crate::content::LockState::Free
}

/// The first line of a transfer information file: the start time as
/// git-annex shows a POSIX time (`SECS[.FRACTION]s`) and the bytes done.
pub fn info_line(started: SystemTime, bytes: Option<u64>) -> String {
    let d = started.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut s = d.as_secs().to_string();
    let nanos = d.subsec_nanos();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('s');
    if let Some(b) = bytes {
        s.push(' ');
        s.push_str(&b.to_string());
    }
    s
}

/// A running transfer: its lock files are held and its information file
/// exists until [`Transfer::finish`] (or drop, which counts as failure).
#[derive(Debug)]
pub struct Transfer {
    paths: TransferPaths,
    locks: Vec<(PathBuf, File)>,
    started: SystemTime,
    file: Vec<u8>,
    total: Option<u64>,
    logged: u64,
    done: bool,
}

impl Transfer {
    /// Starts a transfer of `key` in the repository at `git_dir` with the
    /// repository `uuid`, `file` being the associated file (may be empty):
    /// takes the lock files and writes the information file.
    /// [`TransferError::InProgress`] when another transfer holds them,
    /// unless `always` (git-annex's `alwaysRunTransfer`, used for the side
    /// of a local remote that sends), which then goes on without locks.
    pub fn start(
        git_dir: &Path,
        direction: Direction,
        uuid: &Uuid,
        key: &Key,
        file: &[u8],
        always: bool,
    ) -> Result<Transfer, TransferError> {
        let paths = paths(git_dir, direction, uuid, key);
        let mut locks = Vec::new();
        let mut to_lock = vec![paths.lock.clone()];
        to_lock.extend(paths.old_lock.clone());
        for lck in to_lock {
            if let Some(dir) = lck.parent()
                && let Err(e) = fs::create_dir_all(dir)
            {
                // An upload from a repository we cannot write to (read-only
                // file system, another user's) goes on without transfer
                // files, as git-annex's does.
                if always {
                    continue;
                }
                release(&mut locks);
                return Err(io_err("create", dir)(e));
            }
            match crate::content::try_exclusive(&lck) {
                Ok(Some(f)) => locks.push((lck, f)),
                Ok(None) if always => {}
                Ok(None) => {
                    release(&mut locks);
                    return Err(TransferError::InProgress);
                }
                Err(_) if always => {}
                Err(e) => {
                    release(&mut locks);
                    return Err(io_err("lock", &lck)(e));
                }
            }
        }
        let t = Transfer {
            paths,
            locks,
            started: SystemTime::now(),
            file: file.to_vec(),
            total: key.size(),
            logged: 0,
            done: false,
        };
        if !t.locks.is_empty() || !always {
            let written = t
                .paths
                .info
                .parent()
                .map_or(Ok(()), |dir| {
                    fs::create_dir_all(dir).map_err(io_err("create", dir))
                })
                .and_then(|()| t.write_info(&t.paths.info, None));
            if let Err(e) = written
                && !always
            {
                return Err(e);
            }
        }
        Ok(t)
    }

    /// The transfer's files.
    pub fn paths(&self) -> &TransferPaths {
        &self.paths
    }

    fn write_info(&self, path: &Path, bytes: Option<u64>) -> Result<(), TransferError> {
        let mut content = info_line(self.started, bytes).into_bytes();
        content.push(b'\n');
        content.extend_from_slice(&self.file);
        content.push(b'\n');
        fs::write(path, content).map_err(io_err("write", path))
    }

    /// Records progress: rewrites the information file when at least 1% of
    /// the key's size (100 KiB for a key of unknown size) was done since
    /// the last time, as git-annex does.
    pub fn progress(&mut self, bytes: u64) {
        let delta = match self.total {
            Some(sz) => sz / 100,
            None => 100 * 1024,
        };
        if bytes.saturating_sub(self.logged) >= delta.max(1) && !self.locks.is_empty() {
            let _ = self.write_info(&self.paths.info, Some(bytes));
            self.logged = bytes;
        }
    }

    /// Ends the transfer: removes the information and lock files; a failed
    /// transfer leaves its information in the failed directory, a
    /// successful one removes any from before.
    pub fn finish(mut self, success: bool) {
        self.end(success);
    }

    fn end(&mut self, success: bool) {
        if self.done {
            return;
        }
        self.done = true;
        if self.locks.is_empty() {
            return;
        }
        let _ = fs::remove_file(&self.paths.info);
        if success {
            let _ = fs::remove_file(&self.paths.failed);
        } else if let Some(dir) = self.paths.failed.parent()
            && fs::create_dir_all(dir).is_ok()
        {
            let failed = self.paths.failed.clone();
            let _ = self.write_info(&failed, Some(self.logged));
        }
        release(&mut self.locks);
    }
}

fn release(locks: &mut Vec<(PathBuf, File)>) {
    // Removed under the lock, in reverse order of taking.
    while let Some((path, file)) = locks.pop() {
        crate::content::release_exclusive(&path, file, true);
    }
}

impl Drop for Transfer {
    fn drop(&mut self) {
        self.end(false);
    }
}

/// What [`receive`] got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The size of the temp file now.
    pub size: u64,
    /// Whether the whole content matches the key: its hash (for keys of
    /// hashing backends) and its size (when the key has one). `None` when
    /// the key's backend has no hash to check (e.g. `WORM`), and the size
    /// matched.
    pub verified: Option<bool>,
    /// How many bytes came from an earlier, interrupted transfer.
    pub resumed_from: u64,
}

impl Received {
    /// Whether the content may enter the object store.
    pub fn ok(&self) -> bool {
        self.verified != Some(false)
    }
}

/// The buffer size of copies.
const COPY_BUFFER: usize = 1 << 20;

/// Copies the content of `src` (a key's object) into `dest` (usually the
/// key's temp file), resuming: what `dest` already holds is kept (and hashed
/// again) and only the rest of `src` is appended. The content is hashed
/// while it is copied, and checked against `key`. `progress` is called with
/// the bytes done so far. `dest` is synced before returning. A `dest`
/// longer than `src` is truncated and copied again.
pub fn receive(
    src: &Path,
    dest: &Path,
    key: &Key,
    progress: &mut dyn FnMut(u64),
) -> Result<Received, TransferError> {
    let mut input = File::open(src).map_err(io_err("read", src))?;
    let src_len = input.metadata().map_err(io_err("read", src))?.len();
    if let Some(dir) = dest.parent() {
        fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    }
    let mut out = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dest)
        .map_err(io_err("write", dest))?;
    let mut have = out.metadata().map_err(io_err("read", dest))?.len();
    if have > src_len {
        out.set_len(0).map_err(io_err("truncate", dest))?;
        have = 0;
    }
    let mut hasher: Option<ContentHasher> = Backend::for_key(key).and_then(|b| b.hasher());
    let mut buf = vec![0u8; COPY_BUFFER];
    // Hash what an earlier transfer left.
    if have > 0 {
        if let Some(h) = hasher.as_mut() {
            out.seek(SeekFrom::Start(0)).map_err(io_err("read", dest))?;
            let mut left = have;
            while left > 0 {
                let want = buf.len().min(usize::try_from(left).unwrap_or(buf.len()));
                let n = out.read(&mut buf[..want]).map_err(io_err("read", dest))?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
                left -= n as u64;
            }
        }
        out.seek(SeekFrom::Start(have))
            .map_err(io_err("write", dest))?;
        input
            .seek(SeekFrom::Start(have))
            .map_err(io_err("read", src))?;
    }
    let resumed_from = have;
    progress(have);
    let (done, hasher) = match hasher {
        Some(h) => {
            drop(buf);
            let (done, h) = copy_hashing(&mut input, src, &mut out, dest, have, h, progress)?;
            (done, Some(h))
        }
        None => (
            copy_plain(&mut input, src, &mut out, dest, have, &mut buf, progress)?,
            None,
        ),
    };
    out.sync_all().map_err(io_err("sync", dest))?;
    let size_ok = key.size().is_none_or(|s| s == done);
    let verified = match hasher {
        Some(h) => Some(size_ok && h.matches(key)),
        None if !size_ok => Some(false),
        None => None,
    };
    Ok(Received {
        size: done,
        verified,
        resumed_from,
    })
}

/// Reads from `input` until a block is full or the end, retrying
/// interrupted reads; 0 at the end.
fn read_block(input: &mut File, src: &Path, buf: &mut [u8]) -> Result<usize, TransferError> {
    loop {
        match input.read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_err("read", src)(e)),
        }
    }
}

/// Copies the rest of `input` to `out` with no hashing; returns the bytes
/// done, counting the `done` there were already.
fn copy_plain(
    input: &mut File,
    src: &Path,
    out: &mut File,
    dest: &Path,
    mut done: u64,
    buf: &mut [u8],
    progress: &mut dyn FnMut(u64),
) -> Result<u64, TransferError> {
    loop {
        let n = read_block(input, src, buf)?;
        if n == 0 {
            return Ok(done);
        }
        out.write_all(&buf[..n]).map_err(io_err("write", dest))?;
        done += n as u64;
        progress(done);
    }
}

/// How much written content [`start_write_back`] lets pile up.
const WRITE_BACK_CHUNK: u64 = 16 << 20;

/// Once `WRITE_BACK_CHUNK` bytes were written since the last time, asks
/// the kernel to start writing them to disk now (`POSIX_FADV_DONTNEED`
/// starts write-back of dirty pages without waiting for it), so that the
/// `fsync` at the end has little left to wait for instead of the whole
/// file. Only a hint: failures are ignored (the `fsync` still makes the
/// content durable).
fn start_write_back(out: &File, flushed: &mut u64, done: u64) {
    if done.saturating_sub(*flushed) >= WRITE_BACK_CHUNK {
        let _ = rustix::fs::fadvise(
            out,
            *flushed,
            std::num::NonZeroU64::new(done - *flushed),
            rustix::fs::Advice::DontNeed,
        );
        *flushed = done;
    }
}

/// Blocks in flight between the copying and the hashing thread.
const HASH_QUEUE: usize = 4;

/// Copies the rest of `input` to `out` on this thread while a second thread
/// hashes the same blocks, in order, after each was written: hashing
/// overlaps reading and writing, and what is hashed is exactly what was
/// written. Returns the bytes done (counting the `done` there were
/// already) and the hasher with everything hashed.
fn copy_hashing(
    input: &mut File,
    src: &Path,
    out: &mut File,
    dest: &Path,
    done: u64,
    mut hasher: ContentHasher,
    progress: &mut dyn FnMut(u64),
) -> Result<(u64, ContentHasher), TransferError> {
    use std::sync::mpsc;
    let (to_hash, blocks) = mpsc::sync_channel::<(Vec<u8>, usize)>(HASH_QUEUE);
    let (give_back, spare) = mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            for (buf, n) in blocks {
                hasher.update(&buf[..n]);
                // The copying side may have finished and gone: nothing to
                // give back to then.
                let _ = give_back.send(buf);
            }
            hasher
        });
        // `to_hash` moves in and is dropped on return, error or not, so the
        // worker's loop ends.
        let copied = (move |mut done: u64| {
            let mut allocated = 0;
            let mut flushed = done;
            loop {
                let mut buf = match spare.try_recv() {
                    Ok(b) => b,
                    Err(_) if allocated < HASH_QUEUE + 2 => {
                        allocated += 1;
                        vec![0u8; COPY_BUFFER]
                    }
                    Err(_) => spare.recv().unwrap_or_else(|_| vec![0u8; COPY_BUFFER]),
                };
                let n = read_block(input, src, &mut buf)?;
                if n == 0 {
                    return Ok(done);
                }
                out.write_all(&buf[..n]).map_err(io_err("write", dest))?;
                done += n as u64;
                start_write_back(out, &mut flushed, done);
                progress(done);
                if to_hash.send((buf, n)).is_err() {
                    return Err(TransferError::Io {
                        op: "hash",
                        path: dest.to_path_buf(),
                        source: io::Error::other("the hashing thread stopped"),
                    });
                }
            }
        })(done);
        let hasher = worker.join().map_err(|_| TransferError::Io {
            op: "hash",
            path: dest.to_path_buf(),
            source: io::Error::other("the hashing thread failed"),
        })?;
        copied.map(|d| (d, hasher))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_line_is_posix_time_with_s() {
        let t = UNIX_EPOCH + std::time::Duration::new(1700000000, 500_000_000);
        assert_eq!(info_line(t, None), "1700000000.5s");
        assert_eq!(info_line(t, Some(12)), "1700000000.5s 12");
        let t = UNIX_EPOCH + std::time::Duration::new(17, 0);
        assert_eq!(info_line(t, Some(0)), "17s 0");
    }

    #[test]
    fn download_paths_lock_without_and_with_uuid() {
        let key = Key::parse(b"SHA256E-s1--x").expect("key");
        let u = Uuid::parse(b"11111111-1111-1111-1111-111111111111").expect("uuid");
        let p = paths(Path::new("/r/.git"), Direction::Download, &u, &key);
        assert_eq!(
            p.lock,
            Path::new("/r/.git/annex/transfer/download/lck/lck.SHA256E-s1--x")
        );
        assert_eq!(
            p.old_lock.as_deref(),
            Some(Path::new(
                "/r/.git/annex/transfer/download/11111111-1111-1111-1111-111111111111/lck.SHA256E-s1--x"
            ))
        );
        let p = paths(Path::new("/r/.git"), Direction::Upload, &u, &key);
        assert_eq!(
            p.info,
            Path::new(
                "/r/.git/annex/transfer/upload/11111111-1111-1111-1111-111111111111/SHA256E-s1--x"
            )
        );
    }
}

/// Parses a size as git-annex's `readSize` does (`100 megabytes`, `1GB`,
/// `512kib`, `42`; see [`crate::units::read_size`]). `None` when it cannot
/// be read or is not a byte count (negative).
pub fn parse_size(input: &str) -> Option<u64> {
    crate::units::read_size(input.as_bytes()).and_then(|n| u64::try_from(n).ok())
}

/// Free space available to us on the file system holding `path`.
pub fn free_space(path: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(path).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// git-annex's `checkDiskSpace`: how many more bytes are needed to receive
/// `size` bytes into the repository whose annex dir is `annex_dir`, keeping
/// `reserve` free, when `already` bytes of it are there. `None` when there
/// is room (or the free space cannot be told).
pub fn space_shortfall(annex_dir: &Path, size: u64, reserve: u64, already: u64) -> Option<u64> {
    let mut dir = annex_dir;
    let free = loop {
        if let Some(f) = free_space(dir) {
            break f;
        }
        dir = dir.parent()?;
    };
    let need = i128::from(size) + i128::from(reserve) - i128::from(free) - i128::from(already);
    (need > 0).then(|| u64::try_from(need).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod size_tests {
    use super::parse_size;

    #[test]
    fn sizes_as_git_annex_reads_them() {
        assert_eq!(parse_size("100 megabytes"), Some(100_000_000));
        assert_eq!(parse_size("1GB"), Some(1_000_000_000));
        assert_eq!(parse_size("1.5 kB"), Some(1500));
        assert_eq!(parse_size("2 MiB"), Some(2 << 20));
        assert_eq!(parse_size("3k"), Some(3000));
        assert_eq!(parse_size("42"), Some(42));
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("1 EB"), Some(1_000_000_000_000_000_000));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("5 parsecs"), None);
    }
}
