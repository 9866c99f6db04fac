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

const SERVER_UUID: &str = "aaaaaaaa-0000-0000-0000-00000000000a";

/// A repository made by the reference with a fixed UUID (so that the
/// logs of twins compare), holding `a` and `b`.
fn fixed_repo() -> tempfile::TempDir {
    let dir = support::new_git_repo();
    support::git(dir.path(), &["config", "annex.uuid", SERVER_UUID]);
    support::annex(dir.path(), &["init", "server"]);
    for (f, c) in [("a", "a\n"), ("b", "bb\n")] {
        std::fs::write(dir.path().join(f), c).expect("write");
    }
    support::annex(dir.path(), &["add", "a", "b"]);
    support::git(dir.path(), &["commit", "-q", "-m", "a b"]);
    dir
}

fn key(dir: &Path, file: &str) -> String {
    support::annex(dir, &["lookupkey", file]).trim().to_string()
}

/// What a repository's `.git/annex` holds that a server command writes:
/// the journal (timestamps blanked), the transfer records (their names),
/// the temp files (names and sizes), the objects (names) and the
/// git-annex branch's commit count.
fn annex_state(dir: &Path) -> Vec<String> {
    let annex = dir.join(".git/annex");
    let mut out = Vec::new();
    for sub in ["journal", "transfer", "tmp", "objects"] {
        let root = annex.join(sub);
        let mut files: Vec<_> = walk(&root);
        files.sort();
        for f in files {
            let rel = f
                .strip_prefix(&annex)
                .expect("inside")
                .display()
                .to_string();
            // Lock files, and the retention lock file our LOCKCONTENT
            // leaves beside the object (annex-core's `RetainedLock`; the
            // reference removes its own): no content, no log.
            if rel.ends_with(".lck") || rel.ends_with("/lck") || rel.ends_with(".rtl") {
                continue;
            }
            let body = if sub == "journal" {
                let t = std::fs::read_to_string(&f).expect("journal file");
                t.lines()
                    .map(|l| match l.split_once(' ') {
                        Some((ts, rest)) if ts.ends_with('s') => format!("T {rest}"),
                        _ => l.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("|")
            } else if sub == "tmp" {
                format!(
                    "{} bytes",
                    std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0)
                )
            } else {
                String::new()
            };
            out.push(format!("{rel} {body}"));
        }
    }
    let commits = support::git(dir, &["rev-list", "--count", "git-annex"]);
    out.push(format!("git-annex commits: {}", commits.trim()));
    out
}

fn walk(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(root) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Runs `args` (with `{dir}` replaced by each twin's path) with ours on
/// one twin and the reference's on the other; compares what they print
/// (stdout, first line of stderr, exit code) and what they leave.
/// One command line (`{dir}` for the repository) and its environment.
type Step<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);

fn twins(steps: &[Step<'_>]) -> Vec<String> {
    let o = fixed_repo();
    let t = fixed_repo();
    let mut logs = Vec::new();
    for (is_ours, dir) in [(true, o.path()), (false, t.path())] {
        let p = dir.to_str().expect("utf-8");
        let mut log = Vec::new();
        for (args, env) in steps {
            let real: Vec<String> = args.iter().map(|a| a.replace("{dir}", p)).collect();
            let real: Vec<&str> = real.iter().map(String::as_str).collect();
            let out = shell(is_ours, dir, &real, env, b"");
            let err = text(&out.stderr)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string();
            log.push(format!(
                "{args:?} {env:?}: exit {:?} out {:?} err {:?}",
                out.status.code(),
                text(&out.stdout).replace(p, "DIR"),
                err.replace(p, "DIR")
            ));
        }
        log.extend(annex_state(dir));
        logs.push(log);
    }
    assert_eq!(logs[0], logs[1]);
    logs.remove(0)
}

#[test]
fn inannex_answers_as_the_reference_does() {
    let dir = fixed_repo();
    let a = key(dir.path(), "a");
    let b = key(dir.path(), "b");
    let log = twins(&[
        (&["inannex", "{dir}", &a], &[]),
        (&["inannex", "{dir}", &a, &b], &[]),
        (&["inannex", "{dir}"], &[]),
        (&["inannex", "{dir}", "SHA256E-s1--00"], &[]),
        (&["inannex", "{dir}", &a, "SHA256E-s1--00", "notakey"], &[]),
        (&["inannex", "{dir}", "notakey", &a], &[]),
        (&["inannex", "{dir}", "-q", "--uuid", SERVER_UUID, &a], &[]),
        (&["inannex", "{dir}", "--uuid", "another", &a], &[]),
        (&["inannex", "{dir}", "--uuid"], &[]),
        (&["inannex", "{dir}", "--bogus", &a], &[]),
        (&["inannex", "{dir}", "--", "remoteuuid=x", "--", &a], &[]),
    ]);
    assert!(log[0].contains("exit Some(0)"), "{log:?}");
    assert!(log[3].contains("exit Some(1)"), "{log:?}");
}

#[test]
fn dropkey_drops_and_logs_as_the_reference_does() {
    let dir = fixed_repo();
    let a = key(dir.path(), "a");
    let b = key(dir.path(), "b");
    let log = twins(&[
        (&["dropkey", "{dir}", &a], &[]),
        (&["inannex", "{dir}", &a], &[]),
        (&["dropkey", "{dir}", "--force", "--quiet", &a], &[]),
        (&["inannex", "{dir}", &a], &[]),
        (
            &["dropkey", "{dir}", "--force", "notakey", "SHA256E-s1--00"],
            &[],
        ),
        (
            &[
                "dropkey",
                "{dir}",
                "--force",
                "--json",
                "SHA256E-s1--00",
                &b,
            ],
            &[],
        ),
        (&["dropkey", "{dir}", "--force", "--json", "notakey"], &[]),
        (&["inannex", "{dir}", &b], &[]),
    ]);
    assert!(log[3].contains("exit Some(1)"), "{log:?}");
    assert!(
        log.iter()
            .any(|l| l.contains("journal/") && l.contains("T 0 ")),
        "the removal is in the journal: {log:?}"
    );
}

/// rsync as git-annex's old client ran it against `recvkey`/`sendkey`:
/// `-e` names git-annex-shell (here directly, or through `ssh`).
fn rsync(shell_cmd: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new("rsync");
    support::hermetic(&mut cmd)
        .arg("-e")
        .arg(shell_cmd)
        .args(args);
    support::output_with_stdin(cmd, None)
}

fn quote(words: &[&str]) -> String {
    words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The content of `key` sent into the repository at `dir` with
/// `recvkey`, then fetched back with `sendkey`, by the git-annex-shell
/// `bin` reached through `prefix` (empty, or an ssh command); what the
/// steps printed and left.
fn rsync_session(prefix: &str, bin: &Path, dir: &Path, work: &Path) -> Vec<String> {
    let p = dir.to_str().expect("utf-8");
    let bin = bin.to_str().expect("utf-8");
    let good = work.join("good");
    let bad = work.join("bad");
    std::fs::write(&good, "new content\n").expect("write");
    std::fs::write(&bad, "new contenX\n").expect("write");
    let newkey = support::annex(
        dir,
        &[
            "calckey",
            "--backend",
            "SHA256E",
            good.to_str().expect("utf-8"),
        ],
    );
    let newkey = newkey.trim();
    let escaping = "WORM-s2-m1--../../../../escaped";
    std::fs::write(work.join("two"), "xy").expect("write");
    let mut log = Vec::new();
    let step = |what: &str, shell_args: &[&str], args: &[&str]| -> String {
        let mut words = vec![bin];
        words.extend_from_slice(shell_args);
        let cmd = format!("{prefix}{}", quote(&words));
        let out = rsync(&cmd, args);
        format!(
            "{what}: exit {:?}, first error line {:?}",
            out.status.code(),
            text(&out.stderr).lines().next().unwrap_or_default()
        )
    };
    let fields = [
        "--",
        "remoteuuid=cccccccc-0000-0000-0000-00000000000c",
        "--",
    ];
    let with = |cmd: &'static str, k: &str| -> Vec<String> {
        let mut v = vec![cmd.to_string(), p.to_string(), k.to_string()];
        v.extend(fields.iter().map(|s| s.to_string()));
        v
    };
    let recv = with("recvkey", newkey);
    let recv: Vec<&str> = recv.iter().map(String::as_str).collect();
    let g = good.to_str().expect("utf-8");
    let b = bad.to_str().expect("utf-8");
    log.push(step(
        "recvkey of content that does not match",
        &recv,
        &["--inplace", "--", b, "dummy:"],
    ));
    log.push(step(
        "recvkey",
        &recv,
        &["--progress", "--inplace", "--perms", "--", g, "dummy:"],
    ));
    log.push(step(
        "recvkey again",
        &recv,
        &["--inplace", "--", g, "dummy:"],
    ));
    let esc = with("recvkey", escaping);
    let esc: Vec<&str> = esc.iter().map(String::as_str).collect();
    let two = work.join("two");
    log.push(step(
        "recvkey of an escaping key",
        &esc,
        &["--inplace", "--", two.to_str().expect("utf-8"), "dummy:"],
    ));
    let back = work.join("back");
    let send = with("sendkey", newkey);
    let send: Vec<&str> = send.iter().map(String::as_str).collect();
    log.push(step(
        "sendkey",
        &send,
        &["--inplace", "--", "dummy:", back.to_str().expect("utf-8")],
    ));
    log.push(format!(
        "fetched back: {:?}",
        std::fs::read_to_string(&back).unwrap_or_default()
    ));
    let back2 = work.join("back2");
    let send2 = with("sendkey", escaping);
    let send2: Vec<&str> = send2.iter().map(String::as_str).collect();
    log.push(step(
        "sendkey of the escaping key",
        &send2,
        &["--", "dummy:", back2.to_str().expect("utf-8")],
    ));
    log.push(format!(
        "fetched back: {:?}",
        std::fs::read_to_string(&back2).unwrap_or_default()
    ));
    let absent = with("sendkey", "SHA256E-s1--00");
    let absent: Vec<&str> = absent.iter().map(String::as_str).collect();
    let back3 = work.join("back3");
    log.push(step(
        "sendkey of absent content",
        &absent,
        &["--", "dummy:", back3.to_str().expect("utf-8")],
    ));
    // Only --bwlimit of the client's options reaches the server's rsync.
    log.push(step(
        "recvkey with rsync options",
        &recv,
        &["--bwlimit=1000", "--inplace", "--", g, "dummy:"],
    ));
    for escaped in ["escaped", "../escaped", "../../escaped", ".git/escaped"] {
        assert!(
            !dir.join(escaped).exists(),
            "{escaped} written outside the store"
        );
    }
    let loc = support::annex_output(dir, &["contentlocation", escaping], None);
    log.push(format!(
        "escaping key inside the store: {}",
        text(&loc.stdout).starts_with(".git/annex/objects/")
    ));
    support::annex(dir, &["fsck", "-q", "--key", newkey]);
    log.extend(annex_state(dir));
    log
}

#[test]
fn recvkey_and_sendkey_speak_rsync_as_the_reference_does() {
    let ours = Path::new(env!("CARGO_BIN_EXE_git-annex-shell"));
    let theirs = support::reference_git_annex().with_file_name("git-annex-shell");
    let mut logs = Vec::new();
    for bin in [ours, theirs.as_path()] {
        let dir = fixed_repo();
        let work = tempfile::tempdir().expect("tempdir");
        logs.push(rsync_session("", bin, dir.path(), work.path()));
    }
    assert_eq!(logs[0], logs[1]);
    let log = &logs[0];
    for expected in [
        "recvkey: exit Some(0)",
        "recvkey of content that does not match: exit Some(1)",
        "recvkey of an escaping key: exit Some(0)",
        "sendkey: exit Some(0)",
        "sendkey of absent content: exit Some(12)",
        "fetched back: \"new content\\n\"",
        "fetched back: \"xy\"",
        "escaping key inside the store: true",
    ] {
        assert!(
            log.iter().any(|l| l.starts_with(expected)),
            "{expected}: {log:#?}"
        );
    }
}

#[test]
fn recvkey_sendkey_inannex_dropkey_over_a_real_sshd_as_the_reference() {
    use crate::support::sshd::Sshd;
    let sshd = Sshd::start();
    let ssh = format!("{} 127.0.0.1 ", sshd.ssh_command());
    let ours = Path::new(env!("CARGO_BIN_EXE_git-annex-shell"));
    let theirs = support::reference_git_annex().with_file_name("git-annex-shell");
    let mut logs = Vec::new();
    for bin in [ours, theirs.as_path()] {
        let dir = fixed_repo();
        let work = tempfile::tempdir().expect("tempdir");
        let mut log = rsync_session(&ssh, bin, dir.path(), work.path());
        // inannex and dropkey as the old client ran them: ssh, the
        // command line quoted.
        let p = dir.path().to_str().expect("utf-8");
        let a = key(dir.path(), "a");
        for words in [
            vec!["inannex", p, &a],
            vec!["dropkey", p, "--quiet", "--force", &a],
            vec!["inannex", p, &a],
        ] {
            let mut all = vec![bin.to_str().expect("utf-8")];
            all.extend(words.iter().copied());
            let ssh_line = format!("{} 127.0.0.1", sshd.ssh_command());
            let mut it = ssh_line.split_whitespace();
            let mut c = Command::new(it.next().expect("ssh"));
            support::hermetic(&mut c).args(it).arg(quote(&all));
            let out = support::output_with_stdin(c, None);
            log.push(format!("{words:?}: exit {:?}", out.status.code()).replace(p, "DIR"));
        }
        log.extend(annex_state(dir.path()));
        logs.push(log);
    }
    assert_eq!(logs[0], logs[1]);
    assert!(
        logs[0]
            .iter()
            .any(|l| l.contains("inannex") && l.contains("exit Some(0)"))
    );
}

/// Every command of git-annex-shell's (and the old ones that now go to
/// git's shell) under each restriction variable, against the reference.
#[test]
fn each_restriction_refuses_each_command_as_the_reference_does() {
    let dir = fixed_repo();
    let p = dir.path().to_str().expect("utf-8");
    let a = key(dir.path(), "a");
    let commands: Vec<Vec<&str>> = vec![
        vec!["configlist", p],
        vec!["p2pstdio", p, CLIENT],
        vec!["notifychanges", p],
        vec!["inannex", p, &a],
        // No --force: nothing is dropped where it is allowed.
        vec!["dropkey", p, &a],
        // rsync on an empty input: it fails the same way on both.
        vec!["recvkey", p, "SHA256E-s1--00"],
        vec!["sendkey", p, &a],
        vec!["gcryptsetup", p, "x"],
        vec!["lockcontent", p, &a],
        vec!["transferinfo", p, &a],
        vec!["commit", p],
        vec!["git-upload-pack", p],
    ];
    let envs: &[&[(&str, &str)]] = &[
        &[("GIT_ANNEX_SHELL_READONLY", "1")],
        &[("GIT_ANNEX_SHELL_APPENDONLY", "1")],
        &[("GIT_ANNEX_SHELL_LIMITED", "1")],
        &[("GIT_ANNEX_SHELL_DIRECTORY", "/nowhere/else")],
        &[("GIT_ANNEX_SHELL_DIRECTORY", p)],
        &[
            ("GIT_ANNEX_SHELL_READONLY", "1"),
            ("GIT_ANNEX_SHELL_DIRECTORY", "/nowhere/else"),
        ],
    ];
    let mut blocked = 0;
    for env in envs {
        for args in &commands {
            // gcryptsetup is not served (issue 13 does not ask for it):
            // compared only where a restriction refuses it first.
            let refused = env.iter().any(|(k, v)| {
                k.ends_with("READONLY")
                    || k.ends_with("APPENDONLY")
                    || (k.ends_with("DIRECTORY") && *v != p)
            });
            if args[0] == "gcryptsetup" && !refused {
                continue;
            }
            let out = same(dir.path(), args, env, b"");
            if text(&out.stderr).contains("Action blocked by")
                || text(&out.stderr).contains("Only allowed to access")
            {
                blocked += 1;
            }
        }
    }
    assert!(blocked > 20, "only {blocked} refusals");
    // The content is still there after all of that.
    support::annex(dir.path(), &["fsck", "-q", "a"]);
}

/// `git-annex-shell p2pstdio` serves neither `CONNECT` (git over the
/// protocol) nor `NOTIFYCHANGE`: the reference's fails the session with
/// its words, or refuses `receive-pack` in read-only and append-only
/// modes and ends it; ours alike.
#[test]
fn p2pstdio_refuses_git_and_change_notification_as_the_reference_does() {
    let dir = annexed_repo();
    let p = dir.path().to_str().expect("utf-8");
    let ro: &[(&str, &str)] = &[("GIT_ANNEX_SHELL_READONLY", "1")];
    let ao: &[(&str, &str)] = &[("GIT_ANNEX_SHELL_APPENDONLY", "1")];
    let after = "CHECKPRESENT SHA256E-s1--00\n";
    for (env, input) in [
        (&[][..], "VERSION 4\nCONNECT git-upload-pack\n".to_string()),
        (&[][..], "VERSION 4\nCONNECT git-receive-pack\n".to_string()),
        (ro, format!("VERSION 4\nCONNECT git-receive-pack\n{after}")),
        (ao, format!("VERSION 4\nCONNECT git-receive-pack\n{after}")),
        (ro, "VERSION 4\nCONNECT git-upload-pack\n".to_string()),
        (&[][..], "VERSION 4\nNOTIFYCHANGE\n".to_string()),
        (
            &[][..],
            format!("VERSION 4\nCONNECT bogus\nCONNECTDONE 0\nCHANGED a b\n{after}"),
        ),
    ] {
        let out = same(dir.path(), &["p2pstdio", p, CLIENT], env, input.as_bytes());
        if input.contains("receive-pack") && !env.is_empty() {
            assert!(
                text(&out.stdout)
                    .ends_with("ERROR this repository is read-only; write access denied\n"),
                "{out:?}"
            );
        }
    }
}

/// A client gone in the middle of a PUT's DATA: `FAILURE`, exit 1, what
/// arrived kept only in the temp file (for the next PUT to resume),
/// nothing in the object store, nothing in the logs: as the reference.
#[test]
fn p2pstdio_put_cut_mid_data_leaves_only_the_temp_file_as_the_reference_does() {
    let key = "SHA256E-s10--84d89877f0d4041efb6bf91a16f0248f2fd573e6af05c19f96bedb9f882f7882";
    let input = format!("VERSION 4\nPUT  {key}\nDATA 10\n0123");
    let mut logs = Vec::new();
    for is_ours in [true, false] {
        let dir = fixed_repo();
        let p = dir.path().to_str().expect("utf-8");
        let out = shell(
            is_ours,
            dir.path(),
            &["p2pstdio", p, CLIENT],
            &[],
            input.as_bytes(),
        );
        if is_ours {
            assert!(
                text(&out.stderr).contains("P2P connection closed after 4 of the 10 bytes of DATA"),
                "a clear error: {out:?}"
            );
        }
        let mut log = vec![format!(
            "exit {:?} out {:?}",
            out.status.code(),
            text(&out.stdout).lines().skip(1).collect::<Vec<_>>()
        )];
        log.extend(annex_state(dir.path()));
        let present = support::annex_output(dir.path(), &["contentlocation", key], None);
        log.push(format!("present: {}", present.status.success()));
        logs.push(log);
    }
    assert_eq!(logs[0], logs[1]);
    assert!(
        logs[0]
            .iter()
            .any(|l| l.starts_with("tmp/") && l.ends_with(" 4 bytes")),
        "{logs:?}"
    );
    assert!(logs[0][0].contains("FAILURE"), "{logs:?}");
}

/// `notifychanges`: `READY`, the refs already there, then each change,
/// until the client closes its end; the same lines and the same end as
/// the reference's, run one after the other on one repository.
#[test]
fn notifychanges_reports_changed_refs_as_the_reference_does() {
    use std::io::BufRead;
    use std::process::Stdio;
    use std::time::Duration;
    let dir = annexed_repo();
    let p = dir.path().to_str().expect("utf-8");
    let head = support::git(dir.path(), &["rev-parse", "HEAD"]);
    let head = head.trim();
    let mut runs = Vec::new();
    for ours in [false, true] {
        let bin = if ours {
            std::path::PathBuf::from(env!("CARGO_BIN_EXE_git-annex-shell"))
        } else {
            support::reference_git_annex().with_file_name("git-annex-shell")
        };
        let mut cmd = Command::new(bin);
        support::hermetic(&mut cmd)
            .current_dir(dir.path())
            .args(["notifychanges", p])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("notifychanges");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let next = || rx.recv_timeout(Duration::from_secs(20)).expect("a line");
        let mut lines = vec![next(), next()];
        support::git(dir.path(), &["update-ref", "refs/heads/watched", head]);
        lines.push(next());
        // A ref in a directory that was not there.
        support::git(dir.path(), &["update-ref", "refs/heads/sub/watched", head]);
        lines.push(next());
        drop(child.stdin.take());
        let out = child.wait_with_output().expect("wait");
        lines.push(format!(
            "exit {:?}: {}",
            out.status.code(),
            text(&out.stderr).lines().next().unwrap_or_default()
        ));
        for r in ["refs/heads/watched", "refs/heads/sub/watched"] {
            support::git(dir.path(), &["update-ref", "-d", r]);
        }
        runs.push(lines);
    }
    // The refs there at the start, as one set (each lists them in the
    // order the directory gives them).
    for run in &mut runs {
        let mut first: Vec<&str> = run[1].split(' ').collect();
        first.sort();
        run[1] = first.join(" ");
    }
    assert_eq!(runs[0], runs[1]);
    assert_eq!(runs[0][0], "READY");
    assert_eq!(runs[0][2], format!("CHANGED {head}"));
    assert_eq!(runs[0][3], format!("CHANGED {head}"));
}

/// The reference's client still uses one git-annex-shell command besides
/// `configlist` and `p2pstdio`: its remote daemon runs `notifychanges`
/// over ssh, and fetches when the server's refs change. Through a real
/// sshd, with the remote's `annex-shell` ours and then the reference's:
/// the same messages, and the client fetched the server's new commit.
#[test]
fn the_reference_remote_daemon_follows_our_notifychanges_over_ssh() {
    use crate::support::sshd::Sshd;
    use std::io::{BufRead, Write};
    use std::process::Stdio;
    use std::time::Duration;
    let sshd = Sshd::start();
    let ours = std::path::PathBuf::from(env!("CARGO_BIN_EXE_git-annex-shell"));
    let theirs = support::reference_git_annex().with_file_name("git-annex-shell");
    let mut runs = Vec::new();
    for shell_bin in [ours, theirs] {
        let top = tempfile::tempdir().expect("tempdir");
        let srv = top.path().join("srv");
        std::fs::create_dir(&srv).expect("mkdir");
        support::git(&srv, &["init", "-q", "-b", "main"]);
        support::git(&srv, &["config", "annex.uuid", SERVER_UUID]);
        support::annex(&srv, &["init", "srv"]);
        std::fs::write(srv.join("f"), "f\n").expect("write");
        support::git(&srv, &["add", "f"]);
        support::git(&srv, &["commit", "-q", "-m", "f"]);
        let url = format!("127.0.0.1:{}", srv.display());
        let mut clone = Command::new("git");
        support::hermetic(&mut clone)
            .current_dir(top.path())
            .args(["clone", "-q", &url, "cli"]);
        sshd.client_env(&mut clone);
        let out = support::output_with_stdin(clone, None);
        assert!(out.status.success(), "clone: {out:?}");
        let cli = top.path().join("cli");
        support::git(
            &cli,
            &[
                "config",
                "remote.origin.annex-shell",
                shell_bin.to_str().expect("utf-8"),
            ],
        );
        let mut init = Command::new(support::reference_git_annex());
        support::hermetic(&mut init)
            .current_dir(&cli)
            .args(["init", "cli"]);
        sshd.client_env(&mut init);
        let out = support::output_with_stdin(init, None);
        assert!(out.status.success(), "init: {out:?}");
        let mut daemon = Command::new(support::reference_git_annex());
        support::hermetic(&mut daemon)
            .current_dir(&cli)
            .args(["remotedaemon", "--foreground"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        sshd.client_env(&mut daemon);
        let mut child = daemon.spawn().expect("remotedaemon");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let where_ = srv.display().to_string();
        let next = || {
            rx.recv_timeout(Duration::from_secs(30))
                .expect("a message from the remote daemon")
                .replace(&where_, "SRV")
        };
        let mut lines = vec![next()];
        // A new commit on the server: the daemon fetches it.
        std::fs::write(srv.join("g"), "g\n").expect("write");
        support::git(&srv, &["add", "g"]);
        support::git(&srv, &["commit", "-q", "-m", "g"]);
        let new = support::git(&srv, &["rev-parse", "HEAD"]);
        // Until the client has it (the refs there at the start may have
        // made it fetch once before).
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let mut fetched = false;
        let mut done = false;
        while !(fetched && done) && std::time::Instant::now() < deadline {
            let line = rx.recv_timeout(Duration::from_millis(200)).ok();
            fetched = fetched || support::git(&cli, &["rev-parse", "origin/main"]) == new;
            if let Some(l) = line {
                // A fetch's end, the client having the commit (the
                // daemon says it once the fetch is over).
                done = done || (fetched && l.starts_with("DONESYNCING "));
                lines.push(l.replace(&where_, "SRV"));
            }
        }
        lines.push(format!("fetched the new commit: {fetched}"));
        let mut seen = std::collections::HashSet::new();
        lines.retain(|l| seen.insert(l.clone()));
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(b"STOP\n");
        }
        let _ = child.kill();
        let _ = child.wait();
        runs.push(lines);
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0][0].starts_with("CONNECTED "), "{runs:?}");
    assert!(
        runs[0]
            .iter()
            .any(|l| l.starts_with("DONESYNCING ") && l.ends_with(" 1")),
        "{runs:?}"
    );
    assert_eq!(
        runs[0].last().map(String::as_str),
        Some("fetched the new commit: true"),
        "{runs:?}"
    );
}

#[test]
fn dropkey_batch_reads_keys_as_the_reference_does() {
    let mut logs = Vec::new();
    for is_ours in [true, false] {
        let dir = fixed_repo();
        let p = dir.path().to_str().expect("utf-8");
        let a = key(dir.path(), "a");
        let b = key(dir.path(), "b");
        let mut log = Vec::new();
        for (args, input) in [
            (
                vec!["--batch", "--force", "--json"],
                format!("{a}\nSHA256E-s1--00\n"),
            ),
            (vec!["--batch", "--force"], format!("\n{b}\n")),
            (vec!["--batch", "--force"], format!("{b}\nnotakey\n")),
            (vec!["--batch", "--force", &a], String::new()),
        ] {
            let mut all = vec!["dropkey", p];
            all.extend(args.iter().copied());
            let out = shell(is_ours, dir.path(), &all, &[], input.as_bytes());
            log.push(format!(
                "{args:?}: exit {:?} out {:?} err {:?}",
                out.status.code(),
                text(&out.stdout),
                text(&out.stderr).lines().next().unwrap_or_default()
            ));
        }
        log.extend(annex_state(dir.path()));
        logs.push(log);
    }
    assert_eq!(logs[0], logs[1]);
    assert!(logs[0][0].contains("\\\"success\\\":true"), "{logs:?}");
}

#[test]
fn options_parameters_and_missing_directories_are_refused_as_the_reference_does() {
    let dir = annexed_repo();
    let p = dir.path().to_str().expect("utf-8");
    let missing = dir.path().join("no/such/dir");
    let m = missing.to_str().expect("utf-8");
    for args in [
        vec!["configlist", m],
        vec!["p2pstdio", m, CLIENT],
        vec!["inannex", m, "SHA256E-s1--00"],
        vec!["notifychanges", m],
        vec!["configlist", p, "extra"],
        vec!["configlist", p, "--bogus"],
        vec!["p2pstdio", p, CLIENT, "--bogus"],
        vec!["p2pstdio", p, "-x"],
        vec!["sendkey", p, "--uuid"],
        vec!["notifychanges", p, "extra"],
    ] {
        same(dir.path(), &args, &[], b"");
    }
}

/// Content a P2P client holds with `LOCKCONTENT`: `inannex` still sees
/// it (exit 0), `dropkey --force` cannot take it (`content is locked`,
/// `dropkey: 1 failed`), with ours as with the reference's, each holding
/// the lock through its own `p2pstdio`.
#[test]
fn dropkey_and_inannex_on_content_a_client_holds_as_the_reference() {
    use std::io::Write;
    use std::process::Stdio;
    let mut logs = Vec::new();
    for is_ours in [true, false] {
        let dir = fixed_repo();
        let p = dir.path().to_str().expect("utf-8");
        let a = key(dir.path(), "a");
        let bin = if is_ours {
            std::path::PathBuf::from(env!("CARGO_BIN_EXE_git-annex-shell"))
        } else {
            support::reference_git_annex().with_file_name("git-annex-shell")
        };
        let mut cmd = Command::new(bin);
        support::hermetic(&mut cmd)
            .current_dir(dir.path())
            .args(["p2pstdio", p, CLIENT])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut holder = cmd.spawn().expect("p2pstdio");
        let mut to = holder.stdin.take().expect("stdin");
        let mut from = annex_core::p2p::P2pReader::new(holder.stdout.take().expect("stdout"));
        to.write_all(format!("VERSION 4\nLOCKCONTENT {a}\n").as_bytes())
            .expect("write");
        let mut replies = Vec::new();
        for _ in 0..3 {
            let m = from.read_message().expect("read").expect("a reply");
            replies.push(String::from_utf8_lossy(&m.to_line()).into_owned());
        }
        let mut log = vec![format!("{replies:?}")];
        for args in [
            vec!["inannex", p, &a],
            vec!["dropkey", p, "--force", &a],
            vec!["dropkey", p, "--force", "--json", &a],
        ] {
            let out = shell(is_ours, dir.path(), &args, &[], b"");
            log.push(format!(
                "{:?}: exit {:?} out {:?} err {:?}",
                &args[..1],
                out.status.code(),
                text(&out.stdout),
                text(&out.stderr)
            ));
        }
        to.write_all(b"UNLOCKCONTENT\n").expect("write");
        drop(to);
        let _ = holder.wait();
        log.extend(annex_state(dir.path()));
        logs.push(log);
    }
    assert_eq!(logs[0], logs[1]);
    assert!(logs[0][0].ends_with("\"SUCCESS\"]"), "{logs:?}");
    assert!(logs[0][2].contains("content is locked"), "{logs:?}");
}
