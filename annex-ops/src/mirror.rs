//! `mirror`: what to do with one item so that a remote's content matches
//! this repository's (`--to`), or this repository's matches a remote's
//! (`--from`), as git-annex's `mirror` decides it. The caller carries the
//! step out with the usual operations (put, get, drop here or from the
//! remote, each proving numcopies as it always does).
//!
//! - `--to REMOTE`: content here is copied to the remote; content not here
//!   is dropped from the remote.
//! - `--from REMOTE`: the remote is asked whether it has the content (an
//!   error or an unreachable remote skips the item); content it has and
//!   this repository lacks is got; content it lacks is dropped here.
//!
//! ```no_run
//! use annex_ops::{Annex, mirror::{self, Step}};
//! # fn f(annex: &Annex, item: &annex_ops::Item, entry: &annex_ops::remotes::RemoteEntry) {
//! match mirror::from(annex, entry, item) {
//!     Step::Get => println!("get it"),
//!     Step::DropHere => println!("drop it here"),
//!     _ => {}
//! }
//! # }
//! ```

use crate::annex::Annex;
use crate::item::Item;
use crate::remotes::RemoteEntry;

/// What to do with an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Copy the content here to the remote (`--to`).
    Put,
    /// Drop the content from the remote (`--to`, content not here).
    DropRemote,
    /// Get the content from the remote (`--from`).
    Get,
    /// Drop the content here (`--from`, the remote lacks it).
    DropHere,
    /// Nothing.
    Skip,
}

/// The step of `mirror --to` for `item`.
pub fn to(annex: &Annex, item: &Item) -> Step {
    if annex.session.store.has(&item.key) {
        Step::Put
    } else {
        Step::DropRemote
    }
}

/// The step of `mirror --from REMOTE` for `item`: the remote is checked.
pub fn from(annex: &Annex, entry: &RemoteEntry, item: &Item) -> Step {
    let Some(remote) = entry.usable() else {
        return Step::Skip;
    };
    let here = annex.session.store.has(&item.key);
    match remote.check_present(&item.key) {
        Err(_) => Step::Skip,
        Ok(true) if here => Step::Skip,
        Ok(true) => Step::Get,
        Ok(false) if here => Step::DropHere,
        Ok(false) => Step::Skip,
    }
}
