//! Integration tests: branch.
