#![no_main]
//! Preferred-content and largefiles expressions: parsing never panics;
//! what parses prints to text that parses to an expression giving the same
//! answers; evaluating (both evaluators) never panics.
use annex_core::key::Key;
use annex_core::preferred::{Expr, Item, MemoryContext, Mode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let ctx = MemoryContext::default();
    let Ok(key) = Key::parse(b"SHA256E-s1000--abc.mp3") else {
        return;
    };
    for mode in [Mode::Preferred, Mode::LargeFiles] {
        if let Ok(e) = Expr::parse(data, mode) {
            let printed = e.to_bytes();
            let again = Expr::parse(&printed, mode).expect("a printed expression parses");
            for item in [
                Item::file(b"a/archive/b.mp3", Some(&key)),
                Item::key(&key),
                Item::empty(),
            ] {
                let r = e.matches(&ctx, &item);
                assert_eq!(r, again.matches(&ctx, &item));
                let _ = e.optimized().eval(&ctx, &item);
            }
        }
    }
});
