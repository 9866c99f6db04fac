//! What `git annex info` computes, as plain values: the counts and sizes
//! of keys (here, in the work tree, in a directory, in a repository by its
//! location logs), the repositories by trust level, the size of every
//! repository, stale content (temporary, bad and unused keys), a remote's
//! and a file's facts, the bloom filter `unused` would build. Showing them
//! (git-annex's words, `--json`, `--bytes`, the size units) is the
//! caller's part.
//!
//! Everything streams: the work tree's index, the branch's location logs
//! and the object directory are read one entry at a time, and only the
//! totals are kept. The matching options ([`Filter`]) select the keys
//! counted, as git-annex's do.
//!
//! ```no_run
//! use std::collections::BTreeMap;
//! use annex_ops::info::Statistics;
//! use annex_ops::session::{OpenOptions, Session};
//! let (session, _) = Session::open(&OpenOptions::new(".".as_ref()))?;
//! let trust = session.state.trust(&session.config)?;
//! let stats = Statistics::new(&session, None, &trust)?;
//! let (files, present) = stats.working_tree(&[], |_| Ok(()))?;
//! println!("{} annexed files, {} present", files.count, present.count);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use annex_core::branch::{BranchError, Snapshot};
use annex_core::config::RemoteConfig;
use annex_core::key::Key;
use annex_core::logs::trust::TrustLevel;
use annex_core::sizes::SizesError;
use annex_core::uuid::Uuid;
use annex_core::worktree::WorkTreeError;

use crate::matching::{Filter, MatchingError, file_passes};
use crate::session::Session;

/// Why a statistic could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum InfoError {
    /// The `git-annex` branch could not be read.
    #[error(transparent)]
    Branch(#[from] BranchError),
    /// The work tree (its index) could not be read.
    #[error(transparent)]
    WorkTree(#[from] WorkTreeError),
    /// The matching options could not be evaluated.
    #[error(transparent)]
    Matching(#[from] MatchingError),
    /// A remote whose repository's UUID is not known yet.
    #[error("cannot determine uuid for {0} (perhaps you need to run \"git annex sync\"?)")]
    NoRemoteUuid(String),
}

/// Counts and sizes of a set of keys (one per file, or one per key).
#[derive(Default, Clone, Debug, PartialEq, Eq)]
pub struct KeyStats {
    /// How many.
    pub count: u64,
    /// Their total size (the keys of known size).
    pub size: u128,
    /// How many have no size in their key.
    pub unknown_size: u64,
    /// How many use each backend, by backend name.
    pub backends: BTreeMap<String, u64>,
}

impl KeyStats {
    /// Counts one more key.
    pub fn add(&mut self, key: &Key) {
        self.count += 1;
        match key.size() {
            Some(s) => self.size += u128::from(s),
            None => self.unknown_size += 1,
        }
        *self
            .backends
            .entry(String::from_utf8_lossy(key.backend_name()).into_owned())
            .or_default() += 1;
    }
}

/// Available disk space for the annex (`available local disk space`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskSpace {
    /// Bytes free beyond the reserve.
    pub free: u128,
    /// `annex.diskreserve`: bytes kept free.
    pub reserved: u128,
}

impl DiskSpace {
    /// From the bytes the file system has available to us and the reserve.
    pub fn new(available: u128, reserved: u128) -> DiskSpace {
        DiskSpace {
            free: available.saturating_sub(reserved),
            reserved,
        }
    }
}

/// A directory's statistics (`info DIR`).
#[derive(Default, Clone, Debug, PartialEq, Eq)]
pub struct DirectoryStats {
    /// The annexed files under it whose content is here.
    pub present: KeyStats,
    /// The annexed files under it.
    pub files: KeyStats,
    /// Slow statistics (`None` when not asked for).
    pub copies: Option<CopiesStats>,
}

/// Where the files of a directory are (the slow part of `info DIR`).
#[derive(Default, Clone, Debug, PartialEq, Eq)]
pub struct CopiesStats {
    /// Files by copies above (or below, negative) numcopies, untrusted
    /// copies not counted.
    pub numcopies_variance: BTreeMap<i64, u64>,
    /// Each repository holding some of the files (dead ones left out),
    /// with the total size it holds.
    pub repositories: BTreeMap<Uuid, u128>,
}

/// A file's statistics (`info FILE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileStats {
    /// Its key's size.
    pub size: KeyStats,
    /// Whether its content is here.
    pub present: bool,
}

/// A git remote's facts (`info REMOTE`).
#[derive(Clone, Debug, PartialEq)]
pub struct RemoteStats {
    /// Its repository's UUID.
    pub uuid: Uuid,
    /// Its name.
    pub name: String,
    /// Its cost.
    pub cost: f64,
    /// Whether it can be reached (a local path that exists, or not local).
    pub available: bool,
    /// Its URL as git-annex shows it (a relative path with `./`).
    pub location: String,
    /// When its tracking refs last changed, in seconds since the epoch;
    /// `None`: never synced.
    pub last_synced: Option<i64>,
    /// Whether a proxy serves it (`remote.NAME.annex-proxied-by`, or a
    /// remote learned through a gateway).
    pub proxied: bool,
    /// Whether it is a cluster.
    pub cluster: bool,
    /// The remotes of the clusters it is a gateway to (`NAME-CLUSTER`).
    pub gateway_to: Vec<String>,
    /// The remotes of the other repositories it proxies (`NAME-PROXIED`).
    pub proxying: Vec<String>,
}

/// The bloom filter `git annex unused` would build for the keys here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BloomStats {
    /// The bytes of its two filters.
    pub bytes: u128,
    /// `annex.bloomcapacity`.
    pub capacity: u64,
    /// The keys it would hold.
    pub keys: u64,
}

impl BloomStats {
    /// Whether the keys fill the capacity.
    pub fn too_small(&self) -> bool {
        self.keys >= self.capacity
    }

    /// How full one filter would be, in percent.
    pub fn percent_full(&self) -> f64 {
        self.keys as f64 * 100.0 / self.capacity as f64
    }
}

/// The statistics of one repository, computed on demand: the session, the
/// matching options selecting the keys, and the trust levels in force.
pub struct Statistics<'a> {
    session: &'a Session,
    snap: Snapshot<'a>,
    filter: Option<&'a Filter<'a>>,
    trust: &'a BTreeMap<Uuid, TrustLevel>,
}

impl std::fmt::Debug for Statistics<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statistics")
            .field("session", &self.session)
            .field("filter", &self.filter)
            .finish_non_exhaustive()
    }
}

impl<'a> Statistics<'a> {
    /// Statistics of `session`'s repository, counting the keys `filter`
    /// lets through (all when `None`), with `trust` the trust levels in
    /// force (`trust.log` with the remotes' `annex-trustlevel` applied).
    pub fn new(
        session: &'a Session,
        filter: Option<&'a Filter<'a>>,
        trust: &'a BTreeMap<Uuid, TrustLevel>,
    ) -> Result<Statistics<'a>, InfoError> {
        Ok(Statistics {
            session,
            snap: Snapshot::new(session.state.branch())?,
            filter,
            trust,
        })
    }

    /// A repository's trust level (semitrusted unless set).
    pub fn trust_of(&self, u: &Uuid) -> TrustLevel {
        self.trust
            .get(u)
            .copied()
            .unwrap_or(TrustLevel::SemiTrusted)
    }

    /// The repositories of `known` at a trust level, in UUID order, once
    /// each.
    pub fn repositories_at<'u>(
        &self,
        level: TrustLevel,
        known: impl IntoIterator<Item = &'u Uuid>,
    ) -> Vec<Uuid> {
        let mut all: Vec<&Uuid> = known.into_iter().collect();
        all.sort();
        all.dedup();
        all.into_iter()
            .filter(|u| self.trust_of(u) == level)
            .cloned()
            .collect()
    }

    /// Whether `key` passes the matching options (those that look at
    /// keys only; a caller refuses the others before asking).
    fn key_passes(&self, key: &Key) -> bool {
        self.filter
            .is_none_or(|f| f.matches_key(key).unwrap_or(false))
    }

    /// The keys whose content is here (`local annex keys`, `local annex
    /// size`).
    pub fn present_keys(&self) -> KeyStats {
        let mut d = KeyStats::default();
        let store = &self.session.store;
        for_each_file(&store.objects_dir(), 3, &mut |path| {
            let Some(name) = path.file_name() else {
                return;
            };
            let Some(key) = annex_core::objects::file_key(name.as_bytes()) else {
                return;
            };
            if store.has(&key) && self.key_passes(&key) {
                d.add(&key);
            }
        });
        d
    }

    /// The annexed files of the work tree under `specs` (pathspecs from
    /// the top; all files when empty) that pass the matching options: all
    /// of them, and those whose content is here. `each` sees every file's
    /// key as it comes (nothing is collected). A bare repository has no
    /// files.
    pub fn working_tree(
        &self,
        specs: &[Vec<u8>],
        mut each: impl FnMut(&Key) -> Result<(), InfoError>,
    ) -> Result<(KeyStats, KeyStats), InfoError> {
        let mut all = KeyStats::default();
        let mut present = KeyStats::default();
        let Some(wt) = self.session.worktree.as_ref() else {
            return Ok((all, present));
        };
        wt.for_each_annexed_file(specs, |_, f| -> Result<(), InfoError> {
            if !file_passes(self.filter, &f.path, &f.key)? {
                return Ok(());
            }
            all.add(&f.key);
            if self.session.store.has(&f.key) {
                present.add(&f.key);
            }
            each(&f.key)
        })?;
        Ok((all, present))
    }

    /// A directory's statistics (`spec`: its pathspec from the top of the
    /// work tree); `slow` adds where its files are ([`CopiesStats`]).
    pub fn directory(&self, spec: Vec<u8>, slow: bool) -> Result<DirectoryStats, InfoError> {
        let numcopies = match annex_core::forced::numcopies() {
            Some(n) => n,
            None => self.session.state.numcopies()?.unwrap_or(1),
        };
        let mut copies = CopiesStats::default();
        let (files, present) = self.working_tree(&[spec], |key| {
            if slow {
                let locs = self.locations(key)?;
                let have = locs
                    .iter()
                    .filter(|u| self.trust_of(u) != TrustLevel::Untrusted)
                    .count() as i64;
                *copies
                    .numcopies_variance
                    .entry(have - numcopies)
                    .or_default() += 1;
                for u in locs {
                    *copies.repositories.entry(u).or_default() +=
                        u128::from(key.size().unwrap_or(0));
                }
            }
            Ok(())
        })?;
        Ok(DirectoryStats {
            present,
            files,
            copies: slow.then_some(copies),
        })
    }

    /// A key's locations as git-annex counts them: present in the
    /// location log, dead repositories left out.
    pub fn locations(&self, key: &Key) -> Result<Vec<Uuid>, InfoError> {
        Ok(self
            .snap
            .locations(key)?
            .into_iter()
            .filter(|u| self.trust_of(u) != TrustLevel::Dead)
            .collect())
    }

    /// A file's statistics.
    pub fn file(&self, key: &Key) -> FileStats {
        let mut size = KeyStats::default();
        size.add(key);
        FileStats {
            size,
            present: self.session.store.has(key),
        }
    }

    /// Every location log of the branch (`aaa/bbb/KEY.log`), one at a
    /// time: its key and the repositories it says have the content.
    fn for_each_location_log(&self, mut f: impl FnMut(Key, &[Uuid])) -> Result<(), InfoError> {
        self.snap.branch().for_each_file(
            |p| p.ends_with(b".log") && p.iter().filter(|&&b| b == b'/').count() == 2,
            |path, content| {
                let name = &path[..path.len() - 4];
                let file = name.rsplit(|&b| b == b'/').next().unwrap_or(name);
                if let Some(key) = annex_core::objects::file_key(file) {
                    let present =
                        annex_core::logs::location::LocationLog::parse(content).present_uuids();
                    f(key, &present);
                }
            },
        )?;
        Ok(())
    }

    /// The keys the location logs say repository `u` has (`remote annex
    /// keys`, `remote annex size`) that pass the matching options.
    pub fn repository_keys(&self, u: &Uuid) -> Result<KeyStats, InfoError> {
        let mut d = KeyStats::default();
        // A cluster has what any of its (living) nodes has, as git-annex
        // reads location logs.
        let nodes: Vec<Uuid> = if annex_core::logs::cluster::is_cluster_uuid(u.as_str().as_bytes())
        {
            let dead = self
                .session
                .state
                .trust(&self.session.config)?
                .into_iter()
                .filter(|(_, t)| *t == annex_core::logs::trust::TrustLevel::Dead)
                .map(|(u, _)| u)
                .collect();
            annex_core::logs::cluster::without_dead_nodes(self.session.state.clusters()?, &dead)
                .remove(u)
                .unwrap_or_default()
                .iter()
                .filter_map(|n| Uuid::parse(n).ok())
                .collect()
        } else {
            Vec::new()
        };
        self.for_each_location_log(|key, present| {
            let has = present.contains(u) || nodes.iter().any(|n| present.contains(n));
            if has && self.key_passes(&key) {
                d.add(&key);
            }
        })?;
        Ok(d)
    }

    /// The size of every repository that is not dead (those holding
    /// nothing left out): from the repository sizes database as `maxsize`
    /// reads it (summed from the location logs where it cannot be used);
    /// with matching options, only the matching keys, summed from the
    /// location logs as git-annex does.
    pub fn repository_sizes(&self) -> Result<BTreeMap<Uuid, u128>, InfoError> {
        let sizes: BTreeMap<Uuid, u128> = if self.filter.is_some() {
            let mut sizes: BTreeMap<Uuid, u128> = BTreeMap::new();
            self.for_each_location_log(|key, present| {
                if let Some(size) = key.size()
                    && self.key_passes(&key)
                {
                    for u in present {
                        *sizes.entry(u.clone()).or_default() += u128::from(size);
                    }
                }
            })?;
            sizes
        } else {
            match self.database_sizes() {
                Ok(sizes) => sizes.into_iter().map(|(u, s)| (u, u128::from(s))).collect(),
                Err(_) => {
                    let mut sizes: BTreeMap<Uuid, u128> = BTreeMap::new();
                    self.for_each_location_log(|key, present| {
                        let size = u128::from(key.size().unwrap_or(0));
                        for u in present {
                            *sizes.entry(u.clone()).or_default() += size;
                        }
                    })?;
                    sizes
                }
            }
        };
        Ok(sizes
            .into_iter()
            .filter(|(u, s)| *s > 0 && self.trust_of(u) != TrustLevel::Dead)
            .collect())
    }

    /// The repository sizes database, brought up to the branch.
    fn database_sizes(&self) -> Result<BTreeMap<Uuid, u64>, SizesError> {
        annex_core::sizes::RepoSizes::open(&self.session.repo.annex_dir())
            .and_then(|db| db.sizes(self.session.state.branch()))
    }

    /// The size of `.git/annex/tmp` (partly transferred keys).
    pub fn temporary_size(&self) -> u128 {
        dir_keys_size(&self.session.repo.annex_dir().join("tmp"))
    }

    /// The size of `.git/annex/bad` (keys fsck moved aside).
    pub fn bad_keys_size(&self) -> u128 {
        dir_keys_size(&self.session.repo.annex_dir().join("bad"))
    }

    /// The size of the keys `git annex unused` listed (`.git/annex/unused`)
    /// whose content is still here.
    pub fn unused_size(&self) -> u128 {
        let Ok(log) = std::fs::read(self.session.repo.annex_dir().join("unused")) else {
            return 0;
        };
        let mut total = 0;
        for line in log.split(|&b| b == b'\n') {
            let Some(k) = line.split(|&b| b == b' ').nth(1) else {
                continue;
            };
            if let Ok(key) = Key::parse(k)
                && let Some(p) = self.session.store.find(&key)
            {
                total += u128::from(std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
            }
        }
        total
    }

    /// The bloom filter `unused` would build (`annex.bloomcapacity`,
    /// default 500000, at the default accuracy) for `keys` keys here.
    pub fn bloom(&self, keys: u64) -> BloomStats {
        let capacity = self
            .session
            .config
            .get_int("annex.bloomcapacity")
            .filter(|c| *c > 0)
            .unwrap_or(500_000) as u64;
        // The bits of one filter at the default settings; two filters.
        let bits: u128 = 1 << 27;
        BloomStats {
            bytes: bits * 2 / 8,
            capacity,
            keys,
        }
    }

    /// A git remote's facts.
    pub fn remote(&self, r: &RemoteConfig) -> Result<RemoteStats, InfoError> {
        let Some(uuid) = r.uuid.clone() else {
            return Err(InfoError::NoRemoteUuid(r.name.clone()));
        };
        let available = r
            .local_path(&self.session.base_dir())
            .is_none_or(|p| p.exists());
        let url = r.url.clone().unwrap_or_default();
        let location = if !url.is_empty()
            && !url.starts_with('/')
            && !url.contains("://")
            && !url.contains(':')
        {
            format!("./{url}")
        } else {
            url
        };
        let proxied = self
            .session
            .config
            .get(&format!("remote.{}.annex-proxied-by", r.name))
            .is_some()
            || self.proxied_remotes().iter().any(|p| p.name == r.name);
        let is_cluster = annex_core::logs::cluster::is_cluster_uuid(uuid.as_str().as_bytes());
        let mut gateway_to = Vec::new();
        let mut proxying = Vec::new();
        if let Some(ps) = self.session.state.proxies()?.get(&uuid) {
            for p in ps {
                let name =
                    annex_proxy::proxies::proxied_name(&r.name, &String::from_utf8_lossy(&p.name));
                if annex_core::logs::cluster::is_cluster_uuid(&p.uuid) {
                    gateway_to.push(name);
                } else {
                    proxying.push(name);
                }
            }
        }
        // git-annex shows `host:path` as an ssh URL.
        let location = match annex_core::remote::ssh::SshUrl::parse(&location) {
            Some(u) if !location.contains("://") => {
                let path = if u.path.starts_with('/') {
                    u.path.clone()
                } else {
                    format!("/~/{}", u.path)
                };
                format!("ssh://{}{path}", u.host)
            }
            _ => location,
        };
        Ok(RemoteStats {
            uuid,
            name: r.name.clone(),
            cost: r.cost(),
            available,
            location,
            last_synced: self.last_synced(&r.name),
            proxied,
            cluster: is_cluster,
            gateway_to,
            proxying,
        })
    }

    /// The remotes learned through gateways, as configured remotes (the
    /// gateway's URL, their own UUID and cost).
    pub fn proxied_remotes(&self) -> Vec<RemoteConfig> {
        let (Ok(proxies), Ok(clusters)) =
            (self.session.state.proxies(), self.session.state.clusters())
        else {
            return Vec::new();
        };
        let config = &self.session.config;
        let configured = annex_proxy::proxies::configured_remotes(config, &self.session.base_dir());
        annex_proxy::proxies::proxied_remotes(config, &configured, &proxies, &clusters)
            .into_iter()
            .map(|p| RemoteConfig {
                name: p.name,
                url: p.url,
                uuid: p.uuid,
                configured_cost: Some(p.cost),
                ignore: false,
                readonly: false,
                sync: p.sync,
            })
            .collect()
    }

    /// The newest modification time of the remote's loose tracking refs.
    fn last_synced(&self, remote: &str) -> Option<i64> {
        let dir = self
            .session
            .repo
            .git_dir()
            .join("refs/remotes")
            .join(remote);
        let mut newest: Option<i64> = None;
        for_each_file(&dir, usize::MAX, &mut |p| {
            if let Ok(m) = std::fs::metadata(p)
                && let Ok(t) = m.modified()
                && let Ok(d) = t.duration_since(std::time::UNIX_EPOCH)
            {
                let s = d.as_secs() as i64;
                newest = Some(newest.map_or(s, |n| n.max(s)));
            }
        });
        newest
    }
}

/// Calls `f` with each regular file under `dir`, at most `depth` levels
/// down (a directory that cannot be read is skipped).
fn for_each_file(dir: &Path, depth: usize, f: &mut dyn FnMut(&Path)) {
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    while let Some((d, level)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() && level < depth => stack.push((p, level + 1)),
                Ok(t) if t.is_file() => f(&p),
                _ => {}
            }
        }
    }
}

/// The total size of the files in a directory of keys
/// (`.git/annex/tmp`, `.git/annex/bad`) whose names are keys.
fn dir_keys_size(dir: &Path) -> u128 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut total = 0;
    for e in rd.flatten() {
        let name = e.file_name();
        if annex_core::objects::file_key(OsStr::as_bytes(&name)).is_some()
            && let Ok(m) = e.metadata()
            && m.is_file()
        {
            total += u128::from(m.len());
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_stats_count_sizes_and_backends() {
        let mut d = KeyStats::default();
        for k in [&b"SHA256E-s10--a.txt"[..], b"SHA256E-s5--b", b"WORM-m1--c"] {
            d.add(&Key::parse(k).unwrap_or_else(|e| panic!("{e}")));
        }
        assert_eq!(d.count, 3);
        assert_eq!(d.size, 15);
        assert_eq!(d.unknown_size, 1);
        assert_eq!(
            d.backends.into_iter().collect::<Vec<_>>(),
            vec![("SHA256E".to_owned(), 2), ("WORM".to_owned(), 1)]
        );
    }

    #[test]
    fn disk_space_keeps_the_reserve() {
        assert_eq!(DiskSpace::new(500, 100).free, 400);
        assert_eq!(DiskSpace::new(50, 100).free, 0);
    }

    #[test]
    fn dir_keys_size_counts_files_named_as_keys() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("SHA256E-s3--abc"), b"abc")
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("not a key"), b"xxxxx").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(dir_keys_size(dir.path()), 3);
        assert_eq!(dir_keys_size(&dir.path().join("missing")), 0);
    }
}
