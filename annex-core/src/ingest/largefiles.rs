//! The large-files decision (`annex.largefiles`) behind a trait, with a
//! small matcher for the simple expressions.

use super::IngestError;

/// Decides whether a file is large (goes to the annex) or small (goes to
/// git): `annex.largefiles`. The full expression engine implements this;
/// [`SimpleLargeFiles`] covers the simple expressions, and any
/// `Fn(&[u8], u64) -> bool` closure is one.
pub trait LargeFilesMatcher: Send + Sync {
    /// Whether the file at `path_from_top`, of `size` bytes, is large.
    fn is_large(&self, path_from_top: &[u8], size: u64) -> bool;
}

impl<F: Fn(&[u8], u64) -> bool + Send + Sync> LargeFilesMatcher for F {
    fn is_large(&self, path_from_top: &[u8], size: u64) -> bool {
        self(path_from_top, size)
    }
}

/// A matcher for simple `annex.largefiles` expressions: the terms
/// `anything`, `nothing`, `include=GLOB`, `exclude=GLOB`, `largerthan=SIZE`,
/// `smallerthan=SIZE`, each optionally preceded by `not`, joined by `and`
/// (also implied between terms) and `or` (`and` binding tighter).
/// Parentheses and other terms are refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleLargeFiles {
    /// Or of ands of terms.
    alternatives: Vec<Vec<(bool, Term)>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Anything,
    Nothing,
    Include(Vec<u8>),
    Exclude(Vec<u8>),
    LargerThan(u64),
    SmallerThan(u64),
}

impl SimpleLargeFiles {
    /// Everything is large (git-annex's default when `annex.largefiles`
    /// is unset).
    pub fn anything() -> SimpleLargeFiles {
        SimpleLargeFiles {
            alternatives: vec![vec![(false, Term::Anything)]],
        }
    }

    /// Parses an expression.
    pub fn parse(expr: &[u8]) -> Result<SimpleLargeFiles, IngestError> {
        let bad = |detail: &str| IngestError::BadExpression {
            expr: String::from_utf8_lossy(expr).into_owned(),
            detail: detail.to_string(),
        };
        let mut alternatives = vec![Vec::new()];
        let mut negate = false;
        for tok in expr
            .split(|c| c.is_ascii_whitespace())
            .filter(|t| !t.is_empty())
        {
            match tok {
                b"and" => continue,
                b"or" => {
                    if alternatives.last().is_some_and(|a| a.is_empty()) {
                        return Err(bad("'or' without a term before it"));
                    }
                    alternatives.push(Vec::new());
                    continue;
                }
                b"not" => {
                    negate = !negate;
                    continue;
                }
                _ => {}
            }
            let term = match tok {
                b"anything" => Term::Anything,
                b"nothing" => Term::Nothing,
                _ => {
                    let Some(eq) = tok.iter().position(|&c| c == b'=') else {
                        return Err(bad(&format!(
                            "unsupported term {}",
                            String::from_utf8_lossy(tok)
                        )));
                    };
                    let (name, value) = (&tok[..eq], &tok[eq + 1..]);
                    match name {
                        b"include" => Term::Include(value.to_vec()),
                        b"exclude" => Term::Exclude(value.to_vec()),
                        b"largerthan" => {
                            Term::LargerThan(parse_size(value).ok_or_else(|| bad("bad size"))?)
                        }
                        b"smallerthan" => {
                            Term::SmallerThan(parse_size(value).ok_or_else(|| bad("bad size"))?)
                        }
                        _ => {
                            return Err(bad(&format!(
                                "unsupported term {}",
                                String::from_utf8_lossy(tok)
                            )));
                        }
                    }
                }
            };
            if let Some(a) = alternatives.last_mut() {
                a.push((negate, term));
            }
            negate = false;
        }
        if negate || alternatives.iter().any(|a| a.is_empty()) {
            return Err(bad("incomplete expression"));
        }
        Ok(SimpleLargeFiles { alternatives })
    }
}

impl LargeFilesMatcher for SimpleLargeFiles {
    fn is_large(&self, path: &[u8], size: u64) -> bool {
        self.alternatives.iter().any(|all| {
            all.iter().all(|(neg, t)| {
                let m = match t {
                    Term::Anything => true,
                    Term::Nothing => false,
                    Term::Include(g) => glob_match(g, path),
                    Term::Exclude(g) => !glob_match(g, path),
                    Term::LargerThan(n) => size > *n,
                    Term::SmallerThan(n) => size < *n,
                };
                m != *neg
            })
        })
    }
}

/// A size such as `100`, `10kb`, `1.5MiB` (git-annex's units: decimal
/// `kB`/`MB`/..., binary `KiB`/`MiB`/..., `B`; case-insensitive).
pub(crate) fn parse_size(s: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(s).ok()?.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = (&s[..split], s[split..].trim().to_ascii_lowercase());
    let n: f64 = num.parse().ok()?;
    let mult: f64 = match unit.as_str() {
        "" | "b" | "byte" | "bytes" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "p" | "pb" => 1e15,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0f64.powi(4),
        "pib" => 1024.0f64.powi(5),
        _ => return None,
    };
    let v = n * mult;
    (v.is_finite() && v >= 0.0).then_some(v as u64)
}

/// Glob matching as git-annex's (`*` matches any run of characters, `/`
/// included; `?` one character; `[...]` a class).
pub(crate) fn glob_match(glob: &[u8], s: &[u8]) -> bool {
    let (mut g, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        if g < glob.len() {
            match glob[g] {
                b'*' => {
                    star = Some((g, i));
                    g += 1;
                    continue;
                }
                b'?' => {
                    g += 1;
                    i += 1;
                    continue;
                }
                b'[' => {
                    if let Some((ok, next)) = class_match(&glob[g..], s[i])
                        && ok
                    {
                        g += next;
                        i += 1;
                        continue;
                    }
                }
                c => {
                    if c == s[i] {
                        g += 1;
                        i += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sg, si)) => {
                g = sg + 1;
                i = si + 1;
                star = Some((sg, si + 1));
            }
            None => return false,
        }
    }
    glob[g..].iter().all(|&c| c == b'*')
}

/// Matches `c` against a class at the start of `g` (`[...]`); returns
/// whether it matched and the class's length.
fn class_match(g: &[u8], c: u8) -> Option<(bool, usize)> {
    let end = g.iter().skip(2).position(|&x| x == b']')? + 2;
    let mut body = &g[1..end];
    let neg = matches!(body.first(), Some(b'!' | b'^'));
    if neg {
        body = &body[1..];
    }
    let mut hit = false;
    let mut k = 0;
    while k < body.len() {
        if k + 2 < body.len() && body[k + 1] == b'-' {
            hit |= body[k] <= c && c <= body[k + 2];
            k += 3;
        } else {
            hit |= body[k] == c;
            k += 1;
        }
    }
    Some((hit != neg, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_expressions() {
        let m = |e: &str, p: &str, s: u64| {
            SimpleLargeFiles::parse(e.as_bytes())
                .unwrap()
                .is_large(p.as_bytes(), s)
        };
        assert!(m("anything", "a", 0));
        assert!(!m("nothing", "a", 0));
        assert!(m("largerthan=3b", "a", 4));
        assert!(!m("largerthan=3b", "a", 3));
        assert!(m("include=*.bin or largerthan=1kb", "d/x.bin", 1));
        assert!(!m("include=*.bin and largerthan=1kb", "d/x.bin", 1));
        assert!(m("not include=*.txt", "a.dat", 1));
        assert!(!m("exclude=d/*", "d/e/f", 1));
        assert!(SimpleLargeFiles::parse(b"(anything)").is_err());
        assert!(SimpleLargeFiles::parse(b"or").is_err());
        assert_eq!(parse_size(b"1KiB"), Some(1024));
        assert_eq!(parse_size(b"2kb"), Some(2000));
        assert!(glob_match(b"[a-c]?", b"bz"));
        assert!(!glob_match(b"[!a-c]?", b"bz"));
    }
}
