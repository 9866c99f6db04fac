//! Benchmarks of preferred-content evaluation: a 10-term expression over
//! many keys in memory (target: 1 million keys per second per core), the
//! reference-order evaluator and the optimized one, and parsing.
#![allow(missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;

use annex_core::key::Key;
use annex_core::logs::metadata::MetaData;
use annex_core::logs::trust::TrustLevel;
use annex_core::preferred::{self, Item, MemoryContext};
use annex_core::uuid::Uuid;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Ten terms, of every cost: paths, sizes, backends, locations with trust
/// and groups, metadata.
const EXPR: &[u8] = b"(include=*.mp3 or include=*/music/*) and exclude=*/archive/* \
    and (largerthan=100kb or copies=backup:2) and not inbackend=WORM \
    and (not copies=trusted:2 or approxlackingcopies=1) \
    and (metadata=tag=keep or copies=2 or securehash)";

const N: usize = 10_000;

fn world() -> (MemoryContext, Vec<(Vec<u8>, Key)>) {
    let us: Vec<Uuid> = (0..6)
        .map(|i| Uuid::parse(format!("{i:08x}-1111-2222-3333-444444444444").as_bytes()))
        .collect::<Result<_, _>>()
        .expect("uuids");
    let mut ctx = MemoryContext::default();
    ctx.here = Some(us[0].clone());
    ctx.numcopies = Some(2);
    ctx.trust.insert(us[1].clone(), TrustLevel::Trusted);
    ctx.trust.insert(us[2].clone(), TrustLevel::Untrusted);
    let mut groups = BTreeMap::new();
    for (i, u) in us.iter().enumerate() {
        let g: BTreeSet<Vec<u8>> = [if i % 2 == 0 {
            b"backup".to_vec()
        } else {
            b"client".to_vec()
        }]
        .into_iter()
        .collect();
        groups.insert(u.clone(), g);
    }
    ctx.set_groups(groups);
    let dirs = ["music/", "a/music/", "b/archive/", "docs/", ""];
    let exts = [".mp3", ".txt", ".flac"];
    let mut items = Vec::with_capacity(N);
    for i in 0..N {
        let ext = exts[i % exts.len()];
        let path = format!("{}f{i}{ext}", dirs[i % dirs.len()]).into_bytes();
        let key = if i % 7 == 0 {
            format!("WORM-s{}-m1--f{i}", i * 37)
        } else {
            format!("SHA256E-s{}--{:064x}{ext}", (i * 7919) % 400_000, i)
        };
        let key = Key::parse(key.as_bytes()).expect("key");
        let locs: Vec<Uuid> = us.iter().filter(|_| true).take(i % 5).cloned().collect();
        ctx.locations.insert(key.clone(), locs);
        if i % 3 == 0 {
            let mut m = MetaData::default();
            m.update(
                "tag",
                if i % 2 == 0 {
                    b"keep".to_vec()
                } else {
                    b"x".to_vec()
                },
                true,
            );
            ctx.metadata.insert(key.clone(), m);
        }
        items.push((path, key));
    }
    (ctx, items)
}

fn evaluate(c: &mut Criterion) {
    let (ctx, items) = world();
    let expr = preferred::parse(EXPR).expect("parses");
    let fast = expr.optimized();
    let here = ctx.here.clone();
    let mut g = c.benchmark_group("preferred_eval_10_terms");
    g.throughput(Throughput::Elements(items.len() as u64));
    g.bench_function("reference_order", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for (p, k) in &items {
                let item = Item::file(p, Some(k)).for_repo(here.as_ref());
                if expr.matches(&ctx, &item) == Ok(true) {
                    n += 1;
                }
            }
            black_box(n)
        })
    });
    g.bench_function("optimized", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for (p, k) in &items {
                let item = Item::file(p, Some(k)).for_repo(here.as_ref());
                if fast.eval(&ctx, &item) == Ok(true) {
                    n += 1;
                }
            }
            black_box(n)
        })
    });
    g.finish();
    // CPU time of this thread, which a busy machine does not inflate the
    // way it inflates wall-clock time.
    let rounds = 200;
    let per_cpu_second = |f: &mut dyn FnMut() -> usize| {
        let t0 = thread_cpu_ns();
        let mut n = 0;
        for _ in 0..rounds {
            n += f();
        }
        black_box(n);
        (rounds * items.len()) as f64 / ((thread_cpu_ns() - t0) as f64 / 1e9)
    };
    let reference = per_cpu_second(&mut || {
        items
            .iter()
            .filter(|(p, k)| {
                expr.matches(&ctx, &Item::file(p, Some(k)).for_repo(here.as_ref())) == Ok(true)
            })
            .count()
    });
    let optimized = per_cpu_second(&mut || {
        items
            .iter()
            .filter(|(p, k)| {
                fast.eval(&ctx, &Item::file(p, Some(k)).for_repo(here.as_ref())) == Ok(true)
            })
            .count()
    });
    eprintln!(
        "preferred_cpu/10_terms: reference_order {:.2} M keys per CPU second, optimized {:.2} M",
        reference / 1e6,
        optimized / 1e6
    );
}

/// CPU time of the calling thread in nanoseconds (`/proc/thread-self/schedstat`).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .expect("/proc/thread-self/schedstat")
}

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("preferred_parse");
    g.throughput(Throughput::Bytes(EXPR.len() as u64));
    g.bench_function("10_terms", |b| b.iter(|| preferred::parse(black_box(EXPR))));
    g.finish();
}

criterion_group!(benches, evaluate, parse);
criterion_main!(benches);
