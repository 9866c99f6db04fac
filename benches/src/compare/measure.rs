//! One measured run of a command: wall time and peak resident memory.
//!
//! The measurement happens in a helper process, the `compare` binary
//! itself started as `compare __measure OUT ERR PROGRAM ARGS...`: the helper
//! starts the command, waits for it, and reads `getrusage(RUSAGE_CHILDREN)`.
//! Because the helper has no other children, that is exactly the command's
//! own figure. Its `ru_maxrss` is the peak resident set of the *largest
//! single process* among the command and every descendant that was waited
//! for (git-annex's `git cat-file --batch` and other git children
//! included), not the sum of processes alive at once; it is the same figure
//! `/usr/bin/time -v` prints as "Maximum resident set size". The wall time is
//! taken in the helper around spawn and wait, so the helper's own start-up
//! is not in it.

use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::CompareError;

/// The first argument that turns the `compare` binary into the helper.
pub const MEASURE_ARG: &str = "__measure";

/// How a measured command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it.
    Signaled(i32),
    /// It could not be started at all (the message says why).
    NotStarted(String),
    /// It ran longer than the timeout and was killed (with its process
    /// group): git-annex was seen to hang, spinning, once in a while.
    TimedOut(Duration),
}

impl Outcome {
    /// Whether the command succeeded (exit code 0).
    pub fn success(&self) -> bool {
        *self == Outcome::Exited(0)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Exited(c) => write!(f, "exit {c}"),
            Outcome::Signaled(s) => write!(f, "killed by signal {s}"),
            Outcome::NotStarted(why) => write!(f, "could not start: {why}"),
            Outcome::TimedOut(t) => write!(f, "timed out after {} s, killed", t.as_secs()),
        }
    }
}

/// One run of one command.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// Peak resident set size in KiB (see the module documentation).
    pub max_rss_kib: u64,
    /// CPU time, user and system, of the command and every descendant it
    /// waited for.
    pub cpu: Duration,
    /// How it ended.
    pub outcome: Outcome,
    /// The first non-empty line of its standard error, if any.
    pub stderr_first_line: Option<String>,
}

/// The helper's main: `args` are what follows [`MEASURE_ARG`]:
/// `TIMEOUT_SECS STDOUT_FILE STDERR_FILE PROGRAM ARGS...`. The command runs
/// in its own process group, killed whole if it outlives the timeout.
/// Prints one line, `ok WALL_NS MAX_RSS_KIB CPU_US CODE SIGNAL TIMED_OUT`
/// (`-` for the one of code and signal not applicable; `T` or `-`) or
/// `spawn-error MESSAGE`, and returns the helper's exit code (0 unless its
/// own arguments or files were unusable).
pub fn helper_main(args: &[OsString]) -> i32 {
    let usage = || {
        eprintln!(
            "usage: compare {MEASURE_ARG} TIMEOUT_SECS STDOUT_FILE STDERR_FILE PROGRAM [ARGS...]"
        );
        2
    };
    let [timeout, out, err, program, rest @ ..] = args else {
        return usage();
    };
    let Some(timeout) = timeout.to_str().and_then(|t| t.parse::<u64>().ok()) else {
        return usage();
    };
    let timeout = Duration::from_secs(timeout);
    let open = |p: &OsString| {
        File::create(p).map_err(|e| eprintln!("compare {MEASURE_ARG}: create {p:?}: {e}"))
    };
    let (Ok(out), Ok(err)) = (open(out), open(err)) else {
        return 2;
    };
    use std::os::unix::process::CommandExt;
    let start = Instant::now();
    let child = Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            println!("spawn-error {e}");
            return 0;
        }
    };
    // The watchdog: kills the command's process group at the timeout,
    // unless told (by the channel closing) that the command ended.
    let (done, watch) = std::sync::mpsc::channel::<()>();
    let group = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let watchdog = std::thread::spawn(move || {
        if watch.recv_timeout(timeout) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            return true;
        }
        false
    });
    let status = match child.wait() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("compare {MEASURE_ARG}: wait: {e}");
            return 2;
        }
    };
    let wall = start.elapsed();
    drop(done);
    let timed_out = watchdog.join().unwrap_or(false);
    let (rss, cpu_us) =
        match nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN) {
            Ok(u) => {
                let us = |t: nix::sys::time::TimeVal| {
                    (t.tv_sec().max(0) as u64) * 1_000_000 + t.tv_usec().max(0) as u64
                };
                (
                    u.max_rss().max(0) as u64,
                    us(u.user_time()) + us(u.system_time()),
                )
            }
            Err(e) => {
                eprintln!("compare {MEASURE_ARG}: getrusage: {e}");
                return 2;
            }
        };
    use std::os::unix::process::ExitStatusExt;
    let code = status.code().map_or("-".to_string(), |c| c.to_string());
    let signal = status.signal().map_or("-".to_string(), |s| s.to_string());
    let timed_out = if timed_out { "T" } else { "-" };
    println!(
        "ok {} {rss} {cpu_us} {code} {signal} {timed_out}",
        wall.as_nanos()
    );
    0
}

/// The helper's figures: wall time, peak RSS (KiB), CPU time (user +
/// system, the whole process tree), outcome.
pub type HelperFigures = (Duration, u64, Duration, Outcome);

/// Parses the helper's one output line.
pub fn parse_helper_line(line: &str) -> Result<HelperFigures, String> {
    if let Some(msg) = line.strip_prefix("spawn-error ") {
        return Ok((
            Duration::ZERO,
            0,
            Duration::ZERO,
            Outcome::NotStarted(msg.to_string()),
        ));
    }
    let f: Vec<&str> = line.split_whitespace().collect();
    let ["ok", wall, rss, cpu, code, signal, timed_out] = f.as_slice() else {
        return Err(format!("unexpected helper output {line:?}"));
    };
    let bad = |what: &str| format!("bad {what} in helper output {line:?}");
    let wall: u64 = wall.parse().map_err(|_| bad("wall time"))?;
    let rss: u64 = rss.parse().map_err(|_| bad("RSS"))?;
    let cpu: u64 = cpu.parse().map_err(|_| bad("CPU time"))?;
    let outcome = match (code.parse::<i32>(), signal.parse::<i32>()) {
        _ if *timed_out == "T" => Outcome::TimedOut(Duration::from_nanos(wall)),
        (Ok(c), _) => Outcome::Exited(c),
        (_, Ok(s)) => Outcome::Signaled(s),
        _ => return Err(bad("status")),
    };
    Ok((
        Duration::from_nanos(wall),
        rss,
        Duration::from_micros(cpu),
        outcome,
    ))
}

/// What to run and where, for [`measure`].
pub struct Invocation<'a> {
    /// The `compare` binary (the helper).
    pub helper: &'a Path,
    /// The program to measure.
    pub program: &'a Path,
    /// Its arguments.
    pub args: &'a [&'a str],
    /// Its working directory.
    pub cwd: &'a Path,
    /// How long it may run before it is killed.
    pub timeout: Duration,
    /// Where its standard output and error go (`NAME.out`, `NAME.err`
    /// under this stem).
    pub output_stem: PathBuf,
}

/// Runs `inv.program` through the helper, with `env` applied to it, and
/// returns the sample. An error is a failure of the measuring itself (the
/// helper), never of the measured command.
pub fn measure(inv: &Invocation<'_>, env: &dyn Fn(&mut Command)) -> Result<Sample, CompareError> {
    let out = inv.output_stem.with_extension("out");
    let err = inv.output_stem.with_extension("err");
    let mut cmd = Command::new(inv.helper);
    env(&mut cmd);
    cmd.arg(MEASURE_ARG)
        .arg(inv.timeout.as_secs().max(1).to_string())
        .arg(&out)
        .arg(&err)
        .arg(inv.program)
        .args(inv.args)
        .current_dir(inv.cwd)
        .stdin(Stdio::null());
    let what = format!("{} {}", inv.program.display(), inv.args.join(" "));
    let o = cmd.output().map_err(|e| CompareError::Spawn {
        what: format!("measuring helper {}", inv.helper.display()),
        source: e,
    })?;
    let line = String::from_utf8_lossy(&o.stdout);
    if !o.status.success() {
        return Err(CompareError::Measure {
            what,
            detail: format!(
                "{}: {}",
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            ),
        });
    }
    let (wall, max_rss_kib, cpu, outcome) =
        parse_helper_line(line.trim()).map_err(|detail| CompareError::Measure {
            what: what.clone(),
            detail,
        })?;
    let stderr_first_line = File::open(&err).ok().and_then(|f| {
        BufReader::new(f)
            .lines()
            .map_while(Result::ok)
            .map(|l| l.trim().to_string())
            .find(|l| !l.is_empty())
    });
    Ok(Sample {
        wall,
        max_rss_kib,
        cpu,
        outcome,
        stderr_first_line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_line_parsing() {
        assert_eq!(
            parse_helper_line("ok 1500000000 2048 250000 0 - -"),
            Ok((
                Duration::from_millis(1500),
                2048,
                Duration::from_millis(250),
                Outcome::Exited(0)
            ))
        );
        assert_eq!(
            parse_helper_line("ok 10 1 0 - 9 -"),
            Ok((
                Duration::from_nanos(10),
                1,
                Duration::ZERO,
                Outcome::Signaled(9)
            ))
        );
        assert_eq!(
            parse_helper_line("spawn-error No such file or directory (os error 2)"),
            Ok((
                Duration::ZERO,
                0,
                Duration::ZERO,
                Outcome::NotStarted("No such file or directory (os error 2)".into())
            ))
        );
        assert_eq!(
            parse_helper_line("ok 3000000000 5 7 - 9 T"),
            Ok((
                Duration::from_secs(3),
                5,
                Duration::from_micros(7),
                Outcome::TimedOut(Duration::from_secs(3))
            ))
        );
        assert!(parse_helper_line("ok 1 2 0 0 -").is_err());
        assert!(parse_helper_line("ok x 2 0 0 - -").is_err());
        assert!(parse_helper_line("ok 1 2 0 - - -").is_err());
    }
}
