//! End-to-end tests: read (in progress).
