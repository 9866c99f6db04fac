//! `maxsize REPOSITORY [SIZE]`: show or set the maximum size of a
//! repository (`maxsize.log`); `maxsize` alone shows every repository's
//! size against its maximum.

use std::collections::BTreeMap;
use std::ffi::OsString;

use annex_core::logs::location::LocationLog;
use annex_core::logs::trust::TrustLevel;
use annex_core::uuid::Uuid;
use serde_json::{Map, Value, json};

use crate::action::{CommonArgs, OutputArgs, print_json};
use crate::context::Ctx;
use crate::error::CommandError;
use crate::output::outln;

use super::describe::{record, resolve, strings};

/// Arguments of `maxsize`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The repository and, to set it, the size (`10gb`, `500 megabytes`).
    params: Vec<OsString>,
    /// Display sizes in bytes.
    #[arg(long)]
    bytes: bool,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// Shows or sets maximum sizes.
pub fn run(args: Args) -> Result<(), CommandError> {
    let params = strings(&args.params);
    if params.len() > 2 {
        return Err(CommandError::failed("Too many parameters"));
    }
    let json = args.output.json || args.output.json_progress;
    let ctx = Ctx::open(&args.common.config, args.output.quiet)?;
    match params.as_slice() {
        [name] => {
            let uuid = resolve(&ctx, name)?;
            let max = ctx.state.maxsizes()?.remove(&uuid);
            if json {
                let mut o = base_json(&params);
                o.insert("maxsize".into(), max.map_or(Value::Null, |n| json!(n)));
                o.insert("success".into(), Value::Bool(true));
                print_json(&Value::Object(o))
            } else {
                let shown = match max {
                    Some(n) if args.bytes => n.to_string(),
                    Some(n) => precise_size(n),
                    None => String::new(),
                };
                outln!("{shown}")
            }
        }
        [name, size] => {
            let uuid = resolve(&ctx, name)?;
            // Reported even with --quiet, as git-annex does.
            let mut reporter = crate::action::Reporter::new(
                "maxsize",
                if json {
                    crate::action::Mode::Json
                } else {
                    crate::action::Mode::Plain
                },
            )
            .json_error_messages(args.output.json_error_messages);
            let mut action = reporter.start(None, None, name.as_bytes())?;
            action.field(
                "input",
                Value::Array(params.iter().cloned().map(Value::String).collect()),
            );
            match read_size(size) {
                None => {
                    action.fail("Unable to parse size.")?;
                    action.end(false)?;
                }
                Some(n) => {
                    ctx.state.set_maxsize(&uuid, n)?;
                    action.end(true)?;
                }
            }
            record(&ctx, !json)?;
            reporter.finish()
        }
        _ => overview(&ctx, &params, args.bytes, json),
    }
}

fn base_json(params: &[String]) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("command".into(), Value::String("maxsize".into()));
    o.insert("error-messages".into(), Value::Array(Vec::new()));
    o.insert(
        "input".into(),
        Value::Array(params.iter().cloned().map(Value::String).collect()),
    );
    o
}

/// The table of sizes and maximum sizes, fullest first.
fn overview(ctx: &Ctx, params: &[String], bytes: bool, json: bool) -> Result<(), CommandError> {
    let maxsizes = ctx.state.maxsizes()?;
    let trust = ctx.state.trust(&ctx.config)?;
    let mut sizes = repo_sizes(ctx)?;
    // Every repository known, with nothing counted yet, and every one with
    // a maximum size.
    for u in ctx.state.descriptions()?.keys().chain(maxsizes.keys()) {
        sizes.entry(u.clone()).or_insert(0);
    }
    sizes.retain(|u, _| trust.get(u) != Some(&TrustLevel::Dead));
    // Ordered as git-annex orders them: by maximum size, then size, then
    // UUID, all descending (an unset maximum sorts lowest).
    let mut rows: Vec<(Uuid, i128, Option<i128>)> = sizes
        .into_iter()
        .map(|(u, s)| {
            let m = maxsizes.get(&u).copied();
            (u, s, m)
        })
        .collect();
    rows.sort_by_key(|r| (r.2, r.1));
    rows.reverse();
    let descriptions = described(ctx)?;
    let here = ctx.here();
    if json {
        let repos: Vec<Value> = rows
            .iter()
            .map(|(u, s, m)| {
                json!({
                    "uuid": u.to_string(),
                    "description": descriptions.get(u).cloned().unwrap_or_default(),
                    "here": u == here,
                    "size": {"size": s, "maxsize": m},
                })
            })
            .collect();
        let mut o = base_json(params);
        o.insert("repositories".into(), Value::Array(repos));
        o.insert("success".into(), Value::Bool(true));
        return print_json(&Value::Object(o));
    }
    let fmt = |n: i128| {
        if bytes { n.to_string() } else { rough_size(n) }
    };
    let mut out = String::new();
    out.push_str(&table_row(&["size", "maxsize", "%full", "repository"]));
    out.push('\n');
    for (i, (u, s, m)) in rows.iter().enumerate() {
        let full = match m {
            Some(m) if s <= m => format!("{}%", percentage(*m, *s)),
            Some(_) => ">100%".to_string(),
            None => String::new(),
        };
        let maxsize = m.map(fmt).unwrap_or_default();
        out.push_str(&table_row(&[&fmt(*s), &maxsize, &full, ""]));
        let d = descriptions.get(u).cloned().unwrap_or_default();
        let d = match (d.is_empty(), u == here) {
            (true, true) => "here".to_string(),
            (false, true) => add_name(&d, "here"),
            _ => d,
        };
        out.push_str(&u.to_string());
        if !d.is_empty() {
            out.push_str(" -- ");
            out.push_str(&d);
        }
        if i + 1 < rows.len() {
            out.push('\n');
        }
    }
    outln!("{out}")
}

/// Columns right-aligned to git-annex's widths (7, 7, 6), then the last.
fn table_row(cols: &[&str; 4]) -> String {
    let mut s = String::new();
    for (w, c) in [7usize, 7, 6].iter().zip(cols.iter()) {
        s.push_str(&" ".repeat(w.saturating_sub(c.chars().count())));
        s.push_str(c);
        s.push(' ');
    }
    s.push(' ');
    s.push_str(cols[3]);
    s
}

/// `have` as a whole percentage of `full`, rounded as git-annex rounds.
fn percentage(full: i128, have: i128) -> String {
    if full == 0 {
        return "0".to_string();
    }
    let p = have as f64 * 100.0 / full as f64;
    format!("{}", p.round_ties_even() as i128)
}

/// Descriptions with the names of the git remotes added
/// (`desc [origin]`), as git-annex shows repositories.
pub(super) fn described(ctx: &Ctx) -> Result<BTreeMap<Uuid, String>, CommandError> {
    let mut m: BTreeMap<Uuid, String> = ctx
        .state
        .descriptions()?
        .into_iter()
        .map(|(u, d)| (u, String::from_utf8_lossy(&d).into_owned()))
        .collect();
    for r in ctx.config.remotes() {
        if let Some(u) = &r.uuid {
            let d = m.entry(u.clone()).or_default();
            *d = add_name(d, &r.name);
        }
    }
    Ok(m)
}

fn add_name(desc: &str, name: &str) -> String {
    if desc == name || desc.is_empty() {
        format!("[{name}]")
    } else {
        format!("{desc} [{name}]")
    }
}

/// The size of each repository's content (the sum of the sizes of the
/// keys its location log says it has), from the repository sizes
/// database (`annex_core::sizes`), brought up to the branch. Where the
/// database cannot be used (a read-only repository), every location log is
/// read instead.
pub(super) fn repo_sizes(ctx: &Ctx) -> Result<BTreeMap<Uuid, i128>, CommandError> {
    let db = annex_core::sizes::RepoSizes::open(&ctx.repo.annex_dir())
        .and_then(|db| db.sizes(ctx.state.branch()));
    match db {
        Ok(sizes) => Ok(sizes.into_iter().map(|(u, s)| (u, i128::from(s))).collect()),
        Err(_) => walk_sizes(ctx),
    }
}

/// [`repo_sizes`] by reading every location log.
fn walk_sizes(ctx: &Ctx) -> Result<BTreeMap<Uuid, i128>, CommandError> {
    let mut sizes: BTreeMap<Uuid, i128> = BTreeMap::new();
    ctx.state.branch().for_each_file(
        |p| p.ends_with(b".log") && p.iter().filter(|c| **c == b'/').count() == 2,
        |path, content| {
            let name = path.rsplit(|c| *c == b'/').next().unwrap_or(path);
            let Some(stem) = name.strip_suffix(b".log") else {
                return;
            };
            let Some(key) = annex_core::objects::file_key(stem) else {
                return;
            };
            let size = key.size().unwrap_or(0) as i128;
            for u in LocationLog::parse(content).present_uuids() {
                *sizes.entry(u).or_insert(0) += size;
            }
        },
    )?;
    Ok(sizes)
}

/// Reads a size such as `10gb`, `0.5 TB` or `500 megabytes` (no unit:
/// bytes), as git-annex does ([`annex_core::units::read_size`]); `None`
/// when it cannot.
pub(super) fn read_size(input: &str) -> Option<i128> {
    annex_core::units::read_size(input.as_bytes())
}

/// A size exactly, in the largest storage unit it reaches (`10.0 GB`).
pub(super) fn precise_size(n: i128) -> String {
    show_size(n, |v| format!("{v:?}"))
}

/// A size rounded to a whole number of its unit (`10 GB`).
pub(super) fn rough_size(n: i128) -> String {
    show_size(n, |v| format!("{}", v.round_ties_even() as i128))
}

fn show_size(n: i128, show: impl Fn(f64) -> String) -> String {
    let sign = if n < 0 { "-" } else { "" };
    // `unsigned_abs`: no overflow for the most negative size.
    let n = n.unsigned_abs();
    let (size, abbrev) = annex_core::units::STORAGE_UNITS
        .iter()
        .find(|u| n >= u.size)
        .map(|u| (u.size, u.abbrev))
        .unwrap_or((1, "B"));
    format!("{sign}{} {abbrev}", show(n as f64 / size as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_git_annex() {
        // Observed with git-annex 10.20261026: `maxsize here SIZE`, then
        // `maxsize here` and the overview's column.
        for (input, precise, rough) in [
            ("5", "5.0 B", "5 B"),
            ("1500", "1.5 kB", "2 kB"),
            ("10GB", "10.0 GB", "10 GB"),
            ("0.5tb", "500.0 GB", "500 GB"),
            ("1e3", "1.0 kB", "1 kB"),
            ("2 megabytes", "2.0 MB", "2 MB"),
            ("1kib", "1.024 kB", "1 kB"),
            ("12345678901", "12.345678901 GB", "12 GB"),
            ("999999999999999", "999.999999999999 TB", "1000 TB"),
            ("0.0001kB", "0.0 B", "0 B"),
        ] {
            let n = read_size(input).unwrap();
            assert_eq!(precise_size(n), precise, "{input}");
            assert_eq!(rough_size(n), rough, "{input}");
        }
        assert_eq!(read_size("bad"), None);
        assert_eq!(read_size("5 parsecs"), None);
    }
}
