//! Benchmarks of repository sizes (`annex_core::sizes`): a recompute from
//! scratch over 1,000,000 location logs (target: under 10 s) and an
//! incremental update after 10,000 logs changed (target: under 1 s).
//!
//! The `git-annex` branch is generated here, straight into one pack file
//! (objects hashed with `sha1`, deflated with `zlib-rs`; `git index-pack`
//! writes the index), in the layout git-annex writes: `uuid.log` and
//! `aaa/bbb/KEY.log` for every key, each log with one to three location
//! lines. (Loose objects would be two million files; `git fast-import`
//! took 8 minutes on the busy 2-core machine.) The number of logs can be
//! lowered with `SIZES_BENCH_LOGS` (for a quick look); `SIZES_BENCH_REPO`
//! keeps the generated repository in a given directory for later runs.
//! Resident memory is printed after each stage (2026-11-24, 1,000,000
//! logs: 725 MB peak with the generation, 401 MB for recomputes alone).
#![allow(missing_docs)]

use std::path::Path;
use std::process::Command;
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

/// A pack being written: objects appended, each id remembered once.
struct Pack {
    data: Vec<u8>,
    count: u32,
    written: std::collections::HashSet<[u8; 20]>,
    deflate: zlib_rs::Deflate,
    buf: Vec<u8>,
}

impl Pack {
    fn new() -> Pack {
        Pack {
            data: b"PACK\0\0\0\x02\0\0\0\0".to_vec(),
            count: 0,
            written: Default::default(),
            // A small window and hash table: these objects are small, and
            // larger tables cost more to reset than to use.
            deflate: zlib_rs::Deflate::new_with_config(zlib_rs::DeflateConfig {
                window_bits: 9,
                mem_level: 1,
                ..zlib_rs::DeflateConfig::default()
            }),
            buf: Vec::new(),
        }
    }

    /// Adds an object (1 commit, 2 tree, 3 blob) and returns its id.
    fn add(&mut self, kind: u8, content: &[u8]) -> [u8; 20] {
        use sha1::Digest;
        let name = match kind {
            1 => "commit",
            2 => "tree",
            _ => "blob",
        };
        let mut h = sha1::Sha1::new();
        h.update(format!("{name} {}\0", content.len()).as_bytes());
        h.update(content);
        let id: [u8; 20] = h.finalize().into();
        if !self.written.insert(id) {
            return id;
        }
        let mut size = content.len();
        let mut byte = (kind << 4) | (size & 0x0f) as u8;
        size >>= 4;
        while size > 0 {
            self.data.push(byte | 0x80);
            byte = (size & 0x7f) as u8;
            size >>= 7;
        }
        self.data.push(byte);
        // One deflate stream for the whole pack, reset for each object: a
        // stream per object (`compress_slice`) left glibc's heap growing
        // by ~130 KB an object (13 GB for 100,000 logs; 1,000,000 were
        // SIGKILLed by the OOM killer), though almost all of it was free.
        self.buf.resize(zlib_rs::compress_bound(content.len()), 0);
        self.deflate.reset();
        let status = self
            .deflate
            .compress(content, &mut self.buf, zlib_rs::DeflateFlush::Finish)
            .expect("deflate");
        assert_eq!(status, zlib_rs::Status::StreamEnd, "deflate");
        let n = usize::try_from(self.deflate.total_out()).expect("size");
        self.data.extend_from_slice(&self.buf[..n]);
        self.count += 1;
        id
    }

    /// Writes the pack into `git_dir` and indexes it with `git index-pack`.
    fn finish(mut self, dir: &Path) {
        use sha1::Digest;
        self.data[8..12].copy_from_slice(&self.count.to_be_bytes());
        let sum: [u8; 20] = sha1::Sha1::digest(&self.data).into();
        self.data.extend_from_slice(&sum);
        let name = hex(&sum);
        let pack_dir = dir.join(".git/objects/pack");
        let pack = pack_dir.join(format!("pack-{name}.pack"));
        std::fs::write(&pack, &self.data).expect("write pack");
        git(dir, &["index-pack", pack.to_str().expect("utf-8 path")]);
    }
}

fn hex(id: &[u8]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// A tree object's content from (name, is_tree, id) entries, in git order.
fn tree(mut entries: Vec<(Vec<u8>, bool, [u8; 20])>) -> Vec<u8> {
    let sort_name = |(n, t, _): &(Vec<u8>, bool, [u8; 20])| {
        let mut k = n.clone();
        if *t {
            k.push(b'/');
        }
        k
    };
    entries.sort_by_key(sort_name);
    let mut out = Vec::new();
    for (name, is_tree, id) in entries {
        out.extend_from_slice(if is_tree { b"40000 " } else { b"100644 " });
        out.extend_from_slice(&name);
        out.push(0);
        out.extend_from_slice(&id);
    }
    out
}

/// The branch's files: top dir, second dir, file name -> blob id.
type Layout = std::collections::BTreeMap<
    String,
    std::collections::BTreeMap<String, Vec<(Vec<u8>, [u8; 20])>>,
>;

/// Writes the trees of `layout` plus `uuid.log` and a commit; returns the
/// commit's id. Trees already in the pack are not written again.
fn commit(
    pack: &mut Pack,
    layout: &Layout,
    uuid_log: [u8; 20],
    parent: Option<&str>,
    t: u64,
) -> String {
    let mut root = vec![(b"uuid.log".to_vec(), false, uuid_log)];
    for (top, subs) in layout {
        let mut mid = Vec::new();
        for (sub, files) in subs {
            let leaf = tree(
                files
                    .iter()
                    .map(|(n, id)| (n.clone(), false, *id))
                    .collect(),
            );
            mid.push((sub.as_bytes().to_vec(), true, pack.add(2, &leaf)));
        }
        let mid = tree(mid);
        root.push((top.as_bytes().to_vec(), true, pack.add(2, &mid)));
    }
    let root = pack.add(2, &tree(root));
    let mut c = format!("tree {}\n", hex(&root));
    if let Some(p) = parent {
        c.push_str(&format!("parent {p}\n"));
    }
    c.push_str(&format!(
        "author Bench <b@e> {t} +0000\ncommitter Bench <b@e> {t} +0000\n\nbench\n"
    ));
    hex(&pack.add(1, c.as_bytes()))
}

/// A repository whose `git-annex` branch has `n` location logs (commit
/// one), then `changed` of them rewritten (commit two). Returns both.
fn generate(dir: &Path, n: usize, changed: usize) -> (String, String) {
    git(dir, &["init", "-q"]);
    let t = Instant::now();
    let mut pack = Pack::new();
    let mut uuid_log = String::new();
    for (i, u) in UUIDS.iter().enumerate() {
        uuid_log.push_str(&format!("{u} repo{i} timestamp=1700000000s\n"));
    }
    let uuid_log = pack.add(3, uuid_log.as_bytes());
    let mut layout = Layout::new();
    let place = |layout: &mut Layout, i: usize, id: [u8; 20]| {
        let p = log_path(&key(i));
        let mut parts = p.splitn(3, '/');
        let (top, sub, file) = (
            parts.next().expect("top").to_owned(),
            parts.next().expect("sub").to_owned(),
            parts.next().expect("file").as_bytes().to_vec(),
        );
        let files = layout.entry(top).or_default().entry(sub).or_default();
        match files.iter_mut().find(|(f, _)| *f == file) {
            Some(e) => e.1 = id,
            None => files.push((file, id)),
        }
    };
    for i in 0..n {
        let id = pack.add(3, log_content(i, 0).as_bytes());
        place(&mut layout, i, id);
    }
    mem("blobs");
    let c1 = commit(&mut pack, &layout, uuid_log, None, 1_700_000_000);
    mem("commit 1");
    let step = (n / changed.max(1)).max(1);
    for i in (0..n).step_by(step).take(changed) {
        let id = pack.add(3, log_content(i, 1).as_bytes());
        place(&mut layout, i, id);
    }
    let c2 = commit(&mut pack, &layout, uuid_log, Some(&c1), 1_700_000_001);
    eprintln!("{} objects built in {:.1?}", pack.count, t.elapsed());
    pack.finish(dir);
    git(dir, &["update-ref", "refs/heads/git-annex", &c2]);
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
    mem("the repository is ready");
    let branch = Branch::open(&git_dir).expect("branch");
    let rs = RepoSizes::open(&git_dir.join("annex")).expect("open");
    for i in 0..2 {
        rs.recompute(&branch).expect("recompute");
        mem(&format!("recompute {i}"));
    }

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

/// Prints this process's resident memory now and at its peak.
fn mem(stage: &str) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map_or("?", |l| l[name.len()..].trim())
            .to_owned()
    };
    eprintln!(
        "memory after {stage}: resident {} (anonymous {}, files {}), peak {}",
        field("VmRSS:"),
        field("RssAnon:"),
        field("RssFile:"),
        field("VmHWM:")
    );
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
