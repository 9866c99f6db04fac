//! Adjusted branches (`git annex adjust`, and `sync` in one): a branch
//! `refs/heads/adjusted/BRANCH(MODE)` whose tree is `BRANCH`'s with its
//! annexed files changed as the mode asks (unlocked, locked, links fixed,
//! files whose content is missing hidden), made as git-annex 10.20261026
//! makes it, so that either program can go on working in a branch the
//! other made.
//!
//! The adjusted branch is one commit, `git-annex adjusted branch` (that
//! exact message, no newline; author and committer those of the commit it
//! adjusts), on top of the basis `refs/basis/adjusted/BRANCH(MODE)`, which
//! starts as `BRANCH`. Commits the user makes on the adjusted branch are
//! carried back ([`Adjuster::propagate`]): each reversed (an unlocked file
//! locked again, a hidden file kept) onto the basis and `BRANCH`, and the
//! adjusted commit made again on top. Other branches are merged into the
//! original branch and the result adjusted ([`Adjuster::merge`]).
//!
//! ```no_run
//! use annex_ops::adjust::{Adjuster, Adjustment, LinkAdjustment, Entered};
//! let adjuster = Adjuster::open(".".as_ref())?;
//! let adj = Adjustment::Link(LinkAdjustment::Unlock);
//! match adjuster.enter(&adj, false, &mut || ())? {
//!     Entered::Switched { branch } => println!("now on {branch}"),
//!     other => println!("{other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use annex_core::key::Key;
use annex_core::objects::ObjectStore;
use annex_core::pointer;
use annex_core::worktree::MAX_POINTER_SIZE;

/// The message of every adjusting commit; git-annex looks for it.
pub const ADJUSTED_COMMIT_MESSAGE: &str = "git-annex adjusted branch";

const ADJUSTED_PREFIX: &str = "refs/heads/adjusted/";

/// What can go wrong with an adjusted branch.
#[derive(Debug, thiserror::Error)]
pub enum AdjustError {
    /// A `git` command failed.
    #[error("git {args}: {detail}")]
    Git {
        /// Its arguments.
        args: String,
        /// Its error output, or why it could not run.
        detail: String,
    },
    /// This repository's preferred content could not be read
    /// (`--hide-unwanted`).
    #[error("cannot read preferred content: {0}")]
    Wanted(String),
    /// An object could not be read or written.
    #[error("{what}: {detail}")]
    Object {
        /// Which object.
        what: String,
        /// The cause.
        detail: String,
    },
    /// The repository could not be opened.
    #[error("{path}: {detail}")]
    Open {
        /// The path given.
        path: PathBuf,
        /// The cause.
        detail: String,
    },
    /// A file of the git directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A merge commit on the adjusted branch cannot be carried back
    /// (git-annex's words).
    #[error(
        "Unable to propagate merge commit {commit} back to {orig} from this adjusted branch. To fix this, reset back to before the merge commit,  and use: git-annex merge <branch>"
    )]
    MergeCommit {
        /// The merge commit.
        commit: String,
        /// The original branch.
        orig: String,
    },
    /// Merging into the original branch of an adjusted branch conflicted
    /// (not resolved here: nothing was changed).
    #[error(
        "merging {tomerge} into {orig} conflicts ({files}); nothing merged: check out {orig} to merge it there"
    )]
    Conflict {
        /// What was being merged.
        tomerge: String,
        /// The original branch.
        orig: String,
        /// The conflicted files.
        files: String,
    },
    /// The repository is bare.
    #[error("You cannot run this command in a bare repository.")]
    Bare,
}

/// How symlinks and pointer files are adjusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAdjustment {
    /// Annexed files unlocked (`--unlock`).
    Unlock,
    /// Annexed files locked (`--lock`).
    Lock,
    /// Symlinks pointed at this repository's git directory (`--fix`).
    Fix,
    /// The reverse of [`LinkAdjustment::Fix`]: links made canonical again.
    UnFix,
}

/// Whether files whose content is missing (or that this repository does
/// not want) are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceAdjustment {
    /// Hidden (`--hide-missing`).
    HideMissing,
    /// Shown again (its reverse).
    ShowMissing,
    /// Files not wanted here (preferred content) hidden
    /// (`--hide-unwanted`).
    HideUnwanted,
    /// Shown again (its reverse).
    ShowUnwanted,
}

/// Files unlocked when their content is here, locked otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockUnlockPresent {
    /// `--unlock-present`.
    UnlockPresent,
    /// Its reverse: every pointer file locked.
    LockPresent,
}

/// An adjustment, as git-annex's `Adjustment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjustment {
    /// Links only.
    Link(LinkAdjustment),
    /// Presence, then links when given.
    Presence(PresenceAdjustment, Option<LinkAdjustment>),
    /// Unlocked when present.
    LockUnlockPresent(LockUnlockPresent),
}

impl LinkAdjustment {
    fn name(self) -> &'static str {
        match self {
            LinkAdjustment::Unlock => "unlocked",
            LinkAdjustment::Lock => "locked",
            LinkAdjustment::Fix => "fixed",
            LinkAdjustment::UnFix => "unfixed",
        }
    }

    fn parse(s: &str) -> Option<LinkAdjustment> {
        Some(match s {
            "unlocked" => LinkAdjustment::Unlock,
            "locked" => LinkAdjustment::Lock,
            "fixed" => LinkAdjustment::Fix,
            "unfixed" => LinkAdjustment::UnFix,
            _ => return None,
        })
    }

    fn reverse(self) -> LinkAdjustment {
        match self {
            LinkAdjustment::Unlock | LinkAdjustment::Lock => LinkAdjustment::Lock,
            LinkAdjustment::Fix => LinkAdjustment::UnFix,
            LinkAdjustment::UnFix => LinkAdjustment::Fix,
        }
    }
}

impl PresenceAdjustment {
    fn parse(s: &str) -> Option<PresenceAdjustment> {
        match s {
            "hidemissing" => Some(PresenceAdjustment::HideMissing),
            "showmissing" => Some(PresenceAdjustment::ShowMissing),
            "hideunwanted" => Some(PresenceAdjustment::HideUnwanted),
            "showunwanted" => Some(PresenceAdjustment::ShowUnwanted),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            PresenceAdjustment::HideMissing => "hidemissing",
            PresenceAdjustment::ShowMissing => "showmissing",
            PresenceAdjustment::HideUnwanted => "hideunwanted",
            PresenceAdjustment::ShowUnwanted => "showunwanted",
        }
    }
}

impl Adjustment {
    /// The name in the branch, `unlocked`, `hidemissing-unlocked`, ...
    pub fn name(&self) -> String {
        match self {
            Adjustment::Link(l) => l.name().to_string(),
            Adjustment::Presence(p, None) => p.name().to_string(),
            Adjustment::Presence(p, Some(l)) => format!("{}-{}", p.name(), l.name()),
            Adjustment::LockUnlockPresent(LockUnlockPresent::UnlockPresent) => {
                "unlockpresent".into()
            }
            Adjustment::LockUnlockPresent(LockUnlockPresent::LockPresent) => "lockpresent".into(),
        }
    }

    /// Reads a name as [`Adjustment::name`] writes it (git-annex's
    /// order of attempts).
    pub fn parse(s: &str) -> Option<Adjustment> {
        if let Some(l) = LinkAdjustment::parse(s) {
            return Some(Adjustment::Link(l));
        }
        let (s1, s2) = s.split_once('-').unwrap_or((s, ""));
        if let Some(p) = PresenceAdjustment::parse(s1) {
            return Some(Adjustment::Presence(p, LinkAdjustment::parse(s2)));
        }
        if let Some(p) = PresenceAdjustment::parse(s) {
            return Some(Adjustment::Presence(p, None));
        }
        match s {
            "unlockpresent" => Some(Adjustment::LockUnlockPresent(
                LockUnlockPresent::UnlockPresent,
            )),
            "lockpresent" => Some(Adjustment::LockUnlockPresent(
                LockUnlockPresent::LockPresent,
            )),
            _ => None,
        }
    }

    /// The adjustment that undoes this one (for carrying commits back).
    pub fn reverse(&self) -> Adjustment {
        match *self {
            Adjustment::Link(l) => Adjustment::Link(l.reverse()),
            Adjustment::Presence(p, l) => Adjustment::Presence(
                match p {
                    PresenceAdjustment::HideMissing => PresenceAdjustment::ShowMissing,
                    PresenceAdjustment::ShowMissing => PresenceAdjustment::HideMissing,
                    PresenceAdjustment::HideUnwanted => PresenceAdjustment::ShowUnwanted,
                    PresenceAdjustment::ShowUnwanted => PresenceAdjustment::HideUnwanted,
                },
                l.map(LinkAdjustment::reverse),
            ),
            Adjustment::LockUnlockPresent(LockUnlockPresent::UnlockPresent) => {
                Adjustment::LockUnlockPresent(LockUnlockPresent::LockPresent)
            }
            Adjustment::LockUnlockPresent(LockUnlockPresent::LockPresent) => {
                Adjustment::LockUnlockPresent(LockUnlockPresent::UnlockPresent)
            }
        }
    }

    /// Whether adjusting a tree always gives the same tree (not so when
    /// it depends on which content is here).
    pub fn is_stable(&self) -> bool {
        match self {
            Adjustment::Link(_) => true,
            Adjustment::Presence(p, _) => matches!(
                p,
                PresenceAdjustment::ShowMissing | PresenceAdjustment::ShowUnwanted
            ),
            Adjustment::LockUnlockPresent(l) => *l == LockUnlockPresent::LockPresent,
        }
    }

    /// Whether files are hidden (`--hide-missing`, `--hide-unwanted`).
    pub fn hides_files(&self) -> bool {
        matches!(
            self,
            Adjustment::Presence(
                PresenceAdjustment::HideMissing | PresenceAdjustment::HideUnwanted,
                _
            )
        )
    }

    /// Whether a file added in a branch with this adjustment is added
    /// unlocked (git-annex's `addUnlocked`), given whether its content is
    /// here.
    pub fn adds_unlocked(&self, present: bool) -> bool {
        match self {
            Adjustment::Link(l) | Adjustment::Presence(_, Some(l)) => *l == LinkAdjustment::Unlock,
            Adjustment::Presence(_, None) => false,
            Adjustment::LockUnlockPresent(LockUnlockPresent::UnlockPresent) => present,
            Adjustment::LockUnlockPresent(LockUnlockPresent::LockPresent) => false,
        }
    }

    /// Combines the options of `git annex adjust` in the order given, as
    /// git-annex does, pair by pair from the first: of two link options
    /// the second counts; `--hide-missing` after a link option, or a link
    /// option after a hiding one, hides then adjusts links; two of the same
    /// hiding option make one. Any other pair (a hiding option after a
    /// link option other than `--hide-missing`'s case, two different
    /// hiding options) ends the combining there: what was combined so far
    /// is the adjustment, the options after it are not used.
    pub fn combine(flags: &[Adjustment]) -> Option<Adjustment> {
        use PresenceAdjustment::{HideMissing, HideUnwanted};
        let mut rest = flags.iter().copied();
        let mut acc = rest.next()?;
        for f in rest {
            acc = match (acc, f) {
                (Adjustment::Link(_), Adjustment::Link(b)) => Adjustment::Link(b),
                (Adjustment::Presence(a1, a2), Adjustment::Presence(b1, b2)) if a1 == b1 => {
                    Adjustment::Presence(b1, b2.or(a2))
                }
                (Adjustment::Link(a), Adjustment::Presence(HideMissing, b2)) => {
                    Adjustment::Presence(HideMissing, b2.or(Some(a)))
                }
                (
                    Adjustment::Presence(a1 @ (HideMissing | HideUnwanted), _),
                    Adjustment::Link(b),
                ) => Adjustment::Presence(a1, Some(b)),
                _ => return Some(acc),
            };
        }
        Some(acc)
    }

    /// Whether files this repository does not want are hidden
    /// (`--hide-unwanted`).
    pub fn hides_unwanted(&self) -> bool {
        matches!(
            self,
            Adjustment::Presence(PresenceAdjustment::HideUnwanted, _)
        )
    }
}

/// This repository's preferred content, for `--hide-unwanted`.
struct WantedHere {
    state: annex_core::state::State,
    config: annex_core::config::AnnexConfig,
    here: annex_core::uuid::Uuid,
}

impl WantedHere {
    /// Reads it; `None` when the repository has no UUID (then every file
    /// is wanted).
    fn load(adjuster: &Adjuster) -> Result<Option<WantedHere>, AdjustError> {
        let err = |e: String| AdjustError::Wanted(e);
        let repo = annex_core::repo::Repo::open(&adjuster.top).map_err(|e| err(e.to_string()))?;
        let Some(here) = repo.uuid().cloned() else {
            return Ok(None);
        };
        let state = annex_core::state::State::new(repo.branch().map_err(|e| err(e.to_string()))?);
        let config = annex_core::config::AnnexConfig::from_repo(&adjuster.repo, &[])
            .map_err(|e| err(e.to_string()))?;
        Ok(Some(WantedHere {
            state,
            config,
            here,
        }))
    }
}

/// `refs/heads/adjusted/BASE(NAME)` for the branch `orig` (full name).
pub fn adjusted_branch(orig: &str, adj: &Adjustment) -> String {
    let base = orig.strip_prefix("refs/heads/").unwrap_or(orig);
    format!("{ADJUSTED_PREFIX}{base}({})", adj.name())
}

/// The adjustment and original branch (full name) of an adjusted branch
/// (full name); `None` for any other branch.
pub fn adjusted_to_original(branch: &str) -> Option<(Adjustment, String)> {
    let rest = branch.strip_prefix(ADJUSTED_PREFIX)?;
    let open = rest.rfind('(')?;
    let (base, after) = (&rest[..open], &rest[open + 1..]);
    let name = after.split(')').next().unwrap_or(after);
    let adj = Adjustment::parse(name)?;
    Some((adj, format!("refs/heads/{base}")))
}

/// The adjustment of the branch checked out in the repository whose git
/// directory is `git_dir`, and its original branch: read from `HEAD`
/// alone, without running git. `None` when not in an adjusted branch.
pub fn current_adjustment(git_dir: &Path) -> Option<(Adjustment, String)> {
    let head = std::fs::read(git_dir.join("HEAD")).ok()?;
    let head = std::str::from_utf8(&head).ok()?;
    adjusted_to_original(head.strip_prefix("ref: ")?.trim_end())
}

/// `refs/basis/adjusted/BASE(NAME)` for an adjusted branch (full name).
pub fn basis_branch(adjusted: &str) -> String {
    let base = adjusted.strip_prefix("refs/heads/").unwrap_or(adjusted);
    format!("refs/basis/{base}")
}

/// The short name git-annex shows for a ref (`Git.Ref.describe`).
pub fn describe(r: &str) -> &str {
    r.strip_prefix("refs/heads/")
        .or_else(|| r.strip_prefix("refs/remotes/"))
        .unwrap_or(r)
}

/// What `enter` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entered {
    /// The adjusted branch was made and checked out (git's checkout told
    /// the user; `ok` is whether it worked).
    Switched {
        /// The adjusted branch (full name).
        branch: String,
    },
    /// Already in that adjusted branch: commits carried back (and, for an
    /// adjustment that depends on content, the branch adjusted again).
    Updated {
        /// Whether the checkout of the updated branch worked.
        ok: bool,
    },
    /// The checkout of the new adjusted branch failed.
    CheckoutFailed,
    /// HEAD is detached.
    NotOnBranch,
    /// The adjusted branch exists already (without `--force`).
    Exists {
        /// The adjusted branch (full name).
        branch: String,
        /// The original branch (full name).
        orig: String,
    },
}

/// What carrying the adjusted branch's commits back found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Propagated {
    /// Warnings for the user, in git-annex's words.
    pub warnings: Vec<String>,
}

/// A tree entry: mode, object, path from the top.
#[derive(Debug, Clone)]
struct Entry {
    mode: u32,
    oid: gix::ObjectId,
}

/// Works with the adjusted branches of one repository.
pub struct Adjuster {
    git_dir: PathBuf,
    top: PathBuf,
    repo: gix::Repository,
    store: ObjectStore,
}

impl std::fmt::Debug for Adjuster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adjuster")
            .field("git_dir", &self.git_dir)
            .field("top", &self.top)
            .finish()
    }
}

fn obj_err(what: impl Into<String>) -> impl FnOnce(String) -> AdjustError {
    let what = what.into();
    move |detail| AdjustError::Object { what, detail }
}

/// Resolves the conflicts of a merge made in a temporary work tree (its
/// path, then its git directory's) and commits it; says whether it did
/// ([`Adjuster::merge_resolving`]).
pub type MergeResolver<'a> = dyn FnMut(&Path, &Path) -> bool + 'a;

/// What [`Adjuster::merge_resolving`] has to show while it merges, as
/// git-annex shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeNote<'a> {
    /// An action note (`Merging into main`, `Merging into adjusted
    /// branch`), shown as `(NOTE...) `.
    Action(&'a str),
    /// git's own output follows: the line is ended first (git-annex's
    /// `showOutput`).
    Output,
}

/// How [`Adjuster::merge_resolving`] merges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeFlags {
    /// `--allow-unrelated-histories`.
    pub allow_unrelated: bool,
    /// git's output off (`git merge --quiet`).
    pub quiet: bool,
}

/// How the merge in the temporary work tree is shown.
struct MergeShow {
    /// The note shown before it (`Merging into BRANCH`), when the branch
    /// merged is not the original branch itself.
    announce: Option<String>,
    /// git's output off (`git merge --quiet`).
    quiet: bool,
}

/// What the merge in the temporary work tree made.
enum TempMerge {
    /// The commit the original branch is now at.
    Merged(String),
    /// The merge conflicted and was not resolved (no resolver): the
    /// conflicted files.
    Conflict(Vec<String>),
    /// The merge failed otherwise (git said why), or its resolution did.
    Failed,
}

impl Adjuster {
    /// Opens the repository at or above `path` (it must have a work tree).
    pub fn open(path: &Path) -> Result<Adjuster, AdjustError> {
        let open_err = |detail: String| AdjustError::Open {
            path: path.to_path_buf(),
            detail,
        };
        let repo = gix::discover(path)
            .map(annex_core::config::with_overrides)
            .map_err(|e| open_err(e.to_string()))?;
        let top = repo.workdir().ok_or(AdjustError::Bare)?.to_path_buf();
        let git_dir = repo.git_dir().to_path_buf();
        let store = ObjectStore::open(&git_dir).map_err(|e| open_err(e.to_string()))?;
        Ok(Adjuster {
            git_dir,
            top,
            repo,
            store,
        })
    }

    /// The git directory.
    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    /// The top of the work tree.
    pub fn top(&self) -> &Path {
        &self.top
    }

    fn git(&self) -> Command {
        let mut c = Command::new("git");
        c.current_dir(&self.top)
            .arg("--git-dir")
            .arg(&self.git_dir)
            .arg("--work-tree")
            .arg(&self.top);
        c
    }

    /// Runs git with `args` (and stdin), returning its stdout.
    fn run(
        &self,
        args: &[&str],
        env: &[(&str, String)],
        stdin: Option<&[u8]>,
    ) -> Result<Vec<u8>, AdjustError> {
        let err = |detail: String| AdjustError::Git {
            args: args.join(" "),
            detail,
        };
        let mut c = self.git();
        c.args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().map_err(|e| err(e.to_string()))?;
        if let (Some(data), Some(mut w)) = (stdin, child.stdin.take()) {
            let data = data.to_vec();
            let writer = std::thread::spawn(move || w.write_all(&data));
            let out = child.wait_with_output().map_err(|e| err(e.to_string()))?;
            let _ = writer.join();
            return check(out).map_err(err);
        }
        let out = child.wait_with_output().map_err(|e| err(e.to_string()))?;
        check(out).map_err(err)
    }

    fn run_line(&self, args: &[&str]) -> Result<String, AdjustError> {
        let out = self.run(args, &[], None)?;
        Ok(String::from_utf8_lossy(&out).trim().to_string())
    }

    /// The commit a ref names, `None` when it does not exist.
    pub fn ref_sha(&self, name: &str) -> Option<String> {
        let out = self
            .git()
            .args(["rev-parse", "--verify", "--quiet"])
            .arg(format!("{name}^{{commit}}"))
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The branch HEAD names (full name), `None` when detached.
    pub fn current_branch(&self) -> Option<String> {
        let out = self
            .git()
            .args(["symbolic-ref", "-q", "HEAD"])
            .stderr(Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// When HEAD is an adjusted branch: its adjustment and the original
    /// branch (full name).
    pub fn current(&self) -> Option<(Adjustment, String)> {
        self.current_branch()
            .as_deref()
            .and_then(adjusted_to_original)
    }

    fn update_ref(&self, name: &str, to: &str, message: Option<&str>) -> Result<(), AdjustError> {
        let mut args = vec!["update-ref"];
        if let Some(m) = message {
            args.extend(["-m", m]);
        }
        args.extend([name, to]);
        self.run(&args, &[], None).map(|_| ())
    }

    fn read_blob(&self, oid: gix::ObjectId) -> Option<Vec<u8>> {
        let header = self.repo.find_header(oid).ok()?;
        if header.size() > MAX_POINTER_SIZE {
            return None;
        }
        self.repo.find_object(oid).ok().map(|o| o.data.clone())
    }

    /// The key a tree entry names (git-annex's `catKey`).
    fn entry_key(&self, e: &Entry) -> Option<Key> {
        if e.mode == 0o120000 {
            pointer::parse_link_target(&self.read_blob(e.oid)?)
        } else if e.mode == 0o100644 || e.mode == 0o100755 {
            pointer::parse_pointer(&self.read_blob(e.oid)?)
        } else {
            None
        }
    }

    fn write_blob(&self, data: &[u8]) -> Result<gix::ObjectId, AdjustError> {
        self.repo
            .write_blob(data)
            .map(|id| id.detach())
            .map_err(|e| obj_err("a new blob")(e.to_string()))
    }

    fn to_pointer(&self, e: &Entry, key: &Key) -> Result<Entry, AdjustError> {
        let exe = self
            .store
            .find(key)
            .and_then(|p| std::fs::metadata(p).ok())
            .is_some_and(|m| m.permissions().mode() & 0o100 != 0);
        let _ = e;
        Ok(Entry {
            mode: if exe { 0o100755 } else { 0o100644 },
            oid: self.write_blob(&pointer::format_pointer(key))?,
        })
    }

    fn to_symlink(&self, path: &[u8], key: &Key, canonical: bool) -> Result<Entry, AdjustError> {
        let target = if canonical {
            pointer::link_target(Path::new(OsStr::from_bytes(path)), key)
        } else {
            pointer::link_target_in(
                &self.top,
                Path::new(OsStr::from_bytes(path)),
                self.store.git_dir(),
                key,
                self.store.config(),
            )
        };
        Ok(Entry {
            mode: 0o120000,
            oid: self.write_blob(target.as_os_str().as_bytes())?,
        })
    }

    fn link_item(
        &self,
        l: LinkAdjustment,
        path: &[u8],
        e: Entry,
    ) -> Result<Option<Entry>, AdjustError> {
        let link = e.mode == 0o120000;
        let key = match (l, link) {
            (LinkAdjustment::Unlock | LinkAdjustment::Fix | LinkAdjustment::UnFix, true)
            | (LinkAdjustment::Lock, false) => self.entry_key(&e),
            _ => None,
        };
        let Some(key) = key else { return Ok(Some(e)) };
        Ok(Some(match l {
            LinkAdjustment::Unlock => self.to_pointer(&e, &key)?,
            LinkAdjustment::Lock | LinkAdjustment::Fix => self.to_symlink(path, &key, false)?,
            LinkAdjustment::UnFix => self.to_symlink(path, &key, true)?,
        }))
    }

    /// One entry adjusted (git-annex's `adjustTreeItem`); `None` hides it.
    /// `wanted` says whether this repository wants a file
    /// (`--hide-unwanted`).
    fn adjust_item(
        &self,
        adj: &Adjustment,
        path: &[u8],
        e: Entry,
        wanted: &dyn Fn(&[u8], &Key) -> bool,
    ) -> Result<Option<Entry>, AdjustError> {
        match *adj {
            Adjustment::Link(l) => self.link_item(l, path, e),
            Adjustment::Presence(p, l) => {
                let shown = match p {
                    PresenceAdjustment::HideMissing => match self.entry_key(&e) {
                        Some(k) if !self.store.has(&k) => None,
                        _ => Some(e),
                    },
                    PresenceAdjustment::HideUnwanted => match self.entry_key(&e) {
                        Some(k) if !wanted(path, &k) => None,
                        _ => Some(e),
                    },
                    PresenceAdjustment::ShowMissing | PresenceAdjustment::ShowUnwanted => Some(e),
                };
                match (shown, l) {
                    (Some(e), Some(l)) => self.link_item(l, path, e),
                    (shown, _) => Ok(shown),
                }
            }
            Adjustment::LockUnlockPresent(LockUnlockPresent::UnlockPresent) => {
                match self.entry_key(&e) {
                    Some(k) if self.store.has(&k) => Ok(Some(self.to_pointer(&e, &k)?)),
                    Some(k) => Ok(Some(self.to_symlink(path, &k, false)?)),
                    None => Ok(Some(e)),
                }
            }
            Adjustment::LockUnlockPresent(LockUnlockPresent::LockPresent) => {
                self.link_item(LinkAdjustment::Lock, path, e)
            }
        }
    }

    /// Every file of a commit's tree, by path.
    fn list_tree(&self, commit: &str) -> Result<BTreeMap<Vec<u8>, Entry>, AdjustError> {
        let out = self.run(&["ls-tree", "-r", "-z", "--full-tree", commit], &[], None)?;
        let mut m = BTreeMap::new();
        for rec in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
            if let Some((path, e)) = parse_entry(rec) {
                m.insert(path, e);
            }
        }
        Ok(m)
    }

    /// Writes a tree holding `entries` (through a temporary index).
    fn write_tree(&self, entries: &BTreeMap<Vec<u8>, Entry>) -> Result<String, AdjustError> {
        let tmp_dir = self.git_dir.join("annex").join("othertmp");
        std::fs::create_dir_all(&tmp_dir).map_err(|source| AdjustError::Io {
            path: tmp_dir.clone(),
            source,
        })?;
        let index = tmp_dir.join(format!("adjust-index.{}", std::process::id()));
        let _ = std::fs::remove_file(&index);
        let mut input = Vec::new();
        for (path, e) in entries {
            let kind = match e.mode {
                0o160000 => "commit",
                _ => "blob",
            };
            input.extend_from_slice(format!("{:06o} {kind} {}\t", e.mode, e.oid).as_bytes());
            input.extend_from_slice(path);
            input.push(0);
        }
        let env = [("GIT_INDEX_FILE", index.display().to_string())];
        let done = self
            .run(&["update-index", "-z", "--index-info"], &env, Some(&input))
            .and_then(|_| self.run(&["write-tree"], &env, None));
        let _ = std::fs::remove_file(&index);
        Ok(String::from_utf8_lossy(&done?).trim().to_string())
    }

    /// The tree of `basis` (a commit) adjusted (git-annex's `adjustTree`).
    pub fn adjust_tree(&self, adj: &Adjustment, basis: &str) -> Result<String, AdjustError> {
        let entries = self.list_tree(basis)?;
        let mut out = BTreeMap::new();
        let wanted_here = match adj.hides_unwanted() {
            true => WantedHere::load(self)?,
            false => None,
        };
        let matcher = match &wanted_here {
            Some(w) => {
                let mctx = annex_core::preferred::StateContext::new(
                    &w.state,
                    Some(w.here.clone()),
                    Some(self.store.clone()),
                    &w.config,
                )
                .map_err(|e| AdjustError::Wanted(e.to_string()))?;
                let expr = crate::annex::preferred_matcher(&w.state, &mctx, &w.here)
                    .map_err(|e| AdjustError::Wanted(e.to_string()))?;
                expr.map(|x| (mctx, x, &w.here))
            }
            None => None,
        };
        // No preferred content: every file is wanted. A file whose
        // expression cannot be evaluated stays shown.
        let wanted = |path: &[u8], key: &Key| match &matcher {
            Some((mctx, expr, here)) => expr
                .matches(
                    mctx,
                    &annex_core::preferred::Item::file(path, Some(key)).for_repo(Some(here)),
                )
                .unwrap_or(true),
            None => true,
        };
        // Directories of the basis, to keep those whose files were all
        // hidden: git-annex keeps them as empty trees.
        let mut dirs = std::collections::BTreeSet::new();
        for (path, e) in entries {
            if adj.hides_files() {
                let mut p = path.as_slice();
                while let Some(i) = p.iter().rposition(|&b| b == b'/') {
                    p = &p[..i];
                    if !dirs.insert(p.to_vec()) {
                        break;
                    }
                }
            }
            if let Some(n) = self.adjust_item(adj, &path, e, &wanted)? {
                out.insert(path, n);
            }
        }
        let tree = self.write_tree(&out)?;
        // The emptied directories: those with no file left under them, the
        // deepest ones only (their parents come with them).
        let has_file_under = |d: &[u8]| {
            let mut prefix = d.to_vec();
            prefix.push(b'/');
            out.range(prefix.clone()..)
                .next()
                .is_some_and(|(p, _)| p.starts_with(&prefix))
        };
        let emptied: Vec<&Vec<u8>> = dirs.iter().filter(|d| !has_file_under(d)).collect();
        let leaves: Vec<&Vec<u8>> = emptied
            .iter()
            .copied()
            .filter(|d| {
                let mut prefix = d.to_vec();
                prefix.push(b'/');
                !emptied.iter().any(|o| o.starts_with(&prefix))
            })
            .collect();
        if leaves.is_empty() {
            return Ok(tree);
        }
        let obj = |e: String| obj_err("the adjusted tree")(e);
        let empty = self
            .repo
            .write_object(gix::objs::Tree::empty())
            .map_err(|e| obj(e.to_string()))?
            .detach();
        let id = gix::ObjectId::from_hex(tree.as_bytes()).map_err(|e| obj(e.to_string()))?;
        let mut ed = self.repo.edit_tree(id).map_err(|e| obj(e.to_string()))?;
        for d in leaves {
            ed.upsert(
                gix::bstr::ByteSlice::as_bstr(d.as_slice()),
                gix::object::tree::EntryKind::Tree,
                empty,
            )
            .map_err(|e| obj(e.to_string()))?;
        }
        Ok(ed.write().map_err(|e| obj(e.to_string()))?.to_string())
    }

    /// Author and committer of a commit, as environment for git.
    fn metadata_env(&self, commit: &str) -> Result<Vec<(&'static str, String)>, AdjustError> {
        let raw = self.run(&["cat-file", "commit", commit], &[], None)?;
        let mut env = Vec::new();
        for line in raw.split(|b| *b == b'\n') {
            if line.is_empty() {
                break;
            }
            let line = String::from_utf8_lossy(line);
            for (field, names) in [
                (
                    "author ",
                    ["GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_AUTHOR_DATE"],
                ),
                (
                    "committer ",
                    [
                        "GIT_COMMITTER_NAME",
                        "GIT_COMMITTER_EMAIL",
                        "GIT_COMMITTER_DATE",
                    ],
                ),
            ] {
                if let Some(rest) = line.strip_prefix(field)
                    && let (Some(lt), Some(gt)) = (rest.find('<'), rest.rfind('>'))
                    && lt < gt
                {
                    env.push((names[0], rest[..lt].trim_end().to_string()));
                    env.push((names[1], rest[lt + 1..gt].to_string()));
                    env.push((names[2], format!("@{}", rest[gt + 1..].trim())));
                }
            }
        }
        Ok(env)
    }

    /// The message of a commit.
    fn commit_message(&self, commit: &str) -> Result<Vec<u8>, AdjustError> {
        let raw = self.run(&["cat-file", "commit", commit], &[], None)?;
        Ok(raw
            .windows(2)
            .position(|w| w == b"\n\n")
            .map(|i| raw[i + 2..].to_vec())
            .unwrap_or_default())
    }

    fn parents(&self, commit: &str) -> Result<Vec<String>, AdjustError> {
        let line = self.run_line(&["rev-list", "--parents", "-n", "1", commit])?;
        Ok(line.split(' ').skip(1).map(str::to_string).collect())
    }

    /// Commits an adjusted tree on `parents`, with the basis commit's
    /// author and committer and the exact adjusting message, so that the
    /// same basis always gives the same commit (git-annex's
    /// `commitAdjustedTree'`).
    pub fn commit_adjusted_tree(
        &self,
        tree: &str,
        basis: &str,
        parents: &[&str],
    ) -> Result<String, AdjustError> {
        let env = self.metadata_env(basis)?;
        let mut args = vec!["commit-tree", tree];
        for p in parents {
            args.extend(["-p", p]);
        }
        let out = self.run(&args, &env, Some(ADJUSTED_COMMIT_MESSAGE.as_bytes()))?;
        Ok(String::from_utf8_lossy(&out).trim().to_string())
    }

    /// Makes the adjusted branch of `orig` afresh: the basis set to
    /// `orig`, the adjusted commit on it (git-annex's `adjustBranch`).
    /// Returns the adjusted branch's full name.
    pub fn adjust_branch(&self, adj: &Adjustment, orig: &str) -> Result<String, AdjustError> {
        let adjbranch = adjusted_branch(orig, adj);
        let basis = basis_branch(&adjbranch);
        let orig_sha = self.ref_sha(orig).ok_or_else(|| AdjustError::Git {
            args: format!("rev-parse {orig}"),
            detail: format!("{orig} has no commits"),
        })?;
        self.update_ref(&basis, &orig_sha, None)?;
        let tree = self.adjust_tree(adj, &orig_sha)?;
        let commit = self.commit_adjusted_tree(&tree, &orig_sha, &[&orig_sha])?;
        self.update_ref(&adjbranch, &commit, Some("entering adjusted branch"))?;
        Ok(adjbranch)
    }

    fn checkout(&self, branch: &str, quiet: bool) -> bool {
        let _ = std::io::stdout().flush();
        self.git()
            .arg("checkout")
            .arg(describe(branch))
            .arg(if quiet { "--quiet" } else { "--progress" })
            .stdin(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Enters the adjusted branch `adj` of the current branch (or, in an
    /// adjusted branch, of its original branch), as `git annex adjust`.
    /// `force` makes it over an existing adjusted branch.
    /// `before_output` runs just before git's checkout prints (git-annex
    /// ends its action's line there).
    pub fn enter(
        &self,
        adj: &Adjustment,
        force: bool,
        before_output: &mut dyn FnMut(),
    ) -> Result<Entered, AdjustError> {
        // A branch with no commits yet counts as none, as git-annex's.
        let Some(current) = self.current_branch().filter(|b| self.ref_sha(b).is_some()) else {
            return Ok(Entered::NotOnBranch);
        };
        if let Some((curradj, orig)) = adjusted_to_original(&current)
            && curradj == *adj
        {
            let ok = self.update_adjusted_branch(adj, &current, &orig)?;
            return Ok(Entered::Updated { ok });
        }
        let orig = adjusted_to_original(&current)
            .map(|(_, o)| o)
            .unwrap_or(current);
        let adjbranch = adjusted_branch(&orig, adj);
        if self.ref_sha(&adjbranch).is_some() && !force {
            return Ok(Entered::Exists {
                branch: adjbranch,
                orig,
            });
        }
        let b = self.adjust_branch(adj, &orig)?;
        before_output();
        if self.checkout(&b, false) {
            Ok(Entered::Switched { branch: b })
        } else {
            Ok(Entered::CheckoutFailed)
        }
    }

    /// Already in the adjusted branch: commits carried back, and an
    /// adjustment that depends on content made again and checked out
    /// (git-annex's `updateAdjustedBranch`).
    fn update_adjusted_branch(
        &self,
        adj: &Adjustment,
        current: &str,
        orig: &str,
    ) -> Result<bool, AdjustError> {
        if adj.is_stable() {
            self.propagate_inner(orig, adj, true, false)?;
            return Ok(true);
        }
        self.propagate_inner(orig, adj, true, false)?;
        let old_sha = self.ref_sha(current);
        let b = self.adjust_branch(adj, orig)?;
        // git does nothing when asked to check out the branch it is on:
        // HEAD detached at the old commit first, written as git-annex
        // writes it (no reflog entry).
        let detached = match &old_sha {
            Some(s) => {
                if !self.detach_head(s) {
                    // HEAD locked (`HEAD.lock`) or not written: no
                    // checkout (git would do nothing, or check out over
                    // the lock), and the adjusted branch put back where
                    // the work tree is.
                    let _ = self.update_ref(&b, s, None);
                    return Ok(false);
                }
                true
            }
            None => false,
        };
        let ok = self.checkout(&b, true);
        if !ok && detached && self.current_branch().is_none() {
            // Not left detached.
            let _ = self.run(&["symbolic-ref", "HEAD", current], &[], None);
        }
        Ok(ok)
    }

    /// Points `HEAD` at commit `sha` (detached) by writing the file, under
    /// git's lock (`HEAD.lock`, renamed over it), as git-annex writes it:
    /// no reflog entry. Whether it worked.
    fn detach_head(&self, sha: &str) -> bool {
        let head = self.git_dir.join("HEAD");
        let lock = self.git_dir.join("HEAD.lock");
        let Ok(mut f) = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock)
        else {
            return false;
        };
        let written = f
            .write_all(format!("{sha}\n").as_bytes())
            .and_then(|()| f.sync_all());
        drop(f);
        if written.is_err() || std::fs::rename(&lock, &head).is_err() {
            let _ = std::fs::remove_file(&lock);
            return false;
        }
        true
    }

    /// Carries the commits made on the adjusted branch back to the basis
    /// and the original branch, then puts the adjusted commit on top of
    /// them again (git-annex's `propigateAdjustedCommits`).
    pub fn propagate(&self, orig: &str, adj: &Adjustment) -> Result<Propagated, AdjustError> {
        self.propagate_inner(orig, adj, true, true)
    }

    fn propagate_inner(
        &self,
        orig: &str,
        adj: &Adjustment,
        warn_diverged: bool,
        rebase: bool,
    ) -> Result<Propagated, AdjustError> {
        let mut result = Propagated::default();
        let adjbranch = adjusted_branch(orig, adj);
        let basis = basis_branch(&adjbranch);
        let Some(orig_sha) = self.ref_sha(&basis) else {
            result.warnings.push(format!(
                "Cannot find basis ref {basis}; not propagating adjusted commits to original branch {orig}"
            ));
            return Ok(result);
        };
        let Some(curr) = self.ref_sha(&adjbranch) else {
            return Ok(result);
        };
        let range = format!("{orig_sha}..{curr}");
        let list = self.run_line(&["log", "--reverse", "--format=%H", &range])?;
        let mut parent = orig_sha.clone();
        let mut past = false;
        for sha in list.lines().filter(|l| !l.is_empty()) {
            let msg = self.commit_message(sha)?;
            if is_adjusting_message(&msg) {
                past = true;
            } else if past {
                parent = self.reverse_commit(&parent, adj, sha, &msg, orig)?;
            }
        }
        self.update_ref(&basis, &parent, None)?;
        match self.ref_sha(orig) {
            Some(o) if o != orig_sha => {
                if warn_diverged {
                    result.warnings.push(format!(
                        "Original branch {orig} has diverged from current adjusted branch {adjbranch}"
                    ));
                }
            }
            _ => self.update_ref(orig, &parent, None)?,
        }
        if rebase {
            let tree = self.run_line(&["rev-parse", &format!("{curr}^{{tree}}")])?;
            let c = self.commit_adjusted_tree(&tree, &parent, &[&parent])?;
            self.update_ref(
                &adjbranch,
                &c,
                Some("rebasing adjusted branch on top of updated original branch"),
            )?;
        }
        Ok(result)
    }

    /// One commit of the adjusted branch reversed onto `parent`.
    fn reverse_commit(
        &self,
        parent: &str,
        adj: &Adjustment,
        sha: &str,
        msg: &[u8],
        orig: &str,
    ) -> Result<String, AdjustError> {
        let parents = self.parents(sha)?;
        if parents.len() > 1 {
            return Err(AdjustError::MergeCommit {
                commit: sha.to_string(),
                orig: orig.to_string(),
            });
        }
        let tree = self.reverse_tree(parent, adj, sha)?;
        let env = self.metadata_env(sha)?;
        let msg = String::from_utf8_lossy(msg).into_owned();
        let out = self.run(
            &["commit-tree", &tree, "-p", parent, "-m", &msg],
            &env,
            None,
        )?;
        Ok(String::from_utf8_lossy(&out).trim().to_string())
    }

    /// The tree of `basis` with the changes `commit` made, each reversed
    /// (git-annex's `reverseAdjustedTree`).
    fn reverse_tree(
        &self,
        basis: &str,
        adj: &Adjustment,
        commit: &str,
    ) -> Result<String, AdjustError> {
        let rev = adj.reverse();
        let diff = self.run(
            &[
                "diff-tree",
                "-r",
                "--root",
                "--raw",
                "-z",
                "--no-renames",
                "--no-commit-id",
                commit,
            ],
            &[],
            None,
        )?;
        let mut entries = self.list_tree(basis)?;
        let mut fields = diff.split(|b| *b == 0);
        while let Some(meta) = fields.next() {
            if meta.is_empty() {
                continue;
            }
            let Some(path) = fields.next() else { break };
            let meta = String::from_utf8_lossy(meta);
            let parts: Vec<&str> = meta.trim_start_matches(':').split(' ').collect();
            if parts.len() < 5 {
                continue;
            }
            let dst_mode = u32::from_str_radix(parts[1], 8).unwrap_or(0);
            let dst = parts[3];
            if dst.bytes().all(|b| b == b'0') {
                entries.remove(path);
                continue;
            }
            let Ok(oid) = gix::ObjectId::from_hex(dst.as_bytes()) else {
                continue;
            };
            let e = Entry {
                mode: dst_mode,
                oid,
            };
            match self.adjust_item(&rev, path, e, &|_, _| true)? {
                Some(n) => {
                    entries.insert(path.to_vec(), n);
                }
                None => {
                    entries.remove(path);
                }
            }
        }
        self.write_tree(&entries)
    }

    /// Whether `tomerge` has commits the adjusted branch lacks
    /// (git-annex's `canMergeToAdjustedBranch`).
    pub fn can_merge(&self, tomerge: &str, orig: &str, adj: &Adjustment) -> bool {
        let adjbranch = adjusted_branch(orig, adj);
        let (Some(t), Some(a)) = (self.ref_sha(tomerge), self.ref_sha(&adjbranch)) else {
            return false;
        };
        if t == a {
            return false;
        }
        let range = format!("{a}..{t}");
        self.run_line(&["rev-list", "-n", "1", &range])
            .is_ok_and(|s| !s.is_empty())
    }

    /// Merges `tomerge` into the checked-out adjusted branch, as
    /// git-annex's `mergeToAdjustedBranch`: the adjusted branch's commits
    /// carried back, `tomerge` merged into the original branch (outside
    /// the work tree), the result adjusted and merged into the adjusted
    /// branch (a fast-forward that keeps changes not committed).
    /// `notes` receives what git-annex shows as actions. Returns whether
    /// the merge was made.
    pub fn merge(
        &self,
        tomerge: &str,
        orig: &str,
        adj: &Adjustment,
        flags: MergeFlags,
        notes: &mut dyn FnMut(MergeNote<'_>),
    ) -> Result<bool, AdjustError> {
        self.merge_resolving(tomerge, orig, adj, flags, notes, None)
    }

    /// [`Adjuster::merge`], resolving conflicts with `resolve` when given.
    /// The merge is made as git-annex makes it: `git merge` (`--quiet`
    /// with `quiet`) in a temporary work tree (empty) and git directory
    /// (its `HEAD` the original branch, everything else the
    /// repository's), git's output shown after the `Merging into BRANCH`
    /// note; when it conflicts, `resolve(WORK_TREE, GIT_DIR)` is called to
    /// resolve the conflicts and commit (git-annex's `resolveMerge`; it
    /// says whether it did), and without `resolve` the conflict is an
    /// [`AdjustError::Conflict`] with nothing merged. The commit is then
    /// adjusted and merged into the adjusted branch by a fast-forward
    /// whose output git shows too. The repository's own work tree and
    /// index are not touched until the adjusted result is merged in.
    pub fn merge_resolving(
        &self,
        tomerge: &str,
        orig: &str,
        adj: &Adjustment,
        flags: MergeFlags,
        notes: &mut dyn FnMut(MergeNote<'_>),
        resolve: Option<&mut MergeResolver<'_>>,
    ) -> Result<bool, AdjustError> {
        let MergeFlags {
            allow_unrelated,
            quiet,
        } = flags;
        self.propagate_inner(orig, adj, false, false)?;
        let adjbranch = adjusted_branch(orig, adj);
        let basis = basis_branch(&adjbranch);
        let Some(updated) = self.ref_sha(&basis) else {
            return Ok(false);
        };
        if self.ref_sha(tomerge).is_none() {
            return Ok(false);
        }
        let show = MergeShow {
            announce: (describe(tomerge) != describe(orig))
                .then(|| format!("Merging into {}", describe(orig))),
            quiet,
        };
        let mergecommit =
            match self.merge_in_temp(&updated, tomerge, allow_unrelated, &show, notes, resolve)? {
                TempMerge::Merged(c) => c,
                TempMerge::Failed => return Ok(false),
                TempMerge::Conflict(files) => {
                    return Err(AdjustError::Conflict {
                        tomerge: describe(tomerge).to_string(),
                        orig: describe(orig).to_string(),
                        files: files.join(" "),
                    });
                }
            };
        // postmerge
        self.update_ref(&basis, &mergecommit, None)?;
        self.update_ref(orig, &mergecommit, None)?;
        let adjtree = self.adjust_tree(adj, &mergecommit)?;
        let adjmerge = self.commit_adjusted_tree(&adjtree, &mergecommit, &[&mergecommit])?;
        let Some(curr) = self.ref_sha(&adjbranch) else {
            return Ok(false);
        };
        let ff = self.commit_adjusted_tree(&adjtree, &mergecommit, &[&curr])?;
        notes(MergeNote::Action("Merging into adjusted branch"));
        notes(MergeNote::Output);
        let _ = std::io::stdout().flush();
        let mut ff_args = vec!["merge", "--ff-only"];
        if quiet {
            ff_args.push("--quiet");
        }
        ff_args.push(&ff);
        let ok = self
            .git()
            .args(&ff_args)
            .stdin(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Ok(false);
        }
        let now = self.ref_sha(&adjbranch).unwrap_or(ff);
        let now_tree = self.run_line(&["rev-parse", &format!("{now}^{{tree}}")])?;
        if now_tree != adjtree {
            let msg = format!("Merged {tomerge}");
            let c = self.run_line(&["commit-tree", &now_tree, "-p", &adjmerge, "-m", &msg])?;
            self.update_ref(&adjbranch, &c, Some("updating adjusted branch"))?;
            self.propagate(orig, adj)?;
        } else {
            self.update_ref(&adjbranch, &adjmerge, Some("updating adjusted branch"))?;
        }
        Ok(true)
    }

    /// The conflicted merge of `tomerge` into `updated` made in a temporary
    /// work tree and git directory and resolved by `resolve` (see
    /// [`Adjuster::merge_resolving`]): the merge commit, `None` when the
    /// conflicts were not resolved.
    fn merge_in_temp(
        &self,
        updated: &str,
        tomerge: &str,
        allow_unrelated: bool,
        show: &MergeShow,
        notes: &mut dyn FnMut(MergeNote<'_>),
        resolve: Option<&mut MergeResolver<'_>>,
    ) -> Result<TempMerge, AdjustError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| AdjustError::Io { path, source }
        };
        let othertmp = self
            .store
            .other_tmp()
            .map_err(|e| obj_err("a temporary directory")(e.to_string()))?;
        /// Removes the directory when the merge is done.
        struct Removed(PathBuf);
        impl Drop for Removed {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let tmp = Removed(othertmp.path("adjmerge"));
        std::fs::create_dir(&tmp.0).map_err(io(&tmp.0))?;
        let (wt, gd) = (tmp.0.join("wt"), tmp.0.join("git"));
        std::fs::create_dir(&wt).map_err(io(&wt))?;
        std::fs::create_dir(&gd).map_err(io(&gd))?;
        let common = std::path::absolute(&self.git_dir).unwrap_or_else(|_| self.git_dir.clone());
        // A linked work tree's layout: its own HEAD and index, the
        // repository's objects, refs and config.
        for (path, content) in [
            (gd.join("HEAD"), format!("{updated}\n")),
            (gd.join("commondir"), format!("{}\n", common.display())),
            (
                gd.join("gitdir"),
                format!("{}\n", wt.join(".git").display()),
            ),
            (wt.join(".git"), format!("gitdir: {}\n", gd.display())),
        ] {
            std::fs::write(&path, content).map_err(io(&path))?;
        }
        // Git reads the config from the repository's directory; what reads
        // the git directory itself (the resolver) finds it here too.
        let config = gd.join("config");
        std::os::unix::fs::symlink(common.join("config"), &config).map_err(io(&config))?;
        // As git-annex runs git in a work tree of its own: the annex
        // filters off, so that the files the merge writes here are the
        // pointers git has (no content copied in, nothing cleaned).
        let git = |args: &[&str]| {
            let mut c = Command::new("git");
            c.current_dir(&wt)
                .env_remove("GIT_DIR")
                .env_remove("GIT_WORK_TREE")
                .env_remove("GIT_INDEX_FILE")
                .args(annex_core::repo::BYPASS_FILTERS)
                .args(args)
                .stdin(Stdio::null());
            c
        };
        let reset = git(&["reset", "HEAD", "--quiet"])
            .status()
            .map_err(io(&wt))?;
        if !reset.success() {
            return Ok(TempMerge::Failed);
        }
        if let Some(a) = &show.announce {
            notes(MergeNote::Action(a));
        }
        notes(MergeNote::Output);
        // As git-annex: file renames across directories are not followed
        // when conflicts are resolved (the variants would land in the
        // renamed directory), unless the user set it.
        let mut args: Vec<&str> = Vec::new();
        let renames_set = self
            .repo
            .config_snapshot()
            .string("merge.directoryRenames")
            .is_some();
        if resolve.is_some() && !renames_set {
            args.extend(["-c", "merge.directoryRenames=false"]);
        }
        args.extend(["merge", "--no-edit"]);
        if show.quiet {
            args.push("--quiet");
        }
        if allow_unrelated {
            args.push("--allow-unrelated-histories");
        }
        args.push(tomerge);
        let _ = std::io::stdout().flush();
        let merged = git(&args).status().map_err(io(&wt))?;
        if !merged.success() {
            match resolve {
                Some(resolve) => {
                    if !resolve(&wt, &gd) {
                        return Ok(TempMerge::Failed);
                    }
                }
                None => {
                    let out = git(&["diff", "--name-only", "--diff-filter=U"])
                        .output()
                        .map_err(io(&wt))?;
                    let files = String::from_utf8_lossy(&out.stdout)
                        .lines()
                        .map(str::to_string)
                        .collect();
                    return Ok(TempMerge::Conflict(files));
                }
            }
        }
        let head = std::fs::read_to_string(gd.join("HEAD")).map_err(io(&gd))?;
        let head = head.trim();
        if head.len() < 40 || !head.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(TempMerge::Failed);
        }
        Ok(TempMerge::Merged(head.to_string()))
    }

    /// `annex.adjustedbranchrefresh` as git-annex reads it: a number, else
    /// `true` for 1, else 0 (0: the branch is refreshed by `sync` only,
    /// when content changed since the last refresh; otherwise by the
    /// command that changed content, when it ends).
    pub fn refresh_setting(&self) -> u64 {
        let snapshot = self.repo.config_snapshot();
        let Some(v) = snapshot.string("annex.adjustedbranchrefresh") else {
            return 0;
        };
        let v = v.to_string();
        if let Ok(n) = v.trim().parse::<u64>() {
            return n;
        }
        u64::from(snapshot.boolean("annex.adjustedbranchrefresh") == Some(true))
    }

    /// [`Adjuster::refresh`], then logged as finished in
    /// `.git/annex/adjust.log` when it worked ([`annex_core::adjustlog`]).
    pub fn refresh_logged(&self, orig: &str, adj: &Adjustment) -> Result<bool, AdjustError> {
        let started = annex_core::adjustlog::now();
        let ok = self.refresh(orig, adj)?;
        if ok && !adj.is_stable() {
            annex_core::adjustlog::record_finished(&self.git_dir, started).map_err(|e| {
                AdjustError::Object {
                    what: "adjust.log".into(),
                    detail: e.to_string(),
                }
            })?;
        }
        Ok(ok)
    }

    /// After a sync: an adjustment that depends on which content is here
    /// is made again and checked out (git-annex's
    /// `adjustedBranchRefreshFull`). Returns whether it worked.
    pub fn refresh(&self, orig: &str, adj: &Adjustment) -> Result<bool, AdjustError> {
        if adj.is_stable() {
            return Ok(true);
        }
        let current = adjusted_branch(orig, adj);
        self.update_adjusted_branch(adj, &current, orig)
    }
}

/// How `annex.adjustedbranchrefresh` above 1 has been followed by this
/// process (git-annex's refresh counter): the content changes counted so
/// far, the count since the last refresh, and whether a refresh is owed
/// at the end.
#[derive(Debug)]
struct RefreshCounter {
    /// The repository's git directory, as [`annex_core::adjustlog`] names
    /// it; `None` when no adjusted branch depending on content is checked
    /// out (nothing is ever refreshed here).
    git_dir: Option<PathBuf>,
    /// The setting.
    every: u64,
    /// The content changes taken into account.
    seen: u64,
    /// The changes since the last refresh.
    counter: u64,
    /// A change was not followed by a refresh: one is made at the end.
    pending: bool,
}

impl RefreshCounter {
    fn load(path: &Path) -> RefreshCounter {
        let mut c = RefreshCounter {
            git_dir: None,
            every: 0,
            seen: 0,
            counter: 0,
            pending: false,
        };
        if let Ok(adjuster) = Adjuster::open(path)
            && let Some((adj, _)) = adjuster.current()
            && !adj.is_stable()
        {
            c.every = adjuster.refresh_setting();
            c.git_dir = Some(adjuster.git_dir.clone());
        }
        c
    }

    /// Counts the changes made since the last call, as git-annex counts
    /// each: with a setting N above 1, every N-1th change refreshes at
    /// once, any other leaves a refresh owed at the end. Says whether a
    /// refresh is due now.
    fn count(&mut self) -> bool {
        let Some(git_dir) = &self.git_dir else {
            return false;
        };
        let now = annex_core::adjustlog::changes_in_this_process(git_dir);
        let mut due = false;
        while self.seen < now {
            self.seen += 1;
            if self.every <= 1 {
                continue;
            }
            self.counter += 1;
            if self.counter >= self.every - 1 {
                self.counter = 0;
                due = true;
            } else {
                self.pending = true;
            }
        }
        due
    }
}

static REFRESH_COUNTER: std::sync::Mutex<Option<RefreshCounter>> = std::sync::Mutex::new(None);

/// The refresh counter of this process for the repository at `path`,
/// loaded at the first call.
fn with_refresh_counter<T>(path: &Path, f: impl FnOnce(&mut RefreshCounter) -> T) -> T {
    let mut guard = REFRESH_COUNTER.lock().unwrap_or_else(|p| p.into_inner());
    let counter = guard.get_or_insert_with(|| RefreshCounter::load(path));
    f(counter)
}

/// Makes the adjusted branch checked out at `path` again; whether it
/// worked.
fn refresh_here(path: &Path) -> Option<bool> {
    let adjuster = Adjuster::open(path).ok()?;
    let (adj, orig) = adjuster.current()?;
    Some(adjuster.refresh_logged(&orig, &adj).unwrap_or(false))
}

/// After each file a command acted on (run in `path`): with
/// `annex.adjustedbranchrefresh` set to N above 1, the adjusted branch
/// checked out is made again after every N-1 changes of content it
/// depends on, as git-annex does while a `get` or `drop` goes on. `None`
/// when nothing was to be done, else whether it worked. Cheap when this
/// process changed no such content.
pub fn refresh_when_due(path: &Path) -> Option<bool> {
    if !annex_core::adjustlog::changed_any() {
        return None;
    }
    if !with_refresh_counter(path, RefreshCounter::count) {
        return None;
    }
    refresh_here(path)
}

/// At the end of a command run in `path`: when the command added or
/// removed content while an adjusted branch that depends on it is
/// checked out, and `annex.adjustedbranchrefresh` is not 0, the branch is
/// made again, as git-annex does when such a command ends: with the
/// setting at 1 always, above 1 when changes were made since the last
/// refresh [`refresh_when_due`] made. `None` when nothing was to be done,
/// else whether it worked.
pub fn refresh_after_command(path: &Path) -> Option<bool> {
    if !annex_core::adjustlog::changed_any() {
        return None;
    }
    let owed = with_refresh_counter(path, |c| {
        let due = c.count();
        let owed = match c.every {
            0 => false,
            1 => c
                .git_dir
                .as_deref()
                .is_some_and(annex_core::adjustlog::changed_in_this_process),
            _ => due || c.pending,
        };
        c.pending = false;
        owed
    });
    if !owed {
        return None;
    }
    refresh_here(path)
}

/// After cloning a repository whose adjusted branch was checked out, the
/// clone has that branch but neither the basis nor (maybe) the original
/// branch: both are set to the parent of the adjusting commit, as
/// git-annex's `init` does (`checkAdjustedClone`). Nothing in a bare
/// repository, outside an adjusted branch, or when the basis exists.
pub fn check_adjusted_clone(path: &Path) -> Result<(), AdjustError> {
    let adjuster = match Adjuster::open(path) {
        Ok(a) => a,
        Err(AdjustError::Bare) => return Ok(()),
        Err(e) => return Err(e),
    };
    let Some(current) = adjuster.current_branch() else {
        return Ok(());
    };
    let Some((_, orig)) = adjusted_to_original(&current) else {
        return Ok(());
    };
    let basis = basis_branch(&current);
    if adjuster.ref_sha(&basis).is_some() {
        return Ok(());
    }
    let unable = || AdjustError::Git {
        args: format!("log {current}"),
        detail: format!(
            "Unable to clean up from clone of adjusted branch; perhaps you should check out {}",
            describe(&orig)
        ),
    };
    // The adjusting commit: down the single parents from the tip.
    let mut c = adjuster.ref_sha(&current).ok_or_else(unable)?;
    let parent = loop {
        let parents = adjuster.parents(&c)?;
        if is_adjusting_message(&adjuster.commit_message(&c)?) {
            match parents.as_slice() {
                [p] => break p.clone(),
                _ => return Err(unable()),
            }
        }
        match parents.as_slice() {
            [p] => c = p.clone(),
            _ => return Err(unable()),
        }
    };
    if adjuster.ref_sha(&orig).is_none() {
        adjuster.update_ref(&orig, &parent, None)?;
    }
    adjuster.update_ref(&basis, &parent, None)
}

fn is_adjusting_message(msg: &[u8]) -> bool {
    let mut m = msg;
    while let Some((last, rest)) = m.split_last() {
        if *last == b'\n' || *last == b'\r' {
            m = rest;
        } else {
            break;
        }
    }
    m == ADJUSTED_COMMIT_MESSAGE.as_bytes()
}

fn check(out: std::process::Output) -> Result<Vec<u8>, String> {
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

/// One `git ls-tree -z` record: `MODE TYPE OID\tPATH`.
fn parse_entry(rec: &[u8]) -> Option<(Vec<u8>, Entry)> {
    let tab = rec.iter().position(|b| *b == b'\t')?;
    let meta = std::str::from_utf8(&rec[..tab]).ok()?;
    let mut parts = meta.split(' ');
    let mode = u32::from_str_radix(parts.next()?, 8).ok()?;
    let _kind = parts.next()?;
    let oid = gix::ObjectId::from_hex(parts.next()?.as_bytes()).ok()?;
    Some((rec[tab + 1..].to_vec(), Entry { mode, oid }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_as_git_annex_writes_them() {
        for (adj, name) in [
            (Adjustment::Link(LinkAdjustment::Unlock), "unlocked"),
            (Adjustment::Link(LinkAdjustment::Lock), "locked"),
            (Adjustment::Link(LinkAdjustment::Fix), "fixed"),
            (
                Adjustment::Presence(PresenceAdjustment::HideMissing, None),
                "hidemissing",
            ),
            (
                Adjustment::Presence(
                    PresenceAdjustment::HideMissing,
                    Some(LinkAdjustment::Unlock),
                ),
                "hidemissing-unlocked",
            ),
            (
                Adjustment::LockUnlockPresent(LockUnlockPresent::UnlockPresent),
                "unlockpresent",
            ),
        ] {
            assert_eq!(adj.name(), name);
            assert_eq!(Adjustment::parse(name), Some(adj));
        }
        assert_eq!(Adjustment::parse("sideways"), None);
    }

    #[test]
    fn branch_names_map_both_ways() {
        let adj = Adjustment::Link(LinkAdjustment::Unlock);
        let b = adjusted_branch("refs/heads/feature(x)", &adj);
        assert_eq!(b, "refs/heads/adjusted/feature(x)(unlocked)");
        assert_eq!(
            adjusted_to_original(&b),
            Some((adj, "refs/heads/feature(x)".to_string()))
        );
        assert_eq!(basis_branch(&b), "refs/basis/adjusted/feature(x)(unlocked)");
        assert_eq!(adjusted_to_original("refs/heads/master"), None);
        assert_eq!(
            adjusted_to_original("refs/heads/adjusted/master(bogus)"),
            None
        );
    }

    #[test]
    fn options_combine_in_order() {
        let u = Adjustment::Link(LinkAdjustment::Unlock);
        let l = Adjustment::Link(LinkAdjustment::Lock);
        let h = Adjustment::Presence(PresenceAdjustment::HideMissing, None);
        assert_eq!(Adjustment::combine(&[u, l]), Some(l));
        assert_eq!(
            Adjustment::combine(&[h, u]),
            Some(Adjustment::Presence(
                PresenceAdjustment::HideMissing,
                Some(LinkAdjustment::Unlock)
            ))
        );
        assert_eq!(
            Adjustment::combine(&[u, h]),
            Some(Adjustment::Presence(
                PresenceAdjustment::HideMissing,
                Some(LinkAdjustment::Unlock)
            ))
        );
        assert_eq!(Adjustment::combine(&[]), None);
    }

    #[test]
    fn reversal_locks_and_shows() {
        assert_eq!(
            Adjustment::Link(LinkAdjustment::Unlock).reverse(),
            Adjustment::Link(LinkAdjustment::Lock)
        );
        assert_eq!(
            Adjustment::Link(LinkAdjustment::Lock).reverse(),
            Adjustment::Link(LinkAdjustment::Lock)
        );
        assert!(!Adjustment::Presence(PresenceAdjustment::HideMissing, None).is_stable());
        assert!(is_adjusting_message(b"git-annex adjusted branch\n"));
        assert!(!is_adjusting_message(b"git-annex adjusted branch x"));
    }
}
