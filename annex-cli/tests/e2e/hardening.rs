//! Hostile inputs (issue 21): what a peer's branch, a broken config or an
//! absurd command line can do to a command, checked against the reference.

use std::path::Path;

use crate::{ours, support};

/// A repository the reference set up: `x` annexed and committed.
fn annexed_repo() -> tempfile::TempDir {
    let repo = support::new_git_repo();
    let p = repo.path();
    support::annex(p, &["init", "hostile"]);
    std::fs::write(p.join("x"), b"hello\n").expect("write x");
    support::annex(p, &["add", "x"]);
    support::git(p, &["commit", "-q", "-m", "x"]);
    repo
}

/// Exit code and stderr (with our program name as the reference's).
fn answer(out: &std::process::Output) -> (Option<i32>, String) {
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).replace("git-annex-rs:", "git-annex:"),
    )
}

fn branch_tip(p: &Path) -> String {
    support::git(p, &["rev-parse", "refs/heads/git-annex"])
}

#[test]
fn annex_version_999_is_refused_by_every_command_like_the_reference() {
    let repo = annexed_repo();
    let p = repo.path();
    let key = support::annex(p, &["lookupkey", "x"]);
    let key = key.trim();
    for version in ["999", "11", "-1", "0", "2", "1e3", ""] {
        support::git(p, &["config", "annex.version", version]);
        let before = branch_tip(p);
        for args in [
            &["drop", "--force", "x"][..],
            &["get", "x"],
            &["fsck"],
            &["info"],
            &["copy", "x", "--to", "here"],
            &["find"],
            &["whereis", "x"],
            &["wanted", "here", "present"],
            &["setpresentkey", key, "here", "0"],
            &["matchexpression", "--file=x", "include=*"],
            &["lookupkey", "x"],
            &["contentlocation", key],
            &["sync"],
            &["merge"],
        ] {
            let o = answer(&ours(p, args));
            let t = answer(&support::annex_output(p, args, None));
            assert_eq!(o, t, "annex.version={version:?} {args:?}");
            assert_eq!(o.0, Some(1), "annex.version={version:?} {args:?}: {o:?}");
            assert!(
                p.join(".git/annex/objects").exists(),
                "annex.version={version:?} {args:?} removed content"
            );
        }
        assert_eq!(
            branch_tip(p),
            before,
            "annex.version={version:?}: branch written"
        );
        let journal = p.join(".git/annex/journal");
        let dirty = std::fs::read_dir(&journal).map(|d| d.count()).unwrap_or(0);
        assert_eq!(dirty, 0, "annex.version={version:?}: journal written");
    }
}

#[test]
fn annex_versions_3_to_10_still_work() {
    let repo = annexed_repo();
    let p = repo.path();
    for version in ["3", "5", "7", "8", "9", "10", "010", " 10"] {
        support::git(p, &["config", "annex.version", version]);
        let out = ours(p, &["find"]);
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stdout).into_owned()
            ),
            (Some(0), "x\n".to_owned()),
            "annex.version={version:?}: {out:?}"
        );
    }
}
