//! A repository's git-annex state, typed: what the logs of the `git-annex`
//! branch say, read with the journal laid over the branch, and changed
//! through the journal as git-annex changes it.
//!
//! [`State`] joins the [`branch`](crate::branch) (bytes, journal, commits)
//! with the [`logs`](mod@crate::logs) (typed records, pure setters) and a
//! [`Clock`] (`GIT_ANNEX_VECTOR_CLOCK` or the system time). Changes land in
//! the journal; [`State::commit`] records them in the branch.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use annex_core::{repo::Repo, state::State, logs::trust::TrustLevel};
//! let repo = Repo::open(std::path::Path::new("."))?;
//! let state = State::new(repo.branch()?);
//! for (uuid, description) in state.descriptions()? {
//!     println!("{uuid} {}", String::from_utf8_lossy(&description));
//! }
//! if let Some(me) = repo.uuid() {
//!     state.set_trust(me, TrustLevel::Trusted)?;
//! }
//! state.commit()?;
//! # Ok(()) }
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::branch::{Branch, BranchError};
use crate::key::Key;
use crate::logs;
use crate::logs::metadata::MetaData;
use crate::logs::presence::Status;
use crate::logs::trust::TrustLevel;
use crate::timestamp::Clock;
use crate::uuid::Uuid;

/// The branch paths of the top-level logs.
pub mod paths {
    /// Repository descriptions.
    pub const UUID: &[u8] = b"uuid.log";
    /// Special remote configurations.
    pub const REMOTE: &[u8] = b"remote.log";
    /// Trust levels.
    pub const TRUST: &[u8] = b"trust.log";
    /// Group membership.
    pub const GROUP: &[u8] = b"group.log";
    /// Preferred content expressions.
    pub const PREFERRED_CONTENT: &[u8] = b"preferred-content.log";
    /// Required content expressions.
    pub const REQUIRED_CONTENT: &[u8] = b"required-content.log";
    /// Group preferred content expressions (`groupwanted`).
    pub const GROUP_PREFERRED_CONTENT: &[u8] = b"group-preferred-content.log";
    /// The numcopies setting.
    pub const NUMCOPIES: &[u8] = b"numcopies.log";
    /// The mincopies setting.
    pub const MINCOPIES: &[u8] = b"mincopies.log";
    /// Repository-wide configuration (`git annex config`).
    pub const CONFIG: &[u8] = b"config.log";
    /// Maximum sizes of repositories.
    pub const MAXSIZE: &[u8] = b"maxsize.log";
    /// Proxies.
    pub const PROXY: &[u8] = b"proxy.log";
    /// Clusters and their nodes.
    pub const CLUSTER: &[u8] = b"cluster.log";
}

pub use crate::logs::key_log_path;

/// A special remote's configuration: field name to value.
pub type RemoteConfig = BTreeMap<Vec<u8>, Vec<u8>>;

/// Typed access to a repository's git-annex state.
pub struct State {
    branch: Branch,
    clock: Clock,
}

impl State {
    /// State over a branch, with the clock the environment gives
    /// (`GIT_ANNEX_VECTOR_CLOCK`, else the system time).
    pub fn new(branch: Branch) -> State {
        State::with_clock(branch, Clock::from_env())
    }

    /// State over a branch with a given clock.
    pub fn with_clock(branch: Branch, clock: Clock) -> State {
        State { branch, clock }
    }

    /// The branch underneath.
    pub fn branch(&self) -> &Branch {
        &self.branch
    }

    /// Records the journal's changes in the `git-annex` branch. Returns the
    /// new commit, or `None` when there was nothing to commit.
    pub fn commit(&self) -> Result<Option<gix::ObjectId>, BranchError> {
        self.branch.commit(&self.branch.commit_message())
    }

    /// Forgets the `git-annex` branch's git history (`git annex forget`):
    /// the branch starts again from one commit holding what it knows, and
    /// `transitions.log` says so, with this clock.
    ///
    /// With `drop_dead` (`--drop-dead`), what every log says of dead
    /// repositories is removed too (the `ForgetDeadRemotes` transition).
    pub fn forget_history(&self, drop_dead: bool) -> Result<gix::ObjectId, BranchError> {
        let clock = self.clock.candidate();
        let mut lines = Vec::new();
        for name in ["ForgetGitHistory", "ForgetDeadRemotes"] {
            if name == "ForgetDeadRemotes" && !drop_dead {
                continue;
            }
            let mut line = format!("{name} ").into_bytes();
            clock.write_to(&mut line);
            lines.push(line);
        }
        self.branch.forget_history(&lines)
    }

    /// Changes a log through the journal. `regarding` names the
    /// repositories the change is about: when one of them is private
    /// (`annex.private`, `remote.NAME.annex-private`), the change goes to the
    /// private journal and never reaches the branch, as git-annex does.
    fn change(
        &self,
        regarding: &[&Uuid],
        path: &[u8],
        f: impl FnOnce(&[u8]) -> Vec<u8>,
    ) -> Result<(), BranchError> {
        let regarding: Vec<Uuid> = regarding.iter().map(|u| (*u).clone()).collect();
        self.branch.change_regarding(&regarding, path, f)
    }

    /// Repository descriptions, by UUID (`uuid.log`).
    pub fn descriptions(&self) -> Result<BTreeMap<Uuid, Vec<u8>>, BranchError> {
        Ok(logs::uuid::parse(&self.branch.get(paths::UUID)?).descriptions())
    }

    /// Sets a repository's description (`git annex describe`).
    pub fn set_description(&self, uuid: &Uuid, description: &[u8]) -> Result<(), BranchError> {
        let t = self.clock.candidate();
        self.change(&[uuid], paths::UUID, |old| {
            logs::uuid::set_description(old, uuid, description, t)
        })
    }

    /// Trust levels set in `trust.log` only, by UUID; a repository not
    /// listed is semitrusted. Decisions use [`State::trust`], which lays
    /// the git config's levels over these.
    pub fn trust_levels(&self) -> Result<BTreeMap<Uuid, TrustLevel>, BranchError> {
        Ok(logs::trust::parse(&self.branch.get(paths::TRUST)?).current())
    }

    /// The trust level of each repository as every decision must see it:
    /// `trust.log` overridden by `remote.NAME.annex-trustlevel` in
    /// `config` (see [`crate::trust`]), then by the levels forced on the
    /// command line ([`crate::forced`]); a repository not listed is
    /// semitrusted.
    pub fn trust(
        &self,
        config: &crate::config::AnnexConfig,
    ) -> Result<BTreeMap<Uuid, TrustLevel>, BranchError> {
        let mut levels = crate::trust::levels(self.trust_levels()?, config);
        if !crate::forced::get().trust.is_empty() {
            crate::forced::apply_trust(&mut levels, config, &self.descriptions()?);
        }
        Ok(levels)
    }

    /// Sets a repository's trust level (`trust`, `untrust`, `semitrust`, `dead`).
    pub fn set_trust(&self, uuid: &Uuid, level: TrustLevel) -> Result<(), BranchError> {
        let t = self.clock.candidate();
        self.change(&[uuid], paths::TRUST, |old| {
            logs::trust::set(old, uuid, level, t)
        })
    }

    /// Groups of each repository (`group.log`).
    pub fn groups(&self) -> Result<BTreeMap<Uuid, BTreeSet<Vec<u8>>>, BranchError> {
        Ok(logs::group::parse(&self.branch.get(paths::GROUP)?).current())
    }

    /// Sets the whole group list of a repository (`group`/`ungroup` change one
    /// group of it: read [`State::groups`], edit, set).
    pub fn set_groups(&self, uuid: &Uuid, groups: BTreeSet<Vec<u8>>) -> Result<(), BranchError> {
        let t = self.clock.candidate();
        self.change(&[uuid], paths::GROUP, |old| {
            logs::group::set(old, uuid, groups, t)
        })
    }

    /// Preferred content expressions by UUID (`wanted`).
    pub fn preferred_content(&self) -> Result<BTreeMap<Uuid, Vec<u8>>, BranchError> {
        let log = logs::preferred_content::parse(&self.branch.get(paths::PREFERRED_CONTENT)?);
        Ok(logs::preferred_content::current(&log))
    }

    /// Required content expressions by UUID (`required`).
    pub fn required_content(&self) -> Result<BTreeMap<Uuid, Vec<u8>>, BranchError> {
        let log = logs::preferred_content::parse(&self.branch.get(paths::REQUIRED_CONTENT)?);
        Ok(logs::preferred_content::current(&log))
    }

    /// Sets a repository's preferred content expression. The expression is
    /// stored as given; checking it is the preferred-content parser's job.
    pub fn set_preferred_content(&self, uuid: &Uuid, expr: &[u8]) -> Result<(), BranchError> {
        let t = self.clock.candidate();
        self.change(&[uuid], paths::PREFERRED_CONTENT, |old| {
            logs::preferred_content::set(old, uuid, expr, t)
        })
    }

    /// Sets a repository's required content expression.
    pub fn set_required_content(&self, uuid: &Uuid, expr: &[u8]) -> Result<(), BranchError> {
        let t = self.clock.candidate();
        self.change(&[uuid], paths::REQUIRED_CONTENT, |old| {
            logs::preferred_content::set(old, uuid, expr, t)
        })
    }

    /// Group preferred content expressions by group (`groupwanted`).
    pub fn group_preferred_content(&self) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, BranchError> {
        let content = self.branch.get(paths::GROUP_PREFERRED_CONTENT)?;
        let log = logs::preferred_content::parse_group(&content);
        Ok(logs::preferred_content::group_current(&log))
    }

    /// Sets a group's preferred content expression.
    pub fn set_group_preferred_content(
        &self,
        group: &[u8],
        expr: &[u8],
    ) -> Result<(), BranchError> {
        let t = self.clock.candidate();
        self.change(&[], paths::GROUP_PREFERRED_CONTENT, |old| {
            logs::preferred_content::set_group(old, group, expr, t)
        })
    }

    /// The numcopies setting, if one was made (`numcopies.log`).
    pub fn numcopies(&self) -> Result<Option<i64>, BranchError> {
        Ok(logs::numcopies::current(
            &self.branch.get(paths::NUMCOPIES)?,
        ))
    }

    /// Sets numcopies.
    pub fn set_numcopies(&self, n: i64) -> Result<(), BranchError> {
        let t = self.clock.candidate();
        self.change(&[], paths::NUMCOPIES, |old| logs::numcopies::set(old, n, t))
    }

    /// The mincopies setting, if one was made (`mincopies.log`).
    pub fn mincopies(&self) -> Result<Option<i64>, BranchError> {
        Ok(logs::numcopies::current(
            &self.branch.get(paths::MINCOPIES)?,
        ))
    }

    /// Sets mincopies.
    pub fn set_mincopies(&self, n: i64) -> Result<(), BranchError> {
        let t = self.clock.candidate();
        self.change(&[], paths::MINCOPIES, |old| logs::numcopies::set(old, n, t))
    }

    /// Repository-wide configuration set with `git annex config` (`config.log`).
    pub fn config(&self) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, BranchError> {
        Ok(logs::config::current(&logs::config::parse(
            &self.branch.get(paths::CONFIG)?,
        )))
    }

    /// Sets a repository-wide configuration value; an empty value unsets it,
    /// as `git annex config --unset` does.
    pub fn set_config(&self, name: &[u8], value: &[u8]) -> Result<(), BranchError> {
        let t = self.clock.candidate();
        self.change(&[], paths::CONFIG, |old| {
            logs::config::set(old, name, value, t)
        })
    }

    /// Maximum sizes in bytes, by UUID (`maxsize.log`).
    pub fn maxsizes(&self) -> Result<BTreeMap<Uuid, i128>, BranchError> {
        Ok(logs::maxsize::current(&logs::maxsize::parse(
            &self.branch.get(paths::MAXSIZE)?,
        )))
    }

    /// Sets a repository's maximum size in bytes.
    pub fn set_maxsize(&self, uuid: &Uuid, size: i128) -> Result<(), BranchError> {
        let t = self.clock.candidate();
        self.change(&[uuid], paths::MAXSIZE, |old| {
            logs::maxsize::set(old, uuid, size, t)
        })
    }

    /// Clusters and their nodes (`cluster.log`).
    pub fn clusters(&self) -> Result<BTreeMap<Uuid, BTreeSet<Vec<u8>>>, BranchError> {
        Ok(logs::cluster::clusters(&logs::cluster::parse(
            &self.branch.get(paths::CLUSTER)?,
        )))
    }

    /// The remotes each repository proxies for (`proxy.log`).
    pub fn proxies(&self) -> Result<BTreeMap<Uuid, BTreeSet<logs::proxy::Proxy>>, BranchError> {
        Ok(logs::proxy::current(&logs::proxy::parse(
            &self.branch.get(paths::PROXY)?,
        )))
    }

    /// Records the remotes a repository proxies for (`updateproxy`).
    pub fn set_proxies(
        &self,
        uuid: &Uuid,
        proxies: BTreeSet<logs::proxy::Proxy>,
    ) -> Result<(), BranchError> {
        let t = self.clock.candidate();
        self.change(&[uuid], paths::PROXY, |old| {
            logs::proxy::set(old, uuid, proxies, t)
        })
    }

    /// Records a cluster's nodes (`updatecluster`).
    pub fn set_cluster(&self, cluster: &Uuid, nodes: BTreeSet<Vec<u8>>) -> Result<(), BranchError> {
        let t = self.clock.candidate();
        self.change(&[cluster], paths::CLUSTER, |old| {
            logs::cluster::set(old, cluster, nodes, t)
        })
    }

    /// Special remote configurations by UUID (`remote.log`).
    pub fn remotes(&self) -> Result<BTreeMap<Uuid, RemoteConfig>, BranchError> {
        Ok(logs::remote::current(&logs::remote::parse(
            &self.branch.get(paths::REMOTE)?,
        )))
    }

    /// Sets a special remote's configuration in `remote.log` (the whole
    /// set of fields, as `initremote`/`enableremote` write it).
    pub fn set_remote_config(&self, uuid: &Uuid, config: RemoteConfig) -> Result<(), BranchError> {
        let t = self.clock.candidate();
        self.change(&[uuid], paths::REMOTE, |old| {
            logs::remote::set(old, uuid, config, t)
        })
    }

    /// A special remote's state for a key (`KEY.log.rmt`, set by an
    /// external special remote's `SETSTATE`).
    pub fn remote_state(&self, key: &Key, uuid: &Uuid) -> Result<Option<Vec<u8>>, BranchError> {
        use logs::format::{Bytes, Layout, MapLog};
        let content = self.branch.get(&key_log_path(key, ".log.rmt"))?;
        let log: MapLog<Uuid, Bytes> = MapLog::parse(Layout::New, &content);
        Ok(log.get(uuid).map(|e| e.value.0.clone()))
    }

    /// Sets a special remote's state for a key (`KEY.log.rmt`).
    pub fn set_remote_state(
        &self,
        key: &Key,
        uuid: &Uuid,
        value: &[u8],
    ) -> Result<(), BranchError> {
        use logs::format::{Bytes, Layout, MapLog};
        let t = self.clock.candidate();
        self.change(&[uuid], &key_log_path(key, ".log.rmt"), |old| {
            let mut log: MapLog<Uuid, Bytes> = MapLog::parse(Layout::New, old);
            log.set(uuid.clone(), Bytes(value.to_vec()), t);
            log.serialize()
        })
    }

    /// The UUIDs of the repositories the location log says have the key.
    pub fn whereis(&self, key: &Key) -> Result<Vec<Uuid>, BranchError> {
        let content = self.branch.get(&key_log_path(key, ".log"))?;
        Ok(logs::location::LocationLog::parse(&content).present_uuids())
    }

    /// Records that a repository has (or no longer has) a key's content.
    pub fn set_present(&self, key: &Key, uuid: &Uuid, present: bool) -> Result<(), BranchError> {
        let status = if present {
            Status::Present
        } else {
            Status::Missing
        };
        self.set_status(key, uuid, status)
    }

    /// Records a repository's status for a key in the location log
    /// (present, missing, or gone for good).
    pub fn set_status(&self, key: &Key, uuid: &Uuid, status: Status) -> Result<(), BranchError> {
        // A cluster is never logged as having content: its nodes are.
        if logs::cluster::is_cluster_uuid(uuid.as_str().as_bytes()) {
            return Ok(());
        }
        let t = self.clock.candidate();
        // The setter says `None` when the log already says so; then nothing
        // is journalled, as git-annex does.
        self.branch
            .change_opt(
                &key_log_path(key, ".log"),
                std::slice::from_ref(uuid),
                |old| logs::location::set(old, uuid, status, t),
            )
            .map(drop)
    }

    /// The URLs registered for a key (`KEY.log.web`).
    pub fn urls(&self, key: &Key) -> Result<Vec<Vec<u8>>, BranchError> {
        let content = self.branch.get(&key_log_path(key, ".log.web"))?;
        Ok(logs::web::urls(&logs::web::parse(&content)))
    }

    /// Registers (or unregisters) a URL for a key, as `registerurl` and
    /// `unregisterurl` do: the URL log changes, and the location log says
    /// the web has the content while at least one URL is registered.
    pub fn set_url(&self, key: &Key, url: &[u8], present: bool) -> Result<(), BranchError> {
        let t = self.clock.candidate();
        let status = if present {
            Status::Present
        } else {
            Status::Missing
        };
        self.change(&[], &key_log_path(key, ".log.web"), |old| {
            logs::web::set(old, url, status, t)
        })?;
        let web = Uuid::parse(crate::uuid::WEB_UUID.as_bytes()).expect("the web UUID is valid");
        let any_left = !self.urls(key)?.is_empty();
        self.set_present(key, &web, any_left)
    }

    /// A key's current metadata (`KEY.log.met`).
    pub fn metadata(&self, key: &Key) -> Result<MetaData, BranchError> {
        let content = self.branch.get(&key_log_path(key, ".log.met"))?;
        Ok(logs::metadata::current(&logs::metadata::parse(&content)))
    }

    /// A key's metadata as `git annex metadata` shows it: the current
    /// values with the `lastchanged` fields derived from the log's clocks.
    pub fn metadata_shown(&self, key: &Key) -> Result<MetaData, BranchError> {
        let content = self.branch.get(&key_log_path(key, ".log.met"))?;
        Ok(logs::metadata::current_with_lastchanged(
            &logs::metadata::parse(&content),
        ))
    }

    /// Applies metadata changes to a key (fields set or unset in `changes`).
    pub fn change_metadata(&self, key: &Key, changes: &MetaData) -> Result<(), BranchError> {
        let t = self.clock.candidate();
        self.branch
            .change_opt(&key_log_path(key, ".log.met"), &[], |old| {
                logs::metadata::add(old, changes, t)
            })
            .map(drop)
    }
}
