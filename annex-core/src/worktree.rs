//! The annexed files of the work tree and index: paths and their keys.
//!
//! Commands that take files (`get`, `drop`, `whereis`, `find`, ...) work
//! on the files git knows (the index), as `git ls-files --cached` lists
//! them, and find each file's key as git-annex does: a symlink in the work
//! tree pointing into the annex is a locked file; a regular file whose
//! staged blob is a pointer file (or an annex link) is an unlocked one; a
//! file missing from the work tree is skipped.
//!
//! Paths are bytes relative to the top of the work tree with `/`
//! separators, as git stores them. [`pathspec_from_arg`] turns a command
//! line argument (relative to the current directory) into one.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use annex_core::worktree::WorkTree;
//! let wt = WorkTree::discover(std::path::Path::new("."))?;
//! let seek = wt.annexed_files(&[b"photos".to_vec()])?;
//! for f in &seek.files {
//!     println!("{} {}", String::from_utf8_lossy(&f.path), f.key);
//! }
//! # Ok(()) }
//! ```

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use gix::bstr::{BStr, ByteSlice};

use crate::branch::index::Reader as IndexReader;
use crate::odb::CycledRepo;

use crate::key::Key;
use crate::pointer;

/// The largest pointer file git-annex reads as one.
pub const MAX_POINTER_SIZE: u64 = 32768;

/// An error listing or reading the work tree.
#[derive(Debug, thiserror::Error)]
pub enum WorkTreeError {
    /// No git repository with a work tree at or above the path.
    #[error("{path}: not in a git repository with a work tree")]
    NoWorkTree {
        /// The path given.
        path: PathBuf,
    },
    /// The repository could not be opened.
    #[error("{path}: cannot open git repository: {detail}")]
    Open {
        /// The path given.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The index could not be read.
    #[error("cannot read the git index of {path}: {detail}")]
    Index {
        /// The work tree.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// A staged object could not be read.
    #[error("cannot read the staged blob of {path}: {detail}")]
    Blob {
        /// The file, relative to the top of the work tree.
        path: String,
        /// What went wrong.
        detail: String,
    },
    /// A path on the command line is outside the repository.
    #[error("{0} is outside repository")]
    OutsideRepository(String),
}

/// An annexed file: its path and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnexedFile {
    /// The path relative to the top of the work tree, `/`-separated.
    pub path: Vec<u8>,
    /// The file's key.
    pub key: Key,
    /// `true` for a locked file (a symlink), `false` for an unlocked one
    /// (a pointer file or the content itself).
    pub locked: bool,
}

impl AnnexedFile {
    /// The path as a relative [`Path`].
    pub fn rel_path(&self) -> &Path {
        Path::new(OsStr::from_bytes(&self.path))
    }
}

/// What [`WorkTree::annexed_files`] found.
#[derive(Debug, Default, Clone)]
pub struct Seek {
    /// The annexed files, in the order of the pathspecs, then git's order.
    pub files: Vec<AnnexedFile>,
    /// Pathspecs that matched no file known to git.
    pub unmatched: Vec<Vec<u8>>,
}

/// A work tree and its index.
pub struct WorkTree {
    repo: gix::Repository,
    top: PathBuf,
}

impl std::fmt::Debug for WorkTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkTree").field("top", &self.top).finish()
    }
}

impl WorkTree {
    /// The work tree of the git repository at or above `path`.
    pub fn discover(path: &Path) -> Result<WorkTree, WorkTreeError> {
        let repo = gix::discover(path)
            .map(crate::config::with_overrides)
            .map_err(|e| WorkTreeError::Open {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?;
        WorkTree::from_repo(repo)
    }

    /// The work tree of an opened repository.
    pub fn from_repo(repo: gix::Repository) -> Result<WorkTree, WorkTreeError> {
        let top = repo
            .workdir()
            .ok_or_else(|| WorkTreeError::NoWorkTree {
                path: repo.git_dir().to_path_buf(),
            })?
            .to_path_buf();
        Ok(WorkTree { repo, top })
    }

    /// The top of the work tree.
    pub fn top(&self) -> &Path {
        &self.top
    }

    /// The repository.
    pub fn repo(&self) -> &gix::Repository {
        &self.repo
    }

    /// The index file, when it can be read entry by entry (see
    /// [`crate::branch::index`]): not when it is split (a `sharedindex.*`
    /// file holds most entries, or `core.splitIndex` is set) or may be
    /// sparse (`index.sparse`); those are read whole by gix.
    fn streamable_index(&self) -> Option<PathBuf> {
        streamable_index(&self.repo)
    }

    fn index_err(&self, e: impl std::fmt::Display) -> WorkTreeError {
        WorkTreeError::Index {
            path: self.top.clone(),
            detail: e.to_string(),
        }
    }

    /// Calls `f(n, path, blob)` for every index entry a pathspec matches
    /// (as [`walk_index`]): the index streamed one entry at a time when it
    /// can be ([`WorkTree::streamable_index`]; memory then does not grow
    /// with the number of files), else read whole by gix.
    fn walk_entries<E: From<WorkTreeError>>(
        &self,
        pathspecs: &[Vec<u8>],
        mut f: impl FnMut(usize, &[u8], gix::ObjectId) -> Result<(), E>,
    ) -> Result<Vec<Vec<u8>>, E> {
        if let Some(path) = self.streamable_index() {
            return walk_stream(self, &path, pathspecs, f);
        }
        let index = self.index()?;
        let entries = index.entries();
        walk_index(&index, pathspecs, |n, i| {
            let e = &entries[i];
            f(n, e.path(&index), e.id)
        })
    }

    fn index(&self) -> Result<gix::worktree::Index, WorkTreeError> {
        self.repo
            .index_or_empty()
            .map_err(|e| WorkTreeError::Index {
                path: self.top.clone(),
                detail: e.to_string(),
            })
    }

    /// The annexed files matching `pathspecs` (paths from the top; a
    /// directory matches everything under it; an empty list or `""` matches
    /// everything). Files not annexed and files missing from the work tree
    /// are left out; pathspecs that match nothing git knows are reported.
    pub fn annexed_files(&self, pathspecs: &[Vec<u8>]) -> Result<Seek, WorkTreeError> {
        let mut files = Vec::new();
        let unmatched = self.for_each_annexed_file(pathspecs, |_, f| {
            files.push(f);
            Ok::<(), WorkTreeError>(())
        })?;
        Ok(Seek { files, unmatched })
    }

    /// [`WorkTree::annexed_files`] one file at a time, in the same order,
    /// without collecting them: `f` gets the index of the pathspec the
    /// file was found through (0 when `pathspecs` is empty) and the file.
    /// Returns the pathspecs that matched nothing git knows. Memory does
    /// not grow with the number of files (beyond the index itself).
    pub fn for_each_annexed_file<E: From<WorkTreeError>>(
        &self,
        pathspecs: &[Vec<u8>],
        mut f: impl FnMut(usize, AnnexedFile) -> Result<(), E>,
    ) -> Result<Vec<Vec<u8>>, E> {
        let mut dirs = DirCache::new(&self.top);
        // The staged blobs of unlocked files are read through a store of
        // the walk's own, replaced as it reads (see `crate::odb`).
        let objects = CycledRepo::new(&self.repo, |_| {});
        self.walk_entries(pathspecs, |n, path, id| {
            if let Some((key, locked)) =
                self.key_of_entry(path.as_bstr(), id, &mut dirs, Some(&objects))?
            {
                f(
                    n,
                    AnnexedFile {
                        path: path.to_vec(),
                        key,
                        locked,
                    },
                )?;
            }
            Ok(())
        })
    }

    /// [`WorkTree::for_each_annexed_file`] with the per-file system calls
    /// spread over threads: the work tree's links are read, and `work`
    /// runs for each annexed file (a presence check, say), on up to
    /// `threads` threads (the calling one included), a block of files at
    /// a time; `f` then gets the files and `work`'s answers on the
    /// calling thread, in the same order as [`WorkTree::for_each_annexed_file`]
    /// gives them. Unlocked files (regular files, whose key is in the
    /// staged blob) are looked up on the calling thread. Memory stays
    /// bounded: files are handled in batches of a few thousand.
    pub fn for_each_annexed_file_par<R: Send, E: From<WorkTreeError>>(
        &self,
        pathspecs: &[Vec<u8>],
        threads: usize,
        work: &(dyn Fn(&AnnexedFile) -> R + Sync),
        mut f: impl FnMut(usize, AnnexedFile, R) -> Result<(), E>,
    ) -> Result<Vec<Vec<u8>>, E> {
        let threads = threads.clamp(1, 16);
        let objects = CycledRepo::new(&self.repo, |_| {});
        let mut batch: Vec<BatchEntry> = Vec::new();
        let mut handle = |batch: &mut Vec<BatchEntry>| -> Result<(), E> {
            let slots = probe_batch(&self.top, batch, threads, work);
            for ((n, path, id), slot) in batch.iter().zip(slots) {
                match slot {
                    Slot::Skip => {}
                    Slot::Done(file, r) => f(*n as usize, file, r)?,
                    Slot::Regular => {
                        let path = path.as_bstr();
                        if let Some((key, locked)) =
                            self.key_of_regular(path, *id, Some(&objects))?
                        {
                            let file = AnnexedFile {
                                path: path.to_vec(),
                                key,
                                locked,
                            };
                            let r = work(&file);
                            f(*n as usize, file, r)?;
                        }
                    }
                }
            }
            batch.clear();
            Ok(())
        };
        let unmatched = self.walk_entries(pathspecs, |n, path, id| {
            batch.push((n as u32, path.to_vec(), id));
            if batch.len() >= PAR_BATCH {
                handle(&mut batch)?;
            }
            Ok::<(), E>(())
        })?;
        handle(&mut batch)?;
        Ok(unmatched)
    }

    /// The key of one file (path from the top), as git-annex looks it up:
    /// the work tree's symlink or pointer, else the staged blob. `None`
    /// when the file is not annexed or is missing.
    pub fn lookup_key(&self, path: &[u8]) -> Result<Option<(Key, bool)>, WorkTreeError> {
        let staged = match self.streamable_index() {
            Some(p) => self.find_entry(&p, path)?,
            None => {
                let index = self.index()?;
                index.entry_by_path(path.as_bstr()).map(|e| e.id)
            }
        };
        match staged {
            Some(id) => self.key_of_entry(path.as_bstr(), id, &mut DirCache::new(&self.top), None),
            None => {
                // Not staged: only a symlink in the work tree can tell.
                let full = self.top.join(OsStr::from_bytes(path));
                Ok(std::fs::read_link(&full)
                    .ok()
                    .and_then(|t| pointer::parse_link_target(t.as_os_str().as_bytes()))
                    .map(|k| (k, true)))
            }
        }
    }

    /// The blob staged at `path` (its first stage), read from the index
    /// file at `index` entry by entry up to it.
    fn find_entry(
        &self,
        index: &Path,
        path: &[u8],
    ) -> Result<Option<gix::ObjectId>, WorkTreeError> {
        let Some(mut r) =
            IndexReader::open(index, self.repo.object_hash()).map_err(|e| self.index_err(e))?
        else {
            return Ok(None);
        };
        while let Some(e) = r.next_entry().map_err(|e| self.index_err(e))? {
            match e.path.as_slice().cmp(path) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return Ok(Some(e.id)),
                std::cmp::Ordering::Greater => break,
            }
        }
        Ok(None)
    }

    fn key_of_entry(
        &self,
        path: &BStr,
        id: gix::ObjectId,
        dirs: &mut DirCache,
        objects: Option<&CycledRepo>,
    ) -> Result<Option<(Key, bool)>, WorkTreeError> {
        // Most annexed files are symlinks: one readlink answers for them
        // (it fails with EINVAL on anything else, which is then stat'ed).
        // It is made relative to the file's directory, opened once for
        // all the files in it, so the kernel walks one path component
        // per file rather than the whole path from `/`.
        match dirs.read_link(path) {
            Ok(t) => {
                return Ok(pointer::parse_link_target(&t).map(|k| (k, true)));
            }
            Err(e) if e == rustix::io::Errno::INVAL => {}
            Err(_) => return Ok(None),
        }
        self.key_of_regular(path, id, objects)
    }

    /// [`WorkTree::key_of_entry`] for a file that is not a symlink (as
    /// `readlink` found it): a pointer file, or a locked file whose link
    /// was replaced by its content. The blob is read through `objects`
    /// when given (a walk's), else through the work tree's repository.
    fn key_of_regular(
        &self,
        path: &BStr,
        id: gix::ObjectId,
        objects: Option<&CycledRepo>,
    ) -> Result<Option<(Key, bool)>, WorkTreeError> {
        let full = self.top.join(OsStr::from_bytes(path));
        let meta = match std::fs::symlink_metadata(&full) {
            Ok(m) => m,
            Err(_) => return Ok(None),
        };
        if meta.file_type().is_symlink() {
            // Replaced by a symlink meanwhile.
            return Ok(std::fs::read_link(&full)
                .ok()
                .and_then(|t| pointer::parse_link_target(t.as_os_str().as_bytes()))
                .map(|k| (k, true)));
        }
        if !meta.is_file() {
            return Ok(None);
        }
        // A regular file: unlocked when the staged blob is a pointer (or
        // a link target, for a locked file whose link was replaced).
        let blob_err = |e: &dyn std::fmt::Display| WorkTreeError::Blob {
            path: path.to_string(),
            detail: e.to_string(),
        };
        let cycled;
        let repo: &gix::Repository = match objects {
            Some(c) => {
                cycled = c.get();
                &cycled
            }
            None => &self.repo,
        };
        let header = match repo.find_header(id) {
            Ok(h) => h,
            Err(e) => return Err(blob_err(&e)),
        };
        if header.size() > MAX_POINTER_SIZE {
            return Ok(None);
        }
        let blob = repo.find_object(id).map_err(|e| blob_err(&e))?;
        let data = &blob.data;
        let key = pointer::parse_pointer(data)
            .or_else(|| pointer::parse_link_target(data.trim_end_with(|c| c == '\n')));
        Ok(key.map(|k| (k, false)))
    }
}

/// The index file of `repo`, when it can be read entry by entry (see
/// [`crate::branch::index`]): not when it is split (a `sharedindex.*`
/// file holds most entries, or `core.splitIndex` is set) or may be
/// sparse (`index.sparse`); those are read whole by gix.
pub(crate) fn streamable_index(repo: &gix::Repository) -> Option<PathBuf> {
    // An unreadable directory counts as holding a shared index.
    let shared = |dir: &Path| {
        std::fs::read_dir(dir).map_or(true, |mut rd| {
            rd.any(|e| e.is_ok_and(|e| e.file_name().as_bytes().starts_with(b"sharedindex.")))
        })
    };
    let config = repo.config_snapshot();
    if shared(repo.git_dir())
        || shared(repo.common_dir())
        || config.boolean("core.splitIndex") == Some(true)
        || config.boolean("index.sparse") == Some(true)
    {
        return None;
    }
    Some(repo.index_path())
}

/// The directory of the files last looked at, opened (`O_PATH`) so that
/// the files in it are read relative to it; files come in the index's
/// order, so the files of a directory mostly come one after another.
struct DirCache<'a> {
    top: &'a Path,
    /// The directory (from the top, no trailing `/`) and its descriptor;
    /// `Err` when it could not be opened.
    dir: Option<(Vec<u8>, Result<rustix::fd::OwnedFd, rustix::io::Errno>)>,
    /// A buffer kept between calls.
    buf: Vec<u8>,
}

impl<'a> DirCache<'a> {
    fn new(top: &'a Path) -> DirCache<'a> {
        DirCache {
            top,
            dir: None,
            buf: Vec::new(),
        }
    }

    /// `readlink` of `path` (from the top): the link's target.
    fn read_link(&mut self, path: &[u8]) -> Result<Vec<u8>, rustix::io::Errno> {
        let (dir, name) = match path.iter().rposition(|&b| b == b'/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => (&path[..0], path),
        };
        if name.is_empty() {
            return Err(rustix::io::Errno::NOENT);
        }
        let same = matches!(&self.dir, Some((d, _)) if d.as_slice() == dir);
        if !same {
            let full = if dir.is_empty() {
                self.top.to_path_buf()
            } else {
                self.top.join(OsStr::from_bytes(dir))
            };
            let fd = rustix::fs::open(
                &full,
                rustix::fs::OFlags::PATH
                    | rustix::fs::OFlags::DIRECTORY
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            );
            self.dir = Some((dir.to_vec(), fd));
        }
        let fd = match &self.dir {
            Some((_, Ok(fd))) => fd,
            Some((_, Err(e))) => return Err(*e),
            None => return Err(rustix::io::Errno::NOENT),
        };
        let buf = std::mem::take(&mut self.buf);
        let target = rustix::fs::readlinkat(fd, OsStr::from_bytes(name), buf)?;
        let target = target.into_bytes();
        Ok(target)
    }
}

/// Index entries handled per batch by [`WorkTree::for_each_annexed_file_par`].
const PAR_BATCH: usize = 8192;
/// Entries a thread takes at a time from a batch (consecutive entries
/// share directories, which [`DirCache`] keeps open).
const PAR_BLOCK: usize = 256;

/// Calls `f` with (pathspec number, entry number) for every entry of the
/// index the pathspecs match, in the pathspecs' order then git's, each
/// entry once (an unmerged path's first stage only); returns the
/// pathspecs that matched no entry.
fn walk_index<E>(
    index: &gix::index::State,
    pathspecs: &[Vec<u8>],
    mut f: impl FnMut(usize, usize) -> Result<(), E>,
) -> Result<Vec<Vec<u8>>, E> {
    let entries = index.entries();
    let everything = [Vec::new()];
    let specs: &[Vec<u8>] = if pathspecs.is_empty() {
        &everything
    } else {
        pathspecs
    };
    // Only several pathspecs can find an entry twice.
    let mut seen = if specs.len() > 1 {
        vec![false; entries.len()]
    } else {
        Vec::new()
    };
    let mut unmatched = Vec::new();
    for (n, spec) in specs.iter().enumerate() {
        let spec = spec.strip_suffix(b"/").unwrap_or(spec);
        let range = if spec.is_empty() {
            0..entries.len()
        } else {
            match index.prefixed_entries_range(spec.as_bstr()) {
                Some(r) => r,
                None => {
                    unmatched.push(spec.to_vec());
                    continue;
                }
            }
        };
        let mut matched = false;
        for i in range {
            let entry = &entries[i];
            let path: &BStr = entry.path(index);
            let hit = spec.is_empty()
                || path == spec
                || (path.len() > spec.len() && path.starts_with(spec) && path[spec.len()] == b'/');
            if !hit {
                continue;
            }
            matched = true;
            if seen.get(i).copied().unwrap_or(false)
                || entry.stage_raw() != 0 && is_dup_stage(entries, i, index)
            {
                continue;
            }
            if let Some(s) = seen.get_mut(i) {
                *s = true;
            }
            f(n, i)?;
        }
        if !matched {
            unmatched.push(spec.to_vec());
        }
    }
    Ok(unmatched)
}

/// What a worker thread found for one index entry.
enum Slot<R> {
    /// Missing, or a symlink that is not an annex link.
    Skip,
    /// A locked file, and what the work function answered for it.
    Done(AnnexedFile, R),
    /// Not a symlink: left to the calling thread (the staged blob).
    Regular,
}

/// Reads the links of a batch of entries (`(pathspec, entry)` numbers) on
/// up to `threads` threads and runs `work` on the annexed ones; the slots
/// come back in the batch's order.
fn probe_batch<R: Send>(
    top: &Path,
    batch: &[BatchEntry],
    threads: usize,
    work: &(dyn Fn(&AnnexedFile) -> R + Sync),
) -> Vec<Slot<R>> {
    let probe_block = |block: &[BatchEntry], dirs: &mut DirCache| -> Vec<Slot<R>> {
        block
            .iter()
            .map(|(_, path, _)| match dirs.read_link(path) {
                Ok(t) => match pointer::parse_link_target(&t) {
                    Some(key) => {
                        dirs.buf = t;
                        let file = AnnexedFile {
                            path: path.to_vec(),
                            key,
                            locked: true,
                        };
                        let r = work(&file);
                        Slot::Done(file, r)
                    }
                    None => Slot::Skip,
                },
                Err(e) if e == rustix::io::Errno::INVAL => Slot::Regular,
                Err(_) => Slot::Skip,
            })
            .collect()
    };
    let blocks = batch.len().div_ceil(PAR_BLOCK);
    let threads = threads.min(blocks);
    if threads <= 1 {
        return probe_block(batch, &mut DirCache::new(top));
    }
    // Threads take the next block in turn, so a thread slowed down (a
    // busy machine) does not hold the others up.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let run = || {
        let mut dirs = DirCache::new(top);
        let mut done = Vec::new();
        loop {
            let b = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if b >= blocks {
                break;
            }
            let end = ((b + 1) * PAR_BLOCK).min(batch.len());
            done.push((b, probe_block(&batch[b * PAR_BLOCK..end], &mut dirs)));
        }
        done
    };
    let mut done: Vec<(usize, Vec<Slot<R>>)> = std::thread::scope(|s| {
        let others: Vec<_> = (1..threads).map(|_| s.spawn(run)).collect();
        let mut all = run();
        for h in others {
            match h.join() {
                Ok(d) => all.extend(d),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        all
    });
    done.sort_unstable_by_key(|(b, _)| *b);
    done.into_iter().flat_map(|(_, slots)| slots).collect()
}

/// An entry of a batch of [`WorkTree::for_each_annexed_file_par`]: the
/// pathspec's number, the path and the staged blob.
type BatchEntry = (u32, Vec<u8>, gix::ObjectId);

/// [`walk_index`] over the index file at `index` read entry by entry:
/// one pass, whatever the number of pathspecs. With one pathspec (or
/// none) `f` is called as entries are read; with several, an entry goes
/// to the first pathspec matching it, and the matches are sorted by
/// pathspec (then index order) through a [`Sorter`](crate::branch::spill::Sorter),
/// which keeps a bounded part of them in memory.
fn walk_stream<E: From<WorkTreeError>>(
    wt: &WorkTree,
    index: &Path,
    pathspecs: &[Vec<u8>],
    mut f: impl FnMut(usize, &[u8], gix::ObjectId) -> Result<(), E>,
) -> Result<Vec<Vec<u8>>, E> {
    use std::collections::HashMap;
    let everything = [Vec::new()];
    let specs: Vec<&[u8]> = if pathspecs.is_empty() {
        &everything[..]
    } else {
        pathspecs
    }
    .iter()
    .map(|s| s.strip_suffix(b"/").unwrap_or(s))
    .collect();
    // Each distinct pathspec and the numbers it was given.
    let mut by_spec: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (n, s) in specs.iter().enumerate() {
        by_spec.entry(s).or_default().push(n);
    }
    let mut matched = vec![false; specs.len()];
    let kind = wt.repo.object_hash();
    let hash_len = kind.len_in_bytes();
    let single = specs.len() == 1;
    let mut sorter = (!single).then(|| {
        crate::branch::spill::Sorter::new(wt.repo.git_dir(), crate::branch::spill::MEMORY_LIMIT)
    });
    if let Some(mut r) = IndexReader::open(index, kind).map_err(|e| wt.index_err(e))? {
        // A single pathspec's entries are together: the walk stops after
        // them.
        let dir_key: Option<Vec<u8>> =
            (single && !specs[0].is_empty()).then(|| [specs[0], b"/"].concat());
        let mut prev: Vec<u8> = Vec::new();
        let mut i: u32 = 0;
        while let Some(e) = r.next_entry().map_err(|e| wt.index_err(e))? {
            let dup = e.stage != 0 && e.path == prev;
            if let Some(k) = &dir_key
                && e.path.as_slice() > k.as_slice()
                && !e.path.starts_with(k)
            {
                break;
            }
            // The pathspecs matching the entry: the path itself and each
            // directory above it (and "", everything).
            let mut first: Option<usize> = None;
            let mut check = |prefix: &[u8]| {
                if let Some(ns) = by_spec.get(prefix) {
                    for &n in ns {
                        matched[n] = true;
                    }
                    first = Some(first.map_or(ns[0], |f: usize| f.min(ns[0])));
                }
            };
            check(b"");
            for (j, &b) in e.path.iter().enumerate() {
                if b == b'/' {
                    check(&e.path[..j]);
                }
            }
            check(&e.path);
            if let Some(n) = first
                && !dup
            {
                match sorter.as_mut() {
                    None => f(n, &e.path, e.id)?,
                    Some(s) => {
                        let mut rec = Vec::with_capacity(8 + hash_len + e.path.len());
                        rec.extend_from_slice(&(n as u32).to_be_bytes());
                        rec.extend_from_slice(&i.to_be_bytes());
                        rec.extend_from_slice(e.id.as_bytes());
                        rec.extend_from_slice(&e.path);
                        s.push(rec).map_err(|e| wt.index_err(e))?;
                    }
                }
            }
            prev = e.path;
            i = i.wrapping_add(1);
        }
    }
    if let Some(s) = sorter {
        for rec in s.finish().map_err(|e| wt.index_err(e))? {
            let rec = rec.map_err(|e| wt.index_err(e))?;
            let bad = || wt.index_err("a sorted entry record is damaged");
            let n = rec.get(..4).ok_or_else(bad)?;
            let n = u32::from_be_bytes([n[0], n[1], n[2], n[3]]) as usize;
            let id = rec.get(8..8 + hash_len).ok_or_else(bad)?;
            let id = gix::ObjectId::try_from(id).map_err(|_| bad())?;
            f(n, &rec[8 + hash_len..], id)?;
        }
    }
    Ok(specs
        .iter()
        .zip(matched)
        .filter(|(_, m)| !m)
        .map(|(s, _)| s.to_vec())
        .collect())
}

/// An unmerged path appears once per stage; only the first is listed.
fn is_dup_stage(entries: &[gix::index::Entry], i: usize, index: &gix::index::State) -> bool {
    i > 0 && entries[i - 1].path(index) == entries[i].path(index)
}

/// Turns a command-line path (relative to `cwd`, or absolute) into a
/// pathspec relative to `top`, resolving `.` and `..` lexically as git
/// does. `top` and `cwd` should both be canonical.
pub fn pathspec_from_arg(top: &Path, cwd: &Path, arg: &Path) -> Result<Vec<u8>, WorkTreeError> {
    let joined = if arg.is_absolute() {
        arg.to_path_buf()
    } else {
        cwd.join(arg)
    };
    let mut parts: Vec<&OsStr> = Vec::new();
    for c in joined.components() {
        match c {
            Component::RootDir | Component::Prefix(_) => parts.clear(),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(p) => parts.push(p),
        }
    }
    let top_parts: Vec<&OsStr> = top
        .components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p),
            _ => None,
        })
        .collect();
    if parts.len() < top_parts.len() || parts[..top_parts.len()] != top_parts[..] {
        return Err(WorkTreeError::OutsideRepository(
            arg.to_string_lossy().into_owned(),
        ));
    }
    let rel: Vec<&[u8]> = parts[top_parts.len()..]
        .iter()
        .map(|p| p.as_bytes())
        .collect();
    Ok(rel.join(&b"/"[..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pathspecs_resolve_lexically() {
        let top = Path::new("/r");
        let p = |cwd: &str, a: &str| pathspec_from_arg(top, Path::new(cwd), Path::new(a));
        assert_eq!(p("/r", ".").unwrap(), b"");
        assert_eq!(p("/r/sub", "f").unwrap(), b"sub/f");
        assert_eq!(p("/r/sub", "../g/h").unwrap(), b"g/h");
        assert_eq!(p("/r/sub", "/r/x").unwrap(), b"x");
        assert!(p("/r", "..").is_err());
        assert!(p("/r", "/elsewhere").is_err());
        assert!(p("/r/a", "../../rr").is_err());
    }

    /// The streamed walk of the index gives what gix's whole-index walk
    /// gives, for one pathspec, none, several (overlapping, repeated, in
    /// any order) and unmatched ones, over an index holding a conflict.
    #[test]
    fn streamed_index_walk_matches_the_whole_index_walk() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let git = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .current_dir(d)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        git(&["init", "-q", "-b", "main"]);
        for f in ["a/x", "a/y", "a-b", "a.c", "b/z/w", "c", "d/e/f", "d0/g"] {
            let p = d.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, f).unwrap();
        }
        git(&["add", "."]);
        git(&["commit", "-qm", "one"]);
        // A conflict on `c`: three stages of one path.
        git(&["checkout", "-qb", "other"]);
        std::fs::write(d.join("c"), "theirs").unwrap();
        git(&["commit", "-qam", "theirs"]);
        git(&["checkout", "-q", "main"]);
        std::fs::write(d.join("c"), "ours").unwrap();
        git(&["commit", "-qam", "ours"]);
        let merge = std::process::Command::new("git")
            .current_dir(d)
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "merge",
                "-q",
                "other",
            ])
            .output()
            .unwrap();
        assert!(!merge.status.success(), "the merge conflicts");
        let wt = WorkTree::discover(d).unwrap();
        let index = wt.streamable_index().expect("a plain index streams");
        let spec_sets: Vec<Vec<&str>> = vec![
            vec![],
            vec![""],
            vec!["a"],
            vec!["a/"],
            vec!["d"],
            vec!["c"],
            vec!["nope"],
            vec!["b", "a"],
            vec!["a", "a/x", "a"],
            vec!["a/x", "a", "nope", "d0", "d/e"],
            vec!["", "a"],
        ];
        for specs in spec_sets {
            let specs: Vec<Vec<u8>> = specs.iter().map(|s| s.as_bytes().to_vec()).collect();
            let mut streamed = Vec::new();
            let un_s = walk_stream(&wt, &index, &specs, |n, p, id| {
                streamed.push((n, p.to_vec(), id));
                Ok::<(), WorkTreeError>(())
            })
            .unwrap();
            let gix_index = wt.index().unwrap();
            let entries = gix_index.entries();
            let mut whole = Vec::new();
            let un_w = walk_index(&gix_index, &specs, |n, i| {
                let e = &entries[i];
                whole.push((n, e.path(&gix_index).to_vec(), e.id));
                Ok::<(), WorkTreeError>(())
            })
            .unwrap();
            assert_eq!(streamed, whole, "pathspecs {specs:?}");
            assert_eq!(un_s, un_w, "unmatched, pathspecs {specs:?}");
        }
    }
}
