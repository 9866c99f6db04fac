//! A simulated repository as a real one, for `sim visit`: a git repository
//! (in `.git/annex/sim/UUID`, as the reference puts it) initialized with the
//! simulated repository's UUID, whose `git-annex` branch holds the sim's
//! state as that repository sees it (descriptions `simulated repository
//! NAME`, trust, groups, numcopies, mincopies, preferred and required
//! content, groupwanted, maxsizes, metadata and its view of every key's
//! locations) and whose work tree has every simulated file as an annexed
//! symbolic link, staged. Any `git-annex` (this one or the reference) can
//! then examine it: `whereis`, `maxsize`, `info`, ...
//!
//! The repository is made anew at a visit when the sim's state changed
//! since the last one. Its `git-annex` branch is left in the journal, as
//! the reference's is: the first `git-annex` command run in it records it
//! (`(recording state in git...)`).

use std::path::{Path, PathBuf};
use std::process::Command;

use annex_core::repo::Repo;
use annex_core::state::State;
use annex_core::uuid::Uuid;

use crate::sim::Sim;

/// The simulated repository could not be made.
#[derive(Debug, thiserror::Error)]
pub enum MaterializeError {
    /// A file or directory.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `git` failed.
    #[error("git {0} failed")]
    Git(String),
    /// Initializing or writing the branch failed.
    #[error("{0}")]
    Annex(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MaterializeError + '_ {
    move |source| MaterializeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn git(dir: &Path, args: &[&str]) -> Result<(), MaterializeError> {
    let ok = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(io(dir))?
        .success();
    if ok {
        Ok(())
    } else {
        Err(MaterializeError::Git(args.join(" ")))
    }
}

fn annex_err(e: impl std::fmt::Display) -> MaterializeError {
    MaterializeError::Annex(e.to_string())
}

/// Makes `dir` the repository `viewer` of the sim.
pub fn materialize(sim: &Sim, viewer: &Uuid, dir: &Path) -> Result<(), MaterializeError> {
    let stamp = {
        let mut s = sim.clone();
        s.history.clear();
        crate::persist::to_text(&s)
    };
    // The directory is named by the repository's UUID, which comes from
    // the sim (or a branch it read): one plain path component, else
    // nothing is touched.
    let uuid_ok = {
        let u = viewer.as_str();
        !u.is_empty() && u != "." && u != ".." && !u.contains('/')
    };
    if !uuid_ok || dir.file_name().and_then(|n| n.to_str()) != Some(viewer.as_str()) {
        return Err(MaterializeError::Annex(format!(
            "not a usable repository name for a simulated repository: {:?}",
            viewer.as_str()
        )));
    }
    let stamp_file = dir.join(".git/annex/sim-state");
    if std::fs::read_to_string(&stamp_file).is_ok_and(|s| s == stamp) {
        return Ok(());
    }
    if dir.exists() {
        // Only a repository made here before (it has the stamp) is
        // replaced.
        if !stamp_file.exists() {
            return Err(MaterializeError::Annex(format!(
                "{} is in the way of the simulated repository, and was not made by sim",
                dir.display()
            )));
        }
        std::fs::remove_dir_all(dir).map_err(io(dir))?;
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    git(dir, &["init", "-q"])?;
    let repo = Repo::reinit(dir, viewer).map_err(annex_err)?;
    let state = State::new(repo.branch().map_err(annex_err)?);
    for (u, st) in &sim.repo_state {
        state
            .set_description(u, format!("simulated repository {}", st.name).as_bytes())
            .map_err(annex_err)?;
    }
    for (u, t) in &sim.trust {
        state.set_trust(u, *t).map_err(annex_err)?;
    }
    for (u, gs) in &sim.groups {
        if !gs.is_empty() {
            let gs = gs.iter().map(|g| g.as_bytes().to_vec()).collect();
            state.set_groups(u, gs).map_err(annex_err)?;
        }
    }
    state.set_numcopies(sim.numcopies).map_err(annex_err)?;
    state.set_mincopies(sim.mincopies).map_err(annex_err)?;
    for (u, e) in &sim.wanted {
        state
            .set_preferred_content(u, e.as_bytes())
            .map_err(annex_err)?;
    }
    for (u, e) in &sim.required {
        state
            .set_required_content(u, e.as_bytes())
            .map_err(annex_err)?;
    }
    for (g, e) in &sim.group_wanted {
        state
            .set_group_preferred_content(g.as_bytes(), e.as_bytes())
            .map_err(annex_err)?;
    }
    for (u, n) in &sim.max_size {
        state.set_maxsize(u, i128::from(*n)).map_err(annex_err)?;
    }
    for (k, m) in &sim.metadata {
        state.change_metadata(k, m).map_err(annex_err)?;
    }
    if let Some(view) = sim.repo_state.get(viewer) {
        for (k, m) in &view.locations {
            for (u, l) in m {
                if l.present {
                    state.set_present(k, u, true).map_err(annex_err)?;
                }
            }
        }
    }
    // The files, as annexed symbolic links.
    let mut paths: Vec<&str> = Vec::new();
    for (f, k) in &sim.files {
        let rel = Path::new(f);
        // Inside the repository only.
        if !rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
        {
            return Err(MaterializeError::Annex(format!(
                "not a file name inside a repository: {f:?}"
            )));
        }
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let target = annex_core::pointer::link_target(rel, k);
        std::os::unix::fs::symlink(&target, &path).map_err(io(&path))?;
        paths.push(f);
    }
    for chunk in paths.chunks(1000) {
        let mut args = vec!["add", "--"];
        args.extend(chunk.iter().copied());
        git(dir, &args)?;
    }
    std::fs::write(&stamp_file, stamp).map_err(io(&stamp_file))?;
    Ok(())
}

/// Brings every simulated repository of the sim up to date in `simdir`
/// and records their branches (the journal committed), as the reference
/// does each time a sim command ends: a later visit then finds nothing to
/// record.
pub fn suspend(sim: &Sim, simdir: &Path) -> Result<(), MaterializeError> {
    for u in sim.repo_state.keys() {
        let dir = simdir.join(u.as_str());
        materialize(sim, u, &dir)?;
        let repo = Repo::open(&dir).map_err(annex_err)?;
        let state = State::new(repo.branch().map_err(annex_err)?);
        state.commit().map_err(annex_err)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the simulated repository's directory was named by a
    /// UUID taken from the sim and removed whole when its state changed:
    /// `..` removed `.git/annex`. Only a plain name is used, and only a
    /// directory sim made (its stamp) is replaced; file names stay inside.
    #[test]
    fn nothing_outside_the_sim_directory_is_removed_or_written() {
        let top = tempfile::tempdir().expect("temp dir");
        let simdir = top.path().join("sim");
        std::fs::create_dir(&simdir).expect("mkdir");
        let keep = top.path().join("keep");
        std::fs::write(&keep, "precious").expect("write");
        let sim = Sim::new(1);
        for bad in ["..", "."] {
            let u = Uuid::parse(bad.as_bytes()).expect("parses as git-annex parses");
            assert!(materialize(&sim, &u, &simdir.join(bad)).is_err(), "{bad}");
        }
        // A directory in the way that sim did not make stays.
        let u = Uuid::parse(b"aaaa-bbbb").expect("uuid");
        let theirs = simdir.join(u.as_str());
        std::fs::create_dir(&theirs).expect("mkdir");
        std::fs::write(theirs.join("f"), "x").expect("write");
        assert!(materialize(&sim, &u, &theirs).is_err());
        assert!(theirs.join("f").exists());
        assert_eq!(std::fs::read_to_string(&keep).expect("read"), "precious");
        // A file name leading out of the repository is refused.
        let mut sim = Sim::new(1);
        let key = annex_core::key::Key::parse(b"SHA256E-s1--00").expect("key");
        sim.files.insert("../../escape".into(), key);
        let fresh = Uuid::parse(b"cccc-dddd").expect("uuid");
        assert!(materialize(&sim, &fresh, &simdir.join(fresh.as_str())).is_err());
        assert!(!top.path().join("escape").exists());
    }
}
