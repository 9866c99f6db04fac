//! Backends: how a key is made from a file's content.
//!
//! The hashing backends (`SHA256E`, `SHA256`, `SHA512E`, `SHA512`,
//! `SHA224E`, `SHA224`, `SHA384E`, `SHA384`, `BLAKE3_256E`, `BLAKE3_256`,
//! `SHA1E`, `SHA1`, `MD5E`, `MD5`) name a key after the hash of the
//! content, in lower-case hex, and record its size; the `E` variants add the
//! file's extension (see [`extension`]). `WORM` names a key after the file's
//! path relative to the top of the work tree (see [`path::top_file_path`]),
//! its size and its modification time (see [`keyname`]). URL keys are made
//! by [`url::url_key`].
//!
//! Hashing streams the content through a fixed 1 MiB buffer, so memory use
//! does not grow with the file; BLAKE3 hashes each buffer on every core.
//!
//! A file that changes while it is hashed: [`Backend::key_for_file`] checks
//! the file's size and modification time before and after reading it (and
//! that the number of bytes read is the size it had), and returns
//! [`BackendError::Changed`] when they differ, rather than a key that may
//! describe no version of the file.
//!
//! ```
//! use annex_core::backend::{Backend, KeyOptions};
//! let key = Backend::Sha256E
//!     .key_for_reader(&b"hello"[..], "dir/a.tar.gz".as_ref(), &KeyOptions::default())
//!     .unwrap();
//! assert_eq!(
//!     key.as_bytes(),
//!     &b"SHA256E-s5--2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824.tar.gz"[..]
//! );
//! assert_eq!(Backend::from_name("MD5"), Some(Backend::Md5));
//! ```

pub mod extension;
pub mod keyname;
pub mod path;
pub mod url;

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use md5::Digest;

use crate::key::Key;
pub use keyname::FilenameEncoding;

/// Size of the buffer content is hashed through.
pub const HASH_BUFFER_SIZE: usize = 1 << 20;

/// Inputs at least this long are hashed by BLAKE3 on every core.
const BLAKE3_PARALLEL_MIN: usize = 128 * 1024;

/// Why a key could not be made or content could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// Opening, reading or examining a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// Reading from a reader failed while hashing content for the file
    /// `name` (the name given to [`Backend::key_for_reader`]).
    #[error("reading content to hash for {name}: {source}")]
    Read {
        /// The file the content is for.
        name: PathBuf,
        /// What failed.
        #[source]
        source: io::Error,
    },
    /// The file changed while it was being hashed.
    #[error("{path}: changed while it was being hashed")]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// The backend needs a file (WORM records its modification time), not a
    /// stream.
    #[error("backend {backend} cannot make a key from a stream")]
    NeedsFile {
        /// The backend's name.
        backend: &'static str,
    },
    /// The file's modification time is before 1970, which a key cannot hold
    /// (git-annex writes a key with `-m-N` that it cannot parse back).
    #[error("{path}: modification time {mtime} is before 1970")]
    NegativeMtime {
        /// The file.
        path: PathBuf,
        /// Seconds since the epoch.
        mtime: i64,
    },
    /// A WORM key was asked for a file whose name is absolute: the name must
    /// be relative to the top of the work tree (see
    /// [`path::top_file_path`]), or the key would depend on where the
    /// repository is.
    #[error("{name}: WORM needs the file's path relative to the top of the work tree")]
    NameNotRelative {
        /// The name given.
        name: PathBuf,
    },
    /// The key was not made by this backend.
    #[error("key {key} is not a {backend} key")]
    WrongBackend {
        /// The key, lossily decoded and cut as [`crate::key::KeyError`]
        /// quotes keys.
        key: String,
        /// The backend's name.
        backend: &'static str,
    },
}

/// Settings that change the keys a backend makes (git config in git-annex).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyOptions {
    /// `annex.maxextensionlength`: the longest extension part kept, in bytes.
    pub max_extension_length: usize,
    /// `annex.maxextensions`: how many extension parts are kept.
    pub max_extensions: usize,
    /// How file names are decoded for WORM keys (git-annex's locale).
    pub filename_encoding: FilenameEncoding,
}

impl Default for KeyOptions {
    fn default() -> Self {
        KeyOptions {
            max_extension_length: extension::DEFAULT_MAX_EXTENSION_LENGTH,
            max_extensions: extension::DEFAULT_MAX_EXTENSIONS,
            filename_encoding: FilenameEncoding::Utf8,
        }
    }
}

/// What a key is made from: the content, and the file it is for.
///
/// For `git annex calckey FILE`, the content is `FILE` as given and the
/// name is [`path::top_file_path`]`(top, FILE)`:
///
/// ```no_run
/// use annex_core::backend::{path::top_file_path, Backend, KeyOptions, KeySource};
/// use std::path::Path;
/// let file = Path::new("../d/./a");
/// let name = top_file_path(Path::new("/repo"), file).unwrap();
/// let source = KeySource { content: file, name: &name };
/// let key = Backend::Worm.key_for_file(&source, &KeyOptions::default()).unwrap();
/// ```
#[derive(Debug, Clone, Copy)]
pub struct KeySource<'a> {
    /// The file whose content is keyed.
    pub content: &'a Path,
    /// The work-tree file the key is for, relative to the top of the work
    /// tree (as [`path::top_file_path`] makes it; it starts with `..` for a
    /// file outside the work tree). `E` backends take the extension from
    /// its last component; WORM uses all of it, simplified lexically (`.`
    /// dropped, `dir/..` folded), and refuses an absolute name.
    pub name: &'a Path,
}

impl<'a> KeySource<'a> {
    /// A source whose content is at its name: `path` is opened as given
    /// (relative to the current directory) and is also the name, so for
    /// WORM it must be relative to the top of the work tree (true when the
    /// current directory is the top and `path` is relative).
    pub fn new(path: &'a Path) -> Self {
        KeySource {
            content: path,
            name: path,
        }
    }
}

/// A backend that makes keys from files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// `SHA256E`, git-annex's default.
    Sha256E,
    /// `SHA256`.
    Sha256,
    /// `SHA512E`.
    Sha512E,
    /// `SHA512`.
    Sha512,
    /// `SHA224E`.
    Sha224E,
    /// `SHA224`.
    Sha224,
    /// `SHA384E`.
    Sha384E,
    /// `SHA384`.
    Sha384,
    /// `BLAKE3_256E`.
    Blake3E,
    /// `BLAKE3_256`.
    Blake3,
    /// `SHA1E`.
    Sha1E,
    /// `SHA1`.
    Sha1,
    /// `MD5E`.
    Md5E,
    /// `MD5`.
    Md5,
    /// `WORM`: file name, size and modification time.
    Worm,
}

/// The hash functions behind the hashing backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashKind {
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// BLAKE3 with 256-bit output.
    Blake3,
    /// SHA-1.
    Sha1,
    /// MD5.
    Md5,
}

/// A key name split at its first `.`: the hash (or WORM name) and the
/// extension, as git-annex's `splitKeyNameExtension`.
fn split_extension(name: &[u8]) -> (&[u8], &[u8]) {
    let dot = name.iter().position(|&b| b == b'.').unwrap_or(name.len());
    name.split_at(dot)
}

impl Backend {
    /// Every backend, git-annex's default first.
    pub const ALL: [Backend; 15] = [
        Backend::Sha256E,
        Backend::Sha256,
        Backend::Sha512E,
        Backend::Sha512,
        Backend::Sha224E,
        Backend::Sha224,
        Backend::Sha384E,
        Backend::Sha384,
        Backend::Blake3E,
        Backend::Blake3,
        Backend::Sha1E,
        Backend::Sha1,
        Backend::Md5E,
        Backend::Md5,
        Backend::Worm,
    ];

    /// The backend of this name (`SHA256E`, `WORM`, ...), if we have it.
    pub fn from_name(name: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The backend that made `key`, if we have it.
    pub fn for_key(key: &Key) -> Option<Backend> {
        std::str::from_utf8(key.backend_name())
            .ok()
            .and_then(Backend::from_name)
    }

    /// The backend's name, as in keys.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sha256E => "SHA256E",
            Backend::Sha256 => "SHA256",
            Backend::Sha512E => "SHA512E",
            Backend::Sha512 => "SHA512",
            Backend::Sha224E => "SHA224E",
            Backend::Sha224 => "SHA224",
            Backend::Sha384E => "SHA384E",
            Backend::Sha384 => "SHA384",
            Backend::Blake3E => "BLAKE3_256E",
            Backend::Blake3 => "BLAKE3_256",
            Backend::Sha1E => "SHA1E",
            Backend::Sha1 => "SHA1",
            Backend::Md5E => "MD5E",
            Backend::Md5 => "MD5",
            Backend::Worm => "WORM",
        }
    }

    /// The hash function, for hashing backends.
    pub fn hash_kind(self) -> Option<HashKind> {
        Some(match self {
            Backend::Sha256E | Backend::Sha256 => HashKind::Sha256,
            Backend::Sha512E | Backend::Sha512 => HashKind::Sha512,
            Backend::Sha224E | Backend::Sha224 => HashKind::Sha224,
            Backend::Sha384E | Backend::Sha384 => HashKind::Sha384,
            Backend::Blake3E | Backend::Blake3 => HashKind::Blake3,
            Backend::Sha1E | Backend::Sha1 => HashKind::Sha1,
            Backend::Md5E | Backend::Md5 => HashKind::Md5,
            Backend::Worm => return None,
        })
    }

    /// Whether the backend adds the file's extension to the key's name
    /// (the rule of [`crate::key::backend_has_extension`]).
    pub fn has_extension(self) -> bool {
        crate::key::backend_has_extension(self.name().as_bytes())
    }

    /// Whether the backend's keys are cryptographically secure hashes
    /// (the rule of [`crate::key::KeyVariety::is_secure_hash`]).
    pub fn is_cryptographically_secure(self) -> bool {
        crate::key::KeyVariety::from_name(self.name().as_bytes()).is_secure_hash()
    }

    /// A hasher for incremental verification, for hashing backends.
    pub fn hasher(self) -> Option<ContentHasher> {
        self.hash_kind().map(ContentHasher::new)
    }

    fn hashed_key(self, hex: &str, size: u64, name: &Path, opts: &KeyOptions) -> Key {
        let mut key_name = hex.as_bytes().to_vec();
        if self.has_extension() {
            key_name.extend_from_slice(&extension::select_extension(
                name.as_os_str().as_bytes(),
                opts.max_extension_length,
                opts.max_extensions,
            ));
        }
        Key::from_fields(
            self.name().as_bytes(),
            &key_name,
            Some(size),
            None,
            None,
            None,
        )
    }

    /// Whether `key` (a key of this backend) is one that git-annex's
    /// `migrate` moves to a corrected key even when the backend stays the
    /// same: for hashing backends, a hash written with a leading `\` (an
    /// old bug), an extension holding characters extensions may not hold,
    /// or a backend without extensions whose key still carries one (an
    /// old `migrate` from `SHA256E` to `SHA256` left those); for WORM, a
    /// name holding a space or a carriage return (sanitized by an old
    /// version).
    pub fn needs_upgrade(self, key: &Key) -> bool {
        let name = key.name();
        if self.hash_kind().is_none() {
            return name.iter().any(|&b| b == b' ' || b == b'\r');
        }
        let (hash, ext) = split_extension(name);
        hash.first() == Some(&b'\\')
            || ext.iter().any(|&b| !extension::valid_in_extension(b))
            || (!self.has_extension() && !ext.is_empty())
    }

    /// The key of this backend for the content of `key` found without
    /// reading the content, as git-annex's fast migration finds it: between
    /// the two backends of one hash (`SHA256E` and `SHA256`: the hash kept,
    /// the extension of `file` added or dropped), a key without
    /// extensions that still carries one (the extension dropped), and a
    /// WORM key of an old sanitizing (sanitized again, see
    /// [`keyname::resanitize_key_name`]). `None` when the content must be
    /// hashed. `file` is the path of the file (for the extension).
    pub fn fast_migrate(self, key: &Key, file: &[u8], opts: &KeyOptions) -> Option<Key> {
        let old = Backend::for_key(key)?;
        let with_name = |name: &[u8]| {
            Key::from_fields(
                self.name().as_bytes(),
                name,
                key.size(),
                key.mtime(),
                None,
                None,
            )
        };
        let (hash, _) = split_extension(key.name());
        match (old.hash_kind(), self.hash_kind()) {
            (None, None) => (self == old).then(|| {
                with_name(&keyname::resanitize_key_name(
                    key.name(),
                    opts.filename_encoding,
                ))
            }),
            (Some(a), Some(b)) if a == b && old != self => {
                if old.has_extension() {
                    Some(with_name(hash))
                } else {
                    let mut name = hash.to_vec();
                    name.extend_from_slice(&extension::select_extension(
                        file,
                        opts.max_extension_length,
                        opts.max_extensions,
                    ));
                    Some(with_name(&name))
                }
            }
            (Some(_), Some(_)) if old == self && !self.has_extension() && hash != key.name() => {
                Some(with_name(hash))
            }
            _ => None,
        }
    }

    /// Makes the key of a file, as `git annex calckey` does.
    pub fn key_for_file(
        self,
        source: &KeySource<'_>,
        opts: &KeyOptions,
    ) -> Result<Key, BackendError> {
        let path = source.content;
        let with_path = |e: io::Error| BackendError::Io {
            path: path.to_path_buf(),
            source: e,
        };
        let Some(kind) = self.hash_kind() else {
            return self.worm_key(source, opts);
        };
        let mut file = File::open(path).map_err(with_path)?;
        let before = file.metadata().map_err(with_path)?;
        let buf_len = usize::try_from(before.len().saturating_add(1))
            .unwrap_or(HASH_BUFFER_SIZE)
            .clamp(4096, HASH_BUFFER_SIZE);
        let mut hasher = ContentHasher::new(kind);
        hash_reader(&mut hasher, &mut file, buf_len).map_err(with_path)?;
        let after = file.metadata().map_err(with_path)?;
        if hasher.bytes_hashed() != before.len()
            || after.len() != before.len()
            || after.mtime() != before.mtime()
            || after.mtime_nsec() != before.mtime_nsec()
        {
            return Err(BackendError::Changed {
                path: path.to_path_buf(),
            });
        }
        let size = hasher.bytes_hashed();
        Ok(self.hashed_key(&hasher.finish(), size, source.name, opts))
    }

    /// Makes a key from a stream of content, for a file named `name`
    /// (relative to the top of the repository). The size is the number of
    /// bytes read. WORM cannot make keys from streams.
    pub fn key_for_reader<R: Read>(
        self,
        mut reader: R,
        name: &Path,
        opts: &KeyOptions,
    ) -> Result<Key, BackendError> {
        let Some(kind) = self.hash_kind() else {
            return Err(BackendError::NeedsFile {
                backend: self.name(),
            });
        };
        let mut hasher = ContentHasher::new(kind);
        hash_reader(&mut hasher, &mut reader, HASH_BUFFER_SIZE).map_err(|source| {
            BackendError::Read {
                name: name.to_path_buf(),
                source,
            }
        })?;
        let size = hasher.bytes_hashed();
        Ok(self.hashed_key(&hasher.finish(), size, name, opts))
    }

    fn worm_key(self, source: &KeySource<'_>, opts: &KeyOptions) -> Result<Key, BackendError> {
        let path = source.content;
        let meta = std::fs::metadata(path).map_err(|e| BackendError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let mtime = u64::try_from(meta.mtime()).map_err(|_| BackendError::NegativeMtime {
            path: path.to_path_buf(),
            mtime: meta.mtime(),
        })?;
        if source.name.is_absolute() {
            return Err(BackendError::NameNotRelative {
                name: source.name.to_path_buf(),
            });
        }
        // git-annex names WORM keys after the simplified path relative to
        // the top (`toTopFilePath`): `./d/a` and `d/../d/a` are `d/a`.
        let simplified: PathBuf = path::simplify(source.name).into_iter().collect();
        let name = keyname::gen_key_name(simplified.as_os_str().as_bytes(), opts.filename_encoding);
        Ok(Key::from_fields(
            b"WORM",
            &name,
            Some(meta.len()),
            Some(mtime),
            None,
            None,
        ))
    }

    /// Whether the file at `path` has the content `key` names.
    ///
    /// The size is checked first (when the key records one); then, for
    /// hashing backends, the content is hashed and compared with the hash
    /// in the key's name (the part before the first `.`; a leading `\`, left
    /// by an old git-annex bug, is allowed as git-annex allows it). WORM keys
    /// have no checksum: only their size is checked. A key of another
    /// backend is an error. The answer is about the bytes read: content that
    /// changes while it is verified may give `false` (or `true` for the
    /// version that was read); no change detection is done here, unlike
    /// [`Backend::key_for_file`].
    pub fn verify(self, key: &Key, path: &Path) -> Result<bool, BackendError> {
        if key.backend_name() != self.name().as_bytes() {
            return Err(BackendError::WrongBackend {
                key: crate::key::quoted(key.as_bytes()),
                backend: self.name(),
            });
        }
        let with_path = |e: io::Error| BackendError::Io {
            path: path.to_path_buf(),
            source: e,
        };
        let mut file = File::open(path).map_err(with_path)?;
        let meta = file.metadata().map_err(with_path)?;
        if key.size().is_some_and(|s| s != meta.len()) {
            return Ok(false);
        }
        let Some(mut hasher) = self.hasher() else {
            return Ok(true);
        };
        let buf_len = usize::try_from(meta.len().saturating_add(1))
            .unwrap_or(HASH_BUFFER_SIZE)
            .clamp(4096, HASH_BUFFER_SIZE);
        hash_reader(&mut hasher, &mut file, buf_len).map_err(with_path)?;
        if key.size().is_some_and(|s| s != hasher.bytes_hashed()) {
            return Ok(false);
        }
        Ok(hasher.matches(key))
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether content received over a network into `path` may be taken as
/// `key`'s: its size is the key's (when the key has one) and its hash
/// matches; a key with no hash to check is taken only when the sender did
/// not see the content change while sending (`changed`, the P2P
/// protocol's `INVALID`).
pub fn received_content_ok(key: &Key, path: &Path, changed: bool) -> bool {
    let size_ok = match (key.size(), std::fs::metadata(path)) {
        (Some(s), Ok(m)) => m.len() == s,
        (None, Ok(_)) => true,
        (_, Err(_)) => false,
    };
    size_ok
        && match verify_key(key, path) {
            Ok(Some(ok)) => ok,
            Ok(None) => !changed,
            Err(_) => false,
        }
}

/// Whether the file at `path` has the content `key` names, with the backend
/// named in the key. `Ok(None)` when we have no such backend.
pub fn verify_key(key: &Key, path: &Path) -> Result<Option<bool>, BackendError> {
    match Backend::for_key(key) {
        Some(b) => b.verify(key, path).map(Some),
        None => Ok(None),
    }
}

fn hash_reader<R: Read + ?Sized>(
    hasher: &mut ContentHasher,
    reader: &mut R,
    buf_len: usize,
) -> io::Result<()> {
    let mut buf = vec![0u8; buf_len];
    loop {
        // Fill the buffer as far as the reader allows, so BLAKE3 gets large
        // chunks to spread over the cores.
        let mut filled = 0;
        while filled < buf.len() {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if filled == 0 {
            return Ok(());
        }
        hasher.update(&buf[..filled]);
        if filled < buf.len() {
            return Ok(());
        }
    }
}

enum HashState {
    Sha224(sha2::Sha224),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
    Blake3(Box<blake3::Hasher>),
    Sha1(sha1::Sha1),
    Md5(md5::Md5),
}

/// Hashes content fed to it piece by piece: for incremental verification
/// while content is received.
pub struct ContentHasher {
    state: HashState,
    len: u64,
}

impl std::fmt::Debug for ContentHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentHasher")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl ContentHasher {
    /// A hasher with nothing hashed yet.
    pub fn new(kind: HashKind) -> ContentHasher {
        let state = match kind {
            HashKind::Sha224 => HashState::Sha224(sha2::Sha224::new()),
            HashKind::Sha256 => HashState::Sha256(sha2::Sha256::new()),
            HashKind::Sha384 => HashState::Sha384(sha2::Sha384::new()),
            HashKind::Sha512 => HashState::Sha512(sha2::Sha512::new()),
            HashKind::Blake3 => HashState::Blake3(Box::new(blake3::Hasher::new())),
            HashKind::Sha1 => HashState::Sha1(sha1::Sha1::new()),
            HashKind::Md5 => HashState::Md5(md5::Md5::new()),
        };
        ContentHasher { state, len: 0 }
    }

    /// Hashes more content.
    pub fn update(&mut self, data: &[u8]) {
        self.len += data.len() as u64;
        match &mut self.state {
            HashState::Sha224(h) => h.update(data),
            HashState::Sha256(h) => h.update(data),
            HashState::Sha384(h) => h.update(data),
            HashState::Sha512(h) => h.update(data),
            HashState::Blake3(h) => {
                if data.len() >= BLAKE3_PARALLEL_MIN {
                    h.update_rayon(data);
                } else {
                    h.update(data);
                }
            }
            HashState::Sha1(h) => h.update(data),
            HashState::Md5(h) => h.update(data),
        }
    }

    /// How many bytes have been hashed.
    pub fn bytes_hashed(&self) -> u64 {
        self.len
    }

    /// The hash, in lower-case hex.
    pub fn finish(self) -> String {
        match self.state {
            HashState::Sha224(h) => hex(&h.finalize()),
            HashState::Sha256(h) => hex(&h.finalize()),
            HashState::Sha384(h) => hex(&h.finalize()),
            HashState::Sha512(h) => hex(&h.finalize()),
            HashState::Blake3(h) => hex(h.finalize().as_bytes()),
            HashState::Sha1(h) => hex(&h.finalize()),
            HashState::Md5(h) => hex(&h.finalize()),
        }
    }

    /// Whether what was hashed is the content of `key`: its hash equals
    /// the key's name up to the first `.` (or that with a leading `\`), and
    /// its size the key's size when it has one.
    pub fn matches(self, key: &Key) -> bool {
        if key.size().is_some_and(|s| s != self.len) {
            return false;
        }
        let name = key.name();
        let expected = &name[..name.len() - key.extension().len()];
        let got = self.finish();
        expected == got.as_bytes() || expected.strip_prefix(b"\\") == Some(got.as_bytes())
    }
}

/// Lower-case hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Key {
        Key::parse(s.as_bytes()).expect("a key")
    }

    const H: &str = "87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7";

    #[test]
    fn keys_git_annex_upgrades_are_found() {
        let up = |b: Backend, k: &str| b.needs_upgrade(&key(k));
        assert!(!up(Backend::Sha256E, &format!("SHA256E-s2--{H}.txt")));
        assert!(!up(Backend::Sha256, &format!("SHA256-s2--{H}")));
        // An extension left in a key without extensions.
        assert!(up(Backend::Sha256, &format!("SHA256-s2--{H}.txt")));
        // A character extensions may not hold.
        assert!(up(Backend::Sha256E, &format!("SHA256E-s2--{H}.t_t")));
        // The leading backslash of an old bug.
        assert!(up(Backend::Sha256E, &format!("SHA256E-s2--\\{H}")));
        assert!(up(Backend::Worm, "WORM-s2-m1--a b"));
        assert!(!up(Backend::Worm, "WORM-s2-m1--a,32b"));
    }

    #[test]
    fn fast_migration_finds_the_keys_git_annex_finds() {
        let opts = KeyOptions::default();
        let e = key(&format!("SHA256E-s2--{H}.txt"));
        let plain = key(&format!("SHA256-s2--{H}"));
        assert_eq!(
            Backend::Sha256.fast_migrate(&e, b"d/a.txt", &opts),
            Some(plain.clone())
        );
        // The extension comes from the file, not the old key.
        assert_eq!(
            Backend::Sha256E.fast_migrate(&plain, b"d/a.tar.gz", &opts),
            Some(key(&format!("SHA256E-s2--{H}.tar.gz")))
        );
        // An extension left in a key without extensions is dropped.
        let left = key(&format!("SHA256-s2--{H}.txt"));
        assert_eq!(
            Backend::Sha256.fast_migrate(&left, b"a.txt", &opts),
            Some(plain.clone())
        );
        // Another hash, or WORM, needs the content.
        assert_eq!(Backend::Sha1.fast_migrate(&e, b"a.txt", &opts), None);
        assert_eq!(Backend::Worm.fast_migrate(&e, b"a.txt", &opts), None);
        assert_eq!(Backend::Sha256.fast_migrate(&plain, b"a.txt", &opts), None);
        let w = key("WORM-s2-m1--a b");
        assert_eq!(Backend::Sha256E.fast_migrate(&w, b"a b", &opts), None);
        assert_eq!(
            Backend::Worm.fast_migrate(&w, b"a b", &opts),
            Some(key("WORM-s2-m1--a,32b"))
        );
    }
}
