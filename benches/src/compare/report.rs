//! Results, and their rendering as a Markdown table and as JSON.

use std::time::Duration;

use serde_json::{Value, json};

use super::stats::{median_duration, median_u64, ratio};

/// What one implementation gave for one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Side {
    /// Every timed round succeeded.
    Ok {
        /// Wall time of each round.
        walls: Vec<Duration>,
        /// Peak RSS of each round, KiB.
        rss_kib: Vec<u64>,
        /// CPU time (user + system, whole process tree) of each round.
        cpus: Vec<Duration>,
    },
    /// A round failed (exit status, or the check after it); no time is
    /// given for a failing command.
    Failed {
        /// Why: exit status and first line of standard error, or the
        /// failed check.
        reason: String,
    },
    /// Not run, on purpose (the reference above `--reference-up-to`).
    NotRun {
        /// Why.
        why: String,
    },
}

impl Side {
    /// Median wall time, when it succeeded.
    pub fn median_wall(&self) -> Option<Duration> {
        match self {
            Side::Ok { walls, .. } => median_duration(walls),
            Side::Failed { .. } | Side::NotRun { .. } => None,
        }
    }

    /// Median CPU time, when it succeeded.
    pub fn median_cpu(&self) -> Option<Duration> {
        match self {
            Side::Ok { cpus, .. } => median_duration(cpus),
            Side::Failed { .. } | Side::NotRun { .. } => None,
        }
    }

    /// The highest peak RSS of the rounds, KiB, when it succeeded.
    pub fn max_rss_kib(&self) -> Option<u64> {
        match self {
            Side::Ok { rss_kib, .. } => rss_kib.iter().copied().max(),
            Side::Failed { .. } | Side::NotRun { .. } => None,
        }
    }

    /// Median peak RSS in KiB, when it succeeded.
    pub fn median_rss_kib(&self) -> Option<u64> {
        match self {
            Side::Ok { rss_kib, .. } => median_u64(rss_kib),
            Side::Failed { .. } | Side::NotRun { .. } => None,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Side::Ok {
                walls,
                rss_kib,
                cpus,
            } => json!({
                "status": "ok",
                "median_wall_s": self.median_wall().map(|d| d.as_secs_f64()),
                "median_max_rss_kib": self.median_rss_kib(),
                "median_cpu_s": self.median_cpu().map(|d| d.as_secs_f64()),
                "wall_s": walls.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
                "max_rss_kib": rss_kib,
                "cpu_s": cpus.iter().map(Duration::as_secs_f64).collect::<Vec<_>>(),
            }),
            Side::Failed { reason } => json!({ "status": "failed", "reason": reason }),
            Side::NotRun { why } => json!({ "status": "not-run", "reason": why }),
        }
    }
}

/// One operation at one size.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The operation's id.
    pub op: String,
    /// The command's arguments (`find --json`).
    pub command: String,
    /// The workload size, for display ("1000 files", "1 × 1024 MiB").
    pub size: String,
    /// git-annex-rs.
    pub ours: Side,
    /// The reference git-annex.
    pub reference: Side,
}

impl Row {
    /// Median wall time ratio reference/ours (above 1: ours is faster),
    /// when both succeeded.
    pub fn wall_ratio(&self) -> Option<f64> {
        let r = self.reference.median_wall()?.as_secs_f64();
        let o = self.ours.median_wall()?.as_secs_f64();
        ratio(r, o)
    }

    /// Median peak RSS ratio reference/ours, when both succeeded.
    pub fn rss_ratio(&self) -> Option<f64> {
        ratio(
            self.reference.median_rss_kib()? as f64,
            self.ours.median_rss_kib()? as f64,
        )
    }
}

/// What the report says about the run itself.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    /// When (UTC).
    pub date: String,
    /// The machine (CPU, cores, memory, kernel).
    pub machine: String,
    /// git-annex-rs: path and version.
    pub ours: String,
    /// The reference: path and version.
    pub reference: String,
    /// Timed rounds per implementation.
    pub rounds: usize,
}

/// A duration for people: "850 µs", "12.3 ms", "1.24 s".
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 0.1 {
        format!("{:.0} ms", s * 1e3)
    } else if s >= 0.001 {
        format!("{:.1} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}

/// A size in KiB for people, in MiB.
pub fn fmt_rss(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Makes text safe in a Markdown table cell (no `|`, no newline, at most
/// 100 characters).
fn cell(text: &str) -> String {
    let t: String = text
        .chars()
        .map(|c| match c {
            '|' => '/',
            '\n' | '\r' => ' ',
            c => c,
        })
        .collect();
    if t.chars().count() > 100 {
        let cut: String = t.chars().take(97).collect();
        format!("{cut}...")
    } else {
        t
    }
}

/// The Markdown table: one line per row; a failing implementation's cells
/// say "fails (ours)" or "fails (git-annex)" with the reason, never a time.
pub fn markdown(rows: &[Row]) -> String {
    let mut s = String::from(
        "| operation | size | git-annex | git-annex-rs | ratio git-annex/ours | git-annex peak RSS | git-annex-rs peak RSS | git-annex CPU | git-annex-rs CPU |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        s.push_str(&markdown_row(r));
        s.push('\n');
    }
    s
}

/// One line of the Markdown table (no newline).
pub fn markdown_row(r: &Row) -> String {
    let time = |side: &Side, who: &str| match side {
        Side::Ok { .. } => side.median_wall().map_or("—".into(), fmt_duration),
        Side::Failed { reason } => cell(&format!("fails ({who}): {reason}")),
        Side::NotRun { why } => cell(&format!("not run ({why})")),
    };
    let rss = |side: &Side| side.median_rss_kib().map_or("—".into(), fmt_rss);
    let cpu = |side: &Side| side.median_cpu().map_or("—".into(), fmt_duration);
    let ratio = r.wall_ratio().map_or("—".into(), |x| format!("{x:.2}×"));
    format!(
        "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} |",
        r.command,
        r.size,
        time(&r.reference, "git-annex"),
        time(&r.ours, "ours"),
        ratio,
        rss(&r.reference),
        rss(&r.ours),
        cpu(&r.reference),
        cpu(&r.ours),
    )
}

/// The whole report as JSON.
pub fn json(meta: &Meta, rows: &[Row]) -> Value {
    json!({
        "date": meta.date,
        "machine": meta.machine,
        "ours": meta.ours,
        "reference": meta.reference,
        "rounds": meta.rounds,
        "rows": rows.iter().map(|r| json!({
            "op": r.op,
            "command": r.command,
            "size": r.size,
            "ours": r.ours.to_json(),
            "reference": r.reference.to_json(),
            "ratio_wall": r.wall_ratio(),
            "ratio_max_rss": r.rss_ratio(),
        })).collect::<Vec<_>>(),
    })
}

/// The rows where git-annex-rs went over `limit_kib` of peak RSS in any
/// round, or failed (a failure, a crash for want of memory included, cannot
/// show it stayed under), one line each; empty when all stayed under.
pub fn over_rss(rows: &[Row], limit_kib: u64) -> Vec<String> {
    rows.iter()
        .filter_map(|r| match &r.ours {
            Side::Ok { .. } => r.ours.max_rss_kib().filter(|&k| k > limit_kib).map(|k| {
                format!(
                    "{} ({}): peak RSS {} > {}",
                    r.command,
                    r.size,
                    fmt_rss(k),
                    fmt_rss(limit_kib)
                )
            }),
            Side::Failed { reason } => {
                Some(format!("{} ({}): failed: {reason}", r.command, r.size))
            }
            Side::NotRun { .. } => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(ms: &[u64], rss: &[u64]) -> Side {
        Side::Ok {
            walls: ms.iter().map(|&m| Duration::from_millis(m)).collect(),
            rss_kib: rss.to_vec(),
            cpus: ms.iter().map(|&m| Duration::from_millis(m / 2)).collect(),
        }
    }

    fn row(ours: Side, reference: Side) -> Row {
        Row {
            op: "find".into(),
            command: "find".into(),
            size: "1000 files".into(),
            ours,
            reference,
        }
    }

    #[test]
    fn rss_guard_takes_the_worst_round_and_failures() {
        let under = row(ok(&[1, 1], &[1000, 2000]), ok(&[1], &[500_000]));
        let over = row(ok(&[1, 1, 1], &[1000, 200_000, 1000]), ok(&[1], &[1]));
        let failed = row(
            Side::Failed {
                reason: "killed by signal 9".into(),
            },
            ok(&[1], &[1]),
        );
        let not_run = row(
            ok(&[1], &[1]),
            Side::NotRun {
                why: "above --reference-up-to 100000".into(),
            },
        );
        assert!(over_rss(&[under.clone(), not_run.clone()], 102_400).is_empty());
        let found = over_rss(&[under, over, failed, not_run.clone()], 102_400);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].contains("peak RSS 195.3 MiB > 100.0 MiB"),
            "{found:?}"
        );
        assert!(found[1].contains("failed: killed by signal 9"), "{found:?}");
        let line = markdown_row(&not_run);
        assert!(
            line.contains("| not run (above --reference-up-to 100000) |"),
            "{line}"
        );
        assert_eq!(
            json(&Meta::default(), &[not_run])["rows"][0]["reference"]["status"],
            "not-run"
        );
    }

    #[test]
    fn durations_and_sizes_format() {
        assert_eq!(fmt_duration(Duration::from_micros(850)), "850 µs");
        assert_eq!(fmt_duration(Duration::from_micros(12_345)), "12.3 ms");
        assert_eq!(fmt_duration(Duration::from_millis(250)), "250 ms");
        assert_eq!(fmt_duration(Duration::from_millis(1239)), "1.24 s");
        assert_eq!(fmt_rss(2048), "2.0 MiB");
    }

    #[test]
    fn ratio_uses_medians() {
        let r = row(
            ok(&[10, 100, 12], &[1000, 1000, 3000]),
            ok(&[40, 20, 30], &[4000, 2000, 3000]),
        );
        assert_eq!(r.wall_ratio(), Some(30.0 / 12.0));
        assert_eq!(r.rss_ratio(), Some(3.0));
        let md = markdown(&[r]);
        let line = md.lines().nth(2).expect("a data line");
        assert_eq!(
            line,
            "| `find` | 1000 files | 30.0 ms | 12.0 ms | 2.50× | 2.9 MiB | 1.0 MiB | 15.0 ms | 6.0 ms |"
        );
    }

    #[test]
    fn failures_name_the_implementation_and_give_no_time() {
        let r = row(
            Side::Failed {
                reason: "exit 1: error: unrecognized subcommand 'find'".into(),
            },
            ok(&[30], &[4096]),
        );
        let md = markdown(std::slice::from_ref(&r));
        let line = md.lines().nth(2).expect("a data line");
        assert!(
            line.contains(
                "| 30.0 ms | fails (ours): exit 1: error: unrecognized subcommand 'find' | — | 4.0 MiB | — | 15.0 ms | — |"
            ),
            "{line}"
        );
        assert_eq!(r.wall_ratio(), None);
        let j = json(&Meta::default(), &[r]);
        assert_eq!(j["rows"][0]["ours"]["status"], "failed");
        assert_eq!(j["rows"][0]["ratio_wall"], Value::Null);
        assert_eq!(j["rows"][0]["reference"]["median_wall_s"], 0.03);

        let r = row(
            ok(&[1], &[1]),
            Side::Failed {
                reason: "a | b\nc".into(),
            },
        );
        let line = markdown(&[r])
            .lines()
            .nth(2)
            .expect("a data line")
            .to_string();
        assert!(line.contains("| fails (git-annex): a / b c |"), "{line}");
    }
}
