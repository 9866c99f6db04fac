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
//! Other processes' transfers ([`crate::transferwatcher`]): while another
//! process moves content in this repository (a `get` run by hand, a peer
//! sending content in), no pass starts, so the daemon never starts an
//! upload of a key another process is downloading, nor the reverse, nor
//! the same transfer twice; the pass runs once they are over (the
//! transfer watcher kicks when one ends; their locks are looked at again
//! every [`RECHECK`] meanwhile, for a process killed in the middle). The
//! whole pass waits, not only the keys concerned: the content pass has no
//! way to leave keys out and still record a complete pass. A transfer
//! another process starts after a pass began is kept apart by the
//! transfer locks themselves (the second one to start is refused).
//!
//! The pass runs without the daemon's repository lock; the syncer takes
//! it where the index is written (see [`crate::syncer`]), so commits and
//! merges go on while content moves.

use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use crate::syncer::{RepoLock, Syncer};
use crate::transferwatcher::OtherTransfers;

/// How long kicks are gathered into one pass.
pub const GATHER: Duration = Duration::from_secs(1);

/// How often other processes' transfers are looked at again while a pass
/// waits for them.
pub const RECHECK: Duration = Duration::from_secs(5);

/// Runs the transferrer until its channel closes. The repository lock is
/// the syncer's to take where it writes the index; transfers run without
/// it. With `others`, no pass starts while another process transfers.
pub fn run<S: Syncer>(
    mut syncer: S,
    rx: Receiver<()>,
    pusher: Sender<()>,
    lock: RepoLock,
    others: Option<OtherTransfers>,
) {
    let mut waiting = false;
    loop {
        if !waiting {
            if rx.recv().is_err() {
                return;
            }
            std::thread::sleep(GATHER);
            while rx.try_recv().is_ok() {}
        }
        if let Some(o) = &others {
            let running = o.running();
            if !running.is_empty() {
                if !waiting {
                    eprintln!(
                        "transferrer: waiting for {} transfer(s) of other processes: {}",
                        running.len(),
                        running
                            .iter()
                            .map(|t| format!("{} {}", t.direction, t.key))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
                waiting = true;
                match rx.recv_timeout(RECHECK) {
                    Ok(()) | Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        }
        waiting = false;
        match syncer.transfer(&lock) {
            Ok(true) => {
                let _ = pusher.send(());
            }
            Ok(false) => {}
            Err(e) => eprintln!("transferrer: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::sync::{Arc, Mutex};

    /// A syncer whose content pass reports, while it runs, whether the
    /// repository lock was free.
    #[derive(Clone)]
    struct Probe {
        free_during_pass: Sender<bool>,
    }

    impl Syncer for Probe {
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
        fn transfer(&mut self, lock: &RepoLock) -> Result<bool, String> {
            let free = lock.try_lock().is_ok();
            let _ = self.free_during_pass.send(free);
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
                Probe {
                    free_during_pass: free_tx,
                },
                rx,
                push_tx,
                l,
                None,
            )
        });
        kick.send(()).unwrap();
        let free = free_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a pass");
        assert!(free, "the lock was held during the pass");
        drop(kick);
        t.join().unwrap();
    }
}
