//! A small local helper for the info and matching tests: the reference
//! git-annex (`$GIT_ANNEX_REF`, else `<workspace>/.annex-ref/bin/git-annex`)
//! and git run hermetically (temp HOME, no global or system config, fixed
//! identity), and a pair of repositories the reference made. A test that
//! needs the reference fails when it is missing, never skips.
//!
//! (Kept apart from the shared `support` module being written at the same
//! time; the two can be merged.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use annex_ops::session::{OpenOptions, Session};

/// The reference `git-annex`.
pub fn reference() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("GIT_ANNEX_REF") {
            return PathBuf::from(p);
        }
        let local = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace root")
            .join(".annex-ref/bin/git-annex");
        assert!(
            local.exists(),
            "the reference git-annex is needed: set GIT_ANNEX_REF or run `bash .ci/run` once"
        );
        local
    })
}

fn home() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().expect("temp HOME"))
        .path()
}

fn hermetic(cmd: &mut Command) -> &mut Command {
    let mut path = reference()
        .parent()
        .map(|d| d.as_os_str().to_owned())
        .unwrap_or_default();
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    cmd.env("HOME", home())
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.invalid")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.invalid")
        .env("PATH", path)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
}

fn checked(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// `git ARGS` in `dir`; fails the test on failure; its stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new("git");
    hermetic(&mut cmd).current_dir(dir).args(args);
    checked(cmd.output().expect("run git"), &format!("git {args:?}"))
}

/// The reference `git-annex ARGS` in `dir`, whatever its exit status.
pub fn annex_output(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(reference());
    hermetic(&mut cmd).current_dir(dir).args(args);
    cmd.output().expect("run the reference git-annex")
}

/// The reference `git-annex ARGS` in `dir`; fails the test on failure; its
/// stdout.
pub fn annex(dir: &Path, args: &[&str]) -> String {
    checked(annex_output(dir, args), &format!("git-annex {args:?}"))
}

/// The reference's `--json` output of one item, parsed.
pub fn annex_json(dir: &Path, args: &[&str]) -> serde_json::Value {
    let out = annex(dir, args);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Two repositories the reference made: `origin` (description `origin`)
/// with `a.txt` (5 bytes), `sub/b.bin` (20 bytes), `sub/c.txt` (1 byte)
/// and a WORM-keyed `w.dat` (3 bytes); and its clone `clone` (description
/// `clone`) which has got `sub/b.bin` only, and which untrusts nothing.
pub struct Pair {
    _dir: tempfile::TempDir,
    /// The origin's work tree.
    pub origin: PathBuf,
    /// The clone's work tree.
    pub clone: PathBuf,
}

impl Pair {
    /// Makes them.
    pub fn new() -> Pair {
        let dir = tempfile::tempdir().expect("temp dir");
        let origin = dir.path().join("origin");
        std::fs::create_dir_all(origin.join("sub")).expect("mkdir");
        git(&origin, &["init", "-q", "-b", "main"]);
        annex(&origin, &["init", "-q", "origin"]);
        std::fs::write(origin.join("a.txt"), b"aaaaa").expect("write");
        std::fs::write(origin.join("sub/b.bin"), [7u8; 20]).expect("write");
        std::fs::write(origin.join("sub/c.txt"), b"c").expect("write");
        std::fs::write(origin.join("w.dat"), b"www").expect("write");
        annex(&origin, &["add", "-q", "a.txt", "sub"]);
        annex(&origin, &["add", "-q", "--backend=WORM", "w.dat"]);
        git(&origin, &["commit", "-q", "-m", "files"]);
        let clone = dir.path().join("clone");
        git(
            dir.path(),
            &["clone", "-q", origin.to_str().expect("utf-8"), "clone"],
        );
        annex(&clone, &["init", "-q", "clone"]);
        annex(&clone, &["get", "-q", "sub/b.bin"]);
        Pair {
            _dir: dir,
            origin,
            clone,
        }
    }
}

/// Opens a repository with the library.
pub fn open(dir: &Path) -> Session {
    Session::open(&OpenOptions::new(dir))
        .expect("open the repository")
        .0
}
