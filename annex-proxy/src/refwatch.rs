//! Watching a repository's git refs for changes: what
//! `git-annex-shell notifychanges` and the P2P protocol's `NOTIFYCHANGE`
//! report (git-annex's `Annex.ChangedRefs`).
//!
//! As git-annex's, the watch covers the files under the git dir's `refs/`
//! (recursively; `*.lock` files ignored; created or rewritten, never
//! removed), reports the sha each changed file holds (not the ref's name),
//! counts every file already there when the watch starts as changed, and
//! gathers the changes that follow the first one within 50 ms into one
//! report, in git-annex's order (the first change, then the others latest
//! first). git-annex is told by inotify; here the directory is polled
//! (every 50 ms), which reports the same changes on every system.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often the refs are looked at, and how long after a first change
/// the next ones are gathered with it (git-annex's 0.05 s).
pub const POLL: Duration = Duration::from_millis(50);

/// What identifies one version of a ref file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

/// A watch on one repository's refs.
#[derive(Debug)]
pub struct RefWatcher {
    refs: PathBuf,
    seen: HashMap<PathBuf, Stamp>,
    /// Changes found but not yet reported, in the order found.
    pending: Vec<Vec<u8>>,
}

impl RefWatcher {
    /// Starts watching `git_dir/refs` (created when missing, as
    /// git-annex does). The refs already there are the first change.
    pub fn start(git_dir: &Path) -> RefWatcher {
        let refs = git_dir.join("refs");
        let _ = std::fs::create_dir_all(&refs);
        let mut w = RefWatcher {
            refs,
            seen: HashMap::new(),
            pending: Vec::new(),
        };
        w.scan();
        w
    }

    /// Looks at every ref file once; queues the shas of those created or
    /// rewritten since the last look.
    fn scan(&mut self) {
        let refs = self.refs.clone();
        self.scan_dir(&refs, 0);
    }

    /// One directory, depth first in the directory's own order, as
    /// git-annex's watcher walks it.
    fn scan_dir(&mut self, dir: &Path, depth: usize) {
        // Refs nest a few levels; a deeper tree is no git's.
        if depth > 64 {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                self.scan_dir(&path, depth + 1);
                continue;
            }
            if path.as_os_str().as_encoded_bytes().ends_with(b".lock") {
                continue;
            }
            let stamp = Stamp {
                ino: inode(&meta),
                len: meta.len(),
                modified: meta.modified().ok(),
            };
            if self.seen.get(&path) == Some(&stamp) {
                continue;
            }
            self.seen.insert(path.clone(), stamp);
            if let Some(sha) = read_sha(&path) {
                self.pending.push(sha);
            }
        }
    }

    /// Waits for refs to change; gives their shas. `None` when `stop`
    /// says so first (it is asked at every look).
    pub fn wait_until(&mut self, stop: &dyn Fn() -> bool) -> Option<Vec<Vec<u8>>> {
        loop {
            if stop() {
                return None;
            }
            self.scan();
            if !self.pending.is_empty() {
                std::thread::sleep(POLL);
                if stop() {
                    return None;
                }
                self.scan();
                let mut found = std::mem::take(&mut self.pending);
                // git-annex's order: the first change, then the others
                // latest first.
                if found.len() > 1 {
                    found[1..].reverse();
                }
                return Some(found);
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits for refs to change; gives their shas.
    pub fn wait(&mut self) -> Vec<Vec<u8>> {
        self.wait_until(&|| false).unwrap_or_default()
    }
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.ino()
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> u64 {
    0
}

/// The sha at the start of a ref file (git-annex's `extractSha`: 40 or
/// 64 hex digits), `None` for anything else (a symbolic ref, garbage).
fn read_sha(path: &Path) -> Option<Vec<u8>> {
    let bytes = std::fs::read(path).ok()?;
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let ok = (line.len() == 40 || line.len() == 64) && line.iter().all(u8::is_ascii_hexdigit);
    ok.then(|| line.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";

    #[test]
    fn the_refs_there_then_each_change_are_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let heads = dir.path().join("refs/heads");
        std::fs::create_dir_all(&heads).expect("mkdir");
        std::fs::write(heads.join("master"), format!("{A}\n")).expect("write");
        let mut w = RefWatcher::start(dir.path());
        assert_eq!(w.wait(), vec![A.as_bytes().to_vec()]);
        // A lock file is no ref; a new ref in a new directory is.
        std::fs::write(heads.join("x.lock"), format!("{B}\n")).expect("write");
        std::fs::create_dir_all(dir.path().join("refs/tags/sub")).expect("mkdir");
        std::fs::write(dir.path().join("refs/tags/sub/t"), format!("{B}\n")).expect("write");
        assert_eq!(w.wait(), vec![B.as_bytes().to_vec()]);
        // Nothing more: the stop condition ends the wait.
        let tries = std::cell::Cell::new(0);
        let stop = || {
            tries.set(tries.get() + 1);
            tries.get() > 3
        };
        assert_eq!(w.wait_until(&stop), None);
        // A symbolic ref holds no sha.
        assert_eq!(read_sha(&heads.join("x.lock")), Some(B.as_bytes().to_vec()));
        std::fs::write(heads.join("sym"), "ref: refs/heads/master\n").expect("write");
        assert_eq!(read_sha(&heads.join("sym")), None);
    }
}
