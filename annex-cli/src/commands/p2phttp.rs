//! `p2phttp`: serve git-annex's HTTP API for this repository, or for the
//! repositories under `--directory` (annex-proxy's `http::server`).

use std::path::{Path, PathBuf};

use annex_proxy::http::server::{self, Options, Users};

use crate::context::Ctx;
use crate::error::CommandError;

/// Arguments of `p2phttp`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Port to listen on (default 9417).
    #[arg(long)]
    port: Option<u16>,
    /// Address to bind to (default: all addresses).
    #[arg(long)]
    bind: Option<String>,
    /// TLS certificate file for HTTPS.
    #[arg(long)]
    certfile: Option<PathBuf>,
    /// TLS private key file for HTTPS.
    #[arg(long)]
    privatekeyfile: Option<PathBuf>,
    /// Authenticate users from the environment (HTTPS only).
    #[arg(long)]
    authenv: bool,
    /// Authenticate users from the environment (HTTP too).
    #[arg(long = "authenv-http")]
    authenv_http: bool,
    /// Let unauthenticated users read the repository.
    #[arg(long = "unauth-readonly")]
    unauth_readonly: bool,
    /// Let unauthenticated users read and add to the repository.
    #[arg(long = "unauth-appendonly")]
    unauth_appendonly: bool,
    /// Do not let unauthenticated users lock content.
    #[arg(long = "unauth-nolocking")]
    unauth_nolocking: bool,
    /// Give unauthenticated users full read+write access.
    #[arg(long)]
    wideopen: bool,
    /// Requests served at once.
    #[arg(long, short = 'J')]
    jobs: Option<String>,
    /// Content files that can be locked at once (default 100).
    #[arg(long)]
    lockedfiles: Option<usize>,
    /// Nodes of a cluster accessed at once per connection (default 1).
    #[arg(long)]
    clusterjobs: Option<usize>,
    /// Serve the git-annex repositories found under this directory.
    #[arg(long)]
    directory: Vec<PathBuf>,
    /// Override a git config setting for this command (`name=value`).
    #[arg(short = 'c', long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
}

fn jobs_value(s: &str) -> Option<usize> {
    if s == "cpus" {
        return std::thread::available_parallelism().map(|n| n.get()).ok();
    }
    s.parse().ok().filter(|n| *n > 0)
}

/// Git repositories with an annex UUID under `dir`, not looking inside
/// one found, nor following symbolic links.
fn find_repos(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        if !ft.is_dir() {
            continue;
        }
        let p = e.path();
        if let Some(git_dir) = annex_core::remote::git_dir_of(&p) {
            // A git-annex repository is one with a UUID; only read here
            // (opening it would also clean up after it).
            if annex_core::remote::repository_uuid(&git_dir).is_some() {
                out.push(p);
            }
        } else {
            find_repos(&p, out);
        }
    }
}

/// Serves until stopped.
pub fn run(args: Args) -> Result<(), CommandError> {
    let mut paths = Vec::new();
    let mut jobs = args
        .jobs
        .as_deref()
        .map(|j| jobs_value(j).ok_or_else(|| CommandError::user(format!("bad --jobs value {j}"))));
    if args.directory.is_empty() {
        let ctx = Ctx::open(&args.config, true)?;
        if ctx.repo.uuid().is_none() {
            return Err(CommandError::failed(
                "Use the --directory option to specify which git-annex repositories to serve.",
            ));
        }
        if jobs.is_none() {
            jobs = ctx
                .config
                .get_str("annex.jobs")
                .and_then(|j| jobs_value(&j))
                .map(Ok);
        }
        paths.push(ctx.repo.git_dir().to_path_buf());
    } else {
        for d in &args.directory {
            find_repos(d, &mut paths);
        }
    }
    let jobs = jobs.transpose()?.unwrap_or(1);
    let opts = Options {
        bind: args.bind,
        port: args.port,
        jobs,
        lockedfiles: args.lockedfiles,
        wideopen: args.wideopen,
        unauth_readonly: args.unauth_readonly,
        unauth_appendonly: args.unauth_appendonly,
        unauth_nolocking: args.unauth_nolocking,
        authenv: args.authenv,
        authenv_http: args.authenv_http,
        certfile: args.certfile,
        privatekeyfile: args.privatekeyfile,
        clusterjobs: args.clusterjobs,
    };
    let users = Users::from_env(std::env::vars_os());
    server::run(&paths, opts, users).map_err(|e| CommandError::failed(e.to_string()))
}
