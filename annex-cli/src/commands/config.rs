//! `config --set NAME VALUE | --get NAME | --unset NAME | --show-origin
//! NAME [--for-file FILE]`: the repository-global settings kept in the
//! `git-annex` branch ([`annex_ops::global_config`]), shown as git-annex
//! shows them (`NAME VALUE ok`, the value alone for `--get`, `PLACE\tVALUE`
//! for `--show-origin`).

use annex_ops::global_config::{self, Found, GlobalConfigError};

use crate::action::{Mode, Reporter};
use crate::context::Ctx;
use crate::error::{CommandError, ErrorKind};

/// Arguments of `config`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["set", "get", "unset", "show_origin"])))]
pub struct Args {
    /// Set a setting in the git-annex branch.
    #[arg(long, num_args = 2, value_names = ["NAME", "VALUE"])]
    set: Option<Vec<String>>,
    /// Print a setting's value in the git-annex branch.
    #[arg(long, value_name = "NAME")]
    get: Option<String>,
    /// Unset a setting in the git-annex branch.
    #[arg(long, value_name = "NAME")]
    unset: Option<String>,
    /// Explain where a setting's value comes from.
    #[arg(long = "show-origin", value_name = "NAME")]
    show_origin: Option<String>,
    /// With `--show-origin`, the file to check `.gitattributes` for.
    #[arg(long = "for-file", value_name = "FILE", requires = "show_origin")]
    for_file: Option<std::ffi::OsString>,
    /// Avoid the usual informational output.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Override a git config setting for this command (`name=value`).
    #[arg(short = 'c', long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
}

fn lib_error(e: GlobalConfigError) -> CommandError {
    let kind = match e {
        GlobalConfigError::NotGlobal(_) => ErrorKind::User,
        _ => ErrorKind::Failure,
    };
    CommandError::new(kind, e)
}

/// Runs the command.
pub fn run(args: Args) -> Result<(), CommandError> {
    let name = args
        .set
        .as_ref()
        .and_then(|s| s.first())
        .or(args.get.as_ref())
        .or(args.unset.as_ref())
        .or(args.show_origin.as_ref())
        .cloned()
        .unwrap_or_default();
    if args.show_origin.is_none() {
        global_config::check(&name).map_err(lib_error)?;
    }
    // Like git-annex's, this command's messages show even with --quiet.
    let ctx = Ctx::open(&args.config, false)?;
    if let Some(set) = &args.set {
        let value = set.get(1).cloned().unwrap_or_default();
        return change(&ctx, &name, &value, |ctx| {
            global_config::set(ctx, &name, value.as_bytes())
        });
    }
    if args.unset.is_some() {
        return change(&ctx, &name, "unset", |ctx| global_config::unset(ctx, &name));
    }
    if args.get.is_some() {
        if let Some(v) = global_config::get(&ctx, &name).map_err(lib_error)? {
            crate::output::bytes_line(&v)?;
        }
        return Ok(());
    }
    show_origin(&ctx, &name, args.for_file.as_deref())
}

/// One change, shown as `NAME SHOWN ok`, then recorded.
fn change(
    ctx: &Ctx,
    name: &str,
    shown: &str,
    f: impl FnOnce(&Ctx) -> Result<(), GlobalConfigError>,
) -> Result<(), CommandError> {
    let mut reporter = Reporter::new(name, Mode::Plain);
    let mut action = reporter.start(None, None, shown.as_bytes())?;
    let ok = match f(ctx) {
        Ok(()) => true,
        Err(e) => {
            action.fail(&e.to_string())?;
            false
        }
    };
    action.end(ok)?;
    super::describe::record(ctx, true)?;
    summary(ok)
}

/// The command's summary: `config: 1 failed` after a failure.
fn summary(ok: bool) -> Result<(), CommandError> {
    if ok {
        Ok(())
    } else {
        Err(CommandError::quiet_failure("config: 1 failed"))
    }
}

/// `--show-origin`.
fn show_origin(
    ctx: &Ctx,
    name: &str,
    for_file: Option<&std::ffi::OsStr>,
) -> Result<(), CommandError> {
    let file = match (for_file, ctx.worktree.as_ref()) {
        (Some(f), Some(wt)) => {
            let top = wt
                .top()
                .canonicalize()
                .unwrap_or_else(|_| wt.top().to_path_buf());
            Some(annex_core::worktree::pathspec_from_arg(
                &top,
                &ctx.cwd,
                std::path::Path::new(f),
            )?)
        }
        _ => None,
    };
    let origin =
        global_config::show_origin(ctx, &ctx.cwd, name, file.as_deref()).map_err(lib_error)?;
    for w in &origin.warnings {
        eprintln!("  {w}");
    }
    match origin.found {
        Some(Found::GitConfig(out)) => crate::output::bytes(&out)?,
        Some(Found::Other(place, v)) => {
            crate::output::bytes(place.as_bytes())?;
            crate::output::bytes(b"\t")?;
            crate::output::bytes_line(&v)?;
        }
        None => {
            eprintln!("  {name} is not configured");
            return summary(false);
        }
    }
    Ok(())
}
