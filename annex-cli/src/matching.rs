//! git-annex's matching options as one reusable clap piece:
//! `#[command(flatten)] matching: MatchingArgs` in a command's arguments
//! gives it `--include --exclude --in --copies --lackingcopies
//! --approxlackingcopies --largerthan --smallerthan --inbackend --securehash
//! --metadata --want-get --want-drop --and --or --not -( -)`, kept in their
//! command-line order, and [`MatchingArgs::build`] turns them into one
//! expression evaluated by the preferred-content engine.
//!
//! As in git-annex, options side by side are joined by an implicit
//! `--and`, and `--and`/`--or` bind strictly left to right.

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

use annex_core::key::Key;
use annex_core::preferred::eval::{MatchContext, eval_term};
use annex_core::preferred::term::parse_term;
use annex_core::preferred::{EvalError, Expr, Item, Matcher, Mode, Term, Token};
use annex_core::repo::Repo;
use annex_core::state::State;
use annex_core::uuid::Uuid;

use crate::error::CommandError;

/// Resolves a repository name as `--in` (and `--want-get-by`) take it,
/// with the one resolver of every command
/// ([`annex_core::config::resolve_repository`], git-annex's order).
pub fn resolve_repo(repo: &Repo, state: &State, name: &str) -> Result<Uuid, CommandError> {
    let config = gix::open(repo.git_dir())
        .ok()
        .and_then(|r| annex_core::config::AnnexConfig::from_repo(&r, &[]).ok())
        .unwrap_or_default();
    Ok(annex_core::config::resolve_repository(
        name,
        repo.uuid(),
        &config,
        &state.descriptions()?,
    )?)
}

/// A repository's preferred content matcher (preferred or required
/// content, `standard` and `groupwanted` expanded, as git-annex builds it);
/// `None` when not configured.
pub fn preferred_of(
    state: &State,
    mctx: &annex_core::preferred::StateContext<'_>,
    u: &Uuid,
) -> Result<Option<Expr>, CommandError> {
    let preferred = state.preferred_content()?;
    let required = state.required_content()?;
    let group_wanted = state.group_preferred_content()?;
    let no_groups = std::collections::BTreeSet::new();
    let groups = mctx.groups().get(u).unwrap_or(&no_groups);
    Ok(annex_core::preferred::preferred_content_matcher(
        preferred.get(u).map(|v| v.as_slice()),
        required.get(u).map(|v| v.as_slice()),
        groups,
        &group_wanted,
    ))
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

/// The matching options of a command line, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchingArgs {
    /// The options, in command-line order.
    pub opts: Vec<MatchingOpt>,
}

/// Options that take a value and become a term of the same name.
/// Options that take a value and become a term of the same name (with
/// git-annex's short names).
const VALUE_TERMS: &[(&str, Option<char>, &str)] = &[
    (
        "include",
        Some('I'),
        "Match files whose path matches the glob",
    ),
    (
        "exclude",
        Some('x'),
        "Skip files whose path matches the glob",
    ),
    (
        "copies",
        Some('C'),
        "Match files with at least this many copies ([TRUST|GROUP:]N)",
    ),
    (
        "lackingcopies",
        None,
        "Match files that need this many more copies",
    ),
    (
        "approxlackingcopies",
        None,
        "Like --lackingcopies, ignoring .gitattributes",
    ),
    ("largerthan", None, "Match files larger than the size"),
    ("smallerthan", None, "Match files smaller than the size"),
    (
        "inbackend",
        Some('B'),
        "Match files using the key-value backend",
    ),
    (
        "metadata",
        None,
        "Match files with metadata: field=glob, field<N, ...",
    ),
];

/// Flag options, by id, long or short name, and help.
const FLAGS: &[(&str, Option<&str>, Option<char>, &str)] = &[
    (
        "securehash",
        Some("securehash"),
        None,
        "Match files using a secure hash",
    ),
    (
        "want-get",
        Some("want-get"),
        None,
        "Match files the repository wants to get",
    ),
    (
        "want-drop",
        Some("want-drop"),
        None,
        "Match files the repository wants to drop",
    ),
    (
        "and",
        Some("and"),
        None,
        "Both the previous and the next option must match",
    ),
    (
        "or",
        Some("or"),
        None,
        "Either the previous or the next option must match",
    ),
    ("not", Some("not"), None, "Invert the next option"),
    ("open", None, Some('('), "Open a group of options"),
    ("close", None, Some(')'), "Close a group of options"),
];

impl Args for MatchingArgs {
    fn augment_args(mut cmd: Command) -> Command {
        for (name, short, help) in VALUE_TERMS {
            let mut a = Arg::new(*name)
                .long(*name)
                .value_name("VALUE")
                .action(ArgAction::Append)
                .allow_hyphen_values(true)
                .help(*help);
            if let Some(s) = short {
                a = a.short(*s);
            }
            cmd = cmd.arg(a);
        }
        cmd = cmd.arg(
            Arg::new("in")
                .long("in")
                .short('i')
                .value_name("REPOSITORY")
                .action(ArgAction::Append)
                .help("Match files present in the repository"),
        );
        for (id, long, short, help) in FLAGS {
            let mut a = Arg::new(*id)
                .action(ArgAction::Append)
                .num_args(0)
                .default_missing_value("true")
                .value_parser(clap::value_parser!(bool))
                .help(*help);
            if let Some(l) = long {
                a = a.long(*l);
            }
            if let Some(s) = short {
                a = a.short(*s);
            }
            cmd = cmd.arg(a);
        }
        cmd
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for MatchingArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut found: Vec<(usize, MatchingOpt)> = Vec::new();
        let mut values = |id: &'static str, mk: &dyn Fn(String) -> MatchingOpt| {
            if let (Some(idx), Some(vals)) = (m.indices_of(id), m.get_many::<String>(id)) {
                for (i, v) in idx.zip(vals) {
                    found.push((i, mk(v.clone())));
                }
            }
        };
        for (name, ..) in VALUE_TERMS {
            values(name, &|v| MatchingOpt::Term(name, v));
        }
        values("in", &MatchingOpt::In);
        for (id, ..) in FLAGS {
            if let Some(idx) = m.indices_of(id) {
                for i in idx {
                    let opt = match *id {
                        "securehash" => MatchingOpt::SecureHash,
                        "want-get" => MatchingOpt::WantGet,
                        "want-drop" => MatchingOpt::WantDrop,
                        "and" => MatchingOpt::And,
                        "or" => MatchingOpt::Or,
                        "not" => MatchingOpt::Not,
                        "open" => MatchingOpt::Open,
                        _ => MatchingOpt::Close,
                    };
                    found.push((i, opt));
                }
            }
        }
        found.sort_by_key(|(i, _)| *i);
        Ok(MatchingArgs {
            opts: found.into_iter().map(|(_, o)| o).collect(),
        })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

/// A term of the command-line expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliOp {
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
    pub matcher: Matcher<CliOp>,
}

impl MatchingArgs {
    /// Whether no matching option was given.
    pub fn is_empty(&self) -> bool {
        self.opts.is_empty()
    }

    /// Builds the expression. `resolve` turns an `--in` name (`here`, a
    /// remote name, a UUID or description) into a UUID; `here` is this
    /// repository. A bad value fails as git-annex does (`bad number for
    /// copies`, `bad size`, ...).
    pub fn build(
        &self,
        here: Option<&Uuid>,
        resolve: impl Fn(&str) -> Result<Uuid, CommandError>,
    ) -> Result<Matching, CommandError> {
        let mut tokens = Vec::with_capacity(self.opts.len());
        for o in &self.opts {
            tokens.push(match o {
                MatchingOpt::Term(name, value) => {
                    let mut t = name.as_bytes().to_vec();
                    t.push(b'=');
                    t.extend_from_slice(value.as_bytes());
                    let term = parse_term(&t, Mode::Preferred).map_err(CommandError::failed)?;
                    Token::Operation(CliOp::Term(term))
                }
                MatchingOpt::SecureHash => Token::Operation(CliOp::Term(Term::SecureHash)),
                MatchingOpt::In(name) => {
                    if name.contains('@') {
                        return Err(CommandError::failed(format!(
                            "--in={name}: matching a past date is not supported by git-annex-rs yet"
                        )));
                    }
                    let u = resolve(name)?;
                    let is_here = Some(&u) == here;
                    Token::Operation(CliOp::In(u, is_here))
                }
                MatchingOpt::WantGet => Token::Operation(CliOp::WantGet),
                MatchingOpt::WantDrop => Token::Operation(CliOp::WantDrop),
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
        self.matcher.eval(&mut |op: &CliOp| match op {
            CliOp::Term(t) => eval_term(t, ctx, item),
            CliOp::In(u, is_here) => {
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
            CliOp::WantGet => match wanted {
                None => Ok(false),
                Some(w) => w.matches(ctx, &item.for_repo(ctx.here())),
            },
            CliOp::WantDrop => match (wanted, ctx.here()) {
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
    mctx: annex_core::preferred::StateContext<'s>,
    wanted: Option<Expr>,
}

impl<'s> Filter<'s> {
    /// The filter of `args` in the repository of `ctx`; `None` when no
    /// matching option was given (everything matches).
    pub fn new(
        ctx: &'s crate::context::Ctx,
        args: &MatchingArgs,
    ) -> Result<Option<Filter<'s>>, CommandError> {
        if args.is_empty() {
            return Ok(None);
        }
        let here = ctx.here().clone();
        let mctx = annex_core::preferred::StateContext::new(
            &ctx.state,
            Some(here.clone()),
            Some(ctx.store.clone()),
            &ctx.config,
        )?;
        let matching = args.build(Some(&here), |n| resolve_repo(&ctx.repo, &ctx.state, n))?;
        let wanted = preferred_of(&ctx.state, &mctx, &here)?;
        Ok(Some(Filter {
            matching,
            mctx,
            wanted,
        }))
    }

    /// Whether an item matches (its file as a path from the top of the
    /// work tree).
    pub fn matches(&self, item: &Item<'_>) -> Result<bool, CommandError> {
        self.matching
            .matches(&self.mctx, item, self.wanted.as_ref())
            .map_err(|e| CommandError::failed(e.to_string()))
    }

    /// Whether a work-tree file (path from the top) with its key matches.
    pub fn matches_file(&self, top_path: &[u8], key: &Key) -> Result<bool, CommandError> {
        self.matches(&Item::file(top_path, Some(key)))
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
        self.matching.matcher.any_op(&mut |op: &CliOp| match op {
            CliOp::Term(t) => t.needs_file_name(),
            CliOp::In(..) => false,
            CliOp::WantGet | CliOp::WantDrop => wanted_needs(),
        })
    }

    /// Fails as git-annex does when keys without files (`--all`, `--key`,
    /// ...) are to be matched by options that look at file names.
    pub fn refuse_for_keys(&self, bare: bool) -> Result<(), CommandError> {
        if !self.needs_file_name() {
            return Ok(());
        }
        Err(CommandError::failed(if bare {
            "Cannot use options that match on file names in a bare repository."
        } else {
            "Cannot use --all or --unused or --key or --incomplete with options that match on file names."
        }))
    }

    /// Whether a key without a file (`--all`, `--key`) matches.
    pub fn matches_key(&self, key: &Key) -> Result<bool, CommandError> {
        self.matches(&Item::key(key))
    }
}

/// Whether `filter` (when there is one) lets a work-tree file through.
pub fn file_passes(
    filter: Option<&Filter<'_>>,
    top_path: &[u8],
    key: &Key,
) -> Result<bool, CommandError> {
    filter.map_or(Ok(true), |f| f.matches_file(top_path, key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use annex_core::preferred::MemoryContext;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        matching: MatchingArgs,
        files: Vec<String>,
    }

    fn parse(args: &[&str]) -> MatchingArgs {
        let mut v = vec!["prog"];
        v.extend_from_slice(args);
        match Cli::try_parse_from(v) {
            Ok(c) => c.matching,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn keeps_command_line_order() {
        let m = parse(&[
            "--include=*.mp3",
            "--or",
            "-(",
            "--not",
            "--largerthan",
            "1mb",
            "--exclude=b*",
            "-)",
            "--securehash",
            "file",
        ]);
        assert_eq!(
            m.opts,
            vec![
                MatchingOpt::Term("include", "*.mp3".into()),
                MatchingOpt::Or,
                MatchingOpt::Open,
                MatchingOpt::Not,
                MatchingOpt::Term("largerthan", "1mb".into()),
                MatchingOpt::Term("exclude", "b*".into()),
                MatchingOpt::Close,
                MatchingOpt::SecureHash,
            ]
        );
    }

    #[test]
    fn same_expression_as_the_preferred_content_syntax() {
        let m = parse(&[
            "--include=*.mp3",
            "--or",
            "-(",
            "--not",
            "--largerthan=1mb",
            "-)",
        ]);
        let built = m
            .build(None, |_| Err(CommandError::failed("no remotes")))
            .unwrap_or_else(|e| panic!("{e}"));
        let expr = annex_core::preferred::parse(b"include=*.mp3 or ( not largerthan=1mb )")
            .unwrap_or_else(|e| panic!("{e}"));
        let mapped = built.matcher.clone().map(&mut |op| match op {
            CliOp::Term(t) => t,
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
        let m = parse(&["--copies=x"]);
        let e = m.build(None, |_| Err(CommandError::failed("no remotes")));
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
        let repo = Repo::init(dir.path(), Some("mine")).unwrap_or_else(|e| panic!("{e}"));
        let state = State::new(repo.branch().unwrap_or_else(|e| panic!("{e}")));
        let here = repo.uuid().cloned();
        assert_eq!(resolve_repo(&repo, &state, "here").ok(), here);
        assert_eq!(resolve_repo(&repo, &state, ".").ok(), here);
        assert_eq!(resolve_repo(&repo, &state, "mine").ok(), here);
        assert_eq!(
            resolve_repo(&repo, &state, "nosuch").map_err(|e| e.to_string()),
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
        let m = parse(&["--in=r1", "--want-get"]);
        let built = m
            .build(Some(&here), |_| Ok(other.clone()))
            .unwrap_or_else(|e| panic!("{e}"));
        let wanted = annex_core::preferred::parse(b"copies=1").unwrap_or_else(|e| panic!("{e}"));
        let item = Item::key(&key);
        assert_eq!(built.matches(&ctx, &item, Some(&wanted)), Ok(true));
        assert_eq!(built.matches(&ctx, &item, None), Ok(false));
        let drop = parse(&["--want-drop"])
            .build(Some(&here), |_| Ok(other.clone()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(drop.matches(&ctx, &item, Some(&wanted)), Ok(false));
        assert_eq!(drop.matches(&ctx, &item, None), Ok(true));
    }
}
