//! The generic boolean matcher git-annex builds from a token list.
//!
//! git-annex has no operator precedence: `and` and `or` combine strictly
//! from left to right (`a or b and c` is `(a or b) and c`), `not` applies to
//! the one term or parenthesized group after it, two terms (or groups) side
//! by side are joined by an implicit `and`, and unbalanced parentheses are
//! forgiven (a missing `)` closes at the end, an extra `)` is ignored). A
//! dangling `and`/`or`/`not` takes an empty operand, which matches anything.
//! [`generate`] reproduces the reference's tree exactly, including its
//! one-pass simplification, so evaluation order (and so which data a term
//! asks for) is the same.

/// One token of an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token<Op> {
    /// A term.
    Operation(Op),
    /// `and`.
    And,
    /// `or`.
    Or,
    /// `not`.
    Not,
    /// `(`.
    Open,
    /// `)`.
    Close,
}

impl<Op> Token<Op> {
    /// The syntax token a word is, if it is one (`and`, `or`, `not`, `(`, `)`).
    pub fn syntax(word: &[u8]) -> Option<Token<Op>> {
        match word {
            b"and" => Some(Token::And),
            b"or" => Some(Token::Or),
            b"not" => Some(Token::Not),
            b"(" => Some(Token::Open),
            b")" => Some(Token::Close),
            _ => None,
        }
    }
}

/// A boolean tree of terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher<Op> {
    /// Matches anything (the empty expression, or an empty operand).
    Any,
    /// Both (the left one first).
    And(Box<Matcher<Op>>, Box<Matcher<Op>>),
    /// Either (the left one first).
    Or(Box<Matcher<Op>>, Box<Matcher<Op>>),
    /// Negation.
    Not(Box<Matcher<Op>>),
    /// A term.
    Op(Op),
}

enum Group<Op> {
    One(Token<Op>),
    Many(Vec<Group<Op>>),
}

/// Builds the matcher of a token list, as git-annex does.
pub fn generate<Op>(tokens: Vec<Token<Op>>) -> Matcher<Op> {
    let groups = implicit_and(token_groups(&mut tokens.into_iter(), false));
    simplify(process(Matcher::Any, &mut groups.into_iter()))
}

fn token_groups<Op>(it: &mut std::vec::IntoIter<Token<Op>>, inner: bool) -> Vec<Group<Op>> {
    let mut out = Vec::new();
    while let Some(t) = it.next() {
        match t {
            Token::Open => {
                // The reference adds implicit `and`s only at the top
                // level; inside parentheses a nested group continues the
                // group's expression instead.
                out.push(Group::Many(token_groups(it, true)));
            }
            Token::Close => {
                if inner {
                    return out;
                }
            }
            t => out.push(Group::One(t)),
        }
    }
    out
}

fn implicit_and<Op>(groups: Vec<Group<Op>>) -> Vec<Group<Op>> {
    let need = |g: &Group<Op>| matches!(g, Group::One(Token::Operation(_)) | Group::Many(_));
    let mut out: Vec<Group<Op>> = Vec::with_capacity(groups.len());
    for g in groups {
        if let Some(prev) = out.last()
            && need(prev)
            && need(&g)
        {
            out.push(Group::One(Token::And));
        }
        out.push(g);
    }
    out
}

type Groups<Op> = std::iter::Peekable<std::vec::IntoIter<Group<Op>>>;

fn process<Op>(mut m: Matcher<Op>, ts: &mut std::vec::IntoIter<Group<Op>>) -> Matcher<Op> {
    let mut ts: Groups<Op> = std::mem::take(ts).peekable();
    while ts.peek().is_some() {
        m = consume(m, &mut ts);
    }
    m
}

fn and<Op>(a: Matcher<Op>, b: Matcher<Op>) -> Matcher<Op> {
    Matcher::And(Box::new(a), Box::new(b))
}

fn consume<Op>(m: Matcher<Op>, ts: &mut Groups<Op>) -> Matcher<Op> {
    loop {
        match ts.next() {
            None => return m,
            Some(Group::One(Token::And)) => return and(m, consume(Matcher::Any, ts)),
            Some(Group::One(Token::Or)) => {
                return Matcher::Or(Box::new(m), Box::new(consume(Matcher::Any, ts)));
            }
            Some(Group::One(Token::Not)) => {
                return and(m, Matcher::Not(Box::new(consume(Matcher::Any, ts))));
            }
            Some(Group::One(Token::Operation(o))) => return and(m, Matcher::Op(o)),
            Some(Group::Many(g)) => return process(m, &mut g.into_iter()),
            // Parentheses were grouped already; nothing else is left.
            Some(Group::One(_)) => continue,
        }
    }
}

fn simplify<Op>(m: Matcher<Op>) -> Matcher<Op> {
    match m {
        Matcher::And(a, b) => match (*a, *b) {
            (Matcher::Any, x) => simplify(x),
            (x, Matcher::Any) => simplify(x),
            (x, y) => and(simplify(x), simplify(y)),
        },
        Matcher::Or(a, b) => Matcher::Or(Box::new(simplify(*a)), Box::new(simplify(*b))),
        Matcher::Not(a) => Matcher::Not(Box::new(simplify(*a))),
        x => x,
    }
}

impl<Op> Matcher<Op> {
    /// Whether the matcher has no term at all (git-annex then treats the
    /// expression as not configured).
    pub fn is_empty(&self) -> bool {
        matches!(self, Matcher::Any)
    }

    /// Evaluates left to right with short-circuit, as git-annex does.
    pub fn eval<E>(&self, f: &mut impl FnMut(&Op) -> Result<bool, E>) -> Result<bool, E> {
        Ok(match self {
            Matcher::Any => true,
            Matcher::And(a, b) => a.eval(f)? && b.eval(f)?,
            Matcher::Or(a, b) => a.eval(f)? || b.eval(f)?,
            Matcher::Not(a) => !a.eval(f)?,
            Matcher::Op(o) => f(o)?,
        })
    }

    /// Whether any term satisfies `f`.
    pub fn any_op(&self, f: &mut impl FnMut(&Op) -> bool) -> bool {
        match self {
            Matcher::Any => false,
            Matcher::And(a, b) | Matcher::Or(a, b) => a.any_op(f) || b.any_op(f),
            Matcher::Not(a) => a.any_op(f),
            Matcher::Op(o) => f(o),
        }
    }

    /// The terms under an odd number of `not`s.
    pub fn negated_ops(&self) -> Vec<&Op> {
        fn go<'a, Op>(m: &'a Matcher<Op>, neg: bool, out: &mut Vec<&'a Op>) {
            match m {
                Matcher::Any => {}
                Matcher::And(a, b) | Matcher::Or(a, b) => {
                    go(a, neg, out);
                    go(b, neg, out);
                }
                Matcher::Not(a) => go(a, !neg, out),
                Matcher::Op(o) => {
                    if neg {
                        out.push(o)
                    }
                }
            }
        }
        let mut out = Vec::new();
        go(self, false, &mut out);
        out
    }

    /// Maps every term.
    pub fn map<B>(self, f: &mut impl FnMut(Op) -> B) -> Matcher<B> {
        match self {
            Matcher::Any => Matcher::Any,
            Matcher::And(a, b) => Matcher::And(Box::new(a.map(f)), Box::new(b.map(f))),
            Matcher::Or(a, b) => Matcher::Or(Box::new(a.map(f)), Box::new(b.map(f))),
            Matcher::Not(a) => Matcher::Not(Box::new(a.map(f))),
            Matcher::Op(o) => Matcher::Op(f(o)),
        }
    }

    /// Combines two matchers into one matching what either does; an empty
    /// one yields the other (how required content joins preferred content).
    pub fn combine(a: Matcher<Op>, b: Matcher<Op>) -> Matcher<Op> {
        if a.is_empty() {
            b
        } else if b.is_empty() {
            a
        } else {
            Matcher::Or(Box::new(a), Box::new(b))
        }
    }
}

/// One step of a traced evaluation (what `--explain` describes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Traced<'a, Op> {
    /// A term and its value.
    Op(bool, &'a Op),
    /// `and`.
    And,
    /// `or`.
    Or,
    /// `not`.
    Not,
    /// `(`.
    Open,
    /// `)`.
    Close,
}

impl<Op> Matcher<Op> {
    /// Evaluates like [`Matcher::eval`], recording the steps as git-annex
    /// does for `--explain`.
    pub fn eval_traced<'a, E>(
        &'a self,
        f: &mut impl FnMut(&Op) -> Result<bool, E>,
        trace: &mut Vec<Traced<'a, Op>>,
    ) -> Result<bool, E> {
        Ok(match self {
            Matcher::Any => true,
            Matcher::And(a, b) => {
                trace.push(Traced::Open);
                if a.eval_traced(f, trace)? {
                    trace.push(Traced::And);
                    let r = b.eval_traced(f, trace)?;
                    trace.push(Traced::Close);
                    r
                } else {
                    trace.push(Traced::Close);
                    false
                }
            }
            Matcher::Or(a, b) => {
                trace.push(Traced::Open);
                if a.eval_traced(f, trace)? {
                    trace.push(Traced::Close);
                    true
                } else {
                    trace.push(Traced::Or);
                    let r = b.eval_traced(f, trace)?;
                    trace.push(Traced::Close);
                    r
                }
            }
            Matcher::Not(a) => {
                trace.push(Traced::Open);
                trace.push(Traced::Not);
                let r = !a.eval_traced(f, trace)?;
                trace.push(Traced::Close);
                r
            }
            Matcher::Op(o) => {
                let r = f(o)?;
                trace.push(Traced::Op(r, o));
                r
            }
        })
    }
}

/// Describes a traced evaluation as git-annex's `--explain` does (`prefix`
/// then the steps, redundant parentheses removed); `None` when no step was
/// recorded.
pub fn describe<Op>(
    trace: &[Traced<'_, Op>],
    desc: impl Fn(&Op, bool) -> String,
    prefix: &str,
) -> Option<String> {
    if trace.is_empty() {
        return None;
    }
    let v: Vec<Traced<'_, Op>> = trace.iter().map(clone_traced).collect();
    let simplified = simplify_trace(v, true);
    let words: Vec<String> = simplified
        .iter()
        .map(|t| match t {
            Traced::Op(b, o) => desc(o, *b),
            Traced::And => "and".to_owned(),
            Traced::Or => "or".to_owned(),
            Traced::Not => "not".to_owned(),
            Traced::Open => "(".to_owned(),
            Traced::Close => ")".to_owned(),
        })
        .collect();
    Some(format!("{prefix}{}", words.join(" ")))
}

fn clone_traced<'a, Op>(t: &Traced<'a, Op>) -> Traced<'a, Op> {
    match t {
        Traced::Op(b, o) => Traced::Op(*b, *o),
        Traced::And => Traced::And,
        Traced::Or => Traced::Or,
        Traced::Not => Traced::Not,
        Traced::Open => Traced::Open,
        Traced::Close => Traced::Close,
    }
}

fn simplify_trace<Op>(mut l: Vec<Traced<'_, Op>>, first: bool) -> Vec<Traced<'_, Op>> {
    use Traced as T;
    let is_op = |t: &T<'_, Op>| matches!(t, T::Op(..));
    let mut out = Vec::with_capacity(l.len());
    let mut i = 0;
    if first && matches!(l.first(), Some(T::Open)) {
        l.remove(0);
        if matches!(l.last(), Some(T::Close)) {
            l.pop();
        }
    }
    let l = l;
    while i < l.len() {
        let at = |k: usize| l.get(i + k);
        // (foo or bar) or baz => foo or bar or baz, same for and.
        if matches!(at(0), Some(T::Open))
            && at(1).is_some_and(is_op)
            && at(3).is_some_and(is_op)
            && matches!(at(4), Some(T::Close))
            && ((matches!(at(2), Some(T::Or)) && matches!(at(5), Some(T::Or)))
                || (matches!(at(2), Some(T::And)) && matches!(at(5), Some(T::And))))
        {
            out.push(clone_traced(&l[i + 1]));
            out.push(clone_traced(&l[i + 2]));
            out.push(clone_traced(&l[i + 3]));
            out.push(clone_traced(&l[i + 5]));
            i += 6;
            continue;
        }
        // or (foo) => or foo; and (foo) => and foo
        if matches!(at(0), Some(T::Or | T::And))
            && matches!(at(1), Some(T::Open))
            && at(2).is_some_and(is_op)
            && matches!(at(3), Some(T::Close))
        {
            out.push(clone_traced(&l[i]));
            out.push(clone_traced(&l[i + 2]));
            i += 4;
            continue;
        }
        // (not foo) => not foo
        if matches!(at(0), Some(T::Open))
            && matches!(at(1), Some(T::Not))
            && at(2).is_some_and(is_op)
            && matches!(at(3), Some(T::Close))
        {
            out.push(T::Not);
            out.push(clone_traced(&l[i + 2]));
            i += 4;
            continue;
        }
        // ((foo bar)) => (foo bar)
        if matches!(at(0), Some(T::Open)) && matches!(at(1), Some(T::Open)) {
            out.push(T::Open);
            let rest: Vec<T<'_, Op>> = remove_close(&l[i + 2..]);
            out.extend(simplify_trace(rest, false));
            return out;
        }
        out.push(clone_traced(&l[i]));
        i += 1;
    }
    out
}

fn remove_close<'a, Op>(l: &[Traced<'a, Op>]) -> Vec<Traced<'a, Op>> {
    let mut out = Vec::with_capacity(l.len());
    let mut n = 0usize;
    for (i, t) in l.iter().enumerate() {
        match t {
            Traced::Open => {
                n += 1;
                out.push(Traced::Open);
            }
            Traced::Close if n > 0 => {
                n -= 1;
                out.push(Traced::Close);
            }
            Traced::Close => {
                out.extend(l[i + 1..].iter().map(clone_traced));
                return out;
            }
            t => out.push(clone_traced(t)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Token::*;

    fn ev(ts: Vec<Token<bool>>) -> bool {
        generate(ts)
            .eval(&mut |b: &bool| Ok::<bool, ()>(*b))
            .unwrap_or(false)
    }

    #[test]
    fn reference_sanity_cases() {
        // The cases of the reference's prop_matcher_sane (all true).
        let t = || Operation(true);
        let f = || Operation(false);
        assert!(ev(vec![t()]));
        assert!(ev(vec![]));
        assert!(ev(vec![f(), Or, t(), Or, f()]));
        assert!(ev(vec![t(), Or, t()]));
        assert!(ev(vec![t(), And, t()]));
        assert!(ev(vec![Not, Open, t(), And, f(), Close]));
        assert!(ev(vec![Not, Open, Not, Open, Not, f(), Close, Close]));
        assert!(ev(vec![t(), And, Not, f()]));
        assert!(ev(vec![t(), Not, f()]));
        assert!(ev(vec![t(), Not, Not, Not, f()]));
        assert!(ev(vec![t(), Not, Not, Not, f(), And, t()]));
        assert!(ev(vec![t(), Not, Not, Not, f(), t()]));
    }

    #[test]
    fn left_to_right() {
        let m = generate(vec![Operation(1), Or, Operation(2), And, Operation(3)]);
        let want = Matcher::And(
            Box::new(Matcher::Or(
                Box::new(Matcher::Op(1)),
                Box::new(Matcher::Op(2)),
            )),
            Box::new(Matcher::Op(3)),
        );
        assert_eq!(m, want);
        let same = generate(vec![
            Operation(1),
            Open,
            Operation(2),
            Or,
            Operation(3),
            Close,
        ]);
        let explicit = generate(vec![
            Operation(1),
            And,
            Open,
            Operation(2),
            Or,
            Operation(3),
            Close,
        ]);
        assert_eq!(same, explicit);
    }
}
