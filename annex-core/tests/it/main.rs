//! annex-core's integration tests: one binary, one module per area.
//! Tests that need the reference git-annex find it through [`support`].

mod support;

mod add;
mod backends;
mod branch;
mod config;
mod fsck;
mod keys;
mod logs;
mod objects;
mod p2p;
mod preferred;
mod repo;
mod sizes;
mod state;
mod transfer;
mod worktree;
