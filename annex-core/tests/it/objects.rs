//! Integration tests: objects.
