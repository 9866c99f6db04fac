//! `remote.log`: the configuration of each special remote, old layout
//! (`UUID KEY=VALUE KEY=VALUE... timestamp=CLOCK`).
//!
//! Values are escaped: white space (as Haskell's `isSpace` sees it) and `&`
//! are written `&N;` with N the decimal code point; on read, `&N;` becomes
//! that character again and any other `&` stays as it is. Keys are not
//! escaped; a word without `=` is a key with an empty value. Words are split
//! at any white space. Pairs are written sorted by key. Bytes that are not
//! UTF-8 pass through unchanged.
//!
//! ```
//! use annex_core::logs::remote::{self, RemoteConfig};
//! let c = RemoteConfig::parse_words(b"name=foo directory=/a&32;b");
//! assert_eq!(c.0.get(&b"directory"[..]).unwrap(), &b"/a b".to_vec());
//! let mut out = Vec::new();
//! use annex_core::logs::format::Value;
//! c.write_value(&mut out);
//! assert_eq!(out, b"directory=/a&32;b name=foo");
//! ```

use std::collections::BTreeMap;

use super::format::{Layout, MapLog, Value, hs_is_space};
use crate::timestamp::Timestamp;
use crate::uuid::Uuid;

/// A special remote's configuration: key to value, both bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RemoteConfig(pub BTreeMap<Vec<u8>, Vec<u8>>);

/// Decodes the UTF-8 character at the start of `b`; `None` for a byte that
/// does not start a valid character. Returns the character and its length.
fn decode_char(b: &[u8]) -> Option<(char, usize)> {
    let len = match b.first()? {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    let s = std::str::from_utf8(b.get(..len)?).ok()?;
    s.chars().next().map(|c| (c, len))
}

/// Splits at white space, as Haskell's `words` does on the decoded text.
fn words(b: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = None;
    let mut i = 0;
    while i < b.len() {
        let (space, len) = match decode_char(&b[i..]) {
            Some((c, l)) => (hs_is_space(c), l),
            None => (false, 1),
        };
        if space {
            if let Some(s) = start.take() {
                out.push(&b[s..i]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
        i += len;
    }
    if let Some(s) = start {
        out.push(&b[s..]);
    }
    out
}

/// Undoes the value escaping.
pub fn unescape(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'&' {
            let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits > 0 && b.get(i + 1 + digits) == Some(&b';') {
                let num = std::str::from_utf8(&b[i + 1..i + 1 + digits])
                    .ok()
                    .and_then(|s| s.parse::<u32>().ok());
                match num {
                    Some(n @ 0xdc80..=0xdcff) => {
                        // A surrogate-escaped raw byte.
                        out.push((n - 0xdc00) as u8);
                        i += digits + 2;
                        continue;
                    }
                    Some(n) => {
                        if let Some(c) = char::from_u32(n) {
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                            i += digits + 2;
                            continue;
                        }
                    }
                    None => {}
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// Escapes a value for `remote.log`.
pub fn escape(b: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < b.len() {
        match decode_char(&b[i..]) {
            Some((c, len)) => {
                if c == '&' || hs_is_space(c) {
                    out.extend_from_slice(format!("&{};", u32::from(c)).as_bytes());
                } else {
                    out.extend_from_slice(&b[i..i + len]);
                }
                i += len;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
}

impl RemoteConfig {
    /// Parses the space-separated `KEY=VALUE` words.
    pub fn parse_words(b: &[u8]) -> RemoteConfig {
        let mut m = BTreeMap::new();
        for w in words(b) {
            let eq = memchr::memchr(b'=', w);
            let (k, v) = match eq {
                Some(e) => (&w[..e], unescape(&w[e + 1..])),
                None => (w, Vec::new()),
            };
            m.insert(k.to_vec(), v);
        }
        RemoteConfig(m)
    }
}

impl Value for RemoteConfig {
    fn parse_value(b: &[u8]) -> Option<Self> {
        Some(RemoteConfig::parse_words(b))
    }
    fn write_value(&self, out: &mut Vec<u8>) {
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            out.extend_from_slice(k);
            out.push(b'=');
            escape(v, out);
        }
    }
}

/// The parsed `remote.log`.
pub type RemoteLog = MapLog<Uuid, RemoteConfig>;

/// Parses `remote.log`.
pub fn parse(content: &[u8]) -> RemoteLog {
    MapLog::parse(Layout::Old, content)
}

/// The configuration of each special remote.
pub fn current(log: &RemoteLog) -> BTreeMap<Uuid, BTreeMap<Vec<u8>, Vec<u8>>> {
    log.entries()
        .iter()
        .map(|(u, e)| (u.clone(), e.value.0.clone()))
        .collect()
}

/// The new content after setting a remote's configuration.
pub fn set(
    old: &[u8],
    uuid: &Uuid,
    config: BTreeMap<Vec<u8>, Vec<u8>>,
    candidate: Timestamp,
) -> Vec<u8> {
    let mut log = parse(old);
    log.set(uuid.clone(), RemoteConfig(config), candidate);
    log.serialize()
}

impl RemoteLog {
    /// The configuration of each special remote.
    pub fn current(&self) -> BTreeMap<Uuid, BTreeMap<Vec<u8>, Vec<u8>>> {
        current(self)
    }
}
