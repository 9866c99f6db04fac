//! End-to-end tests of `sync` and `merge` at the git level: output compared
//! live with the reference git-annex's on identical scenarios, a ring of
//! three repositories (two ours, one the reference's) converging, a push
//! race on a bare remote, a remote vanishing mid-sync with the failed push
//! recorded and retried, and remotes reached over ssh (a fake `ssh` that
//! runs the command here).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::{self, annex, annex_output, git};

/// The binary under test, as cargo built it for these tests.
fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_git-annex-rs"))
}

/// `git-annex-rs ARGS` in `dir`, hermetic.
fn ours(dir: &Path, args: &[&str]) -> Output {
    ours_env(dir, args, &[])
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Abbreviated commit ids (`[master 1a2b3c4]`) replaced, so two runs that
/// made different commits compare.
fn normalize(s: &str) -> String {
    let mut out = String::new();
    for line in s.lines() {
        if line.starts_with('[')
            && let Some(end) = line.find(']')
        {
            let inner = &line[1..end];
            let branch = inner.split(' ').next().unwrap_or("");
            out.push_str(&format!("[{branch} X]{}", &line[end + 1..]));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// How the action shown as `start` (e.g. `push origin `) ended in plain
/// output: the first non-empty line after it (hooks git runs may print
/// empty lines in between).
fn ending(stdout: &str, start: &str) -> Option<String> {
    let mut lines = stdout.lines().skip_while(|l| *l != start).skip(1);
    lines.find(|l| !l.is_empty()).map(str::to_string)
}

fn write(path: &Path, content: &str) {
    std::fs::write(path, content).expect("write file");
}

/// `git-annex-rs ARGS` in `dir` with extra environment.
fn ours_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin());
    support::hermetic(&mut cmd).current_dir(dir).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    support::output_with_stdin(cmd, None)
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// `root/a` (initialized by the reference, one file committed, one added
/// and not committed), `root/bare.git` (a bare clone), `root/c` (a clone
/// with a file added, initialized by the reference); `a` has remotes
/// `bare` and `c`.
fn scenario(root: &Path) -> PathBuf {
    let a = root.join("a");
    std::fs::create_dir_all(&a).expect("mkdir");
    git(&a, &["init", "-q", "-b", "master"]);
    annex(&a, &["init", "A"]);
    write(&a.join("f"), "hi\n");
    annex(&a, &["add", "f"]);
    git(&a, &["commit", "-q", "-m", "add"]);
    git(root, &["clone", "-q", "--bare", "a", "bare.git"]);
    git(root, &["clone", "-q", "a", "c"]);
    git(&a, &["remote", "add", "bare", "../bare.git"]);
    git(&a, &["remote", "add", "c", "../c"]);
    let c = root.join("c");
    annex(&c, &["init", "C"]);
    write(&c.join("g"), "x\n");
    annex(&c, &["add", "g"]);
    write(&a.join("h"), "2\n");
    annex(&a, &["add", "h"]);
    a
}

/// Plain output of `sync` (and of a second, no-op `sync`) as the
/// reference's on the same scenario; stderr's messages that matter too.
#[test]
fn sync_output_matches_reference() {
    let (r1, r2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ref_a, our_a) = (scenario(r1.path()), scenario(r2.path()));
    for round in 0..2 {
        let theirs = annex_output(&ref_a, &["sync"], None);
        let mine = ours(&our_a, &["sync"]);
        assert_eq!(mine.status.code(), theirs.status.code(), "round {round}");
        assert_eq!(
            normalize(&text(&mine.stdout)),
            normalize(&text(&theirs.stdout)),
            "round {round}; our stderr: {}",
            text(&mine.stderr)
        );
    }
    // Files an hour old and the index refreshed: our no-op check proves
    // the tree clean without git, and prints what git would.
    for a in [&ref_a, &our_a] {
        for f in ["f", "h"] {
            let st = Command::new("touch")
                .current_dir(a)
                .args(["-h", "-d", "1 hour ago", f])
                .status()
                .unwrap();
            assert!(st.success());
        }
        git(a, &["update-index", "-q", "--refresh"]);
    }
    let theirs = annex_output(&ref_a, &["sync"], None);
    let mine = ours(&our_a, &["sync"]);
    assert_eq!(text(&mine.stdout), text(&theirs.stdout));
    assert!(
        text(&mine.stdout)
            .starts_with("commit  \nOn branch master\nnothing to commit, working tree clean\nok\n")
    );
    // Same refs on both sides of both scenarios.
    for dir in ["bare.git", "c"] {
        let names = |root: &Path| {
            git(&root.join(dir), &["for-each-ref", "--format=%(refname)"])
                .lines()
                .filter(|l| !l.starts_with("refs/annex/"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(names(r2.path()), names(r1.path()), "refs of {dir}");
    }
    // `merge` with nothing to merge, plain and JSON.
    for args in [&["merge"][..], &["merge", "--json"][..]] {
        let theirs = annex_output(&ref_a, args, None);
        let mine = ours(&our_a, args);
        assert_eq!(text(&mine.stdout), text(&theirs.stdout), "{args:?}");
        assert_eq!(mine.status.code(), theirs.status.code());
    }
}

/// Local remotes already initialized (one not synced with too) have their
/// UUIDs recorded in git config by `sync` itself, as the reference's remote
/// listing records them, with no
/// hook's help (hooks are off here). Before, `sync` left it to the
/// reference's pre-push hook, which every push runs at once: their writes
/// of `.git/config` raced and a direct push of `master` failed now and then.
#[test]
fn learned_uuids_recorded_before_pushes() {
    let root = tempfile::tempdir().unwrap();
    let a = scenario(root.path());
    let hooks = root.path().join("no-hooks");
    std::fs::create_dir_all(&hooks).unwrap();
    git(&a, &["config", "core.hooksPath", hooks.to_str().unwrap()]);
    // A remote not synced with is recorded too, as git-annex lists it.
    git(root.path(), &["clone", "-q", "a", "d"]);
    let d = root.path().join("d");
    annex(&d, &["init", "D"]);
    git(&a, &["remote", "add", "d", "../d"]);
    git(&a, &["config", "remote.d.annex-sync", "false"]);
    let c_uuid = git(&root.path().join("c"), &["config", "annex.uuid"]);
    let d_uuid = git(&d, &["config", "annex.uuid"]);
    let out = ours(&a, &["sync"]);
    assert_ok(&out, "sync");
    assert_eq!(
        git(&a, &["config", "remote.c.annex-uuid"]).trim(),
        c_uuid.trim()
    );
    assert_eq!(
        git(&a, &["config", "remote.d.annex-uuid"]).trim(),
        d_uuid.trim()
    );
    assert!(
        !git(&a, &["config", "remote.bare.annex-uuid"])
            .trim()
            .is_empty()
    );
}

/// A remote that is a directory but no repository: the pull passes (git's
/// error shown), the push fails, `sync: 1 failed`, exit 1, as the
/// reference; ours records the failed push.
#[test]
fn failing_remote_output_matches_reference() {
    let (r1, r2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut runs = Vec::new();
    for (i, root) in [r1.path(), r2.path()].into_iter().enumerate() {
        let a = scenario(root);
        std::fs::create_dir(root.join("notrepo")).unwrap();
        git(&a, &["remote", "add", "nr", "../notrepo"]);
        git(
            &a,
            &[
                "config",
                "remote.nr.annex-uuid",
                "11111111-1111-1111-1111-111111111111",
            ],
        );
        let out = if i == 0 {
            annex_output(&a, &["sync"], None)
        } else {
            ours(&a, &["sync"])
        };
        runs.push((a, out));
    }
    let (theirs, mine) = (&runs[0].1, &runs[1].1);
    assert_eq!(mine.status.code(), Some(1));
    assert_eq!(mine.status.code(), theirs.status.code());
    assert_eq!(
        normalize(&text(&mine.stdout)),
        normalize(&text(&theirs.stdout))
    );
    for needle in ["  Pushing to nr failed.\n", "sync: 1 failed\n"] {
        assert!(
            text(&theirs.stderr).contains(needle),
            "{}",
            text(&theirs.stderr)
        );
        assert!(
            text(&mine.stderr).contains(needle),
            "{}",
            text(&mine.stderr)
        );
    }
    let record = std::fs::read_to_string(runs[1].0.join(".git/annex/rs-sync-failed-pushes"))
        .expect("failed push recorded");
    assert!(record.starts_with("nr\t"), "{record}");
}

/// `sync --json`: one object per action in git-annex's shape (the
/// reference's `sync` has no `--json`; the shape is its `merge --json`'s),
/// with `remote` naming the remote; git's output kept off stdout.
#[test]
fn sync_json_objects() {
    let root = tempfile::tempdir().unwrap();
    let a = scenario(root.path());
    let refused = annex_output(&a, &["sync", "--json"], None);
    assert!(!refused.status.success(), "the reference took sync --json");
    let out = ours(&a, &["sync", "--json"]);
    assert_ok(&out, "sync --json");
    let objects: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let commands: Vec<&str> = objects
        .iter()
        .map(|o| o["command"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(commands, ["commit", "pull", "pull", "push", "push"]);
    let merge = annex(&a, &["merge", "--json"]);
    let shape: serde_json::Value = serde_json::from_str(merge.lines().next().unwrap()).unwrap();
    let keys = |o: &serde_json::Value| {
        let mut k: Vec<String> = o.as_object().unwrap().keys().cloned().collect();
        k.retain(|k| k != "remote");
        k
    };
    for o in &objects {
        assert_eq!(keys(o), keys(&shape), "{o}");
        assert_eq!(o["success"], true);
    }
    assert_eq!(objects[1]["remote"], "c");
    assert_eq!(objects[2]["remote"], "bare");
}

/// A ring: `a` and `b` worked by us, `c` by the reference; `a` syncs with
/// `b`, `b` with `c`, `c` with `a`. After edits on every side and a few
/// rounds, the three have the same tree, the same `git-annex` branch
/// content, and the reference's fsck is clean in each.
#[test]
fn ring_of_three_converges() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let (a, b, c) = (r.join("a"), r.join("b"), r.join("c"));
    std::fs::create_dir(&a).unwrap();
    git(&a, &["init", "-q", "-b", "master"]);
    assert_ok(&ours(&a, &["init", "A"]), "init A");
    write(&a.join("base"), "base\n");
    assert_ok(&ours(&a, &["add", "base"]), "add");
    git(&a, &["commit", "-q", "-m", "base"]);
    git(r, &["clone", "-q", "a", "b"]);
    git(r, &["clone", "-q", "a", "c"]);
    assert_ok(&ours(&b, &["init", "B"]), "init B");
    annex(&c, &["init", "C"]);
    for (dir, name, url) in [(&a, "b", "../b"), (&b, "c", "../c"), (&c, "a", "../a")] {
        let _ = Command::new("git")
            .current_dir(dir)
            .args(["remote", "remove", "origin"])
            .output();
        git(dir, &["remote", "add", name, url]);
    }
    // Edits on every side.
    write(&a.join("fa"), "from a\n");
    assert_ok(&ours(&a, &["add", "fa"]), "add fa");
    git(&a, &["rm", "-q", "base"]);
    write(&b.join("fb"), "from b\n");
    assert_ok(&ours(&b, &["add", "fb"]), "add fb");
    write(&c.join("fc"), "from c\n");
    annex(&c, &["add", "fc"]);
    for round in 0..3 {
        assert_ok(&ours(&a, &["sync"]), &format!("round {round}: sync a"));
        assert_ok(&ours(&b, &["sync"]), &format!("round {round}: sync b"));
        annex(&c, &["sync"]);
    }
    // Every side merges what was pushed to it last.
    assert_ok(&ours(&a, &["sync"]), "sync a");
    assert_ok(&ours(&b, &["sync"]), "sync b");
    assert_ok(&ours(&a, &["merge"]), "merge a");
    annex(&c, &["merge"]);
    let tree = |d: &Path| git(d, &["rev-parse", "HEAD^{tree}"]);
    let files = git(&a, &["ls-files"]);
    assert_eq!(files, "fa\nfb\nfc\n");
    assert_eq!(tree(&b), tree(&a));
    assert_eq!(tree(&c), tree(&a));
    for d in [&a, &b, &c] {
        for f in ["fa", "fb", "fc"] {
            assert!(
                d.join(f).symlink_metadata().is_ok(),
                "{f} in {}",
                d.display()
            );
        }
    }
    // The same git-annex branch content (the union of every side's logs).
    let branch = |d: &Path| git(d, &["rev-parse", "git-annex^{tree}"]);
    assert_eq!(branch(&b), branch(&a), "git-annex of a and b");
    assert_eq!(branch(&c), branch(&a), "git-annex of a and c");
    for d in [&a, &b, &c] {
        annex(d, &["fsck", "--quiet"]);
    }
}

/// Two repositories sync to the same bare remote at once (a pre-push hook
/// holds both pushes until both have read the remote's refs): one push is
/// rejected, pulled and pushed again, and the remote ends up with both.
#[test]
fn push_race_both_merged() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let seed = r.join("seed");
    std::fs::create_dir(&seed).unwrap();
    git(&seed, &["init", "-q", "-b", "master"]);
    annex(&seed, &["init", "seed"]);
    write(&seed.join("s"), "seed\n");
    annex(&seed, &["add", "s"]);
    git(&seed, &["commit", "-q", "-m", "seed"]);
    git(r, &["clone", "-q", "--bare", "seed", "hub.git"]);
    let mut uuids = Vec::new();
    for name in ["x", "y"] {
        git(r, &["clone", "-q", "hub.git", name]);
        let d = r.join(name);
        assert_ok(&ours(&d, &["init", name]), "init");
        write(&d.join(format!("f{name}")), name);
        assert_ok(&ours(&d, &["add", &format!("f{name}")]), "add");
        git(&d, &["commit", "-q", "-m", name]);
        // Both pushes wait here, after reading the remote's refs.
        let hook = d.join(".git/hooks/pre-push");
        write(&hook, "#!/bin/sh\nsleep 1\n");
        git(&d, &["update-index", "--refresh"]);
        std::process::Command::new("chmod")
            .arg("755")
            .arg(&hook)
            .status()
            .unwrap();
        uuids.push(git(&d, &["config", "annex.uuid"]).trim().to_string());
    }
    let run = |name: &str| {
        let mut cmd = Command::new(bin());
        support::hermetic(&mut cmd)
            .current_dir(r.join(name))
            .args(["sync", "--no-pull"]);
        cmd
    };
    let (mut cx, mut cy) = (run("x"), run("y"));
    let hx = std::thread::spawn(move || cx.output().unwrap());
    let hy = std::thread::spawn(move || cy.output().unwrap());
    let (ox, oy) = (hx.join().unwrap(), hy.join().unwrap());
    assert_ok(&ox, "sync x");
    assert_ok(&oy, "sync y");
    // The race did happen: one push was refused.
    let stderr = format!("{}{}", text(&ox.stderr), text(&oy.stderr));
    assert!(
        ["[rejected]", "failed to update ref", "cannot lock ref"]
            .iter()
            .any(|n| stderr.contains(n)),
        "{stderr}"
    );
    let hub = r.join("hub.git");
    let files = git(&hub, &["ls-tree", "-r", "--name-only", "master"]);
    assert_eq!(
        files,
        "fx\nfy\ns\n",
        "x: {}\ny: {}",
        text(&ox.stderr),
        text(&oy.stderr)
    );
    let uuid_log = git(&hub, &["show", "git-annex:uuid.log"]);
    for u in &uuids {
        assert!(uuid_log.contains(u.as_str()), "{u} in {uuid_log}");
    }
}

/// Writes the fake `ssh`: options and the host dropped, the remote command
/// run here with `sh -c`. When `$FAKESSH_VANISH` names an existing path,
/// it is removed first: the remote disappears mid-sync.
fn fake_ssh(dir: &Path) -> PathBuf {
    let path = dir.join("fake-ssh");
    write(
        &path,
        "#!/bin/sh\n\
         while [ $# -gt 0 ]; do case \"$1\" in -p|-o|-l|-i) shift 2;; -*) shift;; *) break;; esac; done\n\
         shift\n\
         if [ -n \"$FAKESSH_VANISH\" ] && [ -e \"$FAKESSH_VANISH\" ]; then rm -rf \"$FAKESSH_VANISH\"; fi\n\
         exec sh -c \"$*\"\n",
    );
    Command::new("chmod")
        .arg("755")
        .arg(&path)
        .status()
        .unwrap();
    path
}

/// A remote over ssh vanishes at the first contact: that remote's push
/// fails with git's error and `Pushing to gone failed.`, the other remote
/// is synced, exit 1, the failure recorded. Once the remote is back, the
/// next sync pushes to it and forgets the record; another repository
/// pulls the file from it over ssh.
#[test]
fn vanishing_ssh_remote_is_recorded_and_retried() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let ssh = fake_ssh(r);
    let a = r.join("a");
    std::fs::create_dir(&a).unwrap();
    git(&a, &["init", "-q", "-b", "master"]);
    assert_ok(&ours(&a, &["init", "A"]), "init");
    git(r, &["init", "-q", "--bare", "ok.git"]);
    git(r, &["init", "-q", "--bare", "gone.git"]);
    let gone = r.join("gone.git");
    git(&a, &["remote", "add", "ok", "../ok.git"]);
    let url = format!("fakehost:{}", gone.display());
    git(&a, &["remote", "add", "gone", &url]);
    write(&a.join("f"), "content\n");
    assert_ok(&ours(&a, &["add", "f"]), "add");
    let ssh_s = ssh.to_string_lossy().into_owned();
    let gone_s = gone.to_string_lossy().into_owned();
    let env = [
        ("GIT_SSH_COMMAND", ssh_s.as_str()),
        ("GIT_SSH_VARIANT", "simple"),
        ("FAKESSH_VANISH", gone_s.as_str()),
    ];
    let out = ours_env(&a, &["sync"], &env);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("  Pushing to gone failed.\n"), "{stderr}");
    assert!(stderr.contains("sync: 1 failed"), "{stderr}");
    assert_eq!(
        ending(&stdout, "push ok ").as_deref(),
        Some("ok"),
        "{stdout}"
    );
    assert_eq!(
        ending(&stdout, "push gone ").as_deref(),
        Some("failed"),
        "{stdout}"
    );
    let head = git(&a, &["rev-parse", "master"]);
    assert_eq!(git(&r.join("ok.git"), &["rev-parse", "master"]), head);
    let record = a.join(".git/annex/rs-sync-failed-pushes");
    let recorded = std::fs::read_to_string(&record).expect("record written");
    assert!(recorded.starts_with("gone\t"), "{recorded}");

    // Back (empty); the next sync pushes to it and forgets the failure.
    git(r, &["init", "-q", "--bare", "gone.git"]);
    let env = [
        ("GIT_SSH_COMMAND", ssh_s.as_str()),
        ("GIT_SSH_VARIANT", "simple"),
    ];
    let out = ours_env(&a, &["sync"], &env);
    assert_ok(&out, "second sync");
    let stdout = text(&out.stdout);
    assert_eq!(
        ending(&stdout, "push gone ").as_deref(),
        Some("ok"),
        "{stdout}"
    );
    assert!(!record.exists(), "record kept after a successful push");
    assert_eq!(git(&gone, &["rev-parse", "master"]), head);
    // Its UUID learned over ssh (`git-annex-shell configlist`, which
    // initialized it).
    assert_eq!(
        git(&a, &["config", "remote.gone.annex-uuid"]),
        git(&gone, &["config", "annex.uuid"])
    );

    // Pulling over ssh.
    let b = r.join("b");
    std::fs::create_dir(&b).unwrap();
    git(&b, &["init", "-q", "-b", "master"]);
    assert_ok(&ours(&b, &["init", "B"]), "init B");
    git(&b, &["remote", "add", "far", &url]);
    let out = ours_env(&b, &["sync", "--allow-unrelated-histories"], &env);
    assert_ok(&out, "sync over ssh");
    assert_eq!(git(&b, &["ls-files"]), "f\n");
    assert_eq!(git(&b, &["rev-parse", "master"]), head);
}

/// `--no-pull --no-push --no-commit`: nothing at the git level (no commit,
/// no fetch, no push).
#[test]
fn nothing_but_content_touches_no_ref() {
    let root = tempfile::tempdir().unwrap();
    let a = scenario(root.path());
    let before = git(&a, &["for-each-ref"]);
    let out = ours(&a, &["sync", "--no-pull", "--no-push", "--no-commit"]);
    assert_ok(&out, "sync");
    assert_eq!(text(&out.stdout), "");
    let after: String = git(&a, &["for-each-ref"]);
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("refs/heads/git-annex") && !l.contains("refs/annex/"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&after), strip(&before));
}
