//! `annex-proxy`: the P2P protocol's server side.
//!
//! - [`shell`]: `git-annex-shell`: its commands and restriction variables
//!   (its pre-P2P commands `inannex`, `dropkey`, `recvkey`, `sendkey` in
//!   a private module beside it).
//! - [`refwatch`]: watching a repository's refs, for `notifychanges` and
//!   the protocol's `NOTIFYCHANGE`.
//! - [`server`]: serving a repository on this machine to one client over
//!   a byte stream (what `git-annex-shell p2pstdio` runs), with git-annex's
//!   server modes.
//!
//! - [`http`]: the P2P protocol over HTTP: the `p2phttp` server and the
//!   client of `annex+http` remotes.
//!
//! - [`proxies`]: what git config and the branch say of proxies and
//!   clusters; [`setup`]: `updateproxy`, `initcluster`, `updatecluster`,
//!   `extendcluster`; [`gateway`]: serving a proxied remote or a cluster
//!   to a client that asked for its UUID.
//!
//! The protocol's codec (messages, lines, `DATA`) is `annex_core::p2p`,
//! shared with the client side.

pub mod gateway;
pub mod http;
mod legacy;
pub mod proxies;
pub mod refwatch;
mod relay;
pub mod server;
pub mod setup;
pub mod shell;
pub mod special_node;
