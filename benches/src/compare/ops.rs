//! The operations compared, as data: one [`Op`] a line in [`OPS`]. A new
//! command is one more line: its id, its arguments, the state it starts
//! from and what must hold after it.

/// Which workload an operation runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// `N` small files in a deep tree (`N` from `--sizes`); the repository
    /// has them all, a local clone `peer` (a remote) has them too, and a
    /// third repository `archive` (known from the git-annex branch only) is
    /// logged as having them: `N` keys in 3 repositories.
    Small,
    /// One large file (`--large-mib` MiB), the same at every size: run once.
    Large,
}

/// A prepared directory holding `repo/` (and `peer/` for [`Workload::Small`])
/// that operations start from. Built once per workload with the reference
/// git-annex and plain git, so both implementations start from the same
/// bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fixture {
    /// `repo` is a plain `git init` (nothing of git-annex).
    EmptyGit,
    /// `repo` is initialized (`git annex init`), the workload's files are in
    /// the work tree, not added.
    Unadded,
    /// Everything added and committed; content here, in `peer` too.
    Full,
    /// As [`Fixture::Full`], then the content dropped here (by the reference,
    /// logged): `peer` still has it.
    ContentAbsent,
    /// As [`Fixture::Full`], but `peer` has no content and the log says so.
    PeerEmpty,
    /// As [`Fixture::PeerEmpty`], with `peer` reached over ssh: before
    /// each round its URL is set to `ssh://127.0.0.1:PORT/...` of the
    /// runner's own sshd (plain ssh, connection caching on, the sshd's
    /// key in `annex-ssh-options`), served by the implementation's own
    /// `git-annex-shell`.
    PeerEmptySsh,
    /// As [`Fixture::Full`], plus a second remote `mirror` (a bare clone,
    /// `mirror.git`), given every object and synced by the reference so
    /// that a later `sync` or `sync --content` has nothing to do: for the
    /// `sync` rows.
    TwoRemotes,
}

impl Fixture {
    /// The fixture's directory name.
    pub fn dir_name(self) -> &'static str {
        match self {
            Fixture::EmptyGit => "empty-git",
            Fixture::Unadded => "unadded",
            Fixture::Full => "full",
            Fixture::ContentAbsent => "content-absent",
            Fixture::PeerEmpty => "peer-empty",
            Fixture::PeerEmptySsh => "peer-empty-ssh",
            Fixture::TwoRemotes => "two-remotes",
        }
    }
}

/// The state an operation needs before each timed run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// A fresh copy of the fixture every round, for each implementation:
    /// for operations that change the repository.
    Fresh(Fixture),
    /// A fresh copy of the fixture, then one untimed run of the same
    /// command by the same implementation, then the timed run: the state a
    /// user is in when running the command again (each implementation's
    /// own records and caches written by the first run).
    Repeated(Fixture),
    /// One copy of [`Fixture::Full`] shared by both implementations, for
    /// operations that only read: one untimed warm-up run of each
    /// implementation first (page cache, and the databases git-annex
    /// builds on first use), then the timed rounds.
    Shared,
}

/// How many annexed objects a check expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    /// None.
    Zero,
    /// One per file of the workload.
    All,
}

/// What must hold after a successful run, so that a command that exits 0
/// without doing its work is reported as a failure, not as fast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Exit status only.
    ExitStatus,
    /// `repo` has an `annex.uuid` and a `git-annex` branch.
    Initialized,
    /// `repo/.git/annex/objects` holds this many objects.
    ObjectsHere(Count),
    /// `peer/.git/annex/objects` holds this many objects.
    ObjectsInPeer(Count),
}

/// One compared operation.
#[derive(Debug, Clone, Copy)]
pub struct Op {
    /// Short name, for `--ops` and the table.
    pub id: &'static str,
    /// The arguments after the program name, run in `repo/`.
    pub args: &'static [&'static str],
    /// The workload.
    pub workload: Workload,
    /// The state before each run.
    pub state: State,
    /// What must hold after.
    pub check: Check,
}

impl Op {
    /// The command's arguments, space-separated; `(again)` after those
    /// of an operation timed on its second run.
    pub fn display(&self) -> String {
        let args = self.args.join(" ");
        match self.state {
            State::Repeated(_) => format!("{args} (again)"),
            _ => args,
        }
    }
}

/// Every operation, in the order of the table.
pub const OPS: &[Op] = &[
    Op {
        id: "init",
        args: &["init", "bench"],
        workload: Workload::Small,
        state: State::Fresh(Fixture::EmptyGit),
        check: Check::Initialized,
    },
    Op {
        id: "add",
        args: &["add", "."],
        workload: Workload::Small,
        state: State::Fresh(Fixture::Unadded),
        check: Check::ObjectsHere(Count::All),
    },
    Op {
        id: "add-large",
        args: &["add", "."],
        workload: Workload::Large,
        state: State::Fresh(Fixture::Unadded),
        check: Check::ObjectsHere(Count::All),
    },
    Op {
        id: "whereis",
        args: &["whereis"],
        workload: Workload::Small,
        state: State::Shared,
        check: Check::ExitStatus,
    },
    Op {
        id: "find",
        args: &["find"],
        workload: Workload::Small,
        state: State::Shared,
        check: Check::ExitStatus,
    },
    Op {
        id: "find-json",
        args: &["find", "--json"],
        workload: Workload::Small,
        state: State::Shared,
        check: Check::ExitStatus,
    },
    Op {
        id: "info",
        args: &["info"],
        workload: Workload::Small,
        state: State::Shared,
        check: Check::ExitStatus,
    },
    Op {
        id: "fsck-fast",
        args: &["fsck", "--fast"],
        workload: Workload::Small,
        state: State::Shared,
        check: Check::ExitStatus,
    },
    Op {
        id: "fsck",
        args: &["fsck"],
        workload: Workload::Small,
        state: State::Shared,
        check: Check::ExitStatus,
    },
    Op {
        id: "fsck-large",
        args: &["fsck"],
        workload: Workload::Large,
        state: State::Shared,
        check: Check::ExitStatus,
    },
    Op {
        id: "get",
        args: &["get", "."],
        workload: Workload::Small,
        state: State::Fresh(Fixture::ContentAbsent),
        check: Check::ObjectsHere(Count::All),
    },
    Op {
        id: "copy-to",
        args: &["copy", "--to", "peer", "."],
        workload: Workload::Small,
        state: State::Fresh(Fixture::PeerEmpty),
        check: Check::ObjectsInPeer(Count::All),
    },
    Op {
        id: "copy-to-ssh",
        args: &["copy", "--to", "peer", "."],
        workload: Workload::Small,
        state: State::Fresh(Fixture::PeerEmptySsh),
        check: Check::ObjectsInPeer(Count::All),
    },
    Op {
        id: "drop",
        args: &["drop", "."],
        workload: Workload::Small,
        state: State::Fresh(Fixture::Full),
        check: Check::ObjectsHere(Count::Zero),
    },
    Op {
        id: "sync",
        args: &["sync"],
        workload: Workload::Small,
        state: State::Fresh(Fixture::TwoRemotes),
        check: Check::ExitStatus,
    },
    Op {
        id: "sync-content",
        args: &["sync", "--content"],
        workload: Workload::Small,
        state: State::Fresh(Fixture::TwoRemotes),
        check: Check::ExitStatus,
    },
    Op {
        id: "sync-again",
        args: &["sync"],
        workload: Workload::Small,
        state: State::Repeated(Fixture::TwoRemotes),
        check: Check::ExitStatus,
    },
    Op {
        id: "sync-content-again",
        args: &["sync", "--content"],
        workload: Workload::Small,
        state: State::Repeated(Fixture::TwoRemotes),
        check: Check::ExitStatus,
    },
];

/// The operations `filter` names (comma-separated ids), or all of them.
/// An error names the unknown ids.
pub fn select(filter: Option<&str>) -> Result<Vec<Op>, String> {
    let Some(filter) = filter else {
        return Ok(OPS.to_vec());
    };
    let wanted: Vec<&str> = filter
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let unknown: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|w| !OPS.iter().any(|o| o.id == *w))
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = OPS.iter().map(|o| o.id).collect();
        return Err(format!(
            "unknown operation(s) {}; known: {}",
            unknown.join(", "),
            known.join(", ")
        ));
    }
    Ok(OPS
        .iter()
        .filter(|o| wanted.contains(&o.id))
        .copied()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique() {
        for (i, a) in OPS.iter().enumerate() {
            assert!(
                OPS[i + 1..].iter().all(|b| b.id != a.id),
                "duplicate id {}",
                a.id
            );
        }
    }

    #[test]
    fn select_filters_in_table_order_and_rejects_unknown() {
        let ops = select(Some("find,init")).expect("known ids");
        let ids: Vec<&str> = ops.iter().map(|o| o.id).collect();
        assert_eq!(ids, ["init", "find"]);
        assert_eq!(select(None).expect("all").len(), OPS.len());
        let err = select(Some("find,nope")).expect_err("unknown id");
        assert!(err.contains("nope"), "{err}");
    }
}
