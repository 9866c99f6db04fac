//! `move` (and, sharing it, `copy`): moves content to (`--to`) or from
//! (`--from`) a remote; a move drops the source copy afterwards when that
//! keeps enough copies.

use annex_core::key::Key;
use annex_core::transfer::Direction;
use annex_ops::drop::DropOutcome;
use annex_ops::get::{FromOptions, FromOutcome};
use annex_ops::put::{PutOptions, PutOutcome};

use super::xfer::{self, Env, Item, RemoteEntry, Selection};
use crate::action::{OutputArgs, Reporter};
use crate::context::Ctx;
use crate::error::CommandError;
use crate::progress::ProgressMode;

/// Arguments of `move` and `copy`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Move or copy content from this remote to here.
    #[arg(long = "from", short = 'f', value_name = "REMOTE")]
    pub from: Option<String>,
    /// Move or copy content from here to this remote.
    #[arg(long = "to", short = 't', value_name = "REMOTE")]
    pub to: Option<String>,
    /// Drop the source copy even when numcopies cannot be verified.
    #[arg(long = "force")]
    pub force: bool,
    /// Trust the location log instead of checking the remote.
    #[arg(long = "fast")]
    pub fast: bool,
    #[command(flatten)]
    sel: Selection,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    common: crate::action::CommonArgs,
}

/// Copy or move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Keep the source copy.
    Copy,
    /// Drop the source copy.
    Move,
}

/// Runs `move`.
pub fn run(args: Args) -> Result<(), CommandError> {
    // git-annex's move has no --auto (the option is shared with copy here).
    if args.sel.auto {
        return Err(CommandError::failed("Invalid option `--auto'"));
    }
    run_mode(args, Mode::Move)
}

/// Runs `copy` or `move`.
pub fn run_mode(args: Args, mode: Mode) -> Result<(), CommandError> {
    let name = match mode {
        Mode::Copy => "copy",
        Mode::Move => "move",
    };
    let mut reporter = args.out.reporter(name);
    let jobs = args.common.jobs()?;
    let (remote_name, to) = match (&args.from, &args.to) {
        (Some(f), None) => (f.clone(), false),
        (None, Some(t)) => (t.clone(), true),
        (Some(_), Some(_)) => {
            return Err(CommandError::failed(
                "--from and --to together are not supported yet",
            ));
        }
        (None, None) => {
            return Err(CommandError::failed("Specify --from or --to"));
        }
    };
    let ctx = Ctx::open(&args.common.config, args.out.quiet || reporter.is_json())?;
    let progress = ProgressMode::choose(args.out.json, args.out.json_progress, args.out.quiet);
    let mut env = Env::open(ctx, progress)?;
    env.force = args.force;
    env.enforce_maxsize = args.sel.auto;
    let entry = env.remote_named(&remote_name)?;
    let put = PutOptions {
        moving: mode == Mode::Move,
        force: args.force,
        fast: args.fast,
        auto: args.sel.auto,
    };
    if to && jobs > 1 && !args.sel.batch && !crate::global::size_limited() {
        // Uploads run in parallel; then each is reported (and, for a
        // move, dropped here) in order.
        if let Some(remote) = entry.usable() {
            let items = env.items(&args.sel, &mut reporter)?;
            for chunk in items.chunks(jobs * 8) {
                let mut wanted = Vec::new();
                for (i, item) in chunk.iter().enumerate() {
                    if env.session.store.has(&item.key)
                        && (!args.sel.auto
                            || mode == Mode::Move
                            || env.auto_wants_copy(item, entry.uuid.as_ref())?)
                    {
                        wanted.push(i);
                    }
                }
                // The remote is asked about the whole chunk at once.
                let keys: Vec<&Key> = wanted.iter().map(|&i| &chunk[i].key).collect();
                let plan: Vec<xfer::Planned<'_>> = wanted
                    .iter()
                    .zip(remote.check_present_many(&keys))
                    .filter(|(_, there)| matches!(there, Ok(false)))
                    .map(|(&index, _)| xfer::Planned { index, remote })
                    .collect();
                let command = if mode == Mode::Move { "move" } else { "copy" };
                let done = xfer::run_parallel(&env, chunk, &plan, Direction::Upload, jobs, command);
                let uploaded: Vec<&Key> = plan
                    .iter()
                    .filter(|p| done[p.index])
                    .map(|p| &chunk[p.index].key)
                    .collect();
                env.confirm_uploads(remote, &uploaded);
                // Keys this chunk moved away: another file of the same key
                // is shown as moved too, as git-annex's concurrent moves
                // show it (checked against the reference).
                let mut moved = std::collections::HashSet::new();
                for (i, item) in chunk.iter().enumerate() {
                    let uploaded = done[i] && plan.iter().any(|p| p.index == i);
                    if mode == Mode::Move
                        && moved.contains(&item.key)
                        && !env.session.store.has(&item.key)
                    {
                        let action = env.start(&mut reporter, item)?;
                        action.end(true)?;
                        continue;
                    }
                    to_one(&env, &mut reporter, item, entry, put, uploaded)?;
                    if mode == Mode::Move && !env.session.store.has(&item.key) {
                        moved.insert(&item.key);
                    }
                }
            }
            env.finish(&reporter)?;
            return reporter.finish();
        }
    }
    let from = FromOptions {
        moving: mode == Mode::Move,
        force: args.force,
        auto: args.sel.auto,
    };
    xfer::for_each(&env, &args.sel, &mut reporter, |env, reporter, item| {
        if to {
            to_one(env, reporter, item, entry, put, false)
        } else {
            from_one(env, reporter, item, entry, from)
        }
    })?;
    env.finish(&reporter)?;
    crate::global::finish_size_limit(reporter.finish())
}

pub(super) fn to_one(
    env: &Env,
    reporter: &mut Reporter,
    item: &Item,
    entry: &RemoteEntry,
    options: PutOptions,
    uploaded: bool,
) -> Result<bool, CommandError> {
    if !uploaded && !env.wants_put(item, entry, options)? {
        return Ok(false);
    }
    if !uploaded && !env.admit(item) {
        return Ok(false);
    }
    let mut action = env.start(reporter, item)?;
    let outcome = env.put(
        item,
        entry,
        options,
        uploaded,
        &mut env.observer(&mut action, item),
    )?;
    let ok = match outcome {
        PutOutcome::Unreachable => {
            action.note(&format!("unable to check {}", entry.name))?;
            false
        }
        PutOutcome::CheckFailed(e) => {
            action.note(&e.to_string())?;
            false
        }
        PutOutcome::Failed => false,
        PutOutcome::Copied => true,
        PutOutcome::Moved { dropped, verified } => {
            let ok = env.show_drop(&mut action, &dropped, "", None)?;
            if !ok && verified && matches!(dropped, DropOutcome::Refused(_)) {
                action.long_note("Content not dropped from here.")?;
            }
            ok
        }
    };
    action.end(ok)?;
    Ok(true)
}

fn from_one(
    env: &Env,
    reporter: &mut Reporter,
    item: &Item,
    entry: &RemoteEntry,
    options: FromOptions,
) -> Result<bool, CommandError> {
    if !env.wants_from(item, entry, options)? || !env.admit(item) {
        return Ok(false);
    }
    let mut action = env.start(reporter, item)?;
    let outcome = env.get_from(item, entry, options, &mut env.observer(&mut action, item))?;
    let ok = match outcome {
        FromOutcome::Unreachable | FromOutcome::Failed => false,
        FromOutcome::Got => true,
        FromOutcome::Moved(dropped) => {
            let nolocmsg = "";
            env.show_drop(&mut action, &dropped, nolocmsg, Some(&entry.name))?
        }
    };
    action.end(ok)?;
    Ok(true)
}
