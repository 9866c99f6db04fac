//! `post-receive`: what git's post-receive hook runs in a non-bare
//! repository that was pushed to (`init` writes the hook). git-annex uses
//! it to emulate `receive.denyCurrentBranch=updateInstead` in adjusted
//! branches and to update export remotes that track a pushed branch; this
//! repository has neither adjusted branches nor export remotes, so there
//! is nothing to update, as git-annex finds in such a repository. The
//! refs pushed (on stdin) are not read, as git-annex reads them only for
//! export remotes. A repository checked out on an adjusted branch with
//! `updateInstead` set is refused, naming what is missing, rather than
//! left silently behind.

use crate::commands::pre_commit::HookRepo;
use crate::error::CommandError;

/// Arguments of `post-receive` (none).
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `post-receive`.
pub fn run(_args: Args) -> Result<(), CommandError> {
    // git runs the hook in the git directory with GIT_DIR=.; GitRepo
    // opens that repository as git would.
    let hr = HookRepo::open()?;
    let update_instead = hr
        .repo
        .config_string("receive.denyCurrentBranch")
        .is_some_and(|v| v == "updateInstead");
    let head = std::fs::read(hr.repo.git_dir().join("HEAD")).unwrap_or_default();
    let adjusted = head.starts_with(b"ref: refs/heads/adjusted/");
    if update_instead && adjusted {
        return Err(CommandError::failed(
            "cannot update the adjusted branch that was pushed to: adjusted branches are not supported by git-annex-rs yet",
        ));
    }
    Ok(())
}
