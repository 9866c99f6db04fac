//! The state of a running sim, kept between `git annex sim` commands in
//! `.git/annex/sim/state` (where the reference keeps its own). The file is
//! line based, each line a record type and hex-encoded fields, written
//! atomically (a temporary file renamed over it).

use std::path::{Path, PathBuf};

use annex_core::key::Key;
use annex_core::logs::format::Value;
use annex_core::logs::metadata::MetaData;
use annex_core::uuid::Uuid;

use crate::file::{self, Command};
use crate::sim::{LocationState, Sim};

/// The state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// Reading or writing failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a sim state.
    #[error("unable to parse sim state file")]
    Parse,
}

const MAGIC: &str = "git-annex-rs sim state 1";

fn hex(b: &[u8]) -> String {
    if b.is_empty() {
        return "-".into();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s == "-" {
        return Some(Vec::new());
    }
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn unhex_str(s: &str) -> Option<String> {
    String::from_utf8(unhex(s)?).ok()
}

/// The sim as the state file's text.
pub fn to_text(sim: &Sim) -> String {
    let mut o = vec![MAGIC.to_string()];
    let h = |s: &str| hex(s.as_bytes());
    o.push(format!("rng {}", sim.rng));
    o.push(format!("clock {}", sim.clock));
    o.push(format!("numcopies {}", sim.numcopies));
    o.push(format!("mincopies {}", sim.mincopies));
    o.push(format!("rebalance {}", u8::from(sim.rebalance)));
    o.push(format!("failed {}", u8::from(sim.failed)));
    for (name, u) in &sim.repos {
        o.push(format!("repo {} {}", h(name), h(u.as_str())));
    }
    for (u, st) in &sim.repo_state {
        o.push(format!(
            "state {} {} {}",
            h(u.as_str()),
            h(&st.name),
            u8::from(st.special)
        ));
        for (k, m) in &st.locations {
            for (lu, l) in m {
                o.push(format!(
                    "loc {} {} {} {} {}",
                    h(u.as_str()),
                    hex(k.as_bytes()),
                    h(lu.as_str()),
                    l.clock,
                    u8::from(l.present)
                ));
            }
        }
        for (su, n) in &st.sizes {
            o.push(format!("size {} {} {n}", h(u.as_str()), h(su.as_str())));
        }
    }
    for (u, rs) in &sim.connections {
        o.push(format!("conns {}", h(u.as_str())));
        for r in rs {
            o.push(format!("conn {} {}", h(u.as_str()), h(r)));
        }
    }
    for (n, u) in &sim.cluster_nodes {
        o.push(format!("cluster {} {}", h(n), h(u.as_str())));
    }
    for (f, k) in &sim.files {
        o.push(format!("file {} {}", h(f), hex(k.as_bytes())));
    }
    for (u, t) in &sim.trust {
        o.push(format!("trust {} {}", h(u.as_str()), t.name()));
    }
    for (u, gs) in &sim.groups {
        o.push(format!("groups {}", h(u.as_str())));
        for g in gs {
            o.push(format!("group {} {}", h(u.as_str()), h(g)));
        }
    }
    for (k, m) in &sim.metadata {
        let mut v = Vec::new();
        m.write_value(&mut v);
        o.push(format!("meta {} {}", hex(k.as_bytes()), hex(&v)));
    }
    for (u, e) in &sim.wanted {
        o.push(format!("wanted {} {}", h(u.as_str()), h(e)));
    }
    for (u, e) in &sim.required {
        o.push(format!("required {} {}", h(u.as_str()), h(e)));
    }
    for (g, e) in &sim.group_wanted {
        o.push(format!("groupwanted {} {}", h(g), h(e)));
    }
    for (u, n) in &sim.max_size {
        o.push(format!("maxsize {} {n}", h(u.as_str())));
    }
    for c in &sim.history {
        o.push(format!("history {}", h(&file::command_words(c).join(" "))));
    }
    let mut s = o.join("\n");
    s.push('\n');
    s
}

/// Reads the state file's text back.
pub fn from_text(text: &str) -> Result<Sim, PersistError> {
    from_text_inner(text).ok_or(PersistError::Parse)
}

fn from_text_inner(text: &str) -> Option<Sim> {
    let mut lines = text.lines();
    if lines.next()? != MAGIC {
        return None;
    }
    let mut sim = Sim::default();
    let uuid = |s: &str| Uuid::parse(&unhex(s)?).ok();
    let key = |s: &str| Key::parse(&unhex(s)?).ok();
    for line in lines {
        let w: Vec<&str> = line.split(' ').collect();
        match w.as_slice() {
            ["rng", n] => sim.rng = n.parse().ok()?,
            ["clock", n] => sim.clock = n.parse().ok()?,
            ["numcopies", n] => sim.numcopies = n.parse().ok()?,
            ["mincopies", n] => sim.mincopies = n.parse().ok()?,
            ["rebalance", b] => sim.rebalance = *b == "1",
            ["failed", b] => sim.failed = *b == "1",
            ["repo", n, u] => {
                sim.repos.insert(unhex_str(n)?, uuid(u)?);
            }
            ["state", u, n, sp] => {
                let st = sim.repo_state.entry(uuid(u)?).or_default();
                st.name = unhex_str(n)?;
                st.special = *sp == "1";
            }
            ["loc", v, k, u, c, p] => {
                let st = sim.repo_state.entry(uuid(v)?).or_default();
                st.locations.entry(key(k)?).or_default().insert(
                    uuid(u)?,
                    LocationState {
                        clock: c.parse().ok()?,
                        present: *p == "1",
                    },
                );
            }
            ["size", v, u, n] => {
                let st = sim.repo_state.entry(uuid(v)?).or_default();
                st.sizes.insert(uuid(u)?, n.parse().ok()?);
            }
            ["conns", u] => {
                sim.connections.entry(uuid(u)?).or_default();
            }
            ["conn", u, r] => {
                sim.connections
                    .entry(uuid(u)?)
                    .or_default()
                    .insert(unhex_str(r)?);
            }
            ["cluster", n, u] => {
                sim.cluster_nodes.insert(unhex_str(n)?, uuid(u)?);
            }
            ["file", f, k] => {
                sim.files.insert(unhex_str(f)?, key(k)?);
            }
            ["trust", u, t] => {
                sim.trust.insert(uuid(u)?, file::read_trust_level(t)?);
            }
            ["groups", u] => {
                sim.groups.entry(uuid(u)?).or_default();
            }
            ["group", u, g] => {
                sim.groups
                    .entry(uuid(u)?)
                    .or_default()
                    .insert(unhex_str(g)?);
            }
            ["meta", k, m] => {
                sim.metadata
                    .insert(key(k)?, MetaData::parse_value(&unhex(m)?)?);
            }
            ["wanted", u, e] => {
                sim.wanted.insert(uuid(u)?, unhex_str(e)?);
            }
            ["required", u, e] => {
                sim.required.insert(uuid(u)?, unhex_str(e)?);
            }
            ["groupwanted", g, e] => {
                sim.group_wanted.insert(unhex_str(g)?, unhex_str(e)?);
            }
            ["maxsize", u, n] => {
                sim.max_size.insert(uuid(u)?, n.parse().ok()?);
            }
            ["history", l] => {
                let line = unhex_str(l)?;
                let c = file::parse_line(&line).unwrap_or(Command::Comment(line));
                sim.history.push(c);
            }
            _ => return None,
        }
    }
    Some(sim)
}

/// The state file in a sim directory.
pub fn state_file(simdir: &Path) -> PathBuf {
    simdir.join("state")
}

/// Writes the state (atomically).
pub fn save(simdir: &Path, sim: &Sim) -> Result<(), PersistError> {
    let path = state_file(simdir);
    let tmp = simdir.join("state.tmp");
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| PersistError::Io { path: p, source }
    };
    std::fs::write(&tmp, to_text(sim)).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))
}

/// Reads the state.
pub fn load(simdir: &Path) -> Result<Sim, PersistError> {
    let path = state_file(simdir);
    let text = std::fs::read_to_string(&path).map_err(|source| PersistError::Io {
        path: path.clone(),
        source,
    })?;
    from_text(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Detached;

    #[test]
    fn state_round_trips() {
        let mut sim = Sim::new(5);
        let mut host = Detached::default();
        let src = "init foo\ninit bar\ninitremote baz\nconnect foo <-> bar -> baz\n\
                   group bar archive\nwanted bar standard\ngroupwanted archive include=*\n\
                   trustlevel baz trusted\nmaxsize bar 10gb\nclusternode cn bar\n\
                   add a\u{e9}.x 1mb foo\nmetadata a\u{e9}.x year=2025\nrebalance on\nstep 5\n";
        for c in file::parse(src).expect("parses") {
            sim.apply(c, &mut host).expect("applies");
        }
        let back = from_text(&to_text(&sim)).expect("reads back");
        assert_eq!(back, sim);
        assert!(from_text("garbage").is_err());
        assert!(from_text(&format!("{MAGIC}\nloc zz\n")).is_err());
    }
}
