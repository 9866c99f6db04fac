//! End-to-end tests: add (in progress).
