//! Integration tests: backends.
