//! How an operation tells its caller what it is doing, without printing.
//!
//! An operation calls its [`Observer`] as it goes: a note when a step
//! starts (git-annex's words, `from origin...`), the bytes done of a
//! transfer, a warning for something that failed but did not end the
//! operation (one remote of several), and the end of a transfer. The CLI
//! renders these as git-annex does (plain text, `--json`,
//! `--json-progress`); the daemon forwards them to its clients; a tool
//! author may ignore them ([`Quiet`]).
//!
//! What an operation decided (the copies it verified, why it refused) is
//! not an observer event: it is the operation's returned value.
//!
//! ```
//! use annex_ops::observer::{Observer, Quiet, Warning};
//!
//! #[derive(Default)]
//! struct Count { bytes: u64, warnings: usize }
//! impl Observer for Count {
//!     fn progress(&mut self, done: u64) { self.bytes = done; }
//!     fn warning(&mut self, _warning: &Warning<'_>) { self.warnings += 1; }
//! }
//! let mut c = Count::default();
//! c.note("from origin...");
//! c.progress(10);
//! assert_eq!(c.bytes, 10);
//! let _quiet: &mut dyn Observer = &mut Quiet;
//! ```

/// Receives what an operation does, as it does it. Every method has a
/// default that ignores the event.
pub trait Observer {
    /// A step starts; `note` is git-annex's note for it (`from origin...`,
    /// `to origin...`).
    fn note(&mut self, note: &str) {
        let _ = note;
    }
    /// Content is being transferred: `done` bytes so far (of the key's
    /// size, when known).
    fn progress(&mut self, done: u64) {
        let _ = done;
    }
    /// Something failed without ending the operation (e.g. one remote of
    /// several could not serve the content).
    fn warning(&mut self, warning: &Warning<'_>) {
        let _ = warning;
    }
    /// The transfer this observer watched is over (`ok`: it succeeded).
    /// The operation's outcome is its return value; this only lets a
    /// progress display close.
    fn end(&mut self, ok: bool) {
        let _ = ok;
    }
}

/// A failure an operation survived.
#[derive(Debug, Clone, Copy)]
pub enum Warning<'a> {
    /// A transfer with a remote failed.
    Remote {
        /// The remote's name.
        remote: &'a str,
        /// Whether content was coming here or going there.
        direction: annex_core::transfer::Direction,
        /// What went wrong.
        error: &'a annex_core::remote::RemoteError,
    },
    /// Anything else, in git-annex's words.
    Message(&'a str),
}

impl std::fmt::Display for Warning<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::Remote { error, .. } => write!(f, "{error}"),
            Warning::Message(m) => f.write_str(m),
        }
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl Observer for Quiet {}

impl<O: Observer + ?Sized> Observer for &mut O {
    fn note(&mut self, note: &str) {
        (**self).note(note)
    }
    fn progress(&mut self, done: u64) {
        (**self).progress(done)
    }
    fn warning(&mut self, warning: &Warning<'_>) {
        (**self).warning(warning)
    }
    fn end(&mut self, ok: bool) {
        (**self).end(ok)
    }
}

impl<O: Observer + ?Sized> Observer for Box<O> {
    fn note(&mut self, note: &str) {
        (**self).note(note)
    }
    fn progress(&mut self, done: u64) {
        (**self).progress(done)
    }
    fn warning(&mut self, warning: &Warning<'_>) {
        (**self).warning(warning)
    }
    fn end(&mut self, ok: bool) {
        (**self).end(ok)
    }
}
