//! `info [ITEM...]`: the repository overview (repositories by trust level,
//! disk space, local annex keys and size, annexed files of the work tree,
//! sizes of every repository, backends, bloom filter), or information about
//! a directory, an annexed file, a remote or a repository UUID; `--bytes`,
//! `--json`, `--fast`, `--show NAME`, `--batch`.
//!
//! What is shown is computed by `annex_ops::info` (counts, sizes,
//! repositories, a remote's facts); this module picks the item, words the
//! statistics as git-annex does and formats sizes. Repository sizes come
//! from the repository sizes database (`annex_core::sizes`), as
//! git-annex's come from its own; `info REMOTE` counts the keys of the
//! remote's location logs (the database has sizes, not counts or keys of
//! unknown size), as git-annex does.
//! What this does not show yet is listed in `docs/compat.md`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use annex_core::branch::Snapshot;
use annex_core::key::Key;
use annex_core::logs::trust::TrustLevel;
use annex_core::transfer::parse_size;
use annex_core::units::{COMMITTEE_UNITS, STORAGE_UNITS, rough_size, show_imprecise};
use annex_core::uuid::Uuid;
use annex_ops::info::{KeyStats, Statistics};
use serde_json::Value;

use crate::action::{CommonArgs, OutputArgs, lossy};
use crate::context::Ctx;
use crate::error::CommandError;

use super::whereis::{Repos, lookup_file, os_bytes, os_str};

/// Arguments of `info`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directories, annexed files, remotes or repository UUIDs.
    items: Vec<OsString>,
    /// Display sizes in bytes.
    #[arg(long)]
    bytes: bool,
    /// Only the quick statistics.
    #[arg(long, short = 'F')]
    fast: bool,
    /// Only the named statistics.
    #[arg(long = "show", value_name = "NAME")]
    show: Vec<String>,
    /// Read items from stdin, one a line.
    #[arg(long)]
    batch: bool,
    /// With `--batch`, input items end with NUL instead of newline.
    #[arg(short = 'z')]
    z: bool,
    #[command(flatten)]
    matching: crate::matching::MatchingArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// The git-annex default of `annex.diskreserve`.
const DEFAULT_DISK_RESERVE: u64 = 100_000_000;

/// One statistic: its name, its plain text and its JSON value (`None`:
/// shown in plain mode only).
struct Stat {
    name: String,
    text: String,
    json: Option<Value>,
}

struct Info<'a> {
    ctx: &'a Ctx,
    /// What is shown, computed on demand.
    stats: Statistics<'a>,
    repos: &'a Repos,
    bytes: bool,
    fast: bool,
    show: Vec<String>,
    json: bool,
    /// The matching options: they select the files of a directory.
    filter: Option<&'a crate::matching::Filter<'a>>,
}

/// Shows the information asked for.
pub fn run(args: Args) -> Result<(), CommandError> {
    // JSON output has no side messages (merging, recording state).
    let quiet = args.output.quiet || args.output.json || args.output.json_progress;
    let ctx = Ctx::open(&args.common.config, quiet)?;
    let snap = Snapshot::new(ctx.state.branch())?;
    let repos = Repos::load(&ctx, &snap)?;
    let mut reporter = args.output.reporter("info");
    let filter = crate::matching::Filter::new(&ctx, &args.matching)?;
    let info = Info {
        ctx: &ctx,
        stats: Statistics::new(&ctx, filter.as_ref(), &repos.trust)?,
        repos: &repos,
        bytes: args.bytes,
        fast: args.fast,
        show: args.show.clone(),
        json: reporter.is_json(),
        filter: filter.as_ref(),
    };
    if args.batch {
        crate::batch::for_each_item(args.z, |item| {
            if !info.item(item)? {
                reporter.count_failure();
            }
            Ok(())
        })?;
    } else if args.items.is_empty() {
        if info.filter.is_some_and(|f| f.needs_file_name()) {
            // git-annex refuses options that look at file names here, with
            // this message, exit 1 (after printing the statistics before
            // the first keyed one); the others (`--largerthan`, `--in`,
            // ...) apply to every key counted.
            return Err(CommandError::failed(
                "File matching options cannot be applied when getting this info.",
            ));
        }
        let stats = info.global()?;
        info.print("info", &[], None, stats)?;
    } else {
        for item in &args.items {
            if !info.item(&os_bytes(item))? {
                reporter.count_failure();
            }
        }
    }
    reporter.finish()
}

impl Info<'_> {
    fn size(&self, short: bool, bytes: u128) -> String {
        if self.bytes {
            bytes.to_string()
        } else {
            rough_size(&STORAGE_UNITS, short, bytes)
        }
    }

    fn size_keys(&self, d: &KeyStats) -> String {
        let mut s = self.size(false, d.size);
        if d.unknown_size > 0 {
            s.push_str(&format!(" (+ {} unknown size)", d.unknown_size));
        }
        s
    }

    fn simple(&self, name: &str, value: String) -> Stat {
        Stat {
            name: name.to_owned(),
            json: Some(Value::String(value.clone())),
            text: value,
        }
    }

    /// Whether a statistic is wanted (`--show`), and slow ones unless `--fast`.
    fn wanted(&self, name: &str, slow: bool) -> bool {
        if self.show.is_empty() {
            !(slow && self.fast)
        } else {
            self.show.iter().any(|s| s == name)
        }
    }

    /// Prints a set of statistics as git-annex does: `NAME: VALUE` lines,
    /// or one JSON object with `command`, `input` and the values.
    fn print(
        &self,
        command: &str,
        input: &[u8],
        input_given: Option<()>,
        stats: Vec<Stat>,
    ) -> Result<(), CommandError> {
        if self.json {
            let mut m = serde_json::Map::new();
            for s in stats {
                if let Some(j) = s.json {
                    m.insert(s.name, j);
                }
            }
            m.insert("command".into(), Value::String(command.to_owned()));
            let inputs = match input_given {
                Some(()) => vec![Value::String(lossy(input))],
                None => Vec::new(),
            };
            m.insert("input".into(), Value::Array(inputs));
            m.insert("success".into(), Value::Bool(true));
            m.insert("error-messages".into(), Value::Array(Vec::new()));
            crate::action::print_json(&Value::Object(m))
        } else {
            let mut out = String::new();
            for s in stats {
                out.push_str(&s.name);
                out.push_str(": ");
                out.push_str(&s.text);
                out.push('\n');
            }
            crate::output::bytes(out.as_bytes())
        }
    }

    /// A list of repositories: its plain text (`N` then one line each,
    /// tab-indented) and JSON array, with an optional extra field each.
    fn repo_list(&self, us: &[(Uuid, Option<(String, String)>)], field: &str) -> (String, Value) {
        let mut text = String::new();
        let mut arr = Vec::new();
        for (u, extra) in us {
            text.push_str("\n\t");
            if let Some((plain, _)) = extra {
                text.push_str(plain);
            }
            text.push_str(&self.repos.pretty(u));
            arr.push(
                self.repos.json(
                    u,
                    extra
                        .as_ref()
                        .map(|(_, j)| (field, Value::String(j.clone()))),
                ),
            );
        }
        (text, Value::Array(arr))
    }

    /// The repositories of a trust level: those `uuid.log` or the remotes
    /// know, in UUID order.
    fn trust_stat(&self, level: TrustLevel) -> Stat {
        let known = self
            .repos
            .descriptions
            .keys()
            .chain(self.repos.names.keys());
        let us: Vec<(Uuid, Option<(String, String)>)> = self
            .stats
            .repositories_at(level, known)
            .into_iter()
            .map(|u| (u, None))
            .collect();
        let (text, json) = self.repo_list(&us, "");
        Stat {
            name: format!("{} repositories", level.name()),
            text: if us.is_empty() {
                "0".to_owned()
            } else {
                format!("{}{text}", us.len())
            },
            json: Some(json),
        }
    }

    /// The transfers other processes are running here (their lock held),
    /// as git-annex lists them: uploads first, then by remote and key.
    fn transfers(&self) -> Stat {
        use annex_core::transfer::Direction;
        let found = annex_core::transfer::in_progress(self.ctx.repo.git_dir());
        // JSON in the order git-annex finds them (downloads first), the
        // text sorted.
        let json: Vec<Value> = found
            .iter()
            .filter(|t| t.direction == Direction::Download)
            .chain(found.iter().filter(|t| t.direction == Direction::Upload))
            .map(|t| {
                let mut o = serde_json::Map::new();
                let dir = match t.direction {
                    Direction::Upload => "upload",
                    Direction::Download => "download",
                };
                o.insert("transfer".into(), Value::String(dir.into()));
                o.insert("key".into(), Value::String(t.key.to_string()));
                o.insert(
                    "file".into(),
                    t.file.as_ref().map_or(Value::Null, |f| {
                        Value::String(String::from_utf8_lossy(f).into_owned())
                    }),
                );
                o.insert("remote".into(), Value::String(t.uuid.to_string()));
                Value::Object(o)
            })
            .collect();
        let mut ts = found;
        ts.sort_by(|a, b| {
            let rank = |d: Direction| matches!(d, Direction::Download);
            (rank(a.direction), &a.uuid, &a.key).cmp(&(rank(b.direction), &b.uuid, &b.key))
        });
        let quote_path = self.ctx.config.get_bool("core.quotepath").unwrap_or(true);
        let mut text = String::new();
        for t in &ts {
            let (verb, way) = match t.direction {
                Direction::Upload => ("uploading", "to"),
                Direction::Download => ("downloading", "from"),
            };
            let name = self
                .ctx
                .config
                .remotes()
                .iter()
                .find(|r| r.uuid.as_ref() == Some(&t.uuid))
                .map_or_else(|| t.uuid.to_string(), |r| r.name.clone());
            let item = match &t.file {
                Some(f) => {
                    String::from_utf8_lossy(&crate::action::quote(f, quote_path)).into_owned()
                }
                None => t.key.to_string(),
            };
            text.push_str(&format!("\n\t{verb} {item} {way} {name}"));
        }
        Stat {
            name: "transfers in progress".into(),
            text: if ts.is_empty() { "none".into() } else { text },
            json: Some(Value::Array(json)),
        }
    }

    fn global(&self) -> Result<Vec<Stat>, CommandError> {
        let mut stats = Vec::new();
        for level in [
            TrustLevel::Trusted,
            TrustLevel::SemiTrusted,
            TrustLevel::Untrusted,
        ] {
            let name = format!("{} repositories", level.name());
            if self.wanted(&name, false) {
                stats.push(self.trust_stat(level));
            }
        }
        if self.wanted("transfers in progress", false) {
            stats.push(self.transfers());
        }
        if self.wanted("available local disk space", false) {
            stats.push(self.simple("available local disk space", self.disk_space()));
        }
        for name in ["temporary object directory size", "bad keys size"] {
            if self.wanted(name, true) {
                let size = if name == "bad keys size" {
                    self.stats.bad_keys_size()
                } else {
                    self.stats.temporary_size()
                };
                if size > 0 {
                    stats.push(self.stale(name, size));
                }
            }
        }
        if self.wanted("unused keys size", true) {
            let size = self.stats.unused_size();
            if size > 0 {
                stats.push(self.stale("unused keys size", size));
            }
        }
        let slow = |n: &str| self.wanted(n, true);
        let present =
            if slow("local annex keys") || slow("local annex size") || slow("bloom filter size") {
                self.stats.present_keys()
            } else {
                KeyStats::default()
            };
        if slow("local annex keys") {
            stats.push(Stat {
                name: "local annex keys".into(),
                text: present.count.to_string(),
                json: Some(Value::from(present.count)),
            });
        }
        if slow("local annex size") {
            stats.push(self.simple("local annex size", self.size_keys(&present)));
        }
        let referenced_wanted = [
            "annexed files in working tree",
            "size of annexed files in working tree",
            "backend usage",
        ]
        .iter()
        .any(|n| slow(n));
        let referenced = if referenced_wanted {
            self.stats.working_tree(&[], |_| Ok(()))?.0
        } else {
            KeyStats::default()
        };
        if slow("annexed files in working tree") {
            stats.push(Stat {
                name: "annexed files in working tree".into(),
                text: referenced.count.to_string(),
                json: Some(Value::from(referenced.count)),
            });
        }
        if slow("size of annexed files in working tree") {
            stats.push(self.simple(
                "size of annexed files in working tree",
                self.size_keys(&referenced),
            ));
        }
        let sizes_wanted =
            slow("combined annex size of all repositories") || slow("annex sizes of repositories");
        let sizes = if sizes_wanted {
            self.stats.repository_sizes()?
        } else {
            BTreeMap::new()
        };
        if slow("combined annex size of all repositories") {
            let total: u128 = sizes.values().sum();
            stats.push(self.simple(
                "combined annex size of all repositories",
                self.size(false, total),
            ));
        }
        if slow("annex sizes of repositories") {
            let (text, json) = self.sizes_list(&sizes);
            stats.push(Stat {
                name: "annex sizes of repositories".into(),
                text: if text.is_empty() { String::new() } else { text },
                json: Some(json),
            });
        }
        if slow("backend usage") {
            stats.push(self.backend_usage(&referenced));
        }
        if slow("bloom filter size") {
            stats.push(self.bloom(&present));
        }
        Ok(stats)
    }

    fn stale(&self, name: &str, size: u128) -> Stat {
        let v = self.size(false, size);
        Stat {
            name: name.to_owned(),
            text: format!("{v} (clean up with git-annex unused)"),
            json: Some(Value::String(v)),
        }
    }

    fn backend_usage(&self, d: &KeyStats) -> Stat {
        let mut text = String::new();
        let mut m = serde_json::Map::new();
        for (b, n) in &d.backends {
            text.push_str(&format!("\n\t{b}: {n}"));
            m.insert(b.clone(), Value::from(*n));
        }
        Stat {
            name: "backend usage".into(),
            text,
            json: Some(Value::Object(m)),
        }
    }

    /// `annex sizes of repositories` (or `repositories containing these
    /// files`): largest first, sizes right-aligned.
    fn sizes_list(&self, sizes: &BTreeMap<Uuid, u128>) -> (String, Value) {
        let mut l: Vec<(&Uuid, u128)> = sizes.iter().map(|(u, s)| (u, *s)).collect();
        // Sort by size, largest first; equal sizes stay in UUID order.
        l.sort_by_key(|e| std::cmp::Reverse(e.1));
        let shown: Vec<(Uuid, String)> = l
            .iter()
            .map(|(u, s)| ((*u).clone(), self.size(true, *s)))
            .collect();
        let width = shown
            .iter()
            .map(|(_, s)| s.chars().count())
            .max()
            .unwrap_or(0);
        let us: Vec<(Uuid, Option<(String, String)>)> = shown
            .into_iter()
            .map(|(u, s)| {
                let padded = format!("{s:>width$}: ");
                (u, Some((padded, s)))
            })
            .collect();
        self.repo_list(&us, "size")
    }

    fn disk_space(&self) -> String {
        let reserve = self
            .ctx
            .config
            .get_str("annex.diskreserve")
            .and_then(|v| parse_size(&v))
            .unwrap_or(DEFAULT_DISK_RESERVE);
        match annex_core::transfer::free_space(self.ctx.repo.annex_dir().as_path()) {
            Some(have) => {
                let space = annex_ops::info::DiskSpace::new(u128::from(have), u128::from(reserve));
                format!(
                    "{} (+{} reserved)",
                    self.size(false, space.free),
                    self.size(false, space.reserved)
                )
            }
            None => "unknown".to_owned(),
        }
    }

    /// The bloom filter git-annex's `unused` builds: its size, and how
    /// full the local keys would make it.
    fn bloom(&self, present: &KeyStats) -> Stat {
        let bloom = self.stats.bloom(present.count);
        let size = if self.bytes {
            bloom.bytes.to_string()
        } else {
            rough_size(&COMMITTEE_UNITS, false, bloom.bytes)
        };
        let note = if bloom.too_small() {
            "appears too small for this repository; adjust annex.bloomcapacity".to_owned()
        } else {
            format!("{}% full", show_imprecise(1, bloom.percent_full()))
        };
        self.simple("bloom filter size", format!("{size} ({note})"))
    }

    /// `info ITEM`: a directory, an annexed file, a remote or a UUID.
    /// Returns whether it was one of those.
    fn item(&self, item: &[u8]) -> Result<bool, CommandError> {
        let name = lossy(item);
        let path = Path::new(os_str(item));
        let full = self.ctx.cwd.join(path);
        if self.filter.is_some_and(|f| f.needs_file_name())
            && !full.is_dir()
            && lookup_file(self.ctx, path)?.is_none()
        {
            // As for the overview: git-annex refuses options that look at
            // file names for a remote or a repository; the others apply to
            // its keys.
            return Err(CommandError::failed(
                "File matching options cannot be applied when getting this info.",
            ));
        }
        if full.is_dir() {
            let stats = self.dir(path)?;
            self.print(&format!("info {name}"), item, Some(()), stats)?;
            return Ok(true);
        }
        // A remote, by name or by UUID.
        let remote = self.ctx.config.remote(&name).or_else(|| {
            self.ctx
                .config
                .remotes()
                .iter()
                .find(|r| r.uuid.as_ref().is_some_and(|u| u.as_str() == name))
        });
        if let Some(r) = remote {
            let stats = self.remote(r)?;
            self.print(&format!("info {}", r.name), item, Some(()), stats)?;
            return Ok(true);
        }
        // A remote learned through a gateway.
        let proxied = self.stats.proxied_remotes();
        let remote = proxied
            .iter()
            .find(|r| r.name == name || r.uuid.as_ref().is_some_and(|u| u.as_str() == name));
        if let Some(r) = remote {
            let stats = self.remote(r)?;
            self.print(&format!("info {}", r.name), item, Some(()), stats)?;
            return Ok(true);
        }
        let here = self.ctx.here().clone();
        let as_uuid = annex_core::config::resolve_repository(
            &name,
            Some(&here),
            &self.ctx.config,
            &self
                .repos
                .descriptions
                .iter()
                .map(|(u, d)| (u.clone(), d.as_bytes().to_vec()))
                .collect(),
        );
        match as_uuid {
            Ok(u) => {
                let stats = self.uuid(&u)?;
                self.print(&format!("info {}", u), item, Some(()), stats)?;
                Ok(true)
            }
            Err(annex_core::config::ConfigError::AmbiguousDescription(_)) => {
                self.no_info(item, "found multiple repositories with that description")
            }
            Err(_) => match lookup_file(self.ctx, path)? {
                // A file the matching options leave out shows nothing.
                Some(f) if !crate::matching::file_passes(self.filter, &f.path, &f.key)? => Ok(true),
                Some(f) => {
                    let stats = self.file(&name, &f.key);
                    self.print(&format!("info {name}"), item, Some(()), stats)?;
                    Ok(true)
                }
                None => {
                    eprintln!("fatal: Not a valid object name {name}");
                    self.no_info(
                        item,
                        "not a directory or an annexed file or a treeish or a remote or a uuid",
                    )
                }
            },
        }
    }

    fn no_info(&self, item: &[u8], note: &str) -> Result<bool, CommandError> {
        if self.json {
            let v = serde_json::json!({
                "command": "info",
                "error-messages": [],
                "file": lossy(item),
                "input": [lossy(item)],
                "note": note,
                "success": false,
            });
            crate::action::print_json(&v)?;
        } else {
            let mut line = b"info ".to_vec();
            line.extend(crate::action::quote(item, true));
            line.extend(format!(" ({note}) failed\n").as_bytes());
            crate::output::bytes(&line)?;
        }
        Ok(false)
    }

    fn file(&self, name: &str, key: &Key) -> Vec<Stat> {
        let file = self.stats.file(key);
        let present = file.present;
        vec![
            self.simple("file", name.to_owned()),
            self.simple("size", self.size_keys(&file.size)),
            self.simple("key", lossy(key.as_bytes())),
            Stat {
                name: "present".into(),
                text: present.to_string(),
                json: Some(Value::Bool(present)),
            },
        ]
        .into_iter()
        .filter(|s| self.wanted(&s.name, false))
        .collect()
    }

    fn dir(&self, path: &Path) -> Result<Vec<Stat>, CommandError> {
        let wt = self.ctx.worktree()?;
        let top = wt
            .top()
            .canonicalize()
            .unwrap_or_else(|_| wt.top().to_path_buf());
        let spec = annex_core::worktree::pathspec_from_arg(&top, &self.ctx.cwd, path)?;
        let slow = !self.fast || !self.show.is_empty();
        let d = self.stats.directory(spec, slow)?;
        let (referenced, present) = (d.files, d.present);
        let mut stats = vec![
            self.simple("directory", lossy(&os_bytes(path.as_os_str()))),
            Stat {
                name: "local annex keys".into(),
                text: present.count.to_string(),
                json: Some(Value::from(present.count)),
            },
            self.simple("local annex size", self.size_keys(&present)),
            Stat {
                name: "annexed files in working tree".into(),
                text: referenced.count.to_string(),
                json: Some(Value::from(referenced.count)),
            },
            self.simple(
                "size of annexed files in working tree",
                self.size_keys(&referenced),
            ),
        ];
        if let Some(copies) = d.copies {
            let (variance, repo_data) = (copies.numcopies_variance, copies.repositories);
            let mut text = String::new();
            let mut arr = Vec::new();
            for (v, n) in variance.iter().rev() {
                let shown = if *v >= 0 {
                    format!("+{v}")
                } else {
                    v.to_string()
                };
                text.push_str(&format!("\n\tnumcopies {shown}: {n}"));
                arr.push(serde_json::json!([shown, n]));
            }
            stats.push(Stat {
                name: "numcopies stats".into(),
                text,
                json: Some(Value::Array(arr)),
            });
            let (list, json) = self.sizes_list(&repo_data);
            stats.push(Stat {
                name: "repositories containing these files".into(),
                text: if repo_data.is_empty() {
                    "0".into()
                } else {
                    format!("{}{list}", repo_data.len())
                },
                json: Some(json),
            });
            let total: u128 = repo_data.values().sum();
            stats.push(self.simple(
                "combined size of repositories containing these files",
                self.size(false, total),
            ));
        }
        let slow_names = [
            "numcopies stats",
            "repositories containing these files",
            "combined size of repositories containing these files",
        ];
        Ok(stats
            .into_iter()
            .filter(|s| self.wanted(&s.name, slow_names.contains(&s.name.as_str())))
            .collect())
    }

    fn uuid_stats(&self, u: &Uuid) -> Vec<Stat> {
        vec![
            self.simple("uuid", u.to_string()),
            self.simple("description", self.pretty_uuid(u)),
            self.simple("trust", self.repos.trust(u).name().to_owned()),
        ]
    }

    /// A repository named for display: its description (with `[here]`).
    fn pretty_uuid(&self, u: &Uuid) -> String {
        let n = self.repos.description(u);
        if *u == self.repos.here {
            if n.is_empty() {
                "here".into()
            } else {
                format!("{n} [here]")
            }
        } else {
            n
        }
    }

    /// `remote annex keys` and `remote annex size` of a repository: the
    /// keys the location log says it has.
    fn repo_keys(&self, u: &Uuid) -> Result<Vec<Stat>, CommandError> {
        let d = self.stats.repository_keys(u)?;
        Ok(vec![
            Stat {
                name: "remote annex keys".into(),
                text: d.count.to_string(),
                json: Some(Value::from(d.count)),
            },
            self.simple("remote annex size", self.size_keys(&d)),
        ])
    }

    fn uuid(&self, u: &Uuid) -> Result<Vec<Stat>, CommandError> {
        let mut stats = self.uuid_stats(u);
        if self.wanted("remote annex keys", true) || self.wanted("remote annex size", true) {
            stats.extend(self.repo_keys(u)?);
        }
        Ok(self.filter(stats, &["remote annex keys", "remote annex size"]))
    }

    fn filter(&self, stats: Vec<Stat>, slow: &[&str]) -> Vec<Stat> {
        stats
            .into_iter()
            .filter(|s| self.wanted(&s.name, slow.contains(&s.name.as_str())))
            .collect()
    }

    fn remote(&self, r: &annex_core::config::RemoteConfig) -> Result<Vec<Stat>, CommandError> {
        let remote = self.stats.remote(r)?;
        let mut stats = self.uuid_stats(&remote.uuid);
        stats.push(self.simple("remote", remote.name.clone()));
        stats.push(self.simple("cost", format!("{:?}", remote.cost)));
        stats.push(self.simple("type", "git".into()));
        stats.push(self.simple("available", remote.available.to_string()));
        stats.push(self.simple("repository location", remote.location.clone()));
        let synced = remote.last_synced.map_or_else(|| "never".into(), utc_time);
        stats.push(self.simple("last synced", synced));
        stats.push(self.simple("proxied", remote.proxied.to_string()));
        if remote.cluster {
            stats.push(self.simple("cluster", "true".to_string()));
        }
        if !remote.gateway_to.is_empty() {
            stats.push(self.simple("gateway to cluster", remote.gateway_to.join(" ")));
        }
        if !remote.proxying.is_empty() {
            stats.push(self.simple("proxying", remote.proxying.join(" ")));
        }
        if self.wanted("remote annex keys", true) || self.wanted("remote annex size", true) {
            stats.extend(self.repo_keys(&remote.uuid)?);
        }
        Ok(self.filter(stats, &["remote annex keys", "remote annex size"]))
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` for seconds since the epoch.
fn utc_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values seen from git-annex 10.20261026's `info`.
    #[test]
    fn sizes_as_git_annex_shows_them() {
        assert_eq!(rough_size(&STORAGE_UNITS, false, 18), "18 bytes");
        assert_eq!(rough_size(&STORAGE_UNITS, false, 1), "1 byte");
        assert_eq!(rough_size(&STORAGE_UNITS, true, 6), "6 B");
        assert_eq!(
            rough_size(&STORAGE_UNITS, false, 21_346_246_400),
            "21.35 gigabytes"
        );
        assert_eq!(
            rough_size(&STORAGE_UNITS, false, 100_000_000),
            "100 megabytes"
        );
        assert_eq!(
            rough_size(&COMMITTEE_UNITS, false, 33_554_432),
            "32 mebibytes"
        );
        assert_eq!(show_imprecise(1, 0.0006), "0");
        assert_eq!(parse_size("100 megabytes"), Some(100_000_000));
        assert_eq!(parse_size("1gb"), Some(1_000_000_000));
    }

    #[test]
    fn utc_times() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00 UTC");
        // Values from `date -u -d @SECS`.
        assert_eq!(utc_time(1_795_472_200), "2026-11-23 22:16:40 UTC");
        assert_eq!(utc_time(951_825_600), "2000-02-29 12:00:00 UTC");
    }
}
