//! Dropping content here and from a remote through the library
//! ([`Annex::drop_here`], [`Annex::drop_remote`]): dropped when the copies
//! are proven, refused (nothing removed) when not, as the reference
//! decides on the same repositories.

use annex_core::content::VerifiedCopy;
use annex_ops::drop::{DropOptions, DropOutcome, Refusal};
use test_support::{annex, git};

use crate::fixture::{self, fsck_ok, has, open, pair, reference_succeeds, uuid_of, uuids, whereis};

const A: &[u8] = b"content of a\n";

/// The pair with the content of `a` in the clone too (by the reference),
/// and `configure` run in the clone afterwards.
fn both_have_a(configure: impl Fn(&std::path::Path)) -> fixture::Pair {
    let p = pair(&[("a", A)]);
    annex(&p.clone, &["get", "-q", "a"]);
    configure(&p.clone);
    p
}

/// Drops `a` here through the library; the refusal when refused (`None`:
/// dropped).
fn drop_a_here(p: &fixture::Pair) -> Option<Refusal> {
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "a");
    let out = ops
        .drop_here(&item, DropOptions::default())
        .expect("drop here");
    ops.finish().expect("finish");
    match out {
        DropOutcome::Dropped => None,
        DropOutcome::Refused(r) => Some(*r),
        other => panic!("dropped or refused expected: {other:?}"),
    }
}

/// Asserts that a drop here was refused and changed nothing, and that the
/// reference refuses it too.
fn assert_refused_as_the_reference(p: &fixture::Pair, r: &Refusal) {
    let key = fixture::key_of(&p.clone, "a");
    assert!(has(&p.clone, &key), "content kept after the refusal {r:?}");
    assert!(has(&p.origin, &key));
    assert_eq!(whereis(&p.clone, "a"), uuids(&[&p.origin, &p.clone]));
    fsck_ok(&p.clone);
    assert!(
        !reference_succeeds(&p.clone, &["drop", "a"]),
        "the reference dropped what the library refused to"
    );
    assert!(has(&p.clone, &key));
}

#[test]
fn drop_here_with_numcopies_met_by_the_origin_removes_the_content() {
    let p = both_have_a(|_| {});
    if let Some(r) = drop_a_here(&p) {
        panic!("refused: {r:?}");
    }
    let key = fixture::key_of(&p.clone, "a");
    assert!(!has(&p.clone, &key));
    assert!(has(&p.origin, &key));
    assert_eq!(whereis(&p.clone, "a"), uuids(&[&p.origin]));
    fsck_ok(&p.clone);
    fsck_ok(&p.origin);
}

#[test]
fn drop_here_is_refused_when_numcopies_is_not_met() {
    let p = both_have_a(|clone| {
        annex(clone, &["numcopies", "2"]);
    });
    let r = drop_a_here(&p).expect("refused");
    assert_eq!(r.check.numcopies, 2);
    assert_eq!(r.check.verified_count(), 1, "origin only: {r:?}");
    assert!(
        matches!(&r.check.have[0], VerifiedCopy::Locked(u) if u.to_string() == uuid_of(&p.origin))
    );
    assert_refused_as_the_reference(&p, &r);
}

#[test]
fn drop_here_does_not_count_a_copy_untrusted_in_the_trust_log() {
    let p = both_have_a(|clone| {
        annex(clone, &["untrust", "origin"]);
    });
    let r = drop_a_here(&p).expect("refused");
    assert_eq!(r.check.verified_count(), 0, "{r:?}");
    let untrusted: Vec<String> = r
        .whereabouts
        .untrusted
        .iter()
        .map(|u| u.to_string())
        .collect();
    assert_eq!(untrusted, [uuid_of(&p.origin)]);
    assert_refused_as_the_reference(&p, &r);
}

#[test]
fn drop_here_does_not_count_a_remote_untrusted_by_its_annex_trustlevel() {
    let p = both_have_a(|clone| {
        git(
            clone,
            &["config", "remote.origin.annex-trustlevel", "untrusted"],
        );
    });
    let r = drop_a_here(&p).expect("the untrusted copy must not count");
    assert_eq!(r.check.verified_count(), 0, "{r:?}");
    assert_refused_as_the_reference(&p, &r);
}

#[test]
fn drop_here_is_refused_when_mincopies_is_above_numcopies() {
    let p = both_have_a(|clone| {
        annex(clone, &["numcopies", "1"]);
        annex(clone, &["mincopies", "2"]);
    });
    let r = drop_a_here(&p).expect("refused");
    assert_eq!((r.check.numcopies, r.check.mincopies), (1, 2));
    assert_eq!(r.check.verified_count(), 1, "{r:?}");
    assert_refused_as_the_reference(&p, &r);
}

#[test]
fn drop_here_counts_a_trusted_copy_without_checking_it() {
    let p = both_have_a(|clone| {
        annex(clone, &["trust", "--force", "origin"]);
    });
    let twin = fixture::clone(&p.root, &p.origin, "twin");
    annex(&twin, &["get", "-q", "a"]);
    annex(&twin, &["trust", "--force", "origin"]);
    // The origin's copy is gone, but it is trusted: it counts unchecked.
    annex(&p.origin, &["drop", "-q", "--force", "a"]);
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "a");
    let here = ops.here().clone();
    let proof = ops
        .verify_copies(&item.key, &here, true, None)
        .expect("verify");
    assert!(proof.check.is_safe());
    assert!(
        matches!(&proof.check.have[..], [VerifiedCopy::Trusted(u)] if u.to_string() == uuid_of(&p.origin)),
        "{:?}",
        proof.check
    );
    drop(proof);
    drop(ops);
    if let Some(r) = drop_a_here(&p) {
        panic!("refused: {r:?}");
    }
    assert!(!has(&p.clone, &item.key));
    assert_eq!(whereis(&p.clone, "a"), uuids(&[&p.origin]));
    // The reference drops it as well in the twin, set up the same.
    assert!(reference_succeeds(&twin, &["drop", "a"]));
    assert!(!has(&twin, &item.key));
}

#[test]
fn drop_from_a_remote_removes_its_copy_when_here_has_one() {
    let p = both_have_a(|_| {});
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "a");
    let origin = ops.remote_named("origin").expect("origin");
    let out = ops
        .drop_remote(origin, &item, DropOptions::default())
        .expect("drop --from origin");
    assert!(matches!(out, DropOutcome::Dropped), "{out:?}");
    ops.finish().expect("finish");
    assert!(!has(&p.origin, &item.key));
    assert!(has(&p.clone, &item.key));
    assert_eq!(whereis(&p.clone, "a"), uuids(&[&p.clone]));
    // The origin's own log says so too.
    assert!(!whereis(&p.origin, "a").contains(&uuid_of(&p.origin)));
    fsck_ok(&p.clone);
}

#[test]
fn drop_from_a_remote_is_refused_when_it_has_the_only_copy() {
    let p = pair(&[("a", A)]);
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "a");
    let origin = ops.remote_named("origin").expect("origin");
    let out = ops
        .drop_remote(origin, &item, DropOptions::default())
        .expect("drop --from origin");
    let DropOutcome::Refused(r) = out else {
        panic!("refused expected: {out:?}");
    };
    assert_eq!(r.check.verified_count(), 0, "{r:?}");
    ops.finish().expect("finish");
    assert!(has(&p.origin, &item.key), "the only copy stays");
    assert_eq!(whereis(&p.clone, "a"), uuids(&[&p.origin]));
    assert!(!reference_succeeds(
        &p.clone,
        &["drop", "--from", "origin", "a"]
    ));
    assert!(has(&p.origin, &item.key));
    fsck_ok(&p.origin);
}

#[test]
fn drop_from_an_untrusted_remote_needs_no_more_than_numcopies_elsewhere() {
    // Dropping from an untrusted remote: the copy here is what counts.
    let p = both_have_a(|clone| {
        annex(clone, &["untrust", "origin"]);
    });
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "a");
    let origin = ops.remote_named("origin").expect("origin");
    let out = ops
        .drop_remote(origin, &item, DropOptions::default())
        .expect("drop --from origin");
    assert!(matches!(out, DropOutcome::Dropped), "{out:?}");
    ops.finish().expect("finish");
    assert!(!has(&p.origin, &item.key));
    assert!(has(&p.clone, &item.key));
    assert_eq!(whereis(&p.clone, "a"), uuids(&[&p.clone]));
    fsck_ok(&p.clone);
}

#[test]
fn a_forced_drop_here_removes_the_only_copy() {
    let p = pair(&[("a", A)]);
    fixture::add(&p.clone, &[("new", b"only here\n")]);
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "new");
    let refused = ops.drop_here(&item, DropOptions::default()).expect("drop");
    assert!(matches!(refused, DropOutcome::Refused(_)), "{refused:?}");
    assert!(has(&p.clone, &item.key));
    let out = ops
        .drop_here(
            &item,
            DropOptions {
                force: true,
                first: None,
            },
        )
        .expect("drop --force");
    assert!(matches!(out, DropOutcome::Dropped), "{out:?}");
    ops.finish().expect("finish");
    assert!(!has(&p.clone, &item.key));
    assert!(whereis(&p.clone, "new").is_empty());
}

#[test]
fn drop_of_an_unlocked_file_puts_the_pointer_back() {
    let p = pair(&[("u", A)]);
    annex(&p.origin, &["unlock", "u"]);
    git(&p.origin, &["commit", "-q", "-m", "unlock"]);
    git(&p.clone, &["pull", "-q", "origin", "main"]);
    fixture::filters_by_path(&p.clone);
    annex(&p.clone, &["get", "-q", "u"]);
    let pointer = git(&p.clone, &["show", "HEAD:u"]);
    assert_eq!(std::fs::read(p.clone.join("u")).expect("u"), A);
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "u");
    assert!(item.unlocked);
    let out = ops
        .drop_here(&item, DropOptions::default())
        .expect("drop here");
    assert!(matches!(out, DropOutcome::Dropped), "{out:?}");
    ops.finish().expect("finish");
    assert_eq!(
        std::fs::read_to_string(p.clone.join("u")).expect("u"),
        pointer,
        "the pointer is back"
    );
    assert!(!has(&p.clone, &item.key));
    assert_eq!(git(&p.clone, &["status", "--porcelain"]), "");
    assert_eq!(whereis(&p.clone, "u"), uuids(&[&p.origin]));
    fsck_ok(&p.clone);
}

/// A remote whose content lock over the network lapsed already (as a
/// P2P lock does some time after its connection is lost).
#[derive(Debug)]
struct Lapsed(annex_core::uuid::Uuid);

#[derive(Debug)]
struct LapsedLock;

impl annex_core::remote::ContentLockGuard for LapsedLock {
    fn valid_until(&self) -> Option<std::time::SystemTime> {
        Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1))
    }
}

impl annex_core::remote::Remote for Lapsed {
    fn name(&self) -> &str {
        "origin"
    }
    fn uuid(&self) -> &annex_core::uuid::Uuid {
        &self.0
    }
    fn cost(&self) -> f64 {
        200.0
    }
    fn check_present(
        &self,
        _key: &annex_core::key::Key,
    ) -> Result<bool, annex_core::remote::RemoteError> {
        Ok(true)
    }
    fn retrieve(
        &self,
        _key: &annex_core::key::Key,
        _dest: &std::path::Path,
        _our_uuid: &annex_core::uuid::Uuid,
        _file: &[u8],
        _progress: annex_core::remote::Progress<'_>,
    ) -> Result<(), annex_core::remote::RemoteError> {
        panic!("a drop retrieves nothing")
    }
    fn store(
        &self,
        _key: &annex_core::key::Key,
        _src: &std::path::Path,
        _our_uuid: &annex_core::uuid::Uuid,
        _file: &[u8],
        _progress: annex_core::remote::Progress<'_>,
    ) -> Result<(), annex_core::remote::RemoteError> {
        panic!("a drop stores nothing")
    }
    fn remove(&self, _key: &annex_core::key::Key) -> Result<(), annex_core::remote::RemoteError> {
        panic!("a drop here removes nothing there")
    }
    fn lock_content(
        &self,
        _key: &annex_core::key::Key,
    ) -> Result<Box<dyn annex_core::remote::ContentLockGuard>, annex_core::remote::RemoteError>
    {
        Ok(Box::new(LapsedLock))
    }
    fn locks_over_network(&self) -> bool {
        true
    }
    fn commit(&self) -> Result<(), annex_core::remote::RemoteError> {
        Ok(())
    }
}

/// A drop here proven by a remote's lock that has lapsed by the time the
/// content would be removed is not done (git-annex's "Dropping took too
/// long"): the content and the location log stay.
#[test]
fn drop_here_under_a_lapsed_remote_lock_removes_nothing() {
    let p = both_have_a(|_| {});
    let key = fixture::key_of(&p.clone, "a");
    let mut ops = open(&p.clone);
    let origin = uuid_of(&p.origin);
    let entry = ops
        .remotes
        .entries
        .iter_mut()
        .find(|e| e.name == "origin")
        .expect("the remote origin");
    entry.remote = Ok(Box::new(Lapsed(origin.parse().expect("a uuid"))));
    let item = fixture::item(&ops, "a");
    let out = ops
        .drop_here(&item, DropOptions::default())
        .expect("drop here");
    ops.finish().expect("finish");
    assert!(matches!(out, DropOutcome::ProofExpired), "{out:?}");
    assert!(has(&p.clone, &key));
    assert_eq!(whereis(&p.clone, "a"), uuids(&[&p.origin, &p.clone]));
    fsck_ok(&p.clone);
}
