//! One remote's transport: a thread that keeps (at most) one connection
//! to the remote, fetches when the remote's refs change, reconnects with
//! [`Backoff`] when the connection is lost, and ends on
//! [`Control::Stop`]. Its inputs come over one channel ([`Ev`]: control
//! messages from the controller and what its connection reports); its
//! outputs are [`Emitted`] messages.
//!
//! - ssh: `ssh HOST SHELL 'notifychanges' 'PATH' [--uuid U]`; `READY`
//!   makes it `CONNECTED`, `CHANGED sha...` a fetch when one is needed, the
//!   end of its output a lost connection.
//! - a local repository: its `refs/` (and `packed-refs`) watched with
//!   `notify`; `CONNECTED` while it exists (a removable drive may come and
//!   go), checked at once and after every change.
//! - HTTP: `git ls-remote` every poll interval (git-annex's HTTP protocol
//!   has no change notification).
//!
//! A fetch is needed when the remote's refs are not what our
//! remote-tracking refs say, whether or not we already have the objects
//! (git-annex skips the fetch when it has any one of them, which leaves a
//! remote-tracking ref stale). Since a connection's first report lists
//! every ref the remote has, what changed while the daemon was
//! disconnected or paused is fetched when it reconnects.
//!
//! Reconnection delays start from the first again after an ssh
//! connection that held (10 s), not merely on `READY`: a server that
//! fails right after it does not make a reconnection storm.
//!
//! `DISCONNECTED` is said once when a connection is lost (or the first
//! attempt fails), not again for every failed retry.

use std::collections::{HashMap, HashSet};
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use annex_core::remote::ssh::{shell_quote, ssh_command};

use super::Options;
use super::backoff::Backoff;
use super::protocol::{Emitted, Notification, read_line};
use super::remotes::{Kind, RemoteSpec};
use crate::git::Git;

/// How long an ssh connection must have held for its end to start the
/// reconnection delays from the first again.
const STABLE: Duration = Duration::from_secs(10);

/// What a transport is told by the controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// End: close the connection and return; saying `DISCONNECTED` when
    /// `.0` (a pause, after which it is started again) and connected.
    Stop(bool),
    /// Refs new or changed here (nothing to do for the transports there
    /// are: git pushes on its own, and the ssh notification protocol
    /// carries nothing the other way).
    Changed(Vec<Vec<u8>>),
}

/// What a transport thread waits for.
#[derive(Debug)]
pub enum Ev {
    /// From the controller.
    Ctl(Control),
    /// A line from connection number `.0`.
    Line(u64, Vec<u8>),
    /// Connection number `.0` ended (its output closed or failed).
    Closed(u64, String),
    /// Something changed in the refs of a watched local repository.
    Fs(u64),
}

/// A transport's context.
pub struct Transport {
    /// The remote.
    pub spec: RemoteSpec,
    /// The repository fetched into.
    pub repo: PathBuf,
    /// Timings.
    pub opts: Options,
    /// Where messages go.
    pub out: Sender<Emitted>,
    /// What it waits for.
    pub events: Receiver<Ev>,
    /// A sender into `events`, for its connection's reader.
    pub tx: Sender<Ev>,
    /// Whether the remote was last said to be connected (`None`: not
    /// said yet).
    said: Option<bool>,
    /// Connection numbers, to ignore what an old connection reports.
    generation: u64,
    /// Whether the stop asked for was a pause.
    pausing: bool,
    /// Shas reported by the remote that a fetch does not bring here.
    unfetchable: HashSet<Vec<u8>>,
}

/// How a wait or a connection ended.
enum End {
    /// Told to stop.
    Stop,
    /// The connection was lost (or could not be made).
    Lost,
    /// The remote spoke nonsense: retried at the longest delay.
    Garbled,
}

impl Transport {
    /// A transport for `spec`, fetching into `repo`.
    pub fn new(
        spec: RemoteSpec,
        repo: PathBuf,
        opts: Options,
        out: Sender<Emitted>,
        events: Receiver<Ev>,
        tx: Sender<Ev>,
    ) -> Transport {
        Transport {
            spec,
            repo,
            opts,
            out,
            events,
            tx,
            said: None,
            generation: 0,
            pausing: false,
            unfetchable: HashSet::new(),
        }
    }

    fn note_stop(&mut self, e: &Ev) {
        if let Ev::Ctl(Control::Stop(pause)) = e {
            self.pausing = *pause;
        }
    }

    /// The next event within `timeout`.
    fn recv(&mut self, timeout: Duration) -> Result<Ev, RecvTimeoutError> {
        let e = self.events.recv_timeout(timeout);
        if let Ok(e) = &e {
            self.note_stop(e);
        }
        e
    }

    fn emit(&self, m: Emitted) {
        let _ = self.out.send(m);
    }

    fn connected(&mut self) {
        if self.said != Some(true) {
            self.emit(Emitted::Connected(self.spec.uri.clone()));
        }
        self.said = Some(true);
    }

    fn disconnected(&mut self) {
        if self.said != Some(false) {
            self.emit(Emitted::Disconnected(self.spec.uri.clone()));
        }
        self.said = Some(false);
    }

    fn warn(&self, text: impl Into<String>) {
        self.emit(Emitted::Warning(self.spec.uri.clone(), text.into()));
    }

    /// Runs until told to stop.
    pub fn run(mut self) {
        let mut backoff = Backoff::new(self.opts.initial_backoff, self.opts.max_backoff);
        loop {
            self.generation += 1;
            let end = match self.spec.kind.clone() {
                Kind::Ssh { .. } => self.ssh_session(&mut backoff),
                Kind::Local { path } => self.local_session(&path, &mut backoff),
                Kind::Poll => self.poll_session(&mut backoff),
            };
            let delay = match end {
                End::Stop => {
                    if self.pausing && self.said == Some(true) {
                        self.emit(Emitted::Disconnected(self.spec.uri.clone()));
                    }
                    return;
                }
                End::Lost => backoff.next_delay(),
                End::Garbled => backoff.longest(),
            };
            if let End::Stop = self.idle(Instant::now() + delay) {
                return;
            }
        }
    }

    /// Waits until `until`, heeding the controller.
    fn idle(&mut self, until: Instant) -> End {
        loop {
            let now = Instant::now();
            if now >= until {
                return End::Lost;
            }
            match self.recv(until - now) {
                Ok(Ev::Ctl(Control::Stop(_))) | Err(RecvTimeoutError::Disconnected) => {
                    return End::Stop;
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => return End::Lost,
            }
        }
    }

    /// One ssh connection, from its start to its end.
    fn ssh_session(&mut self, backoff: &mut Backoff) -> End {
        let Kind::Ssh {
            url,
            shell,
            ssh,
            uuid,
        } = &self.spec.kind
        else {
            return End::Garbled;
        };
        // What a fetch could not bring is asked for again on each new
        // connection (a branch there may since point at it).
        self.unfetchable.clear();
        let mut line = vec![
            shell.clone(),
            shell_quote("notifychanges"),
            shell_quote(&url.path),
        ];
        if let Some(u) = uuid {
            line.push("--uuid".into());
            line.push(u.clone());
        }
        let mut cmd = match ssh_command(url, &line.join(" "), ssh) {
            Ok(c) => c,
            Err(e) => {
                self.warn(e);
                self.disconnected();
                return End::Garbled;
            }
        };
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                self.warn(format!("cannot run ssh: {e}"));
                self.disconnected();
                return End::Lost;
            }
        };
        let Some(stdout) = child.stdout.take() else {
            reap(child);
            self.disconnected();
            return End::Lost;
        };
        let gen_ = self.generation;
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            loop {
                match read_line(&mut r) {
                    Ok(Some(l)) => {
                        if tx.send(Ev::Line(gen_, l)).is_err() {
                            return;
                        }
                    }
                    Ok(None) => {
                        let _ = tx.send(Ev::Closed(gen_, String::new()));
                        return;
                    }
                    Err(e) => {
                        let _ = tx.send(Ev::Closed(gen_, e.to_string()));
                        return;
                    }
                }
            }
        });
        let mut ready_at: Option<Instant> = None;
        let end = loop {
            match self.events.recv().inspect(|e| self.note_stop(e)) {
                Ok(Ev::Ctl(Control::Stop(_))) | Err(_) => break End::Stop,
                Ok(Ev::Line(g, l)) if g == gen_ => match Notification::parse(&l) {
                    Ok(Notification::Ready) => {
                        ready_at.get_or_insert_with(Instant::now);
                        self.connected();
                    }
                    Ok(Notification::Changed(shas)) => {
                        if self.spec.pull && self.stale_shas(&shas) && self.fetch() {
                            self.not_fetched(&shas);
                        }
                    }
                    Err(e) => {
                        self.warn(e.to_string());
                        break End::Garbled;
                    }
                },
                Ok(Ev::Closed(g, why)) if g == gen_ => {
                    if !why.is_empty() {
                        self.warn(why);
                        break End::Garbled;
                    }
                    break End::Lost;
                }
                Ok(_) => {}
            }
        };
        reap(child);
        // Success resets the delays: a connection that held, not one
        // that a server failing right after `READY` drops at once.
        if ready_at.is_some_and(|t| t.elapsed() >= STABLE) {
            backoff.reset();
        }
        if !matches!(end, End::Stop) {
            self.disconnected();
        }
        end
    }

    /// A local repository watched, while it is there.
    fn local_session(&mut self, path: &Path, backoff: &mut Backoff) -> End {
        use notify::{RecursiveMode, Watcher as _};
        let Some(git_dir) = annex_core::remote::git_dir_of(path) else {
            self.disconnected();
            return End::Lost;
        };
        let gen_ = self.generation;
        let tx = self.tx.clone();
        let watcher = notify::recommended_watcher(move |e: notify::Result<notify::Event>| {
            if e.is_ok() {
                let _ = tx.send(Ev::Fs(gen_));
            }
        });
        let mut watcher = match watcher {
            Ok(w) => w,
            Err(e) => {
                self.warn(format!("cannot watch {}: {e}", git_dir.display()));
                self.disconnected();
                return End::Garbled;
            }
        };
        let refs = git_dir.join("refs");
        if let Err(e) = watcher
            .watch(&refs, RecursiveMode::Recursive)
            .and_then(|()| watcher.watch(&git_dir, RecursiveMode::NonRecursive))
        {
            self.warn(format!("cannot watch {}: {e}", refs.display()));
            self.disconnected();
            return End::Lost;
        }
        backoff.reset();
        self.connected();
        self.check_listed(&git_dir);
        loop {
            match self.recv(self.opts.local_recheck) {
                Ok(Ev::Ctl(Control::Stop(_))) | Err(RecvTimeoutError::Disconnected) => {
                    return End::Stop;
                }
                Ok(Ev::Fs(g)) if g == gen_ => {
                    // Gather a burst of changes (a push writes several
                    // files) into one look.
                    let quiet = Duration::from_millis(50);
                    loop {
                        match self.recv(quiet) {
                            Ok(Ev::Ctl(Control::Stop(_))) | Err(RecvTimeoutError::Disconnected) => {
                                return End::Stop;
                            }
                            Ok(_) => {}
                            Err(RecvTimeoutError::Timeout) => break,
                        }
                    }
                    if !git_dir.is_dir() {
                        break;
                    }
                    self.check_listed(&git_dir);
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    if !git_dir.is_dir() {
                        break;
                    }
                }
            }
        }
        self.disconnected();
        End::Lost
    }

    /// A remote over HTTP, listed every poll interval while it answers.
    fn poll_session(&mut self, backoff: &mut Backoff) -> End {
        loop {
            let listed = Git::new(&self.repo).output([
                "ls-remote",
                "--heads",
                "--tags",
                "--",
                &self.spec.name,
            ]);
            match listed {
                Ok(out) if out.status.success() => {
                    backoff.reset();
                    self.connected();
                    let refs = parse_ls_remote(&out.stdout);
                    if self.spec.pull && self.stale_refs(&refs) {
                        let _ = self.fetch();
                    }
                }
                _ => {
                    self.disconnected();
                    return End::Lost;
                }
            }
            if let End::Stop = self.idle(Instant::now() + self.opts.poll_interval) {
                return End::Stop;
            }
        }
    }

    /// Lists a local repository's branches and tags and fetches when our
    /// view of them is stale.
    fn check_listed(&mut self, git_dir: &Path) {
        if !self.spec.pull {
            return;
        }
        let out = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(git_dir)
            .args([
                "for-each-ref",
                "--format=%(objectname) %(refname)",
                "refs/heads/",
                "refs/tags/",
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        if let Ok(out) = out
            && out.status.success()
            && self.stale_refs(&parse_ls_remote(&out.stdout))
        {
            let _ = self.fetch();
        }
    }

    /// Our refs: name to value.
    fn our_refs(&self) -> HashMap<Vec<u8>, Vec<u8>> {
        let remote = format!("refs/remotes/{}/", self.spec.name);
        let out = Git::new(&self.repo).output([
            "for-each-ref",
            "--format=%(objectname) %(refname)",
            &remote,
            "refs/tags/",
        ]);
        match out {
            Ok(o) if o.status.success() => parse_ls_remote(&o.stdout)
                .into_iter()
                .map(|(sha, name)| (name, sha))
                .collect(),
            _ => HashMap::new(),
        }
    }

    /// Whether some of the remote's `refs` (value, name) are not what our
    /// remote-tracking refs (and tags) say.
    fn stale_refs(&self, refs: &[(Vec<u8>, Vec<u8>)]) -> bool {
        let ours = self.our_refs();
        let tracking = format!("refs/remotes/{}/", self.spec.name);
        refs.iter().any(|(sha, name)| {
            let local: Vec<u8> = if let Some(b) = name.strip_prefix(b"refs/heads/".as_slice()) {
                [tracking.as_bytes(), b].concat()
            } else if name.starts_with(b"refs/tags/") {
                name.clone()
            } else {
                return false;
            };
            ours.get(&local) != Some(sha)
        })
    }

    /// Whether some of `shas` (the values of changed refs there) is not
    /// the value of one of our remote-tracking refs (or tags).
    fn stale_shas(&self, shas: &[Vec<u8>]) -> bool {
        let ours: HashSet<Vec<u8>> = self.our_refs().into_values().collect();
        shas.iter()
            .any(|s| !ours.contains(s) && !self.unfetchable.contains(s))
    }

    /// After a successful fetch: the reported shas that it did not bring
    /// to a ref of ours (refs there that git's refspec does not fetch,
    /// such as the remote's own remote-tracking refs) are not asked for
    /// again.
    fn not_fetched(&mut self, shas: &[Vec<u8>]) {
        let ours: HashSet<Vec<u8>> = self.our_refs().into_values().collect();
        for s in shas {
            if !ours.contains(s) && self.unfetchable.len() < 10_000 {
                self.unfetchable.insert(s.clone());
            }
        }
    }

    /// `SYNCING`, `git fetch NAME`, `DONESYNCING`. git's output goes to
    /// our standard error (standard output may be the control protocol).
    fn fetch(&self) -> bool {
        self.emit(Emitted::Syncing(self.spec.uri.clone()));
        let mut cmd = Git::new(&self.repo).command(["fetch", "--", &self.spec.name]);
        let to_stderr = std::os::fd::AsFd::as_fd(&std::io::stderr())
            .try_clone_to_owned()
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null());
        cmd.stdout(to_stderr);
        let ok = cmd.status().is_ok_and(|s| s.success());
        self.emit(Emitted::DoneSyncing(self.spec.uri.clone(), ok));
        ok
    }
}

/// Ends a connection: its stdin closed, the process killed and waited for.
fn reap(mut child: Child) {
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
}

/// `SHA<ws>NAME` lines (`ls-remote`, `for-each-ref`); peeled tag lines
/// (`NAME^{}`) left out.
pub fn parse_ls_remote(out: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    out.split(|&b| b == b'\n')
        .filter_map(|l| {
            let i = l.iter().position(|&b| b == b' ' || b == b'\t')?;
            let (sha, name) = (&l[..i], &l[i + 1..]);
            (!sha.is_empty() && !name.is_empty() && !name.ends_with(b"^{}"))
                .then(|| (sha.to_vec(), name.to_vec()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_refs_parse_without_peeled_tags() {
        let out = b"aaa\trefs/heads/main\nbbb refs/tags/v1\nccc\trefs/tags/v1^{}\n\njunk\n";
        assert_eq!(
            parse_ls_remote(out),
            vec![
                (b"aaa".to_vec(), b"refs/heads/main".to_vec()),
                (b"bbb".to_vec(), b"refs/tags/v1".to_vec())
            ]
        );
    }
}
