//! The binary's one error type: a message with its cause chain, mapped to
//! git-annex's exit codes (1 for a failure).

use std::fmt;

/// A command's failure.
#[derive(Debug)]
pub struct CommandError {
    message: String,
    exit_code: i32,
    /// Whether the message is printed after `git-annex-rs: `.
    prefixed: bool,
}

impl CommandError {
    /// A failure with git-annex's ordinary exit code, 1.
    pub fn failed(message: impl Into<String>) -> CommandError {
        CommandError {
            message: message.into(),
            exit_code: 1,
            prefixed: true,
        }
    }

    /// A failure whose message is printed as it is, without the program
    /// name (e.g. `get: 2 failed`).
    pub fn quiet_failure(message: impl Into<String>) -> CommandError {
        CommandError {
            message: message.into(),
            exit_code: 1,
            prefixed: false,
        }
    }

    /// This failure with another exit code.
    pub fn with_exit_code(mut self, exit_code: i32) -> CommandError {
        self.exit_code = exit_code;
        self
    }

    /// Ends the command quietly with `exit_code` (the command already said
    /// what it had to say).
    pub fn exit(exit_code: i32) -> CommandError {
        CommandError {
            message: String::new(),
            exit_code,
            prefixed: true,
        }
    }

    /// An error writing to stdout: a closed pipe ends the command quietly
    /// with success (the reader has what it wanted), anything else fails.
    pub fn from_write(e: std::io::Error) -> CommandError {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            CommandError {
                message: String::new(),
                exit_code: 0,
                prefixed: true,
            }
        } else {
            CommandError::failed(format!("cannot write to standard output: {e}"))
        }
    }

    /// Prints the error on stderr the way git-annex does (`git-annex-rs: MESSAGE`
    /// and an empty line)
    /// and returns the exit code.
    pub fn report(&self) -> i32 {
        if self.message.is_empty() {
        } else if self.prefixed {
            // git-annex ends an error that stops it with an empty line.
            eprint!("git-annex-rs: {}\n\n", self.message);
        } else {
            eprintln!("{}", self.message);
        }
        self.exit_code
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Turns any library error into a [`CommandError`] carrying its whole cause chain.
impl<E: std::error::Error> From<E> for CommandError {
    fn from(e: E) -> CommandError {
        let mut message = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            let text = s.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = s.source();
        }
        CommandError::failed(message)
    }
}
