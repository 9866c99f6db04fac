//! The numbered lists `git annex unused` leaves (`.git/annex/unused`,
//! `badunused`, `tmpunused`) as `dropunused` and `addunused` read them:
//! numbers and ranges (`3`, `1-5`, `all`) looked up in the lists, and the
//! stale files of the `bad` and `tmp` lists removed.
//!
//! ```no_run
//! use annex_ops::unused_lists::{UnusedLists, parse_ranges};
//! let lists = UnusedLists::read(".git".as_ref());
//! for n in parse_ranges(&["1-3".to_string()], &lists)? {
//!     println!("{n}: {:?}", lists.get(n));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use annex_core::key::Key;
use annex_core::unused::{read_unused_log, unused_log_path};

/// Which list a number is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// Content no file uses.
    Unused,
    /// Corrupted content fsck kept (`.git/annex/bad`).
    Bad,
    /// Partly transferred content (`.git/annex/tmp`).
    Tmp,
}

/// What can go wrong reading the numbers asked for.
#[derive(Debug, thiserror::Error)]
pub enum UnusedListError {
    /// Not a number, a range or `all`.
    #[error("Expected number or range, not \"{0}\"")]
    BadRange(String),
    /// A number no list has.
    #[error("{0} not valid (run git annex unused for list)")]
    NotListed(u64),
    /// A stale file could not be removed.
    #[error("cannot remove {}: {source}", path.display())]
    Remove {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// The three lists, read once.
#[derive(Debug, Default)]
pub struct UnusedLists {
    lists: Vec<(Which, BTreeMap<u64, Key>)>,
}

impl UnusedLists {
    /// Reads the lists of the repository whose git directory is `git_dir`
    /// (a missing list is empty).
    pub fn read(git_dir: &Path) -> UnusedLists {
        let lists = [
            (Which::Unused, ""),
            (Which::Bad, "bad"),
            (Which::Tmp, "tmp"),
        ]
        .into_iter()
        .map(|(w, p)| (w, read_unused_log(&unused_log_path(git_dir, p))))
        .collect();
        UnusedLists { lists }
    }

    /// The key a number names, and its list.
    pub fn get(&self, n: u64) -> Option<(Which, &Key)> {
        self.lists
            .iter()
            .find_map(|(w, m)| m.get(&n).map(|k| (*w, k)))
    }

    /// Every listed number, in order.
    pub fn all(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .lists
            .iter()
            .flat_map(|(_, m)| m.keys().copied())
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// The numbers asked for (`N`, `N-M`, `all`), in order; each must be in a
/// list.
pub fn parse_ranges(words: &[String], lists: &UnusedLists) -> Result<Vec<u64>, UnusedListError> {
    let mut out = Vec::new();
    for w in words {
        if w == "all" {
            out.extend(lists.all());
            continue;
        }
        let bad = || UnusedListError::BadRange(w.clone());
        let nums: Vec<u64> = match w.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u64, u64) =
                    (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                (a..=b).collect()
            }
            None => vec![w.parse().map_err(|_| bad())?],
        };
        for n in nums {
            if lists.get(n).is_none() {
                return Err(UnusedListError::NotListed(n));
            }
            out.push(n);
        }
    }
    Ok(out)
}

/// Removes the stale file of a key in the `bad` or `tmp` list (nothing
/// for the unused list: its content is dropped with the copies checked).
pub fn remove_stale(git_dir: &Path, which: Which, key: &Key) -> Result<(), UnusedListError> {
    let dir = match which {
        Which::Unused => return Ok(()),
        Which::Bad => git_dir.join("annex").join("bad"),
        Which::Tmp => git_dir.join("annex").join("tmp"),
    };
    use std::os::unix::ffi::OsStrExt;
    let path = dir.join(std::ffi::OsStr::from_bytes(&annex_core::objects::key_file(
        key,
    )));
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(UnusedListError::Remove { path, source: e }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists() -> UnusedLists {
        let k = |s: &str| Key::parse(s.as_bytes()).expect("key");
        let mut m = BTreeMap::new();
        m.insert(1, k("WORM-s1-m1--a"));
        m.insert(2, k("WORM-s1-m1--b"));
        let mut t = BTreeMap::new();
        t.insert(3, k("WORM-s1-m1--c"));
        UnusedLists {
            lists: vec![(Which::Unused, m), (Which::Tmp, t)],
        }
    }

    #[test]
    fn numbers_ranges_and_all() {
        let l = lists();
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parse_ranges(&w(&["2", "1-3"]), &l).ok(),
            Some(vec![2, 1, 2, 3])
        );
        assert_eq!(parse_ranges(&w(&["all"]), &l).ok(), Some(vec![1, 2, 3]));
        assert!(matches!(
            parse_ranges(&w(&["9"]), &l),
            Err(UnusedListError::NotListed(9))
        ));
        assert!(matches!(
            parse_ranges(&w(&["x"]), &l),
            Err(UnusedListError::BadRange(x)) if x == "x"
        ));
        assert_eq!(l.get(3).map(|(w, _)| w), Some(Which::Tmp));
    }
}
