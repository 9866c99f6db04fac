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
    /// Remove the size field from the keys.
    #[arg(long)]
    remove_size: bool,
    /// Apply the migrations recorded elsewhere since the last time.
    #[arg(long)]
    update: bool,
    /// Apply every migration recorded elsewhere.
    #[arg(long)]
    apply: bool,
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
    let mut chooser = annex_ops::migrate::BackendChooser::new(&ctx, args.backend.as_deref())
        .ok_or_else(|| {
            CommandError::failed(format!(
                "unknown backend {}",
                args.backend.clone().unwrap_or_default()
            ))
        })?;
    let mut reporter = ctx.reporter(&args.output, "migrate");
    if args.update || args.apply {
        if !args.paths.is_empty() {
            return Err(CommandError::failed(
                "Cannot combine --update or --apply with files to migrate.",
            ));
        }
        distributed(&ctx, &mut reporter, !args.apply)?;
        let committed = ctx.session.commit().map_err(CommandError::uncommitted)?;
        if committed && !reporter.is_json() && !args.output.quiet {
            crate::output::outln!("(recording state in git...)")?;
        }
        return reporter.finish();
    }
    let matching = args.matching.matcher(&ctx)?;
    let shown = Shown::new(&ctx);
    let mut changed = false;
    let recorder =
        annex_ops::migrate::Recorder::new(&ctx).map_err(|e| CommandError::failed(e.to_string()))?;
    let unmatched = seek_each(&ctx, &args.paths, |f, input| {
        let target = chooser
            .for_path(&f.path)
            .map_err(|e| CommandError::failed(e.to_string()))?;
        let Some(plan) = annex_ops::migrate::plan(&ctx, &f, target, args.force, args.remove_size)
        else {
            return Ok(());
        };
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
        // (Not the old key when the new one is found without the content.)
        if annex_ops::migrate::checks_old(&f)
            && ctx.store.has(&f.key)
            && annex_ops::migrate::fast_key(&ctx, &f, target, plan).is_none()
        {
            action.note("checksum...")?;
        }
        if annex_ops::migrate::checks_new(&ctx, &f, target, plan) {
            action.note("checksum...")?;
        }
        match annex_ops::migrate::migrate_planned(&ctx, &f, target, plan, args.remove_size)
            .and_then(|new| match new != f.key {
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

/// `--update` (`incremental`) and `--apply`: the migrations recorded in
/// the `git-annex` branch applied to the content here, each shown as
/// `migrate FILE` (a locked file of the work tree pointing at the new
/// key) or `migrate KEY`.
/// Returns how many failed.
fn distributed(
    ctx: &Ctx,
    reporter: &mut crate::action::Reporter,
    incremental: bool,
) -> Result<usize, CommandError> {
    let mut failed = 0;
    let err = |e: annex_ops::migrate::MigrateError| CommandError::failed(e.to_string());
    let found = annex_ops::migrate::distributed_migrations(ctx, incremental).map_err(err)?;
    let shown = Shown::new(ctx);
    let mut files: Option<std::collections::HashMap<annex_core::key::Key, Vec<u8>>> = None;
    for (old, new) in &found.pairs {
        if !annex_ops::migrate::update_wanted(ctx, old, new).map_err(err)? {
            continue;
        }
        let files = match &mut files {
            Some(f) => f,
            None => files.insert(locked_files(ctx)),
        };
        let file = files.get(new).map(|p| shown.path(ctx, p));
        let mut action = reporter.start_opt(file.as_deref(), Some(new), None)?;
        if annex_ops::migrate::update_checksums(new) {
            action.note("checksum...")?;
        }
        let ok = match annex_ops::migrate::apply_update(ctx, old, new) {
            Ok(ok) => ok,
            Err(e @ annex_ops::migrate::MigrateError::NotVerified) => {
                action.warn(&e.to_string())?;
                false
            }
            Err(e) => {
                action.fail(&e.to_string())?;
                false
            }
        };
        action.end(ok)?;
        failed += usize::from(!ok);
    }
    annex_ops::migrate::finish_distributed(ctx, &found).map_err(err)?;
    Ok(failed)
}

/// What `sync` and `pull` do when they sync content (unless
/// `annex.syncmigrations` is false), as git-annex: the migrations recorded
/// since the last time applied here ([`distributed`]); the journal is
/// committed with the rest of the sync. Returns how many failed.
pub(crate) fn sync_migrations(ctx: &Ctx, output: &OutputArgs) -> Result<usize, CommandError> {
    if ctx.config.get_bool("annex.syncmigrations") == Some(false) {
        return Ok(0);
    }
    let mut reporter = ctx.reporter(output, "migrate");
    distributed(ctx, &mut reporter, true)
}

/// The locked files of the index (from the top) whose work-tree symlink
/// points at their key, the first one of each key: what git-annex finds
/// through its keys database to name a key.
fn locked_files(ctx: &Ctx) -> std::collections::HashMap<annex_core::key::Key, Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let mut map = std::collections::HashMap::new();
    let Ok(wt) = ctx.worktree() else {
        return map;
    };
    let top = wt.top().to_path_buf();
    if let Ok(seek) = wt.annexed_files(&[]) {
        for f in seek.files.into_iter().filter(|f| f.locked) {
            if map.contains_key(&f.key) {
                continue;
            }
            let full = top.join(std::ffi::OsStr::from_bytes(&f.path));
            let links_to_key = std::fs::read_link(&full)
                .ok()
                .and_then(|t| annex_core::pointer::parse_link_target(t.as_os_str().as_bytes()))
                == Some(f.key.clone());
            if links_to_key {
                map.insert(f.key, f.path);
            }
        }
    }
    map
}
