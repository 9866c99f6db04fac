//! End-to-end tests: `migrate`, compared with the reference (output,
//! `--json`, exit codes, links, index, objects and the location and
//! metadata logs of the new keys).

use std::path::Path;

use crate::pair::{Pair, theirs, write_files};
use crate::support;

fn setup(d: &Path) {
    write_files(
        d,
        &[("a.txt", "a\n"), ("b", "b\n"), ("u", "u\n"), ("g", "g\n")],
    );
    // WORM keys hold the mtime: the same on both sides.
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    for f in ["a.txt", "b", "u", "g"] {
        let file = std::fs::File::options()
            .write(true)
            .open(d.join(f))
            .expect("open");
        file.set_modified(t).expect("mtime");
    }
    assert!(
        theirs(d, &["add", "--quiet", "--backend=WORM", "."], None)
            .status
            .success()
    );
    assert!(theirs(d, &["unlock", "u"], None).status.success());
    support::git(d, &["commit", "-q", "-m", "add"]);
    assert!(theirs(d, &["drop", "--force", "g"], None).status.success());
    assert!(
        theirs(d, &["metadata", "-s", "t=1", "a.txt"], None)
            .status
            .success()
    );
}

fn state(d: &Path) -> String {
    format!(
        "{}\n{}\n{:?}",
        support::git(d, &["ls-files", "-s"]),
        support::git(d, &["status", "--short"]),
        ["a.txt", "b", "g"].map(|f| std::fs::read_link(d.join(f)).ok()),
    )
}

#[test]
fn migrate_matches_the_reference() {
    let p = Pair::new(setup);
    for args in [
        &["migrate", "a.txt"][..],
        &["migrate", "--json", "b"],
        &["migrate", "u", "g"],
        &["migrate"],
        &["migrate", "--backend=MD5E", "a.txt"],
        &["migrate", "nosuch"],
    ] {
        p.same(args);
        assert_eq!(state(&p.ours), state(&p.theirs), "after {args:?}");
    }
    p.same(&["metadata", "a.txt"]);
    p.same(&["whereis", "a.txt", "b", "u"]);
    p.same_branch(|f| f.ends_with(".log.met") || f.ends_with(".log"));
}
