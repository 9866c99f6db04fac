//! Merge conflicts resolved as git-annex resolves them: for each kind of
//! conflict, two clones of one repository change the same path
//! differently, the merge of one into the other conflicts (a plain `git
//! merge`, or a reference `git annex sync --no-resolvemerge`), and the
//! conflicted repository is copied: one copy is resolved by the reference
//! (`git annex resolvemerge`), the other by ours. Both must give the same
//! output, exit code, commit, tree, index and work tree, and no content may
//! be lost (every key of either side is still in the tree, `git annex get`
//! finds it and `git annex fsck` passes).
//!
//! Everything is deterministic: fixed UUIDs (`annex.uuid`) and fixed
//! dates (`GIT_AUTHOR_DATE`, `GIT_COMMITTER_DATE`), so the commits of the
//! two resolutions are the same commit.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support;

const DATE: &str = "2020-01-01T00:00:00Z";
const UUID_A: &str = "11111111-1111-1111-1111-111111111111";
const UUID_B: &str = "22222222-2222-2222-2222-222222222222";

/// A command with the hermetic test environment and the fixed dates.
fn dated(mut cmd: Command, dir: &Path) -> Command {
    support::hermetic(&mut cmd)
        .current_dir(dir)
        .env("GIT_AUTHOR_DATE", DATE)
        .env("GIT_COMMITTER_DATE", DATE);
    cmd
}

fn run(cmd: Command) -> Output {
    support::output_with_stdin(cmd, None)
}

fn must(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `git ARGS` in `dir`, whatever its exit status.
fn git_output(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = dated(Command::new("git"), dir);
    cmd.args(args);
    run(cmd)
}

/// `git ARGS` in `dir`; panics on failure; stdout.
fn git(dir: &Path, args: &[&str]) -> String {
    must(git_output(dir, args), &format!("git {args:?}"))
}

/// The reference `git-annex ARGS` in `dir`, whatever its exit status.
fn reference_output(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = dated(Command::new(support::reference_git_annex()), dir);
    cmd.args(args);
    run(cmd)
}

/// The reference `git-annex ARGS` in `dir`; panics on failure; stdout.
fn reference(dir: &Path, args: &[&str]) -> String {
    must(reference_output(dir, args), &format!("git-annex {args:?}"))
}

/// The binary under test, as cargo built it for these tests.
fn ours_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_git-annex-rs"))
}

/// Our `git-annex-rs ARGS` in `dir`, whatever its exit status.
fn ours_output(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = dated(Command::new(ours_bin()), dir);
    cmd.args(args);
    run(cmd)
}

/// The conflict resolved by our implementation. This is the one step a
/// `git-annex-rs sync` variant replaces.
fn resolve_with_ours(repo: &Path) -> Output {
    ours_output(repo, &["resolvemerge"])
}

/// The conflict resolved by the reference.
fn resolve_with_reference(repo: &Path) -> Output {
    reference_output(repo, &["resolvemerge"])
}

// ---------------------------------------------------------------------
// Edits.

fn write(dir: &Path, path: &str, content: &str) {
    let full = dir.join(path);
    if let Some(parent) = full.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    if std::fs::symlink_metadata(&full).is_ok() {
        std::fs::remove_file(&full).unwrap();
    }
    std::fs::write(&full, content).unwrap();
}

/// Writes `path` and adds it to the annex, locked.
fn annexed(dir: &Path, path: &str, content: &str) {
    write(dir, path, content);
    reference(dir, &["add", "-q", "--", path]);
}

/// Writes `path` and adds it to git, not to the annex.
fn plain(dir: &Path, path: &str, content: &str) {
    write(dir, path, content);
    reference(dir, &["add", "-q", "--force-small", "--", path]);
}

/// Unlocks `path` and gives it new content (staged as an unlocked file).
fn unlocked(dir: &Path, path: &str, content: &str) {
    reference(dir, &["unlock", "-q", "--", path]);
    write(dir, path, content);
    git(dir, &["add", "--", path]);
}

fn remove(dir: &Path, path: &str) {
    git(dir, &["rm", "-q", "-r", "--", path]);
}

/// One kind of conflict: what each clone does to the base.
struct Kind {
    /// What the repository merged from does (`them`).
    them: fn(&Path),
    /// What the conflicted repository does (`us`).
    us: fn(&Path),
    /// Whether git-annex resolves it.
    resolvable: bool,
}

/// How the conflict comes about.
#[derive(Clone, Copy, Debug)]
enum How {
    /// `git fetch` and `git merge origin/main`.
    GitMerge,
    /// A reference `git annex sync --no-resolvemerge` pulling from origin.
    AnnexSync,
    /// `git merge` on a detached HEAD.
    Detached,
}

/// Two clones of one repository, `a` (the origin) and `b`.
struct Pair {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    a: PathBuf,
    b: PathBuf,
}

/// The base both clones start from: annexed `f` (locked) and `g`, plain
/// `p`, annexed `u` unlocked, an annexed file in a directory.
fn pair() -> Pair {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let a = root.join("a");
    let b = root.join("b");
    git(&root, &["init", "-q", "-b", "main", "a"]);
    git(&a, &["config", "annex.uuid", UUID_A]);
    reference(&a, &["init", "-q", "a"]);
    annexed(&a, "f", "base\n");
    annexed(&a, "g", "base g\n");
    annexed(&a, "d/x.txt", "base x\n");
    annexed(&a, "u", "base u\n");
    reference(&a, &["unlock", "-q", "u"]);
    plain(&a, "p", "plain\n");
    git(&a, &["commit", "-q", "-m", "base"]);
    git(&root, &["clone", "-q", a.to_str().unwrap(), "b"]);
    git(&b, &["config", "annex.uuid", UUID_B]);
    reference(&b, &["init", "-q", "b"]);
    Pair {
        _tmp: tmp,
        root,
        a,
        b,
    }
}

/// The keys of the annexed files of `repo`'s HEAD.
fn head_keys(repo: &Path) -> BTreeSet<String> {
    reference(
        repo,
        &["find", "--include=*", "--branch=HEAD", "--format=${key}\\n"],
    )
    .lines()
    .map(str::to_string)
    .collect()
}

/// The keys of the annexed files of `repo`'s index (the resolution is
/// not committed while conflicts between plain files remain).
fn index_keys(repo: &Path) -> BTreeSet<String> {
    reference(repo, &["find", "--include=*", "--format=${key}\\n"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// The keys whose content `repo` has.
fn present_keys(repo: &Path) -> BTreeSet<String> {
    reference(repo, &["find", "--format=${key}\\n"])
        .lines()
        .map(str::to_string)
        .collect()
}

/// Both clones after `kind`'s edits, each committed, not merged yet; with
/// the keys of both sides' trees and the keys whose content `b` has.
fn edited(kind: &Kind) -> (Pair, BTreeSet<String>, BTreeSet<String>) {
    let pair = pair();
    (kind.them)(&pair.a);
    git(&pair.a, &["add", "-A"]);
    git(&pair.a, &["commit", "-q", "-m", "them"]);
    // The location logs of what `git add` (the clean filter) recorded go
    // into the git-annex branch, so the other clone knows where content is.
    reference(&pair.a, &["merge", "-q"]);
    (kind.us)(&pair.b);
    git(&pair.b, &["add", "-A"]);
    git(&pair.b, &["commit", "-q", "-m", "us"]);
    reference(&pair.b, &["merge", "-q"]);
    let mut keys = head_keys(&pair.a);
    keys.extend(head_keys(&pair.b));
    let had = present_keys(&pair.b);
    (pair, keys, had)
}

/// The conflicted clone `b` after `kind`'s edits and a merge made `how`,
/// with the keys of both sides' trees and the keys whose content `b` had
/// before the merge.
fn conflicted(kind: &Kind, how: How) -> (Pair, BTreeSet<String>, BTreeSet<String>) {
    let (pair, keys, had) = edited(kind);
    let merged = match how {
        How::GitMerge => {
            git(&pair.b, &["fetch", "-q", "origin"]);
            git_output(&pair.b, &["merge", "-q", "origin/main"])
        }
        How::Detached => {
            git(&pair.b, &["fetch", "-q", "origin"]);
            git(&pair.b, &["checkout", "-q", "--detach"]);
            git_output(&pair.b, &["merge", "-q", "origin/main"])
        }
        How::AnnexSync => reference_output(
            &pair.b,
            &[
                "sync",
                "--no-resolvemerge",
                "--no-push",
                "--no-content",
                "origin",
            ],
        ),
    };
    assert!(
        !merged.status.success(),
        "the merge ({how:?}) did not conflict: {}",
        String::from_utf8_lossy(&merged.stdout)
    );
    assert!(
        !git(&pair.b, &["ls-files", "--unmerged"]).is_empty(),
        "no conflict left by {how:?}"
    );
    (pair, keys, had)
}

/// Copies the conflicted repository `b` to `name` beside it.
fn copy(pair: &Pair, name: &str) -> PathBuf {
    let dest = pair.root.join(name);
    let out = Command::new("cp")
        .arg("-a")
        .arg(&pair.b)
        .arg(&dest)
        .output()
        .unwrap();
    assert!(out.status.success(), "cp -a failed");
    dest
}

/// The work tree as a listing: each path (outside `.git`), its kind, the
/// target of a symlink or the content of a file, and the executable bit.
fn work_tree(repo: &Path) -> String {
    fn walk(top: &Path, dir: &Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let rel = p.strip_prefix(top).unwrap().to_string_lossy().into_owned();
            if rel == ".git" {
                continue;
            }
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.file_type().is_symlink() {
                out.push(format!(
                    "{rel} -> {}",
                    std::fs::read_link(&p).unwrap().display()
                ));
            } else if meta.is_dir() {
                out.push(format!("{rel}/"));
                walk(top, &p, out);
            } else {
                let exec = meta.permissions().mode() & 0o100 != 0;
                out.push(format!(
                    "{rel} {} {:?}",
                    if exec { "x" } else { "-" },
                    String::from_utf8_lossy(&std::fs::read(&p).unwrap())
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(repo, repo, &mut out);
    out.join("\n")
}

/// What must be the same after both resolutions: the commit, its tree,
/// the index and the work tree.
fn snapshot(repo: &Path) -> String {
    format!(
        "HEAD {}\n{}\nindex:\n{}\nstatus:\n{}\nwork tree:\n{}",
        git(repo, &["rev-parse", "HEAD"]),
        git(repo, &["ls-tree", "-r", "HEAD"]),
        git(repo, &["ls-files", "-s"]),
        git(repo, &["status", "--porcelain"]),
        work_tree(repo)
    )
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// No content is lost in `repo` after the resolution: every key either
/// side had is still in the tree, and all of them can be got (from the
/// origin) and pass `fsck`.
fn assert_nothing_lost(repo: &Path, keys: &BTreeSet<String>, had: &BTreeSet<String>) {
    let now = index_keys(repo);
    for k in keys {
        assert!(now.contains(k), "key {k} is gone from the resolved tree");
    }
    for k in had {
        assert!(
            present_keys(repo).contains(k),
            "content of {k} is no longer here"
        );
    }
    reference(repo, &["get", "-q", "."]);
    must(reference_output(repo, &["fsck", "-q"]), "git annex fsck");
    for k in keys {
        assert!(
            present_keys(repo).contains(k),
            "content of {k} could not be got back"
        );
    }
}

/// Creates the conflict `how`, resolves it with both implementations and
/// compares.
fn check(kind: &Kind, how: How) {
    let (pair, keys, had) = conflicted(kind, how);
    let ours_repo = copy(&pair, "ours");
    let theirs = resolve_with_reference(&pair.b);
    let ours = resolve_with_ours(&ours_repo);
    assert_eq!(
        text(&ours.stdout),
        text(&theirs.stdout),
        "stdout differs; stderr ours: {} reference: {}",
        text(&ours.stderr),
        text(&theirs.stderr)
    );
    assert_eq!(
        ours.status.code(),
        theirs.status.code(),
        "exit codes differ"
    );
    assert_eq!(ours.status.success(), kind.resolvable);
    if !kind.resolvable {
        assert_eq!(
            text(&ours.stderr),
            text(&theirs.stderr).replace("git-annex:", "git-annex-rs:"),
        );
    }
    assert_eq!(snapshot(&ours_repo), snapshot(&pair.b));
    if kind.resolvable {
        assert_nothing_lost(&ours_repo, &keys, &had);
    }
    if let How::AnnexSync = how {
        // The reference's own sync, resolving as it merges, gives the
        // same tree.
        let (pair2, _, _) = edited(kind);
        let out = reference_output(&pair2.b, &["sync", "--no-push", "--no-content", "origin"]);
        // Sync succeeds when no conflict is left (its commit fails while
        // plain files stay conflicted).
        let clean = git(&ours_repo, &["ls-files", "--unmerged"]).is_empty();
        assert_eq!(
            out.status.success(),
            kind.resolvable && clean,
            "{}",
            text(&out.stdout)
        );
        if kind.resolvable {
            assert_eq!(
                git(&pair2.b, &["ls-files", "-s"]),
                git(&ours_repo, &["ls-files", "-s"])
            );
        }
        // Our sync, making the conflict and resolving it as it merges,
        // ends as the reference's sync: same exit status, same index, and
        // nothing lost.
        let (pair3, keys3, had3) = edited(kind);
        let mine = ours_output(&pair3.b, &["sync", "--no-push", "--no-content", "origin"]);
        assert_eq!(
            mine.status.success(),
            out.status.success(),
            "our sync: {}{}",
            text(&mine.stdout),
            text(&mine.stderr)
        );
        if kind.resolvable {
            assert_eq!(
                git(&pair3.b, &["ls-files", "-s"]),
                git(&pair2.b, &["ls-files", "-s"]),
                "index after our sync"
            );
            assert_nothing_lost(&pair3.b, &keys3, &had3);
        }
    }
}

macro_rules! conflict_tests {
    ($($name:ident => $kind:expr;)*) => {
        mod by_git_merge {
            use super::*;
            $(#[test] fn $name() { check(&$kind, How::GitMerge) })*
        }
        mod by_annex_sync {
            use super::*;
            $(#[test] fn $name() { check(&$kind, How::AnnexSync) })*
        }
    };
}

conflict_tests! {
    annexed_both_locked => Kind {
        them: |d| annexed(d, "f", "A\n"),
        us: |d| annexed(d, "f", "B\n"),
        resolvable: true,
    };
    annexed_both_unlocked => Kind {
        them: |d| unlocked(d, "f", "A\n"),
        us: |d| unlocked(d, "f", "B\n"),
        resolvable: true,
    };
    annexed_unlocked_file_both => Kind {
        them: |d| write(d, "u", "A\n"),
        us: |d| write(d, "u", "B\n"),
        resolvable: true,
    };
    annexed_ours_plain_theirs => Kind {
        them: |d| { remove(d, "f"); plain(d, "f", "A\n") },
        us: |d| annexed(d, "f", "B\n"),
        resolvable: true,
    };
    plain_ours_annexed_theirs => Kind {
        them: |d| annexed(d, "f", "A\n"),
        us: |d| { remove(d, "f"); plain(d, "f", "B\n") },
        resolvable: true,
    };
    executable_plain_theirs => Kind {
        them: |d| {
            remove(d, "f");
            write(d, "f", "#!/bin/sh\n");
            std::fs::set_permissions(d.join("f"), std::fs::Permissions::from_mode(0o755)).unwrap();
            reference(d, &["add", "-q", "--force-small", "f"]);
        },
        us: |d| annexed(d, "f", "B\n"),
        resolvable: true,
    };
    deleted_ours_modified_theirs => Kind {
        them: |d| annexed(d, "f", "A\n"),
        us: |d| remove(d, "f"),
        resolvable: true,
    };
    modified_ours_deleted_theirs => Kind {
        them: |d| remove(d, "f"),
        us: |d| annexed(d, "f", "B\n"),
        resolvable: true,
    };
    deleted_unlocked_modified => Kind {
        them: |d| write(d, "u", "A\n"),
        us: |d| remove(d, "u"),
        resolvable: true,
    };
    locked_ours_unlocked_theirs_same_content => Kind {
        them: |d| unlocked(d, "f", "X\n"),
        us: |d| annexed(d, "f", "X\n"),
        resolvable: true,
    };
    unlocked_ours_locked_theirs_same_content => Kind {
        them: |d| annexed(d, "f", "X\n"),
        us: |d| unlocked(d, "f", "X\n"),
        resolvable: true,
    };
    locked_ours_unlocked_theirs => Kind {
        them: |d| unlocked(d, "f", "X\n"),
        us: |d| annexed(d, "f", "Y\n"),
        resolvable: true,
    };
    unlocked_ours_locked_theirs => Kind {
        them: |d| annexed(d, "f", "Y\n"),
        us: |d| unlocked(d, "f", "X\n"),
        resolvable: true,
    };
    file_ours_directory_theirs => Kind {
        them: |d| { remove(d, "f"); annexed(d, "f/h", "in dir\n") },
        us: |d| annexed(d, "f", "B\n"),
        resolvable: true,
    };
    directory_ours_file_theirs => Kind {
        them: |d| annexed(d, "f", "A\n"),
        us: |d| { remove(d, "f"); annexed(d, "f/h", "in dir\n") },
        resolvable: true,
    };
    plain_directory_ours_file_theirs => Kind {
        them: |d| annexed(d, "f", "A\n"),
        us: |d| { remove(d, "f"); plain(d, "f/h", "in dir\n") },
        resolvable: true,
    };
    subdirectory_with_extension => Kind {
        them: |d| annexed(d, "d/x.txt", "A\n"),
        us: |d| annexed(d, "d/x.txt", "B\n"),
        resolvable: true,
    };
    plain_both => Kind {
        them: |d| plain(d, "p", "A\n"),
        us: |d| plain(d, "p", "B\n"),
        resolvable: false,
    };
    plain_both_and_annexed_both => Kind {
        them: |d| { plain(d, "p", "A\n"); annexed(d, "f", "A\n") },
        us: |d| { plain(d, "p", "B\n"); annexed(d, "f", "B\n") },
        resolvable: true,
    };
    // git-annex pairs a conflict missing our side with the next entry when
    // that one is ours: here `f` (deleted by us) takes `g`'s side, so `g`
    // leaves the tree and its version becomes a variant of `f`. Content is
    // kept; we do the same.
    deleted_ours_then_both_modified => Kind {
        them: |d| { annexed(d, "f", "A\n"); annexed(d, "g", "A g\n") },
        us: |d| { remove(d, "f"); annexed(d, "g", "B g\n") },
        resolvable: true,
    };
    renamed_differently => Kind {
        them: |d| { git(d, &["mv", "f", "g2"]); },
        us: |d| { git(d, &["mv", "f", "h2"]); },
        resolvable: true,
    };
    renamed_alike_and_modified => Kind {
        them: |d| { git(d, &["mv", "f", "g2"]); annexed(d, "g2", "A\n") },
        us: |d| { git(d, &["mv", "f", "g2"]); annexed(d, "g2", "B\n") },
        resolvable: true,
    };
    plain_file_against_plain_symlink => Kind {
        them: |d| {
            std::fs::remove_file(d.join("p")).unwrap();
            std::os::unix::fs::symlink("target", d.join("p")).unwrap();
        },
        us: |d| plain(d, "p", "B\n"),
        resolvable: false,
    };
    many_files_at_once => Kind {
        them: |d| {
            annexed(d, "f", "A\n");
            annexed(d, "d/x.txt", "A x\n");
            write(d, "u", "A u\n");
            remove(d, "g");
        },
        us: |d| {
            annexed(d, "f", "B\n");
            annexed(d, "d/x.txt", "B x\n");
            remove(d, "u");
            annexed(d, "g", "B g\n");
        },
        resolvable: true,
    };
}

/// Variant names for many kinds of names and keys (dotfiles, several
/// extensions, a name that already has a variant, keys with characters
/// escaped in file names): both sides made with `fromkey`, so no content.
#[test]
fn variant_names_match_the_reference() {
    const FILES: &[&str] = &[
        ".dot",
        "d/.dot",
        ".a.b",
        "d/.x/.y",
        "x.tar.gz",
        "noext",
        "v.variant-ab12.txt",
        "dir.d/file",
        "dir.variant-1/f.txt",
        "trail.",
        "sp ace.mp3",
        "\u{fc}n\u{ef}.txt",
    ];
    const THEM: &[&str] = &[
        "SHA256E-s1--aa.txt",
        "SHA256E-s1--aa.txt",
        "SHA256E-s1--aa.txt",
        "SHA256E-s1--aa.txt",
        "WORM-s5-m100--foo",
        "MD5-s3--0123456789abcdef0123456789abcdef",
        "SHA256E-s10--with%slash",
        "URL--http&c%%example.com%x",
        "SHA1-s0--da39a3ee5e6b4b0d3255bfef95601890afd80709",
        "SHA256-s2--bb",
        "BLAKE2B256E-s7--cc.mp3",
        "SHA256E-s1--ff.txt",
    ];
    const US: &[&str] = &[
        "SHA256E-s2--bb.txt",
        "SHA256E-s2--bb.txt",
        "SHA256E-s2--bb.txt",
        "SHA256E-s2--bb.txt",
        "WORM-s6-m200--bar",
        "MD5-s4--fedcba9876543210fedcba9876543210",
        "SHA256E-s11--other",
        "URL--http&c%%example.com%y",
        "SHA1-s1--aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d",
        "SHA256-s3--dd",
        "BLAKE2B256E-s8--ee.mp3",
        "SHA256E-s2--00.txt",
    ];
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let a = root.join("a");
    let b = root.join("b");
    git(&root, &["init", "-q", "-b", "main", "a"]);
    git(&a, &["config", "annex.uuid", UUID_A]);
    reference(&a, &["init", "-q", "a"]);
    let fromkey = |dir: &Path, key: &str, file: &str| {
        let full = dir.join(file);
        if std::fs::symlink_metadata(&full).is_ok() {
            std::fs::remove_file(&full).unwrap();
        }
        reference(dir, &["fromkey", "-q", "--force", key, file]);
    };
    for (i, f) in FILES.iter().enumerate() {
        fromkey(&a, &format!("SHA256E-s0--base{i}"), f);
    }
    git(&a, &["commit", "-q", "-m", "base"]);
    git(&root, &["clone", "-q", a.to_str().unwrap(), "b"]);
    git(&b, &["config", "annex.uuid", UUID_B]);
    reference(&b, &["init", "-q", "b"]);
    for (f, k) in FILES.iter().zip(THEM) {
        fromkey(&a, k, f);
    }
    git(&a, &["commit", "-q", "-a", "-m", "them"]);
    for (f, k) in FILES.iter().zip(US) {
        fromkey(&b, k, f);
    }
    git(&b, &["commit", "-q", "-a", "-m", "us"]);
    git(&b, &["fetch", "-q", "origin"]);
    assert!(
        !git_output(&b, &["merge", "-q", "origin/main"])
            .status
            .success()
    );
    let pair = Pair {
        _tmp: tmp,
        root,
        a,
        b,
    };
    let ours_repo = copy(&pair, "ours");
    let theirs = resolve_with_reference(&pair.b);
    let ours = resolve_with_ours(&ours_repo);
    assert!(theirs.status.success(), "{}", text(&theirs.stderr));
    assert_eq!(
        text(&ours.stdout),
        text(&theirs.stdout),
        "{}",
        text(&ours.stderr)
    );
    assert_eq!(snapshot(&ours_repo), snapshot(&pair.b));
    // Two variants of every file, and nothing else.
    assert_eq!(
        git(&ours_repo, &["ls-files"]).lines().count(),
        2 * FILES.len()
    );
}

/// Without a merge in progress, both fail the same way, at the top and in
/// a subdirectory (the path of `MERGE_HEAD` is shown from there).
#[test]
fn no_merge_in_progress() {
    let pair = pair();
    for dir in [pair.b.clone(), pair.b.join("d")] {
        let theirs = resolve_with_reference(&dir);
        let ours = resolve_with_ours(&dir);
        assert_eq!(text(&ours.stdout), text(&theirs.stdout));
        assert_eq!(ours.status.code(), theirs.status.code());
        assert!(!ours.status.success());
        assert_eq!(
            text(&ours.stderr),
            text(&theirs.stderr).replace("git-annex:", "git-annex-rs:")
        );
    }
}

/// On a detached HEAD, conflicts that need no graft from our side are
/// resolved all the same.
#[test]
fn detached_head() {
    check(
        &Kind {
            them: |d| {
                annexed(d, "f", "A\n");
                remove(d, "g");
            },
            us: |d| {
                annexed(d, "f", "B\n");
                annexed(d, "g", "B g\n");
            },
            resolvable: true,
        },
        How::Detached,
    );
}

/// From a subdirectory, ours resolves as the reference does from the top.
/// (The reference itself fails there: its `git rm` is given paths relative
/// to the wrong directory and it stops half-way.)
#[test]
fn from_a_subdirectory() {
    let kind = Kind {
        them: |d| {
            annexed(d, "f", "A\n");
            annexed(d, "d/x.txt", "A x\n");
        },
        us: |d| {
            annexed(d, "f", "B\n");
            remove(d, "d/x.txt");
        },
        resolvable: true,
    };
    let (pair, keys, had) = conflicted(&kind, How::GitMerge);
    let ours_repo = copy(&pair, "ours");
    std::fs::create_dir_all(ours_repo.join("d")).unwrap();
    let theirs = resolve_with_reference(&pair.b);
    let ours = resolve_with_ours(&ours_repo.join("d"));
    assert!(theirs.status.success());
    assert_eq!(
        text(&ours.stdout),
        text(&theirs.stdout),
        "{}",
        text(&ours.stderr)
    );
    assert_eq!(snapshot(&ours_repo), snapshot(&pair.b));
    assert_nothing_lost(&ours_repo, &keys, &had);
}
