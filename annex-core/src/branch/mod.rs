//! The `git-annex` branch: reads with the journal laid over, commits, union merge.
//!
//! git-annex keeps its metadata (logs) in the files of a branch named
//! `git-annex`. Changes first go to the [journal](crate::journal); a
//! commit stages them into the branch. This module does all of it
//! in-process through gix, never touching the user's index or work tree:
//!
//! - [`Branch::get`] reads a file with the journal over the branch (the
//!   journal wins), [`Branch::change`] rewrites a file through the journal,
//!   [`Branch::commit`] commits the journal into the branch;
//! - [`Branch::update`] merges other `git-annex` branches
//!   (`refs/remotes/*/git-annex` …) by [union merge](merge::union_lines),
//!   fast-forwarding when it can, as git-annex does;
//! - [`Branch::for_each_file`] walks every file of the branch once.
//!
//! git-annex also keeps an index of the branch (`.git/annex/index`) and the
//! commit that index corresponds to (`.git/annex/index.lck`). After every
//! commit or merge this module brings both to the new tip, so git-annex
//! finds its index current and neither reverts nor re-merges our changes.
//!
//! Costs follow what changed, not the size of the branch: a commit looks
//! up each journalled path in the tip's tree and edits only the subtrees
//! leading to them; a merge reads only the paths where the other tree
//! differs (a tree difference that skips shared subtrees); the
//! index, when it was current, is rewritten entry by entry with just the
//! changed paths replaced; a commit of many files writes its
//! objects into one pack rather than loose. Only when git-annex's
//! index is stale (the branch was moved by someone else) is the whole tree
//! walked, as a stream, to find what the index held beyond it and to write
//! the index anew.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let branch = annex_core::branch::Branch::open(std::path::Path::new(".git"))?;
//! let uuid_log = branch.get(b"uuid.log")?;
//! branch.change(b"trust.log", |old| old.to_vec())?;
//! branch.commit("update")?;
//! # let _ = uuid_log; Ok(()) }
//! ```

pub(crate) mod diff;
pub(crate) mod index;
pub mod merge;
mod pack;
mod snapshot;
pub(crate) mod spill;

pub use snapshot::Snapshot;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use gix::ObjectId;
use gix::bstr::{BStr, BString, ByteSlice};
use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
use gix::refs::{FullName, Target};

use crate::journal::{Journal, JournalError, JournalLock};

/// The short name of the branch.
pub const NAME: &str = "git-annex";
/// The full ref name of the branch.
pub const FULL_NAME: &str = "refs/heads/git-annex";
/// The remote-tracking branch `git annex init` creates the branch from.
pub const ORIGIN_NAME: &str = "refs/remotes/origin/git-annex";

/// An error of the branch, naming the ref, file or path at fault.
#[derive(Debug, thiserror::Error)]
pub enum BranchError {
    /// A journal error.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A git error while doing something to a named thing.
    #[error("git-annex branch: {what} {name}: {source}")]
    Git {
        /// What was being done.
        what: &'static str,
        /// The ref, object or path concerned.
        name: String,
        /// The underlying error.
        #[source]
        source: gix::Error,
    },
    /// An I/O error on a file of `.git/annex`.
    #[error("git-annex branch: {what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The branch ref does not point at a commit.
    #[error("git-annex branch: {name} does not point to a commit ({detail})")]
    BadRef {
        /// The ref.
        name: String,
        /// What is wrong.
        detail: String,
    },
    /// A tree of the branch nests deeper than any git-annex writes (a
    /// damaged or hostile branch); walking it is refused.
    #[error("git-annex branch: {path} is nested more than {max} directories deep")]
    TooDeep {
        /// The path where the walk stopped.
        path: String,
        /// The deepest nesting walked.
        max: usize,
    },
    /// Another process moved the branch while we committed, too often.
    #[error("git-annex branch: {0} kept changing while committing; giving up")]
    Raced(String),
}

fn git_err<E: Into<gix::Error>>(
    what: &'static str,
    name: impl Into<String>,
) -> impl FnOnce(E) -> BranchError {
    let name = name.into();
    move |e| BranchError::Git {
        what,
        name,
        source: e.into(),
    }
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> BranchError + 'a {
    move |source| BranchError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// What [`Branch::update`] / [`Branch::merge`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MergeOutcome {
    /// The refs that were merged (they had commits not in the branch).
    pub merged: Vec<(ObjectId, String)>,
    /// Whether the branch was fast-forwarded rather than given a merge commit.
    pub fast_forwarded: bool,
    /// The new tip of the branch, when it moved.
    pub new_tip: Option<ObjectId>,
    /// The refs left unmerged because their transitions (`transitions.log`,
    /// written by `git annex forget`) differ from the branch's in a way
    /// this implementation does not handle (a transition other than
    /// forgetting git history, e.g. `--drop-dead`, or exported trees to
    /// re-graft): each is a warning to show. Nothing is recorded for them,
    /// so git-annex still handles them fully.
    pub skipped: Vec<SkippedRef>,
}

/// A ref [`Branch::merge`] left unmerged because of its transitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRef {
    /// The commit of the ref.
    pub id: ObjectId,
    /// The ref name.
    pub name: String,
}

impl std::fmt::Display for SkippedRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "not merging {} ({}): its transitions (git annex forget) differ from the git-annex branch's in a way this implementation cannot handle; run `git annex merge` with git-annex",
            describe_ref(&self.name),
            self.id
        )
    }
}

/// The `git-annex` branch of one repository, with its journal.
pub struct Branch {
    repo: gix::Repository,
    journal: Journal,
    annex_dir: PathBuf,
    private_known: bool,
    private_uuids: BTreeSet<String>,
    /// The last root tree looked up in, decoded: its entries by name. The
    /// branch's root has up to 4,096 entries (`aaa` hash dirs), and every
    /// key's log is found through it; a tree id names its content, so the
    /// cache cannot go stale (the tip itself is read anew every time).
    root_cache: std::sync::Mutex<Option<(ObjectId, RootEntries)>>,
    /// Where the branch's ref can be, when the refs are files (not a
    /// reftable): the loose ref and `packed-refs`, whose [`RefStamp`]
    /// guards [`Branch::tip_cache`].
    ref_files: Option<[PathBuf; 2]>,
    /// The tip last read, with the stamp of the ref files taken before
    /// reading it: while neither file has changed (every ref update
    /// replaces the file, by rename, whichever process makes it), the tip
    /// is the same, so it is not read again.
    tip_cache: std::sync::Mutex<Option<(RefStamp, Option<ObjectId>)>>,
    /// The last commit whose tree was looked up, and that tree (a commit
    /// id names its content: this cannot go stale).
    tree_cache: std::sync::Mutex<Option<(ObjectId, ObjectId)>>,
    /// How many journal files a commit stages and writes at a time
    /// ([`CHUNK_FILES`]; smaller in tests).
    chunk_files: usize,
    /// How many objects go into one pack of a commit in chunks
    /// ([`PACK_OBJECTS`]; smaller in tests).
    pack_objects: usize,
}

/// How many journal files a commit stages at a time: what it keeps in
/// memory (their changes, the trees they touch) before writing their
/// trees and moving on. A commit of more writes the tree once per chunk,
/// each chunk into its own pack; the trees between chunks are left
/// unreferenced (the root and the subtrees on a chunk's boundary).
const CHUNK_FILES: usize = 20_000;

/// What identifies one version of a file: device, inode, size, and the
/// modification and change times to the nanosecond; `None` when it does
/// not exist.
type FileStamp = Option<(u64, u64, u64, i64, i64, i64, i64)>;

/// The stamps of the loose ref and of `packed-refs`.
type RefStamp = [FileStamp; 2];

/// The stamp of a file, or `Err` when it cannot be told (then nothing is
/// cached).
fn file_stamp(path: &Path) -> Result<FileStamp, ()> {
    use std::os::unix::fs::MetadataExt;
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(Some((
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec(),
        ))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(_) => Err(()),
    }
}

/// A decoded tree: each entry's object and mode, by name.
type RootEntries = std::collections::HashMap<Vec<u8>, (ObjectId, gix::object::tree::EntryMode)>;

impl std::fmt::Debug for Branch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Branch")
            .field("git_dir", &self.repo.git_dir())
            .finish()
    }
}

fn full_name(name: &str) -> Result<FullName, BranchError> {
    FullName::try_from(name).map_err(|e| BranchError::BadRef {
        name: name.to_owned(),
        detail: format!("invalid ref name: {e}"),
    })
}

impl Branch {
    /// The branch of the repository whose git directory is `git_dir`.
    pub fn open(git_dir: &Path) -> Result<Branch, BranchError> {
        let repo = gix::open(git_dir)
            .map(crate::config::with_overrides)
            .map_err(git_err("open repository", git_dir.display().to_string()))?;
        Ok(Branch::from_repo(repo))
    }

    /// The branch of an already opened repository.
    pub fn from_repo(repo: gix::Repository) -> Branch {
        let git_dir = repo.git_dir().to_path_buf();
        let private_uuids = private_uuids(&repo);
        let private_known = !private_uuids.is_empty();
        let common = repo.common_dir().to_path_buf();
        // A reftable keeps refs in files that are not replaced per update:
        // no caching then.
        let ref_files = (!common.join("reftable").exists())
            .then(|| [common.join(FULL_NAME), common.join("packed-refs")]);
        Branch {
            journal: Journal::new(&git_dir),
            annex_dir: git_dir.join("annex"),
            repo,
            private_known,
            private_uuids,
            root_cache: std::sync::Mutex::new(None),
            ref_files,
            tip_cache: std::sync::Mutex::new(None),
            tree_cache: std::sync::Mutex::new(None),
            chunk_files: CHUNK_FILES,
            pack_objects: PACK_OBJECTS,
        }
    }

    /// The journal of this branch.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The gix repository.
    pub fn repo(&self) -> &gix::Repository {
        &self.repo
    }

    /// Whether private repositories are configured (`annex.private`,
    /// `remote.NAME.annex-private`), so the private journal is read.
    pub fn private_known(&self) -> bool {
        self.private_known
    }

    /// The commit the branch points to, or `None` when it does not exist.
    ///
    /// Read anew whenever the ref's file or `packed-refs` changed since the
    /// last read (another process may commit the branch while this one
    /// runs); otherwise the last value is returned without reading them.
    pub fn tip(&self) -> Result<Option<ObjectId>, BranchError> {
        let stamp = self.ref_stamp();
        let mut cache = self
            .tip_cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let (Some(s), Some((cached, id))) = (&stamp, cache.as_ref())
            && s == cached
        {
            return Ok(*id);
        }
        let (id, direct) = self.ref_commit_direct(FULL_NAME)?;
        // The stamp was taken before the read: if the ref moved in
        // between, the next stamp differs and the ref is read again. A
        // symbolic ref is not cached (its target's file is not stamped).
        *cache = match stamp {
            Some(s) if direct => Some((s, id)),
            _ => None,
        };
        Ok(id)
    }

    /// The stamp of the ref files, or `None` when it cannot be told.
    fn ref_stamp(&self) -> Option<RefStamp> {
        let [loose, packed] = self.ref_files.as_ref()?;
        Some([file_stamp(loose).ok()?, file_stamp(packed).ok()?])
    }

    fn ref_commit(&self, name: &str) -> Result<Option<ObjectId>, BranchError> {
        self.ref_commit_direct(name).map(|(id, _)| id)
    }

    /// The commit a ref names, and whether the ref is direct (not
    /// symbolic).
    fn ref_commit_direct(&self, name: &str) -> Result<(Option<ObjectId>, bool), BranchError> {
        let r = self
            .repo
            .try_find_reference(name)
            .map_err(git_err("read ref", name))?;
        let Some(mut r) = r else {
            return Ok((None, true));
        };
        let direct = r.target().try_id().is_some();
        let id = r
            .peel_to_id()
            .map_err(git_err("resolve ref", name))?
            .detach();
        let obj = self.repo.find_header(id).map_err(|e| BranchError::BadRef {
            name: name.to_owned(),
            detail: format!("object {id} cannot be read: {e}"),
        })?;
        if obj.kind() != gix::object::Kind::Commit {
            return Err(BranchError::BadRef {
                name: name.to_owned(),
                detail: format!("{id} is a {}", obj.kind()),
            });
        }
        Ok((Some(id), direct))
    }

    fn commit_tree(&self, commit: ObjectId) -> Result<ObjectId, BranchError> {
        let mut cache = self
            .tree_cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((c, tree)) = *cache
            && c == commit
        {
            return Ok(tree);
        }
        let c = self
            .repo
            .find_commit(commit)
            .map_err(git_err("read commit", commit.to_string()))?;
        let tree = c
            .tree_id()
            .map(|t| t.detach())
            .map_err(git_err("read tree of commit", commit.to_string()))?;
        *cache = Some((commit, tree));
        Ok(tree)
    }

    /// Creates the branch if it does not exist (from `origin/git-annex`
    /// when there is one, else as an empty "branch created" commit) and
    /// returns its tip.
    ///
    /// Creating takes the journal lock (it rewrites git-annex's branch
    /// index), so it must not be called by a thread that holds it: the
    /// lock is not re-entrant.
    pub fn create(&self) -> Result<ObjectId, BranchError> {
        if let Some(t) = self.tip()? {
            return Ok(t);
        }
        let lock = self.journal.lock()?;
        self.create_locked(&lock)
    }

    /// [`Branch::create`] for a caller holding the journal lock.
    fn create_locked(&self, lock: &JournalLock) -> Result<ObjectId, BranchError> {
        if let Some(t) = self.tip()? {
            return Ok(t);
        }
        let tip = match self.ref_commit(ORIGIN_NAME)? {
            Some(origin) => {
                if !self.set_ref(origin, None, "branch: Created from origin/git-annex")? {
                    // Created meanwhile by someone else: use theirs.
                    return self
                        .tip()?
                        .ok_or_else(|| BranchError::Raced(FULL_NAME.to_owned()));
                }
                origin
            }
            None => {
                let empty = self
                    .repo
                    .write_object(gix::objs::Tree::empty())
                    .map_err(git_err("write empty tree for", FULL_NAME))?
                    .detach();
                let c = self.write_commit(empty, &[], "branch created")?;
                if !self.set_ref(c, None, "commit (initial): branch created")? {
                    return self
                        .tip()?
                        .ok_or_else(|| BranchError::Raced(FULL_NAME.to_owned()));
                }
                c
            }
        };
        let tree = self.commit_tree(tip)?;
        self.sync_index(lock, tip, tree)?;
        Ok(tip)
    }

    /// The committer and author of a commit made now: from git's identity
    /// settings (environment, then config), else git-annex's fallback (the
    /// user name as name and email). The time is the current one unless
    /// `GIT_COMMITTER_DATE` / `GIT_AUTHOR_DATE` fix it (gix reads the
    /// identity once, when the repository is opened).
    fn signatures(&self) -> (gix::actor::Signature, gix::actor::Signature) {
        let now = gix::date::Time::now_local_or_utc();
        let make = |s: Option<gix::Result<gix::actor::SignatureRef<'_>>>, date_var: &str| {
            let fixed = std::env::var_os(date_var).is_some();
            match s {
                Some(Ok(s)) => gix::actor::Signature {
                    name: s.name.to_owned(),
                    email: s.email.to_owned(),
                    time: if fixed { s.time().unwrap_or(now) } else { now },
                },
                _ => {
                    let name = user_name();
                    gix::actor::Signature {
                        name: name.clone().into(),
                        email: name.into(),
                        time: now,
                    }
                }
            }
        };
        let committer = make(self.repo.committer(), "GIT_COMMITTER_DATE");
        let author = make(self.repo.author(), "GIT_AUTHOR_DATE");
        (committer, author)
    }

    fn write_commit(
        &self,
        tree: ObjectId,
        parents: &[ObjectId],
        message: &str,
    ) -> Result<ObjectId, BranchError> {
        let (committer, author) = self.signatures();
        let mut msg = message.to_owned();
        if !msg.ends_with('\n') {
            msg.push('\n');
        }
        let commit = gix::objs::Commit {
            tree,
            parents: parents.iter().copied().collect(),
            author,
            committer,
            encoding: None,
            message: msg.into(),
            extra_headers: Vec::new(),
        };
        self.repo
            .write_object(&commit)
            .map(|i| i.detach())
            .map_err(git_err("write commit for", FULL_NAME))
    }

    /// Points the branch at `new`, if it is still at `expected` (`None`:
    /// must not exist yet). Returns whether it was updated.
    fn set_ref(
        &self,
        new: ObjectId,
        expected: Option<ObjectId>,
        log: &str,
    ) -> Result<bool, BranchError> {
        let prev = match expected {
            Some(e) => PreviousValue::MustExistAndMatch(Target::Object(e)),
            None => PreviousValue::MustNotExist,
        };
        let edit = RefEdit {
            change: Change::Update {
                log: LogChange {
                    mode: RefLog::AndReference,
                    force_create_reflog: false,
                    message: log.into(),
                },
                expected: prev,
                new: Target::Object(new),
            },
            name: full_name(FULL_NAME)?,
            deref: false,
        };
        remove_stale_ref_lock(&self.repo);
        let _writing =
            RefWrite::begin(self.repo.git_dir(), self.repo.common_dir(), &self.annex_dir);
        match self.repo.edit_reference(edit) {
            Ok(_) => Ok(true),
            Err(e) => {
                // Distinguish a lost race (the ref moved) from a real error.
                let now = self.tip()?;
                if now != expected {
                    Ok(false)
                } else {
                    Err(BranchError::Git {
                        what: "update ref",
                        name: FULL_NAME.to_owned(),
                        source: e,
                    })
                }
            }
        }
    }

    /// The content of a file in the branch as committed (no journal), or
    /// `None` when the branch or the file does not exist.
    pub fn committed(&self, path: &[u8]) -> Result<Option<Vec<u8>>, BranchError> {
        match self.tip()? {
            Some(t) => self.file_at(t, path),
            None => Ok(None),
        }
    }

    /// The content of a file in the tree of a commit, if present.
    pub fn file_at(&self, commit: ObjectId, path: &[u8]) -> Result<Option<Vec<u8>>, BranchError> {
        let tree = self.commit_tree(commit)?;
        self.file_in_tree(tree, path)
    }

    fn file_in_tree(&self, tree: ObjectId, path: &[u8]) -> Result<Option<Vec<u8>>, BranchError> {
        let (first, rest) = match path.iter().position(|&b| b == b'/') {
            Some(i) => (&path[..i], Some(&path[i + 1..])),
            None => (path, None),
        };
        let Some((id, mode)) = self.root_entry(tree, first)? else {
            return Ok(None);
        };
        let entry = match rest {
            None => Some((id, mode)),
            Some(rest) if mode.is_tree() => {
                let t = self
                    .repo
                    .find_tree(id)
                    .map_err(git_err("read tree", id.to_string()))?;
                t.lookup_entry(rest.split(|&b| b == b'/'))
                    .map_err(git_err("look up", lossy(path)))?
                    .map(|e| (e.object_id(), e.mode()))
            }
            Some(_) => None,
        };
        let Some((id, mode)) = entry else {
            return Ok(None);
        };
        if !mode.is_blob() {
            return Ok(None);
        }
        let blob = self
            .repo
            .find_blob(id)
            .map_err(git_err("read blob of", lossy(path)))?;
        Ok(Some(blob.data.clone()))
    }

    /// The entry `name` of the root tree `tree`, through [`Branch::root_cache`].
    fn root_entry(
        &self,
        tree: ObjectId,
        name: &[u8],
    ) -> Result<Option<(ObjectId, gix::object::tree::EntryMode)>, BranchError> {
        let mut cache = self
            .root_cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.as_ref().is_none_or(|(id, _)| *id != tree) {
            let t = self
                .repo
                .find_tree(tree)
                .map_err(git_err("read tree", tree.to_string()))?;
            let decoded = t
                .decode()
                .map_err(git_err("decode tree", tree.to_string()))?;
            let entries = decoded
                .entries
                .iter()
                .map(|e| (e.filename.to_vec(), (e.oid.to_owned(), e.mode)))
                .collect();
            *cache = Some((tree, entries));
        }
        Ok(cache
            .as_ref()
            .and_then(|(_, entries)| entries.get(name).copied()))
    }

    /// The current content of a branch file: the journal's when it has the
    /// file, else the branch's; empty when neither has it. When private
    /// repositories are configured and the private journal has the file,
    /// its content is appended (as git-annex does).
    pub fn get(&self, path: &[u8]) -> Result<Vec<u8>, BranchError> {
        let public = self.journal.read(path)?;
        let private = if self.private_known {
            self.journal.read_private(path)?
        } else {
            None
        };
        match (public, private) {
            (Some(p), None) => Ok(p),
            (None, None) => Ok(self.committed(path)?.unwrap_or_default()),
            (p, Some(priv_)) => {
                let mut v = self.committed(path)?.unwrap_or_default();
                v.extend_from_slice(&p.unwrap_or_default());
                v.extend_from_slice(&priv_);
                Ok(v)
            }
        }
    }

    /// Rewrites a branch file through the journal: under the journal lock,
    /// passes the current content (see [`Branch::get`], without private
    /// information) to `f` and journals what it returns.
    pub fn change(&self, path: &[u8], f: impl FnOnce(&[u8]) -> Vec<u8>) -> Result<(), BranchError> {
        self.change_opt(path, &[], |cur| Some(f(cur))).map(|_| ())
    }

    /// Like [`Branch::change`], for a change regarding the given
    /// repositories: when one of them is configured private, the current
    /// content includes the private journal's and the new content goes to
    /// the private journal (never committed to the branch), as git-annex
    /// does.
    pub fn change_regarding(
        &self,
        regarding: &[crate::uuid::Uuid],
        path: &[u8],
        f: impl FnOnce(&[u8]) -> Vec<u8>,
    ) -> Result<(), BranchError> {
        self.change_opt(path, regarding, |cur| Some(f(cur)))
            .map(|_| ())
    }

    /// Rewrites a branch file through the journal, or leaves it alone:
    /// under the journal lock, passes the current content to `f`; when `f`
    /// returns `Some(new)`, journals `new`, and when it returns `None`
    /// (nothing to change), writes nothing, so the journal stays as it was
    /// and the next commit has nothing of it, as git-annex does not
    /// journal a log whose content does not change. Returns whether
    /// something was journalled.
    ///
    /// `regarding` names the repositories the change is about (may be
    /// empty): when one of them is configured private, the current content
    /// includes the private journal's and the new content goes to the
    /// private journal (never committed), as in
    /// [`Branch::change_regarding`]. Otherwise the current content is the
    /// journal's, else the branch's, as in [`Branch::change`].
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let branch = annex_core::branch::Branch::open(std::path::Path::new(".git"))?;
    /// // Add a line unless it is there already.
    /// let line = b"x 1 timestamp=1s\n";
    /// branch.change_opt(b"trust.log", &[], |old| {
    ///     (!old.windows(line.len()).any(|w| w == line)).then(|| [old, line].concat())
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn change_opt(
        &self,
        path: &[u8],
        regarding: &[crate::uuid::Uuid],
        f: impl FnOnce(&[u8]) -> Option<Vec<u8>>,
    ) -> Result<bool, BranchError> {
        let private = regarding
            .iter()
            .any(|u| self.private_uuids.contains(u.as_str()));
        let lock = self.journal.lock()?;
        let cur = if private {
            self.get(path)?
        } else {
            match self.journal.read(path)? {
                Some(c) => c,
                None => self.committed(path)?.unwrap_or_default(),
            }
        };
        let Some(new) = f(&cur) else {
            return Ok(false);
        };
        if private {
            self.journal.write_private(&lock, path, &new)?;
        } else {
            self.journal.write(&lock, path, &new)?;
        }
        Ok(true)
    }

    /// The message git-annex commits the journal with: `annex.commitmessage`
    /// when set, else `update`.
    pub fn commit_message(&self) -> String {
        self.repo
            .config_snapshot()
            .string("annex.commitmessage")
            .map(|m| m.to_string())
            .unwrap_or_else(|| "update".to_owned())
    }

    /// Writes a branch file's whole new content to the journal, replacing
    /// whatever it held (the caller holds the journal lock, and must have
    /// read the current content under it).
    pub fn set(&self, lock: &JournalLock, path: &[u8], content: &[u8]) -> Result<(), BranchError> {
        self.journal.write(lock, path, content)?;
        Ok(())
    }

    /// Commits the journal into the branch (creating the branch when
    /// needed) when the journal holds anything. Returns the new commit.
    pub fn commit(&self, message: &str) -> Result<Option<ObjectId>, BranchError> {
        if !self.journal.is_dirty()? {
            return Ok(None);
        }
        let lock = self.journal.lock()?;
        // Another committer may have emptied the journal meanwhile.
        if !self.journal.is_dirty()? {
            return Ok(None);
        }
        self.commit_locked(&lock, message).map(Some)
    }

    fn commit_locked(&self, lock: &JournalLock, message: &str) -> Result<ObjectId, BranchError> {
        for _attempt in 0..20 {
            let tip = self.create_locked(lock)?;
            let mut state = self.base_state(tip)?;
            let written = self.write_journal(&mut state)?;
            let tree = written.tree;
            let c = self.write_commit(tree, &[tip], message)?;
            if self.set_ref(c, Some(tip), &format!("commit: {message}"))? {
                self.update_index_with(lock, &state, c, tree, written.changes, written.delta)?;
                self.clear_staged_log(lock, written.staged)?;
                return Ok(c);
            }
        }
        Err(BranchError::Raced(FULL_NAME.to_owned()))
    }

    /// The branch's tree at `tip`, with what the branch's index holds
    /// beyond it when git-annex's index is not current with `tip` (union
    /// merged, as git-annex does when it updates its index). Only the
    /// index's differences from the tree are kept.
    fn base_state(&self, tip: ObjectId) -> Result<State, BranchError> {
        let tree = self.commit_tree(tip)?;
        let index_current = self.index_sha().as_deref() == Some(tip.to_string().as_str());
        let mut state = State {
            tree,
            index_current,
            changes: BTreeMap::new(),
            lookup: PathLookup::default(),
            pack: None,
            fresh_index: None,
        };
        if !index_current {
            let (extras, fresh) = self.index_extras(tree)?;
            state.fresh_index = fresh;
            for (path, id) in extras {
                self.merge_one(&mut state, path, id)?;
            }
        }
        Ok(state)
    }

    /// The files git-annex's index holds that the tree at `tree` lacks or
    /// holds otherwise (path and the index's blob), found by walking the
    /// index and the tree side by side (both are in path order), so only
    /// the differences are kept in memory. An unreadable index holds
    /// nothing: it is only a cache of the branch (what it held beyond the
    /// branch is also in the journal, or was merged from refs that are
    /// merged again), and it is rewritten after the commit.
    ///
    /// The same walk writes an index of the tree into a temp file, which
    /// is returned (`None` when that could not be done): the commit then
    /// only applies its changes to it, rather than walking the tree again.
    fn index_extras(&self, tree: ObjectId) -> Result<IndexExtras, BranchError> {
        let is_file = |mode: u32| mode == 0o100_644 || mode == 0o100_755;
        let mut reader = match index::Reader::open(&self.index_path(), self.repo.object_hash()) {
            Ok(Some(r)) => r,
            Ok(None) => return Ok((Vec::new(), None)),
            Err(_) => return Ok((self.index_extras_in_memory(tree), None)),
        };
        let mut fresh = index::Writer::new(&self.index_path(), self.repo.object_hash(), None).ok();
        let mut extras: Vec<(BString, ObjectId)> = Vec::new();
        let mut failed = false;
        let next = |reader: &mut index::Reader, failed: &mut bool| -> Option<index::Entry> {
            if *failed {
                return None;
            }
            match reader.next_entry() {
                Ok(e) => e,
                Err(_) => {
                    *failed = true;
                    None
                }
            }
        };
        let mut pending = next(&mut reader, &mut failed);
        diff::walk_tree(&self.repo, tree, &mut Vec::new(), &mut |path, id, mode| {
            if let Some(w) = fresh.as_mut()
                && let Some(m) = index_mode(mode)
                && w.push(path, &id, m, 0).is_err()
            {
                fresh = None;
            }
            while let Some(e) = pending.take() {
                match e.path.as_slice().cmp(path) {
                    std::cmp::Ordering::Less => {
                        if e.stage == 0 && is_file(e.mode) {
                            extras.push((e.path.into(), e.id));
                        }
                        pending = next(&mut reader, &mut failed);
                    }
                    std::cmp::Ordering::Equal => {
                        if e.stage == 0 && is_file(e.mode) && (e.id != id || !mode.is_blob()) {
                            extras.push((e.path.into(), e.id));
                        }
                        pending = next(&mut reader, &mut failed);
                        if pending.as_ref().is_none_or(|p| p.path.as_slice() != path) {
                            break;
                        }
                    }
                    std::cmp::Ordering::Greater => {
                        pending = Some(e);
                        break;
                    }
                }
            }
            Ok(())
        })?;
        while let Some(e) = pending.take() {
            if e.stage == 0 && is_file(e.mode) {
                extras.push((e.path.into(), e.id));
            }
            pending = next(&mut reader, &mut failed);
        }
        let fresh = fresh.and_then(|w| w.finish_temp().ok());
        if failed {
            return Ok((self.index_extras_in_memory(tree), fresh));
        }
        Ok((extras, fresh))
    }

    /// [`Branch::index_extras`] for an index the stream reader cannot
    /// read (a split index, …): read whole by gix, each entry compared
    /// with the tree by path. Unreadable: nothing.
    fn index_extras_in_memory(&self, tree: ObjectId) -> Vec<(BString, ObjectId)> {
        let p = self.index_path();
        let Ok(idx) = gix::index::File::at(&p, self.repo.object_hash(), false, Default::default())
        else {
            return Vec::new();
        };
        let mut lookup = PathLookup::default();
        let mut out = Vec::new();
        for e in idx.entries() {
            if e.stage_raw() != 0
                || !(e.mode == gix::index::entry::Mode::FILE
                    || e.mode == gix::index::entry::Mode::FILE_EXECUTABLE)
            {
                continue;
            }
            let path = e.path(&idx);
            // A tree that cannot be read is a difference: merged below,
            // where the error shows.
            if lookup.blob(&self.repo, tree, path).ok().flatten() != Some(e.id) {
                out.push((path.to_owned(), e.id));
            }
        }
        out
    }

    /// The branch at `tip`, with the journal staged when `dirty`, union
    /// merged with every file of the refs in `tomerge`: what a merge
    /// commits. Only the paths where a ref differs from the state are
    /// read: those its tree differs from the tip's in, found by a tree
    /// difference that skips every subtree both share, and those the state
    /// already changed.
    fn union_state(
        &self,
        tip: ObjectId,
        dirty: bool,
        tomerge: &[NamedRef],
    ) -> Result<(State, Vec<Staged>), BranchError> {
        let mut state = self.base_state(tip)?;
        let staged = if dirty {
            self.stage_journal(&mut state)?
        } else {
            Vec::new()
        };
        for (id, _) in tomerge {
            let theirs = self.commit_tree(*id)?;
            let mut differing: Vec<diff::Changed> = Vec::new();
            diff::diff_trees(
                &self.repo,
                Some(state.tree),
                Some(theirs),
                &mut Vec::new(),
                &mut differing,
            )?;
            // Where the ref's tree equals the tip's, the ref holds the
            // tip's version of the files the state changed.
            let mut same: Vec<(BString, ObjectId)> = Vec::new();
            {
                let mut d = differing.iter().map(|(p, _, _)| p.as_slice()).peekable();
                for (path, (base, _)) in &state.changes {
                    while d.peek().is_some_and(|p| *p < path.as_slice()) {
                        d.next();
                    }
                    if d.peek() == Some(&path.as_slice()) {
                        continue;
                    }
                    if let Some(b) = base {
                        same.push((path.clone(), *b));
                    }
                }
            }
            for (path, _, b) in differing {
                if let Some(b) = b {
                    self.merge_one(&mut state, path.into(), b)?;
                }
            }
            for (path, b) in same {
                self.merge_one(&mut state, path, b)?;
            }
        }
        Ok((state, staged))
    }

    /// The blob the state's base tree holds at `path`, and the one the
    /// state holds there now.
    fn state_blob(
        &self,
        state: &mut State,
        path: &[u8],
    ) -> Result<(Option<ObjectId>, Option<ObjectId>), BranchError> {
        if let Some(&(base, cur)) = state.changes.get(path.as_bstr()) {
            return Ok((base, Some(cur)));
        }
        let base = state.lookup.blob(&self.repo, state.tree, path)?;
        Ok((base, base))
    }

    /// Union-merges one version of a file into the state.
    fn merge_one(&self, state: &mut State, path: BString, id: ObjectId) -> Result<(), BranchError> {
        let (base, cur) = self.state_blob(state, &path)?;
        match cur {
            None => {
                state.changes.insert(path, (base, id));
            }
            Some(cur) if cur == id => {}
            Some(cur) => {
                // As git-annex: the other version first, then ours.
                let a = self.blob(id, path.as_bstr())?;
                let b = self.blob(cur, path.as_bstr())?;
                let merged = merge::union_lines(&[&a, &b]);
                let new = if merged == a {
                    id
                } else if merged == b {
                    cur
                } else {
                    self.repo
                        .write_blob(&merged)
                        .map_err(git_err("write blob for", path.to_string()))?
                        .detach()
                };
                if new != cur {
                    state.changes.insert(path, (base, new));
                }
            }
        }
        Ok(())
    }

    fn blob(&self, id: ObjectId, path: &BStr) -> Result<Vec<u8>, BranchError> {
        let b = self
            .repo
            .find_blob(id)
            .map_err(git_err("read blob of", path.to_string()))?;
        Ok(b.data.clone())
    }

    /// Stages every journal file into the state; returns what was staged.
    ///
    /// As git-annex, stray files (names no branch path maps to, see
    /// [`Journal::stray_files`]) are staged under the path their name
    /// decodes to when that is a valid branch path (a file named for that
    /// path wins), and removed with the others once committed.
    fn stage_journal(&self, state: &mut State) -> Result<Vec<Staged>, BranchError> {
        let mut staged = Vec::new();
        let files = self.journal.files()?;
        let strays = self.journal.stray_files()?;
        if state.pack.is_none() && files.len() + strays.len() > pack::PACK_THRESHOLD {
            state.pack = Some(pack::PackWriter::new(
                &self.repo.common_dir().join("objects"),
                self.repo.object_hash(),
            )?);
        }
        for path in &files {
            let name = crate::journal::journal_file_name(path);
            let Some((content, stamp)) = self.journal.read_name_stamped(&name)? else {
                continue;
            };
            self.stage_one(state, path, &content)?;
            staged.push((name, stamp));
        }
        for name in strays {
            let Some((content, stamp)) = self.journal.read_name_stamped(&name)? else {
                continue;
            };
            let path = crate::journal::branch_path_of(&name);
            if crate::journal::is_valid_branch_path(&path) && files.binary_search(&path).is_err() {
                self.stage_one(state, &path, &content)?;
            }
            staged.push((name, stamp));
        }
        Ok(staged)
    }

    /// Stages one file's content (as it is, as git-annex does).
    fn stage_one(&self, state: &mut State, path: &[u8], content: &[u8]) -> Result<(), BranchError> {
        let id = match state.pack.as_mut() {
            Some(p) => p.write(gix::object::Kind::Blob, content)?,
            None => self
                .repo
                .write_blob(content)
                .map_err(git_err("write blob for", lossy(path)))?
                .detach(),
        };
        let (base, cur) = self.state_blob(state, path)?;
        if cur != Some(id) {
            state.changes.insert(BString::from(path), (base, id));
        }
        Ok(())
    }

    /// Stages a journal file. When git-annex's index is not current with
    /// the tip (the branch moved since the index was last updated: a push
    /// to this repository, another process's commit), the journal file was
    /// written against an older branch: as git-annex does (it stages the
    /// journal into its index, then union-merges the tip into the index),
    /// the file is the union of the tip's version and the journal's, so
    /// what the tip gained meanwhile is not lost.
    fn stage_journalled(
        &self,
        state: &mut State,
        path: &[u8],
        content: &[u8],
    ) -> Result<(), BranchError> {
        if !state.index_current
            && let (Some(tip), _) = self.state_blob(state, path)?
        {
            let theirs = self.blob(tip, path.as_bstr())?;
            let merged = merge::union_lines(&[&theirs, content]);
            return self.stage_one(state, path, &merged);
        }
        self.stage_one(state, path, content)
    }

    /// Removes the staged journal files, each only when it is still the
    /// file that was staged (same inode, size and times: every writer
    /// replaces a journal file by rename or appends to it).
    fn clear_staged(&self, lock: &JournalLock, staged: Vec<Staged>) -> Result<(), BranchError> {
        for (name, stamp) in staged {
            self.journal.remove_name_if_stamp(lock, &name, &stamp)?;
        }
        Ok(())
    }

    /// [`Branch::clear_staged`] of what [`Branch::write_journal`] staged
    /// (each record: the stamp's bytes, then the file's name).
    fn clear_staged_log(&self, lock: &JournalLock, staged: spill::Log) -> Result<(), BranchError> {
        let tmp_err = || io_err("read a temp file in", &self.annex_dir);
        for rec in staged.into_iter().map_err(tmp_err())? {
            let rec = rec.map_err(tmp_err())?;
            let (stamp, name) = rec.split_at(rec.len().min(crate::journal::Stamp::BYTES));
            if let Some(stamp) = crate::journal::Stamp::from_bytes(stamp) {
                self.journal.remove_name_if_stamp(lock, name, &stamp)?;
            }
        }
        Ok(())
    }

    /// Stages every journal file and writes the tree of the branch with
    /// them (as [`Branch::stage_journal`] then [`Branch::write_state`]),
    /// without holding the journal in memory: the journal is listed into
    /// a [`spill::Sorter`] and staged in path order, [`CHUNK_FILES`] at a
    /// time; each chunk's changes (with those of the state's base that
    /// fall before the next chunk) are written onto the tree the chunk
    /// before wrote, into a pack of their own when the journal holds more
    /// than [`pack::PACK_THRESHOLD`] files, and go to temp-file-backed
    /// logs: the changes for git-annex's index, the staged files for
    /// their removal.
    fn write_journal(&self, state: &mut State) -> Result<Written, BranchError> {
        fs::create_dir_all(&self.annex_dir).map_err(io_err("create", &self.annex_dir))?;
        let tmp_err = || io_err("use a temp file in", &self.annex_dir);
        let mut sorter = spill::Sorter::new(&self.annex_dir, spill::MEMORY_LIMIT);
        let mut failed = None;
        // Each record: the branch path, a NUL (no path holds one, so the
        // records sort as their paths), then 0 for a file named for its
        // path, or 1 and the name of a stray.
        self.journal.for_each_entry(&mut |path, stray| {
            let mut rec = path;
            rec.push(0);
            match stray {
                None => rec.push(0),
                Some(name) => {
                    rec.push(1);
                    rec.extend_from_slice(&name);
                }
            }
            match sorter.push(rec) {
                Ok(()) => true,
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(tmp_err()(e));
        }
        let sorted = sorter.finish().map_err(tmp_err())?;
        let use_pack = sorted.total() > pack::PACK_THRESHOLD;
        let mut sorted = sorted.peekable();
        let mut changes = self.spill_log()?;
        let mut staged = self.spill_log()?;
        let mut delta = 0i64;
        let mut root = state.tree;
        // The root when it was written into the pack still being written
        // (not readable from the object database yet), decoded.
        let mut root_tree: Option<gix::objs::Tree> = None;
        // The top-level names under which the pack being written has
        // trees: a chunk editing one of them again first puts the pack in
        // place (paths in order make that rare: top-level files named as
        // a directory's name with a suffix between them).
        let mut pack_tops: BTreeSet<Vec<u8>> = BTreeSet::new();
        if use_pack {
            state.pack = Some(self.new_pack()?);
        }
        // The last path staged from a file named for it: a stray decoding
        // to the same path is not staged (it comes right after, as its
        // record sorts after that file's).
        let mut last_regular: Option<Vec<u8>> = None;
        let mut last_path: Vec<u8> = Vec::new();
        loop {
            let mut n = 0;
            let mut boundary: Option<Vec<u8>> = None;
            loop {
                let next_path = match sorted.peek() {
                    None => break,
                    Some(Ok(rec)) => record_path(rec),
                    Some(Err(_)) => {
                        let e = match sorted.next() {
                            Some(Err(e)) => e,
                            _ => io::Error::other("temp file read failed"),
                        };
                        return Err(tmp_err()(e));
                    }
                };
                if n >= self.chunk_files && top_name(next_path) != top_name(&last_path) {
                    boundary = Some(next_path.to_vec());
                    break;
                }
                let Some(Ok(rec)) = sorted.next() else { break };
                n += 1;
                let path = record_path(&rec).to_vec();
                let tag = &rec[path.len() + 1..];
                if tag.first() == Some(&0) {
                    let name = crate::journal::journal_file_name(&path);
                    last_regular = Some(path.clone());
                    if let Some((content, stamp)) = self.journal.read_name_stamped(&name)? {
                        self.stage_journalled(state, &path, &content)?;
                        self.log_staged(&mut staged, &name, stamp)?;
                    }
                } else {
                    let name = tag.get(1..).unwrap_or_default();
                    if let Some((content, stamp)) = self.journal.read_name_stamped(name)? {
                        if crate::journal::is_valid_branch_path(&path)
                            && last_regular.as_deref() != Some(path.as_slice())
                        {
                            self.stage_journalled(state, &path, &content)?;
                        }
                        self.log_staged(&mut staged, name, stamp)?;
                    }
                }
                last_path = path;
            }
            // The base's changes past this chunk wait for their chunk.
            let rest = match &boundary {
                Some(b) => state.changes.split_off(b.as_bstr()),
                None => BTreeMap::new(),
            };
            match state.pack.take() {
                Some(mut p) => {
                    for (path, _) in state.changed_blobs() {
                        pack_tops.insert(top_name(path).to_vec());
                    }
                    let written = self.write_state_into(state, root, root_tree.take(), &mut p);
                    state.pack = Some(p);
                    (root, root_tree) = written?;
                }
                None => root = self.write_state_onto(state, root)?,
            }
            for (p, (base, new)) in &state.changes {
                self.log_change(&mut changes, &mut delta, p, *base, *new)?;
            }
            state.changes = rest;
            let Some(next) = boundary else { break };
            // A pack past PACK_OBJECTS objects goes in place, and so does
            // one holding trees the next chunk edits: its objects are then
            // readable, and the next ones go to a new pack.
            let full = state.pack.as_ref().is_some_and(|p| {
                p.len() >= self.pack_objects || pack_tops.contains(top_name(&next))
            });
            if full {
                if let Some(p) = state.pack.take() {
                    p.finish()?;
                }
                state.pack = Some(self.new_pack()?);
                pack_tops.clear();
                root_tree = None;
            }
        }
        // The pack goes in place before the commit refers to its trees.
        if let Some(p) = state.pack.take() {
            p.finish()?;
        }
        Ok(Written {
            tree: root,
            changes,
            delta,
            staged,
        })
    }

    /// A pack for the branch's new objects.
    fn new_pack(&self) -> Result<pack::PackWriter, BranchError> {
        pack::PackWriter::new(
            &self.repo.common_dir().join("objects"),
            self.repo.object_hash(),
        )
    }

    /// Records a staged journal file in `log`, for
    /// [`Branch::clear_staged_log`].
    fn log_staged(
        &self,
        log: &mut spill::Log,
        name: &[u8],
        stamp: crate::journal::Stamp,
    ) -> Result<(), BranchError> {
        let mut rec = stamp.to_bytes().to_vec();
        rec.extend_from_slice(name);
        log.push(&rec)
            .map_err(io_err("write a temp file in", &self.annex_dir))
    }

    /// Writes the tree of a state: the base tree edited where changed
    /// (only the subtrees leading to a change are read and written).
    fn write_state(&self, state: &mut State) -> Result<ObjectId, BranchError> {
        self.write_state_onto(state, state.tree)
    }

    /// [`Branch::write_state`] with the state's changes applied to the
    /// tree `root` rather than to the base tree (a commit in chunks
    /// applies each chunk to the tree the one before wrote).
    fn write_state_onto(&self, state: &mut State, root: ObjectId) -> Result<ObjectId, BranchError> {
        if let Some(mut p) = state.pack.take() {
            let tree = self.write_state_into(state, root, None, &mut p);
            // The pack holds blobs the tree names: it goes in place (and
            // is read from there) before anything refers to it.
            p.finish()?;
            return tree.map(|(id, _)| id);
        }
        let mut changed = state.changed_blobs().peekable();
        if changed.peek().is_none() {
            return Ok(root);
        }
        let mut ed = self
            .repo
            .edit_tree(root)
            .map_err(git_err("edit tree", root.to_string()))?;
        for (path, id) in changed {
            ed.upsert(path, gix::object::tree::EntryKind::Blob, *id)
                .map_err(git_err("stage", path.to_string()))?;
        }
        Ok(ed
            .write()
            .map_err(git_err("write tree for", FULL_NAME))?
            .detach())
    }

    /// [`Branch::write_state`] with the new trees going into a pack:
    /// the root tree and its decoded form (`root`, when given: a root
    /// written into the pack, not yet readable), and the new ones.
    fn write_state_into(
        &self,
        state: &State,
        root_id: ObjectId,
        root: Option<gix::objs::Tree>,
        pack: &mut pack::PackWriter,
    ) -> Result<(ObjectId, Option<gix::objs::Tree>), BranchError> {
        let mut changed = state.changed_blobs().peekable();
        if changed.peek().is_none() {
            return Ok((root_id, root));
        }
        let root = match root {
            Some(r) => r,
            None => self
                .repo
                .find_tree(root_id)
                .map_err(git_err("read tree", root_id.to_string()))?
                .decode()
                .map_err(git_err("decode tree", root_id.to_string()))?
                .into_owned(),
        };
        let mut ed =
            gix::objs::tree::Editor::new(root, &self.repo.objects, self.repo.object_hash());
        for (path, id) in changed {
            ed.upsert(
                path.split(|&b| b == b'/').map(|c| c.as_bstr()),
                gix::object::tree::EntryKind::Blob,
                *id,
            )
            .map_err(git_err("stage", path.to_string()))?;
        }
        let mut buf = Vec::new();
        // The editor writes the root last: its bytes are what is left.
        let id = ed.write(|tree| {
            buf.clear();
            gix::objs::WriteTo::write_to(tree, &mut buf)
                .map_err(io_err("serialize tree for", Path::new(FULL_NAME)))?;
            pack.write(gix::object::Kind::Tree, &buf)
        })?;
        let root = gix::objs::TreeRef::from_bytes(&buf, self.repo.object_hash())
            .map_err(git_err("decode tree", id.to_string()))?
            .into();
        Ok((id, Some(root)))
    }

    fn index_path(&self) -> PathBuf {
        self.annex_dir.join("index")
    }

    fn index_status_path(&self) -> PathBuf {
        self.annex_dir.join("index.lck")
    }

    /// The branch commit git-annex's index was last brought up to date
    /// with (first line of `.git/annex/index.lck`).
    fn index_sha(&self) -> Option<String> {
        let s = fs::read(self.index_status_path()).ok()?;
        let line = s.split(|&b| b == b'\n').next()?;
        Some(String::from_utf8_lossy(line).trim().to_owned())
    }

    /// Brings git-annex's branch index to `commit`, whose tree is the
    /// state's written: when the index was current with the state's base,
    /// by rewriting just the changed entries; otherwise (or when that
    /// fails) by writing it anew from the tree.
    fn update_index(
        &self,
        lock: &JournalLock,
        state: &State,
        commit: ObjectId,
        tree: ObjectId,
    ) -> Result<(), BranchError> {
        let mut log = self.spill_log()?;
        let mut delta = 0;
        for (p, (base, new)) in &state.changes {
            self.log_change(&mut log, &mut delta, p, *base, *new)?;
        }
        self.update_index_with(lock, state, commit, tree, log, delta)
    }

    /// A [`spill::Log`] whose temp file, if it needs one, goes in
    /// `.git/annex`.
    fn spill_log(&self) -> Result<spill::Log, BranchError> {
        fs::create_dir_all(&self.annex_dir).map_err(io_err("create", &self.annex_dir))?;
        Ok(spill::Log::new(&self.annex_dir, spill::MEMORY_LIMIT))
    }

    /// Records a change for git-annex's index in `log` (nothing when the
    /// blob is the base's), counting in `delta` the entries it adds.
    fn log_change(
        &self,
        log: &mut spill::Log,
        delta: &mut i64,
        path: &[u8],
        base: Option<ObjectId>,
        new: ObjectId,
    ) -> Result<(), BranchError> {
        if base == Some(new) {
            return Ok(());
        }
        let mut rec = Vec::with_capacity(path.len() + 42);
        rec.extend_from_slice(path);
        rec.push(0);
        match base {
            Some(b) => {
                rec.push(1);
                rec.extend_from_slice(b.as_bytes());
            }
            None => {
                rec.push(0);
                *delta += 1;
            }
        }
        rec.extend_from_slice(new.as_bytes());
        log.push(&rec)
            .map_err(io_err("write a temp file in", &self.annex_dir))
    }

    /// Brings git-annex's branch index to `commit`, whose tree is `tree`:
    /// when the index was current with the state's base, by rewriting
    /// just the changed entries (`changes`, as [`Branch::log_change`]
    /// recorded them, in path order; `delta` entries added); otherwise (or
    /// when that fails) by writing it anew from the tree.
    fn update_index_with(
        &self,
        lock: &JournalLock,
        state: &State,
        commit: ObjectId,
        tree: ObjectId,
        changes: spill::Log,
        delta: i64,
    ) -> Result<(), BranchError> {
        if state.index_current || state.fresh_index.is_some() {
            let _ = fs::remove_file(self.annex_dir.join("index.lock"));
            let dest = self.index_path();
            let src = match &state.fresh_index {
                Some(fresh) if !state.index_current => fresh.path().to_path_buf(),
                _ => dest.clone(),
            };
            let kind = self.repo.object_hash();
            let hash_len = kind.len_in_bytes();
            let changes = changes
                .into_iter()
                .map_err(io_err("read a temp file in", &self.annex_dir))?
                .map(|rec| {
                    let rec = rec.map_err(|e| index::IndexError::Io {
                        what: "read changes for",
                        path: dest.clone(),
                        source: e,
                    })?;
                    decode_change(&rec, hash_len).ok_or_else(|| index::IndexError::Bad {
                        path: dest.clone(),
                        detail: "a change record is damaged".to_owned(),
                    })
                });
            if index::rewrite_stream_from(&src, &dest, kind, delta, changes).is_ok() {
                return write_atomic(&self.index_status_path(), format!("{commit}\n").as_bytes());
            }
        }
        self.sync_index(lock, commit, tree)
    }

    /// Applies changes to git-annex's index, which must be current, and
    /// records that it now corresponds to `commit`. Returns whether it
    /// was done (not when the index is not as the changes expect).
    fn rewrite_index<'a>(
        &self,
        _lock: &JournalLock,
        commit: ObjectId,
        changes: impl IntoIterator<Item = index::Change<'a>>,
    ) -> Result<bool, BranchError> {
        let _ = fs::remove_file(self.annex_dir.join("index.lock"));
        if index::rewrite(&self.index_path(), self.repo.object_hash(), changes).is_err() {
            return Ok(false);
        }
        write_atomic(&self.index_status_path(), format!("{commit}\n").as_bytes())?;
        Ok(true)
    }

    /// Rewrites git-annex's branch index to the tree of `commit` and
    /// records that it corresponds to `commit`. The index is written as
    /// the tree is walked, one entry at a time.
    fn sync_index(
        &self,
        _lock: &JournalLock,
        commit: ObjectId,
        tree: ObjectId,
    ) -> Result<(), BranchError> {
        #[cfg(test)]
        tests::INDEX_REBUILDS.with(|n| n.set(n.get() + 1));
        let p = self.index_path();
        fs::create_dir_all(&self.annex_dir).map_err(io_err("create", &self.annex_dir))?;
        // Only git-annex and we modify this index, both under the journal
        // lock (held here), so a leftover lock is stale.
        let _ = fs::remove_file(self.annex_dir.join("index.lock"));
        if self.write_index_from_tree(&p, tree).is_err() {
            // A tree whose entries are out of order (not written by git):
            // gix sorts them. The paths are checked with the rules of git
            // on this platform, not another's (`?` is fine on Unix).
            let validate = gix::validate::path::component::Options {
                protect_windows: cfg!(windows),
                protect_hfs: cfg!(target_os = "macos"),
                protect_ntfs: true,
            };
            let state = gix::index::State::from_tree(&tree, &self.repo.objects, validate)
                .map_err(git_err("build index from tree", tree.to_string()))?;
            let mut file = gix::index::File::from_state(state, p.clone());
            file.write(Default::default())
                .map_err(git_err("write index", p.display().to_string()))?;
        }
        write_atomic(&self.index_status_path(), format!("{commit}\n").as_bytes())
    }

    /// Writes the index of a tree, walking it.
    fn write_index_from_tree(&self, dest: &Path, tree: ObjectId) -> Result<(), BranchError> {
        let mut w = index::Writer::new(dest, self.repo.object_hash(), None)
            .map_err(|e| index_err(dest, e))?;
        diff::walk_tree(&self.repo, tree, &mut Vec::new(), &mut |path, id, mode| {
            let Some(m) = index_mode(mode) else {
                return Ok(());
            };
            w.push(path, &id, m, 0).map_err(|e| index_err(dest, e))
        })?;
        w.finish().map_err(|e| index_err(dest, e))
    }

    /// Calls `f` with every path of the branch, committed or only
    /// journalled, in sorted order, each once; stops at the first error
    /// `f` returns and returns it. The tree is walked one tree at a time
    /// and merged with the journal's list (sorted), so memory does not
    /// grow with the number of committed files.
    pub fn for_each_path<E: From<BranchError>>(
        &self,
        mut f: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut journalled = self.journal.files().map_err(BranchError::from)?;
        if self.private_known {
            journalled.extend(self.journal.private_files().map_err(BranchError::from)?);
            journalled.sort_unstable();
            journalled.dedup();
        }
        let mut next = 0;
        let mut failed: Option<E> = None;
        let mut emit = |p: &[u8], failed: &mut Option<E>| -> Result<(), BranchError> {
            match f(p) {
                Ok(()) => Ok(()),
                Err(e) => {
                    *failed = Some(e);
                    // Ends the walk; never returned (`failed` is).
                    Err(BranchError::Raced(
                        "the walk of the branch's paths".to_owned(),
                    ))
                }
            }
        };
        let tip = self.tip()?;
        if let Some(t) = tip {
            let tree = self.commit_tree(t)?;
            // Tree order is the paths' byte order (a directory sorts as
            // its name and a `/`), so the walk's paths come sorted.
            let walked =
                diff::walk_tree(&self.repo, tree, &mut Vec::new(), &mut |path, _, mode| {
                    if !mode.is_blob() {
                        return Ok(());
                    }
                    while let Some(j) = journalled.get(next).filter(|j| j.as_slice() < path) {
                        emit(j, &mut failed)?;
                        next += 1;
                    }
                    if journalled.get(next).is_some_and(|j| j.as_slice() == path) {
                        next += 1;
                    }
                    emit(path, &mut failed)
                });
            if let Some(e) = failed.take() {
                return Err(e);
            }
            walked?;
        }
        for j in journalled.get(next..).unwrap_or_default() {
            if emit(j, &mut failed).is_err() {
                return Err(failed.take().unwrap_or_else(|| {
                    BranchError::Raced("the walk of the branch's paths".to_owned()).into()
                }));
            }
        }
        Ok(())
    }

    /// Calls `f(path, content)` for every file of the branch whose path
    /// `select` accepts, with the journal laid over (as [`Branch::get`]),
    /// in one walk of the tree (one tree read at a time, nothing of the
    /// whole kept); journalled files not yet in the branch come too. Each
    /// path is visited once.
    pub fn for_each_file(
        &self,
        mut select: impl FnMut(&[u8]) -> bool,
        mut f: impl FnMut(&[u8], &[u8]),
    ) -> Result<(), BranchError> {
        let mut journalled: BTreeSet<Vec<u8>> = self.journal.files()?.into_iter().collect();
        if self.private_known {
            journalled.extend(self.journal.private_files()?);
        }
        if let Some(t) = self.tip()? {
            diff::walk_tree(
                &self.repo,
                self.commit_tree(t)?,
                &mut Vec::new(),
                &mut |path, id, mode| {
                    if !mode.is_blob() || !select(path) {
                        return Ok(());
                    }
                    if journalled.remove(path) {
                        let c = self.get(path)?;
                        f(path, &c);
                    } else {
                        let c = self.blob(id, path.as_bstr())?;
                        f(path, &c);
                    }
                    Ok(())
                },
            )?;
        }
        for path in journalled {
            if select(&path) {
                let c = self.get(&path)?;
                f(&path, &c);
            }
        }
        Ok(())
    }

    /// The other `git-annex` branches this repository knows: every ref
    /// whose last component is `git-annex`, in ref name order, each commit
    /// once (as git-annex lists them with `git show-ref git-annex`), less
    /// the branch itself and refs at the same commit as it.
    pub fn sibling_refs(&self) -> Result<Vec<(ObjectId, String)>, BranchError> {
        let platform = self
            .repo
            .references()
            .map_err(git_err("list refs", "refs/"))?;
        let iter = platform.all().map_err(git_err("list refs", "refs/"))?;
        let mut all: Vec<(String, ObjectId)> = Vec::new();
        for r in iter {
            // A broken ref is no branch to merge; git-annex skips it too.
            let Ok(mut r) = r else { continue };
            let name = r.name().as_bstr().to_string();
            if !name.ends_with("/git-annex") {
                continue;
            }
            let Ok(id) = r.peel_to_id() else { continue };
            all.push((name, id.detach()));
        }
        all.sort();
        let mut out: Vec<(ObjectId, String)> = Vec::new();
        let mut seen = BTreeSet::new();
        for (name, id) in all {
            if seen.insert(id) && name != FULL_NAME {
                out.push((id, name));
            }
        }
        Ok(out)
    }

    /// Merges every sibling `git-annex` branch with changes not yet in the
    /// branch (unless `annex.merge-annex-branches` is false), as git-annex
    /// does before it reads the branch.
    pub fn update(&self) -> Result<MergeOutcome, BranchError> {
        let merge_branches = self
            .repo
            .config_snapshot()
            .boolean("annex.merge-annex-branches");
        if merge_branches == Some(false) {
            return Ok(MergeOutcome::default());
        }
        let refs = self.sibling_refs()?;
        self.merge(&refs)
    }

    /// Merges the given refs (commit, name) into the branch: fast-forward
    /// when possible and the journal is clean, else a union-merge commit
    /// whose parents are the branch and the refs. Refs with nothing new are
    /// skipped; the merged refs are recorded in `.git/annex/mergedrefs`.
    pub fn merge(&self, refs: &[(ObjectId, String)]) -> Result<MergeOutcome, BranchError> {
        let tip = self.create()?;
        let ignored = self.read_ref_list("ignoredrefs");
        let merged_before = self.read_ref_list("mergedrefs");
        let mut tomerge = Vec::new();
        let mut notnewer = Vec::new();
        for (id, name) in refs {
            if ignored.contains(id) || merged_before.contains(id) {
                continue;
            }
            if self.changed(tip, *id)? {
                tomerge.push((*id, name.clone()));
            } else {
                notnewer.push((*id, name.clone()));
            }
        }
        let mut outcome = MergeOutcome::default();
        if tomerge.is_empty() {
            self.add_merged_refs(&notnewer)?;
            return Ok(outcome);
        }
        let lock = self.journal.lock()?;
        if let Some(plan) = self.transition_plan(&tomerge)? {
            for _attempt in 0..20 {
                let tip = self.create_locked(&lock)?;
                let Some(c) = self.transition_attempt(&lock, tip, &tomerge, &plan)? else {
                    continue;
                };
                self.add_ignored_refs(&plan.untransitioned)?;
                outcome.new_tip = Some(c);
                outcome.merged = tomerge.clone();
                let mut all = tomerge;
                all.extend(notnewer);
                self.add_merged_refs(&all)?;
                return Ok(outcome);
            }
            return Err(BranchError::Raced(FULL_NAME.to_owned()));
        }
        let (tomerge, skipped) = self.split_by_transitions(tomerge)?;
        outcome.skipped = skipped;
        if tomerge.is_empty() {
            self.add_merged_refs(&notnewer)?;
            return Ok(outcome);
        }
        // The branch may move under us (a push into it, a git-annex
        // process not taking the journal lock): the ref update is a
        // compare-and-swap, and a lost race is retried from the new tip,
        // as commits are.
        for _attempt in 0..20 {
            let tip = self.create_locked(&lock)?;
            let Some((new_tip, ff)) = self.merge_attempt(&lock, tip, &tomerge)? else {
                continue;
            };
            outcome.fast_forwarded = ff && new_tip != tip;
            outcome.new_tip = (new_tip != tip).then_some(new_tip);
            outcome.merged = tomerge.clone();
            let mut all = tomerge;
            all.extend(notnewer);
            self.add_merged_refs(&all)?;
            return Ok(outcome);
        }
        Err(BranchError::Raced(FULL_NAME.to_owned()))
    }

    /// One attempt at merging `tomerge` into the branch at `tip`: the new
    /// tip and whether it was a fast-forward, or `None` when the branch
    /// moved meanwhile (nothing was changed then).
    fn merge_attempt(
        &self,
        lock: &JournalLock,
        tip: ObjectId,
        tomerge: &[(ObjectId, String)],
    ) -> Result<Option<(ObjectId, bool)>, BranchError> {
        let dirty = self.journal.is_dirty()?;
        let ids: Vec<ObjectId> = tomerge.iter().map(|(i, _)| *i).collect();
        let ff_target = if dirty {
            None
        } else {
            self.fast_forward_target(tip, &ids)?
        };
        if let Some(target) = ff_target {
            if target == tip {
                return Ok(Some((tip, true)));
            }
            let index_current = self.index_sha().as_deref() == Some(tip.to_string().as_str());
            #[cfg(test)]
            tests::before_ref_update(self);
            if !self.set_ref(target, Some(tip), "merging: fast-forward")? {
                return Ok(None);
            }
            let tree = self.commit_tree(target)?;
            if index_current {
                // The index follows the tree's differences only.
                let mut differing: Vec<diff::Changed> = Vec::new();
                diff::diff_trees(
                    &self.repo,
                    Some(self.commit_tree(tip)?),
                    Some(tree),
                    &mut Vec::new(),
                    &mut differing,
                )?;
                differing.sort_by(|a, b| a.0.cmp(&b.0));
                let changes = differing.iter().map(|(p, a, b)| (p.as_slice(), *a, *b));
                if self.rewrite_index(lock, target, changes)? {
                    return Ok(Some((target, true)));
                }
            }
            self.sync_index(lock, target, tree)?;
            return Ok(Some((target, true)));
        }
        let (mut state, staged) = self.union_state(tip, dirty, tomerge)?;
        let tree = self.write_state(&mut state)?;
        let names: Vec<&str> = tomerge.iter().map(|(_, n)| describe_ref(n)).collect();
        let message = format!("merging {} into {NAME}", names.join(" "));
        let mut parents = vec![tip];
        for id in &ids {
            if !parents.contains(id) {
                parents.push(*id);
            }
        }
        let c = self.write_commit(tree, &parents, &message)?;
        #[cfg(test)]
        tests::before_ref_update(self);
        if !self.set_ref(c, Some(tip), &message)? {
            return Ok(None);
        }
        self.update_index(lock, &state, c, tree)?;
        self.clear_staged(lock, staged)?;
        Ok(Some((c, false)))
    }

    /// Forgets the branch's git history, as `git annex forget` does:
    /// `transitions` (`ForgetGitHistory CLOCK`, and `ForgetDeadRemotes
    /// CLOCK` for `--drop-dead`, which then also removes what every log
    /// says of dead repositories: [`crate::logs::transition`]) are added
    /// to `transitions.log` and the branch, with the journal, becomes one
    /// new commit without parents (`new branch for transition forget git
    /// history`). Returns the commit.
    pub fn forget_history(&self, transitions: &[Vec<u8>]) -> Result<ObjectId, BranchError> {
        let lock = self.journal.lock()?;
        let log = match self.journal.read(b"transitions.log")? {
            Some(c) => c,
            None => self.committed(b"transitions.log")?.unwrap_or_default(),
        };
        let log = add_transitions(&log, transitions);
        self.journal.write(&lock, b"transitions.log", &log)?;
        let lines: BTreeSet<Vec<u8>> = transitions.iter().cloned().collect();
        let plan = TransitionPlan {
            transitioned: Vec::new(),
            untransitioned: Vec::new(),
            new_branch: true,
            message: format!("new branch for transition {}", describe_transitions(&lines)),
            drop_dead: drops_dead(&lines),
        };
        for _attempt in 0..20 {
            let tip = self.create_locked(&lock)?;
            if let Some(c) = self.transition_attempt(&lock, tip, &[], &plan)? {
                return Ok(c);
            }
        }
        Err(BranchError::Raced(FULL_NAME.to_owned()))
    }

    /// Keeps `tree` reachable from the branch, as git-annex's
    /// `rememberTreeish` does: a commit `graft` whose tree is the branch's
    /// with `tree` at `graft_point`, then a commit `graft cleanup` on top
    /// of it with the branch's tree again (so the files of the branch do
    /// not change). Returns the new tip. git-annex's index stays current
    /// when it was (the tree is the same).
    pub fn remember_tree(
        &self,
        tree: ObjectId,
        graft_point: &str,
    ) -> Result<ObjectId, BranchError> {
        let lock = self.journal.lock()?;
        for _attempt in 0..20 {
            let tip = self.create_locked(&lock)?;
            let orig = self.commit_tree(tip)?;
            let mut ed = self
                .repo
                .edit_tree(orig)
                .map_err(git_err("edit tree", orig.to_string()))?;
            ed.upsert(graft_point, gix::object::tree::EntryKind::Tree, tree)
                .map_err(git_err("graft", graft_point.to_owned()))?;
            let added = ed
                .write()
                .map_err(git_err("write tree for", FULL_NAME))?
                .detach();
            let graft = self.write_commit(added, &[tip], "graft")?;
            let cleanup = self.write_commit(orig, &[graft], "graft cleanup")?;
            let index_current = self.index_sha().as_deref() == Some(tip.to_string().as_str());
            if self.set_ref(cleanup, Some(tip), "graft cleanup")? {
                if index_current {
                    write_atomic(&self.index_status_path(), format!("{cleanup}\n").as_bytes())?;
                }
                return Ok(cleanup);
            }
        }
        Err(BranchError::Raced(FULL_NAME.to_owned()))
    }

    /// When the transitions of the refs to merge differ from the branch's
    /// and git-annex's handling of them can be done here, what to do:
    /// `ForgetGitHistory` (it changes no file) and `ForgetDeadRemotes`
    /// (every log rewritten without the dead repositories), and not when
    /// `export.log` exists (git-annex re-grafts exported trees then).
    /// `None` when the transitions are all the same, or cannot be done.
    fn transition_plan(&self, refs: &[NamedRef]) -> Result<Option<TransitionPlan>, BranchError> {
        let local = transitions(&self.get(b"transitions.log")?);
        let mut theirs = Vec::with_capacity(refs.len());
        for (id, _) in refs {
            let t = transitions(&self.file_at(*id, b"transitions.log")?.unwrap_or_default());
            theirs.push((*id, t));
        }
        if theirs.iter().all(|(_, t)| *t == local) {
            return Ok(None);
        }
        let mut all = local.clone();
        for (_, t) in &theirs {
            all.extend(t.iter().cloned());
        }
        if !all.iter().all(|l| {
            matches!(
                l.split(|&b| b == b' ').next(),
                Some(b"ForgetGitHistory" | b"ForgetDeadRemotes")
            )
        }) {
            return Ok(None);
        }
        if !self.get(b"export.log")?.is_empty() {
            return Ok(None);
        }
        for (id, _) in refs {
            if self.file_at(*id, b"export.log")?.is_some() {
                return Ok(None);
            }
        }
        let new_branch = local != all;
        let transitioned: Vec<ObjectId> = theirs
            .iter()
            .filter(|(_, t)| *t == all)
            .map(|(i, _)| *i)
            .collect();
        let mut untransitioned: Vec<String> = theirs
            .iter()
            .filter(|(_, t)| *t != all)
            .map(|(i, _)| i.to_string())
            .collect();
        // git-annex counts the branch itself among the refs merged, and
        // records it by name when it lacks the transitions (a line that
        // names no sha, so it ignores nothing).
        if new_branch {
            untransitioned.push(FULL_NAME.to_owned());
        }
        let desc = describe_transitions(&all);
        let message = if new_branch && transitioned.is_empty() {
            format!("new branch for transition {desc}")
        } else {
            format!("continuing transition {desc}")
        };
        Ok(Some(TransitionPlan {
            transitioned,
            untransitioned,
            new_branch,
            message,
            drop_dead: drops_dead(&all),
        }))
    }

    /// One attempt at merging refs with transitions, as git-annex does:
    /// everything (branch, journal, every ref) is union-merged, and the
    /// result committed with the transitioned refs as parents, on top of
    /// the branch when it already had the transitions, else as a new
    /// branch without its history. `None` when the branch moved meanwhile.
    fn transition_attempt(
        &self,
        lock: &JournalLock,
        tip: ObjectId,
        tomerge: &[NamedRef],
        plan: &TransitionPlan,
    ) -> Result<Option<ObjectId>, BranchError> {
        let dirty = self.journal.is_dirty()?;
        let (mut state, staged) = self.union_state(tip, dirty, tomerge)?;
        let mut tree = self.write_state(&mut state)?;
        if plan.drop_dead {
            tree = self.drop_dead_tree(tree)?;
        }
        let mut parents = Vec::new();
        if !plan.new_branch {
            parents.push(tip);
        }
        for id in &plan.transitioned {
            if !parents.contains(id) {
                parents.push(*id);
            }
        }
        let c = self.write_commit(tree, &parents, &plan.message)?;
        if !self.set_ref(c, Some(tip), &plan.message)? {
            return Ok(None);
        }
        if plan.drop_dead {
            // Files changed beyond the state's changes: the index is
            // written anew from the tree.
            self.sync_index(lock, c, tree)?;
        } else {
            self.update_index(lock, &state, c, tree)?;
        }
        self.clear_staged(lock, staged)?;
        Ok(Some(c))
    }

    /// `tree` with the `ForgetDeadRemotes` transition applied to every
    /// file ([`crate::logs::transition::drop_dead`]), the dead
    /// repositories read from its own `trust.log` and `remote.log`. The
    /// files are read one at a time; only the changes are kept in memory.
    fn drop_dead_tree(&self, tree: ObjectId) -> Result<ObjectId, BranchError> {
        use crate::logs::transition::{DeadSet, Rewrite, drop_dead};
        let at = |path: &str| -> Result<Vec<u8>, BranchError> {
            Ok(self
                .file_in_tree(tree, path.as_bytes())?
                .unwrap_or_default())
        };
        let dead = DeadSet::from_logs(&at("trust.log")?, &at("remote.log")?);
        let mut edits: Vec<(Vec<u8>, Option<ObjectId>)> = Vec::new();
        let mut prefix = Vec::new();
        diff::walk_tree(&self.repo, tree, &mut prefix, &mut |path, id, _mode| {
            let content = self.blob(id, path.as_bstr())?;
            if let Rewrite::Change(new) = drop_dead(path, &content, &dead)
                && new != content
            {
                let new_id = if new.is_empty() {
                    None
                } else {
                    Some(
                        self.repo
                            .write_blob(&new)
                            .map_err(git_err("write blob for", path.as_bstr().to_string()))?
                            .detach(),
                    )
                };
                edits.push((path.to_vec(), new_id));
            }
            Ok(())
        })?;
        if edits.is_empty() {
            return Ok(tree);
        }
        let mut ed = self
            .repo
            .edit_tree(tree)
            .map_err(git_err("edit tree", tree.to_string()))?;
        for (path, id) in edits {
            let path = path.as_bstr();
            match id {
                Some(id) => ed
                    .upsert(path, gix::object::tree::EntryKind::Blob, id)
                    .map(|_| ())
                    .map_err(git_err("stage", path.to_string()))?,
                None => ed
                    .remove(path)
                    .map(|_| ())
                    .map_err(git_err("remove", path.to_string()))?,
            }
        }
        Ok(ed
            .write()
            .map_err(git_err("write tree for", FULL_NAME))?
            .detach())
    }

    /// Splits the refs to merge into those whose transitions are the
    /// branch's (merged as usual) and the others, left unmerged and not
    /// recorded anywhere: git-annex would perform the transitions (and
    /// merge what it keeps of every ref), and still can, so nothing is
    /// lost or ignored for good. Used when [`Branch::transition_plan`]
    /// cannot do what git-annex does.
    fn split_by_transitions(
        &self,
        refs: Vec<NamedRef>,
    ) -> Result<(Vec<NamedRef>, Vec<SkippedRef>), BranchError> {
        let local = transitions(&self.get(b"transitions.log")?);
        let mut keep = Vec::new();
        let mut skipped = Vec::new();
        for (id, name) in refs {
            let t = transitions(&self.file_at(id, b"transitions.log")?.unwrap_or_default());
            if t == local {
                keep.push((id, name));
            } else {
                skipped.push(SkippedRef { id, name });
            }
        }
        Ok((keep, skipped))
    }

    /// Adds refs to `.git/annex/ignoredrefs` (one a line, sorted, each
    /// once, as git-annex writes it: of the lines already there, only the
    /// shas are kept).
    fn add_ignored_refs(&self, new: &[String]) -> Result<(), BranchError> {
        if new.is_empty() {
            return Ok(());
        }
        let path = self.annex_dir.join("ignoredrefs");
        let mut all: BTreeSet<Vec<u8>> = self
            .read_ref_list("ignoredrefs")
            .iter()
            .map(|i| i.to_string().into_bytes())
            .collect();
        all.extend(new.iter().map(|r| r.as_bytes().to_vec()));
        let mut out = Vec::new();
        for l in all {
            out.extend_from_slice(&l);
            out.push(b'\n');
        }
        write_atomic(&path, &out)
    }

    /// Whether `new` has commits that `orig` lacks.
    fn changed(&self, orig: ObjectId, new: ObjectId) -> Result<bool, BranchError> {
        if orig == new {
            return Ok(false);
        }
        let base = self
            .repo
            .merge_base(orig, new)
            .map_err(git_err("find merge base of", format!("{orig} {new}")))?;
        Ok(base.map(|b| b.detach()) != Some(new))
    }

    /// git-annex's fast-forward rule: the branch has nothing the first ref
    /// lacks, and one ref contains all the others.
    fn fast_forward_target(
        &self,
        branch: ObjectId,
        refs: &[ObjectId],
    ) -> Result<Option<ObjectId>, BranchError> {
        let Some((&first, rest)) = refs.split_first() else {
            return Ok(None);
        };
        if self.changed(first, branch)? {
            return Ok(None);
        }
        let mut best = first;
        for &r in rest {
            if r == best {
                continue;
            }
            let better = self.changed(best, r)?;
            let worse = self.changed(r, best)?;
            match (better, worse) {
                (true, true) => return Ok(None),
                (true, false) => best = r,
                _ => {}
            }
        }
        Ok(Some(best))
    }

    fn read_ref_list(&self, file: &str) -> BTreeSet<ObjectId> {
        let Ok(s) = fs::read(self.annex_dir.join(file)) else {
            return BTreeSet::new();
        };
        s.split(|&b| b == b'\n')
            .filter_map(|l| {
                let sha = l.split(|&b| b == b'\t').next()?;
                ObjectId::from_hex(sha.trim_ascii()).ok()
            })
            .collect()
    }

    /// Records refs in `.git/annex/mergedrefs` (newest sha per ref name).
    fn add_merged_refs(&self, new: &[(ObjectId, String)]) -> Result<(), BranchError> {
        if new.is_empty() {
            return Ok(());
        }
        let path = self.annex_dir.join("mergedrefs");
        let old = fs::read(&path).unwrap_or_default();
        let mut seen = BTreeSet::new();
        let mut out = String::new();
        let old_entries = old.split(|&b| b == b'\n').filter_map(|l| {
            let l = std::str::from_utf8(l).ok()?;
            let (s, b) = l.split_once('\t')?;
            Some((s.to_owned(), b.to_owned()))
        });
        let entries = new
            .iter()
            .map(|(i, n)| (i.to_string(), n.clone()))
            .chain(old_entries);
        for (sha, name) in entries {
            if seen.insert(name.clone()) {
                out.push_str(&sha);
                out.push('\t');
                out.push_str(&name);
                out.push('\n');
            }
        }
        write_atomic(&path, out.as_bytes())
    }
}

/// The branch name git-annex shows for a ref (`refs/heads/` or
/// `refs/remotes/` removed).
fn describe_ref(name: &str) -> &str {
    name.strip_prefix("refs/heads/")
        .or_else(|| name.strip_prefix("refs/remotes/"))
        .unwrap_or(name)
}

/// The transitions of a `transitions.log`: its lines (transition and the
/// time it was started, compared whole as git-annex does), each once.
fn transitions(log: &[u8]) -> BTreeSet<Vec<u8>> {
    log.split(|&b| b == b'\n')
        .map(|l| l.trim_ascii())
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.split(|b| b.is_ascii_whitespace())
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(&b' ')
        })
        .collect()
}

/// The UUIDs of the repositories configured private: this one when
/// `annex.private` is true (its `annex.uuid`), and each remote with
/// `remote.NAME.annex-private` true (its `annex-config-uuid`, else its
/// `annex-uuid`). Only when there is one does git-annex read the private
/// journal.
fn private_uuids(repo: &gix::Repository) -> BTreeSet<String> {
    let snap = repo.config_snapshot();
    let mut out = BTreeSet::new();
    if snap.boolean("annex.private") == Some(true)
        && let Some(u) = snap.string("annex.uuid")
    {
        out.insert(u.to_string());
    }
    let is_true = |v: &BStr| {
        gix::config::Boolean::try_from(v)
            .map(|b| b.0)
            .unwrap_or(false)
    };
    if let Some(secs) = snap.plumbing().sections_by_name("remote") {
        for s in secs {
            if !s
                .value("annex-private")
                .is_some_and(|v| is_true(v.as_bstr()))
            {
                continue;
            }
            if let Some(u) = s
                .value("annex-config-uuid")
                .or_else(|| s.value("annex-uuid"))
            {
                out.insert(u.to_string());
            }
        }
    }
    out
}

/// A ref to merge: its commit and name.
type NamedRef = (ObjectId, String);

/// How refs whose transitions differ are merged (see
/// [`Branch::transition_plan`]).
struct TransitionPlan {
    /// The refs having all the transitions: the parents of the result.
    transitioned: Vec<ObjectId>,
    /// The refs lacking some: merged once, then ignored (as they go to
    /// `.git/annex/ignoredrefs`).
    untransitioned: Vec<String>,
    /// Whether the branch lacks some: the result then starts a new branch.
    new_branch: bool,
    /// The commit message.
    message: String,
    /// Whether `ForgetDeadRemotes` is among the transitions: every file
    /// is then rewritten without the dead repositories.
    drop_dead: bool,
}

/// `transitions.log` with `new` lines (`TRANSITION CLOCK`) added, as
/// git-annex writes it: a set of lines, each once, sorted by clock, then
/// transition (unknown ones first, then `ForgetGitHistory`, then
/// `ForgetDeadRemotes`); lines that do not parse are kept at the end.
fn add_transitions(log: &[u8], new: &[Vec<u8>]) -> Vec<u8> {
    let rank = |name: &[u8]| match name {
        b"ForgetGitHistory" => 1,
        b"ForgetDeadRemotes" => 2,
        _ => 0,
    };
    let mut lines: BTreeSet<(crate::timestamp::Timestamp, u8, Vec<u8>)> = BTreeSet::new();
    let mut unparsed: Vec<&[u8]> = Vec::new();
    for line in crate::logs::format::lines(log).chain(new.iter().map(Vec::as_slice)) {
        let parsed = line.iter().position(|&b| b == b' ').and_then(|i| {
            let clock = crate::timestamp::Timestamp::parse(&line[i + 1..]).ok()?;
            Some((clock, rank(&line[..i]), line.to_vec()))
        });
        match parsed {
            Some(l) => {
                lines.insert(l);
            }
            None if !unparsed.contains(&line) => unparsed.push(line),
            None => {}
        }
    }
    let mut out = Vec::new();
    for l in lines.iter().map(|(_, _, l)| l.as_slice()).chain(unparsed) {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}

/// The transitions of `transitions.log` lines as git-annex names them in
/// its commit messages, in its order (`forget git history, forget dead
/// remotes`).
fn describe_transitions(lines: &BTreeSet<Vec<u8>>) -> String {
    let has = |name: &[u8]| {
        lines
            .iter()
            .any(|l| l.split(|&b| b == b' ').next() == Some(name))
    };
    let mut out = Vec::new();
    if has(b"ForgetGitHistory") {
        out.push("forget git history");
    }
    if has(b"ForgetDeadRemotes") {
        out.push("forget dead remotes");
    }
    out.join(", ")
}

/// Whether the transitions include `ForgetDeadRemotes`.
fn drops_dead(lines: &BTreeSet<Vec<u8>>) -> bool {
    lines
        .iter()
        .any(|l| l.split(|&b| b == b' ').next() == Some(&b"ForgetDeadRemotes"[..]))
}

/// A journal file staged for commit: its file name and the stamp of the
/// file staged.
type Staged = (Vec<u8>, crate::journal::Stamp);

/// What [`Branch::write_journal`] wrote: the new tree, the changes from
/// the base tree (for git-annex's index) and how many entries they add,
/// and the journal files staged.
struct Written {
    tree: ObjectId,
    changes: spill::Log,
    delta: i64,
    staged: spill::Log,
}

/// How many objects a commit in chunks writes into one pack before it
/// starts another: what the pack writer keeps per object (its id, offset
/// and checksum, for the pack's index) stays within a few tens of MB.
const PACK_OBJECTS: usize = 300_000;

/// The first component of a branch path.
fn top_name(path: &[u8]) -> &[u8] {
    let end = memchr::memchr(b'/', path).unwrap_or(path.len());
    &path[..end]
}

/// The path of a journal listing's record (up to its first NUL).
fn record_path(rec: &[u8]) -> &[u8] {
    let end = memchr::memchr(0, rec).unwrap_or(rec.len());
    &rec[..end]
}

/// A change recorded by [`Branch::log_change`]: path, base blob, new
/// blob; `None` when the record is not one (ids of `hash_len` bytes).
fn decode_change(rec: &[u8], hash_len: usize) -> Option<index::OwnedChange> {
    let path = record_path(rec);
    let rest = rec.get(path.len() + 1..)?;
    let (&has_base, rest) = rest.split_first()?;
    let (base, new) = if has_base == 1 {
        (Some(rest.get(..hash_len)?), rest.get(hash_len..)?)
    } else {
        (None, rest)
    };
    let id = |b: &[u8]| gix::hash::oid::try_from_bytes(b).ok().map(|o| o.to_owned());
    let base = match base {
        Some(b) => Some(id(b)?),
        None => None,
    };
    Some((path.to_vec(), base, Some(id(new)?)))
}

/// The files of the branch as they will be committed: a base tree and
/// what differs from it.
struct State {
    /// The base tree (the tip's).
    tree: ObjectId,
    /// Whether git-annex's index held the base tree (`index.lck` names
    /// the tip): then it is brought to the new tree by applying `changes`.
    index_current: bool,
    /// The files that differ from the base tree: path → (the blob the
    /// base tree holds there, the new blob).
    changes: BTreeMap<BString, (Option<ObjectId>, ObjectId)>,
    /// Lookups in the base tree.
    lookup: PathLookup,
    /// Where new blobs and trees go when the commit stages many files:
    /// one pack rather than a loose object each.
    pack: Option<pack::PackWriter>,
    /// When git-annex's index was stale: an index of the base tree,
    /// written during the walk that compared the two (in a temp file), to
    /// which the changes are then applied.
    fresh_index: Option<tempfile::NamedTempFile>,
}

impl State {
    /// The paths whose new blob differs from the base tree's, with it.
    fn changed_blobs(&self) -> impl Iterator<Item = (&BString, &ObjectId)> {
        self.changes
            .iter()
            .filter(|(_, (base, new))| *base != Some(*new))
            .map(|(path, (_, new))| (path, new))
    }
}

/// A decoded tree: its entries sorted by name.
type TreeEntries = Vec<(Vec<u8>, ObjectId, gix::object::tree::EntryMode)>;

/// Looks up files in trees by path, keeping the last tree decoded at each
/// depth: lookups in path order (the journal's) read each tree once.
#[derive(Default)]
struct PathLookup {
    levels: Vec<(ObjectId, TreeEntries)>,
}

impl PathLookup {
    /// The blob at `path` in `tree`, if any.
    fn blob(
        &mut self,
        repo: &gix::Repository,
        tree: ObjectId,
        path: &[u8],
    ) -> Result<Option<ObjectId>, BranchError> {
        let mut cur = tree;
        let mut parts = path.split(|&b| b == b'/').peekable();
        let mut depth = 0;
        while let Some(name) = parts.next() {
            let entries = self.level(repo, depth, cur)?;
            let Ok(i) = entries.binary_search_by(|e| e.0.as_slice().cmp(name)) else {
                return Ok(None);
            };
            let (_, id, mode) = &entries[i];
            if parts.peek().is_none() {
                return Ok(mode.is_blob().then_some(*id));
            }
            if !mode.is_tree() {
                return Ok(None);
            }
            cur = *id;
            depth += 1;
        }
        Ok(None)
    }

    /// The entries of tree `id`, the one at `depth` of the path looked up.
    fn level(
        &mut self,
        repo: &gix::Repository,
        depth: usize,
        id: ObjectId,
    ) -> Result<&TreeEntries, BranchError> {
        if self.levels.get(depth).is_none_or(|(t, _)| *t != id) {
            let data = diff::tree_data(repo, id)?;
            let mut entries = Vec::new();
            for e in diff::entries(repo, id, &data) {
                let e = e?;
                entries.push((e.filename.to_vec(), e.oid.to_owned(), e.mode));
            }
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            self.levels.truncate(depth);
            self.levels.push((id, entries));
        }
        Ok(&self.levels[depth].1)
    }
}

/// What [`Branch::index_extras`] finds: the index's differences from the
/// tree, and an index of the tree in a temp file.
type IndexExtras = (Vec<(BString, ObjectId)>, Option<tempfile::NamedTempFile>);

/// The index mode of a tree entry (`None` for a tree).
fn index_mode(mode: gix::object::tree::EntryMode) -> Option<u32> {
    use gix::object::tree::EntryKind;
    match mode.kind() {
        EntryKind::Tree => None,
        EntryKind::Blob => Some(0o100_644),
        EntryKind::BlobExecutable => Some(0o100_755),
        EntryKind::Link => Some(0o120_000),
        EntryKind::Commit => Some(0o160_000),
    }
}

/// An error of git-annex's branch index, as a branch error.
fn index_err(path: &Path, e: index::IndexError) -> BranchError {
    match e {
        index::IndexError::Io { what, path, source } => BranchError::Io { what, path, source },
        other => BranchError::Io {
            what: "write index",
            path: path.to_path_buf(),
            source: io::Error::other(other.to_string()),
        },
    }
}

/// Writes a file of `.git/annex` atomically (temp file in the same
/// directory, then rename).
pub(crate) fn write_atomic(path: &Path, content: &[u8]) -> Result<(), BranchError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp")
        .tempfile_in(dir)
        .map_err(io_err("create temp file in", dir))?;
    tmp.write_all(content).map_err(io_err("write", path))?;
    #[cfg(unix)]
    {
        // Keep the mode of the file replaced; new files get 0644, and the
        // group's write permission in a shared repository (the temp file
        // would otherwise keep its private 0600).
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or_else(|_| crate::perms::new_file_mode());
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(mode))
            .map_err(io_err("chmod", tmp.path()))?;
    }
    tmp.persist(path).map_err(|e| BranchError::Io {
        what: "rename into",
        path: path.to_path_buf(),
        source: e.error,
    })?;
    Ok(())
}

/// The user name git-annex uses: `$USER`, `$LOGNAME`, the passwd entry of
/// the effective user, or `unknown`.
pub(crate) fn user_name() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Ok(v) = std::env::var(var) {
            return v;
        }
    }
    let uid = rustix::process::geteuid().as_raw();
    if let Ok(passwd) = fs::read_to_string("/etc/passwd") {
        for line in passwd.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() > 2 && f[2].parse::<u32>().ok() == Some(uid) {
                return f[0].to_owned();
            }
        }
    }
    "unknown".to_owned()
}

/// A ref update of ours under way: gix takes `refs/heads/git-annex.lock`
/// and, when the repository has one, `packed-refs.lock`; a kill while it
/// holds them leaves them behind, and git never removes a stale lock. So
/// the update is done holding an exclusive POSIX lock on
/// `annex/rs-ref.lck` (released by the kernel when its holder dies) with a
/// marker `annex/rs-ref.writing` written first and removed after. The next
/// update, holding that lock, finds the marker of the dead one: a lock file
/// made since the marker (its mtime not older) and still there after a
/// moment (a live git's goes quickly) is that dead update's, and goes.
struct RefWrite {
    marker: PathBuf,
    _lck: Option<fs::File>,
    _in_process: std::sync::MutexGuard<'static, ()>,
}

impl RefWrite {
    fn begin(git_dir: &Path, common_dir: &Path, annex_dir: &Path) -> RefWrite {
        static IN_PROCESS: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let in_process = IN_PROCESS.lock().unwrap_or_else(|p| p.into_inner());
        let marker = annex_dir.join("rs-ref.writing");
        let lck = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(annex_dir.join("rs-ref.lck"))
            .ok()
            .filter(|f| {
                rustix::fs::fcntl_lock(f, rustix::fs::FlockOperation::LockExclusive).is_ok()
            });
        if lck.is_some()
            && let Ok(since) = fs::metadata(&marker).and_then(|m| m.modified())
        {
            for lock in [
                git_dir.join("refs/heads/git-annex.lock"),
                common_dir.join("packed-refs.lock"),
            ] {
                let made_since = || {
                    fs::symlink_metadata(&lock)
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| t >= since)
                };
                if !made_since() {
                    continue;
                }
                let start = std::time::Instant::now();
                while made_since() && start.elapsed() < std::time::Duration::from_secs(1) {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                if made_since() {
                    let _ = fs::remove_file(&lock);
                }
            }
        }
        if lck.is_some() {
            let _ = fs::write(&marker, b"");
        }
        RefWrite {
            marker,
            _lck: lck,
            _in_process: in_process,
        }
    }
}

impl Drop for RefWrite {
    fn drop(&mut self) {
        if self._lck.is_some() {
            let _ = fs::remove_file(&self.marker);
        }
    }
}

/// Removes the git lock files that an update of the `git-annex` branch by
/// git-annex-rs, killed midway, left in the repository whose git dir is
/// `git_dir` (see `RefWrite`), so that git and git-annex are not blocked
/// by them either. Called when a repository (or a local remote) is
/// opened; one `stat` when there is nothing to do.
pub fn clean_after_killed_update(git_dir: &Path) {
    let annex_dir = git_dir.join("annex");
    if fs::symlink_metadata(annex_dir.join("rs-ref.writing")).is_err() {
        return;
    }
    drop(RefWrite::begin(git_dir, git_dir, &annex_dir));
}

/// Removes a `refs/heads/git-annex.lock` left by a process killed while
/// it moved the branch (it would block every later commit). The branch is
/// only moved under the journal lock, which the callers of `set_ref` hold
/// (git-annex holds it too), so in a repository with a work tree nobody
/// else can be writing the ref; in a bare one a `git push` may, for a
/// moment, so there only a lock older than a minute is taken as stale.
fn remove_stale_ref_lock(repo: &gix::Repository) {
    let lock = repo.git_dir().join("refs/heads/git-annex.lock");
    let Ok(meta) = fs::symlink_metadata(&lock) else {
        return;
    };
    let old = meta
        .modified()
        .ok()
        .and_then(|m| m.elapsed().ok())
        .is_some_and(|age| age > std::time::Duration::from_secs(60));
    if repo.is_bare() && !old {
        return;
    }
    let _ = fs::remove_file(&lock);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::process::Command;

    type Hook = Box<dyn FnMut(&Branch)>;

    thread_local! {
        static HOOK: RefCell<Option<Hook>> = const { RefCell::new(None) };
        /// How many times git-annex's index was written anew from a tree.
        pub(super) static INDEX_REBUILDS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// A commit or a fast-forward over a current index rewrites only the
    /// changed entries; a stale one is brought up to date by the walk that
    /// compares it with the tree; a missing one is written anew, once, and
    /// is then current again.
    #[test]
    fn a_current_index_is_updated_not_rebuilt() {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        git(d, &["init", "-q", "-b", "main"]);
        let b = Branch::open(&d.join(".git")).expect("open");
        b.create().expect("create");
        let rebuilds = || INDEX_REBUILDS.with(|n| n.get());
        let start = rebuilds();
        for i in 0..5 {
            let path = format!("a{i}/b{i}/K{i}.log");
            b.change(path.as_bytes(), |_| format!("{i}\n").into_bytes())
                .expect("change");
            b.change(b"a0/b0/K0.log", |old| [old, b"x\n"].concat())
                .expect("change");
            b.commit("update").expect("commit");
        }
        assert_eq!(rebuilds(), start, "commits over a current index");
        let tip = b.tip().expect("tip").expect("exists").to_string();
        let ahead = commit_file(d, Some(&tip), "other.log", "o\n");
        let ahead_id = ObjectId::from_hex(ahead.as_bytes()).expect("sha");
        let out = b
            .merge(&[(ahead_id, "refs/remotes/x/git-annex".to_owned())])
            .expect("merge");
        assert!(out.fast_forwarded);
        assert_eq!(rebuilds(), start, "fast-forward over a current index");
        // A stale index: the walk that compares it with the tree writes
        // an index of the tree, to which the commit's changes go.
        fs::remove_file(d.join(".git/annex/index.lck")).expect("rm");
        b.change(b"z.log", |_| b"z\n".to_vec()).expect("change");
        b.commit("update").expect("commit");
        assert_eq!(rebuilds(), start, "a stale index is rewritten once");
        // No index: written anew from the tree.
        fs::remove_file(d.join(".git/annex/index")).expect("rm");
        b.change(b"z.log", |_| b"zz\n".to_vec()).expect("change");
        b.commit("update").expect("commit");
        assert_eq!(rebuilds(), start + 1, "a missing index is written anew");
        b.change(b"z.log", |_| b"zzz\n".to_vec()).expect("change");
        b.commit("update").expect("commit");
        assert_eq!(rebuilds(), start + 1);
        let listed = std::process::Command::new("git")
            .current_dir(d)
            .env("GIT_INDEX_FILE", d.join(".git/annex/index"))
            .args(["ls-files", "-s"])
            .output()
            .expect("git");
        let index: Vec<String> = String::from_utf8_lossy(&listed.stdout)
            .lines()
            .map(|l| l.replace(" 0\t", "\t"))
            .collect();
        let tree: Vec<String> = git(d, &["ls-tree", "-r", FULL_NAME])
            .lines()
            .map(|l| l.replace(" blob ", " "))
            .collect();
        assert_eq!(index, tree);
    }

    /// A journal of `n` files (each key's log, and `uuid.log`) committed
    /// with `chunk` journal files per chunk, and a stray name: the tree
    /// written, the index's listing and the tree's.
    fn commit_in_chunks(
        n: usize,
        chunk: usize,
        pack_objects: usize,
    ) -> (String, Vec<String>, Vec<String>) {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        git(d, &["init", "-q", "-b", "main"]);
        let mut b = Branch::open(&d.join(".git")).expect("open");
        b.create().expect("create");
        b.change(b"aaa/bbb/old.log", |_| b"old\n".to_vec())
            .expect("change");
        b.commit("first").expect("commit");
        b.chunk_files = chunk;
        b.pack_objects = pack_objects;
        for i in 0..n {
            let h = format!("{:03x}", (i * 2654435761) % 4096);
            let path = format!("{h}/{}/K{i}.log", &h[..2]);
            b.change(path.as_bytes(), |_| format!("{i}\n").into_bytes())
                .expect("change");
        }
        b.change(b"aaa/bbb/old.log", |o| [o, b"new\n"].concat())
            .expect("change");
        b.change(b"uuid.log", |_| b"u\n".to_vec()).expect("change");
        let stray = d.join(".git/annex/journal/_stray");
        fs::write(&stray, b"s\n").expect("write stray");
        b.commit("update").expect("commit");
        assert!(!stray.exists(), "the stray is removed once committed");
        assert!(!b.journal().is_dirty().expect("dirty"));
        let listed = std::process::Command::new("git")
            .current_dir(d)
            .env("GIT_INDEX_FILE", d.join(".git/annex/index"))
            .args(["ls-files", "-s"])
            .output()
            .expect("git");
        let index: Vec<String> = String::from_utf8_lossy(&listed.stdout)
            .lines()
            .map(|l| l.replace(" 0\t", "\t"))
            .collect();
        let tree: Vec<String> = git(d, &["ls-tree", "-r", FULL_NAME])
            .lines()
            .map(|l| l.replace(" blob ", " "))
            .collect();
        let fsck = std::process::Command::new("git")
            .current_dir(d)
            .args(["fsck", "--strict", "--no-dangling"])
            .output()
            .expect("git fsck");
        assert!(
            fsck.status.success(),
            "{}",
            String::from_utf8_lossy(&fsck.stderr)
        );
        (git(d, &["rev-parse", "git-annex^{tree}"]), index, tree)
    }

    /// A commit of a journal in many chunks (loose objects, and packs past
    /// the pack threshold) writes the same tree as one in a single chunk,
    /// and leaves git-annex's index equal to it.
    #[test]
    fn a_journal_committed_in_chunks_gives_the_same_tree() {
        for n in [10, pack::PACK_THRESHOLD + 50] {
            let (whole, index, tree) = commit_in_chunks(n, usize::MAX, PACK_OBJECTS);
            assert_eq!(index, tree);
            assert_eq!(tree.len(), n + 2);
            // Chunks of 3 files with a new pack every 500 objects or so.
            for (chunk, pack_objects) in [(1, PACK_OBJECTS), (3, 500), (400, PACK_OBJECTS)] {
                let (chunked, index, tree) = commit_in_chunks(n, chunk, pack_objects);
                assert_eq!(chunked, whole, "{n} files in chunks of {chunk}");
                assert_eq!(index, tree);
            }
        }
    }

    /// Called just before the merge's compare-and-swap of the branch ref.
    pub(super) fn before_ref_update(b: &Branch) {
        let hook = HOOK.with(|h| h.borrow_mut().take());
        if let Some(mut f) = hook {
            f(b);
            HOOK.with(|h| {
                let mut slot = h.borrow_mut();
                if slot.is_none() {
                    *slot = Some(f);
                }
            });
        }
    }

    pub(super) fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t")
            .args(args)
            .output()
            .expect("git");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Commits a file with `content` on top of `parent` (or as a root)
    /// without touching any ref; returns the commit.
    fn commit_file(dir: &Path, parent: Option<&str>, path: &str, content: &str) -> String {
        let blob = {
            let mut c = Command::new("git");
            c.current_dir(dir)
                .args(["hash-object", "-w", "--stdin"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped());
            let mut child = c.spawn().expect("spawn");
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(content.as_bytes())
                .expect("write");
            let out = child.wait_with_output().expect("wait");
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        };
        let mut c = Command::new("git");
        c.current_dir(dir)
            .args(["mktree"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        let mut child = c.spawn().expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("100644 blob {blob}\t{path}\n").as_bytes())
            .expect("write");
        let tree = String::from_utf8_lossy(&child.wait_with_output().expect("wait").stdout)
            .trim()
            .to_owned();
        let mut args = vec!["commit-tree", tree.as_str(), "-m", "x"];
        if let Some(p) = parent {
            args.extend(["-p", p]);
        }
        git(dir, &args)
    }

    /// Merge loses the race for the branch ref (a concurrent committer
    /// moves it just before the update, twice): it retries from the new
    /// tip, and the result has the racer's commit as a parent.
    #[test]
    fn merge_retries_when_the_branch_moves() {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        git(d, &["init", "-q", "-b", "main"]);
        let b = Branch::open(&d.join(".git")).expect("open");
        let base = b.create().expect("create").to_string();
        let other = commit_file(d, Some(&base), "other.log", "o\n");
        let mut races = 0;
        let dd = d.to_path_buf();
        HOOK.with(|h| {
            *h.borrow_mut() = Some(Box::new(move |br: &Branch| {
                if races < 2 {
                    races += 1;
                    let tip = br.tip().expect("tip").expect("exists").to_string();
                    let c = commit_file(&dd, Some(&tip), "race.log", &format!("r{races}\n"));
                    git(&dd, &["update-ref", FULL_NAME, &c]);
                }
            }));
        });
        let other_id = ObjectId::from_hex(other.as_bytes()).expect("sha");
        let out = b
            .merge(&[(other_id, "refs/remotes/x/git-annex".to_owned())])
            .expect("merge");
        HOOK.with(|h| h.borrow_mut().take());
        let tip = out.new_tip.expect("moved");
        assert_eq!(b.tip().expect("tip"), Some(tip));
        assert!(!out.fast_forwarded);
        // Both the racer's last commit and the merged ref are parents.
        let parents = git(d, &["log", "-1", "--format=%P", FULL_NAME]);
        assert!(parents.contains(&other), "{parents}");
        assert_eq!(parents.split(' ').count(), 2, "{parents}");
        assert_eq!(b.get(b"race.log").expect("get"), b"r2\n");
        assert_eq!(b.get(b"other.log").expect("get"), b"o\n");
    }

    /// A fast-forward that loses the race is redone as a merge commit
    /// over the racer's commit.
    #[test]
    fn fast_forward_retries_when_the_branch_moves() {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        git(d, &["init", "-q", "-b", "main"]);
        let b = Branch::open(&d.join(".git")).expect("open");
        let base = b.create().expect("create").to_string();
        let ahead = commit_file(d, Some(&base), "ahead.log", "a\n");
        let mut raced = false;
        let dd = d.to_path_buf();
        HOOK.with(|h| {
            *h.borrow_mut() = Some(Box::new(move |br: &Branch| {
                if !raced {
                    raced = true;
                    let tip = br.tip().expect("tip").expect("exists").to_string();
                    let c = commit_file(&dd, Some(&tip), "race.log", "r\n");
                    git(&dd, &["update-ref", FULL_NAME, &c]);
                }
            }));
        });
        let ahead_id = ObjectId::from_hex(ahead.as_bytes()).expect("sha");
        let out = b
            .merge(&[(ahead_id, "refs/remotes/x/git-annex".to_owned())])
            .expect("merge");
        HOOK.with(|h| h.borrow_mut().take());
        assert!(!out.fast_forwarded, "{out:?}");
        assert_eq!(b.get(b"race.log").expect("get"), b"r\n");
        assert_eq!(b.get(b"ahead.log").expect("get"), b"a\n");
    }
}
