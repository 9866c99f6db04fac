//! The convergence checker: runs a sim's commands, then keeps stepping
//! it one step at a time until nothing changes (it converges), the
//! placement of every file repeats one seen before (a cycle: the network
//! oscillates), or a step limit is reached. Along the way it records every
//! file whose copies fell below numcopies or mincopies and every
//! repository that went over its maxsize; for an oscillating file it names
//! the repositories that gained and lost it and their preferred content
//! expression, the expression at fault.
//!
//! ```
//! use annex_sim::check::{check, Verdict};
//! let r = check("init a\ninit b\nconnect a <-> b\nwanted b include=*\nadd f 1mb a\n", 1000).unwrap();
//! assert_eq!(r.verdict, Verdict::Converged { steps: 2 });
//! assert!(r.is_ok());
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};

use annex_core::uuid::Uuid;

use crate::file::{self, Command};
use crate::sim::{Detached, Host, Sim, SimError, StepOutcome};

/// How the run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing left to do after this many steps (of the checker's own).
    Converged {
        /// Steps taken after the sim file's commands.
        steps: u64,
    },
    /// A placement repeated: the network cycles with this period.
    Cycle {
        /// Steps taken when the repeat was seen.
        steps: u64,
        /// Steps between the two occurrences.
        period: u64,
    },
    /// Still changing after the step limit.
    Unfinished {
        /// The limit.
        steps: u64,
    },
}

/// A file that kept moving in a cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oscillation {
    /// The file.
    pub file: String,
    /// Repositories that both got and lost it within the cycle, with their
    /// preferred content expression (`None`: not configured).
    pub repos: Vec<(String, Option<String>)>,
}

/// A problem seen along the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A file had fewer copies than numcopies (after it had had them).
    BelowNumCopies {
        /// The file.
        file: String,
        /// Its copies.
        copies: usize,
        /// numcopies.
        numcopies: i64,
    },
    /// A file had fewer copies than mincopies.
    BelowMinCopies {
        /// The file.
        file: String,
        /// Its copies.
        copies: usize,
        /// mincopies.
        mincopies: i64,
    },
    /// A repository held more than its maxsize.
    OverMaxSize {
        /// The repository.
        repo: String,
        /// Its size.
        size: u64,
        /// Its maxsize.
        maxsize: u64,
    },
}

/// What the checker found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// How it ended.
    pub verdict: Verdict,
    /// Oscillating files (with a cycle).
    pub oscillations: Vec<Oscillation>,
    /// Copies and sizes problems, each once.
    pub problems: Vec<Problem>,
    /// An expectation of the sim file (`present`, `notpresent`,
    /// `stepstable`) failed.
    pub expectations_failed: bool,
    /// The notes the sim showed.
    pub notes: Vec<String>,
}

impl Report {
    /// No problem at all.
    pub fn is_ok(&self) -> bool {
        matches!(self.verdict, Verdict::Converged { .. })
            && self.oscillations.is_empty()
            && self.problems.is_empty()
            && !self.expectations_failed
    }

    /// The report as lines of text.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.push(match &self.verdict {
            Verdict::Converged { steps } => format!("converged after {steps} steps"),
            Verdict::Cycle { steps, period } => {
                format!("does not converge: the placement repeats every {period} steps (seen after {steps} steps)")
            }
            Verdict::Unfinished { steps } => {
                format!("does not converge: still changing after {steps} steps")
            }
        });
        for o in &self.oscillations {
            let repos: Vec<String> = o
                .repos
                .iter()
                .map(|(r, e)| match e {
                    Some(e) => format!("{r} (wanted: {e})"),
                    None => format!("{r} (no preferred content)"),
                })
                .collect();
            out.push(format!(
                "oscillating: {} between {}",
                o.file,
                repos.join(", ")
            ));
        }
        for p in &self.problems {
            out.push(match p {
                Problem::BelowNumCopies {
                    file,
                    copies,
                    numcopies,
                } => {
                    format!("below numcopies: {file} has {copies} copies, numcopies is {numcopies}")
                }
                Problem::BelowMinCopies {
                    file,
                    copies,
                    mincopies,
                } => {
                    format!("below mincopies: {file} has {copies} copies, mincopies is {mincopies}")
                }
                Problem::OverMaxSize {
                    repo,
                    size,
                    maxsize,
                } => format!(
                    "over maxsize: {repo} holds {} of {}",
                    file::show_size(*size),
                    file::show_size(*maxsize)
                ),
            });
        }
        if self.expectations_failed {
            out.push("an expectation of the sim failed".into());
        }
        out
    }
}

/// Where every file actually is (each repository's own knowledge of
/// itself).
fn placement(sim: &Sim) -> BTreeMap<String, BTreeSet<Uuid>> {
    sim.files
        .iter()
        .map(|(f, k)| {
            let holders = sim
                .repo_state
                .iter()
                .filter(|(u, st)| st.has(k, u))
                .map(|(u, _)| u.clone())
                .collect();
            (f.clone(), holders)
        })
        .collect()
}

struct Tracker {
    problems: Vec<Problem>,
    best: BTreeMap<String, usize>,
}

impl Tracker {
    fn observe(&mut self, sim: &Sim, place: &BTreeMap<String, BTreeSet<Uuid>>) {
        for (f, hs) in place {
            let copies = hs
                .iter()
                .filter(|u| sim.trust.get(*u) != Some(&annex_core::logs::trust::TrustLevel::Dead))
                .count();
            let best = *self.best.entry(f.clone()).or_insert(copies);
            // Only a fall counts: a file added with fewer copies than
            // numcopies is not a failure of the configuration.
            if copies < best {
                if (copies as i64) < sim.numcopies {
                    self.add(Problem::BelowNumCopies {
                        file: f.clone(),
                        copies,
                        numcopies: sim.numcopies,
                    });
                }
                if (copies as i64) < sim.mincopies {
                    self.add(Problem::BelowMinCopies {
                        file: f.clone(),
                        copies,
                        mincopies: sim.mincopies,
                    });
                }
            }
            self.best.insert(f.clone(), best.max(copies));
        }
        let mut sizes: BTreeMap<&Uuid, u64> = BTreeMap::new();
        for (f, hs) in place {
            let sz = sim.files.get(f).and_then(|k| k.size()).unwrap_or(0);
            for u in hs {
                *sizes.entry(u).or_insert(0) += sz;
            }
        }
        for (u, max) in &sim.max_size {
            let size = sizes.get(u).copied().unwrap_or(0);
            if size > *max {
                self.add(Problem::OverMaxSize {
                    repo: sim.name_of(u).unwrap_or(u.as_str()).to_string(),
                    size,
                    maxsize: *max,
                });
            }
        }
    }

    fn add(&mut self, p: Problem) {
        let same = |q: &Problem| match (q, &p) {
            (Problem::BelowNumCopies { file: a, .. }, Problem::BelowNumCopies { file: b, .. })
            | (Problem::BelowMinCopies { file: a, .. }, Problem::BelowMinCopies { file: b, .. })
            | (Problem::OverMaxSize { repo: a, .. }, Problem::OverMaxSize { repo: b, .. }) => {
                a == b
            }
            _ => false,
        };
        if !self.problems.iter().any(same) {
            self.problems.push(p);
        }
    }
}

/// Parses and checks a sim file with no repository behind it (`use`,
/// `addtree` and `visit` fail).
pub fn check(sim_file: &str, max_steps: u64) -> Result<Report, CheckError> {
    let commands = file::parse(sim_file)?;
    let mut host = Detached::default();
    let mut sim = Sim::new(0);
    let mut r = check_commands(&mut sim, commands, max_steps, &mut host)?;
    r.notes = host.notes;
    Ok(r)
}

/// The checker could not run the sim.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The sim file does not parse.
    #[error(transparent)]
    Parse(#[from] file::ParseError),
    /// A command failed.
    #[error(transparent)]
    Sim(#[from] SimError),
}

/// Runs `commands` in `sim`, then steps until convergence, a cycle or
/// `max_steps`.
pub fn check_commands(
    sim: &mut Sim,
    commands: Vec<Command>,
    max_steps: u64,
    host: &mut dyn Host,
) -> Result<Report, CheckError> {
    let mut tracker = Tracker {
        problems: Vec::new(),
        best: BTreeMap::new(),
    };
    for c in commands {
        sim.apply(c, host)?;
        let place = placement(sim);
        tracker.observe(sim, &place);
    }
    // The checker's own steps: one at a time, the placement remembered.
    let mut seen: HashMap<BTreeMap<String, BTreeSet<Uuid>>, u64> = HashMap::new();
    let mut trail: Vec<BTreeMap<String, BTreeSet<Uuid>>> = Vec::new();
    // What each step did (the transfers and drops it logged).
    let mut acts: Vec<Vec<Command>> = Vec::new();
    let mut quiet = Detached::default();
    let start = placement(sim);
    seen.insert(start.clone(), 0);
    trail.push(start);
    let mut steps = 0u64;
    let verdict = loop {
        if steps >= max_steps {
            break Verdict::Unfinished { steps };
        }
        sim.clock += 1;
        let logged = sim.history.len();
        let outcome = sim.step(false, 0, &mut quiet);
        acts.push(sim.history.get(logged..).unwrap_or_default().to_vec());
        match outcome {
            StepOutcome::Stable(_) => break Verdict::Converged { steps },
            StepOutcome::Unstable => {}
        }
        steps += 1;
        let place = placement(sim);
        tracker.observe(sim, &place);
        if let Some(at) = seen.get(&place) {
            break Verdict::Cycle {
                steps,
                period: steps - at,
            };
        }
        seen.insert(place.clone(), steps);
        trail.push(place);
    };
    let oscillations = match &verdict {
        Verdict::Cycle { period, .. } => {
            let p = usize::try_from(*period).unwrap_or(0);
            let from = trail.len().saturating_sub(p);
            let acted = &acts[acts.len().saturating_sub(p)..];
            oscillations(sim, &trail[from..], acted)
        }
        _ => Vec::new(),
    };
    Ok(Report {
        verdict,
        oscillations,
        problems: tracker.problems,
        expectations_failed: sim.failed,
        notes: Vec::new(),
    })
}

/// Files that repositories both got and lost over the placements of a
/// cycle, or that the cycle's steps kept transferring or dropping (a step
/// that changes no placement, done again and again), with those
/// repositories' expressions.
fn oscillations(
    sim: &Sim,
    cycle: &[BTreeMap<String, BTreeSet<Uuid>>],
    acted: &[Vec<Command>],
) -> Vec<Oscillation> {
    let mut out = Vec::new();
    for f in sim.files.keys() {
        let mut gained: BTreeSet<Uuid> = BTreeSet::new();
        let mut lost: BTreeSet<Uuid> = BTreeSet::new();
        for w in cycle.windows(2) {
            let (a, b) = (w[0].get(f), w[1].get(f));
            let (Some(a), Some(b)) = (a, b) else { continue };
            gained.extend(b.difference(a).cloned());
            lost.extend(a.difference(b).cloned());
        }
        // The cycle closes on its first placement: its last step counts.
        if let (Some(last), Some(first)) = (cycle.last(), cycle.first())
            && let (Some(a), Some(b)) = (last.get(f), first.get(f))
        {
            gained.extend(b.difference(a).cloned());
            lost.extend(a.difference(b).cloned());
        }
        let mut both: BTreeSet<Uuid> = gained.intersection(&lost).cloned().collect();
        for c in acted.iter().flatten() {
            if let Command::Present(r, file) | Command::NotPresent(r, file) = c
                && file == f
                && let Some(u) = sim.uuid_of(r)
            {
                both.insert(u.clone());
            }
        }
        let both: Vec<(String, Option<String>)> = both
            .iter()
            .map(|u| {
                (
                    sim.name_of(u).unwrap_or(u.as_str()).to_string(),
                    sim.matcher_of(u).map(|e| e.to_text()),
                )
            })
            .collect();
        if !both.is_empty() {
            out.push(Oscillation {
                file: f.clone(),
                repos: both,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_network_converges() {
        let r = check(
            "seed 3\ninit a\ninit b\ninit c\nconnect a <-> b <-> c\nnumcopies 2\n\
             wanted b include=*.x\nwanted c anything\naddmulti 5 .x 1mb 2mb a\naddmulti 5 .y 1mb 2mb a\n",
            10_000,
        )
        .expect("runs");
        assert!(
            matches!(r.verdict, Verdict::Converged { .. }),
            "{:?}",
            r.lines()
        );
        assert!(r.is_ok(), "{:?}", r.lines());
    }

    /// A network found by the checker not to converge: `not copies=2`
    /// wants a file while it has fewer than two copies, a balanced repository
    /// takes it, and the first drops it again (`rebalance on`); the file
    /// and the repositories acting on it are named with their expressions.
    #[test]
    fn not_copies_with_rebalancing_oscillates() {
        let r = check(
            "seed 880594\ninit r0\ninit r1\ninit r2\ninit r3\ninit r4\n\
             connect r0 <-> r1\nconnect r0 <-> r2\nconnect r0 <-> r3\nconnect r0 <-> r4\n\
             connect r1 <-> r2\nconnect r2 <-> r4\n\
             group r0 g\nwanted r0 not inallgroup=g\ngroup r1 g\nwanted r1 not copies=2\n\
             group r2 g\nwanted r2 balanced=g:2\ngroup r3 g\nwanted r3 approxlackingcopies=1\n\
             maxsize r3 12mb\ngroup r4 g\nwanted r4 approxlackingcopies=1\nnumcopies 1\n\
             rebalance on\naddmulti 2 .f 500kb 5mb r2\n",
            3000,
        )
        .expect("runs");
        assert!(
            matches!(r.verdict, Verdict::Cycle { .. }),
            "{:?}",
            r.lines()
        );
        assert!(!r.is_ok());
        assert!(
            r.lines()
                .iter()
                .any(|l| l.starts_with("oscillating: 1.f between ")
                    && l.contains("r1 (wanted: not copies=2)")),
            "{:?}",
            r.lines()
        );
    }

    /// Sending concurrently with no communication fills a sizebalanced
    /// repository past its maxsize (the reference's
    /// sizebalanced_splitbrain sim).
    #[test]
    fn split_brain_goes_over_maxsize() {
        let mut src = String::from(
            "seed 7\ninit foo\ninit fii\ninit bar\ninit baz\nconnect baz <- foo -> bar\nconnect baz <- fii -> bar\n\
             group bar test\ngroup baz test\nwanted bar sizebalanced=test\nwanted baz sizebalanced=test\n\
             maxsize bar 20gb\nmaxsize baz 20gb\n",
        );
        for i in 1..=10 {
            src.push_str(&format!("add foo{i} {i}GB foo\nadd fii{i} {i}GB fii\n"));
        }
        src.push_str("action foo sendwanted bar while action foo sendwanted baz while action fii sendwanted bar while action fii sendwanted baz\n");
        let r = check(&src, 1000).expect("runs");
        assert!(
            r.problems
                .iter()
                .any(|p| matches!(p, Problem::OverMaxSize { .. })),
            "{:?}",
            r.lines()
        );
        assert!(!r.is_ok());
    }
}
