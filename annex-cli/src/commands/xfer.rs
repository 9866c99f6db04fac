//! What `get`, `copy`, `move` and `drop` share on the command line: which
//! items a command acts on (files, `--key`, `--all`, `--batch`), the
//! operations of [`annex_ops`] shown as git-annex shows them (an
//! [`Observer`] over the action being printed), and git-annex's
//! explanations when something cannot be done (a refused drop's proof,
//! where else content is).

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use annex_core::key::Key;
use annex_core::remote::{Remote, RemoteError};
use annex_core::transfer::{Direction, TransferError};
use annex_core::uuid::Uuid;
use annex_ops::drop::{DropOptions, DropOutcome, Refusal};
use annex_ops::queue::{QueueOptions, Request};
use annex_ops::{Annex, Observer, Whereabouts};
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
    /// Operate on the annexed files of this branch (or other tree-ish).
    #[arg(long = "branch", value_name = "REF")]
    pub branch: Option<String>,
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

/// One thing a command acts on: the operation's [`annex_ops::Item`] with
/// how the command line named it.
#[derive(Debug, Clone)]
pub struct Item {
    /// The file as shown (relative to the current directory), if a file.
    pub file: Option<Vec<u8>>,
    /// What the command line said that led here (JSON `input`).
    pub input: Vec<Vec<u8>>,
    /// The key and its file, for the operations.
    pub target: annex_ops::Item,
}

impl std::ops::Deref for Item {
    type Target = annex_ops::Item;
    fn deref(&self) -> &annex_ops::Item {
        &self.target
    }
}

pub use annex_ops::remotes::RemoteEntry;

/// The repository with its remotes and settings ([`Annex`], which it
/// dereferences to), and how this command shows progress.
pub struct Env {
    /// The repository as the command opened it.
    pub ctx: Ctx,
    /// The operations' view of it.
    pub annex: Annex,
    /// How progress is shown.
    pub progress: ProgressMode,
}

impl std::ops::Deref for Env {
    type Target = Annex;
    fn deref(&self) -> &Annex {
        &self.annex
    }
}

impl std::ops::DerefMut for Env {
    fn deref_mut(&mut self) -> &mut Annex {
        &mut self.annex
    }
}

/// Shows an operation's events on the action being printed: notes as
/// `(NOTE)`, progress as a meter (a bar or `--json-progress` objects),
/// warnings on stderr, each as git-annex shows them.
pub struct ActionObserver<'a, 'r> {
    action: &'a mut Action<'r>,
    mode: ProgressMode,
    meter: Option<Meter>,
    total: Option<u64>,
}

impl<'a, 'r> ActionObserver<'a, 'r> {
    /// An observer printing on `action`; `total` is the content's size.
    pub fn new(action: &'a mut Action<'r>, mode: ProgressMode, total: Option<u64>) -> Self {
        ActionObserver {
            action,
            mode,
            meter: None,
            total,
        }
    }
}

impl Observer for ActionObserver<'_, '_> {
    fn note(&mut self, note: &str) {
        // A closed stdout shows up when the action's line ends.
        let _ = self.action.note(note);
    }
    fn progress(&mut self, done: u64) {
        let (mode, total) = (self.mode, self.total);
        let action = &*self.action;
        self.meter
            .get_or_insert_with(|| Meter::new(mode, total, Some(action.progress_object())))
            .update(done);
    }
    fn warning(&mut self, warning: &annex_ops::Warning<'_>) {
        self.action.warning(&warning_text(warning));
    }
    fn end(&mut self, _ok: bool) {
        if let Some(m) = self.meter.take() {
            m.finish();
        }
    }
}

impl Drop for ActionObserver<'_, '_> {
    fn drop(&mut self) {
        if let Some(m) = self.meter.take() {
            m.finish();
        }
    }
}

/// A warning as git-annex words it.
pub fn warning_text(w: &annex_ops::Warning<'_>) -> String {
    match w {
        annex_ops::Warning::Remote {
            direction: Direction::Download,
            error,
            ..
        } => retrieve_error(error),
        other => other.to_string(),
    }
}

impl Env {
    /// Opens the repository's remotes and settings.
    pub fn open(ctx: Ctx, progress: ProgressMode) -> Result<Env, CommandError> {
        let annex = Annex::open(ctx.session.clone())?;
        Ok(Env {
            ctx,
            annex,
            progress,
        })
    }

    /// How git-annex names a repository as JSON: `uuid`, `description`
    /// (with the remote's name), `here`.
    fn json_uuid(&self, u: &Uuid) -> Value {
        let mut o = Map::new();
        let shown = self.description_with_remote(u);
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
        tried: &[String],
        whereabouts: &Whereabouts,
    ) -> Result<(), CommandError> {
        action.long_note(&format!(
            "Unable to access these remotes: {}",
            tried.join(", ")
        ))?;
        self.show_whereabouts(
            action,
            whereabouts,
            "No other repository is known to contain the file.",
        )
    }

    /// git-annex's `showLocations`: where else the key is, as remotes to
    /// make available, repositories to add, and untrusted ones; `nolocmsg`
    /// when there are none. JSON gets a `wanted` field instead.
    pub fn show_whereabouts(
        &self,
        action: &mut Action<'_>,
        w: &Whereabouts,
        nolocmsg: &str,
    ) -> Result<(), CommandError> {
        if action.is_json() {
            action.field(
                "wanted",
                Value::Array(w.wanted.iter().map(|u| self.json_uuid(u)).collect()),
            );
            return note_ignored(action, w);
        }
        let mut text = String::new();
        let mut section = |header: &str, l: &[Uuid]| {
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
        section("Try making some of these remotes available", &w.available);
        section(
            "Maybe enable some of these special remotes (git annex enableremote ...)",
            &w.enable,
        );
        section(
            "Maybe add some of these git remotes (git remote add ...)",
            &w.add,
        );
        section(
            "Also these untrusted repositories may contain the file",
            &w.untrusted,
        );
        if text.is_empty() {
            action.long_note(nolocmsg)?;
        } else {
            action.long_note(&text)?;
        }
        note_ignored(action, w)
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
            if filter.matches(&item.matchable())? {
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
        Ok(crate::matching::Filter::new(&self.ctx, &sel.matching)?)
    }

    /// Whether an item passes the matching options of `filter`.
    pub fn passes(
        &self,
        filter: Option<&crate::matching::Filter<'_>>,
        item: &Item,
    ) -> Result<bool, CommandError> {
        Ok(filter.map_or(Ok(true), |f| f.matches(&item.matchable()))?)
    }

    /// [`Env::items`] before the matching options.
    fn items_unfiltered(
        &self,
        sel: &Selection,
        reporter: &mut Reporter,
    ) -> Result<Vec<Item>, CommandError> {
        let ways = [sel.all, sel.key.is_some(), sel.branch.is_some()];
        if ways.iter().filter(|&&w| w).count() > 1
            || (ways.iter().any(|&w| w) && !sel.paths.is_empty())
        {
            // As git-annex: one way of naming what to act on.
            return Err(CommandError::failed(
                "Can only specify one of file names, --all, --branch, --unused, --failed --key, or --incomplete",
            ));
        }
        if let Some(r) = &sel.branch {
            // `REF:PATH` for each annexed file of the tree, as git-annex
            // shows them; acted on by key (the work tree is not touched).
            let repo = annex_core::gitrepo::GitRepo::from(self.ctx.worktree()?.repo().clone());
            let files = repo
                .annexed_files_in(r.as_bytes())
                .ok_or_else(|| CommandError::failed(format!("git ls-tree {r} failed")))?;
            return Ok(files
                .into_iter()
                .map(|(path, key)| {
                    let mut shown = r.as_bytes().to_vec();
                    shown.push(b':');
                    shown.extend_from_slice(&path);
                    Item {
                        file: Some(shown),
                        input: Vec::new(),
                        target: annex_ops::Item::key(key),
                    }
                })
                .collect());
        }
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
                    input: vec![input],
                    target: annex_ops::Item::file(f.path, f.key, !f.locked),
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
            input: vec![line.to_vec()],
            target: annex_ops::Item::file(spec, key, !locked),
        })
    }

    /// Whether `--size-limit` lets the command act on the item (its key's
    /// size, else its content's here; see
    /// [`crate::global::size_limit_admits`]).
    pub fn admit(&self, item: &Item) -> bool {
        crate::global::size_limit_admits(|| {
            item.key.size().or_else(|| {
                let path = self.session.store.find(&item.key)?;
                std::fs::metadata(path).ok().map(|m| m.len())
            })
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
        if item.file.is_some() && !item.target.is_file {
            // `--branch`'s `REF:PATH` is shown, not given as a file.
            a.remove_field("file");
        }
        Ok(a)
    }

    /// An observer of an operation on `item` printing on `action`.
    pub fn observer<'a, 'r>(
        &self,
        action: &'a mut Action<'r>,
        item: &Item,
    ) -> ActionObserver<'a, 'r> {
        ActionObserver::new(action, self.progress, item.key.size())
    }

    /// Explains a refused drop as git-annex does, then fails the action.
    pub fn report_unsafe(
        &self,
        action: &mut Action<'_>,
        refusal: &Refusal,
        nolocmsg: &str,
    ) -> Result<(), CommandError> {
        action.note("unsafe")?;
        for line in annex_core::content::unsafe_drop_explanation(&refusal.check) {
            action.long_note(&line)?;
        }
        if !refusal.unreachable.is_empty() {
            action.long_note(&format!(
                "Unable to access these remotes: {}",
                refusal.unreachable.join(", ")
            ))?;
        }
        self.show_whereabouts(action, &refusal.whereabouts, nolocmsg)?;
        action.long_note("(Use --force to override this check, or adjust numcopies.)")
    }

    /// Shows a drop's outcome on the action (the explanation of a refusal
    /// or failure); whether the content is gone. `moving` names the remote
    /// when this is the second half of a move from it (the refusal then
    /// says the content stays there, as git-annex's).
    pub fn show_drop(
        &self,
        action: &mut Action<'_>,
        outcome: &DropOutcome,
        nolocmsg: &str,
        moving: Option<&str>,
    ) -> Result<bool, CommandError> {
        for name in self.annex.take_lock_notes() {
            action.note(&format!("locking {name}..."))?;
        }
        match outcome {
            DropOutcome::Dropped => return Ok(true),
            DropOutcome::Refused(r) => {
                self.report_unsafe(action, r, nolocmsg)?;
                if let Some(name) = moving {
                    action.long_note(&format!("Content not dropped from {name}."))?;
                }
            }
            DropOutcome::Locked => action.error("content is locked"),
            DropOutcome::ProofExpired => {
                action.note("unsafe")?;
                action.long_note("Dropping took too long, and locks may have expired.")?;
            }
            DropOutcome::Unlockable(e) | DropOutcome::PathRefused(e) => action.error(e),
            DropOutcome::RemoteFailed(e) => action.warning(e),
        }
        Ok(false)
    }

    /// Drops the item's content from this repository
    /// ([`Annex::drop_here`]), explaining a refusal on the action;
    /// whether it is gone.
    pub fn drop_here(
        &self,
        action: &mut Action<'_>,
        item: &Item,
        force: bool,
        first: Option<&Uuid>,
        nolocmsg: &str,
    ) -> Result<bool, CommandError> {
        let outcome = self.annex.drop_here(item, DropOptions { force, first })?;
        self.show_drop(action, &outcome, nolocmsg, None)
    }

    /// Drops the item's content from a remote ([`Annex::drop_remote`]),
    /// explaining a refusal on the action; whether it is gone.
    pub fn drop_remote_item(
        &self,
        action: &mut Action<'_>,
        entry: &RemoteEntry,
        item: &Item,
        force: bool,
        moving: Option<&str>,
    ) -> Result<bool, CommandError> {
        let outcome = self
            .annex
            .drop_remote(entry, item, DropOptions { force, first: None })?;
        let nolocmsg = match moving {
            None => "Rather than dropping this file, try using: git annex move",
            Some(_) => "",
        };
        self.show_drop(action, &outcome, nolocmsg, moving)
    }

    /// Commits what remotes recorded, then this repository's journal.
    pub fn finish(&self, reporter: &Reporter) -> Result<(), CommandError> {
        let finished = self.annex.finish().map_err(CommandError::uncommitted)?;
        for e in &finished.remote_errors {
            eprintln!("git-annex-rs: {e}");
        }
        if finished.recorded && reporter.shows_side_messages() {
            crate::output::outln!("(recording state in git...)")?;
        }
        Ok(())
    }
}

/// `(Note that these git remotes have annex-ignore set: ...)`.
fn note_ignored(action: &mut Action<'_>, w: &Whereabouts) -> Result<(), CommandError> {
    if !w.ignored.is_empty() {
        action.long_note(&format!(
            "(Note that these git remotes have annex-ignore set: {})",
            w.ignored.join(" ")
        ))?;
    }
    Ok(())
}

/// The item of a key alone (`--key`, `--all`).
pub(crate) fn key_item(key: Key) -> Item {
    Item {
        file: None,
        input: Vec::new(),
        target: annex_ops::Item::key(key),
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

/// Runs the transfers of `plan` on `jobs` threads ([`Annex::run_queue`]):
/// downloads (content received, verified and moved into the object store)
/// or uploads (content stored on the remote), each with its meter. Returns,
/// per item index, whether its transfer succeeded; the caller then reports
/// and records each in order ([`Annex::received`], [`Annex::uploaded`]). A
/// failed one is left for the caller to retry one at a time, which explains
/// the failure.
pub fn run_parallel(
    env: &Env,
    items: &[Item],
    plan: &[Planned<'_>],
    direction: Direction,
    jobs: usize,
    command: &str,
) -> Vec<bool> {
    let targets: Vec<annex_ops::Item> = items.iter().map(|i| i.target.clone()).collect();
    let requests: Vec<Request<'_>> = plan
        .iter()
        .map(|p| Request {
            item: p.index,
            remote: p.remote,
        })
        .collect();
    let mode = env.progress;
    let bars = Meter::bars(mode);
    let observer = |item: &annex_ops::Item, remote: &dyn Remote| -> Box<dyn Observer + Send> {
        let index = targets
            .iter()
            .position(|t| std::ptr::eq(t, item))
            .unwrap_or_default();
        let shown = &items[index];
        Box::new(QueueMeter(Some(parallel_meter(
            mode,
            bars.as_ref(),
            command,
            remote,
            (shown.file.as_deref(), &shown.input, &item.key),
            direction,
        ))))
    };
    let results = env.run_queue(
        &targets,
        &requests,
        QueueOptions {
            direction,
            jobs,
            cancel: None,
        },
        &observer,
    );
    let mut done = vec![false; items.len()];
    for (p, r) in plan.iter().zip(results) {
        done[p.index] = r.is_done();
    }
    done
}

/// A meter as the observer of one queued transfer.
pub(crate) struct QueueMeter(pub(crate) Option<Meter>);

impl Observer for QueueMeter {
    fn progress(&mut self, done: u64) {
        if let Some(m) = self.0.as_mut() {
            m.update(done);
        }
    }
    fn end(&mut self, _ok: bool) {
        if let Some(m) = self.0.take() {
            m.finish();
        }
    }
}

/// The meter of one transfer of [`run_parallel`]: its action as
/// `command` would show it (`FILE (from REMOTE...)`), for a bar among
/// `bars` or `--json-progress` objects.
pub(crate) fn parallel_meter(
    mode: ProgressMode,
    bars: Option<&indicatif::MultiProgress>,
    command: &str,
    remote: &dyn Remote,
    (file, input, key): (Option<&[u8]>, &[Vec<u8>], &Key),
    direction: Direction,
) -> Meter {
    let note = annex_ops::transfer::transfer_note(direction, remote.name());
    let lossy = |b: &[u8]| Value::String(String::from_utf8_lossy(b).into_owned());
    let mut action = serde_json::Map::new();
    action.insert("command".into(), Value::String(command.to_owned()));
    if let Some(f) = file {
        action.insert("file".into(), lossy(f));
    }
    action.insert(
        "input".into(),
        Value::Array(input.first().map(|i| lossy(i)).into_iter().collect()),
    );
    action.insert("key".into(), Value::String(key.to_string()));
    action.insert("note".into(), Value::String(note.clone()));
    // Quoted as the action's line quotes it (no control character
    // reaches the terminal).
    let shown = match file {
        Some(f) => String::from_utf8_lossy(&crate::action::quote(f, true)).into_owned(),
        None => key.to_string(),
    };
    Meter::parallel(
        mode,
        key.size(),
        Value::Object(action),
        bars,
        format!("{command} {shown} ({note})"),
    )
}
