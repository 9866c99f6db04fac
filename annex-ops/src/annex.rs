//! [`Annex`]: an opened repository with its remotes and the settings every
//! operation decides by (trust, numcopies, mincopies, preferred content),
//! read once per run as git-annex reads them.
//!
//! ```no_run
//! use annex_ops::{Annex, Item};
//! use annex_ops::session::{OpenOptions, Session};
//! let (session, _) = Session::open(&OpenOptions::new(".".as_ref()))?;
//! let annex = Annex::open(session)?;
//! let key = annex_core::key::Key::parse(b"SHA256E-s3--abc")?;
//! println!("{:?}", annex.locations(&key)?);
//! println!("{:?}", annex.whereabouts(&key, &[])?.wanted);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use annex_core::attr::CopiesAttributes;
use annex_core::branch::BranchError;
use annex_core::key::Key;
use annex_core::logs::trust::TrustLevel;
use annex_core::preferred::{self, Expr, GlobalLogs, StateContext};
use annex_core::uuid::Uuid;

use crate::item::Item;
use crate::remotes::{RemoteEntry, RemoteNameError, Remotes};
use crate::reserve::Reserver;
use crate::session::{Session, SessionError};

/// A failure reading what an operation decides by.
#[derive(Debug, thiserror::Error)]
pub enum AnnexError {
    /// The `git-annex` branch could not be read.
    #[error(transparent)]
    Branch(#[from] BranchError),
    /// The repository could not be opened.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// A remote named by the caller cannot be used.
    #[error(transparent)]
    RemoteName(#[from] RemoteNameError),
    /// A preferred-content expression could not be evaluated.
    #[error("{0}")]
    Preferred(String),
}

/// The repository, its remotes and the settings operations decide by.
pub struct Annex {
    /// The opened repository (shared with whoever opened it).
    pub session: Rc<Session>,
    /// Its remotes, cheapest first.
    pub remotes: Remotes,
    /// Repository descriptions (`uuid.log`).
    pub descriptions: BTreeMap<Uuid, Vec<u8>>,
    /// Trust levels.
    pub trust: BTreeMap<Uuid, TrustLevel>,
    /// `numcopies` in force.
    pub numcopies: i64,
    /// `mincopies` in force.
    pub mincopies: i64,
    /// `--force`: no free space check before downloads.
    pub force: bool,
    /// Whether a repository's maxsize refuses uploads that would exceed it
    /// (`--auto`). git-annex treats maxsize as advisory for an explicit
    /// `copy --to`/`move --to`: the upload is then still reserved (counted
    /// for other processes) but never refused.
    pub enforce_maxsize: bool,
    /// Space reservations of uploads to repositories with a maxsize.
    pub reserver: Reserver,
    /// Whether [`Annex::finish`] leaves the connections of remotes reached
    /// over a network open (their servers commit what they recorded when
    /// a connection ends): `sync` keeps them until its push is done, as
    /// git-annex keeps its connections to the end of the command.
    pub keep_connections: bool,
    copies_attr: Option<CopiesAttributes>,
    globals: Mutex<Option<Arc<GlobalLogs>>>,
    preferred: Mutex<HashMap<Uuid, Option<Expr>>>,
    lock_notes: Mutex<Vec<String>>,
    /// Uploads a remote was seen to have just after the queue ran them
    /// ([`Annex::confirm_uploads`]), consumed by [`Annex::put`].
    pub(crate) confirmed: Mutex<std::collections::HashSet<(Uuid, Key)>>,
    /// Unlocked files whose work tree file was replaced (content put in or
    /// taken out), to refresh in git's index at the end of the run, after
    /// the journal is committed, as git-annex restages them.
    restage: Mutex<Vec<Vec<u8>>>,
}

impl Drop for Annex {
    fn drop(&mut self) {
        self.restage_queued();
    }
}

impl std::fmt::Debug for Annex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Annex")
            .field("session", &self.session)
            .field("remotes", &self.remotes)
            .finish_non_exhaustive()
    }
}

impl Annex {
    /// Opens the session's remotes and reads the settings.
    pub fn open(session: impl Into<Rc<Session>>) -> Result<Annex, AnnexError> {
        let session = session.into();
        let remotes = Remotes::open(&session);
        let descriptions = session.state.descriptions()?;
        let trust = session.state.trust(&session.config)?;
        // `--numcopies`/`--mincopies` first (annex_core::forced).
        let numcopies = match (annex_core::forced::numcopies(), session.state.numcopies()?) {
            (Some(n), _) | (None, Some(n)) => n,
            (None, None) => session.config.get_int("annex.numcopies").unwrap_or(1),
        };
        let mincopies = match annex_core::forced::mincopies() {
            Some(n) => n,
            None => session.state.mincopies()?.unwrap_or(1),
        };
        let reserver = Reserver::new(session.repo.annex_dir());
        let copies_attr = session
            .worktree
            .as_ref()
            .map(|wt| CopiesAttributes::new(wt.top()));
        Ok(Annex {
            session,
            remotes,
            descriptions,
            trust,
            numcopies,
            mincopies,
            force: false,
            enforce_maxsize: false,
            reserver,
            keep_connections: false,
            copies_attr,
            globals: Mutex::new(None),
            preferred: Mutex::new(HashMap::new()),
            lock_notes: Mutex::new(Vec::new()),
            confirmed: Mutex::new(std::collections::HashSet::new()),
            restage: Mutex::new(Vec::new()),
        })
    }

    /// The remotes whose copies drop proofs locked over a network
    /// connection since the last call (git-annex says `locking NAME...`
    /// on the drop's line for each), taken.
    pub fn take_lock_notes(&self) -> Vec<String> {
        std::mem::take(&mut *self.lock_notes.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub(crate) fn note_lock(&self, remote: &str) {
        self.lock_notes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(remote.to_string());
    }

    /// This repository's UUID.
    pub fn here(&self) -> &Uuid {
        self.session.here()
    }

    /// The remote named `name`, with a known UUID.
    pub fn remote_named(&self, name: &str) -> Result<&RemoteEntry, RemoteNameError> {
        self.remotes.named(name)
    }

    /// A repository's trust level (semitrusted unless set).
    pub fn trust_of(&self, u: &Uuid) -> TrustLevel {
        self.trust
            .get(u)
            .copied()
            .unwrap_or(TrustLevel::SemiTrusted)
    }

    /// The repositories the location log says have the key, less dead ones.
    pub fn locations(&self, key: &Key) -> Result<Vec<Uuid>, AnnexError> {
        Ok(self
            .session
            .state
            .whereis(key)?
            .into_iter()
            .filter(|u| self.trust_of(u) != TrustLevel::Dead)
            .collect())
    }

    /// A repository's own description (`uuid.log`), empty when it has none.
    pub fn raw_description(&self, u: &Uuid) -> String {
        self.descriptions
            .get(u)
            .map(|d| String::from_utf8_lossy(d).into_owned())
            .unwrap_or_default()
    }

    /// The name of our remote whose repository is `u`.
    pub fn remote_name(&self, u: &Uuid) -> Option<&str> {
        self.remotes.by_uuid(u).map(|r| r.name.as_str())
    }

    /// How git-annex names a repository in lists: its description with
    /// its remote's name added (`desc [origin]`; `[origin]` alone when the
    /// description is empty or is the name; the bare name when the
    /// repository has no description at all), and this repository as
    /// `desc [here]` (`here` without a description).
    pub fn description(&self, u: &Uuid) -> String {
        if u == self.here() {
            let d = self.raw_description(u);
            return if d.is_empty() {
                "here".to_owned()
            } else {
                with_name(&d, "here")
            };
        }
        self.description_with_remote(u)
    }

    /// A repository's description with its remote's name added as in
    /// [`Annex::description`], but `here` never added (as git-annex's
    /// JSON shows repositories).
    pub fn description_with_remote(&self, u: &Uuid) -> String {
        let desc = self
            .descriptions
            .get(u)
            .map(|d| String::from_utf8_lossy(d).into_owned());
        let name = if u == self.here() {
            None
        } else {
            self.remote_name(u)
        };
        match (desc, name) {
            (Some(d), Some(n)) => with_name(&d, n),
            (Some(d), None) => d,
            (None, Some(n)) => n.to_owned(),
            (None, None) => String::new(),
        }
    }

    /// Where else a key is (git-annex's `showLocations`), less `exclude`
    /// and this repository: for a caller to tell the user where to look.
    pub fn whereabouts(&self, key: &Key, exclude: &[Uuid]) -> Result<Whereabouts, AnnexError> {
        let locs = self.locations(key)?;
        let here = self.here();
        let untrusted: Vec<Uuid> = locs
            .iter()
            .filter(|u| self.trust_of(u) == TrustLevel::Untrusted)
            .cloned()
            .collect();
        let wanted: Vec<Uuid> = locs
            .iter()
            .filter(|u| *u != here && !exclude.contains(u) && !untrusted.contains(u))
            .cloned()
            .collect();
        let skipped: Vec<Uuid> = locs
            .iter()
            .filter(|u| *u != here && !exclude.contains(u) && !wanted.contains(u))
            .cloned()
            .collect();
        let special = self.session.state.remotes()?;
        let mut w = Whereabouts {
            untrusted: skipped,
            ignored: self.remotes.ignored.clone(),
            ..Whereabouts::default()
        };
        for u in &wanted {
            if self.remotes.by_uuid(u).is_some() {
                w.available.push(u.clone());
            } else if special.contains_key(u) {
                w.enable.push(u.clone());
            } else {
                w.add.push(u.clone());
            }
        }
        w.wanted = wanted;
        Ok(w)
    }

    /// git-annex's `fromOk`: whether to get from a remote: it has the key
    /// now, or else the location log says it should.
    pub fn should_get_from(&self, entry: &RemoteEntry, key: &Key) -> Result<bool, AnnexError> {
        let Some(u) = entry.uuid.as_ref() else {
            return Ok(false);
        };
        if u == self.here() {
            return Ok(false);
        }
        if let Some(r) = entry.usable()
            && matches!(r.check_present(key), Ok(true))
        {
            return Ok(true);
        }
        Ok(self.locations(key)?.contains(u))
    }

    /// git-annex's check before a download: bytes missing to receive the
    /// key and keep `annex.diskreserve` (default 100 MB) free; `None` when
    /// there is room (or `force`).
    pub fn space_shortfall(&self, key: &Key) -> Option<u64> {
        if self.force {
            return None;
        }
        let reserve = self
            .session
            .config
            .get_str("annex.diskreserve")
            .and_then(|v| annex_core::transfer::parse_size(&v))
            .unwrap_or(100_000_000);
        let already = std::fs::metadata(self.session.store.tmp_path(key))
            .map(|m| m.len())
            .unwrap_or(0);
        annex_core::transfer::space_shortfall(
            &self.session.repo.annex_dir(),
            key.size().unwrap_or(1),
            reserve,
            already,
        )
    }

    /// The preferred-content engine's view of the repository's logs
    /// (content here answered by the object store). The global logs are
    /// read by the first call of the run; each context reads its keys'
    /// logs anew.
    pub fn match_context(&self) -> Result<StateContext<'_>, AnnexError> {
        let globals = {
            let mut g = self.globals.lock().unwrap_or_else(|e| e.into_inner());
            match &*g {
                Some(globals) => globals.clone(),
                None => {
                    let read = Arc::new(GlobalLogs::read(
                        &self.session.state,
                        Some(self.here().clone()),
                        &self.session.config,
                    )?);
                    *g = Some(read.clone());
                    read
                }
            }
        };
        Ok(StateContext::with_globals(
            &self.session.state,
            Some(self.session.store.clone()),
            &globals,
        ))
    }

    /// A repository's preferred content matcher; `None` when not
    /// configured. Built once per repository and run.
    pub fn preferred_of(
        &self,
        mctx: &StateContext<'_>,
        u: &Uuid,
    ) -> Result<Option<Expr>, AnnexError> {
        if let Some(e) = self
            .preferred
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(u)
        {
            return Ok(e.clone());
        }
        let e = preferred_matcher(&self.session.state, mctx, u)?;
        self.preferred
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(u.clone(), e.clone());
        Ok(e)
    }

    /// The numcopies and mincopies for an item: each forced on the command
    /// line, else a work-tree file's `annex.numcopies` and
    /// `annex.mincopies` attributes (`.gitattributes`), else the
    /// configured one.
    pub fn copies_for(&self, item: &Item) -> (i64, i64) {
        let (mut numcopies, mut mincopies) = (self.numcopies, self.mincopies);
        if item.is_file
            && let Some(attrs) = &self.copies_attr
        {
            let (n, m) = attrs.get(&item.top_path);
            // What the command line forces wins over the attributes.
            if annex_core::forced::numcopies().is_none() {
                numcopies = n.unwrap_or(numcopies);
            }
            if annex_core::forced::mincopies().is_none() {
                mincopies = m.unwrap_or(mincopies);
            }
        }
        (numcopies, mincopies)
    }

    /// `--auto` for getting (`to` is `None`: here) or copying to `to`:
    /// whether the receiving repository wants the item (preferred
    /// content), or the key has fewer copies than numcopies (untrusted
    /// ones not counted), as git-annex decides.
    pub fn auto_wants_copy(&self, item: &Item, to: Option<&Uuid>) -> Result<bool, AnnexError> {
        let n = self
            .locations(&item.key)?
            .iter()
            .filter(|u| self.trust_of(u) != TrustLevel::Untrusted)
            .count() as i64;
        if n < self.copies_for(item).0 {
            return Ok(true);
        }
        let u = to.unwrap_or(self.here());
        let mctx = self.match_context()?;
        match self.preferred_of(&mctx, u)? {
            None => Ok(false),
            Some(w) => w
                .matches(&mctx, &item.matchable().for_repo(Some(u)))
                .map_err(|e| AnnexError::Preferred(e.to_string())),
        }
    }

    /// `--auto` for dropping from `from`: whether the other copies (less
    /// untrusted ones) already meet numcopies and `from` does not want the
    /// item (its preferred content, as if the copy were gone), as
    /// git-annex's `checkDropAuto` and `wantDrop`.
    pub fn auto_allows_drop(&self, item: &Item, from: &Uuid) -> Result<bool, AnnexError> {
        let n = self
            .locations(&item.key)?
            .iter()
            .filter(|u| *u != from && self.trust_of(u) != TrustLevel::Untrusted)
            .count() as i64;
        if n < self.copies_for(item).0 {
            return Ok(false);
        }
        let mctx = self.match_context()?;
        match self.preferred_of(&mctx, from)? {
            None => Ok(true),
            Some(w) => {
                let gone = [from.clone()];
                let mut i = item.matchable().for_repo(Some(from));
                i.not_present = &gone;
                w.matches(&mctx, &i)
                    .map(|wanted| !wanted)
                    .map_err(|e| AnnexError::Preferred(e.to_string()))
            }
        }
    }

    /// The work-tree file of an unlocked item, when it has one.
    pub(crate) fn unlocked_path(&self, item: &Item) -> Option<PathBuf> {
        if !item.unlocked || item.top_path.is_empty() {
            return None;
        }
        let wt = self.session.worktree.as_ref()?;
        // Never a file beyond a symbolic link (outside the work tree).
        annex_core::wtpath::check(wt.top(), &item.top_path).ok()
    }

    /// Refuses an item found through a work-tree file beyond a symbolic
    /// link (or otherwise not a path of the work tree): its key was read
    /// from outside the repository, and writing the file would write
    /// there. `None` when the item may be acted on.
    pub fn refused_path(&self, item: &Item) -> Option<annex_core::wtpath::WtPathError> {
        if !item.is_file || item.top_path.is_empty() {
            return None;
        }
        let wt = self.session.worktree.as_ref()?;
        annex_core::wtpath::check(wt.top(), &item.top_path).err()
    }

    /// Lets git see that an unlocked item's file changed only in form.
    pub(crate) fn refresh_index(&self, item: &Item) {
        self.restage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(item.top_path.clone());
    }

    /// The files queued by [`Annex::refresh_index`] refreshed in git's
    /// index (their new stat data recorded, the clean filter run on them).
    fn restage_queued(&self) {
        let paths = std::mem::take(&mut *self.restage.lock().unwrap_or_else(|p| p.into_inner()));
        if let (Some(wt), false) = (self.session.worktree.as_ref(), paths.is_empty()) {
            for chunk in paths.chunks(1000) {
                let chunk: Vec<&std::ffi::OsStr> = chunk
                    .iter()
                    .map(|p| std::ffi::OsStr::from_bytes(p))
                    .collect();
                crate::git::refresh_index_paths(wt.top(), &chunk);
            }
        }
    }

    /// Ends a run: commits what remotes recorded, then this repository's
    /// journal. Returns whether this repository's journal was committed,
    /// and the remotes' commit errors (each a warning to show).
    /// With [`Annex::keep_connections`], remotes reached over a network
    /// are left as they are.
    pub fn finish(&self) -> Result<Finished, AnnexError> {
        let remote_errors = self.remotes.commit(self.keep_connections);
        let recorded = self.session.commit();
        // Then the index, as git-annex: a clean filter the refresh runs
        // finds nothing left to commit.
        self.restage_queued();
        let recorded = recorded?;
        Ok(Finished {
            recorded,
            remote_errors,
        })
    }
}

use std::os::unix::ffi::OsStrExt;

/// A description with a name added: `desc [name]`, or `[name]` when the
/// description is empty or the name itself (git-annex's rule).
fn with_name(desc: &str, name: &str) -> String {
    if desc == name || desc.is_empty() {
        format!("[{name}]")
    } else {
        format!("{desc} [{name}]")
    }
}

/// What [`Annex::finish`] did.
#[derive(Debug)]
pub struct Finished {
    /// Whether this repository's journal was committed
    /// (`(recording state in git...)`).
    pub recorded: bool,
    /// Remotes whose journal could not be committed.
    pub remote_errors: Vec<annex_core::remote::RemoteError>,
}

/// A repository's preferred content matcher from the branch's logs
/// (`preferred-content.log`, `required-content.log`, its groups'
/// `group-preferred-content.log`); `None` when not configured.
pub fn preferred_matcher(
    state: &annex_core::state::State,
    mctx: &StateContext<'_>,
    u: &Uuid,
) -> Result<Option<Expr>, BranchError> {
    let preferred_content = state.preferred_content()?;
    let required = state.required_content()?;
    let group_wanted = state.group_preferred_content()?;
    let no_groups = std::collections::BTreeSet::new();
    let groups = mctx.groups().get(u).unwrap_or(&no_groups);
    Ok(preferred::preferred_content_matcher(
        preferred_content.get(u).map(|v| v.as_slice()),
        required.get(u).map(|v| v.as_slice()),
        groups,
        &group_wanted,
    ))
}

/// Where a key is, besides here, sorted the way git-annex advises the user
/// when content cannot be had (`showLocations`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Whereabouts {
    /// Repositories said to have it, trusted enough to ask, in order.
    pub wanted: Vec<Uuid>,
    /// Of those, our remotes ("Try making some of these remotes available").
    pub available: Vec<Uuid>,
    /// Of those, special remotes to enable (`git annex enableremote`).
    pub enable: Vec<Uuid>,
    /// Of those, repositories to add as git remotes.
    pub add: Vec<Uuid>,
    /// Untrusted repositories said to have it.
    pub untrusted: Vec<Uuid>,
    /// Our remotes with `annex-ignore` set.
    pub ignored: Vec<String>,
}
