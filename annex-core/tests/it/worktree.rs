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

/// What [`WorkTree::for_each_annexed_file`] gives: (pathspec number, path,
/// key, locked), in order.
type Listed = Vec<(usize, Vec<u8>, String, bool)>;

fn serial(wt: &WorkTree, specs: &[Vec<u8>]) -> (Listed, Vec<Vec<u8>>) {
    let mut out = Vec::new();
    let unmatched = wt
        .for_each_annexed_file(specs, |n, f| {
            out.push((n, f.path, f.key.to_string(), f.locked));
            Ok::<(), annex_core::worktree::WorkTreeError>(())
        })
        .unwrap();
    (out, unmatched)
}

fn parallel(wt: &WorkTree, specs: &[Vec<u8>], threads: usize) -> (Listed, Vec<Vec<u8>>) {
    let mut out = Vec::new();
    // The work function's answer travels with its file.
    let work = |f: &annex_core::worktree::AnnexedFile| (f.path.clone(), f.key.to_string());
    let unmatched = wt
        .for_each_annexed_file_par(specs, threads, &work, |n, f, (p, k)| {
            assert_eq!((&p, &k), (&f.path, &f.key.to_string()));
            out.push((n, f.path, f.key.to_string(), f.locked));
            Ok::<(), annex_core::worktree::WorkTreeError>(())
        })
        .unwrap();
    (out, unmatched)
}

/// The threaded listing gives what the one-thread listing gives, in the
/// same order, over more files than one batch (8,192) and many blocks:
/// locked files (links made by hand to keys without content), files
/// removed from the work tree, a symlink that is not an annex link, files
/// in git, an unlocked file and a locked file replaced by a regular file.
/// Then the work tree changes and both see the change (nothing is kept
/// between calls).
#[test]
fn threaded_listing_is_the_serial_one() {
    let dir = fixture();
    let d = dir.path();
    let n: usize = 9000;
    for i in 0..n {
        let rel = format!("many/d{}/e{}/f{i:05}", i % 37, i % 5);
        let p = d.join(&rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let key = format!("SHA256E-s{i}--{:064x}.dat", i as u128 * 7919);
        let up = "../".repeat(3);
        std::os::unix::fs::symlink(format!("{up}.git/annex/objects/Xx/Yy/{key}/{key}"), &p)
            .unwrap();
    }
    std::os::unix::fs::symlink("elsewhere", d.join("many/d1/notannex")).unwrap();
    std::fs::write(d.join("many/d2/ingit"), b"plain").unwrap();
    // Symlinks need no filter; git would start git-annex's anyway.
    git(d, &["-c", "filter.annex.process=", "add", "many"]);
    // No pre-commit hook: git-annex's would look at all 9,000 links.
    git(d, &["commit", "-q", "--no-verify", "-m", "many"]);
    for i in (0..n).step_by(97) {
        let rel = format!("many/d{}/e{}/f{i:05}", i % 37, i % 5);
        std::fs::remove_file(d.join(rel)).unwrap();
    }
    // A locked file whose link became a regular file holding the target.
    let target = std::fs::read_link(d.join("a/one")).unwrap();
    std::fs::remove_file(d.join("a/one")).unwrap();
    std::fs::write(d.join("a/one"), target.as_os_str().as_encoded_bytes()).unwrap();

    let wt = WorkTree::discover(d).unwrap();
    let spec_sets: Vec<Vec<Vec<u8>>> = vec![
        vec![],
        vec![
            b"many/d3".to_vec(),
            b"a".to_vec(),
            b"many".to_vec(),
            b"nosuch".to_vec(),
        ],
        vec![b"unl".to_vec(), b"many/d1/notannex".to_vec()],
    ];
    for specs in &spec_sets {
        let want = serial(&wt, specs);
        for threads in [1, 2, 4] {
            assert_eq!(
                parallel(&wt, specs, threads),
                want,
                "{specs:?} on {threads} threads"
            );
        }
    }
    let (all, _) = serial(&wt, &[]);
    // 9,000 links less the removed ones, plus the fixture's five files.
    assert_eq!(all.len(), n - n.div_ceil(97) + 5);
    assert!(all.iter().any(|(_, p, _, l)| p == b"a/one" && !*l));
    assert!(all.iter().any(|(_, p, _, l)| p == b"unl" && !*l));

    // Changes under the same WorkTree are seen by the next listing.
    std::fs::remove_file(d.join("many/d1/e1/f00001")).unwrap();
    let (after, _) = parallel(&wt, &[], 2);
    assert_eq!(after.len(), all.len() - 1);
    assert!(after.iter().all(|(_, p, _, _)| p != b"many/d1/e1/f00001"));
}
