//! A repository handle: `init` and `open`.
//!
//! [`Repo::open`] finds the git repository at or above a path (bare or
//! not) and reads its git-annex configuration (`annex.uuid`,
//! `annex.version`). [`Repo::init`] does what `git annex init` does to a
//! git repository for repository version 10: a UUID in `annex.uuid`,
//! `annex.version = 10`, the `git-annex` branch, the repository's entry in
//! `uuid.log`, and for non-bare repositories the `filter.annex.*` config,
//! `* filter=annex` in `.git/info/attributes` and git-annex's hooks.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use annex_core::repo::Repo;
//! let repo = Repo::init(std::path::Path::new("/tmp/r"), Some("laptop"))?;
//! println!("{}", repo.uuid().map(|u| u.to_string()).unwrap_or_default());
//! # Ok(()) }
//! ```

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::branch::{Branch, BranchError, user_name};
use crate::state::State;
use crate::uuid::Uuid;

/// The repository version `init` sets.
pub const VERSION: u32 = 10;

/// An error opening or initializing a repository, naming the path at fault.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// No git repository at or above the path.
    #[error("{path}: not a git repository: {source}")]
    NotAGitRepo {
        /// The path given.
        path: PathBuf,
        /// Why gix did not find one.
        #[source]
        source: gix::Error,
    },
    /// `annex.uuid` is set but is not a UUID.
    #[error("{path}: bad annex.uuid {value:?}")]
    BadUuid {
        /// The git config file.
        path: PathBuf,
        /// The value.
        value: String,
    },
    /// The git config could not be read or written.
    #[error("{path}: git config: {detail}")]
    Config {
        /// The git config file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// An I/O error on a file of the repository.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// An error of the `git-annex` branch.
    #[error(transparent)]
    Branch(#[from] BranchError),
    /// `annex.version` names a version this program cannot use (newer
    /// than it knows, or negative): git-annex's refusal.
    #[error("Repository {} is at unsupported version {version}. Upgrade git-annex.", .path.display())]
    UnsupportedVersion {
        /// The top of the work tree (the git dir when bare).
        path: PathBuf,
        /// The version, read as git-annex reads it.
        version: i64,
    },
    /// `annex.version` names a version too old to use without `git annex
    /// upgrade` (0 to 2).
    #[error("Repository {} is at unsupported version {version}. Upgrade this repository: git-annex upgrade", .path.display())]
    UpgradeNeeded {
        /// The top of the work tree (the git dir when bare).
        path: PathBuf,
        /// The version.
        version: i64,
    },
    /// `annex.uuid` is set but `annex.version` is not (or is no number).
    #[error(
        "This repository has annex.uuid set, but annex.version is not set. Perhaps that git config was lost. Cannot use the repository in this state; set back annex.version to fix this."
    )]
    VersionNotSet,
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> RepoError + 'a {
    move |source| RepoError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// An opened repository.
#[derive(Debug)]
pub struct Repo {
    git_dir: PathBuf,
    work_tree: Option<PathBuf>,
    uuid: Option<Uuid>,
    version: Option<u32>,
    version_text: Option<Vec<u8>>,
}

fn discover(path: &Path) -> Result<gix::Repository, RepoError> {
    gix::discover(path)
        .map(crate::config::with_overrides)
        .map_err(|e| RepoError::NotAGitRepo {
            path: path.to_path_buf(),
            source: e,
        })
}

impl Repo {
    /// Opens the git repository at or above `path`.
    pub fn open(path: &Path) -> Result<Repo, RepoError> {
        let repo = discover(path)?;
        Repo::from_gix(&repo)
    }

    fn from_gix(repo: &gix::Repository) -> Result<Repo, RepoError> {
        let git_dir = repo.git_dir().to_path_buf();
        let config_path = git_dir.join("config");
        let snap = repo.config_snapshot();
        // A shared repository: what is created under .git/annex gets the
        // group's permissions, as git-annex gives them (crate::perms).
        crate::perms::share_new_files(crate::objects::SharedRepository::parse(
            snap.string("core.sharedRepository")
                .as_deref()
                .map(|s| &s[..]),
        ));
        let uuid = match snap.string("annex.uuid") {
            Some(v) if !v.is_empty() => Some(Uuid::parse(&v).map_err(|_| RepoError::BadUuid {
                path: config_path.clone(),
                value: v.to_string(),
            })?),
            _ => None,
        };
        let version = snap.string("annex.version").and_then(|v| {
            std::str::from_utf8(&v)
                .ok()
                .and_then(|s| s.trim().parse().ok())
        });
        Ok(Repo {
            work_tree: repo.workdir().map(Path::to_path_buf),
            git_dir,
            uuid,
            version,
            version_text: snap.string("annex.version").map(|v| v.to_vec()),
        })
    }

    /// Initializes git-annex in the git repository at or above `path`, as
    /// `git annex init [DESCRIPTION]` does; an initialized repository keeps
    /// its UUID (and its description, unless one is given).
    pub fn init(path: &Path, description: Option<&str>) -> Result<Repo, RepoError> {
        Repo::init_with(path, description, None, VERSION)
    }

    /// [`Repo::init`] making a repository of an older version git-annex
    /// still makes (`init --version 8` or `9`): version 8 has no
    /// `filter.annex.process`. A repository initialized already keeps its
    /// version.
    pub fn init_version(
        path: &Path,
        description: Option<&str>,
        version: u32,
    ) -> Result<Repo, RepoError> {
        Repo::init_with(path, description, None, version)
    }

    /// Initializes git-annex with a given UUID, as `git annex reinit`
    /// does: no description is recorded for it.
    pub fn reinit(path: &Path, uuid: &Uuid) -> Result<Repo, RepoError> {
        Repo::init_with(path, None, Some(uuid), VERSION)
    }

    /// [`Repo::init`], or with `reuse`, [`Repo::reinit`].
    fn init_with(
        path: &Path,
        description: Option<&str>,
        reuse: Option<&Uuid>,
        version: u32,
    ) -> Result<Repo, RepoError> {
        let repo = discover(path)?;
        let git_dir = repo.git_dir().to_path_buf();
        let bare = repo.workdir().is_none();
        let config_path = git_dir.join("config");
        let existing = Repo::from_gix(&repo)?;

        let annex_dir = git_dir.join("annex");
        fs::create_dir_all(&annex_dir).map_err(io_err("create", &annex_dir))?;

        let mut settings: Vec<(&str, Option<&str>, &str, String)> = Vec::new();
        if repo.committer().is_none() || repo.author().is_none() {
            // As git-annex does when git cannot commit: a dummy identity.
            let name = user_name();
            settings.push(("user", None, "name", name.clone()));
            settings.push(("user", None, "email", name));
        }
        let uuid = reuse
            .or(existing.uuid.as_ref())
            .cloned()
            .unwrap_or_else(Uuid::new_random);
        settings.push(("annex", None, "uuid", uuid.to_string()));
        if existing.version.is_none() {
            settings.push(("annex", None, "version", version.to_string()));
        }
        // Version 9 brought the long-running filter process.
        let filter_process = existing.version.unwrap_or(version) >= 9;
        if !bare {
            settings.push((
                "filter",
                Some("annex"),
                "smudge",
                "git-annex smudge -- %f".into(),
            ));
            settings.push((
                "filter",
                Some("annex"),
                "clean",
                "git-annex smudge --clean -- %f".into(),
            ));
            if filter_process {
                settings.push((
                    "filter",
                    Some("annex"),
                    "process",
                    "git-annex filter-process".into(),
                ));
            }
        }
        // `annex.tune.*` given for this run (`git annex -c
        // annex.tune.objecthashlower=true init`) is recorded: those
        // settings can only be chosen when a repository is made.
        let tunes: Vec<(String, String)> = crate::config::process_overrides()
            .into_iter()
            .filter_map(|o| {
                let (name, value) = o.split_once('=')?;
                let key = name.strip_prefix("annex.tune.")?;
                (!key.is_empty() && !key.contains('.'))
                    .then(|| (key.to_ascii_lowercase(), value.to_string()))
            })
            .collect();
        // The UUIDs of git remotes on this machine, learned and recorded
        // as git-annex's init does.
        let learned: Vec<(String, String)> = crate::config::AnnexConfig::from_repo(&repo, &[])
            .map(|c| {
                c.learned_uuids()
                    .into_iter()
                    .map(|(n, u)| (n.to_string(), u.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        for (name, uuid) in &learned {
            settings.push(("remote", Some(name), "annex-uuid", uuid.clone()));
        }
        if existing.version.is_none() {
            for (key, value) in &tunes {
                settings.push(("annex", Some("tune"), key, value.clone()));
            }
        }
        set_config(&config_path, &settings)?;

        // Reopen so the branch sees the identity just configured.
        let repo = discover(path)?;
        let branch = Branch::from_repo(repo);
        branch.create()?;

        if !bare {
            write_attributes(&git_dir, branch.repo().workdir())?;
            for (hook, body) in NON_BARE_HOOKS {
                write_hook(&git_dir, hook, body)?;
            }
        }
        write_hook(&git_dir, "pre-push", PRE_PUSH_HOOK)?;
        write_sentinal(&annex_dir)?;

        let state = State::new(branch);
        let has_entry = state.descriptions()?.contains_key(&uuid);
        if reuse.is_none() && (description.is_some() || !has_entry) {
            let desc = match description {
                Some(d) => d.to_owned(),
                None => default_description(&existing_repo_path(state.branch(), bare)),
            };
            state.set_description(&uuid, desc.as_bytes())?;
        }
        state.commit()?;
        let repo = discover(path)?;
        Repo::from_gix(&repo)
    }

    /// The repository's UUID (`annex.uuid`), when initialized.
    pub fn uuid(&self) -> Option<&Uuid> {
        self.uuid.as_ref()
    }

    /// The repository version (`annex.version`), when set.
    pub fn version(&self) -> Option<u32> {
        self.version
    }

    /// Refuses a repository whose `annex.version` git-annex refuses, with
    /// its message: a version newer than 10 (or negative), one older than
    /// 3 (which needs `git annex upgrade`), or none (or no number) while
    /// `annex.uuid` is set. Versions 3 to 9, which git-annex upgrades
    /// automatically, are used as they are. The version is read as
    /// git-annex reads a number (leading white space allowed, `010` is 10,
    /// a value past 64 bits wraps). An uninitialized repository passes.
    pub fn check_version(&self) -> Result<(), RepoError> {
        if self.uuid.is_none() {
            return Ok(());
        }
        let version = self
            .version_text
            .as_deref()
            .and_then(crate::preferred::text::readish_int)
            .ok_or(RepoError::VersionNotSet)?;
        let path = || {
            self.work_tree
                .clone()
                .unwrap_or_else(|| self.git_dir.clone())
        };
        match version {
            3..=10 => Ok(()),
            0..=2 => Err(RepoError::UpgradeNeeded {
                path: path(),
                version,
            }),
            _ => Err(RepoError::UnsupportedVersion {
                path: path(),
                version,
            }),
        }
    }

    /// What upgrading from repository version `from` to the next changes
    /// in the repository's files, as git-annex's upgrade of that step
    /// (the version itself and the upgrade log are the caller's):
    /// 5 to 6 the smudge filter configured (`filter.annex.smudge` and
    /// `clean`, `* filter=annex` in `.git/info/attributes`) and the inode
    /// sentinal made; 6 to 7 the `post-checkout` and `post-merge` hooks;
    /// 7 to 8 the old databases removed and the `.* !filter` line taken out
    /// of `.git/info/attributes`; 8 to 9 `filter.annex.process`. Versions 3
    /// and 4 need nothing; 9 to 10 changes no file here.
    pub fn upgrade_files(&self, from: u32) -> Result<(), RepoError> {
        let config_path = self.git_dir.join("config");
        let annex_dir = self.annex_dir();
        match from {
            5 if !self.is_bare() => {
                let _ = std::process::Command::new("git")
                    .arg("--git-dir")
                    .arg(&self.git_dir)
                    .args(["status", "--porcelain", "--ignore-submodules"])
                    .current_dir(self.work_tree.as_deref().unwrap_or(&self.git_dir))
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
                set_config(
                    &config_path,
                    &[
                        (
                            "filter",
                            Some("annex"),
                            "smudge",
                            "git-annex smudge -- %f".into(),
                        ),
                        (
                            "filter",
                            Some("annex"),
                            "clean",
                            "git-annex smudge --clean -- %f".into(),
                        ),
                    ],
                )?;
                write_attributes(&self.git_dir, self.work_tree.as_deref())?;
                fs::create_dir_all(&annex_dir).map_err(io_err("create", &annex_dir))?;
                write_sentinal(&annex_dir)
            }
            6 if !self.is_bare() => {
                for (hook, body) in NON_BARE_HOOKS {
                    if hook == "post-checkout" || hook == "post-merge" {
                        write_hook(&self.git_dir, hook, body)?;
                    }
                }
                Ok(())
            }
            7 => {
                for dir in ["keys", "cids", "export"] {
                    let p = annex_dir.join(dir);
                    if p.is_dir() {
                        fs::remove_dir_all(&p).map_err(io_err("remove", &p))?;
                    }
                }
                for file in ["keys.lck", "keys.cache", "cids.lck"] {
                    let p = annex_dir.join(file);
                    match fs::remove_file(&p) {
                        Err(e) if e.kind() != io::ErrorKind::NotFound => {
                            return Err(io_err("remove", &p)(e));
                        }
                        _ => {}
                    }
                }
                let attrs = self.git_dir.join("info").join("attributes");
                if let Ok(old) = fs::read(&attrs) {
                    let text = String::from_utf8_lossy(&old);
                    let lines: Vec<&str> = text.lines().collect();
                    let mut out: Vec<&str> = Vec::new();
                    let mut i = 0;
                    while i < lines.len() {
                        out.push(lines[i]);
                        if lines[i] == "* filter=annex" && lines.get(i + 1) == Some(&".* !filter") {
                            i += 1;
                        }
                        i += 1;
                    }
                    if out.len() != lines.len() {
                        let mut new = out.join("\n");
                        new.push('\n');
                        crate::branch::write_atomic(&attrs, new.as_bytes()).map_err(|e| {
                            RepoError::Config {
                                path: attrs.clone(),
                                detail: e.to_string(),
                            }
                        })?;
                    }
                }
                Ok(())
            }
            8 => set_config(
                &config_path,
                &[(
                    "filter",
                    Some("annex"),
                    "process",
                    "git-annex filter-process".into(),
                )],
            ),
            _ => Ok(()),
        }
    }

    /// Sets `annex.version` in the repository's git config.
    pub fn set_version(&mut self, version: u32) -> Result<(), RepoError> {
        set_config(
            &self.git_dir.join("config"),
            &[("annex", None, "version", version.to_string())],
        )?;
        self.version = Some(version);
        self.version_text = Some(version.to_string().into_bytes());
        Ok(())
    }

    /// The git directory (`.git`, or the repository itself when bare).
    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    /// The git-annex directory, `.git/annex` (where the journal, the
    /// branch's index and the object store live).
    pub fn annex_dir(&self) -> PathBuf {
        self.git_dir.join("annex")
    }

    /// The work tree, `None` for a bare repository.
    pub fn work_tree(&self) -> Option<&Path> {
        self.work_tree.as_deref()
    }

    /// Whether the repository is bare.
    pub fn is_bare(&self) -> bool {
        self.work_tree.is_none()
    }

    /// The `git-annex` branch (and journal) of this repository.
    pub fn branch(&self) -> Result<Branch, RepoError> {
        Ok(Branch::open(&self.git_dir)?)
    }
}

fn existing_repo_path(branch: &Branch, bare: bool) -> PathBuf {
    let r = branch.repo();
    let p = if bare {
        r.git_dir().to_path_buf()
    } else {
        r.workdir().unwrap_or(r.git_dir()).to_path_buf()
    };
    fs::canonicalize(&p).unwrap_or(p)
}

/// The default description of a repository: `user@host:path`, the path
/// relative to the home directory as `~/...` when under it.
pub fn default_description(repo_path: &Path) -> String {
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    let mut path = repo_path.display().to_string();
    if let Some(home) = std::env::var_os("HOME") {
        let home = PathBuf::from(home);
        let home = fs::canonicalize(&home).unwrap_or(home);
        if let Ok(rel) = repo_path.strip_prefix(&home) {
            path = format!("~/{}", rel.display());
        }
    }
    let user = user_name();
    let at = if host.is_empty() { "" } else { "@" };
    format!("{user}{at}{host}:{path}")
}

/// Sets values in a git config file, keeping the rest of it as it is,
/// and writes it back atomically.
fn set_config(
    path: &Path,
    settings: &[(&str, Option<&str>, &str, String)],
) -> Result<(), RepoError> {
    let cfg_err = |detail: String| RepoError::Config {
        path: path.to_path_buf(),
        detail,
    };
    let mut file =
        gix::config::File::from_path_no_includes(path.to_path_buf(), gix::config::Source::Local)
            .map_err(|e| cfg_err(e.to_string()))?;
    for (section, sub, key, value) in settings {
        let sub = sub.map(gix::bstr::BStr::new);
        file.set_raw_value_by(*section, sub, *key, value.as_str())
            .map_err(|e| cfg_err(format!("set {section}.{key}: {e}")))?;
    }
    let mut out = Vec::new();
    file.write_to(&mut out).map_err(io_err("serialize", path))?;
    crate::branch::write_atomic(path, &out).map_err(|e| cfg_err(e.to_string()))
}

const NON_BARE_HOOKS: [(&str, &str); 4] = [
    ("pre-commit", "git annex pre-commit ."),
    (
        "post-receive",
        "if git annex post-receive --help >/dev/null 2>&1; then git annex post-receive; fi",
    ),
    ("post-checkout", "git annex smudge --update"),
    ("post-merge", "git annex smudge --update"),
];

const PRE_PUSH_HOOK: &str =
    "if git annex pre-push --help >/dev/null 2>&1; then git annex pre-push; fi";

/// Writes a git-annex hook unless a hook of that name exists already.
fn write_hook(git_dir: &Path, name: &str, command: &str) -> Result<(), RepoError> {
    let dir = git_dir.join("hooks");
    let path = dir.join(name);
    if path.exists() {
        return Ok(());
    }
    fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
    let body = format!("#!/bin/sh\n# automatically configured by git-annex\n{command}\n");
    crate::branch::write_atomic(&path, body.as_bytes()).map_err(|e| RepoError::Config {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .map_err(io_err("chmod", &path))?;
    }
    Ok(())
}

/// git's options that turn the annex filters off (`git -c ... COMMAND`):
/// git-annex runs git so wherever files are written into a work tree that
/// is not the repository's own (a merge made in a temporary work tree), so
/// that nothing there is smudged (no content copied in) or cleaned.
pub const BYPASS_FILTERS: [&str; 6] = [
    "-c",
    "filter.annex.smudge=",
    "-c",
    "filter.annex.clean=",
    "-c",
    "filter.annex.process=",
];

/// Appends `\n* filter=annex\n` to `.git/info/attributes` unless it or
/// the work tree's top `.gitattributes` mentions `filter=annex` already
/// (as git-annex does).
fn write_attributes(git_dir: &Path, work_tree: Option<&Path>) -> Result<(), RepoError> {
    let path = git_dir.join("info").join("attributes");
    let read = |p: &Path| -> Result<Vec<u8>, RepoError> {
        match fs::read(p) {
            Ok(s) => Ok(s),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io_err("read", p)(e)),
        }
    };
    let old = read(&path)?;
    let top = match work_tree {
        Some(w) => read(&w.join(".gitattributes"))?,
        None => Vec::new(),
    };
    let has = |b: &[u8]| b.windows(12).any(|w| w == b"filter=annex");
    if has(&old) || has(&top) {
        return Ok(());
    }
    let mut new = old;
    new.extend_from_slice(b"\n* filter=annex\n");
    crate::branch::write_atomic(&path, &new).map_err(|e| RepoError::Config {
        path: path.clone(),
        detail: e.to_string(),
    })
}

/// Creates `.git/annex/sentinal` and `sentinal.cache` (its inode cache,
/// `INODE SIZE MTIME MTIMEFRACTION`) when missing, as git-annex does.
fn write_sentinal(annex_dir: &Path) -> Result<(), RepoError> {
    let sentinal = annex_dir.join("sentinal");
    let cache = annex_dir.join("sentinal.cache");
    if sentinal.exists() && cache.exists() {
        return Ok(());
    }
    fs::write(&sentinal, b"").map_err(io_err("write", &sentinal))?;
    let md = fs::metadata(&sentinal).map_err(io_err("stat", &sentinal))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let nanos = format!("{:09}", md.mtime_nsec());
        let frac = nanos.trim_end_matches('0');
        let line = format!("{} {} {} {}", md.ino(), md.size(), md.mtime(), frac);
        crate::branch::write_atomic(&cache, line.as_bytes()).map_err(|e| RepoError::Config {
            path: cache.clone(),
            detail: e.to_string(),
        })?;
    }
    Ok(())
}
