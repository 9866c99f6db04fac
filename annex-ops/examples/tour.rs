//! A tour of `annex-ops` through its API only: in the repository given,
//! get a file's content, copy it to a remote, drop it here (the refusal
//! shown when the copies cannot be proven), then run a content sync with
//! that remote (`annex-sync`'s pass, on top of these operations: what the
//! repositories' preferred content says is got, put and dropped), printing
//! each outcome.
//!
//! ```text
//! cargo run -p annex-ops --example tour -- REPOSITORY FILE REMOTE
//! ```
//!
//! `FILE` is the path of an annexed file from the top of the work tree;
//! `REMOTE` the name of a git remote on this machine. Exits 1 when an
//! operation fails (a refused drop is an outcome, not a failure).

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;

use annex_ops::drop::{DropOptions, DropOutcome};
use annex_ops::get::{GetOptions, GetOutcome};
use annex_ops::put::{PutOptions, PutOutcome};
use annex_ops::session::{OpenOptions, Session};
use annex_ops::{Annex, Item, Observer, Warning};
use annex_sync::content::{
    ActionObserver, ContentObserver, ContentOptions, Kind, Outcome, Start, Stop, sync_content,
};

/// Shows what an operation does as it goes, on stderr.
struct Show {
    bytes: u64,
}

impl Observer for Show {
    fn note(&mut self, note: &str) {
        eprintln!("  ({note})");
    }
    fn progress(&mut self, done: u64) {
        self.bytes = done;
    }
    fn warning(&mut self, warning: &Warning<'_>) {
        eprintln!("  warning: {warning}");
    }
    fn end(&mut self, ok: bool) {
        eprintln!(
            "  {} bytes, {}",
            self.bytes,
            if ok { "ok" } else { "failed" }
        );
    }
}

/// Prints each action of the content pass with its outcome.
struct Pass {
    actions: usize,
}

/// One action of the content pass.
struct PassAction<'a> {
    pass: &'a mut Pass,
    line: String,
}

impl Observer for PassAction<'_> {}

impl ActionObserver for PassAction<'_> {
    fn finish(&mut self, outcome: &Outcome) -> Result<(), Stop> {
        self.pass.actions += 1;
        let result = if outcome.ok() { "ok" } else { "failed" };
        println!("{}: {result}", self.line);
        Ok(())
    }
}

impl ContentObserver for Pass {
    fn start(&mut self, action: &Start<'_>) -> Result<Box<dyn ActionObserver + '_>, Stop> {
        let what = match action.kind {
            Kind::Get => "get",
            Kind::Put => "put",
            Kind::Drop => "drop",
        };
        let file = String::from_utf8_lossy(&action.item.top_path).into_owned();
        let line = match action.remote {
            Some(r) => format!("sync --content: {what} {file} ({})", r.name),
            None => format!("sync --content: {what} {file}"),
        };
        Ok(Box::new(PassAction { pass: self, line }))
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [repo, file, remote] = args.as_slice() else {
        eprintln!("usage: tour REPOSITORY FILE REMOTE");
        return ExitCode::from(2);
    };
    match tour(PathBuf::from(repo), file, remote) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("tour: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The tour; whether every operation succeeded.
fn tour(repo: PathBuf, file: &str, remote: &str) -> Result<bool, Box<dyn Error>> {
    let (session, opened) = Session::open(&OpenOptions::new(&repo))?;
    for name in &opened.merged {
        println!("merged {name}");
    }
    let annex = Annex::open(session)?;
    let wt = annex.session.worktree()?;
    let (key, locked) = wt
        .lookup_key(file.as_bytes())?
        .ok_or_else(|| format!("{file} is not an annexed file"))?;
    let item = Item::file(file.as_bytes().to_vec(), key, !locked);
    let mut show = Show { bytes: 0 };
    let mut ok = true;

    // get
    match annex.get_sources(&item, GetOptions::default())? {
        None => println!("get {file}: already here"),
        Some(sources) => match annex.get(&item, &sources, &mut show)? {
            GetOutcome::Got { from } => println!("get {file}: got from {from}"),
            GetOutcome::NotAvailable(w) => {
                ok = false;
                let elsewhere: Vec<String> =
                    w.wanted.iter().map(|u| annex.description(u)).collect();
                println!(
                    "get {file}: not available (elsewhere: {})",
                    elsewhere.join(", ")
                );
            }
            GetOutcome::Failed { tried, .. } => {
                ok = false;
                println!("get {file}: failed (tried {})", tried.join(", "));
            }
        },
    }

    // copy --to
    let entry = annex.remote_named(remote)?;
    let options = PutOptions::default();
    if annex.wants_put(&item, entry, options)? {
        match annex.put(&item, entry, options, false, &mut show)? {
            PutOutcome::Copied => println!("copy {file} --to {remote}: copied"),
            other => {
                ok = false;
                println!("copy {file} --to {remote}: not copied ({other:?})");
            }
        }
    } else {
        println!("copy {file} --to {remote}: nothing to do");
    }

    // drop here
    match annex.drop_here(&item, DropOptions::default())? {
        DropOutcome::Dropped => println!("drop {file}: dropped"),
        DropOutcome::Refused(r) => {
            let why = annex_core::content::unsafe_drop_explanation(&r.check).join(" ");
            println!("drop {file}: refused: {why}");
            for u in &r.whereabouts.wanted {
                println!("  also said to be in {}", annex.description(u));
            }
        }
        other => {
            ok = false;
            println!("drop {file}: {other:?}");
        }
    }

    let finished = annex.finish()?;
    for e in &finished.remote_errors {
        ok = false;
        println!("recording on a remote failed: {e}");
    }

    // sync --content with the remote, as `git annex sync --content REMOTE`
    // does after its git-level part: only repositories with preferred
    // content take part (git-annex's default content sync).
    let mut options = ContentOptions::new(repo.clone());
    options.remotes = vec![remote.to_owned()];
    options.only_configured = true;
    let mut pass = Pass { actions: 0 };
    let summary = sync_content(&annex, options, &mut pass)?;
    if pass.actions == 0 {
        println!("sync --content: nothing to do");
    }
    if summary.failed > 0 {
        ok = false;
        println!("sync --content: {} failed", summary.failed);
    }
    Ok(ok)
}
