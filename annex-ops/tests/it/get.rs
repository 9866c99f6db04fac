//! `get`, `copy --from` and `move --from` through the library, on
//! repositories the reference made, checked by the reference.

use std::path::{Path, PathBuf};

use annex_ops::drop::DropOutcome;
use annex_ops::get::{FromOptions, FromOutcome, GetOptions, GetOutcome};
use annex_ops::observer::Quiet;
use test_support::{annex, git};

use crate::fixture::{
    self, Event, Recorder, fsck_ok, has, key_of, open, pair, reference_succeeds, uuid_of, uuids,
    whereis,
};

const A: &[u8] = b"content of a\n";
const B: &[u8] = b"content of b, a little longer\n";

/// The pair, plus a second clone `backup` that got every file's content by
/// the reference, added to the clone as the remote `backup` (fetched, so
/// the clone's location log knows what it has) with the given costs.
fn with_backup(origin_cost: &str, backup_cost: &str) -> (fixture::Pair, PathBuf) {
    let p = pair(&[("a", A), ("b", B)]);
    let backup = fixture::clone(&p.root, &p.origin, "backup");
    annex(&backup, &["get", "-q", "a", "b"]);
    git(
        &p.clone,
        &["remote", "add", "backup", backup.to_str().expect("utf-8")],
    );
    git(&p.clone, &["fetch", "-q", "backup"]);
    git(
        &p.clone,
        &["config", "remote.origin.annex-cost", origin_cost],
    );
    git(
        &p.clone,
        &["config", "remote.backup.annex-cost", backup_cost],
    );
    (p, backup)
}

fn content(dir: &Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join(file)).expect("the file's content is readable")
}

#[test]
fn get_takes_the_content_from_the_cheapest_remote_and_records_it() {
    let (p, backup) = with_backup("200", "100");
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "a");
    let sources = ops
        .get_sources(&item, GetOptions::default())
        .expect("sources")
        .expect("something to do");
    let names: Vec<&str> = sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["backup", "origin"], "cheapest first");
    let mut rec = Recorder::default();
    let got = ops.get(&item, &sources, &mut rec).expect("get");
    assert!(
        matches!(&got, GetOutcome::Got { from } if from == "backup"),
        "{got:?}"
    );
    ops.finish().expect("finish");
    // The observer saw the note, the bytes and the end, in that order.
    assert_eq!(rec.notes(), ["from backup..."]);
    assert_eq!(rec.last_progress(), Some(A.len() as u64));
    assert_eq!(rec.events.last(), Some(&Event::End(true)));
    assert!(rec.warnings().is_empty(), "{:?}", rec.warnings());
    // The reference sees it here, with the right content.
    assert_eq!(content(&p.clone, "a"), A);
    assert_eq!(
        whereis(&p.clone, "a"),
        uuids(&[&p.origin, &p.clone, &backup])
    );
    assert!(
        !has(&p.clone, &key_of(&p.clone, "b")),
        "b was not asked for"
    );
    fsck_ok(&p.clone);
}

#[test]
fn get_warns_of_a_remote_that_fails_and_falls_back_to_the_next() {
    let (p, backup) = with_backup("200", "100");
    // The backup loses the content; the clone's log still says it has it.
    annex(&backup, &["drop", "-q", "--force", "a"]);
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "a");
    let sources = ops
        .get_sources(&item, GetOptions::default())
        .expect("sources")
        .expect("something to do");
    let mut rec = Recorder::default();
    let got = ops.get(&item, &sources, &mut rec).expect("get");
    assert!(
        matches!(&got, GetOutcome::Got { from } if from == "origin"),
        "{got:?}"
    );
    ops.finish().expect("finish");
    let warnings = rec.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].0.as_deref(), Some("backup"));
    assert_eq!(rec.last_progress(), Some(A.len() as u64));
    assert_eq!(content(&p.clone, "a"), A);
    assert!(whereis(&p.clone, "a").contains(&uuid_of(&p.clone)));
    fsck_ok(&p.clone);
}

#[test]
fn get_from_a_named_remote_uses_it_even_when_another_is_cheaper() {
    let (p, backup) = with_backup("100", "200");
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "b");
    let backup_uuid = ops.remote_named("backup").expect("backup").uuid.clone();
    let sources = ops
        .get_sources(
            &item,
            GetOptions {
                from: backup_uuid.as_ref(),
                from_name: None,
                auto: false,
            },
        )
        .expect("sources")
        .expect("backup has it");
    let mut rec = Recorder::default();
    let got = ops.get(&item, &sources, &mut rec).expect("get");
    assert!(
        matches!(&got, GetOutcome::Got { from } if from == "backup"),
        "{got:?}"
    );
    ops.finish().expect("finish");
    assert_eq!(rec.notes(), ["from backup..."]);
    assert_eq!(content(&p.clone, "b"), B);
    assert_eq!(
        whereis(&p.clone, "b"),
        uuids(&[&p.origin, &p.clone, &backup])
    );
    fsck_ok(&p.clone);
}

#[test]
fn get_from_a_remote_without_the_content_does_nothing() {
    let p = pair(&[("a", A)]);
    let third = fixture::origin(&p.root, "third", &[]);
    git(
        &p.clone,
        &["remote", "add", "third", third.to_str().expect("utf-8")],
    );
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "a");
    let third_uuid = ops.remote_named("third").expect("third").uuid.clone();
    assert_eq!(
        third_uuid.as_ref().map(|u| u.to_string()),
        Some(uuid_of(&third))
    );
    let sources = ops
        .get_sources(
            &item,
            GetOptions {
                from: third_uuid.as_ref(),
                from_name: None,
                auto: false,
            },
        )
        .expect("sources");
    assert!(sources.is_none(), "nothing to get from third");
    ops.finish().expect("finish");
    assert!(!has(&p.clone, &item.key));
    // The reference gets nothing from third either.
    annex(&p.clone, &["get", "-q", "--from", "third", "a"]);
    assert!(!has(&p.clone, &item.key));
}

#[test]
fn content_no_remote_has_is_not_available_with_where_else_it_is() {
    let p = pair(&[("a", A)]);
    git(&p.clone, &["config", "remote.origin.annex-ignore", "true"]);
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "a");
    let sources = ops
        .get_sources(&item, GetOptions::default())
        .expect("sources")
        .expect("something to do");
    assert!(sources.is_empty(), "origin is ignored");
    let mut rec = Recorder::default();
    let got = ops.get(&item, &sources, &mut rec).expect("get");
    let GetOutcome::NotAvailable(w) = got else {
        panic!("not available expected: {got:?}");
    };
    let origin = uuid_of(&p.origin);
    let wanted: Vec<String> = w.wanted.iter().map(|u| u.to_string()).collect();
    assert_eq!(wanted, std::slice::from_ref(&origin));
    assert_eq!(w.ignored, ["origin"]);
    assert!(rec.events.is_empty(), "{:?}", rec.events);
    ops.finish().expect("finish");
    assert!(!has(&p.clone, &item.key));
    assert_eq!(whereis(&p.clone, "a"), [origin].into_iter().collect());
    // The reference cannot get it either.
    assert!(!reference_succeeds(&p.clone, &["get", "a"]));
}

/// `get --auto` of every file by the library in one clone, by the
/// reference in another; the same files end up present in both.
fn auto_get_agrees_with_the_reference(setup: impl Fn(&Path)) -> Vec<bool> {
    let p = pair(&[("a", A), ("b", B)]);
    setup(&p.origin);
    let twin = fixture::clone(&p.root, &p.origin, "twin");
    let clone = &p.clone;
    git(clone, &["fetch", "-q", "origin"]);
    let ops = open(clone);
    let mut ours = Vec::new();
    for f in ["a", "b"] {
        let item = fixture::item(&ops, f);
        let options = GetOptions {
            from: None,
            from_name: None,
            auto: true,
        };
        if let Some(sources) = ops.get_sources(&item, options).expect("sources") {
            let got = ops.get(&item, &sources, &mut Quiet).expect("get");
            assert!(matches!(got, GetOutcome::Got { .. }), "{got:?}");
        }
        ours.push(has(clone, &item.key));
    }
    ops.finish().expect("finish");
    annex(&twin, &["get", "-q", "--auto", "a", "b"]);
    let theirs: Vec<bool> = ["a", "b"]
        .iter()
        .map(|f| has(&twin, &key_of(&twin, f)))
        .collect();
    assert_eq!(ours, theirs, "present after get --auto (a, b)");
    fsck_ok(clone);
    ours
}

#[test]
fn get_auto_gets_nothing_when_numcopies_is_met_and_nothing_is_wanted() {
    let present = auto_get_agrees_with_the_reference(|_| {});
    assert_eq!(present, [false, false]);
}

#[test]
fn get_auto_gets_what_has_fewer_copies_than_numcopies() {
    let present = auto_get_agrees_with_the_reference(|origin| {
        annex(origin, &["numcopies", "2"]);
    });
    assert_eq!(present, [true, true]);
}

#[test]
fn get_auto_follows_this_repository_s_preferred_content() {
    let p = pair(&[("a", A), ("b", B)]);
    let twin = fixture::clone(&p.root, &p.origin, "twin");
    for dir in [&p.clone, &twin] {
        annex(dir, &["wanted", "here", "include=a"]);
    }
    let ops = open(&p.clone);
    for f in ["a", "b"] {
        let item = fixture::item(&ops, f);
        if let Some(sources) = ops
            .get_sources(
                &item,
                GetOptions {
                    from: None,
                    from_name: None,
                    auto: true,
                },
            )
            .expect("sources")
        {
            ops.get(&item, &sources, &mut Quiet).expect("get");
        }
    }
    ops.finish().expect("finish");
    annex(&twin, &["get", "-q", "--auto", "a", "b"]);
    for f in ["a", "b"] {
        let key = key_of(&twin, f);
        assert_eq!(has(&p.clone, &key), has(&twin, &key), "{f}");
    }
    assert!(has(&p.clone, &key_of(&p.clone, "a")));
    assert!(!has(&p.clone, &key_of(&p.clone, "b")));
    fsck_ok(&p.clone);
}

#[test]
fn copy_from_gets_the_content_and_leaves_the_remote_s_copy() {
    let p = pair(&[("a", A)]);
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "a");
    let origin = ops.remote_named("origin").expect("origin");
    let options = FromOptions::default();
    assert!(ops.wants_from(&item, origin, options).expect("wants"));
    let mut rec = Recorder::default();
    let out = ops
        .get_from(&item, origin, options, &mut rec)
        .expect("copy --from");
    assert!(matches!(out, FromOutcome::Got), "{out:?}");
    assert!(
        !ops.wants_from(&item, origin, options).expect("wants"),
        "a copy of what is here does nothing"
    );
    ops.finish().expect("finish");
    assert_eq!(rec.notes(), ["from origin..."]);
    assert_eq!(content(&p.clone, "a"), A);
    assert!(has(&p.origin, &item.key));
    assert_eq!(whereis(&p.clone, "a"), uuids(&[&p.origin, &p.clone]));
    fsck_ok(&p.clone);
    fsck_ok(&p.origin);
}

#[test]
fn move_from_gets_the_content_and_drops_the_remote_s_copy() {
    let p = pair(&[("a", A)]);
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "a");
    let origin = ops.remote_named("origin").expect("origin");
    let options = FromOptions {
        moving: true,
        ..FromOptions::default()
    };
    assert!(ops.wants_from(&item, origin, options).expect("wants"));
    let out = ops
        .get_from(&item, origin, options, &mut Quiet)
        .expect("move --from");
    assert!(
        matches!(out, FromOutcome::Moved(DropOutcome::Dropped)),
        "{out:?}"
    );
    ops.finish().expect("finish");
    assert_eq!(content(&p.clone, "a"), A);
    assert!(!has(&p.origin, &item.key), "origin's copy is gone");
    assert_eq!(whereis(&p.clone, "a"), uuids(&[&p.clone]));
    // The origin recorded it too.
    assert!(!whereis(&p.origin, "a").contains(&uuid_of(&p.origin)));
    fsck_ok(&p.clone);
}

#[test]
fn move_from_of_content_already_here_needs_the_copies_and_refuses_without_them() {
    let p = pair(&[("a", A)]);
    annex(&p.clone, &["get", "-q", "a"]);
    annex(&p.clone, &["numcopies", "2"]);
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "a");
    let origin = ops.remote_named("origin").expect("origin");
    let options = FromOptions {
        moving: true,
        ..FromOptions::default()
    };
    assert!(ops.wants_from(&item, origin, options).expect("wants"));
    let out = ops
        .get_from(&item, origin, options, &mut Quiet)
        .expect("move --from");
    let FromOutcome::Moved(DropOutcome::Refused(r)) = out else {
        panic!("refused expected: {out:?}");
    };
    assert_eq!(r.check.verified_count(), 1, "only the copy here: {r:?}");
    ops.finish().expect("finish");
    assert!(has(&p.origin, &item.key), "origin keeps its copy");
    assert!(has(&p.clone, &item.key));
    assert_eq!(whereis(&p.clone, "a"), uuids(&[&p.origin, &p.clone]));
    // The reference refuses the same move.
    assert!(!reference_succeeds(
        &p.clone,
        &["move", "--from", "origin", "a"]
    ));
    fsck_ok(&p.clone);
}

/// An origin whose file `u` is unlocked, and a clone of it.
fn unlocked_pair() -> fixture::Pair {
    let p = pair(&[("u", A)]);
    annex(&p.origin, &["unlock", "u"]);
    git(&p.origin, &["commit", "-q", "-m", "unlock"]);
    git(&p.clone, &["pull", "-q", "origin", "main"]);
    fixture::filters_by_path(&p.clone);
    p
}

#[test]
fn get_of_an_unlocked_file_puts_the_content_in_the_work_tree() {
    let p = unlocked_pair();
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "u");
    assert!(item.unlocked);
    assert_ne!(content(&p.clone, "u"), A, "a pointer before the get");
    let sources = ops
        .get_sources(&item, GetOptions::default())
        .expect("sources")
        .expect("something to do");
    let got = ops.get(&item, &sources, &mut Quiet).expect("get");
    assert!(matches!(got, GetOutcome::Got { .. }), "{got:?}");
    ops.finish().expect("finish");
    assert_eq!(
        content(&p.clone, "u"),
        A,
        "the content replaced the pointer"
    );
    assert_eq!(
        git(&p.clone, &["status", "--porcelain"]),
        "",
        "{}",
        git(&p.clone, &["diff", "--cached"])
    );
    assert_eq!(whereis(&p.clone, "u"), uuids(&[&p.origin, &p.clone]));
    fsck_ok(&p.clone);
}

/// Regression: the library refreshes an unlocked file's index entry with
/// `git update-index --refresh -- FILE`, which re-adds the file through
/// the clean filter; when git could not run `git-annex filter-process`
/// (not on the `PATH` of the program using the library) or the filter
/// failed, git staged the file's whole content into the index instead of
/// its pointer. A clean filter that reads its input and fails stands for
/// both here (a missing program fails the same way or, racing, not at all).
#[test]
fn an_unlocked_get_never_stages_the_content_when_git_cannot_run_the_filter() {
    let p = unlocked_pair();
    git(&p.clone, &["config", "--unset", "filter.annex.process"]);
    git(
        &p.clone,
        &["config", "filter.annex.clean", "cat >/dev/null; exit 1"],
    );
    let staged_before = git(&p.clone, &["ls-files", "-s", "u"]);
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "u");
    let sources = ops
        .get_sources(&item, GetOptions::default())
        .expect("sources")
        .expect("something to do");
    let got = ops.get(&item, &sources, &mut Quiet).expect("get");
    assert!(matches!(got, GetOutcome::Got { .. }), "{got:?}");
    ops.finish().expect("finish");
    assert_eq!(content(&p.clone, "u"), A);
    assert_eq!(
        git(&p.clone, &["ls-files", "-s", "u"]),
        staged_before,
        "the index must keep the pointer"
    );
    assert_eq!(git(&p.clone, &["diff", "--cached", "--name-only"]), "");
}
