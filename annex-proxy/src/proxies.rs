//! What git config and the `git-annex` branch say about proxies and
//! clusters: this repository's clusters (`annex.cluster.NAME`), the
//! proxy and cluster settings of its git remotes (`remote.NAME.annex-proxy`,
//! `annex-cluster-node`, `annex-cluster-gateway`, `annex-proxied-by`), and
//! the remotes a client learns through a gateway: for a remote whose
//! repository proxies others (its entry in `proxy.log`), one remote
//! `REMOTE-PROXIEDNAME` per proxied repository, reached through the same
//! URL, as git-annex lists them (its `listProxied`). These are never
//! written to git config: they exist for the run, as git-annex's do.
//!
//! ```
//! use annex_proxy::proxies::proxied_name;
//! assert_eq!(proxied_name("gateway", "node1"), "gateway-node1");
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use annex_core::config::{AnnexConfig, EXPENSIVE_REMOTE_COST};
use annex_core::logs::cluster::is_cluster_uuid;
use annex_core::logs::proxy::{Proxy, is_legal_name};
use annex_core::uuid::Uuid;

/// A git remote as proxies and clusters see it: configured in git config,
/// or learned through a gateway (`proxied_by` set).
#[derive(Debug, Clone, PartialEq)]
pub struct GitRemote {
    /// The remote's name.
    pub name: String,
    /// Its UUID, when known.
    pub uuid: Option<Uuid>,
    /// Its URL (a proxied remote's is its gateway's).
    pub url: Option<String>,
    /// Its cost.
    pub cost: f64,
    /// `annex-proxy`: this repository may proxy for it.
    pub proxy: bool,
    /// `annex-cluster-node`: the clusters it is a node of (legal names
    /// only), `None` when unset.
    pub cluster_node: Option<Vec<String>>,
    /// `annex-cluster-gateway`: the clusters it is a gateway for.
    pub cluster_gateway: Vec<Uuid>,
    /// `annex-proxied-by`: the gateway it is reached through.
    pub proxied_by: Option<Uuid>,
    /// `annex-sync`.
    pub sync: bool,
    /// The path of its repository when it is on this machine.
    pub local_path: Option<PathBuf>,
    /// `annex-shell`: the program run over ssh.
    pub shell: Option<String>,
    /// `annex-ssh-options`, split at white space.
    pub ssh_options: Vec<String>,
    /// A special remote (no `url`): a gateway serves it itself.
    pub special: bool,
}

/// The name of the remote for `proxied` reached through `gateway`.
pub fn proxied_name(gateway: &str, proxied: &str) -> String {
    format!("{gateway}-{proxied}")
}

/// This repository's clusters: `annex.cluster.NAME` set to a cluster UUID,
/// for legal remote names, by name.
pub fn my_clusters(config: &AnnexConfig) -> BTreeMap<String, Uuid> {
    let mut out = BTreeMap::new();
    for (name, values) in config.entries() {
        let Some(cluster) = name.strip_prefix("annex.cluster.") else {
            continue;
        };
        if !is_legal_name(cluster.as_bytes()) {
            continue;
        }
        if let Some(v) = values.last()
            && is_cluster_uuid(v)
            && let Ok(u) = Uuid::parse(v)
        {
            out.insert(cluster.to_string(), u);
        }
    }
    out
}

fn words(v: Option<String>) -> Option<Vec<String>> {
    v.map(|s| s.split_whitespace().map(str::to_string).collect())
}

/// The remotes configured in git config: the git remotes in list order,
/// then the special remotes (by name).
pub fn configured_remotes(config: &AnnexConfig, base: &Path) -> Vec<GitRemote> {
    let mut out = git_remotes(config, base);
    out.extend(
        annex_core::remote::special::configured(config)
            .into_iter()
            .filter(|sr| !sr.ignore)
            .map(|sr| {
                let field = |k: &str| config.get_str(&format!("remote.{}.{k}", sr.name));
                GitRemote {
                    uuid: sr.uuid.clone(),
                    url: None,
                    cost: sr
                        .cost
                        .unwrap_or_else(|| annex_core::remote::special::default_cost(&sr.kind)),
                    proxy: config
                        .get_bool(&format!("remote.{}.annex-proxy", sr.name))
                        .unwrap_or(false),
                    cluster_node: words(field("annex-cluster-node")).map(|v| {
                        v.into_iter()
                            .filter(|n| is_legal_name(n.as_bytes()))
                            .collect()
                    }),
                    cluster_gateway: Vec::new(),
                    proxied_by: None,
                    sync: config
                        .get_bool(&format!("remote.{}.annex-sync", sr.name))
                        .unwrap_or(true),
                    local_path: None,
                    shell: None,
                    ssh_options: Vec::new(),
                    special: true,
                    name: sr.name,
                }
            }),
    );
    out
}

fn git_remotes(config: &AnnexConfig, base: &Path) -> Vec<GitRemote> {
    config
        .remotes()
        .iter()
        .map(|r| {
            let field = |k: &str| config.get_str(&format!("remote.{}.{k}", r.name));
            GitRemote {
                name: r.name.clone(),
                uuid: r.uuid.clone(),
                url: r.url.clone(),
                cost: r.cost(),
                proxy: config
                    .get_bool(&format!("remote.{}.annex-proxy", r.name))
                    .unwrap_or(false),
                cluster_node: words(field("annex-cluster-node")).map(|v| {
                    v.into_iter()
                        .filter(|n| is_legal_name(n.as_bytes()))
                        .collect()
                }),
                cluster_gateway: words(field("annex-cluster-gateway"))
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|u| is_cluster_uuid(u.as_bytes()))
                    .filter_map(|u| Uuid::parse(u.as_bytes()).ok())
                    .collect(),
                proxied_by: field("annex-proxied-by").and_then(|u| Uuid::parse(u.as_bytes()).ok()),
                sync: r.sync,
                local_path: r.local_path(base),
                shell: field("annex-shell"),
                ssh_options: field("annex-ssh-options")
                    .map(|o| o.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default(),
                special: false,
            }
        })
        .collect()
}

/// The remotes learned through gateways: for each configured remote that
/// can proxy (not on this machine: git-annex reaches those without
/// `git-annex-shell`) and whose UUID has proxies in `proxy.log`, one
/// remote per proxied repository, unless git config has anything for a
/// remote of that name. A proxied cluster node of a cluster proxied along
/// with it is not synced with by default and costs a little more than
/// its gateway (git-annex's defaults).
pub fn proxied_remotes(
    config: &AnnexConfig,
    configured: &[GitRemote],
    proxies: &BTreeMap<Uuid, BTreeSet<Proxy>>,
    clusters: &BTreeMap<Uuid, BTreeSet<Vec<u8>>>,
) -> Vec<GitRemote> {
    let mut out = Vec::new();
    let node_clusters = annex_core::logs::cluster::clusters_of_nodes(clusters);
    for r in configured {
        if r.local_path.is_some() || r.special {
            continue;
        }
        let Some(u) = &r.uuid else { continue };
        let Some(proxied) = proxies.get(u) else {
            continue;
        };
        let proxied_uuids: BTreeSet<&[u8]> = proxied.iter().map(|p| p.uuid.as_slice()).collect();
        for p in proxied {
            let name = proxied_name(&r.name, &String::from_utf8_lossy(&p.name));
            let prefix = format!("remote.{name}.");
            if config.entries().any(|(k, _)| k.starts_with(&prefix)) {
                continue;
            }
            let Ok(uuid) = Uuid::parse(&p.uuid) else {
                continue;
            };
            let in_proxied_cluster = node_clusters.get(&p.uuid).is_some_and(|cs| {
                cs.iter()
                    .any(|c| proxied_uuids.contains(c.as_str().as_bytes()))
            });
            let configured_cost = config
                .get_str(&format!("remote.{}.annex-cost", r.name))
                .and_then(|c| c.trim().parse::<f64>().ok());
            let default_cost = if r.url.as_deref().is_some_and(|u| u.starts_with("annex+")) {
                EXPENSIVE_REMOTE_COST
            } else {
                r.cost
            };
            // Each gateway beyond the first costs one more (see
            // [`extra_hops`]); git-annex gives every proxied node its
            // gateway's cost, however far behind it is.
            let hops = f64::from(extra_hops(proxies, u, p));
            let (cost, sync) = if in_proxied_cluster {
                (default_cost + hops + 0.1, false)
            } else {
                (configured_cost.unwrap_or(r.cost) + hops, r.sync)
            };
            out.push(GitRemote {
                name,
                uuid: Some(uuid),
                url: r.url.clone(),
                cost,
                proxy: r.proxy,
                cluster_node: None,
                cluster_gateway: Vec::new(),
                proxied_by: Some(u.clone()),
                sync,
                local_path: None,
                shell: r.shell.clone(),
                ssh_options: r.ssh_options.clone(),
                special: false,
            });
        }
    }
    out
}

/// How many gateways beyond `gateway` itself a client's request for the
/// repository `entry` of `gateway`'s proxies goes through. A gateway that
/// reaches a node through another gateway (a distributed cluster)
/// records it under that gateway's name for it, `OTHER-NAME`, and the
/// other gateway records it as `NAME`: an entry is one hop further when
/// another gateway proxies the same UUID under a name that ends the
/// entry's after a dash (the longest such name: the gateways further down
/// the chain have shorter ones), and so on down the chain (each gateway
/// visited once). The names alone do not
/// prove the path (git-annex notes as much), but a match needs the UUID
/// in both gateways' `proxy.log` too.
pub fn extra_hops(proxies: &BTreeMap<Uuid, BTreeSet<Proxy>>, gateway: &Uuid, entry: &Proxy) -> u32 {
    fn walk(
        proxies: &BTreeMap<Uuid, BTreeSet<Proxy>>,
        gateway: &Uuid,
        entry: &Proxy,
        seen: &mut Vec<Uuid>,
    ) -> u32 {
        seen.push(gateway.clone());
        // The next gateway is the one whose name for the repository is
        // the longest proper end of this one's (those further down the
        // chain have shorter ones).
        let mut next: Vec<(&Uuid, &Proxy)> = Vec::new();
        for (other, entries) in proxies {
            if seen.contains(other) {
                continue;
            }
            for e in entries {
                let further = e.uuid == entry.uuid
                    && entry.name.len() > e.name.len() + 1
                    && entry.name.ends_with(&e.name)
                    && entry.name[entry.name.len() - e.name.len() - 1] == b'-';
                if further {
                    next.push((other, e));
                }
            }
        }
        let longest = next.iter().map(|(_, e)| e.name.len()).max();
        let mut best: Option<u32> = None;
        for (other, e) in next {
            if Some(e.name.len()) == longest {
                let h = 1 + walk(proxies, other, e, seen);
                best = Some(best.map_or(h, |b| b.min(h)));
            }
        }
        seen.pop();
        best.unwrap_or(0)
    }
    walk(proxies, gateway, entry, &mut Vec::new())
}

/// Every remote: the configured ones, then those learned through
/// gateways.
pub fn all_remotes(
    config: &AnnexConfig,
    base: &Path,
    proxies: &BTreeMap<Uuid, BTreeSet<Proxy>>,
    clusters: &BTreeMap<Uuid, BTreeSet<Vec<u8>>>,
) -> Vec<GitRemote> {
    let mut v = configured_remotes(config, base);
    let learned = proxied_remotes(config, &v, proxies, clusters);
    v.extend(learned);
    v
}

/// Sorts remotes by cost, cheapest first, keeping list order among equal
/// costs.
pub fn by_cost(mut remotes: Vec<GitRemote>) -> Vec<GitRemote> {
    remotes.sort_by(|a, b| a.cost.total_cmp(&b.cost));
    remotes
}

/// The remote this repository proxies for when asked for `target`
/// (git-annex's `canProxyForRemote`): the cheapest remote with that UUID
/// whose name is the one in this repository's proxies, configured as a
/// proxy or as a node of one of its clusters, or proxied by a remote that
/// is a gateway of a cluster.
pub fn can_proxy_for<'a>(
    remotes_by_cost: &'a [GitRemote],
    my_proxies: &BTreeSet<Proxy>,
    clusters: &BTreeMap<String, Uuid>,
    target: &Uuid,
) -> Option<&'a GitRemote> {
    remotes_by_cost.iter().find(|r| {
        r.uuid.as_ref() == Some(target)
            && my_proxies
                .iter()
                .any(|p| p.uuid == target.as_str().as_bytes() && p.name == r.name.as_bytes())
            && proxy_is_configured(r, remotes_by_cost, clusters)
    })
}

fn proxy_is_configured(
    r: &GitRemote,
    remotes: &[GitRemote],
    clusters: &BTreeMap<String, Uuid>,
) -> bool {
    if r.proxy {
        return true;
    }
    if r.cluster_node
        .as_ref()
        .is_some_and(|ns| ns.iter().any(|n| clusters.contains_key(n)))
    {
        return true;
    }
    match &r.proxied_by {
        Some(p) => remotes
            .iter()
            .filter(|g| g.uuid.as_ref() == Some(p))
            .any(|g| !g.cluster_gateway.is_empty()),
        None => false,
    }
}

/// Whether a special remote's `remote.log` configuration makes it an
/// export remote (`exporttree=yes`) that does not also store keys
/// (`annexobjects=yes`): git-annex will not proxy to one (its
/// `checkCanProxy`), since its files are named by the exported tree.
pub fn export_without_annexobjects(logged: &BTreeMap<Vec<u8>, Vec<u8>>) -> bool {
    let yes = |k: &[u8]| logged.get(k).is_some_and(|v| v.as_slice() == b"yes");
    yes(b"exporttree") && !yes(b"annexobjects")
}

/// Whether a special remote's `remote.log` configuration makes it an
/// export or import remote (`exporttree=yes` or `importtree=yes`):
/// content in it is named by a tree, not by key, so it is never served
/// as a key store.
pub fn is_tree_remote(logged: &BTreeMap<String, String>) -> bool {
    let yes = |k: &str| logged.get(k).is_some_and(|v| v == "yes");
    yes("exporttree") || yes("importtree")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(name: &str, uuid: &str) -> GitRemote {
        GitRemote {
            name: name.into(),
            uuid: Some(Uuid::parse(uuid.as_bytes()).unwrap()),
            url: Some("host:repo".into()),
            cost: EXPENSIVE_REMOTE_COST,
            proxy: false,
            cluster_node: None,
            cluster_gateway: Vec::new(),
            proxied_by: None,
            sync: true,
            local_path: None,
            shell: None,
            ssh_options: Vec::new(),
            special: false,
        }
    }

    fn proxies(l: &[(&str, &str)]) -> BTreeSet<Proxy> {
        l.iter()
            .map(|(u, n)| Proxy {
                uuid: u.as_bytes().to_vec(),
                name: n.as_bytes().to_vec(),
            })
            .collect()
    }

    #[test]
    fn proxies_only_what_is_configured_and_logged() {
        let mut a = remote("a", "ua");
        let b = remote("b", "ub");
        a.proxy = true;
        let rs = vec![a, b];
        let mine = proxies(&[("ua", "a"), ("ub", "b")]);
        let none = BTreeMap::new();
        let t = |u: &str| Uuid::parse(u.as_bytes()).unwrap();
        assert_eq!(
            can_proxy_for(&rs, &mine, &none, &t("ua")).map(|r| r.name.as_str()),
            Some("a")
        );
        // Logged but not configured in git config.
        assert!(can_proxy_for(&rs, &mine, &none, &t("ub")).is_none());
        // Configured but logged under another name.
        assert!(can_proxy_for(&rs, &proxies(&[("ua", "x")]), &none, &t("ua")).is_none());
    }

    fn uuid(u: &str) -> Uuid {
        Uuid::parse(u.as_bytes()).unwrap()
    }

    #[test]
    fn a_node_behind_a_second_gateway_is_one_hop_further() {
        // AMS reaches n1 itself and n3 through NYC, and the reverse.
        let logs = BTreeMap::from([
            (
                uuid("ams"),
                proxies(&[("u1", "n1"), ("u3", "NYC-n3"), ("c", "c")]),
            ),
            (
                uuid("nyc"),
                proxies(&[("u3", "n3"), ("u1", "AMS-n1"), ("c", "c")]),
            ),
        ]);
        let p = |u: &str, n: &str| Proxy {
            uuid: u.as_bytes().to_vec(),
            name: n.as_bytes().to_vec(),
        };
        assert_eq!(extra_hops(&logs, &uuid("ams"), &p("u1", "n1")), 0);
        assert_eq!(extra_hops(&logs, &uuid("ams"), &p("u3", "NYC-n3")), 1);
        assert_eq!(extra_hops(&logs, &uuid("nyc"), &p("u1", "AMS-n1")), 1);
        assert_eq!(extra_hops(&logs, &uuid("ams"), &p("c", "c")), 0);
        // A dash in a name is no hop unless another gateway has the UUID
        // under the rest of the name.
        assert_eq!(extra_hops(&logs, &uuid("ams"), &p("u9", "NYC-n9")), 0);
        assert_eq!(extra_hops(&logs, &uuid("ams"), &p("u3", "NYC_n3")), 0);
        // A chain of three gateways: two hops; a loop ends.
        let chain = BTreeMap::from([
            (uuid("a"), proxies(&[("u", "B-C-n")])),
            (uuid("b"), proxies(&[("u", "C-n")])),
            (uuid("c"), proxies(&[("u", "n")])),
        ]);
        assert_eq!(extra_hops(&chain, &uuid("a"), &p("u", "B-C-n")), 2);
        let looped = BTreeMap::from([
            (uuid("a"), proxies(&[("u", "x-n")])),
            (uuid("b"), proxies(&[("u", "x-n"), ("u", "n")])),
        ]);
        assert_eq!(extra_hops(&looped, &uuid("a"), &p("u", "x-n")), 1);
    }

    #[test]
    fn proxied_remotes_cost_one_more_per_gateway_behind_the_first() {
        let cu = "ac000000-0000-8000-0000-000000000000";
        let mut ams = remote("AMS", "ams");
        ams.url = Some("host:ams".into());
        let logs = BTreeMap::from([
            (
                uuid("ams"),
                proxies(&[("u1", "n1"), ("u3", "NYC-n3"), (cu, "c")]),
            ),
            (
                uuid("nyc"),
                proxies(&[("u3", "n3"), ("u1", "AMS-n1"), (cu, "c")]),
            ),
        ]);
        let clusters =
            BTreeMap::from([(uuid(cu), BTreeSet::from([b"u1".to_vec(), b"u3".to_vec()]))]);
        let config = AnnexConfig::default();
        let got = proxied_remotes(&config, &[ams], &logs, &clusters);
        let cost = |n: &str| got.iter().find(|r| r.name == n).map(|r| r.cost);
        assert_eq!(cost("AMS-c"), Some(EXPENSIVE_REMOTE_COST));
        assert_eq!(cost("AMS-n1"), Some(EXPENSIVE_REMOTE_COST + 0.1));
        assert_eq!(cost("AMS-NYC-n3"), Some(EXPENSIVE_REMOTE_COST + 1.0 + 0.1));
    }

    #[test]
    fn cluster_nodes_are_proxied_for_configured_clusters_only() {
        let mut n = remote("n1", "u1");
        n.cluster_node = Some(vec!["c".into()]);
        let rs = vec![n];
        let mine = proxies(&[("u1", "n1")]);
        let t = Uuid::parse(b"u1").unwrap();
        let c = Uuid::parse(b"ac000000-0000-8000-0000-000000000000").unwrap();
        assert!(can_proxy_for(&rs, &mine, &BTreeMap::new(), &t).is_none());
        let clusters = BTreeMap::from([("c".to_string(), c)]);
        assert!(can_proxy_for(&rs, &mine, &clusters, &t).is_some());
    }
}
