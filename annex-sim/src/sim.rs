//! The simulated network and its steps.
//!
//! A [`Sim`] holds what the reference's sim holds: the repositories (each a
//! UUID with its own view of where every key is, stamped with the
//! command's vector clock so views merge as `git-annex` branches do), their
//! connections, cluster nodes, the files (simulated test keys), trust,
//! groups, numcopies and mincopies, preferred and required content,
//! `groupwanted`, maxsizes, `--rebalance`, the random seed and the history
//! (the log [`crate::file::generate`] prints).
//!
//! Whether a repository wants a file, and whether a drop is safe, are
//! decided by the preferred-content engine of `annex_core::preferred`
//! (through [`SimContext`], a [`MatchContext`] over one repository's view:
//! its location knowledge and the repository sizes that follow from it, for
//! `balanced=`/`sizebalanced=` and maxsize) and by `annex_core::content`'s
//! [`DropCheck`], the same code `get --auto`, `drop --auto` and
//! `sync --content` run.
//!
//! A few behaviours are the reference sim's own and kept so both reach the
//! same result: a simulated repository never has content locally for
//! `present` (its object store is empty), a location change within one
//! command does not override an earlier one of the same command in the
//! same view, and copies are verified against each holder's own view.

use std::collections::{BTreeMap, BTreeSet};

use annex_core::content::{DropCheck, VerifiedCopy};
use annex_core::key::Key;
use annex_core::logs::metadata::{self, MetaData};
use annex_core::logs::trust::TrustLevel;
use annex_core::preferred::{self, Item, MatchContext};
use annex_core::uuid::Uuid;
use sha1::Digest as _;

use crate::file::{Action, Command, Connections};
use crate::rng::Seeded;

/// A failed sim command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The command failed, with the reference's message.
    #[error("{0}")]
    Failed(String),
    /// A visited command exited with this code (the sim exits with it).
    #[error("exited {0}")]
    Exit(i32),
}

fn fail<T>(m: impl Into<String>) -> Result<T, SimError> {
    Err(SimError::Failed(m.into()))
}

/// A location as one repository knows it: the vector clock of the command
/// that set it, and whether the content is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocationState {
    /// The command's clock.
    pub clock: i64,
    /// Present (or not).
    pub present: bool,
}

/// One repository of the sim and what it knows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepoState {
    /// Its name in the sim.
    pub name: String,
    /// A special remote (git-annex does not run in it).
    pub special: bool,
    /// Where it believes each key is.
    pub locations: BTreeMap<Key, BTreeMap<Uuid, LocationState>>,
    /// The sizes of repositories as it believes them (bytes).
    pub sizes: BTreeMap<Uuid, i128>,
}

impl RepoState {
    /// The repositories this view has the key in.
    pub fn holders(&self, k: &Key) -> Vec<Uuid> {
        self.locations.get(k).map_or_else(Vec::new, |m| {
            m.iter()
                .filter(|(_, l)| l.present)
                .map(|(u, _)| u.clone())
                .collect()
        })
    }

    /// Whether this view has the key in `u`.
    pub fn has(&self, k: &Key, u: &Uuid) -> bool {
        self.locations
            .get(k)
            .and_then(|m| m.get(u))
            .is_some_and(|l| l.present)
    }

    fn set(&mut self, present: bool, clock: i64, u: &Uuid, k: &Key) {
        if self.has(k, u) != present {
            let sz = i128::from(k.size().unwrap_or(0));
            *self.sizes.entry(u.clone()).or_insert(0) += if present { sz } else { -sz };
        }
        let m = self.locations.entry(k.clone()).or_default();
        let new = LocationState { clock, present };
        match m.get(u) {
            // The newer wins; on a tie what was there stays.
            Some(old) if new.clock <= old.clock => {}
            _ => {
                m.insert(u.clone(), new);
            }
        }
    }

    fn recalc_sizes(&mut self) {
        let mut sizes: BTreeMap<Uuid, i128> = BTreeMap::new();
        for (k, m) in &self.locations {
            for (u, l) in m {
                if l.present {
                    *sizes.entry(u.clone()).or_insert(0) += i128::from(k.size().unwrap_or(0));
                }
            }
        }
        self.sizes = sizes;
    }
}

/// An existing repository's configuration, for `use`.
#[derive(Debug, Clone, Default)]
pub struct RepoConfig {
    /// Its UUID.
    pub uuid: Option<Uuid>,
    /// A special remote.
    pub special: bool,
    /// Its groups.
    pub groups: BTreeSet<String>,
    /// Its trust level.
    pub trust: Option<TrustLevel>,
    /// Preferred content.
    pub wanted: Option<String>,
    /// Required content.
    pub required: Option<String>,
    /// `groupwanted` of its groups.
    pub group_wanted: BTreeMap<String, String>,
    /// Its maxsize.
    pub max_size: Option<u64>,
}

/// What the sim asks of the repository it runs in.
pub trait Host {
    /// Shows a note (the reference's long notes).
    fn note(&mut self, message: &str);
    /// An existing repository for `use` (by remote name, description,
    /// UUID, `here`), or why not.
    fn existing_repo(&mut self, what: &str) -> Result<RepoConfig, String>;
    /// The annexed files of the work tree (path from the top, key) that
    /// match a preferred content expression evaluated for repository
    /// `uuid`, for `addtree`.
    fn tree_files(&mut self, uuid: &Uuid, expr: &str) -> Result<Vec<(String, Key)>, String>;
    /// Runs `command` (a shell when empty) in a repository showing the
    /// sim's state as `repo` sees it; its exit code.
    fn visit(&mut self, sim: &Sim, repo: &Uuid, command: &[String]) -> Result<i32, String>;
}

/// A [`Host`] with no repository: notes are collected, `use`, `addtree`
/// and `visit` refused (tests, the checker, benchmarks).
#[derive(Debug, Default)]
pub struct Detached {
    /// The notes shown.
    pub notes: Vec<String>,
}

impl Host for Detached {
    fn note(&mut self, message: &str) {
        self.notes.push(message.to_string());
    }
    fn existing_repo(&mut self, _what: &str) -> Result<RepoConfig, String> {
        Err("there is no repository to use".into())
    }
    fn tree_files(&mut self, _: &Uuid, _: &str) -> Result<Vec<(String, Key)>, String> {
        Err("there is no work tree".into())
    }
    fn visit(&mut self, _: &Sim, _: &Uuid, _: &[String]) -> Result<i32, String> {
        Err("Simulated repository unavailable.".into())
    }
}

/// The simulation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sim {
    /// Repositories by name.
    pub repos: BTreeMap<String, Uuid>,
    /// Each repository's state.
    pub repo_state: BTreeMap<Uuid, RepoState>,
    /// Each repository's remotes (by name).
    pub connections: BTreeMap<Uuid, BTreeSet<String>>,
    /// Cluster node names.
    pub cluster_nodes: BTreeMap<String, Uuid>,
    /// The files and their keys.
    pub files: BTreeMap<String, Key>,
    /// The random seed.
    pub rng: i64,
    /// Trust levels.
    pub trust: BTreeMap<Uuid, TrustLevel>,
    /// numcopies.
    pub numcopies: i64,
    /// mincopies.
    pub mincopies: i64,
    /// Groups.
    pub groups: BTreeMap<Uuid, BTreeSet<String>>,
    /// Metadata of keys.
    pub metadata: BTreeMap<Key, MetaData>,
    /// Preferred content.
    pub wanted: BTreeMap<Uuid, String>,
    /// Required content.
    pub required: BTreeMap<Uuid, String>,
    /// groupwanted.
    pub group_wanted: BTreeMap<String, String>,
    /// Maximum sizes.
    pub max_size: BTreeMap<Uuid, u64>,
    /// `--rebalance`.
    pub rebalance: bool,
    /// The log, oldest first.
    pub history: Vec<Command>,
    /// The vector clock (one tick per command).
    pub clock: i64,
    /// An expectation failed, or the sim did not stabilize when it had to.
    pub failed: bool,
}

impl Seeded for Sim {
    fn seed_mut(&mut self) -> &mut i64 {
        &mut self.rng
    }
}

/// One unit of an action: one file considered once.
#[derive(Debug, Clone)]
pub enum Component {
    /// `repo` (`u`) gets `file` from `remote` if it wants it.
    Get {
        /// The repository acting.
        u: Uuid,
        /// Its name.
        repo: String,
        /// The remote.
        remote: Uuid,
        /// The file.
        file: String,
    },
    /// `u` sends `file` to `remote` (named `remote_name`) if it wants it.
    Send {
        /// The repository acting.
        u: Uuid,
        /// The remote.
        remote: Uuid,
        /// The remote's name.
        remote_name: String,
        /// The file.
        file: String,
    },
    /// `u` drops `file` from `from` (named `from_name`; `u` itself for a
    /// local drop) if it is unwanted there and the drop is safe.
    Drop {
        /// The repository acting.
        u: Uuid,
        /// Where the copy is dropped.
        from: Uuid,
        /// Its name.
        from_name: String,
        /// The file.
        file: String,
    },
}

impl Component {
    /// The file the component considers.
    pub fn file(&self) -> &str {
        match self {
            Component::Get { file, .. }
            | Component::Send { file, .. }
            | Component::Drop { file, .. } => file,
        }
    }
}

/// How one `step` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// Nothing more to do, after this many steps.
    Stable(i64),
    /// The steps ran out.
    Unstable,
}

/// The namespace of simulated repositories' UUIDs.
fn uuid_v5(namespace: &[u8; 16], name: &[u8]) -> [u8; 16] {
    let mut h = sha1::Sha1::new();
    h.update(namespace);
    h.update(name);
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

fn uuid_text(b: &[u8; 16]) -> String {
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

const NAMESPACE_URL: [u8; 16] = [
    0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8,
];

/// The UUID of a simulated repository named `name`, from random bytes.
pub fn sim_uuid(name: &str, random: &[u8]) -> Uuid {
    let ns = uuid_v5(
        &NAMESPACE_URL,
        b"http://git-annex.branchable.com/git-annex-sim/",
    );
    let mut n = name.as_bytes().to_vec();
    n.extend_from_slice(random);
    let text = uuid_text(&uuid_v5(&ns, &n));
    // A hyphenated hexadecimal UUID always parses.
    Uuid::parse(text.as_bytes()).unwrap_or_else(|_| Uuid::new_random())
}

/// A simulated test key of `size` bytes from random bytes.
pub fn sim_key(random: &[u8], size: u64) -> Key {
    use sha2::Digest as _;
    let h = sha2::Sha256::digest(random);
    let hex: String = h.iter().map(|x| format!("{x:02x}")).collect();
    Key::new(b"SHA256E", format!("{hex}.this-is-a-test-key").as_bytes()).with_size(Some(size))
}

impl Sim {
    /// An empty sim with a random seed.
    pub fn new(seed: i64) -> Sim {
        Sim {
            rng: seed,
            numcopies: 1,
            mincopies: 1,
            ..Sim::default()
        }
    }

    /// The UUID of a repository or cluster node by name.
    pub fn uuid_of(&self, name: &str) -> Option<&Uuid> {
        self.repos
            .get(name)
            .or_else(|| self.cluster_nodes.get(name))
    }

    /// The name of a repository.
    pub fn name_of(&self, u: &Uuid) -> Option<&str> {
        self.repo_state.get(u).map(|r| r.name.as_str())
    }

    fn known(&self, name: &str) -> Result<Uuid, SimError> {
        match self.uuid_of(name) {
            Some(u) => Ok(u.clone()),
            None => fail(format!(
                "No repository in the simulation is named \"{name}\". Choose from: {}",
                self.repos.keys().cloned().collect::<Vec<_>>().join(" ")
            )),
        }
    }

    fn is_special(&self, u: &Uuid) -> bool {
        self.repo_state.get(u).is_some_and(|r| r.special)
    }

    fn known_not_special(&self, name: &str) -> Result<Uuid, SimError> {
        let u = self.known(name)?;
        if self.is_special(&u) {
            return fail(format!(
                "{name} is a special remote, so git-annex cannot run on it."
            ));
        }
        Ok(u)
    }

    fn known_remote(&self, remote: &str, repo: &str, u: &Uuid) -> Result<Uuid, SimError> {
        if self.connections.get(u).is_some_and(|s| s.contains(remote)) {
            self.known(remote)
        } else {
            fail(format!(
                "Repository {repo} does not have a remote \"{remote}\"."
            ))
        }
    }

    fn check_new(&self, name: &str) -> Result<(), SimError> {
        if self.repos.contains_key(name) {
            return fail(format!(
                "There is already a repository in the simulation named \"{name}\"."
            ));
        }
        if self.cluster_nodes.contains_key(name) {
            return fail(format!(
                "There is already a cluster node in the simulation named \"{name}\"."
            ));
        }
        Ok(())
    }

    fn add_repo(&mut self, name: &str, c: RepoConfig, u: Uuid) {
        self.repos.insert(name.to_string(), u.clone());
        self.repo_state.insert(
            u.clone(),
            RepoState {
                name: name.to_string(),
                special: c.special,
                ..RepoState::default()
            },
        );
        self.connections.insert(u.clone(), BTreeSet::new());
        self.groups.insert(u.clone(), c.groups);
        match c.trust {
            Some(t) => self.trust.insert(u.clone(), t),
            None => self.trust.insert(u.clone(), TrustLevel::SemiTrusted),
        };
        set_opt(&mut self.wanted, &u, c.wanted);
        set_opt(&mut self.required, &u, c.required);
        for (g, e) in c.group_wanted {
            self.group_wanted.entry(g).or_insert(e);
        }
        match c.max_size {
            Some(m) => self.max_size.insert(u, m),
            None => self.max_size.remove(&u),
        };
    }

    /// Marks key `k` present (or not) in `u` (named `name`) in the view of
    /// `viewer`, and in the views of repositories that reach `u` through
    /// the same cluster node name.
    fn set_present(&mut self, present: bool, u: &Uuid, name: &str, k: &Key, viewer: &Uuid) {
        let clock = self.clock;
        if let Some(r) = self.repo_state.get_mut(viewer) {
            r.set(present, clock, u, k);
        }
        if self.cluster_nodes.get(name) == Some(u) {
            let others: Vec<Uuid> = self
                .connections
                .iter()
                .filter(|(cu, rs)| *cu != viewer && rs.contains(name))
                .map(|(cu, _)| cu.clone())
                .collect();
            for cu in others {
                if let Some(r) = self.repo_state.get_mut(&cu) {
                    r.set(present, clock, u, k);
                }
            }
        }
    }

    /// Runs one command: adds it to the history (as the reference does)
    /// and changes the state; notes go to `host`.
    pub fn apply(&mut self, cmd: Command, host: &mut dyn Host) -> Result<(), SimError> {
        match cmd {
            Command::Present(repo, file) => self.expect(true, &repo, &file, host),
            Command::NotPresent(repo, file) => self.expect(false, &repo, &file, host),
            Command::Visit(repo, params) => {
                let u = self.known(&repo)?;
                if params.is_empty() {
                    host.note("Starting a shell in the simulated repository.");
                }
                let code = host.visit(self, &u, &params).map_err(SimError::Failed)?;
                if params.is_empty() {
                    host.note("Finished visit to simulated repository.");
                    Ok(())
                } else if code == 0 {
                    self.history.push(Command::Visit(repo, params));
                    Ok(())
                } else {
                    host.note(&format!("Command {} exited nonzero.", params.join(" ")));
                    Err(SimError::Exit(code))
                }
            }
            cmd => {
                self.clock += 1;
                self.history.push(cmd.clone());
                self.apply_inner(cmd, host)
            }
        }
    }

    fn expect(
        &mut self,
        present: bool,
        repo: &str,
        file: &str,
        host: &mut dyn Host,
    ) -> Result<(), SimError> {
        let u = self.known(repo)?;
        let msg = match self.files.get(file) {
            None if present => Some(format!(
                "Expected {file} to be present in {repo}, but the simulation does not include that file."
            )),
            None => Some(format!(
                "Expected {file} to not be present in {repo}, but the simulation does not include that file."
            )),
            Some(k) => {
                let has = self.repo_state.get(&u).is_some_and(|r| r.has(k, &u));
                match (present, has) {
                    (true, false) => Some(format!(
                        "Expected {file} to be present in {repo}, but it is not."
                    )),
                    (false, true) => Some(format!(
                        "Expected {file} not to be present in {repo}, but it is present."
                    )),
                    _ => None,
                }
            }
        };
        if let Some(m) = msg {
            host.note(&m);
            self.failed = true;
        }
        Ok(())
    }

    fn new_uuid(&mut self, name: &str) -> Uuid {
        let bytes = self.draw(|g| g.words(1024));
        sim_uuid(name, &bytes)
    }

    fn apply_inner(&mut self, cmd: Command, host: &mut dyn Host) -> Result<(), SimError> {
        match cmd {
            Command::Init(name) | Command::InitRemote(name) if self.check_new(&name).is_err() => {
                self.check_new(&name)
            }
            Command::Init(name) => {
                let u = self.new_uuid(&name);
                self.add_repo(&name, RepoConfig::default(), u);
                Ok(())
            }
            Command::InitRemote(name) => {
                let u = self.new_uuid(&name);
                let c = RepoConfig {
                    special: true,
                    ..RepoConfig::default()
                };
                self.add_repo(&name, c, u);
                Ok(())
            }
            Command::Use(name, what) => match host.existing_repo(&what) {
                Ok(c) => {
                    self.check_new(&name)?;
                    let u = match c.uuid.clone() {
                        Some(u) => u,
                        None => {
                            return fail(format!(
                                "Unable to use a repository \"{name}\" in the simulation because it has no UUID"
                            ));
                        }
                    };
                    self.add_repo(&name, c, u);
                    Ok(())
                }
                Err(msg) => fail(format!(
                    "Unable to use a repository \"{name}\" in the simulation because {msg}"
                )),
            },
            Command::Connect(c) => self.connect(&c, true),
            Command::Disconnect(c) => self.connect(&c, false),
            Command::AddTree(repo, expr) => {
                let u = self.known(&repo)?;
                check_expr(&expr)?;
                let files = host.tree_files(&u, &expr).map_err(SimError::Failed)?;
                for (f, k) in files {
                    self.files.insert(f, k.clone());
                    self.set_present(true, &u, &repo, &k, &u);
                }
                Ok(())
            }
            Command::Add(file, size, repos) => {
                let bytes = self.draw(|g| g.words(1024));
                let k = sim_key(&bytes, size);
                for repo in repos {
                    let u = self.known(&repo)?;
                    self.files.insert(file.clone(), k.clone());
                    self.set_present(true, &u, &repo, &k, &u);
                }
                Ok(())
            }
            Command::AddMulti(n, suffix, min, max, repos) => {
                let mut n = n;
                // (The parser refuses a count below 1; one made otherwise
                // adds nothing rather than looping for ever.)
                while n >= 1 {
                    let lo = i64::try_from(min).unwrap_or(i64::MAX);
                    let hi = i64::try_from(max).unwrap_or(i64::MAX);
                    let size = self.draw(|g| g.range(lo, hi));
                    let file = format!("{n}{suffix}");
                    self.apply_inner(
                        Command::Add(file, u64::try_from(size).unwrap_or(0), repos.clone()),
                        host,
                    )?;
                    n -= 1;
                }
                Ok(())
            }
            Command::Step(n) => {
                self.step(false, n, host);
                Ok(())
            }
            Command::StepStable(n) => {
                self.step(true, n, host);
                Ok(())
            }
            Command::Action(act) => {
                let cs = self.components(&act)?;
                for c in cs {
                    self.run_component(&c);
                }
                Ok(())
            }
            Command::Seed(n) => {
                self.rng = n;
                Ok(())
            }
            Command::NumCopies(n) => {
                self.numcopies = n;
                Ok(())
            }
            Command::MinCopies(n) => {
                self.mincopies = n;
                Ok(())
            }
            Command::TrustLevel(repo, t) => {
                let u = self.known(&repo)?;
                self.trust.insert(u, t);
                Ok(())
            }
            Command::Group(repo, g) => {
                let u = self.known(&repo)?;
                self.groups.entry(u).or_default().insert(g);
                Ok(())
            }
            Command::Ungroup(repo, g) => {
                let u = self.known(&repo)?;
                if let Some(gs) = self.groups.get_mut(&u) {
                    gs.remove(&g);
                }
                Ok(())
            }
            Command::MetaData(file, m) => {
                let modmeta = metadata::parse_mod_meta(m.as_bytes()).map_err(SimError::Failed)?;
                let Some(k) = self.files.get(&file).cloned() else {
                    return fail(format!("Cannot set metadata of unknown file {file}"));
                };
                let cur = self.metadata.get(&k).cloned().unwrap_or_default();
                let change = modmeta.apply(&cur);
                self.metadata.insert(k, cur.union(&change));
                Ok(())
            }
            Command::Wanted(repo, e) => {
                let u = self.known(&repo)?;
                check_expr(&e)?;
                self.wanted.insert(u, e);
                Ok(())
            }
            Command::Required(repo, e) => {
                let u = self.known(&repo)?;
                check_expr(&e)?;
                self.required.insert(u, e);
                Ok(())
            }
            Command::GroupWanted(g, e) => {
                check_expr(&e)?;
                self.group_wanted.insert(g, e);
                Ok(())
            }
            Command::RandomWanted(repo, terms) => {
                let u = self.known(&repo)?;
                let e = self.random_expr(&terms)?;
                self.wanted.insert(u, e);
                Ok(())
            }
            Command::RandomRequired(repo, terms) => {
                let u = self.known(&repo)?;
                let e = self.random_expr(&terms)?;
                self.required.insert(u, e);
                Ok(())
            }
            Command::RandomGroupWanted(g, terms) => {
                let e = self.random_expr(&terms)?;
                self.group_wanted.insert(g, e);
                Ok(())
            }
            Command::MaxSize(repo, n) => {
                let u = self.known(&repo)?;
                self.max_size.insert(u, n);
                Ok(())
            }
            Command::ClusterNode(node, repo) => {
                let u = self.known(&repo)?;
                self.check_new(&node)?;
                self.cluster_nodes.insert(node, u);
                Ok(())
            }
            Command::Rebalance(b) => {
                self.rebalance = b;
                Ok(())
            }
            Command::Comment(_) | Command::Blank => Ok(()),
            Command::Present(..) | Command::NotPresent(..) | Command::Visit(..) => Ok(()),
        }
    }

    fn random_expr(&mut self, terms: &[String]) -> Result<String, SimError> {
        for t in terms {
            check_expr(t)?;
        }
        if terms.is_empty() {
            return Ok(String::new());
        }
        let nterms = terms.len() as i64;
        Ok(self.draw(|g| {
            let n = g.range(1, nterms);
            let mut parts: Vec<Vec<String>> = Vec::new();
            for _ in 0..n {
                let idx = g.range(0, nterms - 1);
                let term = terms[usize::try_from(idx).unwrap_or(0)].clone();
                let notted = g.next_bool();
                let and = g.next_bool();
                let mut sub = Vec::new();
                if notted {
                    sub.push("not".to_string());
                }
                sub.push(term);
                if !parts.is_empty() {
                    sub.push(if and { "and" } else { "or" }.to_string());
                }
                parts.insert(0, sub);
            }
            parts.concat().join(" ")
        }))
    }

    fn connect(&mut self, c: &Connections, add: bool) -> Result<(), SimError> {
        let mut c = c.clone();
        loop {
            let (repo, remote, next) = c.first();
            let u = self.known(&repo)?;
            if add && self.is_special(&u) {
                return fail(format!(
                    "{repo} is a special remote, and cannot connect to {remote}"
                ));
            }
            // As the reference: `disconnect` leaves the last link of its
            // chain (the only one of `disconnect a -> b`) connected.
            if !add && next.is_none() {
                return Ok(());
            }
            let set = self.connections.entry(u).or_default();
            if add {
                set.insert(remote);
            } else {
                set.remove(&remote);
            }
            match next {
                Some(n) => c = n,
                None => return Ok(()),
            }
        }
    }

    /// The components of an action; the git-level parts (gitpush,
    /// gitpull) happen at once.
    pub fn components(&mut self, act: &Action) -> Result<Vec<Component>, SimError> {
        match act {
            Action::GetWanted(repo, remote) => {
                let u = self.known_not_special(repo)?;
                let ru = self.known_remote(remote, repo, &u)?;
                Ok(self
                    .files
                    .keys()
                    .map(|f| Component::Get {
                        u: u.clone(),
                        repo: repo.clone(),
                        remote: ru.clone(),
                        file: f.clone(),
                    })
                    .collect())
            }
            Action::SendWanted(repo, remote) => {
                let u = self.known_not_special(repo)?;
                let ru = self.known_remote(remote, repo, &u)?;
                Ok(self
                    .files
                    .keys()
                    .map(|f| Component::Send {
                        u: u.clone(),
                        remote: ru.clone(),
                        remote_name: remote.clone(),
                        file: f.clone(),
                    })
                    .collect())
            }
            Action::DropUnwanted(repo, None) => {
                let u = self.known_not_special(repo)?;
                Ok(self.drop_components(&u, repo, &u))
            }
            Action::DropUnwanted(repo, Some(remote)) => {
                let u = self.known(repo)?;
                let ru = self.known_remote(remote, repo, &u)?;
                Ok(self.drop_components(&u, remote, &ru))
            }
            Action::GitPush(repo, remote) => {
                let u = self.known_not_special(repo)?;
                self.known_remote(remote, repo, &u)?;
                self.merge(repo, remote)?;
                Ok(Vec::new())
            }
            Action::GitPull(repo, remote) => {
                let u = self.known_not_special(repo)?;
                self.known_remote(remote, repo, &u)?;
                self.merge(remote, repo)?;
                Ok(Vec::new())
            }
            Action::While(actions) => {
                // Every action's components first, left to right; then
                // interleaved from the right, as nested `while`s are.
                let mut lists = Vec::with_capacity(actions.len());
                for a in actions {
                    lists.push(self.components(a)?);
                }
                let mut acc = lists.pop().unwrap_or_default();
                while let Some(xs) = lists.pop() {
                    acc = self.mingle(xs, acc);
                }
                Ok(acc)
            }
            Action::Pull(repo, remote) => self.sequence(&[
                Action::GitPull(repo.clone(), remote.clone()),
                Action::GetWanted(repo.clone(), remote.clone()),
                Action::DropUnwanted(repo.clone(), None),
            ]),
            Action::Push(repo, remote) => self.sequence(&[
                Action::SendWanted(repo.clone(), remote.clone()),
                Action::DropUnwanted(repo.clone(), Some(remote.clone())),
                Action::GitPush(repo.clone(), remote.clone()),
            ]),
            Action::Sync(repo, remote) => self.sequence(&[
                Action::GitPull(repo.clone(), remote.clone()),
                Action::GetWanted(repo.clone(), remote.clone()),
                Action::SendWanted(repo.clone(), remote.clone()),
                Action::DropUnwanted(repo.clone(), Some(remote.clone())),
                Action::GitPush(repo.clone(), remote.clone()),
            ]),
        }
    }

    /// Interleaves two lists of components by coin flips.
    fn mingle(&mut self, xs: Vec<Component>, ys: Vec<Component>) -> Vec<Component> {
        if xs.is_empty() {
            return ys;
        }
        if ys.is_empty() {
            return xs;
        }
        let mut out = Vec::with_capacity(xs.len() + ys.len());
        let mut xs = xs.into_iter().peekable();
        let mut ys = ys.into_iter().peekable();
        while xs.peek().is_some() && ys.peek().is_some() {
            let coin = self.draw(|g| g.next_bool());
            let next = if coin { xs.next() } else { ys.next() };
            out.extend(next);
        }
        out.extend(xs);
        out.extend(ys);
        out
    }

    fn sequence(&mut self, acts: &[Action]) -> Result<Vec<Component>, SimError> {
        let mut out = Vec::new();
        for a in acts {
            out.extend(self.components(a)?);
        }
        Ok(out)
    }

    fn drop_components(&self, u: &Uuid, from_name: &str, from: &Uuid) -> Vec<Component> {
        self.files
            .keys()
            .map(|f| Component::Drop {
                u: u.clone(),
                from: from.clone(),
                from_name: from_name.to_string(),
                file: f.clone(),
            })
            .collect()
    }

    /// The `git-annex` branch of `src` merged into `dest`'s (names of
    /// repositories, not cluster nodes).
    fn merge(&mut self, src: &str, dest: &str) -> Result<(), SimError> {
        let (Some(su), Some(du)) = (self.repos.get(src), self.repos.get(dest)) else {
            return fail(format!("Unable to find {src} or {dest} in simRepos"));
        };
        let Some(srcst) = self.repo_state.get(su).cloned() else {
            return fail(format!("Unable to find simRepoState for {src}"));
        };
        let du = du.clone();
        let Some(destst) = self.repo_state.get_mut(&du) else {
            return fail(format!("Unable to find simRepoState for {dest}"));
        };
        for (k, m) in srcst.locations {
            let dm = destst.locations.entry(k).or_default();
            for (u, l) in m {
                match dm.get(&u) {
                    Some(d) if d.clock > l.clock => {}
                    _ => {
                        dm.insert(u, l);
                    }
                }
            }
        }
        destst.recalc_sizes();
        Ok(())
    }

    /// A repository's preferred content matcher (preferred or required),
    /// `None` when not configured.
    pub fn matcher_of(&self, u: &Uuid) -> Option<preferred::Expr> {
        let groups: BTreeSet<Vec<u8>> = self
            .groups
            .get(u)
            .map(|gs| gs.iter().map(|g| g.as_bytes().to_vec()).collect())
            .unwrap_or_default();
        let gw: BTreeMap<Vec<u8>, Vec<u8>> = self
            .group_wanted
            .iter()
            .map(|(g, e)| (g.as_bytes().to_vec(), e.as_bytes().to_vec()))
            .collect();
        preferred::preferred_content_matcher(
            self.wanted.get(u).map(|e| e.as_bytes()),
            self.required.get(u).map(|e| e.as_bytes()),
            &groups,
            &gw,
        )
    }

    /// The context `viewer`'s preferred content is evaluated in.
    pub fn context<'a>(&'a self, viewer: &'a Uuid) -> SimContext<'a> {
        let mut members: BTreeMap<Vec<u8>, BTreeSet<Uuid>> = BTreeMap::new();
        for (u, gs) in &self.groups {
            for g in gs {
                members
                    .entry(g.as_bytes().to_vec())
                    .or_default()
                    .insert(u.clone());
            }
        }
        SimContext {
            sim: self,
            here: viewer,
            view: self.repo_state.get(viewer),
            members,
        }
    }

    /// Whether `repo` wants `file`, asked in `viewer`'s view; `default`
    /// when it has no preferred content. `gone` are treated as not having
    /// it (a drop).
    pub fn wants(
        &self,
        viewer: &Uuid,
        repo: &Uuid,
        file: &str,
        gone: &[Uuid],
        default: bool,
    ) -> bool {
        let Some(k) = self.files.get(file) else {
            return false;
        };
        let Some(m) = self.matcher_of(repo) else {
            return default;
        };
        let ctx = self.context(viewer);
        let mut item = Item::file(file.as_bytes(), Some(k)).for_repo(Some(repo));
        item.not_present = gone;
        // An expression that cannot be evaluated (a term needing what the
        // sim does not have) wants nothing, as a failed match.
        m.matches(&ctx, &item).unwrap_or(false)
    }

    /// Runs one component; whether it did something.
    pub fn run_component(&mut self, c: &Component) -> bool {
        match c {
            Component::Get {
                u,
                repo,
                remote,
                file,
            } => {
                let Some(k) = self.files.get(file).cloned() else {
                    return false;
                };
                let (Some(view), Some(rview)) =
                    (self.repo_state.get(u), self.repo_state.get(remote))
                else {
                    return false;
                };
                if !view.has(&k, remote) || !rview.has(&k, remote) || view.has(&k, u) {
                    return false;
                }
                if !self.wants(u, u, file, &[], false) {
                    return false;
                }
                self.history
                    .push(Command::Present(repo.clone(), file.clone()));
                self.set_present(true, u, repo, &k, u);
                true
            }
            Component::Send {
                u,
                remote,
                remote_name,
                file,
            } => {
                let Some(k) = self.files.get(file).cloned() else {
                    return false;
                };
                let (Some(view), Some(rview)) =
                    (self.repo_state.get(u), self.repo_state.get(remote))
                else {
                    return false;
                };
                if view.has(&k, remote) || rview.has(&k, remote) || !view.has(&k, u) {
                    return false;
                }
                if !self.wants(u, remote, file, &[], false) {
                    return false;
                }
                self.history
                    .push(Command::Present(remote_name.clone(), file.clone()));
                self.set_present(true, remote, remote_name, &k, u);
                self.set_present(true, remote, remote_name, &k, remote);
                true
            }
            Component::Drop {
                u,
                from,
                from_name,
                file,
            } => {
                let Some(k) = self.files.get(file).cloned() else {
                    return false;
                };
                let Some(view) = self.repo_state.get(u) else {
                    return false;
                };
                if !view.has(&k, from) {
                    return false;
                }
                if self.wants(u, from, file, std::slice::from_ref(from), false) {
                    return false;
                }
                if !self.drop_is_safe(u, from, &k) {
                    return false;
                }
                self.history
                    .push(Command::NotPresent(from_name.clone(), file.clone()));
                self.set_present(false, from, from_name, &k, from);
                self.set_present(false, from, from_name, &k, u);
                true
            }
        }
    }

    /// `from` sends `file` to its remote `to` whether or not `to` wants it
    /// (a relay of least-cost distribution, [`crate::distribute`]),
    /// recorded in both views as a send is; whether it did (`from` has
    /// it, `to` does not, both are repositories of the sim).
    pub fn relay(&mut self, from: &Uuid, to: &Uuid, file: &str) -> bool {
        let Some(k) = self.files.get(file).cloned() else {
            return false;
        };
        let (Some(view), Some(rview)) = (self.repo_state.get(from), self.repo_state.get(to)) else {
            return false;
        };
        if rview.has(&k, to) || !view.has(&k, from) {
            return false;
        }
        let Some(name) = self.name_of(to).map(str::to_string) else {
            return false;
        };
        self.history
            .push(Command::Present(name.clone(), file.to_string()));
        self.set_present(true, to, &name, &k, from);
        self.set_present(true, to, &name, &k, to);
        true
    }

    /// Whether dropping `k` from `from`, decided by `u`, is safe: the
    /// other copies `u` knows of, each verified in its holder (locked when
    /// `u` reaches it or is it, a special remote's seen just now, a
    /// trusted repository's taken on trust), meet numcopies and mincopies.
    pub fn drop_is_safe(&self, u: &Uuid, from: &Uuid, k: &Key) -> bool {
        let Some(view) = self.repo_state.get(u) else {
            return false;
        };
        let remotes: BTreeSet<&Uuid> = self
            .connections
            .get(u)
            .map(|rs| rs.iter().filter_map(|r| self.repos.get(r)).collect())
            .unwrap_or_default();
        let mut check = DropCheck::new(self.numcopies, self.mincopies, false);
        for ru in view.holders(k) {
            if &ru == from {
                continue;
            }
            let Some(rst) = self.repo_state.get(&ru) else {
                continue;
            };
            if !rst.has(k, &ru) {
                continue;
            }
            if remotes.contains(&ru) || &ru == u {
                check.have.push(if rst.special {
                    VerifiedCopy::RecentlyVerified(ru)
                } else {
                    VerifiedCopy::Locked(ru)
                });
            } else if self.trust.get(&ru) == Some(&TrustLevel::Trusted) {
                check.have.push(VerifiedCopy::Trusted(ru));
            }
        }
        check.is_safe()
    }

    /// Every component of one round of `step`: for each repository (the
    /// last by name first) and each of its remotes, getwanted, sendwanted
    /// and dropunwantedfrom (`sync` also pulls and pushes first).
    fn step_components(&mut self, sync: bool) -> Vec<Component> {
        let mut per_repo: Vec<Vec<Action>> = Vec::new();
        for (repo, u) in &self.repos {
            let Some(remotes) = self.connections.get(u) else {
                continue;
            };
            let mut l = Vec::new();
            for remote in remotes {
                if sync {
                    l.push(Action::Sync(repo.clone(), remote.clone()));
                } else {
                    l.push(Action::GetWanted(repo.clone(), remote.clone()));
                    l.push(Action::SendWanted(repo.clone(), remote.clone()));
                    l.push(Action::DropUnwanted(repo.clone(), Some(remote.clone())));
                }
            }
            per_repo.push(l);
        }
        let actions: Vec<Action> = per_repo.into_iter().rev().flatten().collect();
        let mut groups: Vec<Vec<Component>> = Vec::new();
        for a in &actions {
            if let Ok(cs) = self.components(a) {
                groups.push(cs);
            }
        }
        groups.into_iter().rev().flatten().collect()
    }

    /// Runs randomly chosen components until one does something; the
    /// components not tried yet.
    fn run_one(&mut self, mut cs: Vec<Component>) -> Vec<Component> {
        while !cs.is_empty() {
            let hi = cs.len() as i64 - 1;
            let idx = self.draw(|g| g.range(0, hi));
            let c = cs.remove(usize::try_from(idx).unwrap_or(0));
            if self.run_component(&c) {
                return cs;
            }
        }
        cs
    }

    /// `step n` (`stepstable n` when `must_stabilize`), as the reference
    /// steps: one transfer or drop per step.
    pub fn step(&mut self, must_stabilize: bool, n: i64, host: &mut dyn Host) -> StepOutcome {
        let start = n;
        let mut n = n;
        loop {
            if n < 0 {
                return self.unstable(must_stabilize, start, host);
            }
            let cs = self.step_components(false);
            let mut rest = self.run_one(cs);
            if rest.is_empty() {
                let cs = self.step_components(true);
                rest = self.run_one(cs);
                if rest.is_empty() {
                    host.note(&format!(
                        "Simulation has stabilized after {} steps.",
                        start - n
                    ));
                    return StepOutcome::Stable(start - n);
                }
            }
            n -= 1;
            // The rest of this round, one step each, until it runs out.
            loop {
                if n < 0 {
                    return self.unstable(must_stabilize, start, host);
                }
                let before = self.clone_for_round();
                rest = self.run_one(rest);
                if rest.is_empty() {
                    // The reference starts the next round from the state
                    // before this last try.
                    self.restore_round(before);
                    break;
                }
                n -= 1;
            }
        }
    }

    fn clone_for_round(&self) -> RoundState {
        RoundState {
            repo_state: self.repo_state.clone(),
            rng: self.rng,
            history_len: self.history.len(),
        }
    }

    fn restore_round(&mut self, r: RoundState) {
        self.repo_state = r.repo_state;
        self.rng = r.rng;
        self.history.truncate(r.history_len);
    }

    fn unstable(&mut self, must: bool, start: i64, host: &mut dyn Host) -> StepOutcome {
        if must {
            host.note(&format!(
                "Simulation failed to stabilize after {start} steps."
            ));
            self.failed = true;
        }
        StepOutcome::Unstable
    }
}

struct RoundState {
    repo_state: BTreeMap<Uuid, RepoState>,
    rng: i64,
    history_len: usize,
}

fn set_opt(m: &mut BTreeMap<Uuid, String>, u: &Uuid, v: Option<String>) {
    match v {
        Some(v) => m.insert(u.clone(), v),
        None => m.remove(u),
    };
}

/// Refuses an expression that does not parse, with the reference's message.
pub fn check_expr(e: &str) -> Result<(), SimError> {
    match preferred::parse(e.as_bytes()) {
        Ok(_) => Ok(()),
        Err(err) => fail(format!("Failed parsing \"{e}\": {err}")),
    }
}

/// One repository's view of the sim as the preferred-content engine asks
/// it.
pub struct SimContext<'a> {
    sim: &'a Sim,
    here: &'a Uuid,
    view: Option<&'a RepoState>,
    members: BTreeMap<Vec<u8>, BTreeSet<Uuid>>,
}

impl MatchContext for SimContext<'_> {
    type Error = std::convert::Infallible;

    fn here(&self) -> Option<&Uuid> {
        Some(self.here)
    }
    fn trust(&self, uuid: &Uuid) -> TrustLevel {
        self.sim
            .trust
            .get(uuid)
            .copied()
            .unwrap_or(TrustLevel::SemiTrusted)
    }
    fn in_group(&self, uuid: &Uuid, group: &[u8]) -> bool {
        self.sim
            .groups
            .get(uuid)
            .is_some_and(|gs| gs.iter().any(|g| g.as_bytes() == group))
    }
    fn group_members(&self, group: &[u8]) -> Option<&BTreeSet<Uuid>> {
        self.members.get(group)
    }
    fn with_locations<R>(&self, key: &Key, f: impl FnOnce(&[Uuid]) -> R) -> Result<R, Self::Error> {
        let v = self.view.map(|v| v.holders(key)).unwrap_or_default();
        Ok(f(&v))
    }
    fn with_metadata<R>(
        &self,
        key: &Key,
        f: impl FnOnce(&MetaData) -> R,
    ) -> Result<R, Self::Error> {
        match self.sim.metadata.get(key) {
            Some(m) => Ok(f(m)),
            None => Ok(f(&MetaData::default())),
        }
    }
    fn with_urls<R>(&self, _key: &Key, f: impl FnOnce(&[Vec<u8>]) -> R) -> Result<R, Self::Error> {
        Ok(f(&[]))
    }
    fn has_content(&self, _key: &Key) -> Result<bool, Self::Error> {
        // A simulated repository's object store is empty.
        Ok(false)
    }
    fn is_unused(&self, _key: &Key) -> Result<bool, Self::Error> {
        Ok(false)
    }
    fn numcopies(&self, _file: Option<&[u8]>) -> Result<i64, Self::Error> {
        Ok(self.sim.numcopies)
    }
    fn preferred_dir(&self, _repo: Option<&Uuid>) -> &[u8] {
        b"public"
    }
    fn max_size(&self, uuid: &Uuid) -> Option<u64> {
        self.sim.max_size.get(uuid).copied()
    }
    fn repo_size(&self, uuid: &Uuid) -> Option<u64> {
        let n = self
            .view
            .and_then(|v| v.sizes.get(uuid))
            .copied()
            .unwrap_or(0);
        Some(u64::try_from(n.max(0)).unwrap_or(0))
    }
    fn rebalance(&self) -> bool {
        self.sim.rebalance
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::parse;

    fn run(src: &str) -> (Sim, Detached) {
        let mut sim = Sim::new(1);
        let mut host = Detached::default();
        for c in parse(src).expect("parses") {
            sim.apply(c, &mut host).expect("applies");
        }
        (sim, host)
    }

    fn has(sim: &Sim, repo: &str, file: &str) -> bool {
        let u = &sim.repos[repo];
        let k = &sim.files[file];
        sim.repo_state[u].has(k, u)
    }

    /// The reference's UUIDs for `seed 42`, `init foo`, `init bar`.
    #[test]
    fn uuids_match_the_reference() {
        let (sim, _) = run("seed 42\ninit foo\ninit bar\n");
        assert_eq!(
            sim.repos["foo"].to_string(),
            "3b4daa8a-4c56-513a-9e79-ccab2195905a"
        );
        assert_eq!(
            sim.repos["bar"].to_string(),
            "0d8cc615-534f-52d3-9f8f-dabeb2e2f3f6"
        );
    }

    #[test]
    fn wanted_file_moves_and_unwanted_copy_drops() {
        let (sim, host) = run(
            "seed 42\ninit foo\ninit bar\nconnect foo <-> bar\nwanted bar include=*.x\n\
             add a.x 1mb foo\nadd b.y 2mb foo\nstep 10\n",
        );
        assert!(has(&sim, "bar", "a.x"));
        assert!(!has(&sim, "foo", "a.x"));
        assert!(has(&sim, "foo", "b.y"));
        assert!(!has(&sim, "bar", "b.y"));
        assert_eq!(host.notes, ["Simulation has stabilized after 2 steps."]);
    }

    #[test]
    fn numcopies_keeps_copies() {
        let (sim, _) = run(
            "init foo\ninit bar\nconnect foo <-> bar\nnumcopies 2\nwanted bar include=*\n\
             add a.x 1mb foo\nstep 10\n",
        );
        assert!(has(&sim, "bar", "a.x"));
        assert!(has(&sim, "foo", "a.x"), "numcopies 2 keeps foo's copy");
    }

    #[test]
    fn expectations_fail_the_sim() {
        let (sim, host) =
            run("init foo\nadd a 1 foo\npresent foo a\nnotpresent foo a\npresent foo b\n");
        assert!(sim.failed);
        assert_eq!(
            host.notes,
            [
                "Expected a not to be present in foo, but it is present.",
                "Expected b to be present in foo, but the simulation does not include that file."
            ]
        );
    }

    #[test]
    fn errors_are_the_references() {
        let mut sim = Sim::new(1);
        let mut host = Detached::default();
        let e = sim
            .apply(Command::Group("nope".into(), "g".into()), &mut host)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "No repository in the simulation is named \"nope\". Choose from: "
        );
        sim.apply(Command::Init("a".into()), &mut host)
            .expect("init");
        let e = sim.apply(Command::Init("a".into()), &mut host).unwrap_err();
        assert_eq!(
            e.to_string(),
            "There is already a repository in the simulation named \"a\"."
        );
        let e = sim
            .apply(
                Command::Wanted("a".into(), "include=*.x bogus".into()),
                &mut host,
            )
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "Failed parsing \"include=*.x bogus\": Parse failure: near \"bogus\""
        );
    }
}
