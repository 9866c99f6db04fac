//! End-to-end tests of chunking and encryption of special remotes
//! (`chunk=`, the old `chunksize=`,
//! `encryption=shared|hybrid|pubkey|sharedpubkey`, `mac=`),
//! with the reference on the other side: a directory remote set up and
//! filled by one is read by the other, `initremote` says and writes what
//! the reference does, a resumed chunked upload does not send the chunks
//! already there again, and a drop removes every chunk. gpg runs with a
//! GnuPG home made by the test (a key without passphrase).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support;

/// A scratch area with its own GnuPG home holding one key.
struct Area {
    dir: tempfile::TempDir,
    keyid: String,
}

impl Drop for Area {
    fn drop(&mut self) {
        // The agent gpg started for this home.
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.gnupg())
            .args(["--kill", "gpg-agent"])
            .output();
    }
}

impl Area {
    fn new() -> Area {
        let dir = tempfile::tempdir().expect("tempdir");
        let gnupg = dir.path().join("g");
        std::fs::create_dir(&gnupg).expect("gnupg home");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&gnupg, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        let gpg = |args: &[&str]| {
            let o = Command::new("gpg")
                .env("GNUPGHOME", &gnupg)
                .args(args)
                .output()
                .expect("gpg runs");
            assert!(o.status.success(), "gpg {args:?}: {o:?}");
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        gpg(&[
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "Test <test@example.invalid>",
            "default",
            "default",
            "never",
        ]);
        let listed = gpg(&[
            "--with-colons",
            "--list-public-keys",
            "test@example.invalid",
        ]);
        let keyid = listed
            .lines()
            .find_map(|l| l.strip_prefix("pub:"))
            .and_then(|l| l.split(':').nth(3))
            .expect("a public key")
            .to_string();
        Area { dir, keyid }
    }

    fn gnupg(&self) -> PathBuf {
        self.dir.path().join("g")
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn run(&self, program: &Path, dir: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new(program);
        support::hermetic(&mut cmd);
        cmd.current_dir(dir)
            .env("GNUPGHOME", self.gnupg())
            .env("AWS_ACCESS_KEY_ID", crate::special_types::S3_ID)
            .env("AWS_SECRET_ACCESS_KEY", crate::special_types::S3_SECRET)
            .env_remove("AWS_SESSION_TOKEN")
            .args(args);
        support::output_with_stdin(cmd, None)
    }

    fn ours(&self, dir: &Path, args: &[&str]) -> Output {
        self.run(Path::new(env!("CARGO_BIN_EXE_git-annex-rs")), dir, args)
    }

    fn theirs(&self, dir: &Path, args: &[&str]) -> Output {
        self.run(support::reference_git_annex(), dir, args)
    }

    fn by(&self, theirs: bool, dir: &Path, args: &[&str]) -> Output {
        if theirs {
            self.theirs(dir, args)
        } else {
            self.ours(dir, args)
        }
    }

    /// A repository initialized by the reference with one annexed,
    /// committed file `f` of 45 bytes.
    fn repo(&self, name: &str) -> PathBuf {
        let r = self.path(name);
        std::fs::create_dir(&r).expect("mkdir");
        support::git(&r, &["init", "-q"]);
        ok(&self.theirs(&r, &["init", "-q", name]));
        std::fs::write(
            r.join("f"),
            "the content of f, in several chunks of 10\n\n\n\n",
        )
        .expect("write");
        ok(&self.theirs(&r, &["add", "-q", "f"]));
        support::git(&r, &["commit", "-q", "-m", "f"]);
        r
    }

    fn clone(&self, from: &Path, name: &str) -> PathBuf {
        support::git(
            self.dir.path(),
            &["clone", "-q", &from.display().to_string(), name],
        );
        let r = self.path(name);
        ok(&self.theirs(&r, &["init", "-q", name]));
        r
    }
}

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

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(
                    p.strip_prefix(dir)
                        .expect("under dir")
                        .display()
                        .to_string(),
                );
            }
        }
    }
    out.sort();
    out
}

/// `remote.log`'s entry of remote `name`: its fields, the cipher's value
/// blanked (it is random), the timestamp left out.
fn logged_fields(repo: &Path, name: &str, keyid: &str) -> Vec<String> {
    let log = support::git(repo, &["cat-file", "-p", "git-annex:remote.log"]);
    let line = log
        .lines()
        .find(|l| l.split(' ').any(|w| w == format!("name={name}")))
        .unwrap_or_else(|| panic!("{name} in remote.log: {log}"));
    line.split(' ')
        .skip(1)
        .filter(|w| !w.starts_with("timestamp="))
        .map(|w| {
            if w.starts_with("cipher=") {
                "cipher=C".to_string()
            } else {
                w.replace(keyid, "KEYID")
            }
        })
        .collect()
}

/// The chunk log of `f`'s key, timestamps and UUIDs left out.
fn chunk_log(a: &Area, repo: &Path) -> String {
    let key = ok(&a.theirs(repo, &["lookupkey", "f"]));
    let path = ok(&a.theirs(
        repo,
        &[
            "examinekey",
            "--format=${hashdirlower}${key}.log.cnk",
            key.trim(),
        ],
    ));
    let o = Command::new("git")
        .current_dir(repo)
        .args(["cat-file", "-p", &format!("git-annex:{}", path.trim())])
        .output()
        .expect("git");
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            l.split_once(' ')
                .map(|(_, r)| r.split_once(':').map(|(_, c)| c).unwrap_or(r))
                .unwrap_or("")
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The configurations tested: name, parameters (`KEYID` replaced).
const SETUPS: &[(&str, &[&str])] = &[
    ("none", &["encryption=none", "chunk=10"]),
    ("shared", &["encryption=shared", "chunk=10"]),
    ("sharedmac", &["encryption=shared", "mac=HMACSHA512"]),
    (
        "hybrid",
        &[
            "encryption=hybrid",
            "keyid=KEYID",
            "mac=HMACSHA256",
            "chunk=10",
        ],
    ),
    ("pubkey", &["encryption=pubkey", "keyid=KEYID"]),
    (
        "sharedpubkey",
        &["encryption=sharedpubkey", "keyid=KEYID", "chunk=20"],
    ),
    ("legacy", &["encryption=none", "chunksize=10"]),
    (
        "legacyhybrid",
        &["encryption=hybrid", "keyid=KEYID", "chunksize=100"],
    ),
];

/// One side initializes every remote and stores `f` in it; the other
/// enables them, verifies them and gets `f` from each; fsck --from and
/// whereis agree.
fn store_by_one_get_by_other(theirs_store: bool) {
    let a = Area::new();
    let origin = a.repo("origin");
    let mut init_out = Vec::new();
    let mut chunked = 0;
    for (name, params) in SETUPS {
        let dir = a.path(&format!("d-{name}"));
        std::fs::create_dir(&dir).expect("mkdir");
        let d = format!("directory={}", dir.display());
        let mut args = vec!["initremote", name, "type=directory", d.as_str()];
        let params: Vec<String> = params
            .iter()
            .map(|p| p.replace("KEYID", &a.keyid))
            .collect();
        args.extend(params.iter().map(String::as_str));
        init_out.push(ok(&a.by(theirs_store, &origin, &args)));
        ok(&a.by(theirs_store, &origin, &["copy", "--to", name, "f"]));
        let stored = files(&dir);
        assert!(
            stored
                .iter()
                .all(|f| !f.contains("SHA256E") || params.iter().any(|p| p == "encryption=none")),
            "{name}: key names encrypted: {stored:?}"
        );
        if params.iter().any(|p| p == "chunk=10") {
            // 45 bytes in chunks of 10.
            assert_eq!(stored.len(), 5, "{name}: {stored:?}");
            chunked += 1;
            assert_eq!(
                chunk_log(&a, &origin),
                vec!["10 5"; chunked].join("\n"),
                "{name}"
            );
        }
        if params.iter().any(|p| p.starts_with("chunksize=")) {
            // The old layout: chunk files and their count.
            assert!(
                stored.iter().any(|f| f.ends_with(".chunkcount"))
                    && stored.iter().any(|f| f.ends_with(".chunk1")),
                "{name}: {stored:?}"
            );
        }
        if let Some(m) = params.iter().find_map(|p| p.strip_prefix("mac=")) {
            assert!(
                stored.iter().all(|f| f.contains(&format!("GPG{m}--"))),
                "{stored:?}"
            );
        }
    }
    let c = a.clone(&origin, "c");
    for (name, _) in SETUPS {
        let d = format!("directory={}", a.path(&format!("d-{name}")).display());
        let enabled = ok(&a.by(!theirs_store, &c, &["enableremote", name, &d]));
        let id = enabled
            .split("--safe ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("{name}: {enabled}"));
        ok(&a.by(!theirs_store, &c, &["verifyremote", name, "--safe", id]));
        let got = ok(&a.by(!theirs_store, &c, &["get", "--from", name, "f"]));
        assert!(got.contains("ok"), "{name}: {got}");
        assert_eq!(
            std::fs::read_to_string(c.join("f")).expect("got f"),
            "the content of f, in several chunks of 10\n\n\n\n",
            "{name}"
        );
        ok(&a.by(!theirs_store, &c, &["drop", "--force", "f"]));
        for by_theirs in [true, false] {
            let fsck = ok(&a.by(by_theirs, &c, &["fsck", "--from", name, "f"]));
            assert!(fsck.contains("ok"), "{name}: {fsck}");
        }
    }
    let ours = ok(&a.ours(&c, &["whereis", "f"]));
    let theirs = ok(&a.theirs(&c, &["whereis", "f"]));
    assert_eq!(ours, theirs);
    assert!(
        ours.contains(&format!("({} copies)", SETUPS.len() + 1)),
        "{ours}"
    );
    // Both say the same when setting up (the note naming the key).
    if theirs_store {
        let a2 = Area::new();
        let o2 = a2.repo("o2");
        for (name, params) in SETUPS {
            let dir = a2.path(&format!("d-{name}"));
            std::fs::create_dir(&dir).expect("mkdir");
            let d = format!("directory={}", dir.display());
            let mut args = vec!["initremote", name, "type=directory", d.as_str()];
            let params: Vec<String> = params
                .iter()
                .map(|p| p.replace("KEYID", &a2.keyid))
                .collect();
            args.extend(params.iter().map(String::as_str));
            let ours = ok(&a2.ours(&o2, &args)).replace(&a2.keyid, "KEYID");
            let theirs = init_out.remove(0).replace(&a.keyid, "KEYID");
            assert_eq!(ours, theirs, "{name}");
            assert_eq!(
                logged_fields(&o2, name, &a2.keyid),
                logged_fields(&origin, name, &a.keyid)
            );
        }
    }
}

#[test]
fn content_stored_by_the_reference_is_got_by_us() {
    store_by_one_get_by_other(true);
}

#[test]
fn content_stored_by_us_is_got_by_the_reference() {
    store_by_one_get_by_other(false);
}

/// An upload interrupted after two chunks is resumed: those two are not
/// sent again; a drop then removes every chunk and records it as the
/// reference does.
#[test]
fn a_resumed_chunked_upload_skips_stored_chunks_and_drop_removes_every_chunk() {
    let a = Area::new();
    let mut logs = Vec::new();
    for theirs in [true, false] {
        let r = a.repo(if theirs { "rt" } else { "ro" });
        let dir = a.path(if theirs { "dt" } else { "do" });
        std::fs::create_dir(&dir).expect("mkdir");
        let d = format!("directory={}", dir.display());
        ok(&a.by(
            theirs,
            &r,
            &[
                "initremote",
                "c",
                "type=directory",
                &d,
                "encryption=none",
                "chunk=10",
            ],
        ));
        ok(&a.ours(&r, &["copy", "--to", "c", "f"]));
        let mut stored = files(&dir);
        assert_eq!(stored.len(), 5, "{stored:?}");
        // By chunk number (`KEY-S10-CN--...`).
        stored.sort_by_key(|f| {
            f.rsplit('/')
                .next()
                .and_then(|n| n.split("-C").nth(1))
                .and_then(|r| r.split("--").next())
                .and_then(|n| n.parse::<u32>().ok())
        });
        // An upload that stopped after two chunks: the later ones are
        // not there.
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        for f in &stored[2..] {
            let parent = dir.join(f).parent().expect("key dir").to_path_buf();
            std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o755))
                .expect("chmod");
            std::fs::remove_dir_all(&parent).expect("rm chunk");
        }
        let inode = |f: &str| std::fs::metadata(dir.join(f)).map(|m| m.ino()).ok();
        let first_two: Vec<Option<u64>> = stored[..2].iter().map(|f| inode(f)).collect();
        assert!(first_two.iter().all(Option::is_some), "{:?}", files(&dir));
        let out = ok(&a.ours(&r, &["copy", "--to", "c", "f"]));
        assert!(out.contains("copy f (to c...)"), "{out}");
        assert_eq!(files(&dir).len(), 5);
        let after: Vec<Option<u64>> = stored[..2].iter().map(|f| inode(f)).collect();
        assert_eq!(after, first_two, "chunks 1 and 2 were sent again");
        // The reference reads what the resumed upload stored.
        ok(&a.theirs(&r, &["fsck", "--from", "c", "f"]));
        // A drop removes every chunk, by either.
        ok(&a.by(theirs, &r, &["drop", "--from", "c", "f"]));
        assert_eq!(files(&dir), Vec::<String>::new());
        logs.push(chunk_log(&a, &r));
    }
    assert_eq!(logs[0], logs[1]);
    assert_eq!(logs[0], "10 0");
}

/// A small external special remote storing under its `dir=`.
const EXTERNAL: &str = r#"#!/usr/bin/env python3
import os, sys, shutil
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
    cmd, _, rest = recv().partition(" ")
    if cmd == "INITREMOTE":
        dd = ask("GETCONFIG", "dir")
        os.makedirs(dd, exist_ok=True)
        send("SETCONFIG", "dir", os.path.abspath(dd))
        send("INITREMOTE-SUCCESS")
    elif cmd == "PREPARE":
        d = ask("GETCONFIG", "dir")
        send("PREPARE-SUCCESS")
    elif cmd == "TRANSFER":
        direction, key, f = rest.split(" ", 2)
        p = os.path.join(d, key)
        if direction == "STORE":
            shutil.copyfile(f, p + ".tmp"); os.rename(p + ".tmp", p)
        elif os.path.exists(p):
            shutil.copyfile(p, f)
        else:
            send("TRANSFER-FAILURE", direction, key, "not there"); continue
        send("TRANSFER-SUCCESS", direction, key)
    elif cmd == "CHECKPRESENT":
        send("CHECKPRESENT-SUCCESS" if os.path.exists(os.path.join(d, rest)) else "CHECKPRESENT-FAILURE", rest)
    elif cmd == "REMOVE":
        try:
            os.remove(os.path.join(d, rest))
        except FileNotFoundError:
            pass
        send("REMOVE-SUCCESS", rest)
    else:
        send("UNSUPPORTED-REQUEST")
"#;

/// An external special remote with encryption and chunking: what one
/// implementation stores, the other gets, and a drop removes every chunk.
#[test]
fn an_encrypted_chunked_external_remote_works_both_ways() {
    let a = Area::new();
    let bin = a.path("bin");
    std::fs::create_dir(&bin).expect("bin");
    let prog = bin.join("git-annex-remote-cryptotest");
    std::fs::write(&prog, EXTERNAL).expect("write program");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let with_bin = |mut o: Command| {
        let path = o
            .get_envs()
            .find(|(k, _)| *k == "PATH")
            .and_then(|(_, v)| v)
            .map(|v| v.to_string_lossy().into_owned())
            .unwrap_or_default();
        o.env("PATH", format!("{}:{path}", bin.display()));
        support::output_with_stdin(o, None)
    };
    let run = |theirs: bool, dir: &Path, args: &[&str]| {
        let program = if theirs {
            support::reference_git_annex().to_path_buf()
        } else {
            PathBuf::from(env!("CARGO_BIN_EXE_git-annex-rs"))
        };
        let mut cmd = Command::new(program);
        support::hermetic(&mut cmd);
        cmd.current_dir(dir).env("GNUPGHOME", a.gnupg()).args(args);
        with_bin(cmd)
    };
    let origin = a.repo("origin");
    for (theirs, name, enc) in [
        (false, "eours", "encryption=shared"),
        (true, "etheirs", "encryption=hybrid"),
    ] {
        let d = format!("dir={}", a.path(name).display());
        let keyid = format!("keyid={}", a.keyid);
        ok(&run(
            theirs,
            &origin,
            &[
                "initremote",
                name,
                "type=external",
                "externaltype=cryptotest",
                &d,
                enc,
                &keyid,
                "chunk=10",
            ],
        ));
        ok(&run(theirs, &origin, &["copy", "--to", name, "f"]));
        let stored = files(&a.path(name));
        assert_eq!(stored.len(), 5, "{name}: {stored:?}");
        assert!(
            stored.iter().all(|f| f.starts_with("GPGHMACSHA1--")),
            "{stored:?}"
        );
    }
    let c = a.clone(&origin, "c");
    for (theirs, name) in [(true, "eours"), (false, "etheirs")] {
        let enabled = ok(&run(theirs, &c, &["enableremote", name]));
        let id = enabled
            .split("--safe ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("{name}: {enabled}"));
        ok(&run(theirs, &c, &["verifyremote", name, "--safe", id]));
        ok(&run(theirs, &c, &["get", "--from", name, "f"]));
        assert_eq!(
            std::fs::read_to_string(c.join("f")).expect("got f"),
            "the content of f, in several chunks of 10\n\n\n\n"
        );
        ok(&run(theirs, &c, &["drop", "--from", name, "f"]));
        assert_eq!(files(&a.path(name)), Vec::<String>::new(), "{name}");
        ok(&run(theirs, &c, &["drop", "--force", "f"]));
    }
}

/// rsync and S3 remotes with chunking and encryption (rsync in a local
/// directory, S3 against moto's server on 127.0.0.1): one side sets each
/// up and stores `f`, the other enables, gets, fscks (both) and drops it;
/// the objects are named and laid out as the reference names them.
fn rsync_and_s3_store_by_one_get_by_other(theirs_store: bool) {
    let a = Area::new();
    let server = crate::special_types::S3Server::start();
    let allow = |r: &Path| {
        support::git(
            r,
            &["config", "annex.security.allowed-ip-addresses", "127.0.0.1"],
        );
    };
    let origin = a.repo("origin");
    allow(&origin);
    let keyid = format!("keyid={}", a.keyid);
    let port = format!("port={}", server.port);
    // name, parameters, chunks stored, encrypted
    let mut setups: Vec<(&str, Vec<String>, usize, bool)> = Vec::new();
    for (name, params, chunks, enc) in [
        ("rs-none", vec!["encryption=none", "chunk=20"], 3, false),
        ("rs-shared", vec!["encryption=shared", "chunk=10"], 5, true),
        (
            "rs-hybrid",
            vec!["encryption=hybrid", &keyid, "mac=HMACSHA256", "chunk=10"],
            5,
            true,
        ),
        ("rs-pubkey", vec!["encryption=pubkey", &keyid], 1, true),
    ] {
        let dir = a.path(name);
        std::fs::create_dir(&dir).expect("mkdir");
        let mut v = vec![
            "type=rsync".to_string(),
            format!("rsyncurl={}", dir.display()),
        ];
        v.extend(params.iter().map(|p| p.to_string()));
        setups.push((name, v, chunks, enc));
    }
    for (name, params, chunks, enc) in [
        ("s3-none", vec!["encryption=none", "chunk=20"], 3, false),
        ("s3-shared", vec!["encryption=shared", "chunk=10"], 5, true),
        (
            "s3-hybrid",
            vec!["encryption=hybrid", &keyid, "chunk=10"],
            5,
            true,
        ),
    ] {
        let mut v = vec![
            "type=S3".to_string(),
            "host=127.0.0.1".to_string(),
            port.clone(),
            "requeststyle=path".to_string(),
            format!("bucket={name}"),
            "fileprefix=annex/".to_string(),
        ];
        v.extend(params.iter().map(|p| p.to_string()));
        setups.push((name, v, chunks, enc));
    }
    let key = ok(&a.theirs(&origin, &["lookupkey", "f"]))
        .trim()
        .to_string();
    let stored = |name: &str| -> Vec<String> {
        if name.starts_with("rs-") {
            files(&a.path(name))
        } else {
            server
                .objects(name)
                .into_iter()
                .filter(|o| o != "annex/annex-uuid")
                .collect()
        }
    };
    for (name, params, chunks, enc) in &setups {
        let mut args = vec!["initremote", name];
        args.extend(params.iter().map(String::as_str));
        ok(&a.by(theirs_store, &origin, &args));
        ok(&a.by(theirs_store, &origin, &["copy", "--to", name, "f"]));
        let objs = stored(name);
        assert_eq!(objs.len(), *chunks, "{name}: {objs:?}");
        for o in &objs {
            let leaf = o.rsplit('/').next().unwrap_or_default();
            if *enc {
                assert!(
                    leaf.starts_with("GPGHMACSHA") && !o.contains("SHA256E"),
                    "{name}: {o}"
                );
            } else if *chunks > 1 {
                assert!(
                    leaf.starts_with(&key[..key.find("--").expect("key")])
                        && leaf.contains("-S20-C"),
                    "{name}: {o}"
                );
            }
            if name.starts_with("rs-") {
                // HASH/HASH/KEY/KEY, the lower-case hash.
                let parts: Vec<&str> = o.split('/').collect();
                assert_eq!(parts.len(), 4, "{name}: {o}");
                assert_eq!(parts[2], parts[3], "{name}: {o}");
                assert_eq!(parts[0].len(), 3, "{name}: {o}");
            } else {
                assert!(o.starts_with("annex/") && !o[6..].contains('/'), "{o}");
            }
        }
    }
    let c = a.clone(&origin, "c");
    allow(&c);
    for (name, _, _, _) in &setups {
        let enabled = ok(&a.by(!theirs_store, &c, &["enableremote", name]));
        let id = enabled
            .split("--safe ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("{name}: {enabled}"));
        ok(&a.by(!theirs_store, &c, &["verifyremote", name, "--safe", id]));
        let got = ok(&a.by(!theirs_store, &c, &["get", "--from", name, "f"]));
        assert!(got.contains("ok"), "{name}: {got}");
        assert_eq!(
            std::fs::read_to_string(c.join("f")).expect("got f"),
            "the content of f, in several chunks of 10\n\n\n\n",
            "{name}"
        );
        ok(&a.by(!theirs_store, &c, &["drop", "--force", "f"]));
        for by_theirs in [true, false] {
            let fsck = ok(&a.by(by_theirs, &c, &["fsck", "--from", name, "f"]));
            assert!(fsck.contains("ok"), "{name}: {fsck}");
        }
    }
    let ours = ok(&a.ours(&c, &["whereis", "f"]));
    let theirs = ok(&a.theirs(&c, &["whereis", "f"]));
    assert_eq!(ours, theirs);
    ok(&a.theirs(&c, &["get", "f"]));
    for (name, _, _, _) in &setups {
        ok(&a.by(!theirs_store, &c, &["drop", "--from", name, "f"]));
        assert_eq!(
            stored(name),
            Vec::<String>::new(),
            "{name}: every chunk removed"
        );
        // The reference finds it gone.
        let o = a.theirs(&c, &["checkpresentkey", &key, name]);
        assert_eq!(o.status.code(), Some(1), "{name}: {o:?}");
    }
}

#[test]
fn rsync_and_s3_content_stored_by_the_reference_is_got_by_us() {
    rsync_and_s3_store_by_one_get_by_other(true);
}

#[test]
fn rsync_and_s3_content_stored_by_us_is_got_by_the_reference() {
    rsync_and_s3_store_by_one_get_by_other(false);
}
