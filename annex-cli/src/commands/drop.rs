//! `drop`: removes content from this repository (or `--from` a remote)
//! when enough other copies are verified at that moment.

use super::xfer::{self, Env, Item, Selection};
use crate::action::{OutputArgs, Reporter};
use crate::context::Ctx;
use crate::error::CommandError;
use crate::progress::ProgressMode;

/// Arguments of `drop`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Drop content from this remote.
    #[arg(long = "from", short = 'f', value_name = "REMOTE")]
    pub from: Option<String>,
    /// Drop even when numcopies and mincopies cannot be verified.
    #[arg(long = "force")]
    pub force: bool,
    /// With --from, act only where the location log says the remote has it.
    #[arg(long = "fast")]
    pub fast: bool,
    #[command(flatten)]
    sel: Selection,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    common: crate::action::CommonArgs,
}

/// Runs `drop`.
pub fn run(args: Args) -> Result<(), CommandError> {
    let mut reporter = args.out.reporter("drop");
    let _jobs = args.common.jobs()?;
    let ctx = Ctx::open(&args.common.config, args.out.quiet || reporter.is_json())?;
    let progress = ProgressMode::choose(args.out.json, args.out.json_progress, args.out.quiet);
    let env = Env::open(ctx, progress)?;
    let from = match &args.from {
        Some(name) => Some(env.remote_named(name)?),
        None => None,
    };
    xfer::for_each(&env, &args.sel, &mut reporter, |env, reporter, item| {
        drop_one(env, reporter, item, from, &args)
    })?;
    env.finish(&reporter)?;
    crate::global::finish_size_limit(reporter.finish())
}

fn drop_one(
    env: &Env,
    reporter: &mut Reporter,
    item: &Item,
    from: Option<&xfer::RemoteEntry>,
    args: &Args,
) -> Result<bool, CommandError> {
    match from {
        None => {
            if !env.ctx.store.has(&item.key) {
                // The log may still say it is here (a drop killed after the
                // content went): corrected, silently.
                env.forget_lost_here(&item.key)?;
                return Ok(false);
            }
            if args.sel.auto && !env.auto_allows_drop(item, env.here())? {
                return Ok(false);
            }
            if !env.admit(item) {
                return Ok(false);
            }
            let mut action = env.start(reporter, item)?;
            let ok = env.drop_here(
                &mut action,
                item,
                args.force,
                None,
                "Rather than dropping this file, try using: git annex move",
            )?;
            action.end(ok)?;
            Ok(true)
        }
        Some(entry) => {
            let Some(u) = entry.uuid.as_ref() else {
                return Err(CommandError::failed(format!(
                    "cannot determine uuid for {} (perhaps you need to run \"git annex sync\"?)",
                    entry.name
                )));
            };
            // --auto and --fast go by the location log: only what it says
            // is there.
            if (args.sel.auto || args.fast)
                && (!env.locations(&item.key)?.contains(u)
                    || (args.sel.auto && !env.auto_allows_drop(item, u)?))
            {
                return Ok(false);
            }
            if !env.admit(item) {
                return Ok(false);
            }
            let mut action = env.start(reporter, item)?;
            action.note(&format!("from {}...", entry.name))?;
            let ok = env.drop_remote_item(&mut action, entry, item, args.force, None)?;
            action.end(ok)?;
            Ok(true)
        }
    }
}
