//! End-to-end tests: `forget`, compared with the reference (output, exit
//! codes, the branch's new single commit and its tree), and read across.

use std::path::Path;

use crate::pair::{Pair, annexed, theirs};
use crate::support;

fn history(d: &Path) -> (String, String) {
    // Subjects and how many parents each commit has.
    let log = support::git(d, &["log", "--format=%s|%P", "git-annex"])
        .lines()
        .map(|l| {
            let (s, p) = l.split_once('|').unwrap_or((l, ""));
            format!("{s} {}\n", p.split_whitespace().count())
        })
        .collect::<String>();
    let tree = support::git(d, &["ls-tree", "-r", "--name-only", "git-annex"]);
    (log, tree)
}

#[test]
fn forget_matches_the_reference() {
    let p = Pair::new(annexed(&[("a", "a\n"), ("b", "b\n")]));
    p.same(&["forget"]);
    assert_eq!(history(&p.ours), history(&p.theirs));
    p.same(&["forget", "--force"]);
    assert_eq!(history(&p.ours), history(&p.theirs));
    assert_eq!(history(&p.ours).0.lines().count(), 1);
    p.same_branch(|_| true);
    // The reference reads what we left: its fsck and whereis are content.
    for d in [&p.ours, &p.theirs] {
        let out = theirs(d, &["whereis", "a"], None);
        assert!(out.status.success(), "{out:?}");
        let out = theirs(d, &["fsck", "--quiet"], None);
        assert!(out.status.success(), "{out:?}");
    }
}
