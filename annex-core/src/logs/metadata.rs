//! Metadata logs (`HASHDIR/KEY.log.met`, and per-remote `KEY.log.rmet`):
//! single-value lines `CLOCK FIELD +VALUE -VALUE FIELD +VALUE...` where `+`
//! sets a value and `-` records that it was unset. A value containing a
//! space, `\r` or `\n`, or starting with `!`, is written `!` + base64.
//!
//! Reading follows git-annex: the line is split at single spaces; a word
//! that is not a value starts a new field; a field with no values is
//! dropped; a field name that is not UTF-8 ends the line. Field names
//! compare without regard to case (git-annex uses Unicode full case
//! folding; here lower-casing plus the common foldings that differ from it,
//! see [`fold`]), and a value's set/unset mark does not count when values
//! are compared. The current metadata is every line applied oldest first.
//!
//! ```
//! use annex_core::logs::metadata;
//! let log = metadata::parse(b"1s tag +a +b\n2s tag -a\n");
//! let cur = metadata::current(&log);
//! assert_eq!(cur.values_of("TAG"), vec![b"b".to_vec()]);
//! ```

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use super::format::Value;
use super::single_value::{SingleValueLog, SvEntry};
use crate::timestamp::{Timestamp, advance};

/// The values of one field: value bytes to whether currently set.
#[derive(Debug, Clone, Default)]
pub struct Field {
    /// The field name as written (its case kept).
    pub name: String,
    /// Value to set (`true`) or unset (`false`).
    pub values: BTreeMap<Vec<u8>, bool>,
}

/// Metadata: fields (keyed by their case-folded name) and their values.
#[derive(Debug, Clone, Default)]
pub struct MetaData {
    /// Folded field name to field.
    pub fields: BTreeMap<String, Field>,
}

/// Folds a field name for comparison: lower case, plus the full case
/// foldings that differ from lower-casing for common letters (`ß` to `ss`,
/// final sigma, long s, Latin ligatures, Greek symbol variants).
pub fn fold(name: &str) -> String {
    if name.is_ascii() {
        return name.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(name.len());
    for c in name.chars().flat_map(char::to_lowercase) {
        match c {
            'ß' => out.push_str("ss"),
            'ς' => out.push('σ'),
            'ſ' => out.push('s'),
            'ϐ' => out.push('β'),
            'ϑ' => out.push('θ'),
            'ϕ' => out.push('φ'),
            'ϖ' => out.push('π'),
            'ϰ' => out.push('κ'),
            'ϱ' => out.push('ρ'),
            'ϵ' => out.push('ε'),
            'ﬀ' => out.push_str("ff"),
            'ﬁ' => out.push_str("fi"),
            'ﬂ' => out.push_str("fl"),
            'ﬃ' => out.push_str("ffi"),
            'ﬄ' => out.push_str("ffl"),
            'ﬅ' | 'ﬆ' => out.push_str("st"),
            c => out.push(c),
        }
    }
    out
}

impl PartialEq for MetaData {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for MetaData {}
impl PartialOrd for MetaData {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for MetaData {
    fn cmp(&self, other: &Self) -> Ordering {
        let a = self
            .fields
            .iter()
            .map(|(k, f)| (k, f.values.keys().collect::<Vec<_>>()));
        let b = other
            .fields
            .iter()
            .map(|(k, f)| (k, f.values.keys().collect::<Vec<_>>()));
        a.cmp(b)
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_encode(b: &[u8], out: &mut Vec<u8>) {
    for chunk in b.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
}

fn b64_decode(b: &[u8]) -> Option<Vec<u8>> {
    if !b.len().is_multiple_of(4) {
        return None;
    }
    let val = |c: u8| B64.iter().position(|&x| x == c).map(|p| p as u32);
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    let nchunks = b.len() / 4;
    for (ci, chunk) in b.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && ci + 1 != nchunks) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | val(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

fn parse_meta_value(w: &[u8]) -> Option<(bool, Vec<u8>)> {
    let set = match w.first()? {
        b'+' => true,
        b'-' => false,
        _ => return None,
    };
    let rest = &w[1..];
    match rest.strip_prefix(b"!") {
        Some(enc) => Some((set, b64_decode(enc)?)),
        None => Some((set, rest.to_vec())),
    }
}

impl MetaData {
    /// Adds (or replaces) a value of a field.
    pub fn update(&mut self, name: &str, value: Vec<u8>, set: bool) {
        let f = self.fields.entry(fold(name)).or_default();
        f.name = name.to_owned();
        f.values.insert(value, set);
    }

    /// Parses the metadata part of a line.
    pub fn deserialize(b: &[u8]) -> MetaData {
        let mut m = MetaData::default();
        let mut words = b.split(|&c| c == b' ').peekable();
        while let Some(w) = words.next() {
            let Ok(name) = std::str::from_utf8(w) else {
                break;
            };
            while let Some(v) = words.peek().and_then(|w| parse_meta_value(w)) {
                words.next();
                m.update(name, v.1, v.0);
            }
        }
        m
    }

    /// The currently set values of a field (any case), in value order.
    pub fn values_of(&self, name: &str) -> Vec<Vec<u8>> {
        self.fields
            .get(&fold(name))
            .map(|f| {
                f.values
                    .iter()
                    .filter(|(_, s)| **s)
                    .map(|(v, _)| v.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether there is no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// `self` overlaid with `newer` (newer values and names win).
    pub fn union(&self, newer: &MetaData) -> MetaData {
        let mut out = self.clone();
        for (k, f) in &newer.fields {
            let o = out.fields.entry(k.clone()).or_default();
            o.name = f.name.clone();
            for (v, s) in &f.values {
                o.values.insert(v.clone(), *s);
            }
        }
        out
    }

    /// The values of `self` that are not in `other` (by value).
    pub fn difference(&self, other: &MetaData) -> MetaData {
        let mut out = MetaData::default();
        for (k, f) in &self.fields {
            let values: BTreeMap<Vec<u8>, bool> = match other.fields.get(k) {
                None => f.values.clone(),
                Some(o) => f
                    .values
                    .iter()
                    .filter(|(v, _)| !o.values.contains_key(*v))
                    .map(|(v, s)| (v.clone(), *s))
                    .collect(),
            };
            if !values.is_empty() {
                out.fields.insert(
                    k.clone(),
                    Field {
                        name: f.name.clone(),
                        values,
                    },
                );
            }
        }
        out
    }

    /// Only the set values (fields with none are dropped).
    pub fn currently_set(&self) -> MetaData {
        let mut out = MetaData::default();
        for (k, f) in &self.fields {
            let values: BTreeMap<Vec<u8>, bool> = f
                .values
                .iter()
                .filter(|(_, s)| **s)
                .map(|(v, s)| (v.clone(), *s))
                .collect();
            if !values.is_empty() {
                out.fields.insert(
                    k.clone(),
                    Field {
                        name: f.name.clone(),
                        values,
                    },
                );
            }
        }
        out
    }
}

impl Value for MetaData {
    fn parse_value(b: &[u8]) -> Option<Self> {
        Some(MetaData::deserialize(b))
    }
    fn write_value(&self, out: &mut Vec<u8>) {
        let mut first = true;
        for f in self.fields.values() {
            if !first {
                out.push(b' ');
            }
            first = false;
            out.extend_from_slice(f.name.as_bytes());
            for (v, set) in &f.values {
                out.push(b' ');
                out.push(if *set { b'+' } else { b'-' });
                if v.starts_with(b"!") || v.iter().any(|c| matches!(c, b' ' | b'\r' | b'\n')) {
                    out.push(b'!');
                    b64_encode(v, out);
                } else {
                    out.extend_from_slice(v);
                }
            }
        }
    }
}

/// A parsed metadata log.
pub type MetaDataLog = SingleValueLog<MetaData>;

/// Parses a metadata log.
pub fn parse(content: &[u8]) -> MetaDataLog {
    SingleValueLog::parse(content)
}

/// All lines combined, oldest first, with unset values kept.
pub fn combined(log: &MetaDataLog) -> MetaData {
    log.entries()
        .iter()
        .fold(MetaData::default(), |acc, e| acc.union(&e.value))
}

/// The metadata currently set.
pub fn current(log: &MetaDataLog) -> MetaData {
    combined(log).currently_set()
}

/// Formats a clock as git-annex's `lastchanged` values: `%F@%H-%M-%S` in UTC.
pub fn format_lastchanged(t: Timestamp) -> String {
    let secs = t.secs_floor();
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i128::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}@{:02}-{:02}-{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// The current metadata plus the `lastchanged` fields git-annex derives:
/// `FIELD-lastchanged` for each set field (the clock of the newest line
/// mentioning it) and `lastchanged` (the newest line's clock).
pub fn current_with_lastchanged(log: &MetaDataLog) -> MetaData {
    let mut cur = current(log);
    let mut last: BTreeMap<String, Timestamp> = BTreeMap::new();
    for e in log.entries() {
        for k in e.value.fields.keys() {
            last.insert(k.clone(), e.changed);
        }
    }
    let names: Vec<(String, String)> = cur
        .fields
        .iter()
        .map(|(k, f)| (k.clone(), f.name.clone()))
        .collect();
    for (k, name) in names {
        if let Some(t) = last.get(&k) {
            cur.update(
                &format!("{name}-lastchanged"),
                format_lastchanged(*t).into_bytes(),
                true,
            );
        }
    }
    if let Some(e) = log.entries().last() {
        cur.update(
            "lastchanged",
            format_lastchanged(e.changed).into_bytes(),
            true,
        );
    }
    cur
}

/// Simplifies a log as git-annex does after a change: older lines keep
/// only values that no newer line mentions; lines left empty go. The
/// simplified log is used only when it has fewer lines.
pub fn simplify(log: &MetaDataLog) -> MetaDataLog {
    let sl: Vec<&SvEntry<MetaData>> = log.entries().iter().rev().collect();
    let Some((newest, rest)) = sl.split_first() else {
        return log.clone();
    };
    let mut kept: Vec<SvEntry<MetaData>> = vec![(*newest).clone()];
    let mut newer = newest.value.clone();
    for l in rest {
        let unique = l.value.difference(&newer);
        if unique.is_empty() {
            continue;
        }
        newer = unique.union(&newer);
        kept.push(SvEntry {
            changed: l.changed,
            value: unique,
        });
    }
    if kept.len() < sl.len() {
        let mut out = log.clone();
        out.set_entries(kept.into_iter().collect::<BTreeSet<_>>());
        out
    } else {
        log.clone()
    }
}

/// The new content after adding metadata changes (values to set or unset;
/// `lastchanged` fields are ignored), as `git annex metadata` does: the
/// candidate clock is advanced past every clock in the log, then the log is
/// simplified. Returns `None` when there is nothing to add. Changes that
/// name only `lastchanged` fields still add a line with no field, as
/// git-annex's do (they are dropped only when written).
pub fn add(old: &[u8], changes: &MetaData, candidate: Timestamp) -> Option<Vec<u8>> {
    if changes.is_empty() {
        return None;
    }
    let mut changes = changes.clone();
    changes.fields.retain(|k, _| !is_lastchanged(k));
    let mut log = parse(old);
    let changed = advance(candidate, log.entries().iter().map(|e| Some(e.changed)));
    log.insert(SvEntry {
        changed,
        value: changes,
    });
    Some(simplify(&log).serialize())
}

/// Whether a (folded) field name is one git-annex derives and never
/// stores: `lastchanged` or `FIELD-lastchanged`.
pub fn is_lastchanged(folded: &str) -> bool {
    folded == "lastchanged" || folded.ends_with("-lastchanged")
}

/// The field that `--tag` and `--untag` change.
pub const TAG_FIELD: &str = "tag";

/// Whether git-annex accepts a field name: an alphanumeric first
/// character, then alphanumerics or `_`, `-`, `.` (so that the log and
/// views can hold it).
pub fn legal_field(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_alphanumeric() => {}
        _ => return false,
    }
    chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// git-annex's refusal of a field name.
pub fn illegal_field_message(name: &str) -> String {
    format!("Illegal metadata field name, \"{name}\"")
}

/// A change asked of a key's metadata (the options of `git annex
/// metadata`, and the fields of its `--batch --json` input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModMeta {
    /// `FIELD+=VALUE`, `--tag`: add a value.
    Add(String, Vec<u8>),
    /// `FIELD-=VALUE`, `--untag`: unset one value; `--remove FIELD`
    /// (`None`): unset every current value of the field.
    Del(String, Option<Vec<u8>>),
    /// `--remove-all`: unset every current value of every field.
    DelAll,
    /// `FIELD=VALUE` (or a batch field's list): the field's values become
    /// exactly these.
    Set(String, Vec<Vec<u8>>),
    /// `FIELD?=VALUE`: set the value only when the field has none.
    MaybeSet(String, Vec<u8>),
}

/// Parses `FIELD=VALUE`, `FIELD+=VALUE`, `FIELD-=VALUE` or
/// `FIELD?=VALUE` (split at the first `=`; no `=` means an empty value),
/// with git-annex's message for an illegal field name.
pub fn parse_mod_meta(s: &[u8]) -> Result<ModMeta, String> {
    let (f, v) = match s.iter().position(|&c| c == b'=') {
        Some(i) => (&s[..i], s[i + 1..].to_vec()),
        None => (s, Vec::new()),
    };
    let f = String::from_utf8_lossy(f).into_owned();
    let field = |name: &str| -> Result<String, String> {
        if legal_field(name) {
            Ok(name.to_owned())
        } else {
            Err(illegal_field_message(name))
        }
    };
    let short = |f: &str| f[..f.len() - 1].to_owned();
    Ok(match f.chars().last() {
        Some('+') => ModMeta::Add(field(&short(&f))?, v),
        Some('-') => ModMeta::Del(field(&short(&f))?, Some(v)),
        Some('?') => ModMeta::MaybeSet(field(&short(&f))?, v),
        _ => ModMeta::Set(field(&f)?, vec![v]),
    })
}

impl ModMeta {
    /// The values to record for this change, given the current metadata
    /// (only what changes, as git-annex's `modMeta`).
    pub fn apply(&self, current: &MetaData) -> MetaData {
        let mut out = MetaData::default();
        let current_of = |f: &str| current.values_of(f);
        match self {
            ModMeta::Add(f, v) => out.update(f, v.clone(), true),
            ModMeta::Del(f, Some(v)) => out.update(f, v.clone(), false),
            ModMeta::Del(f, None) => {
                out.fields.insert(
                    fold(f),
                    Field {
                        name: f.clone(),
                        values: BTreeMap::new(),
                    },
                );
                for v in current_of(f) {
                    out.update(f, v, false);
                }
            }
            ModMeta::DelAll => {
                for fld in current.currently_set().fields.values() {
                    for v in fld.values.keys() {
                        out.update(&fld.name, v.clone(), false);
                    }
                }
            }
            ModMeta::Set(f, vs) => {
                for v in current_of(f) {
                    out.update(f, v, false);
                }
                for v in vs {
                    out.update(f, v.clone(), true);
                }
            }
            ModMeta::MaybeSet(f, v) => {
                if current_of(f).is_empty() {
                    out.update(f, v.clone(), true);
                }
            }
        }
        out
    }
}

/// The combined change of several modifications, later ones winning where
/// they touch the same value (git-annex's `combineMetaData`).
pub fn combine_changes(current: &MetaData, mods: &[ModMeta]) -> MetaData {
    mods.iter()
        .fold(MetaData::default(), |acc, m| acc.union(&m.apply(current)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mod_meta_parsing() {
        assert_eq!(
            parse_mod_meta(b"tag=a b"),
            Ok(ModMeta::Set("tag".into(), vec![b"a b".to_vec()]))
        );
        assert_eq!(
            parse_mod_meta(b"x+=1=2"),
            Ok(ModMeta::Add("x".into(), b"1=2".to_vec()))
        );
        assert_eq!(
            parse_mod_meta(b"x-=1"),
            Ok(ModMeta::Del("x".into(), Some(b"1".to_vec())))
        );
        assert_eq!(
            parse_mod_meta(b"x?=1"),
            Ok(ModMeta::MaybeSet("x".into(), b"1".to_vec()))
        );
        assert_eq!(
            parse_mod_meta(b"novalue"),
            Ok(ModMeta::Set("novalue".into(), vec![Vec::new()]))
        );
        assert_eq!(
            parse_mod_meta(b"b@d=x"),
            Err("Illegal metadata field name, \"b@d\"".into())
        );
        assert!(parse_mod_meta(b"=x").is_err());
        assert!(parse_mod_meta(b"-x=1").is_err());
        assert!(legal_field("1a_b-c.d"));
        assert!(!legal_field("a/b"));
    }

    #[test]
    fn mod_meta_application() {
        let mut cur = MetaData::default();
        cur.update("tag", b"a".to_vec(), true);
        cur.update("tag", b"b".to_vec(), true);
        cur.update("x", b"1".to_vec(), true);
        let set = ModMeta::Set("TAG".into(), vec![b"a".to_vec()]).apply(&cur);
        let f = &set.fields["tag"];
        assert_eq!(f.values.get(b"a".as_slice()), Some(&true));
        assert_eq!(f.values.get(b"b".as_slice()), Some(&false));
        assert!(
            ModMeta::MaybeSet("x".into(), b"2".to_vec())
                .apply(&cur)
                .is_empty()
        );
        let all = ModMeta::DelAll.apply(&cur);
        assert_eq!(all.fields.len(), 2);
        assert!(all.fields.values().all(|f| f.values.values().all(|s| !s)));
        // A later change wins over an earlier one on the same value.
        let c = combine_changes(
            &cur,
            &[
                ModMeta::Add("y".into(), b"1".to_vec()),
                ModMeta::Del("y".into(), Some(b"1".to_vec())),
            ],
        );
        assert_eq!(c.fields["y"].values.get(b"1".as_slice()), Some(&false));
    }

    #[test]
    fn lastchanged_only_changes_add_an_empty_line() {
        let mut md = MetaData::default();
        md.update("lastchanged", b"x".to_vec(), true);
        let out = add(b"", &md, Timestamp::from_secs(5)).expect("a line");
        assert_eq!(out, b"5s \n");
        assert_eq!(
            add(b"", &MetaData::default(), Timestamp::from_secs(5)),
            None
        );
    }

    #[test]
    fn base64_round_trip() {
        for s in [&b""[..], b"a", b"ab", b"abc", b"a b\n!"] {
            let mut e = Vec::new();
            b64_encode(s, &mut e);
            assert_eq!(b64_decode(&e).as_deref(), Some(s));
        }
        assert_eq!(b64_decode(b"YQ"), None);
    }

    #[test]
    fn folding() {
        assert_eq!(fold("Straße"), fold("STRASSE"));
        assert_eq!(fold("ΣΑΣ"), fold("σας"));
        assert_eq!(fold("Tag"), "tag");
    }

    #[test]
    fn lastchanged_format() {
        assert_eq!(
            format_lastchanged(Timestamp::from_secs(0)),
            "1970-01-01@00-00-00"
        );
        assert_eq!(
            format_lastchanged(Timestamp::from_secs(1_700_000_000)),
            "2023-11-14@22-13-20"
        );
    }
}
