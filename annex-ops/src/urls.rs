//! URLs registered for keys (`KEY.log.web`), as `registerurl` and
//! `unregisterurl` record them: the URL log changed, and the web recorded
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
