//! `adjust`: enter an adjusted branch (`--unlock`, `--lock`, `--fix`,
//! `--hide-missing`, `--hide-unwanted`, `--unlock-present`), made and checked out by
//! [`annex_ops::adjust`], shown as git-annex shows it (`adjust  ok`, the
//! checkout's own output between).

use annex_ops::adjust::{
    Adjuster, Adjustment, Entered, LinkAdjustment, LockUnlockPresent, PresenceAdjustment,
};

use crate::action::OutputArgs;
use crate::error::CommandError;

/// Arguments of `adjust`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("mode").required(true).multiple(true)
    .args(["unlock", "lock", "fix", "hide_missing", "hide_unwanted", "unlock_present"])))]
pub struct Args {
    /// Unlock annexed files.
    #[arg(long, overrides_with_all = ["lock", "fix"])]
    unlock: bool,
    /// Lock annexed files.
    #[arg(long, overrides_with_all = ["unlock", "fix"])]
    lock: bool,
    /// Fix symlinks to annexed files.
    #[arg(long, overrides_with_all = ["unlock", "lock"])]
    fix: bool,
    /// Hide annexed files whose content is not present.
    #[arg(long = "hide-missing")]
    hide_missing: bool,
    /// Hide annexed files that are not wanted.
    #[arg(long = "hide-unwanted")]
    hide_unwanted: bool,
    /// Unlock files whose content is present; lock the rest.
    #[arg(long = "unlock-present", conflicts_with_all = ["unlock", "lock", "fix", "hide_missing", "hide_unwanted"])]
    unlock_present: bool,
    /// Overwrite an adjusted branch that exists already.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    output: OutputArgs,
    /// Override a git config setting for this command (`name=value`).
    #[arg(short = 'c', long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
}

impl Args {
    fn adjustment(&self) -> Option<Adjustment> {
        if self.unlock_present {
            return Some(Adjustment::LockUnlockPresent(
                LockUnlockPresent::UnlockPresent,
            ));
        }
        // git-annex combines the options in the order given: read it from
        // the command line (clap has checked the options already).
        let mut flags = Vec::new();
        for a in std::env::args_os().skip(1) {
            let f = match a.to_str() {
                Some("--unlock") => Adjustment::Link(LinkAdjustment::Unlock),
                Some("--lock") => Adjustment::Link(LinkAdjustment::Lock),
                Some("--fix") => Adjustment::Link(LinkAdjustment::Fix),
                Some("--hide-missing") => {
                    Adjustment::Presence(PresenceAdjustment::HideMissing, None)
                }
                Some("--hide-unwanted") => {
                    Adjustment::Presence(PresenceAdjustment::HideUnwanted, None)
                }
                Some("--") => break,
                _ => continue,
            };
            flags.push(f);
        }
        Adjustment::combine(&flags)
    }
}

/// Enters the adjusted branch.
pub fn run(args: Args) -> Result<(), CommandError> {
    let adj = args
        .adjustment()
        .ok_or_else(|| CommandError::user("adjust: no adjustment given"))?;
    let cwd = std::env::current_dir()
        .map_err(|e| CommandError::failed(format!("cannot read the current directory: {e}")))?;
    let adjuster = Adjuster::open(&cwd).map_err(|e| match e {
        annex_ops::adjust::AdjustError::Bare => CommandError::user(e.to_string()),
        e => CommandError::failed(e.to_string()),
    })?;
    let mut reporter = args.output.reporter("adjust");
    let mut action = reporter.start_opt(None, None, None)?;
    // git-annex's showOutput: the action's line ends before git's
    // checkout prints.
    let entered = adjuster.enter(&adj, args.force, &mut || {
        let _ = action.say(b"\n");
    });
    let ok = match entered {
        Ok(Entered::Switched { .. }) => true,
        Ok(Entered::Updated { ok }) => ok,
        Ok(Entered::CheckoutFailed) => false,
        Ok(Entered::NotOnBranch) => {
            action.warn("not on any branch!")?;
            false
        }
        Ok(Entered::Exists { branch, orig }) => {
            action.warn(&format!(
                "adjusted branch {} already exists.",
                annex_ops::adjust::describe(&branch)
            ))?;
            action.warn(&format!(
                "Aborting because that branch may have changes that have not yet reached {}",
                annex_ops::adjust::describe(&orig)
            ))?;
            action.warn("You can check out the adjusted branch manually to enter it, or add the --force option to overwrite the old branch.")?;
            false
        }
        Err(e) => {
            action.fail(&e.to_string())?;
            false
        }
    };
    action.end(ok)?;
    reporter.finish()
}
