//! Evaluating expressions: what a term needs ([`MatchContext`] for the
//! repository's state, [`Item`] for the file or key asked about), the
//! reference's left-to-right evaluation, and an optimized one.

use std::collections::BTreeSet;

use crate::key::Key;
use crate::logs::cluster::is_cluster_uuid;
use crate::logs::metadata::MetaData;
use crate::logs::trust::TrustLevel;
use crate::uuid::Uuid;

use super::balanced::pick;
use super::glob::Glob;
use super::matcher::Matcher;
use super::term::{Balanced, BalancedCount, BalancedKind, CopiesFilter, MetaOp, Sub, Term};

/// One piece of information about the item matched: known (the value),
/// absent (there is none: the term does not match), or not provided (the
/// caller was not told: evaluation stops with [`EvalError::Missing`], as
/// `git annex matchexpression` exits 42 "cannot match this expression
/// without ... data").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datum<T> {
    /// The value.
    Known(T),
    /// There is none.
    Absent,
    /// Not provided.
    Unprovided,
}

impl<T> Datum<T> {
    /// `Known` for `Some`, `Absent` for `None`.
    pub fn from_option(o: Option<T>) -> Datum<T> {
        match o {
            Some(v) => Datum::Known(v),
            None => Datum::Absent,
        }
    }

    fn get<E>(&self, kind: DataKind) -> Result<Option<&T>, EvalError<E>> {
        match self {
            Datum::Known(v) => Ok(Some(v)),
            Datum::Absent => Ok(None),
            Datum::Unprovided => Err(EvalError::Missing(kind)),
        }
    }
}

/// Kinds of information about an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// The file name.
    File,
    /// The key.
    Key,
    /// The size.
    Size,
    /// The MIME type.
    MimeType,
    /// The MIME encoding.
    MimeEncoding,
}

impl DataKind {
    /// The word git-annex uses for it (`file`, `key`, `size`, `mimetype`,
    /// `mimeencoding`).
    pub fn name(self) -> &'static str {
        match self {
            DataKind::File => "file",
            DataKind::Key => "key",
            DataKind::Size => "size",
            DataKind::MimeType => "mimetype",
            DataKind::MimeEncoding => "mimeencoding",
        }
    }
}

/// Why evaluation stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError<E> {
    /// A term needed information the item does not provide.
    #[error("cannot match this expression without {} data", .0.name())]
    Missing(DataKind),
    /// A glob that git-annex cannot compile (an unterminated bracket) was
    /// used; the regex it made.
    #[error("failed to compile regex: {0}")]
    InvalidGlob(String),
    /// The context failed to read the repository's state.
    #[error("{0}")]
    Context(E),
}

/// What is matched: a file (by its path from the top of the work tree)
/// and/or a key, with what else is known about it.
#[derive(Debug, Clone, Copy)]
pub struct Item<'a> {
    /// Path from the top of the repository.
    pub file: Datum<&'a [u8]>,
    /// The key.
    pub key: Datum<&'a Key>,
    /// The size for `largerthan`/`smallerthan`: `Known(None)` when there is
    /// a key of unknown size (then `smallerthan` matches and `largerthan`
    /// does not, as in git-annex), `Absent` when there is nothing to size.
    pub size: Datum<Option<u64>>,
    /// The MIME type (`mimetype=`).
    pub mime_type: Datum<&'a [u8]>,
    /// The MIME encoding (`mimeencoding=`).
    pub mime_encoding: Datum<&'a [u8]>,
    /// The item is a file of the work tree (git-annex's `MatchingFile`):
    /// `unused` never matches, and `lackingcopies` asks the context for the
    /// file's numcopies (`.gitattributes`).
    pub worktree_file: bool,
    /// The repository whose preferred content this is (`present` and the
    /// balancing terms ask about it); `None` means this repository's content
    /// is checked, as when an expression is only validated.
    pub repo: Option<&'a Uuid>,
    /// Repositories to treat as not having the key (when deciding a drop).
    pub not_present: &'a [Uuid],
}

impl<'a> Item<'a> {
    /// An item with nothing known about it yet (every datum `Absent`).
    pub fn empty() -> Item<'a> {
        Item {
            file: Datum::Absent,
            key: Datum::Absent,
            size: Datum::Absent,
            mime_type: Datum::Absent,
            mime_encoding: Datum::Absent,
            worktree_file: false,
            repo: None,
            not_present: &[],
        }
    }

    /// A key with no file (git-annex's `--all`, or a key given alone): its
    /// size comes from the key.
    pub fn key(key: &'a Key) -> Item<'a> {
        Item {
            key: Datum::Known(key),
            size: Datum::Known(key.size()),
            ..Item::empty()
        }
    }

    /// A work-tree file with its key (if annexed): the size comes from the
    /// key, as preferred content sees it.
    pub fn file(path: &'a [u8], key: Option<&'a Key>) -> Item<'a> {
        Item {
            file: Datum::Known(path),
            key: Datum::from_option(key),
            size: match key {
                Some(k) => Datum::Known(k.size()),
                None => Datum::Absent,
            },
            worktree_file: true,
            ..Item::empty()
        }
    }

    /// The same item, asked for repository `repo`.
    pub fn for_repo(mut self, repo: Option<&'a Uuid>) -> Item<'a> {
        self.repo = repo;
        self
    }
}

/// What terms need to know about the repository and its keys.
///
/// Global facts (trust, groups, numcopies, sizes) are plain lookups; a
/// key's logs are lent to a closure so an implementation can cache them.
pub trait MatchContext {
    /// The context's failure (reading the git-annex branch, ...).
    type Error;

    /// This repository's UUID.
    fn here(&self) -> Option<&Uuid>;
    /// A repository's trust level (semitrusted when not set).
    fn trust(&self, uuid: &Uuid) -> TrustLevel;
    /// Whether a repository is in a group.
    fn in_group(&self, uuid: &Uuid, group: &[u8]) -> bool;
    /// The members of a group (`None` or empty when it has none).
    fn group_members(&self, group: &[u8]) -> Option<&BTreeSet<Uuid>>;
    /// Whether a UUID is a cluster's (a cluster is not a distinct copy).
    fn is_cluster(&self, uuid: &Uuid) -> bool {
        is_cluster_uuid(uuid.as_str().as_bytes())
    }
    /// Lends the repositories the location log says have the key (dead ones
    /// included; clusters whose nodes have it added, as git-annex does).
    fn with_locations<R>(&self, key: &Key, f: impl FnOnce(&[Uuid]) -> R) -> Result<R, Self::Error>;
    /// Lends the key's current metadata (with its `lastchanged` fields).
    fn with_metadata<R>(&self, key: &Key, f: impl FnOnce(&MetaData) -> R)
    -> Result<R, Self::Error>;
    /// Lends the key's URLs.
    fn with_urls<R>(&self, key: &Key, f: impl FnOnce(&[Vec<u8>]) -> R) -> Result<R, Self::Error>;
    /// Whether this repository has the key's content.
    fn has_content(&self, key: &Key) -> Result<bool, Self::Error>;
    /// Whether `git annex unused` found the key unused.
    fn is_unused(&self, key: &Key) -> Result<bool, Self::Error>;
    /// The numcopies setting; with a file, its `.gitattributes` setting
    /// first. Default 1.
    fn numcopies(&self, file: Option<&[u8]>) -> Result<i64, Self::Error>;
    /// The directory `inpreferreddir` looks for (the repository's
    /// `preferreddir=` remote config, else `public`).
    fn preferred_dir(&self, repo: Option<&Uuid>) -> &[u8];
    /// A repository's maximum size (`git annex maxsize`).
    fn max_size(&self, uuid: &Uuid) -> Option<u64>;
    /// A repository's current size, if known.
    fn repo_size(&self, uuid: &Uuid) -> Option<u64>;
    /// `--rebalance`.
    fn rebalance(&self) -> bool {
        false
    }
    /// What libmagic says the key's content in this repository is, for
    /// `mimetype=`/`mimeencoding=` when the item's type was not given
    /// (the matching options, which read the annexed object as
    /// git-annex does); `None` when the content is not here.
    fn content_mime(&self, key: &Key) -> Option<crate::mime::Mime> {
        let _ = key;
        None
    }
    /// `annex.fullybalancedthreshhold` (default 0.9).
    fn fully_balanced_threshold(&self) -> f64 {
        0.9
    }
}

type R<E> = Result<bool, EvalError<E>>;

fn ctx_err<E>(e: E) -> EvalError<E> {
    EvalError::Context(e)
}

/// Locations minus dead repositories (git-annex's `keyLocations`).
fn key_locations<C: MatchContext>(ctx: &C, key: &Key) -> Result<Vec<Uuid>, EvalError<C::Error>> {
    ctx.with_locations(key, |ls| {
        ls.iter()
            .filter(|u| ctx.trust(u) != TrustLevel::Dead)
            .cloned()
            .collect()
    })
    .map_err(ctx_err)
}

fn copies_match<C: MatchContext>(
    ctx: &C,
    item: &Item<'_>,
    key: &Key,
    filter: &CopiesFilter,
    n: i64,
) -> R<C::Error> {
    // Counting without collecting: the hot path of most expressions.
    let have = ctx
        .with_locations(key, |ls| {
            ls.iter()
                .filter(|u| {
                    let t = ctx.trust(u);
                    t != TrustLevel::Dead
                        && match filter {
                            CopiesFilter::All => true,
                            CopiesFilter::Trust(l) => t == *l,
                            CopiesFilter::TrustOrMore(l) => *l <= t,
                            CopiesFilter::Group(g) => ctx.in_group(u, g),
                        }
                        && !item.not_present.contains(u)
                        && !ctx.is_cluster(u)
                })
                .count() as i64
        })
        .map_err(ctx_err)?;
    Ok(have >= n)
}

/// numcopies minus the copies that count (not untrusted, not dead, not
/// assumed gone).
fn lacking<C: MatchContext>(
    ctx: &C,
    item: &Item<'_>,
    key: &Key,
    approx: bool,
) -> Result<i64, EvalError<C::Error>> {
    let file = match (approx, item.worktree_file, item.file) {
        (false, true, Datum::Known(f)) => Some(f),
        _ => None,
    };
    let numcopies = ctx.numcopies(file).map_err(ctx_err)?;
    let have = ctx
        .with_locations(key, |ls| {
            ls.iter()
                .filter(|u| {
                    let t = ctx.trust(u);
                    t != TrustLevel::Dead
                        && t != TrustLevel::Untrusted
                        && !item.not_present.contains(u)
                        && !ctx.is_cluster(u)
                })
                .count() as i64
        })
        .map_err(ctx_err)?;
    Ok(numcopies - have)
}

fn present<C: MatchContext>(ctx: &C, item: &Item<'_>, key: &Key) -> R<C::Error> {
    match item.repo {
        Some(u) if Some(u) != ctx.here() => Ok(key_locations(ctx, key)?.contains(u)),
        _ => ctx.has_content(key).map_err(ctx_err),
    }
}

/// `takeDirectory` then `splitPath`, and whether `dir` is one of the parts.
fn in_dir(file: &[u8], dir: &[u8]) -> bool {
    // takeDirectory: drop the last component, then trailing slashes.
    let d: &[u8] = match file.iter().rposition(|&b| b == b'/') {
        None => b".",
        Some(i) => {
            let mut d = &file[..=i];
            while d.len() > 1 && d.ends_with(b"/") {
                d = &d[..d.len() - 1];
            }
            d
        }
    };
    // splitPath: components keep their trailing slashes.
    let mut parts: Vec<&[u8]> = Vec::new();
    let mut i = 0;
    while i < d.len() {
        let start = i;
        while i < d.len() && d[i] != b'/' {
            i += 1;
        }
        while i < d.len() && d[i] == b'/' {
            i += 1;
        }
        parts.push(&d[start..i]);
    }
    parts.contains(&dir)
}

fn need_key<'k, E>(item: &Item<'k>) -> Result<Option<&'k Key>, EvalError<E>> {
    match item.key {
        Datum::Known(k) => Ok(Some(k)),
        Datum::Absent => Ok(None),
        Datum::Unprovided => Err(EvalError::Missing(DataKind::Key)),
    }
}

fn need_file<'k, E>(item: &Item<'k>) -> Result<Option<&'k [u8]>, EvalError<E>> {
    match item.file {
        Datum::Known(f) => Ok(Some(f)),
        Datum::Absent => Ok(None),
        Datum::Unprovided => Err(EvalError::Missing(DataKind::File)),
    }
}

/// Evaluates one term.
pub fn eval_term<C: MatchContext>(term: &Term, ctx: &C, item: &Item<'_>) -> R<C::Error> {
    match term {
        Term::Anything => Ok(true),
        Term::Nothing => Ok(false),
        Term::Include(g) => match need_file(item)? {
            Some(f) => Ok(glob_match(g, f)?),
            None => Ok(false),
        },
        // With no file (a key alone, as `--all` gives), git-annex's glob
        // does not match, so `exclude` does (checked with the reference's
        // `sync --content --all`: a repository wanting `exclude=*` is sent
        // keys with no file).
        Term::Exclude(g) => match need_file(item)? {
            Some(f) => Ok(!glob_match(g, f)?),
            None => Ok(true),
        },
        Term::LargerThan(s) => Ok(match item.size.get(DataKind::Size)? {
            Some(Some(sz)) => i128::from(*sz) > s.bytes,
            _ => false,
        }),
        Term::SmallerThan(s) => Ok(match item.size.get(DataKind::Size)? {
            Some(Some(sz)) => i128::from(*sz) < s.bytes,
            // Haskell: Nothing < Just n.
            Some(None) => true,
            None => false,
        }),
        Term::Unused => {
            if item.worktree_file {
                return Ok(false);
            }
            match need_key(item)? {
                Some(k) => ctx.is_unused(k).map_err(ctx_err),
                None => Ok(false),
            }
        }
        Term::Standard(sub) | Term::GroupWanted(sub) => match sub {
            Sub::All => Ok(true),
            Sub::Expr(m) => m.eval(&mut |t: &Term| eval_term(t, ctx, item)),
        },
        Term::InPreferredDir => {
            let dir = ctx.preferred_dir(item.repo);
            Ok(need_file(item)?.is_some_and(|f| in_dir(f, dir)))
        }
        Term::Present => match need_key(item)? {
            Some(k) => present(ctx, item, k),
            None => Ok(false),
        },
        Term::SecureHash => Ok(need_key(item)?.is_some_and(|k| k.variety().is_secure_hash())),
        Term::Copies { filter, n, .. } => match need_key(item)? {
            Some(k) => copies_match(ctx, item, k, filter, *n),
            None => Ok(false),
        },
        Term::LackingCopies { n, approx, .. } => match need_key(item)? {
            Some(k) => Ok(lacking(ctx, item, k, *approx)? >= *n),
            None => Ok(false),
        },
        Term::InBackend(name, variety) => Ok(need_key(item)?
            .is_some_and(|k| k.backend_name() == name.as_slice() || k.variety() == *variety)),
        Term::MetaData { folded, op, .. } => match need_key(item)? {
            Some(k) => {
                let (any_value, hit) = ctx
                    .with_metadata(k, |m| {
                        let mut set = m
                            .fields
                            .get(folded)
                            .into_iter()
                            .flat_map(|f| f.values.iter().filter(|(_, s)| **s).map(|(v, _)| v))
                            .peekable();
                        let any = set.peek().is_some();
                        (any, set.any(|v| op.matches(v)))
                    })
                    .map_err(ctx_err)?;
                if let MetaOp::Glob(g) = op
                    && any_value
                    && !g.is_valid()
                {
                    return Err(EvalError::InvalidGlob(g.regex().to_owned()));
                }
                Ok(hit)
            }
            None => Ok(false),
        },
        Term::Url(g) => match need_key(item)? {
            Some(k) => {
                let (any_url, hit) = ctx
                    .with_urls(k, |us| {
                        (
                            !us.is_empty(),
                            us.iter().any(|u| g.matches(strip_downloader(u))),
                        )
                    })
                    .map_err(ctx_err)?;
                if any_url && !g.is_valid() {
                    return Err(EvalError::InvalidGlob(g.regex().to_owned()));
                }
                Ok(hit)
            }
            None => Ok(false),
        },
        Term::InAllGroup(g) => {
            let want = match ctx.group_members(g) {
                Some(w) if !w.is_empty() => w,
                _ => return Ok(true),
            };
            if want.iter().any(|u| item.not_present.contains(u)) {
                return Ok(false);
            }
            match need_key(item)? {
                Some(k) => {
                    let locs = key_locations(ctx, k)?;
                    Ok(want.iter().all(|u| locs.contains(u)))
                }
                None => Ok(false),
            }
        }
        Term::OnlyInGroup(g) => {
            let want = match ctx.group_members(g) {
                Some(w) if !w.is_empty() => w,
                _ => return Ok(false),
            };
            match need_key(item)? {
                Some(k) => {
                    let locs = key_locations(ctx, k)?;
                    let here: Vec<&Uuid> = locs
                        .iter()
                        .filter(|u| !item.not_present.contains(u))
                        .collect();
                    Ok(here.iter().any(|u| want.contains(*u))
                        && here.iter().all(|u| want.contains(*u)))
                }
                None => Ok(false),
            }
        }
        Term::Balanced(b) => balanced(b, ctx, item),
        Term::MimeType(g) => match item.mime_type.get(DataKind::MimeType)? {
            Some(m) => glob_match(g, m),
            None => match content_mime(ctx, item) {
                Some(m) => glob_match(g, &m.mime_type),
                None => Ok(false),
            },
        },
        Term::MimeEncoding(g) => match item.mime_encoding.get(DataKind::MimeEncoding)? {
            Some(m) => glob_match(g, m),
            None => match content_mime(ctx, item) {
                Some(m) => glob_match(g, &m.encoding),
                None => Ok(false),
            },
        },
    }
}

/// The MIME type of an item's key's content here, when the item has a key.
fn content_mime<C: MatchContext>(ctx: &C, item: &Item<'_>) -> Option<crate::mime::Mime> {
    match item.key {
        Datum::Known(k) => ctx.content_mime(k),
        _ => None,
    }
}

fn glob_match<E>(g: &Glob, text: &[u8]) -> Result<bool, EvalError<E>> {
    if g.is_valid() {
        Ok(g.matches(text))
    } else {
        Err(EvalError::InvalidGlob(g.regex().to_owned()))
    }
}

/// The URL without a `yt:`/`quvi:`/`:` downloader prefix.
fn strip_downloader(u: &[u8]) -> &[u8] {
    match u.iter().position(|&b| b == b':') {
        Some(i) if matches!(&u[..i], b"yt" | b"quvi" | b"") => &u[i + 1..],
        _ => u,
    }
}

fn balanced<C: MatchContext>(b: &Balanced, ctx: &C, item: &Item<'_>) -> R<C::Error> {
    let fully = |ctx: &C, item: &Item<'_>| fully_balanced(b, ctx, item);
    match b.kind {
        BalancedKind::FullyBalanced | BalancedKind::FullySizeBalanced => fully(ctx, item),
        BalancedKind::Balanced | BalancedKind::SizeBalanced => {
            if ctx.rebalance() {
                return fully(ctx, item);
            }
            let is_present = match need_key(item)? {
                Some(k) => present(ctx, item, k)?,
                None => false,
            };
            if is_present {
                return Ok(true);
            }
            let enough_ok = match (&b.enough, need_key(item)?) {
                (_, None) => false,
                (Some((filter, n)), Some(k)) => !copies_match(ctx, item, k, filter, *n)?,
                (None, Some(k)) => lacking(ctx, item, k, false)? >= 1,
            };
            if !enough_ok {
                return Ok(false);
            }
            fully(ctx, item)
        }
    }
}

fn repo_has_space(keysize: u64, inrepo: bool, reposize: u64, maxsize: u64) -> bool {
    if inrepo {
        reposize <= maxsize
    } else {
        u128::from(reposize) + u128::from(keysize) <= u128::from(maxsize)
    }
}

fn size_balanced_candidates<C: MatchContext>(
    ctx: &C,
    n: i64,
    key: &Key,
    candidates: &BTreeSet<Uuid>,
) -> Result<BTreeSet<Uuid>, EvalError<C::Error>> {
    let current: Vec<Uuid> = ctx.with_locations(key, |ls| ls.to_vec()).map_err(ctx_err)?;
    let keysize = key.size().unwrap_or(0);
    let mut scored: Vec<(&Uuid, f64)> = candidates
        .iter()
        .filter_map(|u| {
            let max = ctx.max_size(u)?;
            let size = ctx.repo_size(u).unwrap_or(0);
            let inrepo = current.contains(u);
            if !repo_has_space(keysize, inrepo, size, max) || max == 0 {
                return None;
            }
            let free =
                i128::from(max) - i128::from(size) + if inrepo { i128::from(keysize) } else { 0 };
            Some((u, free as f64 / max as f64))
        })
        .collect();
    // sortOn snd (stable), reversed: most free first, and among equals the
    // later UUID first.
    scored.sort_by(|a, b| a.1.total_cmp(&b.1));
    scored.reverse();
    let take = usize::try_from(n.max(0)).unwrap_or(usize::MAX);
    Ok(scored
        .into_iter()
        .take(take)
        .map(|(u, _)| u.clone())
        .collect())
}

fn fully_balanced<C: MatchContext>(b: &Balanced, ctx: &C, item: &Item<'_>) -> R<C::Error> {
    let Some(key) = need_key(item)? else {
        return Ok(false);
    };
    let empty = BTreeSet::new();
    let members = ctx.group_members(&b.group).unwrap_or(&empty);
    let n = match b.count {
        BalancedCount::N(n) => n,
        BalancedCount::LackingCopies => lacking(ctx, item, key, false)?,
    };
    let candidates = match b.kind {
        BalancedKind::SizeBalanced | BalancedKind::FullySizeBalanced => {
            size_balanced_candidates(ctx, n, key, members)?
        }
        BalancedKind::Balanced | BalancedKind::FullyBalanced => {
            let threshold = ctx.fully_balanced_threshold();
            let too_full = |u: &Uuid| match (ctx.max_size(u), ctx.repo_size(u)) {
                (Some(0), _) => false,
                (Some(max), Some(size)) => size as f64 >= max as f64 * threshold,
                _ => false,
            };
            let full_count = members.iter().filter(|u| too_full(u)).count() as i64;
            let need_size_balance =
                ctx.rebalance() && n > 1 && n > members.len() as i64 - full_count;
            if need_size_balance {
                size_balanced_candidates(ctx, n, key, members)?
            } else {
                let current: Vec<Uuid> =
                    ctx.with_locations(key, |ls| ls.to_vec()).map_err(ctx_err)?;
                let keysize = key.size().unwrap_or(0);
                members
                    .iter()
                    .filter(|u| match (ctx.max_size(u), ctx.repo_size(u)) {
                        (Some(max), Some(size)) => {
                            repo_has_space(keysize, current.contains(u), size, max)
                        }
                        _ => true,
                    })
                    .cloned()
                    .collect()
            }
        }
    };
    if candidates.is_empty() || members.is_empty() {
        return Ok(false);
    }
    let Some(u) = item.repo else {
        return Ok(false);
    };
    Ok(pick(members, &candidates, key, n).contains(u))
}

/// Evaluates a matcher left to right, as git-annex does, then refuses an
/// expression that negates an unstable term (`not present`, `not
/// balanced=`): it never matches.
pub fn eval<C: MatchContext>(m: &Matcher<Term>, ctx: &C, item: &Item<'_>) -> R<C::Error> {
    let r = m.eval(&mut |t: &Term| eval_term(t, ctx, item))?;
    Ok(r && !unstable(m))
}

/// [`eval`] with git-annex's explanation of the answer (what `--explain`
/// shows): `MATCHES WHAT: term[TRUE] and ...`, plus why an unstable
/// expression is not used. The explanation is `None` when no term was
/// looked at.
pub fn eval_explained<C: MatchContext>(
    m: &Matcher<Term>,
    ctx: &C,
    item: &Item<'_>,
    what: &str,
) -> Result<(bool, Option<String>), EvalError<C::Error>> {
    let mut trace = Vec::new();
    let r = m.eval_traced(&mut |t: &Term| eval_term(t, ctx, item), &mut trace)?;
    let prefix = format!("{} {what}: ", if r { "matches" } else { "does not match" });
    let msg = super::matcher::describe(
        &trace,
        |t: &Term, b| format!("{}[{}]", t.desc(), if b { "TRUE" } else { "FALSE" }),
        &prefix,
    );
    let mut names: Vec<String> = Vec::new();
    // git-annex lists them last first.
    for t in m.negated_ops().into_iter().rev() {
        if t.negation_unstable() {
            let d = t.desc();
            if !names.contains(&d) {
                names.push(d);
            }
        }
    }
    if names.is_empty() {
        return Ok((r, msg));
    }
    let mut s = msg.unwrap_or_default();
    s.push_str(&format!(
        ", but that expression is not stable due to negated use of {}, so will not be used",
        names.join(" ")
    ));
    Ok((false, Some(s)))
}

/// Whether the matcher negates a term whose negation is unstable.
pub fn unstable(m: &Matcher<Term>) -> bool {
    m.negated_ops().iter().any(|t| t.negation_unstable())
}

/// A matcher rearranged for speed: `and`/`or` chains flattened and their
/// operands ordered cheapest first. Same answers as [`eval`] whenever no
/// datum is [`Datum::Unprovided`] and the context does not fail (terms have
/// no side effects), but it may ask for different data first.
///
/// Stored flat like [`Matcher`] (each node after its operands) and
/// evaluated with an explicit stack: no recursion however deep the
/// expression.
#[derive(Debug, Clone)]
pub struct Optimized {
    nodes: Vec<ONode>,
    unstable: bool,
}

#[derive(Debug, Clone)]
enum ONode {
    True,
    And(Vec<usize>),
    Or(Vec<usize>),
    Not(usize),
    Term(Box<Term>),
}

impl Optimized {
    /// Prepares a matcher.
    pub fn new(m: &Matcher<Term>) -> Optimized {
        use super::matcher::Node;
        let mn = m.nodes();
        // Whether a node is an `and` (`or`) under an `and` (`or`): its
        // operands join its parent's list.
        let mut joins = vec![false; mn.len()];
        for n in mn {
            match n {
                Node::And(a, b) => {
                    for c in [*a, *b] {
                        joins[c] = matches!(mn[c], Node::And(..));
                    }
                }
                Node::Or(a, b) => {
                    for c in [*a, *b] {
                        joins[c] = matches!(mn[c], Node::Or(..));
                    }
                }
                _ => {}
            }
        }
        let mut nodes: Vec<ONode> = Vec::with_capacity(mn.len());
        // The cost class of a node: its dearest term's. (A sum would put
        // two cheap but selective terms after one cheap unselective term,
        // and ordering within a class is left as written: the writer's
        // order often says what rules most out.)
        let mut cost: Vec<u8> = Vec::with_capacity(mn.len());
        // Per matcher node: its optimized node, or the operand list it
        // hands to its parent.
        let mut built: Vec<usize> = vec![0; mn.len()];
        let mut pending: Vec<Vec<usize>> = (0..mn.len()).map(|_| Vec::new()).collect();
        for (i, n) in mn.iter().enumerate() {
            let (node, c) = match n {
                Node::Any => (ONode::True, 0),
                Node::Op(t) => match t {
                    Term::Anything | Term::Standard(Sub::All) | Term::GroupWanted(Sub::All) => {
                        (ONode::True, 0)
                    }
                    t => (ONode::Term(Box::new(t.clone())), t.cost()),
                },
                Node::Not(a) => (ONode::Not(built[*a]), cost[built[*a]]),
                Node::And(a, b) | Node::Or(a, b) => {
                    let mut list = Vec::new();
                    for c in [*a, *b] {
                        if joins[c] {
                            let mut sub = std::mem::take(&mut pending[c]);
                            list.append(&mut sub);
                        } else {
                            list.push(built[c]);
                        }
                    }
                    if joins[i] {
                        pending[i] = list;
                        continue;
                    }
                    list.sort_by_key(|&x| cost[x]);
                    let c = list.iter().map(|&x| cost[x]).max().unwrap_or(0);
                    if matches!(n, Node::And(..)) {
                        (ONode::And(list), c)
                    } else {
                        (ONode::Or(list), c)
                    }
                }
            };
            nodes.push(node);
            cost.push(c);
            built[i] = nodes.len() - 1;
        }
        Optimized {
            nodes,
            unstable: unstable(m),
        }
    }

    fn eval_root<C: MatchContext>(&self, ctx: &C, item: &Item<'_>) -> R<C::Error> {
        enum K {
            /// An `and` (`or`) node and the next operand to look at.
            And(usize, usize),
            Or(usize, usize),
            Not,
        }
        let Some(root) = self.nodes.len().checked_sub(1) else {
            return Ok(true);
        };
        let mut ks: Vec<K> = Vec::new();
        let mut n = root;
        loop {
            let mut v = loop {
                match &self.nodes[n] {
                    ONode::True => break true,
                    ONode::Term(t) => break eval_term(t, ctx, item)?,
                    ONode::Not(c) => {
                        ks.push(K::Not);
                        n = *c;
                    }
                    ONode::And(l) => match l.first() {
                        None => break true,
                        Some(&c) => {
                            ks.push(K::And(n, 1));
                            n = c;
                        }
                    },
                    ONode::Or(l) => match l.first() {
                        None => break false,
                        Some(&c) => {
                            ks.push(K::Or(n, 1));
                            n = c;
                        }
                    },
                }
            };
            loop {
                match ks.pop() {
                    None => return Ok(v),
                    Some(K::Not) => v = !v,
                    Some(K::And(p, i)) | Some(K::Or(p, i)) => {
                        let (list, and) = match &self.nodes[p] {
                            ONode::And(l) => (l, true),
                            ONode::Or(l) => (l, false),
                            _ => return Ok(v),
                        };
                        // An `and` goes on while true, an `or` while false.
                        if v == and
                            && let Some(&c) = list.get(i)
                        {
                            ks.push(if and {
                                K::And(p, i + 1)
                            } else {
                                K::Or(p, i + 1)
                            });
                            n = c;
                            break;
                        }
                    }
                }
            }
        }
    }

    /// Evaluates (see the type's documentation for how it differs from
    /// [`eval`]).
    pub fn eval<C: MatchContext>(&self, ctx: &C, item: &Item<'_>) -> R<C::Error> {
        if self.unstable {
            // Still evaluated by git-annex first (for data errors); the
            // answer is no.
            self.eval_root(ctx, item)?;
            return Ok(false);
        }
        self.eval_root(ctx, item)
    }
}
