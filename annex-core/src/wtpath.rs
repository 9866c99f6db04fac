//! Work-tree paths that are safe to write: the one check every command
//! that writes a file of the work tree makes first.
//!
//! A path from the top of the work tree (bytes, `/`-separated, as git
//! stores it) leads where it says only when every directory on the way,
//! inside the repository, is a real directory. When one of them is a
//! symbolic link (`d` replaced by a link to `/elsewhere`), `d/h.txt` is
//! `/elsewhere/h.txt`: writing it would write outside the repository (or
//! somewhere else inside it), and reading its key would trust a file the
//! repository does not hold. git refuses such a path ("beyond a symbolic
//! link") and sees the file as deleted; so do we, in every writer: `add`,
//! `unlock`, `lock`, `fromkey`, `drop` (which puts an unlocked file's
//! pointer back), `get` (which fills an unlocked file), `fsck` (which fixes
//! one) and the merge resolution of `sync`. A path that is not a plain
//! relative path (empty, absolute, a `.` or `..` component) or that goes
//! into the `.git` directory is refused too, as git refuses to stage it.
//!
//! [`check`] looks at each directory on the way (`openat` with
//! `O_NOFOLLOW`, one component at a time from the top, so a link is never
//! followed while looking). Every writer calls it before it touches the
//! file. [`rename_into`] does the final step of a write (a file made
//! elsewhere renamed into place) relative to the directory it opened that
//! way, so a symbolic link put in place of a directory after the check
//! cannot redirect the rename; `sync`'s merge resolution moves content
//! with it.
//!
//! The window that remains: between [`check`] and a writer's steps by path
//! (its final rename, and, for `add`, the permission change and the hard
//! link of the file being added), a directory of the path replaced by a
//! symbolic link at that moment by another process could redirect those
//! steps. Only a process that can already write the work tree can do
//! that, and only during the write. Making the final rename of every
//! writer a [`rename_into`] closes it for the rename.
//!
//! ```no_run
//! # fn main() -> Result<(), annex_core::wtpath::WtPathError> {
//! use std::path::Path;
//! let top = Path::new("/repo");
//! // `/repo/d/h.txt`, when `d` is a real directory of the work tree.
//! let full = annex_core::wtpath::check(top, b"d/h.txt")?;
//! # let _ = full; Ok(()) }
//! ```

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fd::OwnedFd;
use rustix::fs::{CWD, Mode, OFlags};
use rustix::io::Errno;

/// A work-tree path that must not be written.
#[derive(Debug, thiserror::Error)]
pub enum WtPathError {
    /// A directory on the way to the path is a symbolic link.
    #[error("{} is beyond a symbolic link", .path.display())]
    BeyondSymlink {
        /// The path, from the top of the work tree.
        path: PathBuf,
        /// The symbolic link on the way, from the top of the work tree.
        link: PathBuf,
    },
    /// Not a plain relative path inside the work tree.
    #[error("{} is not a path in the work tree ({reason})", .path.display())]
    Invalid {
        /// The path as given.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A directory on the way could not be looked at, or the final rename
    /// failed.
    #[error("cannot {op} {}: {source}", .path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path (in full).
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

impl WtPathError {
    /// Whether this is [`WtPathError::BeyondSymlink`] (git-annex's
    /// `FileBeyondSymbolicLink`).
    pub fn is_beyond_symlink(&self) -> bool {
        matches!(self, WtPathError::BeyondSymlink { .. })
    }
}

fn os(b: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(b))
}

/// The components of `rel`, refused unless it is a plain relative path
/// outside `.git`.
fn components(rel: &[u8]) -> Result<Vec<&[u8]>, WtPathError> {
    let invalid = |reason| WtPathError::Invalid {
        path: os(rel).to_path_buf(),
        reason,
    };
    if rel.is_empty() {
        return Err(invalid("empty"));
    }
    if rel.contains(&0) {
        return Err(invalid("a NUL byte"));
    }
    if rel[0] == b'/' {
        return Err(invalid("absolute"));
    }
    let parts: Vec<&[u8]> = rel.split(|&b| b == b'/').collect();
    for p in &parts {
        match *p {
            b"" => return Err(invalid("an empty component")),
            b"." | b".." => return Err(invalid("a . or .. component")),
            _ if p.eq_ignore_ascii_case(b".git") => {
                return Err(invalid("inside the .git directory"));
            }
            _ => {}
        }
    }
    Ok(parts)
}

/// How far the walk from the top got.
enum Walk {
    /// Every directory on the way exists and is a real directory: the
    /// last one, opened (`O_PATH`).
    Parent(OwnedFd),
    /// A directory on the way does not exist (or is not a directory):
    /// nothing can be beyond a link there yet.
    Missing,
}

/// Walks from `top` to the directory holding `rel`, one component at a
/// time with `O_NOFOLLOW`.
fn walk(top: &Path, rel: &[u8]) -> Result<Walk, WtPathError> {
    let parts = components(rel)?;
    let dir_flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut fd = rustix::fs::open(top, dir_flags, Mode::empty()).map_err(|e| WtPathError::Io {
        op: "open",
        path: top.to_path_buf(),
        source: e.into(),
    })?;
    let dirs = &parts[..parts.len() - 1];
    // `rel` up to and including its `i`th component.
    let prefix = |i: usize| &rel[..dirs[..=i].iter().map(|d| d.len()).sum::<usize>() + i];
    for (i, name) in dirs.iter().enumerate() {
        match rustix::fs::openat(&fd, os(name), dir_flags | OFlags::NOFOLLOW, Mode::empty()) {
            Ok(next) => fd = next,
            Err(Errno::NOENT) => return Ok(Walk::Missing),
            // A symlink (ELOOP with O_NOFOLLOW; with O_PATH, ENOTDIR from
            // O_DIRECTORY), or not a directory at all.
            Err(e @ (Errno::LOOP | Errno::NOTDIR)) => {
                let stat = rustix::fs::statat(&fd, os(name), rustix::fs::AtFlags::SYMLINK_NOFOLLOW);
                match stat {
                    Ok(st)
                        if rustix::fs::FileType::from_raw_mode(st.st_mode)
                            == rustix::fs::FileType::Symlink =>
                    {
                        return Err(WtPathError::BeyondSymlink {
                            path: os(rel).to_path_buf(),
                            link: os(prefix(i)).to_path_buf(),
                        });
                    }
                    Ok(_) | Err(Errno::NOENT) => return Ok(Walk::Missing),
                    Err(_) => {
                        return Err(WtPathError::Io {
                            op: "open",
                            path: top.join(os(prefix(i))),
                            source: e.into(),
                        });
                    }
                }
            }
            Err(e) => {
                return Err(WtPathError::Io {
                    op: "open",
                    path: top.join(os(prefix(i))),
                    source: e.into(),
                });
            }
        }
    }
    Ok(Walk::Parent(fd))
}

/// Checks that `rel` (from the top of the work tree at `top`) can be
/// written: a plain relative path, outside `.git`, with no symbolic link
/// among the directories on the way to it. Returns the full path. The
/// file itself may be anything (a symlink there is replaced, not
/// followed, by the writers), and directories on the way may be missing
/// (a writer that makes them, as `fromkey` does, makes real ones).
pub fn check(top: &Path, rel: &[u8]) -> Result<PathBuf, WtPathError> {
    walk(top, rel)?;
    Ok(top.join(os(rel)))
}

/// [`check`] for a full path under `top` (as callers holding full paths
/// have them). A path not under `top` is refused.
pub fn check_full(top: &Path, full: &Path) -> Result<(), WtPathError> {
    let rel = full.strip_prefix(top).map_err(|_| WtPathError::Invalid {
        path: full.to_path_buf(),
        reason: "outside the work tree",
    })?;
    walk(top, rel.as_os_str().as_bytes()).map(drop)
}

/// Renames `from` (any path, on the same file system) to `rel` in the work
/// tree at `top`, replacing what is there, after [`check`]ing `rel`: the
/// rename is made in the directory the check opened, so a symbolic link
/// swapped in for a directory of the path meanwhile cannot redirect it.
/// The directory must exist.
pub fn rename_into(top: &Path, from: &Path, rel: &[u8]) -> Result<(), WtPathError> {
    let full = || top.join(os(rel));
    let parent = match walk(top, rel)? {
        Walk::Parent(fd) => fd,
        Walk::Missing => {
            return Err(WtPathError::Io {
                op: "replace",
                path: full(),
                source: io::Error::from(io::ErrorKind::NotFound),
            });
        }
    };
    let name = match rel.iter().rposition(|&b| b == b'/') {
        Some(i) => &rel[i + 1..],
        None => rel,
    };
    rustix::fs::renameat(CWD, from, &parent, os(name)).map_err(|e| WtPathError::Io {
        op: "replace",
        path: full(),
        source: e.into(),
    })
}

/// [`rename_into`] for a full destination path under `top`.
pub fn rename_into_full(top: &Path, from: &Path, full: &Path) -> Result<(), WtPathError> {
    let rel = full.strip_prefix(top).map_err(|_| WtPathError::Invalid {
        path: full.to_path_buf(),
        reason: "outside the work tree",
    })?;
    rename_into(top, from, rel.as_os_str().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().expect("temp dir");
        let top = t.path().join("r");
        fs::create_dir_all(top.join("d/e")).expect("mkdir");
        fs::create_dir_all(t.path().join("out")).expect("mkdir");
        std::os::unix::fs::symlink("../out", top.join("link")).expect("symlink");
        std::os::unix::fs::symlink("d", top.join("inner")).expect("symlink");
        fs::write(top.join("file"), "x").expect("write");
        t
    }

    #[test]
    fn real_directories_pass() {
        let t = tree();
        let top = t.path().join("r");
        assert_eq!(check(&top, b"a").expect("ok"), top.join("a"));
        assert_eq!(check(&top, b"d/e/f").expect("ok"), top.join("d/e/f"));
        // The file itself may be a link: it is replaced, not followed.
        check(&top, b"link").expect("the link itself");
        // Missing directories: nothing beyond a link.
        check(&top, b"new/dir/f").expect("missing dirs");
        // Below a regular file: the write fails by itself.
        check(&top, b"file/x").expect("below a file");
    }

    #[test]
    fn a_path_beyond_a_symlink_is_refused_naming_it() {
        let t = tree();
        let top = t.path().join("r");
        for (p, link) in [
            (&b"link/h.txt"[..], "link"),
            (b"link/sub/h.txt", "link"),
            (b"inner/f", "inner"),
        ] {
            match check(&top, p) {
                Err(WtPathError::BeyondSymlink { path, link: l }) => {
                    assert_eq!(path, os(p));
                    assert_eq!(l, Path::new(link));
                }
                other => panic!("{p:?}: {other:?}"),
            }
        }
        let e = check(&top, b"link/h.txt").expect_err("refused");
        assert_eq!(e.to_string(), "link/h.txt is beyond a symbolic link");
        assert!(e.is_beyond_symlink());
        // Deeper: a link below a real directory.
        std::os::unix::fs::symlink("/", top.join("d/e/root")).expect("symlink");
        assert!(check(&top, b"d/e/root/etc/passwd").is_err_and(|e| e.is_beyond_symlink()));
    }

    #[test]
    fn paths_that_are_not_plain_are_refused() {
        let t = tree();
        let top = t.path().join("r");
        for p in [
            &b""[..],
            b"/etc/passwd",
            b"../out/x",
            b"d/../../out/x",
            b"./a",
            b"d//a",
            b".git/hooks/pre-commit",
            b"d/.GIT/config",
            b"a\0b",
        ] {
            assert!(
                matches!(check(&top, p), Err(WtPathError::Invalid { .. })),
                "{p:?}"
            );
        }
        assert!(check_full(&top, Path::new("/etc/passwd")).is_err());
        check_full(&top, &top.join("d/x")).expect("inside");
    }

    #[test]
    fn rename_into_refuses_a_directory_swapped_for_a_link() {
        let t = tree();
        let top = t.path().join("r");
        let src = t.path().join("src");
        fs::write(&src, "content").expect("write");
        rename_into(&top, &src, b"d/e/new").expect("rename");
        assert_eq!(fs::read(top.join("d/e/new")).expect("read"), b"content");
        // `d` becomes a link to the outside directory.
        fs::write(&src, "content").expect("write");
        fs::rename(top.join("d"), t.path().join("moved")).expect("move");
        std::os::unix::fs::symlink("../out", top.join("d")).expect("symlink");
        let e = rename_into(&top, &src, b"d/new").expect_err("refused");
        assert!(e.is_beyond_symlink(), "{e}");
        assert!(!t.path().join("out/new").exists());
        assert!(src.exists());
    }
}
