//! `transferkey KEY --from REMOTE | --to REMOTE [--file FILE]`: one key's
//! content downloaded from or uploaded to a remote, silently (exit code 1
//! when it could not be), with git-annex's get and put operations. As the
//! reference's, it leaves the journal for the next command to commit.

use annex_core::key::Key;
use annex_ops::get::{GetOptions, GetOutcome};
use annex_ops::put::{PutOptions, PutOutcome};
use annex_ops::{Item, Quiet};

use crate::action::CommonArgs;
use crate::context::Ctx;
use crate::error::CommandError;
use crate::progress::ProgressMode;

use super::xfer::Env;

/// Arguments of `transferkey`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("direction").required(true).args(["from", "to"])))]
pub struct Args {
    /// The key.
    key: String,
    /// Download from this remote.
    #[arg(long, short = 'f', value_name = "REMOTE")]
    from: Option<String>,
    /// Upload to this remote.
    #[arg(long, short = 't', value_name = "REMOTE")]
    to: Option<String>,
    /// The file the key is for.
    #[arg(long, value_name = "FILE")]
    file: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

/// Transfers the key.
pub fn run(args: Args) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.common.config, false)?;
    let Ok(key) = Key::parse(args.key.as_bytes()) else {
        eprintln!("git-annex-rs: bad key");
        return Err(CommandError::quiet_failure("transferkey: 1 failed"));
    };
    let item = match &args.file {
        Some(f) => Item::file(f.as_bytes().to_vec(), key, false),
        None => Item::key(key),
    };
    let env = Env::open(ctx, ProgressMode::None)?;
    let ok = if let Some(name) = &args.from {
        let entry = env.annex.remote_named(name)?;
        let options = GetOptions {
            from: entry.uuid.as_ref(),
            from_name: Some(name),
            auto: false,
        };
        match env.annex.get_sources(&item, options)? {
            None => true,
            Some(sources) => matches!(
                env.annex.get(&item, &sources, &mut Quiet)?,
                GetOutcome::Got { .. }
            ),
        }
    } else if let Some(name) = &args.to {
        let entry = env.annex.remote_named(name)?;
        let options = PutOptions::default();
        if env.annex.wants_put(&item, entry, options)? {
            matches!(
                env.annex.put(&item, entry, options, false, &mut Quiet)?,
                PutOutcome::Copied
            )
        } else {
            // Already there, or nothing here to send.
            env.ctx.store.has(&item.key)
        }
    } else {
        false
    };
    // The remotes record what they received; this repository's journal is
    // left for the next command, as git-annex leaves it.
    for e in env.annex.remotes.commit(false) {
        eprintln!("git-annex-rs: {e}");
    }
    if ok {
        Ok(())
    } else {
        Err(CommandError::exit(1))
    }
}
