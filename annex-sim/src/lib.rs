//! git-annex's `sim`: a network of repositories simulated from a sim file,
//! stepped with the preferred-content, numcopies and balancing code the real
//! commands use, and a convergence checker on top.
//!
//! - [`mod@file`]: the sim file language (parse, print back as the log).
//! - [`rng`]: the reference's random numbers, so seeded sims choose alike.
//! - [`sim`]: the simulated state, its commands and steps.
//! - [`check`]: runs a sim until nothing changes or a state repeats, and
//!   reports what went wrong.
//! - [`materialize`]: a simulated repository as a real one, for `visit`.
//! - [`persist`]: the state kept between `git annex sim` commands.
//! - [`plan`]: least-cost distribution: the minimum-cost arborescence
//!   (Chu-Liu/Edmonds) and a key's plan over a network.
//! - [`map`]: the network map (repositories, links, costs) of a real
//!   repository or of a sim.
//! - [`distribute`]: the planner against flooding over generated networks.
//! - [`route`]: which remotes `sync --content` sends a key to with
//!   `annex.rs-distribution=leastcost`.

/// The convergence checker.
pub mod check;
pub mod distribute;
pub mod file;
pub mod map;
pub mod materialize;
/// The saved state.
pub mod persist;
pub mod plan;
pub mod rng;
pub mod route;
pub mod sim;

pub use sim::{Detached, Host, Sim, SimError};
