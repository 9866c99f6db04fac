//! End-to-end tests: fsck (in progress).
