//! `.git/annex/adjust.log`: whether the adjusted branch checked out needs
//! to be made again because content came or went, kept as git-annex keeps
//! it so that either implementation's `sync` refreshes after the other's
//! `get` or `drop`.
//!
//! An adjustment that depends on which content is here (`--hide-missing`,
//! `--hide-unwanted`, `--unlock-present`) goes stale when content comes or
//! goes. As git-annex, content added to the object store, and an unlocked
//! file's content taken out of the work tree by a drop, while such a
//! branch is checked out, replace the log with one line `TIME 1` (an
//! update is needed); an object removed alone (a locked file dropped) is
//! not logged, so git-annex's `sync` does not refresh the branch for it,
//! and neither does ours. A refresh, when done, writes `START 0` (the time it
//! started), unless a change was logged since it started. With no log, an
//! update is taken to be needed. `TIME` is written as git-annex writes a
//! `POSIXTime` (`1700000000.123456789s`). The log is changed under an
//! exclusive lock on `.git/annex/adjust.lck`, written to a temporary file
//! and renamed into place.
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! let dir = tempfile::tempdir()?;
//! let git_dir = dir.path();
//! std::fs::create_dir(git_dir.join("annex"))?;
//! assert!(annex_core::adjustlog::is_needed(git_dir)); // no log yet
//! let start = annex_core::adjustlog::now();
//! annex_core::adjustlog::record_finished(git_dir, start)?;
//! assert!(!annex_core::adjustlog::is_needed(git_dir));
//! annex_core::adjustlog::record_needed(git_dir)?;
//! assert!(annex_core::adjustlog::is_needed(git_dir));
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::timestamp::Timestamp;

/// The repositories (git dirs, canonical) in which this process changed
/// content while an adjusted branch that depends on it was checked out
/// ([`record_needed`] was called): this repository's, or a remote's on
/// this machine; with how many times.
static CHANGED: Mutex<BTreeMap<PathBuf, u64>> = Mutex::new(BTreeMap::new());

fn canonical(git_dir: &Path) -> PathBuf {
    std::fs::canonicalize(git_dir).unwrap_or_else(|_| git_dir.to_path_buf())
}

/// Whether this process has changed content that an adjusted branch
/// depends on, in any repository.
pub fn changed_any() -> bool {
    !CHANGED.lock().unwrap_or_else(|p| p.into_inner()).is_empty()
}

/// Whether this process has changed content that the adjusted branch
/// checked out in the repository whose git dir is `git_dir` depends on
/// (and so may refresh it before it ends).
pub fn changed_in_this_process(git_dir: &Path) -> bool {
    changes_in_this_process(git_dir) > 0
}

/// How many times this process has changed content that the adjusted
/// branch checked out in the repository whose git dir is `git_dir`
/// depends on (each object stored, each unlocked file emptied): git-annex
/// counts these for `annex.adjustedbranchrefresh`.
pub fn changes_in_this_process(git_dir: &Path) -> u64 {
    CHANGED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&canonical(git_dir))
        .copied()
        .unwrap_or(0)
}

/// The current time, with the precision git-annex logs.
pub fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp::from_picos(
        i128::from(d.as_secs()) * 1_000_000_000_000 + i128::from(d.subsec_nanos()) * 1000,
    )
}

/// Whether the branch checked out in the repository whose git directory
/// is `git_dir` is an adjusted branch that depends on which content is
/// here: `refs/heads/adjusted/BRANCH(NAME)` where `NAME` hides missing or
/// unwanted files or unlocks present ones (git-annex's adjustments that
/// are not "stable").
pub fn head_depends_on_content(git_dir: &Path) -> bool {
    let Ok(head) = std::fs::read(git_dir.join("HEAD")) else {
        return false;
    };
    let Some(name) = head
        .strip_prefix(b"ref: refs/heads/adjusted/")
        .map(|r| r.trim_ascii_end())
    else {
        return false;
    };
    let Some(open) = name.iter().rposition(|&b| b == b'(') else {
        return false;
    };
    let adj = name[open + 1..]
        .strip_suffix(b")")
        .unwrap_or(&name[open + 1..]);
    // `hidemissing`, `hidemissing-unlocked`, ... (the presence part
    // first), or `unlockpresent`.
    let presence = adj.split(|&b| b == b'-').next().unwrap_or(adj);
    adj == b"unlockpresent" || presence == b"hidemissing" || presence == b"hideunwanted"
}

fn parse_line(line: &[u8]) -> Option<(bool, Timestamp)> {
    let sp = line.iter().position(|&b| b == b' ')?;
    let (t, b) = (&line[..sp], &line[sp + 1..]);
    let needed = match b {
        b"1" => true,
        b"0" => false,
        _ => return None,
    };
    Some((needed, Timestamp::parse(t).ok()?))
}

fn entries(git_dir: &Path) -> Option<Vec<(bool, Timestamp)>> {
    let log = std::fs::read(git_dir.join("annex").join("adjust.log")).ok()?;
    Some(log.split(|&b| b == b'\n').filter_map(parse_line).collect())
}

fn write_log(git_dir: &Path, line: &[u8]) -> io::Result<()> {
    let dir = git_dir.join("annex");
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
    tmp.write_all(line)?;
    tmp.write_all(b"\n")?;
    tmp.persist(dir.join("adjust.log")).map_err(|e| e.error)?;
    Ok(())
}

fn with_lock<T>(git_dir: &Path, f: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    crate::lockfile::with_exclusive(&git_dir.join("annex").join("adjust.lck"), f)?
}

/// Logs that the adjusted branch needs an update (content changed now).
pub fn record_needed(git_dir: &Path) -> io::Result<()> {
    *CHANGED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(canonical(git_dir))
        .or_insert(0) += 1;
    let mut line = Vec::with_capacity(32);
    now().write_to(&mut line);
    line.extend_from_slice(b" 1");
    with_lock(git_dir, || write_log(git_dir, &line))
}

/// Logs that an update which started at `started` has finished, unless a
/// change was logged between `started` and now (then an update is still
/// needed). A time logged in the future (clock skew) is disregarded.
pub fn record_finished(git_dir: &Path, started: Timestamp) -> io::Result<()> {
    let now = now();
    with_lock(git_dir, || {
        let newer = entries(git_dir)
            .unwrap_or_default()
            .into_iter()
            .any(|(_, t)| t >= started && t <= now);
        if newer {
            return Ok(());
        }
        let mut line = Vec::with_capacity(32);
        started.write_to(&mut line);
        line.extend_from_slice(b" 0");
        write_log(git_dir, &line)
    })
}

/// Whether the log says an update is needed: any of its lines does, or it
/// is missing or holds no line that parses.
pub fn is_needed(git_dir: &Path) -> bool {
    match entries(git_dir) {
        Some(e) if !e.is_empty() => e.iter().any(|(needed, _)| *needed),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjusted_branches_that_depend_on_content_are_told_apart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let at = |head: &str| {
            std::fs::write(dir.path().join("HEAD"), head).expect("write");
            head_depends_on_content(dir.path())
        };
        assert!(at("ref: refs/heads/adjusted/main(hidemissing)\n"));
        assert!(at("ref: refs/heads/adjusted/main(hidemissing-unlocked)\n"));
        assert!(at("ref: refs/heads/adjusted/main(hideunwanted-locked)\n"));
        assert!(!at("ref: refs/heads/adjusted/main(showmissing-unlocked)\n"));
        assert!(at("ref: refs/heads/adjusted/a(b)(hideunwanted)\n"));
        assert!(at("ref: refs/heads/adjusted/main(unlockpresent)\n"));
        assert!(!at("ref: refs/heads/adjusted/main(unlock)\n"));
        assert!(!at("ref: refs/heads/adjusted/main(lockpresent)\n"));
        assert!(!at("ref: refs/heads/main\n"));
        assert!(!at("0123456789012345678901234567890123456789\n"));
    }

    #[test]
    fn the_log_reads_as_git_annex_reads_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let g = dir.path();
        std::fs::create_dir(g.join("annex")).expect("mkdir");
        let log = g.join("annex").join("adjust.log");
        std::fs::write(&log, "1700000000.5s 0\n").expect("write");
        assert!(!is_needed(g));
        std::fs::write(&log, "1700000000s 0\n1700000001s 1\n").expect("write");
        assert!(is_needed(g));
        std::fs::write(&log, "garbage\n").expect("write");
        assert!(is_needed(g));
        // A change logged after the refresh started keeps it needed.
        let started = now();
        record_needed(g).expect("log");
        record_finished(g, started).expect("log");
        assert!(is_needed(g));
        let text = std::fs::read_to_string(&log).expect("read");
        assert!(text.ends_with(" 1\n") && text.contains("s 1"), "{text}");
    }
}
