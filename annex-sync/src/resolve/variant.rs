//! Variant file names: the names git-annex gives the versions of a file
//! kept when a merge conflict is resolved (`name.variant-XXXX.ext`).

use annex_core::key::Key;
use md5::{Digest, Md5};

/// What separates a file's name from the variant part.
pub const VARIANT_MARKER: &[u8] = b".variant-";

/// The first four hex digits of the MD5 of `data` (git-annex's weak
/// `shortHash`).
pub fn short_hash(data: &[u8]) -> String {
    let digest = Md5::digest(data);
    let mut out = String::with_capacity(4);
    for b in digest.iter().take(2) {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The name of the variant `variant` of `file` (a path from the top of the
/// work tree, `/`-separated), as git-annex's `mkVariant` makes it with
/// Haskell's `filepath` rules: the variant goes between the file's name and
/// its last extension (`a.tar.gz` gives `a.tar.variant-V.gz`). A name that
/// is all extension (a dotfile such as `.bashrc`) has an empty base, which
/// `</>` drops together with its `/`: the variant is then glued to the
/// directory (`d/.bashrc` gives `d.variant-V.bashrc`, `.bashrc` gives
/// `..variant-V.bashrc`), exactly as git-annex names them.
pub fn make_variant(file: &[u8], variant: &[u8]) -> Vec<u8> {
    let (dir, name): (&[u8], &[u8]) = match file.iter().rposition(|&c| c == b'/') {
        Some(0) => (b"/", &file[1..]),
        Some(i) => (&file[..i], &file[i + 1..]),
        None => (b".", file),
    };
    let (base, ext) = match name.iter().rposition(|&c| c == b'.') {
        Some(i) => (&name[..i], &name[i..]),
        None => (name, &name[name.len()..]),
    };
    let mut out = Vec::with_capacity(file.len() + VARIANT_MARKER.len() + variant.len() + 2);
    out.extend_from_slice(dir);
    if !base.is_empty() {
        if !dir.ends_with(b"/") {
            out.push(b'/');
        }
        out.extend_from_slice(base);
    }
    out.extend_from_slice(VARIANT_MARKER);
    out.extend_from_slice(variant);
    out.extend_from_slice(ext);
    // `./x` is `x` from the top of the work tree.
    match out.strip_prefix(b"./") {
        Some(rest) => rest.to_vec(),
        None => out,
    }
}

/// The name git-annex gives the version of `file` whose key is `key` when
/// it resolves a merge conflict (`variantFile`): the short hash of the
/// serialized key as the variant, or, when `file` already has a variant
/// marker anywhere in its path (a conflict between variants), the whole
/// key as its object file name.
pub fn variant_file(file: &[u8], key: &Key) -> Vec<u8> {
    let double_conflict = file
        .windows(VARIANT_MARKER.len())
        .any(|w| w == VARIANT_MARKER);
    if double_conflict {
        make_variant(file, &annex_core::objects::key_file(key))
    } else {
        make_variant(file, short_hash(key.as_bytes()).as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values recorded from the reference git-annex 10.20261026
    /// (`git annex resolvemerge` after a `git merge` where both sides made
    /// the file with `git annex fromkey` from these keys, or `git annex
    /// add` of `A\n` and `B\n` for `f`), as `ls-tree` showed the result.
    const RECORDED: &[(&str, &str, &str)] = &[
        (
            "f",
            "SHA256E-s2--c0cde77fa8fef97d476c10aad3d2d54fcc2f336140d073651c2dcccf1e379fd6",
            "f.variant-587e",
        ),
        (
            "f",
            "SHA256E-s2--06f961b802bc46ee168555f066d28f4f0e9afdf3f88174c1ee6f9de004fc30a0",
            "f.variant-54e0",
        ),
        (".dot", "SHA256E-s2--bb.txt", "..variant-049b.dot"),
        (".dot", "SHA256E-s1--aa.txt", "..variant-1b08.dot"),
        ("d/.dot", "SHA256E-s2--bb.txt", "d.variant-049b.dot"),
        (".a.b", "SHA256E-s1--aa.txt", ".a.variant-1b08.b"),
        ("d/.x/.y", "SHA256E-s2--bb.txt", "d/.x.variant-049b.y"),
        ("x.tar.gz", "WORM-s5-m100--foo", "x.tar.variant-2c95.gz"),
        ("x.tar.gz", "WORM-s6-m200--bar", "x.tar.variant-6f18.gz"),
        (
            "noext",
            "MD5-s3--0123456789abcdef0123456789abcdef",
            "noext.variant-1221",
        ),
        (
            "noext",
            "MD5-s4--fedcba9876543210fedcba9876543210",
            "noext.variant-cd35",
        ),
        (
            "v.variant-ab12.txt",
            "SHA256E-s10--with%slash",
            "v.variant-ab12.variant-SHA256E-s10--with&sslash.txt",
        ),
        (
            "dir.d/file",
            "URL--http&c%%example.com%x",
            "dir.d/file.variant-7e38",
        ),
        (
            "dir.d/file",
            "URL--http&c%%example.com%y",
            "dir.d/file.variant-6b00",
        ),
        (
            "dir.variant-1/f.txt",
            "SHA1-s0--da39a3ee5e6b4b0d3255bfef95601890afd80709",
            "dir.variant-1/f.variant-SHA1-s0--da39a3ee5e6b4b0d3255bfef95601890afd80709.txt",
        ),
        ("trail.", "SHA256-s2--bb", "trail.variant-376f."),
        ("trail.", "SHA256-s3--dd", "trail.variant-4a8c."),
        (
            "sp ace.mp3",
            "BLAKE2B256E-s7--cc.mp3",
            "sp ace.variant-eaf9.mp3",
        ),
        (
            "sp ace.mp3",
            "BLAKE2B256E-s8--ee.mp3",
            "sp ace.variant-3517.mp3",
        ),
    ];

    #[test]
    fn recorded_from_the_reference() {
        for (file, key, want) in RECORDED {
            let key = Key::parse(key.as_bytes()).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&variant_file(file.as_bytes(), &key)),
                *want,
                "{file} {key:?}"
            );
        }
    }

    #[test]
    fn short_hash_is_four_hex_digits_of_md5() {
        // md5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(short_hash(b""), "d41d");
        assert_eq!(short_hash(b"abc"), "9001");
    }
}
