//! The watcher: inotify (through `notify`) on every directory of the work
//! tree except `.git`, one non-recursive watch per directory so that the
//! watch limit is met directory by directory and reported, never hidden.
//!
//! In: file-system events. Out: [`Change`]s on a channel to the committer,
//! one per path an event names; a directory created or moved into the tree
//! is walked, watched, and each path under it sent; a directory deleted or
//! moved away is sent as one path (the committer stages the removal of
//! everything under it).
//!
//! When the kernel's limit on inotify watches is reached, the directories
//! left are not watched; the message says which and how to raise
//! `fs.inotify.max_user_watches` (git-annex's words), and the daemon goes on
//! with what it watches.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher as _};

use crate::changes::Change;

/// Errors starting the watcher.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The inotify instance could not be made.
    #[error("cannot watch {}: {source}", path.display())]
    Start {
        /// The work tree.
        path: PathBuf,
        /// The cause.
        source: notify::Error,
    },
}

/// The message for a directory left unwatched because the watch limit was
/// reached, with the commands to raise the limit (`current`, the limit now,
/// when known).
pub fn too_many_watches(dir: &Path, current: Option<u64>) -> String {
    let mut lines = vec![format!(
        "Too many directories to watch! (Not watching {})",
        dir.display()
    )];
    const MAX: &str = "fs.inotify.max_user_watches";
    match current {
        Some(n) => {
            let new = n.saturating_mul(10);
            lines.push("Increase the limit permanently by running:".into());
            lines.push(format!(
                "  echo {MAX}={new} | sudo tee -a /etc/sysctl.conf; sudo sysctl -p"
            ));
            lines.push("Or temporarily by running:".into());
            lines.push(format!("  sudo sysctl -w {MAX}={new}"));
        }
        None => lines.push("Increase the value in /proc/sys/fs/inotify/max_user_watches".into()),
    }
    lines.join("\n")
}

/// The current `fs.inotify.max_user_watches`.
fn current_limit() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/inotify/max_user_watches")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The running watcher; dropping it stops the watching.
pub struct Watcher {
    inner: RecommendedWatcher,
    top: PathBuf,
    /// Set once the limit was hit: no more watches are tried until a
    /// directory watched is removed.
    limited: bool,
    warn: Box<dyn Fn(&str) + Send>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher").field("top", &self.top).finish()
    }
}

/// Whether `rel` (from the top) is inside `.git`.
fn in_git_dir(rel: &Path) -> bool {
    rel.components()
        .next()
        .is_some_and(|c| c.as_os_str() == ".git")
}

impl Watcher {
    /// Watches every directory under `top` (not `.git`); events arrive on
    /// the returned receiver, to be given to [`Watcher::handle`]. `warn`
    /// receives the watch-limit message.
    pub fn start(
        top: &Path,
        warn: Box<dyn Fn(&str) + Send>,
    ) -> Result<(Watcher, Receiver<notify::Result<notify::Event>>), WatchError> {
        let (tx, rx) = channel();
        let inner = notify::recommended_watcher(tx).map_err(|source| WatchError::Start {
            path: top.to_path_buf(),
            source,
        })?;
        let mut w = Watcher {
            inner,
            top: top.to_path_buf(),
            limited: false,
            warn,
        };
        w.watch_tree(top, None);
        Ok((w, rx))
    }

    /// Watches `dir` and the directories under it; with `out`, sends every
    /// file found under it as a change.
    fn watch_tree(&mut self, dir: &Path, out: Option<&Sender<Change>>) {
        let walk = walkdir::WalkDir::new(dir).follow_links(false).into_iter();
        let top = self.top.clone();
        let walk = walk.filter_entry(|e| {
            e.path()
                .strip_prefix(&top)
                .map(|r| !in_git_dir(r))
                .unwrap_or(false)
        });
        for entry in walk.flatten() {
            if entry.file_type().is_dir() {
                if !self.limited {
                    self.watch_dir(entry.path());
                }
            } else if let Some(out) = out
                && let Some(rel) = self.rel(entry.path())
            {
                let _ = out.send(Change::now(rel));
            }
        }
    }

    fn watch_dir(&mut self, dir: &Path) {
        match self.inner.watch(dir, RecursiveMode::NonRecursive) {
            Ok(()) => {}
            Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
                self.limited = true;
                (self.warn)(&too_many_watches(dir, current_limit()));
            }
            // A directory gone meanwhile: its removal comes as an event.
            Err(_) => {}
        }
    }

    /// The path from the top, unless outside the tree or in `.git`.
    fn rel(&self, p: &Path) -> Option<Vec<u8>> {
        let r = p.strip_prefix(&self.top).ok()?;
        if r.as_os_str().is_empty() || in_git_dir(r) {
            return None;
        }
        Some(r.as_os_str().as_bytes().to_vec())
    }

    /// Turns one event into changes on `out`, watching new directories.
    pub fn handle(&mut self, event: notify::Event, out: &Sender<Change>) {
        // As git-annex's inotify hooks: creations, removals, renames and
        // closes after writing; not each write (a file being written is
        // looked at once its writer closes it).
        let relevant = matches!(
            event.kind,
            EventKind::Create(_)
                | EventKind::Remove(_)
                | EventKind::Modify(ModifyKind::Name(_))
                | EventKind::Access(AccessKind::Close(AccessMode::Write))
        );
        if !relevant {
            return;
        }
        for p in &event.paths {
            let Some(rel) = self.rel(p) else { continue };
            let is_dir = std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
            if is_dir {
                // Created or moved in: watched, and what it holds sent.
                self.watch_tree(p, Some(out));
            } else {
                if matches!(
                    event.kind,
                    EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_))
                ) {
                    // A watched directory gone: its watch went with it, so
                    // the limit may no longer be reached.
                    let _ = self.inner.unwatch(p);
                    self.limited = false;
                }
                let _ = out.send(Change::now(rel));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_message_names_the_sysctl_and_the_directory() {
        let m = too_many_watches(Path::new("sub/dir"), Some(8192));
        assert!(m.starts_with("Too many directories to watch! (Not watching sub/dir)"));
        assert!(m.contains("sudo sysctl -w fs.inotify.max_user_watches=81920"));
        let m = too_many_watches(Path::new("d"), None);
        assert!(m.contains("/proc/sys/fs/inotify/max_user_watches"));
    }

    #[test]
    fn git_dir_is_not_watched() {
        assert!(in_git_dir(Path::new(".git/annex")));
        assert!(!in_git_dir(Path::new("a/.git")));
    }
}
