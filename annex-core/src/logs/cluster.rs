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
