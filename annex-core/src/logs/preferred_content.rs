//! Preferred content logs: `preferred-content.log` and
//! `required-content.log` (old layout, `UUID EXPRESSION timestamp=CLOCK`)
//! and `group-preferred-content.log` (new layout, `CLOCK GROUP EXPRESSION`).
//! Expressions are kept as bytes.
//!
//! ```
//! use annex_core::logs::preferred_content as pc;
//! let log = pc::parse_group(b"1s archive not copies=archive:1\n");
//! assert_eq!(pc::group_current(&log).values().next().unwrap(), &b"not copies=archive:1".to_vec());
//! ```

use std::collections::BTreeMap;

use super::format::{Bytes, Layout, MapLog};
use crate::timestamp::Timestamp;
use crate::uuid::Uuid;

/// A parsed `preferred-content.log` or `required-content.log`.
pub type ContentLog = MapLog<Uuid, Bytes>;

/// A parsed `group-preferred-content.log` (fields are group names).
pub type GroupContentLog = MapLog<Bytes, Bytes>;

/// Parses `preferred-content.log` or `required-content.log`.
pub fn parse(content: &[u8]) -> ContentLog {
    MapLog::parse(Layout::Old, content)
}

/// Parses `group-preferred-content.log`.
pub fn parse_group(content: &[u8]) -> GroupContentLog {
    MapLog::parse(Layout::New, content)
}

/// The expression of each UUID.
pub fn current(log: &ContentLog) -> BTreeMap<Uuid, Vec<u8>> {
    log.entries()
        .iter()
        .map(|(u, e)| (u.clone(), e.value.0.clone()))
        .collect()
}

/// The expression of each group.
pub fn group_current(log: &GroupContentLog) -> BTreeMap<Vec<u8>, Vec<u8>> {
    log.entries()
        .iter()
        .map(|(g, e)| (g.0.clone(), e.value.0.clone()))
        .collect()
}

/// The new content of a preferred or required content log after setting a
/// UUID's expression.
pub fn set(old: &[u8], uuid: &Uuid, expression: &[u8], candidate: Timestamp) -> Vec<u8> {
    let mut log = parse(old);
    log.set(uuid.clone(), Bytes(expression.to_vec()), candidate);
    log.serialize()
}

/// The new content of `group-preferred-content.log` after setting a
/// group's expression.
pub fn set_group(old: &[u8], group: &[u8], expression: &[u8], candidate: Timestamp) -> Vec<u8> {
    let mut log = parse_group(old);
    log.set(Bytes(group.to_vec()), Bytes(expression.to_vec()), candidate);
    log.serialize()
}
