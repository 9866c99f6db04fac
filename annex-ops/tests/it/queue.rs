//! The transfer queue ([`Annex::run_queue`]) through the library: a key
//! asked for twice is transferred once and both items recorded; a
//! cancelled queue starts nothing more. Checked by the reference.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use annex_core::remote::Remote;
use annex_core::transfer::Direction;
use annex_ops::observer::Observer;
use annex_ops::queue::{QueueOptions, QueueResult, Request};
use annex_ops::{Annex, Item};

use crate::fixture::{self, fsck_ok, has, open, pair, uuids, whereis};

const SAME: &[u8] = b"two files, one key\n";
const B: &[u8] = b"content of b\n";
const C: &[u8] = b"content of c, the third\n";

/// What the queue's observers saw: per transfer started, its file and the
/// last progress.
type Seen = Arc<Mutex<Vec<(String, u64)>>>;

/// The observer of one queued transfer: records its progress into `Seen`.
struct Meter {
    seen: Seen,
    index: usize,
}

impl Observer for Meter {
    fn progress(&mut self, done: u64) {
        let mut s = self.seen.lock().expect("not poisoned");
        s[self.index].1 = done;
    }
}

/// Runs the queue over `files` (one request each, with `remote`), with an
/// observer per transfer started; `on_start` is called as each starts.
fn run(
    ops: &Annex,
    items: &[Item],
    remote: &dyn Remote,
    options: QueueOptions<'_>,
    on_start: &(dyn Fn() + Sync),
) -> (Vec<QueueResult>, Vec<(String, u64)>) {
    let requests: Vec<Request<'_>> = (0..items.len())
        .map(|item| Request { item, remote })
        .collect();
    let seen: Seen = Arc::default();
    let factory = |item: &Item, _remote: &dyn Remote| -> Box<dyn Observer + Send> {
        on_start();
        let mut s = seen.lock().expect("not poisoned");
        s.push((String::from_utf8_lossy(&item.top_path).into_owned(), 0));
        Box::new(Meter {
            seen: seen.clone(),
            index: s.len() - 1,
        })
    };
    let results = ops.run_queue(items, &requests, options, &factory);
    let seen = seen.lock().expect("not poisoned").clone();
    (results, seen)
}

fn items(ops: &Annex, files: &[&str]) -> Vec<Item> {
    files.iter().map(|f| fixture::item(ops, f)).collect()
}

#[test]
fn downloads_of_two_files_of_one_key_transfer_it_once_and_record_both() {
    let p = pair(&[("a", SAME), ("a2", SAME), ("b", B)]);
    let ops = open(&p.clone);
    let items = items(&ops, &["a", "a2", "b"]);
    assert_eq!(items[0].key, items[1].key);
    let origin = ops
        .remote_named("origin")
        .expect("origin")
        .usable()
        .expect("opened");
    let (results, seen) = run(
        &ops,
        &items,
        origin,
        QueueOptions {
            direction: Direction::Download,
            jobs: 2,
            cancel: None,
        },
        &|| {},
    );
    assert_eq!(
        results,
        [
            QueueResult::Done { by: 0 },
            QueueResult::Done { by: 0 },
            QueueResult::Done { by: 2 }
        ]
    );
    let mut seen = seen;
    seen.sort();
    assert_eq!(
        seen,
        [
            ("a".to_owned(), SAME.len() as u64),
            ("b".to_owned(), B.len() as u64)
        ],
        "one transfer per key, each with its bytes"
    );
    // The caller records each item, in order, on its own thread.
    for (item, r) in items.iter().zip(&results) {
        assert!(r.is_done());
        ops.received(item).expect("recorded");
    }
    ops.finish().expect("finish");
    for f in ["a", "a2", "b"] {
        assert_eq!(whereis(&p.clone, f), uuids(&[&p.origin, &p.clone]), "{f}");
    }
    assert_eq!(std::fs::read(p.clone.join("a2")).expect("a2"), SAME);
    assert!(has(&p.clone, &items[2].key));
    fsck_ok(&p.clone);
}

#[test]
fn uploads_of_two_files_of_one_key_transfer_it_once() {
    let p = pair(&[]);
    fixture::add(&p.clone, &[("n1", SAME), ("n2", SAME), ("n3", C)]);
    let ops = open(&p.clone);
    let items = items(&ops, &["n1", "n2", "n3"]);
    let origin = ops
        .remote_named("origin")
        .expect("origin")
        .usable()
        .expect("opened");
    let (results, seen) = run(
        &ops,
        &items,
        origin,
        QueueOptions {
            direction: Direction::Upload,
            jobs: 3,
            cancel: None,
        },
        &|| {},
    );
    assert_eq!(
        results,
        [
            QueueResult::Done { by: 0 },
            QueueResult::Done { by: 0 },
            QueueResult::Done { by: 2 }
        ]
    );
    assert_eq!(seen.len(), 2, "{seen:?}");
    for item in &items {
        ops.uploaded(origin, item).expect("recorded");
    }
    ops.finish().expect("finish");
    for (f, item) in ["n1", "n2", "n3"].iter().zip(&items) {
        assert!(has(&p.origin, &item.key), "{f}");
        assert_eq!(whereis(&p.clone, f), uuids(&[&p.origin, &p.clone]), "{f}");
    }
    fsck_ok(&p.origin);
    fsck_ok(&p.clone);
}

#[test]
fn a_cancelled_queue_starts_no_further_transfer() {
    let p = pair(&[("a", SAME), ("b", B), ("c", C)]);
    let ops = open(&p.clone);
    let items = items(&ops, &["a", "b", "c"]);
    let origin = ops
        .remote_named("origin")
        .expect("origin")
        .usable()
        .expect("opened");
    let cancel = AtomicBool::new(false);
    // Cancelled as the first transfer starts: it finishes, no other starts.
    let (results, seen) = run(
        &ops,
        &items,
        origin,
        QueueOptions {
            direction: Direction::Download,
            jobs: 1,
            cancel: Some(&cancel),
        },
        &|| cancel.store(true, Ordering::SeqCst),
    );
    assert_eq!(
        results,
        [
            QueueResult::Done { by: 0 },
            QueueResult::NotRun,
            QueueResult::NotRun
        ]
    );
    assert_eq!(seen, [("a".to_owned(), SAME.len() as u64)]);
    ops.received(&items[0]).expect("recorded");
    ops.finish().expect("finish");
    assert!(has(&p.clone, &items[0].key));
    assert!(!has(&p.clone, &items[1].key));
    assert!(!has(&p.clone, &items[2].key));
    assert_eq!(whereis(&p.clone, "a"), uuids(&[&p.origin, &p.clone]));
    assert_eq!(whereis(&p.clone, "b"), uuids(&[&p.origin]));
    fsck_ok(&p.clone);
}

#[test]
fn a_queue_cancelled_before_it_runs_transfers_nothing() {
    let p = pair(&[("a", SAME), ("b", B)]);
    let ops = open(&p.clone);
    let items = items(&ops, &["a", "b"]);
    let origin = ops
        .remote_named("origin")
        .expect("origin")
        .usable()
        .expect("opened");
    let cancel = AtomicBool::new(true);
    let (results, seen) = run(
        &ops,
        &items,
        origin,
        QueueOptions {
            direction: Direction::Download,
            jobs: 2,
            cancel: Some(&cancel),
        },
        &|| {},
    );
    assert_eq!(results, [QueueResult::NotRun, QueueResult::NotRun]);
    assert!(seen.is_empty(), "{seen:?}");
    ops.finish().expect("finish");
    assert!(!has(&p.clone, &items[0].key));
    assert!(!has(&p.clone, &items[1].key));
    fsck_ok(&p.clone);
}
