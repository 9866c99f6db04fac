//! Integration tests of `annex-sync`, one binary.

mod git;
mod sync;
