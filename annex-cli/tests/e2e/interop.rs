//! End-to-end tests: interop (in progress).
