//! `core.sharedRepository` applied under `.git/annex` as the reference
//! applies it (directories and files group-writable, content locked down
//! with the shared modes), and `add --quiet` silent as the reference's.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::{ours, support};

/// The mode of everything under `.git/annex`, by path (key names
/// replaced: both repositories hold the same keys anyway).
fn modes(repo: &Path) -> BTreeMap<String, u32> {
    let annex = repo.join(".git/annex");
    let mut out = BTreeMap::new();
    let mut todo = vec![annex.clone()];
    while let Some(p) = todo.pop() {
        let md = fs::symlink_metadata(&p).unwrap();
        let rel = p
            .strip_prefix(&annex)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        out.insert(rel, md.permissions().mode() & 0o7777);
        if md.is_dir() {
            for e in fs::read_dir(&p).unwrap() {
                todo.push(e.unwrap().path());
            }
        }
    }
    out
}

/// A repository with `core.sharedRepository=VALUE`, initialized, with two
/// files added, committed and one unlocked, by the reference (`theirs`)
/// or by us.
fn worked(value: &str, theirs: bool) -> tempfile::TempDir {
    let dir = support::new_git_repo();
    let p = dir.path();
    support::git(p, &["config", "core.sharedRepository", value]);
    let run = |args: &[&str]| {
        let o = if theirs {
            support::annex_output(p, args, None)
        } else {
            ours(p, args)
        };
        assert!(o.status.success(), "{args:?}: {o:?}");
    };
    run(&["init", "-q"]);
    fs::write(p.join("a"), "a").unwrap();
    fs::create_dir(p.join("d")).unwrap();
    fs::write(p.join("d/b"), "b").unwrap();
    run(&["add", "-q", "a", "d"]);
    support::git(p, &["commit", "-q", "-m", "x"]);
    run(&["unlock", "-q", "a"]);
    dir
}

#[test]
fn shared_repository_modes_under_git_annex_are_the_references() {
    for value in ["group", "all", "true"] {
        let (t, o) = (worked(value, true), worked(value, false));
        let (theirs, mine) = (modes(t.path()), modes(o.path()));
        let mut common = 0;
        for (path, m) in &mine {
            if let Some(tm) = theirs.get(path) {
                assert_eq!(format!("{m:o}"), format!("{tm:o}"), "{value}: {path}");
                common += 1;
            }
        }
        // The annex directory, the journal, its lock, the branch's index
        // and the objects were compared.
        for p in [
            "",
            "journal",
            "journal.lck",
            "index",
            "index.lck",
            "objects",
        ] {
            assert!(
                mine.contains_key(p) && theirs.contains_key(p),
                "{value}: {p}"
            );
        }
        assert!(common >= 15, "{value}: {common} compared");
        assert_eq!(mine[""] & 0o070, 0o070, "{value}: group rwx on .git/annex");
    }
}

#[test]
fn add_quiet_prints_nothing_as_the_reference() {
    let (t, o) = (support::new_git_repo(), support::new_git_repo());
    for d in [&t, &o] {
        support::annex(d.path(), &["init", "-q"]);
        fs::write(d.path().join("f"), "content").unwrap();
        fs::write(d.path().join("g"), "more").unwrap();
    }
    let theirs = support::annex_output(t.path(), &["add", "-q", "f", "g"], None);
    let mine = ours(o.path(), &["add", "--quiet", "f", "g"]);
    assert_eq!(String::from_utf8_lossy(&mine.stdout), "");
    assert_eq!(mine.stdout, theirs.stdout);
    assert_eq!(mine.status.code(), theirs.status.code());
    let mine = ours(o.path(), &["get", "-q", "f"]);
    assert_eq!(String::from_utf8_lossy(&mine.stdout), "");
}
