//! What `get`, `copy`, `move` and `drop` share: the remotes, which items a
//! command acts on (files, `--key`, `--all`, `--batch`), downloads and
//! uploads with their location log changes, drops with their proof, and
//! git-annex's explanations when something cannot be done.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use annex_core::content::{self, ContentError, DropCheck, VerifiedCopy};
use annex_core::key::Key;
use annex_core::logs::trust::TrustLevel;
use annex_core::preferred::{self, Expr, StateContext};
use annex_core::remote::{ContentLockGuard, LocalGitRemote, Remote, RemoteError};
use annex_core::transfer::{Direction, Transfer, TransferError};
use annex_core::uuid::Uuid;
use serde_json::{Map, Value};

use crate::action::{Action, Reporter};
use crate::context::Ctx;
use crate::error::CommandError;
use crate::progress::{Meter, ProgressMode};

/// The item selection options of the transfer commands.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Selection {
    /// Operate on all versions of all files (every key the location logs know).
    #[arg(long = "all", short = 'A')]
    pub all: bool,
    /// Operate on this key.
    #[arg(long = "key", value_name = "KEY")]
    pub key: Option<String>,
    /// Read files (or keys with --key-batch) to act on from stdin, one a line.
    #[arg(long = "batch")]
    pub batch: bool,
    /// With --batch, items are ended by NUL instead of newline.
    #[arg(short = 'z')]
    pub nul: bool,
    /// Act only where preferred content or numcopies calls for it.
    #[arg(long = "auto", short = 'a')]
    pub auto: bool,
    /// The file matching options (`--include`, `--in`, `--copies`, ...).
    #[command(flatten)]
    pub matching: crate::matching::MatchingArgs,
    /// Files or directories.
    #[arg(value_name = "PATH")]
    pub paths: Vec<OsString>,
}

/// One thing a command acts on.
#[derive(Debug, Clone)]
pub struct Item {
    /// The file as shown (relative to the current directory), if a file.
    pub file: Option<Vec<u8>>,
    /// The path from the top of the work tree (the associated file).
    pub top_path: Vec<u8>,
    /// The key.
    pub key: Key,
    /// What the command line said that led here (JSON `input`).
    pub input: Vec<Vec<u8>>,
    /// An unlocked file (a pointer file, or the content, in the work tree).
    pub unlocked: bool,
}

/// A configured remote, opened or not.
#[derive(Debug)]
pub struct RemoteEntry {
    /// Its name.
    pub name: String,
    /// Its UUID, when known.
    pub uuid: Option<Uuid>,
    /// The opened remote, or why it could not be.
    pub remote: Result<Box<dyn Remote>, String>,
}

impl RemoteEntry {
    fn usable(&self) -> Option<&dyn Remote> {
        self.remote.as_ref().ok().map(|r| r.as_ref())
    }
}

/// The repository, its remotes and the settings the transfer commands use.
pub struct Env {
    /// The repository.
    pub ctx: Ctx,
    /// The git remotes with a path on this machine, cheapest first.
    pub remotes: Vec<RemoteEntry>,
    /// Repository descriptions (`uuid.log`).
    pub descriptions: BTreeMap<Uuid, Vec<u8>>,
    /// Trust levels.
    pub trust: BTreeMap<Uuid, TrustLevel>,
    /// `numcopies` in force.
    pub numcopies: i64,
    /// `mincopies` in force.
    pub mincopies: i64,
    /// How progress is shown.
    pub progress: ProgressMode,
    /// `--force`: no free space check before downloads.
    pub force: bool,
    /// Remotes with `annex-ignore` set.
    pub ignored: Vec<String>,
    /// Space reservations of uploads to repositories with a maxsize.
    pub reserver: crate::reserve::Reserver,
    /// Whether a repository's maxsize refuses uploads that would exceed it
    /// (`--auto`). git-annex treats maxsize as advisory for an explicit
    /// `copy --to`/`move --to`: the upload is then still reserved (counted
    /// for other processes) but never refused.
    pub enforce_maxsize: bool,
    /// One `git check-attr` process answering `annex.numcopies` and
    /// `annex.mincopies` for every file of the run, started on first use.
    numcopies_attr: std::sync::Mutex<Option<crate::commands::add::Coprocess>>,
    /// The global logs of [`Env::match_context`] (trust, groups, numcopies,
    /// maxsizes, ...), read once per run, as git-annex reads them.
    globals: std::sync::Mutex<Option<std::sync::Arc<annex_core::preferred::GlobalLogs>>>,
    /// Each repository's preferred content matcher, built once per run.
    preferred: std::sync::Mutex<std::collections::HashMap<Uuid, Option<Expr>>>,
}

impl Env {
    /// Opens the repository and its remotes.
    pub fn open(ctx: Ctx, progress: ProgressMode) -> Result<Env, CommandError> {
        let base: PathBuf = match &ctx.worktree {
            Some(wt) => wt.top().to_path_buf(),
            None => ctx.repo.git_dir().to_path_buf(),
        };
        let mut remotes = Vec::new();
        // Listed by name, as git-annex lists them.
        let ignored: Vec<String> = ctx
            .config
            .remotes()
            .iter()
            .filter(|r| r.ignore)
            .map(|r| r.name.clone())
            .collect();
        for rc in ctx.config.remotes_by_cost() {
            if rc.ignore {
                continue;
            }
            let Some(path) = rc.local_path(&base) else {
                // Known, but not reachable by us yet (ssh, http, ...).
                remotes.push(RemoteEntry {
                    name: rc.name.clone(),
                    uuid: rc.uuid.clone(),
                    remote: Err(format!(
                        "{}: only git remotes on this machine are supported",
                        rc.name
                    )),
                });
                continue;
            };
            let remote = LocalGitRemote::open(&rc.name, &path, rc.uuid.as_ref(), rc.cost());
            let (uuid, remote) = match remote {
                Ok(r) => {
                    if rc.uuid.is_none() {
                        remember_uuid(&ctx, &rc.name, r.uuid());
                    }
                    (Some(r.uuid().clone()), Ok(Box::new(r) as Box<dyn Remote>))
                }
                Err(e) => (rc.uuid.clone(), Err(e.to_string())),
            };
            remotes.push(RemoteEntry {
                name: rc.name.clone(),
                uuid,
                remote,
            });
        }
        let descriptions = ctx.state.descriptions()?;
        let trust = ctx.state.trust(&ctx.config)?;
        let numcopies = match ctx.state.numcopies()? {
            Some(n) => n,
            None => ctx.config.get_int("annex.numcopies").unwrap_or(1),
        };
        let mincopies = ctx.state.mincopies()?.unwrap_or(1);
        let reserver = crate::reserve::Reserver::new(ctx.repo.annex_dir());
        Ok(Env {
            ctx,
            remotes,
            descriptions,
            trust,
            numcopies,
            mincopies,
            progress,
            force: false,
            ignored,
            reserver,
            enforce_maxsize: false,
            numcopies_attr: std::sync::Mutex::new(None),
            globals: std::sync::Mutex::new(None),
            preferred: std::sync::Mutex::new(std::collections::HashMap::new()),
        })
    }

    /// This repository's UUID.
    pub fn here(&self) -> &Uuid {
        self.ctx.here()
    }

    /// The remote named `name` (for `--from`/`--to`), or git-annex's error.
    pub fn remote_named(&self, name: &str) -> Result<&RemoteEntry, CommandError> {
        let entry = self
            .remotes
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| {
                CommandError::failed(format!("there is no available git remote named \"{name}\""))
            })?;
        if entry.uuid.is_none() {
            return Err(CommandError::failed(format!(
                "cannot determine uuid for {name} (perhaps you need to run \"git annex sync\"?)"
            )));
        }
        Ok(entry)
    }

    fn trust_of(&self, u: &Uuid) -> TrustLevel {
        self.trust
            .get(u)
            .copied()
            .unwrap_or(TrustLevel::SemiTrusted)
    }

    /// The repositories the location log says have the key, less dead ones.
    pub fn locations(&self, key: &Key) -> Result<Vec<Uuid>, CommandError> {
        Ok(self
            .ctx
            .state
            .whereis(key)?
            .into_iter()
            .filter(|u| self.trust_of(u) != TrustLevel::Dead)
            .collect())
    }

    /// How git-annex names a repository in lists: `UUID -- DESCRIPTION`,
    /// the description with `[here]` or `[REMOTE]` added.
    fn description(&self, u: &Uuid) -> String {
        let desc = self
            .descriptions
            .get(u)
            .map(|d| String::from_utf8_lossy(d).into_owned())
            .unwrap_or_default();
        let name = if u == self.here() {
            Some("here".to_string())
        } else {
            self.remotes
                .iter()
                .find(|r| r.uuid.as_ref() == Some(u))
                .map(|r| r.name.clone())
        };
        match (desc.is_empty(), name) {
            (true, Some(n)) => n,
            (false, Some(n)) => format!("{desc} [{n}]"),
            (_, None) => desc,
        }
    }

    fn json_uuid(&self, u: &Uuid) -> Value {
        let mut o = Map::new();
        let raw = self
            .descriptions
            .get(u)
            .map(|d| String::from_utf8_lossy(d).into_owned())
            .unwrap_or_default();
        // Remote names are added to descriptions, `here` is not.
        let shown = match self.remotes.iter().find(|r| r.uuid.as_ref() == Some(u)) {
            Some(r) if u != self.here() && raw.is_empty() => r.name.clone(),
            Some(r) if u != self.here() => format!("{raw} [{}]", r.name),
            _ => raw,
        };
        o.insert("description".into(), Value::String(shown));
        o.insert("here".into(), Value::Bool(u == self.here()));
        o.insert("uuid".into(), Value::String(u.to_string()));
        Value::Object(o)
    }

    /// Ends a download that no remote could serve as git-annex words it:
    /// the remotes tried, then where the content is said to be.
    pub fn report_unreachable(
        &self,
        action: &mut Action<'_>,
        key: &Key,
        tried: &[String],
        tried_uuids: &[Uuid],
    ) -> Result<(), CommandError> {
        action.long_note(&format!(
            "Unable to access these remotes: {}",
            tried.join(", ")
        ))?;
        self.show_locations(
            action,
            key,
            tried_uuids,
            "No other repository is known to contain the file.",
        )
    }

    /// git-annex's `showLocations`: where else the key is (less `exclude`
    /// and this repository), as remotes to make available, repositories to
    /// add, and untrusted ones; `nolocmsg` when there are none. JSON gets a
    /// `wanted` field instead.
    pub fn show_locations(
        &self,
        action: &mut Action<'_>,
        key: &Key,
        exclude: &[Uuid],
        nolocmsg: &str,
    ) -> Result<(), CommandError> {
        let locs = self.locations(key)?;
        let here = self.here();
        let untrusted: Vec<&Uuid> = locs
            .iter()
            .filter(|u| self.trust_of(u) == TrustLevel::Untrusted)
            .collect();
        let wanted: Vec<&Uuid> = locs
            .iter()
            .filter(|u| *u != here && !exclude.contains(u) && !untrusted.contains(u))
            .collect();
        let skipped: Vec<&Uuid> = locs
            .iter()
            .filter(|u| *u != here && !exclude.contains(u) && !wanted.contains(u))
            .collect();
        if action.is_json() {
            action.field(
                "wanted",
                Value::Array(wanted.iter().map(|u| self.json_uuid(u)).collect()),
            );
            return self.note_ignored(action);
        }
        let is_remote = |u: &Uuid| self.remotes.iter().any(|r| r.uuid.as_ref() == Some(u));
        let (available, others): (Vec<&Uuid>, Vec<&Uuid>) =
            wanted.iter().partition(|u| is_remote(u));
        let special = self.ctx.state.remotes()?;
        let (enable, add): (Vec<&Uuid>, Vec<&Uuid>) =
            others.iter().partition(|u| special.contains_key(*u));
        let mut text = String::new();
        let mut section = |header: &str, l: &[&Uuid]| {
            if l.is_empty() {
                return;
            }
            text.push_str(header);
            text.push_str(":\n");
            for u in l {
                let d = self.description(u);
                if d.is_empty() {
                    text.push_str(&format!("\t{u}\n"));
                } else {
                    text.push_str(&format!("\t{u} -- {d}\n"));
                }
            }
        };
        section("Try making some of these remotes available", &available);
        section(
            "Maybe enable some of these special remotes (git annex enableremote ...)",
            &enable,
        );
        section(
            "Maybe add some of these git remotes (git remote add ...)",
            &add,
        );
        section(
            "Also these untrusted repositories may contain the file",
            &skipped,
        );
        if text.is_empty() {
            action.long_note(nolocmsg)?;
        } else {
            action.long_note(&text)?;
        }
        self.note_ignored(action)
    }

    fn note_ignored(&self, action: &mut Action<'_>) -> Result<(), CommandError> {
        if !self.ignored.is_empty() {
            action.long_note(&format!(
                "(Note that these git remotes have annex-ignore set: {})",
                self.ignored.join(" ")
            ))?;
        }
        Ok(())
    }

    /// The items named on the command line (not `--batch`).
    pub fn items(
        &self,
        sel: &Selection,
        reporter: &mut Reporter,
    ) -> Result<Vec<Item>, CommandError> {
        let filter = self.filter(sel)?;
        if let Some(f) = &filter
            && (sel.all || sel.key.is_some())
        {
            f.refuse_for_keys(self.ctx.worktree.is_none())?;
        }
        let items = self.items_unfiltered(sel, reporter)?;
        let Some(filter) = filter else {
            return Ok(items);
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if filter.matches(&item_of(&item))? {
                out.push(item);
            }
        }
        Ok(out)
    }

    /// The selection's matching options, ready to test items; `None` when
    /// there are none.
    pub fn filter(
        &self,
        sel: &Selection,
    ) -> Result<Option<crate::matching::Filter<'_>>, CommandError> {
        crate::matching::Filter::new(&self.ctx, &sel.matching)
    }

    /// Whether an item passes the matching options of `filter`.
    pub fn passes(
        &self,
        filter: Option<&crate::matching::Filter<'_>>,
        item: &Item,
    ) -> Result<bool, CommandError> {
        filter.map_or(Ok(true), |f| f.matches(&item_of(item)))
    }

    /// [`Env::items`] before the matching options.
    fn items_unfiltered(
        &self,
        sel: &Selection,
        reporter: &mut Reporter,
    ) -> Result<Vec<Item>, CommandError> {
        if let Some(k) = &sel.key {
            let key = Key::parse(k.as_bytes())
                .map_err(|_| CommandError::failed(format!("bad key {k}")))?;
            return Ok(vec![key_item(key)]);
        }
        if sel.all {
            let mut keys = Vec::new();
            self.ctx.state.branch().for_each_file(
                |p| p.ends_with(b".log") && p.iter().filter(|&&c| c == b'/').count() == 2,
                |p, _| {
                    let name = p.rsplit(|&c| c == b'/').next().unwrap_or(p);
                    let name = &name[..name.len() - 4];
                    if let Some(k) = annex_core::objects::file_key(name) {
                        keys.push(k);
                    }
                },
            )?;
            return Ok(keys.into_iter().map(key_item).collect());
        }
        let seek = self.ctx.seek(&sel.paths, reporter)?;
        let wt = self.ctx.worktree()?;
        let top = wt
            .top()
            .canonicalize()
            .unwrap_or_else(|_| wt.top().to_path_buf());
        let specs: Vec<Vec<u8>> = sel
            .paths
            .iter()
            .map(|a| {
                annex_core::worktree::pathspec_from_arg(
                    &top,
                    &self.ctx.cwd,
                    std::path::Path::new(a),
                )
                .unwrap_or_default()
            })
            .collect();
        Ok(seek
            .files
            .into_iter()
            .map(|f| {
                let input = match specs.iter().position(|s| spec_matches(s, &f.path)) {
                    Some(i) => sel.paths[i].as_bytes().to_vec(),
                    None => self.ctx.display_path(&f.path),
                };
                Item {
                    file: Some(self.ctx.display_path(&f.path)),
                    top_path: f.path,
                    key: f.key,
                    input: vec![input],
                    unlocked: !f.locked,
                }
            })
            .collect())
    }

    /// The item for one `--batch` line: a file, or `None` when it is not an
    /// annexed file.
    pub fn batch_item(&self, line: &[u8], keys: bool) -> Option<Item> {
        if keys {
            return Key::parse(line).ok().map(|k| Item {
                input: vec![line.to_vec()],
                ..key_item(k)
            });
        }
        let wt = self.ctx.worktree().ok()?;
        let top = wt.top().canonicalize().ok()?;
        let spec = annex_core::worktree::pathspec_from_arg(
            &top,
            &self.ctx.cwd,
            std::path::Path::new(std::ffi::OsStr::from_bytes(line)),
        )
        .ok()?;
        let (key, locked) = wt.lookup_key(&spec).ok()??;
        Some(Item {
            file: Some(self.ctx.display_path(&spec)),
            top_path: spec,
            key,
            input: vec![line.to_vec()],
            unlocked: !locked,
        })
    }

    /// Starts the action of an item.
    pub fn start<'r>(
        &self,
        reporter: &'r mut Reporter,
        item: &Item,
    ) -> Result<Action<'r>, CommandError> {
        let input: Vec<u8> = item.input.first().cloned().unwrap_or_default();
        let mut a = reporter.start(item.file.as_deref(), Some(&item.key), &input)?;
        if item.input.is_empty() {
            a.field("input", Value::Array(Vec::new()));
        }
        Ok(a)
    }

    /// Downloads a key from a remote into this repository: transfer files
    /// held, content received into `annex/tmp` (resuming), verified, moved
    /// into the object store, and this repository recorded as having it.
    /// The `from REMOTE...` note is added once content starts to come.
    pub fn download(
        &self,
        action: &mut Action<'_>,
        remote: &dyn Remote,
        item: &Item,
    ) -> Result<(), RemoteError> {
        let note = format!("from {}...", remote.name());
        if let Some(needed) = self.space_shortfall(&item.key) {
            let _ = action.note(&note);
            return Err(RemoteError::NotEnoughSpace { needed });
        }
        let mut t = Transfer::start(
            self.ctx.repo.git_dir(),
            Direction::Download,
            remote.uuid(),
            &item.key,
            &item.top_path,
            false,
        )?;
        let tmp = self.ctx.store.tmp_path(&item.key);
        let mut meter: Option<Meter> = None;
        let r = remote.retrieve(&item.key, &tmp, self.here(), &item.top_path, &mut |n| {
            if meter.is_none() {
                let _ = action.note(&note);
                meter = Some(Meter::new(
                    self.progress,
                    item.key.size(),
                    Some(action.progress_object()),
                ));
            }
            if let Some(m) = meter.as_mut() {
                m.update(n);
            }
            t.progress(n);
        });
        if let Some(m) = meter {
            m.finish();
        }
        let r = r.and_then(|()| {
            self.ctx
                .store
                .ingest_from_temp(&tmp, &item.key)
                .map(drop)
                .map_err(RemoteError::from)
        });
        match r {
            Ok(()) => {
                t.finish(true);
                self.populate_unlocked(item);
                self.ctx
                    .state
                    .set_present(&item.key, self.here(), true)
                    .map_err(|e| RemoteError::Branch {
                        remote: "here".into(),
                        source: e,
                    })
            }
            Err(e) => {
                t.finish(false);
                Err(e)
            }
        }
    }

    /// After content arrived: an unlocked file whose work tree file is
    /// still the pointer gets the content (git-annex's
    /// `populatePointerFile`), written beside it and renamed over it with
    /// its mode kept, then the index entry refreshed. Best effort: the
    /// content is safely in the object store either way.
    pub fn populate_unlocked(&self, item: &Item) {
        let Some(path) = self.unlocked_path(item) else {
            return;
        };
        if !matches!(annex_core::pointer::is_pointer_file(&path), Ok(Some(ref k)) if *k == item.key)
        {
            return;
        }
        let Some(object) = self.ctx.store.find(&item.key) else {
            return;
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".annex-rs-tmp");
        let tmp = PathBuf::from(tmp);
        let ok = std::fs::copy(&object, &tmp).is_ok()
            && std::fs::metadata(&path)
                .and_then(|m| std::fs::set_permissions(&tmp, m.permissions()))
                .is_ok()
            && std::fs::rename(&tmp, &path).is_ok();
        if !ok {
            let _ = std::fs::remove_file(&tmp);
            return;
        }
        self.refresh_index(item);
    }

    /// Before content is dropped: an unlocked file whose work tree file
    /// holds the content (checked against the key) gets its pointer back
    /// (git-annex's `depopulatePointerFile`). A modified file is left alone.
    /// The index is refreshed by [`Env::refresh_index`] once the object is
    /// gone (else a clean filter run now would put the content back).
    pub fn depopulate_unlocked(&self, item: &Item) {
        let Some(path) = self.unlocked_path(item) else {
            return;
        };
        let is_file = std::fs::symlink_metadata(&path)
            .map(|m| m.file_type().is_file())
            .unwrap_or(false);
        if !is_file
            || annex_core::pointer::is_pointer_file(&path)
                .map(|k| k.is_some())
                .unwrap_or(true)
            || annex_core::backend::verify_key(&item.key, &path)
                .ok()
                .flatten()
                != Some(true)
        {
            return;
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".annex-rs-tmp");
        let tmp = PathBuf::from(tmp);
        let ok = std::fs::write(&tmp, annex_core::pointer::format_pointer(&item.key)).is_ok()
            && std::fs::metadata(&path)
                .and_then(|m| std::fs::set_permissions(&tmp, m.permissions()))
                .is_ok()
            && std::fs::rename(&tmp, &path).is_ok();
        if !ok {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    fn unlocked_path(&self, item: &Item) -> Option<PathBuf> {
        if !item.unlocked || item.top_path.is_empty() {
            return None;
        }
        let wt = self.ctx.worktree.as_ref()?;
        Some(wt.top().join(std::ffi::OsStr::from_bytes(&item.top_path)))
    }

    /// Lets git see that a work tree file changed only in form (content
    /// for pointer or back): `git update-index --refresh` runs the clean
    /// filter, which gives the same pointer.
    pub fn refresh_index(&self, item: &Item) {
        let Some(wt) = self.ctx.worktree.as_ref() else {
            return;
        };
        let _ = std::process::Command::new("git")
            .current_dir(wt.top())
            .args(["update-index", "-q", "--refresh", "--"])
            .arg(std::ffi::OsStr::from_bytes(&item.top_path))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }

    /// git-annex's check before a download: bytes missing to receive the
    /// key and keep `annex.diskreserve` (default 100 MB) free.
    pub fn space_shortfall(&self, key: &Key) -> Option<u64> {
        if self.force {
            return None;
        }
        let reserve = self
            .ctx
            .config
            .get_str("annex.diskreserve")
            .and_then(|v| annex_core::transfer::parse_size(&v))
            .unwrap_or(100_000_000);
        let already = std::fs::metadata(self.ctx.store.tmp_path(key))
            .map(|m| m.len())
            .unwrap_or(0);
        annex_core::transfer::space_shortfall(
            &self.ctx.repo.annex_dir(),
            key.size().unwrap_or(1),
            reserve,
            already,
        )
    }

    /// Uploads a key's content from this repository to a remote and records
    /// that the remote has it.
    pub fn upload(
        &self,
        action: &mut Action<'_>,
        remote: &dyn Remote,
        item: &Item,
    ) -> Result<(), RemoteError> {
        let src = self
            .ctx
            .store
            .find(&item.key)
            .ok_or(RemoteError::NotPresent)?;
        // A repository with a maxsize: the key's size is reserved first,
        // and a repository it would not fit in is reported full.
        let reservation = match self.reserver.reserve(
            self.ctx.state.branch(),
            remote.uuid(),
            &item.key,
            self.enforce_maxsize,
        ) {
            Ok(crate::reserve::Outcome::Reserved(r)) => Some(r),
            Ok(crate::reserve::Outcome::Unlimited) => None,
            Ok(crate::reserve::Outcome::Full(e)) => {
                return Err(RemoteError::NotEnoughSpace {
                    needed: crate::reserve::shortfall(&e),
                });
            }
            Err(reason) => {
                return Err(RemoteError::Unavailable {
                    remote: remote.name().to_owned(),
                    reason,
                });
            }
        };
        let mut t = Transfer::start(
            self.ctx.repo.git_dir(),
            Direction::Upload,
            remote.uuid(),
            &item.key,
            &item.top_path,
            false,
        )?;
        let mut meter = Meter::new(
            self.progress,
            item.key.size(),
            Some(action.progress_object()),
        );
        let r = remote.store(&item.key, &src, self.here(), &item.top_path, &mut |n| {
            meter.update(n);
            t.progress(n);
        });
        meter.finish();
        t.finish(r.is_ok());
        r?;
        self.ctx
            .state
            .set_present(&item.key, remote.uuid(), true)
            .map_err(|e| RemoteError::Branch {
                remote: "here".into(),
                source: e,
            })?;
        if let Some(r) = reservation {
            crate::reserve::finish(r);
        }
        Ok(())
    }

    /// git-annex's `fromOk`: whether to get from a remote: it has the key
    /// now, or else the location log says it should.
    pub fn should_get_from(&self, entry: &RemoteEntry, key: &Key) -> Result<bool, CommandError> {
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

    /// Verifies `numcopies` copies for a drop of `key` from `dropping_from`, in
    /// git-annex's order: trusted repositories count at once; then this
    /// repository (when dropping from a remote), then remotes, cheapest
    /// first (`first` before the others), each locked, or else checked.
    /// Returns the check, the locks held (drop while they live), the
    /// remotes that could not be checked and the repositories found
    /// without the content.
    pub fn verify_copies(
        &self,
        numcopies: i64,
        key: &Key,
        dropping_from: &Uuid,
        local_removal: bool,
        first: Option<&Uuid>,
    ) -> Result<Proof, CommandError> {
        self.verify_copies_with(
            numcopies,
            self.mincopies,
            key,
            dropping_from,
            local_removal,
            first,
        )
    }

    /// [`Env::verify_copies`] against a given mincopies too (a file's
    /// `annex.mincopies` attribute, see [`Env::copies_for`]).
    pub fn verify_copies_with(
        &self,
        numcopies: i64,
        mincopies: i64,
        key: &Key,
        dropping_from: &Uuid,
        local_removal: bool,
        first: Option<&Uuid>,
    ) -> Result<Proof, CommandError> {
        let mut check = DropCheck::new(numcopies, mincopies, local_removal);
        let locs = self.locations(key)?;
        let mut proof = Proof {
            check: DropCheck::new(0, 0, true),
            locks: Vec::new(),
            bad: Vec::new(),
            missing: Vec::new(),
            here_lock: None,
        };
        for u in &locs {
            if u != dropping_from && self.trust_of(u) == TrustLevel::Trusted {
                check.have.push(VerifiedCopy::Trusted(u.clone()));
            }
        }
        let skip = |u: &Uuid| {
            u == dropping_from
                || matches!(
                    self.trust_of(u),
                    TrustLevel::Trusted | TrustLevel::Untrusted | TrustLevel::Dead
                )
        };
        let here = self.here();
        if !check.is_safe() && !skip(here) && locs.contains(here) && here != dropping_from {
            match content::lock_shared(&self.ctx.store, key) {
                Ok(l) => {
                    check.have.push(VerifiedCopy::Locked(here.clone()));
                    proof.here_lock = Some(l);
                }
                Err(_) => proof.missing.push(here.clone()),
            }
        }
        let mut order: Vec<&RemoteEntry> = Vec::new();
        if let Some(f) = first
            && let Some(r) = self.remotes.iter().find(|r| r.uuid.as_ref() == Some(f))
        {
            order.push(r);
        }
        for r in &self.remotes {
            if !order.iter().any(|o| std::ptr::eq(*o, r)) {
                order.push(r);
            }
        }
        for entry in order {
            if check.is_safe() {
                break;
            }
            let Some(u) = entry.uuid.as_ref() else {
                continue;
            };
            let forced_first = first == Some(u);
            if skip(u) || (!locs.contains(u) && !forced_first) {
                continue;
            }
            let Some(remote) = entry.usable() else {
                proof.bad.push(entry.name.clone());
                continue;
            };
            match remote.lock_content(key) {
                Ok(guard) => {
                    check.have.push(VerifiedCopy::Locked(u.clone()));
                    proof.locks.push(guard);
                }
                Err(_) => match remote.check_present(key) {
                    Ok(true) => check.have.push(VerifiedCopy::RecentlyVerified(u.clone())),
                    Ok(false) => proof.missing.push(u.clone()),
                    Err(_) => proof.bad.push(entry.name.clone()),
                },
            }
        }
        proof.check = check;
        Ok(proof)
    }

    /// Explains an unsafe drop as git-annex does, then fails the action.
    pub fn report_unsafe(
        &self,
        action: &mut Action<'_>,
        key: &Key,
        proof: &Proof,
        skip: &[Uuid],
        nolocmsg: &str,
    ) -> Result<(), CommandError> {
        action.note("unsafe")?;
        for line in content::unsafe_drop_explanation(&proof.check) {
            action.long_note(&line)?;
        }
        if !proof.bad.is_empty() {
            action.long_note(&format!(
                "Unable to access these remotes: {}",
                proof.bad.join(", ")
            ))?;
        }
        let mut exclude: Vec<Uuid> = proof.check.have.iter().map(|c| c.uuid().clone()).collect();
        exclude.extend(skip.iter().cloned());
        exclude.extend(proof.missing.iter().cloned());
        self.show_locations(action, key, &exclude, nolocmsg)?;
        action.long_note("(Use --force to override this check, or adjust numcopies.)")
    }

    /// Drops the key's content from this repository when the copies
    /// verified now allow it (or `force`), under its removal lock. Returns
    /// whether it was dropped (or already gone); on refusal the action has
    /// the explanation. `first` is a remote to check before the others.
    pub fn drop_here(
        &self,
        action: &mut Action<'_>,
        item: &Item,
        force: bool,
        first: Option<&Uuid>,
        nolocmsg: &str,
    ) -> Result<bool, CommandError> {
        let key = &item.key;
        let lock = match content::lock_for_removal(&self.ctx.store, key) {
            Ok(Some(l)) => l,
            Ok(None) => {
                self.ctx.state.set_present(key, self.here(), false)?;
                return Ok(true);
            }
            Err(ContentError::Locked { .. }) => {
                action.error("content is locked");
                return Ok(false);
            }
            Err(e) => {
                action.error(&e.to_string());
                return Ok(false);
            }
        };
        if !force {
            // The file's `annex.numcopies` and `annex.mincopies` attributes
            // win over the global settings.
            let (numcopies, mincopies) = self.copies_for(item);
            let proof =
                self.verify_copies_with(numcopies, mincopies, key, self.here(), true, first)?;
            if !proof.check.is_safe() {
                let view = proof_view(&proof);
                drop(proof);
                drop(lock);
                self.report_unsafe(action, key, &view, &[], nolocmsg)?;
                return Ok(false);
            }
            self.depopulate_unlocked(item);
            lock.remove_content(&self.ctx.store)
                .map_err(|e| CommandError::failed(e.to_string()))?;
            drop(proof);
        } else {
            self.depopulate_unlocked(item);
            lock.remove_content(&self.ctx.store)
                .map_err(|e| CommandError::failed(e.to_string()))?;
        }
        drop(lock);
        if item.unlocked {
            self.refresh_index(item);
        }
        self.ctx.state.set_present(key, self.here(), false)?;
        Ok(true)
    }

    /// Drops the key's content from a remote when the copies verified now
    /// allow it (or `force`), and records that. `moving` names the remote
    /// when this is the second half of a move (the refusal then says the
    /// content stays there, as git-annex's). Returns whether it was
    /// dropped; on refusal or failure the action has the explanation.
    ///
    /// The global numcopies and mincopies apply: for a work-tree file, use
    /// [`Env::drop_remote_item`], which honours its attributes.
    pub fn drop_remote(
        &self,
        action: &mut Action<'_>,
        entry: &RemoteEntry,
        key: &Key,
        force: bool,
        moving: Option<&str>,
    ) -> Result<bool, CommandError> {
        self.drop_remote_counting(action, entry, key, None, force, moving)
    }

    /// [`Env::drop_remote`] for an item: a file's `annex.numcopies` and
    /// `annex.mincopies` attributes win over the global settings, as
    /// git-annex's `drop --from` has them.
    pub fn drop_remote_item(
        &self,
        action: &mut Action<'_>,
        entry: &RemoteEntry,
        item: &Item,
        force: bool,
        moving: Option<&str>,
    ) -> Result<bool, CommandError> {
        if item.file.is_none() {
            return self.drop_remote(action, entry, &item.key, force, moving);
        }
        let copies = self.copies_for(item);
        self.drop_remote_counting(action, entry, &item.key, Some(copies), force, moving)
    }

    fn drop_remote_counting(
        &self,
        action: &mut Action<'_>,
        entry: &RemoteEntry,
        key: &Key,
        copies: Option<(i64, i64)>,
        force: bool,
        moving: Option<&str>,
    ) -> Result<bool, CommandError> {
        let Some(ru) = entry.uuid.clone() else {
            action.warning("cannot access remote");
            return Ok(false);
        };
        let proof = if force {
            None
        } else {
            let p = match copies {
                Some((n, m)) => self.verify_copies_with(n, m, key, &ru, false, None)?,
                None => self.verify_copies(self.numcopies, key, &ru, false, None)?,
            };
            if !p.check.is_safe() {
                let view = proof_view(&p);
                drop(p);
                match moving {
                    None => self.report_unsafe(
                        action,
                        key,
                        &view,
                        std::slice::from_ref(&ru),
                        "Rather than dropping this file, try using: git annex move",
                    )?,
                    Some(name) => {
                        self.report_unsafe(action, key, &view, std::slice::from_ref(&ru), "")?;
                        action.long_note(&format!("Content not dropped from {name}."))?;
                    }
                }
                return Ok(false);
            }
            Some(p)
        };
        let Some(remote) = entry.usable() else {
            drop(proof);
            action.warning("cannot access remote");
            return Ok(false);
        };
        let r = remote.remove(key);
        drop(proof);
        match r {
            Ok(()) => {
                self.ctx.state.set_present(key, &ru, false)?;
                Ok(true)
            }
            Err(e) => {
                action.warning(&e.to_string());
                Ok(false)
            }
        }
    }

    /// Commits what remotes recorded, then this repository's journal.
    pub fn finish(&self, reporter: &Reporter) -> Result<(), CommandError> {
        for r in &self.remotes {
            if let Some(remote) = r.usable()
                && let Err(e) = remote.commit()
            {
                eprintln!("git-annex-rs: {e}");
            }
        }
        self.ctx.commit(reporter)
    }

    /// The preferred-content engine's view of the repository's logs
    /// (content here answered by the object store). The global logs are
    /// read by the first call of the run; each context reads its keys'
    /// logs anew.
    pub fn match_context(&self) -> Result<StateContext<'_>, CommandError> {
        let globals = {
            let mut g = self.globals.lock().unwrap_or_else(|e| e.into_inner());
            match &*g {
                Some(globals) => globals.clone(),
                None => {
                    let read = std::sync::Arc::new(annex_core::preferred::GlobalLogs::read(
                        &self.ctx.state,
                        Some(self.here().clone()),
                        &self.ctx.config,
                    )?);
                    *g = Some(read.clone());
                    read
                }
            }
        };
        Ok(StateContext::with_globals(
            &self.ctx.state,
            Some(self.ctx.store.clone()),
            &globals,
        ))
    }

    /// A repository's preferred content matcher; `None` when not
    /// configured. Built once per repository and run (the wanted,
    /// required and groupwanted logs are read by the first call).
    pub fn preferred_of(
        &self,
        mctx: &StateContext<'_>,
        u: &Uuid,
    ) -> Result<Option<Expr>, CommandError> {
        if let Some(e) = self
            .preferred
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(u)
        {
            return Ok(e.clone());
        }
        let e = crate::matching::preferred_of(&self.ctx.state, mctx, u)?;
        self.preferred
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(u.clone(), e.clone());
        Ok(e)
    }

    /// The numcopies for an item: its `annex.numcopies` attribute, else
    /// the configured one.
    fn numcopies_for(&self, item: &Item) -> i64 {
        self.copies_for(item).0
    }

    /// The numcopies and mincopies for an item: a work-tree file's
    /// `annex.numcopies` and `annex.mincopies` attributes
    /// (`.gitattributes`), each else the configured one.
    pub fn copies_for(&self, item: &Item) -> (i64, i64) {
        let (mut numcopies, mut mincopies) = (self.numcopies, self.mincopies);
        if item.file.is_some()
            && let Ok(wt) = self.ctx.worktree()
        {
            let (n, m) = self.copies_attributes(wt.top(), &item.top_path);
            numcopies = n.unwrap_or(numcopies);
            mincopies = m.unwrap_or(mincopies);
        }
        (numcopies, mincopies)
    }

    /// A file's `annex.numcopies` and `annex.mincopies` attributes, asked
    /// of the run's one `git check-attr` process; `None` when unset or git
    /// cannot tell.
    fn copies_attributes(&self, top: &std::path::Path, path: &[u8]) -> (Option<i64>, Option<i64>) {
        let mut guard = self
            .numcopies_attr
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = crate::commands::add::Coprocess::spawn(
                top,
                &[
                    "check-attr",
                    "-z",
                    "--stdin",
                    "annex.numcopies",
                    "annex.mincopies",
                ],
            )
            .ok();
        }
        let Some(proc) = guard.as_mut() else {
            return (None, None);
        };
        // Per path: (path, attribute, value) for each attribute, in order.
        let Ok(answer) = proc.query_all(&[path], 6) else {
            return (None, None);
        };
        let value = |i: usize| {
            let v = answer.first()?.get(i)?;
            match v.as_slice() {
                b"unspecified" | b"unset" | b"set" => None,
                v => annex_core::logs::format::hs_read_int(v),
            }
        };
        (value(2), value(5))
    }

    /// `--auto` for getting (`to` is `None`: here) or copying to `to`:
    /// whether the receiving repository wants the item (preferred
    /// content), or the key has fewer copies than numcopies (untrusted
    /// ones not counted), as git-annex decides.
    pub fn auto_wants_copy(&self, item: &Item, to: Option<&Uuid>) -> Result<bool, CommandError> {
        let n = self
            .locations(&item.key)?
            .iter()
            .filter(|u| self.trust_of(u) != TrustLevel::Untrusted)
            .count() as i64;
        if n < self.numcopies_for(item) {
            return Ok(true);
        }
        let u = to.unwrap_or(self.here());
        let mctx = self.match_context()?;
        match self.preferred_of(&mctx, u)? {
            None => Ok(false),
            Some(w) => w
                .matches(&mctx, &item_of(item).for_repo(Some(u)))
                .map_err(|e| CommandError::failed(e.to_string())),
        }
    }

    /// `--auto` for dropping from `from`: whether the other copies (less
    /// untrusted ones) already meet numcopies and `from` does not want the
    /// item (its preferred content, as if the copy were gone), as
    /// git-annex's `checkDropAuto` and `wantDrop`.
    pub fn auto_allows_drop(&self, item: &Item, from: &Uuid) -> Result<bool, CommandError> {
        let n = self
            .locations(&item.key)?
            .iter()
            .filter(|u| *u != from && self.trust_of(u) != TrustLevel::Untrusted)
            .count() as i64;
        if n < self.numcopies_for(item) {
            return Ok(false);
        }
        let mctx = self.match_context()?;
        match self.preferred_of(&mctx, from)? {
            None => Ok(true),
            Some(w) => {
                let gone = [from.clone()];
                let mut i = item_of(item).for_repo(Some(from));
                i.not_present = &gone;
                w.matches(&mctx, &i)
                    .map(|wanted| !wanted)
                    .map_err(|e| CommandError::failed(e.to_string()))
            }
        }
    }
}

/// The preferred-content engine's item for a command's item: the file
/// (path from the top) and its key, or the key alone.
fn item_of(item: &Item) -> preferred::Item<'_> {
    match item.file {
        Some(_) => preferred::Item::file(&item.top_path, Some(&item.key)),
        None => preferred::Item::key(&item.key),
    }
}

/// Copies verified for a drop, and the locks that keep them.
#[derive(Debug)]
pub struct Proof {
    /// The verified copies and the rule.
    pub check: DropCheck,
    /// Locks on remotes' copies.
    pub locks: Vec<Box<dyn ContentLockGuard>>,
    /// Remotes that could not be checked.
    pub bad: Vec<String>,
    /// Repositories found without the content.
    pub missing: Vec<Uuid>,
    /// The lock on this repository's copy, when used.
    pub here_lock: Option<content::SharedContentLock>,
}

fn proof_view(p: &Proof) -> Proof {
    Proof {
        check: p.check.clone(),
        locks: Vec::new(),
        bad: p.bad.clone(),
        missing: p.missing.clone(),
        here_lock: None,
    }
}

pub(crate) fn key_item(key: Key) -> Item {
    Item {
        file: None,
        top_path: Vec::new(),
        key,
        input: Vec::new(),
        unlocked: false,
    }
}

/// Whether a pathspec (from the top) names `path` or a directory holding it.
fn spec_matches(spec: &[u8], path: &[u8]) -> bool {
    let spec = spec.strip_suffix(b"/").unwrap_or(spec);
    spec.is_empty()
        || spec == b"."
        || path == spec
        || (path.starts_with(spec) && path.get(spec.len()) == Some(&b'/'))
}

/// Records a remote's UUID in our git config, as git-annex does when it
/// first learns it (best effort).
fn remember_uuid(ctx: &Ctx, name: &str, uuid: &Uuid) {
    let _ = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(ctx.repo.git_dir())
        .args([
            "config",
            &format!("remote.{name}.annex-uuid"),
            uuid.as_str(),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// What a remote error says to the user, as git-annex words it.
pub fn retrieve_error(e: &RemoteError) -> String {
    match e {
        RemoteError::Transfer(TransferError::InProgress) => {
            "transfer already in progress, or unable to take transfer lock".into()
        }
        RemoteError::NotEnoughSpace { needed } => format!(
            "not enough free space, need {} more (use --force to override this check or adjust annex.diskreserve)",
            super::examinekey::human_size(*needed)
        ),
        RemoteError::NotPresent | RemoteError::VerificationFailed => {
            "failed to retrieve content from remote".into()
        }
        other => other.to_string(),
    }
}

/// Runs `f` on each item matching the selection's matching options: the
/// command-line ones, or each `--batch` line (an empty line is printed for
/// a line that is not an annexed file or does not match, as git-annex
/// does).
pub fn for_each(
    env: &Env,
    sel: &Selection,
    reporter: &mut Reporter,
    mut f: impl FnMut(&Env, &mut Reporter, &Item) -> Result<bool, CommandError>,
) -> Result<(), CommandError> {
    if sel.batch {
        // A line whose file does not match the matching options is
        // answered with an empty line, as one that is not an annexed file.
        let filter = env.filter(sel)?;
        return crate::batch::for_each_item(sel.nul, |line| {
            let acted = match env.batch_item(line, false) {
                Some(item) if env.passes(filter.as_ref(), &item)? => f(env, reporter, &item)?,
                _ => false,
            };
            if !acted {
                crate::output::line(format_args!(""))?;
            }
            Ok(())
        });
    }
    for item in env.items(sel, reporter)? {
        f(env, reporter, &item)?;
    }
    Ok(())
}

/// One transfer to run in parallel (`-J N`): the item's index and the
/// remote to use.
pub struct Planned<'a> {
    /// Index into the items.
    pub index: usize,
    /// The remote.
    pub remote: &'a dyn Remote,
}

/// Runs the transfers of `plan` on `jobs` threads: downloads (content
/// received, verified and moved into the object store) or uploads
/// (content stored on the remote). Returns, per item index, whether its
/// transfer succeeded; the caller then reports and records each in order
/// (location logs are written by one thread). A failed one is left for the
/// caller to retry one at a time, which explains the failure.
pub fn run_parallel(
    env: &Env,
    items: &[Item],
    plan: &[Planned<'_>],
    direction: Direction,
    jobs: usize,
    command: &str,
) -> Vec<bool> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let results = Mutex::new(vec![false; items.len()]);
    let next = AtomicUsize::new(0);
    let store = &env.ctx.store;
    let git_dir = env.ctx.repo.git_dir().to_path_buf();
    let here = env.here().clone();
    // Uploads to a repository with a maxsize reserve their space first
    // (here: the branch is not shared between threads); one that does not
    // fit is not run, and the caller's retry reports it. The reservations
    // are held until the caller records each upload.
    let mut plan: Vec<&Planned<'_>> = plan.iter().collect();
    if direction == Direction::Upload {
        plan.retain(|p| {
            match env.reserver.reserve(
                env.ctx.state.branch(),
                p.remote.uuid(),
                &items[p.index].key,
                env.enforce_maxsize,
            ) {
                Ok(crate::reserve::Outcome::Reserved(r)) => {
                    env.reserver.hold(r);
                    true
                }
                Ok(crate::reserve::Outcome::Unlimited) => true,
                Ok(crate::reserve::Outcome::Full(_)) | Err(_) => false,
            }
        });
    }
    let mode = env.progress;
    let bars = Meter::bars(mode);
    std::thread::scope(|s| {
        for _ in 0..jobs.min(plan.len()) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(p) = plan.get(i) else {
                        break;
                    };
                    let item = &items[p.index];
                    let meter =
                        parallel_meter(mode, bars.as_ref(), command, p.remote, item, direction);
                    let ok = transfer_one(store, &git_dir, &here, p.remote, item, direction, meter);
                    let mut r = results.lock().unwrap_or_else(|e| e.into_inner());
                    r[p.index] = ok;
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    for p in plan.iter().filter(|p| !results[p.index]) {
        env.reserver.cancel(p.remote.uuid(), &items[p.index].key);
    }
    results
}

/// The meter of one transfer of [`run_parallel`]: its action as
/// `command` would show it (`FILE (from REMOTE...)`), for a bar among
/// `bars` or `--json-progress` objects.
fn parallel_meter(
    mode: ProgressMode,
    bars: Option<&indicatif::MultiProgress>,
    command: &str,
    remote: &dyn Remote,
    item: &Item,
    direction: Direction,
) -> Meter {
    let note = match direction {
        Direction::Download => format!("from {}...", remote.name()),
        Direction::Upload => format!("to {}...", remote.name()),
    };
    let lossy = |b: &[u8]| Value::String(String::from_utf8_lossy(b).into_owned());
    let mut action = serde_json::Map::new();
    action.insert("command".into(), Value::String(command.to_owned()));
    if let Some(f) = &item.file {
        action.insert("file".into(), lossy(f));
    }
    action.insert(
        "input".into(),
        Value::Array(item.input.first().map(|i| lossy(i)).into_iter().collect()),
    );
    action.insert("key".into(), Value::String(item.key.to_string()));
    action.insert("note".into(), Value::String(note.clone()));
    // Quoted as the action's line quotes it (no control character
    // reaches the terminal).
    let shown = match &item.file {
        Some(f) => String::from_utf8_lossy(&crate::action::quote(f, true)).into_owned(),
        None => item.key.to_string(),
    };
    Meter::parallel(
        mode,
        item.key.size(),
        Value::Object(action),
        bars,
        format!("{command} {shown} ({note})"),
    )
}

fn transfer_one(
    store: &annex_core::objects::ObjectStore,
    git_dir: &std::path::Path,
    here: &Uuid,
    remote: &dyn Remote,
    item: &Item,
    direction: Direction,
    mut meter: Meter,
) -> bool {
    let Ok(mut t) = Transfer::start(
        git_dir,
        direction,
        remote.uuid(),
        &item.key,
        &item.top_path,
        false,
    ) else {
        meter.finish();
        return false;
    };
    let ok = match direction {
        Direction::Download => {
            let tmp = store.tmp_path(&item.key);
            remote
                .retrieve(&item.key, &tmp, here, &item.top_path, &mut |n| {
                    meter.update(n);
                    t.progress(n)
                })
                .is_ok()
                && store.ingest_from_temp(&tmp, &item.key).is_ok()
        }
        Direction::Upload => match store.find(&item.key) {
            Some(src) => remote
                .store(&item.key, &src, here, &item.top_path, &mut |n| {
                    meter.update(n);
                    t.progress(n)
                })
                .is_ok(),
            None => false,
        },
    };
    meter.finish();
    t.finish(ok);
    ok
}
