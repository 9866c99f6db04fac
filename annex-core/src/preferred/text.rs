//! Reading numbers, sizes and words the way git-annex (GHC's `reads`,
//! `words`, `show`) does.

use super::glob::decode;

/// Encodes characters back to bytes (U+DC80..U+DCFF become the raw bytes
/// they stand for).
pub(crate) fn encode(cs: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(cs.len());
    for &c in cs {
        if (0xDC80..=0xDCFF).contains(&c) {
            out.push((c - 0xDC00) as u8);
        } else if let Some(ch) = char::from_u32(c) {
            let mut buf = [0u8; 4];
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        }
    }
    out
}

/// GHC's `isSpace`.
pub(crate) fn is_space(c: u32) -> bool {
    c == 32
        || (9..=13).contains(&c)
        || c == 0xA0
        || c == 0x1680
        || (0x2000..=0x200A).contains(&c)
        || c == 0x202F
        || c == 0x205F
        || c == 0x3000
}

/// Splits an expression into tokens as git-annex does: at white space, and
/// around every `(` and `)`, which are always tokens of their own.
pub fn tokenize(expr: &[u8]) -> Vec<Vec<u8>> {
    let cs = decode(expr);
    let mut out = Vec::new();
    for word in cs.split(|&c| is_space(c)) {
        let mut cur: Vec<u32> = Vec::new();
        for &c in word {
            if c == u32::from(b'(') || c == u32::from(b')') {
                if !cur.is_empty() {
                    out.push(encode(&cur));
                    cur.clear();
                }
                out.push(vec![c as u8]);
            } else {
                cur.push(c);
            }
        }
        if !cur.is_empty() {
            out.push(encode(&cur));
        }
    }
    out
}

/// A number as GHC's lexer reads its start: `(digits, fraction, exponent)`
/// and the rest, or `None` when the text does not start with a number.
struct Lexed<'a> {
    negative: bool,
    int: &'a [u8],
    frac: Option<&'a [u8]>,
    exp: Option<i64>,
    radix: u32,
    rest: &'a [u8],
}

fn lex_number(s: &[u8]) -> Option<Lexed<'_>> {
    let is_sp = |b: u8| b == b' ' || (9..=13).contains(&b);
    let mut i = 0;
    while i < s.len() && is_sp(s[i]) {
        i += 1;
    }
    let mut negative = false;
    if s.get(i) == Some(&b'-') {
        negative = true;
        i += 1;
        while i < s.len() && is_sp(s[i]) {
            i += 1;
        }
    }
    let rest = &s[i..];
    // 0x / 0o literals.
    if rest.len() > 2 && rest[0] == b'0' {
        let radix = match rest[1] {
            b'x' | b'X' => 16,
            b'o' | b'O' => 8,
            _ => 0,
        };
        if radix != 0 {
            let digits = rest[2..]
                .iter()
                .take_while(|b| (**b as char).is_digit(radix))
                .count();
            if digits > 0 {
                return Some(Lexed {
                    negative,
                    int: &rest[2..2 + digits],
                    frac: None,
                    exp: None,
                    radix,
                    rest: &rest[2 + digits..],
                });
            }
        }
    }
    let n = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 {
        return None;
    }
    let int = &rest[..n];
    let mut j = n;
    let mut frac = None;
    if rest.get(j) == Some(&b'.') {
        let f = rest[j + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if f > 0 {
            frac = Some(&rest[j + 1..j + 1 + f]);
            j += 1 + f;
        }
    }
    let mut exp = None;
    if matches!(rest.get(j), Some(b'e' | b'E')) {
        let mut k = j + 1;
        let mut eneg = false;
        if matches!(rest.get(k), Some(b'+' | b'-')) {
            eneg = rest[k] == b'-';
            k += 1;
        }
        let d = rest[k..].iter().take_while(|b| b.is_ascii_digit()).count();
        if d > 0 {
            let mut v: i64 = 0;
            for &b in &rest[k..k + d] {
                v = v.saturating_mul(10).saturating_add(i64::from(b - b'0'));
            }
            exp = Some(if eneg { -v } else { v });
            j = k + d;
        }
    }
    Some(Lexed {
        negative,
        int,
        frac,
        exp,
        radix: 10,
        rest: &rest[j..],
    })
}

/// git-annex's `readish` for an `Int`: a leading integer (anything after it
/// ignored), wrapping on overflow as GHC's `Int` does. A fraction or an
/// exponent makes it no number.
pub fn readish_int(s: &[u8]) -> Option<i64> {
    let l = lex_number(s)?;
    if l.frac.is_some() || l.exp.is_some() {
        return None;
    }
    let mut v: i64 = 0;
    for &b in l.int {
        let d = (b as char).to_digit(l.radix)?;
        v = v
            .wrapping_mul(i64::from(l.radix))
            .wrapping_add(i64::from(d));
    }
    Some(if l.negative { v.wrapping_neg() } else { v })
}

/// The leading `Double` of a string and the rest, as GHC's `reads` gives
/// its first parse.
pub(crate) fn reads_double(s: &[u8]) -> Option<(f64, &[u8])> {
    let l = lex_number(s)?;
    let v = if l.radix != 10 {
        let mut v = 0f64;
        for &b in l.int {
            v = v * f64::from(l.radix) + f64::from((b as char).to_digit(l.radix)?);
        }
        v
    } else {
        let mut text = String::from_utf8_lossy(l.int).into_owned();
        if let Some(f) = l.frac {
            text.push('.');
            text.push_str(&String::from_utf8_lossy(f));
        }
        if let Some(e) = l.exp {
            text.push_str(&format!("e{e}"));
        }
        text.parse::<f64>().ok()?
    };
    Some((if l.negative { -v } else { v }, l.rest))
}

/// git-annex's `readMaybe` for a `Double` (the whole text, white space
/// around allowed).
pub(crate) fn read_double(s: &[u8]) -> Option<f64> {
    let (v, rest) = reads_double(s)?;
    if rest.iter().all(|b| *b == b' ' || (9..=13).contains(b)) {
        Some(v)
    } else {
        None
    }
}

/// git-annex's `readSize dataUnits` (one reader for every size:
/// [`crate::units::read_size`]).
pub use crate::units::read_size;

/// Haskell's `show` of a string (how git-annex quotes a bad token).
pub fn haskell_show(s: &[u8]) -> String {
    const NAMES: [&str; 32] = [
        "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "a", "b", "t", "n", "v", "f", "r", "SO",
        "SI", "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM", "SUB", "ESC",
        "FS", "GS", "RS", "US",
    ];
    let cs = decode(s);
    let mut out = String::from("\"");
    let mut numeric_pending = false;
    let mut so_pending = false;
    for &c in &cs {
        let is_digit = (u32::from(b'0')..=u32::from(b'9')).contains(&c);
        if numeric_pending && is_digit {
            out.push_str("\\&");
        }
        if so_pending && c == u32::from(b'H') {
            out.push_str("\\&");
        }
        numeric_pending = false;
        so_pending = false;
        if c == u32::from(b'"') {
            out.push_str("\\\"");
        } else if c == u32::from(b'\\') {
            out.push_str("\\\\");
        } else if c < 32 {
            out.push('\\');
            out.push_str(NAMES[c as usize]);
            so_pending = c == 14;
        } else if c == 127 {
            out.push_str("\\DEL");
        } else if c >= 128 {
            out.push_str(&format!("\\{c}"));
            numeric_pending = true;
        } else if let Some(ch) = char::from_u32(c) {
            out.push(ch);
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(read_size(b"1kib"), Some(1024));
        assert_eq!(read_size(b"1k"), Some(1000));
        assert_eq!(read_size(b"1mbit"), Some(125_000));
        assert_eq!(read_size(b"1.5"), Some(2));
        assert_eq!(read_size(b"2.5"), Some(2));
        assert_eq!(read_size(b"1."), Some(1));
        assert_eq!(read_size(b".5"), None);
        assert_eq!(read_size(b"1 bogus"), None);
        assert_eq!(read_size(b"10kb!!"), Some(10_000));
    }

    #[test]
    fn ints() {
        assert_eq!(readish_int(b"2x"), Some(2));
        assert_eq!(readish_int(b"-3"), Some(-3));
        assert_eq!(readish_int(b"1.5"), None);
        assert_eq!(readish_int(b"1e3"), None);
        assert_eq!(readish_int(b"0x10"), Some(16));
        assert_eq!(readish_int(b""), None);
    }

    #[test]
    fn show() {
        assert_eq!(haskell_show(b"foo"), "\"foo\"");
        assert_eq!(haskell_show("é1".as_bytes()), "\"\\233\\&1\"");
        assert_eq!(haskell_show(b"a\tb"), "\"a\\tb\"");
    }

    #[test]
    fn tokens() {
        assert_eq!(
            tokenize(b"a (b or c)) "),
            vec![
                b"a".to_vec(),
                b"(".to_vec(),
                b"b".to_vec(),
                b"or".to_vec(),
                b"c".to_vec(),
                b")".to_vec(),
                b")".to_vec()
            ]
        );
    }
}
