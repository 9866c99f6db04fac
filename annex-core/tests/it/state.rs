//! Integration tests: a repository's state through `Repo` and `State`,
//! against the reference git-annex in both directions, and concurrent
//! changes in two clones merged both ways.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use annex_core::key::Key;
use annex_core::logs::trust::TrustLevel;
use annex_core::repo::Repo;
use annex_core::state::State;
use annex_core::uuid::Uuid;

use crate::support;

/// UUID -> (trust level name, description) as the reference's `info --json`
/// lists them, leaving out its built-in web and bittorrent entries.
fn reference_repositories(dir: &Path) -> BTreeMap<String, (String, String)> {
    let out = support::annex(dir, &["info", "--json", "--fast"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("info --json");
    let mut m = BTreeMap::new();
    for level in ["trusted", "semitrusted", "untrusted"] {
        for r in v[format!("{level} repositories")].as_array().expect("list") {
            let uuid = r["uuid"].as_str().expect("uuid").to_owned();
            if uuid.starts_with("00000000-0000-0000-0000-00000000000") {
                continue;
            }
            let desc = r["description"].as_str().expect("description");
            // The reference marks each description with the repository's
            // name here: " [here]", " [origin]", ...
            let desc = match desc.rfind(" [") {
                Some(i) if desc.ends_with(']') => &desc[..i],
                _ => desc,
            }
            .to_owned();
            m.insert(uuid, (level.to_owned(), desc));
        }
    }
    m
}

/// The same, as our library reads it.
fn our_repositories(state: &State) -> BTreeMap<String, (String, String)> {
    let trust = state.trust_levels().expect("trust");
    state
        .descriptions()
        .expect("descriptions")
        .into_iter()
        .map(|(uuid, desc)| {
            let level = trust.get(&uuid).copied().unwrap_or(TrustLevel::SemiTrusted);
            (
                uuid.to_string(),
                (
                    level.name().to_owned(),
                    String::from_utf8_lossy(&desc).into_owned(),
                ),
            )
        })
        .collect()
}

fn reference_groups(dir: &Path, uuid: &str) -> BTreeSet<String> {
    support::annex(dir, &["group", uuid])
        .lines()
        .flat_map(|l| l.split(' '))
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect()
}

fn our_groups(state: &State, uuid: &Uuid) -> BTreeSet<String> {
    state
        .groups()
        .expect("groups")
        .get(uuid)
        .map(|gs| {
            gs.iter()
                .map(|g| String::from_utf8_lossy(g).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn reference_numcopies(dir: &Path) -> String {
    support::annex(dir, &["numcopies"]).trim().to_owned()
}

fn reference_whereis(dir: &Path, key: &str) -> BTreeSet<String> {
    // whereis exits 1 when no trusted copy is known; its JSON says all the same.
    let out = support::annex_output(dir, &["whereis", "--json", "--key", key], None);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("whereis --json");
    // Untrusted copies are listed apart from the others.
    ["whereis", "untrusted"]
        .iter()
        .flat_map(|field| v[field].as_array().expect("whereis list"))
        .map(|r| r["uuid"].as_str().expect("uuid").to_owned())
        .collect()
}

fn state_of(dir: &Path) -> (Repo, State) {
    let repo = Repo::open(dir).expect("open");
    let state = State::new(repo.branch().expect("branch"));
    (repo, state)
}

fn uuid_of(dir: &Path) -> String {
    support::git(dir, &["config", "annex.uuid"])
        .trim()
        .to_owned()
}

/// Three repositories known to one another, each initialized by the
/// reference; returns the first (a clone of the other two's origin).
#[test]
fn reference_repository_opens_with_the_same_state() {
    let origin = support::new_git_repo();
    support::git(
        origin.path(),
        &["commit", "-q", "--allow-empty", "-m", "start"],
    );
    support::annex(origin.path(), &["init", "origin repo"]);
    let clone = tempfile::tempdir().expect("temp");
    let clone_path = clone.path().join("c");
    support::git(
        clone.path(),
        &["clone", "-q", origin.path().to_str().expect("utf-8"), "c"],
    );
    support::annex(&clone_path, &["init", "the clone, with spaces"]);
    let origin_uuid = uuid_of(origin.path());
    let here = uuid_of(&clone_path);
    support::annex(&clone_path, &["untrust", "origin"]);
    support::annex(&clone_path, &["trust", "here", "--force"]);
    support::annex(&clone_path, &["group", "here", "backup"]);
    support::annex(&clone_path, &["group", "here", "archive"]);
    support::annex(&clone_path, &["group", "origin", "client"]);
    support::annex(&clone_path, &["ungroup", "here", "archive"]);
    support::annex(&clone_path, &["numcopies", "3"]);
    support::annex(&clone_path, &["mincopies", "2"]);
    support::annex(
        &clone_path,
        &["wanted", "here", "include=*.mp3 or largerthan=1mb"],
    );
    support::annex(&clone_path, &["required", "origin", "present"]);
    support::annex(&clone_path, &["groupwanted", "backup", "anything"]);
    support::annex(
        &clone_path,
        &["config", "--set", "annex.largefiles", "largerthan=10kb"],
    );
    support::annex(&clone_path, &["maxsize", "here", "5000000"]);
    let key = "SHA256E-s3--0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.txt";
    support::annex(&clone_path, &["setpresentkey", key, &origin_uuid, "1"]);
    support::annex(&clone_path, &["setpresentkey", key, &here, "1"]);
    support::annex(&clone_path, &["setpresentkey", key, &here, "0"]);

    let (repo, state) = state_of(&clone_path);
    assert_eq!(repo.uuid().map(|u| u.to_string()), Some(here.clone()));
    assert_eq!(
        our_repositories(&state),
        reference_repositories(&clone_path)
    );
    for u in [&here, &origin_uuid] {
        let uuid = Uuid::parse(u.as_bytes()).expect("uuid");
        assert_eq!(
            our_groups(&state, &uuid),
            reference_groups(&clone_path, u),
            "{u}"
        );
    }
    assert_eq!(state.numcopies().expect("numcopies"), Some(3));
    assert!(reference_numcopies(&clone_path).contains('3'));
    assert_eq!(state.mincopies().expect("mincopies"), Some(2));
    let me = Uuid::parse(here.as_bytes()).expect("uuid");
    let wanted = support::annex(&clone_path, &["wanted", "here"]);
    assert_eq!(
        state
            .preferred_content()
            .expect("wanted")
            .get(&me)
            .map(|e| e.as_slice()),
        Some(wanted.trim_end().as_bytes())
    );
    assert_eq!(
        state
            .group_preferred_content()
            .expect("groupwanted")
            .get(&b"backup"[..]),
        Some(&b"anything".to_vec())
    );
    let largefiles = support::annex(&clone_path, &["config", "--get", "annex.largefiles"]);
    assert_eq!(
        state
            .config()
            .expect("config")
            .get(&b"annex.largefiles"[..]),
        Some(&largefiles.trim_end().as_bytes().to_vec())
    );
    assert_eq!(
        state.maxsizes().expect("maxsize").get(&me),
        Some(&5_000_000)
    );
    let k = Key::parse(key.as_bytes()).expect("key");
    let ours: BTreeSet<String> = state
        .whereis(&k)
        .expect("whereis")
        .iter()
        .map(|u| u.to_string())
        .collect();
    assert_eq!(ours, reference_whereis(&clone_path, key));
    assert_eq!(ours, BTreeSet::from([origin_uuid]));
}

#[test]
fn what_we_write_the_reference_reads() {
    let dir = support::new_git_repo();
    let repo = Repo::init(dir.path(), Some("ours")).expect("init");
    let me = repo.uuid().expect("uuid").clone();
    let other = Uuid::parse(b"11111111-2222-3333-4444-555555555555").expect("uuid");
    let state = State::new(repo.branch().expect("branch"));
    state
        .set_description(&other, b"somewhere else")
        .expect("describe");
    state
        .set_description(&me, b"ours, renamed")
        .expect("describe");
    state
        .set_trust(&other, TrustLevel::Untrusted)
        .expect("trust");
    state.set_trust(&me, TrustLevel::Trusted).expect("trust");
    state
        .set_groups(
            &me,
            BTreeSet::from([b"client".to_vec(), b"laptops".to_vec()]),
        )
        .expect("group");
    state.set_numcopies(4).expect("numcopies");
    state
        .set_preferred_content(&me, b"standard")
        .expect("wanted");
    state
        .set_group_preferred_content(b"laptops", b"not copies=2")
        .expect("groupwanted");
    state
        .set_config(b"annex.dotfiles", b"true")
        .expect("config");
    let key = Key::parse(b"SHA1-s5--aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d").expect("key");
    state.set_present(&key, &other, true).expect("present");
    state
        .set_url(&key, b"https://example.org/hello", true)
        .expect("url");
    // Half committed, half left in the journal: the reference reads both.
    state.commit().expect("commit");
    state.set_present(&key, &me, true).expect("present");

    assert_eq!(reference_repositories(dir.path()), our_repositories(&state));
    assert_eq!(
        reference_groups(dir.path(), me.as_str()),
        BTreeSet::from(["client".to_owned(), "laptops".to_owned()])
    );
    assert!(reference_numcopies(dir.path()).contains('4'));
    assert_eq!(
        support::annex(dir.path(), &["wanted", "here"]).trim_end(),
        "standard"
    );
    assert_eq!(
        support::annex(dir.path(), &["groupwanted", "laptops"]).trim_end(),
        "not copies=2"
    );
    assert_eq!(
        support::annex(dir.path(), &["config", "--get", "annex.dotfiles"]).trim_end(),
        "true"
    );
    let key_s = std::str::from_utf8(key.as_bytes()).expect("utf-8");
    assert_eq!(
        reference_whereis(dir.path(), key_s),
        BTreeSet::from([
            me.to_string(),
            other.to_string(),
            annex_core::uuid::WEB_UUID.to_owned()
        ])
    );
    let out = support::annex(dir.path(), &["whereis", "--json", "--key", key_s]);
    assert!(out.contains("https://example.org/hello"), "{out}");

    // The reference's fsck of the whole repository stays quiet.
    let fsck = support::annex_output(dir.path(), &["fsck", "--fast"], None);
    assert!(fsck.status.success(), "{fsck:?}");
}

/// Two clones change the same logs at the same time, one through us and one
/// through the reference; after each merges the other's `git-annex` branch,
/// both report the same state, whoever reads it.
#[test]
fn concurrent_changes_converge_after_merging_both_ways() {
    let a = support::new_git_repo();
    support::git(a.path(), &["commit", "-q", "--allow-empty", "-m", "start"]);
    support::annex(a.path(), &["init", "A"]);
    let tmp = tempfile::tempdir().expect("temp");
    let b_path = tmp.path().join("b");
    support::git(
        tmp.path(),
        &["clone", "-q", a.path().to_str().expect("utf-8"), "b"],
    );
    let b_repo = Repo::init(&b_path, Some("B")).expect("init B");
    let ua = uuid_of(a.path());
    let ub = b_repo.uuid().expect("uuid").to_string();
    support::git(
        a.path(),
        &["remote", "add", "b", b_path.to_str().expect("utf-8")],
    );

    let key = "SHA256-s10--4a5b6c7d8e9f00112233445566778899aabbccddeeff00112233445566778899";
    let k = Key::parse(key.as_bytes()).expect("key");
    let uuid_a = Uuid::parse(ua.as_bytes()).expect("uuid");
    let uuid_b = Uuid::parse(ub.as_bytes()).expect("uuid");

    // A, through the reference.
    support::annex(a.path(), &["describe", "here", "A renamed"]);
    support::annex(a.path(), &["group", "here", "archive"]);
    support::annex(a.path(), &["numcopies", "2"]);
    support::annex(a.path(), &["setpresentkey", key, &ua, "1"]);
    support::annex(a.path(), &["config", "--set", "annex.autocommit", "false"]);
    // B, through us, on the same logs.
    let b_state = State::new(b_repo.branch().expect("branch"));
    b_state
        .set_trust(&uuid_a, TrustLevel::Untrusted)
        .expect("trust");
    b_state
        .set_groups(&uuid_b, BTreeSet::from([b"client".to_vec()]))
        .expect("group");
    b_state.set_present(&k, &uuid_b, true).expect("present");
    b_state
        .set_config(b"annex.synccontent", b"true")
        .expect("config");
    b_state.commit().expect("commit");

    // Merge both ways: the reference in A, us in B.
    support::git(a.path(), &["fetch", "-q", "b"]);
    support::annex(a.path(), &["merge"]);
    support::git(&b_path, &["fetch", "-q", "origin"]);
    let b_branch = b_repo.branch().expect("branch");
    b_branch.update().expect("merge in B");

    // The same branch content on both sides.
    let tree = |dir: &Path| support::git(dir, &["ls-tree", "-r", "git-annex"]);
    assert_eq!(tree(a.path()), tree(&b_path));

    // The same state, as the reference reports it on each side and as we read it.
    let (_, a_state) = state_of(a.path());
    let (_, b_state) = state_of(&b_path);
    for (dir, state) in [(a.path(), &a_state), (b_path.as_path(), &b_state)] {
        assert_eq!(reference_repositories(dir), our_repositories(state));
        for u in [&ua, &ub] {
            let uuid = Uuid::parse(u.as_bytes()).expect("uuid");
            assert_eq!(reference_groups(dir, u), our_groups(state, &uuid));
        }
        let ours: BTreeSet<String> = state
            .whereis(&k)
            .expect("whereis")
            .iter()
            .map(|u| u.to_string())
            .collect();
        assert_eq!(ours, reference_whereis(dir, key));
        assert_eq!(ours, BTreeSet::from([ua.clone(), ub.clone()]));
        assert_eq!(state.numcopies().expect("numcopies"), Some(2));
        assert_eq!(
            state
                .config()
                .expect("config")
                .get(&b"annex.synccontent"[..]),
            Some(&b"true".to_vec())
        );
    }
    assert_eq!(our_repositories(&a_state), our_repositories(&b_state));
    assert_eq!(
        our_repositories(&a_state)
            .get(&ua)
            .map(|(t, d)| (t.as_str(), d.as_str())),
        Some(("untrusted", "A renamed"))
    );
}

/// With `annex.private`, changes about this repository stay in the private
/// journal, as the reference keeps them: init by us and by the reference
/// leave the same files in the branch and in `journal-private`.
#[test]
fn private_repository_stays_out_of_the_branch() {
    let listing = |dir: &Path| {
        let tree = support::git(dir, &["ls-tree", "-r", "--name-only", "git-annex"]);
        let mut private: Vec<String> = std::fs::read_dir(dir.join(".git/annex/journal-private"))
            .map(|rd| {
                rd.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        private.sort();
        (tree, private)
    };
    let theirs = support::new_git_repo();
    support::git(theirs.path(), &["config", "annex.private", "true"]);
    support::annex(theirs.path(), &["init", "hidden"]);
    support::annex(theirs.path(), &["trust", "here", "--force"]);
    support::annex(theirs.path(), &["numcopies", "2"]);

    let ours = support::new_git_repo();
    support::git(ours.path(), &["config", "annex.private", "true"]);
    let repo = Repo::init(ours.path(), Some("hidden")).expect("init");
    let me = repo.uuid().expect("uuid").clone();
    let state = State::new(repo.branch().expect("branch"));
    state.set_trust(&me, TrustLevel::Trusted).expect("trust");
    state.set_numcopies(2).expect("numcopies");
    state.commit().expect("commit");

    assert_eq!(listing(ours.path()), listing(theirs.path()));
    let (tree, private) = listing(ours.path());
    assert!(
        !tree.contains("uuid.log") && !tree.contains("trust.log"),
        "{tree}"
    );
    assert!(tree.contains("numcopies.log"), "{tree}");
    assert_eq!(private, ["trust.log", "uuid.log"]);
    // The reference, reading our repository, sees the private state.
    assert_eq!(
        reference_repositories(ours.path()).get(me.as_str()),
        Some(&("trusted".to_owned(), "hidden".to_owned()))
    );
}
