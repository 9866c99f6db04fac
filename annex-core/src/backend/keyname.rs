//! Key names made from text (WORM file names, URLs): sanitized, and
//! shortened with an MD5 suffix when long, as git-annex's `genKeyName` does.
//!
//! git-annex first decodes the bytes into characters with the locale's
//! file-system encoding (GHC's round-tripping decoder: a byte that is not
//! part of a valid character becomes the lone surrogate `U+DC00 + byte`),
//! then keeps ASCII letters, digits and `.-_/%:` as they are, doubles `,`,
//! and writes every other character as `,` and its decimal code point. When
//! the original bytes are longer than 64, the sanitized name is cut to 31
//! bytes and `-` and the MD5 (hex) of the original bytes are appended.
//!
//! ```
//! use annex_core::backend::keyname::{gen_key_name, FilenameEncoding};
//! assert_eq!(gen_key_name("b c,é".as_bytes(), FilenameEncoding::Utf8), b"b,32c,,,233");
//! assert_eq!(gen_key_name("é".as_bytes(), FilenameEncoding::Ascii), b",56515,56489");
//! ```

use md5::{Digest, Md5};

/// How git-annex decodes file names and URLs into characters; this follows
/// its locale (`LC_ALL`, `LC_CTYPE`, `LANG`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FilenameEncoding {
    /// A UTF-8 locale (`C.UTF-8`, `en_US.UTF-8`, ...): valid UTF-8
    /// sequences are characters, other bytes are escaped one by one.
    #[default]
    Utf8,
    /// The `C`/`POSIX` locale (or a locale that is not installed): every
    /// byte above 127 is escaped on its own.
    Ascii,
}

impl FilenameEncoding {
    /// A guess from the environment, as a C program's `setlocale(LC_ALL, "")`
    /// would see it: the first of `LC_ALL`, `LC_CTYPE`, `LANG` that is set
    /// and non-empty decides; UTF-8 when it names UTF-8. It cannot tell
    /// whether that locale is installed (git-annex falls back to ASCII when
    /// it is not).
    pub fn from_env() -> FilenameEncoding {
        for var in ["LC_ALL", "LC_CTYPE", "LANG"] {
            if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
                let v = v.to_string_lossy().to_ascii_lowercase();
                return if v.contains("utf-8") || v.contains("utf8") {
                    FilenameEncoding::Utf8
                } else {
                    FilenameEncoding::Ascii
                };
            }
        }
        FilenameEncoding::Ascii
    }
}

/// Longest name kept whole (the length of a SHA256 in hex).
const MAX_WHOLE: usize = 64;
/// Bytes of the sanitized name kept before `-MD5` when shortening.
const TRUNCATED: usize = MAX_WHOLE - 32 - 1;

fn push_escaped(out: &mut Vec<u8>, code_point: u32) {
    out.push(b',');
    out.extend_from_slice(code_point.to_string().as_bytes());
}

fn push_char(out: &mut Vec<u8>, c: char) {
    push_char_with(out, c, b",,");
}

/// [`push_char`] with the form a `,` takes (`,,` when sanitizing, `,`
/// when sanitizing a name again: its commas are already escapes).
fn push_char_with(out: &mut Vec<u8>, c: char, comma: &[u8]) {
    match c {
        'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '_' | '/' | '%' | ':' => out.push(c as u8),
        ',' => out.extend_from_slice(comma),
        _ => push_escaped(out, u32::from(c)),
    }
}

/// A key name sanitized by an old git-annex (which left spaces and other
/// characters in WORM keys) sanitized again as git-annex's
/// `reSanitizeKeyName` does: every `,` is kept as it is (it already
/// escapes something), every other character is treated as
/// [`sanitize_key_name`] treats it. What `migrate` does to such keys.
///
/// ```
/// use annex_core::backend::keyname::{resanitize_key_name, FilenameEncoding};
/// assert_eq!(resanitize_key_name(b"a b,,c", FilenameEncoding::Utf8), b"a,32b,,c");
/// ```
pub fn resanitize_key_name(input: &[u8], encoding: FilenameEncoding) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + 8);
    match encoding {
        FilenameEncoding::Ascii => {
            for &b in input {
                if b < 128 {
                    push_char_with(&mut out, char::from(b), b",");
                } else {
                    push_escaped(&mut out, 0xDC00 + u32::from(b));
                }
            }
        }
        FilenameEncoding::Utf8 => {
            for chunk in input.utf8_chunks() {
                for c in chunk.valid().chars() {
                    push_char_with(&mut out, c, b",");
                }
                for &b in chunk.invalid() {
                    push_escaped(&mut out, 0xDC00 + u32::from(b));
                }
            }
        }
    }
    out
}

/// Sanitizes bytes as git-annex's `preSanitizeKeyName` does, after decoding
/// them with `encoding`. The result is ASCII.
pub fn sanitize_key_name(input: &[u8], encoding: FilenameEncoding) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + 8);
    match encoding {
        FilenameEncoding::Ascii => {
            for &b in input {
                if b < 128 {
                    push_char(&mut out, char::from(b));
                } else {
                    push_escaped(&mut out, 0xDC00 + u32::from(b));
                }
            }
        }
        FilenameEncoding::Utf8 => {
            for chunk in input.utf8_chunks() {
                for c in chunk.valid().chars() {
                    push_char(&mut out, c);
                }
                for &b in chunk.invalid() {
                    push_escaped(&mut out, 0xDC00 + u32::from(b));
                }
            }
        }
    }
    out
}

/// The key name git-annex's `genKeyName` makes from `input`.
pub fn gen_key_name(input: &[u8], encoding: FilenameEncoding) -> Vec<u8> {
    let mut name = sanitize_key_name(input, encoding);
    if input.len() > MAX_WHOLE {
        // The sanitized name is ASCII, so any cut is at a character boundary.
        name.truncate(TRUNCATED);
        name.push(b'-');
        let digest = Md5::digest(input);
        name.extend_from_slice(super::hex(&digest).as_bytes());
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    // Recorded from `git annex calckey --backend=WORM` with LC_ALL=C.UTF-8
    // (git-annex 10.20261026).
    #[test]
    fn utf8_decoding_matches_recorded_reference() {
        for (name, want) in [
            (&b"o\xc0\xaf"[..], "o,56512,56495"),
            (b"s\xed\xa0\x80", "s,56557,56480,56448"),
            (b"t\xe6\x97", "t,56550,56471"),
            (b"m\xf4\x8f\xbf\xbf", "m,1114111"),
            (b"b\xf4\x90\x80\x80", "b,56564,56464,56448,56448"),
            (b"u\xe6\x97x", "u,56550,56471x"),
            (b"n\xef\xbf\xbe", "n,65534"),
            (b"e\xf0\x9f\x98\x80", "e,128512"),
            (b"w\xc2\xa0", "w,160"),
            (b"a,b", "a,,b"),
            (b"nl\nx", "nl,10x"),
            (b"q?&=#~+!", "q,63,38,61,35,126,43,33"),
        ] {
            assert_eq!(
                gen_key_name(name, FilenameEncoding::Utf8),
                want.as_bytes(),
                "{name:?}"
            );
        }
    }

    #[test]
    fn long_names_get_md5_suffix() {
        // Recorded from git-annex as above.
        let n = "a".repeat(65);
        assert_eq!(
            gen_key_name(n.as_bytes(), FilenameEncoding::Utf8),
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-c743a45e0d2e6a95cb859adae0248435"
        );
        // 64 bytes: kept whole even though its sanitized form is longer.
        let n = format!("é{}", "b".repeat(62));
        assert_eq!(
            gen_key_name(n.as_bytes(), FilenameEncoding::Utf8),
            format!(",233{}", "b".repeat(62)).as_bytes()
        );
    }
}
