//! `testremote REMOTE [--fast] [--size SIZE] [--test-readonly FILE]...
//! [--tap]`: the reference's checks of a remote (`annex_ops::testremote`),
//! shown as its test runner shows them: `Remote Tests`, a line per group
//! and per check (`NAME: OK`, the time when it took 0.01s or more), a
//! failure's message under it, then `All N tests passed (T)` or `N out of
//! M tests failed (T)`; with `--tap`, TAP version 13. Exit code 1 (and
//! `testremote: 1 failed`) when a check failed.

use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

use annex_ops::testremote::{self, KEY_TESTS, Report, TOP_GROUP, TestOptions, UNAVAILABLE_TESTS};

use crate::context::Ctx;
use crate::error::CommandError;
use crate::output::outln;

/// Arguments of `testremote`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The remote to test.
    remote: String,
    /// Base size of the test keys (default 1MiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    size: Option<u64>,
    /// Use TAP output.
    #[arg(long)]
    tap: bool,
    /// A readonly test object (an annexed file whose content the remote
    /// and this repository have); repeatable.
    #[arg(long = "test-readonly", value_name = "FILE")]
    test_readonly: Vec<OsString>,
    /// Fewer tests: no chunking variants, two key sizes.
    #[arg(long, short = 'F')]
    fast: bool,
    /// Override a git config setting for this command (`name=value`).
    #[arg(short = 'c', long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    match annex_core::units::read_size(s.as_bytes()) {
        Some(n) if n >= 0 => u64::try_from(n).map_err(|_| "parse error".to_string()),
        _ => Err("parse error".to_string()),
    }
}

/// The width the check names are padded to (the test runner's alignment:
/// the longest indented name).
fn alignment() -> usize {
    UNAVAILABLE_TESTS
        .iter()
        .chain(KEY_TESTS)
        .map(|n| 4 + n.len())
        .max()
        .unwrap_or(0)
}

/// The console reporter: lines as they come.
struct Console {
    align: usize,
    out: Result<(), CommandError>,
}

impl Report for Console {
    fn group(&mut self, name: &str) {
        if self.out.is_ok() {
            self.out = outln!("  {name}");
        }
    }

    fn case(&mut self, name: &str, result: &Result<(), String>, took: Duration) {
        if self.out.is_err() {
            return;
        }
        let pad = " ".repeat(self.align.saturating_sub(4 + name.len()));
        let verdict = if result.is_ok() { "OK" } else { "FAIL" };
        let secs = took.as_secs_f64();
        let time = if secs >= 0.01 {
            format!(" ({secs:.2}s)")
        } else {
            String::new()
        };
        let mut text = format!("    {name}:{pad} {verdict}{time}");
        if let Err(e) = result {
            for l in e.lines() {
                text.push_str("\n      ");
                text.push_str(l);
            }
        }
        self.out = outln!("{text}");
    }
}

/// The TAP reporter: every result kept until the end (the plan line
/// comes first).
#[derive(Default)]
struct Tap {
    group: String,
    lines: Vec<String>,
}

impl Report for Tap {
    fn group(&mut self, name: &str) {
        self.group = name.to_string();
    }

    fn case(&mut self, name: &str, result: &Result<(), String>, _took: Duration) {
        let n = self.lines.len() + 1;
        let full = format!("{TOP_GROUP}.{}.{name}", self.group);
        let mut line = match result {
            Ok(()) => format!("ok {n} - {full}"),
            Err(_) => format!("not ok {n} - {full}"),
        };
        if let Err(e) = result {
            for l in e.lines() {
                line.push_str("\n# ");
                line.push_str(l);
            }
        }
        self.lines.push(line);
    }
}

/// `testremote`.
pub fn run(args: Args) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.config, false)?;
    let mut readonly = Vec::new();
    for f in &args.test_readonly {
        let shown = f.to_string_lossy().into_owned();
        let key = match ctx.worktree() {
            Ok(wt) => {
                let top = wt
                    .top()
                    .canonicalize()
                    .unwrap_or_else(|_| wt.top().to_path_buf());
                match annex_core::worktree::pathspec_from_arg(&top, &ctx.cwd, Path::new(f)) {
                    Ok(rel) => wt
                        .lookup_key(&rel)
                        .map_err(|e| CommandError::failed(e.to_string()))?
                        .map(|(k, _)| k),
                    Err(_) => None,
                }
            }
            Err(_) => None,
        };
        readonly.push((shown, key));
    }
    let opts = TestOptions {
        fast: args.fast,
        size: args.size.unwrap_or(1024 * 1024),
        readonly,
    };
    let started = Instant::now();
    let (summary, tap) = if args.tap {
        let mut tap = Tap::default();
        let s = testremote::run(&ctx, &args.remote, &opts, &mut tap);
        (s, Some(tap))
    } else {
        let mut console = Console {
            align: alignment(),
            out: Ok(()),
        };
        // The top group's line only once the remote is found.
        let mut first = Some(());
        struct Lazy<'a> {
            inner: &'a mut Console,
            first: &'a mut Option<()>,
        }
        impl Report for Lazy<'_> {
            fn group(&mut self, name: &str) {
                if self.first.take().is_some() && self.inner.out.is_ok() {
                    self.inner.out = outln!("{TOP_GROUP}");
                }
                self.inner.group(name);
            }
            fn case(&mut self, name: &str, result: &Result<(), String>, took: Duration) {
                self.inner.case(name, result, took);
            }
        }
        let s = testremote::run(
            &ctx,
            &args.remote,
            &opts,
            &mut Lazy {
                inner: &mut console,
                first: &mut first,
            },
        );
        console.out?;
        (s, None)
    };
    let summary = summary.map_err(|e| {
        crate::error::warn(&e.to_string());
        CommandError::quiet_failure("testremote: 1 failed")
    })?;
    let total = summary.passed + summary.failed;
    let secs = started.elapsed().as_secs_f64();
    if let Some(tap) = tap {
        outln!("TAP version 13")?;
        outln!("1..{total}")?;
        for l in tap.lines {
            outln!("{l}")?;
        }
    } else {
        outln!("")?;
        if summary.failed == 0 {
            outln!("All {total} tests passed ({secs:.2}s)")?;
        } else {
            outln!(
                "{} out of {total} tests failed ({secs:.2}s)",
                summary.failed
            )?;
        }
    }
    if summary.failed > 0 {
        return Err(CommandError::quiet_failure("testremote: 1 failed"));
    }
    Ok(())
}
