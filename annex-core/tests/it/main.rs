//! annex-core's integration tests: one binary, one module per area.
//! Tests that need the reference git-annex find it through [`support`].

mod support;

mod backends;
mod branch;
mod keys;
mod logs;
mod objects;
mod repo;
mod state;
