//! URL logs (`HASHDIR/KEY.log.web`): a presence log whose INFO is a URL,
//! possibly prefixed to say which downloader gets it (`yt:`, `quvi:`, or
//! `:` for URLs claimed by a special remote other than the web).
//!
//! ```
//! use annex_core::logs::web::{self, Downloader};
//! let log = web::parse(b"1s 1 http://example.com/a\n");
//! assert_eq!(web::urls(&log), vec![b"http://example.com/a".to_vec()]);
//! assert_eq!(web::downloader(b"yt:http://x"), (&b"http://x"[..], Downloader::Youtube));
//! ```

use super::presence::{PresenceLog, Status};
use crate::timestamp::Timestamp;

/// Parses a URL log.
pub fn parse(content: &[u8]) -> PresenceLog {
    PresenceLog::parse(content)
}

/// The URLs currently recorded (with their downloader prefixes).
pub fn urls(log: &PresenceLog) -> Vec<Vec<u8>> {
    log.present().into_iter().map(<[u8]>::to_vec).collect()
}

/// How a URL is downloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Downloader {
    /// Plain web download.
    Web,
    /// youtube-dl / yt-dlp (`yt:` or the old `quvi:` prefix).
    Youtube,
    /// Claimed by another special remote (`:` prefix).
    Other,
}

/// Splits a logged URL into the URL and its downloader.
pub fn downloader(logged: &[u8]) -> (&[u8], Downloader) {
    match memchr::memchr(b':', logged) {
        Some(0) => (&logged[1..], Downloader::Other),
        Some(i) if &logged[..i] == b"yt" || &logged[..i] == b"quvi" => {
            (&logged[i + 1..], Downloader::Youtube)
        }
        _ => (logged, Downloader::Web),
    }
}

/// The new content after recording a URL as present (or missing).
pub fn set(old: &[u8], url: &[u8], status: Status, candidate: Timestamp) -> Vec<u8> {
    PresenceLog::add(old, status, url, candidate)
}
