//! Integration tests of `annex-sync`, one binary.

mod clean;
mod content;
mod git;
mod remotedaemon;
mod resolve;
mod sync;

/// The reference git-annex and hermetic git, shared with annex-core's tests.
#[path = "../../../annex-core/tests/it/support.rs"]
mod support;
