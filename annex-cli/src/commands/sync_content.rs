//! The content pass of `sync --content` on the command line: the pass
//! itself is [`annex_sync::content`]; this module shows what it does as
//! git-annex does.
//!
//! Output: one action per transfer or drop, named as git-annex names them
//! (`get FILE (from REMOTE...)`, `put FILE (to REMOTE...)`, `drop FILE
//! (from REMOTE...)`, `drop FILE`), plain or JSON (`command` `get`, `put`
//! with the destination's `uuid` as `git annex put --json` gives it,
//! `drop`), with progress as bars or `--json-progress` objects (under
//! `-J`, one bar per transfer running). A failed get explains where else
//! the content is; a failed put adds git-annex's `--fast` hint; a refused
//! drop shows the copies it verified. Failed gets and puts count as
//! failures of the sync; failed drops are shown but do not fail it
//! (git-annex's `callCommandAction`).

use std::ffi::OsStr;

use annex_core::remote::Remote;
use annex_core::transfer::Direction;
use annex_ops::get::GetOutcome;
use annex_ops::put::PutOutcome;
use annex_ops::queue::ObserverFactory;
use annex_ops::remotes::Remotes;
use annex_ops::{Item, Observer, Warning};
pub use annex_sync::content::ContentOptions;
use annex_sync::content::{
    ActionObserver, ContentError, ContentObserver, ContentPass, Kind, Outcome, Start, Stop,
};
use serde_json::Value;

use super::xfer::{self, Env, QueueMeter, parallel_meter};
use crate::action::{Action, OutputArgs, Reporter};
use crate::context::Ctx;
use crate::error::CommandError;
use crate::progress::{Meter, ProgressMode};

/// What a refused drop suggests when no other copy is known.
const NO_LOCATIONS: &str = "Rather than dropping this file, try using: git annex move";

/// What a content pass did, for `sync` to go on.
#[derive(Debug, Default)]
pub struct ContentRun {
    /// How many actions failed.
    pub failed: usize,
    /// Whether some content was got or put (git-annex then pulls again
    /// before pushing, as other repositories may have recorded meanwhile).
    pub transferred: bool,
    /// Whether the `git-annex` branch got a commit: the caller says
    /// `(recording state in git...)` where git-annex says it.
    pub recorded: bool,
    /// The remotes, still connected where a network connection was made:
    /// held by the caller until its push is done (their servers commit
    /// what they recorded when the connection ends, at the end of the
    /// command as with git-annex).
    pub connections: Remotes,
}

/// Runs the content pass over the repository of `ctx` (already merged by
/// `sync`), reporting every action through `output` as git-annex does, and
/// commits the `git-annex` branch before it returns.
pub fn run(
    ctx: Ctx,
    options: ContentOptions,
    output: &OutputArgs,
) -> Result<ContentRun, CommandError> {
    let pass = ContentPass::new(&ctx.session, options);
    if pass.up_to_date() {
        // A complete pass found nothing to do in this very state.
        return Ok(ContentRun::default());
    }
    let quote = ctx.config.get_bool("core.quotepath").unwrap_or(true);
    let progress = ProgressMode::choose(output.json, output.json_progress, output.quiet);
    let mut env = Env::open(ctx, progress)?;
    // The reference binary's sync sends to a repository past its maxsize
    // (checked: `maxsize b 5`, then a 6-byte file wanted by b is sent);
    // the upload is still reserved for other processes to count.
    env.enforce_maxsize = false;
    env.keep_connections = true;
    let mut shown = Shown {
        env: &env,
        get: output.reporter("get").quote_path(quote),
        put: output.reporter("put").quote_path(quote),
        drop: output.reporter("drop").quote_path(quote),
        error: None,
        transferred: false,
    };
    let summary = match pass.run(&env.annex, &mut shown) {
        Ok(s) => s,
        Err(ContentError::Stopped(_)) => {
            return Err(shown
                .error
                .take()
                .unwrap_or_else(|| CommandError::failed("the content pass was stopped")));
        }
        Err(e) => return Err(command_error(e)),
    };
    let mut recorded = false;
    if let Some(finished) = &summary.finished {
        for e in &finished.remote_errors {
            eprintln!("git-annex-rs: {e}");
        }
        recorded = finished.recorded && !shown.get.is_json();
    }
    if let Some(e) = &summary.record_error {
        // Not a failure of the sync: a record left behind describes an
        // exact state, still true of it; only speed is lost.
        eprintln!("git-annex-rs: {e}");
    }
    let transferred = shown.transferred;
    drop(shown);
    Ok(ContentRun {
        failed: summary.failed,
        transferred,
        recorded,
        connections: std::mem::take(&mut env.annex.remotes),
    })
}

/// The error that ended the pass, as the command's (each library error
/// through its own conversion).
fn command_error(e: ContentError) -> CommandError {
    match e {
        ContentError::Annex(e) => e.into(),
        ContentError::Branch(e) => e.into(),
        ContentError::Drop(e) => e.into(),
        ContentError::WorkTree(e) => e.into(),
        ContentError::Session(e) => e.into(),
        ContentError::Preferred(message) => CommandError::failed(message),
        ContentError::Stopped(stop) => CommandError::failed(stop.to_string()),
    }
}

/// Shows the pass's actions: one reporter per kind of action, and the
/// first error of the output (which stops the pass).
struct Shown<'e> {
    env: &'e Env,
    get: Reporter,
    put: Reporter,
    drop: Reporter,
    error: Option<CommandError>,
    /// Whether some content was got or put.
    transferred: bool,
}

impl ContentObserver for Shown<'_> {
    fn start(&mut self, start: &Start<'_>) -> Result<Box<dyn ActionObserver + '_>, Stop> {
        let Shown {
            env,
            get,
            put,
            drop,
            error,
            transferred,
        } = self;
        let reporter = match start.kind {
            Kind::Get => get,
            Kind::Put => put,
            Kind::Drop => drop,
        };
        let item = xfer::Item {
            file: start.item.is_file.then(|| start.item.top_path.clone()),
            input: Vec::new(),
            target: start.item.clone(),
        };
        let mut action = match env.start(reporter, &item) {
            Ok(a) => a,
            Err(e) => {
                *error = Some(e);
                return Err(Stop);
            }
        };
        if start.kind == Kind::Put
            && let Some(u) = start.remote.and_then(|r| r.uuid.as_ref())
        {
            action.field("uuid", Value::String(u.to_string()));
        }
        Ok(Box::new(ShownAction {
            env,
            action: Some(action),
            mode: env.progress,
            meter: None,
            total: start.item.key.size(),
            pending: None,
            error,
            transferred,
        }))
    }

    fn unmatched(&mut self, path: &OsStr) {
        eprintln!(
            "error: pathspec '{}' did not match any file(s) known to git",
            path.to_string_lossy()
        );
        eprintln!("Did you forget to 'git add'?");
    }

    fn transfers(&mut self, kind: Kind) -> Box<ObserverFactory<'_>> {
        let mode = self.env.progress;
        let bars = Meter::bars(mode);
        let (command, direction) = match kind {
            Kind::Put => ("put", Direction::Upload),
            Kind::Get | Kind::Drop => ("get", Direction::Download),
        };
        Box::new(
            move |item: &Item, remote: &dyn Remote| -> Box<dyn Observer + Send> {
                let file = item.is_file.then_some(item.top_path.as_slice());
                Box::new(QueueMeter(Some(parallel_meter(
                    mode,
                    bars.as_ref(),
                    command,
                    remote,
                    (file, &[], &item.key),
                    direction,
                ))))
            },
        )
    }
}

/// One action being shown: its line, its meter, and the first error
/// writing it.
struct ShownAction<'a, 'r> {
    env: &'a Env,
    action: Option<Action<'r>>,
    mode: ProgressMode,
    meter: Option<Meter>,
    total: Option<u64>,
    /// An error writing a note, reported when the action ends.
    pending: Option<CommandError>,
    /// Where the error that stops the pass is left for [`run`].
    error: &'a mut Option<CommandError>,
    /// Set when content was got or put.
    transferred: &'a mut bool,
}

impl ShownAction<'_, '_> {
    fn close_meter(&mut self) {
        if let Some(m) = self.meter.take() {
            m.finish();
        }
    }

    /// Shows the outcome and ends the action.
    fn show(&mut self, outcome: &Outcome) -> Result<(), CommandError> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        let Some(mut action) = self.action.take() else {
            return Ok(());
        };
        let env = self.env;
        if matches!(
            outcome,
            Outcome::Get(GetOutcome::Got { .. })
                | Outcome::Put(PutOutcome::Copied | PutOutcome::Moved { .. })
        ) {
            *self.transferred = true;
        }
        let ok = match outcome {
            Outcome::Get(GetOutcome::Got { .. }) => true,
            Outcome::Get(GetOutcome::Failed { tried, whereabouts }) => {
                env.report_unreachable(&mut action, tried, whereabouts)?;
                false
            }
            Outcome::Get(GetOutcome::NotAvailable(whereabouts)) => {
                env.report_unreachable(&mut action, &[], whereabouts)?;
                false
            }
            Outcome::Put(PutOutcome::Copied | PutOutcome::Moved { .. }) => true,
            Outcome::Put(failed) => {
                match failed {
                    PutOutcome::Unreachable => action.warning("cannot access remote"),
                    PutOutcome::CheckFailed(e) => action.warning(&e.to_string()),
                    // The upload's error was shown as it happened.
                    _ => {}
                }
                // Two warnings on stderr; git-annex breaks the action's
                // line on stdout before each.
                action.say(b"\n")?;
                action.warning("This could have failed because --fast is enabled.");
                false
            }
            Outcome::Drop(dropped) => env.show_drop(&mut action, dropped, NO_LOCATIONS, None)?,
        };
        action.end(ok)
    }
}

impl Observer for ShownAction<'_, '_> {
    fn note(&mut self, note: &str) {
        if let Some(a) = self.action.as_mut()
            && let Err(e) = a.note(note)
            && self.pending.is_none()
        {
            self.pending = Some(e);
        }
    }
    fn progress(&mut self, done: u64) {
        let Some(action) = self.action.as_ref() else {
            return;
        };
        let (mode, total) = (self.mode, self.total);
        self.meter
            .get_or_insert_with(|| Meter::new(mode, total, Some(action.progress_object())))
            .update(done);
    }
    fn warning(&mut self, warning: &Warning<'_>) {
        if let Some(a) = self.action.as_mut() {
            a.warning(&xfer::warning_text(warning));
        }
    }
    fn end(&mut self, _ok: bool) {
        self.close_meter();
    }
}

impl ActionObserver for ShownAction<'_, '_> {
    fn finish(&mut self, outcome: &Outcome) -> Result<(), Stop> {
        self.close_meter();
        self.show(outcome).map_err(|e| {
            *self.error = Some(e);
            Stop
        })
    }
}

impl Drop for ShownAction<'_, '_> {
    fn drop(&mut self) {
        self.close_meter();
    }
}
