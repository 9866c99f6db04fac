#![no_main]
//! `annex.largefiles` expressions (a repository's git config, or a
//! `.gitattributes` a tree brings): parsing never panics; what parses
//! prints to an expression that parses to the same tree; deciding a file
//! never panics and agrees with the reparsed expression.
use annex_core::preferred::LargeFiles;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(lf) = LargeFiles::parse(data) else {
        return;
    };
    let again = LargeFiles::parse(&lf.expr().to_bytes()).expect("a printed expression parses");
    assert_eq!(lf, again);
    for (path, size) in [(&b"a/b.mp3"[..], 0u64), (b"x", 1_000_000), (b"dir/.hidden", 10)] {
        let large = lf.is_large_with(path, Some(size), Some(b"text/plain"), Some(b"us-ascii"));
        assert_eq!(
            large,
            again.is_large_with(path, Some(size), Some(b"text/plain"), Some(b"us-ascii"))
        );
        let _ = lf.is_large_with(path, None, None, None);
    }
});
