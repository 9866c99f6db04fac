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
