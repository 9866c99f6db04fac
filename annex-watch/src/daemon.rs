//! The daemon's shell: starting in the background as git-annex does
//! (`Utility.Daemon.daemonize`: the program runs itself again with the same
//! arguments and `DAEMONIZED` set to its own path, in a new session, stdin
//! from `/dev/null`, stdout and stderr to the rotated `daemon.log`), or in
//! the foreground (the pid file locked, output to the log all the same);
//! stopping; and [`run`], which wires the watcher, the startup scan, the
//! committer, the sanity checker and (for the assistant) the merger,
//! pusher and transferrer together. `SIGTERM` (what `--stop` sends) and
//! `SIGINT` are taken by one thread (`sigwait`), and end the daemon once
//! the committer has committed what was pending and no merge is under
//! way: after `SIGTERM` it exits 0, after `SIGINT` it is killed by it, as
//! the reference's daemon. A transfer under way is cut short (its
//! temporary file stays, for the next start to resume from).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::changes::Change;
use crate::committer::{Adder, Committer, scan};
use crate::merger::MergerLinks;
use crate::pidfile::{PidFileError, PidLock, check_daemon, lock_pid_file};
use crate::status::DaemonStatus;
use crate::stop::Stop;
use crate::syncer::Syncer;
use crate::watcher::Watcher;

/// The variable that marks the process started in the background.
pub const DAEMONIZED_ENV: &str = "DAEMONIZED";

/// Errors of the daemon's shell.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The pid file.
    #[error(transparent)]
    PidFile(#[from] PidFileError),
    /// The watcher could not start.
    #[error(transparent)]
    Watch(#[from] crate::watcher::WatchError),
    /// The startup scan failed.
    #[error(transparent)]
    Scan(#[from] crate::committer::CommitError),
    /// The merger could not start.
    #[error(transparent)]
    Merger(#[from] crate::merger::MergerError),
    /// An I/O error on a file.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// The daemon's files under `.git/annex`.
#[derive(Debug, Clone)]
pub struct DaemonFiles {
    /// `daemon.pid`.
    pub pid: PathBuf,
    /// `daemon.log`.
    pub log: PathBuf,
    /// `daemon.status`.
    pub status: PathBuf,
}

impl DaemonFiles {
    /// The files of the repository whose git directory is `git_dir`.
    pub fn new(git_dir: &Path) -> DaemonFiles {
        let annex = git_dir.join("annex");
        DaemonFiles {
            pid: annex.join("daemon.pid"),
            log: annex.join("daemon.log"),
            status: annex.join("daemon.status"),
        }
    }

    fn ensure_dir(&self) -> Result<(), DaemonError> {
        let dir = self.pid.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|source| DaemonError::Io {
            op: "create directory",
            path: dir.to_path_buf(),
            source,
        })
    }
}

/// Whether this process is the one [`spawn_background`] started.
pub fn is_daemonized_child() -> bool {
    let Some(v) = std::env::var_os(DAEMONIZED_ENV) else {
        return false;
    };
    std::env::current_exe().is_ok_and(|exe| exe.as_os_str() == v)
}

/// Starts the daemon in the background: refuses when one is running,
/// rotates and opens the log, and runs this program again with `args`.
pub fn spawn_background(files: &DaemonFiles, args: &[OsString]) -> Result<(), DaemonError> {
    if check_daemon(&files.pid)?.is_some() {
        return Err(PidFileError::AlreadyRunning.into());
    }
    files.ensure_dir()?;
    let io = |op, path: &Path| {
        let path = path.to_path_buf();
        move |source| DaemonError::Io { op, path, source }
    };
    let log = crate::logfile::open(&files.log).map_err(io("open", &files.log))?;
    let log2 = log.try_clone().map_err(io("open", &files.log))?;
    let exe = std::env::current_exe().map_err(io("find", Path::new("the running program")))?;
    Command::new(&exe)
        .args(args)
        .env(DAEMONIZED_ENV, &exe)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(io("run", &exe))?;
    Ok(())
}

/// In the process [`spawn_background`] started: a new session, and the
/// pid file locked.
pub fn enter_background(files: &DaemonFiles) -> Result<PidLock, DaemonError> {
    let _ = rustix::process::setsid();
    if check_daemon(&files.pid)?.is_some() {
        return Err(PidFileError::AlreadyRunning.into());
    }
    Ok(lock_pid_file(&files.pid)?)
}

/// `--foreground`: the pid file locked, a new session when possible, and
/// stdout and stderr sent to the rotated log, as git-annex does.
pub fn enter_foreground(files: &DaemonFiles) -> Result<PidLock, DaemonError> {
    files.ensure_dir()?;
    if check_daemon(&files.pid)?.is_some() {
        return Err(PidFileError::AlreadyRunning.into());
    }
    let lock = lock_pid_file(&files.pid)?;
    let _ = rustix::process::setsid();
    let log = crate::logfile::open(&files.log).map_err(|source| DaemonError::Io {
        op: "open",
        path: files.log.clone(),
        source,
    })?;
    let redirect = |r: rustix::io::Result<()>| {
        r.map_err(|e| DaemonError::Io {
            op: "redirect output to",
            path: files.log.clone(),
            source: e.into(),
        })
    };
    redirect(rustix::stdio::dup2_stdout(&log))?;
    redirect(rustix::stdio::dup2_stderr(&log))?;
    Ok(lock)
}

/// What [`run`] needs to know.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The top of the work tree.
    pub top: PathBuf,
    /// The repository's git directory.
    pub git_dir: PathBuf,
    /// The daemon's files.
    pub files: DaemonFiles,
    /// The commit message (`git-annex in <description>`).
    pub commit_message: String,
    /// `annex.autocommit`: when false, the work tree is not watched and
    /// nothing is added or committed (as the reference's paused watcher);
    /// the assistant still merges, pushes and transfers.
    pub autocommit: bool,
    /// `annex.delayadd`.
    pub delay_add: Option<Duration>,
    /// `annex.startupscan` (default true): the startup scan runs.
    pub startup_scan: bool,
    /// `--startdelay`: waited before the startup scan and sanity check.
    pub start_delay: Option<Duration>,
}

/// The status file, shared by the threads that update it.
#[derive(Clone)]
struct Status {
    path: PathBuf,
    now: Arc<Mutex<DaemonStatus>>,
}

impl Status {
    fn update(&self, f: impl FnOnce(&mut DaemonStatus)) {
        let mut s = self.now.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut s);
        if let Err(e) = s.write(&self.path) {
            eprintln!("cannot write {}: {e}", self.path.display());
        }
    }
}

/// Blocks `SIGTERM` and `SIGINT` in this thread (and so in the threads it
/// starts after) and starts a thread that waits for them with `sigwait`;
/// the receiver gets the signal when either comes.
fn stop_signals() -> Result<Receiver<nix::sys::signal::Signal>, DaemonError> {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set.thread_block().map_err(|e| DaemonError::Io {
        op: "block the stop signals for",
        path: PathBuf::from("the daemon"),
        source: e.into(),
    })?;
    let (tx, rx) = channel();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Ok(sig) = set.wait() {
                let _ = tx.send(sig);
            }
        })
        .map_err(|source| DaemonError::Io {
            op: "start the signal thread for",
            path: PathBuf::from("the daemon"),
            source,
        })?;
    Ok(rx)
}

fn spawn_named(
    name: &str,
    top: &Path,
    f: impl FnOnce() + Send + 'static,
) -> Result<std::thread::JoinHandle<()>, DaemonError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|source| DaemonError::Io {
            op: "start a thread for",
            path: top.to_path_buf(),
            source,
        })
}

/// Runs the daemon until `SIGTERM` or `SIGINT`: watches the tree, scans
/// for what changed while no daemon ran, and commits as changes come
/// (unless `annex.autocommit` is false); with a [`Syncer`] (the
/// assistant), merges what is pushed or fetched into the repository,
/// pushes commits, transfers content. On the stop signal what is pending
/// is committed, then it returns.
pub fn run<A: Adder, S: Syncer + Clone>(
    opts: &RunOptions,
    adder: A,
    syncer: Option<S>,
) -> Result<(), DaemonError> {
    let stop_rx = stop_signals()?;
    let status = Status {
        path: opts.files.status.clone(),
        now: Arc::new(Mutex::new(DaemonStatus::default())),
    };
    status.update(|_| {});
    let lock = Arc::new(Mutex::new(()));
    let (tx, rx) = channel::<Change>();
    // The assistant's threads, each with its channel in.
    let mut kicks: Option<(Sender<()>, Sender<()>)> = None;
    // The pusher and transferrer: their channels never close, so they are
    // ended by `end()` on the way out, or when dropped (an error return).
    let mut threads = AssistantThreads::default();
    let stop = threads.stop.clone();
    // The assistant's remote daemon: fetches from a remote as soon as its
    // refs change; the merger merges what it fetched.
    let mut remote_daemon: Option<annex_sync::remotedaemon::RemoteDaemon> = None;
    if let Some(syncer) = syncer {
        let (push_tx, push_rx) = channel::<()>();
        let (xfer_tx, xfer_rx) = channel::<()>();
        let (s, l, st) = (syncer.clone(), Arc::clone(&lock), stop.clone());
        threads.threads.push((
            "pusher".into(),
            spawn_named("pusher", &opts.top, move || {
                crate::pusher::run(s, push_rx, l, st)
            })?,
        ));
        // Other processes' transfers, watched; their end kicks the
        // transferrer.
        let others = match crate::transferwatcher::start(&opts.git_dir, xfer_tx.clone()) {
            Ok(o) => Some(o),
            Err(e) => {
                eprintln!("transferwatcher: not started: {e}");
                None
            }
        };
        let (s, l, p, st) = (
            syncer.clone(),
            Arc::clone(&lock),
            push_tx.clone(),
            stop.clone(),
        );
        threads.threads.push((
            "transferrer".into(),
            spawn_named("transferrer", &opts.top, move || {
                crate::transferrer::run(s, xfer_rx, p, l, others, st)
            })?,
        ));
        crate::merger::start(
            &opts.git_dir,
            syncer,
            MergerLinks {
                lock: Arc::clone(&lock),
                pusher: push_tx.clone(),
                transferrer: xfer_tx.clone(),
            },
        )?;
        // Content to move since the last run.
        let _ = xfer_tx.send(());
        threads.kicks = vec![push_tx.clone(), xfer_tx.clone()];
        kicks = Some((push_tx, xfer_tx));
        remote_daemon = start_remote_daemon(&opts.top);
    }
    // The startup delay, cut short by a stop.
    if let Some(d) = opts.start_delay
        && stop_rx.recv_timeout(d).is_ok()
    {
        threads.end();
        return Ok(());
    }
    // The sanity checker: stale transfers at once and hourly, unstaged
    // files daily.
    {
        let git_dir = opts.git_dir.clone();
        let top = opts.top.clone();
        let st = status.clone();
        let ctx = opts.autocommit.then(|| tx.clone());
        spawn_named("sanitychecker", &opts.top, move || {
            sanity_loop(&git_dir, &top, &st, ctx)
        })?;
    }
    if !opts.autocommit {
        drop(tx);
        status.update(|s| s.scan_complete = true);
        let sig = stop_rx.recv().ok();
        threads.end();
        // Its connections (and their ssh processes) end first.
        drop(remote_daemon);
        // No merge is cut short by the exit.
        let _g = lock.lock().unwrap_or_else(|e| e.into_inner());
        end_by(sig);
        return Ok(());
    }
    // The watcher: its watches are in place before the scan starts, so
    // nothing changed between the two is missed.
    let (ready_tx, ready_rx) = channel();
    let top = opts.top.clone();
    let wtx = tx.clone();
    spawn_named("watcher", &opts.top, move || {
        let warn = Box::new(|m: &str| eprintln!("{m}"));
        match Watcher::start(&top, warn) {
            Ok((mut w, events)) => {
                let _ = ready_tx.send(Ok(()));
                for ev in events {
                    match ev {
                        Ok(ev) => w.handle(ev, &wtx),
                        Err(e) => eprintln!("watch error: {e}"),
                    }
                }
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
            }
        }
    })?;
    match ready_rx.recv() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e.into()),
        Err(_) => {
            return Err(DaemonError::Io {
                op: "start watching",
                path: opts.top.clone(),
                source: std::io::Error::other("the watcher thread ended"),
            });
        }
    }
    if opts.startup_scan {
        for c in scan(&opts.top)? {
            let _ = tx.send(c);
        }
    }
    status.update(|s| s.scan_complete = true);
    // The stop signal reaches the committer as an empty path.
    let stx = tx.clone();
    let (sig_tx, sig_rx) = channel();
    spawn_named("stopper", &opts.top, move || {
        if let Ok(sig) = stop_rx.recv() {
            let _ = sig_tx.send(sig);
            let _ = stx.send(Change {
                path: Vec::new(),
                time: std::time::Instant::now(),
                scanned: false,
            });
        }
    })?;
    drop(tx);
    let st = status.clone();
    let on_commit = Box::new(move || {
        st.update(|_| {});
        if let Some((push, xfer)) = &kicks {
            let _ = push.send(());
            let _ = xfer.send(());
        }
    });
    Committer::new(
        opts.top.clone(),
        opts.commit_message.clone(),
        adder,
        on_commit,
    )
    .with_lock(Arc::clone(&lock))
    .with_delay_add(opts.delay_add)
    .run(rx);
    threads.end();
    drop(remote_daemon);
    // No merge or commit is cut short by the exit.
    let _g = lock.lock().unwrap_or_else(|e| e.into_inner());
    end_by(sig_rx.try_recv().ok());
    Ok(())
}

/// The assistant's pusher and transferrer, ended at the daemon's stop:
/// [`AssistantThreads::end`] on the way out, or on drop when `run` returns
/// early with an error.
#[derive(Default)]
struct AssistantThreads {
    stop: Stop,
    /// Their channels, kicked so that they wake up and see the stop.
    kicks: Vec<Sender<()>>,
    threads: Vec<(String, std::thread::JoinHandle<()>)>,
}

impl AssistantThreads {
    /// Asks the threads to stop, kicks their channels, and waits for them
    /// at most [`crate::stop::STOP_WAIT`] (a content pass finishes the file
    /// in hand and starts no other); one still running then is logged and
    /// left to end with the process.
    fn end(&mut self) {
        self.stop.request();
        for k in &self.kicks {
            let _ = k.send(());
        }
        let threads = std::mem::take(&mut self.threads);
        for name in crate::stop::join_within(threads, crate::stop::STOP_WAIT) {
            eprintln!(
                "{name}: still at work {} s after the stop; what it left is done at the next start",
                crate::stop::STOP_WAIT.as_secs()
            );
        }
    }
}

impl Drop for AssistantThreads {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.end();
        }
    }
}

/// Starts the remote daemon for the repository at `top` (as git-annex's
/// assistant starts `git-annex remotedaemon`), with a thread writing what
/// it says to the daemon's log. `None`, with the reason logged, when it
/// cannot start: the assistant then learns of remote changes only when
/// it pulls.
fn start_remote_daemon(top: &Path) -> Option<annex_sync::remotedaemon::RemoteDaemon> {
    let mut daemon = match annex_sync::remotedaemon::RemoteDaemon::start(top, Default::default()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("remotedaemon: not started: {e}");
            return None;
        }
    };
    let said = daemon.take_messages();
    let started = std::thread::Builder::new()
        .name("remotedaemon".into())
        .spawn(move || {
            for m in said.iter() {
                eprintln!(
                    "remotedaemon: {}",
                    String::from_utf8_lossy(&m.to_line()).trim_end()
                );
            }
        });
    if let Err(e) = started {
        eprintln!("remotedaemon: cannot log its messages: {e}");
    }
    Some(daemon)
}

/// Once the work is saved: ends the process as the reference's daemon
/// ends. `SIGTERM` (what `--stop` sends): [`run`] returns and the process
/// exits 0. `SIGINT`: killed by it (its default action, as if it had not
/// been caught), as the reference's is.
fn end_by(sig: Option<nix::sys::signal::Signal>) {
    use nix::sys::signal::{SigSet, Signal, raise};
    if let Some(sig @ Signal::SIGINT) = sig {
        let mut set = SigSet::empty();
        set.add(sig);
        if set.thread_unblock().is_ok() {
            let _ = raise(sig);
        }
    }
}

/// The sanity checker's loop (see [`crate::sanity`]).
fn sanity_loop(git_dir: &Path, top: &Path, status: &Status, committer: Option<Sender<Change>>) {
    let mut last_daily = std::time::Instant::now();
    loop {
        // Not under the repository lock: each transfer's own lock is
        // taken (see `crate::sanity`).
        for f in crate::sanity::remove_stale_transfers(git_dir) {
            eprintln!("removed stale transfer information {}", f.display());
        }
        std::thread::sleep(crate::sanity::HOURLY);
        if last_daily.elapsed() >= crate::sanity::DAILY {
            last_daily = std::time::Instant::now();
            status.update(|s| s.sanity_check_running = true);
            if let Some(tx) = &committer {
                match scan(top) {
                    Ok(changes) => {
                        for c in changes {
                            let _ = tx.send(c);
                        }
                    }
                    Err(e) => eprintln!("sanity check: {e}"),
                }
            }
            status.update(|s| {
                s.sanity_check_running = false;
                s.last_sanity_check = Some(std::time::SystemTime::now());
            });
        }
    }
}
