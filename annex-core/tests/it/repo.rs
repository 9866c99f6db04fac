//! Integration tests: repo.

use std::path::Path;

use annex_core::repo::{Repo, RepoError};

use crate::support;

/// Runs a reference command and fails on a non-zero exit or a warning.
fn annex_clean(dir: &Path, args: &[&str]) -> String {
    let out = support::annex_output(dir, args, None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "git-annex {args:?} failed: {stderr}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        !stderr.to_lowercase().contains("warning") && !stderr.to_lowercase().contains("error"),
        "git-annex {args:?} warned: {stderr}"
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The repositories `git annex info --json` lists: (uuid, description, here).
fn info_repos(dir: &Path) -> Vec<(String, String, bool)> {
    let out = annex_clean(dir, &["info", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("info json");
    let mut repos = Vec::new();
    for level in [
        "semitrusted repositories",
        "trusted repositories",
        "untrusted repositories",
    ] {
        for r in v[level].as_array().expect("repo list") {
            repos.push((
                r["uuid"].as_str().expect("uuid").to_owned(),
                r["description"].as_str().expect("description").to_owned(),
                r["here"].as_bool().expect("here"),
            ));
        }
    }
    repos
}

fn config(dir: &Path, key: &str) -> String {
    support::git(dir, &["config", "--get", key])
        .trim()
        .to_owned()
}

#[test]
fn our_init_passes_reference_checks() {
    let dir = support::new_git_repo();
    let repo = Repo::init(dir.path(), Some("our repo")).expect("init");
    let uuid = repo.uuid().expect("uuid").to_string();
    assert!(!repo.is_bare());
    assert_eq!(repo.version(), Some(10));
    assert_eq!(config(dir.path(), "annex.uuid"), uuid);

    // Our branch has the shape of the reference's: only uuid.log.
    let ls = support::git(dir.path(), &["ls-tree", "-r", "--name-only", "git-annex"]);
    assert_eq!(ls, "uuid.log\n");

    annex_clean(dir.path(), &["fsck"]);
    let repos = info_repos(dir.path());
    assert!(
        repos.contains(&(uuid.clone(), "our repo".to_owned(), true)),
        "reference does not list us: {repos:?}"
    );

    // What the reference sets up, compared file by file and key by key.
    let refdir = support::new_git_repo();
    support::annex(refdir.path(), &["init", "ref repo"]);
    let ref_ls = support::git(
        refdir.path(),
        &["ls-tree", "-r", "--name-only", "git-annex"],
    );
    assert_eq!(ref_ls, "uuid.log\n");
    for key in [
        "annex.version",
        "filter.annex.smudge",
        "filter.annex.clean",
        "filter.annex.process",
    ] {
        assert_eq!(config(dir.path(), key), config(refdir.path(), key), "{key}");
    }
    for file in [
        "info/attributes",
        "hooks/pre-commit",
        "hooks/post-receive",
        "hooks/post-checkout",
        "hooks/post-merge",
        "hooks/pre-push",
    ] {
        let ours = std::fs::read(dir.path().join(".git").join(file)).expect(file);
        let theirs = std::fs::read(refdir.path().join(".git").join(file)).expect(file);
        assert_eq!(ours, theirs, "{file}");
    }
}

#[test]
fn our_bare_init_passes_reference_checks() {
    let dir = tempfile::tempdir().expect("tmp");
    support::git(dir.path(), &["init", "-q", "--bare", "b.git"]);
    let b = dir.path().join("b.git");
    let repo = Repo::init(&b, Some("bare one")).expect("init");
    assert!(repo.is_bare());
    assert!(repo.work_tree().is_none());
    let uuid = repo.uuid().expect("uuid").to_string();
    assert_eq!(config(&b, "annex.uuid"), uuid);
    annex_clean(&b, &["fsck"]);
    let repos = info_repos(&b);
    assert!(
        repos.contains(&(uuid, "bare one".to_owned(), true)),
        "{repos:?}"
    );

    // As the reference's bare init: no filter config, no attributes.
    support::git(dir.path(), &["init", "-q", "--bare", "r.git"]);
    let r = dir.path().join("r.git");
    support::annex(&r, &["init"]);
    let keys = |d: &Path| -> Vec<String> {
        support::git(d, &["config", "--local", "--name-only", "-l"])
            .lines()
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(keys(&b), keys(&r));
    assert_eq!(
        b.join("info/attributes").exists(),
        r.join("info/attributes").exists()
    );
}

#[test]
fn default_description_matches_reference() {
    let ours = support::new_git_repo();
    let theirs = support::new_git_repo();
    let repo = Repo::init(ours.path(), None).expect("init");
    support::annex(theirs.path(), &["init"]);
    let desc = |d: &Path| -> String {
        info_repos(d)
            .into_iter()
            .find(|r| r.2)
            .map(|r| r.1)
            .expect("here")
    };
    let canon = |p: &Path| {
        std::fs::canonicalize(p)
            .expect("canon")
            .display()
            .to_string()
    };
    let ours_desc = desc(ours.path()).replace(&canon(ours.path()), "PATH");
    let theirs_desc = desc(theirs.path()).replace(&canon(theirs.path()), "PATH");
    assert_eq!(ours_desc, theirs_desc);
    assert!(repo.uuid().is_some());
}

#[test]
fn reinit_keeps_uuid_and_description() {
    let dir = support::new_git_repo();
    let first = Repo::init(dir.path(), Some("first")).expect("init");
    let again = Repo::init(dir.path(), None).expect("reinit");
    assert_eq!(first.uuid(), again.uuid());
    let log = support::git(dir.path(), &["show", "git-annex:uuid.log"]);
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(log.contains(" first timestamp="), "{log}");
    // The reference agrees it is the same repository.
    annex_clean(dir.path(), &["fsck"]);
    // And re-init by the reference keeps it too.
    support::annex(dir.path(), &["init"]);
    assert_eq!(
        config(dir.path(), "annex.uuid"),
        first.uuid().expect("uuid").to_string()
    );
}

#[test]
fn our_reinit_of_a_reference_repo_changes_nothing() {
    let dir = support::new_git_repo();
    support::annex(dir.path(), &["init", "theirs"]);
    let u = config(dir.path(), "annex.uuid");
    let log = support::git(dir.path(), &["show", "git-annex:uuid.log"]);
    let repo = Repo::init(dir.path(), None).expect("reinit");
    assert_eq!(repo.uuid().expect("uuid").to_string(), u);
    assert_eq!(
        support::git(dir.path(), &["show", "git-annex:uuid.log"]),
        log
    );
    annex_clean(dir.path(), &["fsck"]);
}

#[test]
fn reference_initialized_repo_opens() {
    let dir = support::new_git_repo();
    support::annex(dir.path(), &["init", "theirs"]);
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).expect("mkdir");
    let repo = Repo::open(&sub).expect("open from a subdirectory");
    assert_eq!(
        repo.uuid().expect("uuid").to_string(),
        config(dir.path(), "annex.uuid")
    );
    assert_eq!(repo.version(), Some(10));
    assert!(!repo.is_bare());
    assert_eq!(
        std::fs::canonicalize(repo.work_tree().expect("work tree")).expect("canon"),
        std::fs::canonicalize(dir.path()).expect("canon")
    );
    let branch = repo.branch().expect("branch");
    let log = branch.get(b"uuid.log").expect("uuid.log");
    assert_eq!(
        log,
        support::git(dir.path(), &["show", "git-annex:uuid.log"]).as_bytes()
    );

    // Bare, initialized by the reference.
    let t = tempfile::tempdir().expect("tmp");
    support::git(t.path(), &["init", "-q", "--bare", "x.git"]);
    let x = t.path().join("x.git");
    support::annex(&x, &["init"]);
    let repo = Repo::open(&x).expect("open bare");
    assert!(repo.is_bare());
    assert_eq!(
        repo.uuid().expect("uuid").to_string(),
        config(&x, "annex.uuid")
    );
}

#[test]
fn plain_git_repo_opens_uninitialized() {
    let dir = support::new_git_repo();
    let repo = Repo::open(dir.path()).expect("open");
    assert!(repo.uuid().is_none());
    assert!(repo.version().is_none());
}

#[test]
fn not_a_repository_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().expect("tmp");
    let p = dir.path().join("nothing-here");
    std::fs::create_dir(&p).expect("mkdir");
    for r in [Repo::open(&p), Repo::init(&p, None)] {
        match r {
            Err(e @ RepoError::NotAGitRepo { .. }) => {
                assert!(e.to_string().contains("nothing-here"), "{e}");
            }
            other => panic!("expected NotAGitRepo, got {other:?}"),
        }
    }
    let missing = dir.path().join("missing");
    assert!(Repo::open(&missing).is_err());
}

#[test]
fn bad_uuid_in_config_is_an_error() {
    let dir = support::new_git_repo();
    support::git(dir.path(), &["config", "annex.uuid", "has space"]);
    match Repo::open(dir.path()) {
        Err(e @ RepoError::BadUuid { .. }) => assert!(e.to_string().contains("config"), "{e}"),
        other => panic!("expected BadUuid, got {other:?}"),
    }
}
