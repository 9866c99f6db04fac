//! The pusher and its retrier, as git-annex's assistant's `Pusher` and
//! `PushRetrier` threads: after commits (and merges), push to the remotes.
//!
//! In: a kick on a channel for each commit or merge. The pusher waits two
//! seconds (a rate limit, as the reference's, so a flood of commits makes
//! one push), then pushes every remote that is pushed to (the current
//! branch to `synced/BRANCH`, the `git-annex` branch; a push rejected as
//! not fast-forward is followed by a pull and a second push, as `sync`
//! does it). At start it first pulls from and pushes to every remote (the
//! reference's `reconnectRemotes`).
//!
//! A remote whose push failed is retried on its own, after a delay that
//! doubles with each failure, from [`FIRST_RETRY`] up to [`MAX_RETRY`]
//! (the reference retries every half hour; the backoff reaches that cap);
//! a push that works, whether retried or kicked, clears its failures.

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::stop::Stop;
use crate::syncer::{RepoLock, Syncer};

/// The delay before the first retry of a failed push.
pub const FIRST_RETRY: Duration = Duration::from_secs(10);

/// The longest delay between retries (git-annex's half hour).
pub const MAX_RETRY: Duration = Duration::from_secs(1800);

/// The wait after a kick before pushing (git-annex's two seconds).
pub const RATE_LIMIT: Duration = Duration::from_secs(2);

/// The delay before retrying a push that failed `failures` times in a row
/// (1 for the first failure): doubling from [`FIRST_RETRY`], capped at
/// [`MAX_RETRY`].
pub fn retry_delay(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_RETRY.saturating_mul(1u32 << doublings).min(MAX_RETRY)
}

/// Failed pushes: for each remote, how many times in a row and when to
/// retry.
#[derive(Debug, Default)]
pub struct Failures {
    map: BTreeMap<String, (u32, Instant)>,
}

impl Failures {
    /// Records the outcome of a push to `tried` (every remote when empty)
    /// that failed for `failed`, at `now`.
    pub fn record(&mut self, tried: &[String], failed: &[String], now: Instant) {
        if tried.is_empty() {
            self.map.retain(|r, _| failed.contains(r));
        } else {
            self.map
                .retain(|r, _| !tried.contains(r) || failed.contains(r));
        }
        for r in failed {
            let n = self.map.get(r).map_or(0, |(n, _)| *n) + 1;
            self.map.insert(r.clone(), (n, now + retry_delay(n)));
        }
    }

    /// The remotes due for a retry at `now`.
    pub fn due(&self, now: Instant) -> Vec<String> {
        self.map
            .iter()
            .filter(|(_, (_, at))| *at <= now)
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// When the next retry is due.
    pub fn next(&self) -> Option<Instant> {
        self.map.values().map(|(_, at)| *at).min()
    }
}

/// Runs the pusher until the channel closes or `stop` is asked for
/// (checked at each wake-up): `reconnect` first, then a
/// push after each kick and the retries as they fall due.
/// The repository lock is the syncer's to take where it writes.
pub fn run<S: Syncer>(mut syncer: S, rx: Receiver<()>, lock: RepoLock, stop: Stop) {
    let mut failures = Failures::default();
    let outcome = syncer.reconnect(&lock);
    match outcome {
        Ok(failed) => failures.record(&[], &failed, Instant::now()),
        Err(e) => eprintln!("pusher: {e}"),
    }
    loop {
        let kicked = match failures.next() {
            None => match rx.recv() {
                Ok(()) => true,
                Err(_) => return,
            },
            Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                Ok(()) => true,
                Err(RecvTimeoutError::Timeout) => false,
                Err(RecvTimeoutError::Disconnected) => return,
            },
        };
        if stop.requested() {
            return;
        }
        let remotes = if kicked {
            std::thread::sleep(RATE_LIMIT);
            while rx.try_recv().is_ok() {}
            if stop.requested() {
                return;
            }
            Vec::new()
        } else {
            let due = failures.due(Instant::now());
            if due.is_empty() {
                continue;
            }
            due
        };
        let outcome = syncer.push(&remotes, &lock);
        match outcome {
            Ok(failed) => failures.record(&remotes, &failed, Instant::now()),
            Err(e) => eprintln!("pusher: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_a_cap() {
        assert_eq!(retry_delay(1), FIRST_RETRY);
        assert_eq!(retry_delay(2), FIRST_RETRY * 2);
        assert_eq!(retry_delay(3), FIRST_RETRY * 4);
        assert_eq!(retry_delay(100), MAX_RETRY);
        assert!((1..200).all(|n| retry_delay(n) <= MAX_RETRY));
    }

    #[test]
    fn failures_are_counted_and_cleared_by_a_push_that_works() {
        let t0 = Instant::now();
        let mut f = Failures::default();
        let a = "a".to_string();
        let b = "b".to_string();
        f.record(&[], &[a.clone(), b.clone()], t0);
        assert_eq!(f.next(), Some(t0 + FIRST_RETRY));
        assert!(f.due(t0).is_empty());
        assert_eq!(f.due(t0 + FIRST_RETRY), vec![a.clone(), b.clone()]);
        // Retrying a alone: it fails again, b is untouched.
        f.record(std::slice::from_ref(&a), std::slice::from_ref(&a), t0);
        assert_eq!(f.map[&a].0, 2);
        assert_eq!(f.map[&b].0, 1);
        // A push to every remote that works clears them all.
        f.record(&[], &[], t0);
        assert_eq!(f.next(), None);
    }
}
