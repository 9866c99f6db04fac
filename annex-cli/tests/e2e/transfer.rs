//! End-to-end tests: transfer (in progress).
