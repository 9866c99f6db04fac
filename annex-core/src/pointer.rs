//! Pointer files and annex symlink targets.
//!
//! A locked file is a symlink to its object: `../../.git/annex/objects/Xy/Zw/KEY/KEY`
//! (with the key's file name, see [`crate::objects::key_file`]), one `../`
//! per directory the file is in. An unlocked file whose content is absent is
//! a *pointer file*: `/annex/objects/KEY\n`.
//!
//! git-annex reads both with one parser (`parseLinkTargetOrPointer`), and so
//! do we:
//!
//! - the first line (up to `\n`, one trailing `\r` dropped) must contain
//!   `/annex/objects/` somewhere; the key is its last `/`-separated part,
//!   unescaped by [`crate::objects::file_key`];
//! - the whole input may be at most [`MAX_POINTER_SIZE`] bytes;
//! - after the first line's `\n`, every further line must contain `/annex/`
//!   and end with `\n` (so a blank line or unterminated extra line makes the
//!   file invalid: data appended to a pointer never goes unnoticed).
//!
//! ```
//! use annex_core::{key::Key, pointer};
//! use std::path::Path;
//! let key = Key::parse(b"SHA256E-s10--abc.txt").unwrap();
//! assert_eq!(pointer::format_pointer(&key), b"/annex/objects/SHA256E-s10--abc.txt\n");
//! assert_eq!(pointer::parse_pointer(b"/annex/objects/SHA256E-s10--abc.txt\n"), Some(key.clone()));
//! let target = pointer::link_target(Path::new("docs/a.txt"), &key);
//! assert_eq!(target, Path::new("../.git/annex/objects/0X/vW/SHA256E-s10--abc.txt/SHA256E-s10--abc.txt"));
//! assert_eq!(pointer::parse_link_target(target.to_str().unwrap().as_bytes()), Some(key));
//! ```

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::backend::path;
use crate::key::Key;
use crate::objects::{HashLayout, StoreConfig, file_key, hash_dir, key_file};

/// The largest valid pointer file, in bytes (git-annex's `maxValidPointerSz`).
pub const MAX_POINTER_SIZE: usize = 32768;

/// How much of a file is read to decide whether it is a pointer file: one
/// byte more than [`MAX_POINTER_SIZE`], to see that a file is too large.
pub const POINTER_READ_LIMIT: usize = MAX_POINTER_SIZE + 1;

/// The largest symlink target git-annex reads from a file standing in for
/// a symlink (`core.symlinks=false`), in bytes; a file this large is not one.
pub const MAX_SYMLINK_SIZE: usize = 8192;

/// What the first line of a pointer or a link target must contain.
pub const OBJECTS_MARKER: &[u8] = b"/annex/objects/";

/// What every further line of a valid pointer file must contain.
pub const LINE_TAG: &[u8] = b"/annex/";

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum PointerError {
    /// The input starts like a pointer to `key` but has other data after
    /// it, or is larger than [`MAX_POINTER_SIZE`].
    #[error("pointer to key {key} has data appended or is too large")]
    AppendedData {
        /// The key of the first line.
        key: Key,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// Whether a link target or pointer line points into an annex: whether it
/// contains `/annex/objects/` (git-annex's `isLinkToAnnex`). The `.git` part
/// is not looked for, since the git dir can have another name.
pub fn is_link_to_annex(s: &[u8]) -> bool {
    contains(s, OBJECTS_MARKER)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Parses a pointer file's content or a symlink target, telling a pointer
/// with data appended (an error) from something that is no pointer at all
/// (`Ok(None)`).
pub fn parse_pointer_checked(b: &[u8]) -> Result<Option<Key>, PointerError> {
    let (first, rest) = match b.iter().position(|&c| c == b'\n') {
        Some(i) => (&b[..i], &b[i..]),
        None => (b, &b[b.len()..]),
    };
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    if !is_link_to_annex(first) {
        return Ok(None);
    }
    let base = match first.iter().rposition(|&c| c == b'/') {
        Some(i) => &first[i + 1..],
        None => first,
    };
    let Some(key) = file_key(base) else {
        return Ok(None);
    };
    if b.len() > MAX_POINTER_SIZE {
        return Err(PointerError::AppendedData { key });
    }
    let rest = rest.strip_prefix(b"\n").unwrap_or(rest);
    if rest_valid(rest) {
        Ok(Some(key))
    } else {
        Err(PointerError::AppendedData { key })
    }
}

fn rest_valid(mut r: &[u8]) -> bool {
    while !r.is_empty() {
        let Some(i) = r.iter().position(|&c| c == b'\n') else {
            return false;
        };
        if !contains(&r[..i], LINE_TAG) {
            return false;
        }
        r = &r[i + 1..];
    }
    true
}

/// The key a pointer file's content points to, if it is a valid pointer
/// (git-annex's `parseLinkTargetOrPointer`).
pub fn parse_pointer(b: &[u8]) -> Option<Key> {
    parse_pointer_checked(b).ok().flatten()
}

/// The key a symlink target points to, if it points into an annex. Any
/// number of `../` and any directory before `/annex/objects/` are accepted;
/// only `/` separates (as git-annex on Unix).
///
/// This is the same parser as [`parse_pointer`] (git-annex's
/// `parseLinkTargetOrPointer` reads both); both names are kept so that
/// calling code says which it has in hand.
pub fn parse_link_target(target: &[u8]) -> Option<Key> {
    parse_pointer(target)
}

/// The key named by a file that stands in for a symlink (what git checks
/// out with `core.symlinks=false`): its content is the link target. As
/// git-annex does, a file of [`MAX_SYMLINK_SIZE`] bytes or more, or one
/// holding NUL, newline, carriage return, space or tab, is not a link.
pub fn parse_symlink_standin(content: &[u8]) -> Option<Key> {
    if content.len() >= MAX_SYMLINK_SIZE
        || content
            .iter()
            .any(|c| matches!(c, b'\0' | b'\n' | b'\r' | b' ' | b'\t'))
    {
        return None;
    }
    parse_link_target(content)
}

/// The content of the pointer file for `key`: `/annex/objects/KEYFILE\n`.
pub fn format_pointer(key: &Key) -> Vec<u8> {
    let kf = key_file(key);
    let mut out = Vec::with_capacity(OBJECTS_MARKER.len() + kf.len() + 1);
    out.extend_from_slice(OBJECTS_MARKER);
    out.extend_from_slice(&kf);
    out.push(b'\n');
    out
}

/// The symlink target for a locked file at `file_rel_path` (relative to
/// the top of the work tree) in a repository whose git dir is `.git`:
/// `../` for each directory the file is in, then
/// `.git/annex/objects/HASHDIRMIXED/KEYFILE/KEYFILE`.
///
/// The path is normalized lexically first (`.` dropped, `dir/..` folded).
/// A leading `..` (a file above the top of the work tree) is dropped: this
/// is our convention, not git-annex's, which refuses to add such files
/// (`git annex add ../x` fails with "outside repository").
pub fn link_target(file_rel_path: &Path, key: &Key) -> PathBuf {
    link_target_in(
        Path::new(""),
        file_rel_path,
        Path::new(".git"),
        key,
        &StoreConfig::default(),
    )
}

/// The symlink target git-annex (`gitAnnexLink`) makes for a locked file
/// `file` in the work tree `work_tree` whose git dir is `git_dir`, with the
/// repository's object settings (`annex.tune.objecthashlower` makes links
/// use the lower-case hash dirs, `annex.tune.objecthash1` one level).
///
/// `file` and `git_dir` are each absolute or relative to `work_tree`. The
/// target is always relative, as git-annex makes it: both paths are made
/// absolute and simplified lexically (no symlinks resolved), and the
/// target walks from the file's directory to the git dir. So a git dir
/// outside the work tree (`GIT_DIR=/t/gd GIT_WORK_TREE=/t/wt`) gives
/// `../gd/annex/objects/...` for `/t/wt/a`. When `file` or `git_dir` is
/// absolute, `work_tree` should be absolute too (a relative one is taken
/// from the current directory). A relative `file` above the top of the
/// work tree has its leading `..` dropped, as in [`link_target`].
///
/// In a submodule, git-annex replaces the `.git` file by a symlink to the
/// git dir when it initializes the repository, and its links then go
/// through `.git`; pass `.git` as `git_dir` to get the same targets.
pub fn link_target_in(
    work_tree: &Path,
    file: &Path,
    git_dir: &Path,
    key: &Key,
    config: &StoreConfig,
) -> PathBuf {
    let layout = if config.object_hash_lower {
        HashLayout::Lower
    } else {
        HashLayout::Mixed
    };
    let kf = key_file(key);
    let kf = Path::new(OsStr::from_bytes(&kf));
    let mut object = PathBuf::from("annex/objects");
    object.push(hash_dir(key, layout, config.object_hash_one_level));
    object.push(kf);
    object.push(kf);

    let cwd;
    let work_tree = if !work_tree.is_absolute() && (file.is_absolute() || git_dir.is_absolute()) {
        cwd = std::env::current_dir()
            .map(|d| d.join(work_tree))
            .unwrap_or_else(|_| work_tree.to_path_buf());
        cwd.as_path()
    } else {
        work_tree
    };
    let mut dir = if file.is_absolute() {
        path::simplify(file)
    } else {
        let mut rel = path::simplify(file);
        // A file cannot be above the top of the work tree.
        let above = rel.iter().take_while(|c| **c == OsStr::new("..")).count();
        rel.drain(..above);
        let mut d = path::simplify(work_tree);
        d.extend(rel);
        d
    };
    dir.pop(); // the file itself
    let git = path::abs_components(work_tree, git_dir);
    let mut out = path::rel_path_dir_to_file(&dir, &git);
    out.push(object);
    out
}

/// Whether the file at `path` is a pointer file, and to which key (git-annex's
/// `isPointerFile`). Reads at most [`POINTER_READ_LIMIT`] bytes.
///
/// A symlink (never followed), a missing path or anything but a regular
/// file is `Ok(None)`. The file is opened with `O_NOFOLLOW | O_NONBLOCK`
/// and checked again after opening, so a symlink or FIFO swapped in
/// between the two looks is not followed and cannot block the call.
///
/// Other I/O errors, such as `EACCES` on an unreadable file, are `Err`.
/// git-annex treats every error as "not a pointer file"; we report them so
/// a caller does not mistake an unreadable pointer for ordinary content. A
/// caller wanting git-annex's answer can map `Err` to `None`.
pub fn is_pointer_file(path: &Path) -> Result<Option<Key>, PointerError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io_err = |source| PointerError::Io {
        path: path.to_path_buf(),
        source,
    };
    let lmeta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(e)),
    };
    if !lmeta.file_type().is_file() {
        return Ok(None);
    }
    let flags = rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK;
    let file = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        // Replaced by a symlink since the first look.
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            return Ok(None);
        }
        Err(e) => return Err(io_err(e)),
    };
    let meta = file.metadata().map_err(io_err)?;
    // Replaced by something else between the two looks.
    if meta.dev() != lmeta.dev() || meta.ino() != lmeta.ino() || !meta.is_file() {
        return Ok(None);
    }
    let mut buf = Vec::with_capacity(1024);
    file.take(POINTER_READ_LIMIT as u64)
        .read_to_end(&mut buf)
        .map_err(io_err)?;
    Ok(parse_pointer(&buf))
}

/// How an unlocked file gets its content from the object store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thin {
    /// A copy (the default).
    Copy,
    /// A hard link to the object (`annex.thin`), thawed.
    HardLink,
}

impl Thin {
    /// `annex.thin` as set (`Some(true)`: hard links).
    pub fn from_config(thin: Option<bool>) -> Thin {
        if thin == Some(true) {
            Thin::HardLink
        } else {
            Thin::Copy
        }
    }
}

/// Writes the new file `dest` as an unlocked file of `key` is in the work
/// tree: the object's content when `object` is given (a hard link, thawed
/// (owner write bit), with [`Thin::HardLink`]; else a copy), or the pointer
/// file when it is not. A copy or a pointer gets `mode`'s permission bits
/// when given (e.g. those of the file it replaces); else a copy has the
/// object's mode with the owner's write bit, and a pointer the default
/// mode. This is the one way every command fills unlocked files
/// (git-annex's `populatePointerFile` and `linkOrCopy`).
pub fn write_unlocked(
    dest: &Path,
    key: &Key,
    object: Option<&Path>,
    thin: Thin,
    mode: Option<u32>,
) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let set_mode = |file: &fs::File, m: u32| file.set_permissions(fs::Permissions::from_mode(m));
    match (object, thin) {
        (Some(obj), Thin::HardLink) => {
            fs::hard_link(obj, dest)?;
            // The mode is the object's (one inode): only thawed.
            let m = fs::metadata(dest)?.permissions().mode();
            fs::set_permissions(dest, fs::Permissions::from_mode((m & 0o7777) | 0o200))
        }
        (Some(obj), Thin::Copy) => {
            let mut input = fs::File::open(obj)?;
            let object_mode = input.metadata()?.permissions().mode();
            let mut out = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(dest)?;
            io::copy(&mut input, &mut out)?;
            set_mode(&out, mode.unwrap_or((object_mode & 0o7777) | 0o200))
        }
        (None, _) => {
            let mut out = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(dest)?;
            io::Write::write_all(&mut out, &format_pointer(key))?;
            match mode {
                Some(m) => set_mode(&out, m),
                None => Ok(()),
            }
        }
    }
}

/// Puts an unlocked file's content in place of its pointer (git-annex's
/// `populatePointerFile`): when the file at `path` is still the pointer of
/// `key` and the store has the content, the content is written beside it
/// ([`write_unlocked`]: a copy with the pointer file's mode, writable, or
/// a hard link with `annex.thin`) and renamed over it. Returns whether the
/// file now holds the content (the caller then refreshes the index); the
/// content stays safely in the object store on any error.
pub fn populate_pointer(
    path: &Path,
    key: &Key,
    store: &crate::objects::ObjectStore,
    thin: Thin,
) -> io::Result<bool> {
    if !matches!(is_pointer_file(path), Ok(Some(ref k)) if k == key) {
        return Ok(false);
    }
    let Some(object) = store.find(key) else {
        return Ok(false);
    };
    replace_keeping_mode(store, path, |tmp, mode| {
        write_unlocked(tmp, key, Some(&object), thin, Some(mode | 0o200))
    })?;
    Ok(true)
}

/// After the content of `keys` arrived in the repository whose git dir is
/// `git_dir` (a remote on this machine, the repository a P2P server
/// serves): each of its unlocked files that still holds the pointer of one
/// of the keys gets the content ([`populate_pointer`], that repository's
/// `annex.thin` honoured) and is refreshed in its index, as git-annex's
/// receiving side fills them in. git-annex finds the files in its keys
/// database; here they are the index entries whose blob is one of the
/// keys' pointer files, found in **one** streaming pass of the index for
/// the whole batch (so a command receiving many keys reads the index once
/// per batch, not once per key). Returns how many files were filled.
/// Best effort: an index that cannot be read fills nothing, and the
/// content stays safe in the object store.
pub fn populate_unlocked_of(
    git_dir: &Path,
    keys: &[Key],
    store: &crate::objects::ObjectStore,
) -> usize {
    if keys.is_empty() || store.is_bare() {
        return 0;
    }
    let Ok(repo) = gix::open(git_dir) else {
        return 0;
    };
    let Some(top) = repo.workdir().map(Path::to_path_buf) else {
        return 0;
    };
    let kind = repo.object_hash();
    let mut wanted = std::collections::HashMap::with_capacity(keys.len());
    for key in keys {
        if let Ok(id) = gix::objs::compute_hash(kind, gix::objs::Kind::Blob, &format_pointer(key)) {
            wanted.insert(id, key);
        }
    }
    let Ok(Some(mut index)) = crate::branch::index::Reader::open(&repo.index_path(), kind) else {
        return 0;
    };
    let mut found = Vec::new();
    while let Ok(Some(e)) = index.next_entry() {
        if e.stage == 0
            && matches!(e.mode, 0o100_644 | 0o100_755)
            && let Some(key) = wanted.get(&e.id)
        {
            found.push((e.path, *key));
        }
    }
    if found.is_empty() {
        return 0;
    }
    let thin = Thin::from_config(repo.config_snapshot().boolean("annex.thin"));
    let mut filled = Vec::new();
    for (p, key) in found {
        let file = top.join(OsStr::from_bytes(&p));
        if populate_pointer(&file, key, store, thin).unwrap_or(false) {
            filled.push(p);
        }
    }
    crate::hooks::restage_in(git_dir, &top, &filled);
    filled.len()
}

/// The largest file in the work tree that can be a pointer for the index
/// of [`UnlockedFiles`]: `/annex/objects/KEY\n` with a key no longer than
/// a file name can be (its object file is named after it).
const POINTER_CANDIDATE_SIZE: u32 = 15 + 255 + 1;

/// How many keys [`UnlockedFiles`] keeps for its last look before it
/// takes that look (so the list stays small, one index pass per batch).
const UNFILLED_BATCH: usize = 50_000;

/// The unlocked files of a repository that can be filled in when content
/// arrives, key by key, as git-annex's receiving side fills them in when
/// each key's content is stored (a P2P server, a remote on this machine):
/// the index is read **once** (and again only when it changed), keeping the
/// entries of regular files small enough to be pointers as git last saw
/// them, by blob; each key then costs one look-up. What this misses (an
/// index whose size of a file is stale) [`UnlockedFiles::finish`] fills in
/// with one pass of [`populate_unlocked_of`] for the keys not filled.
/// The files filled in are refreshed in the index at the end
/// ([`UnlockedFiles::finish`]), as git-annex restages them when it ends.
#[derive(Debug)]
pub struct UnlockedFiles {
    git_dir: PathBuf,
    /// The index read, and its size, modification time and inode then.
    read: Option<(u64, i64, i64, u64)>,
    by_blob: std::collections::HashMap<gix::ObjectId, Vec<Box<[u8]>>>,
    top: Option<PathBuf>,
    kind: gix::hash::Kind,
    thin: Thin,
    /// Files filled in, to refresh in the index.
    filled: Vec<Vec<u8>>,
    /// Keys received that had no file here.
    unfilled: Vec<Key>,
}

impl UnlockedFiles {
    /// For the repository whose git dir is `git_dir`; nothing is read yet.
    pub fn new(git_dir: &Path) -> UnlockedFiles {
        UnlockedFiles {
            git_dir: git_dir.to_path_buf(),
            read: None,
            by_blob: std::collections::HashMap::new(),
            top: None,
            kind: gix::hash::Kind::Sha1,
            thin: Thin::Copy,
            filled: Vec::new(),
            unfilled: Vec::new(),
        }
    }

    fn index_stamp(index: &Path) -> Option<(u64, i64, i64, u64)> {
        let m = fs::metadata(index).ok()?;
        Some((m.len(), m.mtime(), m.mtime_nsec(), m.ino()))
    }

    /// Reads the index when it is not read yet or changed since.
    fn refresh(&mut self) -> Option<()> {
        if self.top.is_none() {
            let repo = gix::open(&self.git_dir).ok()?;
            self.top = Some(repo.workdir()?.to_path_buf());
            self.kind = repo.object_hash();
            self.thin = Thin::from_config(repo.config_snapshot().boolean("annex.thin"));
        }
        let index = self.git_dir.join("index");
        let stamp = Self::index_stamp(&index);
        if self.read.is_some() && self.read == stamp {
            return Some(());
        }
        self.by_blob.clear();
        self.read = stamp;
        let Ok(Some(mut reader)) = crate::branch::index::Reader::open(&index, self.kind) else {
            return Some(());
        };
        while let Ok(Some(e)) = reader.next_entry() {
            if e.stage == 0
                && matches!(e.mode, 0o100_644 | 0o100_755)
                && e.size <= POINTER_CANDIDATE_SIZE
            {
                self.by_blob
                    .entry(e.id)
                    .or_default()
                    .push(e.path.into_boxed_slice());
            }
        }
        Some(())
    }

    /// `key`'s content just arrived in `store`: its unlocked files still
    /// holding its pointer get the content now. Returns how many did.
    pub fn fill(&mut self, key: &Key, store: &crate::objects::ObjectStore) -> usize {
        if store.is_bare() || self.refresh().is_none() {
            return 0;
        }
        let Some(top) = self.top.clone() else {
            return 0;
        };
        let Ok(id) =
            gix::objs::compute_hash(self.kind, gix::objs::Kind::Blob, &format_pointer(key))
        else {
            return 0;
        };
        let mut n = 0;
        if let Some(paths) = self.by_blob.get(&id) {
            for p in paths {
                let file = top.join(OsStr::from_bytes(p));
                if populate_pointer(&file, key, store, self.thin).unwrap_or(false) {
                    self.filled.push(p.to_vec());
                    n += 1;
                }
            }
        }
        if n == 0 {
            self.unfilled.push(key.clone());
            if self.unfilled.len() >= UNFILLED_BATCH {
                let batch = std::mem::take(&mut self.unfilled);
                populate_unlocked_of(&self.git_dir, &batch, store);
            }
        }
        n
    }

    /// Ends a batch: the keys [`UnlockedFiles::fill`] found no file for
    /// are looked for once more in one pass of the index
    /// ([`populate_unlocked_of`]), and the files filled in are refreshed
    /// in the index. Returns how many files that pass filled.
    pub fn finish(&mut self, store: &crate::objects::ObjectStore) -> usize {
        let unfilled = std::mem::take(&mut self.unfilled);
        let filled = std::mem::take(&mut self.filled);
        if let Some(top) = &self.top {
            crate::hooks::restage_in(&self.git_dir, top, &filled);
        }
        populate_unlocked_of(&self.git_dir, &unfilled, store)
    }
}

/// Replaces an unlocked file holding `key`'s content (the caller checked
/// it) by a hard link to the object (`Thin::HardLink`, `annex.thin`) or a
/// copy of it (`Thin::Copy`: a hard link broken), with the file's mode
/// kept, as `git annex fix` does; written beside it and renamed over it.
pub fn relink_unlocked(
    path: &Path,
    key: &Key,
    store: &crate::objects::ObjectStore,
    thin: Thin,
) -> io::Result<()> {
    let Some(object) = store.find(key) else {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("the content of {key} is not here"),
        ));
    };
    replace_keeping_mode(store, path, |tmp, mode| {
        write_unlocked(tmp, key, Some(&object), thin, Some(mode | 0o200))
    })
}

/// Puts an unlocked file's pointer back in place of its content (git-annex's
/// `depopulatePointerFile`) before the content is dropped: only when the
/// file at `path` is a regular file holding exactly `key`'s content (a
/// modified file is left alone). Returns whether it was replaced. The
/// pointer is written in `store`'s `othertmp` and renamed over the file.
pub fn depopulate_pointer(path: &Path, key: &Key, store: &crate::objects::ObjectStore) -> bool {
    let is_file = fs::symlink_metadata(path)
        .map(|m| m.file_type().is_file())
        .unwrap_or(false);
    if !is_file
        || is_pointer_file(path).map(|k| k.is_some()).unwrap_or(true)
        || crate::backend::verify_key(key, path).ok().flatten() != Some(true)
    {
        return false;
    }
    store.content_changed();
    replace_keeping_mode(store, path, |tmp, mode| {
        write_unlocked(tmp, key, None, Thin::Copy, Some(mode))
    })
    .is_ok()
}

/// Writes a new file with `write` (given a temp path in `store`'s
/// `othertmp` and `path`'s permission bits) and renames it over `path`
/// ([`crate::objects::ObjectStore::replace_file`]): nothing is left in the
/// work tree, whatever happens.
fn replace_keeping_mode(
    store: &crate::objects::ObjectStore,
    path: &Path,
    mut write: impl FnMut(&Path, u32) -> io::Result<()>,
) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = fs::metadata(path)?.permissions().mode() & 0o7777;
    store.replace_file(path, |tmp| write(tmp, mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An object store in a temp dir holding `hello` under its SHA256 key.
    fn store_with(content: &[u8]) -> (tempfile::TempDir, crate::objects::ObjectStore, Key) {
        assert_eq!(content, b"hello");
        let dir = tempfile::tempdir().expect("temp dir");
        let git = dir.path().join(".git");
        fs::create_dir_all(&git).expect("git dir");
        let src = dir.path().join("src");
        fs::write(&src, content).expect("write");
        let key = k("SHA256-s5--2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        let store = crate::objects::ObjectStore::new(&git, false);
        store.ingest_file(&src, &key).expect("ingest");
        (dir, store, key)
    }

    #[test]
    fn populate_keeps_the_pointer_files_mode_and_depopulate_restores_it() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, store, key) = store_with(b"hello");
        let file = dir.path().join("f");
        fs::write(&file, format_pointer(&key)).expect("pointer");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).expect("chmod");
        assert!(populate_pointer(&file, &key, &store, Thin::Copy).expect("populate"));
        assert_eq!(fs::read(&file).expect("read"), b"hello");
        assert_eq!(
            fs::metadata(&file).expect("meta").permissions().mode() & 0o777,
            0o755
        );
        // Not the pointer any more: a second populate does nothing.
        assert!(!populate_pointer(&file, &key, &store, Thin::Copy).expect("populate"));
        assert!(depopulate_pointer(&file, &key, &store));
        assert_eq!(fs::read(&file).expect("read"), format_pointer(&key));
        assert_eq!(
            fs::metadata(&file).expect("meta").permissions().mode() & 0o777,
            0o755
        );
        // No temp file is left beside it (`.git`, `src`, `f`).
        assert_eq!(fs::read_dir(dir.path()).expect("ls").count(), 3);
    }

    #[test]
    fn a_modified_unlocked_file_is_never_depopulated() {
        let (dir, store, key) = store_with(b"hello");
        let file = dir.path().join("f");
        fs::write(&file, b"hello, changed").expect("write");
        assert!(!depopulate_pointer(&file, &key, &store));
        assert_eq!(fs::read(&file).expect("read"), b"hello, changed");
    }

    #[test]
    fn thin_population_hard_links_the_object() {
        use std::os::unix::fs::MetadataExt;
        let (dir, store, key) = store_with(b"hello");
        let file = dir.path().join("f");
        fs::write(&file, format_pointer(&key)).expect("pointer");
        assert!(populate_pointer(&file, &key, &store, Thin::HardLink).expect("populate"));
        let obj = store.find(&key).expect("object");
        assert_eq!(
            fs::metadata(&file).expect("meta").ino(),
            fs::metadata(&obj).expect("meta").ino()
        );
    }

    fn k(s: &str) -> Key {
        Key::parse(s.as_bytes()).expect("test key")
    }

    // Expected keys below were obtained from git-annex 10.20261026 with
    // `git annex lookupkey --ref --batch` on blobs of these contents.
    #[test]
    fn pointer_lines() {
        let p = |b: &[u8]| parse_pointer(b);
        assert_eq!(p(b"/annex/objects/SHA1--x\n"), Some(k("SHA1--x")));
        assert_eq!(p(b"junk\n"), None);
        assert_eq!(
            p(b"/annex/objects/SHA1--y\r\n/annex/foo\n"),
            Some(k("SHA1--y"))
        );
        assert_eq!(p(b"/annex/objects/SHA1--z\n\n"), None);
        assert_eq!(p(b"/annex/objects/SHA1--z\n\n\n"), None);
        assert_eq!(p(b"/annex/objects/SHA1--w\n/annex/x"), None);
        assert_eq!(p(b"/annex/objects/SHA1--w\r\r\n"), Some(k("SHA1--w\r")));
        assert_eq!(p(b"\n/annex/objects/SHA1--w"), None);
    }

    // Link targets and the keys git-annex 10.20261026 `lookupkey` gave for
    // symlinks with these targets (None: it found no key).
    #[test]
    fn link_targets() {
        for (t, want) in [
            (
                ".git/annex/objects/xx/yy/SHA1--a&xb/SHA1--a&xb",
                Some("SHA1--axb"),
            ),
            (
                ".git/annex/objects/xx/yy/SHA1--a&&b/SHA1--a&&b",
                Some("SHA1--ab"),
            ),
            (
                ".git/annex/objects/xx/yy/SHA1--ab&/SHA1--ab&",
                Some("SHA1--ab"),
            ),
            ("foo/annex/objects/SHA1--q", Some("SHA1--q")),
            ("/annex/objects/SHA1--q5", Some("SHA1--q5")),
            ("annex/objects/SHA1--q6", None),
            ("../../x/.git/annex/objects/SHA1--q7/", None),
            ("x\\.git\\annex\\objects\\SHA1--q8", None),
            (".git/annex/objects/SHA1--q9%%x", Some("SHA1--q9//x")),
            (".git/annex/objects/SHA1--%", Some("SHA1--/")),
            ("/annex/objectsSHA1--q11", None),
            ("/annex/objects/SHA1-s01--q12", Some("SHA1-s1--q12")),
        ] {
            assert_eq!(parse_link_target(t.as_bytes()), want.map(k), "{t}");
        }
    }

    #[test]
    fn size_limit() {
        let first = b"/annex/objects/SHA1--x\n";
        let tagged = |total: usize| {
            let mut b = first.to_vec();
            b.extend_from_slice(LINE_TAG);
            b.resize(total - 1, b'a');
            b.push(b'\n');
            b
        };
        assert_eq!(parse_pointer(&tagged(MAX_POINTER_SIZE)), Some(k("SHA1--x")));
        assert!(matches!(
            parse_pointer_checked(&tagged(MAX_POINTER_SIZE + 1)),
            Err(PointerError::AppendedData { .. })
        ));
    }

    // Depths and `.`/`..` folding: the first three are what `git annex add`
    // (10.20261026) wrote for files at those depths (see also
    // tests/it/objects.rs, which compares with the reference on every run).
    // `../a.txt` is our convention for a file above the top (git-annex
    // refuses to add one), not a reference answer.
    #[test]
    fn link_target_depths() {
        let key = k("SHA256E-s10--abc.txt");
        let obj = "annex/objects/0X/vW/SHA256E-s10--abc.txt/SHA256E-s10--abc.txt";
        for (file, want) in [
            ("a.txt", format!(".git/{obj}")),
            ("d/a.txt", format!("../.git/{obj}")),
            ("d/e/f/a.txt", format!("../../../.git/{obj}")),
            ("./d/./e/../a.txt", format!("../.git/{obj}")),
            ("../a.txt", format!(".git/{obj}")),
        ] {
            assert_eq!(
                link_target(Path::new(file), &key),
                Path::new(&want),
                "{file}"
            );
        }
    }

    // Path arithmetic with other git dirs. The reference cases (git dir
    // outside the work tree, given absolutely or relatively) are checked
    // against `git annex add` in tests/it/objects.rs; these check that the
    // same answer comes whichever form the paths are given in.
    #[test]
    fn link_target_with_other_git_dirs() {
        let key = k("SHA256E-s10--abc.txt");
        let obj = "annex/objects/0X/vW/SHA256E-s10--abc.txt/SHA256E-s10--abc.txt";
        let cfg = StoreConfig::default();
        let t = |wt: &str, f: &str, g: &str| {
            link_target_in(Path::new(wt), Path::new(f), Path::new(g), &key, &cfg)
        };
        let want = |prefix: &str| PathBuf::from(format!("{prefix}{obj}"));
        assert_eq!(t("/t/wt", "a", "/t/gd2"), want("../gd2/"));
        assert_eq!(t("/t/wt", "a", "../gd2"), want("../gd2/"));
        assert_eq!(t("/t/wt", "/t/wt/d/e/c", "/t/gd2"), want("../../../gd2/"));
        assert_eq!(t("/t/wt", "d/./e/../b", "/t/wt/.git"), want("../.git/"));
        assert_eq!(t("/t/wt", "a", "/t/wt/./.git"), want(".git/"));
        assert_eq!(t("", "sub/x", "sub/.git"), want(".git/"));
        assert_eq!(t("", "x", "../.git/modules/m"), want("../.git/modules/m/"));
        assert_eq!(t("rel/wt", "d/x", "../gd"), want("../../gd/"));
    }

    #[test]
    fn standin_files() {
        assert_eq!(
            parse_symlink_standin(b"../.git/annex/objects/a/b/SHA1--x/SHA1--x"),
            Some(k("SHA1--x"))
        );
        assert_eq!(parse_symlink_standin(b"/annex/objects/SHA1--x\n"), None);
        assert_eq!(parse_symlink_standin(b"/annex/objects/SHA1--x y"), None);
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics_and_round_trips(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = parse_symlink_standin(&data);
            if let Some(k) = parse_pointer(&data)
                && !k.as_bytes().ends_with(b"\r")
            {
                proptest::prop_assert_eq!(parse_pointer(&format_pointer(&k)), Some(k));
            }
        }

        #[test]
        fn link_targets_round_trip(
            path in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
            name in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
        ) {
            let path: Vec<u8> = path.into_iter().filter(|&b| b != 0).collect();
            let name: Vec<u8> = name.into_iter().filter(|&b| b != b'\n').collect();
            let key = Key::new(b"SHA256", &name);
            let target = link_target(Path::new(OsStr::from_bytes(&path)), &key);
            let bytes = target.as_os_str().as_bytes();
            proptest::prop_assert!(is_link_to_annex(bytes));
            if !name.ends_with(b"\r") {
                proptest::prop_assert_eq!(parse_link_target(bytes), Some(key.clone()));
                proptest::prop_assert_eq!(parse_pointer(&format_pointer(&key)), Some(key));
            }
        }
    }
}
