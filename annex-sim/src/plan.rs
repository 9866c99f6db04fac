//! Least-cost distribution, its graph part: the minimum-cost arborescence
//! of a directed graph (Chu-Liu/Edmonds: each node takes its cheapest
//! incoming edge; cycles so formed are contracted into one node, the
//! edges entering them made cheaper by the cycle edge they would replace,
//! and the contracted graph solved the same way, then expanded), and a plan
//! for one key: the arborescence from the repositories that have it (a
//! virtual root reaching each of them at no cost) to every repository,
//! pruned to the branches that lead to a repository wanting it.
//!
//! ```
//! use annex_sim::plan::{Edge, min_arborescence};
//! // 0 -> 1 costs 5, 0 -> 2 costs 1, 2 -> 1 costs 1: 1 is reached through 2.
//! let edges = [Edge { from: 0, to: 1, cost: 5 }, Edge { from: 0, to: 2, cost: 1 }, Edge { from: 2, to: 1, cost: 1 }];
//! let (cost, chosen) = min_arborescence(3, 0, &edges).unwrap();
//! assert_eq!(cost, 2);
//! assert_eq!(chosen, vec![1, 2]);
//! ```

use std::collections::{BTreeSet, HashMap};

/// A directed edge (`from` can send to `to`) and its cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    /// The sending node.
    pub from: usize,
    /// The receiving node.
    pub to: usize,
    /// The cost of sending one key along it.
    pub cost: u64,
}

#[derive(Clone, Copy)]
struct E {
    u: usize,
    v: usize,
    w: u64,
    id: usize,
}

/// The minimum-cost arborescence of the graph of `n` nodes rooted at
/// `root`: its cost and the indexes (into `edges`, sorted) of its edges,
/// one entering each node but the root. `None` when some node cannot be
/// reached from the root.
pub fn min_arborescence(n: usize, root: usize, edges: &[Edge]) -> Option<(u64, Vec<usize>)> {
    if root >= n {
        return None;
    }
    let es: Vec<E> = edges
        .iter()
        .enumerate()
        .filter(|(_, e)| e.from < n && e.to < n && e.from != e.to && e.to != root)
        .map(|(id, e)| E {
            u: e.from,
            v: e.to,
            w: e.cost,
            id,
        })
        .collect();
    let mut chosen = solve(n, root, es)?;
    chosen.sort_unstable();
    let cost = chosen.iter().map(|&i| edges[i].cost).sum();
    Some((cost, chosen))
}

/// One level of Chu-Liu/Edmonds (iterative over levels: a long chain of
/// contractions must not recurse deeply).
fn solve(n: usize, root: usize, edges: Vec<E>) -> Option<Vec<usize>> {
    struct Level {
        edges: Vec<E>,
        cycle_of: Vec<Option<usize>>,
        best: Vec<Option<E>>,
        comp: Vec<usize>,
    }
    let mut levels: Vec<Level> = Vec::new();
    let (mut n, mut root, mut edges) = (n, root, edges);
    let result: Vec<usize> = loop {
        // The cheapest edge into each node.
        let mut best: Vec<Option<E>> = vec![None; n];
        for e in &edges {
            if e.u != e.v && e.v != root && best[e.v].is_none_or(|b| e.w < b.w) {
                best[e.v] = Some(*e);
            }
        }
        if (0..n).any(|v| v != root && best[v].is_none()) {
            return None;
        }
        // Cycles among those edges.
        let mut cycle_of: Vec<Option<usize>> = vec![None; n];
        let mut mark: Vec<usize> = vec![usize::MAX; n];
        let mut ncycles = 0;
        for start in 0..n {
            let mut v = start;
            while v != root && mark[v] == usize::MAX && cycle_of[v].is_none() {
                mark[v] = start;
                v = best[v].map_or(root, |e| e.u);
            }
            if v != root && mark[v] == start && cycle_of[v].is_none() {
                let mut x = v;
                loop {
                    cycle_of[x] = Some(ncycles);
                    x = best[x].map_or(root, |e| e.u);
                    if x == v {
                        break;
                    }
                }
                ncycles += 1;
            }
        }
        if ncycles == 0 {
            break (0..n)
                .filter(|&v| v != root)
                .filter_map(|v| best[v].map(|e| e.id))
                .collect();
        }
        // Contract: each cycle one node, the others renumbered after.
        let mut comp = vec![0; n];
        let mut next = ncycles;
        for v in 0..n {
            comp[v] = match cycle_of[v] {
                Some(c) => c,
                None => {
                    next += 1;
                    next - 1
                }
            };
        }
        let new_edges: Vec<E> = edges
            .iter()
            .filter(|e| comp[e.u] != comp[e.v])
            .map(|e| {
                let w = match (cycle_of[e.v], best[e.v]) {
                    (Some(_), Some(b)) => e.w - b.w.min(e.w),
                    _ => e.w,
                };
                E {
                    u: comp[e.u],
                    v: comp[e.v],
                    w,
                    id: e.id,
                }
            })
            .collect();
        let new_root = comp[root];
        levels.push(Level {
            edges,
            cycle_of,
            best,
            comp,
        });
        n = next;
        root = new_root;
        edges = new_edges;
    };
    // Expand, innermost level first.
    let mut chosen = result;
    while let Some(level) = levels.pop() {
        let ids: BTreeSet<usize> = chosen.iter().copied().collect();
        // The node of each cycle that an outside edge now enters.
        let mut entered: BTreeSet<usize> = BTreeSet::new();
        for e in &level.edges {
            if ids.contains(&e.id) && level.comp[e.u] != level.comp[e.v] {
                entered.insert(e.v);
            }
        }
        for (v, c) in level.cycle_of.iter().enumerate() {
            if c.is_some()
                && !entered.contains(&v)
                && let Some(b) = level.best[v]
            {
                chosen.push(b.id);
            }
        }
    }
    Some(chosen)
}

/// Where one key goes: the edges (indexes into the network's edges) of the
/// least-cost way from the repositories that have it to those that want
/// it, relaying through others where that is cheaper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPlan {
    /// The sends, parents before children.
    pub sends: Vec<usize>,
    /// Their total cost.
    pub cost: u64,
    /// Repositories that want the key but cannot be reached.
    pub unreachable: Vec<usize>,
}

/// Plans one key over a network of `n` repositories: `have` hold it,
/// `want` want it (those that have it already are left out).
///
/// Two candidates, the cheaper kept: the arborescence over every
/// repository, pruned to the branches that lead to a wanting one (relays
/// that do not want the key take part), and the arborescence over the
/// repositories that have or want the key only (no relay). The second
/// is kept when it reaches every wanting repository the first reaches and
/// costs no more; so a plan never costs more than any way of sending the
/// key through wanting repositories only, flooding included (the pruned
/// arborescence alone can: a relay may be cheap to reach only through a
/// wanting repository it then feeds back).
pub fn plan_key(n: usize, edges: &[Edge], have: &[usize], want: &[usize]) -> KeyPlan {
    let mut mask = vec![true; n];
    let all = plan_within(n, edges, have, want, &mask);
    if all.sends.is_empty() {
        return all;
    }
    for (v, m) in mask.iter_mut().enumerate() {
        *m = have.contains(&v) || want.contains(&v);
    }
    if mask.iter().all(|&m| m) {
        // Every repository has or wants the key: the same graph.
        return all;
    }
    let direct = plan_within(n, edges, have, want, &mask);
    if direct.unreachable.len() <= all.unreachable.len() && direct.cost <= all.cost {
        direct
    } else {
        all
    }
}

/// [`plan_key`]'s pruned arborescence over the repositories `v` with
/// `allowed[v]`.
fn plan_within(
    n: usize,
    edges: &[Edge],
    have: &[usize],
    want: &[usize],
    allowed: &[bool],
) -> KeyPlan {
    let ok = |v: usize| v == n || allowed.get(v).copied().unwrap_or(false);
    // A virtual root (node n) reaching each holder at no cost.
    let mut all: Vec<Edge> = edges.to_vec();
    for &h in have {
        all.push(Edge {
            from: n,
            to: h,
            cost: 0,
        });
    }
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n + 1];
    for (i, e) in all.iter().enumerate() {
        if e.from <= n && e.to <= n && ok(e.from) && ok(e.to) {
            out[e.from].push(i);
        }
    }
    // Only nodes reachable from the root take part.
    let mut reach = vec![false; n + 1];
    reach[n] = true;
    let mut stack = vec![n];
    while let Some(x) = stack.pop() {
        for &i in &out[x] {
            let to = all[i].to;
            if !reach[to] {
                reach[to] = true;
                stack.push(to);
            }
        }
    }
    let nodes: Vec<usize> = (0..=n).filter(|&v| reach[v]).collect();
    let mut index_of = vec![None; n + 1];
    for (i, &v) in nodes.iter().enumerate() {
        index_of[v] = Some(i);
    }
    let sub: Vec<(usize, Edge)> = out
        .iter()
        .flatten()
        .filter_map(|&i| {
            let e = all[i];
            Some((
                i,
                Edge {
                    from: index_of[e.from]?,
                    to: index_of[e.to]?,
                    cost: e.cost,
                },
            ))
        })
        .collect();
    let sub_edges: Vec<Edge> = sub.iter().map(|(_, e)| *e).collect();
    let unreachable: Vec<usize> = want
        .iter()
        .copied()
        .filter(|&w| w < n && !reach[w])
        .collect();
    let root = index_of[n].unwrap_or(0);
    let Some((_, chosen)) = min_arborescence(nodes.len(), root, &sub_edges) else {
        return KeyPlan {
            sends: Vec::new(),
            cost: 0,
            unreachable,
        };
    };
    // The parent edge of each node, then only the paths to wanting nodes.
    let mut parent: Vec<Option<usize>> = vec![None; n + 1];
    for &c in &chosen {
        let (orig, _) = sub[c];
        parent[all[orig].to] = Some(orig);
    }
    let mut used: BTreeSet<usize> = BTreeSet::new();
    for &w in want {
        if w >= n || have.contains(&w) {
            continue;
        }
        let mut v = w;
        while let Some(e) = parent[v] {
            if all[e].from == n || !used.insert(e) {
                break;
            }
            v = all[e].from;
        }
    }
    // Parents before children: order by depth.
    let depth = |mut v: usize| {
        let mut d = 0;
        while let Some(e) = parent[v] {
            if all[e].from == n {
                break;
            }
            v = all[e].from;
            d += 1;
        }
        d
    };
    let mut sends: Vec<usize> = used.into_iter().collect();
    sends.sort_by_key(|&e| depth(all[e].to));
    let cost = sends.iter().map(|&e| all[e].cost).sum();
    KeyPlan {
        sends,
        cost,
        unreachable,
    }
}

/// Plans many keys over one network: plans are kept by holders and
/// wanting repositories, so keys placed alike (most of a repository's)
/// cost one [`plan_key`]. At most [`Planner::CAPACITY`] plans are kept;
/// past that the cache starts again.
#[derive(Debug, Clone)]
pub struct Planner {
    n: usize,
    edges: Vec<Edge>,
    cache: HashMap<(Vec<usize>, Vec<usize>), KeyPlan>,
}

impl Planner {
    /// The most plans kept.
    pub const CAPACITY: usize = 65_536;

    /// A planner over a network of `n` repositories and these links.
    pub fn new(n: usize, edges: Vec<Edge>) -> Planner {
        Planner {
            n,
            edges,
            cache: HashMap::new(),
        }
    }

    /// [`plan_key`] for a key that `have` hold and `want` want.
    pub fn plan(&mut self, have: &[usize], want: &[usize]) -> &KeyPlan {
        let mut h = have.to_vec();
        h.sort_unstable();
        h.dedup();
        let mut w: Vec<usize> = want
            .iter()
            .copied()
            .filter(|x| h.binary_search(x).is_err())
            .collect();
        w.sort_unstable();
        w.dedup();
        if self.cache.len() >= Self::CAPACITY && !self.cache.contains_key(&(h.clone(), w.clone())) {
            self.cache.clear();
        }
        let (n, edges) = (self.n, &self.edges);
        self.cache
            .entry((h, w))
            .or_insert_with_key(|(h, w)| plan_key(n, edges, h, w))
    }
}

/// Flooding as `sync --content` does it when every repository syncs in
/// turn: in rounds, each repository that has the key at the start of the
/// round (in index order) sends it to each of its remotes that wants it
/// and lacks it, cheapest first. Only wanting repositories relay. The
/// sends (indexes into `edges`, in order), their cost, and the wanting
/// repositories never reached.
pub fn flood(n: usize, edges: &[Edge], have: &[usize], want: &[usize]) -> KeyPlan {
    let mut holding = vec![false; n];
    for &h in have {
        if h < n {
            holding[h] = true;
        }
    }
    let mut wants = vec![false; n];
    for &w in want {
        if w < n {
            wants[w] = true;
        }
    }
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, e) in edges.iter().enumerate() {
        if e.from < n && e.to < n && e.from != e.to {
            out[e.from].push(i);
        }
    }
    for o in &mut out {
        o.sort_by_key(|&i| edges[i].cost);
    }
    let mut sends = Vec::new();
    let mut cost = 0;
    loop {
        let senders: Vec<usize> = (0..n).filter(|&v| holding[v]).collect();
        let before = sends.len();
        for v in senders {
            for &i in &out[v] {
                let to = edges[i].to;
                if wants[to] && !holding[to] {
                    holding[to] = true;
                    cost += edges[i].cost;
                    sends.push(i);
                }
            }
        }
        if sends.len() == before {
            break;
        }
    }
    let unreachable = want
        .iter()
        .copied()
        .filter(|&w| w < n && !holding[w])
        .collect();
    KeyPlan {
        sends,
        cost,
        unreachable,
    }
}

/// What flooding costs for one key, as git-annex distributes today: each
/// wanting repository gets the key over the cheapest link from a
/// repository that has it, repeated as copies arrive (a repository
/// reached only through others waits for them to get it first, whether or
/// not they want it; here they relay only if they want it).
pub fn flood_cost(n: usize, edges: &[Edge], have: &[usize], want: &[usize]) -> (u64, Vec<usize>) {
    let mut holding: BTreeSet<usize> = have.iter().copied().collect();
    let mut cost = 0;
    loop {
        let mut best: Option<(u64, usize)> = None;
        for e in edges {
            if e.to < n
                && holding.contains(&e.from)
                && !holding.contains(&e.to)
                && want.contains(&e.to)
                && best.is_none_or(|(c, _)| e.cost < c)
            {
                best = Some((e.cost, e.to));
            }
        }
        match best {
            Some((c, to)) => {
                cost += c;
                holding.insert(to);
            }
            None => break,
        }
    }
    let missed = want
        .iter()
        .copied()
        .filter(|w| !holding.contains(w))
        .collect();
    (cost, missed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every choice of one incoming edge per node; the cheapest that forms
    /// an arborescence.
    fn brute(n: usize, root: usize, edges: &[Edge]) -> Option<u64> {
        let incoming: Vec<Vec<usize>> = (0..n)
            .map(|v| {
                (0..edges.len())
                    .filter(|&i| edges[i].to == v && edges[i].from != v && v != root)
                    .collect()
            })
            .collect();
        let others: Vec<usize> = (0..n).filter(|&v| v != root).collect();
        if others.iter().any(|&v| incoming[v].is_empty()) {
            return None;
        }
        let mut best: Option<u64> = None;
        let mut idx = vec![0usize; others.len()];
        loop {
            let parent = |v: usize| -> usize {
                let k = others.iter().position(|&x| x == v).unwrap_or(0);
                edges[incoming[v][idx[k]]].from
            };
            let ok = others.iter().all(|&v| {
                let mut x = v;
                for _ in 0..=n {
                    if x == root {
                        return true;
                    }
                    x = parent(x);
                }
                false
            });
            if ok {
                let c: u64 = others
                    .iter()
                    .enumerate()
                    .map(|(k, &v)| edges[incoming[v][idx[k]]].cost)
                    .sum();
                best = Some(best.map_or(c, |b: u64| b.min(c)));
            }
            // Next combination.
            let mut k = 0;
            loop {
                if k == others.len() {
                    return best;
                }
                idx[k] += 1;
                if idx[k] < incoming[others[k]].len() {
                    break;
                }
                idx[k] = 0;
                k += 1;
            }
        }
    }

    fn is_arborescence(n: usize, root: usize, edges: &[Edge], chosen: &[usize]) -> bool {
        let mut parent = vec![None; n];
        for &c in chosen {
            if parent[edges[c].to].is_some() {
                return false;
            }
            parent[edges[c].to] = Some(edges[c].from);
        }
        (0..n).filter(|&v| v != root).all(|v| {
            let mut x = v;
            for _ in 0..=n {
                if x == root {
                    return true;
                }
                match parent[x] {
                    Some(p) => x = p,
                    None => return false,
                }
            }
            false
        })
    }

    proptest! {
        /// Against brute force on small graphs: the same minimum, and what
        /// is returned is an arborescence of that cost.
        #[test]
        fn arborescence_is_minimum(
            n in 1usize..6,
            raw in proptest::collection::vec((0usize..6, 0usize..6, 0u64..20), 0..16),
        ) {
            let edges: Vec<Edge> = raw
                .into_iter()
                .filter(|(a, b, _)| *a < n && *b < n)
                .map(|(from, to, cost)| Edge { from, to, cost })
                .collect();
            let got = min_arborescence(n, 0, &edges);
            let want = brute(n, 0, &edges);
            prop_assert_eq!(got.as_ref().map(|g| g.0), want);
            if let Some((cost, chosen)) = got {
                prop_assert!(is_arborescence(n, 0, &edges, &chosen));
                prop_assert_eq!(chosen.iter().map(|&i| edges[i].cost).sum::<u64>(), cost);
            }
        }

        /// The plan never costs more than flooding when every repository
        /// wants the key, and reaches every wanting repository flooding
        /// reaches.
        #[test]
        fn plan_never_worse_than_flood_when_all_want(
            n in 2usize..7,
            raw in proptest::collection::vec((0usize..7, 0usize..7, 1u64..20), 1..20),
        ) {
            let edges: Vec<Edge> = raw
                .into_iter()
                .filter(|(a, b, _)| *a < n && *b < n && a != b)
                .map(|(from, to, cost)| Edge { from, to, cost })
                .collect();
            let want: Vec<usize> = (1..n).collect();
            let plan = plan_key(n, &edges, &[0], &want);
            let (flood, missed) = flood_cost(n, &edges, &[0], &want);
            prop_assert_eq!(plan.unreachable.clone(), missed);
            prop_assert!(plan.cost <= flood, "plan {} flood {}", plan.cost, flood);
        }
    }

    proptest! {
        /// Whatever wants the key: the plan reaches every wanting
        /// repository the flood reaches, and costs no more when the flood
        /// reaches them all.
        #[test]
        fn plan_never_worse_than_round_flood(
            n in 2usize..8,
            raw in proptest::collection::vec((0usize..8, 0usize..8, 1u64..20), 1..24),
            wanting in proptest::collection::vec(any::<bool>(), 8),
        ) {
            let edges: Vec<Edge> = raw
                .into_iter()
                .filter(|(a, b, _)| *a < n && *b < n && a != b)
                .map(|(from, to, cost)| Edge { from, to, cost })
                .collect();
            let want: Vec<usize> = (1..n).filter(|&v| wanting[v]).collect();
            let plan = plan_key(n, &edges, &[0], &want);
            let fl = flood(n, &edges, &[0], &want);
            prop_assert!(plan.unreachable.iter().all(|u| fl.unreachable.contains(u)));
            if fl.unreachable.is_empty() {
                prop_assert!(plan.cost <= fl.cost, "plan {} flood {}", plan.cost, fl.cost);
            }
        }
    }

    /// The planner's cached plans are [`plan_key`]'s, whatever the order
    /// and repetitions of holders and wanting repositories.
    #[test]
    fn planner_caches_plan_key() {
        let e = |from, to, cost| Edge { from, to, cost };
        let edges = vec![e(0, 1, 5), e(1, 2, 1), e(0, 2, 9), e(2, 3, 1)];
        let mut p = Planner::new(4, edges.clone());
        let a = p.plan(&[0], &[3, 2, 2]).clone();
        assert_eq!(a, plan_key(4, &edges, &[0], &[2, 3]));
        assert_eq!(p.plan(&[0, 0], &[2, 3, 0]), &a);
        let b = p.plan(&[1], &[3]).clone();
        assert_eq!(b, plan_key(4, &edges, &[1], &[3]));
    }

    /// The case where the pruned arborescence alone costs more than the
    /// flood: 2 (not wanting) is reached cheaply only from 1, and the
    /// arborescence takes 0 -> 2 -> 1 (101) over 0 -> 1 (10).
    #[test]
    fn relay_never_makes_the_plan_dearer() {
        let e = |from, to, cost| Edge { from, to, cost };
        let edges = [e(0, 1, 10), e(0, 2, 100), e(1, 2, 100), e(2, 1, 1)];
        let plan = plan_key(3, &edges, &[0], &[1]);
        assert_eq!(plan.cost, 10);
        assert_eq!(plan.sends, vec![0]);
    }

    /// A chain of gateways where only the far end wants the key: flooding
    /// (relaying only through repositories that want it) cannot reach it;
    /// the plan relays through the gateways.
    #[test]
    fn chain_relays_through_gateways() {
        let edges: Vec<Edge> = (0..4)
            .map(|i| Edge {
                from: i,
                to: i + 1,
                cost: 1,
            })
            .collect();
        let plan = plan_key(5, &edges, &[0], &[4]);
        assert_eq!(plan.cost, 4);
        assert_eq!(plan.sends, vec![0, 1, 2, 3]);
        assert!(plan.unreachable.is_empty());
        let (_, missed) = flood_cost(5, &edges, &[0], &[4]);
        assert_eq!(missed, vec![4]);
    }

    /// A star with an expensive direct link and a cheap relay.
    #[test]
    fn cheap_relay_beats_direct_link() {
        let edges = [
            Edge {
                from: 0,
                to: 1,
                cost: 10,
            },
            Edge {
                from: 0,
                to: 2,
                cost: 1,
            },
            Edge {
                from: 2,
                to: 1,
                cost: 1,
            },
        ];
        let plan = plan_key(3, &edges, &[0], &[1, 2]);
        assert_eq!(plan.cost, 2);
        let (flood, _) = flood_cost(3, &edges, &[0], &[1, 2]);
        assert_eq!(flood, 2);
        // Only 1 wants it: the relay through 2 still wins.
        let plan = plan_key(3, &edges, &[0], &[1]);
        assert_eq!(plan.cost, 2);
        assert_eq!(plan.sends, vec![1, 2]);
    }
}
