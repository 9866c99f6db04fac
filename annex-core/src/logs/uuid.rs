//! `uuid.log`: the description of each repository, old layout
//! (`UUID DESCRIPTION timestamp=CLOCK`).
//!
//! ```
//! use annex_core::logs::uuid;
//! let log = uuid::parse(b"u1 my laptop timestamp=1s\n");
//! let d = uuid::descriptions(&log);
//! assert_eq!(d.values().next().unwrap(), &b"my laptop".to_vec());
//! ```

use std::collections::BTreeMap;

use super::format::{Bytes, Layout, MapLog};
use crate::timestamp::Timestamp;
use crate::uuid::Uuid;

/// The parsed `uuid.log`.
pub type UuidLog = MapLog<Uuid, Bytes>;

/// Parses `uuid.log`.
pub fn parse(content: &[u8]) -> UuidLog {
    MapLog::parse(Layout::Old, content)
}

/// The description of each UUID.
pub fn descriptions(log: &UuidLog) -> BTreeMap<Uuid, Vec<u8>> {
    log.entries()
        .iter()
        .map(|(u, e)| (u.clone(), e.value.0.clone()))
        .collect()
}

/// The new content of `uuid.log` after describing a UUID. A newline in the
/// description is written as `\n` (backslash, n), as git-annex does.
pub fn set_description(
    old: &[u8],
    uuid: &Uuid,
    description: &[u8],
    candidate: Timestamp,
) -> Vec<u8> {
    let mut log = parse(old);
    let mut d = Vec::with_capacity(description.len());
    for &c in description {
        if c == b'\n' {
            d.extend_from_slice(b"\\n");
        } else {
            d.push(c);
        }
    }
    log.set(uuid.clone(), Bytes(d), candidate);
    log.serialize()
}

impl UuidLog {
    /// The description of each UUID.
    pub fn descriptions(&self) -> BTreeMap<Uuid, Vec<u8>> {
        descriptions(self)
    }
}
