//! `config.log`: repository-global git config settings, new layout
//! (`CLOCK NAME VALUE`). An empty value means the setting was unset.
//!
//! ```
//! use annex_core::logs::config;
//! let log = config::parse(b"1s annex.autocommit false\n2s annex.largefiles \n");
//! let m = config::current(&log);
//! assert_eq!(m.len(), 1);
//! ```

use std::collections::BTreeMap;

use super::format::{Bytes, Layout, MapLog};
use crate::timestamp::Timestamp;

/// The parsed `config.log`.
pub type ConfigLog = MapLog<Bytes, Bytes>;

/// Parses `config.log`.
pub fn parse(content: &[u8]) -> ConfigLog {
    MapLog::parse(Layout::New, content)
}

/// The settings in effect (unset ones left out).
pub fn current(log: &ConfigLog) -> BTreeMap<Vec<u8>, Vec<u8>> {
    log.entries()
        .iter()
        .filter(|(_, e)| !e.value.0.is_empty())
        .map(|(k, e)| (k.0.clone(), e.value.0.clone()))
        .collect()
}

/// The new content after setting (or, with an empty value, unsetting) a
/// setting.
pub fn set(old: &[u8], name: &[u8], value: &[u8], candidate: Timestamp) -> Vec<u8> {
    let mut log = parse(old);
    log.set(Bytes(name.to_vec()), Bytes(value.to_vec()), candidate);
    log.serialize()
}
