//! What git's hooks run in a git-annex repository, made to cost nothing
//! when there is nothing to do (they run on every commit and checkout):
//!
//! - the files a commit is about to record ([`files_to_be_committed`]:
//!   what git says is staged, never the whole tree), and the locked files
//!   among them whose symlink no longer points at the object store from
//!   where they now are ([`link_to_fix`], [`fix_link`], [`stage_links`]),
//!   for `pre-commit`;
//! - the smudge log (`.git/annex/smudge.log`: `KEY FILE` lines, one per
//!   unlocked file git checked out as a pointer, written by git-annex's
//!   smudge filter) and filling those files in when their content is here
//!   ([`update_smudged`]), for `smudge --update` (post-checkout and
//!   post-merge hooks) and `pre-commit`. The log is taken under
//!   `.git/annex/smudge.lck` and emptied once every line was handled, as
//!   git-annex does; a missing or empty log is not even locked.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::path::Path;
//! let top = Path::new("/srv/repo");
//! for file in annex_core::hooks::files_to_be_committed(top, top, &[".".into()])? {
//!     println!("{}", String::from_utf8_lossy(&file));
//! }
//! # Ok(()) }
//! ```

use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::key::Key;
use crate::objects::ObjectStore;
use crate::pointer::{self, Thin};

mod index_scan;

/// An error of the hook helpers.
#[derive(Debug, thiserror::Error)]
pub enum HooksError {
    /// A file could not be read or written.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// A git command failed.
    #[error("git {command} failed: {message}")]
    Git {
        /// The git subcommand.
        command: &'static str,
        /// What it said, or why it could not run.
        message: String,
    },
    /// The smudge log stayed locked by another process.
    #[error("{} is locked by another process", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> HooksError + 'a {
    move |source| HooksError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// The files (from the top of the work tree) that are staged to be added,
/// copied, modified, renamed or changed in type by the next commit, among
/// `paths` (as given on the command line, relative to `cwd`): `git diff
/// --cached --name-only`, which compares the index with `HEAD` and skips
/// the directories whose cached trees did not change.
pub fn files_to_be_committed(
    top: &Path,
    cwd: &Path,
    paths: &[OsString],
) -> Result<Vec<Vec<u8>>, HooksError> {
    // Paths that all name the top of the work tree (the hook's `.`) are
    // no limit: left out, git's diff is faster without a pathspec.
    let whole_tree = !paths.is_empty()
        && paths.iter().all(|p| {
            cwd.join(p)
                .canonicalize()
                .is_ok_and(|full| top.canonicalize().is_ok_and(|t| t == full))
        });
    let paths: &[OsString] = if whole_tree { &[] } else { paths };
    let out = Command::new("git")
        .current_dir(cwd)
        .args([
            "diff",
            "--cached",
            "--name-only",
            "-z",
            "--no-relative",
            "--no-renames",
            "--diff-filter=ACMRT",
            "--",
        ])
        .args(paths)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| HooksError::Git {
            command: "diff",
            message: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(HooksError::Git {
            command: "diff",
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(<[u8]>::to_vec)
        .collect())
}

/// Whether the index of `repo` provably stages nothing against `HEAD`,
/// from the index alone: its cache tree is valid and is `HEAD`'s tree (as
/// `git commit` leaves it), and no entry is unmerged, intent-to-add,
/// skip-worktree or assume-valid (which the cache tree does not account
/// for). The index is read in one streaming pass, its entries stepped
/// over and never held (`hooks/index_scan.rs`); its trailing checksum is not
/// verified (git checks it when it writes the file; hashing 8 MB at 10^5
/// files would cost more than the rest). `false` whenever it cannot tell.
pub fn index_is_head(repo: &gix::Repository) -> bool {
    let Some(head_tree) = repo
        .head_commit()
        .ok()
        .and_then(|c| c.tree_id().ok())
        .map(|t| t.detach())
    else {
        return false;
    };
    index_scan::exact_tree(&repo.index_path(), repo.object_hash().len_in_bytes())
        .ok()
        .flatten()
        .is_some_and(|root| root.as_slice() == head_tree.as_bytes())
}

/// The record of the last index proven to hold exactly `HEAD`'s tree, in
/// git-annex's directory of the git dir (`annex/`): the index file's
/// identity (device, inode, size, modification and change times) and the
/// commit `HEAD` then named.
pub fn index_record_path(git_dir: &Path) -> PathBuf {
    git_dir.join("annex").join("hook-index.clean")
}

/// How old (seconds) an index must be for its identity to be recorded: an
/// index written within the same timestamp granule as a later one could
/// share its identity (git's "racily clean" problem); one older than this
/// cannot, since every later write has a later modification time.
const RECORD_MIN_AGE: u64 = 2;

/// The identity of the index file `meta` and the commit `head`, as one
/// line of the record.
fn index_identity(meta: &std::fs::Metadata, head: &gix::oid) -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        "{} {} {} {} {} {} {} {}\n",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
        head.to_hex()
    )
}

/// [`index_is_head`], remembered: when the index file is the very one
/// (same identity) last proven to hold the tree of the commit `HEAD` still
/// names, the answer is `true` without reading it; otherwise the index is
/// read, and a positive answer recorded ([`index_record_path`]) when the
/// index is old enough for its identity to be unique (two
/// seconds). A repeated commit or check with nothing staged then costs a
/// few `stat`s instead of a pass over the index. `HEAD` is read as the
/// commit its branch names (no object is read for that); a detached or
/// unborn `HEAD`, or a record that cannot be read or written, only means
/// the index is read.
pub fn index_is_head_remembered(repo: &gix::Repository) -> bool {
    let head = repo
        .head_ref()
        .ok()
        .flatten()
        .and_then(|r| r.target().try_id().map(ToOwned::to_owned));
    let index_path = repo.index_path();
    let record = index_record_path(repo.git_dir());
    let identity = head.and_then(|head| {
        std::fs::metadata(&index_path)
            .ok()
            .map(|m| (index_identity(&m, &head), m))
    });
    if let Some((line, _)) = &identity
        && std::fs::read(&record).is_ok_and(|r| r == line.as_bytes())
    {
        return true;
    }
    let is_head = index_is_head(repo);
    if is_head
        && let Some((line, meta)) = identity
        && meta
            .modified()
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() >= RECORD_MIN_AGE)
        && let Some(dir) = record.parent()
        && dir.is_dir()
        && let Ok(mut tmp) = tempfile::NamedTempFile::new_in(dir)
        && tmp.write_all(line.as_bytes()).is_ok()
    {
        // Best effort: without the record the next check reads the index.
        let _ = tmp.persist(&record);
    }
    is_head
}

/// For the file `path` (from the top of the work tree `top`): when it is
/// a symlink to an annexed object whose target is not the one git-annex
/// makes for a file at that place (it was moved to another directory),
/// its key and the right target.
pub fn link_to_fix(top: &Path, store: &ObjectStore, path: &[u8]) -> Option<(Key, PathBuf)> {
    let full = top.join(OsStr::from_bytes(path));
    let meta = std::fs::symlink_metadata(&full).ok()?;
    if !meta.file_type().is_symlink() {
        return None;
    }
    let target = std::fs::read_link(&full).ok()?;
    let key = pointer::parse_link_target(target.as_os_str().as_bytes())?;
    let right = pointer::link_target_in(
        top,
        Path::new(OsStr::from_bytes(path)),
        store.git_dir(),
        &key,
        store.config(),
    );
    (right != target).then_some((key, right))
}

/// Replaces the symlink `path` (from the top) by one to `target`: the new
/// link is made beside it and renamed over it.
pub fn fix_link(top: &Path, path: &[u8], target: &Path) -> Result<(), HooksError> {
    crate::wtpath::check(top, path).map_err(|e| HooksError::Io {
        op: "fix",
        path: top.join(OsStr::from_bytes(path)),
        source: io::Error::other(e.to_string()),
    })?;
    let full = top.join(OsStr::from_bytes(path));
    let mut tmp_name = full.as_os_str().to_os_string();
    tmp_name.push(format!(".annex-fix-{}", std::process::id()));
    let tmp = PathBuf::from(tmp_name);
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).map_err(io_err("create symlink", &tmp))?;
    std::fs::rename(&tmp, &full).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        HooksError::Io {
            op: "replace",
            path: full.clone(),
            source: e,
        }
    })
}

/// Stages the symlinks `paths` (from the top) as they are in the work
/// tree (`git update-index --add`).
pub fn stage_links(top: &Path, paths: &[Vec<u8>]) -> Result<(), HooksError> {
    if paths.is_empty() {
        return Ok(());
    }
    let git_err = |message: String| HooksError::Git {
        command: "update-index",
        message,
    };
    let mut child = Command::new("git")
        .current_dir(top)
        .args(["update-index", "--add", "-z", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| git_err(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        for p in paths {
            stdin
                .write_all(p)
                .and_then(|()| stdin.write_all(b"\0"))
                .map_err(|e| git_err(e.to_string()))?;
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| git_err(e.to_string()))?;
    if !out.status.success() {
        return Err(git_err(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    Ok(())
}

/// Refreshes the index entries of the unlocked files `paths` (from the
/// top) after their content was put in place of their pointers, so that
/// git sees them unmodified (`git update-index --refresh`; best effort:
/// a stale entry only costs git a re-read of the file).
pub fn restage(top: &Path, paths: &[Vec<u8>]) {
    restage_with(top, None, paths);
}

/// [`restage`] for a repository other than the one this process works in
/// (a remote on this machine, a served repository): git is pointed at its
/// git dir and work tree explicitly, whatever `GIT_DIR`, `GIT_WORK_TREE` or
/// `GIT_INDEX_FILE` this process was given for its own.
pub fn restage_in(git_dir: &Path, top: &Path, paths: &[Vec<u8>]) {
    restage_with(top, Some(git_dir), paths);
}

/// [`restage`], in the repository of `git_dir` when given (see
/// [`restage_in`]), else in the one git finds from `top` and this
/// process's environment.
fn restage_with(top: &Path, git_dir: Option<&Path>, paths: &[Vec<u8>]) {
    if paths.is_empty() {
        return;
    }
    let mut cmd = Command::new("git");
    cmd.current_dir(top);
    if let Some(git_dir) = git_dir {
        cmd.env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .arg("--git-dir")
            .arg(git_dir)
            .arg("--work-tree")
            .arg(top);
    }
    // The paths on standard input, as git-annex's refreshIndex gives
    // them: on the command line, a hundred thousand of them exceeded the
    // system's limit (E2BIG) and the index was never refreshed.
    let Ok(mut child) = cmd
        .args(["-c", "filter.annex.required=true"])
        .args(["update-index", "-q", "--refresh", "-z", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return;
    };
    if let Some(mut stdin) = child.stdin.take() {
        let mut buf = Vec::new();
        for p in paths {
            buf.extend_from_slice(p);
            buf.push(0);
        }
        // A failure (git exited early) leaves the index as it was.
        let _ = stdin.write_all(&buf);
    }
    let _ = child.wait();
}

/// The smudge log of the repository whose git dir is `git_dir`.
pub fn smudge_log_path(git_dir: &Path) -> PathBuf {
    git_dir.join("annex").join("smudge.log")
}

/// The lock file of the smudge log.
pub fn smudge_lock_path(git_dir: &Path) -> PathBuf {
    git_dir.join("annex").join("smudge.lck")
}

/// Runs `f` holding the smudge log's lock, waiting up to ten seconds for
/// another process to release it.
fn with_smudge_lock<T>(git_dir: &Path, f: impl FnOnce() -> T) -> Result<T, HooksError> {
    let lock = smudge_lock_path(git_dir);
    let mut f = Some(f);
    for _ in 0..1000 {
        let taken = crate::lockfile::with_exclusive_if_free(&lock, || f.take().map(|f| f()))
            .map_err(io_err("lock", &lock))?;
        if let Some(Some(out)) = taken {
            return Ok(out);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Err(HooksError::Locked { path: lock })
}

/// Appends `KEY FILE` to the smudge log (what git-annex's smudge filter
/// records for each pointer file it lets git write).
pub fn log_smudged(git_dir: &Path, key: &Key, file: &[u8]) -> Result<(), HooksError> {
    let log = smudge_log_path(git_dir);
    with_smudge_lock(git_dir, || {
        let mut line = key.as_bytes().to_vec();
        line.push(b' ');
        line.extend_from_slice(file);
        line.push(b'\n');
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .and_then(|mut f| f.write_all(&line))
            .map_err(io_err("append to", &log))
    })?
}

/// What happened to one file of the smudge log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Smudged {
    /// Its content was put in place of its pointer.
    Populated,
    /// It is still the key's pointer although the content is here (the
    /// copy failed): git-annex warns "unable to populate worktree file".
    Unpopulated,
    /// Nothing to do: the content is not here, or the file is no longer
    /// the key's pointer.
    Skipped,
}

/// Fills in the unlocked files of the smudge log whose content is in
/// `store` (git-annex's `updateSmudged`), telling `seen` about each file
/// (from the top) and what was done, then empties the log. A missing or
/// empty log costs one `stat`.
pub fn update_smudged(
    top: &Path,
    store: &ObjectStore,
    thin: Thin,
    mut seen: impl FnMut(&[u8], &Key, Smudged),
) -> Result<(), HooksError> {
    let git_dir = store.git_dir();
    let log = smudge_log_path(git_dir);
    match std::fs::metadata(&log) {
        Ok(m) if m.len() > 0 => {}
        _ => return Ok(()),
    }
    // The log is read under its lock, the files are handled without it
    // (populating takes the object store's own locks), and the lines
    // handled are then taken out under the lock again: lines appended
    // meanwhile stay, and an interruption leaves the log as it was.
    let read = |log: &Path| -> Result<Vec<u8>, HooksError> {
        match std::fs::File::open(log) {
            Ok(mut f) => {
                let mut text = Vec::new();
                f.read_to_end(&mut text).map_err(io_err("read", log))?;
                Ok(text)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io_err("open", log)(e)),
        }
    };
    let text = with_smudge_lock(git_dir, || read(&log))??;
    // Only whole lines: one being appended is left for the next run.
    let handled = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    for line in text[..handled].split(|&b| b == b'\n') {
        let Some(space) = line.iter().position(|&b| b == b' ') else {
            continue;
        };
        let (k, file) = (&line[..space], &line[space + 1..]);
        let Ok(key) = Key::parse(k) else { continue };
        if file.is_empty() || crate::wtpath::check(top, file).is_err() {
            continue;
        }
        let full = top.join(OsStr::from_bytes(file));
        let outcome = if !store.has(&key) {
            Smudged::Skipped
        } else {
            match pointer::populate_pointer(&full, &key, store, thin) {
                Ok(true) => Smudged::Populated,
                _ if matches!(pointer::is_pointer_file(&full), Ok(Some(ref k2)) if *k2 == key) => {
                    Smudged::Unpopulated
                }
                _ => Smudged::Skipped,
            }
        };
        seen(file, &key, outcome);
    }
    with_smudge_lock(git_dir, || -> Result<(), HooksError> {
        let now = read(&log)?;
        let rest = now.strip_prefix(&text[..handled]).unwrap_or(&now);
        std::fs::write(&log, rest).map_err(io_err("write", &log))
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .current_dir(dir)
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .output()
            .expect("git runs")
            .status
            .success();
        assert!(ok, "git {args:?}");
    }

    /// Regression: restaging put every path on `git update-index`'s
    /// command line; with many long paths that exceeded the system's limit
    /// (E2BIG), the error was ignored and the index never refreshed. A
    /// stat-dirty file given with 12,000 paths of 240 bytes (about 2.9 MB)
    /// is refreshed now (the paths go on standard input).
    #[test]
    fn restage_of_many_long_paths_refreshes_the_index() {
        let dir = tempfile::tempdir().expect("temp dir");
        let top = dir.path();
        git(top, &["init", "-q"]);
        let mut paths: Vec<Vec<u8>> = vec![b"a".to_vec()];
        std::fs::write(top.join("a"), "a\n").expect("write");
        for i in 0..12_000 {
            let name = format!("{i:05}{}", "x".repeat(235));
            std::fs::write(top.join(&name), "").expect("write");
            paths.push(name.into_bytes());
        }
        git(top, &["add", "-A"]);
        // `a` made stat-dirty: its content the same, its mtime older.
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(top.join("a"))
            .expect("open")
            .set_modified(old)
            .expect("mtime");
        let dirty = || {
            let out = Command::new("git")
                .current_dir(top)
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .args(["diff-files", "--name-only"])
                .output()
                .expect("git runs");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        assert_eq!(dirty(), "a\n");
        restage_in(&top.join(".git"), top, &paths);
        assert_eq!(dirty(), "");
    }

    #[test]
    fn a_moved_link_is_found_fixed_and_an_untouched_one_left() {
        let dir = tempfile::tempdir().expect("temp dir");
        let top = dir.path().canonicalize().expect("canonical");
        git(&top, &["init", "-q"]);
        let store = ObjectStore::new(top.join(".git"), false);
        let key = Key::parse(
            b"SHA256E-s1--6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b",
        )
        .expect("key");
        std::fs::create_dir(top.join("d")).expect("dir");
        let good = pointer::link_target_in(
            &top,
            Path::new("d/f"),
            &top.join(".git"),
            &key,
            store.config(),
        );
        std::os::unix::fs::symlink(&good, top.join("d/f")).expect("link");
        // The same target one directory up is wrong.
        std::os::unix::fs::symlink(&good, top.join("moved")).expect("link");
        assert_eq!(link_to_fix(&top, &store, b"d/f"), None);
        let (k, right) = link_to_fix(&top, &store, b"moved").expect("needs fixing");
        assert_eq!(k, key);
        fix_link(&top, b"moved", &right).expect("fixed");
        assert_eq!(link_to_fix(&top, &store, b"moved"), None);
        assert_eq!(std::fs::read_link(top.join("moved")).expect("link"), right);
        stage_links(&top, &[b"moved".to_vec()]).expect("staged");
        let repo = gix::open(&top).expect("open");
        assert!(!index_is_head(&repo), "something is staged");
        let staged = files_to_be_committed(&top, &top, &[".".into()]).expect("diff");
        assert_eq!(staged, vec![b"moved".to_vec()]);
        git(&top, &["commit", "-q", "-m", "moved"]);
        let repo = gix::open(&top).expect("open");
        assert!(index_is_head(&repo), "a commit leaves the cache tree valid");
    }

    #[test]
    fn an_index_proven_clean_is_remembered_by_its_identity_only_when_old_enough() {
        let dir = tempfile::tempdir().expect("temp dir");
        let top = dir.path().canonicalize().expect("canonical");
        git(&top, &["init", "-q"]);
        std::fs::create_dir_all(top.join(".git/annex")).expect("annex dir");
        std::fs::write(top.join("f"), "one").expect("write");
        git(&top, &["add", "f"]);
        git(&top, &["commit", "-q", "-m", "one"]);
        let record = index_record_path(&top.join(".git"));
        let make_old = |top: &Path| {
            let ok = Command::new("touch")
                .args(["-m", "-d", "-1 minute"])
                .arg(top.join(".git/index"))
                .status()
                .expect("touch runs")
                .success();
            assert!(ok);
        };
        // Fresh from the commit: proven, but too new to be recorded.
        let repo = gix::open(&top).expect("open");
        assert!(index_is_head_remembered(&repo));
        assert!(
            !record.exists(),
            "an index written just now is not recorded"
        );
        make_old(&top);
        assert!(index_is_head_remembered(&repo));
        let first = std::fs::read(&record).expect("recorded");
        // The record is what answers while the identity holds: a record
        // naming the current index answers even for a staged change.
        std::fs::write(top.join("f"), "two").expect("write");
        git(&top, &["add", "f"]);
        assert!(!index_is_head_remembered(&repo), "a new index is read");
        assert_eq!(std::fs::read(&record).expect("record"), first);
        let meta = std::fs::metadata(top.join(".git/index")).expect("stat");
        let head = repo.head_id().expect("head").detach();
        std::fs::write(&record, index_identity(&meta, &head)).expect("forge");
        assert!(index_is_head_remembered(&repo), "the record is trusted");
        std::fs::write(&record, &first).expect("restore");
        assert!(!index_is_head_remembered(&repo));
        // A commit moves HEAD: the old record no longer matches.
        git(&top, &["commit", "-q", "-m", "two"]);
        let repo = gix::open(&top).expect("open");
        assert!(index_is_head_remembered(&repo));
        assert_eq!(std::fs::read(&record).expect("record"), first);
        make_old(&top);
        assert!(index_is_head_remembered(&repo));
        assert_ne!(std::fs::read(&record).expect("record"), first);
    }

    #[test]
    fn the_smudge_log_is_taken_and_emptied() {
        let dir = tempfile::tempdir().expect("temp dir");
        let top = dir.path().canonicalize().expect("canonical");
        git(&top, &["init", "-q"]);
        std::fs::create_dir_all(top.join(".git/annex")).expect("annex dir");
        let store = ObjectStore::new(top.join(".git"), false);
        let content = b"1";
        let key = Key::parse(
            b"SHA256E-s1--6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b",
        )
        .expect("key");
        let src = top.join("src");
        std::fs::write(&src, content).expect("write");
        store.ingest_file(&src, &key).expect("ingested");
        let absent = Key::parse(b"SHA256E-s1--00").expect("key");
        std::fs::write(top.join("here"), pointer::format_pointer(&key)).expect("pointer");
        std::fs::write(top.join("gone"), pointer::format_pointer(&absent)).expect("pointer");
        log_smudged(&top.join(".git"), &key, b"here").expect("logged");
        log_smudged(&top.join(".git"), &absent, b"gone").expect("logged");
        let mut seen = Vec::new();
        update_smudged(&top, &store, Thin::Copy, |f, _, o| {
            seen.push((f.to_vec(), o))
        })
        .expect("updated");
        assert_eq!(
            seen,
            vec![
                (b"here".to_vec(), Smudged::Populated),
                (b"gone".to_vec(), Smudged::Skipped)
            ]
        );
        assert_eq!(std::fs::read(top.join("here")).expect("read"), content);
        let log = std::fs::read(smudge_log_path(&top.join(".git"))).expect("log");
        assert!(log.is_empty());
        // Nothing logged: nothing seen.
        update_smudged(&top, &store, Thin::Copy, |_, _, _| panic!("nothing to see"))
            .expect("updated");
    }
}
