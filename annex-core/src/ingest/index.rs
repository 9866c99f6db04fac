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
    let mut lock = gix::lock::File::acquire_to_update_resource(
        &path,
        gix::lock::acquire::Fail::AfterDurationWithBackoff(Duration::from_secs(10)),
        None,
        0o666,
    )
    .map_err(|e| ierr(e.to_string()))?;
    owner.own(lock.lock_path());
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
    lock.commit().map_err(|e| ierr(e.error.to_string()))?;
    owner.done();
    Ok(())
}

/// Proof that an `index.lock` left behind is ours and stale. git never
/// removes a stale `index.lock` (it asks the user to); one left by a
/// `git-annex-rs` killed while it staged files would block every later
/// command. So while we hold `index.lock` we also hold an exclusive POSIX
/// lock on `annex-rs-index.lck` beside the index, and record the lock
/// file's device and inode in `annex-rs-index.owner`. The next run, once
/// it holds that POSIX lock (released by the kernel when its holder
/// died), removes an `index.lock` the owner file names: no live process
/// can hold it. Any other `index.lock` (git's) is waited for, as before.
struct IndexOwner {
    _lck: fs::File,
    owner: std::path::PathBuf,
    _in_process: std::sync::MutexGuard<'static, ()>,
}

impl IndexOwner {
    fn take(index: &Path) -> std::io::Result<IndexOwner> {
        use std::os::unix::fs::MetadataExt;
        // POSIX locks do not exclude threads of one process: a mutex does.
        static IN_PROCESS: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let in_process = IN_PROCESS.lock().unwrap_or_else(|p| p.into_inner());
        let dir = index.parent().unwrap_or(Path::new("."));
        let lck = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join("annex-rs-index.lck"))?;
        rustix::fs::fcntl_lock(&lck, rustix::fs::FlockOperation::LockExclusive)?;
        let owner = dir.join("annex-rs-index.owner");
        let mut lock_path = index.as_os_str().to_owned();
        lock_path.push(".lock");
        if let (Ok(text), Ok(m)) = (
            fs::read_to_string(&owner),
            fs::symlink_metadata(Path::new(&lock_path)),
        ) && text.trim() == format!("{}:{}", m.dev(), m.ino())
        {
            let _ = fs::remove_file(&lock_path);
        }
        let _ = fs::remove_file(&owner);
        Ok(IndexOwner {
            _lck: lck,
            owner,
            _in_process: in_process,
        })
    }

    /// Records `lock` (our `index.lock`) as ours.
    fn own(&self, lock: &Path) {
        use std::os::unix::fs::MetadataExt;
        if let Ok(m) = fs::symlink_metadata(lock) {
            let _ = fs::write(&self.owner, format!("{}:{}\n", m.dev(), m.ino()));
        }
    }

    /// `index.lock` is gone (renamed into place).
    fn done(self) {
        let _ = fs::remove_file(&self.owner);
    }
}
