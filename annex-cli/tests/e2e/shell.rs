//! `git-annex-shell` (issue 13): our binary under that name and the
//! reference's, given the same commands, environments and P2P input on
//! the same repositories: the same output, errors and exit codes.

use std::path::Path;
use std::process::{Command, Output};

use crate::support;

const CLIENT: &str = "11111111-2222-3333-4444-555555555555";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs a git-annex-shell (`ours` or the reference's) in `dir` with `env`
/// set and `input` on stdin.
fn shell(ours: bool, dir: &Path, args: &[&str], env: &[(&str, &str)], input: &[u8]) -> Output {
    let bin = if ours {
        std::path::PathBuf::from(env!("CARGO_BIN_EXE_git-annex-shell"))
    } else {
        support::reference_git_annex().with_file_name("git-annex-shell")
    };
    let mut cmd = Command::new(bin);
    support::hermetic(&mut cmd).current_dir(dir).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    support::output_with_stdin(cmd, Some(input))
}

/// Both, compared: stdout, the first line of stderr (the reference's
/// usage text differs in its list), exit code.
fn same(dir: &Path, args: &[&str], env: &[(&str, &str)], input: &[u8]) -> Output {
    let o = shell(true, dir, args, env, input);
    let t = shell(false, dir, args, env, input);
    let first = |o: &Output| text(&o.stderr).lines().next().map(str::to_string);
    assert_eq!(
        (text(&o.stdout), first(&o), o.status.code()),
        (text(&t.stdout), first(&t), t.status.code()),
        "git-annex-shell {args:?} with {env:?}"
    );
    o
}

fn annexed_repo() -> tempfile::TempDir {
    let dir = support::new_git_repo();
    support::annex(dir.path(), &["init", "server"]);
    std::fs::write(dir.path().join("a"), b"a\n").expect("write");
    support::annex(dir.path(), &["add", "a"]);
    support::git(dir.path(), &["commit", "-q", "-m", "a"]);
    dir
}

#[test]
fn configlist_lists_the_uuid_as_the_reference_does() {
    let dir = annexed_repo();
    let p = dir.path().to_str().expect("utf-8");
    let out = same(dir.path(), &["configlist", p], &[], b"");
    assert!(text(&out.stdout).starts_with("annex.uuid="));
    // A git repository not initialized: an empty UUID, and it stays so.
    let plain = support::new_git_repo();
    let p = plain.path().to_str().expect("utf-8");
    same(plain.path(), &["configlist", p], &[], b"");
    // The login-shell form ssh gives.
    let line = format!("git-annex-shell 'configlist' '{p}'");
    same(plain.path(), &["-c", &line], &[], b"");
}

#[test]
fn configlist_with_autoinit_initializes_as_the_reference_does() {
    let ours_repo = support::new_git_repo();
    let theirs_repo = support::new_git_repo();
    for (is_ours, dir) in [(true, ours_repo.path()), (false, theirs_repo.path())] {
        let p = dir.to_str().expect("utf-8");
        let out = shell(
            is_ours,
            dir,
            &["configlist", p, "--", "autoinit=1", "--"],
            &[],
            b"",
        );
        assert!(out.status.success(), "{out:?}");
        let uuid = support::git(dir, &["config", "annex.uuid"]);
        assert_eq!(
            text(&out.stdout),
            format!("annex.uuid={}\ncore.gcrypt-id=\n", uuid.trim())
        );
        support::annex(dir, &["fsck", "--fast", "-q"]);
    }
}

#[test]
fn p2pstdio_answers_a_session_as_the_reference_does() {
    let dir = annexed_repo();
    let key = support::annex(dir.path(), &["lookupkey", "a"]);
    let key = key.trim();
    let p = dir.path().to_str().expect("utf-8");
    let input = format!(
        "VERSION 4\nCHECKPRESENT {key}\nCHECKPRESENT SHA256E-s1--00\nGET 0 a {key}\nSUCCESS\nGETTIMESTAMP\nFOO\n"
    );
    let o = shell(
        true,
        dir.path(),
        &["p2pstdio", p, CLIENT],
        &[],
        input.as_bytes(),
    );
    let t = shell(
        false,
        dir.path(),
        &["p2pstdio", p, CLIENT],
        &[],
        input.as_bytes(),
    );
    // The monotonic clocks' readings differ by the time between the runs.
    let clock = |s: String| {
        s.lines()
            .map(|l| {
                if l.starts_with("TIMESTAMP ") {
                    "TIMESTAMP N"
                } else {
                    l
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(clock(text(&o.stdout)), clock(text(&t.stdout)));
    assert_eq!(o.status.code(), t.status.code());
    assert!(text(&o.stdout).contains("DATA 2\na\nVALID\n"), "{o:?}");
    // With `--uuid`: the repository's is accepted, another refused.
    let uuid = support::git(dir.path(), &["config", "annex.uuid"]);
    same(
        dir.path(),
        &["p2pstdio", p, CLIENT, "--uuid", uuid.trim()],
        &[],
        b"VERSION 1\n",
    );
    same(
        dir.path(),
        &["p2pstdio", p, CLIENT, "--uuid", "not-this-one"],
        &[],
        b"VERSION 1\n",
    );
    same(dir.path(), &["p2pstdio", p], &[], b"");
    // Not a git-annex repository, not a repository at all.
    let plain = support::new_git_repo();
    let pp = plain.path().to_str().expect("utf-8");
    same(plain.path(), &["p2pstdio", pp, CLIENT], &[], b"");
    let none = tempfile::tempdir().expect("tempdir");
    let np = none.path().to_str().expect("utf-8");
    same(none.path(), &["p2pstdio", np, CLIENT], &[], b"");
    same(none.path(), &["configlist", np], &[], b"");
}

#[test]
fn the_restriction_variables_refuse_as_the_reference_does() {
    let dir = annexed_repo();
    let p = dir.path().to_str().expect("utf-8");
    let key = support::annex(dir.path(), &["lookupkey", "a"]);
    let remove = format!("VERSION 4\nREMOVE {}\nPUT  SHA256E-s2--x\n", key.trim());
    for var in ["GIT_ANNEX_SHELL_READONLY", "GIT_ANNEX_SHELL_APPENDONLY"] {
        same(
            dir.path(),
            &["p2pstdio", p, CLIENT],
            &[(var, "1")],
            remove.as_bytes(),
        );
        // Empty counts as unset.
        let check = format!("VERSION 4\nCHECKPRESENT {}\n", key.trim());
        same(
            dir.path(),
            &["p2pstdio", p, CLIENT],
            &[(var, "")],
            check.as_bytes(),
        );
    }
    same(
        dir.path(),
        &["dropkey", p, key.trim()],
        &[("GIT_ANNEX_SHELL_READONLY", "1")],
        b"",
    );
    same(
        dir.path(),
        &["dropkey", p, key.trim()],
        &[("GIT_ANNEX_SHELL_APPENDONLY", "1")],
        b"",
    );
    same(
        dir.path(),
        &["recvkey", p, key.trim()],
        &[("GIT_ANNEX_SHELL_READONLY", "1")],
        b"",
    );
    // Another directory than the one allowed.
    same(
        dir.path(),
        &["p2pstdio", p, CLIENT],
        &[("GIT_ANNEX_SHELL_DIRECTORY", "/nowhere/else")],
        b"",
    );
    same(
        dir.path(),
        &["p2pstdio", p, CLIENT],
        &[("GIT_ANNEX_SHELL_DIRECTORY", p)],
        b"VERSION 2\n",
    );
    // git's own commands: blocked when limited, and for another directory.
    same(
        dir.path(),
        &["git-upload-pack", p],
        &[("GIT_ANNEX_SHELL_LIMITED", "1")],
        b"",
    );
    same(
        dir.path(),
        &["git-upload-pack", p],
        &[("GIT_ANNEX_SHELL_DIRECTORY", "/nowhere/else")],
        b"",
    );
    // The content is still there after all of that.
    support::annex(dir.path(), &["fsck", "-q", "a"]);
}
