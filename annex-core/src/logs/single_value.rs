//! Single-value logs: `CLOCK VALUE` lines; the value of the newest line is
//! the current one (on equal clocks, the greatest value). Used by
//! `numcopies.log`, `mincopies.log` and, with a richer value, metadata logs.
//!
//! Setting a value rewrites the log to that single line, with the candidate
//! clock advanced past every clock in the log; compacting keeps only the
//! current line.
//!
//! ```
//! use annex_core::logs::single_value::SingleValueLog;
//! use annex_core::logs::numcopies::Copies;
//! let log: SingleValueLog<Copies> = SingleValueLog::parse(b"1s 3\n2s 2\n");
//! assert_eq!(log.newest().map(|c| c.0), Some(2));
//! ```

use std::collections::BTreeSet;

use super::format::{Unparsed, Value, lines};
use crate::timestamp::{Timestamp, advance};

/// One line of a single-value log.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SvEntry<V> {
    /// When it was set.
    pub changed: Timestamp,
    /// The value.
    pub value: V,
}

/// A single-value log: its lines as a set (ordered by clock, then value),
/// plus unparsed lines.
#[derive(Debug, Clone, PartialEq)]
pub struct SingleValueLog<V: Ord> {
    entries: BTreeSet<SvEntry<V>>,
    unparsed: Unparsed,
}

impl<V: Ord> Default for SingleValueLog<V> {
    fn default() -> Self {
        SingleValueLog {
            entries: BTreeSet::new(),
            unparsed: Unparsed::default(),
        }
    }
}

/// Parses one `CLOCK VALUE` line.
pub fn parse_sv_line<V: Value>(line: &[u8]) -> Option<SvEntry<V>> {
    let (changed, n) = Timestamp::parse_prefix(line)?;
    let rest = line[n..].strip_prefix(b" ")?;
    Some(SvEntry {
        changed,
        value: V::parse_value(rest)?,
    })
}

impl<V: Ord + Value> SingleValueLog<V> {
    /// Parses a log.
    pub fn parse(content: &[u8]) -> Self {
        let mut log = Self::default();
        for line in lines(content) {
            match parse_sv_line(line) {
                Some(e) => {
                    // As in a set built from a list, a later equal element
                    // replaces an earlier one.
                    log.entries.replace(e);
                }
                None => log.unparsed.push(line),
            }
        }
        log
    }

    /// A log of the given entries.
    pub fn from_entries(entries: impl IntoIterator<Item = SvEntry<V>>) -> Self {
        SingleValueLog {
            entries: entries.into_iter().collect(),
            unparsed: Unparsed::default(),
        }
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &BTreeSet<SvEntry<V>> {
        &self.entries
    }

    /// Lines that did not parse.
    pub fn unparsed(&self) -> &Unparsed {
        &self.unparsed
    }

    /// The current value.
    pub fn newest(&self) -> Option<&V> {
        self.entries.last().map(|e| &e.value)
    }

    /// The current entry.
    pub fn newest_entry(&self) -> Option<&SvEntry<V>> {
        self.entries.last()
    }

    /// Merges another log into this one.
    pub fn merge(&mut self, other: &Self) {
        for e in &other.entries {
            self.entries.replace(e.clone());
        }
        self.unparsed.extend(&other.unparsed);
    }

    /// The log with only its current entry (and unparsed lines).
    pub fn compacted(&self) -> Self {
        SingleValueLog {
            entries: self.entries.last().cloned().into_iter().collect(),
            unparsed: self.unparsed.clone(),
        }
    }

    /// Sets the value as git-annex does: the log becomes one line, with the
    /// candidate clock advanced past every clock in the old log. Unparsed
    /// lines are kept.
    pub fn set(&mut self, value: V, candidate: Timestamp) -> Timestamp {
        let changed = advance(candidate, self.entries.iter().map(|e| Some(e.changed)));
        self.entries.clear();
        self.entries.insert(SvEntry { changed, value });
        changed
    }

    /// Inserts an entry (the log keeps its other entries).
    pub fn insert(&mut self, entry: SvEntry<V>) {
        self.entries.replace(entry);
    }

    /// Replaces all entries.
    pub fn set_entries(&mut self, entries: BTreeSet<SvEntry<V>>) {
        self.entries = entries;
    }

    /// The log as written: entries oldest first, then unparsed lines.
    pub fn serialize(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for e in &self.entries {
            e.changed.write_to(&mut out);
            out.push(b' ');
            e.value.write_value(&mut out);
            out.push(b'\n');
        }
        self.unparsed.write_to(&mut out);
        out
    }
}
