//! Least-cost distribution for `sync --content` and the assistant's
//! transferrer (`annex.rs-distribution=leastcost`): which remotes this
//! repository sends a key to.
//!
//! The flood (`annex.rs-distribution=flood`, the default, and git-annex's
//! only way) sends each key to every sync remote that wants it and lacks
//! it. With `leastcost`, the content pass asks a [`Route`] which of
//! those to send to: the remotes that are this repository's children in
//! the key's plan ([`plan::plan_key`]) over the [network map](crate::map)
//! of this repository. The others get the key from a relay instead.
//!
//! Who may relay: a repository forwards a key only when a transferring
//! process runs in it (the assistant, or a `sync --content` run
//! regularly) with `leastcost` too. git-annex cannot know that, so it is
//! declared: `git config remote.NAME.annex-rs-relay true` in a repository
//! that has the relay as remote NAME (in this one, or in a repository on
//! this machine that the map reaches). Undeclared repositories receive
//! but are not relied on to send; this repository always sends. When no
//! relay helps, the plan is the direct sends, as flooding would do them
//! (cheapest link per remote).
//!
//! Preferred content and numcopies decide exactly as in the flood: the
//! plan only ever includes repositories that have the key or want it (a
//! repository that does not want a key never receives it to pass it on:
//! the same pass would then drop it as unwanted), so a send that the
//! route allows is one the flood would make too, and drops are not
//! touched. Repositories off the map (known only from location logs) are
//! not planned for: they neither send nor receive in this pass.

use std::collections::BTreeSet;
use std::path::Path;

use annex_core::uuid::Uuid;

use crate::map::{MapError, Network};
use crate::plan::{self, Edge};

/// The setting that selects the distribution.
pub const SETTING: &str = "annex.rs-distribution";

/// The planner's routes from one repository.
#[derive(Debug, Clone)]
pub struct Route {
    net: Network,
    edges: Vec<Edge>,
    /// Whether each repository of the map sends (this one, declared
    /// relays).
    sends: Vec<bool>,
}

impl Route {
    /// The route of the repository at `path` (its map).
    pub fn for_repo(path: &Path) -> Result<Route, MapError> {
        Ok(Route::new(Network::from_repo(path)?))
    }

    /// The route over `net`, its first repository being this one.
    pub fn new(net: Network) -> Route {
        let sends = net
            .repos
            .iter()
            .enumerate()
            .map(|(i, r)| i == 0 || r.relay)
            .collect();
        Route {
            edges: net.edges(),
            net,
            sends,
        }
    }

    /// The map.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// The UUIDs on the map (whose preferred content the plan needs).
    pub fn uuids(&self) -> impl Iterator<Item = &Uuid> {
        self.net.repos.iter().filter_map(|r| r.uuid.as_ref())
    }

    /// The repositories this one sends the key to, given where it is
    /// (`holders`, this repository included when it has it) and whether
    /// each repository of the map wants it (holders off the map are
    /// left out). `None` when this repository is not on its own map (an
    /// empty map): then flood.
    pub fn sends_to(
        &self,
        holders: &[Uuid],
        mut wants: impl FnMut(&Uuid) -> bool,
    ) -> Option<BTreeSet<Uuid>> {
        let n = self.net.repos.len();
        if n == 0 {
            return None;
        }
        let mut have: Vec<usize> = Vec::new();
        // Holders off the map are not relied on to send.
        have.extend(holders.iter().filter_map(|u| self.net.index_of(u)));
        if !have.contains(&0) {
            have.push(0);
        }
        let mut want: Vec<usize> = Vec::new();
        let mut take_part = vec![false; n];
        for (i, r) in self.net.repos.iter().enumerate() {
            let holds = have.contains(&i);
            let w = !holds && r.uuid.as_ref().is_some_and(&mut wants);
            if w {
                want.push(i);
            }
            take_part[i] = holds || w;
        }
        // Only repositories that have or want the key, and only senders
        // that run a transferring process.
        let edges: Vec<Edge> = self
            .edges
            .iter()
            .copied()
            .filter(|e| take_part[e.from] && take_part[e.to] && self.sends[e.from])
            .collect();
        let p = plan::plan_key(n, &edges, &have, &want);
        Some(
            p.sends
                .iter()
                .filter(|&&i| edges[i].from == 0)
                .filter_map(|&i| self.net.repos[edges[i].to].uuid.clone())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uuid(i: u8) -> Uuid {
        Uuid::parse(format!("aaaaaaaa-0000-4000-8000-0000000000{i:02}").as_bytes()).expect("uuid")
    }

    /// here -> a (10), a -> b (10), here -> b (100): b is reached through
    /// a when a relays, directly when it does not; a repository that does
    /// not want the key is never a relay.
    fn net(relay: bool) -> Network {
        let mut net = Network::default();
        let h = net.add_repo("here", Some(uuid(0)));
        let a = net.add_repo("a", Some(uuid(1)));
        let b = net.add_repo("b", Some(uuid(2)));
        net.repos[a].relay = relay;
        net.add_link(h, a, "a", 10);
        net.add_link(a, b, "b", 10);
        net.add_link(h, b, "b", 100);
        net
    }

    fn set(us: &[u8]) -> BTreeSet<Uuid> {
        us.iter().map(|&i| uuid(i)).collect()
    }

    #[test]
    fn relay_is_used_only_when_declared() {
        let all = |_: &Uuid| true;
        let r = Route::new(net(true));
        assert_eq!(r.sends_to(&[uuid(0)], all), Some(set(&[1])));
        let r = Route::new(net(false));
        assert_eq!(r.sends_to(&[uuid(0)], all), Some(set(&[1, 2])));
    }

    #[test]
    fn unwanting_repository_never_relays() {
        let r = Route::new(net(true));
        let only_b = |u: &Uuid| *u == uuid(2);
        assert_eq!(r.sends_to(&[uuid(0)], only_b), Some(set(&[2])));
    }

    /// A relay that has the key already sends it on: nothing from here.
    #[test]
    fn holder_relay_sends_instead() {
        let r = Route::new(net(true));
        assert_eq!(r.sends_to(&[uuid(0), uuid(1)], |_| true), Some(set(&[])));
    }

    #[test]
    fn holder_off_the_map_is_left_out() {
        let r = Route::new(net(true));
        assert_eq!(r.sends_to(&[uuid(9)], |_| true), Some(set(&[1])));
        assert_eq!(Route::new(Network::default()).sends_to(&[], |_| true), None);
    }
}
