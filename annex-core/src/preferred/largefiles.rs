//! `annex.largefiles`: which files `git annex add` puts in the annex
//! (large) rather than in git (small).
//!
//! The expression language is the preferred-content one restricted to
//! `include=`, `exclude=`, `largerthan=`, `smallerthan=`, `mimetype=`,
//! `mimeencoding=`, `anything`, `nothing`, `unused` and the syntax words;
//! paths are relative to the top of the work tree and sizes are the files'
//! sizes on disk. An empty expression (or none) makes every file large.
//!
//! `mimetype=`/`mimeencoding=`: git-annex asks libmagic about the file's
//! content. Given the work tree ([`LargeFiles::in_worktree`]), so does
//! [`LargeFiles::is_large`] ([`crate::mime`]); otherwise the caller passes
//! the type if it knows it ([`LargeFiles::is_large_with`]). An unknown type
//! does not match (as when git-annex cannot read the file's magic).
//!
//! ```
//! use annex_core::preferred::LargeFiles;
//! let lf = LargeFiles::parse(b"largerthan=100kb or include=*.iso").unwrap();
//! assert!(lf.is_large(b"dir/big.bin", 200_000));
//! assert!(lf.is_large(b"small.iso", 10));
//! assert!(!lf.is_large(b"notes.txt", 10));
//! assert!(LargeFiles::parse(b"copies=2").is_err());
//! ```

use std::path::{Path, PathBuf};

use super::eval::{Datum, Item};
use super::{Expr, MemoryContext, Mode, ParseError, Term};

/// A parsed `annex.largefiles` expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LargeFiles {
    expr: Expr,
    /// The top of the work tree, where files' MIME types are read.
    worktree: Option<PathBuf>,
}

/// Why an `annex.largefiles` expression was refused.
pub type LargeFilesError = ParseError;

impl LargeFiles {
    /// Parses an expression (a term of preferred content that is not valid
    /// here, such as `copies=`, is an error, as in git-annex).
    pub fn parse(expr: &[u8]) -> Result<LargeFiles, ParseError> {
        Expr::parse(expr, Mode::LargeFiles).map(|expr| LargeFiles {
            expr,
            worktree: None,
        })
    }

    /// The same expression, reading the MIME type and encoding of the
    /// files (paths from `top`) through libmagic when it has `mimetype=`
    /// or `mimeencoding=` terms, as git-annex does.
    pub fn in_worktree(mut self, top: &Path) -> LargeFiles {
        self.worktree = Some(top.to_path_buf());
        self
    }

    /// The parsed expression.
    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Whether the expression is empty (every file is large).
    pub fn is_empty(&self) -> bool {
        self.expr.is_empty()
    }

    /// Whether the expression looks at MIME types or encodings.
    pub fn needs_mime(&self) -> bool {
        self.expr
            .matcher
            .any_op(&mut |t: &Term| matches!(t, Term::MimeType(_) | Term::MimeEncoding(_)))
    }

    /// Whether a file of this size (path from the top of the work tree)
    /// is large.
    pub fn is_large(&self, path_from_top: &[u8], size: u64) -> bool {
        let mime = match &self.worktree {
            Some(top) if self.needs_mime() => {
                use std::os::unix::ffi::OsStrExt;
                crate::mime::detect(&top.join(std::ffi::OsStr::from_bytes(path_from_top)))
            }
            _ => None,
        };
        self.is_large_with(
            path_from_top,
            Some(size),
            mime.as_ref().map(|m| &m.mime_type[..]),
            mime.as_ref().map(|m| &m.encoding[..]),
        )
    }

    /// [`LargeFiles::is_large`] with everything known about the file: its
    /// size (`None` when it could not be read: `smallerthan` then matches,
    /// as in git-annex), MIME type and encoding.
    pub fn is_large_with(
        &self,
        path_from_top: &[u8],
        size: Option<u64>,
        mime_type: Option<&[u8]>,
        mime_encoding: Option<&[u8]>,
    ) -> bool {
        if self.expr.is_empty() {
            return true;
        }
        let item = Item {
            file: Datum::Known(path_from_top),
            size: Datum::Known(size),
            mime_type: Datum::from_option(mime_type),
            mime_encoding: Datum::from_option(mime_encoding),
            worktree_file: true,
            ..Item::empty()
        };
        // No term here reads the repository, and no datum is unprovided.
        self.expr
            .matches(&MemoryContext::default(), &item)
            .unwrap_or(false)
    }
}
