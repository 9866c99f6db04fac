//! The extension that the `E` backends (`SHA256E`, `MD5E`, ...) append to a
//! key's name, chosen from a file name as git-annex chooses it.
//!
//! Leading dots of the file's last component are ignored (`.bashrc` has no
//! extension); the rest is split at every `.` after the first one; parts are
//! taken from the end while they are no longer than
//! `annex.maxextensionlength` bytes; parts with ASCII characters other than
//! letters and digits are dropped (bytes above 127 are allowed); at most
//! `annex.maxextensions` parts are kept (empty parts count toward that
//! limit, then are left out).
//!
//! ```
//! use annex_core::backend::extension::select_extension;
//! assert_eq!(select_extension(b"dir/a.tar.gz", 4, 2), b".tar.gz");
//! assert_eq!(select_extension(b"a.b.c.d", 4, 2), b".c.d");
//! assert_eq!(select_extension(b".bashrc", 4, 2), b"");
//! assert_eq!(select_extension(b"photo.jpeg2000", 4, 2), b"");
//! ```

/// git-annex's default `annex.maxextensionlength`.
pub const DEFAULT_MAX_EXTENSION_LENGTH: usize = 4;

/// git-annex's default `annex.maxextensions`.
pub const DEFAULT_MAX_EXTENSIONS: usize = 2;

/// Whether a byte may appear in a kept extension part.
pub(crate) fn valid_in_extension(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'.' || b >= 128
}

/// The extension (with its leading `.`, or empty) that an `E` backend adds
/// for a file named `file` (a path; only its last component counts).
pub fn select_extension(file: &[u8], max_len: usize, max_extensions: usize) -> Vec<u8> {
    let base = match file.iter().rposition(|&b| b == b'/') {
        Some(i) => &file[i + 1..],
        None => file,
    };
    let trimmed = match base.iter().position(|&b| b != b'.') {
        Some(i) => &base[i..],
        None => &[][..],
    };
    let exts = match trimmed.iter().position(|&b| b == b'.') {
        Some(i) => &trimmed[i..],
        None => return Vec::new(),
    };
    // `exts` starts with '.', so splitting yields a leading empty part,
    // which takes part in the length and count rules like any other.
    let parts: Vec<&[u8]> = exts
        .rsplit(|&b| b == b'.')
        .take_while(|p| p.len() <= max_len)
        .filter(|p| p.iter().all(|&b| valid_in_extension(b)))
        .take(max_extensions)
        .filter(|p| !p.is_empty())
        .collect();
    let mut out = Vec::with_capacity(exts.len());
    for p in parts.iter().rev() {
        out.push(b'.');
        out.extend_from_slice(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values recorded from `git annex calckey --backend=MD5E`
    // (git-annex 10.20261026).
    #[test]
    fn matches_recorded_reference() {
        for (name, ext) in [
            (&b".foo"[..], &b""[..]),
            (b"..foo.bar", b".bar"),
            (b"a.", b""),
            (b"a..", b""),
            (b"a.b.", b".b"),
            (b"a.tar.gz", b".tar.gz"),
            (b"a.b.c.d", b".c.d"),
            (b"a.jpegs", b""),
            (b"a.b c", b""),
            (b"a.x y.gz", b".gz"),
            (b"x.a..b", b".b"),
            (b"...", b""),
            (b"a.b..", b""),
            (b"a.tar.gz.", b".gz"),
            (b"a.verylongext.gz", b".gz"),
            (b"a.gz.verylongext", b""),
            (b"a.\xff\xfe", b".\xff\xfe"),
            (b"a.\xc3\xbcber", b""),
        ] {
            assert_eq!(
                select_extension(name, 4, 2),
                ext,
                "{}",
                String::from_utf8_lossy(name)
            );
        }
    }
}
