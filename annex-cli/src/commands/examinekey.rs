//! `examinekey KEY...`: print what can be told from a key alone (its
//! fields, hash directories, object path and pointer), plainly, through a
//! `--format`, or as JSON; `--batch` reads keys from stdin.

use std::ffi::{OsStr, OsString};
use std::io::IsTerminal;
use std::path::{Component, Path, PathBuf};

use annex_core::key::Key;
use annex_core::objects::ObjectStore;
use annex_core::pointer::format_pointer;
use annex_core::repo::Repo;

use crate::error::CommandError;
use crate::output::outln;

/// Arguments of `examinekey`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Keys to examine; `KEY FILE` (a space between) also names a file.
    keys: Vec<OsString>,
    /// Custom output: `${var}`, `${var;width}`, `${var;-width}`,
    /// `${escaped_var}`, and C escapes such as `\n`.
    #[arg(long, value_name = "FORMAT")]
    format: Option<OsString>,
    /// Print a JSON record for each key.
    #[arg(long)]
    json: bool,
    /// Accepted for compatibility; errors still go to stderr.
    #[arg(long)]
    json_error_messages: bool,
    /// A file associated with the keys (the `${file}` variable).
    #[arg(long, value_name = "FILE")]
    filename: Option<OsString>,
    /// Migrate the key to another backend: not supported yet (an error).
    #[arg(long, value_name = "BACKEND")]
    migrate_to_backend: Option<String>,
    /// Read keys from stdin, one a line (`KEY` or `KEY FILE`).
    #[arg(long)]
    batch: bool,
    /// With `--batch`, input lines end with NUL instead of newline.
    #[arg(short = 'z')]
    z: bool,
}

/// Examines each key given, or each key read from stdin in batch mode.
pub fn run(args: Args) -> Result<(), CommandError> {
    if let Some(b) = &args.migrate_to_backend {
        return Err(CommandError::failed(format!(
            "--migrate-to-backend={b} is not supported by git-annex-rs yet"
        )));
    }
    let here = std::env::current_dir()
        .map_err(|e| CommandError::failed(format!("cannot read the current directory: {e}")))?;
    let repo = Repo::open(&here).map_err(|_| CommandError::failed("Not in a git repository."))?;
    let store = ObjectStore::open(repo.git_dir())?;
    // Inside the `.git` of a work tree, git-annex counts the directories
    // below `.git` as if they were below the top of the work tree.
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let (here_c, git_c) = (canon(&here), canon(repo.git_dir()));
    let base = match (repo.work_tree(), here_c.strip_prefix(&git_c)) {
        (Some(top), Ok(below)) => canon(top).join(below),
        _ => here.clone(),
    };
    let git_dir_rel = relative_git_dir(&base, repo.git_dir());
    let format = args.format.as_deref().map(|f| Format::parse(&os_bytes(f)));
    let terminal = std::io::stdout().is_terminal();
    let filename = args.filename.as_deref().map(os_bytes);
    let ctx = Context {
        store: &store,
        git_dir_rel: &git_dir_rel,
        format: format.as_ref(),
        json: args.json,
        terminal,
        filename: filename.as_deref(),
    };
    if args.batch {
        crate::batch::for_each_item(args.z, |line| ctx.examine(line))?;
    } else {
        for k in &args.keys {
            ctx.examine(&os_bytes(k))?;
        }
    }
    Ok(())
}

struct Context<'a> {
    store: &'a ObjectStore,
    git_dir_rel: &'a Path,
    format: Option<&'a Format>,
    json: bool,
    terminal: bool,
    filename: Option<&'a [u8]>,
}

impl Context<'_> {
    fn examine(&self, input: &[u8]) -> Result<(), CommandError> {
        let (key_part, file_part) = match input.iter().position(|&b| b == b' ') {
            Some(i) => (&input[..i], &input[i + 1..]),
            None => (input, &[][..]),
        };
        let key = Key::parse(key_part).map_err(|_| CommandError::failed("bad key"))?;
        let file = if file_part.is_empty() {
            self.filename
        } else {
            Some(file_part)
        };
        let vars = self.vars(&key, file);
        if self.json {
            let mut record = serde_json::Map::new();
            for (name, value) in &vars {
                record.insert(
                    (*name).to_owned(),
                    serde_json::Value::String(String::from_utf8_lossy(value).into_owned()),
                );
            }
            record.insert("error-messages".into(), serde_json::Value::Array(vec![]));
            return outln!("{}", serde_json::Value::Object(record));
        }
        match self.format {
            None => {
                let k = key.as_bytes();
                let mut shown = if self.terminal {
                    encode_c(k, |_| false)
                } else {
                    k.to_vec()
                };
                shown.push(b'\n');
                crate::output::bytes(&shown)
            }
            Some(f) => {
                let text = f.expand(&vars);
                crate::output::bytes(&text)
            }
        }
    }

    fn vars(&self, key: &Key, file: Option<&[u8]>) -> Vec<(&'static str, Vec<u8>)> {
        let object = self.git_dir_rel.join(
            self.store
                .location(key)
                .strip_prefix(self.store.git_dir())
                .unwrap_or(Path::new("")),
        );
        let mut vars = vec![
            ("objectpath", path_bytes(&object)),
            ("objectpointer", format_pointer(key)),
        ];
        // The key's own variables, as `find` gives them.
        vars.extend(format_vars(key, file));
        vars
    }
}

#[cfg(unix)]
fn os_bytes(s: &OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes().to_vec()
}

#[cfg(not(unix))]
fn os_bytes(s: &OsStr) -> Vec<u8> {
    s.to_string_lossy().into_owned().into_bytes()
}

#[cfg(unix)]
fn path_bytes(p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_bytes(p: &Path) -> Vec<u8> {
    p.to_string_lossy().into_owned().into_bytes()
}

/// The git dir as git-annex names it from the current directory: `.git`
/// at the top of a work tree, `../../.git` two levels down, `.` in a bare
/// repository.
fn relative_git_dir(cwd: &Path, git_dir: &Path) -> PathBuf {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let (cwd, git_dir) = (canon(cwd), canon(git_dir));
    let a: Vec<Component<'_>> = cwd.components().collect();
    let b: Vec<Component<'_>> = git_dir.components().collect();
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut rel = PathBuf::new();
    for _ in common..a.len() {
        rel.push("..");
    }
    for c in &b[common..] {
        rel.push(c);
    }
    if rel.as_os_str().is_empty() {
        rel.push(".");
    }
    rel
}

/// git-annex's short storage-unit size (`roughSize storageUnits True`):
/// `10 B`, `1.05 MB`, `18.45 EB`.
pub(crate) fn human_size(bytes: u64) -> String {
    annex_core::units::rough_size(&annex_core::units::STORAGE_UNITS, true, u128::from(bytes))
}

/// The variables of `--format` and `--json` for a key (and its file), as
/// git-annex's `find` gives them.
pub(super) fn format_vars(key: &Key, file: Option<&[u8]>) -> Vec<(&'static str, Vec<u8>)> {
    let unknown = || b"unknown".to_vec();
    let mut vars = Vec::with_capacity(10);
    if let Some(f) = file {
        vars.push(("file", f.to_vec()));
    }
    vars.extend([
        ("key", key.as_bytes().to_vec()),
        ("backend", key.backend_name().to_vec()),
        (
            "bytesize",
            key.size()
                .map_or_else(unknown, |s| s.to_string().into_bytes()),
        ),
        (
            "humansize",
            key.size()
                .map_or_else(unknown, |s| human_size(s).into_bytes()),
        ),
        ("keyname", key.name().to_vec()),
        (
            "hashdirlower",
            annex_core::objects::hash_dir_lower(key).into_bytes(),
        ),
        (
            "hashdirmixed",
            annex_core::objects::hash_dir_mixed(key).into_bytes(),
        ),
        (
            "mtime",
            key.mtime()
                .map_or_else(unknown, |m| m.to_string().into_bytes()),
        ),
    ]);
    vars
}

/// A parsed `--format` string.
pub(crate) struct Format {
    frags: Vec<Frag>,
}

enum Frag {
    Const(Vec<u8>),
    Var {
        name: String,
        justify: i64,
        escaped: bool,
    },
}

impl Format {
    /// Parses a format: C escapes are decoded first, then `${...}` found.
    pub(crate) fn parse(s: &[u8]) -> Format {
        let decoded = decode_c(s);
        let text: Vec<char> = decode_lossless(&decoded);
        let mut frags = Vec::new();
        let mut konst = String::new();
        let mut i = 0;
        while i < text.len() {
            if text[i] == '$' && text.get(i + 1) == Some(&'{') {
                // A variable name, then `}` or `;PAD}`.
                let mut j = i + 2;
                let mut name = String::new();
                let mut done = None;
                while j < text.len() {
                    let c = text[j];
                    if c == '}' {
                        done = Some((j + 1, 0));
                        break;
                    } else if c.is_alphanumeric() || c == '_' {
                        name.push(c);
                        j += 1;
                    } else if c == ';' {
                        let start = j + 1;
                        match text[start..].iter().position(|&c| c == '}') {
                            Some(p) => {
                                let pad: String = text[start..start + p].iter().collect();
                                done = Some((start + p + 1, read_int(&pad)));
                            }
                            // Unterminated: the rest is text.
                            None => j = text.len(),
                        }
                        break;
                    } else {
                        break;
                    }
                }
                match done {
                    Some((next, justify)) => {
                        if !konst.is_empty() {
                            frags.push(Frag::Const(std::mem::take(&mut konst).into_bytes()));
                        }
                        let (name, escaped) = match name.strip_prefix("escaped_") {
                            Some(n) => (n.to_owned(), true),
                            None => (name, false),
                        };
                        frags.push(Frag::Var {
                            name,
                            justify,
                            escaped,
                        });
                        i = next;
                    }
                    None => {
                        if j >= text.len() {
                            konst.extend(text[i..].iter());
                            i = text.len();
                        } else {
                            // The character that ended the name is text too.
                            konst.extend(text[i..=j].iter());
                            i = j + 1;
                        }
                    }
                }
            } else {
                konst.push(text[i]);
                i += 1;
            }
        }
        if !konst.is_empty() {
            frags.push(Frag::Const(konst.into_bytes()));
        }
        Format { frags }
    }

    /// The format with its variables filled in; unknown variables are empty.
    pub(crate) fn expand(&self, vars: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for f in &self.frags {
            match f {
                Frag::Const(c) => out.extend_from_slice(&encode_lossless(c)),
                Frag::Var {
                    name,
                    justify,
                    escaped,
                } => {
                    let value = vars
                        .iter()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.as_slice())
                        .unwrap_or(b"");
                    let value = if *escaped {
                        encode_c(value, |c| {
                            c >= 0x80 || c == b'"' || c.is_ascii_whitespace() || c == 0x0b
                        })
                    } else {
                        value.to_vec()
                    };
                    let width = justify.unsigned_abs() as usize;
                    let len = char_len(&value);
                    let pad = vec![b' '; width.saturating_sub(len)];
                    if *justify > 0 {
                        out.extend_from_slice(&pad);
                        out.extend_from_slice(&value);
                    } else {
                        out.extend_from_slice(&value);
                        out.extend_from_slice(&pad);
                    }
                }
            }
        }
        out
    }
}

/// Characters as git-annex counts them: UTF-8 code points, one per
/// invalid byte.
fn char_len(b: &[u8]) -> usize {
    b.utf8_chunks()
        .map(|c| c.valid().chars().count() + c.invalid().len())
        .sum()
}

/// Bytes to chars, keeping invalid bytes as private-use characters
/// (U+10FF00 + byte) so they come back out unchanged.
fn decode_lossless(b: &[u8]) -> Vec<char> {
    let mut out = Vec::new();
    for chunk in b.utf8_chunks() {
        out.extend(chunk.valid().chars());
        for &x in chunk.invalid() {
            out.push(char::from_u32(0x10FF00 + u32::from(x)).unwrap_or('\u{FFFD}'));
        }
    }
    out
}

/// The inverse of [`decode_lossless`].
fn encode_lossless(b: &[u8]) -> Vec<u8> {
    let s = String::from_utf8_lossy(b);
    let mut out = Vec::with_capacity(b.len());
    for c in s.chars() {
        let u = c as u32;
        if (0x10FF00..=0x10FFFF).contains(&u) {
            out.push((u - 0x10FF00) as u8);
        } else {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    out
}

/// The width of `${var;PAD}` as Haskell's `reads` takes an Int: optional
/// blanks and minus sign, decimal digits; anything unreadable is 0.
fn read_int(s: &str) -> i64 {
    let t = s.trim_start();
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r.trim_start()),
        None => (false, t),
    };
    let digits: String = t.chars().take_while(char::is_ascii_digit).collect();
    let rest = &t[digits.len()..];
    // A fraction or exponent makes the number not an Int.
    let mut r = rest.chars();
    let not_int = match (r.next(), r.next()) {
        (Some('.'), Some(d)) => d.is_ascii_digit(),
        (Some('e' | 'E'), Some(d)) => d.is_ascii_digit() || d == '-' || d == '+',
        _ => false,
    };
    if digits.is_empty() || not_int {
        return 0;
    }
    let v: i64 = digits.parse().unwrap_or(0).min(1 << 20);
    if neg { -v } else { v }
}

/// Decodes C escapes: `\n` and the like, `\NNN` octal and `\xNN` hex (the
/// character of that number, UTF-8 encoded); `\` before anything else
/// gives that thing.
fn decode_c(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    let push_char = |out: &mut Vec<u8>, v: u32| {
        let c = char::from_u32(v).unwrap_or('\u{FFFD}');
        let mut buf = [0; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    };
    while i < s.len() {
        if s[i] != b'\\' {
            out.push(s[i]);
            i += 1;
            continue;
        }
        let rest = &s[i..];
        if rest.len() >= 4
            && rest[1] == b'x'
            && rest[2].is_ascii_hexdigit()
            && rest[3].is_ascii_hexdigit()
        {
            let v = u32::from_str_radix(&String::from_utf8_lossy(&rest[2..4]), 16).unwrap_or(0);
            push_char(&mut out, v);
            i += 4;
        } else if rest.len() >= 4 && rest[1..4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = rest[1..4]
                .iter()
                .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
            push_char(&mut out, v);
            i += 4;
        } else if rest.len() >= 2 {
            out.push(match rest[1] {
                b'a' => 0x07,
                b'b' => 0x08,
                b'f' => 0x0c,
                b'n' => b'\n',
                b'r' => b'\r',
                b't' => b'\t',
                b'v' => 0x0b,
                c => c,
            });
            i += 2;
        } else {
            out.push(b'\\');
            i += 1;
        }
    }
    out
}

/// C-style escaping of control characters, `\`, DEL, and bytes matching
/// `p` (`"` as `\"`, others in octal).
fn encode_c(s: &[u8], p: impl Fn(u8) -> bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for &c in s {
        let simple = match c {
            0x07 => Some(b'a'),
            0x08 => Some(b'b'),
            0x0c => Some(b'f'),
            0x0a => Some(b'n'),
            0x0d => Some(b'r'),
            0x09 => Some(b't'),
            0x0b => Some(b'v'),
            b'\\' => Some(b'\\'),
            b'"' if p(c) => Some(b'"'),
            _ => None,
        };
        if let Some(e) = simple {
            out.extend_from_slice(&[b'\\', e]);
        } else if c < 0x20 || c == 0x7f || p(c) {
            out.extend_from_slice(format!("\\{c:03o}").as_bytes());
        } else {
            out.push(c);
        }
    }
    out
}
