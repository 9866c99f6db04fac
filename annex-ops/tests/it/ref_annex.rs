//! The fixture of the info and matching tests: a pair of repositories the
//! reference git-annex made, with files of several sizes and backends. The
//! reference and git run hermetically through `test-support`.

use std::path::{Path, PathBuf};
use std::process::Output;

use annex_ops::session::{OpenOptions, Session};
pub use test_support::{annex, git};

/// The reference `git-annex ARGS` in `dir`, whatever its exit status.
pub fn annex_output(dir: &Path, args: &[&str]) -> Output {
    test_support::annex_output(dir, args, None)
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
