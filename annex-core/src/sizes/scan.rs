//! Reading the location logs of the `git-annex` branch for repository
//! sizes: one walk of a whole tree, the difference between two trees, and
//! the journal laid over a commit.
//!
//! The rules are git-annex's (`Annex/RepoSize.hs`, `Logs/Location.hs`):
//!
//! - a location log is a blob whose file name is `KEY.log` where `KEY`
//!   decodes ([`file_key`]) to a key; in a whole-tree walk it must also sit
//!   at the depth of the branch's hash directories (3 by default, 2 with
//!   `annex.tune.branchhash1`), in a tree difference any depth will do;
//! - a key counts its `-s` size (0 when it has none) for every UUID whose
//!   current line says present;
//! - between two versions of a log, the UUIDs that became present add the
//!   size, those that stopped being present subtract it (only from UUIDs
//!   already counted).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use gix::ObjectId;

use super::SizesError;
use crate::branch::Branch;
use crate::key::Key;
use crate::logs::location::LocationLog;
use crate::logs::presence::PresenceLog;
use crate::objects::file_key;
use crate::uuid::Uuid;

/// Sizes being added up, by UUID.
pub(super) type Totals = BTreeMap<Uuid, i128>;

/// The key a location log path is for: its last component `KEY.log`.
pub(super) fn log_key(path: &[u8]) -> Option<Key> {
    let name = path.rsplit(|&b| b == b'/').next()?;
    let base = name.strip_suffix(b".log")?;
    file_key(base)
}

/// Whether `path` has `depth` components.
fn at_depth(path: &[u8], depth: usize) -> bool {
    path.split(|&b| b == b'/').count() == depth
}

/// The size a key counts for.
pub(super) fn key_size(key: &Key) -> i128 {
    key.size().map_or(0, i128::from)
}

/// The UUIDs (as bytes) a location log says have the content.
fn present_set(content: &[u8]) -> BTreeSet<Vec<u8>> {
    PresenceLog::parse(content)
        .present()
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect()
}

/// Adds `size` to `uuid` (creating it), as git-annex's `addKeyRepoSize`.
fn add(totals: &mut HashMap<Vec<u8>, i128>, uuid: &[u8], size: i128) {
    match totals.get_mut(uuid) {
        Some(v) => *v += size,
        None => {
            totals.insert(uuid.to_vec(), size);
        }
    }
}

/// Subtracts `size` from `uuid` when it is counted, as `removeKeyRepoSize`.
fn remove(totals: &mut HashMap<Vec<u8>, i128>, uuid: &[u8], size: i128) {
    if let Some(v) = totals.get_mut(uuid) {
        *v -= size;
    }
}

/// Applies the change between two versions of a key's log.
fn apply_change(totals: &mut HashMap<Vec<u8>, i128>, size: i128, old: &[u8], new: &[u8]) {
    let before = present_set(old);
    let after = present_set(new);
    for u in after.difference(&before) {
        add(totals, u, size);
    }
    for u in before.difference(&after) {
        remove(totals, u, size);
    }
}

/// Byte-keyed totals to UUID-keyed ones (INFOs that are not UUIDs dropped).
fn to_totals(m: HashMap<Vec<u8>, i128>) -> Totals {
    m.into_iter()
        .filter_map(|(u, v)| Uuid::parse(&u).ok().map(|u| (u, v)))
        .collect()
}

fn from_totals(t: &Totals) -> HashMap<Vec<u8>, i128> {
    t.iter()
        .map(|(u, v)| (u.as_str().as_bytes().to_vec(), *v))
        .collect()
}

fn git_err(what: &'static str, name: impl std::fmt::Display) -> impl FnOnce(String) -> SizesError {
    let name = name.to_string();
    move |detail| SizesError::Git { what, name, detail }
}

/// The root tree of a commit.
pub(super) fn commit_tree(
    repo: &gix::Repository,
    commit: ObjectId,
) -> Result<ObjectId, SizesError> {
    let c = repo
        .find_commit(commit)
        .map_err(|e| git_err("read commit", commit)(e.to_string()))?;
    c.tree_id()
        .map(|t| t.detach())
        .map_err(|e| git_err("read tree of commit", commit)(e.to_string()))
}

/// One entry of a tree.
#[derive(Clone)]
struct Entry {
    name: Vec<u8>,
    oid: ObjectId,
    tree: bool,
    blob: bool,
}

fn read_tree(repo: &gix::Repository, id: ObjectId) -> Result<Vec<Entry>, SizesError> {
    let t = repo
        .find_tree(id)
        .map_err(|e| git_err("read tree", id)(e.to_string()))?;
    let d = t
        .decode()
        .map_err(|e| git_err("decode tree", id)(e.to_string()))?;
    Ok(d.entries
        .iter()
        .map(|e| Entry {
            name: e.filename.to_vec(),
            oid: e.oid.to_owned(),
            tree: e.mode.is_tree(),
            blob: e.mode.is_blob(),
        })
        .collect())
}

fn read_blob(repo: &gix::Repository, id: ObjectId, path: &[u8]) -> Result<Vec<u8>, SizesError> {
    let mut b = repo
        .find_blob(id)
        .map_err(|e| git_err("read blob of", String::from_utf8_lossy(path))(e.to_string()))?;
    Ok(b.take_data())
}

/// Walks the trees under `tree` (whose path is `prefix`), calling `f` for
/// each location log at `depth` components.
fn walk(
    repo: &gix::Repository,
    tree: ObjectId,
    prefix: &mut Vec<u8>,
    level: usize,
    depth: usize,
    totals: &mut HashMap<Vec<u8>, i128>,
) -> Result<(), SizesError> {
    for e in read_tree(repo, tree)? {
        let len = prefix.len();
        if !prefix.is_empty() {
            prefix.push(b'/');
        }
        prefix.extend_from_slice(&e.name);
        if e.tree && level < depth {
            walk(repo, e.oid, prefix, level + 1, depth, totals)?;
        } else if e.blob
            && level == depth
            && let Some(key) = log_key(&e.name)
        {
            let size = key_size(&key);
            let data = read_blob(repo, e.oid, prefix)?;
            for u in PresenceLog::parse(&data).present() {
                add(totals, u, size);
            }
        }
        prefix.truncate(len);
    }
    Ok(())
}

/// The sizes of every repository from the location logs of `tree` (the
/// journal left out), starting from `start` (the known repositories at
/// 0). Walks the top-level directories on several threads.
pub(super) fn full(
    repo: &gix::Repository,
    tree: ObjectId,
    depth: usize,
    start: Totals,
) -> Result<Totals, SizesError> {
    let root = read_tree(repo, tree)?;
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let sync = repo.clone().into_sync();
    let results: Vec<Result<HashMap<Vec<u8>, i128>, SizesError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let root = &root;
                let sync = &sync;
                s.spawn(move || {
                    let repo = sync.to_thread_local();
                    let mut totals = HashMap::new();
                    let mut prefix = Vec::with_capacity(256);
                    for e in root.iter().skip(t).step_by(threads) {
                        prefix.clear();
                        prefix.extend_from_slice(&e.name);
                        if e.tree && depth > 1 {
                            walk(&repo, e.oid, &mut prefix, 2, depth, &mut totals)?;
                        } else if e.blob
                            && depth == 1
                            && let Some(key) = log_key(&e.name)
                        {
                            let size = key_size(&key);
                            let data = read_blob(&repo, e.oid, &prefix)?;
                            for u in PresenceLog::parse(&data).present() {
                                add(&mut totals, u, size);
                            }
                        }
                    }
                    Ok(totals)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(SizesError::Git {
                        what: "walk tree",
                        name: tree.to_string(),
                        detail: "a walking thread panicked".into(),
                    })
                })
            })
            .collect()
    });
    let mut all = from_totals(&start);
    for r in results {
        for (u, v) in r? {
            add(&mut all, &u, v);
        }
    }
    Ok(to_totals(all))
}

/// Applies to `totals` the changes of every location log between the
/// trees `old` and `new` (any depth, as git-annex's `diff-tree -r`).
/// Returns how many logs changed.
pub(super) fn diff(
    repo: &gix::Repository,
    old: ObjectId,
    new: ObjectId,
    totals: &mut Totals,
) -> Result<usize, SizesError> {
    let mut changed = Vec::new();
    let mut prefix = Vec::new();
    diff_trees(repo, Some(old), Some(new), &mut prefix, &mut changed)?;
    let mut m = from_totals(totals);
    let n = changed.len();
    for (path, a, b) in changed {
        let Some(key) = log_key(&path) else { continue };
        let size = key_size(&key);
        let old = match a {
            Some(id) => read_blob(repo, id, &path)?,
            None => Vec::new(),
        };
        let new = match b {
            Some(id) => read_blob(repo, id, &path)?,
            None => Vec::new(),
        };
        apply_change(&mut m, size, &old, &new);
    }
    *totals = to_totals(m);
    Ok(n)
}

/// A changed blob: its path, and its old and new versions.
type Changed = (Vec<u8>, Option<ObjectId>, Option<ObjectId>);

/// Collects the blobs that differ between two trees (either may be absent).
fn diff_trees(
    repo: &gix::Repository,
    old: Option<ObjectId>,
    new: Option<ObjectId>,
    prefix: &mut Vec<u8>,
    out: &mut Vec<Changed>,
) -> Result<(), SizesError> {
    if old == new {
        return Ok(());
    }
    let index = |t: Option<ObjectId>| -> Result<BTreeMap<Vec<u8>, Entry>, SizesError> {
        Ok(match t {
            Some(t) => read_tree(repo, t)?
                .into_iter()
                .map(|e| (e.name.clone(), e))
                .collect(),
            None => BTreeMap::new(),
        })
    };
    let a = index(old)?;
    let b = index(new)?;
    let names: BTreeSet<&Vec<u8>> = a.keys().chain(b.keys()).collect();
    for name in names {
        let ea = a.get(name);
        let eb = b.get(name);
        if let (Some(x), Some(y)) = (ea, eb)
            && x.oid == y.oid
            && x.tree == y.tree
            && x.blob == y.blob
        {
            continue;
        }
        let len = prefix.len();
        if !prefix.is_empty() {
            prefix.push(b'/');
        }
        prefix.extend_from_slice(name);
        let tree_of = |e: Option<&Entry>| e.filter(|e| e.tree).map(|e| e.oid);
        let blob_of = |e: Option<&Entry>| e.filter(|e| e.blob).map(|e| e.oid);
        let (ta, tb) = (tree_of(ea), tree_of(eb));
        if ta.is_some() || tb.is_some() {
            diff_trees(repo, ta, tb, prefix, out)?;
        }
        let (ba, bb) = (blob_of(ea), blob_of(eb));
        if (ba.is_some() || bb.is_some()) && ba != bb {
            out.push((prefix.clone(), ba, bb));
        }
        prefix.truncate(len);
    }
    Ok(())
}

/// Lays the journal over sizes computed from the branch at `commit`, as
/// git-annex's `calcJournalledRepoSizes` does.
///
/// Every journalled location log (at the hash depth) counts the
/// difference between its journalled locations and its locations at
/// `commit`. The journalled locations are those of the journal file alone,
/// or, when private repositories are configured and the private journal
/// has the file, of the commit's version, the journal's and the private
/// journal's one after the other. Keys whose current log says dead are
/// skipped. The public journal's files come first, then the private
/// journal's, and a file in both is counted once for each (as git-annex
/// does).
pub(super) fn journal(
    branch: &Branch,
    commit: Option<ObjectId>,
    depth: usize,
    totals: &mut Totals,
) -> Result<usize, SizesError> {
    let private_known = branch.private_known();
    let j = branch.journal();
    let mut files = j.files()?;
    if private_known {
        files.extend(j.private_files()?);
    }
    let mut m = from_totals(totals);
    let mut n = 0;
    for path in files {
        if !at_depth(&path, depth) {
            continue;
        }
        let Some(key) = log_key(&path) else { continue };
        let public = j.read(&path)?;
        let private = if private_known {
            j.read_private(&path)?
        } else {
            None
        };
        if public.is_none() && private.is_none() {
            continue;
        }
        let at_commit = match commit {
            Some(c) => branch.file_at(c, &path)?.unwrap_or_default(),
            None => Vec::new(),
        };
        let journalled = match private {
            None => public.unwrap_or_default(),
            Some(p) => {
                let mut v = at_commit.clone();
                v.extend_from_slice(&public.unwrap_or_default());
                v.extend_from_slice(&p);
                v
            }
        };
        // git-annex reads the key's current log (journal over the branch)
        // to skip dead keys.
        if LocationLog::parse(&branch.get(&path)?).is_dead() {
            continue;
        }
        n += 1;
        apply_change(&mut m, key_size(&key), &at_commit, &journalled);
    }
    *totals = to_totals(m);
    Ok(n)
}

/// Whether the current location log of `key` (journal over the branch)
/// says `uuid` has its content.
pub(super) fn is_present(branch: &Branch, key: &Key, uuid: &Uuid) -> Result<bool, SizesError> {
    let path = crate::state::key_log_path(key, ".log");
    let content = branch.get(&path)?;
    Ok(PresenceLog::parse(&content)
        .present()
        .contains(&uuid.as_str().as_bytes()))
}
