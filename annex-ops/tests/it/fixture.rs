//! Repositories made by the reference git-annex for the library to act on,
//! and the reference's view of them afterwards.
//!
//! The library runs `git` itself and reads git config through gix: every
//! repository made here gets its own identity in its config, so that
//! nothing depends on the user's global config.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use annex_core::key::Key;
use annex_ops::observer::{Observer, Warning};
use annex_ops::session::{OpenOptions, Session};
use annex_ops::{Annex, Item};
use test_support::{annex, annex_output, git};

/// An origin with annexed files and a clone of it, both initialized by the
/// reference; the clone has none of the content.
pub struct Pair {
    _dir: tempfile::TempDir,
    /// The directory holding both.
    pub root: PathBuf,
    /// The origin (description `origin`), with every file's content.
    pub origin: PathBuf,
    /// Its clone (description `clone`), whose remote `origin` is the origin.
    pub clone: PathBuf,
}

/// Sets the repository's own identity (the library commits the
/// `git-annex` branch with it).
fn identity(dir: &Path) {
    git(dir, &["config", "user.name", "Test"]);
    git(dir, &["config", "user.email", "test@example.invalid"]);
}

/// A new repository `name` under `root`, initialized by the reference
/// (description `name`), with `files` annexed (locked) and committed.
pub fn origin(root: &Path, name: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir(&dir).expect("mkdir");
    git(&dir, &["init", "-q", "-b", "main"]);
    identity(&dir);
    annex(&dir, &["init", "-q", name]);
    add(&dir, files);
    dir
}

/// Annexes `files` in `dir` with the reference and commits them.
pub fn add(dir: &Path, files: &[(&str, &[u8])]) {
    if files.is_empty() {
        return;
    }
    for (name, content) in files {
        std::fs::write(dir.join(name), content).expect("write");
    }
    let mut args = vec!["add", "-q"];
    args.extend(files.iter().map(|(n, _)| *n));
    annex(dir, &args);
    git(dir, &["commit", "-q", "-m", "add"]);
}

/// A clone `name` of `from` under `root`, initialized by the reference
/// (description `name`); its remote `origin` is `from`.
pub fn clone(root: &Path, from: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    git(
        root,
        &["clone", "-q", from.to_str().expect("utf-8 path"), name],
    );
    identity(&dir);
    annex(&dir, &["init", "-q", name]);
    dir
}

/// An origin with `files` and a clone without their content.
pub fn pair(files: &[(&str, &[u8])]) -> Pair {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_path_buf();
    let origin = origin(&root, "origin", files);
    let clone = clone(&root, &origin, "clone");
    Pair {
        _dir: dir,
        root,
        origin,
        clone,
    }
}

/// Opens the repository at `dir` through the library, with its remotes.
pub fn open(dir: &Path) -> Annex {
    let (session, _opened) = Session::open(&OpenOptions::new(dir)).expect("open the repository");
    Annex::open(session).expect("open its remotes and settings")
}

/// The library's item for a work-tree file.
pub fn item(annex: &Annex, file: &str) -> Item {
    let wt = annex.session.worktree().expect("a work tree");
    let (key, locked) = wt
        .lookup_key(file.as_bytes())
        .expect("look up the file")
        .expect("an annexed file");
    Item::file(file.as_bytes().to_vec(), key, !locked)
}

/// The key of `file` in `dir`, as the reference says.
pub fn key_of(dir: &Path, file: &str) -> Key {
    Key::parse(annex(dir, &["lookupkey", file]).trim().as_bytes()).expect("a key")
}

/// The UUID of repository `dir`, as git config says.
pub fn uuid_of(dir: &Path) -> String {
    git(dir, &["config", "annex.uuid"]).trim().to_owned()
}

/// Whether the reference finds `key`'s content in `dir`'s object store.
pub fn has(dir: &Path, key: &Key) -> bool {
    annex_output(dir, &["contentlocation", &key.to_string()], None)
        .status
        .success()
}

/// The UUIDs the reference's `whereis --json` in `dir` lists for `file`
/// (trusted enough or untrusted: both lists).
pub fn whereis(dir: &Path, file: &str) -> BTreeSet<String> {
    let out = annex_output(dir, &["whereis", "--json", file], None);
    let text = String::from_utf8(out.stdout).expect("utf-8 output");
    let line = text.lines().next().unwrap_or_else(|| {
        panic!(
            "whereis {file} printed nothing: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let v: serde_json::Value = serde_json::from_str(line).expect("whereis --json");
    let mut found = BTreeSet::new();
    for list in ["whereis", "untrusted"] {
        for r in v[list].as_array().into_iter().flatten() {
            found.insert(r["uuid"].as_str().expect("a uuid").to_owned());
        }
    }
    assert!(v["whereis"].is_array(), "no whereis list: {v}");
    found
}

/// The set of the given repositories' UUIDs.
pub fn uuids(dirs: &[&Path]) -> BTreeSet<String> {
    dirs.iter().map(|d| uuid_of(d)).collect()
}

/// Asserts that the reference's `fsck` finds nothing wrong in `dir`.
pub fn fsck_ok(dir: &Path) {
    let out = annex_output(dir, &["fsck"], None);
    assert!(
        out.status.success(),
        "git annex fsck in {} failed:\nstdout: {}\nstderr: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether the reference's `ARGS` in `dir` succeeds.
pub fn reference_succeeds(dir: &Path, args: &[&str]) -> bool {
    annex_output(dir, args, None).status.success()
}

/// One event an operation reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A note.
    Note(String),
    /// Bytes done.
    Progress(u64),
    /// A warning: the remote's name, when about one, and its text.
    Warning(Option<String>, String),
    /// The transfer ended.
    End(bool),
}

/// An observer that records every event, in order.
#[derive(Debug, Default)]
pub struct Recorder {
    /// The events.
    pub events: Vec<Event>,
}

impl Recorder {
    /// The notes, in order.
    pub fn notes(&self) -> Vec<&str> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Note(n) => Some(n.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The last progress reported, if any.
    pub fn last_progress(&self) -> Option<u64> {
        self.events.iter().rev().find_map(|e| match e {
            Event::Progress(n) => Some(*n),
            _ => None,
        })
    }

    /// The warnings: remote (when about one) and text.
    pub fn warnings(&self) -> Vec<(Option<String>, String)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Warning(r, t) => Some((r.clone(), t.clone())),
                _ => None,
            })
            .collect()
    }
}

impl Observer for Recorder {
    fn note(&mut self, note: &str) {
        self.events.push(Event::Note(note.to_owned()));
    }
    fn progress(&mut self, done: u64) {
        self.events.push(Event::Progress(done));
    }
    fn warning(&mut self, warning: &Warning<'_>) {
        let remote = match warning {
            Warning::Remote { remote, .. } => Some((*remote).to_owned()),
            Warning::Message(_) => None,
        };
        self.events
            .push(Event::Warning(remote, warning.to_string()));
    }
    fn end(&mut self, ok: bool) {
        self.events.push(Event::End(ok));
    }
}

/// Points the repository's git filters at the reference by its path. The
/// library runs `git update-index --refresh` for unlocked files, and git
/// then runs the clean filter `git-annex smudge --clean` that
/// (`filter-process`) that `git annex init` configured: found on `PATH` by
/// a user's git, but the
/// test process's `PATH` need not have it (the library's subprocesses
/// inherit it, and tests do not change their own environment).
pub fn filters_by_path(dir: &Path) {
    let bin = test_support::reference_git_annex()
        .to_str()
        .expect("utf-8 path")
        .to_owned();
    git(
        dir,
        &[
            "config",
            "filter.annex.clean",
            &format!("{bin} smudge --clean -- %f"),
        ],
    );
    git(
        dir,
        &[
            "config",
            "filter.annex.smudge",
            &format!("{bin} smudge -- %f"),
        ],
    );
    git(
        dir,
        &[
            "config",
            "filter.annex.process",
            &format!("{bin} filter-process"),
        ],
    );
}
