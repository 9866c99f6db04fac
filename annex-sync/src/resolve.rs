//! The merge driver: resolving a conflicted merge of the current branch the
//! way git-annex does (`Annex.AutoMerge.resolveMerge`), keeping both sides,
//! so that a sync never stops on a conflict.
//!
//! Only conflicts where at least one side is an annexed file (a symlink to
//! an annexed object or a pointer file) are resolved:
//! - both sides annexed, different keys: the file is replaced by one
//!   variant file per key (`name.variant-XXXX.ext`, see [`variant`]), each
//!   locked or unlocked as its side was;
//! - both sides annexed, the same key: the file stays, a symlink when both
//!   sides were locked, a pointer file (unlocked) otherwise;
//! - one side annexed, the other a plain file, a directory or a deletion:
//!   the other side is kept as it was (grafted from its branch) and the
//!   annexed side becomes a variant file.
//!
//! Conflicts between two non-annexed files are left for the user, as
//! git-annex leaves them.
//!
//! `git` runs through [`crate::git::Git`] for what changes the index (`rm
//! --cached`, `update-index`) and for listing the unmerged, deleted and
//! untracked files; objects are read and written with gix.

pub mod unmerged;
pub mod variant;

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use annex_core::key::Key;
use annex_core::objects::ObjectStore;
use annex_core::pointer::{self, Thin};

use crate::git::{Git, GitError};
use unmerged::{ItemType, Side, Unmerged};

/// The message of the commit that concludes a resolved merge.
pub const COMMIT_MESSAGE: &str = "git-annex automatic merge conflict fix";

/// The note git-annex shows once it has resolved a conflict.
pub const RESOLVED_NOTE: &str =
    "Merge conflict was automatically resolved; you may want to examine the result.";

/// Why conflicts could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Running `git` failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The repository could not be opened with gix.
    #[error("cannot open the repository at {path}: {detail}")]
    Open {
        /// The work tree.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The object store could not be opened.
    #[error(transparent)]
    Store(#[from] annex_core::objects::ObjectsError),
    /// An object of a conflicting side could not be read, or a new one
    /// written.
    #[error("cannot {op} git object {sha}: {detail}")]
    Object {
        /// What was being done.
        op: &'static str,
        /// The object id (or the path whose object was written).
        sha: String,
        /// Why.
        detail: String,
    },
    /// A file of the work tree could not be changed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A file to write is beyond a symbolic link (or otherwise not a
    /// path of the work tree): it is left alone.
    #[error(transparent)]
    Path(#[from] annex_core::wtpath::WtPathError),
    /// The merge being resolved is not recorded (`MERGE_HEAD`).
    #[error("{}: {source}", path.display())]
    MergeHead {
        /// The `MERGE_HEAD` file.
        path: PathBuf,
        /// Why it could not be read.
        source: io::Error,
    },
    /// No branch is checked out, and a conflict needs our side's tree.
    #[error("No branch is currently checked out.")]
    NoBranch,
    /// `MERGE_HEAD` does not start with an object id.
    #[error("No SHA found in {}", path.display())]
    NoMergeSha {
        /// The `MERGE_HEAD` file.
        path: PathBuf,
    },
}

/// What [`resolve_merge`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// The paths (from the top of the work tree) that were conflicted and
    /// are resolved now.
    pub resolved: Vec<Vec<u8>>,
    /// The keys involved in the resolved conflicts.
    pub keys: Vec<Key>,
    /// Whether conflicts remain that could not be resolved (both sides
    /// plain git files): the merge is then not committed.
    pub unresolved: Vec<Vec<u8>>,
    /// The standard output of `git commit` when the merge was committed.
    pub commit_output: Option<Vec<u8>>,
}

/// Resolves the conflicts that a merge left in the index of the work tree
/// at `work_tree` (git directory `git_dir`) as git-annex does, and when
/// `commit` is set and no conflict is left, commits the merge (`git commit
/// --no-verify -m` with git-annex's message; its output, which git-annex
/// shows unless quiet, is in [`Resolution::commit_output`]). When plain
/// files stay conflicted ([`Resolution::unresolved`]) nothing is committed
/// and the caller should treat the merge as failed, as git-annex does.
/// `Ok(None)` when no conflict could be resolved (none, or only conflicts
/// between plain git files, which are left as they are).
///
/// The merge's other side is read from `MERGE_HEAD` when a conflict needs
/// it. When `HEAD` is not a commit nothing is resolved, as git-annex does
/// without a current branch.
pub fn resolve_merge(
    work_tree: &Path,
    git_dir: &Path,
    commit: bool,
) -> Result<Option<Resolution>, ResolveError> {
    let resolver = Resolver::new(work_tree, git_dir)?;
    let Some(us) = resolver.head()? else {
        // No current branch: git-annex resolves nothing.
        let mut resolver = resolver;
        resolver.finish()?;
        return Ok(None);
    };
    let Some(mut resolution) = resolver.resolve(Some(&us))? else {
        return Ok(None);
    };
    if commit && resolution.unresolved.is_empty() {
        let out = commit_resolved_merge(work_tree, false)?;
        resolution.commit_output = Some(out.stdout);
    }
    Ok(Some(resolution))
}

/// [`resolve_merge`] in a temporary work tree that holds none of the
/// repository's files, as git-annex resolves a merge into an adjusted
/// branch: only the index is resolved (files missing from the work tree
/// stay in it), then committed when `commit` and nothing is left. Symlinks
/// are made for the repository's own work tree `real_top` and git
/// directory `real_git_dir`.
pub fn resolve_merge_in_overlay(
    work_tree: &Path,
    git_dir: &Path,
    (real_top, real_git_dir): (&Path, &Path),
    commit: bool,
) -> Result<Option<Resolution>, ResolveError> {
    let mut resolver = Resolver::new(work_tree, git_dir)?;
    resolver.overlay = Some((real_top.to_path_buf(), real_git_dir.to_path_buf()));
    // The temporary work tree is not the caller's: its git environment
    // (naming the real index) is not passed on, and the filters are off.
    resolver.git = Git::isolated(work_tree);
    let Some(us) = resolver.head()? else {
        resolver.finish()?;
        return Ok(None);
    };
    let Some(mut resolution) = resolver.resolve(Some(&us))? else {
        return Ok(None);
    };
    if commit && resolution.unresolved.is_empty() {
        let out = Git::isolated(work_tree).run(commit_args(false))?;
        resolution.commit_output = Some(out.stdout);
    }
    Ok(Some(resolution))
}

/// Resolves the conflicts in the index as `git annex resolvemerge` does,
/// without committing: `branch` is the current branch (a ref), `None` when
/// there is none, which is an error ([`ResolveError::NoBranch`]) only when
/// a conflict needs our side's tree, as in git-annex. Likewise a
/// `MERGE_HEAD` without an object id is an error only when their side's
/// tree is needed. `Ok(None)` when no conflict could be resolved.
pub fn resolve_conflicts(
    work_tree: &Path,
    git_dir: &Path,
    branch: Option<&str>,
) -> Result<Option<Resolution>, ResolveError> {
    Resolver::new(work_tree, git_dir)?.resolve(branch)
}

/// Commits a resolved merge as git-annex does: `git commit --no-verify -m
/// "git-annex automatic merge conflict fix"`, with `--quiet` when `quiet`.
pub fn commit_resolved_merge(work_tree: &Path, quiet: bool) -> Result<Output, ResolveError> {
    Ok(Git::new(work_tree).run(commit_args(quiet))?)
}

/// The arguments of [`commit_resolved_merge`]'s `git commit`.
fn commit_args(quiet: bool) -> Vec<&'static str> {
    let mut args = vec!["commit"];
    if quiet {
        args.push("--quiet");
    }
    args.extend(["--no-verify", "-m", COMMIT_MESSAGE]);
    args
}

/// Reads the merged commit from `GIT_DIR/MERGE_HEAD` (its first line).
pub fn read_merge_head(git_dir: &Path) -> Result<String, ResolveError> {
    let path = git_dir.join("MERGE_HEAD");
    let data = fs::read(&path).map_err(|source| ResolveError::MergeHead {
        path: path.clone(),
        source,
    })?;
    let first = data.split(|&c| c == b'\n').next().unwrap_or(&[]);
    if (first.len() == 40 || first.len() == 64) && first.iter().all(u8::is_ascii_hexdigit) {
        Ok(String::from_utf8_lossy(first).into_owned())
    } else {
        Err(ResolveError::NoMergeSha { path })
    }
}

/// A change of the index, queued.
#[derive(Debug)]
enum IndexOp {
    /// `git rm --quiet -f --cached -- PATHS`.
    Unstage(Vec<Vec<u8>>),
    /// `git update-index -z --index-info` with these records.
    Stage(Vec<u8>),
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ResolveError + 'a {
    move |source| ResolveError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn os(b: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(b))
}

/// Which side of a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Us,
    Them,
}

impl Unmerged {
    fn side(&self, which: Which) -> Option<&Side> {
        match which {
            Which::Us => self.us.as_ref(),
            Which::Them => self.them.as_ref(),
        }
    }

    fn item_type(&self, which: Which) -> Option<ItemType> {
        self.side(which).map(|s| s.item_type)
    }

    fn is_locked(&self, which: Which) -> bool {
        self.item_type(which) == Some(ItemType::Symlink)
    }
}

struct Resolver {
    top: PathBuf,
    git_dir: PathBuf,
    git: Git,
    repo: gix::Repository,
    store: ObjectStore,
    thin: bool,
    /// The index changes, in order (git-annex's queue: consecutive
    /// changes of one kind are run together, in the order they came).
    ops: Vec<IndexOp>,
    merge_head: Option<String>,
    /// The work tree is a temporary one holding none of the files (a
    /// merge into an adjusted branch): files missing from it are not
    /// deleted from the index, and no cruft is cleaned; links are made for
    /// the repository's own work tree and git directory, given here.
    overlay: Option<(PathBuf, PathBuf)>,
}

impl Resolver {
    fn new(work_tree: &Path, git_dir: &Path) -> Result<Resolver, ResolveError> {
        let top = work_tree.to_path_buf();
        let git_dir = if git_dir.is_absolute() {
            git_dir.to_path_buf()
        } else {
            top.join(git_dir)
        };
        let repo = gix::open(&git_dir)
            .map(annex_core::config::with_overrides)
            .map_err(|e| ResolveError::Open {
                path: top.clone(),
                detail: e.to_string(),
            })?;
        let thin = matches!(repo.config_snapshot().boolean("annex.thin"), Some(true));
        let store = ObjectStore::open(&git_dir)?;
        Ok(Resolver {
            git: Git::new(&top),
            top,
            git_dir,
            repo,
            store,
            thin,
            ops: Vec::new(),
            merge_head: None,
            overlay: None,
        })
    }

    /// `git ARGS` with literal pathspecs, as git-annex runs it.
    fn git(&self, args: &[&OsStr]) -> Result<Output, ResolveError> {
        let mut all: Vec<&OsStr> = vec![OsStr::new("--literal-pathspecs")];
        all.extend_from_slice(args);
        Ok(self.git.run(all)?)
    }

    fn list(&self, args: &[&str]) -> Result<Vec<Vec<u8>>, ResolveError> {
        let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        let out = self.git(&args)?;
        Ok(out
            .stdout
            .split(|&c| c == 0)
            .filter(|p| !p.is_empty())
            .map(<[u8]>::to_vec)
            .collect())
    }

    fn head(&self) -> Result<Option<String>, ResolveError> {
        let out = self
            .git
            .command(["rev-parse", "-q", "--verify", "HEAD^{commit}"])
            .stderr(Stdio::null())
            .output()
            .map_err(|source| {
                ResolveError::Git(GitError::Spawn {
                    args: "rev-parse -q --verify HEAD^{commit}".into(),
                    source,
                })
            })?;
        if !out.status.success() {
            return Ok(None);
        }
        let s = String::from_utf8_lossy(&out.stdout).trim().to_string();
        Ok((!s.is_empty()).then_some(s))
    }

    fn them(&mut self) -> Result<String, ResolveError> {
        if let Some(s) = &self.merge_head {
            return Ok(s.clone());
        }
        let s = read_merge_head(&self.git_dir)?;
        self.merge_head = Some(s.clone());
        Ok(s)
    }

    fn resolve(mut self, us: Option<&str>) -> Result<Option<Resolution>, ResolveError> {
        let out = self.git(&[
            OsStr::new("ls-files"),
            OsStr::new("--unmerged"),
            OsStr::new("-z"),
        ])?;
        let conflicts = unmerged::parse(&out.stdout);
        let mut resolution = Resolution::default();
        for u in &conflicts {
            match self.resolve_one(us, u)? {
                Some(keys) => {
                    resolution.resolved.push(u.file.clone());
                    resolution.keys.extend(keys);
                }
                None => resolution.unresolved.push(u.file.clone()),
            }
        }
        self.finish()?;
        if resolution.resolved.is_empty() {
            return Ok(None);
        }
        if self.overlay.is_none() {
            self.clean_conflict_cruft(&resolution)?;
        }
        Ok(Some(resolution))
    }

    /// Runs the queued index changes and drops the deleted files from the
    /// index, in git-annex's order.
    fn finish(&mut self) -> Result<(), ResolveError> {
        // As git-annex's queue runs: every change but the last batch is
        // made before the deleted files are listed; removing those from
        // the index conflicts with a pending update-index (which then runs
        // first) but not with a pending `rm --cached` (run after it).
        if self.overlay.is_some() {
            for op in std::mem::take(&mut self.ops) {
                self.run_op(op)?;
            }
            return Ok(());
        }
        let last = self.ops.pop();
        for op in std::mem::take(&mut self.ops) {
            self.run_op(op)?;
        }
        // Files of the index missing from the work tree leave the index
        // too, as git-annex does after every resolution attempt.
        let deleted = self.list(&["ls-files", "-z", "--deleted", "--", "."])?;
        let rm_deleted = |this: &Resolver| -> Result<(), ResolveError> {
            if deleted.is_empty() {
                return Ok(());
            }
            let mut args: Vec<&OsStr> = ["rm", "--quiet", "-f", "--"]
                .iter()
                .map(OsStr::new)
                .collect();
            args.extend(deleted.iter().map(|p| OsStr::from_bytes(p)));
            this.git(&args)?;
            Ok(())
        };
        match last {
            Some(op @ IndexOp::Unstage(_)) => {
                rm_deleted(self)?;
                self.run_op(op)?;
            }
            Some(op) => {
                self.run_op(op)?;
                rm_deleted(self)?;
            }
            None => rm_deleted(self)?,
        }
        Ok(())
    }

    fn run_op(&self, op: IndexOp) -> Result<(), ResolveError> {
        match op {
            IndexOp::Unstage(paths) => {
                let mut args: Vec<&OsStr> = ["rm", "--quiet", "-f", "--cached", "--"]
                    .iter()
                    .map(OsStr::new)
                    .collect();
                args.extend(paths.iter().map(|p| OsStr::from_bytes(p)));
                self.git(&args)?;
                Ok(())
            }
            IndexOp::Stage(lines) => self.update_index(&lines),
        }
    }

    fn update_index(&self, lines: &[u8]) -> Result<(), ResolveError> {
        let mut cmd =
            self.git
                .command(["--literal-pathspecs", "update-index", "-z", "--index-info"]);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let spawn_err = |source| {
            ResolveError::Git(GitError::Spawn {
                args: "update-index -z --index-info".into(),
                source,
            })
        };
        let mut child = cmd.spawn().map_err(spawn_err)?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(lines).map_err(spawn_err)?;
        }
        let out = child.wait_with_output().map_err(spawn_err)?;
        if !out.status.success() {
            return Err(ResolveError::Git(GitError::Failed {
                args: "update-index -z --index-info".into(),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            }));
        }
        Ok(())
    }

    fn read_object(&self, sha: &str) -> Result<Option<(gix::object::Kind, Vec<u8>)>, ResolveError> {
        let id = gix::ObjectId::from_hex(sha.as_bytes()).map_err(|e| ResolveError::Object {
            op: "parse",
            sha: sha.to_string(),
            detail: e.to_string(),
        })?;
        match self.repo.try_find_object(id) {
            Ok(Some(o)) => Ok(Some((o.kind, o.data.clone()))),
            Ok(None) => Ok(None),
            Err(e) => Err(ResolveError::Object {
                op: "read",
                sha: sha.to_string(),
                detail: e.to_string(),
            }),
        }
    }

    /// The key a side's blob names (`catKey`): a symlink target or pointer
    /// file content of at most git-annex's pointer size.
    fn key_of(&self, side: Option<&Side>) -> Result<Option<Key>, ResolveError> {
        let Some(side) = side else {
            return Ok(None);
        };
        if side.item_type == ItemType::Commit {
            return Ok(None);
        }
        match self.read_object(&side.sha)? {
            Some((gix::object::Kind::Blob, data))
                if data.len() <= pointer::MAX_POINTER_SIZE + 1 =>
            {
                Ok(pointer::parse_pointer(&data))
            }
            _ => Ok(None),
        }
    }

    fn write_blob(&self, path: &[u8], data: &[u8]) -> Result<String, ResolveError> {
        self.repo
            .write_blob(data)
            .map(|id| id.detach().to_string())
            .map_err(|e| ResolveError::Object {
                op: "write",
                sha: String::from_utf8_lossy(path).into_owned(),
                detail: e.to_string(),
            })
    }

    fn stage(&mut self, mode: &str, sha: &str, path: &[u8]) {
        let mut line = format!("{mode} blob {sha}\t").into_bytes();
        line.extend_from_slice(path);
        self.stage_line(&line);
    }

    /// Queues one `update-index --index-info` record (without its NUL).
    fn stage_line(&mut self, line: &[u8]) {
        if let Some(IndexOp::Stage(lines)) = self.ops.last_mut() {
            lines.extend_from_slice(line);
            lines.push(0);
        } else {
            let mut lines = line.to_vec();
            lines.push(0);
            self.ops.push(IndexOp::Stage(lines));
        }
    }

    /// Queues dropping `path` from the index.
    fn unstage(&mut self, path: &[u8]) {
        if let Some(IndexOp::Unstage(paths)) = self.ops.last_mut() {
            paths.push(path.to_vec());
        } else {
            self.ops.push(IndexOp::Unstage(vec![path.to_vec()]));
        }
    }

    /// Resolves one conflict; the keys involved when resolved, `None` when
    /// git-annex leaves it alone.
    fn resolve_one(
        &mut self,
        us: Option<&str>,
        u: &Unmerged,
    ) -> Result<Option<Vec<Key>>, ResolveError> {
        let key_us = self.key_of(u.us.as_ref())?;
        let key_them = self.key_of(u.them.as_ref())?;
        let keys = match (key_us, key_them) {
            (Some(ku), Some(kt)) => {
                self.resolve_by(u)?;
                if ku != kt {
                    self.variant_link(u, &ku, Which::Us)?;
                    self.variant_link(u, &kt, Which::Them)?;
                    // An unlocked file of ours is not conflict cruft that
                    // can be recognized later: it goes now.
                    if !u.is_locked(Which::Us) {
                        remove_file_if_exists(&self.top.join(os(&u.file)))?;
                    }
                    vec![ku, kt]
                } else {
                    if u.is_locked(Which::Us) && u.is_locked(Which::Them) {
                        self.make_symlink(&ku, &u.file)?;
                    } else {
                        let exec = [Which::Us, Which::Them]
                            .iter()
                            .any(|w| u.item_type(*w) == Some(ItemType::Executable));
                        self.make_pointer(&ku, &u.file, &u.file, exec)?;
                    }
                    vec![ku, kt]
                }
            }
            (Some(ku), None) => {
                self.resolve_by(u)?;
                let them = self.them()?;
                self.graft_in(&them, u, Which::Them, Which::Us)?;
                self.variant_link(u, &ku, Which::Us)?;
                vec![ku]
            }
            (None, Some(kt)) => {
                self.resolve_by(u)?;
                let us = us.ok_or(ResolveError::NoBranch)?;
                self.graft_in(us, u, Which::Us, Which::Them)?;
                self.variant_link(u, &kt, Which::Them)?;
                vec![kt]
            }
            (None, None) => return Ok(None),
        };
        Ok(Some(keys))
    }

    /// Drops the conflicted file (and its sibling) from the index, and the
    /// sibling from the work tree.
    fn resolve_by(&mut self, u: &Unmerged) -> Result<(), ResolveError> {
        self.unstage(&u.file);
        if let Some(sib) = &u.sibling {
            self.unstage(sib);
            remove_file_if_exists(&self.top.join(os(sib)))?;
        }
        Ok(())
    }

    fn variant_link(&mut self, u: &Unmerged, key: &Key, which: Which) -> Result<(), ResolveError> {
        let dest = variant::variant_file(&u.file, key);
        if u.is_locked(which) {
            self.make_symlink(key, &dest)
        } else {
            let exec = u.item_type(which) == Some(ItemType::Executable);
            self.make_pointer(key, &u.file, &dest, exec)
        }
    }

    fn make_symlink(&mut self, key: &Key, dest: &[u8]) -> Result<(), ResolveError> {
        let (top, git_dir) = match &self.overlay {
            Some((top, git_dir)) => (top, git_dir),
            None => (&self.top, &self.git_dir),
        };
        let target = pointer::link_target_in(top, os(dest), git_dir, key, self.store.config());
        // In a temporary work tree only the index matters (as git-annex).
        if self.overlay.is_none() {
            let full = self.top.join(os(dest));
            self.replace_with(&full, |tmp| std::os::unix::fs::symlink(&target, tmp))?;
        }
        let sha = self.write_blob(dest, target.as_os_str().as_bytes())?;
        self.stage("120000", &sha, dest);
        Ok(())
    }

    /// An unlocked file for `key` at `dest`: its content when the store
    /// has it (a copy, a hard link with `annex.thin`), else the pointer.
    /// Content only in the work tree (the store lacks it but the file
    /// `orig` is the key's content) is moved to `dest`, as git-annex reuses
    /// the old file, so it is never lost.
    /// In a temporary work tree only the pointer is staged.
    fn make_pointer(
        &mut self,
        key: &Key,
        orig: &[u8],
        dest: &[u8],
        exec: bool,
    ) -> Result<(), ResolveError> {
        let full = self.top.join(os(dest));
        let pointer_bytes = pointer::format_pointer(key);
        if self.overlay.is_some() {
            // A temporary work tree gets no file, least of all a copy of
            // the content: only the index matters there (as git-annex).
            let sha = self.write_blob(dest, &pointer_bytes)?;
            self.stage(if exec { "100755" } else { "100644" }, &sha, dest);
            return Ok(());
        }
        let object = self.store.find(key);
        if object.is_none() {
            let old = self.top.join(os(orig));
            let is_content = fs::symlink_metadata(&old).is_ok_and(|m| m.is_file())
                && matches!(annex_core::backend::verify_key(key, &old), Ok(Some(true)));
            if is_content {
                if old != full {
                    annex_core::wtpath::check_full(&self.top, &old)?;
                    annex_core::wtpath::rename_into_full(&self.top, &old, &full)?;
                }
                let sha = self.write_blob(dest, &pointer_bytes)?;
                self.stage(if exec { "100755" } else { "100644" }, &sha, dest);
                return Ok(());
            }
        }
        let thin = self.thin;
        self.replace_with(&full, |tmp| {
            let thin = if thin { Thin::HardLink } else { Thin::Copy };
            pointer::write_unlocked(tmp, key, object.as_deref(), thin, None)?;
            if exec {
                let m = fs::metadata(tmp)?.permissions().mode();
                fs::set_permissions(tmp, fs::Permissions::from_mode(m | ((m & 0o444) >> 2)))?;
            }
            Ok(())
        })?;
        let sha = self.write_blob(dest, &pointer_bytes)?;
        self.stage(if exec { "100755" } else { "100644" }, &sha, dest);
        Ok(())
    }

    /// Makes `full` anew with `make` (given a temporary path in
    /// `annex/othertmp`, see `ObjectStore::replace_file`), replacing
    /// whatever file or symlink is there.
    fn replace_with(
        &self,
        full: &Path,
        make: impl FnMut(&Path) -> io::Result<()>,
    ) -> Result<(), ResolveError> {
        // Never a file beyond a symbolic link (outside the work tree).
        annex_core::wtpath::check_full(&self.top, full)?;
        let dir = full.parent().unwrap_or(&self.top);
        fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        if let Ok(m) = fs::symlink_metadata(full)
            && m.is_dir()
        {
            return Err(ResolveError::Io {
                op: "replace",
                path: full.to_path_buf(),
                source: io::Error::other("a directory is in the way"),
            });
        }
        self.store
            .replace_file(full, make)
            .map_err(io_err("replace", full))
    }

    /// Stages the file or directory `u.file` as it is in commit `commit`
    /// (the non-annexed side `want`) and puts it in the work tree (not in a
    /// temporary one).
    fn graft_in(
        &mut self,
        commit: &str,
        u: &Unmerged,
        want: Which,
        unwant: Which,
    ) -> Result<(), ResolveError> {
        let out = self.git(&[
            OsStr::new("ls-tree"),
            OsStr::new("-z"),
            OsStr::new("-r"),
            OsStr::new("--full-tree"),
            OsStr::new(commit),
            OsStr::from_bytes(&u.file),
        ])?;
        for rec in out.stdout.split(|&c| c == 0).filter(|r| !r.is_empty()) {
            self.stage_line(rec);
        }
        if self.overlay.is_some() {
            // Only the index matters in a temporary work tree.
            return Ok(());
        }
        let full = self.top.join(os(&u.file));
        let want_sha = u.side(want).map(|s| s.sha.clone());
        match (u.item_type(want), u.item_type(unwant)) {
            (Some(ItemType::Symlink), _) => {
                if let Some(sha) = want_sha {
                    let target = self.blob(&sha)?;
                    let target = PathBuf::from(OsStr::from_bytes(&target));
                    self.replace_with(&full, |tmp| std::os::unix::fs::symlink(&target, tmp))?;
                }
            }
            (Some(ItemType::File), Some(ItemType::Symlink)) => {
                self.replace_file(&full, want_sha.as_deref(), false)?
            }
            (Some(ItemType::Executable), Some(ItemType::Symlink)) => {
                self.replace_file(&full, want_sha.as_deref(), true)?
            }
            _ => {
                // A directory there is what git kept of a file/directory
                // conflict: the wanted side. Anything else is replaced by
                // the wanted file.
                if !full.is_dir() {
                    self.replace_file(&full, want_sha.as_deref(), false)?;
                }
            }
        }
        Ok(())
    }

    fn blob(&self, sha: &str) -> Result<Vec<u8>, ResolveError> {
        match self.read_object(sha)? {
            Some((_, data)) => Ok(data),
            None => Err(ResolveError::Object {
                op: "find",
                sha: sha.to_string(),
                detail: "missing".into(),
            }),
        }
    }

    fn replace_file(&self, full: &Path, sha: Option<&str>, exec: bool) -> Result<(), ResolveError> {
        let Some(sha) = sha else {
            return Ok(());
        };
        let data = self.blob(sha)?;
        self.replace_with(full, |tmp| {
            fs::write(tmp, &data)?;
            if exec {
                let m = fs::metadata(tmp)?.permissions().mode();
                fs::set_permissions(tmp, fs::Permissions::from_mode(m | ((m & 0o444) >> 2)))?;
            }
            Ok(())
        })
    }

    /// Removes what git left in the work tree for the resolved files
    /// (`f`, `f~HEAD`, `f~branch`) and is not staged, when it is one of the
    /// involved keys: a symlink or pointer to it, or its very content
    /// while the store also has it (git-annex tells that by the inode
    /// recorded in its keys database; we check the content).
    fn clean_conflict_cruft(&self, resolution: &Resolution) -> Result<(), ResolveError> {
        let files: BTreeSet<&[u8]> = resolution.resolved.iter().map(Vec::as_slice).collect();
        let keys: BTreeSet<&Key> = resolution.keys.iter().collect();
        let others = self.list(&[
            "ls-files",
            "-z",
            "--others",
            "--exclude-standard",
            "--",
            ".",
        ])?;
        for f in others {
            if !(files.contains(f.as_slice()) || files.contains(cruft_base(&f))) {
                continue;
            }
            let full = self.top.join(os(&f));
            let Ok(meta) = fs::symlink_metadata(&full) else {
                continue;
            };
            let involved = if meta.file_type().is_symlink() {
                fs::read_link(&full)
                    .ok()
                    .and_then(|t| pointer::parse_link_target(t.as_os_str().as_bytes()))
                    .is_some_and(|k| keys.contains(&k))
            } else if meta.is_file() {
                match pointer::is_pointer_file(&full) {
                    Ok(Some(k)) => keys.contains(&k),
                    Ok(None) => keys.iter().any(|k| {
                        k.size().is_none_or(|s| s == meta.len())
                            && self.store.has(k)
                            && matches!(annex_core::backend::verify_key(k, &full), Ok(Some(true)))
                    }),
                    Err(_) => false,
                }
            } else {
                false
            };
            if involved {
                remove_file_if_exists(&full)?;
            }
        }
        Ok(())
    }
}

/// What a conflict-cruft name `f~something` was made from: everything
/// before its last `~` (empty when there is none).
pub fn cruft_base(f: &[u8]) -> &[u8] {
    match f.iter().rposition(|&c| c == b'~') {
        Some(i) => &f[..i],
        None => &f[..0],
    }
}

fn remove_file_if_exists(path: &Path) -> Result<(), ResolveError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => match fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("remove", path)(e)),
        },
        Err(_) => Ok(()),
    }
}
