//! `find [PATH...]`: the annexed files whose content is present here, or
//! those matching `--in` / `--copies`; printed one a line, through a
//! `--format` (`--print0`), or as JSON (the key's fields and the file);
//! `--batch` (`-z`) checks files read from stdin.
//!
//! Files are read from the index in git's order and printed as they come;
//! the branch is read through one [`Snapshot`] only when a limit needs the
//! location log.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};

use annex_core::branch::Snapshot;
use annex_core::key::Key;
use annex_core::objects::{hash_dir_lower, hash_dir_mixed};
use annex_core::uuid::Uuid;

use crate::action::{CommonArgs, OutputArgs};
use crate::context::Ctx;
use crate::error::CommandError;

use super::examinekey::{Format, human_size};
use super::whereis::{Repos, Shown, lookup_file, os_bytes, os_str, seek_each};

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
    /// Files whose content the repository has (here, a remote name, a
    /// description or a UUID).
    #[arg(long = "in", short = 'i', value_name = "REPOSITORY")]
    in_: Vec<String>,
    /// Files with at least this many copies (`N`, `TRUSTLEVEL:N`,
    /// `TRUSTLEVEL+:N`).
    #[arg(long, short = 'C', value_name = "N")]
    copies: Vec<String>,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// One limit of the file matcher. The preferred-content engine
/// (`crate::matching`) will take over the whole expression (`--include`,
/// `--exclude`, `--not`, `--and`, `--or`, ...); these are the limits `find`
/// supports until then, all required to hold.
enum Limit {
    /// `--in here`: the content is in this repository's annex.
    InHere,
    /// `--in REPO`: the location log lists the repository (not dead).
    In(Uuid),
    /// `--copies`: at least `n` copies among repositories passing `trust`.
    Copies {
        n: usize,
        trust: Option<(annex_core::logs::trust::TrustLevel, bool)>,
    },
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
        ("hashdirlower", hash_dir_lower(key).into_bytes()),
        ("hashdirmixed", hash_dir_mixed(key).into_bytes()),
        (
            "mtime",
            key.mtime()
                .map_or_else(unknown, |m| m.to_string().into_bytes()),
        ),
    ]);
    vars
}

/// `encode_c (const False)`: control characters, `\` and DEL escaped.
fn escape_for_terminal(b: &[u8]) -> Vec<u8> {
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
    snap: Option<Snapshot<'a>>,
    repos: Option<Repos>,
    limits: Vec<Limit>,
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
    let needs_log = !args.in_.is_empty() || !args.copies.is_empty();
    let snap = if needs_log {
        Some(Snapshot::new(ctx.state.branch())?)
    } else {
        None
    };
    let repos = match &snap {
        Some(s) => Some(Repos::load(&ctx, s)?),
        None => None,
    };
    let mut limits = Vec::new();
    if let Some(snap) = &snap {
        let descriptions =
            annex_core::logs::uuid::parse(&snap.get(annex_core::state::paths::UUID)?)
                .descriptions();
        for name in &args.in_ {
            let u = annex_core::config::resolve_repository(
                name,
                Some(ctx.here()),
                &ctx.config,
                &descriptions,
            )?;
            limits.push(if u == *ctx.here() {
                Limit::InHere
            } else {
                Limit::In(u)
            });
        }
    }
    for c in &args.copies {
        limits.push(parse_copies(c)?);
    }
    let format = if args.print0 {
        Some(Format::parse(b"${file}\0"))
    } else {
        args.format.as_deref().map(|f| Format::parse(&os_bytes(f)))
    };
    let finder = Finder {
        ctx: &ctx,
        snap,
        repos,
        limits,
        format,
        json: reporter.is_json(),
        terminal: std::io::stdout().is_terminal(),
    };
    let shown = Shown::new(&ctx);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if args.batch {
        if !args.paths.is_empty() {
            return Err(CommandError::failed(
                "Cannot mix --batch with file names on the command line",
            ));
        }
        crate::batch::for_each_item(args.z, |item| {
            let printed = match lookup_file(&ctx, std::path::Path::new(os_str(item)))? {
                Some(f) if finder.matches(&f.key)? => {
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
    } else {
        let unmatched = seek_each(&ctx, &args.paths, |f, _| {
            if finder.matches(&f.key)? {
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
    reporter.finish()
}

fn parse_copies(s: &str) -> Result<Limit, CommandError> {
    let bad = |what: &str| CommandError::failed(format!("{what} for copies"));
    let (trust, num) = match s.split_once(':') {
        Some((t, n)) => {
            let (name, plus) = match t.strip_suffix('+') {
                Some(b) => (b, true),
                None => (t, false),
            };
            // A group name: not supported until groups are evaluated.
            let level = super::whereis::parse_trust_level(name).ok_or_else(|| {
                CommandError::failed(format!(
                    "--copies={s}: copies in a group are not supported by git-annex-rs yet"
                ))
            })?;
            (Some((level, plus)), n)
        }
        None => (None, s),
    };
    let n = num.trim().parse::<usize>().map_err(|_| bad("bad number"))?;
    Ok(Limit::Copies { n, trust })
}

impl Finder<'_> {
    /// Whether the key passes every limit; with no limit, whether its
    /// content is present here (find's default).
    fn matches(&self, key: &Key) -> Result<bool, CommandError> {
        if self.limits.is_empty() {
            return Ok(self.ctx.store.has(key));
        }
        let (Some(snap), Some(repos)) = (&self.snap, &self.repos) else {
            return Ok(
                self.limits.iter().all(|l| matches!(l, Limit::InHere)) && self.ctx.store.has(key)
            );
        };
        let mut locations: Option<Vec<Uuid>> = None;
        for limit in &self.limits {
            let ok = match limit {
                Limit::InHere => self.ctx.store.has(key),
                Limit::In(u) => {
                    let locs = match &locations {
                        Some(l) => l,
                        None => locations.insert(repos.key_locations(snap, key)?),
                    };
                    locs.contains(u)
                }
                Limit::Copies { n, trust } => {
                    let locs = match &locations {
                        Some(l) => l,
                        None => locations.insert(repos.key_locations(snap, key)?),
                    };
                    let count = locs
                        .iter()
                        .filter(|u| match trust {
                            None => true,
                            Some((level, false)) => repos.trust(u) == *level,
                            Some((level, true)) => trust_rank(*level) <= trust_rank(repos.trust(u)),
                        })
                        .count();
                    count >= *n
                }
            };
            if !ok {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Prints one file; returns whether something was printed.
    fn show(&self, out: &mut impl Write, file: &[u8], key: &Key) -> Result<bool, CommandError> {
        let vars = format_vars(key, Some(file));
        if self.json {
            let mut m = serde_json::Map::new();
            for (k, v) in &vars {
                m.insert(
                    (*k).to_owned(),
                    serde_json::Value::String(crate::action::lossy(v)),
                );
            }
            m.insert(
                "error-messages".into(),
                serde_json::Value::Array(Vec::new()),
            );
            serde_json::to_writer(&mut *out, &serde_json::Value::Object(m))
                .map_err(|e| CommandError::failed(format!("cannot write JSON: {e}")))?;
            out.write_all(b"\n").map_err(CommandError::from_write)?;
            return Ok(true);
        }
        let text = match &self.format {
            Some(f) => f.expand(&vars),
            None => {
                let mut t = if self.terminal {
                    escape_for_terminal(file)
                } else {
                    file.to_vec()
                };
                t.push(b'\n');
                t
            }
        };
        out.write_all(&text).map_err(CommandError::from_write)?;
        Ok(true)
    }
}

/// Trust levels in git-annex's order (dead lowest).
fn trust_rank(l: annex_core::logs::trust::TrustLevel) -> u8 {
    use annex_core::logs::trust::TrustLevel::*;
    match l {
        Dead => 0,
        Untrusted => 1,
        SemiTrusted => 2,
        Trusted => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes() {
        assert_eq!(
            escape_for_terminal(b"a\tb\\c\x01\xc3\xbc"),
            b"a\\tb\\\\c\\001\xc3\xbc"
        );
    }

    #[test]
    fn copies_values() {
        assert!(matches!(
            parse_copies("2"),
            Ok(Limit::Copies { n: 2, trust: None })
        ));
        assert!(matches!(
            parse_copies("trusted+:1"),
            Ok(Limit::Copies {
                n: 1,
                trust: Some((annex_core::logs::trust::TrustLevel::Trusted, true))
            })
        ));
        assert!(parse_copies("x").is_err());
    }
}
