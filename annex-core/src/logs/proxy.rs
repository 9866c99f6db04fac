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

/// The proxies of each repository; a proxy whose name is not a legal git
/// remote name ([`is_legal_name`]) is left out, as git-annex leaves it out.
pub fn current(log: &ProxyLog) -> BTreeMap<Uuid, BTreeSet<Proxy>> {
    log.entries()
        .iter()
        .map(|(u, e)| {
            let valid = e
                .value
                .0
                .iter()
                .filter(|p| is_legal_name(&p.name))
                .cloned()
                .collect();
            (u.clone(), valid)
        })
        .collect()
}

/// A name made legal as a git remote name, as git-annex makes one (its
/// `makeLegalName`): `/` becomes `_`, only alphanumerics, `_`, `-` and `.`
/// are kept, a leading `.`, `/` or `-` is removed, and an empty result is
/// `unnamed`.
pub fn make_legal_name(name: &str) -> String {
    let kept: String = name
        .replace('/', "_")
        .chars()
        .filter(|c| matches!(c, '_' | '-' | '.') || c.is_alphanumeric())
        .collect();
    let trimmed = kept.trim_start_matches(['.', '-']);
    if trimmed.is_empty() {
        "unnamed".to_string()
    } else {
        trimmed.to_string()
    }
}

/// Whether a name is a legal git remote name (it is its own
/// [`make_legal_name`]).
pub fn is_legal_name(name: &[u8]) -> bool {
    std::str::from_utf8(name).is_ok_and(|n| make_legal_name(n) == n)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(u: &str, n: &str) -> Proxy {
        Proxy {
            uuid: u.as_bytes().to_vec(),
            name: n.as_bytes().to_vec(),
        }
    }

    #[test]
    fn parses_and_writes_as_the_reference() {
        // As `git annex updateproxy` wrote it (sorted by UUID, then name).
        let text = b"1700000000s 5e4a u2:node2 u1:node1\n";
        let log = parse(text);
        let cur = current(&log);
        let set = cur.values().next().unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(log.serialize(), b"1700000000s 5e4a u1:node1 u2:node2\n");
    }

    #[test]
    fn empty_list_is_kept() {
        let log = parse(b"1s 5e4a \n");
        assert_eq!(current(&log).values().next().map(BTreeSet::len), Some(0));
        let out = set(
            b"",
            &Uuid::parse(b"5e4a").unwrap(),
            BTreeSet::new(),
            Timestamp::parse(b"5s").unwrap(),
        );
        assert_eq!(out, b"5s 5e4a \n");
    }

    #[test]
    fn illegal_names_are_left_out() {
        let log = parse(b"1s 5e4a u1:-bad u2:good u3:a..b\n");
        let cur = current(&log);
        let names: Vec<_> = cur
            .values()
            .next()
            .unwrap()
            .iter()
            .map(|p| p.name.clone())
            .collect();
        assert_eq!(names, vec![b"good".to_vec(), b"a..b".to_vec()]);
    }

    #[test]
    fn a_line_that_does_not_parse_is_ignored() {
        // A name may not be empty: the line is not a list of proxies.
        assert!(current(&parse(b"1s 5e4a u1:\n")).is_empty());
        assert!(current(&parse(b"1s 5e4a :foo\n")).is_empty());
    }

    #[test]
    fn legal_names() {
        assert_eq!(make_legal_name("foo/bar"), "foo_bar");
        assert_eq!(make_legal_name("-.x"), "x");
        assert_eq!(make_legal_name("!!"), "unnamed");
        assert!(is_legal_name(b"origin-node1"));
        assert!(!is_legal_name(b"a b"));
    }

    proptest! {
        #[test]
        fn round_trip(entries in proptest::collection::btree_set(("[a-f0-9-]{1,12}", "[A-Za-z0-9_][A-Za-z0-9_.-]{0,8}"), 0..5)) {
            let proxies: BTreeSet<Proxy> = entries.iter().map(|(u, n)| p(u, n)).collect();
            let u = Uuid::parse(b"gw").unwrap();
            let text = set(b"", &u, proxies.clone(), Timestamp::parse(b"7s").unwrap());
            let back = current(&parse(&text));
            prop_assert_eq!(back.get(&u), Some(&proxies));
            prop_assert_eq!(parse(&text).serialize(), text);
        }

        #[test]
        fn make_legal_name_is_legal(s in "\\PC{0,12}") {
            prop_assert!(is_legal_name(make_legal_name(&s).as_bytes()));
        }
    }
}
