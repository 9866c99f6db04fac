//! The transfer watcher, as git-annex's assistant's `TransferWatcher`
//! thread: watches `.git/annex/transfer/{upload,download}/` (through
//! `notify`, no polling) for the transfer information files of other
//! processes (a `git annex get` or `copy` run by hand, a peer's daemon
//! sending content into this repository), so the transferrer never starts
//! a transfer while another process is moving content here.
//!
//! An information file `DIRECTION/UUID/KEY` is another process's running
//! transfer while its lock file (`upload/UUID/lck.KEY`; for a download
//! `download/lck/lck.KEY` or `download/UUID/lck.KEY`) is locked by another
//! process: a lock test (`F_GETLK`) never reports this process's own
//! locks, so the daemon's own transfers are not counted. A transfer seen
//! starting is remembered; when its information file goes, or its lock is
//! found free (a process killed in the middle), it is over and the
//! transferrer is told (content that came may be sent on, or fetched if
//! the other process failed), as the reference's `finishedTransfer` queues
//! the uploads of what was downloaded.
//!
//! In: the file system's events. Out: [`OtherTransfers::running`] for the
//! transferrer to ask, and a kick on its channel when one ends.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use notify::event::{EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher as _};

/// Errors starting the transfer watcher.
#[derive(Debug, thiserror::Error)]
pub enum TransferWatchError {
    /// The transfer directory could not be made or watched.
    #[error("cannot watch {}: {detail}", path.display())]
    Watch {
        /// The directory.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// The thread could not start.
    #[error("cannot start the transfer watcher for {}: {source}", path.display())]
    Thread {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// A transfer another process is running in this repository.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Running {
    /// `upload` or `download`.
    pub direction: String,
    /// The UUID of the other repository.
    pub remote: String,
    /// The key, as its file is named.
    pub key: String,
}

/// The information file `path` (under `base`, the transfer directory) as
/// a transfer: `None` for lock files, failed transfers' records and
/// anything else.
pub fn parse_info(base: &Path, path: &Path) -> Option<Running> {
    let rel = path.strip_prefix(base).ok()?;
    let parts: Vec<&str> = rel
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect::<Option<Vec<_>>>()?;
    let [direction, remote, key] = parts.as_slice() else {
        return None;
    };
    if !matches!(*direction, "upload" | "download") || *remote == "lck" || key.starts_with("lck.") {
        return None;
    }
    Some(Running {
        direction: direction.to_string(),
        remote: remote.to_string(),
        key: key.to_string(),
    })
}

/// Whether another process holds a lock on `path` (asked without taking
/// it; this process's own locks are never reported, and its lock files
/// are never opened: closing a descriptor of one would release its lock,
/// see [`annex_core::content::lock_state`]).
fn locked_elsewhere(path: &Path) -> bool {
    annex_core::content::lock_state(path) == annex_core::content::LockState::HeldElsewhere
}

/// Whether the transfer `t` (under `base`) is running in another process.
pub fn held_elsewhere(base: &Path, t: &Running) -> bool {
    let lck = format!("lck.{}", t.key);
    let mut locks = vec![base.join(&t.direction).join(&t.remote).join(&lck)];
    if t.direction == "download" {
        locks.push(base.join("download").join("lck").join(&lck));
    }
    base.join(&t.direction)
        .join(&t.remote)
        .join(&t.key)
        .exists()
        && locks.iter().any(|l| locked_elsewhere(l))
}

/// The other processes' transfers the watcher saw start and not yet end.
#[derive(Debug, Clone)]
pub struct OtherTransfers {
    base: PathBuf,
    seen: Arc<Mutex<BTreeSet<Running>>>,
    kick: Sender<()>,
}

impl OtherTransfers {
    /// The transfers of other processes running now (each looked at
    /// again: one whose lock was let go is over, and the transferrer is
    /// told).
    pub fn running(&self) -> Vec<Running> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let before = seen.len();
        seen.retain(|t| held_elsewhere(&self.base, t));
        if seen.len() < before {
            let _ = self.kick.send(());
        }
        seen.iter().cloned().collect()
    }

    /// Records what `path` (an event's) says of a transfer.
    fn saw(&self, path: &Path) {
        let Some(t) = parse_info(&self.base, path) else {
            return;
        };
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if held_elsewhere(&self.base, &t) {
            seen.insert(t);
        } else if seen.remove(&t) {
            // Over: what came may go on, what failed may be tried here.
            let _ = self.kick.send(());
        }
    }

    /// Every information file there is now, as if just written.
    fn scan(&self) {
        for e in walkdir::WalkDir::new(&self.base)
            .min_depth(3)
            .max_depth(3)
            .into_iter()
            .filter_map(Result::ok)
        {
            if e.file_type().is_file() {
                self.saw(e.path());
            }
        }
    }

    fn handle(&self, ev: notify::Result<notify::Event>) {
        let ev = match ev {
            Ok(ev) => ev,
            Err(e) => {
                eprintln!("transferwatcher: watch error: {e}");
                return;
            }
        };
        match ev.kind {
            EventKind::Create(_)
            | EventKind::Remove(_)
            | EventKind::Modify(ModifyKind::Name(_)) => {
                for p in &ev.paths {
                    if p.is_dir() {
                        // A new remote's directory: what is in it may
                        // have come before its watch.
                        for e in walkdir::WalkDir::new(p).into_iter().filter_map(Result::ok) {
                            if e.file_type().is_file() {
                                self.saw(e.path());
                            }
                        }
                    } else {
                        self.saw(p);
                    }
                }
            }
            EventKind::Modify(_) => {
                for p in &ev.paths {
                    self.saw(p);
                }
            }
            _ => {}
        }
    }
}

/// Starts watching the transfer directory of `git_dir` in a thread;
/// `kick` is told when another process's transfer ends. Returns once the
/// watch is in place and the transfers already running are known.
pub fn start(git_dir: &Path, kick: Sender<()>) -> Result<OtherTransfers, TransferWatchError> {
    let base = git_dir.join("annex").join("transfer");
    let werr = |path: &Path, detail: String| TransferWatchError::Watch {
        path: path.to_path_buf(),
        detail,
    };
    for d in ["upload", "download"] {
        let dir = base.join(d);
        std::fs::create_dir_all(&dir).map_err(|e| werr(&dir, e.to_string()))?;
    }
    let base = base.canonicalize().unwrap_or(base);
    let (tx, rx) = channel::<notify::Result<notify::Event>>();
    let mut watcher = notify::recommended_watcher(tx).map_err(|e| werr(&base, e.to_string()))?;
    for d in ["upload", "download"] {
        let dir = base.join(d);
        watcher
            .watch(&dir, RecursiveMode::Recursive)
            .map_err(|e| werr(&dir, e.to_string()))?;
    }
    let others = OtherTransfers {
        base: base.clone(),
        seen: Arc::default(),
        kick,
    };
    others.scan();
    let o = others.clone();
    std::thread::Builder::new()
        .name("transferwatcher".into())
        .spawn(move || {
            // The watcher lives as long as the thread.
            let _watcher = watcher;
            run(&o, rx);
        })
        .map_err(|source| TransferWatchError::Thread { path: base, source })?;
    Ok(others)
}

fn run(others: &OtherTransfers, rx: Receiver<notify::Result<notify::Event>>) {
    for ev in rx {
        others.handle(ev);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    #[test]
    fn info_files_are_told_from_lock_files_and_failures() {
        let b = Path::new("/r/.git/annex/transfer");
        assert_eq!(
            parse_info(b, &b.join("download/u1/SHA256E-s1--ab")),
            Some(Running {
                direction: "download".into(),
                remote: "u1".into(),
                key: "SHA256E-s1--ab".into(),
            })
        );
        assert_eq!(parse_info(b, &b.join("download/u1/lck.K")), None);
        assert_eq!(parse_info(b, &b.join("download/lck/lck.K")), None);
        assert_eq!(parse_info(b, &b.join("failed/download/u1/K")), None);
        assert_eq!(parse_info(b, &b.join("upload/u1")), None);
        assert_eq!(
            parse_info(Path::new("/elsewhere"), &b.join("upload/u/K")),
            None
        );
    }

    fn wait(what: &str, mut f: impl FnMut() -> bool) {
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if f() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("timed out waiting for {what}");
    }

    /// Another process (a python holding the locks as git-annex does)
    /// starts a download, then ends it: the watcher sees it running, and
    /// kicks once it is over; this process's own locks are not counted.
    #[test]
    fn another_processs_transfer_is_seen_and_its_end_told() {
        let d = tempfile::tempdir().unwrap();
        let (kick, kicked) = channel();
        let others = start(d.path(), kick).unwrap();
        assert!(others.running().is_empty());
        let base = d.path().join("annex/transfer");
        // Our own transfer: not another process's.
        let own = base.join("upload/u2");
        std::fs::create_dir_all(&own).unwrap();
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(own.join("lck.K2"))
            .unwrap();
        rustix::fs::fcntl_lock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).unwrap();
        std::fs::write(own.join("K2"), "1s\nf\n").unwrap();
        let mut holder = Command::new("python3")
            .arg("-c")
            .arg(
                "import fcntl,os,sys\nb=sys.argv[1]\nos.makedirs(b+'/download/lck',exist_ok=True)\nos.makedirs(b+'/download/u1',exist_ok=True)\nl=open(b+'/download/lck/lck.K1','w')\nfcntl.lockf(l,fcntl.LOCK_EX)\no=open(b+'/download/u1/lck.K1','w')\nfcntl.lockf(o,fcntl.LOCK_EX)\nopen(b+'/download/u1/K1','w').write('1s\\nf\\n')\nprint('started',flush=True)\nsys.stdin.readline()\nos.remove(b+'/download/u1/K1')\nprint('done',flush=True)\nsys.stdin.readline()",
            )
            .arg(&base)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(holder.stdout.take().unwrap());
        let mut input = holder.stdin.take().unwrap();
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "started");
        let k1 = Running {
            direction: "download".into(),
            remote: "u1".into(),
            key: "K1".into(),
        };
        wait("the download seen", || others.running() == vec![k1.clone()]);
        while kicked.try_recv().is_ok() {}
        use std::io::Write;
        writeln!(input).unwrap();
        line.clear();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "done");
        kicked
            .recv_timeout(Duration::from_secs(10))
            .expect("told of the end");
        assert!(others.running().is_empty());
        drop(input);
        let _ = holder.wait();
        drop(f);
    }
}
