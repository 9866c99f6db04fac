//! `addurl URL...`: files added from the web, as `git annex addurl`
//! makes them. Each URL is checked (`HEAD`) unless `--relaxed`, then
//! downloaded into `.git/annex/tmp/` under a key made from the URL (so an
//! interrupted download resumes), moved to its file and added as `add`
//! would; the URL is recorded in the web's URL log and the web and this
//! repository as having the content. `--fast` and `--relaxed` download
//! nothing: the file is a `VURL` key (with the size the server gave under
//! `--fast`). A URL added to a file that is already annexed is checked to
//! have the key's size (unless `--relaxed`) and recorded.
//!
//! The file is `--file`, else the server's `Content-Disposition` name
//! (sanitized, unless `--preserve-filename`), else a name made from the URL
//! (`--pathdepth`); `--prefix` and `--suffix` are added around it.
//! `--batch` reads URLs (with `--with-files`, `URL FILE` lines).
//!
//! Addresses are restricted as `annex.security.allowed-ip-addresses`
//! says ([`annex_core::remote::special::web`]). There is no media
//! (yt-dlp) or torrent handling: every URL is downloaded raw (as `--raw`
//! does). `-J` is accepted; URLs are added one after the other.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use annex_core::backend::{Backend, FilenameEncoding};
use annex_core::gitrepo::GitRepo;
use annex_core::ingest::LargeFilesMatcher;
use annex_core::ingest::{self, Added, Disposition, Ingester};
use annex_core::key::Key;
use annex_core::remote::special::web::{self, Http, UrlInfo};
use annex_core::worktree::pathspec_from_arg;
use serde_json::Value;

use crate::action::{Action, CommonArgs, OutputArgs, Reporter};
use crate::context::Ctx;
use crate::error::CommandError;

/// Arguments of `addurl`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The URLs.
    urls: Vec<String>,
    /// The file the URL is added to.
    #[arg(long)]
    file: Option<String>,
    /// Add without downloading (the size is checked).
    #[arg(long, short = 'F')]
    fast: bool,
    /// Add without downloading or checking the URL.
    #[arg(long)]
    relaxed: bool,
    /// No special handling (media, torrents): always the case here.
    #[arg(long)]
    raw: bool,
    /// Refuse raw downloads (needs special handling, which we do not have).
    #[arg(long = "no-raw")]
    no_raw: bool,
    /// No longer needed (verifiable URLs are the default).
    #[arg(long, short = 'V')]
    verifiable: bool,
    /// Number of URL path components to use in the file name.
    #[arg(long, allow_negative_numbers = true)]
    pathdepth: Option<i64>,
    /// Add a prefix to the file name.
    #[arg(long)]
    prefix: Option<String>,
    /// Add a suffix to the file name.
    #[arg(long)]
    suffix: Option<String>,
    /// Use the server's file name as it is.
    #[arg(long = "preserve-filename")]
    preserve_filename: bool,
    /// Read URLs from stdin.
    #[arg(long)]
    batch: bool,
    /// With `--batch`, lines are `URL FILE`.
    #[arg(long = "with-files")]
    with_files: bool,
    /// With `--batch`, items end with NUL.
    #[arg(short = 'z')]
    z: bool,
    /// The backend of the keys made.
    #[arg(long)]
    backend: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

struct Run<'a> {
    ctx: &'a Ctx,
    args: &'a Args,
    http: Http,
    ingester: Ingester,
    repo: GitRepo,
    matcher: Option<Arc<dyn LargeFilesMatcher>>,
    entries: Vec<ingest::IndexEntry>,
}

/// The outcome of one URL, before the action ends.
enum Step {
    Done(bool),
}

impl Run<'_> {
    fn adjust(&self, f: String) -> String {
        let p = self.args.prefix.as_deref().unwrap_or("");
        let s = self.args.suffix.as_deref().unwrap_or("");
        format!("{p}{f}{s}")
    }

    /// The path (from the top) of a file named relative to the current
    /// directory.
    fn path_of(&self, file: &str) -> Result<Vec<u8>, CommandError> {
        Ok(pathspec_from_arg(
            self.ingester.top(),
            &self.ctx.cwd,
            Path::new(file),
        )?)
    }

    fn full(&self, path: &[u8]) -> std::path::PathBuf {
        self.ingester.top().join(OsStr::from_bytes(path))
    }

    fn one(
        &mut self,
        reporter: &mut Reporter,
        url: &str,
        file_opt: Option<&str>,
        input: &str,
    ) -> Result<(), CommandError> {
        if url_scheme_ok(url).is_none() {
            return Err(CommandError::failed(format!("bad url {url}")));
        }
        let mut action = reporter.start(None, None, url.as_bytes())?;
        action.field("input", Value::Array(vec![Value::String(input.into())]));
        if let Some(f) = file_opt {
            action.field("file", Value::String(f.into()));
        }
        let Step::Done(ok) = self.perform(&mut action, url, file_opt)?;
        action.end(ok)
    }

    fn perform(
        &mut self,
        action: &mut Action<'_>,
        url: &str,
        file_opt: Option<&str>,
    ) -> Result<Step, CommandError> {
        let info = if self.args.relaxed {
            UrlInfo {
                exists: true,
                size: None,
                suggested_file: None,
            }
        } else {
            match self.http.info(url) {
                Ok(i) => i,
                Err(e) => {
                    action.warn(&e.to_string())?;
                    return Ok(Step::Done(false));
                }
            }
        };
        let file = match file_opt {
            Some(f) => f.to_string(),
            None => match &info.suggested_file {
                Some(sf) => {
                    let f = if self.args.preserve_filename {
                        if let Some(problem) = annex_ops::urls::preserve_filename_problem(sf) {
                            return Err(CommandError::failed(format!(
                                "--preserve-filename was used, but the filename ({sf}) has a security problem ({problem}), not adding."
                            )));
                        }
                        sf.clone()
                    } else {
                        annex_ops::urls::sanitize_file_path(sf)
                    };
                    if !self.args.preserve_filename && Path::new(&f).exists() {
                        self.url_file(url)?
                    } else {
                        f
                    }
                }
                None => self.url_file(url)?,
            },
        };
        let file = self.adjust(file);
        let path = self.path_of(&file)?;
        let existing = self
            .ctx
            .worktree()?
            .lookup_key(&path)
            .map_err(|e| CommandError::failed(e.to_string()))?;
        if let Some((key, _)) = existing {
            return self.add_to_existing(action, url, &file, &key, &info);
        }
        if self.args.fast || self.args.relaxed {
            if !info.exists {
                action.warn(&format!("unable to access url: {url}"))?;
                return Ok(Step::Done(false));
            }
            let key = annex_core::backend::url::url_key(
                url.as_bytes(),
                info.size,
                true,
                FilenameEncoding::Utf8,
            );
            if !self.can_add(action, &path, &file)? {
                return Ok(Step::Done(false));
            }
            self.show_destination(action, &file)?;
            self.make_dirs(&path)?;
            let entry = ingest::make_link(self.repo.gix(), &self.ingester, &path, &key, false)?;
            action.field("key", Value::String(key.to_string()));
            annex_ops::urls::set_url_present(self.ctx, &key, url.as_bytes())?;
            self.entries.push(entry);
            return Ok(Step::Done(true));
        }
        self.download(action, url, &file, &path, &info)
    }

    fn url_file(&self, url: &str) -> Result<String, CommandError> {
        annex_ops::urls::url_to_file(url, self.args.pathdepth)
            .map_err(|e| CommandError::failed(e.to_string()))
    }

    fn show_destination(&self, action: &mut Action<'_>, file: &str) -> Result<(), CommandError> {
        action.note(&format!(
            "to {}",
            String::from_utf8_lossy(&crate::action::quote(file.as_bytes(), true))
        ))?;
        action.field("file", Value::String(file.into()));
        Ok(())
    }

    fn make_dirs(&self, path: &[u8]) -> Result<(), CommandError> {
        if let Some(parent) = self.full(path).parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                CommandError::failed(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        Ok(())
    }

    /// git-annex's `checkCanAdd`: an existing file is not overwritten.
    fn can_add(
        &self,
        action: &mut Action<'_>,
        path: &[u8],
        file: &str,
    ) -> Result<bool, CommandError> {
        if std::fs::symlink_metadata(self.full(path)).is_ok() {
            action.warn(&format!(
                "{} already exists; not overwriting",
                String::from_utf8_lossy(&crate::action::quote(file.as_bytes(), true))
            ))?;
            return Ok(false);
        }
        Ok(true)
    }

    /// A URL for a file already annexed: recorded when it has the key's
    /// size (git-annex's `addUrlChecked`).
    fn add_to_existing(
        &mut self,
        action: &mut Action<'_>,
        url: &str,
        file: &str,
        key: &Key,
        info: &UrlInfo,
    ) -> Result<Step, CommandError> {
        let registered = self
            .ctx
            .state
            .urls(key)?
            .iter()
            .any(|u| u == url.as_bytes());
        if registered && annex_ops::urls::is_present(self.ctx, key, web::WEB_UUID.as_bytes())? {
            self.show_destination(action, file)?;
            return Ok(Step::Done(true));
        }
        let same_size = info.size == key.size();
        if info.exists && (same_size || self.args.relaxed) {
            annex_ops::urls::set_url_present(self.ctx, key, url.as_bytes())?;
            return Ok(Step::Done(true));
        }
        let why = if info.exists {
            format!(
                "url does not have expected file size (use --relaxed to bypass this check) {url}"
            )
        } else {
            format!("failed to verify url exists: {url}")
        };
        action.warn(&format!(
            "while adding a new url to an already annexed file, {why}"
        ))?;
        Ok(Step::Done(false))
    }

    fn download(
        &mut self,
        action: &mut Action<'_>,
        url: &str,
        file: &str,
        path: &[u8],
        info: &UrlInfo,
    ) -> Result<Step, CommandError> {
        let urlkey = annex_core::backend::url::url_key(
            url.as_bytes(),
            info.size,
            true,
            FilenameEncoding::Utf8,
        );
        let tmp = self.ctx.store.tmp_path(&urlkey);
        let got = self.http.download(url, &tmp, urlkey.size(), &mut |_| {});
        // Where git-annex drew its progress meter, the line is broken.
        action.say(b"\n")?;
        if let Err(e) = got {
            action.warn(&web::download_failure(&e))?;
            return Ok(Step::Done(false));
        }
        if let Some(expected) = urlkey.size()
            && std::fs::metadata(&tmp).map(|m| m.len()).ok() != Some(expected)
        {
            let _ = std::fs::remove_file(&tmp);
            action.warn(
                "download failed: the server sent content of another size than it announced",
            )?;
            return Ok(Step::Done(false));
        }
        if !self.can_add(action, path, file)? {
            return Ok(Step::Done(false));
        }
        self.show_destination(action, file)?;
        self.make_dirs(path)?;
        let full = self.full(path);
        std::fs::rename(&tmp, &full).map_err(|e| {
            CommandError::failed(format!(
                "cannot move {} to {}: {e}",
                tmp.display(),
                full.display()
            ))
        })?;
        let size = std::fs::metadata(&full).map(|m| m.len()).unwrap_or(0);
        let how = match &self.matcher {
            Some(m) => Ingester::disposition(path, size, true, false, &**m),
            None => Disposition::Annex,
        };
        match self.ingester.add(self.repo.gix(), path, how)? {
            Added::Annexed {
                key,
                entry,
                present,
                ..
            } => {
                action.field("key", Value::String(key.to_string()));
                annex_ops::urls::set_url_present(self.ctx, &key, url.as_bytes())?;
                if present {
                    self.ctx.state.set_present(&key, self.ctx.here(), true)?;
                }
                self.entries.push(entry);
            }
            Added::Git { entry, .. } => self.entries.push(entry),
            Added::Nothing => {}
        }
        Ok(Step::Done(true))
    }
}

/// `Some(())` when `url` is `scheme://...`.
fn url_scheme_ok(url: &str) -> Option<()> {
    let (scheme, rest) = url.split_once("://")?;
    (!scheme.is_empty() && !rest.is_empty()).then_some(())
}

/// Adds the URLs.
pub fn run(args: Args) -> Result<(), CommandError> {
    args.common.jobs()?;
    if args.no_raw {
        return Err(CommandError::failed(
            "Unable to use youtube-dl or a special remote and --no-raw was specified",
        ));
    }
    let json = args.output.json || args.output.json_progress || args.output.json_error_messages;
    let ctx = Ctx::open(&args.common.config, args.output.quiet || json)?;
    let mut reporter = ctx.reporter(&args.output, "addurl");
    let wt = ctx.worktree()?;
    let top = wt
        .top()
        .canonicalize()
        .unwrap_or_else(|_| wt.top().to_path_buf());
    let backend = match args
        .backend
        .clone()
        .or_else(|| ctx.config.get_str("annex.backend"))
    {
        Some(b) => Backend::from_name(&b)
            .ok_or_else(|| CommandError::failed(format!("unknown backend {b}")))?,
        None => Backend::Sha256E,
    };
    let matcher = match ctx.config.get("annex.largefiles") {
        Some(expr) => Some(crate::commands::add::largefiles_matcher(
            expr,
            "git config",
            &top,
        )?),
        None => None,
    };
    let mut run = Run {
        ctx: &ctx,
        args: &args,
        http: Http::from_config(&ctx.config),
        ingester: Ingester::new(top, ctx.store.clone(), backend),
        repo: GitRepo::from(wt.repo().clone()),
        matcher,
        entries: Vec::new(),
    };
    let result = if args.batch {
        crate::batch::for_each_item(args.z, |line| {
            let text = String::from_utf8_lossy(line).into_owned();
            if args.with_files {
                let (u, f) = text.split_once(' ').unwrap_or((&text, ""));
                if u.is_empty() || f.is_empty() {
                    return Err(CommandError::failed(format!(
                        "Batch input parse failure: parsed empty url or filename in input: {text}"
                    )));
                }
                run.one(&mut reporter, u, Some(f), &text)
            } else {
                run.one(&mut reporter, &text, args.file.as_deref(), &text)
            }
        })
    } else {
        (|| {
            for u in &args.urls {
                run.one(&mut reporter, u, args.file.as_deref(), u)?;
            }
            Ok(())
        })()
    };
    ingest::stage(run.repo.gix(), &run.entries)?;
    crate::commands::add::finish_recording(&ctx, &reporter, !run.entries.is_empty())?;
    result?;
    reporter.finish()
}
