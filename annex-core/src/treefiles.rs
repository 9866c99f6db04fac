//! The annexed files of a git tree (a branch, a tag, a commit): what
//! `git annex findref` and `find --branch` seek, read in-process in the
//! order `git ls-tree -r` lists them.
//!
//! ```no_run
//! let repo = gix::open(".")?;
//! for f in annex_core::treefiles::annexed_files_in(&repo, "HEAD", &[])? {
//!     println!("{} {}", String::from_utf8_lossy(&f.path), f.key);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use gix::ObjectId;

use crate::pointer;
use crate::worktree::{AnnexedFile, MAX_POINTER_SIZE};

/// What can go wrong reading a tree.
#[derive(Debug, thiserror::Error)]
pub enum TreeFilesError {
    /// The name resolves to no object (git's own words).
    #[error("Not a valid object name {0}")]
    BadName(String),
    /// An object could not be read or decoded.
    #[error("cannot read {what}: {detail}")]
    Git {
        /// What was being read.
        what: String,
        /// The cause.
        detail: String,
    },
}

fn git_err(what: String) -> impl FnOnce(&dyn std::fmt::Display) -> TreeFilesError {
    move |e| TreeFilesError::Git {
        what,
        detail: e.to_string(),
    }
}

/// The annexed files (symlinks to annexed content and pointer files) in
/// the tree `rev` names, in `git ls-tree -r` order; when `prefixes` is not
/// empty, only the files at or under one of them (paths from the top,
/// `/`-separated).
pub fn annexed_files_in(
    repo: &gix::Repository,
    rev: &str,
    prefixes: &[Vec<u8>],
) -> Result<Vec<AnnexedFile>, TreeFilesError> {
    let obj = repo
        .rev_parse_single(rev)
        .map_err(|_| TreeFilesError::BadName(rev.to_owned()))?;
    let tree = obj
        .object()
        .map_err(|e| git_err(rev.to_string())(&e))?
        .peel_to_tree()
        .map_err(|e| git_err(format!("the tree of {rev}"))(&e))?;
    let mut out = Vec::new();
    walk(repo, tree.id, &mut Vec::new(), prefixes, &mut out)?;
    Ok(out)
}

/// Whether `path` is at or under one of `prefixes` (all when none), or,
/// for a directory, whether something under it may be.
fn wanted(path: &[u8], dir: bool, prefixes: &[Vec<u8>]) -> bool {
    if prefixes.is_empty() {
        return true;
    }
    prefixes.iter().any(|p| {
        let p = p.strip_suffix(b"/").unwrap_or(p);
        p.is_empty()
            || path == p
            || (path.starts_with(p) && path.get(p.len()) == Some(&b'/'))
            || (dir && p.starts_with(path) && p.get(path.len()) == Some(&b'/'))
    })
}

fn walk(
    repo: &gix::Repository,
    id: ObjectId,
    dir: &mut Vec<u8>,
    prefixes: &[Vec<u8>],
    out: &mut Vec<AnnexedFile>,
) -> Result<(), TreeFilesError> {
    let tree = repo
        .find_tree(id)
        .map_err(|e| git_err(format!("tree {id}"))(&e))?;
    let decoded = tree
        .decode()
        .map_err(|e| git_err(format!("tree {id}"))(&e))?;
    for e in &decoded.entries {
        let len = dir.len();
        if !dir.is_empty() {
            dir.push(b'/');
        }
        dir.extend_from_slice(e.filename);
        let oid = e.oid.to_owned();
        if e.mode.is_tree() {
            if wanted(dir, true, prefixes) {
                walk(repo, oid, dir, prefixes, out)?;
            }
        } else if (e.mode.is_link() || e.mode.is_blob())
            && wanted(dir, false, prefixes)
            && let Some(key) = blob_key(repo, oid, e.mode.is_link())
        {
            out.push(AnnexedFile {
                path: dir.clone(),
                key,
                locked: e.mode.is_link(),
            });
        }
        dir.truncate(len);
    }
    Ok(())
}

/// The key a blob names, if it is an annex symlink target or pointer file.
fn blob_key(repo: &gix::Repository, id: ObjectId, link: bool) -> Option<crate::key::Key> {
    let header = repo.find_header(id).ok()?;
    if header.size() > MAX_POINTER_SIZE {
        return None;
    }
    let blob = repo.find_object(id).ok()?;
    if link {
        pointer::parse_link_target(&blob.data)
    } else {
        pointer::parse_pointer(&blob.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_select_files_and_the_directories_leading_to_them() {
        let p = vec![b"d/e".to_vec()];
        assert!(wanted(b"d", true, &p));
        assert!(wanted(b"d/e", false, &p));
        assert!(wanted(b"d/e/f", false, &p));
        assert!(!wanted(b"d/ef", false, &p));
        assert!(!wanted(b"x", true, &p));
        assert!(wanted(b"x", false, &[]));
    }
}
