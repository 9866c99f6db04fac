//! `fsck [PATH...]`: check the content of annexed files (or `--all` keys,
//! or `--key KEY`) against their keys and the location logs, fix the logs,
//! move bad content to `.git/annex/bad`, and warn about too few copies;
//! `--from REMOTE` checks a remote instead (one over ssh by downloading
//! each key and verifying it, as git-annex does).

use std::collections::BTreeMap;
use std::ffi::OsString;

use annex_core::backend::Backend;
use annex_core::key::Key;
use annex_core::uuid::Uuid;
use annex_ops::fsck::{Checker, Event, FsckError, FsckOptions, logged_keys, record_activity};
use annex_ops::{Annex, Item};
use serde_json::{Value, json};

use crate::action::{Action, CommonArgs, OutputArgs};
use crate::context::Ctx;
use crate::error::CommandError;

use super::numcopies::read_int;

/// Arguments of `fsck`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories to check (all annexed files when none).
    paths: Vec<OsString>,
    /// Check a remote instead of this repository.
    #[arg(long, short = 'f', value_name = "REMOTE")]
    from: Option<String>,
    /// Only check presence and size, not checksums.
    #[arg(long)]
    fast: bool,
    /// Check every key the location logs know, not only those of files.
    #[arg(long, short = 'A', conflicts_with_all = ["paths", "keys"])]
    all: bool,
    /// Check this key.
    #[arg(long = "key", value_name = "KEY", value_parser = parse_key, conflicts_with = "paths")]
    keys: Vec<Key>,
    /// Override the number of copies wanted.
    #[arg(long, short = 'N', value_name = "N")]
    numcopies: Option<String>,
    /// Incremental fsck: not supported yet.
    #[arg(long, short = 'S')]
    incremental: bool,
    /// Continue an incremental fsck: not supported yet.
    #[arg(long, short = 'm')]
    more: bool,
    /// Schedule incremental fscking: not supported yet.
    #[arg(long, value_name = "TIME")]
    incremental_schedule: Option<String>,
    #[command(flatten)]
    matching: crate::matching::MatchingArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

fn parse_key(s: &str) -> Result<Key, String> {
    Key::parse(s.as_bytes()).map_err(|_| "invalid key".to_string())
}

/// Checks the files or keys asked for.
pub fn run(args: Args) -> Result<(), CommandError> {
    if args.incremental || args.more || args.incremental_schedule.is_some() {
        return Err(CommandError::failed(
            "incremental fsck is not supported by git-annex-rs yet",
        ));
    }
    let forced_numcopies = match &args.numcopies {
        Some(n) => {
            Some(read_int(n).ok_or_else(|| CommandError::failed(format!("Bad number: {n}")))?)
        }
        None => None,
    };
    let ctx = Ctx::open(&args.common.config, args.output.quiet)?;
    // Shown as git-annex shows it: the git dir relative to here (`.` when
    // here is a bare repository's top), then `annex/bad`.
    let git_dir = ctx.repo.git_dir();
    let git_dir_shown = match annex_core::backend::path::top_file_path(&ctx.cwd, git_dir) {
        Ok(p) if p.as_os_str().is_empty() => std::path::PathBuf::from("."),
        Ok(p) => p,
        Err(_) => git_dir.to_path_buf(),
    };
    let annex = Annex::open(ctx.session.clone())?;
    let options = FsckOptions {
        fast: args.fast,
        numcopies: forced_numcopies,
        from: args.from.clone(),
        bad_shown: Some(git_dir_shown.join("annex").join("bad")),
    };
    let checker = Checker::new(&annex, options).map_err(ops_error)?;
    if checker.checks_dead() {
        eprintln!("Warning: Fscking a repository that is currently marked as dead.");
    }
    let descriptions = checker.descriptions();
    let mut reporter = args.output.reporter("fsck");
    // In a bare repository there are no files: every key is checked.
    let all = args.all || (ctx.worktree.is_none() && args.keys.is_empty() && args.paths.is_empty());
    let filter = crate::matching::Filter::new(&ctx, &args.matching)?;
    if all || !args.keys.is_empty() {
        if let Some(f) = &filter {
            f.refuse_for_keys(ctx.worktree.is_none())?;
        }
        let keys = if all {
            logged_keys(&annex).map_err(ops_error)?
        } else {
            args.keys.clone()
        };
        for key in keys {
            if !known_backend(&key) {
                continue;
            }
            if let Some(f) = &filter
                && !f.matches_key(&key)?
            {
                continue;
            }
            let mut action = reporter.start(None, Some(&key), b"")?;
            action.field("input", Value::Array(Vec::new()));
            let desc = String::from_utf8_lossy(key.as_bytes()).into_owned();
            let mut on = |e: Event| event(&mut action, e, ctx.here(), descriptions);
            let ok = checker.check(&Item::key(key.clone()), &desc, &mut on)?;
            action.end(ok)?;
        }
    } else {
        let mut seek = ctx.seek(&args.paths, &mut reporter)?;
        if filter.is_some() {
            let mut kept = Vec::with_capacity(seek.files.len());
            for f in std::mem::take(&mut seek.files) {
                if crate::matching::file_passes(filter.as_ref(), &f.path, &f.key)? {
                    kept.push(f);
                }
            }
            seek.files = kept;
        }
        for f in &seek.files {
            if !known_backend(&f.key) {
                continue;
            }
            let shown = ctx.display_path(&f.path);
            let mut action = reporter.start(Some(&shown), Some(&f.key), &shown)?;
            let desc = String::from_utf8_lossy(&shown).into_owned();
            let item = Item::file(f.path.clone(), f.key.clone(), !f.locked);
            let mut on = |e: Event| event(&mut action, e, ctx.here(), descriptions);
            let ok = checker.check(&item, &desc, &mut on)?;
            action.end(ok)?;
        }
    }
    record_activity(&annex, checker.checked_uuid()).map_err(ops_error)?;
    if !args.output.quiet {
        ctx.commit(&reporter)?;
    } else {
        ctx.state.commit()?;
    }
    reporter.finish()
}

/// Whether git-annex knows the key's backend (keys of unknown backends are
/// skipped, as git-annex skips them).
fn known_backend(key: &Key) -> bool {
    Backend::for_key(key).is_some() || matches!(key.backend_name(), b"URL" | b"VURL")
}

/// Shows one event of a check.
fn event(
    action: &mut Action<'_>,
    e: Event,
    here: &Uuid,
    descriptions: &BTreeMap<Uuid, String>,
) -> Result<(), CommandError> {
    match e {
        Event::Note(n) => action.note(n),
        Event::NoteText(n) => action.note(&n),
        Event::LongNote(n) => action.long_note(&n),
        Event::Warning(w) => action.warn(&w),
        Event::MissingCopies { untrusted, dead } => {
            let list = |us: &[Uuid]| {
                Value::Array(
                    us.iter()
                        .map(|u| {
                            json!({
                                "uuid": u.to_string(),
                                "description": descriptions.get(u).cloned().unwrap_or_default(),
                                "here": u == here,
                            })
                        })
                        .collect(),
                )
            };
            action.field("untrusted", list(&untrusted));
            action.field("dead", list(&dead));
            Ok(())
        }
    }
}

/// A failure to set up or record the checks, as the command reports it
/// (a failure, worded by the library).
fn ops_error(e: FsckError) -> CommandError {
    match e {
        FsckError::Check(e) => e.into(),
        other => CommandError::failed(other.to_string()),
    }
}
