//! The ssh connection layer of ssh remotes (issue 13), through a real
//! sshd on 127.0.0.1 with plain `ssh` (not git's): connection caching
//! under `.git/annex/ssh/`, `annex.sshcaching=false`, `-J2` over two P2P
//! connections, an interrupted download resumed, an upload resumed from
//! the server's offset, a drop under a lock on another remote sent as
//! `REMOVE-BEFORE`, and `copy -J` asking about a chunk of keys at once.
//!
//! The server side runs a wrapper as `remote.NAME.annex-shell`: it notes
//! `$SSH_CONNECTION` (the client's address and port: one per TCP
//! connection, shared by the sessions of one ssh master) with the
//! subcommand, keeps what the client sent, and can cut the server's
//! output after a number of bytes (a connection lost mid-transfer).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support;
use crate::support::sshd::Sshd;

const SRV_UUID: &str = "aaaaaaaa-0000-0000-0000-0000000000a1";
const SRV2_UUID: &str = "aaaaaaaa-0000-0000-0000-0000000000a2";
const CLI_UUID: &str = "cccccccc-0000-0000-0000-0000000000c1";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// ssh's options to reach `sshd` (its key, no host key checks), without
/// the port, which the URL gives.
fn ssh_options(sshd: &Sshd) -> String {
    let cmd = sshd.ssh_command();
    let mut words = cmd.split_whitespace().skip(1);
    let mut out = Vec::new();
    while let Some(w) = words.next() {
        if w == "-p" {
            words.next();
        } else {
            out.push(w);
        }
    }
    out.join(" ")
}

/// Runs `program` (ours or the reference) in `dir` with plain ssh.
fn run(program: &Path, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(program);
    support::hermetic(&mut cmd)
        .current_dir(dir)
        .args(args)
        .env_remove("GIT_SSH_COMMAND")
        .env_remove("GIT_SSH")
        .env_remove("GIT_ANNEX_USE_GIT_SSH");
    support::output_with_stdin(cmd, None)
}

/// `git ARGS` in `dir`, whatever its exit status.
fn git_out(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new("git");
    support::hermetic(&mut cmd).current_dir(dir).args(args);
    support::output_with_stdin(cmd, None)
}

fn ours_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_git-annex-rs"))
}

/// A served repository with its wrapper shell and logs.
struct Served {
    repo: PathBuf,
    /// The wrapper, for `remote.NAME.annex-shell`.
    shell: PathBuf,
    /// `$SSH_CONNECTION SUBCOMMAND`, a line per git-annex-shell run.
    conn_log: PathBuf,
    /// What clients sent to git-annex-shell.
    input_log: PathBuf,
    /// When it exists, holds N: the server's output is cut after N bytes.
    cut: PathBuf,
    /// When it exists, p2pstdio waits this long (seconds) before serving.
    delay: PathBuf,
    /// When it exists, holds N: the first answer to a `CHECKPRESENT` is
    /// held back until N of them came in (at most 10 s; `GATE.late`
    /// tells it did not happen).
    gate: PathBuf,
}

impl Served {
    fn new(top: &Path, name: &str, uuid: &str, files: &[(&str, &[u8])]) -> Served {
        let repo = top.join(name);
        std::fs::create_dir(&repo).expect("mkdir");
        support::git(&repo, &["init", "-q", "-b", "main"]);
        support::git(&repo, &["config", "annex.uuid", uuid]);
        support::annex(&repo, &["init", name]);
        for (f, c) in files {
            std::fs::write(repo.join(f), c).expect("write");
            support::annex(&repo, &["add", f]);
        }
        support::git(&repo, &["commit", "-q", "--allow-empty", "-m", "files"]);
        Served::wrap(top, &repo, name)
    }

    fn wrap(top: &Path, repo: &Path, name: &str) -> Served {
        let real = support::reference_git_annex().with_file_name("git-annex-shell");
        let s = Served {
            repo: repo.to_path_buf(),
            shell: top.join(format!("{name}-shell")),
            conn_log: top.join(format!("{name}.conn")),
            input_log: top.join(format!("{name}.in")),
            cut: top.join(format!("{name}.cut")),
            delay: top.join(format!("{name}.delay")),
            gate: top.join(format!("{name}.gate")),
        };
        let script = format!(
            "#!/bin/sh\n\
             echo \"$SSH_CONNECTION $1\" >> '{conn}'\n\
             if [ \"$1\" = p2pstdio ] && [ -e '{delay}' ]; then sleep \"$(cat '{delay}')\"; fi\n\
             if [ \"$1\" = p2pstdio ] && [ -e '{gate}' ]; then\n\
               tee -a '{input}' | '{real}' \"$@\" | {{\n\
                 held=0\n\
                 while IFS= read -r line; do\n\
                   case \"$held$line\" in 0SUCCESS*|0FAILURE*)\n\
                     held=1; i=0\n\
                     while [ \"$(grep -c '^CHECKPRESENT ' '{input}')\" -lt \"$(cat '{gate}')\" ]; do\n\
                       i=$((i+1)); if [ $i -ge 100 ]; then echo late > '{gate}.late'; break; fi\n\
                       sleep 0.1\n\
                     done;;\n\
                   esac\n\
                   printf '%s\\n' \"$line\"\n\
                 done\n\
               }}\n\
             elif [ \"$1\" = p2pstdio ] && [ -e '{cut}' ]; then\n\
               tee -a '{input}' | '{real}' \"$@\" | (stdbuf -o0 head -c \"$(cat '{cut}')\"; kill 0)\n\
             else\n\
               tee -a '{input}' | '{real}' \"$@\"\n\
             fi\n",
            conn = s.conn_log.display(),
            delay = s.delay.display(),
            cut = s.cut.display(),
            gate = s.gate.display(),
            input = s.input_log.display(),
            real = real.display(),
        );
        std::fs::write(&s.shell, script).expect("write wrapper");
        let mut perm = std::fs::metadata(&s.shell).expect("stat").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&s.shell, perm).expect("chmod");
        s
    }

    fn conn_lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.conn_log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn input(&self) -> String {
        text(&std::fs::read(&self.input_log).unwrap_or_default())
    }

    fn reset_logs(&self) {
        let _ = std::fs::remove_file(&self.conn_log);
        let _ = std::fs::remove_file(&self.input_log);
    }
}

/// A client clone of `srv` whose remote `name` reaches it over ssh
/// (plain ssh, the sshd's options as `annex-ssh-options`, the wrapper
/// as `annex-shell`); the remote's UUID is left to be learned.
fn client(sshd: &Sshd, top: &Path, dir: &str, srv: &Served) -> PathBuf {
    let cli = top.join(dir);
    support::git(
        top,
        &["clone", "-q", srv.repo.to_str().expect("utf-8"), dir],
    );
    support::git(&cli, &["config", "annex.uuid", CLI_UUID]);
    support::annex(&cli, &["init", "cli"]);
    add_remote(sshd, &cli, "origin", srv);
    cli
}

fn add_remote(sshd: &Sshd, cli: &Path, name: &str, srv: &Served) {
    let url = format!("ssh://127.0.0.1:{}{}", sshd.port(), srv.repo.display());
    if git_out(cli, &["remote", "get-url", name]).status.success() {
        support::git(cli, &["remote", "set-url", name, &url]);
    } else {
        support::git(cli, &["remote", "add", name, &url]);
    }
    let _ = git_out(
        cli,
        &["config", "--unset", &format!("remote.{name}.annex-uuid")],
    );
    support::git(
        cli,
        &[
            "config",
            &format!("remote.{name}.annex-ssh-options"),
            &ssh_options(sshd),
        ],
    );
    support::git(
        cli,
        &[
            "config",
            &format!("remote.{name}.annex-shell"),
            srv.shell.to_str().expect("utf-8"),
        ],
    );
}

/// The distinct client connections (`$SSH_CONNECTION`) in a log.
fn connections(lines: &[String]) -> std::collections::BTreeSet<String> {
    lines
        .iter()
        .filter_map(|l| l.rsplit_once(' ').map(|(c, _)| c.to_string()))
        .collect()
}

fn files(n: usize, size: usize) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let body: Vec<u8> = (0..size).map(|j| (j * 7 + i * 13) as u8).collect();
            (format!("f{i}"), body)
        })
        .collect()
}

fn as_refs(v: &[(String, Vec<u8>)]) -> Vec<(&str, &[u8])> {
    v.iter().map(|(n, c)| (n.as_str(), c.as_slice())).collect()
}

fn ssh_dir_names(repo: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(repo.join(".git/annex/ssh"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// With caching (the default), every ssh run of a command (configlist,
/// then p2pstdio) goes over one master: one TCP connection to the sshd.
/// The socket is `.git/annex/ssh/127.0.0.1!PORT` with its lock file, as
/// the reference names them, and the master is stopped at the end.
#[test]
fn caching_makes_one_ssh_master_per_remote_as_the_reference() {
    let sshd = Sshd::start();
    let top = tempfile::tempdir().expect("temp dir");
    let fs = files(3, 1000);
    let srv = Served::new(top.path(), "srv", SRV_UUID, &as_refs(&fs));
    let mut seen = Vec::new();
    for (program, dir) in [
        (ours_bin(), "ours"),
        (support::reference_git_annex(), "theirs"),
    ] {
        srv.reset_logs();
        let cli = client(&sshd, top.path(), dir, &srv);
        let out = run(program, &cli, &["get", "f0", "f1", "f2"]);
        assert!(out.status.success(), "{dir}: {out:?}");
        let lines = srv.conn_lines();
        assert!(
            lines.iter().any(|l| l.ends_with(" configlist"))
                && lines.iter().any(|l| l.ends_with(" p2pstdio")),
            "{dir}: {lines:?}"
        );
        assert_eq!(connections(&lines).len(), 1, "{dir}: {lines:?}");
        let socket = format!("127.0.0.1!{}", sshd.port());
        // Stopped at the end: only the lock file is left.
        assert_eq!(
            ssh_dir_names(&cli),
            [format!("{socket}.lock")],
            "{dir}: the socket directory"
        );
        for f in ["f0", "f1", "f2"] {
            let content = std::fs::read(cli.join(f)).expect("got");
            assert_eq!(content.len(), 1000);
        }
        seen.push(lines.len());
    }
    // The same ssh runs as the reference's.
    assert_eq!(seen[0], seen[1], "ours, the reference's");
}

/// `annex.sshcaching=false`: no master, no socket directory; every ssh
/// run is a connection of its own.
#[test]
fn sshcaching_false_uses_no_master() {
    let sshd = Sshd::start();
    let top = tempfile::tempdir().expect("temp dir");
    let fs = files(2, 100);
    let srv = Served::new(top.path(), "srv", SRV_UUID, &as_refs(&fs));
    let cli = client(&sshd, top.path(), "cli", &srv);
    support::git(&cli, &["config", "annex.sshcaching", "false"]);
    let out = run(ours_bin(), &cli, &["get", "f0", "f1"]);
    assert!(out.status.success(), "{out:?}");
    let lines = srv.conn_lines();
    assert_eq!(lines.len(), 2, "configlist, one p2pstdio: {lines:?}");
    assert_eq!(connections(&lines).len(), 2, "{lines:?}");
    assert!(!cli.join(".git/annex/ssh").exists());
}

/// `get -J2`: two P2P connections (each a session of the one master),
/// and the same outcome as the reference's `get -J2`.
#[test]
fn j2_gets_over_two_connections_as_the_reference() {
    let sshd = Sshd::start();
    let top = tempfile::tempdir().expect("temp dir");
    let fs = files(6, 200_000);
    let srv = Served::new(top.path(), "srv", SRV_UUID, &as_refs(&fs));
    // Both workers ask for a connection before either is served.
    std::fs::write(&srv.delay, "1").expect("delay");
    let names: Vec<&str> = fs.iter().map(|(n, _)| n.as_str()).collect();
    let mut results = Vec::new();
    for (program, dir) in [
        (ours_bin(), "ours"),
        (support::reference_git_annex(), "theirs"),
    ] {
        srv.reset_logs();
        let cli = client(&sshd, top.path(), dir, &srv);
        let mut args = vec!["get", "-J2", "--json"];
        args.extend(&names);
        let out = run(program, &cli, &args);
        assert!(out.status.success(), "{dir}: {out:?}");
        let lines = srv.conn_lines();
        let p2p = lines.iter().filter(|l| l.ends_with(" p2pstdio")).count();
        assert_eq!(p2p, 2, "{dir}: {lines:?}");
        assert_eq!(connections(&lines).len(), 1, "{dir}: one master: {lines:?}");
        let mut json: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
        json.sort();
        let whereis = run(program, &cli, &["whereis", "--json"]);
        results.push((json, text(&whereis.stdout)));
        for (n, c) in &fs {
            assert_eq!(&std::fs::read(cli.join(n)).expect("got"), c, "{dir}: {n}");
        }
    }
    assert_eq!(results[0], results[1], "ours, the reference's");
}

/// A download cut off mid-transfer leaves its partial file in
/// `.git/annex/tmp`; the next `get` asks for the rest only (`GET` with the
/// partial file's size) and gets the right content.
#[test]
fn an_interrupted_get_resumes_from_the_partial_file() {
    let sshd = Sshd::start();
    let top = tempfile::tempdir().expect("temp dir");
    let fs = files(1, 3_000_000);
    let srv = Served::new(top.path(), "srv", SRV_UUID, &as_refs(&fs));
    let cli = client(&sshd, top.path(), "cli", &srv);
    let key = support::annex(&cli, &["lookupkey", "f0"])
        .trim()
        .to_string();
    // The server's output cut after about a third of the content.
    std::fs::write(&srv.cut, "1000000").expect("cut");
    let out = run(ours_bin(), &cli, &["get", "f0"]);
    assert!(!out.status.success(), "{out:?}");
    let tmp = cli.join(".git/annex/tmp").join(&key);
    let partial = std::fs::metadata(&tmp)
        .unwrap_or_else(|e| panic!("the partial file is kept: {e}: {out:?}"))
        .len();
    assert!(
        partial > 0 && partial < 1_000_000,
        "partial file of {partial} bytes"
    );
    std::fs::remove_file(&srv.cut).expect("uncut");
    srv.reset_logs();
    let out = run(ours_bin(), &cli, &["get", "f0"]);
    assert!(out.status.success(), "{out:?}");
    let sent = srv.input();
    assert!(
        sent.contains(&format!("GET {partial} ")),
        "the offset asked: {sent}"
    );
    assert_eq!(std::fs::read(cli.join("f0")).expect("got"), fs[0].1);
    assert!(!tmp.exists());
}

/// An upload to a server that holds part of the content already is sent
/// from the offset the server answers (`PUT-FROM`): only the rest goes.
#[test]
fn an_upload_resumes_from_the_servers_offset() {
    let sshd = Sshd::start();
    let top = tempfile::tempdir().expect("temp dir");
    let srv = Served::new(top.path(), "srv", SRV_UUID, &[]);
    let cli = client(&sshd, top.path(), "cli", &srv);
    let body: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(cli.join("big"), &body).expect("write");
    support::annex(&cli, &["add", "big"]);
    support::git(&cli, &["commit", "-q", "-m", "big"]);
    let key = support::annex(&cli, &["lookupkey", "big"])
        .trim()
        .to_string();
    let tmp = srv.repo.join(".git/annex/tmp");
    std::fs::create_dir_all(&tmp).expect("mkdir");
    std::fs::write(tmp.join(&key), &body[..1_500_000]).expect("partial");
    let out = run(ours_bin(), &cli, &["copy", "--to", "origin", "big"]);
    assert!(out.status.success(), "{out:?}");
    let sent = srv.input();
    assert!(
        sent.contains("DATA 500000\n"),
        "{}",
        &sent[..sent.len().min(400)]
    );
    let out = support::annex_output(&srv.repo, &["fsck", "--key", &key], None);
    assert!(out.status.success(), "{out:?}");
}

/// `drop --from origin` whose proof is a lock on another ssh remote's
/// copy (which lapses ten minutes after a lost connection): the server,
/// of protocol 3 and up, is asked its time and told to remove before
/// the lock can lapse (`GETTIMESTAMP`, `REMOVE-BEFORE`), as the
/// reference's client does.
#[test]
fn a_drop_under_a_remote_lock_is_remove_before() {
    let sshd = Sshd::start();
    let top = tempfile::tempdir().expect("temp dir");
    let fs = files(1, 1000);
    let mut inputs = Vec::new();
    for (program, dir) in [
        (ours_bin(), "ours"),
        (support::reference_git_annex(), "theirs"),
    ] {
        let base = top.path().join(dir);
        std::fs::create_dir(&base).expect("mkdir");
        let srv = Served::new(&base, "srv", SRV_UUID, &as_refs(&fs));
        // A second server holding the content too.
        let srv2_repo = base.join("srv2");
        support::git(
            &base,
            &["clone", "-q", srv.repo.to_str().expect("utf-8"), "srv2"],
        );
        support::git(&srv2_repo, &["config", "annex.uuid", SRV2_UUID]);
        support::annex(&srv2_repo, &["init", "srv2"]);
        support::annex(&srv2_repo, &["get", "f0"]);
        let srv2 = Served::wrap(&base, &srv2_repo, "srv2");
        let cli = base.join("cli");
        support::git(
            &base,
            &["clone", "-q", srv.repo.to_str().expect("utf-8"), "cli"],
        );
        support::git(&cli, &["config", "annex.uuid", CLI_UUID]);
        support::git(
            &cli,
            &["remote", "add", "srv2", srv2.repo.to_str().expect("utf-8")],
        );
        support::git(&cli, &["fetch", "-q", "srv2"]);
        support::annex(&cli, &["init", "cli"]);
        add_remote(&sshd, &cli, "origin", &srv);
        add_remote(&sshd, &cli, "srv2", &srv2);
        let out = run(program, &cli, &["drop", "--from", "origin", "f0"]);
        assert!(out.status.success(), "{dir}: {out:?}");
        assert!(
            srv2.input().contains("LOCKCONTENT "),
            "{dir}: {}",
            srv2.input()
        );
        let sent = srv.input();
        assert!(
            sent.contains("GETTIMESTAMP\n") && sent.contains("REMOVE-BEFORE "),
            "{dir}: {sent}"
        );
        assert!(!sent.contains("\nREMOVE "), "{dir}: {sent}");
        let has = support::annex_output(&srv.repo, &["find", "--in", "here", "f0"], None);
        assert_eq!(text(&has.stdout), "", "{dir}: dropped from origin");
        inputs.push(
            sent.lines()
                .map(|l| l.split(' ').next().unwrap_or("").to_string())
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(inputs[0], inputs[1], "the same requests as the reference's");
}

/// Regression: an ssh remote whose git-annex-shell cannot be run was
/// tried again for every file (ssh run, and its complaint printed, each
/// time); git-annex gives up on it after the first failure, and so do we.
#[test]
fn an_unreachable_ssh_remote_is_tried_once_per_command() {
    let sshd = Sshd::start();
    let top = tempfile::tempdir().expect("tmp");
    let f = files(3, 10);
    let srv = Served::new(top.path(), "srv", SRV_UUID, &as_refs(&f));
    let cli = client(&sshd, top.path(), "cli", &srv);
    // A shell that only notes it was run, and fails.
    let broken = top.path().join("broken-shell");
    let log = top.path().join("broken.log");
    std::fs::write(
        &broken,
        format!("#!/bin/sh\necho \"$1\" >> '{}'\nexit 1\n", log.display()),
    )
    .expect("write");
    let mut perm = std::fs::metadata(&broken).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(&broken, perm).expect("chmod");
    support::git(&cli, &["config", "remote.origin.annex-uuid", SRV_UUID]);
    support::git(
        &cli,
        &[
            "config",
            "remote.origin.annex-shell",
            broken.to_str().expect("utf-8"),
        ],
    );
    let out = run(ours_bin(), &cli, &["get", "."]);
    assert!(!out.status.success(), "{out:?}");
    let runs = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(runs.lines().count(), 1, "shell runs: {runs:?}; {out:?}");
}

/// `copy -J3 --to` asks the remote about a whole chunk of keys in one
/// write (the `CHECKPRESENT`s follow each other before any answer is
/// read, and before any `PUT`), uploads what it lacks, and ends as the
/// reference's `copy -J3 --to` does: the same results and locations.
#[test]
fn copy_jobs_asks_presence_of_a_chunk_at_once() {
    let sshd = Sshd::start();
    let top = tempfile::tempdir().expect("temp dir");
    let fs = files(5, 1000);
    let srv = Served::new(top.path(), "srv", SRV_UUID, &as_refs(&fs));
    let names: Vec<&str> = fs.iter().map(|(n, _)| n.as_str()).collect();
    let mut results = Vec::new();
    for (program, dir) in [
        (ours_bin(), "ours"),
        (support::reference_git_annex(), "theirs"),
    ] {
        let cli = client(&sshd, top.path(), dir, &srv);
        let mut get = vec!["get"];
        get.extend(&names);
        assert!(run(program, &cli, &get).status.success(), "{dir}: get");
        // The server loses three of them; the client's log still says
        // it has them all.
        support::annex(&srv.repo, &["drop", "--force", "f0", "f2", "f4"]);
        srv.reset_logs();
        // Ours must ask all five before it reads an answer; the
        // reference asks one at a time.
        if dir == "ours" {
            std::fs::write(&srv.gate, "5").expect("gate");
        }
        let mut args = vec!["copy", "-J3", "--to", "origin", "--json"];
        args.extend(&names);
        let out = run(program, &cli, &args);
        let _ = std::fs::remove_file(&srv.gate);
        assert!(out.status.success(), "{dir}: {out:?}");
        if dir == "ours" {
            assert!(
                !top.path().join("srv.gate.late").exists(),
                "the questions were asked one at a time"
            );
            let input = srv.input();
            let first: Vec<&str> = input
                .lines()
                .filter(|l| l.starts_with("CHECKPRESENT ") || l.starts_with("PUT "))
                .take(5)
                .collect();
            assert!(
                first.iter().all(|l| l.starts_with("CHECKPRESENT ")),
                "five questions before any upload: {input}"
            );
            assert_eq!(input.matches("PUT ").count(), 3, "{input}");
        }
        let mut json: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
        json.sort();
        let whereis = run(program, &cli, &["whereis", "--json"]);
        let have: Vec<bool> = names
            .iter()
            .map(|n| {
                let r = run(program, &srv.repo, &["find", "--in=here", n]);
                !r.stdout.is_empty()
            })
            .collect();
        results.push((json, text(&whereis.stdout), have));
    }
    assert_eq!(results[0], results[1], "ours, the reference's");
}
