//! What the assistant's threads ask of the sync machinery: the merger
//! merges, the pusher pushes, the transferrer moves content. The daemon
//! only decides when; the CLI gives an implementation over `sync`'s own
//! steps (its merge of a branch and of the `git-annex` branch, its push
//! with the pull-and-push-again on a rejected push, its content pass), so
//! the daemon does what `git annex sync` would, never a copy of it.
//!
//! Each thread has its own [`Syncer`] (a clone); the daemon holds its
//! repository lock around every call that changes the index, `HEAD` or the
//! `git-annex` branch, so they never race each other or the committer.

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
    /// push failed.
    fn push(&mut self, remotes: &[String]) -> Result<Vec<String>, String>;

    /// At startup: fetches from every remote, merges, and pushes (the
    /// assistant's `reconnectRemotes`); returns the remotes whose push
    /// failed.
    fn reconnect(&mut self) -> Result<Vec<String>, String>;

    /// The content pass: gets, sends and drops what preferred content
    /// and numcopies call for, with every remote that syncs; true when the
    /// `git-annex` branch recorded something (then it is pushed).
    fn transfer(&mut self) -> Result<bool, String>;
}
