//! The logs of the `git-annex` branch, each in its own module, typed.
//!
//! To be filled.
