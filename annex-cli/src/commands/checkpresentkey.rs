//! `checkpresentkey KEY [REMOTE]`: whether a remote (or any remote) has a
//! key's content now. Exit 0 present, 1 absent, 100 when it could not be
//! checked; `--batch` prints `1` or `0` a line.

use annex_core::key::Key;

use super::xfer::Env;
use crate::context::Ctx;
use crate::error::CommandError;
use crate::progress::ProgressMode;

/// Arguments of `checkpresentkey`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Read keys from stdin, one a line (the remote is the parameter).
    #[arg(long = "batch")]
    batch: bool,
    /// With --batch, items are ended by NUL instead of newline.
    #[arg(short = 'z')]
    nul: bool,
    #[command(flatten)]
    common: crate::action::CommonArgs,
    /// KEY and optionally REMOTE (REMOTE alone with --batch).
    #[arg(value_name = "PARAMS")]
    params: Vec<String>,
}

enum Outcome {
    Present,
    Absent,
    Failure(String),
}

/// git-annex always has the bittorrent special remote, which cannot tell:
/// a key found nowhere ends with its message.
const TORRENT: &str = "cannot reliably check torrent status";

fn check(env: &Env, key: &Key, remote: Option<&str>) -> Outcome {
    let mut failure: Option<String> = None;
    let candidates: Vec<&super::xfer::RemoteEntry> = match remote {
        Some(name) => env.remotes.iter().filter(|r| r.name == name).collect(),
        None => {
            let locs = env.locations(key).unwrap_or_default();
            let (mut likely, others): (Vec<_>, Vec<_>) = env
                .remotes
                .iter()
                .partition(|r| r.uuid.as_ref().is_some_and(|u| locs.contains(u)));
            likely.extend(others);
            likely
        }
    };
    for entry in candidates {
        match &entry.remote {
            Ok(r) => match r.check_present(key) {
                Ok(true) => return Outcome::Present,
                Ok(false) => {}
                Err(e) => failure = Some(e.to_string()),
            },
            Err(e) => failure = Some(e.clone()),
        }
    }
    if remote.is_none() {
        failure = Some(TORRENT.to_string());
    }
    match failure {
        Some(f) => Outcome::Failure(f),
        None => Outcome::Absent,
    }
}

/// Runs `checkpresentkey`.
pub fn run(args: Args) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.common.config, true)?;
    let env = Env::open(ctx, ProgressMode::None)?;
    let known = |name: &str| -> Result<(), CommandError> {
        if env.remotes.iter().any(|r| r.name == name) {
            Ok(())
        } else {
            Err(CommandError::failed(format!(
                "there is no available git remote named \"{name}\""
            )))
        }
    };
    let parse = |k: &str| {
        Key::parse(k.as_bytes())
            .map_err(|_| CommandError::quiet_failure("Bad key").with_exit_code(100))
    };
    if args.batch {
        let remote = match args.params.as_slice() {
            [] => None,
            [r] => {
                known(r)?;
                Some(r.as_str())
            }
            _ => return Err(CommandError::failed("Wrong number of parameters")),
        };
        return crate::batch::for_each_item(args.nul, |line| {
            let present = match Key::parse(line) {
                Ok(k) => matches!(check(&env, &k, remote), Outcome::Present),
                Err(_) => false,
            };
            crate::output::line(format_args!("{}", if present { "1" } else { "0" }))
        });
    }
    let (key, remote) = match args.params.as_slice() {
        [k, r] => {
            known(r)?;
            (parse(k)?, Some(r.as_str()))
        }
        [k] => (parse(k)?, None),
        _ => return Err(CommandError::failed("Wrong number of parameters")),
    };
    match check(&env, &key, remote) {
        Outcome::Present => Ok(()),
        Outcome::Absent => Err(CommandError::quiet_failure("")),
        Outcome::Failure(msg) => {
            eprintln!("{msg}");
            Err(CommandError::quiet_failure("").with_exit_code(100))
        }
    }
}
