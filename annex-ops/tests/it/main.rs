//! annex-ops' integration tests: one binary, one module per area.

mod session;
