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
//! The other way round, [`distributed_migrations`] reads the migrations
//! recorded in the branch (by any repository), [`update_wanted`] and
//! [`apply_update`] move the content here to their new keys (checked
//! against them first), and [`finish_distributed`] notes how far they were
//! applied: `migrate --update`, `--apply`, and `sync`/`pull` with content.
//! [`plan`] also covers `--remove-size` and keys whose size is missing.
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
    /// The content of the old key is not the new key's.
    #[error("Verification of content failed")]
    NotVerified,
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

/// The backend each file migrates to, as git-annex chooses it: the
/// `--backend` given, else the file's `annex.backend` attribute (when it
/// names a backend we have), else `annex.backend` from git config, else
/// SHA256E. The attributes are asked of one `git check-attr` process,
/// started at the first file that needs it.
pub struct BackendChooser {
    default: Backend,
    forced: bool,
    top: std::path::PathBuf,
    attrs: Option<annex_core::attr::Coprocess>,
}

impl BackendChooser {
    /// The chooser for `session`, with the `--backend` option if given.
    /// `None` when the backend given (or the one git config names) is
    /// not one we have.
    pub fn new(session: &Session, option: Option<&str>) -> Option<BackendChooser> {
        let default = target_backend(session, option)?;
        let top = session
            .worktree
            .as_ref()
            .map(|w| w.top().to_path_buf())
            .unwrap_or_else(|| session.repo.git_dir().to_path_buf());
        Some(BackendChooser {
            default,
            forced: option.is_some(),
            top,
            attrs: None,
        })
    }

    /// The backend of `--backend` or git config (what files without an
    /// `annex.backend` attribute migrate to).
    pub fn default_backend(&self) -> Backend {
        self.default
    }

    /// The backend the file at `path` (relative to the top) migrates to.
    pub fn for_path(&mut self, path: &[u8]) -> Result<Backend, MigrateError> {
        if self.forced {
            return Ok(self.default);
        }
        if self.attrs.is_none() {
            self.attrs = Some(
                annex_core::attr::Coprocess::spawn(
                    &self.top,
                    &["check-attr", "-z", "--stdin", "annex.backend"],
                )
                .map_err(|e| MigrateError::Record(e.to_string()))?,
            );
        }
        let Some(p) = self.attrs.as_mut() else {
            return Ok(self.default);
        };
        let mut answer = p
            .query_all(&[path], 3)
            .map_err(|e| MigrateError::Record(e.to_string()))?;
        let value = answer
            .pop()
            .and_then(|mut f| f.pop())
            .and_then(annex_core::attr::attr_value);
        Ok(value
            .and_then(|v| Backend::from_name(&String::from_utf8_lossy(&v)))
            .unwrap_or(self.default))
    }
}

/// The key options migrating computes keys with: `annex.maxextensionlength`
/// and `annex.maxextensions` from git config, the locale's file name
/// encoding.
pub fn key_options(session: &Session) -> KeyOptions {
    let mut opts = KeyOptions {
        filename_encoding: annex_core::backend::keyname::FilenameEncoding::from_env(),
        ..KeyOptions::default()
    };
    // A number that does not parse leaves the default; a negative one
    // keeps no extension, as git-annex.
    let count = |name: &str| {
        session
            .config
            .get_str(name)
            .and_then(|v| v.trim().parse::<i64>().ok())
            .map(|n| usize::try_from(n).unwrap_or(0))
    };
    if let Some(n) = count("annex.maxextensionlength") {
        opts.max_extension_length = n;
    }
    if let Some(n) = count("annex.maxextensions") {
        opts.max_extensions = n;
    }
    opts
}

/// Whether the file is migrated: its content is here, and its backend is
/// not the target one, or its key is one git-annex upgrades
/// ([`Backend::needs_upgrade`]), or `force`.
pub fn wanted(session: &Session, file: &AnnexedFile, target: Backend, force: bool) -> bool {
    session.store.has(&file.key)
        && (force
            || match Backend::for_key(&file.key) {
                Some(old) => old != target || old.needs_upgrade(&file.key),
                None => true,
            })
}

/// The new key found without reading the content
/// ([`Backend::fast_migrate`]), for a file migrated by a new key.
pub fn fast_key(session: &Session, file: &AnnexedFile, target: Backend, plan: Plan) -> Option<Key> {
    match plan {
        Plan::Rekey => target.fast_migrate(&file.key, &file.path, &key_options(session)),
        Plan::Size => None,
    }
}

/// How a file is migrated ([`plan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// A new key computed from the content here with the target backend.
    Rekey,
    /// The same key with its size removed (`--remove-size`) or, when it
    /// has none, added from the content here.
    Size,
}

/// Whether and how the file is migrated, as git-annex decides: a new key
/// when its content is here and its backend is not the target one (or
/// `force`); else only its size changed: removed with `remove_size` when
/// the key has one (whether the content is here or not), added when the
/// key has none, the backend is the target one and the content is here.
/// Keys of a backend we do not have are left alone.
pub fn plan(
    session: &Session,
    file: &AnnexedFile,
    target: Backend,
    force: bool,
    remove_size: bool,
) -> Option<Plan> {
    let old = Backend::for_key(&file.key)?;
    let exists = session.store.has(&file.key);
    if (old != target || old.needs_upgrade(&file.key) || force) && exists {
        return Some(Plan::Rekey);
    }
    let size = if remove_size {
        file.key.size().is_some()
    } else {
        old == target && file.key.size().is_none() && exists
    };
    size.then_some(Plan::Size)
}

/// Whether the new key's content is checked once stored, which git-annex
/// announces for a locked file whose content is here: the new key's
/// backend (the target, or the old one when only the size changes) has a
/// checksum.
pub fn checks_new(session: &Session, file: &AnnexedFile, target: Backend, plan: Plan) -> bool {
    let backend = match plan {
        Plan::Rekey => Some(target),
        Plan::Size => Backend::for_key(&file.key),
    };
    file.locked && session.store.has(&file.key) && backend.is_some_and(|b| b.hash_kind().is_some())
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
    migrate_planned(session, file, target, Plan::Rekey, false)
}

/// Migrates one file as [`plan`] said (with `remove_size`, the new key
/// has no size); returns its new key. Only the size of a key whose content
/// is not here can change, and then nothing is done: git-annex's error.
pub fn migrate_planned(
    session: &Session,
    file: &AnnexedFile,
    target: Backend,
    plan: Plan,
    remove_size: bool,
) -> Result<Key, MigrateError> {
    let Some(object) = session.store.find(&file.key) else {
        return Err(match plan {
            Plan::Rekey => MigrateError::BadContent,
            Plan::Size => MigrateError::Rekey(RekeyError::Verification),
        });
    };
    // A key found without the content needs no check of it (git-annex's
    // "known good content" of a fast migration).
    let fast = fast_key(session, file, target, plan);
    if fast.is_none() && annex_core::backend::verify_key(&file.key, &object)? == Some(false) {
        return Err(MigrateError::BadContent);
    }
    let new = match (plan, fast) {
        (Plan::Rekey, Some(key)) => key,
        (Plan::Rekey, None) => {
            use std::os::unix::ffi::OsStrExt;
            let name = Path::new(std::ffi::OsStr::from_bytes(&file.path));
            let source = KeySource {
                content: &object,
                name,
            };
            target.key_for_file(&source, &key_options(session))?
        }
        (Plan::Size, _) if remove_size => file.key.clone(),
        (Plan::Size, _) => match file.key.size() {
            Some(_) => file.key.clone(),
            None => {
                let len = std::fs::metadata(&object)
                    .map_err(|e| {
                        MigrateError::Record(format!("cannot read {}: {e}", object.display()))
                    })?
                    .len();
                file.key.clone().with_size(Some(len))
            }
        },
    };
    let new = if remove_size {
        new.with_size(None)
    } else {
        new
    };
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
    annex_core::lockfile::with_exclusive(lock, f)?
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

/// The migrations recorded in the `git-annex` branch by other repositories
/// (or this one) that [`distributed_migrations`] found, in the order they
/// were recorded, and what to note in `.git/annex/migrations.log` once
/// they were applied ([`finish_distributed`]).
#[derive(Debug)]
pub struct Distributed {
    /// Each migration: the old key, then the new key.
    pub pairs: Vec<(Key, Key)>,
    /// The branch commit read up to.
    tip: gix::ObjectId,
    /// Commits listed after the first line of `migrations.log`, dropped
    /// from it once done.
    skip: Vec<gix::ObjectId>,
}

/// Reads `.git/annex/migrations.log`: the commit up to which migrations
/// were applied (`None` when the first line is missing or a null sha), and
/// the commits of migrations made here listed after it.
fn performed_migrations(
    dir: &Path,
) -> Result<(Option<gix::ObjectId>, Vec<gix::ObjectId>), MigrateError> {
    let log = match with_log_lock(&dir.join("migrations.lck"), || {
        std::fs::read(dir.join("migrations.log"))
    }) {
        Ok(l) => l,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((None, Vec::new())),
        Err(e) => {
            return Err(MigrateError::Record(format!(
                "cannot read .git/annex/migrations.log: {e}"
            )));
        }
    };
    let mut lines = log
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(gix::ObjectId::from_hex);
    let stop = match lines.next() {
        Some(Ok(id)) if !id.is_null() => Some(id),
        _ => None,
    };
    Ok((stop, lines.filter_map(Result::ok).collect()))
}

/// The migrations recorded in the `git-annex` branch (already brought up
/// to date with the remotes' branches when the session opened), as git-annex's
/// `migrate --update` (`incremental`: only those after the commit noted in
/// `.git/annex/migrations.log`) and `--apply` (all of them) find them: the
/// branch's history of `migrate.tree`, oldest first, each file
/// `migrate.tree/new/N` added by a commit paired with `old/N` of the same
/// commit, both read as keys (blobs naming no key are passed over).
pub fn distributed_migrations(
    session: &Session,
    incremental: bool,
) -> Result<Distributed, MigrateError> {
    let branch = session.state.branch();
    let dir = session.repo.git_dir().join("annex");
    let (stop, skip) = performed_migrations(&dir)?;
    let Some(tip) = branch.tip()? else {
        return Ok(Distributed {
            pairs: Vec::new(),
            tip: gix::ObjectId::null(branch.repo().object_hash()),
            skip,
        });
    };
    let range = match stop.filter(|_| incremental) {
        Some(s) => format!("{s}..{tip}"),
        None => tip.to_string(),
    };
    // The same walk as git-annex's: `--follow`, since the tree is grafted
    // and removed again at once. Run in the git directory, so that the path
    // is the branch's whatever the current directory.
    let args: Vec<String> = [
        "log",
        "-z",
        "--pretty=format:%H %ct",
        "--raw",
        "--no-abbrev",
        "--no-renames",
        "--reverse",
        "--follow",
        &range,
        "--",
        "migrate.tree",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = crate::git::run_in_git_dir(session.repo.git_dir(), &args)
        .map_err(|e| MigrateError::Record(format!("git log of the git-annex branch: {e}")))?;
    let repo = branch.repo();
    let mut pairs = Vec::new();
    for (commit, new_blob, file) in parse_raw_log(&out) {
        if new_blob.is_null() || skip.contains(&commit) {
            continue;
        }
        let Some(name) = file
            .windows(5)
            .position(|w| w == b"/new/")
            .map(|i| &file[i + 5..])
        else {
            continue;
        };
        // The old file of the same number (its base name without any
        // extension, as git-annex takes it).
        let base = name.rsplit(|&b| b == b'/').next().unwrap_or(name);
        let base = match base.iter().rposition(|&b| b == b'.') {
            Some(0) | None => base,
            Some(i) => &base[..i],
        };
        let Some(new) = repo
            .find_object(new_blob)
            .ok()
            .and_then(|o| annex_core::gitrepo::key_of_blob(&o.data))
        else {
            continue;
        };
        let mut old_path = b"migrate.tree/old/".to_vec();
        old_path.extend_from_slice(base);
        let Some(old) = branch
            .file_at(commit, &old_path)?
            .and_then(|d| annex_core::gitrepo::key_of_blob(&d))
        else {
            continue;
        };
        pairs.push((old, new));
    }
    Ok(Distributed { pairs, tip, skip })
}

/// Parses `git log -z --pretty=format:'%H %ct' --raw` output into (commit,
/// new blob, file) per changed file, as git-annex does: a commit's line
/// comes before its first change only.
fn parse_raw_log(out: &[u8]) -> Vec<(gix::ObjectId, gix::ObjectId, Vec<u8>)> {
    let hash = gix::hash::Kind::Sha1;
    let mut commit = gix::ObjectId::null(hash);
    let mut chunks = out.split(|&b| b == 0).peekable();
    let mut found = Vec::new();
    while let Some(c1) = chunks.next() {
        if c1.is_empty() {
            continue;
        }
        let Some(c2) = chunks.peek().copied() else {
            break;
        };
        let change = match c1.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let info = &c1[..i];
                if let Some(id) = info
                    .split(|&b| b == b' ')
                    .next()
                    .and_then(|w| gix::ObjectId::from_hex(w).ok())
                {
                    commit = id;
                }
                &c1[i + 1..]
            }
            None => c1,
        };
        let words: Vec<&[u8]> = change
            .split(|&b| b == b' ')
            .filter(|w| !w.is_empty())
            .collect();
        let new = words.get(3).and_then(|w| gix::ObjectId::from_hex(w).ok());
        match new {
            Some(new) if change.starts_with(b":") => {
                found.push((commit, new, c2.to_vec()));
                chunks.next();
            }
            _ => {}
        }
    }
    found
}

/// Notes in `.git/annex/migrations.log` that the migrations were applied
/// up to the commit read, as git-annex does: that commit on the first
/// line, the migrations made here that were seen dropped from the rest.
pub fn finish_distributed(session: &Session, done: &Distributed) -> Result<(), MigrateError> {
    if done.tip.is_null() {
        return Ok(());
    }
    let dir = session.repo.git_dir().join("annex");
    let migrations = dir.join("migrations.log");
    with_log_lock(&dir.join("migrations.lck"), || {
        let old = match std::fs::read(&migrations) {
            Ok(l) => l,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut l = format!("{}\n", done.tip).into_bytes();
        for line in old.split(|&b| b == b'\n').filter(|l| !l.is_empty()).skip(1) {
            if gix::ObjectId::from_hex(line).is_ok_and(|id| done.skip.contains(&id)) {
                continue;
            }
            l.extend_from_slice(line);
            l.push(b'\n');
        }
        let tmp = migrations.with_extension("log.new");
        std::fs::write(&tmp, &l)?;
        std::fs::rename(&tmp, &migrations)
    })
    .map_err(|e| MigrateError::Record(format!("cannot write .git/annex/migrations.log: {e}")))
}

/// Whether a migration found in the branch is applied here, as git-annex
/// decides: the new key is allowed (`annex.securehashesonly`), its content
/// is not here but the old key's is, and this repository was never logged
/// as having dropped the new key (it was not wanted here then).
pub fn update_wanted(session: &Session, old: &Key, new: &Key) -> Result<bool, MigrateError> {
    if session.config.get_bool("annex.securehashesonly") == Some(true)
        && !annex_core::key::KeyVariety::from_name(new.backend_name()).is_secure_hash()
    {
        return Ok(false);
    }
    if session.store.has(new) || !session.store.has(old) {
        return Ok(false);
    }
    let log = session
        .state
        .branch()
        .get(&annex_core::state::key_log_path(new, ".log"))?;
    let previous = annex_core::logs::location::LocationLog::parse(&log)
        .uuids_with(|s| s != annex_core::logs::presence::Status::Present);
    Ok(!previous.contains(session.here()))
}

/// Whether applying a migration checks the content with a checksum (the
/// new key's backend has one), which git-annex announces.
pub fn update_checksums(new: &Key) -> bool {
    Backend::for_key(new).is_some_and(|b| b.hash_kind().is_some())
}

/// Applies one migration found in the branch: the old key's object hard
/// linked (a copy when it already has other names, so that no unlocked
/// file's content becomes the new key's) to a temp file, which is checked
/// to be the new key's content whatever `annex.verify` says (the branch may
/// hold wrong migrations), then moved into the store under the new key,
/// and the new key logged present here. `Ok(false)` when the old key's
/// content is gone; [`MigrateError::NotVerified`] when it is not the new
/// key's (nothing is changed then).
pub fn apply_update(session: &Session, old: &Key, new: &Key) -> Result<bool, MigrateError> {
    let Some(object) = session.store.find(old) else {
        return Ok(false);
    };
    match crate::rekey::store_linked(session, &object, new, true) {
        Ok(()) => {}
        Err(RekeyError::Verification) => return Err(MigrateError::NotVerified),
        Err(e) => return Err(e.into()),
    }
    session.state.set_present(new, session.here(), true)?;
    Ok(true)
}
