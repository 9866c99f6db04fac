//! The journal: `.git/annex/journal`, where log changes wait to be committed.
//!
//! To be filled.
