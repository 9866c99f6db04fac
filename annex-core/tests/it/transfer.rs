//! Tests of `annex_core::transfer` (in progress).
