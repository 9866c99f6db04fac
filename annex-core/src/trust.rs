//! The trust level every decision uses: `trust.log`'s current levels,
//! overridden by the git config of the remotes, as git-annex makes its
//! trust map.
//!
//! git-annex never counts on `trust.log` alone: a remote whose git config
//! sets `remote.NAME.annex-trustlevel` (`trusted`, `semitrusted`,
//! `untrusted` or `dead`) has that level whatever the log says, as long as
//! the remote's UUID is known (`remote.NAME.annex-uuid`). A value that is
//! none of those names is ignored (the logged level stays). Repositories
//! in neither place are semitrusted.
//!
//! Every command that counts copies, drops, lists repositories by trust
//! or evaluates preferred content takes its levels from [`levels`] (or
//! [`State::trust`](crate::state::State::trust), which reads the log
//! and calls it), so that a drop never counts a copy the user said not to
//! trust.
//!
//! ```
//! use std::collections::BTreeMap;
//! use annex_core::{config::AnnexConfig, logs::trust::TrustLevel, trust, uuid::Uuid};
//! let u = Uuid::parse(b"11111111-2222-3333-4444-555555555555").unwrap();
//! let logged = BTreeMap::from([(u.clone(), TrustLevel::Trusted)]);
//! // No remote configures a level: the log is the answer.
//! let m = trust::levels(logged, &AnnexConfig::default());
//! assert_eq!(trust::level_of(&m, &u), TrustLevel::Trusted);
//! assert_eq!(trust::parse_level("untrusted"), Some(TrustLevel::Untrusted));
//! assert_eq!(trust::parse_level("Untrusted"), None);
//! ```

use std::collections::BTreeMap;

use crate::config::AnnexConfig;
use crate::logs::trust::TrustLevel;
use crate::uuid::Uuid;

/// A trust level by its git-annex name (`trusted`, `semitrusted`,
/// `untrusted`, `dead`), exactly as written: git-annex matches the names
/// case-sensitively, and anything else is no level.
pub fn parse_level(s: &str) -> Option<TrustLevel> {
    match s {
        "trusted" => Some(TrustLevel::Trusted),
        "semitrusted" => Some(TrustLevel::SemiTrusted),
        "untrusted" => Some(TrustLevel::Untrusted),
        "dead" => Some(TrustLevel::Dead),
        _ => None,
    }
}

/// The trust level the git config forces on each remote with a known UUID
/// (`remote.NAME.annex-trustlevel` with `remote.NAME.annex-uuid`); values
/// that are not a level name are left out.
pub fn configured(config: &AnnexConfig) -> BTreeMap<Uuid, TrustLevel> {
    let mut out = BTreeMap::new();
    for (name, values) in config.entries() {
        let Some(remote) = name
            .strip_prefix("remote.")
            .and_then(|r| r.strip_suffix(".annex-trustlevel"))
        else {
            continue;
        };
        // The last value wins, as git reads a single-valued setting.
        let Some(level) = values
            .last()
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(parse_level)
        else {
            continue;
        };
        let uuid = config
            .get_str(&format!("remote.{remote}.annex-uuid"))
            .and_then(|v| Uuid::parse(v.as_bytes()).ok());
        if let Some(uuid) = uuid {
            out.insert(uuid, level);
        }
    }
    out
}

/// The effective trust map: `logged` (the current levels of `trust.log`)
/// with the levels [`configured`] in git config laid over it.
pub fn levels(
    mut logged: BTreeMap<Uuid, TrustLevel>,
    config: &AnnexConfig,
) -> BTreeMap<Uuid, TrustLevel> {
    logged.extend(configured(config));
    logged
}

/// A repository's level in a trust map: semitrusted when not in it.
pub fn level_of(map: &BTreeMap<Uuid, TrustLevel>, uuid: &Uuid) -> TrustLevel {
    map.get(uuid).copied().unwrap_or(TrustLevel::SemiTrusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uuid(n: u8) -> Uuid {
        Uuid::parse(format!("{n:08}-0000-0000-0000-000000000000").as_bytes()).expect("uuid")
    }

    fn config(settings: &[(&str, &str)]) -> AnnexConfig {
        let repo = tempfile::tempdir().expect("temp dir");
        let r = gix::init(repo.path()).expect("git init");
        let overrides: Vec<String> = settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
        AnnexConfig::from_repo(&r, &overrides).expect("config")
    }

    #[test]
    fn names_are_exact() {
        for l in [
            TrustLevel::Trusted,
            TrustLevel::SemiTrusted,
            TrustLevel::Untrusted,
            TrustLevel::Dead,
        ] {
            assert_eq!(parse_level(l.name()), Some(l));
        }
        assert_eq!(parse_level("TRUSTED"), None);
        assert_eq!(parse_level(" trusted"), None);
        assert_eq!(parse_level(""), None);
    }

    #[test]
    fn config_overrides_the_log_for_remotes_with_a_uuid() {
        let (a, b, c) = (uuid(1), uuid(2), uuid(3));
        let cfg = config(&[
            ("remote.origin.url", "../a"),
            ("remote.origin.annex-uuid", &a.to_string()),
            ("remote.origin.annex-trustlevel", "untrusted"),
            ("remote.Other.annex-uuid", &b.to_string()),
            ("remote.Other.annex-trustlevel", "dead"),
            // No UUID: nothing to override.
            ("remote.nouuid.url", "../x"),
            ("remote.nouuid.annex-trustlevel", "trusted"),
            // Not a level: the logged one stays.
            ("remote.bad.annex-uuid", &c.to_string()),
            ("remote.bad.annex-trustlevel", "very"),
        ]);
        let logged = BTreeMap::from([
            (a.clone(), TrustLevel::Trusted),
            (c.clone(), TrustLevel::Untrusted),
        ]);
        let m = levels(logged, &cfg);
        assert_eq!(level_of(&m, &a), TrustLevel::Untrusted);
        assert_eq!(level_of(&m, &b), TrustLevel::Dead);
        assert_eq!(level_of(&m, &c), TrustLevel::Untrusted);
        assert_eq!(level_of(&m, &uuid(4)), TrustLevel::SemiTrusted);
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn the_last_configured_value_wins() {
        let a = uuid(1);
        let cfg = config(&[
            ("remote.r.annex-uuid", &a.to_string()),
            ("remote.r.annex-trustlevel", "trusted"),
            ("remote.r.annex-trustlevel", "untrusted"),
        ]);
        assert_eq!(
            level_of(&levels(BTreeMap::new(), &cfg), &a),
            TrustLevel::Untrusted
        );
    }
}
