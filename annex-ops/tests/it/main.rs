//! annex-ops' integration tests: one binary, one module per area.

mod info;
mod matching;
mod ref_annex;
mod session;
