//! Tests of `annex_core::add` (in progress).
