//! The example program `examples/tour.rs`, as built by `cargo test` (and
//! `cargo nextest run`) beside this test binary, run on repositories the
//! reference made, and what it did checked by the reference.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use test_support::{annex, git};

use crate::fixture::{self, fsck_ok, has, key_of, pair, uuids, whereis};

const A: &[u8] = b"content of a, toured\n";

/// The compiled example: `<target>/debug/examples/tour`, beside the
/// `deps` directory this test binary is in.
fn tour_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary is in <target>/<profile>/deps");
    let bin = profile_dir.join("examples").join("tour");
    assert!(
        bin.exists(),
        "{} is missing: the example is built by `cargo test -p annex-ops` or \
         `cargo build -p annex-ops --example tour`",
        bin.display()
    );
    bin
}

fn run_tour(repo: &Path, file: &str, remote: &str) -> Output {
    let mut cmd = Command::new(tour_binary());
    test_support::hermetic(&mut cmd).args([repo.to_str().expect("utf-8"), file, remote]);
    test_support::output_with_stdin(cmd, None)
}

/// The pair, plus a clone `backup` added to the clone as its remote
/// `backup`.
fn with_backup() -> (fixture::Pair, PathBuf) {
    let p = pair(&[("a", A)]);
    let backup = fixture::clone(&p.root, &p.origin, "backup");
    git(
        &p.clone,
        &["remote", "add", "backup", backup.to_str().expect("utf-8")],
    );
    git(&p.clone, &["fetch", "-q", "backup"]);
    (p, backup)
}

#[test]
fn the_tour_gets_copies_and_drops_through_the_api() {
    let (p, backup) = with_backup();
    let out = run_tour(&p.clone, "a", "backup");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tour failed:\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The backup's git-annex branch, fetched, is merged on opening.
    assert_eq!(
        stdout,
        "merged refs/remotes/backup/git-annex\n\
         get a: got from origin\n\
         copy a --to backup: copied\n\
         drop a: dropped\n\
         sync --content: nothing to do\n"
    );
    let key = key_of(&p.clone, "a");
    assert!(!has(&p.clone, &key), "dropped here");
    assert!(has(&backup, &key), "copied to backup");
    assert!(has(&p.origin, &key));
    assert_eq!(whereis(&p.clone, "a"), uuids(&[&p.origin, &backup]));
    fsck_ok(&p.clone);
    fsck_ok(&backup);
}

#[test]
fn the_tours_content_sync_gets_what_this_repository_wants() {
    let (p, backup) = with_backup();
    // The clone wants every file: after the tour drops it, the content
    // pass gets it back (from backup, the remote it syncs with).
    annex(&p.clone, &["wanted", ".", "anything"]);
    let out = run_tour(&p.clone, "a", "backup");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tour failed:\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.ends_with("drop a: dropped\nsync --content: get a: ok\n"),
        "{stdout}"
    );
    let key = key_of(&p.clone, "a");
    assert!(has(&p.clone, &key), "got back by the content sync");
    assert_eq!(
        whereis(&p.clone, "a"),
        uuids(&[&p.origin, &p.clone, &backup])
    );
    fsck_ok(&p.clone);
}

#[test]
fn the_tour_shows_a_refused_drop_and_keeps_the_content() {
    let (p, backup) = with_backup();
    annex(&p.clone, &["numcopies", "3"]);
    let out = run_tour(&p.clone, "a", "backup");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "a refusal is an outcome:\nstdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.ends_with(
            "drop a: refused: Could only verify the existence of 2 out of 3 necessary copies.\n\
             sync --content: nothing to do\n"
        ),
        "{stdout}"
    );
    let key = key_of(&p.clone, "a");
    assert!(has(&p.clone, &key), "kept here");
    assert_eq!(
        whereis(&p.clone, "a"),
        uuids(&[&p.origin, &p.clone, &backup])
    );
    fsck_ok(&p.clone);
}

#[test]
fn the_tour_fails_on_a_file_that_is_not_annexed() {
    let (p, _backup) = with_backup();
    std::fs::write(p.clone.join("plain"), b"not annexed\n").expect("write");
    let out = run_tour(&p.clone, "plain", "backup");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("plain is not an annexed file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
