//! `add [PATH...]`: add files to the annex (large files as locked
//! symlinks, small files and dotfiles to git), as `git annex add` does.
//!
//! The files are found as git-annex finds them: first the files git does
//! not know (`git ls-files --others --exclude-standard`, so `.gitignore`
//! is respected), then the modified ones (`git ls-files --modified`); one
//! git process each for the whole run. `annex.largefiles` comes from git
//! config, `.gitattributes` (one `git check-attr --stdin` process) and
//! `git annex config`, in that order of precedence; the backend from
//! `--backend`, the file's `annex.backend` attribute, then git config,
//! as git-annex chooses it. With `-J N` the files are hashed and ingested by N threads;
//! the index is updated once, in-process, at the end (after each item with
//! `--batch`).
//!
//! Differences from git-annex: no progress meter is drawn (git-annex draws
//! one on stdout even when it is not a terminal); `--dry-run` is not
//! implemented.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use annex_core::attr::attr_value;
use annex_core::backend::Backend;
use annex_core::gitrepo::GitRepo;
use annex_core::ingest::{
    Added, Disposition, IndexEntry, IngestError, Ingester, LargeFilesMatcher,
};
use annex_core::preferred::LargeFiles;
use annex_core::worktree::pathspec_from_arg;
use serde_json::Value;

use crate::action::{CommonArgs, OutputArgs, Reporter};
use crate::context::Ctx;
use crate::error::CommandError;

/// Arguments of `add`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories to add (default: the current directory).
    paths: Vec<OsString>,
    /// Read files to add from stdin, one a line.
    #[arg(long)]
    batch: bool,
    /// With `--batch`, items are ended by NUL instead of newline.
    #[arg(short = 'z')]
    nul: bool,
    /// Only update tracked files.
    #[arg(long, short = 'u')]
    update: bool,
    /// Add all files to the annex, ignoring other configuration.
    #[arg(long = "force-large", conflicts_with = "force_small")]
    force_large: bool,
    /// Add all files to git, ignoring other configuration.
    #[arg(long = "force-small")]
    force_small: bool,
    /// Do not check .gitignore when adding files.
    #[arg(long = "no-check-gitignore")]
    no_check_gitignore: bool,
    /// Check .gitignore (the default).
    #[arg(long = "check-gitignore", overrides_with = "no_check_gitignore")]
    check_gitignore: bool,
    /// Add ignored files too, and treat every file as large.
    #[arg(long)]
    force: bool,
    /// The backend to use for new keys.
    #[arg(long, value_name = "NAME")]
    backend: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// Quotes a path for display as git does with `core.quotepath` (the
/// default): a path holding `"`, `\`, control characters or (with
/// `quote_high`) bytes of 0x80 and above is shown in double quotes with C
/// escapes and octal for the other bytes.
pub(crate) fn quote_path(p: &[u8], quote_high: bool) -> Vec<u8> {
    crate::action::quote(p, quote_high)
}

/// How file names are shown: relative to the current directory, quoted in
/// plain mode as git-annex quotes them.
pub(crate) struct Shower<'a> {
    ctx: &'a Ctx,
    json: bool,
    quote_high: bool,
    /// Whether the current directory is the top of the work tree (paths
    /// are then shown as they are, without asking the file system).
    at_top: bool,
}

impl<'a> Shower<'a> {
    pub(crate) fn new(ctx: &'a Ctx, json: bool) -> Shower<'a> {
        let at_top = ctx.worktree.as_ref().is_some_and(|wt| {
            wt.top()
                .canonicalize()
                .unwrap_or_else(|_| wt.top().to_path_buf())
                == ctx.cwd
        });
        Shower {
            ctx,
            json,
            quote_high: ctx.config.get_bool("core.quotepath").unwrap_or(true),
            at_top,
        }
    }

    /// The path from the top as given to the reporter, which quotes it in
    /// plain mode (`Reporter::start`).
    pub(crate) fn show(&self, path_from_top: &[u8]) -> Vec<u8> {
        self.raw(path_from_top)
    }

    /// The path from the top quoted as git-annex quotes it in plain
    /// messages (not in JSON).
    pub(crate) fn quoted(&self, path_from_top: &[u8]) -> Vec<u8> {
        let p = self.raw(path_from_top);
        if self.json {
            p
        } else {
            quote_path(&p, self.quote_high)
        }
    }

    /// The raw display path (relative to the current directory).
    pub(crate) fn raw(&self, path_from_top: &[u8]) -> Vec<u8> {
        if self.at_top {
            return path_from_top.to_vec();
        }
        self.ctx.display_path(path_from_top)
    }
}

/// The one `.gitattributes` lookup process, kept here under its old path
/// for the commands that use it.
pub(crate) use annex_core::attr::Coprocess;

/// The attributes git-annex reads from `.gitattributes` for a file.
#[derive(Debug, Clone, Default)]
struct Attrs {
    backend: Option<Vec<u8>>,
    largefiles: Option<Vec<u8>>,
}

/// `git check-attr` for many paths (from the top), in one process.
fn check_attrs(top: &Path, paths: &[&[u8]]) -> Result<Vec<Attrs>, CommandError> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let mut p = attr_process(top)?;
    query_attrs(&mut p, paths)
}

/// The `git check-attr` process [`check_attrs`] asks.
fn attr_process(top: &Path) -> Result<Coprocess, CommandError> {
    Ok(Coprocess::spawn(
        top,
        &[
            "check-attr",
            "-z",
            "--stdin",
            "annex.backend",
            "annex.largefiles",
        ],
    )?)
}

/// [`check_attrs`] through a running [`attr_process`].
fn query_attrs(p: &mut Coprocess, paths: &[&[u8]]) -> Result<Vec<Attrs>, CommandError> {
    let answers = p.query_all(paths, 6)?;
    Ok(answers
        .into_iter()
        .map(|mut f| Attrs {
            largefiles: attr_value(std::mem::take(&mut f[5])),
            backend: attr_value(std::mem::take(&mut f[2])),
        })
        .collect())
}

/// `git ls-files -z ARGS -- SPECS` from the top: paths from the top.
fn ls_files(top: &Path, args: &[&str], specs: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, CommandError> {
    let mut cmd = Command::new("git");
    cmd.arg("-C")
        .arg(top)
        .arg("ls-files")
        .arg("-z")
        .args(args)
        .arg("--");
    for s in specs {
        if s.is_empty() {
            cmd.arg(".");
        } else {
            cmd.arg(OsStr::from_bytes(s));
        }
    }
    let out = cmd
        .env("GIT_LITERAL_PATHSPECS", "1")
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| CommandError::failed(format!("cannot run git ls-files: {e}")))?;
    if !out.status.success() {
        return Err(CommandError::failed("git ls-files failed"));
    }
    Ok(out
        .stdout
        .split(|&c| c == 0)
        .filter(|p| !p.is_empty())
        .map(|p| p.to_vec())
        .collect())
}

/// Settings that decide where a file goes.
struct Policy {
    dotfiles: bool,
    add_small: bool,
    force_large: bool,
    force_small: bool,
    force: bool,
    /// `annex.largefiles` from git config (overrides .gitattributes).
    config_largefiles: Option<Vec<u8>>,
    /// `annex.largefiles` from `git annex config`.
    branch_largefiles: Option<Vec<u8>>,
    /// `--backend`: overrides every other setting.
    forced_backend: Option<String>,
    /// `annex.backend` from git config: used when the file's
    /// `annex.backend` attribute is unset.
    config_backend: Option<String>,
    matchers: HashMap<Vec<u8>, Arc<dyn LargeFilesMatcher>>,
    /// The top of the work tree (where `mimetype=` reads files).
    top: std::path::PathBuf,
    /// `--json-progress`.
    json_progress: bool,
    /// `--json-error-messages`.
    json_error_messages: bool,
}

/// The one place where an `annex.largefiles` expression becomes a
/// matcher (the preferred-content engine's [`LargeFiles`]). `source` names
/// where the expression came from, as git-annex's refusal names it
/// (`git config`, `gitattributes`, `git-annex config`).
pub(crate) fn largefiles_matcher(
    expr: &[u8],
    source: &str,
    top: &std::path::Path,
) -> Result<Arc<dyn LargeFilesMatcher>, CommandError> {
    expression_matcher("annex.largefiles", expr, source, top)
}

/// A large-files expression of the setting `setting` (`annex.largefiles`,
/// or `annex.addunlocked`, which takes the same expressions) as a matcher;
/// a refusal names the setting, as git-annex's does.
fn expression_matcher(
    setting: &str,
    expr: &[u8],
    source: &str,
    top: &std::path::Path,
) -> Result<Arc<dyn LargeFilesMatcher>, CommandError> {
    let m = LargeFiles::parse(expr).map_err(|e| {
        CommandError::failed(format!("bad {setting} configuration in {source}: {e}"))
    })?;
    Ok(Arc::new(m.in_worktree(top)))
}

/// Every file is large (no `annex.largefiles`).
fn all_large() -> Arc<dyn LargeFilesMatcher> {
    Arc::new(|_: &[u8], _: u64| true)
}

impl Policy {
    fn new(ctx: &Ctx, args: &Args, top: &std::path::Path) -> Result<Policy, CommandError> {
        let branch = ctx.state.config().unwrap_or_default();
        let bget = |k: &str| branch.get(k.as_bytes()).cloned();
        let dotfiles = ctx
            .config
            .get_bool("annex.dotfiles")
            .or_else(|| bget("annex.dotfiles").and_then(|v| annex_core::config::parse_bool(&v)))
            .unwrap_or(false);
        let add_small = ctx
            .config
            .get_bool("annex.addsmallfiles")
            .or_else(|| {
                bget("annex.addsmallfiles").and_then(|v| annex_core::config::parse_bool(&v))
            })
            .unwrap_or(true);
        Ok(Policy {
            dotfiles,
            add_small,
            force_large: args.force_large,
            force_small: args.force_small,
            force: args.force,
            config_largefiles: ctx.config.get("annex.largefiles").map(|v| v.to_vec()),
            branch_largefiles: bget("annex.largefiles"),
            forced_backend: args.backend.clone(),
            config_backend: ctx.config.get_str("annex.backend"),
            matchers: HashMap::new(),
            top: top.to_path_buf(),
            json_progress: args.output.json_progress,
            json_error_messages: args.output.json_error_messages,
        })
    }

    fn matcher(
        &mut self,
        expr: Option<(&[u8], &str)>,
    ) -> Result<Arc<dyn LargeFilesMatcher>, CommandError> {
        let Some((expr, source)) = expr else {
            return Ok(all_large());
        };
        if let Some(m) = self.matchers.get(expr) {
            return Ok(m.clone());
        }
        let m = largefiles_matcher(expr, source, &self.top)?;
        self.matchers.insert(expr.to_vec(), m.clone());
        Ok(m)
    }

    /// The plan for one file, from its attributes.
    fn plan(&mut self, attrs: &Attrs) -> Result<Plan, CommandError> {
        let expr = self
            .config_largefiles
            .clone()
            .map(|e| (e, "git config"))
            .or_else(|| attrs.largefiles.clone().map(|e| (e, "gitattributes")))
            .or_else(|| {
                self.branch_largefiles
                    .clone()
                    .map(|e| (e, "git-annex config"))
            });
        // git-annex's order: --backend, the file's `annex.backend`
        // attribute, then git config's `annex.backend`.
        let backend_name = self
            .forced_backend
            .clone()
            .or_else(|| {
                attrs
                    .backend
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
            })
            .or_else(|| self.config_backend.clone());
        let backend = match backend_name {
            None => Backend::Sha256E,
            Some(n) => Backend::from_name(&n)
                .ok_or_else(|| CommandError::failed(format!("unknown backend {n}")))?,
        };
        Ok(Plan {
            matcher: self.matcher(expr.as_ref().map(|(e, s)| (e.as_slice(), *s)))?,
            backend,
        })
    }
}

/// How one file is to be added.
struct Plan {
    matcher: Arc<dyn LargeFilesMatcher>,
    backend: Backend,
}

/// One file to add: its path from the top, the argument that named it.
struct Item {
    path: Vec<u8>,
    input: Option<Vec<u8>>,
    plan: Plan,
}

/// Adds the files named on the command line or on stdin.
pub fn run(args: Args) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.common.config, args.output.quiet)?;
    let wt = ctx.worktree()?;
    let top = wt
        .top()
        .canonicalize()
        .unwrap_or_else(|_| wt.top().to_path_buf());
    // The reporter quotes the names it shows (core.quotepath).
    let mut reporter = ctx.reporter(&args.output, "add");
    let jobs = args.common.jobs()?;
    let mut policy = Policy::new(&ctx, &args, &top)?;
    let mut ingester = Ingester::new(
        top.clone(),
        ctx.store.clone().with_fsync(false),
        Backend::Sha256E,
    );
    // annex.addunlocked: a boolean, or an expression (as annex.largefiles).
    if let Some(v) = ctx.config.get("annex.addunlocked") {
        let matcher: Option<Arc<dyn LargeFilesMatcher>> = match annex_core::config::parse_bool(v) {
            Some(true) => Some(all_large()),
            Some(false) => None,
            None => Some(expression_matcher(
                "annex.addunlocked",
                v,
                "git config",
                &top,
            )?),
        };
        if let Some(m) = matcher {
            ingester = ingester.with_add_unlocked(m);
        }
    }
    // In an adjusted branch that unlocks files, they are added unlocked.
    if annex_ops::adjust::current_adjustment(ctx.repo.git_dir())
        .is_some_and(|(a, _)| a.adds_unlocked(true))
    {
        ingester = ingester.with_add_unlocked(all_large());
    }
    let repo = GitRepo::from(wt.repo().clone());
    let shower = Shower::new(&ctx, reporter.is_json());
    let _tmp_lock = ingester.lock_tmp()?;

    if args.batch {
        if args.update {
            return Err(CommandError::failed("--update --batch is not supported"));
        }
        if !args.paths.is_empty() {
            return Err(CommandError::user(
                "Cannot combine batch option with file or key options",
            ));
        }
        let check_ignore = !(args.no_check_gitignore || args.force);
        let mut ignore = if check_ignore {
            Some(Coprocess::spawn(
                &top,
                &[
                    "check-ignore",
                    "-z",
                    "--stdin",
                    "--verbose",
                    "--non-matching",
                ],
            )?)
        } else {
            None
        };
        let mut any_staged = false;
        // One `git check-attr` for the whole run, started with the first
        // file.
        let mut attr: Option<Coprocess> = None;
        let result = crate::batch::for_each_item(args.nul, |line| {
            // An empty line (or one naming the top of the work tree) adds
            // nothing: git-annex answers it with an empty line (when it
            // does not stop: without --force, `git check-ignore` rejects
            // the empty path and git-annex dies). Answered at once, without
            // a look at the work tree.
            if line.is_empty() {
                return crate::output::bytes_line(b"");
            }
            let arg = Path::new(OsStr::from_bytes(line));
            let path = match pathspec_from_arg(&top, &ctx.cwd, arg) {
                Ok(p) => p,
                Err(e) => {
                    // Outside the repository: said, answered with an
                    // empty line, and the run goes on (git-annex stops
                    // there: git refuses the path).
                    eprintln!("git-annex-rs: {e}");
                    reporter.count_failure();
                    return crate::output::bytes_line(b"");
                }
            };
            if path.is_empty() {
                return crate::output::bytes_line(b"");
            }
            // Beyond a symbolic link: refused before git is asked about it
            // (git's check-ignore dies on such a path, and git-annex with
            // it; with --force git-annex moves the outside file in).
            if let Err(e) = annex_core::wtpath::check(&top, &path)
                && e.is_beyond_symlink()
            {
                let mut action = reporter.start(Some(&shower.raw(&path)), None, line)?;
                action.field("message-id", Value::String("FileBeyondSymbolicLink".into()));
                let msg = format!(
                    "{} is beyond a symbolic link",
                    String::from_utf8_lossy(&shower.quoted(&path))
                );
                giveup(&mut action, &msg, args.output.json_error_messages)?;
                return action.end(false);
            }
            let full = top.join(OsStr::from_bytes(&path));
            let exists = std::fs::symlink_metadata(&full).is_ok();
            let ignored = match (&mut ignore, exists && !path.is_empty()) {
                (Some(p), true) => {
                    let a = p.query_all(&[&path], 4)?;
                    a.first().is_some_and(|f| !f[0].is_empty())
                }
                _ => false,
            };
            let known = exists && !ignored;
            if !known {
                return crate::output::bytes_line(b"");
            }
            let attr = match &mut attr {
                Some(p) => p,
                None => attr.insert(attr_process(&top)?),
            };
            let attrs = query_attrs(attr, &[&path])?;
            let plan = policy.plan(attrs.first().unwrap_or(&Attrs::default()))?;
            let item = Item {
                path,
                input: Some(line.to_vec()),
                plan,
            };
            let mut entries = Vec::new();
            let mut printed = false;
            process(
                &ctx,
                &ingester,
                &policy,
                &repo,
                &shower,
                &mut reporter,
                vec![item],
                1,
                &mut entries,
                &mut printed,
            )?;
            annex_core::ingest::stage(repo.gix(), &entries)?;
            if !printed {
                crate::output::bytes_line(b"")?;
            }
            // Staged at once, for whoever reads the answer; the branch is
            // committed at the end, as git-annex does.
            any_staged |= !entries.is_empty();
            Ok(())
        });
        finish_recording(&ctx, &reporter, any_staged)?;
        result?;
        return reporter.finish();
    }

    // The paths to look at, as pathspecs from the top.
    let mut specs = Vec::new();
    let mut inputs = Vec::new();
    for a in &args.paths {
        let spec = pathspec_from_arg(&top, &ctx.cwd, Path::new(a))?;
        // A path beyond a symbolic link is not in the work tree: git-annex
        // refuses it (whether the file is known to git or not).
        if !spec.is_empty()
            && let Err(e) = annex_core::wtpath::check(&top, &spec)
            && e.is_beyond_symlink()
        {
            let msg = format!(
                "{} is beyond a symbolic link",
                String::from_utf8_lossy(a.as_bytes())
            );
            refuse_arg(
                &mut reporter,
                a.as_bytes(),
                &msg,
                "FileBeyondSymbolicLink",
                &args.output,
            )?;
            continue;
        }
        let full = top.join(OsStr::from_bytes(&spec));
        if std::fs::symlink_metadata(&full).is_err() {
            let msg = format!("{} not found", String::from_utf8_lossy(a.as_bytes()));
            refuse_arg(
                &mut reporter,
                a.as_bytes(),
                &msg,
                "FileNotFound",
                &args.output,
            )?;
            continue;
        }
        specs.push(spec);
        inputs.push(a.as_bytes().to_vec());
    }
    if args.paths.is_empty() {
        specs.push(pathspec_from_arg(&top, &ctx.cwd, Path::new("."))?);
    }
    if specs.is_empty() {
        return reporter.finish();
    }
    let mut new = Vec::new();
    if !args.update {
        let mut others = vec!["--others"];
        if !(args.no_check_gitignore || args.force) {
            others.push("--exclude-standard");
        }
        new = ls_files(&top, &others, &specs)?;
    }
    // A modified file is listed once per stage, and a file deleted from
    // the index can be both new and modified: each is kept once.
    let mut seen: std::collections::HashSet<Vec<u8>> = new.iter().cloned().collect();
    let mut modified = ls_files(&top, &["--modified"], &specs)?;
    modified.retain(|p| seen.insert(p.clone()));
    // git-annex goes through the arguments in order, each in git's order
    // (the files not in git first, then the modified ones).
    let spec_of = |p: &[u8]| {
        specs
            .iter()
            .position(|s| {
                s.is_empty()
                    || p == s.as_slice()
                    || (p.starts_with(s) && p.get(s.len()) == Some(&b'/'))
            })
            .unwrap_or(usize::MAX)
    };
    if specs.len() > 1 {
        new.sort_by_cached_key(|p| spec_of(p));
        modified.sort_by_cached_key(|p| spec_of(p));
    }
    let mut found = new;
    found.extend(modified);
    let path_refs: Vec<&[u8]> = found.iter().map(|p| p.as_slice()).collect();
    let attrs = check_attrs(&top, &path_refs)?;
    let mut items = Vec::with_capacity(found.len());
    for (path, attrs) in found.into_iter().zip(attrs) {
        let input = input_for(&path, &specs, &inputs);
        let plan = policy.plan(&attrs)?;
        items.push(Item { path, input, plan });
    }
    let mut entries = Vec::with_capacity(items.len());
    let mut printed = false;
    process(
        &ctx,
        &ingester,
        &policy,
        &repo,
        &shower,
        &mut reporter,
        items,
        jobs,
        &mut entries,
        &mut printed,
    )?;
    annex_core::ingest::stage(repo.gix(), &entries)?;
    finish_recording(&ctx, &reporter, !entries.is_empty())?;
    reporter.finish()
}

/// Reports a command-line path refused before any action on it, as
/// git-annex does: the message on stderr (in the JSON object instead with
/// `--json-error-messages`), and in JSON mode an object with the message
/// id; the run then fails.
fn refuse_arg(
    reporter: &mut Reporter,
    shown: &[u8],
    msg: &str,
    message_id: &str,
    output: &OutputArgs,
) -> Result<(), CommandError> {
    let msg = format!("git-annex-rs: {msg}");
    if !(reporter.is_json() && output.json_error_messages) {
        eprintln!("{msg}");
    }
    if reporter.is_json() {
        let mut action = reporter.start(Some(shown), None, shown)?;
        action.field("message-id", Value::String(message_id.into()));
        if output.json_error_messages {
            action.error(&msg);
        }
        action.end(false)
    } else {
        reporter.count_failure();
        Ok(())
    }
}

/// Reports an action's failure as git-annex reports an error that ends
/// the action (`giveup`): the message on stderr after `git-annex-rs: `
/// with the action's line ended on stdout, or, with
/// `--json-error-messages`, in the JSON object only.
pub(crate) fn giveup(
    action: &mut crate::action::Action<'_>,
    msg: &str,
    json_error_messages: bool,
) -> Result<(), CommandError> {
    let msg = format!("git-annex-rs: {msg}");
    if json_error_messages {
        action.error(&msg);
    } else {
        action.say(b"\n")?;
        eprintln!("{msg}");
    }
    Ok(())
}

/// Reports a warning in an action as git-annex's `warning` does: the
/// action's line ended on stdout and the message indented on stderr; in
/// JSON mode, in the object's `error-messages`.
pub(crate) fn warn(
    action: &mut crate::action::Action<'_>,
    msg: &str,
    json: bool,
) -> Result<(), CommandError> {
    if json {
        action.error(msg);
    } else {
        action.say(b"\n")?;
        eprintln!("  {msg}");
    }
    Ok(())
}

/// Commits the `git-annex` branch and announces "(recording state in
/// git...)" in plain mode, as git-annex does when it committed the branch
/// or updated the index (`staged`).
pub(crate) fn finish_recording(
    ctx: &Ctx,
    reporter: &Reporter,
    staged: bool,
) -> Result<(), CommandError> {
    let committed = ctx.state.commit().map_err(CommandError::uncommitted)?;
    if (committed.is_some() || staged) && reporter.shows_side_messages() {
        crate::output::outln!("(recording state in git...)")?;
    }
    Ok(())
}

/// For commands acting on annexed files: the command-line argument that
/// named a file (its JSON `input`), from the arguments given.
pub(crate) fn seek_inputs(
    ctx: &Ctx,
    args: &[OsString],
) -> Result<impl Fn(&[u8]) -> Option<Vec<u8>>, CommandError> {
    let wt = ctx.worktree()?;
    let top = wt
        .top()
        .canonicalize()
        .unwrap_or_else(|_| wt.top().to_path_buf());
    let mut specs = Vec::new();
    let mut inputs = Vec::new();
    for a in args {
        specs.push(pathspec_from_arg(&top, &ctx.cwd, Path::new(a))?);
        inputs.push(a.as_bytes().to_vec());
    }
    Ok(move |path: &[u8]| input_for(path, &specs, &inputs))
}

/// The command-line argument that named `path`.
fn input_for(path: &[u8], specs: &[Vec<u8>], inputs: &[Vec<u8>]) -> Option<Vec<u8>> {
    specs.iter().zip(inputs).find_map(|(s, i)| {
        let hit = s.is_empty()
            || path == s.as_slice()
            || (path.starts_with(s) && path.get(s.len()) == Some(&b'/'));
        hit.then(|| i.clone())
    })
}

/// The result of one file, computed by a worker.
type Outcome = Result<(Added, Disposition), (IngestError, Disposition)>;

/// Adds `items` with `jobs` threads, reporting each in order, collecting
/// the entries to stage and logging content present here.
#[allow(clippy::too_many_arguments)]
fn process(
    ctx: &Ctx,
    ingester: &Ingester,
    policy: &Policy,
    repo: &GitRepo,
    shower: &Shower<'_>,
    reporter: &mut Reporter,
    items: Vec<Item>,
    jobs: usize,
    entries: &mut Vec<IndexEntry>,
    printed: &mut bool,
) -> Result<(), CommandError> {
    let work = |repo: &GitRepo, item: &Item| -> Outcome {
        let full = ingester.top().join(OsStr::from_bytes(&item.path));
        let meta = std::fs::symlink_metadata(&full).ok();
        let size = meta.as_ref().map_or(0, |m| m.len());
        let how = if policy.force_small {
            Disposition::Git(None)
        } else if policy.force_large {
            Disposition::Annex
        } else {
            Ingester::disposition(
                &item.path,
                size,
                policy.dotfiles,
                policy.force,
                &*item.plan.matcher,
            )
        };
        if matches!(how, Disposition::Git(Some(_))) && !policy.add_small {
            return Ok((Added::Nothing, how));
        }
        let ing = if item.plan.backend == Backend::Sha256E {
            std::borrow::Cow::Borrowed(ingester)
        } else {
            std::borrow::Cow::Owned(ingester.with_backend(item.plan.backend))
        };
        // The stat just taken serves the ingest too; without one, `add`
        // takes it and says why it could not.
        match meta {
            Some(m) => ing.add_stated(repo.gix(), &item.path, how, m),
            None => ing.add(repo.gix(), &item.path, how),
        }
        .map(|a| (a, how))
        .map_err(|e| (e, how))
    };
    let json_progress = policy.json_progress;
    let json_error_messages = policy.json_error_messages;
    let reporter_json = reporter.is_json();
    let mut report = |item: &Item, outcome: Outcome| -> Result<(), CommandError> {
        let shown = shower.show(&item.path);
        let raw = shower.raw(&item.path);
        let input = item.input.clone().unwrap_or_else(|| raw.clone());
        match outcome {
            Ok((Added::Nothing, _)) => Ok(()),
            Ok((Added::Git { entry, note }, _)) => {
                *printed = true;
                let mut action = reporter.start(Some(&raw), None, &input)?;
                if let Some(n) = note {
                    action.note(n)?;
                }
                entries.push(entry);
                action.end(true)
            }
            Ok((
                Added::Annexed {
                    key,
                    entry,
                    present,
                    warning,
                    show_key,
                    hashed,
                },
                _,
            )) => {
                *printed = true;
                let mut action = reporter.start(Some(&raw), None, &input)?;
                if let Some(w) = warning
                    && ctx
                        .state
                        .whereis(&key)
                        .map(|v| v.is_empty())
                        .unwrap_or(true)
                {
                    eprintln!("git-annex-rs: {w}");
                }
                if show_key {
                    action.field("key", Value::String(key.to_string()));
                }
                let size = key.size().unwrap_or(0);
                if json_progress && hashed && size > 0 {
                    let mut a = serde_json::Map::new();
                    a.insert("command".into(), Value::String("add".into()));
                    a.insert("file".into(), Value::String(crate::action::lossy(&raw)));
                    a.insert(
                        "input".into(),
                        Value::Array(vec![Value::String(crate::action::lossy(&input))]),
                    );
                    let mut o = serde_json::Map::new();
                    o.insert("action".into(), Value::Object(a));
                    o.insert("byte-progress".into(), Value::from(size));
                    o.insert("percent-progress".into(), Value::String("100%".into()));
                    o.insert("total-size".into(), Value::from(size));
                    crate::action::print_json(&Value::Object(o))?;
                }
                if present {
                    ctx.state.set_present(&key, ctx.here(), true)?;
                }
                entries.push(entry);
                action.end(true)
            }
            Err((e, how)) => {
                *printed = true;
                let mut action = reporter.start(Some(&raw), None, &input)?;
                if let Some(n) = how.note() {
                    action.note(n)?;
                }
                match &e {
                    // A warning in git-annex.
                    IngestError::Changed { .. } => {
                        let msg = format!(
                            "{} changed while it was being added",
                            String::from_utf8_lossy(&shown)
                        );
                        warn(&mut action, &msg, reporter_json)?;
                    }
                    IngestError::Path(p) if p.is_beyond_symlink() => {
                        action.field("message-id", Value::String("FileBeyondSymbolicLink".into()));
                        let msg = format!(
                            "{} is beyond a symbolic link",
                            String::from_utf8_lossy(&shown)
                        );
                        giveup(&mut action, &msg, json_error_messages)?;
                    }
                    IngestError::NotRegular { .. } => {
                        let msg =
                            format!("{} is not a regular file", String::from_utf8_lossy(&shown));
                        giveup(&mut action, &msg, json_error_messages)?;
                    }
                    other => {
                        let msg = crate::error::message_with_causes(other);
                        giveup(&mut action, &msg, json_error_messages)?;
                    }
                }
                action.end(false)
            }
        }
    };
    if jobs <= 1 || items.len() <= 1 {
        for item in &items {
            let o = work(repo, item);
            report(item, o)?;
        }
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Outcome)>();
    let safe = repo.clone().into_sync();
    std::thread::scope(|s| -> Result<(), CommandError> {
        for _ in 0..jobs.min(items.len()) {
            let tx = tx.clone();
            let next = &next;
            let items = &items;
            let work = &work;
            let safe = &safe;
            s.spawn(move || {
                let repo = safe.to_thread_local();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    if tx.send((i, work(&repo, item))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        // Reported in order.
        let mut pending: HashMap<usize, Outcome> = HashMap::new();
        let mut want = 0;
        let mut failure = None;
        for (i, o) in rx {
            pending.insert(i, o);
            while let Some(o) = pending.remove(&want) {
                if failure.is_none()
                    && let Err(e) = report(&items[want], o)
                {
                    // Stop the workers; report nothing more.
                    next.store(usize::MAX / 2, Ordering::Relaxed);
                    failure = Some(e);
                }
                want += 1;
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    })?;
    Ok(())
}
