//! `findkeys`: the keys the `git-annex` branch knows whose content is
//! present here, or, with matching options (`--in`, `--copies`, ...),
//! those the options select; printed one a line, through a `--format`
//! (`--print0`), or as JSON (the key's fields). Also what `findref` shares
//! with it: the matching set up once and the printing of one item.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};

use annex_core::key::Key;
use annex_core::preferred::{Expr, Item, StateContext};
use serde_json::{Map, Value};

use crate::action::{CommonArgs, OutputArgs, lossy};
use crate::context::Ctx;
use crate::error::CommandError;
use crate::matching::{Matching, MatchingArgs};

use super::examinekey::{Format, format_vars};
use super::find::escape_for_terminal;
use super::whereis::{for_each_key, os_bytes};

/// Arguments of `findkeys`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Custom output: `${key}`, `${backend}`, `${bytesize}`, ... (as `find`).
    #[arg(long, value_name = "FORMAT", conflicts_with = "print0")]
    format: Option<OsString>,
    /// Separate keys with NUL rather than newlines.
    #[arg(long)]
    print0: bool,
    /// The matching options (`--in`, `--copies`, `--include`, ...).
    #[command(flatten)]
    matching: MatchingArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// Selects and prints items as `find`, `findref` and `findkeys` do.
pub(super) struct Lister<'a> {
    ctx: &'a Ctx,
    /// The matching options with what they read (none given: the content
    /// must be present here).
    matching: Option<(Matching, StateContext<'a>, Option<Expr>)>,
    format: Option<Format>,
    json: bool,
    terminal: bool,
}

impl<'a> Lister<'a> {
    /// Sets up the matching and the output once.
    pub(super) fn new(
        ctx: &'a Ctx,
        matching: &MatchingArgs,
        format: Option<&OsString>,
        print0: bool,
        output: &OutputArgs,
    ) -> Result<Lister<'a>, CommandError> {
        let matching = matching.matcher(ctx)?;
        let format = if print0 {
            Some(Format::parse(if matching_file(format) {
                b"${file}\0"
            } else {
                b"${key}\0"
            }))
        } else {
            format.map(|f| Format::parse(&os_bytes(f)))
        };
        Ok(Lister {
            ctx,
            matching,
            format,
            json: output.json || output.json_progress || output.json_error_messages,
            terminal: std::io::stdout().is_terminal(),
        })
    }

    /// Whether the item (a file, path from the top, or a key alone)
    /// matches; with no matching option, whether its content is here.
    pub(super) fn matches(&self, path: Option<&[u8]>, key: &Key) -> Result<bool, CommandError> {
        let Some((m, mctx, wanted)) = &self.matching else {
            return Ok(self.ctx.store.has(key));
        };
        let item = match path {
            Some(p) => Item::file(p, Some(key)),
            None => Item::key(key),
        };
        m.matches(mctx, &item, wanted.as_ref())
            .map_err(|e| CommandError::failed(e.to_string()))
    }

    /// Prints one item: the file (or, for a key alone, the key), its
    /// `--format`, or its JSON object.
    pub(super) fn show(
        &self,
        out: &mut impl Write,
        file: Option<&[u8]>,
        key: &Key,
    ) -> Result<(), CommandError> {
        let w = |out: &mut dyn Write, b: &[u8]| out.write_all(b).map_err(CommandError::from_write);
        if !crate::global::size_limit_admits_key(&self.ctx.store, key) {
            return Ok(());
        }
        if self.json {
            let mut m = Map::new();
            for (n, v) in format_vars(key, file) {
                m.insert(n.to_owned(), Value::String(lossy(&v)));
            }
            m.insert("error-messages".into(), Value::Array(Vec::new()));
            let mut line = serde_json::to_vec(&Value::Object(m))?;
            line.push(b'\n');
            return w(out, &line);
        }
        match &self.format {
            Some(f) => w(out, &f.expand(&format_vars(key, file))),
            None => {
                let shown = file.unwrap_or(key.as_bytes());
                let mut t = if self.terminal {
                    escape_for_terminal(shown)
                } else {
                    shown.to_vec()
                };
                t.push(b'\n');
                w(out, &t)
            }
        }
    }
}

/// `--print0` prints files for `findref` (marked by a `${file}` format
/// placeholder) and keys for `findkeys`.
fn matching_file(format: Option<&OsString>) -> bool {
    format.is_some_and(|f| f == "${file}")
}

/// Lists the matching keys.
pub fn run(args: Args) -> Result<(), CommandError> {
    // findkeys shows no side messages (merging, recording state).
    let ctx = Ctx::open(&args.common.config, true)?;
    let lister = Lister::new(
        &ctx,
        &args.matching,
        args.format.as_ref(),
        args.print0,
        &args.output,
    )?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for_each_key(ctx.state.branch(), |key| {
        if lister.matches(None, &key)? {
            lister.show(&mut out, None, &key)?;
        }
        Ok(())
    })?;
    out.flush().map_err(CommandError::from_write)?;
    crate::global::finish_size_limit(Ok(()))
}
