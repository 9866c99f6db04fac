//! End-to-end tests: `unannex` and `uninit`, compared with the reference
//! (output, `--json`, exit codes) and by what they leave behind: the work
//! tree (contents and modes), git's index, the object store, the git
//! config, hooks and attributes. No content is ever lost.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::pair::{Pair, annexed, theirs};
use crate::support;

const FILES: &[(&str, &str)] = &[("a", "a\n"), ("b", "b\n"), ("u", "u\n"), ("d/c", "c\n")];

/// Files added; `u` unlocked; all committed; `b`'s content dropped.
fn setup(d: &Path) {
    annexed(FILES)(d);
    assert!(theirs(d, &["unlock", "u"], None).status.success());
    support::git(d, &["commit", "-q", "-m", "unlock"]);
    assert!(theirs(d, &["drop", "--force", "b"], None).status.success());
}

/// What a repository looks like: each work-tree file (type, mode, link
/// count, content), `git status`, the objects, and git-annex's traces.
fn state(d: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut files = Vec::new();
    collect(d, d, &mut files);
    files.sort();
    out.extend(files);
    out.push(support::git(d, &["status", "--short"]));
    let objects = d.join(".git/annex/objects");
    let mut objs = Vec::new();
    collect(&objects, &objects, &mut objs);
    objs.sort();
    out.extend(objs);
    let config = std::fs::read_to_string(d.join(".git/config")).unwrap_or_default();
    out.push(
        config
            .lines()
            .filter(|l| !l.contains("uuid = ") || l.trim() == "uuid =")
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let mut hooks: Vec<String> = std::fs::read_dir(d.join(".git/hooks"))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.ends_with(".sample"))
                .collect()
        })
        .unwrap_or_default();
    hooks.sort();
    out.push(hooks.join(" "));
    out.push(
        std::fs::read_to_string(d.join(".git/info/attributes")).unwrap_or_else(|_| "none".into()),
    );
    out.push(format!("annex dir: {}", d.join(".git/annex").exists()));
    out.push(support::git(d, &["branch", "--list"]));
    out
}

fn collect(top: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let rel = p
            .strip_prefix(top)
            .expect("under top")
            .display()
            .to_string();
        if rel == ".git" {
            continue;
        }
        let m = std::fs::symlink_metadata(&p).expect("stat");
        if m.is_dir() {
            collect(top, &p, out);
        } else if m.file_type().is_symlink() {
            out.push(format!(
                "{rel} -> {}",
                std::fs::read_link(&p).expect("link").display()
            ));
        } else {
            let content = std::fs::read_to_string(&p).unwrap_or_default();
            out.push(format!(
                "{rel} {:o} {} {content:?}",
                m.permissions().mode() & 0o777,
                m.nlink()
            ));
        }
    }
}

#[test]
fn unannex_matches_the_reference() {
    let p = Pair::new(setup);
    p.same(&["unannex", "a", "u", "b"]);
    p.same(&["unannex", "--json", "d"]);
    p.same(&["unannex", "nosuch"]);
    p.same(&["unannex"]);
    assert_eq!(state(&p.ours), state(&p.theirs));
    // The content stays in the object store.
    assert!(crate::support::git(&p.ours, &["status", "--short"]).contains("?? a"));
    assert_eq!(std::fs::read_to_string(p.ours.join("a")).expect("a"), "a\n");
}

#[test]
fn unannex_fast_hard_links_as_the_reference() {
    let p = Pair::new(setup);
    p.same(&["unannex", "--fast", "a"]);
    assert_eq!(state(&p.ours), state(&p.theirs));
}

#[test]
fn uninit_keeps_content_it_cannot_place_as_the_reference() {
    let p = Pair::new(setup);
    p.same_in("d", &["uninit"], None);
    // The unlocked file's object would be lost: refused, after unannexing.
    p.same(&["uninit"]);
    assert_eq!(state(&p.ours), state(&p.theirs));
    for d in [&p.ours, &p.theirs] {
        assert!(d.join(".git/annex/objects").exists());
    }
    p.same(&["uninit", "--json"]);
    assert_eq!(state(&p.ours), state(&p.theirs));
}

#[test]
fn uninit_removes_git_annex_as_the_reference() {
    let p = Pair::new(annexed(&[("a", "a\n"), ("d/c", "c\n")]));
    for d in [&p.ours, &p.theirs] {
        std::fs::write(d.join(".git/hooks/post-merge"), "#!/bin/sh\necho mine\n").expect("hook");
    }
    p.same(&["uninit"]);
    assert_eq!(state(&p.ours), state(&p.theirs));
    assert!(!p.ours.join(".git/annex").exists());
    assert_eq!(
        std::fs::read_to_string(p.ours.join("d/c")).expect("c"),
        "c\n"
    );
    p.same(&["uninit"]);
}
