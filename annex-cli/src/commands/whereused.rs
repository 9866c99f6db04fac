//! `whereused --key KEY | --unused [--historical]`: the files that use a
//! key, `KEY PATH` a line, or with `--historical` and no current file,
//! where it was last used (`KEY REF:PATH`) ([`annex_ops::whereused`]).

use annex_core::key::Key;

use crate::action::{CommonArgs, quote};
use crate::context::Ctx;
use crate::error::CommandError;

/// Arguments of `whereused`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["key", "unused"])))]
pub struct Args {
    /// The key to look for.
    #[arg(long, value_name = "KEY", value_parser = key_arg)]
    key: Option<Key>,
    /// Look for the keys the last `unused` listed.
    #[arg(long, short = 'U')]
    unused: bool,
    /// Find where a key was used in the history when no file uses it now.
    #[arg(long)]
    historical: bool,
    #[command(flatten)]
    common: CommonArgs,
}

fn key_arg(s: &str) -> Result<Key, String> {
    Key::parse(s.as_bytes()).map_err(|_| "invalid key".to_string())
}

/// Shows where the keys are used.
pub fn run(args: Args) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.common.config, true)?;
    let keys: Vec<Key> = match &args.key {
        Some(k) => vec![k.clone()],
        None => {
            let path = annex_core::unused::unused_log_path(ctx.repo.git_dir(), "");
            annex_core::unused::read_unused_log(&path)
                .into_values()
                .collect()
        }
    };
    let quote_path = ctx.config.get_bool("core.quotepath").unwrap_or(true);
    let at_top = ctx
        .worktree
        .as_ref()
        .map(|wt| {
            wt.top()
                .canonicalize()
                .unwrap_or_else(|_| wt.top().to_path_buf())
        })
        .is_some_and(|t| t == ctx.cwd);
    for key in keys {
        let files = annex_ops::whereused::files(&ctx, &key)?;
        for f in &files {
            let mut shown = ctx.display_path(f);
            // git-annex shows paths from the top with `./` in front.
            if at_top {
                shown.splice(0..0, *b"./");
            }
            let mut line = key.as_bytes().to_vec();
            line.push(b' ');
            line.extend_from_slice(&quote(&shown, quote_path));
            crate::output::bytes_line(&line)?;
        }
        if args.historical && files.is_empty() {
            for u in annex_ops::whereused::historical(&ctx, &key) {
                let mut line = key.as_bytes().to_vec();
                line.push(b' ');
                line.extend_from_slice(u.r#ref.as_bytes());
                line.push(b':');
                line.extend_from_slice(&quote(&u.path, quote_path));
                crate::output::bytes_line(&line)?;
            }
        }
    }
    Ok(())
}
