//! `unused`: list the content in the annex that no file uses (no ref the
//! used refspec selects, nor the index or work tree), numbered, and write
//! `.git/annex/unused` (and `badunused`, `tmpunused`) for `dropunused`.

use std::collections::HashSet;

use annex_core::key::Key;
use annex_core::unused::{
    all_refspec, keys_in_ref, keys_in_worktree_and_index, keys_logged_for, parse_refspec,
    present_keys, stale_keys, transfer_in_progress, unused_log_path, used_refs, write_unused_log,
};
use serde_json::{Map, Value};

use crate::action::{Action, CommonArgs, OutputArgs, Reporter};
use crate::context::Ctx;
use crate::error::CommandError;

/// Arguments of `unused`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Look for content the location logs put in another repository that
    /// no file uses.
    #[arg(long, short = 'f', value_name = "REMOTE")]
    from: Option<String>,
    /// Refs to consider used (default: all branches), e.g. `+refs/heads/*:-refs/heads/old`.
    #[arg(long = "used-refspec", value_name = "REFSPEC", value_parser = check_refspec)]
    used_refspec: Option<String>,
    /// Only find stale temp and bad files.
    #[arg(long)]
    fast: bool,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

fn check_refspec(s: &str) -> Result<String, String> {
    parse_refspec(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

/// Finds unused content and writes the lists.
pub fn run(args: Args) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.common.config, args.output.quiet)?;
    let refspec = match args
        .used_refspec
        .clone()
        .or_else(|| ctx.config.get_str("annex.used-refspec"))
    {
        Some(s) => parse_refspec(&s)?,
        None => all_refspec(),
    };
    let mut reporter = args.output.reporter("unused");
    if let Some(name) = args.from.as_deref().filter(|r| *r != "." && *r != "here") {
        remote_unused(&ctx, &mut reporter, name, &refspec)?;
        finish_state(&ctx, &reporter, args.output.quiet)?;
        return reporter.finish();
    }
    let mut action = reporter.start(None, None, b".")?;
    action.field("input", Value::Array(Vec::new()));
    let unused = if args.fast {
        action.note("fast mode enabled; only finding stale files")?;
        Vec::new()
    } else {
        action.note("checking for unused data...")?;
        find_unused(&ctx, &refspec, &mut action)?
    };
    let git_dir = ctx.repo.git_dir().to_path_buf();
    let mut n = 0u64;
    n = report(
        &mut action,
        &git_dir,
        "",
        &unused,
        n,
        "Some annexed data is no longer used by any files:",
        true,
    )?;
    let bad = stale_keys(&git_dir.join("annex").join("bad"), &ctx.store, &|_| false)?;
    n = report(
        &mut action,
        &git_dir,
        "bad",
        &bad,
        n,
        "Some corrupted files have been preserved by fsck, just in case:",
        false,
    )?;
    let tmp = stale_keys(&ctx.store.tmp_dir(), &ctx.store, &|k| {
        transfer_in_progress(&git_dir, k)
    })?;
    report(
        &mut action,
        &git_dir,
        "tmp",
        &tmp,
        n,
        "Some partially transferred data exists in temporary files:",
        false,
    )?;
    action.end(true)?;
    finish_state(&ctx, &reporter, args.output.quiet)?;
    reporter.finish()
}

/// Commits whatever waits in the journal, as at the end of any git-annex
/// command.
fn finish_state(ctx: &Ctx, reporter: &Reporter, quiet: bool) -> Result<(), CommandError> {
    if quiet {
        ctx.state.commit()?;
        Ok(())
    } else {
        ctx.commit(reporter)
    }
}

/// `unused --from NAME`: the keys the location logs put in that repository
/// that no file uses.
fn remote_unused(
    ctx: &Ctx,
    reporter: &mut Reporter,
    name: &str,
    refspec: &annex_core::unused::RefSpec,
) -> Result<(), CommandError> {
    let mut action = reporter.start(None, None, name.as_bytes())?;
    action.field("input", Value::Array(Vec::new()));
    let uuid = match super::describe::resolve(ctx, name) {
        Ok(u) => u,
        Err(e) => {
            action.fail(&e.to_string())?;
            return action.end(false);
        }
    };
    action.note("checking for unused data...")?;
    let keys = keys_logged_for(&ctx.state, &uuid)?;
    let unused = exclude_used(ctx, keys, refspec, &mut action)?;
    // The way to drop them is shown when the repository is a remote here.
    let is_remote = ctx
        .config
        .remotes()
        .iter()
        .any(|r| r.uuid.as_ref() == Some(&uuid));
    let list: Vec<(u64, Key)> = unused
        .iter()
        .enumerate()
        .map(|(i, k)| (i as u64 + 1, k.clone()))
        .collect();
    if !list.is_empty() {
        let mut msg = format!("Some annexed data on {name} is not used by any files:\n");
        msg.push_str(&table(&list));
        msg.push_str(WHEREUSED);
        if is_remote {
            msg.push_str(&format!(
                "\nTo remove unwanted data: git-annex dropunused --from {name} NUMBER\n\n"
            ));
        }
        action.long_note(&msg)?;
    }
    action.field("unused-list", list_json(&list));
    write_unused_log(&unused_log_path(ctx.repo.git_dir(), ""), &list)?;
    action.end(true)
}

const WHEREUSED: &str = "(To see where this data was previously used, run: git annex whereused --historical --unused)\n";

/// The `  NUMBER  KEY` table.
fn table(list: &[(u64, Key)]) -> String {
    let mut t = String::from("  NUMBER  KEY\n");
    for (n, k) in list {
        t.push_str(&format!(
            "  {:<6}  {}\n",
            n,
            String::from_utf8_lossy(k.as_bytes())
        ));
    }
    t
}

fn list_json(list: &[(u64, Key)]) -> Value {
    let mut m = Map::new();
    for (n, k) in list {
        m.insert(
            n.to_string(),
            Value::String(String::from_utf8_lossy(k.as_bytes()).into_owned()),
        );
    }
    Value::Object(m)
}

/// The present keys no file uses, in git-annex's order.
fn find_unused(
    ctx: &Ctx,
    refspec: &annex_core::unused::RefSpec,
    action: &mut Action<'_>,
) -> Result<Vec<Key>, CommandError> {
    exclude_used(ctx, present_keys(&ctx.store), refspec, action)
}

/// The keys of `keys` that no work tree symlink, staged file or ref of
/// the refspec uses, in their order; refs are read only when needed.
fn exclude_used(
    ctx: &Ctx,
    keys: Vec<Key>,
    refspec: &annex_core::unused::RefSpec,
    action: &mut Action<'_>,
) -> Result<Vec<Key>, CommandError> {
    if keys.is_empty() {
        return Ok(keys);
    }
    let git = annex_core::gitrepo::GitRepo::open(ctx.repo.git_dir())?;
    let gix_repo = git.gix();
    let top = ctx.worktree.as_ref().map(|w| w.top().to_path_buf());
    let mut used = keys_in_worktree_and_index(gix_repo, top.as_deref())?;
    let keys: Vec<Key> = keys.into_iter().filter(|k| !used.contains(k)).collect();
    if keys.is_empty() {
        return Ok(keys);
    }
    let mut seen = HashSet::new();
    for r in used_refs(gix_repo, refspec)? {
        action.note(&format!("checking {}...", r.shown))?;
        keys_in_ref(gix_repo, &r.name, &mut seen, &mut used)?;
    }
    Ok(keys.into_iter().filter(|k| !used.contains(k)).collect())
}

/// Shows one list (numbered from `start + 1`), adds it to the JSON object
/// and writes its file; returns the last number used.
fn report(
    action: &mut Action<'_>,
    git_dir: &std::path::Path,
    prefix: &str,
    keys: &[Key],
    start: u64,
    header: &str,
    unused: bool,
) -> Result<u64, CommandError> {
    let list: Vec<(u64, Key)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (start + i as u64 + 1, k.clone()))
        .collect();
    if !list.is_empty() {
        let mut msg = format!("{header}\n");
        msg.push_str(&table(&list));
        if unused {
            msg.push_str(WHEREUSED);
        }
        msg.push_str("\nTo remove unwanted data: git-annex dropunused NUMBER\n\n");
        action.long_note(&msg)?;
    }
    let field = if prefix.is_empty() { "unused" } else { prefix };
    action.field(&format!("{field}-list"), list_json(&list));
    write_unused_log(&unused_log_path(git_dir, prefix), &list)?;
    Ok(start + list.len() as u64)
}
