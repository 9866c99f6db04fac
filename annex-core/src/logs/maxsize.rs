//! `maxsize.log`: the maximum size of each repository, new layout
//! (`CLOCK UUID BYTES`); the number is read as Haskell reads an `Integer`.
//!
//! ```
//! use annex_core::logs::maxsize;
//! let log = maxsize::parse(b"1s u1 1000\n");
//! assert_eq!(maxsize::current(&log).values().next(), Some(&1000));
//! ```

use std::collections::BTreeMap;

use super::format::{Layout, MapLog, Value, hs_read_i128};
use crate::timestamp::Timestamp;
use crate::uuid::Uuid;

/// A maximum size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MaxSize(pub i128);

impl Value for MaxSize {
    fn parse_value(b: &[u8]) -> Option<Self> {
        hs_read_i128(b).map(MaxSize)
    }
    fn write_value(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0.to_string().as_bytes());
    }
}

/// The parsed `maxsize.log`.
pub type MaxSizeLog = MapLog<Uuid, MaxSize>;

/// Parses `maxsize.log`.
pub fn parse(content: &[u8]) -> MaxSizeLog {
    MapLog::parse(Layout::New, content)
}

/// The maximum size of each UUID.
pub fn current(log: &MaxSizeLog) -> BTreeMap<Uuid, i128> {
    log.entries()
        .iter()
        .map(|(u, e)| (u.clone(), e.value.0))
        .collect()
}

/// The new content after setting a UUID's maximum size.
pub fn set(old: &[u8], uuid: &Uuid, size: i128, candidate: Timestamp) -> Vec<u8> {
    let mut log = parse(old);
    log.set(uuid.clone(), MaxSize(size), candidate);
    log.serialize()
}

impl MaxSizeLog {
    /// The maximum size of each UUID.
    pub fn current(&self) -> BTreeMap<Uuid, i128> {
        current(self)
    }
}
