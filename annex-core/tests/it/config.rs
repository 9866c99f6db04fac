//! `annex_core::config`: git config and remotes as git-annex reads them.

use std::collections::BTreeMap;

use annex_core::config::{AnnexConfig, ConfigError, resolve_repository};
use annex_core::uuid::Uuid;

use crate::support::{annex, git, new_git_repo};

#[test]
fn remotes_and_names_resolve_as_the_reference_does() {
    let a = new_git_repo();
    annex(a.path(), &["init", "-q", "repo a"]);
    let b = new_git_repo();
    annex(b.path(), &["init", "-q", "repo b"]);
    let a_path = a.path().to_str().unwrap();
    git(b.path(), &["remote", "add", "origin", a_path]);
    git(b.path(), &["remote", "add", "far", "host.example:path"]);
    git(b.path(), &["config", "remote.far.annex-cost", "50.5"]);
    git(b.path(), &["config", "remote.far.annex-ignore", "true"]);
    // The reference learns the remote's UUID when it syncs.
    annex(b.path(), &["sync", "-q", "--only-annex", "origin"]);
    git(b.path(), &["fetch", "-q", "origin"]);
    annex(b.path(), &["merge", "-q"]);
    let repo = gix::discover(b.path()).unwrap();
    let config =
        AnnexConfig::from_repo(&repo, &["annex.largefiles=largerthan=1kb".into()]).unwrap();
    assert_eq!(
        config.get_str("annex.largefiles").as_deref(),
        Some("largerthan=1kb")
    );
    let names: Vec<&str> = config.remotes().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["far", "origin"]);
    let by_cost: Vec<&str> = config
        .remotes_by_cost()
        .iter()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(by_cost, ["far", "origin"]);
    let origin = config.remote("origin").unwrap();
    assert!(origin.local_path(b.path()).is_some());
    assert!(config.remote("far").unwrap().ignore);
    let a_uuid = git(a.path(), &["config", "annex.uuid"]);
    let a_uuid = Uuid::parse(a_uuid.trim().as_bytes()).unwrap();
    assert_eq!(origin.uuid.as_ref(), Some(&a_uuid));

    // Names: here, a remote, a description, a UUID, as the reference resolves them.
    let b_repo = annex_core::repo::Repo::open(b.path()).unwrap();
    let state = annex_core::state::State::new(b_repo.branch().unwrap());
    let descs: BTreeMap<Uuid, Vec<u8>> = state.descriptions().unwrap();
    let here = b_repo.uuid().cloned();
    let r = |n: &str| resolve_repository(n, here.as_ref(), &config, &descs);
    assert_eq!(r("here").unwrap(), here.clone().unwrap());
    assert_eq!(r("origin").unwrap(), a_uuid);
    assert_eq!(r("repo a").unwrap(), a_uuid);
    assert_eq!(r(&a_uuid.to_string()).unwrap(), a_uuid);
    assert!(matches!(
        r("nobody"),
        Err(ConfigError::UnknownRepository(_))
    ));
    assert!(matches!(r("far"), Err(ConfigError::NoRemoteUuid(_))));
    // The reference agrees on each that it accepts.
    for name in ["here", "origin", "repo a"] {
        let out = annex(b.path(), &["info", "--json", "--fast", name]);
        assert!(
            out.contains(&format!("\"uuid\":\"{}\"", r(name).unwrap())),
            "{name}: {out}"
        );
    }
}
