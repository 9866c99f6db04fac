//! `fsck [PATH...]`: check the content of annexed files (or `--all` keys,
//! or `--key KEY`) against their keys and the location logs, fix the logs,
//! move bad content to `.git/annex/bad`, and warn about too few copies;
//! `--from REMOTE` checks a git remote on this machine instead.

use std::collections::BTreeMap;
use std::ffi::OsString;

use annex_core::backend::Backend;
use std::os::unix::ffi::OsStrExt;

use annex_core::fsck::{
    Event, Fsck, LocalRemote, logged_keys, numcopies_attributes, record_activity,
};
use annex_core::key::Key;
use annex_core::logs::trust::TrustLevel;
use annex_core::uuid::Uuid;
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
    /// Check a git remote (on this machine) instead of this repository.
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
    let remote = match &args.from {
        Some(name) => Some(open_remote(&ctx, name)?),
        None => None,
    };
    let numcopies = match forced_numcopies {
        Some(n) => n,
        None => match ctx.state.numcopies()? {
            Some(n) => n,
            None => ctx
                .config
                .get_str("annex.numcopies")
                .and_then(|v| read_int(&v))
                .unwrap_or(1),
        },
    };
    let descriptions = super::maxsize::described(&ctx)?;
    let trust = ctx.state.trust(&ctx.config)?;
    let checked_uuid = remote.as_ref().map_or(ctx.here(), |r| &r.uuid).clone();
    if trust.get(&checked_uuid) == Some(&TrustLevel::Dead) {
        eprintln!("Warning: Fscking a repository that is currently marked as dead.");
    }
    // Shown as git-annex shows it: the git dir relative to here (`.` when
    // here is a bare repository's top), then `annex/bad`.
    let git_dir = ctx.repo.git_dir();
    let git_dir_shown = match annex_core::backend::path::top_file_path(&ctx.cwd, git_dir) {
        Ok(p) if p.as_os_str().is_empty() => std::path::PathBuf::from("."),
        Ok(p) => p,
        Err(_) => git_dir.to_path_buf(),
    };
    let bad_shown = git_dir_shown.join("annex").join("bad");
    let fsck = Fsck::new(
        &ctx.state,
        &ctx.store,
        ctx.here().clone(),
        trust,
        descriptions.clone(),
        bad_shown,
    )
    .fast(args.fast);
    let mut reporter = args.output.reporter("fsck");
    let checked = |action: &mut Action<'_>, key: &Key, desc: &str, has_file: bool| {
        let mut on = |e: Event| event(action, e, ctx.here(), &descriptions);
        match &remote {
            Some(r) => fsck.check_remote_key(r, key, desc, has_file, numcopies, &mut on),
            None => fsck.check_key(key, desc, has_file, numcopies, &mut on),
        }
    };
    // In a bare repository there are no files: every key is checked.
    let all = args.all || (ctx.worktree.is_none() && args.keys.is_empty() && args.paths.is_empty());
    let filter = crate::matching::Filter::new(&ctx, &args.matching)?;
    if all || !args.keys.is_empty() {
        if let Some(f) = &filter {
            f.refuse_for_keys(ctx.worktree.is_none())?;
        }
        let keys = if all {
            logged_keys(&ctx.state)?
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
            let ok = checked(&mut action, &key, &desc, false)?;
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
        let top = ctx.worktree()?.top().to_path_buf();
        // `annex.numcopies` from .gitattributes, unless --numcopies forces one.
        let attrs = match forced_numcopies {
            Some(_) => vec![None; seek.files.len()],
            None => {
                let paths: Vec<Vec<u8>> = seek.files.iter().map(|f| f.path.clone()).collect();
                numcopies_attributes(&top, &paths)?
            }
        };
        for (f, attr) in seek.files.iter().zip(attrs) {
            if !known_backend(&f.key) {
                continue;
            }
            let shown = ctx.display_path(&f.path);
            let mut action = reporter.start(Some(&shown), Some(&f.key), &shown)?;
            let desc = String::from_utf8_lossy(&shown).into_owned();
            let numcopies = attr.unwrap_or(numcopies);
            let mut on = |e: Event| event(&mut action, e, ctx.here(), &descriptions);
            let ok = match &remote {
                Some(r) => fsck.check_remote_key(r, &f.key, &desc, true, numcopies, &mut on)?,
                None if !f.locked => {
                    let path = top.join(std::ffi::OsStr::from_bytes(&f.path));
                    fsck.check_unlocked_file(&f.key, &desc, &path, numcopies, &mut on)?
                }
                None => fsck.check_key(&f.key, &desc, true, numcopies, &mut on)?,
            };
            action.end(ok)?;
        }
    }
    record_activity(&ctx.state, &checked_uuid)?;
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

/// The remote of `--from`: a git remote whose URL is a path on this
/// machine, its object store opened directly.
// A small use of the remote on purpose: the general remote interface is
// being written alongside and will replace this.
fn open_remote(ctx: &Ctx, name: &str) -> Result<LocalRemote, CommandError> {
    let r = ctx.config.remote(name).ok_or_else(|| {
        CommandError::failed(format!("there is no available git remote named \"{name}\""))
    })?;
    let uuid = r.uuid.clone().ok_or_else(|| {
        CommandError::failed(format!(
            "cannot determine uuid for {name} (perhaps you need to run \"git annex sync\"?)"
        ))
    })?;
    let base = ctx
        .repo
        .work_tree()
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| ctx.repo.git_dir().to_path_buf());
    let path = r.local_path(&base).ok_or_else(|| {
        CommandError::failed(format!(
            "fsck --from {name}: only git remotes on this machine are supported by git-annex-rs yet"
        ))
    })?;
    Ok(LocalRemote::open(name, uuid, &path)?)
}
