//! Tests of `annex_core::preferred` (in progress).
