//! Tests of `annex_core::config` (in progress).
