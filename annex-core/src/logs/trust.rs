//! `trust.log`: the trust level of each repository, old layout
//! (`UUID LEVEL timestamp=CLOCK`), LEVEL one of `1` (trusted), `0`
//! (untrusted), `X` (dead), `?` (semitrusted). On read, an empty level means
//! trusted (very old logs listed only trusted repositories), and any other
//! single byte semitrusted; longer values make the line invalid.
//!
//! ```
//! use annex_core::logs::trust::{self, TrustLevel};
//! let log = trust::parse(b"u1 X timestamp=1s\nu2 1 timestamp=1s\n");
//! let m = log.values();
//! assert_eq!(m.values().copied().collect::<Vec<_>>(), vec![TrustLevel::Dead, TrustLevel::Trusted]);
//! ```

use std::collections::BTreeMap;

use super::format::{Layout, MapLog, Value};
use crate::timestamp::Timestamp;
use crate::uuid::Uuid;

/// A trust level, ordered from least to most trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TrustLevel {
    /// `X`.
    Dead,
    /// `0`.
    Untrusted,
    /// `?` (and the default for repositories not in the log).
    SemiTrusted,
    /// `1`.
    Trusted,
}

impl TrustLevel {
    /// The name git-annex shows (`trusted`, `semitrusted`, ...).
    pub fn name(self) -> &'static str {
        match self {
            TrustLevel::Dead => "dead",
            TrustLevel::Untrusted => "untrusted",
            TrustLevel::SemiTrusted => "semitrusted",
            TrustLevel::Trusted => "trusted",
        }
    }
}

impl Value for TrustLevel {
    fn parse_value(b: &[u8]) -> Option<Self> {
        match b {
            [] | [b'1'] => Some(TrustLevel::Trusted),
            [b'0'] => Some(TrustLevel::Untrusted),
            [b'X'] => Some(TrustLevel::Dead),
            [_] => Some(TrustLevel::SemiTrusted),
            _ => None,
        }
    }
    fn write_value(&self, out: &mut Vec<u8>) {
        out.push(match self {
            TrustLevel::Trusted => b'1',
            TrustLevel::Untrusted => b'0',
            TrustLevel::Dead => b'X',
            TrustLevel::SemiTrusted => b'?',
        });
    }
}

/// The parsed `trust.log`.
pub type TrustLog = MapLog<Uuid, TrustLevel>;

/// Parses `trust.log`.
pub fn parse(content: &[u8]) -> TrustLog {
    MapLog::parse(Layout::Old, content)
}

/// The logged trust level of each UUID.
pub fn current(log: &TrustLog) -> BTreeMap<Uuid, TrustLevel> {
    log.values()
}

/// The new content of `trust.log` after setting a UUID's trust level.
pub fn set(old: &[u8], uuid: &Uuid, level: TrustLevel, candidate: Timestamp) -> Vec<u8> {
    let mut log = parse(old);
    log.set(uuid.clone(), level, candidate);
    log.serialize()
}

impl TrustLog {
    /// The logged trust level of each UUID.
    pub fn current(&self) -> BTreeMap<Uuid, TrustLevel> {
        current(self)
    }
}
