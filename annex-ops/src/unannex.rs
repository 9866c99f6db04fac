//! Taking files out of the annex: `unannex` (a file's content put back in
//! place of its symlink, the file removed from git's index, the content
//! left in the object store) and `uninit` (every file unannexed, then the
//! objects that are now hard links of work-tree files removed, and, only
//! when no other object is left, git-annex's hooks, filters, settings,
//! `.git/annex` and its branch removed).
//!
//! Content is never lost: a file's content is copied (or, with `fast`,
//! hard linked) into a temporary file and renamed over the symlink, and
//! `uninit` removes an object only when another hard link to it exists;
//! any other object makes it stop with everything else in place.
//!
//! ```no_run
//! use annex_ops::session::{OpenOptions, Session};
//! let (session, _) = Session::open(&OpenOptions::new(".".as_ref()))?;
//! let wt = session.worktree()?;
//! let (key, locked) = wt.lookup_key(b"big.iso")?.ok_or("not annexed")?;
//! let file = annex_core::worktree::AnnexedFile { path: b"big.iso".to_vec(), key, locked };
//! annex_ops::unannex::unannex(&session, &file, false)?;
//! annex_ops::unannex::remove_from_index(&session, &[file.path])?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use annex_core::key::Key;
use annex_core::worktree::AnnexedFile;

use crate::session::Session;

/// What can go wrong taking files out of the annex.
#[derive(Debug, thiserror::Error)]
pub enum UnannexError {
    /// A file system operation failed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// The work-tree path cannot be written safely.
    #[error(transparent)]
    WtPath(#[from] annex_core::wtpath::WtPathError),
    /// The repository has no work tree.
    #[error(transparent)]
    Session(#[from] crate::session::SessionError),
    /// An object could not be removed.
    #[error(transparent)]
    Objects(#[from] annex_core::objects::ObjectsError),
    /// A `git` command failed.
    #[error("{0}")]
    Git(String),
    /// `uninit` was run with the `git-annex` branch checked out.
    #[error("cannot uninit when the git-annex branch is checked out")]
    OnAnnexBranch,
    /// `uninit` was run below the top of the work tree.
    #[error("can only run uninit from the top of the git repository")]
    NotAtTop,
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> UnannexError + 'a {
    move |source| UnannexError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Whether `unannex` acts on the file: its content is here (an unlocked
/// file without content is left alone, as git-annex does).
pub fn has_content(session: &Session, file: &AnnexedFile) -> bool {
    session.store.has(&file.key)
}

/// Puts a locked file's content in place of its symlink (the key read
/// from the symlink itself); an unlocked file is left as it is. The
/// content is copied, or with `fast` hard linked when the object has no
/// other link; either way it stays in the object store. The file is not
/// removed from the index: see [`remove_from_index`].
pub fn unannex(session: &Session, file: &AnnexedFile, fast: bool) -> Result<(), UnannexError> {
    let wt = session.worktree()?;
    let top = wt.top();
    let full = annex_core::wtpath::check(top, &file.path)?;
    let meta = fs::symlink_metadata(&full).map_err(io_err("read", &full))?;
    if !meta.file_type().is_symlink() {
        return Ok(());
    }
    let target = fs::read_link(&full).map_err(io_err("read", &full))?;
    use std::os::unix::ffi::OsStrExt;
    let key = annex_core::pointer::parse_link_target(target.as_os_str().as_bytes())
        .unwrap_or_else(|| file.key.clone());
    let Some(src) = session.store.find(&key) else {
        return Ok(());
    };
    let tmp_dir = session.store.other_tmp_dir();
    fs::create_dir_all(&tmp_dir).map_err(io_err("create", &tmp_dir))?;
    let tmp = tmp_dir.join(format!("unannex.{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let linked = fast
        && fs::metadata(&src).is_ok_and(|m| m.nlink() <= 1)
        && fs::hard_link(&src, &tmp).is_ok();
    if !linked {
        fs::copy(&src, &tmp).map_err(io_err("copy", &src))?;
        // The copy is the user's file now: writable, as git-annex thaws it.
        let meta = fs::metadata(&tmp).map_err(io_err("read", &tmp))?;
        let mut perm = meta.permissions();
        perm.set_mode(perm.mode() | 0o200);
        fs::set_permissions(&tmp, perm).map_err(io_err("chmod", &tmp))?;
        if let Ok(m) = fs::metadata(&src)
            && let Ok(t) = m.modified()
            && let Ok(f) = fs::File::options().write(true).open(&tmp)
        {
            let _ = f.set_modified(t);
        }
    }
    let res = annex_core::wtpath::rename_into(top, &tmp, &file.path);
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    Ok(res?)
}

/// Removes files from git's index (`git rm --cached`), leaving them in the
/// work tree.
pub fn remove_from_index(session: &Session, paths: &[Vec<u8>]) -> Result<(), UnannexError> {
    let wt = session.worktree()?;
    for chunk in paths.chunks(500) {
        crate::git::rm_cached(wt.top(), chunk).map_err(UnannexError::Git)?;
    }
    Ok(())
}

/// `uninit`'s first check: not on the `git-annex` branch, and run from
/// the top of the work tree (`cwd`).
pub fn uninit_check(session: &Session, cwd: &Path) -> Result<(), UnannexError> {
    let wt = session.worktree()?;
    if let Ok(Some(head)) = wt.repo().head_name()
        && head.as_bstr() == "refs/heads/git-annex"
    {
        return Err(UnannexError::OnAnnexBranch);
    }
    let top = wt
        .top()
        .canonicalize()
        .unwrap_or_else(|_| wt.top().to_path_buf());
    let cwd = cwd.canonicalize().unwrap_or_else(|_| cwd.to_path_buf());
    if top != cwd {
        return Err(UnannexError::NotAtTop);
    }
    Ok(())
}

/// Removes every object that has another hard link (a work-tree file
/// holds its content) and returns the keys of those that cannot be
/// removed (their only copy is in the object store).
pub fn remove_unannexed_objects(session: &Session) -> Result<Vec<Key>, UnannexError> {
    let mut left = Vec::new();
    for key in annex_core::unused::present_keys(&session.store) {
        let linked = session
            .store
            .find(&key)
            .and_then(|p| fs::metadata(p).ok())
            .is_some_and(|m| m.nlink() > 1);
        if linked {
            session.store.remove(&key)?;
        } else {
            left.push(key);
        }
    }
    Ok(left)
}

/// The hooks git-annex writes.
const HOOKS: [&str; 5] = [
    "pre-commit",
    "post-receive",
    "post-checkout",
    "post-merge",
    "pre-push",
];

/// The marker that starts a hook git-annex wrote.
const HOOK_MARKER: &[u8] = b"#!/bin/sh\n# automatically configured by git-annex\n";

/// Whether a hook is one git-annex wrote as it is: the marker and one
/// command.
fn is_our_hook(content: &[u8]) -> bool {
    content.starts_with(HOOK_MARKER)
        && content[HOOK_MARKER.len()..]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            <= 1
}

/// The last step of `uninit`: git-annex's hooks removed (a hook that was
/// changed is kept, with a warning returned), its filter and settings
/// removed from the git config (`annex.uuid` left empty, as git-annex
/// leaves it), `* filter=annex` removed from `.git/info/attributes`,
/// `.git/annex` removed and the `git-annex` branch deleted.
pub fn uninit_finish(session: &Session) -> Result<Vec<String>, UnannexError> {
    let git_dir = session.repo.git_dir();
    let mut warnings = Vec::new();
    for hook in HOOKS {
        let path = git_dir.join("hooks").join(hook);
        let Ok(content) = fs::read(&path) else {
            continue;
        };
        if is_our_hook(&content) {
            fs::remove_file(&path).map_err(io_err("remove", &path))?;
        } else {
            warnings.push(format!(
                "{hook} hook ({}) contents modified; not deleting. Edit it to remove call to git annex.",
                Path::new(".git").join("hooks").join(hook).display()
            ));
        }
    }
    let attrs = git_dir.join("info").join("attributes");
    if let Ok(content) = fs::read(&attrs) {
        let kept: Vec<&[u8]> = content
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty() && *l != b"* filter=annex" && *l != b".* !filter")
            .collect();
        let mut out = kept.join(&b'\n');
        if !out.is_empty() {
            out.push(b'\n');
        }
        let tmp = attrs.with_extension("tmp");
        fs::write(&tmp, &out).map_err(io_err("write", &tmp))?;
        fs::rename(&tmp, &attrs).map_err(io_err("replace", &attrs))?;
    }
    for name in ["filter.annex.smudge", "filter.annex.clean", "annex.version"] {
        // Not set is as good as unset.
        let _ = crate::git::unset_config(git_dir, name);
    }
    if !crate::git::set_config(git_dir, "annex.uuid", "") {
        return Err(UnannexError::Git(format!(
            "cannot change annex.uuid in {}",
            git_dir.join("config").display()
        )));
    }
    let annex_dir = session.repo.annex_dir();
    make_writable(&annex_dir);
    match fs::remove_dir_all(&annex_dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("remove", &annex_dir)(e)),
    }
    crate::git::delete_branch(git_dir, "git-annex").map_err(UnannexError::Git)?;
    Ok(warnings)
}

/// Adds the owner's write bit to every directory under `dir` (objects are
/// kept in read-only directories), so that it can be removed.
fn make_writable(dir: &Path) {
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let mut perm = meta.permissions();
    perm.set_mode(perm.mode() | 0o700);
    let _ = fs::set_permissions(dir, perm);
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            make_writable(&e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_hooks_are_told_from_changed_ones() {
        assert!(is_our_hook(
            b"#!/bin/sh\n# automatically configured by git-annex\ngit annex pre-commit .\n"
        ));
        assert!(!is_our_hook(b"#!/bin/sh\n"));
        assert!(!is_our_hook(
            b"#!/bin/sh\n# automatically configured by git-annex\ngit annex pre-commit .\nmake\n"
        ));
    }
}
