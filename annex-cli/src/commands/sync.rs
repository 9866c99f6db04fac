//! `sync`: commit, pull (fetch and merge), transfer content, push, in
//! git-annex's order and with its output (`commit  `, `pull NAME `,
//! `merge synced/BRANCH `, `push NAME `, each ended by `ok` or `failed`,
//! git's own output in between). The git steps are in
//! [`annex_sync::sync`]; the content pass is [`super::sync_content`].
//!
//! Beyond git-annex: a push rejected because the remote moved on is
//! followed by a pull from that remote and another push (twice at most);
//! a push that still fails is recorded in `.git/annex/rs-sync-failed-pushes`
//! (see [`annex_sync::sync`]) and retried by the next sync even when the
//! refs say there is nothing to push. Pushes to several remotes run at
//! once; their output is shown in remote order. `--json` (which git-annex's
//! `sync` rejects) prints one object per action in git-annex's usual shape
//! plus `"remote"` for `pull`, `push` and `cleanup`; git's own output then
//! goes to stderr.

use std::ffi::OsString;
use std::io::Write;

use annex_sync::sync::{
    ANNEX_BRANCH, CurrentBranch, FailedPushes, GitRun, PushOutcome, SyncRepo, remote_branch,
};

use super::sync_content::{self, ContentOptions};
use crate::action::{Action, CommonArgs, OutputArgs, Reporter};
use crate::context::Ctx;
use crate::error::CommandError;
use crate::output::outln;

/// Arguments of `sync`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The remotes to sync with (default: every remote that syncs).
    #[arg(value_name = "REMOTE")]
    pub remotes: Vec<String>,
    /// Do not operate on git branches.
    #[arg(long = "only-annex", short = 'a')]
    pub only_annex: bool,
    /// Operate on git branches as well as annex.
    #[arg(long = "not-only-annex")]
    pub not_only_annex: bool,
    /// Commit changes to git.
    #[arg(long = "commit")]
    pub commit: bool,
    /// Avoid git commit.
    #[arg(long = "no-commit")]
    pub no_commit: bool,
    /// Commit message (repeatable: one paragraph each).
    #[arg(long = "message", short = 'm', value_name = "MSG")]
    pub message: Vec<String>,
    /// Pull from remotes (the default).
    #[arg(long = "pull")]
    pub pull: bool,
    /// Avoid git pulls from remotes.
    #[arg(long = "no-pull")]
    pub no_pull: bool,
    /// Push to remotes (the default).
    #[arg(long = "push")]
    pub push: bool,
    /// Avoid git pushes to remotes.
    #[arg(long = "no-push")]
    pub no_push: bool,
    /// Transfer annexed file contents.
    #[arg(long = "content")]
    pub content: bool,
    /// Do not transfer annexed file contents.
    #[arg(long = "no-content", short = 'g')]
    pub no_content: bool,
    /// Transfer contents of annexed files in a given location.
    #[arg(long = "content-of", short = 'C', value_name = "PATH")]
    pub content_of: Vec<OsString>,
    /// Remove synced/ branches.
    #[arg(long = "cleanup")]
    pub cleanup: bool,
    /// Operate on all versions of all files.
    #[arg(long = "all", short = 'A')]
    pub all: bool,
    /// Automatically resolve merge conflicts (the default).
    #[arg(long = "resolvemerge")]
    pub resolvemerge: bool,
    /// Do not automatically resolve merge conflicts.
    #[arg(long = "no-resolvemerge")]
    pub no_resolvemerge: bool,
    /// Allow merging unrelated histories.
    #[arg(long = "allow-unrelated-histories")]
    pub allow_unrelated_histories: bool,
    /// Do not allow merging unrelated histories (the default).
    #[arg(long = "no-allow-unrelated-histories")]
    pub no_allow_unrelated_histories: bool,
    /// Allow actions that may lose annexed data.
    #[arg(long = "force")]
    pub force: bool,
    /// Avoid slow operations.
    #[arg(long = "fast", short = 'F')]
    pub fast: bool,
    #[command(flatten)]
    pub out: OutputArgs,
    #[command(flatten)]
    pub common: CommonArgs,
}

/// A remote `sync` works with, and how.
#[derive(Debug, Clone)]
struct SyncRemote {
    name: String,
    /// Known to git-annex (has a UUID) and not `annex-ignore`: content
    /// may be exchanged with it.
    content: bool,
    /// `remote.NAME.annex-pull` (default true).
    pull: bool,
    /// `remote.NAME.annex-push` (default true) and not `annex-readonly`.
    push: bool,
    /// Where it is, when it is a repository on this machine.
    local_path: Option<std::path::PathBuf>,
}

/// The output of one `sync` run: a reporter per action kind (`commit`,
/// `pull`, `push`, ...), and the failures of them all, summed up at the
/// end as `sync: N failed`.
pub(crate) struct Out {
    args: OutputArgs,
    quote_path: bool,
    failures: usize,
}

impl Out {
    /// Output as `args` asks, file names quoted as `quote_path` says.
    pub(crate) fn new(args: &OutputArgs, quote_path: bool) -> Out {
        Out {
            args: args.clone(),
            quote_path,
            failures: 0,
        }
    }

    /// Whether output is JSON.
    pub(crate) fn is_json(&self) -> bool {
        self.args.reporter("sync").is_json()
    }

    /// A reporter for actions of `command`.
    pub(crate) fn reporter(&self, command: &str) -> Reporter {
        self.args.reporter(command).quote_path(self.quote_path)
    }

    /// Ends `action`, counting a failure.
    pub(crate) fn end(&mut self, action: Action<'_>, ok: bool) -> Result<(), CommandError> {
        action.end(ok)?;
        if !ok {
            self.failures += 1;
        }
        Ok(())
    }

    /// Counts failures that had no action of their own.
    pub(crate) fn count(&mut self, n: usize) {
        self.failures += n;
    }

    /// The command's result: `COMMAND: N failed` (exit 1) after failures.
    pub(crate) fn finish(self, command: &str) -> Result<(), CommandError> {
        if self.failures > 0 {
            Err(CommandError::quiet_failure(format!(
                "{command}: {} failed",
                self.failures
            )))
        } else {
            Ok(())
        }
    }
}

/// How a merge of the current branch is done.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MergeOptions {
    /// `--allow-unrelated-histories`.
    pub allow_unrelated: bool,
    /// Resolve conflicts as git-annex does (`--resolvemerge`,
    /// `annex.resolvemerge`).
    pub resolve: bool,
    /// git's progress output off (`--quiet`, `--json`).
    pub quiet: bool,
}

/// Which of git-annex's commands over the sync machinery runs: `sync`
/// itself, or `pull` and `push`, which split it (no commit; content
/// transferred unless `annex.synccontent` is false; only pulling, or only
/// pushing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `sync`.
    Sync,
    /// `pull`: fetch and merge, get (and drop here) content.
    Pull,
    /// `push`: push, put (and drop from remotes) content.
    Push,
    /// `assist` (after its adds): commits as `sync`, transfers content
    /// as `pull` and `push`.
    Assist,
}

impl Mode {
    /// The command's name, as summaries and messages name it.
    fn name(self) -> &'static str {
        match self {
            Mode::Sync => "sync",
            Mode::Pull => "pull",
            Mode::Push => "push",
            Mode::Assist => "assist",
        }
    }
}

/// Runs `sync`.
pub fn run(args: Args) -> Result<(), CommandError> {
    run_mode(args, Mode::Sync)
}

/// Runs `sync`, `pull` or `push` (`args` as `sync`'s, the options the
/// mode fixes set by its caller).
pub(crate) fn run_mode(args: Args, mode: Mode) -> Result<(), CommandError> {
    let json = args.out.reporter(mode.name()).is_json();
    let quiet_git = args.out.quiet || json;
    let ctx = Ctx::open(&args.common.config, args.out.quiet || json)?;
    let mut out = Out::new(
        &args.out,
        ctx.config.get_bool("core.quotepath").unwrap_or(true),
    );
    let only_annex = if args.not_only_annex {
        false
    } else {
        args.only_annex || ctx.config.get_bool("annex.synconlyannex").unwrap_or(false)
    };
    let merge_options = MergeOptions {
        allow_unrelated: args.allow_unrelated_histories && !args.no_allow_unrelated_histories,
        resolve: !args.no_resolvemerge && ctx.config.get_bool("annex.resolvemerge").unwrap_or(true),
        quiet: quiet_git,
    };
    let git_dir = ctx.repo.git_dir().to_path_buf();
    let work_tree = ctx.repo.work_tree().map(|p| p.to_path_buf());
    let mut repo = SyncRepo::open(&git_dir, work_tree.as_deref())?;
    let branch = sync_branch(&repo)?;
    let pull = !args.no_pull && mode != Mode::Push;
    let jobs = args.common.jobs()?;
    let push = !args.no_push && mode != Mode::Pull;

    // Whether the commit step left the work tree's tracked files as HEAD
    // holds them, to its knowledge (the content pass may then trust its
    // record without proving it again).
    let mut committed = false;
    if !args.cleanup {
        // commit
        let autocommit = ctx.config.get_bool("annex.autocommit").unwrap_or(true);
        if matches!(mode, Mode::Sync | Mode::Assist)
            && !only_annex
            && (args.commit || (!args.no_commit && autocommit))
            && work_tree.is_some()
        {
            committed = commit_step(&ctx, &repo, &args.message, quiet_git, &mut out)?;
        }
        // merge of the local synced/BRANCH
        if !only_annex && work_tree.is_some() {
            merge_local(&mut repo, branch.as_ref(), merge_options, &mut out)?;
        }
    }

    // The commit may have given an unborn branch its first commit.
    let branch = sync_branch(&repo)?;
    let remotes = sync_remotes(&ctx, &args.remotes, args.fast)?;
    let mut failed_pushes = FailedPushes::load(&git_dir)?;

    if args.cleanup {
        if let Some(b) = branch.as_ref() {
            let mut rep = out.reporter("cleanup");
            let a = start_other(&mut rep, "local", false)?;
            let ok = repo.cleanup_local(b)?;
            out.end(a, ok)?;
            for r in &remotes {
                let mut rep = out.reporter("cleanup");
                // git's quiet push prints nothing on stdout: the action
                // stays on one line, as git-annex's.
                let a = start_other(&mut rep, &r.name, true)?;
                let run = repo.cleanup_remote(&r.name, b)?;
                replay(&run, json)?;
                out.end(a, run.ok)?;
            }
        }
        return out.finish(mode.name());
    }

    // pull
    let mut unreachable: Vec<String> = Vec::new();
    if pull {
        for r in remotes.iter().filter(|r| r.pull) {
            let fetched = pull_remote(
                &mut repo,
                &r.name,
                r.local_path.as_deref(),
                branch.as_ref(),
                only_annex,
                merge_options,
                &mut out,
            )?;
            if !fetched {
                unreachable.push(r.name.clone());
            }
        }
    }
    merge_annex(&ctx, json, args.out.quiet)?;

    // content
    // Without --content, --no-content, --content-of or annex.synccontent,
    // git-annex 10.20261026 (its sync-content transition done) syncs
    // content with the repositories that have preferred content
    // configured, and only with them.
    // `pull` and `push` transfer content unless annex.synccontent says no.
    let (content, only_configured) = if args.no_content {
        (false, false)
    } else if args.content || !args.content_of.is_empty() {
        (true, false)
    } else if mode != Mode::Sync {
        (
            ctx.config.get_bool("annex.synccontent").unwrap_or(true),
            false,
        )
    } else {
        match ctx.config.get_bool("annex.synccontent") {
            Some(set) => (set || only_annex, false),
            None if only_annex => (true, false),
            None => (true, true),
        }
    };
    // The remotes of the content pass, still connected: closed once the
    // push is done, as git-annex's connections close at its end.
    let mut connections = None;
    if content {
        out.count(super::migrate::sync_migrations(&ctx, &args.out)?);
    }
    let ctx = if content {
        let content_remotes: Vec<String> = remotes
            .iter()
            // A remote whose fetch failed stays: git-annex still tries it, and
            // reports each transfer that fails.
            .filter(|r| r.content)
            .map(|r| r.name.clone())
            .collect();
        let options = ContentOptions {
            remotes: content_remotes,
            all: args.all,
            content_of: args.content_of.clone(),
            cwd: ctx.cwd.clone(),
            jobs,
            pull,
            push,
            only_configured,
            committed,
            fetch_failed: !unreachable.is_empty(),
            busy: Default::default(),
            stop: None,
        };
        match sync_content::run(ctx, options, &args.out) {
            Ok(run) => {
                out.count(run.failed);
                connections = Some(run.connections);
                // Transfers take a while, and remotes may have recorded
                // meanwhile: pull again before pushing, as git-annex does.
                let again = run.transferred && pull;
                if again {
                    for r in remotes.iter().filter(|r| r.pull) {
                        pull_remote(
                            &mut repo,
                            &r.name,
                            r.local_path.as_deref(),
                            branch.as_ref(),
                            only_annex,
                            merge_options,
                            &mut out,
                        )?;
                    }
                }
                if run.recorded {
                    outln!("(recording state in git...)")?;
                }
                if again {
                    // The remotes' git-annex branches merged (announced).
                    let ctx = Ctx::open(&args.common.config, args.out.quiet || json)?;
                    merge_annex(&ctx, json, args.out.quiet)?;
                }
            }
            Err(e) => {
                let _ = std::io::stdout().flush();
                eprintln!("git-annex-rs: {e}");
                out.count(1);
            }
        }
        None
    } else {
        Some(ctx)
    };
    drop(ctx);

    // In an adjusted branch, its commits carried back to the original
    // branch (git-annex's pushLocal). It rewrites the adjusted branch
    // (`HEAD`'s): in the assistant, under its repository lock, so that no
    // commit of its committer is lost in between.
    if !only_annex {
        let _daemon = super::watch::repo_lock_guard();
        adjusted_push_local(&repo)?;
    }
    // push (a merge may have given an unborn branch its first commit)
    let branch = sync_branch(&repo)?;
    if push && let Some(b) = branch.as_ref() {
        let mainbranch = if only_annex { None } else { Some(b) };
        let mut todo = Vec::new();
        for r in remotes.iter().filter(|r| r.push) {
            if failed_pushes.contains(&r.name) || need_push(&repo, &r.name, mainbranch)? {
                todo.push(r.name.clone());
            }
        }
        push_remotes(
            &mut repo,
            &todo,
            mainbranch,
            merge_options,
            &mut failed_pushes,
            args.common.jobs.as_ref().map(|_| jobs),
            &mut out,
        )?;
    }
    failed_pushes.save(&git_dir)?;
    drop(connections);
    out.finish(mode.name())
}

/// Starts an action shown as `COMMAND NAME ` (`ActionItemOther`): JSON
/// has no `file`, an empty `input`, and, for a remote, `"remote"`.
pub(crate) fn start_other<'a>(
    reporter: &'a mut Reporter,
    name: &str,
    is_remote: bool,
) -> Result<Action<'a>, CommandError> {
    if reporter.is_json() {
        let mut a = reporter.start_opt(None, None, None)?;
        if is_remote {
            a.field("remote", serde_json::Value::String(name.to_string()));
        }
        Ok(a)
    } else {
        reporter.start(None, None, name.as_bytes())
    }
}

/// Shows git's output as git-annex lets it through: its stdout on ours
/// (on stderr with `--json`), its stderr on ours.
pub(crate) fn replay(run: &GitRun, json: bool) -> Result<(), CommandError> {
    if !run.stdout.is_empty() {
        if json {
            let _ = std::io::stderr().write_all(&run.stdout);
        } else {
            crate::output::bytes(&run.stdout)?;
        }
    }
    if !run.stderr.is_empty() {
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().write_all(&run.stderr);
    }
    Ok(())
}

/// git-annex's default commit message: `git-annex in DESCRIPTION`.
fn commit_message(ctx: &Ctx) -> String {
    let desc = ctx
        .state
        .descriptions()
        .ok()
        .and_then(|m| m.get(ctx.here()).cloned())
        .map(|d| String::from_utf8_lossy(&d).into_owned())
        .unwrap_or_else(|| "unknown".to_string());
    format!("git-annex in {desc}")
}

/// The `commit` step: the journal to the `git-annex` branch, then
/// `git commit -a`. Nothing to commit is no failure. Returns
/// [`annex_sync::sync::CommitOutcome::clean`].
fn commit_step(
    ctx: &Ctx,
    repo: &SyncRepo,
    messages: &[String],
    quiet: bool,
    out: &mut Out,
) -> Result<bool, CommandError> {
    let json = out.is_json();
    let mut rep = out.reporter("commit");
    let mut a = start_other(&mut rep, "", false)?;
    ctx.state.commit()?;
    let messages = if messages.is_empty() {
        vec![commit_message(ctx)]
    } else {
        messages.to_vec()
    };
    a.say(b"\n")?;
    let outcome = repo.commit(&messages, quiet)?;
    replay(&outcome.run, json)?;
    out.end(a, true)?;
    Ok(outcome.clean)
}

/// Merges the local `synced/BRANCH` into the current branch when it has
/// commits the branch lacks (git-annex's `mergeLocal`).
pub(crate) fn merge_local(
    repo: &mut SyncRepo,
    branch: Option<&CurrentBranch>,
    options: MergeOptions,
    out: &mut Out,
) -> Result<(), CommandError> {
    let _daemon = super::watch::repo_lock_guard();
    let Some(b) = branch else { return Ok(()) };
    if let Some((adjuster, adj, orig)) = adjusted_here(repo) {
        return merge_local_adjusted(repo, &adjuster, &adj, &orig, options, out);
    }
    let synced = b.synced();
    if repo.ref_id(&synced)?.is_none() {
        return Ok(());
    }
    let shown = synced
        .strip_prefix("refs/heads/")
        .unwrap_or(&synced)
        .to_string();
    let mut rep = out.reporter("merge");
    if !b.born {
        let mut a = start_other(&mut rep, &shown, false)?;
        a.warn(&format!(
            "There are no commits yet to branch {}, so cannot merge {} into it.",
            b.full, synced
        ))?;
        return out.end(a, false);
    }
    if !repo.changed(&b.full, &synced)? {
        return Ok(());
    }
    let json = rep.is_json();
    let mut a = start_other(&mut rep, &shown, false)?;
    a.say(b"\n")?;
    let ok = merge_one(repo, &shown, options, json, &mut a)?;
    out.end(a, ok)
}

/// Merges `name` into the current branch, resolving conflicts as asked;
/// shows git's output and any error in `action`.
pub(crate) fn merge_one(
    repo: &mut SyncRepo,
    name: &str,
    options: MergeOptions,
    json: bool,
    action: &mut Action<'_>,
) -> Result<bool, CommandError> {
    let adjusted = adjusted_here(repo);
    let adjusted = adjusted
        .as_ref()
        .map(|(adjuster, adj, orig)| (adjuster, adj, orig.as_str()));
    merge_one_in(repo, adjusted, name, options, json, action)
}

/// The adjusted branch checked out, as [`adjusted_here`] finds it.
type AdjustedHere<'a> = (
    &'a annex_ops::adjust::Adjuster,
    &'a annex_ops::adjust::Adjustment,
    &'a str,
);

/// [`merge_one`] with the adjusted branch checked out already found
/// (`None`: not in an adjusted branch).
fn merge_one_in(
    repo: &mut SyncRepo,
    adjusted: Option<AdjustedHere<'_>>,
    name: &str,
    options: MergeOptions,
    json: bool,
    action: &mut Action<'_>,
) -> Result<bool, CommandError> {
    if let Some((adjuster, adj, orig)) = adjusted {
        return merge_into_adjusted(adjuster, name, orig, adj, options, action);
    }
    let run = repo.merge(
        name,
        options.allow_unrelated,
        options.quiet,
        options.resolve,
    )?;
    replay(&run.run, json)?;
    if run.run.ok {
        return Ok(true);
    }
    if !run.conflicted || !options.resolve {
        return Ok(false);
    }
    let Some(top) = repo.work_tree().map(|p| p.to_path_buf()) else {
        return Ok(false);
    };
    let git_dir = repo.git_dir().to_path_buf();
    match annex_sync::resolve::resolve_merge(&top, &git_dir, true) {
        Ok(_) => Ok(!repo.has_conflicts()?),
        Err(e) => {
            action.fail(&format!(
                "cannot resolve the conflicted merge of {name}: {e}"
            ))?;
            Ok(false)
        }
    }
}

/// `pull NAME`: fetch, then merge `NAME/BRANCH` and `NAME/synced/BRANCH`
/// when they have something new. Returns whether the fetch worked.
fn pull_remote(
    repo: &mut SyncRepo,
    name: &str,
    local_path: Option<&std::path::Path>,
    branch: Option<&CurrentBranch>,
    only_annex: bool,
    options: MergeOptions,
    out: &mut Out,
) -> Result<bool, CommandError> {
    let json = out.is_json();
    let mut rep = out.reporter("pull");
    let mut a = start_other(&mut rep, name, true)?;
    a.say(b"\n")?;
    if only_annex {
        let run = repo.fetch(name, &["git-annex", "synced/git-annex"], options.quiet)?;
        replay(&run, json)?;
        out.end(a, true)?;
        return Ok(run.ok);
    }
    let run = match local_path {
        Some(p) if !repo.fetch_needed(name, p) => GitRun {
            ok: true,
            ..GitRun::default()
        },
        _ => repo.fetch(name, &[], options.quiet)?,
    };
    replay(&run, json)?;
    if !run.ok {
        // As git-annex: git said why; the pull is not counted a failure.
        out.end(a, true)?;
        return Ok(false);
    }
    let ok = merge_remote(repo, name, branch, options, json, &mut a)?;
    out.end(a, ok)?;
    Ok(true)
}

/// Merges what `remote` has of the current branch (git-annex's
/// `mergeRemote`): `REMOTE/BRANCH` then `REMOTE/synced/BRANCH`, each when
/// it has commits the branch lacks. Nothing in a bare repository.
fn merge_remote(
    repo: &mut SyncRepo,
    remote: &str,
    branch: Option<&CurrentBranch>,
    options: MergeOptions,
    json: bool,
    action: &mut Action<'_>,
) -> Result<bool, CommandError> {
    let _daemon = super::watch::repo_lock_guard();
    if repo.work_tree().is_none() {
        return Ok(true);
    }
    let Some(b) = branch else { return Ok(true) };
    let candidates = [
        remote_branch(remote, &b.full),
        remote_branch(remote, &b.synced()),
    ];
    let mut ok = true;
    let here = adjusted_here(repo);
    let adjusted = here
        .as_ref()
        .map(|(adjuster, adj, orig)| (adjuster, adj, orig.as_str()));
    for c in candidates {
        let wanted = if b.born {
            repo.ref_id(&c)?.is_some() && repo.changed(&b.full, &c)?
        } else {
            repo.ref_id(&c)?.is_some()
        };
        if !wanted {
            continue;
        }
        // git-annex breaks the line again before each merge (its
        // `showOutput`), after the one the pull began with; in an
        // adjusted branch after its `Merging into BRANCH` note
        // (`merge_into_adjusted`).
        if adjusted.is_none() {
            action.say(b"\n")?;
        }
        // The full ref, as git-annex gives it to git: git names the files
        // of a conflict after it (`f~refs_remotes_origin_main`).
        ok &= merge_one_in(repo, adjusted, &c, options, json, action)?;
    }
    Ok(ok)
}

/// Merges the remotes' `git-annex` branches into ours (union merge),
/// announcing it as git-annex does.
pub(crate) fn merge_annex(ctx: &Ctx, json: bool, quiet: bool) -> Result<(), CommandError> {
    let outcome = ctx.state.branch().update()?;
    if !outcome.merged.is_empty() && !json && !quiet {
        let names: Vec<&str> = outcome
            .merged
            .iter()
            .map(|(_, n)| n.strip_prefix("refs/remotes/").unwrap_or(n))
            .collect();
        outln!("(merging {} into git-annex...)", names.join(" "))?;
        if !outcome.fast_forwarded {
            // A merge commit was made.
            outln!("(recording state in git...)")?;
        }
    }
    for skipped in &outcome.skipped {
        eprintln!("git-annex-rs: {skipped}");
    }
    Ok(())
}

/// Whether `remote` lacks something of the current branch or of
/// `git-annex` (git-annex's `newer`: the remote-tracking ref is missing, or
/// ours has commits it lacks). As git-annex 10.20261026 decides, observed:
/// the branch is compared with `REMOTE/BRANCH` (so a remote with a work
/// tree, whose branch only its owner moves, is pushed to at every sync).
fn need_push(
    repo: &SyncRepo,
    remote: &str,
    mainbranch: Option<&CurrentBranch>,
) -> Result<bool, CommandError> {
    let newer = |ours: &str, theirs: &str| -> Result<bool, CommandError> {
        Ok(repo.ref_id(theirs)?.is_none() || repo.changed(theirs, ours)?)
    };
    if let Some(b) = mainbranch.filter(|b| b.born)
        && newer(&b.full, &remote_branch(remote, &b.full))?
    {
        return Ok(true);
    }
    if repo.ref_id(ANNEX_BRANCH)?.is_some()
        && newer(ANNEX_BRANCH, &remote_branch(remote, ANNEX_BRANCH))?
    {
        return Ok(true);
    }
    Ok(false)
}

/// Pushes to every remote of `todo` at once, then shows each push in
/// order; a rejected push is followed by a pull from that remote and
/// another push (twice at most); what still fails is recorded.
fn push_remotes(
    repo: &mut SyncRepo,
    todo: &[String],
    mainbranch: Option<&CurrentBranch>,
    options: MergeOptions,
    failed: &mut FailedPushes,
    jobs: Option<usize>,
    out: &mut Out,
) -> Result<(), CommandError> {
    let json = out.is_json();
    let main_full = mainbranch.filter(|b| b.born).map(|b| b.full.clone());
    let git = repo.git().clone();
    // `-J N`: N pushes at a time; else every remote at once.
    let width = jobs.unwrap_or(todo.len()).max(1);
    let mut results: Vec<Result<PushOutcome, annex_sync::sync::SyncError>> = Vec::new();
    for chunk in todo.chunks(width) {
        std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|name| {
                    let git = &git;
                    let main = main_full.as_deref();
                    s.spawn(move || annex_sync::sync::push_with(git, name, main, options.quiet))
                })
                .collect();
            for h in handles {
                results.push(h.join().unwrap_or_else(|_| {
                    Err(annex_sync::sync::SyncError::Ref {
                        name: "push".into(),
                        detail: "the push thread panicked".into(),
                    })
                }));
            }
        });
    }
    for (name, result) in todo.iter().zip(results) {
        let mut rep = out.reporter("push");
        let mut a = start_other(&mut rep, name, true)?;
        a.say(b"\n")?;
        let mut outcome = match result {
            Ok(o) => o,
            Err(e) => {
                a.fail(&e.to_string())?;
                failed.record(name);
                out.end(a, false)?;
                continue;
            }
        };
        replay(&outcome.run, json)?;
        let mut attempts = 0;
        while !outcome.ok && outcome.rejected && attempts < 2 {
            attempts += 1;
            // The remote moved on: pull from it, then push again.
            let fetched = repo.fetch(name, &[], options.quiet)?;
            replay(&fetched, json)?;
            if !fetched.ok {
                break;
            }
            if !merge_remote(repo, name, mainbranch, options, json, &mut a)? {
                break;
            }
            if let Ok(branch) = annex_core::branch::Branch::open(repo.git_dir()) {
                // The remote's git-annex branch too, so ours contains it.
                branch.update()?;
            }
            outcome = repo.push(name, main_full.as_deref(), options.quiet)?;
            replay(&outcome.run, json)?;
        }
        if outcome.ok {
            failed.clear(name);
        } else {
            a.say(b"\n")?;
            a.warning(&format!("Pushing to {name} failed."));
            failed.record(name);
        }
        out.end(a, outcome.ok)?;
    }
    Ok(())
}

/// The remotes to sync with, cheapest first (by name, last first, within a
/// cost, as git-annex lists them): those named, or every remote without
/// `annex-sync=false` that can be reached. `--fast`: only the cheapest.
fn sync_remotes(ctx: &Ctx, named: &[String], fast: bool) -> Result<Vec<SyncRemote>, CommandError> {
    // git-annex's `Remote.byCost`: cheapest first, equal costs in
    // reverse list order.
    let all: Vec<&annex_core::config::RemoteConfig> = ctx
        .config
        .remotes_by_cost_groups()
        .into_iter()
        .filter(|r| {
            !r.url
                .as_deref()
                .is_some_and(|u| u.starts_with("annex::") || u.starts_with("gcrypt::"))
        })
        .collect();
    let base = ctx
        .repo
        .work_tree()
        .unwrap_or(ctx.repo.git_dir())
        .to_path_buf();
    let mut chosen = Vec::new();
    if named.is_empty() {
        for r in all {
            if !r.sync {
                continue;
            }
            if let Some(p) = r.local_path(&base)
                && !p.exists()
            {
                if r.uuid.is_none() {
                    let _ = std::io::stdout().flush();
                    eprintln!("  Remote {} cannot currently be accessed.", r.name);
                }
                continue;
            }
            chosen.push(r);
        }
    } else {
        for n in named {
            match all.iter().find(|r| &r.name == n) {
                Some(r) => {
                    if !chosen
                        .iter()
                        .any(|c: &&annex_core::config::RemoteConfig| c.name == r.name)
                    {
                        chosen.push(r)
                    }
                }
                None => {
                    return Err(CommandError::failed(format!(
                        "there is no available git remote named \"{n}\""
                    )));
                }
            }
        }
    }
    if fast && let Some(first) = chosen.first().map(|r| r.cost()) {
        chosen.retain(|r| r.cost() == first);
    }
    // UUIDs read from the remotes' own repositories on this machine are
    // recorded, every one (as git-annex records them when it lists its
    // remotes, the ones not synced with too); else git-annex's pre-push
    // hook, run by the pushes below at once, records them itself and its
    // writes of `.git/config` race each other (regression test
    // `sync::learned_uuids_recorded_before_pushes`). Best effort, as
    // git-annex's: a config locked by another process now is no failure,
    // the next run records them.
    let git = annex_sync::git::Git::new(&base);
    for (name, u) in ctx.config.learned_uuids() {
        let key = format!("remote.{name}.annex-uuid");
        let _ = git.run(["config", key.as_str(), u.as_str()]);
    }
    let mut out = Vec::new();
    for r in chosen {
        let flag = |k: &str| {
            ctx.config
                .get_bool(&format!("remote.{}.{k}", r.name))
                .unwrap_or(true)
        };
        let mut uuid = r.uuid.clone();
        if uuid.is_none() && !r.ignore {
            // As git-annex: a git remote's UUID is learned (a local one
            // initialized first) and remembered.
            let learned = if let Some(path) = r.local_path(&base) {
                Some(annex_sync::sync::local_remote_uuid(&path))
            } else {
                r.url
                    .as_deref()
                    .and_then(annex_sync::sync::SshUrl::parse)
                    .map(|u| {
                        let ssh = ctx.config.get_str("core.sshcommand");
                        annex_sync::sync::ssh_remote_uuid(&r.name, &u, ssh.as_deref())
                    })
            };
            match learned {
                Some(Ok(Some(u))) => {
                    let key = format!("remote.{}.annex-uuid", r.name);
                    let _ = git.run(["config", key.as_str(), u.as_str()]);
                    uuid = Some(u);
                }
                Some(Err(e)) => {
                    let _ = std::io::stdout().flush();
                    eprintln!("  {e}");
                }
                Some(Ok(None)) | None => {}
            }
        }
        out.push(SyncRemote {
            name: r.name.clone(),
            content: uuid.is_some() && !r.ignore,
            pull: flag("annex-pull"),
            push: flag("annex-push") && !r.readonly,
            local_path: r.local_path(&base),
        });
    }
    Ok(out)
}

/// The adjusted branch checked out here, if any: its adjuster, its
/// adjustment and its original branch (full name).
fn adjusted_here(
    repo: &SyncRepo,
) -> Option<(
    annex_ops::adjust::Adjuster,
    annex_ops::adjust::Adjustment,
    String,
)> {
    let adjuster = annex_ops::adjust::Adjuster::open(repo.work_tree()?).ok()?;
    let (adj, orig) = adjuster.current()?;
    Some((adjuster, adj, orig))
}

/// The branch sync works with: the current one, or in an adjusted branch
/// its original branch (git-annex's `getCurrentBranch`).
fn sync_branch(repo: &SyncRepo) -> Result<Option<CurrentBranch>, CommandError> {
    let b = repo.current_branch()?;
    Ok(
        match b
            .as_ref()
            .and_then(|b| annex_ops::adjust::adjusted_to_original(&b.full))
        {
            Some((_, orig)) => Some(CurrentBranch {
                full: orig,
                born: true,
            }),
            None => b,
        },
    )
}

/// In an adjusted branch: `synced/BRANCH` and `BRANCH` merged when they
/// have commits the adjusted branch lacks (git-annex's `needMerge`).
fn merge_local_adjusted(
    repo: &mut SyncRepo,
    adjuster: &annex_ops::adjust::Adjuster,
    adj: &annex_ops::adjust::Adjustment,
    orig: &str,
    options: MergeOptions,
    out: &mut Out,
) -> Result<(), CommandError> {
    let short = orig.strip_prefix("refs/heads/").unwrap_or(orig);
    let synced = annex_sync::sync::synced_branch(short);
    let adjfull = annex_ops::adjust::adjusted_branch(orig, adj);
    let mut tomerge = Vec::new();
    if repo.ref_id(&synced)?.is_some() && repo.changed(&adjfull, &synced)? {
        tomerge.push(format!("synced/{short}"));
    }
    if adjuster.can_merge(orig, orig, adj) {
        tomerge.push(short.to_string());
    }
    if tomerge.is_empty() {
        return Ok(());
    }
    let mut rep = out.reporter("merge");
    let json = rep.is_json();
    let mut a = start_other(&mut rep, &tomerge.join(" "), false)?;
    let mut ok = true;
    for t in &tomerge {
        ok &= merge_one_in(repo, Some((adjuster, adj, orig)), t, options, json, &mut a)?;
    }
    out.end(a, ok)
}

/// Merges `name` into the checked-out adjusted branch (git-annex's
/// `mergeToAdjustedBranch`).
fn merge_into_adjusted(
    adjuster: &annex_ops::adjust::Adjuster,
    name: &str,
    orig: &str,
    adj: &annex_ops::adjust::Adjustment,
    options: MergeOptions,
    action: &mut Action<'_>,
) -> Result<bool, CommandError> {
    let mut noted = Ok(());
    // A conflicted merge resolved as git-annex resolves it, in the
    // temporary work tree the merge is made in; the note and git's commit
    // line shown as git-annex shows them.
    let mut resolver = |wt: &std::path::Path, gd: &std::path::Path| -> bool {
        match annex_sync::resolve::resolve_merge_in_overlay(
            wt,
            gd,
            (adjuster.top(), adjuster.git_dir()),
            true,
        ) {
            Ok(Some(r)) => {
                // As git-annex: the note as soon as any conflict was
                // resolved, whether or not all were and the commit made.
                if !options.quiet {
                    // git-annex's queue of index changes is flushed
                    // (announced as such) before the note.
                    let _ = crate::output::line(format_args!("(recording state in git...)"));
                    let _ = crate::output::line(format_args!(
                        "\n  {}",
                        annex_sync::resolve::RESOLVED_NOTE
                    ));
                    if let Some(o) = &r.commit_output {
                        let _ = crate::output::bytes(o);
                    }
                }
                r.unresolved.is_empty() && r.commit_output.is_some()
            }
            _ => false,
        }
    };
    let merged = adjuster.merge_resolving(
        name,
        orig,
        adj,
        annex_ops::adjust::MergeFlags {
            allow_unrelated: options.allow_unrelated,
            quiet: options.quiet,
        },
        &mut |n: annex_ops::adjust::MergeNote<'_>| {
            if noted.is_ok() {
                noted = match n {
                    annex_ops::adjust::MergeNote::Action(n) => action.note(&format!("{n}...")),
                    annex_ops::adjust::MergeNote::Output => action.say(b"\n"),
                };
            }
        },
        // As git-annex: the merge in the temporary work tree is resolved
        // even with `--no-resolvemerge` (which only concerns the merge
        // into the work tree, here a fast-forward).
        Some(&mut resolver as &mut dyn FnMut(&std::path::Path, &std::path::Path) -> bool),
    );
    noted?;
    match merged {
        Ok(ok) => Ok(ok),
        Err(e) => {
            action.fail(&e.to_string())?;
            Ok(false)
        }
    }
}

/// In an adjusted branch: its new commits carried back to the original
/// branch, and an adjustment that depends on content made again.
fn adjusted_push_local(repo: &SyncRepo) -> Result<(), CommandError> {
    let Some((adjuster, adj, orig)) = adjusted_here(repo) else {
        return Ok(());
    };
    // As git-annex: with `annex.adjustedbranchrefresh` at 0, refreshed
    // here when content changed since the last refresh (any
    // implementation's get or drop logs it); otherwise by the command
    // that changes content, when it ends.
    let needed =
        adjuster.refresh_setting() == 0 && annex_core::adjustlog::is_needed(adjuster.git_dir());
    let done = adjuster.propagate(&orig, &adj).and_then(|p| match needed {
        true => adjuster.refresh_logged(&orig, &adj).map(|ok| (p, ok)),
        false => Ok((p, true)),
    });
    match done {
        Ok((p, ok)) => {
            let _ = std::io::stdout().flush();
            for w in p.warnings {
                eprintln!("  {w}");
            }
            if !ok {
                eprintln!("  Updating adjusted branch failed.");
            }
            Ok(())
        }
        Err(e) => Err(CommandError::failed(e.to_string())),
    }
}
