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
//!   (modified in the second the index was written, or later);
//! - the index's cache tree is valid and its root is `HEAD`'s tree (the
//!   index holds what `HEAD` holds);
//! - every file or symlink in the work tree is in the index (so there is
//!   no untracked file, ignored or not; a nested `.git` is no proof either).
//!
//! Anything else, or any error, gives `false`: the caller then asks git.
//! The `lstat` calls run on a few threads.

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

fn check(repo: &gix::Repository, work_tree: &Path) -> Option<bool> {
    let index = repo.open_index().ok()?;
    let head_tree = repo.head_commit().ok()?.tree_id().ok()?.detach();
    let cache_tree = index.tree()?;
    if cache_tree.num_entries.is_none() || cache_tree.id != head_tree {
        return Some(false);
    }
    if index.link().is_some() {
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
    let refuse = Flags::INTENT_TO_ADD | Flags::SKIP_WORKTREE | Flags::ASSUME_VALID;
    for e in entries {
        if e.flags.stage_raw() != 0 || e.flags.intersects(refuse) {
            return Some(false);
        }
        if e.mode != Mode::FILE && e.mode != Mode::FILE_EXECUTABLE && e.mode != Mode::SYMLINK {
            return Some(false);
        }
        // Racily clean (modified in the second the index was written, which
        // is stricter than git's nanosecond rule: file system clocks are
        // coarser than their timestamps): only git can tell.
        if i64::from(e.stat.mtime.secs) >= index_secs {
            return Some(false);
        }
    }
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
    let tracked: HashSet<&[u8]> = entries
        .iter()
        .map(|e| -> &[u8] { e.path(&index).as_ref() })
        .collect();
    let mut dirs: Vec<Vec<u8>> = vec![Vec::new()];
    while let Some(dir) = dirs.pop() {
        let full = work_tree.join(std::ffi::OsStr::from_bytes(&dir));
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
    Some(true)
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
