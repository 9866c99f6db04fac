//! Staging entries into the git index in-process, as `git update-index`
//! would: under `index.lock`, read after the lock is held, written to the
//! lock file and renamed into place.

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::time::Duration;

use gix::bstr::ByteSlice;
use gix::index::entry::{Flags, Mode, Stat};

use super::{IngestError, io_err};

/// One entry to stage at stage 0: a path from the top of the work tree,
/// its mode, blob and the stat of the work-tree file (so that git sees
/// the file as clean).
#[derive(Debug, Clone)]
pub struct IndexEntry {
    /// The path from the top, `/`-separated.
    pub path: Vec<u8>,
    /// `100644`, `100755` or `120000`.
    pub mode: Mode,
    /// The blob.
    pub id: gix::ObjectId,
    /// The stat recorded in the index.
    pub stat: Stat,
    /// The work-tree file's metadata (`lstat`) when the entry was made.
    pub metadata: fs::Metadata,
}

impl IndexEntry {
    /// The entry of the work-tree file `full` (for `path` from the top)
    /// with `mode` and blob `id`, its stat taken now (`lstat`).
    pub fn for_file(
        path: &[u8],
        full: &Path,
        mode: Mode,
        id: gix::ObjectId,
    ) -> Result<IndexEntry, IngestError> {
        let metadata = fs::symlink_metadata(full).map_err(io_err("stat", full))?;
        let stat = stat_of(&metadata);
        Ok(IndexEntry {
            path: path.to_vec(),
            mode,
            id,
            stat,
            metadata,
        })
    }
}

/// The index as it is now, read once, to ask how paths are staged (e.g.
/// whether a file a killed `unlock` left unlocked is still staged as a
/// symlink).
pub struct Staged {
    index: gix::index::File,
}

impl std::fmt::Debug for Staged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staged").finish_non_exhaustive()
    }
}

impl Staged {
    /// Reads the index of `repo` (an empty one when there is none).
    pub fn read(repo: &gix::Repository) -> Result<Staged, IngestError> {
        let path = repo.index_path();
        let index = gix::index::File::at_or_default(
            &path,
            repo.object_hash(),
            false,
            gix::index::decode::Options::default(),
        )
        .map_err(|e| IngestError::Index {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        Ok(Staged { index })
    }

    /// The blob staged at `path` (from the top, stage 0), if any.
    pub fn blob(&self, path: &[u8]) -> Option<gix::ObjectId> {
        self.index
            .entry_by_path_and_stage(path.as_bstr(), gix::index::entry::Stage::Unconflicted)
            .map(|e| e.id)
    }

    /// Whether `path` (from the top) is staged as a symlink; `None` when
    /// it is not staged (at stage 0).
    pub fn is_symlink(&self, path: &[u8]) -> Option<bool> {
        self.index
            .entry_by_path_and_stage(path.as_bstr(), gix::index::entry::Stage::Unconflicted)
            .map(|e| e.mode == Mode::SYMLINK)
    }
}

/// The index stat of a file as git records it (`lstat`'s mtime, ctime,
/// device, inode, owner and size, each cut to 32 bits as git does).
pub(crate) fn stat_of(m: &fs::Metadata) -> Stat {
    use std::os::unix::fs::MetadataExt;
    let time = |secs: i64, nsecs: i64| gix::index::entry::stat::Time {
        secs: secs as u32,
        nsecs: nsecs as u32,
    };
    Stat {
        mtime: time(m.mtime(), m.mtime_nsec()),
        ctime: time(m.ctime(), m.ctime_nsec()),
        dev: m.dev() as u32,
        ino: m.ino() as u32,
        uid: m.uid(),
        gid: m.gid(),
        size: m.len() as u32,
    }
}

/// Stages `entries` into the index of `repo` at once. An entry replaces
/// the path's entries at every stage (resolving a conflict, as `git add`
/// does), and entries that would clash with it (the path's parent
/// directories staged as files, or files under the path when it was a
/// directory) are removed. The tree cache is dropped, since it no longer
/// matches. Waits up to 10 seconds for another process's `index.lock`.
pub fn stage(repo: &gix::Repository, entries: &[IndexEntry]) -> Result<(), IngestError> {
    if entries.is_empty() {
        return Ok(());
    }
    let path = repo.index_path();
    let ierr = |detail: String| IngestError::Index {
        path: path.clone(),
        detail,
    };
    let owner = IndexOwner::take(&path).map_err(|e| ierr(e.to_string()))?;
    let mut lock = owner
        .acquire(Duration::from_secs(10))
        .map_err(|e| ierr(e.to_string()))?;
    let mut index = gix::index::File::at_or_default(
        &path,
        repo.object_hash(),
        false,
        gix::index::decode::Options::default(),
    )
    .map_err(|e| ierr(e.to_string()))?;

    // Last one wins when a path is given twice.
    let mut latest: std::collections::HashMap<&[u8], &IndexEntry> =
        std::collections::HashMap::with_capacity(entries.len());
    for e in entries {
        latest.insert(&e.path, e);
    }
    let mut remove: HashSet<Vec<u8>> = HashSet::new();
    let mut new: Vec<&IndexEntry> = Vec::new();
    for e in entries {
        if !std::ptr::eq(latest[e.path.as_slice()], e) {
            continue;
        }
        let p = e.path.as_bstr();
        use gix::index::entry::Stage;
        let stages: Vec<Stage> = [Stage::Unconflicted, Stage::Base, Stage::Ours, Stage::Theirs]
            .into_iter()
            .filter(|s| index.entry_by_path_and_stage(p, *s).is_some())
            .collect();
        let only_stage0 = stages == [Stage::Unconflicted];
        if only_stage0 {
            if let Some(entry) = index.entry_mut_by_path_and_stage(p, Stage::Unconflicted) {
                entry.id = e.id;
                entry.mode = e.mode;
                entry.stat = e.stat;
                entry
                    .flags
                    .remove(Flags::ASSUME_VALID | Flags::SKIP_WORKTREE | Flags::INTENT_TO_ADD);
            }
            continue;
        }
        if !stages.is_empty() {
            remove.insert(e.path.clone());
        }
        // A file where a directory was: its files go.
        let mut dir = e.path.clone();
        dir.push(b'/');
        if let Some(range) = index.prefixed_entries_range(dir.as_bstr()) {
            for i in range {
                remove.insert(index.entries()[i].path(&index).to_vec());
            }
        }
        // A directory where a file was: that file goes.
        let mut parent: &[u8] = &e.path;
        while let Some(i) = parent.iter().rposition(|&c| c == b'/') {
            parent = &parent[..i];
            if index.entry_by_path(parent.as_bstr()).is_some() {
                remove.insert(parent.to_vec());
            }
        }
        new.push(e);
    }
    if !remove.is_empty() {
        index.remove_entries(|_, p, _| remove.contains(p.as_bytes()));
    }
    for e in new {
        index.dangerously_push_entry(e.stat, e.id, Flags::empty(), e.mode, e.path.as_bstr());
    }
    index.sort_entries();
    index.remove_tree();
    // gix writes field by field: buffered, or it is a syscall each.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, &mut lock);
    index
        .write_to(&mut out, gix::index::write::Options::default())
        .map_err(|e| ierr(e.to_string()))?;
    std::io::Write::flush(&mut out).map_err(|e| ierr(e.to_string()))?;
    drop(out);
    owner.commit(lock).map_err(|e| ierr(e.to_string()))?;
    Ok(())
}

/// Proof that an `index.lock` left behind is ours and stale. git never
/// removes a stale `index.lock` (it asks the user to); one left by a
/// `git-annex-rs` killed while it staged files would block every later
/// command. So while we hold `index.lock` we also hold an exclusive POSIX
/// lock on `annex-rs-index.lck` beside the index, and the lock file's
/// device and inode are recorded in `annex-rs-index.owner` *before* the
/// lock file takes the name `index.lock`: it is made under a name of our
/// own (`annex-rs-index.new`), recorded, then hard-linked to `index.lock`
/// (which fails while any other `index.lock` exists, as git's own
/// `O_EXCL` create does). A kill at any point leaves either no
/// `index.lock` of ours or one the owner file names. The next run, once it
/// holds that POSIX lock (released by the kernel when its holder died),
/// removes an `index.lock` the owner file names: no live process can hold
/// it. Any other `index.lock` (git's) is waited for, as before.
struct IndexOwner {
    _lck: fs::File,
    dir: std::path::PathBuf,
    index: std::path::PathBuf,
    lock_path: std::path::PathBuf,
    _in_process: std::sync::MutexGuard<'static, ()>,
}

/// Names beside the index, all ours and all used under the POSIX lock.
const OWNER: &str = "annex-rs-index.owner";
const OWNER_TMP: &str = "annex-rs-index.owner.tmp";
const NEW_LOCK: &str = "annex-rs-index.new";

impl IndexOwner {
    fn take(index: &Path) -> std::io::Result<IndexOwner> {
        use std::os::unix::fs::MetadataExt;
        // POSIX locks do not exclude threads of one process: a mutex does.
        static IN_PROCESS: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let in_process = IN_PROCESS.lock().unwrap_or_else(|p| p.into_inner());
        let dir = index.parent().unwrap_or(Path::new(".")).to_path_buf();
        let lck = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join("annex-rs-index.lck"))?;
        rustix::fs::fcntl_lock(&lck, rustix::fs::FlockOperation::LockExclusive)?;
        let owner = dir.join(OWNER);
        let mut lock_path = index.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock_path = std::path::PathBuf::from(lock_path);
        if let (Ok(text), Ok(m)) = (fs::read_to_string(&owner), fs::symlink_metadata(&lock_path))
            && text.trim() == format!("{}:{}", m.dev(), m.ino())
        {
            let _ = fs::remove_file(&lock_path);
        }
        // What a killed run of ours left: no live process uses these names
        // while we hold the POSIX lock.
        for name in [OWNER, OWNER_TMP, NEW_LOCK] {
            let _ = fs::remove_file(dir.join(name));
        }
        Ok(IndexOwner {
            _lck: lck,
            dir,
            index: index.to_path_buf(),
            lock_path,
            _in_process: in_process,
        })
    }

    /// Takes `index.lock`, recorded as ours before it has that name;
    /// waits up to `wait` for another process's `index.lock` to go.
    /// Returns it open for writing.
    fn acquire(&self, wait: Duration) -> std::io::Result<fs::File> {
        use std::io::Write;
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
        let new = self.dir.join(NEW_LOCK);
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o666)
            .open(&new)?;
        let m = file.metadata()?;
        let tmp = self.dir.join(OWNER_TMP);
        let mut f = fs::File::create(&tmp)?;
        writeln!(f, "{}:{}", m.dev(), m.ino())?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, self.dir.join(OWNER))?;
        let deadline = std::time::Instant::now() + wait;
        let mut pause = Duration::from_millis(1);
        loop {
            match fs::hard_link(&new, &self.lock_path) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if std::time::Instant::now() >= deadline {
                        let _ = fs::remove_file(&new);
                        return Err(std::io::Error::new(
                            e.kind(),
                            format!(
                                "{} exists: another git process seems to be running in this \
                                 repository; if none is, remove the file and try again",
                                self.lock_path.display()
                            ),
                        ));
                    }
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                Err(e) => {
                    let _ = fs::remove_file(&new);
                    return Err(std::io::Error::new(
                        e.kind(),
                        format!("cannot create {}: {e}", self.lock_path.display()),
                    ));
                }
            }
        }
        let _ = fs::remove_file(&new);
        Ok(file)
    }

    /// Puts the written `index.lock` in place of the index.
    fn commit(self, lock: fs::File) -> std::io::Result<()> {
        lock.sync_all()?;
        drop(lock);
        fs::rename(&self.lock_path, &self.index)?;
        let _ = fs::remove_file(self.dir.join(OWNER));
        Ok(())
    }
}

impl Drop for IndexOwner {
    /// On an error before the commit, our `index.lock` goes (as git's
    /// lock files do when their holder gives up).
    fn drop(&mut self) {
        use std::os::unix::fs::MetadataExt;
        let owner = self.dir.join(OWNER);
        if let (Ok(text), Ok(m)) = (
            fs::read_to_string(&owner),
            fs::symlink_metadata(&self.lock_path),
        ) && text.trim() == format!("{}:{}", m.dev(), m.ino())
        {
            let _ = fs::remove_file(&self.lock_path);
        }
        let _ = fs::remove_file(owner);
        let _ = fs::remove_file(self.dir.join(NEW_LOCK));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh repository with one file `a` in its work tree, and the
    /// entry that stages it.
    fn repo_with_file() -> (tempfile::TempDir, gix::Repository, IndexEntry) {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = gix::init(dir.path()).expect("git init");
        let full = dir.path().join("a");
        fs::write(&full, b"a\n").expect("write a");
        let id = gix::ObjectId::empty_blob(repo.object_hash());
        let entry = IndexEntry::for_file(b"a", &full, Mode::FILE, id).expect("entry");
        (dir, repo, entry)
    }

    fn staged_paths(repo: &gix::Repository) -> Vec<String> {
        let index = gix::index::File::at(
            repo.index_path(),
            repo.object_hash(),
            false,
            Default::default(),
        )
        .expect("read index");
        index
            .entries()
            .iter()
            .map(|e| e.path(&index).to_string())
            .collect()
    }

    /// The crashtest's unlock round 6 and lock round 7 (seed 1): a kill
    /// right after `index.lock` was created left it unrecorded, and the
    /// next run waited 10 s and refused. Every point a kill can land on
    /// now leaves a state the next run clears at once.
    #[test]
    fn stage_after_a_kill_while_taking_index_lock_is_not_blocked() {
        use std::os::unix::fs::MetadataExt;
        let (_dir, repo, entry) = repo_with_file();
        let git = repo.git_dir().to_path_buf();
        let lock = git.join("index.lock");
        let new = git.join(NEW_LOCK);
        let record = |p: &Path| {
            let m = fs::metadata(p).expect("stat");
            fs::write(git.join(OWNER), format!("{}:{}\n", m.dev(), m.ino())).expect("owner");
        };
        // Killed after the new lock file was recorded, before the link.
        fs::write(&new, b"").expect("new");
        record(&new);
        // Killed after the link, before the new name went.
        let state2 = || {
            fs::write(&new, b"").expect("new");
            record(&new);
            fs::hard_link(&new, &lock).expect("link");
        };
        // Killed halfway through writing the owner file.
        let state3 = || fs::write(git.join(OWNER_TMP), b"12").expect("tmp");
        // Killed after the index was written to index.lock.
        let state4 = || {
            fs::remove_file(&new).ok();
            fs::write(&new, b"partial index").expect("new");
            record(&new);
            fs::hard_link(&new, &lock).expect("link");
            fs::remove_file(&new).expect("unlink");
        };
        for (i, setup) in [&(|| {}) as &dyn Fn(), &state2, &state3, &state4]
            .into_iter()
            .enumerate()
        {
            setup();
            let start = std::time::Instant::now();
            stage(&repo, std::slice::from_ref(&entry)).unwrap_or_else(|e| panic!("state {i}: {e}"));
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "state {i}: waited for our own stale lock"
            );
            assert!(!lock.exists(), "state {i}: index.lock left");
            assert!(!new.exists(), "state {i}: {NEW_LOCK} left");
            assert!(!git.join(OWNER).exists(), "state {i}: owner left");
            assert_eq!(staged_paths(&repo), ["a"], "state {i}");
        }
    }

    /// An `index.lock` we did not record (git's own) is never removed:
    /// stage waits for it and gives up naming it.
    #[test]
    fn stage_leaves_an_index_lock_of_git_alone() {
        let (_dir, repo, entry) = repo_with_file();
        let git = repo.git_dir().to_path_buf();
        let lock = git.join("index.lock");
        fs::write(&lock, b"git's").expect("lock");
        let owner = IndexOwner::take(&repo.index_path()).expect("take");
        let err = owner
            .acquire(Duration::from_millis(50))
            .expect_err("git's lock is held");
        assert!(err.to_string().contains("index.lock"), "{err}");
        drop(owner);
        assert_eq!(fs::read(&lock).expect("still there"), b"git's");
        assert!(!git.join(NEW_LOCK).exists());
        fs::remove_file(&lock).expect("git done");
        stage(&repo, std::slice::from_ref(&entry)).expect("stage");
        assert_eq!(staged_paths(&repo), ["a"]);
    }
}
