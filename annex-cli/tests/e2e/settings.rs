//! End-to-end tests: the settings commands (`describe`, `numcopies`,
//! `mincopies`, `trust`, `untrust`, `semitrust`, `dead`, `group`,
//! `ungroup`, `wanted`, `required`, `groupwanted`, `maxsize`), compared
//! byte for byte with the reference git-annex, and read across: what one
//! sets, the other reads.

use std::path::Path;
use std::process::Output;

use crate::{ours, support};

/// A repository initialized by the reference with a given description.
fn annexed_repo(desc: &str) -> tempfile::TempDir {
    let repo = support::new_git_repo();
    support::annex(repo.path(), &["init", desc]);
    repo
}

fn uuid(dir: &Path) -> String {
    support::git(dir, &["config", "annex.uuid"])
        .trim()
        .to_string()
}

/// stdout, stderr and exit code, with the repository's UUID replaced by
/// `UUID` and our program name by the reference's, for comparison.
fn normalized(out: &Output, uuid: &str) -> (String, String, Option<i32>) {
    let clean = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .replace(uuid, "UUID")
            .replace("git-annex-rs:", "git-annex:")
    };
    (clean(&out.stdout), clean(&out.stderr), out.status.code())
}

/// Runs each command with the reference in one repository and with ours in
/// another (both made alike) and compares everything printed.
fn assert_same_sequence(commands: &[&[&str]]) {
    let theirs_repo = annexed_repo("desc1");
    let ours_repo = annexed_repo("desc1");
    let (tu, ou) = (uuid(theirs_repo.path()), uuid(ours_repo.path()));
    for args in commands {
        let t = support::annex_output(theirs_repo.path(), args, None);
        let o = ours(ours_repo.path(), args);
        assert_eq!(
            normalized(&o, &ou),
            normalized(&t, &tu),
            "git-annex {args:?}: ours (left) differs from the reference (right)"
        );
    }
}

#[test]
fn describe_numcopies_mincopies_match_the_reference() {
    assert_same_sequence(&[
        &["describe", "here", "new desc"],
        &["describe"],
        &["describe", "here"],
        &["describe", "nosuch", "x"],
        &["describe", "here", "a", "b", "c"],
        &["describe", "-q", "here", "quiet"],
        &["numcopies"],
        &["numcopies", "3"],
        &["numcopies"],
        &["numcopies", "3"],
        &["numcopies", "0"],
        &["numcopies", "x"],
        &["numcopies", "1e3"],
        &["numcopies", "0x10"],
        &["numcopies", "1", "2"],
        &["numcopies", "-q", "4"],
        &["mincopies"],
        &["mincopies", "2"],
        &["mincopies"],
        &["mincopies", "0"],
        &["numcopies", "-c", "annex.numcopies=5"],
    ]);
}

#[test]
fn trust_levels_match_the_reference() {
    assert_same_sequence(&[
        &["trust", "here"],
        &["trust", "here", "--json"],
        &["trust", "here", "--json", "--json-error-messages"],
        &["trust", "--force", "here"],
        &["trust", "--force", "here", "--json"],
        &["untrust", "here", "--json"],
        &["untrust", "-q", "here"],
        &["semitrust", "here"],
        &["semitrust", "here", "here"],
        &["trust", "nosuch"],
        &["untrust"],
        &["group", "here", "g1"],
        &["dead", "here"],
        &["group", "here"],
        &["dead", "here", "--json"],
        &["semitrust", "here"],
        &["dead", "--key", "SHA256E-s3--abc"],
        &["dead", "--key", "SHA256E-s3--abc", "--json"],
        // Last: the reference leaves the first change in the journal when
        // the unknown name stops it.
        &["semitrust", "here", "nosuch", "here"],
    ]);
}

#[test]
fn groups_and_expressions_match_the_reference() {
    assert_same_sequence(&[
        &["group", "here", "foo"],
        &["group", "here"],
        &["group", "here", "bar"],
        &["group", "here"],
        &["group", "--list"],
        &["group", "here", "--list"],
        &["ungroup", "here", "foo"],
        &["ungroup", "here", "zzz"],
        &["group", "here"],
        &["group", "nosuch"],
        &["group"],
        &["group", "here", "a", "b"],
        &["wanted", "here"],
        &["wanted", "here", "include=*"],
        &["wanted", "here"],
        &["wanted"],
        &["wanted", "nosuch"],
        &["required", "here", "exclude=x"],
        &["required", "here"],
        &["groupwanted", "foo"],
        &["groupwanted", "foo", "standard"],
        &["groupwanted", "foo"],
        &["groupwanted"],
    ]);
}

#[test]
fn maxsize_matches_the_reference() {
    assert_same_sequence(&[
        &["maxsize", "here"],
        &["maxsize"],
        &["maxsize", "here", "10GB"],
        &["maxsize", "here"],
        &["maxsize", "here", "--bytes"],
        &["maxsize", "here", "--json"],
        &["maxsize", "--json"],
        &["maxsize"],
        &["maxsize", "--bytes"],
        &["maxsize", "here", "1kib"],
        &["maxsize", "here"],
        &["maxsize", "here", "5", "--json"],
        &["maxsize", "here", "bad"],
        &["maxsize", "a", "b", "c"],
    ]);
}

/// The overview counts the content each repository has: one with annexed
/// files, as the reference counts it.
#[test]
fn maxsize_overview_with_content_matches_the_reference() {
    let t = annexed_repo("desc1");
    let o = annexed_repo("desc1");
    for repo in [&t, &o] {
        std::fs::write(repo.path().join("f"), vec![b'x'; 12345]).expect("write");
        support::annex(repo.path(), &["add", "f"]);
        support::annex(repo.path(), &["maxsize", "here", "20kB"]);
    }
    let (tu, ou) = (uuid(t.path()), uuid(o.path()));
    for args in [
        &["maxsize"][..],
        &["maxsize", "--json"],
        &["maxsize", "--bytes"],
    ] {
        let theirs = support::annex_output(t.path(), args, None);
        let mine = ours(o.path(), args);
        assert_eq!(normalized(&mine, &ou), normalized(&theirs, &tu), "{args:?}");
    }
}

/// What we set, the reference reads; what the reference sets, we read.
#[test]
fn settings_read_across() {
    let repo = annexed_repo("across");
    let dir = repo.path();
    let set_ours = |args: &[&str]| {
        let out = ours(dir, args);
        assert!(out.status.success(), "{args:?}: {out:?}");
    };
    let read_theirs = |args: &[&str]| support::annex(dir, args);
    let read_ours = |args: &[&str]| {
        let out = ours(dir, args);
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    set_ours(&["numcopies", "4"]);
    set_ours(&["mincopies", "2"]);
    set_ours(&["describe", "here", "our", "words"]);
    set_ours(&["group", "here", "archive"]);
    set_ours(&["group", "here", "backup"]);
    set_ours(&["wanted", "here", "include=*.mp3"]);
    set_ours(&["required", "here", "exclude=tmp/*"]);
    set_ours(&["groupwanted", "archive", "anything"]);
    set_ours(&["maxsize", "here", "3TB"]);
    set_ours(&["untrust", "here"]);
    assert_eq!(read_theirs(&["numcopies"]), "4\n");
    assert_eq!(read_theirs(&["mincopies"]), "2\n");
    assert_eq!(read_theirs(&["group", "here"]), "archive backup\n");
    assert_eq!(read_theirs(&["wanted", "here"]), "include=*.mp3\n");
    assert_eq!(read_theirs(&["required", "here"]), "exclude=tmp/*\n");
    assert_eq!(read_theirs(&["groupwanted", "archive"]), "anything\n");
    assert_eq!(read_theirs(&["maxsize", "here"]), "3.0 TB\n");
    let info: serde_json::Value =
        serde_json::from_str(&read_theirs(&["info", "--fast", "--json", "here"])).expect("json");
    assert_eq!(info["trust"], "untrusted");
    assert_eq!(info["description"], "our words [here]");

    support::annex(dir, &["numcopies", "7"]);
    support::annex(dir, &["mincopies", "3"]);
    support::annex(dir, &["ungroup", "here", "archive"]);
    support::annex(dir, &["wanted", "here", "present"]);
    support::annex(dir, &["required", "here", "include=x"]);
    support::annex(dir, &["groupwanted", "backup", "standard"]);
    support::annex(dir, &["maxsize", "here", "1500"]);
    support::annex(dir, &["describe", "here", "their words"]);
    assert_eq!(read_ours(&["numcopies"]), "7\n");
    assert_eq!(read_ours(&["mincopies"]), "3\n");
    assert_eq!(read_ours(&["group", "here"]), "backup\n");
    assert_eq!(read_ours(&["group", "their words"]), "backup\n");
    assert_eq!(read_ours(&["wanted", "here"]), "present\n");
    assert_eq!(read_ours(&["required", "here"]), "include=x\n");
    assert_eq!(read_ours(&["groupwanted", "backup"]), "standard\n");
    assert_eq!(read_ours(&["maxsize", "here"]), "1.5 kB\n");
    assert_eq!(read_ours(&["maxsize", "here", "--bytes"]), "1500\n");

    // The reference's fsck of the branch we wrote is clean.
    let fsck = support::annex_output(dir, &["fsck"], None);
    assert!(fsck.status.success(), "{fsck:?}");
}

/// A remote's name resolves to its UUID; what we set on it, the reference
/// reads in the clone and in the remote after a sync.
#[test]
fn settings_on_a_remote_by_name() {
    let origin = annexed_repo("origin repo");
    let clone = tempfile::tempdir().expect("temp dir");
    support::git(
        clone.path(),
        &["clone", "-q", &origin.path().display().to_string(), "c"],
    );
    let c = clone.path().join("c");
    support::annex(&c, &["init", "the clone"]);
    let out = ours(&c, &["group", "origin", "server"]);
    assert!(out.status.success(), "{out:?}");
    let out = ours(&c, &["wanted", "origin repo", "standard"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(support::annex(&c, &["group", "origin"]), "server\n");
    assert_eq!(support::annex(&c, &["wanted", "origin"]), "standard\n");
    let ou = uuid(origin.path());
    let out = ours(&c, &["dead", &ou, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["uuid"], ou.as_str());
    assert_eq!(v["success"], true);
    assert_eq!(support::annex(&c, &["group", "origin"]), "\n");

    // A trust level forced by git config is warned about, as the reference
    // warns (both run in turn on the same repository).
    support::git(
        &c,
        &["config", "remote.origin.annex-trustlevel", "untrusted"],
    );
    for args in [
        &["trust", "--force", "origin"][..],
        &["trust", "--force", "origin", "--json"],
    ] {
        let theirs = support::annex_output(&c, args, None);
        let mine = ours(&c, args);
        assert_eq!(normalized(&mine, &ou), normalized(&theirs, &ou), "{args:?}");
        assert!(String::from_utf8_lossy(&mine.stderr).contains("overridden to untrusted"));
    }
}
