//! The `git-annex` branch: reads with the journal laid over, commits, union merge.
//!
//! To be filled.
