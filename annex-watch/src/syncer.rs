//! What the assistant's threads ask of the sync machinery: the merger
//! merges, the pusher pushes, the transferrer moves content. The daemon
//! only decides when; the CLI gives an implementation over `sync`'s own
//! steps (its merge of a branch and of the `git-annex` branch, its push
//! with the pull-and-push-again on a rejected push, its content pass), so
//! the daemon does what `git annex sync` would, never a copy of it.
//!
//! Each thread has its own [`Syncer`] (a clone). The daemon's repository
//! lock (one mutex, shared with the committer) is held around the merges
//! (they write the index and `HEAD`); a push, the startup reconnection and
//! the content pass are given the lock and take it only where they write
//! the index or `HEAD` (a merge after a rejected push or a fetch, unlocked
//! files filled in before the pass), never while content or refs move
//! over the network, so commits and merges go on meanwhile and a stop does
//! not wait for a transfer. The `git-annex` branch needs no such lock: its
//! journal has its own, across processes. The content pass's refresh of
//! the index at its end (`git update-index --refresh`, best effort) is
//! kept apart from the committer by git's own `index.lock`; the committer
//! retries a command git refused for it.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use annex_core::key::Key;

/// The daemon's repository lock: held by whoever writes the index or
/// `HEAD` (the committer, the merger, and the [`Syncer`] where it does).
pub type RepoLock = Arc<Mutex<()>>;

/// The sync operations the assistant runs. Errors are messages for the
/// daemon's log; the daemon goes on.
pub trait Syncer: Send + 'static {
    /// Merges the remotes' and the `synced/` `git-annex` branches into
    /// ours (a union merge); true when something was merged.
    fn merge_annex(&mut self) -> Result<bool, String>;

    /// Merges `from` (a full ref name: `refs/heads/synced/BRANCH`,
    /// `refs/remotes/NAME/BRANCH`, `refs/remotes/NAME/synced/BRANCH`) into
    /// the current branch `into` (full name; the original branch when an
    /// adjusted branch is checked out) when it has commits `into` lacks,
    /// as `sync` merges, unrelated histories allowed; true when it merged.
    fn merge_branch(&mut self, from: &str, into: &str) -> Result<bool, String>;

    /// Pushes the current branch (to `synced/BRANCH`) and the `git-annex`
    /// branch to `remotes` (every remote that is pushed to when empty), as
    /// `git annex push` without content does; returns the remotes whose
    /// push failed. `lock` is taken only around what writes the index or
    /// `HEAD` (the merge after a rejected push).
    fn push(&mut self, remotes: &[String], lock: &RepoLock) -> Result<Vec<String>, String>;

    /// At startup: fetches from every remote, merges, and pushes (the
    /// assistant's `reconnectRemotes`); returns the remotes whose push
    /// failed. `lock` as for [`Syncer::push`] (taken for the merges).
    fn reconnect(&mut self, lock: &RepoLock) -> Result<Vec<String>, String>;

    /// The content pass: gets, sends and drops what preferred content
    /// and numcopies call for, with every remote that syncs, leaving
    /// alone the keys in `busy` (other processes are transferring them);
    /// true when the `git-annex` branch recorded something (then it is
    /// pushed). `lock` is taken only around what writes the index; the
    /// transfers run without it. Once `stop` is asked for, the pass
    /// starts no new file (the transfer in flight finishes).
    fn transfer(
        &mut self,
        lock: &RepoLock,
        busy: &HashSet<Key>,
        stop: &crate::stop::Stop,
    ) -> Result<bool, String>;
}
