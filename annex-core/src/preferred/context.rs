//! Two [`MatchContext`]s: one holding everything in memory, one reading a
//! repository's logs through [`State`] (each log read once, key logs cached
//! per key).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use crate::branch::BranchError;
use crate::config::AnnexConfig;
use crate::key::Key;
use crate::logs;
use crate::logs::metadata::MetaData;
use crate::logs::trust::TrustLevel;
use crate::objects::ObjectStore;
use crate::state::{State, key_log_path};
use crate::uuid::Uuid;

use super::eval::MatchContext;
use super::trust_of;

/// A fast non-cryptographic hasher (Fx-style, a word at a time) for the
/// in-memory maps: keys and UUIDs are not attacker-chosen here, and hashing
/// them is most of a lookup.
#[derive(Debug, Clone, Copy, Default)]
pub struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn write_usize(&mut self, i: usize) {
        self.0 = (self.0.rotate_left(5) ^ i as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;
/// A `HashSet` with [`FastHasher`].
pub type FastSet<K> = HashSet<K, std::hash::BuildHasherDefault<FastHasher>>;

fn members_of(groups: &BTreeMap<Uuid, BTreeSet<Vec<u8>>>) -> FastMap<Vec<u8>, BTreeSet<Uuid>> {
    let mut m: FastMap<Vec<u8>, BTreeSet<Uuid>> = FastMap::default();
    for (u, gs) in groups {
        for g in gs {
            m.entry(g.clone()).or_default().insert(u.clone());
        }
    }
    m
}

/// Everything a term may ask, held in memory (tests, benchmarks, and
/// callers that loaded the state themselves). Missing entries mean: no
/// locations, no metadata, no URLs, content absent, not unused.
#[derive(Debug, Clone, Default)]
pub struct MemoryContext {
    /// This repository.
    pub here: Option<Uuid>,
    /// Trust levels set (others are semitrusted).
    pub trust: FastMap<Uuid, TrustLevel>,
    groups: BTreeMap<Uuid, BTreeSet<Vec<u8>>>,
    members: FastMap<Vec<u8>, BTreeSet<Uuid>>,
    /// The numcopies setting (default 1).
    pub numcopies: Option<i64>,
    /// Per-file numcopies (`.gitattributes`), by path.
    pub file_numcopies: FastMap<Vec<u8>, i64>,
    /// Location logs.
    pub locations: FastMap<Key, Vec<Uuid>>,
    /// Metadata.
    pub metadata: FastMap<Key, MetaData>,
    /// URLs.
    pub urls: FastMap<Key, Vec<Vec<u8>>>,
    /// Keys whose content this repository has.
    pub content: FastSet<Key>,
    /// Unused keys.
    pub unused: FastSet<Key>,
    /// `preferreddir=` of repositories.
    pub preferred_dirs: FastMap<Uuid, Vec<u8>>,
    /// Maximum sizes.
    pub max_sizes: FastMap<Uuid, u64>,
    /// Repository sizes.
    pub repo_sizes: FastMap<Uuid, u64>,
    /// `--rebalance`.
    pub rebalance: bool,
    /// `annex.fullybalancedthreshhold` (`None`: 0.9).
    pub threshold: Option<f64>,
}

impl MemoryContext {
    /// Sets the groups of every repository.
    pub fn set_groups(&mut self, groups: BTreeMap<Uuid, BTreeSet<Vec<u8>>>) {
        self.members = members_of(&groups);
        self.groups = groups;
    }

    /// The groups of every repository.
    pub fn groups(&self) -> &BTreeMap<Uuid, BTreeSet<Vec<u8>>> {
        &self.groups
    }
}

impl MatchContext for MemoryContext {
    type Error = std::convert::Infallible;

    fn here(&self) -> Option<&Uuid> {
        self.here.as_ref()
    }
    fn trust(&self, uuid: &Uuid) -> TrustLevel {
        trust_of(&self.trust, uuid)
    }
    fn in_group(&self, uuid: &Uuid, group: &[u8]) -> bool {
        self.groups.get(uuid).is_some_and(|g| g.contains(group))
    }
    fn group_members(&self, group: &[u8]) -> Option<&BTreeSet<Uuid>> {
        self.members.get(group)
    }
    fn with_locations<R>(&self, key: &Key, f: impl FnOnce(&[Uuid]) -> R) -> Result<R, Self::Error> {
        Ok(f(self.locations.get(key).map_or(&[][..], |v| v.as_slice())))
    }
    fn with_metadata<R>(
        &self,
        key: &Key,
        f: impl FnOnce(&MetaData) -> R,
    ) -> Result<R, Self::Error> {
        match self.metadata.get(key) {
            Some(m) => Ok(f(m)),
            None => Ok(f(&MetaData::default())),
        }
    }
    fn with_urls<R>(&self, key: &Key, f: impl FnOnce(&[Vec<u8>]) -> R) -> Result<R, Self::Error> {
        Ok(f(self.urls.get(key).map_or(&[][..], |v| v.as_slice())))
    }
    fn has_content(&self, key: &Key) -> Result<bool, Self::Error> {
        Ok(self.content.contains(key))
    }
    fn is_unused(&self, key: &Key) -> Result<bool, Self::Error> {
        Ok(self.unused.contains(key))
    }
    fn numcopies(&self, file: Option<&[u8]>) -> Result<i64, Self::Error> {
        if let Some(n) = file.and_then(|f| self.file_numcopies.get(f)) {
            return Ok(*n);
        }
        Ok(self.numcopies.unwrap_or(1))
    }
    fn preferred_dir(&self, repo: Option<&Uuid>) -> &[u8] {
        repo.and_then(|u| self.preferred_dirs.get(u))
            .map_or(b"public", |v| v.as_slice())
    }
    fn max_size(&self, uuid: &Uuid) -> Option<u64> {
        self.max_sizes.get(uuid).copied()
    }
    fn repo_size(&self, uuid: &Uuid) -> Option<u64> {
        self.repo_sizes.get(uuid).copied()
    }
    fn rebalance(&self) -> bool {
        self.rebalance
    }
    fn fully_balanced_threshold(&self) -> f64 {
        self.threshold.unwrap_or(0.9)
    }
}

/// A context over a repository's [`State`]: the global logs (trust, groups,
/// numcopies, maxsize, remote configs, clusters) are read when it is made,
/// each key's location log, metadata and URLs the first time a term asks,
/// then cached.
///
/// Not read here (set them with the setters): repository sizes (another
/// module computes them), unused keys, `.gitattributes` numcopies, and
/// `--rebalance` / `annex.fullybalancedthreshhold`.
pub struct StateContext<'s> {
    state: &'s State,
    store: Option<ObjectStore>,
    mem: MemoryContext,
    clusters: BTreeMap<Uuid, BTreeSet<Vec<u8>>>,
    locations: RefCell<FastMap<Key, Vec<Uuid>>>,
    metadata: RefCell<FastMap<Key, MetaData>>,
    urls: RefCell<FastMap<Key, Vec<Vec<u8>>>>,
    file_numcopies: Option<NumcopiesLookup<'s>>,
}

/// How a file's `.gitattributes` numcopies is found.
type NumcopiesLookup<'s> = Box<dyn Fn(&[u8]) -> Option<i64> + 's>;

/// The global logs a [`StateContext`] answers from (trust, numcopies,
/// groups, maxsizes, `preferreddir=` of remotes, clusters), read once so
/// that many contexts (one per file, say) can share them.
#[derive(Debug, Clone)]
pub struct GlobalLogs {
    mem: MemoryContext,
    clusters: BTreeMap<Uuid, BTreeSet<Vec<u8>>>,
}

impl GlobalLogs {
    /// Reads them. `here` is this repository's UUID; `config` is the git
    /// config, whose `remote.NAME.annex-trustlevel` overrides `trust.log`
    /// (see [`crate::trust`]).
    pub fn read(
        state: &State,
        here: Option<Uuid>,
        config: &AnnexConfig,
    ) -> Result<GlobalLogs, BranchError> {
        let mut mem = MemoryContext {
            here,
            trust: state.trust(config)?.into_iter().collect(),
            numcopies: state.numcopies()?,
            ..MemoryContext::default()
        };
        mem.set_groups(state.groups()?);
        for (u, size) in state.maxsizes()? {
            if let Ok(s) = u64::try_from(size) {
                mem.max_sizes.insert(u, s);
            }
        }
        for (u, cfg) in state.remotes()? {
            if let Some(d) = cfg.get(b"preferreddir".as_slice()) {
                mem.preferred_dirs.insert(u, d.clone());
            }
        }
        Ok(GlobalLogs {
            mem,
            clusters: state.clusters()?,
        })
    }

    /// The groups of every repository.
    pub fn groups(&self) -> &BTreeMap<Uuid, BTreeSet<Vec<u8>>> {
        self.mem.groups()
    }
}

impl<'s> StateContext<'s> {
    /// Reads the global logs. `here` is this repository's UUID; `store`
    /// answers whether content is present here (none: never); `config` is
    /// the git config (its remotes' trust levels override `trust.log`).
    pub fn new(
        state: &'s State,
        here: Option<Uuid>,
        store: Option<ObjectStore>,
        config: &AnnexConfig,
    ) -> Result<StateContext<'s>, BranchError> {
        Ok(StateContext::with_globals(
            state,
            store,
            &GlobalLogs::read(state, here, config)?,
        ))
    }

    /// A context over global logs already read (nothing is read now; each
    /// key's logs are read when first asked, as with [`StateContext::new`]).
    pub fn with_globals(
        state: &'s State,
        store: Option<ObjectStore>,
        globals: &GlobalLogs,
    ) -> StateContext<'s> {
        StateContext {
            state,
            store,
            mem: globals.mem.clone(),
            clusters: globals.clusters.clone(),
            locations: RefCell::default(),
            metadata: RefCell::default(),
            urls: RefCell::default(),
            file_numcopies: None,
        }
    }

    /// Sets repository sizes (for the balancing terms).
    pub fn set_repo_sizes(&mut self, sizes: impl IntoIterator<Item = (Uuid, u64)>) {
        self.mem.repo_sizes = sizes.into_iter().collect();
    }

    /// Sets the unused keys (`unused` term).
    pub fn set_unused(&mut self, keys: impl IntoIterator<Item = Key>) {
        self.mem.unused = keys.into_iter().collect();
    }

    /// Sets `--rebalance` and `annex.fullybalancedthreshhold`.
    pub fn set_balancing(&mut self, rebalance: bool, threshold: Option<f64>) {
        self.mem.rebalance = rebalance;
        self.mem.threshold = threshold;
    }

    /// Sets how a file's `.gitattributes` numcopies is found.
    pub fn set_file_numcopies(&mut self, f: impl Fn(&[u8]) -> Option<i64> + 's) {
        self.file_numcopies = Some(Box::new(f));
    }

    /// The groups of every repository.
    pub fn groups(&self) -> &BTreeMap<Uuid, BTreeSet<Vec<u8>>> {
        self.mem.groups()
    }

    fn cached<T, R>(
        cache: &RefCell<FastMap<Key, T>>,
        key: &Key,
        load: impl FnOnce() -> Result<T, BranchError>,
        f: impl FnOnce(&T) -> R,
    ) -> Result<R, BranchError> {
        if let Some(v) = cache.borrow().get(key) {
            return Ok(f(v));
        }
        let v = load()?;
        let r = f(&v);
        cache.borrow_mut().insert(key.clone(), v);
        Ok(r)
    }
}

impl MatchContext for StateContext<'_> {
    type Error = BranchError;

    fn here(&self) -> Option<&Uuid> {
        self.mem.here.as_ref()
    }
    fn trust(&self, uuid: &Uuid) -> TrustLevel {
        self.mem.trust(uuid)
    }
    fn in_group(&self, uuid: &Uuid, group: &[u8]) -> bool {
        self.mem.in_group(uuid, group)
    }
    fn group_members(&self, group: &[u8]) -> Option<&BTreeSet<Uuid>> {
        self.mem.group_members(group)
    }
    fn with_locations<R>(&self, key: &Key, f: impl FnOnce(&[Uuid]) -> R) -> Result<R, BranchError> {
        Self::cached(
            &self.locations,
            key,
            || {
                let mut locs = self.state.whereis(key)?;
                // Clusters whose nodes have the key count as locations too.
                let mut extra = Vec::new();
                for (cluster, nodes) in &self.clusters {
                    if locs.iter().any(|u| nodes.contains(u.as_str().as_bytes()))
                        && !locs.contains(cluster)
                    {
                        extra.push(cluster.clone());
                    }
                }
                extra.append(&mut locs);
                Ok(extra)
            },
            |v| f(v),
        )
    }
    fn with_metadata<R>(
        &self,
        key: &Key,
        f: impl FnOnce(&MetaData) -> R,
    ) -> Result<R, BranchError> {
        Self::cached(
            &self.metadata,
            key,
            || {
                let content = self.state.branch().get(&key_log_path(key, ".log.met"))?;
                Ok(logs::metadata::current_with_lastchanged(
                    &logs::metadata::parse(&content),
                ))
            },
            f,
        )
    }
    fn with_urls<R>(&self, key: &Key, f: impl FnOnce(&[Vec<u8>]) -> R) -> Result<R, BranchError> {
        Self::cached(&self.urls, key, || self.state.urls(key), |v| f(v))
    }
    fn has_content(&self, key: &Key) -> Result<bool, BranchError> {
        Ok(self.store.as_ref().is_some_and(|s| s.has(key)))
    }
    fn content_mime(&self, key: &Key) -> Option<crate::mime::Mime> {
        let path = self.store.as_ref()?.find(key)?;
        crate::mime::detect(&path)
    }
    fn is_unused(&self, key: &Key) -> Result<bool, BranchError> {
        Ok(self.mem.unused.contains(key))
    }
    fn numcopies(&self, file: Option<&[u8]>) -> Result<i64, BranchError> {
        if let (Some(f), Some(lookup)) = (file, &self.file_numcopies)
            && let Some(n) = lookup(f)
        {
            return Ok(n);
        }
        Ok(self.mem.numcopies.unwrap_or(1))
    }
    fn preferred_dir(&self, repo: Option<&Uuid>) -> &[u8] {
        self.mem.preferred_dir(repo)
    }
    fn max_size(&self, uuid: &Uuid) -> Option<u64> {
        self.mem.max_size(uuid)
    }
    fn repo_size(&self, uuid: &Uuid) -> Option<u64> {
        self.mem.repo_size(uuid)
    }
    fn rebalance(&self) -> bool {
        self.mem.rebalance
    }
    fn fully_balanced_threshold(&self) -> f64 {
        self.mem.fully_balanced_threshold()
    }
}
