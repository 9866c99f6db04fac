//! `sync` at the git level: the steps git-annex's `sync` takes with git
//! (commit the work tree, fetch a remote, merge a branch into the current
//! one, push to a remote), each as one function returning what happened,
//! so that the command line only decides the order and prints.
//!
//! Steps and their git commands, as git-annex runs them:
//!
//! - commit: `git commit -a -m MSG` ([`SyncRepo::commit`]); to keep the
//!   no-op path cheap, [`crate::clean::provably_clean`] first checks in
//!   process (stat data against the index, cache tree against `HEAD`, no
//!   untracked file) and prints git's text itself; when it cannot prove
//!   it, `git update-index --refresh` then `git commit --dry-run -a` tell
//!   whether there is anything to commit (no hook runs; the dry run prints
//!   what `git commit` would print when there is nothing), and only then
//!   the real commit runs.
//! - pull: `git fetch REMOTE` ([`SyncRepo::fetch`]), then `git merge
//!   --no-edit REMOTE/BRANCH` and `REMOTE/synced/BRANCH` when they have
//!   commits the current branch lacks ([`SyncRepo::merge`]).
//! - push: `git push REMOTE BRANCH` (works for a bare remote; its failure
//!   is not an error, as git-annex's), then `git push REMOTE
//!   BRANCH:synced/BRANCH +git-annex:synced/git-annex` (the push that
//!   counts; `BRANCH:synced/BRANCH` left out when the first push worked,
//!   as git-annex 10.20261026 does), then `git push REMOTE git-annex`
//!   quietly ([`SyncRepo::push`]).
//!
//! # The failed-push record
//!
//! A push that still fails after its retry is recorded in
//! `.git/annex/rs-sync-failed-pushes` ([`FAILED_PUSHES_FILE`]; a file of
//! git-annex-rs only, git-annex neither reads nor writes it) so that the
//! next `sync` pushes to that remote even when its remote-tracking refs
//! say there is nothing to push. Format: one line per remote,
//! `NAME<TAB>SECONDS`, where `NAME` is the git remote's name (git allows no
//! whitespace in it) and `SECONDS` the Unix time of the last failure; lines
//! sorted by name; written atomically (temporary file and rename). A
//! successful push to the remote removes its line; the file is removed
//! when no line is left.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Output;

use gix::ObjectId;

use crate::git::{Git, GitError};

/// The name of the failed-push record under `.git/annex`.
pub const FAILED_PUSHES_FILE: &str = "rs-sync-failed-pushes";

/// The full name of the `git-annex` branch.
pub const ANNEX_BRANCH: &str = "refs/heads/git-annex";

/// An error of a sync step that stops it (a step that merely fails, such
/// as a rejected push, is reported in its outcome instead).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Running git failed.
    #[error(transparent)]
    Git(#[from] GitError),
    /// The repository could not be opened with gix.
    #[error("cannot open the git repository at {path}: {detail}")]
    Open {
        /// The repository.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// A ref could not be read or compared.
    #[error("cannot read ref {name}: {detail}")]
    Ref {
        /// The ref.
        name: String,
        /// Why.
        detail: String,
    },
    /// A remote over ssh could not tell its UUID.
    #[error("{detail}")]
    Ssh {
        /// What went wrong, as git-annex words it.
        detail: String,
    },
    /// The failed-push record could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    Record {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What running one git command gave: whether it succeeded, and its
/// output, captured for the caller to show as git-annex shows it.
#[derive(Debug, Clone, Default)]
pub struct GitRun {
    /// Whether git exited 0.
    pub ok: bool,
    /// Its standard output.
    pub stdout: Vec<u8>,
    /// Its standard error.
    pub stderr: Vec<u8>,
}

impl GitRun {
    fn from_output(out: Output) -> GitRun {
        GitRun {
            ok: out.status.success(),
            stdout: out.stdout,
            stderr: out.stderr,
        }
    }

    fn append(&mut self, other: GitRun) {
        self.stdout.extend(other.stdout);
        self.stderr.extend(other.stderr);
    }
}

/// What [`SyncRepo::commit`] did.
#[derive(Debug, Clone, Default)]
pub struct CommitOutcome {
    /// Whether a commit was made.
    pub committed: bool,
    /// Whether the tracked files of the work tree are known to be what
    /// `HEAD` holds afterwards: proven in process, or `git commit -a`
    /// succeeded. `false` when git said there was nothing to commit (or
    /// failed) without the proof.
    pub clean: bool,
    /// git's output (what `git commit` prints, also when there was nothing
    /// to commit).
    pub run: GitRun,
}

/// What [`SyncRepo::merge`] did.
#[derive(Debug, Clone, Default)]
pub struct MergeRun {
    /// git's result and output.
    pub run: GitRun,
    /// The merge stopped on conflicts (the index has unmerged entries).
    pub conflicted: bool,
}

/// What [`SyncRepo::push`] did.
#[derive(Debug, Clone, Default)]
pub struct PushOutcome {
    /// The push that counts (`BRANCH:synced/BRANCH` and
    /// `+git-annex:synced/git-annex`) succeeded.
    pub ok: bool,
    /// The branch or `synced/BRANCH` was rejected because the remote has
    /// commits we lack (not a fast forward), or another push was updating
    /// the same ref: a pull and another push may fix it.
    pub rejected: bool,
    /// git's output, all pushes together, as it is to be shown (the
    /// direct push's complaint about pushing to a checked-out branch left
    /// out, as git-annex does).
    pub run: GitRun,
}

/// The current branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentBranch {
    /// Its full name, `refs/heads/NAME`.
    pub full: String,
    /// Whether it has commits yet.
    pub born: bool,
}

impl CurrentBranch {
    /// Its name without `refs/heads/`.
    pub fn short(&self) -> &str {
        self.full.strip_prefix("refs/heads/").unwrap_or(&self.full)
    }

    /// Its sync branch, `refs/heads/synced/NAME`.
    pub fn synced(&self) -> String {
        synced_branch(self.short())
    }
}

/// `refs/heads/synced/NAME` for a branch `NAME` (short form).
pub fn synced_branch(short: &str) -> String {
    format!("refs/heads/synced/{short}")
}

/// `refs/remotes/REMOTE/NAME` for a local branch `refs/heads/NAME`.
pub fn remote_branch(remote: &str, full: &str) -> String {
    let short = full.strip_prefix("refs/heads/").unwrap_or(full);
    format!("refs/remotes/{remote}/{short}")
}

/// A repository being synced: its git directory and work tree, git to run
/// in it, and gix to read refs cheaply.
pub struct SyncRepo {
    git: Git,
    git_dir: PathBuf,
    work_tree: Option<PathBuf>,
    repo: gix::Repository,
}

impl std::fmt::Debug for SyncRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncRepo")
            .field("git_dir", &self.git_dir)
            .field("work_tree", &self.work_tree)
            .finish()
    }
}

impl SyncRepo {
    /// Opens the repository whose git directory is `git_dir`, work tree
    /// `work_tree` (none when bare). git runs at the top of the work tree
    /// (git-annex's sync acts on the whole tree wherever it is started).
    pub fn open(git_dir: &Path, work_tree: Option<&Path>) -> Result<SyncRepo, SyncError> {
        let repo = gix::open(git_dir)
            .map(annex_core::config::with_overrides)
            .map_err(|e| SyncError::Open {
                path: git_dir.to_path_buf(),
                detail: e.to_string(),
            })?;
        let dir = work_tree.unwrap_or(git_dir);
        Ok(SyncRepo {
            git: Git::new(dir),
            git_dir: git_dir.to_path_buf(),
            work_tree: work_tree.map(Path::to_path_buf),
            repo,
        })
    }

    /// git, run in this repository.
    pub fn git(&self) -> &Git {
        &self.git
    }

    /// The git directory.
    pub fn git_dir(&self) -> &Path {
        &self.git_dir
    }

    /// The work tree, `None` when bare.
    pub fn work_tree(&self) -> Option<&Path> {
        self.work_tree.as_deref()
    }

    /// Forgets cached refs (after git changed them).
    fn refresh(&mut self) -> Result<(), SyncError> {
        self.repo = gix::open(&self.git_dir)
            .map(annex_core::config::with_overrides)
            .map_err(|e| SyncError::Open {
                path: self.git_dir.clone(),
                detail: e.to_string(),
            })?;
        Ok(())
    }

    /// The branch HEAD names, `None` when HEAD is detached.
    pub fn current_branch(&self) -> Result<Option<CurrentBranch>, SyncError> {
        let head = self.repo.head().map_err(|e| SyncError::Ref {
            name: "HEAD".into(),
            detail: e.to_string(),
        })?;
        let Some(name) = head.referent_name() else {
            return Ok(None);
        };
        let full = name.as_bstr().to_string();
        let born = !head.is_unborn();
        Ok(Some(CurrentBranch { full, born }))
    }

    /// The commit a ref (full name) points to, `None` when it does not exist.
    pub fn ref_id(&self, name: &str) -> Result<Option<ObjectId>, SyncError> {
        let r = self
            .repo
            .try_find_reference(name)
            .map_err(|e| SyncError::Ref {
                name: name.into(),
                detail: e.to_string(),
            })?;
        let Some(mut r) = r else { return Ok(None) };
        let id = r.peel_to_id().map_err(|e| SyncError::Ref {
            name: name.into(),
            detail: e.to_string(),
        })?;
        Ok(Some(id.detach()))
    }

    /// Whether `new` has commits that `orig` lacks (git-annex's
    /// `Git.Branch.changed`); false when `new` does not exist, true when
    /// only `orig` is missing.
    pub fn changed(&self, orig: &str, new: &str) -> Result<bool, SyncError> {
        let Some(n) = self.ref_id(new)? else {
            return Ok(false);
        };
        let Some(o) = self.ref_id(orig)? else {
            return Ok(true);
        };
        self.changed_ids(o, n, new)
    }

    fn changed_ids(&self, orig: ObjectId, new: ObjectId, name: &str) -> Result<bool, SyncError> {
        if orig == new {
            return Ok(false);
        }
        match self.repo.merge_base(orig, new) {
            // No base: unrelated histories, every commit of `new` is new.
            Ok(base) => Ok(base.map(|b| b.detach()) != Some(new)),
            Err(e) => Err(SyncError::Ref {
                name: name.into(),
                detail: e.to_string(),
            }),
        }
    }

    /// Commits every change to tracked files (`git commit -a`) with the
    /// messages (one paragraph each). Nothing to commit is no error: the
    /// outcome holds what git prints then. `quiet` passes `--quiet`.
    ///
    /// The index's stat data is refreshed (and written) first, so that the
    /// check costs one `lstat` a file when nothing changed, also on the
    /// next run (a dry run alone does not write what it learned).
    pub fn commit(&self, messages: &[String], quiet: bool) -> Result<CommitOutcome, SyncError> {
        if let Some(nothing) = self.nothing_to_commit(quiet)? {
            return Ok(nothing);
        }
        // Exit status 1 only says some files differ: the commit decides.
        let _ = self
            .git
            .command(["update-index", "-q", "--refresh"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        // With the stat data fresh again (a copied or touched tree),
        // proven without another pass of git.
        if let Some(nothing) = self.nothing_to_commit(quiet)? {
            return Ok(nothing);
        }
        let mut dry: Vec<OsString> = vec!["commit".into(), "--dry-run".into(), "-a".into()];
        if quiet {
            dry.push("--quiet".into());
        }
        let out = self.git.output(&dry)?;
        if !out.status.success() {
            // Nothing to commit (or git cannot commit: then the real
            // commit would say the same).
            return Ok(CommitOutcome {
                committed: false,
                clean: false,
                run: GitRun {
                    ok: false,
                    stdout: if quiet { Vec::new() } else { out.stdout },
                    stderr: out.stderr,
                },
            });
        }
        let mut args: Vec<OsString> = vec!["commit".into(), "-a".into()];
        if quiet {
            args.push("--quiet".into());
        }
        for m in messages {
            args.push("-m".into());
            args.push(m.into());
        }
        let out = self.git.output(&args)?;
        let run = GitRun::from_output(out);
        Ok(CommitOutcome {
            committed: run.ok,
            clean: run.ok,
            run,
        })
    }

    /// The outcome of a commit with nothing to commit, when
    /// [`crate::clean::provably_clean`] proves it and git's text is known.
    fn nothing_to_commit(&self, quiet: bool) -> Result<Option<CommitOutcome>, SyncError> {
        let Some(top) = &self.work_tree else {
            return Ok(None);
        };
        // The index as it is now (git may just have rewritten it).
        let repo = gix::open(&self.git_dir)
            .map(annex_core::config::with_overrides)
            .map_err(|e| SyncError::Open {
                path: self.git_dir.clone(),
                detail: e.to_string(),
            })?;
        if !crate::clean::provably_clean(&repo, top) {
            return Ok(None);
        }
        let text = if quiet {
            Some(String::new())
        } else {
            self.clean_status()?
        };
        Ok(text.map(|text| CommitOutcome {
            committed: false,
            clean: true,
            run: GitRun {
                ok: false,
                stdout: text.into_bytes(),
                stderr: Vec::new(),
            },
        }))
    }

    /// What `git commit` prints when a clean work tree is on a branch
    /// with commits and no upstream; `None` in other cases (git is asked
    /// then).
    fn clean_status(&self) -> Result<Option<String>, SyncError> {
        let Some(b) = self.current_branch()?.filter(|b| b.born) else {
            return Ok(None);
        };
        let key = format!("branch.{}.remote", b.short());
        if self.repo.config_snapshot().string(key.as_str()).is_some() {
            return Ok(None);
        }
        Ok(Some(format!(
            "On branch {}\nnothing to commit, working tree clean\n",
            b.short()
        )))
    }

    /// `git fetch [--quiet] REMOTE [REFS...]`. A failure is returned as
    /// such, with git's error.
    pub fn fetch(&mut self, remote: &str, refs: &[&str], quiet: bool) -> Result<GitRun, SyncError> {
        let mut args: Vec<&str> = vec!["fetch"];
        if quiet {
            args.push("--quiet");
        }
        args.push(remote);
        args.extend_from_slice(refs);
        let out = self.git.output(&args)?;
        self.refresh()?;
        Ok(GitRun::from_output(out))
    }

    /// Whether `git fetch REMOTE` could bring anything: false only when the
    /// remote is a repository on this machine (`local_path`), fetched with
    /// git's default refspec (`+refs/heads/*:refs/remotes/REMOTE/*`), and
    /// each of its branches is already at the same commit in our
    /// remote-tracking refs. Saves starting `git fetch` and
    /// `git upload-pack` when nothing moved.
    pub fn fetch_needed(&self, remote: &str, local_path: &Path) -> bool {
        let default = format!("+refs/heads/*:refs/remotes/{remote}/*");
        let snapshot = self.repo.config_snapshot();
        let key = format!("remote.{remote}.fetch");
        let specs = snapshot.strings(key.as_str()).unwrap_or_default();
        if specs.len() != 1 || AsRef::<[u8]>::as_ref(&specs[0]) != default.as_bytes() {
            return true;
        }
        let Some(git_dir) = local_git_dir(local_path) else {
            return true;
        };
        let Ok(theirs) = gix::open_opts(&git_dir, gix::open::Options::isolated()) else {
            return true;
        };
        let Ok(refs) = theirs.references() else {
            return true;
        };
        let Ok(heads) = refs.prefixed("refs/heads/") else {
            return true;
        };
        for r in heads {
            let Ok(mut r) = r else { return true };
            let name = r.name().as_bstr().to_string();
            let Some(short) = name.strip_prefix("refs/heads/") else {
                return true;
            };
            let Ok(id) = r.peel_to_id() else { return true };
            let ours = format!("refs/remotes/{remote}/{short}");
            match self.ref_id(&ours) {
                Ok(Some(o)) if o == id.detach() => {}
                _ => return true,
            }
        }
        false
    }

    /// Points `branch` (full name) at `to` (full name) unless it is there
    /// already (git-annex's `git branch -f`).
    pub fn update_branch(&mut self, branch: &str, to: &str) -> Result<(), SyncError> {
        let Some(target) = self.ref_id(to)? else {
            return Ok(());
        };
        if self.ref_id(branch)? == Some(target) {
            return Ok(());
        }
        self.git.run(["update-ref", branch, &target.to_string()])?;
        self.refresh()
    }

    /// `git merge --no-edit [--quiet] [--allow-unrelated-histories] REF`
    /// into the current branch (`ref_name` as git-annex shows it, e.g.
    /// `origin/synced/master`). When conflicts will be resolved
    /// (`resolving`) and `merge.directoryRenames` is not set, git is told
    /// `merge.directoryRenames=false`, as git-annex does.
    pub fn merge(
        &mut self,
        ref_name: &str,
        allow_unrelated: bool,
        quiet: bool,
        resolving: bool,
    ) -> Result<MergeRun, SyncError> {
        let mut args: Vec<&str> = Vec::new();
        if resolving
            && self
                .repo
                .config_snapshot()
                .string("merge.directoryRenames")
                .is_none()
        {
            args.extend(["-c", "merge.directoryRenames=false"]);
        }
        args.push("merge");
        if quiet {
            args.push("--quiet");
        }
        args.extend(["--no-edit", ref_name]);
        if allow_unrelated {
            args.push("--allow-unrelated-histories");
        }
        let out = self.git.output(&args)?;
        let run = GitRun::from_output(out);
        let conflicted = !run.ok && self.has_conflicts()?;
        self.refresh()?;
        Ok(MergeRun { run, conflicted })
    }

    /// Whether the index has unmerged entries.
    pub fn has_conflicts(&self) -> Result<bool, SyncError> {
        let out = self.git.run(["ls-files", "--unmerged", "-z"])?;
        Ok(!out.stdout.is_empty())
    }

    /// Pushes to `remote` as git-annex's sync does: `branch` (full name of
    /// the current branch, `None` with `--only-annex`) directly (its
    /// failure ignored), then to `synced/BRANCH` with the `git-annex`
    /// branch forced to `synced/git-annex` (the push that counts), then
    /// `git-annex` to `git-annex` quietly (its failure ignored).
    pub fn push(
        &mut self,
        remote: &str,
        branch: Option<&str>,
        quiet: bool,
    ) -> Result<PushOutcome, SyncError> {
        push_with(&self.git, remote, branch, quiet).inspect(|_| {
            // Remote-tracking refs moved.
            let _ = self.refresh();
        })
    }

    /// Deletes `synced/BRANCH` and `synced/git-annex` here (`--cleanup`).
    pub fn cleanup_local(&mut self, branch: &CurrentBranch) -> Result<bool, SyncError> {
        let mut ok = true;
        for b in [branch.synced(), "refs/heads/synced/git-annex".to_string()] {
            if self.ref_id(&b)?.is_some() {
                ok &= self.git.run(["update-ref", "-d", &b]).is_ok();
            }
        }
        self.refresh()?;
        Ok(ok)
    }

    /// Deletes `synced/BRANCH` and `synced/git-annex` on `remote`
    /// (`--cleanup`): `git push --quiet --delete REMOTE ...`.
    pub fn cleanup_remote(
        &mut self,
        remote: &str,
        branch: &CurrentBranch,
    ) -> Result<GitRun, SyncError> {
        let synced = branch.synced();
        let args = [
            "push",
            "--quiet",
            "--delete",
            remote,
            synced.as_str(),
            "refs/heads/synced/git-annex",
        ];
        let out = self.git.output(args)?;
        self.refresh()?;
        Ok(GitRun::from_output(out))
    }
}

/// [`SyncRepo::push`] with only a [`Git`], so pushes to several remotes
/// can run on threads at once.
pub fn push_with(
    git: &Git,
    remote: &str,
    branch: Option<&str>,
    quiet: bool,
) -> Result<PushOutcome, SyncError> {
    let run = |refs: &[String]| -> Result<GitRun, SyncError> {
        let mut args: Vec<&str> = vec!["push"];
        if quiet {
            args.push("--quiet");
        }
        args.push(remote);
        args.extend(refs.iter().map(String::as_str));
        let out = git.output(&args)?;
        Ok(GitRun::from_output(out))
    };
    let mut outcome = PushOutcome::default();
    let mut direct_ok = false;
    if let Some(b) = branch {
        let short = b.strip_prefix("refs/heads/").unwrap_or(b);
        let direct = run(&[short.to_string()])?;
        direct_ok = direct.ok;
        // Not a fast-forward, or another push updated the branch at the
        // same moment (not any "remote rejected": that is mostly the
        // checked-out branch of a repository with a work tree).
        outcome.rejected = !direct.ok
            && (contains(&direct.stderr, b"[rejected]")
                || contains(&direct.stderr, b"failed to update ref")
                || contains(&direct.stderr, b"cannot lock ref"));
        outcome.run.stdout.extend(direct.stdout);
        outcome
            .run
            .stderr
            .extend(filter_direct_push_stderr(&direct.stderr));
    }
    let mut refs = Vec::new();
    if let Some(b) = branch.filter(|_| !direct_ok) {
        // As git-annex 10.20261026: when the branch itself could be
        // pushed (a bare remote), synced/BRANCH is not pushed.
        let short = b.strip_prefix("refs/heads/").unwrap_or(b);
        refs.push(format!("{short}:synced/{short}"));
    }
    refs.push("+git-annex:synced/git-annex".to_string());
    let sync = run(&refs)?;
    outcome.ok = sync.ok;
    outcome.rejected |= !sync.ok && is_rejection(&sync.stderr);
    outcome.run.ok = sync.ok;
    outcome.run.append(sync);
    // Hidden, and its failure no error: synced/git-annex is there already.
    let _ = run(&["git-annex".to_string()]);
    Ok(outcome)
}

/// git's stderr for a push refused because the remote has commits we
/// lack.
fn is_rejection(stderr: &[u8]) -> bool {
    // `[rejected]`: the remote has commits we lack; `[remote rejected]`:
    // its ref was being updated by another push at the same moment.
    contains(stderr, b"[rejected]") || contains(stderr, b"[remote rejected]")
}

/// The direct push's stderr as git-annex shows it: lines from `remote: `
/// on are held back, and dropped when they mention
/// `receive.denyCurrentBranch` (pushing to a checked-out branch, which the
/// user did not ask for).
fn filter_direct_push_stderr(stderr: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut held: Vec<&[u8]> = Vec::new();
    for line in stderr.split_inclusive(|&b| b == b'\n') {
        if held.is_empty() && !line.starts_with(b"remote: ") {
            out.extend_from_slice(line);
        } else {
            held.push(line);
        }
    }
    let denied = held
        .iter()
        .any(|l| contains(l, b"receive.denyCurrentBranch"));
    if !denied {
        for l in held {
            out.extend_from_slice(l);
        }
    }
    out
}

/// The git directory of a repository at `path` on this machine: `path/.git`
/// (a directory, or a `gitdir:` file), or `path` itself when it is bare
/// (`annex_core::remote::git_dir_of`).
pub fn local_git_dir(path: &Path) -> Option<PathBuf> {
    annex_core::remote::git_dir_of(path)
}

/// The UUID of the repository at `path` (a remote on this machine), as
/// git-annex learns it when it lists remotes: a git repository not yet
/// initialized is initialized first (git-annex's autoinit of local git
/// remotes, with the default description). `None` when `path` holds no git
/// repository.
pub fn local_remote_uuid(path: &Path) -> Result<Option<annex_core::uuid::Uuid>, SyncError> {
    let Some(git_dir) = local_git_dir(path) else {
        return Ok(None);
    };
    if let Some(u) = annex_core::remote::repository_uuid(&git_dir) {
        return Ok(Some(u));
    }
    let repo = annex_core::repo::Repo::init(&git_dir, None).map_err(|e| SyncError::Open {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    Ok(repo.uuid().cloned())
}

pub use annex_core::remote::ssh::SshUrl;
use annex_core::remote::ssh::{ConfiglistError, SshConfig, configlist_uuid};

/// The UUID of a remote over ssh, as git-annex learns it: `git-annex-shell
/// configlist PATH -- autoinit=1 --` run there (which also initializes a
/// repository with a `git-annex` branch), through the ssh git uses
/// (`$GIT_SSH_COMMAND`, `ssh_command` from `core.sshCommand`, `$GIT_SSH`,
/// else `ssh`). `Ok(None)` when the repository has no git-annex; an error
/// (worded as git-annex's warning) when it cannot be reached.
pub fn ssh_remote_uuid(
    name: &str,
    url: &SshUrl,
    ssh_command: Option<&str>,
) -> Result<Option<annex_core::uuid::Uuid>, SyncError> {
    // git's ssh: the one `git fetch` uses for this remote.
    let config = SshConfig {
        options: Vec::new(),
        git_ssh_command: ssh_command.map(str::to_string),
        use_git_ssh: true,
        caching: None,
    };
    configlist_uuid(url, "git-annex-shell", &config, true).map_err(|e| SyncError::Ssh {
        detail: match e {
            ConfiglistError::Connect(_) => format!(
                "Unable to connect to repository {name} to get its annex.uuid configuration."
            ),
            ConfiglistError::Parse => format!("Unable to parse git config from {name}"),
        },
    })
}

/// Whether `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The failed-push record (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailedPushes {
    /// Remote name → Unix time of its last failed push.
    pub remotes: BTreeMap<String, i64>,
}

impl FailedPushes {
    /// The record's path in the git directory `git_dir`.
    pub fn path(git_dir: &Path) -> PathBuf {
        git_dir.join("annex").join(FAILED_PUSHES_FILE)
    }

    /// Reads the record (empty when there is none). Malformed lines are
    /// skipped.
    pub fn load(git_dir: &Path) -> Result<FailedPushes, SyncError> {
        let path = Self::path(git_dir);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(source) => {
                return Err(SyncError::Record {
                    action: "read",
                    path,
                    source,
                });
            }
        };
        let mut remotes = BTreeMap::new();
        for line in text.split(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(line);
            let mut parts = line.splitn(2, '\t');
            let (Some(name), Some(time)) = (parts.next(), parts.next()) else {
                continue;
            };
            if name.is_empty() || name.contains(char::is_whitespace) {
                continue;
            }
            if let Ok(t) = time.trim().parse::<i64>() {
                remotes.insert(name.to_string(), t);
            }
        }
        Ok(FailedPushes { remotes })
    }

    /// Writes the record atomically; an empty record removes the file.
    pub fn save(&self, git_dir: &Path) -> Result<(), SyncError> {
        let path = Self::path(git_dir);
        if self.remotes.is_empty() {
            return remove_record(&path);
        }
        let mut text = String::new();
        for (name, time) in &self.remotes {
            text.push_str(&format!("{name}\t{time}\n"));
        }
        write_record(&path, text.as_bytes())
    }

    /// Records a failed push to `remote` now.
    pub fn record(&mut self, remote: &str) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        self.remotes.insert(remote.to_string(), now);
    }

    /// Forgets `remote` (its push succeeded).
    pub fn clear(&mut self, remote: &str) {
        self.remotes.remove(remote);
    }

    /// Whether a push to `remote` failed and was not retried successfully.
    pub fn contains(&self, remote: &str) -> bool {
        self.remotes.contains_key(remote)
    }
}

/// Writes one of sync's record files under `.git/annex` atomically (a
/// temporary file renamed over it), creating the directory if needed.
pub(crate) fn write_record(path: &Path, content: &[u8]) -> Result<(), SyncError> {
    let err = |action, source| SyncError::Record {
        action,
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err("create the directory of", e))?;
    }
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, content).map_err(|e| err("write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err("replace", e)
    })
}

/// Removes one of sync's record files; a missing one is no error.
pub(crate) fn remove_record(path: &Path) -> Result<(), SyncError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(SyncError::Record {
            action: "remove",
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_push_hides_deny_current_branch() {
        let err = b"To ../c\nremote: error: refusing to update checked out branch\nremote: error: receive.denyCurrentBranch\n ! [remote rejected] master -> master\n";
        assert_eq!(filter_direct_push_stderr(err), b"To ../c\n");
        let other = b"To ../c\nremote: hello\n ! [rejected] x\n";
        assert_eq!(filter_direct_push_stderr(other), other);
    }

    #[test]
    fn ssh_urls() {
        let u = SshUrl::parse("fakehost:/srv/r.git").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("fakehost", None, "/srv/r.git")
        );
        assert_eq!(SshUrl::parse("me@h:r").unwrap().path, "/~/r");
        assert_eq!(SshUrl::parse("h:~/r").unwrap().path, "/~/r");
        let u = SshUrl::parse("ssh://me@h:2222/~/r").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port.as_deref(), u.path.as_str()),
            ("me@h", Some("2222"), "/~/r")
        );
        assert_eq!(SshUrl::parse("ssh://h/srv/r").unwrap().path, "/srv/r");
        assert_eq!(SshUrl::parse("../r"), None);
        assert_eq!(SshUrl::parse("./a:b"), None);
        assert_eq!(SshUrl::parse("https://h/r"), None);
        assert_eq!(annex_core::remote::ssh::shell_quote("it's"), "'it'\"'\"'s'");
    }

    #[test]
    fn rejection_is_recognized() {
        assert!(is_rejection(
            b" ! [rejected]        master -> synced/master (non-fast-forward)\n"
        ));
        assert!(is_rejection(
            b" ! [rejected] master -> synced/master (fetch first)\n"
        ));
        assert!(!is_rejection(
            b"fatal: '../x' does not appear to be a git repository\n"
        ));
    }
}
