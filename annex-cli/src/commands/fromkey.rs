//! `fromkey KEY FILE...`: make a locked file for a key, as `git annex
//! fromkey` does. Without `--force` the key's content must be present
//! here. A file that is already a link to the key is left as it is; any
//! other existing file is refused. `--batch` reads `KEY FILE` lines.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use annex_core::backend::Backend;
use annex_core::backend::FilenameEncoding;
use annex_core::gitrepo::GitRepo;
use annex_core::ingest::{self, Ingester};
use annex_core::key::Key;
use annex_core::worktree::pathspec_from_arg;
use serde_json::Value;

use crate::action::{CommonArgs, OutputArgs, Reporter};
use crate::commands::add::{Shower, finish_recording};
use crate::context::Ctx;
use crate::error::CommandError;

/// Arguments of `fromkey`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Pairs of KEY FILE.
    pairs: Vec<OsString>,
    /// Make the file even when the key's content is not present here.
    #[arg(long)]
    force: bool,
    /// Read `KEY FILE` lines from stdin.
    #[arg(long)]
    batch: bool,
    /// With `--batch`, items are ended by NUL instead of newline.
    #[arg(short = 'z')]
    nul: bool,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// A key given by the user: a serialized key, or a URL.
fn key_opt(s: &[u8]) -> Result<Key, CommandError> {
    if let Some(colon) = s.iter().position(|&c| c == b':')
        && s[colon..].starts_with(b"://")
        && Key::parse(s).is_err()
    {
        return Ok(annex_core::backend::url::url_key(
            s,
            None,
            true,
            FilenameEncoding::Utf8,
        ));
    }
    Key::parse(s)
        .map_err(|_| CommandError::failed(format!("bad key/url {}", String::from_utf8_lossy(s))))
}

struct Run<'a> {
    ctx: &'a Ctx,
    ingester: Ingester,
    repo: GitRepo,
    shower: Shower<'a>,
    entries: Vec<ingest::IndexEntry>,
    json: bool,
    json_error_messages: bool,
}

impl Run<'_> {
    fn one(
        &mut self,
        reporter: &mut Reporter,
        key: &Key,
        file: &OsStr,
        input: &[&[u8]],
    ) -> Result<(), CommandError> {
        let top = self.ingester.top().to_path_buf();
        let path = pathspec_from_arg(&top, &self.ctx.cwd, Path::new(file))?;
        let shown = self.shower.show(&path);
        let mut action =
            reporter.start(Some(&shown), None, input.first().copied().unwrap_or(b""))?;
        if input.len() > 1 {
            action.field(
                "input",
                Value::Array(
                    input
                        .iter()
                        .map(|i| Value::String(crate::action::lossy(i)))
                        .collect(),
                ),
            );
        }
        action.field("key", Value::String(key.to_string()));
        // Never a link made beyond a symbolic link (outside the
        // repository) or in `.git` (git-annex makes both).
        if let Err(e) = annex_core::wtpath::check(&top, &path) {
            let msg = match &e {
                annex_core::wtpath::WtPathError::BeyondSymlink { .. } => format!(
                    "{} is beyond a symbolic link",
                    String::from_utf8_lossy(&self.shower.quoted(&path))
                ),
                other => other.to_string(),
            };
            crate::commands::add::giveup(&mut action, &msg, self.json_error_messages)?;
            return action.end(false);
        }
        let full = top.join(OsStr::from_bytes(&path));
        if let Ok(meta) = std::fs::symlink_metadata(&full) {
            let same = meta.file_type().is_symlink()
                && std::fs::read_link(&full)
                    .ok()
                    .and_then(|t| annex_core::pointer::parse_link_target(t.as_os_str().as_bytes()))
                    .is_some_and(|k| &k == key);
            if same {
                return action.end(true);
            }
            let msg = format!(
                "{} already exists with different content",
                String::from_utf8_lossy(&self.shower.quoted(&path))
            );
            crate::commands::add::warn(&mut action, &msg, self.json)?;
            return action.end(false);
        }
        match ingest::make_link(self.repo.gix(), &self.ingester, &path, key, false) {
            Ok(entry) => {
                self.entries.push(entry);
                action.end(true)
            }
            Err(e) => {
                action.error(&CommandError::from(e).to_string());
                action.end(false)
            }
        }
    }
}

/// Makes the files.
pub fn run(args: Args) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.common.config, args.output.quiet)?;
    let mut reporter = ctx.reporter(&args.output, "fromkey");
    let wt = ctx.worktree()?;
    let top = wt
        .top()
        .canonicalize()
        .unwrap_or_else(|_| wt.top().to_path_buf());
    let mut run = Run {
        ctx: &ctx,
        ingester: Ingester::new(top, ctx.store.clone(), Backend::Sha256E),
        repo: GitRepo::from(wt.repo().clone()),
        shower: Shower::new(&ctx, reporter.is_json()),
        entries: Vec::new(),
        json: reporter.is_json(),
        json_error_messages: args.output.json_error_messages,
    };
    let result = if args.batch || args.pairs.is_empty() {
        if args.batch && !args.pairs.is_empty() {
            return Err(CommandError::user(
                "Cannot combine batch option with file or key options",
            ));
        }
        crate::batch::for_each_item(args.nul, |line| {
            let Some(sp) = line.iter().position(|&c| c == b' ') else {
                return Err(CommandError::failed(
                    "Batch input parse failure: Expected pairs of key and filename",
                ));
            };
            let (k, f) = (&line[..sp], &line[sp + 1..]);
            if k.is_empty() || f.is_empty() {
                return Err(CommandError::failed(
                    "Batch input parse failure: Expected pairs of key and filename",
                ));
            }
            let key = key_opt(k)?;
            run.one(&mut reporter, &key, OsStr::from_bytes(f), &[line])
        })
    } else {
        if !args.pairs.len().is_multiple_of(2) {
            return Err(CommandError::failed("Expected pairs of key and filename"));
        }
        (|| {
            for pair in args.pairs.chunks(2) {
                let k = pair[0].as_bytes();
                let key = key_opt(k)?;
                if !args.force && !ctx.store.has(&key) {
                    return Err(CommandError::failed(format!(
                        "key ({}) is not present in backend (use --force to override this sanity check)",
                        String::from_utf8_lossy(k)
                    )));
                }
                run.one(&mut reporter, &key, &pair[1], &[k, pair[1].as_bytes()])?;
            }
            Ok(())
        })()
    };
    // What was made is staged even when a later item failed.
    ingest::stage(run.repo.gix(), &run.entries)?;
    finish_recording(&ctx, &reporter, !run.entries.is_empty())?;
    result?;
    reporter.finish()
}
