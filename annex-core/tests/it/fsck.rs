//! `annex_core::fsck` and `annex_core::unused`, on repositories the
//! reference git-annex made and then checks: what a check reports, what it
//! repairs (the reference's `whereis` and `fsck` agree afterwards), and the
//! order in which unused keys are numbered.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use annex_core::fsck::{Event, Fsck, FsckError, logged_keys, record_activity};
use annex_core::key::Key;
use annex_core::objects::ObjectStore;
use annex_core::repo::Repo;
use annex_core::state::State;

use crate::support::{annex, annex_output, git, new_git_repo};

/// A repository the reference filled with `a`, `b` and `d/c`.
fn fixture() -> tempfile::TempDir {
    let dir = new_git_repo();
    let d = dir.path();
    annex(d, &["init", "fsck lib"]);
    std::fs::write(d.join("a"), "aaa\n").unwrap();
    std::fs::write(d.join("b"), "bbbb\n").unwrap();
    std::fs::create_dir(d.join("d")).unwrap();
    std::fs::write(d.join("d/c"), "cc\n").unwrap();
    annex(d, &["add", "-q", "a", "b", "d"]);
    git(d, &["commit", "-q", "-m", "files"]);
    dir
}

fn key_of(d: &Path, file: &str) -> Key {
    Key::parse(annex(d, &["lookupkey", file]).trim().as_bytes()).unwrap()
}

/// The object file of `file`, made writable so a test can break it.
fn object_of(d: &Path, file: &str) -> PathBuf {
    let key = annex(d, &["lookupkey", file]);
    let obj = d.join(annex(d, &["contentlocation", key.trim()]).trim());
    for p in [obj.parent().unwrap(), obj.as_path()] {
        let mut perm = std::fs::metadata(p).unwrap().permissions();
        perm.set_mode(perm.mode() | 0o200);
        std::fs::set_permissions(p, perm).unwrap();
    }
    obj
}

/// Runs one check of `file` with numcopies 1 and returns its result and
/// events; the journal is committed afterwards.
fn check(d: &Path, file: &str, fast: bool) -> (bool, Vec<Event>) {
    let repo = Repo::open(d).unwrap();
    let state = State::new(repo.branch().unwrap());
    let store = ObjectStore::open(repo.git_dir()).unwrap();
    let here = repo.uuid().unwrap().clone();
    let fsck = Fsck::new(
        &state,
        &store,
        here,
        BTreeMap::new(),
        BTreeMap::new(),
        PathBuf::from(".git/annex/bad"),
    )
    .fast(fast);
    let mut events = Vec::new();
    let ok = fsck
        .check_key::<FsckError>(&key_of(d, file), file, true, 1, &mut |e| {
            events.push(e);
            Ok(())
        })
        .unwrap();
    state.commit().unwrap();
    (ok, events)
}

#[test]
fn sound_content_passes() {
    let dir = fixture();
    let (ok, events) = check(dir.path(), "a", false);
    assert!(ok);
    assert_eq!(events, vec![Event::Note("checksum...")]);
    let (ok, events) = check(dir.path(), "a", true);
    assert!(ok);
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn corrupted_content_is_moved_to_bad_and_logged_missing() {
    let dir = fixture();
    let d = dir.path();
    let key = key_of(d, "b");
    std::fs::write(object_of(d, "b"), "XXXX\n").unwrap();
    // --fast sees nothing wrong with content of the right size.
    assert!(check(d, "b", true).0);
    let (ok, events) = check(d, "b", false);
    assert!(!ok);
    let keyname = String::from_utf8_lossy(key.as_bytes()).into_owned();
    assert_eq!(events[0], Event::Note("checksum..."));
    assert_eq!(
        events[1],
        Event::Warning(format!(
            "b: Bad file content; moved to .git/annex/bad/{keyname}"
        ))
    );
    assert!(events.contains(&Event::Warning("** No known copies exist of b".into())));
    assert_eq!(
        std::fs::read(d.join(".git/annex/bad").join(&keyname)).unwrap(),
        b"XXXX\n"
    );
    // The reference sees the content gone and the log saying so.
    let w = annex_output(d, &["whereis", "b"], None);
    assert_eq!(w.status.code(), Some(1), "{w:?}");
    assert!(String::from_utf8_lossy(&w.stdout).contains("(0 copies)"));
    // And its fsck of the other files is clean.
    let f = annex_output(d, &["fsck", "a", "d"], None);
    assert!(f.status.success(), "{f:?}");
}

#[test]
fn content_of_the_wrong_size_is_moved_even_with_fast() {
    let dir = fixture();
    let d = dir.path();
    std::fs::write(object_of(d, "b"), "much longer\n").unwrap();
    let (ok, events) = check(d, "b", true);
    assert!(!ok);
    let Event::Warning(w) = &events[0] else {
        panic!("{events:?}")
    };
    assert!(
        w.starts_with("b: Bad file size (7 B larger); moved to"),
        "{w}"
    );
}

#[test]
fn missing_content_fixes_the_location_log() {
    let dir = fixture();
    let d = dir.path();
    std::fs::remove_file(object_of(d, "b")).unwrap();
    let (ok, events) = check(d, "b", false);
    assert!(!ok);
    assert_eq!(events[0], Event::Note("fixing location log"));
    assert_eq!(
        events[1],
        Event::Warning(
            "** Based on the location log, b\n** was expected to be present, but its content is missing."
                .into()
        )
    );
    let w = annex_output(d, &["whereis", "b"], None);
    assert!(
        String::from_utf8_lossy(&w.stdout).contains("(0 copies)"),
        "{w:?}"
    );
    // Checked again: nothing more to fix, only the missing copies.
    let (_, events) = check(d, "b", false);
    assert!(
        !events.contains(&Event::Note("fixing location log")),
        "{events:?}"
    );
}

#[test]
fn content_present_but_not_logged_is_logged() {
    let dir = fixture();
    let d = dir.path();
    let key = key_of(d, "a");
    let uuid = git(d, &["config", "annex.uuid"]);
    annex(d, &["setpresentkey", &key.to_string(), uuid.trim(), "0"]);
    let w = annex_output(d, &["whereis", "a"], None);
    assert!(
        String::from_utf8_lossy(&w.stdout).contains("(0 copies)"),
        "{w:?}"
    );
    let (ok, events) = check(d, "a", false);
    assert!(ok, "{events:?}");
    assert_eq!(events[0], Event::Note("fixing location log"));
    let w = annex(d, &["whereis", "a"]);
    assert!(w.contains("(1 copy)"), "{w}");
}

#[test]
fn logged_keys_are_those_the_reference_checks_with_all() {
    let dir = fixture();
    let d = dir.path();
    let repo = Repo::open(d).unwrap();
    let state = State::new(repo.branch().unwrap());
    let ours: Vec<String> = logged_keys(&state)
        .unwrap()
        .iter()
        .map(|k| k.to_string())
        .collect();
    let theirs: Vec<String> = annex(d, &["fsck", "--all", "--fast", "--json"])
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["key"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ours, theirs);

    // The activity is recorded where the reference's fsck records it.
    record_activity(&state, repo.uuid().unwrap()).unwrap();
    state.commit().unwrap();
    let log = git(d, &["show", "git-annex:activity.log"]);
    assert!(
        log.starts_with(&format!("{} Fsck timestamp=", repo.uuid().unwrap())),
        "{log}"
    );
}

/// With every file gone from every ref, the reference numbers all present
/// keys: ours come in the same order (git-annex's walk of the object
/// directories decides the numbers).
#[test]
fn present_keys_in_the_order_unused_numbers_them() {
    let dir = new_git_repo();
    let d = dir.path();
    annex(d, &["init", "order"]);
    for i in 0..60 {
        std::fs::write(d.join(format!("f{i}")), format!("content {i}\n")).unwrap();
    }
    annex(d, &["add", "-q", "."]);
    git(d, &["commit", "-q", "-m", "files"]);
    git(d, &["rm", "-q", "-r", "."]);
    git(d, &["commit", "-q", "-m", "gone"]);
    let out = annex(d, &["unused", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let list = v["unused-list"].as_object().unwrap();
    let mut theirs: Vec<(u64, String)> = list
        .iter()
        .map(|(n, k)| (n.parse().unwrap(), k.as_str().unwrap().to_string()))
        .collect();
    theirs.sort();
    let theirs: Vec<String> = theirs.into_iter().map(|(_, k)| k).collect();
    let repo = Repo::open(d).unwrap();
    let store = ObjectStore::open(repo.git_dir()).unwrap();
    let ours: Vec<String> = annex_core::unused::present_keys(&store)
        .iter()
        .map(|k| k.to_string())
        .collect();
    assert_eq!(theirs.len(), 60);
    assert_eq!(ours, theirs);
}
