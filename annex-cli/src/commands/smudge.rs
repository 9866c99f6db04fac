//! `smudge FILE` and `smudge --clean FILE`: git's smudge and clean filters
//! for unlocked files, one file per run, as git-annex registers them
//! (`git-annex smudge -- %f`, `git-annex smudge --clean -- %f`); and the
//! filter both these and `filter-process` share.
//!
//! Clean: a pointer file goes to git as it is; other content goes to the
//! annex (its key's pointer file goes to git) when `annex.largefiles`
//! says it is large, or, when `annex.largefiles` is not configured, when
//! the file was annexed in the index before; otherwise it goes to git. The
//! content is taken from the work-tree file, copied into the object store
//! (hard linked with `annex.thin`? not yet: always a copy), and logged as
//! present here; the journal is committed by the next command, as
//! git-annex leaves it.
//!
//! Smudge: a pointer whose content is present is replaced by the content
//! (git-annex outputs the pointer and fills the file in later from its
//! post-checkout hook, `smudge --update`; we fill it in at once). Anything
//! else is given back unchanged. git-annex's keys database is not written;
//! git-annex rebuilds what it needs from the index.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use annex_core::attr::{Coprocess, attr_value};
use annex_core::backend::Backend;
use annex_core::filter::{CleanResult, FilterHandler};
use annex_core::gitrepo::{GitRepo, StagedFile};
use annex_core::ingest::{Ingester, is_dotfile};
use annex_core::pointer;
use annex_core::preferred::LargeFiles;

use crate::context::Ctx;
use crate::error::{CommandError, ErrorKind};

/// Arguments of `smudge`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The file being filtered, relative to the top of the work tree.
    #[arg(required_unless_present = "update")]
    file: Option<OsString>,
    /// Act as the clean filter (the default is the smudge filter).
    #[arg(long)]
    clean: bool,
    /// Populate annexed work-tree files: those git checked out as
    /// pointers (the smudge log) whose content is here (what the
    /// post-checkout and post-merge hooks run).
    #[arg(long, conflicts_with_all = ["clean", "file"])]
    update: bool,
}

/// The filter of one repository.
pub(crate) struct AnnexFilter {
    ctx: Ctx,
    top: PathBuf,
    repo: GitRepo,
    ingester: Ingester,
    /// git config's `annex.backend` (SHA256E when unset): the backend
    /// of `ingester`.
    config_backend: Backend,
    dotfiles: bool,
    config_largefiles: Option<Vec<u8>>,
    branch_largefiles: Option<Vec<u8>>,
    attrs: Option<Coprocess>,
}

impl AnnexFilter {
    pub(crate) fn open() -> Result<AnnexFilter, CommandError> {
        let ctx = Ctx::open(&[], true)?;
        let wt = ctx.worktree()?;
        let top = wt
            .top()
            .canonicalize()
            .unwrap_or_else(|_| wt.top().to_path_buf());
        let repo = GitRepo::from(wt.repo().clone());
        let backend = match ctx.config.get_str("annex.backend") {
            Some(n) => Backend::from_name(&n)
                .ok_or_else(|| CommandError::failed(format!("unknown backend {n}")))?,
            None => Backend::Sha256E,
        };
        let ingester = Ingester::new(top.clone(), ctx.store.clone(), backend);
        let config_backend = backend;
        let branch = ctx.state.config().unwrap_or_default();
        Ok(AnnexFilter {
            dotfiles: ctx.config.get_bool("annex.dotfiles").unwrap_or(false),
            config_largefiles: ctx.config.get("annex.largefiles").map(|v| v.to_vec()),
            branch_largefiles: branch.get(&b"annex.largefiles"[..]).cloned(),
            ctx,
            top,
            repo,
            ingester,
            config_backend,
            attrs: None,
        })
    }

    /// The value of `path`'s attribute answered in field `field` of `git
    /// check-attr -z --stdin annex.backend annex.largefiles` (2: the
    /// backend, 5: largefiles); `None` when unset or unspecified.
    fn attribute(&mut self, path: &[u8], field: usize) -> Result<Option<Vec<u8>>, String> {
        if self.attrs.is_none() {
            self.attrs = Some(
                Coprocess::spawn(
                    &self.top,
                    &[
                        "check-attr",
                        "-z",
                        "--stdin",
                        "annex.backend",
                        "annex.largefiles",
                    ],
                )
                .map_err(|e| e.to_string())?,
            );
        }
        let answer = match &mut self.attrs {
            Some(p) => p.query_all(&[path], 6).map_err(|e| e.to_string())?,
            None => Vec::new(),
        };
        Ok(answer
            .into_iter()
            .next()
            .and_then(|mut f| (field < f.len()).then(|| std::mem::take(&mut f[field])))
            .and_then(attr_value))
    }

    /// The backend of a file new to the annex, as git-annex chooses it:
    /// its `annex.backend` attribute, else git config's `annex.backend`,
    /// else SHA256E.
    fn new_file_backend(&mut self, path: &[u8]) -> Result<Backend, String> {
        match self.attribute(path, 2)? {
            Some(name) => {
                let name = String::from_utf8_lossy(&name).into_owned();
                Backend::from_name(&name).ok_or_else(|| format!("unknown backend {name}"))
            }
            None => Ok(self.config_backend),
        }
    }

    /// `annex.largefiles` for `path`: git config, `.gitattributes`, then
    /// `git annex config`; with where it came from, as git-annex names it.
    fn largefiles(&mut self, path: &[u8]) -> Result<Option<(Vec<u8>, &'static str)>, String> {
        if let Some(e) = &self.config_largefiles {
            return Ok(Some((e.clone(), "git config")));
        }
        let v = self.attribute(path, 5)?;
        Ok(v.map(|v| (v, "gitattributes")).or_else(|| {
            self.branch_largefiles
                .clone()
                .map(|v| (v, "git-annex config"))
        }))
    }
}

impl FilterHandler for AnnexFilter {
    fn clean(&mut self, path: &[u8], head: &[u8], complete: bool) -> Result<CleanResult, String> {
        let sample = if complete {
            head
        } else {
            &head[..head.len().min(pointer::MAX_POINTER_SIZE)]
        };
        match pointer::parse_pointer_checked(if complete { head } else { sample }) {
            Ok(Some(_)) if complete => return Ok(CleanResult::Passthrough),
            Ok(_) => {}
            Err(_) => eprintln!(
                "git-annex-rs: The file {} looks like git-annex pointer file that has had other content appended to it",
                String::from_utf8_lossy(path)
            ),
        }
        let full = self.top.join(OsStr::from_bytes(path));
        let Ok(meta) = std::fs::metadata(&full) else {
            return Ok(CleanResult::Passthrough);
        };
        if !full.starts_with(&self.top) {
            return Ok(CleanResult::Passthrough);
        }
        let staged = self.repo.staged_pointer(path);
        let old_key = staged.as_ref().and_then(|s| s.key.clone());
        let was_annexed = old_key.is_some();
        // A file in git whose content did not change stays in git.
        if let Some(StagedFile {
            id,
            size,
            key: None,
        }) = &staged
            && *size == meta.len()
            && let Ok(data) = std::fs::read(&full)
            && self.repo.blob_id(&data) == Some(*id)
        {
            return Ok(CleanResult::Passthrough);
        }
        let expr = self.largefiles(path)?;
        let annex = match expr {
            Some(_) if is_dotfile(path) && !self.dotfiles => was_annexed,
            Some((e, source)) => {
                let m = LargeFiles::parse(&e).map_err(|err| {
                    format!("bad annex.largefiles configuration in {source}: {err}")
                })?;
                m.in_worktree(&self.top).is_large(path, meta.len())
            }
            None => was_annexed,
        };
        if !annex {
            return Ok(CleanResult::Passthrough);
        }
        // An annexed file keeps its key's backend (as git-annex's clean);
        // a new one gets the backend git-annex would choose.
        let backend = match old_key.as_ref().and_then(Backend::for_key) {
            Some(b) => b,
            None => self.new_file_backend(path)?,
        };
        let key = if backend == self.config_backend {
            self.ingester.clean(path, &full)
        } else {
            self.ingester.with_backend(backend).clean(path, &full)
        }
        .map_err(|e| e.to_string())?;
        self.ctx
            .state
            .set_present(&key, self.ctx.here(), true)
            .map_err(|e| e.to_string())?;
        Ok(CleanResult::Replace(pointer::format_pointer(&key)))
    }

    fn smudge(&mut self, _path: &[u8], content: Vec<u8>) -> Result<Vec<u8>, String> {
        let Some(key) = pointer::parse_pointer(&content) else {
            return Ok(content);
        };
        match self.ctx.store.find(&key) {
            Some(obj) => {
                std::fs::read(&obj).map_err(|e| format!("cannot read {}: {e}", obj.display()))
            }
            None => Ok(content),
        }
    }
}

/// Runs one filter on stdin, writing to stdout; or, with `--update`,
/// populates the files of the smudge log.
pub fn run(args: Args) -> Result<(), CommandError> {
    let file = match (args.update, &args.file) {
        (true, _) => return update(),
        (false, Some(f)) => f,
        (false, None) => return Err(CommandError::user("smudge needs a file name")),
    };
    let mut filter = AnnexFilter::open()?;
    let path =
        annex_core::worktree::pathspec_from_arg(&filter.top, &filter.ctx.cwd, Path::new(file))?;
    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .read_to_end(&mut input)
        .map_err(|e| {
            CommandError::with_message(ErrorKind::Failure, "cannot read standard input", e)
        })?;
    let out = if args.clean {
        match filter
            .clean(&path, &input, true)
            .map_err(CommandError::failed)?
        {
            CleanResult::Passthrough => input,
            CleanResult::Replace(d) => d,
        }
    } else {
        filter.smudge(&path, input).map_err(CommandError::failed)?
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&out)
        .and_then(|()| stdout.flush())
        .map_err(CommandError::from_write)
}

/// `smudge --update`: the unlocked files git checked out as pointers
/// (listed in the smudge log by git-annex's smudge filter; ours fills
/// content in at once and logs nothing) get their content when it is
/// here, and their index entries are refreshed (git-annex's
/// `LaterRestage`). With nothing logged this reads one `stat`: no branch,
/// no index, no tree.
fn update() -> Result<(), CommandError> {
    let hr = crate::commands::pre_commit::HookRepo::open()?;
    let populated = hr.update_smudged()?;
    if let Some(top) = &hr.top {
        annex_core::hooks::restage(top, &populated);
    }
    Ok(())
}
