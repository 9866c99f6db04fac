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
