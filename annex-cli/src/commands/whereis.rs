//! `whereis [PATH...]`: the repositories the location log says have each
//! file's content, trusted and semitrusted first, untrusted apart, with the
//! web's URLs; `--key`, `--all`, `--batch`/`--batch-keys` (`-z`),
//! `--format`, `--json`. Exit code 1 when some key has no known copy.
//!
//! The branch is read through one [`Snapshot`] taken when the command
//! starts, so each key costs a few tree lookups and one log read.
//!
//! This module also holds what the read-side commands (`whereis`, `info`)
//! share about repositories: their descriptions as git-annex shows them,
//! remote names and trust levels ([`Repos`]).

use std::collections::BTreeMap;
use std::ffi::OsString;

use annex_core::branch::Snapshot;
use annex_core::key::Key;
use annex_core::logs;
use annex_core::logs::trust::TrustLevel;
use annex_core::logs::web::Downloader;
use annex_core::uuid::{Uuid, WEB_UUID};
use serde_json::Value;

use crate::action::{CommonArgs, OutputArgs, Reporter, lossy};
use crate::context::Ctx;
use crate::error::CommandError;

use super::examinekey::Format;

/// git-annex's refusal of a command that needs a work tree.
pub(super) const BARE_REFUSAL: &str = "You cannot run this command in a bare repository.";

/// The UUID of git-annex's built-in bittorrent remote.
pub(super) const BITTORRENT_UUID: &str = "00000000-0000-0000-0000-000000000002";

/// Arguments of `whereis`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories.
    paths: Vec<OsString>,
    /// Operate on this key instead of files.
    #[arg(long, value_name = "KEY")]
    key: Option<String>,
    /// Operate on every key the git-annex branch has a location log for.
    #[arg(long, short = 'A')]
    all: bool,
    /// Read file names from stdin, one a line.
    #[arg(long)]
    batch: bool,
    /// Read keys from stdin, one a line.
    #[arg(long = "batch-keys")]
    batch_keys: bool,
    /// With `--batch`, input items end with NUL instead of newline.
    #[arg(short = 'z')]
    z: bool,
    /// Custom output (`${file}`, `${key}`, `${uuid}`, `${url}` ...).
    #[arg(long, value_name = "FORMAT")]
    format: Option<OsString>,
    /// The file matching options (`--in`, `--copies`, `--include`, ...).
    #[command(flatten)]
    matching: crate::matching::MatchingArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// The repositories a command shows: descriptions, remote names, trust.
pub(super) struct Repos {
    /// This repository.
    pub here: Uuid,
    /// Descriptions from `uuid.log`.
    pub descriptions: BTreeMap<Uuid, String>,
    /// Names of the remotes (git remotes and special remotes with a UUID,
    /// and the built-in web and bittorrent remotes).
    pub names: BTreeMap<Uuid, String>,
    /// Trust levels: `trust.log` overridden by `remote.NAME.annex-trustlevel`,
    /// then by `--semitrust`/`--untrust`.
    pub trust: BTreeMap<Uuid, TrustLevel>,
    /// The clusters each node is in (dead nodes left out): a key a node
    /// has is in its clusters too, as git-annex lists it.
    pub clusters: BTreeMap<Vec<u8>, std::collections::BTreeSet<Uuid>>,
}

impl Repos {
    /// Reads them from a snapshot of the branch and the git config.
    pub fn load(ctx: &Ctx, snap: &Snapshot<'_>) -> Result<Repos, CommandError> {
        let raw_descriptions =
            logs::uuid::parse(&snap.get(annex_core::state::paths::UUID)?).descriptions();
        let mut trust = annex_core::trust::levels(
            logs::trust::parse(&snap.get(annex_core::state::paths::TRUST)?).current(),
            &ctx.config,
        );
        annex_core::forced::apply_trust(&mut trust, &ctx.config, &raw_descriptions);
        let descriptions = raw_descriptions
            .into_iter()
            .map(|(u, d)| (u, lossy(&d)))
            .collect();
        let mut names = BTreeMap::new();
        for (u, n) in [(WEB_UUID, "web"), (BITTORRENT_UUID, "bittorrent")] {
            if let Ok(u) = Uuid::parse(u.as_bytes()) {
                names.insert(u, n.to_owned());
            }
        }
        let config = snap.branch().repo().config_snapshot();
        if let Some(sections) = config.plumbing().sections_by_name("remote") {
            for s in sections {
                let Some(name) = s.header().subsection_name() else {
                    continue;
                };
                let name = name.to_string();
                let uuid = ctx
                    .config
                    .get_str(&format!("remote.{name}.annex-uuid"))
                    .and_then(|v| Uuid::parse(v.as_bytes()).ok());
                let Some(uuid) = uuid else { continue };
                names.entry(uuid).or_insert(name);
            }
        }
        // The remotes learned through gateways, by their names.
        let proxies = logs::proxy::current(&logs::proxy::parse(
            &snap.get(annex_core::state::paths::PROXY)?,
        ));
        let clusters = logs::cluster::clusters(&logs::cluster::parse(
            &snap.get(annex_core::state::paths::CLUSTER)?,
        ));
        let configured = annex_proxy::proxies::configured_remotes(&ctx.config, &ctx.base_dir());
        for r in
            annex_proxy::proxies::proxied_remotes(&ctx.config, &configured, &proxies, &clusters)
        {
            if let Some(u) = r.uuid {
                names.entry(u).or_insert(r.name);
            }
        }
        let dead = trust
            .iter()
            .filter(|(_, t)| **t == TrustLevel::Dead)
            .map(|(u, _)| u.clone())
            .collect();
        let clusters =
            logs::cluster::clusters_of_nodes(&logs::cluster::without_dead_nodes(clusters, &dead));
        Ok(Repos {
            here: ctx.here().clone(),
            descriptions,
            names,
            trust,
            clusters,
        })
    }

    /// A repository's trust level (semitrusted unless set).
    pub fn trust(&self, u: &Uuid) -> TrustLevel {
        annex_core::trust::level_of(&self.trust, u)
    }

    /// The description git-annex gives a repository: its `uuid.log`
    /// description with the remote's name added in brackets (the name
    /// alone when it has none).
    pub fn description(&self, u: &Uuid) -> String {
        match (self.descriptions.get(u), self.names.get(u)) {
            (Some(d), Some(n)) => add_name(d, n),
            (Some(d), None) => d.clone(),
            (None, Some(n)) => n.clone(),
            (None, None) => String::new(),
        }
    }

    /// One line of a repository list: `UUID -- DESCRIPTION`, with `[here]`
    /// for this repository.
    pub fn pretty(&self, u: &Uuid) -> String {
        let n = self.description(u);
        let here = *u == self.here;
        let d = if here && n.is_empty() {
            "here".to_owned()
        } else if here {
            add_name(&n, "here")
        } else {
            n
        };
        if d.is_empty() {
            u.to_string()
        } else {
            format!("{u} -- {d}")
        }
    }

    /// A repository as a JSON object: `uuid`, `description`, `here`, and
    /// an optional extra field.
    pub fn json(&self, u: &Uuid, extra: Option<(&str, Value)>) -> Value {
        let mut m = serde_json::Map::new();
        m.insert("uuid".into(), Value::String(u.to_string()));
        m.insert("description".into(), Value::String(self.description(u)));
        m.insert("here".into(), Value::Bool(*u == self.here));
        if let Some((k, v)) = extra {
            m.insert(k.into(), v);
        }
        Value::Object(m)
    }

    /// A key's locations as git-annex counts them: present in the
    /// location log, dead repositories left out.
    pub fn key_locations(&self, snap: &Snapshot<'_>, key: &Key) -> Result<Vec<Uuid>, CommandError> {
        let locs: Vec<Uuid> = snap
            .locations(key)?
            .into_iter()
            .filter(|u| self.trust(u) != TrustLevel::Dead)
            .collect();
        // The clusters of the nodes that have it, first.
        let clusters: std::collections::BTreeSet<&Uuid> = locs
            .iter()
            .filter_map(|u| self.clusters.get(u.as_str().as_bytes()))
            .flatten()
            .collect();
        Ok(clusters.into_iter().cloned().chain(locs).collect())
    }
}

/// A description with a name added: `desc [name]`, or `[name]` when the
/// description is empty or the name itself.
fn add_name(desc: &str, name: &str) -> String {
    if desc == name || desc.is_empty() {
        format!("[{name}]")
    } else {
        format!("{desc} [{name}]")
    }
}

/// What to show a key as.
struct Item<'a> {
    /// The file as shown (relative to the current directory).
    file: Option<Vec<u8>>,
    key: &'a Key,
    /// The command-line input that led to it (`None`: none, as for `--key`).
    input: Option<&'a [u8]>,
}

struct Whereis<'a> {
    snap: Snapshot<'a>,
    repos: Repos,
    /// The `--format`, parsed, and as given.
    format: Option<(Format, Vec<u8>)>,
    /// The object store (for `--size-limit`: the size of content here).
    store: &'a annex_core::objects::ObjectStore,
}

/// Shows where each file's (or key's) content is.
pub fn run(args: Args) -> Result<(), CommandError> {
    let selectors = [!args.paths.is_empty(), args.key.is_some(), args.all]
        .iter()
        .filter(|b| **b)
        .count();
    if selectors > 1 || (args.batch_keys && (args.key.is_some() || args.all)) {
        return Err(CommandError::failed(
            "Can only specify one of file names, --all, --branch, --unused, --failed --key, or --incomplete",
        ));
    }
    let key_arg = match &args.key {
        Some(k) => Some(
            Key::parse(k.as_bytes())
                .map_err(|_| CommandError::failed(format!("option --key: bad key {k}")))?,
        ),
        None => None,
    };
    // JSON output has no side messages (merging, recording state).
    let quiet = args.output.quiet || args.output.json || args.output.json_progress;
    let ctx = Ctx::open(&args.common.config, quiet)?;
    let mut reporter = ctx.reporter(&args.output, "whereis");
    let snap = Snapshot::new(ctx.state.branch())?;
    let repos = Repos::load(&ctx, &snap)?;
    let shown = Shown::new(&ctx);
    let format = args.format.as_deref().map(|f| {
        let raw = os_bytes(f);
        (Format::parse(&raw), raw)
    });
    let w = Whereis {
        snap,
        repos,
        format,
        store: &ctx.store,
    };
    let matching = args.matching.matcher(&ctx)?;
    // Whether an item passes the matching options.
    let selected = |path: Option<&[u8]>, key: &Key| -> Result<bool, CommandError> {
        let Some((m, mctx, wanted)) = &matching else {
            return Ok(true);
        };
        let item = match path {
            Some(p) => annex_core::preferred::Item::file(p, Some(key)),
            None => annex_core::preferred::Item::key(key),
        };
        m.matches(mctx, &item, wanted.as_ref())
            .map_err(|e| CommandError::failed(e.to_string()))
    };
    if args.batch || args.batch_keys {
        if !args.paths.is_empty() {
            return Err(CommandError::failed(
                "Cannot mix --batch with file names on the command line",
            ));
        }
        crate::batch::for_each_item(args.z, |item| {
            if args.batch_keys {
                let key = Key::parse(item).map_err(|_| {
                    CommandError::failed("Batch input parse failure: not a valid key")
                })?;
                let it = Item {
                    file: None,
                    key: &key,
                    input: Some(item),
                };
                w.show(&mut reporter, &it)
            } else {
                let path = std::path::Path::new(os_str(item));
                match lookup_file(&ctx, path)? {
                    Some(f) => {
                        let it = Item {
                            file: Some(shown.path(&ctx, &f.path)),
                            key: &f.key,
                            input: Some(item),
                        };
                        w.show(&mut reporter, &it)
                    }
                    // Not an annexed file: an empty line, as git-annex answers.
                    None => crate::output::bytes(b"\n"),
                }
            }
        })?;
    } else if let Some(key) = &key_arg {
        let it = Item {
            file: None,
            key,
            input: None,
        };
        w.show(&mut reporter, &it)?;
    } else if args.all || (ctx.worktree.is_none() && args.paths.is_empty()) {
        // In a bare repository, no paths means every key, as git-annex.
        for_each_key(w.snap.branch(), |key| {
            if !selected(None, &key)? {
                return Ok(());
            }
            let it = Item {
                file: None,
                key: &key,
                input: None,
            };
            w.show(&mut reporter, &it)
        })?;
    } else {
        let unmatched = seek_each(&ctx, &args.paths, |f, input| {
            if !selected(Some(&f.path), &f.key)? {
                return Ok(());
            }
            let file = shown.path(&ctx, &f.path);
            let input = input.map_or_else(|| file.clone(), |i| os_bytes(i));
            let it = Item {
                file: Some(file),
                key: &f.key,
                input: Some(&input),
            };
            w.show(&mut reporter, &it)
        })?;
        for _ in 0..unmatched {
            reporter.count_failure();
        }
    }
    crate::global::finish_size_limit(reporter.finish())
}

impl Whereis<'_> {
    fn show(&self, reporter: &mut Reporter, it: &Item<'_>) -> Result<(), CommandError> {
        if !crate::global::size_limit_admits_key(self.store, it.key) {
            return Ok(());
        }
        let repos = &self.repos;
        let locations = repos.key_locations(&self.snap, it.key)?;
        // URLs of each location: the web's registered URLs.
        let web_urls: Vec<String> = if locations.iter().any(|u| u.as_str() == WEB_UUID) {
            self.snap
                .urls(it.key)?
                .iter()
                .filter_map(|l| match logs::web::downloader(l) {
                    (u, Downloader::Web | Downloader::Youtube) => Some(lossy(u)),
                    _ => None,
                })
                .collect()
        } else {
            Vec::new()
        };
        let urls_of = |u: &Uuid| -> &[String] {
            if u.as_str() == WEB_UUID {
                &web_urls
            } else {
                &[]
            }
        };
        let (untrusted, safe): (Vec<&Uuid>, Vec<&Uuid>) = locations
            .iter()
            .partition(|u| repos.trust(u) == TrustLevel::Untrusted);
        let success = !safe.is_empty();
        if let Some((format, raw)) = &self.format {
            self.show_formatted(format, raw, it, &locations, &web_urls)?;
            if !success {
                reporter.count_failure();
            }
            return Ok(());
        }
        let input = it.input.map(<[u8]>::to_vec);
        let mut action = reporter.start_opt(it.file.as_deref(), Some(it.key), input.as_deref())?;
        // A cluster is not a copy of its own.
        let n = safe
            .iter()
            .filter(|u| !logs::cluster::is_cluster_uuid(u.as_str().as_bytes()))
            .count();
        action.note(&format!("{n} {}", if n == 1 { "copy" } else { "copies" }))?;
        let list = |us: &[&Uuid]| -> (String, Value) {
            let mut text = String::new();
            let mut arr = Vec::new();
            for u in us {
                text.push('\t');
                text.push_str(&repos.pretty(u));
                text.push('\n');
                let urls: Vec<Value> = urls_of(u).iter().cloned().map(Value::String).collect();
                arr.push(repos.json(u, Some(("urls", Value::Array(urls)))));
            }
            (text, Value::Array(arr))
        };
        let (safe_text, safe_json) = list(&safe);
        let (untrusted_text, untrusted_json) = list(&untrusted);
        action.field("whereis", safe_json);
        action.field("untrusted", untrusted_json);
        if !safe.is_empty() {
            action.long_note(&safe_text)?;
        }
        if !untrusted.is_empty() {
            action.long_note(&format!(
                "The following untrusted locations may also have copies:\n{untrusted_text}"
            ))?;
        }
        for u in &locations {
            let urls = urls_of(u);
            if urls.is_empty() {
                continue;
            }
            if let Some(name) = repos.names.get(u) {
                let text: String = urls.iter().map(|url| format!("{name}: {url}\n")).collect();
                action.long_note(&text)?;
            }
        }
        action.end(success)
    }

    fn show_formatted(
        &self,
        format: &Format,
        raw: &[u8],
        it: &Item<'_>,
        locations: &[Uuid],
        urls: &[String],
    ) -> Result<(), CommandError> {
        let mut vars = super::examinekey::format_vars(it.key, it.file.as_deref());
        let uses = |v: &str| format_contains_var(raw, v);
        let uuids: Vec<Option<&Uuid>> = if uses("uuid") {
            locations.iter().map(Some).collect()
        } else {
            vec![None]
        };
        let n = vars.len();
        let mut out = Vec::new();
        for u in uuids {
            vars.truncate(n);
            if let Some(u) = u {
                vars.push(("uuid", u.to_string().into_bytes()));
            }
            if uses("url") {
                for url in urls {
                    vars.truncate(n + usize::from(u.is_some()));
                    vars.push(("url", url.as_bytes().to_vec()));
                    out.extend(format.expand(&vars));
                }
            } else {
                out.extend(format.expand(&vars));
            }
        }
        crate::output::bytes(&out)
    }
}

/// File names as shown to the user (relative to the current directory),
/// computed without touching the file system for each file: what
/// [`Ctx::display_path`] gives, with the top and the current directory
/// resolved once.
pub(super) struct Shown {
    /// The current directory's components below the top; `None` when it
    /// is not inside the work tree (then [`Ctx::display_path`] is used).
    below: Option<Vec<Vec<u8>>>,
}

impl Shown {
    /// For the current directory of `ctx`.
    pub fn new(ctx: &Ctx) -> Shown {
        let below = ctx.worktree.as_ref().and_then(|wt| {
            let top = wt
                .top()
                .canonicalize()
                .unwrap_or_else(|_| wt.top().to_path_buf());
            let rel = ctx.cwd.strip_prefix(&top).ok()?;
            Some(
                rel.components()
                    .map(|c| os_bytes(c.as_os_str()))
                    .collect::<Vec<_>>(),
            )
        });
        Shown { below }
    }

    /// [`Shown::path`], borrowed when it is the path itself (the current
    /// directory is the top).
    pub fn path_cow<'p>(&self, ctx: &Ctx, path_from_top: &'p [u8]) -> std::borrow::Cow<'p, [u8]> {
        match &self.below {
            Some(below) if below.is_empty() => std::borrow::Cow::Borrowed(path_from_top),
            _ => std::borrow::Cow::Owned(self.path(ctx, path_from_top)),
        }
    }

    /// A path from the top of the work tree, as shown.
    pub fn path(&self, ctx: &Ctx, path_from_top: &[u8]) -> Vec<u8> {
        let Some(below) = &self.below else {
            return ctx.display_path(path_from_top);
        };
        relative(below, path_from_top)
    }
}

/// A path from the top as seen from the directory whose components
/// below the top are `below`.
fn relative(below: &[Vec<u8>], path_from_top: &[u8]) -> Vec<u8> {
    if below.is_empty() {
        return path_from_top.to_vec();
    }
    let parts: Vec<&[u8]> = path_from_top.split(|&b| b == b'/').collect();
    // The file's directories shared with the current directory.
    let dirs = parts.len().saturating_sub(1);
    let common = below
        .iter()
        .zip(&parts[..dirs])
        .take_while(|(a, b)| a.as_slice() == **b)
        .count();
    let mut out = Vec::with_capacity(path_from_top.len() + 3 * below.len());
    for _ in common..below.len() {
        out.extend_from_slice(b"../");
    }
    out.extend_from_slice(&parts[common..].join(&b'/'));
    out
}

/// Whether a `--format` uses a variable (`${var}`, `${var;width}`, or
/// its `escaped_` form).
pub(super) fn format_contains_var(format: &[u8], var: &str) -> bool {
    let has = |s: String| format.windows(s.len()).any(|w| w == s.as_bytes());
    ["${", "${escaped_"]
        .iter()
        .any(|p| has(format!("{p}{var}}}")) || has(format!("{p}{var};")))
}

/// A command-line argument's bytes.
pub(super) fn os_bytes(s: &std::ffi::OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes().to_vec()
}

/// Bytes as an `OsStr`.
pub(super) fn os_str(b: &[u8]) -> &std::ffi::OsStr {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(b)
}

/// The annexed file at `path` (relative to the current directory), if it
/// is one.
pub(super) fn lookup_file(
    ctx: &Ctx,
    path: &std::path::Path,
) -> Result<Option<annex_core::worktree::AnnexedFile>, CommandError> {
    let wt = ctx.worktree()?;
    let top = wt
        .top()
        .canonicalize()
        .unwrap_or_else(|_| wt.top().to_path_buf());
    let Ok(rel) = annex_core::worktree::pathspec_from_arg(&top, &ctx.cwd, path) else {
        return Ok(None);
    };
    if rel.is_empty() {
        return Ok(None);
    }
    Ok(wt
        .lookup_key(&rel)?
        .map(|(key, locked)| annex_core::worktree::AnnexedFile {
            path: rel,
            key,
            locked,
        }))
}

/// Calls `f` with every key the branch has a location log for, in branch
/// order, as the branch is walked (the keys are not collected first).
pub(super) fn for_each_key(
    branch: &annex_core::branch::Branch,
    mut f: impl FnMut(Key) -> Result<(), CommandError>,
) -> Result<(), CommandError> {
    branch.for_each_path(|path| {
        let Some(name) = path.strip_suffix(b".log") else {
            return Ok(());
        };
        if path.iter().filter(|&&b| b == b'/').count() != 2 {
            return Ok(());
        }
        let file = name.rsplit(|&b| b == b'/').next().unwrap_or(name);
        match annex_core::objects::file_key(file) {
            Some(k) => f(k),
            None => Ok(()),
        }
    })
}

/// The annexed files named by command-line paths (the current directory
/// when none are given), one at a time as they are found, with the
/// command-line item each was found through (`None` when no paths were
/// given; git-annex's `input` is then the file itself). Paths that match
/// nothing git knows are reported on stderr as git-annex does; returns how
/// many, to be counted as failures. Memory does not grow with the number
/// of files.
pub(super) fn seek_each(
    ctx: &Ctx,
    args: &[OsString],
    mut f: impl FnMut(annex_core::worktree::AnnexedFile, Option<&OsString>) -> Result<(), CommandError>,
) -> Result<usize, CommandError> {
    let wt = ctx
        .worktree
        .as_ref()
        .ok_or_else(|| CommandError::failed(BARE_REFUSAL))?;
    let (specs, everything) = seek_specs(ctx, wt, args)?;
    let unmatched = wt.for_each_annexed_file(&specs, |n, file| {
        f(file, if everything { None } else { args.get(n) })
    })?;
    if everything {
        return Ok(0);
    }
    report_unmatched(args, &specs, &unmatched);
    Ok(unmatched.len())
}

/// [`seek_each`] with `work` run for each file on every core
/// ([`annex_core::worktree::WorkTree::for_each_annexed_file_par`]); `f`
/// gets the files, in order, with `work`'s answers.
pub(super) fn seek_each_par<R: Send>(
    ctx: &Ctx,
    args: &[OsString],
    work: &(dyn Fn(&annex_core::worktree::AnnexedFile) -> R + Sync),
    mut f: impl FnMut(
        annex_core::worktree::AnnexedFile,
        Option<&OsString>,
        R,
    ) -> Result<(), CommandError>,
) -> Result<usize, CommandError> {
    let wt = ctx
        .worktree
        .as_ref()
        .ok_or_else(|| CommandError::failed(BARE_REFUSAL))?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    let (specs, everything) = seek_specs(ctx, wt, args)?;
    let unmatched = wt.for_each_annexed_file_par(&specs, threads, work, |n, file, r| {
        f(file, if everything { None } else { args.get(n) }, r)
    })?;
    if everything {
        return Ok(0);
    }
    report_unmatched(args, &specs, &unmatched);
    Ok(unmatched.len())
}

/// The pathspecs of command-line paths, and whether they are the
/// implicit current directory (no path given: no error when it holds no
/// file).
fn seek_specs(
    ctx: &Ctx,
    wt: &annex_core::worktree::WorkTree,
    args: &[OsString],
) -> Result<(Vec<Vec<u8>>, bool), CommandError> {
    let top = wt
        .top()
        .canonicalize()
        .unwrap_or_else(|_| wt.top().to_path_buf());
    if args.is_empty() {
        let here =
            annex_core::worktree::pathspec_from_arg(&top, &ctx.cwd, std::path::Path::new("."))?;
        return Ok((vec![here], true));
    }
    let mut specs = Vec::with_capacity(args.len());
    for a in args {
        specs.push(annex_core::worktree::pathspec_from_arg(
            &top,
            &ctx.cwd,
            std::path::Path::new(a),
        )?);
    }
    Ok((specs, false))
}

/// git's complaint about pathspecs that matched nothing, shown as the
/// user wrote them.
fn report_unmatched(args: &[OsString], specs: &[Vec<u8>], unmatched: &[Vec<u8>]) {
    for spec in unmatched {
        let shown = specs
            .iter()
            .position(|s| s.strip_suffix(b"/").unwrap_or(s) == spec.as_slice())
            .map(|i| args[i].to_string_lossy().into_owned())
            .unwrap_or_else(|| String::from_utf8_lossy(spec).into_owned());
        eprintln!("error: pathspec '{shown}' did not match any file(s) known to git");
        eprintln!("Did you forget to 'git add'?");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_added_as_git_annex_does() {
        assert_eq!(add_name("repo B", "b"), "repo B [b]");
        assert_eq!(add_name("", "b"), "[b]");
        assert_eq!(add_name("b", "b"), "[b]");
    }

    #[test]
    fn shown_paths_are_relative_to_the_current_directory() {
        let shown = |below: &[&str], p: &str| {
            let below: Vec<Vec<u8>> = below.iter().map(|c| c.as_bytes().to_vec()).collect();
            String::from_utf8(relative(&below, p.as_bytes())).expect("utf-8")
        };
        assert_eq!(shown(&["sub"], "sub/f"), "f");
        assert_eq!(shown(&["sub"], "f"), "../f");
        assert_eq!(shown(&["sub"], "sub2/f"), "../sub2/f");
        assert_eq!(shown(&["a", "b"], "a/c/f"), "../c/f");
        assert_eq!(shown(&["sub"], "sub"), "../sub");
        assert_eq!(shown(&[], "a/b"), "a/b");
    }
}
