//! URL keys: content named by the URL it is downloaded from.
//!
//! The key's name is made from the URL as WORM names are made from file
//! names ([`super::keyname::gen_key_name`]): sanitized, and cut with an MD5
//! suffix when the URL is longer than 64 bytes. `VURL` keys (what
//! `git annex addurl` and `fromkey` make now) are the same with another
//! backend name; their content can be verified against a checksum recorded
//! elsewhere.
//!
//! ```
//! use annex_core::backend::{url::url_key, FilenameEncoding};
//! let k = url_key(b"http://example.com/a?b=1", None, false, FilenameEncoding::Utf8);
//! assert_eq!(k.as_bytes(), b"URL--http://example.com/a,63b,611");
//! ```

use super::keyname::{FilenameEncoding, gen_key_name};
use crate::key::Key;

/// The key git-annex makes for `url`: `VURL` when `verifiable`, else
/// `URL`, with the size when known.
pub fn url_key(url: &[u8], size: Option<u64>, verifiable: bool, encoding: FilenameEncoding) -> Key {
    let backend: &[u8] = if verifiable { b"VURL" } else { b"URL" };
    Key::from_fields(
        backend,
        &gen_key_name(url, encoding),
        size,
        None,
        None,
        None,
    )
}

/// The URL key for a VURL key and the VURL key for a URL key; `None` for
/// other keys.
pub fn other_url_key(key: &Key) -> Option<Key> {
    let other: &[u8] = match key.backend_name() {
        b"URL" => b"VURL",
        b"VURL" => b"URL",
        _ => return None,
    };
    let (chunk_size, chunk_num) = key.chunk();
    Some(Key::from_fields(
        other,
        key.name(),
        key.size(),
        key.mtime(),
        chunk_size,
        chunk_num,
    ))
}
