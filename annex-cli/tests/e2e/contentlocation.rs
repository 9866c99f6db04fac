//! `contentlocation`, checked by the reference git-annex in a repository
//! where it added files and dropped some, and in a bare clone it copied
//! content to.

use std::path::Path;
use std::process::{Command, Output};

use crate::support;

fn assert_same(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> (String, Option<i32>) {
    let text = |o: Output| {
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            o.status.code(),
        )
    };
    let ours = text(crate::ours_with(dir, args, stdin));
    let theirs = text(support::annex_output(dir, args, stdin));
    assert_eq!(ours, theirs, "{args:?} in {}", dir.display());
    ours
}

/// Every way of asking about `present` and `absent` keys, from `dir`.
fn check_from(dir: &Path, present: &[String], absent: &[String]) {
    for k in present {
        let (out, code) = assert_same(dir, &["contentlocation", k], None);
        assert_eq!(code, Some(0), "{k}");
        assert!(out.contains("annex/objects/"), "{out}");
    }
    for k in absent {
        let (_, code) = assert_same(dir, &["contentlocation", k], None);
        assert_eq!(code, Some(1), "{k}");
    }
    let mut all: Vec<&str> = vec!["contentlocation"];
    all.extend(present.iter().map(String::as_str));
    assert_same(dir, &all, None);
    all.extend(absent.iter().map(String::as_str));
    all.extend(present.iter().map(String::as_str));
    assert_same(dir, &all, None);
    let mut input = String::new();
    for (p, a) in present.iter().zip(absent.iter().cycle()) {
        input.push_str(&format!("{p}\n{a}\n\n"));
    }
    assert_same(dir, &["contentlocation", "--batch"], Some(input.as_bytes()));
    let input_z = input.replace('\n', "\0");
    assert_same(
        dir,
        &["contentlocation", "--batch", "-z"],
        Some(input_z.as_bytes()),
    );
    let bad = format!("{}\nnot a key\n{}\n", present[0], present[0]);
    assert_same(dir, &["contentlocation", "--batch"], Some(bad.as_bytes()));
    assert_same(dir, &["contentlocation", "not a key"], None);
    assert_same(dir, &["contentlocation", &present[0], "not-a-key"], None);
    assert_same(dir, &["contentlocation"], None);
}

#[test]
fn contentlocation_matches_the_reference_in_non_bare_and_bare_repositories() {
    let repo = support::new_git_repo();
    let dir = repo.path();
    support::annex(dir, &["init", "-q"]);
    std::fs::create_dir_all(dir.join("sub/deeper")).expect("mkdir");
    let names: Vec<String> = (0..12)
        .map(|i| match i % 3 {
            0 => format!("f{i}.txt"),
            1 => format!("sub/g{i}"),
            _ => format!("sub/deeper/h {i}.tar.gz"),
        })
        .collect();
    for (i, n) in names.iter().enumerate() {
        std::fs::write(dir.join(n), format!("content {i}\n")).expect("write");
    }
    support::annex(dir, &["add", "-q", "."]);
    support::git(dir, &["commit", "-qm", "add"]);
    let keys: Vec<String> = names
        .iter()
        .map(|n| support::annex(dir, &["lookupkey", n]).trim().to_string())
        .collect();
    let (dropped, kept): (Vec<_>, Vec<_>) = names
        .iter()
        .zip(&keys)
        .enumerate()
        .partition(|(i, _)| i % 2 == 1);
    for (_, (n, _)) in &dropped {
        support::annex(dir, &["drop", "-q", "--force", n]);
    }
    let present: Vec<String> = kept.iter().map(|(_, (_, k))| (*k).clone()).collect();
    let mut absent: Vec<String> = dropped.iter().map(|(_, (_, k))| (*k).clone()).collect();
    absent.push("SHA256E-s1--00.txt".into());
    check_from(dir, &present, &absent);
    check_from(&dir.join("sub"), &present, &absent);
    check_from(&dir.join("sub/deeper"), &present, &absent);
    // From inside .git, git-annex finds no content.
    for inside in [".git", ".git/annex/objects"] {
        for k in present.iter().chain(&absent) {
            assert_same(&dir.join(inside), &["contentlocation", k], None);
        }
    }

    // A bare clone that the reference copied the present content to.
    let outer = tempfile::tempdir().expect("temp dir");
    let bare = outer.path().join("b.git");
    let bare_str = bare.to_str().expect("utf-8 temp path");
    support::git(dir, &["clone", "-q", "--bare", ".", bare_str]);
    support::annex(&bare, &["init", "-q"]);
    support::git(dir, &["remote", "add", "b", bare_str]);
    support::annex(dir, &["copy", "-q", "--to", "b", "."]);
    check_from(&bare, &present, &absent);

    // A clone git-annex has not initialized: no content, and no error.
    let clone = outer.path().join("clone");
    let clone_str = clone.to_str().expect("utf-8 temp path");
    support::git(dir, &["clone", "-q", ".", clone_str]);
    for k in present.iter().chain(&absent) {
        let (_, code) = assert_same(&clone, &["contentlocation", k], None);
        assert_eq!(code, Some(1));
    }
    check_from(&bare.join("objects"), &present, &absent);

    // GIT_DIR names the repository, relative or absolute.
    for git_dir in [bare_str.to_string(), "b.git".into(), "./b.git/".into()] {
        for k in present.iter().chain(&absent) {
            let run = |program: &Path| {
                let mut cmd = Command::new(program);
                support::hermetic(&mut cmd)
                    .current_dir(outer.path())
                    .env("GIT_DIR", &git_dir)
                    .args(["contentlocation", k]);
                let out = cmd.output().expect("run contentlocation");
                (out.stdout, out.status.code())
            };
            assert_eq!(
                run(Path::new(env!("CARGO_BIN_EXE_git-annex-rs"))),
                run(support::reference_git_annex()),
                "GIT_DIR={git_dir} {k}"
            );
        }
    }
}

#[test]
fn contentlocation_outside_an_annex_fails_as_the_reference() {
    let plain = support::new_git_repo();
    let key = "SHA256E-s1--00";
    let (_, code) = assert_same(plain.path(), &["contentlocation", key], None);
    assert_eq!(code, Some(1));
    let outside = tempfile::tempdir().expect("temp dir");
    let (_, code) = assert_same(outside.path(), &["contentlocation", key], None);
    assert_eq!(code, Some(1));
    let ours = crate::ours_with(plain.path(), &["contentlocation", key], None);
    assert!(
        String::from_utf8_lossy(&ours.stderr).contains("git-annex init"),
        "{ours:?}"
    );
}
