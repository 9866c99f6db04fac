//! Benchmarks of the branch logs: location-log parsing (target: 200 MB/s
//! or more) and union merge of two versions of a location log.
#![allow(missing_docs)]

use annex_core::logs::{self, presence::PresenceLog};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

/// A location log with `n` lines in the shape git-annex writes them.
fn location_log(n: u32, salt: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..n {
        let u = u128::from(i.wrapping_mul(2_654_435_761) ^ salt) * 0x9e37_79b9_7f4a_7c15;
        let hex = format!("{u:032x}");
        out.extend_from_slice(
            format!(
                "{}.{}s {} {}-{}-{}-{}-{}\n",
                1_700_000_000 + i + salt,
                (i * 7919) % 1_000_000,
                if (i + salt).is_multiple_of(3) {
                    '0'
                } else {
                    '1'
                },
                &hex[0..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..32]
            )
            .as_bytes(),
        );
    }
    out
}

fn location(c: &mut Criterion) {
    let content = location_log(100_000, 0);
    let mut g = c.benchmark_group("location_log");
    g.throughput(Throughput::Bytes(content.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| black_box(PresenceLog::parse(black_box(&content))))
    });
    g.bench_function("parse_present", |b| {
        b.iter(|| black_box(PresenceLog::parse(black_box(&content)).present().len()))
    });
    let a = location_log(2_000, 0);
    let bb = location_log(2_000, 1);
    let path = b"18c/0c3/SHA256E-s10--abc.txt.log";
    g.throughput(Throughput::Bytes((a.len() + bb.len()) as u64));
    g.bench_function("union_merge", |b| {
        b.iter(|| black_box(logs::union_merge(path, &[black_box(&a), black_box(&bb)])))
    });
    g.finish();
}

criterion_group!(benches, location);
criterion_main!(benches);
