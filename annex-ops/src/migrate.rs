//! `migrate`: files moved to another backend (`--backend`, else
//! `annex.backend`, else SHA256E): the content here checked against its
//! old key (when that backend has a checksum), its new key computed, the
//! metadata and URLs of the old key given to the new one, and the file
//! rekeyed ([`crate::rekey`]). Files whose content is not here are left
//! alone, as git-annex leaves them.
//!
//! Each migration is recorded for other repositories as git-annex records
//! it ([`Recorder`], [`commit_records`]): the blob each file had staged
//! and the one it has now, appended to `.git/annex/migrate.log`, then, at
//! the end, a tree `old/N`, `new/N` of those blobs grafted into the
//! `git-annex` branch at `migrate.tree` (a `graft` commit, then a `graft
//! cleanup` one) and listed in `.git/annex/migrations.log`, so that
//! `git annex migrate --update` elsewhere moves its content to the new
//! keys.
//!
//! ```no_run
//! use annex_core::backend::Backend;
//! use annex_ops::session::{OpenOptions, Session};
//! let (session, _) = Session::open(&OpenOptions::new(".".as_ref()))?;
//! let wt = session.worktree()?;
//! let (key, locked) = wt.lookup_key(b"a")?.ok_or("not annexed")?;
//! let file = annex_core::worktree::AnnexedFile { path: b"a".to_vec(), key, locked };
//! if annex_ops::migrate::wanted(&session, &file, Backend::Sha256E, false) {
//!     let new = annex_ops::migrate::migrate(&session, &file, Backend::Sha256E)?;
//!     println!("{new}");
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;

use annex_core::backend::{Backend, KeyOptions, KeySource};
use annex_core::key::Key;
use annex_core::logs::metadata::MetaData;
use annex_core::worktree::AnnexedFile;

use crate::rekey::RekeyError;
use crate::session::Session;

/// What can go wrong migrating.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The content here is not its old key's.
    #[error("content does not match its key; not migrating")]
    BadContent,
    /// The content could not be read or hashed.
    #[error(transparent)]
    Backend(#[from] annex_core::backend::BackendError),
    /// The logs could not be read or written.
    #[error(transparent)]
    Branch(#[from] annex_core::branch::BranchError),
    /// Rekeying failed.
    #[error(transparent)]
    Rekey(#[from] RekeyError),
    /// The migration could not be recorded for other repositories.
    #[error("{0}")]
    Record(String),
}

/// The backend files migrate to: `--backend`, else `annex.backend`, else
/// SHA256E. `None` for a name no backend has.
pub fn target_backend(session: &Session, option: Option<&str>) -> Option<Backend> {
    let name = option.map(str::to_owned).or_else(|| {
        session
            .config
            .get_str("annex.backend")
            .filter(|v| !v.is_empty())
    });
    match name {
        Some(n) => Backend::from_name(&n),
        None => Some(Backend::Sha256E),
    }
}

/// Whether the file is migrated: its content is here, and its backend is
/// not the target one (or `force`).
pub fn wanted(session: &Session, file: &AnnexedFile, target: Backend, force: bool) -> bool {
    session.store.has(&file.key) && (force || Backend::for_key(&file.key) != Some(target))
}

/// Whether the old key's content is checked first (its backend has a
/// checksum).
pub fn checks_old(file: &AnnexedFile) -> bool {
    Backend::for_key(&file.key).is_some_and(|b| b.hash_kind().is_some())
}

/// Migrates one file whose content is here; returns its new key.
pub fn migrate(
    session: &Session,
    file: &AnnexedFile,
    target: Backend,
) -> Result<Key, MigrateError> {
    let Some(object) = session.store.find(&file.key) else {
        return Err(MigrateError::BadContent);
    };
    if annex_core::backend::verify_key(&file.key, &object)? == Some(false) {
        return Err(MigrateError::BadContent);
    }
    use std::os::unix::ffi::OsStrExt;
    let name = Path::new(std::ffi::OsStr::from_bytes(&file.path));
    let source = KeySource {
        content: &object,
        name,
    };
    let new = target.key_for_file(&source, &KeyOptions::default())?;
    if new != file.key {
        let current = session.state.metadata(&file.key)?;
        if !current.is_empty() {
            let mut set = MetaData::default();
            for f in current.fields.values() {
                for v in f.values.keys() {
                    set.update(&f.name, v.clone(), true);
                }
            }
            session.state.change_metadata(&new, &set)?;
        }
        for url in session.state.urls(&file.key)? {
            session.state.set_url(&new, &url, true)?;
        }
        crate::rekey::rekey(session, file, &new)?;
    }
    Ok(new)
}

/// Records migrations in `.git/annex/migrate.log` as they are done.
pub struct Recorder {
    staged: annex_core::ingest::Staged,
    hash: gix::hash::Kind,
    store_config: annex_core::objects::StoreConfig,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    /// Reads the index as staged before the migrations.
    pub fn new(session: &Session) -> Result<Recorder, MigrateError> {
        let wt = session
            .worktree()
            .map_err(|e| MigrateError::Record(e.to_string()))?;
        let staged = annex_core::ingest::Staged::read(wt.repo())
            .map_err(|e| MigrateError::Record(e.to_string()))?;
        Ok(Recorder {
            staged,
            hash: wt.repo().object_hash(),
            store_config: *session.store.config(),
        })
    }

    /// Appends the migration of `file` (its key before) to `new`: the
    /// blob it had staged (else the one its pointer makes) and the blob of
    /// its new symlink or pointer.
    pub fn record(
        &self,
        session: &Session,
        file: &AnnexedFile,
        new: &Key,
    ) -> Result<(), MigrateError> {
        let old = match self.staged.blob(&file.path) {
            Some(id) => id,
            None => self.blob_of(file, &file.key),
        };
        let new = self.blob_of(file, new);
        let line = format!("{old} {new}\n");
        let dir = session.repo.git_dir().join("annex");
        with_log_lock(&dir.join("migrate.lck"), || {
            use std::io::Write;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("migrate.log"))
                .and_then(|mut f| f.write_all(line.as_bytes()))
        })
        .map_err(|e| MigrateError::Record(format!("cannot write .git/annex/migrate.log: {e}")))
    }

    /// The id of the blob staged for `file` pointing at `key`: its symlink
    /// target when locked, its pointer when unlocked.
    fn blob_of(&self, file: &AnnexedFile, key: &Key) -> gix::ObjectId {
        use std::os::unix::ffi::OsStrExt;
        let data = if file.locked {
            let target = annex_core::pointer::link_target_in(
                Path::new(""),
                Path::new(std::ffi::OsStr::from_bytes(&file.path)),
                Path::new(".git"),
                key,
                &self.store_config,
            );
            target.as_os_str().as_bytes().to_vec()
        } else {
            annex_core::pointer::format_pointer(key)
        };
        gix::objs::compute_hash(self.hash, gix::object::Kind::Blob, &data)
            .unwrap_or_else(|_| gix::ObjectId::null(self.hash))
    }
}

/// Runs `f` holding an exclusive lock on `lock` (made when missing).
fn with_log_lock<T>(lock: &Path, f: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock)?;
    file.lock()?;
    let r = f();
    let _ = file.unlock();
    r
}

/// Commits the migrations recorded in `.git/annex/migrate.log` to the
/// `git-annex` branch, as git-annex does: trees `old` and `new` with a
/// file `1`, `2`, ... each (the old and new blob of one migration),
/// grafted at `migrate.tree` and removed again, the commit listed in
/// `.git/annex/migrations.log` (after a null first line when that log is
/// new), and `migrate.log` emptied. Returns the commit, `None` when there
/// was nothing to record.
pub fn commit_records(session: &Session) -> Result<Option<gix::ObjectId>, MigrateError> {
    let dir = session.repo.git_dir().join("annex");
    let rec = |e: String| MigrateError::Record(e);
    with_log_lock(&dir.join("migrate.lck"), || {
        let log = match std::fs::read(dir.join("migrate.log")) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ok(None)),
            Err(e) => return Err(e),
        };
        let repo = session.state.branch().repo();
        let hash = repo.object_hash();
        let mut ed = match repo.edit_tree(gix::ObjectId::empty_tree(hash)) {
            Ok(ed) => ed,
            Err(e) => return Ok(Err(rec(e.to_string()))),
        };
        let mut n = 0u64;
        for line in log.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let words: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
            let (Some(old), Some(new)) = (
                words.first().and_then(|w| gix::ObjectId::from_hex(w).ok()),
                words.get(1).and_then(|w| gix::ObjectId::from_hex(w).ok()),
            ) else {
                return Ok(Err(rec("migrate.log parse error".into())));
            };
            n += 1;
            for (sub, id) in [("old", old), ("new", new)] {
                if let Err(e) =
                    ed.upsert(format!("{sub}/{n}"), gix::object::tree::EntryKind::Blob, id)
                {
                    return Ok(Err(rec(e.to_string())));
                }
            }
        }
        if n == 0 {
            return Ok(Ok(None));
        }
        let tree = match ed.write() {
            Ok(t) => t.detach(),
            Err(e) => return Ok(Err(rec(e.to_string()))),
        };
        let commit = match session.state.branch().remember_tree(tree, "migrate.tree") {
            Ok(c) => c,
            Err(e) => return Ok(Err(MigrateError::Branch(e))),
        };
        let migrations = dir.join("migrations.log");
        with_log_lock(&dir.join("migrations.lck"), || {
            let mut l = std::fs::read(&migrations).unwrap_or_default();
            if l.iter().all(|b| b.is_ascii_whitespace()) {
                l = format!("{}\n", gix::ObjectId::null(hash)).into_bytes();
            } else if !l.ends_with(b"\n") {
                l.push(b'\n');
            }
            l.extend_from_slice(format!("{commit}\n").as_bytes());
            let tmp = migrations.with_extension("log.new");
            std::fs::write(&tmp, &l)?;
            std::fs::rename(&tmp, &migrations)
        })?;
        std::fs::write(dir.join("migrate.log"), b"")?;
        Ok(Ok(Some(commit)))
    })
    .map_err(|e| rec(format!("cannot record the migration in .git/annex: {e}")))?
}
