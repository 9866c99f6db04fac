//! What the last complete content pass of `sync --content` worked from, so
//! that the next pass does only what may have changed since.
//!
//! A content pass decides what to get, send and drop from three things:
//! the annexed files of the work tree (or every key, with `--all` or in a
//! bare repository); the `git-annex` branch (location logs, preferred
//! content, trust, groups, numcopies, ...); and settings kept in neither
//! (git config, the remotes taking part, the command's options, attributes
//! files outside the tree), summed up by a [`Fingerprint`]. When a pass
//! completes (every remote reachable, no transfer or drop failed, nothing
//! left for want of disk space), its caller writes a [`PassRecord`]: the
//! fingerprint, the tree of `HEAD` the files came from, and the
//! `git-annex` tip the decisions were read from. A full pass over the work
//! tree also writes a [`FileMap`]: each annexed file with its key.
//!
//! The next pass, once the work tree is known to hold what `HEAD` holds
//! and the journal is empty, compares:
//!
//! - same fingerprint, tree and tip: every decision would be the same one
//!   again, so there is nothing to do and no file is looked at;
//! - same fingerprint and tree, another tip: only the keys whose own logs
//!   changed between the two tips ([`changed_keys`]) can be decided
//!   differently, and their files are found in the [`FileMap`], unless a
//!   log that is not a key's changed (preferred content, trust, groups,
//!   numcopies...) or an expression looks across keys (the balanced
//!   family, through the repositories' sizes; `unused`, through every
//!   branch);
//! - anything else: a full pass.
//!
//! The tip recorded is the one the pass *read*, not the one it leaves: the
//! changes a pass makes are looked at again by the next one, and only a
//! pass that finds nothing to do for them leaves a record that lets the
//! following one skip. That is the proof that a repeated sync has nothing
//! more to do, whatever the order the first one took.
//!
//! What this cannot see, git-annex's pass would not see either without
//! asking each file: content added to or removed from an object store
//! behind git-annex's back, without a location log change (`fsck`
//! repairs that, and the next change of the key brings it back in).
//!
//! Both files live in `.git/annex` ([`RECORD_FILE`], [`FILES_FILE`]) and
//! are written atomically; one that cannot be read, is cut short (the map
//! says how many files it holds), or is of another format counts as
//! absent.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use annex_core::key::Key;
use gix::ObjectId;
use md5::{Digest, Md5};

use crate::sync::{SyncError, remove_record, write_record};

/// The record's file name under `.git/annex`.
pub const RECORD_FILE: &str = "rs-sync-content";
/// The file map's file name under `.git/annex`.
pub const FILES_FILE: &str = "rs-sync-content-files";

const RECORD_MAGIC: &str = "git-annex-rs sync content record 1";
const FILES_MAGIC: &str = "git-annex-rs sync content files 1";

/// A digest of the settings a content pass depends on that are neither in
/// the work tree nor in the `git-annex` branch. Each setting is added with
/// a name; the order of the additions matters.
#[derive(Clone, Default)]
pub struct Fingerprint {
    hasher: Md5,
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fingerprint").finish_non_exhaustive()
    }
}

impl Fingerprint {
    /// An empty fingerprint.
    pub fn new() -> Fingerprint {
        Fingerprint::default()
    }

    /// Adds the setting `name` with the value `value` (lengths are added
    /// too, so no two different sequences of settings read the same).
    pub fn add(&mut self, name: &str, value: &[u8]) {
        for part in [name.as_bytes(), value] {
            self.hasher.update((part.len() as u64).to_le_bytes());
            self.hasher.update(part);
        }
    }

    /// The digest, in hexadecimal.
    pub fn hex(&self) -> String {
        self.hasher
            .clone()
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// What a complete content pass worked from (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassRecord {
    /// The settings' [`Fingerprint::hex`].
    pub settings: String,
    /// The tree of `HEAD` whose files the pass looked at; `None` when it
    /// looked at keys only (a bare repository).
    pub tree: Option<ObjectId>,
    /// The `git-annex` branch commit the pass read.
    pub annex_tip: ObjectId,
}

impl PassRecord {
    /// The record's path in the git directory `git_dir`.
    pub fn path(git_dir: &Path) -> PathBuf {
        git_dir.join("annex").join(RECORD_FILE)
    }

    /// Reads the record; `None` when there is none or it cannot be read.
    pub fn load(git_dir: &Path) -> Option<PassRecord> {
        let text = std::fs::read_to_string(Self::path(git_dir)).ok()?;
        let mut lines = text.lines();
        if lines.next()? != RECORD_MAGIC {
            return None;
        }
        let mut field = |name: &str| lines.next()?.strip_prefix(name)?.strip_prefix(' ');
        let settings = field("settings")?.to_owned();
        let tree = match field("tree")? {
            "-" => None,
            t => Some(ObjectId::from_hex(t.as_bytes()).ok()?),
        };
        let annex_tip = ObjectId::from_hex(field("annex")?.as_bytes()).ok()?;
        Some(PassRecord {
            settings,
            tree,
            annex_tip,
        })
    }

    /// Writes the record atomically.
    pub fn save(&self, git_dir: &Path) -> Result<(), SyncError> {
        let tree = self.tree.map_or_else(|| "-".to_owned(), |t| t.to_string());
        let text = format!(
            "{RECORD_MAGIC}\nsettings {}\ntree {tree}\nannex {}\n",
            self.settings, self.annex_tip
        );
        write_record(&Self::path(git_dir), text.as_bytes())
    }

    /// Removes the record (after a pass that did not complete), so that
    /// the next pass is a full one.
    pub fn clear(git_dir: &Path) -> Result<(), SyncError> {
        remove_record(&Self::path(git_dir))
    }
}

/// One annexed file a full pass looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Its key.
    pub key: Key,
    /// Whether it is unlocked (a pointer file or its content).
    pub unlocked: bool,
    /// Its path from the top of the work tree.
    pub path: Vec<u8>,
}

/// The annexed files of the last full pass over a work tree, in the order
/// it looked at them, for the settings and tree it was made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMap {
    /// The settings' [`Fingerprint::hex`] (the options choose the files).
    pub settings: String,
    /// The tree of `HEAD` the files are from.
    pub tree: ObjectId,
    /// The files.
    pub files: Vec<FileEntry>,
}

impl FileMap {
    /// The map's path in the git directory `git_dir`.
    pub fn path(git_dir: &Path) -> PathBuf {
        git_dir.join("annex").join(FILES_FILE)
    }

    /// Reads the map when it was made for `settings` and `tree`; `None`
    /// when there is none, it was made for something else, or it cannot
    /// be read.
    pub fn load(git_dir: &Path, settings: &str, tree: ObjectId) -> Option<FileMap> {
        let data = std::fs::read(Self::path(git_dir)).ok()?;
        let header = format!("{FILES_MAGIC}\nsettings {settings}\ntree {tree}\nfiles ");
        let rest = data.strip_prefix(header.as_bytes())?;
        let end = rest.windows(2).position(|w| w == b"\n\n")?;
        let count: usize = std::str::from_utf8(&rest[..end]).ok()?.parse().ok()?;
        let body = &rest[end + 2..];
        // Every field ends with a NUL: a body that does not is damaged.
        let body = match body.split_last() {
            None => &[][..],
            Some((0, rest)) => rest,
            Some(_) => return None,
        };
        let mut files = Vec::new();
        if !body.is_empty() {
            let fields: Vec<&[u8]> = body.split(|&b| b == 0).collect();
            if !fields.len().is_multiple_of(3) {
                return None;
            }
            for f in fields.chunks_exact(3) {
                let unlocked = match f[1] {
                    b"L" => false,
                    b"U" => true,
                    _ => return None,
                };
                if f[2].is_empty() {
                    return None;
                }
                files.push(FileEntry {
                    key: Key::parse(f[0]).ok()?,
                    unlocked,
                    path: f[2].to_vec(),
                });
            }
        }
        // A map cut after a whole entry still parses: the count tells.
        if files.len() != count {
            return None;
        }
        Some(FileMap {
            settings: settings.to_owned(),
            tree,
            files,
        })
    }

    /// Writes the map atomically.
    pub fn save(&self, git_dir: &Path) -> Result<(), SyncError> {
        let mut data = format!(
            "{FILES_MAGIC}\nsettings {}\ntree {}\nfiles {}\n\n",
            self.settings,
            self.tree,
            self.files.len()
        )
        .into_bytes();
        for f in &self.files {
            data.extend_from_slice(f.key.as_bytes());
            data.push(0);
            data.push(if f.unlocked { b'U' } else { b'L' });
            data.push(0);
            data.extend_from_slice(&f.path);
            data.push(0);
        }
        write_record(&Self::path(git_dir), &data)
    }
}

/// Suffixes of the per-key logs of the `git-annex` branch, longest first
/// (location, URL, remote state, chunk, equivalent key, metadata, remote
/// metadata, content identifier logs).
const KEY_LOG_SUFFIXES: [&[u8]; 8] = [
    b".log.rmet",
    b".log.web",
    b".log.rmt",
    b".log.cnk",
    b".log.met",
    b".log.cid",
    b".log.ek",
    b".log",
];

/// Files of the branch's top that no content decision reads.
const IRRELEVANT_TOP_FILES: [&[u8]; 1] = [b"activity.log"];

/// The keys whose logs are among the branch paths `paths`, each once in
/// the order of its first log there (as
/// [`annex_core::branch::Branch::changed_paths`] gives them), or `None`
/// when a path is not a key's log and may change any decision (a global
/// log such as `preferred-content.log` or `trust.log`, or a file this
/// code does not know). Files no decision reads are left out.
pub fn changed_keys(paths: &[Vec<u8>]) -> Option<Vec<Key>> {
    let mut seen = HashSet::new();
    let mut keys = Vec::new();
    for p in paths {
        if !p.contains(&b'/') {
            if IRRELEVANT_TOP_FILES.contains(&p.as_slice()) {
                continue;
            }
            return None;
        }
        let name = p.rsplit(|&b| b == b'/').next().unwrap_or(p);
        let key = KEY_LOG_SUFFIXES.iter().find_map(|s| {
            name.strip_suffix(*s)
                .and_then(annex_core::objects::file_key)
        })?;
        if seen.insert(key.clone()) {
            keys.push(key);
        }
    }
    Some(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Key {
        Key::parse(s.as_bytes()).unwrap()
    }

    #[test]
    fn changed_keys_of_key_logs() {
        let paths = vec![
            b"aaa/bbb/SHA256E-s3--abc.txt.log".to_vec(),
            b"aaa/bbb/SHA256E-s3--abc.txt.log.met".to_vec(),
            b"ccc/ddd/SHA256E-s4--def.log.log".to_vec(),
            b"activity.log".to_vec(),
        ];
        let keys = changed_keys(&paths).unwrap();
        assert_eq!(
            keys,
            [key("SHA256E-s3--abc.txt"), key("SHA256E-s4--def.log")]
        );
    }

    #[test]
    fn global_logs_change_everything() {
        for p in ["preferred-content.log", "trust.log", "group.log", "unknown"] {
            assert_eq!(changed_keys(&[p.as_bytes().to_vec()]), None, "{p}");
        }
        // A path below the top that is no key's log.
        assert_eq!(changed_keys(&[b"migrate.tree/x".to_vec()]), None);
    }

    #[test]
    fn fingerprint_separates_fields() {
        let fp = |parts: &[(&str, &[u8])]| {
            let mut f = Fingerprint::new();
            for (n, v) in parts {
                f.add(n, v);
            }
            f.hex()
        };
        assert_ne!(fp(&[("a", b"bc")]), fp(&[("ab", b"c")]));
        assert_ne!(fp(&[("a", b""), ("b", b"")]), fp(&[("b", b""), ("a", b"")]));
        assert_eq!(fp(&[("a", b"x")]), fp(&[("a", b"x")]));
        assert_eq!(fp(&[]).len(), 32);
    }

    #[test]
    fn record_round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path();
        assert_eq!(PassRecord::load(git), None);
        let tip = ObjectId::from_hex(b"0123456789abcdef0123456789abcdef01234567").unwrap();
        for tree in [None, Some(tip)] {
            let r = PassRecord {
                settings: "00ff".into(),
                tree,
                annex_tip: tip,
            };
            r.save(git).unwrap();
            assert_eq!(PassRecord::load(git), Some(r));
        }
        std::fs::write(
            PassRecord::path(git),
            "git-annex-rs sync content record 1\nsettings x\n",
        )
        .unwrap();
        assert_eq!(PassRecord::load(git), None);
        PassRecord::clear(git).unwrap();
        assert!(!PassRecord::path(git).exists());
        PassRecord::clear(git).unwrap();
    }

    #[test]
    fn file_map_round_trip_and_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path();
        let tree = ObjectId::from_hex(b"0123456789abcdef0123456789abcdef01234567").unwrap();
        let map = FileMap {
            settings: "abc".into(),
            tree,
            files: vec![
                FileEntry {
                    key: key("SHA256E-s3--abc.txt"),
                    unlocked: false,
                    path: b"d/a b\n.txt".to_vec(),
                },
                FileEntry {
                    key: key("SHA256E-s3--abc.txt"),
                    unlocked: true,
                    path: "é/x".as_bytes().to_vec(),
                },
            ],
        };
        map.save(git).unwrap();
        assert_eq!(FileMap::load(git, "abc", tree), Some(map.clone()));
        assert_eq!(FileMap::load(git, "abd", tree), None);
        let other = ObjectId::from_hex(b"1123456789abcdef0123456789abcdef01234567").unwrap();
        assert_eq!(FileMap::load(git, "abc", other), None);
        // A truncated map is no map: cut in an entry, or after a whole one.
        let data = std::fs::read(FileMap::path(git)).unwrap();
        std::fs::write(FileMap::path(git), &data[..data.len() - 3]).unwrap();
        assert_eq!(FileMap::load(git, "abc", tree), None);
        let last = b"\0U\0\xc3\xa9/x\0".len() + "SHA256E-s3--abc.txt".len();
        std::fs::write(FileMap::path(git), &data[..data.len() - last]).unwrap();
        assert_eq!(FileMap::load(git, "abc", tree), None);
        let empty = FileMap {
            files: Vec::new(),
            ..map
        };
        empty.save(git).unwrap();
        assert_eq!(FileMap::load(git, "abc", tree), Some(empty));
    }
}
