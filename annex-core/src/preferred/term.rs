//! The terms of preferred-content and `annex.largefiles` expressions, each
//! parsed from one token as git-annex parses it.

use crate::key::KeyVariety;
use crate::logs::trust::TrustLevel;

use super::glob::{Glob, decode};
use super::matcher::Matcher;
use super::text::{haskell_show, read_double, read_size, readish_int};

/// Which term set a parser accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Preferred (and required) content expressions.
    Preferred,
    /// `annex.largefiles` (and `annex.addunlocked`) expressions: `include`,
    /// `exclude`, `largerthan`, `smallerthan`, `mimetype`, `mimeencoding`,
    /// `anything`, `nothing`, `unused`, and the syntax words.
    LargeFiles,
}

/// A size threshold as written and in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Size {
    /// The value as written (`1mb`).
    pub text: Vec<u8>,
    /// Bytes (may be negative: `-5` parses).
    pub bytes: i128,
}

/// Which repositories `copies=` counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopiesFilter {
    /// Every (non-dead) repository.
    All,
    /// Repositories of exactly this trust level.
    Trust(TrustLevel),
    /// Repositories of this trust level or a more trusted one (`level+`).
    TrustOrMore(TrustLevel),
    /// Members of a group.
    Group(Vec<u8>),
}

/// How many repositories a balanced term wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BalancedCount {
    /// A fixed number.
    N(i64),
    /// As many as numcopies still lacks (`:lackingcopies`).
    LackingCopies,
}

/// The four balancing terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BalancedKind {
    /// `balanced=`.
    Balanced,
    /// `fullybalanced=`.
    FullyBalanced,
    /// `sizebalanced=`.
    SizeBalanced,
    /// `fullysizebalanced=`.
    FullySizeBalanced,
}

impl BalancedKind {
    /// The term's name.
    pub fn name(self) -> &'static str {
        match self {
            BalancedKind::Balanced => "balanced",
            BalancedKind::FullyBalanced => "fullybalanced",
            BalancedKind::SizeBalanced => "sizebalanced",
            BalancedKind::FullySizeBalanced => "fullysizebalanced",
        }
    }
}

/// A balancing term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balanced {
    /// Which one.
    pub kind: BalancedKind,
    /// The value as written (`grp:2`).
    pub text: Vec<u8>,
    /// The group.
    pub group: Vec<u8>,
    /// How many of the group's repositories want a key.
    pub count: BalancedCount,
    /// The `copies=` check `balanced`/`sizebalanced` make ("already enough
    /// copies in the group"): `None` when `:lackingcopies` is used (then
    /// `lackingcopies=1` is checked instead).
    pub enough: Option<(CopiesFilter, i64)>,
}

/// A metadata comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaOp {
    /// `field=glob` (case-insensitive).
    Glob(Glob),
    /// `<`, `<=`, `>`, `>=`: numbers when both sides are, else text.
    Cmp(CmpOp, Vec<u8>, Option<f64>),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
}

impl CmpOp {
    fn apply<T: PartialOrd + ?Sized>(self, a: &T, b: &T) -> bool {
        match self {
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
        }
    }
}

impl Eq for MetaOp {}

/// A `standard` or `groupwanted` term: what it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sub {
    /// Not expanded: matches anything (as in `matchexpression`).
    All,
    /// The expression it expands to for the repository.
    Expr(Box<Matcher<Term>>),
}

/// One term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// `anything`.
    Anything,
    /// `nothing`.
    Nothing,
    /// `include=glob`.
    Include(Glob),
    /// `exclude=glob`.
    Exclude(Glob),
    /// `largerthan=size`.
    LargerThan(Size),
    /// `smallerthan=size`.
    SmallerThan(Size),
    /// `unused`.
    Unused,
    /// `standard`.
    Standard(Sub),
    /// `groupwanted`.
    GroupWanted(Sub),
    /// `inpreferreddir`.
    InPreferredDir,
    /// `present`.
    Present,
    /// `securehash`.
    SecureHash,
    /// `copies=[filter:]n`.
    Copies {
        /// The value as written.
        text: Vec<u8>,
        /// Which repositories count.
        filter: CopiesFilter,
        /// At least this many.
        n: i64,
    },
    /// `lackingcopies=n` / `approxlackingcopies=n`.
    LackingCopies {
        /// The value as written.
        text: Vec<u8>,
        /// At least this many copies lacking.
        n: i64,
        /// `approxlackingcopies`: ignores `.gitattributes`.
        approx: bool,
    },
    /// `inbackend=name` (and the key variety it names).
    InBackend(Vec<u8>, KeyVariety),
    /// `metadata=field…`.
    MetaData {
        /// The value as written.
        text: Vec<u8>,
        /// The field name.
        field: String,
        /// The field name case-folded (how fields compare).
        folded: String,
        /// The comparison.
        op: MetaOp,
    },
    /// `url=glob`.
    Url(Glob),
    /// `inallgroup=group`.
    InAllGroup(Vec<u8>),
    /// `onlyingroup=group`.
    OnlyInGroup(Vec<u8>),
    /// `balanced=` and its kin.
    Balanced(Balanced),
    /// `mimetype=glob` (largefiles only).
    MimeType(Glob),
    /// `mimeencoding=glob` (largefiles only).
    MimeEncoding(Glob),
}

fn trust_level(s: &[u8]) -> Option<TrustLevel> {
    match s {
        b"trusted" => Some(TrustLevel::Trusted),
        b"untrusted" => Some(TrustLevel::Untrusted),
        b"semitrusted" => Some(TrustLevel::SemiTrusted),
        b"dead" => Some(TrustLevel::Dead),
        _ => None,
    }
}

fn trust_name(t: TrustLevel) -> &'static str {
    t.name()
}

fn split_colons(v: &[u8]) -> Vec<&[u8]> {
    v.split(|&b| b == b':').collect()
}

fn copies_filter(v: &[u8]) -> CopiesFilter {
    if let Some(base) = v.strip_suffix(b"+")
        && let Some(t) = trust_level(base)
    {
        return CopiesFilter::TrustOrMore(t);
    }
    match trust_level(v) {
        Some(t) => CopiesFilter::Trust(t),
        None => CopiesFilter::Group(v.to_vec()),
    }
}

fn parse_copies(v: &[u8]) -> Result<(CopiesFilter, i64), String> {
    match split_colons(v).as_slice() {
        [f, n] => readish_int(n)
            .map(|n| (copies_filter(f), n))
            .ok_or_else(|| "bad number for copies".to_owned()),
        [n] => readish_int(n)
            .map(|n| (CopiesFilter::All, n))
            .ok_or_else(|| "bad number for copies".to_owned()),
        // The source says "bad value" here; the reference binary says
        // "bad number" (checked with `matchexpression copies=a:b:c`).
        _ => Err("bad number for copies".to_owned()),
    }
}

fn parse_balanced(kind: BalancedKind, v: &[u8]) -> Result<Balanced, String> {
    let name = kind.name();
    let (group, count) = match split_colons(v).as_slice() {
        [g] => (g.to_vec(), BalancedCount::N(1)),
        [g, n] if *n == b"lackingcopies" => (g.to_vec(), BalancedCount::LackingCopies),
        [g, n] => match readish_int(n) {
            Some(n) => (g.to_vec(), BalancedCount::N(n)),
            None => return Err(format!("bad number for {name}")),
        },
        _ => return Err(format!("bad value for {name}")),
    };
    let enough = match kind {
        BalancedKind::Balanced | BalancedKind::SizeBalanced => {
            if v.ends_with(b":lackingcopies") {
                None
            } else if v.contains(&b':') {
                Some(parse_copies(v)?)
            } else {
                let mut w = v.to_vec();
                w.extend_from_slice(b":1");
                Some(parse_copies(&w)?)
            }
        }
        _ => None,
    };
    Ok(Balanced {
        kind,
        text: v.to_vec(),
        group,
        count,
        enough,
    })
}

fn legal_field(f: &str) -> bool {
    let mut cs = f.chars();
    match cs.next() {
        Some(c) if c.is_alphanumeric() => {
            cs.all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.')
        }
        _ => false,
    }
}

fn parse_metadata(v: &[u8]) -> Result<Term, String> {
    let split = v
        .iter()
        .position(|b| matches!(b, b'=' | b'<' | b'>'))
        .unwrap_or(v.len());
    let (f, opv) = v.split_at(split);
    let field_chars = decode(f);
    let field: String = field_chars
        .iter()
        .map(|&c| char::from_u32(c).unwrap_or('\u{FFFD}'))
        .collect();
    if !legal_field(&field) {
        return Err(format!("Illegal metadata field name, \"{field}\""));
    }
    let cmp = |op: CmpOp, rest: &[u8]| MetaOp::Cmp(op, rest.to_vec(), read_double(rest));
    let op = match opv {
        [b'=', rest @ ..] => MetaOp::Glob(Glob::new(rest, true, false)),
        [b'<', b'=', rest @ ..] => cmp(CmpOp::Le, rest),
        [b'<', rest @ ..] => cmp(CmpOp::Lt, rest),
        [b'>', b'=', rest @ ..] => cmp(CmpOp::Ge, rest),
        [b'>', rest @ ..] => cmp(CmpOp::Gt, rest),
        _ => MetaOp::Glob(Glob::new(b"", true, false)),
    };
    Ok(Term::MetaData {
        text: v.to_vec(),
        folded: crate::logs::metadata::fold(&field),
        field,
        op,
    })
}

impl MetaOp {
    /// Whether a metadata value satisfies the comparison.
    pub fn matches(&self, value: &[u8]) -> bool {
        match self {
            MetaOp::Glob(g) => g.matches(value),
            MetaOp::Cmp(op, want, want_num) => {
                if let Some(w) = want_num
                    && let Some(v) = read_double(value)
                {
                    return op.apply(&v, w);
                }
                // Text compares as characters.
                op.apply(decode(value).as_slice(), decode(want).as_slice())
            }
        }
    }
}

/// Parses one token that is not a syntax word. `Err` is the reference's
/// message for it (`near "tok"`, `bad number for copies`, ...).
pub fn parse_term(token: &[u8], mode: Mode) -> Result<Term, String> {
    let simple = |t: &[u8]| -> Option<Term> {
        match (t, mode) {
            (b"anything", _) => Some(Term::Anything),
            (b"nothing", _) => Some(Term::Nothing),
            (b"unused", _) => Some(Term::Unused),
            (b"standard", Mode::Preferred) => Some(Term::Standard(Sub::All)),
            (b"groupwanted", Mode::Preferred) => Some(Term::GroupWanted(Sub::All)),
            (b"inpreferreddir", Mode::Preferred) => Some(Term::InPreferredDir),
            (b"present", Mode::Preferred) => Some(Term::Present),
            (b"securehash", Mode::Preferred) => Some(Term::SecureHash),
            _ => None,
        }
    };
    if let Some(t) = simple(token) {
        return Ok(t);
    }
    let (k, v) = match token.iter().position(|&b| b == b'=') {
        Some(i) => (&token[..i], &token[i + 1..]),
        None => (token, &[][..]),
    };
    let size = |v: &[u8]| {
        read_size(v)
            .map(|bytes| Size {
                text: v.to_vec(),
                bytes,
            })
            .ok_or_else(|| "bad size".to_owned())
    };
    let near = || Err(format!("near {}", haskell_show(token)));
    match (k, mode) {
        (b"include", _) => Ok(Term::Include(Glob::new(v, false, true))),
        (b"exclude", _) => Ok(Term::Exclude(Glob::new(v, false, true))),
        (b"largerthan", _) => Ok(Term::LargerThan(size(v)?)),
        (b"smallerthan", _) => Ok(Term::SmallerThan(size(v)?)),
        (b"mimetype", Mode::LargeFiles) => Ok(Term::MimeType(Glob::new(v, false, false))),
        (b"mimeencoding", Mode::LargeFiles) => Ok(Term::MimeEncoding(Glob::new(v, false, false))),
        (_, Mode::LargeFiles) => near(),
        (b"copies", _) => {
            let (filter, n) = parse_copies(v)?;
            Ok(Term::Copies {
                text: v.to_vec(),
                filter,
                n,
            })
        }
        (b"lackingcopies", _) | (b"approxlackingcopies", _) => match readish_int(v) {
            Some(n) => Ok(Term::LackingCopies {
                text: v.to_vec(),
                n,
                approx: k == b"approxlackingcopies",
            }),
            None => Err("bad value for number of lacking copies".to_owned()),
        },
        (b"inbackend", _) => Ok(Term::InBackend(v.to_vec(), backend_variety(v))),
        (b"metadata", _) => parse_metadata(v),
        (b"url", _) => Ok(Term::Url(Glob::new(v, false, false))),
        (b"inallgroup", _) => Ok(Term::InAllGroup(v.to_vec())),
        (b"onlyingroup", _) => Ok(Term::OnlyInGroup(v.to_vec())),
        (b"balanced", _) => Ok(Term::Balanced(parse_balanced(BalancedKind::Balanced, v)?)),
        (b"fullybalanced", _) => Ok(Term::Balanced(parse_balanced(
            BalancedKind::FullyBalanced,
            v,
        )?)),
        (b"sizebalanced", _) => Ok(Term::Balanced(parse_balanced(
            BalancedKind::SizeBalanced,
            v,
        )?)),
        (b"fullysizebalanced", _) => Ok(Term::Balanced(parse_balanced(
            BalancedKind::FullySizeBalanced,
            v,
        )?)),
        _ => near(),
    }
}

impl Term {
    /// The token that parses back to this term.
    pub fn to_token(&self) -> Vec<u8> {
        let kv = |k: &str, v: &[u8]| {
            let mut o = k.as_bytes().to_vec();
            o.push(b'=');
            o.extend_from_slice(v);
            o
        };
        match self {
            Term::Anything => b"anything".to_vec(),
            Term::Nothing => b"nothing".to_vec(),
            Term::Include(g) => kv("include", g.source()),
            Term::Exclude(g) => kv("exclude", g.source()),
            Term::LargerThan(s) => kv("largerthan", &s.text),
            Term::SmallerThan(s) => kv("smallerthan", &s.text),
            Term::Unused => b"unused".to_vec(),
            Term::Standard(_) => b"standard".to_vec(),
            Term::GroupWanted(_) => b"groupwanted".to_vec(),
            Term::InPreferredDir => b"inpreferreddir".to_vec(),
            Term::Present => b"present".to_vec(),
            Term::SecureHash => b"securehash".to_vec(),
            Term::Copies { text, .. } => kv("copies", text),
            Term::LackingCopies { text, approx, .. } => kv(
                if *approx {
                    "approxlackingcopies"
                } else {
                    "lackingcopies"
                },
                text,
            ),
            Term::InBackend(b, _) => kv("inbackend", b),
            Term::MetaData { text, .. } => kv("metadata", text),
            Term::Url(g) => kv("url", g.source()),
            Term::InAllGroup(g) => kv("inallgroup", g),
            Term::OnlyInGroup(g) => kv("onlyingroup", g),
            Term::Balanced(b) => kv(b.kind.name(), &b.text),
            Term::MimeType(g) => kv("mimetype", g.source()),
            Term::MimeEncoding(g) => kv("mimeencoding", g.source()),
        }
    }

    /// How git-annex names the term in `--explain` output (the token, but
    /// `lackingcopies`/`approxlackingcopies` without their value).
    pub fn desc(&self) -> String {
        match self {
            Term::LackingCopies { approx: true, .. } => "approxlackingcopies".to_owned(),
            Term::LackingCopies { approx: false, .. } => "lackingcopies".to_owned(),
            t => String::from_utf8_lossy(&t.to_token()).into_owned(),
        }
    }

    /// A rough cost of evaluating the term: 0 needs nothing, 1 the file
    /// name, key or size, 2 a key's location log, 3 its metadata or URLs,
    /// 4 content or repository sizes.
    pub fn cost(&self) -> u8 {
        match self {
            Term::Anything | Term::Nothing => 0,
            Term::Include(_)
            | Term::Exclude(_)
            | Term::LargerThan(_)
            | Term::SmallerThan(_)
            | Term::InPreferredDir
            | Term::SecureHash
            | Term::InBackend(..) => 1,
            Term::Copies { .. }
            | Term::LackingCopies { .. }
            | Term::InAllGroup(_)
            | Term::OnlyInGroup(_) => 2,
            Term::MetaData { .. } | Term::Url(_) | Term::Unused => 3,
            Term::Present
            | Term::Balanced(_)
            | Term::MimeType(_)
            | Term::MimeEncoding(_)
            | Term::Standard(_)
            | Term::GroupWanted(_) => 4,
        }
    }

    /// Whether the term looks at the file name (git-annex's
    /// `matchNeedsFileName`): `include`, `exclude`, `inpreferreddir`,
    /// `unused`, and `standard`/`groupwanted` holding one. Commands refuse
    /// such terms on keys without files (`--all`, `--key`).
    pub fn needs_file_name(&self) -> bool {
        match self {
            Term::Include(_) | Term::Exclude(_) | Term::InPreferredDir | Term::Unused => true,
            Term::Standard(Sub::Expr(m)) | Term::GroupWanted(Sub::Expr(m)) => {
                m.any_op(&mut |t: &Term| t.needs_file_name())
            }
            _ => false,
        }
    }

    /// Whether `not` of this term makes an expression unstable (git-annex
    /// then refuses to use the expression: it never matches).
    pub fn negation_unstable(&self) -> bool {
        match self {
            Term::Present => true,
            Term::Balanced(b) => {
                matches!(b.kind, BalancedKind::Balanced | BalancedKind::SizeBalanced)
            }
            Term::Standard(Sub::Expr(m)) | Term::GroupWanted(Sub::Expr(m)) => {
                m.any_op(&mut |t: &Term| t.negation_unstable())
            }
            _ => false,
        }
    }
}

/// The key variety a backend name stands for (`inbackend=`).
pub(crate) fn backend_variety(name: &[u8]) -> KeyVariety {
    KeyVariety::from_name(name)
}

/// The name of a trust level as `copies=` spells it.
pub fn copies_filter_text(f: &CopiesFilter) -> Vec<u8> {
    match f {
        CopiesFilter::All => Vec::new(),
        CopiesFilter::Trust(t) => trust_name(*t).as_bytes().to_vec(),
        CopiesFilter::TrustOrMore(t) => format!("{}+", trust_name(*t)).into_bytes(),
        CopiesFilter::Group(g) => g.clone(),
    }
}
