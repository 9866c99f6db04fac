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
        let chunks = self.chunks(act)?;
        let files: Vec<String> = self.files.keys().cloned().collect();
        let mut out = Vec::new();
        for c in chunks {
            match c {
                Chunk::EachFile(b) => out.extend(files.iter().map(|f| b.component(f))),
                Chunk::Listed(cs) => out.extend(cs),
            }
        }
        Ok(out)
    }

    /// The components of an action as chunks: one per file-wide action
    /// (kept unexpanded: a `step` draws among millions of them), or a
    /// list for the interleaving of `while`. The git-level parts happen
    /// at once, as in [`Sim::components`].
    fn chunks(&mut self, act: &Action) -> Result<Vec<Chunk>, SimError> {
        match act {
            Action::GetWanted(repo, remote) => {
                let u = self.known_not_special(repo)?;
                let ru = self.known_remote(remote, repo, &u)?;
                Ok(vec![Chunk::EachFile(Block::Get {
                    u,
                    repo: repo.clone(),
                    remote: ru,
                })])
            }
            Action::SendWanted(repo, remote) => {
                let u = self.known_not_special(repo)?;
                let ru = self.known_remote(remote, repo, &u)?;
                Ok(vec![Chunk::EachFile(Block::Send {
                    u,
                    remote: ru,
                    remote_name: remote.clone(),
                })])
            }
            Action::DropUnwanted(repo, None) => {
                let u = self.known_not_special(repo)?;
                Ok(vec![Chunk::EachFile(Block::Drop {
                    u: u.clone(),
                    from: u,
                    from_name: repo.clone(),
                })])
            }
            Action::DropUnwanted(repo, Some(remote)) => {
                let u = self.known(repo)?;
                let ru = self.known_remote(remote, repo, &u)?;
                Ok(vec![Chunk::EachFile(Block::Drop {
                    u,
                    from: ru,
                    from_name: remote.clone(),
                })])
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
                Ok(vec![Chunk::Listed(acc)])
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

    fn sequence(&mut self, acts: &[Action]) -> Result<Vec<Chunk>, SimError> {
        let mut out = Vec::new();
        for a in acts {
            out.extend(self.chunks(a)?);
        }
        Ok(out)
    }

    /// The `git-annex` branch of `src` merged into `dest`'s (names of
    /// repositories, not cluster nodes).
    fn merge(&mut self, src: &str, dest: &str) -> Result<(), SimError> {
        let (Some(su), Some(du)) = (self.repos.get(src), self.repos.get(dest)) else {
            return fail(format!("Unable to find {src} or {dest} in simRepos"));
        };
        if !self.repo_state.contains_key(su) {
            return fail(format!("Unable to find simRepoState for {src}"));
        }
        let (su, du) = (su.clone(), du.clone());
        // The destination taken out while the source is read (both are
        // the same repository only when merging into itself, which
        // changes nothing but the sizes).
        let Some(mut destst) = self.repo_state.remove(&du) else {
            return fail(format!("Unable to find simRepoState for {dest}"));
        };
        if let Some(srcst) = self.repo_state.get(&su) {
            for (k, m) in &srcst.locations {
                if !destst.locations.contains_key(k) {
                    destst.locations.insert(k.clone(), BTreeMap::new());
                }
                let Some(dm) = destst.locations.get_mut(k) else {
                    continue;
                };
                for (u, l) in m {
                    match dm.get_mut(u) {
                        Some(d) if d.clock > l.clock => {}
                        Some(d) => *d = *l,
                        None => {
                            dm.insert(u.clone(), *l);
                        }
                    }
                }
            }
        }
        destst.recalc_sizes();
        self.repo_state.insert(du, destst);
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

    /// The members of each group.
    fn group_members(&self) -> BTreeMap<Vec<u8>, BTreeSet<Uuid>> {
        let mut members: BTreeMap<Vec<u8>, BTreeSet<Uuid>> = BTreeMap::new();
        for (u, gs) in &self.groups {
            for g in gs {
                members
                    .entry(g.as_bytes().to_vec())
                    .or_default()
                    .insert(u.clone());
            }
        }
        members
    }

    /// The context `viewer`'s preferred content is evaluated in.
    pub fn context<'a>(&'a self, viewer: &'a Uuid) -> SimContext<'a> {
        SimContext {
            sim: self,
            here: viewer,
            view: self.repo_state.get(viewer),
            members: std::borrow::Cow::Owned(self.group_members()),
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
        self.wants_with(None, viewer, repo, file, gone, default)
    }

    /// [`Sim::wants`], with the matchers and groups of a step's cache.
    fn wants_with(
        &self,
        cache: Option<&StepCache>,
        viewer: &Uuid,
        repo: &Uuid,
        file: &str,
        gone: &[Uuid],
        default: bool,
    ) -> bool {
        let Some(k) = self.files.get(file) else {
            return false;
        };
        let made;
        let m = match cache.and_then(|c| c.matchers.get(repo)) {
            Some(cached) => cached.as_ref(),
            None => {
                made = self.matcher_of(repo);
                made.as_ref()
            }
        };
        let Some(m) = m else {
            return default;
        };
        let ctx = match cache {
            Some(c) => SimContext {
                sim: self,
                here: viewer,
                view: self.repo_state.get(viewer),
                members: std::borrow::Cow::Borrowed(&c.members),
            },
            None => self.context(viewer),
        };
        let mut item = Item::file(file.as_bytes(), Some(k)).for_repo(Some(repo));
        item.not_present = gone;
        // An expression that cannot be evaluated (a term needing what the
        // sim does not have) wants nothing, as a failed match.
        m.matches(&ctx, &item).unwrap_or(false)
    }

    /// Runs one component; whether it did something.
    pub fn run_component(&mut self, c: &Component) -> bool {
        self.run_component_with(c, None)
    }

    fn run_component_with(&mut self, c: &Component, cache: Option<&StepCache>) -> bool {
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
                if !self.wants_with(cache, u, u, file, &[], false) {
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
                if !self.wants_with(cache, u, remote, file, &[], false) {
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
                if self.wants_with(cache, u, from, file, std::slice::from_ref(from), false) {
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

    /// Every component of one round of `step`, as chunks: for each
    /// repository (the last by name first) and each of its remotes,
    /// getwanted, sendwanted and dropunwantedfrom (`sync` also pulls and
    /// pushes first, at once).
    fn step_chunks(&mut self, sync: bool) -> Vec<Chunk> {
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
        let mut groups: Vec<Vec<Chunk>> = Vec::new();
        for a in &actions {
            if let Ok(cs) = self.chunks(a) {
                groups.push(cs);
            }
        }
        groups.into_iter().rev().flatten().collect()
    }

    /// What a step's components are evaluated with: each repository's
    /// preferred content matcher and the groups' members, which no
    /// component changes.
    fn step_cache(&self) -> StepCache {
        StepCache {
            matchers: self
                .repo_state
                .keys()
                .map(|u| (u.clone(), self.matcher_of(u)))
                .collect(),
            members: self.group_members(),
        }
    }

    /// Runs randomly chosen components of `cs` until one does something;
    /// whether one did. With `snapshot_last`, the state the last
    /// component of `cs` could change is kept before it runs, and
    /// returned when it did something.
    fn run_one<P: ComponentPool>(
        &mut self,
        cs: &mut P,
        cache: &StepCache,
        snapshot_last: bool,
    ) -> (bool, Option<KeySnapshot>) {
        while cs.len() > 0 {
            let hi = i64::try_from(cs.len()).unwrap_or(i64::MAX) - 1;
            let idx = self.draw(|g| g.range(0, hi));
            let Some(c) = cs.take(usize::try_from(idx).unwrap_or(0)) else {
                break;
            };
            let snap = if snapshot_last && cs.len() == 0 {
                self.files.get(c.file()).map(|k| self.snapshot_key(k))
            } else {
                None
            };
            if self.run_component_with(&c, Some(cache)) {
                return (true, snap);
            }
        }
        (false, None)
    }

    /// `step n` (`stepstable n` when `must_stabilize`), as the reference
    /// steps: one transfer or drop per step.
    pub fn step(&mut self, must_stabilize: bool, n: i64, host: &mut dyn Host) -> StepOutcome {
        self.step_with::<Pool>(must_stabilize, n, host)
    }

    /// `step` over component pools of type `P`: [`Pool`] (indexes into
    /// chunks, what `step` uses) or `Vec<Component>` (every component
    /// made, the plain way, for the tests comparing both).
    fn step_with<P: ComponentPool>(
        &mut self,
        must_stabilize: bool,
        n: i64,
        host: &mut dyn Host,
    ) -> StepOutcome {
        let start = n;
        let mut n = n;
        let cache = self.step_cache();
        loop {
            if n < 0 {
                return self.unstable(must_stabilize, start, host);
            }
            let chunks = self.step_chunks(false);
            let mut rest = P::new(chunks, &self.files);
            self.run_one(&mut rest, &cache, false);
            if rest.len() == 0 {
                let chunks = self.step_chunks(true);
                rest = P::new(chunks, &self.files);
                self.run_one(&mut rest, &cache, false);
                if rest.len() == 0 {
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
                let rng = self.rng;
                let history_len = self.history.len();
                let before = P::PLAIN.then(|| self.repo_state.clone());
                let (_, snap) = self.run_one(&mut rest, &cache, !P::PLAIN);
                if rest.len() == 0 {
                    // The reference starts the next round from the state
                    // before this last try: only the last component can
                    // have changed anything when the round ran out.
                    self.rng = rng;
                    self.history.truncate(history_len);
                    if let Some(before) = before {
                        self.repo_state = before;
                    }
                    if let Some(snap) = snap {
                        self.restore_key(snap);
                    }
                    break;
                }
                n -= 1;
            }
        }
    }

    /// What every view holds of key `k` (its locations and the sizes),
    /// to undo a component's change.
    fn snapshot_key(&self, k: &Key) -> KeySnapshot {
        KeySnapshot {
            key: k.clone(),
            views: self
                .repo_state
                .iter()
                .map(|(u, r)| (u.clone(), r.locations.get(k).cloned(), r.sizes.clone()))
                .collect(),
        }
    }

    fn restore_key(&mut self, snap: KeySnapshot) {
        for (u, locations, sizes) in snap.views {
            if let Some(r) = self.repo_state.get_mut(&u) {
                match locations {
                    Some(m) => {
                        r.locations.insert(snap.key.clone(), m);
                    }
                    None => {
                        r.locations.remove(&snap.key);
                    }
                }
                r.sizes = sizes;
            }
        }
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

/// The state of one key in every view, before a component ran.
struct KeySnapshot {
    key: Key,
    #[allow(clippy::type_complexity)]
    views: Vec<(
        Uuid,
        Option<BTreeMap<Uuid, LocationState>>,
        BTreeMap<Uuid, i128>,
    )>,
}

/// What a step's components are evaluated with (see `Sim::step_cache`).
struct StepCache {
    matchers: BTreeMap<Uuid, Option<preferred::Expr>>,
    members: BTreeMap<Vec<u8>, BTreeSet<Uuid>>,
}

/// A file-wide action of one repository: one component per file.
#[derive(Debug, Clone)]
enum Block {
    Get {
        u: Uuid,
        repo: String,
        remote: Uuid,
    },
    Send {
        u: Uuid,
        remote: Uuid,
        remote_name: String,
    },
    Drop {
        u: Uuid,
        from: Uuid,
        from_name: String,
    },
}

impl Block {
    fn component(&self, file: &str) -> Component {
        let file = file.to_string();
        match self {
            Block::Get { u, repo, remote } => Component::Get {
                u: u.clone(),
                repo: repo.clone(),
                remote: remote.clone(),
                file,
            },
            Block::Send {
                u,
                remote,
                remote_name,
            } => Component::Send {
                u: u.clone(),
                remote: remote.clone(),
                remote_name: remote_name.clone(),
                file,
            },
            Block::Drop { u, from, from_name } => Component::Drop {
                u: u.clone(),
                from: from.clone(),
                from_name: from_name.clone(),
                file,
            },
        }
    }
}

/// Part of an action's components.
#[derive(Debug, Clone)]
enum Chunk {
    /// One component per file of the sim, in the files' order.
    EachFile(Block),
    /// These components.
    Listed(Vec<Component>),
}

/// The components of a round not tried yet, in order: taking the `i`th
/// removes it, as `Vec::remove`.
trait ComponentPool {
    /// Made by cloning the whole state before each try and taking it
    /// back when the round runs out (the plain way), not by a snapshot
    /// of the last component's key.
    const PLAIN: bool;
    fn new(chunks: Vec<Chunk>, files: &BTreeMap<String, Key>) -> Self;
    fn len(&self) -> usize;
    /// The `i`th component not taken yet, taken; `None` past the end.
    fn take(&mut self, i: usize) -> Option<Component>;
}

impl ComponentPool for Vec<Component> {
    const PLAIN: bool = true;
    fn new(chunks: Vec<Chunk>, files: &BTreeMap<String, Key>) -> Self {
        let mut out = Vec::new();
        for c in chunks {
            match c {
                Chunk::EachFile(b) => out.extend(files.keys().map(|f| b.component(f))),
                Chunk::Listed(cs) => out.extend(cs),
            }
        }
        out
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn take(&mut self, i: usize) -> Option<Component> {
        (i < self.len()).then(|| self.remove(i))
    }
}

/// The components of a round as chunks, never expanded: a component is
/// made when it is drawn. Which are taken is a bitmap over the positions
/// with a Fenwick tree of the untaken counts per 64 positions, so the
/// `i`th untaken one is found in O(log n).
struct Pool {
    chunks: Vec<Chunk>,
    /// The first position of each chunk.
    starts: Vec<usize>,
    files: Vec<String>,
    taken: Vec<u64>,
    /// Fenwick tree (1-based) of the untaken positions per word of
    /// `taken`.
    tree: Vec<u32>,
    left: usize,
}

impl Pool {
    fn chunk_len(&self, c: &Chunk) -> usize {
        match c {
            Chunk::EachFile(_) => self.files.len(),
            Chunk::Listed(cs) => cs.len(),
        }
    }

    fn component_at(&self, pos: usize) -> Option<Component> {
        let ci = self.starts.partition_point(|&s| s <= pos).checked_sub(1)?;
        let off = pos - self.starts.get(ci)?;
        match self.chunks.get(ci)? {
            Chunk::EachFile(b) => Some(b.component(self.files.get(off)?)),
            Chunk::Listed(cs) => cs.get(off).cloned(),
        }
    }
}

impl ComponentPool for Pool {
    const PLAIN: bool = false;
    fn new(chunks: Vec<Chunk>, files: &BTreeMap<String, Key>) -> Self {
        let mut p = Pool {
            chunks: Vec::new(),
            starts: Vec::with_capacity(chunks.len()),
            files: files.keys().cloned().collect(),
            taken: Vec::new(),
            tree: Vec::new(),
            left: 0,
        };
        let mut total = 0usize;
        for c in &chunks {
            p.starts.push(total);
            total += p.chunk_len(c);
        }
        p.chunks = chunks;
        let words = total.div_ceil(64);
        p.taken = vec![0; words];
        // Positions past the end count as taken.
        if !total.is_multiple_of(64)
            && let Some(w) = p.taken.last_mut()
        {
            *w = !0u64 << (total % 64);
        }
        // The Fenwick tree built in linear time.
        p.tree = vec![0; words + 1];
        for (i, w) in p.taken.iter().enumerate() {
            p.tree[i + 1] += w.count_zeros();
            let parent = (i + 1) + ((i + 1) & (i + 1).wrapping_neg());
            if parent <= words {
                let v = p.tree[i + 1];
                p.tree[parent] += v;
            }
        }
        p.left = total;
        p
    }

    fn len(&self) -> usize {
        self.left
    }

    fn take(&mut self, i: usize) -> Option<Component> {
        if i >= self.left {
            return None;
        }
        // The word holding the untaken position of rank `i`.
        let words = self.taken.len();
        let mut pos = 0usize;
        let mut rem = i;
        let mut step = words.checked_next_power_of_two().unwrap_or(0);
        while step > 0 {
            let next = pos + step;
            if next <= words {
                let c = self.tree[next] as usize;
                if c <= rem {
                    pos = next;
                    rem -= c;
                }
            }
            step >>= 1;
        }
        // `pos` words lie before it; the `rem`th clear bit of word `pos`.
        let w = pos;
        let &bits = self.taken.get(w)?;
        let mut free = !bits;
        for _ in 0..rem {
            free &= free.wrapping_sub(1);
        }
        let bit = free.trailing_zeros() as usize;
        self.taken[w] |= 1u64 << bit;
        let mut j = w + 1;
        while j <= words {
            self.tree[j] -= 1;
            j += j & j.wrapping_neg();
        }
        self.left -= 1;
        self.component_at(w * 64 + bit)
    }
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
    members: std::borrow::Cow<'a, BTreeMap<Vec<u8>, BTreeSet<Uuid>>>,
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

    /// A random small sim's source: 2 to 6 repositories (one a special
    /// remote now and then), random links (one way or both, now and then
    /// to a cluster node), preferred content and required content from a
    /// few expressions (sizes, groups, `balanced`, `sizebalanced`,
    /// `copies`), numcopies, trust, maxsize, files in random repositories.
    fn random_sim(choices: &[u16]) -> String {
        let mut c = choices.iter().copied().cycle();
        let mut next = move |n: u16| c.next().unwrap_or(0) % n;
        let exprs = [
            "include=*.x",
            "exclude=*.x",
            "largerthan=2kb",
            "balanced=g",
            "sizebalanced=g:2",
            "copies=2",
            "not copies=g:2",
            "present",
            "inallgroup=g",
            "anything",
            "standard",
        ];
        let mut src = format!("seed {}\n", next(1000));
        let repos = 2 + usize::from(next(5));
        for i in 0..repos {
            if i > 1 && next(6) == 0 {
                src.push_str(&format!("initremote r{i}\n"));
            } else {
                src.push_str(&format!("init r{i}\n"));
            }
        }
        if next(4) == 0 {
            src.push_str("clusternode node r1\n");
        }
        for _ in 0..repos * 2 {
            let a = next(u16::try_from(repos).unwrap_or(1));
            let b = next(u16::try_from(repos).unwrap_or(1));
            let arrow = ["->", "<->", "<-"][usize::from(next(3))];
            let b = if next(8) == 0 {
                "node".to_string()
            } else {
                format!("r{b}")
            };
            src.push_str(&format!("connect r{a} {arrow} {b}\n"));
        }
        for i in 0..repos {
            if next(3) != 0 {
                src.push_str(&format!("group r{i} g\n"));
            }
            if next(2) == 0 {
                src.push_str(&format!("group r{i} client\n"));
            }
            if next(3) != 0 {
                let e = exprs[usize::from(next(11))];
                src.push_str(&format!("wanted r{i} {e}\n"));
            }
            if next(6) == 0 {
                src.push_str(&format!("required r{i} include=*.x\n"));
            }
            if next(6) == 0 {
                src.push_str(&format!("maxsize r{i} 6kb\n"));
            }
            if next(8) == 0 {
                src.push_str(&format!("trustlevel r{i} trusted\n"));
            }
        }
        src.push_str(&format!("numcopies {}\n", 1 + next(2)));
        if next(4) == 0 {
            src.push_str("rebalance on\n");
        }
        for f in 0..1 + next(12) {
            let ext = if next(2) == 0 { "x" } else { "y" };
            let r = next(u16::try_from(repos).unwrap_or(1));
            src.push_str(&format!("add f{f}.{ext} {}kb r{r}\n", 1 + next(4)));
        }
        src
    }

    /// Applies `src` (skipping commands the sim refuses, e.g. connecting
    /// a special remote).
    fn build(src: &str) -> Sim {
        let mut sim = Sim::new(1);
        let mut host = Detached::default();
        for c in parse(src).expect("parses") {
            let _ = sim.apply(c, &mut host);
        }
        sim
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        /// `step` over the unexpanded pool (and the snapshot of the last
        /// component's key) does exactly what it does over every
        /// component made and the whole state cloned: same state, same
        /// log, same notes, same outcome, step after step.
        #[test]
        fn pooled_step_is_the_plain_step(
            choices in proptest::collection::vec(0u16..1000, 64),
            steps in proptest::collection::vec(0i64..6, 1..5),
        ) {
            let src = random_sim(&choices);
            let mut fast = build(&src);
            let mut plain = fast.clone();
            for n in steps {
                let mut h1 = Detached::default();
                let mut h2 = Detached::default();
                let a = fast.step_with::<Pool>(false, n, &mut h1);
                let b = plain.step_with::<Vec<Component>>(false, n, &mut h2);
                proptest::prop_assert_eq!(a, b, "{}", src);
                proptest::prop_assert_eq!(&h1.notes, &h2.notes);
                proptest::prop_assert!(fast == plain, "state differs after step {n}:\n{src}");
            }
        }
    }

    /// The pool takes the `i`th untaken position as `Vec::remove` would,
    /// across word boundaries and chunk boundaries.
    #[test]
    fn pool_takes_as_vec_remove() {
        let (sim, _) = run("init a\ninit b\nconnect a <-> b\naddmulti 70 .x 1 1 a\n");
        let mut s1 = sim.clone();
        let chunks = s1.step_chunks(false);
        let mut pool = Pool::new(chunks.clone(), &sim.files);
        let mut v = <Vec<Component> as ComponentPool>::new(chunks, &sim.files);
        assert_eq!(pool.len(), 6 * 70);
        let mut x: u64 = 99;
        while !v.is_empty() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = usize::try_from(x % v.len() as u64).unwrap_or(0);
            let a = pool.take(i).expect("in range");
            let b = v.take(i).expect("in range");
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
            assert_eq!(pool.len(), v.len());
        }
        assert!(pool.take(0).is_none());
    }
}
