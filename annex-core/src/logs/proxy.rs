//! `proxy.log`: the remotes each repository proxies for, new layout
//! (`CLOCK UUID REMOTEUUID:NAME REMOTEUUID:NAME...`).
//!
//! ```
//! use annex_core::logs::proxy;
//! let log = proxy::parse(b"1s u1 r1:foo r2:bar\n");
//! let p = proxy::current(&log);
//! assert_eq!(p.values().next().unwrap().len(), 2);
//! ```

use std::collections::{BTreeMap, BTreeSet};

use super::format::{Layout, MapLog, Value};
use crate::timestamp::Timestamp;
use crate::uuid::Uuid;

/// A proxied remote: its UUID and remote name (bytes).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Proxy {
    /// The remote's UUID.
    pub uuid: Vec<u8>,
    /// The remote's name.
    pub name: Vec<u8>,
}

/// The proxies of one repository.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Proxies(pub BTreeSet<Proxy>);

impl Value for Proxies {
    fn parse_value(b: &[u8]) -> Option<Self> {
        let mut set = BTreeSet::new();
        let mut rest = b;
        // UUID: one or more bytes up to ':'; then ':'; then a name of one
        // or more bytes up to ' '; then ' ' or the end.
        while let Some(colon) = memchr::memchr(b':', rest).filter(|&c| c > 0) {
            let after = &rest[colon + 1..];
            let name_len = memchr::memchr(b' ', after).unwrap_or(after.len());
            if name_len == 0 {
                break;
            }
            set.insert(Proxy {
                uuid: rest[..colon].to_vec(),
                name: after[..name_len].to_vec(),
            });
            rest = &after[name_len..];
            if let Some(r) = rest.strip_prefix(b" ") {
                rest = r;
            }
        }
        rest.is_empty().then_some(Proxies(set))
    }
    fn write_value(&self, out: &mut Vec<u8>) {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(&p.uuid);
            out.push(b':');
            out.extend_from_slice(&p.name);
        }
    }
}

/// The parsed `proxy.log`.
pub type ProxyLog = MapLog<Uuid, Proxies>;

/// Parses `proxy.log`.
pub fn parse(content: &[u8]) -> ProxyLog {
    MapLog::parse(Layout::New, content)
}

/// The proxies of each repository.
pub fn current(log: &ProxyLog) -> BTreeMap<Uuid, BTreeSet<Proxy>> {
    log.entries()
        .iter()
        .map(|(u, e)| (u.clone(), e.value.0.clone()))
        .collect()
}

/// The new content after recording a repository's proxies.
pub fn set(old: &[u8], uuid: &Uuid, proxies: BTreeSet<Proxy>, candidate: Timestamp) -> Vec<u8> {
    let mut log = parse(old);
    log.set(uuid.clone(), Proxies(proxies), candidate);
    log.serialize()
}

impl ProxyLog {
    /// The proxies of each repository.
    pub fn current(&self) -> BTreeMap<Uuid, BTreeSet<Proxy>> {
        current(self)
    }
}
