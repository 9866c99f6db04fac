//! git-annex-rs's command line, as a library so that one program is built
//! under the three names it answers to (`git-annex-rs`, `git-annex`,
//! `git-annex-shell`): [`main`] looks at the name it was invoked by, as
//! git-annex's own binary does. Each command lives in `commands/` with its
//! arguments and one function that calls into the libraries; no repository
//! logic lives here.

mod action;
mod batch;
mod commands;
mod context;
mod error;
mod global;
mod matching;
mod output;
mod progress;
mod shell;

use std::ffi::OsString;
use std::io::Write;

use clap::{CommandFactory, FromArgMatches};

/// git-annex-rs: a fast, compatible reimplementation of git-annex.
#[derive(clap::Parser, Debug)]
#[command(name = "git-annex-rs", about)]
struct Cli {
    #[command(subcommand)]
    command: commands::Command,
}

/// What the program is, by the name it was invoked as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Personality {
    /// `git-annex` or `git-annex-rs`: the git-annex commands.
    Annex,
    /// `git-annex-shell`: what a remote runs over ssh.
    Shell,
}

/// The personality for the program name `argv0` (its file name counts,
/// not its directory).
fn personality(argv0: Option<&std::ffi::OsStr>) -> Personality {
    match program_file_name(argv0) {
        Some("git-annex-shell") => Personality::Shell,
        _ => Personality::Annex,
    }
}

/// The file name of `argv0`.
fn program_file_name(argv0: Option<&std::ffi::OsStr>) -> Option<&str> {
    argv0
        .map(std::path::Path::new)
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
}

/// Runs the program with the process's arguments and exits with its code.
pub fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    if program_file_name(args.first().map(OsString::as_os_str)) == Some("git-annex") {
        // Errors then say `git-annex: ...`, as the program they stand for.
        error::set_program_name("git-annex");
    }
    let code = match personality(args.first().map(OsString::as_os_str)) {
        Personality::Shell => shell::run(args.get(1..).unwrap_or_default()),
        Personality::Annex => run_annex(args),
    };
    std::process::exit(code);
}

/// git-annex's command line: the global options (accepted anywhere, as
/// git-annex's are) are taken out first, then the command is parsed and
/// run. Returns the exit code.
fn run_annex(mut args: Vec<OsString>) -> i32 {
    if let Some(code) = commands::pre_commit::hook_fast_path(&args) {
        return code;
    }
    let app = Cli::command();
    // `--version` alone is the `version` command: one version everywhere.
    if args.len() == 2 && args[1] == "--version" {
        args[1] = "version".into();
    }
    let (args, globals) = match global::extract(&app, args) {
        Ok(v) => v,
        Err(e) => return e.report(),
    };
    if let Err(e) = global::install(globals) {
        return e.report();
    }
    let cli = match app
        .try_get_matches_from(args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout and succeed; a usage error
            // exits 1, as git-annex's do (clap's own code would be 2).
            let code = if e.use_stderr() { 1 } else { 0 };
            // Nothing more can be said if stderr is gone.
            let _ = e.print();
            return code;
        }
    };
    // What git runs (filters, hooks) never moves the branch under it.
    let refreshes = !matches!(
        cli.command,
        commands::Command::FilterProcess(_)
            | commands::Command::Smudge(_)
            | commands::Command::PreCommit(_)
            | commands::Command::PostReceive(_)
            | commands::Command::PrePush(_)
    );
    let code = match commands::run(cli.command) {
        Ok(()) => 0,
        Err(e) => e.report(),
    };
    if refreshes {
        adjusted_branch_refresh();
    }
    code
}

/// git-annex's cleanup after a command that got or dropped content in an
/// adjusted branch depending on it (`annex.adjustedbranchrefresh`).
fn adjusted_branch_refresh() {
    if let Ok(cwd) = std::env::current_dir()
        && annex_ops::adjust::refresh_after_command(&cwd) == Some(false)
    {
        eprintln!("  Updating adjusted branch failed.");
    }
}

/// After each action: git-annex's refresh of an adjusted branch depending
/// on content every N-1 changes of it (`annex.adjustedbranchrefresh`
/// above 1). Nothing to do unless this process changed such content.
pub(crate) fn adjusted_branch_refresh_due() {
    if annex_core::adjustlog::changed_any()
        && let Ok(cwd) = std::env::current_dir()
        && annex_ops::adjust::refresh_when_due(&cwd) == Some(false)
    {
        let _ = std::io::stdout().flush();
        eprintln!("  Updating adjusted branch failed.");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personality_is_chosen_by_the_file_name_of_argv0() {
        assert_eq!(personality(Some("git-annex".as_ref())), Personality::Annex);
        assert_eq!(
            personality(Some("/usr/bin/git-annex-rs".as_ref())),
            Personality::Annex
        );
        assert_eq!(
            personality(Some("/opt/x/git-annex-shell".as_ref())),
            Personality::Shell
        );
        assert_eq!(
            personality(Some("git-annex-shell-not".as_ref())),
            Personality::Annex
        );
        assert_eq!(personality(None), Personality::Annex);
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
