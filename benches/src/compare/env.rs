//! The two implementations under test and the hermetic environment both run
//! in: a scratch HOME, no global or system git config, a fixed identity
//! (as `annex-core/tests/it/support.rs` `hermetic` does for the tests).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::CompareError;

/// The reference git-annex, as found and as run.
#[derive(Debug, Clone)]
pub struct Reference {
    /// What was given or found (`--reference`, `$GIT_ANNEX_REF`,
    /// `.annex-ref/bin/git-annex`).
    pub given: PathBuf,
    /// What is run. The PyPI `git-annex` package's `bin/git-annex` is a
    /// Python script that `exec`s the real binary; starting Python costs
    /// about 20 ms a run, which is not git-annex's, so the real binary
    /// inside the package is run instead (with `MAGIC` set as the script
    /// sets it).
    pub exe: PathBuf,
    /// The libmagic database the script would point `MAGIC` at.
    pub magic: Option<PathBuf>,
}

impl Reference {
    /// Finds the reference: `explicit`, else `$GIT_ANNEX_REF`, else
    /// `<workspace>/.annex-ref/bin/git-annex`, else the same under the
    /// current directory.
    pub fn find(explicit: Option<&Path>) -> Result<Reference, CompareError> {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let candidates: Vec<PathBuf> = explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("GIT_ANNEX_REF").map(PathBuf::from))
            .map(|p| vec![p])
            .unwrap_or_else(|| {
                vec![
                    workspace.join(".annex-ref/bin/git-annex"),
                    PathBuf::from(".annex-ref/bin/git-annex"),
                ]
            });
        let given = candidates
            .iter()
            .find(|p| p.is_file())
            .ok_or_else(|| {
                CompareError::Usage(format!(
                    "the reference git-annex was not found (tried {candidates:?}): pass \
                 --reference PATH, set GIT_ANNEX_REF, or run `bash .ci/run` once to install \
                 it into .annex-ref"
                ))
            })?
            .clone();
        let given = std::fs::canonicalize(&given).unwrap_or(given);
        Ok(Self::resolve(given))
    }

    /// Sees through the PyPI package's Python launcher to the binary.
    fn resolve(given: PathBuf) -> Reference {
        let is_launcher = std::fs::read(&given)
            .map(|b| {
                const NEEDLE: &[u8] = b"from git_annex import";
                b.starts_with(b"#!") && b.windows(NEEDLE.len()).any(|w| w == NEEDLE)
            })
            .unwrap_or(false);
        if is_launcher
            && let Some(venv) = given.parent().and_then(Path::parent)
            && let Ok(libs) = std::fs::read_dir(venv.join("lib"))
        {
            for py in libs.flatten() {
                let pkg = py.path().join("site-packages/git_annex");
                let exe = pkg.join("git-annex");
                if exe.is_file() {
                    let magic = Some(pkg.join("magic.mgc")).filter(|m| m.is_file());
                    return Reference { given, exe, magic };
                }
            }
        }
        Reference {
            exe: given.clone(),
            given,
            magic: None,
        }
    }
}

/// Everything needed to run commands hermetically.
#[derive(Debug, Clone)]
pub struct Tools {
    /// git-annex-rs.
    pub ours: PathBuf,
    /// The reference git-annex.
    pub reference: Reference,
    /// The scratch HOME.
    pub home: PathBuf,
    /// `PATH` for every command: the reference's directory first, so that
    /// git (hooks, `git annex`) finds git-annex there.
    path: OsString,
}

impl Tools {
    /// Sets up the tools with `home` as the scratch HOME (created if
    /// missing).
    pub fn new(ours: PathBuf, reference: Reference, home: PathBuf) -> Result<Tools, CompareError> {
        std::fs::create_dir_all(&home).map_err(|e| CompareError::io(&home, e))?;
        let mut path = OsString::new();
        if let Some(dir) = reference.given.parent() {
            path.push(dir.as_os_str());
            path.push(":");
        }
        path.push(std::env::var_os("PATH").unwrap_or_default());
        Ok(Tools {
            ours,
            reference,
            home,
            path,
        })
    }

    /// Applies the hermetic environment to `cmd`.
    pub fn apply(&self, cmd: &mut Command) {
        cmd.env("HOME", &self.home)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Bench")
            .env("GIT_AUTHOR_EMAIL", "bench@example.invalid")
            .env("GIT_COMMITTER_NAME", "Bench")
            .env("GIT_COMMITTER_EMAIL", "bench@example.invalid")
            .env("PATH", &self.path)
            .env("LC_ALL", "C.UTF-8")
            // No automatic `git gc`: it detaches and packs objects in the
            // background, under a copy being made or a command being timed.
            // The fixtures are packed once when built instead.
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "gc.auto")
            .env("GIT_CONFIG_VALUE_0", "0")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE");
        if let Some(m) = &self.reference.magic {
            cmd.env("MAGIC", m);
        }
    }

    /// A hermetic command for `program`.
    pub fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        self.apply(&mut cmd);
        cmd
    }

    /// A hermetic `git` in `dir`.
    pub fn git(&self, dir: &Path) -> Command {
        let mut cmd = self.command(Path::new("git"));
        cmd.current_dir(dir);
        cmd
    }

    /// A hermetic reference `git-annex` in `dir`.
    pub fn reference(&self, dir: &Path) -> Command {
        let mut cmd = self.command(&self.reference.exe);
        cmd.current_dir(dir);
        cmd
    }

    /// The first line of `PROGRAM version` (reference) or `--version`
    /// (ours), for the report.
    pub fn versions(&self) -> (String, String) {
        let first = |mut c: Command| {
            c.output()
                .ok()
                .map(|o| {
                    String::from_utf8_lossy(&o.stdout)
                        .lines()
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_string()
                })
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "unknown".to_string())
        };
        let mut ours = self.command(&self.ours);
        ours.arg("--version");
        let mut reference = self.command(&self.reference.exe);
        reference.arg("version");
        (first(ours), first(reference))
    }
}

/// Runs `cmd` (described by `what`) to completion; an error if it fails,
/// with its standard error. Standard output is returned.
pub fn run_ok(mut cmd: Command, what: &str) -> Result<Vec<u8>, CompareError> {
    let o = cmd.output().map_err(|e| CompareError::Spawn {
        what: what.to_string(),
        source: e,
    })?;
    if !o.status.success() {
        return Err(CompareError::Failed {
            what: what.to_string(),
            detail: format!(
                "{}: {}",
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            ),
        });
    }
    Ok(o.stdout)
}

/// Like [`run_ok`], feeding `input` on standard input.
pub fn run_ok_with_input(
    mut cmd: Command,
    what: &str,
    input: &[u8],
) -> Result<Vec<u8>, CompareError> {
    use std::io::Write;
    use std::process::Stdio;
    let spawn_err = |e| CompareError::Spawn {
        what: what.to_string(),
        source: e,
    };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_err)?;
    let writer = child.stdin.take().map(|mut w| {
        let input = input.to_vec();
        std::thread::spawn(move || w.write_all(&input))
    });
    let o = child.wait_with_output().map_err(spawn_err)?;
    if let Some(t) = writer {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(spawn_err(e)),
            Err(_) => {
                return Err(CompareError::Failed {
                    what: what.to_string(),
                    detail: "the stdin writer panicked".to_string(),
                });
            }
        }
    }
    if !o.status.success() {
        return Err(CompareError::Failed {
            what: what.to_string(),
            detail: format!(
                "{}: {}",
                o.status,
                String::from_utf8_lossy(&o.stderr).trim()
            ),
        });
    }
    Ok(o.stdout)
}
