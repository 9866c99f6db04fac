//! `annex-sync`: `sync` at the git level and for content.
//!
//! - [`clean`]: telling cheaply that the work tree has nothing to commit.
//! - [`content`]: the content pass of `sync --content` (get, put and drop
//!   what preferred content and numcopies call for), over `annex-ops`.
//! - [`content_record`]: what the last complete `sync --content` pass
//!   worked from, so that the next one skips what has not changed.
//! - [`git`]: the one place that runs the `git` executable (fetch, push,
//!   merge of the current branch), where gix cannot do the job yet.
//! - [`remotedaemon`]: the remote daemon, fetching from remotes as soon as
//!   their refs change (ssh `notifychanges`, local refs watched, HTTP
//!   polled), driven over git-annex's control protocol.
//! - [`resolve`]: the merge driver, resolving conflicted merges of the
//!   current branch the way git-annex does (variant files).
//! - [`sync`]: the git-level steps of `sync` (commit, fetch, merge, push
//!   with the failed-push record).

pub mod clean;
pub mod content;
pub mod content_record;
pub mod git;
pub mod remotedaemon;
pub mod resolve;
pub mod sync;
