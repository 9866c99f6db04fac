//! `help [COMMAND]`: the most used commands, or a command's manual page
//! (`man git-annex-COMMAND`), or where its manual is online when there is
//! no page here, as git-annex answers.

use crate::error::CommandError;
use crate::output::outln;

/// Arguments of `help`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The command to show the manual of.
    command: Vec<String>,
}

/// The commands `help` lists first, with git-annex's descriptions.
const COMMON: [(&str, &str); 9] = [
    ("init", "initialize git-annex"),
    ("add", "add files to annex"),
    ("drop", "remove content of files from repository"),
    ("get", "get content of annexed files"),
    ("move", "move content of files to/from another repository"),
    ("copy", "copy content of files to/from another repository"),
    ("sync", "synchronize local repository with remotes"),
    ("whereis", "lists repositories that have file content"),
    ("fsck", "find and fix problems"),
];

/// Shows the help.
pub fn run(args: Args) -> Result<(), CommandError> {
    let Some(cmd) = args.command.first() else {
        outln!("The most frequently used git-annex commands are:")?;
        for (name, desc) in COMMON {
            outln!("\t{name}\t{desc}")?;
        }
        outln!("")?;
        outln!("For a complete command list, run: git-annex")?;
        outln!("For help on a specific command, run: git-annex help COMMAND")?;
        return outln!("");
    };
    let page = format!("git-annex-{cmd}");
    let shown = std::process::Command::new("man")
        .arg(&page)
        .status()
        .is_ok_and(|s| s.success());
    if !shown {
        outln!("View online help at https://git-annex.branchable.com/{page}/")?;
    }
    Ok(())
}
