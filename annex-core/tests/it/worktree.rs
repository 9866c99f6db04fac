//! Tests of `annex_core::worktree` (in progress).
