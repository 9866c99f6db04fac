//! Proxies and clusters (issue 16): a cluster of three nodes behind a
//! gateway, set up with `initcluster`/`updatecluster` and served by the
//! gateway's `git-annex-shell` over a real sshd on 127.0.0.1. The
//! reference's client works our gateway exactly as the reference's own:
//! the same output, `--json` and exit codes, the content fanned out to
//! the same nodes per preferred content, the same location logs on the
//! gateway and on the nodes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support;
use crate::support::sshd::Sshd;

/// Which implementation runs the gateway (its setup commands and its
/// `git-annex-shell`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Impl {
    Ours,
    Reference,
}

const GW_UUID: &str = "99999999-1600-4000-8000-000000000000";
const CLI_UUID: &str = "cccccccc-1600-4000-8000-000000000000";

fn node_uuid(n: usize) -> String {
    format!("0000000{n}-1600-4000-8000-000000000000")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run(bin: &Path, sshd: Option<&Sshd>, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(bin);
    support::hermetic(&mut cmd).current_dir(dir).args(args);
    if let Some(s) = sshd {
        s.client_env(&mut cmd);
    }
    support::output_with_stdin(cmd, None)
}

fn ok(o: Output, what: &str) -> String {
    assert!(o.status.success(), "{what}: {o:?}");
    text(&o)
}

fn ours_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_git-annex-rs"))
}

/// The reference's `git-annex-shell`, through a script that puts the
/// reference's programs on `PATH` (the sshd's sessions have a fixed one,
/// and the reference's gateway runs `git-annex-shell` for its nodes).
fn reference_shell(top: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = support::reference_git_annex()
        .parent()
        .expect("reference dir")
        .to_path_buf();
    let script = top.join("refshell");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nPATH={b}:$PATH\nexport PATH\nexec {b}/git-annex-shell \"$@\"\n",
            b = bin.display()
        ),
    )
    .expect("write script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    script
}

/// Three nodes, a gateway with them as remotes in cluster `c` (node 3
/// wants only `*.big`), set up by `gateway`'s commands; a client cloned
/// over ssh, its `origin` served by `gateway`'s `git-annex-shell`, with
/// `a.txt` and `b.big` added.
struct Net {
    top: tempfile::TempDir,
    gw: PathBuf,
    cli: PathBuf,
    nodes: Vec<PathBuf>,
}

fn net(sshd: &Sshd, gateway: Impl) -> Net {
    let top = tempfile::tempdir().expect("temp dir");
    let t = top.path();
    let mut nodes = Vec::new();
    for n in 1..=3 {
        let d = t.join(format!("n{n}"));
        std::fs::create_dir(&d).expect("mkdir");
        support::git(&d, &["init", "-q", "-b", "main"]);
        support::git(&d, &["config", "annex.uuid", &node_uuid(n)]);
        support::annex(&d, &["init", &format!("node{n}")]);
        nodes.push(d);
    }
    let gw = t.join("gw");
    std::fs::create_dir(&gw).expect("mkdir");
    support::git(&gw, &["init", "-q", "-b", "main"]);
    support::git(&gw, &["commit", "-q", "--allow-empty", "-m", "init"]);
    support::git(&gw, &["config", "annex.uuid", GW_UUID]);
    support::annex(&gw, &["init", "gw"]);
    let refshell = reference_shell(t);
    for n in 1..=3 {
        let name = format!("n{n}");
        support::git(&gw, &["remote", "add", &name, &format!("../n{n}")]);
        support::git(
            &gw,
            &["config", &format!("remote.{name}.annex-cluster-node"), "c"],
        );
        support::git(&gw, &["fetch", "-q", &name]);
    }
    let setup_bin = match gateway {
        Impl::Ours => ours_bin(),
        Impl::Reference => support::reference_git_annex().to_path_buf(),
    };
    let init = ok(
        run(&setup_bin, None, &gw, &["initcluster", "c"]),
        "initcluster",
    );
    assert!(init.contains("initcluster c ok"), "{init}");
    let upd = ok(
        run(&setup_bin, None, &gw, &["updatecluster"]),
        "updatecluster",
    );
    for n in 1..=3 {
        assert!(
            upd.contains(&format!("Added node n{n} to cluster: c")),
            "{upd}"
        );
        assert!(upd.contains(&format!("Started proxying for n{n}")), "{upd}");
    }
    assert!(upd.contains("Started proxying for c"), "{upd}");
    support::annex(&gw, &["wanted", "n3", "include=*.big"]);
    let url = format!("127.0.0.1:{}", gw.display());
    let mut clone = Command::new("git");
    support::hermetic(&mut clone)
        .current_dir(t)
        .args(["clone", "-q", &url, "cli"]);
    sshd.client_env(&mut clone);
    let out = support::output_with_stdin(clone, None);
    assert!(out.status.success(), "clone: {out:?}");
    let cli = t.join("cli");
    support::git(&cli, &["config", "annex.uuid", CLI_UUID]);
    let shell = match gateway {
        Impl::Ours => PathBuf::from(env!("CARGO_BIN_EXE_git-annex-shell")),
        Impl::Reference => refshell,
    };
    support::git(
        &cli,
        &[
            "config",
            "remote.origin.annex-shell",
            shell.to_str().expect("utf-8"),
        ],
    );
    ok(
        run(
            support::reference_git_annex(),
            Some(sshd),
            &cli,
            &["init", "cli"],
        ),
        "init",
    );
    std::fs::write(cli.join("a.txt"), "aaa\n").expect("write");
    std::fs::write(cli.join("b.big"), "bbbbbbb\n").expect("write");
    support::annex(&cli, &["add", "a.txt", "b.big"]);
    support::git(&cli, &["commit", "-q", "-m", "add"]);
    Net {
        top,
        gw,
        cli,
        nodes,
    }
}

/// The reference's meter taken out (it draws one even on a pipe; we draw
/// none when not on a terminal): `\r`-separated parts that are a meter
/// (`NN%  SIZE ...`) or blank are dropped, and an action's line left open
/// (ending in a space) is joined with what ends it.
fn meterless(s: &str) -> String {
    let is_meter = |p: &str| {
        let t = p.trim();
        t.is_empty()
            || t.split_whitespace()
                .next()
                .is_some_and(|w| w.ends_with('%') && w[..w.len() - 1].parse::<f64>().is_ok())
    };
    let mut lines: Vec<String> = Vec::new();
    for raw in s.split('\n') {
        let kept: String = if raw.contains('\r') || is_meter(raw) && !raw.is_empty() {
            let k: String = raw.split('\r').filter(|p| !is_meter(p)).collect();
            if k.is_empty() {
                continue;
            }
            k
        } else {
            raw.to_string()
        };
        match lines.last_mut() {
            Some(open) if open.ends_with(' ') && !kept.is_empty() => open.push_str(&kept),
            _ => lines.push(kept),
        }
    }
    lines.join("\n")
}

/// Output with what differs between two runs taken out: the cluster's
/// UUID, the temp directory.
fn normalized(s: &str, n: &Net) -> String {
    let cluster = support::git(&n.gw, &["config", "annex.cluster.c"]);
    meterless(s)
        .replace(cluster.trim(), "CLUSTER")
        .replace(&n.top.path().display().to_string(), "TOP")
}

/// What the client is asked to do, in order.
const SCRIPT: &[&[&str]] = &[
    &["copy", "--to", "origin-c", "a.txt", "b.big"],
    &["whereis"],
    &["drop", "a.txt", "b.big"],
    &["get", "--from", "origin-c", "a.txt", "b.big"],
    &["drop", "--from", "origin-c", "a.txt"],
    &["whereis", "a.txt"],
    &["info", "origin-c"],
    &["copy", "--to", "origin-c", "--json", "a.txt"],
    &["whereis", "--json", "b.big"],
    &["drop", "--from", "origin-n1", "b.big"],
    &["whereis", "b.big"],
];

/// Each command's exit code and normalized output, by the reference's
/// client.
fn transcript(sshd: &Sshd, n: &Net) -> Vec<(Option<i32>, String)> {
    SCRIPT
        .iter()
        .map(|args| {
            let o = run(support::reference_git_annex(), Some(sshd), &n.cli, args);
            (o.status.code(), normalized(&text(&o), n))
        })
        .collect()
}

/// What the gateway's location log says of each key on each node (the
/// journal included: a gateway may not have committed it yet), and which
/// nodes have which content.
fn state(n: &Net) -> Vec<String> {
    let mut out = Vec::new();
    for f in ["a.txt", "b.big"] {
        let key = support::annex(&n.cli, &["lookupkey", f]);
        for (i, node) in n.nodes.iter().enumerate() {
            let logged = run(
                support::reference_git_annex(),
                None,
                &n.gw,
                &["readpresentkey", key.trim(), &node_uuid(i + 1)],
            )
            .status
            .success();
            let has = run(
                support::reference_git_annex(),
                None,
                node,
                &["contentlocation", key.trim()],
            )
            .status
            .success();
            out.push(format!("{f}: gateway logs node {}: {logged}", i + 1));
            out.push(format!("{f}: node {} has it: {has}", i + 1));
        }
    }
    out
}

#[test]
fn the_reference_client_uses_our_cluster_gateway_over_ssh_as_its_own() {
    let sshd = Sshd::start();
    let theirs = net(&sshd, Impl::Reference);
    let ours = net(&sshd, Impl::Ours);
    let t_theirs = transcript(&sshd, &theirs);
    let t_ours = transcript(&sshd, &ours);
    for (i, (a, b)) in t_theirs.iter().zip(&t_ours).enumerate() {
        assert_eq!(a, b, "command {:?}", SCRIPT[i]);
    }
    // The fan-out followed preferred content: node 3 wants only *.big.
    let first = &t_ours[0].1;
    assert!(first.contains("copy a.txt (to origin-c...)"), "{first}");
    assert!(t_ours[0].0 == Some(0), "{first}");
    let s_ours = state(&ours);
    assert_eq!(state(&theirs), s_ours);
    assert!(
        s_ours.contains(&"a.txt: node 3 has it: false".to_string()),
        "{s_ours:?}"
    );
    assert!(
        s_ours.contains(&"b.big: node 3 has it: true".to_string()),
        "{s_ours:?}"
    );
    // No temporary file left on the gateway.
    let othertmp = ours.gw.join(".git/annex/othertmp");
    let left: Vec<_> = std::fs::read_dir(&othertmp)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn setup_commands_write_the_logs_as_the_reference() {
    // The same gateway set up by each; the logs compared with UUIDs of the
    // cluster taken out.
    let sshd = Sshd::start();
    let mut logs = Vec::new();
    for who in [Impl::Reference, Impl::Ours] {
        let n = net(&sshd, who);
        let cluster = support::git(&n.gw, &["config", "annex.cluster.c"]);
        let strip = |f: &str| -> String {
            support::git(&n.gw, &["show", &format!("git-annex:{f}")])
                .lines()
                .map(|l| l.split_once(' ').map(|x| x.1).unwrap_or(l))
                .collect::<Vec<_>>()
                .join("\n")
                .replace(cluster.trim(), "CLUSTER")
        };
        let uuid_log = support::git(&n.gw, &["show", "git-annex:uuid.log"]);
        assert!(
            uuid_log.contains(&format!("{} cluster c", cluster.trim())),
            "{uuid_log}"
        );
        let bin = match who {
            Impl::Ours => ours_bin(),
            Impl::Reference => support::reference_git_annex().to_path_buf(),
        };
        // Nothing to do the second time; a node taken out is reported.
        let again = ok(run(&bin, None, &n.gw, &["updatecluster"]), "updatecluster");
        support::git(
            &n.gw,
            &["config", "--unset", "remote.n3.annex-cluster-node"],
        );
        let removed = ok(run(&bin, None, &n.gw, &["updatecluster"]), "updatecluster");
        let proxy = ok(run(&bin, None, &n.gw, &["updateproxy"]), "updateproxy");
        let bad = run(&bin, None, &n.gw, &["initcluster", "bad name"]);
        let extend = run(&bin, None, &n.gw, &["extendcluster", "n1", "c"]);
        logs.push((
            strip("proxy.log"),
            strip("cluster.log"),
            again,
            removed,
            proxy,
            bad.status.code(),
            String::from_utf8_lossy(&bad.stdout).into_owned(),
            extend.status.code(),
        ));
    }
    assert_eq!(logs[0], logs[1]);
    assert!(
        logs[1]
            .3
            .contains("Removed node node3 [n3] from cluster: c"),
        "{:?}",
        logs[1]
    );
}

#[test]
fn a_node_gone_before_an_upload_is_left_out_and_nothing_is_half_written() {
    let sshd = Sshd::start();
    let n = net(&sshd, Impl::Ours);
    // Node 2's repository disappears.
    let moved = n.top.path().join("n2-gone");
    std::fs::rename(&n.nodes[1], &moved).expect("move n2 away");
    let o = run(
        support::reference_git_annex(),
        Some(&sshd),
        &n.cli,
        &["copy", "--to", "origin-c", "a.txt"],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    std::fs::rename(&moved, &n.nodes[1]).expect("move n2 back");
    let s = state(&n);
    assert!(
        s.contains(&"a.txt: node 1 has it: true".to_string()),
        "{s:?}"
    );
    assert!(
        s.contains(&"a.txt: node 2 has it: false".to_string()),
        "{s:?}"
    );
    // The gateway does not claim node 2 has it.
    assert!(
        s.contains(&"a.txt: gateway logs node 1: true".to_string()),
        "{s:?}"
    );
    assert!(
        s.contains(&"a.txt: gateway logs node 2: false".to_string()),
        "{s:?}"
    );
    // Nothing in node 2's temporary directory or the gateway's.
    for dir in [
        n.nodes[1].join(".git/annex/tmp"),
        n.gw.join(".git/annex/othertmp"),
    ] {
        let left: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{left:?}");
    }
}

#[test]
fn an_upload_that_would_break_the_gateways_disk_reserve_is_refused_clearly() {
    let sshd = Sshd::start();
    let n = net(&sshd, Impl::Ours);
    support::git(&n.gw, &["config", "annex.diskreserve", "1000000TB"]);
    let o = run(
        support::reference_git_annex(),
        Some(&sshd),
        &n.cli,
        &["copy", "--to", "origin-c", "a.txt"],
    );
    let out = text(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("not enough free space on the gateway"),
        "{out}"
    );
    let s = state_before_any_copy(&n);
    assert!(s.iter().all(|has| !has), "{s:?}");
    let left: Vec<_> = std::fs::read_dir(n.gw.join(".git/annex/othertmp"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

/// Whether each node has `a.txt`'s content.
fn state_before_any_copy(n: &Net) -> Vec<bool> {
    let key = support::annex(&n.cli, &["lookupkey", "a.txt"]);
    n.nodes
        .iter()
        .map(|node| {
            run(
                support::reference_git_annex(),
                None,
                node,
                &["contentlocation", key.trim()],
            )
            .status
            .success()
        })
        .collect()
}

/// A `p2phttp` server process, stopped when dropped.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// `gateway`'s `p2phttp` serving the gateway, and a client cloned from
/// it whose `origin` is used through `annex+http`.
fn serve_http(n: &Net, gateway: Impl) -> (Served, PathBuf) {
    let port = free_port();
    let bin = match gateway {
        Impl::Ours => ours_bin(),
        Impl::Reference => support::reference_git_annex().to_path_buf(),
    };
    let mut cmd = Command::new(bin);
    support::hermetic(&mut cmd).current_dir(&n.gw).args([
        "p2phttp",
        "--bind",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--wideopen",
        "-J2",
    ]);
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let served = Served(cmd.spawn().expect("start p2phttp"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "p2phttp did not listen"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let t = n.top.path();
    support::git(t, &["clone", "-q", n.gw.to_str().expect("utf-8"), "hcli"]);
    let cli = t.join("hcli");
    support::git(
        &cli,
        &[
            "config",
            "annex.uuid",
            "dddddddd-1600-4000-8000-000000000000",
        ],
    );
    support::git(
        &cli,
        &[
            "config",
            "remote.origin.annexUrl",
            &format!("annex+http://127.0.0.1:{port}/git-annex/"),
        ],
    );
    support::git(
        &cli,
        &["config", "annex.security.allowed-ip-addresses", "127.0.0.1"],
    );
    support::annex(&cli, &["init", "hcli"]);
    std::fs::write(cli.join("a.txt"), "aaa\n").expect("write");
    std::fs::write(cli.join("b.big"), "bbbbbbb\n").expect("write");
    support::annex(&cli, &["add", "a.txt", "b.big"]);
    support::git(&cli, &["commit", "-q", "-m", "add"]);
    (served, cli)
}

#[test]
fn the_reference_client_uses_our_cluster_gateway_over_http_as_its_own() {
    let sshd = Sshd::start();
    let mut results = Vec::new();
    for who in [Impl::Reference, Impl::Ours] {
        let n = net(&sshd, who);
        let (_served, cli) = serve_http(&n, who);
        let t: Vec<(Option<i32>, String)> = SCRIPT
            .iter()
            .map(|args| {
                let o = run(support::reference_git_annex(), None, &cli, args);
                (o.status.code(), normalized(&text(&o), &n))
            })
            .collect();
        let hn = Net {
            top: tempfile::tempdir().expect("temp"),
            gw: n.gw.clone(),
            cli: cli.clone(),
            nodes: n.nodes.clone(),
        };
        results.push((t, state(&hn)));
        drop(hn);
        drop(n);
    }
    for (i, (a, b)) in results[0].0.iter().zip(&results[1].0).enumerate() {
        assert_eq!(a, b, "command {:?}", SCRIPT[i]);
    }
    assert_eq!(results[0].1, results[1].1);
    assert!(
        results[1]
            .1
            .contains(&"a.txt: node 3 has it: false".to_string()),
        "{:?}",
        results[1].1
    );
}

#[test]
fn our_client_uses_a_cluster_made_by_the_reference_as_the_reference_client_does() {
    let sshd = Sshd::start();
    let mut results = Vec::new();
    for client in [support::reference_git_annex().to_path_buf(), ours_bin()] {
        let n = net(&sshd, Impl::Reference);
        let t: Vec<(Option<i32>, String)> = SCRIPT
            .iter()
            .map(|args| {
                let o = run(&client, Some(&sshd), &n.cli, args);
                (o.status.code(), normalized(&text(&o), &n))
            })
            .collect();
        results.push((t, state(&n)));
    }
    for (i, (a, b)) in results[0].0.iter().zip(&results[1].0).enumerate() {
        assert_eq!(a, b, "command {:?}", SCRIPT[i]);
    }
    assert_eq!(results[0].1, results[1].1);
}

#[test]
fn our_client_and_our_gateway_work_as_the_reference_with_its_own() {
    let sshd = Sshd::start();
    let mut results = Vec::new();
    for (client, gateway) in [
        (
            support::reference_git_annex().to_path_buf(),
            Impl::Reference,
        ),
        (ours_bin(), Impl::Ours),
    ] {
        let n = net(&sshd, gateway);
        let t: Vec<(Option<i32>, String)> = SCRIPT
            .iter()
            .map(|args| {
                let o = run(&client, Some(&sshd), &n.cli, args);
                (o.status.code(), normalized(&text(&o), &n))
            })
            .collect();
        results.push((t, state(&n)));
    }
    for (i, (a, b)) in results[0].0.iter().zip(&results[1].0).enumerate() {
        assert_eq!(a, b, "command {:?}", SCRIPT[i]);
    }
    assert_eq!(results[0].1, results[1].1);
}

#[test]
fn a_node_gone_mid_upload_fails_alone_with_a_clear_error_and_nothing_half_written() {
    use std::os::unix::fs::PermissionsExt;
    let sshd = Sshd::start();
    let n = net(&sshd, Impl::Ours);
    // Node 2 is reached over ssh, through a git-annex-shell whose input
    // ends 400 bytes in: in the middle of the content.
    let script = n.top.path().join("cutshell");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ndd bs=1 count=400 2>/dev/null | {} \"$@\"\n",
            env!("CARGO_BIN_EXE_git-annex-shell")
        ),
    )
    .expect("write script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let ssh = sshd.ssh_command();
    let options = ssh.strip_prefix("ssh ").expect("ssh command");
    let url = format!("127.0.0.1:{}", n.nodes[1].display());
    support::git(&n.gw, &["config", "remote.n2.url", &url]);
    support::git(&n.gw, &["config", "remote.n2.annex-ssh-options", options]);
    support::git(
        &n.gw,
        &[
            "config",
            "remote.n2.annex-shell",
            script.to_str().expect("utf-8"),
        ],
    );
    std::fs::write(n.cli.join("c.big"), "c".repeat(200_000)).expect("write");
    support::annex(&n.cli, &["add", "c.big"]);
    support::git(&n.cli, &["commit", "-q", "-m", "c"]);
    let o = run(
        support::reference_git_annex(),
        Some(&sshd),
        &n.cli,
        &["copy", "--to", "origin-c", "c.big"],
    );
    let out = text(&o);
    // The other nodes have it; the error says what failed: the gateway
    // naming the node it lost, or the node itself (its stderr reaches the
    // user too) when it could still answer.
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("lost the connection to n2")
            || (out.contains("P2P connection closed after") && out.contains("bytes of DATA")),
        "{out}"
    );
    let key = support::annex(&n.cli, &["lookupkey", "c.big"]);
    let has = |node: &Path| {
        run(
            support::reference_git_annex(),
            None,
            node,
            &["contentlocation", key.trim()],
        )
        .status
        .success()
    };
    assert!(has(&n.nodes[0]) && has(&n.nodes[2]));
    assert!(!has(&n.nodes[1]));
    // The gateway logs only what was stored; node 2's own log says nothing.
    let logged = |repo: &Path, u: &str| {
        run(
            support::reference_git_annex(),
            None,
            repo,
            &["readpresentkey", key.trim(), u],
        )
        .status
        .success()
    };
    assert!(logged(&n.gw, &node_uuid(1)) && logged(&n.gw, &node_uuid(3)));
    assert!(!logged(&n.gw, &node_uuid(2)));
    assert!(!logged(&n.nodes[1], &node_uuid(2)));
    // No object half-written on node 2 (a partial temporary file, kept
    // for a resume, is never in the object store), nothing left on the
    // gateway.
    let fsck = run(
        support::reference_git_annex(),
        None,
        &n.nodes[1],
        &["fsck", "--all"],
    );
    assert!(fsck.status.success(), "{fsck:?}");
    let left: Vec<_> = std::fs::read_dir(n.gw.join(".git/annex/othertmp"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

// A distributed cluster (issue 16): one cluster `c` with two gateways,
// AMS (nodes n1, n2 on its machine) and NYC (nodes n3, n4), each the
// other's remote over ssh and a gateway of `c` through it (set up with
// our `initcluster`, `extendcluster` and `updatecluster`, as
// git-annex's tips/clusters describes), and a client with both gateways
// as remotes.

const AMS_UUID: &str = "aaaaaaaa-1602-4000-8000-000000000000";
const NYC_UUID: &str = "bbbbbbbb-1602-4000-8000-000000000000";
const DCLI_UUID: &str = "cccccccc-1602-4000-8000-000000000000";

fn dnode_uuid(n: usize) -> String {
    format!("0000000{n}-1602-4000-8000-000000000000")
}

/// Adds `name` to `repo` as a remote over ssh to the repository at
/// `path`, served by our `git-annex-shell`, reached with the sshd's
/// options (a gateway's own ssh to another gateway has no client
/// environment to go by).
fn ssh_remote(sshd: &Sshd, repo: &Path, name: &str, path: &Path, uuid: &str) {
    let url = format!("127.0.0.1:{}", path.display());
    support::git(repo, &["remote", "add", name, &url]);
    let ssh = sshd.ssh_command();
    let options = ssh.strip_prefix("ssh ").expect("ssh command");
    for (k, v) in [
        ("annex-shell", env!("CARGO_BIN_EXE_git-annex-shell")),
        ("annex-ssh-options", options),
        ("annex-uuid", uuid),
    ] {
        support::git(repo, &["config", &format!("remote.{name}.{k}"), v]);
    }
}

/// `git fetch REMOTE` over the sshd, then the reference's `merge` of
/// the fetched `git-annex` branch.
fn fetch_merge(sshd: &Sshd, repo: &Path, remote: &str) {
    let mut cmd = Command::new("git");
    support::hermetic(&mut cmd)
        .current_dir(repo)
        .args(["fetch", "-q", remote]);
    sshd.client_env(&mut cmd);
    let out = support::output_with_stdin(cmd, None);
    assert!(out.status.success(), "fetch {remote}: {out:?}");
    support::annex(repo, &["merge"]);
}

/// Runs our client, failing (rather than hanging the test) when it takes
/// more than two minutes: a message loop between the gateways would.
fn ours_within(sshd: &Sshd, dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new("timeout");
    support::hermetic(&mut cmd)
        .current_dir(dir)
        .arg("120")
        .arg(ours_bin())
        .args(args);
    sshd.client_env(&mut cmd);
    let o = support::output_with_stdin(cmd, None);
    assert_ne!(
        o.status.code(),
        Some(124),
        "{args:?} did not end in 2 minutes (a loop between gateways?): {}",
        text(&o)
    );
    o
}

struct Distributed {
    _top: tempfile::TempDir,
    ams: PathBuf,
    nyc: PathBuf,
    cli: PathBuf,
    nodes: Vec<PathBuf>,
}

fn distributed(sshd: &Sshd) -> Distributed {
    let top = tempfile::tempdir().expect("temp dir");
    let t = top.path();
    let mut nodes = Vec::new();
    for n in 1..=4 {
        let d = t.join(format!("n{n}"));
        std::fs::create_dir(&d).expect("mkdir");
        support::git(&d, &["init", "-q", "-b", "main"]);
        support::git(&d, &["config", "annex.uuid", &dnode_uuid(n)]);
        support::annex(&d, &["init", &format!("node{n}")]);
        nodes.push(d);
    }
    let ours = ours_bin();
    let ams = t.join("ams");
    std::fs::create_dir(&ams).expect("mkdir");
    support::git(&ams, &["init", "-q", "-b", "main"]);
    support::git(&ams, &["commit", "-q", "--allow-empty", "-m", "init"]);
    support::git(&ams, &["config", "annex.uuid", AMS_UUID]);
    support::annex(&ams, &["init", "ams"]);
    ok(run(&ours, None, &ams, &["initcluster", "c"]), "initcluster");
    for n in 1..=2 {
        let name = format!("n{n}");
        support::git(&ams, &["remote", "add", &name, &format!("../n{n}")]);
        support::git(
            &ams,
            &["config", &format!("remote.{name}.annex-cluster-node"), "c"],
        );
        support::git(&ams, &["fetch", "-q", &name]);
    }
    ok(
        run(&ours, None, &ams, &["updatecluster"]),
        "AMS updatecluster",
    );
    // NYC: a clone of AMS, which it reaches over ssh.
    support::git(t, &["clone", "-q", ams.to_str().expect("utf-8"), "nyc"]);
    let nyc = t.join("nyc");
    support::git(&nyc, &["remote", "remove", "origin"]);
    ssh_remote(sshd, &nyc, "AMS", &ams, AMS_UUID);
    support::git(&nyc, &["config", "annex.uuid", NYC_UUID]);
    support::annex(&nyc, &["init", "nyc"]);
    fetch_merge(sshd, &nyc, "AMS");
    let ext = ok(
        run(&ours, Some(sshd), &nyc, &["extendcluster", "AMS", "c"]),
        "NYC extendcluster",
    );
    assert!(ext.contains("extendcluster c ok"), "{ext}");
    for n in 3..=4 {
        let name = format!("n{n}");
        support::git(&nyc, &["remote", "add", &name, &format!("../n{n}")]);
        support::git(
            &nyc,
            &["config", &format!("remote.{name}.annex-cluster-node"), "c"],
        );
        support::git(&nyc, &["fetch", "-q", &name]);
    }
    ok(
        run(&ours, None, &nyc, &["updatecluster"]),
        "NYC updatecluster",
    );
    // AMS learns of NYC and extends the cluster to it; then each learns
    // the nodes the other proxies.
    ssh_remote(sshd, &ams, "NYC", &nyc, NYC_UUID);
    fetch_merge(sshd, &ams, "NYC");
    let ext = ok(
        run(&ours, Some(sshd), &ams, &["extendcluster", "NYC", "c"]),
        "AMS extendcluster",
    );
    assert!(ext.contains("Started proxying for NYC-n3"), "{ext}");
    fetch_merge(sshd, &nyc, "AMS");
    ok(run(&ours, None, &nyc, &["updatecluster"]), "NYC update");
    fetch_merge(sshd, &ams, "NYC");
    // The client: AMS as origin, NYC as nyc.
    let url = format!("127.0.0.1:{}", ams.display());
    let mut clone = Command::new("git");
    support::hermetic(&mut clone)
        .current_dir(t)
        .args(["clone", "-q", &url, "cli"]);
    sshd.client_env(&mut clone);
    let out = support::output_with_stdin(clone, None);
    assert!(out.status.success(), "clone: {out:?}");
    let cli = t.join("cli");
    support::git(&cli, &["config", "annex.uuid", DCLI_UUID]);
    for (name, uuid) in [("origin", AMS_UUID), ("nyc", NYC_UUID)] {
        if name == "nyc" {
            let url = format!("127.0.0.1:{}", nyc.display());
            support::git(&cli, &["remote", "add", name, &url]);
        }
        let shell = env!("CARGO_BIN_EXE_git-annex-shell");
        support::git(
            &cli,
            &["config", &format!("remote.{name}.annex-shell"), shell],
        );
        support::git(
            &cli,
            &["config", &format!("remote.{name}.annex-uuid"), uuid],
        );
    }
    support::annex(&cli, &["init", "cli"]);
    fetch_merge(sshd, &cli, "nyc");
    std::fs::write(cli.join("a.txt"), "distributed\n").expect("write");
    support::annex(&cli, &["add", "a.txt"]);
    support::git(&cli, &["commit", "-q", "-m", "add"]);
    Distributed {
        _top: top,
        ams,
        nyc,
        cli,
        nodes,
    }
}

impl Distributed {
    fn key(&self) -> String {
        support::annex(&self.cli, &["lookupkey", "a.txt"])
            .trim()
            .to_string()
    }

    /// Whether the client has the content.
    fn here(&self) -> bool {
        support::annex_output(&self.cli, &["contentlocation", &self.key()], None)
            .status
            .success()
    }

    /// Which of n1..n4 have the content.
    fn holders(&self) -> Vec<bool> {
        let key = self.key();
        self.nodes
            .iter()
            .map(|d| {
                support::annex_output(d, &["contentlocation", &key], None)
                    .status
                    .success()
            })
            .collect()
    }

    /// Which of n1..n4 the location log of `repo` (journal included)
    /// says have the content.
    fn logged(&self, repo: &Path) -> Vec<bool> {
        let key = self.key();
        (1..=4)
            .map(|n| {
                support::annex_output(repo, &["readpresentkey", &key, &dnode_uuid(n)], None)
                    .status
                    .success()
            })
            .collect()
    }
}

#[test]
fn a_distributed_cluster_serves_a_client_through_either_gateway_without_loops() {
    let sshd = Sshd::start();
    let d = distributed(&sshd);
    let cu = support::git(&d.ams, &["config", "annex.cluster.c"])
        .trim()
        .to_string();
    assert_eq!(
        support::git(&d.nyc, &["config", "annex.cluster.c"]).trim(),
        cu,
        "one cluster, two gateways"
    );
    let okd = |o: Output, what: &str| -> String {
        assert!(o.status.success(), "{what}: {}", text(&o));
        text(&o)
    };
    // A copy to the cluster through AMS reaches every node: AMS's own
    // and, through NYC (which must not send it back to AMS), NYC's.
    okd(
        ours_within(&sshd, &d.cli, &["copy", "--to", "origin-c", "a.txt"]),
        "copy --to origin-c",
    );
    assert_eq!(d.holders(), vec![true; 4]);
    // Each gateway logged what it stored, AMS those NYC stored for it.
    assert_eq!(d.logged(&d.ams), vec![true; 4], "AMS's location log");
    assert_eq!(
        d.logged(&d.nyc),
        vec![false, false, true, true],
        "NYC's location log"
    );
    // The client: four nodes and itself, the cluster never a copy.
    assert_eq!(d.logged(&d.cli), vec![true; 4], "the client's location log");
    let w = okd(ours_within(&sshd, &d.cli, &["whereis", "a.txt"]), "whereis");
    assert!(w.contains("(5 copies)"), "{w}");
    // The location log itself never names the cluster (git-annex adds a
    // cluster to the locations it reads when a node has the key).
    support::annex(&d.cli, &["merge"]);
    let log_path = support::annex(
        &d.cli,
        &[
            "examinekey",
            &d.key(),
            "--format",
            "${hashdirlower}${key}.log",
        ],
    );
    let log = support::git(&d.cli, &["show", &format!("git-annex:{}", log_path.trim())]);
    assert!(log.contains(&dnode_uuid(3)), "{log}");
    assert!(!log.contains(&cu), "the cluster logged as a copy: {log}");
    // Hops in the cost: a node behind NYC costs one more than AMS's own.
    let cost = |remote: &str| -> String {
        let o = okd(
            ours_within(&sshd, &d.cli, &["info", "--json", remote]),
            "info",
        );
        let v: serde_json::Value = serde_json::from_str(o.lines().next().unwrap_or(""))
            .unwrap_or_else(|e| panic!("info --json {remote}: {e}: {o}"));
        v["cost"].as_str().unwrap_or("").to_string()
    };
    assert_eq!(cost("origin-n1"), "200.1");
    assert_eq!(cost("origin-NYC-n3"), "201.1");
    assert_eq!(cost("nyc-n3"), "200.1");
    assert_eq!(cost("nyc-AMS-n1"), "201.1");
    // AMS's own nodes dropped: a get through AMS goes on to NYC's.
    for n in ["origin-n1", "origin-n2"] {
        okd(
            ours_within(&sshd, &d.cli, &["drop", "--from", n, "a.txt"]),
            "drop --from a node",
        );
    }
    assert_eq!(d.holders(), vec![false, false, true, true]);
    assert_eq!(d.logged(&d.ams), vec![false, false, true, true]);
    okd(ours_within(&sshd, &d.cli, &["drop", "a.txt"]), "drop here");
    assert!(!d.here(), "dropped here");
    // Through AMS, the remote named, not nyc-c of the same UUID (our
    // client used to take the first remote of the UUID).
    let got = okd(
        ours_within(&sshd, &d.cli, &["get", "--from", "origin-c", "a.txt"]),
        "get --from origin-c",
    );
    assert!(got.contains("from origin-c"), "{got}");
    assert_eq!(
        std::fs::read_to_string(d.cli.join("a.txt")).expect("read"),
        "distributed\n"
    );
    // And through NYC.
    okd(ours_within(&sshd, &d.cli, &["drop", "a.txt"]), "drop here");
    assert!(!d.here(), "dropped here");
    okd(
        ours_within(&sshd, &d.cli, &["get", "--from", "nyc-c", "a.txt"]),
        "get --from nyc-c",
    );
    assert_eq!(
        std::fs::read_to_string(d.cli.join("a.txt")).expect("read"),
        "distributed\n"
    );
    // A drop from the cluster through NYC reaches AMS's nodes too (one
    // of them given the content again, through AMS) and NYC's.
    okd(
        ours_within(&sshd, &d.cli, &["copy", "--to", "origin-n1", "a.txt"]),
        "copy --to origin-n1",
    );
    assert_eq!(d.holders(), vec![true, false, true, true]);
    okd(
        ours_within(&sshd, &d.cli, &["drop", "--from", "nyc-c", "a.txt"]),
        "drop --from nyc-c",
    );
    assert_eq!(d.holders(), vec![false; 4]);
    assert_eq!(d.logged(&d.nyc), vec![false; 4], "NYC's location log");
    assert_eq!(
        d.logged(&d.cli),
        vec![false; 4],
        "the client's location log"
    );
    let w = okd(ours_within(&sshd, &d.cli, &["whereis", "a.txt"]), "whereis");
    assert!(w.contains("(1 copy)"), "{w}");
    // An upload to the cluster through AMS when AMS's location log says
    // one of its nodes has the key (n1, which lost it behind AMS's back;
    // the client not knowing it): the cluster through NYC counts as
    // having it, so only AMS's other node is sent it.
    okd(
        ours_within(&sshd, &d.cli, &["copy", "--to", "origin-n1", "a.txt"]),
        "copy --to origin-n1",
    );
    let key = support::annex(&d.cli, &["lookupkey", "a.txt"])
        .trim()
        .to_string();
    support::annex(&d.cli, &["setpresentkey", &key, &dnode_uuid(1), "0"]);
    support::annex(&d.nodes[0], &["dropkey", "--force", &key]);
    let c = okd(
        ours_within(&sshd, &d.cli, &["copy", "--to", "origin-c", "a.txt"]),
        "copy --to origin-c",
    );
    assert_eq!(d.holders(), vec![false, true, false, false], "{c}");
}

/// A gateway with a git node `n1` and a directory special remote `d`,
/// both nodes of cluster `c` and `d` proxied on its own too, and a client
/// cloned over ssh (the reference's client, our `git-annex-shell`).
#[test]
fn a_directory_special_remote_is_a_cluster_node_and_a_proxied_remote() {
    let sshd = Sshd::start();
    let top = tempfile::tempdir().expect("temp dir");
    let t = top.path();
    let n1 = t.join("n1");
    std::fs::create_dir(&n1).expect("mkdir");
    support::git(&n1, &["init", "-q", "-b", "main"]);
    support::git(&n1, &["config", "annex.uuid", &node_uuid(1)]);
    support::annex(&n1, &["init", "node1"]);
    let gw = t.join("gw");
    std::fs::create_dir(&gw).expect("mkdir");
    support::git(&gw, &["init", "-q", "-b", "main"]);
    support::git(&gw, &["commit", "-q", "--allow-empty", "-m", "init"]);
    support::git(&gw, &["config", "annex.uuid", GW_UUID]);
    support::annex(&gw, &["init", "gw"]);
    let dir = t.join("dirremote");
    std::fs::create_dir(&dir).expect("mkdir");
    support::annex(
        &gw,
        &[
            "initremote",
            "d",
            "type=directory",
            &format!("directory={}", dir.display()),
            "encryption=none",
        ],
    );
    let ours = ours_bin();
    ok(run(&ours, None, &gw, &["initcluster", "c"]), "initcluster");
    support::git(&gw, &["remote", "add", "n1", "../n1"]);
    support::git(&gw, &["fetch", "-q", "n1"]);
    for r in ["n1", "d"] {
        support::git(
            &gw,
            &["config", &format!("remote.{r}.annex-cluster-node"), "c"],
        );
    }
    support::git(&gw, &["config", "remote.d.annex-proxy", "true"]);
    let upd = ok(run(&ours, None, &gw, &["updatecluster"]), "updatecluster");
    assert!(upd.contains("Added node d to cluster: c"), "{upd}");
    assert!(upd.contains("Started proxying for d"), "{upd}");
    let url = format!("127.0.0.1:{}", gw.display());
    let mut clone = Command::new("git");
    support::hermetic(&mut clone)
        .current_dir(t)
        .args(["clone", "-q", &url, "cli"]);
    sshd.client_env(&mut clone);
    let out = support::output_with_stdin(clone, None);
    assert!(out.status.success(), "clone: {out:?}");
    let cli = t.join("cli");
    support::git(&cli, &["config", "annex.uuid", CLI_UUID]);
    support::git(
        &cli,
        &[
            "config",
            "remote.origin.annex-shell",
            env!("CARGO_BIN_EXE_git-annex-shell"),
        ],
    );
    let refbin = support::reference_git_annex().to_path_buf();
    let client = |args: &[&str]| -> String {
        let o = run(&refbin, Some(&sshd), &cli, args);
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        text(&o)
    };
    client(&["init", "cli"]);
    std::fs::write(cli.join("a.txt"), "to a special node\n").expect("write");
    std::fs::write(cli.join("b.txt"), "to a proxied special remote\n").expect("write");
    support::annex(&cli, &["add", "a.txt", "b.txt"]);
    support::git(&cli, &["commit", "-q", "-m", "add"]);
    let key = |f: &str| support::annex(&cli, &["lookupkey", f]).trim().to_string();
    let in_d = |f: &str| {
        support::annex_output(&gw, &["checkpresentkey", &key(f), "d"], None)
            .status
            .success()
    };
    let in_n1 = |f: &str| {
        support::annex_output(&n1, &["contentlocation", &key(f)], None)
            .status
            .success()
    };
    let logged_at_gw = |f: &str, u: &str| {
        support::annex_output(&gw, &["readpresentkey", &key(f), u], None)
            .status
            .success()
    };
    let d_uuid = support::git(&gw, &["config", "remote.d.annex-uuid"])
        .trim()
        .to_string();
    // A cluster upload reaches the special remote node too.
    client(&["copy", "--to", "origin-c", "a.txt"]);
    assert!(in_n1("a.txt") && in_d("a.txt"));
    assert!(logged_at_gw("a.txt", &d_uuid), "the gateway logs d");
    // A get through the cluster from the special remote, the git node
    // having lost it.
    client(&["drop", "--from", "origin-n1", "a.txt"]);
    assert!(!in_n1("a.txt"));
    client(&["drop", "--force", "a.txt"]);
    client(&["get", "--from", "origin-c", "a.txt"]);
    assert_eq!(
        std::fs::read_to_string(cli.join("a.txt")).expect("read"),
        "to a special node\n"
    );
    // A drop from the cluster removes it from the special remote.
    client(&["drop", "--from", "origin-c", "a.txt"]);
    assert!(!in_d("a.txt"));
    assert!(!logged_at_gw("a.txt", &d_uuid));
    // The special remote proxied on its own: copy, get, drop.
    client(&["copy", "--to", "origin-d", "b.txt"]);
    assert!(in_d("b.txt") && !in_n1("b.txt"));
    let w = client(&["whereis", "b.txt"]);
    assert!(w.contains("origin-d"), "{w}");
    client(&["drop", "--force", "b.txt"]);
    client(&["get", "--from", "origin-d", "b.txt"]);
    assert_eq!(
        std::fs::read_to_string(cli.join("b.txt")).expect("read"),
        "to a proxied special remote\n"
    );
    client(&["drop", "--from", "origin-d", "b.txt"]);
    assert!(!in_d("b.txt"));
    // Nothing left in the gateway's temporary directory.
    let left: Vec<_> = std::fs::read_dir(gw.join(".git/annex/othertmp"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

/// An export special remote (`exporttree=yes`, no `annexobjects=yes`) set
/// as a cluster node and proxied is refused by `updatecluster` and
/// `updateproxy` with git-annex's warning (its `checkCanProxy`), and
/// nothing is recorded.
#[test]
fn an_export_special_remote_is_neither_proxied_nor_a_cluster_node() {
    let top = tempfile::tempdir().expect("temp dir");
    let t = top.path();
    let gw = t.join("gw");
    std::fs::create_dir(&gw).expect("mkdir");
    support::git(&gw, &["init", "-q", "-b", "main"]);
    support::git(&gw, &["commit", "-q", "--allow-empty", "-m", "init"]);
    support::git(&gw, &["config", "annex.uuid", GW_UUID]);
    support::annex(&gw, &["init", "gw"]);
    let dir = t.join("exportdir");
    std::fs::create_dir(&dir).expect("mkdir");
    support::annex(
        &gw,
        &[
            "initremote",
            "e",
            "type=directory",
            &format!("directory={}", dir.display()),
            "encryption=none",
            "exporttree=yes",
        ],
    );
    let ours = ours_bin();
    ok(run(&ours, None, &gw, &["initcluster", "c"]), "initcluster");
    support::git(&gw, &["config", "remote.e.annex-cluster-node", "c"]);
    support::git(&gw, &["config", "remote.e.annex-proxy", "true"]);
    let warning = |cannot: &str| {
        format!(
            "e is a special remote configured with exporttree=yes, but without annexobjects=yes. {cannot} Suggest you run: git-annex enableremote e annexobjects=yes"
        )
    };
    let upd = ok(run(&ours, None, &gw, &["updatecluster"]), "updatecluster");
    assert!(
        upd.contains(&warning("Cannot use this remote as a cluster node.")),
        "{upd}"
    );
    assert!(!upd.contains("Added node"), "{upd}");
    let upd = ok(run(&ours, None, &gw, &["updateproxy"]), "updateproxy");
    assert!(
        upd.contains(&warning("Cannot proxy to this remote.")),
        "{upd}"
    );
    assert!(!upd.contains("Started proxying"), "{upd}");
    let e_uuid = support::git(&gw, &["config", "remote.e.annex-uuid"])
        .trim()
        .to_string();
    let logs = support::git(&gw, &["ls-tree", "-r", "--name-only", "git-annex"]);
    assert!(!logs.contains("cluster.log"), "{logs}");
    let proxy_log = support::git(&gw, &["show", "git-annex:proxy.log"]);
    assert!(!proxy_log.contains(&e_uuid), "{proxy_log}");
}
