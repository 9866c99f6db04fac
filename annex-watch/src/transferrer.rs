//! The transferrer: moves content as preferred content and numcopies call
//! for, after commits (new files are sent to the remotes that want them)
//! and after merges (files that arrived are fetched; content no longer
//! wanted here or on a remote is dropped where numcopies is proven). The
//! work itself is the content pass of `sync` ([`Syncer::transfer`]: the
//! operations' get, put and drop, over the transfer queue and its
//! transfer info files); this thread decides when.
//!
//! In: a kick on a channel. Kicks that come within a second of each other
//! make one pass. Out: a kick to the pusher when the pass recorded
//! something in the `git-annex` branch, so the remotes learn of it.
//!
//! Other processes' transfers ([`crate::transferwatcher`]): a key another
//! process is moving in this repository (a `get` run by hand, a peer
//! sending content in) is left out of the pass, so the daemon never starts
//! an upload of a key another process is downloading, nor the reverse,
//! nor the same transfer twice; every other key is moved at once. A pass
//! that left keys out runs again once their transfers are over (the
//! transfer watcher kicks when one ends; their locks are looked at again
//! every [`RECHECK`] meanwhile, for a process killed in the middle). A
//! transfer another process starts after a pass began is kept apart by
//! the transfer locks themselves (the second one to start is refused).
//!
//! The pass runs without the daemon's repository lock; the syncer takes
//! it where the index is written (see [`crate::syncer`]), so commits and
//! merges go on while content moves.

use std::collections::HashSet;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use annex_core::key::Key;

use crate::stop::Stop;
use crate::syncer::{RepoLock, Syncer};
use crate::transferwatcher::OtherTransfers;

/// How long kicks are gathered into one pass.
pub const GATHER: Duration = Duration::from_secs(1);

/// How often other processes' transfers are looked at again while keys a
/// pass left out wait for them.
pub const RECHECK: Duration = Duration::from_secs(5);

/// Runs the transferrer until its channel closes or `stop` is asked for
/// (checked at each wake-up; the daemon kicks the channel when it stops). The repository lock is
/// the syncer's to take where it writes the index; transfers run without
/// it. With `others`, the keys other processes are transferring are left
/// out of a pass, and looked at again when their transfers end.
pub fn run<S: Syncer>(
    mut syncer: S,
    rx: Receiver<()>,
    pusher: Sender<()>,
    lock: RepoLock,
    others: Option<OtherTransfers>,
    stop: Stop,
) {
    // The keys the last pass left out.
    let mut left: HashSet<Key> = HashSet::new();
    loop {
        if left.is_empty() {
            if rx.recv().is_err() {
                return;
            }
        } else {
            match rx.recv_timeout(RECHECK) {
                Ok(()) => {}
                Err(RecvTimeoutError::Timeout) => {
                    // Nothing happened here: a pass is worth it only when
                    // one of the keys left out is free now.
                    let busy = busy_keys(others.as_ref());
                    if left.iter().all(|k| busy.contains(k)) {
                        continue;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        if stop.requested() {
            return;
        }
        std::thread::sleep(GATHER);
        while rx.try_recv().is_ok() {}
        if stop.requested() {
            return;
        }
        let busy = busy_keys(others.as_ref());
        if !busy.is_empty() {
            let mut names: Vec<String> = busy.iter().map(ToString::to_string).collect();
            names.sort();
            eprintln!(
                "transferrer: leaving for later {} key(s) other processes are transferring: {}",
                names.len(),
                names.join(", ")
            );
        }
        match syncer.transfer(&lock, &busy, &stop) {
            Ok(true) => {
                let _ = pusher.send(());
            }
            Ok(false) => {}
            Err(e) => eprintln!("transferrer: {e}"),
        }
        left = busy;
    }
}

/// The keys other processes are transferring now.
fn busy_keys(others: Option<&OtherTransfers>) -> HashSet<Key> {
    others
        .map(|o| {
            o.running()
                .iter()
                .filter_map(|t| annex_core::objects::file_key(t.key.as_bytes()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::sync::{Arc, Mutex};

    /// A syncer whose content pass reports, while it runs, whether the
    /// repository lock was free and which keys it was told to leave alone.
    #[derive(Clone)]
    struct Recorder {
        passes: Sender<(bool, HashSet<Key>)>,
    }

    impl Syncer for Recorder {
        fn merge_annex(&mut self) -> Result<bool, String> {
            Ok(false)
        }
        fn merge_branch(&mut self, _: &str, _: &str) -> Result<bool, String> {
            Ok(false)
        }
        fn push(&mut self, _: &[String], _: &RepoLock) -> Result<Vec<String>, String> {
            Ok(Vec::new())
        }
        fn reconnect(&mut self, _: &RepoLock) -> Result<Vec<String>, String> {
            Ok(Vec::new())
        }
        fn transfer(
            &mut self,
            lock: &RepoLock,
            busy: &HashSet<Key>,
            _: &Stop,
        ) -> Result<bool, String> {
            let free = lock.try_lock().is_ok();
            let _ = self.passes.send((free, busy.clone()));
            Ok(false)
        }
    }

    /// Regression: the repository lock was held for the whole content
    /// pass, so nothing was committed or merged while content moved.
    #[test]
    fn the_content_pass_runs_without_the_repository_lock() {
        let (free_tx, free_rx) = channel();
        let (kick, rx) = channel();
        let (push_tx, _push_rx) = channel();
        let lock: RepoLock = Arc::new(Mutex::new(()));
        let l = Arc::clone(&lock);
        let t = std::thread::spawn(move || {
            run(
                Recorder { passes: free_tx },
                rx,
                push_tx,
                l,
                None,
                Stop::new(),
            )
        });
        kick.send(()).unwrap();
        let (free, _) = free_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a pass");
        assert!(free, "the lock was held during the pass");
        drop(kick);
        t.join().unwrap();
    }

    /// Regression: while another process transferred any key, no content
    /// pass ran at all (the whole pass waited). Now the pass runs at once
    /// leaving only that key alone, and runs again, with nothing left
    /// out, once the other process's transfer is over.
    #[test]
    fn only_the_keys_another_process_transfers_wait() {
        use std::io::{BufRead, Write};
        use std::process::{Command, Stdio};
        let d = tempfile::tempdir().unwrap();
        let (kick, rx) = channel();
        let others = crate::transferwatcher::start(d.path(), kick.clone()).unwrap();
        let base = d.path().join("annex/transfer");
        let key = "SHA256E-s1--ab";
        let mut holder = Command::new("python3")
            .arg("-c")
            .arg(
                "import fcntl,os,sys\nb=sys.argv[1]\nk=sys.argv[2]\nos.makedirs(b+'/download/lck',exist_ok=True)\nos.makedirs(b+'/download/u1',exist_ok=True)\nl=open(b+'/download/lck/lck.'+k,'w')\nfcntl.lockf(l,fcntl.LOCK_EX)\no=open(b+'/download/u1/lck.'+k,'w')\nfcntl.lockf(o,fcntl.LOCK_EX)\nopen(b+'/download/u1/'+k,'w').write('1s\\nf\\n')\nprint('started',flush=True)\nsys.stdin.readline()\nos.remove(b+'/download/u1/'+k)\nprint('done',flush=True)\nsys.stdin.readline()",
            )
            .arg(&base)
            .arg(key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(holder.stdout.take().unwrap());
        let mut input = holder.stdin.take().unwrap();
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "started");
        let end = std::time::Instant::now() + Duration::from_secs(10);
        while others.running().is_empty() {
            assert!(std::time::Instant::now() < end, "the download not seen");
            std::thread::sleep(Duration::from_millis(20));
        }
        let (passes_tx, passes) = channel();
        let (push_tx, _push_rx) = channel();
        let lock: RepoLock = Arc::new(Mutex::new(()));
        std::thread::spawn(move || {
            run(
                Recorder { passes: passes_tx },
                rx,
                push_tx,
                lock,
                Some(others),
                Stop::new(),
            )
        });
        kick.send(()).unwrap();
        let (_, busy) = passes
            .recv_timeout(Duration::from_secs(10))
            .expect("a pass while the other process transfers");
        let k = annex_core::objects::file_key(key.as_bytes()).unwrap();
        assert_eq!(busy, HashSet::from([k]));
        writeln!(input).unwrap();
        line.clear();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "done");
        let (_, busy) = passes
            .recv_timeout(Duration::from_secs(20))
            .expect("a pass once the transfer ended");
        assert!(busy.is_empty(), "{busy:?}");
        drop(input);
        let _ = holder.wait();
    }

    /// Regression: the transferrer's loop could not end. Its channel never
    /// closes (the transfer watcher keeps a sender, as the merger and the
    /// committer's callback do), and nothing else told it to, so the
    /// thread outlived the daemon's `run`. Now a stop and a kick end it.
    #[test]
    fn a_stop_ends_the_transferrer_while_others_hold_its_channel() {
        let d = tempfile::tempdir().unwrap();
        let (kick, rx) = channel();
        let others = crate::transferwatcher::start(d.path(), kick.clone()).unwrap();
        let (passes_tx, passes) = channel();
        let (push_tx, _push_rx) = channel();
        let lock: RepoLock = Arc::new(Mutex::new(()));
        let stop = Stop::new();
        let s = stop.clone();
        let t = std::thread::spawn(move || {
            run(
                Recorder { passes: passes_tx },
                rx,
                push_tx,
                lock,
                Some(others),
                s,
            )
        });
        kick.send(()).unwrap();
        passes
            .recv_timeout(Duration::from_secs(10))
            .expect("a pass before the stop");
        stop.request();
        kick.send(()).unwrap();
        let left =
            crate::stop::join_within(vec![("transferrer".into(), t)], Duration::from_secs(10));
        assert!(left.is_empty(), "the transferrer did not end");
        assert!(passes.try_recv().is_err(), "a pass after the stop");
    }
}
