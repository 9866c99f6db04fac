//! `fsck` of one item: its content checked here, or in a remote, against
//! its key and the location log, with the policy of the [`Annex`] (trust,
//! numcopies and the `annex.numcopies` attribute).
//!
//! The checking itself is [`annex_core::fsck::Fsck`]'s (location log
//! fixes, bad content moved to `.git/annex/bad`, too few copies warned
//! about); this module decides what it is given: the numcopies in force for
//! each item, the trust levels, the repository checked, how repositories
//! are named. What a check shows is passed on as
//! [`Event`]s to the caller's callback, which renders them (or not); the
//! check returns whether everything was fine.
//!
//! `--from` a git remote on this machine reads its object store directly.
//! `--from` any other remote (over ssh) goes through its
//! [`Remote`]: asked whether it has the key (`unable to check NAME` when
//! it cannot say), then, unless `--fast`, the content downloaded to a
//! temp file (`.git/annex/tmp/fsckPID.KEY`, removed afterwards) and
//! verified while it comes, as git-annex does; a download that fails
//! (content that does not match its key included) fails the check and is
//! left on the remote. The location log is then fixed to what the remote
//! answered, and the copies counted.
//!
//! A run ends with [`record_activity`] (git-annex records every fsck in
//! `activity.log`); `--all` checks [`logged_keys`].
//!
//! ```no_run
//! use annex_ops::{Annex, Item};
//! use annex_ops::fsck::{Checker, FsckOptions, record_activity};
//! use annex_ops::session::{OpenOptions, Session};
//! let (session, _) = Session::open(&OpenOptions::new("repo".as_ref()))?;
//! let annex = Annex::open(session)?;
//! let checker = Checker::new(&annex, FsckOptions::default())?;
//! let key = annex_core::key::Key::parse(b"SHA256E-s3--abc")?;
//! let mut on = |e: annex_core::fsck::Event| {
//!     println!("{e:?}");
//!     Ok::<(), annex_core::fsck::FsckError>(())
//! };
//! let fine = checker.check(&Item::key(key), "the key", &mut on)?;
//! record_activity(&annex, checker.checked_uuid())?;
//! println!("fine: {fine}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

pub use annex_core::fsck::Event;
use annex_core::fsck::{self as core, Fsck, LocalRemote};
use annex_core::key::Key;
use annex_core::logs::trust::TrustLevel;
use annex_core::objects::key_file;
use annex_core::remote::Remote;
use annex_core::uuid::Uuid;

use crate::annex::Annex;
use crate::item::Item;
use crate::remotes::RemoteNameError;

/// Why a check could not be set up or recorded (problems found in content
/// are not errors: they are [`Event`]s and make a check fail).
#[derive(Debug, thiserror::Error)]
pub enum FsckError {
    /// The remote to check from is not usable.
    #[error(transparent)]
    RemoteName(#[from] RemoteNameError),
    /// The remote to check from cannot be used (its kind is not
    /// supported, or it could not be opened).
    #[error("fsck --from {name}: {reason}")]
    Unusable {
        /// The remote's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// The check itself failed (branch, object store, files).
    #[error(transparent)]
    Check(#[from] core::FsckError),
}

/// How to check.
#[derive(Debug, Clone, Default)]
pub struct FsckOptions {
    /// `--fast`: presence and size only, content not hashed.
    pub fast: bool,
    /// `--numcopies`: the numcopies every item is checked against (else the
    /// item's `annex.numcopies` attribute, else the configured one).
    pub numcopies: Option<i64>,
    /// `--from`: the remote to check instead of this repository.
    pub from: Option<String>,
    /// The bad-content directory as messages show it (git-annex shows it
    /// relative to where it runs); `.git/annex/bad` as a full path when
    /// `None`.
    pub bad_shown: Option<PathBuf>,
}

/// A checker for one run: the repository checked and the policy, set up
/// once, then [`Checker::check`] for each item.
pub struct Checker<'a> {
    annex: &'a Annex,
    fsck: Fsck<'a>,
    target: Target<'a>,
    fast: bool,
    numcopies: Option<i64>,
    descriptions: BTreeMap<Uuid, String>,
}

impl<'a> Checker<'a> {
    /// Sets up the checks of `annex` (or of the remote `options.from`).
    pub fn new(annex: &'a Annex, options: FsckOptions) -> Result<Checker<'a>, FsckError> {
        let session = &annex.session;
        let target = match &options.from {
            Some(name) => open_remote(annex, name)?,
            None => Target::Here,
        };
        let descriptions = listed_descriptions(annex);
        let store = &session.store;
        let bad_shown = options
            .bad_shown
            .unwrap_or_else(|| store.git_dir().join("annex").join("bad"));
        let fsck = Fsck::new(
            &session.state,
            store,
            annex.here().clone(),
            annex.trust.clone(),
            descriptions.clone(),
            bad_shown,
        )
        .fast(options.fast);
        Ok(Checker {
            annex,
            fsck,
            target,
            fast: options.fast,
            numcopies: options.numcopies,
            descriptions,
        })
    }

    /// The repository checked: this one, or the remote's.
    pub fn checked_uuid(&self) -> &Uuid {
        match &self.target {
            Target::Here => self.annex.here(),
            Target::Local(r) => &r.uuid,
            Target::Far(r) => r.uuid(),
        }
    }

    /// Whether the repository checked is marked dead (git-annex warns
    /// before it starts).
    pub fn checks_dead(&self) -> bool {
        self.annex.trust.get(self.checked_uuid()) == Some(&TrustLevel::Dead)
    }

    /// How repositories are named in the checks' lists: their
    /// descriptions, with the names of the remotes that are them added
    /// (`desc [origin]`, `[origin]`).
    pub fn descriptions(&self) -> &BTreeMap<Uuid, String> {
        &self.descriptions
    }

    /// The numcopies `item` is checked against: the forced one, else its
    /// `annex.numcopies` attribute, else the configured one.
    pub fn numcopies_for(&self, item: &Item) -> i64 {
        self.numcopies
            .unwrap_or_else(|| self.annex.copies_for(item).0)
    }

    /// Checks one item; `desc` is what messages call it (the file as
    /// shown, or the key). Events go to `on` as they happen; an error `on`
    /// returns stops the check. Returns whether everything was fine.
    /// An unlocked file checked here whose pointer is still in the work
    /// tree while the content is present gets its content back.
    pub fn check<E: From<core::FsckError>>(
        &self,
        item: &Item,
        desc: &str,
        on: &mut impl FnMut(Event) -> Result<(), E>,
    ) -> Result<bool, E> {
        let numcopies = self.numcopies_for(item);
        let key = &item.key;
        match &self.target {
            Target::Local(r) => {
                self.fsck
                    .check_remote_key(r, key, desc, item.is_file, numcopies, on)
            }
            Target::Far(r) => self.check_far(*r, key, desc, item.is_file, numcopies, on),
            Target::Here if item.is_file && item.unlocked => match &self.annex.session.worktree {
                // A file beyond a symbolic link is not fixed (that would
                // write outside the work tree): its key is checked alone.
                Some(wt) => match annex_core::wtpath::check(wt.top(), &item.top_path) {
                    Ok(path) => self
                        .fsck
                        .check_unlocked_file(key, desc, &path, numcopies, on),
                    Err(_) => self.fsck.check_key(key, desc, true, numcopies, on),
                },
                None => self.fsck.check_key(key, desc, true, numcopies, on),
            },
            Target::Here => self.fsck.check_key(key, desc, item.is_file, numcopies, on),
        }
    }

    /// Checks a key in a remote reached through its [`Remote`]: asked
    /// whether it has it, the content downloaded to a temp file and
    /// verified (not with `--fast`, nor when there is no room for it), then
    /// the location log fixed and the copies counted. A failed download
    /// fails the check.
    fn check_far<E: From<core::FsckError>>(
        &self,
        remote: &dyn Remote,
        key: &Key,
        desc: &str,
        has_file: bool,
        numcopies: i64,
        on: &mut impl FnMut(Event) -> Result<(), E>,
    ) -> Result<bool, E> {
        let present = match remote.check_present(key) {
            Ok(p) => p,
            Err(_) => {
                on(Event::NoteText(format!(
                    "unable to check {}",
                    remote.name()
                )))?;
                return Ok(false);
            }
        };
        let mut downloaded = true;
        if present && !self.fast && self.annex.space_shortfall(key).is_none() {
            let store = &self.annex.session.store;
            let mut name = format!("fsck{}.", std::process::id()).into_bytes();
            name.extend_from_slice(&key_file(key));
            let tmp = store.tmp_dir().join(std::ffi::OsStr::from_bytes(&name));
            // Nothing left from an earlier run is taken for a partial
            // download.
            let _ = std::fs::remove_file(&tmp);
            let got = remote.retrieve(key, &tmp, self.annex.here(), b"", &mut |_| {});
            let _ = std::fs::remove_file(&tmp);
            if let Err(e) = got {
                on(Event::Warning(e.to_string()))?;
                on(Event::Warning(format!(
                    "{desc}: failed to download file from remote"
                )))?;
                downloaded = false;
            }
        }
        let ok = self.fsck.check_remote_presence(
            remote.uuid(),
            key,
            desc,
            has_file,
            present,
            numcopies,
            on,
        )?;
        Ok(ok && downloaded)
    }
}

/// The repository a run checks.
enum Target<'a> {
    /// This one.
    Here,
    /// A git remote on this machine, its object store read directly.
    Local(LocalRemote),
    /// Any other remote, through its [`Remote`].
    Far(&'a dyn Remote),
}

/// Records that the repository `uuid` (this one, or the remote checked:
/// [`Checker::checked_uuid`]) was fscked now, in `activity.log`, as
/// git-annex does at the end of every `fsck`.
pub fn record_activity(annex: &Annex, uuid: &Uuid) -> Result<(), FsckError> {
    Ok(core::record_activity(&annex.session.state, uuid)?)
}

/// What `fsck --all` checks: every key with a location log, in the
/// branch's order, less those whose every logged location is dead.
pub fn logged_keys(annex: &Annex) -> Result<Vec<Key>, FsckError> {
    Ok(core::logged_keys(&annex.session.state)?)
}

/// The remote of `--from`: a git remote whose URL is a path on this
/// machine has its object store opened directly; another one is used
/// through the [`Remote`] the annex opened for it.
fn open_remote<'a>(annex: &'a Annex, name: &str) -> Result<Target<'a>, FsckError> {
    let session = &annex.session;
    // A special remote has no git remote of its own: it is reached
    // through the annex's remotes.
    if let Some(r) = session.config.remote(name)
        && let Some(path) = r.local_path(&session.base_dir())
    {
        // Its UUID from our config, else as opening it learned it.
        let uuid = r
            .uuid
            .clone()
            .or_else(|| annex.remote_named(name).ok()?.uuid.clone())
            .ok_or_else(|| RemoteNameError::UnknownUuid(name.to_owned()))?;
        return Ok(Target::Local(LocalRemote::open(name, uuid, &path)?));
    }
    let entry = annex.remote_named(name)?;
    match &entry.remote {
        Ok(remote) => Ok(Target::Far(remote.as_ref())),
        Err(reason) => Err(FsckError::Unusable {
            name: name.to_owned(),
            reason: reason.clone(),
        }),
    }
}

/// Every repository's description, with the names of the configured
/// remotes that are them added (`desc [name]`; `[name]` when the
/// description is empty or is the name), as fsck lists repositories.
fn listed_descriptions(annex: &Annex) -> BTreeMap<Uuid, String> {
    let mut m: BTreeMap<Uuid, String> = annex
        .descriptions
        .iter()
        .map(|(u, d)| (u.clone(), String::from_utf8_lossy(d).into_owned()))
        .collect();
    for r in annex.session.config.remotes() {
        if let Some(u) = &r.uuid {
            let d = m.entry(u.clone()).or_default();
            *d = if d.is_empty() || *d == r.name {
                format!("[{}]", r.name)
            } else {
                format!("{d} [{}]", r.name)
            };
        }
    }
    m
}
