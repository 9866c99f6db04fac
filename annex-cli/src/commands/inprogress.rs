//! `inprogress [PATH...] | --all | --key KEY`: the temporary file of each
//! annexed file (or key) being transferred right now, so that it can be
//! read while it downloads. The transfers are the ones whose lock another
//! process holds ([`annex_core::transfer::in_progress`]); a file that is
//! not being transferred shows nothing and is no failure, as in git-annex.
//! The temporary file is shown from the current directory
//! (`.git/annex/tmp/KEY`), and only when it exists.

use std::collections::BTreeSet;
use std::ffi::OsString;

use annex_core::key::Key;

use crate::action::CommonArgs;
use crate::context::Ctx;
use crate::error::CommandError;

use super::whereis::seek_each;

/// Arguments of `inprogress`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories.
    paths: Vec<OsString>,
    /// Every key being transferred.
    #[arg(long, short = 'A', conflicts_with = "key")]
    all: bool,
    /// The key being transferred.
    #[arg(long, value_parser = parse_key)]
    key: Option<Key>,
    #[command(flatten)]
    common: CommonArgs,
}

fn parse_key(s: &str) -> Result<Key, String> {
    Key::parse(s.as_bytes()).map_err(|_| "invalid key".to_string())
}

/// Shows the temporary files of the transfers asked for.
pub fn run(args: Args) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.common.config, true)?;
    let git_dir = ctx.repo.git_dir();
    let keys: Vec<Key> = annex_core::transfer::in_progress(git_dir)
        .into_iter()
        .map(|t| t.key)
        .collect();
    let tmp_dir = match annex_core::backend::path::top_file_path(&ctx.cwd, git_dir) {
        Ok(p) => p,
        Err(_) => git_dir.to_path_buf(),
    }
    .join("annex")
    .join("tmp");
    let show = |key: &Key| -> Result<(), CommandError> {
        use std::os::unix::ffi::{OsStrExt, OsStringExt};
        let name = annex_core::objects::key_file(key);
        let tmp = tmp_dir.join(std::ffi::OsStr::from_bytes(&name));
        if tmp.exists() {
            crate::output::bytes_line(&tmp.into_os_string().into_vec())?;
        }
        Ok(())
    };
    if args.all {
        // Each transfer's key, as often as it is transferred.
        return keys.iter().try_for_each(show);
    }
    if let Some(k) = &args.key {
        return if keys.contains(k) { show(k) } else { Ok(()) };
    }
    let set: BTreeSet<&Key> = keys.iter().collect();
    let unmatched = seek_each(&ctx, &args.paths, |f, _| {
        if set.contains(&f.key) {
            show(&f.key)?;
        }
        Ok(())
    })?;
    if unmatched > 0 {
        return Err(CommandError::quiet_failure(format!(
            "inprogress: {unmatched} failed"
        )));
    }
    Ok(())
}
