//! Tests of `annex_core::ingest`: files added by the library and by the
//! reference `git annex add` on identical trees give identical staged
//! trees and symlinks; the reference's fsck passes on what we added; a
//! file changed while it is hashed is not ingested.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use annex_core::backend::Backend;
use annex_core::ingest::{self, Added, Disposition, IngestError, Ingester};
use annex_core::objects::ObjectStore;
use annex_core::preferred::LargeFiles;
use annex_core::repo::Repo;
use annex_core::state::State;

use crate::support;

/// A git repository initialized by the reference, with a tree of files.
fn tree() -> tempfile::TempDir {
    let dir = support::new_git_repo();
    let p = dir.path();
    support::annex(p, &["init", "-q"]);
    fs::create_dir_all(p.join("d/e/f")).unwrap();
    fs::write(p.join("a"), "hello\n").unwrap();
    fs::write(p.join("d/e/f/deep.txt"), "deep\n").unwrap();
    fs::write(p.join("empty"), "").unwrap();
    fs::write(p.join("ünï cödé"), "unicode\n").unwrap();
    fs::write(p.join("x.tar.gz"), "tgz\n").unwrap();
    fs::write(p.join("small"), "s\n").unwrap();
    fs::write(p.join("script"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(p.join("script"), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", p.join("outside")).unwrap();
    dir
}

fn files(p: &Path) -> Vec<Vec<u8>> {
    let out = support::git(p, &["ls-files", "-z", "--others"]);
    out.split('\0')
        .filter(|s| !s.is_empty())
        .map(|s| s.as_bytes().to_vec())
        .collect()
}

/// Adds every untracked file of `p` with the library, as `git annex add`
/// with `annex.largefiles=largerthan=2b` would; returns what was added.
fn add_with_library(p: &Path) -> Vec<Added> {
    let repo = gix::open(p).unwrap();
    let store = ObjectStore::open(p.join(".git")).unwrap();
    let ingester = Ingester::new(p.canonicalize().unwrap(), store, Backend::Sha256E);
    let matcher = LargeFiles::parse(b"largerthan=2b").unwrap();
    let state = State::new(Repo::open(p).unwrap().branch().unwrap());
    let uuid = Repo::open(p).unwrap().uuid().cloned().unwrap();
    let mut entries = Vec::new();
    let mut all = Vec::new();
    for f in files(p) {
        let size = fs::symlink_metadata(p.join(String::from_utf8_lossy(&f).as_ref()))
            .unwrap()
            .len();
        let how = Ingester::disposition(&f, size, false, false, &matcher);
        let added = ingester.add(&repo, &f, how).unwrap();
        match &added {
            Added::Annexed {
                key,
                entry,
                present,
                ..
            } => {
                if *present {
                    state.set_present(key, &uuid, true).unwrap();
                }
                entries.push(entry.clone());
            }
            Added::Git { entry, .. } => entries.push(entry.clone()),
            Added::Nothing => {}
        }
        all.push(added);
    }
    ingest::stage(&repo, &entries).unwrap();
    state.commit().unwrap();
    all
}

/// What must be the same after both adds: the staged entries, the link
/// targets, and which keys the location log has.
fn snapshot(p: &Path) -> String {
    let mut s = support::git(p, &["ls-files", "-s"]);
    for line in support::git(p, &["ls-files", "-z"]).split('\0') {
        if let Ok(t) = fs::read_link(p.join(line)) {
            s.push_str(&format!("{line} -> {}\n", t.display()));
        }
    }
    let logs = support::git(p, &["ls-tree", "-r", "--name-only", "git-annex"]);
    for l in logs
        .lines()
        .filter(|l| l.ends_with(".log") && l.contains("--"))
    {
        s.push_str(l);
        s.push('\n');
    }
    s.push_str(&support::git(p, &["status", "--porcelain"]));
    s
}

#[test]
fn library_add_matches_the_reference_add() {
    let ours = tree();
    let theirs = tree();
    let added = add_with_library(ours.path());
    assert!(
        added
            .iter()
            .any(|a| matches!(a, Added::Git { note: Some(n), .. } if n.starts_with("non-large")))
    );
    support::annex(
        theirs.path(),
        &["add", "-c", "annex.largefiles=largerthan=2b", "-q", "."],
    );
    assert_eq!(snapshot(ours.path()), snapshot(theirs.path()));
    // The reference checks what we added.
    let fsck = support::annex_output(ours.path(), &["fsck"], None);
    assert!(fsck.status.success(), "{fsck:?}");
    // And adding again does nothing.
    let again = add_with_library(ours.path());
    assert!(again.is_empty(), "{again:?}");
}

#[test]
fn a_file_changed_while_hashed_is_not_ingested() {
    let dir = tree();
    let p = dir.path().canonicalize().unwrap();
    let repo = gix::open(&p).unwrap();
    let store = ObjectStore::open(p.join(".git")).unwrap();
    // The hook runs after lockdown (the file is read-only then), before
    // hashing: it appends to the file, as a writer with the file open would.
    let hook: ingest::HashHook = Arc::new(|path: &Path| {
        fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
        let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
        std::io::Write::write_all(&mut f, b"more\n").unwrap();
    });
    let ingester = Ingester::new(&p, store.clone(), Backend::Sha256E).with_hash_hook(hook);
    let err = ingester.add(&repo, b"a", Disposition::Annex).unwrap_err();
    assert!(matches!(err, IngestError::Changed { .. }), "{err}");
    assert_eq!(err.to_string(), "a changed while it was being added");
    // Nothing ingested, the file is as the writer left it, not a symlink,
    // writable again, and no temp file is left.
    assert_eq!(fs::read_to_string(p.join("a")).unwrap(), "hello\nmore\n");
    assert!(fs::symlink_metadata(p.join("a")).unwrap().is_file());
    let objects = p.join(".git/annex/objects");
    assert!(!objects.exists() || walk(&objects) == 0);
    assert_eq!(walk(&p.join(".git/annex/othertmp")), 0);

    // A file replaced by another one while hashed: the new file is kept.
    let hook: ingest::HashHook = Arc::new(|path: &Path| {
        fs::remove_file(path).unwrap();
        fs::write(path, "replacement\n").unwrap();
    });
    let ingester = Ingester::new(&p, store, Backend::Sha256E).with_hash_hook(hook);
    let err = ingester
        .add(&repo, b"small", Disposition::Annex)
        .unwrap_err();
    assert!(matches!(err, IngestError::Changed { .. }), "{err}");
    assert_eq!(
        fs::read_to_string(p.join("small")).unwrap(),
        "replacement\n"
    );
    assert_eq!(walk(&p.join(".git/annex/othertmp")), 0);
}

fn walk(dir: &Path) -> usize {
    let Ok(rd) = fs::read_dir(dir) else { return 0 };
    rd.map(|e| {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            walk(&e.path())
        } else {
            1
        }
    })
    .sum()
}

#[test]
fn a_vanished_file_is_nothing_to_do() {
    let dir = tree();
    let p = dir.path().canonicalize().unwrap();
    let repo = gix::open(&p).unwrap();
    let store = ObjectStore::open(p.join(".git")).unwrap();
    let ingester = Ingester::new(&p, store, Backend::Sha256E);
    assert!(matches!(
        ingester
            .add(&repo, b"no-such-file", Disposition::Annex)
            .unwrap(),
        Added::Nothing
    ));
}

#[test]
fn unlock_and_lock_round_trip_with_the_reference() {
    let dir = tree();
    let p = dir.path().canonicalize().unwrap();
    support::annex(&p, &["add", "-q", "a", "d"]);
    support::git(&p, &["commit", "-q", "-m", "add"]);
    let repo = gix::open(&p).unwrap();
    let store = ObjectStore::open(p.join(".git")).unwrap();
    let key = |f: &str| {
        annex_core::key::Key::parse(support::annex(&p, &["lookupkey", f]).trim().as_bytes())
            .unwrap()
    };
    let ka = key("a");
    let entry = ingest::unlock(&repo, &p, &store, b"a", &ka, ingest::Thin::Copy).unwrap();
    ingest::stage(&repo, &[entry]).unwrap();
    assert_eq!(fs::read_to_string(p.join("a")).unwrap(), "hello\n");
    // The same staged pointer as the reference's unlock gives.
    let staged = support::git(&p, &["ls-files", "-s", "a"]);
    support::annex(&p, &["lock", "a"]);
    support::annex(&p, &["unlock", "a"]);
    assert_eq!(support::git(&p, &["ls-files", "-s", "a"]), staged);
    // The reference sees no change, and its fsck passes.
    assert_eq!(support::git(&p, &["status", "--porcelain", "a"]), "T  a\n");
    let fsck = support::annex_output(&p, &["fsck", "a"], None);
    assert!(fsck.status.success(), "{fsck:?}");

    // We lock what the reference unlocked; a modified file is refused.
    let ingester = Ingester::new(&p, store, Backend::Sha256E);
    fs::write(p.join("a"), "changed\n").unwrap();
    assert!(matches!(
        ingest::lock(&repo, &ingester, b"a", &ka, false),
        Err(IngestError::Modified { .. })
    ));
    fs::write(p.join("a"), "hello\n").unwrap();
    let ingest::Locked::Done(entry) = ingest::lock(&repo, &ingester, b"a", &ka, false).unwrap();
    ingest::stage(&repo, &[entry]).unwrap();
    assert_eq!(support::git(&p, &["status", "--porcelain", "a"]), "");
    let fsck = support::annex_output(&p, &["fsck"], None);
    assert!(fsck.status.success(), "{fsck:?}");
}
