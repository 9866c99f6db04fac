//! `watch` and `assistant`: the daemon that adds, removes and commits
//! files as they change, as `git annex watch` runs (the daemon itself is
//! `annex-watch`; here only its options and the `add` it adds with); the
//! assistant also merges, pushes and transfers content through
//! [`CliSyncer`], which runs `sync`'s own steps (its merge of a branch and
//! of the `git-annex` branch, `push` without content, the content pass)
//! when the daemon's merger, pusher and transferrer ask.
//!
//! `assistant --autostart` starts a daemon in each repository of
//! `~/.config/git-annex/autostart` (stopping any old one there first), with
//! `--startdelay` (5 seconds unless given), and says for each
//! `git-annex autostart in DIR` then `ok` or `failed`; `--autostop` stops
//! them. `annex.autocommit=false`: nothing is added or committed (the
//! assistant still merges and pushes); `annex.delayadd=N`: new files are
//! added N seconds after their last change; `annex.startupscan=false`: no
//! startup scan.
//!
//! Files are added as git-annex's assistant adds them: through `add`, so
//! `annex.largefiles`, `annex.dotfiles` and `.gitignore` are honoured as
//! `add` honours them (but `.gitignore` and `.gitattributes` always go to
//! git, see [`CliAdder`]), and unlocked (`annex.addunlocked=true`) unless
//! `annex.assistant.allowunlocked` is set, when `annex.addunlocked` decides
//! as for `add`.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use annex_sync::content::ContentOptions;
use annex_sync::sync::{FailedPushes, SyncRepo};
use annex_watch::syncer::{RepoLock, Syncer};

use annex_watch::committer::Adder;
use annex_watch::daemon::{self, DaemonFiles, RunOptions};
use annex_watch::pidfile::stop_daemon;
use clap::Parser;

use crate::context::Ctx;
use crate::error::CommandError;

/// Arguments of `watch`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Avoid forking to the background.
    #[arg(long)]
    foreground: bool,
    /// Stop a running daemon in the current repository.
    #[arg(long)]
    stop: bool,
    /// Override a git config setting for this command (`name=value`).
    #[arg(short = 'c', long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
}

/// Arguments of `assistant`: `watch`'s, and its own.
#[derive(clap::Args, Debug)]
pub struct AssistantArgs {
    #[command(flatten)]
    daemon: Args,
    /// Start in known repositories.
    #[arg(long)]
    autostart: bool,
    /// Stop in known repositories.
    #[arg(long)]
    autostop: bool,
    /// Delay before running startup scan.
    #[arg(long, value_name = "NUMBER")]
    startdelay: Option<String>,
}

/// `add`'s arguments, parsed from words.
#[derive(Parser)]
struct AddWords {
    #[command(flatten)]
    args: super::add::Args,
}

/// `sync`'s arguments, parsed from words.
#[derive(Parser)]
struct SyncWords {
    #[command(flatten)]
    args: super::sync::Args,
}

/// The assistant's repository lock (see [`annex_watch::syncer`]), once
/// its pusher has run: `sync`'s merges take it ([`repo_lock_guard`]), so
/// a push or pull run for the daemon holds it only while it merges.
static REPO_LOCK: OnceLock<RepoLock> = OnceLock::new();

/// In the assistant, its repository lock, held until the guard goes;
/// `None` in any other command.
pub(crate) fn repo_lock_guard() -> Option<MutexGuard<'static, ()>> {
    REPO_LOCK
        .get()
        .map(|l| l.lock().unwrap_or_else(|e| e.into_inner()))
}

/// The daemon's adder: `add` run in this process on each batch.
///
/// `.gitignore` and `.gitattributes` are staged in git as they are, never
/// annexed, even with `annex.dotfiles=true` (under which the reference's
/// `git annex add` annexes them, and its watcher skips them altogether):
/// they are added apart, with `--force-small`.
struct CliAdder {
    config: Vec<String>,
}

/// Whether `path` (from the top) is a `.gitignore` or `.gitattributes`,
/// which the daemon always stages in git.
fn is_git_control_file(path: &[u8]) -> bool {
    let name = path.rsplit(|&c| c == b'/').next().unwrap_or(path);
    name == b".gitignore" || name == b".gitattributes"
}

impl CliAdder {
    /// `add` (with `extra` options) run on `paths`.
    fn run_add(&self, extra: &[&str], paths: &[&Vec<u8>]) -> Result<(), String> {
        let mut words: Vec<OsString> = vec!["add".into()];
        for c in &self.config {
            words.push("-c".into());
            words.push(c.into());
        }
        words.extend(extra.iter().map(OsString::from));
        words.push("--".into());
        words.extend(
            paths
                .iter()
                .map(|p| std::ffi::OsStr::from_bytes(p).to_os_string()),
        );
        let parsed = AddWords::try_parse_from(words).map_err(|e| e.to_string())?;
        super::add::run(parsed.args).map_err(|e| e.render())
    }
}

impl Adder for CliAdder {
    fn add(&mut self, paths: &[Vec<u8>]) -> Result<(), String> {
        let (control, rest): (Vec<&Vec<u8>>, Vec<&Vec<u8>>) =
            paths.iter().partition(|p| is_git_control_file(p));
        let first = if rest.is_empty() {
            Ok(())
        } else {
            self.run_add(&[], &rest)
        };
        let second = if control.is_empty() {
            Ok(())
        } else {
            self.run_add(&["--force-small"], &control)
        };
        first.and(second)
    }
}

/// The assistant's sync operations: `sync`'s own steps, each in a
/// session of its own (as the adder's `add`).
///
/// Unlocked files a merge brought as pointers whose content is not here
/// yet are remembered (shared by the clones): when a peer then sends the
/// content straight into our object store, nothing of ours runs to fill
/// them in (git-annex fills them from its keys database when content
/// arrives), so the daemon does it before each content pass.
#[derive(Clone)]
pub(crate) struct CliSyncer {
    config: Vec<String>,
    git_dir: PathBuf,
    top: PathBuf,
    awaiting: Arc<Mutex<BTreeSet<Vec<u8>>>>,
}

impl CliSyncer {
    /// `sync`'s arguments from `words` (after `sync`), with the daemon's
    /// `-c` settings.
    fn sync_args(&self, words: &[&str]) -> Result<super::sync::Args, String> {
        let mut all: Vec<OsString> = vec!["sync".into()];
        for c in &self.config {
            all.push("-c".into());
            all.push(c.into());
        }
        all.extend(words.iter().map(OsString::from));
        SyncWords::try_parse_from(all)
            .map(|w| w.args)
            .map_err(|e| e.to_string())
    }

    /// The remotes among `tried` (every remote when empty) whose last push
    /// failed, as `sync` recorded it.
    fn failed_pushes(&self, tried: &[String]) -> Result<Vec<String>, String> {
        let failed = FailedPushes::load(&self.git_dir).map_err(|e| e.to_string())?;
        let names: Vec<String> = if tried.is_empty() {
            let ctx = Ctx::open(&self.config, true).map_err(|e| e.render())?;
            ctx.config
                .remotes_by_cost_groups()
                .into_iter()
                .map(|r| r.name.clone())
                .collect()
        } else {
            tried.to_vec()
        };
        Ok(names.into_iter().filter(|n| failed.contains(n)).collect())
    }

    /// Remembers the unlocked files that changed between `from` and `to`
    /// and are still pointers.
    fn await_pointers(&self, from: &str, to: &str) {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.top)
            .args(["diff", "--name-only", "-z", "--no-renames", from, to, "--"])
            .output();
        let Ok(out) = out else { return };
        let mut awaiting = self.awaiting.lock().unwrap_or_else(|e| e.into_inner());
        for p in out.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
            let full = self.top.join(std::ffi::OsStr::from_bytes(p));
            if matches!(annex_core::pointer::is_pointer_file(&full), Ok(Some(_))) {
                awaiting.insert(p.to_vec());
            }
        }
    }

    /// Fills in the remembered pointers whose content is here now (and
    /// forgets those that are no pointers any more), then refreshes their
    /// index entries.
    fn populate_awaiting(&self) {
        let mut awaiting = self.awaiting.lock().unwrap_or_else(|e| e.into_inner());
        if awaiting.is_empty() {
            return;
        }
        let Ok(store) = annex_core::objects::ObjectStore::open(&self.git_dir) else {
            return;
        };
        let thin_cfg = Command::new("git")
            .arg("-C")
            .arg(&self.top)
            .args(["config", "--type=bool", "annex.thin"])
            .output()
            .ok()
            .map(|o| o.stdout.starts_with(b"true"));
        let thin = annex_core::pointer::Thin::from_config(thin_cfg);
        let mut populated = Vec::new();
        awaiting.retain(|p| {
            let full = self.top.join(std::ffi::OsStr::from_bytes(p));
            match annex_core::pointer::is_pointer_file(&full) {
                Ok(Some(key)) if store.has(&key) => {
                    match annex_core::pointer::populate_pointer(&full, &key, &store, thin) {
                        Ok(true) => {
                            populated.push(p.clone());
                            false
                        }
                        _ => true,
                    }
                }
                Ok(Some(_)) => true,
                _ => false,
            }
        });
        drop(awaiting);
        if !populated.is_empty() {
            annex_core::hooks::restage(&self.top, &populated);
        }
    }

    fn head(&self) -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&self.top)
            .args(["rev-parse", "-q", "--verify", "HEAD"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Syncer for CliSyncer {
    fn merge_annex(&mut self) -> Result<bool, String> {
        let branch = || {
            SyncRepo::open(&self.git_dir, Some(&self.top))
                .ok()
                .and_then(|r| r.ref_id("refs/heads/git-annex").ok().flatten())
        };
        let before = branch();
        let ctx = Ctx::open(&self.config, false).map_err(|e| e.render())?;
        super::sync::merge_annex(&ctx, false, false).map_err(|e| e.render())?;
        drop(ctx);
        Ok(branch() != before)
    }

    fn merge_branch(&mut self, from: &str, into: &str) -> Result<bool, String> {
        let mut repo = SyncRepo::open(&self.git_dir, Some(&self.top)).map_err(|e| e.to_string())?;
        // Nothing is merged into a branch without commits (as the
        // reference's merger), nor what the branch already has.
        if repo.ref_id(into).map_err(|e| e.to_string())?.is_none()
            || repo.ref_id(from).map_err(|e| e.to_string())?.is_none()
            || !repo.changed(into, from).map_err(|e| e.to_string())?
        {
            return Ok(false);
        }
        let before = self.head();
        let args = self.sync_args(&[])?;
        let ctx = Ctx::open(&self.config, false).map_err(|e| e.render())?;
        let resolve = ctx.config.get_bool("annex.resolvemerge").unwrap_or(true);
        let quote = ctx.config.get_bool("core.quotepath").unwrap_or(true);
        drop(ctx);
        let out = super::sync::Out::new(&args.out, quote);
        let mut rep = out.reporter("merge");
        let shown = from.strip_prefix("refs/heads/").unwrap_or(from);
        let options = super::sync::MergeOptions {
            allow_unrelated: true,
            resolve,
            quiet: false,
        };
        let result = (|| {
            let mut a = super::sync::start_other(&mut rep, shown, false)?;
            a.say(b"\n")?;
            let ok = super::sync::merge_one(&mut repo, from, options, false, &mut a)?;
            a.end(ok)
        })();
        result.map_err(|e| e.render())?;
        let after = self.head();
        if let (Some(b), Some(a)) = (&before, &after)
            && b != a
        {
            self.await_pointers(b, a);
            self.populate_awaiting();
        }
        Ok(after != before)
    }

    fn push(&mut self, remotes: &[String], lock: &RepoLock) -> Result<Vec<String>, String> {
        // The push's merges (after a rejected push) take the lock.
        let _ = REPO_LOCK.set(Arc::clone(lock));
        let mut words = vec!["--no-content"];
        words.extend(remotes.iter().map(String::as_str));
        let args = self.sync_args(&words)?;
        if let Err(e) = super::sync::run_mode(args, super::sync::Mode::Push) {
            eprintln!("{}", e.render());
        }
        self.failed_pushes(remotes)
    }

    fn reconnect(&mut self, lock: &RepoLock) -> Result<Vec<String>, String> {
        // The pull's merges take the lock, the fetches and pushes do not.
        let _ = REPO_LOCK.set(Arc::clone(lock));
        let args = self.sync_args(&["--no-content", "--no-commit"])?;
        if let Err(e) = super::sync::run_mode(args, super::sync::Mode::Sync) {
            eprintln!("{}", e.render());
        }
        self.failed_pushes(&[])
    }

    fn transfer(
        &mut self,
        lock: &RepoLock,
        busy: &std::collections::HashSet<annex_core::key::Key>,
        stop: &annex_watch::stop::Stop,
    ) -> Result<bool, String> {
        {
            // These write the index: under the lock; the pass is not.
            let _g = lock.lock().unwrap_or_else(|e| e.into_inner());
            // Unlocked files checked out as pointers before their content
            // came (a peer sends content and branch separately) get it
            // now, as the post-checkout hook's `smudge --update` gives it.
            match super::pre_commit::HookRepo::open().and_then(|hr| hr.update_smudged()) {
                Ok(populated) => annex_core::hooks::restage(&self.top, &populated),
                Err(e) => eprintln!("{}", e.render()),
            }
            self.populate_awaiting();
        }
        let args = self.sync_args(&[])?;
        let ctx = Ctx::open(&self.config, false).map_err(|e| e.render())?;
        let remotes: Vec<String> = ctx
            .config
            .remotes_by_cost_groups()
            .into_iter()
            .filter(|r| r.sync)
            .map(|r| r.name.clone())
            .collect();
        let mut options = ContentOptions::new(self.top.clone());
        options.remotes = remotes;
        options.busy = busy.clone();
        options.stop = Some(stop.flag());
        let run = super::sync_content::run(ctx, options, &args.out).map_err(|e| e.render())?;
        drop(run.connections);
        Ok(run.recorded || run.transferred)
    }
}

/// Starts, runs or stops `watch`.
pub fn run(args: Args) -> Result<(), CommandError> {
    run_daemon(args, None, None)
}

/// Starts, runs or stops the `assistant`; or `--autostart`/`--autostop`
/// in the repositories of the autostart file.
pub fn run_assistant(args: AssistantArgs) -> Result<(), CommandError> {
    let delay = match args.startdelay.as_deref() {
        None => None,
        Some(t) => Some(crate::global::parse_duration(t).ok_or_else(|| {
            CommandError::failed(format!(
                "failed to parse duration \"{t}\" (expected eg \"5m\" or \"1h5m\")"
            ))
        })?),
    };
    if args.autostart || args.autostop {
        return autostart(args.autostart, args.daemon.foreground, delay);
    }
    run_daemon(args.daemon, Some(true), delay)
}

/// A duration as git-annex shows one: its two largest units (`5s`,
/// `1h30m`), `0s` for none.
fn show_duration(d: Duration) -> String {
    let mut left = d.as_secs();
    if left == 0 {
        return "0s".into();
    }
    let units = [
        ('y', 365 * 86400),
        ('d', 86400),
        ('h', 3600),
        ('m', 60),
        ('s', 1),
    ];
    let mut parts = Vec::new();
    for (u, n) in units {
        let q = left / n;
        if q > 0 {
            parts.push(format!("{q}{u}"));
            left %= n;
        } else if !parts.is_empty() {
            break;
        }
        if parts.len() == 2 {
            break;
        }
    }
    parts.concat()
}

/// `--autostart` (`start`) or `--autostop` over the autostart file.
fn autostart(start: bool, foreground: bool, delay: Option<Duration>) -> Result<(), CommandError> {
    let dirs = annex_watch::autostart::read();
    if start && dirs.is_empty() {
        let f = annex_watch::autostart::autostart_file().unwrap_or_default();
        return Err(CommandError::failed(format!(
            "Nothing listed in {}",
            f.display()
        )));
    }
    let exe = std::env::current_exe()
        .map_err(|e| CommandError::failed(format!("cannot find this program: {e}")))?;
    let word = if start { "autostart" } else { "autostop" };
    let mut waiting = Vec::new();
    for d in dirs {
        crate::output::outln!("git-annex {word} in {}", d.display())?;
        let stop = Command::new(&exe)
            .current_dir(&d)
            .args(["assistant", "--stop"])
            .status();
        if !start {
            let ok = stop.is_ok_and(|s| s.success());
            crate::output::outln!("{}", if ok { "ok" } else { "failed" })?;
            continue;
        }
        let mut c = Command::new(&exe);
        c.current_dir(&d).arg("assistant").arg(format!(
            "--startdelay={}",
            show_duration(delay.unwrap_or(Duration::from_secs(5)))
        ));
        if foreground {
            c.arg("--foreground");
        }
        match c.spawn() {
            Ok(child) if foreground => waiting.push(child),
            Ok(mut child) => {
                let ok = child.wait().is_ok_and(|s| s.success());
                crate::output::outln!("{}", if ok { "ok" } else { "failed" })?;
            }
            Err(_) => crate::output::outln!("failed")?,
        }
    }
    let mut all_ok = true;
    for mut child in waiting {
        all_ok &= child.wait().is_ok_and(|s| s.success());
    }
    if all_ok {
        Ok(())
    } else {
        Err(CommandError::quiet_failure(String::new()))
    }
}

/// Starts, runs or stops the daemon (the assistant's when `assistant`).
fn run_daemon(
    args: Args,
    assistant: Option<bool>,
    start_delay: Option<Duration>,
) -> Result<(), CommandError> {
    let assistant = assistant.unwrap_or(false);
    let ctx = Ctx::open(&args.config, true)?;
    let wt = ctx.worktree()?;
    let top = wt
        .top()
        .canonicalize()
        .unwrap_or_else(|_| wt.top().to_path_buf());
    let files = DaemonFiles::new(ctx.repo.git_dir());
    if args.stop {
        stop_daemon(&files.pid).map_err(|e| CommandError::failed(e.to_string()))?;
        return Ok(());
    }
    let fail = |e: daemon::DaemonError| CommandError::failed(e.to_string());
    let _lock = if daemon::is_daemonized_child() {
        daemon::enter_background(&files).map_err(fail)?
    } else if args.foreground {
        daemon::enter_foreground(&files).map_err(fail)?
    } else {
        let words: Vec<OsString> = std::env::args_os().skip(1).collect();
        return daemon::spawn_background(&files, &words).map_err(fail);
    };
    let description = ctx
        .state
        .descriptions()
        .ok()
        .and_then(|d| d.get(ctx.here()).cloned())
        .map(|d| String::from_utf8_lossy(&d).into_owned())
        .unwrap_or_else(|| "unknown".to_string());
    let mut config = args.config.clone();
    if !ctx
        .config
        .get_bool("annex.assistant.allowunlocked")
        .unwrap_or(false)
    {
        config.push("annex.addunlocked=true".into());
    }
    let delay_add = ctx
        .config
        .get_str("annex.delayadd")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let opts = RunOptions {
        top,
        git_dir: ctx.repo.git_dir().to_path_buf(),
        files,
        commit_message: format!("git-annex in {description}"),
        autocommit: ctx.config.get_bool("annex.autocommit").unwrap_or(true),
        delay_add,
        startup_scan: ctx.config.get_bool("annex.startupscan").unwrap_or(true),
        start_delay,
    };
    // The daemon has its own session per batch (through `add`), given
    // paths from the top: it works from there wherever it was started.
    drop(ctx);
    std::env::set_current_dir(&opts.top).map_err(|e| {
        CommandError::failed(format!("cannot change to {}: {e}", opts.top.display()))
    })?;
    let syncer = assistant.then(|| CliSyncer {
        config: config.clone(),
        git_dir: opts.git_dir.clone(),
        top: opts.top.clone(),
        awaiting: Arc::default(),
    });
    daemon::run(&opts, CliAdder { config }, syncer).map_err(fail)
}
