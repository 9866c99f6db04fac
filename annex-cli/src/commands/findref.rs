//! `findref REF...`: the annexed files in each git ref (paths from the
//! top) whose content is present here, or that the matching options
//! select; printed as `find` prints them. The trees are read in-process
//! ([`annex_core::treefiles`]).

use std::ffi::OsString;
use std::io::Write;

use crate::action::{CommonArgs, OutputArgs};
use crate::context::Ctx;
use crate::error::CommandError;
use crate::matching::MatchingArgs;

use super::findkeys::Lister;

/// Arguments of `findref`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The refs (branches, tags, commits) to list the files of.
    refs: Vec<String>,
    /// Custom output: `${file}`, `${key}`, ... (as `find`).
    #[arg(long, value_name = "FORMAT", conflicts_with = "print0")]
    format: Option<OsString>,
    /// Separate file names with NUL rather than newlines.
    #[arg(long)]
    print0: bool,
    /// The file matching options (`--in`, `--copies`, `--include`, ...).
    #[command(flatten)]
    matching: MatchingArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// Lists the matching files of each ref.
pub fn run(args: Args) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.common.config, true)?;
    let file_format = OsString::from("${file}");
    let format = if args.print0 {
        Some(&file_format)
    } else {
        args.format.as_ref()
    };
    let lister = Lister::new(&ctx, &args.matching, format, args.print0, &args.output)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for r in &args.refs {
        let files = match annex_core::treefiles::annexed_files_in(ctx.state.branch().repo(), r, &[])
        {
            Ok(files) => files,
            Err(e @ annex_core::treefiles::TreeFilesError::BadName(_)) => {
                out.flush().map_err(CommandError::from_write)?;
                eprintln!("fatal: {e}");
                return Err(CommandError::failed(format!("git ls-tree {r} failed")));
            }
            Err(e) => return Err(CommandError::failed(e.to_string())),
        };
        for f in files {
            if lister.matches(Some(&f.path), &f.key)? {
                lister.show(&mut out, Some(&f.path), &f.key)?;
            }
        }
    }
    out.flush().map_err(CommandError::from_write)?;
    crate::global::finish_size_limit(Ok(()))
}
