//! [`ObjectStore`]: one repository's `annex/objects` directory, where content
//! is ingested, found, locked down and removed as git-annex does it.
//!
//! Layout: `GITDIR/annex/objects/HASHDIR/KEYFILE/KEYFILE`, with the
//! mixed-case hash dir in non-bare repositories and the lower-case one in
//! bare repositories (or when `annex.tune.objecthashlower` is set). Content is
//! looked for in both layouts, as git-annex does, since a repository can be
//! converted between bare and non-bare.
//!
//! Lockdown (git-annex's `freezeContent` / `freezeContentDir`, repository
//! version 10): the object file loses its write bits and the key's
//! directory loses its write bits too, so the file cannot be deleted by
//! accident. With `core.sharedRepository` set, modes follow the shared
//! setting instead and the directory stays group-writable.
//!
//! Content is moved into place with a rename that never replaces an
//! existing object (`renameat2(RENAME_NOREPLACE)`, or `link` + `unlink`
//! where the file system lacks it): when another process stored the key
//! first, its object is kept and ours is reported as
//! [`Ingested::AlreadyPresent`].
//!
//! Not supported: freeze/thaw hooks (`annex.freezecontent-command`),
//! crippled file systems and repository versions before 10 in shared
//! repositories ([`ObjectStore::open`] refuses them), and the content lock
//! files (`KEY.lck`), which other modules own.

use std::fs::{self, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{hash_dir, key_file};
use crate::key::Key;

/// Which of the two hash directory schemes a path uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashLayout {
    /// `hashdirmixed` (`0X/vW/`): non-bare repositories.
    Mixed,
    /// `hashdirlower` (`18c/0c3/`): bare repositories and special remotes.
    Lower,
}

/// The `core.sharedRepository` setting, as git-annex reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SharedRepository {
    /// Not shared (unset, `false`, `umask`, or anything unrecognised).
    #[default]
    UnShared,
    /// `group`, `true`, `1`.
    Group,
    /// `all`, `world`, `everybody`, `2`.
    All,
    /// An octal mode such as `0660`: the mode files get.
    Umask(u32),
}

impl SharedRepository {
    /// Parses a `core.sharedRepository` value as git-annex does: the named
    /// values case-insensitively, else the leading octal digits as a mode,
    /// else not shared. `None` (unset) is not shared.
    pub fn parse(value: Option<&[u8]>) -> SharedRepository {
        let Some(v) = value else {
            return SharedRepository::UnShared;
        };
        let lower = v.to_ascii_lowercase();
        match &lower[..] {
            b"1" | b"group" | b"true" => SharedRepository::Group,
            b"2" | b"all" | b"world" | b"everybody" => SharedRepository::All,
            _ => {
                let digits: Vec<u8> = v
                    .iter()
                    .copied()
                    .take_while(|c| (b'0'..=b'7').contains(c))
                    .collect();
                if digits.is_empty() {
                    return SharedRepository::UnShared;
                }
                // Haskell's FileMode wraps; only the permission bits matter.
                let mode = digits.iter().fold(0u32, |m, d| {
                    m.wrapping_mul(8).wrapping_add(u32::from(d - b'0'))
                });
                SharedRepository::Umask(mode)
            }
        }
    }
}

/// The settings that change where objects go and how they are locked down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreConfig {
    /// `core.sharedRepository`.
    pub shared: SharedRepository,
    /// `annex.tune.objecthashlower`: only the lower-case layout is used
    /// (ignored in bare repositories, which use it first anyway).
    pub object_hash_lower: bool,
    /// `annex.tune.objecthash1`: one level of hash directories.
    pub object_hash_one_level: bool,
}

/// Errors of the object store. Each names the path at fault.
#[derive(Debug, thiserror::Error)]
pub enum ObjectsError {
    /// An I/O operation on a path failed.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What was being done (`read`, `create directory`, ...).
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Moving content into place failed; the content is still at `from`.
    #[error("cannot move {from} to {to} (content left at {from}): {source}")]
    Rename {
        /// Where the content is.
        from: PathBuf,
        /// Where it was to go.
        to: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The content to ingest is not a regular file.
    #[error("cannot ingest {path}: not a regular file")]
    NotAFile {
        /// The path given as content.
        path: PathBuf,
    },
    /// The repository uses a setting this store does not implement.
    #[error("{path}: {setting} is not supported: {reason}")]
    Unsupported {
        /// The config file the setting is in.
        path: PathBuf,
        /// The setting and its value, e.g. `annex.crippledfilesystem=true`.
        setting: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The repository's git config could not be read.
    #[error("cannot read git config {path}: {message}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ObjectsError + 'a {
    move |source| ObjectsError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// What an ingest did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// The content was moved into place at this path and locked down.
    Stored(PathBuf),
    /// The store already had content for the key, at this path; it was kept
    /// and the new copy was not stored (as git-annex does).
    AlreadyPresent(PathBuf),
}

impl Ingested {
    /// Where the key's content is now.
    pub fn path(&self) -> &Path {
        match self {
            Ingested::Stored(p) | Ingested::AlreadyPresent(p) => p,
        }
    }
}

/// The object store of one repository.
///
/// ```no_run
/// use annex_core::{key::Key, objects::ObjectStore};
/// let store = ObjectStore::new("repo/.git", false);
/// let key = Key::parse(b"SHA256E-s10--abc.txt").unwrap();
/// assert!(store
///     .path_for(&key)
///     .ends_with("annex/objects/0X/vW/SHA256E-s10--abc.txt/SHA256E-s10--abc.txt"));
/// store.ingest_file("some/file.txt".as_ref(), &key).unwrap();
/// assert!(store.has(&key));
/// ```
#[derive(Debug, Clone)]
pub struct ObjectStore {
    git_dir: PathBuf,
    bare: bool,
    config: StoreConfig,
    /// Whether each ingest is synced to disk (file and directory).
    fsync: bool,
    /// `annex/objects`, opened (`O_PATH`) once it exists, so that
    /// presence checks walk only the path below it.
    objects_fd: std::sync::OnceLock<std::sync::Arc<rustix::fd::OwnedFd>>,
    /// Whether the branch checked out is an adjusted branch that depends
    /// on which content is here (read from `HEAD` at the first change of
    /// content; see [`crate::adjustlog`]).
    adjusted_on_content: std::sync::OnceLock<bool>,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// `annex/othertmp`, with the shared lock on `annex/othertmp.lck` held
/// while this lives (see [`ObjectStore::other_tmp`]).
#[derive(Debug)]
pub struct OtherTmp {
    dir: PathBuf,
    _lock: crate::lockfile::SharedLock,
}

impl OtherTmp {
    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A fresh temp path in the directory, `WHAT.PID.N`: short, whatever
    /// the name of the file it is for, and unique among live processes. A
    /// stale file of that name (left by a killed process that had this
    /// process id) is removed first.
    pub fn path(&self, what: &str) -> PathBuf {
        let p = self.dir.join(format!(
            "{what}.{}.{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_file(&p);
        p
    }
}

/// Removes `path` and, for a directory, everything below it, making
/// directories writable first (a frozen key directory may be there).
/// Symlinks are removed, never followed.
fn remove_tree(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.is_dir() {
        return match fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    let _ = fs::set_permissions(path, Permissions::from_mode((meta.mode() & 0o7777) | 0o700));
    for entry in fs::read_dir(path)? {
        remove_tree(&entry?.path())?;
    }
    match fs::remove_dir(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

impl ObjectStore {
    /// A store for the repository whose git dir is `git_dir` (`.git` of a
    /// non-bare repository, the repository itself when bare), with default
    /// settings.
    pub fn new(git_dir: impl Into<PathBuf>, bare: bool) -> ObjectStore {
        ObjectStore {
            git_dir: git_dir.into(),
            bare,
            config: StoreConfig::default(),
            fsync: true,
            objects_fd: std::sync::OnceLock::new(),
            adjusted_on_content: std::sync::OnceLock::new(),
        }
    }

    /// This store with or without syncing each ingested object (file and
    /// directory) to disk; on by default. Off, as git-annex does it: a
    /// caller ingesting many files can sync the file system once at the
    /// end instead.
    pub fn with_fsync(mut self, fsync: bool) -> ObjectStore {
        self.fsync = fsync;
        self
    }

    /// This store with the given settings.
    pub fn with_config(mut self, config: StoreConfig) -> ObjectStore {
        self.config = config;
        self
    }

    /// A store whose bareness and settings are read from `GITDIR/config`
    /// (`core.bare`, `core.sharedRepository`, `annex.tune.objecthashlower`,
    /// `annex.tune.objecthash1`, `annex.crippledfilesystem`,
    /// `annex.version`). Only the repository's own config file is read: not
    /// global or system config, and not files it includes (`include.path`,
    /// `includeIf`), so settings made there are not seen.
    ///
    /// Refused with [`ObjectsError::Unsupported`], naming the setting:
    /// `annex.crippledfilesystem=true` (git-annex then neither freezes nor
    /// thaws content, and uses other paths), and a shared repository
    /// (`core.sharedRepository` other than unshared) whose `annex.version`
    /// is unset, unparsable or below 10: git-annex keeps content files
    /// writable there (`versionNeedsWritableContentFiles`), which this store
    /// does not do. Unshared repositories of any version are accepted: their
    /// lockdown is the same.
    pub fn open(git_dir: impl Into<PathBuf>) -> Result<ObjectStore, ObjectsError> {
        let git_dir = git_dir.into();
        let path = git_dir.join("config");
        let file =
            gix::config::File::from_path_no_includes(path.clone(), gix::config::Source::Local)
                .map_err(|e| ObjectsError::Config {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
        let boolean = |k: &str| matches!(file.boolean(k), Ok(Some(true)));
        if boolean("annex.crippledfilesystem") {
            return Err(ObjectsError::Unsupported {
                path,
                setting: "annex.crippledfilesystem=true".into(),
                reason: "content on crippled file systems is not locked down as git-annex expects",
            });
        }
        let shared = file.string("core.sharedRepository");
        let config = StoreConfig {
            shared: SharedRepository::parse(shared.as_ref().map(|s| &s[..])),
            object_hash_lower: boolean("annex.tune.objecthashlower"),
            object_hash_one_level: boolean("annex.tune.objecthash1"),
        };
        if config.shared != SharedRepository::UnShared {
            let version = file.string("annex.version");
            let parsed = version
                .as_ref()
                .and_then(|v| std::str::from_utf8(v).ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            if parsed.is_none_or(|v| v < 10) {
                let shown = match &version {
                    Some(v) => String::from_utf8_lossy(v).into_owned(),
                    None => "(unset)".into(),
                };
                return Err(ObjectsError::Unsupported {
                    path,
                    setting: format!("annex.version={shown} with core.sharedRepository"),
                    reason: "shared repositories before version 10 keep content files writable",
                });
            }
        }
        Ok(ObjectStore {
            bare: boolean("core.bare"),
            git_dir,
            config,
            fsync: true,
            objects_fd: std::sync::OnceLock::new(),
            adjusted_on_content: std::sync::OnceLock::new(),
        })
    }

    /// The git dir.
    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    /// Whether the repository is bare.
    pub fn is_bare(&self) -> bool {
        self.bare
    }

    /// The settings in use.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// `GITDIR/annex/objects`.
    pub fn objects_dir(&self) -> PathBuf {
        self.git_dir.join("annex").join("objects")
    }

    /// `GITDIR/annex/tmp`: in-progress content.
    pub fn tmp_dir(&self) -> PathBuf {
        self.git_dir.join("annex").join("tmp")
    }

    /// `GITDIR/annex/othertmp`: temp files not named after a key (git-annex's
    /// `gitAnnexTmpOtherDir`); ingest copies are made here.
    pub fn other_tmp_dir(&self) -> PathBuf {
        self.git_dir.join("annex").join("othertmp")
    }

    /// Where an in-progress transfer of `key` keeps its content:
    /// `GITDIR/annex/tmp/KEYFILE`.
    pub fn tmp_path(&self, key: &Key) -> PathBuf {
        self.tmp_dir().join(os_path(&key_file(key)))
    }

    /// The layouts looked in, in order; new content goes to the first.
    pub fn layouts(&self) -> &'static [HashLayout] {
        if self.bare {
            &[HashLayout::Lower, HashLayout::Mixed]
        } else if self.config.object_hash_lower {
            &[HashLayout::Lower]
        } else {
            &[HashLayout::Mixed, HashLayout::Lower]
        }
    }

    /// The object file of `key` in one layout.
    pub fn path_in(&self, key: &Key, layout: HashLayout) -> PathBuf {
        let kf = key_file(key);
        let kf = os_path(&kf);
        let mut p = self.objects_dir();
        p.push(hash_dir(key, layout, self.config.object_hash_one_level));
        p.push(kf);
        p.push(kf);
        p
    }

    /// Where new content for `key` goes (no I/O).
    pub fn path_for(&self, key: &Key) -> PathBuf {
        self.path_in(key, self.layouts()[0])
    }

    /// git-annex's `gitAnnexLocation`: the object file where content of
    /// `key` exists, in any layout, or else where it would go.
    pub fn location(&self, key: &Key) -> PathBuf {
        self.find(key).unwrap_or_else(|| self.path_for(key))
    }

    /// The object file holding content of `key`, if there is one in any
    /// layout.
    pub fn find(&self, key: &Key) -> Option<PathBuf> {
        self.layouts()
            .iter()
            .find(|&&l| self.exists_in(key, l))
            .map(|&l| self.path_in(key, l))
    }

    /// Whether the store has content for `key`.
    pub fn has(&self, key: &Key) -> bool {
        self.layouts().iter().any(|&l| self.exists_in(key, l))
    }

    /// Whether the object file of `key` in `layout` exists (following
    /// symlinks, as `stat` does). Looked up relative to the objects
    /// directory, opened once, when it exists.
    fn exists_in(&self, key: &Key, layout: HashLayout) -> bool {
        let fd = match self.objects_fd.get() {
            Some(fd) => Some(fd),
            None => rustix::fs::open(
                self.objects_dir(),
                rustix::fs::OFlags::PATH
                    | rustix::fs::OFlags::DIRECTORY
                    | rustix::fs::OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .ok()
            .map(|fd| self.objects_fd.get_or_init(|| std::sync::Arc::new(fd))),
        };
        let Some(fd) = fd else {
            // No objects directory (yet): nothing is present.
            return fs::metadata(self.path_in(key, layout)).is_ok();
        };
        let kf = key_file(key);
        let mut rel = hash_dir(key, layout, self.config.object_hash_one_level).into_bytes();
        if !rel.is_empty() && !rel.ends_with(b"/") {
            rel.push(b'/');
        }
        rel.extend_from_slice(&kf);
        rel.push(b'/');
        rel.extend_from_slice(&kf);
        // `faccessat(F_OK)`: the same path walk as `stat`, without
        // filling in a stat buffer (measurably cheaper per call).
        rustix::fs::accessat(
            &**fd,
            os_path(&rel),
            rustix::fs::Access::EXISTS,
            rustix::fs::AtFlags::empty(),
        )
        .is_ok()
    }

    /// Copies `src` into the store as the content of `key`, atomically: the
    /// copy is written to a fresh temp file under `annex/othertmp` (under a
    /// shared lock on `annex/othertmp.lck`, which keeps git-annex's cleanup
    /// of that directory away meanwhile), synced, locked down and moved into
    /// place without replacing anything there. `src` is never modified. The
    /// copy keeps `src`'s permission bits minus the write bits.
    ///
    /// `src` may be a symlink to a regular file: it is only read, never
    /// written, moved or locked down, so following the link cannot change
    /// anything outside the store. Anything that is not a regular file (a
    /// directory, FIFO or device, directly or through a link) is
    /// [`ObjectsError::NotAFile`]; `src` is opened non-blocking so that a
    /// FIFO cannot hang the call.
    ///
    /// The key is trusted: nothing checks that the content matches it.
    pub fn ingest_file(&self, src: &Path, key: &Key) -> Result<Ingested, ObjectsError> {
        let input = open_nonblocking(src, false).map_err(io_err("read", src))?;
        let meta = input.metadata().map_err(io_err("read", src))?;
        if !meta.is_file() {
            return Err(ObjectsError::NotAFile {
                path: src.to_path_buf(),
            });
        }
        if let Some(p) = self.find(key) {
            return Ok(Ingested::AlreadyPresent(p));
        }
        let _lock = self.lock_other_tmp()?;
        let (tmp, tmp_file) = self.copy_to_temp(input, src, &meta)?;
        let result = self.install(&tmp, &tmp_file, key);
        if !matches!(result, Ok(Ingested::Stored(_))) {
            // Our own copy: not needed when another object is there or on error.
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Moves a finished temp file (usually [`Self::tmp_path`]) into the
    /// store as the content of `key`: synced, locked down, renamed into
    /// place without replacing anything there. When the store already has
    /// the key (before, or because another process stored it meanwhile),
    /// the temp file is removed and the existing content kept, as git-annex
    /// does. On any error the content stays at `tmp` (with its original
    /// mode). A `tmp` on another file system is copied in, then removed.
    ///
    /// `tmp` itself must be a regular file: a symlink (even to a regular
    /// file), directory or FIFO is [`ObjectsError::NotAFile`], since the
    /// temp file is locked down and moved, and doing that through a link
    /// would change or move something else.
    pub fn ingest_from_temp(&self, tmp: &Path, key: &Key) -> Result<Ingested, ObjectsError> {
        let not_a_file = || ObjectsError::NotAFile {
            path: tmp.to_path_buf(),
        };
        let lmeta = fs::symlink_metadata(tmp).map_err(io_err("read", tmp))?;
        if !lmeta.file_type().is_file() {
            return Err(not_a_file());
        }
        if let Some(p) = self.find(key) {
            // Never delete the object itself when given as the temp file;
            // another name of it (a hard link left by an add that was
            // killed after storing it) goes.
            if !same_path(tmp, &p) {
                fs::remove_file(tmp).map_err(io_err("remove", tmp))?;
            }
            return Ok(Ingested::AlreadyPresent(p));
        }
        let file = open_nonblocking(tmp, true).map_err(io_err("read", tmp))?;
        let meta = file.metadata().map_err(io_err("read", tmp))?;
        // Replaced by something else since it was looked at?
        if !meta.is_file() || meta.dev() != lmeta.dev() || meta.ino() != lmeta.ino() {
            return Err(not_a_file());
        }
        if self.fsync {
            file.sync_all().map_err(io_err("sync", tmp))?;
        }
        match self.install(tmp, &file, key) {
            Ok(Ingested::Stored(p)) => Ok(Ingested::Stored(p)),
            Ok(Ingested::AlreadyPresent(p)) => {
                // Another process stored the key meanwhile; its object stays.
                fs::remove_file(tmp).map_err(io_err("remove", tmp))?;
                Ok(Ingested::AlreadyPresent(p))
            }
            Err(ObjectsError::Rename { source, .. })
                if source.kind() == io::ErrorKind::CrossesDevices =>
            {
                let _lock = self.lock_other_tmp()?;
                let (copy, copy_file) = self.copy_to_temp(file, tmp, &meta)?;
                let result = self.install(&copy, &copy_file, key);
                if !matches!(result, Ok(Ingested::Stored(_))) {
                    let _ = fs::remove_file(&copy);
                }
                let ingested = result?;
                // The content is in the store (ours or another process's):
                // removing the original is best effort, an error here
                // would wrongly say nothing was stored.
                let _ = fs::remove_file(tmp);
                Ok(ingested)
            }
            Err(e) => Err(e),
        }
    }

    /// Removes the content of `key` from every layout it is in: thaws the
    /// key's directory, removes the file, then removes the key's directory
    /// and the hash directories when they are empty. Returns whether there
    /// was content to remove.
    pub fn remove(&self, key: &Key) -> Result<bool, ObjectsError> {
        let mut removed = false;
        for &layout in self.layouts() {
            let file = self.path_in(key, layout);
            if fs::symlink_metadata(&file).is_err() {
                continue;
            }
            let dir = parent(&file);
            self.thaw_content_dir(dir)?;
            match fs::remove_file(&file) {
                Ok(()) => removed = true,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    let _ = self.freeze_content_dir(dir);
                    return Err(ObjectsError::Io {
                        op: "remove",
                        path: file,
                        source: e,
                    });
                }
            }
            self.clean_object_dirs(&file);
        }
        Ok(removed)
    }

    /// Locks down an object file and its directory as git-annex's
    /// `freezeContent` and `freezeContentDir` do (for example after content
    /// was modified in place). `file` must be a regular file, not a
    /// symlink ([`ObjectsError::NotAFile`]).
    pub fn lock_down(&self, file: &Path) -> Result<(), ObjectsError> {
        let f = open_nonblocking(file, true).map_err(|e| {
            if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                ObjectsError::NotAFile {
                    path: file.to_path_buf(),
                }
            } else {
                io_err("lock down", file)(e)
            }
        })?;
        if !f.metadata().map_err(io_err("lock down", file))?.is_file() {
            return Err(ObjectsError::NotAFile {
                path: file.to_path_buf(),
            });
        }
        self.freeze_content(&f, file)?;
        self.freeze_content_dir(parent(file))
    }

    /// Takes the shared lock on `annex/othertmp.lck` and makes sure
    /// `annex/othertmp` exists: temp files may be made there (with
    /// [`OtherTmp::path`]) while the guard lives; [`Self::clean_other_tmp`]
    /// in another process waits for it. Every temp file we make that is not
    /// named after a key lives there, never in the work tree.
    pub fn other_tmp(&self) -> Result<OtherTmp, ObjectsError> {
        let lock = self.lock_other_tmp()?;
        let dir = self.other_tmp_dir();
        self.create_annex_dirs(&dir, &self.git_dir, &mut Vec::new())?;
        Ok(OtherTmp { dir, _lock: lock })
    }

    /// Removes what killed processes left in `annex/othertmp` (temp copies,
    /// hard links of content, half-made files), as git-annex's cleanup of
    /// that directory does: only when the exclusive lock on
    /// `annex/othertmp.lck` can be taken at once, so never while a live
    /// process (ours or git-annex's) holds its shared lock there. Returns
    /// whether it was cleaned; a missing directory needs no cleaning.
    pub fn clean_other_tmp(&self) -> Result<bool, ObjectsError> {
        let dir = self.other_tmp_dir();
        match fs::read_dir(&dir) {
            Ok(mut entries) => {
                if entries.next().is_none() {
                    return Ok(false);
                }
            }
            Err(_) => return Ok(false),
        }
        let lock = self.git_dir.join("annex").join("othertmp.lck");
        let cleaned = crate::lockfile::with_exclusive_if_free(&lock, || -> io::Result<()> {
            for entry in fs::read_dir(&dir)? {
                remove_tree(&entry?.path())?;
            }
            Ok(())
        })
        .map_err(io_err("lock", &lock))?;
        match cleaned {
            None => Ok(false),
            Some(r) => r.map(|()| true).map_err(io_err("clean", &dir)),
        }
    }

    /// Makes the file `dest` anew, atomically: `make` creates the new file
    /// (or symlink, or hard link) at a fresh temp path in `annex/othertmp`,
    /// which is then renamed over `dest`; a kill at any point leaves
    /// either the old `dest` or the new one, and nothing in the work tree
    /// (what is left in `othertmp` is cleaned by the next run). When
    /// `othertmp` is on another file system than `dest` (`EXDEV`, e.g. a
    /// work tree directory that is a mount point), the file is made again
    /// beside `dest` under a short temp name and renamed from there. The
    /// temp path is short whatever `dest`'s name is. On error no temp file
    /// is left; the error is `make`'s or the rename's.
    pub fn replace_file(
        &self,
        dest: &Path,
        mut make: impl FnMut(&Path) -> io::Result<()>,
    ) -> io::Result<()> {
        let tmp_dir = self
            .other_tmp()
            .map_err(|e| io::Error::other(e.to_string()))?;
        let tmp = tmp_dir.path("replace");
        let attempt = |tmp: &Path, make: &mut dyn FnMut(&Path) -> io::Result<()>| {
            let r = make(tmp).and_then(|()| fs::rename(tmp, dest));
            if r.is_err() {
                let _ = fs::remove_file(tmp);
            }
            r
        };
        match attempt(&tmp, &mut make) {
            Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
                let beside = parent(dest).join(format!(
                    ".annex-rs-tmp.{}.{}",
                    std::process::id(),
                    TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
                ));
                let _ = fs::remove_file(&beside);
                attempt(&beside, &mut make)
            }
            r => r,
        }
    }

    // ---- internals ----

    /// Takes a shared lock on `annex/othertmp.lck`, as git-annex does while
    /// it has files in `annex/othertmp`; its cleanup removes that directory
    /// only under an exclusive lock. Released when the file is dropped.
    fn lock_other_tmp(&self) -> Result<crate::lockfile::SharedLock, ObjectsError> {
        let annex = self.git_dir.join("annex");
        self.create_annex_dirs(&annex, &self.git_dir, &mut Vec::new())?;
        let path = annex.join("othertmp.lck");
        crate::lockfile::shared(&path).map_err(io_err("lock", &path))
    }

    /// Copies `input` (opened from `src`) to a fresh temp file in
    /// `annex/othertmp`, synced, with `src`'s permission bits. The caller
    /// holds [`Self::lock_other_tmp`].
    fn copy_to_temp(
        &self,
        mut input: File,
        src: &Path,
        meta: &fs::Metadata,
    ) -> Result<(PathBuf, File), ObjectsError> {
        let tmp_dir = self.other_tmp_dir();
        self.create_annex_dirs(&tmp_dir, &self.git_dir, &mut Vec::new())?;
        let (tmp, mut out) = loop {
            let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let candidate = tmp_dir.join(format!("ingest.{}.{n}", std::process::id()));
            match OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&candidate)
            {
                Ok(f) => break (candidate, f),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err("create temp file", &candidate)(e)),
            }
        };
        let result = (|| {
            // io::copy uses copy_file_range where it can (fast, and
            // reflinks on file systems that have them). It cannot say
            // which side failed; the message names both.
            io::copy(&mut input, &mut out).map_err(|e| ObjectsError::Io {
                op: "copy content into temp file",
                path: tmp.clone(),
                source: io::Error::new(e.kind(), format!("from {}: {e}", src.display())),
            })?;
            let mode = meta.permissions().mode() & 0o7777;
            out.set_permissions(Permissions::from_mode(mode | 0o600))
                .map_err(io_err("set mode of", &tmp))?;
            if self.fsync {
                out.sync_all().map_err(io_err("sync", &tmp))?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => Ok((tmp, out)),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Moves `tmp` (open as `tmp_file`) into place for `key`, never
    /// replacing an object already there, and locks it down.
    ///
    /// - `Stored`: the content is in place. Locking the key's directory
    ///   down afterwards is best effort: a failure there cannot undo the
    ///   storing, so it is not an error.
    /// - `AlreadyPresent`: an object was at the destination (another process
    ///   stored the key); it is kept, and `tmp` is left as it was.
    /// - `Err`: `tmp` still holds the content with its original mode, the
    ///   directories made for it are removed again when empty, and the
    ///   key's directory is locked down again.
    fn install(&self, tmp: &Path, tmp_file: &File, key: &Key) -> Result<Ingested, ObjectsError> {
        let r = self.install_inner(tmp, tmp_file, key);
        if matches!(r, Ok(Ingested::Stored(_))) {
            self.content_changed();
        }
        r
    }

    /// Content came, or an unlocked file's content was taken out of the
    /// work tree: an adjusted branch checked out that depends on it needs
    /// an update, logged as git-annex logs it ([`crate::adjustlog`]; as
    /// git-annex, removing an object alone does not log it). Best effort:
    /// failing to log it does not undo the change.
    pub(crate) fn content_changed(&self) {
        if self.bare {
            return;
        }
        let adjusted = *self
            .adjusted_on_content
            .get_or_init(|| crate::adjustlog::head_depends_on_content(&self.git_dir));
        if adjusted {
            let _ = crate::adjustlog::record_needed(&self.git_dir);
        }
    }

    fn install_inner(
        &self,
        tmp: &Path,
        tmp_file: &File,
        key: &Key,
    ) -> Result<Ingested, ObjectsError> {
        let dest = self.path_for(key);
        let dir = parent(&dest).to_path_buf();
        let mut guard = InstallGuard {
            store: self,
            dir: &dir,
            created: Vec::new(),
            thawed: false,
            tmp_file,
            tmp_mode: None,
            armed: true,
        };
        self.create_annex_dirs(&dir, &self.git_dir, &mut guard.created)?;
        // createContentDir: the key's directory may exist, frozen.
        add_mode(&dir, 0o200).map_err(io_err("make writable", &dir))?;
        guard.thawed = true;
        let old_mode = tmp_file
            .metadata()
            .map_err(io_err("read", tmp))?
            .permissions()
            .mode();
        guard.tmp_mode = Some(old_mode);
        self.freeze_content(tmp_file, tmp)?;
        match rename_noreplace(tmp, &dest) {
            Ok(()) => {
                guard.armed = false;
                drop(guard);
                let _ = self.freeze_content_dir(&dir);
                // Durability of the rename.
                if self.fsync {
                    let _ = File::open(&dir).and_then(|d| d.sync_all());
                }
                Ok(Ingested::Stored(dest))
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                drop(guard);
                Ok(Ingested::AlreadyPresent(dest))
            }
            Err(source) => {
                drop(guard);
                Err(ObjectsError::Rename {
                    from: tmp.to_path_buf(),
                    to: dest,
                    source,
                })
            }
        }
    }

    /// Creates `dir` and its missing parents below `top`, giving each new
    /// directory the shared-repository permissions git-annex gives, and
    /// appends each directory it made to `created` (parents first).
    fn create_annex_dirs(
        &self,
        dir: &Path,
        top: &Path,
        created: &mut Vec<PathBuf>,
    ) -> Result<(), ObjectsError> {
        if dir.is_dir() {
            return Ok(());
        }
        let mut missing = Vec::new();
        let mut cur = dir;
        while !cur.is_dir() && cur != top {
            missing.push(cur);
            match cur.parent() {
                Some(p) => cur = p,
                None => break,
            }
        }
        for d in missing.into_iter().rev() {
            match fs::create_dir(d) {
                Ok(()) => {
                    created.push(d.to_path_buf());
                    self.set_annex_dir_perm(d);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && d.is_dir() => {}
                Err(e) => return Err(io_err("create directory", d)(e)),
            }
        }
        Ok(())
    }

    /// git-annex's `setAnnexDirPerm`; failures are ignored as git-annex
    /// ignores them.
    fn set_annex_dir_perm(&self, dir: &Path) {
        let _ = match self.config.shared {
            SharedRepository::UnShared => Ok(()),
            SharedRepository::Group => add_mode(dir, 0o660 | 0o110),
            SharedRepository::All => add_mode(dir, 0o444 | 0o220 | 0o111),
            SharedRepository::Umask(n) => set_mode(dir, umask_shared_directory(n)),
        };
    }

    /// git-annex's `freezeContent` for repository version 10, on an open
    /// file (`path` names it in errors).
    fn freeze_content(&self, file: &File, path: &Path) -> Result<(), ObjectsError> {
        let result = match self.config.shared {
            SharedRepository::UnShared => modify_file_mode(file, |m| (m | 0o400) & !0o222),
            SharedRepository::Group => modify_file_mode(file, |m| (m | 0o440) & !0o222),
            SharedRepository::All => modify_file_mode(file, |m| (m | 0o444) & !0o222),
            SharedRepository::Umask(n) => modify_file_mode(file, |_| n & !0o222),
        };
        if self.config.shared == SharedRepository::UnShared {
            result.map_err(io_err("lock down", path))
        } else {
            // As git-annex: in a shared repository another user may own the
            // file, so a failure to change its mode is ignored.
            Ok(())
        }
    }

    /// git-annex's `freezeContentDir`.
    fn freeze_content_dir(&self, dir: &Path) -> Result<(), ObjectsError> {
        let result = match self.config.shared {
            SharedRepository::UnShared => modify_mode(dir, |m| m & !0o222),
            SharedRepository::Group | SharedRepository::All => add_mode(dir, 0o660),
            SharedRepository::Umask(n) => set_mode(dir, umask_shared_directory(n & !0o200)),
        };
        if self.config.shared == SharedRepository::UnShared {
            result.map_err(io_err("lock down", dir))
        } else {
            // As git-annex: another user may own the directory.
            Ok(())
        }
    }

    /// git-annex's `thawContentDir`. With an octal `core.sharedRepository`
    /// git-annex sets the directory to the file mode itself (no search
    /// bits); we use the directory form of that mode so removal can work.
    fn thaw_content_dir(&self, dir: &Path) -> Result<(), ObjectsError> {
        match self.config.shared {
            SharedRepository::Umask(n) => set_mode(dir, umask_shared_directory(n) | 0o200),
            _ => add_mode(dir, 0o200),
        }
        .map_err(io_err("make writable", dir))
    }

    /// git-annex's `cleanObjectDirs`: removes the key's directory and the
    /// hash directories above it while they are empty.
    fn clean_object_dirs(&self, file: &Path) {
        let levels = if self.config.object_hash_one_level {
            2
        } else {
            3
        };
        let mut cur = file;
        for _ in 0..levels {
            let Some(dir) = cur.parent() else { return };
            match fs::remove_dir(dir) {
                Ok(()) => cur = dir,
                Err(e) if e.kind() == io::ErrorKind::NotFound => cur = dir,
                Err(_) => return,
            }
        }
    }
}

/// git-annex's `umaskSharedDirectory`: the directory mode matching a file
/// mode (search bits where read bits are, setgid when the group may read or
/// write).
fn umask_shared_directory(n: u32) -> u32 {
    let mut m = n;
    if n & 0o400 != 0 {
        m |= 0o100;
    }
    if n & 0o040 != 0 {
        m |= 0o010;
    }
    if n & 0o004 != 0 {
        m |= 0o001;
    }
    if n & 0o060 != 0 {
        m |= 0o2000;
    }
    m
}

/// Undoes a failed [`ObjectStore::install`] when dropped while armed:
/// gives the temp file its mode back, removes the directories made for it
/// (when still empty) and locks the key's directory down again.
struct InstallGuard<'a> {
    store: &'a ObjectStore,
    dir: &'a Path,
    created: Vec<PathBuf>,
    thawed: bool,
    tmp_file: &'a File,
    tmp_mode: Option<u32>,
    armed: bool,
}

impl Drop for InstallGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(mode) = self.tmp_mode {
            let _ = self
                .tmp_file
                .set_permissions(Permissions::from_mode(mode & 0o7777));
        }
        for d in self.created.iter().rev() {
            // Only empty directories go; one holding another process's
            // object stays.
            let _ = fs::remove_dir(d);
        }
        if self.thawed && self.dir.is_dir() {
            let _ = self.store.freeze_content_dir(self.dir);
        }
    }
}

/// Opens `path` for reading without blocking (a FIFO opens at once), and
/// with `nofollow` without following a symlink at the last component.
fn open_nonblocking(path: &Path, nofollow: bool) -> io::Result<File> {
    let mut flags = rustix::fs::OFlags::NONBLOCK;
    if nofollow {
        flags |= rustix::fs::OFlags::NOFOLLOW;
    }
    OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits() as i32)
        .open(path)
}

/// Renames `from` to `to` unless something exists at `to`, in which case
/// the error is `AlreadyExists` and nothing changes. Uses
/// `renameat2(RENAME_NOREPLACE)`; where the file system or kernel does not
/// support it (`EINVAL`, `ENOSYS`), [`link_then_unlink`].
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        use rustix::io::Errno;
        match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(()),
            Err(e) if e == Errno::INVAL || e == Errno::NOSYS => {}
            Err(e) => return Err(e.into()),
        }
    }
    link_then_unlink(from, to)
}

/// The no-replace rename where `RENAME_NOREPLACE` is missing: `link(2)`
/// fails with `EEXIST` rather than replacing, then the old name is
/// removed. Removing it is best effort: the content is already in place
/// under the new name (a failure leaves a second, locked-down name in the
/// temp directory).
fn link_then_unlink(from: &Path, to: &Path) -> io::Result<()> {
    fs::hard_link(from, to)?;
    let _ = fs::remove_file(from);
    Ok(())
}

/// Whether `a` and `b` name the same directory entry (not merely the
/// same inode: a hard link is another name).
fn same_path(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        // Cannot tell: keep it.
        _ => same_file(a, b),
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

fn parent(p: &Path) -> &Path {
    p.parent().unwrap_or(Path::new("."))
}

fn modify_mode(path: &Path, f: impl FnOnce(u32) -> u32) -> io::Result<()> {
    let old = fs::metadata(path)?.permissions().mode() & 0o7777;
    let new = f(old) & 0o7777;
    if new != old {
        fs::set_permissions(path, Permissions::from_mode(new))?;
    }
    Ok(())
}

fn modify_file_mode(file: &File, f: impl FnOnce(u32) -> u32) -> io::Result<()> {
    let old = file.metadata()?.permissions().mode() & 0o7777;
    let new = f(old) & 0o7777;
    if new != old {
        file.set_permissions(Permissions::from_mode(new))?;
    }
    Ok(())
}

fn add_mode(path: &Path, bits: u32) -> io::Result<()> {
    modify_mode(path, |m| m | bits)
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    modify_mode(path, |_| mode)
}

fn os_path(bytes: &[u8]) -> &Path {
    use std::os::unix::ffi::OsStrExt;
    Path::new(std::ffi::OsStr::from_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_repository_values() {
        use SharedRepository::*;
        for (v, want) in [
            (None, UnShared),
            (Some(&b"group"[..]), Group),
            (Some(b"TRUE"), Group),
            (Some(b"1"), Group),
            (Some(b"2"), All),
            (Some(b"World"), All),
            (Some(b"everybody"), All),
            (Some(b"0660"), Umask(0o660)),
            (Some(b"640x"), Umask(0o640)),
            (Some(b"0"), Umask(0)),
            (Some(b"false"), UnShared),
            (Some(b"umask"), UnShared),
            (Some(b""), UnShared),
        ] {
            assert_eq!(SharedRepository::parse(v), want, "{v:?}");
        }
    }

    #[test]
    fn umask_directory_modes() {
        assert_eq!(umask_shared_directory(0o660), 0o2770);
        assert_eq!(umask_shared_directory(0o644), 0o2755);
        assert_eq!(umask_shared_directory(0o600), 0o700);
    }

    #[test]
    fn layouts_by_repository_kind() {
        let k = Key::parse(b"SHA256E-s10--abc.txt").expect("key");
        let nonbare = ObjectStore::new("/r/.git", false);
        assert_eq!(
            nonbare.path_for(&k),
            Path::new("/r/.git/annex/objects/0X/vW/SHA256E-s10--abc.txt/SHA256E-s10--abc.txt")
        );
        let bare = ObjectStore::new("/b", true);
        assert_eq!(
            bare.path_for(&k),
            Path::new("/b/annex/objects/18c/0c3/SHA256E-s10--abc.txt/SHA256E-s10--abc.txt")
        );
        let lower_one = ObjectStore::new("/r/.git", false).with_config(StoreConfig {
            object_hash_lower: true,
            object_hash_one_level: true,
            ..StoreConfig::default()
        });
        assert_eq!(lower_one.layouts(), &[HashLayout::Lower]);
        assert_eq!(
            lower_one.path_for(&k),
            Path::new("/r/.git/annex/objects/18c/SHA256E-s10--abc.txt/SHA256E-s10--abc.txt")
        );
        assert_eq!(
            nonbare.tmp_path(&Key::parse(b"URL--a:b/c").expect("key")),
            Path::new("/r/.git/annex/tmp/URL--a&cb%c")
        );
    }

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).expect("stat").permissions().mode() & 0o7777
    }

    #[test]
    fn install_never_replaces_an_existing_object() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = ObjectStore::new(dir.path(), false);
        let key = Key::parse(b"SHA1-s5--x").expect("key");
        let dest = store.path_for(&key);
        let key_dir = parent(&dest).to_path_buf();
        fs::create_dir_all(&key_dir).expect("mkdir");
        fs::write(&dest, b"first").expect("write");
        fs::set_permissions(&key_dir, Permissions::from_mode(0o555)).expect("chmod");
        let tmp = dir.path().join("t");
        fs::write(&tmp, b"other").expect("write");
        fs::set_permissions(&tmp, Permissions::from_mode(0o640)).expect("chmod");
        let f = File::open(&tmp).expect("open");
        // `find` is skipped here: this is the race where another process
        // stores the key after we looked.
        let got = store.install(&tmp, &f, &key).expect("install");
        assert_eq!(got, Ingested::AlreadyPresent(dest.clone()));
        assert_eq!(fs::read(&dest).expect("object"), b"first");
        assert_eq!(fs::read(&tmp).expect("tmp kept"), b"other");
        assert_eq!(mode(&tmp), 0o640, "tmp mode restored");
        assert_eq!(mode(&key_dir), 0o555, "key dir frozen again");
    }

    #[test]
    fn failed_install_cleans_up_and_refreezes() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = ObjectStore::new(dir.path(), false);
        let key = Key::parse(b"SHA1-s5--y").expect("key");
        let tmp = dir.path().join("t");
        fs::write(&tmp, b"12345").expect("write");
        fs::set_permissions(&tmp, Permissions::from_mode(0o644)).expect("chmod");
        let f = File::open(&tmp).expect("open");
        // The rename fails (the temp name is gone) after the directories
        // were made and the content frozen through the open file.
        fs::rename(&tmp, dir.path().join("moved")).expect("move away");
        let err = store.install(&tmp, &f, &key).expect_err("rename fails");
        assert!(matches!(err, ObjectsError::Rename { .. }), "{err}");
        assert_eq!(mode(&dir.path().join("moved")), 0o644, "mode restored");
        assert!(
            !store.objects_dir().exists(),
            "directories made for the object removed again"
        );
        // A key directory that existed (frozen) is frozen again.
        let key_dir = parent(&store.path_for(&key)).to_path_buf();
        fs::create_dir_all(&key_dir).expect("mkdir");
        fs::set_permissions(&key_dir, Permissions::from_mode(0o555)).expect("chmod");
        store.install(&tmp, &f, &key).expect_err("rename fails");
        assert!(key_dir.is_dir());
        assert_eq!(mode(&key_dir), 0o555);
    }

    #[test]
    fn link_fallback_does_not_replace() {
        let dir = tempfile::tempdir().expect("tmp");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, b"a").expect("write");
        fs::write(&b, b"b").expect("write");
        let err = link_then_unlink(&a, &b).expect_err("exists");
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&b).expect("b"), b"b");
        assert_eq!(fs::read(&a).expect("a"), b"a");
        fs::remove_file(&b).expect("rm");
        link_then_unlink(&a, &b).expect("moved");
        assert!(!a.exists());
        assert_eq!(fs::read(&b).expect("b"), b"a");
        // The primary path behaves the same.
        fs::write(&a, b"c").expect("write");
        let err = rename_noreplace(&a, &b).expect_err("exists");
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&b).expect("b"), b"a");
    }
}
