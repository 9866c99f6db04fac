//! Micro-benchmarks of annex-core's hot paths.
#![allow(missing_docs)]

use annex_core::key::Key;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn keys(c: &mut Criterion) {
    let inputs: Vec<Vec<u8>> = (0..1000u32)
        .map(|i| {
            format!(
                "SHA256E-s{}--{:064x}.tar.gz",
                i * 977,
                u128::from(i) * 0x9e3779b97f4a7c15
            )
            .into_bytes()
        })
        .collect();
    let mut g = c.benchmark_group("key");
    g.throughput(Throughput::Elements(inputs.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| {
            for k in &inputs {
                black_box(Key::parse(black_box(k)).expect("valid key"));
            }
        })
    });
    let parsed: Vec<Key> = inputs
        .iter()
        .map(|k| Key::parse(k).expect("valid key"))
        .collect();
    g.bench_function("object_path_mixed", |b| {
        b.iter(|| {
            for k in &parsed {
                black_box(annex_core::objects::hash_dir_mixed(black_box(k)));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, keys);
criterion_main!(benches);
