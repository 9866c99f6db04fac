//! End-to-end tests: `rekey`, compared with the reference (output,
//! `--json`, `--batch`, exit codes, links, the index, the object store and
//! the location logs).

use std::path::Path;

use crate::pair::{Pair, annexed, theirs};
use crate::support;

fn setup(d: &Path) {
    annexed(&[
        ("a", "a\n"),
        ("b", "b\n"),
        ("u", "u\n"),
        ("g", "g\n"),
        ("h", "h\n"),
    ])(d);
    assert!(theirs(d, &["unlock", "u"], None).status.success());
    support::git(d, &["commit", "-q", "-m", "unlock"]);
    assert!(theirs(d, &["drop", "--force", "g"], None).status.success());
}

fn state(d: &Path) -> String {
    let mut objs = Vec::new();
    for e in walkdir(&d.join(".git/annex/objects")) {
        objs.push(e);
    }
    objs.sort();
    format!(
        "{}\n{}\n{:?}\n{}",
        support::git(d, &["ls-files", "-s"]),
        support::git(d, &["status", "--short"]),
        ["a", "b", "g"].map(|f| std::fs::read_link(d.join(f)).ok()),
        objs.join("\n")
    )
}

fn walkdir(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                out.extend(walkdir(&e.path()));
            } else {
                out.push(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    out
}

#[test]
fn rekey_matches_the_reference() {
    let p = Pair::new(setup);
    let md5_u = "MD5-s2--e85dde330c34efb0e526ee3082e4353b";
    for args in [
        &["rekey", "a", "WORM-s2-m1700000000--a"][..],
        &[
            "rekey",
            "b",
            "SHA256E-s2--0000000000000000000000000000000000000000000000000000000000000000",
        ],
        &["rekey", "--json", "u", md5_u],
        &["rekey", "g", "WORM-s2-m1700000000--g"],
        &["rekey", "--force", "g", "WORM-s2-m1700000000--g"],
        &["rekey", "a"],
    ] {
        p.same(args);
        assert_eq!(state(&p.ours), state(&p.theirs), "after {args:?}");
    }
    let batch = b"h MD5-s2--3a5e1a52bb7a89d8f3fa0a01b1e0d4d1\n";
    p.same_in("", &["rekey", "--batch"], Some(batch));
    assert_eq!(state(&p.ours), state(&p.theirs));
    p.same_branch(|f| f.ends_with(".log"));
}
