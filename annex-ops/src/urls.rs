//! URLs registered for keys (`KEY.log.web`), as `registerurl`,
//! `unregisterurl`, `addurl` and `rmurl` record them, and the file names
//! `addurl` makes from URLs: the URL log changed, and the web recorded
//! as having the content while at least one URL is registered. Nothing is
//! written when the log already says so.
//!
//! ```no_run
//! use annex_ops::session::{OpenOptions, Session};
//! let (session, _) = Session::open(&OpenOptions::new(".".as_ref()))?;
//! let key = annex_core::key::Key::parse(b"SHA256E-s0--e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")?;
//! annex_ops::urls::set_url(&session, &key, b"https://example.com/empty", true)?;
//! session.commit()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use annex_core::branch::BranchError;
use annex_core::key::Key;
use annex_core::uuid::WEB_UUID;

use crate::session::Session;

/// Registers (`present`) or unregisters a URL for a key; returns whether
/// anything changed.
pub fn set_url(
    session: &Session,
    key: &Key,
    url: &[u8],
    present: bool,
) -> Result<bool, BranchError> {
    let registered = session.state.urls(key)?.iter().any(|u| u == url);
    if registered == present {
        return Ok(false);
    }
    session.state.set_url(key, url, present)?;
    Ok(true)
}

/// Whether the location log says `uuid` has the key.
pub fn is_present(session: &Session, key: &Key, uuid: &[u8]) -> Result<bool, BranchError> {
    Ok(session
        .state
        .whereis(key)?
        .iter()
        .any(|u| u.as_str().as_bytes() == uuid))
}

/// The downloader prefixes a URL may carry in the URL log (none for the
/// web, `yt:` and `quvi:` for media, `:` for another special remote).
const DOWNLOADER_PREFIXES: [&[u8]; 4] = [b"", b"yt:", b"quvi:", b":"];

/// Whether a URL log entry is downloaded by the web (no `:` prefix).
fn is_web(url: &[u8]) -> bool {
    !url.starts_with(b":")
}

/// Records `url` for the key as `addurl` does (git-annex's
/// `setUrlPresent`): in the URL log, and the web as having the content
/// unless the URL is another special remote's (`:` prefix).
pub fn set_url_present(session: &Session, key: &Key, url: &[u8]) -> Result<(), BranchError> {
    set_url(session, key, url, true)?;
    if is_web(url) && !is_present(session, key, WEB_UUID.as_bytes())? {
        set_web_present(session, key, true)?;
    }
    Ok(())
}

fn set_web_present(session: &Session, key: &Key, present: bool) -> Result<(), BranchError> {
    // The constant parses.
    if let Ok(web) = annex_core::uuid::Uuid::parse(WEB_UUID.as_bytes()) {
        session.state.set_present(key, &web, present)?;
    }
    Ok(())
}

/// Forgets `url` for the key with any downloader prefix, as `rmurl`
/// does (git-annex's `setUrlMissing`): when no web URL is left, the web
/// no longer has the content. Returns whether anything changed.
pub fn forget_url(session: &Session, key: &Key, url: &[u8]) -> Result<bool, BranchError> {
    let mut changed = false;
    for prefix in DOWNLOADER_PREFIXES {
        let full = [prefix, url].concat();
        let urls = session.state.urls(key)?;
        if !urls.contains(&full) {
            continue;
        }
        session.state.set_url(key, &full, false)?;
        changed = true;
        if is_web(&full) && !urls.iter().any(|u| u != &full && is_web(u)) {
            set_web_present(session, key, false)?;
        }
    }
    Ok(changed)
}

/// git-annex's `sanitizeFilePath`: a name from a third party made safe
/// for a file name: spaces, punctuation, symbols, control characters and
/// `/` become `_` (`.` and `-` stay), a leading `.` or `-` becomes `_`,
/// and an empty name is `file`.
pub fn sanitize_file_path(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c == '.' || c == '-' {
                c
            } else if c.is_whitespace()
                || c.is_control()
                || c.is_ascii_punctuation()
                || !(c.is_ascii() || c.is_alphanumeric())
            {
                '_'
            } else {
                c
            }
        })
        .collect();
    if out.is_empty() {
        return "file".to_string();
    }
    if out.starts_with('.') || out.starts_with('-') {
        out.replace_range(..1, "_");
    }
    out
}

/// Cuts a file name to at most 255 bytes (at a character boundary), as
/// git-annex's `truncateFilePath` does for the file system's limit.
fn truncate_name(s: String) -> String {
    const MAX: usize = 255;
    if s.len() <= MAX {
        return s;
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// Why a URL cannot name a file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UrlFileError {
    /// The URL does not parse (`bad uri URL`).
    #[error("bad uri {0}")]
    BadUri(String),
    /// `--pathdepth 0`.
    #[error("bad --pathdepth")]
    BadPathDepth,
}

/// The host, path and query of a URL (git-annex's `uriRegName`,
/// `uriPath`, `uriQuery`), `None` when it is not `scheme://...`.
fn url_parts(url: &str) -> Option<(String, String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return None;
    }
    let rest = rest.split('#').next().unwrap_or("");
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (auth, tail) = rest.split_at(auth_end);
    let hostport = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        format!("[{}]", v6.split(']').next().unwrap_or(""))
    } else {
        hostport.split(':').next().unwrap_or("").to_string()
    };
    let (path, query) = match tail.find('?') {
        Some(q) => (tail[..q].to_string(), tail[q..].to_string()),
        None => (tail.to_string(), String::new()),
    };
    Some((host, path, query))
}

/// The file `addurl` makes for `url` when no other name is known
/// (git-annex's `url2file`): the host, path and query sanitized into one
/// name, or with `pathdepth` the path's components (a positive depth drops
/// that many leading components, a negative one keeps that many last
/// ones).
pub fn url_to_file(url: &str, pathdepth: Option<i64>) -> Result<String, UrlFileError> {
    let (host, path, query) = url_parts(url).ok_or_else(|| UrlFileError::BadUri(url.into()))?;
    let full = format!("{host}{path}{query}");
    let Some(depth) = pathdepth else {
        return Ok(truncate_name(sanitize_file_path(&full)));
    };
    let bits: Vec<String> = full
        .split('/')
        .filter(|b| !b.is_empty())
        .map(|b| truncate_name(sanitize_file_path(b)))
        .collect();
    let n = bits.len() as i64;
    let chosen: &[String] = if depth >= n {
        &bits
    } else if depth > 0 {
        &bits[usize::try_from(depth).unwrap_or(0)..]
    } else if depth < 0 {
        let keep = usize::try_from(depth.unsigned_abs()).unwrap_or(usize::MAX);
        &bits[bits.len().saturating_sub(keep)..]
    } else {
        return Err(UrlFileError::BadPathDepth);
    };
    Ok(chosen.join("/"))
}

/// git-annex's refusals of a server's file name under
/// `--preserve-filename`: the problem's name, when there is one.
pub fn preserve_filename_problem(f: &str) -> Option<&'static str> {
    if f.chars().any(|c| c.is_control()) {
        return Some("control character");
    }
    let parts: Vec<&str> = f.split('/').collect();
    if f.starts_with('/') || parts.contains(&"..") {
        return Some("path traversal");
    }
    if parts.contains(&".git") {
        return Some("contains a .git directory");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_file_names_as_git_annex_makes_them() {
        // Seen made by the reference: `127.0.0.1_a.txt`.
        assert_eq!(
            url_to_file("http://127.0.0.1:18765/a.txt", None).unwrap(),
            "127.0.0.1_a.txt"
        );
        assert_eq!(
            url_to_file("http://example.com/d/e/f.txt?x=1", None).unwrap(),
            "example.com_d_e_f.txt_x_1"
        );
        assert_eq!(
            url_to_file("http://example.com/d/e/f.txt", Some(1)).unwrap(),
            "d/e/f.txt"
        );
        assert_eq!(
            url_to_file("http://example.com/d/e/f.txt", Some(-1)).unwrap(),
            "f.txt"
        );
        assert_eq!(
            url_to_file("http://example.com/d/e/f.txt", Some(9)).unwrap(),
            "example.com/d/e/f.txt"
        );
        assert_eq!(
            url_to_file("http://e/x", Some(0)),
            Err(UrlFileError::BadPathDepth)
        );
        assert!(url_to_file("nonsense", None).is_err());
        assert_eq!(sanitize_file_path(".hidden"), "_hidden");
        assert_eq!(sanitize_file_path(""), "file");
        assert_eq!(sanitize_file_path("a b/c"), "a_b_c");
    }

    #[test]
    fn preserve_filename_security() {
        assert_eq!(preserve_filename_problem("../x"), Some("path traversal"));
        assert_eq!(preserve_filename_problem("/x"), Some("path traversal"));
        assert_eq!(
            preserve_filename_problem("a/.git/x"),
            Some("contains a .git directory")
        );
        assert_eq!(
            preserve_filename_problem("a\x07"),
            Some("control character")
        );
        assert_eq!(preserve_filename_problem("ok name.txt"), None);
    }
}
