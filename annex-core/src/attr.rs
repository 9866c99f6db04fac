//! `.gitattributes` lookups: one long-running `git` process (`git
//! check-attr --stdin -z ...`, or `git check-ignore --stdin -z ...`)
//! answering many paths, so that a command asks git once per run rather
//! than once per file.
//!
//! git-annex reads `annex.largefiles`, `annex.backend`, `annex.numcopies`
//! and `annex.mincopies` from `.gitattributes` this way. A [`Coprocess`]
//! is started with the git arguments and asked with
//! [`Coprocess::query_all`]; [`attr_value`] turns git's answer into a
//! value (`unspecified`, `unset` and `set` carry none).
//!
//! `git check-attr` reads the whole index when it starts (it looks there
//! for `.gitattributes` files missing from the work tree): 217 MB of
//! memory for an index of 10^6 files. So it is given, through
//! `GIT_INDEX_FILE`, a temporary index holding only the `.gitattributes`
//! entries of the real one ([`attributes_index`], made in one streaming
//! pass), which answers every attribute the same.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use annex_core::attr::{Coprocess, attr_value};
//! let mut git = Coprocess::spawn(
//!     std::path::Path::new("."),
//!     &["check-attr", "-z", "--stdin", "annex.largefiles"],
//! )?;
//! // Per path: the path, the attribute and its value.
//! let answer = git.query_all(&[b"big.iso"], 3)?;
//! let largefiles = attr_value(answer[0][2].clone());
//! # Ok(()) }
//! ```

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// An error talking to the `git` coprocess.
#[derive(Debug, thiserror::Error)]
pub enum AttrError {
    /// `git` could not be started.
    #[error("cannot run git {args}: {source}")]
    Spawn {
        /// The git arguments.
        args: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `git` was started without a pipe to read from.
    #[error("git has no stdout")]
    NoStdout,
    /// Reading git's answer failed.
    #[error("cannot read from git: {source}")]
    Read {
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// git's output ended before the answer did.
    #[error("git ended early")]
    EndedEarly,
    /// An earlier query could not give git's stdin back.
    #[error("git's stdin is closed")]
    StdinClosed,
}

/// A `git` process answering queries one NUL-terminated path at a time
/// (`check-attr --stdin -z`, `check-ignore --stdin -z`), kept for the run.
/// It is ended (its stdin closed and the process waited for) when dropped.
#[derive(Debug)]
pub struct Coprocess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// The index given to `git check-attr`, kept while it runs.
    _index: Option<tempfile::NamedTempFile>,
}

/// An index holding only the `.gitattributes` entries (every stage) of
/// the index of the work tree at `top`, in a temporary file: what `git
/// check-attr` reads of an index, without the rest. `None` (give git the
/// real index) when `GIT_INDEX_FILE`, `GIT_DIR`, `GIT_WORK_TREE` or
/// `GIT_COMMON_DIR` is set, for a bare repository, when
/// there is no index, or when it cannot be streamed (a split or sparse
/// index) or the copy cannot be written.
pub fn attributes_index(top: &Path) -> Option<tempfile::NamedTempFile> {
    use crate::branch::index::{Reader, Writer};
    // Where git might find another repository or index than the one
    // found from `top`, it reads its own.
    if [
        "GIT_INDEX_FILE",
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_COMMON_DIR",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some())
    {
        return None;
    }
    let repo = gix::discover(top).ok()?;
    repo.workdir()?;
    let kind = repo.object_hash();
    let mut reader = Reader::open(&repo.index_path(), kind).ok()??;
    let mut writer = Writer::new(&std::env::temp_dir().join("index"), kind, None).ok()?;
    while let Some(e) = reader.next_entry().ok()? {
        let name = e.path.rsplit(|&b| b == b'/').next().unwrap_or(&e.path);
        if name == b".gitattributes" {
            writer.push(&e.path, &e.id, e.mode, e.stage).ok()?;
        }
    }
    writer.finish_temp().ok()
}

impl Coprocess {
    /// Starts `git -C top ARGS`, its stdin and stdout piped to us; `git
    /// check-attr` with an index of the `.gitattributes` files only
    /// ([`attributes_index`]).
    pub fn spawn(top: &Path, args: &[&str]) -> Result<Coprocess, AttrError> {
        let index = match args.first() {
            Some(&"check-attr") => attributes_index(top),
            _ => None,
        };
        let mut command = Command::new("git");
        if let Some(index) = &index {
            command.env("GIT_INDEX_FILE", index.path());
        }
        let mut child = command
            .arg("-C")
            .arg(top)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|source| AttrError::Spawn {
                args: args.join(" "),
                source,
            })?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .map(BufReader::new)
            .ok_or(AttrError::NoStdout)?;
        Ok(Coprocess {
            child,
            stdin,
            stdout,
            _index: index,
        })
    }

    fn field(&mut self) -> Result<Vec<u8>, AttrError> {
        let mut v = Vec::new();
        self.stdout
            .read_until(0, &mut v)
            .map_err(|source| AttrError::Read { source })?;
        if v.pop() != Some(0) {
            return Err(AttrError::EndedEarly);
        }
        Ok(v)
    }

    /// Sends each path and reads `fields` NUL-terminated fields per path.
    /// The paths are written by another thread so that neither side waits.
    pub fn query_all(
        &mut self,
        paths: &[&[u8]],
        fields: usize,
    ) -> Result<Vec<Vec<Vec<u8>>>, AttrError> {
        let Some(mut stdin) = self.stdin.take() else {
            return Err(AttrError::StdinClosed);
        };
        let mut out = Vec::with_capacity(paths.len());
        std::thread::scope(|s| {
            let writer = s.spawn(move || {
                let mut w = std::io::BufWriter::new(&mut stdin);
                for p in paths {
                    if w.write_all(p).and_then(|()| w.write_all(b"\0")).is_err() {
                        break;
                    }
                }
                let _ = w.flush();
                drop(w);
                stdin
            });
            for _ in paths {
                let mut one = Vec::with_capacity(fields);
                for _ in 0..fields {
                    one.push(self.field()?);
                }
                out.push(one);
            }
            if let Ok(stdin) = writer.join() {
                self.stdin = Some(stdin);
            }
            Ok::<(), AttrError>(())
        })?;
        Ok(out)
    }
}

impl Drop for Coprocess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// The value of an attribute as `git check-attr` gives it, or `None` when
/// it carries none (`unspecified`, `unset`, `set`).
pub fn attr_value(v: Vec<u8>) -> Option<Vec<u8>> {
    (v != b"unspecified" && v != b"unset" && v != b"set").then_some(v)
}

/// A file's `annex.numcopies` and `annex.mincopies` attributes, answered
/// by one `git check-attr` process started on first use.
#[derive(Debug)]
pub struct CopiesAttributes {
    top: std::path::PathBuf,
    process: std::sync::Mutex<Option<Coprocess>>,
}

impl CopiesAttributes {
    /// Lookups for the work tree at `top`.
    pub fn new(top: &Path) -> CopiesAttributes {
        CopiesAttributes {
            top: top.to_path_buf(),
            process: std::sync::Mutex::new(None),
        }
    }

    /// The file's (path from the top) `annex.numcopies` and
    /// `annex.mincopies`; `None` for each when unset or git cannot tell.
    pub fn get(&self, path: &[u8]) -> (Option<i64>, Option<i64>) {
        let mut guard = self.process.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = Coprocess::spawn(
                &self.top,
                &[
                    "check-attr",
                    "-z",
                    "--stdin",
                    "annex.numcopies",
                    "annex.mincopies",
                ],
            )
            .ok();
        }
        let Some(proc) = guard.as_mut() else {
            return (None, None);
        };
        // Per path: (path, attribute, value) for each attribute, in order.
        let Ok(answer) = proc.query_all(&[path], 6) else {
            return (None, None);
        };
        let value = |i: usize| {
            let v = attr_value(answer.first()?.get(i)?.clone())?;
            crate::logs::format::hs_read_int(&v)
        };
        (value(2), value(5))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let st = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdout(Stdio::null())
            .status()
            .expect("git runs");
        assert!(st.success(), "git {args:?}");
    }

    #[test]
    fn attributes_of_many_paths_from_one_process() {
        let dir = tempfile::tempdir().expect("tempdir");
        git(dir.path(), &["init", "-q"]);
        std::fs::write(
            dir.path().join(".gitattributes"),
            "*.iso annex.largefiles=anything\n*.txt annex.largefiles=nothing\n",
        )
        .expect("write");
        let mut p = Coprocess::spawn(
            dir.path(),
            &["check-attr", "-z", "--stdin", "annex.largefiles"],
        )
        .expect("spawn");
        let a = p.query_all(&[b"a.iso", b"b.txt", b"c"], 3).expect("answer");
        let values: Vec<_> = a.into_iter().map(|mut f| attr_value(f.remove(2))).collect();
        assert_eq!(
            values,
            vec![Some(b"anything".to_vec()), Some(b"nothing".to_vec()), None]
        );
        // The process answers again.
        let again = p.query_all(&[b"d.iso"], 3).expect("answer");
        assert_eq!(again[0][2], b"anything");
    }

    /// `git check-attr` run on the real index, one path per line.
    fn plain_check_attr(dir: &Path, paths: &[&str]) -> Vec<u8> {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["check-attr", "annex.numcopies", "annex.largefiles", "--"])
            .args(paths)
            .output()
            .expect("git runs");
        assert!(out.status.success());
        out.stdout
    }

    #[test]
    fn check_attr_reads_an_index_of_the_gitattributes_files_only_and_answers_the_same() {
        let dir = tempfile::tempdir().expect("tempdir");
        let top = dir.path();
        git(top, &["init", "-q"]);
        for d in ["a", "a/b", "c", "d"] {
            std::fs::create_dir_all(top.join(d)).expect("dir");
        }
        std::fs::write(top.join(".gitattributes"), "* annex.numcopies=2\n").expect("write");
        std::fs::write(top.join("a/.gitattributes"), "*.iso annex.numcopies=3\n").expect("write");
        std::fs::write(
            top.join("a/b/.gitattributes"),
            "x* annex.largefiles=anything\n",
        )
        .expect("write");
        // Only in the index: git reads it from there.
        std::fs::write(top.join("c/.gitattributes"), "* annex.numcopies=5\n").expect("write");
        // Only in the work tree.
        std::fs::write(top.join("d/.gitattributes"), "* annex.numcopies=7\n").expect("write");
        for i in 0..50 {
            std::fs::write(top.join(format!("a/b/x{i}")), "x").expect("write");
            std::fs::write(top.join(format!("c/f{i}.iso")), "x").expect("write");
        }
        git(top, &["add", ".gitattributes", "a", "c"]);
        std::fs::remove_file(top.join("c/.gitattributes")).expect("remove");
        // Staged and then changed in the work tree: the work tree's wins.
        std::fs::write(top.join("a/.gitattributes"), "*.iso annex.numcopies=4\n").expect("write");

        let index = attributes_index(top).expect("an index of the attributes files");
        let listed = Command::new("git")
            .arg("-C")
            .arg(top)
            .args(["ls-files", "--stage"])
            .env("GIT_INDEX_FILE", index.path())
            .output()
            .expect("git runs");
        let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
        let paths: Vec<&str> = listed
            .lines()
            .filter_map(|l| l.split('\t').nth(1))
            .collect();
        assert_eq!(
            paths,
            vec![
                ".gitattributes",
                "a/.gitattributes",
                "a/b/.gitattributes",
                "c/.gitattributes"
            ]
        );

        let asked = [
            "top",
            "a/f.iso",
            "a/b/x1",
            "a/b/y.iso",
            "c/f1.iso",
            "c/g",
            "d/h",
        ];
        let want = plain_check_attr(top, &asked);
        let mut p = Coprocess::spawn(
            top,
            &[
                "check-attr",
                "-z",
                "--stdin",
                "annex.numcopies",
                "annex.largefiles",
            ],
        )
        .expect("spawn");
        let paths: Vec<&[u8]> = asked.iter().map(|p| p.as_bytes()).collect();
        let answer = p.query_all(&paths, 6).expect("answer");
        let mut got = Vec::new();
        for fields in answer {
            for pair in fields.chunks(3) {
                got.extend_from_slice(&pair[0]);
                got.extend_from_slice(b": ");
                got.extend_from_slice(&pair[1]);
                got.extend_from_slice(b": ");
                got.extend_from_slice(&pair[2]);
                got.push(b'\n');
            }
        }
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want)
        );
        assert!(String::from_utf8_lossy(&want).contains("c/f1.iso: annex.numcopies: 5"));
        assert!(String::from_utf8_lossy(&want).contains("a/f.iso: annex.numcopies: 4"));
    }

    #[test]
    fn set_unset_and_unspecified_carry_no_value() {
        for v in ["set", "unset", "unspecified"] {
            assert_eq!(attr_value(v.as_bytes().to_vec()), None);
        }
        assert_eq!(attr_value(b"2".to_vec()), Some(b"2".to_vec()));
    }

    #[test]
    fn a_git_that_ends_early_is_an_error_not_a_hang() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Not a repository: git check-attr exits at once.
        let mut p = Coprocess::spawn(
            &dir.path().join("missing"),
            &["check-attr", "-z", "--stdin", "annex.largefiles"],
        )
        .expect("spawn");
        assert!(p.query_all(&[b"a"], 3).is_err());
    }
}
