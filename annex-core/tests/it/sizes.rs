//! Tests of `annex_core::sizes`: the numbers against the reference
//! git-annex's `maxsize --json`, incremental updates against full
//! recomputes, and reservations across threads and processes.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use annex_core::branch::Branch;
use annex_core::key::Key;
use annex_core::logs::trust::TrustLevel;
use annex_core::repo::Repo;
use annex_core::sizes::{RepoSizes, SizesError};
use annex_core::state::State;
use annex_core::uuid::Uuid;
use proptest::prelude::*;

use crate::support::{self, Rng, annex, annex_output, git};

/// The sizes the reference reports: `git annex maxsize --json` lists every
/// repository but the dead ones, with its size in bytes.
fn reference_sizes(dir: &Path) -> BTreeMap<String, u64> {
    let out = annex(dir, &["maxsize", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("maxsize --json");
    v["repositories"]
        .as_array()
        .expect("repositories")
        .iter()
        .map(|r| {
            (
                r["uuid"].as_str().expect("uuid").to_owned(),
                r["size"]["size"].as_u64().expect("size"),
            )
        })
        .collect()
}

/// Our sizes, less the dead repositories (as `maxsize` leaves them out).
fn our_sizes(dir: &Path) -> BTreeMap<String, u64> {
    let git_dir = dir.join(".git");
    let branch = Branch::open(&git_dir).expect("branch");
    let sizes = RepoSizes::open(&git_dir.join("annex"))
        .expect("open")
        .sizes(&branch)
        .expect("sizes");
    let dead: Vec<Uuid> = State::new(Branch::open(&git_dir).expect("branch"))
        .trust_levels()
        .expect("trust")
        .into_iter()
        .filter(|(_, t)| *t == TrustLevel::Dead)
        .map(|(u, _)| u)
        .collect();
    sizes
        .into_iter()
        .filter(|(u, _)| !dead.contains(u))
        .map(|(u, s)| (u.to_string(), s))
        .collect()
}

/// A key line for `setpresentkey --batch`: sized or not.
fn gen_key(rng: &mut Rng, i: usize) -> String {
    match rng.below(5) {
        0 => format!("SHA256E--nosize{i}.bin"),
        1 => format!("WORM-s{}-m1700000000--file{i}", rng.below(1 << 20)),
        _ => format!("SHA256E-s{}--{:064x}.dat", rng.below(1 << 30), i),
    }
}

fn journal_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join(".git/annex/journal"))
        .map(|rd| rd.count())
        .unwrap_or(0)
}

#[test]
fn sizes_equal_the_references_with_dead_repos_unsized_keys_and_journal() {
    let a = support::new_git_repo();
    let ap = a.path();
    annex(ap, &["init", "-q", "A"]);
    std::fs::write(ap.join("f1"), b"hello\n").expect("write");
    std::fs::write(ap.join("f2"), vec![7u8; 12345]).expect("write");
    annex(ap, &["add", "-q", "f1", "f2"]);
    git(ap, &["commit", "-qm", "files"]);
    // Two more repositories known in uuid.log, one of them empty, then dead.
    let b = tempfile::tempdir().expect("tmp");
    let c = tempfile::tempdir().expect("tmp");
    let mut uuids = vec![];
    for (d, name) in [(&b, "B"), (&c, "C")] {
        git(d.path(), &["clone", "-q", ap.to_str().expect("utf-8"), "r"]);
        let r = d.path().join("r");
        annex(&r, &["init", "-q", name]);
        uuids.push(git(&r, &["config", "annex.uuid"]).trim().to_owned());
        git(ap, &["remote", "add", name, r.to_str().expect("utf-8")]);
        git(ap, &["fetch", "-q", name]);
    }
    annex(ap, &["merge", "-q"]);
    let here = git(ap, &["config", "annex.uuid"]).trim().to_owned();
    let stranger = "11111111-2222-3333-4444-555555555555".to_owned();
    // Many keys present, some of them removed again, in every repository.
    let mut rng = Rng(42);
    let mut batch = String::new();
    let mut keys = vec![];
    for i in 0..300 {
        let k = gen_key(&mut rng, i);
        for u in [&here, &uuids[0], &uuids[1], &stranger] {
            if rng.below(2) == 0 {
                batch.push_str(&format!("{k} {u} 1\n"));
            }
        }
        keys.push(k);
    }
    for k in keys.iter().step_by(7) {
        batch.push_str(&format!("{k} {} 0\n", uuids[0]));
    }
    let out = annex_output(ap, &["setpresentkey", "--batch"], Some(batch.as_bytes()));
    assert!(out.status.success(), "{out:?}");
    annex(ap, &["dead", "C"]);
    let reference = reference_sizes(ap);
    assert!(reference.len() >= 3, "{reference:?}");
    assert!(!reference.contains_key(&uuids[1]), "C is dead");
    assert_eq!(
        our_sizes(ap),
        reference,
        "committed branch, first full scan"
    );

    // Journal-only changes: the reference leaves them uncommitted.
    git(ap, &["config", "annex.alwayscommit", "false"]);
    let mut batch = String::new();
    for k in keys.iter().skip(3).step_by(5) {
        batch.push_str(&format!("{k} {here} 0\n"));
        batch.push_str(&format!("{k} {} 1\n", uuids[0]));
    }
    for i in 300..340 {
        let k = gen_key(&mut rng, i);
        batch.push_str(&format!("{k} {stranger} 1\n"));
    }
    let out = annex_output(ap, &["setpresentkey", "--batch"], Some(batch.as_bytes()));
    assert!(out.status.success(), "{out:?}");
    assert!(journal_files(ap) > 10, "changes are in the journal");
    let ours = our_sizes(ap);
    let reference = reference_sizes(ap);
    assert!(journal_files(ap) > 10, "still in the journal");
    assert_eq!(ours, reference, "journal over the branch");

    // Committed: our incremental update agrees again.
    git(ap, &["config", "annex.alwayscommit", "true"]);
    annex(ap, &["merge", "-q"]);
    assert_eq!(journal_files(ap), 0);
    assert_eq!(our_sizes(ap), reference_sizes(ap), "after the commit");
    // And a from-scratch recompute gives the same.
    let git_dir = ap.join(".git");
    let branch = Branch::open(&git_dir).expect("branch");
    let rs = RepoSizes::open(&git_dir.join("annex")).expect("open");
    let inc = rs.branch_sizes(&branch).expect("sizes").0;
    assert_eq!(rs.recompute(&branch).expect("recompute"), inc);
    // The reference's own database is left alone.
    assert!(git_dir.join("annex/reposize/db").exists());
    assert!(git_dir.join("annex/rs-reposize.db").exists());
}

/// One random change to the location logs.
#[derive(Debug, Clone)]
enum Change {
    Present {
        key: usize,
        uuid: usize,
        present: bool,
    },
    Commit,
}

fn change_strategy() -> impl Strategy<Value = Change> {
    prop_oneof![
        6 => (0usize..40, 0usize..4, any::<bool>())
            .prop_map(|(key, uuid, present)| Change::Present { key, uuid, present }),
        1 => Just(Change::Commit),
    ]
}

fn prop_key(i: usize) -> Key {
    let name = format!("SHA256E-s{}--k{i}", 1000 + i * 37);
    if i.is_multiple_of(9) {
        Key::parse(format!("SHA256E--unsized{i}").as_bytes()).expect("key")
    } else {
        Key::parse(name.as_bytes()).expect("key")
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// After any changes (committed or journalled), the incrementally
    /// updated sizes equal a recompute from scratch and a direct count.
    #[test]
    fn incremental_update_equals_full_recompute(
        rounds in prop::collection::vec(prop::collection::vec(change_strategy(), 1..25), 1..5)
    ) {
        let dir = support::new_git_repo();
        let repo = Repo::init(dir.path(), Some("prop")).expect("init");
        let git_dir = repo.git_dir().to_path_buf();
        let state = State::new(Branch::open(&git_dir).expect("branch"));
        let branch = Branch::open(&git_dir).expect("branch");
        let uuids: Vec<Uuid> = (0..4).map(|i| Uuid::parse(format!("u{i}-uuid").as_bytes()).expect("uuid")).collect();
        let incremental = RepoSizes::open(&git_dir.join("annex")).expect("open");
        for round in rounds {
            for c in round {
                match c {
                    Change::Present { key, uuid, present } => {
                        state.set_present(&prop_key(key), &uuids[uuid], present).expect("set");
                    }
                    Change::Commit => {
                        state.commit().expect("commit");
                    }
                }
            }
            let inc = incremental.sizes(&branch).expect("incremental");
            // A fresh database does a full scan.
            let fresh_dir = tempfile::tempdir().expect("tmp");
            let full = RepoSizes::open(fresh_dir.path()).expect("open").sizes(&branch).expect("full");
            // A repository whose keys all went away stays listed at 0 in
            // the incremental sizes (as below), where a scan from scratch
            // never saw it: the two agree on everything else.
            let inc_seen: BTreeMap<_, _> = inc.iter().filter(|(u, v)| **v > 0 || full.contains_key(*u)).map(|(u, v)| (u.clone(), *v)).collect();
            prop_assert_eq!(&inc_seen, &full);
            // And both equal a direct count over every key's log.
            let mut direct: BTreeMap<Uuid, u64> = BTreeMap::new();
            if let Some(here) = repo.uuid() {
                direct.insert(here.clone(), 0);
            }
            for k in 0..40 {
                let key = prop_key(k);
                for u in state.whereis(&key).expect("whereis") {
                    *direct.entry(u).or_insert(0) += key.size().unwrap_or(0);
                }
            }
            // Repositories that once had keys stay listed at 0.
            let inc_nonzero: BTreeMap<_, _> = inc.iter().filter(|(u, v)| **v > 0 || direct.contains_key(*u)).map(|(u, v)| (u.clone(), *v)).collect();
            prop_assert_eq!(inc_nonzero, direct);
        }
    }
}

/// Repositories for the reservation tests: one with a target UUID.
fn reservation_repo() -> (tempfile::TempDir, std::path::PathBuf, Uuid) {
    let dir = support::new_git_repo();
    let repo = Repo::init(dir.path(), Some("res")).expect("init");
    let git_dir = repo.git_dir().to_path_buf();
    let target = Uuid::parse(b"aaaaaaaa-0000-0000-0000-00000000000r").expect("uuid");
    (dir, git_dir, target)
}

#[test]
fn concurrent_reservations_never_exceed_maxsize() {
    let (_dir, git_dir, target) = reservation_repo();
    const MAX: u64 = 100_000;
    // Something already there, committed.
    {
        let state = State::new(Branch::open(&git_dir).expect("branch"));
        state
            .set_maxsize(&target, i128::from(MAX))
            .expect("maxsize");
        let k = Key::parse(b"SHA256E-s20000--already").expect("key");
        state.set_present(&k, &target, true).expect("present");
        state.commit().expect("commit");
    }
    let stored = Arc::new(AtomicI64::new(20_000));
    let peak = Arc::new(AtomicI64::new(20_000));
    let refused = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let git_dir = git_dir.clone();
            let target = target.clone();
            let (stored, peak, refused) = (stored.clone(), peak.clone(), refused.clone());
            std::thread::spawn(move || {
                // Each thread is a separate "process": its own handle,
                // connection and snapshot.
                let branch = Branch::open(&git_dir).expect("branch");
                let state = State::new(Branch::open(&git_dir).expect("branch"));
                let sizes = RepoSizes::open(&git_dir.join("annex")).expect("open");
                let mut rng = Rng(1000 + t);
                for i in 0..25 {
                    let size = 3000 + rng.below(9000) as u64;
                    let key =
                        Key::parse(format!("SHA256E-s{size}--t{t}-{i}").as_bytes()).expect("key");
                    match sizes.reserve(&branch, &target, &key, size) {
                        Ok(r) => {
                            let now = stored.fetch_add(size as i64, Ordering::SeqCst) + size as i64;
                            peak.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(
                                rng.below(3) as u64
                            ));
                            if rng.below(4) == 0 {
                                // The transfer failed.
                                stored.fetch_sub(size as i64, Ordering::SeqCst);
                                drop(r);
                            } else {
                                state.set_present(&key, &target, true).expect("present");
                                r.finish().expect("finish");
                                if rng.below(5) == 0 {
                                    state.commit().expect("commit");
                                }
                            }
                        }
                        Err(SizesError::WouldExceed(_)) => {
                            refused.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => panic!("reserve: {e}"),
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let peak = peak.load(Ordering::SeqCst);
    assert!(peak <= MAX as i64, "peak {peak} over {MAX}");
    assert!(
        refused.load(Ordering::SeqCst) > 0,
        "the maxsize was reached"
    );
    // What the logs say equals what was stored, and nothing is in flight.
    let branch = Branch::open(&git_dir).expect("branch");
    let sizes = RepoSizes::open(&git_dir.join("annex")).expect("open");
    let stored = stored.load(Ordering::SeqCst) as u64;
    assert_eq!(sizes.sizes(&branch).expect("sizes")[&target], stored);
    assert_eq!(sizes.reservations_in_flight().expect("count"), 0);
    assert!(stored <= MAX && stored > MAX - 12_000, "filled to {stored}");
}

#[test]
fn reservation_counts_until_finished_and_key_already_there_counts_zero() {
    let (_dir, git_dir, target) = reservation_repo();
    let branch = Branch::open(&git_dir).expect("branch");
    let state = State::new(Branch::open(&git_dir).expect("branch"));
    let a = RepoSizes::open(&git_dir.join("annex")).expect("open");
    let b = RepoSizes::open(&git_dir.join("annex")).expect("open");
    let k1 = Key::parse(b"SHA256E-s600--one").expect("key");
    let k2 = Key::parse(b"SHA256E-s500--two").expect("key");
    let r1 = a
        .reserve_within(&branch, &target, &k1, 600, Some(1000))
        .expect("fits");
    // Another handle sees it.
    assert_eq!(
        b.live_sizes(&branch).expect("live").get(&target),
        Some(&600)
    );
    assert!(matches!(
        b.reserve_within(&branch, &target, &k2, 500, Some(1000)),
        Err(SizesError::WouldExceed(e)) if e.live == 600 && e.size == 500 && e.maxsize == 1000
    ));
    // Landed and finished: still counted once, by either handle.
    state.set_present(&k1, &target, true).expect("present");
    r1.finish().expect("finish");
    assert_eq!(
        b.live_sizes(&branch).expect("live").get(&target),
        Some(&600)
    );
    a.refresh();
    assert_eq!(
        a.live_sizes(&branch).expect("live").get(&target),
        Some(&600)
    );
    // A key the repository has counts 0 (it fits even at the limit).
    let again = b
        .reserve_within(&branch, &target, &k1, 600, Some(600))
        .expect("already there");
    assert_eq!(again.size(), 0);
    drop(again);
    // A dropped reservation stops counting.
    let r2 = a
        .reserve_within(&branch, &target, &k2, 300, None)
        .expect("no limit");
    assert_eq!(
        b.live_sizes(&branch).expect("live").get(&target),
        Some(&900)
    );
    drop(r2);
    assert_eq!(
        b.live_sizes(&branch).expect("live").get(&target),
        Some(&600)
    );
    assert_eq!(a.reservations_in_flight().expect("count"), 0);
}

const CHILD_ENV: &str = "ANNEX_SIZES_TEST_CHILD_GIT_DIR";

/// Not a test: the child process of
/// [`reservation_of_a_killed_process_expires`], run by it with `--ignored`.
/// Reserves 800 bytes, says so, and waits to be killed.
#[test]
#[ignore = "helper process of reservation_of_a_killed_process_expires"]
fn reservation_holder_child() {
    let Some(git_dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let git_dir = std::path::PathBuf::from(git_dir);
    let branch = Branch::open(&git_dir).expect("branch");
    let sizes = RepoSizes::open(&git_dir.join("annex")).expect("open");
    let target = Uuid::parse(b"aaaaaaaa-0000-0000-0000-00000000000r").expect("uuid");
    let k = Key::parse(b"SHA256E-s800--child").expect("key");
    let _r = sizes
        .reserve_within(&branch, &target, &k, 800, Some(1000))
        .expect("reserve");
    println!("RESERVED");
    std::thread::sleep(std::time::Duration::from_secs(120));
}

#[test]
fn reservation_of_a_killed_process_expires() {
    let (_dir, git_dir, target) = reservation_repo();
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .args([
            "--exact",
            "sizes::reservation_holder_child",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, &git_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("stdout");
    let mut reserved = false;
    for line in BufReader::new(stdout).lines() {
        if line.expect("line").contains("RESERVED") {
            reserved = true;
            break;
        }
    }
    assert!(reserved, "the child reserved");
    let branch = Branch::open(&git_dir).expect("branch");
    let sizes = RepoSizes::open(&git_dir.join("annex")).expect("open");
    let k = Key::parse(b"SHA256E-s500--parent").expect("key");
    // The live child's reservation counts.
    assert!(matches!(
        sizes.reserve_within(&branch, &target, &k, 500, Some(1000)),
        Err(SizesError::WouldExceed(e)) if e.live == 800
    ));
    child.kill().expect("kill");
    child.wait().expect("wait");
    // Killed: its reservation expires at the next reservation.
    let r = sizes
        .reserve_within(&branch, &target, &k, 500, Some(1000))
        .expect("fits once the child is gone");
    assert_eq!(
        sizes.live_sizes(&branch).expect("live").get(&target),
        Some(&500)
    );
    drop(r);
    assert_eq!(sizes.reservations_in_flight().expect("count"), 0);
    // Its lock file was removed too; ours remains.
    let live: Vec<_> = std::fs::read_dir(git_dir.join("annex/rs-reposize-live"))
        .expect("live dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        live.iter()
            .all(|n| n.starts_with(&format!("{}-", std::process::id()))),
        "{live:?}"
    );
}

#[test]
fn sizes_equal_the_references_in_a_private_repository() {
    let p = support::new_git_repo();
    let pp = p.path();
    git(pp, &["config", "annex.private", "true"]);
    annex(pp, &["init", "-q", "P"]);
    std::fs::write(pp.join("f1"), b"hello\n").expect("write");
    std::fs::write(pp.join("f2"), vec![1u8; 3000]).expect("write");
    annex(pp, &["add", "-q", "f1", "f2"]);
    git(pp, &["commit", "-qm", "files"]);
    let stranger = "11111111-2222-3333-4444-555555555555";
    annex(pp, &["setpresentkey", "SHA256E-s77--x", stranger, "1"]);
    // The private repository's logs are only in the private journal.
    assert!(
        pp.join(".git/annex/journal-private")
            .read_dir()
            .expect("dir")
            .count()
            >= 2
    );
    assert_eq!(our_sizes(pp), reference_sizes(pp));
    // A key in both journals: git-annex counts its change once for each
    // journal (P's 6 bytes twice, the stranger's too), and so do we.
    git(pp, &["config", "annex.alwayscommit", "false"]);
    let f1_key = annex(pp, &["lookupkey", "f1"]).trim().to_owned();
    annex(pp, &["setpresentkey", &f1_key, stranger, "1"]);
    let reference = reference_sizes(pp);
    let here = git(pp, &["config", "annex.uuid"]).trim().to_owned();
    assert_eq!(reference[&here], 3012, "the reference's double count");
    assert_eq!(our_sizes(pp), reference);
}

#[test]
fn database_is_created_once_by_concurrent_openers_and_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().expect("tmp");
    let annex_dir = dir.path().join("annex");
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let annex_dir = annex_dir.clone();
            std::thread::spawn(move || RepoSizes::open(&annex_dir).map(|_| ()))
        })
        .collect();
    for t in threads {
        t.join().expect("thread").expect("open");
    }
    let db = annex_dir.join(annex_core::sizes::DB_FILE);
    let conn = rusqlite::Connection::open(&db).expect("sqlite");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(v, annex_core::sizes::SCHEMA_VERSION);
    conn.execute_batch("PRAGMA user_version = 99").expect("set");
    drop(conn);
    match RepoSizes::open(&annex_dir) {
        Err(SizesError::Schema { found: 99, path }) => assert_eq!(path, db),
        other => panic!("expected a schema error, got {other:?}"),
    }
}

const OPENER_ENV: &str = "ANNEX_SIZES_TEST_OPENER_DIR";

/// Not a test: a child process of
/// [`concurrent_processes_open_a_fresh_database`], run by it with
/// `--ignored`. Waits for the `go` file, opens the database, reads it and
/// prints the outcome.
#[test]
#[ignore = "helper process of concurrent_processes_open_a_fresh_database"]
fn fresh_database_opener_child() {
    let Some(dir) = std::env::var_os(OPENER_ENV) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let go = dir.join("go");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !go.exists() && std::time::Instant::now() < deadline {
        std::hint::spin_loop();
    }
    let r = RepoSizes::open(&dir.join("annex")).and_then(|s| s.reservations_in_flight());
    match r {
        Ok(n) => println!("OPENED {n}"),
        Err(e) => println!("FAILED {e}"),
    }
}

/// Several processes opening a database that does not exist yet, at the
/// same moment: every one succeeds (no "database is locked" from the
/// switch to WAL or the schema's creation).
#[test]
fn concurrent_processes_open_a_fresh_database() {
    for round in 0..12 {
        let dir = tempfile::tempdir().expect("tmp");
        let children: Vec<_> = (0..5)
            .map(|_| {
                Command::new(std::env::current_exe().expect("exe"))
                    .args([
                        "--exact",
                        "sizes::fresh_database_opener_child",
                        "--ignored",
                        "--nocapture",
                    ])
                    .env(OPENER_ENV, dir.path())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("spawn child")
            })
            .collect();
        // Let them start and spin, then release them together.
        std::thread::sleep(std::time::Duration::from_millis(300));
        std::fs::write(dir.path().join("go"), b"").expect("go");
        for c in children {
            let out = c.wait_with_output().expect("wait");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.lines().any(|l| l == "OPENED 0"),
                "round {round}: a child said {text:?}"
            );
        }
    }
}
