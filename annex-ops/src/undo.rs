//! `undo`: the last committed change to a file or directory taken back in
//! the index and the work tree (not committed), as git-annex's deprecated
//! `undo` does: the files' entries set back to what they were before the
//! last commit that touched them (`git log -n1 --raw -R`), files that did
//! not exist then removed, the others checked out. Staged changes are
//! committed first (`commit before undo`), so that an undo can itself be
//! undone. Files git does not track are refused before anything changes.
//!
//! ```no_run
//! let cwd = std::env::current_dir()?;
//! let untracked = annex_ops::undo::untracked(&cwd, &["notes.txt".into()])?;
//! assert!(untracked.is_empty());
//! annex_ops::undo::commit_staged(&cwd);
//! annex_ops::undo::undo(&cwd, "notes.txt".as_ref())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why an undo failed.
#[derive(Debug, thiserror::Error)]
pub enum UndoError {
    /// A git command failed.
    #[error("git {command} failed: {message}")]
    Git {
        /// The git command.
        command: &'static str,
        /// What git said.
        message: String,
    },
    /// A file could not be removed.
    #[error("cannot remove {path}: {source}")]
    Remove {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

fn git(dir: &Path, command: &'static str, args: &[&OsStr]) -> Result<Vec<u8>, UndoError> {
    let out = Command::new("git")
        .current_dir(dir)
        .arg(command)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| UndoError::Git {
            command,
            message: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(UndoError::Git {
            command,
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    Ok(out.stdout)
}

/// The files among `paths` (from `cwd`) that git does not track, as git
/// names them (`git ls-files --others --exclude-standard`).
pub fn untracked(cwd: &Path, paths: &[OsString]) -> Result<Vec<Vec<u8>>, UndoError> {
    let mut args: Vec<&OsStr> = ["-z", "--others", "--exclude-standard", "--"]
        .iter()
        .map(OsStr::new)
        .collect();
    args.extend(paths.iter().map(OsString::as_os_str));
    let out = git(cwd, "ls-files", &args)?;
    Ok(out
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

/// Commits what is staged (`commit before undo`), quietly; nothing staged
/// is no error.
pub fn commit_staged(cwd: &Path) {
    let _ = Command::new("git")
        .current_dir(cwd)
        .args(["commit", "--quiet", "-m", "commit before undo"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// One entry of the reversed diff: the mode and blob to put back (all
/// zeros: none) and the path from the top.
struct Entry {
    mode: Vec<u8>,
    sha: Vec<u8>,
    path: Vec<u8>,
}

/// Undoes the last change to `path` (from `cwd`).
pub fn undo(cwd: &Path, path: &Path) -> Result<(), UndoError> {
    let top = git(cwd, "rev-parse", &[OsStr::new("--show-toplevel")])?;
    let top = PathBuf::from(OsStr::from_bytes(top.trim_ascii_end()));
    let log = git(
        cwd,
        "log",
        &[
            "-n1",
            "--abbrev=40",
            "--pretty=format:",
            "--no-renames",
            "--raw",
            "-z",
            "-R",
            "--",
        ]
        .map(OsStr::new)
        .into_iter()
        .chain([path.as_os_str()])
        .collect::<Vec<_>>(),
    )?;
    // `:SRCMODE DSTMODE SRCSHA DSTSHA STATUS\0PATH\0` records.
    let mut entries = Vec::new();
    let mut fields = log.split(|&b| b == 0);
    while let Some(head) = fields.next() {
        let head = head.trim_ascii_start();
        let Some(head) = head.strip_prefix(b":") else {
            continue;
        };
        let Some(p) = fields.next() else { break };
        let parts: Vec<&[u8]> = head.split(|&b| b == b' ').collect();
        if parts.len() < 4 {
            continue;
        }
        entries.push(Entry {
            mode: parts[1].to_vec(),
            sha: parts[3].to_vec(),
            path: p.to_vec(),
        });
    }
    if entries.is_empty() {
        return Ok(());
    }
    let mut info = Vec::new();
    for e in &entries {
        info.extend_from_slice(&e.mode);
        info.push(b' ');
        info.extend_from_slice(&e.sha);
        info.push(b'\t');
        info.extend_from_slice(&e.path);
        info.push(0);
    }
    let mut child = Command::new("git")
        .current_dir(&top)
        .args(["update-index", "-z", "--index-info"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| UndoError::Git {
            command: "update-index",
            message: e.to_string(),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&info);
    }
    let out = child.wait_with_output().map_err(|e| UndoError::Git {
        command: "update-index",
        message: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(UndoError::Git {
            command: "update-index",
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    // Removals first, then the files put back (a directory may become a
    // file).
    let removed = |e: &&Entry| e.sha.iter().all(|&b| b == b'0');
    for e in entries.iter().filter(removed) {
        let f = top.join(OsStr::from_bytes(&e.path));
        match std::fs::remove_file(&f) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(UndoError::Remove { path: f, source }),
        }
    }
    for e in entries.iter().filter(|e| !removed(e)) {
        git(
            &top,
            "checkout",
            &[OsStr::new("--"), OsStr::from_bytes(&e.path)],
        )?;
    }
    Ok(())
}
