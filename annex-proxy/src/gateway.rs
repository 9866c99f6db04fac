//! A gateway: `git-annex-shell p2pstdio` (and `p2phttp`) asked for the
//! UUID of a remote this repository proxies for, or of one of its
//! clusters, serves the P2P protocol for it, as git-annex's proxy does.
//!
//! - A proxied remote: the client's requests go to the remote, its
//!   answers back; what the remote stores or drops is recorded in the
//!   gateway's location log too, so that those who sync with the gateway
//!   know.
//! - A cluster: `CHECKPRESENT` and `GET` go to the cheapest node that the
//!   gateway's location log says has the key, the least busy of those
//!   (fewest transfers in progress there) rather than one at random;
//!   `PUT` goes to every node that lacks the key and wants it by its
//!   preferred content (all that lack it when none wants it, all when
//!   every one has it), the content received **once** into one
//!   temporary file and sent from there to each node from its own
//!   offset; `REMOVE` to every node, answering which ones dropped it
//!   (`SUCCESS-PLUS`/`FAILURE-PLUS`); `LOCKCONTENT` fails (nodes lock
//!   content, not clusters); `GETTIMESTAMP` answers the gateway's clock
//!   and `REMOVE-BEFORE` is translated to each node's. A node that cannot
//!   be reached, or fails mid-way, is left out of the rest of the
//!   session.
//! - Several gateways of one cluster: a node that is the same cluster
//!   through another gateway is reached with `BYPASS` naming this gateway
//!   and those the client named, and a gateway the client bypasses is not
//!   used, so messages never loop.
//! - `annex.diskreserve` is kept free when the temporary file is written;
//!   the temporary file is removed whatever happens (and a dead gateway's
//!   at the next upload when no one holds `othertmp.lck`, which every
//!   upload holds shared while it lives).
//! - Protocol versions: a proxied remote is connected before the client
//!   is told the version, which is then the remote's (as the reference);
//!   a cluster answers the client's version, and each node is sent only
//!   what its own version knows.
//! - A `PUT`'s exchanges with the nodes run at once, at most `annex.jobs`
//!   (p2phttp: `--clusterjobs`) of them, on worker threads; a node that
//!   shows no life for `annex.rs-nodetimeout` seconds (default 600) is
//!   left out and its ssh killed.
//!
//! Nodes on this machine are served in-process ([`crate::server`] on
//! their repository, through pipes); nodes over ssh through their
//! `git-annex-shell p2pstdio`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use annex_core::branch::Branch;
use annex_core::config::AnnexConfig;
use annex_core::key::Key;
use annex_core::logs::trust::TrustLevel;
use annex_core::p2p::io::P2pError;
use annex_core::p2p::{MAX_PROTOCOL_VERSION, Message, P2pReader, P2pWriter};
use annex_core::preferred::{self, StateContext, eval::Item};
use annex_core::remote::ssh::{SshConfig, SshUrl, shell_quote, ssh_command};
use annex_core::state::State;
use annex_core::uuid::Uuid;

use crate::proxies::{self, GitRemote};
use crate::server::{Server, ServerMode, monotonic_seconds};

/// Why a gateway could not serve.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The gateway's repository could not be read.
    #[error("{0}")]
    Repository(String),
    /// The client's connection failed.
    #[error(transparent)]
    Connection(#[from] P2pError),
    /// The client broke the protocol, or gave up.
    #[error("{0}")]
    Protocol(String),
    /// A file of the gateway could not be written or read.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// What a client asked for that this repository proxies.
#[derive(Debug, Clone)]
pub enum Target {
    /// One remote.
    Remote(Box<GitRemote>),
    /// A cluster of this repository.
    Cluster(Uuid),
}

/// The gateway's repository, opened.
struct Gateway {
    path: PathBuf,
    uuid: Uuid,
    config: AnnexConfig,
    state: State,
    base: PathBuf,
    annex_dir: PathBuf,
}

fn open_gateway(path: &Path) -> Result<Gateway, GatewayError> {
    let bad = |e: &dyn std::fmt::Display| GatewayError::Repository(e.to_string());
    let repo = gix::open(path).map_err(|e| bad(&e))?;
    let repo = annex_core::config::with_overrides(repo);
    let config = AnnexConfig::from_repo(&repo, &[]).map_err(|e| bad(&e))?;
    let git_dir = repo.git_dir().to_path_buf();
    let base = repo.workdir().unwrap_or(&git_dir).to_path_buf();
    let uuid = config
        .uuid()
        .ok_or_else(|| GatewayError::Repository("no annex.uuid".into()))?;
    let branch = Branch::open(&git_dir).map_err(|e| bad(&e))?;
    Ok(Gateway {
        path: path.to_path_buf(),
        uuid,
        config,
        state: State::new(branch),
        base,
        annex_dir: git_dir.join("annex"),
    })
}

/// Whether the repository at `path` proxies for `target` (git-annex's
/// `checkCanProxy`): `Ok(None)` when it does not and knows nothing of
/// it; an error in git-annex's words when the target is a repository it
/// knows but is not configured to proxy for.
pub fn check_can_proxy(path: &Path, target: &Uuid) -> Result<Option<Target>, GatewayError> {
    let gw = open_gateway(path)?;
    let proxies = gw
        .state
        .proxies()
        .map_err(|e| GatewayError::Repository(e.to_string()))?;
    let Some(mine) = proxies.get(&gw.uuid) else {
        return Ok(None);
    };
    let not_configured = || -> Result<Option<Target>, GatewayError> {
        let descs = gw
            .state
            .descriptions()
            .map_err(|e| GatewayError::Repository(e.to_string()))?;
        match descs.get(target) {
            Some(d) => Err(GatewayError::Protocol(format!(
                "not configured to proxy for repository {}",
                String::from_utf8_lossy(d)
            ))),
            None => Ok(None),
        }
    };
    if !mine.iter().any(|p| p.uuid == target.as_str().as_bytes()) {
        return not_configured();
    }
    if annex_core::logs::cluster::is_cluster_uuid(target.as_str().as_bytes()) {
        let clusters = gw
            .state
            .clusters()
            .map_err(|e| GatewayError::Repository(e.to_string()))?;
        return if clusters.contains_key(target) {
            Ok(Some(Target::Cluster(target.clone())))
        } else {
            not_configured()
        };
    }
    let clusters = gw
        .state
        .clusters()
        .map_err(|e| GatewayError::Repository(e.to_string()))?;
    let remotes = proxies::by_cost(proxies::all_remotes(
        &gw.config, &gw.base, &proxies, &clusters,
    ));
    let my_clusters = proxies::my_clusters(&gw.config);
    match proxies::can_proxy_for(&remotes, mine, &my_clusters, target) {
        Some(r) => Ok(Some(Target::Remote(Box::new(r.clone())))),
        None => not_configured(),
    }
}

/// The two ends of a connection to a node.
struct NodeConn {
    r: P2pReader<Box<dyn Read + Send>>,
    w: P2pWriter<Box<dyn Write + Send>>,
    version: u64,
    end: NodeEnd,
}

impl NodeConn {
    /// How to release an exchange with the node that hangs: its ssh
    /// killed, or (a node served here) our end of the socket pair to it
    /// shut down, so that whoever is blocked on the connection (our
    /// worker, the node's thread) gets an error or the end of it.
    fn release(&self) -> Option<Release> {
        match &self.end {
            NodeEnd::Process(c) => Some(Release::Kill(c.id())),
            NodeEnd::Thread(_, sock) => sock
                .as_ref()
                .and_then(|s| s.try_clone().ok())
                .map(Release::Shutdown),
        }
    }
}

/// What runs the node's side, waited for when the connection closes.
enum NodeEnd {
    /// A node served here: its thread, and our end of the socket pair
    /// the two talk through.
    Thread(
        Option<std::thread::JoinHandle<()>>,
        Option<std::os::unix::net::UnixStream>,
    ),
    Process(Child),
}

/// Releases an exchange with a node that hangs (see [`NodeConn::release`]).
enum Release {
    Kill(u32),
    Shutdown(std::os::unix::net::UnixStream),
}

impl Release {
    fn fire(&self) {
        match self {
            Release::Kill(pid) => {
                if let Ok(pid) = i32::try_from(*pid)
                    && let Some(pid) = rustix::process::Pid::from_raw(pid)
                {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            }
            Release::Shutdown(sock) => {
                let _ = sock.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

impl NodeConn {
    fn close(self) {
        let NodeConn { r, w, end, .. } = self;
        drop(w);
        drop(r);
        match end {
            NodeEnd::Thread(h, sock) => {
                // The node sees the end of the connection even while a
                // clone of our end lives elsewhere.
                // Both ways: nothing is read from the node any more, and a
                // node blocked writing (a GET whose client went) must wake
                // up, or joining its thread would wait for ever.
                if let Some(sock) = sock {
                    let _ = sock.shutdown(std::net::Shutdown::Both);
                }
                if let Some(h) = h {
                    let _ = h.join();
                }
            }
            NodeEnd::Process(mut c) => {
                let _ = c.wait();
            }
        }
    }
}

/// A node (or the one proxied remote), connected at its first use.
struct Node {
    remote: GitRemote,
    uuid: Uuid,
    conn: Option<NodeConn>,
    /// Failed to connect, or failed mid-way: left out from now on.
    failed: bool,
}

impl Node {
    fn new(remote: GitRemote) -> Option<Node> {
        let uuid = remote.uuid.clone()?;
        Some(Node {
            remote,
            uuid,
            conn: None,
            failed: false,
        })
    }

    /// The connection, opened when first needed (`None` once it failed).
    fn conn(&mut self, ctx: &Ctx) -> Option<&mut NodeConn> {
        if self.failed {
            return None;
        }
        if self.conn.is_none() {
            match open_node(&self.remote, &self.uuid, ctx) {
                Ok(c) => self.conn = Some(c),
                Err(e) => {
                    eprintln!("git-annex-shell: cannot reach {}: {e}", self.remote.name);
                    self.failed = true;
                    return None;
                }
            }
        }
        self.conn.as_mut()
    }

    /// Gives the connection up (after a failure mid-way).
    fn fail(&mut self) {
        self.failed = true;
        if let Some(c) = self.conn.take() {
            c.close();
        }
    }

    fn close(&mut self) {
        if let Some(c) = self.conn.take() {
            c.close();
        }
    }

    /// Runs one exchange; a connection error leaves the node out.
    fn exchange<T>(
        &mut self,
        ctx: &Ctx,
        f: impl FnOnce(&mut NodeConn) -> Result<T, P2pError>,
    ) -> Option<T> {
        let c = self.conn(ctx)?;
        match f(c) {
            Ok(v) => Some(v),
            Err(e) => {
                // Said where the user sees it (stderr reaches them through
                // ssh); the node is left out of the rest of the session.
                eprintln!(
                    "git-annex-shell: lost the connection to {}: {e}",
                    self.remote.name
                );
                self.fail();
                None
            }
        }
    }

    /// How many transfers are in progress in the node's repository (on
    /// this machine; 0 when it cannot be told).
    fn busy(&self) -> usize {
        let Some(p) = &self.remote.local_path else {
            return 0;
        };
        // Canonical, as the node's repository is opened when it is served
        // here: the lock registry knows this process's transfer locks by
        // that spelling, and a lock file it does not recognise as its own
        // would be opened and closed, releasing the lock.
        let Some(g) = p
            .canonicalize()
            .ok()
            .and_then(|p| annex_core::remote::git_dir_of(&p))
        else {
            return 0;
        };
        annex_core::transfer::in_progress(&g).len()
    }
}

/// What a node connection needs from the session.
struct Ctx {
    gateway_uuid: Uuid,
    /// git's `core.sshCommand` of the gateway.
    ssh_command: Option<String>,
    version: u64,
    bypass: Vec<Uuid>,
    /// What serving a special remote node needs.
    special: Arc<SpecialCtx>,
}

/// The gateway's settings its special remotes are opened with.
struct SpecialCtx {
    config: AnnexConfig,
    git_dir: PathBuf,
    base: PathBuf,
    /// `remote.log`'s configurations, by UUID.
    logged: BTreeMap<Uuid, BTreeMap<String, String>>,
}

/// Opens the special remote of the gateway that `remote` is.
fn open_special(
    remote: &GitRemote,
    uuid: &Uuid,
    ctx: &SpecialCtx,
) -> Result<Box<dyn annex_core::remote::Remote>, String> {
    use annex_core::remote::special;
    let sr = special::configured(&ctx.config)
        .into_iter()
        .find(|s| s.name == remote.name)
        .ok_or_else(|| format!("no special remote {} here", remote.name))?;
    let sctx = special::Context {
        config: &ctx.config,
        git_dir: &ctx.git_dir,
        top: &ctx.base,
    };
    let logged = ctx.logged.get(uuid).cloned().unwrap_or_default();
    if crate::proxies::is_tree_remote(&logged) {
        // Its content is named by a tree, not by key.
        return Err(format!(
            "{} is an export or import remote; it cannot be proxied as a key store",
            remote.name
        ));
    }
    special::open(&sctx, &sr, uuid.clone(), logged).map_err(|e| e.to_string())
}

fn open_node(remote: &GitRemote, uuid: &Uuid, ctx: &Ctx) -> Result<NodeConn, String> {
    let (r, w, end): (Box<dyn Read + Send>, Box<dyn Write + Send>, NodeEnd) = if remote.special {
        // Served here, by this gateway in front of the special remote.
        let special = open_special(remote, uuid, &ctx.special)?;
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().map_err(|e| e.to_string())?;
        let ours_r = ours.try_clone().map_err(|e| e.to_string())?;
        let ours_ctl = ours.try_clone().map_err(|e| e.to_string())?;
        let theirs_r = theirs.try_clone().map_err(|e| e.to_string())?;
        let annex_dir = ctx.special.git_dir.join("annex");
        let gateway = ctx.gateway_uuid.clone();
        let h = std::thread::spawn(move || {
            let _ = crate::special_node::serve(&*special, &annex_dir, &gateway, theirs_r, theirs);
            let _ = special.commit();
        });
        (
            Box::new(ours_r),
            Box::new(ours),
            NodeEnd::Thread(Some(h), Some(ours_ctl)),
        )
    } else if let Some(path) = &remote.local_path {
        // A socket pair rather than pipes: our end can be shut down
        // from another thread, releasing a worker blocked on a hung
        // node (see `fan_out`).
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().map_err(|e| e.to_string())?;
        let ours_r = ours.try_clone().map_err(|e| e.to_string())?;
        let ours_ctl = ours.try_clone().map_err(|e| e.to_string())?;
        let theirs_r = theirs.try_clone().map_err(|e| e.to_string())?;
        let mut server = Server::open(path, ctx.gateway_uuid.clone(), ServerMode::ReadWrite)
            .map_err(|e| e.to_string())?;
        let h = std::thread::spawn(move || {
            let _ = server.serve(theirs_r, theirs);
        });
        (
            Box::new(ours_r),
            Box::new(ours),
            NodeEnd::Thread(Some(h), Some(ours_ctl)),
        )
    } else {
        let url = remote
            .url
            .as_deref()
            .and_then(SshUrl::parse)
            .ok_or_else(|| "not a remote over ssh or on this machine".to_string())?;
        let line = [
            remote
                .shell
                .clone()
                .unwrap_or_else(|| "git-annex-shell".to_string()),
            shell_quote("p2pstdio"),
            shell_quote(&url.path),
            shell_quote(ctx.gateway_uuid.as_str()),
            "--uuid".to_string(),
            uuid.as_str().to_string(),
        ]
        .join(" ");
        let ssh = SshConfig::for_content(remote.ssh_options.clone(), ctx.ssh_command.clone());
        let mut cmd = ssh_command(&url, &line, &ssh)?;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().map_err(|e| format!("cannot run ssh: {e}"))?;
        let (Some(out), Some(inp)) = (child.stdout.take(), child.stdin.take()) else {
            return Err("ssh has no pipes".into());
        };
        (Box::new(out), Box::new(inp), NodeEnd::Process(child))
    };
    let mut c = NodeConn {
        r: P2pReader::new(r),
        w: P2pWriter::new(w),
        version: 0,
        end,
    };
    match c.r.read_message() {
        Ok(Some(Message::AuthSuccess(u))) if &u == uuid => {}
        Ok(Some(Message::AuthSuccess(u))) => {
            c.close();
            return Err(format!("expected repository UUID {uuid} but found {u}"));
        }
        other => {
            c.close();
            return Err(format!("unexpected greeting {other:?}"));
        }
    }
    let handshake = (|| -> Result<u64, P2pError> {
        c.w.send(&Message::Version(ctx.version))?;
        let v = match c.r.read_message()? {
            Some(Message::Version(v)) => v.min(ctx.version),
            _ => 0,
        };
        if v >= 2 && !ctx.bypass.is_empty() {
            c.w.send(&Message::Bypass(ctx.bypass.clone()))?;
        }
        Ok(v)
    })();
    match handshake {
        Ok(v) => {
            c.version = v;
            Ok(c)
        }
        Err(e) => {
            c.close();
            Err(e.to_string())
        }
    }
}

/// How long a node may say nothing (no byte taken, no answer) in the
/// middle of an exchange before it is left out, unless
/// `annex.rs-nodetimeout` (seconds) says otherwise.
pub const DEFAULT_NODE_TIMEOUT: Duration = Duration::from_secs(600);

/// A file read from a position of its own (several nodes are sent the
/// one temporary file at once).
struct ReadAt {
    file: Arc<File>,
    pos: u64,
}

impl Read for ReadAt {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// One exchange with a node, run on a worker thread; given the
/// connection and a function to call whenever the node shows life.
type NodeJob<T> = dyn Fn(usize, &mut NodeConn, &dyn Fn()) -> Result<T, P2pError> + Send + Sync;

/// The nodes waiting for a worker: each with its connection and the
/// time it last showed life.
type NodeQueue = Arc<Mutex<VecDeque<(usize, NodeConn, Arc<AtomicU64>)>>>;

/// One client's session with a proxied remote or a cluster.
pub struct Session {
    /// Nodes worked with at once (`annex.jobs`, or p2phttp's
    /// `--clusterjobs`).
    jobs: usize,
    /// How long a node may say nothing mid-exchange.
    node_timeout: Duration,
    gw: Gateway,
    target: Uuid,
    cluster: bool,
    mode: ServerMode,
    nodes: Vec<Node>,
    ctx: Ctx,
    /// Each node's clock at the last `GETTIMESTAMP`, with ours then.
    timestamps: Option<(BTreeMap<usize, u64>, u64)>,
}

/// A node's answer to a removal: whether it succeeded, its error, and
/// the repositories it removed from.
type Removal = (bool, Option<String>, Vec<Uuid>);

/// How a request ended the session.
enum Flow {
    Continue,
    End,
}

impl Session {
    /// Prepares to serve `target` from the gateway at `path` to a client
    /// (nothing is connected yet).
    pub fn open(path: &Path, target: Target, mode: ServerMode) -> Result<Session, GatewayError> {
        let gw = open_gateway(path)?;
        let (uuid, cluster, remotes) = match target {
            Target::Remote(r) => {
                let u = r
                    .uuid
                    .clone()
                    .ok_or_else(|| GatewayError::Repository("remote without UUID".into()))?;
                (u, false, vec![*r])
            }
            Target::Cluster(cu) => {
                let remotes = cluster_nodes(&gw, &cu)?;
                (cu, true, remotes)
            }
        };
        let logged = gw
            .state
            .remotes()
            .map_err(|e| GatewayError::Repository(e.to_string()))?
            .iter()
            .map(|(u, c)| (u.clone(), annex_core::remote::special::strings(c)))
            .collect();
        let ctx = Ctx {
            gateway_uuid: gw.uuid.clone(),
            ssh_command: gw.config.get_str("core.sshCommand"),
            version: 0,
            bypass: Vec::new(),
            special: Arc::new(SpecialCtx {
                config: gw.config.clone(),
                git_dir: gw
                    .annex_dir
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default(),
                base: gw.base.clone(),
                logged,
            }),
        };
        let jobs = gw
            .config
            .get_str("annex.jobs")
            .and_then(|j| {
                if j == "cpus" {
                    std::thread::available_parallelism().map(|n| n.get()).ok()
                } else {
                    j.parse().ok()
                }
            })
            .unwrap_or(1usize)
            .max(1);
        let node_timeout = gw
            .config
            .get_str("annex.rs-nodetimeout")
            .and_then(|t| t.parse::<u64>().ok())
            .filter(|t| *t > 0)
            .map_or(DEFAULT_NODE_TIMEOUT, Duration::from_secs);
        Ok(Session {
            jobs,
            node_timeout,
            gw,
            target: uuid,
            cluster,
            mode,
            nodes: remotes.into_iter().filter_map(Node::new).collect(),
            ctx,
            timestamps: None,
        })
    }

    /// Works with at most `jobs` nodes at once (p2phttp's
    /// `--clusterjobs`; `annex.jobs` otherwise, 1 when unset).
    pub fn set_jobs(&mut self, jobs: usize) {
        self.jobs = jobs.max(1);
    }

    /// Runs `job` with each of the nodes `idxs` (connected first, one
    /// after another), at most [`Self::set_jobs`] at once, each on a
    /// thread of its own. A node that fails is named on stderr and left
    /// out; one that shows no life for the node timeout in the middle of
    /// its exchange is left out too (its ssh killed; for a node served
    /// here our end of the connection shut down, so that the worker and
    /// the node's thread are released and the temporary file closed), so
    /// that a hung node cannot stall the session. The answers, in the order of `idxs` (`None`: no answer).
    fn fan_out<T: Send + 'static>(
        &mut self,
        idxs: &[usize],
        job: Arc<NodeJob<T>>,
    ) -> Vec<Option<T>> {
        let mut results: BTreeMap<usize, Option<T>> = BTreeMap::new();
        let mut queue = VecDeque::new();
        let start = Instant::now();
        let mut outstanding: BTreeMap<usize, (Arc<AtomicU64>, Option<Release>)> = BTreeMap::new();
        for &i in idxs {
            let conn = {
                let ctx = &self.ctx;
                self.nodes[i].conn(ctx);
                self.nodes[i].conn.take()
            };
            match conn {
                Some(c) => {
                    let life = Arc::new(AtomicU64::new(0));
                    outstanding.insert(i, (life.clone(), c.release()));
                    queue.push_back((i, c, life));
                }
                None => {
                    results.insert(i, None);
                }
            }
        }
        let queue = Arc::new(Mutex::new(queue));
        let (tx, rx) = mpsc::channel::<(usize, NodeConn, Result<T, P2pError>)>();
        let worker = |queue: NodeQueue,
                      tx: mpsc::Sender<(usize, NodeConn, Result<T, P2pError>)>,
                      job: Arc<NodeJob<T>>| {
            move || {
                loop {
                    let next = match queue.lock() {
                        Ok(mut q) => q.pop_front(),
                        Err(_) => None,
                    };
                    let Some((i, mut conn, life)) = next else {
                        return;
                    };
                    let alive = || {
                        let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
                        life.store(ms.max(1), Ordering::Relaxed);
                    };
                    alive();
                    let r = job(i, &mut conn, &alive);
                    if let Err(std::sync::mpsc::SendError((_, conn, _))) = tx.send((i, conn, r)) {
                        // The fan-out is over (this node was left out):
                        // closed aside, as the node's thread may be slow to
                        // end, so that this worker lets go of the job (and
                        // the temporary file) at once.
                        std::thread::spawn(move || conn.close());
                    }
                }
            }
        };
        let spawn_worker = || {
            std::thread::spawn(worker(queue.clone(), tx.clone(), job.clone()));
        };
        for _ in 0..self.jobs.min(outstanding.len()) {
            spawn_worker();
        }
        let limit = u64::try_from(self.node_timeout.as_millis()).unwrap_or(u64::MAX);
        while !outstanding.is_empty() {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok((i, conn, r)) => {
                    if outstanding.remove(&i).is_none() {
                        // Given up on already: its answer came too late.
                        // Closed aside, as its node's thread may be slow
                        // to end.
                        std::thread::spawn(move || conn.close());
                        continue;
                    }
                    match r {
                        Ok(v) => {
                            self.nodes[i].conn = Some(conn);
                            results.insert(i, Some(v));
                        }
                        Err(e) => {
                            eprintln!(
                                "git-annex-shell: lost the connection to {}: {e}",
                                self.nodes[i].remote.name
                            );
                            self.nodes[i].failed = true;
                            conn.close();
                            results.insert(i, None);
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let now = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
                    let hung: Vec<usize> = outstanding
                        .iter()
                        .filter(|(_, (life, _))| {
                            let t = life.load(Ordering::Relaxed);
                            t != 0 && now.saturating_sub(t) > limit
                        })
                        .map(|(i, _)| *i)
                        .collect();
                    for i in hung {
                        let Some((_, release)) = outstanding.remove(&i) else {
                            continue;
                        };
                        eprintln!(
                            "git-annex-shell: {} did not answer for {} seconds; left out",
                            self.nodes[i].remote.name,
                            self.node_timeout.as_secs()
                        );
                        self.nodes[i].failed = true;
                        if let Some(release) = release {
                            release.fire();
                        }
                        results.insert(i, None);
                        // Its worker may be stuck: another takes its place.
                        spawn_worker();
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        idxs.iter().map(|i| results.remove(i).flatten()).collect()
    }

    /// The names of the nodes (or the proxied remote), cheapest first.
    pub fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.remote.name.clone()).collect()
    }

    /// Serves the client: greets with the target's UUID, negotiates the
    /// version (and `BYPASS` for a cluster), then proxies each request
    /// until the client closes the connection. The nodes' connections are
    /// closed (their repositories commit what they recorded) and the
    /// gateway's location log committed, whatever happened.
    pub fn serve<R: Read, W: Write>(&mut self, reader: R, writer: W) -> Result<(), GatewayError> {
        let mut r = P2pReader::new(reader);
        let mut w = P2pWriter::new(writer);
        let result = self.serve_inner(&mut r, &mut w);
        for n in &mut self.nodes {
            n.close();
        }
        let committed = self
            .gw
            .state
            .commit()
            .map(drop)
            .map_err(|e| GatewayError::Repository(e.to_string()));
        result.and(committed)
    }

    fn serve_inner<R: Read, W: Write>(
        &mut self,
        r: &mut P2pReader<R>,
        w: &mut P2pWriter<W>,
    ) -> Result<(), GatewayError> {
        w.send(&Message::AuthSuccess(self.target.clone()))?;
        let mut pending = None;
        match r.read_message()? {
            None => return Ok(()),
            Some(Message::Version(v)) => {
                self.ctx.version = v.min(MAX_PROTOCOL_VERSION);
                if !self.cluster {
                    // The remote is connected first, as the reference's
                    // proxy does, and the client told the version the
                    // remote speaks: an older remote is never sent what
                    // it does not know (a version 0 remote sends no
                    // VALID after a GET's DATA, which a version 1 client
                    // would wait for). A remote that cannot be reached
                    // leaves the client's version, and fails each request.
                    let ctx = &self.ctx;
                    if let Some(c) = self.nodes.first_mut().and_then(|n| n.conn(ctx)) {
                        self.ctx.version = self.ctx.version.min(c.version);
                    }
                }
                w.send(&Message::Version(self.ctx.version))?;
            }
            Some(other) => pending = Some(other),
        }
        let mut bypass: BTreeSet<Uuid> = BTreeSet::new();
        if self.cluster && pending.is_none() && self.ctx.version >= 2 {
            match r.read_message()? {
                None => return Ok(()),
                Some(Message::Bypass(b)) => bypass.extend(b),
                Some(other) => pending = Some(other),
            }
        }
        if self.cluster {
            self.apply_bypass(&bypass)?;
        }
        loop {
            let m = match pending.take() {
                Some(m) => m,
                None => match r.read_message() {
                    Ok(Some(m)) => m,
                    Ok(None) => return Ok(()),
                    Err(P2pError::Message(_)) => {
                        w.send(&Message::Error("protocol error".into()))?;
                        return Err(GatewayError::Protocol("protocol error".into()));
                    }
                    Err(e) => return Err(e.into()),
                },
            };
            match self.request(m, r, w)? {
                Flow::Continue => {}
                Flow::End => return Ok(()),
            }
        }
    }

    /// Leaves out nodes that are this cluster through a gateway the
    /// client bypasses (or this one), and tells the others to bypass
    /// them too. A client below version 2 knows no `BYPASS`, and the
    /// other gateways could not be told: the cluster through another
    /// gateway is left out altogether, else a request could go round
    /// from gateway to gateway (the reference keeps it).
    fn apply_bypass(&mut self, bypass: &BTreeSet<Uuid>) -> Result<(), GatewayError> {
        let mut all = bypass.clone();
        all.insert(self.gw.uuid.clone());
        let version = self.ctx.version;
        let target = self.target.clone();
        self.nodes
            .retain(|n| keeps_node(&n.remote, &n.uuid, &target, &all, version));
        self.ctx.bypass = all.into_iter().collect();
        Ok(())
    }

    fn request<R: Read, W: Write>(
        &mut self,
        m: Message,
        r: &mut P2pReader<R>,
        w: &mut P2pWriter<W>,
    ) -> Result<Flow, GatewayError> {
        match m {
            Message::CheckPresent(key) => {
                let answer = match self.node_containing(&key)? {
                    Some(i) => self.nodes[i]
                        .exchange(&self.ctx, |c| {
                            c.w.send(&Message::CheckPresent(key.clone()))?;
                            c.r.read_message()
                        })
                        .flatten(),
                    None => None,
                };
                w.send(&answer.unwrap_or(Message::Failure))?;
            }
            Message::LockContent(key) => {
                if self.cluster {
                    w.send(&Message::Failure)?;
                } else {
                    self.lock_content(key, r, w)?;
                }
            }
            Message::Remove(ref key) | Message::RemoveBefore { ref key, .. } => {
                if let Some(refusal) = self.refuse_removal() {
                    w.send(&refusal)?;
                } else {
                    let key = key.clone();
                    self.remove(&key, &m, w)?;
                }
            }
            Message::GetTimestamp => self.get_timestamp(w)?,
            Message::Get { offset, file, key } => return self.get(offset, file, key, r, w),
            Message::Put { file, key } => {
                if self.mode == ServerMode::ReadOnly {
                    w.send(&Message::Error(
                        "this repository is read-only; write access denied".into(),
                    ))?;
                } else {
                    return self.put(file, key, r, w);
                }
            }
            Message::Bypass(_) => {}
            Message::Connect(service) => {
                if service == annex_core::p2p::Service::ReceivePack
                    && self.mode != ServerMode::ReadWrite
                {
                    w.send(&Message::Error(
                        "this repository is read-only; write access denied".into(),
                    ))?;
                    return Ok(Flow::End);
                }
                return Err(GatewayError::Protocol(
                    "relaying to git not supported on this connection".into(),
                ));
            }
            Message::Error(msg) => {
                return Err(GatewayError::Protocol(format!("client error: {msg}")));
            }
            _ => {
                w.send(&Message::Error("protocol error".into()))?;
                return Err(GatewayError::Protocol("protocol error".into()));
            }
        }
        Ok(Flow::Continue)
    }

    fn refuse_removal(&self) -> Option<Message> {
        match self.mode {
            ServerMode::ReadOnly => Some(Message::Error(
                "this repository is read-only; write access denied".into(),
            )),
            ServerMode::AppendOnly => Some(Message::Error(
                "this repository is append-only; removal denied".into(),
            )),
            ServerMode::ReadWrite => None,
        }
    }

    /// The node to get the key from: for a proxied remote, the remote;
    /// for a cluster, among the cheapest nodes the location log says have
    /// it, the one with the fewest transfers in progress.
    fn node_containing(&mut self, key: &Key) -> Result<Option<usize>, GatewayError> {
        if !self.cluster {
            return Ok((!self.nodes.is_empty()).then_some(0));
        }
        // The cluster reached through another of its gateways is asked
        // for a key only nodes behind that gateway have (its cost puts it
        // after the nodes here that have it).
        let locs = self.locations(key)?;
        let having: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| !self.nodes[i].failed && locs.contains(&self.nodes[i].uuid))
            .collect();
        let candidates: Vec<(usize, f64, usize)> = having
            .into_iter()
            .map(|i| (i, self.nodes[i].remote.cost, self.nodes[i].busy()))
            .collect();
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        Ok(pick_node(&candidates, seed as usize))
    }

    fn lock_content<R: Read, W: Write>(
        &mut self,
        key: Key,
        r: &mut P2pReader<R>,
        w: &mut P2pWriter<W>,
    ) -> Result<(), GatewayError> {
        let Some(node) = self.nodes.first_mut() else {
            w.send(&Message::Failure)?;
            return Ok(());
        };
        let resp = node
            .exchange(&self.ctx, |c| {
                c.w.send(&Message::LockContent(key))?;
                c.r.read_message()
            })
            .flatten();
        match resp {
            Some(Message::Success) => {
                w.send(&Message::Success)?;
                // Held until the client says; relayed to the remote.
                match r.read_message()? {
                    Some(m) => {
                        node.exchange(&self.ctx, |c| c.w.send(&m));
                    }
                    None => {
                        // The client is gone: the remote keeps the lock
                        // for its retention time.
                        node.fail();
                    }
                }
            }
            Some(other) => w.send(&other)?,
            None => w.send(&Message::Failure)?,
        }
        Ok(())
    }

    fn record(&self, key: &Key, uuid: &Uuid, present: bool) {
        if let Err(e) = self.gw.state.set_present(key, uuid, present) {
            eprintln!("git-annex-shell: cannot record location of {key}: {e}");
        }
    }

    fn remove<W: Write>(
        &mut self,
        key: &Key,
        m: &Message,
        w: &mut P2pWriter<W>,
    ) -> Result<(), GatewayError> {
        if self.nodes.is_empty() {
            w.send(&Message::Failure)?;
            return Ok(());
        }
        let timestamps = self.timestamps.clone();
        let multi = self.nodes.len() > 1;
        // Sent to every node at once (at most `jobs` of them): a slow
        // node does not hold the others up. The message each is sent
        // depends on its own version, known once it is connected.
        let msg = m.clone();
        let key2 = key.clone();
        let idxs: Vec<usize> = (0..self.nodes.len()).collect();
        let answers = self.fan_out(
            &idxs,
            Arc::new(move |i, c: &mut NodeConn, _: &dyn Fn()| {
                let msg = match &msg {
                    Message::RemoveBefore { .. } if c.version < 3 => Message::Remove(key2.clone()),
                    Message::RemoveBefore { timestamp, .. } => {
                        let ts = match (&timestamps, multi) {
                            (Some((theirs, ours)), true) => match theirs.get(&i) {
                                Some(old) => old.saturating_add(*timestamp).saturating_sub(*ours),
                                None => *timestamp,
                            },
                            _ => *timestamp,
                        };
                        Message::RemoveBefore {
                            timestamp: ts,
                            key: key2.clone(),
                        }
                    }
                    other => other.clone(),
                };
                c.w.send(&msg)?;
                c.r.read_message()
            }),
        );
        let results: Vec<Option<Removal>> = idxs
            .iter()
            .zip(answers)
            .map(|(&i, resp)| {
                let node_uuid = self.nodes[i].uuid.clone();
                match resp.flatten() {
                    Some(Message::Success) => Some((true, None, vec![node_uuid])),
                    Some(Message::SuccessPlus(us)) => {
                        Some((true, None, std::iter::once(node_uuid).chain(us).collect()))
                    }
                    Some(Message::Failure) => Some((false, None, Vec::new())),
                    Some(Message::FailurePlus(us)) => Some((false, None, us)),
                    Some(Message::Error(e)) => Some((false, Some(e), Vec::new())),
                    _ => None,
                }
            })
            .collect();
        let us: Vec<Uuid> = results
            .iter()
            .flatten()
            .flat_map(|(_, _, us)| us.clone())
            .collect();
        for u in &us {
            self.record(key, u, false);
        }
        let nonplussed = us.iter().all(|u| *u == self.target) || self.ctx.version < 2;
        let all_ok = results.iter().all(|r| r.as_ref().is_some_and(|r| r.0));
        let reply = if all_ok {
            if nonplussed {
                Message::Success
            } else {
                Message::SuccessPlus(us)
            }
        } else if nonplussed {
            match results.iter().flatten().find_map(|r| r.1.clone()) {
                Some(e) => Message::Error(e),
                None => Message::Failure,
            }
        } else {
            Message::FailurePlus(us)
        };
        w.send(&reply)?;
        Ok(())
    }

    fn get_timestamp<W: Write>(&mut self, w: &mut P2pWriter<W>) -> Result<(), GatewayError> {
        // One node that knows GETTIMESTAMP (version 3): its own clock.
        if self.nodes.len() == 1
            && self.nodes[0]
                .conn(&self.ctx)
                .is_some_and(|c| c.version >= 3)
        {
            self.timestamps = None;
            let resp = self.nodes[0]
                .exchange(&self.ctx, |c| {
                    c.w.send(&Message::GetTimestamp)?;
                    c.r.read_message()
                })
                .flatten();
            match resp {
                Some(m @ Message::Timestamp(_)) => w.send(&m)?,
                _ => w.send(&Message::Error("unable to get a timestamp".into()))?,
            }
            return Ok(());
        }
        // Nodes older than version 3 know no GETTIMESTAMP (they are sent
        // REMOVE instead of REMOVE-BEFORE); the others are asked at once.
        let idxs: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| {
                self.nodes[i]
                    .conn(&self.ctx)
                    .is_some_and(|c| c.version >= 3)
            })
            .collect();
        let answers = self.fan_out(
            &idxs,
            Arc::new(|_, c: &mut NodeConn, _: &dyn Fn()| {
                c.w.send(&Message::GetTimestamp)?;
                c.r.read_message()
            }),
        );
        let mut theirs = BTreeMap::new();
        for (&i, resp) in idxs.iter().zip(answers) {
            if let Some(Some(Message::Timestamp(t))) = resp {
                theirs.insert(i, t);
            }
        }
        // Ours after theirs: a slow node shortens the time allowed.
        let ours = monotonic_seconds();
        self.timestamps = Some((theirs, ours));
        w.send(&Message::Timestamp(ours))?;
        Ok(())
    }

    fn get<R: Read, W: Write>(
        &mut self,
        offset: u64,
        file: Option<Vec<u8>>,
        key: Key,
        r: &mut P2pReader<R>,
        w: &mut P2pWriter<W>,
    ) -> Result<Flow, GatewayError> {
        let client_version = self.ctx.version;
        let Some(i) = self.node_containing(&key)? else {
            return self.get_from_nowhere(r, w);
        };
        let node = &mut self.nodes[i];
        let Some(c) = node.conn(&self.ctx) else {
            return self.get_from_nowhere(r, w);
        };
        let node_version = c.version;
        let sent = c.w.send(&Message::Get {
            offset,
            file,
            key: key.clone(),
        });
        let resp = match sent.and_then(|()| c.r.read_message()) {
            Ok(m) => m,
            Err(_) => {
                node.fail();
                return self.get_from_nowhere(r, w);
            }
        };
        match resp {
            Some(Message::Data(len)) => {
                w.send(&Message::Data(len))?;
                // From the node straight to the client.
                let copied = c.r.read_data(len, w.get_mut(), &mut |_| {});
                match copied {
                    Ok(()) => {}
                    Err(P2pError::Sink(e)) => {
                        node.fail();
                        return Err(GatewayError::Connection(P2pError::Sink(e)));
                    }
                    Err(e) => {
                        // The node is gone mid-way: the client cannot be
                        // given the rest, and the session ends.
                        node.fail();
                        return Err(GatewayError::Protocol(format!(
                            "{} failed while sending content: {e}",
                            self.nodes[i].remote.name
                        )));
                    }
                }
                w.get_mut().flush().map_err(|source| {
                    GatewayError::Connection(P2pError::Io {
                        what: "sending data",
                        source,
                    })
                })?;
                if client_version >= 1 {
                    // A version 0 node says nothing of validity (its
                    // client verifies the content, as ours does): the
                    // client, speaking version 1 or later to a cluster
                    // whose nodes may be older, is told it is valid
                    // rather than left waiting.
                    let validity = if node_version >= 1 {
                        node_read(node, &self.ctx)?
                    } else {
                        Message::Valid
                    };
                    w.send(&validity)?;
                }
                // The client's SUCCESS or FAILURE, on to the node.
                match r.read_message()? {
                    Some(m) => {
                        node.exchange(&self.ctx, |c| c.w.send(&m));
                        Ok(Flow::Continue)
                    }
                    None => Ok(Flow::End),
                }
            }
            Some(Message::Error(e)) => {
                w.send(&Message::Error(e))?;
                Ok(Flow::Continue)
            }
            _ => {
                node.fail();
                w.send(&Message::Error("protocol error".into()))?;
                Err(GatewayError::Protocol("protocol error".into()))
            }
        }
    }

    /// No node has it: empty `DATA`, said to be invalid.
    fn get_from_nowhere<R: Read, W: Write>(
        &mut self,
        r: &mut P2pReader<R>,
        w: &mut P2pWriter<W>,
    ) -> Result<Flow, GatewayError> {
        w.send_data(0, &mut std::io::empty(), &mut |_| {})?;
        if self.ctx.version != 0 {
            w.send(&Message::Invalid)?;
        }
        match r.read_message()? {
            Some(_) => Ok(Flow::Continue),
            None => Ok(Flow::End),
        }
    }

    /// Where the location log says the key is, the cluster counted as
    /// having it when one of its nodes has it, as git-annex reads
    /// location logs.
    fn locations(&self, key: &Key) -> Result<Vec<Uuid>, GatewayError> {
        let e = |x: &dyn std::fmt::Display| GatewayError::Repository(x.to_string());
        let mut locs = self.gw.state.whereis(key).map_err(|x| e(&x))?;
        let clusters = self.gw.state.clusters().map_err(|x| e(&x))?;
        if clusters
            .get(&self.target)
            .is_some_and(|nodes| locs.iter().any(|u| nodes.contains(u.as_str().as_bytes())))
            && !locs.contains(&self.target)
        {
            locs.push(self.target.clone());
        }
        Ok(locs)
    }

    /// The nodes to send a key to: those lacking it (the cluster through
    /// another gateway has it when a node has it).
    fn put_targets(&mut self, key: &Key, file: Option<&[u8]>) -> Result<Vec<usize>, GatewayError> {
        let all: Vec<usize> = (0..self.nodes.len()).collect();
        if !self.cluster {
            return Ok(all);
        }
        let locs = self.locations(key)?;
        let lacking: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&i| !locs.contains(&self.nodes[i].uuid))
            .collect();
        let wanting = self.wanting(key, file, &lacking)?;
        Ok(if !wanting.is_empty() {
            wanting
        } else if !lacking.is_empty() {
            lacking
        } else {
            all
        })
    }

    /// Those of `candidates` whose preferred content wants the key (no
    /// expression: wanted).
    fn wanting(
        &self,
        key: &Key,
        file: Option<&[u8]>,
        candidates: &[usize],
    ) -> Result<Vec<usize>, GatewayError> {
        let e = |e: &dyn std::fmt::Display| GatewayError::Repository(e.to_string());
        let state = &self.gw.state;
        let pref = state.preferred_content().map_err(|x| e(&x))?;
        let req = state.required_content().map_err(|x| e(&x))?;
        let gw_exprs = state.group_preferred_content().map_err(|x| e(&x))?;
        let ctx = StateContext::new(state, Some(self.gw.uuid.clone()), None, &self.gw.config)
            .map_err(|x| e(&x))?;
        let no_groups = BTreeSet::new();
        let mut out = Vec::new();
        for &i in candidates {
            let u = &self.nodes[i].uuid;
            let groups = ctx.groups().get(u).unwrap_or(&no_groups);
            let matcher = preferred::preferred_content_matcher(
                pref.get(u).map(Vec::as_slice),
                req.get(u).map(Vec::as_slice),
                groups,
                &gw_exprs,
            );
            let wants = match matcher {
                None => true,
                Some(m) => {
                    let item = match file {
                        Some(f) => Item::file(f, Some(key)),
                        None => Item::key(key),
                    }
                    .for_repo(Some(u));
                    m.matches(&ctx, &item).unwrap_or(false)
                }
            };
            if wants {
                out.push(i);
            }
        }
        Ok(out)
    }

    fn put<R: Read, W: Write>(
        &mut self,
        file: Option<Vec<u8>>,
        key: Key,
        r: &mut P2pReader<R>,
        w: &mut P2pWriter<W>,
    ) -> Result<Flow, GatewayError> {
        // The gateway's disk reserve, checked before any node is asked:
        // the content is taken and refused, and no node is touched.
        if let Some(size) = key.size()
            && let Some(need) = self.space_shortfall(size)
        {
            return self.refuse_for_space(need, r, w);
        }
        let targets = self.put_targets(&key, file.as_deref())?;
        if targets.is_empty() {
            w.send(&Message::AlreadyHave)?;
            return Ok(Flow::Continue);
        }
        // Each node's answer: where it resumes from, or that it has it.
        let mut resuming: Vec<(usize, u64)> = Vec::new();
        let mut have: Vec<usize> = Vec::new();
        let mut failed = 0usize;
        let mut plus_from_single = None;
        let put = Message::Put {
            file: file.clone(),
            key: key.clone(),
        };
        let answers = self.fan_out(
            &targets,
            Arc::new(move |_, c: &mut NodeConn, _: &dyn Fn()| {
                c.w.send(&put)?;
                c.r.read_message()
            }),
        );
        for (&i, resp) in targets.iter().zip(answers) {
            match resp.flatten() {
                Some(Message::PutFrom(off)) => resuming.push((i, off)),
                Some(Message::AlreadyHave) => have.push(i),
                Some(m @ Message::AlreadyHavePlus(_)) if !self.cluster => {
                    plus_from_single = Some(m);
                    have.push(i);
                }
                Some(Message::Error(e)) if !self.cluster => {
                    w.send(&Message::Error(e))?;
                    return Ok(Flow::Continue);
                }
                Some(_) => {
                    self.nodes[i].fail();
                    failed += 1;
                }
                None => failed += 1,
            }
        }
        // Every node has it, or some do and the others failed: the
        // cluster has it.
        if resuming.is_empty() && (failed == 0 || !have.is_empty()) {
            let reply = match plus_from_single {
                Some(m) => m,
                None if self.ctx.version < 2 || !self.cluster => Message::AlreadyHave,
                None => Message::AlreadyHavePlus(
                    have.iter()
                        .map(|&i| self.nodes[i].uuid.clone())
                        .filter(|u| *u != self.target)
                        .collect(),
                ),
            };
            w.send(&reply)?;
            return Ok(Flow::Continue);
        }
        if resuming.is_empty() {
            let e = format!("no node of {} could be reached to store {key}", self.target);
            eprintln!("git-annex-shell: {e}");
            // The client is told before the session ends.
            let _ = w.send(&Message::Error(e.clone()));
            return Err(GatewayError::Protocol(e));
        }
        let min_offset = resuming.iter().map(|(_, o)| *o).min().unwrap_or(0);
        w.send(&Message::PutFrom(min_offset))?;
        match r.read_message()? {
            Some(Message::Data(len)) => self.put_data(&key, min_offset, len, &resuming, r, w),
            Some(Message::DataPresent) if self.ctx.version >= 4 => {
                let mut stored = Vec::new();
                for &(i, _) in &resuming {
                    // A node older than version 4 knows no DATA-PRESENT:
                    // it waits for DATA, so its connection is given up.
                    if self.nodes[i].conn(&self.ctx).is_none_or(|c| c.version < 4) {
                        self.nodes[i].fail();
                        continue;
                    }
                    let resp = self.nodes[i]
                        .exchange(&self.ctx, |c| {
                            c.w.send(&Message::DataPresent)?;
                            c.r.read_message()
                        })
                        .flatten();
                    stored.extend(self.record_put(&key, i, resp));
                }
                self.reply_stored(stored, w)?;
                Ok(Flow::Continue)
            }
            None => {
                for &(i, _) in &resuming {
                    self.nodes[i].fail();
                }
                Ok(Flow::End)
            }
            Some(_) => {
                w.send(&Message::Error("protocol error".into()))?;
                Err(GatewayError::Protocol("protocol error".into()))
            }
        }
    }

    /// Records what a node's answer to the end of a `PUT` says it stored
    /// (the repositories it names too).
    fn record_put(&self, key: &Key, i: usize, resp: Option<Message>) -> Vec<Uuid> {
        let u = self.nodes[i].uuid.clone();
        let stored: Vec<Uuid> = match resp {
            Some(Message::Success) => vec![u],
            Some(Message::SuccessPlus(us)) => std::iter::once(u).chain(us).collect(),
            _ => Vec::new(),
        };
        for s in &stored {
            self.record(key, s, true);
        }
        stored
    }

    fn reply_stored<W: Write>(
        &self,
        stored: Vec<Uuid>,
        w: &mut P2pWriter<W>,
    ) -> Result<(), GatewayError> {
        let reply = if stored.is_empty() {
            Message::Failure
        } else if self.ctx.version < 2 || stored.iter().all(|u| *u == self.target) {
            Message::Success
        } else {
            Message::SuccessPlus(stored)
        };
        w.send(&reply)?;
        Ok(())
    }

    /// The path of the temporary file of an upload of `key`, in a
    /// directory of its own.
    fn tmp_path(&self, key: &Key) -> PathBuf {
        upload_tmp_path(&self.gw.annex_dir, key)
    }

    /// Bytes missing on the gateway's disk to hold `size` bytes and keep
    /// `annex.diskreserve` (default 100 MB) free; `None` when there is room.
    fn space_shortfall(&self, size: u64) -> Option<u64> {
        let reserve = self
            .gw
            .config
            .get_str("annex.diskreserve")
            .and_then(|v| annex_core::transfer::parse_size(&v))
            .unwrap_or(100_000_000);
        annex_core::transfer::space_shortfall(&self.gw.annex_dir, size.max(1), reserve, 0)
    }

    /// Tells the client's user (stderr reaches them through ssh) why.
    fn say_no_space(&self, need: u64) {
        eprintln!(
            "git-annex-shell: not enough free space on the gateway {}, need {} more (annex.diskreserve)",
            self.gw.path.display(),
            annex_core::units::rough_size(
                &annex_core::units::STORAGE_UNITS,
                false,
                u128::from(need)
            )
        );
    }

    /// Refuses a `PUT` for want of space on the gateway: the content is
    /// taken and thrown away, and the answer is `FAILURE`.
    fn refuse_for_space<R: Read, W: Write>(
        &mut self,
        need: u64,
        r: &mut P2pReader<R>,
        w: &mut P2pWriter<W>,
    ) -> Result<Flow, GatewayError> {
        self.say_no_space(need);
        w.send(&Message::PutFrom(0))?;
        match r.read_message()? {
            Some(Message::Data(len)) => self.discard_data(len, r, w),
            Some(Message::DataPresent) => {
                w.send(&Message::Failure)?;
                Ok(Flow::Continue)
            }
            None => Ok(Flow::End),
            Some(_) => {
                w.send(&Message::Error("protocol error".into()))?;
                Err(GatewayError::Protocol("protocol error".into()))
            }
        }
    }

    /// Reads a `DATA`'s bytes (and the validity after) without keeping
    /// them, then answers `FAILURE`.
    fn discard_data<R: Read, W: Write>(
        &mut self,
        len: u64,
        r: &mut P2pReader<R>,
        w: &mut P2pWriter<W>,
    ) -> Result<Flow, GatewayError> {
        r.read_data(len, &mut std::io::sink(), &mut |_| {})?;
        if self.ctx.version >= 1 && r.read_message()?.is_none() {
            return Ok(Flow::End);
        }
        w.send(&Message::Failure)?;
        Ok(Flow::Continue)
    }

    /// Receives the client's `DATA` once into one temporary file, then
    /// sends it to each node from its own offset.
    fn put_data<R: Read, W: Write>(
        &mut self,
        key: &Key,
        min_offset: u64,
        len: u64,
        resuming: &[(usize, u64)],
        r: &mut P2pReader<R>,
        w: &mut P2pWriter<W>,
    ) -> Result<Flow, GatewayError> {
        // Both numbers come from the client.
        let Some(total) = min_offset.checked_add(len) else {
            return Err(GatewayError::Protocol(format!(
                "DATA {len} at offset {min_offset} is beyond any size"
            )));
        };
        let tmp = self.tmp_path(key);
        let io = |what: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| GatewayError::Io { what, path, source }
        };
        if let Some(need) = self.space_shortfall(len) {
            // The nodes were told to expect data: they are let go.
            for &(i, _) in resuming {
                self.nodes[i].fail();
            }
            self.say_no_space(need);
            return self.discard_data(len, r, w);
        }
        let othertmp = self.gw.annex_dir.join("othertmp");
        std::fs::create_dir_all(&othertmp).map_err(io("create", &othertmp))?;
        remove_stale_tmp(&self.gw.annex_dir);
        // `othertmp.lck` is held shared while the upload lives, as
        // git-annex does while it has files in othertmp: no one cleans
        // othertmp meanwhile.
        let lock_path = self.gw.annex_dir.join("othertmp.lck");
        let lock = annex_core::lockfile::shared(&lock_path).map_err(io("lock", &lock_path))?;
        // Removed (with its directory) when dropped, at the end of this
        // upload whatever happens; never a file this upload did not make.
        let (upload, f) = UploadTmp::create(tmp, lock)?;
        let tmp = upload.path.clone();
        let mut f = f;
        let result = (|| -> Result<Flow, GatewayError> {
            {
                let mut out = std::io::BufWriter::with_capacity(1 << 20, &mut f);
                match r.read_data(len, &mut out, &mut |_| {}) {
                    Ok(()) => {}
                    Err(e) => {
                        // The client is gone mid-DATA: the nodes were told
                        // nothing yet; their connections are closed.
                        for &(i, _) in resuming {
                            self.nodes[i].fail();
                        }
                        return Err(e.into());
                    }
                }
                out.flush().map_err(io("write", &tmp))?;
            }
            let validity = if self.ctx.version >= 1 {
                match r.read_message()? {
                    Some(m @ (Message::Valid | Message::Invalid)) => Some(m),
                    Some(_) => {
                        w.send(&Message::Error("protocol error".into()))?;
                        return Err(GatewayError::Protocol("protocol error".into()));
                    }
                    None => {
                        for &(i, _) in resuming {
                            self.nodes[i].fail();
                        }
                        return Ok(Flow::End);
                    }
                }
            } else {
                None
            };
            // Sent to the nodes at once (at most `jobs` of them), each
            // from its own offset of the one temporary file.
            let file = Arc::new(f);
            let offsets: BTreeMap<usize, u64> = resuming.iter().copied().collect();
            let idxs: Vec<usize> = resuming.iter().map(|(i, _)| *i).collect();
            let answers = self.fan_out(
                &idxs,
                Arc::new(move |i, c: &mut NodeConn, alive: &dyn Fn()| {
                    let off = offsets.get(&i).copied().unwrap_or(min_offset);
                    let node_len = total.saturating_sub(off);
                    let skip = off.saturating_sub(min_offset).min(len);
                    let mut src = ReadAt {
                        file: file.clone(),
                        pos: skip,
                    }
                    .take(node_len);
                    c.w.send_data(node_len, &mut src, &mut |_| alive())?;
                    if c.version >= 1
                        && let Some(v) = &validity
                    {
                        c.w.send(v)?;
                    }
                    alive();
                    c.r.read_message()
                }),
            );
            let mut stored = Vec::new();
            for (&i, resp) in idxs.iter().zip(answers) {
                stored.extend(self.record_put(key, i, resp.flatten()));
            }
            self.reply_stored(stored, w)?;
            Ok(Flow::Continue)
        })();
        drop(upload);
        result
    }
}

/// Numbers the temporary files of uploads: one counter for the whole
/// process, since `p2phttp` runs many sessions in one, and two of them
/// uploading the same key at once must not share a file.
static UPLOAD_SERIAL: AtomicU64 = AtomicU64::new(0);

/// Removes the temporary files of gateways that died mid-upload
/// (killed, or the machine restarted): the `othertmp/proxy.*`
/// directories, when no one holds `othertmp.lck` (every live upload, of
/// this process or another, holds it shared; a process id says nothing
/// of liveness across PID namespaces or without `/proc`).
pub(crate) fn remove_stale_tmp(annex_dir: &Path) {
    let dir = annex_dir.join("othertmp");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let stale: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with("proxy."))
        })
        .map(|e| e.path())
        .collect();
    if stale.is_empty() {
        return;
    }
    let _ = annex_core::lockfile::with_exclusive_if_free(&annex_dir.join("othertmp.lck"), || {
        for p in stale {
            let _ = std::fs::remove_dir_all(p);
        }
    });
}

/// A fresh path for the temporary file of an upload of `key` into the
/// gateway whose annex directory is `annex_dir`:
/// `othertmp/proxy.PID.N/KEY`, `N` never given twice in this process.
fn upload_tmp_path(annex_dir: &Path, key: &Key) -> PathBuf {
    let n = UPLOAD_SERIAL.fetch_add(1, Ordering::Relaxed) + 1;
    annex_dir
        .join("othertmp")
        .join(format!("proxy.{}.{n}", std::process::id()))
        .join(String::from_utf8_lossy(&annex_core::objects::key_file(key)).into_owned())
}

/// The temporary file of one upload, removed (and its directory, when
/// this upload made it) when dropped; a file or directory that was
/// there already is someone else's and left alone.
struct UploadTmp {
    path: PathBuf,
    /// The directory, when this upload made it.
    made_dir: Option<PathBuf>,
    /// The shared lock on `othertmp.lck`, released once the file is gone.
    _lock: annex_core::lockfile::SharedLock,
}

impl UploadTmp {
    /// Makes the file at `path` (which must not exist), and its
    /// directory if needed, opened to read and write; `lock` is held
    /// until it is removed.
    fn create(
        path: PathBuf,
        lock: annex_core::lockfile::SharedLock,
    ) -> Result<(UploadTmp, File), GatewayError> {
        let io = |what: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| GatewayError::Io { what, path, source }
        };
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if let Some(up) = dir.parent() {
            std::fs::create_dir_all(up).map_err(io("create", up))?;
        }
        let made_dir = match std::fs::create_dir(&dir) {
            Ok(()) => Some(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => None,
            Err(e) => return Err(io("create", &dir)(e)),
        };
        let f = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path);
        match f {
            Ok(f) => Ok((
                UploadTmp {
                    path,
                    made_dir,
                    _lock: lock,
                },
                f,
            )),
            Err(e) => {
                if let Some(d) = &made_dir {
                    let _ = std::fs::remove_dir(d);
                }
                Err(io("write", &path)(e))
            }
        }
    }
}

impl Drop for UploadTmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        if let Some(d) = &self.made_dir {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// Among `(node, cost, transfers in progress)` (cheapest first), the
/// node to get from: of the cheapest, those with the fewest transfers in
/// progress, one of them picked by `seed`.
fn pick_node(candidates: &[(usize, f64, usize)], seed: usize) -> Option<usize> {
    let lowest = candidates.first()?.1;
    let same: Vec<&(usize, f64, usize)> = candidates.iter().filter(|c| c.1 == lowest).collect();
    let least = same.iter().map(|c| c.2).min()?;
    let idle: Vec<usize> = same.iter().filter(|c| c.2 == least).map(|c| c.0).collect();
    idle.get(seed % idle.len().max(1)).copied()
}

fn node_read(node: &mut Node, ctx: &Ctx) -> Result<Message, GatewayError> {
    match node.exchange(ctx, |c| c.r.read_message()).flatten() {
        Some(m) => Ok(m),
        None => Err(GatewayError::Protocol(format!(
            "{} closed the connection",
            node.remote.name
        ))),
    }
}

/// Whether a node of cluster `target` is used by a session of protocol
/// `version` bypassing the gateways `bypass`: a node that is the cluster
/// itself through another gateway only when that gateway is not bypassed
/// and the session can tell it what to bypass (version 2 and up).
fn keeps_node(
    remote: &GitRemote,
    uuid: &Uuid,
    target: &Uuid,
    bypass: &BTreeSet<Uuid>,
    version: u64,
) -> bool {
    match &remote.proxied_by {
        Some(p) if uuid == target => version >= 2 && !bypass.contains(p),
        _ => true,
    }
}

/// The nodes of a cluster this gateway reaches, cheapest first (git-annex's
/// `clusterProxySelector`): its remotes that are nodes of the cluster by
/// their `annex-cluster-node` (for a cluster of this repository's, named
/// as here) and are recorded in `cluster.log` (dead ones left out), and
/// the cluster itself through other gateways of it.
fn cluster_nodes(gw: &Gateway, cu: &Uuid) -> Result<Vec<GitRemote>, GatewayError> {
    let e = |x: &dyn std::fmt::Display| GatewayError::Repository(x.to_string());
    let clusters = gw.state.clusters().map_err(|x| e(&x))?;
    let dead: BTreeSet<Uuid> = gw
        .state
        .trust(&gw.config)
        .map_err(|x| e(&x))?
        .into_iter()
        .filter(|(_, t)| *t == TrustLevel::Dead)
        .map(|(u, _)| u)
        .collect();
    let clusters = annex_core::logs::cluster::without_dead_nodes(clusters, &dead);
    let nodes = clusters.get(cu).cloned().unwrap_or_default();
    let proxies = gw.state.proxies().map_err(|x| e(&x))?;
    let remotes = proxies::by_cost(proxies::all_remotes(
        &gw.config, &gw.base, &proxies, &clusters,
    ));
    let my_clusters = proxies::my_clusters(&gw.config);
    let is_name = |n: &String| my_clusters.get(n) == Some(cu);
    let out = remotes
        .iter()
        .filter(|r| match &r.cluster_node {
            Some(names) => {
                names.iter().any(is_name)
                    && r.uuid
                        .as_ref()
                        .is_some_and(|u| nodes.contains(u.as_str().as_bytes()))
            }
            None => {
                // The cluster through another of its gateways.
                r.uuid.as_ref() == Some(cu)
                    && r.proxied_by.as_ref().is_some_and(|p| {
                        *p != gw.uuid
                            && remotes.iter().any(|g| {
                                g.uuid.as_ref() == Some(p) && g.cluster_gateway.contains(cu)
                            })
                    })
            }
        })
        .cloned()
        .collect();
    Ok(out)
}

/// The targets the repository at `path` is a gateway for (each proxied
/// remote and cluster it is configured for), by UUID; none when it cannot
/// be read.
pub fn proxied_targets(path: &Path) -> Vec<(Uuid, Target)> {
    let Ok(gw) = open_gateway(path) else {
        return Vec::new();
    };
    let mine = gw
        .state
        .proxies()
        .ok()
        .and_then(|mut p| p.remove(&gw.uuid))
        .unwrap_or_default();
    mine.iter()
        .filter_map(|p| Uuid::parse(&p.uuid).ok())
        .filter_map(|u| match check_can_proxy(path, &u) {
            Ok(Some(t)) => Some((u, t)),
            _ => None,
        })
        .collect()
}

/// Serves `target` from the gateway at `path` on a thread, over the
/// given pipe ends (as `p2phttp` runs each request's session), working
/// with `jobs` nodes at once.
pub fn spawn(
    path: &Path,
    target: Target,
    mode: ServerMode,
    jobs: usize,
    reader: std::io::PipeReader,
    writer: std::io::PipeWriter,
) -> Result<std::thread::JoinHandle<Result<(), crate::server::ServerError>>, GatewayError> {
    let mut session = Session::open(path, target, mode)?;
    session.set_jobs(jobs);
    let path = path.to_path_buf();
    Ok(std::thread::spawn(move || {
        session.serve(reader, writer).map_err(|e| match e {
            GatewayError::Connection(c) => crate::server::ServerError::Connection(c),
            other => crate::server::ServerError::Io {
                what: "proxy for",
                path,
                source: std::io::Error::other(other.to_string()),
            },
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gets_go_to_the_least_busy_of_the_cheapest_nodes() {
        // Node 0 is busy, node 1 idle, node 2 idle but dearer.
        let c = [(0, 100.0, 2), (1, 100.0, 0), (2, 200.0, 0)];
        for seed in 0..10 {
            assert_eq!(pick_node(&c, seed), Some(1));
        }
        // Equally busy: either of the cheapest, never the dearer one.
        let c = [(0, 100.0, 1), (1, 100.0, 1), (2, 200.0, 0)];
        let picked: BTreeSet<usize> = (0..10).filter_map(|s| pick_node(&c, s)).collect();
        assert_eq!(picked, BTreeSet::from([0, 1]));
        assert_eq!(pick_node(&[], 3), None);
    }

    #[test]
    fn a_version_1_client_is_not_sent_round_through_another_gateway() {
        let cu = Uuid::parse(b"aaaaaaaa-0000-8000-8000-000000000001").expect("uuid");
        let other_gw = Uuid::parse(b"bbbbbbbb-0000-4000-8000-000000000002").expect("uuid");
        let node = Uuid::parse(b"cccccccc-0000-4000-8000-000000000003").expect("uuid");
        let mut via = GitRemote {
            name: "NYC-c".into(),
            uuid: Some(cu.clone()),
            url: None,
            cost: 200.0,
            proxy: false,
            cluster_node: None,
            cluster_gateway: Vec::new(),
            proxied_by: Some(other_gw.clone()),
            sync: true,
            local_path: None,
            shell: None,
            ssh_options: Vec::new(),
            special: false,
        };
        let none = BTreeSet::new();
        // The cluster through another gateway: kept from version 2 when
        // not bypassed, never below.
        assert!(keeps_node(&via, &cu, &cu, &none, 2));
        assert!(keeps_node(&via, &cu, &cu, &none, 4));
        assert!(!keeps_node(&via, &cu, &cu, &none, 1));
        assert!(!keeps_node(&via, &cu, &cu, &none, 0));
        let bypassed = BTreeSet::from([other_gw.clone()]);
        assert!(!keeps_node(&via, &cu, &cu, &bypassed, 4));
        // A node proxied by another gateway (not the cluster) is kept.
        assert!(keeps_node(&via, &node, &cu, &none, 1));
        // A node of this gateway's is kept whatever the version.
        via.proxied_by = None;
        assert!(keeps_node(&via, &node, &cu, &none, 0));
    }

    #[test]
    fn a_timed_out_node_served_here_does_not_keep_its_worker_and_temp_file_forever() {
        let repo = test_support::new_git_repo();
        test_support::git(
            repo.path(),
            &[
                "config",
                "annex.uuid",
                "00000000-0000-4000-8000-000000000001",
            ],
        );
        test_support::git(repo.path(), &["config", "annex.rs-nodetimeout", "1"]);
        let mut session = Session::open(
            repo.path(),
            Target::Cluster(Uuid::parse(b"00000000-0000-4000-8000-0000000000c1").expect("uuid")),
            ServerMode::ReadWrite,
        )
        .expect("session");
        // A node served here that hangs: its thread takes nothing from the
        // connection until the test ends.
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().expect("socketpair");
        let (hang_tx, hang_rx) = mpsc::channel::<()>();
        let node = std::thread::spawn(move || {
            let _ = hang_rx.recv();
            drop(theirs);
        });
        let conn = NodeConn {
            r: P2pReader::new(Box::new(ours.try_clone().expect("clone"))),
            w: P2pWriter::new(Box::new(ours.try_clone().expect("clone"))),
            version: 1,
            end: NodeEnd::Thread(Some(node), Some(ours)),
        };
        let remote = GitRemote {
            name: "hung".into(),
            uuid: Some(Uuid::parse(b"00000000-0000-4000-8000-000000000002").expect("uuid")),
            url: None,
            cost: 100.0,
            proxy: false,
            cluster_node: None,
            cluster_gateway: Vec::new(),
            proxied_by: None,
            sync: true,
            local_path: None,
            shell: None,
            ssh_options: Vec::new(),
            special: false,
        };
        let mut n = Node::new(remote).expect("node");
        n.conn = Some(conn);
        session.nodes = vec![n];
        // The job holds the temporary file as a put does.
        let tmp = Arc::new(tempfile::tempfile().expect("tempfile"));
        let held = tmp.clone();
        let answers = session.fan_out(
            &[0],
            Arc::new(move |_, c: &mut NodeConn, alive: &dyn Fn()| {
                let _file = &held;
                let big = 64 << 20;
                c.w.send_data(big, &mut std::io::repeat(b'x').take(big), &mut |_| alive())?;
                c.r.read_message()
            }),
        );
        assert!(answers[0].is_none());
        assert!(session.nodes[0].failed);
        // The worker was released: it let go of the job and its file.
        let end = Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&tmp) > 1 {
            assert!(
                Instant::now() < end,
                "the worker still holds the temporary file"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(hang_tx);
    }

    /// Regression: closing a connection to a node served here shut down
    /// only our writing side, so a node blocked writing to us (a GET
    /// whose client went) never woke up, and joining its thread waited
    /// for ever. Both sides are shut down now.
    #[test]
    fn closing_a_node_blocked_writing_to_us_ends() {
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().expect("socketpair");
        let node = std::thread::spawn(move || {
            let mut theirs = theirs;
            // Far more than the socket buffers: blocks until shut down.
            let _ = std::io::copy(&mut std::io::repeat(b'x').take(256 << 20), &mut theirs);
        });
        // A clone of our end kept elsewhere, as a session keeps one to
        // end a timed-out node: closing our descriptors alone does not end
        // the connection.
        let kept = ours.try_clone().expect("clone");
        let conn = NodeConn {
            r: P2pReader::new(Box::new(ours.try_clone().expect("clone"))),
            w: P2pWriter::new(Box::new(ours.try_clone().expect("clone"))),
            version: 1,
            end: NodeEnd::Thread(Some(node), Some(ours)),
        };
        std::thread::sleep(Duration::from_millis(200));
        let (done_tx, done_rx) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            conn.close();
            let _ = done_tx.send(());
        });
        assert!(
            done_rx.recv_timeout(Duration::from_secs(10)).is_ok(),
            "closing the connection waited for ever on the node"
        );
        drop(kept);
    }

    /// Regression: the busy count of a node on this machine configured by
    /// a path that is not canonical (`../node`) asked about its transfer
    /// locks by that spelling, which the lock registry did not know as
    /// this process's: the lock files were opened and closed, releasing
    /// the transfer locks of the node served here. They survive it now.
    #[test]
    fn the_busy_count_of_a_node_by_a_relative_path_keeps_its_transfer_locks() {
        let repo = test_support::new_git_repo();
        let canonical = repo.path().canonicalize().expect("canonical");
        let git_dir = canonical.join(".git");
        let uuid = Uuid::parse(b"00000000-0000-4000-8000-000000000002").expect("uuid");
        let t = annex_core::transfer::Transfer::start(
            &git_dir,
            annex_core::transfer::Direction::Download,
            &uuid,
            &key(),
            b"f",
            false,
        )
        .expect("start");
        let p = annex_core::transfer::paths(
            &git_dir,
            annex_core::transfer::Direction::Download,
            &uuid,
            &key(),
        );
        let name = canonical.file_name().expect("name").to_os_string();
        let aliased = canonical.join("..").join(name);
        let remote = GitRemote {
            name: "here".into(),
            uuid: Some(uuid.clone()),
            url: None,
            cost: 100.0,
            proxy: false,
            cluster_node: None,
            cluster_gateway: Vec::new(),
            proxied_by: None,
            sync: true,
            local_path: Some(aliased),
            shell: None,
            ssh_options: Vec::new(),
            special: false,
        };
        let n = Node::new(remote).expect("node");
        assert_eq!(n.busy(), 1);
        let probe = std::process::Command::new("python3")
            .arg("-c")
            .arg("import fcntl,sys\nf=open(sys.argv[1],'r+')\ntry:\n fcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB)\n print('taken')\nexcept OSError:\n print('held')")
            .arg(&p.lock)
            .output()
            .expect("python3");
        assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "held");
        t.finish(true);
    }

    fn key() -> Key {
        Key::parse(
            b"SHA256E-s3--ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad.txt",
        )
        .expect("key")
    }

    #[test]
    fn concurrent_sessions_uploading_one_key_get_distinct_temp_files() {
        // p2phttp runs many sessions in one process: their uploads of the
        // same key must not be given the same temporary file.
        let annex = Path::new("/nonexistent/annex");
        let paths: BTreeSet<PathBuf> = (0..100).map(|_| upload_tmp_path(annex, &key())).collect();
        assert_eq!(paths.len(), 100);
    }

    #[test]
    fn a_colliding_upload_does_not_remove_the_other_uploads_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("othertmp/proxy.1.1/KEY");
        let lock = || annex_core::lockfile::shared(&dir.path().join("othertmp.lck")).expect("lock");
        let (first, mut f) = UploadTmp::create(path.clone(), lock()).expect("first");
        f.write_all(b"live").expect("write");
        // A second upload given the same path fails, and leaves the
        // first one's file and directory as they are.
        assert!(UploadTmp::create(path.clone(), lock()).is_err());
        assert_eq!(std::fs::read(&path).expect("still there"), b"live");
        drop(first);
        assert!(!path.exists());
        assert!(!dir.path().join("othertmp/proxy.1.1").exists());
    }

    #[test]
    fn a_live_uploads_temp_dir_is_not_stale_because_its_pid_is_not_in_proc() {
        // A gateway in another PID namespace (or with /proc hidden) has a
        // process id this one cannot see; while it holds othertmp.lck its
        // upload is alive, and only once no one holds it is it stale.
        let annex = tempfile::tempdir().expect("tempdir");
        let live = annex.path().join("othertmp/proxy.4000000000.1");
        std::fs::create_dir_all(&live).expect("mkdir");
        std::fs::write(live.join("KEY"), b"live").expect("write");
        let other = std::fs::create_dir_all(annex.path().join("othertmp/other"));
        other.expect("mkdir other");
        let held = annex_core::lockfile::shared(&annex.path().join("othertmp.lck")).expect("lock");
        remove_stale_tmp(annex.path());
        assert_eq!(std::fs::read(live.join("KEY")).expect("kept"), b"live");
        drop(held);
        remove_stale_tmp(annex.path());
        assert!(!live.exists(), "a temp dir no one holds is cleaned");
        assert!(
            annex.path().join("othertmp/other").exists(),
            "not ours to clean"
        );
    }
}
