//! `copy --to` and `move --to` through the library ([`Annex::put`]), on
//! repositories the reference made, checked by the reference.

use annex_ops::drop::DropOutcome;
use annex_ops::observer::Quiet;
use annex_ops::put::{PutOptions, PutOutcome};
use test_support::annex;

use crate::fixture::{
    self, Recorder, fsck_ok, has, open, pair, reference_succeeds, uuid_of, uuids, whereis,
};

const A: &[u8] = b"content of a\n";
const NEW: &[u8] = b"a file only the clone has\n";

#[test]
fn copy_to_uploads_records_and_keeps_the_copy_here() {
    let p = pair(&[("a", A)]);
    fixture::add(&p.clone, &[("new", NEW)]);
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "new");
    let origin = ops.remote_named("origin").expect("origin");
    let options = PutOptions::default();
    assert!(ops.wants_put(&item, origin, options).expect("wants"));
    let mut rec = Recorder::default();
    let out = ops
        .put(&item, origin, options, false, &mut rec)
        .expect("copy --to");
    assert!(matches!(out, PutOutcome::Copied), "{out:?}");
    ops.finish().expect("finish");
    assert_eq!(rec.notes(), ["to origin..."]);
    assert_eq!(rec.last_progress(), Some(NEW.len() as u64));
    assert!(has(&p.origin, &item.key), "origin has it");
    assert!(has(&p.clone, &item.key), "the clone keeps it");
    assert_eq!(whereis(&p.clone, "new"), uuids(&[&p.origin, &p.clone]));
    fsck_ok(&p.clone);
    fsck_ok(&p.origin);
}

#[test]
fn copy_to_a_remote_that_has_the_content_transfers_nothing() {
    let p = pair(&[("a", A)]);
    annex(&p.clone, &["get", "-q", "a"]);
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "a");
    let origin = ops.remote_named("origin").expect("origin");
    let fast = PutOptions {
        fast: true,
        ..PutOptions::default()
    };
    assert!(
        !ops.wants_put(&item, origin, fast).expect("wants"),
        "--fast trusts the location log"
    );
    let mut rec = Recorder::default();
    let out = ops
        .put(&item, origin, PutOptions::default(), false, &mut rec)
        .expect("copy --to");
    assert!(matches!(out, PutOutcome::Copied), "{out:?}");
    ops.finish().expect("finish");
    assert_eq!(rec.last_progress(), None, "no bytes sent: {:?}", rec.events);
    assert_eq!(whereis(&p.clone, "a"), uuids(&[&p.origin, &p.clone]));
    fsck_ok(&p.origin);
}

#[test]
fn nothing_is_put_that_is_not_here() {
    let p = pair(&[("a", A)]);
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "a");
    let origin = ops.remote_named("origin").expect("origin");
    assert!(
        !ops.wants_put(&item, origin, PutOptions::default())
            .expect("wants")
    );
}

#[test]
fn copy_to_auto_puts_only_what_the_remote_wants() {
    let p = pair(&[("a", A)]);
    fixture::add(&p.clone, &[("keep", NEW), ("skip", b"not wanted there\n")]);
    let origin_uuid = uuid_of(&p.origin);
    annex(&p.clone, &["wanted", &origin_uuid, "include=keep"]);
    let ops = open(&p.clone);
    let origin = ops.remote_named("origin").expect("origin");
    let auto = PutOptions {
        auto: true,
        ..PutOptions::default()
    };
    for f in ["keep", "skip"] {
        let item = fixture::item(&ops, f);
        if ops.wants_put(&item, origin, auto).expect("wants") {
            let out = ops
                .put(&item, origin, auto, false, &mut Quiet)
                .expect("put");
            assert!(matches!(out, PutOutcome::Copied), "{out:?}");
        }
    }
    ops.finish().expect("finish");
    let keep = fixture::key_of(&p.clone, "keep");
    let skip = fixture::key_of(&p.clone, "skip");
    assert!(has(&p.origin, &keep));
    assert!(!has(&p.origin, &skip));
    // The reference, asked the same now, does not want skip there either.
    annex(
        &p.clone,
        &["copy", "-q", "--auto", "--to", "origin", "keep", "skip"],
    );
    assert!(!has(&p.origin, &skip), "the reference copied skip");
    assert_eq!(whereis(&p.clone, "keep"), uuids(&[&p.origin, &p.clone]));
    assert_eq!(whereis(&p.clone, "skip"), uuids(&[&p.clone]));
    fsck_ok(&p.origin);
}

#[test]
fn move_to_uploads_then_drops_here_without_a_copy_check() {
    let p = pair(&[("a", A)]);
    fixture::add(&p.clone, &[("new", NEW)]);
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "new");
    let origin = ops.remote_named("origin").expect("origin");
    let moving = PutOptions {
        moving: true,
        ..PutOptions::default()
    };
    assert!(ops.wants_put(&item, origin, moving).expect("wants"));
    let out = ops
        .put(&item, origin, moving, false, &mut Quiet)
        .expect("move --to");
    let PutOutcome::Moved { dropped, verified } = out else {
        panic!("moved expected: {out:?}");
    };
    assert!(matches!(dropped, DropOutcome::Dropped), "{dropped:?}");
    assert!(!verified, "the upload kept the number of copies");
    ops.finish().expect("finish");
    assert!(has(&p.origin, &item.key));
    assert!(!has(&p.clone, &item.key));
    assert_eq!(whereis(&p.clone, "new"), uuids(&[&p.origin]));
    fsck_ok(&p.clone);
    fsck_ok(&p.origin);
}

#[test]
fn move_to_a_remote_that_had_it_verifies_copies_and_refuses_below_numcopies() {
    let p = pair(&[("a", A)]);
    annex(&p.clone, &["get", "-q", "a"]);
    annex(&p.clone, &["numcopies", "2"]);
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "a");
    let origin = ops.remote_named("origin").expect("origin");
    let moving = PutOptions {
        moving: true,
        ..PutOptions::default()
    };
    let out = ops
        .put(&item, origin, moving, false, &mut Quiet)
        .expect("move --to");
    let PutOutcome::Moved { dropped, verified } = out else {
        panic!("moved expected: {out:?}");
    };
    assert!(verified);
    let DropOutcome::Refused(r) = dropped else {
        panic!("refused expected: {dropped:?}");
    };
    assert_eq!(r.check.verified_count(), 1, "{r:?}");
    ops.finish().expect("finish");
    assert!(has(&p.clone, &item.key), "the copy here stays");
    assert!(has(&p.origin, &item.key));
    assert!(!reference_succeeds(
        &p.clone,
        &["move", "--to", "origin", "a"]
    ));
    assert_eq!(whereis(&p.clone, "a"), uuids(&[&p.origin, &p.clone]));
    fsck_ok(&p.clone);
}

/// Review finding: `put(.., uploaded = true, ..)` took the caller's word
/// that a queued upload happened, then a move dropped here without
/// counting copies. A wrong `true` must not lose the only copy.
#[test]
fn a_move_said_uploaded_that_the_remote_lacks_drops_nothing() {
    let p = pair(&[("a", A)]);
    fixture::add(&p.clone, &[("new", NEW)]);
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "new");
    let origin = ops.remote_named("origin").expect("origin");
    let options = PutOptions {
        moving: true,
        ..PutOptions::default()
    };
    let mut rec = Recorder::default();
    let out = ops
        .put(&item, origin, options, true, &mut rec)
        .expect("move --to");
    assert!(matches!(out, PutOutcome::Failed), "{out:?}");
    ops.finish().expect("finish");
    assert!(has(&p.clone, &item.key), "the only copy is kept");
    assert!(!has(&p.origin, &item.key));
    assert_eq!(whereis(&p.clone, "new"), uuids(&[&p.clone]));
    fsck_ok(&p.clone);
}
