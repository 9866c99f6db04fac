//! The side-by-side comparison with git-annex: the same operations on the
//! same workloads, run with git-annex-rs and with the reference git-annex
//! in alternation, reported as median wall time, peak resident memory and
//! the ratio reference/ours (`docs/performance.md` explains the method).
//!
//! Fairness: every workload is built once per size by the reference
//! git-annex and plain git, from a seed. An operation that changes the
//! repository starts each round, for each implementation, from a fresh copy
//! of the same fixture (`cp -a`): `get` from a copy where the reference
//! dropped the content while building, `copy --to` from one where the
//! remote's content was removed and logged absent, `drop`, `add`, `sync`
//! and `init` from their own fixtures. Read-only operations share one copy,
//! after one untimed warm-up run of each implementation. Rounds alternate
//! which implementation goes first. A run counts only if it exits 0 *and*
//! its check holds (objects present or absent as expected); otherwise the
//! row says which implementation failed and why, and gives no time.

pub mod env;
pub mod measure;
pub mod ops;
pub mod report;
pub mod stats;
pub mod synthops;
pub mod workload;

use std::path::{Path, PathBuf};

use env::Tools;
use measure::{Invocation, measure};
use ops::{Check, Count, Fixture, Op, State, Workload};
use report::{Row, Side};
use workload::Built;

/// What can stop the comparison itself (never a failure of a measured
/// command, which is a result).
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// A file system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The path at fault.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A program could not be started.
    #[error("could not run {what}: {source}")]
    Spawn {
        /// The program and what it was for.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// A workload-building command failed.
    #[error("{what} failed: {detail}")]
    Failed {
        /// The command.
        what: String,
        /// Exit status and standard error.
        detail: String,
    },
    /// The measuring helper failed.
    #[error("measuring {what}: {detail}")]
    Measure {
        /// The measured command.
        what: String,
        /// What went wrong.
        detail: String,
    },
    /// Bad options or a missing program.
    #[error("{0}")]
    Usage(String),
}

impl CompareError {
    /// An I/O error at `path`.
    pub fn io(path: &Path, source: std::io::Error) -> CompareError {
        CompareError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// One of the two implementations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impl {
    /// git-annex-rs.
    Ours,
    /// The reference git-annex.
    Reference,
}

impl Impl {
    fn name(self) -> &'static str {
        match self {
            Impl::Ours => "ours",
            Impl::Reference => "git-annex",
        }
    }
}

/// The comparison's parameters.
#[derive(Debug, Clone)]
pub struct Config {
    /// Small-file counts (= keys in the git-annex branch), one workload each.
    pub sizes: Vec<usize>,
    /// Timed rounds per implementation.
    pub rounds: usize,
    /// The operations to run.
    pub ops: Vec<Op>,
    /// Size of the large file, MiB.
    pub large_mib: u64,
    /// Seed of the workloads' content.
    pub seed: u64,
    /// Where workloads are built.
    pub workdir: PathBuf,
    /// The `compare` binary, run as the measuring helper.
    pub helper: PathBuf,
    /// How long one measured command may run before it is killed and
    /// reported as failed.
    pub timeout: std::time::Duration,
}

/// Runs the comparison; `progress` gets one line per step.
pub fn run(
    cfg: &Config,
    tools: &Tools,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<Row>, CompareError> {
    let mut rows = Vec::new();
    // The sshd of the rows over ssh, when one is asked for.
    let sshd = cfg
        .ops
        .iter()
        .any(|o| o.state == State::Fresh(Fixture::PeerEmptySsh))
        .then(test_support::sshd::Sshd::start);
    let trash = std::cell::RefCell::new(workload::Trash::new(tools, cfg.workdir.join("trash"))?);
    let fixtures = |w: Workload| -> (Vec<Fixture>, bool) {
        let ops = cfg.ops.iter().filter(|o| o.workload == w);
        let mut fx = Vec::new();
        let mut shared = false;
        for o in ops {
            match o.state {
                State::Fresh(f) | State::Repeated(f) => fx.push(f),
                State::Shared => shared = true,
            }
        }
        (fx, shared)
    };
    let run_ops = |w: Workload,
                   built: &Built,
                   size: &str,
                   rows: &mut Vec<Row>,
                   progress: &mut dyn FnMut(&str)| {
        for op in cfg.ops.iter().filter(|o| o.workload == w) {
            let row = run_op(cfg, tools, op, built, size, &trash, sshd.as_ref(), progress)?;
            // The table line as soon as it is known: a long run stopped
            // early still leaves its results in the log.
            progress(&format!("result: {}", report::markdown_row(&row)));
            rows.push(row);
        }
        Ok::<(), CompareError>(())
    };
    for (i, &n) in cfg.sizes.iter().enumerate() {
        let (fx, shared) = fixtures(Workload::Small);
        if !fx.is_empty() || shared {
            progress(&format!("building the workload of {n} files"));
            let root = cfg.workdir.join(format!("n{n}"));
            let built = workload::build_small(tools, &root, n, cfg.seed, &fx, shared)?;
            run_ops(
                Workload::Small,
                &built,
                &format!("{n} files"),
                &mut rows,
                progress,
            )?;
        }
        let (fx, shared) = fixtures(Workload::Large);
        if i == 0 && (!fx.is_empty() || shared) {
            let mib = cfg.large_mib;
            progress(&format!("building the workload of one {mib} MiB file"));
            let root = cfg.workdir.join(format!("large-{mib}mib"));
            let built = workload::build_large(tools, &root, mib, cfg.seed, &fx, shared)?;
            run_ops(
                Workload::Large,
                &built,
                &format!("1 × {mib} MiB"),
                &mut rows,
                progress,
            )?;
        }
    }
    trash.borrow_mut().empty(tools)?;
    let pos = |id: &str| ops::OPS.iter().position(|o| o.id == id);
    rows.sort_by_key(|r| pos(&r.op));
    Ok(rows)
}

/// Accumulates one implementation's rounds.
#[derive(Default)]
struct Acc {
    walls: Vec<std::time::Duration>,
    rss: Vec<u64>,
    cpus: Vec<std::time::Duration>,
    failed: Option<String>,
}

impl Acc {
    fn side(self) -> Side {
        match self.failed {
            Some(reason) => Side::Failed { reason },
            None => Side::Ok {
                walls: self.walls,
                rss_kib: self.rss,
                cpus: self.cpus,
            },
        }
    }
}

/// ssh's options to reach `sshd` (its key, no host key checks), without
/// the port, which the URL gives.
pub fn sshd_options(sshd: &test_support::sshd::Sshd) -> String {
    let cmd = sshd.ssh_command();
    let mut words = cmd.split_whitespace().skip(1);
    let mut out = Vec::new();
    while let Some(w) = words.next() {
        if w == "-p" {
            words.next();
        } else {
            out.push(w);
        }
    }
    out.join(" ")
}

/// The `git-annex-shell` beside an implementation's program.
pub fn shell_of(tools: &Tools, imp: Impl) -> PathBuf {
    match imp {
        Impl::Ours => tools.ours.with_file_name("git-annex-shell"),
        Impl::Reference => {
            // Beside the program as given (a bin directory of links), else
            // beside the resolved executable.
            let given = tools.reference.given.with_file_name("git-annex-shell");
            if given.exists() {
                given
            } else {
                tools.reference.exe.with_file_name("git-annex-shell")
            }
        }
    }
}

/// Points `repo`'s remote `remote` at `target` over ssh through `sshd`,
/// served by `shell` (untimed, before a round).
pub fn point_over_ssh(
    tools: &Tools,
    sshd: &test_support::sshd::Sshd,
    repo: &Path,
    remote: &str,
    target: &Path,
    shell: &Path,
) -> Result<(), CompareError> {
    let url = format!("ssh://127.0.0.1:{}{}", sshd.port(), target.display());
    let opts = sshd_options(sshd);
    let shell = shell.display().to_string();
    for (k, v) in [
        ("url", url.as_str()),
        ("annex-ssh-options", &opts),
        ("annex-shell", &shell),
    ] {
        let mut cmd = tools.git(repo);
        cmd.args(["config", &format!("remote.{remote}.{k}"), v]);
        env::run_ok(cmd, &format!("git config remote.{remote}.{k}"))?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn run_op(
    cfg: &Config,
    tools: &Tools,
    op: &Op,
    built: &Built,
    size: &str,
    trash: &std::cell::RefCell<workload::Trash>,
    sshd: Option<&test_support::sshd::Sshd>,
    progress: &mut dyn FnMut(&str),
) -> Result<Row, CompareError> {
    let out_dir = built.root.join("output");
    std::fs::create_dir_all(&out_dir).map_err(|e| CompareError::io(&out_dir, e))?;
    let round_dir = built.root.join("round");
    let program = |imp| match imp {
        Impl::Ours => tools.ours.as_path(),
        Impl::Reference => tools.reference.exe.as_path(),
    };
    let prepare = |imp: Impl| -> Result<PathBuf, CompareError> {
        match op.state {
            State::Shared => Ok(built.shared()),
            State::Fresh(f) | State::Repeated(f) => {
                trash.borrow_mut().discard(tools, &round_dir, built.files)?;
                workload::copy_tree(tools, &built.fixture(f), &round_dir)?;
                if f == Fixture::PeerEmptySsh {
                    let sshd = sshd.ok_or_else(|| CompareError::Usage("no sshd".into()))?;
                    let peer = std::path::absolute(round_dir.join("peer"))
                        .map_err(|e| CompareError::io(&round_dir, e))?;
                    point_over_ssh(
                        tools,
                        sshd,
                        &round_dir.join("repo"),
                        "peer",
                        &peer,
                        &shell_of(tools, imp),
                    )?;
                }
                Ok(round_dir.clone())
            }
        }
    };
    let run_one = |imp: Impl, root: &Path| {
        let inv = Invocation {
            helper: &cfg.helper,
            program: program(imp),
            args: op.args,
            cwd: &root.join("repo"),
            timeout: cfg.timeout,
            output_stem: out_dir.join(format!("{}.{}", op.id, imp.name())),
        };
        measure(&inv, &|c| tools.apply(c))
    };
    if op.state == State::Shared {
        for imp in [Impl::Ours, Impl::Reference] {
            progress(&format!("{} ({size}): warm-up, {}", op.id, imp.name()));
            run_one(imp, &built.shared())?;
        }
    }
    let mut acc = [Acc::default(), Acc::default()];
    for round in 0..cfg.rounds {
        let order = if round % 2 == 0 {
            [Impl::Ours, Impl::Reference]
        } else {
            [Impl::Reference, Impl::Ours]
        };
        for imp in order {
            let a = &mut acc[imp as usize];
            if a.failed.is_some() {
                continue;
            }
            let root = prepare(imp)?;
            if matches!(op.state, State::Repeated(_)) {
                // The first run, untimed; it must work as the timed one.
                let first = run_one(imp, &root)?;
                if !first.outcome.success() {
                    let reason = format!("first run: {}", first.outcome);
                    progress(&format!(
                        "{} ({size}), {}: fails: {reason}",
                        op.id,
                        imp.name()
                    ));
                    a.failed = Some(reason);
                    continue;
                }
            }
            let s = run_one(imp, &root)?;
            let verdict = if !s.outcome.success() {
                Err(match &s.stderr_first_line {
                    Some(l) => format!("{}: {l}", s.outcome),
                    None => s.outcome.to_string(),
                })
            } else {
                check(tools, op.check, &root, built.files).map_err(|m| format!("exit 0, but {m}"))
            };
            match verdict {
                Ok(()) => {
                    progress(&format!(
                        "{} ({size}) round {}/{}, {}: {}, {}, CPU {}",
                        op.id,
                        round + 1,
                        cfg.rounds,
                        imp.name(),
                        report::fmt_duration(s.wall),
                        report::fmt_rss(s.max_rss_kib),
                        report::fmt_duration(s.cpu)
                    ));
                    a.walls.push(s.wall);
                    a.rss.push(s.max_rss_kib);
                    a.cpus.push(s.cpu);
                }
                Err(reason) => {
                    progress(&format!(
                        "{} ({size}), {}: fails: {reason}",
                        op.id,
                        imp.name()
                    ));
                    a.failed = Some(reason);
                }
            }
        }
    }
    trash.borrow_mut().discard(tools, &round_dir, built.files)?;
    let [ours, reference] = acc;
    Ok(Row {
        op: op.id.to_string(),
        command: op.display(),
        size: size.to_string(),
        ours: ours.side(),
        reference: reference.side(),
    })
}

/// Checks what must hold after a successful run in `root`.
fn check(tools: &Tools, check: Check, root: &Path, files: usize) -> Result<(), String> {
    let expect = |c: Count| match c {
        Count::Zero => 0,
        Count::All => files,
    };
    let objects = |which: &str, c: Count| {
        let found = workload::count_objects(&root.join(which));
        let want = expect(c);
        if found == want {
            Ok(())
        } else {
            Err(format!(
                "{which} holds {found} annexed objects, {want} expected"
            ))
        }
    };
    match check {
        Check::ExitStatus => Ok(()),
        Check::ObjectsHere(c) => objects("repo", c),
        Check::ObjectsInPeer(c) => objects("peer", c),
        Check::Initialized => {
            let repo = root.join("repo");
            let mut uuid = tools.git(&repo);
            uuid.args(["config", "--get", "annex.uuid"]);
            let mut branch = tools.git(&repo);
            branch.args(["rev-parse", "--verify", "-q", "refs/heads/git-annex"]);
            let ok = |mut c: std::process::Command| {
                c.output()
                    .is_ok_and(|o| o.status.success() && !o.stdout.is_empty())
            };
            if !ok(uuid) {
                Err("the repository has no annex.uuid".to_string())
            } else if !ok(branch) {
                Err("the repository has no git-annex branch".to_string())
            } else {
                Ok(())
            }
        }
    }
}

/// One line about the machine: CPU model, cores, memory, kernel.
pub fn machine_description() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or("?".to_string(), |kib| {
            format!("{:.0}", kib as f64 / 1024.0 / 1024.0)
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cpu}, {cores} cores, {mem_gib} GiB RAM, Linux {}",
        kernel.trim()
    )
}
