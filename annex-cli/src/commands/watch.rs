//! `watch` and `assistant`: the daemon that adds, removes and commits
//! files as they change, as `git annex watch` runs (the daemon itself is
//! `annex-watch`; here only its options and the `add` it adds with); the
//! assistant also syncs with its remotes after each commit (the sync
//! machinery in its `assist` mode: pull, push, content), as the
//! reference's pusher and transferrer do after a commit. Not yet: its
//! merger (changes pushed into this repository are merged at the next
//! commit's sync, not as they arrive), `--autostart`, `--startdelay`.
//!
//! Files are added as git-annex's assistant adds them: through `add`, so
//! `annex.largefiles`, `annex.dotfiles` and `.gitignore` are honoured as
//! `add` honours them, and unlocked (`annex.addunlocked=true`) unless
//! `annex.assistant.allowunlocked` is set, when `annex.addunlocked` decides
//! as for `add`.

use std::ffi::OsString;

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

/// The daemon's adder: `add` run in this process on each batch.
struct CliAdder {
    config: Vec<String>,
    /// The assistant: sync after each commit.
    assistant: bool,
}

impl Adder for CliAdder {
    fn add(&mut self, paths: &[Vec<u8>]) -> Result<(), String> {
        use std::os::unix::ffi::OsStrExt;
        let mut words: Vec<OsString> = vec!["add".into()];
        for c in &self.config {
            words.push("-c".into());
            words.push(c.into());
        }
        words.push("--".into());
        words.extend(
            paths
                .iter()
                .map(|p| std::ffi::OsStr::from_bytes(p).to_os_string()),
        );
        let parsed = AddWords::try_parse_from(words).map_err(|e| e.to_string())?;
        super::add::run(parsed.args).map_err(|e| e.render())
    }

    fn after_commit(&mut self) {
        if !self.assistant {
            return;
        }
        let mut words: Vec<OsString> = vec!["sync".into()];
        for c in &self.config {
            words.push("-c".into());
            words.push(c.into());
        }
        let result = SyncWords::try_parse_from(words)
            .map_err(|e| e.to_string())
            .and_then(|w| {
                super::sync::run_mode(w.args, super::sync::Mode::Assist).map_err(|e| e.render())
            });
        if let Err(e) = result {
            eprintln!("{e}");
        }
    }
}

/// Starts, runs or stops `watch`.
pub fn run(args: Args) -> Result<(), CommandError> {
    run_daemon(args, false)
}

/// Starts, runs or stops the `assistant`.
pub fn run_assistant(args: Args) -> Result<(), CommandError> {
    run_daemon(args, true)
}

/// Starts, runs or stops the daemon (the assistant's when `assistant`).
fn run_daemon(args: Args, assistant: bool) -> Result<(), CommandError> {
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
    let opts = RunOptions {
        top,
        files,
        commit_message: format!("git-annex in {description}"),
    };
    // The daemon has its own session per batch (through `add`), given
    // paths from the top: it works from there wherever it was started.
    drop(ctx);
    std::env::set_current_dir(&opts.top).map_err(|e| {
        CommandError::failed(format!("cannot change to {}: {e}", opts.top.display()))
    })?;
    daemon::run(&opts, CliAdder { config, assistant }).map_err(fail)
}
