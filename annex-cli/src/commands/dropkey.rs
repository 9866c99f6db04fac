//! `dropkey --force KEY...`: removes keys' content from this repository
//! without checking other copies (under the content's removal lock).

use annex_core::content;
use annex_core::key::Key;

use crate::action::{OutputArgs, Reporter};
use crate::context::Ctx;
use crate::error::CommandError;

/// Arguments of `dropkey`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Required: dropkey can lose data.
    #[arg(long = "force")]
    force: bool,
    /// Read keys from stdin, one a line.
    #[arg(long = "batch")]
    batch: bool,
    /// With --batch, items are ended by NUL instead of newline.
    #[arg(short = 'z')]
    nul: bool,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    common: crate::action::CommonArgs,
    /// Keys to drop.
    #[arg(value_name = "KEY")]
    keys: Vec<String>,
}

fn drop_key(
    ctx: &Ctx,
    reporter: &mut Reporter,
    key: &Key,
    input: &[u8],
) -> Result<(), CommandError> {
    let mut action = reporter.start(None, Some(key), input)?;
    match content::lock_for_removal(&ctx.store, key) {
        Ok(Some(lock)) => {
            if let Err(e) = lock.remove_content(&ctx.store) {
                action.error(&e.to_string());
                return action.end(false);
            }
        }
        Ok(None) => {}
        Err(e) => {
            action.error(&e.to_string());
            return action.end(false);
        }
    }
    ctx.state.set_present(key, ctx.here(), false)?;
    action.end(true)
}

/// Runs `dropkey`.
pub fn run(args: Args) -> Result<(), CommandError> {
    if !args.force {
        return Err(CommandError::failed(
            "dropkey can cause data loss; use --force if you're sure you want to do this",
        ));
    }
    let mut reporter = args.out.reporter("dropkey");
    let ctx = Ctx::open(&args.common.config, true)?;
    if args.batch {
        crate::batch::for_each_item(args.nul, |line| match Key::parse(line) {
            Ok(k) => drop_key(&ctx, &mut reporter, &k, line),
            Err(_) => {
                eprintln!("git-annex-rs: bad key");
                reporter.count_failure();
                Ok(())
            }
        })?;
    } else {
        for k in &args.keys {
            let key = Key::parse(k.as_bytes())
                .map_err(|_| CommandError::failed(format!("bad key {k}")))?;
            drop_key(&ctx, &mut reporter, &key, k.as_bytes())?;
        }
    }
    // Like git-annex's, this command leaves its change in the journal.
    reporter.finish()
}
