//! `find [PATH...]`: the annexed files whose content is present here, or,
//! with matching options (`--in`, `--copies`, `--include`, `--want-get`,
//! `--and`/`--or`/`--not`/`-(`/`-)`, ...: [`crate::matching`]), those the
//! options select; printed one a line, through a `--format` (`--print0`),
//! or as JSON (the key's fields and the file); `--batch` (`-z`) checks files
//! read from stdin.
//!
//! Files are read from the index in git's order and printed as they come;
//! the matching options are evaluated by the preferred-content engine over
//! the repository's logs.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};

use annex_core::key::Key;
use annex_core::objects::{hash_dir_lower, hash_dir_mixed};
use annex_core::preferred::{Expr, Item, StateContext};

use crate::action::{CommonArgs, OutputArgs};
use crate::context::Ctx;
use crate::error::CommandError;
use crate::matching::Matching;

use super::examinekey::{Format, format_vars, human_size};
use super::whereis::{Shown, lookup_file, os_bytes, os_str, seek_each, seek_each_par};

/// Arguments of `find`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories.
    paths: Vec<OsString>,
    /// Custom output: `${file}`, `${key}`, `${backend}`, `${bytesize}`,
    /// `${humansize}`, `${keyname}`, `${hashdirlower}`, `${hashdirmixed}`,
    /// `${mtime}`, `${escaped_VAR}`, `${VAR;width}`, and C escapes.
    #[arg(long, value_name = "FORMAT", conflicts_with = "print0")]
    format: Option<OsString>,
    /// Separate file names with NUL rather than newlines.
    #[arg(long)]
    print0: bool,
    /// Read file names from stdin, one a line.
    #[arg(long)]
    batch: bool,
    /// With `--batch`, input items end with NUL instead of newline.
    #[arg(short = 'z')]
    z: bool,
    /// The file matching options (`--in`, `--copies`, `--include`, ...).
    #[command(flatten)]
    matching: crate::matching::MatchingArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// `encode_c (const False)`: control characters, `\` and DEL escaped.
pub(super) fn escape_for_terminal(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    for &c in b {
        let e = match c {
            0x07 => Some(b'a'),
            0x08 => Some(b'b'),
            0x0c => Some(b'f'),
            b'\n' => Some(b'n'),
            b'\r' => Some(b'r'),
            b'\t' => Some(b't'),
            0x0b => Some(b'v'),
            b'\\' => Some(b'\\'),
            _ => None,
        };
        match e {
            Some(e) => out.extend_from_slice(&[b'\\', e]),
            None if c < 0x20 || c == 0x7f => out.extend_from_slice(format!("\\{c:03o}").as_bytes()),
            None => out.push(c),
        }
    }
    out
}

struct Finder<'a> {
    ctx: &'a Ctx,
    /// The matching options with what they read (none given: the
    /// content must be present here).
    matching: Option<(Matching, StateContext<'a>, Option<Expr>)>,
    format: Option<Format>,
    json: bool,
    terminal: bool,
}

/// Lists the matching annexed files.
pub fn run(args: Args) -> Result<(), CommandError> {
    // find shows no side messages (merging, recording state).
    let ctx = Ctx::open(&args.common.config, true)?;
    if ctx.worktree.is_none() {
        return Err(CommandError::failed(super::whereis::BARE_REFUSAL));
    }
    let mut reporter = args.output.reporter("find");
    let matching = args.matching.matcher(&ctx)?;
    let format = if args.print0 {
        Some(Format::parse(b"${file}\0"))
    } else {
        args.format.as_deref().map(|f| Format::parse(&os_bytes(f)))
    };
    let finder = Finder {
        ctx: &ctx,
        matching,
        format,
        json: reporter.is_json(),
        terminal: std::io::stdout().is_terminal(),
    };
    let shown = Shown::new(&ctx);
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    if args.batch {
        if !args.paths.is_empty() {
            return Err(CommandError::failed(
                "Cannot mix --batch with file names on the command line",
            ));
        }
        crate::batch::for_each_item(args.z, |item| {
            let printed = match lookup_file(&ctx, std::path::Path::new(os_str(item)))? {
                Some(f) if finder.matches(&f.path, &f.key)? => {
                    finder.show(&mut out, &shown.path(&ctx, &f.path), &f.key)?
                }
                // Not annexed or not matching: an empty line, as git-annex answers.
                _ => false,
            };
            if !printed {
                out.write_all(b"\n").map_err(CommandError::from_write)?;
            }
            out.flush().map_err(CommandError::from_write)
        })?;
    } else if finder.matching.is_none() {
        // The default, content present here: one `readlink` and one
        // `stat` a file, on every core; printed in order.
        let store = &ctx.store;
        let present = |f: &annex_core::worktree::AnnexedFile| store.has(&f.key);
        let unmatched = seek_each_par(&ctx, &args.paths, &present, |f, _, present| {
            if present {
                finder.show(&mut out, &shown.path_cow(&ctx, &f.path), &f.key)?;
            }
            Ok(())
        })?;
        for _ in 0..unmatched {
            reporter.count_failure();
        }
    } else {
        let unmatched = seek_each(&ctx, &args.paths, |f, _| {
            if finder.matches(&f.path, &f.key)? {
                finder.show(&mut out, &shown.path(&ctx, &f.path), &f.key)?;
            }
            Ok(())
        })?;
        for _ in 0..unmatched {
            reporter.count_failure();
        }
    }
    out.flush().map_err(CommandError::from_write)?;
    drop(out);
    crate::global::finish_size_limit(reporter.finish())
}

impl Finder<'_> {
    /// Whether the file (path from the top) and its key match the
    /// options; with none, whether its content is present here (find's
    /// default).
    fn matches(&self, path: &[u8], key: &Key) -> Result<bool, CommandError> {
        let Some((m, mctx, wanted)) = &self.matching else {
            return Ok(self.ctx.store.has(key));
        };
        m.matches(mctx, &Item::file(path, Some(key)), wanted.as_ref())
            .map_err(|e| CommandError::failed(e.to_string()))
    }

    /// Prints one file; returns whether something was printed.
    fn show(&self, out: &mut impl Write, file: &[u8], key: &Key) -> Result<bool, CommandError> {
        // `--time-limit`: no more files once it ran out, as git-annex.
        if let Some(stop) = crate::global::time_limit_reached() {
            out.flush().map_err(CommandError::from_write)?;
            return Err(stop);
        }
        if !crate::global::size_limit_admits_key(&self.ctx.store, key) {
            return Ok(false);
        }
        if self.json {
            write_json(out, key, file).map_err(CommandError::from_write)?;
            return Ok(true);
        }
        match &self.format {
            Some(f) => {
                let text = f.expand(&format_vars(key, Some(file)));
                out.write_all(&text).map_err(CommandError::from_write)?;
            }
            None if self.terminal => {
                let mut t = escape_for_terminal(file);
                t.push(b'\n');
                out.write_all(&t).map_err(CommandError::from_write)?;
            }
            None => {
                out.write_all(file).map_err(CommandError::from_write)?;
                out.write_all(b"\n").map_err(CommandError::from_write)?;
            }
        }
        Ok(true)
    }
}

/// One file's JSON object, as git-annex's `find --json` prints it: the
/// fields of [`format_vars`] as strings (invalid UTF-8 replaced), and
/// `error-messages`, keys in sorted order, then a newline; written
/// straight out rather than through a map.
fn write_json(out: &mut impl Write, key: &Key, file: &[u8]) -> std::io::Result<()> {
    fn field(out: &mut impl Write, first: bool, name: &str, v: &[u8]) -> std::io::Result<()> {
        out.write_all(if first { b"{\"" } else { b",\"" })?;
        out.write_all(name.as_bytes())?;
        out.write_all(b"\":")?;
        let v = String::from_utf8_lossy(v);
        serde_json::to_writer(&mut *out, &*v).map_err(std::io::Error::other)
    }
    let unknown: &[u8] = b"unknown";
    let size = key.size();
    field(out, true, "backend", key.backend_name())?;
    match size {
        Some(s) => field(out, false, "bytesize", s.to_string().as_bytes())?,
        None => field(out, false, "bytesize", unknown)?,
    }
    out.write_all(b",\"error-messages\":[]")?;
    field(out, false, "file", file)?;
    field(out, false, "hashdirlower", hash_dir_lower(key).as_bytes())?;
    field(out, false, "hashdirmixed", hash_dir_mixed(key).as_bytes())?;
    match size {
        Some(s) => field(out, false, "humansize", human_size(s).as_bytes())?,
        None => field(out, false, "humansize", unknown)?,
    }
    field(out, false, "key", key.as_bytes())?;
    field(out, false, "keyname", key.name())?;
    match key.mtime() {
        Some(m) => field(out, false, "mtime", m.to_string().as_bytes())?,
        None => field(out, false, "mtime", unknown)?,
    }
    out.write_all(b"}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct JSON writer gives the bytes the map did (sorted keys,
    /// serde_json's escaping), for a key with and without a size and a
    /// file name that needs escaping or is not UTF-8.
    #[test]
    fn json_as_the_map_gives_it() {
        for (k, f) in [
            (&b"SHA256E-s1473--c6baf30694cece1c8932b07b90ae068d4f601e7b7b1aced49689a7e34d691ab4.txt"[..], &b"d0/f\"q\\\x01.txt"[..]),
            (b"WORM-m1700000000--foo", b"caf\xc3\xa9 \xff"),
            (b"URL--http&c%%example.com%a", b"x"),
        ] {
            let key = Key::parse(k).expect("key");
            let mut m = serde_json::Map::new();
            for (n, v) in format_vars(&key, Some(f)) {
                m.insert(n.to_owned(), serde_json::Value::String(crate::action::lossy(&v)));
            }
            m.insert("error-messages".into(), serde_json::Value::Array(Vec::new()));
            let mut want = serde_json::to_vec(&serde_json::Value::Object(m)).expect("json");
            want.push(b'\n');
            let mut got = Vec::new();
            write_json(&mut got, &key, f).expect("write");
            assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&want));
        }
    }

    #[test]
    fn terminal_escapes() {
        assert_eq!(
            escape_for_terminal(b"a\tb\\c\x01\xc3\xbc"),
            b"a\\tb\\\\c\\001\xc3\xbc"
        );
    }
}
