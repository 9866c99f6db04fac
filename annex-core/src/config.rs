//! git-annex's settings from git config: `annex.*` values and the remotes.
//!
//! [`AnnexConfig`] is an owned snapshot of a repository's git config
//! (system, global, local, as git resolves it, plus `-c name=value`
//! overrides given by the caller). It answers raw lookups
//! ([`AnnexConfig::get`], [`AnnexConfig::get_bool`]) and knows the git
//! remotes with their git-annex settings ([`RemoteConfig`]). Repository
//! names given on the command line (`here`, a remote name, a description
//! or a UUID) are resolved by [`resolve_repository`] as git-annex does.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use annex_core::config::AnnexConfig;
//! let repo = gix::discover(".")?;
//! let config = AnnexConfig::from_repo(&repo, &[])?;
//! for remote in config.remotes() {
//!     println!("{} cost {}", remote.name, remote.cost());
//! }
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::uuid::Uuid;

/// The cost git-annex gives a remote on this machine.
pub const CHEAP_REMOTE_COST: f64 = 100.0;
/// The cost git-annex gives a git remote reached over the network.
pub const EXPENSIVE_REMOTE_COST: f64 = 200.0;

/// An error reading git config.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A `-c` override is not `name=value` with a dotted name.
    #[error("bad config override {0:?}: expected name=value")]
    BadOverride(String),
    /// A setting has a value git-annex would refuse.
    #[error("bad value {value:?} for git config {name}")]
    BadValue {
        /// The setting's name.
        name: String,
        /// Its value.
        value: String,
    },
    /// No repository matches a name given by the user.
    #[error("there is no available git remote named \"{0}\"")]
    UnknownRepository(String),
    /// Several repositories have the description given.
    #[error(
        "{0}: found multiple repositories with that description (use the uuid instead to disambiguate)"
    )]
    AmbiguousDescription(String),
    /// A remote's `annex-uuid` is missing (never fetched from, or not a git-annex repository).
    #[error("cannot determine uuid for {0} (perhaps you need to run \"git annex sync\"?)")]
    NoRemoteUuid(String),
}

/// The `-c name=value` overrides of this process's command line, set once
/// by the program at its start ([`set_command_line_overrides`]).
static COMMAND_LINE_OVERRIDES: OnceLock<Vec<String>> = OnceLock::new();

/// Checks that `o` is `name=value` with a dotted name, as `-c` takes.
fn check_override(o: &str) -> Result<(), ConfigError> {
    o.split_once('=')
        .filter(|(n, _)| n.contains('.') && !n.starts_with('.') && !n.ends_with('.'))
        .map(drop)
        .ok_or_else(|| ConfigError::BadOverride(o.to_string()))
}

/// Records the `-c name=value` overrides given to this process on its
/// command line: from then on every repository opened through
/// [`with_overrides`] sees them, over `GIT_CONFIG_PARAMETERS` and the
/// config files. Refused (and nothing recorded) when one is not
/// `name=value`; only the first call counts.
pub fn set_command_line_overrides(overrides: Vec<String>) -> Result<(), ConfigError> {
    for o in &overrides {
        check_override(o)?;
    }
    // A second call changes nothing: the process's overrides are fixed
    // once repositories may have been opened with them.
    let _ = COMMAND_LINE_OVERRIDES.set(overrides);
    Ok(())
}

/// Parses git's `GIT_CONFIG_PARAMETERS` (what `git -c name=value` passes
/// to the programs it runs): shell-quoted entries separated by spaces,
/// each `'name=value'` (git before 2.31) or `'name'='value'`, or `'name'`
/// alone (a boolean set true). Entries are given as `name=value`.
pub fn parse_config_parameters(text: &str) -> Result<Vec<String>, ConfigError> {
    let bad = || ConfigError::BadOverride(text.to_string());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    // One shell-quoted word: 'text' pieces joined by \x escapes.
    let word = |i: &mut usize| -> Option<String> {
        let mut w = String::new();
        loop {
            match chars.get(*i) {
                Some('\'') => {
                    *i += 1;
                    loop {
                        match chars.get(*i) {
                            Some('\'') => break,
                            Some(c) => w.push(*c),
                            None => return None,
                        }
                        *i += 1;
                    }
                    *i += 1;
                }
                Some('\\') => {
                    w.push(*chars.get(*i + 1)?);
                    *i += 2;
                }
                _ => return Some(w),
            }
        }
    };
    loop {
        while chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        if i >= chars.len() {
            return Ok(out);
        }
        if chars[i] != '\'' {
            return Err(bad());
        }
        let first = word(&mut i).ok_or_else(bad)?;
        if chars.get(i) == Some(&'=') {
            i += 1;
            let value = word(&mut i).ok_or_else(bad)?;
            out.push(format!("{first}={value}"));
        } else if first.contains('=') {
            out.push(first);
        } else {
            out.push(format!("{first}=true"));
        }
    }
}

/// The entries of git's numbered config variables (`GIT_CONFIG_COUNT`,
/// `GIT_CONFIG_KEY_<n>`, `GIT_CONFIG_VALUE_<n>`: what DataLad and `git
/// --config-env` callers set), read through `var`, as `name=value`. None
/// at all when the count is not a number or an entry is missing, as git
/// refuses to run then.
pub fn parse_config_count(var: impl Fn(&str) -> Option<String>) -> Vec<String> {
    let Some(count) = var("GIT_CONFIG_COUNT") else {
        return Vec::new();
    };
    let Ok(count) = count.trim().parse::<usize>() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for n in 0..count {
        match (
            var(&format!("GIT_CONFIG_KEY_{n}")),
            var(&format!("GIT_CONFIG_VALUE_{n}")),
        ) {
            (Some(key), Some(value)) => out.push(format!("{key}={value}")),
            _ => return Vec::new(),
        }
    }
    out
}

/// The config overrides of this process, weakest first, in git's order:
/// the numbered variables ([`parse_config_count`]), then `git -c`'s
/// (`GIT_CONFIG_PARAMETERS`; an unparsable value is ignored, as git
/// would have refused it before running us), then the command line's.
pub fn process_overrides() -> Vec<String> {
    let mut all = parse_config_count(|name| std::env::var(name).ok());
    all.extend(
        std::env::var("GIT_CONFIG_PARAMETERS")
            .ok()
            .and_then(|t| parse_config_parameters(&t).ok())
            .unwrap_or_default(),
    );
    all.retain(|o| check_override(o).is_ok());
    if let Some(cli) = COMMAND_LINE_OVERRIDES.get() {
        all.extend(cli.iter().cloned());
    }
    all
}

/// `repo` with this process's config overrides ([`process_overrides`])
/// applied to its in-memory config, above every config file: every
/// repository the libraries open goes through here.
pub fn with_overrides(mut repo: gix::Repository) -> gix::Repository {
    let overrides = process_overrides();
    if !overrides.is_empty() {
        let mut snapshot = repo.config_snapshot_mut();
        // Each override was checked to be `name=value` with a dotted
        // name; gix refuses only what git would.
        let _ = snapshot.append_config(
            overrides.iter().map(String::as_str),
            gix::config::Source::Cli,
        );
        // On failure the config stays as it was read.
        let _ = snapshot.commit();
    }
    repo
}

/// A git remote and its git-annex settings (`remote.NAME.*`).
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteConfig {
    /// The remote's name.
    pub name: String,
    /// `remote.NAME.url`, as written.
    pub url: Option<String>,
    /// `remote.NAME.annex-uuid`: the UUID git-annex learned for it.
    pub uuid: Option<Uuid>,
    /// `remote.NAME.annex-cost`.
    pub configured_cost: Option<f64>,
    /// `remote.NAME.annex-ignore`: not used for content.
    pub ignore: bool,
    /// `remote.NAME.annex-readonly`.
    pub readonly: bool,
    /// `remote.NAME.annex-sync` (default true).
    pub sync: bool,
}

impl RemoteConfig {
    /// The remote's URL as a path on this machine, when it is one: an
    /// absolute or relative path, or a `file://` URL. Relative paths are
    /// relative to `base` (the work tree, or the git dir when bare).
    pub fn local_path(&self, base: &Path) -> Option<PathBuf> {
        let url = self.url.as_deref()?;
        let path = if let Some(rest) = url.strip_prefix("file://") {
            PathBuf::from(rest)
        } else if url.contains("://") || is_scp_like(url) {
            return None;
        } else {
            let expanded = match url.strip_prefix("~/") {
                Some(rest) => PathBuf::from(std::env::var_os("HOME")?).join(rest),
                None => PathBuf::from(url),
            };
            if expanded.is_absolute() {
                expanded
            } else {
                base.join(expanded)
            }
        };
        Some(path)
    }

    /// The remote's cost: the configured one, else git-annex's default
    /// (cheap for a path on this machine, expensive otherwise).
    pub fn cost(&self) -> f64 {
        if let Some(c) = self.configured_cost {
            return c;
        }
        match self.url.as_deref() {
            Some(u) if u.starts_with("file://") || !(u.contains("://") || is_scp_like(u)) => {
                CHEAP_REMOTE_COST
            }
            _ => EXPENSIVE_REMOTE_COST,
        }
    }
}

/// The `annex.uuid` of the git repository at `path` (a work tree, or a
/// git dir as for a bare repository), read from its own config file; none
/// when it is not a git-annex repository or cannot be read.
pub fn local_repo_uuid(path: &Path) -> Option<Uuid> {
    let candidates = [path.join(".git").join("config"), path.join("config")];
    for config in candidates {
        if !config.is_file() {
            continue;
        }
        let file =
            gix::config::File::from_path_no_includes(config, gix::config::Source::Local).ok()?;
        let v = file.string("annex.uuid")?;
        return Uuid::parse(&v).ok();
    }
    None
}

/// `host:path` (git's scp-like syntax): a colon before any slash.
fn is_scp_like(url: &str) -> bool {
    match (url.find(':'), url.find('/')) {
        (Some(c), Some(s)) => c < s,
        (Some(_), None) => true,
        _ => false,
    }
}

/// An owned snapshot of a repository's git config, with overrides.
#[derive(Debug, Clone, Default)]
pub struct AnnexConfig {
    /// Lower-cased `section[.subsection].name` → values in order (last wins).
    values: BTreeMap<String, Vec<Vec<u8>>>,
    remotes: Vec<RemoteConfig>,
}

/// Normalizes a config name as git does: section and key case-insensitive,
/// subsection kept.
fn normalize(name: &str) -> String {
    match (name.find('.'), name.rfind('.')) {
        (Some(first), Some(last)) if first != last => format!(
            "{}{}{}",
            name[..first].to_ascii_lowercase(),
            &name[first..last],
            name[last..].to_ascii_lowercase()
        ),
        _ => name.to_ascii_lowercase(),
    }
}

impl AnnexConfig {
    /// Reads the resolved git config of `repo`, then applies `overrides`
    /// (`name=value`, as given with `-c`; a later one wins).
    pub fn from_repo(repo: &gix::Repository, overrides: &[String]) -> Result<Self, ConfigError> {
        let mut values: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
        let snapshot = repo.config_snapshot();
        let file = snapshot.plumbing();
        for section in file.sections() {
            let header = section.header();
            let prefix = match header.subsection_name() {
                Some(sub) => format!("{}.{}", header.name().to_string().to_ascii_lowercase(), sub),
                None => header.name().to_string().to_ascii_lowercase(),
            };
            let body = section.body();
            for key in body.value_names() {
                let name = format!("{prefix}.{}", key.to_string().to_ascii_lowercase());
                if values.contains_key(&name) {
                    continue;
                }
                // All values of this name across the body; sections repeat,
                // so gather through the file to keep git's order.
                let all: Vec<Vec<u8>> = file
                    .strings(name.as_str())
                    .unwrap_or_default()
                    .into_iter()
                    .map(|v| v.to_vec())
                    .collect();
                values.insert(name, all);
            }
        }
        for o in overrides {
            let (name, value) = o
                .split_once('=')
                .filter(|(n, _)| n.contains('.') && !n.starts_with('.') && !n.ends_with('.'))
                .ok_or_else(|| ConfigError::BadOverride(o.clone()))?;
            values
                .entry(normalize(name))
                .or_default()
                .push(value.as_bytes().to_vec());
        }
        let mut config = AnnexConfig {
            values,
            remotes: Vec::new(),
        };
        config.remotes = config.read_remotes()?;
        // A git remote on this machine whose UUID was never recorded is
        // read from its own config, as git-annex learns it (and records
        // it: [`AnnexConfig::learned_uuids`]).
        let base = repo.workdir().unwrap_or(repo.git_dir()).to_path_buf();
        for r in &mut config.remotes {
            if r.uuid.is_none() && !r.ignore {
                r.uuid = r.local_path(&base).and_then(|p| local_repo_uuid(&p));
            }
        }
        Ok(config)
    }

    /// The remotes whose UUID was learned from their repository on this
    /// machine rather than read from `remote.NAME.annex-uuid`: what
    /// git-annex records in git config when it first meets them.
    pub fn learned_uuids(&self) -> Vec<(&str, &Uuid)> {
        self.remotes
            .iter()
            .filter(|r| {
                self.get(&format!("remote.{}.annex-uuid", r.name))
                    .is_none_or(<[u8]>::is_empty)
            })
            .filter_map(|r| Some((r.name.as_str(), r.uuid.as_ref()?)))
            .collect()
    }

    fn read_remotes(&self) -> Result<Vec<RemoteConfig>, ConfigError> {
        let mut names: Vec<String> = Vec::new();
        for name in self.values.keys() {
            if let Some(rest) = name.strip_prefix("remote.")
                && let Some(dot) = rest.rfind('.')
            {
                let remote = &rest[..dot];
                let key = &rest[dot + 1..];
                if key == "url" && !names.iter().any(|n| n == remote) {
                    names.push(remote.to_string());
                }
            }
        }
        names.sort_by(|a, b| list_order(a, b));
        let mut remotes = Vec::new();
        for name in names {
            let field = |k: &str| self.get_str(&format!("remote.{name}.{k}"));
            let uuid = match field("annex-uuid") {
                Some(v) if !v.is_empty() => {
                    Some(
                        Uuid::parse(v.as_bytes()).map_err(|_| ConfigError::BadValue {
                            name: format!("remote.{name}.annex-uuid"),
                            value: v.clone(),
                        })?,
                    )
                }
                _ => None,
            };
            let configured_cost = match field("annex-cost") {
                Some(v) => Some(v.trim().parse::<f64>().map_err(|_| ConfigError::BadValue {
                    name: format!("remote.{name}.annex-cost"),
                    value: v.clone(),
                })?),
                None => None,
            };
            remotes.push(RemoteConfig {
                url: field("url"),
                uuid,
                configured_cost,
                ignore: self
                    .get_bool(&format!("remote.{name}.annex-ignore"))
                    .unwrap_or(false),
                readonly: self
                    .get_bool(&format!("remote.{name}.annex-readonly"))
                    .unwrap_or(false),
                sync: self
                    .get_bool(&format!("remote.{name}.annex-sync"))
                    .unwrap_or(true),
                name,
            });
        }
        Ok(remotes)
    }

    /// A copy of this configuration with `name` set to `value` (as a `-c`
    /// override would set it), for a remote opened with one setting
    /// changed (`testremote`'s unreachable remote).
    pub fn with_value(&self, name: &str, value: &str) -> AnnexConfig {
        let mut c = self.clone();
        c.values
            .entry(normalize(name))
            .or_default()
            .push(value.as_bytes().to_vec());
        c
    }

    /// The last value of `name` (`section[.subsection].key`), if set.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.values
            .get(&normalize(name))
            .and_then(|v| v.last())
            .map(Vec::as_slice)
    }

    /// [`get`](Self::get) as a string (lossy for bytes that are not UTF-8).
    pub fn get_str(&self, name: &str) -> Option<String> {
        self.get(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// Every value of `name`, in order.
    pub fn get_all(&self, name: &str) -> &[Vec<u8>] {
        self.values
            .get(&normalize(name))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// A boolean setting as git reads one (`true`/`yes`/`on`/`1`, `false`/
    /// `no`/`off`/`0`/empty); `None` when unset or not a boolean.
    pub fn get_bool(&self, name: &str) -> Option<bool> {
        let v = self.values.get(&normalize(name))?.last()?;
        parse_bool(v)
    }

    /// A number setting; `None` when unset or not a number.
    pub fn get_int(&self, name: &str) -> Option<i64> {
        let v = self.get_str(name)?;
        v.trim().parse().ok()
    }

    /// Every setting, by normalized name (lower-case section and key,
    /// subsection as written) in name order, with its values in order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &[Vec<u8>])> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The git remotes in git-annex's remote list order (see
    /// [`list_order`]; by name but for names that extend another).
    pub fn remotes(&self) -> &[RemoteConfig] {
        &self.remotes
    }

    /// The git remotes sorted by cost, cheapest first, remotes of equal
    /// cost in list order ([`AnnexConfig::remotes`]): git-annex's stable
    /// sort by cost of its remote list, the order it tries the remotes
    /// that have a key (`keyPossibilities`, `remoteLocations`).
    pub fn remotes_by_cost(&self) -> Vec<&RemoteConfig> {
        let mut v: Vec<&RemoteConfig> = self.remotes.iter().collect();
        v.sort_by(|a, b| a.cost().total_cmp(&b.cost()));
        v
    }

    /// The git remotes as git-annex's `Remote.byCost` groups them (the
    /// order `sync` goes through them): cheapest first, remotes of equal
    /// cost in reverse list order (its cost map gathers them by
    /// prepending).
    pub fn remotes_by_cost_groups(&self) -> Vec<&RemoteConfig> {
        let mut v: Vec<&RemoteConfig> = self.remotes.iter().rev().collect();
        v.sort_by(|a, b| a.cost().total_cmp(&b.cost()));
        v
    }

    /// The remote named `name`.
    pub fn remote(&self, name: &str) -> Option<&RemoteConfig> {
        self.remotes.iter().find(|r| r.name == name)
    }

    /// `annex.uuid`.
    pub fn uuid(&self) -> Option<Uuid> {
        self.get_str("annex.uuid")
            .and_then(|v| Uuid::parse(v.as_bytes()).ok())
    }
}

/// The order of git-annex's remote list between two git remotes named `a`
/// and `b`: the order of their `remote.NAME.url` config keys, byte by byte
/// (git-annex enumerates git remotes from its config map). This is the
/// names' order except where one name extends the other with a byte
/// below `.` (`a-b` comes before `a`).
pub fn list_order(a: &str, b: &str) -> std::cmp::Ordering {
    let key = |n: &str| [n.as_bytes(), b".url"].concat();
    key(a).cmp(&key(b))
}

/// git's boolean values.
pub fn parse_bool(v: &[u8]) -> Option<bool> {
    let s = std::str::from_utf8(v).ok()?.trim().to_ascii_lowercase();
    match s.as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" | "" => Some(false),
        _ => s.parse::<i64>().ok().map(|n| n != 0),
    }
}

/// Resolves a repository named on the command line to its UUID, as
/// git-annex's `nameToUUID` does, in its order: `here` or `.` is this
/// repository; then a remote by name (a git remote without a known UUID
/// is an error) or by its UUID; then a description in `uuid.log` (several
/// repositories with it are an error); then a UUID that `uuid.log` knows.
///
/// Remotes are the git remotes and every other `remote.NAME` section with
/// an `annex-uuid` (special remotes).
pub fn resolve_repository(
    name: &str,
    here: Option<&Uuid>,
    config: &AnnexConfig,
    descriptions: &BTreeMap<Uuid, Vec<u8>>,
) -> Result<Uuid, ConfigError> {
    if name == "here" || name == "." {
        return here
            .cloned()
            .ok_or_else(|| ConfigError::UnknownRepository(name.to_string()));
    }
    if let Some(remote) = config.remote(name) {
        return remote
            .uuid
            .clone()
            .ok_or_else(|| ConfigError::NoRemoteUuid(name.to_string()));
    }
    let remotes = remote_uuids(config);
    if let Some((_, u)) = remotes.iter().find(|(n, _)| n == name) {
        return Ok(u.clone());
    }
    if let Some((_, u)) = remotes.iter().find(|(_, u)| u.as_str() == name) {
        return Ok(u.clone());
    }
    let by_desc: Vec<&Uuid> = descriptions
        .iter()
        .filter(|(_, d)| d.as_slice() == name.as_bytes())
        .map(|(u, _)| u)
        .collect();
    match by_desc.as_slice() {
        [one] => return Ok((*one).clone()),
        [] => {}
        _ => return Err(ConfigError::AmbiguousDescription(name.to_string())),
    }
    if let Ok(u) = Uuid::parse(name.as_bytes())
        && descriptions.contains_key(&u)
    {
        return Ok(u);
    }
    Err(ConfigError::UnknownRepository(name.to_string()))
}

/// Every `remote.NAME.annex-uuid` that is a UUID, with the remote's name,
/// in list order.
fn remote_uuids(config: &AnnexConfig) -> Vec<(String, Uuid)> {
    let mut out: Vec<(String, Uuid)> = config
        .entries()
        .filter_map(|(k, values)| {
            let name = k.strip_prefix("remote.")?.strip_suffix(".annex-uuid")?;
            let u = Uuid::parse(values.last()?).ok()?;
            Some((name.to_string(), u))
        })
        .collect();
    out.sort_by(|a, b| list_order(&a.0, &b.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalize_like_git() {
        assert_eq!(normalize("Remote.Origin.URL"), "remote.Origin.url");
        assert_eq!(normalize("ANNEX.uuid"), "annex.uuid");
    }

    #[test]
    fn git_config_count_variables_are_read_in_order_or_not_at_all() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            parse_config_count(env(&[
                ("GIT_CONFIG_COUNT", "2"),
                ("GIT_CONFIG_KEY_0", "annex.tune.objecthash1"),
                ("GIT_CONFIG_VALUE_0", "true"),
                ("GIT_CONFIG_KEY_1", "annex.largefiles"),
                ("GIT_CONFIG_VALUE_1", "a=b"),
            ])),
            vec!["annex.tune.objecthash1=true", "annex.largefiles=a=b"]
        );
        assert!(parse_config_count(env(&[])).is_empty());
        assert!(parse_config_count(env(&[("GIT_CONFIG_COUNT", "x")])).is_empty());
        // An entry missing: git refuses to run, nothing is taken.
        assert!(
            parse_config_count(env(&[
                ("GIT_CONFIG_COUNT", "1"),
                ("GIT_CONFIG_KEY_0", "annex.backend"),
            ]))
            .is_empty()
        );
    }

    #[test]
    fn git_config_parameters_are_parsed_in_both_of_gits_formats() {
        let p = |t: &str| parse_config_parameters(t).expect("parses");
        assert_eq!(p(""), Vec::<String>::new());
        assert_eq!(p("'annex.backend'='MD5'"), vec!["annex.backend=MD5"]);
        assert_eq!(p("'annex.backend=MD5'"), vec!["annex.backend=MD5"]);
        assert_eq!(
            p("'a.b'='x y' 'c.d=e'  'f.g'"),
            vec!["a.b=x y", "c.d=e", "f.g=true"]
        );
        // git's quoting of a quote and of `!`.
        assert_eq!(p("'a.b'='it'\\''s'\\!''"), vec!["a.b=it's!"]);
        assert!(parse_config_parameters("'a.b").is_err());
        assert!(parse_config_parameters("a.b=c").is_err());
    }

    #[test]
    fn remote_list_order_is_the_url_keys_order() {
        use std::cmp::Ordering;
        assert_eq!(list_order("a", "b"), Ordering::Less);
        assert_eq!(list_order("a", "a-b"), Ordering::Greater);
        assert_eq!(list_order("a", "ab"), Ordering::Less);
        assert_eq!(list_order("a", "a"), Ordering::Equal);
    }

    #[test]
    fn repositories_resolve_in_git_annex_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let repo = gix::init(dir.path()).expect("git init");
        let u = |n: u8| {
            Uuid::parse(format!("{n:08}-0000-0000-0000-000000000000").as_bytes()).expect("uuid")
        };
        let (here, origin, special, other, twin1, twin2) = (u(1), u(2), u(3), u(4), u(5), u(6));
        let config = AnnexConfig::from_repo(
            &repo,
            &[
                "remote.origin.url=../a".into(),
                format!("remote.origin.annex-uuid={origin}"),
                "remote.nouuid.url=../x".into(),
                format!("remote.sp.annex-uuid={special}"),
            ],
        )
        .expect("config");
        let descriptions: BTreeMap<Uuid, Vec<u8>> = [
            (here.clone(), b"mine".to_vec()),
            (origin.clone(), b"sp".to_vec()),
            (other.clone(), b"origin".to_vec()),
            (twin1.clone(), b"twin".to_vec()),
            (twin2, b"twin".to_vec()),
        ]
        .into_iter()
        .collect();
        let r = |n: &str| resolve_repository(n, Some(&here), &config, &descriptions);
        assert_eq!(r("here").ok(), Some(here.clone()));
        assert_eq!(r(".").ok(), Some(here.clone()));
        // A remote's name before a description.
        assert_eq!(r("origin").ok(), Some(origin.clone()));
        assert_eq!(r("sp").ok(), Some(special.clone()));
        // A remote's UUID, even unknown to uuid.log.
        assert_eq!(r(special.as_str()).ok(), Some(special));
        assert_eq!(r("mine").ok(), Some(here.clone()));
        assert_eq!(r(other.as_str()).ok(), Some(other));
        assert!(matches!(r("nouuid"), Err(ConfigError::NoRemoteUuid(_))));
        assert!(matches!(
            r("twin"),
            Err(ConfigError::AmbiguousDescription(_))
        ));
        assert!(matches!(
            r("nosuch"),
            Err(ConfigError::UnknownRepository(_))
        ));
        assert_eq!(r(twin1.as_str()).ok(), Some(twin1));
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool(b"Yes"), Some(true));
        assert_eq!(parse_bool(b""), Some(false));
        assert_eq!(parse_bool(b"2"), Some(true));
        assert_eq!(parse_bool(b"maybe"), None);
    }

    #[test]
    fn scp_like_urls_are_not_local() {
        let r = |url: &str| RemoteConfig {
            name: "r".into(),
            url: Some(url.into()),
            uuid: None,
            configured_cost: None,
            ignore: false,
            readonly: false,
            sync: true,
        };
        let base = Path::new("/base");
        assert_eq!(
            r("../x").local_path(base),
            Some(PathBuf::from("/base/../x"))
        );
        assert_eq!(r("/abs").local_path(base), Some(PathBuf::from("/abs")));
        assert_eq!(
            r("file:///abs").local_path(base),
            Some(PathBuf::from("/abs"))
        );
        assert_eq!(r("host:path").local_path(base), None);
        assert_eq!(r("ssh://h/p").local_path(base), None);
        assert_eq!(r("../x").cost(), CHEAP_REMOTE_COST);
        assert_eq!(r("host:p").cost(), EXPENSIVE_REMOTE_COST);
    }
}
