//! The object store: where annexed content lives under `.git/annex/objects`.
//!
//! Two directory hashes exist. `hashdirmixed` (two levels of two mixed-case
//! characters, `0X/vW/`) is used for the object store of non-bare
//! repositories; `hashdirlower` (two levels of three hex digits, `18c/0c3/`)
//! for bare repositories and for the files of the `git-annex` branch. Both
//! are computed from the MD5 of the serialized key without its chunk fields.
//!
//! ```
//! use annex_core::{key::Key, objects};
//! let k = Key::parse(b"SHA256E-s10--abc.txt").unwrap();
//! assert_eq!(objects::hash_dir_lower(&k), "18c/0c3/");
//! assert_eq!(objects::hash_dir_mixed(&k), "0X/vW/");
//! assert_eq!(objects::key_file(&Key::parse(b"URL--http://x/y").unwrap()), b"URL--http&c%%x%y");
//! ```

use md5::{Digest, Md5};

use crate::key::Key;

mod store;

pub use store::{
    HashLayout, Ingested, ObjectStore, ObjectsError, OtherTmp, SharedRepository, StoreConfig,
};

fn key_md5(key: &Key) -> [u8; 16] {
    Md5::digest(key.non_chunk().as_bytes()).into()
}

/// The lower-case hash directory of a key, with a trailing `/`: `abc/def/`.
pub fn hash_dir_lower(key: &Key) -> String {
    let h = crate::backend::hex(&key_md5(key)[..3]);
    format!("{}/{}/", &h[..3], &h[3..])
}

/// The mixed-case hash directory of a key, with a trailing `/`: `Xy/Zw/`.
pub fn hash_dir_mixed(key: &Key) -> String {
    const CHARS: &[u8; 32] = b"0123456789zqjxkmvwgpfZQJXKMVWGPF";
    let d = key_md5(key);
    // The first little-endian 32-bit word of the digest, shown in 6-bit
    // steps (5 bits used each), pairs swapped; the first 4 characters count.
    let w = u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
    let c = |x: u32| CHARS[((w >> (6 * x)) & 31) as usize] as char;
    let mut s = String::with_capacity(6);
    s.push(c(1));
    s.push(c(0));
    s.push('/');
    s.push(c(3));
    s.push(c(2));
    s.push('/');
    s
}

/// A hash directory of a key in the given layout with one or two levels
/// (`annex.tune.objecthash1` makes it one), with a trailing `/`.
///
/// ```
/// use annex_core::{key::Key, objects::{hash_dir, HashLayout}};
/// let k = Key::parse(b"SHA256E-s10--abc.txt").unwrap();
/// assert_eq!(hash_dir(&k, HashLayout::Lower, false), "18c/0c3/");
/// assert_eq!(hash_dir(&k, HashLayout::Mixed, true), "0X/");
/// ```
pub fn hash_dir(key: &Key, layout: HashLayout, one_level: bool) -> String {
    let two = match layout {
        HashLayout::Mixed => hash_dir_mixed(key),
        HashLayout::Lower => hash_dir_lower(key),
    };
    if one_level {
        match two.find('/') {
            Some(i) => two[..=i].to_owned(),
            None => two,
        }
    } else {
        two
    }
}

/// The file name a key is stored under: its serialization with `&`, `%`,
/// `:` and `/` escaped as git-annex escapes them (`&a`, `&s`, `&c`, `%`).
pub fn key_file(key: &Key) -> Vec<u8> {
    let b = key.as_bytes();
    if !b.iter().any(|c| matches!(c, b'&' | b'%' | b':' | b'/')) {
        return b.to_vec();
    }
    let mut out = Vec::with_capacity(b.len() + 8);
    for &c in b {
        match c {
            b'&' => out.extend_from_slice(b"&a"),
            b'%' => out.extend_from_slice(b"&s"),
            b':' => out.extend_from_slice(b"&c"),
            b'/' => out.push(b'%'),
            _ => out.push(c),
        }
    }
    out
}

/// The reverse of [`key_file`]: the key named by a file name, if any.
///
/// Unescaping follows git-annex's `fileKey`: every `%` becomes `/`; an `&`
/// followed by `a`, `s` or `c` becomes `&`, `%` or `:`; an `&` followed by
/// any other byte is dropped and the byte kept; a trailing `&` is dropped.
/// (Checked against git-annex 10.20261026: `SHA1--a&xb` names `SHA1--axb`,
/// `SHA1--a&&b` and `SHA1--ab&` name `SHA1--ab`.)
pub fn file_key(file: &[u8]) -> Option<Key> {
    let mut out = Vec::with_capacity(file.len());
    let mut i = 0;
    while i < file.len() {
        match file[i] {
            b'%' => out.push(b'/'),
            b'&' => {
                match file.get(i + 1) {
                    Some(b'a') => out.push(b'&'),
                    Some(b's') => out.push(b'%'),
                    Some(b'c') => out.push(b':'),
                    // An empty escape: the `&` vanishes; a following `&`
                    // or `%` is read afresh.
                    Some(b'&' | b'%') | None => {
                        i += 1;
                        continue;
                    }
                    Some(&other) => out.push(other),
                }
                i += 1;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Key::parse(&out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Values recorded from `git annex examinekey --json`.
    #[test]
    fn hash_dirs_match_git_annex() {
        for (k, lower, mixed) in [
            ("SHA256E-s10--abc.txt", "18c/0c3/", "0X/vW/"),
            ("SHA256E-s10--a/b", "2e6/d14/", "fk/56/"),
            ("WORM-s1-m2--a%b", "a41/020/", "24/81/"),
            ("FOO--bar", "d73/548/", "JJ/g3/"),
            ("SHA1-s1-S10-C2--ab", "c4f/495/", "p4/5F/"),
            ("SHA1--", "5c2/3cb/", "xW/gg/"),
            ("URL--http://x/y", "d0e/544/", "Jv/wk/"),
        ] {
            let key = Key::parse(k.as_bytes()).unwrap();
            assert_eq!(hash_dir_lower(&key), lower, "{k}");
            assert_eq!(hash_dir_mixed(&key), mixed, "{k}");
        }
    }

    #[test]
    fn key_file_round_trips() {
        for k in ["WORM-s1-m2--a%b", "URL--http://x/y", "SHA1--a&b:c/d%e"] {
            let key = Key::parse(k.as_bytes()).unwrap();
            assert_eq!(file_key(&key_file(&key)), Some(key));
        }
        assert_eq!(
            key_file(&Key::parse(b"WORM-s1-m2--a%b").unwrap()),
            b"WORM-s1-m2--a&sb"
        );
    }

    // Unescaping as git-annex 10.20261026 does: `lookupkey` on symlinks to
    // `.git/annex/objects/xx/yy/F/F` gave these keys for these F.
    #[test]
    fn file_key_odd_escapes() {
        for (f, k) in [
            ("SHA1--a&xb", "SHA1--axb"),
            ("SHA1--a&&b", "SHA1--ab"),
            ("SHA1--ab&", "SHA1--ab"),
            ("SHA1--q9%%x", "SHA1--q9//x"),
            ("SHA1--%", "SHA1--/"),
        ] {
            assert_eq!(
                file_key(f.as_bytes()),
                Some(Key::parse(k.as_bytes()).unwrap()),
                "{f}"
            );
        }
        // `lookupkey` found no key for this one.
        assert_eq!(file_key(b"SHA1-&s1--x"), None);
    }

    proptest::proptest! {
        #[test]
        fn key_file_round_trips_any_name(name in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let key = Key::new(b"SHA1", &name);
            let file = key_file(&key);
            proptest::prop_assert!(!file.contains(&b'/'));
            proptest::prop_assert_eq!(file_key(&file), Some(key));
        }
    }
}
