//! `log [PATH...]`: the location history of annexed files (or `--key`,
//! `--all`): for each commit of the `git-annex` branch that changed where
//! the content is, the repositories that gained it (`+`) and lost it
//! (`-`), with the commit's date (`--raw-date`: seconds), or as `gource`
//! lines, or `--json`. `--since`, `--after`, `--until`, `--before` and
//! `--max-count` limit the commits read, as git's options. `--sizes`,
//! `--totalsizes` and `--sizesof REPO` show instead the sizes of
//! repositories over time as CSV lines (`--bytes`, `--interval`,
//! `--received`, `--raw-date`). The history is the library's
//! ([`annex_ops::history`]); this module renders it.

use std::ffi::OsString;

use annex_core::branch::Snapshot;
use annex_core::key::Key;
use annex_core::uuid::Uuid;
use annex_ops::history::{Change, HistoryError};
use serde_json::Value;

use crate::action::{CommonArgs, OutputArgs, Reporter, quote};
use crate::context::Ctx;
use crate::error::{CommandError, ErrorKind};

use super::whereis::{Repos, Shown, os_bytes, seek_each};

/// Arguments of `log`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories.
    paths: Vec<OsString>,
    /// Show the history of this key.
    #[arg(long, value_name = "KEY")]
    key: Option<String>,
    /// Show the location log changes of every key.
    #[arg(long, short = 'A')]
    all: bool,
    /// Show dates as seconds from the unix epoch.
    #[arg(long = "raw-date")]
    raw_date: bool,
    /// Format the output for gource.
    #[arg(long)]
    gource: bool,
    /// Show the log since this date.
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Show the log after this date.
    #[arg(long, value_name = "DATE")]
    after: Option<String>,
    /// Show the log until this date.
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// Show the log before this date.
    #[arg(long, value_name = "DATE")]
    before: Option<String>,
    /// Limit the number of commits read.
    #[arg(long = "max-count", value_name = "NUMBER")]
    max_count: Option<String>,
    /// Display the history of sizes of this repository.
    #[arg(long, value_name = "REMOTE")]
    sizesof: Option<String>,
    /// Display the history of sizes of all repositories.
    #[arg(long)]
    sizes: bool,
    /// Display the history of total sizes of all repositories.
    #[arg(long)]
    totalsizes: bool,
    /// Minimum time between displays of changed size.
    #[arg(long, value_name = "TIME")]
    interval: Option<String>,
    /// Display received data per interval rather than repository sizes.
    #[arg(long)]
    received: bool,
    /// Graph the history (not supported by git-annex-rs yet).
    #[arg(long)]
    gnuplot: bool,
    /// Display sizes in bytes.
    #[arg(long)]
    bytes: bool,
    /// The file matching options (`--in`, `--copies`, `--include`, ...).
    #[command(flatten)]
    matching: crate::matching::MatchingArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

impl Args {
    /// The options passed through to `git log`.
    fn passthru(&self) -> Vec<String> {
        let mut p = Vec::new();
        for (name, v) in [
            ("--since", &self.since),
            ("--after", &self.after),
            ("--until", &self.until),
            ("--before", &self.before),
            ("--max-count", &self.max_count),
        ] {
            if let Some(v) = v {
                p.push(name.to_owned());
                p.push(v.clone());
            }
        }
        p
    }
}

/// How the changes are shown.
struct Show<'a> {
    repos: Repos,
    raw_date: bool,
    gource: bool,
    quote_path: bool,
    reporter: &'a mut Reporter,
}

fn history_error(e: HistoryError) -> CommandError {
    CommandError::new(ErrorKind::Failure, e)
}

/// Shows the location history.
pub fn run(args: Args) -> Result<(), CommandError> {
    let selectors = [!args.paths.is_empty(), args.key.is_some(), args.all]
        .iter()
        .filter(|b| **b)
        .count();
    if selectors > 1 {
        return Err(CommandError::failed(
            "Can only specify one of file names, --all, --branch, --unused, --failed --key, or --incomplete",
        ));
    }
    let key_arg = match &args.key {
        Some(k) => Some(
            Key::parse(k.as_bytes())
                .map_err(|_| CommandError::failed(format!("option --key: bad key {k}")))?,
        ),
        None => None,
    };
    let json = args.output.json || args.output.json_progress || args.output.json_error_messages;
    let ctx = Ctx::open(&args.common.config, args.output.quiet || json)?;
    if args.sizesof.is_some() || args.sizes || args.totalsizes {
        return sizes(&ctx, &args);
    }
    let mut reporter = ctx.reporter(&args.output, "log");
    let snap = Snapshot::new(ctx.state.branch())?;
    let repos = Repos::load(&ctx, &snap)?;
    let passthru = args.passthru();
    let mut show = Show {
        repos,
        raw_date: args.raw_date,
        gource: args.gource,
        quote_path: ctx.config.get_bool("core.quotepath").unwrap_or(true),
        reporter: &mut reporter,
    };
    if let Some(key) = &key_arg {
        for c in annex_ops::history::key_history(&ctx, key, &passthru).map_err(history_error)? {
            show.change(&c, None, None)?;
        }
    } else if args.all || ctx.worktree.is_none() {
        let mut failed = None;
        annex_ops::history::all_history(&ctx, &passthru, |c| {
            if failed.is_none()
                && let Err(e) = show.change(&c, None, None)
            {
                failed = Some(e);
            }
            Ok(())
        })
        .map_err(history_error)?;
        if let Some(e) = failed {
            return Err(e);
        }
    } else {
        let matching = args.matching.matcher(&ctx)?;
        let shown = Shown::new(&ctx);
        let unmatched = seek_each(&ctx, &args.paths, |f, input| {
            if let Some((m, mctx, wanted)) = &matching {
                let item = annex_core::preferred::Item::file(&f.path, Some(&f.key));
                if !m
                    .matches(mctx, &item, wanted.as_ref())
                    .map_err(|e| CommandError::failed(e.to_string()))?
                {
                    return Ok(());
                }
            }
            let file = shown.path(&ctx, &f.path);
            let input = input.map_or_else(|| file.clone(), |i| os_bytes(i));
            let changes =
                annex_ops::history::key_history(&ctx, &f.key, &passthru).map_err(history_error)?;
            for c in changes {
                show.change(&c, Some(&file), Some(&input))?;
            }
            Ok(())
        })?;
        for _ in 0..unmatched {
            show.reporter.count_failure();
        }
    }
    reporter.finish()
}

impl Show<'_> {
    /// Shows one change: a line per repository, or one JSON object.
    fn change(
        &mut self,
        c: &Change,
        file: Option<&[u8]>,
        input: Option<&[u8]>,
    ) -> Result<(), CommandError> {
        if self.reporter.is_json() {
            let mut action = self.reporter.start_opt(file, Some(&c.key), input)?;
            let logged = if c.added { "addition" } else { "removal" };
            action.field("logged", Value::String(logged.into()));
            action.field("date", Value::String(c.time.to_string()));
            let locations = c.uuids.iter().map(|u| self.repos.json(u, None)).collect();
            action.field("locations", Value::Array(locations));
            return action.end(true);
        }
        let item = match file {
            Some(f) => f.to_vec(),
            None => c.key.as_bytes().to_vec(),
        };
        for u in &c.uuids {
            let desc = self.describe(u);
            let line = if self.gource {
                let mut l =
                    format!("{}|{desc}|{}|", c.time, if c.added { "A" } else { "M" }).into_bytes();
                l.extend_from_slice(&item);
                l
            } else {
                let time = if self.raw_date {
                    c.time.to_string()
                } else {
                    rfc822_local(c.time)
                };
                let shown = if file.is_some() {
                    quote(&item, self.quote_path)
                } else {
                    item.clone()
                };
                let mut l = format!("{} {time} ", if c.added { "+" } else { "-" }).into_bytes();
                l.extend_from_slice(&shown);
                l.extend_from_slice(format!(" | {u} -- {desc}").as_bytes());
                l
            };
            crate::output::bytes_line(&line)?;
        }
        Ok(())
    }

    /// A repository's description as the log shows it (its UUID when it
    /// has none).
    fn describe(&self, u: &Uuid) -> String {
        if self.repos.descriptions.contains_key(u) || self.repos.names.contains_key(u) {
            self.repos.description(u)
        } else {
            u.to_string()
        }
    }
}

/// `--sizes`, `--totalsizes`, `--sizesof`: the sizes of repositories
/// over time, one CSV line each (after a header naming the repositories
/// for `--sizes`), as git-annex shows them.
fn sizes(ctx: &Ctx, args: &Args) -> Result<(), CommandError> {
    use annex_ops::history::{SizeOptions, SizeTime};
    if args.gnuplot {
        return Err(CommandError::user(
            "option --gnuplot is not supported by git-annex-rs yet",
        ));
    }
    let interval = match &args.interval {
        Some(t) => Some(crate::global::parse_duration(t).ok_or_else(|| {
            CommandError::user(format!(
                "option --interval: failed to parse duration \"{t}\" (expected eg \"5m\" or \"1h5m\")"
            ))
        })?),
        None => None,
    };
    let only = match &args.sizesof {
        Some(name) => Some(super::describe::resolve(ctx, name)?),
        None => None,
    };
    let columns = annex_ops::history::size_columns(ctx).map_err(history_error)?;
    if args.sizes {
        let mut header = b"date".to_vec();
        for (_, desc) in &columns {
            header.push(b',');
            header.extend_from_slice(&csv_quote(desc));
        }
        crate::output::bytes_line(&header)?;
    }
    let options = SizeOptions {
        only,
        total: args.totalsizes,
        interval,
        received: args.received,
    };
    let uuids: Vec<Uuid> = columns.into_iter().map(|(u, _)| u).collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let now = SizeTime {
        secs: i64::try_from(now.as_secs()).unwrap_or(i64::MAX),
        nanos: now.subsec_nanos(),
    };
    let mut failed = None;
    annex_ops::history::size_history(ctx, &uuids, &options, now, |t, sizes| {
        let mut line = if args.raw_date {
            raw_time(t)
        } else {
            iso_local(t.secs)
        };
        for n in sizes {
            line.push(',');
            if args.bytes {
                line.push_str(&n.to_string());
            } else {
                line.push_str(&rough_size(*n));
            }
        }
        if failed.is_none()
            && let Err(e) = crate::output::bytes_line(line.as_bytes())
        {
            failed = Some(e);
        }
        Ok(())
    })
    .map_err(history_error)?;
    failed.map_or(Ok(()), Err)
}

/// A CSV field as git-annex quotes it: in double quotes (doubled inside)
/// when it holds a comma or a double quote.
fn csv_quote(field: &[u8]) -> Vec<u8> {
    if !field.iter().any(|&b| b == b',' || b == b'"') {
        return field.to_vec();
    }
    let mut out = vec![b'"'];
    for &b in field {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
    out
}

/// A size as git-annex's `roughSize storageUnits True` shows it.
fn rough_size(n: i128) -> String {
    let sign = if n < 0 { "-" } else { "" };
    let shown =
        annex_core::units::rough_size(&annex_core::units::STORAGE_UNITS, true, n.unsigned_abs());
    format!("{sign}{shown}")
}

/// Seconds since the epoch as git-annex shows a raw time: the fraction,
/// when there is one, without trailing zeros.
fn raw_time(t: annex_ops::history::SizeTime) -> String {
    if t.nanos == 0 {
        return t.secs.to_string();
    }
    let frac = format!("{:09}", t.nanos);
    format!("{}.{}", t.secs, frac.trim_end_matches('0'))
}

/// A time as `%Y-%m-%dT%H:%M:%S` in the local time zone.
fn iso_local(secs: i64) -> String {
    let Ok(ts) = jiff::Timestamp::from_second(secs) else {
        return secs.to_string();
    };
    let zoned = ts.to_zoned(jiff::tz::TimeZone::system());
    zoned.strftime("%Y-%m-%dT%H:%M:%S").to_string()
}

/// A time as RFC 822 in the local time zone (`Mon,  7 Dec 2026 01:52:10
/// UTC`), as git-annex shows log dates.
fn rfc822_local(secs: i64) -> String {
    let Ok(ts) = jiff::Timestamp::from_second(secs) else {
        return secs.to_string();
    };
    let zoned = ts.to_zoned(jiff::tz::TimeZone::system());
    zoned.strftime("%a, %_d %b %Y %H:%M:%S %Z").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_rfc822() {
        // The system zone in tests may be any; the shape is what is fixed.
        let s = rfc822_local(1_796_608_330);
        assert!(s.contains(" Dec 2026 ") || s.contains(" Nov 2026 "), "{s}");
        assert_eq!(s.split(' ').filter(|w| !w.is_empty()).count(), 6, "{s}");
    }
}
