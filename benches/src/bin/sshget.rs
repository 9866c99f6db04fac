//! `get` of one large file from an ssh remote on 127.0.0.1, against `cat`
//! of the same file over the same cached ssh connection (issue 13's
//! speed target: within 1.2x), with the reference's `get` beside them.
//!
//! A real sshd (test-support's) serves a repository holding one file of
//! `--mib` MiB; a clone reaches it as `ssh://127.0.0.1:PORT/...` with
//! plain ssh. Each round, untimed: the clone's copy dropped and an ssh
//! master started on the socket git-annex uses for that host
//! (`.git/annex/ssh/127.0.0.1!PORT`); timed: `ssh -S SOCKET ... cat
//! OBJECT > COPY` (the same bytes through the same connection into a file
//! on the same disk as the clone; `--cat-to-null`: into /dev/null), then
//! `get` (which finds the master up and uses it, and stops it at its end,
//! as git-annex does). Prints the medians.
//!
//! ```text
//! cargo build --release -p annex-cli -p benches
//! target/release/sshget --mib 1024 --rounds 3
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use benches::compare::env::{Reference, Tools, run_ok};
use benches::compare::{CompareError, Impl, point_over_ssh, shell_of, sshd_options, workload};
use clap::Parser;
use test_support::sshd::Sshd;

/// Options.
#[derive(Parser, Debug)]
struct Args {
    /// Size of the file, MiB.
    #[arg(long, default_value_t = 1024)]
    mib: u64,
    /// Timed rounds.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Where to build (default: a temp directory).
    #[arg(long)]
    workdir: Option<PathBuf>,
    /// git-annex-rs (default: beside this program).
    #[arg(long)]
    ours: Option<PathBuf>,
    /// The reference git-annex (default: $GIT_ANNEX_REF).
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Do not time the reference's `get`.
    #[arg(long)]
    no_reference: bool,
    /// `cat` into /dev/null instead of into a file on the clone's disk.
    #[arg(long)]
    cat_to_null: bool,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("sshget: {e}");
        std::process::exit(1);
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn timed(mut cmd: Command, what: &str) -> Result<Duration, CompareError> {
    let t = Instant::now();
    run_ok(
        {
            cmd.stdin(Stdio::null());
            cmd
        },
        what,
    )?;
    Ok(t.elapsed())
}

fn run(args: &Args) -> Result<(), CompareError> {
    let ours = match &args.ours {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .map_err(|e| CompareError::Usage(e.to_string()))?
            .with_file_name("git-annex-rs"),
    };
    let reference = Reference::find(args.reference.as_deref())?;
    let tmp;
    let work = match &args.workdir {
        Some(w) => w.clone(),
        None => {
            tmp = tempfile::tempdir().map_err(|e| CompareError::io(Path::new("/tmp"), e))?;
            tmp.path().to_path_buf()
        }
    };
    let work = std::path::absolute(&work).map_err(|e| CompareError::io(&work, e))?;
    std::fs::create_dir_all(&work).map_err(|e| CompareError::io(&work, e))?;
    let tools = Tools::new(ours, reference, work.join("home"))?;
    let sshd = Sshd::start();
    let annex = |imp: Impl, dir: &Path, a: &[&str]| -> Result<(), CompareError> {
        let mut cmd = match imp {
            Impl::Ours => {
                let mut c = tools.command(&tools.ours);
                c.current_dir(dir);
                c
            }
            Impl::Reference => tools.reference(dir),
        };
        cmd.args(a);
        run_ok(cmd, &format!("git-annex {}", a.join(" "))).map(drop)
    };
    let git = |dir: &Path, a: &[&str]| -> Result<(), CompareError> {
        let mut cmd = tools.git(dir);
        cmd.args(a);
        run_ok(cmd, &format!("git {}", a.join(" "))).map(drop)
    };
    // The served repository, built by the reference.
    let srv = work.join("srv");
    if !srv.join(".git").exists() {
        std::fs::create_dir_all(&srv).map_err(|e| CompareError::io(&srv, e))?;
        git(&srv, &["init", "-q"])?;
        annex(Impl::Reference, &srv, &["init", "-q", "srv"])?;
        workload::write_large_file(&srv.join("large.bin"), args.mib, 1)?;
        annex(Impl::Reference, &srv, &["add", "-q", "large.bin"])?;
        git(&srv, &["commit", "-q", "-m", "large"])?;
    }
    let mut lookup = tools.reference(&srv);
    lookup.args(["lookupkey", "large.bin"]);
    let key = String::from_utf8_lossy(&run_ok(lookup, "lookupkey")?)
        .trim()
        .to_string();
    let mut loc = tools.reference(&srv);
    loc.args(["contentlocation", &key]);
    let object = srv.join(String::from_utf8_lossy(&run_ok(loc, "contentlocation")?).trim());
    let opts = sshd_options(&sshd);
    let host = "127.0.0.1";
    let port = sshd.port().to_string();
    let mut results: Vec<(String, Duration)> = Vec::new();
    let impls: &[Impl] = if !args.no_reference {
        &[Impl::Ours, Impl::Reference]
    } else {
        &[Impl::Ours]
    };
    for &imp in impls {
        let name = match imp {
            Impl::Ours => "ours",
            Impl::Reference => "reference",
        };
        let cli = work.join(format!("cli-{name}"));
        if !cli.exists() {
            git(&work, &["clone", "-q", "srv", &format!("cli-{name}")])?;
            annex(imp, &cli, &["init", "-q", "cli"])?;
        }
        point_over_ssh(&tools, &sshd, &cli, "origin", &srv, &shell_of(&tools, imp))?;
        let sockets = cli.join(".git/annex/ssh");
        std::fs::create_dir_all(&sockets).map_err(|e| CompareError::io(&sockets, e))?;
        let socket = sockets.join(format!("{host}!{port}"));
        let ssh = |extra: &[&str]| {
            let mut cmd = tools.command(Path::new("ssh"));
            cmd.current_dir(&cli)
                .arg("-S")
                .arg(&socket)
                .args(opts.split_whitespace())
                .args(["-p", &port])
                .args(extra);
            cmd
        };
        let (mut cats, mut gets) = (Vec::new(), Vec::new());
        for round in 0..args.rounds {
            let _ = annex(imp, &cli, &["drop", "--force", "-q", "large.bin"]);
            // A master on git-annex's socket for this host, left running.
            let mut master = ssh(&[
                "-o",
                "ControlMaster=yes",
                "-o",
                "ControlPersist=yes",
                host,
                "true",
            ]);
            master.stdout(Stdio::null()).stderr(Stdio::null());
            run_ok(master, "ssh master")?;
            // The lock file git-annex keeps beside its sockets.
            std::fs::write(sockets.join(format!("{host}!{port}.lock")), b"")
                .map_err(|e| CompareError::io(&sockets, e))?;
            // Into a file beside the clone, as get makes one (or, with
            // --cat-to-null, into /dev/null: the connection alone).
            let copy = cli.with_extension("cat-copy");
            let mut cat = ssh(&["-T", host, &format!("cat '{}'", object.display())]);
            if args.cat_to_null {
                cat.stdout(Stdio::null());
            } else {
                let f = std::fs::File::create(&copy).map_err(|e| CompareError::io(&copy, e))?;
                cat.stdout(f);
            }
            let c = timed(cat, "ssh cat")?;
            let _ = std::fs::remove_file(&copy);
            let mut get = match imp {
                Impl::Ours => {
                    let mut g = tools.command(&tools.ours);
                    g.current_dir(&cli);
                    g
                }
                Impl::Reference => tools.reference(&cli),
            };
            get.args(["get", "-q", "large.bin"]);
            let g = timed(get, "get")?;
            println!(
                "{name} round {}: cat {:.2}s, get {:.2}s",
                round + 1,
                c.as_secs_f64(),
                g.as_secs_f64()
            );
            cats.push(c);
            gets.push(g);
            let _ = annex(imp, &cli, &["drop", "--force", "-q", "large.bin"]);
        }
        results.push((format!("{name}: cat"), median(cats)));
        results.push((format!("{name}: get"), median(gets)));
    }
    println!("\n{} MiB over ssh to 127.0.0.1, medians:", args.mib);
    for (what, d) in &results {
        println!("  {what:<16} {:.2}s", d.as_secs_f64());
    }
    Ok(())
}
