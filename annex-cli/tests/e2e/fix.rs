//! End-to-end tests: `fix`, compared with the reference (output, `--json`,
//! the links and the index it leaves).

use std::path::Path;

use crate::pair::{Pair, annexed};
use crate::support;

fn moved(d: &Path) {
    annexed(&[("a", "a\n"), ("b", "b\n"), ("c", "c\n")])(d);
    std::fs::create_dir_all(d.join("d/e")).expect("mkdir");
    std::fs::rename(d.join("a"), d.join("d/e/a")).expect("mv");
    std::fs::rename(d.join("b"), d.join("d/b")).expect("mv");
    support::git(d, &["add", "-A", "."]);
}

fn state(d: &Path) -> String {
    let links: Vec<String> = ["d/e/a", "d/b", "c"]
        .iter()
        .map(|f| format!("{f} -> {:?}", std::fs::read_link(d.join(f)).ok()))
        .collect();
    format!(
        "{}\n{}\n{}",
        links.join("\n"),
        support::git(d, &["ls-files", "-s"]),
        support::git(d, &["status", "--short"])
    )
}

#[test]
fn fix_matches_the_reference() {
    let p = Pair::new(moved);
    p.same(&["fix", "--json", "d/b"]);
    assert_eq!(state(&p.ours), state(&p.theirs));
    p.same(&["fix"]);
    assert_eq!(state(&p.ours), state(&p.theirs));
    p.same(&["fix"]);
    p.same(&["fix", "nosuch"]);
}

/// Unlocked files, after the reference's `unlock`: one left a pointer
/// while its content is here, one a copy (then `annex.thin`), one a hard
/// link to its object (without `annex.thin`).
fn unlocked(d: &Path) {
    annexed(&[("a", "one\n"), ("b", "two\n"), ("d/c", "three\n")])(d);
    let out = crate::pair::theirs(d, &["unlock", "a", "b", "d/c"], None);
    assert!(out.status.success(), "{out:?}");
    support::git(d, &["commit", "-q", "-m", "unlocked"]);
}

/// Each file's link count and content kind, the objects' link counts,
/// and git's view.
fn unlocked_state(d: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let mut s = String::new();
    for f in ["a", "b", "d/c"] {
        let m = std::fs::metadata(d.join(f)).expect("stat");
        let body = std::fs::read(d.join(f)).expect("read");
        s.push_str(&format!(
            "{f} links={} pointer={}\n",
            m.nlink(),
            body.starts_with(b"/annex/objects/")
        ));
    }
    s + &support::git(d, &["status", "--short"])
}

/// Regression: `fix` only relinked locked files; unlocked files' pointers
/// and hard links (`annex.thin`) are fixed as the reference fixes them.
#[test]
fn fix_puts_content_and_hard_links_of_unlocked_files_as_the_reference() {
    // A pointer whose content is here.
    let p = Pair::new(unlocked);
    for d in [&p.ours, &p.theirs] {
        let key = support::annex(d, &["lookupkey", "a"]);
        std::fs::write(d.join("a"), format!("/annex/objects/{}\n", key.trim())).expect("write");
    }
    p.same(&["fix"]);
    assert_eq!(unlocked_state(&p.ours), unlocked_state(&p.theirs));
    assert!(unlocked_state(&p.ours).contains("a links=1 pointer=false"));
    // Copies made hard links with annex.thin, then back without it.
    let p = Pair::new(unlocked);
    for d in [&p.ours, &p.theirs] {
        support::git(d, &["config", "annex.thin", "true"]);
    }
    p.same(&["fix", "--json"]);
    assert_eq!(unlocked_state(&p.ours), unlocked_state(&p.theirs));
    assert!(unlocked_state(&p.ours).contains("b links=2"));
    for d in [&p.ours, &p.theirs] {
        support::git(d, &["config", "annex.thin", "false"]);
    }
    p.same(&["fix", "b"]);
    assert_eq!(unlocked_state(&p.ours), unlocked_state(&p.theirs));
    assert!(unlocked_state(&p.ours).contains("b links=1"));
    // A modified copy is never replaced.
    for d in [&p.ours, &p.theirs] {
        support::git(d, &["config", "annex.thin", "true"]);
        std::fs::write(d.join("b"), "changed\n").expect("write");
    }
    p.same(&["fix", "b"]);
    assert_eq!(std::fs::read(p.ours.join("b")).expect("read"), b"changed\n");
}
