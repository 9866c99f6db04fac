//! Presence logs: `CLOCK STATUS INFO` lines, where STATUS is `1` (present),
//! `0` (missing) or `X` (dead) and INFO is the rest of the line (a UUID in
//! location logs, a URL in URL logs).
//!
//! The current status of an INFO is the one on its line with the newest
//! clock; on equal clocks, the line read *first* wins (git-annex folds the
//! lines from the right). Compacting keeps only that line per INFO, in INFO
//! order.
//!
//! ```
//! use annex_core::logs::presence::{PresenceLog, Status};
//! let log = PresenceLog::parse(b"1s 1 a\n2s 0 a\n1s 1 b\n");
//! let c = log.compacted();
//! assert_eq!(c.serialize(), b"2s 0 a\n1s 1 b\n");
//! assert_eq!(log.present(), vec![&b"b"[..]]);
//! ```

use std::collections::BTreeMap;

use super::format::{Unparsed, lines};
use crate::timestamp::{Timestamp, advance};

/// The status of an INFO in a presence log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// `1`: present.
    Present,
    /// `0`: missing (no longer present).
    Missing,
    /// `X`: dead (will not come back).
    Dead,
}

impl Status {
    /// The status character.
    pub fn as_byte(self) -> u8 {
        match self {
            Status::Present => b'1',
            Status::Missing => b'0',
            Status::Dead => b'X',
        }
    }
    /// The status for a character.
    pub fn from_byte(b: u8) -> Option<Status> {
        match b {
            b'1' => Some(Status::Present),
            b'0' => Some(Status::Missing),
            b'X' => Some(Status::Dead),
            _ => None,
        }
    }
}

/// One line of a presence log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceLine {
    /// When the status was logged.
    pub date: Timestamp,
    /// The status.
    pub status: Status,
    /// What the line is about (a UUID, a URL); any bytes but line ends.
    pub info: Vec<u8>,
}

impl PresenceLine {
    /// Parses one line.
    pub fn parse(line: &[u8]) -> Option<PresenceLine> {
        let (date, n) = Timestamp::parse_prefix(line)?;
        match line.get(n..n + 3)? {
            [b' ', s, b' '] => Some(PresenceLine {
                date,
                status: Status::from_byte(*s)?,
                info: line[n + 3..].to_vec(),
            }),
            _ => None,
        }
    }

    /// Appends the line, with its `\n`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        self.date.write_to(out);
        out.push(b' ');
        out.push(self.status.as_byte());
        out.push(b' ');
        out.extend_from_slice(&self.info);
        out.push(b'\n');
    }
}

/// A presence log: its lines in file order, plus lines that did not parse.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PresenceLog {
    lines: Vec<PresenceLine>,
    unparsed: Unparsed,
}

impl PresenceLog {
    /// Parses a presence log.
    pub fn parse(content: &[u8]) -> PresenceLog {
        let mut log = PresenceLog {
            lines: Vec::with_capacity(content.len() / 60 + 1),
            unparsed: Unparsed::default(),
        };
        for line in lines(content) {
            match PresenceLine::parse(line) {
                Some(l) => log.lines.push(l),
                None => log.unparsed.push(line),
            }
        }
        log
    }

    /// A log of the given lines.
    pub fn from_lines(lines: Vec<PresenceLine>) -> PresenceLog {
        PresenceLog {
            lines,
            unparsed: Unparsed::default(),
        }
    }

    /// The parsed lines, in file order.
    pub fn lines(&self) -> &[PresenceLine] {
        &self.lines
    }

    /// Lines that did not parse.
    pub fn unparsed(&self) -> &Unparsed {
        &self.unparsed
    }

    /// The current line for each INFO.
    pub fn current(&self) -> BTreeMap<&[u8], &PresenceLine> {
        // Per INFO, the newest line wins; on equal clocks the first one.
        let mut v: Vec<(usize, &PresenceLine)> = self.lines.iter().enumerate().collect();
        v.sort_unstable_by(|(ia, a), (ib, b)| {
            a.info
                .cmp(&b.info)
                .then_with(|| b.date.cmp(&a.date))
                .then_with(|| ia.cmp(ib))
        });
        v.dedup_by(|later, first| later.1.info == first.1.info);
        v.into_iter().map(|(_, l)| (l.info.as_slice(), l)).collect()
    }

    /// The log with only the current line of each INFO (in INFO order),
    /// and the unparsed lines.
    pub fn compacted(&self) -> PresenceLog {
        PresenceLog {
            lines: self.current().into_values().cloned().collect(),
            unparsed: self.unparsed.clone(),
        }
    }

    /// The INFOs currently present, in INFO order.
    pub fn present(&self) -> Vec<&[u8]> {
        self.with_status(|s| s == Status::Present)
    }

    /// The INFOs whose current status matches.
    pub fn with_status(&self, f: impl Fn(Status) -> bool) -> Vec<&[u8]> {
        self.current()
            .into_iter()
            .filter(|(_, l)| f(l.status))
            .map(|(i, _)| i)
            .collect()
    }

    /// Merges another log's lines into this one.
    pub fn merge(&mut self, other: &PresenceLog) {
        self.lines.extend(other.lines.iter().cloned());
        self.unparsed.extend(&other.unparsed);
    }

    /// The log as written: its lines in order, then unparsed lines.
    pub fn serialize(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.lines.len() * 64);
        for l in &self.lines {
            l.write_to(&mut out);
        }
        self.unparsed.write_to(&mut out);
        out
    }

    fn gen_line(&self, status: Status, info: &[u8], candidate: Timestamp) -> PresenceLine {
        let prev = self
            .lines
            .iter()
            .filter(|l| l.info == info)
            .map(|l| Some(l.date));
        PresenceLine {
            date: advance(candidate, prev),
            status,
            info: info.to_vec(),
        }
    }

    /// Logs a status as git-annex's `addLog` does (URL logs): a new INFO is
    /// appended; otherwise the log is rewritten compacted with the new line.
    /// Returns the new content.
    pub fn add(content: &[u8], status: Status, info: &[u8], candidate: Timestamp) -> Vec<u8> {
        let old = PresenceLog::parse(content);
        let line = old.gen_line(status, info, candidate);
        if old.lines.iter().all(|l| l.info != info) {
            let mut out = content.to_vec();
            if !out.is_empty() && !out.ends_with(b"\n") {
                out.push(b'\n');
            }
            line.write_to(&mut out);
            out
        } else {
            let mut all = Vec::with_capacity(old.lines.len() + 1);
            all.push(line);
            all.extend(old.lines.iter().cloned());
            PresenceLog {
                lines: all,
                unparsed: old.unparsed,
            }
            .compacted()
            .serialize()
        }
    }

    /// Logs a status as git-annex's `maybeAddLog` does (location logs):
    /// nothing changes (`None`) when the INFO already has that status;
    /// otherwise the compacted log with the new line.
    pub fn maybe_add(
        content: &[u8],
        status: Status,
        info: &[u8],
        candidate: Timestamp,
    ) -> Option<Vec<u8>> {
        let old = PresenceLog::parse(content);
        let line = old.gen_line(status, info, candidate);
        let cur = old.current();
        if cur.get(info).is_some_and(|l| l.status == status) {
            return None;
        }
        let mut lines: Vec<PresenceLine> = cur
            .into_values()
            .filter(|l| l.info != info)
            .cloned()
            .collect();
        lines.push(line);
        lines.sort_by(|a, b| a.info.cmp(&b.info));
        Some(
            PresenceLog {
                lines,
                unparsed: old.unparsed,
            }
            .serialize(),
        )
    }
}
