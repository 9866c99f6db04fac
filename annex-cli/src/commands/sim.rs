//! `sim`: simulate a network of repositories (`annex_sim`). `sim start
//! [FILE]`, `sim COMMAND...`, `sim show`, `sim end`, `sim run FILE`, the
//! state kept in `.git/annex/sim/` between them, as git-annex does; and
//! `sim run --check FILE` (also `sim check FILE`), the convergence checker,
//! which exits 1 on any problem it finds.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use annex_core::key::Key;
use annex_core::preferred::{self, Item, StateContext};
use annex_core::uuid::Uuid;
use annex_sim::file::{self, Command};
use annex_sim::sim::RepoConfig;
use annex_sim::{Host, Sim, SimError};

use crate::action::CommonArgs;
use crate::context::Ctx;
use crate::error::CommandError;
use crate::output::outln;

/// Arguments of `sim`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// `start [FILE]`, `end`, `show`, `run FILE`, `check FILE`, or a sim
    /// command.
    #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
    params: Vec<OsString>,
    #[command(flatten)]
    common: CommonArgs,
}

/// The checker's step limit unless `--max-steps=N` says otherwise.
const DEFAULT_MAX_STEPS: u64 = 100_000;

struct CliHost<'a> {
    ctx: &'a Ctx,
    simdir: PathBuf,
    quiet: bool,
}

fn note(quiet: bool, message: &str) {
    if !quiet {
        let indented: Vec<String> = message.lines().map(|l| format!("  {l}")).collect();
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "\n{}\n", indented.join("\n"));
        let _ = out.flush();
    }
}

impl Host for CliHost<'_> {
    fn note(&mut self, message: &str) {
        note(self.quiet, message);
    }

    fn existing_repo(&mut self, what: &str) -> Result<RepoConfig, String> {
        let state = &self.ctx.state;
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let descs = state.descriptions().map_err(|e| err(&e))?;
        let here = self.ctx.repo.uuid().cloned();
        let u =
            annex_core::config::resolve_repository(what, here.as_ref(), &self.ctx.config, &descs)
                .map_err(|e| err(&e))?;
        let to_s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let groups: std::collections::BTreeSet<String> = state
            .groups()
            .map_err(|e| err(&e))?
            .remove(&u)
            .unwrap_or_default()
            .iter()
            .map(|g| to_s(g))
            .collect();
        let group_wanted = state
            .group_preferred_content()
            .map_err(|e| err(&e))?
            .into_iter()
            .map(|(g, e)| (to_s(&g), to_s(&e)))
            .filter(|(g, _)| groups.contains(g))
            .collect();
        Ok(RepoConfig {
            special: state.remotes().map_err(|e| err(&e))?.contains_key(&u),
            trust: Some(
                state
                    .trust_levels()
                    .map_err(|e| err(&e))?
                    .get(&u)
                    .copied()
                    .unwrap_or(annex_core::logs::trust::TrustLevel::SemiTrusted),
            ),
            wanted: state
                .preferred_content()
                .map_err(|e| err(&e))?
                .get(&u)
                .map(|e| to_s(e)),
            required: state
                .required_content()
                .map_err(|e| err(&e))?
                .get(&u)
                .map(|e| to_s(e)),
            max_size: state
                .maxsizes()
                .map_err(|e| err(&e))?
                .get(&u)
                .map(|n| u64::try_from((*n).max(0)).unwrap_or(0)),
            groups,
            group_wanted,
            uuid: Some(u),
        })
    }

    fn tree_files(&mut self, uuid: &Uuid, expr: &str) -> Result<Vec<(String, Key)>, String> {
        let ctx = self.ctx;
        let Some(wt) = ctx.worktree.as_ref() else {
            return Err("there is no work tree".into());
        };
        // Only files under the current directory, named relative to it.
        let prefix = ctx
            .cwd
            .strip_prefix(wt.top())
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        let spec: Vec<Vec<u8>> = if prefix.is_empty() {
            Vec::new()
        } else {
            vec![prefix.as_bytes().to_vec()]
        };
        let seek = wt.annexed_files(&spec).map_err(|e| e.to_string())?;
        let groups = ctx.state.groups().map_err(|e| e.to_string())?;
        let gw = ctx
            .state
            .group_preferred_content()
            .map_err(|e| e.to_string())?;
        let none = std::collections::BTreeSet::new();
        let m = preferred::repo_matcher(expr.as_bytes(), groups.get(uuid).unwrap_or(&none), &gw)
            .map_err(|e| e.to_string())?;
        let mctx = StateContext::new(
            &ctx.state,
            ctx.repo.uuid().cloned(),
            Some(ctx.store.clone()),
            &ctx.config,
        )
        .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for f in seek.files {
            let item = Item::file(&f.path, Some(&f.key)).for_repo(Some(uuid));
            if m.matches(&mctx, &item).unwrap_or(false) {
                let top = String::from_utf8_lossy(&f.path).into_owned();
                let rel = if prefix.is_empty() {
                    top
                } else {
                    top.strip_prefix(&format!("{prefix}/"))
                        .unwrap_or(&top)
                        .to_string()
                };
                out.push((rel, f.key));
            }
        }
        Ok(out)
    }

    fn visit(&mut self, sim: &Sim, repo: &Uuid, command: &[String]) -> Result<i32, String> {
        let dir = self.simdir.join(repo.as_str());
        annex_sim::materialize::materialize(sim, repo, &dir).map_err(|e| e.to_string())?;
        let mut cmd = if command.is_empty() {
            std::process::Command::new(std::env::var_os("SHELL").unwrap_or_else(|| "sh".into()))
        } else {
            let mut c = std::process::Command::new("sh");
            c.arg("-c").arg(command.join(" "));
            c
        };
        let status = cmd
            .current_dir(&dir)
            .status()
            .map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(status.code().unwrap_or(1))
    }
}

fn strings(params: &[OsString]) -> Vec<String> {
    params
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

fn sim_error(e: SimError) -> CommandError {
    match e {
        SimError::Failed(m) => CommandError::failed(m),
        SimError::Exit(code) => CommandError::exit(code),
    }
}

/// Runs `sim`.
pub fn run(args: Args) -> Result<(), CommandError> {
    let mut params = strings(&args.params);
    let quiet = crate::global::get().quiet;
    let ctx = Ctx::open(&args.common.config, true)?;
    let simdir = ctx.repo.annex_dir().join("sim");
    let mut host = CliHost {
        ctx: &ctx,
        simdir: simdir.clone(),
        quiet,
    };
    // `run --check` / `check`: options of the checker anywhere after.
    let check = params.first().is_some_and(|p| p == "check")
        || (params.first().is_some_and(|p| p == "run") && params.iter().any(|p| p == "--check"));
    let mut max_steps = DEFAULT_MAX_STEPS;
    if check {
        let mut kept = Vec::new();
        for p in params.drain(..) {
            if p == "--check" {
                continue;
            }
            if let Some(n) = p.strip_prefix("--max-steps=") {
                max_steps = n
                    .parse()
                    .map_err(|_| CommandError::user(format!("bad --max-steps value \"{n}\"")))?;
                continue;
            }
            kept.push(p);
        }
        params = kept;
    }
    let words: Vec<&str> = params.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["start"] => start_and_suspend(&mut host, None),
        ["start", f] => start_and_suspend(&mut host, Some(Path::new(f))),
        ["end"] => end(&simdir, quiet),
        ["show"] => {
            let sim = load(&simdir)?;
            show(&sim)
        }
        ["run", f] if check => check_file(&mut host, Path::new(f), max_steps),
        ["check", f] => check_file(&mut host, Path::new(f), max_steps),
        ["run", f] => {
            let sim = start(&mut host, Some(Path::new(f)))?;
            end(&simdir, quiet)?;
            if sim.failed {
                show(&sim)?;
                return Err(CommandError::failed("Simulation shown above had errors."));
            }
            Ok(())
        }
        _ => {
            let cmd = file::parse_command(&params).map_err(|e| CommandError::failed(e.message))?;
            let mut sim = load(&simdir)?;
            let was_failed = sim.failed;
            // A failed command leaves the saved sim as it was.
            sim.apply(cmd, &mut host).map_err(sim_error)?;
            suspend(&simdir, &sim)?;
            if sim.failed && !was_failed {
                return Err(CommandError::failed("Simulation had errors."));
            }
            Ok(())
        }
    }
}

/// The saved state, with the reference's words when there is none.
fn load(simdir: &Path) -> Result<Sim, CommandError> {
    annex_sim::persist::load(simdir).map_err(|e| match e {
        annex_sim::persist::PersistError::Io { source, .. }
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            CommandError::failed(
                ".git/annex/sim/state: openFile: does not exist (No such file or directory)",
            )
        }
        e => CommandError::failed(e.to_string()),
    })
}

fn show(sim: &Sim) -> Result<(), CommandError> {
    crate::output::text(format_args!("{}", file::generate(&sim.history)))
}

fn end(simdir: &Path, quiet: bool) -> Result<(), CommandError> {
    if simdir.is_dir() {
        std::fs::remove_dir_all(simdir)
            .map_err(|e| CommandError::failed(format!("{}: {e}", simdir.display())))?;
    }
    note(quiet, "Sim ended.");
    Ok(())
}

fn random_seed() -> i64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() as i64
}

fn read_sim_file(f: &Path) -> Result<Vec<Command>, CommandError> {
    let text =
        std::fs::read(f).map_err(|e| CommandError::failed(format!("{}: {e}", f.display())))?;
    let text = String::from_utf8_lossy(&text);
    file::parse(&text).map_err(|e| CommandError::failed(format!("{}: {e}", f.display())))
}

/// `start`: a new sim (from a file), its state not yet saved.
fn start(host: &mut CliHost<'_>, f: Option<&Path>) -> Result<Sim, CommandError> {
    if host.simdir.is_dir() {
        return Err(CommandError::failed(
            "A sim was previously started. Use `git-annex sim end` to stop it before starting a new one.",
        ));
    }
    host.note("Sim started.");
    let commands = match f {
        Some(f) => read_sim_file(f)?,
        None => Vec::new(),
    };
    std::fs::create_dir_all(&host.simdir)
        .map_err(|e| CommandError::failed(format!("{}: {e}", host.simdir.display())))?;
    let mut sim = Sim::new(random_seed());
    if !matches!(commands.first(), Some(Command::Seed(_))) {
        sim.history.push(Command::Seed(sim.rng));
    }
    for c in commands {
        sim.apply(c, host).map_err(sim_error)?;
    }
    Ok(sim)
}

/// Saves the sim, its simulated repositories brought up to date (as the
/// reference suspends a sim).
fn suspend(simdir: &Path, sim: &Sim) -> Result<(), CommandError> {
    annex_sim::materialize::suspend(sim, simdir)
        .map_err(|e| CommandError::failed(e.to_string()))?;
    annex_sim::persist::save(simdir, sim).map_err(|e| CommandError::failed(e.to_string()))
}

fn start_and_suspend(host: &mut CliHost<'_>, f: Option<&Path>) -> Result<(), CommandError> {
    let sim = start(host, f)?;
    suspend(&host.simdir, &sim)?;
    if sim.failed {
        return Err(CommandError::failed("Simulation had errors."));
    }
    Ok(())
}

/// The convergence checker over a sim file: nothing is kept.
fn check_file(host: &mut CliHost<'_>, f: &Path, max_steps: u64) -> Result<(), CommandError> {
    let commands = read_sim_file(f)?;
    let mut sim = Sim::new(random_seed());
    // The sim's notes are not the checker's report; repositories visited
    // are made apart from a running sim's, and removed after.
    host.quiet = true;
    let sim_dir = host.simdir.clone();
    host.simdir = sim_dir.with_file_name(format!("simcheck.{}", std::process::id()));
    let report = annex_sim::check::check_commands(&mut sim, commands, max_steps, host);
    if host.simdir.is_dir() {
        let _ = std::fs::remove_dir_all(&host.simdir);
    }
    host.simdir = sim_dir;
    let report = report.map_err(|e| CommandError::failed(e.to_string()))?;
    for l in report.lines() {
        outln!("{l}")?;
    }
    if report.is_ok() {
        Ok(())
    } else {
        Err(CommandError::exit(1))
    }
}
