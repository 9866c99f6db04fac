//! The stop asked of the assistant's threads when the daemon ends.
//!
//! The pusher and the transferrer wait on channels whose senders other
//! threads keep (the merger, the transfer watcher, the committer's
//! callback), so a channel never closes to end them. [`Stop`] is what
//! ends them: the daemon sets it, kicks their channels, and each thread
//! returns at its next wake-up; a content pass in progress starts no new
//! file once it is set ([`annex_sync::content::ContentOptions::stop`]),
//! so the transfer in flight finishes and is recorded and nothing else
//! begins. The daemon waits a bounded time for them ([`STOP_WAIT`]): a
//! stop never waits long for a big transfer, which is resumed at the next
//! start from what the object store's temporary file holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the daemon waits, once stopping, for its threads to end.
pub const STOP_WAIT: Duration = Duration::from_secs(5);

/// A stop flag shared by the daemon and its threads; clones share it.
#[derive(Clone, Debug, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// A stop not yet asked for.
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Asks every holder to stop.
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// The flag itself, for a content pass
    /// ([`annex_sync::content::ContentOptions::stop`]).
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.0)
    }
}

/// Waits until every thread of `threads` (with its name) has ended, or
/// `wait` has passed; joins those that ended and returns the names of
/// those still running (left to end with the process).
pub fn join_within(threads: Vec<(String, JoinHandle<()>)>, wait: Duration) -> Vec<String> {
    let end = Instant::now() + wait;
    while Instant::now() < end && threads.iter().any(|(_, t)| !t.is_finished()) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut running = Vec::new();
    for (name, t) in threads {
        if t.is_finished() {
            let _ = t.join();
        } else {
            running.push(name);
        }
    }
    running
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_stop() {
        let a = Stop::new();
        let b = a.clone();
        assert!(!b.requested());
        a.request();
        assert!(b.requested());
        assert!(b.flag().load(Ordering::SeqCst));
    }

    #[test]
    fn join_within_reports_the_threads_still_running() {
        let quick = std::thread::spawn(|| {});
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let slow = std::thread::spawn(move || {
            let _ = rx.recv();
        });
        let left = join_within(
            vec![("quick".into(), quick), ("slow".into(), slow)],
            Duration::from_millis(200),
        );
        assert_eq!(left, vec!["slow".to_string()]);
        drop(tx);
    }
}
