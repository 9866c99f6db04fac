//! The content pass of `sync --content`: get what this repository wants,
//! send each remote what it wants, drop what is no longer wanted where
//! numcopies allows.
//!
//! For each annexed file of the work tree (or each key with `--all`, or
//! the files under `--content-of` paths), as git-annex's `syncFile`:
//!
//! 1. **get**: when some of the sync remotes have the key (location log)
//!    and this repository lacks it and wants it, it is downloaded from the
//!    first of them (in the order `sync` gave them, cheapest first) that
//!    has it now;
//! 2. **put**: when this repository has it, it is sent to each sync remote
//!    that lacks it (location log) and wants it, unless the remote is read
//!    only (`remote.NAME.annex-readonly`);
//! 3. **drop**: with the copies now known (this repository, the remotes
//!    just sent to, and every configured remote the log says has it), from
//!    each sync remote that has it and no longer wants it while more than
//!    numcopies (and mincopies) copies remain, then from here last; every
//!    drop is proven by copies verified (locked) at the time, never on the
//!    log's word, as `drop` does.
//!
//! A repository with no preferred content (`wanted`/`required` unset)
//! wants everything and drops nothing, as git-annex decides. Remotes with
//! `annex-ignore` take no part (nor count as copies for the drop check);
//! remotes that cannot be reached fail their own actions only.
//!
//! Speed: location logs are read through one [`Snapshot`] of the
//! `git-annex` branch (the changes made by the pass itself are kept in
//! memory), each repository's preferred content expression is built once,
//! and a file's content is looked for here only when the answer matters
//! (a get or a put that is wanted). A pass with nothing to do reads the
//! index, the branch's trees and nothing else.
//!
//! Output: one action per transfer or drop, named as git-annex names them
//! (`get FILE (from REMOTE...)`, `put FILE (to REMOTE...)`, `drop FILE
//! (from REMOTE...)`, `drop FILE`), plain or JSON (`command` `get`, `put`
//! with the destination's `uuid` as `git annex put --json` gives it,
//! `drop`). Failed gets and puts count as failures of the sync; failed
//! drops are shown but do not fail it (git-annex's `callCommandAction`).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ffi::OsString;

use annex_core::branch::{BranchError, Snapshot};
use annex_core::key::Key;
use annex_core::logs::metadata::MetaData;
use annex_core::logs::trust::TrustLevel;
use annex_core::preferred::term::Term;
use annex_core::preferred::{self, Expr, MatchContext, Optimized, StateContext, Sub};
use annex_core::transfer::Direction;
use annex_core::uuid::Uuid;
use annex_sync::content_record::{FileEntry, FileMap, Fingerprint, PassRecord, changed_keys};
use serde_json::Value;

use super::xfer::{self, Env, Item, RemoteEntry};
use crate::action::{OutputArgs, Reporter};
use crate::context::Ctx;
use crate::error::CommandError;
use crate::progress::ProgressMode;

/// What `sync` asks of the content pass.
#[derive(Debug, Clone)]
pub struct ContentOptions {
    /// The remotes to exchange content with, by name, as `sync` chose them
    /// (named on the command line, or every remote that syncs; without
    /// `annex-ignore`, `annex-sync=false`, or a failed fetch).
    pub remotes: Vec<String>,
    /// `--all`: every key with a location log, not only the work tree's files.
    pub all: bool,
    /// `--content-of=PATH` (repeatable); empty means the whole work tree.
    pub content_of: Vec<OsString>,
    /// `-J N`.
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
    /// `HEAD` holds them ([`annex_sync::sync::CommitOutcome::clean`]);
    /// else the pass proves it before trusting its record.
    pub committed: bool,
    /// Whether fetching from a remote failed (then the pass leaves no
    /// record: what that remote has was not merged).
    pub fetch_failed: bool,
}

/// Runs the content pass over the repository of `ctx` (already merged by
/// `sync`), reporting every action through `output` as git-annex does, and
/// commits the `git-annex` branch before it returns. Returns how many
/// actions failed.
///
/// The remotes are used in the order of `options.remotes` (git-annex's:
/// the ones named on the command line in that order, else by cost); names
/// of remotes that are unknown, `annex-ignore`d or have no UUID are
/// skipped, as git-annex leaves them out of the content pass.
pub fn run(ctx: Ctx, options: &ContentOptions, output: &OutputArgs) -> Result<usize, CommandError> {
    let git_dir = ctx.repo.git_dir().to_path_buf();
    let basis = Basis::of(&ctx, options);
    let record = basis.as_ref().and_then(|b| b.compare(&ctx, &git_dir));
    if matches!(record, Some(Since::Unchanged)) {
        // A complete pass found nothing to do in this very state.
        return Ok(0);
    }
    let quote = ctx.config.get_bool("core.quotepath").unwrap_or(true);
    let progress = ProgressMode::choose(output.json, output.json_progress, output.quiet);
    let mut env = Env::open(ctx, progress)?;
    // The reference binary's sync sends to a repository past its maxsize
    // (checked: `maxsize b 5`, then a 6-byte file wanted by b is sent);
    // the upload is still reserved for other processes to count.
    env.enforce_maxsize = false;
    let mut reporters = Reporters {
        get: output.reporter("get").quote_path(quote),
        put: output.reporter("put").quote_path(quote),
        drop: output.reporter("drop").quote_path(quote),
        failed: 0,
    };
    let mut pass = Pass::new(&env, options)?;
    let bare = env.ctx.worktree.is_none();
    let mut new_map: Option<Vec<FileEntry>> = None;
    let mut seek_failed = false;
    // (In the default content sync, when no repository taking part has
    // preferred content, there is nothing to look at.)
    if !options.only_configured || pass.wanted.values().any(Option::is_some) {
        let jobs = options.jobs.max(1);
        let mut seek_reporter = output.reporter("sync").quote_path(quote);
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
        let mut files = |pass: &Pass<'_>,
                         reporter: &mut Reporter|
         -> Result<Vec<Item>, CommandError> {
            match (&since, &changed) {
                (Some((_, Some(m))), Some(keys)) => Ok(m
                    .files
                    .iter()
                    .filter(|f| keys.contains(&f.key))
                    .map(|f| Item {
                        file: Some(f.path.clone()),
                        input: Vec::new(),
                        target: annex_ops::Item::file(f.path.clone(), f.key.clone(), f.unlocked),
                    })
                    .collect()),
                _ => {
                    let items = pass.worktree_items(&options.content_of, reporter)?;
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
                let items = files(&pass, &mut seek_reporter)?;
                pass.run_items(&items, jobs, &mut reporters, None)?;
                seen = Some(match &since {
                    Some((_, Some(m))) => m.files.iter().map(|f| f.key.clone()).collect(),
                    _ => items.into_iter().map(|i| i.target.key).collect(),
                });
            }
            let keys = match &since {
                Some((keys, _)) => {
                    let mut v = Vec::new();
                    for k in keys {
                        if pass.snap.has_location_log(k)? {
                            v.push(xfer::key_item(k.clone()));
                        }
                    }
                    v
                }
                None => {
                    let sel = xfer::Selection {
                        all: true,
                        ..xfer::Selection::default()
                    };
                    env.items(&sel, &mut seek_reporter)?
                }
            };
            pass.run_items(&keys, jobs, &mut reporters, seen.as_ref())?;
        } else {
            let items = files(&pass, &mut seek_reporter)?;
            pass.run_items(&items, jobs, &mut reporters, None)?;
        }
        seek_failed = seek_reporter.finish().is_err();
        if seek_failed {
            reporters.failed += 1;
        }
    }
    let complete = reporters.failed == 0
        && !seek_failed
        && !pass.incomplete
        && !options.fetch_failed
        && !pass.uses_unused();
    drop(pass);
    env.finish(&reporters.get)?;
    let recorded = match basis.filter(|_| complete) {
        Some(b) => b.save(&git_dir, new_map),
        None => PassRecord::clear(&git_dir),
    };
    if let Err(e) = recorded {
        // Not a failure of the sync: a record left behind describes an
        // exact state, still true of it; only speed is lost.
        eprintln!("git-annex-rs: {e}");
    }
    Ok(reporters.failed)
}

/// The state a content pass starts from, as its record keeps it.
struct Basis {
    /// The settings' fingerprint ([`settings_fingerprint`]).
    settings: String,
    /// The tree of `HEAD` (`None` in a bare repository).
    tree: Option<gix::ObjectId>,
    /// The `git-annex` branch's tip.
    tip: gix::ObjectId,
}

/// What changed since the record's pass.
enum Since {
    /// Nothing: the same settings, tree and `git-annex` tip.
    Unchanged,
    /// Only these keys' logs (in the branch's order).
    Keys(Vec<Key>),
}

impl Basis {
    /// The state of the repository of `ctx` now; `None` when a record can
    /// neither be used nor left: the work tree may hold changes `HEAD`
    /// lacks (or a merge is left conflicted), the journal holds log
    /// changes the branch lacks, or there is no `HEAD` or no `git-annex`
    /// branch.
    fn of(ctx: &Ctx, options: &ContentOptions) -> Option<Basis> {
        let branch = ctx.state.branch();
        let journal = branch.journal();
        if journal.is_dirty().ok()? || !journal.private_files().ok()?.is_empty() {
            return None;
        }
        let tip = branch.tip().ok()??;
        let repo = branch.repo();
        let tree = match &ctx.worktree {
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
                if !annex_sync::clean::index_is_head(repo)
                    || !(options.committed || annex_sync::clean::provably_clean(repo, wt.top()))
                {
                    return None;
                }
                Some(tree)
            }
        };
        Some(Basis {
            settings: settings_fingerprint(ctx, options),
            tree,
            tip,
        })
    }

    /// This state against the record of the last complete pass: `None`
    /// when a full pass is needed.
    fn compare(&self, ctx: &Ctx, git_dir: &std::path::Path) -> Option<Since> {
        let rec = PassRecord::load(git_dir)?;
        if rec.settings != self.settings || rec.tree != self.tree {
            return None;
        }
        if rec.annex_tip == self.tip {
            return Some(Since::Unchanged);
        }
        let paths = ctx
            .state
            .branch()
            .changed_paths(rec.annex_tip, self.tip)
            .ok()?;
        changed_keys(&paths).map(Since::Keys)
    }

    /// Records a complete pass from this state (and the files it looked
    /// at, after a pass over every file).
    fn save(
        self,
        git_dir: &std::path::Path,
        files: Option<Vec<FileEntry>>,
    ) -> Result<(), annex_sync::sync::SyncError> {
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
fn settings_fingerprint(ctx: &Ctx, options: &ContentOptions) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut f = Fingerprint::new();
    f.add("pass", PASS_LOGIC.as_bytes());
    f.add("version", env!("CARGO_PKG_VERSION").as_bytes());
    f.add("here", ctx.here().as_str().as_bytes());
    f.add("cwd", ctx.cwd.as_os_str().as_bytes());
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
    for (name, values) in ctx.config.entries() {
        for v in values {
            f.add(name, v);
        }
    }
    let mut attrs = vec![
        ctx.repo.git_dir().join("info/attributes"),
        // git's system-wide file, where the usual builds put it.
        std::path::PathBuf::from("/etc/gitattributes"),
        std::path::PathBuf::from("/usr/local/etc/gitattributes"),
    ];
    attrs.extend(global_attributes_file(ctx));
    for a in attrs {
        f.add("attributes", &std::fs::read(a).unwrap_or_default());
    }
    f.hex()
}

/// The reporters of the three kinds of action, and the failures that fail
/// the sync.
struct Reporters {
    get: Reporter,
    put: Reporter,
    drop: Reporter,
    failed: usize,
}

/// What the parallel stage (`-J`) already did for an item.
#[derive(Default)]
struct Done<'e> {
    /// Downloaded from this remote.
    got_from: Option<&'e RemoteEntry>,
    /// Uploaded to these remotes.
    put_to: Vec<Uuid>,
}

/// One run of the content pass.
struct Pass<'e> {
    env: &'e Env,
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
    trust: BTreeMap<Uuid, TrustLevel>,
    /// Location logs changed by this pass (all present UUIDs, dead ones
    /// included).
    changed: HashMap<Key, Vec<Uuid>>,
    /// The snapshot's answer for the last key read.
    last_read: RefCell<Option<(Key, Vec<Uuid>)>>,
    /// Every annexed file of the work tree by key (for the drop check of
    /// keys used by several files), made when first needed.
    associated: Option<HashMap<Key, Vec<Vec<u8>>>>,
    /// One `git check-attr` for `annex.numcopies`, started when needed.
    numcopies_attr: Option<Option<crate::commands::add::Coprocess>>,
    /// [`ContentOptions::pull`], [`ContentOptions::push`] and
    /// [`ContentOptions::only_configured`].
    pull: bool,
    push: bool,
    only_configured: bool,
    /// Whether any attributes file mentions `annex.numcopies`, found out
    /// when first needed.
    numcopies_attr_possible: Option<bool>,
    /// Whether the pass left something undone that a later pass may do
    /// (a sync remote that cannot be reached, a failed drop, a get put
    /// off for want of space): it then leaves no record.
    incomplete: bool,
}

impl<'e> Pass<'e> {
    fn new(env: &'e Env, options: &ContentOptions) -> Result<Pass<'e>, CommandError> {
        let mut rs: Vec<&RemoteEntry> = Vec::new();
        for name in &options.remotes {
            if let Some(e) = env.remotes.entries.iter().find(|r| &r.name == name)
                && e.uuid.is_some()
                && e.uuid.as_ref() != Some(env.here())
                && !rs.iter().any(|r| r.name == e.name)
            {
                rs.push(e);
            }
        }
        let known_remotes: Vec<Uuid> = env
            .remotes
            .entries
            .iter()
            .filter_map(|r| r.uuid.clone())
            .collect();
        let snap = Snapshot::new(env.ctx.state.branch())?;
        let mut inner = StateContext::new(
            &env.ctx.state,
            Some(env.here().clone()),
            Some(env.ctx.store.clone()),
        )?;
        let mut wanted = HashMap::new();
        let mut exprs = Vec::new();
        let mut uuids = vec![env.here().clone()];
        uuids.extend(rs.iter().filter_map(|r| r.uuid.clone()));
        for u in &uuids {
            let e = annex_ops::annex::preferred_matcher(&env.ctx.state, &inner, u)?;
            wanted.insert(u.clone(), e.as_ref().map(Expr::optimized));
            exprs.extend(e);
        }
        if exprs
            .iter()
            .any(|e| uses(e, &|t| matches!(t, Term::Balanced(_))))
        {
            // Balancing by size needs the repositories' sizes.
            if let Ok(db) = annex_core::sizes::RepoSizes::open(&env.ctx.repo.annex_dir())
                && let Ok(sizes) = db.sizes(env.ctx.state.branch())
            {
                inner.set_repo_sizes(sizes);
            }
        }
        let clusters = env.ctx.state.clusters()?;
        Ok(Pass {
            incomplete: rs.iter().any(|r| r.remote.is_err()),
            env,
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
            trust: env.trust.clone(),
            changed: HashMap::new(),
            last_read: RefCell::new(None),
            associated: None,
            numcopies_attr: None,
            numcopies_attr_possible: None,
            pull: options.pull,
            push: options.push,
            only_configured: options.only_configured,
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

    /// The annexed files under `paths` (the whole work tree when none),
    /// as items.
    fn worktree_items(
        &self,
        paths: &[OsString],
        reporter: &mut Reporter,
    ) -> Result<Vec<Item>, CommandError> {
        // git-annex's sync works from the top of the work tree: every
        // file when no path is given (wherever it runs), and file names
        // shown from the top; `--content-of` paths are relative to the
        // current directory.
        let files = if paths.is_empty() {
            self.env.ctx.worktree()?.annexed_files(&[])?.files
        } else {
            self.env.ctx.seek(paths, reporter)?.files
        };
        Ok(files
            .into_iter()
            .map(|f| Item {
                file: Some(f.path.clone()),
                input: Vec::new(),
                target: annex_ops::Item::file(f.path, f.key, !f.locked),
            })
            .collect())
    }

    fn trust_of(&self, u: &Uuid) -> TrustLevel {
        self.trust
            .get(u)
            .copied()
            .unwrap_or(TrustLevel::SemiTrusted)
    }

    /// The location log's present UUIDs for a key (dead included), with
    /// this pass's changes.
    fn raw_locations(&self, key: &Key) -> Result<Vec<Uuid>, CommandError> {
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
    /// itself is written by the transfer functions).
    fn note_location(&mut self, key: &Key, u: &Uuid, present: bool) -> Result<(), CommandError> {
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
        let side = if u == self.env.here() {
            self.pull
        } else {
            self.push
        };
        side && (!self.only_configured || matches!(self.wanted.get(u), Some(Some(_))))
    }

    /// Whether repository `u` wants the item (preferred content, or
    /// everything when not configured), `gone` treated as not having it.
    fn wants(&self, u: &Uuid, item: &Item, gone: &[Uuid]) -> Result<bool, CommandError> {
        let Some(Some(expr)) = self.wanted.get(u) else {
            return Ok(true);
        };
        let raw = self.raw_locations(&item.key)?;
        self.live.set(&item.key, raw);
        let mut it = match &item.file {
            Some(_) => preferred::Item::file(&item.top_path, Some(&item.key)),
            None => preferred::Item::key(&item.key),
        }
        .for_repo(Some(u));
        it.not_present = gone;
        expr.eval(&self.live, &it)
            .map_err(|e| CommandError::failed(e.to_string()))
    }

    /// git-annex's `wantDrop`: `u` no longer wants the key through this
    /// file nor any other file of the work tree using the same key.
    fn wants_drop(&mut self, u: &Uuid, item: &Item) -> Result<bool, CommandError> {
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
                    .filter(|p| item.file.is_none() || **p != item.top_path)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        for path in others {
            let other = Item {
                file: Some(path.clone()),
                input: Vec::new(),
                target: annex_ops::Item::file(path, item.key.clone(), false),
            };
            if self.wants(u, &other, &gone)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn associated(&mut self) -> Result<&HashMap<Key, Vec<Vec<u8>>>, CommandError> {
        if self.associated.is_none() {
            let mut m: HashMap<Key, Vec<Vec<u8>>> = HashMap::new();
            if let Some(wt) = self.env.ctx.worktree.as_ref() {
                wt.for_each_annexed_file(&[], |_, f| {
                    m.entry(f.key).or_default().push(f.path);
                    Ok::<(), CommandError>(())
                })?;
            }
            self.associated = Some(m);
        }
        Ok(self.associated.get_or_insert_with(HashMap::new))
    }

    /// The numcopies for an item: its file's `annex.numcopies` attribute,
    /// else the configured one.
    fn numcopies_for(&mut self, item: &Item) -> i64 {
        let global = self.env.numcopies;
        if item.file.is_none() {
            return global;
        }
        let Some(wt) = self.env.ctx.worktree.as_ref() else {
            return global;
        };
        let top = wt.top().to_path_buf();
        // No attribute file mentions it (the common case): the configured
        // one, without a `git check-attr` round trip per file.
        let env = self.env;
        let possible = *self
            .numcopies_attr_possible
            .get_or_insert_with(|| attributes_mention_numcopies(env, &top));
        if !possible {
            return global;
        }
        let proc = self.numcopies_attr.get_or_insert_with(|| {
            crate::commands::add::Coprocess::spawn(
                &top,
                &["check-attr", "-z", "--stdin", "annex.numcopies"],
            )
            .ok()
        });
        let Some(p) = proc.as_mut() else {
            return global;
        };
        let answer = p.query_all(&[item.top_path.as_slice()], 3).ok();
        match answer
            .as_ref()
            .and_then(|a| a.first())
            .and_then(|a| a.get(2))
            .map(|v| v.as_slice())
        {
            None | Some(b"unspecified" | b"unset" | b"set") => global,
            Some(v) => annex_core::logs::format::hs_read_int(v).unwrap_or(global),
        }
    }

    /// Runs the pass over `items`: with `jobs > 1` the transfers of each
    /// chunk run in parallel first, then each item is decided, reported
    /// and recorded in order. `no_drop`: keys not to drop (`--all`'s keys
    /// already seen as work tree files).
    fn run_items(
        &mut self,
        items: &[Item],
        jobs: usize,
        reporters: &mut Reporters,
        no_drop: Option<&HashSet<Key>>,
    ) -> Result<(), CommandError> {
        if jobs <= 1 {
            for item in items {
                self.sync_item(item, Done::default(), reporters, no_drop)?;
            }
            return Ok(());
        }
        for chunk in items.chunks(jobs * 8) {
            let mut done = self.parallel(chunk, jobs)?;
            for (i, item) in chunk.iter().enumerate() {
                let d = std::mem::take(&mut done[i]);
                self.sync_item(item, d, reporters, no_drop)?;
            }
        }
        Ok(())
    }

    /// The parallel stage of a chunk: the downloads the pass would make,
    /// then the uploads to each remote, `jobs` at a time. Nothing is
    /// recorded here; [`Pass::sync_item`] reports and records each.
    fn parallel(&mut self, chunk: &[Item], jobs: usize) -> Result<Vec<Done<'e>>, CommandError> {
        let env = self.env;
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
            if have.is_empty() || !self.takes_part(env.here()) || env.ctx.store.has(&item.key) {
                continue;
            }
            if !self.wants(env.here(), item, &[])? {
                continue;
            }
            if env.space_shortfall(&item.key).is_some() {
                self.incomplete = true;
                continue;
            }
            let source = have.into_iter().find(|e| {
                e.remote
                    .as_ref()
                    .is_ok_and(|r| matches!(r.check_present(&item.key), Ok(true)))
            });
            if let Some(e) = source
                && let Ok(r) = &e.remote
            {
                plan.push(xfer::Planned {
                    index: i,
                    remote: r.as_ref(),
                });
                sources[i] = Some(e);
                planned.insert(&item.key);
            }
        }
        if !plan.is_empty() {
            let ok = xfer::run_parallel(env, chunk, &plan, Direction::Download, jobs, "get");
            for p in &plan {
                if ok[p.index] {
                    done[p.index].got_from = sources[p.index];
                }
            }
        }
        for r in self.rs.clone() {
            let (Some(ru), Ok(remote)) = (r.uuid.as_ref(), &r.remote) else {
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
                    || !env.ctx.store.has(&item.key)
                    || !self.wants(ru, item, &[])?
                {
                    continue;
                }
                plan.push(xfer::Planned {
                    index: i,
                    remote: remote.as_ref(),
                });
                planned.insert(&item.key);
            }
            if plan.is_empty() {
                continue;
            }
            let ok = xfer::run_parallel(env, chunk, &plan, Direction::Upload, jobs, "put");
            for p in &plan {
                if ok[p.index] {
                    done[p.index].put_to.push(ru.clone());
                }
            }
        }
        Ok(done)
    }

    /// The configured, not annex-ignored remotes the location log says
    /// have the key (git-annex's `keyPossibilities`), dead ones left out.
    fn remote_locations(&self, key: &Key) -> Result<Vec<Uuid>, CommandError> {
        let raw = self.raw_locations(key)?;
        Ok(raw
            .into_iter()
            .filter(|u| {
                u != self.env.here()
                    && self.known_remotes.contains(u)
                    && self.trust_of(u) != TrustLevel::Dead
            })
            .collect())
    }

    fn readonly(&self, r: &RemoteEntry) -> bool {
        self.env
            .ctx
            .config
            .remote(&r.name)
            .is_some_and(|c| c.readonly)
    }

    /// git-annex's `syncFile` for one item.
    fn sync_item(
        &mut self,
        item: &Item,
        done: Done<'e>,
        reporters: &mut Reporters,
        no_drop: Option<&HashSet<Key>>,
    ) -> Result<(), CommandError> {
        let env = self.env;
        let here = env.here().clone();
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
            *inhere.get_or_insert_with(|| done.got_from.is_none() && pass.env.ctx.store.has(key))
        };
        let mut got = false;
        if let Some(entry) = done.got_from {
            got = true;
            let mut action = env.start(&mut reporters.get, item)?;
            action.note(&format!("from {}...", entry.name))?;
            env.populate_unlocked(item);
            env.ctx.state.set_present(key, &here, true)?;
            self.note_location(key, &here, true)?;
            action.end(true)?;
        } else if !have.is_empty()
            && self.takes_part(&here)
            && !has_here(self)
            && self.wants(&here, item, &[])?
        {
            got = self.get(item, &have, reporters)?;
        }
        let inhere_now = got || has_here(self);
        let mut putrs: Vec<Uuid> = Vec::new();
        if inhere_now {
            for r in lack {
                let Some(ru) = r.uuid.clone() else {
                    continue;
                };
                if done.put_to.contains(&ru) {
                    let mut action = env.start(&mut reporters.put, item)?;
                    action.field("uuid", Value::String(ru.to_string()));
                    action.note(&format!("to {}...", r.name))?;
                    env.ctx.state.set_present(key, &ru, true)?;
                    env.reserver.finish(&ru, key);
                    self.note_location(key, &ru, true)?;
                    action.end(true)?;
                    putrs.push(ru);
                    continue;
                }
                if self.readonly(r) || !self.takes_part(&ru) || !self.wants(&ru, item, &[])? {
                    continue;
                }
                if self.put(item, r, reporters)? {
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
        self.drops(item, &locs2, inhere_now, reporters)
    }

    /// Gets the item from the first of `have` that has it now.
    fn get(
        &mut self,
        item: &Item,
        have: &[&'e RemoteEntry],
        reporters: &mut Reporters,
    ) -> Result<bool, CommandError> {
        let env = self.env;
        let mut action = env.start(&mut reporters.get, item)?;
        let mut tried = Vec::new();
        let mut tried_uuids = Vec::new();
        for entry in have {
            tried.push(entry.name.clone());
            tried_uuids.extend(entry.uuid.clone());
            let Ok(remote) = &entry.remote else {
                continue;
            };
            // Only from a remote that has it now (git-annex's
            // `probablyPresent`, for remotes cheap to ask).
            if !matches!(remote.check_present(&item.key), Ok(true)) {
                continue;
            }
            match env.download(&mut action, remote.as_ref(), item) {
                Ok(()) => {
                    self.note_location(&item.key, env.here(), true)?;
                    action.end(true)?;
                    return Ok(true);
                }
                Err(e) => action.warning(&xfer::retrieve_error(&e)),
            }
        }
        let whereabouts = env.whereabouts(&item.key, &tried_uuids)?;
        env.report_unreachable(&mut action, &tried, &whereabouts)?;
        action.end(false)?;
        reporters.failed += 1;
        Ok(false)
    }

    /// Sends the item to a remote that the location log says lacks it
    /// (git-annex's `copy --to` of one file in its fast mode, shown as
    /// `put`): the reference binary does not ask the remote first, and
    /// explains a failure with its `--fast` hint.
    fn put(
        &mut self,
        item: &Item,
        entry: &'e RemoteEntry,
        reporters: &mut Reporters,
    ) -> Result<bool, CommandError> {
        let env = self.env;
        let Some(ru) = entry.uuid.clone() else {
            return Ok(false);
        };
        let mut action = env.start(&mut reporters.put, item)?;
        action.field("uuid", Value::String(ru.to_string()));
        let result = match &entry.remote {
            Ok(remote) => env
                .annex
                .upload(remote.as_ref(), item, &mut env.observer(&mut action, item))
                .map_err(|e| e.to_string()),
            Err(_) => {
                action.note(&format!("to {}...", entry.name))?;
                Err("cannot access remote".to_owned())
            }
        };
        match result {
            Ok(()) => {
                self.note_location(&item.key, &ru, true)?;
                action.end(true)?;
                Ok(true)
            }
            Err(e) => {
                // Two warnings on stderr; git-annex breaks the action's
                // line on stdout before each.
                action.warning(&e);
                action.say(b"\n")?;
                action.warning("This could have failed because --fast is enabled.");
                action.end(false)?;
                reporters.failed += 1;
                Ok(false)
            }
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
        reporters: &mut Reporters,
    ) -> Result<(), CommandError> {
        let env = self.env;
        let here = env.here().clone();
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
        let numcopies = self.numcopies_for(item);
        let mincopies = env.mincopies;
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
            let mut action = env.start(&mut reporters.drop, item)?;
            action.note(&format!("from {}...", r.name))?;
            let ok = env.drop_remote_item(&mut action, r, item, false, None)?;
            action.end(ok)?;
            self.incomplete |= !ok;
            if ok {
                self.note_location(&item.key, &ru, false)?;
                if !is_untrusted {
                    have -= 1;
                }
            }
        }
        if from_here && inhere && self.wants_drop(&here, item)? && env.ctx.store.has(&item.key) {
            let mut action = env.start(&mut reporters.drop, item)?;
            let ok = env.drop_here(
                &mut action,
                item,
                false,
                None,
                "Rather than dropping this file, try using: git annex move",
            )?;
            action.end(ok)?;
            self.incomplete |= !ok;
            if ok {
                self.note_location(&item.key, &here, false)?;
            }
        }
        Ok(())
    }
}

/// Whether any attributes file git reads for the work tree may set
/// `annex.numcopies`: the `.gitattributes` files (tracked or not),
/// `.git/info/attributes`, and `core.attributesFile` (or its default
/// under `$XDG_CONFIG_HOME` or `~/.config`). When git cannot list them,
/// the answer is yes (each file is then asked).
fn attributes_mention_numcopies(env: &Env, top: &std::path::Path) -> bool {
    let mentions = |p: &std::path::Path| {
        std::fs::read(p).is_ok_and(|c| c.windows(15).any(|w| w == b"annex.numcopies"))
    };
    let listed = std::process::Command::new("git")
        .current_dir(top)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--",
            ":(glob)**/.gitattributes",
        ])
        .stderr(std::process::Stdio::null())
        .output();
    let Ok(listed) = listed.map_err(drop).and_then(|o| {
        if o.status.success() {
            Ok(o.stdout)
        } else {
            Err(())
        }
    }) else {
        return true;
    };
    use std::os::unix::ffi::OsStrExt;
    if listed
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .any(|p| mentions(&top.join(std::ffi::OsStr::from_bytes(p))))
    {
        return true;
    }
    if mentions(&env.ctx.repo.git_dir().join("info/attributes")) {
        return true;
    }
    global_attributes_file(&env.ctx).is_some_and(|g| mentions(&g))
}

/// The attributes file git reads for every repository of the user:
/// `core.attributesFile`, or its default under `$XDG_CONFIG_HOME` or
/// `~/.config`.
fn global_attributes_file(ctx: &Ctx) -> Option<std::path::PathBuf> {
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    match ctx.config.get_str("core.attributesFile") {
        Some(f) => match (f.strip_prefix("~/"), &home) {
            (Some(rest), Some(h)) => Some(h.join(rest)),
            _ => Some(std::path::PathBuf::from(f)),
        },
        None => std::env::var_os("XDG_CONFIG_HOME")
            .filter(|x| !x.is_empty())
            .map(|x| std::path::PathBuf::from(x).join("git/attributes"))
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
