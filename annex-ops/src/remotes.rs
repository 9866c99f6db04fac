//! The remotes of a repository, opened for operations: cheapest first, each
//! with its UUID learned (and remembered in git config the first time, as
//! git-annex does) or the reason it cannot be used.

use annex_core::config::RemoteConfig;
use std::sync::Arc;

use annex_core::remote::ssh::{SshCaching, SshConfig, SshRemote, SshUrl, configlist_uuid};
use annex_core::remote::{LocalGitRemote, Remote};
use annex_core::uuid::Uuid;

use annex_proxy::http::P2pHttpUrl;
use annex_proxy::http::client::HttpRemote;

use crate::session::Session;

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
    /// The opened remote, when it could be opened.
    pub fn usable(&self) -> Option<&dyn Remote> {
        self.remote.as_ref().ok().map(|r| r.as_ref())
    }
}

/// Why a remote named by the user cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RemoteNameError {
    /// No remote has that name.
    #[error("there is no available git remote named \"{0}\"")]
    NoSuchRemote(String),
    /// The remote's UUID is not known (not reachable, never synced).
    #[error("cannot determine uuid for {0} (perhaps you need to run \"git annex sync\"?)")]
    UnknownUuid(String),
}

/// A git remote over ssh: its UUID from our config, else asked of it
/// (`git-annex-shell configlist`, then remembered as git-annex does);
/// nothing is connected for content until a request needs it.
fn open_ssh(
    session: &Session,
    rc: &RemoteConfig,
    url: SshUrl,
    caching: &mut Option<Option<Arc<SshCaching>>>,
) -> RemoteEntry {
    let cfg = &session.config;
    let get = |k: &str| cfg.get_str(&format!("remote.{}.{k}", rc.name));
    let shell = get("annex-shell").unwrap_or_else(|| "git-annex-shell".to_string());
    let options = get("annex-ssh-options")
        .map(|o| o.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let ssh = SshConfig::for_content(options, cfg.get_str("core.sshCommand"));
    let ssh = if ssh.plain_ssh() {
        let shared = caching.get_or_insert_with(|| ssh_caching(session));
        ssh.with_caching(shared.clone())
    } else {
        ssh
    };
    let fail = |uuid: Option<Uuid>, reason: String| RemoteEntry {
        name: rc.name.clone(),
        uuid,
        remote: Err(reason),
    };
    let uuid = match &rc.uuid {
        Some(u) => u.clone(),
        None => match configlist_uuid(&url, &shell, &ssh, false) {
            Ok(Some(u)) => {
                crate::git::set_config(
                    session.repo.git_dir(),
                    &format!("remote.{}.annex-uuid", rc.name),
                    u.as_str(),
                );
                u
            }
            Ok(None) => return fail(None, format!("{}: it has no annex.uuid", rc.name)),
            Err(e) => return fail(None, format!("{}: {e}", rc.name)),
        },
    };
    let Some(local) = session.repo.uuid().cloned() else {
        return fail(Some(uuid), "this repository has no annex.uuid".to_string());
    };
    let remote = SshRemote::new(
        &rc.name,
        uuid.clone(),
        rc.cost(),
        url,
        Some(shell),
        ssh,
        local,
    );
    RemoteEntry {
        name: rc.name.clone(),
        uuid: Some(uuid),
        remote: Ok(Box::new(remote)),
    }
}

/// A git remote whose `annexUrl` is an `annex+http(s)` URL: reached
/// through git-annex's HTTP API (annex-proxy's `http::client`). Its UUID
/// from our config, else from its repository when the URL is a path here.
fn open_p2phttp(session: &Session, rc: &RemoteConfig, url: P2pHttpUrl) -> RemoteEntry {
    let fail = |uuid: Option<Uuid>, reason: String| RemoteEntry {
        name: rc.name.clone(),
        uuid,
        remote: Err(reason),
    };
    let uuid = match &rc.uuid {
        Some(u) => u.clone(),
        None => match rc
            .local_path(&session.base_dir())
            .and_then(|p| LocalGitRemote::open(&rc.name, &p, None, rc.cost()).ok())
        {
            Some(r) => {
                crate::git::set_config(
                    session.repo.git_dir(),
                    &format!("remote.{}.annex-uuid", rc.name),
                    r.uuid().as_str(),
                );
                r.uuid().clone()
            }
            None => return fail(None, format!("{}: cannot determine uuid", rc.name)),
        },
    };
    let Some(local) = session.repo.uuid().cloned() else {
        return fail(Some(uuid), "this repository has no annex.uuid".to_string());
    };
    match HttpRemote::new(
        &rc.name,
        uuid.clone(),
        rc.cost(),
        url,
        local,
        &session.base_dir(),
        rc.url.as_deref(),
        &session
            .config
            .get_str("annex.security.allowed-ip-addresses")
            .or_else(|| {
                session
                    .config
                    .get_str("annex.security.allowed-http-addresses")
            })
            .unwrap_or_default(),
    ) {
        Ok(r) => RemoteEntry {
            name: rc.name.clone(),
            uuid: Some(uuid),
            remote: Ok(Box::new(r)),
        },
        Err(e) => fail(Some(uuid), e.to_string()),
    }
}

/// git-annex's ssh connection caching for this command, unless
/// `annex.sshcaching` is false: sockets under `.git/annex/ssh/`.
fn ssh_caching(session: &Session) -> Option<Arc<SshCaching>> {
    if session.config.get_bool("annex.sshcaching") == Some(false) {
        return None;
    }
    let dir = session.repo.git_dir().join("annex").join("ssh");
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    Some(Arc::new(SshCaching::new(dir)))
}

/// The remotes of a repository, cheapest first (git-annex's order).
#[derive(Debug, Default)]
pub struct Remotes {
    /// The remotes not ignored, cheapest first.
    pub entries: Vec<RemoteEntry>,
    /// The names of remotes with `annex-ignore` set, in config order.
    pub ignored: Vec<String>,
}

impl Remotes {
    /// Opens the remotes of the session's repository. A git remote that is
    /// a path on this machine is opened directly; others are listed with
    /// the reason they cannot be used yet. A UUID learned from a remote
    /// that our config did not know is recorded as
    /// `remote.NAME.annex-uuid`.
    pub fn open(session: &Session) -> Remotes {
        let base = session.base_dir();
        let mut ignored = session
            .config
            .remotes()
            .iter()
            .filter(|r| r.ignore)
            .map(|r| r.name.clone())
            .collect();
        let mut entries = Vec::new();
        let mut caching = None;
        for rc in session.config.remotes_by_cost() {
            if rc.ignore {
                continue;
            }
            if let Some(url) = session
                .config
                .get_str(&format!("remote.{}.annexurl", rc.name))
                .and_then(|u| P2pHttpUrl::parse(&u))
            {
                entries.push(open_p2phttp(session, rc, url));
                continue;
            }
            if let Some(url) = rc.url.as_deref().and_then(SshUrl::parse) {
                entries.push(open_ssh(session, rc, url, &mut caching));
                continue;
            }
            let Some(path) = rc.local_path(&base) else {
                // Known, but not reachable by us yet (http, ...).
                entries.push(RemoteEntry {
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
                        crate::git::set_config(
                            session.repo.git_dir(),
                            &format!("remote.{}.annex-uuid", rc.name),
                            r.uuid().as_str(),
                        );
                    }
                    (Some(r.uuid().clone()), Ok(Box::new(r) as Box<dyn Remote>))
                }
                Err(e) => (rc.uuid.clone(), Err(e.to_string())),
            };
            entries.push(RemoteEntry {
                name: rc.name.clone(),
                uuid,
                remote,
            });
        }
        add_proxied(session, &mut entries, &mut caching);
        crate::special::add_to(session, &mut entries, &mut ignored);
        Remotes { entries, ignored }
    }

    /// The remote named `name` (for `--from`/`--to`), with a known UUID.
    pub fn named(&self, name: &str) -> Result<&RemoteEntry, RemoteNameError> {
        let entry = self
            .entries
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| RemoteNameError::NoSuchRemote(name.to_owned()))?;
        if entry.uuid.is_none() {
            return Err(RemoteNameError::UnknownUuid(name.to_owned()));
        }
        Ok(entry)
    }

    /// The remote whose repository is `uuid`.
    pub fn by_uuid(&self, uuid: &Uuid) -> Option<&RemoteEntry> {
        self.entries.iter().find(|r| r.uuid.as_ref() == Some(uuid))
    }

    /// Commits what each usable remote recorded in its journal; the errors
    /// of those that failed. With `keep_connections`, a remote reached
    /// over a network connection (whose server commits when the
    /// connection ends) is left connected.
    pub fn commit(&self, keep_connections: bool) -> Vec<annex_core::remote::RemoteError> {
        self.entries
            .iter()
            .filter_map(|r| r.usable())
            .filter(|r| !(keep_connections && r.locks_over_network()))
            .filter_map(|r| r.commit().err())
            .collect()
    }
}

/// The remotes learned through gateways (`annex_proxy::proxies`): for a
/// gateway over ssh or `annex+http`, one remote `GATEWAY-NAME` per
/// repository its `proxy.log` entry lists, reached through the gateway
/// (asking it for that repository's UUID), placed by cost among the others.
fn add_proxied(
    session: &Session,
    entries: &mut Vec<RemoteEntry>,
    caching: &mut Option<Option<Arc<SshCaching>>>,
) {
    let (Ok(proxies), Ok(clusters)) = (session.state.proxies(), session.state.clusters()) else {
        return;
    };
    if proxies.is_empty() {
        return;
    }
    let base = session.base_dir();
    let configured = annex_proxy::proxies::configured_remotes(&session.config, &base);
    let proxied =
        annex_proxy::proxies::proxied_remotes(&session.config, &configured, &proxies, &clusters);
    let cost_of = |name: &str, entries: &[RemoteEntry]| -> f64 {
        entries
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| e.usable().map(|r| r.cost()))
            .or_else(|| session.config.remote(name).map(RemoteConfig::cost))
            .unwrap_or(annex_core::config::EXPENSIVE_REMOTE_COST)
    };
    for p in proxied {
        let Some(gateway) = configured.iter().find(|g| {
            g.uuid.is_some()
                && g.uuid == p.proxied_by
                && p.name.starts_with(&format!("{}-", g.name))
        }) else {
            continue;
        };
        let Some(grc) = session.config.remote(&gateway.name) else {
            continue;
        };
        if grc.ignore {
            continue;
        }
        // The gateway's settings, under the proxied remote's name, UUID
        // and cost.
        let rc = RemoteConfig {
            name: p.name.clone(),
            uuid: p.uuid.clone(),
            configured_cost: Some(p.cost),
            sync: p.sync,
            ..grc.clone()
        };
        let entry = if let Some(url) = session
            .config
            .get_str(&format!("remote.{}.annexurl", gateway.name))
            .and_then(|u| P2pHttpUrl::parse(&u))
        {
            open_p2phttp(session, &rc, url)
        } else if let Some(url) = grc.url.as_deref().and_then(SshUrl::parse) {
            open_ssh_as(session, &rc, &gateway.name, url, caching)
        } else {
            continue;
        };
        let at = entries
            .iter()
            .position(|e| cost_of(&e.name, entries) > p.cost)
            .unwrap_or(entries.len());
        entries.insert(at, entry);
    }
}

/// [`open_ssh`] for a remote reached through the gateway remote
/// `gateway` (whose ssh settings it inherits).
fn open_ssh_as(
    session: &Session,
    rc: &RemoteConfig,
    gateway: &str,
    url: SshUrl,
    caching: &mut Option<Option<Arc<SshCaching>>>,
) -> RemoteEntry {
    let cfg = &session.config;
    let get = |k: &str| cfg.get_str(&format!("remote.{gateway}.{k}"));
    let shell = get("annex-shell").unwrap_or_else(|| "git-annex-shell".to_string());
    let options = get("annex-ssh-options")
        .map(|o| o.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let ssh = SshConfig::for_content(options, cfg.get_str("core.sshCommand"));
    let ssh = if ssh.plain_ssh() {
        let shared = caching.get_or_insert_with(|| ssh_caching(session));
        ssh.with_caching(shared.clone())
    } else {
        ssh
    };
    let (Some(uuid), Some(local)) = (rc.uuid.clone(), session.repo.uuid().cloned()) else {
        return RemoteEntry {
            name: rc.name.clone(),
            uuid: rc.uuid.clone(),
            remote: Err(format!("{}: cannot determine uuid", rc.name)),
        };
    };
    let remote = SshRemote::new(
        &rc.name,
        uuid.clone(),
        rc.cost(),
        url,
        Some(shell),
        ssh,
        local,
    );
    RemoteEntry {
        name: rc.name.clone(),
        uuid: Some(uuid),
        remote: Ok(Box::new(remote)),
    }
}
