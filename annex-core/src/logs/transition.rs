//! The `ForgetDeadRemotes` transition of `git annex forget --drop-dead`:
//! what each file of the `git-annex` branch becomes once everything it
//! says about dead repositories is removed, as git-annex's transition
//! rewrites it.
//!
//! - `trust.log` is kept as it is: other clones not merged yet may still
//!   hold data about the dead repositories, and it remembers which they
//!   are.
//! - `remote.log`: dead repositories' configurations go; a configuration
//!   whose `sameas-uuid` names a dead repository counts as dead too and
//!   keeps only that field.
//! - Logs keyed by UUID (`uuid.log`, `group.log`, preferred and required
//!   content, `schedule.log`, `activity.log`, `difference.log`,
//!   `multicast.log`; `export.log`, `proxy.log`, `cluster.log`,
//!   `maxsize.log`, remote state `.log.rmt`, content identifiers
//!   `.log.cid`), chunk logs (`.log.cnk`) and location logs lose the
//!   records of dead repositories (and are compacted, as git-annex
//!   rewrites them); per-remote metadata (`.log.rmet`) loses the dead
//!   repositories' fields, and lines left empty.
//! - Every other file (URL logs, metadata, numcopies, config, ...) is
//!   kept.
//!
//! A file left empty is removed from the branch.
//!
//! ```
//! use annex_core::logs::transition::{DeadSet, Rewrite, drop_dead};
//! let dead = DeadSet::new([b"d0d0d0d0-0000-4000-8000-000000000000".to_vec()]);
//! let log = b"1s 1 d0d0d0d0-0000-4000-8000-000000000000\n2s 1 a1a1a1a1-0000-4000-8000-000000000000\n";
//! let path = b"aaa/bbb/SHA256E-s1--00.log";
//! assert_eq!(
//!     drop_dead(path, log, &dead),
//!     Rewrite::Change(b"2s 1 a1a1a1a1-0000-4000-8000-000000000000\n".to_vec())
//! );
//! ```

use std::collections::HashSet;

use super::format::{Bytes, Layout, MapLog};
use super::metadata;
use super::presence::PresenceLog;
use super::remote::{self, RemoteConfig};
use super::{LogKind, trust};

/// What a transition makes of one file of the branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rewrite {
    /// The file stays as it is.
    Preserve,
    /// The file's new content (empty: the file is removed).
    Change(Vec<u8>),
}

/// The UUIDs (as bytes) whose data the transition removes.
#[derive(Debug, Clone, Default)]
pub struct DeadSet {
    /// Dead by `trust.log`.
    trusted: HashSet<Vec<u8>>,
    /// Those, and the special remotes the same as one of them.
    all: HashSet<Vec<u8>>,
}

impl DeadSet {
    /// A set of the given UUIDs, dead by `trust.log`.
    pub fn new(uuids: impl IntoIterator<Item = Vec<u8>>) -> DeadSet {
        let trusted: HashSet<Vec<u8>> = uuids.into_iter().collect();
        DeadSet {
            all: trusted.clone(),
            trusted,
        }
    }

    /// The repositories dead by `trust.log`, and the special remotes of
    /// `remote.log` whose `sameas-uuid` names one of them (git-annex
    /// counts those dead too).
    pub fn from_logs(trust_log: &[u8], remote_log: &[u8]) -> DeadSet {
        let trusted: HashSet<Vec<u8>> = trust::parse(trust_log)
            .current()
            .into_iter()
            .filter(|(_, l)| *l == trust::TrustLevel::Dead)
            .map(|(u, _)| u.as_str().as_bytes().to_vec())
            .collect();
        let sameas: Vec<Vec<u8>> = remote::parse(remote_log)
            .current()
            .into_iter()
            .filter(|(_, c)| {
                c.get(SAMEAS)
                    .is_some_and(|target| trusted.contains(target.as_slice()))
            })
            .map(|(u, _)| u.as_str().as_bytes().to_vec())
            .collect();
        let mut all = trusted.clone();
        all.extend(sameas);
        DeadSet { trusted, all }
    }

    /// Whether no repository is dead (the transition then changes
    /// nothing but compaction).
    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    fn contains(&self, uuid: &[u8]) -> bool {
        self.all.contains(uuid)
    }
}

/// The field of a special remote's configuration naming the remote it is
/// the same as.
const SAMEAS: &[u8] = b"sameas-uuid";

/// The old-layout logs keyed by UUID (besides `remote.log` and
/// `trust.log`, handled on their own).
const OLD_UUID_LOGS: &[&[u8]] = &[
    b"uuid.log",
    b"group.log",
    b"preferred-content.log",
    b"required-content.log",
    b"schedule.log",
    b"activity.log",
    b"difference.log",
    b"multicast.log",
];

/// The new-layout logs keyed by UUID at the top of the branch.
const NEW_UUID_LOGS: &[&[u8]] = &[b"export.log", b"proxy.log", b"cluster.log", b"maxsize.log"];

/// What `path`'s `content` becomes with `dead`'s data removed.
pub fn drop_dead(path: &[u8], content: &[u8], dead: &DeadSet) -> Rewrite {
    if path == b"trust.log" {
        return Rewrite::Preserve;
    }
    if path == b"remote.log" {
        let mut log = remote::parse(content);
        // A sameas remote of a dead one keeps only that field (remote.log
        // is not rid of it, like trust.log, for clones not merged yet);
        // the dead themselves go.
        log.retain(|u, e| {
            let u = u.as_str().as_bytes();
            if dead.trusted.contains(u) {
                return false;
            }
            if dead.contains(u) {
                let kept = e.value.0.get(SAMEAS).cloned();
                e.value = RemoteConfig(kept.map(|v| (SAMEAS.to_vec(), v)).into_iter().collect());
            }
            true
        });
        return Rewrite::Change(log.serialize());
    }
    if OLD_UUID_LOGS.contains(&path) {
        return Rewrite::Change(filter_map_log(Layout::Old, content, dead, |f| f));
    }
    if NEW_UUID_LOGS.contains(&path) || path.ends_with(b".log.rmt") || path.ends_with(b".log.cid") {
        return Rewrite::Change(filter_map_log(Layout::New, content, dead, |f| f));
    }
    if path.ends_with(b".log.cnk") {
        // `CLOCK UUID:CHUNKING COUNT`: the field's UUID is before the colon.
        return Rewrite::Change(filter_map_log(Layout::New, content, dead, |f| {
            f.split(|&b| b == b':').next().unwrap_or(f)
        }));
    }
    match LogKind::of_path(path) {
        Some(LogKind::Location(_)) => {
            let log = PresenceLog::parse(content);
            let kept = log
                .lines()
                .iter()
                .filter(|l| !dead.contains(&l.info))
                .cloned()
                .collect();
            Rewrite::Change(PresenceLog::from_lines(kept).compacted().serialize())
        }
        Some(LogKind::RemoteMetaData(_)) => {
            let log = metadata::simplify(&metadata::parse(content));
            let entries = log.entries().iter().cloned().filter_map(|mut e| {
                e.value.fields.retain(|_, f| {
                    let name = f.name.as_bytes();
                    match memchr::memchr(b':', name) {
                        // A field of a remote: `UUID:FIELD` (FIELD not empty).
                        Some(i) if i + 1 < name.len() => !dead.contains(&name[..i]),
                        _ => true,
                    }
                });
                (!e.value.is_empty()).then_some(e)
            });
            Rewrite::Change(metadata::MetaDataLog::from_entries(entries).serialize())
        }
        _ => Rewrite::Preserve,
    }
}

/// A map log of `layout` without the records whose field's UUID (as
/// `uuid_of` finds it in the field) is dead, compacted.
fn filter_map_log(
    layout: Layout,
    content: &[u8],
    dead: &DeadSet,
    uuid_of: impl Fn(&[u8]) -> &[u8],
) -> Vec<u8> {
    let mut log: MapLog<Bytes, Bytes> = MapLog::parse(layout, content);
    log.retain(|f, _| !dead.contains(uuid_of(&f.0)));
    log.serialize()
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "d0d0d0d0-0000-4000-8000-000000000000";
    const A: &str = "a1a1a1a1-0000-4000-8000-000000000000";

    fn dead() -> DeadSet {
        DeadSet::new([D.as_bytes().to_vec()])
    }

    fn change(path: &str, content: &str) -> String {
        match drop_dead(path.as_bytes(), content.as_bytes(), &dead()) {
            Rewrite::Change(c) => String::from_utf8(c).unwrap(),
            Rewrite::Preserve => panic!("{path} preserved"),
        }
    }

    #[test]
    fn uuid_keyed_logs_lose_the_dead_and_keep_the_living() {
        let log = format!("{D} dead one timestamp=1s\n{A} alive timestamp=2s\n");
        assert_eq!(
            change("uuid.log", &log),
            format!("{A} alive timestamp=2s\n")
        );
        let log = format!("1s {D} 100\n2s {A} 200\n");
        assert_eq!(change("maxsize.log", &log), format!("2s {A} 200\n"));
        let log = format!("1s {D}:10 3\n2s {A}:10 4\n");
        assert_eq!(change("aaa/bbb/K.log.cnk", &log), format!("2s {A}:10 4\n"));
        assert_eq!(change("uuid.log", &format!("{D} x timestamp=1s\n")), "");
    }

    #[test]
    fn trust_log_and_url_logs_are_kept() {
        for p in [
            "trust.log",
            "aaa/bbb/K.log.web",
            "aaa/bbb/K.log.met",
            "numcopies.log",
        ] {
            assert_eq!(
                drop_dead(p.as_bytes(), b"x", &dead()),
                Rewrite::Preserve,
                "{p}"
            );
        }
    }

    #[test]
    fn a_sameas_remote_of_a_dead_one_keeps_only_its_sameas_field() {
        let s = "5a5a5a5a-0000-4000-8000-000000000000";
        let remote = format!(
            "{D} name=old type=directory timestamp=1s\n{s} name=alias sameas-uuid={D} type=directory timestamp=2s\n{A} name=live type=directory timestamp=3s\n"
        );
        let trust = format!("{D} X timestamp=1s\n");
        let set = DeadSet::from_logs(trust.as_bytes(), remote.as_bytes());
        let out = match drop_dead(b"remote.log", remote.as_bytes(), &set) {
            Rewrite::Change(c) => String::from_utf8(c).unwrap(),
            Rewrite::Preserve => panic!("preserved"),
        };
        assert_eq!(
            out,
            format!(
                "{s} sameas-uuid={D} timestamp=2s\n{A} name=live type=directory timestamp=3s\n"
            )
        );
        // Its other logs go as a dead repository's do.
        let loc = format!("1s 1 {s}\n2s 1 {A}\n");
        assert_eq!(
            drop_dead(b"aaa/bbb/SHA1-s1--ab.log", loc.as_bytes(), &set),
            Rewrite::Change(format!("2s 1 {A}\n").into_bytes())
        );
    }

    #[test]
    fn remote_metadata_loses_dead_fields_and_empty_lines() {
        let log = format!("1s {D}:f +x\n2s {A}:f +y {D}:g +z\n");
        assert_eq!(change("aaa/bbb/K.log.rmet", &log), format!("2s {A}:f +y\n"));
    }

    #[test]
    fn location_logs_are_compacted() {
        let log = format!("1s 1 {A}\n2s 0 {A}\n3s 1 {D}\n");
        assert_eq!(
            change("aaa/bbb/SHA1-s1--ab.log", &log),
            format!("2s 0 {A}\n")
        );
    }
}
