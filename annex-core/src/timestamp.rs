//! Timestamps of the git-annex branch's logs, and the vector clock.
//!
//! git-annex keeps times as a count of picoseconds since the epoch and shows
//! them the way Haskell shows a `POSIXTime`: whole seconds, then a `.` and
//! the fraction with trailing zeros removed (none when it is zero), then `s`:
//! `1700000000s`, `1700000000.5s`, `-3.25s`.
//!
//! On read, git-annex accepts an optional sign (`-` or `+`), decimal digits,
//! an optional `.` followed by at least one digit (any number of them: more
//! than twelve are truncated to picoseconds), and an optional `s`. A quirk
//! kept here: the sign is applied to the integer part only when that part is
//! negative, so `-0.5` reads as `0.5` and `-1.5` as `-1.5`.
//!
//! The *vector clock* is the timestamp git-annex puts on a log change. A
//! [`Clock`] gives the candidate: the current time truncated to whole
//! seconds, or the value of `GIT_ANNEX_VECTOR_CLOCK` when that variable is
//! set and parses as a timestamp (it is then the same for every change the
//! process makes). Before use, a candidate is [`advance`]d past the clocks
//! already logged for the same thing: if the newest of those is at least the
//! candidate, the newest plus one second is used instead.
//!
//! ```
//! use annex_core::timestamp::{advance, Timestamp};
//! let t = Timestamp::parse(b"1700000000.123456789s").unwrap();
//! assert_eq!(t.to_string(), "1700000000.123456789s");
//! assert_eq!(Timestamp::parse(b"17").unwrap().to_string(), "17s");
//! let c = Timestamp::from_secs(100);
//! assert_eq!(advance(c, [Some(Timestamp::from_secs(100))]), Timestamp::from_secs(101));
//! assert_eq!(advance(c, [Some(Timestamp::from_secs(50))]), c);
//! ```

use std::fmt;

/// Picoseconds in a second.
pub const PICOS_PER_SEC: i128 = 1_000_000_000_000;

/// A point in time as git-annex logs it: picoseconds since the epoch.
///
/// Ordered by time. Logs where a record may lack a timestamp (very old
/// UUID-based logs) use `Option<Timestamp>`, whose `None` (git-annex's
/// `Unknown`) sorts before every timestamp, as in git-annex.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(i128);

/// Why bytes are not a timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// Not in the syntax git-annex reads.
    #[error("bad timestamp {0:?}")]
    Syntax(String),
    /// Too far from the epoch for this library (about 10^26 seconds).
    #[error("timestamp {0:?} is out of range")]
    OutOfRange(String),
}

impl Timestamp {
    /// A timestamp of whole seconds.
    pub const fn from_secs(secs: i64) -> Timestamp {
        Timestamp(secs as i128 * PICOS_PER_SEC)
    }

    /// A timestamp from picoseconds since the epoch.
    pub const fn from_picos(picos: i128) -> Timestamp {
        Timestamp(picos)
    }

    /// Picoseconds since the epoch.
    pub const fn picos(self) -> i128 {
        self.0
    }

    /// Whole seconds since the epoch, rounded toward negative infinity.
    pub fn secs_floor(self) -> i128 {
        self.0.div_euclid(PICOS_PER_SEC)
    }

    /// This timestamp plus some picoseconds (saturating).
    pub fn plus_picos(self, picos: i128) -> Timestamp {
        Timestamp(self.0.saturating_add(picos))
    }

    /// The current time, truncated to whole seconds as git-annex does for
    /// the clock it logs with.
    pub fn now_secs() -> Timestamp {
        let secs = match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i128,
            Err(e) => -(e.duration().as_secs() as i128),
        };
        Timestamp(secs * PICOS_PER_SEC)
    }

    /// Parses a whole byte string as a timestamp.
    pub fn parse(b: &[u8]) -> Result<Timestamp, TimestampError> {
        match Self::parse_prefix(b) {
            Some((t, n)) if n == b.len() => Ok(t),
            Some(_) | None => {
                let lossy = String::from_utf8_lossy(b).into_owned();
                if Self::syntax_ok(b) {
                    Err(TimestampError::OutOfRange(lossy))
                } else {
                    Err(TimestampError::Syntax(lossy))
                }
            }
        }
    }

    fn syntax_ok(b: &[u8]) -> bool {
        let b = b
            .strip_prefix(b"-")
            .or_else(|| b.strip_prefix(b"+"))
            .unwrap_or(b);
        let b = b.strip_suffix(b"s").unwrap_or(b);
        let mut parts = b.splitn(2, |&c| c == b'.');
        let int = parts.next().unwrap_or_default();
        let ok_digits = |p: &[u8]| !p.is_empty() && p.iter().all(u8::is_ascii_digit);
        ok_digits(int) && parts.next().is_none_or(ok_digits)
    }

    /// Parses a timestamp at the start of `b`, as git-annex's parser does
    /// inside a log line; returns it and how many bytes it took.
    pub fn parse_prefix(b: &[u8]) -> Option<(Timestamp, usize)> {
        let mut i = 0;
        let negative = match b.first() {
            Some(b'-') => {
                i = 1;
                true
            }
            Some(b'+') => {
                i = 1;
                false
            }
            _ => false,
        };
        let int_start = i;
        let mut int: i128 = 0;
        while let Some(&c) = b.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            int = int.checked_mul(10)?.checked_add(i128::from(c - b'0'))?;
            i += 1;
        }
        if i == int_start {
            return None;
        }
        let mut frac: i128 = 0;
        if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i += 1;
            let mut ndigits = 0;
            while let Some(&c) = b.get(i) {
                if !c.is_ascii_digit() {
                    break;
                }
                // Digits past the twelfth are below a picosecond: truncated.
                if ndigits < 12 {
                    frac = frac * 10 + i128::from(c - b'0');
                }
                ndigits += 1;
                i += 1;
            }
            for _ in ndigits..12 {
                frac *= 10;
            }
        }
        if b.get(i) == Some(&b's') {
            i += 1;
        }
        let whole = int.checked_mul(PICOS_PER_SEC)?;
        // git-annex negates only when the integer part is below zero.
        let picos = if negative && int != 0 {
            whole.checked_neg()?.checked_sub(frac)?
        } else {
            whole.checked_add(frac)?
        };
        Some((Timestamp(picos), i))
    }

    /// Appends the timestamp as git-annex writes it (`1700000000.5s`).
    pub fn write_to(self, out: &mut Vec<u8>) {
        use std::io::Write;
        let abs = self.0.unsigned_abs();
        let secs = abs / PICOS_PER_SEC as u128;
        let mut frac = abs % PICOS_PER_SEC as u128;
        if self.0 < 0 {
            out.push(b'-');
        }
        let _ = write!(out, "{secs}");
        if frac != 0 {
            let mut width = 12;
            while frac.is_multiple_of(10) {
                frac /= 10;
                width -= 1;
            }
            let _ = write!(out, ".{frac:0width$}");
        }
        out.push(b's');
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut v = Vec::with_capacity(24);
        self.write_to(&mut v);
        f.write_str(&String::from_utf8_lossy(&v))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

/// Writes an optional timestamp the way git-annex writes a vector clock in
/// the logs that always carry one: `Unknown` (`None`) is written as `0`.
pub fn write_clock(clock: Option<Timestamp>, out: &mut Vec<u8>) {
    match clock {
        Some(t) => t.write_to(out),
        None => out.push(b'0'),
    }
}

/// Turns a candidate clock into the one to log, given the clocks already
/// logged for the same thing: when the newest of them is the same as or
/// newer than the candidate, it is advanced by one second.
pub fn advance<I>(candidate: Timestamp, previous: I) -> Timestamp
where
    I: IntoIterator<Item = Option<Timestamp>>,
{
    match previous.into_iter().flatten().max() {
        Some(prev) if prev >= candidate => prev.plus_picos(PICOS_PER_SEC),
        _ => candidate,
    }
}

/// Where candidate clocks come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The system time, truncated to whole seconds.
    System,
    /// A fixed value, as set by `GIT_ANNEX_VECTOR_CLOCK`.
    Fixed(Timestamp),
}

impl Clock {
    /// The clock git-annex would use in this environment: fixed when
    /// `GIT_ANNEX_VECTOR_CLOCK` is set to a valid timestamp (an invalid
    /// value is ignored), the system time otherwise.
    pub fn from_env() -> Clock {
        match std::env::var_os("GIT_ANNEX_VECTOR_CLOCK") {
            Some(v) => Clock::from_env_value(v.as_encoded_bytes()),
            None => Clock::System,
        }
    }

    /// The clock for a given value of `GIT_ANNEX_VECTOR_CLOCK`.
    pub fn from_env_value(v: &[u8]) -> Clock {
        match Timestamp::parse(v) {
            Ok(t) => Clock::Fixed(t),
            Err(_) => Clock::System,
        }
    }

    /// The candidate clock for a change made now.
    pub fn candidate(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now_secs(),
            Clock::Fixed(t) => *t,
        }
    }

    /// The clock to log a change with, given the clocks already logged for
    /// the same thing (see [`advance`]).
    pub fn next<I>(&self, previous: I) -> Timestamp
    where
        I: IntoIterator<Item = Option<Timestamp>>,
    {
        advance(self.candidate(), previous)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms() {
        let p = |s: &str| Timestamp::parse(s.as_bytes()).map(|t| t.picos());
        assert_eq!(p("1"), Ok(PICOS_PER_SEC));
        assert_eq!(p("1s"), Ok(PICOS_PER_SEC));
        assert_eq!(p("+1.5s"), Ok(PICOS_PER_SEC * 3 / 2));
        assert_eq!(p("-1.5"), Ok(-PICOS_PER_SEC * 3 / 2));
        assert_eq!(p("-0.5"), Ok(PICOS_PER_SEC / 2));
        assert_eq!(p("0.1234567890129s"), Ok(123456789012));
        assert!(p("1.s").is_err());
        assert!(p(".5").is_err());
        assert!(p("1ss").is_err());
        assert!(p("").is_err());
        assert!(matches!(
            Timestamp::parse(&[b'9'; 60]),
            Err(TimestampError::OutOfRange(_))
        ));
    }

    #[test]
    fn show_forms() {
        assert_eq!(Timestamp::from_picos(1).to_string(), "0.000000000001s");
        assert_eq!(
            Timestamp::from_picos(-PICOS_PER_SEC * 3 / 2).to_string(),
            "-1.5s"
        );
        assert_eq!(Timestamp::from_secs(0).to_string(), "0s");
    }

    #[test]
    fn env_value() {
        assert_eq!(
            Clock::from_env_value(b"10"),
            Clock::Fixed(Timestamp::from_secs(10))
        );
        assert_eq!(Clock::from_env_value(b"ten"), Clock::System);
    }
}
