//! git-annex's P2P protocol, the line-based serialization: one codec,
//! shared by the client (a `Remote` reached over ssh or a socket) and the
//! server (`git-annex-shell p2pstdio`, proxies, P2P over HTTP).
//!
//! - [`message`]: every message, typed; parsed from and printed to one
//!   protocol line exactly as git-annex (protocol versions 0 to 4) does.
//! - [`io`]: reading lines (at most 32 KiB, as git-annex reads them) and
//!   the raw bytes of `DATA` from a connection, and writing both.
//!
//! The facts come from git-annex's `doc/design/p2p_protocol.mdwn`; the
//! exact field splitting (the last field of a message takes the rest of
//! the line) from how git-annex parses it.
//!
//! ```
//! use annex_core::p2p::message::Message;
//! let m = Message::parse(b"GET 0 dir/100%%.txt SHA256E-s3--abc").unwrap();
//! assert_eq!(m.to_line(), b"GET 0 dir/100%%.txt SHA256E-s3--abc");
//! ```

pub mod io;
pub mod message;

pub use io::{P2pReader, P2pWriter};
pub use message::{Message, MessageError, Service};

/// The newest protocol version git-annex 10.20261026 speaks, and ours.
pub const MAX_PROTOCOL_VERSION: u64 = 4;
