//! Preferred-content expressions: parsing, printing, evaluation, standard
//! groups, balanced choice, and `annex.largefiles`.
//!
//! An expression is a list of white-space separated tokens: terms
//! (`include=*.mp3`, `copies=backup:2`, `present`, ...), `and`, `or`,
//! `not`, `(` and `)`. git-annex combines them strictly left to right (no
//! precedence: `a or b and c` is `(a or b) and c`), with an implicit `and`
//! between terms side by side; see [`matcher`]. [`parse`] accepts what
//! `git annex wanted` accepts and gives the reference's message for what it
//! refuses; [`Expr::to_text`] prints an expression back.
//!
//! Evaluation asks a [`MatchContext`] (the repository's logs) about an
//! [`Item`] (a file and/or key): [`Expr::matches`] runs the reference's
//! left-to-right evaluation, [`Optimized`] a faster one giving the same
//! answers. [`StateContext`] reads a repository's logs through
//! [`State`](crate::state::State); [`MemoryContext`] holds them in memory.
//! [`repo_matcher`] expands `standard` and `groupwanted` for a repository
//! the way git-annex does; [`LargeFiles`] is the `annex.largefiles` API.
//!
//! ```
//! use annex_core::preferred::{self, Item, MemoryContext};
//! use annex_core::key::Key;
//! let e = preferred::parse(b"include=*.mp3 and (largerthan=1mb or copies=2)").unwrap();
//! assert_eq!(e.to_text(), "include=*.mp3 and ( largerthan=1mb or copies=2 )");
//! let ctx = MemoryContext::default();
//! let k = Key::parse(b"SHA256E-s2000000--x.mp3").unwrap();
//! let item = Item::file(b"music/x.mp3", Some(&k));
//! assert_eq!(e.matches(&ctx, &item), Ok(true));
//! let err = preferred::parse(b"include=*.mp3 bogus").unwrap_err();
//! assert_eq!(err.to_string(), "Parse failure: near \"bogus\"");
//! ```

pub mod balanced;
mod context;
pub mod eval;
pub mod glob;
mod largefiles;
pub mod matcher;
pub mod standard;
pub mod term;
pub mod text;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use context::{FastHasher, FastMap, FastSet, GlobalLogs, MemoryContext, StateContext};
pub use eval::{DataKind, Datum, EvalError, Item, MatchContext, Optimized};
pub use largefiles::{LargeFiles, LargeFilesError};
pub use matcher::{Matcher, Node, Token};
pub use term::{Mode, Sub, Term};

use crate::uuid::Uuid;

/// An expression that did not parse: the reference's message for each bad
/// token, in order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.errors.iter().map(|e| format!("Parse failure: {e}")).collect::<Vec<_>>().join(" "))]
pub struct ParseError {
    /// One message per bad token (`near "foo"`, `bad size`, ...).
    pub errors: Vec<String>,
}

impl ParseError {
    /// The messages joined without the `Parse failure:` prefixes (how
    /// git-annex words it when a logged expression fails to parse).
    pub fn plain(&self) -> String {
        self.errors.join(" ")
    }
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    /// Its tree.
    pub matcher: Matcher<Term>,
}

/// Parses a preferred content expression (what `wanted`, `required` and
/// `groupwanted` accept).
pub fn parse(expr: &[u8]) -> Result<Expr, ParseError> {
    Expr::parse(expr, Mode::Preferred)
}

impl Expr {
    /// Parses an expression of the given kind.
    pub fn parse(expr: &[u8], mode: Mode) -> Result<Expr, ParseError> {
        let mut errors = Vec::new();
        let mut tokens = Vec::new();
        for t in text::tokenize(expr) {
            match Token::syntax(&t) {
                Some(s) => tokens.push(s),
                None => match term::parse_term(&t, mode) {
                    Ok(term) => tokens.push(Token::Operation(term)),
                    Err(e) => errors.push(e),
                },
            }
        }
        if errors.is_empty() {
            Ok(Expr {
                matcher: matcher::generate(tokens),
            })
        } else {
            Err(ParseError { errors })
        }
    }

    /// Whether the expression has no term (git-annex treats it as not
    /// configured).
    pub fn is_empty(&self) -> bool {
        self.matcher.is_empty()
    }

    /// The expression as text that parses back to it. An operand that
    /// matches anything (a dangling `or`) prints as `anything`.
    pub fn to_text(&self) -> String {
        String::from_utf8_lossy(&self.to_bytes()).into_owned()
    }

    /// [`Expr::to_text`] as bytes (globs may hold any bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        // An explicit stack: expressions may nest as deep as memory allows.
        enum P {
            Node(usize),
            /// An operand: parenthesized when it is an `and`/`or`.
            Atomic(usize),
            Text(&'static [u8]),
        }
        let m = &self.matcher;
        let mut out = Vec::new();
        if m.is_empty() {
            return out;
        }
        let mut stack = vec![P::Node(m.root())];
        while let Some(p) = stack.pop() {
            match p {
                P::Text(t) => out.extend_from_slice(t),
                P::Atomic(n) => match m.node(n) {
                    Node::And(..) | Node::Or(..) => {
                        stack.push(P::Text(b" )"));
                        stack.push(P::Node(n));
                        stack.push(P::Text(b"( "));
                    }
                    _ => stack.push(P::Node(n)),
                },
                P::Node(n) => match m.node(n) {
                    Node::Any => out.extend_from_slice(b"anything"),
                    Node::Op(t) => out.extend_from_slice(&t.to_token()),
                    Node::Not(a) => {
                        stack.push(P::Atomic(*a));
                        stack.push(P::Text(b"not "));
                    }
                    Node::And(a, b) | Node::Or(a, b) => {
                        stack.push(P::Atomic(*b));
                        stack.push(P::Text(if matches!(m.node(n), Node::And(..)) {
                            b" and "
                        } else {
                            b" or "
                        }));
                        stack.push(P::Node(*a));
                    }
                },
            }
        }
        out
    }

    /// Evaluates the expression left to right as git-annex does (an
    /// expression negating `present` or `balanced=` never matches).
    pub fn matches<C: MatchContext>(
        &self,
        ctx: &C,
        item: &Item<'_>,
    ) -> Result<bool, EvalError<C::Error>> {
        eval::eval(&self.matcher, ctx, item)
    }

    /// The expression prepared for fast evaluation.
    pub fn optimized(&self) -> Optimized {
        Optimized::new(&self.matcher)
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// The matcher git-annex uses for a repository whose logged expression does
/// not parse: it wants only what it has (`present`).
pub fn unknown_matcher() -> Expr {
    Expr {
        matcher: Matcher::op(Term::Present),
    }
}

/// Builds a repository's preferred (or required) content matcher the way
/// git-annex does: `standard` becomes the expression of the repository's one
/// standard group, `groupwanted` the one `groupwanted` expression among its
/// groups (inside which `standard` still expands), and either becomes
/// `present` when there is no such group or expression (or inside a
/// standard expression). Errors when any part fails to parse; git-annex then
/// falls back to [`unknown_matcher`] (see [`preferred_content_matcher`]).
pub fn repo_matcher(
    expr: &[u8],
    repo_groups: &BTreeSet<Vec<u8>>,
    group_wanted: &BTreeMap<Vec<u8>, Vec<u8>>,
) -> Result<Expr, ParseError> {
    fn go(
        expr: &[u8],
        expand_standard: bool,
        expand_groupwanted: bool,
        groups: &BTreeSet<Vec<u8>>,
        gw: &BTreeMap<Vec<u8>, Vec<u8>>,
    ) -> Result<Matcher<Term>, ParseError> {
        let mut errors = Vec::new();
        let mut tokens = Vec::new();
        let unknown = || Sub::Expr(Box::new(Matcher::op(Term::Present)));
        for t in text::tokenize(expr) {
            if let Some(s) = Token::syntax(&t) {
                tokens.push(s);
                continue;
            }
            match term::parse_term(&t, Mode::Preferred) {
                Ok(Term::Standard(_)) => {
                    let sub = match standard::standard_group_of(groups) {
                        Some(g) if expand_standard => {
                            match go(g.expression().as_bytes(), false, false, groups, gw) {
                                Ok(m) => Sub::Expr(Box::new(m)),
                                Err(e) => {
                                    errors.push(e.plain());
                                    continue;
                                }
                            }
                        }
                        _ => unknown(),
                    };
                    tokens.push(Token::Operation(Term::Standard(sub)));
                }
                Ok(Term::GroupWanted(_)) => {
                    let mine: Vec<&Vec<u8>> = gw
                        .iter()
                        .filter(|(g, _)| groups.contains(*g))
                        .map(|(_, e)| e)
                        .collect();
                    let sub = match mine.as_slice() {
                        [e] if expand_groupwanted => match go(e, true, false, groups, gw) {
                            Ok(m) => Sub::Expr(Box::new(m)),
                            Err(e) => {
                                errors.push(e.plain());
                                continue;
                            }
                        },
                        _ => unknown(),
                    };
                    tokens.push(Token::Operation(Term::GroupWanted(sub)));
                }
                Ok(term) => tokens.push(Token::Operation(term)),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(matcher::generate(tokens))
        } else {
            Err(ParseError { errors })
        }
    }
    go(expr, true, true, repo_groups, group_wanted).map(|matcher| Expr { matcher })
}

/// A repository's preferred content matcher from its logged preferred and
/// required content expressions (required content is also preferred: the
/// two are or-ed), falling back to `present` for one that fails to parse.
/// `None` when neither is set or the result has no term (git-annex then
/// treats preferred content as not configured).
pub fn preferred_content_matcher(
    preferred: Option<&[u8]>,
    required: Option<&[u8]>,
    repo_groups: &BTreeSet<Vec<u8>>,
    group_wanted: &BTreeMap<Vec<u8>, Vec<u8>>,
) -> Option<Expr> {
    let mk = |e: &[u8]| repo_matcher(e, repo_groups, group_wanted);
    let e = match (preferred.map(mk), required.map(mk)) {
        (None, None) => return None,
        (Some(Ok(a)), None) | (None, Some(Ok(a))) => a,
        (Some(Err(_)), _) | (_, Some(Err(_))) => unknown_matcher(),
        (Some(Ok(a)), Some(Ok(b))) => Expr {
            matcher: Matcher::combine(a.matcher, b.matcher),
        },
    };
    (!e.is_empty()).then_some(e)
}

/// Looks up a UUID in a map of trust levels, defaulting to semitrusted.
pub(crate) fn trust_of(
    m: &FastMap<Uuid, crate::logs::trust::TrustLevel>,
    u: &Uuid,
) -> crate::logs::trust::TrustLevel {
    m.get(u)
        .copied()
        .unwrap_or(crate::logs::trust::TrustLevel::SemiTrusted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Key;

    /// Expressions nested `n` deep, each with whether `include=*.mp3`
    /// matching makes it match.
    fn deep(n: usize) -> Vec<(String, bool)> {
        vec![
            ("not ".repeat(n) + "include=*.mp3", n.is_multiple_of(2)),
            ("not ".repeat(n + 1) + "include=*.mp3", !n.is_multiple_of(2)),
            ("( ".repeat(n) + "include=*.mp3" + &" )".repeat(n), true),
            ("( ".repeat(n) + "include=*.mp3", true),
            (
                "( not ".repeat(n) + "include=*.mp3" + &" )".repeat(n),
                n.is_multiple_of(2),
            ),
            ("include=*.ogg or ".repeat(n) + "include=*.mp3", true),
            ("and ".repeat(n) + "include=*.mp3", true),
            (
                "( include=*.ogg or ".repeat(n) + "include=*.mp3" + &" )".repeat(n),
                true,
            ),
        ]
    }

    /// Regression (issue 21): a preferred content expression nested 10,000
    /// deep (which git-annex accepts and evaluates) overflowed our stack
    /// when parsed, evaluated, printed or dropped. Nested 100,000 deep, it
    /// now parses, evaluates (plainly and optimized), prints back to an
    /// expression that parses to the same tree, and drops.
    #[test]
    fn preferred_content_nested_10000_deep_evaluates() {
        let ctx = MemoryContext::default();
        let key = Key::parse(b"SHA256E-s1--x.mp3").expect("key");
        let mp3 = Item::file(b"a/x.mp3", Some(&key));
        for (text, want) in deep(100_000) {
            let e = parse(text.as_bytes()).expect("parses");
            assert_eq!(e.matches(&ctx, &mp3), Ok(want), "{}", &text[..40]);
            assert_eq!(e.optimized().eval(&ctx, &mp3), Ok(want), "{}", &text[..40]);
            let printed = e.to_bytes();
            let again = parse(&printed).expect("printed parses");
            assert_eq!(again, e, "{}", &text[..40]);
            let (r, explained) =
                eval::eval_explained(&e.matcher, &ctx, &mp3, "x").expect("explains");
            assert_eq!(r, want);
            assert!(explained.is_some());
        }
    }

    /// The same for `annex.largefiles` (which `add` evaluates per file).
    #[test]
    fn largefiles_nested_100000_deep_evaluates() {
        for (text, want) in deep(100_000) {
            let text = text.replace("include=*.mp3", "largerthan=10");
            let lf = LargeFiles::parse(text.as_bytes()).expect("parses");
            assert_eq!(lf.is_large(b"big", 1000), want, "{}", &text[..40]);
        }
    }

    /// `standard` and `groupwanted` expand inside a deep expression, and a
    /// deep `groupwanted` expression expands too.
    #[test]
    fn groupwanted_nested_100000_deep_expands() {
        let groups: BTreeSet<Vec<u8>> = [b"g".to_vec()].into_iter().collect();
        for (text, want) in deep(100_000) {
            let gw: BTreeMap<Vec<u8>, Vec<u8>> = [(b"g".to_vec(), text.clone().into_bytes())]
                .into_iter()
                .collect();
            let e = repo_matcher(b"not not groupwanted", &groups, &gw).expect("expands");
            let ctx = MemoryContext::default();
            let key = Key::parse(b"SHA256E-s1--x.mp3").expect("key");
            let mp3 = Item::file(b"a/x.mp3", Some(&key));
            assert_eq!(e.matches(&ctx, &mp3), Ok(want), "{}", &text[..40]);
        }
    }
}
