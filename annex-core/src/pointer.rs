//! Pointer files and annex symlink targets.
//!
//! To be filled: parsing and writing pointer files as git-annex does, and
//! the relative symlink targets of locked files.
