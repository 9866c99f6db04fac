//! `init [DESC]`: make the current git repository a git-annex repository
//! (version 10), or re-initialize one keeping its UUID.

use crate::error::CommandError;

/// Arguments of `init`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A description of this repository, shown by `info` and `whereis`.
    description: Option<String>,
    /// Print a JSON record instead of the usual progress line.
    #[arg(long)]
    json: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    quiet: bool,
}

/// Initializes the repository at or above the current directory.
pub fn run(args: Args) -> Result<(), CommandError> {
    let here = std::env::current_dir()
        .map_err(|e| CommandError::failed(format!("cannot read the current directory: {e}")))?;
    let result = annex_core::repo::Repo::init(&here, args.description.as_deref());
    if args.json {
        let errors: Vec<String> = result
            .as_ref()
            .err()
            .map(|e| e.to_string())
            .into_iter()
            .collect();
        let record = serde_json::json!({
            "command": "init",
            "error-messages": errors,
            "input": [],
            "success": result.is_ok(),
        });
        println!("{record}");
        return match result {
            Ok(_) => Ok(()),
            Err(e) => Err(e.into()),
        };
    }
    result?;
    if !args.quiet {
        match &args.description {
            Some(d) => println!("init {d} ok"),
            None => println!("init  ok"),
        }
    }
    Ok(())
}
