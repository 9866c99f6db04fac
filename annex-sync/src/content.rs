//! The content pass of `sync --content` as a library: get what this
//! repository wants, send each remote what it wants, drop what is no
//! longer wanted where numcopies allows, over an [`annex_ops::Annex`].
//!
//! For each annexed file of the work tree (or each key with `--all` or in
//! a bare repository, or the files under `--content-of` paths), as
//! git-annex's `syncFile`:
//!
//! 1. **get**: when some of the sync remotes have the key (location log)
//!    and this repository lacks it and wants it, it is downloaded from the
//!    first of them (in the order given, cheapest first) that has it now;
//! 2. **put**: when this repository has it, it is sent to each sync remote
//!    that lacks it (location log) and wants it, unless the remote is read
//!    only (`remote.NAME.annex-readonly`);
//! 3. **drop**: with the copies now known (this repository, the remotes
//!    just sent to, and every configured remote the log says has it), from
//!    each sync remote that has it and no longer wants it while more than
//!    numcopies (and mincopies) copies remain, then from here last; every
//!    drop is proven by copies verified (locked) at the time, never on the
//!    log's word ([`Annex::drop_remote`], [`Annex::drop_here`]).
//!
//! A repository with no preferred content (`wanted`/`required` unset)
//! wants everything and drops nothing, as git-annex decides. Remotes with
//! `annex-ignore` take no part (nor count as copies for the drop check);
//! remotes that cannot be reached fail their own actions only.
//!
//! With `jobs > 1`, the transfers of each chunk of items run first on the
//! [transfer queue](annex_ops::queue) (downloads, then the uploads to each
//! remote), then each item is decided, reported and recorded in order.
//!
//! The pass never prints: each get, put and drop is an action its
//! [`ContentObserver`] is told of ([`ContentObserver::start`]), with the
//! operation's notes, progress and warnings ([`annex_ops::Observer`]) and
//! its outcome as a value ([`Outcome`]: a refused drop's proof, the
//! remotes a failed get tried and where else the content is). Failed gets
//! and puts count as failures of the sync ([`Summary::failed`]); failed
//! drops do not (git-annex's `callCommandAction`), but leave the pass
//! incomplete.
//!
//! Speed: location logs are read through one [`Snapshot`] of the
//! `git-annex` branch (the changes made by the pass itself are kept in
//! memory), each repository's preferred content expression is built once,
//! and a file's content is looked for here only when the answer matters
//! (a get or a put that is wanted). A [record](crate::content_record) of
//! the last complete pass lets a repeated pass look only at what changed
//! ([`ContentPass::up_to_date`]: nothing at all when nothing did).
//!
//! ```no_run
//! use annex_ops::{Annex, Session, OpenOptions};
//! use annex_sync::content::{ContentOptions, ContentPass, Quiet};
//!
//! let (session, _) = Session::open(&OpenOptions::new("repo".as_ref()))?;
//! let mut options = ContentOptions::new(std::env::current_dir()?);
//! options.remotes = vec!["origin".into()];
//! let pass = ContentPass::new(&session, options);
//! if !pass.up_to_date() {
//!     let annex = Annex::open(session)?;
//!     let summary = pass.run(&annex, &mut Quiet)?;
//!     println!("{} failed", summary.failed);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use annex_core::branch::{BranchError, Snapshot};
use annex_core::key::Key;
use annex_core::logs::metadata::MetaData;
use annex_core::logs::trust::TrustLevel;
use annex_core::preferred::term::Term;
use annex_core::preferred::{self, Expr, MatchContext, Optimized, StateContext, Sub};
use annex_core::transfer::Direction;
use annex_core::uuid::Uuid;
use annex_core::worktree::WorkTreeError;
use annex_ops::annex::{AnnexError, Finished};
use annex_ops::drop::{DropError, DropOptions, DropOutcome};
use annex_ops::get::GetOutcome;
use annex_ops::observer::{Observer, Warning};
use annex_ops::put::PutOutcome;
use annex_ops::queue::{ObserverFactory, QueueOptions, Request};
use annex_ops::remotes::RemoteEntry;
use annex_ops::session::{Session, SessionError};
use annex_ops::{Annex, Item};

use crate::content_record::{FileEntry, FileMap, Fingerprint, PassRecord, changed_keys};
use crate::sync::SyncError;

/// What the content pass is asked to do.
#[derive(Debug, Clone)]
pub struct ContentOptions {
    /// The remotes to exchange content with, by name, in the order to use
    /// them (named on the command line, or every remote that syncs, by
    /// cost). Names of remotes that are unknown, `annex-ignore`d or have
    /// no UUID are skipped, as git-annex leaves them out of the pass.
    pub remotes: Vec<String>,
    /// `--all`: every key with a location log, not only the work tree's files.
    pub all: bool,
    /// `--content-of=PATH` (repeatable, relative to [`Self::cwd`]); empty
    /// means the whole work tree.
    pub content_of: Vec<OsString>,
    /// The directory the pass is run from (`--content-of` paths are
    /// relative to it).
    pub cwd: PathBuf,
    /// Transfers at once (`-J N`); 1 runs everything in order.
    pub jobs: usize,
    /// Whether `sync` pulls: only then does this repository get content
    /// and drop its own (git-annex's `--no-pull` leaves it alone).
    pub pull: bool,
    /// Whether `sync` pushes: only then are remotes sent content and
    /// dropped from (`--no-push`).
    pub push: bool,
    /// Content sync that git-annex 10.20261026 does by default (neither
    /// `--content`, `--no-content` nor `annex.synccontent` given): only
    /// repositories with a preferred content expression take part; one
    /// without gets nothing, is sent nothing and loses nothing.
    pub only_configured: bool,
    /// Whether `sync`'s commit step left the work tree's tracked files as
    /// `HEAD` holds them ([`crate::sync::CommitOutcome::clean`]); else the
    /// pass proves it before trusting its record.
    pub committed: bool,
    /// Whether fetching from a remote failed (then the pass leaves no
    /// record: what that remote has was not merged).
    pub fetch_failed: bool,
    /// Keys another process is transferring in this repository (the
    /// assistant's transfer watcher): the pass leaves them alone (no get,
    /// put or drop) and is then incomplete, so that a later pass, once
    /// their transfers are over, looks at them again.
    pub busy: HashSet<Key>,
    /// Set to ask the pass to stop (the assistant's stop): no new file or
    /// key is started once it is set (with `jobs > 1`, no new chunk); what
    /// is in hand finishes and is recorded, and the pass is then
    /// incomplete (it leaves no record).
    pub stop: Option<Arc<AtomicBool>>,
}

impl ContentOptions {
    /// Options for a pass from `cwd` with no remote, pulling and pushing,
    /// one job, over the whole work tree.
    pub fn new(cwd: PathBuf) -> ContentOptions {
        ContentOptions {
            remotes: Vec::new(),
            all: false,
            content_of: Vec::new(),
            cwd,
            jobs: 1,
            pull: true,
            push: true,
            only_configured: false,
            committed: false,
            fetch_failed: false,
            busy: HashSet::new(),
            stop: None,
        }
    }
}

/// A failure that ends the pass.
#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    /// Reading the settings or logs failed.
    #[error(transparent)]
    Annex(#[from] AnnexError),
    /// The `git-annex` branch could not be read or written.
    #[error(transparent)]
    Branch(#[from] BranchError),
    /// A drop could not read or change the repository's state.
    #[error(transparent)]
    Drop(#[from] DropError),
    /// The work tree could not be read.
    #[error(transparent)]
    WorkTree(#[from] WorkTreeError),
    /// The repository has no work tree where one is needed.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// A preferred content expression could not be evaluated.
    #[error("{0}")]
    Preferred(String),
    /// The observer asked the pass to stop ([`Stop`]).
    #[error(transparent)]
    Stopped(#[from] Stop),
}

/// What an observer returns to stop the pass (e.g. its output is gone);
/// the pass then ends with [`ContentError::Stopped`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the content pass was stopped by its observer")]
pub struct Stop;

/// The kind of an action of the pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Content comes here (git-annex shows it as `get`).
    Get,
    /// Content goes to a remote (`put`).
    Put,
    /// Content is dropped, here or from a remote (`drop`).
    Drop,
}

/// An action the pass starts.
#[derive(Debug, Clone, Copy)]
pub struct Start<'a> {
    /// What it does.
    pub kind: Kind,
    /// The file (path from the top of the work tree) or key it acts on.
    pub item: &'a Item,
    /// The remote: the destination of a put, the remote dropped from
    /// (`None`: a drop here; a get names its remote in its notes and
    /// outcome).
    pub remote: Option<&'a RemoteEntry>,
}

/// How an action ended, as a value.
#[derive(Debug)]
pub enum Outcome {
    /// A get: [`GetOutcome::Got`], or [`GetOutcome::Failed`] with every
    /// sync remote the log says has the key (tried or not: not reachable,
    /// or found without it) and where else it is.
    Get(GetOutcome),
    /// A put: [`PutOutcome::Copied`]; [`PutOutcome::Failed`] (the upload's
    /// error went to the observer as a warning); or
    /// [`PutOutcome::Unreachable`] (the remote could not be opened).
    Put(PutOutcome),
    /// A drop, with the proof of a refusal.
    Drop(DropOutcome),
}

impl Outcome {
    /// Whether the action did what it set out to.
    pub fn ok(&self) -> bool {
        matches!(
            self,
            Outcome::Get(GetOutcome::Got { .. })
                | Outcome::Put(PutOutcome::Copied)
                | Outcome::Drop(DropOutcome::Dropped)
        )
    }
}

/// Receives one action's events: its notes, progress and warnings as an
/// [`annex_ops::Observer`], then its outcome.
pub trait ActionObserver: Observer {
    /// The action is over.
    fn finish(&mut self, outcome: &Outcome) -> Result<(), Stop>;
}

/// Receives what the pass does. Actions come one at a time, in order: an
/// action's observer is dropped before the next action starts.
pub trait ContentObserver {
    /// An action starts; its events go to the observer returned.
    fn start(&mut self, action: &Start<'_>) -> Result<Box<dyn ActionObserver + '_>, Stop>;

    /// A `--content-of` path (as given) matched no file known to git; it
    /// counts as one failure of the pass.
    fn unmatched(&mut self, path: &OsStr) {
        let _ = path;
    }

    /// A parallel stage starts (`jobs > 1`): the observers of its
    /// transfers, all of `kind` ([`Kind::Get`] or [`Kind::Put`]), made on
    /// the queue's worker threads. Each transfer is then reported again as
    /// an action, in order, when its item is decided. The default shows
    /// nothing.
    fn transfers(&mut self, kind: Kind) -> Box<ObserverFactory<'_>> {
        let _ = kind;
        Box::new(|_, _| Box::new(annex_ops::Quiet))
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl ActionObserver for annex_ops::Quiet {
    fn finish(&mut self, _outcome: &Outcome) -> Result<(), Stop> {
        Ok(())
    }
}

impl ContentObserver for Quiet {
    fn start(&mut self, _action: &Start<'_>) -> Result<Box<dyn ActionObserver + '_>, Stop> {
        Ok(Box::new(annex_ops::Quiet))
    }
}

/// What a pass did.
#[derive(Debug, Default)]
pub struct Summary {
    /// The failures that fail the sync: gets and puts that failed, and one
    /// for `--content-of` paths that matched nothing.
    pub failed: usize,
    /// Whether the pass was complete (every sync remote reachable, nothing
    /// failed or put off): then it left a record for the next pass.
    pub complete: bool,
    /// What committing the remotes' and this repository's journals did;
    /// `None` when the record said nothing changed (nothing was looked at).
    pub finished: Option<Finished>,
    /// The record of the pass could not be written or removed: not a
    /// failure of the sync (a later pass only does more work).
    pub record_error: Option<SyncError>,
}

/// A content pass over one repository, its record read: ask
/// [`ContentPass::up_to_date`], then [`ContentPass::run`] it.
#[derive(Debug)]
pub struct ContentPass {
    options: ContentOptions,
    git_dir: PathBuf,
    basis: Option<Basis>,
    since: Option<Since>,
}

impl ContentPass {
    /// Reads the state the pass starts from and compares it with the
    /// record of the last complete pass (nothing else is read).
    pub fn new(session: &Session, options: ContentOptions) -> ContentPass {
        let git_dir = session.repo.git_dir().to_path_buf();
        let basis = Basis::of(session, &options);
        let since = basis.as_ref().and_then(|b| b.compare(session, &git_dir));
        ContentPass {
            options,
            git_dir,
            basis,
            since,
        }
    }

    /// Whether a complete pass already ran from this very state: then
    /// there is nothing to do ([`ContentPass::run`] looks at nothing).
    pub fn up_to_date(&self) -> bool {
        matches!(self.since, Some(Since::Unchanged))
    }

    /// Runs the pass over `annex` (the session given to
    /// [`ContentPass::new`], with its remotes), telling `obs` what it does,
    /// then commits the remotes' and this repository's journals and
    /// leaves (or clears) the record. As git-annex's sync, content is sent
    /// to a repository past its maxsize unless [`Annex::enforce_maxsize`]
    /// is set (it is not by default); the upload is still reserved for
    /// other processes to count.
    pub fn run(
        self,
        annex: &Annex,
        obs: &mut dyn ContentObserver,
    ) -> Result<Summary, ContentError> {
        if self.up_to_date() {
            return Ok(Summary {
                complete: true,
                ..Summary::default()
            });
        }
        let ContentPass {
            options,
            git_dir,
            basis,
            since: record,
        } = self;
        let mut pass = Pass::new(annex, &options)?;
        let bare = annex.session.worktree.is_none();
        let mut new_map: Option<Vec<FileEntry>> = None;
        // (In the default content sync, when no repository taking part has
        // preferred content, there is nothing to look at.)
        if !options.only_configured || pass.wanted.values().any(Option::is_some) {
            let jobs = options.jobs.max(1);
            let needs_files = !bare && (!options.all || pass.matches_filenames());
            // Only the keys whose logs changed since the record's pass, with
            // their files from its map; `None`: every file (or key).
            let since: Option<(Vec<Key>, Option<FileMap>)> = match record {
                Some(Since::Keys(keys)) if !pass.looks_across_keys() => match &basis {
                    Some(b) if needs_files => b
                        .tree
                        .and_then(|t| FileMap::load(&git_dir, &b.settings, t))
                        .map(|m| (keys, Some(m))),
                    _ => Some((keys, None)),
                },
                _ => None,
            };
            let changed: Option<HashSet<Key>> =
                since.as_ref().map(|(k, _)| k.iter().cloned().collect());
            if let Some((_, Some(m))) = &since
                && options.content_of.is_empty()
            {
                // The map holds every annexed file: the other files of a key
                // (for the drop check) without walking the work tree.
                let mut assoc: HashMap<Key, Vec<Vec<u8>>> = HashMap::new();
                for f in &m.files {
                    assoc.entry(f.key.clone()).or_default().push(f.path.clone());
                }
                pass.associated = Some(assoc);
            }
            let mut files = |pass: &mut Pass<'_>,
                             obs: &mut dyn ContentObserver|
             -> Result<Vec<Item>, ContentError> {
                match (&since, &changed) {
                    (Some((_, Some(m))), Some(keys)) => Ok(m
                        .files
                        .iter()
                        .filter(|f| keys.contains(&f.key))
                        .map(|f| Item::file(f.path.clone(), f.key.clone(), f.unlocked))
                        .collect()),
                    _ => {
                        let items = pass.worktree_items(&options, obs)?;
                        // Kept for the record, when one can be left.
                        if basis.is_some() {
                            new_map = Some(
                                items
                                    .iter()
                                    .map(|i| FileEntry {
                                        key: i.key.clone(),
                                        unlocked: i.unlocked,
                                        path: i.top_path.clone(),
                                    })
                                    .collect(),
                            );
                        }
                        Ok(items)
                    }
                }
            };
            if options.all || bare {
                let mut seen: Option<HashSet<Key>> = None;
                if !bare && pass.matches_filenames() {
                    // As git-annex: the work tree's files first (their names
                    // are what preferred content matches), then every key, not
                    // dropping a key seen in the first pass.
                    let items = files(&mut pass, obs)?;
                    pass.run_items(&items, jobs, obs, None)?;
                    seen = Some(match &since {
                        Some((_, Some(m))) => m.files.iter().map(|f| f.key.clone()).collect(),
                        _ => items.into_iter().map(|i| i.key).collect(),
                    });
                }
                let keys = match &since {
                    Some((keys, _)) => {
                        let mut v = Vec::new();
                        for k in keys {
                            if pass.snap.has_location_log(k)? {
                                v.push(Item::key(k.clone()));
                            }
                        }
                        v
                    }
                    None => annex.logged_keys()?.into_iter().map(Item::key).collect(),
                };
                pass.run_items(&keys, jobs, obs, seen.as_ref())?;
            } else {
                let items = files(&mut pass, obs)?;
                pass.run_items(&items, jobs, obs, None)?;
            }
        }
        let failed = pass.failed + usize::from(pass.seek_failed);
        let complete =
            failed == 0 && !pass.incomplete && !options.fetch_failed && !pass.uses_unused();
        drop(pass);
        let finished = annex.finish()?;
        let recorded = match basis.filter(|_| complete) {
            Some(b) => b.save(&git_dir, new_map),
            None => PassRecord::clear(&git_dir),
        };
        Ok(Summary {
            failed,
            complete,
            finished: Some(finished),
            record_error: recorded.err(),
        })
    }
}

/// Runs a content pass over `annex` ([`ContentPass::new`] then
/// [`ContentPass::run`]).
pub fn sync_content(
    annex: &Annex,
    options: ContentOptions,
    obs: &mut dyn ContentObserver,
) -> Result<Summary, ContentError> {
    ContentPass::new(&annex.session, options).run(annex, obs)
}

/// The state a content pass starts from, as its record keeps it.
#[derive(Debug)]
struct Basis {
    /// The settings' fingerprint ([`settings_fingerprint`]).
    settings: String,
    /// The tree of `HEAD` (`None` in a bare repository).
    tree: Option<gix::ObjectId>,
    /// The `git-annex` branch's tip.
    tip: gix::ObjectId,
}

/// What changed since the record's pass.
#[derive(Debug)]
enum Since {
    /// Nothing: the same settings, tree and `git-annex` tip.
    Unchanged,
    /// Only these keys' logs (in the branch's order).
    Keys(Vec<Key>),
}

impl Basis {
    /// The state of the repository now; `None` when a record can neither
    /// be used nor left: the work tree may hold changes `HEAD` lacks (or a
    /// merge is left conflicted), the journal holds log changes the branch
    /// lacks, or there is no `HEAD` or no `git-annex` branch.
    fn of(session: &Session, options: &ContentOptions) -> Option<Basis> {
        let branch = session.state.branch();
        let journal = branch.journal();
        if journal.is_dirty().ok()? || !journal.private_files().ok()?.is_empty() {
            return None;
        }
        let tip = branch.tip().ok()??;
        let repo = branch.repo();
        let tree = match &session.worktree {
            None => None,
            Some(wt) => {
                // A merge left conflicted: the index is not `HEAD`'s tree.
                if repo.git_dir().join("MERGE_HEAD").exists() {
                    return None;
                }
                let tree = repo.head_commit().ok()?.tree_id().ok()?.detach();
                // The index is HEAD's tree (no unmerged, sparse or
                // intent-to-add entry), and the work tree's files are the
                // index's: after a commit step that says so, else proven.
                if !crate::clean::index_is_head(repo)
                    || !(options.committed || crate::clean::provably_clean(repo, wt.top()))
                {
                    return None;
                }
                Some(tree)
            }
        };
        Some(Basis {
            settings: settings_fingerprint(session, options),
            tree,
            tip,
        })
    }

    /// This state against the record of the last complete pass: `None`
    /// when a full pass is needed.
    fn compare(&self, session: &Session, git_dir: &Path) -> Option<Since> {
        let rec = PassRecord::load(git_dir)?;
        if rec.settings != self.settings || rec.tree != self.tree {
            return None;
        }
        if rec.annex_tip == self.tip {
            return Some(Since::Unchanged);
        }
        let paths = session
            .state
            .branch()
            .changed_paths(rec.annex_tip, self.tip)
            .ok()?;
        changed_keys(&paths).map(Since::Keys)
    }

    /// Records a complete pass from this state (and the files it looked
    /// at, after a pass over every file).
    fn save(self, git_dir: &Path, files: Option<Vec<FileEntry>>) -> Result<(), SyncError> {
        if let (Some(tree), Some(files)) = (self.tree, files) {
            FileMap {
                settings: self.settings.clone(),
                tree,
                files,
            }
            .save(git_dir)?;
        }
        PassRecord {
            settings: self.settings,
            tree: self.tree,
            annex_tip: self.tip,
        }
        .save(git_dir)
    }
}

/// A version of the pass's decisions: changed when what a record means
/// changes, so that records of older builds are not trusted.
const PASS_LOGIC: &str = "1";

/// The fingerprint of what a pass depends on besides the work tree and
/// the `git-annex` branch: this program's pass, this repository's UUID,
/// the current directory (`--content-of` paths are relative to it), the
/// options, the remotes taking part, every git config setting, and the
/// attributes files outside the work tree.
fn settings_fingerprint(session: &Session, options: &ContentOptions) -> String {
    let mut f = Fingerprint::new();
    f.add("pass", PASS_LOGIC.as_bytes());
    f.add("version", env!("CARGO_PKG_VERSION").as_bytes());
    f.add("here", session.here().as_str().as_bytes());
    f.add("cwd", options.cwd.as_os_str().as_bytes());
    for (name, on) in [
        ("all", options.all),
        ("pull", options.pull),
        ("push", options.push),
        ("only_configured", options.only_configured),
    ] {
        f.add(name, &[u8::from(on)]);
    }
    for p in &options.content_of {
        f.add("content-of", p.as_bytes());
    }
    for r in &options.remotes {
        f.add("remote", r.as_bytes());
    }
    for (name, values) in session.config.entries() {
        for v in values {
            f.add(name, v);
        }
    }
    let mut attrs = vec![
        session.repo.git_dir().join("info/attributes"),
        // git's system-wide file, where the usual builds put it.
        PathBuf::from("/etc/gitattributes"),
        PathBuf::from("/usr/local/etc/gitattributes"),
    ];
    attrs.extend(global_attributes_file(session));
    for a in attrs {
        f.add("attributes", &std::fs::read(a).unwrap_or_default());
    }
    f.hex()
}

/// What the parallel stage (`-J`) already did for an item.
#[derive(Default)]
struct Done<'e> {
    /// Downloaded from this remote.
    got_from: Option<&'e RemoteEntry>,
    /// Uploaded to these remotes.
    put_to: Vec<Uuid>,
}

/// The planner's answer for one item: its key, its path, the remotes
/// this repository sends it to (`None`: all that want it).
type Routed = (Key, Vec<u8>, Option<BTreeSet<Uuid>>);

/// One run of the content pass.
struct Pass<'e> {
    annex: &'e Annex,
    /// The sync remotes, in order, with a UUID and without annex-ignore.
    rs: Vec<&'e RemoteEntry>,
    /// Every configured remote that is not annex-ignored (its UUID): the
    /// copies git-annex counts for the drop check.
    known_remotes: Vec<Uuid>,
    snap: Snapshot<'e>,
    live: LiveContext<'e>,
    /// Preferred content of this repository and of each sync remote
    /// (`None`: not configured, everything wanted).
    wanted: HashMap<Uuid, Option<Optimized>>,
    exprs: Vec<Expr>,
    /// Location logs changed by this pass (all present UUIDs, dead ones
    /// included).
    changed: HashMap<Key, Vec<Uuid>>,
    /// The snapshot's answer for the last key read.
    last_read: RefCell<Option<(Key, Vec<Uuid>)>>,
    /// Every annexed file of the work tree by key (for the drop check of
    /// keys used by several files), made when first needed.
    associated: Option<HashMap<Key, Vec<Vec<u8>>>>,
    /// [`ContentOptions::pull`], [`ContentOptions::push`] and
    /// [`ContentOptions::only_configured`].
    pull: bool,
    push: bool,
    only_configured: bool,
    /// Whether any attributes file mentions `annex.numcopies` or
    /// `annex.mincopies`, found out when first needed.
    copies_attr_possible: Option<bool>,
    /// Whether the pass left something undone that a later pass may do
    /// (a sync remote that cannot be reached, a failed drop, a get put
    /// off for want of space): it then leaves no record.
    incomplete: bool,
    /// Gets and puts that failed.
    failed: usize,
    /// [`ContentOptions::busy`].
    busy: HashSet<Key>,
    /// [`ContentOptions::stop`].
    stop: Option<Arc<AtomicBool>>,
    /// A `--content-of` path matched nothing.
    seek_failed: bool,
    /// `annex.rs-distribution=leastcost`: the planner's routes, and its
    /// answer for the last key asked (`None`: send as the flood does).
    route: Option<annex_sim::route::Route>,
    routed: RefCell<Option<Routed>>,
}

impl<'e> Pass<'e> {
    fn new(annex: &'e Annex, options: &ContentOptions) -> Result<Pass<'e>, ContentError> {
        let mut rs: Vec<&RemoteEntry> = Vec::new();
        for name in &options.remotes {
            if let Some(e) = annex.remotes.entries.iter().find(|r| &r.name == name)
                && e.uuid.is_some()
                && e.uuid.as_ref() != Some(annex.here())
                && !rs.iter().any(|r| r.name == e.name)
            {
                rs.push(e);
            }
        }
        let known_remotes: Vec<Uuid> = annex
            .remotes
            .entries
            .iter()
            .filter_map(|r| r.uuid.clone())
            .collect();
        let state = &annex.session.state;
        let snap = Snapshot::new(state.branch())?;
        let mut inner = annex.match_context()?;
        let mut wanted = HashMap::new();
        let mut exprs = Vec::new();
        let mut uuids = vec![annex.here().clone()];
        uuids.extend(rs.iter().filter_map(|r| r.uuid.clone()));
        for u in &uuids {
            let e = annex.preferred_of(&inner, u)?;
            wanted.insert(u.clone(), e.as_ref().map(Expr::optimized));
            exprs.extend(e);
        }
        if exprs
            .iter()
            .any(|e| uses(e, &|t| matches!(t, Term::Balanced(_))))
        {
            // Balancing by size needs the repositories' sizes.
            if let Ok(db) = annex_core::sizes::RepoSizes::open(&annex.session.repo.annex_dir())
                && let Ok(sizes) = db.sizes(state.branch())
            {
                inner.set_repo_sizes(sizes);
            }
        }
        let route = match annex.session.config.get_str(annex_sim::route::SETTING) {
            // A map that cannot be made (this repository unreadable):
            // the flood.
            Some(v) if v == "leastcost" => {
                annex_sim::route::Route::for_repo(annex.session.repo.git_dir()).ok()
            }
            _ => None,
        };
        // Repositories only the map knows of (reached through other
        // repositories' remotes): one whose preferred content cannot be
        // read is left out of the plans (taken as wanting nothing), never
        // a failure of the pass, whose flood never reads it.
        for u in route.iter().flat_map(|r| r.uuids()) {
            if !wanted.contains_key(u)
                && let Ok(e) = annex.preferred_of(&inner, u)
            {
                wanted.insert(u.clone(), e.as_ref().map(Expr::optimized));
            }
        }
        let clusters = state.clusters()?;
        Ok(Pass {
            route,
            routed: RefCell::new(None),
            busy: options.busy.clone(),
            stop: options.stop.clone(),
            incomplete: rs.iter().any(|r| r.remote.is_err()),
            annex,
            rs,
            known_remotes,
            snap,
            live: LiveContext {
                inner,
                clusters,
                current: RefCell::new(None),
            },
            wanted,
            exprs,
            changed: HashMap::new(),
            last_read: RefCell::new(None),
            associated: None,
            copies_attr_possible: None,
            pull: options.pull,
            push: options.push,
            only_configured: options.only_configured,
            failed: 0,
            seek_failed: false,
        })
    }

    /// Whether any preferred content expression of the pass looks at file
    /// names (then `--all` seeks the work tree first, as git-annex).
    fn matches_filenames(&self) -> bool {
        self.exprs.iter().any(|e| {
            uses(e, &|t| {
                matches!(
                    t,
                    Term::Include(_) | Term::Exclude(_) | Term::InPreferredDir
                )
            })
        })
    }

    /// Whether an expression of the pass decides a key by looking at other
    /// keys too: the balanced family (through the repositories' sizes) and
    /// `unused` (through every branch). Then a pass over the changed keys
    /// only would not do.
    fn looks_across_keys(&self) -> bool {
        self.uses_unused()
            || self
                .exprs
                .iter()
                .any(|e| uses(e, &|t| matches!(t, Term::Balanced(_))))
    }

    /// Whether an expression uses `unused`, which depends on every branch
    /// and tag: no record can tell when that changed.
    fn uses_unused(&self) -> bool {
        self.exprs
            .iter()
            .any(|e| uses(e, &|t| matches!(t, Term::Unused)))
    }

    /// The annexed files under the `--content-of` paths (the whole work
    /// tree when none), as items. git-annex's sync works from the top of
    /// the work tree: every file when no path is given (wherever it runs);
    /// the paths are relative to the current directory.
    fn worktree_items(
        &mut self,
        options: &ContentOptions,
        obs: &mut dyn ContentObserver,
    ) -> Result<Vec<Item>, ContentError> {
        let wt = self.annex.session.worktree()?;
        let paths = &options.content_of;
        let files = if paths.is_empty() {
            wt.annexed_files(&[])?.files
        } else {
            let top = wt
                .top()
                .canonicalize()
                .unwrap_or_else(|_| wt.top().to_path_buf());
            let mut specs = Vec::with_capacity(paths.len());
            for p in paths {
                specs.push(annex_core::worktree::pathspec_from_arg(
                    &top,
                    &options.cwd,
                    Path::new(p),
                )?);
            }
            let seek = wt.annexed_files(&specs)?;
            for spec in &seek.unmatched {
                // Named as the caller gave it.
                let shown = specs
                    .iter()
                    .position(|s| s.strip_suffix(b"/").unwrap_or(s) == spec.as_slice())
                    .map(|i| paths[i].as_os_str())
                    .unwrap_or_else(|| OsStr::from_bytes(spec));
                obs.unmatched(shown);
                self.seek_failed = true;
            }
            seek.files
        };
        Ok(files
            .into_iter()
            .map(|f| Item::file(f.path, f.key, !f.locked))
            .collect())
    }

    fn trust_of(&self, u: &Uuid) -> TrustLevel {
        self.annex.trust_of(u)
    }

    /// The location log's present UUIDs for a key (dead included), with
    /// this pass's changes.
    fn raw_locations(&self, key: &Key) -> Result<Vec<Uuid>, ContentError> {
        if let Some(l) = self.changed.get(key) {
            return Ok(l.clone());
        }
        // The last key read is kept: an item asks several times.
        if let Some((k, l)) = self.last_read.borrow().as_ref()
            && k == key
        {
            return Ok(l.clone());
        }
        let l = self.snap.locations(key)?;
        *self.last_read.borrow_mut() = Some((key.clone(), l.clone()));
        Ok(l)
    }

    /// Records a change this pass made to a key's location log (the log
    /// itself is written by the operations).
    fn note_location(&mut self, key: &Key, u: &Uuid, present: bool) -> Result<(), ContentError> {
        let mut l = self.raw_locations(key)?;
        l.retain(|x| x != u);
        if present {
            l.push(u.clone());
        }
        self.changed.insert(key.clone(), l);
        Ok(())
    }

    /// Whether this pass moves content into or out of repository `u` at
    /// all: this repository only when pulling, a remote only when
    /// pushing, and in the default content sync only a repository with
    /// preferred content configured.
    fn takes_part(&self, u: &Uuid) -> bool {
        let side = if u == self.annex.here() {
            self.pull
        } else {
            self.push
        };
        side && (!self.only_configured || matches!(self.wanted.get(u), Some(Some(_))))
    }

    /// Whether repository `u` wants the item (preferred content, or
    /// everything when not configured), `gone` treated as not having it.
    fn wants(&self, u: &Uuid, item: &Item, gone: &[Uuid]) -> Result<bool, ContentError> {
        let Some(Some(expr)) = self.wanted.get(u) else {
            return Ok(true);
        };
        let raw = self.raw_locations(&item.key)?;
        self.live.set(&item.key, raw);
        let mut it = item.matchable().for_repo(Some(u));
        it.not_present = gone;
        expr.eval(&self.live, &it)
            .map_err(|e| ContentError::Preferred(e.to_string()))
    }

    /// Whether this repository sends the item to `u` (which wants it):
    /// always in the flood; with `leastcost`, when `u` is its child in the
    /// key's plan ([`annex_sim::route`]).
    fn routed(&self, u: &Uuid, item: &Item) -> Result<bool, ContentError> {
        let Some(route) = &self.route else {
            return Ok(true);
        };
        if let Some((k, path, to)) = self.routed.borrow().as_ref()
            && *k == item.key
            && *path == item.top_path
        {
            return Ok(to.as_ref().is_none_or(|to| to.contains(u)));
        }
        let mut holders = self.raw_locations(&item.key)?;
        holders.push(self.annex.here().clone());
        let mut failed = None;
        let to = route.sends_to(&holders, |r| {
            if !self.wanted.contains_key(r) {
                // Its preferred content could not be read (`Pass::new`).
                return false;
            }
            match self.wants(r, item, &[]) {
                Ok(w) => w,
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        let yes = to.as_ref().is_none_or(|to| to.contains(u));
        *self.routed.borrow_mut() = Some((item.key.clone(), item.top_path.clone(), to));
        Ok(yes)
    }

    /// git-annex's `wantDrop`: `u` no longer wants the key through this
    /// file nor any other file of the work tree using the same key.
    fn wants_drop(&mut self, u: &Uuid, item: &Item) -> Result<bool, ContentError> {
        if !self.takes_part(u) || !matches!(self.wanted.get(u), Some(Some(_))) {
            return Ok(false);
        }
        let gone = [u.clone()];
        if self.wants(u, item, &gone)? {
            return Ok(false);
        }
        let others: Vec<Vec<u8>> = self
            .associated()?
            .get(&item.key)
            .map(|v| {
                v.iter()
                    .filter(|p| !item.is_file || **p != item.top_path)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for path in others {
            let other = Item::file(path, item.key.clone(), false);
            if self.wants(u, &other, &gone)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn associated(&mut self) -> Result<&HashMap<Key, Vec<Vec<u8>>>, ContentError> {
        if self.associated.is_none() {
            let mut m: HashMap<Key, Vec<Vec<u8>>> = HashMap::new();
            if let Some(wt) = self.annex.session.worktree.as_ref() {
                wt.for_each_annexed_file(&[], |_, f| {
                    m.entry(f.key).or_default().push(f.path);
                    Ok::<(), ContentError>(())
                })?;
            }
            self.associated = Some(m);
        }
        Ok(self.associated.get_or_insert_with(HashMap::new))
    }

    /// The numcopies and mincopies for an item ([`Annex::copies_for`]:
    /// its file's attributes, else the configured ones), without asking
    /// git for each file when no attributes file mentions them (the
    /// common case).
    fn copies_for(&mut self, item: &Item) -> (i64, i64) {
        let global = (self.annex.numcopies, self.annex.mincopies);
        if !item.is_file {
            return global;
        }
        let Some(wt) = self.annex.session.worktree.as_ref() else {
            return global;
        };
        let annex = self.annex;
        let possible = *self
            .copies_attr_possible
            .get_or_insert_with(|| attributes_mention_copies(&annex.session, wt.top()));
        if !possible {
            return global;
        }
        annex.copies_for(item)
    }

    /// Whether a stop was asked ([`ContentOptions::stop`]); the pass is
    /// then incomplete.
    fn stopping(&mut self) -> bool {
        let asked = self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst));
        self.incomplete |= asked;
        asked
    }

    /// Runs the pass over `items`: with `jobs > 1` the transfers of each
    /// chunk run in parallel first, then each item is decided, reported
    /// and recorded in order. `no_drop`: keys not to drop (`--all`'s keys
    /// already seen as work tree files).
    fn run_items(
        &mut self,
        items: &[Item],
        jobs: usize,
        obs: &mut dyn ContentObserver,
        no_drop: Option<&HashSet<Key>>,
    ) -> Result<(), ContentError> {
        // Keys another process is transferring are left for a later pass.
        let kept: Vec<Item>;
        let items = if self.busy.is_empty() {
            items
        } else {
            kept = items
                .iter()
                .filter(|i| !self.busy.contains(&i.key))
                .cloned()
                .collect();
            if kept.len() < items.len() {
                self.incomplete = true;
            }
            &kept[..]
        };
        if jobs <= 1 {
            for item in items {
                if self.stopping() {
                    return Ok(());
                }
                self.sync_item(item, Done::default(), obs, no_drop)?;
            }
            return Ok(());
        }
        for chunk in items.chunks(jobs * 8) {
            if self.stopping() {
                return Ok(());
            }
            let mut done = self.parallel(chunk, jobs, obs)?;
            for (i, item) in chunk.iter().enumerate() {
                let d = std::mem::take(&mut done[i]);
                self.sync_item(item, d, obs, no_drop)?;
            }
        }
        Ok(())
    }

    /// The parallel stage of a chunk: the downloads the pass would make,
    /// then the uploads to each remote, `jobs` at a time, on the transfer
    /// queue. Nothing is recorded here; [`Pass::sync_item`] reports and
    /// records each.
    fn parallel(
        &mut self,
        chunk: &[Item],
        jobs: usize,
        obs: &mut dyn ContentObserver,
    ) -> Result<Vec<Done<'e>>, ContentError> {
        let annex = self.annex;
        let here = annex.here();
        let mut done: Vec<Done<'e>> = (0..chunk.len()).map(|_| Done::default()).collect();
        let mut plan = Vec::new();
        let mut sources: Vec<Option<&'e RemoteEntry>> = vec![None; chunk.len()];
        // A key used by several files of the chunk is transferred once:
        // the later files find it done when they are decided.
        let mut planned: HashSet<&Key> = HashSet::new();
        for (i, item) in chunk.iter().enumerate() {
            if planned.contains(&item.key) {
                continue;
            }
            let locs = self.remote_locations(&item.key)?;
            let have: Vec<&'e RemoteEntry> = self
                .rs
                .iter()
                .copied()
                .filter(|r| r.uuid.as_ref().is_some_and(|u| locs.contains(u)))
                .collect();
            if annex.session.store.has(&item.key) {
                // Here, but perhaps not logged (a sync killed in between).
                annex.record_found_here(&item.key)?;
                continue;
            }
            if have.is_empty() || !self.takes_part(here) {
                continue;
            }
            if !self.wants(here, item, &[])? {
                continue;
            }
            if annex.space_shortfall(&item.key).is_some() {
                self.incomplete = true;
                continue;
            }
            let source = have.into_iter().find(|e| {
                e.usable()
                    .is_some_and(|r| matches!(r.check_present(&item.key), Ok(true)))
            });
            if let Some(e) = source
                && let Some(r) = e.usable()
            {
                plan.push(Request { item: i, remote: r });
                sources[i] = Some(e);
                planned.insert(&item.key);
            }
        }
        if !plan.is_empty() {
            let ok = run_queue(annex, chunk, &plan, Kind::Get, jobs, obs);
            for (p, ok) in plan.iter().zip(ok) {
                if ok {
                    done[p.item].got_from = sources[p.item];
                }
            }
        }
        for r in self.rs.clone() {
            let (Some(ru), Some(remote)) = (r.uuid.as_ref(), r.usable()) else {
                continue;
            };
            if self.readonly(r) || !self.takes_part(ru) {
                continue;
            }
            let mut plan = Vec::new();
            let mut planned: HashSet<&Key> = HashSet::new();
            for (i, item) in chunk.iter().enumerate() {
                if planned.contains(&item.key)
                    || self.remote_locations(&item.key)?.contains(ru)
                    || !annex.session.store.has(&item.key)
                    || !self.wants(ru, item, &[])?
                    || !self.routed(ru, item)?
                {
                    continue;
                }
                plan.push(Request { item: i, remote });
                planned.insert(&item.key);
            }
            if plan.is_empty() {
                continue;
            }
            let ok = run_queue(annex, chunk, &plan, Kind::Put, jobs, obs);
            for (p, ok) in plan.iter().zip(ok) {
                if ok {
                    done[p.item].put_to.push(ru.clone());
                }
            }
        }
        Ok(done)
    }

    /// The configured, not annex-ignored remotes the location log says
    /// have the key (git-annex's `keyPossibilities`), dead ones left out.
    fn remote_locations(&self, key: &Key) -> Result<Vec<Uuid>, ContentError> {
        let raw = self.raw_locations(key)?;
        Ok(raw
            .into_iter()
            .filter(|u| {
                u != self.annex.here()
                    && self.known_remotes.contains(u)
                    && self.trust_of(u) != TrustLevel::Dead
            })
            .collect())
    }

    fn readonly(&self, r: &RemoteEntry) -> bool {
        self.annex
            .session
            .config
            .remote(&r.name)
            .is_some_and(|c| c.readonly)
    }

    /// git-annex's `syncFile` for one item.
    fn sync_item(
        &mut self,
        item: &Item,
        done: Done<'e>,
        obs: &mut dyn ContentObserver,
        no_drop: Option<&HashSet<Key>>,
    ) -> Result<(), ContentError> {
        let annex = self.annex;
        let here = annex.here().clone();
        let key = &item.key;
        let locs = self.remote_locations(key)?;
        let (have, lack): (Vec<&'e RemoteEntry>, Vec<&'e RemoteEntry>) = self
            .rs
            .iter()
            .copied()
            .partition(|r| r.uuid.as_ref().is_some_and(|u| locs.contains(u)));
        // Whether the content is here is asked only when it matters.
        let mut inhere: Option<bool> = None;
        let mut has_here = |pass: &Pass<'_>| -> bool {
            *inhere
                .get_or_insert_with(|| done.got_from.is_none() && pass.annex.session.store.has(key))
        };
        let mut got = false;
        if let Some(entry) = done.got_from {
            // Downloaded by the queue: recorded now.
            got = true;
            let mut action = obs.start(&Start {
                kind: Kind::Get,
                item,
                remote: None,
            })?;
            action.note(&annex_ops::transfer::transfer_note(
                Direction::Download,
                &entry.name,
            ));
            annex.received(item)?;
            action.finish(&Outcome::Get(GetOutcome::Got {
                from: entry.name.clone(),
            }))?;
            drop(action);
            self.note_location(key, &here, true)?;
        } else if !have.is_empty()
            && self.takes_part(&here)
            && !has_here(self)
            && self.wants(&here, item, &[])?
        {
            got = self.get(item, &have, obs)?;
        }
        let inhere_now = got || has_here(self);
        if inhere_now && !got && !self.raw_locations(key)?.contains(&here) {
            // Here, but not logged (a sync killed in between): recorded.
            if annex.record_found_here(key)? {
                self.note_location(key, &here, true)?;
            }
        }
        let mut putrs: Vec<Uuid> = Vec::new();
        if inhere_now {
            for r in lack {
                let Some(ru) = r.uuid.clone() else {
                    continue;
                };
                if done.put_to.contains(&ru)
                    && let Some(remote) = r.usable()
                {
                    // Uploaded by the queue: recorded now.
                    let mut action = obs.start(&Start {
                        kind: Kind::Put,
                        item,
                        remote: Some(r),
                    })?;
                    action.note(&annex_ops::transfer::transfer_note(
                        Direction::Upload,
                        &r.name,
                    ));
                    annex.uploaded(remote, item)?;
                    action.finish(&Outcome::Put(PutOutcome::Copied))?;
                    drop(action);
                    self.note_location(key, &ru, true)?;
                    putrs.push(ru);
                    continue;
                }
                if self.readonly(r)
                    || !self.takes_part(&ru)
                    || !self.wants(&ru, item, &[])?
                    || !self.routed(&ru, item)?
                {
                    continue;
                }
                if self.put(item, r, obs)? {
                    putrs.push(ru);
                }
            }
        }
        if no_drop.is_some_and(|s| s.contains(key)) {
            return Ok(());
        }
        let mut locs2: Vec<Uuid> = Vec::new();
        if inhere_now {
            locs2.push(here.clone());
        }
        locs2.extend(putrs);
        locs2.extend(locs);
        self.drops(item, &locs2, inhere_now, obs)
    }

    /// Gets the item from the first of `have` that has it now (git-annex's
    /// `probablyPresent`, for remotes cheap to ask).
    fn get(
        &mut self,
        item: &Item,
        have: &[&'e RemoteEntry],
        obs: &mut dyn ContentObserver,
    ) -> Result<bool, ContentError> {
        let annex = self.annex;
        let mut action = obs.start(&Start {
            kind: Kind::Get,
            item,
            remote: None,
        })?;
        let mut tried = Vec::new();
        let mut tried_uuids = Vec::new();
        for entry in have {
            tried.push(entry.name.clone());
            tried_uuids.extend(entry.uuid.clone());
            let Some(remote) = entry.usable() else {
                continue;
            };
            if !matches!(remote.check_present(&item.key), Ok(true)) {
                continue;
            }
            match annex.download(remote, item, &mut action) {
                Ok(()) => {
                    action.finish(&Outcome::Get(GetOutcome::Got {
                        from: entry.name.clone(),
                    }))?;
                    drop(action);
                    self.note_location(&item.key, annex.here(), true)?;
                    return Ok(true);
                }
                Err(error) => action.warning(&Warning::Remote {
                    remote: &entry.name,
                    direction: Direction::Download,
                    error: &error,
                }),
            }
        }
        let whereabouts = annex.whereabouts(&item.key, &tried_uuids)?;
        action.finish(&Outcome::Get(GetOutcome::Failed { tried, whereabouts }))?;
        self.failed += 1;
        Ok(false)
    }

    /// Sends the item to a remote that the location log says lacks it
    /// (git-annex's `copy --to` of one file in its fast mode, shown as
    /// `put`): the reference binary does not ask the remote first.
    fn put(
        &mut self,
        item: &Item,
        entry: &'e RemoteEntry,
        obs: &mut dyn ContentObserver,
    ) -> Result<bool, ContentError> {
        let annex = self.annex;
        let Some(ru) = entry.uuid.clone() else {
            return Ok(false);
        };
        let mut action = obs.start(&Start {
            kind: Kind::Put,
            item,
            remote: Some(entry),
        })?;
        let outcome = match entry.usable() {
            Some(remote) => match annex.upload(remote, item, &mut action) {
                Ok(()) => PutOutcome::Copied,
                Err(error) => {
                    action.warning(&Warning::Remote {
                        remote: &entry.name,
                        direction: Direction::Upload,
                        error: &error,
                    });
                    PutOutcome::Failed
                }
            },
            None => {
                action.note(&annex_ops::transfer::transfer_note(
                    Direction::Upload,
                    &entry.name,
                ));
                PutOutcome::Unreachable
            }
        };
        let outcome = Outcome::Put(outcome);
        action.finish(&outcome)?;
        drop(action);
        if outcome.ok() {
            self.note_location(&item.key, &ru, true)?;
            Ok(true)
        } else {
            self.failed += 1;
            Ok(false)
        }
    }

    /// git-annex's `handleDropsFrom`: drops from the sync remotes that no
    /// longer want the key while more than numcopies copies remain, then
    /// from here. `locs` are the copies believed present (this
    /// repository first when it has the content).
    fn drops(
        &mut self,
        item: &Item,
        locs: &[Uuid],
        inhere: bool,
        obs: &mut dyn ContentObserver,
    ) -> Result<(), ContentError> {
        let annex = self.annex;
        let here = annex.here().clone();
        // Only repositories with preferred content can want a drop: when
        // none of those holding the key has one, nothing is to do.
        let candidates: Vec<&'e RemoteEntry> = self
            .rs
            .iter()
            .copied()
            .filter(|r| r.uuid.as_ref().is_some_and(|u| locs.contains(u)))
            .collect();
        let configured = |u: &Uuid| matches!(self.wanted.get(u), Some(Some(_)));
        let may_drop = (inhere && configured(&here))
            || candidates
                .iter()
                .any(|r| r.uuid.as_ref().is_some_and(configured));
        if !may_drop {
            return Ok(());
        }
        // Nor when none of them wants it gone now (asked before the
        // numcopies of the file, which may take a `git check-attr`): no
        // drop could then happen, nor change what the others want.
        let mut wanted_gone = inhere && self.wants_drop(&here, item)?;
        for r in &candidates {
            if wanted_gone {
                break;
            }
            if let Some(ru) = r.uuid.as_ref() {
                wanted_gone = self.wants_drop(ru, item)?;
            }
        }
        if !wanted_gone {
            return Ok(());
        }
        let untrusted: Vec<&Uuid> = locs
            .iter()
            .filter(|u| self.trust_of(u) == TrustLevel::Untrusted)
            .collect();
        let mut have = locs
            .iter()
            .filter(|u| {
                !untrusted.contains(u)
                    && !annex_core::logs::cluster::is_cluster_uuid(u.as_str().as_bytes())
            })
            .count() as i64;
        let (numcopies, mincopies) = self.copies_for(item);
        let enough = |have: i64, untrusted_remote: bool| {
            if untrusted_remote {
                have >= numcopies && have >= mincopies
            } else {
                have > numcopies && have > mincopies
            }
        };
        let from_here = enough(have, false);
        for r in candidates {
            let Some(ru) = r.uuid.clone() else {
                continue;
            };
            let is_untrusted = untrusted.contains(&&ru);
            if !enough(have, is_untrusted) {
                break;
            }
            if !self.wants_drop(&ru, item)? {
                continue;
            }
            let mut action = obs.start(&Start {
                kind: Kind::Drop,
                item,
                remote: Some(r),
            })?;
            action.note(&format!("from {}...", r.name));
            let outcome = annex.drop_remote(r, item, DropOptions::default())?;
            let ok = matches!(outcome, DropOutcome::Dropped);
            action.finish(&Outcome::Drop(outcome))?;
            drop(action);
            self.incomplete |= !ok;
            if ok {
                self.note_location(&item.key, &ru, false)?;
                if !is_untrusted {
                    have -= 1;
                }
            }
        }
        if from_here
            && inhere
            && self.wants_drop(&here, item)?
            && annex.session.store.has(&item.key)
        {
            let mut action = obs.start(&Start {
                kind: Kind::Drop,
                item,
                remote: None,
            })?;
            let outcome = annex.drop_here(item, DropOptions::default())?;
            let ok = matches!(outcome, DropOutcome::Dropped);
            action.finish(&Outcome::Drop(outcome))?;
            drop(action);
            self.incomplete |= !ok;
            if ok {
                self.note_location(&item.key, &here, false)?;
            }
        }
        Ok(())
    }
}

/// Runs the transfers of `plan` over the items of `chunk` on the
/// [queue](annex_ops::queue), each watched by an observer the pass's
/// observer makes; whether each succeeded, in the plan's order.
fn run_queue(
    annex: &Annex,
    chunk: &[Item],
    plan: &[Request<'_>],
    kind: Kind,
    jobs: usize,
    obs: &mut dyn ContentObserver,
) -> Vec<bool> {
    let direction = match kind {
        Kind::Put => Direction::Upload,
        Kind::Get | Kind::Drop => Direction::Download,
    };
    let factory = obs.transfers(kind);
    annex
        .run_queue(
            chunk,
            plan,
            QueueOptions {
                direction,
                jobs,
                cancel: None,
            },
            &*factory,
        )
        .into_iter()
        .map(|r| r.is_done())
        .collect()
}

/// Whether any attributes file git reads for the work tree may set
/// `annex.numcopies` or `annex.mincopies`: the `.gitattributes` files
/// (tracked or not), `.git/info/attributes`, and `core.attributesFile` (or
/// its default under `$XDG_CONFIG_HOME` or `~/.config`). When git cannot
/// list them, the answer is yes (each file is then asked).
fn attributes_mention_copies(session: &Session, top: &Path) -> bool {
    let mentions = |p: &Path| {
        std::fs::read(p).is_ok_and(|c| {
            c.windows(15)
                .any(|w| w == b"annex.numcopies" || w == b"annex.mincopies")
        })
    };
    let listed = crate::git::Git::new(top).output([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--",
        ":(glob)**/.gitattributes",
    ]);
    let listed = match listed {
        Ok(o) if o.status.success() => o.stdout,
        _ => return true,
    };
    if listed
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .any(|p| mentions(&top.join(OsStr::from_bytes(p))))
    {
        return true;
    }
    if mentions(&session.repo.git_dir().join("info/attributes")) {
        return true;
    }
    global_attributes_file(session).is_some_and(|g| mentions(&g))
}

/// The attributes file git reads for every repository of the user:
/// `core.attributesFile`, or its default under `$XDG_CONFIG_HOME` or
/// `~/.config`.
fn global_attributes_file(session: &Session) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match session.config.get_str("core.attributesFile") {
        Some(f) => match (f.strip_prefix("~/"), &home) {
            (Some(rest), Some(h)) => Some(h.join(rest)),
            _ => Some(PathBuf::from(f)),
        },
        None => std::env::var_os("XDG_CONFIG_HOME")
            .filter(|x| !x.is_empty())
            .map(|x| PathBuf::from(x).join("git/attributes"))
            .or_else(|| home.map(|h| h.join(".config/git/attributes"))),
    }
}

/// Whether an expression uses a term `f` picks (inside `standard` and
/// `groupwanted` too).
fn uses(e: &Expr, f: &dyn Fn(&Term) -> bool) -> bool {
    fn go(m: &preferred::Matcher<Term>, f: &dyn Fn(&Term) -> bool) -> bool {
        m.any_op(&mut |t: &Term| match t {
            Term::Standard(Sub::Expr(sub)) | Term::GroupWanted(Sub::Expr(sub)) => go(sub, f),
            t => f(t),
        })
    }
    go(&e.matcher, f)
}

/// The preferred-content engine's view for the pass: the repository's
/// logs through a [`StateContext`], except the location log of the key
/// being decided, which is the pass's current one (the snapshot with the
/// pass's own changes).
struct LiveContext<'s> {
    inner: StateContext<'s>,
    clusters: BTreeMap<Uuid, BTreeSet<Vec<u8>>>,
    current: RefCell<Option<(Key, Vec<Uuid>)>>,
}

impl LiveContext<'_> {
    /// Sets the key being decided and its present UUIDs.
    fn set(&self, key: &Key, mut locs: Vec<Uuid>) {
        // Clusters whose nodes have the key count as locations too.
        let mut extra: Vec<Uuid> = self
            .clusters
            .iter()
            .filter(|(c, nodes)| {
                locs.iter().any(|u| nodes.contains(u.as_str().as_bytes())) && !locs.contains(c)
            })
            .map(|(c, _)| c.clone())
            .collect();
        extra.append(&mut locs);
        *self.current.borrow_mut() = Some((key.clone(), extra));
    }
}

impl MatchContext for LiveContext<'_> {
    type Error = BranchError;

    fn here(&self) -> Option<&Uuid> {
        self.inner.here()
    }
    fn trust(&self, uuid: &Uuid) -> TrustLevel {
        self.inner.trust(uuid)
    }
    fn in_group(&self, uuid: &Uuid, group: &[u8]) -> bool {
        self.inner.in_group(uuid, group)
    }
    fn group_members(&self, group: &[u8]) -> Option<&BTreeSet<Uuid>> {
        self.inner.group_members(group)
    }
    fn with_locations<R>(&self, key: &Key, f: impl FnOnce(&[Uuid]) -> R) -> Result<R, BranchError> {
        if let Some((k, l)) = self.current.borrow().as_ref()
            && k == key
        {
            return Ok(f(l));
        }
        self.inner.with_locations(key, f)
    }
    fn with_metadata<R>(
        &self,
        key: &Key,
        f: impl FnOnce(&MetaData) -> R,
    ) -> Result<R, BranchError> {
        self.inner.with_metadata(key, f)
    }
    fn with_urls<R>(&self, key: &Key, f: impl FnOnce(&[Vec<u8>]) -> R) -> Result<R, BranchError> {
        self.inner.with_urls(key, f)
    }
    fn has_content(&self, key: &Key) -> Result<bool, BranchError> {
        self.inner.has_content(key)
    }
    fn is_unused(&self, key: &Key) -> Result<bool, BranchError> {
        self.inner.is_unused(key)
    }
    fn numcopies(&self, file: Option<&[u8]>) -> Result<i64, BranchError> {
        self.inner.numcopies(file)
    }
    fn preferred_dir(&self, repo: Option<&Uuid>) -> &[u8] {
        self.inner.preferred_dir(repo)
    }
    fn max_size(&self, uuid: &Uuid) -> Option<u64> {
        self.inner.max_size(uuid)
    }
    fn repo_size(&self, uuid: &Uuid) -> Option<u64> {
        self.inner.repo_size(uuid)
    }
    fn rebalance(&self) -> bool {
        self.inner.rebalance()
    }
    fn fully_balanced_threshold(&self) -> f64 {
        self.inner.fully_balanced_threshold()
    }
}
