//! `initremote --sameas` and `initremote --private` against the
//! reference: on two copies of one repository each implementation sets up
//! the same remote; output, git config, `remote.log` (and the private
//! journal) agree, and the remote works for both.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::special::{Area, ok};
use crate::support;

fn copy_repo(area: &Area, from: &Path, name: &str) -> PathBuf {
    let to = area.path(name);
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(&to)
        .status()
        .expect("cp");
    assert!(st.success());
    to
}

/// The remote's section of `.git/config`, the UUIDs of `uuids` named and
/// any other UUID-valued line blanked.
fn section(repo: &Path, name: &str, uuids: &[(&str, &str)]) -> String {
    let text = std::fs::read_to_string(repo.join(".git/config")).expect("config");
    let start = text
        .find(&format!("[remote \"{name}\"]"))
        .expect("remote section");
    let rest = &text[start..];
    let end = rest[1..].find("\n[").map(|i| i + 2).unwrap_or(rest.len());
    let mut s = rest[..end].to_string();
    for (u, n) in uuids {
        s = s.replace(u, n);
    }
    s.lines()
        .map(|l| {
            if l.contains("annex-config-uuid") {
                "\tannex-config-uuid = CU".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A log's lines with the `uuids` named, other UUIDs of the first word
/// blanked, timestamps dropped, sorted.
fn log_lines(text: &str, uuids: &[(&str, &str)]) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .map(|l| {
            let mut s = l.to_string();
            for (u, n) in uuids {
                s = s.replace(u, n);
            }
            let mut words: Vec<String> = s
                .split(' ')
                .filter(|w| !w.starts_with("timestamp="))
                .map(str::to_string)
                .collect();
            if words.first().is_some_and(|w| w.len() == 36) {
                words[0] = "U".to_string();
            }
            words.join(" ")
        })
        .collect();
    v.sort();
    v
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A reference repository with directory remote `a` holding `f`.
fn setup(area: &Area) -> (PathBuf, String) {
    let r = area.repo("r");
    let dir = area.path("store");
    std::fs::create_dir(&dir).expect("mkdir");
    let d = format!("directory={}", dir.display());
    ok(&area.theirs(
        &r,
        &["initremote", "a", "type=directory", &d, "encryption=none"],
    ));
    ok(&area.theirs(&r, &["copy", "-q", "f", "--to", "a"]));
    let a = support::git(&r, &["config", "remote.a.annex-uuid"])
        .trim()
        .to_string();
    (r, a)
}

#[test]
fn initremote_sameas_writes_what_the_reference_writes() {
    let area = Area::new();
    let (r, a) = setup(&area);
    let here = support::git(&r, &["config", "annex.uuid"])
        .trim()
        .to_string();
    let names = [(a.as_str(), "A"), (here.as_str(), "HERE")];
    let d = format!("directory={}", area.path("store").display());
    let t = copy_repo(&area, &r, "t");
    let o = copy_repo(&area, &r, "o");
    let args = [
        "initremote",
        "b",
        "--sameas=a",
        "type=directory",
        &d,
        "encryption=shared",
        "chunk=1MiB",
    ];
    let theirs = area.theirs(&t, &args);
    let ours = area.ours(&o, &args);
    assert_eq!(
        text(&ours),
        text(&theirs),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    assert_eq!(ours.status.code(), theirs.status.code());
    assert_eq!(section(&o, "b", &names), section(&t, "b", &names));
    assert!(section(&o, "b", &names).contains("annex-uuid = A"));
    let log = |repo: &Path| {
        log_lines(
            &support::git(repo, &["cat-file", "-p", "git-annex:remote.log"]),
            &names,
        )
    };
    assert_eq!(log(&o), log(&t));
    assert_eq!(
        log_lines(
            &support::git(&o, &["cat-file", "-p", "git-annex:uuid.log"]),
            &names
        ),
        log_lines(
            &support::git(&t, &["cat-file", "-p", "git-annex:uuid.log"]),
            &names
        )
    );
    // The content of `a` is got through `b`, by us and by the reference.
    ok(&area.ours(&o, &["drop", "-q", "f"]));
    // (Ours names the first remote of that UUID, `a`, where the
    // reference names `b`: compat.md says so.)
    let got = ok(&area.ours(&o, &["get", "f", "--from", "b"]));
    assert!(got.starts_with("get f (from "), "{got}");
    assert!(o.join("f").exists());
    ok(&area.theirs(&o, &["drop", "-q", "f"]));
    ok(&area.theirs(&o, &["get", "-q", "f", "--from", "b"]));
    // A clone enables it as the reference does.
    for (who, name) in [(true, "co"), (false, "ct")] {
        let c = area.clone(&o, name);
        let args = ["enableremote", "b", &d];
        let out = if who {
            area.ours(&c, &args)
        } else {
            area.theirs(&c, &args)
        };
        ok(&out);
        let s = section(&c, "b", &names);
        assert!(s.contains("annex-uuid = A"), "{s}");
        assert!(s.contains("annex-config-uuid = CU"), "{s}");
    }
    assert_eq!(
        section(&area.path("co"), "b", &names),
        section(&area.path("ct"), "b", &names)
    );
    // An unknown remote to be the same as is refused as the reference.
    let args = ["initremote", "c", "--sameas=nosuch", "type=directory", &d];
    let theirs = area.theirs(&t, &args);
    let ours = area.ours(&o, &args);
    assert_eq!(text(&ours), text(&theirs));
    assert_eq!(ours.status.code(), theirs.status.code());
}

#[test]
fn initremote_private_keeps_the_remote_out_of_the_branch() {
    let area = Area::new();
    let (r, a) = setup(&area);
    let here = support::git(&r, &["config", "annex.uuid"])
        .trim()
        .to_string();
    let names = [(a.as_str(), "A"), (here.as_str(), "HERE")];
    let dir = area.path("pstore");
    std::fs::create_dir(&dir).expect("mkdir");
    let d = format!("directory={}", dir.display());
    let t = copy_repo(&area, &r, "t");
    let o = copy_repo(&area, &r, "o");
    let args = [
        "initremote",
        "--private",
        "p",
        "type=directory",
        &d,
        "encryption=none",
    ];
    let theirs = area.theirs(&t, &args);
    let ours = area.ours(&o, &args);
    assert_eq!(
        text(&ours),
        text(&theirs),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    assert_eq!(ours.status.code(), theirs.status.code());
    let pu = support::git(&o, &["config", "remote.p.annex-uuid"])
        .trim()
        .to_string();
    let pt = support::git(&t, &["config", "remote.p.annex-uuid"])
        .trim()
        .to_string();
    let on = [names[0], names[1], (pu.as_str(), "P")];
    let tn = [names[0], names[1], (pt.as_str(), "P")];
    assert_eq!(section(&o, "p", &on), section(&t, "p", &tn));
    for f in ["remote.log", "uuid.log"] {
        let priv_ = |repo: &Path, n: &[(&str, &str)]| {
            log_lines(
                &std::fs::read_to_string(repo.join(".git/annex/journal-private").join(f))
                    .unwrap_or_default(),
                n,
            )
        };
        assert_eq!(priv_(&o, &on), priv_(&t, &tn), "{f}");
        assert!(priv_(&o, &on).iter().any(|l| l.contains("p")), "{f}");
    }
    // Content sent to it: its location log stays private too; the
    // reference reads it all.
    ok(&area.ours(&o, &["copy", "-q", "f", "--to", "p"]));
    for f in ["remote.log", "uuid.log"] {
        let branch = support::git(&o, &["cat-file", "-p", &format!("git-annex:{f}")]);
        assert!(!branch.contains(&pu), "{f} in the branch: {branch}");
    }
    let all = support::git(&o, &["log", "-p", "git-annex"]);
    assert!(!all.contains(&pu), "the private remote reached the branch");
    let w = ok(&area.theirs(&o, &["whereis", "f"]));
    assert!(w.contains("[p]"), "{w}");
}

#[test]
fn renameremote_of_a_sameas_remote_renames_it_not_its_parent() {
    let area = Area::new();
    let (r, a) = setup(&area);
    let names = [(a.as_str(), "A")];
    let d = format!("directory={}", area.path("store").display());
    ok(&area.theirs(&r, &["initremote", "b", "--sameas=a", "type=directory", &d]));
    let t = copy_repo(&area, &r, "t");
    let o = copy_repo(&area, &r, "o");
    // A sameas remote's name is taken: renaming `a` to it is refused by
    // both.
    let theirs = area.theirs(&t, &["renameremote", "a", "b"]);
    let ours = area.ours(&o, &["renameremote", "a", "b"]);
    assert_eq!(ours.status.code(), theirs.status.code());
    assert!(!ours.status.success());
    let theirs = area.theirs(&t, &["renameremote", "b", "c"]);
    let ours = area.ours(&o, &["renameremote", "b", "c"]);
    assert_eq!(ours.status.code(), theirs.status.code());
    ok(&ours);
    let log = |repo: &Path| {
        log_lines(
            &support::git(repo, &["cat-file", "-p", "git-annex:remote.log"]),
            &names,
        )
    };
    assert_eq!(log(&o), log(&t));
    let l = log(&o);
    assert!(
        l.iter()
            .any(|l| l.starts_with("A ") && l.contains("name=a")),
        "{l:?}"
    );
    assert!(l.iter().any(|l| l.contains("sameas-name=c")), "{l:?}");
}

#[test]
fn initremote_sameas_of_a_remote_without_a_configuration_keeps_the_encryption_settings() {
    let area = Area::new();
    let r = area.repo("r");
    let dir = area.path("store");
    std::fs::create_dir(&dir).expect("mkdir");
    let d = format!("directory={}", dir.display());
    support::git(&r, &["remote", "add", "g", "/nonexistent"]);
    support::git(
        &r,
        &[
            "config",
            "remote.g.annex-uuid",
            "11111111-2222-3333-4444-555555555555",
        ],
    );
    // No encryption given: refused, as the reference refuses it.
    let args = ["initremote", "b", "--sameas=g", "type=directory", &d];
    let theirs = area.theirs(&r, &args);
    let ours = area.ours(&r, &args);
    assert_eq!(ours.status.code(), theirs.status.code());
    assert!(!ours.status.success());
    // Given: kept (set up and recorded), not dropped.
    let args = [
        "initremote",
        "c",
        "--sameas=g",
        "type=directory",
        &d,
        "encryption=shared",
    ];
    ok(&area.ours(&r, &args));
    let log = support::git(&r, &["cat-file", "-p", "git-annex:remote.log"]);
    let line = log
        .lines()
        .find(|l| l.contains("sameas-name=c"))
        .expect("c's entry");
    assert!(line.contains("encryption=shared"), "{line}");
    assert!(line.contains("cipher="), "{line}");
}
