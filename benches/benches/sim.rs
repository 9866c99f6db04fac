//! Benchmarks of the sim and of the least-cost planner: one `step` of a
//! sim, and planning many keys over a 50-repository mesh
//! (`annex_sim::distribute`'s generator), with and without the planner's
//! cache of plans by holders and wanting repositories.
#![allow(missing_docs)]

use std::hint::black_box;

use annex_sim::distribute::{Family, generate};
use annex_sim::plan::{self, Planner};
use annex_sim::{Detached, Sim};
use criterion::{Criterion, criterion_group, criterion_main};

/// `repos` repositories in a ring (each a remote of both neighbours), all
/// wanting `*.mp3`, `files` files in the first.
fn ring_sim(repos: usize, files: usize) -> Sim {
    let mut src = String::from("seed 1\n");
    for i in 0..repos {
        src.push_str(&format!("init r{i}\n"));
    }
    for i in 0..repos {
        src.push_str(&format!("connect r{i} <-> r{}\n", (i + 1) % repos));
        src.push_str(&format!("wanted r{i} include=*.mp3\n"));
    }
    src.push_str(&format!("addmulti {files} .mp3 1kb 1kb r0\n"));
    let mut sim = Sim::new(1);
    let mut host = Detached::default();
    for c in annex_sim::file::parse(&src).expect("parses") {
        sim.apply(c, &mut host).expect("applies");
    }
    sim
}

/// (holders, wanting) of `n` keys over the mesh: each key in one of five
/// origin repositories (and a second copy in one of the others for one
/// key in four), wanted by every repository or, for one key in two, by
/// a fifth of them.
fn keys(repos: usize, n: usize) -> Vec<(Vec<usize>, Vec<usize>)> {
    let mut x: u64 = 7;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        usize::try_from(x % 1_000_000).unwrap_or(0)
    };
    (0..n)
        .map(|k| {
            let mut have = vec![next() % 5];
            if k % 4 == 0 {
                have.push(5 + next() % (repos - 5));
            }
            let want = if k % 2 == 0 {
                (0..repos).collect()
            } else {
                (0..repos).filter(|r| r % 5 == 0).collect()
            };
            (have, want)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("sim");
    g.sample_size(10);
    for (repos, files) in [(10, 1_000), (100, 1_000), (10, 10_000), (100, 100_000)] {
        let sim = ring_sim(repos, files);
        g.bench_function(format!("step_{repos}_repos_{files}_files"), |b| {
            b.iter_batched(
                || sim.clone(),
                |mut s| {
                    let mut host = Detached::default();
                    black_box(s.step(false, 1, &mut host));
                },
                criterion::BatchSize::LargeInput,
            );
        });
    }
    let net = generate(Family::Mesh, 50, 0, 3).network;
    let edges = net.edges();
    let n = net.repos.len();
    let ks = keys(n, 100_000);
    g.bench_function("plan_1000_keys_50_repos_uncached", |b| {
        b.iter(|| {
            for (have, want) in &ks[..1000] {
                black_box(plan::plan_key(n, &edges, have, want));
            }
        });
    });
    g.bench_function("plan_100000_keys_50_repos", |b| {
        b.iter(|| {
            let mut p = Planner::new(n, edges.clone());
            for (have, want) in &ks {
                black_box(p.plan(have, want).cost);
            }
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
