//! `dropunused NUMBER|RANGE|all...` and `addunused NUMBER|RANGE|all...`:
//! what the last `unused` listed ([`annex_ops::unused_lists`]) dropped
//! (here, or `--from` a remote) only with numcopies and mincopies proven,
//! as `drop` does (`--force` to skip the check), or added back as files
//! named `unused.KEY`.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use annex_core::backend::Backend;
use annex_core::gitrepo::GitRepo;
use annex_core::ingest::{self, Ingester};
use annex_ops::drop::DropOptions;
use annex_ops::unused_lists::{UnusedListError, UnusedLists, Which, parse_ranges, remove_stale};

use crate::action::{CommonArgs, OutputArgs};
use crate::context::Ctx;
use crate::error::{CommandError, ErrorKind};
use crate::progress::ProgressMode;

use super::xfer::{Env, key_item};

/// Arguments of `dropunused`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Numbers (`3`), ranges (`1-5`) or `all`, from the last `unused`.
    ranges: Vec<String>,
    /// Drop the content from this remote instead of here.
    #[arg(long, short = 'f', value_name = "REMOTE")]
    from: Option<String>,
    /// Drop even when the copies cannot be proven.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// Arguments of `addunused`.
#[derive(clap::Args, Debug)]
pub struct AddArgs {
    /// Numbers (`3`), ranges (`1-5`) or `all`, from the last `unused`.
    ranges: Vec<String>,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

fn list_error(e: UnusedListError) -> CommandError {
    CommandError::new(ErrorKind::Failure, e)
}

/// What `rm` of a drop says when the copies are not proven.
const NOLOCMSG: &str = "Rather than dropping this file, try using: git annex move";

/// Drops the listed content.
pub fn run(args: Args) -> Result<(), CommandError> {
    let json = args.output.json || args.output.json_progress || args.output.json_error_messages;
    let ctx = Ctx::open(&args.common.config, args.output.quiet || json)?;
    let lists = UnusedLists::read(ctx.repo.git_dir());
    let numbers = parse_ranges(&args.ranges, &lists).map_err(list_error)?;
    let mut reporter = ctx.reporter(&args.output, "dropunused");
    let git_dir = ctx.repo.git_dir().to_path_buf();
    let env = Env::open(ctx.clone(), ProgressMode::None)?;
    let remote = match &args.from {
        Some(name) => Some(env.remote_named(name)?),
        None => None,
    };
    for n in numbers {
        let Some((which, key)) = lists.get(n) else {
            continue;
        };
        let input = n.to_string();
        let mut action = reporter.start(None, None, input.as_bytes())?;
        let item = key_item(key.clone());
        let ok = match (which, &remote) {
            (Which::Unused, Some(entry)) => {
                action.note(&format!("from {}", entry.name))?;
                env.drop_remote_item(&mut action, entry, &item, args.force, None)?
            }
            (Which::Unused, None) => {
                if ctx.store.has(key) {
                    let options = DropOptions {
                        force: args.force,
                        first: None,
                    };
                    let outcome = env.annex.drop_unused_here(&item.target, options)?;
                    env.show_drop(&mut action, &outcome, NOLOCMSG, None)?
                } else {
                    true
                }
            }
            (other, _) => match remove_stale(&git_dir, other, key) {
                Ok(()) => true,
                Err(e) => {
                    action.error(&e.to_string());
                    false
                }
            },
        };
        action.end(ok)?;
    }
    env.finish(&reporter)?;
    reporter.finish()
}

/// Adds the listed content back as files `unused.KEY`.
pub fn run_add(args: AddArgs) -> Result<(), CommandError> {
    let json = args.output.json || args.output.json_progress || args.output.json_error_messages;
    let ctx = Ctx::open(&args.common.config, args.output.quiet || json)?;
    let lists = UnusedLists::read(ctx.repo.git_dir());
    let numbers = parse_ranges(&args.ranges, &lists).map_err(list_error)?;
    let mut reporter = ctx.reporter(&args.output, "addunused");
    let wt = ctx.worktree()?;
    let top = wt
        .top()
        .canonicalize()
        .unwrap_or_else(|_| wt.top().to_path_buf());
    let ingester = Ingester::new(top, ctx.store.clone(), Backend::Sha256E);
    let repo = GitRepo::from(wt.repo().clone());
    let mut entries = Vec::new();
    for n in numbers {
        let Some((which, key)) = lists.get(n) else {
            continue;
        };
        let input = n.to_string();
        if which != Which::Unused {
            let mut action = reporter.start(None, None, input.as_bytes())?;
            action.warn("cannot addunused this")?;
            action.end(false)?;
            continue;
        }
        let mut name = b"unused.".to_vec();
        name.extend_from_slice(&annex_core::objects::key_file(key));
        let mut action = reporter.start(Some(&name), None, input.as_bytes())?;
        match ingest::make_link(repo.gix(), &ingester, &name, key, false) {
            Ok(entry) => {
                entries.push(entry);
                action.end(true)?;
            }
            Err(e) => {
                action.error(&format!(
                    "{}: {}",
                    String::from_utf8_lossy(OsStr::from_bytes(&name).as_bytes()),
                    CommandError::from(e)
                ));
                action.end(false)?;
            }
        }
    }
    ingest::stage(repo.gix(), &entries)?;
    if !entries.is_empty() && !reporter.is_json() && !args.output.quiet {
        crate::output::outln!("(recording state in git...)")?;
    }
    ctx.commit(&reporter)?;
    reporter.finish()
}
