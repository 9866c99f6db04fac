//! Paths as git-annex computes them: lexical simplification and the
//! relative path from one directory to a file.
//!
//! git-annex never resolves symlinks here: it makes both paths absolute
//! (joining relative ones to the current directory), simplifies them
//! lexically (`.` dropped, `dir/..` folded, repeated and trailing `/`
//! dropped) and then walks from one to the other with `..`. A `..` that
//! cannot be folded (at the start of a relative path, or right after the
//! root of an absolute one) is kept, as git-annex keeps it.
//!
//! ```
//! use annex_core::backend::path::top_file_path_from;
//! use std::path::Path;
//! // `git annex calckey ../d/./a` run in /r/d, in a work tree whose top is /r:
//! let name = top_file_path_from(Path::new("/r/d"), Path::new("/r"), Path::new("../d/./a"));
//! assert_eq!(name, Path::new("d/a"));
//! // A file outside the work tree.
//! let name = top_file_path_from(Path::new("/r"), Path::new("/r"), Path::new("/elsewhere/x"));
//! assert_eq!(name, Path::new("../elsewhere/x"));
//! ```

use std::ffi::OsStr;
use std::io;
use std::path::{Component, Path, PathBuf};

/// The components of `p` after lexical simplification (git-annex's
/// `simplifyPath`), without the root: `.` dropped, `dir/..` folded, a `..`
/// that cannot be folded kept.
pub(crate) fn simplify(p: &Path) -> Vec<&OsStr> {
    let mut out: Vec<&OsStr> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::ParentDir => match out.last() {
                Some(l) if *l != OsStr::new("..") => {
                    out.pop();
                }
                _ => out.push(OsStr::new("..")),
            },
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// `path` made absolute against `base` (used only when `path` is
/// relative) and simplified, as git-annex's `absPathFrom`; the result is
/// the list of components below the root. `base` is assumed absolute; a
/// relative `base` is treated as if it were below the root.
pub(crate) fn abs_components<'a>(base: &'a Path, path: &'a Path) -> Vec<&'a OsStr> {
    if path.is_absolute() {
        simplify(path)
    } else {
        // Simplify the joined path, so `..` in `path` folds into `base`.
        let mut out = simplify(base);
        for c in simplify(path) {
            if c == OsStr::new("..") && out.last().is_some_and(|l| *l != OsStr::new("..")) {
                out.pop();
            } else {
                out.push(c);
            }
        }
        out
    }
}

/// git-annex's `relPathDirToFileAbs` on component lists of two absolute,
/// simplified paths: `..` for every component of `from` not shared with
/// `to`, then the rest of `to`.
pub(crate) fn rel_path_dir_to_file(from: &[&OsStr], to: &[&OsStr]) -> PathBuf {
    let common = from.iter().zip(to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to[common..] {
        out.push(c);
    }
    out
}

/// The path of `file` relative to the top of the work tree `top`, as
/// git-annex's `toTopFilePath` computes it (what WORM keys are named
/// after): both are made absolute against `cwd` when relative, simplified
/// lexically, and `file` is expressed relative to `top` (with leading `..`
/// when it is outside). Pure: `cwd` should be the absolute current
/// directory as `getcwd` gives it. An empty path means `file` is `top`.
pub fn top_file_path_from(cwd: &Path, top: &Path, file: &Path) -> PathBuf {
    let top = abs_components(cwd, top);
    let file = abs_components(cwd, file);
    rel_path_dir_to_file(&top, &file)
}

/// [`top_file_path_from`] with the process's current directory. Fails only
/// when the current directory cannot be found.
pub fn top_file_path(top: &Path, file: &Path) -> io::Result<PathBuf> {
    if top.is_absolute() && file.is_absolute() {
        return Ok(top_file_path_from(Path::new("/"), top, file));
    }
    let cwd = std::env::current_dir()?;
    Ok(top_file_path_from(&cwd, top, file))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> &Path {
        Path::new(s)
    }

    #[test]
    fn simplification() {
        for (input, want) in [
            ("./d/a", "d/a"),
            ("d/../d/a", "d/a"),
            ("d//a/", "d/a"),
            ("../x", "../x"),
            ("a/../../x", "../x"),
            ("/../x", "../x"),
            ("", ""),
        ] {
            let got: PathBuf = simplify(p(input)).iter().collect();
            assert_eq!(got, p(want), "{input}");
        }
    }

    #[test]
    fn relative_to_top() {
        let cwd = p("/t/r/d");
        for (file, want) in [
            ("a", "d/a"),
            ("./a", "d/a"),
            ("../d/a", "d/a"),
            ("../top", "top"),
            ("e/../a", "d/a"),
            ("../../r/top", "top"),
            ("../../out", "../out"),
            ("/t/out", "../out"),
            ("/t/r/./d/a", "d/a"),
            ("..", ""),
        ] {
            assert_eq!(
                top_file_path_from(cwd, p("/t/r"), p(file)),
                p(want),
                "{file}"
            );
        }
        // A relative top is taken from the current directory too.
        assert_eq!(top_file_path_from(cwd, p(".."), p("a")), p("d/a"));
    }
}
