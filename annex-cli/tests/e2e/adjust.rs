//! `adjust` and `upgrade` against the reference: the same repositories
//! adjusted by each (every mode), the branches, commits and work trees
//! compared; `sync` in an adjusted branch (commits carried back, a
//! remote's commit merged in); each program going on in an adjusted
//! branch the other made; `upgrade` from versions 3 to 9 and on 10;
//! `init --version 8` and `9`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support;

/// Which `git-annex` answers: the reference or ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Ref,
    Ours,
}

/// A directory holding our binary as `git-annex`.
fn dropin_bin() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        for name in ["git-annex", "git-annex-shell"] {
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_git-annex-rs"), dir.path().join(name))
                .expect("symlink");
        }
        dir
    })
    .path()
}

/// `PATH` for a side: ours first with every directory holding another
/// `git-annex` taken out, or the reference's (as `support::hermetic`).
fn path_for(side: Side) -> Option<OsString> {
    match side {
        Side::Ref => None,
        Side::Ours => {
            let system = std::env::var_os("PATH").unwrap_or_default();
            let mut dirs: Vec<PathBuf> = vec![dropin_bin().to_path_buf()];
            dirs.extend(std::env::split_paths(&system).filter(|d| !d.join("git-annex").exists()));
            Some(std::env::join_paths(dirs).expect("PATH"))
        }
    }
}

/// `PROGRAM ARGS` in `dir` for `side`, with commit dates fixed at `date`
/// (so that both sides make the same commits).
fn run_at(side: Side, dir: &Path, date: u64, program: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(program);
    support::hermetic(&mut cmd).current_dir(dir).args(args);
    if let Some(p) = path_for(side) {
        cmd.env("PATH", p);
    }
    let d = format!("@{date} +0000");
    cmd.env("GIT_AUTHOR_DATE", &d).env("GIT_COMMITTER_DATE", &d);
    support::output_with_stdin(cmd, None)
}

fn run(side: Side, dir: &Path, program: &str, args: &[&str]) -> Output {
    run_at(side, dir, 1_700_000_000, program, args)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `git annex ARGS` for `side` (as `git-annex`, so errors name it so).
fn annex(side: Side, dir: &Path, args: &[&str]) -> Output {
    let mut full = vec!["annex"];
    full.extend_from_slice(args);
    run(side, dir, "git", &full)
}

fn git(side: Side, dir: &Path, args: &[&str]) -> String {
    ok(run(side, dir, "git", args), &format!("git {args:?}"))
}

/// A repository made by the reference: `f` and `d/h` annexed, `g` in
/// git, `x` annexed and executable, `m` annexed with its content dropped;
/// one commit at a fixed date.
fn sample_repo() -> tempfile::TempDir {
    let dir = support::new_git_repo();
    let p = dir.path();
    ok(annex(Side::Ref, p, &["init", "-q"]), "init");
    std::fs::create_dir(p.join("d")).expect("mkdir");
    for (name, content) in [
        ("f", "hi\n"),
        ("g", "in git\n"),
        ("d/h", "deep\n"),
        ("m", "gone\n"),
        ("x", "#!/bin/sh\n"),
    ] {
        std::fs::write(p.join(name), content).expect("write");
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p.join("x"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    ok(
        annex(Side::Ref, p, &["add", "-q", "f", "d", "m", "x"]),
        "add",
    );
    git(Side::Ref, p, &["add", "g"]);
    git(Side::Ref, p, &["commit", "-q", "-m", "one"]);
    ok(annex(Side::Ref, p, &["drop", "-q", "--force", "m"]), "drop");
    dir
}

/// The refs of a repository but its `git-annex` branch and ours of the
/// work tree's last index (`REF SHA` lines).
fn branches(dir: &Path) -> String {
    git(Side::Ref, dir, &["show-ref"])
        .lines()
        .filter(|l| !l.contains("git-annex") && !l.contains("refs/annex/"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The work tree as a listing: each file's kind, mode and content or
/// link target.
fn tree_listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let e = e.expect("entry");
            let p = e.path();
            if p.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            let rel = p.strip_prefix(dir).expect("under").display().to_string();
            let md = std::fs::symlink_metadata(&p).expect("lstat");
            if md.is_dir() {
                stack.push(p);
            } else if md.file_type().is_symlink() {
                out.push(format!(
                    "{rel} -> {}",
                    std::fs::read_link(&p).expect("link").display()
                ));
            } else {
                use std::os::unix::fs::PermissionsExt;
                let exe = md.permissions().mode() & 0o100 != 0;
                out.push(format!(
                    "{rel} {exe} {:?}",
                    std::fs::read(&p).map(|b| text(&b)).unwrap_or_default()
                ));
            }
        }
    }
    out.sort();
    out
}

fn status(side: Side, dir: &Path) -> String {
    git(side, dir, &["status", "--porcelain"])
}

#[test]
fn every_mode_makes_the_references_adjusted_branch() {
    for args in [
        &["--unlock"][..],
        &["--lock"],
        &["--fix"],
        &["--hide-missing"],
        &["--hide-missing", "--unlock"],
        &["--unlock", "--hide-missing"],
        &["--unlock-present"],
        &["--unlock", "--lock"],
    ] {
        let theirs = sample_repo();
        let mine = sample_repo();
        let mut full = vec!["adjust"];
        full.extend_from_slice(args);
        let t = annex(Side::Ref, theirs.path(), &full);
        let o = annex(Side::Ours, mine.path(), &full);
        assert_eq!(o.status.code(), t.status.code(), "{args:?}: {o:?} vs {t:?}");
        assert_eq!(text(&o.stdout), text(&t.stdout), "{args:?}");
        assert!(
            text(&o.stderr).contains("Switched to branch 'adjusted/main("),
            "{args:?}: {o:?}"
        );
        assert_eq!(branches(mine.path()), branches(theirs.path()), "{args:?}");
        assert_eq!(
            git(Side::Ours, mine.path(), &["symbolic-ref", "HEAD"]),
            git(Side::Ref, theirs.path(), &["symbolic-ref", "HEAD"]),
            "{args:?}"
        );
        assert_eq!(
            tree_listing(mine.path()),
            tree_listing(theirs.path()),
            "{args:?}"
        );
        assert_eq!(status(Side::Ours, mine.path()), "", "{args:?}");
        // Asked again in the same adjusted branch: nothing to do.
        let t = annex(Side::Ref, theirs.path(), &full);
        let o = annex(Side::Ours, mine.path(), &full);
        assert_eq!(o.status.code(), t.status.code(), "{args:?} again");
        assert_eq!(text(&o.stdout), text(&t.stdout), "{args:?} again");
        assert_eq!(
            branches(mine.path()),
            branches(theirs.path()),
            "{args:?} again"
        );
    }
}

#[test]
fn adjust_refusals_match_the_reference() {
    // The adjusted branch exists already.
    let theirs = sample_repo();
    let mine = sample_repo();
    for (side, dir) in [(Side::Ref, theirs.path()), (Side::Ours, mine.path())] {
        ok(annex(side, dir, &["adjust", "--unlock"]), "adjust");
        ok(annex(side, dir, &["adjust", "--lock"]), "adjust --lock");
    }
    let t = annex(Side::Ref, theirs.path(), &["adjust", "--unlock"]);
    let o = annex(Side::Ours, mine.path(), &["adjust", "--unlock"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(o.status.code(), t.status.code());
    assert_eq!(text(&o.stdout), text(&t.stdout));
    assert_eq!(text(&o.stderr), text(&t.stderr));
    assert_eq!(branches(mine.path()), branches(theirs.path()));
    // --force makes it again.
    let t = annex(Side::Ref, theirs.path(), &["adjust", "--unlock", "--force"]);
    let o = annex(Side::Ours, mine.path(), &["adjust", "--unlock", "--force"]);
    assert_eq!(o.status.code(), t.status.code(), "{o:?} vs {t:?}");
    assert_eq!(branches(mine.path()), branches(theirs.path()));

    // HEAD detached.
    let theirs = sample_repo();
    let mine = sample_repo();
    git(Side::Ref, theirs.path(), &["checkout", "-q", "--detach"]);
    git(Side::Ref, mine.path(), &["checkout", "-q", "--detach"]);
    let t = annex(Side::Ref, theirs.path(), &["adjust", "--unlock"]);
    let o = annex(Side::Ours, mine.path(), &["adjust", "--unlock"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(o.status.code(), t.status.code());
    assert_eq!(text(&o.stdout), text(&t.stdout));
    assert_eq!(text(&o.stderr), text(&t.stderr));

    // A branch with no commits yet.
    let theirs = support::new_git_repo();
    let mine = support::new_git_repo();
    ok(annex(Side::Ref, theirs.path(), &["init", "-q"]), "init");
    ok(annex(Side::Ref, mine.path(), &["init", "-q"]), "init");
    let t = annex(Side::Ref, theirs.path(), &["adjust", "--unlock"]);
    let o = annex(Side::Ours, mine.path(), &["adjust", "--unlock"]);
    assert_eq!(o.status.code(), t.status.code());
    assert_eq!(text(&o.stdout), text(&t.stdout));
    assert_eq!(text(&o.stderr), text(&t.stderr));

    // A bare repository.
    let bare = tempfile::tempdir().expect("temp dir");
    git(Side::Ref, bare.path(), &["init", "-q", "--bare"]);
    ok(annex(Side::Ref, bare.path(), &["init", "-q"]), "init");
    let t = annex(Side::Ref, bare.path(), &["adjust", "--unlock"]);
    let o = annex(Side::Ours, bare.path(), &["adjust", "--unlock"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(o.status.code(), t.status.code());
    assert_eq!(text(&o.stderr), text(&t.stderr));

    // No mode: refused by both.
    let o = annex(Side::Ours, mine.path(), &["adjust"]);
    let t = annex(Side::Ref, theirs.path(), &["adjust"]);
    assert_eq!(o.status.code(), t.status.code());
}

/// In the adjusted branch: `n` added, `f` changed, `g` removed, committed
/// and synced locally by `side`, at a fixed date.
fn commit_and_sync(side: Side, dir: &Path, date: u64) {
    std::fs::write(dir.join("n"), "new\n").expect("write");
    std::fs::write(dir.join("f"), "changed\n").expect("write");
    ok(annex(side, dir, &["add", "-q", "n", "f"]), "add");
    ok(run_at(side, dir, date, "git", &["rm", "-q", "g"]), "git rm");
    ok(
        run_at(side, dir, date, "git", &["commit", "-q", "-m", "two"]),
        "commit",
    );
    let out = run_at(
        side,
        dir,
        date,
        "git",
        &[
            "annex",
            "sync",
            "--no-push",
            "--no-pull",
            "--no-commit",
            "--no-resolvemerge",
            "--no-content",
        ],
    );
    ok(out, "sync");
}

#[test]
fn sync_in_an_adjusted_branch_carries_commits_back_as_the_reference() {
    for mode in ["--unlock", "--hide-missing", "--unlock-present", "--fix"] {
        let theirs = sample_repo();
        let mine = sample_repo();
        ok(annex(Side::Ref, theirs.path(), &["adjust", mode]), "adjust");
        ok(annex(Side::Ours, mine.path(), &["adjust", mode]), "adjust");
        commit_and_sync(Side::Ref, theirs.path(), 1_700_000_100);
        commit_and_sync(Side::Ours, mine.path(), 1_700_000_100);
        assert_eq!(branches(mine.path()), branches(theirs.path()), "{mode}");
        assert_eq!(
            git(Side::Ours, mine.path(), &["ls-tree", "-r", "main"]),
            git(Side::Ref, theirs.path(), &["ls-tree", "-r", "main"]),
            "{mode}"
        );
        assert_eq!(
            tree_listing(mine.path()),
            tree_listing(theirs.path()),
            "{mode}"
        );
        assert_eq!(status(Side::Ours, mine.path()), "", "{mode}");
    }
}

#[test]
fn each_program_goes_on_in_an_adjusted_branch_the_other_made() {
    // All by the reference, to compare with.
    let all_ref = sample_repo();
    ok(
        annex(Side::Ref, all_ref.path(), &["adjust", "--unlock"]),
        "adjust",
    );
    commit_and_sync(Side::Ref, all_ref.path(), 1_700_000_200);
    // Adjusted by us, worked in by the reference.
    let a = sample_repo();
    ok(
        annex(Side::Ours, a.path(), &["adjust", "--unlock"]),
        "adjust",
    );
    commit_and_sync(Side::Ref, a.path(), 1_700_000_200);
    // Adjusted by the reference, worked in by us.
    let b = sample_repo();
    ok(
        annex(Side::Ref, b.path(), &["adjust", "--unlock"]),
        "adjust",
    );
    commit_and_sync(Side::Ours, b.path(), 1_700_000_200);
    for (what, dir) in [
        ("ours then the reference", a.path()),
        ("the reference then ours", b.path()),
    ] {
        assert_eq!(branches(dir), branches(all_ref.path()), "{what}");
        assert_eq!(tree_listing(dir), tree_listing(all_ref.path()), "{what}");
        assert_eq!(status(Side::Ref, dir), "", "{what}");
        // The reference finds nothing wrong.
        ok(
            annex(Side::Ref, dir, &["fsck", "-q", "f", "n", "x", "d"]),
            "fsck",
        );
    }
}

#[test]
fn sync_merges_a_remotes_commit_into_the_adjusted_branch() {
    let origin = sample_repo();
    let clone = |side: Side| {
        let d = tempfile::tempdir().expect("temp dir");
        git(
            side,
            d.path(),
            &["clone", "-q", &origin.path().display().to_string(), "c"],
        );
        let c = d.path().join("c");
        ok(annex(side, &c, &["init", "-q", "clone"]), "init");
        ok(annex(side, &c, &["adjust", "--unlock"]), "adjust");
        d
    };
    let theirs = clone(Side::Ref);
    let mine = clone(Side::Ours);
    // The origin moves on.
    std::fs::write(origin.path().join("o"), "from origin\n").expect("write");
    ok(annex(Side::Ref, origin.path(), &["add", "-q", "o"]), "add");
    ok(
        run_at(
            Side::Ref,
            origin.path(),
            1_700_000_300,
            "git",
            &["commit", "-q", "-m", "three"],
        ),
        "commit",
    );
    for (side, d) in [(Side::Ref, theirs.path()), (Side::Ours, mine.path())] {
        let c = d.join("c");
        ok(
            run_at(
                side,
                &c,
                1_700_000_400,
                "git",
                &["annex", "sync", "--no-push", "--content"],
            ),
            "sync",
        );
    }
    let (t, m) = (theirs.path().join("c"), mine.path().join("c"));
    let heads = |dir: &Path| {
        branches(dir)
            .lines()
            .filter(|l| l.contains("refs/heads/") || l.contains("refs/basis/"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(heads(&m), heads(&t));
    assert_eq!(tree_listing(&m), tree_listing(&t));
    assert_eq!(status(Side::Ours, &m), "");
    assert_eq!(
        std::fs::read_to_string(m.join("o")).expect("o"),
        "from origin\n"
    );
}

/// A repository the reference made at version 8, set back to `version`
/// as git-annex of that version left it (no smudge filter before 6, no
/// post-checkout and post-merge hooks before 7, the dotfiles line before
/// 8, an old keys database).
fn old_repo(version: u32) -> tempfile::TempDir {
    let dir = support::new_git_repo();
    let p = dir.path();
    ok(
        annex(Side::Ref, p, &["init", "-q", "--version", "8"]),
        "init --version 8",
    );
    git(
        Side::Ref,
        p,
        &["config", "annex.version", &version.to_string()],
    );
    if version < 6 {
        git(Side::Ref, p, &["config", "--unset", "filter.annex.smudge"]);
        git(Side::Ref, p, &["config", "--unset", "filter.annex.clean"]);
        for f in ["sentinal", "sentinal.cache"] {
            let _ = std::fs::remove_file(p.join(".git/annex").join(f));
        }
    }
    if version < 7 {
        for h in ["post-checkout", "post-merge"] {
            std::fs::remove_file(p.join(".git/hooks").join(h)).expect("rm hook");
        }
    }
    if version < 8 {
        std::fs::write(
            p.join(".git/info/attributes"),
            "* filter=annex\n.* !filter\n",
        )
        .expect("write");
        std::fs::create_dir_all(p.join(".git/annex/keys")).expect("mkdir");
        std::fs::write(p.join(".git/annex/keys.lck"), "").expect("write");
    }
    dir
}

/// What an upgrade leaves that the two must agree on.
fn upgraded_state(dir: &Path) -> String {
    let p = dir;
    let mut s = git(
        Side::Ref,
        p,
        &["config", "--get-regexp", "^(annex\\.version|filter\\.)"],
    );
    let log = std::fs::read_to_string(p.join(".git/annex/upgrade.log")).unwrap_or_default();
    // The versions logged, not the times.
    for l in log.lines() {
        s.push_str(l.split(' ').next().unwrap_or_default());
        s.push('\n');
    }
    for h in ["post-checkout", "post-merge"] {
        s.push_str(&format!("{h} {}\n", p.join(".git/hooks").join(h).exists()));
    }
    s.push_str(&std::fs::read_to_string(p.join(".git/info/attributes")).unwrap_or_default());
    for f in ["keys", "keys.lck", "sentinal", "sentinal.cache"] {
        s.push_str(&format!("{f} {}\n", p.join(".git/annex").join(f).exists()));
    }
    s
}

#[test]
fn upgrade_from_versions_3_to_9_as_the_reference() {
    for version in 3..=9 {
        for args in [
            &[][..],
            &["--force"],
            &["--json"],
            &["--quiet"],
            &["--autoonly"],
        ] {
            let theirs = old_repo(version);
            let mine = old_repo(version);
            let mut full = vec!["upgrade"];
            full.extend_from_slice(args);
            let t = annex(Side::Ref, theirs.path(), &full);
            let o = annex(Side::Ours, mine.path(), &full);
            let what = format!("v{version} {args:?}");
            assert_eq!(o.status.code(), t.status.code(), "{what}: {o:?} vs {t:?}");
            assert_eq!(text(&o.stdout), text(&t.stdout), "{what}");
            assert_eq!(text(&o.stderr), text(&t.stderr), "{what}");
            assert_eq!(
                upgraded_state(mine.path()),
                upgraded_state(theirs.path()),
                "{what}"
            );
            // And again: a version 9 reached now is held back a year.
            let t = annex(Side::Ref, theirs.path(), &full);
            let o = annex(Side::Ours, mine.path(), &full);
            assert_eq!(text(&o.stdout), text(&t.stdout), "{what} again");
            assert_eq!(text(&o.stderr), text(&t.stderr), "{what} again");
            assert_eq!(
                upgraded_state(mine.path()),
                upgraded_state(theirs.path()),
                "{what} again"
            );
        }
    }
}

#[test]
fn upgrade_of_a_version_10_repository_does_nothing_as_the_reference() {
    for args in [&[][..], &["--json"], &["--quiet"]] {
        let theirs = sample_repo();
        let mine = sample_repo();
        let mut full = vec!["upgrade"];
        full.extend_from_slice(args);
        let t = annex(Side::Ref, theirs.path(), &full);
        let o = annex(Side::Ours, mine.path(), &full);
        assert_eq!(o.status.code(), t.status.code(), "{args:?}");
        assert_eq!(text(&o.stdout), text(&t.stdout), "{args:?}");
        assert_eq!(text(&o.stderr), text(&t.stderr), "{args:?}");
        assert_eq!(
            upgraded_state(mine.path()),
            upgraded_state(theirs.path()),
            "{args:?}"
        );
    }
}

#[test]
fn init_at_versions_8_and_9_as_the_reference() {
    for v in ["8", "9", "7", "10", "11"] {
        let theirs = support::new_git_repo();
        let mine = support::new_git_repo();
        let t = annex(Side::Ref, theirs.path(), &["init", "-q", "--version", v]);
        let o = annex(Side::Ours, mine.path(), &["init", "-q", "--version", v]);
        assert_eq!(o.status.code(), t.status.code(), "{v}: {o:?} vs {t:?}");
        if t.status.success() {
            assert_eq!(
                upgraded_state(mine.path()),
                upgraded_state(theirs.path()),
                "{v}"
            );
            // The reference works in the repository we made.
            ok(annex(Side::Ref, mine.path(), &["info", "-q"]), "info");
        }
    }
    // A version 8 repository we made upgrades as the reference's does.
    let theirs = support::new_git_repo();
    let mine = support::new_git_repo();
    ok(
        annex(Side::Ref, theirs.path(), &["init", "-q", "--version", "8"]),
        "init",
    );
    ok(
        annex(Side::Ours, mine.path(), &["init", "-q", "--version", "8"]),
        "init",
    );
    ok(
        annex(Side::Ref, theirs.path(), &["upgrade", "--force"]),
        "upgrade",
    );
    ok(
        annex(Side::Ref, mine.path(), &["upgrade", "--force"]),
        "upgrade",
    );
    assert_eq!(upgraded_state(mine.path()), upgraded_state(theirs.path()));
}

#[test]
fn clean_filter_keeps_the_backend_of_an_annexed_file() {
    // Regression: an unlocked file annexed with MD5E (by .gitattributes)
    // looked modified to git as soon as it ran the clean filter, which
    // hashed it with the default backend.
    for side in [Side::Ref, Side::Ours] {
        let dir = support::new_git_repo();
        let p = dir.path();
        ok(annex(side, p, &["init", "-q"]), "init");
        std::fs::write(p.join(".gitattributes"), "* annex.backend=MD5E\n").expect("write");
        std::fs::write(p.join("f"), "content\n").expect("write");
        git(side, p, &["add", ".gitattributes"]);
        ok(
            annex(side, p, &["add", "-q", "-c", "annex.addunlocked=true", "f"]),
            "add",
        );
        git(side, p, &["commit", "-q", "-m", "one"]);
        let staged = git(side, p, &["ls-files", "-s", "f"]);
        // Touched: git cleans it again.
        std::fs::write(p.join("f"), "content\n").expect("write");
        git(side, p, &["add", "f"]);
        assert_eq!(git(side, p, &["ls-files", "-s", "f"]), staged, "{side:?}");
        assert_eq!(status(side, p), "", "{side:?}");
    }
}

#[test]
fn any_command_upgrades_an_old_repository_silently_as_the_reference() {
    for version in 3..=9 {
        let theirs = old_repo(version);
        let mine = old_repo(version);
        let t = annex(Side::Ref, theirs.path(), &["find"]);
        let o = annex(Side::Ours, mine.path(), &["find"]);
        assert_eq!(
            o.status.code(),
            t.status.code(),
            "v{version}: {o:?} vs {t:?}"
        );
        assert_eq!(text(&o.stdout), text(&t.stdout), "v{version}");
        assert_eq!(
            upgraded_state(mine.path()),
            upgraded_state(theirs.path()),
            "v{version}"
        );
    }
    // Made at version 9 (no upgrade to hold back): straight to 10.
    let theirs = support::new_git_repo();
    let mine = support::new_git_repo();
    ok(
        annex(Side::Ref, theirs.path(), &["init", "-q", "--version", "9"]),
        "init",
    );
    ok(
        annex(Side::Ref, mine.path(), &["init", "-q", "--version", "9"]),
        "init",
    );
    ok(annex(Side::Ref, theirs.path(), &["find"]), "find");
    ok(annex(Side::Ours, mine.path(), &["find"]), "find");
    assert_eq!(upgraded_state(mine.path()), upgraded_state(theirs.path()));
    assert!(upgraded_state(mine.path()).contains("annex.version 10"));
}

#[test]
fn sync_merges_a_diverged_remote_into_the_adjusted_branch_as_the_reference() {
    let origin = sample_repo();
    let clone = |side: Side| {
        let d = tempfile::tempdir().expect("temp dir");
        git(
            side,
            d.path(),
            &["clone", "-q", &origin.path().display().to_string(), "c"],
        );
        let c = d.path().join("c");
        ok(annex(side, &c, &["init", "-q", "clone"]), "init");
        ok(annex(side, &c, &["adjust", "--unlock"]), "adjust");
        std::fs::write(c.join("l"), "local\n").expect("write");
        ok(annex(side, &c, &["add", "-q", "l"]), "add");
        ok(
            run_at(
                side,
                &c,
                1_700_000_500,
                "git",
                &["commit", "-q", "-m", "local"],
            ),
            "commit",
        );
        d
    };
    let theirs = clone(Side::Ref);
    let mine = clone(Side::Ours);
    std::fs::write(origin.path().join("o"), "from origin\n").expect("write");
    ok(annex(Side::Ref, origin.path(), &["add", "-q", "o"]), "add");
    ok(
        run_at(
            Side::Ref,
            origin.path(),
            1_700_000_600,
            "git",
            &["commit", "-q", "-m", "three"],
        ),
        "commit",
    );
    for (side, d) in [(Side::Ref, theirs.path()), (Side::Ours, mine.path())] {
        ok(
            run_at(
                side,
                &d.join("c"),
                1_700_000_700,
                "git",
                &["annex", "sync", "--no-push", "--content"],
            ),
            "sync",
        );
    }
    let (t, m) = (theirs.path().join("c"), mine.path().join("c"));
    // The same history (the same commits but for the clones' own local
    // commit's author identity, which is the same here: the merge made
    // at the same fixed date).
    let shape = |dir: &Path| {
        git(
            Side::Ref,
            dir,
            &["log", "--format=%s %T", "main", "adjusted/main(unlocked)"],
        )
    };
    assert_eq!(shape(&m), shape(&t));
    assert_eq!(branches(&m), branches(&t));
    assert_eq!(tree_listing(&m), tree_listing(&t));
    assert_eq!(status(Side::Ours, &m), "");
}

#[test]
fn init_in_a_clone_of_an_adjusted_branch_sets_up_its_basis_as_the_reference() {
    for adjusted_by in [Side::Ref, Side::Ours] {
        let origin = sample_repo();
        ok(
            annex(adjusted_by, origin.path(), &["adjust", "--unlock"]),
            "adjust",
        );
        let clone = |side: Side| {
            let d = tempfile::tempdir().expect("temp dir");
            git(
                side,
                d.path(),
                &["clone", "-q", &origin.path().display().to_string(), "c"],
            );
            ok(annex(side, &d.path().join("c"), &["init", "-q"]), "init");
            d
        };
        let theirs = clone(Side::Ref);
        let mine = clone(Side::Ours);
        let (t, m) = (theirs.path().join("c"), mine.path().join("c"));
        assert_eq!(branches(&m), branches(&t), "{adjusted_by:?}");
        assert!(branches(&m).contains("refs/basis/adjusted/main(unlocked)"));
        // And the other program goes on there.
        commit_and_sync(Side::Ref, &m, 1_700_000_800);
        commit_and_sync(Side::Ref, &t, 1_700_000_800);
        assert_eq!(branches(&m), branches(&t), "{adjusted_by:?}");
    }
}

/// `--hide-unwanted`: the files this repository's preferred content does
/// not want hidden, combined with the other options in the order given as
/// the reference combines them; the branches, the branch checked out and
/// the work tree the reference's. Without preferred content nothing is
/// hidden. After the preferred content changed, `sync` adjusts the branch
/// again as the reference does.
#[test]
fn hide_unwanted_makes_the_references_adjusted_branch() {
    let wanted = |side: Side, d: &Path, expr: &str| {
        ok(annex(side, d, &["wanted", "here", expr]), "wanted");
    };
    for (expr, args) in [
        (Some("exclude=f and exclude=d/*"), &["--hide-unwanted"][..]),
        (
            Some("exclude=f and exclude=d/*"),
            &["--hide-unwanted", "--unlock"],
        ),
        (
            Some("exclude=f and exclude=d/*"),
            &["--unlock", "--hide-unwanted"],
        ),
        (Some("exclude=f"), &["--hide-missing", "--hide-unwanted"]),
        (Some("exclude=f"), &["--hide-unwanted", "--hide-missing"]),
        (Some("exclude=f"), &["--fix", "--hide-unwanted", "--lock"]),
        (
            Some("exclude=f"),
            &["--hide-missing", "--lock", "--hide-unwanted"],
        ),
        (None, &["--hide-unwanted"]),
    ] {
        let theirs = sample_repo();
        let mine = sample_repo();
        if let Some(e) = expr {
            wanted(Side::Ref, theirs.path(), e);
            wanted(Side::Ref, mine.path(), e);
        }
        let mut full = vec!["adjust"];
        full.extend_from_slice(args);
        let t = annex(Side::Ref, theirs.path(), &full);
        let o = annex(Side::Ours, mine.path(), &full);
        assert_eq!(o.status.code(), t.status.code(), "{args:?}: {o:?} vs {t:?}");
        assert_eq!(text(&o.stdout), text(&t.stdout), "{args:?}");
        assert_eq!(branches(mine.path()), branches(theirs.path()), "{args:?}");
        assert_eq!(
            git(Side::Ours, mine.path(), &["symbolic-ref", "HEAD"]),
            git(Side::Ref, theirs.path(), &["symbolic-ref", "HEAD"]),
            "{args:?}"
        );
        assert_eq!(
            tree_listing(mine.path()),
            tree_listing(theirs.path()),
            "{args:?}"
        );
        assert_eq!(status(Side::Ours, mine.path()), "", "{args:?}");
    }
    // The preferred content changes; sync adjusts again.
    let theirs = sample_repo();
    let mine = sample_repo();
    for (side, d) in [(Side::Ref, theirs.path()), (Side::Ours, mine.path())] {
        wanted(Side::Ref, d, "exclude=f");
        ok(annex(side, d, &["adjust", "--hide-unwanted"]), "adjust");
        assert!(!d.join("f").exists(), "f hidden");
        wanted(Side::Ref, d, "exclude=x");
        commit_and_sync(side, d, 1_700_000_100);
    }
    assert_eq!(branches(mine.path()), branches(theirs.path()));
    assert_eq!(tree_listing(mine.path()), tree_listing(theirs.path()));
    assert!(mine.path().join("f").exists() && !mine.path().join("x").exists());
    assert_eq!(status(Side::Ours, mine.path()), "");
}

/// Regression: a directory whose files were all hidden was left out of the
/// adjusted tree; the reference keeps it as an empty tree (so the adjusted
/// commit differed from the reference's).
#[test]
fn hide_missing_keeps_an_emptied_directory_as_the_reference() {
    let theirs = sample_repo();
    let mine = sample_repo();
    for (side, d) in [(Side::Ref, theirs.path()), (Side::Ours, mine.path())] {
        ok(
            annex(Side::Ref, d, &["drop", "-q", "--force", "d/h"]),
            "drop",
        );
        ok(annex(side, d, &["adjust", "--hide-missing"]), "adjust");
    }
    assert_eq!(branches(mine.path()), branches(theirs.path()));
    assert!(
        git(Side::Ours, mine.path(), &["ls-tree", "HEAD"]).contains("\td\n"),
        "d kept"
    );
    assert_eq!(tree_listing(mine.path()), tree_listing(theirs.path()));
    assert_eq!(status(Side::Ours, mine.path()), "");
}

/// The state compared after a conflicted merge: the original branch's
/// tree, the adjusted branch's, the merge commit's parents and message,
/// and the work tree.
fn merged_state(side: Side, d: &Path) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{:?}",
        git(side, d, &["ls-tree", "-r", "main"]),
        git(side, d, &["ls-tree", "-r", "HEAD"]),
        git(side, d, &["log", "-1", "--format=%P", "main"])
            .split_whitespace()
            .count(),
        git(side, d, &["log", "-1", "--format=%s", "main"]),
        tree_listing(d),
    )
}

/// Regression: a conflicted merge into an adjusted branch failed ("nothing
/// merged"); the reference resolves it as `resolvemerge` does, in a
/// temporary work tree, and adjusts the result. Now both leave the same
/// original and adjusted branches (variant files for the annexed file
/// changed on both sides, the other files kept) and work tree.
#[test]
fn a_conflicted_merge_into_an_adjusted_branch_is_resolved_as_the_reference() {
    conflicted_merge_into_adjusted(&[]);
}

/// Regression: with `--no-resolvemerge` a conflicted merge into an
/// adjusted branch failed, naming the files, and git was not told
/// `merge.directoryRenames=false`; the reference resolves the merge made
/// in its temporary work tree all the same (the option concerns the merge
/// into the work tree, a fast-forward there), with that setting. Now ours
/// does too: the same branches, work tree and output.
#[test]
fn no_resolvemerge_still_resolves_a_merge_into_an_adjusted_branch_as_the_reference() {
    conflicted_merge_into_adjusted(&["--no-resolvemerge"]);
}

/// A conflicted merge into an adjusted branch by `sync EXTRA`, in each
/// mode: both sides leave the same branches and work tree, and show the
/// same output from the pull to the end of the merge (with the
/// reference's `(recording state in git...)` once the conflicts are
/// resolved; it was missing from ours).
fn conflicted_merge_into_adjusted(extra: &[&str]) {
    for mode in ["--unlock", "--hide-missing"] {
        let origin = sample_repo();
        let o = origin.path();
        let tmp = tempfile::tempdir().expect("tmp");
        for name in ["theirs", "ours"] {
            git(
                Side::Ref,
                tmp.path(),
                &["clone", "-q", o.to_str().expect("utf-8"), name],
            );
            let c = tmp.path().join(name);
            ok(annex(Side::Ref, &c, &["init", "-q", name]), "init");
            ok(annex(Side::Ref, &c, &["get", "-q", "f", "d/h"]), "get");
            ok(annex(Side::Ref, &c, &["adjust", mode]), "adjust");
        }
        // The origin changes f and d/h.
        ok(annex(Side::Ref, o, &["unlock", "-q", "f", "d/h"]), "unlock");
        std::fs::write(o.join("f"), "origin's f\n").expect("write");
        std::fs::write(o.join("d/h"), "origin's h\n").expect("write");
        ok(annex(Side::Ref, o, &["add", "-q", "f", "d/h"]), "add");
        ok(
            run_at(
                Side::Ref,
                o,
                1_700_000_050,
                "git",
                &["commit", "-q", "-m", "origin"],
            ),
            "commit",
        );
        let mut states = Vec::new();
        let mut shown = Vec::new();
        for (side, name) in [(Side::Ref, "theirs"), (Side::Ours, "ours")] {
            let c = tmp.path().join(name);
            for f in ["f", "d/h"] {
                let p = c.join(f);
                let _ = std::fs::remove_file(&p);
                std::fs::write(&p, format!("clone's {f}\n")).expect("write");
            }
            ok(annex(side, &c, &["add", "-q", "f", "d/h"]), "add");
            ok(
                run_at(
                    side,
                    &c,
                    1_700_000_100,
                    "git",
                    &["commit", "-q", "-m", "clone"],
                ),
                "commit",
            );
            let mut args = vec!["annex", "sync", "--no-push", "--no-content"];
            args.extend_from_slice(extra);
            let out = run_at(side, &c, 1_700_000_200, "git", &args);
            assert!(out.status.success(), "{mode} {side:?}: {out:?}");
            assert!(
                text(&out.stdout).contains("Merge conflict was automatically resolved"),
                "{mode} {side:?}: {out:?}"
            );
            assert_eq!(status(side, &c), "", "{mode} {side:?}");
            states.push(merged_state(side, &c));
            shown.push(merge_section(&text(&out.stdout)));
        }
        assert_eq!(
            states[1], states[0],
            "{mode}: ours (left), reference (right)"
        );
        assert!(
            shown[0].contains("(recording state in git...)"),
            "{}",
            shown[0]
        );
        assert_eq!(
            shown[1], shown[0],
            "{mode} {extra:?}: ours (left), reference (right)"
        );
        assert!(states[1].contains("f.variant-"), "{}", states[1]);
        assert!(states[1].contains("\tg\n"), "{}", states[1]);
    }
}

/// `sync` alone (nothing to commit, no remote), at a fixed date.
fn sync_only(side: Side, dir: &Path, date: u64) {
    let out = run_at(
        side,
        dir,
        date,
        "git",
        &["annex", "sync", "--no-push", "--no-pull", "--no-content"],
    );
    ok(out, "sync");
}

fn shows(listing: &[String], file: &str) -> bool {
    listing.iter().any(|l| l.starts_with(&format!("{file} ")))
}

/// Regression: an unlocked file's content dropped by us in an adjusted
/// branch hiding missing files was not logged in `.git/annex/adjust.log`,
/// so the reference's next `sync` took the branch for current and kept
/// showing the file. Each
/// implementation's drop is now seen by the other's `sync`, and the result
/// is the reference's own.
#[test]
fn a_drop_in_a_hide_missing_branch_is_refreshed_by_either_sync() {
    let run = |dropper: Side, syncer: Side| {
        let d = sample_repo();
        let p = d.path();
        ok(
            annex(Side::Ref, p, &["adjust", "--unlock", "--hide-missing"]),
            "adjust",
        );
        // A first sync: the branch refreshed, and logged so.
        sync_only(Side::Ref, p, 1_700_000_100);
        assert!(shows(&tree_listing(p), "f"), "f present and shown");
        ok(annex(dropper, p, &["drop", "--force", "f"]), "drop");
        assert!(
            shows(&tree_listing(p), "f"),
            "not refreshed by the drop itself"
        );
        sync_only(syncer, p, 1_700_000_200);
        (tree_listing(p), branches(p), d)
    };
    let (want, want_branches, _d) = run(Side::Ref, Side::Ref);
    assert!(!shows(&want, "f"), "{want:?}");
    for (dropper, syncer) in [(Side::Ours, Side::Ref), (Side::Ref, Side::Ours)] {
        let (got, got_branches, _d) = run(dropper, syncer);
        assert_eq!(got, want, "{dropper:?} dropped, {syncer:?} synced");
        assert_eq!(
            got_branches, want_branches,
            "{dropper:?} dropped, {syncer:?} synced"
        );
    }
}

/// `annex.adjustedbranchrefresh=1`: the command that drops an unlocked
/// file's content refreshes the adjusted branch when it ends, as the
/// reference's does.
#[test]
fn adjustedbranchrefresh_refreshes_after_the_drop_as_the_reference() {
    let run = |side: Side| {
        let d = sample_repo();
        let p = d.path();
        ok(
            annex(Side::Ref, p, &["adjust", "--unlock", "--hide-missing"]),
            "adjust",
        );
        let out = annex(
            side,
            p,
            &[
                "drop",
                "--force",
                "f",
                "-c",
                "annex.adjustedbranchrefresh=1",
            ],
        );
        let out = (text(&out.stdout), out.status.code());
        (out, tree_listing(p), branches(p), d)
    };
    let (t_out, t_tree, t_branches, _t) = run(Side::Ref);
    let (o_out, o_tree, o_branches, _o) = run(Side::Ours);
    assert!(!shows(&t_tree, "f"), "{t_tree:?}");
    assert_eq!(o_out, t_out);
    assert_eq!(o_tree, t_tree);
    assert_eq!(o_branches, t_branches);
}

/// The part of `sync`'s output from `pull` to the end of the merge into
/// the adjusted branch (its `ok`).
fn merge_section(stdout: &str) -> String {
    let start = stdout.find("pull ").unwrap_or(0);
    let rest = &stdout[start..];
    let end = rest
        .find("(Merging into adjusted branch...)")
        .and_then(|i| rest[i..].find("\nok\n").map(|j| i + j + 4))
        .unwrap_or(rest.len());
    rest[..end].to_string()
}

/// Regression: a merge into an adjusted branch showed no output of git's
/// (`(Merging into main...) (Merging into adjusted branch...) ok`, the
/// line broken before the first note); the reference shows each note,
/// then git's merge output on the lines after it (`Updating
/// ...`/`Fast-forward` with the diffstat, `Merge made by ...`, a
/// conflict's `CONFLICT` lines). Both a fast-forward and a true merge
/// now show what the reference shows.
#[test]
fn a_merge_into_an_adjusted_branch_shows_gits_output_as_the_reference() {
    for diverged in [false, true] {
        let origin = sample_repo();
        let clone = |side: Side| {
            let d = tempfile::tempdir().expect("temp dir");
            git(
                side,
                d.path(),
                &["clone", "-q", &origin.path().display().to_string(), "c"],
            );
            let c = d.path().join("c");
            ok(annex(side, &c, &["init", "-q", "clone"]), "init");
            ok(annex(side, &c, &["adjust", "--unlock"]), "adjust");
            if diverged {
                std::fs::write(c.join("l"), "local\n").expect("write");
                ok(annex(side, &c, &["add", "-q", "l"]), "add");
                ok(
                    run_at(side, &c, 1_700_000_500, "git", &["commit", "-q", "-m", "l"]),
                    "commit",
                );
            }
            d
        };
        let theirs = clone(Side::Ref);
        let mine = clone(Side::Ours);
        std::fs::write(origin.path().join("o"), "from origin\n").expect("write");
        ok(annex(Side::Ref, origin.path(), &["add", "-q", "o"]), "add");
        ok(
            run_at(
                Side::Ref,
                origin.path(),
                1_700_000_600,
                "git",
                &["commit", "-q", "-m", "three"],
            ),
            "commit",
        );
        let mut shown = Vec::new();
        for (side, d) in [(Side::Ref, theirs.path()), (Side::Ours, mine.path())] {
            let out = ok(
                run_at(
                    side,
                    &d.join("c"),
                    1_700_000_700,
                    "git",
                    &["annex", "sync", "--no-push", "--no-content"],
                ),
                "sync",
            );
            shown.push(merge_section(&out));
        }
        assert!(
            shown[0].contains("(Merging into adjusted branch...) \n"),
            "{}",
            shown[0]
        );
        assert_eq!(
            shown[1], shown[0],
            "diverged: {diverged}: ours (left), reference (right)"
        );
    }
}

/// Regression: the merge into an adjusted branch, made in a temporary work
/// tree, ran with the annex filters on, so the smudge filter put a copy of
/// the present content of each file the merge brought in that work tree
/// (under `.git/annex/othertmp`); the reference turns the filters off
/// there (`-c filter.annex.smudge= -c filter.annex.clean= -c
/// filter.annex.process=`). A filter that logs where it runs shows that
/// neither runs one outside the repository's own work tree, where the new
/// unlocked file then holds its content.
#[test]
fn a_merge_into_an_adjusted_branch_runs_no_filter_in_its_temporary_work_tree() {
    let origin = sample_repo();
    let o = origin.path();
    let tmp = tempfile::tempdir().expect("tmp");
    let log = tmp.path().join("filter.log");
    for name in ["theirs", "ours"] {
        git(
            Side::Ref,
            tmp.path(),
            &["clone", "-q", o.to_str().expect("utf-8"), name],
        );
        let c = tmp.path().join(name);
        ok(annex(Side::Ref, &c, &["init", "-q", name]), "init");
        ok(annex(Side::Ref, &c, &["get", "-q", "f"]), "get");
        ok(annex(Side::Ref, &c, &["adjust", "--unlock"]), "adjust");
    }
    // The origin adds an unlocked file with content the clones have.
    std::fs::write(o.join("n"), "hi\n").expect("write");
    ok(annex(Side::Ref, o, &["add", "-q", "n"]), "add");
    ok(annex(Side::Ref, o, &["unlock", "-q", "n"]), "unlock");
    ok(
        run_at(
            Side::Ref,
            o,
            1_700_000_050,
            "git",
            &["commit", "-q", "-m", "n"],
        ),
        "commit",
    );
    let mut seen = Vec::new();
    for (side, name) in [(Side::Ref, "theirs"), (Side::Ours, "ours")] {
        let c = tmp.path().join(name);
        let _ = std::fs::remove_file(&log);
        git(
            side,
            &c,
            &[
                "config",
                "filter.annex.process",
                &format!("pwd >> '{}'; exec git-annex filter-process", log.display()),
            ],
        );
        let out = run_at(
            side,
            &c,
            1_700_000_200,
            "git",
            &["annex", "sync", "--no-push", "--no-content"],
        );
        assert!(out.status.success(), "{side:?}: {out:?}");
        assert_eq!(
            std::fs::read_to_string(c.join("n")).expect("n"),
            "hi\n",
            "{side:?}"
        );
        let dirs = std::fs::read_to_string(&log).unwrap_or_default();
        let top = std::fs::canonicalize(&c).expect("top");
        let elsewhere: Vec<&str> = dirs
            .lines()
            .filter(|d| std::fs::canonicalize(d).map_or(true, |d| d != top))
            .collect();
        seen.push(format!("{name}: filters run elsewhere: {elsewhere:?}"));
    }
    assert_eq!(
        seen,
        [
            "theirs: filters run elsewhere: []",
            "ours: filters run elsewhere: []"
        ]
    );
}

/// Regression: a conflicted merge into an adjusted branch was resolved in
/// the temporary work tree by a resolver running git with the annex
/// filters on and the caller's `GIT_DIR`/`GIT_WORK_TREE`: with those set
/// (`git --git-dir=... --work-tree=... annex sync`, a hook) it read the
/// real index (no conflict there), resolved nothing and the sync failed;
/// its commit could run the clean filter in the temporary work tree. Both
/// ways (the environment set or not) the conflict is now resolved into
/// two variants and no filter runs outside the repository's work tree.
#[test]
fn a_conflicted_merge_into_an_adjusted_branch_resolves_apart_from_the_callers_git_environment() {
    let mut seen = Vec::new();
    for with_env in [false, true] {
        let origin = sample_repo();
        let o = origin.path();
        let tmp = tempfile::tempdir().expect("tmp");
        let log = tmp.path().join("filter.log");
        git(
            Side::Ref,
            tmp.path(),
            &["clone", "-q", o.to_str().expect("utf-8"), "c"],
        );
        let c = tmp.path().join("c");
        ok(annex(Side::Ref, &c, &["init", "-q", "c"]), "init");
        ok(annex(Side::Ref, &c, &["adjust", "--unlock"]), "adjust");
        for (d, content, date) in [
            (o, "origin\n", 1_700_000_050),
            (&*c, "clone\n", 1_700_000_060),
        ] {
            std::fs::write(d.join("n"), content).expect("write");
            ok(annex(Side::Ref, d, &["add", "-q", "n"]), "add");
            ok(
                run_at(Side::Ref, d, date, "git", &["commit", "-q", "-m", "n"]),
                "commit",
            );
        }
        git(
            Side::Ref,
            &c,
            &[
                "config",
                "filter.annex.process",
                &format!("pwd >> '{}'; exec git-annex filter-process", log.display()),
            ],
        );
        let mut cmd = Command::new("git");
        support::hermetic(&mut cmd).args(["annex", "sync", "--no-push", "--no-content"]);
        if let Some(p) = path_for(Side::Ours) {
            cmd.env("PATH", p);
        }
        if with_env {
            cmd.current_dir(tmp.path())
                .env("GIT_DIR", c.join(".git"))
                .env("GIT_WORK_TREE", &c);
        } else {
            cmd.current_dir(&c);
        }
        let out = support::output_with_stdin(cmd, None);
        assert!(out.status.success(), "{with_env}: {out:?}");
        let mut variants: Vec<String> = std::fs::read_dir(&c)
            .expect("read_dir")
            .filter_map(|e| {
                let e = e.expect("entry");
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with("n.variant-").then(|| {
                    // Origin's content is not here: its variant a pointer.
                    let t = std::fs::read_to_string(e.path()).expect("variant");
                    if t.starts_with("/annex/objects/") {
                        "pointer".to_string()
                    } else {
                        t
                    }
                })
            })
            .collect();
        variants.sort();
        let unmerged = git(Side::Ref, &c, &["ls-files", "--unmerged"]);
        let dirs = std::fs::read_to_string(&log).unwrap_or_default();
        let top = std::fs::canonicalize(&c).expect("top");
        let elsewhere: Vec<&str> = dirs
            .lines()
            .filter(|d| std::fs::canonicalize(d).map_or(true, |d| d != top))
            .collect();
        seen.push(format!(
            "{with_env}: variants {variants:?}, unmerged {unmerged:?}, filters run elsewhere: {elsewhere:?}"
        ));
    }
    assert_eq!(
        seen,
        [
            "false: variants [\"clone\\n\", \"pointer\"], unmerged \"\", filters run elsewhere: []",
            "true: variants [\"clone\\n\", \"pointer\"], unmerged \"\", filters run elsewhere: []",
        ]
    );
}

/// Regression: a merge into an adjusted branch where one conflict was
/// resolved and another (a file in git) was not showed no note; the
/// reference says `(recording state in git...)` and that the conflict was
/// resolved as soon as any was. Both sides fail and both show the note.
#[test]
fn a_partly_resolved_merge_into_an_adjusted_branch_shows_the_note_as_the_reference() {
    let mut seen = Vec::new();
    for side in [Side::Ref, Side::Ours] {
        let origin = sample_repo();
        let o = origin.path();
        let tmp = tempfile::tempdir().expect("tmp");
        git(
            Side::Ref,
            tmp.path(),
            &["clone", "-q", o.to_str().expect("utf-8"), "c"],
        );
        let c = tmp.path().join("c");
        ok(annex(Side::Ref, &c, &["init", "-q", "c"]), "init");
        ok(annex(Side::Ref, &c, &["adjust", "--unlock"]), "adjust");
        for (d, content, date) in [
            (o, "origin\n", 1_700_000_050),
            (&*c, "clone\n", 1_700_000_060),
        ] {
            std::fs::write(d.join("n"), content).expect("write");
            std::fs::write(d.join("g"), content).expect("write");
            ok(annex(Side::Ref, d, &["add", "-q", "n"]), "add");
            git(Side::Ref, d, &["add", "g"]);
            ok(
                run_at(Side::Ref, d, date, "git", &["commit", "-q", "-m", "n"]),
                "commit",
            );
        }
        let out = run_at(
            side,
            &c,
            1_700_000_200,
            "git",
            &["annex", "sync", "--no-push", "--no-content"],
        );
        let stdout = text(&out.stdout);
        seen.push(format!(
            "{}: success {}, recording {}, note {}",
            if side == Side::Ref { "ref" } else { "ours" },
            out.status.success(),
            stdout.contains("(recording state in git...)\n"),
            stdout.contains("Merge conflict was automatically resolved"),
        ));
    }
    assert_eq!(seen[1].replace("ours", "ref"), seen[0], "{seen:?}");
    assert!(seen[0].ends_with("note true"), "{seen:?}");
}

/// `annex.adjustedbranchrefresh` at N above 1: the reference makes the
/// adjusted branch again every N-1 files a `get` brings (and at the end
/// when files came since); before, ours refreshed once, at the end. The
/// refreshes show in `HEAD`'s reflog, compared with the reference's for
/// N from 0 to 3, with the branches and the work tree.
#[test]
fn adjustedbranchrefresh_above_one_refreshes_every_n_minus_one_files_as_the_reference() {
    for n in ["0", "1", "2", "3"] {
        let run = |side: Side| {
            let origin = sample_repo();
            let o = origin.path();
            for (name, content) in [("f1", "one\n"), ("f2", "two\n"), ("f3", "three\n")] {
                std::fs::write(o.join(name), content).expect("write");
            }
            ok(annex(Side::Ref, o, &["add", "-q", "f1", "f2", "f3"]), "add");
            git(Side::Ref, o, &["commit", "-q", "-m", "three"]);
            let d = tempfile::tempdir().expect("tmp");
            git(
                Side::Ref,
                d.path(),
                &["clone", "-q", o.to_str().expect("utf-8"), "c"],
            );
            let c = d.path().join("c");
            ok(annex(Side::Ref, &c, &["init", "-q", "c"]), "init");
            ok(
                annex(Side::Ref, &c, &["adjust", "--unlock-present"]),
                "adjust",
            );
            let setting = format!("annex.adjustedbranchrefresh={n}");
            let out = annex(side, &c, &["get", "-c", &setting, "f1", "f2", "f3"]);
            assert!(out.status.success(), "{n} {side:?}: {out:?}");
            // (The clone's entry names its temporary origin: left out.)
            let reflog: Vec<String> = git(Side::Ref, &c, &["reflog", "--format=%H %gs", "HEAD"])
                .lines()
                .filter(|l| !l.contains(" clone: from "))
                .map(str::to_string)
                .collect();
            (reflog, branches(&c), tree_listing(&c), origin, d)
        };
        let (t_log, t_branches, t_tree, _t, _td) = run(Side::Ref);
        let (o_log, o_branches, o_tree, _o, _od) = run(Side::Ours);
        assert_eq!(o_log, t_log, "{n}: ours (left), reference (right)");
        assert_eq!(o_branches, t_branches, "{n}");
        assert_eq!(o_tree, t_tree, "{n}");
    }
}
