//! `checkpresentkey KEY [REMOTE]`: whether a remote (or any remote) has a
//! key's content now. Exit 0 present, 1 absent, 100 when it could not be
//! checked; `--batch` prints `1` or `0` a line.

use annex_core::key::Key;
use annex_ops::checkpresent::Presence;

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

/// Runs `checkpresentkey`.
pub fn run(args: Args) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.common.config, true)?;
    let env = Env::open(ctx, ProgressMode::None)?;
    let known = |name: &str| -> Result<(), CommandError> {
        if env.remotes.entries.iter().any(|r| r.name == name) {
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
                Ok(k) => env.check_present_key(&k, remote) == Presence::Present,
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
    match env.check_present_key(&key, remote) {
        Presence::Present => Ok(()),
        Presence::Absent => Err(CommandError::quiet_failure("")),
        Presence::Unknown(msg) => {
            eprintln!("{msg}");
            Err(CommandError::quiet_failure("").with_exit_code(100))
        }
    }
}
