//! `annex_sync::resolve`: the merge driver, called as `sync` calls it, on
//! conflicts made with the reference git-annex and compared with what the
//! reference's `resolvemerge` makes of the same conflict.

use crate::support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use annex_core::key::Key;
use annex_sync::resolve::{self, ResolveError, variant};

const DATE: &str = "2020-01-01T00:00:00Z";

fn git(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new("git");
    support::hermetic(&mut cmd)
        .current_dir(dir)
        .env("GIT_AUTHOR_DATE", DATE)
        .env("GIT_COMMITTER_DATE", DATE)
        .args(args);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn git_fails(dir: &Path, args: &[&str]) {
    let mut cmd = Command::new("git");
    support::hermetic(&mut cmd).current_dir(dir).args(args);
    assert!(
        !cmd.output().unwrap().status.success(),
        "git {args:?} succeeded"
    );
}

fn write(dir: &Path, path: &str, content: &str) {
    let full = dir.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    if std::fs::symlink_metadata(&full).is_ok() {
        std::fs::remove_file(&full).unwrap();
    }
    std::fs::write(full, content).unwrap();
}

struct Pair {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    a: PathBuf,
    b: PathBuf,
}

/// Clones `a` and `b` of one repository with annexed `f` and plain `p`.
/// `git` in the library runs without the test environment, so `b` gets
/// its committer identity in its own config.
fn pair() -> Pair {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let a = root.join("a");
    let b = root.join("b");
    git(&root, &["init", "-q", "-b", "main", "a"]);
    support::annex(&a, &["init", "-q", "a"]);
    write(&a, "f", "base\n");
    support::annex(&a, &["add", "-q", "f"]);
    write(&a, "p", "plain\n");
    git(&a, &["add", "p"]);
    git(&a, &["commit", "-q", "-m", "base"]);
    git(&root, &["clone", "-q", a.to_str().unwrap(), "b"]);
    support::annex(&b, &["init", "-q", "b"]);
    git(&b, &["config", "user.name", "Test"]);
    git(&b, &["config", "user.email", "test@example.invalid"]);
    // `resolve_merge` runs git with this process's environment, where
    // `git-annex` may not be on PATH: when git re-checks a racily clean
    // file through the clean filter, it must find the reference.
    let exe = support::reference_git_annex().display().to_string();
    git(
        &b,
        &[
            "config",
            "filter.annex.process",
            &format!("{exe} filter-process"),
        ],
    );
    git(
        &b,
        &[
            "config",
            "filter.annex.clean",
            &format!("{exe} smudge --clean -- %f"),
        ],
    );
    git(
        &b,
        &[
            "config",
            "filter.annex.smudge",
            &format!("{exe} smudge -- %f"),
        ],
    );
    Pair {
        _tmp: tmp,
        root,
        a,
        b,
    }
}

fn commit_both(pair: &Pair) {
    git(&pair.a, &["add", "-A"]);
    git(&pair.a, &["commit", "-q", "-m", "them"]);
    git(&pair.b, &["add", "-A"]);
    git(&pair.b, &["commit", "-q", "-m", "us"]);
    git(&pair.b, &["fetch", "-q", "origin"]);
    git_fails(&pair.b, &["merge", "-q", "origin/main"]);
}

fn copy(pair: &Pair, name: &str) -> PathBuf {
    let dest = pair.root.join(name);
    let ok = Command::new("cp")
        .arg("-a")
        .arg(&pair.b)
        .arg(&dest)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    dest
}

fn paths(r: &[Vec<u8>]) -> Vec<String> {
    r.iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect()
}

/// The annexed file `f` changed on both sides: two variants, the merge
/// committed with git-annex's message, the same tree as the reference's.
#[test]
fn both_sides_annexed_are_kept_as_variants_and_committed() {
    let pair = pair();
    write(&pair.a, "f", "A\n");
    support::annex(&pair.a, &["add", "-q", "f"]);
    write(&pair.b, "f", "B\n");
    support::annex(&pair.b, &["add", "-q", "f"]);
    commit_both(&pair);
    let reference = copy(&pair, "ref");
    support::annex(&reference, &["resolvemerge"]);

    let b = &pair.b;
    let res = resolve::resolve_merge(b, &b.join(".git"), true)
        .unwrap()
        .expect("resolved");
    assert_eq!(paths(&res.resolved), ["f"]);
    assert!(res.unresolved.is_empty());
    assert_eq!(res.keys.len(), 2);
    let shown =
        String::from_utf8_lossy(res.commit_output.as_deref().unwrap_or_default()).into_owned();
    assert!(shown.contains(resolve::COMMIT_MESSAGE), "{shown}");
    assert_eq!(
        git(b, &["log", "-1", "--format=%s"]).trim(),
        resolve::COMMIT_MESSAGE
    );
    assert_eq!(
        git(b, &["log", "-1", "--format=%P"])
            .split_whitespace()
            .count(),
        2
    );
    assert_eq!(
        git(b, &["ls-tree", "-r", "HEAD"]),
        git(&reference, &["ls-tree", "-r", "HEAD"])
    );
    // Values from the reference: `A\n` and `B\n` as SHA256E keys.
    assert_eq!(git(b, &["ls-files"]), "f.variant-54e0\nf.variant-587e\np\n");
    assert!(git(b, &["status", "--porcelain"]).is_empty());
    // Both symlinks point to their content.
    assert_eq!(
        std::fs::read_to_string(b.join("f.variant-587e")).unwrap(),
        "B\n"
    );
}

/// A deletion against a modification keeps the modified version as a
/// variant, as the reference does.
#[test]
fn deleted_against_modified() {
    let pair = pair();
    write(&pair.a, "f", "A\n");
    support::annex(&pair.a, &["add", "-q", "f"]);
    git(&pair.b, &["rm", "-q", "f"]);
    commit_both(&pair);
    let reference = copy(&pair, "ref");
    support::annex(&reference, &["resolvemerge"]);
    let b = &pair.b;
    let res = resolve::resolve_merge(b, &b.join(".git"), true)
        .unwrap()
        .unwrap();
    assert_eq!(paths(&res.resolved), ["f"]);
    assert_eq!(
        git(b, &["ls-tree", "-r", "HEAD"]),
        git(&reference, &["ls-tree", "-r", "HEAD"])
    );
    assert_eq!(git(b, &["ls-files"]), "f.variant-54e0\np\n");
}

/// Two plain files: left conflicted, nothing committed, as git-annex
/// leaves them.
#[test]
fn plain_conflicts_are_left_alone() {
    let pair = pair();
    write(&pair.a, "p", "A\n");
    write(&pair.b, "p", "B\n");
    commit_both(&pair);
    let b = &pair.b;
    let head = git(b, &["rev-parse", "HEAD"]);
    assert_eq!(
        resolve::resolve_merge(b, &b.join(".git"), true).unwrap(),
        None
    );
    assert_eq!(git(b, &["rev-parse", "HEAD"]), head);
    assert!(!git(b, &["ls-files", "--unmerged"]).is_empty());
}

/// Nothing conflicted: nothing to do.
#[test]
fn no_conflict() {
    let pair = pair();
    let b = &pair.b;
    assert_eq!(
        resolve::resolve_merge(b, &b.join(".git"), true).unwrap(),
        None
    );
}

/// A plain file of theirs is grafted from `MERGE_HEAD`: without it, the
/// resolution fails and says why.
#[test]
fn graft_needs_merge_head() {
    let pair = pair();
    git(&pair.a, &["rm", "-q", "f"]);
    write(&pair.a, "f", "A\n");
    git(&pair.a, &["add", "f"]);
    write(&pair.b, "f", "B\n");
    support::annex(&pair.b, &["add", "-q", "f"]);
    commit_both(&pair);
    let b = &pair.b;
    std::fs::remove_file(b.join(".git/MERGE_HEAD")).unwrap();
    match resolve::resolve_conflicts(b, &b.join(".git"), Some("refs/heads/main")) {
        Err(ResolveError::MergeHead { path, .. }) => assert!(path.ends_with("MERGE_HEAD")),
        other => panic!("unexpected {other:?}"),
    }
}

/// Generated names and keys (a deterministic corpus): the variant names
/// the reference gives equal [`variant::variant_file`] of the name and key.
#[test]
fn generated_variant_names_match_the_reference() {
    const PARTS: &[&str] = &[
        "a",
        "b.c",
        ".",
        "..",
        ".d",
        "e.",
        "x y",
        "~",
        "é",
        "v.variant-1",
        "tar.gz",
        "-",
    ];
    const BACKENDS: &[&str] = &["SHA256E", "SHA1", "MD5E", "WORM", "URL", "BLAKE2B256E"];
    const NAMES: &[&str] = &["abc", "d.e", "h%i", "j&k", "l:m", "n.tar.gz", "ö"];
    let mut rng = support::Rng(0x0005_eed0_fa11);
    let mut files = BTreeSet::new();
    while files.len() < 24 {
        let depth = 1 + rng.below(3);
        let mut comps = Vec::new();
        for _ in 0..depth {
            let mut c = String::new();
            for _ in 0..1 + rng.below(3) {
                c.push_str(rng.pick(PARTS));
            }
            if c == "." || c == ".." {
                c.push('x');
            }
            comps.push(c);
        }
        files.insert(comps.join("/"));
    }
    // No file may be a directory of another.
    let files: Vec<String> = files
        .iter()
        .filter(|f| !files.iter().any(|g| g.starts_with(&format!("{f}/"))))
        .cloned()
        .collect();
    let mut key = |i: usize, side: &str| {
        format!(
            "{}-s{}--{}{}{}",
            rng.pick(BACKENDS),
            rng.below(1000),
            side,
            i,
            rng.pick(NAMES)
        )
    };
    let them: Vec<String> = (0..files.len()).map(|i| key(i, "t")).collect();
    let us: Vec<String> = (0..files.len()).map(|i| key(i, "u")).collect();

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let a = root.join("a");
    let b = root.join("b");
    git(&root, &["init", "-q", "-b", "main", "a"]);
    support::annex(&a, &["init", "-q", "a"]);
    let fromkey = |dir: &Path, k: &str, f: &str| {
        let full = dir.join(f);
        if std::fs::symlink_metadata(&full).is_ok() {
            std::fs::remove_file(&full).unwrap();
        }
        support::annex(dir, &["fromkey", "-q", "--force", k, f]);
    };
    for (i, f) in files.iter().enumerate() {
        fromkey(&a, &format!("SHA256E-s0--base{i}"), f);
    }
    git(&a, &["commit", "-q", "-m", "base"]);
    git(&root, &["clone", "-q", a.to_str().unwrap(), "b"]);
    support::annex(&b, &["init", "-q", "b"]);
    for (f, k) in files.iter().zip(&them) {
        fromkey(&a, k, f);
    }
    git(&a, &["commit", "-q", "-a", "-m", "them"]);
    for (f, k) in files.iter().zip(&us) {
        fromkey(&b, k, f);
    }
    git(&b, &["commit", "-q", "-a", "-m", "us"]);
    git(&b, &["fetch", "-q", "origin"]);
    git_fails(&b, &["merge", "-q", "origin/main"]);
    support::annex(&b, &["resolvemerge"]);

    let got: BTreeSet<Vec<u8>> = git(&b, &["-c", "core.quotepath=false", "ls-files", "-z"])
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(|p| p.as_bytes().to_vec())
        .collect();
    let mut want = BTreeSet::new();
    for (i, f) in files.iter().enumerate() {
        for k in [&them[i], &us[i]] {
            let key = Key::parse(k.as_bytes()).unwrap();
            want.insert(variant::variant_file(f.as_bytes(), &key));
        }
    }
    let show = |s: &BTreeSet<Vec<u8>>| {
        s.iter()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(show(&got), show(&want), "files: {files:?}");
}
