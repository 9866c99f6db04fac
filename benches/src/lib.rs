//! Benchmarks of git-annex-rs: criterion micro-benchmarks under `benches/`,
//! and the side-by-side comparison with git-annex ([`compare`], run by the
//! `compare` binary: `cargo run --release -p benches --bin compare`).

pub mod compare;
pub mod synth;
