//! Sim files: the language of `git annex sim` (one command a line, words
//! separated by white space, `#` or `--` starting a comment line), parsed
//! into [`Command`]s and printed back ([`generate`]) the way the
//! reference's sim log prints them, so that a log is itself a sim file.
//!
//! A bad line is a [`ParseError`] naming its line (in a file), the word at
//! fault and the reference's message for it.
//!
//! ```
//! use annex_sim::file::{parse, generate, Command};
//! let cs = parse("init foo\nadd a.x 1mb foo\n").unwrap();
//! assert!(matches!(cs[0], Command::Init(ref n) if n == "foo"));
//! assert_eq!(generate(&cs), "init foo\nadd a.x 1.0MB foo\n");
//! let e = parse("init foo\nstep x\n").unwrap_err();
//! assert_eq!((e.line, e.word.as_str()), (Some(2), "x"));
//! assert_eq!(e.message, "Unable to parse step value \"x\"");
//! ```

use annex_core::logs::trust::TrustLevel;

/// Connections between repositories, as written: `a -> b` makes `b` a
/// remote of `a`, `a <- b` makes `a` a remote of `b`, `a <-> b` both; a
/// chain continues to the right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connections {
    /// `repo -> remote`.
    To(String, String),
    /// `remote <- repo`.
    From(String, String),
    /// `a <-> b`.
    Both(String, String),
    /// `repo -> (chain)`: the chain's leftmost repository is a remote of
    /// `repo`.
    ToChain(String, Box<Connections>),
    /// `remote <- (chain)`: `remote` is a remote of the chain's leftmost.
    FromChain(String, Box<Connections>),
    /// `repo <-> (chain)`.
    BothChain(String, Box<Connections>),
}

impl Connections {
    /// The leftmost repository of the chain.
    pub fn left(&self) -> &str {
        match self {
            Connections::To(a, _)
            | Connections::From(a, _)
            | Connections::Both(a, _)
            | Connections::ToChain(a, _)
            | Connections::FromChain(a, _)
            | Connections::BothChain(a, _) => a,
        }
    }

    /// The first link (repository, its remote) and the rest of the chain.
    pub fn first(&self) -> (String, String, Option<Connections>) {
        match self {
            Connections::To(r, rm) => (r.clone(), rm.clone(), None),
            Connections::From(rm, r) => (r.clone(), rm.clone(), None),
            Connections::Both(a, b) => (
                a.clone(),
                b.clone(),
                Some(Connections::To(b.clone(), a.clone())),
            ),
            Connections::ToChain(r, c) => (r.clone(), c.left().to_string(), Some((**c).clone())),
            Connections::FromChain(rm, c) => {
                (c.left().to_string(), rm.clone(), Some((**c).clone()))
            }
            Connections::BothChain(r, c) => (
                r.clone(),
                c.left().to_string(),
                Some(Connections::ToChain(r.clone(), c.clone())),
            ),
        }
    }

    fn words(&self, out: &mut Vec<String>) {
        let mut c = self;
        loop {
            let (a, arrow, next) = match c {
                Connections::To(a, b) => (a, "->", Err(b)),
                Connections::From(a, b) => (a, "<-", Err(b)),
                Connections::Both(a, b) => (a, "<->", Err(b)),
                Connections::ToChain(a, n) => (a, "->", Ok(n)),
                Connections::FromChain(a, n) => (a, "<-", Ok(n)),
                Connections::BothChain(a, n) => (a, "<->", Ok(n)),
            };
            out.push(a.clone());
            out.push(arrow.to_string());
            match next {
                Err(b) => {
                    out.push(b.clone());
                    return;
                }
                Ok(n) => c = n,
            }
        }
    }
}

/// What `action` simulates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `action repo pull remote`: gitpull, getwanted, dropunwanted.
    Pull(String, String),
    /// `action repo push remote`: sendwanted, dropunwantedfrom, gitpush.
    Push(String, String),
    /// `action repo sync remote`: gitpull, getwanted, sendwanted,
    /// dropunwantedfrom, gitpush.
    Sync(String, String),
    /// `action repo getwanted remote`.
    GetWanted(String, String),
    /// `action repo dropunwanted` (`None`) or `dropunwantedfrom remote`.
    DropUnwanted(String, Option<String>),
    /// `action repo sendwanted remote`.
    SendWanted(String, String),
    /// `action repo gitpush remote`.
    GitPush(String, String),
    /// `action repo gitpull remote`.
    GitPull(String, String),
    /// `action ... while action ... [while ...]`: two or more actions
    /// (none a `While`) interleaved.
    While(Vec<Action>),
}

impl Action {
    fn words(&self, out: &mut Vec<String>) {
        let mut push = |r: &str, verb: &str, rm: Option<&str>| {
            out.push("action".into());
            out.push(r.into());
            out.push(verb.into());
            if let Some(rm) = rm {
                out.push(rm.into());
            }
        };
        match self {
            Action::Pull(r, rm) => push(r, "pull", Some(rm)),
            Action::Push(r, rm) => push(r, "push", Some(rm)),
            Action::Sync(r, rm) => push(r, "sync", Some(rm)),
            Action::GetWanted(r, rm) => push(r, "getwanted", Some(rm)),
            Action::DropUnwanted(r, Some(rm)) => push(r, "dropunwantedfrom", Some(rm)),
            Action::DropUnwanted(r, None) => push(r, "dropunwanted", None),
            Action::SendWanted(r, rm) => push(r, "sendwanted", Some(rm)),
            Action::GitPush(r, rm) => push(r, "gitpush", Some(rm)),
            Action::GitPull(r, rm) => push(r, "gitpull", Some(rm)),
            Action::While(actions) => {
                for (i, a) in actions.iter().enumerate() {
                    if i > 0 {
                        out.push("while".into());
                    }
                    a.words(out);
                }
            }
        }
    }
}

/// One sim command (a line of a sim file).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // each variant is the command of the same name
pub enum Command {
    Init(String),
    InitRemote(String),
    /// `use name what`: an existing repository, by remote name, UUID, ...
    Use(String, String),
    Connect(Connections),
    Disconnect(Connections),
    /// `addtree repo expression`.
    AddTree(String, String),
    /// `add file size repo...`.
    Add(String, u64, Vec<String>),
    /// `addmulti n suffix minsize maxsize repo...`.
    AddMulti(i64, String, u64, u64, Vec<String>),
    Step(i64),
    StepStable(i64),
    Action(Action),
    Seed(i64),
    /// `present repo file`.
    Present(String, String),
    /// `notpresent repo file`.
    NotPresent(String, String),
    NumCopies(i64),
    MinCopies(i64),
    TrustLevel(String, TrustLevel),
    Group(String, String),
    Ungroup(String, String),
    /// `metadata file field=value`.
    MetaData(String, String),
    Wanted(String, String),
    Required(String, String),
    GroupWanted(String, String),
    RandomWanted(String, Vec<String>),
    RandomRequired(String, Vec<String>),
    RandomGroupWanted(String, Vec<String>),
    MaxSize(String, u64),
    Rebalance(bool),
    /// `clusternode nodename repo`.
    ClusterNode(String, String),
    /// `visit repo [command...]`.
    Visit(String, Vec<String>),
    /// A comment line, as written.
    Comment(String),
    Blank,
}

/// A line that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line.map(|l| format!("line {l}, at \"{word}\": ")).unwrap_or_default())]
pub struct ParseError {
    /// The line (from 1) in a sim file; `None` for a command given alone.
    pub line: Option<usize>,
    /// The word at fault (the whole line when no one word is).
    pub word: String,
    /// The reference's message.
    pub message: String,
}

fn err<T>(word: &str, message: String) -> Result<T, ParseError> {
    Err(ParseError {
        line: None,
        word: word.to_string(),
        message,
    })
}

/// Haskell's `isSpace` on a character.
fn is_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{a0}'
}

/// Splits as Haskell's `words`.
pub fn words(s: &str) -> Vec<String> {
    s.split(is_space)
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parses a sim file.
pub fn parse(content: &str) -> Result<Vec<Command>, ParseError> {
    // Haskell's `lines`: split on newlines, a final newline ends the last.
    let mut lines: Vec<&str> = content.split('\n').collect();
    if content.ends_with('\n') || content.is_empty() {
        lines.pop();
    }
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            parse_line(l).map_err(|mut e| {
                e.line = Some(i + 1);
                e
            })
        })
        .collect()
}

/// Parses one line of a sim file.
pub fn parse_line(s: &str) -> Result<Command, ParseError> {
    if s.starts_with('#') || s.starts_with("--") {
        Ok(Command::Comment(s.to_string()))
    } else if s.chars().all(is_space) {
        Ok(Command::Blank)
    } else {
        parse_command(&words(s))
    }
}

/// Haskell's `readMaybe` for an `Int` (wrapping as `read` does).
fn read_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut n: i64 = 0;
    for b in digits.bytes() {
        n = n.wrapping_mul(10).wrapping_add(i64::from(b - b'0'));
    }
    Some(if neg { n.wrapping_neg() } else { n })
}

fn read_size(s: &str) -> Option<u64> {
    let n = annex_core::units::read_size(s.as_bytes())?;
    // Sizes are kept as counts of bytes; a negative size is none at all.
    Some(u64::try_from(n.max(0)).unwrap_or(u64::MAX))
}

fn size_arg(s: &str, what: &str) -> Result<u64, ParseError> {
    match read_size(s) {
        Some(n) => Ok(n),
        None => err(s, format!("Unable to parse {what} \"{s}\"")),
    }
}

fn int_arg(s: &str, what: &str) -> Result<i64, ParseError> {
    match read_int(s) {
        Some(n) => Ok(n),
        None => err(s, format!("Unable to parse {what} \"{s}\"")),
    }
}

/// The trust level names the reference reads.
pub fn read_trust_level(s: &str) -> Option<TrustLevel> {
    match s {
        "trusted" => Some(TrustLevel::Trusted),
        "untrusted" => Some(TrustLevel::Untrusted),
        "semitrusted" => Some(TrustLevel::SemiTrusted),
        "dead" => Some(TrustLevel::Dead),
        _ => None,
    }
}

fn parse_error<T>(ws: &[String]) -> Result<T, ParseError> {
    let line = ws.join(" ");
    err(&line, format!("Unable to parse sim command: \"{line}\""))
}

/// Parses a command given as words (a line of a sim file, or the
/// parameters of `git annex sim`).
pub fn parse_command(ws: &[String]) -> Result<Command, ParseError> {
    let w: Vec<&str> = ws.iter().map(String::as_str).collect();
    let s = |x: &str| x.to_string();
    let rest = |from: usize| ws[from..].to_vec();
    Ok(match w.as_slice() {
        ["init", name] => Command::Init(s(name)),
        ["initremote", name] => Command::InitRemote(s(name)),
        ["use", name, ..] => Command::Use(s(name), ws[2..].join(" ")),
        ["connect", ..] => Command::Connect(parse_connections(&ws[1..])?),
        ["disconnect", ..] => Command::Disconnect(parse_connections(&ws[1..])?),
        ["addtree", name, ..] => Command::AddTree(s(name), ws[2..].join(" ")),
        ["add", file, size, ..] => Command::Add(s(file), size_arg(size, "file size")?, rest(3)),
        ["addmulti", num, suffix, minsize, maxsize, ..] => {
            let min = size_arg(minsize, "file size")?;
            let max = size_arg(maxsize, "file size")?;
            let n = int_arg(num, "number")?;
            // The reference loops for ever on a count below 1.
            if n < 1 {
                return err(
                    num,
                    format!("addmulti needs a number of files of at least 1, not {num}"),
                );
            }
            Command::AddMulti(n, s(suffix), min, max, rest(5))
        }
        ["step", n] => Command::Step(int_arg(n, "step value")?),
        ["stepstable", n] => Command::StepStable(int_arg(n, "step value")?),
        ["action", ..] => Command::Action(parse_action(ws)?),
        ["seed", n] => Command::Seed(int_arg(n, "seed value")?),
        ["present", repo, file] => Command::Present(s(repo), s(file)),
        ["notpresent", repo, file] => Command::NotPresent(s(repo), s(file)),
        ["numcopies", n] => Command::NumCopies(int_arg(n, "numcopies value")?),
        ["mincopies", n] => Command::MinCopies(int_arg(n, "mincopies value")?),
        ["trustlevel", repo, t] => match read_trust_level(t) {
            Some(l) => Command::TrustLevel(s(repo), l),
            None => return err(t, format!("Unknown trust level \"{t}\".")),
        },
        ["group", repo, g] => Command::Group(s(repo), s(g)),
        ["ungroup", repo, g] => Command::Ungroup(s(repo), s(g)),
        ["metadata", file, m] => Command::MetaData(s(file), s(m)),
        ["wanted", repo, ..] => Command::Wanted(s(repo), ws[2..].join(" ")),
        ["required", repo, ..] => Command::Required(s(repo), ws[2..].join(" ")),
        ["groupwanted", g, ..] => Command::GroupWanted(s(g), ws[2..].join(" ")),
        ["randomwanted", repo, ..] => Command::RandomWanted(s(repo), rest(2)),
        ["randomrequired", repo, ..] => Command::RandomRequired(s(repo), rest(2)),
        ["randomgroupwanted", g, ..] => Command::RandomGroupWanted(s(g), rest(2)),
        ["maxsize", repo, size] => Command::MaxSize(s(repo), size_arg(size, "maxsize")?),
        ["clusternode", node, repo] => Command::ClusterNode(s(node), s(repo)),
        ["rebalance", v] => match annex_core::config::parse_bool(v.as_bytes()) {
            Some(b) => Command::Rebalance(b),
            None => return err(v, format!("Unable to parse rebalance value \"{v}\"")),
        },
        ["visit", repo, ..] => Command::Visit(s(repo), rest(2)),
        _ => return parse_error(ws),
    })
}

fn parse_action(ws: &[String]) -> Result<Action, ParseError> {
    // Iterative over `while`: a long chain must not recurse.
    let mut actions = Vec::new();
    let mut i = 0;
    loop {
        let w: Vec<&str> = ws[i..].iter().map(String::as_str).collect();
        let (a, used) = match w.as_slice() {
            ["action", r, verb, rest @ ..] => {
                let (r, v) = (r.to_string(), *verb);
                let remote = rest.first().map(|x| x.to_string());
                match (v, remote) {
                    ("dropunwanted", _) => (Action::DropUnwanted(r, None), 3),
                    ("pull", Some(rm)) => (Action::Pull(r, rm), 4),
                    ("push", Some(rm)) => (Action::Push(r, rm), 4),
                    ("sync", Some(rm)) => (Action::Sync(r, rm), 4),
                    ("getwanted", Some(rm)) => (Action::GetWanted(r, rm), 4),
                    ("sendwanted", Some(rm)) => (Action::SendWanted(r, rm), 4),
                    ("dropunwantedfrom", Some(rm)) => (Action::DropUnwanted(r, Some(rm)), 4),
                    ("gitpush", Some(rm)) => (Action::GitPush(r, rm), 4),
                    ("gitpull", Some(rm)) => (Action::GitPull(r, rm), 4),
                    _ => return parse_error(&ws[i..]),
                }
            }
            _ => return parse_error(&ws[i..]),
        };
        actions.push(a);
        i += used;
        match ws.get(i).map(String::as_str) {
            None => break,
            Some("while") => i += 1,
            Some(_) => return parse_error(&ws[i..]),
        }
    }
    match actions.len() {
        0 => parse_error(ws),
        1 => Ok(actions.remove(0)),
        _ => Ok(Action::While(actions)),
    }
}

fn parse_connections(ws: &[String]) -> Result<Connections, ParseError> {
    let bad = |rest: &[String]| -> Result<Connections, ParseError> {
        // The words as the reference shows them: from the right.
        let near = rest.join(" ");
        err(&near, format!("Bad connect syntax near \"{near}\""))
    };
    // Read from the right, as the reference does.
    let rev: Vec<String> = ws.iter().rev().cloned().collect();
    let mut c = match rev.as_slice() {
        [r2, arrow, r1, ..] => match arrow.as_str() {
            "->" => Connections::To(r1.clone(), r2.clone()),
            "<-" => Connections::From(r1.clone(), r2.clone()),
            "<->" => Connections::Both(r1.clone(), r2.clone()),
            _ => return bad(&rev),
        },
        _ => return bad(&rev),
    };
    let mut rest = &rev[3..];
    while !rest.is_empty() {
        match rest {
            [arrow, r, more @ ..] => {
                c = match arrow.as_str() {
                    "->" => Connections::ToChain(r.clone(), Box::new(c)),
                    "<-" => Connections::FromChain(r.clone(), Box::new(c)),
                    "<->" => Connections::BothChain(r.clone(), Box::new(c)),
                    _ => return bad(rest),
                };
                rest = more;
            }
            _ => return bad(rest),
        }
    }
    Ok(c)
}

/// A size as the sim log shows it (the reference's precise size, short
/// units, no space: `1.0MB`, `100.5kB`).
pub fn show_size(n: u64) -> String {
    let units = &annex_core::units::STORAGE_UNITS;
    let n = u128::from(n);
    let unit = units.iter().find(|u| n >= u.size).or(units.last()).copied();
    let (size, abbrev) = unit.map_or((1, "B"), |u| (u.size, u.abbrev));
    let v = n as f64 / size as f64;
    let mut s = format!("{v}");
    if !s.contains('.') && !s.contains('e') && !s.contains("inf") && !s.contains("NaN") {
        s.push_str(".0");
    }
    format!("{s}{abbrev}")
}

/// The words of a command as the log prints it.
pub fn command_words(c: &Command) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let s = |x: &str| x.to_string();
    let mut with = |head: &str, rest: &[&str]| {
        out.push(s(head));
        out.extend(rest.iter().map(|x| s(x)));
    };
    match c {
        Command::Init(n) => with("init", &[n]),
        Command::InitRemote(n) => with("initremote", &[n]),
        Command::Use(n, what) => with("use", &[n, what]),
        Command::Connect(cs) => {
            out.push(s("connect"));
            cs.words(&mut out);
        }
        Command::Disconnect(cs) => {
            out.push(s("disconnect"));
            cs.words(&mut out);
        }
        Command::AddTree(n, e) => with("addtree", &[n, e]),
        Command::Add(f, size, repos) => {
            with("add", &[f, &show_size(*size)]);
            out.extend(repos.iter().cloned());
        }
        Command::AddMulti(n, suffix, min, max, repos) => {
            with(
                "addmulti",
                &[&n.to_string(), suffix, &show_size(*min), &show_size(*max)],
            );
            out.extend(repos.iter().cloned());
        }
        Command::Step(n) => with("step", &[&n.to_string()]),
        Command::StepStable(n) => with("stepstable", &[&n.to_string()]),
        Command::Action(a) => a.words(&mut out),
        Command::Seed(n) => with("seed", &[&n.to_string()]),
        Command::Present(r, f) => with("present", &[r, f]),
        Command::NotPresent(r, f) => with("notpresent", &[r, f]),
        Command::NumCopies(n) => with("numcopies", &[&n.to_string()]),
        Command::MinCopies(n) => with("mincopies", &[&n.to_string()]),
        Command::TrustLevel(r, t) => with("trustlevel", &[r, t.name()]),
        Command::Group(r, g) => with("group", &[r, g]),
        Command::Ungroup(r, g) => with("ungroup", &[r, g]),
        Command::MetaData(f, m) => with("metadata", &[f, m]),
        Command::Wanted(r, e) => with("wanted", &[r, e]),
        Command::Required(r, e) => with("required", &[r, e]),
        Command::GroupWanted(g, e) => with("groupwanted", &[g, e]),
        Command::RandomWanted(r, ts) => {
            with("randomwanted", &[r]);
            out.extend(ts.iter().cloned());
        }
        Command::RandomRequired(r, ts) => {
            with("randomrequired", &[r]);
            out.extend(ts.iter().cloned());
        }
        Command::RandomGroupWanted(g, ts) => {
            with("randomgroupwanted", &[g]);
            out.extend(ts.iter().cloned());
        }
        Command::MaxSize(r, n) => with("maxsize", &[r, &show_size(*n)]),
        Command::Rebalance(b) => with("rebalance", &[if *b { "on" } else { "off" }]),
        Command::ClusterNode(n, r) => with("clusternode", &[n, r]),
        Command::Visit(r, ps) => {
            with("visit", &[r]);
            out.extend(ps.iter().cloned());
        }
        Command::Comment(t) => out.push(t.clone()),
        Command::Blank => out.push(String::new()),
    }
    out
}

/// Prints commands as a sim file (the log `sim show` prints).
pub fn generate(cs: &[Command]) -> String {
    let mut out = String::new();
    for c in cs {
        out.push_str(&command_words(c).join(" "));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> Result<Command, ParseError> {
        parse_line(s)
    }

    /// Regression: `addmulti` with a count below 1 looped for ever.
    #[test]
    fn addmulti_below_one_file_is_refused() {
        for n in ["0", "-3"] {
            let e = p(&format!("addmulti {n} .x 1kB 2kB foo")).expect_err("refused");
            assert_eq!(e.word, n);
        }
        assert!(p("addmulti 1 .x 1kB 2kB foo").is_ok());
    }

    #[test]
    fn every_command_parses() {
        let src = "\
init foo
initremote baz
use myrepo here
connect foo <-> bar -> baz <- qux
disconnect foo -> bar
addtree foo include=*.mp3 and largerthan=1mb
add bigfile 100gb bar foo
addmulti 10 .x 100.0kB 10.0MB foo
step 10
stepstable 40
action foo pull bar
action foo dropunwanted while action bar getwanted foo while action bar sync foo
seed -4592890916829221843
present foo bigfile
notpresent foo bigfile
numcopies 2
mincopies 1
trustlevel foo untrusted
group foo client
ungroup foo client
metadata bigfile year=2025
wanted bar standard
required bar include=*
groupwanted client exclude=*.iso
randomwanted bar largerthan=1MB include=*.x anything present
randomrequired bar present
randomgroupwanted client anything
maxsize bar 20gb
rebalance on
clusternode cluster-node1 node1
visit foo git-annex whereis
-- a comment  
# another

";
        let cs = parse(src).expect("parses");
        assert_eq!(cs.len(), src.lines().count());
        assert_eq!(cs[3].clone(), {
            Command::Connect(Connections::BothChain(
                "foo".into(),
                Box::new(Connections::ToChain(
                    "bar".into(),
                    Box::new(Connections::From("baz".into(), "qux".into())),
                )),
            ))
        });
        // The log prints it back the same (sizes in the reference's form).
        let again = generate(&cs);
        assert!(again.contains("add bigfile 100.0GB bar foo\n"));
        assert!(again.contains("addmulti 10 .x 100.0kB 10.0MB foo\n"));
        assert!(again.contains("-- a comment  \n"));
        assert_eq!(parse(&again).expect("reparses"), cs);
    }

    #[test]
    fn errors_name_line_and_word() {
        let e = parse("init a\n\nadd f 3parsecs a\n").unwrap_err();
        assert_eq!(e.line, Some(3));
        assert_eq!(e.word, "3parsecs");
        assert_eq!(
            e.to_string(),
            "line 3, at \"3parsecs\": Unable to parse file size \"3parsecs\""
        );
        let e = p("trustlevel a sorta").unwrap_err();
        assert_eq!(e.message, "Unknown trust level \"sorta\".");
        let e = p("connect a => b").unwrap_err();
        assert_eq!(e.message, "Bad connect syntax near \"b => a\"");
        let e = p("connect a -> b c").unwrap_err();
        assert_eq!(e.message, "Bad connect syntax near \"c b -> a\"");
        let e = p("frobnicate x").unwrap_err();
        assert_eq!(e.message, "Unable to parse sim command: \"frobnicate x\"");
        let e = p("action a getwanted b whilst action b getwanted a").unwrap_err();
        assert_eq!(
            e.message,
            "Unable to parse sim command: \"whilst action b getwanted a\""
        );
        let e = p("rebalance maybe").unwrap_err();
        assert_eq!(e.message, "Unable to parse rebalance value \"maybe\"");
        let e = p("init").unwrap_err();
        assert_eq!(e.message, "Unable to parse sim command: \"init\"");
    }

    #[test]
    fn sizes_show_as_the_reference() {
        assert_eq!(show_size(0), "0.0B");
        assert_eq!(show_size(500), "500.0B");
        assert_eq!(show_size(1_000_000), "1.0MB");
        assert_eq!(show_size(1_500_000_000), "1.5GB");
        assert_eq!(show_size(123_456), "123.456kB");
    }

    #[test]
    fn long_while_chain_parses() {
        let one = "action a getwanted b";
        let line = vec![one; 20_000].join(" while ");
        let c = p(&line).expect("parses");
        assert_eq!(command_words(&c).join(" "), line);
    }

    proptest! {
        /// No input makes the parser panic, and what parses prints back to
        /// a line that parses to the same command.
        #[test]
        fn any_line_parses_or_errors(s in "[a-z0-9 <>=*.-]{0,60}") {
            if let Ok(c) = parse_line(&s) {
                let printed = command_words(&c).join(" ");
                if !matches!(c, Command::Add(..) | Command::AddMulti(..) | Command::MaxSize(..)) {
                    prop_assert_eq!(parse_line(&printed).ok(), Some(c));
                }
            }
        }

        /// Commands made from words round-trip through the log.
        #[test]
        fn generated_commands_round_trip(
            names in proptest::collection::vec("[a-z][a-z0-9]{0,5}", 2..6),
            n in 0i64..1000,
            size in 0u64..10_000_000_000_000,
        ) {
            let cs = vec![
                Command::Init(names[0].clone()),
                Command::Step(n),
                Command::Add(format!("{}.x", names[1]), size, names.clone()),
                Command::Connect(Connections::ToChain(names[0].clone(), Box::new(Connections::Both(names[1].clone(), names[0].clone())))),
                Command::Action(Action::While(vec![Action::GetWanted(names[0].clone(), names[1].clone()), Action::DropUnwanted(names[1].clone(), None)])),
            ];
            let text = generate(&cs);
            let back = parse(&text).expect("reparses");
            prop_assert_eq!(back.len(), cs.len());
            for (a, b) in back.iter().zip(&cs) {
                match (a, b) {
                    (Command::Add(f1, s1, r1), Command::Add(f2, s2, r2)) => {
                        prop_assert_eq!(f1, f2);
                        prop_assert_eq!(r1, r2);
                        // Printed with f64 precision: within a millionth.
                        let d = (*s1 as f64 - *s2 as f64).abs();
                        prop_assert!(d <= (*s2 as f64) * 1e-6 + 1.0);
                    }
                    _ => prop_assert_eq!(a, b),
                }
            }
        }
    }
}
