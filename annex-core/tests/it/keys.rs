//! Integration tests: keys.
