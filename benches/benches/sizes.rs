//! Benchmarks of repository sizes (`annex_core::sizes`): a recompute from
//! scratch over 1,000,000 location logs (target: under 10 s) and an
//! incremental update after 10,000 logs changed (target: under 1 s).
//!
//! The `git-annex` branch is generated with `git fast-import` (one pack,
//! written in seconds; loose objects would be a million files), in the
//! layout git-annex writes: `uuid.log` and `aaa/bbb/KEY.log` for every
//! key, each log with one to three location lines. The number of logs can
//! be lowered with `SIZES_BENCH_LOGS` (for a quick look).
#![allow(missing_docs)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use annex_core::branch::Branch;
use annex_core::key::Key;
use annex_core::objects::hash_dir_lower;
use annex_core::sizes::RepoSizes;
use criterion::{Criterion, criterion_group, criterion_main};

const UUIDS: [&str; 5] = [
    "0b7d8f9e-1c2a-4b3c-9d4e-5f6a7b8c9d01",
    "1c8e9fa0-2d3b-4c4d-8e5f-6a7b8c9d0e12",
    "2d9fa0b1-3e4c-4d5e-9f6a-7b8c9d0e1f23",
    "3ea0b1c2-4f5d-4e6f-8a7b-8c9d0e1f2a34",
    "4fb1c2d3-5a6e-4f7a-9b8c-9d0e1f2a3b45",
];

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

fn key(i: usize) -> Key {
    Key::parse(format!("SHA256E-s{}--{:064x}.dat", 1 + (i * 7919) % 50_000_000, i).as_bytes())
        .expect("key")
}

fn log_path(k: &Key) -> String {
    format!(
        "{}{}.log",
        hash_dir_lower(k),
        String::from_utf8_lossy(k.as_bytes())
    )
}

/// One key's location log: `round` varies the timestamps and who has it.
fn log_content(i: usize, round: usize) -> String {
    let mut s = String::new();
    let n = 1 + (i + round) % 3;
    for j in 0..n {
        let u = UUIDS[(i + j * 2 + round) % UUIDS.len()];
        let present = if (i + j + round).is_multiple_of(5) {
            0
        } else {
            1
        };
        s.push_str(&format!(
            "{}.{:09}s {present} {u}\n",
            1_700_000_000 + i + round * 1000,
            (i * 31 + j) % 1_000_000_000
        ));
    }
    s
}

fn blob(out: &mut Vec<u8>, path: &str, content: &str) {
    out.extend_from_slice(format!("M 100644 inline {path}\ndata {}\n", content.len()).as_bytes());
    out.extend_from_slice(content.as_bytes());
    out.push(b'\n');
}

fn fast_import(dir: &Path, stream: &[u8]) {
    let mut child = Command::new("git")
        .current_dir(dir)
        .args(["fast-import", "--quiet"])
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stream)
        .expect("feed fast-import");
    assert!(child.wait().expect("wait").success());
}

/// A repository whose `git-annex` branch has `n` location logs (commit
/// one), then `changed` of them rewritten (commit two). Returns both.
fn generate(dir: &Path, n: usize, changed: usize) -> (String, String) {
    git(dir, &["init", "-q"]);
    let t = Instant::now();
    let mut s = Vec::with_capacity(n * 200);
    s.extend_from_slice(
        b"commit refs/heads/git-annex\ncommitter Bench <b@e> 1700000000 +0000\ndata 6\nbench\n",
    );
    let mut uuid_log = String::new();
    for (i, u) in UUIDS.iter().enumerate() {
        uuid_log.push_str(&format!("{u} repo{i} timestamp=1700000000s\n"));
    }
    blob(&mut s, "uuid.log", &uuid_log);
    for i in 0..n {
        blob(&mut s, &log_path(&key(i)), &log_content(i, 0));
    }
    s.extend_from_slice(
        b"\ncommit refs/heads/git-annex\ncommitter Bench <b@e> 1700000001 +0000\ndata 7\nchange\n",
    );
    let step = (n / changed.max(1)).max(1);
    for i in (0..n).step_by(step).take(changed) {
        blob(&mut s, &log_path(&key(i)), &log_content(i, 1));
    }
    eprintln!("stream of {} bytes built in {:.1?}", s.len(), t.elapsed());
    fast_import(dir, &s);
    let c2 = git(dir, &["rev-parse", "refs/heads/git-annex"])
        .trim()
        .to_owned();
    let c1 = git(dir, &["rev-parse", "refs/heads/git-annex^"])
        .trim()
        .to_owned();
    eprintln!("generated {n} logs in {:.1?}", t.elapsed());
    (c1, c2)
}

fn sizes(c: &mut Criterion) {
    let n: usize = std::env::var("SIZES_BENCH_LOGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let changed = 10_000.min(n);
    let tmp = tempfile::tempdir().expect("tmp");
    // SIZES_BENCH_REPO: generate there once and keep it (for profiling).
    let dir =
        std::env::var_os("SIZES_BENCH_REPO").map_or_else(|| tmp.path().to_path_buf(), Into::into);
    let (c1, c2) = if dir.join(".git/refs/heads/git-annex").exists()
        || dir.join(".git/packed-refs").exists()
    {
        (
            git(&dir, &["rev-parse", "refs/heads/git-annex^"])
                .trim()
                .to_owned(),
            git(&dir, &["rev-parse", "refs/heads/git-annex"])
                .trim()
                .to_owned(),
        )
    } else {
        std::fs::create_dir_all(&dir).expect("mkdir");
        generate(&dir, n, changed)
    };
    let dir = dir.as_path();
    let git_dir = dir.join(".git");
    let branch = Branch::open(&git_dir).expect("branch");
    let rs = RepoSizes::open(&git_dir.join("annex")).expect("open");

    let mut g = c.benchmark_group("sizes");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function(format!("full_recompute_{n}_logs"), |b| {
        b.iter(|| rs.recompute(&branch).expect("recompute"));
    });
    // Each iteration moves the branch between the two commits and brings
    // the database along: 10,000 changed logs read in both versions.
    let at = |c: &str| git(dir, &["update-ref", "refs/heads/git-annex", c]);
    at(&c2);
    rs.branch_sizes(&branch).expect("at c2");
    let mut forward = false;
    g.bench_function(format!("incremental_{changed}_changed_logs"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                at(if forward { &c2 } else { &c1 });
                forward = !forward;
                let t = Instant::now();
                rs.branch_sizes(&branch).expect("incremental");
                total += t.elapsed();
            }
            total
        });
    });
    g.finish();
    at(&c2);
    // CPU time, which a busy machine does not inflate the way it inflates
    // wall-clock time (process-wide: every thread counted).
    let cpu = |name: &str, f: &mut dyn FnMut()| {
        let (c0, t0) = (process_cpu_secs(), Instant::now());
        for _ in 0..3 {
            f();
        }
        eprintln!(
            "sizes_cpu/{name}: {:.2} s CPU, {:.2} s wall per run (mean of 3)",
            (process_cpu_secs() - c0) / 3.0,
            t0.elapsed().as_secs_f64() / 3.0
        );
    };
    cpu(&format!("full_recompute_{n}_logs"), &mut || {
        rs.recompute(&branch).expect("recompute");
    });
    let mut forward = false;
    cpu(&format!("incremental_{changed}_changed_logs"), &mut || {
        at(if forward { &c2 } else { &c1 });
        forward = !forward;
        rs.branch_sizes(&branch).expect("incremental");
    });
    at(&c2);
    // The incremental result equals a recompute at the same commit.
    let inc = rs.branch_sizes(&branch).expect("incremental").0;
    assert_eq!(inc, rs.recompute(&branch).expect("recompute"));
}

/// User + system CPU time of this process so far (all threads), from
/// `/proc/self/stat`, in seconds (100 ticks a second, Linux's USER_HZ).
fn process_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|v| v.parse().expect("tick count"))
        .collect();
    f.iter().sum::<u64>() as f64 / 100.0
}

criterion_group!(benches, sizes);
criterion_main!(benches);
