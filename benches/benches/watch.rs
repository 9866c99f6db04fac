//! The watch daemon's startup on an already-committed tree of 100,000
//! files in 1,000 directories: the watches put in place (one inotify watch
//! per directory) and the startup scan (what changed while no daemon ran,
//! from the index's stat data), which together are the time from start to
//! watching with nothing missed. Nothing changed, so the scan finds nothing.
//!
//! With `WATCH_DAEMONS=1` it runs instead the real daemons side by side,
//! ours and the reference's `git annex watch --foreground`, on the same
//! trees (see [`daemons`]): startup to watching on 100,000 committed files
//! (within a bounded wait), the resident memory then, the CPU used over 30
//! idle seconds after it, and how long 10,000 new files take to be
//! committed after the last one is written. Our binary is
//! `$GIT_ANNEX_RS` or `git-annex-rs` beside the bench's own directory
//! (`target/PROFILE/`); the reference is `$GIT_ANNEX_REF`.
#![allow(missing_docs)]

use std::path::Path;
use std::process::Command;

use annex_watch::committer::scan;
use annex_watch::watcher::Watcher;
use criterion::{Criterion, criterion_group};

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

fn main() {
    if std::env::var_os("WATCH_DAEMONS").is_some() {
        daemons::run();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

/// The daemons side by side.
mod daemons {
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    /// The longest wait for a daemon's startup scan.
    fn startup_bound() -> Duration {
        Duration::from_secs(
            std::env::var("WATCH_STARTUP_BOUND")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(180),
        )
    }

    /// The idle period measured after startup.
    const IDLE: Duration = Duration::from_secs(30);
    /// New files written for the commit latency.
    const NEW_FILES: usize = 10_000;
    /// The longest wait for them to be committed.
    const COMMIT_BOUND: Duration = Duration::from_secs(300);

    struct Impl {
        name: &'static str,
        exe: PathBuf,
        /// A directory to put first on PATH (the reference's hooks run
        /// `git annex`).
        path_dir: Option<PathBuf>,
    }

    /// Our binary and the reference's; `bin` gets a `git-annex` link to
    /// ours (the hooks `init` installs run `git annex`).
    fn impls(bin: &Path) -> Vec<Impl> {
        let ours = std::env::var_os("GIT_ANNEX_RS")
            .map(PathBuf::from)
            .or_else(|| {
                let exe = std::env::current_exe().ok()?;
                Some(exe.parent()?.parent()?.join("git-annex-rs"))
            })
            .expect("our binary");
        let reference = test_support::reference_git_annex().to_path_buf();
        let path_dir = reference.parent().map(Path::to_path_buf);
        std::fs::create_dir_all(bin).expect("mkdir");
        std::os::unix::fs::symlink(&ours, bin.join("git-annex")).expect("link");
        vec![
            Impl {
                name: "git-annex-rs",
                exe: ours,
                path_dir: Some(bin.to_path_buf()),
            },
            Impl {
                name: "git-annex",
                exe: reference,
                path_dir,
            },
        ]
    }

    fn env(cmd: &mut Command, home: &Path, imp: &Impl) {
        let mut path = std::env::var_os("PATH").unwrap_or_default();
        if let Some(d) = &imp.path_dir {
            let mut p = d.as_os_str().to_owned();
            p.push(":");
            p.push(&path);
            path = p;
        }
        cmd.env("HOME", home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "bench")
            .env("GIT_AUTHOR_EMAIL", "bench@example.invalid")
            .env("GIT_COMMITTER_NAME", "bench")
            .env("GIT_COMMITTER_EMAIL", "bench@example.invalid")
            .env("PATH", path);
    }

    fn run_ok(mut cmd: Command, what: &str) {
        let st = cmd.status().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(st.success(), "{what}: {st}");
    }

    /// A git-annex repository at `d` (initialised by `imp`) with `files`
    /// small files committed (in git).
    fn tree(d: &Path, files: usize, home: &Path, imp: &Impl) {
        std::fs::create_dir_all(d).expect("mkdir");
        let git = |args: &[&str]| {
            let mut c = Command::new("git");
            env(&mut c, home, imp);
            c.current_dir(d).args(args);
            run_ok(c, &format!("git {args:?}"));
        };
        git(&["init", "-q", "-b", "main"]);
        for i in 0..files {
            let sub = d.join(format!("d{:04}", i / super::PER_DIR));
            if i % super::PER_DIR == 0 {
                std::fs::create_dir(&sub).expect("mkdir");
            }
            std::fs::write(sub.join(format!("f{i}")), i.to_string()).expect("write");
        }
        if files > 0 {
            git(&["add", "."]);
            git(&["commit", "-q", "-m", "tree"]);
        }
        let mut c = Command::new(&imp.exe);
        env(&mut c, home, imp);
        c.current_dir(d)
            .args(["init", "bench"])
            .stdout(Stdio::null());
        run_ok(c, "init");
    }

    fn start(d: &Path, home: &Path, imp: &Impl) -> Child {
        let mut c = Command::new(&imp.exe);
        env(&mut c, home, imp);
        c.current_dir(d)
            .args(["watch", "--foreground"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c.spawn().expect("start the daemon")
    }

    fn stop(d: &Path, home: &Path, imp: &Impl, mut child: Child) {
        let mut c = Command::new(&imp.exe);
        env(&mut c, home, imp);
        c.current_dir(d).args(["watch", "--stop"]);
        let _ = c.status();
        let end = Instant::now() + Duration::from_secs(60);
        while Instant::now() < end {
            if child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    fn scan_complete(d: &Path) -> bool {
        std::fs::read_to_string(d.join(".git/annex/daemon.status"))
            .is_ok_and(|s| s.contains("scanComplete:True"))
    }

    /// CPU seconds used by `pid` and its waited-for children.
    fn cpu(pid: u32) -> f64 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return 0.0;
        };
        let rest = stat.rsplit(')').next().unwrap_or("");
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        // utime, stime, cutime, cstime: fields 14-17 (1-based), here 11-14.
        let ticks: u64 = f.get(11..15).map_or(0, |s| s.iter().sum());
        ticks as f64 / 100.0
    }

    fn rss_mb(pid: u32) -> f64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|k| k.parse::<f64>().ok())
            })
            .map_or(0.0, |kb| kb / 1024.0)
    }

    fn load() -> String {
        std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    }

    fn committed_count(d: &Path, home: &Path, imp: &Impl, sub: &str) -> usize {
        let mut c = Command::new("git");
        env(&mut c, home, imp);
        c.current_dir(d)
            .args(["ls-tree", "-r", "--name-only", "HEAD", "--", sub]);
        c.output()
            .map(|o| {
                o.stdout
                    .split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .count()
            })
            .unwrap_or(0)
    }

    pub fn run() {
        let work = tempfile::tempdir().expect("temp dir");
        let home = work.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        std::fs::write(
            home.join(".gitconfig"),
            "[user]\n\tname = bench\n\temail = bench@example.invalid\n",
        )
        .expect("gitconfig");
        println!("load before: {}", load());
        for imp in impls(&work.path().join("ours-bin")) {
            // Startup on 100,000 committed files.
            let d = work.path().join(format!("{}-100k", imp.name));
            tree(&d, super::FILES, &home, &imp);
            let t = Instant::now();
            let child = start(&d, &home, &imp);
            let pid = child.id();
            let bound = startup_bound();
            while !scan_complete(&d) && t.elapsed() < bound {
                std::thread::sleep(Duration::from_millis(20));
            }
            let up = t.elapsed();
            let done = scan_complete(&d);
            let rss = rss_mb(pid);
            let cpu_up = cpu(pid);
            std::thread::sleep(IDLE);
            let idle = cpu(pid) - cpu_up;
            println!(
                "{}: startup to watching, 100,000 files: {} ({:.1} MB resident, {:.2} s CPU so far); CPU over the next {} s: {:.2} s; load {}",
                imp.name,
                if done {
                    format!("{:.2} s", up.as_secs_f64())
                } else {
                    format!("not within {} s", bound.as_secs())
                },
                rss,
                cpu_up,
                IDLE.as_secs(),
                idle,
                load()
            );
            stop(&d, &home, &imp, child);
            let _ = std::fs::remove_dir_all(&d);

            // 10,000 new files committed after the last write.
            let d = work.path().join(format!("{}-new", imp.name));
            tree(&d, 0, &home, &imp);
            std::fs::write(d.join("seed"), "seed\n").expect("write");
            let child = start(&d, &home, &imp);
            let t = Instant::now();
            while !scan_complete(&d) && t.elapsed() < Duration::from_secs(60) {
                std::thread::sleep(Duration::from_millis(20));
            }
            std::thread::sleep(Duration::from_secs(2));
            let new = d.join("new");
            std::fs::create_dir(&new).expect("mkdir");
            for i in 0..NEW_FILES {
                std::fs::write(new.join(format!("n{i}")), format!("new {i}\n")).expect("write");
            }
            let last = Instant::now();
            let mut n = 0;
            while last.elapsed() < COMMIT_BOUND {
                n = committed_count(&d, &home, &imp, "new");
                if n >= NEW_FILES {
                    break;
                }
                std::thread::sleep(Duration::from_millis(250));
            }
            println!(
                "{}: {} new files: {} after the last write; load {}",
                imp.name,
                NEW_FILES,
                if n >= NEW_FILES {
                    format!("all committed {:.2} s", last.elapsed().as_secs_f64())
                } else {
                    format!("{n} committed {} s", COMMIT_BOUND.as_secs())
                },
                load()
            );
            stop(&d, &home, &imp, child);
            let _ = std::fs::remove_dir_all(&d);
        }
    }
}
