//! A repository handle: `init` and `open`.
//!
//! To be filled.
