//! Setting up proxies and clusters: what `updateproxy`, `initcluster`,
//! `updatecluster` and `extendcluster` do, as git-annex does it. Each
//! returns what changed (the lines git-annex prints are the caller's to
//! print); the logs are changed through the journal, committed by the
//! caller.
//!
//! - [`update_proxy`]: records in `proxy.log` the remotes this repository
//!   proxies for: those with `remote.NAME.annex-proxy` or
//!   `remote.NAME.annex-cluster-node` set, its clusters, and the nodes of
//!   its clusters it reaches through other gateways.
//! - [`init_cluster`]: a new cluster UUID in `annex.cluster.NAME`, described
//!   in `uuid.log`.
//! - [`update_cluster`]: records in `cluster.log` the nodes of each of this
//!   repository's clusters.
//! - [`extend_cluster`]: this repository becomes another gateway of a
//!   cluster a remote is a gateway of.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use annex_core::branch::BranchError;
use annex_core::config::AnnexConfig;
use annex_core::logs::cluster::gen_cluster_uuid;
use annex_core::logs::proxy::{Proxy, is_legal_name};
use annex_core::state::State;
use annex_core::uuid::Uuid;

use crate::proxies::{self, GitRemote};

/// Why setting up failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The `git-annex` branch could not be read or written.
    #[error(transparent)]
    Branch(#[from] BranchError),
    /// git config could not be set.
    #[error("failed to set {name} in git config")]
    GitConfig {
        /// The setting.
        name: String,
    },
    /// A refusal, in git-annex's words.
    #[error("{0}")]
    Refused(String),
}

/// The repository being set up.
pub struct Repo<'a> {
    /// Its git dir.
    pub git_dir: &'a Path,
    /// The directory remote paths are relative to.
    pub base: &'a Path,
    /// Its UUID.
    pub uuid: &'a Uuid,
    /// Its git config.
    pub config: &'a AnnexConfig,
    /// Its state.
    pub state: &'a State,
}

impl Repo<'_> {
    fn remotes(&self) -> Result<Vec<GitRemote>, SetupError> {
        let proxies = self.state.proxies()?;
        let clusters = self.state.clusters()?;
        Ok(proxies::all_remotes(
            self.config,
            self.base,
            &proxies,
            &clusters,
        ))
    }
}

/// What `updateproxy` found.
#[derive(Debug, Default, PartialEq)]
pub struct ProxyUpdate {
    /// Warnings, in git-annex's words, before anything else.
    pub warnings: Vec<String>,
    /// Remote names started (`true`) or stopped (`false`) being proxied,
    /// in git-annex's order; empty when nothing changed.
    pub changes: Vec<(bool, String)>,
}

/// git-annex's `checkCanProxy`: a remote with a UUID, and not a special
/// remote configured with `exporttree=yes` but without `annexobjects=yes`;
/// else the warning, in git-annex's words.
fn check_can_proxy(
    r: &GitRemote,
    logged: &BTreeMap<Uuid, BTreeMap<Vec<u8>, Vec<u8>>>,
    cannot: &str,
) -> Result<Uuid, String> {
    let Some(u) = &r.uuid else {
        return Err(warn_no_uuid(r, cannot));
    };
    if r.special
        && logged
            .get(u)
            .is_some_and(proxies::export_without_annexobjects)
    {
        return Err(format!(
            "{} is a special remote configured with exporttree=yes, but without annexobjects=yes. {cannot} Suggest you run: git-annex enableremote {} annexobjects=yes",
            r.name, r.name
        ));
    }
    Ok(u.clone())
}

fn warn_no_uuid(r: &GitRemote, cannot: &str) -> String {
    format!(
        "{} is a git remote without a known annex-uuid. {cannot}",
        r.name
    )
}

/// `updateproxy`: records the remotes this repository proxies for.
pub fn update_proxy(repo: &Repo<'_>) -> Result<ProxyUpdate, SetupError> {
    let remotes = repo.remotes()?;
    let logged = repo.state.remotes()?;
    let mut out = ProxyUpdate::default();
    let mut remote_proxies = BTreeSet::new();
    for r in &remotes {
        let configured = r.proxy || r.cluster_node.as_ref().is_some_and(|n| !n.is_empty());
        if !configured {
            continue;
        }
        match check_can_proxy(r, &logged, "Cannot proxy to this remote.") {
            Err(w) => out.warnings.push(w),
            Ok(u) => {
                remote_proxies.insert(mk_proxy(&u, &r.name));
            }
        }
    }
    let my_clusters = proxies::my_clusters(repo.config);
    let cluster_proxies = cluster_proxies(repo, &remotes, &remote_proxies, &my_clusters)?;
    let wanted: BTreeSet<Proxy> = remote_proxies.union(&cluster_proxies).cloned().collect();
    let old = repo.state.proxies()?.remove(repo.uuid).unwrap_or_default();
    if old == wanted {
        return Ok(out);
    }
    for p in old.union(&wanted) {
        let name = String::from_utf8_lossy(&p.name).into_owned();
        match (old.contains(p), wanted.contains(p)) {
            (false, true) => out.changes.push((true, name)),
            (true, false) => out.changes.push((false, name)),
            _ => {}
        }
    }
    // Private repositories are not leaked into the log.
    let private = private_uuids(repo.config);
    let recorded = wanted
        .into_iter()
        .filter(|p| !private.iter().any(|u| u.as_str().as_bytes() == p.uuid))
        .collect();
    repo.state.set_proxies(repo.uuid, recorded)?;
    Ok(out)
}

fn mk_proxy(u: &Uuid, name: &str) -> Proxy {
    Proxy {
        uuid: u.as_str().as_bytes().to_vec(),
        name: name.as_bytes().to_vec(),
    }
}

/// `annex.private` (this repository) and `remote.NAME.annex-private`.
fn private_uuids(config: &AnnexConfig) -> Vec<Uuid> {
    let mut out = Vec::new();
    if config.get_bool("annex.private") == Some(true)
        && let Some(u) = config.uuid()
    {
        out.push(u);
    }
    for r in config.remotes() {
        if config.get_bool(&format!("remote.{}.annex-private", r.name)) == Some(true)
            && let Some(u) = &r.uuid
        {
            out.push(u.clone());
        }
    }
    out
}

/// This repository's clusters, and the nodes of its clusters reached
/// through other gateways that it does not already proxy for.
fn cluster_proxies(
    repo: &Repo<'_>,
    remotes: &[GitRemote],
    remote_proxies: &BTreeSet<Proxy>,
    my_clusters: &BTreeMap<String, Uuid>,
) -> Result<BTreeSet<Proxy>, SetupError> {
    let mine: Vec<Proxy> = my_clusters
        .iter()
        .map(|(name, cu)| mk_proxy(cu, name))
        .collect();
    let node_clusters = annex_core::logs::cluster::clusters_of_nodes(&repo.state.clusters()?);
    let my_cluster_uuids: BTreeSet<&Uuid> = my_clusters.values().collect();
    let proxied_uuids: BTreeSet<&[u8]> = remote_proxies
        .iter()
        .chain(mine.iter())
        .map(|p| p.uuid.as_slice())
        .collect();
    let mut out: BTreeSet<Proxy> = mine.iter().cloned().collect();
    for r in remotes {
        let (Some(_), Some(u)) = (&r.proxied_by, &r.uuid) else {
            continue;
        };
        let in_mine = node_clusters
            .get(u.as_str().as_bytes())
            .is_some_and(|cs| cs.iter().any(|c| my_cluster_uuids.contains(c)));
        if in_mine && !proxied_uuids.contains(u.as_str().as_bytes()) {
            out.insert(mk_proxy(u, &r.name));
        }
    }
    Ok(out)
}

/// `initcluster NAME [DESCRIPTION]`: a new cluster, unless this repository
/// already has one of that name. Returns the cluster's UUID.
pub fn init_cluster(repo: &Repo<'_>, name: &str, description: &str) -> Result<Uuid, SetupError> {
    if !is_legal_name(name.as_bytes()) {
        return Err(SetupError::Refused(
            "That cluster name is not a valid git remote name.".into(),
        ));
    }
    if let Some(u) = proxies::my_clusters(repo.config).get(name) {
        return Ok(u.clone());
    }
    let cu = gen_cluster_uuid(&Uuid::new_random())
        .ok_or_else(|| SetupError::Refused("unable to generate a cluster UUID".into()))?;
    set_git_config(repo.git_dir, &format!("annex.cluster.{name}"), cu.as_str())?;
    repo.state.set_description(&cu, description.as_bytes())?;
    Ok(cu)
}

fn set_git_config(git_dir: &Path, name: &str, value: &str) -> Result<(), SetupError> {
    let ok = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["config", name, value])
        .stdout(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(())
    } else {
        Err(SetupError::GitConfig {
            name: name.to_string(),
        })
    }
}

/// What `updatecluster` found for one cluster.
#[derive(Debug, PartialEq)]
pub struct ClusterUpdate {
    /// The cluster's name.
    pub cluster: String,
    /// Lines describing the changes (`Added node ...`, `Removed node
    /// ...`), in git-annex's words; empty when nothing changed.
    pub changes: Vec<String>,
}

/// `updatecluster`: records the nodes of each of this repository's
/// clusters. The warnings about remotes without a UUID come first.
pub fn update_cluster(repo: &Repo<'_>) -> Result<(Vec<String>, Vec<ClusterUpdate>), SetupError> {
    let remotes = repo.remotes()?;
    let logged = repo.state.remotes()?;
    let mut warnings = Vec::new();
    // Cluster name to its node remotes, ordered as git-annex orders
    // remotes (cost, then UUID).
    let mut my_nodes: BTreeMap<&str, Vec<&GitRemote>> = BTreeMap::new();
    for r in &remotes {
        let Some(names) = r.cluster_node.as_ref().filter(|n| !n.is_empty()) else {
            continue;
        };
        if let Err(w) = check_can_proxy(r, &logged, "Cannot use this remote as a cluster node.") {
            warnings.push(w);
            continue;
        }
        for n in names {
            let v = my_nodes.entry(n.as_str()).or_default();
            if !v.iter().any(|x| x.uuid == r.uuid) {
                v.push(r);
            }
        }
    }
    for v in my_nodes.values_mut() {
        v.sort_by(|a, b| a.cost.total_cmp(&b.cost).then_with(|| a.uuid.cmp(&b.uuid)));
    }
    let recorded = repo.state.clusters()?;
    let mut descriptions: BTreeMap<Uuid, String> = repo
        .state
        .descriptions()?
        .into_iter()
        .map(|(u, d)| (u, String::from_utf8_lossy(&d).into_owned()))
        .collect();
    // The remotes' names added, as git-annex describes repositories.
    for r in &remotes {
        if let Some(u) = &r.uuid {
            let d = descriptions.entry(u.clone()).or_default();
            *d = if d.is_empty() || *d == r.name {
                format!("[{}]", r.name)
            } else {
                format!("{d} [{}]", r.name)
            };
        }
    }
    let mut out = Vec::new();
    for (name, cu) in proxies::my_clusters(repo.config) {
        let mine = my_nodes.get(name.as_str()).cloned().unwrap_or_default();
        let recorded_nodes = recorded.get(&cu).cloned().unwrap_or_default();
        let mut all: BTreeSet<Vec<u8>> = mine
            .iter()
            .filter_map(|r| r.uuid.as_ref())
            .map(|u| u.as_str().as_bytes().to_vec())
            .collect();
        // Nodes proxied by other gateways of the cluster.
        for r in &remotes {
            if let (Some(_), Some(u)) = (&r.proxied_by, &r.uuid)
                && recorded_nodes.contains(u.as_str().as_bytes())
            {
                all.insert(u.as_str().as_bytes().to_vec());
            }
        }
        let mut changes = Vec::new();
        if recorded_nodes != all {
            for r in &mine {
                let u = r.uuid.as_ref().map(|u| u.as_str().as_bytes().to_vec());
                if u.is_some_and(|u| !recorded_nodes.contains(&u)) {
                    changes.push(format!("Added node {} to cluster: {name}", r.name));
                }
            }
            for n in &recorded_nodes {
                if !all.contains(n) {
                    let desc = Uuid::parse(n)
                        .ok()
                        .and_then(|u| descriptions.get(&u).cloned())
                        .unwrap_or_else(|| String::from_utf8_lossy(n).into_owned());
                    changes.push(format!("Removed node {desc} from cluster: {name}"));
                }
            }
            let private = private_uuids(repo.config);
            let recorded_set = all
                .into_iter()
                .filter(|n| {
                    !private
                        .iter()
                        .any(|u| u.as_str().as_bytes() == n.as_slice())
                })
                .collect();
            repo.state.set_cluster(&cu, recorded_set)?;
        }
        out.push(ClusterUpdate {
            cluster: name,
            changes,
        });
    }
    Ok((warnings, out))
}

/// `extendcluster REMOTE CLUSTERNAME`: the cluster reached as remote
/// `REMOTE-CLUSTERNAME` becomes one of this repository's clusters, with
/// `REMOTE` as a gateway of it (`remote.REMOTE.annex-cluster-gateway`).
/// The caller then runs [`update_cluster`] and [`update_proxy`].
pub fn extend_cluster(repo: &Repo<'_>, remote: &str, cluster: &str) -> Result<Uuid, SetupError> {
    let remotes = repo.remotes()?;
    let cluster_remote = proxies::proxied_name(remote, cluster);
    let Some(cr) = remotes.iter().find(|r| r.name == cluster_remote) else {
        return Err(SetupError::Refused(format!(
            "Expected to find a cluster remote named {cluster_remote} that is accessed via {remote}, but there is no such remote. Perhaps you need togit fetch from {remote}, or git-annex updatecluster needs to be run there?"
        )));
    };
    if !remotes.iter().any(|r| r.name == remote) {
        return Err(SetupError::Refused(format!(
            "No remote named {remote} exists."
        )));
    }
    let cu = cr
        .uuid
        .clone()
        .filter(|u| annex_core::logs::cluster::is_cluster_uuid(u.as_str().as_bytes()))
        .ok_or_else(|| SetupError::Refused(format!("{cluster_remote} is not a cluster remote.")))?;
    if !proxies::my_clusters(repo.config).contains_key(cluster) {
        set_git_config(
            repo.git_dir,
            &format!("annex.cluster.{cluster}"),
            cu.as_str(),
        )?;
    }
    set_git_config(
        repo.git_dir,
        &format!("remote.{remote}.annex-cluster-gateway"),
        cu.as_str(),
    )?;
    Ok(cu)
}
