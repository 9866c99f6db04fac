//! MIME types and encodings of files, asked of libmagic as git-annex asks
//! it (its `MagicMime` build): one `MAGIC_MIME` answer such as
//! `text/plain; charset=us-ascii`, split into the type (`text/plain`) and
//! the encoding (`us-ascii`, empty when libmagic names none). These are
//! what `mimetype=` and `mimeencoding=` match in `annex.largefiles` and
//! the matching options.
//!
//! The database is libmagic's default (the `MAGIC` environment variable,
//! else the system's), or `$GIT_ANNEX_DIR/magic/magic.mgc` when
//! `GIT_ANNEX_DIR` is set, as git-annex loads it. libmagic is not safe to
//! call from several threads at once, so calls take turns on one lock.
//!
//! ```no_run
//! if let Some(m) = annex_core::mime::detect("notes.txt".as_ref()) {
//!     assert_eq!(m.mime_type, b"text/plain");
//! }
//! ```

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What libmagic says a file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mime {
    /// The MIME type (`text/plain`).
    pub mime_type: Vec<u8>,
    /// The MIME encoding (`us-ascii`, `binary`), empty when none is named.
    pub encoding: Vec<u8>,
}

impl Mime {
    /// Splits a `MAGIC_MIME` answer as git-annex does: the type up to the
    /// first `;`, the encoding after a following ` charset=`.
    pub fn parse(answer: &str) -> Mime {
        let (ty, rest) = answer.split_once(';').unwrap_or((answer, ""));
        let encoding = rest.strip_prefix(" charset=").unwrap_or("");
        Mime {
            mime_type: ty.as_bytes().to_vec(),
            encoding: encoding.as_bytes().to_vec(),
        }
    }
}

/// One lock for every call into libmagic (git-annex takes one too).
static LIBMAGIC: Mutex<()> = Mutex::new(());

thread_local! {
    /// This thread's loaded cookie: `None` before the first use,
    /// `Some(None)` when libmagic could not be opened or loaded.
    static COOKIE: RefCell<Option<Option<magic::Cookie<magic::cookie::Load>>>> =
        const { RefCell::new(None) };
}

/// The database git-annex loads: `$GIT_ANNEX_DIR/magic/magic.mgc` when
/// set, else libmagic's default.
fn database() -> Option<PathBuf> {
    std::env::var_os("GIT_ANNEX_DIR").map(|d| PathBuf::from(d).join("magic").join("magic.mgc"))
}

fn open() -> Option<magic::Cookie<magic::cookie::Load>> {
    let cookie = magic::Cookie::open(magic::cookie::Flags::MIME).ok()?;
    let paths = match database() {
        Some(p) => magic::cookie::DatabasePaths::new([p]).ok()?,
        None => magic::cookie::DatabasePaths::default(),
    };
    cookie.load(&paths).ok()
}

/// What libmagic says the file at `path` is; `None` when libmagic is not
/// usable or cannot tell (an unreadable file), as git-annex then has no
/// MIME type to match.
pub fn detect(path: &Path) -> Option<Mime> {
    let _turn = LIBMAGIC.lock().unwrap_or_else(|p| p.into_inner());
    COOKIE.with(|c| {
        let mut c = c.borrow_mut();
        let cookie = c.get_or_insert_with(open).as_ref()?;
        // libmagic answers for a path it cannot read with text rather
        // than an error; git-annex then has no type either.
        std::fs::symlink_metadata(path).ok()?;
        cookie.file(path).ok().map(|a| Mime::parse(&a))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_split_as_git_annex_splits_them() {
        let m = Mime::parse("text/plain; charset=us-ascii");
        assert_eq!(m.mime_type, b"text/plain");
        assert_eq!(m.encoding, b"us-ascii");
        let m = Mime::parse("application/octet-stream");
        assert_eq!(m.mime_type, b"application/octet-stream");
        assert_eq!(m.encoding, b"");
        let m = Mime::parse("text/x-foo;charset=utf-8");
        assert_eq!(m.mime_type, b"text/x-foo");
        assert_eq!(m.encoding, b"");
    }

    #[test]
    fn libmagic_tells_text_from_binary_and_empty() {
        let dir = tempfile::tempdir().expect("temp dir");
        let text = dir.path().join("t");
        std::fs::write(&text, "some text\n").expect("write");
        let bin = dir.path().join("b");
        std::fs::write(&bin, [0u8, 159, 146, 150, 1, 2, 3, 0, 255]).expect("write");
        let empty = dir.path().join("e");
        std::fs::write(&empty, "").expect("write");
        let t = detect(&text).expect("libmagic answers");
        assert_eq!(t.mime_type, b"text/plain");
        assert_eq!(t.encoding, b"us-ascii");
        let b = detect(&bin).expect("libmagic answers");
        assert_eq!(b.encoding, b"binary");
        let e = detect(&empty).expect("libmagic answers");
        assert_eq!(e.mime_type, b"inode/x-empty");
        assert!(detect(&dir.path().join("missing")).is_none());
    }
}
