//! Test support for commands compared with the reference: two repositories
//! made alike by the reference git-annex, one driven by the reference and
//! one by ours through the same command lines, with everything printed
//! (stdout, stderr, exit code) and the `git-annex` branch compared. The
//! vector clock is fixed, so timestamps agree.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support;

/// The fixed clock both sides run with.
pub const CLOCK: &str = "1700000000";

/// Two repositories made alike: `theirs` for the reference, `ours` for us.
pub struct Pair {
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    /// The reference's repository.
    pub theirs: PathBuf,
    /// Our repository.
    pub ours: PathBuf,
}

/// One side's run, cleaned for comparison.
#[derive(Debug, PartialEq, Eq)]
pub struct Seen {
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Exit code.
    pub code: Option<i32>,
}

/// Runs a program hermetically in `dir` with the fixed clock.
fn run_in(program: &Path, dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(program);
    support::hermetic(&mut cmd)
        .current_dir(dir)
        .env("GIT_ANNEX_VECTOR_CLOCK", CLOCK)
        .args(args);
    support::output_with_stdin(cmd, stdin)
}

/// Runs the reference in `dir` with the fixed clock.
pub fn theirs(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    run_in(support::reference_git_annex(), dir, args, stdin)
}

/// Runs ours in `dir` with the fixed clock.
pub fn ours(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    run_in(
        Path::new(env!("CARGO_BIN_EXE_git-annex-rs")),
        dir,
        args,
        stdin,
    )
}

fn uuid(dir: &Path) -> String {
    let mut cmd = Command::new("git");
    support::hermetic(&mut cmd)
        .current_dir(dir)
        .args(["config", "annex.uuid"]);
    let out = support::output_with_stdin(cmd, None);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Pair {
    /// Two repositories, each initialized by the reference and then given
    /// the same files by `setup` (run in each).
    pub fn new(setup: impl Fn(&Path)) -> Pair {
        let (a, b) = (support::new_git_repo(), support::new_git_repo());
        for d in [a.path(), b.path()] {
            let out = theirs(d, &["init", "repo"], None);
            assert!(out.status.success(), "init: {out:?}");
            setup(d);
        }
        Pair {
            theirs: a.path().to_path_buf(),
            ours: b.path().to_path_buf(),
            _dirs: (a, b),
        }
    }

    /// Both sides' runs of `args` (in the subdirectory `sub`), cleaned: each
    /// repository's UUID and path replaced, our program name made the
    /// reference's.
    pub fn both_in(&self, sub: &str, args: &[&str], stdin: Option<&[u8]>) -> (Seen, Seen) {
        let t = theirs(&self.theirs.join(sub), args, stdin);
        let o = ours(&self.ours.join(sub), args, stdin);
        (self.clean(&o, &self.ours), self.clean(&t, &self.theirs))
    }

    fn clean(&self, out: &Output, dir: &Path) -> Seen {
        let u = uuid(dir);
        let d = dir.to_string_lossy().into_owned();
        let c = |b: &[u8]| {
            let s = String::from_utf8_lossy(b).replace(&d, "REPO");
            // An uninitialized repository has an empty UUID.
            let s = if u.is_empty() {
                s
            } else {
                s.replace(&u, "UUID")
            };
            s.replace("git-annex-rs:", "git-annex:")
        };
        Seen {
            stdout: c(&out.stdout),
            stderr: c(&out.stderr),
            code: out.status.code(),
        }
    }

    /// Runs `args` on both sides and asserts that everything printed is the
    /// same.
    pub fn same(&self, args: &[&str]) {
        self.same_in("", args, None);
    }

    /// [`Pair::same`] in a subdirectory and with input.
    pub fn same_in(&self, sub: &str, args: &[&str], stdin: Option<&[u8]>) {
        let (o, t) = self.both_in(sub, args, stdin);
        assert_eq!(
            o, t,
            "git-annex {args:?}: ours (left) differs from the reference (right)"
        );
    }

    /// Runs `args` on both sides and asserts the same stdout and exit code
    /// (for usage errors, whose wording is the option parser's).
    pub fn same_code(&self, args: &[&str]) {
        let (o, t) = self.both_in("", args, None);
        assert_eq!(
            (o.stdout, o.code),
            (t.stdout, t.code),
            "git-annex {args:?}: ours (left) differs from the reference (right)"
        );
    }

    /// Asserts that the `git-annex` branches hold the same files with the
    /// same contents where `filter` selects the path (UUIDs replaced).
    pub fn same_branch(&self, filter: impl Fn(&str) -> bool) {
        let read = |d: &Path| -> Vec<(String, String)> {
            let u = uuid(d);
            support::git(d, &["ls-tree", "-r", "--name-only", "git-annex"])
                .lines()
                .filter(|p| filter(p))
                .map(|p| {
                    let body = support::git(d, &["show", &format!("git-annex:{p}")]);
                    if u.is_empty() {
                        (p.to_owned(), body)
                    } else {
                        (p.replace(&u, "UUID"), body.replace(&u, "UUID"))
                    }
                })
                .collect()
        };
        assert_eq!(
            read(&self.ours),
            read(&self.theirs),
            "git-annex branch: ours (left), reference (right)"
        );
    }
}

/// Writes files (path, content) in `dir`, making directories.
pub fn write_files(dir: &Path, files: &[(&str, &str)]) {
    for (p, c) in files {
        let p = dir.join(p);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, c).expect("write");
    }
}

/// A setup: the files written, added by the reference and committed.
pub fn annexed(files: &'static [(&'static str, &'static str)]) -> impl Fn(&Path) {
    move |d: &Path| {
        write_files(d, files);
        let out = theirs(d, &["add", "--quiet", "."], None);
        assert!(out.status.success(), "add: {out:?}");
        support::git(d, &["commit", "-q", "-m", "files"]);
    }
}

/// The UUID [`origin_in`] gives its repository.
pub const ORIGIN_UUID: &str = "11111111-0000-4000-8000-000000000001";

/// A git repository `o` under `dir`, initialized by the reference as
/// `origin` with the fixed UUID [`ORIGIN_UUID`] (so that two runs print
/// the same UUIDs); returns its path.
pub fn origin_in(dir: &Path) -> PathBuf {
    let o = dir.join("o");
    std::fs::create_dir(&o).expect("mkdir o");
    support::git(&o, &["init", "-q"]);
    support::git(&o, &["config", "annex.uuid", ORIGIN_UUID]);
    support::annex(&o, &["init", "-q", "origin"]);
    o
}
