//! Verifying special remotes (`verifyremote`, as git-annex 10.20261026):
//! a special remote enabled here from another repository's configuration
//! (`enableremote`: `remote.NAME.annex-verified = manual`; autoenable at
//! `init`: `automatic`) is not trusted until the user confirms its
//! configuration. `manual` ones are not used at all, `automatic` ones not
//! written to, and `pre-push` refuses git pushes while one exists.
//!
//! The user is shown the configuration with an ID; the configuration is
//! remembered under that ID in `.git/annex/verifying-remote.log` (lines
//! `SECONDSs ID CONFIG`, CONFIG as `remote.log` writes it).
//! `verifyremote NAME --safe ID` accepts it when the configuration under
//! ID is the remote's configuration now: `annex-verified = verified`, the
//! configuration recorded in `.git/annex/verified-remote.log` (`remote.log`'s
//! line format, by UUID) and the ID's line removed.
//!
//! A verified remote keeps its verified configuration: where
//! `verified-remote.log` has one, it stands for the remote's `remote.log`
//! configuration everywhere but in `verifyremote`'s comparison
//! ([`verified_configs`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use annex_core::logs::format::Value;
use annex_core::logs::remote::RemoteConfig;
use annex_core::remote::special::{self, Verification};
use annex_core::timestamp::Timestamp;
use annex_core::uuid::Uuid;

use crate::session::Session;

/// Why verifying failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// No remote has the name.
    #[error("there is no available git remote named \"{0}\"")]
    NoSuchRemote(String),
    /// The ID is not one shown for this remote's configuration now.
    #[error("invalid ID")]
    InvalidId,
    /// The remote was declared unsafe.
    #[error("{0}")]
    Unsafe(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The `git-annex` branch could not be read.
    #[error(transparent)]
    Branch(#[from] annex_core::branch::BranchError),
    /// A git config setting could not be written.
    #[error("cannot set git config {0}")]
    Config(String),
}

/// Fields git-annex knows for every special remote: shown after the
/// type's own.
const COMMON_FIELDS: &[&str] = &[
    "autoenable",
    "chunk",
    "chunksize",
    "cipher",
    "cipherkeys",
    "cost",
    "embedcreds",
    "encryption",
    "exporttree",
    "importtree",
    "keyid",
    "mac",
    "pubkeys",
    "readonly",
    "sameas-name",
    "sameas-uuid",
    "versioning",
];

/// A configuration as shown to the user: `type=` first, then the type's
/// own fields, then the common ones (each group sorted), `name` left out.
pub fn shown(config: &BTreeMap<String, String>) -> String {
    let mut words: Vec<String> = config
        .get("type")
        .map(|t| format!("type={t}"))
        .into_iter()
        .collect();
    let own = config
        .iter()
        .filter(|(k, _)| !COMMON_FIELDS.contains(&k.as_str()) && *k != "type" && *k != "name");
    // The cipher and how names are encrypted are not shown (as the
    // reference's prompt).
    let common = config.iter().filter(|(k, _)| {
        COMMON_FIELDS.contains(&k.as_str()) && !UNVERIFIED_FIELDS.contains(&k.as_str())
    });
    words.extend(own.chain(common).map(|(k, v)| format!("{k}={v}")));
    words.join(" ")
}

/// The fields of an encrypted remote's configuration that are not part
/// of what is verified (as the reference: they come from `remote.log`).
pub const UNVERIFIED_FIELDS: &[&str] = &["cipher", "cipherkeys", "pubkeys", "mac"];

fn serialized(config: &BTreeMap<String, String>) -> String {
    let mut out = Vec::new();
    RemoteConfig(
        config
            .iter()
            .filter(|(k, _)| !UNVERIFIED_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect(),
    )
    .write_value(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn verifying_path(git_dir: &Path) -> PathBuf {
    git_dir.join("annex").join("verifying-remote.log")
}

fn verified_path(git_dir: &Path) -> PathBuf {
    git_dir.join("annex").join("verified-remote.log")
}

fn read(path: &Path) -> Result<String, VerifyError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(VerifyError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn write_atomic(path: &Path, text: &str) -> Result<(), VerifyError> {
    let io = |source| VerifyError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let tmp = path.with_extension("log.tmp");
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// The lines of the verifying log: ID and configuration.
fn verifying(git_dir: &Path) -> Result<Vec<(u64, String, String)>, VerifyError> {
    Ok(read(&verifying_path(git_dir))?
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ' ');
            let time = parts.next()?.to_string();
            let id = parts.next()?.parse().ok()?;
            Some((id, time, parts.next().unwrap_or("").to_string()))
        })
        .collect())
}

/// Records `config` as shown for verification; its ID.
pub fn request(git_dir: &Path, config: &BTreeMap<String, String>) -> Result<u64, VerifyError> {
    let lines = verifying(git_dir)?;
    let id = lines.iter().map(|(i, _, _)| *i).max().unwrap_or(0) + 1;
    let mut text = read(&verifying_path(git_dir))?;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!(
        "{} {id} {}\n",
        Timestamp::now_secs(),
        serialized(config)
    ));
    write_atomic(&verifying_path(git_dir), &text)?;
    Ok(id)
}

/// The lines asking the user to verify remote `name` with `config` (an
/// `updated` one: after an earlier verification).
pub fn prompt(
    name: &str,
    config: &BTreeMap<String, String>,
    id: u64,
    updated: bool,
) -> Vec<String> {
    let mut lines = vec![
        if updated {
            "There is an updated configuration of the remote:".to_string()
        } else {
            "This is the configuration of the remote:".to_string()
        },
        format!("\t{}", shown(config)),
        String::new(),
        "Is this a location that you expected to be using?".to_string(),
        format!("If so, run:  git-annex verifyremote {name} --safe {id}"),
    ];
    if updated {
        lines.push("If not, you do not need to do anything; the previously".to_string());
        lines.push("verified configuration of the remote will continue to".to_string());
        lines.push("be used.".to_string());
    } else {
        lines.push(format!(
            "If not, run: git-annex verifyremote {name} --unsafe"
        ));
    }
    lines
}

/// A remote named for verification: a special remote's UUID and
/// configuration, or `None` for a git remote.
type Named = Option<(Uuid, BTreeMap<String, String>)>;

fn named(session: &Session, name: &str) -> Result<Named, VerifyError> {
    if let Some(sr) = special::configured(&session.config)
        .into_iter()
        .find(|r| r.name == name)
    {
        let Some(uuid) = sr.uuid else {
            return Err(VerifyError::NoSuchRemote(name.to_string()));
        };
        let config = session
            .state
            .remotes()?
            .get(&uuid)
            .map(special::strings)
            .unwrap_or_default();
        return Ok(Some((uuid, config)));
    }
    if session.config.remote(name).is_some() {
        return Ok(None);
    }
    Err(VerifyError::NoSuchRemote(name.to_string()))
}

/// The configurations verified here (`verified-remote.log`), by UUID: a
/// verified remote keeps using them whatever `remote.log` says later.
pub fn verified_configs(git_dir: &Path) -> BTreeMap<Uuid, BTreeMap<String, String>> {
    let text = read(&verified_path(git_dir)).unwrap_or_default();
    annex_core::logs::remote::parse(text.as_bytes())
        .current()
        .iter()
        .map(|(u, c)| (u.clone(), special::strings(c)))
        .collect()
}

/// What `verifyremote NAME` shows: the lines to print.
pub fn status(session: &Session, name: &str) -> Result<Vec<String>, VerifyError> {
    let no_change = vec![
        "There have been no changes to the remote's configuration since it was last verified."
            .to_string(),
    ];
    let git_dir = session.repo.git_dir();
    let Some((uuid, config)) = named(session, name)? else {
        // A git remote: git-annex records an empty configuration for it
        // all the same (its next ID counts it).
        request(git_dir, &BTreeMap::new())?;
        return Ok(no_change);
    };
    let level = Verification::parse(
        session
            .config
            .get_str(&format!("remote.{name}.annex-verified"))
            .as_deref(),
    );
    let updated = match level {
        Verification::Verified => {
            let log = annex_core::logs::remote::parse(read(&verified_path(git_dir))?.as_bytes());
            match log.current().get(&uuid).map(special::strings) {
                Some(v) if serialized(&v) != serialized(&config) => true,
                _ => return Ok(no_change),
            }
        }
        _ => false,
    };
    let id = request(git_dir, &config)?;
    let mut lines = prompt(name, &config, id, updated);
    lines.push(String::new());
    Ok(lines)
}

/// `verifyremote NAME --safe ID`.
pub fn safe(session: &Session, name: &str, id: u64) -> Result<(), VerifyError> {
    let Some((uuid, config)) = named(session, name)? else {
        return Err(VerifyError::InvalidId);
    };
    let git_dir = session.repo.git_dir();
    let lines = verifying(git_dir)?;
    let wanted = serialized(&config);
    if !lines.iter().any(|(i, _, c)| *i == id && *c == wanted) {
        return Err(VerifyError::InvalidId);
    }
    let key = format!("remote.{name}.annex-verified");
    if !crate::git::set_config(git_dir, &key, "verified") {
        return Err(VerifyError::Config(key));
    }
    let old = read(&verified_path(git_dir))?;
    let new = annex_core::logs::remote::set(
        old.as_bytes(),
        &uuid,
        config
            .iter()
            .filter(|(k, _)| !UNVERIFIED_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect(),
        Timestamp::now_secs(),
    );
    write_atomic(&verified_path(git_dir), &String::from_utf8_lossy(&new))?;
    let rest: String = lines
        .into_iter()
        .filter(|(i, _, _)| *i != id)
        .map(|(i, t, c)| format!("{t} {i} {c}\n"))
        .collect();
    write_atomic(&verifying_path(git_dir), &rest)
}

/// `verifyremote NAME --unsafe`: nothing is changed (the remote stays
/// unverified, so unused, and pushes stay blocked); the error tells the
/// user what that means.
pub fn unsafe_(session: &Session, name: &str) -> Result<(), VerifyError> {
    named(session, name)?;
    Err(VerifyError::Unsafe(format!(
        "So the remote {name} is in a location you did not expect
to be using. You may be under attack.

No annexed files have been sent to or retrieved from the
remote since it was enabled.

But, if the remote supports git fetch, branches may have been
pulled from it into this repository. If you determine that
git has fetched information from the remote, you may need to
clean up those branches to avoid leaking information from the
remote. Bear in mind that the git-annex branch could be amoung
them.

Git pushes to all remotes have been blocked since remote
{name} was enabled, and will stay blocked as long as it exists.
Once you have dealt with this attack, you can unblock by running:
\tgit remote remove {name}"
    )))
}

/// The first special remote not verified here, which blocks git pushes
/// (`pre-push`).
pub fn blocking_push(session: &Session) -> Option<String> {
    special::configured(&session.config)
        .into_iter()
        .find(|r| {
            Verification::parse(
                session
                    .config
                    .get_str(&format!("remote.{}.annex-verified", r.name))
                    .as_deref(),
            ) != Verification::Verified
        })
        .map(|r| r.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_is_shown_type_first_common_fields_last() {
        let c: BTreeMap<String, String> = [
            ("autoenable", "true"),
            ("dir", "/s"),
            ("encryption", "none"),
            ("externaltype", "pydir"),
            ("name", "e"),
            ("type", "external"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        // As the reference showed it for this configuration.
        assert_eq!(
            shown(&c),
            "type=external dir=/s externaltype=pydir autoenable=true encryption=none"
        );
    }

    #[test]
    fn ids_follow_the_highest_and_verified_lines_go() {
        let t = tempfile::tempdir().unwrap();
        let c: BTreeMap<String, String> = [("type".to_string(), "directory".to_string())].into();
        assert_eq!(request(t.path(), &c).unwrap(), 1);
        assert_eq!(request(t.path(), &c).unwrap(), 2);
        let text = read(&verifying_path(t.path())).unwrap();
        assert!(
            text.lines().all(|l| l.ends_with(" type=directory")),
            "{text}"
        );
    }
}
