//! `cluster.log`: the nodes of each cluster, new layout
//! (`CLOCK CLUSTERUUID NODEUUID NODEUUID...`). Node UUIDs are separated by
//! single spaces (two spaces in a row make the line invalid). Only UUIDs
//! that are valid cluster UUIDs (`ac` first, `8` at offset 14) name clusters.
//!
//! ```
//! use annex_core::logs::cluster;
//! let log = cluster::parse(b"1s ac000000-0000-8000-0000-000000000000 n1 n2\n");
//! assert_eq!(cluster::clusters(&log).values().next().unwrap().len(), 2);
//! ```

use std::collections::{BTreeMap, BTreeSet};

use super::format::{Layout, MapLog, Value};
use crate::timestamp::Timestamp;
use crate::uuid::Uuid;

/// The nodes of a cluster (UUID bytes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nodes(pub BTreeSet<Vec<u8>>);

impl Value for Nodes {
    fn parse_value(b: &[u8]) -> Option<Self> {
        let mut set = BTreeSet::new();
        let mut rest = b;
        while !rest.is_empty() {
            let n = memchr::memchr(b' ', rest).unwrap_or(rest.len());
            if n == 0 {
                return None;
            }
            set.insert(rest[..n].to_vec());
            rest = &rest[n..];
            if let Some(r) = rest.strip_prefix(b" ") {
                rest = r;
            }
        }
        Some(Nodes(set))
    }
    fn write_value(&self, out: &mut Vec<u8>) {
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(n);
        }
    }
}

/// Whether a UUID is a cluster UUID.
pub fn is_cluster_uuid(u: &[u8]) -> bool {
    u.starts_with(b"ac") && u.get(14) == Some(&b'8')
}

/// The cluster UUID git-annex makes from a random UUID (its
/// `genClusterUUID`): `ac` in place of the first two characters and `8` at
/// offset 14. `None` when the UUID is too short.
pub fn gen_cluster_uuid(random: &Uuid) -> Option<Uuid> {
    let b = random.as_str().as_bytes();
    if b.len() <= 14 {
        return None;
    }
    let mut out = b"ac".to_vec();
    out.extend_from_slice(&b[2..14]);
    out.push(b'8');
    out.extend_from_slice(&b[15..]);
    Uuid::parse(&out).ok()
}

/// The clusters with dead nodes removed (git-annex's `loadClusters`), so
/// that a key only dead nodes hold is not said to be in the cluster.
pub fn without_dead_nodes(
    clusters: BTreeMap<Uuid, BTreeSet<Vec<u8>>>,
    dead: &BTreeSet<Uuid>,
) -> BTreeMap<Uuid, BTreeSet<Vec<u8>>> {
    clusters
        .into_iter()
        .map(|(c, nodes)| {
            let alive = nodes
                .into_iter()
                .filter(|n| !dead.iter().any(|d| d.as_str().as_bytes() == n.as_slice()))
                .collect();
            (c, alive)
        })
        .collect()
}

/// The clusters each node is in (the inverse of [`clusters`]).
pub fn clusters_of_nodes(
    clusters: &BTreeMap<Uuid, BTreeSet<Vec<u8>>>,
) -> BTreeMap<Vec<u8>, BTreeSet<Uuid>> {
    let mut out: BTreeMap<Vec<u8>, BTreeSet<Uuid>> = BTreeMap::new();
    for (c, nodes) in clusters {
        for n in nodes {
            out.entry(n.clone()).or_default().insert(c.clone());
        }
    }
    out
}

/// The parsed `cluster.log`.
pub type ClusterLog = MapLog<Uuid, Nodes>;

/// Parses `cluster.log`.
pub fn parse(content: &[u8]) -> ClusterLog {
    MapLog::parse(Layout::New, content)
}

/// The nodes of each cluster (records whose UUID is not a cluster UUID
/// are left out, as git-annex does).
pub fn clusters(log: &ClusterLog) -> BTreeMap<Uuid, BTreeSet<Vec<u8>>> {
    log.entries()
        .iter()
        .filter(|(u, _)| is_cluster_uuid(u.as_str().as_bytes()))
        .map(|(u, e)| (u.clone(), e.value.0.clone()))
        .collect()
}

/// The new content after recording a cluster's nodes.
pub fn set(old: &[u8], cluster: &Uuid, nodes: BTreeSet<Vec<u8>>, candidate: Timestamp) -> Vec<u8> {
    let mut log = parse(old);
    log.set(cluster.clone(), Nodes(nodes), candidate);
    log.serialize()
}

impl ClusterLog {
    /// The nodes of each cluster.
    pub fn clusters(&self) -> BTreeMap<Uuid, BTreeSet<Vec<u8>>> {
        clusters(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const C: &str = "ac5b0e5e-7e0e-8e1c-a4a0-8a0c5c0a1b2f";

    #[test]
    fn parses_and_writes_as_the_reference() {
        let text = format!("1700000000s {C} n2 n1\n");
        let log = parse(text.as_bytes());
        let cl = clusters(&log);
        assert_eq!(cl.values().next().unwrap().len(), 2);
        assert_eq!(
            log.serialize(),
            format!("1700000000s {C} n1 n2\n").into_bytes()
        );
    }

    #[test]
    fn only_cluster_uuids_name_clusters() {
        let log = parse(b"1s 5e4a0000-0000-4000-0000-000000000000 n1\n");
        assert!(clusters(&log).is_empty());
    }

    #[test]
    fn two_spaces_make_the_line_invalid() {
        let text = format!("1s {C} n1  n2\n");
        assert!(clusters(&parse(text.as_bytes())).is_empty());
    }

    #[test]
    fn generated_cluster_uuids_are_cluster_uuids() {
        let u = Uuid::parse(b"5e4a1c2d-1111-4222-9333-444455556666").unwrap();
        let c = gen_cluster_uuid(&u).unwrap();
        assert_eq!(c.as_str(), "ac4a1c2d-1111-8222-9333-444455556666");
        assert!(is_cluster_uuid(c.as_str().as_bytes()));
        assert!(gen_cluster_uuid(&Uuid::parse(b"short").unwrap()).is_none());
    }

    #[test]
    fn dead_nodes_are_removed() {
        let c = Uuid::parse(C.as_bytes()).unwrap();
        let m = BTreeMap::from([(c.clone(), BTreeSet::from([b"n1".to_vec(), b"n2".to_vec()]))]);
        let dead = BTreeSet::from([Uuid::parse(b"n1").unwrap()]);
        let out = without_dead_nodes(m.clone(), &dead);
        assert_eq!(out[&c], BTreeSet::from([b"n2".to_vec()]));
        let inv = clusters_of_nodes(&m);
        assert_eq!(inv[b"n1".as_slice()], BTreeSet::from([c]));
    }

    proptest! {
        #[test]
        fn round_trip(nodes in proptest::collection::btree_set("[a-f0-9-]{1,12}", 0..6)) {
            let c = Uuid::parse(C.as_bytes()).unwrap();
            let set_: BTreeSet<Vec<u8>> = nodes.iter().map(|n| n.as_bytes().to_vec()).collect();
            let text = set(b"", &c, set_.clone(), Timestamp::parse(b"3s").unwrap());
            let back = clusters(&parse(&text));
            prop_assert_eq!(back.get(&c), Some(&set_));
            prop_assert_eq!(parse(&text).serialize(), text);
        }

        #[test]
        fn any_generated_uuid_is_a_cluster_uuid(u in "[a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12}") {
            let c = gen_cluster_uuid(&Uuid::parse(u.as_bytes()).unwrap()).unwrap();
            prop_assert!(is_cluster_uuid(c.as_str().as_bytes()));
        }
    }
}
