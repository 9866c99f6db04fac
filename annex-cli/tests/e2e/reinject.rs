//! End-to-end tests: `reinject`, compared with the reference (output,
//! `--json`, `--known`, exit codes, what is left of the sources, the
//! object store and the location logs).

use std::path::Path;

use crate::pair::{Pair, annexed, theirs};

fn setup(d: &Path) {
    annexed(&[("a", "a\n"), ("b", "b\n"), ("c", "cc\n")])(d);
    assert!(
        theirs(d, &["drop", "--force", "a", "b", "c"], None)
            .status
            .success()
    );
    let src = d.join(".git").join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    for (n, c) in [
        ("ra", "a\n"),
        ("ra2", "a\n"),
        ("rb", "b\n"),
        ("rz", "zz\n"),
        ("ry", "y\n"),
        ("rc", "cc\n"),
        ("unknown", "u\n"),
    ] {
        std::fs::write(src.join(n), c).expect("write");
    }
}

fn left(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d.join(".git/src"))
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn reinject_matches_the_reference() {
    let p = Pair::new(setup);
    for args in [
        &["reinject", ".git/src/rz", "a"][..],
        &["reinject", ".git/src/ry", "a"],
        &["reinject", ".git/src/ra", "a"],
        &["reinject", "--json", ".git/src/rb", "b"],
        &["reinject", ".git/src/ra2", "a"],
        &["reinject", ".git/src/nosuch", "a"],
        &["reinject", ".git/src/rc"],
        &["reinject", "--known", ".git/src/unknown", ".git/src/rc"],
        &["reinject", "--known", ".git/src/nosuch"],
        &["whereis", "a", "b", "c"],
    ] {
        p.same(args);
        assert_eq!(left(&p.ours), left(&p.theirs), "after {args:?}");
    }
    p.same_branch(|f| f.ends_with(".log"));
}
