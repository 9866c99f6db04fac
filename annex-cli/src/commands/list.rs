//! `list [PATH...]`: which repositories have each annexed file: a header
//! naming the columns (this repository, then the remotes; with
//! `--allrepos` every repository of `uuid.log` too; dead ones left out),
//! then a line per file with `X` (present), `x` (present in an untrusted
//! repository) or `_` in each column.

use std::collections::BTreeSet;
use std::ffi::OsString;

use annex_core::branch::Snapshot;
use annex_core::logs::trust::TrustLevel;
use annex_core::uuid::{Uuid, WEB_UUID};

use crate::action::{CommonArgs, quote};
use crate::context::Ctx;
use crate::error::CommandError;

use super::whereis::{BITTORRENT_UUID, Repos, Shown, seek_each};

/// Arguments of `list`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories.
    paths: Vec<OsString>,
    /// Show every repository, not only remotes.
    #[arg(long)]
    allrepos: bool,
    /// The file matching options (`--in`, `--copies`, `--include`, ...).
    #[command(flatten)]
    matching: crate::matching::MatchingArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// The columns: this repository, the git remotes in the config's order,
/// the web and bittorrent; with `all`, the other repositories of
/// `uuid.log` by description. Dead repositories are left out.
fn columns(ctx: &Ctx, repos: &Repos, all: bool) -> Vec<(Option<Uuid>, String, TrustLevel)> {
    let mut cols: Vec<(Option<Uuid>, String, TrustLevel)> = Vec::new();
    let trust = |u: &Option<Uuid>| {
        u.as_ref()
            .map_or(TrustLevel::SemiTrusted, |u| repos.trust(u))
    };
    let here = Some(ctx.here().clone());
    cols.push((here.clone(), "here".into(), trust(&here)));
    for r in ctx.config.remotes() {
        cols.push((r.uuid.clone(), r.name.clone(), trust(&r.uuid)));
    }
    for (u, n) in [(WEB_UUID, "web"), (BITTORRENT_UUID, "bittorrent")] {
        let u = Uuid::parse(u.as_bytes()).ok();
        cols.push((u.clone(), n.into(), trust(&u)));
    }
    if all {
        let mut others: Vec<(Option<Uuid>, String, TrustLevel)> = repos
            .descriptions
            .iter()
            .map(|(u, d)| (Some(u.clone()), d.clone(), repos.trust(u)))
            .collect();
        others.sort_by(|a, b| a.1.cmp(&b.1));
        let seen: BTreeSet<Option<Uuid>> = cols.iter().map(|c| c.0.clone()).collect();
        cols.extend(others.into_iter().filter(|c| !seen.contains(&c.0)));
    }
    cols.retain(|c| c.2 != TrustLevel::Dead);
    cols
}

/// Lists the files with the repositories that have them.
pub fn run(args: Args) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.common.config, true)?;
    let snap = Snapshot::new(ctx.state.branch())?;
    let repos = Repos::load(&ctx, &snap)?;
    let cols = columns(&ctx, &repos, args.allrepos);
    let mut header = String::new();
    for (i, (_, name, t)) in cols.iter().enumerate() {
        header.push_str(&"|".repeat(i));
        header.push_str(name);
        if *t == TrustLevel::Untrusted {
            header.push_str(" (untrusted)");
        }
        header.push('\n');
    }
    header.push_str(&"|".repeat(cols.len()));
    crate::output::outln!("{header}")?;
    let matching = args.matching.matcher(&ctx)?;
    let quote_path = ctx.config.get_bool("core.quotepath").unwrap_or(true);
    let shown = Shown::new(&ctx);
    let unmatched = seek_each(&ctx, &args.paths, |f, _| {
        if let Some((m, mctx, wanted)) = &matching {
            let item = annex_core::preferred::Item::file(&f.path, Some(&f.key));
            if !m
                .matches(mctx, &item, wanted.as_ref())
                .map_err(|e| CommandError::failed(e.to_string()))?
            {
                return Ok(());
            }
        }
        let here: BTreeSet<Uuid> = snap.locations(&f.key)?.into_iter().collect();
        let mut line: Vec<u8> = cols
            .iter()
            .map(
                |(u, _, t)| match (u.as_ref().is_some_and(|u| here.contains(u)), t) {
                    (true, TrustLevel::Untrusted) => b'x',
                    (true, _) => b'X',
                    (false, _) => b'_',
                },
            )
            .collect();
        line.push(b' ');
        line.extend_from_slice(&quote(&shown.path(&ctx, &f.path), quote_path));
        crate::output::bytes_line(&line)
    })?;
    if unmatched > 0 {
        return Err(CommandError::quiet_failure(format!(
            "list: {unmatched} failed"
        )));
    }
    Ok(())
}
