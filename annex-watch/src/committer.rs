//! The committer: takes the [`Change`]s the watcher and the scanner send,
//! waits for a good moment, adds what is there, stages what is gone and
//! commits, as git-annex's assistant's `Committer` thread does.
//!
//! When to commit (git-annex's `shouldCommit`): the committer wakes at most
//! once a second; with changes waiting, it commits unless ten or more of
//! them came within the last second (a burst is going on: it waits for it
//! to calm down, so a burst becomes one commit); [`MAX_COMMIT_SIZE`]
//! changes are always committed (git-annex's `maxCommitSize`, 5,000 there,
//! 100,000 here so that a tree of 10,000 new files is one commit), in
//! commits of at most that many.
//!
//! What a change becomes is decided by looking at its path then: present,
//! it is given to the [`Adder`] (the operations' `add`, with largefiles,
//! dotfiles and `.gitignore` as `add` has them); absent, its removal (and
//! that of anything under it, for a directory) is staged. A regular file
//! some process still has open for writing ([`crate::openfiles`]) is held
//! back until it is closed. The commit message is git-annex's,
//! `git-annex in <description of this repository>`.
//!
//! `annex.delayadd` ([`Committer::with_delay_add`]): a file changed while
//! the daemon runs is added only once that many seconds passed since its
//! last change (files found by the startup scan are added at once, as the
//! reference's).
//!
//! Stopping: a change with an empty path (no file has one) is the stop
//! signal; everything pending is then handled at once (no delay, no wait
//! for a burst to end) and committed, and [`Committer::run`] returns. Files
//! still open for writing are left for the next start's scan rather than
//! ingested half-written. Adds, stagings and commits are made under the
//! daemon's repository lock ([`Committer::with_lock`]), shared with the
//! merger, pusher and transferrer (which take it only to write the index
//! or `HEAD`); a `git rm` or `git commit` that git refuses because another
//! git process holds `index.lock` is run again, for up to
//! [`INDEX_LOCK_WAIT`].

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::changes::Change;
use crate::openfiles::{FileId, open_for_write};

/// The most changes in one commit. git-annex's `maxCommitSize` is 5,000,
/// so a tree of 10,000 new files is two commits there or more; ours is
/// larger, so a tree of up to that many new files written in one burst is
/// one commit (issue 14), while a flood that never calms down is still
/// committed, in commits of at most this many changes (a change is a path
/// and a time: 100,000 of them are a few megabytes).
pub const MAX_COMMIT_SIZE: usize = 100_000;

/// How a batch of files is added and staged: the CLI gives the operations'
/// `add` here, so the daemon adds exactly as `git annex add` does.
pub trait Adder {
    /// Adds the files (paths from the top of the work tree) and stages
    /// them; an error is logged and the batch's other work goes on.
    fn add(&mut self, paths: &[Vec<u8>]) -> Result<(), String>;

    /// Called after each commit the committer makes: the assistant syncs
    /// with its remotes here (its pusher and transferrer); `watch` does
    /// nothing.
    fn after_commit(&mut self) {}
}

/// Errors of the git commands the committer runs.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// git could not be run or failed.
    #[error("git {what} in {}: {detail}", top.display())]
    Git {
        /// The git command.
        what: &'static str,
        /// The work tree.
        top: PathBuf,
        /// What went wrong.
        detail: String,
    },
}

/// Whether now is a good time to commit `changes` (git-annex's
/// `shouldCommit`): not while ten or more live changes came within the
/// last second, unless there are [`MAX_COMMIT_SIZE`] of them.
pub fn should_commit(now: Instant, changes: &[Change]) -> bool {
    if changes.is_empty() {
        return false;
    }
    if changes.len() >= MAX_COMMIT_SIZE {
        return true;
    }
    let recent = changes
        .iter()
        .filter(|c| !c.scanned && now.saturating_duration_since(c.time) <= Duration::from_secs(1))
        .count();
    recent < 10
}

/// The committer, with its adder and what it logs to.
pub struct Committer<A: Adder> {
    top: PathBuf,
    message: String,
    adder: A,
    pending: Vec<Change>,
    /// Called after each commit made (the status file is written then).
    on_commit: Box<dyn FnMut()>,
    /// The daemon's repository lock.
    lock: Arc<Mutex<()>>,
    /// `annex.delayadd`.
    delay_add: Option<Duration>,
}

impl<A: Adder> Committer<A> {
    /// A committer for the work tree `top`, committing with `message`.
    pub fn new(top: PathBuf, message: String, adder: A, on_commit: Box<dyn FnMut()>) -> Self {
        Committer {
            top,
            message,
            adder,
            pending: Vec::new(),
            on_commit,
            lock: Arc::new(Mutex::new(())),
            delay_add: None,
        }
    }

    /// Adds and commits under `lock` (the daemon's repository lock).
    pub fn with_lock(mut self, lock: Arc<Mutex<()>>) -> Self {
        self.lock = lock;
        self
    }

    /// `annex.delayadd`: live changes wait that long before they are added.
    pub fn with_delay_add(mut self, delay: Option<Duration>) -> Self {
        self.delay_add = delay.filter(|d| !d.is_zero());
        self
    }

    /// Runs until the channel is closed and nothing is pending.
    pub fn run(mut self, rx: Receiver<Change>) {
        let mut open = true;
        loop {
            // A simple rate limit, as git-annex's: at most one look a second.
            std::thread::sleep(Duration::from_secs(1));
            if self.pending.is_empty() {
                if !open {
                    return;
                }
                match rx.recv() {
                    Ok(c) if c.path.is_empty() => open = false,
                    Ok(c) => self.pending.push(c),
                    Err(_) => return,
                }
            }
            while open {
                match rx.try_recv() {
                    Ok(c) if c.path.is_empty() => open = false,
                    Ok(c) => self.pending.push(c),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        open = false;
                        break;
                    }
                }
            }
            if !open && self.pending.is_empty() {
                return;
            }
            if should_commit(Instant::now(), &self.pending) || !open {
                let n = self.pending.len().min(MAX_COMMIT_SIZE);
                let batch: Vec<Change> = self.pending.drain(..n).collect();
                match self.handle_when(batch, !open) {
                    Ok(postponed) => {
                        if !open && postponed.len() == n {
                            // Nothing more will come: stop retrying files
                            // still open for writing.
                            return;
                        }
                        self.pending.extend(postponed);
                    }
                    Err(e) => eprintln!("{e}"),
                }
            }
        }
    }

    /// Adds, stages and commits one batch; returns the changes held back
    /// (files still open for writing).
    pub fn handle(&mut self, batch: Vec<Change>) -> Result<Vec<Change>, CommitError> {
        self.handle_when(batch, false)
    }

    /// [`Self::handle`]; `stopping`: no change waits for `annex.delayadd`.
    fn handle_when(
        &mut self,
        batch: Vec<Change>,
        stopping: bool,
    ) -> Result<Vec<Change>, CommitError> {
        let lock = Arc::clone(&self.lock);
        let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let mut seen = HashSet::new();
        let mut postponed = Vec::new();
        let mut present: Vec<(Vec<u8>, Option<FileId>)> = Vec::new();
        let mut gone = Vec::new();
        for c in batch.into_iter().rev() {
            if !seen.insert(c.path.clone()) {
                continue;
            }
            if let Some(d) = self.delay_add
                && !stopping
                && !c.scanned
                && now.saturating_duration_since(c.time) < d
            {
                // Not yet: it comes back with its own time.
                postponed.push(c);
                continue;
            }
            let full = self.top.join(std::ffi::OsStr::from_bytes(&c.path));
            match std::fs::symlink_metadata(&full) {
                Ok(m) if m.is_dir() => {}
                Ok(m) if m.is_file() => present.push((c.path, Some((m.dev(), m.ino())))),
                Ok(_) => present.push((c.path, None)),
                Err(_) => gone.push(c.path),
            }
        }
        let ids: HashSet<FileId> = present.iter().filter_map(|(_, id)| *id).collect();
        let writing = open_for_write(&ids);
        let mut ready = Vec::new();
        for (path, id) in present {
            if id.is_some_and(|id| writing.contains(&id)) {
                postponed.push(Change::now(path));
            } else {
                ready.push(path);
            }
        }
        ready.sort();
        if !ready.is_empty()
            && let Err(e) = self.adder.add(&ready)
        {
            eprintln!("{e}");
        }
        if !gone.is_empty() {
            self.stage_removals(&gone)?;
        }
        if self.commit()? {
            (self.on_commit)();
            self.adder.after_commit();
        }
        Ok(postponed)
    }

    fn git(&self) -> Command {
        let mut c = Command::new("git");
        c.arg("-C").arg(&self.top).arg("--literal-pathspecs");
        c
    }

    /// Runs the git command `args` (with `input` on its stdin), again
    /// while git refuses it because another git process holds the index's
    /// `index.lock` (the content pass refreshing the index, a merge after a
    /// push: they do not take the daemon's lock for the whole of their
    /// work), for up to [`INDEX_LOCK_WAIT`].
    fn git_retrying(
        &self,
        what: &'static str,
        args: &[&str],
        input: &[u8],
    ) -> Result<std::process::Output, CommitError> {
        let err = |detail: String| CommitError::Git {
            what,
            top: self.top.clone(),
            detail,
        };
        let deadline = Instant::now() + INDEX_LOCK_WAIT;
        let mut pause = Duration::from_millis(20);
        loop {
            let mut child = self
                .git()
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| err(e.to_string()))?;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(input).map_err(|e| err(e.to_string()))?;
            }
            let out = child.wait_with_output().map_err(|e| err(e.to_string()))?;
            if out.status.success()
                || !index_locked(&out.stderr)
                || Instant::now() + pause > deadline
            {
                return Ok(out);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// `git rm --cached` of paths no longer in the work tree (recursively:
    /// a directory gone takes what git had under it).
    fn stage_removals(&self, paths: &[Vec<u8>]) -> Result<(), CommitError> {
        let mut buf = Vec::new();
        for p in paths {
            buf.extend_from_slice(p);
            buf.push(0);
        }
        let out = self.git_retrying(
            "rm",
            &[
                "rm",
                "--cached",
                "-r",
                "-q",
                "--ignore-unmatch",
                "--pathspec-from-file=-",
                "--pathspec-file-nul",
            ],
            &buf,
        )?;
        if !out.status.success() {
            return Err(CommitError::Git {
                what: "rm",
                top: self.top.clone(),
                detail: format!(
                    "exited with {}: {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            });
        }
        Ok(())
    }

    /// Commits what is staged, if anything; true when a commit was made.
    fn commit(&self) -> Result<bool, CommitError> {
        let staged = self
            .git()
            .args(["diff", "--cached", "--quiet"])
            .status()
            .map_err(|e| CommitError::Git {
                what: "diff",
                top: self.top.clone(),
                detail: e.to_string(),
            })?;
        if staged.success() {
            return Ok(false);
        }
        let out = self.git_retrying("commit", &["commit", "--quiet", "-m", &self.message], b"")?;
        if !out.status.success() {
            return Err(CommitError::Git {
                what: "commit",
                top: self.top.clone(),
                detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(true)
    }
}

/// How long a git command refused for the index's lock is tried again.
pub const INDEX_LOCK_WAIT: Duration = Duration::from_secs(30);

/// Whether git's message `stderr` says the index (or `HEAD`) was locked
/// by another git process.
fn index_locked(stderr: &[u8]) -> bool {
    let s = String::from_utf8_lossy(stderr);
    s.contains("index.lock") || s.contains("cannot lock ref")
}

/// The startup scan: the files that appeared or changed (`git ls-files
/// --others --exclude-standard`, `--modified`, which includes the deleted
/// ones) while no daemon ran. git compares with the index's stat data, so
/// nothing is hashed that did not change.
pub fn scan(top: &Path) -> Result<Vec<Change>, CommitError> {
    let mut out = Vec::new();
    let mut seen: HashMap<Vec<u8>, ()> = HashMap::new();
    for args in [&["--others", "--exclude-standard"][..], &["--modified"][..]] {
        let o = Command::new("git")
            .arg("-C")
            .arg(top)
            .args(["ls-files", "-z"])
            .args(args)
            .output()
            .map_err(|e| CommitError::Git {
                what: "ls-files",
                top: top.to_path_buf(),
                detail: e.to_string(),
            })?;
        if !o.status.success() {
            return Err(CommitError::Git {
                what: "ls-files",
                top: top.to_path_buf(),
                detail: String::from_utf8_lossy(&o.stderr).trim().to_string(),
            });
        }
        for p in o.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
            if seen.insert(p.to_vec(), ()).is_none() {
                out.push(Change {
                    path: p.to_vec(),
                    time: Instant::now(),
                    scanned: true,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(ago_ms: u64, now: Instant) -> Change {
        Change {
            path: b"f".to_vec(),
            time: now - Duration::from_millis(ago_ms),
            scanned: false,
        }
    }

    #[test]
    fn a_burst_waits_and_a_trickle_commits() {
        let now = Instant::now() + Duration::from_secs(10);
        assert!(!should_commit(now, &[]));
        let few: Vec<Change> = (0..9).map(|_| live(100, now)).collect();
        assert!(should_commit(now, &few));
        let burst: Vec<Change> = (0..10).map(|_| live(100, now)).collect();
        assert!(!should_commit(now, &burst));
        let calm: Vec<Change> = (0..100).map(|_| live(2000, now)).collect();
        assert!(should_commit(now, &calm));
        let flood: Vec<Change> = (0..MAX_COMMIT_SIZE).map(|_| live(0, now)).collect();
        assert!(should_commit(now, &flood));
        // A tree of 10,000 new files written in one burst waits for the
        // burst to end, then is one commit (git-annex's 5,000 would split it).
        let tree: Vec<Change> = (0..10_000).map(|_| live(100, now)).collect();
        assert!(!should_commit(now, &tree));
        assert!(tree.len() <= MAX_COMMIT_SIZE);
    }

    #[test]
    fn scanned_changes_do_not_count_as_a_burst() {
        let now = Instant::now();
        let scanned: Vec<Change> = (0..50)
            .map(|_| Change {
                path: b"f".to_vec(),
                time: now,
                scanned: true,
            })
            .collect();
        assert!(should_commit(now, &scanned));
    }
}
