//! The logs of the `git-annex` branch, each in its own module, typed.
//!
//! Every module parses a log's bytes into typed records, serializes them
//! the way git-annex writes them, and offers setters that take the old
//! content, a change and a candidate clock (see [`crate::timestamp`]) and
//! return the new content: the API is pure bytes in, bytes out. A line that
//! does not parse is skipped by readers but kept, and written back, when a
//! log is rewritten.
//!
//! Which log a branch path holds is [`LogKind::of_path`]; [`union_merge`]
//! merges several versions of one branch file. Other branch files
//! (`export.log`, `activity.log`, chunk, remote state and content
//! identifier logs, ...) are not typed here and merge as plain line unions.
//!
//! | path | module | layout |
//! | --- | --- | --- |
//! | `uuid.log` | [`uuid`] | old UUID-based |
//! | `remote.log` | [`remote`] | old UUID-based |
//! | `trust.log` | [`trust`] | old UUID-based |
//! | `group.log` | [`group`] | old UUID-based |
//! | `preferred-content.log`, `required-content.log` | [`preferred_content`] | old UUID-based |
//! | `group-preferred-content.log` | [`preferred_content`] | new map log |
//! | `numcopies.log`, `mincopies.log` | [`numcopies`] | single value |
//! | `config.log` | [`config`] | new map log |
//! | `maxsize.log` | [`maxsize`] | new UUID-based |
//! | `proxy.log` | [`proxy`] | new UUID-based |
//! | `cluster.log` | [`cluster`] | new UUID-based |
//! | `aaa/bbb/KEY.log` | [`location`] | presence |
//! | `aaa/bbb/KEY.log.web` | [`web`] | presence |
//! | `aaa/bbb/KEY.log.met`, `KEY.log.rmet` | [`metadata`] | single value |
//!
//! ```
//! use annex_core::logs::{LogKind, union_merge};
//! assert_eq!(LogKind::of_path(b"trust.log"), Some(LogKind::Trust));
//! let merged = union_merge(b"trust.log", &[b"u1 1 timestamp=1s\n", b"u1 0 timestamp=2s\n"]);
//! assert_eq!(merged, b"u1 0 timestamp=2s\n");
//! ```

use std::collections::BTreeSet;

use crate::key::Key;

pub mod cluster;
pub mod config;
pub mod format;
pub mod group;
pub mod location;
pub mod maxsize;
pub mod metadata;
pub mod numcopies;
pub mod preferred_content;
pub mod presence;
pub mod proxy;
pub mod remote;
pub mod single_value;
pub mod transition;
pub mod trust;
pub mod uuid;
pub mod web;

/// Which log a path of the `git-annex` branch holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogKind {
    /// `uuid.log`.
    Uuid,
    /// `remote.log`.
    Remote,
    /// `trust.log`.
    Trust,
    /// `group.log`.
    Group,
    /// `preferred-content.log`.
    PreferredContent,
    /// `required-content.log`.
    RequiredContent,
    /// `group-preferred-content.log`.
    GroupPreferredContent,
    /// `numcopies.log`.
    NumCopies,
    /// `mincopies.log`.
    MinCopies,
    /// `config.log`.
    Config,
    /// `maxsize.log`.
    MaxSize,
    /// `proxy.log`.
    Proxy,
    /// `cluster.log`.
    Cluster,
    /// A key's location log, `aaa/bbb/KEY.log`.
    Location(Key),
    /// A key's URL log, `KEY.log.web`.
    Url(Key),
    /// A key's metadata log, `KEY.log.met` (the key, when the file name is
    /// a valid one).
    MetaData(Option<Key>),
    /// A key's per-remote metadata log, `KEY.log.rmet`.
    RemoteMetaData(Option<Key>),
}

fn ext_key(path: &[u8], ext: &[u8]) -> Option<Key> {
    let file = match memchr::memrchr(b'/', path) {
        Some(i) => &path[i + 1..],
        None => path,
    };
    let base = file.strip_suffix(ext)?;
    crate::objects::file_key(base)
}

impl LogKind {
    /// The log a branch path holds, or `None` for other files. Location
    /// logs are recognized, as git-annex does, only at depth three
    /// (`aaa/bbb/KEY.log`); the other per-key logs by their extension.
    pub fn of_path(path: &[u8]) -> Option<LogKind> {
        Some(match path {
            b"uuid.log" => LogKind::Uuid,
            b"remote.log" => LogKind::Remote,
            b"trust.log" => LogKind::Trust,
            b"group.log" => LogKind::Group,
            b"preferred-content.log" => LogKind::PreferredContent,
            b"required-content.log" => LogKind::RequiredContent,
            b"group-preferred-content.log" => LogKind::GroupPreferredContent,
            b"numcopies.log" => LogKind::NumCopies,
            b"mincopies.log" => LogKind::MinCopies,
            b"config.log" => LogKind::Config,
            b"maxsize.log" => LogKind::MaxSize,
            b"proxy.log" => LogKind::Proxy,
            b"cluster.log" => LogKind::Cluster,
            _ if path.ends_with(b".log.met") => LogKind::MetaData(ext_key(path, b".log.met")),
            _ if path.ends_with(b".log.rmet") => {
                LogKind::RemoteMetaData(ext_key(path, b".log.rmet"))
            }
            _ if path.ends_with(b".log.web") => LogKind::Url(ext_key(path, b".log.web")?),
            _ if path.ends_with(b".log")
                && path.split(|&c| c == b'/').count() == 3
                && !path.split(|&c| c == b'/').any(<[u8]>::is_empty) =>
            {
                LogKind::Location(ext_key(path, b".log")?)
            }
            _ => return None,
        })
    }

    /// Rewrites a log's content compacted by this log's rules: only the
    /// records that still count, in the order git-annex writes them, then
    /// any lines that did not parse.
    pub fn compact(&self, content: &[u8]) -> Vec<u8> {
        match self {
            LogKind::Uuid => uuid::parse(content).serialize(),
            LogKind::Remote => remote::parse(content).serialize(),
            LogKind::Trust => trust::parse(content).serialize(),
            LogKind::Group => group::parse(content).serialize(),
            LogKind::PreferredContent | LogKind::RequiredContent => {
                preferred_content::parse(content).serialize()
            }
            LogKind::GroupPreferredContent => preferred_content::parse_group(content).serialize(),
            LogKind::NumCopies | LogKind::MinCopies => {
                numcopies::parse(content).compacted().serialize()
            }
            LogKind::Config => config::parse(content).serialize(),
            LogKind::MaxSize => maxsize::parse(content).serialize(),
            LogKind::Proxy => proxy::parse(content).serialize(),
            LogKind::Cluster => cluster::parse(content).serialize(),
            LogKind::Location(_) | LogKind::Url(_) => presence::PresenceLog::parse(content)
                .compacted()
                .serialize(),
            LogKind::MetaData(_) | LogKind::RemoteMetaData(_) => {
                metadata::simplify(&metadata::parse(content)).serialize()
            }
        }
    }
}

/// The lines of a file as git's union merge sees them: split at `\n`, a
/// final `\n` ending the last line (an empty line is a line).
fn git_lines(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = v.strip_suffix(b"\n").unwrap_or(v);
    let empty = v.is_empty();
    body.split(|&c| c == b'\n').filter(move |_| !empty)
}

/// Union-merges versions of a file as git-annex's union merge does for a
/// file it knows nothing about: the distinct lines of all versions, sorted
/// bytewise; when one version already has exactly those lines (in any
/// order), that version is kept as it is.
pub fn plain_union(versions: &[&[u8]]) -> Vec<u8> {
    let all: BTreeSet<&[u8]> = versions.iter().flat_map(|v| git_lines(v)).collect();
    for v in versions {
        let own: BTreeSet<&[u8]> = git_lines(v).collect();
        if own == all {
            return v.to_vec();
        }
    }
    let mut out = Vec::with_capacity(all.iter().map(|l| l.len() + 1).sum());
    for l in all {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}

/// Union-merges several versions of one file of the `git-annex` branch
/// (named by its path in the branch) into one.
///
/// git-annex itself only takes the union of the lines (sorted, without
/// repeats) when it merges; it compacts a log the next time it changes it.
/// Compacting at merge time gives what readers of either would read, and
/// the bytes git-annex would write on its next change to the file.
///
/// When the versions are all the same (or there is only one), it is
/// returned unchanged, as git-annex does. Otherwise, for a known log
/// ([`LogKind::of_path`]) the union of the lines is compacted by that log's
/// rules ([`LogKind::compact`]). Lines are read in sorted order (of each
/// line as the log writes it), which decides ties between records with
/// equal clocks, as when git-annex reads a union-merged file. For any other
/// path the result is [`plain_union`].
///
/// [`Branch::merge`](crate::branch::Branch::merge) does not call this: it
/// merges every file with [`plain_union`], as git-annex does, so that a
/// branch merged by us and one merged by git-annex are the same commit
/// trees. This is for a reader that wants one compacted view of several
/// versions (the result reads the same either way).
pub fn union_merge(path: &[u8], versions: &[&[u8]]) -> Vec<u8> {
    let Some(first) = versions.first() else {
        return Vec::new();
    };
    if versions.iter().all(|v| v == first) {
        return first.to_vec();
    }
    match LogKind::of_path(path) {
        None => plain_union(versions),
        Some(kind) => {
            let all: BTreeSet<&[u8]> = versions.iter().flat_map(|v| format::lines(v)).collect();
            // Each line is first rewritten as the log would write it, so
            // that the order that breaks ties does not change when a merged
            // result is merged again.
            let mut normalized: BTreeSet<Vec<u8>> = BTreeSet::new();
            for l in all {
                let n = kind.compact(l);
                normalized.extend(format::lines(&n).map(<[u8]>::to_vec));
            }
            let mut joined = Vec::with_capacity(normalized.iter().map(|l| l.len() + 1).sum());
            for l in normalized {
                joined.extend_from_slice(&l);
                joined.push(b'\n');
            }
            kind.compact(&joined)
        }
    }
}

/// The branch path of one of a key's logs: `aaa/bbb/KEYFILE` followed by
/// `suffix` (`.log` location log, `.log.web` URLs, `.log.met` metadata).
pub fn key_log_path(key: &Key, suffix: &str) -> Vec<u8> {
    let key = key.non_chunk();
    let mut p = crate::objects::hash_dir_lower(&key).into_bytes();
    p.extend_from_slice(&crate::objects::key_file(&key));
    p.extend_from_slice(suffix.as_bytes());
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every log path of the branch, one per log type.
    const PATHS: &[&[u8]] = &[
        b"uuid.log",
        b"remote.log",
        b"trust.log",
        b"group.log",
        b"preferred-content.log",
        b"required-content.log",
        b"group-preferred-content.log",
        b"numcopies.log",
        b"mincopies.log",
        b"config.log",
        b"maxsize.log",
        b"proxy.log",
        b"cluster.log",
        b"aaa/bbb/SHA256E-s1--x.log",
        b"aaa/bbb/SHA256E-s1--x.log.web",
        b"aaa/bbb/SHA256E-s1--x.log.met",
        b"aaa/bbb/SHA256E-s1--x.log.rmet",
    ];

    /// `n` distinct junk lines (and one repeated).
    fn junk(n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..n {
            out.extend_from_slice(format!("junk{i}\n").as_bytes());
            if i % 1000 == 0 {
                out.extend_from_slice(b"junk0\n");
            }
        }
        out
    }

    /// Regression (issue 21): 80,000 junk lines in `trust.log` took 55 s
    /// (each kept line was compared with every line kept before it). Every
    /// log type now keeps 100,000 distinct junk lines, once each and in
    /// order, when compacted and when union-merged; a quadratic pass would
    /// make 5e9 comparisons per log here and time the test out.
    #[test]
    fn trust_log_with_80000_junk_lines_is_linear() {
        let n = 100_000;
        let content = junk(n);
        for path in PATHS {
            let kind = LogKind::of_path(path).unwrap_or_else(|| panic!("{path:?}"));
            let compacted = kind.compact(&content);
            let kept: Vec<&[u8]> = format::lines(&compacted)
                .filter(|l| l.starts_with(b"junk"))
                .collect();
            // Lines a log parses as records (`junk7` is a UUID with an
            // empty value in the old layout) are kept as records.
            assert_eq!(kept.len(), n, "{}", String::from_utf8_lossy(path));
            let other = b"junk-other\n".to_vec();
            let merged = union_merge(path, &[&content, &other]);
            let kept = format::lines(&merged)
                .filter(|l| l.starts_with(b"junk"))
                .count();
            assert_eq!(kept, n + 1, "{}", String::from_utf8_lossy(path));
        }
    }
}
