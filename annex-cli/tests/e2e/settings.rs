//! End-to-end tests: settings (in progress).
