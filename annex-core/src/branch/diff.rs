//! Differences between two trees of the `git-annex` branch: which files
//! changed, walking both trees side by side in git's entry order and
//! skipping every subtree whose object id is the same on both sides, so a
//! difference costs in proportion to what changed, not to the branch.

use gix::ObjectId;

use super::{Branch, BranchError, git_err};

impl Branch {
    /// The paths of the files (blobs, at any depth) that differ between
    /// the trees of the commits `old` and `new` of this repository (added,
    /// removed or changed), in git's order. Commits are usually two tips
    /// of the `git-annex` branch; the result is what `git diff-tree -r
    /// --name-only OLD NEW` lists.
    pub fn changed_paths(&self, old: ObjectId, new: ObjectId) -> Result<Vec<Vec<u8>>, BranchError> {
        let old_tree = self.commit_tree(old)?;
        let new_tree = self.commit_tree(new)?;
        let mut changed: Vec<Changed> = Vec::new();
        diff_trees(
            self.repo(),
            Some(old_tree),
            Some(new_tree),
            &mut Vec::new(),
            &mut changed,
        )?;
        Ok(changed.into_iter().map(|(p, _, _)| p).collect())
    }
}

/// The raw data of a tree object.
pub(crate) fn tree_data(repo: &gix::Repository, id: ObjectId) -> Result<Vec<u8>, BranchError> {
    let mut t = repo
        .find_tree(id)
        .map_err(git_err("read tree", id.to_string()))?;
    Ok(std::mem::take(&mut t.data))
}

/// The entries of a tree's data, in the tree's order; an entry that does
/// not decode ends the list with an error.
pub(crate) fn entries<'a>(
    repo: &gix::Repository,
    id: ObjectId,
    data: &'a [u8],
) -> impl Iterator<Item = Result<gix::objs::tree::EntryRef<'a>, BranchError>> + 'a {
    gix::objs::TreeRefIter::from_bytes(data, repo.object_hash())
        .map(move |e| e.map_err(git_err("decode tree", id.to_string())))
}

/// Sink of [`diff_trees`]: collects blobs, and either descends into
/// subtrees or leaves them for later.
pub(crate) trait Sink {
    fn blob(&mut self, c: Changed);
    fn tree(&mut self, path: &[u8], a: Option<ObjectId>, b: Option<ObjectId>) -> bool;
}

impl Sink for Vec<Changed> {
    fn blob(&mut self, c: Changed) {
        self.push(c);
    }
    fn tree(&mut self, _: &[u8], _: Option<ObjectId>, _: Option<ObjectId>) -> bool {
        true
    }
}

/// A changed blob: its path, and its old and new versions.
pub(crate) type Changed = (Vec<u8>, Option<ObjectId>, Option<ObjectId>);

/// Git's order of tree entries: by name, a tree's name compared as if it
/// ended with `/`.
fn git_order(
    a: &gix::objs::tree::EntryRef<'_>,
    b: &gix::objs::tree::EntryRef<'_>,
) -> std::cmp::Ordering {
    let (an, bn): (&[u8], &[u8]) = (a.filename, b.filename);
    let n = an.len().min(bn.len());
    an[..n].cmp(&bn[..n]).then_with(|| {
        let end =
            |name: &[u8], tree: bool| name.get(n).copied().unwrap_or(if tree { b'/' } else { 0 });
        end(an, a.mode.is_tree()).cmp(&end(bn, b.mode.is_tree()))
    })
}

/// How many directories deep a difference is walked at most.
const MAX_DEPTH: usize = 64;

/// Collects the blobs that differ between two trees (either may be
/// absent), walking both in git's entry order side by side.
pub(crate) fn diff_trees<S: Sink>(
    repo: &gix::Repository,
    old: Option<ObjectId>,
    new: Option<ObjectId>,
    prefix: &mut Vec<u8>,
    out: &mut S,
) -> Result<(), BranchError> {
    if old == new {
        return Ok(());
    }
    // git-annex's branch is two or three directories deep; a much deeper
    // one would only exhaust the stack.
    if prefix.iter().filter(|&&b| b == b'/').count() >= MAX_DEPTH {
        return Err(BranchError::TooDeep {
            path: String::from_utf8_lossy(prefix).into_owned(),
            max: MAX_DEPTH,
        });
    }
    let data_a = match old {
        Some(t) => tree_data(repo, t)?,
        None => Vec::new(),
    };
    let data_b = match new {
        Some(t) => tree_data(repo, t)?,
        None => Vec::new(),
    };
    let mut ia = entries(repo, old.unwrap_or(repo.object_hash().null()), &data_a).peekable();
    let mut ib = entries(repo, new.unwrap_or(repo.object_hash().null()), &data_b).peekable();
    loop {
        let ea = ia.peek().map(|e| e.as_ref().map_err(|_| ())).transpose();
        let eb = ib.peek().map(|e| e.as_ref().map_err(|_| ())).transpose();
        if ea.is_err() {
            return ia.next().map_or(Ok(()), |e| e.map(|_| ()));
        }
        if eb.is_err() {
            return ib.next().map_or(Ok(()), |e| e.map(|_| ()));
        }
        let (a, b) = match (ea.ok().flatten(), eb.ok().flatten()) {
            (None, None) => return Ok(()),
            (Some(a), None) => (Some(*a), None),
            (None, Some(b)) => (None, Some(*b)),
            (Some(a), Some(b)) => match git_order(a, b) {
                std::cmp::Ordering::Less => (Some(*a), None),
                std::cmp::Ordering::Greater => (None, Some(*b)),
                std::cmp::Ordering::Equal => (Some(*a), Some(*b)),
            },
        };
        if a.is_some() {
            ia.next();
        }
        if b.is_some() {
            ib.next();
        }
        if let (Some(x), Some(y)) = (a, b)
            && x.oid == y.oid
            && x.mode == y.mode
        {
            continue;
        }
        let len = prefix.len();
        if !prefix.is_empty() {
            prefix.push(b'/');
        }
        let name = a.or(b).map(|e| e.filename).unwrap_or_default();
        prefix.extend_from_slice(name);
        let tree_of = |e: Option<gix::objs::tree::EntryRef<'_>>| {
            e.filter(|e| e.mode.is_tree()).map(|e| e.oid.to_owned())
        };
        let blob_of = |e: Option<gix::objs::tree::EntryRef<'_>>| {
            e.filter(|e| e.mode.is_blob()).map(|e| e.oid.to_owned())
        };
        let (ta, tb) = (tree_of(a), tree_of(b));
        if (ta.is_some() || tb.is_some()) && out.tree(prefix, ta, tb) {
            diff_trees(repo, ta, tb, prefix, out)?;
        }
        let (ba, bb) = (blob_of(a), blob_of(b));
        if (ba.is_some() || bb.is_some()) && ba != bb {
            out.blob((prefix.clone(), ba, bb));
        }
        prefix.truncate(len);
    }
}

/// What [`walk_tree`] calls for each entry: path, object, mode.
pub(crate) type WalkFn<'a> =
    dyn FnMut(&[u8], ObjectId, gix::objs::tree::EntryMode) -> Result<(), BranchError> + 'a;

/// Calls `f(path, id, mode)` for every non-tree entry of a tree, at any
/// depth, in git's order (which is the bytewise order of the full paths,
/// the order of an index), reading one tree at a time: memory stays in
/// proportion to the depth, not to the size of the tree.
pub(crate) fn walk_tree(
    repo: &gix::Repository,
    tree: ObjectId,
    prefix: &mut Vec<u8>,
    f: &mut WalkFn<'_>,
) -> Result<(), BranchError> {
    if prefix.iter().filter(|&&b| b == b'/').count() >= MAX_DEPTH {
        return Err(BranchError::TooDeep {
            path: String::from_utf8_lossy(prefix).into_owned(),
            max: MAX_DEPTH,
        });
    }
    let data = tree_data(repo, tree)?;
    for e in entries(repo, tree, &data) {
        let e = e?;
        let len = prefix.len();
        if !prefix.is_empty() {
            prefix.push(b'/');
        }
        prefix.extend_from_slice(e.filename);
        let r = if e.mode.is_tree() {
            walk_tree(repo, e.oid.to_owned(), prefix, f)
        } else {
            f(prefix, e.oid.to_owned(), e.mode)
        };
        prefix.truncate(len);
        r?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::tests::git;
    use super::*;

    fn commit_all(dir: &Path) -> ObjectId {
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-q", "--allow-empty", "-m", "x"]);
        ObjectId::from_hex(git(dir, &["rev-parse", "HEAD"]).as_bytes()).expect("id")
    }

    #[test]
    fn changed_paths_lists_what_git_diff_tree_lists() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        git(d, &["init", "-q"]);
        for (p, c) in [
            ("uuid.log", "a"),
            ("aaa/bbb/K1.log", "1"),
            ("aaa/ccc/K2.log", "2"),
        ] {
            std::fs::create_dir_all(d.join(p).parent().expect("parent")).expect("mkdir");
            std::fs::write(d.join(p), c).expect("write");
        }
        let old = commit_all(d);
        std::fs::write(d.join("aaa/bbb/K1.log"), "1b").expect("write");
        std::fs::remove_file(d.join("aaa/ccc/K2.log")).expect("rm");
        std::fs::create_dir_all(d.join("fff/eee")).expect("mkdir");
        std::fs::write(d.join("fff/eee/K3.log"), "3").expect("write");
        let new = commit_all(d);
        let branch = Branch::open(&d.join(".git")).expect("open");
        let got: Vec<String> = branch
            .changed_paths(old, new)
            .expect("diff")
            .into_iter()
            .map(|p| String::from_utf8(p).expect("utf-8"))
            .collect();
        let want = git(
            d,
            &[
                "diff-tree",
                "-r",
                "--name-only",
                &old.to_string(),
                &new.to_string(),
            ],
        );
        assert_eq!(got, want.lines().collect::<Vec<_>>());
        assert_eq!(got, ["aaa/bbb/K1.log", "aaa/ccc/K2.log", "fff/eee/K3.log"]);
        assert!(branch.changed_paths(new, new).expect("diff").is_empty());
    }

    #[test]
    fn a_branch_nested_too_deep_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        git(d, &["init", "-q"]);
        let old = commit_all(d);
        let deep: std::path::PathBuf = (0..MAX_DEPTH + 2).map(|_| "d").collect();
        std::fs::create_dir_all(d.join(&deep)).expect("mkdir");
        std::fs::write(d.join(&deep).join("K.log"), "x").expect("write");
        let new = commit_all(d);
        let branch = Branch::open(&d.join(".git")).expect("open");
        match branch.changed_paths(old, new) {
            Err(BranchError::TooDeep { max, .. }) => assert_eq!(max, MAX_DEPTH),
            other => panic!("expected TooDeep, got {other:?}"),
        }
    }
}
