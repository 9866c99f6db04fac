//! `numcopies [N]` and `mincopies [N]`: show or set the repository-wide
//! number of copies (`numcopies.log`, `mincopies.log`).

use std::ffi::OsString;

use crate::action::{Mode, Reporter};
use crate::context::Ctx;
use crate::error::CommandError;
use crate::output::outln;

use super::describe::{record, strings};

/// Arguments of `numcopies` and `mincopies`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The number to set; none to show the current setting.
    params: Vec<OsString>,
    /// Avoid the usual informational output (setting still reports).
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Override a git config setting for this command (`name=value`).
    #[arg(short = 'c', long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
}

/// Which of the two settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// `numcopies`.
    NumCopies,
    /// `mincopies`.
    MinCopies,
}

impl Setting {
    fn name(self) -> &'static str {
        match self {
            Setting::NumCopies => "numcopies",
            Setting::MinCopies => "mincopies",
        }
    }
}

/// Shows or sets the setting.
pub fn run(setting: Setting, args: Args) -> Result<(), CommandError> {
    let params = strings(&args.params);
    let name = setting.name();
    let n = match params.as_slice() {
        [] => None,
        [s] => match read_int(s) {
            None => return Err(CommandError::failed(format!("Bad number: {s}"))),
            Some(0) => return Err(CommandError::failed(format!("Cannot set {name} to 0."))),
            Some(n) if n < 0 => {
                return Err(CommandError::failed(format!("{name} cannot be negative!")));
            }
            Some(n) => Some(n),
        },
        _ => return Err(CommandError::failed("Specify a single number.")),
    };
    let ctx = Ctx::open(&args.config, false)?;
    let current = match setting {
        Setting::NumCopies => ctx.state.numcopies()?,
        Setting::MinCopies => ctx.state.mincopies()?,
    };
    let Some(n) = n else {
        match (current, setting) {
            (Some(v), _) => outln!("{v}")?,
            (None, Setting::MinCopies) => outln!("global mincopies is not set")?,
            (None, Setting::NumCopies) => {
                outln!("global numcopies is not set")?;
                // The old git config setting, still honoured when set.
                match ctx
                    .config
                    .get_str("annex.numcopies")
                    .and_then(|v| read_int(&v))
                {
                    Some(old) => {
                        outln!("(deprecated git config annex.numcopies is set to {old} locally)")?
                    }
                    None => outln!("(default is 1)")?,
                }
            }
        }
        return Ok(());
    };
    // These report even with --quiet, as git-annex's do.
    let mut reporter = Reporter::new(name, Mode::Plain);
    let action = reporter.start(None, None, n.to_string().as_bytes())?;
    // An unchanged value is not logged again.
    if current != Some(n) {
        match setting {
            Setting::NumCopies => ctx.state.set_numcopies(n)?,
            Setting::MinCopies => ctx.state.set_mincopies(n)?,
        }
    }
    action.end(true)?;
    record(&ctx, true)?;
    reporter.finish()
}

/// Reads an integer as git-annex's `readish` does (Haskell's `reads` for
/// `Int`): leading spaces, parentheses, an optional minus sign, decimal,
/// `0x` hexadecimal or `0o` octal digits; what follows the number is
/// ignored unless it makes the number a fraction or an exponent; an
/// overflow wraps around.
pub(super) fn read_int(s: &str) -> Option<i64> {
    let b = s.trim_start().as_bytes();
    // Balanced parentheses around the number.
    let mut depth = 0;
    let mut rest = b;
    while let Some(r) = rest.strip_prefix(b"(") {
        depth += 1;
        rest = trim_start(r);
    }
    let (negative, rest) = match rest.strip_prefix(b"-") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let (radix, digits_start) = match rest {
        [b'0', b'x' | b'X', d, ..] if d.is_ascii_hexdigit() => (16, 2),
        [b'0', b'o' | b'O', d, ..] if (b'0'..=b'7').contains(d) => (8, 2),
        [d, ..] if d.is_ascii_digit() => (10, 0),
        _ => return None,
    };
    let rest = &rest[digits_start..];
    let len = rest
        .iter()
        .take_while(|c| (**c as char).is_digit(radix))
        .count();
    let (digits, mut after) = rest.split_at(len);
    if radix == 10 {
        // A fraction or an exponent makes it a floating-point literal.
        match after {
            [b'.', d, ..] if d.is_ascii_digit() => return None,
            [b'e' | b'E', d, ..] if d.is_ascii_digit() => return None,
            [b'e' | b'E', b'+' | b'-', d, ..] if d.is_ascii_digit() => return None,
            _ => {}
        }
    }
    let mut n: i64 = 0;
    for d in digits {
        let v = (*d as char).to_digit(radix)? as i64;
        n = n.wrapping_mul(radix as i64).wrapping_add(v);
    }
    for _ in 0..depth {
        after = trim_start(after).strip_prefix(b")")?;
    }
    Some(if negative { n.wrapping_neg() } else { n })
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

#[cfg(test)]
mod tests {
    use super::read_int;

    #[test]
    fn reads_like_haskell() {
        // Observed with git-annex 10.20261026's `numcopies`.
        assert_eq!(read_int("3abc"), Some(3));
        assert_eq!(read_int("3 x"), Some(3));
        assert_eq!(read_int("0x10"), Some(16));
        assert_eq!(read_int("0o7"), Some(7));
        assert_eq!(read_int("  7"), Some(7));
        assert_eq!(read_int("(5)"), Some(5));
        assert_eq!(read_int("1e3"), None);
        assert_eq!(read_int("4.5"), None);
        assert_eq!(read_int("+3"), None);
        assert_eq!(read_int("x"), None);
        assert_eq!(read_int("99999999999999999999"), Some(7766279631452241919));
    }
}
