//! `matchexpression EXPR`: does a preferred content (or, with
//! `--largefiles`, an `annex.largefiles`) expression match the data given
//! with `--file`, `--key`, `--size`, `--mimetype`, `--mimeencoding`? Exits 0
//! when it matches, 1 when not, and 42 when the expression does not parse or
//! needs data that was not given, as git-annex does.

use std::collections::HashSet;
use std::ffi::OsString;

use annex_core::key::Key;
use annex_core::objects::ObjectStore;
use annex_core::preferred::eval::eval_explained;
use annex_core::preferred::{Datum, EvalError, Expr, Item, Mode, StateContext};
use annex_core::repo::Repo;
use annex_core::state::State;
use annex_core::units::read_size;

use crate::error::CommandError;

/// Arguments of `matchexpression`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The expression.
    #[arg(value_name = "EXPR", allow_hyphen_values = true)]
    expr: OsString,
    /// Parse as an annex.largefiles expression.
    #[arg(long)]
    largefiles: bool,
    /// The file name to match (it need not exist).
    #[arg(long, value_name = "FILE")]
    file: Option<OsString>,
    /// The key to match.
    #[arg(long, value_name = "KEY", value_parser = parse_key)]
    key: Option<Key>,
    /// The size to match (units allowed: `10mb`).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    size: Option<u64>,
    /// The MIME type to match.
    #[arg(long, value_name = "VALUE")]
    mimetype: Option<OsString>,
    /// The MIME encoding to match.
    #[arg(long, value_name = "VALUE")]
    mimeencoding: Option<OsString>,
    /// Explain which parts of the expression match.
    #[arg(long)]
    explain: bool,
}

fn parse_key(s: &str) -> Result<Key, String> {
    Key::parse(s.as_bytes()).map_err(|_| "invalid key".to_owned())
}

fn parse_size(s: &str) -> Result<u64, String> {
    match read_size(s.as_bytes()) {
        // git-annex keeps negative sizes; no size below 0 exists, so they
        // compare like 0 would not: keep the sign by saturating.
        Some(n) => Ok(u64::try_from(n.max(0)).unwrap_or(u64::MAX)),
        None => Err("parse error".to_owned()),
    }
}

fn provided(v: Option<&[u8]>) -> Datum<&[u8]> {
    match v {
        Some(v) => Datum::Known(v),
        None => Datum::Unprovided,
    }
}

fn os_bytes(s: &std::ffi::OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes().to_vec()
}

/// The exit code git-annex uses for a bad expression or missing data.
const BAIL: i32 = 42;

/// Says `message` on stderr as it is (no program name, as git-annex's
/// `matchexpression` does) and exits 42.
fn bail(message: &str) -> CommandError {
    eprintln!("{message}");
    CommandError::exit(BAIL)
}

/// Runs `matchexpression`.
pub fn run(args: Args) -> Result<(), CommandError> {
    let here = std::env::current_dir()
        .map_err(|e| CommandError::failed(format!("cannot read the current directory: {e}")))?;
    let repo = Repo::open(&here).map_err(|_| CommandError::failed("Not in a git repository."))?;
    repo.check_version()?;
    let mode = if args.largefiles {
        Mode::LargeFiles
    } else {
        Mode::Preferred
    };
    let expr = match Expr::parse(&os_bytes(&args.expr), mode) {
        Ok(e) => e,
        Err(e) => return Err(bail(&format!("bad expression: {e}"))),
    };
    let state = State::new(repo.branch()?);
    let store = ObjectStore::open(repo.git_dir()).ok();
    let config = annex_core::config::AnnexConfig::from_repo(state.branch().repo(), &[])
        .map_err(|e| CommandError::failed(e.to_string()))?;
    let mut ctx = StateContext::new(&state, repo.uuid().cloned(), store, &config)?;
    ctx.set_unused(unused_keys(&repo));
    let file = args.file.as_deref().map(os_bytes);
    let mime_type = args.mimetype.as_deref().map(os_bytes);
    let mime_encoding = args.mimeencoding.as_deref().map(os_bytes);
    // A key with a size provides the size, even over --size (as git-annex
    // does).
    let size = match (args.key.as_ref().and_then(Key::size), args.size) {
        (Some(s), _) | (None, Some(s)) => Datum::Known(Some(s)),
        (None, None) => Datum::Unprovided,
    };
    let item = Item {
        file: provided(file.as_deref()),
        key: match &args.key {
            Some(k) => Datum::Known(k),
            None => Datum::Unprovided,
        },
        size,
        mime_type: provided(mime_type.as_deref()),
        mime_encoding: provided(mime_encoding.as_deref()),
        worktree_file: false,
        repo: repo.uuid(),
        not_present: &[],
    };
    let result = eval_explained(&expr.matcher, &ctx, &item, "provided expression");
    let matched = match result {
        Ok((m, explanation)) => {
            if args.explain
                && let Some(e) = explanation
            {
                crate::output::outln!("[ {e} ]")?;
            }
            m
        }
        Err(EvalError::Missing(kind)) => {
            return Err(bail(&format!(
                "cannot match this expression without {} data",
                kind.name()
            )));
        }
        Err(EvalError::InvalidGlob(re)) => {
            return Err(CommandError::failed(format!(
                "failed to compile regex: {re}"
            )));
        }
        Err(EvalError::Context(e)) => return Err(e.into()),
    };
    if matched {
        Ok(())
    } else {
        Err(CommandError::exit(1))
    }
}

/// The keys `git annex unused` last found (`.git/annex/unused`: `N KEY`
/// lines).
fn unused_keys(repo: &Repo) -> HashSet<Key> {
    let Ok(content) = std::fs::read(repo.annex_dir().join("unused")) else {
        return HashSet::new();
    };
    content
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let sp = line.iter().position(|&b| b == b' ')?;
            Key::parse(&line[sp + 1..]).ok()
        })
        .collect()
}
