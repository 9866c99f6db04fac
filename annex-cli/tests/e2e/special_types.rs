//! End-to-end tests of the `rsync` and `S3` special remote types against
//! the reference: each stores, the other gets and drops, in the same
//! layout; `initremote` writes the same configuration. rsync on this
//! machine and over a real sshd on 127.0.0.1; S3 against a real
//! S3-compatible server on 127.0.0.1 (moto's server, see `S3Server`).

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support;
use crate::support::sshd::Sshd;

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn theirs(dir: &Path, args: &[&str]) -> Output {
    support::annex_output(dir, args, None)
}

fn ours(dir: &Path, args: &[&str]) -> Output {
    crate::ours(dir, args)
}

/// A repository initialized by the reference with annexed, committed
/// files `f` and `g`.
fn repo(area: &Path, name: &str) -> PathBuf {
    let r = area.join(name);
    std::fs::create_dir(&r).expect("mkdir");
    support::git(&r, &["init", "-q"]);
    ok(&theirs(&r, &["init", "-q"]));
    std::fs::write(r.join("f"), "content of f\n").expect("write");
    std::fs::write(r.join("g"), "content of g\n").expect("write");
    ok(&theirs(&r, &["add", "-q", "f", "g"]));
    support::git(&r, &["commit", "-q", "-m", "f"]);
    r
}

fn key_of(r: &Path, file: &str) -> String {
    ok(&theirs(r, &["lookupkey", file])).trim().to_string()
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
        .skip(1)
        .filter(|l| !l.trim_start().starts_with("annex-uuid"))
        .map(str::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `remote.log` line of the remote named `name`, without UUID and
/// timestamp.
fn logged(repo: &Path, name: &str) -> String {
    let log = support::git(repo, &["cat-file", "-p", "git-annex:remote.log"]);
    log.lines()
        .find(|l| l.split(' ').any(|w| w == format!("name={name}")))
        .map(|l| {
            l.split(' ')
                .skip(1)
                .filter(|w| !w.starts_with("timestamp="))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| panic!("no remote.log line for {name}:\n{log}"))
}

/// Stores at `rsyncurl` by the tool `store_with`, then the other gets and
/// drops: the content crosses both ways in the reference's layout.
fn rsync_round(r: &Path, url: &str, store: &Path, transport: Option<&str>) {
    // One remote set up by each, with the same parameters.
    let to = ok(&theirs(
        r,
        &[
            "initremote",
            "rt",
            "type=rsync",
            &format!("rsyncurl={url}/t"),
            "encryption=none",
        ],
    ));
    let oo = ok(&ours(
        r,
        &[
            "initremote",
            "ro",
            "type=rsync",
            &format!("rsyncurl={url}/o"),
            "encryption=none",
        ],
    ));
    assert_eq!(to.replace("rt", "X"), oo.replace("ro", "X"));
    let (ut, uo) = (format!("{url}/t"), format!("{url}/o"));
    assert_eq!(
        remote_section(r, "rt").replace(&ut, "URL"),
        remote_section(r, "ro").replace(&uo, "URL")
    );
    assert_eq!(
        logged(r, "rt").replace(&ut, "URL").replace("=rt", "=X"),
        logged(r, "ro").replace(&uo, "URL").replace("=ro", "=X")
    );
    if let Some(t) = transport {
        for name in ["rt", "ro"] {
            support::git(
                r,
                &["config", &format!("remote.{name}.annex-rsync-transport"), t],
            );
        }
    }
    let kf = key_of(r, "f");
    let kg = key_of(r, "g");
    // The reference stores f in rt, we get it from there.
    ok(&theirs(r, &["copy", "--to", "rt", "f"]));
    ok(&theirs(r, &["drop", "f"]));
    ok(&ours(r, &["get", "--from", "rt", "f"]));
    assert_eq!(
        std::fs::read_to_string(r.join("f")).unwrap(),
        "content of f\n"
    );
    // We store g in ro, in the reference's layout; the reference gets it.
    ok(&ours(r, &["copy", "--to", "ro", "g"]));
    let rt_files = find_key(&store.join("t"), &kf);
    let ro_files = find_key(&store.join("o"), &kg);
    assert_eq!(rt_files.len(), 1, "{rt_files:?}");
    assert_eq!(ro_files.len(), 1, "{ro_files:?}");
    // Both use the lower-case hash directories: HASH/HASH/KEY/KEY.
    for (p, base, k) in [
        (&rt_files[0], store.join("t"), &kf),
        (&ro_files[0], store.join("o"), &kg),
    ] {
        let rel = p.strip_prefix(&base).unwrap().display().to_string();
        let parts: Vec<&str> = rel.split('/').collect();
        assert_eq!(parts.len(), 4, "{rel}");
        assert_eq!(parts[0].len(), 3);
        assert_eq!(parts[1].len(), 3);
        assert_eq!(parts[2], k.as_str());
        assert_eq!(parts[3], k.as_str());
        assert!(
            parts[0]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
    ok(&theirs(r, &["drop", "g"]));
    ok(&theirs(r, &["get", "--from", "ro", "g"]));
    assert_eq!(
        std::fs::read_to_string(r.join("g")).unwrap(),
        "content of g\n"
    );
    // whereis agrees, asked of both.
    for w in [
        ok(&ours(r, &["whereis", "g"])),
        ok(&theirs(r, &["whereis", "g"])),
    ] {
        assert!(w.contains("[ro]"), "{w}");
    }
    // Each drops from the other's remote (f here, so numcopies holds).
    ok(&ours(r, &["drop", "--from", "rt", "f"]));
    assert!(find_key(&store.join("t"), &kf).is_empty());
    ok(&theirs(r, &["drop", "--from", "ro", "g"]));
    assert!(find_key(&store.join("o"), &kg).is_empty());
    // Stored again after the reference removed it, and removed by us.
    ok(&ours(r, &["copy", "--to", "ro", "g"]));
    assert_eq!(find_key(&store.join("o"), &kg).len(), 1);
    ok(&ours(r, &["drop", "--from", "ro", "g"]));
    assert!(find_key(&store.join("o"), &kg).is_empty());
    ok(&theirs(r, &["fsck", "-q"]));
}

fn find_key(dir: &Path, key: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == key) {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn rsync_to_a_local_directory_crosses_both_ways() {
    let area = tempfile::tempdir().expect("tempdir");
    let r = repo(area.path(), "r");
    let store = area.path().join("store");
    std::fs::create_dir(&store).expect("mkdir");
    rsync_round(&r, &store.display().to_string(), &store, None);
    // A clone enables the remote each made (ours the reference's, the
    // reference ours), verifies it, and gets from it.
    ok(&theirs(&r, &["copy", "--to", "rt", "f"]));
    ok(&ours(&r, &["copy", "--to", "ro", "g"]));
    let c = area.path().join("c");
    support::git(area.path(), &["clone", "-q", &r.display().to_string(), "c"]);
    ok(&theirs(&c, &["init", "-q"]));
    let ours_bin = Path::new(env!("CARGO_BIN_EXE_git-annex-rs"));
    let theirs_bin = support::reference_git_annex();
    for (bin, remote) in [(ours_bin, "rt"), (theirs_bin, "ro")] {
        let mut cmd = std::process::Command::new(bin);
        support::hermetic(&mut cmd)
            .current_dir(&c)
            .args(["enableremote", remote]);
        let text = ok(&support::output_with_stdin(cmd, None));
        let id = text
            .split_whitespace()
            .skip_while(|w| *w != "--safe")
            .nth(1)
            .unwrap_or_else(|| panic!("no ID in {text}"))
            .to_string();
        let mut cmd = std::process::Command::new(bin);
        support::hermetic(&mut cmd)
            .current_dir(&c)
            .args(["verifyremote", remote, "--safe", &id]);
        ok(&support::output_with_stdin(cmd, None));
    }
    assert_eq!(remote_section(&c, "rt"), remote_section(&r, "rt"));
    assert_eq!(remote_section(&c, "ro"), remote_section(&r, "ro"));
    ok(&ours(&c, &["get", "--from", "rt", "f"]));
    ok(&theirs(&c, &["get", "--from", "ro", "g"]));
    assert_eq!(
        std::fs::read_to_string(c.join("f")).unwrap(),
        "content of f\n"
    );
    assert_eq!(
        std::fs::read_to_string(c.join("g")).unwrap(),
        "content of g\n"
    );
}

#[test]
fn rsync_over_ssh_crosses_both_ways() {
    let sshd = Sshd::start();
    let area = tempfile::tempdir().expect("tempdir");
    let r = repo(area.path(), "r");
    let store = area.path().join("store");
    std::fs::create_dir(&store).expect("mkdir");
    let url = format!("127.0.0.1:{}", store.display());
    rsync_round(&r, &url, &store, Some(&sshd.ssh_command()));
}

#[test]
fn rsync_whatelse_and_refusals_match_the_reference() {
    let area = tempfile::tempdir().expect("tempdir");
    let r = repo(area.path(), "r");
    for args in [
        &["initremote", "--whatelse", "x", "type=rsync"][..],
        &["initremote", "--whatelse", "x", "type=rsync", "rsyncurl=/a"][..],
        &["initremote", "x", "type=rsync", "encryption=none"][..],
        &[
            "initremote",
            "x",
            "type=rsync",
            "rsyncurl=/a",
            "encryption=none",
            "bogus=1",
        ][..],
        &[
            "initremote",
            "x",
            "type=rsync",
            "rsyncurl=/a",
            "encryption=none",
            "shellescape=maybe",
        ][..],
    ] {
        let t = theirs(&r, args);
        let o = ours(&r, args);
        assert_eq!(o.status.code(), t.status.code(), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&t.stdout),
            "{args:?}"
        );
        let last = |out: &Output| {
            String::from_utf8_lossy(&out.stderr)
                .replace("git-annex-rs:", "git-annex:")
                .lines()
                .find(|l| l.starts_with("git-annex:"))
                .map(str::to_string)
        };
        assert_eq!(last(&o), last(&t), "{args:?}");
    }
}

/// A real S3-compatible server on 127.0.0.1: moto's (`moto[server]` from
/// PyPI, which `.ci/run` installs): maintained, speaks S3's REST API with
/// path-style requests, multipart uploads, versioning and bucket
/// locations, and runs from Python in a second with no state on disk.
/// Stopped when dropped. A test that needs it fails when it is missing.
pub(crate) struct S3Server {
    child: std::process::Child,
    pub(crate) port: u16,
}

impl S3Server {
    pub(crate) fn start() -> S3Server {
        S3Server::start_with(&[])
    }

    /// With moto's own settings in its environment.
    fn start_with(env: &[(&str, &str)]) -> S3Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let child = std::process::Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 -m moto.server (moto[server], installed by .ci/run) is needed");
        let mut server = S3Server { child, port };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("moto's server exited ({status}): is moto[server] installed?");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "moto's server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        server.port = port;
        server
    }

    /// The names of the objects in `bucket`, sorted, asked with boto3.
    pub(crate) fn objects(&self, bucket: &str) -> Vec<String> {
        let script = "import sys, boto3\n\
c = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2], \
aws_secret_access_key=sys.argv[3], region_name='us-east-1')\n\
for k in [o['Key'] for p in c.get_paginator('list_objects_v2').paginate(Bucket=sys.argv[4]) \
for o in p.get('Contents', [])]: print(k)\n";
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                script,
                &format!("http://127.0.0.1:{}", self.port),
                S3_ID,
                S3_SECRET,
                bucket,
            ])
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }

    /// The ETag of an object, asked with boto3 (which moto brings).
    fn etag(&self, bucket: &str, object: &str) -> String {
        let script = "import sys, boto3\n\
c = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2], \
aws_secret_access_key=sys.argv[3], region_name='us-east-1')\n\
print(c.head_object(Bucket=sys.argv[4], Key=sys.argv[5])['ETag'])\n";
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                script,
                &format!("http://127.0.0.1:{}", self.port),
                S3_ID,
                S3_SECRET,
                bucket,
                object,
            ])
            .output()
            .expect("python3");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) const S3_ID: &str = "AKIDTEST";
pub(crate) const S3_SECRET: &str = "s3cr3t/Test";

/// Runs `program ARGS` in `dir` hermetically, with the S3 credentials in
/// the environment when `creds`.
fn run_s3(program: &Path, dir: &Path, args: &[&str], creds: bool) -> Output {
    let mut cmd = std::process::Command::new(program);
    support::hermetic(&mut cmd).current_dir(dir).args(args);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN");
    if creds {
        cmd.env("AWS_ACCESS_KEY_ID", S3_ID)
            .env("AWS_SECRET_ACCESS_KEY", S3_SECRET);
    }
    support::output_with_stdin(cmd, None)
}

fn ours_s3(dir: &Path, args: &[&str]) -> Output {
    run_s3(
        Path::new(env!("CARGO_BIN_EXE_git-annex-rs")),
        dir,
        args,
        true,
    )
}

fn theirs_s3(dir: &Path, args: &[&str]) -> Output {
    run_s3(support::reference_git_annex(), dir, args, true)
}

/// A repository for S3 tests: `f`, `g` and `big` (13 MB) annexed, and
/// 127.0.0.1 allowed (both tools refuse it otherwise).
fn s3_repo(area: &Path, name: &str) -> PathBuf {
    let r = repo(area, name);
    let big: Vec<u8> = (0..13_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(r.join("big"), big).expect("write");
    ok(&theirs(&r, &["add", "-q", "big"]));
    support::git(&r, &["commit", "-q", "-m", "big"]);
    support::git(
        &r,
        &["config", "annex.security.allowed-ip-addresses", "127.0.0.1"],
    );
    r
}

#[test]
fn s3_content_crosses_both_ways() {
    let server = S3Server::start();
    let area = tempfile::tempdir().expect("tempdir");
    let r = s3_repo(area.path(), "r");
    let port = server.port.to_string();
    let params = |bucket: &str| -> Vec<String> {
        [
            "type=S3",
            "host=127.0.0.1",
            &format!("port={port}"),
            "requeststyle=path",
            "encryption=none",
            &format!("bucket={bucket}"),
            "fileprefix=annex/",
            "partsize=6MiB",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let init = |name: &str, bucket: &str| -> Vec<String> {
        let mut v = vec!["initremote".to_string(), name.to_string()];
        v.extend(params(bucket));
        v
    };
    let args = |v: &[String]| {
        v.iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\u{0}")
    };
    let t_args = init("st", "Theirs");
    let o_args = init("so", "Ours");
    let ta = args(&t_args);
    let oa = args(&o_args);
    let to = ok(&theirs_s3(&r, &ta.split('\u{0}').collect::<Vec<_>>()));
    let oo = ok(&ours_s3(&r, &oa.split('\u{0}').collect::<Vec<_>>()));
    // The reference shows what it does to the bucket inside the line.
    assert!(to.starts_with("initremote st "), "{to}");
    assert!(oo.starts_with("initremote so "), "{oo}");
    assert_eq!(remote_section(&r, "st"), remote_section(&r, "so"));
    assert_eq!(
        logged(&r, "st").replace("Theirs", "B").replace("=st", "=X"),
        logged(&r, "so").replace("Ours", "B").replace("=so", "=X")
    );
    // Both wrote the bucket's annex-uuid.
    assert!(!server.etag("theirs", "annex/annex-uuid").is_empty());
    assert!(!server.etag("ours", "annex/annex-uuid").is_empty());
    let kbig = key_of(&r, "big");
    // The reference stores (big in parts), we get.
    ok(&theirs_s3(&r, &["copy", "--to", "st", "f", "big"]));
    ok(&theirs_s3(&r, &["drop", "f", "big"]));
    ok(&ours_s3(&r, &["get", "--from", "st", "f", "big"]));
    assert_eq!(
        std::fs::read_to_string(r.join("f")).unwrap(),
        "content of f\n"
    );
    ok(&theirs(&r, &["fsck", "-q", "f", "big"]));
    // We store (big in parts of partsize, S3 wants 5 MiB at least: 3
    // parts), the reference gets.
    ok(&ours_s3(&r, &["copy", "--to", "so", "g", "big"]));
    let etag = server.etag("ours", &format!("annex/{kbig}"));
    assert!(
        etag.trim_matches('"').ends_with("-3"),
        "a 3-part upload: {etag}"
    );
    ok(&theirs_s3(&r, &["drop", "g", "big"]));
    ok(&theirs_s3(&r, &["get", "--from", "so", "g", "big"]));
    assert_eq!(
        std::fs::read_to_string(r.join("g")).unwrap(),
        "content of g\n"
    );
    ok(&theirs(&r, &["fsck", "-q", "g", "big"]));
    for w in [
        ok(&ours_s3(&r, &["whereis", "g"])),
        ok(&theirs_s3(&r, &["whereis", "g"])),
    ] {
        assert!(w.contains("[so]"), "{w}");
    }
    // Each drops from the other's remote; then the other finds it gone.
    ok(&ours_s3(&r, &["drop", "--from", "st", "f"]));
    ok(&theirs_s3(&r, &["drop", "--from", "so", "g"]));
    let o = ours_s3(&r, &["copy", "--to", "so", "--fast", "g"]);
    ok(&o);
    let t = theirs_s3(&r, &["copy", "--to", "st", "f"]);
    ok(&t);
    // What each stored again is there for the other: the objects are
    // named alike.
    ok(&theirs_s3(&r, &["fsck", "--from", "so", "g"]));
    ok(&ours_s3(&r, &["drop", "--from", "st", "f"]));
    ok(&ours_s3(&r, &["drop", "--from", "so", "g"]));
    ok(&theirs(&r, &["fsck", "-q"]));
}

#[test]
fn s3_embedded_creds_are_read_by_the_other() {
    let server = S3Server::start();
    let area = tempfile::tempdir().expect("tempdir");
    let r = s3_repo(area.path(), "r");
    let port = format!("port={}", server.port);
    let common = [
        "type=S3",
        "host=127.0.0.1",
        port.as_str(),
        "requeststyle=path",
        "signature=v4",
        "region=us-east-1",
        "encryption=none",
        "embedcreds=yes",
    ];
    let mut t = vec!["initremote", "et"];
    t.extend(common);
    let mut o = vec!["initremote", "eo"];
    o.extend(common);
    ok(&theirs_s3(&r, &t));
    ok(&ours_s3(&r, &o));
    // The default bucket NAME-UUID, and the credentials as the reference
    // embeds them.
    let lt = logged(&r, "et");
    let lo = logged(&r, "eo");
    let strip = |l: &str| {
        l.split(' ')
            .filter(|w| !w.starts_with("bucket=") && !w.starts_with("name="))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(strip(&lt), strip(&lo));
    assert!(lo.contains("s3creds="), "{lo}");
    ok(&theirs_s3(&r, &["copy", "--to", "et", "f"]));
    ok(&ours_s3(&r, &["copy", "--to", "eo", "g"]));
    // A clone with no credentials in its environment enables the other's
    // remote and gets from it with the embedded ones.
    let c = area.path().join("c");
    support::git(area.path(), &["clone", "-q", &r.display().to_string(), "c"]);
    support::git(
        &c,
        &["config", "annex.security.allowed-ip-addresses", "127.0.0.1"],
    );
    let ours_bin = Path::new(env!("CARGO_BIN_EXE_git-annex-rs"));
    let theirs_bin = support::reference_git_annex();
    ok(&run_s3(theirs_bin, &c, &["init", "-q"], false));
    ok(&run_s3(ours_bin, &c, &["enableremote", "et"], false));
    ok(&run_s3(theirs_bin, &c, &["enableremote", "eo"], false));
    for (bin, remote) in [(theirs_bin, "eo"), (ours_bin, "et")] {
        let v = run_s3(bin, &c, &["verifyremote", remote], false);
        let text = String::from_utf8_lossy(&v.stdout).into_owned();
        let id = text
            .split_whitespace()
            .skip_while(|w| *w != "--safe")
            .nth(1)
            .unwrap_or_else(|| panic!("no ID in {text}"))
            .to_string();
        ok(&run_s3(
            bin,
            &c,
            &["verifyremote", remote, "--safe", &id],
            false,
        ));
    }
    ok(&run_s3(ours_bin, &c, &["get", "--from", "et", "f"], false));
    ok(&run_s3(
        theirs_bin,
        &c,
        &["get", "--from", "eo", "g"],
        false,
    ));
    assert_eq!(
        std::fs::read_to_string(c.join("f")).unwrap(),
        "content of f\n"
    );
    assert_eq!(
        std::fs::read_to_string(c.join("g")).unwrap(),
        "content of g\n"
    );
    // Both cached them locally, as the reference does.
    let creds = std::fs::read_dir(c.join(".git/annex/creds"))
        .expect("creds dir")
        .count();
    assert_eq!(creds, 2);
}

/// Our signatures (version 4) are checked by the server: moto with its
/// access control on (after the 3 requests that make a user, its policy
/// and its key) refuses a request whose signature does not match.
/// The reference is not in this test: moto refuses its signatures.
#[test]
fn s3_signature_v4_is_accepted_by_a_checking_server() {
    let server = S3Server::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]);
    let script = "import sys, json, boto3\n\
iam = boto3.client('iam', endpoint_url=sys.argv[1], aws_access_key_id='x', \
aws_secret_access_key='y', region_name='us-east-1')\n\
iam.create_user(UserName='t')\n\
iam.put_user_policy(UserName='t', PolicyName='all', PolicyDocument=json.dumps(\
{'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}]}))\n\
k = iam.create_access_key(UserName='t')['AccessKey']\n\
print(k['AccessKeyId'], k['SecretAccessKey'])\n";
    let out = std::process::Command::new("python3")
        .args(["-c", script, &format!("http://127.0.0.1:{}", server.port)])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut words = text.split_whitespace();
    let (id, secret) = (words.next().expect("id"), words.next().expect("secret"));
    let area = tempfile::tempdir().expect("tempdir");
    let r = s3_repo(area.path(), "r");
    let run = |args: &[&str], id: &str, secret: &str| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_git-annex-rs"));
        support::hermetic(&mut cmd)
            .current_dir(&r)
            .args(args)
            .env("AWS_ACCESS_KEY_ID", id)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env_remove("AWS_SESSION_TOKEN");
        support::output_with_stdin(cmd, None)
    };
    let port = format!("port={}", server.port);
    ok(&run(
        &[
            "initremote",
            "s",
            "type=S3",
            "host=127.0.0.1",
            &port,
            "requeststyle=path",
            "signature=v4",
            "region=us-east-1",
            "encryption=none",
            "partsize=6MiB",
            "fileprefix=a b/",
        ],
        id,
        secret,
    ));
    ok(&run(&["copy", "--to", "s", "f", "big"], id, secret));
    ok(&run(&["drop", "f", "big"], id, secret));
    ok(&run(&["get", "--from", "s", "f", "big"], id, secret));
    ok(&theirs(&r, &["fsck", "-q", "f", "big"]));
    ok(&run(&["drop", "--from", "s", "f"], id, secret));
    // A wrong secret is refused, and nothing is taken for absent.
    let bad = run(&["copy", "--to", "s", "g"], id, "wrong");
    assert!(
        !bad.status.success(),
        "{}{}",
        String::from_utf8_lossy(&bad.stdout),
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(
        String::from_utf8_lossy(&bad.stdout).contains("S3 error 403: Forbidden"),
        "{}",
        String::from_utf8_lossy(&bad.stdout)
    );
}

/// `--whatelse` for `type=S3` and its refusals of bad values (with
/// credentials in the environment; nothing is listening on the port, and
/// neither tool gets as far as connecting), as the reference.
#[test]
fn s3_whatelse_and_refusals_match_the_reference() {
    let area = tempfile::tempdir().expect("tempdir");
    let r = repo(area.path(), "r");
    let base = ["type=S3", "encryption=none", "host=127.0.0.1", "port=9"];
    let mut cases: Vec<Vec<&str>> = vec![
        vec!["initremote", "--whatelse", "x", "type=S3"],
        vec![
            "initremote",
            "--whatelse",
            "x",
            "type=S3",
            "bucket=b",
            "x-amz-meta-a=1",
        ],
    ];
    for extra in ["port=abc", "protocol=ftp", "requeststyle=odd", "bogus=1"] {
        let mut v = vec!["initremote", "x"];
        v.extend(base);
        v.push(extra);
        cases.push(v);
    }
    for args in &cases {
        let t = theirs_s3(&r, args);
        let o = ours_s3(&r, args);
        assert_eq!(o.status.code(), t.status.code(), "{args:?}");
        let first = |out: &Output| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .map(|l| l.split(" (").next().unwrap_or("").trim().to_string())
        };
        if args[1] == "--whatelse" {
            assert_eq!(
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&t.stdout),
                "{args:?}"
            );
        } else {
            // The reference's notes about the bucket come before its
            // refusal on the action's line; we show none.
            assert_eq!(first(&o), first(&t), "{args:?}");
        }
        let err = |out: &Output| {
            String::from_utf8_lossy(&out.stderr)
                .replace("git-annex-rs:", "git-annex:")
                .lines()
                .find(|l| l.starts_with("git-annex:"))
                .map(str::to_string)
        };
        assert_eq!(err(&o), err(&t), "{args:?}");
    }
}
