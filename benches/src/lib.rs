//! Benchmarks of git-annex-rs: criterion micro-benchmarks under `benches/`,
//! and (to come) the side-by-side comparison runner against git-annex.
