//! Backends: how a key is made from a file's content.
//!
//! To be filled: SHA256E, SHA256, SHA512E, SHA512, SHA1E, SHA1, MD5E, MD5,
//! BLAKE3_256E, BLAKE3_256 (hashing in constant memory), WORM and URL keys,
//! and the extension rules of the E variants.
