//! The remote daemon (`git annex remotedaemon`): one process that keeps a
//! connection to each remote, fetches from a remote as soon as its refs
//! change, and is driven by a caller (the assistant) over the control
//! protocol of git-annex's design (`doc/design/git-remote-daemon.mdwn`).
//!
//! - [`protocol`]: the control protocol and the ssh notification protocol,
//!   parsed and written in one place.
//! - [`remotes`]: which remotes, from `.git/config`.
//! - [`transport`]: one thread per remote, with its one connection.
//! - [`backoff`]: reconnection delays.
//!
//! The controller (here) starts a transport for every remote, and on
//! `PAUSE` and `LOSTNET` stops them all (nothing is sent while paused),
//! on `RESUME` starts them again (their first report fetches what changed
//! meanwhile), on `RELOAD` reads the remotes again (stopping those gone or
//! changed, starting those new, keeping the others' connections), passes
//! `CHANGED` on to them, and on `STOP`, or when the caller's side of the
//! channel is gone (EOF), stops them and waits for every thread and child
//! process to end.
//!
//! ```no_run
//! use annex_sync::remotedaemon::{Options, RemoteDaemon, protocol::{Consumed, Emitted}};
//! let daemon = RemoteDaemon::start(std::path::Path::new("."), Options::default())?;
//! for m in daemon.messages().iter() {
//!     if let Emitted::DoneSyncing(uri, true) = m {
//!         println!("fetched from {uri}");
//!         daemon.send(Consumed::Stop);
//!     }
//! }
//! daemon.wait();
//! # Ok::<(), annex_sync::remotedaemon::remotes::RemotesError>(())
//! ```

pub mod backoff;
pub mod protocol;
pub mod remotes;
pub mod transport;

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;
use std::time::Duration;

use protocol::{Consumed, Emitted};
use remotes::{RemoteSpec, RemotesError, Repo};
use transport::{Control, Ev, Transport};

/// The daemon's timings.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The first reconnection delay (doubled after each failure).
    pub initial_backoff: Duration,
    /// The longest reconnection delay.
    pub max_backoff: Duration,
    /// How often a remote without change notification (HTTP) is listed.
    pub poll_interval: Duration,
    /// How often a watched local repository is checked for still being
    /// there (a removable drive).
    pub local_recheck: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            poll_interval: Duration::from_secs(300),
            local_recheck: Duration::from_secs(5),
        }
    }
}

/// A running daemon: send it control messages, read what it emits.
/// Dropping it stops it (as `STOP`) and waits for it.
pub struct RemoteDaemon {
    input: Option<Sender<Consumed>>,
    output: Receiver<Emitted>,
    controller: Option<JoinHandle<()>>,
    /// Closed when the controller has stopped.
    done: Receiver<()>,
}

/// How long dropping a [`RemoteDaemon`] waits for it to stop: a `git
/// fetch` in progress (a stalled remote) is not waited for longer.
const DROP_WAIT: Duration = Duration::from_secs(10);

impl RemoteDaemon {
    /// Starts the daemon in the repository at or above `dir`, with a
    /// transport for each of its remotes.
    pub fn start(dir: &Path, opts: Options) -> Result<RemoteDaemon, RemotesError> {
        let repo = Repo::discover(dir)?;
        let specs = repo.remotes()?;
        let (in_tx, in_rx) = channel();
        let (out_tx, out_rx) = channel();
        let (done_tx, done_rx) = channel::<()>();
        let controller = std::thread::Builder::new()
            .name("remotedaemon".into())
            .spawn(move || {
                Controller::new(repo, opts, out_tx).run(specs, in_rx);
                drop(done_tx);
            })
            .map_err(|e| RemotesError::Open {
                path: dir.to_path_buf(),
                message: format!("cannot start a thread: {e}"),
            })?;
        Ok(RemoteDaemon {
            input: Some(in_tx),
            output: out_rx,
            controller: Some(controller),
            done: done_rx,
        })
    }

    /// Sends a control message (ignored once the daemon has stopped).
    pub fn send(&self, msg: Consumed) {
        if let Some(i) = &self.input {
            let _ = i.send(msg);
        }
    }

    /// A sender of control messages, for another thread (its messages
    /// are ignored once the daemon has stopped).
    pub fn sender(&self) -> Sender<Consumed> {
        self.input.clone().unwrap_or_else(|| channel().0)
    }

    /// What the daemon emits; the channel ends when the daemon has
    /// stopped.
    pub fn messages(&self) -> &Receiver<Emitted> {
        &self.output
    }

    /// Takes what the daemon emits, for another thread to read (the
    /// assistant logs it); [`RemoteDaemon::messages`] then has nothing.
    pub fn take_messages(&mut self) -> Receiver<Emitted> {
        std::mem::replace(&mut self.output, channel().1)
    }

    /// Waits until the daemon has stopped (after `STOP`, or at once when
    /// this is the only way left to talk to it: the input is closed, as
    /// EOF on standard input stops `--foreground`).
    pub fn wait(mut self) {
        self.input = None;
        if let Some(c) = self.controller.take() {
            let _ = c.join();
        }
    }
}

impl Drop for RemoteDaemon {
    /// Stops it, waiting at most 10 s (a transport blocked in a
    /// fetch from a stalled remote is left to end on its own: the caller,
    /// the assistant stopping, must not hang on it).
    fn drop(&mut self) {
        self.input = None;
        if let Some(c) = self.controller.take() {
            match self.done.recv_timeout(DROP_WAIT) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    eprintln!("remotedaemon: a remote is still busy; not waiting for it");
                }
                _ => {
                    let _ = c.join();
                }
            }
        }
    }
}

/// A running transport.
struct Running {
    tx: Sender<Ev>,
    thread: JoinHandle<()>,
}

/// The controller: the transports, and the state of the daemon.
struct Controller {
    repo: Repo,
    opts: Options,
    out: Sender<Emitted>,
    /// The remotes by [`RemoteSpec::key`].
    specs: Vec<RemoteSpec>,
    running: HashMap<String, Running>,
    paused: bool,
}

impl Controller {
    fn new(repo: Repo, opts: Options, out: Sender<Emitted>) -> Controller {
        Controller {
            repo,
            opts,
            out,
            specs: Vec::new(),
            running: HashMap::new(),
            paused: false,
        }
    }

    fn run(mut self, specs: Vec<RemoteSpec>, input: Receiver<Consumed>) {
        self.specs = specs;
        self.start_all();
        // The end of the input (EOF) stops it as STOP does.
        while let Ok(msg) = input.recv() {
            match msg {
                Consumed::Stop => break,
                Consumed::Pause | Consumed::LostNet => {
                    self.stop_all(true);
                    self.paused = true;
                }
                Consumed::Resume => {
                    if self.paused {
                        self.paused = false;
                        self.start_all();
                    }
                }
                Consumed::Reload => self.reload(),
                Consumed::Changed(refs) => {
                    for r in self.running.values() {
                        let _ = r.tx.send(Ev::Ctl(Control::Changed(refs.clone())));
                    }
                }
            }
        }
        self.stop_all(false);
    }

    fn start(&mut self, spec: RemoteSpec) {
        let key = spec.key();
        if self.running.contains_key(&key) {
            return;
        }
        let (tx, rx) = channel();
        // (A thread's name may not hold a NUL; a key does.)
        let name = format!("remotedaemon {}", spec.name.replace('\0', " "));
        let t = Transport::new(
            spec,
            self.repo.dir.clone(),
            self.opts,
            self.out.clone(),
            rx,
            tx.clone(),
        );
        if let Ok(thread) = std::thread::Builder::new()
            .name(name)
            .spawn(move || t.run())
        {
            self.running.insert(key, Running { tx, thread });
        }
    }

    fn start_all(&mut self) {
        for s in self.specs.clone() {
            self.start(s);
        }
    }

    fn stop(&mut self, key: &str) {
        if let Some(r) = self.running.remove(key) {
            let _ = r.tx.send(Ev::Ctl(Control::Stop(true)));
            let _ = r.thread.join();
        }
    }

    /// Stops every transport (for a pause: they say `DISCONNECTED`).
    fn stop_all(&mut self, pause: bool) {
        // Told all at once, then waited for.
        for r in self.running.values() {
            let _ = r.tx.send(Ev::Ctl(Control::Stop(pause)));
        }
        for (_, r) in self.running.drain() {
            let _ = r.thread.join();
        }
    }

    /// Reads the remotes again: those gone or changed stopped, new ones
    /// started (unless paused), the others left connected.
    fn reload(&mut self) {
        let specs = match self.repo.remotes() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("git-annex: remotedaemon: {e}");
                return;
            }
        };
        let keep: std::collections::HashSet<String> = specs.iter().map(RemoteSpec::key).collect();
        let gone: Vec<String> = self
            .running
            .keys()
            .filter(|k| !keep.contains(*k))
            .cloned()
            .collect();
        for k in gone {
            self.stop(&k);
        }
        self.specs = specs;
        if !self.paused {
            self.start_all();
        }
    }
}
