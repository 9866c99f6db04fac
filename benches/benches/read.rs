//! Micro-benchmarks of the read-side commands' hot path: one key's
//! locations through a branch [`Snapshot`] (taken once, as `whereis` and
//! `find` take it once per command), against [`State::whereis`], which
//! reads the branch ref, commit and trees anew on every call.
#![allow(missing_docs)]

use std::hint::black_box;
use std::process::Command;

use annex_core::branch::Snapshot;
use annex_core::key::Key;
use annex_core::repo::Repo;
use annex_core::state::State;
use annex_core::uuid::Uuid;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn keys(n: u32) -> Vec<Key> {
    (0..n)
        .map(|i| {
            let name = format!("{:064x}.dat", u128::from(i) * 0x9e37_79b9_7f4a_7c15);
            Key::new(b"SHA256E", name.as_bytes()).with_size(Some(u64::from(i) * 977))
        })
        .collect()
}

/// A repository whose `git-annex` branch has the location logs of `n` keys,
/// each present in three repositories.
fn branch_with_keys(n: u32) -> (tempfile::TempDir, Repo, Vec<Key>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let status = Command::new("git")
        .args(["init", "-q"])
        .arg(dir.path())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .status()
        .expect("git init");
    assert!(status.success(), "git init failed");
    let repo = Repo::init(dir.path(), Some("bench")).expect("init");
    let state = State::new(repo.branch().expect("branch"));
    let uuids: Vec<Uuid> = (1..=3)
        .map(|i| Uuid::parse(format!("00000000-0000-4000-8000-00000000000{i}").as_bytes()))
        .collect::<Result<_, _>>()
        .expect("uuids");
    let keys = keys(n);
    for k in &keys {
        for u in &uuids {
            state.set_present(k, u, true).expect("set present");
        }
    }
    state.commit().expect("commit");
    (dir, repo, keys)
}

fn snapshot_reads(c: &mut Criterion) {
    let n = 10_000;
    let (_dir, repo, keys) = branch_with_keys(n);
    let state = State::new(repo.branch().expect("branch"));
    let mut g = c.benchmark_group("read");
    g.throughput(Throughput::Elements(1));
    let snap = Snapshot::new(state.branch()).expect("snapshot");
    let mut i = 0;
    g.bench_function("snapshot_locations_one_key", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            black_box(snap.locations(&keys[i]).expect("locations"))
        })
    });
    g.bench_function("branch_whereis_one_key", |b| {
        b.iter(|| {
            i = (i + 7919) % keys.len();
            black_box(state.whereis(&keys[i]).expect("whereis"))
        })
    });
    g.throughput(Throughput::Elements(u64::from(n)));
    g.sample_size(10);
    g.bench_function("snapshot_all_keys_fresh", |b| {
        b.iter(|| {
            let snap = Snapshot::new(state.branch()).expect("snapshot");
            let mut copies = 0usize;
            for k in &keys {
                copies += snap.locations(k).expect("locations").len();
            }
            black_box(copies)
        })
    });
    g.finish();
}

criterion_group!(benches, snapshot_reads);
criterion_main!(benches);
