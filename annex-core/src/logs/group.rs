//! `group.log`: the groups of each repository, old layout
//! (`UUID GROUP GROUP... timestamp=CLOCK`). Groups are space-separated
//! words (extra spaces are ignored on read), kept as a sorted set.
//!
//! ```
//! use annex_core::logs::group;
//! let log = group::parse(b"u1  b a timestamp=1s\n");
//! let g = log.entries().values().next().unwrap();
//! assert_eq!(g.value.0.iter().cloned().collect::<Vec<_>>(), vec![b"a".to_vec(), b"b".to_vec()]);
//! assert_eq!(log.serialize(), b"u1 a b timestamp=1s\n");
//! ```

use std::collections::{BTreeMap, BTreeSet};

use super::format::{Layout, MapLog, Value};
use crate::timestamp::Timestamp;
use crate::uuid::Uuid;

/// A set of groups (group names are bytes without spaces).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Groups(pub BTreeSet<Vec<u8>>);

impl Value for Groups {
    fn parse_value(b: &[u8]) -> Option<Self> {
        Some(Groups(
            b.split(|&c| c == b' ')
                .filter(|w| !w.is_empty())
                .map(<[u8]>::to_vec)
                .collect(),
        ))
    }
    fn write_value(&self, out: &mut Vec<u8>) {
        for (i, g) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(g);
        }
    }
}

/// The parsed `group.log`.
pub type GroupLog = MapLog<Uuid, Groups>;

/// Parses `group.log`.
pub fn parse(content: &[u8]) -> GroupLog {
    MapLog::parse(Layout::Old, content)
}

/// The groups of each UUID.
pub fn current(log: &GroupLog) -> BTreeMap<Uuid, BTreeSet<Vec<u8>>> {
    log.entries()
        .iter()
        .map(|(u, e)| (u.clone(), e.value.0.clone()))
        .collect()
}

/// The new content of `group.log` after setting a UUID's groups.
pub fn set(old: &[u8], uuid: &Uuid, groups: BTreeSet<Vec<u8>>, candidate: Timestamp) -> Vec<u8> {
    let mut log = parse(old);
    log.set(uuid.clone(), Groups(groups), candidate);
    log.serialize()
}

impl GroupLog {
    /// The groups of each UUID.
    pub fn current(&self) -> BTreeMap<Uuid, BTreeSet<Vec<u8>>> {
        current(self)
    }
}
