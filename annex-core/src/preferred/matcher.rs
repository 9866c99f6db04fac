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
//!
//! Expressions come from peers (a repository's `wanted` in the `git-annex`
//! branch) and from command lines, and git-annex accepts them nested as
//! deep as memory allows (`not not ... not x`, ten thousand `(`, a chain of
//! a hundred thousand `or`s, which makes a tree as deep). So nothing here
//! recurses: a [`Matcher`] is a flat list of nodes, each after its
//! operands (post-order), and building, evaluating, walking, printing,
//! comparing, cloning and dropping one are loops over that list or over an
//! explicit stack on the heap.

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

/// One node of a [`Matcher`]; operands are indexes of earlier nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node<Op> {
    /// Matches anything (the empty expression, or an empty operand).
    Any,
    /// Both (the left one first).
    And(usize, usize),
    /// Either (the left one first).
    Or(usize, usize),
    /// Negation.
    Not(usize),
    /// A term.
    Op(Op),
}

/// A boolean tree of terms, stored flat: its nodes in post-order (each
/// node's left operand's subtree, then its right one's, then the node), the
/// root last. Every constructor keeps that layout, so two matchers are
/// equal exactly when their trees are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher<Op> {
    nodes: Vec<Node<Op>>,
}

impl<Op> Default for Matcher<Op> {
    fn default() -> Self {
        Matcher::any()
    }
}

/// Builds the matcher of a token list, as git-annex does.
pub fn generate<Op>(tokens: Vec<Token<Op>>) -> Matcher<Op> {
    let mut b = Builder { nodes: Vec::new() };
    let root = b.process(events(tokens));
    b.simplify(root)
}

/// A token after grouping: git-annex groups parenthesized tokens first
/// (an extra `)` at the top level is dropped, a missing one is added at the
/// end) and inserts the implicit `and`s between top-level terms and groups
/// side by side (only at the top level: inside parentheses a group
/// continues the group's expression instead).
enum Ev<Op> {
    Op(Op),
    And,
    Or,
    Not,
    Open,
    Close,
}

fn events<Op>(tokens: Vec<Token<Op>>) -> Vec<Ev<Op>> {
    let mut out = Vec::with_capacity(tokens.len() + 8);
    let mut depth = 0usize;
    // Whether the previous top-level element was a term or a group.
    let mut prev_operand = false;
    for t in tokens {
        match t {
            Token::Open => {
                if depth == 0 && prev_operand {
                    out.push(Ev::And);
                }
                depth += 1;
                out.push(Ev::Open);
            }
            Token::Close => {
                if depth > 0 {
                    depth -= 1;
                    out.push(Ev::Close);
                    if depth == 0 {
                        prev_operand = true;
                    }
                }
            }
            Token::Operation(o) => {
                if depth == 0 {
                    if prev_operand {
                        out.push(Ev::And);
                    }
                    prev_operand = true;
                }
                out.push(Ev::Op(o));
            }
            Token::And | Token::Or | Token::Not => {
                if depth == 0 {
                    prev_operand = false;
                }
                out.push(match t {
                    Token::And => Ev::And,
                    Token::Or => Ev::Or,
                    _ => Ev::Not,
                });
            }
        }
    }
    out.extend((0..depth).map(|_| Ev::Close));
    out
}

/// A node of the tree as built, before simplification (in any order).
enum BNode<Op> {
    Any,
    And(usize, usize),
    Or(usize, usize),
    Not(usize),
    Op(Option<Op>),
}

struct Builder<Op> {
    nodes: Vec<BNode<Op>>,
}

impl<Op> Builder<Op> {
    fn push(&mut self, n: BNode<Op>) -> usize {
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    /// git-annex's `process MAny` over the grouped tokens: `process m ts`
    /// consumes operands into `m` until its token list ends; `consume m`
    /// takes one step (`and`/`or`/`not` then an operand consumed from an
    /// empty matcher, a term, or a whole group processed on from `m`). The
    /// mutual recursion runs as a state machine with its continuations on
    /// a stack.
    fn process(&mut self, events: Vec<Ev<Op>>) -> usize {
        enum K {
            /// `m and` the operand being consumed.
            And(usize),
            /// `m or` the operand.
            Or(usize),
            /// `m and not` the operand.
            Not(usize),
            /// The process loop continues with the result.
            Loop,
            /// A group's process ended: step over its `)`.
            Group,
        }
        enum St {
            Process(usize),
            Consume(usize),
            Return(usize),
        }
        let mut evs = events.into_iter().peekable();
        let mut ks: Vec<K> = Vec::new();
        let start = self.push(BNode::Any);
        let mut st = St::Process(start);
        loop {
            st = match st {
                St::Process(m) => match evs.peek() {
                    None | Some(Ev::Close) => St::Return(m),
                    Some(_) => {
                        ks.push(K::Loop);
                        St::Consume(m)
                    }
                },
                St::Consume(m) => match evs.peek() {
                    None | Some(Ev::Close) => St::Return(m),
                    Some(_) => match evs.next() {
                        Some(Ev::And) => {
                            ks.push(K::And(m));
                            St::Consume(self.push(BNode::Any))
                        }
                        Some(Ev::Or) => {
                            ks.push(K::Or(m));
                            St::Consume(self.push(BNode::Any))
                        }
                        Some(Ev::Not) => {
                            ks.push(K::Not(m));
                            St::Consume(self.push(BNode::Any))
                        }
                        Some(Ev::Op(o)) => {
                            let op = self.push(BNode::Op(Some(o)));
                            St::Return(self.push(BNode::And(m, op)))
                        }
                        Some(Ev::Open) => {
                            ks.push(K::Group);
                            St::Process(m)
                        }
                        Some(Ev::Close) | None => St::Return(m),
                    },
                },
                St::Return(v) => match ks.pop() {
                    None => return v,
                    Some(K::And(m)) => St::Return(self.push(BNode::And(m, v))),
                    Some(K::Or(m)) => St::Return(self.push(BNode::Or(m, v))),
                    Some(K::Not(m)) => {
                        let n = self.push(BNode::Not(v));
                        St::Return(self.push(BNode::And(m, n)))
                    }
                    Some(K::Loop) => St::Process(v),
                    Some(K::Group) => {
                        if let Some(Ev::Close) = evs.peek() {
                            evs.next();
                        }
                        St::Return(v)
                    }
                },
            };
        }
    }

    fn is_any(&self, n: usize) -> bool {
        matches!(self.nodes[n], BNode::Any)
    }

    /// git-annex's one-pass `simplify` (an `and` with an empty operand is
    /// its other operand, looked at before that one is simplified), written
    /// out in post-order.
    fn simplify(mut self, root: usize) -> Matcher<Op> {
        enum T {
            Visit(usize),
            And,
            Or,
            Not,
        }
        let mut out: Vec<Node<Op>> = Vec::with_capacity(self.nodes.len() / 2 + 1);
        let mut vals: Vec<usize> = Vec::new();
        let mut tasks = vec![T::Visit(root)];
        while let Some(t) = tasks.pop() {
            let node = match t {
                T::Visit(mut n) => {
                    while let BNode::And(x, y) = self.nodes[n] {
                        if self.is_any(x) {
                            n = y;
                        } else if self.is_any(y) {
                            n = x;
                        } else {
                            break;
                        }
                    }
                    match &mut self.nodes[n] {
                        BNode::And(x, y) | BNode::Or(x, y) => {
                            let (x, y) = (*x, *y);
                            tasks.push(if matches!(self.nodes[n], BNode::And(..)) {
                                T::And
                            } else {
                                T::Or
                            });
                            tasks.push(T::Visit(y));
                            tasks.push(T::Visit(x));
                            continue;
                        }
                        BNode::Not(x) => {
                            let x = *x;
                            tasks.push(T::Not);
                            tasks.push(T::Visit(x));
                            continue;
                        }
                        BNode::Any => Node::Any,
                        // A tree: every node is visited once, so its term
                        // is still there.
                        BNode::Op(o) => o.take().map_or(Node::Any, Node::Op),
                    }
                }
                T::And | T::Or => {
                    let r = vals.pop().expect("an operand was pushed");
                    let l = vals.pop().expect("an operand was pushed");
                    if matches!(t, T::And) {
                        Node::And(l, r)
                    } else {
                        Node::Or(l, r)
                    }
                }
                T::Not => Node::Not(vals.pop().expect("an operand was pushed")),
            };
            out.push(node);
            vals.push(out.len() - 1);
        }
        Matcher { nodes: out }
    }
}

impl<Op> Matcher<Op> {
    /// The matcher that matches anything (an empty expression).
    pub fn any() -> Matcher<Op> {
        Matcher {
            nodes: vec![Node::Any],
        }
    }

    /// A matcher of one term.
    pub fn op(o: Op) -> Matcher<Op> {
        Matcher {
            nodes: vec![Node::Op(o)],
        }
    }

    fn join(self, other: Matcher<Op>, mk: fn(usize, usize) -> Node<Op>) -> Matcher<Op> {
        let mut nodes = self.nodes;
        let left = nodes.len() - 1;
        let off = nodes.len();
        nodes.extend(other.nodes.into_iter().map(|n| match n {
            Node::And(a, b) => Node::And(a + off, b + off),
            Node::Or(a, b) => Node::Or(a + off, b + off),
            Node::Not(a) => Node::Not(a + off),
            n => n,
        }));
        let right = nodes.len() - 1;
        nodes.push(mk(left, right));
        Matcher { nodes }
    }

    /// `self and other`.
    pub fn and(self, other: Matcher<Op>) -> Matcher<Op> {
        self.join(other, Node::And)
    }

    /// `self or other`.
    pub fn or(self, other: Matcher<Op>) -> Matcher<Op> {
        self.join(other, Node::Or)
    }

    /// `not self`.
    pub fn negate(mut self) -> Matcher<Op> {
        let root = self.root();
        self.nodes.push(Node::Not(root));
        self
    }

    /// The index of the root node.
    pub fn root(&self) -> usize {
        self.nodes.len() - 1
    }

    /// A node by index.
    pub fn node(&self, i: usize) -> &Node<Op> {
        &self.nodes[i]
    }

    /// The nodes in post-order (each after its operands, the root last).
    pub fn nodes(&self) -> &[Node<Op>] {
        &self.nodes
    }

    /// Whether the matcher has no term at all (git-annex then treats the
    /// expression as not configured).
    pub fn is_empty(&self) -> bool {
        matches!(self.nodes.last(), Some(Node::Any) | None)
    }

    /// Evaluates left to right with short-circuit, as git-annex does.
    pub fn eval<E>(&self, f: &mut impl FnMut(&Op) -> Result<bool, E>) -> Result<bool, E> {
        enum K {
            /// After the left operand of an `and`: the right one.
            And(usize),
            /// After the left operand of an `or`: the right one.
            Or(usize),
            Not,
        }
        let mut ks: Vec<K> = Vec::new();
        let mut n = self.root();
        loop {
            let mut v = loop {
                match &self.nodes[n] {
                    Node::Any => break true,
                    Node::Op(o) => break f(o)?,
                    Node::Not(a) => {
                        ks.push(K::Not);
                        n = *a;
                    }
                    Node::And(a, b) => {
                        ks.push(K::And(*b));
                        n = *a;
                    }
                    Node::Or(a, b) => {
                        ks.push(K::Or(*b));
                        n = *a;
                    }
                }
            };
            loop {
                match ks.pop() {
                    None => return Ok(v),
                    Some(K::Not) => v = !v,
                    // The right operand's value is the node's.
                    Some(K::And(b)) if v => {
                        n = b;
                        break;
                    }
                    Some(K::Or(b)) if !v => {
                        n = b;
                        break;
                    }
                    Some(K::And(_) | K::Or(_)) => {}
                }
            }
        }
    }

    /// Whether any term satisfies `f` (asked left to right, stopping at
    /// the first that does).
    pub fn any_op(&self, f: &mut impl FnMut(&Op) -> bool) -> bool {
        // Post-order lists the terms left to right.
        self.nodes.iter().any(|n| matches!(n, Node::Op(o) if f(o)))
    }

    /// The terms under an odd number of `not`s, left to right.
    pub fn negated_ops(&self) -> Vec<&Op> {
        // Operands come before their node: walk down from the root.
        let mut neg = vec![false; self.nodes.len()];
        for i in (0..self.nodes.len()).rev() {
            match self.nodes[i] {
                Node::Not(a) => neg[a] = !neg[i],
                Node::And(a, b) | Node::Or(a, b) => {
                    neg[a] = neg[i];
                    neg[b] = neg[i];
                }
                Node::Any | Node::Op(_) => {}
            }
        }
        self.nodes
            .iter()
            .zip(neg)
            .filter_map(|(n, neg)| match n {
                Node::Op(o) if neg => Some(o),
                _ => None,
            })
            .collect()
    }

    /// Maps every term.
    pub fn map<B>(self, f: &mut impl FnMut(Op) -> B) -> Matcher<B> {
        Matcher {
            nodes: self
                .nodes
                .into_iter()
                .map(|n| match n {
                    Node::Any => Node::Any,
                    Node::And(a, b) => Node::And(a, b),
                    Node::Or(a, b) => Node::Or(a, b),
                    Node::Not(a) => Node::Not(a),
                    Node::Op(o) => Node::Op(f(o)),
                })
                .collect(),
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
            a.or(b)
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
        enum K {
            And(usize),
            Or(usize),
            Not,
            /// The right operand's value is the node's: close it.
            Close,
        }
        let mut ks: Vec<K> = Vec::new();
        let mut n = self.root();
        loop {
            let mut v = loop {
                match &self.nodes[n] {
                    Node::Any => break true,
                    Node::Op(o) => {
                        let r = f(o)?;
                        trace.push(Traced::Op(r, o));
                        break r;
                    }
                    Node::Not(a) => {
                        trace.push(Traced::Open);
                        trace.push(Traced::Not);
                        ks.push(K::Not);
                        n = *a;
                    }
                    Node::And(a, b) => {
                        trace.push(Traced::Open);
                        ks.push(K::And(*b));
                        n = *a;
                    }
                    Node::Or(a, b) => {
                        trace.push(Traced::Open);
                        ks.push(K::Or(*b));
                        n = *a;
                    }
                }
            };
            loop {
                match ks.pop() {
                    None => return Ok(v),
                    Some(K::Not) => {
                        trace.push(Traced::Close);
                        v = !v;
                    }
                    Some(K::Close) => trace.push(Traced::Close),
                    Some(K::And(b)) if v => {
                        trace.push(Traced::And);
                        ks.push(K::Close);
                        n = b;
                        break;
                    }
                    Some(K::Or(b)) if !v => {
                        trace.push(Traced::Or);
                        ks.push(K::Close);
                        n = b;
                        break;
                    }
                    Some(K::And(_) | K::Or(_)) => trace.push(Traced::Close),
                }
            }
        }
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

/// git-annex's simplification of an `--explain` trace: the outer
/// parentheses dropped, `(a or b) or` and `(a and b) and` flattened, `or
/// (a)`, `and (a)` and `(not a)` unwrapped, and of `((` the inner
/// parenthesis dropped with its `)`, the rest simplified on. git-annex
/// re-scans the rest at each `((`, which is quadratic in the nesting; here
/// one pass over the trace does the same, dropping the inner parenthesis's
/// matching `)` where it lies ahead (a trace is balanced: every `(` has its
/// `)`, and dropping pairs keeps the rest balanced, so the first `)` left
/// unmatched after a `(` is the one matching it).
fn simplify_trace<Op>(l: Vec<Traced<'_, Op>>, first: bool) -> Vec<Traced<'_, Op>> {
    use Traced as T;
    let n = l.len();
    let mut close_of = vec![usize::MAX; n];
    let mut opens = Vec::new();
    for (i, t) in l.iter().enumerate() {
        match t {
            T::Open => opens.push(i),
            T::Close => {
                if let Some(o) = opens.pop() {
                    close_of[o] = i;
                }
            }
            _ => {}
        }
    }
    let mut live = vec![true; n];
    if first && matches!(l.first(), Some(T::Open)) {
        live[0] = false;
        if n > 1 && matches!(l.last(), Some(T::Close)) {
            live[n - 1] = false;
        }
    }
    let is_op = |t: Option<&T<'_, Op>>| matches!(t, Some(T::Op(..)));
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    loop {
        // The next six elements still there.
        let mut w = [usize::MAX; 6];
        let mut k = 0;
        let mut j = i;
        while k < 6 && j < n {
            if live[j] {
                w[k] = j;
                k += 1;
            }
            j += 1;
        }
        if k == 0 {
            return out;
        }
        let at = |k: usize| l.get(w[k]);
        // (foo or bar) or baz => foo or bar or baz, same for and.
        if matches!(at(0), Some(T::Open))
            && is_op(at(1))
            && is_op(at(3))
            && matches!(at(4), Some(T::Close))
            && ((matches!(at(2), Some(T::Or)) && matches!(at(5), Some(T::Or)))
                || (matches!(at(2), Some(T::And)) && matches!(at(5), Some(T::And))))
        {
            for x in [1, 2, 3, 5] {
                out.push(clone_traced(&l[w[x]]));
            }
            i = w[5] + 1;
            continue;
        }
        // or (foo) => or foo; and (foo) => and foo
        if matches!(at(0), Some(T::Or | T::And))
            && matches!(at(1), Some(T::Open))
            && is_op(at(2))
            && matches!(at(3), Some(T::Close))
        {
            out.push(clone_traced(&l[w[0]]));
            out.push(clone_traced(&l[w[2]]));
            i = w[3] + 1;
            continue;
        }
        // (not foo) => not foo
        if matches!(at(0), Some(T::Open))
            && matches!(at(1), Some(T::Not))
            && is_op(at(2))
            && matches!(at(3), Some(T::Close))
        {
            out.push(T::Not);
            out.push(clone_traced(&l[w[2]]));
            i = w[3] + 1;
            continue;
        }
        // ((foo bar)) => (foo bar)
        if matches!(at(0), Some(T::Open)) && matches!(at(1), Some(T::Open)) {
            out.push(T::Open);
            if let Some(&c) = close_of.get(w[1])
                && c != usize::MAX
            {
                live[c] = false;
            }
            i = w[1] + 1;
            continue;
        }
        out.push(clone_traced(&l[w[0]]));
        i = w[0] + 1;
    }
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
        let want = Matcher::op(1).or(Matcher::op(2)).and(Matcher::op(3));
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

    /// git-annex's `generate` transcribed recursively (the shape the
    /// flat builder must produce), over a boxed tree.
    mod recursive {
        use super::super::{Matcher, Node, Token};

        #[derive(Debug, PartialEq)]
        pub enum Tree {
            Any,
            And(Box<Tree>, Box<Tree>),
            Or(Box<Tree>, Box<Tree>),
            Not(Box<Tree>),
            Op(u8),
        }

        enum Group {
            One(Token<u8>),
            Many(Vec<Group>),
        }

        fn token_groups(it: &mut std::vec::IntoIter<Token<u8>>, inner: bool) -> Vec<Group> {
            let mut out = Vec::new();
            while let Some(t) = it.next() {
                match t {
                    Token::Open => out.push(Group::Many(token_groups(it, true))),
                    Token::Close if inner => return out,
                    Token::Close => {}
                    t => out.push(Group::One(t)),
                }
            }
            out
        }

        fn implicit_and(groups: Vec<Group>) -> Vec<Group> {
            let need = |g: &Group| matches!(g, Group::One(Token::Operation(_)) | Group::Many(_));
            let mut out: Vec<Group> = Vec::new();
            for g in groups {
                if out.last().is_some_and(need) && need(&g) {
                    out.push(Group::One(Token::And));
                }
                out.push(g);
            }
            out
        }

        fn process(mut m: Tree, ts: Vec<Group>) -> Tree {
            let mut ts = ts.into_iter().peekable();
            while ts.peek().is_some() {
                m = consume(m, &mut ts);
            }
            m
        }

        fn consume(m: Tree, ts: &mut std::iter::Peekable<std::vec::IntoIter<Group>>) -> Tree {
            match ts.next() {
                None => m,
                Some(Group::One(Token::And)) => {
                    Tree::And(Box::new(m), Box::new(consume(Tree::Any, ts)))
                }
                Some(Group::One(Token::Or)) => {
                    Tree::Or(Box::new(m), Box::new(consume(Tree::Any, ts)))
                }
                Some(Group::One(Token::Not)) => Tree::And(
                    Box::new(m),
                    Box::new(Tree::Not(Box::new(consume(Tree::Any, ts)))),
                ),
                Some(Group::One(Token::Operation(o))) => {
                    Tree::And(Box::new(m), Box::new(Tree::Op(o)))
                }
                Some(Group::Many(g)) => process(m, g),
                Some(Group::One(_)) => consume(m, ts),
            }
        }

        fn simplify(m: Tree) -> Tree {
            match m {
                Tree::And(a, b) => match (*a, *b) {
                    (Tree::Any, x) => simplify(x),
                    (x, Tree::Any) => simplify(x),
                    (x, y) => Tree::And(Box::new(simplify(x)), Box::new(simplify(y))),
                },
                Tree::Or(a, b) => Tree::Or(Box::new(simplify(*a)), Box::new(simplify(*b))),
                Tree::Not(a) => Tree::Not(Box::new(simplify(*a))),
                x => x,
            }
        }

        pub fn generate(tokens: Vec<Token<u8>>) -> Tree {
            simplify(process(
                Tree::Any,
                implicit_and(token_groups(&mut tokens.into_iter(), false)),
            ))
        }

        pub fn of(m: &Matcher<u8>, n: usize) -> Tree {
            match m.node(n) {
                Node::Any => Tree::Any,
                Node::Op(o) => Tree::Op(*o),
                Node::Not(a) => Tree::Not(Box::new(of(m, *a))),
                Node::And(a, b) => Tree::And(Box::new(of(m, *a)), Box::new(of(m, *b))),
                Node::Or(a, b) => Tree::Or(Box::new(of(m, *a)), Box::new(of(m, *b))),
            }
        }

        pub fn eval(t: &Tree, v: &[bool]) -> bool {
            match t {
                Tree::Any => true,
                Tree::Op(o) => v[usize::from(*o)],
                Tree::Not(a) => !eval(a, v),
                Tree::And(a, b) => eval(a, v) && eval(b, v),
                Tree::Or(a, b) => eval(a, v) || eval(b, v),
            }
        }
    }

    /// The `--explain` simplification as git-annex writes it (re-scanning
    /// the rest at each `((`), to check the one-pass version against.
    mod rescanning {
        use super::super::{Traced, clone_traced};
        pub fn simplify_trace<Op>(mut l: Vec<Traced<'_, Op>>, first: bool) -> Vec<Traced<'_, Op>> {
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
    }

    fn token() -> impl proptest::strategy::Strategy<Value = Token<u8>> {
        use proptest::prelude::*;
        prop_oneof![
            (0u8..4).prop_map(Operation),
            Just(And),
            Just(Or),
            Just(Not),
            Just(Open),
            Just(Close),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// The flat, loop-driven builder makes git-annex's tree, and
        /// evaluates it as the tree evaluates.
        #[test]
        fn flat_generate_is_the_recursive_one(
            tokens in proptest::collection::vec(token(), 0..40),
            values in proptest::collection::vec(proptest::bool::ANY, 4),
        ) {
            let want = recursive::generate(tokens.clone());
            let m = generate(tokens);
            let got = recursive::of(&m, m.root());
            proptest::prop_assert_eq!(&got, &want);
            let flat = m.eval(&mut |o: &u8| Ok::<bool, ()>(values[usize::from(*o)]));
            proptest::prop_assert_eq!(flat, Ok(recursive::eval(&want, &values)));
            let mut asked = Vec::new();
            let _ = m.eval(&mut |o: &u8| { asked.push(*o); Ok::<bool, ()>(values[usize::from(*o)]) });
            let mut traced = Vec::new();
            let mut asked_traced = Vec::new();
            let r = m.eval_traced(&mut |o: &u8| { asked_traced.push(*o); Ok::<bool, ()>(values[usize::from(*o)]) }, &mut traced);
            proptest::prop_assert_eq!(r, flat);
            proptest::prop_assert_eq!(asked, asked_traced);
            let show = |v: &[Traced<'_, u8>]| format!("{v:?}");
            let one_pass = simplify_trace(traced.iter().map(clone_traced).collect(), true);
            let rescanned = rescanning::simplify_trace(traced.iter().map(clone_traced).collect(), true);
            proptest::prop_assert_eq!(show(&one_pass), show(&rescanned));
        }
    }

    /// Regression (issue 21): ten thousand `not`s, `(`s or `or`s made a tree
    /// (or a parse) as deep, and recursing over it overflowed the stack.
    /// A hundred thousand of each now builds, evaluates, explains, clones,
    /// compares and drops on a test thread's small stack.
    #[test]
    fn matcher_nested_100000_deep_builds_evaluates_and_drops() {
        let n = 100_000;
        let shapes: Vec<(Vec<Token<bool>>, bool)> = vec![
            ((0..n).map(|_| Not).chain([Operation(true)]).collect(), true),
            (
                (0..=n).map(|_| Not).chain([Operation(true)]).collect(),
                false,
            ),
            (
                (0..n)
                    .map(|_| Open)
                    .chain([Operation(false)])
                    .chain((0..n).map(|_| Close))
                    .collect(),
                false,
            ),
            (
                (0..n)
                    .flat_map(|_| [Operation(false), Or])
                    .chain([Operation(true)])
                    .collect(),
                true,
            ),
            (
                (0..n)
                    .flat_map(|_| [Open, Not])
                    .chain([Operation(true)])
                    .collect(),
                true,
            ),
        ];
        for (tokens, want) in shapes {
            let m = generate(tokens);
            assert_eq!(m.eval(&mut |b: &bool| Ok::<bool, ()>(*b)), Ok(want));
            let mut trace = Vec::new();
            assert_eq!(
                m.eval_traced(&mut |b: &bool| Ok::<bool, ()>(*b), &mut trace),
                Ok(want)
            );
            assert!(describe(&trace, |b, r| format!("{b}[{r}]"), "").is_some());
            let copy = m.clone();
            assert_eq!(copy, m);
            assert!(!format!("{:?}", copy.negated_ops()).is_empty());
            drop(copy);
        }
    }
}
