//! The remotes the daemon acts on, read from the repository's git config
//! (git-annex's `genRemoteMap`): every git remote with a URL the daemon
//! has a transport for, except those with `remote.NAME.annex-sync=false`;
//! `remote.NAME.annex-pull=false` keeps the connection but never fetches.
//!
//! - ssh (`ssh://`, `git+ssh://`, `[user@]host:path`): named by the URI
//!   git-annex gives it (an scp-style location becomes
//!   `ssh://host/path`, or `ssh://host/~/path` relative to the home).
//! - a path on this machine (or `file://`): named `file://ABSOLUTE-PATH`
//!   (git-annex's daemon leaves these alone).
//! - `http(s)://` (and a remote whose `annexUrl` is `annex+http(s)`):
//!   named by its URL.

use std::path::{Path, PathBuf};

use annex_core::config::AnnexConfig;
use annex_core::remote::ssh::{SshConfig, SshUrl};

/// How a remote is reached.
#[derive(Debug, Clone)]
pub enum Kind {
    /// Over ssh, through `git-annex-shell notifychanges`.
    Ssh {
        /// Where.
        url: SshUrl,
        /// The program run there (`remote.NAME.annex-shell`).
        shell: String,
        /// How ssh is run.
        ssh: SshConfig,
        /// The remote's UUID, checked by the shell (`--uuid`), when known.
        uuid: Option<String>,
    },
    /// A repository on this machine: its refs watched.
    Local {
        /// The repository (work tree or bare).
        path: PathBuf,
    },
    /// Over HTTP: git-annex's HTTP protocol has no change notification,
    /// so the remote's refs are listed (`git ls-remote`) every
    /// [`super::Options::poll_interval`].
    Poll,
}

/// One remote the daemon acts on.
#[derive(Debug, Clone)]
pub struct RemoteSpec {
    /// The git remote's name (what `git fetch` is given).
    pub name: String,
    /// The URI it is named by in the control protocol.
    pub uri: String,
    /// How it is reached.
    pub kind: Kind,
    /// Whether changes are fetched from it (`annex-pull`).
    pub pull: bool,
}

impl RemoteSpec {
    /// What tells two versions of a remote apart on `RELOAD`: a remote
    /// whose key is unchanged keeps its connection.
    pub fn key(&self) -> String {
        let how = match &self.kind {
            Kind::Ssh {
                shell, ssh, uuid, ..
            } => format!("ssh {shell} {:?} {uuid:?}", ssh.options),
            Kind::Local { path } => format!("local {}", path.display()),
            Kind::Poll => "poll".to_string(),
        };
        format!("{}\0{}\0{}\0{how}", self.name, self.uri, self.pull)
    }
}

/// Why the remotes could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RemotesError {
    /// The repository could not be opened.
    #[error("not a git repository: {path}: {message}")]
    Open {
        /// Where.
        path: PathBuf,
        /// gix's reason.
        message: String,
    },
    /// Its config could not be read.
    #[error("{0}")]
    Config(#[from] annex_core::config::ConfigError),
}

/// The repository the daemon runs in: where `git` runs and what relative
/// remote paths are relative to.
#[derive(Debug, Clone)]
pub struct Repo {
    /// The work tree's top, or the git directory of a bare repository.
    pub dir: PathBuf,
}

impl Repo {
    /// Opens the repository at or above `dir`.
    pub fn discover(dir: &Path) -> Result<Repo, RemotesError> {
        let repo = gix::discover(dir).map_err(|e| RemotesError::Open {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
        let top = repo.workdir().unwrap_or(repo.git_dir()).to_path_buf();
        let top = std::path::absolute(&top).unwrap_or(top);
        Ok(Repo { dir: top })
    }

    /// The remotes to act on, as the git config says now.
    pub fn remotes(&self) -> Result<Vec<RemoteSpec>, RemotesError> {
        let repo = gix::open(&self.dir).map_err(|e| RemotesError::Open {
            path: self.dir.clone(),
            message: e.to_string(),
        })?;
        let repo = annex_core::config::with_overrides(repo);
        let config = AnnexConfig::from_repo(&repo, &annex_core::config::process_overrides())?;
        Ok(specs(&config, &self.dir))
    }
}

/// git-annex's URI for an scp-style location `[user@]host:path`.
fn scp_uri(url: &str) -> String {
    let (host, dir) = if url.starts_with('[') {
        match url.split_once(']') {
            Some((h, d)) => (
                format!("{h}]"),
                d.strip_prefix(':').unwrap_or(d).to_string(),
            ),
            None => (url.to_string(), String::new()),
        }
    } else {
        match url.split_once(':') {
            Some((h, d)) => (h.to_string(), d.to_string()),
            None => (url.to_string(), String::new()),
        }
    };
    let dir = if dir.starts_with('/') {
        dir
    } else if dir.starts_with('~') {
        format!("/{dir}")
    } else {
        format!("/~/{dir}")
    };
    format!("ssh://{host}{dir}")
}

/// `path` with its `.` and `..` components worked out (without looking
/// at symbolic links).
fn lexical(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The remotes of `config` the daemon acts on; `base` is what relative
/// paths are relative to.
pub fn specs(config: &AnnexConfig, base: &Path) -> Vec<RemoteSpec> {
    let mut out = Vec::new();
    for rc in config.remotes() {
        if !rc.sync {
            continue;
        }
        let Some(url) = rc.url.clone() else { continue };
        let get = |k: &str| config.get_str(&format!("remote.{}.{k}", rc.name));
        let pull = config
            .get_bool(&format!("remote.{}.annex-pull", rc.name))
            .unwrap_or(true);
        let annex_url = get("annexurl").unwrap_or_default();
        let (uri, kind) = if let Some(path) = rc.local_path(base) {
            let path = lexical(&std::path::absolute(&path).unwrap_or(path));
            (format!("file://{}", path.display()), Kind::Local { path })
        } else if url.starts_with("http://")
            || url.starts_with("https://")
            || annex_url.starts_with("annex+http")
        {
            (url.clone(), Kind::Poll)
        } else if let Some(ssh_url) = SshUrl::parse(&url) {
            let uri = if url.contains("://") {
                url.clone()
            } else {
                scp_uri(&url)
            };
            let options = get("annex-ssh-options")
                .map(|o| o.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default();
            (
                uri,
                Kind::Ssh {
                    url: ssh_url,
                    shell: get("annex-shell").unwrap_or_else(|| "git-annex-shell".to_string()),
                    ssh: SshConfig::for_content(options, config.get_str("core.sshCommand")),
                    uuid: rc.uuid.as_ref().map(|u| u.as_str().to_string()),
                },
            )
        } else {
            continue;
        };
        out.push(RemoteSpec {
            name: rc.name.clone(),
            uri,
            kind,
            pull,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scp_style_locations_are_named_as_git_annex_names_them() {
        assert_eq!(scp_uri("host:/srv/r"), "ssh://host/srv/r");
        assert_eq!(scp_uri("u@host:r"), "ssh://u@host/~/r");
        assert_eq!(scp_uri("host:~/r"), "ssh://host/~/r");
        assert_eq!(scp_uri("host:"), "ssh://host/~/");
        assert_eq!(scp_uri("[::1]:/r"), "ssh://[::1]/r");
    }

    fn repo_with(config: &str) -> (tempfile::TempDir, Vec<RemoteSpec>) {
        let d = tempfile::tempdir().expect("tmp");
        let st = std::process::Command::new("git")
            .args(["init", "-q"])
            .arg(d.path())
            .status()
            .expect("git init");
        assert!(st.success());
        let cfg = d.path().join(".git").join("config");
        let mut text = std::fs::read_to_string(&cfg).expect("config");
        text.push_str(config);
        std::fs::write(&cfg, text).expect("write config");
        let specs = Repo::discover(d.path())
            .expect("repo")
            .remotes()
            .expect("remotes");
        (d, specs)
    }

    #[test]
    fn remotes_come_from_git_config_without_annex_sync_false_ones() {
        let (d, specs) = repo_with(
            "[remote \"a\"]\n\turl = h:/srv/a\n\
             [remote \"b\"]\n\turl = ssh://h:22/srv/b\n\tannex-sync = false\n\
             [remote \"c\"]\n\turl = ../c\n\tannex-pull = false\n\
             [remote \"d\"]\n\turl = https://example.com/d.git\n\
             [remote \"e\"]\n\turl = rsync://example.com/e\n",
        );
        let names: Vec<(&str, &str, bool)> = specs
            .iter()
            .map(|s| (s.name.as_str(), s.uri.as_str(), s.pull))
            .collect();
        let c = d.path().parent().expect("parent").join("c");
        let c_uri = format!("file://{}", c.display());
        assert_eq!(
            names,
            vec![
                ("a", "ssh://h/srv/a", true),
                ("c", c_uri.as_str(), false),
                ("d", "https://example.com/d.git", true),
            ]
        );
        assert!(matches!(specs[0].kind, Kind::Ssh { .. }));
        assert!(matches!(specs[1].kind, Kind::Local { .. }));
        assert!(matches!(specs[2].kind, Kind::Poll));
    }
}
