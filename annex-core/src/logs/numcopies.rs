//! `numcopies.log` and `mincopies.log`: single-value logs of a number
//! (`CLOCK N`). On read the number is parsed as Haskell reads an `Int` and a
//! value below 1 counts as 1.
//!
//! ```
//! use annex_core::logs::numcopies;
//! assert_eq!(numcopies::current(b"1s 2\n2s 0\n"), Some(1));
//! assert_eq!(numcopies::current(b"1s 3\n"), Some(3));
//! ```

use super::format::{Value, hs_read_int};
use super::single_value::SingleValueLog;
use crate::timestamp::Timestamp;

/// A number of copies (at least 1 once parsed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Copies(pub i64);

impl Value for Copies {
    fn parse_value(b: &[u8]) -> Option<Self> {
        hs_read_int(b).map(|n| Copies(n.max(1)))
    }
    fn write_value(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0.to_string().as_bytes());
    }
}

/// A parsed `numcopies.log` or `mincopies.log`.
pub type CopiesLog = SingleValueLog<Copies>;

/// Parses `numcopies.log` or `mincopies.log`.
pub fn parse(content: &[u8]) -> CopiesLog {
    SingleValueLog::parse(content)
}

/// The configured number, if any.
pub fn current(content: &[u8]) -> Option<i64> {
    parse(content).newest().map(|c| c.0)
}

/// The new content after setting the number.
pub fn set(old: &[u8], n: i64, candidate: Timestamp) -> Vec<u8> {
    let mut log = parse(old);
    log.set(Copies(n), candidate);
    log.serialize()
}
