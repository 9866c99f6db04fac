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
/// newline, each change line followed by its path. The location log
/// changes, in the output's order.
fn parse_raw_log(out: &[u8]) -> Vec<RefChange> {
    raw_changes(out, location_log_key)
        .into_iter()
        .map(|(time, old, new, key)| RefChange {
            time,
            old,
            new,
            key,
        })
        .collect()
}

/// The changes of `git log -z --pretty=format:%ct --raw` output (time,
/// old and new blob) of the paths `select` picks, with what it made of
/// each path.
fn raw_changes<T>(
    out: &[u8],
    select: impl Fn(&[u8]) -> Option<T>,
) -> Vec<(i64, ObjectId, ObjectId, T)> {
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
        if let Some(v) = select(path) {
            changes.push((time, old, new, v));
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

/// What `git annex log --sizes`, `--totalsizes` and `--sizesof` show.
#[derive(Debug, Clone, Default)]
pub struct SizeOptions {
    /// `--sizesof`: only this repository's size.
    pub only: Option<Uuid>,
    /// `--totalsizes`: the sum over every repository.
    pub total: bool,
    /// `--interval`: the least time between two lines shown (default one
    /// second).
    pub interval: Option<std::time::Duration>,
    /// `--received`: what each repository received since the line before,
    /// rather than its size (removals not counted).
    pub received: bool,
}

/// A time of the size history: seconds and nanoseconds since the epoch
/// (commit times are whole seconds; the last line shows the present).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct SizeTime {
    /// Whole seconds.
    pub secs: i64,
    /// Nanoseconds.
    pub nanos: u32,
}

impl SizeTime {
    fn as_nanos(self) -> i128 {
        i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos)
    }
}

/// The repositories a size history shows, one column each (UUID order),
/// with their descriptions from `uuid.log`.
pub fn size_columns(session: &Session) -> Result<Vec<(Uuid, Vec<u8>)>, HistoryError> {
    let content = session
        .state
        .branch()
        .get(b"uuid.log")
        .map_err(|e| HistoryError::Read {
            id: "uuid.log".into(),
            detail: e.to_string(),
        })?;
    Ok(
        annex_core::logs::uuid::descriptions(&annex_core::logs::uuid::parse(&content))
            .into_iter()
            .collect(),
    )
}

/// The sizes of repositories over time, as `git annex log --sizes` (and
/// `--totalsizes`, `--sizesof`) computes them: the `git-annex` branch's
/// history read oldest first (`git log --date-order --reverse`), each
/// location log change merged into what is known of that key so far (as
/// if every branch seen were merged), each repository's size the sum of
/// the sizes of the keys present there, a repository dead by `trust.log`
/// counting 0. `show(time, sizes)` is called for each line to show: the
/// sizes in the columns' order (one, the total, with `total`), at most one
/// line per interval and only when they changed; then once more with the
/// present time and the last sizes. Memory grows with the number of keys
/// (each key's compacted location log is kept), as the reference's.
pub fn size_history(
    session: &Session,
    columns: &[Uuid],
    options: &SizeOptions,
    now: SizeTime,
    mut show: impl FnMut(SizeTime, &[i128]) -> Result<(), HistoryError>,
) -> Result<(), HistoryError> {
    use annex_core::logs::presence::{PresenceLog, Status};
    use std::collections::{BTreeMap, HashMap};

    let args: Vec<String> = [
        "log",
        "-z",
        "--pretty=format:%ct",
        "--raw",
        "--no-abbrev",
        "--no-renames",
        "--date-order",
        "--reverse",
        "refs/heads/git-annex",
        "--",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out =
        crate::git::run_in_git_dir(session.repo.git_dir(), &args).map_err(HistoryError::GitLog)?;
    let repo = session.state.branch().repo();
    let read = |id: ObjectId| -> Result<Option<Vec<u8>>, HistoryError> {
        if id.is_null() {
            return Ok(None);
        }
        match repo.find_object(id) {
            Ok(o) => Ok(Some(o.data.clone())),
            Err(e) => Err(HistoryError::Read {
                id: id.to_string(),
                detail: e.to_string(),
            }),
        }
    };
    let interval = options
        .interval
        .map_or(1_000_000_000, |d| d.as_nanos() as i128);
    let mut sizes: BTreeMap<Uuid, i128> = BTreeMap::new();
    let mut known: HashMap<
        Key,
        (
            Vec<annex_core::logs::presence::PresenceLine>,
            BTreeSet<Uuid>,
        ),
    > = HashMap::new();
    let mut trust = annex_core::logs::trust::parse(b"");
    let mut disp = Display {
        shown_yet: false,
        prev_time: SizeTime { secs: 0, nanos: 0 },
        prev_output: None,
        prev_sizes: BTreeMap::new(),
    };
    let present = |lines: &[annex_core::logs::presence::PresenceLine]| -> BTreeSet<Uuid> {
        PresenceLog::from_lines(lines.to_vec())
            .with_status(|s| s == Status::Present)
            .into_iter()
            .filter_map(|i| Uuid::parse(i).ok())
            .collect()
    };
    let changes = raw_changes(&out, |path| {
        if path == b"trust.log" {
            Some(Changed::Trust)
        } else {
            location_log_key(path).map(Changed::Location)
        }
    });
    for (secs, _, new_id, what) in changes {
        let time = SizeTime { secs, nanos: 0 };
        match what {
            Changed::Trust => {
                if let Some(content) = read(new_id)? {
                    trust.merge(&annex_core::logs::trust::parse(&content));
                }
            }
            Changed::Location(key) => {
                let Some(content) = read(new_id)? else {
                    continue;
                };
                let new = PresenceLog::parse(&content);
                let ksz = i128::from(key.size().unwrap_or(0));
                match known.get_mut(&key) {
                    None => {
                        let lines = new.lines().to_vec();
                        let locs = present(&lines);
                        for u in &locs {
                            *sizes.entry(u.clone()).or_default() += ksz;
                        }
                        known.insert(key, (lines, locs));
                    }
                    Some((old_lines, old_locs)) => {
                        let mut all = std::mem::take(old_lines);
                        all.extend(new.lines().iter().cloned());
                        let combined: Vec<_> =
                            PresenceLog::from_lines(all).compacted().lines().to_vec();
                        let locs = present(&combined);
                        for u in locs.difference(old_locs) {
                            *sizes.entry(u.clone()).or_default() += ksz;
                        }
                        if !options.received {
                            for u in old_locs.difference(&locs) {
                                *sizes.entry(u.clone()).or_default() -= ksz;
                            }
                        }
                        *old_lines = combined;
                        *old_locs = locs;
                    }
                }
            }
        }
        disp.step(&trust, &sizes, columns, options, interval, time, &mut show)?;
    }
    if let Some(last) = disp.prev_output.take() {
        show(now, &last)?;
    }
    Ok(())
}

/// What the size history last showed (git-annex's display state).
struct Display {
    shown_yet: bool,
    prev_time: SizeTime,
    prev_output: Option<Vec<i128>>,
    prev_sizes: std::collections::BTreeMap<Uuid, i128>,
}

impl Display {
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        trust: &annex_core::logs::trust::TrustLog,
        sizes: &std::collections::BTreeMap<Uuid, i128>,
        columns: &[Uuid],
        options: &SizeOptions,
        interval: i128,
        t: SizeTime,
        show: &mut impl FnMut(SizeTime, &[i128]) -> Result<(), HistoryError>,
    ) -> Result<(), HistoryError> {
        use annex_core::logs::trust::TrustLevel;
        let levels = trust.current();
        // The dead count 0.
        let now_sizes: std::collections::BTreeMap<Uuid, i128> = sizes
            .iter()
            .map(|(u, v)| {
                let v = if levels.get(u) == Some(&TrustLevel::Dead) {
                    0
                } else {
                    *v
                };
                (u.clone(), v)
            })
            .collect();
        let displayed: std::collections::BTreeMap<Uuid, i128> = if options.received {
            let mut m = self.prev_sizes.clone();
            for (u, v) in &now_sizes {
                let d = match self.prev_sizes.get(u) {
                    Some(p) => (v - p).max(0),
                    None => *v,
                };
                m.insert(u.clone(), d);
            }
            m
        } else {
            now_sizes.clone()
        };
        let output: Vec<i128> = if options.total {
            vec![displayed.values().sum()]
        } else {
            let only;
            let us: &[Uuid] = match &options.only {
                Some(u) => {
                    only = [u.clone()];
                    &only
                }
                None => columns,
            };
            us.iter()
                .map(|u| displayed.get(u).copied().unwrap_or(0))
                .collect()
        };
        let nonzero = output.iter().any(|v| *v != 0);
        let differs = self.prev_output.as_ref() != Some(&output);
        let changed = if options.received {
            nonzero || differs
        } else {
            (self.shown_yet || nonzero) && differs
        };
        if t.as_nanos() - self.prev_time.as_nanos() >= interval && changed {
            show(t, &output)?;
            self.shown_yet = true;
            self.prev_time = t;
            self.prev_output = Some(output);
            self.prev_sizes = now_sizes;
        } else if t < self.prev_time {
            self.prev_time = t;
            self.prev_output = Some(output);
        }
        Ok(())
    }
}

/// What a commit of the size history changed.
enum Changed {
    Location(Key),
    Trust,
}
