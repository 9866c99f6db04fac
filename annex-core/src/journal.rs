//! The journal: `.git/annex/journal`, where log changes wait to be committed.
//!
//! Every change to a file of the `git-annex` branch is first written whole
//! to a journal file; a commit later stages all journal files into the
//! branch and removes them. Readers lay the journal over the branch: a
//! journal file, when present, is the current content of that branch file.
//!
//! The layout is git-annex's:
//!
//! - `.git/annex/journal/`: one file per changed branch file, named by
//!   [`journal_file_name`] (`/` becomes `_`, `_` becomes `__`);
//! - `.git/annex/journal-private/`: the same, for information regarding
//!   private repositories (never committed to the branch);
//! - `.git/annex/journal.lck`: the lock every writer holds (a POSIX
//!   `fcntl` lock, the kind git-annex takes, so both exclude each other);
//! - `.git/annex/othertmp/`: where journal files are written before being
//!   renamed into place (under a shared lock on `othertmp.lck`, as
//!   git-annex does, so its temp cleanup leaves our files alone).
//!
//! ```
//! use annex_core::journal::{journal_file_name, branch_path_of};
//! assert_eq!(journal_file_name(b"a_b/c.log"), b"a__b_c.log");
//! assert_eq!(branch_path_of(b"a__b_c.log"), b"a_b/c.log");
//! ```

use std::collections::HashSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

/// An error of the journal, naming the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// An I/O error on a file or directory of the journal.
    #[error("journal: {what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A branch path that cannot be journalled (empty, or with an empty,
    /// `.` or `..` component, or a NUL byte).
    #[error("journal: invalid branch path {0:?}")]
    InvalidPath(String),
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> JournalError + 'a {
    move |source| JournalError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// The journal file name of a branch path: `/` becomes `_` and `_`
/// becomes `__`, so the name is flat. This is git-annex's mapping; it is
/// reversible except where a `/` is followed by `_` (`a/_b` and `a_/b`
/// both give `a___b`), which no path git-annex writes has.
pub fn journal_file_name(branch_path: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(branch_path.len() + 4);
    for &c in branch_path {
        match c {
            b'/' => out.push(b'_'),
            b'_' => out.extend_from_slice(b"__"),
            _ => out.push(c),
        }
    }
    out
}

/// The branch path of a journal file name: the reverse of
/// [`journal_file_name`]. A lone trailing `_` is dropped, as git-annex does.
pub fn branch_path_of(journal_file: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(journal_file.len());
    let mut i = 0;
    while i < journal_file.len() {
        let c = journal_file[i];
        if c == b'_' {
            match journal_file.get(i + 1) {
                None => {}
                Some(b'_') => {
                    out.push(b'_');
                    i += 1;
                }
                Some(_) => out.push(b'/'),
            }
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

/// Drops an incomplete last line (one not ended by a newline), left by an
/// interrupted append, as git-annex does when it reads a journal file.
pub fn discard_incomplete_append(mut content: Vec<u8>) -> Vec<u8> {
    match content.iter().rposition(|&b| b == b'\n') {
        Some(p) => content.truncate(p + 1),
        None => content.clear(),
    }
    content
}

/// Whether a path can be a file of the branch (and so be journalled): not
/// empty, no NUL byte, no empty, `.`, `..` or `.git` component.
pub fn is_valid_branch_path(path: &[u8]) -> bool {
    !path.is_empty()
        && !path.contains(&0)
        && !path
            .split(|&b| b == b'/')
            .any(|c| c.is_empty() || c == b"." || c == b".." || c.eq_ignore_ascii_case(b".git"))
}

fn check_branch_path(path: &[u8]) -> Result<(), JournalError> {
    if !is_valid_branch_path(path) {
        return Err(JournalError::InvalidPath(
            String::from_utf8_lossy(path).into_owned(),
        ));
    }
    Ok(())
}

/// The `OsString` of raw bytes (file names are bytes on Unix).
#[cfg(unix)]
pub(crate) fn bytes_to_os(b: &[u8]) -> std::ffi::OsString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(b).to_owned()
}

#[cfg(unix)]
fn os_to_bytes(s: &std::ffi::OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes().to_vec()
}

/// The regular files of a journal directory, by kind.
#[derive(Debug, Default)]
struct Listing {
    /// Branch paths of the files named for one.
    files: Vec<Vec<u8>>,
    /// Names of the others.
    strays: Vec<Vec<u8>>,
}

/// What identifies one version of a journal file: device, inode, size,
/// and the modification and change times to the nanosecond. A journal
/// file is replaced by rename (a new inode) or appended to (a new size and
/// times), so a file with the same stamp holds the same content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp([i64; 7]);

impl Stamp {
    /// A stamp no file has.
    const NEVER: Stamp = Stamp([-1; 7]);

    /// How many bytes [`Stamp::to_bytes`] gives.
    pub(crate) const BYTES: usize = 56;

    /// The stamp as bytes (to be kept in a temp file).
    pub(crate) fn to_bytes(self) -> [u8; Self::BYTES] {
        let mut out = [0u8; Self::BYTES];
        for (chunk, v) in out.chunks_exact_mut(8).zip(self.0) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        out
    }

    /// The stamp of [`Stamp::to_bytes`]'s bytes; `None` when they are not
    /// [`Stamp::BYTES`] long.
    pub(crate) fn from_bytes(b: &[u8]) -> Option<Stamp> {
        if b.len() != Self::BYTES {
            return None;
        }
        let mut v = [0i64; 7];
        for (x, chunk) in v.iter_mut().zip(b.chunks_exact(8)) {
            *x = i64::from_le_bytes(chunk.try_into().ok()?);
        }
        Some(Stamp(v))
    }

    #[cfg(unix)]
    fn of(m: &fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        // The device and inode are compared as bits.
        Stamp([
            m.dev() as i64,
            m.ino() as i64,
            m.size() as i64,
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec(),
        ])
    }
}

/// The journal of one repository (paths under its `.git/annex`).
#[derive(Debug, Clone)]
pub struct Journal {
    annex_dir: PathBuf,
    /// `annex_dir` resolved (`canonicalize`), once: the in-process lock
    /// guard's key.
    canonical: std::sync::OnceLock<PathBuf>,
}

/// Proof that the journal lock is held; released on drop.
///
/// Holds an exclusive POSIX lock on `.git/annex/journal.lck` (excluding
/// git-annex processes) and an in-process guard (POSIX locks do not
/// exclude threads of one process).
#[derive(Debug)]
pub struct JournalLock {
    // Declared first so it is dropped first: the fcntl lock goes when the
    // descriptor closes, and it must be gone before another thread of this
    // process may take the in-process guard (closing any descriptor of the
    // file would drop that thread's fcntl lock too).
    _file: fs::File,
    _held: HeldGuard,
}

static HELD: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);
static HELD_CV: Condvar = Condvar::new();

/// The in-process part of the journal lock: the canonical lock path in
/// [`HELD`], removed (and waiters woken) on drop.
#[derive(Debug)]
struct HeldGuard {
    key: PathBuf,
}

impl HeldGuard {
    /// Waits until no thread of this process holds `key`, then holds it.
    fn acquire(key: PathBuf) -> HeldGuard {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let set = held.get_or_insert_with(HashSet::new);
            if !set.contains(&key) {
                set.insert(key.clone());
                return HeldGuard { key };
            }
            held = HELD_CV.wait(held).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Drop for HeldGuard {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(set) = held.as_mut() {
            set.remove(&self.key);
        }
        HELD_CV.notify_all();
    }
}

/// `create_dir_all`, with one `stat` first: the directory is nearly
/// always there, and a `stat` is cheaper than a `mkdir` that fails (which
/// takes the parent directory's lock).
pub(crate) fn ensure_dir(dir: &Path) -> std::io::Result<()> {
    if fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    fs::create_dir_all(dir)
}

impl Journal {
    /// The journal of the repository whose git directory is `git_dir`.
    pub fn new(git_dir: &Path) -> Journal {
        Journal {
            annex_dir: git_dir.join("annex"),
            canonical: std::sync::OnceLock::new(),
        }
    }

    /// `.git/annex/journal`.
    pub fn dir(&self) -> PathBuf {
        self.annex_dir.join("journal")
    }

    /// `.git/annex/journal-private`.
    pub fn private_dir(&self) -> PathBuf {
        self.annex_dir.join("journal-private")
    }

    /// `.git/annex/journal.lck`.
    pub fn lock_path(&self) -> PathBuf {
        self.annex_dir.join("journal.lck")
    }

    /// Takes the journal lock, waiting for other holders (other threads of
    /// this process, and other processes, git-annex included).
    ///
    /// The lock is not re-entrant: a thread that takes it again while
    /// holding it waits forever.
    pub fn lock(&self) -> Result<JournalLock, JournalError> {
        ensure_dir(&self.annex_dir).map_err(io_err("create", &self.annex_dir))?;
        let lock_path = self.lock_path();
        let canonical = match self.canonical.get() {
            Some(c) => c,
            None => {
                let c = fs::canonicalize(&self.annex_dir)
                    .map_err(io_err("resolve", &self.annex_dir))?;
                self.canonical.get_or_init(|| c)
            }
        };
        let key = canonical.join("journal.lck");
        let held = HeldGuard::acquire(key);
        let file = match fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
        {
            Ok(f) => f,
            Err(e) => {
                return Err(JournalError::Io {
                    what: "open lock",
                    path: lock_path,
                    source: e,
                });
            }
        };
        if let Err(e) = rustix::fs::fcntl_lock(&file, rustix::fs::FlockOperation::LockExclusive) {
            return Err(JournalError::Io {
                what: "lock",
                path: lock_path,
                source: e.into(),
            });
        }
        Ok(JournalLock {
            _file: file,
            _held: held,
        })
    }

    fn file_in(dir: &Path, branch_path: &[u8]) -> Result<PathBuf, JournalError> {
        check_branch_path(branch_path)?;
        Ok(dir.join(bytes_to_os(&journal_file_name(branch_path))))
    }

    fn read_in(dir: &Path, branch_path: &[u8]) -> Result<Option<Vec<u8>>, JournalError> {
        let p = Self::file_in(dir, branch_path)?;
        match fs::read(&p) {
            Ok(c) => Ok(Some(discard_incomplete_append(c))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(JournalError::Io {
                what: "read",
                path: p,
                source: e,
            }),
        }
    }

    /// The journalled content of a branch file, if any (without taking the
    /// lock, so possibly about to be replaced). An incomplete last line is
    /// dropped.
    pub fn read(&self, branch_path: &[u8]) -> Result<Option<Vec<u8>>, JournalError> {
        Self::read_in(&self.dir(), branch_path)
    }

    /// Like [`Journal::read`], in the private journal.
    pub fn read_private(&self, branch_path: &[u8]) -> Result<Option<Vec<u8>>, JournalError> {
        Self::read_in(&self.private_dir(), branch_path)
    }

    fn write_in(&self, dir: &Path, branch_path: &[u8], content: &[u8]) -> Result<(), JournalError> {
        let dest = Self::file_in(dir, branch_path)?;
        let tmp_dir = self.annex_dir.join("othertmp");
        let tmp_lock = self.annex_dir.join("othertmp.lck");
        // A shared lock on othertmp.lck keeps git-annex's cleanup of
        // othertmp away while our temp file is there.
        let lock = crate::lockfile::shared(&tmp_lock).map_err(io_err("lock", &tmp_lock))?;
        ensure_dir(&tmp_dir).map_err(io_err("create", &tmp_dir))?;
        let mut tmp = tempfile::Builder::new()
            .prefix("journal.")
            .tempfile_in(&tmp_dir)
            .map_err(io_err("create temp file in", &tmp_dir))?;
        tmp.write_all(content)
            .map_err(io_err("write", tmp.path()))?;
        #[cfg(unix)]
        {
            // As git-annex's journal files: readable by all (the temp file
            // starts private).
            use std::os::unix::fs::PermissionsExt;
            let mode = crate::perms::new_file_mode();
            fs::set_permissions(tmp.path(), fs::Permissions::from_mode(mode))
                .map_err(io_err("chmod", tmp.path()))?;
        }
        if let Err(e) = tmp.persist(&dest) {
            if e.error.kind() != io::ErrorKind::NotFound {
                return Err(JournalError::Io {
                    what: "rename into",
                    path: dest,
                    source: e.error,
                });
            }
            fs::create_dir_all(dir).map_err(io_err("create", dir))?;
            e.file.persist(&dest).map_err(|e| JournalError::Io {
                what: "rename into",
                path: dest.clone(),
                source: e.error,
            })?;
        }
        drop(lock);
        Ok(())
    }

    /// Writes the whole new content of a branch file to the journal,
    /// atomically (temp file, then rename).
    pub fn write(
        &self,
        _lock: &JournalLock,
        branch_path: &[u8],
        content: &[u8],
    ) -> Result<(), JournalError> {
        self.write_in(&self.dir(), branch_path, content)
    }

    /// Like [`Journal::write`], in the private journal.
    pub fn write_private(
        &self,
        _lock: &JournalLock,
        branch_path: &[u8],
        content: &[u8],
    ) -> Result<(), JournalError> {
        self.write_in(&self.private_dir(), branch_path, content)
    }

    /// Removes the journal file of a branch path, if any.
    pub fn remove(&self, _lock: &JournalLock, branch_path: &[u8]) -> Result<(), JournalError> {
        let p = Self::file_in(&self.dir(), branch_path)?;
        match fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(JournalError::Io {
                what: "remove",
                path: p,
                source: e,
            }),
        }
    }

    /// Removes the journal file of a branch path only if its content is
    /// still `expected` (so a file rewritten meanwhile is kept). Returns
    /// whether it was removed.
    pub fn remove_if_unchanged(
        &self,
        lock: &JournalLock,
        branch_path: &[u8],
        expected: &[u8],
    ) -> Result<bool, JournalError> {
        let p = Self::file_in(&self.dir(), branch_path)?;
        match fs::read(&p) {
            Ok(c) if c == expected => {
                self.remove(lock, branch_path)?;
                Ok(true)
            }
            Ok(_) => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(JournalError::Io {
                what: "read",
                path: p,
                source: e,
            }),
        }
    }

    /// The journal's regular files: (branch path, file name) of those
    /// named for a valid branch path, and the names of the others
    /// (strays), each sorted.
    fn list_in(dir: &Path) -> Result<Listing, JournalError> {
        let mut out = Listing::default();
        Self::each_in(dir, &mut |path, stray| {
            match stray {
                None => out.files.push(path),
                Some(name) => out.strays.push(name),
            }
            true
        })?;
        out.files.sort();
        out.strays.sort();
        Ok(out)
    }

    /// Calls `f(path, stray)` for each regular file of a journal directory
    /// as the directory lists it (unsorted, nothing kept): `stray` is
    /// `None` for a file named for a valid branch path (`path`), and the
    /// file's name for any other (`path` is then what the name decodes
    /// to, valid or not). Stops when `f` returns false.
    fn each_in(
        dir: &Path,
        f: &mut dyn FnMut(Vec<u8>, Option<Vec<u8>>) -> bool,
    ) -> Result<(), JournalError> {
        let rd = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(JournalError::Io {
                    what: "list",
                    path: dir.to_path_buf(),
                    source: e,
                });
            }
        };
        for ent in rd {
            let ent = ent.map_err(io_err("list", dir))?;
            let is_file = ent.file_type().map(|t| t.is_file()).unwrap_or(false);
            if !is_file {
                continue;
            }
            let name = os_to_bytes(&ent.file_name());
            let path = branch_path_of(&name);
            // A name that is not the journal name of a valid branch path
            // (`_x` would be `/x`, `x_` would be `x`, `a_.._b` has a `..`)
            // was written by neither git-annex nor us: it neither keeps
            // the journal dirty nor fails a read.
            let keep_going = if is_valid_branch_path(&path) && journal_file_name(&path) == name {
                f(path, None)
            } else {
                f(path, Some(name))
            };
            if !keep_going {
                break;
            }
        }
        Ok(())
    }

    /// Calls `f(path, stray)` for each regular file of the journal (not
    /// the private one), unsorted, as [`Journal::each_in`]: what a commit
    /// of a large journal lists without keeping the list in memory.
    pub(crate) fn for_each_entry(
        &self,
        f: &mut dyn FnMut(Vec<u8>, Option<Vec<u8>>) -> bool,
    ) -> Result<(), JournalError> {
        Self::each_in(&self.dir(), f)
    }

    /// The names of the files in the journal that are not the journal name
    /// of a valid branch path (see [`Journal::files`]), sorted. git-annex
    /// commits them anyway, under the path their name decodes to when git
    /// accepts it, and removes them all; [`crate::branch::Branch::commit`]
    /// does the same when it commits.
    pub fn stray_files(&self) -> Result<Vec<Vec<u8>>, JournalError> {
        Ok(Self::list_in(&self.dir())?.strays)
    }

    /// The content of a journal file by its name (not its branch path),
    /// if present, with the [`Stamp`] of the file read (taken from the
    /// open file, so it is the one whose content this is); `name` must be
    /// a plain file name.
    pub(crate) fn read_name_stamped(
        &self,
        name: &[u8],
    ) -> Result<Option<(Vec<u8>, Stamp)>, JournalError> {
        use std::io::Read;
        let p = self.name_path(name)?;
        let mut f = match fs::File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(JournalError::Io {
                    what: "read",
                    path: p,
                    source: e,
                });
            }
        };
        let meta = f.metadata().map_err(io_err("stat", &p))?;
        let mut content = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        f.read_to_end(&mut content).map_err(io_err("read", &p))?;
        // Read again after the read: a writer appending meanwhile changed it.
        let after = f.metadata().map_err(io_err("stat", &p))?;
        let stamp = Stamp::of(&after);
        if stamp != Stamp::of(&meta) || content.len() as u64 != after.len() {
            // Changing under us (a writer not taking the lock): a stamp
            // that matches nothing keeps the file.
            return Ok(Some((content, Stamp::NEVER)));
        }
        Ok(Some((content, stamp)))
    }

    /// Removes the journal file named `name` (not a branch path) only if
    /// it is still the file [`Journal::read_name_stamped`] read (the same
    /// stamp: every writer replaces a journal file by rename, or appends
    /// to it, and either changes the stamp). Returns whether it was
    /// removed.
    pub(crate) fn remove_name_if_stamp(
        &self,
        _lock: &JournalLock,
        name: &[u8],
        expected: &Stamp,
    ) -> Result<bool, JournalError> {
        let p = self.name_path(name)?;
        match fs::symlink_metadata(&p) {
            Ok(m) if m.is_file() && Stamp::of(&m) == *expected && *expected != Stamp::NEVER => {
                match fs::remove_file(&p) {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
                    Err(e) => Err(JournalError::Io {
                        what: "remove",
                        path: p,
                        source: e,
                    }),
                }
            }
            Ok(_) => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(JournalError::Io {
                what: "stat",
                path: p,
                source: e,
            }),
        }
    }

    fn name_path(&self, name: &[u8]) -> Result<PathBuf, JournalError> {
        if name.is_empty()
            || name.contains(&b'/')
            || name == b"."
            || name == b".."
            || name.contains(&0)
        {
            return Err(JournalError::InvalidPath(
                String::from_utf8_lossy(name).into_owned(),
            ));
        }
        Ok(self.dir().join(bytes_to_os(name)))
    }

    /// The branch paths of all files in the journal (sorted). Files whose
    /// name is not the journal name of a valid branch path (see
    /// [`journal_file_name`], [`is_valid_branch_path`]) are left out.
    pub fn files(&self) -> Result<Vec<Vec<u8>>, JournalError> {
        Ok(Self::list_in(&self.dir())?.files)
    }

    /// The branch paths of all files in the private journal (sorted).
    pub fn private_files(&self) -> Result<Vec<Vec<u8>>, JournalError> {
        Ok(Self::list_in(&self.private_dir())?.files)
    }

    /// Whether the journal holds any file of a branch path (uncommitted
    /// changes); stray names left out by [`Journal::files`] do not count.
    pub fn is_dirty(&self) -> Result<bool, JournalError> {
        // The first such file answers: the journal is not listed whole.
        let mut dirty = false;
        self.for_each_entry(&mut |_, stray| {
            dirty = stray.is_none();
            !dirty
        })?;
        Ok(dirty)
    }
}
