//! `migrate [PATH...]`: annexed files moved to another backend
//! ([`annex_ops::migrate`]); shown as `migrate FILE (checksum...) ok`.

use std::ffi::OsString;

use crate::action::{CommonArgs, OutputArgs};
use crate::context::Ctx;
use crate::error::CommandError;

use super::whereis::{Shown, os_bytes, seek_each};

/// Arguments of `migrate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories.
    paths: Vec<OsString>,
    /// The backend to migrate to.
    #[arg(long, short = 'b', value_name = "NAME")]
    backend: Option<String>,
    /// Migrate files already using the backend too.
    #[arg(long)]
    force: bool,
    /// The file matching options (`--in`, `--copies`, `--include`, ...).
    #[command(flatten)]
    matching: crate::matching::MatchingArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// Migrates the files.
pub fn run(args: Args) -> Result<(), CommandError> {
    let json = args.output.json || args.output.json_progress || args.output.json_error_messages;
    let ctx = Ctx::open(&args.common.config, args.output.quiet || json)?;
    let target =
        annex_ops::migrate::target_backend(&ctx, args.backend.as_deref()).ok_or_else(|| {
            CommandError::failed(format!(
                "unknown backend {}",
                args.backend.clone().unwrap_or_default()
            ))
        })?;
    let mut reporter = ctx.reporter(&args.output, "migrate");
    let matching = args.matching.matcher(&ctx)?;
    let shown = Shown::new(&ctx);
    let mut changed = false;
    let recorder =
        annex_ops::migrate::Recorder::new(&ctx).map_err(|e| CommandError::failed(e.to_string()))?;
    let unmatched = seek_each(&ctx, &args.paths, |f, input| {
        if !annex_ops::migrate::wanted(&ctx, &f, target, args.force) {
            return Ok(());
        }
        if let Some((m, mctx, wanted)) = &matching {
            let item = annex_core::preferred::Item::file(&f.path, Some(&f.key));
            if !m
                .matches(mctx, &item, wanted.as_ref())
                .map_err(|e| CommandError::failed(e.to_string()))?
            {
                return Ok(());
            }
        }
        if !crate::global::size_limit_admits_key(&ctx.store, &f.key) {
            return Ok(());
        }
        let file = shown.path(&ctx, &f.path);
        let input = input.map_or_else(|| file.clone(), |i| os_bytes(i));
        let mut action = reporter.start(Some(&file), Some(&f.key), &input)?;
        // Saying when content is hashed, as git-annex does: the old key
        // checked (when its backend has a checksum), then, for a locked
        // file, the new key computed.
        if annex_ops::migrate::checks_old(&f) {
            action.note("checksum...")?;
        }
        if f.locked && target.hash_kind().is_some() {
            action.note("checksum...")?;
        }
        match annex_ops::migrate::migrate(&ctx, &f, target).and_then(|new| match new != f.key {
            true => recorder.record(&ctx, &f, &new),
            false => Ok(()),
        }) {
            Ok(()) => {
                changed = true;
                action.end(true)
            }
            Err(e) => {
                action.fail(&e.to_string())?;
                action.end(false)
            }
        }
    })?;
    for _ in 0..unmatched {
        reporter.count_failure();
    }
    annex_ops::migrate::commit_records(&ctx).map_err(|e| CommandError::failed(e.to_string()))?;
    let committed = ctx.session.commit().map_err(CommandError::uncommitted)?;
    if (committed || changed) && !reporter.is_json() && !args.output.quiet {
        crate::output::outln!("(recording state in git...)")?;
    }
    crate::global::finish_size_limit(reporter.finish())
}
