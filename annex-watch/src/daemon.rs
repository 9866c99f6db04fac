//! The daemon's shell: starting in the background as git-annex does
//! (`Utility.Daemon.daemonize`: the program runs itself again with the same
//! arguments and `DAEMONIZED` set to its own path, in a new session, stdin
//! from `/dev/null`, stdout and stderr to the rotated `daemon.log`), or in
//! the foreground (the pid file locked, output to the log all the same);
//! stopping; and [`run`], which wires the watcher, the startup scan and the
//! committer together.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::channel;

use crate::changes::Change;
use crate::committer::{Adder, Committer, scan};
use crate::pidfile::{PidFileError, PidLock, check_daemon, lock_pid_file};
use crate::status::DaemonStatus;
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
    /// The daemon's files.
    pub files: DaemonFiles,
    /// The commit message (`git-annex in <description>`).
    pub commit_message: String,
}

/// Runs the watch daemon until it is killed: watches the tree, scans for
/// what changed while no daemon ran, and commits as changes come.
pub fn run<A: Adder>(opts: &RunOptions, adder: A) -> Result<(), DaemonError> {
    let status_path = opts.files.status.clone();
    let write_status = move |s: &DaemonStatus| {
        if let Err(e) = s.write(&status_path) {
            eprintln!("cannot write {}: {e}", status_path.display());
        }
    };
    write_status(&DaemonStatus::default());
    let (tx, rx) = channel::<Change>();
    // The watcher: its watches are in place before the scan starts, so
    // nothing changed between the two is missed.
    let (ready_tx, ready_rx) = channel();
    let top = opts.top.clone();
    let wtx = tx.clone();
    std::thread::Builder::new()
        .name("watcher".into())
        .spawn(move || {
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
        })
        .map_err(|source| DaemonError::Io {
            op: "start the watcher thread for",
            path: opts.top.clone(),
            source,
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
    for c in scan(&opts.top)? {
        let _ = tx.send(c);
    }
    let done = DaemonStatus {
        scan_complete: true,
        ..Default::default()
    };
    write_status(&done);
    drop(tx);
    let on_commit = Box::new(move || write_status(&done));
    Committer::new(
        opts.top.clone(),
        opts.commit_message.clone(),
        adder,
        on_commit,
    )
    .run(rx);
    Ok(())
}
