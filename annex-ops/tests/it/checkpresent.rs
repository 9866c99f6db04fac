//! Asking remotes about content through the library
//! ([`Annex::check_present`], [`Annex::check_present_key`],
//! [`Annex::lock_content`]), compared with the reference's
//! `checkpresentkey` and `drop` on the same repositories.

use annex_ops::checkpresent::{CheckError, Presence};
use test_support::{annex, annex_output, git};

use crate::fixture::{self, has, open, pair, reference_succeeds};

const A: &[u8] = b"content of a\n";
const NEW: &[u8] = b"only in the clone\n";

#[test]
fn check_present_answers_as_the_reference_s_checkpresentkey() {
    let p = pair(&[("a", A)]);
    fixture::add(&p.clone, &[("new", NEW)]);
    let ops = open(&p.clone);
    let origin = ops.remote_named("origin").expect("origin");
    for (file, expected) in [("a", true), ("new", false)] {
        let item = fixture::item(&ops, file);
        let ours = ops.check_present(origin, &item.key).expect("an answer");
        assert_eq!(ours, expected, "{file}");
        let key = item.key.to_string();
        let theirs = reference_succeeds(&p.clone, &["checkpresentkey", &key, "origin"]);
        assert_eq!(ours, theirs, "{file}: the library and the reference differ");
        let named = ops.check_present_key(&item.key, Some("origin"));
        let expected_presence = if expected {
            Presence::Present
        } else {
            Presence::Absent
        };
        assert_eq!(named, expected_presence, "{file}");
    }
}

#[test]
fn check_present_key_without_a_remote_looks_everywhere() {
    let p = pair(&[("a", A)]);
    fixture::add(&p.clone, &[("new", NEW)]);
    let ops = open(&p.clone);
    let a = fixture::item(&ops, "a");
    assert_eq!(ops.check_present_key(&a.key, None), Presence::Present);
    assert!(reference_succeeds(
        &p.clone,
        &["checkpresentkey", &a.key.to_string()]
    ));
    // Found nowhere: git-annex's built-in bittorrent remote cannot tell.
    let new = fixture::item(&ops, "new");
    let Presence::Unknown(why) = ops.check_present_key(&new.key, None) else {
        panic!("unknown expected");
    };
    let out = annex_output(&p.clone, &["checkpresentkey", &new.key.to_string()], None);
    // git-annex exits 100 when it cannot tell.
    assert_eq!(
        out.status.code(),
        Some(100),
        "the reference cannot tell either"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&why),
        "the reference's reason: {}; ours: {why}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_remote_that_cannot_be_opened_is_unreachable_by_name() {
    let p = pair(&[("a", A)]);
    git(
        &p.clone,
        &["remote", "add", "gone", "/nonexistent/repository"],
    );
    git(
        &p.clone,
        &[
            "config",
            "remote.gone.annex-uuid",
            &fixture::uuid_of(&p.origin),
        ],
    );
    let ops = open(&p.clone);
    let a = fixture::item(&ops, "a");
    let gone = ops.remote_named("gone").expect("a known uuid");
    let err = ops.check_present(gone, &a.key).expect_err("unreachable");
    assert!(
        matches!(&err, CheckError::Unreachable { remote, .. } if remote == "gone"),
        "{err:?}"
    );
    assert!(matches!(
        ops.check_present_key(&a.key, Some("gone")),
        Presence::Unknown(_)
    ));
}

#[test]
fn locked_content_on_a_remote_cannot_be_dropped_there_until_released() {
    let p = pair(&[("a", A)]);
    let ops = open(&p.clone);
    let origin = ops.remote_named("origin").expect("origin");
    let a = fixture::item(&ops, "a");
    let guard = ops.lock_content(origin, &a.key).expect("locked");
    // The reference, in the origin, cannot remove what is locked, even
    // forced.
    let out = annex_output(&p.origin, &["drop", "--force", "a"], None);
    assert!(!out.status.success(), "dropped while locked");
    assert!(has(&p.origin, &a.key));
    drop(guard);
    annex(&p.origin, &["drop", "-q", "--force", "a"]);
    assert!(!has(&p.origin, &a.key));
    // Content that is not there cannot be locked.
    assert!(ops.lock_content(origin, &a.key).is_err());
}
