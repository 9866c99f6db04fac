//! The transferrer: moves content as preferred content and numcopies call
//! for, after commits (new files are sent to the remotes that want them)
//! and after merges (files that arrived are fetched; content no longer
//! wanted here or on a remote is dropped where numcopies is proven). The
//! work itself is the content pass of `sync` ([`Syncer::transfer`]: the
//! operations' get, put and drop, over the transfer queue and its
//! transfer info files, so it never starts an upload of a key another
//! process is downloading, nor the reverse); this thread decides when.
//!
//! In: a kick on a channel. Kicks that come within a second of each other
//! make one pass. Out: a kick to the pusher when the pass recorded
//! something in the `git-annex` branch, so the remotes learn of it.

use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

use crate::syncer::{RepoLock, Syncer};

/// How long kicks are gathered into one pass.
pub const GATHER: Duration = Duration::from_secs(1);

/// Runs the transferrer until its channel closes.
/// The repository lock is the syncer's to take where it writes the
/// index; transfers run without it.
pub fn run<S: Syncer>(mut syncer: S, rx: Receiver<()>, pusher: Sender<()>, lock: RepoLock) {
    while rx.recv().is_ok() {
        std::thread::sleep(GATHER);
        while rx.try_recv().is_ok() {}
        let outcome = syncer.transfer(&lock);
        match outcome {
            Ok(true) => {
                let _ = pusher.send(());
            }
            Ok(false) => {}
            Err(e) => eprintln!("transferrer: {e}"),
        }
    }
}
