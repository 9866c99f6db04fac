//! Integration tests of `annex-sync`, one binary.

mod clean;
mod content;
mod git;
mod resolve;
mod sync;
