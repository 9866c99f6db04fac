//! `annex-core`: git-annex's on-disk formats and logic as a Rust library.
//!
//! Everything here reads and writes exactly what git-annex (repository
//! version 10) reads and writes, so a repository can be worked with this
//! library and with git-annex interchangeably.
//!
//! - [`key`]: keys (`BACKEND[-sN][-mN][-SN-CN]--NAME`), parsed and serialized.
//! - [`attr`]: `.gitattributes` lookups through one `git check-attr` process.
//! - [`backend`]: the hashing backends that make keys from content.
//! - [`objects`]: the object store under `.git/annex/objects` and its hash dirs.
//! - [`pointer`](mod@pointer): pointer files and annex symlink targets.
//! - [`uuid`]: repository UUIDs.
//! - [`timestamp`]: the timestamps (and vector clocks) of the branch's logs.
//! - [`lockfile`]: shared locks on lock files, held once per process.
//! - [`logs`]: every log of the `git-annex` branch, typed.
//! - [`journal`]: the journal where log changes wait to be committed.
//! - [`branch`]: the `git-annex` branch: read with the journal over it, commit, union merge.
//! - [`repo`]: a repository handle: `init` and `open`.
//! - [`state`]: the repository's state, typed: every log read and changed through the branch.
//! - [`config`]: git-annex's settings from git config, and the remotes.
//! - [`trust`](mod@trust): the trust map decisions use (`trust.log` overridden by git config).
//! - [`worktree`]: the annexed files of the work tree and index; [`wtpath`]: the check
//!   every writer of a work-tree file makes (no symbolic link on the way, nothing in `.git`).
//! - [`ingest`]: adding files to the annex; [`filter`]: the smudge/clean filter.
//! - [`remote`]: remotes; [`transfer`]: transfers; [`content`]: content locks and drop safety.
//! - [`preferred`]: preferred-content expressions; [`sizes`]: repository sizes; [`units`]: data sizes read and shown.
//! - [`p2p`]: the P2P protocol's messages and their line form, shared by client and server.
//! - [`fsck`]: checking content and logs and fixing them; [`unused`]: content no ref uses.
//! - [`gitrepo`]: a git repository as the commands read it (staged blobs, refs, config);
//!   [`attr`]: `.gitattributes` lookups through one `git check-attr` process.
//!
//! ```
//! use annex_core::key::Key;
//! let key = Key::parse(b"SHA256E-s10--abc.txt").unwrap();
//! assert_eq!(key.size(), Some(10));
//! assert_eq!(key.backend_name(), b"SHA256E");
//! assert_eq!(annex_core::objects::hash_dir_mixed(&key), "0X/vW/");
//! ```

pub mod adjustlog;
pub mod attr;
pub mod backend;
pub mod branch;
pub mod config;
pub mod content;
pub mod filter;
pub mod forced;
pub mod fsck;
pub mod gitrepo;
pub mod hooks;
pub mod ingest;
pub mod journal;
pub mod key;
pub mod lockfile;
pub mod logs;
pub mod mime;
pub mod objects;
pub(crate) mod odb;
pub mod p2p;
pub mod perms;
pub mod pointer;
pub mod preferred;
pub mod remote;
pub mod repo;
pub mod sizes;
pub(crate) mod staged;
pub mod state;
pub mod timestamp;
pub mod transfer;
pub mod treefiles;
pub mod trust;
pub mod units;
pub mod unused;
pub mod uuid;
pub mod worktree;
pub mod wtpath;
