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
use crate::branch::diff::{Changed, Sink, diff_trees, entries, tree_data};
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

fn read_blob(repo: &gix::Repository, id: ObjectId, path: &[u8]) -> Result<Vec<u8>, SizesError> {
    let mut b = repo
        .find_blob(id)
        .map_err(|e| git_err("read blob of", String::from_utf8_lossy(path))(e.to_string()))?;
    Ok(b.take_data())
}

/// How many threads a walk uses.
fn thread_count() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8)
}

/// Runs `f` over contiguous chunks of `items` on several threads, each
/// with its own handle on the repository; returns the results in order.
fn par_chunks<T: Sync, R: Send>(
    repo: &gix::Repository,
    items: &[T],
    f: impl Fn(&gix::Repository, &[T]) -> Result<R, SizesError> + Sync,
) -> Result<Vec<R>, SizesError> {
    let threads = thread_count().min(items.len().max(1));
    let chunk = items.len().div_ceil(threads).max(1);
    if threads == 1 {
        return Ok(vec![f(repo, items)?]);
    }
    let sync = repo.clone().into_sync();
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                let (sync, f) = (&sync, &f);
                s.spawn(move || f(&sync.to_thread_local(), part))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(SizesError::Git {
                        what: "walk",
                        name: "git-annex branch".into(),
                        detail: "a walking thread panicked".into(),
                    })
                })
            })
            .collect()
    })
}

/// The sizes of every repository from the location logs of `tree` (the
/// journal left out), starting from `start` (the known repositories at
/// 0).
///
/// Reads the trees level by level and then the logs, each batch in object
/// id order and split over several threads: looking objects up in id
/// order keeps the pack index in the CPU caches, which random lookups (a
/// path order walk) do not.
pub(super) fn full(
    repo: &gix::Repository,
    tree: ObjectId,
    depth: usize,
    start: Totals,
) -> Result<Totals, SizesError> {
    let mut trees = vec![tree];
    let mut logs: Vec<(ObjectId, i128)> = Vec::new();
    for level in 1..=depth {
        trees.sort_unstable();
        let found = par_chunks(repo, &trees, |repo, part| {
            let mut subtrees = Vec::new();
            let mut logs = Vec::new();
            for &t in part {
                let data = tree_data(repo, t)?;
                for e in entries(repo, t, &data) {
                    let e = e?;
                    if e.mode.is_tree() && level < depth {
                        subtrees.push(e.oid.to_owned());
                    } else if e.mode.is_blob()
                        && level == depth
                        && let Some(key) = log_key(e.filename)
                    {
                        logs.push((e.oid.to_owned(), key_size(&key)));
                    }
                }
            }
            Ok((subtrees, logs))
        })?;
        trees = Vec::new();
        for (t, l) in found {
            trees.extend(t);
            logs.extend(l);
        }
    }
    logs.sort_unstable_by_key(|(id, _)| *id);
    let counted = par_chunks(repo, &logs, |repo, part| {
        let mut totals: HashMap<Vec<u8>, i128> = HashMap::new();
        // Equal logs (same blob) are parsed once.
        let mut last: Option<(ObjectId, Vec<Vec<u8>>)> = None;
        for &(id, size) in part {
            if last.as_ref().is_none_or(|(l, _)| *l != id) {
                let data = read_blob(repo, id, id.to_string().as_bytes())?;
                let present = PresenceLog::parse(&data)
                    .present()
                    .into_iter()
                    .map(<[u8]>::to_vec)
                    .collect();
                last = Some((id, present));
            }
            if let Some((_, present)) = &last {
                for u in present {
                    add(&mut totals, u, size);
                }
            }
        }
        Ok(totals)
    })?;
    let mut all = from_totals(&start);
    for part in counted {
        for (u, v) in part {
            add(&mut all, &u, v);
        }
    }
    Ok(to_totals(all))
}

/// Applies to `totals` the changes of every location log between the
/// trees `old` and `new` (any depth, as git-annex's `diff-tree -r`).
/// Returns how many logs changed.
///
/// The top-level directories are compared on several threads, then the
/// changed logs read on several threads; the changes are applied in path
/// order, as git-annex applies them.
pub(super) fn diff(
    repo: &gix::Repository,
    old: ObjectId,
    new: ObjectId,
    totals: &mut Totals,
) -> Result<usize, SizesError> {
    // The root's differences: blobs right away, subtrees for the threads.
    let mut top = Vec::new();
    let mut prefix = Vec::new();
    diff_trees(repo, Some(old), Some(new), &mut prefix, &mut top)?;
    let parts = par_chunks(repo, &top, |repo, part| {
        let mut out = Vec::new();
        for item in part {
            match item {
                Item::Blob(c) => out.push(c.clone()),
                Item::Tree(path, a, b) => {
                    let mut prefix = path.clone();
                    diff_trees(repo, *a, *b, &mut prefix, &mut out)?;
                }
            }
        }
        Ok(out)
    })?;
    let changed: Vec<Changed> = parts.into_iter().flatten().collect();
    // Each changed log's UUIDs that became present and stopped being.
    let deltas = par_chunks(repo, &changed, |repo, part| {
        let mut out = Vec::with_capacity(part.len());
        for (path, a, b) in part {
            let Some(key) = log_key(path) else { continue };
            let read = |id: &Option<ObjectId>| match id {
                Some(id) => read_blob(repo, *id, path),
                None => Ok(Vec::new()),
            };
            let before = present_set(&read(a)?);
            let after = present_set(&read(b)?);
            let added: Vec<Vec<u8>> = after.difference(&before).cloned().collect();
            let removed: Vec<Vec<u8>> = before.difference(&after).cloned().collect();
            out.push((key_size(&key), added, removed));
        }
        Ok(out)
    })?;
    let mut m = from_totals(totals);
    for (size, added, removed) in deltas.into_iter().flatten() {
        for u in &added {
            add(&mut m, u, size);
        }
        for u in &removed {
            remove(&mut m, u, size);
        }
    }
    *totals = to_totals(m);
    Ok(changed.len())
}

/// A difference found at one level: a changed blob, or a pair of trees to
/// compare (either may be absent).
enum Item {
    Blob(Changed),
    Tree(Vec<u8>, Option<ObjectId>, Option<ObjectId>),
}

impl Sink for Vec<Item> {
    fn blob(&mut self, c: Changed) {
        self.push(Item::Blob(c));
    }
    fn tree(&mut self, path: &[u8], a: Option<ObjectId>, b: Option<ObjectId>) -> bool {
        self.push(Item::Tree(path.to_vec(), a, b));
        false
    }
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
