//! Repository UUIDs.
//!
//! git-annex gives each repository a random version-4 UUID, kept in git
//! config as `annex.uuid`. A few special UUIDs stand for the web and for
//! BitTorrent. Logs may hold any UUID-like token (one without white space),
//! so [`Uuid`] accepts any non-empty string without white space.

use std::fmt;

/// A repository UUID.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uuid(String);

/// The UUID that stands for the web (URLs registered for keys).
pub const WEB_UUID: &str = "00000000-0000-0000-0000-000000000001";
/// The UUID that stands for BitTorrent.
pub const BITTORRENT_UUID: &str = "00000000-0000-0000-0000-000000000002";

/// Why a string is not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UuidError {
    /// Empty.
    #[error("empty UUID")]
    Empty,
    /// Contains white space or is not UTF-8.
    #[error("bad UUID {0:?}: contains white space or is not UTF-8")]
    Invalid(String),
}

impl Uuid {
    /// A new random (version 4) UUID, as `git annex init` makes.
    pub fn new_random() -> Uuid {
        Uuid(::uuid::Uuid::new_v4().hyphenated().to_string())
    }

    /// Parses a UUID as it appears in logs and config.
    pub fn parse(s: &[u8]) -> Result<Uuid, UuidError> {
        if s.is_empty() {
            return Err(UuidError::Empty);
        }
        match std::str::from_utf8(s) {
            Ok(t) if !t.chars().any(char::is_whitespace) => Ok(Uuid(t.to_owned())),
            _ => Err(UuidError::Invalid(String::from_utf8_lossy(s).into_owned())),
        }
    }

    /// The UUID as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({})", self.0)
    }
}

impl std::str::FromStr for Uuid {
    type Err = UuidError;
    fn from_str(s: &str) -> Result<Uuid, UuidError> {
        Uuid::parse(s.as_bytes())
    }
}
