//! The workspace's shared test support: the reference git-annex, hermetic
//! git environments and scratch repositories. A dev-dependency of the
//! crates whose integration tests run the reference (`annex-core`,
//! `annex-ops`, ...); never published.
//!
//! The reference binary is found, in this order, at `$GIT_ANNEX_REF`, at
//! `<workspace>/.annex-ref/bin/git-annex` (what `.ci/run` installs), or as
//! `git-annex` on `PATH`. A test that needs it and does not find it fails;
//! it never skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub mod http;
pub mod sshd;

/// The workspace root (parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crate dir has a parent")
        .to_path_buf()
}

/// Path to the reference `git-annex` binary. Panics (fails the test) with
/// instructions when it cannot be found.
pub fn reference_git_annex() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("GIT_ANNEX_REF") {
            return PathBuf::from(p);
        }
        let venv = workspace_root().join(".annex-ref/bin/git-annex");
        if venv.exists() {
            return venv;
        }
        if let Ok(out) = Command::new("git-annex").arg("version").output()
            && out.status.success()
        {
            return PathBuf::from("git-annex");
        }
        panic!(
            "the reference git-annex is needed by this test and was not found: \
             run `bash .ci/run` once (it installs it into .annex-ref), or set GIT_ANNEX_REF"
        )
    })
}

/// A scratch HOME shared by this test process, with no git config but what
/// tests set themselves.
fn scratch_home() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().expect("temp HOME"))
        .path()
}

/// Applies a hermetic environment to a command: temp HOME, no global or
/// system git config, fixed identity, and the reference git-annex's
/// directory on PATH (git finds `git-annex` there for `git annex`).
pub fn hermetic(cmd: &mut Command) -> &mut Command {
    let ref_bin = reference_git_annex();
    let mut path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(dir) = ref_bin.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut p = dir.as_os_str().to_owned();
        p.push(":");
        p.push(&path);
        path = p;
    }
    cmd.env("HOME", scratch_home())
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

fn run(mut cmd: Command, what: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {what}: {e}"));
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

/// Runs `git ARGS` in `dir` hermetically; panics on failure; returns stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new("git");
    hermetic(&mut cmd).current_dir(dir).args(args);
    String::from_utf8(run(cmd, &format!("git {args:?}")).stdout).expect("utf-8 output")
}

/// Runs the reference `git-annex ARGS` in `dir`; panics on failure; returns stdout.
pub fn annex(dir: &Path, args: &[&str]) -> String {
    let out = annex_output(dir, args, None);
    if !out.status.success() {
        panic!(
            "git-annex {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs the reference `git-annex ARGS` in `dir` with optional stdin and
/// returns its whole output, whatever its exit status.
pub fn annex_output(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(reference_git_annex());
    hermetic(&mut cmd).current_dir(dir).args(args);
    output_with_stdin(cmd, stdin)
}

/// Runs a command with `stdin` as its input (none: an empty, closed
/// input) and returns its whole output, whatever its exit status. The input
/// is written from a thread, so a large one cannot deadlock against the
/// output; a program that stops reading early (batch mode stops at a bad
/// key) is not an error.
pub fn output_with_stdin(mut cmd: Command, stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let writer = stdin.map(|input| {
        let mut w = child.stdin.take().expect("stdin is piped");
        let input = input.to_vec();
        std::thread::spawn(move || w.write_all(&input))
    });
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait for {cmd:?}: {e}"));
    if let Some(t) = writer {
        match t.join().expect("stdin writer thread") {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write stdin: {e}"),
            _ => {}
        }
    }
    out
}

/// A fresh empty git repository in a temp dir (non-bare), not yet annexed.
pub fn new_git_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    git(dir.path(), &["init", "-q", "-b", "main"]);
    dir
}

/// A small deterministic generator (xorshift64*) for generated corpora:
/// the same seed gives the same cases on every run.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits. (Named as the tests have always called it;
    /// an endless generator, not an iterator.)
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A number below `n` (which must not be 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// One element of a non-empty slice.
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}
