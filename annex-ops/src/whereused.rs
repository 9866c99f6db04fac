//! Where a key is used, as `git annex whereused` finds it: the files of
//! the index that point to it, or, with `--historical`, the most recent
//! commit of a branch, remote branch or tag (else the reflog) that added
//! or changed a file pointing to it, named as `git describe --contains`
//! names that commit.
//!
//! ```no_run
//! use annex_ops::session::{OpenOptions, Session};
//! let (session, _) = Session::open(&OpenOptions::new(".".as_ref()))?;
//! let key = annex_core::key::Key::parse(b"SHA256E-s0--e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")?;
//! for f in annex_ops::whereused::files(&session, &key)? {
//!     println!("{}", String::from_utf8_lossy(&f));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use annex_core::key::Key;
use annex_core::worktree::WorkTreeError;

use crate::session::Session;

/// The files of the index (paths from the top) whose key is `key`.
pub fn files(session: &Session, key: &Key) -> Result<Vec<Vec<u8>>, WorkTreeError> {
    let Some(wt) = session.worktree.as_ref() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    wt.for_each_annexed_file::<WorkTreeError>(&[Vec::new()], |_, f| {
        if &f.key == key {
            out.push(f.path);
        }
        Ok(())
    })?;
    Ok(out)
}

/// A historical use: a ref (as `git describe --contains` or the reflog
/// names it) and the path (from the top) in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoricalUse {
    /// The ref, e.g. `main~2` or `HEAD@{3}`.
    pub r#ref: String,
    /// The file, from the top.
    pub path: Vec<u8>,
}

/// The most recent historical uses of `key`: in the commits of branches,
/// remote branches and tags (not the `git-annex` branch), else in the
/// reflog.
pub fn historical(session: &Session, key: &Key) -> Vec<HistoricalUse> {
    let git_dir = session.repo.git_dir();
    let regex = format!(
        "-G{}($|\n)",
        escape_regex(&annex_core::objects::key_file(key))
    );
    let base = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "log",
            "-z",
            "--no-textconv",
            "--no-abbrev",
            "-n1",
            "--basic-regexp",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.push(regex.clone());
        v.push("--diff-filter=ACMRTUX".into());
        v.push("--raw".into());
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let refs = base(&[
        "--exclude=*/git-annex",
        "--glob=*",
        "--exclude=*/git-annex",
        "--remotes=*",
        "--tags=*",
        "--pretty=%H",
    ]);
    if let Some((head, paths)) = search(git_dir, &refs) {
        let described = crate::git::run_in_git_dir(
            git_dir,
            &["describe".into(), "--contains".into(), "--all".into(), head],
        )
        .ok()
        .and_then(|out| {
            let line = out
                .split(|&b| b == b'\n')
                .next()
                .unwrap_or_default()
                .to_vec();
            (!line.is_empty()).then(|| String::from_utf8_lossy(&line).into_owned())
        });
        if let Some(r) = described {
            return paths
                .into_iter()
                .map(|path| HistoricalUse {
                    r#ref: r.clone(),
                    path,
                })
                .collect();
        }
    }
    match search(git_dir, &base(&["--walk-reflogs", "--pretty=%gd"])) {
        Some((selector, paths)) => paths
            .into_iter()
            .map(|path| HistoricalUse {
                r#ref: selector.clone(),
                path,
            })
            .collect(),
        None => Vec::new(),
    }
}

/// Runs the `git log` search; the first line (hash or reflog selector)
/// and the paths of its raw diff.
fn search(git_dir: &std::path::Path, args: &[String]) -> Option<(String, Vec<Vec<u8>>)> {
    let out = crate::git::run_in_git_dir(git_dir, args).ok()?;
    let mut chunks = out.split(|&b| b == 0);
    let first = chunks.next().filter(|c| !c.is_empty())?;
    // `HEAD\n:100644 ...` : the header, then the first change line.
    let (head, mut rest) = match first.iter().position(|&b| b == b'\n') {
        Some(i) => (&first[..i], Some(&first[i + 1..])),
        None => (first, None),
    };
    let mut paths = Vec::new();
    loop {
        let line = match rest.take() {
            Some(l) => l,
            None => match chunks.next() {
                Some(l) => l,
                None => break,
            },
        };
        let line = line.strip_prefix(b"\n").unwrap_or(line);
        if !line.starts_with(b":") {
            continue;
        }
        let Some(path) = chunks.next() else { break };
        paths.push(path.to_vec());
    }
    Some((String::from_utf8_lossy(head).into_owned(), paths))
}

/// A key file name as a basic regular expression: alphanumerics as they
/// are, anything else in brackets.
fn escape_regex(s: &[u8]) -> String {
    let mut out = String::new();
    for &c in s {
        if c.is_ascii_alphanumeric() {
            out.push(c as char);
        } else {
            out.push('[');
            out.push(c as char);
            out.push(']');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regexes_escape_punctuation() {
        assert_eq!(
            escape_regex(b"SHA256E-s2--ab.c"),
            "SHA256E[-]s2[-][-]ab[.]c"
        );
    }
}
