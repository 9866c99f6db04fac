//! Special remotes in a repository: opening the configured ones for the
//! remote list ([`add_to`]), and setting them up: `initremote` ([`init`],
//! [`whatelse`]),
//! `enableremote` ([`enable`]) and the automatic enabling at `init` of the
//! remotes whose `remote.log` says `autoenable=true` ([`autoenable`]).
//!
//! What is written matches git-annex 10.20261026: `remote.log` gets the
//! remote's configuration (`name`, `type`, the parameters given and what
//! an external program set), `uuid.log` its name as description, git
//! config `remote.NAME.annex-TYPE` (for a directory remote, its absolute
//! path, which stays out of `remote.log`), `annex-uuid`, `annex-verified`
//! and `skipFetchAll`.
//!
//! A remote enabled here from another repository's configuration is not
//! trusted until verified (`enableremote`: `annex-verified = manual`;
//! autoenable: `automatic`; `verify_remote` has the rest), and a verified
//! remote's verified configuration stands for `remote.log`'s ([`configs`]).
//! `configremote` ([`configure`]) and `renameremote` ([`rename`]) change
//! `remote.log` only, as git-annex's do.
//!
//! Encryption (`encryption=shared|hybrid|pubkey|sharedpubkey`, `keyid=`,
//! `keyid+=`/`keyid-=` at `enableremote`, `mac=`) is set up as git-annex's
//! `encryptionSetup` does (`encryption_setup`): a new cipher made with
//! gpg, or the one of `remote.log` kept or re-encrypted, with its notes
//! (`encryption setup`, `encryption update` and what the cipher is);
//! `chunk=` is kept as given (read when the remote is opened, as
//! git-annex reads it).
//!
//! Types: `directory`, `rsync`, `S3` (set up with `special_s3`'s help)
//! and `external`, each with chunking and encryption (their storage is
//! behind `annex_core::remote::special::layered`).
//!
//! `initremote --sameas` ([`init_with`]: the other remote's UUID, its
//! configuration under a UUID of its own, [`SAMEAS_INHERITED`] fields
//! taken from the other's) and `--private` (the logs written to the
//! private journal).
//!
//! Not yet: `--with-url`, other types (`disableremote` and `testremote`
//! are `disable_remote` and `testremote`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use annex_core::remote::special::{self, Context, SpecialRemote, external};
use annex_core::remote::{Remote, RemoteError};
use annex_core::uuid::Uuid;

use crate::remotes::RemoteEntry;
use crate::session::Session;

/// Why a special remote cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum SpecialError {
    /// A user error, in git-annex's words.
    #[error("{0}")]
    User(String),
    /// The external program failed or misbehaved.
    #[error(transparent)]
    External(#[from] external::ExternalError),
    /// The `git-annex` branch could not be read or changed.
    #[error(transparent)]
    Branch(#[from] annex_core::branch::BranchError),
    /// A git config setting could not be written.
    #[error("cannot set git config {0}")]
    Config(String),
}

/// A special remote's configuration fields.
type Fields = BTreeMap<String, String>;

fn user(s: impl Into<String>) -> SpecialError {
    SpecialError::User(s.into())
}

/// The special remotes' configurations: `remote.log`'s, each replaced by
/// the configuration verified here when there is one (git-annex keeps
/// using a verified configuration whatever the branch says later).
pub fn configs(session: &Session) -> Result<BTreeMap<Uuid, Fields>, SpecialError> {
    let mut m: BTreeMap<Uuid, Fields> = session
        .state
        .remotes()?
        .iter()
        .map(|(u, c)| (u.clone(), special::strings(c)))
        .collect();
    for (u, mut verified) in crate::verify_remote::verified_configs(session.repo.git_dir()) {
        // The cipher and MAC are not part of what is verified: they come
        // from `remote.log`, as the reference takes them.
        if let Some(logged) = m.get(&u) {
            for f in crate::verify_remote::UNVERIFIED_FIELDS {
                if let Some(v) = logged.get(*f) {
                    verified.insert(f.to_string(), v.clone());
                }
            }
        }
        m.insert(u, verified);
    }
    Ok(m)
}

/// Adds the special remotes of git config to a remote list (kept
/// cheapest first; a special remote goes after the remotes of equal cost)
/// and the names of ignored ones to `ignored`.
pub fn add_to(session: &Session, entries: &mut Vec<RemoteEntry>, ignored: &mut Vec<String>) {
    let logged = configs(session).unwrap_or_default();
    let top = session.base_dir();
    let ctx = Context {
        config: &session.config,
        git_dir: session.repo.git_dir(),
        top: &top,
    };
    let cost_of = |e: &RemoteEntry| -> f64 {
        match e.usable() {
            Some(r) => r.cost(),
            None => session
                .config
                .remote(&e.name)
                .map(|r| r.cost())
                .unwrap_or(annex_core::config::EXPENSIVE_REMOTE_COST),
        }
    };
    for sr in special::configured(&session.config) {
        if sr.ignore {
            ignored.push(sr.name.clone());
            continue;
        }
        let entry = open_entry(&ctx, &sr, &logged);
        let cost = sr.cost.unwrap_or_else(|| special::default_cost(&sr.kind));
        let at = entries
            .iter()
            .position(|e| cost_of(e) > cost)
            .unwrap_or(entries.len());
        entries.insert(at, entry);
    }
    // The built-in web remote, after the others of its cost (git-annex
    // lists it last), unless a remote of that name shadows it or
    // `remote.web.annex-ignore` is set.
    if entries.iter().any(|e| e.name == "web") {
        return;
    }
    if session.config.get_bool("remote.web.annex-ignore") == Some(true) {
        ignored.push("web".to_string());
        return;
    }
    if let Some(web) = special::web_builtin(&ctx) {
        let cost = web.cost();
        let at = entries
            .iter()
            .position(|e| cost_of(e) > cost)
            .unwrap_or(entries.len());
        entries.insert(
            at,
            RemoteEntry {
                name: "web".to_string(),
                uuid: Some(web.uuid().clone()),
                remote: Ok(web),
            },
        );
    }
}

/// The configuration of the special remote `name` of UUID `uuid`: the
/// one of its `annex-config-uuid` when it has one (a `sameas` remote,
/// with the fields it inherits from `uuid`'s), else `uuid`'s.
pub fn config_of(
    config: &annex_core::config::AnnexConfig,
    name: &str,
    uuid: &Uuid,
    logged: &BTreeMap<Uuid, Fields>,
) -> Fields {
    let own = config
        .get_str(&format!("remote.{name}.annex-config-uuid"))
        .and_then(|u| Uuid::parse(u.as_bytes()).ok())
        .and_then(|cu| logged.get(&cu));
    match own {
        Some(c) => with_inherited(c.clone(), logged.get(uuid)),
        None => logged.get(uuid).cloned().unwrap_or_default(),
    }
}

fn open_entry(
    ctx: &Context<'_>,
    sr: &SpecialRemote,
    logged: &BTreeMap<Uuid, Fields>,
) -> RemoteEntry {
    let Some(uuid) = sr.uuid.clone() else {
        return RemoteEntry {
            name: sr.name.clone(),
            uuid: None,
            remote: Err(format!("{}: it has no annex-uuid", sr.name)),
        };
    };
    let config = config_of(ctx.config, &sr.name, &uuid, logged);
    let remote = special::open(ctx, sr, uuid.clone(), config).map_err(|e| e.to_string());
    RemoteEntry {
        name: sr.name.clone(),
        uuid: Some(uuid),
        remote,
    }
}

/// Parses `NAME=VALUE` parameters (a word without `=` is refused, as
/// git-annex's parser does).
pub fn parse_params(params: &[String]) -> Result<BTreeMap<String, String>, SpecialError> {
    let mut m = BTreeMap::new();
    for p in params {
        let Some((k, v)) = p.split_once('=') else {
            return Err(user(format!(
                "Expected parameters in the form \"param=value\", not \"{p}\""
            )));
        };
        m.insert(k.to_string(), v.to_string());
    }
    Ok(m)
}

/// A documented configuration parameter: name, description, what values
/// it takes (empty when not said).
pub type FieldDoc = (String, String, String);

/// The parameters every special remote type takes, as `--whatelse` lists
/// them (after the type's own).
const COMMON_DOCS: &[(&str, &str, &str)] = &[
    ("chunk", "size of chunks (eg, 1MiB)", ""),
    (
        "encryption",
        "how to encrypt data stored in the special remote",
        "hybrid or none or pubkey or shared or sharedpubkey",
    ),
    (
        "embedcreds",
        "embed credentials into git repository",
        "yes or no",
    ),
    (
        "onlyencryptcreds",
        "only encrypt embedded credentials, not annexed files",
        "yes or no",
    ),
    (
        "mac",
        "how to encrypt filenames used on the remote",
        "HMACSHA1 or HMACSHA224 or HMACSHA256 or HMACSHA384 or HMACSHA512",
    ),
    ("keyid", "gpg key id", ""),
    ("keyid+", "add additional gpg key", ""),
    ("keyid-", "remove gpg key", ""),
];

/// Parameters accepted without being listed by `--whatelse`.
const HIDDEN_FIELDS: &[&str] = &[
    "name",
    "type",
    "autoenable",
    "cost",
    "availability",
    "sameas-name",
    "sameas-uuid",
    "chunksize",
    "cipher",
    "cipherkeys",
    "pubkeys",
    "highRandomQuality",
    "exporttree",
    "importtree",
    "externaltype",
];

/// The documented parameters of a type: its own, then the common ones;
/// for an external remote, then what its program lists (`LISTCONFIGS`,
/// `None` when it does not say: then any parameter is accepted).
fn field_docs(kind: &str, listed: Option<&[(String, String)]>) -> Vec<FieldDoc> {
    let own: &[(&str, &str, &str)] = match kind {
        "directory" => &[
            (
                "directory",
                "(required) where the special remote stores data",
                "",
            ),
            (
                "ignoreinodes",
                "ignore inodes when importing/exporting",
                "yes or no",
            ),
        ],
        "external" => &[("readonly", "enable readonly mode", "true or false")],
        "rsync" => &[
            (
                "shellescape",
                "set to no to avoid usual shell escaping (not recommended)",
                "yes or no",
            ),
            (
                "rsyncurl",
                "(required) url or hostname:/directory for rsync to use",
                "",
            ),
        ],
        "S3" => S3_DOCS,
        _ => &[],
    };
    let mut docs: Vec<FieldDoc> = own
        .iter()
        .chain(COMMON_DOCS)
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect();
    for (n, d) in listed.unwrap_or_default() {
        docs.push((n.clone(), d.clone(), String::new()));
    }
    if kind == "S3" {
        docs.extend(
            S3_PASSTHROUGH
                .iter()
                .map(|(p, d)| (format!("{p}*"), d.to_string(), String::new())),
        );
    }
    docs
}

/// The parameters of `type=S3`, as git-annex lists them.
const S3_DOCS: &[(&str, &str, &str)] = &[
    ("bucket", "name of bucket to store content in", ""),
    ("host", "S3 server hostname (default is Amazon S3)", ""),
    (
        "datacenter",
        "S3 datacenter to use (US, EU, us-west-1, ..)",
        "",
    ),
    ("region", "S3 region to use", ""),
    ("partsize", "part size for multipart upload (eg 1GiB)", ""),
    (
        "storageclass",
        "storage class, eg STANDARD or STANDARD_IA or ONEZONE_IA",
        "",
    ),
    (
        "restore",
        "enable restore of files not currently accessible in the bucket",
        "yes or no",
    ),
    ("fileprefix", "prefix to add to filenames in the bucket", ""),
    (
        "versioning",
        "enable versioning of bucket content",
        "yes or no",
    ),
    (
        "public",
        "allow public read access to the bucket via ACLs (only supported for old Amazon S3 buckets)",
        "yes or no",
    ),
    (
        "publicurl",
        "url that can be used by public to download files",
        "",
    ),
    ("protocol", "http or https", ""),
    ("port", "port to connect to", ""),
    (
        "requeststyle",
        "for path-style requests, set to \"path\"",
        "",
    ),
    ("signature", "S3 signature version", "v2 or v4 or anonymous"),
    (
        "x-amz-tagging",
        "tagging header to add when storing on S3",
        "",
    ),
];

/// The prefixes of the parameters `type=S3` passes on as headers.
const S3_PASSTHROUGH: &[(&str, &str)] = &[
    ("x-amz-meta-", "http headers to add when storing on S3"),
    (
        "x-archive-meta-",
        "http headers to add when storing on Internet Archive",
    ),
];

/// Refuses parameters the type does not take (`Unexpected parameters:
/// NAME...`, as git-annex).
fn check_fields(
    kind: &str,
    config: &Fields,
    listed: Option<&[(String, String)]>,
) -> Result<(), SpecialError> {
    if kind == "external" && listed.is_none() {
        return Ok(());
    }
    let docs = field_docs(kind, listed);
    let unknown: Vec<&str> = config
        .keys()
        .map(String::as_str)
        .filter(|k| !HIDDEN_FIELDS.contains(k) && !docs.iter().any(|(n, _, _)| n == k))
        .filter(|k| {
            kind != "S3"
                || !(["mungekeys", "s3creds"].contains(k)
                    || S3_PASSTHROUGH.iter().any(|(p, _)| k.starts_with(p)))
        })
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(user(format!(
            "Unexpected parameters: {}",
            unknown.join(" ")
        )))
    }
}

/// `initremote --whatelse NAME PARAM=VALUE...`: the parameters of the
/// type not given yet.
pub fn whatelse(
    session: &Session,
    name: &str,
    params: &[String],
) -> Result<Vec<FieldDoc>, SpecialError> {
    if find_logged(session, name)?.is_some() {
        return Err(user(format!(
            "There is already a special remote named \"{name}\". (Use enableremote to enable an existing special remote.)"
        )));
    }
    let config = parse_params(params)?;
    let kind = config
        .get("type")
        .cloned()
        .ok_or_else(|| user("Specify the type of remote with type="))?;
    let listed = match kind.as_str() {
        "directory" | "rsync" | "S3" => None,
        "external" => {
            let externaltype = config
                .get("externaltype")
                .cloned()
                .ok_or_else(|| user("Specify externaltype="))?;
            let remote = external::ExternalRemote::new(external::ExternalSetup {
                name: name.to_string(),
                uuid: Uuid::new_random(),
                externaltype,
                config: config.clone(),
                git_dir: session.repo.git_dir().to_path_buf(),
                top: session.base_dir(),
                cost: Some(annex_core::config::EXPENSIVE_REMOTE_COST),
            });
            remote.list_configs()?
        }
        other => {
            return Err(user(format!(
                "special remotes of type {other} are not supported yet by git-annex-rs"
            )));
        }
    };
    Ok(field_docs(&kind, listed.as_deref())
        .into_iter()
        .filter(|(n, _, _)| !config.contains_key(n))
        .collect())
}

/// Where encryption is being set up: a new remote, or one with the
/// configuration `remote.log` had.
enum Stage<'a> {
    Init,
    Enable(&'a Fields),
}

/// git-annex's `encryptionSetup`: the configuration with its cipher (new,
/// kept or re-encrypted for `keyid+=`/`keyid-=`) and without the
/// parameters used only to make it, and the notes to show.
fn encryption_setup(
    session: &Session,
    name: &str,
    stage: Stage<'_>,
    given: &Fields,
    mut config: Fields,
) -> Result<(Fields, Vec<String>), SpecialError> {
    use special::crypto::{Gpg, Scheme, StoredCipher, bad_encryption_message, scheme_of};
    if let Some(m) = given.get("mac")
        && special::crypto::Mac::parse(m).is_none()
    {
        return Err(user("bad mac value"));
    }
    let scheme = scheme_of(&config).ok_or_else(|| user(bad_encryption_message()))?;
    let yes = |k: &str| config.get(k).map(String::as_str) == Some("yes");
    let only_creds = yes("onlyencryptcreds");
    if only_creds && scheme == Scheme::Shared {
        return Err(user(
            "There is no security benefit to using onlyencryptcreds=yes with encryption=shared",
        ));
    }
    if only_creds && scheme == Scheme::None {
        return Err(user(
            "There is no security benefit to using onlyencryptcreds=yes with encryption=none",
        ));
    }
    let cannot_change = || user("Cannot set encryption type of existing remotes.");
    if let Stage::Enable(old) = stage {
        let old_scheme = match StoredCipher::extract(old) {
            None => Scheme::None,
            Some(StoredCipher::Shared(_)) => Scheme::Shared,
            Some(StoredCipher::Encrypted { pubkey: false, .. }) => Scheme::Hybrid,
            Some(StoredCipher::Encrypted { pubkey: true, .. }) => Scheme::PubKey,
            Some(StoredCipher::SharedPubKey { .. }) => Scheme::SharedPubKey,
        };
        if old_scheme != scheme {
            return Err(cannot_change());
        }
        if old.get("onlyencryptcreds") != config.get("onlyencryptcreds") {
            return Err(user("Cannot change onlyencryptcreds of existing remotes."));
        }
    }
    let gpg = Gpg::from_config(&session.config, name);
    let gpg_err = |e: special::crypto::CryptoError| user(e.to_string());
    let high_quality = match config.get("highRandomQuality").map(String::as_str) {
        None | Some("true") => true,
        Some("false") => false,
        Some(_) => return Err(user("expected highRandomQuality=true/false")),
    };
    let mut notes = Vec::new();
    let cipher = match StoredCipher::extract(&config) {
        None if scheme == Scheme::None => None,
        None => {
            if matches!(
                scheme,
                Scheme::Hybrid | Scheme::PubKey | Scheme::SharedPubKey
            ) && !config.contains_key("keyid")
            {
                return Err(user("Specify keyid=..."));
            }
            notes.push("encryption setup".to_string());
            Some(
                gpg.new_cipher(
                    scheme,
                    config.get("keyid").map(String::as_str),
                    high_quality,
                )
                .map_err(gpg_err)?,
            )
        }
        Some(StoredCipher::Shared(_)) if scheme == Scheme::Shared => None,
        Some(stored @ StoredCipher::Encrypted { pubkey, .. })
            if (scheme == Scheme::PubKey) == pubkey
                && matches!(scheme, Scheme::Hybrid | Scheme::PubKey) =>
        {
            notes.push("encryption update".to_string());
            Some(update_keys(&gpg, &config, stored)?)
        }
        Some(stored @ StoredCipher::SharedPubKey { .. }) => {
            notes.push("encryption update".to_string());
            Some(update_keys(&gpg, &config, stored)?)
        }
        Some(_) => return Err(cannot_change()),
    };
    for k in ["keyid", "keyid+", "keyid-", "highRandomQuality"] {
        config.remove(k);
    }
    if let Some(c) = cipher {
        notes.push(c.describe());
        c.store(&mut config);
    }
    Ok((config, notes))
}

/// git-annex's `updateCipherKeyIds`: the keys of `keyid+=` added and those
/// of `keyid-=` removed, the cipher re-encrypted to the result (when it is
/// encrypted).
fn update_keys(
    gpg: &special::crypto::Gpg,
    config: &Fields,
    stored: special::crypto::StoredCipher,
) -> Result<special::crypto::StoredCipher, SpecialError> {
    use special::crypto::StoredCipher;
    let gpg_err = |e: special::crypto::CryptoError| user(e.to_string());
    let find = |k: Option<&String>| -> Result<Vec<String>, SpecialError> {
        match k {
            Some(k) => gpg.find_pub_keys(k).map_err(gpg_err),
            None => Ok(Vec::new()),
        }
    };
    let add = find(config.get("keyid+"))?;
    let drop = find(config.get("keyid-"))?;
    if add.is_empty() && drop.is_empty() {
        return Ok(stored);
    }
    let keys = match &stored {
        StoredCipher::Encrypted { keys, .. } | StoredCipher::SharedPubKey { keys, .. } => {
            keys.clone()
        }
        StoredCipher::Shared(_) => return Err(user("Cannot update shared cipher")),
    };
    for k in &drop {
        if !keys.contains(k) {
            return Err(user(format!("Key {k} was not present; cannot remove.")));
        }
    }
    let new: Vec<String> = add
        .into_iter()
        .chain(keys)
        .filter(|k| !drop.contains(k))
        .collect();
    if new.is_empty() {
        return Err(user("Cannot remove the last key."));
    }
    match stored {
        StoredCipher::Encrypted { pubkey, .. } => {
            let cipher = gpg.decrypt_cipher(&stored).map_err(gpg_err)?;
            let raw = match &cipher {
                special::crypto::Cipher::Full(c) | special::crypto::Cipher::MacOnly(c) => c,
            };
            gpg.encrypt_cipher(raw, pubkey, new).map_err(gpg_err)
        }
        StoredCipher::SharedPubKey { data, .. } => {
            Ok(StoredCipher::SharedPubKey { data, keys: new })
        }
        StoredCipher::Shared(_) => Err(user("Cannot update shared cipher")),
    }
}

/// The special remote named `name` in `remote.log`: its UUID and
/// configuration.
fn find_logged(session: &Session, name: &str) -> Result<Option<(Uuid, Fields)>, SpecialError> {
    let mut found: Vec<(Uuid, BTreeMap<String, String>)> = configs(session)?
        .into_iter()
        .filter(|(_, c)| {
            c.get("name")
                .or_else(|| c.get("sameas-name"))
                .map(String::as_str)
                == Some(name)
        })
        .collect();
    Ok(found.pop())
}

/// The outcome of setting a special remote up.
#[derive(Debug)]
pub struct Setup {
    /// Its UUID.
    pub uuid: Uuid,
    /// Lines to show the user (enableremote of a remote learned from
    /// elsewhere asks for it to be verified).
    pub notes: Vec<String>,
    /// Short notes shown in the action's line, before `notes` (the
    /// encryption setup's: `encryption setup`, `to gpg keys: ID`).
    pub short_notes: Vec<String>,
}

/// `initremote NAME PARAM=VALUE...`: a new special remote.
pub fn init(session: &Session, name: &str, params: &[String]) -> Result<Setup, SpecialError> {
    init_with(session, name, params, &InitOptions::default())
}

/// `initremote`'s options beyond the parameters.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// `--sameas=REMOTE`: a new remote reaching the data of that one (a
    /// remote name, description or UUID).
    pub sameas: Option<String>,
    /// `--private`: the remote's information kept in the private journal,
    /// out of the `git-annex` branch.
    pub private: bool,
}

/// The fields a `sameas` remote takes from the remote it is the same as
/// (git-annex's `sameasInherits`): never stored in its own configuration.
pub const SAMEAS_INHERITED: &[&str] = &[
    "encryption",
    "mac",
    "cipher",
    "cipherkeys",
    "pubkeys",
    "chunksize",
    "chunk",
];

/// The configuration of a `sameas` remote with the fields it inherits
/// from its parent's (`parent`), as git-annex's `addSameasInherited`.
pub fn with_inherited(mut own: Fields, parent: Option<&Fields>) -> Fields {
    for f in SAMEAS_INHERITED {
        own.remove(*f);
        if let Some(v) = parent.and_then(|p| p.get(*f)) {
            own.insert(f.to_string(), v.clone());
        }
    }
    own
}

/// [`init`] with `--sameas` and `--private`.
pub fn init_with(
    session: &Session,
    name: &str,
    params: &[String],
    opts: &InitOptions,
) -> Result<Setup, SpecialError> {
    if find_logged(session, name)?.is_some() {
        return Err(user(format!(
            "There is already a special remote named \"{name}\". (Use enableremote to enable an existing special remote.)"
        )));
    }
    if session.config.remote(name).is_some()
        || special::configured(&session.config)
            .iter()
            .any(|r| r.name == name)
    {
        return Err(user(format!("There is already a remote named \"{name}\"")));
    }
    let mut config = parse_params(params)?;
    let logged = configs(session)?;
    // The remote it is the same as: its UUID is this remote's, its
    // configuration gives the inherited fields.
    let sameas = match &opts.sameas {
        None => None,
        Some(other) => {
            let descriptions = session.state.descriptions()?;
            let u = annex_core::config::resolve_repository(
                other,
                session.repo.uuid(),
                &session.config,
                &descriptions,
            )
            .map_err(|_| {
                user(format!(
                    "there is no available git remote named \"{other}\""
                ))
            })?;
            Some(u)
        }
    };
    let uuid = match (&sameas, config.remove("uuid")) {
        (Some(u), _) => u.clone(),
        (None, Some(u)) => Uuid::parse(u.as_bytes()).map_err(|_| user("invalid uuid"))?,
        (None, None) => Uuid::new_random(),
    };
    match &sameas {
        Some(u) => {
            config.insert("sameas-name".to_string(), name.to_string());
            config.insert("sameas-uuid".to_string(), u.as_str().to_string());
            // Only a parent with a configuration gives its fields; the
            // user's are kept otherwise (the reference's
            // `addSameasInherited`), and checked and set up below.
            if let Some(p) = logged.get(u) {
                config = with_inherited(config, Some(p));
            }
        }
        None => {
            config.insert("name".to_string(), name.to_string());
        }
    }
    let inherits = sameas.as_ref().is_some_and(|u| logged.contains_key(u));
    let kind = config
        .get("type")
        .cloned()
        .ok_or_else(|| user("Specify the type of remote with type="))?;
    if !inherits && special::crypto::scheme_of(&config).is_none() {
        return Err(user(special::crypto::bad_encryption_message()));
    }
    if opts.private {
        set_git(session, name, "annex-private", "true")?;
    }
    let given = config.clone();
    let (config, git_setting) = setup_type(session, name, &uuid, &kind, config)?;
    let (config, short_notes) = if inherits {
        // Its encryption is its parent's, set up already.
        (config, Vec::new())
    } else {
        encryption_setup(session, name, Stage::Init, &given, config)?
    };
    let config_uuid = sameas.as_ref().map(|_| Uuid::new_random());
    if opts.private {
        // The branch learns which repositories are private from git
        // config: written first, then the logs through a branch opened
        // anew (so they go to the private journal).
        write_git_config_as(
            session,
            name,
            &uuid,
            config_uuid.as_ref(),
            &git_setting,
            "verified",
        )?;
        let state = annex_core::state::State::new(annex_core::branch::Branch::open(
            session.repo.git_dir(),
        )?);
        write_logs(&state, name, &uuid, config_uuid.as_ref(), &config, inherits)?;
    } else {
        write_logs(
            &session.state,
            name,
            &uuid,
            config_uuid.as_ref(),
            &config,
            inherits,
        )?;
        write_git_config_as(
            session,
            name,
            &uuid,
            config_uuid.as_ref(),
            &git_setting,
            "verified",
        )?;
    }
    Ok(Setup {
        uuid,
        notes: Vec::new(),
        short_notes,
    })
}

/// `remote.log` (under the configuration's own UUID for a `sameas`
/// remote, its inherited fields left out when its parent has a configuration) and `uuid.log` (not for a
/// `sameas` remote, whose UUID is described already).
fn write_logs(
    state: &annex_core::state::State,
    name: &str,
    uuid: &Uuid,
    config_uuid: Option<&Uuid>,
    config: &Fields,
    inherits: bool,
) -> Result<(), SpecialError> {
    match config_uuid {
        Some(cu) => {
            // The inherited fields are the parent's: not stored again.
            let mut c = config.clone();
            if inherits {
                for f in SAMEAS_INHERITED {
                    c.remove(*f);
                }
            }
            state.set_remote_config(cu, to_bytes(&c))?;
        }
        None => {
            state.set_description(uuid, name.as_bytes())?;
            state.set_remote_config(uuid, to_bytes(config))?;
        }
    }
    Ok(())
}

fn set_git(session: &Session, name: &str, key: &str, value: &str) -> Result<(), SpecialError> {
    let full = format!("remote.{name}.{key}");
    if crate::git::set_config(session.repo.git_dir(), &full, value) {
        Ok(())
    } else {
        Err(SpecialError::Config(full))
    }
}

/// `enableremote NAME [PARAM=VALUE...]`: uses here a special remote set up
/// elsewhere (its configuration from `remote.log`, the parameters given
/// added to it).
pub fn enable(session: &Session, name: &str, params: &[String]) -> Result<Setup, SpecialError> {
    let (uuid, mut config) = lookup(session, name)?;
    // A `sameas` remote: its configuration is under its own UUID, the
    // remote's UUID is the one it is the same as, whose configuration
    // gives the inherited fields.
    // (A parent without a configuration gives nothing: its own fields
    // are kept, as the reference's `addSameasInherited`.)
    let mut inherits = false;
    let (uuid, config_uuid) = match config
        .get("sameas-uuid")
        .and_then(|u| Uuid::parse(u.as_bytes()).ok())
    {
        Some(parent) => {
            if let Some(p) = configs(session)?.get(&parent) {
                config = with_inherited(config, Some(p));
                inherits = true;
            }
            (parent, Some(uuid))
        }
        None => (uuid, None),
    };
    let given = parse_params(params)?;
    if let (Some(old), Some(new)) = (config.get("type"), given.get("type"))
        && old != new
    {
        return Err(user(
            "Cannot change type= of existing special remote. Instead, use: git-annex initremote --sameas",
        ));
    }
    if let Some(other) = special::configured(&session.config)
        .into_iter()
        .find(|r| r.name == name)
        && other.uuid.as_ref() != Some(&uuid)
    {
        return Err(user(format!(
            "Not overwriting currently configured git remote named \"{name}\""
        )));
    }
    let old = config.clone();
    config.extend(given.clone());
    let kind = config.get("type").cloned().unwrap_or_default();
    let (new_config, git_setting) = setup_type(session, name, &uuid, &kind, config)?;
    let (new_config, short_notes) =
        encryption_setup(session, name, Stage::Enable(&old), &given, new_config)?;
    // Written every time, as git-annex does.
    match &config_uuid {
        Some(cu) => write_logs(&session.state, name, &uuid, Some(cu), &new_config, inherits)?,
        None => session
            .state
            .set_remote_config(&uuid, to_bytes(&new_config))?,
    }
    // Its configuration came from elsewhere: the user is asked to verify
    // it before it is used.
    let id = crate::verify_remote::request(session.repo.git_dir(), &new_config)
        .map_err(|e| user(e.to_string()))?;
    let notes = crate::verify_remote::prompt(name, &new_config, id, false);
    let verified = "manual";
    write_git_config_as(
        session,
        name,
        &uuid,
        config_uuid.as_ref(),
        &git_setting,
        verified,
    )?;
    Ok(Setup {
        uuid,
        notes,
        short_notes,
    })
}

/// The special remotes of `remote.log` with `autoenable=true` that are not
/// set up here yet, enabled (at `init`): each name with the outcome.
pub fn autoenable(session: &Session) -> Vec<(String, Result<Setup, SpecialError>)> {
    let Ok(logged) = configs(session) else {
        return Vec::new();
    };
    let configured = special::configured(&session.config);
    let mut out = Vec::new();
    for (uuid, c) in logged {
        if c.get("autoenable").map(String::as_str) != Some("true") {
            continue;
        }
        let Some(name) = c.get("name").cloned() else {
            continue;
        };
        let known = configured.iter().any(|r| r.uuid.as_ref() == Some(&uuid))
            || session.config.remote(&name).is_some();
        if known {
            continue;
        }
        let result = enable_as(session, &name, &uuid, c);
        out.push((name, result));
    }
    out
}

fn enable_as(
    session: &Session,
    name: &str,
    uuid: &Uuid,
    config: BTreeMap<String, String>,
) -> Result<Setup, SpecialError> {
    let kind = config.get("type").cloned().unwrap_or_default();
    let (new_config, git_setting) = setup_type(session, name, uuid, &kind, config.clone())?;
    if new_config != config {
        session
            .state
            .set_remote_config(uuid, to_bytes(&new_config))?;
    }
    write_git_config(session, name, uuid, &git_setting, "automatic")?;
    Ok(Setup {
        uuid: uuid.clone(),
        notes: Vec::new(),
        short_notes: Vec::new(),
    })
}

/// The type's own setup: checks its parameters, runs an external
/// program's `INITREMOTE`; gives the configuration for `remote.log` and
/// the git config setting that marks the remote (`annex-TYPE`, value).
fn setup_type(
    session: &Session,
    name: &str,
    uuid: &Uuid,
    kind: &str,
    mut config: BTreeMap<String, String>,
) -> Result<(Fields, (String, String)), SpecialError> {
    match kind {
        "directory" => {
            check_fields(kind, &config, None)?;
            let dir = config
                .remove("directory")
                .filter(|d| !d.is_empty())
                .ok_or_else(|| user("Specify directory="))?;
            let abs = absolute(&session.base_dir(), Path::new(&dir));
            if !abs.is_dir() {
                return Err(user(format!("Directory does not exist: {}", abs.display())));
            }
            Ok((config, ("directory".to_string(), abs.display().to_string())))
        }
        "rsync" => {
            check_fields(kind, &config, None)?;
            let url = config
                .get("rsyncurl")
                .cloned()
                .ok_or_else(|| user("Specify rsyncurl="))?;
            if let Some(v) = config.get("shellescape")
                && !matches!(v.as_str(), "yes" | "no")
            {
                return Err(user("Bad value for shellescape (expected yes or no)"));
            }
            // Kept in git config too, so that it can differ between hosts.
            Ok((config, ("rsyncurl".to_string(), url)))
        }
        "S3" => {
            check_fields(kind, &config, None)?;
            let config = crate::special_s3::setup(session, name, uuid, config)?;
            Ok((config, ("s3".to_string(), "true".to_string())))
        }
        "external" => {
            let externaltype = config
                .get("externaltype")
                .cloned()
                .ok_or_else(|| user("Specify externaltype="))?;
            let top = session.base_dir();
            let remote = external::ExternalRemote::new(external::ExternalSetup {
                name: name.to_string(),
                uuid: uuid.clone(),
                externaltype: externaltype.clone(),
                config,
                git_dir: session.repo.git_dir().to_path_buf(),
                top,
                cost: None,
            });
            let listed = remote.list_configs()?;
            check_fields(kind, &remote.config(), listed.as_deref())?;
            let config = remote.initremote()?;
            remote
                .commit()
                .map_err(|e: RemoteError| user(e.to_string()))?;
            Ok((config, ("externaltype".to_string(), externaltype)))
        }
        "" => Err(user("Specify the type of remote with type=")),
        other => Err(user(format!(
            "special remotes of type {other} are not supported yet by git-annex-rs"
        ))),
    }
}

fn absolute(base: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    joined.canonicalize().unwrap_or_else(|_| {
        // Not there: `..` and `.` resolved by name, as git-annex shows it.
        let mut out = PathBuf::new();
        for c in joined.components() {
            match c {
                std::path::Component::ParentDir => {
                    out.pop();
                }
                std::path::Component::CurDir => {}
                other => out.push(other),
            }
        }
        out
    })
}

fn to_bytes(c: &BTreeMap<String, String>) -> BTreeMap<Vec<u8>, Vec<u8>> {
    c.iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

/// git config as git-annex writes it for a special remote, in its order.
fn write_git_config(
    session: &Session,
    name: &str,
    uuid: &Uuid,
    setting: &(String, String),
    verified: &str,
) -> Result<(), SpecialError> {
    write_git_config_as(session, name, uuid, None, setting, verified)
}

/// [`write_git_config`] with the UUID of a `sameas` remote's own
/// configuration (`annex-config-uuid`, after `annex-uuid`).
fn write_git_config_as(
    session: &Session,
    name: &str,
    uuid: &Uuid,
    config_uuid: Option<&Uuid>,
    setting: &(String, String),
    verified: &str,
) -> Result<(), SpecialError> {
    let mut settings = vec![
        (format!("annex-{}", setting.0), setting.1.clone()),
        ("annex-uuid".to_string(), uuid.as_str().to_string()),
    ];
    if let Some(cu) = config_uuid {
        settings.push(("annex-config-uuid".to_string(), cu.as_str().to_string()));
    }
    settings.push(("annex-verified".to_string(), verified.to_string()));
    // Enabled automatically: git-annex leaves `skipFetchAll` unset.
    if verified != "automatic" {
        settings.push(("skipFetchAll".to_string(), "true".to_string()));
    }
    for (k, v) in settings {
        set_git(session, name, &k, &v)?;
    }
    Ok(())
}

/// git-annex's error for a special remote name it does not know (also
/// for no name): `prefix`, then the git remotes not in use, then the
/// special remotes known (`UUID -- DESCRIPTION [NAME]`).
pub fn unknown_name(session: &Session, prefix: &str) -> SpecialError {
    let mut msg = format!("{prefix}\n");
    for r in session.config.remotes() {
        if r.uuid.is_none() || r.ignore {
            msg.push_str(&format!("\t{}\n", r.name));
        }
    }
    let logged = configs(session).unwrap_or_default();
    if logged.is_empty() {
        msg.push_str("(No special remotes are currently known; perhaps use initremote instead?)");
    } else {
        let descriptions = session.state.descriptions().unwrap_or_default();
        for (uuid, c) in &logged {
            let name = c.get("name").cloned().unwrap_or_default();
            let desc = descriptions
                .get(uuid)
                .map(|d| String::from_utf8_lossy(d).into_owned())
                .unwrap_or_default();
            let shown = if desc.is_empty() || desc == name {
                format!("[{name}]")
            } else {
                format!("{desc} [{name}]")
            };
            msg.push_str(&format!("\t{} -- {shown}\n", uuid.as_str()));
        }
    }
    SpecialError::User(msg)
}

/// The special remote `name` names for `enableremote`/`configremote`: by
/// its name in `remote.log`, else as a repository (UUID, description) that
/// is a special remote.
fn lookup(session: &Session, name: &str) -> Result<(Uuid, Fields), SpecialError> {
    if let Some(found) = find_logged(session, name)? {
        return Ok(found);
    }
    let descriptions = session.state.descriptions()?;
    let logged = configs(session)?;
    match annex_core::config::resolve_repository(
        name,
        session.repo.uuid(),
        &session.config,
        &descriptions,
    ) {
        Ok(u) if logged.contains_key(&u) => {
            let c = logged.get(&u).cloned().unwrap_or_default();
            Ok((u, c))
        }
        Ok(_) | Err(_) => Err(unknown_name(
            session,
            &format!("there is no available git remote named \"{name}\""),
        )),
    }
}

/// `configremote NAME PARAM=VALUE...`: changes the fields that are safe to
/// change without the remote's own setup (`autoenable` only, as git-annex).
pub fn configure(session: &Session, name: &str, params: &[String]) -> Result<(), SpecialError> {
    let (uuid, mut config) = lookup(session, name)?;
    let given = parse_params(params)?;
    for (k, v) in &given {
        if k != "autoenable" {
            return Err(user(format!(
                "Cannot change field \"{k}\" with this command. Use git-annex enableremote instead."
            )));
        }
        if !matches!(v.as_str(), "true" | "false" | "yes" | "no") {
            return Err(user("Bad value for autoenable (expected true or false)"));
        }
    }
    config.extend(given);
    session.state.set_remote_config(&uuid, to_bytes(&config))?;
    Ok(())
}

/// Checks `enableremote NAME` before it starts: the remote must be known
/// (git-annex fails before the action for an unknown name).
pub fn enable_check(session: &Session, name: &str) -> Result<(), SpecialError> {
    lookup(session, name).map(drop)
}

/// Checks `configremote NAME` before it starts: the remote must be known
/// (git-annex fails before the action for an unknown name).
pub fn configure_check(session: &Session, name: &str) -> Result<(), SpecialError> {
    lookup(session, name).map(drop)
}

/// The name a `remote.log` entry gives its remote: `name`, else a
/// `sameas` remote's `sameas-name` (the reference's `lookupName`).
fn logged_name(c: &Fields) -> Option<&str> {
    c.get("name")
        .or_else(|| c.get("sameas-name"))
        .map(String::as_str)
}

/// `renameremote OLD NEW`: the name recorded in `remote.log` (the git
/// remote keeps its name, as git-annex does).
pub fn rename_check(
    session: &Session,
    old: &str,
    new: &str,
) -> Result<(Uuid, Fields), SpecialError> {
    // A `sameas` remote's entry is taken from `remote.log` as it is (the
    // reference's `remoteConfigMap`): its verified configuration has its
    // parent's fields, which must not be written into its own entry.
    // Other remotes' entries are their configurations as `configs` gives
    // them, as before.
    let mut logged = configs(session)?;
    for (u, c) in session.state.remotes()?.iter() {
        let c = special::strings(c);
        if c.contains_key("sameas-uuid") {
            logged.insert(u.clone(), c);
        }
    }
    let named = |n: &str| -> Vec<(Uuid, Fields)> {
        logged
            .iter()
            .map(|(u, c)| (u.clone(), c.clone()))
            .filter(|(_, c)| logged_name(c) == Some(n))
            .collect()
    };
    let found = named(old);
    match found.len() {
        1 => {
            if !named(new).is_empty() {
                return Err(user(format!(
                    "The name {new} is already used by a special remote."
                )));
            }
            found.into_iter().next().ok_or_else(|| user("internal"))
        }
        0 => {
            let descriptions = session.state.descriptions()?;
            let u = annex_core::config::resolve_repository(
                old,
                session.repo.uuid(),
                &session.config,
                &descriptions,
            )
            .map_err(|e| user(e.to_string()))?;
            match logged.get(&u) {
                Some(c) => Ok((u.clone(), c.clone())),
                None => Err(user("That is not a special remote.")),
            }
        }
        _ => Err(user(format!(
            "There are multiple special remotes named {old}. Provide instead the uuid or description of the remote to rename."
        ))),
    }
}

/// Records the new name of a special remote found by [`rename_check`].
pub fn rename(
    session: &Session,
    uuid: &Uuid,
    mut config: Fields,
    new: &str,
) -> Result<(), SpecialError> {
    // A `sameas` remote's name is its `sameas-name`, in its own entry
    // (the reference's `sameasNameField`); `name` there would be taken
    // for the parent's by older versions.
    let field = if config.contains_key("sameas-uuid") {
        "sameas-name"
    } else {
        "name"
    };
    config.insert(field.to_string(), new.to_string());
    session.state.set_remote_config(uuid, to_bytes(&config))?;
    Ok(())
}
