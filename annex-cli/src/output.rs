//! Writing to standard output. A closed pipe (`git-annex-rs find | head`)
//! ends the command quietly instead of panicking, as ripgrep and git do.

use std::io::Write;

use crate::error::CommandError;

/// Writes a formatted line to stdout; a broken pipe becomes a quiet exit.
pub fn line(args: std::fmt::Arguments<'_>) -> Result<(), CommandError> {
    let mut out = std::io::stdout().lock();
    out.write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .map_err(CommandError::from_write)
}

/// Writes formatted text to stdout without a newline.
pub fn text(args: std::fmt::Arguments<'_>) -> Result<(), CommandError> {
    std::io::stdout()
        .lock()
        .write_fmt(args)
        .map_err(CommandError::from_write)
}

/// Writes bytes to stdout as they are (keys and paths may hold bytes that
/// are not UTF-8), flushed; a broken pipe becomes a quiet exit.
pub fn bytes(b: &[u8]) -> Result<(), CommandError> {
    let mut out = std::io::stdout().lock();
    out.write_all(b)
        .and_then(|()| out.flush())
        .map_err(CommandError::from_write)
}

/// [`bytes`] followed by a newline.
pub fn bytes_line(b: &[u8]) -> Result<(), CommandError> {
    let mut out = std::io::stdout().lock();
    out.write_all(b)
        .and_then(|()| out.write_all(b"\n"))
        .map_err(CommandError::from_write)
}

/// `outln!(...)`: [`line`](fn@line) with `format_args!`.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}

/// `out!(...)`: [`text`](fn@text) with `format_args!`.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::text(format_args!($($arg)*))
    };
}

pub(crate) use {out, outln};
