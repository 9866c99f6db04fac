//! End-to-end tests of `annex.rs-distribution=leastcost`: a chain
//! `laptop -> gw -> far` where the laptop also reaches `far` directly at a
//! high cost (`remote.far.annex-cost 1000`) and `gw` is declared a relay
//! (`remote.gw.annex-rs-relay true`). With the default (flood) our
//! `sync --content` in the laptop sends each file to both remotes, as the
//! reference does; with `leastcost` only to `gw`, and `far` gets the
//! files when `gw` syncs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::ours;
use crate::support::{annex, annex_output, git};

const FILES: [(&str, &[u8]); 3] = [
    ("one.txt", b"one\n"),
    ("two.bin", b"two two\n"),
    ("sub/three.dat", b"three three three\n"),
];

/// The network; `relay` declares `gw` a relay in the laptop.
struct Chain {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Chain {
    fn repo(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn new() -> Chain {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().to_path_buf();
        let laptop = root.join("laptop");
        std::fs::create_dir(&laptop).expect("mkdir");
        git(&laptop, &["init", "-q", "-b", "main"]);
        annex(&laptop, &["init", "laptop"]);
        for (name, content) in FILES {
            let p = laptop.join(name);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, content).expect("write");
        }
        annex(&laptop, &["add", "."]);
        git(&laptop, &["commit", "-q", "-m", "add"]);
        for r in ["gw", "far"] {
            git(&root, &["clone", "-q", "laptop", r]);
            let d = root.join(r);
            git(&d, &["remote", "set-url", "origin", "../laptop"]);
            annex(&d, &["init", r]);
        }
        git(&root.join("gw"), &["remote", "add", "far", "../far"]);
        git(&laptop, &["remote", "add", "gw", "../gw"]);
        git(&laptop, &["remote", "add", "far", "../far"]);
        git(&laptop, &["config", "remote.far.annex-cost", "1000"]);
        git(&laptop, &["config", "remote.gw.annex-rs-relay", "true"]);
        let c = Chain { _dir: dir, root };
        // Every repository learns the others' UUIDs and branches.
        for _ in 0..2 {
            for r in ["laptop", "gw", "far"] {
                annex(&c.repo(r), &["sync", "--no-content", "-q"]);
            }
        }
        c
    }

    fn copy(&self) -> Chain {
        let dir = tempfile::tempdir().expect("temp dir");
        let st = Command::new("cp")
            .arg("-a")
            .args(["laptop", "gw", "far"].map(|r| self.repo(r)))
            .arg(dir.path())
            .status()
            .expect("cp");
        assert!(st.success());
        Chain {
            root: dir.path().to_path_buf(),
            _dir: dir,
        }
    }

    /// The files whose content `repo` holds (the reference's `find`).
    fn holds(&self, repo: &str) -> Vec<String> {
        let mut v: Vec<String> = annex(&self.repo(repo), &["find"])
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }
}

fn all_files() -> Vec<String> {
    let mut v: Vec<String> = FILES.iter().map(|(n, _)| n.to_string()).collect();
    v.sort();
    v
}

fn sync(dir: &Path) -> Output {
    let o = ours(dir, &["sync", "--content"]);
    assert!(
        o.status.success(),
        "sync failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// The remotes each `put` of a sync's output went to, in order.
fn puts(o: &Output) -> Vec<String> {
    let text = crate::transfer::strip_meter(&String::from_utf8_lossy(&o.stdout));
    text.lines()
        .filter(|l| l.starts_with("put "))
        .filter_map(|l| {
            let rest = l.split(" (to ").nth(1)?;
            Some(rest.split("...").next()?.to_string())
        })
        .collect()
}

fn count(v: &[String], remote: &str) -> usize {
    v.iter().filter(|r| *r == remote).count()
}

/// The default is unchanged: the laptop floods both remotes, as the
/// reference does.
#[test]
fn default_floods_as_the_reference() {
    let net = Chain::new();
    let ourn = net.copy();
    let refn = net.copy();
    let o = sync(&ourn.repo("laptop"));
    let r = annex_output(&refn.repo("laptop"), &["sync", "--content"], None);
    assert!(r.status.success());
    let (mine, theirs) = (puts(&o), puts(&r));
    assert_eq!(count(&mine, "gw"), FILES.len(), "{mine:?}");
    assert_eq!(count(&mine, "far"), FILES.len(), "{mine:?}");
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(sorted(mine), sorted(theirs));
    assert_eq!(ourn.holds("far"), refn.holds("far"));
    assert_eq!(ourn.holds("far"), all_files());
    // `flood` named is the default.
    let flood = net.copy();
    git(
        &flood.repo("laptop"),
        &["config", "annex.rs-distribution", "flood"],
    );
    assert_eq!(
        count(&puts(&sync(&flood.repo("laptop"))), "far"),
        FILES.len()
    );
}

/// With leastcost the laptop sends only over the cheap link; far gets
/// every file from gw; fewer transfers over the expensive link and in
/// total from the laptop.
#[test]
fn leastcost_sends_along_the_chain() {
    let net = Chain::new();
    let n = net.copy();
    for r in ["laptop", "gw"] {
        git(
            &n.repo(r),
            &["config", "annex.rs-distribution", "leastcost"],
        );
    }
    let first = puts(&sync(&n.repo("laptop")));
    assert_eq!(first, vec!["gw".to_string(); FILES.len()], "{first:?}");
    assert!(n.holds("far").is_empty());
    assert_eq!(n.holds("gw"), all_files());
    let second = puts(&sync(&n.repo("gw")));
    assert_eq!(second, vec!["far".to_string(); FILES.len()], "{second:?}");
    assert_eq!(n.holds("far"), all_files());
    // A later pass in the laptop sends nothing more.
    assert!(puts(&sync(&n.repo("laptop"))).is_empty());
}

/// Without the relay declaration gw is not relied on: the laptop sends
/// directly to far, as the flood does.
#[test]
fn leastcost_without_relay_sends_directly() {
    let net = Chain::new();
    let n = net.copy();
    let laptop = n.repo("laptop");
    git(&laptop, &["config", "annex.rs-distribution", "leastcost"]);
    git(&laptop, &["config", "--unset", "remote.gw.annex-rs-relay"]);
    let p = puts(&sync(&laptop));
    assert_eq!(count(&p, "gw"), FILES.len(), "{p:?}");
    assert_eq!(count(&p, "far"), FILES.len(), "{p:?}");
    assert_eq!(n.holds("far"), all_files());
}

/// Regression: a repository only the map knows of (a remote of a remote,
/// not one of this repository's) whose preferred content cannot be read
/// failed the whole `sync --content` pass with `leastcost`; the flood
/// never reads it. Now it is left out of the plans and the pass goes on.
#[test]
fn leastcost_leaves_out_a_map_only_repository_with_unreadable_preferred_content() {
    let net = Chain::new();
    let n = net.copy();
    let deep = n.repo("deep");
    git(&n.root, &["clone", "-q", "laptop", "deep"]);
    annex(&deep, &["init", "deep"]);
    git(&n.repo("gw"), &["remote", "add", "deep", "../deep"]);
    let uuid = git(&deep, &["config", "annex.uuid"]).trim().to_string();
    let laptop = n.repo("laptop");
    git(&laptop, &["config", "annex.rs-distribution", "leastcost"]);
    // The expression as a newer git-annex might write it: not ours to read.
    let journal = laptop.join(".git/annex/journal");
    std::fs::create_dir_all(&journal).expect("mkdir");
    std::fs::write(
        journal.join("preferred-content.log"),
        format!("{uuid} include=( timestamp=1700000000s\n"),
    )
    .expect("write");
    let p = puts(&sync(&laptop));
    assert_eq!(p, vec!["gw".to_string(); FILES.len()], "{p:?}");
    assert_eq!(n.holds("gw"), all_files());
}
