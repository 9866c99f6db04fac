//! The watch daemon's startup on an already-committed tree of 100,000
//! files in 1,000 directories: the watches put in place (one inotify watch
//! per directory) and the startup scan (what changed while no daemon ran,
//! from the index's stat data), which together are the time from start to
//! watching with nothing missed. Nothing changed, so the scan finds nothing.
#![allow(missing_docs)]

use std::path::Path;
use std::process::Command;

use annex_watch::committer::scan;
use annex_watch::watcher::Watcher;
use criterion::{Criterion, criterion_group, criterion_main};

const FILES: usize = 100_000;
const PER_DIR: usize = 100;

fn git(dir: &Path, args: &[&str]) {
    let st = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@example.invalid")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@example.invalid")
        .status()
        .expect("git");
    assert!(st.success(), "git {args:?}");
}

/// A repository with `FILES` small files committed.
fn committed_tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    git(d, &["init", "-q", "-b", "main"]);
    for i in 0..FILES {
        let sub = d.join(format!("d{:04}", i / PER_DIR));
        if i % PER_DIR == 0 {
            std::fs::create_dir(&sub).expect("mkdir");
        }
        std::fs::write(sub.join(format!("f{i}")), i.to_string()).expect("write");
    }
    git(d, &["add", "."]);
    git(d, &["commit", "-q", "-m", "tree"]);
    dir
}

fn startup(c: &mut Criterion) {
    let dir = committed_tree();
    let top = dir.path().canonicalize().expect("canonical");
    let mut g = c.benchmark_group("watch");
    g.sample_size(10);
    g.bench_function("startup_scan_100k_files", |b| {
        b.iter(|| {
            let found = scan(&top).expect("scan");
            assert!(found.is_empty(), "nothing changed");
        })
    });
    g.bench_function("watches_and_scan_100k_files", |b| {
        b.iter(|| {
            let (w, _events) =
                Watcher::start(&top, Box::new(|m: &str| eprintln!("{m}"))).expect("watch");
            let found = scan(&top).expect("scan");
            assert!(found.is_empty(), "nothing changed");
            drop(w);
        })
    });
    g.finish();
}

criterion_group!(benches, startup);
criterion_main!(benches);
