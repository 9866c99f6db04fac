//! `unused`: the keys whose content is in the object store but that no
//! file uses, as git-annex decides, and the `.git/annex/unused` lists that
//! `dropunused` reads.
//!
//! A key is used when it is named by
//!
//! 1. a symlink in the work tree (tracked or not);
//! 2. a staged file (a symlink or pointer file in the index);
//! 3. a file in the tree of a ref that `annex.used-refspec` (or
//!    `--used-refspec`) selects; by default every ref `git show-ref` lists
//!    except the `git-annex` branches, `refs/synced/`, `refs/annex/` and
//!    view branches, each commit once; and `HEAD` when it is not one of
//!    those.
//!
//! Refs are looked at only when keys remain after 1 and 2, as git-annex
//! does (so whether it says "checking master..." depends on it).
//!
//! Besides, bad content (`.git/annex/bad`) and temp files
//! (`.git/annex/tmp`) whose key is not present are listed; those whose key
//! is present are duplicates and are removed, as git-annex does.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use gix::ObjectId;

use crate::key::Key;
use crate::objects::{ObjectStore, file_key};
use crate::pointer;
use crate::worktree::MAX_POINTER_SIZE;

/// An error finding unused content.
#[derive(Debug, thiserror::Error)]
pub enum UnusedError {
    /// git could not be read (refs, trees, the index).
    #[error("cannot {what}: {detail}")]
    Git {
        /// What was being read.
        what: String,
        /// What went wrong.
        detail: String,
    },
    /// A file or directory could not be read or written.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A used refspec that git-annex would refuse.
    #[error("{0}")]
    BadRefSpec(String),
}

fn git_err(what: impl Into<String>) -> impl FnOnce(&dyn std::fmt::Display) -> UnusedError {
    let what = what.into();
    move |e| UnusedError::Git {
        what,
        detail: e.to_string(),
    }
}

/// One part of a used refspec (`annex.used-refspec`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefSpecPart {
    /// `+REF`: this ref.
    AddRef(String),
    /// `+GLOB`: the refs matching it.
    AddMatching(String),
    /// `reflog`: every commit in the reflogs.
    AddRefLog,
    /// `-GLOB`: drop the refs added so far that match it.
    RemoveMatching(String),
}

/// A used refspec: which refs keep content in use.
pub type RefSpec = Vec<RefSpecPart>;

/// The default refspec: every ref (`+*`).
pub fn all_refspec() -> RefSpec {
    vec![RefSpecPart::AddMatching("*".to_string())]
}

/// Parses a used refspec (`+refs/heads/*:-refs/heads/old:reflog`), with
/// git-annex's message for a bad item.
pub fn parse_refspec(s: &str) -> Result<RefSpec, UnusedError> {
    s.split(':')
        .map(|item| {
            if let Some(r) = item.strip_prefix('+') {
                Ok(if r.contains(['*', '?']) {
                    RefSpecPart::AddMatching(r.to_string())
                } else {
                    RefSpecPart::AddRef(r.to_string())
                })
            } else if let Some(g) = item.strip_prefix('-') {
                Ok(RefSpecPart::RemoveMatching(g.to_string()))
            } else if item == "reflog" {
                Ok(RefSpecPart::AddRefLog)
            } else {
                Err(UnusedError::BadRefSpec(format!(
                    "bad refspec item \"{item}\" (expected + or - prefix)"
                )))
            }
        })
        .collect()
}

/// A glob as git-annex matches refs: `*` matches anything (`/` too), `?`
/// one character, `[...]` a class; the rest literally.
pub fn glob_match(glob: &[u8], s: &[u8]) -> bool {
    match glob.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob_match(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && glob_match(rest, &s[1..]),
        Some((b'[', rest)) => match rest.iter().skip(1).position(|c| *c == b']') {
            Some(end) => {
                let class = &rest[..end + 1];
                let (negate, class) = match class.split_first() {
                    Some((b'!' | b'^', c)) => (true, c),
                    _ => (false, class),
                };
                let Some((&c, tail)) = s.split_first() else {
                    return false;
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == b'-' {
                        hit |= class[i] <= c && c <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == c;
                        i += 1;
                    }
                }
                hit != negate && glob_match(&rest[end + 2..], tail)
            }
            None => s.first() == Some(&b'[') && glob_match(rest, &s[1..]),
        },
        Some((c, rest)) => s.first() == Some(c) && glob_match(rest, &s[1..]),
    }
}

/// A ref whose tree keeps content in use, and how it is shown
/// (`checking master...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsedRef {
    /// The ref as given to git (`refs/heads/master`, `HEAD`, a sha).
    pub name: String,
    /// As git-annex shows it: `refs/heads/` and `refs/remotes/` removed.
    pub shown: String,
}

/// The refs that keep content in use, in the order git-annex checks them.
pub fn used_refs(repo: &gix::Repository, refspec: &RefSpec) -> Result<Vec<UsedRef>, UnusedError> {
    let out = std::process::Command::new("git")
        .arg("--git-dir")
        .arg(repo.git_dir())
        .arg("show-ref")
        .output()
        .map_err(|e| git_err("run git show-ref")(&e))?;
    // `git show-ref` fails (exit 1) when there are no refs: nothing to add.
    let mut refs: Vec<(String, String)> = Vec::new();
    for line in out.stdout.split(|c| *c == b'\n') {
        let Some(sp) = line.iter().position(|c| *c == b' ') else {
            continue;
        };
        let (sha, name) = (&line[..sp], &line[sp + 1..]);
        let name = String::from_utf8_lossy(name).into_owned();
        if name.ends_with("/git-annex")
            || name.starts_with("refs/synced/")
            || name.starts_with("refs/annex/")
            || is_view_branch(&name)
        {
            continue;
        }
        refs.push((String::from_utf8_lossy(sha).into_owned(), name));
    }
    let head_sha = head_sha(repo);
    let have_head = head_sha
        .as_ref()
        .is_some_and(|h| refs.iter().any(|(s, _)| s == h));
    // Each commit once: the first ref naming it.
    let mut seen = HashSet::new();
    let nubbed: Vec<&str> = refs
        .iter()
        .filter(|(s, _)| seen.insert(s.clone()))
        .map(|(_, n)| n.as_str())
        .collect();
    let mut chosen: Vec<String> = Vec::new();
    for part in refspec {
        match part {
            RefSpecPart::AddRef(r) => chosen.insert(0, r.clone()),
            RefSpecPart::AddMatching(g) => {
                let add: Vec<String> = nubbed
                    .iter()
                    .filter(|n| glob_match(g.as_bytes(), n.as_bytes()))
                    .map(|n| n.to_string())
                    .collect();
                chosen.splice(0..0, add);
            }
            RefSpecPart::AddRefLog => {
                let add = reflog_shas(repo, &nubbed)?;
                chosen.splice(0..0, add);
            }
            RefSpecPart::RemoveMatching(g) => {
                chosen.retain(|n| !glob_match(g.as_bytes(), n.as_bytes()));
            }
        }
    }
    chosen.reverse();
    if !have_head {
        chosen.insert(0, "HEAD".to_string());
    }
    Ok(chosen
        .into_iter()
        .map(|name| {
            let shown = name
                .strip_prefix("refs/heads/")
                .or_else(|| name.strip_prefix("refs/remotes/"))
                .unwrap_or(&name)
                .to_string();
            UsedRef { name, shown }
        })
        .collect())
}

/// git-annex's view branches (`refs/heads/views/...`).
fn is_view_branch(name: &str) -> bool {
    name.starts_with("refs/heads/views/")
}

/// The commit the current branch points to, when `HEAD` is a branch that
/// exists (`None` when detached or unborn).
fn head_sha(repo: &gix::Repository) -> Option<String> {
    let name = repo.head_name().ok()??;
    let mut r = repo.find_reference(name.as_bstr()).ok()?;
    r.peel_to_id().ok().map(|id| id.to_string())
}

/// The commits of the reflogs of `refs` (`reflog` in a used refspec).
fn reflog_shas(repo: &gix::Repository, refs: &[&str]) -> Result<Vec<String>, UnusedError> {
    let mut shas = Vec::new();
    for r in refs {
        let out = std::process::Command::new("git")
            .arg("--git-dir")
            .arg(repo.git_dir())
            .args(["log", "-g", "--format=%H", r, "--"])
            .output()
            .map_err(|e| git_err("run git log -g")(&e))?;
        for l in out.stdout.split(|c| *c == b'\n') {
            if !l.is_empty() {
                shas.push(String::from_utf8_lossy(l).into_owned());
            }
        }
    }
    Ok(shas)
}

/// Keys present in the object store, in the order git-annex lists them
/// (which decides the numbers `unused` gives): the key directories of
/// each hash directory in directory order, the hash directories in reverse
/// directory order.
pub fn present_keys(store: &ObjectStore) -> Vec<Key> {
    let depth = if store.config().object_hash_one_level {
        2
    } else {
        3
    };
    walk_keys(&store.objects_dir(), depth)
}

fn walk_keys(dir: &Path, depth: u32) -> Vec<Key> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let entries: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    if depth < 2 {
        entries
            .iter()
            .filter_map(|d| {
                let name = d.file_name()?;
                fs::symlink_metadata(d.join(name)).ok()?;
                file_key(name.as_bytes())
            })
            .collect()
    } else {
        let mut keys = Vec::new();
        for d in &entries {
            let mut more = walk_keys(d, depth - 1);
            more.append(&mut keys);
            keys = more;
        }
        keys
    }
}

/// The keys the location logs say the repository `uuid` has, in the
/// branch's order (journal included): what `unused --from` looks at.
/// git-annex's own keys for git remotes (`GITBUNDLE`, `GITMANIFEST`) are
/// left out.
pub fn keys_logged_for(
    state: &crate::state::State,
    uuid: &crate::uuid::Uuid,
) -> Result<Vec<Key>, UnusedError> {
    let mut keys = Vec::new();
    state
        .branch()
        .for_each_file(
            |p| p.ends_with(b".log") && p.iter().filter(|c| **c == b'/').count() == 2,
            |path, content| {
                let name = path.rsplit(|c| *c == b'/').next().unwrap_or(path);
                let Some(key) = name.strip_suffix(b".log").and_then(file_key) else {
                    return;
                };
                if matches!(key.backend_name(), b"GITBUNDLE" | b"GITMANIFEST") {
                    return;
                }
                if crate::logs::location::LocationLog::parse(content)
                    .present_uuids()
                    .contains(uuid)
                {
                    keys.push(key);
                }
            },
        )
        .map_err(|e| git_err("read the git-annex branch")(&e))?;
    Ok(keys)
}

/// The key a blob names, if it is an annex symlink target or pointer file.
fn blob_key(repo: &gix::Repository, id: ObjectId, link: bool) -> Option<Key> {
    let header = repo.find_header(id).ok()?;
    if header.size() > MAX_POINTER_SIZE {
        return None;
    }
    let blob = repo.find_object(id).ok()?;
    if link {
        pointer::parse_link_target(&blob.data)
    } else {
        pointer::parse_pointer(&blob.data)
    }
}

/// The keys used by the work tree and the index: annex symlinks anywhere
/// in the work tree (`top`, `None` when bare) and staged symlinks and
/// pointer files.
pub fn keys_in_worktree_and_index(
    repo: &gix::Repository,
    top: Option<&Path>,
) -> Result<HashSet<Key>, UnusedError> {
    let mut used = HashSet::new();
    if let Some(top) = top {
        symlink_keys(top, true, &mut used);
        let index = repo
            .index_or_empty()
            .map_err(|e| git_err("read the index")(&e))?;
        let mut seen = HashSet::new();
        for e in index.entries() {
            if !seen.insert(e.id) {
                continue;
            }
            use gix::index::entry::Mode;
            let link = e.mode == Mode::SYMLINK;
            if (link || e.mode == Mode::FILE || e.mode == Mode::FILE_EXECUTABLE)
                && let Some(k) = blob_key(repo, e.id, link)
            {
                used.insert(k);
            }
        }
    }
    Ok(used)
}

/// Annex symlinks under `dir`, not descending into `.git` or into other
/// repositories.
fn symlink_keys(dir: &Path, top: bool, used: &mut HashSet<Key>) {
    if !top && fs::symlink_metadata(dir.join(".git")).is_ok() {
        return;
    }
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.filter_map(|e| e.ok()) {
        if e.file_name() == ".git" {
            continue;
        }
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_symlink() {
            if let Some(k) = fs::read_link(e.path())
                .ok()
                .and_then(|t| pointer::parse_link_target(t.as_os_str().as_bytes()))
            {
                used.insert(k);
            }
        } else if ft.is_dir() {
            symlink_keys(&e.path(), false, used);
        }
    }
}

/// Adds the keys used by the tree of `r` (a ref, peeled to its tree) to
/// `used`. Trees and blobs already seen (in `seen`) are skipped, so refs
/// sharing most of their trees cost little. A ref that does not resolve
/// adds nothing.
pub fn keys_in_ref(
    repo: &gix::Repository,
    r: &str,
    seen: &mut HashSet<ObjectId>,
    used: &mut HashSet<Key>,
) -> Result<(), UnusedError> {
    let Ok(obj) = repo.rev_parse_single(r) else {
        return Ok(());
    };
    let tree = obj
        .object()
        .map_err(|e| git_err(format!("read {r}"))(&e))?
        .peel_to_tree()
        .map_err(|e| git_err(format!("find the tree of {r}"))(&e))?;
    let mut stack = vec![tree.id];
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let tree = repo
            .find_tree(id)
            .map_err(|e| git_err(format!("read tree {id}"))(&e))?;
        let decoded = tree
            .decode()
            .map_err(|e| git_err(format!("decode tree {id}"))(&e))?;
        for e in &decoded.entries {
            let oid = e.oid.to_owned();
            if e.mode.is_tree() {
                stack.push(oid);
            } else if e.mode.is_link() || e.mode.is_blob() {
                if !seen.insert(oid) {
                    continue;
                }
                if let Some(k) = blob_key(repo, oid, e.mode.is_link()) {
                    used.insert(k);
                }
            }
        }
    }
    Ok(())
}

/// The keys of the files in `dir` (`.git/annex/bad` or `.git/annex/tmp`),
/// in directory order, less those present in `store`: the files of those
/// are duplicates and are removed (with their `.git/annex/tmp` work
/// directories), as git-annex does. `skip` names keys left alone (temp
/// files of transfers in progress).
pub fn stale_keys(
    dir: &Path,
    store: &ObjectStore,
    skip: &dyn Fn(&Key) -> bool,
) -> Result<Vec<Key>, UnusedError> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut stale = Vec::new();
    for e in rd.filter_map(|e| e.ok()) {
        if !e.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let Some(key) = file_key(e.file_name().as_bytes()) else {
            continue;
        };
        if store.has(&key) {
            let work = {
                let mut n = e.file_name();
                n.push(".gitannex-workdir");
                dir.join(n)
            };
            if work.is_dir() {
                let _ = fs::remove_dir_all(&work);
            }
            let p = e.path();
            fs::remove_file(&p).map_err(|source| UnusedError::Io {
                op: "remove",
                path: p,
                source,
            })?;
        } else if !skip(&key) {
            stale.push(key);
        }
    }
    Ok(stale)
}

/// Whether a transfer of `key` may be in progress: a transfer information
/// file for it exists under `.git/annex/transfer` (git-annex checks its
/// lock; a stale file only keeps a temp file off the list).
pub fn transfer_in_progress(git_dir: &Path, key: &Key) -> bool {
    let name = crate::objects::key_file(key);
    let base = git_dir.join("annex").join("transfer");
    ["upload", "download"].iter().any(|dir| {
        fs::read_dir(base.join(dir)).is_ok_and(|rd| {
            rd.filter_map(|e| e.ok())
                .any(|u| u.path().join(std::ffi::OsStr::from_bytes(&name)).exists())
        })
    })
}

/// The path of an unused list: `.git/annex/unused`, `badunused`, `tmpunused`.
pub fn unused_log_path(git_dir: &Path, prefix: &str) -> PathBuf {
    git_dir.join("annex").join(format!("{prefix}unused"))
}

/// Reads an unused list: number to key (what `dropunused` uses).
pub fn read_unused_log(path: &Path) -> BTreeMap<u64, Key> {
    read_log(path)
        .into_iter()
        .map(|(k, (n, _))| (n, k))
        .collect()
}

/// Each key of a list with its number and timestamp (as written).
fn read_log(path: &Path) -> BTreeMap<Key, (u64, Option<String>)> {
    let Ok(content) = fs::read(path) else {
        return BTreeMap::new();
    };
    let mut m = BTreeMap::new();
    for line in content.split(|c| *c == b'\n') {
        let Some(sp) = line.iter().position(|c| *c == b' ') else {
            continue;
        };
        let Some(n) = std::str::from_utf8(&line[..sp])
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        let rest = &line[sp + 1..];
        // The timestamp is the last word; a line without one has the key only.
        let (key, ts) = match rest.iter().rposition(|c| *c == b' ') {
            Some(i) => match Key::parse(&rest[..i]) {
                Ok(k) => (
                    k,
                    Some(String::from_utf8_lossy(&rest[i + 1..]).into_owned()),
                ),
                Err(_) => continue,
            },
            None => match Key::parse(rest) {
                Ok(k) => (k, None),
                Err(_) => continue,
            },
        };
        m.insert(key, (n, ts));
    }
    m
}

/// Writes an unused list (`N KEY TIMESTAMP` a line, by key) atomically.
/// Keys already listed keep the time they were first found unused.
pub fn write_unused_log(path: &Path, list: &[(u64, Key)]) -> Result<(), UnusedError> {
    let old = read_log(path);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let now = posix_time(now.as_secs(), now.subsec_nanos());
    let mut entries: Vec<(&Key, u64, String)> = list
        .iter()
        .map(|(n, k)| {
            let ts = old
                .get(k)
                .and_then(|(_, t)| t.clone())
                .unwrap_or_else(|| now.clone());
            (k, *n, ts)
        })
        .collect();
    entries.sort_by(|a, b| key_order(a.0, b.0));
    let mut out = Vec::new();
    for (k, n, ts) in entries {
        out.extend_from_slice(n.to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(k.as_bytes());
        out.push(b' ');
        out.extend_from_slice(ts.as_bytes());
        out.push(b'\n');
    }
    let io_err = |op, p: &Path| {
        let path = p.to_path_buf();
        move |source| UnusedError::Io { op, path, source }
    };
    let dir = path.parent().unwrap_or(path);
    fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, &out).map_err(io_err("write", &tmp))?;
    fs::rename(&tmp, path).map_err(io_err("rename", &tmp))
}

/// Keys ordered as git-annex's maps order them: by name, then the rest.
fn key_order(a: &Key, b: &Key) -> std::cmp::Ordering {
    a.name()
        .cmp(b.name())
        .then_with(|| a.backend_name().cmp(b.backend_name()))
        .then_with(|| a.size().cmp(&b.size()))
        .then_with(|| a.mtime().cmp(&b.mtime()))
        .then_with(|| a.chunk().cmp(&b.chunk()))
}

/// A POSIX time as Haskell shows one (`1795472939.877875583s`).
fn posix_time(secs: u64, nanos: u32) -> String {
    if nanos == 0 {
        format!("{secs}s")
    } else {
        let frac = format!("{nanos:09}");
        format!("{secs}.{}s", frac.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refspecs() {
        assert_eq!(
            parse_refspec("+refs/heads/*:-refs/heads/b2:reflog:+HEAD").unwrap(),
            vec![
                RefSpecPart::AddMatching("refs/heads/*".into()),
                RefSpecPart::RemoveMatching("refs/heads/b2".into()),
                RefSpecPart::AddRefLog,
                RefSpecPart::AddRef("HEAD".into()),
            ]
        );
        assert_eq!(
            parse_refspec("bad").unwrap_err().to_string(),
            "bad refspec item \"bad\" (expected + or - prefix)"
        );
    }

    #[test]
    fn globs() {
        assert!(glob_match(b"*", b"refs/heads/master"));
        assert!(glob_match(b"refs/tags/v?", b"refs/tags/v1"));
        assert!(!glob_match(b"refs/tags/v?", b"refs/tags/v10"));
        assert!(glob_match(b"refs/heads/[ab]*", b"refs/heads/b2"));
        assert!(!glob_match(b"refs/heads/[!ab]*", b"refs/heads/b2"));
    }

    #[test]
    fn times() {
        assert_eq!(posix_time(1795472939, 877875583), "1795472939.877875583s");
        assert_eq!(posix_time(5, 100_000_000), "5.1s");
        assert_eq!(posix_time(5, 0), "5s");
    }
}
