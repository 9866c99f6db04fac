//! The rows on synthetic workloads (`--synth-sizes`): repositories of
//! 10^4 to 10^6 files made by the builder ([`crate::synth`]) in seconds or
//! minutes, where the reference would take hours to `add` them.
//!
//! Each implementation gets its own copy of the same build (the builder is
//! deterministic), and operations run in place: a copy of a million-file
//! repository for every round would not fit on the disk. An operation that
//! changes the repository is followed by an untimed step that undoes it
//! (`drop` after `get`, `lock` after `unlock`...), run by the same
//! implementation; the operations on 1,000 files use the builder's
//! directories ([`crate::synth::GET_DIR`] and the others). `add` works on
//! its own build of plain files, made again before every round. Read-only
//! operations get one untimed warm-up run first.
//!
//! Above `--reference-up-to` files the reference is not run (its rows say
//! so): at 10^6 files the reference takes hours for some rows.

use std::path::{Path, PathBuf};

use super::env::Tools;
use super::measure::{Invocation, measure};
use super::report::{Row, Side};
use super::workload::remove_tree;
use super::{CompareError, Impl};
use crate::synth::{self, COPY_DIR, DROP_DIR, GET_DIR, Params, Synth, UNLOCK_DIR};

/// The program a step or a timed command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    /// The implementation under test (`{annex}` in arguments is its path).
    Annex,
    /// `git`, with `{annex}` in arguments replaced by the implementation's
    /// path (for the filter process).
    Git,
    /// `sh -c SCRIPT`, in the instance's directory (holding `repo/`), with
    /// `$ANNEX` the implementation's path.
    Shell,
}

/// One untimed step before or after the timed command.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    /// What runs it.
    pub program: Program,
    /// Its arguments (for [`Program::Shell`], one script).
    pub args: &'static [&'static str],
}

const fn annex(args: &'static [&'static str]) -> Step {
    Step {
        program: Program::Annex,
        args,
    }
}

const fn shell(script: &'static [&'static str]) -> Step {
    Step {
        program: Program::Shell,
        args: script,
    }
}

/// What must hold after the timed command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynthCheck {
    /// Exit status only.
    ExitStatus,
    /// Standard output empty (`git status --porcelain`: nothing changed).
    NoOutput,
    /// Every file of the directory has its content here (`true`) or not.
    Here(&'static str, bool),
    /// Every file of the directory has its content in the peer or not.
    InPeer(&'static str, bool),
    /// Content here and in the peer as given, for every file of the
    /// directory.
    HereAndPeer(&'static str, bool, bool),
    /// Every file of the directory is a symlink (locked, `true`) or a
    /// regular file (unlocked).
    Locked(&'static str, bool),
    /// The directory the command ran in has an `annex.uuid`.
    Initialized,
    /// Every plain file was added: as many objects as files.
    AllAdded,
}

/// The state the rounds start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The instance as it is (read-only commands; one warm-up run).
    Warm,
    /// The instance as it is; `prepare` and `undo` keep it the same from
    /// round to round.
    InPlace,
    /// A new build of `N` plain files in an initialized repository, before
    /// every round.
    PlainBuild,
}

/// One operation on the synthetic workload.
#[derive(Debug, Clone, Copy)]
pub struct SynthOp {
    /// Short name, for `--ops` and the JSON (`s-` and the command).
    pub id: &'static str,
    /// The timed command's program.
    pub program: Program,
    /// The timed command's arguments.
    pub args: &'static [&'static str],
    /// Where it runs, under the instance's directory.
    pub cwd: &'static str,
    /// The state before the rounds.
    pub start: Start,
    /// Untimed steps before each timed run.
    pub prepare: &'static [Step],
    /// Untimed steps after each timed run, restoring the state.
    pub undo: &'static [Step],
    /// What must hold after the timed run.
    pub check: SynthCheck,
}

impl SynthOp {
    /// The command as shown in the table.
    pub fn display(&self) -> String {
        let args = self.args.join(" ");
        let mut s = match self.program {
            Program::Annex => args,
            // The `-c filter.annex...` options name the implementation.
            Program::Git => format!(
                "git {}",
                self.args
                    .iter()
                    .skip_while(|a| a.starts_with("-c") || a.starts_with("filter."))
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            Program::Shell => format!("sh -c '{args}'"),
        };
        if let Some(note) = match self.id {
            "s-sync" => Some(" (again: no-op)"),
            "s-sync-changes" => Some(" (after a new file and 1,000 location changes)"),
            "s-sync-content" => Some(" (gets 1,000 files)"),
            "s-status" => Some(" (through the filter process, after touching every unlocked file)"),
            "s-lock" => Some(" (1,000 unlocked files)"),
            "s-move-from" => Some(" (1,000 files)"),
            "s-init-clone" => Some(" (in a bare clone)"),
            "s-pre-commit" | "s-smudge-update" => Some(" (hook, nothing to do)"),
            _ => None,
        } {
            s.push_str(note);
        }
        s
    }
}

/// The status command timed through the implementation's filter process.
const GIT_STATUS: &[&str] = &[
    "-c",
    "filter.annex.process={annex} filter-process",
    "-c",
    "filter.annex.clean={annex} smudge --clean -- %f",
    "-c",
    "filter.annex.smudge={annex} smudge -- %f",
    "status",
    "--porcelain",
];

/// Every synthetic-workload operation, in the order run and shown:
/// read-only first, then those that change the repository and undo it.
pub const SYNTH_OPS: &[SynthOp] = &[
    SynthOp {
        id: "s-whereis",
        program: Program::Annex,
        args: &["whereis"],
        cwd: "repo",
        start: Start::Warm,
        prepare: &[],
        undo: &[],
        check: SynthCheck::ExitStatus,
    },
    SynthOp {
        id: "s-find",
        program: Program::Annex,
        args: &["find"],
        cwd: "repo",
        start: Start::Warm,
        prepare: &[],
        undo: &[],
        check: SynthCheck::ExitStatus,
    },
    SynthOp {
        id: "s-find-json",
        program: Program::Annex,
        args: &["find", "--json"],
        cwd: "repo",
        start: Start::Warm,
        prepare: &[],
        undo: &[],
        check: SynthCheck::ExitStatus,
    },
    SynthOp {
        id: "s-info",
        program: Program::Annex,
        args: &["info"],
        cwd: "repo",
        start: Start::Warm,
        prepare: &[],
        undo: &[],
        check: SynthCheck::ExitStatus,
    },
    SynthOp {
        id: "s-fsck-fast",
        program: Program::Annex,
        args: &["fsck", "--fast"],
        cwd: "repo",
        start: Start::Warm,
        prepare: &[],
        undo: &[],
        check: SynthCheck::ExitStatus,
    },
    SynthOp {
        id: "s-fsck",
        program: Program::Annex,
        args: &["fsck"],
        cwd: "repo",
        start: Start::Warm,
        prepare: &[],
        undo: &[],
        check: SynthCheck::ExitStatus,
    },
    SynthOp {
        id: "s-pre-commit",
        program: Program::Annex,
        args: &["pre-commit", "."],
        cwd: "repo",
        // The builder writes the index without a cache tree; `git
        // commit` leaves a valid one, which `write-tree` makes (once: it
        // leaves a valid cache tree as it is).
        start: Start::InPlace,
        prepare: &[shell(&["cd repo && git write-tree > /dev/null"])],
        undo: &[],
        check: SynthCheck::ExitStatus,
    },
    SynthOp {
        id: "s-smudge-update",
        program: Program::Annex,
        args: &["smudge", "--update"],
        cwd: "repo",
        start: Start::Warm,
        prepare: &[],
        undo: &[],
        check: SynthCheck::ExitStatus,
    },
    SynthOp {
        id: "s-status",
        program: Program::Git,
        args: GIT_STATUS,
        cwd: "repo",
        start: Start::InPlace,
        prepare: &[shell(&[
            "cd repo && xargs -d '\\n' touch < ../unlocked.list",
        ])],
        undo: &[],
        check: SynthCheck::NoOutput,
    },
    SynthOp {
        id: "s-get",
        program: Program::Annex,
        args: &["get", GET_DIR],
        cwd: "repo",
        start: Start::InPlace,
        prepare: &[],
        undo: &[annex(&["drop", GET_DIR])],
        check: SynthCheck::Here(GET_DIR, true),
    },
    SynthOp {
        id: "s-drop",
        program: Program::Annex,
        args: &["drop", DROP_DIR],
        cwd: "repo",
        start: Start::InPlace,
        prepare: &[],
        undo: &[annex(&["get", DROP_DIR])],
        check: SynthCheck::Here(DROP_DIR, false),
    },
    SynthOp {
        id: "s-copy-to",
        program: Program::Annex,
        args: &["copy", "--to", "peer", COPY_DIR],
        cwd: "repo",
        start: Start::InPlace,
        prepare: &[],
        undo: &[annex(&["drop", "--from", "peer", COPY_DIR])],
        check: SynthCheck::InPeer(COPY_DIR, true),
    },
    SynthOp {
        id: "s-move-to",
        program: Program::Annex,
        args: &["move", "--to", "peer", COPY_DIR],
        cwd: "repo",
        start: Start::InPlace,
        prepare: &[],
        undo: &[annex(&["move", "--from", "peer", COPY_DIR])],
        check: SynthCheck::HereAndPeer(COPY_DIR, false, true),
    },
    SynthOp {
        id: "s-move-from",
        program: Program::Annex,
        args: &["move", "--from", "peer", COPY_DIR],
        cwd: "repo",
        start: Start::InPlace,
        prepare: &[annex(&["move", "--to", "peer", COPY_DIR])],
        undo: &[],
        check: SynthCheck::HereAndPeer(COPY_DIR, true, false),
    },
    SynthOp {
        id: "s-unlock",
        program: Program::Annex,
        args: &["unlock", UNLOCK_DIR],
        cwd: "repo",
        start: Start::InPlace,
        prepare: &[],
        undo: &[annex(&["lock", UNLOCK_DIR])],
        check: SynthCheck::Locked(UNLOCK_DIR, false),
    },
    SynthOp {
        id: "s-lock",
        program: Program::Annex,
        args: &["lock", UNLOCK_DIR],
        cwd: "repo",
        start: Start::InPlace,
        prepare: &[annex(&["unlock", UNLOCK_DIR])],
        undo: &[],
        check: SynthCheck::Locked(UNLOCK_DIR, true),
    },
    SynthOp {
        id: "s-sync",
        program: Program::Annex,
        args: &["sync"],
        cwd: "repo",
        start: Start::InPlace,
        prepare: &[annex(&["sync"])],
        undo: &[],
        check: SynthCheck::ExitStatus,
    },
    SynthOp {
        id: "s-sync-changes",
        program: Program::Annex,
        args: &["sync"],
        cwd: "repo",
        start: Start::InPlace,
        prepare: &[
            annex(&["sync"]),
            shell(&["mkdir -p repo/changes && date +%s%N > repo/changes/$(date +%s%N).txt"]),
            annex(&["add", "changes"]),
            annex(&["drop", DROP_DIR]),
            annex(&["get", DROP_DIR]),
        ],
        undo: &[],
        check: SynthCheck::ExitStatus,
    },
    SynthOp {
        id: "s-sync-content",
        program: Program::Annex,
        args: &["sync", "--content"],
        cwd: "repo",
        start: Start::InPlace,
        prepare: &[annex(&["sync"])],
        undo: &[annex(&["drop", GET_DIR])],
        check: SynthCheck::Here(GET_DIR, true),
    },
    SynthOp {
        id: "s-init-clone",
        program: Program::Annex,
        args: &["init", "clone"],
        cwd: "clone.git",
        start: Start::InPlace,
        prepare: &[shell(&[
            "rm -rf clone.git && git clone -q --bare repo clone.git",
        ])],
        undo: &[shell(&["rm -rf clone.git"])],
        check: SynthCheck::Initialized,
    },
    SynthOp {
        id: "s-add",
        program: Program::Annex,
        args: &["add", "."],
        cwd: "repo",
        start: Start::PlainBuild,
        prepare: &[],
        undo: &[],
        check: SynthCheck::AllAdded,
    },
];

/// The synthetic operations `filter` names (those starting with `s-`), or
/// all of them when there is no filter. Unknown `s-` ids are an error.
pub fn select(filter: Option<&str>) -> Result<Vec<SynthOp>, String> {
    let Some(filter) = filter else {
        return Ok(SYNTH_OPS.to_vec());
    };
    let wanted: Vec<&str> = filter
        .split(',')
        .map(str::trim)
        .filter(|s| s.starts_with("s-"))
        .collect();
    let unknown: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|w| !SYNTH_OPS.iter().any(|o| o.id == *w))
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = SYNTH_OPS.iter().map(|o| o.id).collect();
        return Err(format!(
            "unknown operation(s) {}; known synthetic ones: {}",
            unknown.join(", "),
            known.join(", ")
        ));
    }
    Ok(SYNTH_OPS
        .iter()
        .filter(|o| wanted.contains(&o.id))
        .copied()
        .collect())
}

/// The synthetic runs' parameters.
#[derive(Debug, Clone)]
pub struct SynthConfig {
    /// File counts, one workload each.
    pub sizes: Vec<usize>,
    /// The operations.
    pub ops: Vec<SynthOp>,
    /// The reference runs only on workloads of at most this many files.
    pub reference_up_to: usize,
    /// Every this-many-th file unlocked.
    pub unlocked_every: usize,
    /// Share of ordinary files with content here, percent.
    pub present_percent: u8,
}

/// The build parameters of the workload of `n` files.
pub fn params(cfg: &SynthConfig, n: usize, seed: u64) -> Params {
    Params {
        files: n,
        plain: 0,
        unlocked_every: cfg.unlocked_every,
        present_percent: cfg.present_percent,
        peer: true,
        seed,
    }
}

/// Runs the synthetic rows.
pub fn run(
    cfg: &super::Config,
    scfg: &SynthConfig,
    tools: &Tools,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<Row>, CompareError> {
    let mut rows = Vec::new();
    for &n in &scfg.sizes {
        if scfg.ops.is_empty() {
            break;
        }
        let dir = cfg.workdir.join(format!("synth-{n}"));
        let with_ref = n <= scfg.reference_up_to;
        let imps: &[Impl] = if with_ref {
            &[Impl::Ours, Impl::Reference]
        } else {
            &[Impl::Ours]
        };
        let params = params(scfg, n, cfg.seed);
        let needs_full = scfg.ops.iter().any(|o| o.start != Start::PlainBuild);
        let mut instances: Vec<Option<Synth>> = vec![None, None];
        if needs_full {
            for &imp in imps {
                let root = dir.join(imp.name());
                let s = if synth::is_built(&root, &params) {
                    progress(&format!(
                        "synthetic workload of {n} files for {}: reused",
                        imp.name()
                    ));
                    Synth {
                        root,
                        params: params.clone(),
                    }
                } else {
                    progress(&format!(
                        "building the synthetic workload of {n} files for {}",
                        imp.name()
                    ));
                    synth::build(tools, &root, &params, &mut |l| progress(l))?
                };
                instances[imp as usize] = Some(s);
            }
        }
        let size = format!("{n} files (synthetic)");
        for op in &scfg.ops {
            let mut acc: [Result<Vec<super::measure::Sample>, String>; 2] =
                [Ok(Vec::new()), Ok(Vec::new())];
            if !with_ref {
                acc[Impl::Reference as usize] = Err(String::new());
            }
            for round in 0..cfg.rounds {
                let order = if round % 2 == 0 {
                    [Impl::Ours, Impl::Reference]
                } else {
                    [Impl::Reference, Impl::Ours]
                };
                for imp in order {
                    if !imps.contains(&imp) || acc[imp as usize].is_err() {
                        continue;
                    }
                    let instance = match op.start {
                        Start::PlainBuild => {
                            let root = dir.join(format!("add-{}", imp.name()));
                            let p = Params {
                                files: 0,
                                plain: n,
                                peer: false,
                                ..params.clone()
                            };
                            progress(&format!("{} ({size}): building {n} plain files", op.id));
                            synth::build(tools, &root, &p, &mut |_| {})?
                        }
                        _ => match &instances[imp as usize] {
                            Some(s) => s.clone(),
                            None => continue,
                        },
                    };
                    let warm = op.start == Start::Warm && round == 0;
                    let r = one_round(cfg, tools, op, imp, &instance, warm);
                    let r = r?;
                    match r {
                        Ok(sample) => {
                            progress(&format!(
                                "{} ({size}) round {}/{}, {}: {}, {}, CPU {}",
                                op.id,
                                round + 1,
                                cfg.rounds,
                                imp.name(),
                                super::report::fmt_duration(sample.wall),
                                super::report::fmt_rss(sample.max_rss_kib),
                                super::report::fmt_duration(sample.cpu)
                            ));
                            if let Ok(v) = &mut acc[imp as usize] {
                                v.push(sample);
                            }
                        }
                        Err(reason) => {
                            progress(&format!(
                                "{} ({size}), {}: fails: {reason}",
                                op.id,
                                imp.name()
                            ));
                            acc[imp as usize] = Err(reason);
                        }
                    }
                    if op.start == Start::PlainBuild {
                        remove_tree(tools, &instance.root)?;
                    }
                }
            }
            let side = |imp: Impl, a: Result<Vec<super::measure::Sample>, String>| match a {
                Ok(v) => Side::Ok {
                    walls: v.iter().map(|s| s.wall).collect(),
                    rss_kib: v.iter().map(|s| s.max_rss_kib).collect(),
                    cpus: v.iter().map(|s| s.cpu).collect(),
                },
                Err(_) if imp == Impl::Reference && !with_ref => Side::NotRun {
                    why: format!("above --reference-up-to {}", scfg.reference_up_to),
                },
                Err(reason) => Side::Failed { reason },
            };
            let [ours, reference] = acc;
            let row = Row {
                op: op.id.to_string(),
                command: op.display(),
                size: size.clone(),
                ours: side(Impl::Ours, ours),
                reference: side(Impl::Reference, reference),
            };
            progress(&format!("result: {}", super::report::markdown_row(&row)));
            rows.push(row);
        }
    }
    Ok(rows)
}

/// Substitutes the implementation's path for `{annex}`.
fn subst(args: &[&str], annex: &Path) -> Vec<String> {
    let a = annex.to_string_lossy();
    args.iter().map(|s| s.replace("{annex}", &a)).collect()
}

fn program_path(program: Program, annex: &Path) -> PathBuf {
    match program {
        Program::Annex => annex.to_path_buf(),
        Program::Git => PathBuf::from("git"),
        Program::Shell => PathBuf::from("sh"),
    }
}

/// Runs an untimed step; an error message when it fails.
fn step(tools: &Tools, s: &Step, annex: &Path, instance: &Synth) -> Result<(), String> {
    let mut cmd = tools.command(&program_path(s.program, annex));
    match s.program {
        Program::Shell => {
            cmd.arg("-c").args(s.args).current_dir(&instance.root);
            cmd.env("ANNEX", annex);
        }
        _ => {
            cmd.args(subst(s.args, annex)).current_dir(instance.repo());
        }
    }
    let o = cmd
        .output()
        .map_err(|e| format!("{:?}: could not start: {e}", s.args))?;
    if o.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&o.stderr);
        Err(format!(
            "`{}` {}: {}",
            s.args.join(" "),
            o.status,
            err.lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
        ))
    }
}

/// One round of `op` by `imp`: prepare, (warm-up,) timed run, check, undo.
/// The outer error is the runner's; the inner one the implementation's.
fn one_round(
    cfg: &super::Config,
    tools: &Tools,
    op: &SynthOp,
    imp: Impl,
    instance: &Synth,
    warm: bool,
) -> Result<Result<super::measure::Sample, String>, CompareError> {
    let annex = match imp {
        Impl::Ours => tools.ours.as_path(),
        Impl::Reference => tools.reference.exe.as_path(),
    };
    for s in op.prepare {
        if let Err(e) = step(tools, s, annex, instance) {
            return Ok(Err(format!("prepare: {e}")));
        }
    }
    let out_dir = instance.root.join("output");
    std::fs::create_dir_all(&out_dir).map_err(|e| CompareError::io(&out_dir, e))?;
    let args = subst(op.args, annex);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let program = program_path(op.program, annex);
    let cwd = instance.root.join(op.cwd);
    let inv = Invocation {
        helper: &cfg.helper,
        program: &program,
        args: &args,
        cwd: &cwd,
        timeout: cfg.timeout,
        output_stem: out_dir.join(format!("{}.{}", op.id, imp.name())),
    };
    if warm {
        let s = measure(&inv, &|c| tools.apply(c))?;
        if !s.outcome.success() {
            return Ok(Err(format!(
                "warm-up: {}{}",
                s.outcome,
                s.stderr_first_line
                    .map(|l| format!(": {l}"))
                    .unwrap_or_default()
            )));
        }
    }
    let s = measure(&inv, &|c| tools.apply(c))?;
    if !s.outcome.success() {
        return Ok(Err(match &s.stderr_first_line {
            Some(l) => format!("{}: {l}", s.outcome),
            None => s.outcome.to_string(),
        }));
    }
    if let Err(m) = check(tools, op.check, instance, &cwd, &inv.output_stem) {
        return Ok(Err(format!("exit 0, but {m}")));
    }
    for s in op.undo {
        if let Err(e) = step(tools, s, annex, instance) {
            return Ok(Err(format!("undo: {e}")));
        }
    }
    Ok(Ok(s))
}

/// The keys of the files of `dir` (their symlinks' or pointers' last
/// component), with whether each is a symlink.
fn dir_keys(repo: &Path, dir: &str) -> Result<Vec<(String, bool)>, String> {
    let d = repo.join(dir);
    let mut out = Vec::new();
    let entries = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
    for e in entries {
        let e = e.map_err(|e| format!("{}: {e}", d.display()))?;
        let p = e.path();
        let meta = std::fs::symlink_metadata(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        let key = if meta.file_type().is_symlink() {
            let t = std::fs::read_link(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            t.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            String::new()
        };
        out.push((key, meta.file_type().is_symlink()));
    }
    if out.is_empty() {
        return Err(format!("{} is empty", d.display()));
    }
    Ok(out)
}

fn check(
    tools: &Tools,
    check: SynthCheck,
    instance: &Synth,
    cwd: &Path,
    output_stem: &Path,
) -> Result<(), String> {
    let repo = instance.repo();
    let present_here = |key: &str| -> Result<bool, String> {
        let k =
            annex_core::key::Key::parse(key.as_bytes()).map_err(|e| format!("key {key}: {e}"))?;
        let p = repo
            .join(".git/annex/objects")
            .join(annex_core::objects::hash_dir_mixed(&k))
            .join(key)
            .join(key);
        Ok(p.exists())
    };
    let in_peer = |key: &str| -> Result<bool, String> {
        let k =
            annex_core::key::Key::parse(key.as_bytes()).map_err(|e| format!("key {key}: {e}"))?;
        let p = instance
            .peer()
            .join("annex/objects")
            .join(annex_core::objects::hash_dir_lower(&k))
            .join(key)
            .join(key);
        Ok(p.exists())
    };
    let all = |dir: &str, what: &str, f: &dyn Fn(&str) -> Result<bool, String>, want: bool| {
        let keys = dir_keys(&repo, dir)?;
        let mut wrong = 0;
        for (k, _) in &keys {
            if f(k)? != want {
                wrong += 1;
            }
        }
        if wrong == 0 {
            Ok(())
        } else {
            Err(format!(
                "{wrong} of {} files of {dir} {} content {what}",
                keys.len(),
                if want { "lack" } else { "still have" }
            ))
        }
    };
    match check {
        SynthCheck::ExitStatus => Ok(()),
        SynthCheck::NoOutput => {
            let out = output_stem.with_extension("out");
            let text =
                std::fs::read_to_string(&out).map_err(|e| format!("{}: {e}", out.display()))?;
            if text.trim().is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "the output is not empty: {}",
                    text.lines().take(3).collect::<Vec<_>>().join("; ")
                ))
            }
        }
        SynthCheck::Here(dir, want) => all(dir, "here", &present_here, want),
        SynthCheck::InPeer(dir, want) => all(dir, "in the peer", &in_peer, want),
        SynthCheck::HereAndPeer(dir, here, peer) => {
            all(dir, "here", &present_here, here)?;
            all(dir, "in the peer", &in_peer, peer)
        }
        SynthCheck::Locked(dir, want) => {
            let keys = dir_keys(&repo, dir)?;
            let wrong = keys.iter().filter(|(_, link)| *link != want).count();
            if wrong == 0 {
                Ok(())
            } else {
                Err(format!(
                    "{wrong} of {} files of {dir} are not {}",
                    keys.len(),
                    if want { "locked" } else { "unlocked" }
                ))
            }
        }
        SynthCheck::Initialized => {
            let mut c = tools.git(cwd);
            c.args(["config", "--get", "annex.uuid"]);
            match c.output() {
                Ok(o) if o.status.success() && !o.stdout.is_empty() => Ok(()),
                _ => Err(format!("{} has no annex.uuid", cwd.display())),
            }
        }
        SynthCheck::AllAdded => {
            let found = super::workload::count_objects(&repo);
            let want = instance.params.plain;
            if found == want {
                Ok(())
            } else {
                Err(format!(
                    "repo holds {found} annexed objects, {want} expected"
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synth_ids_are_unique_and_prefixed() {
        for (i, a) in SYNTH_OPS.iter().enumerate() {
            assert!(a.id.starts_with("s-"), "{}", a.id);
            assert!(
                SYNTH_OPS[i + 1..].iter().all(|b| b.id != a.id),
                "duplicate {}",
                a.id
            );
            assert!(super::super::ops::OPS.iter().all(|b| b.id != a.id));
        }
    }

    #[test]
    fn select_takes_only_synthetic_ids() {
        let s = select(Some("find,s-find,s-get")).expect("known");
        let ids: Vec<&str> = s.iter().map(|o| o.id).collect();
        assert_eq!(ids, ["s-find", "s-get"]);
        assert!(select(Some("s-nope")).is_err());
        assert!(select(Some("find")).expect("none").is_empty());
        assert_eq!(select(None).expect("all").len(), SYNTH_OPS.len());
    }

    #[test]
    fn annex_placeholder_is_substituted() {
        let a = subst(GIT_STATUS, Path::new("/x/git-annex-rs"));
        assert_eq!(a[1], "filter.annex.process=/x/git-annex-rs filter-process");
        assert_eq!(a[7], "--porcelain");
        let status = SYNTH_OPS
            .iter()
            .find(|o| o.id == "s-status")
            .expect("s-status");
        assert_eq!(
            status.display(),
            "git status --porcelain (through the filter process, after touching every unlocked file)"
        );
    }
}
