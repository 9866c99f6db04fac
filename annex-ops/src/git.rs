//! The `git` commands operations still run as processes (gix cannot write
//! config values of another process's repository safely yet, nor refresh
//! index entries through the clean filter). Everything else is in-process.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};

/// `git --git-dir GIT_DIR config NAME VALUE`; whether it succeeded.
pub fn set_config(git_dir: &Path, name: &str, value: &str) -> bool {
    Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["config", name, value])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `git update-index -q --refresh -- PATH...` in the work tree `top`: git
/// sees that files changed only in form (content for pointer or back),
/// the clean filter giving the same pointer. Best effort. The filter is
/// made required: the paths are re-added through it, and git would
/// otherwise stage a file's content itself when the filter cannot run
/// (`git-annex` not on `PATH`), where a failure leaves the entry as it was.
pub fn refresh_index_paths(top: &Path, paths: &[&OsStr]) {
    let _ = Command::new("git")
        .current_dir(top)
        .args(["-c", "filter.annex.required=true"])
        .args(["update-index", "-q", "--refresh", "--"])
        .args(paths)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// `git --git-dir GIT_DIR config --unset NAME`; whether it succeeded.
pub fn unset_config(git_dir: &Path, name: &str) -> bool {
    Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["config", "--unset", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `git config --show-origin NAME` run in `dir`: its output when the
/// setting is found (`file:PATH\tVALUE\n`), `None` otherwise.
pub fn config_origin(dir: &Path, name: &str) -> Option<Vec<u8>> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["config", "--show-origin", name])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status.success().then_some(out.stdout)
}

/// `git ARGS` run in the git directory (so that no work tree applies and
/// paths are from the top); its stdout, or its stderr as the error.
pub fn run_in_git_dir(git_dir: &Path, args: &[String]) -> Result<Vec<u8>, String> {
    let out = Command::new("git")
        .current_dir(git_dir)
        .arg("--git-dir=.")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// `git rm --cached --force --quiet -- PATHS` in the work tree `top`.
pub fn rm_cached(top: &Path, paths: &[Vec<u8>]) -> Result<(), String> {
    use std::os::unix::ffi::OsStrExt;
    let out = Command::new("git")
        .current_dir(top)
        .args(["rm", "--cached", "--force", "--quiet", "--"])
        .args(paths.iter().map(|p| OsStr::from_bytes(p)))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// `git branch -D NAME` (quietly); a branch that does not exist is not an
/// error.
pub fn delete_branch(git_dir: &Path, name: &str) -> Result<(), String> {
    let exists = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["rev-parse", "--verify", "--quiet"])
        .arg(format!("refs/heads/{name}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !exists {
        return Ok(());
    }
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["branch", "-q", "-D", name])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// `git status --porcelain -z -uall` in the work tree `top` (with
/// `extra` options and pathspecs from the top): each entry's index and
/// work-tree status characters and path (from the top); renames and copies
/// carry their source as the next entry, which is skipped.
pub fn status(
    top: &Path,
    extra: &[String],
    specs: &[Vec<u8>],
) -> Result<Vec<(u8, u8, Vec<u8>)>, String> {
    use std::os::unix::ffi::OsStrExt;
    let out = Command::new("git")
        .current_dir(top)
        .args(["status", "--porcelain", "-z", "-uall"])
        .args(extra)
        .arg("--")
        .args(specs.iter().map(|p| OsStr::from_bytes(p)))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    let mut entries = Vec::new();
    let mut fields = out.stdout.split(|&b| b == 0);
    while let Some(f) = fields.next() {
        if f.len() < 4 {
            continue;
        }
        let (x, y) = (f[0], f[1]);
        if matches!(x, b'R' | b'C') || matches!(y, b'R' | b'C') {
            fields.next();
        }
        entries.push((x, y, f[3..].to_vec()));
    }
    Ok(entries)
}
