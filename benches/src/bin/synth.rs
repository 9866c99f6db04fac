//! `synth`: builds a synthetic git-annex repository of N annexed files
//! directly (objects, work tree, index, one pack for both branches), then
//! checks it with the reference git-annex (`benches::synth` says what is
//! built and how).
//!
//! `target/release/synth --files 1000000 --out /work/scale/synth-1000000`
//!
//! Exit status: 0 when built (and checked), 1 otherwise.

use std::path::PathBuf;
use std::process::ExitCode;

use benches::compare::CompareError;
use benches::compare::env::{Reference, Tools};
use benches::synth::{self, Params};
use clap::Parser;

/// Builds a synthetic git-annex repository of many files, fast.
#[derive(Parser, Debug)]
#[command(name = "synth", about)]
struct Args {
    /// Annexed files.
    #[arg(long)]
    files: usize,
    /// The directory to build in (emptied first): `repo/`, `peer.git/`.
    #[arg(long)]
    out: PathBuf,
    /// Plain files (not annexed) under `new/`, for `add`.
    #[arg(long, default_value_t = 0)]
    plain: usize,
    /// Every this-many-th file is unlocked (0: none).
    #[arg(long, default_value_t = 10)]
    unlocked_every: usize,
    /// Share of the ordinary files whose content is here, in percent (the
    /// disk: a present object costs two 4 KiB blocks and an inode or two).
    #[arg(long, default_value_t = 10)]
    present_percent: u8,
    /// No peer repository.
    #[arg(long)]
    no_peer: bool,
    /// Seed of the content.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Files checked by the reference's `fsck --fast` and `whereis` after
    /// the build (0: no check).
    #[arg(long, default_value_t = 50)]
    check: usize,
    /// git-annex-rs, to run its `fsck --fast` on the sample too.
    #[arg(long)]
    ours: Option<PathBuf>,
    /// The reference git-annex (default: $GIT_ANNEX_REF, else
    /// .annex-ref/bin/git-annex).
    #[arg(long)]
    reference: Option<PathBuf>,
}

fn main() -> ExitCode {
    match real_main(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synth: {e}");
            ExitCode::from(1)
        }
    }
}

fn real_main(args: Args) -> Result<(), CompareError> {
    if args.present_percent > 100 {
        return Err(CompareError::Usage(
            "--present-percent is at most 100".into(),
        ));
    }
    let reference = Reference::find(args.reference.as_deref())?;
    let out = std::path::absolute(&args.out).map_err(|e| CompareError::io(&args.out, e))?;
    let home = out.with_extension("home");
    let ours = match &args.ours {
        Some(p) => std::fs::canonicalize(p).map_err(|e| CompareError::io(p, e))?,
        None => PathBuf::from("git-annex-rs"),
    };
    let ours_given = args.ours.is_some().then(|| ours.clone());
    let tools = Tools::new(ours, reference, home)?;
    let params = Params {
        files: args.files,
        plain: args.plain,
        unlocked_every: args.unlocked_every,
        present_percent: args.present_percent,
        peer: !args.no_peer,
        seed: args.seed,
    };
    let mut progress = |l: &str| eprintln!("synth: {l}");
    let built = synth::build(&tools, &out, &params, &mut progress)?;
    if args.check > 0 {
        synth::check(
            &tools,
            &built,
            args.check,
            ours_given.as_deref(),
            &mut progress,
        )?;
    }
    Ok(())
}
