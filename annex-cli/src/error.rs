//! The binary's one error type: what kind of failure ended the command,
//! the error itself with its cause chain, and hints for the user; mapped
//! to git-annex's output and exit codes.
//!
//! A failure is printed as git-annex prints an error that stops it:
//! `git-annex-rs: MESSAGE` (the error's message, then `: CAUSE` for each
//! cause its message does not already contain), then a `Hint: ...` line
//! per hint, then an empty line; the command exits 1. A closed stdout ends
//! the command quietly with success; a command that already reported its
//! failures ends with its exit code and at most a summary line.
//!
//! Every library error type has its own `From` impl below, which chooses
//! its [`ErrorKind`] and the hints it deserves; there is deliberately no
//! blanket impl, so a new error type is converted on purpose.

use std::error::Error;
use std::fmt;

/// The name errors are prefixed with: the one the program was invoked as
/// (`git-annex` when installed under that name, as git-annex's errors
/// say), `git-annex-rs` otherwise.
static PROGRAM_NAME: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

/// Sets the name errors are prefixed with (once, at the start).
pub fn set_program_name(name: &'static str) {
    let _ = PROGRAM_NAME.set(name);
}

fn program_name() -> &'static str {
    PROGRAM_NAME.get().copied().unwrap_or("git-annex-rs")
}

/// Prints a warning on stderr, prefixed with the program's name as
/// git-annex's top-level warnings are.
pub fn warn(message: &str) {
    eprintln!("{}: {message}", program_name());
}

/// What kind of failure ended a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The user asked for something that cannot be done: bad arguments or
    /// settings, not in a repository, an unknown remote.
    User,
    /// An operation failed: I/O, git, a database, a transfer.
    Failure,
    /// Something this program should never meet (a bug).
    Internal,
    /// Standard output was closed by its reader: the command ends quietly,
    /// with success (the reader has what it wanted).
    BrokenPipe,
    /// The command already said what it had to say: it ends with its exit
    /// code, printing at most a summary line as it is (`get: 2 failed`).
    Quiet,
}

/// A command's failure.
#[derive(Debug)]
pub struct CommandError {
    kind: ErrorKind,
    /// The error, its causes reachable through [`Error::source`].
    error: Box<dyn Error + Send + Sync>,
    /// Next steps for the user, printed after the error.
    hints: Vec<String>,
    exit_code: i32,
}

/// An error that is only a message (no cause).
#[derive(Debug)]
struct Message(String);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Message {}

/// A message given to an error that keeps the error as its cause.
#[derive(Debug)]
struct WithMessage {
    message: String,
    source: Box<dyn Error + Send + Sync>,
}

impl fmt::Display for WithMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for WithMessage {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.source)
    }
}

/// `error`'s message followed by `: CAUSE` for each error of its cause
/// chain whose message is not already in the text (a library error often
/// repeats its cause's message in its own).
pub fn message_with_causes(error: &dyn Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = s.source();
    }
    message
}

impl CommandError {
    /// An error of `kind`; the exit code is git-annex's for that kind (0
    /// for a broken pipe, 1 otherwise).
    pub fn new(kind: ErrorKind, error: impl Into<Box<dyn Error + Send + Sync>>) -> CommandError {
        CommandError {
            kind,
            error: error.into(),
            hints: Vec::new(),
            exit_code: if kind == ErrorKind::BrokenPipe { 0 } else { 1 },
        }
    }

    /// An error of `kind` shown as `message`, keeping `source` as its
    /// cause (shown after the message unless the message contains it).
    pub fn with_message(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl Into<Box<dyn Error + Send + Sync>>,
    ) -> CommandError {
        CommandError::new(
            kind,
            WithMessage {
                message: message.into(),
                source: source.into(),
            },
        )
    }

    /// A failure with git-annex's ordinary exit code, 1.
    pub fn failed(message: impl Into<String>) -> CommandError {
        CommandError::new(ErrorKind::Failure, Message(message.into()))
    }

    /// The `git-annex` branch could not be committed at the end of a
    /// command (a full disk, say): what the command did is recorded in
    /// the journal already (every command reads it, and the next one that
    /// can commits it), which the message says, with `error` as its cause.
    pub fn uncommitted(error: impl Into<Box<dyn Error + Send + Sync>>) -> CommandError {
        CommandError::with_message(
            ErrorKind::Failure,
            "cannot commit the git-annex branch; what was done is recorded in \
             .git/annex/journal, and the next command that can commits it",
            error,
        )
    }

    /// The user asked for something that cannot be done (exit code 1).
    pub fn user(message: impl Into<String>) -> CommandError {
        CommandError::new(ErrorKind::User, Message(message.into()))
    }

    /// A failure whose message is printed as it is, without the program
    /// name (e.g. `get: 2 failed`); an empty message prints nothing.
    pub fn quiet_failure(message: impl Into<String>) -> CommandError {
        CommandError::new(ErrorKind::Quiet, Message(message.into()))
    }

    /// This failure with another exit code.
    pub fn with_exit_code(mut self, exit_code: i32) -> CommandError {
        self.exit_code = exit_code;
        self
    }

    /// This failure with `hint` printed after it.
    pub fn hinted(mut self, hint: impl Into<String>) -> CommandError {
        self.hints.push(hint.into());
        self
    }

    /// Ends the command quietly with `exit_code` (the command already said
    /// what it had to say).
    pub fn exit(exit_code: i32) -> CommandError {
        CommandError::quiet_failure(String::new()).with_exit_code(exit_code)
    }

    /// An error writing to stdout: a closed pipe ends the command quietly
    /// with success (the reader has what it wanted), anything else fails.
    pub fn from_write(e: std::io::Error) -> CommandError {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            CommandError::new(ErrorKind::BrokenPipe, e)
        } else {
            CommandError::failed(format!("cannot write to standard output: {e}"))
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The exit code the command ends with.
    pub fn exit_code(&self) -> i32 {
        self.exit_code
    }

    /// The hints printed after the error.
    pub fn hints(&self) -> &[String] {
        &self.hints
    }

    /// What [`CommandError::report`] prints on stderr.
    pub fn render(&self) -> String {
        let message = match self.kind() {
            ErrorKind::BrokenPipe => return String::new(),
            _ => message_with_causes(&*self.error),
        };
        if message.is_empty() {
            return String::new();
        }
        if self.kind() == ErrorKind::Quiet {
            return format!("{message}\n");
        }
        let mut out = format!("{}: {message}\n", program_name());
        for hint in self.hints() {
            out.push_str("Hint: ");
            out.push_str(hint);
            out.push('\n');
        }
        // git-annex ends an error that stops it with an empty line.
        out.push('\n');
        out
    }

    /// Prints the error on stderr the way git-annex does (`git-annex-rs:
    /// MESSAGE`, the hints, and an empty line) and returns the exit code.
    pub fn report(&self) -> i32 {
        let text = self.render();
        if !text.is_empty() {
            eprint!("{text}");
        }
        self.exit_code()
    }
}

/// The message with its causes (no program name, no hints).
impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.kind == ErrorKind::BrokenPipe {
            return Ok(());
        }
        f.write_str(&message_with_causes(&*self.error))
    }
}

/// `From` impls choosing only the kind.
macro_rules! from_error {
    ($($ty:ty => $kind:expr),* $(,)?) => {$(
        impl From<$ty> for CommandError {
            fn from(e: $ty) -> CommandError {
                CommandError::new($kind, e)
            }
        }
    )*};
}

// ---- std -------------------------------------------------------------

from_error! {
    std::io::Error => ErrorKind::Failure,
    std::fmt::Error => ErrorKind::Internal,
    serde_json::Error => ErrorKind::Failure,
}

// ---- annex-core ------------------------------------------------------

use annex_core::config::ConfigError;
use annex_core::gitrepo::GitRepoError;
use annex_core::repo::RepoError;
use annex_core::sizes::SizesError;

from_error! {
    annex_core::attr::AttrError => ErrorKind::Failure,
    annex_core::backend::BackendError => ErrorKind::Failure,
    annex_core::branch::BranchError => ErrorKind::Failure,
    annex_core::content::ContentError => ErrorKind::Failure,
    annex_core::filter::FilterError => ErrorKind::Failure,
    annex_core::fsck::FsckError => ErrorKind::Failure,
    annex_core::hooks::HooksError => ErrorKind::Failure,
    annex_core::ingest::IngestError => ErrorKind::Failure,
    annex_core::journal::JournalError => ErrorKind::Failure,
    annex_core::key::KeyError => ErrorKind::User,
    annex_core::objects::ObjectsError => ErrorKind::Failure,
    annex_core::pointer::PointerError => ErrorKind::Failure,
    annex_core::preferred::ParseError => ErrorKind::User,
    annex_core::remote::RemoteError => ErrorKind::Failure,
    annex_core::sizes::Exceeded => ErrorKind::Failure,
    annex_core::timestamp::TimestampError => ErrorKind::Failure,
    annex_core::transfer::TransferError => ErrorKind::Failure,
    annex_core::unused::UnusedError => ErrorKind::Failure,
    annex_core::uuid::UuidError => ErrorKind::User,
    annex_core::worktree::WorkTreeError => ErrorKind::Failure,
}

impl From<ConfigError> for CommandError {
    fn from(e: ConfigError) -> CommandError {
        let hint = match &e {
            ConfigError::BadOverride(_) => {
                Some("-c takes a git config setting and its value, as in -c annex.diskreserve=1gb")
            }
            _ => None,
        };
        let err = CommandError::new(ErrorKind::User, e);
        match hint {
            Some(h) => err.hinted(h),
            None => err,
        }
    }
}

impl From<RepoError> for CommandError {
    fn from(e: RepoError) -> CommandError {
        match &e {
            RepoError::NotAGitRepo { .. } => CommandError::new(ErrorKind::User, e),
            RepoError::BadUuid { path, .. } => {
                let hint = format!(
                    "annex.uuid in {} must be this repository's UUID: correct it there",
                    path.display()
                );
                CommandError::new(ErrorKind::User, e).hinted(hint)
            }
            _ => CommandError::new(ErrorKind::Failure, e),
        }
    }
}

impl From<GitRepoError> for CommandError {
    fn from(e: GitRepoError) -> CommandError {
        match &e {
            GitRepoError::Discover { .. } => CommandError::new(ErrorKind::User, e),
            GitRepoError::Index { .. } => CommandError::new(ErrorKind::Failure, e)
                .hinted("`git status` tells whether git itself can read the index"),
            _ => CommandError::new(ErrorKind::Failure, e),
        }
    }
}

impl From<SizesError> for CommandError {
    fn from(e: SizesError) -> CommandError {
        let hint = match &e {
            SizesError::Schema { path, .. } | SizesError::BadValue { path, .. } => Some(format!(
                "{} only caches what the git-annex branch records: \
                 removing it makes the next command rebuild it",
                path.display()
            )),
            _ => None,
        };
        let err = CommandError::new(ErrorKind::Failure, e);
        match hint {
            Some(h) => err.hinted(h),
            None => err,
        }
    }
}

// ---- annex-sync ------------------------------------------------------

from_error! {
    annex_sync::git::GitError => ErrorKind::Failure,
    annex_sync::resolve::ResolveError => ErrorKind::Failure,
    annex_sync::sync::SyncError => ErrorKind::Failure,
    annex_sync::content::ContentError => ErrorKind::Failure,
}

// ---- annex-ops -------------------------------------------------------

from_error! {
    annex_ops::AnnexError => ErrorKind::Failure,
    annex_ops::drop::DropError => ErrorKind::Failure,
    annex_ops::checkpresent::CheckError => ErrorKind::Failure,
    annex_ops::info::InfoError => ErrorKind::Failure,
    // Worded as git-annex words it, with no hint (scripts match the line).
    annex_ops::remotes::RemoteNameError => ErrorKind::User,
}

impl From<annex_ops::matching::MatchingError> for CommandError {
    fn from(e: annex_ops::matching::MatchingError) -> CommandError {
        use annex_ops::matching::MatchingError as E;
        // Bad matching options are the user's; the words are git-annex's.
        match &e {
            E::Branch(_) | E::Eval(_) => CommandError::new(ErrorKind::Failure, e),
            _ => CommandError::new(ErrorKind::User, e),
        }
    }
}

impl From<annex_ops::SessionError> for CommandError {
    fn from(e: annex_ops::SessionError) -> CommandError {
        use annex_ops::SessionError as E;
        match &e {
            E::NotARepository | E::Bare => CommandError::new(ErrorKind::User, e),
            E::NotInitialized => CommandError::new(ErrorKind::User, e),
            _ => CommandError::new(ErrorKind::Failure, e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error with a cause, as the libraries' `#[source]` errors are.
    #[derive(Debug)]
    struct Outer {
        text: &'static str,
        cause: std::io::Error,
    }

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.text)
        }
    }

    impl Error for Outer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.cause)
        }
    }

    fn outer(text: &'static str) -> Outer {
        Outer {
            text,
            cause: std::io::Error::other("disk on fire"),
        }
    }

    #[test]
    fn a_failure_is_the_message_then_an_empty_line_and_exits_1() {
        let e = CommandError::failed("Not in a git repository.");
        assert_eq!(e.render(), "git-annex-rs: Not in a git repository.\n\n");
        assert_eq!(e.exit_code(), 1);
        assert_eq!(e.kind(), ErrorKind::Failure);
        assert_eq!(e.to_string(), "Not in a git repository.");
    }

    #[test]
    fn causes_follow_the_message_unless_it_already_says_them() {
        let e = CommandError::new(ErrorKind::Failure, outer("cannot read x"));
        assert_eq!(e.render(), "git-annex-rs: cannot read x: disk on fire\n\n");
        let e = CommandError::new(ErrorKind::Failure, outer("cannot read x: disk on fire"));
        assert_eq!(e.render(), "git-annex-rs: cannot read x: disk on fire\n\n");
        let e = CommandError::with_message(ErrorKind::User, "bad setup", outer("cannot read x"));
        assert_eq!(e.to_string(), "bad setup: cannot read x: disk on fire");
        assert_eq!(e.kind(), ErrorKind::User);
    }

    #[test]
    fn hints_are_printed_after_the_error_before_the_empty_line() {
        let e = CommandError::failed("it broke")
            .hinted("try this")
            .hinted("or that");
        assert_eq!(
            e.render(),
            "git-annex-rs: it broke\nHint: try this\nHint: or that\n\n"
        );
        assert_eq!(e.hints(), ["try this", "or that"]);
        // The message alone leaves the hints out.
        assert_eq!(e.to_string(), "it broke");
    }

    #[test]
    fn exit_codes_of_each_kind() {
        assert_eq!(CommandError::user("u").exit_code(), 1);
        assert_eq!(CommandError::from(std::fmt::Error).exit_code(), 1);
        assert_eq!(CommandError::failed("f").with_exit_code(3).exit_code(), 3);
        let quiet = CommandError::exit(2);
        assert_eq!((quiet.exit_code(), quiet.render()), (2, String::new()));
        let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let e = CommandError::from_write(pipe);
        assert_eq!(e.kind(), ErrorKind::BrokenPipe);
        assert_eq!((e.exit_code(), e.render()), (0, String::new()));
        let other = CommandError::from_write(std::io::Error::other("full"));
        assert_eq!(other.exit_code(), 1);
        assert_eq!(
            other.render(),
            "git-annex-rs: cannot write to standard output: full\n\n"
        );
    }

    #[test]
    fn a_quiet_failure_prints_its_summary_as_it_is() {
        let e = CommandError::quiet_failure("get: 2 failed");
        assert_eq!(e.render(), "get: 2 failed\n");
        assert_eq!(e.exit_code(), 1);
        assert_eq!(CommandError::quiet_failure("").render(), "");
        // An empty message prints nothing, whatever the kind.
        assert_eq!(CommandError::failed("").render(), "");
        assert_eq!(CommandError::failed("").exit_code(), 1);
    }

    #[test]
    fn library_errors_choose_their_kind_and_hints() {
        let e = CommandError::from(ConfigError::BadOverride("x".into()));
        assert_eq!(e.kind(), ErrorKind::User);
        assert_eq!(e.hints().len(), 1);
        assert!(e.render().contains("\nHint: -c takes"), "{}", e.render());
        let e = CommandError::from(ConfigError::UnknownRepository("origin".into()));
        assert!(e.hints().is_empty());
        assert_eq!(
            e.render(),
            "git-annex-rs: there is no available git remote named \"origin\"\n\n"
        );
        let e = CommandError::from(std::io::Error::other("gone"));
        assert_eq!(
            (e.kind(), e.render().as_str()),
            (ErrorKind::Failure, "git-annex-rs: gone\n\n")
        );
        let e = CommandError::from(annex_core::key::Key::parse(b"").unwrap_err());
        assert_eq!(e.kind(), ErrorKind::User);
    }

    #[test]
    fn a_message_with_causes_of_a_borrowed_error() {
        let o = outer("cannot add f");
        assert_eq!(message_with_causes(&o), "cannot add f: disk on fire");
    }
}
