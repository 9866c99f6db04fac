//! `annex-proxy`: the P2P protocol, server side.
//!
//! Not filled yet. It will hold the P2P protocol, proxies in front of
//! clusters of repositories, and the P2P protocol over HTTP.
