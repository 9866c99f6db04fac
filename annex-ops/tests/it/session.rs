//! Opening repositories.

use annex_ops::session::{OpenOptions, Session, SessionError};

#[test]
fn a_directory_outside_any_repository_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let err = Session::open(&OpenOptions::new(dir.path())).expect_err("not a repository");
    assert!(matches!(err, SessionError::NotARepository), "{err:?}");
    assert_eq!(err.to_string(), "Not in a git repository.");
}

#[test]
fn an_uninitialized_repository_without_a_branch_asks_for_init() {
    let dir = tempfile::tempdir().expect("temp dir");
    let st = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir.path())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .expect("git init");
    assert!(st.success());
    let err = Session::open(&OpenOptions::new(dir.path())).expect_err("not initialized");
    assert!(matches!(err, SessionError::NotInitialized), "{err:?}");
    assert_eq!(err.to_string(), "First run: git-annex init");
}
