//! `mirror --to REMOTE | --from REMOTE [PATH...]`: makes the remote's
//! content match this repository's, or this repository's match the
//! remote's ([`annex_ops::mirror`] decides each item). Its actions are
//! shown as the commands they are (`copy FILE (to REMOTE...)`, `drop FILE
//! (from REMOTE...)`, `get FILE (from REMOTE...)`, `drop FILE`), plain or
//! `--json`; their failures are counted together (`mirror: N failed`).

use annex_ops::get::{FromOptions, FromOutcome};
use annex_ops::mirror::{self, Step};
use annex_ops::put::PutOptions;

use super::move_;
use super::xfer::{self, Env, Selection};
use crate::action::OutputArgs;
use crate::context::Ctx;
use crate::error::CommandError;
use crate::progress::ProgressMode;

/// Arguments of `mirror`.
#[derive(clap::Args, Debug)]
#[group(id = "direction", required = true, multiple = false)]
pub struct Args {
    /// Make this repository's content match the remote's.
    #[arg(long = "from", short = 'f', value_name = "REMOTE", group = "direction")]
    from: Option<String>,
    /// Make the remote's content match this repository's.
    #[arg(long = "to", short = 't', value_name = "REMOTE", group = "direction")]
    to: Option<String>,
    #[command(flatten)]
    sel: Selection,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    common: crate::action::CommonArgs,
}

/// Runs `mirror`.
pub fn run(args: Args) -> Result<(), CommandError> {
    let mut reporter = args.out.reporter("mirror");
    let _jobs = args.common.jobs()?;
    let (name, to) = match (&args.from, &args.to) {
        (Some(f), _) => (f.clone(), false),
        (None, Some(t)) => (t.clone(), true),
        (None, None) => return Err(CommandError::failed("Specify --from or --to")),
    };
    let ctx = Ctx::open(&args.common.config, args.out.quiet || reporter.is_json())?;
    let progress = ProgressMode::choose(args.out.json, args.out.json_progress, args.out.quiet);
    let env = Env::open(ctx, progress)?;
    let entry = env.remote_named(&name)?;
    let put = PutOptions {
        moving: false,
        force: false,
        fast: false,
        auto: false,
    };
    xfer::for_each(&env, &args.sel, &mut reporter, |env, reporter, item| {
        let step = if to {
            mirror::to(&env.annex, &item.target)
        } else {
            mirror::from(&env.annex, entry, &item.target)
        };
        if step != Step::Skip && step != Step::Put && !env.admit(item) {
            return Ok(false);
        }
        match step {
            Step::Skip => Ok(false),
            Step::Put => {
                reporter.set_command("copy");
                move_::to_one(env, reporter, item, entry, put, false)
            }
            Step::DropRemote => {
                reporter.set_command("drop");
                let mut action = env.start(reporter, item)?;
                action.note(&format!("from {}...", entry.name))?;
                let ok = env.drop_remote_item(&mut action, entry, item, false, None)?;
                action.end(ok)?;
                Ok(true)
            }
            Step::Get => {
                reporter.set_command("get");
                let options = FromOptions {
                    moving: false,
                    force: false,
                    auto: false,
                };
                let mut action = env.start(reporter, item)?;
                let outcome =
                    env.get_from(item, entry, options, &mut env.observer(&mut action, item))?;
                let ok = matches!(outcome, FromOutcome::Got | FromOutcome::Moved(_));
                action.end(ok)?;
                Ok(true)
            }
            Step::DropHere => {
                reporter.set_command("drop");
                let mut action = env.start(reporter, item)?;
                let ok = env.drop_here(
                    &mut action,
                    item,
                    false,
                    None,
                    "Rather than dropping this file, try using: git annex move",
                )?;
                action.end(ok)?;
                Ok(true)
            }
        }
    })?;
    env.finish(&reporter)?;
    reporter.set_command("mirror");
    crate::global::finish_size_limit(reporter.finish())
}
