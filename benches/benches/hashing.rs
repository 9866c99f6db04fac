//! Benchmarks of key parsing/serialization and of the hashing backends
//! (each hash function on a buffer; each backend from a file to a key).
//!
//! `cargo bench -p benches --bench hashing`. Targets: key parse+serialize at
//! 5 million keys/s per core; SHA256 of a large buffer within 10% of
//! `openssl speed -evp sha256` on one core. `openssl speed` reports CPU time,
//! so the `hash_cpu` group measures the hashing thread's CPU time as well
//! (from `/proc/thread-self/schedstat`), which a busy machine does not skew
//! the way it skews wall-clock time. That clock advances in scheduler ticks
//! (a few ms), fine for its 40 ms iterations and useless for short ones.
#![allow(missing_docs)]

use annex_core::backend::{Backend, HashKind, KeyOptions, KeySource};
use annex_core::key::Key;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::Path;

fn key_inputs() -> Vec<Vec<u8>> {
    (0..1000u32)
        .map(|i| match i % 4 {
            0 => format!(
                "SHA256E-s{}--{:064x}.tar.gz",
                i * 977,
                u128::from(i) * 0x9e3779b97f4a7c15
            ),
            1 => format!("SHA256-s{}--{:064x}", i * 31, u128::from(i) * 0x1234567),
            2 => format!("WORM-s{}-m{}--dir/file{i}.txt", i * 3, 1_700_000_000 + i),
            _ => format!(
                "MD5E-s{}-S1048576-C{}--{:032x}.jpeg",
                i * 7919,
                i % 9 + 1,
                u128::from(i) * 0xabcdef
            ),
        })
        .map(String::into_bytes)
        .collect()
}

fn keys(c: &mut Criterion) {
    let inputs = key_inputs();
    let mut g = c.benchmark_group("key");
    g.throughput(Throughput::Elements(inputs.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| {
            for k in &inputs {
                black_box(Key::parse(black_box(k)).expect("valid key"));
            }
        })
    });
    g.bench_function("parse_serialize", |b| {
        let mut out = Vec::with_capacity(128 * 1024);
        b.iter(|| {
            out.clear();
            for k in &inputs {
                let key = Key::parse(black_box(k)).expect("valid key");
                out.extend_from_slice(key.as_bytes());
            }
            black_box(&out);
        })
    });
    let parsed: Vec<Key> = inputs
        .iter()
        .map(|k| Key::parse(k).expect("valid key"))
        .collect();
    g.bench_function("from_fields", |b| {
        b.iter(|| {
            for k in &parsed {
                let (cs, cn) = k.chunk();
                black_box(Key::from_fields(
                    k.backend_name(),
                    k.name(),
                    k.size(),
                    k.mtime(),
                    cs,
                    cn,
                ));
            }
        })
    });
    g.finish();
}

fn hashing(c: &mut Criterion) {
    let data: Vec<u8> = (0..64u32 << 20).map(|i| (i * 2654435761) as u8).collect();
    let mut g = c.benchmark_group("hash");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    for (name, kind) in [
        ("sha256", HashKind::Sha256),
        ("sha512", HashKind::Sha512),
        ("sha224", HashKind::Sha224),
        ("sha384", HashKind::Sha384),
        ("sha1", HashKind::Sha1),
        ("md5", HashKind::Md5),
        ("blake3", HashKind::Blake3),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut h = annex_core::backend::ContentHasher::new(kind);
                for chunk in data.chunks(1 << 20) {
                    h.update(chunk);
                }
                black_box(h.finish())
            })
        });
    }
    // The whole path through the backend: buffer copies and all.
    g.bench_function("sha256e_key_for_reader", |b| {
        b.iter(|| {
            black_box(
                Backend::Sha256E
                    .key_for_reader(&data[..], Path::new("x.bin"), &KeyOptions::default())
                    .expect("key"),
            )
        })
    });
    g.finish();
}

/// Every backend, through the path `add` and `calckey` take: a file on
/// disk (in the page cache) to a key. 16 MiB per key; WORM reads only the
/// file's metadata.
fn backends(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("content.bin");
    let data: Vec<u8> = (0..16u32 << 20).map(|i| (i * 2654435761) as u8).collect();
    std::fs::write(&file, &data).expect("write the content file");
    let mut g = c.benchmark_group("backend");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    for backend in Backend::ALL {
        let source = KeySource {
            content: &file,
            name: Path::new("content.bin"),
        };
        g.bench_function(backend.name(), |b| {
            b.iter(|| {
                black_box(
                    backend
                        .key_for_file(&source, &KeyOptions::default())
                        .expect("key"),
                )
            })
        });
    }
    g.finish();
}

/// CPU time of the calling thread, in nanoseconds.
struct ThreadCpuTime;

fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .expect("/proc/thread-self/schedstat is readable")
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns().saturating_sub(start)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        // Nanoseconds, shown as wall time would be.
        WallTime.formatter()
    }
}

fn hashing_cpu(c: &mut Criterion<ThreadCpuTime>) {
    let data: Vec<u8> = (0..64u32 << 20).map(|i| (i * 2654435761) as u8).collect();
    let mut g = c.benchmark_group("hash_cpu");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    for (name, kind) in [("sha256", HashKind::Sha256), ("sha1", HashKind::Sha1)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut h = annex_core::backend::ContentHasher::new(kind);
                for chunk in data.chunks(1 << 20) {
                    h.update(chunk);
                }
                black_box(h.finish())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, keys, hashing, backends);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = hashing_cpu
}
criterion_main!(benches, cpu);
