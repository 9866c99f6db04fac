//! `merge [REF...]`: git-annex's `merge`. Without refs: merges the remotes'
//! `git-annex` branches into ours (`merge git-annex`, committing the
//! journal too), then the local `synced/BRANCH` into the current branch
//! when it has something new. With refs: merges each into the current
//! branch (`merge REF`). Conflicts are left to the user, as git-annex's
//! `merge` leaves them (`resolvemerge` resolves them).

use annex_core::repo::Repo;
use annex_core::state::State;
use annex_sync::sync::SyncRepo;

use super::sync::{MergeOptions, Out, merge_local, merge_one, start_other};
use crate::action::OutputArgs;
use crate::error::CommandError;

/// Arguments of `merge`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Branches or other refs to merge into the current branch.
    #[arg(value_name = "REF")]
    refs: Vec<String>,
    /// Allow merging unrelated histories.
    #[arg(long = "allow-unrelated-histories")]
    allow_unrelated_histories: bool,
    /// Do not allow merging unrelated histories (the default).
    #[arg(long = "no-allow-unrelated-histories")]
    no_allow_unrelated_histories: bool,
    #[command(flatten)]
    out: OutputArgs,
}

/// Runs `merge`.
pub fn run(args: Args) -> Result<(), CommandError> {
    let cwd = std::env::current_dir()
        .map_err(|e| CommandError::failed(format!("cannot read the current directory: {e}")))?;
    let repo = Repo::open(&cwd).map_err(|_| CommandError::failed("Not in a git repository."))?;
    repo.check_version()?;
    if repo.uuid().is_none() {
        return Err(CommandError::failed("First run: git-annex init"));
    }
    let mut out = Out::new(&args.out, true);
    let json = out.is_json();
    let options = MergeOptions {
        allow_unrelated: args.allow_unrelated_histories && !args.no_allow_unrelated_histories,
        // git-annex's `merge` does not resolve conflicts.
        resolve: false,
        quiet: args.out.quiet || json,
    };
    let mut sync = SyncRepo::open(repo.git_dir(), repo.work_tree())?;
    if args.refs.is_empty() {
        let state = State::new(repo.branch()?);
        let mut rep = out.reporter("merge");
        let mut a = start_other(&mut rep, "git-annex", false)?;
        let outcome = state.branch().update()?;
        let mut text = String::new();
        if !outcome.merged.is_empty() {
            let names: Vec<&str> = outcome
                .merged
                .iter()
                .map(|(_, n)| n.strip_prefix("refs/remotes/").unwrap_or(n))
                .collect();
            text.push_str(&format!(
                "(merging {} into git-annex...)\n",
                names.join(" ")
            ));
            if !outcome.fast_forwarded {
                text.push_str("(recording state in git...)\n");
            }
        }
        for skipped in &outcome.skipped {
            eprintln!("git-annex-rs: {skipped}");
        }
        // Committed explicitly, in case no remote branch was merged.
        if state.commit()?.is_some() && text.is_empty() {
            text.push_str("(recording state in git...)\n");
        }
        a.say(text.as_bytes())?;
        out.end(a, true)?;
        if repo.work_tree().is_some() {
            let branch = sync.current_branch()?;
            merge_local(&mut sync, branch.as_ref(), options, &mut out)?;
        }
    } else {
        for r in &args.refs {
            let mut rep = out.reporter("merge");
            let mut a = start_other(&mut rep, r, false)?;
            a.say(b"\n")?;
            let ok = merge_one(&mut sync, r, options, json, &mut a)?;
            out.end(a, ok)?;
        }
    }
    out.finish("merge")
}
