//! `fsck`: checking what the annex holds against what the logs say, and
//! fixing what can be fixed, as git-annex's `fsck` does.
//!
//! For each key (of an annexed file, or every key with `--all`), in
//! git-annex's order:
//!
//! 1. the location log is checked against the object store: content
//!    present but not logged is logged ("fixing location log", not a
//!    failure); content logged but missing is logged as missing, with a
//!    warning, and fails;
//! 2. the object's size is checked against the key's;
//! 3. unless `fast`, the content is hashed and compared with the key;
//!    content that fails 2 or 3 is moved to `.git/annex/bad/KEYFILE` and
//!    the location log corrected;
//! 4. the number of trustworthy copies is checked against numcopies.
//!
//! [`Fsck::check_remote_key`] does the same for a git remote on this
//! machine, reading its object store directly; bad content there is
//! copied to `.git/annex/bad` (unless we have the key) and dropped from
//! the remote. [`Fsck::check_remote_presence`] takes what was learned of
//! a remote elsewhere (asked over the network, content downloaded and
//! verified by the caller) and fixes the location log and counts copies.
//!
//! What is shown along the way (notes, warnings) is handed to a callback
//! as [`Event`]s, so a command can print it as it happens.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::backend::{self, Backend, BackendError};
use crate::branch::BranchError;
use crate::key::Key;
use crate::logs::format::{Bytes, Layout, MapLog};
use crate::logs::location::LocationLog;
use crate::logs::presence::Status;
use crate::logs::trust::TrustLevel;
use crate::objects::{ObjectStore, ObjectsError, file_key, key_file};
use crate::state::{State, key_log_path};
use crate::timestamp::Clock;
use crate::uuid::Uuid;

/// The branch path of the activity log.
pub const ACTIVITY_LOG: &[u8] = b"activity.log";

/// An error that stopped a check (problems found are not errors: they are
/// reported as [`Event`]s and make the check fail).
#[derive(Debug, thiserror::Error)]
pub enum FsckError {
    /// The `git-annex` branch could not be read or changed.
    #[error(transparent)]
    Branch(#[from] BranchError),
    /// The object store could not be read or changed.
    #[error(transparent)]
    Objects(#[from] ObjectsError),
    /// Content could not be hashed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A file could not be read, moved or copied.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> FsckError {
    let path = path.to_path_buf();
    move |source| FsckError::Io { op, path, source }
}

/// What a check shows while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A short note on the action's line (`checksum...`, `fixing location log`).
    Note(&'static str),
    /// A note on the action's line made at run time (`unable to check
    /// origin`, for a remote that could not be asked).
    NoteText(String),
    /// A warning (one or more lines).
    Warning(String),
    /// A note on a line of its own.
    LongNote(String),
    /// Too few copies: the untrusted and dead repositories the location log
    /// names (git-annex adds them to the JSON object as `untrusted` and
    /// `dead`). Comes just before the warning.
    MissingCopies {
        /// Untrusted repositories that may have the content.
        untrusted: Vec<Uuid>,
        /// Dead repositories that used to have it.
        dead: Vec<Uuid>,
    },
}

/// A git remote on this machine, checked with `--from`.
#[derive(Debug, Clone)]
pub struct LocalRemote {
    /// Its name (shown in messages).
    pub name: String,
    /// Its UUID.
    pub uuid: Uuid,
    /// Its object store.
    pub store: ObjectStore,
}

impl LocalRemote {
    /// Opens the object store of the repository at `path` (a work tree
    /// with `.git`, or a bare repository).
    pub fn open(name: &str, uuid: Uuid, path: &Path) -> Result<LocalRemote, FsckError> {
        let dotgit = path.join(".git");
        let git_dir = if dotgit.is_dir() {
            dotgit
        } else {
            path.to_path_buf()
        };
        Ok(LocalRemote {
            name: name.to_string(),
            uuid,
            store: ObjectStore::open(git_dir)?,
        })
    }
}

/// A checker: the repository and the settings of one `fsck` run.
pub struct Fsck<'a> {
    state: &'a State,
    store: &'a ObjectStore,
    here: Uuid,
    fast: bool,
    trust: BTreeMap<Uuid, TrustLevel>,
    descriptions: BTreeMap<Uuid, String>,
    bad_shown: PathBuf,
}

impl<'a> Fsck<'a> {
    /// A checker for the repository whose state and store are given, with
    /// UUID `here`. `trust` is every repository's trust level (git config
    /// overrides applied; missing ones are semitrusted); `descriptions`
    /// are the repositories' descriptions as shown in lists (remote names
    /// added); `bad_shown` is the bad-content directory as messages show it
    /// (git-annex shows `.git/annex/bad` relative to where it runs).
    pub fn new(
        state: &'a State,
        store: &'a ObjectStore,
        here: Uuid,
        trust: BTreeMap<Uuid, TrustLevel>,
        descriptions: BTreeMap<Uuid, String>,
        bad_shown: PathBuf,
    ) -> Fsck<'a> {
        Fsck {
            state,
            store,
            here,
            fast: false,
            trust,
            descriptions,
            bad_shown,
        }
    }

    /// `--fast`: content is not hashed (presence and size are still checked).
    pub fn fast(mut self, fast: bool) -> Fsck<'a> {
        self.fast = fast;
        self
    }

    /// The bad-content directory, `.git/annex/bad`.
    pub fn bad_dir(&self) -> PathBuf {
        self.store.git_dir().join("annex").join("bad")
    }

    /// Checks a key of this repository. `desc` is what messages call it
    /// (the file as shown, or the key); `has_file` says whether it was
    /// reached through a file (git-annex then does not suggest `dead
    /// --key`). Returns whether everything was fine.
    pub fn check_key<E: From<FsckError>>(
        &self,
        key: &Key,
        desc: &str,
        has_file: bool,
        numcopies: i64,
        on: &mut impl FnMut(Event) -> Result<(), E>,
    ) -> Result<bool, E> {
        self.check(key, desc, has_file, None, numcopies, on)
    }

    /// Checks the key of an unlocked file: as [`Fsck::check_key`], and
    /// when the work tree file (`path`, as it can be opened) still holds
    /// the pointer while the content is present, the content is put in its
    /// place ("fixing worktree content").
    pub fn check_unlocked_file<E: From<FsckError>>(
        &self,
        key: &Key,
        desc: &str,
        path: &Path,
        numcopies: i64,
        on: &mut impl FnMut(Event) -> Result<(), E>,
    ) -> Result<bool, E> {
        self.check(key, desc, true, Some(path), numcopies, on)
    }

    fn check<E: From<FsckError>>(
        &self,
        key: &Key,
        desc: &str,
        has_file: bool,
        unlocked: Option<&Path>,
        numcopies: i64,
        on: &mut impl FnMut(Event) -> Result<(), E>,
    ) -> Result<bool, E> {
        let present = self.store.has(key);
        let mut ok = self.verify_location_log(key, desc, present, &self.here, on)?;
        if let Some(file) = unlocked
            && present
            && matches!(crate::pointer::is_pointer_file(file), Ok(Some(k)) if &k == key)
        {
            on(Event::Note("fixing worktree content"))?;
            fix_worktree_content(self.store, key, file)?;
        }
        if let Some(obj) = self.store.find(key) {
            // Content of the wrong size is moved aside before it is hashed.
            let sound = self.check_size(key, desc, &obj, on, |f| self.move_bad(key, f))?
                && self.check_content(key, desc, &obj, on, |f| self.move_bad(key, f))?;
            ok &= sound;
        }
        if !self.check_numcopies(key, desc, has_file, numcopies, on)? {
            ok = false;
        }
        Ok(ok)
    }

    /// Checks a key in a git remote on this machine (`fsck --from`).
    pub fn check_remote_key<E: From<FsckError>>(
        &self,
        remote: &LocalRemote,
        key: &Key,
        desc: &str,
        has_file: bool,
        numcopies: i64,
        on: &mut impl FnMut(Event) -> Result<(), E>,
    ) -> Result<bool, E> {
        let copy = remote.store.find(key);
        let mut ok = self.verify_location_log(key, desc, copy.is_some(), &remote.uuid, on)?;
        if let Some(obj) = copy {
            let bad = |f: &Path| self.bad_remote_content(remote, key, f);
            let sound = self.check_size(key, desc, &obj, on, bad)?
                && self.check_content(key, desc, &obj, on, bad)?;
            ok &= sound;
        }
        if !self.check_numcopies(key, desc, has_file, numcopies, on)? {
            ok = false;
        }
        Ok(ok)
    }

    /// Checks a key in a remote whose content was looked at elsewhere
    /// (`fsck --from` a remote that is not on this machine: it was asked
    /// whether it has the key and, unless `--fast`, the content was
    /// downloaded and verified by the caller): `present` is what the
    /// remote answered; the location log is fixed to say so, then the
    /// copies are counted.
    #[allow(clippy::too_many_arguments)]
    pub fn check_remote_presence<E: From<FsckError>>(
        &self,
        uuid: &Uuid,
        key: &Key,
        desc: &str,
        has_file: bool,
        present: bool,
        numcopies: i64,
        on: &mut impl FnMut(Event) -> Result<(), E>,
    ) -> Result<bool, E> {
        let mut ok = self.verify_location_log(key, desc, present, uuid, on)?;
        if !self.check_numcopies(key, desc, has_file, numcopies, on)? {
            ok = false;
        }
        Ok(ok)
    }

    /// The location log of `key` against the presence of its content in
    /// the repository `uuid`.
    fn verify_location_log<E: From<FsckError>>(
        &self,
        key: &Key,
        desc: &str,
        present: bool,
        uuid: &Uuid,
        on: &mut impl FnMut(Event) -> Result<(), E>,
    ) -> Result<bool, E> {
        let content = self
            .state
            .branch()
            .get(&key_log_path(key, ".log"))
            .map_err(FsckError::from)?;
        let log = LocationLog::parse(&content);
        let logged = log.present_uuids();
        match (present, logged.contains(uuid)) {
            (true, false) => {
                on(Event::Note("fixing location log"))?;
                self.log(key, uuid, true)?;
                Ok(true)
            }
            (false, true) => {
                on(Event::Note("fixing location log"))?;
                self.log(key, uuid, false)?;
                on(Event::Warning(format!(
                    "** Based on the location log, {desc}\n** was expected to be present, \
                     but its content is missing."
                )))?;
                Ok(false)
            }
            (false, false) => {
                // A key nothing is known about gets a location log, so
                // that it is known.
                if logged.is_empty() && log.0.lines().is_empty() {
                    self.log(key, uuid, false)?;
                }
                Ok(true)
            }
            (true, true) => Ok(true),
        }
    }

    fn log(&self, key: &Key, uuid: &Uuid, present: bool) -> Result<(), FsckError> {
        Ok(self.state.set_present(key, uuid, present)?)
    }

    /// The size of the object against the key's.
    fn check_size<E: From<FsckError>>(
        &self,
        key: &Key,
        desc: &str,
        obj: &Path,
        on: &mut impl FnMut(Event) -> Result<(), E>,
        bad: impl FnOnce(&Path) -> Result<String, FsckError>,
    ) -> Result<bool, E> {
        let Some(want) = key.size() else {
            return Ok(true);
        };
        let have = fs::metadata(obj)
            .map_err(io_err("read", obj))
            .map_err(E::from)?
            .len();
        if have == want {
            return Ok(true);
        }
        let msg = bad(obj)?;
        on(Event::Warning(format!(
            "{desc}: Bad file size ({}); {msg}",
            compare_sizes(want, have)
        )))?;
        Ok(false)
    }

    /// The content of the object against the key's checksum (not with
    /// `fast`, nor for backends without one).
    fn check_content<E: From<FsckError>>(
        &self,
        key: &Key,
        desc: &str,
        obj: &Path,
        on: &mut impl FnMut(Event) -> Result<(), E>,
        bad: impl FnOnce(&Path) -> Result<String, FsckError>,
    ) -> Result<bool, E> {
        if self.fast {
            return Ok(true);
        }
        let Some(b) = Backend::for_key(key) else {
            return Ok(true);
        };
        if b.hasher().is_none() {
            return Ok(true);
        }
        on(Event::Note("checksum..."))?;
        // An unreadable object counts as bad content, as in git-annex.
        let good = match backend::verify_key(key, obj) {
            Ok(v) => v.unwrap_or(true),
            Err(BackendError::Io { .. }) => false,
            Err(e) => return Err(FsckError::from(e).into()),
        };
        if good {
            return Ok(true);
        }
        let msg = bad(obj)?;
        on(Event::Warning(format!("{desc}: Bad file content; {msg}")))?;
        Ok(false)
    }

    /// Moves bad content of this repository aside and logs it missing.
    fn move_bad(&self, key: &Key, obj: &Path) -> Result<String, FsckError> {
        let name = key_file(key);
        let bad_dir = self.bad_dir();
        fs::create_dir_all(&bad_dir).map_err(io_err("create", &bad_dir))?;
        let dest = bad_dir.join(std::ffi::OsStr::from_bytes_compat(&name));
        let dir = obj.parent().unwrap_or(obj);
        if let Ok(m) = fs::metadata(dir) {
            let mut p = m.permissions();
            p.set_mode(p.mode() | 0o200);
            fs::set_permissions(dir, p).map_err(io_err("make writable", dir))?;
        }
        fs::rename(obj, &dest).map_err(io_err("move", obj))?;
        // The key's directory and the hash directories above it go when empty.
        let mut cur = obj;
        for _ in 0..3 {
            let Some(d) = cur.parent() else { break };
            if fs::remove_dir(d).is_err() {
                break;
            }
            cur = d;
        }
        self.log(key, &self.here, false)?;
        Ok(format!(
            "moved to {}",
            self.bad_shown
                .join(std::ffi::OsStr::from_bytes_compat(&name))
                .display()
        ))
    }

    /// Bad content in a remote: a copy is kept in `.git/annex/bad` unless
    /// we have the key (or a bad copy already), then it is dropped from the
    /// remote and logged missing there.
    fn bad_remote_content(
        &self,
        remote: &LocalRemote,
        key: &Key,
        obj: &Path,
    ) -> Result<String, FsckError> {
        let name = key_file(key);
        let dest = self
            .bad_dir()
            .join(std::ffi::OsStr::from_bytes_compat(&name));
        let moved = if self.store.has(key) || dest.exists() {
            false
        } else {
            let dir = self.bad_dir();
            fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
            fs::copy(obj, &dest).is_ok()
        };
        let shown = self
            .bad_shown
            .join(std::ffi::OsStr::from_bytes_compat(&name));
        Ok(match remote.store.remove(key) {
            Ok(_) => {
                self.log(key, &remote.uuid, false)?;
                if moved {
                    format!("moved from {} to {}", remote.name, shown.display())
                } else {
                    format!("dropped from {}", remote.name)
                }
            }
            Err(e) => format!("failed to drop from {}: {e}", remote.name),
        })
    }

    /// The number of trustworthy copies against numcopies.
    fn check_numcopies<E: From<FsckError>>(
        &self,
        key: &Key,
        desc: &str,
        has_file: bool,
        numcopies: i64,
        on: &mut impl FnMut(Event) -> Result<(), E>,
    ) -> Result<bool, E> {
        let content = self
            .state
            .branch()
            .get(&key_log_path(key, ".log"))
            .map_err(FsckError::from)?;
        let log = LocationLog::parse(&content);
        let level = |u: &Uuid| {
            self.trust
                .get(u)
                .copied()
                .unwrap_or(TrustLevel::SemiTrusted)
        };
        let mut untrusted = Vec::new();
        let mut dead = Vec::new();
        let mut present: i64 = 0;
        for u in log.present_uuids() {
            match level(&u) {
                TrustLevel::Untrusted => untrusted.push(u),
                TrustLevel::Dead => dead.push(u),
                _ => present += 1,
            }
        }
        if present >= numcopies {
            return Ok(true);
        }
        // A key whose every logged location is dead is skipped.
        if log.0.current().values().all(|l| l.status == Status::Dead) {
            on(Event::LongNote("This key is dead, skipping.".into()))?;
            return Ok(true);
        }
        let untrusted_list = self.pretty_list(&untrusted);
        let dead_list = self.pretty_list(&dead);
        on(Event::MissingCopies {
            untrusted: untrusted.clone(),
            dead: dead.clone(),
        })?;
        on(Event::Warning(missing_note(
            desc,
            present,
            numcopies,
            &untrusted_list,
            &dead_list,
        )))?;
        if present == 0 && !has_file {
            on(Event::LongNote(
                "(Avoid this check by running: git annex dead --key )".into(),
            ))?;
        }
        Ok(false)
    }

    /// Repositories one a line, tab-indented (`UUID -- description`).
    fn pretty_list(&self, uuids: &[Uuid]) -> String {
        let mut s = String::new();
        for u in uuids {
            s.push('\t');
            s.push_str(&describe_uuid(u, &self.here, &self.descriptions));
            s.push('\n');
        }
        s
    }
}

/// `UUID -- description` as git-annex lists a repository (`[here]` added
/// for this one; the UUID alone when there is no description).
pub fn describe_uuid(u: &Uuid, here: &Uuid, descriptions: &BTreeMap<Uuid, String>) -> String {
    let n = descriptions.get(u).cloned().unwrap_or_default();
    let d = match (u == here, n.is_empty()) {
        (true, true) => "here".to_string(),
        (true, false) if n == "here" => "[here]".to_string(),
        (true, false) => format!("{n} [here]"),
        (false, _) => n,
    };
    if d.is_empty() {
        u.to_string()
    } else {
        format!("{u} -- {d}")
    }
}

/// git-annex's warning about too few copies.
fn missing_note(desc: &str, present: i64, needed: i64, untrusted: &str, dead: &str) -> String {
    let honor_dead = if dead.is_empty() {
        String::new()
    } else {
        format!("\nThese dead repositories used to have copies\n{dead}")
    };
    if present == 0 {
        if untrusted.is_empty() {
            format!("** No known copies exist of {desc}{honor_dead}")
        } else {
            format!(
                "Only these untrusted locations may have copies of {desc}\n{untrusted}\
                 Back it up to trusted locations with git-annex copy.{honor_dead}"
            )
        }
    } else {
        let mut s = format!(
            "Only {present} of {needed} trustworthy copies exist of {desc}\n\
             Back it up with git-annex copy."
        );
        if !untrusted.is_empty() {
            s.push_str("\nThe following untrusted locations may also have copies: \n");
            s.push_str(untrusted);
        }
        s
    }
}

/// How much larger or smaller `new` is than `old` (`1 B larger`), as
/// git-annex's `compareSizes` with storage units says it.
pub fn compare_sizes(old: u64, new: u64) -> String {
    use std::cmp::Ordering;
    match old.cmp(&new) {
        Ordering::Greater => format!("{} smaller", rough_size(old - new)),
        Ordering::Less => format!("{} larger", rough_size(new - old)),
        Ordering::Equal => "same".to_string(),
    }
}

/// A size in the largest storage unit it reaches, with up to two
/// decimals (`1.5 kB`), as git-annex's `roughSize storageUnits True`.
pub fn rough_size(n: u64) -> String {
    crate::units::rough_size(&crate::units::STORAGE_UNITS, true, u128::from(n))
}

/// Puts content in place of an unlocked file's pointer when the content is
/// present (git-annex's "fixing worktree content"): `file` (in the work
/// tree) holding a pointer to `key` is replaced, atomically and keeping
/// its mode, by a copy of the object ([`crate::pointer::populate_pointer`]).
/// Returns whether it was replaced.
pub fn fix_worktree_content(
    store: &ObjectStore,
    key: &Key,
    file: &Path,
) -> Result<bool, FsckError> {
    crate::pointer::populate_pointer(file, key, store, crate::pointer::Thin::Copy)
        .map_err(io_err("replace", file))
}

/// Records that the repository `uuid` was fscked now (`activity.log`), as
/// git-annex does after every `fsck`.
pub fn record_activity(state: &State, uuid: &Uuid) -> Result<(), FsckError> {
    let t = Clock::from_env().candidate();
    state
        .branch()
        .change_regarding(std::slice::from_ref(uuid), ACTIVITY_LOG, |old| {
            let mut log: MapLog<Uuid, Bytes> = MapLog::parse(Layout::Old, old);
            log.set(uuid.clone(), Bytes(b"Fsck".to_vec()), t);
            log.serialize()
        })?;
    Ok(())
}

/// Every key with a location log in the `git-annex` branch (journal
/// included), in the branch's order, less the keys whose every logged
/// location is dead: what `fsck --all` checks.
pub fn logged_keys(state: &State) -> Result<Vec<Key>, FsckError> {
    let mut keys = Vec::new();
    state.branch().for_each_file(
        |p| p.ends_with(b".log") && p.iter().filter(|c| **c == b'/').count() == 2,
        |path, content| {
            let name = path.rsplit(|c| *c == b'/').next().unwrap_or(path);
            let Some(stem) = name.strip_suffix(b".log") else {
                return;
            };
            let Some(key) = file_key(stem) else { return };
            let log = LocationLog::parse(content);
            let current = log.0.current();
            if !current.is_empty() && current.values().all(|l| l.status == Status::Dead) {
                return;
            }
            keys.push(key);
        },
    )?;
    Ok(keys)
}

/// Byte paths as `OsStr` on Unix.
trait FromBytesCompat {
    fn from_bytes_compat(b: &[u8]) -> &Self;
}

impl FromBytesCompat for std::ffi::OsStr {
    fn from_bytes_compat(b: &[u8]) -> &std::ffi::OsStr {
        use std::os::unix::ffi::OsStrExt;
        std::ffi::OsStr::from_bytes(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_compared_like_git_annex() {
        assert_eq!(compare_sizes(5, 6), "1 B larger");
        assert_eq!(compare_sizes(1500, 0), "1.5 kB smaller");
        assert_eq!(compare_sizes(0, 1_234_567), "1.23 MB larger");
        assert_eq!(compare_sizes(3, 3), "same");
        assert_eq!(rough_size(1999), "2 kB");
        assert_eq!(rough_size(1005), "1 kB");
    }

    #[test]
    fn missing_notes() {
        assert_eq!(
            missing_note("a", 1, 2, "", ""),
            "Only 1 of 2 trustworthy copies exist of a\nBack it up with git-annex copy."
        );
        assert_eq!(
            missing_note("b", 0, 1, "", ""),
            "** No known copies exist of b"
        );
    }
}
