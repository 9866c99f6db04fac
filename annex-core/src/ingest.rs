//! Adding files to the annex, as `git annex add` does: locked files
//! (symlinks), small files and plain symlinks to git, and staging into the
//! git index in-process.
//!
//! One file is added in these steps (git-annex's `lockDown` and `ingest`):
//!
//! 1. the file is looked at (`lstat`); what it is decides the path taken:
//!    a symlink into an annex is fixed up, any other symlink goes to git as
//!    a symlink, a regular file goes to the annex when the large-files
//!    decision ([`LargeFilesMatcher`]) says so and to git otherwise;
//! 2. *lockdown*: its write bits are removed and it is hard linked into
//!    `.git/annex/othertmp` (so that a deletion or a rename of the work-tree
//!    file cannot take the content away), and the link's size, mtime,
//!    inode and device are recorded;
//! 3. the link is hashed into a key; its stat is taken again and compared
//!    with the first: any difference means the file changed while it was
//!    hashed, and nothing is ingested ([`IngestError::Changed`]). We also
//!    check that the work-tree path is still the same file before it is
//!    replaced (git-annex does not), so a file replaced meanwhile is never
//!    overwritten by the symlink;
//! 4. the link is moved into the object store
//!    ([`ObjectStore::ingest_from_temp`]), and the work-tree file replaced
//!    by the symlink git-annex makes ([`crate::pointer::link_target_in`]),
//!    with the original file's mtime.
//!
//! Nothing here touches the location log or prints anything: the caller
//! records the key as present ([`crate::state::State::set_present`]) and
//! stages the returned [`IndexEntry`]s at once with [`stage`], which
//! updates the index under `index.lock` (read after the lock is taken,
//! written to the lock file, renamed into place).
//!
//! The large-files decision is behind [`LargeFilesMatcher`], which the
//! expression engine ([`crate::preferred::LargeFiles`]) implements.
//!
//! Also here: unlocking and locking files ([`unlock`], [`lock`]) and the
//! clean side of the smudge/clean filter ([`Ingester::clean`]); the filter
//! protocol itself is in [`crate::filter`].

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::backend::{Backend, BackendError, KeyOptions, KeySource};
use crate::key::Key;
use crate::objects::{Ingested, ObjectStore, ObjectsError};
use crate::pointer;

mod index;
mod largefiles;

pub use index::{IndexEntry, Staged, stage};
pub use largefiles::LargeFilesMatcher;

/// Errors of adding, locking and unlocking files. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// An I/O operation on a path failed.
    #[error("cannot {op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The file changed (or vanished) while it was being added; nothing
    /// was ingested. The message is git-annex's warning.
    #[error("{} changed while it was being added", .path.display())]
    Changed {
        /// The file, from the top of the work tree.
        path: PathBuf,
    },
    /// Hashing failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The object store failed.
    #[error(transparent)]
    Objects(#[from] ObjectsError),
    /// Writing a git object failed.
    #[error("cannot write a git object for {path}: {detail}")]
    Git {
        /// The file the object is for.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// Reading, locking or writing the index failed.
    #[error("cannot update the git index {path}: {detail}")]
    Index {
        /// The index file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The file is not a regular file or symlink.
    #[error("{} is not a regular file", .path.display())]
    NotRegular {
        /// The file.
        path: PathBuf,
    },
    /// `lock` of an unlocked file whose content is not the key's, without
    /// `--force`.
    #[error("{} has been modified", .path.display())]
    Modified {
        /// The file.
        path: PathBuf,
    },
    /// The work-tree path must not be written (beyond a symbolic link,
    /// in `.git`, ...).
    #[error(transparent)]
    Path(#[from] crate::wtpath::WtPathError),
    /// A large-files expression could not be parsed.
    #[error("bad annex.largefiles expression {expr:?}: {detail}")]
    BadExpression {
        /// The expression.
        expr: String,
        /// Why.
        detail: String,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> IngestError + 'a {
    move |source| IngestError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn os(b: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(b))
}

/// Whether a path from the top is a dotfile for `annex.dotfiles`: one of
/// its components starts with `.` (git-annex's `dotfile`).
pub fn is_dotfile(path_from_top: &[u8]) -> bool {
    path_from_top
        .split(|&c| c == b'/')
        .any(|c| c.first() == Some(&b'.') && c != b"." && c != b"..")
}

/// How a file is to be added, decided before it is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Large: into the annex (git-annex's `start`).
    Annex,
    /// Small: to git as it is, with git-annex's note: `Some(true)` for a
    /// dotfile, `Some(false)` for a non-large file, `None` when forced
    /// (`--force-small`: "adding content to git repository").
    Git(Option<bool>),
}

impl Disposition {
    /// git-annex's note for a file going to git.
    pub fn note(self) -> Option<&'static str> {
        match self {
            Disposition::Git(Some(true)) => Some("dotfile; adding content to git repository"),
            Disposition::Git(Some(false)) => {
                Some("non-large file; adding content to git repository")
            }
            Disposition::Git(None) => Some("adding content to git repository"),
            Disposition::Annex => None,
        }
    }
}

/// What adding one file did.
#[derive(Debug, Clone)]
pub enum Added {
    /// Nothing to do: the path vanished, is not a file or symlink, or is
    /// already an annexed file. Nothing is shown for it.
    Nothing,
    /// The content went into the annex (or was there already) and the file
    /// is now a symlink to it.
    Annexed {
        /// The key.
        key: Key,
        /// The entry to stage.
        entry: IndexEntry,
        /// Whether this repository has the content (to log it present).
        present: bool,
        /// A warning to show (an annex link whose content is unknown here).
        warning: Option<String>,
        /// Whether git-annex shows the key in its JSON (not for a pointer
        /// file staged as it is).
        show_key: bool,
        /// Whether the content was hashed (git-annex shows progress then).
        hashed: bool,
    },
    /// The file (or symlink) went to git as it is.
    Git {
        /// The entry to stage.
        entry: IndexEntry,
        /// git-annex's note, if it shows one.
        note: Option<&'static str>,
    },
}

/// A hook called after a file is locked down and before it is hashed, with
/// the work-tree path: for tests that change a file while it is added.
pub type HashHook = Arc<dyn Fn(&Path) + Send + Sync>;

/// Adds files of one work tree. Shareable between threads; each thread
/// passes its own [`gix::Repository`] (for writing blobs).
#[derive(Clone)]
pub struct Ingester {
    top: PathBuf,
    store: ObjectStore,
    backend: Backend,
    key_options: KeyOptions,
    hook: Option<HashHook>,
    /// `annex.addunlocked`: which large files are added unlocked.
    unlocked: Option<Arc<dyn LargeFilesMatcher>>,
}

impl std::fmt::Debug for Ingester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingester")
            .field("top", &self.top)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Ingester {
    /// An ingester for the work tree at `top` (absolute), whose content
    /// goes to `store`, making keys with `backend`.
    pub fn new(top: impl Into<PathBuf>, store: ObjectStore, backend: Backend) -> Ingester {
        Ingester {
            top: top.into(),
            store,
            backend,
            key_options: KeyOptions::default(),
            hook: None,
            unlocked: None,
        }
    }

    /// This ingester making keys with another backend.
    pub fn with_backend(&self, backend: Backend) -> Ingester {
        let mut i = self.clone();
        i.backend = backend;
        i
    }

    /// With these key options (`annex.maxextensionlength`, ...).
    pub fn with_key_options(mut self, opts: KeyOptions) -> Ingester {
        self.key_options = opts;
        self
    }

    /// Adds the large files `matcher` matches unlocked (`annex.addunlocked`):
    /// the content stays in the work tree, a copy goes to the store, and
    /// the pointer file is staged.
    pub fn with_add_unlocked(mut self, matcher: Arc<dyn LargeFilesMatcher>) -> Ingester {
        self.unlocked = Some(matcher);
        self
    }

    /// With a hook called between lockdown and hashing (tests).
    pub fn with_hash_hook(mut self, hook: HashHook) -> Ingester {
        self.hook = Some(hook);
        self
    }

    /// Takes the shared lock on `annex/othertmp.lck` that keeps
    /// git-annex's cleanup of `othertmp` away while files are locked down
    /// there; hold it while adding.
    pub fn lock_tmp(&self) -> Result<crate::lockfile::SharedLock, IngestError> {
        let annex = self.store.git_dir().join("annex");
        crate::journal::ensure_dir(&annex).map_err(io_err("create directory", &annex))?;
        let path = annex.join("othertmp.lck");
        crate::lockfile::shared(&path).map_err(io_err("lock", &path))
    }

    /// The work tree.
    pub fn top(&self) -> &Path {
        &self.top
    }

    /// The object store.
    pub fn store(&self) -> &ObjectStore {
        &self.store
    }

    /// Adds the file at `path` (from the top of the work tree), as `git
    /// annex add` does for a file not in git or modified. `how` is the
    /// decision made from its name and size by the caller (see
    /// [`Ingester::disposition`]); symlinks are handled here whatever it
    /// says. `repo` writes the blobs.
    pub fn add(
        &self,
        repo: &gix::Repository,
        path: &[u8],
        how: Disposition,
    ) -> Result<Added, IngestError> {
        let full = self.top.join(os(path));
        let meta = match fs::symlink_metadata(&full) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Added::Nothing),
            Err(e) => return Err(io_err("stat", &full)(e)),
        };
        self.add_stated(repo, path, how, meta)
    }

    /// [`Ingester::add`] of a file whose `lstat` the caller has just taken
    /// (`meta`, e.g. to decide `how` from its size), so it is not taken
    /// again. A file that changes after that stat is refused as changed,
    /// as one that changes while it is hashed is.
    pub fn add_stated(
        &self,
        repo: &gix::Repository,
        path: &[u8],
        how: Disposition,
        meta: fs::Metadata,
    ) -> Result<Added, IngestError> {
        crate::wtpath::check(&self.top, path)?;
        let full = self.top.join(os(path));
        let ft = meta.file_type();
        if how != Disposition::Annex {
            if !ft.is_symlink() && !ft.is_file() {
                return Err(IngestError::NotRegular {
                    path: os(path).into(),
                });
            }
            let entry = self.git_entry(repo, path, &full, &meta)?;
            return Ok(Added::Git {
                entry,
                note: how.note(),
            });
        }
        if ft.is_symlink() {
            let target = fs::read_link(&full).map_err(io_err("read link", &full))?;
            if let Some(key) = pointer::parse_link_target(target.as_os_str().as_bytes()) {
                return self.fix_link(repo, path, &full, key);
            }
            let entry = self.git_entry(repo, path, &full, &meta)?;
            return Ok(Added::Git { entry, note: None });
        }
        if !ft.is_file() {
            return Ok(Added::Nothing);
        }
        let small = meta.len() <= pointer::MAX_POINTER_SIZE as u64;
        if small && let Some(key) = pointer::is_pointer_file(&full).ok().flatten() {
            // A pointer file not in git: staged as it is (git-annex's
            // `fixuppointer`).
            let present = self.store.has(&key);
            let entry = self.git_entry(repo, path, &full, &meta)?;
            return Ok(Added::Annexed {
                warning: unknown_content_warning(path, &key, present, false),
                key,
                entry,
                present: false,
                show_key: false,
                hashed: false,
            });
        }
        let unlocked = self
            .unlocked
            .as_ref()
            .is_some_and(|m| m.is_large(path, meta.len()));
        let (key, entry) = if unlocked {
            self.add_unlocked(repo, path, &full, &meta)?
        } else {
            self.add_locked(repo, path, &full, meta)?
        };
        Ok(Added::Annexed {
            key,
            entry,
            present: true,
            warning: None,
            show_key: true,
            hashed: true,
        })
    }

    /// git-annex's decision for a file before it is added: dotfiles go to
    /// git unless `dotfiles` (annex.dotfiles) is set; otherwise the file is
    /// large when `force` is set or `matcher` says so. `size` is the file's
    /// size (unused by most expressions).
    pub fn disposition(
        path: &[u8],
        size: u64,
        dotfiles: bool,
        force: bool,
        matcher: &dyn LargeFilesMatcher,
    ) -> Disposition {
        let dot = !dotfiles && is_dotfile(path);
        if !dot && (force || matcher.is_large(path, size)) {
            Disposition::Annex
        } else {
            Disposition::Git(Some(dot))
        }
    }

    /// A symlink into an annex not yet in git: made again with the target
    /// this repository would give it, and staged.
    fn fix_link(
        &self,
        repo: &gix::Repository,
        path: &[u8],
        full: &Path,
        key: Key,
    ) -> Result<Added, IngestError> {
        let present = self.store.has(&key);
        let target = self.link_target(path, &key);
        self.replace_with_symlink(full, &target, None)?;
        let entry = self.symlink_entry(repo, path, full, &target)?;
        Ok(Added::Annexed {
            warning: unknown_content_warning(path, &key, present, true),
            key,
            entry,
            present,
            show_key: true,
            hashed: false,
        })
    }

    /// The symlink target of the locked file `path` (from the top).
    pub fn link_target(&self, path: &[u8], key: &Key) -> PathBuf {
        pointer::link_target_in(
            &self.top,
            os(path),
            self.store.git_dir(),
            key,
            self.store.config(),
        )
    }

    /// Locks down, hashes and ingests a regular file, and replaces it by
    /// its symlink. Returns the key and the entry to stage.
    /// `before` is the file's stat, just taken.
    fn add_locked(
        &self,
        repo: &gix::Repository,
        path: &[u8],
        full: &Path,
        before: fs::Metadata,
    ) -> Result<(Key, IndexEntry), IngestError> {
        let locked = self.lock_down(path, full, before)?;
        let result = self.hash_locked_down(path, full, &locked);
        let key = match result {
            Ok(k) => k,
            Err(e) => {
                locked.abandon(full);
                return Err(e);
            }
        };
        match self.store.ingest_from_temp(&locked.tmp, &key) {
            Ok(Ingested::Stored(_) | Ingested::AlreadyPresent(_)) => {}
            Err(e) => {
                locked.abandon(full);
                return Err(e.into());
            }
        }
        // The work-tree file is still the same inode as the stored object
        // (or, when the key was present already, the file we locked down).
        let target = self.link_target(path, &key);
        self.replace_with_symlink(full, &target, Some(&locked.before))?;
        let entry = self.symlink_entry(repo, path, full, &target)?;
        Ok((key, entry))
    }

    /// Adds a regular file unlocked: a private copy is made in `othertmp`
    /// (the file must not change meanwhile), hashed and moved into the
    /// store; the pointer file is staged with the work-tree file's stat.
    fn add_unlocked(
        &self,
        repo: &gix::Repository,
        path: &[u8],
        full: &Path,
        before: &fs::Metadata,
    ) -> Result<(Key, IndexEntry), IngestError> {
        let changed = || IngestError::Changed {
            path: os(path).into(),
        };
        let tmp_dir = self.store.other_tmp()?;
        let tmp = tmp_dir.path("ingest-unlocked");
        if let Some(h) = &self.hook {
            h(full);
        }
        let result = (|| {
            fs::copy(full, &tmp).map_err(|e| copy_failed(e, path, full, &tmp))?;
            let after = fs::symlink_metadata(full).map_err(|_| changed())?;
            if !same_stat(before, &after) {
                return Err(changed());
            }
            let source = KeySource {
                content: &tmp,
                name: os(path),
            };
            let key = self.backend.key_for_file(&source, &self.key_options)?;
            self.store.ingest_from_temp(&tmp, &key)?;
            Ok(key)
        })();
        let key = match result {
            Ok(k) => k,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        let id = write_blob(repo, path, &pointer::format_pointer(&key))?;
        // git-annex (10.20261026) stages the pointer of a file added
        // unlocked as 100644 even when the file is executable (git then
        // shows the mode as modified); we stage what it stages.
        let mode = gix::index::entry::Mode::FILE;
        let entry = IndexEntry::for_file(path, full, mode, id)?;
        if !same_stat(before, &entry.metadata) {
            return Err(changed());
        }
        Ok((key, entry))
    }

    /// Freezes the file and hard-links it into `othertmp`. `before` is its
    /// stat, taken just before by the caller (not again here): a file that
    /// changed since is refused by the comparison with the link's stat.
    fn lock_down(
        &self,
        path: &[u8],
        full: &Path,
        before: fs::Metadata,
    ) -> Result<LockedDown, IngestError> {
        let old_mode = before.permissions().mode();
        // freezeContent: no write bits.
        let frozen = old_mode & !0o222;
        if frozen != old_mode {
            fs::set_permissions(full, fs::Permissions::from_mode(frozen))
                .map_err(|e| changed_or_io(e, path, "change the mode of", full))?;
        }
        // The link's name is short whatever the file's (a name of 255
        // bytes must not make it too long), and it lives in othertmp under
        // its shared lock: a killed add leaves it there, and the next run
        // cleans it.
        let tmp_dir = match self.store.other_tmp() {
            Ok(t) => t,
            Err(e) => {
                restore_mode(full, &before, old_mode);
                return Err(e.into());
            }
        };
        let tmp = tmp_dir.path("ingest");
        if let Err(e) = fs::hard_link(full, &tmp) {
            restore_mode(full, &before, old_mode);
            return Err(changed_or_io(e, path, "make the hard link", &tmp));
        }
        let linked = match fs::symlink_metadata(&tmp) {
            Ok(m) => m,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                restore_mode(full, &before, old_mode);
                return Err(io_err("stat", &tmp)(e));
            }
        };
        let locked = LockedDown {
            tmp,
            before,
            old_mode,
            _tmp_dir: tmp_dir,
        };
        if !same_stat(&locked.before, &linked) {
            locked.abandon(full);
            return Err(IngestError::Changed {
                path: os(path).into(),
            });
        }
        Ok(locked)
    }

    fn hash_locked_down(
        &self,
        path: &[u8],
        full: &Path,
        locked: &LockedDown,
    ) -> Result<Key, IngestError> {
        if let Some(h) = &self.hook {
            h(full);
        }
        let source = KeySource {
            content: &locked.tmp,
            name: os(path),
        };
        let key = match self.backend.key_for_file(&source, &self.key_options) {
            Ok(k) => k,
            Err(BackendError::Changed { .. }) => {
                return Err(IngestError::Changed {
                    path: os(path).into(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        let after = fs::symlink_metadata(&locked.tmp).map_err(|_| IngestError::Changed {
            path: os(path).into(),
        })?;
        let now = fs::symlink_metadata(full).map_err(|_| IngestError::Changed {
            path: os(path).into(),
        })?;
        if !same_stat(&locked.before, &after) || !same_stat(&locked.before, &now) {
            return Err(IngestError::Changed {
                path: os(path).into(),
            });
        }
        Ok(key)
    }

    /// Replaces the work-tree file by a symlink to `target`: the link is
    /// made under a temp name in `othertmp` and renamed over the file
    /// ([`ObjectStore::replace_file`]), so a kill leaves nothing in the work
    /// tree. With `expect`, the file must still be the one stat'ed then;
    /// the symlink gets its mtime, as git-annex touches it.
    fn replace_with_symlink(
        &self,
        full: &Path,
        target: &Path,
        expect: Option<&fs::Metadata>,
    ) -> Result<(), IngestError> {
        let mut changed = false;
        let r = self.store.replace_file(full, |tmp| {
            std::os::unix::fs::symlink(target, tmp)?;
            if let Some(m) = expect {
                let set = rustix::fs::Timestamps {
                    last_access: rustix::fs::Timespec {
                        tv_sec: m.atime(),
                        tv_nsec: m.atime_nsec() as _,
                    },
                    last_modification: rustix::fs::Timespec {
                        tv_sec: m.mtime(),
                        tv_nsec: m.mtime_nsec() as _,
                    },
                };
                // Best effort, as git-annex's touch.
                let _ = rustix::fs::utimensat(
                    rustix::fs::CWD,
                    tmp,
                    &set,
                    rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
                );
                let still = fs::symlink_metadata(full).map(|now| same_stat(m, &now));
                if !matches!(still, Ok(true)) {
                    changed = true;
                    return Err(io::Error::other("changed"));
                }
            }
            Ok(())
        });
        match r {
            Ok(()) => Ok(()),
            Err(_) if changed => Err(IngestError::Changed {
                path: full.strip_prefix(&self.top).unwrap_or(full).into(),
            }),
            Err(e) => Err(io_err("replace", full)(e)),
        }
    }

    fn symlink_entry(
        &self,
        repo: &gix::Repository,
        path: &[u8],
        full: &Path,
        target: &Path,
    ) -> Result<IndexEntry, IngestError> {
        let id = write_blob(repo, path, target.as_os_str().as_bytes())?;
        IndexEntry::for_file(path, full, gix::index::entry::Mode::SYMLINK, id)
    }

    /// The entry of a file or symlink going to git as it is, with the
    /// check git-annex makes that it did not change while it was read.
    fn git_entry(
        &self,
        repo: &gix::Repository,
        path: &[u8],
        full: &Path,
        meta: &fs::Metadata,
    ) -> Result<IndexEntry, IngestError> {
        let (data, mode) = if meta.file_type().is_symlink() {
            let t = fs::read_link(full).map_err(|e| changed_or(e, path, full))?;
            (
                t.into_os_string().into_vec_bytes(),
                gix::index::entry::Mode::SYMLINK,
            )
        } else {
            let data = fs::read(full).map_err(|e| changed_or(e, path, full))?;
            let mode = if meta.permissions().mode() & 0o100 != 0 {
                gix::index::entry::Mode::FILE_EXECUTABLE
            } else {
                gix::index::entry::Mode::FILE
            };
            (data, mode)
        };
        let id = write_blob(repo, path, &data)?;
        let entry = IndexEntry::for_file(path, full, mode, id)?;
        if !same_stat(meta, &entry.metadata) {
            return Err(IngestError::Changed {
                path: os(path).into(),
            });
        }
        Ok(entry)
    }

    /// The clean filter: the key for the content of an unlocked file
    /// (`content`, the file at `path` from the top), ingesting a copy of it
    /// into the store. `None` when the content is already a pointer (it
    /// goes to git unchanged) or the file is not large.
    pub fn clean(&self, path: &[u8], content: &Path) -> Result<Key, IngestError> {
        let source = KeySource {
            content,
            name: os(path),
        };
        let key = match self.backend.key_for_file(&source, &self.key_options) {
            Ok(k) => k,
            Err(BackendError::Changed { .. }) => {
                return Err(IngestError::Changed {
                    path: os(path).into(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        self.store.ingest_file(content, &key)?;
        Ok(key)
    }

    /// Keys the content of `reader` (as the clean filter receives it from
    /// git), writing it to a temp file and ingesting that.
    pub fn clean_stream(&self, path: &[u8], mut reader: impl Read) -> Result<Key, IngestError> {
        let tmp_dir = self.store.other_tmp()?;
        let tmp = tmp_dir.path("clean");
        let result = (|| {
            let mut out = fs::File::create(&tmp).map_err(io_err("create", &tmp))?;
            io::copy(&mut reader, &mut out).map_err(io_err("write", &tmp))?;
            drop(out);
            let source = KeySource {
                content: &tmp,
                name: os(path),
            };
            let key = self.backend.key_for_file(&source, &self.key_options)?;
            self.store.ingest_from_temp(&tmp, &key)?;
            Ok(key)
        })();
        let _ = fs::remove_file(&tmp);
        result
    }
}

/// What lockdown left: the hard link in `othertmp` and the file's stat.
struct LockedDown {
    tmp: PathBuf,
    before: fs::Metadata,
    old_mode: u32,
    /// Keeps othertmp's cleanup by other processes away.
    _tmp_dir: crate::objects::OtherTmp,
}

impl LockedDown {
    /// Gives up: the hard link goes, the file gets its mode back (when it
    /// is still the same file).
    fn abandon(&self, full: &Path) {
        let _ = fs::remove_file(&self.tmp);
        restore_mode(full, &self.before, self.old_mode);
    }
}

fn restore_mode(full: &Path, before: &fs::Metadata, mode: u32) {
    if let Ok(now) = fs::symlink_metadata(full)
        && now.ino() == before.ino()
        && now.dev() == before.dev()
        && now.file_type().is_file()
    {
        let _ = fs::set_permissions(full, fs::Permissions::from_mode(mode));
    }
}

/// git-annex's `InodeCache` comparison: inode, device, size, mtime (and
/// the file type).
fn same_stat(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.ino() == b.ino()
        && a.dev() == b.dev()
        && a.len() == b.len()
        && a.mtime() == b.mtime()
        && a.mtime_nsec() == b.mtime_nsec()
        && a.file_type() == b.file_type()
}

/// A copy of the work-tree file `full` to `to` failed: the file is gone
/// ([`IngestError::Changed`]), or the copy could not be written (a full
/// disk, a read-only file system, a quota: the error names `to`, the
/// file written), or else the file could not be read.
fn copy_failed(e: io::Error, path: &[u8], full: &Path, to: &Path) -> IngestError {
    let write_side = matches!(
        e.raw_os_error().map(rustix::io::Errno::from_raw_os_error),
        Some(
            rustix::io::Errno::NOSPC
                | rustix::io::Errno::DQUOT
                | rustix::io::Errno::ROFS
                | rustix::io::Errno::FBIG
        )
    );
    if write_side {
        io_err("write", to)(e)
    } else {
        changed_or(e, path, full)
    }
}

/// [`changed_or`] for an operation other than reading `target`.
fn changed_or_io(e: io::Error, path: &[u8], op: &'static str, target: &Path) -> IngestError {
    if e.kind() == io::ErrorKind::NotFound {
        IngestError::Changed {
            path: os(path).into(),
        }
    } else {
        io_err(op, target)(e)
    }
}

fn changed_or(e: io::Error, path: &[u8], full: &Path) -> IngestError {
    if e.kind() == io::ErrorKind::NotFound {
        IngestError::Changed {
            path: os(path).into(),
        }
    } else {
        io_err("read", full)(e)
    }
}

fn unknown_content_warning(path: &[u8], _key: &Key, present: bool, link: bool) -> Option<String> {
    // git-annex warns when the key is neither known (in the location log)
    // nor present; the caller, which has the log, decides whether to show
    // it (see `Added::Annexed::warning`).
    if present {
        return None;
    }
    let p = String::from_utf8_lossy(path);
    Some(format!(
        "{p} is a git-annex {}. Its content is not available in this repository. (Maybe {p} was copied from another repository?)",
        if link { "symlink" } else { "pointer file" }
    ))
}

/// Writes `data` as a blob.
pub fn write_blob(
    repo: &gix::Repository,
    path: &[u8],
    data: &[u8],
) -> Result<gix::ObjectId, IngestError> {
    repo.write_blob(data)
        .map(|id| id.detach())
        .map_err(|e| IngestError::Git {
            path: os(path).into(),
            detail: e.to_string(),
        })
}

trait IntoVecBytes {
    fn into_vec_bytes(self) -> Vec<u8>;
}

impl IntoVecBytes for std::ffi::OsString {
    fn into_vec_bytes(self) -> Vec<u8> {
        use std::os::unix::ffi::OsStringExt;
        self.into_vec()
    }
}

// ---------------------------------------------------------------------
// Unlocking and locking.

pub use crate::pointer::Thin;

/// Unlocks the locked file `path` (from the top) whose key is `key`: the
/// symlink is replaced by the content (a copy, or a hard link with
/// `annex.thin`) when present, by the pointer file otherwise. Returns the
/// entry to stage (the pointer file, mode 100644).
pub fn unlock(
    repo: &gix::Repository,
    top: &Path,
    store: &ObjectStore,
    path: &[u8],
    key: &Key,
    thin: Thin,
) -> Result<IndexEntry, IngestError> {
    crate::wtpath::check(top, path)?;
    let full = top.join(os(path));
    let pointer_bytes = pointer::format_pointer(key);
    let id = write_blob(repo, path, &pointer_bytes)?;
    let meta = fs::symlink_metadata(&full).map_err(io_err("stat", &full))?;
    if meta.file_type().is_file() {
        // Unlocked already (an unlock killed before it staged the file):
        // the file is left as it is and its pointer staged. Its stat goes
        // into the index only when it holds the key's content (or is the
        // pointer), so that a file changed since shows as modified.
        let clean = matches!(pointer::is_pointer_file(&full), Ok(Some(ref k)) if k == key)
            || matches!(crate::backend::verify_key(key, &full), Ok(Some(true)));
        let mut entry = IndexEntry::for_file(path, &full, unlocked_mode(&meta), id)?;
        if !clean {
            entry.stat = gix::index::entry::Stat::default();
        }
        return Ok(entry);
    }
    let object = store.find(key);
    store
        .replace_file(&full, |tmp| {
            pointer::write_unlocked(tmp, key, object.as_deref(), thin, None)
        })
        .map_err(io_err("replace", &full))?;
    let mode = match fs::symlink_metadata(&full) {
        Ok(m) => unlocked_mode(&m),
        Err(_) => gix::index::entry::Mode::FILE,
    };
    IndexEntry::for_file(path, &full, mode, id)
}

fn unlocked_mode(meta: &fs::Metadata) -> gix::index::entry::Mode {
    if meta.permissions().mode() & 0o100 != 0 {
        gix::index::entry::Mode::FILE_EXECUTABLE
    } else {
        gix::index::entry::Mode::FILE
    }
}

/// What `lock` found.
#[derive(Debug, Clone)]
pub enum Locked {
    /// The file is a symlink again; stage this entry.
    Done(IndexEntry),
}

/// Locks the unlocked file `path` (from the top) whose staged key is
/// `key`, as `git annex lock` does: when the file's content is the key's
/// (checked by hashing; or the file is the pointer), it is replaced by the
/// symlink, and content not yet in the store is moved there first. A file
/// with other content is refused ([`IngestError::Modified`]) unless
/// `force`, which locks it anyway (its content is then lost unless the
/// store has the key's).
pub fn lock(
    repo: &gix::Repository,
    ingester: &Ingester,
    path: &[u8],
    key: &Key,
    force: bool,
) -> Result<Locked, IngestError> {
    let top = ingester.top();
    let store = ingester.store();
    crate::wtpath::check(top, path)?;
    let full = top.join(os(path));
    let meta = fs::symlink_metadata(&full).map_err(io_err("stat", &full))?;
    if meta.file_type().is_symlink() {
        // Locked already (a lock killed before it staged the file): the
        // symlink is staged, made again first when it is not the one this
        // repository would make.
        let target = ingester.link_target(path, key);
        let now = fs::read_link(&full).map_err(io_err("read link", &full))?;
        if pointer::parse_link_target(now.as_os_str().as_bytes()).as_ref() != Some(key) {
            return Err(IngestError::Modified {
                path: os(path).into(),
            });
        }
        if now != target {
            ingester.replace_with_symlink(&full, &target, None)?;
        }
        let entry = ingester.symlink_entry(repo, path, &full, &target)?;
        return Ok(Locked::Done(entry));
    }
    if !meta.file_type().is_file() {
        return Err(IngestError::NotRegular {
            path: os(path).into(),
        });
    }
    let is_pointer = matches!(pointer::is_pointer_file(&full), Ok(Some(ref k)) if k == key);
    if !is_pointer {
        let matches = match Backend::for_key(key) {
            Some(b) => b.verify(key, &full).unwrap_or(false),
            None => false,
        };
        if !matches && !force {
            return Err(IngestError::Modified {
                path: os(path).into(),
            });
        }
        if matches && !store.has(key) {
            // The content lives only here: into the store it goes, with a
            // copy so the file stays whole until the symlink replaces it.
            store.ingest_file(&full, key)?;
        }
    }
    let target = ingester.link_target(path, key);
    ingester.replace_with_symlink(&full, &target, None)?;
    let entry = ingester.symlink_entry(repo, path, &full, &target)?;
    Ok(Locked::Done(entry))
}

/// Makes the locked file `path` (from the top) for `key`, as `git annex
/// fromkey` does: a symlink, whether or not the content is present.
/// Refuses to replace an existing file unless `force`.
pub fn make_link(
    repo: &gix::Repository,
    ingester: &Ingester,
    path: &[u8],
    key: &Key,
    force: bool,
) -> Result<IndexEntry, IngestError> {
    crate::wtpath::check(ingester.top(), path)?;
    let full = ingester.top().join(os(path));
    if !force && fs::symlink_metadata(&full).is_ok() {
        return Err(IngestError::Io {
            op: "create",
            path: full,
            source: io::Error::from(io::ErrorKind::AlreadyExists),
        });
    }
    if let Some(dir) = full.parent() {
        fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
    }
    let target = ingester.link_target(path, key);
    ingester.replace_with_symlink(&full, &target, None)?;
    ingester.symlink_entry(repo, path, &full, &target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotfiles() {
        assert!(is_dotfile(b".a"));
        assert!(is_dotfile(b"d/.e/f"));
        assert!(!is_dotfile(b"d/e.f"));
        assert!(!is_dotfile(b"a"));
    }
}
