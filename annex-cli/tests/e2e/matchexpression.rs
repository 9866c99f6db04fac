//! End-to-end tests: matchexpression (in progress).
