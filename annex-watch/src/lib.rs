//! `annex-watch`: the `watch` daemon, as git-annex's assistant runs it.
//!
//! Its parts, each a module with a channel in and out:
//!
//! - [`daemon`]: the shell (background or foreground, `daemon.log`), and
//!   [`daemon::run`], which starts the others;
//! - [`pidfile`]: `daemon.pid`, locked as git-annex locks it, so either
//!   implementation sees and stops the other's daemon;
//! - [`watcher`]: inotify (through `notify`) on the work tree, sending
//!   [`changes::Change`]s; the watch limit reported with the way to raise it;
//! - the startup scan ([`committer::scan`]): what changed while no daemon
//!   ran, from the index's stat data;
//! - [`committer`]: batches changes as git-annex's committer does, adds
//!   through an [`committer::Adder`] (the CLI gives it `add`), stages
//!   removals and commits; files still open for writing wait
//!   ([`openfiles`], in place of `lsof`);
//! - [`status`]: `daemon.status`; [`logfile`]: the log's rotation;
//! - the assistant's: [`merger`] (refs pushed or fetched into the
//!   repository, merged as they land), [`pusher`] (commits pushed, failed
//!   pushes retried with backoff), [`transferrer`] (content moved as
//!   preferred content says, never while another process transfers:
//!   [`transferwatcher`]), all through a [`syncer::Syncer`] the CLI
//!   gives over `sync`'s own steps;
//! - [`stop`]: how the daemon ends the assistant's threads;
//! - [`sanity`]: the periodic checks; [`autostart`]: the list of
//!   repositories `assistant --autostart` starts in.

pub mod autostart;
pub mod changes;
pub mod committer;
pub mod daemon;
pub mod logfile;
pub mod merger;
pub mod openfiles;
pub mod pidfile;
pub mod pusher;
pub mod sanity;
pub mod status;
pub mod stop;
pub mod syncer;
pub mod transferrer;
pub mod transferwatcher;
pub mod watcher;
