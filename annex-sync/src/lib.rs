//! `annex-sync`: `sync` at the git level and for content.
//!
//! Not filled yet. It will hold fetching, merging and pushing branches and
//! the `git-annex` branch, the conflict-resolving merge driver, content sync
//! by preferred content, and the remote daemon.
