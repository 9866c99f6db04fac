//! Timestamps of the git-annex branch's logs, and the vector clock.
//!
//! To be filled.
