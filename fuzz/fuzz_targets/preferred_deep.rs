#![no_main]
//! Preferred-content and largefiles expressions nested deep: the input
//! bytes pick, pair by pair, a nesting shape (`not`, `( … )`, an unclosed
//! `(`, `( not … )`, an `or` chain, `and` chains, a stray `)`) and how many
//! times to repeat it (up to 2,550 each, so a few dozen pairs nest over
//! 100,000 deep), around one term the first byte picks. Parsing, both
//! evaluators, `--explain` and printing never overflow the stack; the
//! evaluators agree; what is printed parses back to an expression giving
//! the same answers (not always the same tree: a stray `)` or a group
//! continued inside parentheses print as the tree they made).
use annex_core::key::Key;
use annex_core::preferred::eval::eval_explained;
use annex_core::preferred::{Expr, Item, MemoryContext, Mode};
use libfuzzer_sys::fuzz_target;

const TERMS: &[&str] = &[
    "include=*.mp3",
    "exclude=*.mp3",
    "largerthan=10",
    "smallerthan=10",
    "anything",
    "nothing",
];

fuzz_target!(|data: &[u8]| {
    let Some((&t, rest)) = data.split_first() else {
        return;
    };
    let term = TERMS[usize::from(t) % TERMS.len()];
    let (mut prefix, mut suffix) = (String::new(), String::new());
    for pair in rest.chunks(2) {
        let shape = pair[0] % 8;
        let n = usize::from(pair.get(1).copied().unwrap_or(1)) * 10;
        for _ in 0..n {
            match shape {
                0 => prefix.push_str("not "),
                1 => {
                    prefix.push_str("( ");
                    suffix.insert_str(0, " )");
                }
                2 => prefix.push_str("( "),
                3 => {
                    prefix.push_str("( not ");
                    suffix.insert_str(0, " )");
                }
                4 => prefix.push_str("include=*.ogg or "),
                5 => prefix.push_str("and "),
                6 => suffix.push_str(" and largerthan=1"),
                _ => prefix.push_str(") "),
            }
        }
    }
    let text = format!("{prefix}{term}{suffix}");
    let ctx = MemoryContext::default();
    let Ok(key) = Key::parse(b"SHA256E-s100--abc.mp3") else {
        return;
    };
    for mode in [Mode::Preferred, Mode::LargeFiles] {
        let e = Expr::parse(text.as_bytes(), mode).expect("every term here parses");
        let again = Expr::parse(&e.to_bytes(), mode).expect("a printed expression parses");
        for item in [Item::file(b"a/b.mp3", Some(&key)), Item::key(&key)] {
            let r = e.matches(&ctx, &item);
            assert_eq!(r, e.optimized().eval(&ctx, &item), "the evaluators agree");
            assert_eq!(r, again.matches(&ctx, &item), "printing keeps the meaning");
            let explained = eval_explained(&e.matcher, &ctx, &item, "x").map(|(r, _)| r);
            assert_eq!(r, explained, "--explain agrees");
        }
        let copy = e.clone();
        assert_eq!(copy, e);
    }
});
