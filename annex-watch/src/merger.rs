//! The merger: watches `.git/refs` (through `notify`, no polling) and
//! merges what arrives there, as git-annex's assistant's `Merger` thread
//! does.
//!
//! A ref file written or renamed into place (`*.lock` files aside) is
//! looked at by name:
//!
//! - a `git-annex` branch other than our own (`refs/heads/synced/git-annex`
//!   pushed into us, `refs/remotes/NAME/git-annex` fetched): the
//!   `git-annex` branches are merged into ours;
//! - a branch related to the current one (git-annex's `isRelatedTo`: its
//!   name without `refs/heads/` or `refs/remotes/` is one directory over
//!   the current branch's, and it is a `synced/` branch or a remote
//!   tracking branch: `refs/heads/synced/main`, `refs/remotes/origin/main`,
//!   `refs/remotes/origin/synced/main` for `main`): merged into the current
//!   branch when it has commits the branch lacks;
//! - the current branch itself (a commit made by hand, as with
//!   `annex.autocommit=false`): the pusher is told, so it is pushed out.
//!
//! So a peer's push into this repository and a fetch by the remote daemon
//! (which updates `refs/remotes/*`) are both merged as they land. Events
//! coming together are handled together (one merge for a burst). At start
//! every existing ref is looked at once, as the reference's synthetic
//! events at startup do, so what was pushed while no daemon ran is merged.
//! After a merge the pusher and the transferrer are told (the merge is
//! pushed on; new files' content is fetched).

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use notify::event::EventKind;
use notify::{RecursiveMode, Watcher as _};

use crate::syncer::Syncer;

/// Errors starting the merger.
#[derive(Debug, thiserror::Error)]
pub enum MergerError {
    /// `.git/refs` could not be watched.
    #[error("cannot watch {}: {source}", path.display())]
    Watch {
        /// The refs directory.
        path: PathBuf,
        /// The cause.
        source: notify::Error,
    },
    /// The merger's thread could not start.
    #[error("cannot start the merger for {}: {source}", path.display())]
    Thread {
        /// The refs directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The name of the `git-annex` branch.
const ANNEX_BRANCH: &str = "refs/heads/git-annex";

/// The ref a file under `refs_dir` (the repository's `.git/refs`) holds,
/// as `refs/...`; `None` for lock files and paths outside.
pub fn file_to_ref(refs_dir: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(refs_dir).ok()?;
    let rel = rel.to_str()?;
    if rel.is_empty() || rel.ends_with(".lock") {
        return None;
    }
    Some(format!("refs/{rel}"))
}

/// Whether `r` is a `git-annex` branch to merge into ours (any ref whose
/// last component is `git-annex`, ours aside).
pub fn is_annex_branch(r: &str) -> bool {
    r.ends_with("/git-annex") && r != ANNEX_BRANCH
}

/// A ref without `refs/heads/` or `refs/remotes/` (git-annex's `Ref.base`).
fn base(r: &str) -> &str {
    let r = r.strip_prefix("refs/remotes/").unwrap_or(r);
    r.strip_prefix("refs/heads/").unwrap_or(r)
}

/// Whether `x` is a synced branch or remote tracking branch of `y` (the
/// current branch), to be merged into it (git-annex's `isRelatedTo`).
pub fn is_related_to(x: &str, y: &str) -> bool {
    let bx = base(x);
    let by = base(y);
    let dir = match bx.rfind('/') {
        Some(i) => &bx[..i],
        None => ".",
    };
    if bx != format!("{dir}/{by}") {
        return false;
    }
    x.contains("/synced/") || x.starts_with("refs/remotes/")
}

/// The branch merges go into: `HEAD`'s branch, or for an adjusted branch
/// (`refs/heads/adjusted/BRANCH(MODE)`) its original branch.
pub fn current_branch(git_dir: &Path) -> Option<String> {
    let head = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    let r = head.strip_prefix("ref: ")?.trim_end();
    if let Some(adj) = r.strip_prefix("refs/heads/adjusted/")
        && let Some(open) = adj.rfind('(')
        && adj.ends_with(')')
    {
        return Some(format!("refs/heads/{}", &adj[..open]));
    }
    Some(r.to_string())
}

/// What the merger tells the other threads.
#[derive(Clone)]
pub struct MergerLinks {
    /// The repository lock the daemon's writers share.
    pub lock: Arc<Mutex<()>>,
    /// Told when the current branch moved (a merge, or a commit by hand).
    pub pusher: Sender<()>,
    /// Told when a merge may have brought content to fetch.
    pub transferrer: Sender<()>,
}

/// Starts watching `git_dir`'s refs and merging in a thread; returns once
/// the watch is in place and the startup pass is queued.
pub fn start<S: Syncer>(git_dir: &Path, syncer: S, links: MergerLinks) -> Result<(), MergerError> {
    let refs_dir = git_dir.join("refs");
    let _ = std::fs::create_dir_all(&refs_dir);
    let refs_dir = refs_dir.canonicalize().unwrap_or(refs_dir);
    let (tx, rx) = channel::<notify::Result<notify::Event>>();
    let mut watcher = notify::recommended_watcher(tx).map_err(|source| MergerError::Watch {
        path: refs_dir.clone(),
        source,
    })?;
    watcher
        .watch(&refs_dir, RecursiveMode::Recursive)
        .map_err(|source| MergerError::Watch {
            path: refs_dir.clone(),
            source,
        })?;
    let git_dir = git_dir.to_path_buf();
    let rd = refs_dir.clone();
    std::thread::Builder::new()
        .name("merger".into())
        .spawn(move || {
            // The watcher lives as long as the thread.
            let _watcher = watcher;
            let mut m = Merger {
                git_dir,
                refs_dir: rd,
                syncer,
                links,
            };
            m.run(rx);
        })
        .map_err(|source| MergerError::Thread {
            path: refs_dir,
            source,
        })?;
    Ok(())
}

struct Merger<S: Syncer> {
    git_dir: PathBuf,
    refs_dir: PathBuf,
    syncer: S,
    links: MergerLinks,
}

impl<S: Syncer> Merger<S> {
    fn run(&mut self, rx: Receiver<notify::Result<notify::Event>>) {
        // Startup: every ref there is, as if just written.
        let mut refs = Vec::new();
        for e in walkdir::WalkDir::new(&self.refs_dir)
            .into_iter()
            .filter_map(Result::ok)
        {
            if e.file_type().is_file()
                && let Some(r) = file_to_ref(&self.refs_dir, e.path())
            {
                refs.push(r);
            }
        }
        self.handle(refs);
        while let Ok(ev) = rx.recv() {
            let mut refs = Vec::new();
            self.collect(ev, &mut refs);
            // Whatever else lands meanwhile comes with it.
            while let Ok(ev) = rx.recv_timeout(Duration::from_millis(50)) {
                self.collect(ev, &mut refs);
            }
            self.handle(refs);
        }
    }

    fn collect(&self, ev: notify::Result<notify::Event>, refs: &mut Vec<String>) {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                eprintln!("merger: watch error: {e}");
                return;
            }
        };
        if !matches!(ev.kind, EventKind::Create(_) | EventKind::Modify(_)) {
            return;
        }
        for p in &ev.paths {
            if p.is_dir() {
                // A directory made with refs already in it (a new
                // remote's): those files may have come before its watch.
                for e in walkdir::WalkDir::new(p).into_iter().filter_map(Result::ok) {
                    if e.file_type().is_file()
                        && let Some(r) = file_to_ref(&self.refs_dir, e.path())
                    {
                        refs.push(r);
                    }
                }
            } else if let Some(r) = file_to_ref(&self.refs_dir, p) {
                refs.push(r);
            }
        }
    }

    fn handle(&mut self, mut refs: Vec<String>) {
        refs.sort();
        refs.dedup();
        if refs.is_empty() {
            return;
        }
        let current = current_branch(&self.git_dir);
        let annex = refs.iter().any(|r| is_annex_branch(r));
        let related: Vec<&String> = match &current {
            Some(c) => refs.iter().filter(|r| is_related_to(r, c)).collect(),
            None => Vec::new(),
        };
        let moved_here = current.as_ref().is_some_and(|c| refs.contains(c));
        let mut pushed = moved_here;
        let mut fetch = false;
        if annex || !related.is_empty() {
            let _guard = self.links.lock.lock().unwrap_or_else(|e| e.into_inner());
            if annex {
                match self.syncer.merge_annex() {
                    Ok(merged) => fetch |= merged,
                    Err(e) => eprintln!("merger: {e}"),
                }
            }
            if let Some(c) = &current {
                for r in related {
                    match self.syncer.merge_branch(r, c) {
                        Ok(merged) => {
                            pushed |= merged;
                            fetch |= merged;
                        }
                        Err(e) => eprintln!("merger: merging {r}: {e}"),
                    }
                }
            }
        }
        if pushed {
            let _ = self.links.pusher.send(());
        }
        if fetch {
            let _ = self.links.transferrer.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn related_branches_are_synced_and_remote_tracking_ones() {
        let main = "refs/heads/main";
        assert!(is_related_to("refs/heads/synced/main", main));
        assert!(is_related_to("refs/remotes/origin/main", main));
        assert!(is_related_to("refs/remotes/origin/synced/main", main));
        assert!(!is_related_to("refs/heads/main", main));
        assert!(!is_related_to("refs/heads/other", main));
        assert!(!is_related_to("refs/heads/synced/other", main));
        assert!(!is_related_to("refs/remotes/origin/other", main));
        assert!(!is_related_to("refs/tags/synced/main", "refs/heads/x"));
        // As git-annex's: a branch with a slash in its name is never
        // related (its base is compared one directory deep).
        assert!(!is_related_to(
            "refs/heads/synced/feature/x",
            "refs/heads/feature/x"
        ));
    }

    #[test]
    fn annex_branches_but_ours() {
        assert!(is_annex_branch("refs/heads/synced/git-annex"));
        assert!(is_annex_branch("refs/remotes/origin/git-annex"));
        assert!(is_annex_branch("refs/remotes/origin/synced/git-annex"));
        assert!(!is_annex_branch("refs/heads/git-annex"));
        assert!(!is_annex_branch("refs/heads/main"));
    }

    #[test]
    fn ref_names_from_files() {
        let refs = Path::new("/r/.git/refs");
        assert_eq!(
            file_to_ref(refs, Path::new("/r/.git/refs/heads/synced/main")).as_deref(),
            Some("refs/heads/synced/main")
        );
        assert_eq!(
            file_to_ref(refs, Path::new("/r/.git/refs/heads/main.lock")),
            None
        );
        assert_eq!(file_to_ref(refs, Path::new("/elsewhere/x")), None);
    }

    #[test]
    fn adjusted_branches_merge_into_their_original() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("HEAD"),
            "ref: refs/heads/adjusted/main(unlocked)\n",
        )
        .unwrap();
        assert_eq!(current_branch(d.path()).as_deref(), Some("refs/heads/main"));
        std::fs::write(d.path().join("HEAD"), "ref: refs/heads/main\n").unwrap();
        assert_eq!(current_branch(d.path()).as_deref(), Some("refs/heads/main"));
        std::fs::write(d.path().join("HEAD"), "0123abcd\n").unwrap();
        assert_eq!(current_branch(d.path()), None);
    }
}
