//! Special remotes: remotes that are not git repositories, configured in
//! `remote.log` (shared through the `git-annex` branch) and in git config
//! (`remote.NAME.annex-*`, this repository's own settings).
//!
//! A special remote is a git remote with no URL and a
//! `remote.NAME.annex-TYPE` setting naming its type (`annex-directory` for
//! `type=directory`, `annex-externaltype` for `type=external`), as
//! git-annex enumerates them. [`configured`] lists them; [`open`] makes a
//! [`Remote`] of one. Types: [`directory`], [`rsync`], [`s3`], [`external`] (with its
//! protocol in [`protocol`]) and [`web`] (also the built-in web remote,
//! [`web_builtin`]); the others (bup, webdav...) are not yet implemented
//! and are listed with that reason. A remote configured with chunking
//! ([`chunk`]) or encryption ([`crypto`]) is its type's
//! [`layered::Storage`] wrapped in [`layered::Layered`] ([`open_storage`]
//! makes the storage of a type).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::config::AnnexConfig;
use crate::remote::{Remote, RemoteError};
use crate::uuid::Uuid;

pub mod chunk;
pub mod crypto;
pub mod directory;
pub mod external;
pub mod layered;
pub mod protocol;
pub mod rsync;
pub mod s3;
pub mod web;

/// The `remote.NAME.annex-TYPE` git config settings that mark a special
/// remote, with the type each one means.
pub const TYPE_SETTINGS: &[(&str, &str)] = &[
    ("directory", "directory"),
    ("externaltype", "external"),
    ("rsyncurl", "rsync"),
    ("s3", "S3"),
    ("web", "web"),
    ("bup", "bup"),
    ("hooktype", "hook"),
    ("gcrypt", "gcrypt"),
    ("webdav", "webdav"),
    ("adb", "adb"),
    ("borgrepo", "borg"),
    ("rclone", "rclone"),
];

/// A special remote found in git config.
#[derive(Debug, Clone)]
pub struct SpecialRemote {
    /// The remote's name.
    pub name: String,
    /// `remote.NAME.annex-uuid`.
    pub uuid: Option<Uuid>,
    /// Its type, from the git config setting that marks it.
    pub kind: String,
    /// `remote.NAME.annex-cost`, when set.
    pub cost: Option<f64>,
    /// `remote.NAME.annex-ignore`.
    pub ignore: bool,
}

/// The special remotes of git config, by name.
pub fn configured(config: &AnnexConfig) -> Vec<SpecialRemote> {
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    for (name, _) in config.entries() {
        let Some(rest) = name.strip_prefix("remote.") else {
            continue;
        };
        let Some(dot) = rest.rfind('.') else {
            continue;
        };
        let (remote, key) = (&rest[..dot], &rest[dot + 1..]);
        let Some(setting) = key.strip_prefix("annex-") else {
            continue;
        };
        if let Some((_, kind)) = TYPE_SETTINGS.iter().find(|(s, _)| *s == setting)
            && config.get(&format!("remote.{remote}.url")).is_none()
        {
            found.insert(remote.to_string(), kind.to_string());
        }
    }
    found
        .into_iter()
        .map(|(name, kind)| {
            let get = |k: &str| config.get_str(&format!("remote.{name}.{k}"));
            SpecialRemote {
                uuid: get("annex-uuid").and_then(|u| Uuid::parse(u.as_bytes()).ok()),
                cost: get("annex-cost").and_then(|c| c.trim().parse().ok()),
                ignore: config
                    .get_bool(&format!("remote.{name}.annex-ignore"))
                    .unwrap_or(false),
                kind,
                name,
            }
        })
        .collect()
}

/// The default cost of a special remote of `kind` (git-annex's: a
/// directory is cheap, the rest expensive) when git config sets none.
pub fn default_cost(kind: &str) -> f64 {
    match kind {
        "directory" => crate::config::CHEAP_REMOTE_COST,
        _ => crate::config::EXPENSIVE_REMOTE_COST,
    }
}

/// What opening a special remote needs from the repository using it.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The repository's git config.
    pub config: &'a AnnexConfig,
    /// Its git dir.
    pub git_dir: &'a Path,
    /// Its work tree (or git dir when bare): where external programs run.
    pub top: &'a Path,
}

/// The configuration of a remote.log entry as strings.
pub fn strings(c: &BTreeMap<Vec<u8>, Vec<u8>>) -> BTreeMap<String, String> {
    c.iter()
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(k).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect()
}

/// Opens the special remote `sr` whose `remote.log` configuration is
/// `logged` (empty when the log has none).
pub fn open(
    ctx: &Context<'_>,
    sr: &SpecialRemote,
    uuid: Uuid,
    logged: BTreeMap<String, String>,
) -> Result<Box<dyn Remote>, RemoteError> {
    let unavailable = |reason: String| RemoteError::Unavailable {
        remote: sr.name.clone(),
        reason,
    };
    let git = |k: &str| ctx.config.get_str(&format!("remote.{}.annex-{k}", sr.name));
    let cost = sr.cost.unwrap_or_else(|| default_cost(&sr.kind));
    let chunking = chunk::ChunkConfig::from_config(&logged).map_err(unavailable)?;
    let encryption =
        layered::Encryption::from_config(&logged, crypto::Gpg::from_config(ctx.config, &sr.name))
            .map_err(unavailable)?;
    if lacks_cipher(&logged, encryption.is_some()) {
        return Err(unavailable(
            "its encryption configuration has no usable cipher".to_string(),
        ));
    }
    let remote: Box<dyn Remote> = if chunking == chunk::ChunkConfig::None && encryption.is_none() {
        open_kind(ctx, sr, uuid, logged, cost)?
    } else {
        let storage = open_storage(ctx, sr, uuid, logged, cost)?;
        Box::new(layered::Layered::new(
            storage,
            chunking,
            encryption,
            ctx.git_dir,
        ))
    };
    let verified = Verification::parse(git("verified").as_deref());
    Ok(match verified {
        Verification::Verified => remote,
        level => Box::new(Gated {
            inner: remote,
            level,
        }),
    })
}

/// `remote.NAME.annex-verified`: whether the user verified a special
/// remote whose configuration came from another repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// Set up here, or verified (`verified`, or unset: remotes set up
    /// before git-annex verified them).
    Verified,
    /// Enabled automatically at `init` (`automatic`): it may be read
    /// from, not written to.
    Automatic,
    /// Enabled by hand with `enableremote` (`manual`): not used at all.
    Manual,
}

impl Verification {
    /// The level a `remote.NAME.annex-verified` value means.
    pub fn parse(v: Option<&str>) -> Verification {
        match v {
            Some("manual") => Verification::Manual,
            Some("automatic") => Verification::Automatic,
            _ => Verification::Verified,
        }
    }
}

/// Whether a remote's configuration says its content is encrypted but no
/// usable cipher came out of it. An `onlyencryptcreds=yes` remote's cipher
/// only encrypts its credentials: its content and names are stored as they
/// are, as the reference does, so it lacks nothing.
fn lacks_cipher(logged: &BTreeMap<String, String>, has_encryption: bool) -> bool {
    logged.get("onlyencryptcreds").map(String::as_str) != Some("yes")
        && crypto::scheme_of(logged).is_some_and(|s| s != crypto::Scheme::None)
        && !has_encryption
}

/// The message refusing to use remote `name` that is not verified.
pub fn unverified_message(name: &str) -> String {
    format!(
        "This special remote cannot be used since it's not verified. Run this command to verify it: git-annex verifyremote {name}"
    )
}

/// The message refusing to write to remote `name` that was enabled
/// automatically and is not verified.
pub fn write_prevented_message(name: &str) -> String {
    format!(
        "Write prevented due to an unverified special remote. Run this command to verify it: git-annex verifyremote {name}"
    )
}

/// A special remote not verified yet: a `manual` one refuses every
/// request, an `automatic` one refuses stores and removals.
#[derive(Debug)]
struct Gated {
    inner: Box<dyn Remote>,
    level: Verification,
}

impl Gated {
    fn read(&self) -> Result<(), RemoteError> {
        if self.level == Verification::Manual {
            return Err(RemoteError::Unverified(unverified_message(
                self.inner.name(),
            )));
        }
        Ok(())
    }

    fn write(&self) -> Result<(), RemoteError> {
        self.read()?;
        if self.level == Verification::Automatic {
            return Err(RemoteError::Unverified(write_prevented_message(
                self.inner.name(),
            )));
        }
        Ok(())
    }
}

impl Remote for Gated {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn uuid(&self) -> &Uuid {
        self.inner.uuid()
    }
    fn cost(&self) -> f64 {
        self.inner.cost()
    }
    fn check_present(&self, key: &crate::key::Key) -> Result<bool, RemoteError> {
        self.read()?;
        self.inner.check_present(key)
    }
    fn check_present_many(&self, keys: &[&crate::key::Key]) -> Vec<Result<bool, RemoteError>> {
        if self.read().is_err() {
            // Each answer is the refusal, as check_present gives it.
            return keys.iter().map(|k| self.check_present(k)).collect();
        }
        self.inner.check_present_many(keys)
    }
    fn retrieve(
        &self,
        key: &crate::key::Key,
        dest: &Path,
        our_uuid: &Uuid,
        file: &[u8],
        progress: crate::remote::Progress<'_>,
    ) -> Result<(), RemoteError> {
        self.read()?;
        self.inner.retrieve(key, dest, our_uuid, file, progress)
    }
    fn store(
        &self,
        key: &crate::key::Key,
        src: &Path,
        our_uuid: &Uuid,
        file: &[u8],
        progress: crate::remote::Progress<'_>,
    ) -> Result<(), RemoteError> {
        self.write()?;
        self.inner.store(key, src, our_uuid, file, progress)
    }
    fn remove(&self, key: &crate::key::Key) -> Result<(), RemoteError> {
        self.write()?;
        self.inner.remove(key)
    }
    fn lock_content(
        &self,
        key: &crate::key::Key,
    ) -> Result<Box<dyn crate::remote::ContentLockGuard>, RemoteError> {
        self.read()?;
        self.inner.lock_content(key)
    }
    fn commit(&self) -> Result<(), RemoteError> {
        self.inner.commit()
    }
}

/// The refusal of [`Remote::lock_content`] for the special remote `name`:
/// special remotes cannot lock content, so a drop checks presence instead,
/// as git-annex does.
pub(crate) fn cannot_lock_content(name: &str) -> RemoteError {
    RemoteError::Refused {
        remote: name.to_string(),
        reason: "special remotes cannot lock content".to_string(),
    }
}

/// The [`layered::Storage`] of a special remote of a type that has one
/// (what chunking and encryption wrap).
pub fn open_storage(
    ctx: &Context<'_>,
    sr: &SpecialRemote,
    uuid: Uuid,
    logged: BTreeMap<String, String>,
    cost: f64,
) -> Result<Box<dyn layered::Storage>, RemoteError> {
    let unavailable = |reason: String| RemoteError::Unavailable {
        remote: sr.name.clone(),
        reason,
    };
    match sr.kind.as_str() {
        "directory" => {
            let d = open_directory(ctx, sr, uuid, cost)?;
            // The old chunked layout is the directory type's own.
            Ok(Box::new(match chunk::ChunkConfig::from_config(&logged) {
                Ok(chunk::ChunkConfig::Legacy(size)) => d.with_legacy_chunks(size),
                _ => d,
            }))
        }
        "external" => Ok(Box::new(open_external(ctx, sr, uuid, logged)?)),
        "rsync" => Ok(Box::new(open_rsync(ctx, sr, uuid, &logged, cost)?)),
        "S3" => Ok(Box::new(open_s3(ctx, sr, uuid, &logged, cost)?)),
        other => Err(unavailable(format!(
            "chunking and encryption of special remotes of type {other} are not supported yet"
        ))),
    }
}

fn open_directory(
    ctx: &Context<'_>,
    sr: &SpecialRemote,
    uuid: Uuid,
    cost: f64,
) -> Result<directory::DirectoryRemote, RemoteError> {
    let dir = ctx
        .config
        .get_str(&format!("remote.{}.annex-directory", sr.name))
        .filter(|d| !d.is_empty())
        .ok_or_else(|| RemoteError::Unavailable {
            remote: sr.name.clone(),
            reason: "missing directory".to_string(),
        })?;
    Ok(directory::DirectoryRemote::new(
        &sr.name,
        uuid,
        cost,
        PathBuf::from(dir),
    ))
}

fn open_external(
    ctx: &Context<'_>,
    sr: &SpecialRemote,
    uuid: Uuid,
    logged: BTreeMap<String, String>,
) -> Result<external::ExternalRemote, RemoteError> {
    let externaltype = ctx
        .config
        .get_str(&format!("remote.{}.annex-externaltype", sr.name))
        .or_else(|| logged.get("externaltype").cloned())
        .ok_or_else(|| RemoteError::Unavailable {
            remote: sr.name.clone(),
            reason: "missing externaltype".to_string(),
        })?;
    Ok(external::ExternalRemote::new(external::ExternalSetup {
        name: sr.name.clone(),
        uuid,
        externaltype,
        config: logged,
        git_dir: ctx.git_dir.to_path_buf(),
        top: ctx.top.to_path_buf(),
        cost: sr.cost,
    }))
}

fn open_rsync(
    ctx: &Context<'_>,
    sr: &SpecialRemote,
    uuid: Uuid,
    logged: &BTreeMap<String, String>,
    cost: f64,
) -> Result<rsync::RsyncRemote, RemoteError> {
    let git = |k: &str| ctx.config.get_str(&format!("remote.{}.annex-{k}", sr.name));
    let words = |k: &str| -> Vec<String> {
        git(k)
            .map(|v| v.split_whitespace().map(String::from).collect())
            .unwrap_or_default()
    };
    let url =
        git("rsyncurl")
            .filter(|u| !u.is_empty())
            .ok_or_else(|| RemoteError::Unavailable {
                remote: sr.name.clone(),
                reason: "missing rsyncurl".to_string(),
            })?;
    let setup = rsync::RsyncSetup {
        url,
        shellescape: logged.get("shellescape").map(|v| v != "no"),
        ssh_options: words("ssh-options"),
        transport: words("rsync-transport"),
        options: words("rsync-options"),
        upload_options: words("rsync-upload-options"),
        download_options: words("rsync-download-options"),
    };
    rsync::RsyncRemote::new(&sr.name, uuid, cost, setup, ctx.git_dir)
}

fn open_s3(
    ctx: &Context<'_>,
    sr: &SpecialRemote,
    uuid: Uuid,
    logged: &BTreeMap<String, String>,
    cost: f64,
) -> Result<s3::S3Remote, RemoteError> {
    let unavailable = |reason: String| RemoteError::Unavailable {
        remote: sr.name.clone(),
        reason,
    };
    let cfg = s3::S3Config::parse(logged).map_err(|e| unavailable(e.to_string()))?;
    let creds =
        s3::credentials(ctx.git_dir, &uuid, logged).map_err(|e| unavailable(e.to_string()))?;
    let policy = web::AddressPolicy::parse(
        ctx.config
            .get_str("annex.security.allowed-ip-addresses")
            .as_deref(),
    );
    let public = cfg
        .publicurl
        .is_some()
        .then(|| web::Http::from_config(ctx.config));
    let client = s3::S3Client::new(cfg, creds, &policy).map_err(|e| unavailable(e.to_string()))?;
    Ok(s3::S3Remote::new(&sr.name, uuid, cost, client, public))
}

fn open_kind(
    ctx: &Context<'_>,
    sr: &SpecialRemote,
    uuid: Uuid,
    logged: BTreeMap<String, String>,
    cost: f64,
) -> Result<Box<dyn Remote>, RemoteError> {
    let unavailable = |reason: String| RemoteError::Unavailable {
        remote: sr.name.clone(),
        reason,
    };
    match sr.kind.as_str() {
        "directory" => Ok(Box::new(open_directory(ctx, sr, uuid, cost)?)),
        "external" => Ok(Box::new(open_external(ctx, sr, uuid, logged)?)),
        "rsync" => Ok(Box::new(open_rsync(ctx, sr, uuid, &logged, cost)?)),
        "S3" => Ok(Box::new(open_s3(ctx, sr, uuid, &logged, cost)?)),
        "web" => Ok(Box::new(web::WebRemote::new(
            &sr.name,
            uuid,
            cost,
            ctx.git_dir,
            web::Http::from_config(ctx.config),
        ))),
        other => Err(unavailable(format!(
            "special remotes of type {other} are not supported yet"
        ))),
    }
}

/// The built-in web remote (`web`, of UUID [`crate::uuid::WEB_UUID`]),
/// which every repository has; its cost is `remote.web.annex-cost` when
/// set.
pub fn web_builtin(ctx: &Context<'_>) -> Option<Box<dyn Remote>> {
    let uuid = Uuid::parse(crate::uuid::WEB_UUID.as_bytes()).ok()?;
    let cost = ctx
        .config
        .get_str("remote.web.annex-cost")
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(crate::config::EXPENSIVE_REMOTE_COST);
    Some(Box::new(web::WebRemote::new(
        "web",
        uuid,
        cost,
        ctx.git_dir,
        web::Http::from_config(ctx.config),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn onlyencryptcreds_remote_opens_without_content_cipher() {
        let mut c: BTreeMap<String, String> = [
            ("type", "S3"),
            ("encryption", "hybrid"),
            ("cipher", "YWJj"),
            ("cipherkeys", "0123456789ABCDEF"),
            ("onlyencryptcreds", "yes"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let gpg = crypto::Gpg {
            program: "gpg".to_string(),
            options: Vec::new(),
            decrypt_options: Vec::new(),
        };
        // What `open` is given for such a remote: no content encryption.
        let enc = layered::Encryption::from_config(&c, gpg).unwrap();
        assert!(enc.is_none());
        assert!(!lacks_cipher(&c, enc.is_some()));
        // Without onlyencryptcreds=yes a missing cipher is still refused.
        c.insert("onlyencryptcreds".to_string(), "no".to_string());
        assert!(lacks_cipher(&c, false));
        c.remove("onlyencryptcreds");
        assert!(lacks_cipher(&c, false));
        assert!(!lacks_cipher(&c, true));
        c.insert("encryption".to_string(), "none".to_string());
        assert!(!lacks_cipher(&c, false));
    }
}
