//! A git repository as the commands read it: the index's staged blobs, refs,
//! blobs that may be pointer files, config values, and how a repository is
//! found from the current directory (`GIT_DIR` or the directories above).
//!
//! [`GitRepo`] is a handle on one repository; object ids are
//! [`ObjectId`]s. The functions of this crate that work on git's objects
//! directly take the handle's [`GitRepo::gix`].
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use annex_core::gitrepo::GitRepo;
//! let repo = GitRepo::discover(std::path::Path::new("."))?;
//! if let Some(id) = repo.staged_id(b"photos/a.jpg")? {
//!     println!("{:?}", repo.annexed_key(id));
//! }
//! # Ok(()) }
//! ```

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gix::bstr::ByteSlice;

use crate::branch::index::IndexError;
use crate::staged::SampledIndex;

use crate::key::Key;
use crate::pointer;
use crate::worktree::MAX_POINTER_SIZE;

/// An error opening a repository or reading its index.
#[derive(Debug, thiserror::Error)]
pub enum GitRepoError {
    /// No git repository at or above the path.
    #[error("{path}: not a git repository: {source}")]
    Discover {
        /// The path given.
        path: PathBuf,
        /// Why gix found none.
        #[source]
        source: Box<gix::Error>,
    },
    /// The repository could not be opened.
    #[error("cannot open the git repository {path}: {source}")]
    Open {
        /// The git directory given.
        path: PathBuf,
        /// Why gix could not open it.
        #[source]
        source: Box<gix::Error>,
    },
    /// The index could not be read.
    #[error("cannot read the git index of {path}: {detail}")]
    Index {
        /// The git directory.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
}

/// A git object's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjectId(gix::ObjectId);

impl std::fmt::Display for ObjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<gix::ObjectId> for ObjectId {
    fn from(id: gix::ObjectId) -> ObjectId {
        ObjectId(id)
    }
}

impl ObjectId {
    /// The gix id.
    pub fn gix(&self) -> gix::ObjectId {
        self.0
    }
}

/// A git repository, opened.
#[derive(Clone)]
pub struct GitRepo {
    repo: gix::Repository,
    /// The work tree's index, sampled for [`GitRepo::staged_id`] (shared
    /// by clones of the handle); `None` until the first lookup.
    staged: Arc<Mutex<Option<SampledIndex>>>,
}

impl std::fmt::Debug for GitRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitRepo")
            .field("git_dir", &self.repo.git_dir())
            .finish()
    }
}

impl From<gix::Repository> for GitRepo {
    fn from(repo: gix::Repository) -> GitRepo {
        GitRepo {
            repo,
            staged: Arc::default(),
        }
    }
}

/// A [`GitRepo`] that can be shared between threads; each thread takes
/// its own handle with [`SyncGitRepo::to_thread_local`].
pub struct SyncGitRepo(gix::ThreadSafeRepository);

impl SyncGitRepo {
    /// This thread's handle.
    pub fn to_thread_local(&self) -> GitRepo {
        GitRepo::from(self.0.to_thread_local())
    }
}

/// The key a blob's content names: a pointer file, or an annex symlink's
/// target (a locked file's blob, with or without a final newline).
pub fn key_of_blob(data: &[u8]) -> Option<Key> {
    pointer::parse_pointer(data)
        .or_else(|| pointer::parse_link_target(data.trim_end_with(|c| c == '\n')))
}

/// `GIT_DIR` when set and not empty.
pub fn git_dir_env() -> Option<OsString> {
    std::env::var_os("GIT_DIR").filter(|d| !d.is_empty())
}

impl GitRepo {
    /// The repository at or above `path`, as git finds it.
    pub fn discover(path: &Path) -> Result<GitRepo, GitRepoError> {
        gix::discover(path)
            .map(crate::config::with_overrides)
            .map(GitRepo::from)
            .map_err(|e| GitRepoError::Discover {
                path: path.to_path_buf(),
                source: Box::new(e),
            })
    }

    /// The repository whose git directory (or work tree) is `path`.
    pub fn open(path: &Path) -> Result<GitRepo, GitRepoError> {
        gix::open(path)
            .map(crate::config::with_overrides)
            .map(GitRepo::from)
            .map_err(|e| GitRepoError::Open {
                path: path.to_path_buf(),
                source: Box::new(e),
            })
    }

    /// The repository git would use from `here`: the one `GIT_DIR` names
    /// (relative to `here`) when it is set, else the one at or above `here`.
    pub fn from_env(here: &Path) -> Result<GitRepo, GitRepoError> {
        match git_dir_env() {
            Some(dir) => GitRepo::open(&here.join(dir)),
            None => GitRepo::discover(here),
        }
    }

    /// The gix repository, for the functions of this crate that take one.
    pub fn gix(&self) -> &gix::Repository {
        &self.repo
    }

    /// A handle to share between threads.
    pub fn into_sync(self) -> SyncGitRepo {
        SyncGitRepo(self.repo.into_sync())
    }

    /// The git directory.
    pub fn git_dir(&self) -> &Path {
        self.repo.git_dir()
    }

    /// The top of the work tree; `None` for a bare repository.
    pub fn work_tree(&self) -> Option<&Path> {
        self.repo.workdir()
    }

    /// A git config value (`section.key`) as a string.
    pub fn config_string(&self, name: &str) -> Option<String> {
        self.repo
            .config_snapshot()
            .string(name)
            .map(|v| v.to_string())
    }

    /// The blob staged in the index for `path` (from the top of the work
    /// tree, `/`-separated); `None` when nothing is staged there. A
    /// missing index is an empty one.
    ///
    /// The index is not held: it is sampled once (a 64th of its paths)
    /// and each lookup reads a few dozen entries from the file
    /// (module `staged`); a split or sparse index is read whole by gix.
    pub fn staged_id(&self, path: &[u8]) -> Result<Option<ObjectId>, GitRepoError> {
        if let Some(index_path) = crate::worktree::streamable_index(&self.repo) {
            let mut slot = self.staged.lock().unwrap_or_else(|p| p.into_inner());
            if slot.as_ref().is_some_and(|s| s.path() != index_path) {
                *slot = None;
            }
            let sampled =
                slot.get_or_insert_with(|| SampledIndex::new(&index_path, self.repo.object_hash()));
            match sampled.lookup(path) {
                Ok(id) => return Ok(id.map(ObjectId)),
                // Found split or sparse after all: gix reads it.
                Err(IndexError::Unsupported { .. }) => *slot = None,
                Err(e) => {
                    *slot = None;
                    return Err(GitRepoError::Index {
                        path: self.repo.git_dir().to_path_buf(),
                        detail: e.to_string(),
                    });
                }
            }
        }
        let index = self
            .repo
            .index_or_empty()
            .map_err(|e| GitRepoError::Index {
                path: self.repo.git_dir().to_path_buf(),
                detail: e.to_string(),
            })?;
        Ok(index.entry_by_path(path.as_bstr()).map(|e| ObjectId(e.id)))
    }

    /// The object a revision (`HEAD:file`, a ref, an id) names; `None`
    /// when it names none.
    pub fn rev_parse(&self, spec: &[u8]) -> Option<ObjectId> {
        self.repo
            .rev_parse_single(spec.as_bstr())
            .ok()
            .map(|id| ObjectId(id.detach()))
    }

    /// The size of an object; `None` when it cannot be read.
    pub fn object_size(&self, id: ObjectId) -> Option<u64> {
        self.repo.find_header(id.0).ok().map(|h| h.size())
    }

    /// The content of an object; `None` when it cannot be read.
    pub fn object_data(&self, id: ObjectId) -> Option<Vec<u8>> {
        self.repo.find_object(id.0).ok().map(|o| o.detach().data)
    }

    /// The key an annexed file's blob names (a pointer file or an annex
    /// link), as `lookupkey` reads it: `None` for an object that is not a
    /// blob, a blob larger than a pointer file can be, or content naming
    /// no key.
    pub fn annexed_key(&self, id: ObjectId) -> Option<Key> {
        let header = self.repo.find_header(id.0).ok()?;
        if header.kind() != gix::object::Kind::Blob || header.size() > MAX_POINTER_SIZE {
            return None;
        }
        let obj = self.repo.find_object(id.0).ok()?;
        key_of_blob(&obj.data)
    }

    /// The annexed files of the tree a revision names (a branch, a tag, a
    /// commit), in tree order: each path (from the top) with its key, for
    /// annex links and pointer files alike (`--branch`). `None` when the
    /// revision names no tree; an unreadable object ends the walk there.
    pub fn annexed_files_in(&self, rev: &[u8]) -> Option<Vec<(Vec<u8>, Key)>> {
        let id = self.repo.rev_parse_single(rev.as_bstr()).ok()?;
        let tree = id.object().ok()?.peel_to_tree().ok()?;
        let mut out = Vec::new();
        // Depth first, entries in tree order: git's order of the paths.
        let mut stack: Vec<(gix::ObjectId, Vec<u8>, usize)> = vec![(tree.id, Vec::new(), 0)];
        while let Some((tid, prefix, start)) = stack.pop() {
            let Ok(t) = self.repo.find_tree(tid) else {
                continue;
            };
            let Ok(decoded) = t.decode() else { continue };
            for (i, e) in decoded.entries.iter().enumerate().skip(start) {
                let mut path = prefix.clone();
                if !path.is_empty() {
                    path.push(b'/');
                }
                path.extend_from_slice(e.filename);
                if e.mode.is_tree() {
                    // Come back to the rest of this tree after the subtree.
                    stack.push((tid, prefix.clone(), i + 1));
                    stack.push((e.oid.to_owned(), path, 0));
                    break;
                }
                if (e.mode.is_link() || e.mode.is_blob())
                    && let Some(k) = self.annexed_key(ObjectId(e.oid.to_owned()))
                {
                    out.push((path, k));
                }
            }
        }
        Some(out)
    }

    /// The staged blob of `path` and the key its pointer file names, as
    /// the clean filter looks at it; `None` when nothing is staged or the
    /// blob cannot be read.
    pub fn staged_pointer(&self, path: &[u8]) -> Option<StagedFile> {
        let id = self.staged_id(path).ok()??;
        let size = self.object_size(id)?;
        let key = if size as usize <= pointer::MAX_POINTER_SIZE {
            self.repo
                .find_object(id.0)
                .ok()
                .and_then(|o| pointer::parse_pointer(&o.data))
        } else {
            None
        };
        Some(StagedFile { id, size, key })
    }

    /// The id git gives `data` as a blob.
    pub fn blob_id(&self, data: &[u8]) -> Option<ObjectId> {
        gix::objs::compute_hash(self.repo.object_hash(), gix::objs::Kind::Blob, data)
            .ok()
            .map(ObjectId)
    }

    /// Whether the repository has a `git-annex` branch of its own or one
    /// from a remote (git-annex initializes a repository that has one on
    /// first use).
    pub fn has_annex_branch(&self) -> bool {
        if matches!(
            self.repo.try_find_reference("refs/heads/git-annex"),
            Ok(Some(_))
        ) {
            return true;
        }
        let Ok(refs) = self.repo.references() else {
            return false;
        };
        let Ok(remotes) = refs.remote_branches() else {
            return false;
        };
        remotes
            .flatten()
            .any(|r| r.name().as_bstr().ends_with(b"/git-annex"))
    }
}

/// A file staged in the index: its blob, the blob's size, and the key
/// its pointer file names, if it is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedFile {
    /// The staged blob.
    pub id: ObjectId,
    /// Its size.
    pub size: u64,
    /// The key of the pointer file it is, if it is one.
    pub key: Option<Key>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) {
        let st = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t")
            .status()
            .expect("git runs");
        assert!(st.success(), "git {args:?}");
    }

    const KEY: &str =
        "SHA256E-s3--ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.txt";

    fn repo_with_files() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        git(dir.path(), &["init", "-q"]);
        std::fs::write(dir.path().join("plain"), "hello\n").expect("write");
        std::fs::write(
            dir.path().join("pointer"),
            format!("/annex/objects/{KEY}\n"),
        )
        .expect("write");
        std::os::unix::fs::symlink(
            format!(".git/annex/objects/xx/yy/{KEY}/{KEY}"),
            dir.path().join("link"),
        )
        .expect("symlink");
        git(dir.path(), &["add", "plain", "pointer", "link"]);
        git(dir.path(), &["commit", "-q", "-m", "c"]);
        dir
    }

    #[test]
    fn keys_of_staged_and_committed_annexed_files() {
        let dir = repo_with_files();
        let repo = GitRepo::discover(dir.path()).expect("discover");
        let key = Key::parse(KEY.as_bytes()).expect("key");
        let staged = |p: &[u8]| repo.staged_id(p).expect("index").expect("staged");
        assert_eq!(repo.annexed_key(staged(b"pointer")), Some(key.clone()));
        assert_eq!(repo.annexed_key(staged(b"link")), Some(key.clone()));
        assert_eq!(repo.annexed_key(staged(b"plain")), None);
        assert_eq!(repo.staged_id(b"missing").expect("index"), None);
        let by_ref = repo.rev_parse(b"HEAD:link").expect("resolves");
        assert_eq!(repo.annexed_key(by_ref), Some(key));
        assert_eq!(repo.rev_parse(b"HEAD:missing"), None);
        // A tree is no annexed file.
        let tree = repo.rev_parse(b"HEAD^{tree}").expect("tree");
        assert_eq!(repo.annexed_key(tree), None);
    }

    #[test]
    fn staged_pointer_and_blob_ids() {
        let dir = repo_with_files();
        let repo = GitRepo::discover(dir.path()).expect("discover");
        let plain = repo.staged_pointer(b"plain").expect("staged");
        assert_eq!(plain.size, 6);
        assert_eq!(plain.key, None);
        assert_eq!(repo.blob_id(b"hello\n"), Some(plain.id));
        assert_ne!(repo.blob_id(b"hello"), Some(plain.id));
        assert_eq!(repo.object_data(plain.id).as_deref(), Some(&b"hello\n"[..]));
        let pointer = repo.staged_pointer(b"pointer").expect("staged");
        assert_eq!(pointer.key, Key::parse(KEY.as_bytes()).ok());
        assert!(repo.staged_pointer(b"missing").is_none());
    }

    #[test]
    fn annex_branch_of_its_own_or_from_a_remote() {
        let dir = repo_with_files();
        let repo = GitRepo::discover(dir.path()).expect("discover");
        assert!(!repo.has_annex_branch());
        git(
            dir.path(),
            &["update-ref", "refs/remotes/origin/git-annex", "HEAD"],
        );
        assert!(repo.has_annex_branch());
    }

    #[test]
    fn config_work_tree_and_git_dir() {
        let dir = repo_with_files();
        git(dir.path(), &["config", "annex.backend", "WORM"]);
        let repo = GitRepo::open(&dir.path().join(".git")).expect("open");
        assert_eq!(repo.config_string("annex.backend").as_deref(), Some("WORM"));
        assert_eq!(repo.config_string("annex.nothing"), None);
        assert!(repo.work_tree().is_some());
        assert!(repo.git_dir().ends_with(".git"));
        assert!(GitRepo::discover(&dir.path().join("nowhere")).is_err());
    }
}
