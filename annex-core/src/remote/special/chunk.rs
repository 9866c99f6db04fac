//! Chunking of special remotes as git-annex does it: `chunk=SIZE` stores
//! a key's content as chunk keys (`KEY` with `-SSIZE-CN` fields, N from
//! one) and records how many in the chunk log; the old `chunksize=` is
//! read as the reference reads it (see [`ChunkConfig`]).
//!
//! The chunk log is `KEY.log.cnk` on the `git-annex` branch beside the
//! key's location log: one line per remote and chunk size, `TIMESTAMP
//! UUID:CHUNKSIZE COUNT` (a map log; a count of 0 says the chunks were
//! removed).

use std::path::{Path, PathBuf};

use crate::branch::{Branch, BranchError};
use crate::key::Key;
use crate::logs::format::{Bytes, Layout, MapLog};
use crate::uuid::Uuid;

/// How a remote chunks content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkConfig {
    /// Not chunked.
    None,
    /// `chunk=SIZE`: chunk keys of SIZE bytes (the last shorter).
    Unpadded(u64),
    /// `chunksize=SIZE`: the old layout (`KEY.chunkN` files and
    /// `KEY.chunkcount`, directory remotes only).
    Legacy(u64),
}

impl ChunkConfig {
    /// The chunk configuration of a remote's configuration, as git-annex
    /// reads it (`chunksize=` before `chunk=`, a size of 0 is no chunks).
    pub fn from_config(
        c: &std::collections::BTreeMap<String, String>,
    ) -> Result<ChunkConfig, String> {
        let read = |field: &str, v: &str| match crate::units::read_size(v.as_bytes()) {
            Some(0) => Ok(None),
            Some(n) if n > 0 => Ok(Some(n as u64)),
            _ => Err(format!("bad configuration {field}={v}")),
        };
        if let Some(v) = c.get("chunksize") {
            return Ok(read("chunksize", v)?.map_or(ChunkConfig::None, ChunkConfig::Legacy));
        }
        if let Some(v) = c.get("chunk") {
            return Ok(read("chunk", v)?.map_or(ChunkConfig::None, ChunkConfig::Unpadded));
        }
        Ok(ChunkConfig::None)
    }
}

/// The key of chunk `n` (from 1) of `key` in chunks of `size`.
pub fn chunk_key(key: &Key, size: u64, n: u64) -> Key {
    key.clone().with_chunk(Some(size), Some(n))
}

/// How many chunks of `size` a content of `len` bytes takes (at least one:
/// an empty content is one empty chunk).
pub fn chunk_count(len: u64, size: u64) -> u64 {
    if size == 0 {
        return 1;
    }
    len.div_ceil(size).max(1)
}

/// The chunk keys of `key` in `count` chunks of `size`, made one by one
/// (a count read from a log is not trusted to fit in memory).
pub fn chunk_keys(key: &Key, size: u64, count: u64) -> impl Iterator<Item = Key> + '_ {
    (1..=count).map(move |n| chunk_key(key, size, n))
}

/// Whether a chunking recorded in a log can be the chunking of `key`: a
/// chunk size above 0 and, when the key has a size, no more chunks than
/// that size takes (a larger count, merged from another repository, is
/// ignored).
pub fn plausible(key: &Key, size: u64, count: u64) -> bool {
    size > 0 && key.size().is_none_or(|len| count <= chunk_count(len, size))
}

/// Whether a key is safe to store chunked (git-annex's `isStableKey`): a
/// key of a hashing backend, WORM or the git remote backends. URL and
/// VURL keys (they may name different contents), external backends (whose
/// program is not asked here) and backends git-annex does not know are
/// not: they are stored whole.
pub fn is_stable(key: &Key) -> bool {
    use crate::key::KeyVariety as V;
    match key.variety() {
        V::Sha2 { .. }
        | V::Sha3 { .. }
        | V::Skein { .. }
        | V::Blake2b { .. }
        | V::Blake2bp { .. }
        | V::Blake2s { .. }
        | V::Blake2sp { .. }
        | V::Blake3 { .. }
        | V::Sha1 { .. }
        | V::Md5 { .. }
        | V::Xxh3 { .. }
        | V::Worm
        | V::GitBundle
        | V::GitManifest => true,
        V::Url | V::Vurl | V::External { .. } | V::Other(_) => false,
    }
}

/// The path of a key's chunk log on the branch.
pub fn log_path(key: &Key) -> Vec<u8> {
    crate::logs::key_log_path(key, ".log.cnk")
}

/// The chunkings of `key` recorded for remote `uuid` with a count above
/// 0: (chunk size, count), in the log's order.
pub fn parse_log(content: &[u8], uuid: &Uuid) -> Vec<(u64, u64)> {
    let log: MapLog<Bytes, Bytes> = MapLog::parse(Layout::New, content);
    let prefix = format!("{}:", uuid.as_str());
    log.entries()
        .iter()
        .filter_map(|(f, e)| {
            let f = std::str::from_utf8(&f.0).ok()?;
            let size: u64 = f.strip_prefix(&prefix)?.parse().ok()?;
            let count: u64 = std::str::from_utf8(&e.value.0).ok()?.parse().ok()?;
            (count > 0).then_some((size, count))
        })
        .collect()
}

/// The log `content` with remote `uuid`'s count of chunks of `size` set
/// to `count` at `t`.
pub fn set_in_log(
    content: &[u8],
    uuid: &Uuid,
    size: u64,
    count: u64,
    t: crate::timestamp::Timestamp,
) -> Vec<u8> {
    let mut log: MapLog<Bytes, Bytes> = MapLog::parse(Layout::New, content);
    log.set(
        Bytes(format!("{}:{size}", uuid.as_str()).into_bytes()),
        Bytes(count.to_string().into_bytes()),
        t,
    );
    log.serialize()
}

/// The chunk log of a repository, read and written through its branch's
/// journal (committed with the rest of the journal by the command).
#[derive(Debug)]
pub struct ChunkLog {
    git_dir: PathBuf,
    branch: std::sync::Mutex<Option<Branch>>,
}

impl ChunkLog {
    /// The chunk log of the repository at `git_dir` (the branch opened on
    /// first use).
    pub fn new(git_dir: &Path) -> ChunkLog {
        ChunkLog {
            git_dir: git_dir.to_path_buf(),
            branch: std::sync::Mutex::new(None),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&Branch) -> Result<T, BranchError>) -> Result<T, BranchError> {
        let mut b = self.branch.lock().unwrap_or_else(|p| p.into_inner());
        if b.is_none() {
            *b = Some(Branch::open(&self.git_dir)?);
        }
        match b.as_ref() {
            Some(b) => f(b),
            None => Branch::open(&self.git_dir).and_then(|b| f(&b)),
        }
    }

    /// Remote `uuid`'s recorded chunkings of `key` (size, count).
    pub fn current(&self, uuid: &Uuid, key: &Key) -> Result<Vec<(u64, u64)>, BranchError> {
        self.with(|b| {
            let mut all = parse_log(&b.get(&log_path(key))?, uuid);
            all.retain(|&(size, count)| plausible(key, size, count));
            Ok(all)
        })
    }

    /// Records that remote `uuid` has `count` chunks of `size` of `key`
    /// (0: removed).
    pub fn set(&self, uuid: &Uuid, key: &Key, size: u64, count: u64) -> Result<(), BranchError> {
        let t = crate::timestamp::Clock::from_env().candidate();
        self.with(|b| {
            b.change_regarding(std::slice::from_ref(uuid), &log_path(key), |old| {
                set_in_log(old, uuid, size, count, t)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn chunk_keys_are_the_references() {
        // Seen on a remote the reference chunked with chunk=10.
        let k = Key::parse(
            b"SHA256E-s40--3438c48c2ae4ce124eafcb7aabc89ceb610fb22148651a70889e1db165008982",
        )
        .unwrap();
        let ks: Vec<Key> = chunk_keys(&k, 10, chunk_count(40, 10)).collect();
        assert_eq!(ks.len(), 4);
        assert_eq!(
            ks[2].as_bytes(),
            b"SHA256E-s40-S10-C3--3438c48c2ae4ce124eafcb7aabc89ceb610fb22148651a70889e1db165008982"
        );
        assert_eq!(ks[2].non_chunk().into_owned(), k);
        assert_eq!(chunk_count(0, 10), 1);
        assert_eq!(chunk_count(41, 10), 5);
    }

    #[test]
    fn a_huge_chunk_count_is_neither_allocated_nor_trusted() {
        let k = Key::parse(b"SHA256E-s40--abc").unwrap();
        // Made one by one: taking a few of u64::MAX does not allocate them.
        let first: Vec<Key> = chunk_keys(&k, 10, u64::MAX).take(2).collect();
        assert_eq!(first.len(), 2);
        assert_eq!(first[1].chunk(), (Some(10), Some(2)));
        assert!(plausible(&k, 10, 4));
        assert!(plausible(&k, 10, 1));
        assert!(!plausible(&k, 10, 5));
        assert!(!plausible(&k, 10, u64::MAX));
        assert!(!plausible(&k, 0, 1));
        let nosize = Key::parse(b"WORM-m1--abc").unwrap();
        assert!(plausible(&nosize, 10, u64::MAX));
    }

    #[test]
    fn vurl_and_unknown_backends_are_not_stable() {
        let k = |s: &str| Key::parse(s.as_bytes()).unwrap();
        assert!(is_stable(&k("SHA256E-s40--abc.txt")));
        assert!(is_stable(&k("SHA3_256-s40--abc")));
        assert!(is_stable(&k("WORM-s40-m1--abc")));
        assert!(!is_stable(&k("URL--http://x/y")));
        assert!(!is_stable(&k("VURL-s40--http://x/y")));
        assert!(!is_stable(&k("XFOO-s40--abc")));
        assert!(!is_stable(&k("SKEIN128-s40--abc")));
        assert!(!is_stable(&k("NOSUCH-s40--abc")));
    }

    #[test]
    fn the_chunk_log_is_written_as_the_reference() {
        let u = Uuid::parse(b"86ecc691-1b17-4e62-a14e-ed20ddd262a3").unwrap();
        let t = crate::timestamp::Timestamp::parse(b"1796664103s").unwrap();
        let log = set_in_log(b"", &u, 10, 4, t);
        assert_eq!(
            log,
            b"1796664103s 86ecc691-1b17-4e62-a14e-ed20ddd262a3:10 4\n"
        );
        assert_eq!(parse_log(&log, &u), vec![(10, 4)]);
        let other = Uuid::parse(b"3ac29831-cfaa-4b67-b7b8-6d476b3cfe13").unwrap();
        assert!(parse_log(&log, &other).is_empty());
        let t2 = crate::timestamp::Timestamp::parse(b"1796664104s").unwrap();
        let removed = set_in_log(&log, &u, 10, 0, t2);
        assert!(parse_log(&removed, &u).is_empty());
    }

    #[test]
    fn chunk_configuration_is_read_as_the_reference() {
        let c = |k: &str, v: &str| {
            let mut m = std::collections::BTreeMap::new();
            m.insert(k.to_string(), v.to_string());
            ChunkConfig::from_config(&m)
        };
        assert_eq!(c("chunk", "1MiB"), Ok(ChunkConfig::Unpadded(1 << 20)));
        assert_eq!(c("chunk", "10"), Ok(ChunkConfig::Unpadded(10)));
        assert_eq!(c("chunk", "0"), Ok(ChunkConfig::None));
        assert_eq!(c("chunksize", "1kB"), Ok(ChunkConfig::Legacy(1000)));
        assert_eq!(
            c("chunk", "x"),
            Err("bad configuration chunk=x".to_string())
        );
    }

    proptest! {
        #[test]
        fn chunk_keys_round_trip(size in 1u64..1_000_000, len in 0u64..10_000_000, n in 1u64..1000) {
            let k = Key::parse(format!("SHA256E-s{len}--abc.txt").as_bytes()).unwrap();
            let ck = chunk_key(&k, size, n);
            let parsed = Key::parse(ck.as_bytes()).unwrap();
            prop_assert_eq!(parsed.chunk(), (Some(size), Some(n)));
            prop_assert_eq!(parsed.non_chunk().into_owned(), k);
            let count = chunk_count(len, size);
            prop_assert!(count * size >= len && (count - 1) * size < len.max(1));
        }
    }
}
