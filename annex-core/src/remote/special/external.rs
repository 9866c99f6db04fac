//! `type=external`: a special remote run by a program, `git-annex-remote-
//! NAME` on PATH (NAME is the remote's `externaltype`), spoken to over its
//! stdin and stdout with the external special remote protocol
//! ([`super::protocol`]).
//!
//! The program is started on the first request (not when the remote list
//! is built), then kept for the rest of the command: `VERSION`, our
//! `EXTENSIONS` (`INFO GETGITREMOTENAME UNAVAILABLERESPONSE`), then
//! `PREPARE` before the first request that needs it. While a request is
//! answered the program may ask for things (`GETCONFIG`, `GETUUID`,
//! `GETGITDIR`, `DIRHASH`, `GETSTATE`, `GETCREDS`...): they are answered
//! from the remote's configuration, the repository and its `git-annex`
//! branch. A program that dies, closes its output or sends a line that is
//! not allowed at that point is an error (never a hang while it is gone,
//! never a panic), and it is not used again in this command.
//!
//! A program that answers `ASYNC` to our `EXTENSIONS` (the protocol's
//! async appendix) is one process for every thread of the command: each
//! exchange is a job of its own (`J N` before every line both ways, job
//! numbers counting up from 1, never reused: the reference reuses one per
//! thread), a reader thread hands each line to its
//! job, and `PREPARE` is sent once. Without `ASYNC`, one request at a time
//! goes to the one program (several transfers at once wait in turn).
//!
//! Not yet: the export/import extensions, `TRANSFER-RETRIEVE-URL`/`CHECKPRESENT-URL`, `WHEREIS`, and
//! `GETAVAILABILITY` (the remote is taken to be globally available).

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use super::protocol::{ParseError, Reply, Request, TransferDirection};
use crate::key::Key;
use crate::remote::{ContentLockGuard, Progress, Remote, RemoteError};
use crate::state::State;
use crate::uuid::Uuid;

/// The extensions we tell the program we support.
const EXTENSIONS: &[&str] = &["INFO", "GETGITREMOTENAME", "UNAVAILABLERESPONSE", "ASYNC"];

/// Why talking to the program failed.
#[derive(Debug, thiserror::Error)]
pub enum ExternalError {
    /// The program is not on PATH or cannot be started.
    #[error("Cannot run {program} -- It is not installed in PATH ({path})")]
    NotInstalled {
        /// The program's name.
        program: String,
        /// PATH as searched.
        path: String,
    },
    /// The program could not be started for another reason.
    #[error(
        "Cannot run {program} -- Make sure it's executable and that its dependencies are installed."
    )]
    CannotRun {
        /// The program's name.
        program: String,
    },
    /// Reading from or writing to the program failed, or it ended.
    #[error("external special remote {program} exited or closed its output")]
    Gone {
        /// The program's name.
        program: String,
    },
    /// The program sent a line not allowed now, or not of the protocol.
    #[error(
        "external special remote protocol error, unexpectedly received \"{line}\" ({why}); unable to use special remote due to protocol error"
    )]
    Protocol {
        /// The line.
        line: String,
        /// `command not allowed at this time` or `unable to parse command`.
        why: &'static str,
    },
    /// The program sent `ERROR`.
    #[error("external special remote error: {0}")]
    Program(String),
    /// A request failed, in the program's words.
    #[error("{0}")]
    Failed(String),
    /// Something failed here in the middle of an exchange (before the
    /// program's final reply): the program is not used again, since its
    /// next lines would belong to an exchange no longer listened to.
    #[error("{0}")]
    Local(String),
    /// The `git-annex` branch could not be read or changed.
    #[error(transparent)]
    Branch(#[from] crate::branch::BranchError),
}

impl From<ParseError> for ExternalError {
    fn from(e: ParseError) -> ExternalError {
        ExternalError::Protocol {
            line: e.line,
            why: "unable to parse command",
        }
    }
}

/// A started program, killed (and waited for) when dropped: closing its
/// input asks it to end, and it is not waited for beyond that.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Where the lines of one exchange go and come from: the program itself,
/// or one job of a program that speaks `ASYNC`.
trait Channel {
    /// Sends one line (without its newline).
    fn send_line(&mut self, line: &str) -> Result<(), ExternalError>;
    /// The next line for this exchange (without its newline).
    fn recv_line(&mut self) -> Result<String, ExternalError>;
}

/// A running program spoken to one request at a time.
struct Conn {
    program: String,
    _child: Reaper,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    prepared: bool,
}

impl Channel for Conn {
    fn send_line(&mut self, line: &str) -> Result<(), ExternalError> {
        let gone = || ExternalError::Gone {
            program: self.program.clone(),
        };
        self.stdin
            .write_all(line.as_bytes())
            .and_then(|_| self.stdin.write_all(b"\n"))
            .and_then(|_| self.stdin.flush())
            .map_err(|_| gone())
    }

    fn recv_line(&mut self) -> Result<String, ExternalError> {
        read_one_line(&mut self.stdout).ok_or_else(|| ExternalError::Gone {
            program: self.program.clone(),
        })
    }
}

/// One line of `out` without its newline; `None` at its end or when it
/// cannot be read.
fn read_one_line(out: &mut BufReader<ChildStdout>) -> Option<String> {
    let mut buf = Vec::new();
    match out.read_until(b'\n', &mut buf) {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            if buf.last() == Some(&b'\n') {
                buf.pop();
            }
            Some(String::from_utf8_lossy(&buf).into_owned())
        }
    }
}

/// The program, or a job of it.
enum Link {
    /// One request at a time.
    Sync(Conn),
    /// It answered `ASYNC`: several jobs at once, each line tagged `J N`.
    Async(Arc<AsyncConn>),
}

/// Why an `ASYNC` program is no longer usable (what each job waiting on
/// it is told).
#[derive(Debug, Clone)]
enum Closed {
    Gone,
    Protocol(String, &'static str),
    /// A job failed here mid-exchange (what it failed on).
    Local(String),
}

/// The jobs waiting for lines of an `ASYNC` program.
#[derive(Default)]
struct Routes {
    jobs: HashMap<u64, mpsc::Sender<String>>,
    closed: Option<Closed>,
}

/// A program that speaks the `ASYNC` extension (the protocol's async
/// appendix): a thread reads its output and hands each `J N LINE` to job
/// N; an untagged `ERROR` goes to every job; anything else untagged, a
/// job number not in use, or the end of its output ends every job with
/// an error. Job numbers count up from 1, a new one per exchange (the
/// reference instead keeps one job number per thread of its own); a job
/// that fails here mid-exchange closes the program for every job, with
/// its cause.
struct AsyncConn {
    program: String,
    _child: Mutex<Reaper>,
    stdin: Mutex<ChildStdin>,
    routes: Arc<Mutex<Routes>>,
    next: AtomicU64,
    prepared: Mutex<bool>,
}

impl AsyncConn {
    fn start(conn: Conn) -> Result<Arc<AsyncConn>, ExternalError> {
        let Conn {
            program,
            _child,
            stdin,
            stdout,
            ..
        } = conn;
        let routes = Arc::new(Mutex::new(Routes::default()));
        let reader_routes = Arc::clone(&routes);
        // Detached: it ends when the program's output does (the program
        // is killed when the connection is dropped). Without it no job
        // would ever get a line: an error, never a wait forever.
        std::thread::Builder::new()
            .name(format!("{program} reader"))
            .spawn(move || route_lines(stdout, &reader_routes))
            .map_err(|e| {
                ExternalError::Local(format!("cannot start a thread reading {program}: {e}"))
            })?;
        Ok(Arc::new(AsyncConn {
            program,
            _child: Mutex::new(_child),
            stdin: Mutex::new(stdin),
            routes,
            next: AtomicU64::new(1),
            prepared: Mutex::new(false),
        }))
    }

    /// Ends every job with `why` (kept when the program was already
    /// closed for another reason); later lines of the program are not
    /// routed.
    fn close(&self, why: Closed) {
        let mut r = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        if r.closed.is_none() {
            r.closed = Some(why);
        }
        r.jobs.clear();
    }

    fn error(&self, closed: Option<Closed>) -> ExternalError {
        match closed {
            Some(Closed::Protocol(line, why)) => ExternalError::Protocol { line, why },
            Some(Closed::Local(m)) => ExternalError::Local(m),
            _ => ExternalError::Gone {
                program: self.program.clone(),
            },
        }
    }

    /// A new job.
    fn job(self: &Arc<AsyncConn>) -> Result<Job, ExternalError> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel();
        let mut routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = routes.closed.clone() {
            return Err(self.error(Some(c)));
        }
        routes.jobs.insert(id, tx);
        Ok(Job {
            conn: Arc::clone(self),
            id,
            rx,
        })
    }
}

/// Reads the lines of an `ASYNC` program and hands them to their jobs
/// until its output ends or it breaks the protocol.
fn route_lines(mut out: BufReader<ChildStdout>, routes: &Mutex<Routes>) {
    let close = |why: Closed| {
        let mut r = routes.lock().unwrap_or_else(|p| p.into_inner());
        if r.closed.is_none() {
            r.closed = Some(why);
        }
        // Each job's receiver now sees the end.
        r.jobs.clear();
    };
    loop {
        let Some(line) = read_one_line(&mut out) else {
            return close(Closed::Gone);
        };
        let tagged = line.strip_prefix("J ").and_then(|rest| {
            let (n, msg) = rest.split_once(' ').unwrap_or((rest, ""));
            n.parse::<u64>().ok().map(|n| (n, msg.to_string()))
        });
        let r = routes.lock().unwrap_or_else(|p| p.into_inner());
        if r.closed.is_some() {
            // Closed here (a job failed mid-exchange): its lines, and any
            // other, are for no one.
            return;
        }
        match tagged {
            Some((n, msg)) => match r.jobs.get(&n) {
                Some(tx) => {
                    let _ = tx.send(msg);
                }
                None => {
                    drop(r);
                    return close(Closed::Protocol(line, "unknown job number"));
                }
            },
            None if matches!(Reply::parse(&line), Ok(Reply::Error(_))) => {
                for tx in r.jobs.values() {
                    let _ = tx.send(line.clone());
                }
            }
            None => {
                drop(r);
                return close(Closed::Protocol(line, "unexpected non-async message"));
            }
        }
    }
}

/// One job of an `ASYNC` program: its lines are tagged `J N`.
struct Job {
    conn: Arc<AsyncConn>,
    id: u64,
    rx: mpsc::Receiver<String>,
}

impl Channel for Job {
    fn send_line(&mut self, line: &str) -> Result<(), ExternalError> {
        let mut stdin = self.conn.stdin.lock().unwrap_or_else(|p| p.into_inner());
        stdin
            .write_all(format!("J {} {line}\n", self.id).as_bytes())
            .and_then(|_| stdin.flush())
            .map_err(|_| ExternalError::Gone {
                program: self.conn.program.clone(),
            })
    }

    fn recv_line(&mut self) -> Result<String, ExternalError> {
        self.rx.recv().map_err(|_| {
            let closed = self
                .conn
                .routes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .closed
                .clone();
            self.conn.error(closed)
        })
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        self.conn
            .routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .jobs
            .remove(&self.id);
    }
}

/// What the program is told about the repository using it.
#[derive(Debug, Clone)]
pub struct ExternalSetup {
    /// The remote's name (`GETGITREMOTENAME`).
    pub name: String,
    /// The remote's UUID (`GETUUID`).
    pub uuid: Uuid,
    /// The program is `git-annex-remote-EXTERNALTYPE`.
    pub externaltype: String,
    /// The remote's configuration (`remote.log`'s fields; `GETCONFIG`).
    pub config: BTreeMap<String, String>,
    /// The repository's git dir (`GETGITDIR`).
    pub git_dir: PathBuf,
    /// Where the program runs (the work tree, or the git dir when bare).
    pub top: PathBuf,
    /// `remote.NAME.annex-cost`, when set.
    pub cost: Option<f64>,
}

/// A special remote run by an external program.
pub struct ExternalRemote {
    setup: ExternalSetup,
    config: Mutex<BTreeMap<String, String>>,
    conn: Mutex<Option<Link>>,
    broken: Mutex<Option<String>>,
    state: Mutex<Option<State>>,
    dirty: Mutex<bool>,
    cost_asked: Mutex<bool>,
}

/// A cost as git-annex writes it in git config (Haskell's `show` of a
/// `Double`): `200.0`, `1.5e7`.
pub fn show_cost(n: i64) -> String {
    let a = n.unsigned_abs();
    if a < 10_000_000 {
        return format!("{n}.0");
    }
    let digits = a.to_string();
    let (first, rest) = digits.split_at(1);
    let rest = rest.trim_end_matches('0');
    let sign = if n < 0 { "-" } else { "" };
    format!(
        "{sign}{first}.{}e{}",
        if rest.is_empty() { "0" } else { rest },
        digits.len() - 1
    )
}

impl std::fmt::Debug for ExternalRemote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalRemote")
            .field("name", &self.setup.name)
            .field("uuid", &self.setup.uuid)
            .field("externaltype", &self.setup.externaltype)
            .finish()
    }
}

/// How a handler answers one line of the program: done with a value, or
/// not done yet.
enum Step<T> {
    Done(T),
    More,
}

impl ExternalRemote {
    /// The remote; nothing is started yet.
    pub fn new(setup: ExternalSetup) -> ExternalRemote {
        ExternalRemote {
            config: Mutex::new(setup.config.clone()),
            setup,
            conn: Mutex::new(None),
            broken: Mutex::new(None),
            state: Mutex::new(None),
            dirty: Mutex::new(false),
            cost_asked: Mutex::new(false),
        }
    }

    /// Asks the program its cost once (`GETCOST`; an expensive remote when
    /// it does not say) and remembers it as `remote.NAME.annex-cost`, as
    /// git-annex does, when git config sets none.
    fn cache_cost(&self, conn: &mut dyn Channel) -> Result<(), ExternalError> {
        let mut asked = self.cost_asked.lock().unwrap_or_else(|p| p.into_inner());
        if self.setup.cost.is_some() || *asked {
            return Ok(());
        }
        *asked = true;
        let cost = self.exchange(conn, &Request::GetCost, None, &mut |r| match r {
            Reply::Cost(n) => Some(Ok(Step::Done(n))),
            Reply::UnsupportedRequest => {
                Some(Ok(Step::Done(crate::config::EXPENSIVE_REMOTE_COST as i64)))
            }
            _ => None,
        })?;
        let _ = Command::new("git")
            .arg("config")
            .arg("--file")
            .arg(self.setup.git_dir.join("config"))
            .arg(format!("remote.{}.annex-cost", self.setup.name))
            .arg(show_cost(cost))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        Ok(())
    }

    fn program(&self) -> String {
        format!("git-annex-remote-{}", self.setup.externaltype)
    }

    /// The configuration now (with what the program set by `SETCONFIG`).
    pub fn config(&self) -> BTreeMap<String, String> {
        self.config
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Sends `INITREMOTE` (at `initremote` and `enableremote`) and gives
    /// the configuration with what the program set while answering.
    pub fn initremote(&self) -> Result<BTreeMap<String, String>, ExternalError> {
        self.request(false, &Request::InitRemote, None, |r| match r {
            Reply::InitRemoteSuccess => Some(Ok(Step::Done(()))),
            Reply::InitRemoteFailure(m) => Some(Err(ExternalError::Failed(format!(
                "INITREMOTE failed: {m}"
            )))),
            _ => None,
        })?;
        Ok(self.config())
    }

    /// The configuration parameters the program documents (`LISTCONFIGS`):
    /// `None` when it does not support the request.
    pub fn list_configs(&self) -> Result<Option<Vec<(String, String)>>, ExternalError> {
        let mut got = Vec::new();
        self.request(false, &Request::ListConfigs, None, |r| match r {
            Reply::Config(n, d) => {
                got.push((n, d));
                Some(Ok(Step::More))
            }
            Reply::ConfigEnd => Some(Ok(Step::Done(true))),
            Reply::UnsupportedRequest => Some(Ok(Step::Done(false))),
            _ => None,
        })
        .map(|supported| supported.then_some(got))
    }

    fn spawn(&self) -> Result<Link, ExternalError> {
        let program = self.program();
        let mut child = Command::new(&program)
            .current_dir(&self.setup.top)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => ExternalError::NotInstalled {
                    program: program.clone(),
                    path: std::env::var("PATH").unwrap_or_default(),
                },
                _ => ExternalError::CannotRun {
                    program: program.clone(),
                },
            })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ExternalError::CannotRun { program });
        };
        let mut conn = Conn {
            program,
            _child: Reaper(child),
            stdin,
            stdout: BufReader::new(stdout),
            prepared: false,
        };
        match Reply::parse(&conn.recv_line()?)? {
            Reply::Version(1) | Reply::Version(2) => {}
            Reply::Version(n) => {
                let _ =
                    conn.send_line(&Request::Error(format!("unsupported VERSION {n}")).serialize());
                return Err(ExternalError::Failed(format!(
                    "external special remote protocol version {n} is not supported"
                )));
            }
            other => {
                return Err(ExternalError::Protocol {
                    line: other.serialize(),
                    why: "command not allowed at this time",
                });
            }
        }
        let ext = Request::Extensions(EXTENSIONS.iter().map(|s| s.to_string()).collect());
        let theirs = self.exchange(&mut conn, &ext, None, &mut |r| match r {
            Reply::Extensions(l) => Some(Ok(Step::Done(l))),
            Reply::UnsupportedRequest => Some(Ok(Step::Done(Vec::new()))),
            _ => None,
        })?;
        if theirs.iter().any(|e| e == "ASYNC") {
            return Ok(Link::Async(AsyncConn::start(conn)?));
        }
        Ok(Link::Sync(conn))
    }

    fn gone(&self) -> ExternalError {
        ExternalError::Gone {
            program: self.program(),
        }
    }

    /// Sends `req`, then answers the program's requests until `handler`
    /// says the reply is complete. `handler` gets each other line and
    /// returns `None` for a line not allowed in answer to `req`.
    fn exchange<T>(
        &self,
        conn: &mut dyn Channel,
        req: &Request,
        mut progress: Option<&mut dyn FnMut(u64)>,
        handler: &mut dyn FnMut(Reply) -> Option<Result<Step<T>, ExternalError>>,
    ) -> Result<T, ExternalError> {
        conn.send_line(&req.serialize())?;
        loop {
            let line = conn.recv_line()?;
            let reply = Reply::parse(&line)?;
            if let Reply::Progress(n) = reply {
                if let Some(p) = progress.as_mut() {
                    p(n);
                }
                continue;
            }
            if let Some(answers) = self.answer(&reply)? {
                for a in &answers {
                    conn.send_line(&a.serialize())?;
                }
                continue;
            }
            if self.handled_silently(&reply)? {
                continue;
            }
            if let Reply::Error(m) = reply {
                return Err(ExternalError::Program(m));
            }
            match handler(reply) {
                Some(Ok(Step::Done(v))) => return Ok(v),
                Some(Ok(Step::More)) => {}
                Some(Err(e)) => return Err(e),
                None => {
                    return Err(ExternalError::Protocol {
                        line,
                        why: "command not allowed at this time",
                    });
                }
            }
        }
    }

    /// Starts the program when needed, prepares it when `prepare`, and
    /// runs one exchange (a job of its own when the program speaks
    /// `ASYNC`, so that other threads' exchanges run at the same time).
    /// Any failure but the program's own answer ends the program: it is
    /// not used again in this command.
    fn request<T>(
        &self,
        prepare: bool,
        req: &Request,
        progress: Option<&mut dyn FnMut(u64)>,
        mut handler: impl FnMut(Reply) -> Option<Result<Step<T>, ExternalError>>,
    ) -> Result<T, ExternalError> {
        if let Some(reason) = self
            .broken
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Err(ExternalError::Failed(reason));
        }
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            // Another thread may have broken it (and dropped it) since the
            // check above: it is not started again.
            if let Some(reason) = self
                .broken
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
            {
                return Err(ExternalError::Failed(reason));
            }
            match self.spawn() {
                Ok(link) => *guard = Some(link),
                Err(e) => {
                    self.break_with(&e);
                    return Err(e);
                }
            }
        }
        let shared = match guard.as_ref() {
            Some(Link::Async(a)) => Some(Arc::clone(a)),
            _ => None,
        };
        let result = match shared {
            Some(a) => {
                drop(guard);
                let r = self.request_async(&a, prepare, req, progress, &mut handler);
                if let Err(e) = &r
                    && !matches!(e, ExternalError::Failed(_))
                {
                    let mut g = self.conn.lock().unwrap_or_else(|p| p.into_inner());
                    if matches!(g.as_ref(), Some(Link::Async(c)) if Arc::ptr_eq(c, &a)) {
                        *g = None;
                    }
                    self.break_with(e);
                    drop(g);
                    // The other jobs end with this cause, not with the
                    // program's next line for this job.
                    a.close(Closed::Local(e.to_string()));
                }
                return r;
            }
            None => (|| {
                let Some(Link::Sync(conn)) = guard.as_mut() else {
                    return Err(self.gone());
                };
                if prepare && !conn.prepared {
                    self.prepare(conn)?;
                    conn.prepared = true;
                }
                self.exchange(conn, req, progress, &mut handler)
            })(),
        };
        if let Err(e) = &result
            && !matches!(e, ExternalError::Failed(_))
        {
            *guard = None;
            self.break_with(e);
        }
        result
    }

    /// One exchange as a job of an `ASYNC` program; the first job that
    /// needs it sends `PREPARE` (once per program) while the others wait.
    fn request_async<T>(
        &self,
        a: &Arc<AsyncConn>,
        prepare: bool,
        req: &Request,
        progress: Option<&mut dyn FnMut(u64)>,
        handler: &mut dyn FnMut(Reply) -> Option<Result<Step<T>, ExternalError>>,
    ) -> Result<T, ExternalError> {
        let mut job = a.job()?;
        if prepare {
            let mut prepared = a.prepared.lock().unwrap_or_else(|p| p.into_inner());
            if !*prepared {
                self.prepare(&mut job)?;
                *prepared = true;
            }
        }
        self.exchange(&mut job, req, progress, handler)
    }

    /// `PREPARE`, then the program's cost asked once.
    fn prepare(&self, conn: &mut dyn Channel) -> Result<(), ExternalError> {
        self.exchange(conn, &Request::Prepare, None, &mut |r| match r {
            Reply::PrepareSuccess => Some(Ok(Step::Done(()))),
            Reply::PrepareFailure(m) => {
                Some(Err(ExternalError::Failed(format!("PREPARE failed: {m}"))))
            }
            _ => None,
        })?;
        self.cache_cost(conn)
    }

    /// Marks the program unusable for the rest of the command.
    fn break_with(&self, e: &ExternalError) {
        *self.broken.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
    }

    /// The answer to a request of the program that needs one.
    fn answer(&self, reply: &Reply) -> Result<Option<Vec<Request>>, ExternalError> {
        let value = |s: String| Ok(Some(vec![Request::Value(s)]));
        match reply {
            Reply::DirHash(k) => value(crate::objects::hash_dir_mixed(&self.key(k)?)),
            Reply::DirHashLower(k) => value(crate::objects::hash_dir_lower(&self.key(k)?)),
            Reply::GetConfig(n) => value(self.config().get(n).cloned().unwrap_or_default()),
            Reply::GetUuid => value(self.setup.uuid.as_str().to_string()),
            Reply::GetGitDir => value(self.setup.git_dir.display().to_string()),
            Reply::GetGitRemoteName => value(self.setup.name.clone()),
            Reply::GetCreds(setting) => {
                let (u, p) = self.creds(setting);
                Ok(Some(vec![Request::Creds(u, p)]))
            }
            Reply::GetState(k) => {
                let key = self.key(k)?;
                let v = self.with_state(|s| s.remote_state(&key, &self.setup.uuid))?;
                value(String::from_utf8_lossy(&v.unwrap_or_default()).into_owned())
            }
            Reply::GetWanted => {
                let v = self.with_state(|s| s.preferred_content())?;
                value(
                    v.get(&self.setup.uuid)
                        .map(|e| String::from_utf8_lossy(e).into_owned())
                        .unwrap_or_default(),
                )
            }
            Reply::GetUrls(k, prefix) => {
                let key = self.key(k)?;
                let urls = self.with_state(|s| s.urls(&key))?;
                // Each URL with the prefix, then an empty VALUE.
                let mut lines: Vec<Request> = urls
                    .iter()
                    .map(|u| String::from_utf8_lossy(u).into_owned())
                    .filter(|u| u.starts_with(prefix.as_str()))
                    .map(Request::Value)
                    .collect();
                lines.push(Request::Value(String::new()));
                Ok(Some(lines))
            }
            _ => Ok(None),
        }
    }

    /// Requests of the program that need no answer, acted on; `false` for
    /// any other line.
    fn handled_silently(&self, reply: &Reply) -> Result<bool, ExternalError> {
        match reply {
            Reply::SetConfig(n, v) => {
                self.config
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(n.clone(), v.clone());
            }
            Reply::SetCreds(setting, u, p) => self.store_creds(setting, u, p)?,
            Reply::SetState(k, v) => {
                let key = self.key(k)?;
                self.with_state(|s| s.set_remote_state(&key, &self.setup.uuid, v.as_bytes()))?;
                self.mark_dirty();
            }
            Reply::SetWanted(e) => {
                self.with_state(|s| s.set_preferred_content(&self.setup.uuid, e.as_bytes()))?;
                self.mark_dirty();
            }
            Reply::SetUrlPresent(k, u)
            | Reply::SetUrlMissing(k, u)
            | Reply::SetUriPresent(k, u)
            | Reply::SetUriMissing(k, u) => {
                let key = self.key(k)?;
                let present = matches!(reply, Reply::SetUrlPresent(..) | Reply::SetUriPresent(..));
                self.with_state(|s| s.set_url(&key, u.as_bytes(), present))?;
                self.mark_dirty();
            }
            Reply::Debug(_) => {}
            Reply::Info(m) => eprintln!("{m}"),
            Reply::Version(_) => {
                return Err(ExternalError::Protocol {
                    line: reply.serialize(),
                    why: "command not allowed at this time",
                });
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn key(&self, k: &str) -> Result<Key, ExternalError> {
        Key::parse(k.as_bytes()).map_err(|_| ExternalError::Protocol {
            line: k.to_string(),
            why: "unable to parse command",
        })
    }

    fn mark_dirty(&self) {
        *self.dirty.lock().unwrap_or_else(|p| p.into_inner()) = true;
    }

    fn with_state<T>(
        &self,
        f: impl FnOnce(&State) -> Result<T, crate::branch::BranchError>,
    ) -> Result<T, ExternalError> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.is_none() {
            *st = Some(State::new(crate::branch::Branch::open(
                &self.setup.git_dir,
            )?));
        }
        match st.as_ref() {
            Some(s) => Ok(f(s)?),
            None => Err(self.gone()),
        }
    }

    /// Where credentials set by the program are kept: a local file, never
    /// the branch (git-annex embeds them only when encryption protects
    /// them, and this remote has none).
    fn creds_file(&self, setting: &str) -> PathBuf {
        self.setup
            .git_dir
            .join("annex")
            .join("creds")
            .join(format!("{}-{setting}", self.setup.uuid.as_str()))
    }

    fn creds(&self, setting: &str) -> (String, String) {
        let text = std::fs::read_to_string(self.creds_file(setting)).unwrap_or_default();
        let mut lines = text.lines();
        let u = lines.next().unwrap_or("").to_string();
        let p = lines.next().unwrap_or("").to_string();
        (u, p)
    }

    fn store_creds(&self, setting: &str, u: &str, p: &str) -> Result<(), ExternalError> {
        let path = self.creds_file(setting);
        let fail = |e: std::io::Error| {
            ExternalError::Local(format!(
                "cannot store credentials in {}: {e}",
                path.display()
            ))
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        // A temporary file of its own (0600, as tempfile makes them) in
        // the same directory: jobs setting credentials at once never
        // share one.
        let dir = path.parent().unwrap_or_else(|| Path::new("."));
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
        tmp.write_all(format!("{u}\n{p}").as_bytes())
            .and_then(|_| tmp.as_file().sync_all())
            .map_err(fail)?;
        tmp.persist(&path).map(|_| ()).map_err(|e| fail(e.error))
    }

    fn remote_err(&self, e: ExternalError) -> RemoteError {
        RemoteError::Refused {
            remote: self.setup.name.clone(),
            reason: e.to_string(),
        }
    }
}

impl Remote for ExternalRemote {
    fn name(&self) -> &str {
        &self.setup.name
    }

    fn uuid(&self) -> &Uuid {
        &self.setup.uuid
    }

    fn cost(&self) -> f64 {
        // The program's GETCOST would need it started for every command
        // that lists remotes; the configured cost, else git-annex's
        // default for an external remote that does not say.
        self.setup
            .cost
            .unwrap_or(crate::config::EXPENSIVE_REMOTE_COST)
    }

    fn check_present(&self, key: &Key) -> Result<bool, RemoteError> {
        let k = String::from_utf8_lossy(key.as_bytes()).into_owned();
        self.request(true, &Request::CheckPresent(k.clone()), None, |r| match r {
            Reply::CheckPresentSuccess(rk) if rk == k => Some(Ok(Step::Done(true))),
            Reply::CheckPresentFailure(rk) if rk == k => Some(Ok(Step::Done(false))),
            Reply::CheckPresentUnknown(rk, m) if rk == k => Some(Err(ExternalError::Failed(m))),
            _ => None,
        })
        .map_err(|e| RemoteError::Unavailable {
            remote: self.setup.name.clone(),
            reason: e.to_string(),
        })
    }

    fn retrieve(
        &self,
        key: &Key,
        dest: &Path,
        _our_uuid: &Uuid,
        _file: &[u8],
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| RemoteError::Refused {
                remote: self.setup.name.clone(),
                reason: format!("cannot create {}: {e}", parent.display()),
            })?;
        }
        super::layered::Storage::retrieve_object(self, key, dest, progress)?;
        match crate::backend::verify_key(key, dest) {
            Ok(Some(false)) => {
                let _ = std::fs::remove_file(dest);
                Err(RemoteError::VerificationFailed)
            }
            Ok(_) => Ok(()),
            Err(e) => Err(RemoteError::Refused {
                remote: self.setup.name.clone(),
                reason: e.to_string(),
            }),
        }
    }

    fn store(
        &self,
        key: &Key,
        src: &Path,
        _our_uuid: &Uuid,
        _file: &[u8],
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        let k = String::from_utf8_lossy(key.as_bytes()).into_owned();
        let req = Request::Transfer {
            direction: TransferDirection::Store,
            key: k.clone(),
            file: src.display().to_string(),
        };
        self.request(true, &req, Some(progress), |r| transfer_reply(r, &k))
            .map_err(|e| self.remote_err(e))
    }

    fn remove(&self, key: &Key) -> Result<(), RemoteError> {
        let k = String::from_utf8_lossy(key.as_bytes()).into_owned();
        self.request(true, &Request::Remove(k.clone()), None, |r| match r {
            Reply::RemoveSuccess(rk) if rk == k => Some(Ok(Step::Done(()))),
            Reply::RemoveFailure(rk, m) if rk == k => Some(Err(ExternalError::Failed(m))),
            _ => None,
        })
        .map_err(|e| self.remote_err(e))
    }

    fn lock_content(&self, _key: &Key) -> Result<Box<dyn ContentLockGuard>, RemoteError> {
        Err(super::cannot_lock_content(&self.setup.name))
    }

    fn commit(&self) -> Result<(), RemoteError> {
        let mut dirty = self.dirty.lock().unwrap_or_else(|p| p.into_inner());
        if !*dirty {
            return Ok(());
        }
        let st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(state) = st.as_ref() {
            state.commit().map_err(|e| RemoteError::Branch {
                remote: self.setup.name.clone(),
                source: e,
            })?;
        }
        *dirty = false;
        Ok(())
    }
}

impl super::layered::Storage for ExternalRemote {
    fn name(&self) -> &str {
        &self.setup.name
    }
    fn uuid(&self) -> &Uuid {
        &self.setup.uuid
    }
    fn cost(&self) -> f64 {
        Remote::cost(self)
    }
    fn store_object(
        &self,
        key: &Key,
        src: &Path,
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        Remote::store(self, key, src, &self.setup.uuid, b"", progress)
    }
    fn retrieve_object(
        &self,
        key: &Key,
        dest: &Path,
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        let k = String::from_utf8_lossy(key.as_bytes()).into_owned();
        let req = Request::Transfer {
            direction: TransferDirection::Retrieve,
            key: k.clone(),
            file: dest.display().to_string(),
        };
        self.request(true, &req, Some(progress), |r| transfer_reply(r, &k))
            .map_err(|e| self.remote_err(e))
    }
    fn check_object(&self, key: &Key) -> Result<bool, RemoteError> {
        Remote::check_present(self, key)
    }
    fn remove_object(&self, key: &Key) -> Result<(), RemoteError> {
        Remote::remove(self, key)
    }
    fn commit_objects(&self) -> Result<(), RemoteError> {
        Remote::commit(self)
    }
}

fn transfer_reply(r: Reply, k: &str) -> Option<Result<Step<()>, ExternalError>> {
    match r {
        Reply::TransferSuccess(_, rk) if rk == k => Some(Ok(Step::Done(()))),
        Reply::TransferFailure(_, rk, m) if rk == k => Some(Err(ExternalError::Failed(m))),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setcreds_from_concurrent_async_jobs_never_share_a_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let remote = Arc::new(ExternalRemote::new(ExternalSetup {
            name: "ext".to_string(),
            uuid: Uuid::new_random(),
            externaltype: "none".to_string(),
            config: BTreeMap::new(),
            git_dir: dir.path().to_path_buf(),
            top: dir.path().to_path_buf(),
            cost: None,
        }));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let r = Arc::clone(&remote);
                std::thread::spawn(move || {
                    for i in 0..200 {
                        r.store_creds("creds", &format!("user{t}-{i}"), "pass")
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let (u, p) = remote.creds("creds");
        assert!(u.starts_with("user"), "{u}");
        assert_eq!(p, "pass");
        // Nothing but the credentials file is left behind.
        let left: Vec<_> = std::fs::read_dir(dir.path().join("annex/creds"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }

    #[test]
    fn costs_are_written_as_haskell_shows_doubles() {
        assert_eq!(show_cost(200), "200.0");
        assert_eq!(show_cost(100), "100.0");
        assert_eq!(show_cost(-5), "-5.0");
        assert_eq!(show_cost(15_000_000), "1.5e7");
        assert_eq!(show_cost(10_000_000), "1.0e7");
    }
}
