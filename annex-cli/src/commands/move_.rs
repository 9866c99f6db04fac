//! `move` (and, sharing it, `copy`): moves content to (`--to`) or from
//! (`--from`) a remote; a move drops the source copy afterwards when that
//! keeps enough copies.

use annex_core::transfer::Direction;

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
    if to && jobs > 1 && !args.sel.batch {
        // Uploads run in parallel; then each is reported (and, for a
        // move, dropped here) in order.
        if let Ok(remote) = &entry.remote {
            let items = env.items(&args.sel, &mut reporter)?;
            for chunk in items.chunks(jobs * 8) {
                let mut plan = Vec::new();
                for (i, item) in chunk.iter().enumerate() {
                    if env.ctx.store.has(&item.key)
                        && (!args.sel.auto
                            || mode == Mode::Move
                            || env.auto_wants_copy(item, entry.uuid.as_ref())?)
                        && matches!(remote.check_present(&item.key), Ok(false))
                    {
                        plan.push(xfer::Planned {
                            index: i,
                            remote: remote.as_ref(),
                        });
                    }
                }
                let command = if mode == Mode::Move { "move" } else { "copy" };
                let done = xfer::run_parallel(&env, chunk, &plan, Direction::Upload, jobs, command);
                // Keys this chunk moved away: another file of the same key
                // is shown as moved too, as git-annex's concurrent moves
                // show it (checked against the reference).
                let mut moved = std::collections::HashSet::new();
                for (i, item) in chunk.iter().enumerate() {
                    let uploaded = done[i] && plan.iter().any(|p| p.index == i);
                    if mode == Mode::Move
                        && moved.contains(&item.key)
                        && !env.ctx.store.has(&item.key)
                    {
                        let action = env.start(&mut reporter, item)?;
                        action.end(true)?;
                        continue;
                    }
                    to_one(&env, &mut reporter, item, entry, mode, &args, uploaded)?;
                    if mode == Mode::Move && !env.ctx.store.has(&item.key) {
                        moved.insert(&item.key);
                    }
                }
            }
            env.finish(&reporter)?;
            return reporter.finish();
        }
    }
    xfer::for_each(&env, &args.sel, &mut reporter, |env, reporter, item| {
        if to {
            to_one(env, reporter, item, entry, mode, &args, false)
        } else {
            from_one(env, reporter, item, entry, mode, &args)
        }
    })?;
    env.finish(&reporter)?;
    reporter.finish()
}

fn to_one(
    env: &Env,
    reporter: &mut Reporter,
    item: &Item,
    entry: &RemoteEntry,
    mode: Mode,
    args: &Args,
    uploaded: bool,
) -> Result<bool, CommandError> {
    if !env.ctx.store.has(&item.key) {
        return Ok(false);
    }
    if entry.uuid.as_ref() == Some(env.here()) {
        return Ok(false);
    }
    if !uploaded
        && args.sel.auto
        && mode == Mode::Copy
        && !env.auto_wants_copy(item, entry.uuid.as_ref())?
    {
        return Ok(false);
    }
    // --fast (copy only): the location log decides, as git-annex's
    // `expectedPresent`.
    let fast = args.fast && mode == Mode::Copy && !uploaded;
    if fast
        && let Some(u) = entry.uuid.as_ref()
        && env.locations(&item.key)?.contains(u)
    {
        return Ok(false);
    }
    let mut action = env.start(reporter, item)?;
    let remote = match &entry.remote {
        Ok(r) => r.as_ref(),
        Err(_) => {
            action.note(&format!("unable to check {}", entry.name))?;
            action.end(false)?;
            return Ok(true);
        }
    };
    if uploaded {
        action.note(&format!("to {}...", remote.name()))?;
        env.ctx.state.set_present(&item.key, remote.uuid(), true)?;
        env.reserver.finish(remote.uuid(), &item.key);
    }
    let there = if uploaded || fast {
        false
    } else {
        match remote.check_present(&item.key) {
            Ok(b) => b,
            Err(e) => {
                action.note(&e.to_string())?;
                action.end(false)?;
                return Ok(true);
            }
        }
    };
    if !there && !uploaded {
        action.note(&format!("to {}...", remote.name()))?;
        if let Err(e) = env.upload(&mut action, remote, item) {
            action.warning(&e.to_string());
            action.end(false)?;
            return Ok(true);
        }
    } else if !env.locations(&item.key)?.contains(remote.uuid()) {
        env.ctx.state.set_present(&item.key, remote.uuid(), true)?;
    }
    if mode == Mode::Copy {
        action.end(true)?;
        return Ok(true);
    }
    // The move: the remote now has it; drop here. When the remote had it
    // already, the copies must be verified (it is checked first).
    let ok = if !there {
        env.drop_here(&mut action, item, true, None, "")?
    } else {
        let ok = env.drop_here(&mut action, item, args.force, Some(remote.uuid()), "")?;
        if !ok {
            action.long_note("Content not dropped from here.")?;
        }
        ok
    };
    action.end(ok)?;
    Ok(true)
}

fn from_one(
    env: &Env,
    reporter: &mut Reporter,
    item: &Item,
    entry: &RemoteEntry,
    mode: Mode,
    args: &Args,
) -> Result<bool, CommandError> {
    let here_has = env.ctx.store.has(&item.key);
    if mode == Mode::Copy && here_has {
        return Ok(false);
    }
    if !env.should_get_from(entry, &item.key)? {
        return Ok(false);
    }
    if args.sel.auto && mode == Mode::Copy && !env.auto_wants_copy(item, None)? {
        return Ok(false);
    }
    let mut action = env.start(reporter, item)?;
    let remote = match &entry.remote {
        Ok(r) => r.as_ref(),
        Err(_) => {
            action.note(&format!("from {}...", entry.name))?;
            action.warning("cannot access remote");
            action.end(false)?;
            return Ok(true);
        }
    };
    if !here_has {
        if let Err(e) = env.download(&mut action, remote, item) {
            action.warning(&xfer::retrieve_error(&e));
            action.end(false)?;
            return Ok(true);
        }
    } else {
        action.note(&format!("from {}...", remote.name()))?;
    }
    if mode == Mode::Copy {
        action.end(true)?;
        return Ok(true);
    }
    // Moving: drop from the remote. When we did not have it before, the
    // copy count is unchanged and the drop is allowed.
    let ok = env.drop_remote_item(
        &mut action,
        entry,
        item,
        args.force || !here_has,
        Some(&entry.name),
    )?;
    action.end(ok)?;
    Ok(true)
}
