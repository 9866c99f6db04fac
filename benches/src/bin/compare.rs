//! `compare`: runs the same operations with git-annex-rs and with the
//! reference git-annex and prints, per operation and size, the median wall
//! time, the peak resident memory and the ratio reference/ours, as a
//! Markdown table (stdout) and as JSON (`--json FILE`).
//!
//! `cargo build --release -p annex-cli -p benches && target/release/compare --sizes 1000,10000`
//!
//! With `--synth-sizes`, the same on synthetic workloads built directly
//! (`benches::synth`): 10^4 to 10^6 files, operations on 1,000 of them.
//!
//! Exit status: 0 when the comparison ran (whatever git-annex-rs did), 1
//! when the runner itself failed (bad option, workload build error), 3 when
//! the reference git-annex failed an operation it should do, 4 when
//! `--max-rss-mib` is given and git-annex-rs went over it (or failed) in a
//! row.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use benches::compare::env::{Reference, Tools};
use benches::compare::{self, CompareError, Config, measure, ops, report, synthops};
use clap::Parser;

/// Side-by-side comparison of git-annex-rs with git-annex.
#[derive(Parser, Debug)]
#[command(name = "compare", about)]
struct Args {
    /// Workload sizes: small files in the tree, keys in the git-annex branch.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
    sizes: Vec<usize>,
    /// Timed rounds per implementation and operation (the median is reported).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Only these operations (comma-separated ids; all by default).
    #[arg(long)]
    ops: Option<String>,
    /// Size of the large file for `add-large` and `fsck-large`, in MiB.
    #[arg(long, default_value_t = 1024)]
    large_mib: u64,
    /// Keep the temporary work directory (its path is printed).
    #[arg(long)]
    keep: bool,
    /// Build workloads here instead of a temporary directory (kept; workloads
    /// already built there with the same parameters are reused).
    #[arg(long)]
    workdir: Option<PathBuf>,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// git-annex-rs to run (default: `git-annex-rs` next to this program).
    #[arg(long)]
    ours: Option<PathBuf>,
    /// The reference git-annex (default: $GIT_ANNEX_REF, else
    /// .annex-ref/bin/git-annex).
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Seed of the workloads' content.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Sizes of the synthetic workloads (built directly, in place; their
    /// operations are the `s-` ids). None by default.
    #[arg(long, value_delimiter = ',')]
    synth_sizes: Vec<usize>,
    /// On synthetic workloads, run the reference only up to this many
    /// files.
    #[arg(long, default_value_t = 100_000)]
    reference_up_to: usize,
    /// Synthetic workloads: every this-many-th file unlocked.
    #[arg(long, default_value_t = 10)]
    synth_unlocked_every: usize,
    /// Synthetic workloads: share of the ordinary files with content
    /// present, percent (disk: about 8 KiB for each present object).
    #[arg(long, default_value_t = 10)]
    synth_present_percent: u8,
    /// The regression guard: exit 4 when git-annex-rs's peak RSS in any
    /// round of any row exceeds this many MiB (or when it fails a row).
    #[arg(long)]
    max_rss_mib: Option<u64>,
    /// Seconds one measured command may run before it is killed (with its
    /// children) and its row says it timed out.
    #[arg(long, default_value_t = 3600)]
    timeout: u64,
}

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == measure::MEASURE_ARG) {
        return ExitCode::from(u8::try_from(measure::helper_main(&argv[2..])).unwrap_or(2));
    }
    let args = Args::parse();
    match real_main(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("compare: {e}");
            ExitCode::from(1)
        }
    }
}

fn real_main(args: Args) -> Result<ExitCode, CompareError> {
    if args.rounds == 0 || args.sizes.is_empty() || args.sizes.contains(&0) {
        return Err(CompareError::Usage(
            "--rounds and every --sizes value must be at least 1".into(),
        ));
    }
    // `s-` ids are the synthetic workload's; the rest the classic table's.
    let classic_filter = args.ops.as_deref().map(|f| {
        f.split(',')
            .map(str::trim)
            .filter(|id| !id.starts_with("s-"))
            .collect::<Vec<_>>()
            .join(",")
    });
    let ops = ops::select(classic_filter.as_deref()).map_err(CompareError::Usage)?;
    let synth_ops = synthops::select(args.ops.as_deref()).map_err(CompareError::Usage)?;
    if args.synth_sizes.contains(&0) || args.synth_present_percent > 100 {
        return Err(CompareError::Usage(
            "every --synth-sizes value must be at least 1, --synth-present-percent at most 100"
                .into(),
        ));
    }
    let helper = std::env::current_exe()
        .map_err(|e| CompareError::io(&PathBuf::from("/proc/self/exe"), e))?;
    let ours = match args.ours {
        Some(p) => p,
        None => helper.with_file_name("git-annex-rs"),
    };
    if !ours.is_file() {
        return Err(CompareError::Usage(format!(
            "git-annex-rs not found at {}: build it (`cargo build --release -p annex-cli`, or without \
             --release for target/debug) or pass --ours PATH",
            ours.display()
        )));
    }
    let ours = std::fs::canonicalize(&ours).map_err(|e| CompareError::io(&ours, e))?;
    let reference = Reference::find(args.reference.as_deref())?;

    let (workdir, temp) = match &args.workdir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| CompareError::io(d, e))?;
            (
                std::fs::canonicalize(d).map_err(|e| CompareError::io(d, e))?,
                None,
            )
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("annex-compare-")
                .tempdir()
                .map_err(|e| CompareError::io(&std::env::temp_dir(), e))?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let tools = Tools::new(ours.clone(), reference.clone(), workdir.join("home"))?;
    let (ours_version, ref_version) = tools.versions();
    let meta = report::Meta {
        date: utc_now(),
        machine: compare::machine_description(),
        ours: format!("{} ({ours_version})", ours.display()),
        reference: format!("{} ({ref_version})", reference.exe.display()),
        rounds: args.rounds,
    };
    eprintln!("compare: work directory {}", workdir.display());
    eprintln!("compare: ours = {}", meta.ours);
    eprintln!("compare: reference = {}", meta.reference);
    let cfg = Config {
        sizes: args.sizes.clone(),
        rounds: args.rounds,
        ops,
        large_mib: args.large_mib,
        seed: args.seed,
        workdir: workdir.clone(),
        helper,
        timeout: std::time::Duration::from_secs(args.timeout.max(1)),
    };
    let scfg = synthops::SynthConfig {
        sizes: args.synth_sizes.clone(),
        ops: synth_ops,
        reference_up_to: args.reference_up_to,
        unlocked_every: args.synth_unlocked_every,
        present_percent: args.synth_present_percent,
    };
    let result = compare::run(&cfg, &tools, &mut |line| eprintln!("compare: {line}")).and_then(
        |mut rows| {
            rows.extend(synthops::run(&cfg, &scfg, &tools, &mut |line| {
                eprintln!("compare: {line}")
            })?);
            Ok(rows)
        },
    );
    if let Some(t) = temp {
        if args.keep || result.is_err() {
            let kept = t.keep();
            eprintln!("compare: kept {}", kept.display());
        } else {
            // The objects' read-only directories need write permission back first.
            let _ = compare::workload::remove_tree(&tools, t.path());
        }
    }
    let rows = result?;
    println!("Date: {}  ", meta.date);
    println!("Machine: {}  ", meta.machine);
    println!("git-annex-rs: {}  ", meta.ours);
    println!("git-annex: {}  ", meta.reference);
    println!("Median of {} rounds.\n", meta.rounds);
    print!("{}", report::markdown(&rows));
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report::json(&meta, &rows))
            .map_err(|e| CompareError::io(path, std::io::Error::other(e)))?;
        std::fs::write(path, text + "\n").map_err(|e| CompareError::io(path, e))?;
    }
    let ref_failures: Vec<String> = rows
        .iter()
        .filter_map(|r| match &r.reference {
            report::Side::Failed { reason } => Some(format!("{} ({}): {reason}", r.op, r.size)),
            report::Side::Ok { .. } | report::Side::NotRun { .. } => None,
        })
        .collect();
    if !ref_failures.is_empty() {
        eprintln!("compare: the reference git-annex failed where it should not:");
        for f in &ref_failures {
            eprintln!("  {f}");
        }
        return Ok(ExitCode::from(3));
    }
    if let Some(mib) = args.max_rss_mib {
        let over = report::over_rss(&rows, mib.saturating_mul(1024));
        if !over.is_empty() {
            eprintln!("compare: git-annex-rs went over the {mib} MiB peak RSS guard, or failed:");
            for o in &over {
                eprintln!("  {o}");
            }
            return Ok(ExitCode::from(4));
        }
        eprintln!("compare: every git-annex-rs command stayed under {mib} MiB of peak RSS");
    }
    Ok(ExitCode::SUCCESS)
}

/// The current UTC time, `YYYY-MM-DD HH:MM UTC`.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let (h, m) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{m:02} UTC")
}
