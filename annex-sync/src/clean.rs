//! Telling, without starting git, that `git commit -a` has nothing to
//! commit and `git status` nothing to show: the no-op path of `sync`.
//!
//! [`provably_clean`] answers `true` only when it can prove it, the way git
//! would see it:
//!
//! - every index entry is at stage 0, a regular file or a symlink (no
//!   submodule, no intent-to-add, skip-worktree or assume-valid entry), and
//!   its file's `lstat` matches the stat data the index recorded (the
//!   fields `core.checkStat` and `core.trustctime` ask git to compare; the
//!   executable bit when `core.fileMode`), and no entry is racily clean
//!   (modified in the second the index was written, or later) unless it
//!   is a symlink whose target is the staged blob;
//! - the index's cache tree is valid and its root is `HEAD`'s tree (the
//!   index holds what `HEAD` holds);
//! - every file or symlink in the work tree is in the index (so there is
//!   no untracked file, ignored or not; a nested `.git` is no proof either).
//!
//! Anything else, or any error, gives `false`: the caller then asks git.
//! The `lstat` calls run on a few threads.
//!
//! A proof remembers the work tree's directories ([`DIRS_CACHE`]). When,
//! the next time, the index file is the same and no directory changed
//! (mtime and inode), no name appeared, vanished or was replaced in the
//! work tree: symlinks (which cannot change in place) are as proven then
//! and there is no untracked file, so only the regular files are
//! `lstat`ed and the directory walk is skipped.

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use gix::index::entry::{Flags, Mode};

/// Whether the work tree at `work_tree` of `repo` provably has nothing to
/// commit and no untracked file (see the module documentation).
pub fn provably_clean(repo: &gix::Repository, work_tree: &Path) -> bool {
    check(repo, work_tree).unwrap_or(false)
}

/// Whether the index of `repo` holds exactly what `HEAD` holds: its
/// cache tree is valid and is `HEAD`'s tree, and no entry is unmerged,
/// intent-to-add, skip-worktree (sparse) or assume-valid. It says nothing
/// of the work tree: [`provably_clean`] does, and checks this first.
pub fn index_is_head(repo: &gix::Repository) -> bool {
    repo.open_index()
        .ok()
        .is_some_and(|index| index_matches_head(repo, &index).unwrap_or(false))
}

fn index_matches_head(repo: &gix::Repository, index: &gix::index::File) -> Option<bool> {
    let head_tree = repo.head_commit().ok()?.tree_id().ok()?.detach();
    let cache_tree = index.tree()?;
    if cache_tree.num_entries.is_none() || cache_tree.id != head_tree || index.link().is_some() {
        return Some(false);
    }
    let refuse = Flags::INTENT_TO_ADD | Flags::SKIP_WORKTREE | Flags::ASSUME_VALID;
    Some(
        index
            .entries()
            .iter()
            .all(|e| e.flags.stage_raw() == 0 && !e.flags.intersects(refuse)),
    )
}

fn check(repo: &gix::Repository, work_tree: &Path) -> Option<bool> {
    let index = repo.open_index().ok()?;
    if !index_matches_head(repo, &index)? {
        return Some(false);
    }
    let config = repo.config_snapshot();
    let minimal = config
        .string("core.checkStat")
        .is_some_and(|v| v.eq_ignore_ascii_case(b"minimal"));
    let trust_ctime = config.boolean("core.trustctime").unwrap_or(true);
    let file_mode = config.boolean("core.fileMode").unwrap_or(true);
    let index_secs = index.timestamp().unix_seconds();
    let entries = index.entries();
    // A symlink's content is its target: compared with the staged blob as
    // git compares a racily clean entry's content.
    let target_is_staged = |e: &gix::index::Entry| {
        let path = work_tree.join(std::ffi::OsStr::from_bytes(e.path(&index)));
        std::fs::read_link(&path).is_ok_and(|t| {
            gix::objs::compute_hash(
                repo.object_hash(),
                gix::objs::Kind::Blob,
                t.as_os_str().as_bytes(),
            )
            .is_ok_and(|id| id == e.id)
        })
    };
    for e in entries {
        if e.mode != Mode::FILE && e.mode != Mode::FILE_EXECUTABLE && e.mode != Mode::SYMLINK {
            return Some(false);
        }
        // Racily clean (modified in the second the index was written, which
        // is stricter than git's nanosecond rule: file system clocks are
        // coarser than their timestamps): a symlink is checked by its
        // target (as after a checkout or merge that just wrote it); any
        // other file is left to git.
        if i64::from(e.stat.mtime.secs) >= index_secs
            && (e.mode != Mode::SYMLINK || !target_is_staged(e))
        {
            return Some(false);
        }
    }
    let cache_path = repo.git_dir().join("annex").join(DIRS_CACHE);
    let index_sig = file_sig(&repo.index_path());
    // Directories unchanged since the last proof, for the same index: no
    // name appeared, vanished or was replaced in them, so the symlinks
    // are as they were proven then and no untracked file appeared; only
    // regular files (which change in place) need their lstat.
    let dirs_unchanged = index_sig.is_some_and(|sig| dirs_unchanged(&cache_path, work_tree, sig));
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let chunk = entries.len().div_ceil(threads).max(1);
    let all_match = std::thread::scope(|s| {
        let handles: Vec<_> = entries
            .chunks(chunk)
            .map(|part| {
                let index = &index;
                s.spawn(move || {
                    part.iter().all(|e| {
                        if dirs_unchanged && e.mode == Mode::SYMLINK {
                            return true;
                        }
                        let path = work_tree.join(std::ffi::OsStr::from_bytes(e.path(index)));
                        match std::fs::symlink_metadata(&path) {
                            Ok(m) => stat_matches(e, &m, minimal, trust_ctime, file_mode),
                            Err(_) => false,
                        }
                    })
                })
            })
            .collect();
        handles.into_iter().all(|h| h.join().unwrap_or(false))
    });
    if !all_match {
        return Some(false);
    }
    if dirs_unchanged {
        return Some(true);
    }
    let tracked: HashSet<&[u8]> = entries
        .iter()
        .map(|e| -> &[u8] { e.path(&index).as_ref() })
        .collect();
    let mut seen: Vec<(Vec<u8>, DirStat)> = Vec::new();
    let mut dirs: Vec<Vec<u8>> = vec![Vec::new()];
    while let Some(dir) = dirs.pop() {
        let full = work_tree.join(std::ffi::OsStr::from_bytes(&dir));
        seen.push((
            dir.clone(),
            DirStat::of(&std::fs::symlink_metadata(&full).ok()?),
        ));
        for entry in std::fs::read_dir(&full).ok()? {
            let entry = entry.ok()?;
            let name = entry.file_name();
            let name = name.as_bytes();
            if name == b".git" {
                if dir.is_empty() {
                    continue;
                }
                return Some(false);
            }
            let mut rel = dir.clone();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(name);
            let kind = entry.file_type().ok()?;
            if kind.is_dir() {
                dirs.push(rel);
            } else if !tracked.contains(rel.as_slice()) {
                return Some(false);
            }
        }
    }
    if let Some(sig) = index_sig {
        // A later run may trust these directories (best effort).
        let _ = write_dirs_cache(&cache_path, sig, &seen);
    }
    Some(true)
}

/// The file (under `.git/annex`) where the directories of the last proven
/// clean work tree are remembered: a line `index INO SIZE SECS NSECS` (the
/// index file then), then one line per directory `SECS NSECS INO PATH`
/// (its mtime and inode; the path from the top, empty for the top).
/// A file of git-annex-rs only.
pub const DIRS_CACHE: &str = "rs-sync-clean-dirs";

/// What is compared of a directory (or of the index file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DirStat {
    secs: i64,
    nsecs: i64,
    ino: u64,
}

impl DirStat {
    fn of(m: &std::fs::Metadata) -> DirStat {
        DirStat {
            secs: m.mtime(),
            nsecs: m.mtime_nsec(),
            ino: m.ino(),
        }
    }
}

/// The index file's inode, size and mtime.
fn file_sig(path: &Path) -> Option<(DirStat, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((DirStat::of(&m), m.len()))
}

/// Whether the cache at `cache` was written for this index and every
/// directory it lists is unchanged, none modified in the second the cache
/// was written or later (a coarse clock could hide a change then).
fn dirs_unchanged(cache: &Path, work_tree: &Path, sig: (DirStat, u64)) -> bool {
    let Ok(meta) = std::fs::metadata(cache) else {
        return false;
    };
    let written = meta.mtime();
    let Ok(text) = std::fs::read(cache) else {
        return false;
    };
    let mut lines = text.split(|&b| b == b'\n');
    let head = format!(
        "index {} {} {} {}",
        sig.0.ino, sig.1, sig.0.secs, sig.0.nsecs
    );
    if lines.next() != Some(head.as_bytes()) {
        return false;
    }
    let mut any = false;
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let mut parts = line.splitn(4, |&b| b == b' ');
        let num = |p: Option<&[u8]>| -> Option<i64> { std::str::from_utf8(p?).ok()?.parse().ok() };
        let (Some(secs), Some(nsecs), Some(ino)) =
            (num(parts.next()), num(parts.next()), num(parts.next()))
        else {
            return false;
        };
        let Some(path) = parts.next() else {
            return false;
        };
        if secs >= written {
            return false;
        }
        let full = work_tree.join(std::ffi::OsStr::from_bytes(path));
        match std::fs::symlink_metadata(&full) {
            Ok(m)
                if m.is_dir()
                    && DirStat::of(&m)
                        == (DirStat {
                            secs,
                            nsecs,
                            ino: ino as u64,
                        }) => {}
            _ => return false,
        }
        any = true;
    }
    any
}

/// Writes the cache (atomically), unless a directory was modified in the
/// current second (its mtime could not be trusted next time) or a path
/// holds a newline.
fn write_dirs_cache(
    cache: &Path,
    sig: (DirStat, u64),
    dirs: &[(Vec<u8>, DirStat)],
) -> std::io::Result<()> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut out = format!(
        "index {} {} {} {}\n",
        sig.0.ino, sig.1, sig.0.secs, sig.0.nsecs
    )
    .into_bytes();
    for (path, st) in dirs {
        if st.secs >= now || path.contains(&b'\n') {
            let _ = std::fs::remove_file(cache);
            return Ok(());
        }
        out.extend_from_slice(format!("{} {} {} ", st.secs, st.nsecs, st.ino).as_bytes());
        out.extend_from_slice(path);
        out.push(b'\n');
    }
    if let Some(dir) = cache.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = cache.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, &out)?;
    std::fs::rename(&tmp, cache)
}

/// Whether `m` is what the index recorded for `e`, comparing what git
/// compares.
fn stat_matches(
    e: &gix::index::Entry,
    m: &std::fs::Metadata,
    minimal: bool,
    trust_ctime: bool,
    file_mode: bool,
) -> bool {
    let kind = m.file_type();
    let kind_ok = if e.mode == Mode::SYMLINK {
        kind.is_symlink()
    } else {
        kind.is_file()
            && (!file_mode || ((m.mode() & 0o100) != 0) == (e.mode == Mode::FILE_EXECUTABLE))
    };
    if !kind_ok || e.stat.size != m.size() as u32 {
        return false;
    }
    if e.stat.mtime.secs != m.mtime() as u32 {
        return false;
    }
    if minimal {
        return true;
    }
    if e.stat.mtime.nsecs != m.mtime_nsec() as u32 {
        return false;
    }
    if trust_ctime
        && (e.stat.ctime.secs != m.ctime() as u32 || e.stat.ctime.nsecs != m.ctime_nsec() as u32)
    {
        return false;
    }
    e.stat.ino == m.ino() as u32 && e.stat.uid == m.uid() && e.stat.gid == m.gid()
}
