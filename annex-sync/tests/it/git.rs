//! `annex_sync::git`: running git.

use annex_sync::git::{Git, GitError};

#[test]
fn run_reports_failure_with_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let git = Git::new(dir.path());
    let err = git.run(["rev-parse", "--verify", "HEAD"]).unwrap_err();
    match err {
        GitError::Failed { args, stderr, .. } => {
            assert_eq!(args, "rev-parse --verify HEAD");
            assert!(stderr.contains("not a git repository"), "{stderr}");
        }
        other => panic!("unexpected {other:?}"),
    }
    git.run(["init", "-q"]).unwrap();
    let out = git.run(["rev-parse", "--git-dir"]).unwrap();
    assert_eq!(out.stdout, b".git\n");
}
