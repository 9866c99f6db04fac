//! `get`: makes content of annexed files present here, from the cheapest
//! remote that has it (or `--from` one).

use annex_core::transfer::Direction;
use annex_core::uuid::Uuid;

use super::xfer::{self, Env, Item, Selection};
use crate::action::{OutputArgs, Reporter};
use crate::context::Ctx;
use crate::error::CommandError;
use crate::progress::ProgressMode;

/// Arguments of `get`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Get content from this remote only.
    #[arg(long = "from", short = 'f', value_name = "REMOTE")]
    pub from: Option<String>,
    /// Get even when that leaves less than annex.diskreserve free.
    #[arg(long = "force")]
    pub force: bool,
    #[command(flatten)]
    sel: Selection,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    common: crate::action::CommonArgs,
}

/// Runs `get`.
pub fn run(args: Args) -> Result<(), CommandError> {
    let mut reporter = args.out.reporter("get");
    let jobs = args.common.jobs()?;
    let ctx = Ctx::open(&args.common.config, args.out.quiet || reporter.is_json())?;
    let progress = ProgressMode::choose(args.out.json, args.out.json_progress, args.out.quiet);
    let mut env = Env::open(ctx, progress)?;
    env.force = args.force;
    let from = match &args.from {
        Some(name) => Some(env.remote_named(name)?.uuid.clone()),
        None => None,
    };
    let from = from.as_ref().map(|u| u.as_ref());
    if jobs > 1 && !args.sel.batch {
        // Downloads run in parallel; then each is reported and recorded in
        // order. One that failed is tried again alone, which explains it.
        let items = env.items(&args.sel, &mut reporter)?;
        for chunk in items.chunks(jobs * 8) {
            let mut plan = Vec::new();
            // For each file to get, the plan entry that brings its content:
            // its own, or for a key of several files the first one's (the
            // key is downloaded once; the others are shown as gotten from
            // the same remote, as git-annex's concurrent gets show them).
            let mut source: Vec<Option<usize>> = vec![None; chunk.len()];
            let mut by_key: std::collections::HashMap<&annex_core::key::Key, usize> =
                std::collections::HashMap::new();
            for (i, item) in chunk.iter().enumerate() {
                let Some(remote) = first_candidate(&env, item, from, &args)? else {
                    continue;
                };
                let entry = *by_key.entry(&item.key).or_insert_with(|| {
                    plan.push(xfer::Planned { index: i, remote });
                    plan.len() - 1
                });
                source[i] = Some(entry);
            }
            let done = xfer::run_parallel(&env, chunk, &plan, Direction::Download, jobs, "get");
            for (i, item) in chunk.iter().enumerate() {
                match source[i].map(|e| &plan[e]) {
                    Some(p) if done[p.index] => {
                        let mut action = env.start(&mut reporter, item)?;
                        action.note(&format!("from {}...", p.remote.name()))?;
                        env.populate_unlocked(item);
                        env.ctx.state.set_present(&item.key, env.here(), true)?;
                        action.end(true)?;
                    }
                    _ => {
                        get_one(&env, &mut reporter, item, from, &args)?;
                    }
                }
            }
        }
    } else {
        xfer::for_each(&env, &args.sel, &mut reporter, |env, reporter, item| {
            get_one(env, reporter, item, from, &args)
        })?;
    }
    env.finish(&reporter)?;
    reporter.finish()
}

/// The remote a parallel get of `item` would use first, when it is to be
/// gotten at all.
fn first_candidate<'e>(
    env: &'e Env,
    item: &Item,
    from: Option<Option<&Uuid>>,
    args: &Args,
) -> Result<Option<&'e dyn annex_core::remote::Remote>, CommandError> {
    if env.ctx.store.has(&item.key)
        || (args.sel.auto && !env.auto_wants_copy(item, None)?)
        || env.space_shortfall(&item.key).is_some()
    {
        return Ok(None);
    }
    let locs = env.locations(&item.key)?;
    for entry in &env.remotes {
        let Some(u) = entry.uuid.as_ref() else {
            continue;
        };
        let wanted = match from {
            Some(f) => f == Some(u) && env.should_get_from(entry, &item.key)?,
            None => locs.contains(u),
        };
        if wanted && let Ok(r) = &entry.remote {
            return Ok(Some(r.as_ref()));
        }
    }
    Ok(None)
}

/// `get` of one item; returns whether an action was shown.
pub fn get_one(
    env: &Env,
    reporter: &mut Reporter,
    item: &Item,
    from: Option<Option<&Uuid>>,
    args: &Args,
) -> Result<bool, CommandError> {
    if env.ctx.store.has(&item.key) {
        return Ok(false);
    }
    if args.sel.auto && !env.auto_wants_copy(item, None)? {
        return Ok(false);
    }
    let locs = env.locations(&item.key)?;
    let candidates: Vec<&xfer::RemoteEntry> = match from {
        Some(u) => {
            let entries: Vec<&xfer::RemoteEntry> = env
                .remotes
                .iter()
                .filter(|r| r.uuid.is_some() && r.uuid.as_ref() == u)
                .collect();
            // --from: only when the remote has it, or the log says so.
            match entries.first() {
                Some(e) if env.should_get_from(e, &item.key)? => entries,
                _ => return Ok(false),
            }
        }
        None => env
            .remotes
            .iter()
            .filter(|r| r.uuid.as_ref().is_some_and(|u| locs.contains(u)))
            .collect(),
    };
    let mut action = env.start(reporter, item)?;
    if candidates.is_empty() {
        action.note("not available")?;
        env.show_locations(
            &mut action,
            &item.key,
            &[],
            "No other repository is known to contain the file.",
        )?;
        action.end(false)?;
        return Ok(true);
    }
    let mut tried = Vec::new();
    let mut tried_uuids = Vec::new();
    for entry in candidates {
        tried.push(entry.name.clone());
        tried_uuids.extend(entry.uuid.clone());
        let Ok(remote) = &entry.remote else {
            continue;
        };
        match env.download(&mut action, remote.as_ref(), item) {
            Ok(()) => {
                action.end(true)?;
                return Ok(true);
            }
            Err(e) => action.warning(&xfer::retrieve_error(&e)),
        }
    }
    env.report_unreachable(&mut action, &item.key, &tried, &tried_uuids)?;
    action.end(false)?;
    Ok(true)
}
