//! The transfer queue: many transfers on N worker threads (`-J N`).
//!
//! Requests name an item and a remote. A key asked for twice (two files of
//! one key; for uploads, to the same remote) is transferred once, and the
//! later requests share the first one's result. Workers only move content:
//! the caller records each result afterwards, in order, on its own thread
//! ([`Annex::received`], [`Annex::uploaded`]), so the location logs are
//! written by one thread. Setting the cancel flag stops the queue from
//! starting further transfers; those not started are reported
//! [`QueueResult::NotRun`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use annex_core::key::Key;
use annex_core::remote::Remote;
use annex_core::transfer::{Direction, Transfer};
use annex_core::uuid::Uuid;

use crate::annex::Annex;
use crate::item::Item;
use crate::observer::Observer;
use crate::reserve;

/// One transfer asked of the queue.
#[derive(Debug, Clone, Copy)]
pub struct Request<'r> {
    /// Index of the item in the items given to [`Annex::run_queue`].
    pub item: usize,
    /// The remote to transfer from (downloads) or to (uploads).
    pub remote: &'r dyn Remote,
}

/// What became of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueResult {
    /// The content was transferred (by this request, or by the earlier
    /// request of the same key, whose index is given).
    Done {
        /// The request that transferred it (this one's own index when it
        /// was this one).
        by: usize,
    },
    /// The transfer failed (the caller may retry it alone to explain why).
    Failed,
    /// Not run: cancelled, or an upload that did not fit the remote's
    /// maxsize.
    NotRun,
}

impl QueueResult {
    /// Whether the content got there.
    pub fn is_done(&self) -> bool {
        matches!(self, QueueResult::Done { .. })
    }
}

/// How the queue runs.
#[derive(Debug, Clone, Copy)]
pub struct QueueOptions<'c> {
    /// Downloads into this repository or uploads to remotes.
    pub direction: Direction,
    /// Worker threads.
    pub jobs: usize,
    /// When set (by another thread, or a signal handler), no further
    /// transfer is started.
    pub cancel: Option<&'c AtomicBool>,
}

/// Makes the observer of one transfer (its item and remote); called on a
/// worker thread.
pub type ObserverFactory<'f> = dyn Fn(&Item, &dyn Remote) -> Box<dyn Observer + Send> + Sync + 'f;

impl Annex {
    /// Runs the requests' transfers (see the module doc). Returns one
    /// result per request, in the requests' order. Uploads to a repository
    /// with a maxsize reserve their space first and keep the reservation
    /// until [`Annex::uploaded`] records them (or it is cancelled here on
    /// failure).
    pub fn run_queue(
        &self,
        items: &[Item],
        requests: &[Request<'_>],
        options: QueueOptions<'_>,
        observer: &ObserverFactory<'_>,
    ) -> Vec<QueueResult> {
        let direction = options.direction;
        // The first request of each key (and remote, for uploads) runs;
        // the others share its result.
        let mut first: HashMap<(&Key, Option<&Uuid>), usize> = HashMap::new();
        let mut leader: Vec<usize> = Vec::with_capacity(requests.len());
        for (i, r) in requests.iter().enumerate() {
            let remote = (direction == Direction::Upload).then(|| r.remote.uuid());
            leader.push(*first.entry((&items[r.item].key, remote)).or_insert(i));
        }
        let mut results = vec![QueueResult::NotRun; requests.len()];
        let mut runnable: Vec<usize> = Vec::new();
        for (i, r) in requests.iter().enumerate() {
            if leader[i] != i {
                continue;
            }
            if direction == Direction::Upload {
                match self.reserver.reserve(
                    self.session.state.branch(),
                    r.remote.uuid(),
                    &items[r.item].key,
                    self.enforce_maxsize,
                ) {
                    Ok(reserve::Outcome::Reserved(res)) => self.reserver.hold(res),
                    Ok(reserve::Outcome::Unlimited) => {}
                    Ok(reserve::Outcome::Full(_)) | Err(_) => continue,
                }
            }
            runnable.push(i);
        }
        let done = Mutex::new(&mut results);
        let next = AtomicUsize::new(0);
        // Workers get what they need, not the whole (thread-bound) session.
        let shared = Shared {
            store: &self.session.store,
            git_dir: self.session.repo.git_dir(),
            here: self.here(),
        };
        std::thread::scope(|s| {
            for _ in 0..options.jobs.max(1).min(runnable.len()) {
                s.spawn(|| {
                    loop {
                        if options.cancel.is_some_and(|c| c.load(Ordering::SeqCst)) {
                            break;
                        }
                        let n = next.fetch_add(1, Ordering::SeqCst);
                        let Some(&i) = runnable.get(n) else {
                            break;
                        };
                        let r = requests[i];
                        let item = &items[r.item];
                        let mut obs = observer(item, r.remote);
                        let ok = shared.transfer(r.remote, item, direction, &mut *obs);
                        let mut d = done.lock().unwrap_or_else(|e| e.into_inner());
                        d[i] = if ok {
                            QueueResult::Done { by: i }
                        } else {
                            QueueResult::Failed
                        };
                    }
                });
            }
        });
        for (i, r) in requests.iter().enumerate() {
            if leader[i] == i {
                if direction == Direction::Upload && !results[i].is_done() {
                    self.reserver.cancel(r.remote.uuid(), &items[r.item].key);
                }
            } else {
                results[i] = match results[leader[i]] {
                    QueueResult::Done { by } => QueueResult::Done { by },
                    other => other,
                };
            }
        }
        results
    }
}

/// What a worker thread needs of the repository.
struct Shared<'a> {
    store: &'a annex_core::objects::ObjectStore,
    git_dir: &'a std::path::Path,
    here: &'a Uuid,
}

impl Shared<'_> {
    /// Moves one key's content, with its transfer information file, and
    /// nothing else (no log written): a worker's part of the queue.
    fn transfer(
        &self,
        remote: &dyn Remote,
        item: &Item,
        direction: Direction,
        obs: &mut dyn Observer,
    ) -> bool {
        let store = self.store;
        let Ok(mut t) = Transfer::start(
            self.git_dir,
            direction,
            remote.uuid(),
            &item.key,
            &item.top_path,
            false,
        ) else {
            obs.end(false);
            return false;
        };
        let here = self.here;
        let ok = match direction {
            Direction::Download => {
                let tmp = store.tmp_path(&item.key);
                remote
                    .retrieve(&item.key, &tmp, here, &item.top_path, &mut |n| {
                        obs.progress(n);
                        t.progress(n)
                    })
                    .is_ok()
                    && store.ingest_from_temp(&tmp, &item.key).is_ok()
            }
            Direction::Upload => match store.find(&item.key) {
                Some(src) => remote
                    .store(&item.key, &src, here, &item.top_path, &mut |n| {
                        obs.progress(n);
                        t.progress(n)
                    })
                    .is_ok(),
                None => false,
            },
        };
        obs.end(ok);
        t.finish(ok);
        ok
    }
}
