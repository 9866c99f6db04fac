//! The smudge/clean filter and git's long-running filter process protocol.
