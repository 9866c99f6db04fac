//! `annex-ops`: git-annex's operations as a library.
//!
//! `annex-core` knows the formats and stores (keys, the object store, the
//! `git-annex` branch and its logs, remotes as a trait); this crate does
//! what a user asks of a repository with them: open it as git-annex does
//! ([`session`]), open its remotes ([`remotes`]), and get, put and drop
//! content with the copies proven ([`get`], [`put`], [`drop`](mod@drop)), check and
//! lock content on remotes ([`checkpresent`]), run many transfers at
//! once ([`queue`]), select files and keys by git-annex's matching options
//! ([`matching`]) and compute `info`'s statistics ([`info`]). The
//! command line (`annex-cli`), the `sync --content`
//! pass (`annex-sync`), the daemon and the P2P server all call these same
//! functions; so can any program (`cargo add annex-ops`).
//!
//! Operations take plain options structs, report what they do as they do it
//! through an [`Observer`] (never printing), and return what they decided
//! as a value (e.g. a drop's [`Refusal`](drop::Refusal): the copies it
//! verified and where else the content is), each module with its own
//! error type. Showing these as git-annex does (`--json`, the exact
//! wording, exit codes) is the caller's part.
//!
//! Why a crate of its own: the operations need the whole of `annex-core`
//! plus policy read once per run (trust, numcopies, preferred content), and
//! several crates above call them; `annex-core` stays the formats alone.
//!
//! ```no_run
//! use annex_ops::{Annex, Item};
//! use annex_ops::drop::{DropOptions, DropOutcome};
//! use annex_ops::get::{GetOptions, GetOutcome};
//! use annex_ops::observer::Quiet;
//! use annex_ops::session::{OpenOptions, Session};
//!
//! let (session, _opened) = Session::open(&OpenOptions::new("repo".as_ref()))?;
//! let annex = Annex::open(session)?;
//! let wt = annex.session.worktree()?;
//! let (key, locked) = wt.lookup_key(b"big.iso")?.ok_or("not an annexed file")?;
//! let item = Item::file(b"big.iso".to_vec(), key, !locked);
//! if let Some(sources) = annex.get_sources(&item, GetOptions::default())? {
//!     match annex.get(&item, &sources, &mut Quiet)? {
//!         GetOutcome::Got { from } => println!("got it from {from}"),
//!         other => println!("not got: {other:?}"),
//!     }
//! }
//! match annex.drop_here(&item, DropOptions::default())? {
//!     DropOutcome::Dropped => println!("dropped"),
//!     DropOutcome::Refused(r) => println!("only {} copies verified", r.check.verified_count()),
//!     other => println!("{other:?}"),
//! }
//! annex.finish()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod adjust;
pub mod annex;
pub mod checkpresent;
pub mod disable_remote;
pub mod drop;
pub mod fix;
pub mod fsck;
pub mod get;
mod git;
pub mod global_config;
pub mod history;
pub mod info;
pub mod item;
mod keys;
pub mod matching;
pub mod metadata;
pub mod migrate;
pub mod mirror;
pub mod observer;
pub mod put;
pub mod queue;
pub mod reinit;
pub mod reinject;
pub mod rekey;
pub mod remotes;
pub mod reserve;
pub mod session;
pub mod special;
mod special_s3;
pub mod status;
pub mod testremote;
pub mod transfer;
pub mod unannex;
pub mod undo;
pub mod unused_lists;
pub mod upgrade;
pub mod urls;
pub mod verify_remote;
pub mod whereused;

pub use annex::{Annex, AnnexError, Whereabouts};
pub use item::Item;
pub use observer::{Observer, Quiet, Warning};
pub use session::{OpenOptions, Session, SessionError};
