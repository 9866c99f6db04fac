//! `annex_core::worktree`: the annexed files and their keys, checked
//! against what the reference git-annex lists in a repository it made.

use std::collections::BTreeSet;

use annex_core::worktree::WorkTree;

use crate::support::{annex, git, new_git_repo};

/// A repository filled by the reference: locked files, an unlocked file,
/// a small file in git, nested directories and a unicode name.
fn fixture() -> tempfile::TempDir {
    let dir = new_git_repo();
    let d = dir.path();
    annex(d, &["init", "-q", "wt"]);
    std::fs::create_dir_all(d.join("a/b")).unwrap();
    std::fs::write(d.join("top"), b"top content").unwrap();
    std::fs::write(d.join("a/one"), b"one").unwrap();
    std::fs::write(d.join("a/b/two"), b"two two").unwrap();
    std::fs::write(d.join("a/b/\u{e9}t\u{e9}"), b"summer").unwrap();
    std::fs::write(d.join("unl"), b"unlocked content").unwrap();
    std::fs::write(d.join("small.txt"), b"small").unwrap();
    annex(d, &["add", "-q", "top", "a", "unl"]);
    git(d, &["add", "small.txt"]);
    git(d, &["commit", "-q", "-m", "files"]);
    annex(d, &["unlock", "-q", "unl"]);
    git(d, &["commit", "-q", "-m", "unlock"]);
    dir
}

/// `file key locked` lines as the reference sees them.
fn reference_listing(d: &std::path::Path) -> BTreeSet<(String, String, bool)> {
    let out = annex(d, &["find", "--format=${file}\\t${key}\\n"]);
    let unlocked: BTreeSet<String> = annex(d, &["find", "--unlocked", "--format=${file}\\n"])
        .lines()
        .map(str::to_string)
        .collect();
    out.lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(f, k)| (f.to_string(), k.to_string(), !unlocked.contains(f)))
        .collect()
}

fn ours(seek: &annex_core::worktree::Seek) -> BTreeSet<(String, String, bool)> {
    seek.files
        .iter()
        .map(|f| {
            (
                String::from_utf8(f.path.clone()).unwrap(),
                f.key.to_string(),
                f.locked,
            )
        })
        .collect()
}

#[test]
fn annexed_files_match_the_reference() {
    let dir = fixture();
    let d = dir.path();
    let wt = WorkTree::discover(d).unwrap();
    let all = wt.annexed_files(&[]).unwrap();
    let expected = reference_listing(d);
    assert_eq!(expected.len(), 5, "fixture: {expected:?}");
    assert_eq!(ours(&all), expected);
    assert!(all.unmatched.is_empty());

    // A directory matches what is under it, and only that; a file itself.
    let sub = wt
        .annexed_files(&[b"a/b".to_vec(), b"top".to_vec()])
        .unwrap();
    let paths: Vec<_> = sub.files.iter().map(|f| f.path.clone()).collect();
    // The order is the pathspecs' order, then git's.
    assert_eq!(
        paths,
        vec![
            b"a/b/two".to_vec(),
            "a/b/\u{e9}t\u{e9}".as_bytes().to_vec(),
            b"top".to_vec()
        ]
    );
    // "a/b" must not match "a/bc"; unknown paths are reported.
    let none = wt
        .annexed_files(&[b"a/o".to_vec(), b"nosuch".to_vec(), b"small.txt".to_vec()])
        .unwrap();
    assert!(none.files.is_empty());
    assert_eq!(none.unmatched, vec![b"a/o".to_vec(), b"nosuch".to_vec()]);
}

#[test]
fn missing_and_typechanged_files() {
    let dir = fixture();
    let d = dir.path();
    // A locked file removed from the work tree is skipped, as git-annex skips it.
    std::fs::remove_file(d.join("top")).unwrap();
    let wt = WorkTree::discover(d).unwrap();
    let all = wt.annexed_files(&[]).unwrap();
    assert!(all.files.iter().all(|f| f.path != b"top"));
    assert_eq!(ours(&all), reference_listing(d));
    // An unlocked file's key comes from its staged pointer even with its
    // content in the work tree.
    let (key, locked) = wt.lookup_key(b"unl").unwrap().unwrap();
    assert!(!locked);
    let shown = annex(d, &["lookupkey", "unl"]);
    assert_eq!(key.to_string(), shown.trim());
    assert_eq!(wt.lookup_key(b"small.txt").unwrap(), None);
    assert_eq!(wt.lookup_key(b"nosuch").unwrap(), None);
}
