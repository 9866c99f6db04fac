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
