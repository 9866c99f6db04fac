//! The program invoked as `git-annex-shell`: what a remote runs over ssh
//! (`git-annex-shell [-c] COMMAND [PARAMS ...]`, the `-c` form taking the
//! whole command as one string, as sshd's forced commands give it).
//!
//! git-annex-shell's own commands (`configlist`, `p2pstdio`, `inannex`,
//! ...) are not served yet: each is refused, naming itself, with exit
//! code 1. Any other command is handed to `git shell` as git-annex-shell
//! does, so that git's own (`git-upload-pack`, `git-receive-pack`) work
//! through it.

use std::ffi::OsString;

/// git-annex-shell's own commands (those of git-annex 10.20261026).
const ANNEX_SHELL_COMMANDS: &[&str] = &[
    "configlist",
    "commit",
    "dropkey",
    "gcryptsetup",
    "inannex",
    "lockcontent",
    "notifychanges",
    "p2pstdio",
    "recvkey",
    "sendkey",
    "transferinfo",
];

/// What `git-annex-shell ARGS` does.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    /// No command: the usage, exit 1.
    Usage,
    /// One of git-annex-shell's own commands, not served yet.
    NotServed(String),
    /// Anything else goes to `git shell -c LINE`.
    GitShell(String),
}

/// Decides what to do with the arguments (the program name excluded).
fn plan(args: &[OsString]) -> Plan {
    let words: Vec<String> = match args {
        [] => return Plan::Usage,
        [c, line] if c == "-c" => {
            let line = line.to_string_lossy().into_owned();
            let first = line.split_whitespace().next().map(str::to_string);
            return match first {
                None => Plan::Usage,
                Some(cmd) if ANNEX_SHELL_COMMANDS.contains(&cmd.as_str()) => Plan::NotServed(cmd),
                Some(_) => Plan::GitShell(line),
            };
        }
        [c] if c == "-c" => return Plan::Usage,
        _ => args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect(),
    };
    let cmd = words.first().cloned().unwrap_or_default();
    if ANNEX_SHELL_COMMANDS.contains(&cmd.as_str()) {
        Plan::NotServed(cmd)
    } else {
        Plan::GitShell(words.join(" "))
    }
}

/// Runs `git-annex-shell` with `args`; returns the exit code.
pub fn run(args: &[OsString]) -> i32 {
    match plan(args) {
        Plan::Usage => {
            eprintln!("git-annex-shell: bad parameters");
            eprintln!();
            eprintln!("Usage: git-annex-shell [-c] command [parameters ...] [option ...]");
            eprintln!();
            eprintln!(
                "git-annex-rs does not serve git-annex-shell's own commands yet: {}",
                ANNEX_SHELL_COMMANDS.join(" ")
            );
            1
        }
        Plan::NotServed(cmd) => {
            eprintln!(
                "git-annex-shell: {cmd} is not served by git-annex-rs yet \
                 (git-annex-shell's own commands are not implemented; use git-annex's git-annex-shell on this machine)"
            );
            1
        }
        Plan::GitShell(line) => {
            match std::process::Command::new("git")
                .args(["shell", "-c"])
                .arg(&line)
                .status()
            {
                Ok(s) if s.success() => 0,
                Ok(_) => {
                    eprintln!("git-annex-shell: git-shell failed");
                    1
                }
                Err(e) => {
                    eprintln!("git-annex-shell: cannot run git shell: {e}");
                    1
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Plan {
        plan(&args.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn annex_commands_are_refused_by_name_and_git_commands_go_to_git_shell() {
        assert_eq!(p(&[]), Plan::Usage);
        assert_eq!(p(&["-c"]), Plan::Usage);
        assert_eq!(p(&["-c", "  "]), Plan::Usage);
        assert_eq!(
            p(&["configlist", "/srv/r"]),
            Plan::NotServed("configlist".into())
        );
        assert_eq!(
            p(&["-c", "p2pstdio /srv/r uuid"]),
            Plan::NotServed("p2pstdio".into())
        );
        assert_eq!(
            p(&["-c", "git-upload-pack '/srv/r'"]),
            Plan::GitShell("git-upload-pack '/srv/r'".into())
        );
        assert_eq!(
            p(&["git-receive-pack", "/srv/r"]),
            Plan::GitShell("git-receive-pack /srv/r".into())
        );
    }
}
