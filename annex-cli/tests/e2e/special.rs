//! End-to-end tests of special remotes (`initremote`, `enableremote`,
//! autoenable at `init`, `type=directory`, `type=external`), with the
//! reference on one side: content stored by either is got by the other,
//! the configuration written is the same, and an external program that
//! dies or answers nonsense is an error, never a hang.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support;

/// A tiny external special remote storing in the directory of its `dir=`
/// configuration; `HD_FAULT=die` makes it die in a transfer,
/// `HD_FAULT=garbage` answer a transfer with nonsense.
pub(crate) const PYDIR: &str = r#"#!/usr/bin/env python3
import os, sys, shutil
fault = os.environ.get("HD_FAULT", "")
def send(*w):
    sys.stdout.write(" ".join(w) + "\n"); sys.stdout.flush()
def recv():
    l = sys.stdin.readline()
    if not l:
        sys.exit(0)
    return l.rstrip("\n")
def ask(*w):
    send(*w)
    l = recv()
    return l[6:] if l.startswith("VALUE ") else ""
send("VERSION 1")
d = None
while True:
    line = recv()
    cmd, _, rest = line.partition(" ")
    if cmd == "EXTENSIONS":
        send("EXTENSIONS")
    elif cmd == "INITREMOTE":
        dd = ask("GETCONFIG", "dir")
        if not dd:
            send("INITREMOTE-FAILURE", "Specify dir="); continue
        os.makedirs(dd, exist_ok=True)
        send("SETCONFIG", "dir", os.path.abspath(dd))
        send("INITREMOTE-SUCCESS")
    elif cmd == "LISTCONFIGS":
        send("CONFIG", "dir", "where to store"); send("CONFIGEND")
    elif cmd == "PREPARE":
        d = ask("GETCONFIG", "dir")
        send("PREPARE-SUCCESS")
    elif cmd == "TRANSFER":
        direction, key, f = rest.split(" ", 2)
        h = ask("DIRHASH-LOWER", key)
        p = os.path.join(d, h, key)
        if fault == "die":
            sys.exit(3)
        if fault == "garbage":
            send("HELLO THERE"); continue
        if direction == "STORE":
            os.makedirs(os.path.dirname(p), exist_ok=True)
            shutil.copyfile(f, p + ".tmp"); os.rename(p + ".tmp", p)
        else:
            if not os.path.exists(p):
                send("TRANSFER-FAILURE", direction, key, "not there"); continue
            send("PROGRESS", "1")
            shutil.copyfile(p, f)
        send("TRANSFER-SUCCESS", direction, key)
    elif cmd == "CHECKPRESENT":
        h = ask("DIRHASH-LOWER", rest)
        send("CHECKPRESENT-SUCCESS" if os.path.exists(os.path.join(d, h, rest)) else "CHECKPRESENT-FAILURE", rest)
    elif cmd == "REMOVE":
        h = ask("DIRHASH-LOWER", rest)
        try:
            os.remove(os.path.join(d, h, rest))
        except FileNotFoundError:
            pass
        send("REMOVE-SUCCESS", rest)
    else:
        send("UNSUPPORTED-REQUEST")
"#;

/// An external special remote that speaks `ASYNC`: each job in a thread
/// of its own, its transfers taking 0.4 s so that jobs overlap (the most
/// at once written to `$HD_LOG/maxactive`, each start of the program to
/// `starts`, each `PREPARE` to `prepares`). `HD_FAULT` makes a transfer
/// answer under a job number not in use (`unknownjob`), untagged
/// (`untagged`), die (`die`) or send an untagged `ERROR` (`error`).
const PYASYNC: &str = r#"#!/usr/bin/env python3
import os, sys, shutil, threading, queue, time
fault = os.environ.get("HD_FAULT", "")
out_lock = threading.Lock()
def send(*w):
    with out_lock:
        sys.stdout.write(" ".join(w) + "\n"); sys.stdout.flush()
state = {"active": 0, "max": 0, "d": None}
state_lock = threading.Lock()
queues = {}
def log(name, text):
    d = os.environ.get("HD_LOG")
    if d:
        with open(os.path.join(d, name), "a") as f:
            f.write(text + "\n")
log("starts", str(os.getpid()))
def job(n, line, q):
    def reply(*w):
        send("J", n, *w)
    def ask(*w):
        reply(*w)
        l = q.get()
        return l[6:] if l.startswith("VALUE ") else ""
    cmd, _, rest = line.partition(" ")
    if cmd == "INITREMOTE":
        dd = ask("GETCONFIG", "dir")
        os.makedirs(dd, exist_ok=True)
        reply("SETCONFIG", "dir", os.path.abspath(dd))
        reply("INITREMOTE-SUCCESS")
    elif cmd == "LISTCONFIGS":
        reply("CONFIG", "dir", "where to store"); reply("CONFIGEND")
    elif cmd == "PREPARE":
        log("prepares", n)
        state["d"] = ask("GETCONFIG", "dir")
        reply("PREPARE-SUCCESS")
    elif cmd == "TRANSFER":
        direction, key, f = rest.split(" ", 2)
        h = ask("DIRHASH-LOWER", key)
        p = os.path.join(state["d"], h, key)
        with state_lock:
            state["active"] += 1
            state["max"] = max(state["max"], state["active"])
            log("maxactive", str(state["max"]))
        time.sleep(0.4)
        with state_lock:
            state["active"] -= 1
        if fault == "die":
            os._exit(3)
        if fault == "unknownjob":
            send("J", "999", "TRANSFER-SUCCESS", direction, key); return
        if fault == "untagged":
            send("TRANSFER-SUCCESS", direction, key); return
        if fault == "error":
            send("ERROR", "the storage is on fire"); return
        if direction == "STORE":
            os.makedirs(os.path.dirname(p), exist_ok=True)
            shutil.copyfile(f, p + ".tmp." + n); os.rename(p + ".tmp." + n, p)
        else:
            if not os.path.exists(p):
                reply("TRANSFER-FAILURE", direction, key, "not there"); return
            reply("PROGRESS", "1")
            shutil.copyfile(p, f)
        reply("TRANSFER-SUCCESS", direction, key)
    elif cmd == "CHECKPRESENT":
        h = ask("DIRHASH-LOWER", rest)
        reply("CHECKPRESENT-SUCCESS" if os.path.exists(os.path.join(state["d"], h, rest)) else "CHECKPRESENT-FAILURE", rest)
    elif cmd == "REMOVE":
        h = ask("DIRHASH-LOWER", rest)
        try:
            os.remove(os.path.join(state["d"], h, rest))
        except FileNotFoundError:
            pass
        reply("REMOVE-SUCCESS", rest)
    else:
        reply("UNSUPPORTED-REQUEST")
send("VERSION 2")
while True:
    l = sys.stdin.readline()
    if not l:
        os._exit(0)
    l = l.rstrip("\n")
    if l.startswith("EXTENSIONS"):
        send("EXTENSIONS ASYNC")
        continue
    if l.startswith("ERROR"):
        os._exit(1)
    if not l.startswith("J "):
        send("ERROR", "untagged request: " + l)
        continue
    _, n, msg = l.split(" ", 2)
    if n in queues and (msg.startswith("VALUE") or msg.startswith("CREDS")):
        queues[n].put(msg)
        continue
    q = queue.Queue()
    queues[n] = q
    threading.Thread(target=job, args=(n, msg, q), daemon=True).start()
"#;

/// A scratch area: a bin directory holding the test program, put first
/// on PATH.
pub(crate) struct Area {
    pub(crate) dir: tempfile::TempDir,
}

impl Area {
    pub(crate) fn new() -> Area {
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).expect("bin");
        let prog = bin.join("git-annex-remote-pydir");
        std::fs::write(&prog, PYDIR).expect("write program");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let prog = bin.join("git-annex-remote-pyasync");
        std::fs::write(&prog, PYASYNC).expect("write program");
        std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::fs::create_dir(dir.path().join("log")).expect("log dir");
        Area { dir }
    }

    pub(crate) fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub(crate) fn run(&self, program: &Path, dir: &Path, args: &[&str], fault: &str) -> Output {
        let mut cmd = Command::new(program);
        support::hermetic(&mut cmd);
        let path = format!(
            "{}:{}",
            self.path("bin").display(),
            cmd.get_envs()
                .find(|(k, _)| *k == "PATH")
                .and_then(|(_, v)| v)
                .map(|v| v.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        cmd.current_dir(dir)
            .env("PATH", path)
            .env("HD_FAULT", fault)
            .env("HD_LOG", self.path("log"))
            .args(args);
        support::output_with_stdin(cmd, None)
    }

    pub(crate) fn ours(&self, dir: &Path, args: &[&str]) -> Output {
        self.run(Path::new(env!("CARGO_BIN_EXE_git-annex-rs")), dir, args, "")
    }

    pub(crate) fn theirs(&self, dir: &Path, args: &[&str]) -> Output {
        self.run(support::reference_git_annex(), dir, args, "")
    }

    /// A repository initialized by the reference with one annexed,
    /// committed file `f`.
    pub(crate) fn repo(&self, name: &str) -> PathBuf {
        let r = self.path(name);
        std::fs::create_dir(&r).expect("mkdir");
        support::git(&r, &["init", "-q"]);
        ok(&self.theirs(&r, &["init", "-q"]));
        std::fs::write(r.join("f"), "content of f\n").expect("write");
        ok(&self.theirs(&r, &["add", "-q", "f"]));
        support::git(&r, &["commit", "-q", "-m", "f"]);
        r
    }

    pub(crate) fn clone(&self, from: &Path, name: &str) -> PathBuf {
        let r = self.path(name);
        support::git(
            self.dir.path(),
            &["clone", "-q", &from.display().to_string(), name],
        );
        r
    }
}

#[track_caller]
pub(crate) fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The remote's section of `.git/config`, its UUID replaced.
fn remote_section(repo: &Path, name: &str) -> String {
    let text = std::fs::read_to_string(repo.join(".git/config")).expect("config");
    let start = text
        .find(&format!("[remote \"{name}\"]"))
        .expect("remote section");
    let rest = &text[start..];
    let end = rest[1..].find("\n[").map(|i| i + 2).unwrap_or(rest.len());
    rest[..end]
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("annex-uuid") {
                "\tannex-uuid = U".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `remote.log` with UUIDs and timestamps blanked and the area's path
/// made `AREA`.
fn remote_log(area: &Area, repo: &Path) -> String {
    let log = support::git(repo, &["cat-file", "-p", "git-annex:remote.log"]);
    let mut lines: Vec<String> = log
        .lines()
        .map(|l| {
            l.split(' ')
                .skip(1)
                .filter(|w| !w.starts_with("timestamp="))
                .collect::<Vec<_>>()
                .join(" ")
                .replace(&area.dir.path().display().to_string(), "AREA")
        })
        .collect();
    // Lines are in UUID order: the UUIDs differ.
    lines.sort();
    lines.join("\n")
}

#[test]
fn initremote_writes_what_the_reference_writes() {
    let a = Area::new();
    let t = a.repo("t");
    let o = a.repo("o");
    std::fs::create_dir(a.path("dt")).expect("mkdir");
    std::fs::create_dir(a.path("do")).expect("mkdir");
    let to = ok(&a.theirs(
        &t,
        &[
            "initremote",
            "d",
            "type=directory",
            "directory=../dt",
            "encryption=none",
        ],
    ));
    let oo = ok(&a.ours(
        &o,
        &[
            "initremote",
            "d",
            "type=directory",
            "directory=../do",
            "encryption=none",
        ],
    ));
    assert_eq!(to, oo);
    assert_eq!(
        remote_section(&t, "d").replace("/dt", "/DIR"),
        remote_section(&o, "d").replace("/do", "/DIR")
    );
    let to = ok(&a.theirs(
        &t,
        &[
            "initremote",
            "--json",
            "e",
            "type=external",
            "externaltype=pydir",
            "dir=../st",
            "encryption=none",
            "autoenable=true",
        ],
    ));
    let oo = ok(&a.ours(
        &o,
        &[
            "initremote",
            "--json",
            "e",
            "type=external",
            "externaltype=pydir",
            "dir=../st",
            "encryption=none",
            "autoenable=true",
        ],
    ));
    assert_eq!(to, oo);
    assert_eq!(remote_section(&t, "e"), remote_section(&o, "e"));
    assert_eq!(remote_log(&a, &t), remote_log(&a, &o));
    // Refusals: the same stdout and exit code.
    for args in [
        &["initremote"][..],
        &["initremote", "x", "type=directory", "directory=/tmp"],
        &[
            "initremote",
            "d",
            "type=directory",
            "directory=/tmp",
            "encryption=none",
        ],
        &["initremote", "y", "type=directory", "encryption=none"],
        &[
            "initremote",
            "y",
            "type=directory",
            "directory=../dt",
            "foo=bar",
            "zap=1",
            "encryption=none",
        ],
        &[
            "initremote",
            "y",
            "type=external",
            "externaltype=pydir",
            "dir=../x",
            "foo=bar",
            "encryption=none",
        ],
        &[
            "initremote",
            "y",
            "type=directory",
            "directory=../nonexistent",
            "encryption=none",
        ],
        &[
            "initremote",
            "--whatelse",
            "y",
            "type=external",
            "externaltype=pydir",
        ],
        &["initremote", "--whatelse", "--json", "y", "type=directory"],
        &["initremote", "--whatelse", "y"],
        &[
            "initremote",
            "-w",
            "y",
            "type=directory",
            "directory=/tmp",
            "encryption=none",
        ],
        &[
            "initremote",
            "--json",
            "y",
            "type=directory",
            "directory=/tmp",
        ],
    ] {
        let (th, ou) = (a.theirs(&t, args), a.ours(&o, args));
        let err = |e: &[u8]| {
            String::from_utf8_lossy(e)
                .replace("git-annex-rs:", "git-annex:")
                .replace(&a.dir.path().display().to_string(), "AREA")
                .replace("AREA/t/", "AREA/")
                .replace("AREA/o/", "AREA/")
        };
        assert_eq!(
            (
                String::from_utf8_lossy(&th.stdout),
                th.status.code(),
                err(&th.stderr)
            ),
            (
                String::from_utf8_lossy(&ou.stdout),
                ou.status.code(),
                err(&ou.stderr)
            ),
            "{args:?}"
        );
    }
}

/// One implementation run in a directory.
type Side<'a> = dyn Fn(&Path, &[&str]) -> Output + 'a;

/// Content stored in a special remote by one implementation is got from
/// it by the other, after `enableremote` (directory) or autoenable at
/// `init` (external).
fn both_ways(theirs_store: bool) {
    let a = Area::new();
    let origin = a.repo("origin");
    std::fs::create_dir(a.path("dir")).expect("mkdir");
    let (store_side, get_side): (&Side, &Side) = if theirs_store {
        (&|d, x| a.theirs(d, x), &|d, x| a.ours(d, x))
    } else {
        (&|d, x| a.ours(d, x), &|d, x| a.theirs(d, x))
    };
    ok(&store_side(
        &origin,
        &[
            "initremote",
            "d",
            "type=directory",
            "directory=../dir",
            "encryption=none",
        ],
    ));
    ok(&store_side(
        &origin,
        &[
            "initremote",
            "e",
            "type=external",
            "externaltype=pydir",
            "dir=../ext",
            "encryption=none",
            "autoenable=true",
        ],
    ));
    ok(&store_side(&origin, &["copy", "--to", "d", "f"]));
    ok(&store_side(&origin, &["copy", "--to", "e", "f"]));
    let c = a.clone(&origin, "clone");
    ok(&get_side(&c, &["init"]));
    assert!(
        std::fs::read_to_string(c.join(".git/config"))
            .expect("config")
            .contains("annex-externaltype = pydir"),
        "autoenabled"
    );
    ok(&get_side(&c, &["get", "--from", "e", "f"]));
    assert_eq!(
        std::fs::read_to_string(c.join("f")).expect("f"),
        "content of f\n"
    );
    ok(&get_side(&c, &["drop", "f"]));
    ok(&get_side(
        &c,
        &[
            "enableremote",
            "d",
            &format!("directory={}", a.path("dir").display()),
        ],
    ));
    // Both refuse to read from a remote enabled by hand, and to write to
    // one enabled automatically, until it is verified with the code
    // `verifyremote` prints.
    let refused = get_side(&c, &["get", "--from", "d", "f"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("git-annex verifyremote d"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    for r in ["d", "e"] {
        let v = get_side(&c, &["verifyremote", r]);
        let said = String::from_utf8_lossy(&v.stdout).into_owned();
        let code = said
            .split("--safe ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("no code: {said}"));
        ok(&get_side(&c, &["verifyremote", r, "--safe", code]));
    }
    ok(&get_side(&c, &["get", "--from", "d", "f"]));
    assert_eq!(
        std::fs::read_to_string(c.join("f")).expect("f"),
        "content of f\n"
    );
    // Removal from each by the getting side, then the storing side sees
    // the content gone.
    ok(&get_side(&c, &["drop", "--from", "e", "f"]));
    ok(&get_side(&c, &["drop", "--from", "d", "f"]));
    let w = store_side(&origin, &["whereis", "--fast", "f"]);
    let _ = w;
    for r in ["d", "e"] {
        let o = store_side(&origin, &["fsck", "--fast", "--from", r, "f"]);
        assert!(
            !o.status.success(),
            "{r}: content still said to be there: {}",
            String::from_utf8_lossy(&o.stdout)
        );
    }
}

#[test]
fn content_stored_by_the_reference_is_got_by_us() {
    both_ways(true);
}

#[test]
fn content_stored_by_us_is_got_by_the_reference() {
    both_ways(false);
}

#[test]
fn an_external_program_that_dies_or_answers_nonsense_is_an_error() {
    let a = Area::new();
    let r = a.repo("r");
    ok(&a.ours(
        &r,
        &[
            "initremote",
            "e",
            "type=external",
            "externaltype=pydir",
            "dir=../ext",
            "encryption=none",
        ],
    ));
    let ours = Path::new(env!("CARGO_BIN_EXE_git-annex-rs"));
    let died = a.run(ours, &r, &["copy", "--to", "e", "f"], "die");
    assert_eq!(died.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&died.stderr).contains("exited or closed its output"),
        "{}",
        String::from_utf8_lossy(&died.stderr)
    );
    let garbage = a.run(ours, &r, &["copy", "--to", "e", "f"], "garbage");
    assert_eq!(garbage.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&garbage.stderr).contains("unexpectedly received \"HELLO THERE\""),
        "{}",
        String::from_utf8_lossy(&garbage.stderr)
    );
    // A program that is not installed.
    let o = a.ours(
        &r,
        &[
            "initremote",
            "n",
            "type=external",
            "externaltype=nosuchprogram",
            "encryption=none",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Cannot run git-annex-remote-nosuchprogram")
    );
    // And then it works.
    ok(&a.ours(&r, &["copy", "--to", "e", "f"]));
}

/// The setup commands run through the same scenario by the reference and
/// by us, in a clone of a repository with a directory and an external
/// remote (autoenabled): stdout and exit codes, then `remote.log`, git
/// config and the verification logs, compared.
#[test]
fn setup_commands_match_the_reference() {
    let mut seen = Vec::new();
    for theirs in [true, false] {
        let a = Area::new();
        let origin = a.repo("v");
        std::fs::create_dir(a.path("vd")).expect("mkdir");
        ok(&a.theirs(
            &origin,
            &[
                "initremote",
                "d",
                "type=directory",
                "directory=../vd",
                "encryption=none",
            ],
        ));
        ok(&a.theirs(
            &origin,
            &[
                "initremote",
                "e",
                "type=external",
                "externaltype=pydir",
                "dir=../vs",
                "encryption=none",
                "autoenable=true",
            ],
        ));
        ok(&a.theirs(&origin, &["copy", "--to", "d", "f"]));
        ok(&a.theirs(&origin, &["copy", "--to", "e", "f"]));
        let c = a.clone(&origin, "vc");
        let dir = format!("directory={}", a.path("vd").display());
        let run = |args: &[&str]| {
            if theirs {
                a.theirs(&c, args)
            } else {
                a.ours(&c, args)
            }
        };
        let mut out = String::new();
        for args in [
            &["init"][..],
            &["enableremote"],
            &["enableremote", "nosuch"],
            &["configremote"],
            &["configremote", "nosuch", "autoenable=true"],
            &["configremote", "e", "dir=/x"],
            &["configremote", "e", "autoenable=maybe"],
            &["configremote", "e", "autoenable=false"],
            &["configremote", "--json", "e", "autoenable=true"],
            &["enableremote", "d", &dir],
            &["verifyremote", "d"],
            &["verifyremote", "origin"],
            &["verifyremote", "nosuch"],
            &["verifyremote", "d", "--safe", "9"],
            &["get", "--from", "e", "f"],
            &["pre-push"],
            &["verifyremote", "d", "--unsafe"],
            &["verifyremote", "d", "--safe", "2"],
            &["verifyremote", "e"],
            &["pre-push"],
            &["verifyremote", "e", "--safe", "4"],
            &["pre-push"],
            &["drop", "--from", "e", "f"],
            &["renameremote"],
            &["renameremote", "e"],
            &["renameremote", "e", "e2"],
            &["renameremote", "e2", "d"],
            &["renameremote", "nosuch", "x"],
            &["renameremote", "--json", "e2", "e3"],
            &["enableremote", "d"],
        ] {
            if ["configremote", "renameremote", "enableremote"].contains(&args[0]) && args.len() > 1
            {
                // `remote.log` keeps whole seconds: a change in the same
                // second as the one before loses to it in the reference.
                std::thread::sleep(std::time::Duration::from_millis(1050));
            }
            let o = run(args);
            let stdout = String::from_utf8_lossy(&o.stdout)
                .lines()
                // The reference's meter (its line ends with the outcome).
                .map(|l| {
                    if l.contains("B/s") {
                        l.rsplit([' ', '\r']).next().unwrap_or("")
                    } else {
                        l
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
                .replace("(from e...) \n", "(from e...) ")
                .replace(&a.dir.path().display().to_string(), "AREA");
            let label = format!("{args:?}").replace(&a.dir.path().display().to_string(), "AREA");
            out.push_str(&format!("== {label}\n{stdout}\nrc={:?}\n", o.status.code()));
        }
        let config = std::fs::read_to_string(c.join(".git/config")).expect("config");
        let section =
            |n: &str| remote_section(&c, n).replace(&a.dir.path().display().to_string(), "AREA");
        let verifying: Vec<String> =
            std::fs::read_to_string(c.join(".git/annex/verifying-remote.log"))
                .unwrap_or_default()
                .lines()
                .map(|l| {
                    l.split_once(' ')
                        .map(|x| x.1)
                        .unwrap_or("")
                        .replace(&a.dir.path().display().to_string(), "AREA")
                })
                .collect();
        let verified: Vec<String> =
            std::fs::read_to_string(c.join(".git/annex/verified-remote.log"))
                .unwrap_or_default()
                .lines()
                .map(|l| {
                    l.split(' ')
                        .skip(1)
                        .filter(|w| !w.starts_with("timestamp="))
                        .collect::<Vec<_>>()
                        .join(" ")
                        .replace(&a.dir.path().display().to_string(), "AREA")
                })
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
        assert!(config.contains("annex-verified"), "{config}");
        seen.push((
            out,
            section("d"),
            section("e"),
            remote_log(&a, &c),
            verifying,
            verified,
        ));
    }
    let (t, o) = (&seen[0], &seen[1]);
    assert_eq!(t.0, o.0, "stdout and exit codes");
    assert_eq!((&t.1, &t.2), (&o.1, &o.2), "git config");
    assert_eq!(t.3, o.3, "remote.log");
    assert_eq!(t.4, o.4, "verifying-remote.log");
    assert_eq!(t.5, o.5, "verified-remote.log");
}

/// The lines the `ASYNC` test program logged in `name`, then forgotten.
fn take_log(a: &Area, name: &str) -> Vec<String> {
    let p = a.path("log").join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_default();
    let _ = std::fs::remove_file(&p);
    text.lines().map(str::to_string).collect()
}

/// `ASYNC` (the protocol's async appendix): with `-J`, one program runs
/// several jobs at once, prepared once; what we store through it the
/// reference gets through it and the reverse; a program that answers
/// under a job number not in use, untagged, dies or sends `ERROR` in the
/// middle of jobs makes them fail with an error naming it, never a hang.
#[test]
fn an_async_external_program_runs_jobs_at_once_and_its_faults_are_errors() {
    let a = Area::new();
    let r = a.repo("r");
    let files: Vec<String> = (1..=4).map(|i| format!("g{i}")).collect();
    for (i, f) in files.iter().enumerate() {
        std::fs::write(r.join(f), format!("content {i}\n")).expect("write");
    }
    ok(&a.theirs(&r, &["add", "-q", "."]));
    support::git(&r, &["commit", "-q", "-m", "g"]);
    ok(&a.ours(
        &r,
        &[
            "initremote",
            "e",
            "type=external",
            "externaltype=pyasync",
            "dir=../ea",
            "encryption=none",
        ],
    ));
    take_log(&a, "starts");
    let mut all: Vec<&str> = vec!["f"];
    all.extend(files.iter().map(String::as_str));
    let mut copy = vec!["copy", "--to", "e", "-J4"];
    copy.extend(&all);
    let out = ok(&a.ours(&r, &copy));
    assert_eq!(out.matches(") ok").count(), 5, "{out}");
    assert_eq!(take_log(&a, "starts").len(), 1, "one program for every job");
    assert_eq!(take_log(&a, "prepares").len(), 1, "prepared once");
    let most: usize = take_log(&a, "maxactive")
        .iter()
        .filter_map(|l| l.parse().ok())
        .max()
        .unwrap_or(0);
    assert!(most >= 2, "transfers ran one at a time: {most}");
    // The reference gets what we stored, through the same program.
    ok(&a.theirs(&r, &["drop", "-q", "."]));
    let mut get = vec!["get", "--from", "e", "-J4"];
    get.extend(&all);
    ok(&a.theirs(&r, &get));
    assert_eq!(
        std::fs::read_to_string(r.join("g3")).expect("g3"),
        "content 2\n"
    );
    // And we get what it stores.
    ok(&a.theirs(&r, &["drop", "-q", "--from", "e", "."]));
    ok(&a.theirs(&r, &copy));
    ok(&a.ours(&r, &["drop", "-q", "."]));
    take_log(&a, "starts");
    let out = ok(&a.ours(&r, &get));
    assert_eq!(out.matches(") ok").count(), 5, "{out}");
    assert_eq!(take_log(&a, "starts").len(), 1);
    ok(&a.theirs(&r, &["fsck", "-q", "."]));
    ok(&a.ours(&r, &["fsck", "-q", "--from", "e", "-J4", "."]));
    ok(&a.ours(&r, &["drop", "-q", "--from", "e", "-J4", "g1", "g2"]));
    // Faults in the middle of jobs: errors, never a hang.
    let ours = Path::new(env!("CARGO_BIN_EXE_git-annex-rs"));
    for (fault, said) in [
        ("unknownjob", "unknown job number"),
        ("untagged", "unexpected non-async message"),
        ("die", "exited or closed its output"),
        ("error", "the storage is on fire"),
    ] {
        let o = a.run(
            Path::new("timeout"),
            &r,
            &[
                "120",
                &ours.display().to_string(),
                "copy",
                "--to",
                "e",
                "-J2",
                "g1",
                "g2",
            ],
            fault,
        );
        let out = String::from_utf8_lossy(&o.stdout);
        let err = format!("{out}{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(o.status.code(), Some(1), "{fault}: {err}");
        assert!(err.contains(said), "{fault}: {err}");
        assert!(!out.contains(") ok"), "{fault}: {out}");
    }
    // And then it works.
    ok(&a.ours(&r, &["copy", "--to", "e", "-J2", "g1", "g2"]));
}
