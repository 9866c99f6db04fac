//! The P2P protocol over HTTP (git-annex's `p2phttp` API): the server
//! ([`server`], what `git-annex p2phttp` runs) and the client side
//! ([`client`], a [`Remote`](annex_core::remote::Remote) for an
//! `annex+http://` or `annex+https://` URL in `remote.NAME.annexUrl`).
//!
//! Every request of the API is one short P2P protocol session with the
//! repository: the server answers it by driving
//! [`crate::server::Server`] (the same server operations as over ssh)
//! through a pipe, so the HTTP side only translates requests to protocol
//! messages and back; locking, removal safety, resumed uploads and
//! content verification stay in one place.
//!
//! Why this HTTP stack: the server is `hyper` 1 (HTTP/1.1 only) on a
//! `tokio` runtime, without a framework on top. hyper is the
//! maintained, widely deployed HTTP implementation of the Rust
//! ecosystem; the API's routing is a handful of fixed paths, so a router
//! (axum) would add build time and not much else. Bodies stream both ways
//! (`GET` answers and `put` bodies never sit whole in memory), and the
//! long-polling `keeplocked` request is a request body read as it
//! arrives, which hyper gives directly. The client is `reqwest`'s
//! blocking API over the same hyper and rustls (no OpenSSL), shared with
//! the project's other HTTP client.
//!
//! The wire facts (paths, versions, parameters, JSON bodies, status
//! codes) come from git-annex's `doc/design/p2p_protocol_over_http.mdwn`
//! and what its server and client do.

pub mod client;
pub mod server;

use base64::Engine;

/// The port of an `annex+http` URL that names none.
pub const DEFAULT_PORT: u16 = 9417;

/// Encodes a key, UUID or file name for a URL: as is when it is UTF-8
/// and not itself wrapped in square brackets, otherwise base64url inside
/// square brackets (git-annex's convention).
pub fn encode_b64_text(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(t) if !(t.starts_with('[') && t.ends_with(']')) => t.to_string(),
        _ => format!("[{}]", base64::engine::general_purpose::URL_SAFE.encode(b)),
    }
}

/// Decodes a value of [`encode_b64_text`]'s form; `None` when a bracketed
/// value is not base64.
pub fn decode_b64_text(t: &[u8]) -> Option<Vec<u8>> {
    match t.strip_prefix(b"[").and_then(|r| r.strip_suffix(b"]")) {
        Some(inner) => decode_base64_any(inner),
        None => Some(t.to_vec()),
    }
}

/// Base64 in either alphabet (standard or URL-safe), padded or not.
pub fn decode_base64_any(b: &[u8]) -> Option<Vec<u8>> {
    let normal: Vec<u8> = b
        .iter()
        .filter(|c| !c.is_ascii_whitespace() && **c != b'=')
        .map(|c| match c {
            b'-' => b'+',
            b'_' => b'/',
            c => *c,
        })
        .collect();
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&normal)
        .ok()
}

/// An `annex+http://` or `annex+https://` URL: where the API is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct P2pHttpUrl {
    /// The URL as written.
    pub url: String,
    /// Whether it is HTTPS.
    pub https: bool,
    /// The host (an IPv6 address in brackets).
    pub host: String,
    /// The port (9417 unless given).
    pub port: u16,
    /// The path before `/git-annex/` (empty, or starting with `/`,
    /// without a trailing `/`).
    pub base_path: String,
}

impl P2pHttpUrl {
    /// Parses an `annex+http(s)://` URL; `None` for anything else. A
    /// trailing `git-annex` path component is the API's own and is
    /// dropped, as git-annex does.
    pub fn parse(url: &str) -> Option<P2pHttpUrl> {
        let (https, rest) = if let Some(r) = url.strip_prefix("annex+http://") {
            (false, r)
        } else if let Some(r) = url.strip_prefix("annex+https://") {
            (true, r)
        } else {
            return None;
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        if authority.is_empty() {
            return None;
        }
        let (host, port) = if authority.starts_with('[') {
            let end = authority.find(']')?;
            let host = &authority[..=end];
            match authority[end + 1..].strip_prefix(':') {
                Some(p) if !p.is_empty() => (host, p.parse().ok()?),
                _ => (host, DEFAULT_PORT),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) if !p.is_empty() => (h, p.parse().ok()?),
                Some((h, _)) => (h, DEFAULT_PORT),
                None => (authority, DEFAULT_PORT),
            }
        };
        let path = path.split(['?', '#']).next().unwrap_or("");
        let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        if parts.last() == Some(&"git-annex") {
            parts.pop();
        }
        let base_path = parts.iter().map(|p| format!("/{p}")).collect::<String>();
        Some(P2pHttpUrl {
            url: url.to_string(),
            https,
            host: host.to_string(),
            port,
            base_path,
        })
    }

    /// The plain `http(s)://` URL of the API's root (`.../git-annex`).
    pub fn api_root(&self) -> String {
        format!(
            "{}://{}:{}{}/git-annex",
            if self.https { "https" } else { "http" },
            self.host,
            self.port,
            self.base_path
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64_text_round_trips_and_brackets_what_needs_it() {
        assert_eq!(encode_b64_text(b"SHA256E-s3--abc"), "SHA256E-s3--abc");
        assert_eq!(encode_b64_text(b"foo"), "foo");
        assert_eq!(encode_b64_text(b"[foo]"), "[W2Zvb10=]");
        let bad = b"a\xffb";
        let enc = encode_b64_text(bad);
        assert!(enc.starts_with('['));
        assert_eq!(decode_b64_text(enc.as_bytes()).as_deref(), Some(&bad[..]));
        assert_eq!(decode_b64_text(b"[Zm9v]").as_deref(), Some(&b"foo"[..]));
        assert_eq!(decode_b64_text(b"[!!]"), None);
        assert_eq!(decode_b64_text(b"plain").as_deref(), Some(&b"plain"[..]));
    }

    #[test]
    fn urls_parse_as_git_annex_reads_them() {
        let u = P2pHttpUrl::parse("annex+http://example.com/git-annex/").unwrap();
        assert_eq!(
            (u.https, u.host.as_str(), u.port),
            (false, "example.com", 9417)
        );
        assert_eq!(u.api_root(), "http://example.com:9417/git-annex");
        let u = P2pHttpUrl::parse("annex+https://h:8080/sub/git-annex").unwrap();
        assert_eq!(u.api_root(), "https://h:8080/sub/git-annex");
        let u = P2pHttpUrl::parse("annex+http://[::1]:99/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("[::1]", 99));
        assert_eq!(P2pHttpUrl::parse("http://example.com/"), None);
        assert_eq!(P2pHttpUrl::parse("annex+http://h:x/"), None);
    }
}
