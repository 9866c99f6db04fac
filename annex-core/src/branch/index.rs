//! git-annex's index of the branch (`.git/annex/index`), read and written
//! as a stream: one entry at a time, never the whole index in memory.
//!
//! git-annex reads this index as its view of the `git-annex` branch, so
//! after every commit or merge it must hold the new tree. Rewriting it
//! from the tree costs a walk of the whole branch; when it was current
//! with the old tip, [`Branch`](super::Branch) instead copies it entry by
//! entry, replacing just the paths that changed ([`rewrite`]), which reads
//! and writes the file once and keeps nothing but one entry in memory.
//!
//! Entries are written in format version 2 with zero stat data (as
//! `git read-tree` writes an index of a tree that is never checked out),
//! whatever version was read (2, 3 or 4). Optional extensions (the cache
//! tree, …) are dropped: they describe the old entries. An index this
//! module cannot stream (a split index, a sparse index) is reported as
//! [`IndexError::Unsupported`], and the caller falls back to other means.
//!
//! Why not `gix::index`: its `File`/`State` hold every entry in memory
//! (gigabytes of small allocations at a million entries, the memory issue
//! 20 is about) and have no entry-by-entry writer; gix still reads and
//! writes the index this module cannot stream.

use std::fs;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use gix::ObjectId;

/// An error reading or writing git-annex's branch index.
#[derive(Debug, thiserror::Error)]
pub(crate) enum IndexError {
    /// An I/O error on the index or its temp file.
    #[error("git-annex branch index: {what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The index is damaged, or is not what it was expected to be.
    #[error("git-annex branch index {path}: {detail}")]
    Bad {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The index uses a feature this module does not stream (a split or
    /// sparse index).
    #[error("git-annex branch index {path}: {detail} is not supported here")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// The feature.
        detail: String,
    },
}

/// One entry of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The path, `/`-separated.
    pub path: Vec<u8>,
    /// The object.
    pub id: ObjectId,
    /// The mode (`0o100644`, `0o100755`, `0o120000`, `0o160000`).
    pub mode: u32,
    /// The merge stage (0 unless conflicted).
    pub stage: u8,
    /// The size of the work tree's file when git last looked at it (the
    /// low 32 bits; 0 when git never did).
    pub size: u32,
}

/// A place in an index's entries ([`Reader::position`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Position {
    /// The offset of the entry in the file.
    offset: u64,
    /// The entries from it to the end.
    remaining: u32,
    /// The previous entry's path (version 4 only; empty otherwise).
    prev: Vec<u8>,
}

/// The mode of a regular (non-executable) file.
pub(crate) const MODE_FILE: u32 = 0o100_644;

/// Reads an index entry by entry.
pub(crate) struct Reader {
    r: BufReader<fs::File>,
    path: PathBuf,
    version: u32,
    remaining: u32,
    count: u32,
    hash_len: usize,
    kind: gix::hash::Kind,
    /// The previous entry's path (version 4 compresses against it).
    prev: Vec<u8>,
    /// Bytes consumed so far.
    pos: u64,
    /// The file's length.
    len: u64,
}

impl Reader {
    /// Opens an index; `None` when there is none.
    pub fn open(path: &Path, kind: gix::hash::Kind) -> Result<Option<Reader>, IndexError> {
        Reader::open_with_capacity(path, kind, 256 * 1024)
    }

    /// [`Reader::open`] with a read buffer of `capacity` bytes (small for
    /// a reader that mostly [`Reader::resume`]s at sampled entries).
    pub fn open_with_capacity(
        path: &Path,
        kind: gix::hash::Kind,
        capacity: usize,
    ) -> Result<Option<Reader>, IndexError> {
        let f = match fs::File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(IndexError::Io {
                    what: "open",
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        let len = f
            .metadata()
            .map_err(|source| IndexError::Io {
                what: "stat",
                path: path.to_path_buf(),
                source,
            })?
            .len();
        let mut r = Reader {
            r: BufReader::with_capacity(capacity, f),
            path: path.to_path_buf(),
            version: 0,
            remaining: 0,
            count: 0,
            hash_len: kind.len_in_bytes(),
            kind,
            prev: Vec::new(),
            pos: 0,
            len,
        };
        let mut header = [0u8; 12];
        r.read_exact(&mut header)?;
        if &header[..4] != b"DIRC" {
            return Err(r.bad("not an index (no DIRC signature)"));
        }
        r.version = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        if !(2..=4).contains(&r.version) {
            return Err(r.bad(&format!("unknown index version {}", r.version)));
        }
        r.count = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);
        r.remaining = r.count;
        Ok(Some(r))
    }

    /// The number of entries the header declares.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The number of entries not read yet.
    pub fn remaining(&self) -> u32 {
        self.remaining
    }

    /// The metadata of the file open (not of whatever the path names now).
    pub fn file_metadata(&self) -> Result<fs::Metadata, IndexError> {
        self.r
            .get_ref()
            .metadata()
            .map_err(|source| IndexError::Io {
                what: "stat",
                path: self.path.clone(),
                source,
            })
    }

    /// Where the next entry starts, to come back to with
    /// [`Reader::resume`].
    pub fn position(&self) -> Position {
        Position {
            offset: self.pos,
            remaining: self.remaining,
            prev: if self.version == 4 {
                self.prev.clone()
            } else {
                Vec::new()
            },
        }
    }

    /// Goes back (or forward) to a [`Reader::position`] of this file: the
    /// next entry read is the one that was next there.
    pub fn resume(&mut self, at: &Position) -> Result<(), IndexError> {
        if at.offset > self.len || at.remaining > self.count {
            return Err(self.bad("a position past the end of the entries"));
        }
        self.r
            .seek(SeekFrom::Start(at.offset))
            .map_err(|source| IndexError::Io {
                what: "seek",
                path: self.path.clone(),
                source,
            })?;
        self.pos = at.offset;
        self.remaining = at.remaining;
        self.prev.clone_from(&at.prev);
        Ok(())
    }

    fn bad(&self, detail: &str) -> IndexError {
        IndexError::Bad {
            path: self.path.clone(),
            detail: detail.to_owned(),
        }
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), IndexError> {
        self.r.read_exact(buf).map_err(|source| {
            if source.kind() == io::ErrorKind::UnexpectedEof {
                IndexError::Bad {
                    path: self.path.clone(),
                    detail: "truncated".to_owned(),
                }
            } else {
                IndexError::Io {
                    what: "read",
                    path: self.path.clone(),
                    source,
                }
            }
        })?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn read_byte(&mut self) -> Result<u8, IndexError> {
        let mut b = [0u8; 1];
        self.read_exact(&mut b)?;
        Ok(b[0])
    }

    /// Reads up to and including a NUL byte; returns what came before it.
    fn read_nul_terminated(&mut self, out: &mut Vec<u8>) -> Result<(), IndexError> {
        let start = out.len();
        let n = self.r.read_until(0, out).map_err(|source| IndexError::Io {
            what: "read",
            path: self.path.clone(),
            source,
        })?;
        self.pos += n as u64;
        if out.last() != Some(&0) || out.len() == start {
            return Err(self.bad("truncated path"));
        }
        out.pop();
        Ok(())
    }

    /// The next entry, or `None` after the last one (the extensions are
    /// then checked for ones that change what the entries mean).
    pub fn next_entry(&mut self) -> Result<Option<Entry>, IndexError> {
        if self.remaining == 0 {
            self.check_extensions()?;
            return Ok(None);
        }
        self.remaining -= 1;
        let mut fixed = [0u8; 40];
        self.read_exact(&mut fixed)?;
        let mode = u32::from_be_bytes([fixed[24], fixed[25], fixed[26], fixed[27]]);
        let size = u32::from_be_bytes([fixed[36], fixed[37], fixed[38], fixed[39]]);
        let mut oid = [0u8; 32];
        let hl = self.hash_len;
        self.read_exact(&mut oid[..hl])?;
        let id = ObjectId::try_from(&oid[..hl]).map_err(|_| self.bad("bad object id"))?;
        let mut flags = [0u8; 2];
        self.read_exact(&mut flags)?;
        let flags = u16::from_be_bytes(flags);
        let mut fixed_len = 40 + hl + 2;
        if flags & 0x4000 != 0 {
            if self.version < 3 {
                return Err(self.bad("extended flags in a version 2 index"));
            }
            let mut ext = [0u8; 2];
            self.read_exact(&mut ext)?;
            fixed_len += 2;
        }
        let stage = ((flags >> 12) & 3) as u8;
        let path = if self.version == 4 {
            let strip = self.read_varint()?;
            let keep = self
                .prev
                .len()
                .checked_sub(strip)
                .ok_or_else(|| self.bad("bad path compression"))?;
            let mut p = self.prev[..keep].to_vec();
            self.read_nul_terminated(&mut p)?;
            p
        } else {
            let mut p = Vec::new();
            self.read_nul_terminated(&mut p)?;
            // Padding: the entry's length is a multiple of 8, with 1 to 8
            // NULs after the path (one of them read already).
            let total = (fixed_len + p.len() + 8) & !7;
            let pad = total - fixed_len - p.len() - 1;
            let mut buf = [0u8; 8];
            self.read_exact(&mut buf[..pad])?;
            p
        };
        if mode & 0o170_000 == 0o040_000 {
            return Err(IndexError::Unsupported {
                path: self.path.clone(),
                detail: "a sparse index".to_owned(),
            });
        }
        self.prev.clone_from(&path);
        Ok(Some(Entry {
            path,
            id,
            mode,
            stage,
            size,
        }))
    }

    /// git's offset varint (version 4 path compression).
    fn read_varint(&mut self) -> Result<usize, IndexError> {
        let mut c = self.read_byte()?;
        let mut val = usize::from(c & 0x7f);
        let mut n = 0;
        while c & 0x80 != 0 {
            n += 1;
            if n > 8 {
                return Err(self.bad("bad path compression"));
            }
            c = self.read_byte()?;
            val = (val + 1)
                .checked_mul(128)
                .and_then(|v| v.checked_add(usize::from(c & 0x7f)))
                .ok_or_else(|| self.bad("bad path compression"))?;
        }
        Ok(val)
    }

    /// Reads the extensions after the entries: a split index (`link`) or
    /// a sparse one (`sdir`) is unsupported; the others are caches.
    fn check_extensions(&mut self) -> Result<(), IndexError> {
        let end = self.len.saturating_sub(self.hash_len as u64);
        while self.pos + 8 <= end {
            let mut head = [0u8; 8];
            self.read_exact(&mut head)?;
            let sig = &head[..4];
            if sig == b"link" || sig == b"sdir" {
                return Err(IndexError::Unsupported {
                    path: self.path.clone(),
                    detail: format!("the {} extension", String::from_utf8_lossy(sig)),
                });
            }
            let size = u64::from(u32::from_be_bytes([head[4], head[5], head[6], head[7]]));
            if self.pos + size > end {
                return Err(self.bad("truncated extension"));
            }
            let skipped =
                io::copy(&mut (&mut self.r).take(size), &mut io::sink()).map_err(|source| {
                    IndexError::Io {
                        what: "read",
                        path: self.path.clone(),
                        source,
                    }
                })?;
            self.pos += skipped;
        }
        let _ = self.kind;
        Ok(())
    }
}

/// The checksum that ends an index: SHA-1 or SHA-256 of what precedes
/// it, by the fast implementations (the checksum of a file, where git's
/// collision detection, which object ids need, does not apply).
enum Checksum {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Checksum {
    fn new(kind: gix::hash::Kind) -> Checksum {
        match kind {
            gix::hash::Kind::Sha1 => Checksum::Sha1(sha1::Sha1::default()),
            _ => Checksum::Sha256(sha2::Sha256::default()),
        }
    }

    fn update(&mut self, b: &[u8]) {
        use sha2::Digest;
        match self {
            Checksum::Sha1(h) => h.update(b),
            Checksum::Sha256(h) => h.update(b),
        }
    }

    fn finish(self) -> Vec<u8> {
        use sha2::Digest;
        match self {
            Checksum::Sha1(h) => h.finalize().to_vec(),
            Checksum::Sha256(h) => h.finalize().to_vec(),
        }
    }
}

/// Writes an index (version 2) to a temp file beside its destination,
/// hashing as it goes; [`Writer::finish`] renames it into place.
pub(crate) struct Writer {
    out: BufWriter<tempfile::NamedTempFile>,
    dest: PathBuf,
    hasher: Option<Checksum>,
    declared: Option<u32>,
    written: u32,
    kind: gix::hash::Kind,
    /// The last path and stage written, to check the order.
    last: Option<(Vec<u8>, u8)>,
}

impl Writer {
    /// Starts an index to go to `dest`. With the number of entries
    /// known, the file is hashed while written; without it, the count is
    /// filled in and the file hashed at the end (one more read of it).
    pub fn new(
        dest: &Path,
        kind: gix::hash::Kind,
        count: Option<u32>,
    ) -> Result<Writer, IndexError> {
        let dir = dest.parent().unwrap_or(Path::new("."));
        let tmp = tempfile::Builder::new()
            .prefix(".index.tmp")
            .tempfile_in(dir)
            .map_err(|source| IndexError::Io {
                what: "create temp file in",
                path: dir.to_path_buf(),
                source,
            })?;
        let mut w = Writer {
            out: BufWriter::with_capacity(256 * 1024, tmp),
            dest: dest.to_path_buf(),
            hasher: count.map(|_| Checksum::new(kind)),
            declared: count,
            written: 0,
            kind,
            last: None,
        };
        let mut header = Vec::with_capacity(12);
        header.extend_from_slice(b"DIRC");
        header.extend_from_slice(&2u32.to_be_bytes());
        header.extend_from_slice(&count.unwrap_or(0).to_be_bytes());
        w.write(&header)?;
        Ok(w)
    }

    fn write(&mut self, b: &[u8]) -> Result<(), IndexError> {
        if let Some(h) = self.hasher.as_mut() {
            h.update(b);
        }
        self.out.write_all(b).map_err(|source| IndexError::Io {
            what: "write",
            path: self.dest.clone(),
            source,
        })
    }

    fn bad(&self, detail: String) -> IndexError {
        IndexError::Bad {
            path: self.dest.clone(),
            detail,
        }
    }

    /// Appends an entry; entries must come in the index's order (by path
    /// bytewise, then stage).
    pub fn push(
        &mut self,
        path: &[u8],
        id: &gix::oid,
        mode: u32,
        stage: u8,
    ) -> Result<(), IndexError> {
        if let Some((lp, ls)) = &self.last
            && (lp.as_slice(), *ls) >= (path, stage)
        {
            return Err(self.bad(format!(
                "entries out of order at {}",
                String::from_utf8_lossy(path)
            )));
        }
        if path.is_empty() || path.contains(&0) {
            return Err(self.bad(format!("invalid path {:?}", String::from_utf8_lossy(path))));
        }
        let mut e = Vec::with_capacity(path.len() + 80);
        e.extend_from_slice(&[0u8; 24]);
        e.extend_from_slice(&mode.to_be_bytes());
        e.extend_from_slice(&[0u8; 12]);
        e.extend_from_slice(id.as_bytes());
        let flags = (u16::from(stage & 3) << 12) | (path.len().min(0xfff) as u16);
        e.extend_from_slice(&flags.to_be_bytes());
        e.extend_from_slice(path);
        let fixed = 40 + id.as_bytes().len() + 2;
        let total = (fixed + path.len() + 8) & !7;
        e.resize(total, 0);
        self.write(&e)?;
        self.written = self
            .written
            .checked_add(1)
            .ok_or_else(|| self.bad("too many entries".to_owned()))?;
        match &mut self.last {
            Some((lp, ls)) => {
                lp.clear();
                lp.extend_from_slice(path);
                *ls = stage;
            }
            None => self.last = Some((path.to_vec(), stage)),
        }
        Ok(())
    }

    /// Ends the index and renames it into place. Fails (leaving the old
    /// index as it was) when fewer or more entries were written than
    /// declared.
    pub fn finish(self) -> Result<(), IndexError> {
        let dest = self.dest.clone();
        let tmp = self.finish_temp()?;
        tmp.persist(&dest).map_err(|e| IndexError::Io {
            what: "rename into",
            path: dest.clone(),
            source: e.error,
        })?;
        Ok(())
    }

    /// Ends the index, and leaves it in its temp file (removed when
    /// dropped).
    pub fn finish_temp(self) -> Result<tempfile::NamedTempFile, IndexError> {
        let Writer {
            out,
            dest,
            hasher,
            declared,
            written,
            kind,
            ..
        } = self;
        let io = |what: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| IndexError::Io { what, path, source }
        };
        if let Some(d) = declared
            && d != written
        {
            return Err(IndexError::Bad {
                path: dest,
                detail: format!("expected {d} entries, wrote {written}"),
            });
        }
        let mut tmp = out.into_inner().map_err(|e| IndexError::Io {
            what: "write",
            path: dest.clone(),
            source: e.into_error(),
        })?;
        let hash = match hasher {
            Some(h) => h,
            None => {
                let f = tmp.as_file_mut();
                f.seek(SeekFrom::Start(8)).map_err(io("seek in", &dest))?;
                f.write_all(&written.to_be_bytes())
                    .map_err(io("write", &dest))?;
                f.seek(SeekFrom::Start(0)).map_err(io("seek in", &dest))?;
                let mut h = Checksum::new(kind);
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let n = f.read(&mut buf).map_err(io("read back", &dest))?;
                    if n == 0 {
                        break;
                    }
                    h.update(&buf[..n]);
                }
                h
            }
        };
        let digest = hash.finish();
        let f = tmp.as_file_mut();
        f.seek(SeekFrom::End(0)).map_err(io("seek in", &dest))?;
        f.write_all(&digest).map_err(io("write", &dest))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&dest)
                .map(|m| m.permissions().mode() & 0o7777)
                .unwrap_or_else(|_| crate::perms::new_file_mode());
            fs::set_permissions(tmp.path(), fs::Permissions::from_mode(mode))
                .map_err(io("chmod", tmp.path()))?;
        }
        Ok(tmp)
    }
}

/// A change to apply to the index: the path, the blob the index holds
/// there now (`None`: absent), and the blob it is to hold (`None`:
/// removed).
pub(crate) type Change<'a> = (&'a [u8], Option<ObjectId>, Option<ObjectId>);

/// Rewrites the index at `path`, which must hold exactly what the changes
/// say it holds now, with the changes applied (sorted by path, each path
/// once). Entries are copied one at a time. Fails, leaving the index as it
/// was, when the index does not hold what the changes expect (then it was
/// not current), or cannot be streamed.
pub(crate) fn rewrite<'a>(
    path: &Path,
    kind: gix::hash::Kind,
    changes: impl IntoIterator<Item = Change<'a>>,
) -> Result<(), IndexError> {
    rewrite_from(path, path, kind, changes)
}

/// [`rewrite`], reading the index at `src` and writing the result to
/// `path`.
pub(crate) fn rewrite_from<'a>(
    src: &Path,
    path: &Path,
    kind: gix::hash::Kind,
    changes: impl IntoIterator<Item = Change<'a>>,
) -> Result<(), IndexError> {
    let changes: Vec<Change<'a>> = changes.into_iter().collect();
    let mut delta = 0i64;
    for (_, old, new) in &changes {
        delta += i64::from(new.is_some()) - i64::from(old.is_some());
    }
    rewrite_stream_from(
        src,
        path,
        kind,
        delta,
        changes
            .into_iter()
            .map(|(p, old, new)| Ok((p.to_vec(), old, new))),
    )
}

/// A change as [`Change`], owning its path.
pub(crate) type OwnedChange = (Vec<u8>, Option<ObjectId>, Option<ObjectId>);

/// [`rewrite_from`] with the changes streamed (read from a temp file at
/// scale, never all in memory): `delta` is how many entries they add less
/// how many they remove (the header's count comes first). An error from
/// the changes fails the rewrite, leaving the index as it was.
pub(crate) fn rewrite_stream_from(
    src: &Path,
    path: &Path,
    kind: gix::hash::Kind,
    delta: i64,
    changes: impl Iterator<Item = Result<OwnedChange, IndexError>>,
) -> Result<(), IndexError> {
    let Some(mut r) = Reader::open(src, kind)? else {
        return Err(IndexError::Bad {
            path: path.to_path_buf(),
            detail: "missing".to_owned(),
        });
    };
    let count = i64::from(r.count()) + delta;
    let count = u32::try_from(count).map_err(|_| IndexError::Bad {
        path: path.to_path_buf(),
        detail: "entry count out of range".to_owned(),
    })?;
    let mismatch = |p: &[u8]| IndexError::Bad {
        path: path.to_path_buf(),
        detail: format!(
            "not current: {} is not as expected",
            String::from_utf8_lossy(p)
        ),
    };
    let mut w = Writer::new(path, kind, Some(count))?;
    let mut ch = changes.peekable();
    while let Some(e) = r.next_entry()? {
        loop {
            let (p, old, new) = match ch.peek() {
                None => break,
                Some(Err(_)) => {
                    return Err(ch
                        .next()
                        .and_then(Result::err)
                        .unwrap_or_else(|| mismatch(b"")));
                }
                Some(Ok(c)) => c,
            };
            if p.as_slice() >= e.path.as_slice() {
                break;
            }
            if old.is_some() {
                return Err(mismatch(p));
            }
            if let Some(n) = new {
                w.push(p, n, MODE_FILE, 0)?;
            }
            ch.next();
        }
        match ch.peek() {
            Some(Ok((p, old, new))) if p.as_slice() == e.path.as_slice() => {
                if e.stage != 0 || *old != Some(e.id) {
                    return Err(mismatch(p));
                }
                if let Some(n) = new {
                    w.push(p, n, MODE_FILE, 0)?;
                }
                ch.next();
            }
            _ => w.push(&e.path, &e.id, e.mode, e.stage)?,
        }
    }
    for c in ch {
        let (p, old, new) = c?;
        if old.is_some() {
            return Err(mismatch(&p));
        }
        if let Some(n) = new {
            w.push(&p, &n, MODE_FILE, 0)?;
        }
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str], stdin: Option<&str>) -> String {
        let mut c = Command::new("git");
        c.current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = c.spawn().expect("spawn git");
        let mut input = child.stdin.take().expect("stdin");
        input
            .write_all(stdin.unwrap_or("").as_bytes())
            .expect("write");
        drop(input);
        let out = child.wait_with_output().expect("git");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn blob(dir: &Path, content: &str) -> ObjectId {
        let s = git(dir, &["hash-object", "-w", "--stdin"], Some(content));
        ObjectId::from_hex(s.trim().as_bytes()).expect("id")
    }

    fn ls(dir: &Path, index: &Path) -> String {
        let out = Command::new("git")
            .current_dir(dir)
            .env("GIT_INDEX_FILE", index)
            .args(["ls-files", "-s"])
            .output()
            .expect("git");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Entries read back are those `git update-index` wrote, in every
    /// index version; a rewrite gives what git gives for the same changes.
    #[test]
    fn reads_every_version_and_rewrites_as_git_does() {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        git(d, &["init", "-q"], None);
        let a = blob(d, "a\n");
        let b = blob(d, "b\n");
        let c = blob(d, "c\n");
        let long = "x".repeat(5000);
        for version in ["2", "3", "4"] {
            let index = d.join(format!("index{version}"));
            let ours = d.join(format!("ours{version}"));
            let theirs = d.join(format!("theirs{version}"));
            let info = format!(
                "100644 {a}\taaa/bbb/K1.log\n100644 {b}\taaa/bbb/K1.log.web\n100644 {a}\tzzz/x?y.log\n100644 {b}\t{long}\n100755 {c}\ta.b\n"
            );
            let run = |file: &Path, args: &[&str], input: &str| {
                let mut cmd = Command::new("git");
                cmd.current_dir(d)
                    .env("GIT_INDEX_FILE", file)
                    .args(args)
                    .stdin(std::process::Stdio::piped());
                let mut child = cmd.spawn().expect("spawn");
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(input.as_bytes())
                    .expect("write");
                assert!(child.wait().expect("wait").success());
            };
            run(
                &index,
                &["update-index", "--index-version", version, "--index-info"],
                &info,
            );
            let mut r = Reader::open(&index, gix::hash::Kind::Sha1)
                .expect("open")
                .expect("exists");
            let mut got = Vec::new();
            while let Some(e) = r.next_entry().expect("entry") {
                got.push(format!(
                    "{:o} {} {}\t{}",
                    e.mode,
                    e.id,
                    e.stage,
                    String::from_utf8_lossy(&e.path)
                ));
            }
            assert_eq!(got.join("\n") + "\n", ls(d, &index), "version {version}");
            fs::copy(&index, &ours).expect("copy");
            fs::copy(&index, &theirs).expect("copy");
            rewrite(
                &ours,
                gix::hash::Kind::Sha1,
                [
                    (&b"aaa/bbb/K0.log"[..], None, Some(c)),
                    (&b"aaa/bbb/K1.log"[..], Some(a), Some(c)),
                    (&b"aaa/bbb/K1.log.web"[..], Some(b), None),
                    (&b"zzz/new.log"[..], None, Some(a)),
                ],
            )
            .expect("rewrite");
            run(
                &theirs,
                &["update-index", "--index-info"],
                &format!(
                    "100644 {c}\taaa/bbb/K0.log\n100644 {c}\taaa/bbb/K1.log\n0 {}\taaa/bbb/K1.log.web\n100644 {a}\tzzz/new.log\n",
                    ObjectId::null(gix::hash::Kind::Sha1)
                ),
            );
            assert_eq!(ls(d, &ours), ls(d, &theirs), "version {version}");
            // git accepts the file (its checksum included).
            let out = Command::new("git")
                .current_dir(d)
                .env("GIT_INDEX_FILE", &ours)
                .args(["write-tree"])
                .output()
                .expect("git");
            assert!(out.status.success(), "{out:?}");
        }
    }

    /// A rewrite whose expectations the index does not meet (it was not
    /// current) fails and leaves the index alone.
    #[test]
    fn a_rewrite_of_an_index_not_as_expected_changes_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        git(d, &["init", "-q"], None);
        let a = blob(d, "a\n");
        let b = blob(d, "b\n");
        let index = d.join("index");
        let mut w = Writer::new(&index, gix::hash::Kind::Sha1, None).expect("writer");
        w.push(b"k.log", &a, MODE_FILE, 0).expect("push");
        assert!(w.push(b"a.log", &a, MODE_FILE, 0).is_err());
        w.finish().expect("finish");
        let before = fs::read(&index).expect("read");
        assert_eq!(ls(d, &index), format!("100644 {a} 0\tk.log\n"));
        for changes in [
            vec![(&b"k.log"[..], Some(b), Some(a))],
            vec![(&b"k.log"[..], None, Some(b))],
            vec![(&b"j.log"[..], Some(a), Some(b))],
            vec![(&b"z.log"[..], Some(a), None)],
        ] {
            assert!(rewrite(&index, gix::hash::Kind::Sha1, changes).is_err());
            assert_eq!(fs::read(&index).expect("read"), before);
        }
        assert!(matches!(
            Reader::open(&d.join("none"), gix::hash::Kind::Sha1),
            Ok(None)
        ));
        fs::write(&index, b"DIRC\0\0\0\x02\0\0\0\x05short").expect("write");
        let mut r = Reader::open(&index, gix::hash::Kind::Sha1)
            .expect("open")
            .expect("exists");
        assert!(r.next_entry().is_err());
    }
}
