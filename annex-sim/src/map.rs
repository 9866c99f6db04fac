//! A map of the network for least-cost distribution: the repositories,
//! which one can send to which (a repository sends to its remotes), and
//! what each link costs.
//!
//! A link's cost is the remote's git-annex cost
//! (`remote.NAME.annex-cost`, else the default: 100 for a path on this
//! machine, 200 otherwise, as [`RemoteConfig::cost`] decides). A remote
//! reached through a cluster gateway (`remote.NAME.annex-proxied-by`, the
//! UUID of another remote of the same repository) costs the gateway's cost
//! plus its own: the content takes both hops.
//!
//! [`Network::from_repo`] maps a real repository: its remotes, and for
//! those on this machine (a path or `file://` URL), their own remotes,
//! recursively, as `git annex map` discovers the network (remotes on
//! other machines are on the map, their own remotes not). Repositories are
//! told apart by UUID (`annex.uuid`, `remote.NAME.annex-uuid`); a remote
//! without a UUID is left out (git-annex does not send content to it).
//!
//! Costs are kept in thousandths ([`Link::cost`]) so that fractional
//! costs (`annex-cost` 100.5) stay exact in the planner's integer sums.
//!
//! ```
//! use annex_sim::map::Network;
//! let mut net = Network::default();
//! let a = net.add_repo("a", None);
//! let b = net.add_repo("b", None);
//! net.add_link(a, b, "b", 100_000);
//! assert_eq!(net.edges()[0].cost, 100_000);
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use annex_core::config::{AnnexConfig, RemoteConfig};
use annex_core::uuid::Uuid;

use crate::plan::Edge;

/// Why a repository could not be mapped.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// The repository (the one asked for, not one of its remotes) could
    /// not be opened or its config read.
    #[error("{}: cannot read the repository: {message}", path.display())]
    Open {
        /// The repository.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The repository has no `annex.uuid`: it is not a git-annex
    /// repository.
    #[error("{}: not a git-annex repository (no annex.uuid)", path.display())]
    NoUuid {
        /// The repository.
        path: PathBuf,
    },
}

/// One repository on the map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapRepo {
    /// A name for it: the remote name it was first found under (the
    /// mapped repository itself is `here`).
    pub name: String,
    /// Its UUID, when known.
    pub uuid: Option<Uuid>,
    /// Where it is on this machine, when it is.
    pub path: Option<PathBuf>,
    /// Declared to relay (`remote.NAME.annex-rs-relay`, in a repository
    /// on the map that has it as remote NAME): a transferring process
    /// runs in it ([`crate::route`]).
    pub relay: bool,
}

/// A link: `from` has `to` as a remote named `remote`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The sending repository (an index into [`Network::repos`]).
    pub from: usize,
    /// The receiving one.
    pub to: usize,
    /// The remote's name in `from`.
    pub remote: String,
    /// Its cost, in thousandths of git-annex's cost units.
    pub cost: u64,
}

/// The network: repositories and links.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Network {
    /// The repositories; the first is the one mapped from.
    pub repos: Vec<MapRepo>,
    /// The links.
    pub links: Vec<Link>,
}

/// A git-annex cost in thousandths (negative and not-a-number costs count
/// as 0).
pub fn milli(cost: f64) -> u64 {
    if cost.is_nan() || cost <= 0.0 {
        0
    } else {
        // Saturating float-to-integer conversion.
        (cost * 1000.0).round() as u64
    }
}

impl Network {
    /// Adds a repository; its index.
    pub fn add_repo(&mut self, name: &str, uuid: Option<Uuid>) -> usize {
        self.repos.push(MapRepo {
            name: name.to_string(),
            uuid,
            path: None,
            relay: false,
        });
        self.repos.len() - 1
    }

    /// Adds a link from `from` to `to` (its remote `remote`) costing
    /// `cost` thousandths; a second link between the same two keeps the
    /// cheaper cost.
    pub fn add_link(&mut self, from: usize, to: usize, remote: &str, cost: u64) {
        if from == to {
            return;
        }
        if let Some(l) = self.links.iter_mut().find(|l| l.from == from && l.to == to) {
            if cost < l.cost {
                l.cost = cost;
                l.remote = remote.to_string();
            }
            return;
        }
        self.links.push(Link {
            from,
            to,
            remote: remote.to_string(),
            cost,
        });
    }

    /// The index of the repository with this UUID.
    pub fn index_of(&self, uuid: &Uuid) -> Option<usize> {
        self.repos
            .iter()
            .position(|r| r.uuid.as_ref() == Some(uuid))
    }

    /// The links as the planner's edges (same order as [`Self::links`]).
    pub fn edges(&self) -> Vec<Edge> {
        self.links
            .iter()
            .map(|l| Edge {
                from: l.from,
                to: l.to,
                cost: l.cost,
            })
            .collect()
    }

    /// The map of the repository at `path` and of the repositories on this
    /// machine it reaches (module docs).
    pub fn from_repo(path: &Path) -> Result<Network, MapError> {
        let (uuid, remotes, base) = read_repo(path).map_err(|message| MapError::Open {
            path: path.to_path_buf(),
            message,
        })?;
        let Some(uuid) = uuid else {
            return Err(MapError::NoUuid {
                path: path.to_path_buf(),
            });
        };
        let mut net = Network::default();
        let here = net.add_repo("here", Some(uuid));
        net.repos[here].path = Some(path.to_path_buf());
        let mut queue: VecDeque<(usize, Vec<Remote>, PathBuf)> = VecDeque::new();
        queue.push_back((here, remotes, base));
        while let Some((from, remotes, base)) = queue.pop_front() {
            let proxies: BTreeMap<String, f64> = remotes
                .iter()
                .filter_map(|(r, _, _)| Some((r.uuid.as_ref()?.to_string(), r.cost())))
                .collect();
            for (r, proxy, relay) in &remotes {
                if r.ignore {
                    continue;
                }
                let Some(ru) = r.uuid.clone() else {
                    continue;
                };
                // A node behind a cluster gateway: both hops.
                let gateway = proxy
                    .as_ref()
                    .and_then(|g| proxies.get(g).copied())
                    .unwrap_or(0.0);
                let cost = milli(gateway + r.cost());
                let local = r.local_path(&base);
                let (to, new) = match net.index_of(&ru) {
                    Some(i) => (i, false),
                    None => {
                        let i = net.add_repo(&r.name, Some(ru));
                        (i, true)
                    }
                };
                net.add_link(from, to, &r.name, cost);
                net.repos[to].relay |= relay;
                if new && let Some(p) = local {
                    // A remote on this machine that cannot be read is on
                    // the map without its own remotes.
                    if let Ok((Some(u), rremotes, rbase)) = read_repo(&p)
                        && Some(&u) == net.repos[to].uuid.as_ref()
                    {
                        net.repos[to].path = Some(p);
                        queue.push_back((to, rremotes, rbase));
                    }
                }
            }
        }
        Ok(net)
    }

    /// The map of a sim: its repositories (by name) and connections, each
    /// link costing `cost(from, remote)` thousandths.
    pub fn from_sim(sim: &crate::Sim, cost: impl Fn(&str, &str) -> u64) -> Network {
        let mut net = Network::default();
        for (name, u) in &sim.repos {
            net.add_repo(name, Some(u.clone()));
        }
        for (i, (name, u)) in sim.repos.iter().enumerate() {
            for remote in sim.connections.get(u).into_iter().flatten() {
                if let Some(j) = net.repos.iter().position(|r| &r.name == remote) {
                    net.add_link(i, j, remote, cost(name, remote));
                }
            }
        }
        net
    }
}

/// A remote, its `remote.NAME.annex-proxied-by` (the UUID of the gateway
/// a cluster node is reached by) and `remote.NAME.annex-rs-relay`.
type Remote = (RemoteConfig, Option<String>, bool);

/// The UUID, remotes and base directory (for relative remote paths) of
/// the repository at `path`.
fn read_repo(path: &Path) -> Result<(Option<Uuid>, Vec<Remote>, PathBuf), String> {
    let repo = gix::open(path).map_err(|e| e.to_string())?;
    let cfg = AnnexConfig::from_repo(&repo, &[]).map_err(|e| e.to_string())?;
    let base = repo
        .workdir()
        .map_or_else(|| repo.git_dir().to_path_buf(), Path::to_path_buf);
    let remotes = cfg
        .remotes()
        .iter()
        .map(|r| {
            let proxy = cfg.get_str(&format!("remote.{}.annex-proxied-by", r.name));
            let relay = cfg
                .get_bool(&format!("remote.{}.annex-rs-relay", r.name))
                .unwrap_or(false);
            (r.clone(), proxy, relay)
        })
        .collect();
    Ok((cfg.uuid(), remotes, base))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) {
        let st = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .status()
            .expect("git runs");
        assert!(st.success(), "git {args:?}");
    }

    fn repo(top: &Path, name: &str, uuid: &str) -> PathBuf {
        let p = top.join(name);
        std::fs::create_dir_all(&p).expect("mkdir");
        git(&p, &["init", "-q"]);
        git(&p, &["config", "annex.uuid", uuid]);
        p
    }

    const UA: &str = "aaaaaaaa-0000-4000-8000-000000000001";
    const UB: &str = "aaaaaaaa-0000-4000-8000-000000000002";
    const UC: &str = "aaaaaaaa-0000-4000-8000-000000000003";
    const UD: &str = "aaaaaaaa-0000-4000-8000-000000000004";

    /// a -> b (local, default cost), b -> c (local, annex-cost 50.5),
    /// a -> d (ssh, expensive, not followed), c -> a; a's remote without a
    /// UUID is left out.
    #[test]
    fn maps_remotes_and_their_remotes_on_this_machine() {
        let t = tempfile::tempdir().expect("tempdir");
        let a = repo(t.path(), "a", UA);
        let b = repo(t.path(), "b", UB);
        let c = repo(t.path(), "c", UC);
        let add = |r: &Path, name: &str, url: &str, uuid: &str| {
            git(r, &["remote", "add", name, url]);
            if !uuid.is_empty() {
                git(r, &["config", &format!("remote.{name}.annex-uuid"), uuid]);
            }
        };
        add(&a, "b", "../b", UB);
        add(&a, "d", "ssh://host.example/d", UD);
        add(&a, "nouuid", "../zz", "");
        add(&b, "c", c.to_str().expect("utf-8"), UC);
        git(&b, &["config", "remote.c.annex-cost", "50.5"]);
        git(&b, &["config", "remote.c.annex-rs-relay", "true"]);
        add(&c, "a", &format!("file://{}", a.display()), UA);
        let net = Network::from_repo(&a).expect("maps");
        let names: Vec<&str> = net.repos.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["here", "b", "d", "c"]);
        let links: Vec<(usize, usize, u64)> =
            net.links.iter().map(|l| (l.from, l.to, l.cost)).collect();
        assert_eq!(
            links,
            [
                (0, 1, 100_000),
                (0, 2, 200_000),
                (1, 3, 50_500),
                (3, 0, 100_000)
            ]
        );
        assert!(
            net.repos[2].path.is_none(),
            "a remote elsewhere is not followed"
        );
    }

    /// A cluster node behind a gateway costs both hops.
    #[test]
    fn cluster_node_costs_gateway_plus_node() {
        let t = tempfile::tempdir().expect("tempdir");
        let a = repo(t.path(), "a", UA);
        git(&a, &["remote", "add", "gw", "ssh://gw.example/r"]);
        git(&a, &["config", "remote.gw.annex-uuid", UB]);
        git(&a, &["config", "remote.gw.annex-cost", "150"]);
        git(&a, &["remote", "add", "gw-node1", "ssh://gw.example/r"]);
        git(&a, &["config", "remote.gw-node1.annex-uuid", UC]);
        git(&a, &["config", "remote.gw-node1.annex-cost", "10"]);
        git(&a, &["config", "remote.gw-node1.annex-proxied-by", UB]);
        let net = Network::from_repo(&a).expect("maps");
        let node = net
            .index_of(&Uuid::parse(UC.as_bytes()).expect("uuid"))
            .expect("node mapped");
        let l = net.links.iter().find(|l| l.to == node).expect("link");
        assert_eq!(l.cost, 160_000);
    }

    #[test]
    fn not_an_annex_repository() {
        let t = tempfile::tempdir().expect("tempdir");
        let p = t.path().join("plain");
        std::fs::create_dir_all(&p).expect("mkdir");
        git(&p, &["init", "-q"]);
        assert!(matches!(
            Network::from_repo(&p),
            Err(MapError::NoUuid { .. })
        ));
        assert!(matches!(
            Network::from_repo(&t.path().join("missing")),
            Err(MapError::Open { .. })
        ));
    }
}
