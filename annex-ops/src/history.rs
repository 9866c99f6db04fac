//! The history of location logs, as `git annex log` shows it: the commits
//! of the `git-annex` branch that changed a key's location log (or any
//! location log, for `--all`), each turned into the repositories that
//! gained and lost the content at that commit's time.
//!
//! The commits are listed by `git log --raw` (with git's own date and count
//! limits passed through, and `--remove-empty` for one key, as git-annex
//! does); the logged values are read in-process.
//!
//! ```no_run
//! use annex_ops::session::{OpenOptions, Session};
//! let (session, _) = Session::open(&OpenOptions::new(".".as_ref()))?;
//! let key = annex_core::key::Key::parse(b"SHA256E-s0--e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")?;
//! for c in annex_ops::history::key_history(&session, &key, &[])? {
//!     println!("{} {} {:?}", if c.added { "+" } else { "-" }, c.time, c.uuids);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeSet;

use annex_core::key::Key;
use annex_core::logs::location::LocationLog;
use annex_core::uuid::Uuid;
use gix::ObjectId;

use crate::session::Session;

/// What can go wrong reading the history.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// `git log` could not be run or failed.
    #[error("git log of the git-annex branch failed: {0}")]
    GitLog(String),
    /// A logged value could not be read.
    #[error("cannot read {id} from the git-annex branch: {detail}")]
    Read {
        /// The blob.
        id: String,
        /// The cause.
        detail: String,
    },
}

/// One change shown: the repositories that gained (`added`) or lost the
/// key's content at a commit's time. Each commit that changed the set
/// gives an addition and a removal, either possibly with no repository
/// (git-annex's JSON output shows those too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The commit time, seconds since the epoch.
    pub time: i64,
    /// The key.
    pub key: Key,
    /// Whether the repositories gained the content (else lost it).
    pub added: bool,
    /// The repositories, in UUID order.
    pub uuids: Vec<Uuid>,
}

/// A location log blob changed by a commit.
#[derive(Debug, Clone)]
struct RefChange {
    time: i64,
    old: ObjectId,
    new: ObjectId,
    key: Key,
}

/// The changes to one key's location log, newest first. `passthru` are
/// `git log` options (`--since DATE`, `--max-count N`, ...).
pub fn key_history(
    session: &Session,
    key: &Key,
    passthru: &[String],
) -> Result<Vec<Change>, HistoryError> {
    let path = annex_core::state::key_log_path(key, ".log");
    let path = String::from_utf8_lossy(&path).into_owned();
    let refs = git_log(session, Some(&path), passthru)?;
    let repo = session.state.branch().repo();
    // Each value compared with the one before it; the oldest with what
    // its commit replaced.
    let mut sets = Vec::with_capacity(refs.len() + 1);
    for r in &refs {
        sets.push((r.time, locations(repo, r.new)?));
    }
    if let Some(last) = refs.last() {
        sets.push((0, locations(repo, last.old)?));
    }
    let mut out = Vec::new();
    for pair in sets.windows(2) {
        let ((t, new), (_, old)) = (&pair[0], &pair[1]);
        compare(*t, key, new, old, &mut out);
    }
    Ok(out)
}

/// The changes to every location log, newest first, given to `f` as they
/// are read.
pub fn all_history(
    session: &Session,
    passthru: &[String],
    mut f: impl FnMut(Change) -> Result<(), HistoryError>,
) -> Result<(), HistoryError> {
    let repo = session.state.branch().repo();
    for r in git_log(session, None, passthru)? {
        let mut out = Vec::new();
        let new = locations(repo, r.new)?;
        let old = locations(repo, r.old)?;
        compare(r.time, &r.key, &new, &old, &mut out);
        for c in out {
            f(c)?;
        }
    }
    Ok(())
}

fn compare(
    time: i64,
    key: &Key,
    new: &BTreeSet<Uuid>,
    old: &BTreeSet<Uuid>,
    out: &mut Vec<Change>,
) {
    if new == old {
        return;
    }
    out.push(Change {
        time,
        key: key.clone(),
        added: true,
        uuids: new.difference(old).cloned().collect(),
    });
    out.push(Change {
        time,
        key: key.clone(),
        added: false,
        uuids: old.difference(new).cloned().collect(),
    });
}

/// The repositories a logged value says have the content (none for the
/// null id: no value).
fn locations(repo: &gix::Repository, id: ObjectId) -> Result<BTreeSet<Uuid>, HistoryError> {
    if id.is_null() {
        return Ok(BTreeSet::new());
    }
    let obj = repo.find_object(id).map_err(|e| HistoryError::Read {
        id: id.to_string(),
        detail: e.to_string(),
    })?;
    Ok(LocationLog::parse(&obj.data)
        .present_uuids()
        .into_iter()
        .collect())
}

/// Runs `git log --raw` on the `git-annex` branch (for one log file, or
/// all) and returns the location log changes, newest first.
fn git_log(
    session: &Session,
    path: Option<&str>,
    passthru: &[String],
) -> Result<Vec<RefChange>, HistoryError> {
    let mut args: Vec<String> = ["log", "-z", "--pretty=format:%ct", "--raw", "--abbrev=40"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if path.is_some() {
        args.push("--remove-empty".into());
    }
    args.extend(passthru.iter().cloned());
    args.push("refs/heads/git-annex".into());
    args.push("--".into());
    args.extend(path.map(str::to_owned));
    let out =
        crate::git::run_in_git_dir(session.repo.git_dir(), &args).map_err(HistoryError::GitLog)?;
    Ok(parse_raw_log(&out))
}

/// Parses `git log -z --pretty=format:%ct --raw` output: NUL-separated
/// chunks, a commit's first change line preceded by its time and a
/// newline, each change line followed by its path.
fn parse_raw_log(out: &[u8]) -> Vec<RefChange> {
    let mut changes = Vec::new();
    let mut time = 0i64;
    let mut chunks = out.split(|&b| b == 0).peekable();
    while let Some(chunk) = chunks.next() {
        let line = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => {
                if let Some(t) = std::str::from_utf8(&chunk[..i])
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                {
                    time = t;
                }
                &chunk[i + 1..]
            }
            None => {
                if let Some(t) = std::str::from_utf8(chunk).ok().and_then(|s| s.parse().ok()) {
                    time = t;
                    continue;
                }
                chunk
            }
        };
        if !line.starts_with(b":") {
            continue;
        }
        let Some(path) = chunks.next() else { break };
        let words: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
        let (Some(old), Some(new)) = (words.get(2), words.get(3)) else {
            continue;
        };
        let (Some(old), Some(new)) = (oid(old), oid(new)) else {
            continue;
        };
        if let Some(key) = location_log_key(path) {
            changes.push(RefChange {
                time,
                old,
                new,
                key,
            });
        }
    }
    changes
}

fn oid(hex: &[u8]) -> Option<ObjectId> {
    ObjectId::from_hex(hex).ok()
}

/// The key of a location log path (`HASH/HASH/KEY.log`).
fn location_log_key(path: &[u8]) -> Option<Key> {
    if path.iter().filter(|&&b| b == b'/').count() != 2 {
        return None;
    }
    let name = path.rsplit(|&b| b == b'/').next()?;
    annex_core::objects::file_key(name.strip_suffix(b".log")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_log_chunks_parse() {
        let z = "0".repeat(40);
        let a = "3b46df592656f7ceefbb1feb42e9ae2824e30ac4";
        let b = "6a615430dc469db111f71cf8a72721120ef96378";
        let key = "SHA256E-s2--0263829989b6fd954f72baaf2fc64bc2e2f01d692d4de72986ea808f6e99813f";
        let out = format!(
            "20\n:100644 100644 {a} {b} M\0a79/c31/{key}.log\0:100644 100644 {a} {b} M\0uuid.log\0\010\n:000000 100644 {z} {a} A\0a79/c31/{key}.log\0"
        );
        let c = parse_raw_log(out.as_bytes());
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].time, c[1].time), (20, 10));
        assert!(c[1].old.is_null());
        assert_eq!(c[0].key.to_string(), key);
    }
}
