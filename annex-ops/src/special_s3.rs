//! The setup of `type=S3` remotes for `initremote` and `enableremote`
//! (`annex_ops::special` dispatches here), as git-annex's S3 setup does
//! it: the defaults (`datacenter=US`, `storageclass=STANDARD`,
//! `host=s3.amazonaws.com`, `port=80`, `bucket=NAME-UUID`) written to
//! `remote.log`; the credentials from the environment (or the local
//! cache, or `remote.log`) cached in `.git/annex/creds/UUID` and, with
//! `embedcreds=yes`, stored in `remote.log` as `s3creds=`; the bucket's
//! location asked when neither `datacenter=` nor `region=` is given; at
//! `initremote`, the bucket made unless it is there and its `annex-uuid`
//! object written (a bucket whose `annex-uuid` names another remote is
//! refused), and versioning turned on with `versioning=yes`, which
//! `enableremote` may not change.

use std::collections::BTreeMap;

use annex_core::remote::special::s3::{self, S3Client, S3Config};
use annex_core::remote::special::web::AddressPolicy;
use annex_core::uuid::Uuid;

use crate::session::Session;
use crate::special::SpecialError;

type Fields = BTreeMap<String, String>;

fn user(s: impl Into<String>) -> SpecialError {
    SpecialError::User(s.into())
}

fn s3err(e: s3::S3Error) -> SpecialError {
    user(e.to_string())
}

/// Sets a remote up: gives the configuration for `remote.log`.
pub(crate) fn setup(
    session: &Session,
    name: &str,
    uuid: &Uuid,
    mut config: Fields,
) -> Result<Fields, SpecialError> {
    if config
        .get("host")
        .is_some_and(|h| h.to_lowercase().ends_with(".archive.org"))
    {
        return Err(user(
            "the Internet Archive's S3 mode is not supported yet by git-annex-rs",
        ));
    }
    let old = session
        .state
        .remotes()?
        .get(uuid)
        .map(annex_core::remote::special::strings);
    let initializing = old.is_none();
    let located = config.contains_key("datacenter") || config.contains_key("region");
    let defaults = [
        ("datacenter", "US".to_string()),
        ("storageclass", "STANDARD".to_string()),
        ("host", s3::DEFAULT_HOST.to_string()),
        ("port", "80".to_string()),
        ("bucket", format!("{name}-{}", uuid.as_str())),
    ];
    for (k, v) in defaults {
        config.entry(k.to_string()).or_insert(v);
    }
    let policy = AddressPolicy::parse(
        session
            .config
            .get_str("annex.security.allowed-ip-addresses")
            .as_deref(),
    );
    let git_dir = session.repo.git_dir();
    let anonymous = config.get("signature").map(String::as_str) == Some("anonymous");
    let mut creds = None;
    if !anonymous {
        creds = s3::credentials(git_dir, uuid, &config).map_err(s3err)?;
        // The reference finds no credentials before it reads the rest.
        if creds.is_none() && initializing {
            return Err(user(format!(
                "{}\nNo S3 credentials configured",
                s3::S3Error::NoCreds
            )));
        }
        S3Config::parse(&config).map_err(s3err)?;
        if let Some(c) = &creds {
            if config.get("embedcreds").map(String::as_str) == Some("yes") {
                // An encrypted remote's credentials are embedded encrypted
                // with its cipher by the reference: never in plain text
                // here. What `remote.log` already has is kept.
                if !is_encrypted(&config) {
                    config.insert("s3creds".to_string(), c.embedded());
                } else if !config.contains_key("s3creds") {
                    return Err(user(
                        "embedding the credentials of an encrypted S3 remote (embedcreds=yes) is not supported yet by git-annex-rs",
                    ));
                }
            }
            s3::write_creds_cache(git_dir, uuid, c).map_err(s3err)?;
        }
        if !located {
            // Asked without credentials, as git-annex asks it.
            let mut anon = config.clone();
            anon.insert("signature".to_string(), "anonymous".to_string());
            if let Ok(acfg) = S3Config::parse(&anon)
                && let Ok(client) = S3Client::new(acfg, None, &policy)
                && let Some(loc) = client.location()
            {
                config.insert("datacenter".to_string(), loc);
            }
        }
    }
    let cfg = S3Config::parse(&config).map_err(s3err)?;
    match old {
        None => {}
        Some(old) => {
            let was = old.get("versioning").map(String::as_str) == Some("yes");
            if was != cfg.versioning {
                return Err(user("Cannot change versioning= of existing S3 remote."));
            }
        }
    }
    if initializing {
        let client = S3Client::new(cfg.clone(), creds, &policy).map_err(s3err)?;
        gen_bucket(&client, uuid)?;
        if cfg.versioning {
            client.enable_versioning().map_err(|e| {
                user(format!(
                    "This bucket does not have versioning enabled, and enabling it failed: {e}"
                ))
            })?;
        }
    }
    Ok(config)
}

/// Makes the bucket unless its `annex-uuid` already names this remote or
/// it is there, then writes `annex-uuid`.
fn gen_bucket(client: &S3Client, uuid: &Uuid) -> Result<(), SpecialError> {
    let obj = client.config().uuid_object();
    let ours = uuid.as_str().as_bytes();
    if let Ok(Some(v)) = client.get_bytes(&obj)
        && v == ours
    {
        return Ok(());
    }
    if !client.bucket_exists().unwrap_or(false) {
        client.create_bucket().map_err(s3err)?;
    }
    match client.get_bytes(&obj).map_err(s3err)? {
        Some(v) if v == ours => Ok(()),
        Some(_) => Err(user(
            "The bucket already exists, and its annex-uuid file indicates it is used by a different special remote.\nCannot reuse this bucket.",
        )),
        None => client.put_bytes(&obj, ours.to_vec()).map_err(s3err),
    }
}

/// Whether a remote's configuration makes it an encrypted one, whose
/// credentials must never be embedded in plain text. An old remote may have
/// `cipher=` (or `keyid=`) without `encryption=`: it is encrypted too.
fn is_encrypted(config: &BTreeMap<String, String>) -> bool {
    use annex_core::remote::special::crypto::{Scheme, scheme_of};
    scheme_of(config).is_some_and(|s| s != Scheme::None)
        || config.contains_key("cipher")
        || config.contains_key("cipherkeys")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn embedcreds_old_remote_with_cipher_but_no_encryption_field_is_encrypted() {
        assert!(is_encrypted(&cfg(&[
            ("type", "S3"),
            ("cipher", "abcd"),
            ("cipherkeys", "0123456789ABCDEF"),
        ])));
        assert!(is_encrypted(&cfg(&[("cipherkeys", "0123456789ABCDEF")])));
        assert!(is_encrypted(&cfg(&[("encryption", "shared")])));
        assert!(is_encrypted(&cfg(&[("encryption", "hybrid")])));
        assert!(!is_encrypted(&cfg(&[("encryption", "none")])));
        assert!(!is_encrypted(&cfg(&[("type", "S3")])));
    }
}
