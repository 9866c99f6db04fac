//! `.gitattributes` lookups: one long-running `git check-attr` (or
//! `check-ignore`) process answering many paths, as git-annex keeps one
//! per run.
//!
//! git's attribute rules (macros, `[attr]` lines, the system and global
//! files, `core.attributesFile`) are git's own; asking git keeps us exact.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// A failure talking to the `git` process.
#[derive(Debug, thiserror::Error)]
pub enum AttrError {
    /// `git` could not be started.
    #[error("cannot run git {args}: {source}")]
    Spawn {
        /// The arguments.
        args: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reading its answer failed.
    #[error("cannot read from git: {0}")]
    Read(#[source] std::io::Error),
    /// It stopped answering.
    #[error("git ended early")]
    Ended,
    /// Its input was closed already.
    #[error("git's stdin is closed")]
    Closed,
}

/// A `git` process answering queries one NUL-terminated path at a time
/// (`check-attr --stdin -z`, `check-ignore --stdin -z`), kept for the run.
pub struct Coprocess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl std::fmt::Debug for Coprocess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coprocess")
            .field("pid", &self.child.id())
            .finish()
    }
}

impl Coprocess {
    /// Starts `git -C TOP ARGS...`.
    pub fn spawn(top: &Path, args: &[&str]) -> Result<Coprocess, AttrError> {
        let mut child = Command::new("git")
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
            .ok_or(AttrError::Ended)?;
        Ok(Coprocess {
            child,
            stdin,
            stdout,
        })
    }

    fn field(&mut self) -> Result<Vec<u8>, AttrError> {
        let mut v = Vec::new();
        self.stdout.read_until(0, &mut v).map_err(AttrError::Read)?;
        if v.pop() != Some(0) {
            return Err(AttrError::Ended);
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
            return Err(AttrError::Closed);
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
            let v = answer.first()?.get(i)?;
            match v.as_slice() {
                b"unspecified" | b"unset" | b"set" => None,
                v => crate::logs::format::hs_read_int(v),
            }
        };
        (value(2), value(5))
    }
}
