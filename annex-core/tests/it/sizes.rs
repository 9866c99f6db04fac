//! Tests of `annex_core::sizes` (in progress).
