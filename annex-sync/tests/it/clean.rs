//! `annex_sync::clean`: proving a work tree has nothing to commit, and
//! refusing to whenever git would see something.

use std::path::Path;
use std::process::Command;

use annex_sync::clean::provably_clean;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "T")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "T")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .args(args)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Files dated an hour ago (so no entry is racily clean), committed, the
/// index refreshed.
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "-b", "master"]);
    std::fs::create_dir(d.join("sub")).unwrap();
    std::fs::write(d.join("a"), "a\n").unwrap();
    std::fs::write(d.join("sub/b"), "b\n").unwrap();
    std::os::unix::fs::symlink("a", d.join("link")).unwrap();
    age(d, &["a", "sub/b", "link"]);
    git(d, &["add", "."]);
    git(d, &["commit", "-q", "-m", "x"]);
    git(d, &["update-index", "-q", "--refresh"]);
    age(d, &[".", "sub"]);
    dir
}

fn age(d: &Path, files: &[&str]) {
    for f in files {
        let st = Command::new("touch")
            .current_dir(d)
            .args(["-h", "-d", "1 hour ago", f])
            .status()
            .unwrap();
        assert!(st.success());
    }
}

fn clean(d: &Path) -> bool {
    let repo = gix::open(d.join(".git")).unwrap();
    provably_clean(&repo, d)
}

#[test]
fn clean_tree_is_proven_clean() {
    let dir = repo();
    assert!(clean(dir.path()));
    assert_eq!(
        git(
            dir.path(),
            &["status", "--porcelain", "--untracked-files=all"]
        ),
        ""
    );
}

#[test]
fn any_change_git_would_see_is_not_clean() {
    // Same size, other content, other mtime.
    let dir = repo();
    std::fs::write(dir.path().join("a"), "z\n").unwrap();
    age(dir.path(), &["a"]);
    assert!(!clean(dir.path()));
    // An untracked file.
    let dir = repo();
    std::fs::write(dir.path().join("sub/new"), "n").unwrap();
    assert!(!clean(dir.path()));
    // A deleted file.
    let dir = repo();
    std::fs::remove_file(dir.path().join("sub/b")).unwrap();
    assert!(!clean(dir.path()));
    // A staged change (index differs from HEAD).
    let dir = repo();
    git(dir.path(), &["rm", "-q", "--cached", "a"]);
    assert!(!clean(dir.path()));
    // A symlink turned into a file.
    let dir = repo();
    std::fs::remove_file(dir.path().join("link")).unwrap();
    std::fs::write(dir.path().join("link"), "a").unwrap();
    age(dir.path(), &["link"]);
    assert!(!clean(dir.path()));
    // A nested repository.
    let dir = repo();
    std::fs::create_dir_all(dir.path().join("sub/inner/.git")).unwrap();
    assert!(!clean(dir.path()));
}

#[test]
fn fresh_files_are_left_to_git() {
    // Written in the same second as the index: racily clean.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "-b", "master"]);
    std::fs::write(d.join("a"), "a\n").unwrap();
    git(d, &["add", "a"]);
    git(d, &["commit", "-q", "-m", "x"]);
    // On a loaded machine the commit may end in a later second than the
    // file was written: give the index the file's time, as a fast commit
    // leaves it (regression: this test failed in CI under load).
    let st = std::process::Command::new("touch")
        .arg("-r")
        .arg(d.join("a"))
        .arg(d.join(".git/index"))
        .status()
        .unwrap();
    assert!(st.success());
    assert!(!clean(d));
}

#[test]
fn fresh_symlinks_are_checked_by_their_target() {
    // Written in the same second as the index, as a checkout or a merge
    // leaves them: the target is compared with the staged blob.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "-b", "master"]);
    std::os::unix::fs::symlink("target-one", d.join("l")).unwrap();
    git(d, &["add", "l"]);
    git(d, &["commit", "-q", "-m", "x"]);
    assert!(clean(d));
    // Pointed elsewhere within the same second: not clean.
    std::fs::remove_file(d.join("l")).unwrap();
    std::os::unix::fs::symlink("target-two", d.join("l")).unwrap();
    assert!(!clean(d));
}

#[test]
fn remembered_directories_still_catch_changes() {
    use annex_sync::clean::DIRS_CACHE;
    let dir = repo();
    let d = dir.path();
    let cache = d.join(".git/annex").join(DIRS_CACHE);
    assert!(clean(d));
    assert!(cache.exists(), "directories remembered");
    // Proven again from the remembered directories.
    assert!(clean(d));
    // A new untracked file changes its directory.
    std::fs::write(d.join("sub/new"), "n").unwrap();
    assert!(!clean(d));
    std::fs::remove_file(d.join("sub/new")).unwrap();
    // A symlink pointed elsewhere (replaced in its directory).
    let dir = repo();
    let d = dir.path();
    assert!(clean(d));
    std::fs::remove_file(d.join("link")).unwrap();
    std::os::unix::fs::symlink("sub/b", d.join("link")).unwrap();
    age(d, &["link", "."]);
    assert!(!clean(d));
    // A regular file changed in place (its directory unchanged).
    let dir = repo();
    let d = dir.path();
    assert!(clean(d));
    std::fs::write(d.join("sub/b"), "c\n").unwrap();
    age(d, &["sub/b", "sub"]);
    assert!(!clean(d));
}
