//! `updateproxy`, `initcluster`, `updatecluster`, `extendcluster`: the
//! setup of proxies and clusters ([`annex_proxy::setup`]), printed as
//! git-annex prints it.

use std::ffi::OsString;

use annex_proxy::setup::{self, Repo, SetupError};

use crate::action::{Mode, Reporter};
use crate::context::Ctx;
use crate::error::CommandError;
use crate::output::outln;

/// Arguments of `updateproxy` and `updatecluster`.
#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    /// Avoid the usual informational output.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Override a git config setting for this command (`name=value`).
    #[arg(short = 'c', long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
}

/// Arguments of `initcluster` and `extendcluster`.
#[derive(clap::Args, Debug)]
pub struct NamedArgs {
    /// `initcluster`: the name, then the description; `extendcluster`:
    /// the gateway remote, then the cluster's name.
    params: Vec<OsString>,
    /// Avoid the usual informational output.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Override a git config setting for this command (`name=value`).
    #[arg(short = 'c', long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
}

fn setup_err(e: SetupError) -> CommandError {
    CommandError::failed(e.to_string())
}

fn with_repo<T>(
    ctx: &Ctx,
    f: impl FnOnce(&Repo<'_>) -> Result<T, SetupError>,
) -> Result<T, CommandError> {
    with_repo_raw(ctx, f).map_err(setup_err)
}

fn with_repo_raw<T>(
    ctx: &Ctx,
    f: impl FnOnce(&Repo<'_>) -> Result<T, SetupError>,
) -> Result<T, SetupError> {
    let base = ctx.base_dir();
    let repo = Repo {
        git_dir: ctx.repo.git_dir(),
        base: &base,
        uuid: ctx.here(),
        config: &ctx.config,
        state: &ctx.state,
    };
    f(&repo)
}

fn print_proxy_update(ctx: &Ctx) -> Result<(), CommandError> {
    let update = with_repo(ctx, setup::update_proxy)?;
    for w in &update.warnings {
        crate::error::warn(w);
    }
    if update.changes.is_empty() {
        outln!("No proxy changes to record.")?;
    }
    for (started, name) in &update.changes {
        if *started {
            outln!("Started proxying for {name}")?;
        } else {
            outln!("Stopped proxying for {name}")?;
        }
    }
    Ok(())
}

fn print_cluster_update(ctx: &Ctx) -> Result<(), CommandError> {
    let (warnings, updates) = with_repo(ctx, setup::update_cluster)?;
    for w in &warnings {
        crate::error::warn(w);
    }
    for u in &updates {
        if u.changes.is_empty() {
            outln!("No cluster node changes for cluster: {}", u.cluster)?;
        }
        for line in &u.changes {
            outln!("{line}")?;
        }
    }
    Ok(())
}

/// `updateproxy`.
pub fn run_updateproxy(args: UpdateArgs) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.config, true)?;
    print_proxy_update(&ctx)?;
    super::describe::record(&ctx, false)
}

/// `updatecluster`: the clusters' nodes, then the proxies.
pub fn run_updatecluster(args: UpdateArgs) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.config, true)?;
    print_cluster_update(&ctx)?;
    print_proxy_update(&ctx)?;
    super::describe::record(&ctx, false)
}

/// `initcluster NAME [DESCRIPTION]`.
pub fn run_initcluster(args: NamedArgs) -> Result<(), CommandError> {
    let params = super::describe::strings(&args.params);
    let (name, desc) = match params.as_slice() {
        [name, desc] => (name.clone(), desc.clone()),
        [name] => (name.clone(), format!("cluster {name}")),
        _ => {
            return Err(CommandError::failed(
                "Expected two parameters, name and description.",
            ));
        }
    };
    let ctx = Ctx::open(&args.config, args.quiet)?;
    let mut reporter = Reporter::new("initcluster", Mode::Plain).quiet(args.quiet);
    let mut action = reporter.start(None, None, name.as_bytes())?;
    match with_repo_raw(&ctx, |r| setup::init_cluster(r, &name, &desc)) {
        Ok(_) => action.end(true)?,
        Err(e) => {
            action.fail(&e.to_string())?;
            action.end(false)?;
        }
    }
    super::describe::record(&ctx, !args.quiet)?;
    reporter.finish()
}

/// `extendcluster REMOTE CLUSTERNAME`, then what `updatecluster` does.
pub fn run_extendcluster(args: NamedArgs) -> Result<(), CommandError> {
    let params = super::describe::strings(&args.params);
    let [remote, cluster] = params.as_slice() else {
        return Err(CommandError::failed(
            "Expected two parameters, gateway and clustername.",
        ));
    };
    let ctx = Ctx::open(&args.config, args.quiet)?;
    // The refusals before anything starts, as git-annex's.
    let mut reporter = Reporter::new("extendcluster", Mode::Plain).quiet(args.quiet);
    with_repo(&ctx, |r| setup::extend_cluster(r, remote, cluster))?;
    let action = reporter.start(None, None, cluster.as_bytes())?;
    action.end(true)?;
    drop(ctx);
    // The git config changed: read again.
    let ctx = Ctx::open(&args.config, true)?;
    print_cluster_update(&ctx)?;
    print_proxy_update(&ctx)?;
    super::describe::record(&ctx, false)?;
    reporter.finish()
}
