//! `lookupkey FILE...`: the key of each annexed file, as staged in the
//! index (the work tree is not looked at); `--ref` reads a git ref such as
//! `HEAD:file` instead; `--batch` (`-z`) answers each input line, an empty
//! line for a file that is not annexed. Exit code 1 when some file is not
//! annexed.

use std::ffi::OsString;
use std::io::IsTerminal;

use annex_core::key::Key;
use annex_core::pointer;
use annex_core::worktree::{MAX_POINTER_SIZE, pathspec_from_arg};
use gix::bstr::ByteSlice;

use crate::context::Ctx;
use crate::error::CommandError;

use super::whereis::{os_bytes, os_str};

/// Arguments of `lookupkey`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files (relative to the current directory, or absolute).
    files: Vec<OsString>,
    /// Look the keys up in git refs (`REF:PATH`) rather than the index.
    #[arg(long = "ref")]
    ref_: bool,
    /// Read files from stdin, one a line.
    #[arg(long)]
    batch: bool,
    /// With `--batch`, input items end with NUL instead of newline.
    #[arg(short = 'z')]
    z: bool,
}

/// The key a blob's content names: a pointer file or an annex link target.
fn key_of_blob(data: &[u8]) -> Option<Key> {
    pointer::parse_pointer(data)
        .or_else(|| pointer::parse_link_target(data.trim_end_with(|c| c == '\n')))
}

struct Lookup<'a> {
    ctx: &'a Ctx,
    repo: gix::Repository,
    by_ref: bool,
    terminal: bool,
}

impl Lookup<'_> {
    fn key(&self, item: &[u8]) -> Result<Option<Key>, CommandError> {
        let id = if self.by_ref {
            match self.repo.rev_parse_single(item.as_bstr()) {
                Ok(id) => id.detach(),
                Err(_) => return Ok(None),
            }
        } else {
            let wt = self.ctx.worktree()?;
            let top = wt
                .top()
                .canonicalize()
                .unwrap_or_else(|_| wt.top().to_path_buf());
            let Ok(rel) =
                pathspec_from_arg(&top, &self.ctx.cwd, std::path::Path::new(os_str(item)))
            else {
                return Ok(None);
            };
            let index = self
                .repo
                .index_or_empty()
                .map_err(|e| CommandError::failed(format!("cannot read the git index: {e}")))?;
            match index.entry_by_path(rel.as_bstr()) {
                Some(e) => e.id,
                None => return Ok(None),
            }
        };
        let Ok(header) = self.repo.find_header(id) else {
            return Ok(None);
        };
        if header.kind() != gix::object::Kind::Blob || header.size() > MAX_POINTER_SIZE {
            return Ok(None);
        }
        let Ok(obj) = self.repo.find_object(id) else {
            return Ok(None);
        };
        Ok(key_of_blob(&obj.data))
    }

    /// Prints the key of `item`; returns whether it had one.
    fn show(&self, item: &[u8], batch: bool) -> Result<bool, CommandError> {
        match self.key(item)? {
            Some(k) => {
                let shown = if self.terminal {
                    k.as_bytes()
                        .iter()
                        .map(|&c| if c < 0x20 || c == 0x7f { b'?' } else { c })
                        .collect()
                } else {
                    k.as_bytes().to_vec()
                };
                crate::output::bytes_line(&shown)?;
                Ok(true)
            }
            None => {
                if batch {
                    crate::output::bytes(b"\n")?;
                }
                Ok(false)
            }
        }
    }
}

/// Looks up the keys.
pub fn run(args: Args) -> Result<(), CommandError> {
    let ctx = Ctx::open(&[], true)?;
    if !args.ref_ {
        ctx.worktree()?;
    }
    let repo = ctx.state.branch().repo().clone();
    let lookup = Lookup {
        ctx: &ctx,
        repo,
        by_ref: args.ref_,
        terminal: std::io::stdout().is_terminal(),
    };
    let mut failed = false;
    if args.batch {
        crate::batch::for_each_item(args.z, |item| {
            let ok = lookup.show(item, true)?;
            failed |= !ok;
            crate::output::bytes(b"")
        })?;
        // git-annex's batch mode answers every line and succeeds.
        failed = false;
    } else {
        for f in &args.files {
            failed |= !lookup.show(&os_bytes(f), false)?;
        }
    }
    if failed {
        return Err(CommandError::quiet_failure(String::new()));
    }
    Ok(())
}
