//! The planner against flooding, in the sim: generated networks (rings,
//! stars, chains of gateways, meshes) distributed both ways over the
//! sim's own state, preferred-content and numcopies code.
//!
//! This is a model on the sim, not the sim's `step`: `step` picks one
//! random transfer or drop at a time and has no notion of link costs.
//! Here each file is distributed to completion, one transfer or drop at a
//! time, and every one of them goes through the [`Sim`]:
//!
//! - who wants a file is [`Sim::wants`] (the preferred-content engine, in
//!   the repository's own view);
//! - a send to a repository that wants the file is the sim's
//!   [`Component::Send`] (which checks again, in the sender's view, that
//!   the receiver wants it); a relay to one that does not (least-cost only)
//!   is [`Sim::relay`];
//! - a relay drops its copy once it has passed it on, through the sim's
//!   [`Component::Drop`]: only if it does not want the file and the drop
//!   is safe by numcopies/mincopies ([`Sim::drop_is_safe`], the
//!   `annex_core::content::DropCheck` the real drops use); otherwise the
//!   copy stays.
//!
//! [`Mode::Flood`] is [`plan::flood`] (each repository that has the file,
//! in turn, sends it to every remote that wants it, cheapest first);
//! [`Mode::LeastCost`] is [`plan::plan_key`] over the network's map
//! ([`Network::from_sim`], the costs given by the family). After every
//! transfer and drop the copies of the file are counted (the repositories
//! that really hold it) and [`Report::below_numcopies`] counts the times
//! they were fewer than numcopies (or than the copies the file started
//! with, when fewer).

use std::collections::BTreeMap;

use crate::file::{Command, parse};
use crate::map::Network;
use crate::plan::{self, KeyPlan};
use crate::sim::Component;
use crate::{Detached, Sim};

/// How content is distributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every repository sends to every remote that wants the file.
    Flood,
    /// Along the least-cost plan of each file.
    LeastCost,
}

/// A family of generated networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Repositories in a ring, each linked both ways to its neighbours,
    /// link costs mixed (100, 200 or 500); every repository wants
    /// everything.
    Ring,
    /// A hub linked both ways to every other repository (100 or 200);
    /// the files start at a spoke.
    Star,
    /// Sites in a chain, each a gateway with up to three clients on its
    /// LAN (10, both ways); gateways linked both ways to the next (100);
    /// the files start on a laptop of the first site that also reaches
    /// every other gateway directly over the internet (1000, one way: the
    /// gateways cannot reach back). Gateways want everything, clients
    /// `*.mp3` or everything.
    Chain,
    /// A random mesh: a ring backbone (200) and each other pair linked
    /// with probability 1/4, at 100, 200, 500 or 1000, one link in four
    /// one way; one repository in five wants `*.mp3` only, the others
    /// everything; numcopies 2.
    Mesh,
}

impl Family {
    /// Every family.
    pub const ALL: [Family; 4] = [Family::Ring, Family::Star, Family::Chain, Family::Mesh];

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Family::Ring => "ring",
            Family::Star => "star",
            Family::Chain => "chain",
            Family::Mesh => "mesh",
        }
    }
}

/// A generated network: the sim (repositories, connections, wanted,
/// numcopies, the files at their first holders) and its map with the
/// link costs.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The sim file that made it (for the log and for `git annex sim`).
    pub sim_file: String,
    /// The sim.
    pub sim: Sim,
    /// Its map.
    pub network: Network,
}

/// A small deterministic generator (splitmix64).
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    fn pick(&mut self, xs: &[u64]) -> u64 {
        let i = usize::try_from(self.below(xs.len() as u64)).unwrap_or(0);
        xs.get(i).copied().unwrap_or(0)
    }
}

/// Generates a network of the family with about `n` repositories (at
/// least 3) and `files` files, from `seed`.
pub fn generate(family: Family, n: usize, files: usize, seed: u64) -> Generated {
    let n = n.max(3);
    let mut g = Gen(seed ^ (family as u64) << 32);
    let mut lines: Vec<String> = vec![format!("seed {}", seed % 1000)];
    // (from, to, cost in cost units)
    let mut links: Vec<(String, String, u64)> = Vec::new();
    let mut wanted: BTreeMap<String, &str> = BTreeMap::new();
    let mut names: Vec<String> = Vec::new();
    let origin: String;
    let mut numcopies = 1;
    let both = |links: &mut Vec<(String, String, u64)>, a: &str, b: &str, c: u64| {
        links.push((a.to_string(), b.to_string(), c));
        links.push((b.to_string(), a.to_string(), c));
    };
    match family {
        Family::Ring => {
            names = (0..n).map(|i| format!("r{i}")).collect();
            for i in 0..n {
                let c = g.pick(&[100, 200, 500]);
                both(&mut links, &names[i], &names[(i + 1) % n], c);
            }
            origin = names[0].clone();
        }
        Family::Star => {
            names = (0..n).map(|i| format!("r{i}")).collect();
            for name in names.iter().skip(1) {
                let c = g.pick(&[100, 200]);
                both(&mut links, &names[0], name, c);
            }
            origin = names[1].clone();
        }
        Family::Chain => {
            origin = "laptop".to_string();
            names.push(origin.clone());
            let mut gateways: Vec<String> = Vec::new();
            let mut i = 0;
            while names.len() < n {
                let gw = format!("gw{i}");
                names.push(gw.clone());
                if let Some(prev) = gateways.last() {
                    both(&mut links, prev, &gw, 100);
                    links.push((origin.clone(), gw.clone(), 1000));
                } else {
                    both(&mut links, &origin, &gw, 10);
                }
                wanted.insert(gw.clone(), "anything");
                let clients = 1 + g.below(3);
                for j in 0..clients {
                    if names.len() >= n {
                        break;
                    }
                    let c = format!("c{i}x{j}");
                    names.push(c.clone());
                    both(&mut links, &gw, &c, 10);
                    wanted.insert(
                        c,
                        if g.below(2) == 0 {
                            "include=*.mp3"
                        } else {
                            "anything"
                        },
                    );
                }
                gateways.push(gw);
                i += 1;
            }
        }
        Family::Mesh => {
            numcopies = 2;
            names = (0..n).map(|i| format!("r{i}")).collect();
            for i in 0..n {
                both(&mut links, &names[i], &names[(i + 1) % n], 200);
            }
            for i in 0..n {
                for j in i + 2..n {
                    if (i == 0 && j == n - 1) || g.below(4) != 0 {
                        continue;
                    }
                    let c = g.pick(&[100, 200, 500, 1000]);
                    match g.below(8) {
                        0 => links.push((names[i].clone(), names[j].clone(), c)),
                        1 => links.push((names[j].clone(), names[i].clone(), c)),
                        _ => both(&mut links, &names[i], &names[j], c),
                    }
                }
            }
            for name in names.iter().skip(1) {
                if g.below(5) == 0 {
                    wanted.insert(name.clone(), "include=*.mp3");
                }
            }
            origin = names[0].clone();
        }
    }
    for name in &names {
        lines.push(format!("init {name}"));
    }
    for (a, b, _) in &links {
        lines.push(format!("connect {a} -> {b}"));
    }
    for name in &names {
        let w = wanted.get(name).copied().unwrap_or("anything");
        lines.push(format!("wanted {name} {w}"));
    }
    lines.push(format!("numcopies {numcopies}"));
    lines.push("mincopies 1".to_string());
    for f in 0..files {
        let ext = if f % 2 == 0 { "mp3" } else { "txt" };
        // The origin and, with numcopies 2, a second first holder.
        let mut at = origin.clone();
        if numcopies > 1 {
            at.push(' ');
            at.push_str(&names[1 + f % (names.len() - 1)]);
        }
        lines.push(format!("add f{f}.{ext} 1mb {at}"));
    }
    let sim_file = lines.join("\n") + "\n";
    let mut sim = Sim::new(1);
    let mut host = Detached::default();
    // The generator writes only commands the sim accepts.
    for c in parse(&sim_file).unwrap_or_default() {
        let _ = sim.apply(c, &mut host);
    }
    let costs: BTreeMap<(String, String), u64> = links
        .into_iter()
        .map(|(a, b, c)| ((a, b), c * 1000))
        .collect();
    let network = Network::from_sim(&sim, |a, b| {
        costs
            .get(&(a.to_string(), b.to_string()))
            .copied()
            .unwrap_or(u64::MAX / 1024)
    });
    Generated {
        sim_file,
        sim,
        network,
    }
}

/// What a distribution did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The total cost of the transfers (thousandths of cost units).
    pub cost: u64,
    /// Transfers made.
    pub transfers: usize,
    /// Of them, to relays that did not want the file.
    pub relayed: usize,
    /// Relay copies dropped again.
    pub drops: usize,
    /// (file, repository) pairs wanted that did not arrive.
    pub missed: Vec<(String, String)>,
    /// Times a file's copies were fewer than numcopies (or than it
    /// started with, when fewer) after a transfer or drop.
    pub below_numcopies: usize,
    /// The transfers (file, from, to), in order.
    pub log: Vec<(String, String, String)>,
}

/// The repositories (indexes into the map) that hold `file` now.
fn holders(sim: &Sim, net: &Network, file: &str) -> Vec<usize> {
    let Some(k) = sim.files.get(file) else {
        return Vec::new();
    };
    net.repos
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.uuid
                .as_ref()
                .is_some_and(|u| sim.repo_state.get(u).is_some_and(|s| s.has(k, u)))
        })
        .map(|(i, _)| i)
        .collect()
}

/// Distributes every file of `sim` over `net` (its map) in `mode`
/// (module docs).
pub fn distribute(sim: &mut Sim, net: &Network, mode: Mode) -> Report {
    let edges = net.edges();
    let mut report = Report::default();
    let files: Vec<String> = sim.files.keys().cloned().collect();
    let uuid = |i: usize| net.repos[i].uuid.clone();
    for file in files {
        let have = holders(sim, net, &file);
        let floor = usize::try_from(sim.numcopies.max(0))
            .unwrap_or(0)
            .min(have.len());
        let want: Vec<usize> = (0..net.repos.len())
            .filter(|&i| {
                !have.contains(&i) && uuid(i).is_some_and(|u| sim.wants(&u, &u, &file, &[], false))
            })
            .collect();
        let KeyPlan { sends, .. } = match mode {
            Mode::Flood => plan::flood(net.repos.len(), &edges, &have, &want),
            Mode::LeastCost => plan::plan_key(net.repos.len(), &edges, &have, &want),
        };
        let mut relays: Vec<usize> = Vec::new();
        for i in sends {
            let l = &net.links[i];
            let (Some(fu), Some(tu)) = (uuid(l.from), uuid(l.to)) else {
                continue;
            };
            let done = if want.contains(&l.to) {
                sim.run_component(&Component::Send {
                    u: fu,
                    remote: tu,
                    remote_name: l.remote.clone(),
                    file: file.clone(),
                })
            } else {
                let ok = sim.relay(&fu, &tu, &file);
                if ok {
                    relays.push(l.to);
                    report.relayed += 1;
                }
                ok
            };
            if done {
                report.cost += l.cost;
                report.transfers += 1;
                report.log.push((
                    file.clone(),
                    net.repos[l.from].name.clone(),
                    net.repos[l.to].name.clone(),
                ));
            }
            if holders(sim, net, &file).len() < floor {
                report.below_numcopies += 1;
            }
        }
        for r in relays {
            let Some(u) = uuid(r) else { continue };
            if sim.run_component(&Component::Drop {
                u: u.clone(),
                from: u,
                from_name: net.repos[r].name.clone(),
                file: file.clone(),
            }) {
                report.drops += 1;
            }
            if holders(sim, net, &file).len() < floor {
                report.below_numcopies += 1;
            }
        }
        let now = holders(sim, net, &file);
        for w in want {
            if !now.contains(&w) {
                report
                    .missed
                    .push((file.clone(), net.repos[w].name.clone()));
            }
        }
    }
    report
}

/// The generated sim file with the sends of a report appended as the
/// sim's `present` lines (what the sim's log would show).
pub fn as_log(g: &Generated, report: &Report) -> Vec<Command> {
    let mut out = parse(&g.sim_file).unwrap_or_default();
    out.extend(
        report
            .log
            .iter()
            .map(|(f, _, to)| Command::Present(to.clone(), f.clone())),
    );
    out
}

/// The network of the figure in `docs/sim.md`: a chain of gateways of 8
/// repositories, one file.
pub fn figure_network() -> Generated {
    generate(Family::Chain, 8, 1, 7)
}

/// A Graphviz figure of a generated network and how its first file is
/// distributed: every link (grey, with its cost), the flood's transfers
/// (red, dashed) and the planner's (blue, bold), each numbered in the
/// order made, and both totals in the title.
pub fn figure(g: &Generated) -> String {
    let mut flood_sim = g.sim.clone();
    let mut plan_sim = g.sim.clone();
    let fl = distribute(&mut flood_sim, &g.network, Mode::Flood);
    let lc = distribute(&mut plan_sim, &g.network, Mode::LeastCost);
    let first = g.sim.files.keys().next().cloned().unwrap_or_default();
    let units = |c: u64| c / 1000;
    let mut out = String::new();
    out.push_str("digraph leastcost {\n");
    out.push_str(&format!(
        "  label=\"{first}: flood costs {}, the planner {}\";\n",
        units(fl.cost),
        units(lc.cost)
    ));
    out.push_str("  node [shape=box];\n");
    let origin: Vec<&str> = g
        .network
        .repos
        .iter()
        .filter(|r| {
            r.uuid.as_ref().is_some_and(|u| {
                g.sim
                    .files
                    .get(&first)
                    .is_some_and(|k| g.sim.repo_state.get(u).is_some_and(|s| s.has(k, u)))
            })
        })
        .map(|r| r.name.as_str())
        .collect();
    for r in &g.network.repos {
        let style = if origin.contains(&r.name.as_str()) {
            " style=filled fillcolor=lightgrey"
        } else {
            ""
        };
        out.push_str(&format!(
            "  \"{}\" [label=\"{}\"{style}];\n",
            r.name, r.name
        ));
    }
    for l in &g.network.links {
        out.push_str(&format!(
            "  \"{}\" -> \"{}\" [color=grey label=\"{}\"];\n",
            g.network.repos[l.from].name,
            g.network.repos[l.to].name,
            units(l.cost)
        ));
    }
    for (report, style) in [
        (&fl, "color=red style=dashed"),
        (&lc, "color=blue style=bold"),
    ] {
        for (n, (_, from, to)) in report
            .log
            .iter()
            .filter(|(f, _, _)| *f == first)
            .enumerate()
        {
            out.push_str(&format!(
                "  \"{from}\" -> \"{to}\" [{style} label=\"{}\"];\n",
                n + 1
            ));
        }
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZES: [usize; 5] = [5, 10, 20, 35, 50];

    fn both(f: Family, n: usize, seed: u64) -> (Report, Report) {
        let g = generate(f, n, 6, seed);
        let mut a = g.sim.clone();
        let mut b = g.sim.clone();
        (
            distribute(&mut a, &g.network, Mode::Flood),
            distribute(&mut b, &g.network, Mode::LeastCost),
        )
    }

    /// Every family, sizes 5 to 50, three seeds: the planner never costs
    /// more than the flood, every wanted copy arrives, numcopies holds
    /// after every transfer and drop; over the chain and mesh families it
    /// costs at least 30% less.
    #[test]
    fn planner_against_flood() {
        let mut totals: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for f in Family::ALL {
            for n in SIZES {
                for seed in 1..=3 {
                    let (fl, lc) = both(f, n, seed);
                    let what = format!("{} n={n} seed={seed}", f.name());
                    assert!(lc.missed.is_empty(), "{what}: missed {:?}", lc.missed);
                    assert!(lc.transfers > 0, "{what}: nothing moved");
                    assert_eq!(lc.below_numcopies, 0, "{what}: below numcopies");
                    assert_eq!(fl.below_numcopies, 0, "{what}: flood below numcopies");
                    if fl.missed.is_empty() {
                        assert!(
                            lc.cost <= fl.cost,
                            "{what}: planner {} flood {}",
                            lc.cost,
                            fl.cost
                        );
                    }
                    let t = totals.entry(f.name()).or_default();
                    t.0 += fl.cost;
                    t.1 += lc.cost;
                }
            }
        }
        for name in ["chain", "mesh"] {
            let (fl, lc) = totals[name];
            assert!(
                lc * 10 <= fl * 7,
                "{name}: planner {lc} is not 30% below flood {fl}"
            );
        }
    }

    /// Per network, not only in total: on the chains of 10 or more
    /// repositories the planner saves 30% each time.
    #[test]
    fn chain_saves_on_every_network() {
        for n in [10, 20, 35, 50] {
            let (fl, lc) = both(Family::Chain, n, 7);
            assert!(
                lc.cost * 10 <= fl.cost * 7,
                "n={n}: {} vs {}",
                lc.cost,
                fl.cost
            );
        }
    }

    /// A relay that does not want a file drops it once passed on, by the
    /// sim's drop check; with numcopies 2 and one copy passed on it keeps
    /// it.
    #[test]
    fn relays_drop_only_when_safe() {
        let src = "init a\ninit b\ninit c\nconnect a -> b\nconnect b -> c\n\
                   wanted a anything\nwanted b include=*.mp3\nwanted c anything\n\
                   add f.txt 1mb a\n";
        let mut sim = Sim::new(1);
        let mut host = Detached::default();
        for c in parse(src).expect("parses") {
            sim.apply(c, &mut host).expect("applies");
        }
        let net = Network::from_sim(&sim, |_, _| 1000);
        let mut s1 = sim.clone();
        let r = distribute(&mut s1, &net, Mode::LeastCost);
        assert_eq!((r.transfers, r.relayed, r.drops), (2, 1, 1));
        assert!(r.missed.is_empty());
        let fl = distribute(&mut sim.clone(), &net, Mode::Flood);
        assert_eq!(fl.missed, [("f.txt".to_string(), "c".to_string())]);
        // numcopies 3 (a, b, c): b's relay copy must stay.
        let mut s2 = sim.clone();
        s2.numcopies = 3;
        let r = distribute(&mut s2, &net, Mode::LeastCost);
        assert_eq!((r.transfers, r.drops), (2, 0));
        let u = &s2.repos["b"];
        assert!(s2.repo_state[u].has(&s2.files["f.txt"], u));
    }

    /// The figure in docs/sim.md is what [`figure`] draws now
    /// (`ANNEX_SIM_WRITE_FIGURE=1` rewrites it).
    #[test]
    fn committed_figure_is_current() {
        let doc = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/sim.md");
        let text = std::fs::read_to_string(&doc).expect("docs/sim.md");
        let (begin, end) = (
            "<!-- figure begin -->\n```dot\n",
            "```\n<!-- figure end -->",
        );
        let (Some(b), Some(e)) = (text.find(begin), text.find(end)) else {
            panic!("docs/sim.md has no figure markers");
        };
        let now = figure(&figure_network());
        let committed = &text[b + begin.len()..e];
        if committed != now && std::env::var_os("ANNEX_SIM_WRITE_FIGURE").is_some() {
            let new = format!("{}{now}{}", &text[..b + begin.len()], &text[e..]);
            std::fs::write(&doc, new).expect("write docs/sim.md");
            return;
        }
        assert_eq!(committed, now, "docs/sim.md's figure is stale");
        // And it shows what it says: the planner cheaper than the flood.
        assert!(now.contains("color=blue") && now.contains("color=red"));
    }

    #[test]
    fn generation_is_deterministic() {
        for f in Family::ALL {
            let a = generate(f, 12, 3, 9);
            let b = generate(f, 12, 3, 9);
            assert_eq!(a.sim_file, b.sim_file);
            assert_eq!(a.network, b.network);
            assert!(a.network.repos.len() >= 12, "{}", f.name());
        }
    }
}
