//! Drop safety against the reference: the copies a drop may count, with
//! trust set in `trust.log` and overridden by `remote.NAME.annex-trustlevel`,
//! dead repositories, mincopies, and the same decisions inside `drop
//! --auto`, `drop --from`, `sync --content` and `get --auto`.
//!
//! Each test builds three repositories with the reference (`a` holds the
//! files; `b` and `c` are clones of it, `b` with remotes `origin` = `a` and
//! `c`), copies them twice, runs one command in `b` with the reference in
//! one copy and with ours in the other, and asserts the same exit status,
//! the same content present in every repository, and the same locations
//! as the reference's `whereis` reports them in every repository.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ours;
use crate::support::{annex, annex_output, git};
use crate::transfer::strip_meter;

/// `a`, `b` and `c` in one directory, every remote URL relative, so the
/// whole can be copied.
struct Repos {
    _root: tempfile::TempDir,
    root: PathBuf,
    files: Vec<String>,
}

impl Repos {
    fn a(&self) -> PathBuf {
        self.root.join("a")
    }
    fn b(&self) -> PathBuf {
        self.root.join("b")
    }
    fn c(&self) -> PathBuf {
        self.root.join("c")
    }

    /// A copy of the three (same UUIDs, same content).
    fn copy(&self) -> Repos {
        let dir = tempfile::tempdir().expect("temp dir");
        let st = Command::new("cp")
            .arg("-a")
            .args([self.a(), self.b(), self.c()])
            .arg(dir.path())
            .status()
            .expect("cp");
        assert!(st.success());
        Repos {
            root: dir.path().to_path_buf(),
            _root: dir,
            files: self.files.clone(),
        }
    }

    fn uuid(dir: &Path) -> String {
        git(dir, &["config", "annex.uuid"]).trim().to_string()
    }

    /// Makes `dir` (b or c) see the other's git-annex branch (the
    /// reference merges it), so that its location logs are known.
    fn learn(&self, dir: &Path, remote: &str) {
        git(dir, &["fetch", "-q", remote]);
        annex(dir, &["merge"]);
    }

    /// What is left: for each repository, each file's content present or
    /// not, and the reference's `whereis` there.
    fn outcome(&self) -> Vec<(String, String)> {
        let key = |f: &str| annex(&self.a(), &["lookupkey", f]).trim().to_string();
        let mut out = Vec::new();
        for (name, dir) in [("a", self.a()), ("b", self.b()), ("c", self.c())] {
            let mut present = Vec::new();
            for f in &self.files {
                let has = annex_output(&dir, &["contentlocation", &key(f)], None)
                    .status
                    .success();
                present.push(format!("{f}:{has}"));
            }
            out.push((format!("{name} content"), present.join(" ")));
            let w = annex_output(&dir, &["whereis"], None);
            out.push((
                format!("{name} whereis"),
                String::from_utf8_lossy(&w.stdout).into_owned(),
            ));
        }
        out
    }
}

/// Builds the three repositories with the reference: `a` with `files`,
/// `b` and `c` cloned from it, `b` with remotes `origin` (a) and `c`
/// (its UUID known).
fn repos(files: &[&str]) -> Repos {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_path_buf();
    let a = root.join("a");
    std::fs::create_dir(&a).expect("mkdir");
    git(&a, &["init", "-q", "-b", "main"]);
    annex(&a, &["init", "a"]);
    for f in files {
        std::fs::write(a.join(f), format!("content of {f}\n")).expect("write");
    }
    let mut args = vec!["add"];
    args.extend(files);
    annex(&a, &args);
    git(&a, &["commit", "-q", "-m", "add"]);
    for name in ["b", "c"] {
        git(&root, &["clone", "-q", "a", name]);
        let d = root.join(name);
        git(&d, &["remote", "set-url", "origin", "../a"]);
        annex(&d, &["init", name]);
    }
    let b = root.join("b");
    git(&b, &["remote", "add", "c", "../c"]);
    let c_uuid = Repos::uuid(&root.join("c"));
    git(&b, &["config", "remote.c.annex-uuid", &c_uuid]);
    Repos {
        _root: dir,
        root,
        files: files.iter().map(|f| f.to_string()).collect(),
    }
}

/// Runs `args` in `b` with the reference in one copy and with ours in
/// another; asserts the same exit status and the same outcome (and the
/// same stdout when `stdout` is set). Returns whether the reference
/// succeeded.
fn same(base: &Repos, args: &[&str], stdout: bool) -> bool {
    let (r, o) = (base.copy(), base.copy());
    let ro = annex_output(&r.b(), args, None);
    let oo = ours(&o.b(), args);
    let text = |b: &[u8]| strip_meter(&String::from_utf8_lossy(b));
    let ctx = format!(
        "{args:?}\nref stdout:\n{}\nref stderr:\n{}\nours stdout:\n{}\nours stderr:\n{}",
        text(&ro.stdout),
        text(&ro.stderr),
        text(&oo.stdout),
        text(&oo.stderr)
    );
    assert_eq!(oo.status.code(), ro.status.code(), "exit status of {ctx}");
    if stdout {
        assert_eq!(text(&oo.stdout), text(&ro.stdout), "stdout of {ctx}");
    }
    let (ours_left, ref_left) = (o.outcome(), r.outcome());
    for ((what, ours), (_, theirs)) in ours_left.iter().zip(&ref_left) {
        assert_eq!(ours, theirs, "{what} after {ctx}");
    }
    ro.status.success()
}

/// `b` and `origin` have `f`; the other clone does not.
fn f_in_b_and_origin() -> Repos {
    let p = repos(&["f"]);
    annex(&p.b(), &["get", "f"]);
    p
}

#[test]
fn drop_does_not_count_a_remote_configured_untrusted() {
    let p = f_in_b_and_origin();
    git(
        &p.b(),
        &["config", "remote.origin.annex-trustlevel", "untrusted"],
    );
    assert!(!same(&p, &["drop", "f"], true), "the reference refuses");
}

#[test]
fn drop_counts_a_remote_configured_trusted_over_an_untrusted_log() {
    let p = f_in_b_and_origin();
    annex(&p.b(), &["untrust", "origin"]);
    git(
        &p.b(),
        &["config", "remote.origin.annex-trustlevel", "trusted"],
    );
    assert!(same(&p, &["drop", "f"], true), "the reference drops");
}

#[test]
fn drop_ignores_a_configured_level_that_is_not_a_level_name() {
    let p = f_in_b_and_origin();
    annex(&p.b(), &["untrust", "origin"]);
    git(
        &p.b(),
        &["config", "remote.origin.annex-trustlevel", "Trusted"],
    );
    assert!(!same(&p, &["drop", "f"], true), "the reference refuses");
}

#[test]
fn drop_does_not_count_a_remote_untrusted_in_the_trust_log() {
    let p = f_in_b_and_origin();
    annex(&p.b(), &["untrust", "origin"]);
    assert!(!same(&p, &["drop", "f"], true), "the reference refuses");
}

#[test]
fn drop_does_not_count_a_dead_repository() {
    let p = f_in_b_and_origin();
    annex(&p.b(), &["dead", "origin"]);
    assert!(!same(&p, &["drop", "f"], true), "the reference refuses");
}

#[test]
fn drop_does_not_count_a_remote_configured_dead() {
    let p = f_in_b_and_origin();
    git(
        &p.b(),
        &["config", "remote.origin.annex-trustlevel", "dead"],
    );
    assert!(!same(&p, &["drop", "f"], true), "the reference refuses");
}

#[test]
fn drop_keeps_mincopies_above_numcopies() {
    let p = f_in_b_and_origin();
    annex(&p.b(), &["numcopies", "1"]);
    annex(&p.b(), &["mincopies", "2"]);
    assert!(!same(&p, &["drop", "f"], true), "the reference refuses");
    // With a third copy the drop leaves two.
    annex(&p.c(), &["get", "f"]);
    p.learn(&p.b(), "c");
    assert!(same(&p, &["drop", "f"], true), "the reference drops");
}

#[test]
fn drop_auto_does_not_count_a_remote_configured_untrusted() {
    let p = f_in_b_and_origin();
    git(
        &p.b(),
        &["config", "remote.origin.annex-trustlevel", "untrusted"],
    );
    assert!(same(&p, &["drop", "--auto"], true));
}

#[test]
fn drop_from_a_remote_does_not_count_a_remote_configured_untrusted() {
    // origin and c have f, b does not; c is untrusted by config.
    let p = repos(&["f"]);
    annex(&p.c(), &["get", "f"]);
    p.learn(&p.b(), "c");
    git(
        &p.b(),
        &["config", "remote.c.annex-trustlevel", "untrusted"],
    );
    // stdout compared too: the untrusted repository, whose description is
    // its remote's name, is listed as `[c]` as the reference lists it.
    assert!(
        !same(&p, &["drop", "--from", "origin", "f"], true),
        "the reference refuses"
    );
}

#[test]
fn drop_from_a_remote_configured_untrusted() {
    let p = repos(&["f"]);
    annex(&p.c(), &["get", "f"]);
    p.learn(&p.b(), "c");
    git(
        &p.b(),
        &["config", "remote.c.annex-trustlevel", "untrusted"],
    );
    assert!(
        same(&p, &["drop", "--from", "c", "f"], true),
        "the reference drops"
    );
}

#[test]
fn sync_content_does_not_drop_counting_a_remote_configured_untrusted() {
    let p = f_in_b_and_origin();
    annex(&p.b(), &["wanted", ".", "exclude=*"]);
    git(
        &p.b(),
        &["config", "remote.origin.annex-trustlevel", "untrusted"],
    );
    git(&p.b(), &["config", "remote.c.annex-sync", "false"]);
    assert!(same(&p, &["sync", "--content"], false));
}

#[test]
fn sync_content_drops_counting_a_remote_configured_trusted() {
    let p = f_in_b_and_origin();
    annex(&p.b(), &["wanted", ".", "exclude=*"]);
    annex(&p.b(), &["untrust", "origin"]);
    git(
        &p.b(),
        &["config", "remote.origin.annex-trustlevel", "trusted"],
    );
    git(&p.b(), &["config", "remote.c.annex-sync", "false"]);
    assert!(same(&p, &["sync", "--content"], false));
}

#[test]
fn get_auto_does_not_count_a_remote_configured_untrusted() {
    // origin and c have f, b does not; numcopies 2 is met only when c
    // counts, and c is untrusted by config: b needs a copy.
    let p = repos(&["f"]);
    annex(&p.c(), &["get", "f"]);
    p.learn(&p.b(), "c");
    annex(&p.b(), &["numcopies", "2"]);
    git(
        &p.b(),
        &["config", "remote.c.annex-trustlevel", "untrusted"],
    );
    assert!(same(&p, &["get", "--auto"], true));
}

/// Regression: dropping an unlocked file refreshed git's index before the
/// journal was committed; the clean filter that refresh runs committed it
/// first, so `(recording state in git...)` was missing from our output.
/// The index is now refreshed at the end of the run, after the commit, as
/// the reference restages.
#[test]
fn dropping_unlocked_files_says_recording_state_as_the_reference() {
    use crate::pair::{Pair, theirs};
    let p = Pair::new(|d: &Path| {
        crate::pair::annexed(&[("a", "a\n"), ("b", "b\n"), ("l", "l\n")])(d);
        assert!(theirs(d, &["unlock", "a", "b"], None).status.success());
        git(d, &["commit", "-q", "-m", "unlock"]);
    });
    p.same(&["drop", "--force", "a", "b", "l"]);
    for d in [&p.ours, &p.theirs] {
        assert_eq!(
            git(d, &["status", "--porcelain"]),
            "",
            "the index is current"
        );
    }
    p.same(&["get", "a"]);
}
