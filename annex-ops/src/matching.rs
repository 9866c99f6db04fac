//! git-annex's matching options (`--include --exclude --in --copies
//! --lackingcopies --approxlackingcopies --largerthan --smallerthan
//! --inbackend --securehash --metadata --mimetype --mimeencoding
//! --want-get --want-drop --and --or
//! --not -( -)`) evaluated: [`MatchingOptions`] is the ordered list of
//! terms and operators as the user gave them (parsing a command line is
//! the caller's part), [`MatchingOptions::build`] turns it into one
//! expression evaluated by the preferred-content engine, and [`Filter`]
//! tests items with it against the repository's logs.
//!
//! As in git-annex, options side by side are joined by an implicit
//! `--and`, and `--and`/`--or` bind strictly left to right.
//!
//! ```no_run
//! use annex_ops::matching::{Filter, MatchingOpt, MatchingOptions};
//! use annex_ops::session::{OpenOptions, Session};
//! let (session, _) = Session::open(&OpenOptions::new(".".as_ref()))?;
//! let options = MatchingOptions {
//!     opts: vec![MatchingOpt::Term("largerthan", "1mb".into()), MatchingOpt::In("here".into())],
//! };
//! let filter = Filter::new(&session, &options)?;
//! let key = annex_core::key::Key::parse(b"SHA256E-s3000000--abc")?;
//! println!("{:?}", annex_ops::matching::file_passes(filter.as_ref(), b"big.iso", &key)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use annex_core::branch::BranchError;
use annex_core::key::Key;
use annex_core::preferred::eval::{MatchContext, eval_term};
use annex_core::preferred::term::parse_term;
use annex_core::preferred::{EvalError, Expr, Item, Matcher, Mode, StateContext, Term, Token};
use annex_core::uuid::Uuid;

use crate::annex::preferred_matcher;
use crate::session::Session;

/// Why matching options cannot be built or evaluated; the messages are
/// git-annex's.
#[derive(Debug, thiserror::Error)]
pub enum MatchingError {
    /// A term's value is not valid (`bad number for copies`, `bad size`,
    /// ...).
    #[error("{0}")]
    BadValue(String),
    /// `--in=REPO@{date}`: matching a past date.
    #[error("--in={0}: matching a past date is not supported by git-annex-rs yet")]
    PastDate(String),
    /// A repository name that is not here, a remote, a UUID or a
    /// description.
    #[error("there is no available git remote named \"{0}\"")]
    NoSuchRepository(String),
    /// Options that look at file names, for keys without files in a bare
    /// repository.
    #[error("Cannot use options that match on file names in a bare repository.")]
    FileNamesInBare,
    /// Options that look at file names, for keys without files (`--all`,
    /// `--key`, ...).
    #[error(
        "Cannot use --all or --unused or --key or --incomplete with options that match on file names."
    )]
    FileNamesForKeys,
    /// The `git-annex` branch could not be read.
    #[error(transparent)]
    Branch(#[from] BranchError),
    /// An item could not be evaluated (a glob git-annex cannot compile,
    /// data the item does not provide, a log that cannot be read).
    #[error("{0}")]
    Eval(String),
}

/// One matching option as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchingOpt {
    /// A term option: its name (`include`, `copies`, ...) and value.
    Term(&'static str, String),
    /// `--securehash`.
    SecureHash,
    /// `--in=REPO`.
    In(String),
    /// `--want-get`.
    WantGet,
    /// `--want-drop`.
    WantDrop,
    /// `--anything`: matches every file.
    Anything,
    /// `--nothing`: matches no file.
    Nothing,
    /// `--and`.
    And,
    /// `--or`.
    Or,
    /// `--not`.
    Not,
    /// `-(`.
    Open,
    /// `-)`.
    Close,
}

/// The matching options of a run, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchingOptions {
    /// The options, in command-line order.
    pub opts: Vec<MatchingOpt>,
}

/// A term of the matching expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchOp {
    /// A preferred-content term.
    Term(Term),
    /// `--in`: the repository, and whether it is this one (then the
    /// content itself is checked, not the location log).
    In(Uuid, bool),
    /// `--want-get`.
    WantGet,
    /// `--want-drop`.
    WantDrop,
}

/// The matching options as one expression.
#[derive(Debug, Clone)]
pub struct Matching {
    /// The expression.
    pub matcher: Matcher<MatchOp>,
}

impl MatchingOptions {
    /// Whether no matching option was given.
    pub fn is_empty(&self) -> bool {
        self.opts.is_empty()
    }

    /// Builds the expression. `resolve` turns an `--in` name (`here`, a
    /// remote name, a UUID or description) into a UUID (see
    /// [`resolve_repo`]); `here` is this repository. A bad value fails as
    /// git-annex does (`bad number for copies`, `bad size`, ...).
    pub fn build(
        &self,
        here: Option<&Uuid>,
        resolve: impl Fn(&str) -> Result<Uuid, MatchingError>,
    ) -> Result<Matching, MatchingError> {
        let mut tokens = Vec::with_capacity(self.opts.len());
        for o in &self.opts {
            tokens.push(match o {
                MatchingOpt::Term(name, value) => {
                    let mut t = name.as_bytes().to_vec();
                    t.push(b'=');
                    t.extend_from_slice(value.as_bytes());
                    // `--mimetype`/`--mimeencoding` are the largefiles
                    // terms (read from the content through libmagic).
                    let mode = match *name {
                        "mimetype" | "mimeencoding" => Mode::LargeFiles,
                        _ => Mode::Preferred,
                    };
                    let term = parse_term(&t, mode).map_err(MatchingError::BadValue)?;
                    Token::Operation(MatchOp::Term(term))
                }
                MatchingOpt::SecureHash => Token::Operation(MatchOp::Term(Term::SecureHash)),
                MatchingOpt::Anything => Token::Operation(MatchOp::Term(Term::Anything)),
                MatchingOpt::Nothing => Token::Operation(MatchOp::Term(Term::Nothing)),
                MatchingOpt::In(name) => {
                    if name.contains('@') {
                        return Err(MatchingError::PastDate(name.clone()));
                    }
                    let u = resolve(name)?;
                    let is_here = Some(&u) == here;
                    Token::Operation(MatchOp::In(u, is_here))
                }
                MatchingOpt::WantGet => Token::Operation(MatchOp::WantGet),
                MatchingOpt::WantDrop => Token::Operation(MatchOp::WantDrop),
                MatchingOpt::And => Token::And,
                MatchingOpt::Or => Token::Or,
                MatchingOpt::Not => Token::Not,
                MatchingOpt::Open => Token::Open,
                MatchingOpt::Close => Token::Close,
            });
        }
        Ok(Matching {
            matcher: annex_core::preferred::matcher::generate(tokens),
        })
    }
}

/// Resolves a repository name as `--in` (and `--want-get-by`) take it:
/// `here` or `.` is this repository, else a remote, a description or a
/// UUID of `uuid.log` (`annex_core::config::resolve_repository`).
/// Otherwise fails with git-annex's message.
pub fn resolve_repo(session: &Session, name: &str) -> Result<Uuid, MatchingError> {
    let descriptions = session.state.descriptions()?;
    annex_core::config::resolve_repository(
        name,
        Some(session.here()),
        &session.config,
        &descriptions,
    )
    .map_err(|_| MatchingError::NoSuchRepository(name.to_owned()))
}

fn key_of<'a, E>(item: &Item<'a>) -> Result<Option<&'a Key>, EvalError<E>> {
    match item.key {
        annex_core::preferred::Datum::Known(k) => Ok(Some(k)),
        annex_core::preferred::Datum::Absent => Ok(None),
        annex_core::preferred::Datum::Unprovided => {
            Err(EvalError::Missing(annex_core::preferred::DataKind::Key))
        }
    }
}

impl Matching {
    /// Evaluates for an item. `wanted` is this repository's preferred
    /// content matcher (`None` when not configured: `--want-get` then
    /// matches nothing and `--want-drop` everything, as in git-annex).
    pub fn matches<C: MatchContext>(
        &self,
        ctx: &C,
        item: &Item<'_>,
        wanted: Option<&Expr>,
    ) -> Result<bool, EvalError<C::Error>> {
        self.matcher.eval(&mut |op: &MatchOp| match op {
            MatchOp::Term(t) => eval_term(t, ctx, item),
            MatchOp::In(u, is_here) => {
                let Some(k) = key_of(item)? else {
                    return Ok(false);
                };
                if *is_here {
                    return ctx.has_content(k).map_err(EvalError::Context);
                }
                if item.not_present.contains(u) {
                    return Ok(false);
                }
                ctx.with_locations(k, |ls| ls.contains(u))
                    .map(|has| has && ctx.trust(u) != annex_core::logs::trust::TrustLevel::Dead)
                    .map_err(EvalError::Context)
            }
            MatchOp::WantGet => match wanted {
                None => Ok(false),
                Some(w) => w.matches(ctx, &item.for_repo(ctx.here())),
            },
            MatchOp::WantDrop => match (wanted, ctx.here()) {
                (Some(w), Some(h)) => {
                    let gone = [h.clone()];
                    let mut i = item.for_repo(Some(h));
                    i.not_present = &gone;
                    Ok(!w.matches(ctx, &i)?)
                }
                _ => Ok(true),
            },
        })
    }
}

/// The matching options of one run, ready to test items: the expression,
/// the repository's logs to answer it, and this repository's preferred
/// content (for `--want-get`/`--want-drop`).
pub struct Filter<'s> {
    matching: Matching,
    mctx: StateContext<'s>,
    wanted: Option<Expr>,
}

impl std::fmt::Debug for Filter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("matching", &self.matching)
            .finish_non_exhaustive()
    }
}

impl<'s> Filter<'s> {
    /// The filter of `options` in the repository of `session`; `None`
    /// when no matching option was given (everything matches).
    pub fn new(
        session: &'s Session,
        options: &MatchingOptions,
    ) -> Result<Option<Filter<'s>>, MatchingError> {
        if options.is_empty() {
            return Ok(None);
        }
        let here = session.here().clone();
        let mctx = StateContext::new(
            &session.state,
            Some(here.clone()),
            Some(session.store.clone()),
            &session.config,
        )?;
        let matching = options.build(Some(&here), |n| resolve_repo(session, n))?;
        let wanted = preferred_matcher(&session.state, &mctx, &here)?;
        Ok(Some(Filter {
            matching,
            mctx,
            wanted,
        }))
    }

    /// The expression.
    pub fn matching(&self) -> &Matching {
        &self.matching
    }

    /// Whether an item, as the preferred-content engine sees it, matches
    /// (its file as a path from the top of the work tree).
    pub fn matches(&self, item: &Item<'_>) -> Result<bool, MatchingError> {
        self.matching
            .matches(&self.mctx, item, self.wanted.as_ref())
            .map_err(|e| MatchingError::Eval(e.to_string()))
    }

    /// Whether an operation's item matches.
    pub fn matches_item(&self, item: &crate::item::Item) -> Result<bool, MatchingError> {
        self.matches(&item.matchable())
    }

    /// Whether a work-tree file (path from the top) with its key matches.
    pub fn matches_file(&self, top_path: &[u8], key: &Key) -> Result<bool, MatchingError> {
        self.matches(&Item::file(top_path, Some(key)))
    }

    /// Whether a key without a file (`--all`, `--key`) matches.
    pub fn matches_key(&self, key: &Key) -> Result<bool, MatchingError> {
        self.matches(&Item::key(key))
    }

    /// Whether an option looks at file names (`--include`, `--exclude`,
    /// and `--want-get`/`--want-drop` when this repository's preferred
    /// content does), as git-annex's `matchNeedsFileName`.
    pub fn needs_file_name(&self) -> bool {
        let wanted_needs = || {
            self.wanted
                .as_ref()
                .is_some_and(|w| w.matcher.any_op(&mut |t: &Term| t.needs_file_name()))
        };
        self.matching.matcher.any_op(&mut |op: &MatchOp| match op {
            MatchOp::Term(t) => t.needs_file_name(),
            MatchOp::In(..) => false,
            MatchOp::WantGet | MatchOp::WantDrop => wanted_needs(),
        })
    }

    /// Fails as git-annex does when keys without files (`--all`, `--key`,
    /// ...) are to be matched by options that look at file names.
    pub fn refuse_for_keys(&self, bare: bool) -> Result<(), MatchingError> {
        if !self.needs_file_name() {
            return Ok(());
        }
        Err(if bare {
            MatchingError::FileNamesInBare
        } else {
            MatchingError::FileNamesForKeys
        })
    }
}

/// Whether `filter` (when there is one) lets a work-tree file through.
pub fn file_passes(
    filter: Option<&Filter<'_>>,
    top_path: &[u8],
    key: &Key,
) -> Result<bool, MatchingError> {
    filter.map_or(Ok(true), |f| f.matches_file(top_path, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use annex_core::preferred::MemoryContext;

    fn opts(opts: Vec<MatchingOpt>) -> MatchingOptions {
        MatchingOptions { opts }
    }

    fn no_remotes(_: &str) -> Result<Uuid, MatchingError> {
        Err(MatchingError::NoSuchRepository("no remotes".into()))
    }

    #[test]
    fn same_expression_as_the_preferred_content_syntax() {
        let m = opts(vec![
            MatchingOpt::Term("include", "*.mp3".into()),
            MatchingOpt::Or,
            MatchingOpt::Open,
            MatchingOpt::Not,
            MatchingOpt::Term("largerthan", "1mb".into()),
            MatchingOpt::Close,
        ]);
        let built = m.build(None, no_remotes).unwrap_or_else(|e| panic!("{e}"));
        let expr = annex_core::preferred::parse(b"include=*.mp3 or ( not largerthan=1mb )")
            .unwrap_or_else(|e| panic!("{e}"));
        let mapped = built.matcher.clone().map(&mut |op| match op {
            MatchOp::Term(t) => t,
            _ => Term::Nothing,
        });
        assert_eq!(mapped, expr.matcher);
        let ctx = MemoryContext::default();
        let key = Key::parse(b"SHA256E-s2000000--x.ogg").unwrap_or_else(|e| panic!("{e}"));
        let item = Item::file(b"a.ogg", Some(&key));
        assert_eq!(built.matches(&ctx, &item, None), Ok(false));
        let small = Key::parse(b"SHA256E-s20--x.ogg").unwrap_or_else(|e| panic!("{e}"));
        let item = Item::file(b"a.ogg", Some(&small));
        assert_eq!(built.matches(&ctx, &item, None), Ok(true));
    }

    #[test]
    fn bad_values_fail_like_git_annex() {
        let m = opts(vec![MatchingOpt::Term("copies", "x".into())]);
        let e = m.build(None, no_remotes);
        assert_eq!(
            e.map(|_| ()).map_err(|e| e.to_string()),
            Err("bad number for copies".to_owned())
        );
    }

    #[test]
    fn resolves_here_and_remotes() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let st = std::process::Command::new("git")
            .args(["init", "-q"])
            .current_dir(dir.path())
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .status()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(st.success());
        let repo = annex_core::repo::Repo::init(dir.path(), Some("mine"))
            .unwrap_or_else(|e| panic!("{e}"));
        let here = repo.uuid().cloned();
        let (session, _) = Session::open(&crate::session::OpenOptions::new(dir.path()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(resolve_repo(&session, "here").ok(), here);
        assert_eq!(resolve_repo(&session, ".").ok(), here);
        assert_eq!(resolve_repo(&session, "mine").ok(), here);
        assert_eq!(
            resolve_repo(&session, "nosuch").map_err(|e| e.to_string()),
            Err("there is no available git remote named \"nosuch\"".to_owned())
        );
    }

    #[test]
    fn want_get_and_in() {
        let here = Uuid::parse(b"aaaa").unwrap_or_else(|e| panic!("{e}"));
        let other = Uuid::parse(b"bbbb").unwrap_or_else(|e| panic!("{e}"));
        let mut ctx = MemoryContext::default();
        ctx.here = Some(here.clone());
        let key = Key::parse(b"MD5-s1--k").unwrap_or_else(|e| panic!("{e}"));
        ctx.locations.insert(key.clone(), vec![other.clone()]);
        let m = opts(vec![MatchingOpt::In("r1".into()), MatchingOpt::WantGet]);
        let built = m
            .build(Some(&here), |_| Ok(other.clone()))
            .unwrap_or_else(|e| panic!("{e}"));
        let wanted = annex_core::preferred::parse(b"copies=1").unwrap_or_else(|e| panic!("{e}"));
        let item = Item::key(&key);
        assert_eq!(built.matches(&ctx, &item, Some(&wanted)), Ok(true));
        assert_eq!(built.matches(&ctx, &item, None), Ok(false));
        let drop = opts(vec![MatchingOpt::WantDrop])
            .build(Some(&here), |_| Ok(other.clone()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(drop.matches(&ctx, &item, Some(&wanted)), Ok(false));
        assert_eq!(drop.matches(&ctx, &item, None), Ok(true));
    }
}
