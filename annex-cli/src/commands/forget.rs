//! `forget --force`: the `git-annex` branch's git history forgotten (it
//! starts again from one commit, and other repositories do the same when
//! they merge it), as git-annex does; without `--force` it refuses. With
//! `--drop-dead`, what the logs say of dead repositories goes too (the
//! `ForgetDeadRemotes` transition, which merging repositories perform
//! as well).

use crate::action::{CommonArgs, Mode, Reporter};
use crate::context::Ctx;
use crate::error::CommandError;

/// Arguments of `forget`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Really forget the history (it deletes metadata).
    #[arg(long)]
    force: bool,
    /// Drop references to dead repositories.
    #[arg(long)]
    drop_dead: bool,
    /// Avoid the usual informational output.
    #[arg(long, short = 'q')]
    quiet: bool,
    #[command(flatten)]
    common: CommonArgs,
}

/// Forgets the history.
pub fn run(args: Args) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.common.config, args.quiet)?;
    let mut reporter = Reporter::new("forget", Mode::Plain).quiet(args.quiet);
    let mut action = reporter.start(None, None, b"git-annex")?;
    if !args.force {
        action.long_note(
            "To forget git-annex branch history, you must specify --force. This deletes metadata!",
        )?;
        action.end(false)?;
        return reporter.finish();
    }
    if !args.quiet {
        // On the action's line, as git-annex shows it.
        crate::output::outln!("(recording state in git...)")?;
        if args.drop_dead {
            // git-annex records state once more for the files it rewrote,
            // and once more again the first time the branch drops the dead.
            let done_before = ctx
                .state
                .branch()
                .get(b"transitions.log")?
                .split(|&b| b == b'\n')
                .any(|l| l.starts_with(b"ForgetDeadRemotes "));
            crate::output::outln!("(recording state in git...)")?;
            if !done_before {
                crate::output::outln!("(recording state in git...)")?;
            }
        }
    }
    ctx.state.forget_history(args.drop_dead)?;
    action.end(true)?;
    reporter.finish()
}
