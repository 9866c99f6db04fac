//! End-to-end tests of get, drop, copy, move, dropkey, checkpresentkey and
//! setpresentkey between our repositories and ones the reference git-annex
//! made, with outputs compared live against the reference's on identical
//! copies of the same repositories, location logs checked by the reference,
//! a concurrent drop against the reference, and faults.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::{self, annex, annex_output, git};
use crate::{ours, ours_with};

/// A scenario: `a` made and filled by the reference, `b` cloned from it
/// (remote `origin` = `../a`, a relative path, so the pair can be copied).
struct Pair {
    _root: tempfile::TempDir,
    root: PathBuf,
}

impl Pair {
    fn a(&self) -> PathBuf {
        self.root.join("a")
    }
    fn b(&self) -> PathBuf {
        self.root.join("b")
    }
    /// A copy of both repositories (same UUIDs, same content).
    fn copy(&self) -> Pair {
        let dir = tempfile::tempdir().expect("temp dir");
        let st = Command::new("cp")
            .arg("-a")
            .arg(self.a())
            .arg(self.b())
            .arg(dir.path())
            .status()
            .expect("cp");
        assert!(st.success());
        Pair {
            root: dir.path().to_path_buf(),
            _root: dir,
        }
    }
}

fn pair(files: &[(&str, &[u8])]) -> Pair {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_path_buf();
    let a = root.join("a");
    std::fs::create_dir(&a).expect("mkdir");
    git(&a, &["init", "-q", "-b", "main"]);
    annex(&a, &["init", "a"]);
    for (name, content) in files {
        std::fs::write(a.join(name), content).expect("write");
    }
    let names: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
    let mut args = vec!["add"];
    args.extend(&names);
    annex(&a, &args);
    git(&a, &["commit", "-q", "-m", "add"]);
    git(&root, &["clone", "-q", "a", "b"]);
    let b = root.join("b");
    git(&b, &["remote", "set-url", "origin", "../a"]);
    annex(&b, &["init", "b"]);
    Pair { _root: dir, root }
}

fn key_of(dir: &Path, file: &str) -> String {
    annex(dir, &["lookupkey", file]).trim().to_string()
}

fn has(dir: &Path, key: &str) -> bool {
    annex_output(dir, &["contentlocation", key], None)
        .status
        .success()
}

/// The reference's plain output without its progress meter: on a pipe it
/// writes a newline, then `\r` meter lines, cleared with `\r`; we draw no
/// meter when not on a terminal.
pub(crate) fn strip_meter(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("\n\r") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        // Up to the last \r before the next newline.
        let line_end = after.find('\n').unwrap_or(after.len());
        let last_cr = after[..line_end].rfind('\r').unwrap_or(0);
        rest = &after[last_cr + 1..];
    }
    out.push_str(rest);
    out
}

fn text(o: &Output) -> (String, String, Option<i32>) {
    (
        strip_meter(&String::from_utf8_lossy(&o.stdout)),
        String::from_utf8_lossy(&o.stderr).replace("git-annex-rs:", "git-annex:"),
        o.status.code(),
    )
}

/// Runs the same command with the reference in one copy of a pair and
/// with ours in another, and checks stdout and exit code are the same
/// (stderr too when `stderr` is set).
fn same(refp: &Pair, oursp: &Pair, args: &[&str], stdin: Option<&[u8]>, stderr: bool) {
    let r = text(&annex_output(&refp.b(), args, stdin));
    let o = text(&ours_with(&oursp.b(), args, stdin));
    assert_eq!(o.0, r.0, "stdout of {args:?}\nours stderr: {}", o.1);
    assert_eq!(
        o.2, r.2,
        "exit code of {args:?}\nours stderr: {}\nref stderr: {}",
        o.1, r.1
    );
    if stderr {
        assert_eq!(o.1, r.1, "stderr of {args:?}");
    }
}

#[test]
fn outputs_and_exit_codes_match_the_reference() {
    let p = pair(&[("f", b"hello\n"), ("g", b"world\n"), ("h", b"third\n")]);
    let (r, o) = (p.copy(), p.copy());
    let hkey = key_of(&r.b(), "h");
    let steps: Vec<Vec<&str>> = vec![
        vec!["get", "f", "g"],
        vec!["get", "f"],
        vec!["drop", "f"],
        vec!["drop", "--from", "origin", "g"],
        vec!["drop", "--json", "--from", "origin", "g"],
        vec!["drop", "g"],
        vec!["drop", "--json", "g"],
        vec!["get", "--json", "."],
        vec!["get", "nosuchfile"],
        vec!["copy", "--to", "origin", "f"],
        vec!["copy", "--to", "origin", "f", "--json"],
        vec!["move", "--from", "origin", "h"],
        vec!["move", "--to", "origin", "h", "--json"],
        vec!["get", "--key", &hkey, "--json"],
        vec!["drop", "--key", &hkey],
        vec!["drop", "--from", "origin", "--key", &hkey],
        vec!["drop", "--from", "origin", "--force", "--key", &hkey],
        vec!["get", "h"],
        vec!["get", "--json", "h"],
        vec!["drop", "--force", "h"],
        vec!["get", "--json-progress", "h"],
        vec!["drop", "--force", "h"],
        vec!["move", "--from", "origin", "--json-progress", "h"],
        vec!["copy", "--to", "origin", "--json-progress", "h"],
        // The same with transfers running at once (`-J`).
        vec!["drop", "--force", "h"],
        vec!["get", "-J2", "--json-progress", "h"],
        vec!["drop", "--from", "origin", "--force", "h"],
        vec!["copy", "--to", "origin", "-J2", "--json-progress", "h"],
        vec!["copy", "--from", "origin", "f"],
        vec!["drop", "--force", "f"],
        vec!["copy", "--from", "origin", "--json", "f"],
        vec!["copy", "--to", "origin", "--fast", "f", "g", "h"],
        vec!["drop", "--from", "origin", "--fast", "f", "g", "h"],
        vec!["get", "--all"],
        vec!["drop", "--auto"],
        vec!["drop", "--from", "origin", "--auto"],
        vec!["dropkey", &hkey],
        vec!["dropkey", "--force", &hkey],
    ];
    for args in &steps {
        same(&r, &o, args, None, false);
    }
    same(&r, &o, &["drop", "--batch"], Some(b"f\nnosuch\ng\n"), false);
    // Moves that would leave too few copies.
    for args in [
        vec!["get", "f", "g"],
        vec!["copy", "--to", "origin", "f", "g"],
        vec!["numcopies", "2"],
    ] {
        annex(&r.b(), &args);
        annex(&o.b(), &args);
    }
    same(&r, &o, &["move", "--to", "origin", "f"], None, false);
    same(
        &r,
        &o,
        &["move", "--to", "origin", "--json", "g"],
        None,
        false,
    );
    same(&r, &o, &["move", "--from", "origin", "g"], None, false);
    same(
        &r,
        &o,
        &["move", "--from", "origin", "--json", "f"],
        None,
        false,
    );
    annex(&r.b(), &["numcopies", "1"]);
    annex(&o.b(), &["numcopies", "1"]);
    same(
        &r,
        &o,
        &["get", "--batch", "--json"],
        Some(b"f\ng\n"),
        false,
    );
    same(&r, &o, &["get", "--batch", "-z"], Some(b"h\0"), false);
    // Every location change is seen by the reference: its fsck in b says
    // the same of both, and after merging b's branch into a, a's view of
    // every key is the same.
    let fr = text(&annex_output(&r.b(), &["fsck"], None));
    let fo = text(&annex_output(&o.b(), &["fsck"], None));
    assert_eq!((&fo.0, fo.2), (&fr.0, fr.2), "fsck in b");
    git(
        &o.a(),
        &["fetch", "-q", "../b", "git-annex:refs/remotes/b/git-annex"],
    );
    git(
        &r.a(),
        &["fetch", "-q", "../b", "git-annex:refs/remotes/b/git-annex"],
    );
    let wr = text(&annex_output(&r.a(), &["whereis", "--json"], None));
    let wo = text(&annex_output(&o.a(), &["whereis", "--json"], None));
    assert_eq!(wo, wr, "locations as the reference sees them after merging");
    let fr = text(&annex_output(&r.a(), &["fsck"], None));
    let fo = text(&annex_output(&o.a(), &["fsck"], None));
    assert_eq!((&fo.0, fo.2), (&fr.0, fr.2), "fsck in a");
    assert!(fo.0.contains("fsck f (checksum...) ok"), "{}", fo.0);
}

#[test]
fn an_unreachable_remote_is_explained_as_the_reference_does() {
    let p = pair(&[("f", b"hello\n"), ("g", b"world\n"), ("h", b"third\n")]);
    annex(&p.b(), &["get", "f"]);
    let (r, o) = (p.copy(), p.copy());
    for q in [&r, &o] {
        std::fs::rename(q.a(), q.root.join("away")).expect("rename");
        // Remotes we cannot use: ignored ones are mentioned.
        git(&q.b(), &["remote", "add", "far", "ssh://nowhere.invalid/x"]);
        git(&q.b(), &["config", "remote.far.annex-ignore", "true"]);
        git(&q.b(), &["remote", "add", "near", "../away"]);
        git(&q.b(), &["config", "remote.near.annex-ignore", "true"]);
        // A git repository never annexed: no UUID to be found.
        git(&q.root, &["init", "-q", "plain"]);
        git(&q.b(), &["remote", "add", "plain", "../plain"]);
    }
    for args in [
        vec!["get", "g"],
        vec!["get", "--json", "g"],
        vec!["drop", "f"],
        vec!["drop", "--json", "f"],
        vec!["drop", "--from", "origin", "f"],
        vec!["drop", "--from", "origin", "--force", "g"],
        vec!["drop", "--from", "origin", "--force", "--json", "g"],
        vec!["copy", "--to", "origin", "f"],
        vec!["move", "--from", "origin", "h"],
        vec!["copy", "--from", "origin", "--json", "h"],
        vec!["copy", "--to", "plain", "f"],
        vec!["get", "--from", "nosuchremote", "f"],
        vec!["get", "--json-error-messages", "g"],
        vec![
            "drop",
            "--from",
            "origin",
            "--force",
            "--json-error-messages",
            "g",
        ],
    ] {
        same(&r, &o, &args, None, true);
    }
}

#[test]
fn checkpresentkey_and_setpresentkey_match_the_reference() {
    let p = pair(&[("f", b"hello\n")]);
    let (r, o) = (p.copy(), p.copy());
    let k = key_of(&r.b(), "f");
    let a_uuid = git(&r.a(), &["config", "annex.uuid"]).trim().to_string();
    let missing = "SHA256E-s1--00";
    for args in [
        vec!["checkpresentkey", &k, "origin"],
        vec!["checkpresentkey", &k],
        vec!["checkpresentkey", missing, "origin"],
        vec!["checkpresentkey", missing],
        vec!["checkpresentkey", &k, "nosuch"],
        vec!["checkpresentkey", "badkey", "origin"],
        vec!["setpresentkey", &k, &a_uuid, "0"],
        vec!["setpresentkey", &k, &a_uuid, "1"],
        vec!["setpresentkey", &k, &a_uuid, "X"],
    ] {
        same(&r, &o, &args, None, true);
    }
    let batch = format!("{k}\n{missing}\n");
    same(
        &r,
        &o,
        &["checkpresentkey", "--batch", "origin"],
        Some(batch.as_bytes()),
        true,
    );
    let log = |p: &Pair| {
        git(
            &p.b(),
            &[
                "cat-file",
                "-p",
                &format!("git-annex:{}", location_log_path(&p.b(), &k)),
            ],
        )
    };
    // The journal is committed by the next command that commits.
    annex(&r.b(), &["merge"]);
    annex(&o.b(), &["merge"]);
    let strip = |s: String| {
        s.lines()
            .map(|l| l.split_once(' ').map(|x| x.1).unwrap_or(l).to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(log(&o)), strip(log(&r)));
}

fn location_log_path(dir: &Path, key: &str) -> String {
    let h = annex(dir, &["examinekey", "--format=${hashdirlower}", key]);
    format!("{}{key}.log", h.trim())
}

#[test]
fn concurrent_drops_with_the_reference_never_lose_the_last_copy() {
    let p = pair(&[("f", b"precious content\n")]);
    let (a, b) = (p.a(), p.b());
    git(&a, &["remote", "add", "b", "../b"]);
    annex(&b, &["get", "f"]);
    let key = key_of(&b, "f");
    let ua = git(&a, &["config", "annex.uuid"]).trim().to_string();
    let ub = git(&b, &["config", "annex.uuid"]).trim().to_string();
    annex(&a, &["numcopies", "1"]);
    annex(&a, &["mincopies", "1"]);
    // a learns b's UUID.
    annex(&a, &["sync", "--no-content", "--no-push", "-q"]);
    annex(&a, &["setpresentkey", &key, &ub, "1"]);
    assert!(
        ours(&b, &["setpresentkey", &key, &ua, "1"])
            .status
            .success()
    );
    // Each side only ever changes its own line in its own log, so after a
    // restore both logs say both have it again.
    let obj_a = a.join(annex(&a, &["contentlocation", &key]).trim());
    let obj_b = b.join(annex(&b, &["contentlocation", &key]).trim());
    let mut both_dropped_attempts = 0;
    let mut wins = (0usize, 0usize);
    let mut rng = support::Rng(0x5eed_d40b);
    for round in 0..30 {
        if !obj_a.exists() {
            annex(&a, &["get", "f", "--from", "b"]);
        }
        if !obj_b.exists() {
            let o = ours(&b, &["get", "f"]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        assert!(obj_a.exists() && obj_b.exists(), "round {round}: setup");
        let mut theirs = Command::new(support::reference_git_annex());
        support::hermetic(&mut theirs)
            .current_dir(&a)
            .args(["drop", "f"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut mine = Command::new(env!("CARGO_BIN_EXE_git-annex-rs"));
        support::hermetic(&mut mine)
            .current_dir(&b)
            .args(["drop", "f"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // The reference takes longer to start: ours starts after a delay
        // that varies by round, so that every interleaving comes up (ours
        // first, the reference first, both in their critical sections).
        let mut t = theirs.spawn().expect("spawn reference");
        std::thread::sleep(std::time::Duration::from_millis(rng.below(500) as u64));
        let mut m = mine.spawn().expect("spawn ours");
        let ts = t.wait().expect("wait");
        let ms = m.wait().expect("wait");
        let (ha, hb) = (obj_a.exists(), obj_b.exists());
        assert!(
            ha || hb,
            "round {round}: both copies were dropped (reference {ts}, ours {ms})"
        );
        // The exit codes tell the truth about what happened.
        assert_eq!(ts.success(), !ha, "round {round}: reference");
        assert_eq!(ms.success(), !hb, "round {round}: ours");
        if ts.success() || ms.success() {
            both_dropped_attempts += 1;
        }
        wins.0 += usize::from(ts.success());
        wins.1 += usize::from(ms.success());
    }
    eprintln!(
        "drops that went through: reference {}, ours {}",
        wins.0, wins.1
    );
    assert!(both_dropped_attempts > 0, "no drop ever succeeded");
}

#[test]
fn a_drop_proof_is_refused_while_the_reference_removes_content() {
    // While our shared lock (the drop proof) is held, the reference cannot
    // take the content away: shown by dropping from b with numcopies 1 in
    // both directions sequentially, which must leave exactly one copy.
    let p = pair(&[("f", b"x\n")]);
    annex(&p.b(), &["get", "f"]);
    let o = ours(&p.b(), &["drop", "f"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = ours(&p.b(), &["drop", "--from", "origin", "f"]);
    assert_eq!(out.status.code(), Some(1));
    let key = key_of(&p.a(), "f");
    assert!(has(&p.a(), &key), "the last copy was dropped");
}

#[test]
fn interrupted_transfer_resumes_and_bad_partial_content_is_refused() {
    let content: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let p = pair(&[("big", &content)]);
    let b = p.b();
    let key = key_of(&b, "big");
    let tmp = b.join(".git/annex/tmp");
    std::fs::create_dir_all(&tmp).expect("mkdir");
    // An interrupted transfer left the first part.
    std::fs::write(tmp.join(&key), &content[..500_000]).expect("write");
    let o = ours(&b, &["get", "big"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(b.join("big")).expect("read"), content);
    assert!(!tmp.join(&key).exists());
    annex(&b, &["fsck", "-q", "big"]);
    // A partial file that is not a prefix of the content: the result does
    // not verify and never enters the object store.
    let o = ours(&b, &["drop", "--force", "big"]);
    assert!(o.status.success());
    std::fs::write(tmp.join(&key), b"garbage").expect("write");
    let o = ours(&b, &["get", "big"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!has(&b, &key));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("failed to retrieve content from remote"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The next get starts afresh and succeeds.
    let o = ours(&b, &["get", "big"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    annex(&b, &["fsck", "-q", "big"]);
}

#[test]
fn an_interrupted_get_process_is_resumed() {
    // A large file, and our get killed while copying.
    let content: Vec<u8> = (0..(48u32 << 20) / 4)
        .flat_map(|i| i.to_le_bytes())
        .collect();
    let p = pair(&[("big", &content)]);
    let b = p.b();
    let key = key_of(&b, "big");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_git-annex-rs"));
    support::hermetic(&mut cmd)
        .current_dir(&b)
        .args(["get", "big"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("spawn");
    let tmp = b.join(".git/annex/tmp").join(&key);
    let start = std::time::Instant::now();
    while std::fs::metadata(&tmp).map(|m| m.len()).unwrap_or(0) == 0
        && start.elapsed() < std::time::Duration::from_secs(20)
        && child.try_wait().expect("wait").is_none()
    {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let _ = child.kill();
    let _ = child.wait();
    if has(&b, &key) {
        // Finished before it could be killed: nothing to resume.
        return;
    }
    let o = ours(&b, &["get", "big"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    annex(&b, &["fsck", "-q", "big"]);
}

#[test]
fn corrupted_content_on_the_remote_is_not_accepted() {
    let p = pair(&[("f", b"good content\n")]);
    let (a, b) = (p.a(), p.b());
    let key = key_of(&a, "f");
    let loc = annex(&a, &["contentlocation", &key]);
    let obj = a.join(loc.trim());
    let dir = obj.parent().expect("parent");
    Command::new("chmod")
        .arg("u+w")
        .arg(dir)
        .arg(&obj)
        .status()
        .expect("chmod");
    std::fs::write(&obj, b"bad content!\n").expect("write");
    let o = ours(&b, &["get", "f"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!has(&b, &key));
    let r = p.copy();
    let reference = text(&annex_output(&r.b(), &["get", "f"], None));
    let mine = text(&o);
    assert_eq!(mine.2, reference.2);
    // The reference retries once and so prints its meter twice; the
    // explanation after it is the same.
    let tail = |s: &str| s.rsplit("\n\n").next().unwrap_or("").to_string();
    assert_eq!(tail(&mine.0), tail(&reference.0));
}

#[test]
fn full_disk_during_get_leaves_no_corrupt_object() {
    assert!(
        rustix_is_root(),
        "this test mounts a 1 MiB tmpfs and must run as root (CI does)"
    );
    let content: Vec<u8> = (0..(2u32 << 20) / 4)
        .flat_map(|i| i.to_le_bytes())
        .collect();
    let p = pair(&[("big", &content)]);
    let mnt = tempfile::tempdir().expect("temp dir");
    let st = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(mnt.path())
        .status()
        .expect("mount");
    assert!(st.success(), "mount -t tmpfs failed");
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.path().to_path_buf());
    let b = mnt.path().join("b");
    git(
        mnt.path(),
        &[
            "clone",
            "-q",
            "--no-checkout",
            &p.a().to_string_lossy(),
            "b",
        ],
    );
    git(&b, &["checkout", "-q", "main"]);
    annex(&b, &["init", "small"]);
    let key = key_of(&b, "big");
    // First git-annex's own check: not enough free space (with the default
    // annex.diskreserve), said as the reference says it (recorded from
    // git-annex 10.20261026 on the same setup).
    let o = ours(&b, &["get", "big"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("  not enough free space, need ")
            && err.contains(
                " MB more (use --force to override this check or adjust annex.diskreserve)"
            ),
        "{err}"
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "get big (from origin...) \n\n  Unable to access these remotes: origin\n\n  No other repository is known to contain the file.\nfailed\n"
    );
    // Then with the check overridden the disk really fills up.
    let o = ours(&b, &["get", "--force", "big"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    assert!(!has(&b, &key), "an object was stored from a full disk");
    let objects = b.join(".git/annex/objects");
    let stored = walk_files(&objects);
    assert!(stored.is_empty(), "files in the object store: {stored:?}");
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk_files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn rustix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn reference_clone_gets_from_our_repository() {
    // Roles swapped: content added by the reference in a, gotten into b by
    // us, then a third repository (reference) gets from b.
    let p = pair(&[("f", b"roles swapped\n")]);
    let o = ours(&p.b(), &["get", "f"]);
    assert!(o.status.success());
    let c = p.root.join("c");
    git(&p.root, &["clone", "-q", "b", "c"]);
    annex(&c, &["init", "c"]);
    let o = ours(&p.b(), &["drop", "--from", "origin", "f"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    annex(&c, &["get", "f"]);
    annex(&c, &["fsck", "-q"]);
    annex(&p.b(), &["fsck", "-q"]);
    // a's own log recorded the drop (committed on its branch): it knows
    // of no copy now (it never merged b's branch).
    let w = annex_output(&p.a(), &["whereis", "f"], None);
    assert_eq!(w.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&w.stdout).contains("[here]"));
    assert!(git(&p.a(), &["status", "--porcelain"]).is_empty());
}

#[test]
fn parallel_transfers_do_what_sequential_ones_do() {
    // Two files share a key (file12 has file03's content): it is
    // transferred once, as the reference does.
    let files: Vec<(String, Vec<u8>)> = (0..13)
        .map(|i| {
            (
                format!("file{i:02}"),
                format!("content number {}\n", if i == 12 { 3 } else { i }).into_bytes(),
            )
        })
        .collect();
    let refs: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_slice()))
        .collect();
    let p = pair(&refs);
    let (r, o) = (p.copy(), p.copy());
    let sorted = |s: String| {
        let mut l: Vec<String> = s.lines().map(str::to_string).collect();
        l.sort();
        l
    };
    for args in [
        vec!["get", "-J", "3", "."],
        vec!["drop", "--from", "origin", "-J", "3", "file00", "file01"],
        vec!["copy", "--to", "origin", "-J", "4", "--json", "."],
        vec!["move", "--to", "origin", "-J", "2", "."],
        vec!["get", "-J", "2", "--json", "."],
    ] {
        let rr = text(&annex_output(&r.b(), &args, None));
        let oo = text(&ours(&o.b(), &args));
        assert_eq!(sorted(oo.0), sorted(rr.0), "{args:?}: {}", oo.1);
        assert_eq!(oo.2, rr.2, "{args:?}");
    }
    annex(&o.b(), &["fsck", "-q"]);
    let wr = text(&annex_output(&r.b(), &["whereis", "--json"], None));
    let wo = text(&annex_output(&o.b(), &["whereis", "--json"], None));
    assert_eq!(wo.0, wr.0);
}

#[test]
fn unlocked_files_get_their_content_and_pointer_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let a = root.join("a");
    std::fs::create_dir(&a).expect("mkdir");
    git(&a, &["init", "-q", "-b", "main"]);
    annex(&a, &["init", "a"]);
    std::fs::write(a.join("u"), b"unlocked content\n").expect("write");
    annex(&a, &["add", "u"]);
    annex(&a, &["unlock", "u"]);
    git(&a, &["commit", "-q", "-m", "u"]);
    git(root, &["clone", "-q", "a", "b"]);
    let b = root.join("b");
    annex(&b, &["init", "b"]);
    let pointer = std::fs::read(b.join("u")).expect("read");
    assert!(pointer.starts_with(b"/annex/objects/"));
    let o = ours(&b, &["get", "u"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(b.join("u")).expect("read"),
        b"unlocked content\n"
    );
    assert_eq!(git(&b, &["status", "--porcelain"]), "");
    annex(&b, &["fsck", "-q"]);
    let o = ours(&b, &["drop", "u"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read(b.join("u")).expect("read"), pointer);
    assert_eq!(git(&b, &["status", "--porcelain"]), "");
    // A modified unlocked file is never replaced by its pointer.
    let o = ours(&b, &["get", "u"]);
    assert!(o.status.success());
    std::fs::write(b.join("u"), b"changed by the user\n").expect("write");
    let o = ours(&b, &["drop", "--force", "u"]);
    assert!(o.status.success());
    assert_eq!(
        std::fs::read(b.join("u")).expect("read"),
        b"changed by the user\n"
    );
}

#[test]
fn bare_remotes_work_both_ways() {
    let p = pair(&[("f", b"bare content\n")]);
    let c = p.root.join("c.git");
    git(&p.root, &["clone", "-q", "--bare", "a", "c.git"]);
    annex(&c, &["init", "c"]);
    git(&p.b(), &["remote", "add", "c", "../c.git"]);
    let o = ours(&p.b(), &["get", "f"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = ours(&p.b(), &["copy", "--to", "c", "f"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "copy f (to c...) ok\n(recording state in git...)\n"
    );
    // The bare repository's own branch says it has it; its fsck agrees.
    let key = key_of(&p.b(), "f");
    annex(&c, &["fsck", "-q", "--key", &key]);
    let w = annex(&c, &["whereis", "--key", &key]);
    assert!(w.contains("c [here]"), "{w}");
    let o = ours(&p.b(), &["drop", "--force", "f"]);
    assert!(o.status.success());
    let o = ours(&p.b(), &["get", "--from", "c", "f"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "get f (from c...) ok\n(recording state in git...)\n"
    );
    let o = ours(&p.b(), &["move", "--to", "c", "f"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    annex(&p.b(), &["fsck", "-q"]);
}

#[test]
fn drop_honours_the_numcopies_attribute_as_the_reference_does() {
    // Two copies (a and b); `.gitattributes` asks for 3 of `keep*` and 1
    // of everything else (a later line wins, as in git).
    let p = pair(&[("keep", b"keep me"), ("spare", b"spare me")]);
    std::fs::write(
        p.b().join(".gitattributes"),
        "* annex.numcopies=1\nkeep* annex.numcopies=3\n",
    )
    .expect("write .gitattributes");
    git(&p.b(), &["add", ".gitattributes"]);
    git(&p.b(), &["commit", "-q", "-m", "numcopies"]);
    annex(&p.b(), &["get", "keep", "spare"]);
    let theirs = p.copy();
    let keep = key_of(&p.b(), "keep");
    let spare = key_of(&p.b(), "spare");
    for args in [&["drop", "keep"][..], &["drop", "spare"]] {
        same(&theirs, &p, args, None, false);
    }
    // The attribute kept `keep` (only 2 of 3 copies), `spare` went.
    for pair in [&p, &theirs] {
        assert!(
            has(&pair.b(), &keep),
            "keep was dropped below its numcopies"
        );
        assert!(!has(&pair.b(), &spare), "spare was not dropped");
    }
}

#[test]
fn drop_from_a_remote_honours_the_copies_attributes_as_the_reference_does() {
    // Two copies (a and b) of each file. Globally numcopies 2, so only a
    // file whose attribute lowers it may lose one; `keep` asks for 3 and
    // `minc` for a mincopies of 2.
    let p = pair(&[
        ("keep", b"keep me"),
        ("spare", b"spare me"),
        ("minc", b"at least two"),
    ]);
    std::fs::write(
        p.b().join(".gitattributes"),
        "* annex.numcopies=1\nkeep* annex.numcopies=3\nminc annex.mincopies=2\n",
    )
    .expect("write .gitattributes");
    git(&p.b(), &["add", ".gitattributes"]);
    git(&p.b(), &["commit", "-q", "-m", "attributes"]);
    annex(&p.b(), &["get", "keep", "spare", "minc"]);
    annex(&p.b(), &["numcopies", "2"]);
    let theirs = p.copy();
    let keys: Vec<String> = ["keep", "spare", "minc"]
        .iter()
        .map(|f| key_of(&p.b(), f))
        .collect();
    same(
        &theirs,
        &p,
        &["drop", "--from", "origin", "keep", "spare", "minc"],
        None,
        false,
    );
    same(&theirs, &p, &["drop", "minc"], None, false);
    for pair in [&p, &theirs] {
        assert!(has(&pair.a(), &keys[0]), "keep dropped below numcopies 3");
        assert!(!has(&pair.a(), &keys[1]), "spare kept despite numcopies 1");
        assert!(has(&pair.a(), &keys[2]), "minc dropped below mincopies 2");
        assert!(
            has(&pair.b(), &keys[2]),
            "minc dropped here below mincopies 2"
        );
    }
    // `move --from` drops from the remote under the same rules.
    let theirs = p.copy();
    same(
        &theirs,
        &p,
        &["move", "--from", "origin", "keep"],
        None,
        false,
    );
}

/// Regression: `copy --to` a non-bare repository on this machine left its
/// unlocked files pointers; the reference's receiving side fills such
/// files in (every file of the key: two files share one key here). Now
/// both (ours sending, the reference sending) leave the remote's unlocked
/// files with their content and its `git status` clean.
#[test]
fn copy_to_a_local_remote_fills_in_its_unlocked_files_as_the_reference() {
    let run = |ours: bool| {
        let dir = tempfile::tempdir().expect("tmp");
        let r = dir.path().join("r");
        std::fs::create_dir(&r).expect("mkdir");
        support::git(&r, &["init", "-q", "-b", "main"]);
        support::annex(&r, &["init", "-q", "r"]);
        std::fs::write(r.join("u"), "unlocked content\n").expect("write");
        std::fs::create_dir(r.join("d")).expect("mkdir");
        std::fs::write(r.join("d/v"), "unlocked content\n").expect("write");
        std::fs::write(r.join("w"), "another unlocked file\n").expect("write");
        support::annex(&r, &["add", "-q", "u", "d/v", "w"]);
        support::annex(&r, &["unlock", "-q", "u", "d/v", "w"]);
        support::git(&r, &["commit", "-q", "-m", "u"]);
        support::git(dir.path(), &["clone", "-q", &r.to_string_lossy(), "c"]);
        let c = dir.path().join("c");
        support::annex(&c, &["init", "-q", "c"]);
        support::annex(&c, &["get", "-q", "u", "w"]);
        support::annex(&r, &["drop", "-q", "--force", "u", "w"]);
        assert_ne!(
            std::fs::read_to_string(r.join("u")).expect("read"),
            "unlocked content\n"
        );
        let out = if ours {
            crate::ours(&c, &["copy", "--to", "origin", "u", "w"])
        } else {
            support::annex_output(&c, &["copy", "--to", "origin", "u", "w"], None)
        };
        assert!(out.status.success(), "{out:?}");
        (
            ["u", "d/v", "w"]
                .map(|f| std::fs::read_to_string(r.join(f)).expect("read"))
                .join("|"),
            support::git(&r, &["status", "--porcelain"]),
            dir,
        )
    };
    let (t_content, t_status, _t) = run(false);
    let (o_content, o_status, _o) = run(true);
    assert_eq!(
        t_content, "unlocked content\n|unlocked content\n|another unlocked file\n",
        "the reference fills them in"
    );
    assert_eq!(o_content, t_content);
    assert_eq!(o_status, t_status);
    assert_eq!(o_status, "");
}
