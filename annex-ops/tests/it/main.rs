//! annex-ops' integration tests: one binary, one module per area. Each test
//! builds real repositories with the reference git-annex ([`fixture`]),
//! runs an operation through the library only, and checks what it left
//! with the reference (`whereis --json`, `fsck`, content on disk).

mod fixture;

mod checkpresent;
mod drop;
mod example;
mod fsck;
mod get;
mod info;
mod matching;
mod put;
mod queue;
mod ref_annex;
mod session;
