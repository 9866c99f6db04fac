//! Integration tests: branch.

use std::path::{Path, PathBuf};

use annex_core::branch::{Branch, merge::union_lines};
use annex_core::journal::{branch_path_of, journal_file_name};
use annex_core::repo::Repo;
use proptest::prelude::*;

use crate::support;

fn show(dir: &Path, path: &str) -> Vec<u8> {
    support::git(dir, &["show", &format!("git-annex:{path}")]).into_bytes()
}

fn open_branch(dir: &Path) -> Branch {
    Repo::open(dir).expect("open").branch().expect("branch")
}

/// Every path of the branch, as [`Branch::for_each_path`] gives them.
fn paths(b: &Branch) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    b.for_each_path(|p| {
        v.push(p.to_vec());
        Ok::<(), annex_core::branch::BranchError>(())
    })
    .expect("paths");
    v
}

fn uuid(dir: &Path) -> String {
    support::git(dir, &["config", "annex.uuid"])
        .trim()
        .to_owned()
}

/// A uuid.log line for `u`, as the reference writes them.
fn uuid_line(u: &str, desc: &str, t: u64) -> String {
    format!("{u} {desc} timestamp={t}s\n")
}

/// Replaces `u`'s line of a uuid.log.
fn describe(old: &[u8], u: &str, desc: &str, t: u64) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::new();
    for l in old.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        if !l.starts_with(u.as_bytes()) {
            out.extend_from_slice(l);
            out.push(b'\n');
        }
    }
    out.extend_from_slice(uuid_line(u, desc, t).as_bytes());
    out
}

/// Adds the repository `00000000-1111-...` described `x` to a uuid.log.
fn describe_x(old: &[u8]) -> Vec<u8> {
    describe(
        old,
        "00000000-1111-2222-3333-444444444444",
        "x",
        2_000_000_000,
    )
}

fn here_description(dir: &Path) -> String {
    let out = support::annex(dir, &["info", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    for level in [
        "semitrusted repositories",
        "trusted repositories",
        "untrusted repositories",
    ] {
        for r in v[level].as_array().expect("list") {
            if r["here"].as_bool() == Some(true) {
                return r["description"].as_str().expect("desc").to_owned();
            }
        }
    }
    panic!("no repository here in {out}")
}

/// A repository `a` under `top` (a first commit, initialized by the
/// reference, `then` run in it) and its clone `b`, initialized too.
fn a_and_clone(top: &Path, then: impl Fn(&Path)) -> (PathBuf, PathBuf) {
    let a = top.join("a");
    std::fs::create_dir(&a).expect("mkdir");
    support::git(&a, &["init", "-q", "-b", "main"]);
    support::git(&a, &["commit", "-q", "--allow-empty", "-m", "first"]);
    support::annex(&a, &["init", "a"]);
    then(&a);
    support::git(top, &["clone", "-q", "a", "b"]);
    let b = top.join("b");
    support::annex(&b, &["init", "b"]);
    (a, b)
}

/// Moves the `git-annex` branch of `a` to its clone `b`'s (see
/// [`a_and_clone`]), as a push into it does (done by hand so that no
/// post-receive hook brings the index up to date).
fn move_branch_to_clones(a: &Path) {
    support::git(a, &["fetch", "-q", "../b", "git-annex:refs/heads/from-b"]);
    support::git(
        a,
        &["update-ref", "refs/heads/git-annex", "refs/heads/from-b"],
    );
}

#[test]
fn interleaved_writes_with_the_reference_lose_nothing() {
    let dir = support::new_git_repo();
    let d = dir.path();
    support::annex(d, &["init", "start"]);
    let u = uuid(d);
    let branch = open_branch(d);
    // The reference's committed content reads the same through us.
    assert_eq!(branch.get(b"uuid.log").expect("get"), show(d, "uuid.log"));

    for round in 0..3u64 {
        // We describe, and commit.
        let desc = format!("ours-{round}");
        branch
            .change(b"uuid.log", |old| {
                describe(old, &u, &desc, 2_000_000_000 + round * 10)
            })
            .expect("change");
        branch.commit("update").expect("commit").expect("a commit");
        let ours = show(d, "uuid.log");
        assert_eq!(here_description(d), desc);

        // The reference writes another file and commits: ours stays as is,
        // not reverted, not unioned with the stale version.
        support::annex(d, &["untrust", "here"]);
        assert_eq!(show(d, "uuid.log"), ours, "round {round}: uuid.log changed");
        let trust = show(d, "trust.log");
        assert_eq!(branch.get(b"trust.log").expect("get"), trust);
        assert_eq!(branch.committed(b"trust.log").expect("get"), Some(trust));

        // The reference describes; we read exactly what it committed.
        let theirs = format!("theirs-{round}");
        support::annex(d, &["describe", "here", &theirs]);
        let log = show(d, "uuid.log");
        assert_eq!(branch.get(b"uuid.log").expect("get"), log);
        assert!(String::from_utf8_lossy(&log).contains(&theirs));
        support::annex(d, &["semitrust", "here"]);
    }
    // The reference sees a healthy branch.
    support::annex(d, &["fsck", "--fast"]);
    let n = support::git(d, &["rev-list", "--count", "git-annex"]);
    assert!(n.trim().parse::<u32>().expect("count") > 8);
}

#[test]
fn uncommitted_journal_is_shared_both_ways() {
    let dir = support::new_git_repo();
    let d = dir.path();
    support::annex(d, &["init", "start"]);
    let u = uuid(d);
    let branch = open_branch(d);

    // Ours, only in the journal: the reference reads it.
    branch
        .change(b"uuid.log", |old| {
            describe(old, &u, "journalled-by-us", 2_000_000_000)
        })
        .expect("change");
    assert!(branch.journal().is_dirty().expect("dirty"));
    assert!(!String::from_utf8_lossy(&show(d, "uuid.log")).contains("journalled-by-us"));
    assert_eq!(here_description(d), "journalled-by-us");

    // Theirs, only in the journal: we read it.
    support::git(
        d,
        &[
            "-c",
            "annex.alwayscommit=false",
            "annex",
            "describe",
            "here",
            "journalled-by-them",
        ],
    );
    let committed = branch
        .committed(b"uuid.log")
        .expect("committed")
        .unwrap_or_default();
    let current = branch.get(b"uuid.log").expect("get");
    assert!(!String::from_utf8_lossy(&committed).contains("journalled-by-them"));
    assert!(String::from_utf8_lossy(&current).contains("journalled-by-them"));
    assert_eq!(
        branch.journal().files().expect("files"),
        vec![b"uuid.log".to_vec()]
    );
    // We commit their journal; the reference agrees.
    branch.commit("update").expect("commit");
    assert!(!branch.journal().is_dirty().expect("dirty"));
    assert_eq!(show(d, "uuid.log"), current);
    assert_eq!(here_description(d), "journalled-by-them");
}

#[test]
fn nested_paths_and_file_listing() {
    let dir = support::new_git_repo();
    let d = dir.path();
    Repo::init(d, Some("x")).expect("init");
    let branch = open_branch(d);
    let key_log = b"a1b/c2d/SHA256E-s1--x_y.log".to_vec();
    branch
        .change(&key_log, |_| b"1700000000s 1 abc\n".to_vec())
        .expect("change");
    assert!(
        branch
            .journal()
            .dir()
            .join("a1b_c2d_SHA256E-s1--x__y.log")
            .exists(),
        "journal file name"
    );
    let before = paths(&branch);
    assert!(before.contains(&key_log));
    let mut seen = Vec::new();
    branch
        .for_each_file(|_| true, |p, c| seen.push((p.to_vec(), c.to_vec())))
        .expect("walk");
    assert!(seen.contains(&(key_log.clone(), b"1700000000s 1 abc\n".to_vec())));
    branch.commit("update").expect("commit");
    assert_eq!(
        show(d, "a1b/c2d/SHA256E-s1--x_y.log"),
        b"1700000000s 1 abc\n".to_vec()
    );
    assert_eq!(paths(&branch), before);
    let mut again = Vec::new();
    branch
        .for_each_file(
            |p| p.ends_with(b".log"),
            |p, c| again.push((p.to_vec(), c.to_vec())),
        )
        .expect("walk");
    assert_eq!(again.len(), 2, "{again:?}");
    // The reference reads the whole branch without complaint.
    let ls = support::git(d, &["ls-tree", "-r", "--name-only", "git-annex"]);
    assert_eq!(ls, "a1b/c2d/SHA256E-s1--x_y.log\nuuid.log\n");
    support::annex(d, &["fsck", "--fast"]);
}

/// `for_each_path` streams the committed tree merged with the journal:
/// every path once, sorted (a path in both counted once, journalled
/// paths before, between and after the committed ones, in a directory
/// sorting next to a file of the same prefix), and the caller's first
/// error stops the walk and comes back.
#[test]
fn branch_paths_are_streamed_sorted_with_the_journal_merged() {
    let dir = support::new_git_repo();
    let d = dir.path();
    Repo::init(d, Some("x")).expect("init");
    let branch = open_branch(d);
    let committed = [
        &b"a1b/c2d/K1.log"[..],
        b"f00/f00/K2.log",
        b"x.log",
        b"x/y.log",
    ];
    for p in committed {
        branch.change(p, |_| b"1\n".to_vec()).expect("change");
    }
    branch.commit("c").expect("commit");
    let journalled = [
        &b"000/000/K0.log"[..],
        b"a1b/c2d/K1.log",
        b"a1b/c2e/K3.log",
        b"x.logz",
        b"zz.log",
    ];
    for p in journalled {
        branch.change(p, |_| b"2\n".to_vec()).expect("change");
    }
    let mut expect: Vec<Vec<u8>> = support::git(d, &["ls-tree", "-r", "--name-only", "git-annex"])
        .lines()
        .map(|l| l.as_bytes().to_vec())
        .chain(journalled.iter().map(|p| p.to_vec()))
        .collect();
    expect.sort();
    expect.dedup();
    let got = paths(&branch);
    assert_eq!(got, expect);
    assert!(got.contains(&b"x/y.log".to_vec()) && got.contains(&b"zz.log".to_vec()));
    // Stopping: the caller's error, after exactly the paths up to it.
    for stop_at in [0, 3, got.len() - 1] {
        let mut seen = 0;
        let r = branch.for_each_path(|_| {
            if seen == stop_at {
                return Err(annex_core::branch::BranchError::Raced(format!(
                    "stop {stop_at}"
                )));
            }
            seen += 1;
            Ok(())
        });
        match r {
            Err(annex_core::branch::BranchError::Raced(m)) => {
                assert_eq!(m, format!("stop {stop_at}"))
            }
            other => panic!("stop at {stop_at}: {other:?}"),
        }
        assert_eq!(seen, stop_at);
    }
}

/// Two clones change the same log; each merges the other's branch (the
/// reference with `git annex merge`, we with `Branch::update`): both end
/// with the same content in every file.
#[test]
fn merge_matches_the_reference() {
    let top = tempfile::tempdir().expect("tmp");
    let r1 = top.path().join("r1");
    let r2 = top.path().join("r2");
    std::fs::create_dir(&r1).expect("mkdir");
    support::git(&r1, &["init", "-q", "-b", "main"]);
    support::git(&r1, &["commit", "-q", "--allow-empty", "-m", "first"]);
    support::annex(&r1, &["init", "one"]);
    support::git(top.path(), &["clone", "-q", "r1", "r2"]);
    Repo::init(&r2, Some("two")).expect("init r2");
    support::git(&r1, &["remote", "add", "r2", "../r2"]);
    let u1 = uuid(&r1);
    let u2 = uuid(&r2);
    // r2's branch was made from origin/git-annex, as the reference does.
    let b2 = open_branch(&r2);
    assert!(String::from_utf8_lossy(&b2.get(b"uuid.log").expect("get")).contains(&u1));

    // Concurrent changes to the same logs.
    support::annex(&r1, &["describe", "here", "one-changed"]);
    support::annex(&r1, &["untrust", "here"]);
    b2.change(b"uuid.log", |old| {
        describe(old, &u2, "two-changed", 2_000_000_000)
    })
    .expect("change");
    b2.change(b"trust.log", |old| {
        let mut v = old.to_vec();
        v.extend_from_slice(format!("{u2} 0 timestamp=2000000000s\n").as_bytes());
        v
    })
    .expect("change");
    b2.commit("update").expect("commit");

    // Both fetch before either merges.
    support::git(&r1, &["fetch", "-q", "r2"]);
    support::git(&r2, &["fetch", "-q", "origin"]);
    support::annex(&r1, &["merge"]);
    let outcome = b2.update().expect("merge");
    assert_eq!(outcome.merged.len(), 1, "{outcome:?}");
    assert!(!outcome.fast_forwarded);

    let tree = |d: &Path| support::git(d, &["ls-tree", "-r", "git-annex"]);
    assert_eq!(tree(&r1), tree(&r2));
    let parents = support::git(&r2, &["log", "-1", "--format=%P %s", "git-annex"]);
    assert_eq!(
        parents.split(' ').count(),
        2 + "merging origin/git-annex into git-annex".split(' ').count(),
        "{parents}"
    );
    assert!(
        parents
            .trim_end()
            .ends_with("merging origin/git-annex into git-annex"),
        "{parents}"
    );

    // Nothing left to merge for either, and the reference is content.
    let again = b2.update().expect("merge again");
    assert!(again.merged.is_empty(), "{again:?}");
    support::annex(&r2, &["merge"]);
    assert_eq!(tree(&r1), tree(&r2));
    support::annex(&r2, &["fsck", "--fast"]);
    let desc = support::annex(&r2, &["info", "--fast"]);
    assert!(
        desc.contains("one-changed") && desc.contains("two-changed"),
        "{desc}"
    );

    // Fast-forward: r1 takes in our merge commit and moves on; r2 then
    // merges it without a merge commit.
    support::git(&r1, &["fetch", "-q", "r2"]);
    support::annex(&r1, &["merge"]);
    support::annex(&r1, &["describe", "here", "one-again"]);
    support::git(&r2, &["fetch", "-q", "origin"]);
    let ff = b2.update().expect("ff");
    assert!(ff.fast_forwarded, "{ff:?}");
    assert_eq!(
        support::git(&r2, &["rev-parse", "git-annex"]),
        support::git(&r1, &["rev-parse", "git-annex"])
    );
}

#[test]
fn union_lines_matches_reference_rules() {
    assert_eq!(union_lines(&[b"b\na\n", b"c\n"]), b"a\nb\nc\n");
    assert_eq!(union_lines(&[b"b\na\n", b"a\n"]), b"b\na\n");
    assert_eq!(union_lines(&[b"a\n", b"a\nb\n"]), b"a\nb\n");
    assert_eq!(union_lines(&[b"x", b"y\n"]), b"x\ny\n");
}

#[test]
fn corrupted_branch_ref_is_an_error() {
    let dir = support::new_git_repo();
    let d = dir.path();
    Repo::init(d, None).expect("init");
    let branch = open_branch(d);
    branch
        .change(b"x.log", |_| b"1\n".to_vec())
        .expect("change");
    let refpath = d.join(".git/refs/heads/git-annex");
    std::fs::write(&refpath, "1234567890123456789012345678901234567890\n").expect("write");
    let e = branch.get(b"uuid.log").expect_err("missing commit");
    assert!(e.to_string().contains("git-annex"), "{e}");
    let e = branch
        .commit("update")
        .expect_err("cannot commit onto a missing commit");
    assert!(e.to_string().contains("git-annex"), "{e}");
    std::fs::write(&refpath, "garbage\n").expect("write");
    assert!(branch.get(b"uuid.log").is_err());
    assert!(branch.commit("update").is_err());
    assert!(branch.update().is_err());
    // Nothing journalled was lost.
    assert_eq!(
        branch.journal().read(b"x.log").expect("read"),
        Some(b"1\n".to_vec())
    );
}

#[test]
fn missing_branch_is_created_on_commit() {
    let dir = support::new_git_repo();
    let d = dir.path();
    let branch = open_branch(d);
    assert_eq!(branch.tip().expect("tip"), None);
    assert_eq!(branch.get(b"uuid.log").expect("get"), b"");
    branch
        .change(b"uuid.log", |_| b"u1 d timestamp=1s\n".to_vec())
        .expect("change");
    branch.commit("update").expect("commit");
    assert_eq!(show(d, "uuid.log"), b"u1 d timestamp=1s\n");
    let subjects = support::git(d, &["log", "--format=%s", "git-annex"]);
    assert_eq!(subjects, "update\nbranch created\n");
}

#[test]
fn garbage_journal_file_is_handled() {
    let dir = support::new_git_repo();
    let d = dir.path();
    Repo::init(d, Some("g")).expect("init");
    let branch = open_branch(d);
    let jdir = branch.journal().dir();
    std::fs::create_dir_all(&jdir).expect("mkdir");
    // An interrupted append: the incomplete last line is dropped on read.
    std::fs::write(jdir.join("foo.log"), b"good line\n\xff\x00partial").expect("write");
    assert_eq!(branch.get(b"foo.log").expect("get"), b"good line\n");
    // Bad journalled paths are refused, not panicked on.
    assert!(branch.get(b"../x").is_err());
    assert!(branch.get(b"").is_err());
    assert!(branch.change(b"a//b", |_| Vec::new()).is_err());
    branch.commit("update").expect("commit");
    support::annex(d, &["fsck", "--fast"]);
}

proptest! {
    #[test]
    fn journal_names_round_trip(
        comps in proptest::collection::vec(
            proptest::collection::vec(any::<u8>().prop_filter("no slash", |b| *b != b'/'), 1..12),
            1..5,
        )
    ) {
        // Branch paths: non-empty components joined by `/`. git-annex's
        // escaping is ambiguous for a component starting with `_` after a
        // `/` ("a/_b" and "a_/b" both become "a___b"), so those are left
        // out: the reference decodes them the same lossy way we do.
        let comps: Vec<Vec<u8>> = comps
            .into_iter()
            .enumerate()
            .map(|(i, mut c)| {
                if i > 0 && c[0] == b'_' {
                    c[0] = b'x';
                }
                c
            })
            .collect();
        let path = comps.join(&b'/');
        let name = journal_file_name(&path);
        prop_assert!(!name.contains(&b'/'));
        prop_assert_eq!(branch_path_of(&name), path);
    }

    #[test]
    fn journal_name_decoding_never_panics(name in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = branch_path_of(&name);
    }

    #[test]
    fn union_lines_is_a_union(a in "[a-c\n]{0,12}", b in "[a-c\n]{0,12}") {
        let m = union_lines(&[a.as_bytes(), b.as_bytes()]);
        for l in a.lines().chain(b.lines()) {
            prop_assert!(m.split(|&c| c == b'\n').any(|x| x == l.as_bytes()));
        }
    }
}

/// After our commit, git-annex's own index of the branch matches the new
/// tip and records it, and the user's index and work tree are untouched.
#[test]
fn commit_keeps_annex_index_current_and_user_index_untouched() {
    let dir = support::new_git_repo();
    let d = dir.path();
    std::fs::write(d.join("file.txt"), "hello\n").expect("write");
    support::git(d, &["add", "file.txt"]);
    Repo::init(d, Some("idx")).expect("init");
    let user_index = std::fs::read(d.join(".git/index")).expect("index");
    let status = support::git(d, &["status", "--porcelain"]);
    let branch = open_branch(d);
    branch
        .change(b"group.log", |_| b"x y timestamp=5s\n".to_vec())
        .expect("change");
    let c = branch
        .commit("update")
        .expect("commit")
        .expect("commit made");
    let tip = support::git(d, &["rev-parse", "git-annex"]);
    assert_eq!(tip.trim(), c.to_string());
    let status_file = std::fs::read_to_string(d.join(".git/annex/index.lck")).expect("index.lck");
    assert_eq!(status_file, tip);
    let out = std::process::Command::new("git")
        .current_dir(d)
        .env("GIT_INDEX_FILE", d.join(".git/annex/index"))
        .args(["diff", "--cached", "--name-only", "git-annex"])
        .output()
        .expect("git diff");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "",
        "annex index differs from the branch"
    );
    assert_eq!(
        std::fs::read(d.join(".git/index")).expect("index"),
        user_index
    );
    assert_eq!(support::git(d, &["status", "--porcelain"]), status);
    assert!(branch.journal().files().expect("files").is_empty());
}

/// Our journal lock excludes the reference (both take fcntl locks).
#[test]
fn journal_lock_excludes_the_reference() {
    let dir = support::new_git_repo();
    let d = dir.path();
    Repo::init(d, Some("lock")).expect("init");
    let branch = open_branch(d);
    let lock = branch.journal().lock().expect("lock");
    let mut cmd = std::process::Command::new(support::reference_git_annex());
    support::hermetic(&mut cmd)
        .current_dir(d)
        .args(["describe", "here", "after-lock"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().expect("spawn");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let early = child.try_wait().expect("try_wait");
    drop(lock);
    let status = child.wait().expect("wait");
    assert!(
        early.is_none(),
        "the reference wrote while we held the journal lock"
    );
    assert!(status.success());
    assert!(String::from_utf8_lossy(&branch.get(b"uuid.log").expect("get")).contains("after-lock"));
}

/// When the branch was moved by someone else (a push into it), git-annex's
/// index is stale; committing then union-merges what the index held, as the
/// reference does: the same journal committed by us and by the reference
/// gives the same files.
#[test]
fn commit_over_a_pushed_branch_matches_the_reference() {
    let top = tempfile::tempdir().expect("tmp");
    let (a, b) = a_and_clone(top.path(), |a| {
        support::annex(a, &["untrust", "here"]);
    });
    let ua = uuid(&a);
    // b changes a's trust (replacing a's line), and a's branch is moved to
    // b's (as a push into it does; done by hand so that no post-receive
    // hook brings the index up to date).
    support::annex(&b, &["semitrust", &ua]);
    move_branch_to_clones(&a);
    let tip = support::git(&a, &["rev-parse", "git-annex"]);
    let status = std::fs::read_to_string(a.join(".git/annex/index.lck")).expect("index.lck");
    assert_ne!(tip, status, "a's annex index should be stale");

    let a2 = top.path().join("a2");
    copy_repo(&a, &a2);

    let change = describe_x;
    // Ours.
    let ba = open_branch(&a);
    ba.change(b"uuid.log", change).expect("change");
    ba.commit("update").expect("commit");
    // The reference commits the same journal.
    let ba2 = open_branch(&a2);
    ba2.change(b"uuid.log", change).expect("change");
    support::annex(&a2, &["merge"]);
    assert!(
        ba2.journal().files().expect("files").is_empty(),
        "reference committed"
    );

    let tree = |d: &Path| support::git(d, &["ls-tree", "-r", "git-annex"]);
    assert_eq!(tree(&a), tree(&a2));
    // The moved-in change is there, not reverted (with the stale index's
    // line unioned in, as the reference does).
    let trust = String::from_utf8(show(&a, "trust.log")).expect("utf-8");
    assert!(
        trust
            .lines()
            .any(|l| l.starts_with(&ua) && l.contains(" ? ")),
        "{trust}"
    );
    assert_eq!(trust.lines().count(), 2, "{trust}");
}

/// A journal file written before the branch was moved by someone else (a
/// push into it, as a client syncing with a repository whose
/// `git-annex-shell` is still serving it) is union-merged with the moved
/// tip's version when committed, as the reference does: what the push
/// brought to that file is not lost (it was: the journal's version
/// replaced it), the same file as the reference's server commits.
#[test]
fn journal_written_before_a_push_keeps_what_the_push_brought() {
    let top = tempfile::tempdir().expect("tmp");
    let (a, b) = a_and_clone(top.path(), |_| {});
    let ub = uuid(&b);
    // a journals a change of uuid.log, knowing nothing of b yet.
    let change = describe_x;
    open_branch(&a).change(b"uuid.log", change).expect("change");
    // Then a's branch is moved to b's (which adds b to uuid.log), as a
    // push into it does (no post-receive hook).
    move_branch_to_clones(&a);
    let a2 = top.path().join("a2");
    copy_repo(&a, &a2);
    open_branch(&a).commit("update").expect("commit");
    // The reference's server commits its journal this way when a
    // connection ends (its `merge` would first bring its index up to the
    // tip, then let the journal replace the file).
    let mut cmd = std::process::Command::new(
        support::reference_git_annex().with_file_name("git-annex-shell"),
    );
    support::hermetic(&mut cmd)
        .current_dir(&a2)
        .arg("p2pstdio")
        .arg(&a2)
        .arg(uuid(&a2));
    let out = support::output_with_stdin(cmd, Some(b"VERSION 1\n"));
    assert!(out.status.success(), "{out:?}");
    let uuids = String::from_utf8(show(&a, "uuid.log")).expect("utf-8");
    assert!(uuids.contains(&ub), "b's line lost: {uuids}");
    assert!(uuids.contains("00000000-1111"), "{uuids}");
    assert_eq!(
        uuids,
        String::from_utf8(show(&a2, "uuid.log")).expect("utf-8")
    );
    let tree = |d: &Path| support::git(d, &["ls-tree", "-r", "git-annex"]);
    assert_eq!(tree(&a), tree(&a2));
}

/// A private repository (`annex.private`): its information stays in the
/// private journal, read by both of us, never committed.
#[test]
fn private_journal_is_shared_and_not_committed() {
    let dir = support::new_git_repo();
    let d = dir.path();
    support::git(d, &["config", "annex.private", "true"]);
    support::annex(d, &["init", "secret-desc"]);
    let u = uuid(d);
    assert!(d.join(".git/annex/journal-private/uuid.log").exists());
    let branch = open_branch(d);
    let log = String::from_utf8(branch.get(b"uuid.log").expect("get")).expect("utf-8");
    assert!(log.contains("secret-desc"), "{log}");

    let me = annex_core::uuid::Uuid::parse(u.as_bytes()).expect("uuid");
    branch
        .change_regarding(std::slice::from_ref(&me), b"uuid.log", |old| {
            describe(old, &u, "secret-ours", 2_000_000_000)
        })
        .expect("change");
    branch.commit("update").expect("commit");
    assert_eq!(here_description(d), "secret-ours");
    let committed = support::git(d, &["log", "-p", "git-annex"]);
    assert!(!committed.contains("secret"), "{committed}");
}

#[test]
fn garbage_annex_index_and_status_are_survived() {
    let dir = support::new_git_repo();
    let d = dir.path();
    Repo::init(d, Some("g")).expect("init");
    std::fs::write(d.join(".git/annex/index"), b"\x00garbage").expect("write");
    std::fs::write(d.join(".git/annex/index.lck"), b"not a sha\n").expect("write");
    let branch = open_branch(d);
    branch
        .change(b"a.log", |_| b"1\n".to_vec())
        .expect("change");
    branch.commit("update").expect("commit");
    assert_eq!(show(d, "a.log"), b"1\n");
    // Both are rewritten; the reference is content with them.
    support::annex(d, &["fsck", "--fast"]);
    assert_eq!(
        std::fs::read_to_string(d.join(".git/annex/index.lck")).expect("read"),
        support::git(d, &["rev-parse", "git-annex"])
    );
}

/// Threads of one process changing and committing at once lose nothing
/// (the journal lock is also taken in-process).
#[test]
fn concurrent_changes_in_process_lose_nothing() {
    let dir = support::new_git_repo();
    let d = dir.path().to_path_buf();
    Repo::init(&d, Some("c")).expect("init");
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let d = d.clone();
            std::thread::spawn(move || {
                let branch = open_branch(&d);
                for i in 0..8 {
                    branch
                        .change(b"c.log", |old| {
                            let mut v = old.to_vec();
                            v.extend_from_slice(format!("t{t} i{i}\n").as_bytes());
                            v
                        })
                        .expect("change");
                    if i % 3 == 0 {
                        branch.commit("update").expect("commit");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let branch = open_branch(&d);
    branch.commit("update").expect("commit");
    let log = show(&d, "c.log");
    assert_eq!(
        log.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count(),
        32
    );
    assert!(branch.journal().files().expect("files").is_empty());
}

#[test]
fn merge_annex_branches_false_is_respected() {
    let top = tempfile::tempdir().expect("tmp");
    let r1 = top.path().join("r1");
    std::fs::create_dir(&r1).expect("mkdir");
    support::git(&r1, &["init", "-q", "-b", "main"]);
    support::annex(&r1, &["init", "one"]);
    support::git(top.path(), &["clone", "-q", "r1", "r2"]);
    let r2 = top.path().join("r2");
    Repo::init(&r2, Some("two")).expect("init");
    support::annex(&r1, &["describe", "here", "one-later"]);
    support::git(&r2, &["fetch", "-q", "origin"]);
    support::git(&r2, &["config", "annex.merge-annex-branches", "false"]);
    let b2 = open_branch(&r2);
    assert!(b2.update().expect("update").merged.is_empty());
    support::git(&r2, &["config", "annex.merge-annex-branches", "true"]);
    let b2 = open_branch(&r2);
    assert_eq!(b2.update().expect("update").merged.len(), 1);
    assert!(String::from_utf8_lossy(&b2.get(b"uuid.log").expect("get")).contains("one-later"));
}

/// Commits are dated when made, not when the branch handle was opened.
#[test]
fn commit_time_is_current() {
    let dir = support::new_git_repo();
    let d = dir.path();
    Repo::init(d, Some("t")).expect("init");
    let branch = open_branch(d);
    let opened = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    branch
        .change(b"t.log", |_| b"1\n".to_vec())
        .expect("change");
    branch.commit("update").expect("commit");
    let ct: u64 = support::git(d, &["log", "-1", "--format=%ct", "git-annex"])
        .trim()
        .parse()
        .expect("time");
    assert!(ct >= opened + 2, "commit dated {ct}, opened at {opened}");
}

/// Several branches merged at once, by us and by the reference, give the
/// same files.
#[test]
fn merge_of_several_remotes_matches_the_reference() {
    let top = tempfile::tempdir().expect("tmp");
    let p = |n: &str| top.path().join(n);
    std::fs::create_dir(p("a")).expect("mkdir");
    support::git(&p("a"), &["init", "-q", "-b", "main"]);
    support::git(&p("a"), &["commit", "-q", "--allow-empty", "-m", "first"]);
    support::annex(&p("a"), &["init", "a"]);
    for n in ["b", "c", "ours"] {
        support::git(top.path(), &["clone", "-q", "a", n]);
    }
    support::annex(&p("b"), &["init", "b"]);
    support::annex(&p("c"), &["init", "c"]);
    Repo::init(&p("ours"), Some("ours")).expect("init");
    // The twin of `ours` that the reference merges in.
    let twin = p("twin");
    let cp = std::process::Command::new("cp")
        .arg("-a")
        .arg(p("ours"))
        .arg(&twin)
        .status()
        .expect("cp");
    assert!(cp.success());
    // Diverging changes everywhere, some to the same lines.
    let ua = uuid(&p("a"));
    support::annex(&p("a"), &["describe", "here", "a2"]);
    support::annex(&p("b"), &["describe", &ua, "a-by-b"]);
    support::annex(&p("b"), &["untrust", &ua]);
    support::annex(&p("c"), &["describe", &ua, "a-by-c"]);
    support::annex(&p("c"), &["semitrust", "here"]);
    for d in [p("ours"), twin.clone()] {
        support::git(&d, &["remote", "add", "b", "../b"]);
        support::git(&d, &["remote", "add", "c", "../c"]);
        support::git(&d, &["fetch", "-q", "--all"]);
    }
    let outcome = open_branch(&p("ours")).update().expect("merge");
    assert_eq!(outcome.merged.len(), 3, "{outcome:?}");
    support::annex(&twin, &["merge"]);
    let tree = |d: &Path| support::git(d, &["ls-tree", "-r", "git-annex"]);
    assert_eq!(tree(&p("ours")), tree(&twin));
    let parents = |d: &Path| support::git(d, &["log", "-1", "--format=%P%n%s", "git-annex"]);
    assert_eq!(parents(&p("ours")), parents(&twin));
}

/// Stray journal names do not block commits, and a commit consumes them
/// as the reference does: staged under the path the name decodes to when
/// valid (`trailing_` as `trailing`), and all removed.
#[test]
fn stray_journal_file_names_are_committed_as_the_reference_does() {
    let top = tempfile::tempdir().expect("tmp");
    let ours = top.path().join("ours");
    let twin = top.path().join("twin");
    std::fs::create_dir(&ours).expect("mkdir");
    support::git(&ours, &["init", "-q", "-b", "main"]);
    support::annex(&ours, &["init", "s"]);
    support::annex(&ours, &["merge"]);
    let jdir = ours.join(".git/annex/journal");
    std::fs::create_dir_all(&jdir).expect("mkdir");
    // (A stray decoding to the path of a proper journal file, e.g.
    // `ok.log_`, is left out: which of the two the reference commits
    // depends on directory order; we commit the proper file.)
    for stray in ["_leading", "trailing_", "a_.._b", "x_.git_y"] {
        std::fs::write(jdir.join(stray), format!("{stray}\n")).expect("write");
    }
    std::fs::write(jdir.join("ok.log"), b"fine\n").expect("write");
    copy_repo(&ours, &twin);
    let branch = open_branch(&ours);
    assert!(branch.commit("update").expect("commit").is_some());
    support::annex(&twin, &["merge"]);
    let ls = |d: &Path| support::git(d, &["ls-tree", "-r", "git-annex"]);
    assert_eq!(ls(&ours), ls(&twin));
    assert_eq!(show(&ours, "ok.log"), b"fine\n");
    assert_eq!(show(&ours, "trailing"), b"trailing_\n");
    let left = |d: &Path| {
        std::fs::read_dir(d.join(".git/annex/journal"))
            .map(|r| r.count())
            .unwrap_or(0)
    };
    assert_eq!(left(&ours), 0);
    assert_eq!(left(&twin), 0);
}

/// Stray journal names (no branch path maps to them) do not keep the
/// journal dirty: no empty commits, fast-forward merges still happen, and
/// reads that walk the journal work.
#[test]
fn stray_journal_names_leave_the_journal_clean() {
    let top = tempfile::tempdir().expect("tmp");
    let r1 = top.path().join("r1");
    let r2 = top.path().join("r2");
    std::fs::create_dir(&r1).expect("mkdir");
    support::git(&r1, &["init", "-q", "-b", "main"]);
    support::git(&r1, &["commit", "-q", "--allow-empty", "-m", "first"]);
    support::annex(&r1, &["init", "one"]);
    support::git(top.path(), &["clone", "-q", "r1", "r2"]);
    Repo::init(&r2, Some("two")).expect("init r2");
    let b2 = open_branch(&r2);
    b2.commit("update").expect("commit init");
    let jdir = b2.journal().dir();
    std::fs::create_dir_all(&jdir).expect("mkdir");
    for stray in ["_leading", "trailing_", "a_.._b", "x_.git_y", "a__b_"] {
        std::fs::write(jdir.join(stray), b"junk\n").expect("write");
    }
    assert!(!b2.journal().is_dirty().expect("dirty"));
    assert!(b2.journal().files().expect("files").is_empty());
    let tip = b2.tip().expect("tip");
    assert_eq!(b2.commit("update").expect("commit"), None);
    assert_eq!(b2.tip().expect("tip"), tip, "an empty commit was made");

    // Reads over the journal work.
    let mut seen = Vec::new();
    b2.for_each_file(|_| true, |p, _| seen.push(p.to_vec()))
        .expect("walk");
    assert!(seen.contains(&b"uuid.log".to_vec()), "{seen:?}");
    assert!(paths(&b2).contains(&b"uuid.log".to_vec()));

    // r1 takes in r2's branch and moves on: r2 then fast-forwards.
    support::git(&r1, &["remote", "add", "r2", "../r2"]);
    support::git(&r1, &["fetch", "-q", "r2"]);
    support::annex(&r1, &["merge"]);
    support::annex(&r1, &["describe", "here", "one-again"]);
    support::git(&r2, &["fetch", "-q", "origin"]);
    let ff = b2.update().expect("update");
    assert!(ff.fast_forwarded, "{ff:?}");
    assert_eq!(
        support::git(&r2, &["rev-parse", "git-annex"]),
        support::git(&r1, &["rev-parse", "git-annex"])
    );
    assert!(jdir.join("_leading").exists());
}

/// Creating the branch rewrites git-annex's branch index, removing a stale
/// `index.lock`: it waits for the journal lock first, so a live
/// `index.lock` of the lock's holder is left alone meanwhile.
#[test]
fn create_waits_for_the_journal_lock() {
    let dir = support::new_git_repo();
    let d = dir.path();
    let git_dir = d.join(".git");
    let holder = Branch::open(&git_dir).expect("open");
    let lock = holder.journal().lock().expect("lock");
    let index_lock = git_dir.join("annex").join("index.lock");
    std::fs::write(&index_lock, b"").expect("write index.lock");
    let (tx, rx) = std::sync::mpsc::channel();
    let gd = git_dir.clone();
    let t = std::thread::spawn(move || {
        let b = Branch::open(&gd).expect("open");
        let r = b.create().map(|_| ());
        tx.send(()).expect("send");
        r
    });
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(
        rx.try_recv().is_err(),
        "create finished while the journal lock was held"
    );
    assert!(index_lock.exists(), "a live index.lock was removed");
    drop(lock);
    t.join().expect("join").expect("create");
    assert!(holder.tip().expect("tip").is_some());
    assert!(!index_lock.exists());
}

/// `change_opt` writes nothing when the function returns `None`, so the
/// journal stays clean and no commit is made.
#[test]
fn change_opt_skips_unchanged_logs() {
    let dir = support::new_git_repo();
    let d = dir.path();
    Repo::init(d, Some("opt")).expect("init");
    let branch = open_branch(d);
    branch.commit("update").expect("commit");
    let tip = branch.tip().expect("tip");
    let before = branch.get(b"uuid.log").expect("get");
    let wrote = branch
        .change_opt(b"uuid.log", &[], |old| {
            assert_eq!(old, before.as_slice());
            None
        })
        .expect("change_opt");
    assert!(!wrote);
    assert!(!branch.journal().is_dirty().expect("dirty"));
    assert_eq!(branch.commit("update").expect("commit"), None);
    assert_eq!(branch.tip().expect("tip"), tip);
    let wrote = branch
        .change_opt(b"new.log", &[], |old| {
            assert!(old.is_empty());
            Some(b"line\n".to_vec())
        })
        .expect("change_opt");
    assert!(wrote);
    assert!(branch.commit("update").expect("commit").is_some());
    assert_eq!(show(d, "new.log"), b"line\n");
}

fn copy_repo(from: &Path, to: &Path) {
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp");
    assert!(st.success());
}

/// What identifies a merge result apart from commit times: the tree, the
/// parents and the message of the tip, and the refs ignored.
fn merge_result(d: &Path) -> (String, String, String) {
    let tree = support::git(d, &["ls-tree", "-r", "git-annex"]);
    let head = support::git(d, &["log", "-1", "--format=%P%n%s", "git-annex"]);
    let ignored = std::fs::read_to_string(d.join(".git/annex/ignoredrefs")).unwrap_or_default();
    (tree, head, ignored)
}

/// In `top`: `r1`, initialized by the reference, and `r2`, its clone
/// initialized by us with its branch committed; returns both paths, r2's
/// branch and r2's branch tip.
fn reference_and_our_clone(top: &Path) -> (PathBuf, PathBuf, Branch, String) {
    let r1 = top.join("r1");
    let r2 = top.join("r2");
    std::fs::create_dir(&r1).expect("mkdir");
    support::git(&r1, &["init", "-q", "-b", "main"]);
    support::git(&r1, &["commit", "-q", "--allow-empty", "-m", "first"]);
    support::annex(&r1, &["init", "one"]);
    support::git(top, &["clone", "-q", "r1", "r2"]);
    Repo::init(&r2, Some("two")).expect("init r2");
    let b2 = open_branch(&r2);
    b2.commit("update").expect("commit");
    let before = support::git(&r2, &["rev-parse", "git-annex"]);
    (r1, r2, b2, before)
}

/// After a remote ran `git annex forget --force`, its branch has a
/// transition (forget git history) ours lacks: `update` adopts it as the
/// reference does (a new branch from the union of everything, whose only
/// parent is that ref). A ref then lacking the transition is merged once
/// and recorded in `.git/annex/ignoredrefs`, as the reference does.
#[test]
fn forgotten_history_is_adopted_as_the_reference_does() {
    let top = tempfile::tempdir().expect("tmp");
    let (r1, r2, b2, before) = reference_and_our_clone(top.path());

    support::annex(&r1, &["forget", "--force"]);
    support::annex(&r1, &["describe", "here", "one-after-forget"]);
    support::git(&r2, &["fetch", "-q", "origin"]);
    let twin = top.path().join("twin");
    copy_repo(&r2, &twin);
    let out = b2.update().expect("update after forget");
    assert_eq!(out.merged.len(), 1, "{out:?}");
    assert!(out.skipped.is_empty(), "{out:?}");
    support::annex(&twin, &["merge"]);
    assert_eq!(merge_result(&r2), merge_result(&twin));
    let tl = show(&r2, "transitions.log");
    assert!(
        String::from_utf8_lossy(&tl).contains("ForgetGitHistory"),
        "{tl:?}"
    );
    assert!(support::annex(&r2, &["info", "--fast"]).contains("two"));
    // Nothing more to do, for either.
    assert!(b2.update().expect("again").merged.is_empty());
    support::annex(&r2, &["merge"]);
    support::annex(&r2, &["fsck", "--fast"]);

    // A ref without the transition: merged once, then ignored.
    let tree = support::git(&r2, &["rev-parse", &format!("{}^{{tree}}", before.trim())]);
    let stale = support::git(
        &r2,
        &[
            "commit-tree",
            tree.trim(),
            "-p",
            before.trim(),
            "-m",
            "stale",
        ],
    );
    support::git(
        &r2,
        &["update-ref", "refs/remotes/old/git-annex", stale.trim()],
    );
    let twin2 = top.path().join("twin2");
    copy_repo(&r2, &twin2);
    let out = open_branch(&r2).update().expect("update with a stale ref");
    assert_eq!(out.merged.len(), 1, "{out:?}");
    support::annex(&twin2, &["merge"]);
    assert_eq!(merge_result(&r2), merge_result(&twin2));
    assert!(merge_result(&r2).2.contains(stale.trim()));
    assert!(open_branch(&r2).update().expect("update").merged.is_empty());
}

/// A transition this implementation does not know (one of a later
/// git-annex): the ref is skipped with a warning, not recorded, and the
/// merge does not fail.
#[test]
fn unknown_transitions_are_skipped_with_a_warning() {
    let top = tempfile::tempdir().expect("tmp");
    let (r1, r2, b2, before) = reference_and_our_clone(top.path());
    support::annex(&r1, &["forget", "--force"]);
    // A transition neither implementation knows, added by hand.
    let script = r#"set -e
        tl=$( (git show git-annex:transitions.log; echo "ForgetSomethingNew 1s") | git hash-object -w --stdin)
        export GIT_INDEX_FILE=.git/tmp-index
        git read-tree git-annex
        git update-index --add --cacheinfo 100644,$tl,transitions.log
        c=$(git commit-tree $(git write-tree) -p git-annex -m unknown)
        git update-ref refs/heads/git-annex $c
        rm -f .git/tmp-index"#;
    let st = std::process::Command::new("sh")
        .args(["-c", script])
        .current_dir(&r1)
        .status()
        .expect("sh");
    assert!(st.success());
    support::git(&r2, &["fetch", "-q", "origin"]);
    let origin = support::git(&r2, &["rev-parse", "origin/git-annex"]);
    let out = b2.update().expect("update after forget");
    assert!(out.merged.is_empty(), "{out:?}");
    assert_eq!(out.skipped.len(), 1, "{out:?}");
    assert_eq!(out.skipped[0].id.to_string(), origin.trim());
    assert!(out.skipped[0].to_string().contains("origin/git-annex"));
    assert_eq!(support::git(&r2, &["rev-parse", "git-annex"]), before);
    assert!(!r2.join(".git/annex/ignoredrefs").exists());
    assert_eq!(b2.update().expect("update again").skipped.len(), 1);
}

/// A remote's `forget --drop-dead` (the `ForgetDeadRemotes` transition)
/// is performed here when merging, as the reference does: nothing is
/// skipped, and the transition is recorded.
#[test]
fn a_drop_dead_transition_is_performed_on_update() {
    let top = tempfile::tempdir().expect("tmp");
    let (r1, r2, b2, _) = reference_and_our_clone(top.path());
    support::annex(&r1, &["forget", "--force", "--drop-dead"]);
    support::git(&r2, &["fetch", "-q", "origin"]);
    let out = b2.update().expect("update after forget");
    assert!(out.skipped.is_empty(), "{out:?}");
    let tl = show(&r2, "transitions.log");
    assert!(
        String::from_utf8_lossy(&tl).contains("ForgetDeadRemotes"),
        "{tl:?}"
    );
}

/// One `Branch` reads through a cached root tree: after its own commits and
/// after the reference's, it reads what is committed now, never an old tree.
#[test]
fn reads_follow_new_commits_through_the_root_tree_cache() {
    let dir = support::new_git_repo();
    Repo::init(dir.path(), Some("cache")).expect("init");
    let branch = open_branch(dir.path());
    let path = b"aaa/bbb/SHA1--cachetest.log";
    assert_eq!(branch.committed(path).expect("read"), None);
    branch
        .change(path, |_| b"1 u1 1\n".to_vec())
        .expect("change");
    branch.commit("update").expect("commit");
    assert_eq!(
        branch.committed(path).expect("read"),
        Some(b"1 u1 1\n".to_vec())
    );
    branch
        .change(path, |_| b"2 u1 1\n".to_vec())
        .expect("change");
    branch.commit("update").expect("commit");
    assert_eq!(
        branch.committed(path).expect("read"),
        Some(b"2 u1 1\n".to_vec())
    );
    // The reference commits behind this Branch's back.
    let key = "SHA1--cachetest";
    let here = uuid(dir.path());
    support::annex(dir.path(), &["setpresentkey", key, &here, "1"]);
    support::annex(dir.path(), &["merge"]);
    let logs = support::git(dir.path(), &["ls-tree", "-r", "--name-only", "git-annex"]);
    let real = logs
        .lines()
        .find(|l| l.ends_with("SHA1--cachetest.log") && !l.starts_with("aaa/"))
        .expect("the reference's location log")
        .to_owned();
    assert_eq!(
        branch.committed(real.as_bytes()).expect("read"),
        Some(show(dir.path(), &real))
    );
}

#[test]
fn the_tip_is_read_again_whenever_another_process_moves_the_branch() {
    let dir = support::new_git_repo();
    let d = dir.path();
    support::annex(d, &["init", "first"]);
    let branch = open_branch(d);
    let tip = |b: &Branch| b.tip().expect("tip").expect("a tip").to_string();
    let rev = |r: &str| support::git(d, &["rev-parse", r]).trim().to_owned();
    assert_eq!(tip(&branch), rev("git-annex"));
    assert!(here_description_in(&branch, d).contains("first"));
    // The reference commits the branch while we hold it open.
    support::annex(d, &["describe", "here", "second"]);
    let second = rev("git-annex");
    assert_eq!(tip(&branch), second);
    assert!(here_description_in(&branch, d).contains("second"));
    // The ref moves into packed-refs (the loose file goes away).
    support::git(d, &["pack-refs", "--all"]);
    assert!(!d.join(".git/refs/heads/git-annex").exists());
    assert_eq!(tip(&branch), second);
    support::annex(d, &["describe", "here", "third"]);
    assert_eq!(tip(&branch), rev("git-annex"));
    assert!(here_description_in(&branch, d).contains("third"));
    // Set back to an older commit within the same second: a ref file of the
    // same size, told apart by being a new file.
    support::git(d, &["update-ref", "refs/heads/git-annex", &second]);
    assert_eq!(tip(&branch), second);
    assert!(here_description_in(&branch, d).contains("second"));
}

/// This repository's line of `uuid.log` as `branch` reads it.
fn here_description_in(branch: &Branch, d: &Path) -> String {
    let u = uuid(d);
    let log = branch.get(b"uuid.log").expect("get");
    String::from_utf8_lossy(&log)
        .lines()
        .filter(|l| l.starts_with(&u))
        .collect()
}

/// The lines `git ls-files -s` gives for git-annex's index, and the same
/// for the branch's tree (`git ls-tree -r`), as "mode id path" lines.
fn annex_index_and_tree(d: &Path) -> (String, String) {
    let out = std::process::Command::new("git")
        .current_dir(d)
        .env("GIT_INDEX_FILE", d.join(".git/annex/index"))
        .args(["ls-files", "-s"])
        .output()
        .expect("git ls-files");
    assert!(out.status.success(), "{out:?}");
    let index: String = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            // "mode id stage\tpath"
            let (meta, path) = l.split_once('\t').expect("tab");
            let mut f = meta.split(' ');
            format!(
                "{} {}\t{path}\n",
                f.next().expect("mode"),
                f.next().expect("id")
            )
        })
        .collect();
    let tree: String = support::git(d, &["ls-tree", "-r", "git-annex"])
        .lines()
        .map(|l| {
            let (meta, path) = l.split_once('\t').expect("tab");
            let f: Vec<&str> = meta.split(' ').collect();
            format!("{} {}\t{path}\n", f[0], f[2])
        })
        .collect();
    (index, tree)
}

/// Issue 21, point 2: once a location log whose path holds `?` (or `*`,
/// `<`, …: characters Windows forbids, and git on Unix accepts) is in the
/// branch, every later write still works, whether git-annex's index is
/// updated entry by entry, written anew because it is stale, or left by
/// the reference's own writes between ours; the reference reads what we
/// wrote and its fsck is content.
#[test]
fn a_key_with_a_question_mark_does_not_stop_writes() {
    use annex_core::key::Key;
    use annex_core::state::State;
    use annex_core::uuid::Uuid;
    let dir = support::new_git_repo();
    let d = dir.path();
    Repo::init(d, Some("q")).expect("init");
    let state = State::new(open_branch(d));
    let u_str = "11111111-2222-3333-4444-555555555555";
    let u = Uuid::parse(u_str.as_bytes()).expect("uuid");
    let odd = Key::parse(b"SHA256E-s1--a?b").expect("key");
    let other = Key::parse(b"SHA256E-s2--c*d<e>f|g").expect("key");
    state.set_present(&odd, &u, true).expect("set");
    state.commit().expect("commit with a ? key");
    state.set_present(&other, &u, true).expect("set");
    state.commit().expect("commit after a ? key");
    assert_eq!(
        annex_index_and_tree(d).0,
        annex_index_and_tree(d).1,
        "index kept current entry by entry"
    );
    // A stale index is written anew from the tree.
    std::fs::remove_file(d.join(".git/annex/index.lck")).expect("rm");
    state.set_present(&other, &u, false).expect("unset");
    state.commit().expect("commit over a stale index");
    let (index, tree) = annex_index_and_tree(d);
    assert_eq!(index, tree, "index written anew");
    assert!(tree.contains("SHA256E-s1--a?b.log"), "{tree}");
    // The reference writes between ours, and we after it.
    support::annex(d, &["setpresentkey", "SHA256E-s3--h?i", u_str, "1"]);
    state.set_present(&other, &u, true).expect("set");
    state.commit().expect("commit after the reference");
    let (index, tree) = annex_index_and_tree(d);
    assert_eq!(index, tree);
    assert!(tree.contains("SHA256E-s3--h?i.log"), "{tree}");
    for key in [
        "SHA256E-s1--a?b",
        "SHA256E-s2--c*d<e>f|g",
        "SHA256E-s3--h?i",
    ] {
        let out = support::annex(d, &["whereis", "--key", key]);
        assert!(out.contains(u_str), "{key}: {out}");
    }
    support::annex(d, &["fsck", "--fast", "--all", "-q"]);
}

/// git-annex's index, kept current entry by entry over commits, merges
/// (union and fast-forward) and a rebuild, always holds the branch's
/// tree, and the reference, working in the same repository between our
/// commits, sees each of our changes (its whereis) and we see its.
#[test]
fn annex_index_follows_every_commit_and_merge() {
    use annex_core::key::Key;
    use annex_core::state::State;
    use annex_core::uuid::Uuid;
    let top = tempfile::tempdir().expect("tmp");
    let (a, b) = a_and_clone(top.path(), |_| {});
    let key = |i: u32| {
        Key::parse(format!("SHA256E-s{i}--{:064x}.dat", u64::from(i) * 7919).as_bytes())
            .expect("key")
    };
    let ua = Uuid::parse(uuid(&a).as_bytes()).expect("uuid");
    let ub = Uuid::parse(uuid(&b).as_bytes()).expect("uuid");
    let sa = State::new(open_branch(&a));
    let sb = State::new(open_branch(&b));
    let check = |d: &Path| {
        let (index, tree) = annex_index_and_tree(d);
        assert_eq!(index, tree, "annex index of {}", d.display());
        assert_eq!(
            std::fs::read_to_string(d.join(".git/annex/index.lck")).expect("lck"),
            support::git(d, &["rev-parse", "git-annex"])
        );
    };
    for round in 0..3u32 {
        for i in 0..20 {
            sa.set_present(&key(i), &ua, (i + round) % 3 != 0)
                .expect("set");
        }
        sa.commit().expect("commit");
        check(&a);
        for i in 10..30 {
            sb.set_present(&key(i), &ub, (i + round) % 2 == 0)
                .expect("set");
        }
        sb.commit().expect("commit");
        check(&b);
        // b takes a's branch: a union merge (both moved).
        support::git(&b, &["fetch", "-q", "origin"]);
        sb.branch().update().expect("merge");
        check(&b);
        // a takes b's: a fast-forward.
        support::git(
            &a,
            &["fetch", "-q", "../b", "+git-annex:refs/remotes/b/git-annex"],
        );
        let out = sa.branch().update().expect("merge");
        assert!(
            out.fast_forwarded || out.new_tip.is_none() || round > 0,
            "{out:?}"
        );
        check(&a);
        // The reference writes in a between our commits, and reads ours.
        support::annex(
            &a,
            &[
                "setpresentkey",
                &key(100 + round).to_string(),
                &ub.to_string(),
                "1",
            ],
        );
        for i in [0, 15, 25] {
            let want = sa.whereis(&key(i)).expect("whereis");
            // whereis exits 1 when there is no copy.
            let out = support::annex_output(
                &a,
                &["whereis", "--json", "--key", &key(i).to_string()],
                None,
            );
            let out = String::from_utf8_lossy(&out.stdout);
            for u in [&ua, &ub] {
                assert_eq!(
                    out.contains(u.as_str()),
                    want.contains(u),
                    "round {round} key {i}: {out}"
                );
            }
        }
        assert!(sa.whereis(&key(100 + round)).expect("w").contains(&ub));
    }
    check(&a);
}

/// The loose objects of a repository.
fn loose_objects(d: &Path) -> usize {
    let out = support::git(d, &["count-objects", "-v"]);
    out.lines()
        .find_map(|l| l.strip_prefix("count: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("count")
}

/// A commit of many journal files writes its blobs and trees into one
/// pack, not a loose object each; git finds the repository sound, the
/// index follows, and the reference reads the logs.
#[test]
fn a_large_commit_writes_one_pack() {
    use annex_core::key::Key;
    use annex_core::state::State;
    use annex_core::uuid::Uuid;
    let dir = support::new_git_repo();
    let d = dir.path();
    Repo::init(d, Some("p")).expect("init");
    let state = State::new(open_branch(d));
    state.commit().expect("commit");
    let u_str = "11111111-2222-3333-4444-555555555555";
    let u = Uuid::parse(u_str.as_bytes()).expect("uuid");
    let key = |i: u32| Key::parse(format!("SHA256E-s{i}--{i:064x}").as_bytes()).expect("key");
    let before = loose_objects(d);
    for i in 0..1500 {
        state.set_present(&key(i), &u, true).expect("set");
    }
    state.commit().expect("commit");
    assert!(
        loose_objects(d) <= before + 2,
        "{} loose objects after, {before} before",
        loose_objects(d)
    );
    let packs = support::git(d, &["count-objects", "-v"]);
    assert!(packs.contains("packs: 1"), "{packs}");
    support::git(d, &["fsck", "--no-dangling", "--strict"]);
    assert!(state.branch().journal().files().expect("files").is_empty());
    let (index, tree) = annex_index_and_tree(d);
    assert_eq!(index, tree);
    assert_eq!(
        tree.lines().filter(|l| l.contains("SHA256E-")).count(),
        1500
    );
    for i in [0, 777, 1499] {
        let out = support::annex(d, &["whereis", "--key", &key(i).to_string()]);
        assert!(out.contains(u_str), "{out}");
    }
    // And the next commits work on top of it.
    state.set_present(&key(3), &u, false).expect("unset");
    state.commit().expect("commit");
    assert!(state.whereis(&key(3)).expect("w").is_empty());
    support::git(d, &["fsck", "--no-dangling"]);
}
