//! `get`: makes content of annexed files present here, from the cheapest
//! remote that has it (or `--from` one).

use annex_core::transfer::Direction;
use annex_ops::get::{GetOptions, GetOutcome};

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
        Some(name) => env.remote_named(name)?.uuid.clone(),
        None => None,
    };
    let options = GetOptions {
        from: from.as_ref(),
        from_name: args.from.as_deref(),
        auto: args.sel.auto,
    };
    if jobs > 1 && !args.sel.batch && !crate::global::size_limited() {
        // Downloads run in parallel (a key of several files once); then
        // each is reported and recorded in order. One that failed is tried
        // again alone, which explains it.
        let items = env.items(&args.sel, &mut reporter)?;
        for chunk in items.chunks(jobs * 8) {
            let mut plan = Vec::new();
            for (i, item) in chunk.iter().enumerate() {
                if let Some(remote) = env.first_source(item, options)? {
                    plan.push(xfer::Planned { index: i, remote });
                }
            }
            let done = xfer::run_parallel(&env, chunk, &plan, Direction::Download, jobs, "get");
            for (i, item) in chunk.iter().enumerate() {
                match plan.iter().find(|p| p.index == i) {
                    Some(p) if done[i] => {
                        let mut action = env.start(&mut reporter, item)?;
                        action.note(&format!("from {}...", p.remote.name()))?;
                        env.received(item)?;
                        action.end(true)?;
                    }
                    _ => {
                        get_one(&env, &mut reporter, item, options)?;
                    }
                }
            }
        }
    } else {
        xfer::for_each(&env, &args.sel, &mut reporter, |env, reporter, item| {
            get_one(env, reporter, item, options)
        })?;
    }
    env.finish(&reporter)?;
    crate::global::finish_size_limit(reporter.finish())
}

/// `get` of one item; returns whether an action was shown.
pub fn get_one(
    env: &Env,
    reporter: &mut Reporter,
    item: &Item,
    options: GetOptions<'_>,
) -> Result<bool, CommandError> {
    let Some(sources) = env.get_sources(item, options)? else {
        return Ok(false);
    };
    if !env.admit(item) {
        return Ok(false);
    }
    let mut action = env.start(reporter, item)?;
    let outcome = env.get(item, &sources, &mut env.observer(&mut action, item))?;
    let ok = match outcome {
        GetOutcome::Got { .. } => true,
        GetOutcome::NotAvailable(w) => {
            action.note("not available")?;
            env.show_whereabouts(
                &mut action,
                &w,
                "No other repository is known to contain the file.",
            )?;
            false
        }
        GetOutcome::Failed { tried, whereabouts } => {
            env.report_unreachable(&mut action, &tried, &whereabouts)?;
            false
        }
    };
    action.end(ok)?;
    Ok(true)
}
