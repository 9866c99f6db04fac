//! `init [DESC]`: make the current git repository a git-annex repository
//! (version 10), or re-initialize one keeping its UUID.

use std::path::Path;

use annex_core::gitrepo::ObjectId;
use annex_core::repo::{Repo, RepoError};

use crate::error::{CommandError, ErrorKind};
use crate::output::outln;

/// Arguments of `init`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A description of this repository, shown by `info` and `whereis`.
    description: Option<String>,
    /// Print a JSON record instead of the usual progress line.
    #[arg(long)]
    json: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
    /// Override the default repository version (older versions than the
    /// supported ones are upgraded at once, as git-annex does).
    #[arg(long = "version", value_name = "VALUE")]
    version: Option<String>,
}

/// Checks `init --version VALUE` as git-annex does: versions 0 to 7 are
/// upgraded at once to the current one, 8, 9 and 10 are made as asked,
/// others are refused. Returns the version to make.
fn check_version(value: &str) -> Result<u32, CommandError> {
    let v: u32 = value
        .parse()
        .map_err(|_| CommandError::user("option --version: version parse error"))?;
    if v <= 7 {
        Ok(annex_core::repo::VERSION)
    } else if (8..=annex_core::repo::VERSION).contains(&v) {
        Ok(v)
    } else {
        Err(CommandError::user(format!(
            "option --version: {v} is not a currently supported repository version"
        )))
    }
}

/// Initializes the repository at or above the current directory.
pub fn run(args: Args) -> Result<(), CommandError> {
    let version = match &args.version {
        Some(v) => check_version(v)?,
        None => annex_core::repo::VERSION,
    };
    let here = std::env::current_dir().map_err(|e| {
        CommandError::with_message(ErrorKind::Failure, "cannot read the current directory", e)
    })?;
    // Whether init records anything in the branch shows as its tip moving;
    // git-annex then says "(recording state in git...)".
    let tip_before = branch_tip(&here);
    let result = Repo::init_version(&here, args.description.as_deref(), version);
    // As git-annex's init: every remote's `git-annex` branch is merged in
    // (the branch is created from `origin/git-annex` alone).
    let merged = match &result {
        Ok(repo) => merge_remote_branches(repo)?,
        Err(_) => Vec::new(),
    };
    if let Err(RepoError::NotAGitRepo { .. }) = &result {
        // As git-annex: no JSON record, the error alone.
        return Err(CommandError::failed(format!(
            "{}: not in a git repository",
            here.display()
        )));
    }
    if args.json {
        let errors: Vec<String> = result
            .as_ref()
            .err()
            .map(|e| e.to_string())
            .into_iter()
            .collect();
        let record = serde_json::json!({
            "command": "init",
            "error-messages": errors,
            "input": [],
            "success": result.is_ok(),
        });
        outln!("{record}")?;
        return result.map(drop).map_err(CommandError::from);
    }
    let repo = result?;
    // A clone of a repository in an adjusted branch: its basis set up.
    if let Some(top) = repo.work_tree() {
        annex_ops::adjust::check_adjusted_clone(top)
            .map_err(|e| CommandError::failed(e.to_string()))?;
    }
    // As git-annex's init: special remotes with `autoenable=true` are
    // enabled, each announced inside the action.
    // (Opening the repository for it would upgrade one made at an older
    // version: such repositories are left alone.)
    let autoenabled = if version == annex_core::repo::VERSION {
        autoenable(&repo)
    } else {
        Vec::new()
    };
    if !args.quiet && !autoenabled.is_empty() {
        crate::output::bytes(
            format!("init {} ", args.description.as_deref().unwrap_or("")).as_bytes(),
        )?;
        for (name, error) in &autoenabled {
            outln!("(Auto enabling special remote {name}...)")?;
            if let Some(e) = error {
                eprintln!("\n  {e}");
            }
        }
        outln!("ok")?;
        if branch_tip_of(&repo) != tip_before {
            outln!("(recording state in git...)")?;
        }
    } else if !args.quiet {
        if merged.is_empty() {
            outln!("init {} ok", args.description.as_deref().unwrap_or(""))?;
        } else {
            // The merges are announced inside the action, as git-annex does.
            outln!(
                "init {} (merging {} into git-annex...)",
                args.description.as_deref().unwrap_or(""),
                merged.join(" ")
            )?;
            outln!("(recording state in git...)")?;
            outln!("ok")?;
        }
        if branch_tip_of(&repo) != tip_before {
            outln!("(recording state in git...)")?;
        }
    }
    Ok(())
}

/// Enables the special remotes whose `remote.log` says `autoenable=true`
/// and commits what that recorded; each name with its error, if any.
fn autoenable(repo: &Repo) -> Vec<(String, Option<String>)> {
    // Nothing to do (the usual case): the repository is not opened again.
    let wanted = repo
        .branch()
        .ok()
        .and_then(|b| b.get(b"remote.log").ok())
        .is_some_and(|log| log.windows(15).any(|w| w == b"autoenable=true"));
    if !wanted {
        return Vec::new();
    }
    let start = repo.work_tree().unwrap_or(repo.git_dir()).to_path_buf();
    let Ok((session, _)) =
        annex_ops::session::Session::open(&annex_ops::session::OpenOptions::new(&start))
    else {
        return Vec::new();
    };
    let out: Vec<(String, Option<String>)> = annex_ops::special::autoenable(&session)
        .into_iter()
        .map(|(name, r)| (name, r.err().map(|e| e.to_string())))
        .collect();
    if !out.is_empty() {
        let _ = session.commit();
    }
    out
}

/// Merges the remotes' `git-annex` branches into the branch; returns the
/// names merged (`other/git-annex`).
fn merge_remote_branches(repo: &Repo) -> Result<Vec<String>, CommandError> {
    let outcome = repo.branch()?.update()?;
    Ok(outcome
        .merged
        .into_iter()
        .map(|(_, name)| {
            name.strip_prefix("refs/remotes/")
                .unwrap_or(&name)
                .to_string()
        })
        .collect())
}

fn branch_tip(path: &Path) -> Option<ObjectId> {
    branch_tip_of(&Repo::open(path).ok()?)
}

fn branch_tip_of(repo: &Repo) -> Option<ObjectId> {
    repo.branch().ok()?.tip().ok()?.map(ObjectId::from)
}

#[cfg(test)]
mod tests {
    use super::check_version;

    #[test]
    fn init_version_is_checked_as_git_annex_checks_it() {
        for ok in ["0", "5", "7", "8", "9", "10"] {
            assert!(check_version(ok).is_ok(), "{ok}");
        }
        for bad in ["11", "x", "-1", ""] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
    }
}
