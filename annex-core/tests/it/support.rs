//! Test support: the workspace's shared `test-support` crate (the reference
//! git-annex, hermetic git environments and scratch repositories).

pub use test_support::*;
