//! The large-files decision (`annex.largefiles`) behind a trait, which the
//! expression engine ([`crate::preferred::LargeFiles`]) implements.

use crate::preferred::LargeFiles;

/// Decides whether a file is large (goes to the annex) or small (goes to
/// git): `annex.largefiles`. [`LargeFiles`] (the full expression engine)
/// implements this, and so does any `Fn(&[u8], u64) -> bool` closure.
pub trait LargeFilesMatcher: Send + Sync {
    /// Whether the file at `path_from_top`, of `size` bytes, is large.
    fn is_large(&self, path_from_top: &[u8], size: u64) -> bool;
}

impl<F: Fn(&[u8], u64) -> bool + Send + Sync> LargeFilesMatcher for F {
    fn is_large(&self, path_from_top: &[u8], size: u64) -> bool {
        self(path_from_top, size)
    }
}

impl LargeFilesMatcher for LargeFiles {
    fn is_large(&self, path_from_top: &[u8], size: u64) -> bool {
        LargeFiles::is_large(self, path_from_top, size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_expressions() {
        let m = |e: &str, p: &str, s: u64| {
            let lf = LargeFiles::parse(e.as_bytes()).unwrap();
            LargeFilesMatcher::is_large(&lf, p.as_bytes(), s)
        };
        assert!(m("anything", "a", 0));
        assert!(!m("nothing", "a", 0));
        assert!(m("largerthan=3b", "a", 4));
        assert!(!m("largerthan=3b", "a", 3));
        assert!(m("include=*.bin or largerthan=1kb", "d/x.bin", 1));
        assert!(!m("include=*.bin and largerthan=1kb", "d/x.bin", 1));
        assert!(m("not include=*.txt", "a.dat", 1));
        assert!(!m("exclude=d/*", "d/e/f", 1));
        assert!(m(
            "(include=*.a or include=*.b) and not largerthan=1kb",
            "x.b",
            10
        ));
        assert!(!m(
            "(include=*.a or include=*.b) and not largerthan=1kb",
            "x.b",
            2000
        ));
        assert!(m("", "x", 0));
        assert!(LargeFiles::parse(b"copies=2").is_err());
    }
}
