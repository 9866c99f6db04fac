//! Remotes: the trait every kind implements, and git remotes on this machine.
//!
//! [`Remote`] is what transfers and drops need from a remote. The first
//! kind, [`LocalGitRemote`], is a git remote whose URL is a path on this
//! machine (bare or not). It works on the other repository directly, as
//! git-annex's `onLocal` does: it reads and writes its object store, keeps
//! transfer information files there (an upload to us while we get, a
//! download from us while we copy to it), records its own location log
//! changes in its journal, and commits them to its `git-annex` branch when
//! the command is done ([`Remote::commit`], git-annex's `commitOnCleanup`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::content::{self, ContentError, SharedContentLock};
use crate::key::Key;
use crate::objects::{ObjectStore, ObjectsError};
use crate::state::State;
use crate::transfer::{self, Direction, TransferError};
use crate::uuid::Uuid;

pub mod special;
pub mod ssh;

/// A remote's failure, naming the remote.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The remote's repository cannot be opened or is not what we expect.
    #[error("cannot access remote {remote}: {reason}")]
    Unavailable {
        /// The remote's name.
        remote: String,
        /// Why.
        reason: String,
    },
    /// The remote does not have the content.
    #[error("content is not present in remote")]
    NotPresent,
    /// The remote refused or failed a request (its own words, from the
    /// P2P protocol's `ERROR`, or what its `FAILURE` means).
    #[error("{remote}: {reason}")]
    Refused {
        /// The remote's name.
        remote: String,
        /// Why.
        reason: String,
    },
    /// Not enough free space to receive the content.
    #[error("not enough free space, need {needed} bytes more")]
    NotEnoughSpace {
        /// Bytes needed beyond what is free (and reserved).
        needed: u64,
    },
    /// A special remote not verified here may not be used (or written
    /// to) yet (git-annex's words, naming the command that verifies it).
    #[error("{0}")]
    Unverified(String),
    /// The content received does not match its key.
    #[error("Verification of content failed")]
    VerificationFailed,
    /// A transfer error.
    #[error(transparent)]
    Transfer(#[from] TransferError),
    /// A content locking error on the remote.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// An object store error on the remote.
    #[error(transparent)]
    Objects(#[from] ObjectsError),
    /// An error of the remote's `git-annex` branch.
    #[error("remote {remote}: {source}")]
    Branch {
        /// The remote's name.
        remote: String,
        /// The error.
        #[source]
        source: crate::branch::BranchError,
    },
}

/// A lock keeping a remote's copy of a key in place (a drop proof).
pub trait ContentLockGuard: std::fmt::Debug + Send {
    /// Until when the lock is sure to hold, when it can lapse on its own
    /// (a lock over the P2P protocol outlives a lost connection only so
    /// long); `None`: while the guard lives.
    fn valid_until(&self) -> Option<std::time::SystemTime> {
        None
    }
}

impl ContentLockGuard for SharedContentLock {}

/// Progress callbacks get the bytes done so far.
pub type Progress<'a> = &'a mut dyn FnMut(u64);

/// The `-PLUS` reports of a remote (key, repository, whether it now has
/// the content), as remotes that speak the P2P protocol keep them until
/// [`Remote::take_fanout`]: those of `key`, taken out of `reports`.
pub fn take_fanout_of(
    reports: &std::sync::Mutex<Vec<(Key, Uuid, bool)>>,
    key: &Key,
) -> Vec<(Uuid, bool)> {
    let mut f = reports.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = Vec::new();
    f.retain(|(k, u, present)| {
        if k == key {
            out.push((u.clone(), *present));
            false
        } else {
            true
        }
    });
    out
}

/// What transfers and drops need from a remote.
pub trait Remote: Send + Sync + std::fmt::Debug {
    /// The remote's name (`origin`).
    fn name(&self) -> &str;
    /// The remote's repository UUID.
    fn uuid(&self) -> &Uuid;
    /// Its cost: cheaper remotes are tried first.
    fn cost(&self) -> f64;
    /// Whether the remote has the key's content now. `Err` when it cannot
    /// tell (git-annex's `checkPresent`).
    fn check_present(&self, key: &Key) -> Result<bool, RemoteError>;
    /// [`check_present`](Remote::check_present) of several keys, one
    /// answer each in order. A remote reached over a connection asks them
    /// all before reading the answers (one round trip for the lot, not one
    /// a key); the others ask one at a time.
    fn check_present_many(&self, keys: &[&Key]) -> Vec<Result<bool, RemoteError>> {
        keys.iter().map(|k| self.check_present(k)).collect()
    }
    /// Copies the key's content into `dest`, resuming from what `dest`
    /// holds; `our_uuid` is the receiving repository, `file` the associated
    /// file. The content is hashed while copied and checked against the
    /// key: a mismatch is [`RemoteError::VerificationFailed`] (`dest` is
    /// then removed).
    fn retrieve(
        &self,
        key: &Key,
        dest: &Path,
        our_uuid: &Uuid,
        file: &[u8],
        progress: Progress<'_>,
    ) -> Result<(), RemoteError>;
    /// Stores the key's content from `src` on the remote (resumable, the
    /// content verified before it enters the remote's store), and records
    /// it in the remote's location log.
    fn store(
        &self,
        key: &Key,
        src: &Path,
        our_uuid: &Uuid,
        file: &[u8],
        progress: Progress<'_>,
    ) -> Result<(), RemoteError>;
    /// Removes the key's content from the remote under its removal lock and
    /// records that in its location log. Content already absent is success.
    fn remove(&self, key: &Key) -> Result<(), RemoteError>;
    /// [`Remote::remove`] under a proof whose locks hold until `end`
    /// only: the removal must not happen later (a P2P remote of protocol
    /// 3 and up is told `REMOVE-BEFORE`).
    fn remove_before(
        &self,
        key: &Key,
        end: Option<std::time::SystemTime>,
    ) -> Result<(), RemoteError> {
        let _ = end;
        self.remove(key)
    }
    /// The other repositories a proxying remote reported for the key in
    /// its last store or removal (the `-PLUS` replies): each with whether
    /// it now has the content. Taken once; the caller records them in the
    /// location log as git-annex does.
    fn take_fanout(&self, key: &Key) -> Vec<(Uuid, bool)> {
        let _ = key;
        Vec::new()
    }
    /// Locks the remote's content of the key so that it cannot be dropped
    /// while the guard lives.
    fn lock_content(&self, key: &Key) -> Result<Box<dyn ContentLockGuard>, RemoteError>;
    /// Commits what the remote recorded in its journal (at the end of a
    /// command).
    fn commit(&self) -> Result<(), RemoteError>;
    /// Whether locking content there goes over a network connection
    /// (git-annex then says `locking NAME...`).
    fn locks_over_network(&self) -> bool {
        false
    }
}

/// A git remote that is a path on this machine.
pub struct LocalGitRemote {
    name: String,
    uuid: Uuid,
    cost: f64,
    git_dir: PathBuf,
    store: ObjectStore,
    state: Mutex<Option<State>>,
    dirty: Mutex<bool>,
    /// The unlocked files of this repository, filled in as content
    /// arrives; refreshed in its index at the next [`Remote::commit`].
    unlocked: Mutex<crate::pointer::UnlockedFiles>,
}

impl std::fmt::Debug for LocalGitRemote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalGitRemote")
            .field("name", &self.name)
            .field("uuid", &self.uuid)
            .field("git_dir", &self.git_dir)
            .finish()
    }
}

/// The git dir of a repository at `path` on this machine: `path/.git`
/// when that is a directory (or a `gitdir:` file), else `path` itself when
/// it is a bare repository; `None` when `path` is no repository.
pub fn git_dir_of(path: &Path) -> Option<PathBuf> {
    let dotgit = path.join(".git");
    if dotgit.is_dir() {
        return Some(dotgit);
    }
    if dotgit.is_file() {
        let text = std::fs::read_to_string(&dotgit).ok()?;
        let rel = text.trim().strip_prefix("gitdir:")?.trim();
        return Some(path.join(rel));
    }
    if path.join("objects").is_dir() && path.join("HEAD").exists() {
        return Some(path.to_path_buf());
    }
    None
}

/// Reads a value from a repository's own config file (`core.gcrypt-id`).
pub fn repository_config(git_dir: &Path, key: &str) -> Option<String> {
    let file = gix::config::File::from_path_no_includes(
        git_dir.join("config"),
        gix::config::Source::Local,
    )
    .ok()?;
    file.string(key).map(|v| v.to_string())
}

/// Reads `annex.uuid` from a repository's own config file.
pub fn repository_uuid(git_dir: &Path) -> Option<Uuid> {
    let file = gix::config::File::from_path_no_includes(
        git_dir.join("config"),
        gix::config::Source::Local,
    )
    .ok()?;
    let v = file.string("annex.uuid")?;
    Uuid::parse(&v).ok()
}

impl LocalGitRemote {
    /// Opens the remote `name` whose repository is at `path`. `expected`
    /// is the UUID our config knows for it (`remote.NAME.annex-uuid`): the
    /// repository must have it (git-annex: "remote does not have expected
    /// annex.uuid value").
    pub fn open(
        name: &str,
        path: &Path,
        expected: Option<&Uuid>,
        cost: f64,
    ) -> Result<LocalGitRemote, RemoteError> {
        let unavailable = |reason: String| RemoteError::Unavailable {
            remote: name.to_string(),
            reason,
        };
        let path = path
            .canonicalize()
            .map_err(|e| unavailable(format!("{}: {e}", path.display())))?;
        let git_dir = git_dir_of(&path)
            .ok_or_else(|| unavailable(format!("{} is not a git repository", path.display())))?;
        let uuid = repository_uuid(&git_dir)
            .ok_or_else(|| unavailable("it has no annex.uuid".to_string()))?;
        if let Some(e) = expected
            && e != &uuid
        {
            return Err(unavailable(
                "remote does not have expected annex.uuid value".to_string(),
            ));
        }
        let store = ObjectStore::open(&git_dir)?;
        crate::branch::clean_after_killed_update(&git_dir);
        let unlocked = Mutex::new(crate::pointer::UnlockedFiles::new(&git_dir));
        Ok(LocalGitRemote {
            name: name.to_string(),
            uuid,
            cost,
            git_dir,
            store,
            state: Mutex::new(None),
            dirty: Mutex::new(false),
            unlocked,
        })
    }

    /// Notes that `key`'s content arrived in this repository's object
    /// store: its unlocked files of the key are filled in now, as
    /// git-annex's receiving side fills them in (one read of the index for
    /// many keys, see [`crate::pointer::UnlockedFiles`]); their index
    /// entries are refreshed at the next [`Remote::commit`].
    pub fn note_received(&self, key: &Key) {
        self.unlocked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .fill(key, &self.store);
    }

    /// Ends the filling in of unlocked files of the keys received so far.
    fn populate_received(&self) {
        self.unlocked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .finish(&self.store);
    }

    /// The remote repository's git dir.
    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    /// The remote repository's object store.
    pub fn object_store(&self) -> &ObjectStore {
        &self.store
    }

    /// Records in the repository's own location log that it has (or not)
    /// the key, as its own server does when content arrives through it;
    /// committed by [`Remote::commit`].
    pub fn record_presence(&self, key: &Key, present: bool) -> Result<(), RemoteError> {
        self.log_present(key, present)
    }

    fn branch_err(&self, source: crate::branch::BranchError) -> RemoteError {
        RemoteError::Branch {
            remote: self.name.clone(),
            source,
        }
    }

    /// Records in the remote's own location log that it has (or not) the
    /// key, in its journal (committed by [`Remote::commit`]).
    fn log_present(&self, key: &Key, present: bool) -> Result<(), RemoteError> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.is_none() {
            let branch =
                crate::branch::Branch::open(&self.git_dir).map_err(|e| self.branch_err(e))?;
            *st = Some(State::new(branch));
        }
        if let Some(state) = st.as_ref() {
            state
                .set_present(key, &self.uuid, present)
                .map_err(|e| self.branch_err(e))?;
        }
        // Locks are taken dirty-then-state in `commit`: release this one
        // first so the two never wait on each other.
        drop(st);
        *self.dirty.lock().unwrap_or_else(|p| p.into_inner()) = true;
        Ok(())
    }
}

impl Remote for LocalGitRemote {
    fn name(&self) -> &str {
        &self.name
    }

    fn uuid(&self) -> &Uuid {
        &self.uuid
    }

    fn cost(&self) -> f64 {
        self.cost
    }

    fn check_present(&self, key: &Key) -> Result<bool, RemoteError> {
        content::present_safe(&self.store, key).ok_or_else(|| RemoteError::Unavailable {
            remote: self.name.clone(),
            reason: "its content is locked".to_string(),
        })
    }

    fn retrieve(
        &self,
        key: &Key,
        dest: &Path,
        our_uuid: &Uuid,
        file: &[u8],
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        let src = self.store.find(key).ok_or(RemoteError::NotPresent)?;
        // The remote's side: an upload to us, run even when another is.
        let t =
            transfer::Transfer::start(&self.git_dir, Direction::Upload, our_uuid, key, file, true)?;
        receive_recorded(t, &src, dest, key, progress)?.finish(true);
        Ok(())
    }

    fn store(
        &self,
        key: &Key,
        src: &Path,
        our_uuid: &Uuid,
        file: &[u8],
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        if self.store.has(key) {
            self.log_present(key, true)?;
            return Ok(());
        }
        let t = transfer::Transfer::start(
            &self.git_dir,
            Direction::Download,
            our_uuid,
            key,
            file,
            false,
        )?;
        let tmp = self.store.tmp_path(key);
        let t = receive_recorded(t, src, &tmp, key, progress)?;
        match self.store.ingest_from_temp(&tmp, key) {
            Ok(_) => t.finish(true),
            Err(e) => {
                t.finish(false);
                return Err(e.into());
            }
        }
        self.note_received(key);
        self.log_present(key, true)
    }

    fn remove(&self, key: &Key) -> Result<(), RemoteError> {
        if let Some(lock) = content::lock_for_removal(&self.store, key)? {
            // The log first (as annex-ops' drop): a kill between the two
            // leaves a copy the log does not count, never the reverse.
            self.log_present(key, false)?;
            if let Err(e) = lock.remove_content(&self.store) {
                let _ = self.log_present(key, true);
                return Err(e.into());
            }
            return Ok(());
        }
        self.log_present(key, false)
    }

    fn lock_content(&self, key: &Key) -> Result<Box<dyn ContentLockGuard>, RemoteError> {
        Ok(Box::new(content::lock_shared(&self.store, key)?))
    }

    fn commit(&self) -> Result<(), RemoteError> {
        self.populate_received();
        let mut dirty = self.dirty.lock().unwrap_or_else(|p| p.into_inner());
        if !*dirty {
            return Ok(());
        }
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(state) = st.as_ref() {
            state.commit().map_err(|e| self.branch_err(e))?;
        }
        *dirty = false;
        Ok(())
    }
}

/// Receives `key` from `src` into `dest` (resuming, verified) while `t`
/// records the transfer's progress; gives `t` back to be finished by the
/// caller. On failure the transfer is ended as failed, and content that
/// did not verify is removed.
fn receive_recorded(
    mut t: transfer::Transfer,
    src: &Path,
    dest: &Path,
    key: &Key,
    progress: Progress<'_>,
) -> Result<transfer::Transfer, RemoteError> {
    let received = transfer::receive(src, dest, key, &mut |n| {
        t.progress(n);
        progress(n);
    });
    match received {
        Ok(r) if r.ok() => Ok(t),
        Ok(_) => {
            t.finish(false);
            let _ = std::fs::remove_file(dest);
            Err(RemoteError::VerificationFailed)
        }
        Err(e) => {
            t.finish(false);
            Err(e.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fanout_reports_of_a_key_are_taken_once_and_others_stay() {
        let k1: Key = "SHA256E-s1--aa".parse().expect("key");
        let k2: Key = "SHA256E-s2--bb".parse().expect("key");
        let u1 = "11111111-1111-1111-1111-111111111111"
            .parse::<Uuid>()
            .expect("uuid");
        let u2 = "22222222-2222-2222-2222-222222222222"
            .parse::<Uuid>()
            .expect("uuid");
        let reports = std::sync::Mutex::new(vec![
            (k1.clone(), u1.clone(), true),
            (k2.clone(), u2.clone(), false),
            (k1.clone(), u2.clone(), false),
        ]);
        assert_eq!(
            take_fanout_of(&reports, &k1),
            vec![(u1, true), (u2.clone(), false)]
        );
        assert!(take_fanout_of(&reports, &k1).is_empty());
        assert_eq!(take_fanout_of(&reports, &k2), vec![(u2, false)]);
    }
}
