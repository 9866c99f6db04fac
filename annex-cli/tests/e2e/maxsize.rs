//! End-to-end tests of the repository sizes database in use: `maxsize` and
//! `info` numbers against the reference's as the branch moves, uploads to a
//! repository with a maxsize (reservations), concurrent uploaders never
//! filling it over its maxsize, and a killed uploader's reservation
//! expiring.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::ours;
use crate::support::{self, annex, git};

/// `r` (the remote) and `a` (its clone, remote `origin`), both initialized
/// by the reference; `a` holds `files` (name, size), added and committed.
fn setup(files: &[(String, usize)]) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let r = dir.path().join("r");
    std::fs::create_dir(&r).expect("mkdir");
    git(&r, &["init", "-q", "-b", "main"]);
    annex(&r, &["init", "r"]);
    git(dir.path(), &["clone", "-q", "r", "a"]);
    let a = dir.path().join("a");
    annex(&a, &["init", "a"]);
    for (i, (name, size)) in files.iter().enumerate() {
        let p = a.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        // Distinct content per file.
        let mut content = format!("{i} {name}\n").into_bytes();
        content.resize(*size, b'x');
        std::fs::write(&p, content).expect("write");
    }
    annex(&a, &["add", "."]);
    git(&a, &["commit", "-q", "-m", "add"]);
    (dir, r, a)
}

fn json(out: &[u8]) -> Value {
    serde_json::from_slice(out)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(out)))
}

/// The fields of `info --json` made from repository sizes.
fn info_sizes(v: &Value) -> (Value, Value) {
    (
        v["annex sizes of repositories"].clone(),
        v["combined annex size of all repositories"].clone(),
    )
}

fn compare_sizes(dir: &Path) {
    let theirs = json(support::annex(dir, &["maxsize", "--json"]).as_bytes());
    let o = ours(dir, &["maxsize", "--json"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(json(&o.stdout), theirs, "maxsize --json");
    let theirs = json(support::annex(dir, &["info", "--json"]).as_bytes());
    let o = ours(dir, &["info", "--json"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        info_sizes(&json(&o.stdout)),
        info_sizes(&theirs),
        "info --json"
    );
}

#[test]
fn sizes_follow_the_branch_as_the_reference_computes_them() {
    let files: Vec<(String, usize)> = (0..6).map(|i| (format!("f{i}"), 1000 + i * 10)).collect();
    let (_d, _r, a) = setup(&files);
    annex(&a, &["maxsize", "origin", "5000"]);
    // First use: the database is created from the whole branch.
    compare_sizes(&a);
    // The branch moves (the reference copies, and drops, and marks a
    // repository dead): the database follows incrementally.
    annex(&a, &["copy", "--to", "origin", "f0", "f1", "f2"]);
    compare_sizes(&a);
    annex(&a, &["drop", "--from", "origin", "f1"]);
    annex(&a, &["copy", "--to", "origin", "f5"]);
    compare_sizes(&a);
    // Uncommitted (journalled) changes count too.
    let o = ours(
        &a,
        &[
            "copy",
            "--to",
            "origin",
            "f3",
            "-c",
            "annex.alwayscommit=false",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    compare_sizes(&a);
    annex(&a, &["dead", "origin"]);
    compare_sizes(&a);
}

fn sizes_on(dir: &Path, remote: &str) -> u64 {
    let out = support::annex(dir, &["find", "--in", remote, "--format", "${bytesize}\\n"]);
    out.lines()
        .filter_map(|l| l.trim().parse::<u64>().ok())
        .sum()
}

#[test]
fn copy_auto_to_a_repository_over_its_maxsize_skips_what_does_not_fit() {
    let files: Vec<(String, usize)> = (1..=4).map(|i| (format!("f{i}"), 1000)).collect();
    for jobs in ["1", "3"] {
        let (_d, r, a) = setup(&files);
        annex(&a, &["maxsize", "origin", "2500"]);
        // numcopies 2: `copy --auto` wants a second copy of every file.
        annex(&a, &["numcopies", "2"]);
        let o = ours(&a, &["copy", "--auto", "--to", "origin", "-J", jobs]);
        let stdout = String::from_utf8_lossy(&o.stdout);
        let stderr = String::from_utf8_lossy(&o.stderr);
        // Two fit; the others fail, as a full repository fails.
        assert_eq!(o.status.code(), Some(1), "{stdout}{stderr}");
        assert_eq!(stdout.matches(" ok").count(), 2, "{stdout}");
        assert_eq!(stdout.matches("failed").count(), 2, "{stdout}");
        assert!(stderr.contains("not enough free space"), "{stderr}");
        assert_eq!(sizes_on(&a, "origin"), 2000);
        assert_eq!(objects_size(&r), 2000);
        // Nothing stays reserved: raising the maxsize lets the rest in.
        annex(&a, &["maxsize", "origin", "4000"]);
        let o = ours(&a, &["copy", "--auto", "--to", "origin", "-J", jobs]);
        assert!(o.status.success(), "{o:?}");
        assert_eq!(sizes_on(&a, "origin"), 4000);
        // And the numbers are the reference's.
        compare_sizes(&a);
    }
}

#[test]
fn explicit_copy_goes_over_an_advisory_maxsize_as_the_reference_does() {
    // git-annex treats maxsize as advisory for an explicit `copy --to`:
    // it copies everything. So do we (the copies are still counted).
    let files: Vec<(String, usize)> = (1..=4).map(|i| (format!("f{i}"), 1000)).collect();
    for reference in [true, false] {
        let (_d, r, a) = setup(&files);
        annex(&a, &["maxsize", "origin", "2500"]);
        let o = if reference {
            support::annex_output(&a, &["copy", "--to", "origin"], None)
        } else {
            ours(&a, &["copy", "--to", "origin"])
        };
        assert!(o.status.success(), "reference={reference}: {o:?}");
        assert_eq!(objects_size(&r), 4000, "reference={reference}");
        compare_sizes(&a);
    }
}

/// The total size of the objects in `repo`'s annex (partial transfers in
/// `tmp` are not objects).
fn objects_size(repo: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![repo.join(".git/annex/objects")];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => total += e.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    total
}

/// What `repo`'s own journal says it holds: the sizes of the keys whose
/// journalled location log has `uuid` present.
fn journal_size(repo: &Path, uuid: &str) -> u64 {
    let Ok(rd) = std::fs::read_dir(repo.join(".git/annex/journal")) else {
        return 0;
    };
    let mut total = 0;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(size) = name
            .split("-s")
            .nth(1)
            .and_then(|s| s.split("--").next())
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        let content = std::fs::read_to_string(e.path()).unwrap_or_default();
        // The newest line for the UUID decides.
        let stamp = |l: &str| -> f64 {
            l.split(' ')
                .next()
                .and_then(|t| t.trim_end_matches('s').parse().ok())
                .unwrap_or(0.0)
        };
        let present = content
            .lines()
            .filter(|l| l.ends_with(uuid))
            .max_by(|x, y| stamp(x).total_cmp(&stamp(y)))
            .is_some_and(|l| l.split(' ').nth(1) == Some("1"));
        if present {
            total += size;
        }
    }
    total
}

/// Samples `r`'s objects and journal until stopped; returns the largest
/// totals seen.
fn watch(r: PathBuf, uuid: String, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<(u64, u64)> {
    std::thread::spawn(move || {
        let (mut objects, mut logged) = (0, 0);
        while !stop.load(Ordering::SeqCst) {
            objects = objects.max(objects_size(&r));
            logged = logged.max(journal_size(&r, &uuid));
            std::thread::sleep(Duration::from_millis(2));
        }
        (
            objects.max(objects_size(&r)),
            logged.max(journal_size(&r, &uuid)),
        )
    })
}

fn ours_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_git-annex-rs"));
    support::hermetic(&mut cmd)
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn uuid_of(dir: &Path) -> String {
    git(dir, &["config", "annex.uuid"]).trim().to_string()
}

#[test]
fn concurrent_uploaders_never_fill_a_repository_over_its_maxsize() {
    const SIZE: usize = 10_000;
    const PER: usize = 8;
    for round in 0..3 {
        let files: Vec<(String, usize)> = (0..4)
            .flat_map(|p| (0..PER).map(move |i| (format!("p{p}/f{i}"), SIZE + round)))
            .collect();
        let (_d, r, a) = setup(&files);
        // Room for 11 of the 32 files.
        let maxsize = 11 * (SIZE + round) as u64 + 500;
        annex(&a, &["maxsize", "origin", &maxsize.to_string()]);
        annex(&a, &["numcopies", "2"]);
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = watch(r.clone(), uuid_of(&r), stop.clone());
        let children: Vec<_> = (0..4)
            .map(|p| {
                ours_cmd(
                    &a,
                    &[
                        "copy",
                        "--auto",
                        "--to",
                        "origin",
                        "-J",
                        "4",
                        &format!("p{p}"),
                    ],
                )
                .spawn()
                .expect("spawn")
            })
            .collect();
        let mut ok = 0;
        for c in children {
            let o = c.wait_with_output().expect("wait");
            let stdout = String::from_utf8_lossy(&o.stdout);
            ok += stdout.matches(" ok").count();
            // Only "does not fit" failures.
            for line in String::from_utf8_lossy(&o.stderr).lines() {
                assert!(
                    line.contains("not enough free space")
                        || (line.starts_with("copy: ") && line.ends_with(" failed")),
                    "round {round}: {line}"
                );
            }
        }
        stop.store(true, Ordering::SeqCst);
        let (objects, logged) = watcher.join().expect("watcher");
        assert!(objects <= maxsize, "round {round}: {objects} > {maxsize}");
        assert!(logged <= maxsize, "round {round}: {logged} > {maxsize}");
        // The journal was seen (the sampling reads what it should).
        assert!(logged > 0, "round {round}");
        // Every file that fits was copied: the limit is reached, not
        // undershot.
        assert_eq!(ok, 11, "round {round}");
        assert_eq!(objects, 11 * (SIZE + round) as u64, "round {round}");
        assert_eq!(sizes_on(&a, "origin"), objects, "round {round}");
    }
}

#[test]
fn a_killed_uploaders_reservation_expires() {
    const SMALL: usize = 10_000;
    const BIG: usize = 200_000_000;
    let mut files: Vec<(String, usize)> = (0..10)
        .map(|i| (format!("s{}/f{i}", i % 2), SMALL))
        .collect();
    files.push(("big".into(), BIG));
    let (_d, r, a) = setup(&files);
    // Room for the big file and half the small ones.
    let maxsize = (BIG + 5 * SMALL + 100) as u64;
    annex(&a, &["maxsize", "origin", &maxsize.to_string()]);
    annex(&a, &["numcopies", "2"]);
    let big_key = annex(&a, &["lookupkey", "big"]).trim().to_string();
    let mut child = ours_cmd(&a, &["copy", "--auto", "--to", "origin", "big"])
        .spawn()
        .expect("spawn");
    // Mid-transfer: the partial object is in the remote's tmp.
    let partial = r.join(".git/annex/tmp").join(&big_key);
    let seen = AtomicU64::new(0);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::fs::metadata(&partial).is_ok_and(|m| m.len() > 0) {
            seen.store(1, Ordering::SeqCst);
            break;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    // SIGKILL (what `Child::kill` sends on Unix).
    child.kill().expect("kill");
    let _ = child.wait();
    assert_eq!(
        seen.load(Ordering::SeqCst),
        1,
        "the upload was not seen mid-transfer"
    );
    assert!(
        objects_size(&r) < BIG as u64,
        "the big file was stored before the kill"
    );
    // The others: all ten small files fit once the dead reservation is
    // gone (five would while it counted).
    let children: Vec<_> = (0..2)
        .map(|p| {
            ours_cmd(
                &a,
                &[
                    "copy",
                    "--auto",
                    "--to",
                    "origin",
                    "-J",
                    "2",
                    &format!("s{p}"),
                ],
            )
            .spawn()
            .expect("spawn")
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().expect("wait");
        assert!(o.status.success(), "{o:?}");
    }
    assert_eq!(objects_size(&r), 10 * SMALL as u64);
    // And now the big one no longer fits.
    let o = ours(&a, &["copy", "--auto", "--to", "origin", "big"]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert_eq!(objects_size(&r), 10 * SMALL as u64);
}

#[test]
fn explicit_move_goes_over_an_advisory_maxsize_as_the_reference_does() {
    let files: Vec<(String, usize)> = (1..=4).map(|i| (format!("f{i}"), 1000)).collect();
    for (reference, jobs) in [(true, "1"), (false, "1"), (false, "2")] {
        let (_d, r, a) = setup(&files);
        annex(&a, &["maxsize", "origin", "2999"]);
        let o = if reference {
            support::annex_output(&a, &["move", "--to", "origin", "-J", jobs], None)
        } else {
            ours(&a, &["move", "--to", "origin", "-J", jobs])
        };
        assert!(o.status.success(), "reference={reference}: {o:?}");
        assert_eq!(objects_size(&r), 4000, "reference={reference}");
        assert_eq!(objects_size(&a), 0, "reference={reference}");
        compare_sizes(&a);
    }
}
