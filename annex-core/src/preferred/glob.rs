//! git-annex's globs, as its matching terms use them.
//!
//! git-annex turns a glob into a POSIX regular expression and matches that:
//! `*` is any run of characters (`/` included), `?` one character, `[...]`
//! and `[!...]` bracket expressions passed to the regex engine as written
//! (so POSIX classes like `[[:space:]]` work, a backslash in brackets is an
//! ordinary character, and the first `]` ends the glob's bracket while the
//! regex engine may read on), everything else literal. For file paths, a `/`
//! in the glob matches one or more `/`. The regex is matched in multi-line
//! mode anchored at both ends, so a path holding a newline matches when one
//! of its lines does. Metadata values are matched case-insensitively.
//!
//! Text is compared as characters: UTF-8 is decoded, and a byte that is not
//! part of valid UTF-8 stands for itself as one character (as git-annex's
//! file system encoding does).
//!
//! ```
//! use annex_core::preferred::glob::Glob;
//! let g = Glob::new(b"*.mp3", false, true);
//! assert!(g.matches(b"music/a.mp3"));
//! assert!(!g.matches(b"a.mp4"));
//! assert!(Glob::new(b"a/b", false, true).matches(b"a//b"));
//! assert!(Glob::new(b"TAG", true, false).matches(b"tag"));
//! ```

/// A compiled glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    source: Vec<u8>,
    case_insensitive: bool,
    filepath: bool,
    // `None` when the regex git-annex makes would not compile (an
    // unterminated bracket): git-annex then fails when it first matches.
    nodes: Option<Vec<Node>>,
    has_newline: bool,
    regex: String,
    // The glob as literal segments between `*`s, when it has that shape
    // (see [`Simple`]).
    simple: Option<Simple>,
}

/// A glob made only of ASCII literals, `?`, `*` and (for paths) `/`:
/// matched without the NFA, on ASCII text without a newline (and, when the
/// glob has a `/`, without `//`: a `/` then stands for itself).
///
/// `parts` are the pieces between the `*`s (`None` in a piece is `?`):
/// with no `*` the text must be the one piece; else the first piece is a
/// prefix, the last a suffix, and the others are found in order, each at
/// its leftmost place (which leaves the most room for the rest, so it finds
/// a match whenever there is one).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Simple {
    parts: Vec<Vec<Option<u8>>>,
    has_slash: bool,
}

impl Simple {
    fn of(nodes: &[Node], filepath: bool) -> Option<Simple> {
        let mut parts = vec![Vec::new()];
        let mut has_slash = false;
        for node in nodes {
            let piece = match (&node.atom, node.rep) {
                (Atom::Lit(c), Rep::One) => Some(u8::try_from(*c).ok().filter(u8::is_ascii)?),
                (Atom::AnyButNewline, Rep::One) => None,
                (Atom::AnyButNewline, Rep::Star) => {
                    parts.push(Vec::new());
                    continue;
                }
                (
                    Atom::Class {
                        negated: false,
                        items,
                    },
                    Rep::Plus,
                ) if filepath && items.as_slice() == [ClassItem::Char(u32::from(b'/'))] => {
                    has_slash = true;
                    Some(b'/')
                }
                _ => return None,
            };
            parts.last_mut()?.push(piece);
        }
        Some(Simple { parts, has_slash })
    }

    /// Whether `text` (ASCII, no newline; no `//` when the glob has a `/`)
    /// matches.
    fn matches(&self, text: &[u8], ci: bool) -> bool {
        let eq = |p: &[Option<u8>], t: &[u8]| {
            p.len() == t.len()
                && p.iter().zip(t).all(|(p, &t)| match p {
                    None => true,
                    Some(c) if ci => c.eq_ignore_ascii_case(&t),
                    Some(c) => *c == t,
                })
        };
        let (first, rest) = match self.parts.split_first() {
            Some(x) => x,
            None => return text.is_empty(),
        };
        let Some((last, middle)) = rest.split_last() else {
            return eq(first, text);
        };
        if text.len() < first.len() + last.len() || !eq(first, &text[..first.len()]) {
            return false;
        }
        let end = text.len() - last.len();
        if !eq(last, &text[end..]) {
            return false;
        }
        let mut at = first.len();
        for part in middle {
            // `at <= end` holds: the first piece and each piece found end
            // before the last piece starts.
            if part.len() > end - at {
                return false;
            }
            let Some(found) = (at..=end - part.len()).find(|&i| eq(part, &text[i..i + part.len()]))
            else {
                return false;
            };
            at = found + part.len();
        }
        true
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Atom {
    Lit(u32),
    AnyButNewline,
    Class {
        negated: bool,
        items: Vec<ClassItem>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ClassItem {
    Char(u32),
    Range(u32, u32),
    Named(NamedClass),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NamedClass {
    Alpha,
    Digit,
    Alnum,
    Upper,
    Lower,
    Space,
    Blank,
    Punct,
    Print,
    Graph,
    Cntrl,
    XDigit,
    Word,
    /// A name the engine does not know: it compiles and matches nothing.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rep {
    One,
    Star,
    Plus,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    atom: Atom,
    rep: Rep,
}

/// Decodes bytes to characters; bytes of invalid UTF-8 become U+DC80..U+DCFF
/// (one per byte), as GHC's file system encoding does.
pub(crate) fn decode(b: &[u8]) -> Vec<u32> {
    let mut out = Vec::with_capacity(b.len());
    let mut rest = b;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.extend(s.chars().map(|c| c as u32));
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                // `good` is valid UTF-8 by construction.
                out.extend(String::from_utf8_lossy(good).chars().map(|c| c as u32));
                let n = e.error_len().unwrap_or(bad.len()).max(1);
                out.extend(bad[..n].iter().map(|&x| 0xDC00 + u32::from(x)));
                rest = &bad[n..];
            }
        }
    }
    out
}

fn is_alnum(c: u32) -> bool {
    char::from_u32(c).is_some_and(char::is_alphanumeric)
}

/// The regex text git-annex makes of a glob (without the anchors).
fn wild_to_regex(glob: &[u32], filepath: bool) -> Vec<u32> {
    let mut out = Vec::with_capacity(glob.len() * 2);
    let mut i = 0;
    let c = |ch: char| ch as u32;
    let mut in_bracket = false;
    while i < glob.len() {
        let x = glob[i];
        i += 1;
        if in_bracket {
            if x == c(']') {
                out.push(x);
                in_bracket = false;
            } else if x == c('\\') {
                out.extend([x, x]);
            } else {
                out.push(x);
            }
            continue;
        }
        if x == c('*') {
            out.extend([c('.'), c('*')]);
        } else if x == c('?') {
            out.push(c('.'));
        } else if x == c('[') {
            if glob.get(i) == Some(&c('!')) {
                i += 1;
                out.extend([c('['), c('^')]);
            } else {
                out.push(c('['));
            }
            in_bracket = true;
        } else if filepath && (x == c('/') || x == c('\\')) {
            out.extend([c('['), x, c(']'), c('+')]);
        } else if (x < 0x80 && (x as u8).is_ascii_alphanumeric()) || (x >= 0x80 && is_alnum(x)) {
            out.push(x);
        } else {
            out.extend([c('\\'), x]);
        }
    }
    out
}

/// Parses the regex text (only the forms `wild_to_regex` can make, read the
/// way a POSIX regex engine reads them). `None` if it would not compile.
fn parse_regex(re: &[u32]) -> Option<Vec<Node>> {
    let c = |ch: char| ch as u32;
    let mut nodes: Vec<Node> = Vec::new();
    let mut i = 0;
    while i < re.len() {
        let x = re[i];
        i += 1;
        let atom = if x == c('\\') {
            let y = *re.get(i)?;
            i += 1;
            Atom::Lit(y)
        } else if x == c('.') {
            Atom::AnyButNewline
        } else if x == c('[') {
            let mut negated = false;
            if re.get(i) == Some(&c('^')) {
                negated = true;
                i += 1;
            }
            let mut items = Vec::new();
            let mut first = true;
            loop {
                let y = *re.get(i)?;
                if y == c(']') && !first {
                    i += 1;
                    break;
                }
                first = false;
                // POSIX class, equivalence class or collating symbol.
                if y == c('[')
                    && let Some(&kind) = re.get(i + 1)
                    && (kind == c(':') || kind == c('=') || kind == c('.'))
                {
                    let start = i + 2;
                    let mut j = start;
                    let mut found = None;
                    while j + 1 < re.len() {
                        if re[j] == kind && re[j + 1] == c(']') {
                            found = Some(j);
                            break;
                        }
                        j += 1;
                    }
                    let end = found?;
                    let name: String = re[start..end]
                        .iter()
                        .filter_map(|&u| char::from_u32(u))
                        .collect();
                    i = end + 2;
                    if kind == c(':') {
                        items.push(ClassItem::Named(named_class(&name)?));
                    } else {
                        let mut cs = name.chars();
                        match (cs.next(), cs.next()) {
                            (Some(ch), None) => items.push(ClassItem::Char(ch as u32)),
                            _ => return None,
                        }
                    }
                    continue;
                }
                i += 1;
                if re.get(i) == Some(&c('-')) && re.get(i + 1).is_some_and(|&z| z != c(']')) {
                    let hi = re[i + 1];
                    i += 2;
                    if hi < y {
                        return None;
                    }
                    items.push(ClassItem::Range(y, hi));
                } else {
                    items.push(ClassItem::Char(y));
                }
            }
            Atom::Class { negated, items }
        } else if x == c('*') || x == c('+') {
            let last = nodes.last_mut()?;
            if last.rep != Rep::One {
                // `a**` and the like: still any repetition.
                last.rep = Rep::Star;
            } else {
                last.rep = if x == c('*') { Rep::Star } else { Rep::Plus };
            }
            continue;
        } else {
            Atom::Lit(x)
        };
        nodes.push(Node {
            atom,
            rep: Rep::One,
        });
    }
    Some(nodes)
}

fn named_class(name: &str) -> Option<NamedClass> {
    Some(match name {
        "alpha" => NamedClass::Alpha,
        "digit" => NamedClass::Digit,
        "alnum" => NamedClass::Alnum,
        "upper" => NamedClass::Upper,
        "lower" => NamedClass::Lower,
        "space" => NamedClass::Space,
        "blank" => NamedClass::Blank,
        "punct" => NamedClass::Punct,
        "print" => NamedClass::Print,
        "graph" => NamedClass::Graph,
        "cntrl" => NamedClass::Cntrl,
        "xdigit" => NamedClass::XDigit,
        "word" => NamedClass::Word,
        _ => NamedClass::Unknown,
    })
}

/// POSIX classes as the reference's regex engine has them: ASCII only
/// (`[[:alpha:]]` does not match `é`; checked with `matchexpression`).
fn in_named(n: NamedClass, c: u32) -> bool {
    let Ok(b) = u8::try_from(c) else {
        return false;
    };
    if !b.is_ascii() {
        return false;
    }
    match n {
        NamedClass::Alpha => b.is_ascii_alphabetic(),
        NamedClass::Digit => b.is_ascii_digit(),
        NamedClass::Alnum => b.is_ascii_alphanumeric(),
        NamedClass::Upper => b.is_ascii_uppercase(),
        NamedClass::Lower => b.is_ascii_lowercase(),
        NamedClass::Space => matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c),
        NamedClass::Blank => b == b' ' || b == b'\t',
        NamedClass::Punct => b.is_ascii_punctuation(),
        NamedClass::Print => (0x20..0x7f).contains(&b),
        NamedClass::Graph => (0x21..0x7f).contains(&b),
        NamedClass::Cntrl => b < 0x20 || b == 0x7f,
        NamedClass::XDigit => b.is_ascii_hexdigit(),
        NamedClass::Word => b.is_ascii_alphanumeric() || b == b'_',
        NamedClass::Unknown => false,
    }
}

fn lower(c: u32) -> u32 {
    match char::from_u32(c) {
        Some(ch) if ch.is_ascii() => ch.to_ascii_lowercase() as u32,
        Some(ch) => {
            let mut l = ch.to_lowercase();
            match (l.next(), l.next()) {
                (Some(x), None) => x as u32,
                _ => c,
            }
        }
        None => c,
    }
}

fn upper(c: u32) -> u32 {
    match char::from_u32(c) {
        Some(ch) => {
            let mut u = ch.to_uppercase();
            match (u.next(), u.next()) {
                (Some(x), None) => x as u32,
                _ => c,
            }
        }
        None => c,
    }
}

impl Atom {
    fn matches1(&self, c: u32) -> bool {
        match self {
            Atom::Lit(l) => *l == c,
            Atom::AnyButNewline => c != u32::from(b'\n'),
            Atom::Class { negated, items } => {
                let hit = items.iter().any(|it| match it {
                    ClassItem::Char(x) => *x == c,
                    ClassItem::Range(a, b) => *a <= c && c <= *b,
                    ClassItem::Named(n) => in_named(*n, c),
                });
                if *negated {
                    !hit && c != u32::from(b'\n')
                } else {
                    hit
                }
            }
        }
    }

    fn matches(&self, c: u32, ci: bool) -> bool {
        if !ci {
            return self.matches1(c);
        }
        self.matches1(c) || self.matches1(lower(c)) || self.matches1(upper(c))
    }
}

impl Glob {
    /// Compiles a glob. `case_insensitive` for metadata values, `filepath`
    /// for paths (a `/` then matches runs of `/`).
    pub fn new(glob: &[u8], case_insensitive: bool, filepath: bool) -> Glob {
        let chars = decode(glob);
        // Case-insensitive matching checks each character and its case
        // variants at match time.
        let re = wild_to_regex(&chars, filepath);
        let nodes = parse_regex(&re);
        let simple = nodes.as_deref().and_then(|n| Simple::of(n, filepath));
        let mut regex = String::from("^");
        regex.extend(re.iter().map(|&c| char::from_u32(c).unwrap_or('\u{FFFD}')));
        regex.push('$');
        Glob {
            regex,
            source: glob.to_vec(),
            case_insensitive,
            filepath,
            has_newline: chars.contains(&u32::from(b'\n')),
            nodes,
            simple,
        }
    }

    /// The glob as written.
    pub fn source(&self) -> &[u8] {
        &self.source
    }

    /// The anchored regex git-annex makes of the glob (what it shows when
    /// the regex does not compile).
    pub fn regex(&self) -> &str {
        &self.regex
    }

    /// Whether git-annex could compile this glob (an unterminated bracket,
    /// such as `[abc`, makes it fail when it first matches).
    pub fn is_valid(&self) -> bool {
        self.nodes.is_some()
    }

    /// Whether the text matches (an invalid glob matches nothing).
    pub fn matches(&self, text: &[u8]) -> bool {
        let Some(nodes) = &self.nodes else {
            return false;
        };
        // Fast paths for the common shapes.
        if let Some(simple) = &self.simple
            && text.is_ascii()
            && memchr::memchr(b'\n', text).is_none()
            && !(simple.has_slash && memchr::memmem::find(text, b"//").is_some())
        {
            return simple.matches(text, self.case_insensitive);
        }
        if !self.case_insensitive && text.is_ascii() && !text.contains(&b'\n') {
            return run(nodes, text.iter().map(|&b| u32::from(b)), false);
        }
        let chars = decode(text);
        if self.has_newline {
            return run(nodes, chars.iter().copied(), self.case_insensitive);
        }
        chars
            .split(|&c| c == u32::from(b'\n'))
            .any(|line| run(nodes, line.iter().copied(), self.case_insensitive))
    }

    /// Whether the glob is for file paths.
    pub fn is_filepath(&self) -> bool {
        self.filepath
    }
}

/// NFA simulation: `states[i]` means "the first i nodes matched so far"
/// (with node i-1 possibly continuing when it repeats).
fn run(nodes: &[Node], text: impl Iterator<Item = u32>, ci: bool) -> bool {
    let n = nodes.len();
    if n < 64 {
        return run_bits(nodes, text, ci);
    }
    // A small inline set of positions.
    let mut cur = vec![false; n + 1];
    let mut next = vec![false; n + 1];
    cur[0] = true;
    close(nodes, &mut cur);
    for c in text {
        next.iter_mut().for_each(|x| *x = false);
        let mut any = false;
        for i in 0..n {
            if !cur[i] {
                continue;
            }
            let node = &nodes[i];
            if node.atom.matches(c, ci) {
                match node.rep {
                    Rep::One => next[i + 1] = true,
                    Rep::Star | Rep::Plus => {
                        // Stay (more repetitions) or move on.
                        next[i] = true;
                        next[i + 1] = true;
                    }
                }
                any = true;
            }
        }
        if !any {
            return false;
        }
        std::mem::swap(&mut cur, &mut next);
        close_after(nodes, &mut cur);
    }
    cur[n]
}

/// [`run`] with the state set in one word (globs of fewer than 64 nodes).
fn run_bits(nodes: &[Node], text: impl Iterator<Item = u32>, ci: bool) -> bool {
    let n = nodes.len();
    // Bits of the Star nodes, for the epsilon closure.
    let mut star: u64 = 0;
    for (i, node) in nodes.iter().enumerate() {
        if node.rep == Rep::Star {
            star |= 1 << i;
        }
    }
    let close = |mut set: u64| {
        // Skipping a Star node: bit i set and node i is Star sets bit i+1;
        // chains of Stars propagate in order.
        let mut i = 0;
        while i < n {
            if set & (1 << i) != 0 && star & (1 << i) != 0 {
                set |= 1 << (i + 1);
            }
            i += 1;
        }
        set
    };
    let mut cur: u64 = close(1);
    for c in text {
        let mut next: u64 = 0;
        let mut bits = cur & ((1u64 << n) - 1);
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let node = &nodes[i];
            if node.atom.matches(c, ci) {
                next |= 1 << (i + 1);
                if node.rep != Rep::One {
                    next |= 1 << i;
                }
            }
        }
        if next == 0 {
            return false;
        }
        cur = close(next);
    }
    cur & (1 << n) != 0
}

/// Epsilon closure from the start: Star nodes may be skipped.
fn close(nodes: &[Node], set: &mut [bool]) {
    for i in 0..nodes.len() {
        if set[i] && nodes[i].rep == Rep::Star {
            set[i + 1] = true;
        }
    }
}

/// Epsilon closure after a step. Position i set by staying in a repeating
/// node means that node has matched at least once, so skipping it is fine
/// for Plus too; positions reached by moving on may skip later Star nodes.
fn close_after(nodes: &[Node], set: &mut [bool]) {
    for i in 0..nodes.len() {
        if set[i] && nodes[i].rep == Rep::Star {
            set[i + 1] = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The NFA's answer, bypassing the literal-segment fast path.
    fn nfa(g: &Glob, text: &[u8]) -> bool {
        let nodes = g.nodes.as_deref().unwrap_or_default();
        run(
            nodes,
            text.iter().map(|&b| u32::from(b)),
            g.case_insensitive,
        )
    }

    fn glob_bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                Just(b'*'),
                Just(b'?'),
                Just(b'/'),
                Just(b'a'),
                Just(b'B'),
                Just(b'.'),
                Just(b'm'),
            ],
            0..10,
        )
    }

    fn text_bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            prop_oneof![
                Just(b'/'),
                Just(b'a'),
                Just(b'A'),
                Just(b'b'),
                Just(b'.'),
                Just(b'm')
            ],
            0..14,
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn simple_agrees_with_nfa(g in glob_bytes(), t in text_bytes(), ci in any::<bool>(), fp in any::<bool>()) {
            let glob = Glob::new(&g, ci, fp);
            prop_assert!(glob.simple.is_some(), "{:?} should be simple", String::from_utf8_lossy(&g));
            prop_assert_eq!(glob.matches(&t), nfa(&glob, &t),
                "glob {:?} text {:?} ci {} filepath {}", String::from_utf8_lossy(&g), String::from_utf8_lossy(&t), ci, fp);
        }
    }

    #[test]
    fn shapes() {
        let g = Glob::new(b"*/music/*", false, true);
        assert!(g.simple.is_some());
        assert!(g.matches(b"a/music/b.mp3"));
        assert!(g.matches(b"a//music/b.mp3"));
        assert!(!g.matches(b"music/b.mp3"));
        assert!(Glob::new(b"[ab]*", false, true).simple.is_none());
        assert!(Glob::new(b"\xc3\xa9*", false, true).simple.is_none());
        let g = Glob::new(b"*a*a*", false, false);
        assert!(g.matches(b"aa") && !g.matches(b"a") && g.matches(b"xaxax"));
    }
}
