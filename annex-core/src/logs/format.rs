//! Shared pieces of the log formats: splitting into lines, and the two
//! layouts of UUID-based (map) logs.
//!
//! Lines: git-annex takes any run of `\r` and `\n` as the end of a line, so
//! empty lines do not exist. A line that does not parse is skipped when
//! reading; here it is also kept (see [`MapLog::unparsed`]) so that
//! rewriting a log never loses it.
//!
//! Map logs hold one value per field (a UUID, a group, a config key), with
//! the clock of its last change; of two records for the same field the one
//! with the newer clock wins, and on a tie the one read later. Two layouts:
//!
//! - old (`uuid.log`, `trust.log`, ...): `FIELD VALUE timestamp=CLOCK`, where
//!   the ` timestamp=CLOCK` is absent on very old lines (clock unknown, older
//!   than any other).
//! - new (`maxsize.log`, `config.log`, ...): `CLOCK FIELD VALUE`.
//!
//! ```
//! use annex_core::logs::format::{MapLog, Layout};
//! use annex_core::logs::format::Bytes;
//! let log: MapLog<Bytes, Bytes> = MapLog::parse(Layout::New, b"1s a x\n2s a y\n1s b z\n");
//! assert_eq!(log.get(&Bytes(b"a".to_vec())).unwrap().value, Bytes(b"y".to_vec()));
//! assert_eq!(log.serialize(), b"2s a y\n1s b z\n");
//! ```

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use crate::timestamp::{Timestamp, advance, write_clock};
use crate::uuid::Uuid;

/// The lines of a log: maximal runs of bytes other than `\r` and `\n`.
pub fn lines(content: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = content;
    std::iter::from_fn(move || {
        loop {
            if rest.is_empty() {
                return None;
            }
            let end = memchr::memchr2(b'\n', b'\r', rest).unwrap_or(rest.len());
            let line = &rest[..end];
            rest = &rest[end..];
            let skip = rest
                .iter()
                .take_while(|&&c| c == b'\n' || c == b'\r')
                .count();
            rest = &rest[skip..];
            if !line.is_empty() {
                return Some(line);
            }
        }
    })
}

/// Lines that did not parse, kept in first-seen order without repeats so
/// that they are written back when the log is rewritten. Keeping a line
/// costs the same however many are kept already (a set remembers them: a
/// peer's log of junk lines must not make reading it quadratic).
#[derive(Clone, Default)]
pub struct Unparsed(Vec<Vec<u8>>, HashSet<Vec<u8>>);

impl PartialEq for Unparsed {
    fn eq(&self, other: &Unparsed) -> bool {
        self.0 == other.0
    }
}

impl Eq for Unparsed {}

impl Unparsed {
    /// Keeps a line (once).
    pub fn push(&mut self, line: &[u8]) {
        if !self.1.contains(line) {
            self.1.insert(line.to_vec());
            self.0.push(line.to_vec());
        }
    }
    /// The kept lines.
    pub fn lines(&self) -> &[Vec<u8>] {
        &self.0
    }
    /// Adds the lines of another set.
    pub fn extend(&mut self, other: &Unparsed) {
        for l in &other.0 {
            self.push(l);
        }
    }
    /// Writes the kept lines, each ended by `\n`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        for l in &self.0 {
            out.extend_from_slice(l);
            out.push(b'\n');
        }
    }
    /// The lines, sorted (for comparisons that ignore order).
    pub fn sorted(&self) -> Vec<Vec<u8>> {
        let mut v = self.0.clone();
        v.sort();
        v
    }
}

impl fmt::Debug for Unparsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|l| String::from_utf8_lossy(l)))
            .finish()
    }
}

/// A field of a map log: what a record is about.
pub trait Field: Ord + Clone + fmt::Debug {
    /// Parses a field; `None` when the line cannot be represented.
    fn parse_field(b: &[u8]) -> Option<Self>;
    /// The field's bytes.
    fn field_bytes(&self) -> &[u8];
}

/// A value of a log record, read from and written to bytes.
pub trait Value: Clone + PartialEq + fmt::Debug {
    /// Parses a value; `None` when git-annex would not accept it.
    fn parse_value(b: &[u8]) -> Option<Self>;
    /// Appends the value's serialization.
    fn write_value(&self, out: &mut Vec<u8>);
}

/// Uninterpreted bytes as a field or value.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bytes(pub Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(&self.0))
    }
}

impl Field for Bytes {
    fn parse_field(b: &[u8]) -> Option<Self> {
        Some(Bytes(b.to_vec()))
    }
    fn field_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Value for Bytes {
    fn parse_value(b: &[u8]) -> Option<Self> {
        Some(Bytes(b.to_vec()))
    }
    fn write_value(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

impl Field for Uuid {
    fn parse_field(b: &[u8]) -> Option<Self> {
        Uuid::parse(b).ok()
    }
    fn field_bytes(&self) -> &[u8] {
        self.as_str().as_bytes()
    }
}

/// The layout of a map log's lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `FIELD VALUE[ timestamp=CLOCK]`.
    Old,
    /// `CLOCK FIELD VALUE`.
    New,
}

/// A record of a map log: a value and when it was set.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry<V> {
    /// When the value was set; `None` for very old records with no clock.
    pub changed: Option<Timestamp>,
    /// The value.
    pub value: V,
}

/// A map log: the current record for each field, plus unparsed lines.
#[derive(Debug, Clone, PartialEq)]
pub struct MapLog<F: Field, V: Value> {
    layout: Layout,
    entries: BTreeMap<F, LogEntry<V>>,
    unparsed: Unparsed,
}

/// Splits an old-layout line into field, value and clock, as git-annex does.
pub fn split_old_line(line: &[u8]) -> Option<(&[u8], &[u8], Option<Timestamp>)> {
    let sp = memchr::memchr(b' ', line).unwrap_or(line.len());
    if sp == 0 {
        return None;
    }
    let field = &line[..sp];
    let rest = &line[sp..];
    if rest.is_empty() {
        return Some((field, b"", None));
    }
    // rest starts with a space. A clock can only be the last word.
    let last = memchr::memrchr(b' ', rest).unwrap_or(0);
    const TS: &[u8] = b" timestamp=";
    if rest[last..].starts_with(TS)
        && let Ok(t) = Timestamp::parse(&rest[last + TS.len()..])
    {
        let value = if last == 0 {
            &rest[..0]
        } else {
            &rest[1..last]
        };
        return Some((field, value, Some(t)));
    }
    Some((field, &rest[1..], None))
}

/// Splits a new-layout line into clock, field and value.
pub fn split_new_line(line: &[u8]) -> Option<(Timestamp, &[u8], &[u8])> {
    let (t, n) = Timestamp::parse_prefix(line)?;
    let rest = line[n..].strip_prefix(b" ")?;
    let sp = memchr::memchr(b' ', rest)?;
    Some((t, &rest[..sp], &rest[sp + 1..]))
}

impl<F: Field, V: Value> MapLog<F, V> {
    /// An empty log of the given layout.
    pub fn new(layout: Layout) -> Self {
        MapLog {
            layout,
            entries: BTreeMap::new(),
            unparsed: Unparsed::default(),
        }
    }

    /// Parses a log's content; lines that do not parse are kept aside.
    pub fn parse(layout: Layout, content: &[u8]) -> Self {
        let mut log = Self::new(layout);
        for line in lines(content) {
            match Self::parse_line(layout, line) {
                Some((f, e)) => log.add(f, e),
                None => log.unparsed.push(line),
            }
        }
        log
    }

    fn parse_line(layout: Layout, line: &[u8]) -> Option<(F, LogEntry<V>)> {
        match layout {
            Layout::Old => {
                let (f, v, changed) = split_old_line(line)?;
                Some((
                    F::parse_field(f)?,
                    LogEntry {
                        changed,
                        value: V::parse_value(v)?,
                    },
                ))
            }
            Layout::New => {
                let (t, f, v) = split_new_line(line)?;
                Some((
                    F::parse_field(f)?,
                    LogEntry {
                        changed: Some(t),
                        value: V::parse_value(v)?,
                    },
                ))
            }
        }
    }

    /// The layout of this log.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Adds a record unless the log has a newer one for the same field
    /// (on equal clocks the added record wins, as a later line does).
    pub fn add(&mut self, field: F, entry: LogEntry<V>) {
        match self.entries.get(&field) {
            Some(old) if old.changed > entry.changed => {}
            _ => {
                self.entries.insert(field, entry);
            }
        }
    }

    /// Sets a field's value as git-annex does when it changes the log: the
    /// candidate clock is advanced past the field's current clock. Returns
    /// the clock used.
    pub fn set(&mut self, field: F, value: V, candidate: Timestamp) -> Timestamp {
        let prev = self.entries.get(&field).map(|e| e.changed);
        let changed = advance(candidate, prev);
        self.entries.insert(
            field,
            LogEntry {
                changed: Some(changed),
                value,
            },
        );
        changed
    }

    /// The current record of a field.
    pub fn get(&self, field: &F) -> Option<&LogEntry<V>> {
        self.entries.get(field)
    }

    /// The current record of every field, in field order.
    pub fn entries(&self) -> &BTreeMap<F, LogEntry<V>> {
        &self.entries
    }

    /// Keeps only the fields (with their records, which `keep` may
    /// change) for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&F, &mut LogEntry<V>) -> bool) {
        self.entries.retain(|f, e| keep(f, e));
    }

    /// The current value of every field.
    pub fn values(&self) -> BTreeMap<F, V> {
        self.entries
            .iter()
            .map(|(f, e)| (f.clone(), e.value.clone()))
            .collect()
    }

    /// Lines that did not parse.
    pub fn unparsed(&self) -> &Unparsed {
        &self.unparsed
    }

    /// Merges another log into this one (union, newest record wins).
    pub fn merge(&mut self, other: &Self) {
        for (f, e) in &other.entries {
            self.add(f.clone(), e.clone());
        }
        self.unparsed.extend(&other.unparsed);
    }

    /// The log as git-annex writes it: one line per field in field order,
    /// then any unparsed lines.
    pub fn serialize(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.entries.len() * 64);
        for (f, e) in &self.entries {
            match self.layout {
                Layout::Old => {
                    out.extend_from_slice(f.field_bytes());
                    out.push(b' ');
                    e.value.write_value(&mut out);
                    if let Some(t) = e.changed {
                        out.extend_from_slice(b" timestamp=");
                        t.write_to(&mut out);
                    }
                }
                Layout::New => {
                    write_clock(e.changed, &mut out);
                    out.push(b' ');
                    out.extend_from_slice(f.field_bytes());
                    out.push(b' ');
                    e.value.write_value(&mut out);
                }
            }
            out.push(b'\n');
        }
        self.unparsed.write_to(&mut out);
        out
    }
}

/// Whether a character is white space to Haskell's `isSpace`.
pub fn hs_is_space(c: char) -> bool {
    matches!(c, ' ' | '\t'..='\r' | '\u{a0}')
        || matches!(
            c,
            '\u{1680}' | '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
        )
}

/// Reads an integer as git-annex's `readish` does for `Int`/`Integer`
/// (Haskell's `reads`, trailing text ignored): leading white space, any
/// number of balanced parentheses, a `-` sign (which may be followed by
/// white space), then a number lexeme: decimal digits, or `0x`/`0o` and hex
/// or octal digits. A decimal with a fraction or exponent (`5.5`, `5e2`)
/// is not an integer: no value. Returns the sign, the digits and the radix.
pub fn hs_read_integer(b: &[u8]) -> Option<(bool, &str, u32)> {
    // Bytes after the number do not matter; cut at the first non-UTF-8.
    let s = match std::str::from_utf8(b) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&b[..e.valid_up_to()]).ok()?,
    };
    read_prec(s, 0).map(|(n, d, r, _)| (n, d, r))
}

fn read_prec(s: &str, depth: u32) -> Option<(bool, &str, u32, &str)> {
    let s = s.trim_start_matches(hs_is_space);
    if let Some(inner) = s.strip_prefix('(') {
        if depth > 64 {
            return None;
        }
        let (n, d, r, rest) = read_prec(inner, depth + 1)?;
        let rest = rest.trim_start_matches(hs_is_space).strip_prefix(')')?;
        return Some((n, d, r, rest));
    }
    const SYMBOL: &str = "!#$%&*+./<=>?@\\^|-~:";
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => {
            if r.starts_with(|c: char| SYMBOL.contains(c)) {
                return None;
            }
            (true, r.trim_start_matches(hs_is_space))
        }
        None => (false, s),
    };
    let prefixed = |p: [&str; 2], radix: u32| {
        let r = s.strip_prefix(p[0]).or_else(|| s.strip_prefix(p[1]))?;
        let n = r.find(|c: char| !c.is_digit(radix)).unwrap_or(r.len());
        (n > 0).then(|| (&r[..n], radix, &r[n..]))
    };
    let (digits, radix, rest) =
        match prefixed(["0x", "0X"], 16).or_else(|| prefixed(["0o", "0O"], 8)) {
            Some(x) => x,
            None => {
                let n = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
                if n == 0 {
                    return None;
                }
                let rest = &s[n..];
                let b = rest.as_bytes();
                let digit_at = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
                let fraction = b.first() == Some(&b'.') && digit_at(1);
                let exponent = matches!(b.first(), Some(b'e' | b'E'))
                    && (digit_at(1) || (matches!(b.get(1), Some(b'+' | b'-')) && digit_at(2)));
                if fraction || exponent {
                    return None;
                }
                (&s[..n], 10, rest)
            }
        };
    Some((neg, digits, radix, rest))
}

/// Reads an `Int` as git-annex does (wrapping on overflow, like GHC's
/// 64-bit `Int`).
pub fn hs_read_int(b: &[u8]) -> Option<i64> {
    let (neg, digits, radix) = hs_read_integer(b)?;
    let mut n: u64 = 0;
    for c in digits.chars() {
        n = n
            .wrapping_mul(u64::from(radix))
            .wrapping_add(u64::from(c.to_digit(radix)?));
    }
    let n = n as i64;
    Some(if neg { n.wrapping_neg() } else { n })
}

/// Reads an `Integer` as git-annex does; `None` also when it does not fit
/// in an `i128`.
pub fn hs_read_i128(b: &[u8]) -> Option<i128> {
    let (neg, digits, radix) = hs_read_integer(b)?;
    let mut n: i128 = 0;
    for c in digits.chars() {
        n = n
            .checked_mul(i128::from(radix))?
            .checked_add(i128::from(c.to_digit(radix)?))?;
    }
    Some(if neg { -n } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_splitting() {
        let v: Vec<&[u8]> = lines(b"\r\na\r\r\nb\n\nc").collect();
        assert_eq!(v, vec![&b"a"[..], b"b", b"c"]);
    }

    #[test]
    fn old_lines() {
        let t = Timestamp::from_secs(5);
        assert_eq!(split_old_line(b"u"), Some((&b"u"[..], &b""[..], None)));
        assert_eq!(split_old_line(b"u "), Some((&b"u"[..], &b""[..], None)));
        assert_eq!(
            split_old_line(b"u timestamp=5s"),
            Some((&b"u"[..], &b""[..], Some(t)))
        );
        assert_eq!(
            split_old_line(b"u  timestamp=5s"),
            Some((&b"u"[..], &b""[..], Some(t)))
        );
        assert_eq!(
            split_old_line(b"u a  b timestamp=5s"),
            Some((&b"u"[..], &b"a  b"[..], Some(t)))
        );
        assert_eq!(
            split_old_line(b"u a timestamp=x"),
            Some((&b"u"[..], &b"a timestamp=x"[..], None))
        );
        assert_eq!(split_old_line(b" u"), None);
    }

    #[test]
    fn read_int() {
        assert_eq!(hs_read_int(b" ( -  5 ) "), Some(-5));
        assert_eq!(hs_read_int(b"0x10"), Some(16));
        assert_eq!(hs_read_int(b"5x"), Some(5));
        assert_eq!(hs_read_int(b"5e2"), None);
        assert_eq!(hs_read_int(b"(5"), None);
        assert_eq!(hs_read_int(b"--5"), None);
        assert_eq!(hs_read_int(b"+5"), None);
        assert_eq!(hs_read_int(b"18446744073709551617"), Some(1));
    }
}
