//! Integration tests of `annex-sync`, one binary.

mod clean;
mod git;
mod resolve;
mod sync;
