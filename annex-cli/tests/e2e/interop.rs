//! The local workflow across implementations: a repository made by one
//! implementation, a clone worked by the other (get, drop, copy, move,
//! unlock, lock, add), and back on the first, every location change seen
//! after merging and `fsck` clean in both, by both implementations.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::ours;
use crate::support::{annex, annex_output, git};

/// Which implementation runs a step.
#[derive(Clone, Copy, Debug)]
enum Who {
    Reference,
    Ours,
}

/// Runs an annex command with `who`; panics with both outputs on failure.
fn run(who: Who, dir: &Path, args: &[&str]) -> String {
    let out = match who {
        Who::Reference => annex_output(dir, args, None),
        Who::Ours => ours(dir, args),
    };
    assert!(
        out.status.success(),
        "{who:?} {args:?} in {} failed ({}):\nstdout: {}\nstderr: {}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn uuid_of(dir: &Path) -> String {
    git(dir, &["config", "annex.uuid"]).trim().to_string()
}

/// The UUIDs `who` says hold each key, from `whereis --json --all`.
fn locations(who: Who, dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let out = run(who, dir, &["whereis", "--json", "--all"]);
    let mut map = BTreeMap::new();
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{who:?} JSON {line}: {e}"));
        let key = v["key"].as_str().expect("key field").to_string();
        let mut uuids = BTreeSet::new();
        for field in ["whereis", "untrusted"] {
            for w in v[field].as_array().into_iter().flatten() {
                uuids.insert(w["uuid"].as_str().expect("uuid").to_string());
            }
        }
        map.insert(key, uuids);
    }
    map
}

fn key_of(dir: &Path, file: &str) -> String {
    annex(dir, &["lookupkey", file]).trim().to_string()
}

fn fsck_clean(dir: &Path) {
    run(Who::Reference, dir, &["fsck", "-q"]);
    run(Who::Ours, dir, &["fsck", "-q"]);
}

/// One round of the scenario: `maker` creates and fills A, `worker` works
/// a clone B, and both implementations check the result.
fn scenario(maker: Who, worker: Who) {
    let top = tempfile::tempdir().expect("temp dir");
    let a = top.path().join("A");
    let b = top.path().join("B");
    std::fs::create_dir(&a).unwrap();
    git(&a, &["init", "-q", "-b", "main"]);
    run(maker, &a, &["init", "-q", "repo A"]);
    std::fs::create_dir_all(a.join("sub/deep")).unwrap();
    for (name, content) in [
        ("f1", "one"),
        ("f2", "two two"),
        ("f3", "three three three"),
        ("f4 unlocked", "four"),
        ("sub/deep/f5", "five"),
        ("sub/\u{e9}t\u{e9}", "summer"),
    ] {
        std::fs::write(a.join(name), content).unwrap();
    }
    run(maker, &a, &["add", "-q", "."]);
    git(&a, &["commit", "-q", "-m", "files"]);
    run(maker, &a, &["unlock", "-q", "f4 unlocked"]);
    git(&a, &["commit", "-q", "-a", "-m", "unlock"]);

    git(top.path(), &["clone", "-q", a.to_str().unwrap(), "B"]);
    run(worker, &b, &["init", "-q", "repo B"]);
    let (ua, ub) = (uuid_of(&a), uuid_of(&b));

    // B: get some, drop one again, move one back, add a file and copy it
    // to A, unlock and relock one, get the unlocked file.
    run(
        worker,
        &b,
        &["get", "-q", "f1", "f2", "f3", "sub", "f4 unlocked"],
    );
    assert_eq!(std::fs::read_to_string(b.join("f2")).unwrap(), "two two");
    assert_eq!(
        std::fs::read_to_string(b.join("f4 unlocked")).unwrap(),
        "four"
    );
    run(worker, &b, &["drop", "-q", "f1"]);
    run(worker, &b, &["move", "-q", "--to", "origin", "f3"]);
    std::fs::write(b.join("new"), "new content from B").unwrap();
    run(worker, &b, &["add", "-q", "new"]);
    git(&b, &["commit", "-q", "-m", "new"]);
    run(worker, &b, &["copy", "-q", "--to", "origin", "new"]);
    run(worker, &b, &["unlock", "-q", "f2"]);
    git(&b, &["commit", "-q", "-a", "-m", "unlock f2"]);
    run(worker, &b, &["lock", "-q", "f2"]);
    git(&b, &["commit", "-q", "-a", "-m", "lock f2"]);
    assert_eq!(std::fs::read_to_string(b.join("f2")).unwrap(), "two two");
    assert!(
        b.join("f2")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(!b.join("f1").exists(), "f1 was dropped: its link dangles");

    // What each key should be known to be in.
    let both: BTreeSet<String> = [ua.clone(), ub.clone()].into();
    let only_a: BTreeSet<String> = [ua.clone()].into();
    let expected: BTreeMap<String, BTreeSet<String>> = [
        (key_of(&b, "f1"), only_a.clone()),
        (key_of(&b, "f2"), both.clone()),
        (key_of(&b, "f3"), only_a.clone()),
        (key_of(&b, "f4 unlocked"), both.clone()),
        (key_of(&b, "sub/deep/f5"), both.clone()),
        (key_of(&b, "sub/\u{e9}t\u{e9}"), both.clone()),
        (key_of(&b, "new"), both.clone()),
    ]
    .into();

    // Back on A: after fetching B and merging, both implementations see
    // every location change; A holds what was moved and copied to it.
    git(&a, &["remote", "add", "B", b.to_str().unwrap()]);
    git(&a, &["fetch", "-q", "B"]);
    run(Who::Reference, &a, &["merge", "-q"]);
    for who in [Who::Reference, Who::Ours] {
        for dir in [&a, &b] {
            let seen = locations(who, dir);
            for (key, uuids) in &expected {
                assert_eq!(
                    seen.get(key),
                    Some(uuids),
                    "{who:?} in {} on {key} (made by {maker:?}, worked by {worker:?})",
                    dir.display()
                );
            }
        }
    }
    let new_key = key_of(&b, "new");
    let in_a = annex_output(&a, &["contentlocation", &new_key], None);
    assert!(in_a.status.success(), "the copied file's content is in A");
    fsck_clean(&a);
    fsck_clean(&b);
}

#[test]
fn reference_repository_worked_by_us() {
    scenario(Who::Reference, Who::Ours);
}

#[test]
fn our_repository_worked_by_the_reference() {
    scenario(Who::Ours, Who::Reference);
}

/// Issue 21, point 2: a location log whose path holds `?` (a key git
/// accepts on this platform) in the `git-annex` branch stops none of our
/// writes (it used to fail every one, gix checking paths with Windows'
/// rules); the reference and we both see every change, and the
/// reference's fsck is content.
#[test]
fn a_key_with_a_question_mark_does_not_stop_writes() {
    let dir = crate::support::new_git_repo();
    let d = dir.path();
    git(d, &["commit", "-q", "--allow-empty", "-m", "first"]);
    run(Who::Ours, d, &["init", "-q", "q"]);
    let remote = "11111111-2222-3333-4444-555555555555";
    let keys = ["SHA256E-s1--a?b", "WORM-s1-m1--x*y?", "SHA256E-s2--c<d>e|f"];
    // Each setpresentkey is committed by the next command (`merge`).
    for (i, key) in keys.iter().enumerate() {
        let who = if i == 1 { Who::Reference } else { Who::Ours };
        run(who, d, &["setpresentkey", key, remote, "1"]);
        run(Who::Ours, d, &["merge", "-q"]);
        run(Who::Ours, d, &["describe", "here", &format!("q{i}")]);
        run(Who::Ours, d, &["merge", "-q"]);
    }
    // A change of the first key's log: another repository has it now.
    let other = "66666666-7777-8888-9999-000000000000";
    run(Who::Ours, d, &["setpresentkey", keys[0], remote, "0"]);
    run(Who::Ours, d, &["setpresentkey", keys[0], other, "1"]);
    run(Who::Ours, d, &["merge", "-q"]);
    let tree = git(d, &["ls-tree", "-r", "--name-only", "git-annex"]);
    for key in keys {
        assert!(tree.contains(&format!("{key}.log")), "{key}: {tree}");
    }
    for who in [Who::Reference, Who::Ours] {
        let found = locations(who, d);
        assert_eq!(
            found.get(keys[0]),
            Some(&[other.to_owned()].into_iter().collect()),
            "{who:?}: {found:?}"
        );
        for key in &keys[1..] {
            assert_eq!(
                found.get(*key).map(|u| u.contains(remote)),
                Some(true),
                "{who:?} {key}: {found:?}"
            );
        }
    }
    run(Who::Reference, d, &["fsck", "--fast", "--all", "-q"]);
    assert!(annex(d, &["info", "--json"]).contains("q2"));
}
