//! What a kill -9 leaves, and the next run: temp files live in
//! `.git/annex/othertmp` (never in the work tree) and are cleaned by the
//! next run unless a live process holds othertmp's lock; a rerun of
//! `unlock`, `lock` or `drop` finishes what a killed one left; names of
//! 255 bytes work (a temp name is never built from the file's name). Each
//! state is checked with the reference's `fsck` and git's status.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{ours, support};

fn ok(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A repository initialized by the reference.
fn repo() -> tempfile::TempDir {
    let dir = support::new_git_repo();
    support::annex(dir.path(), &["init", "-q", "here"]);
    dir
}

/// `git status --porcelain --ignored`, untracked files listed one by one.
fn status(p: &Path) -> String {
    support::git(
        p,
        &[
            "status",
            "--porcelain",
            "--ignored",
            "--untracked-files=all",
        ],
    )
}

fn othertmp(p: &Path) -> PathBuf {
    p.join(".git/annex/othertmp")
}

fn othertmp_entries(p: &Path) -> Vec<String> {
    match fs::read_dir(othertmp(p)) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Files anywhere in the work tree (outside `.git`) whose names say they
/// are ours or temp files.
fn debris(p: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("read dir").flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name == ".git" && d == p {
                continue;
            }
            if name.contains("annex-rs") || name.contains(".tmp") {
                found.push(e.path().display().to_string());
            }
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(e.path());
            }
        }
    }
    found
}

/// Runs ours with `args` in `dir` and kills it (SIGKILL) as soon as a
/// file whose name starts with `prefix` shows in othertmp. Returns whether
/// it was caught there (else it finished first).
fn kill_when_in_othertmp(dir: &Path, args: &[&str], prefix: &str) -> bool {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_git-annex-rs"));
    support::hermetic(&mut cmd)
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("spawn");
    let start = Instant::now();
    loop {
        if othertmp_entries(dir).iter().any(|n| n.starts_with(prefix)) {
            let _ = child.kill();
            let _ = child.wait();
            return true;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            return false;
        }
        std::thread::yield_now();
    }
}

/// Content big enough that copying or hashing it takes a while.
fn big(p: &Path, name: &str, seed: u8) {
    let mut data = vec![0u8; 48 << 20];
    let mut x = seed as u32 | 1;
    for b in data.iter_mut().step_by(4096) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *b = x as u8;
    }
    fs::write(p.join(name), data).expect("write big file");
}

fn fsck_ok(p: &Path) {
    for args in [&["fsck", "-q"][..], &["fsck", "--fast", "-q"][..]] {
        let out = support::annex_output(p, args, None);
        ok(&out, "the reference's fsck");
    }
}

#[test]
fn a_killed_unlock_leaves_its_temp_file_in_othertmp_and_the_next_run_cleans_it() {
    let dir = repo();
    let p = dir.path();
    fs::create_dir(p.join("d")).expect("mkdir");
    let mut caught = false;
    for round in 0..8u8 {
        let name = format!("d/big{round}");
        big(p, &name, round);
        ok(&ours(p, &["add", &name]), "add");
        support::git(p, &["commit", "-qm", "add"]);
        if kill_when_in_othertmp(p, &["unlock", &name], "replace") {
            caught = true;
            assert!(
                debris(p).is_empty(),
                "temp files in the work tree: {:?}",
                debris(p)
            );
            break;
        }
    }
    assert!(
        caught,
        "unlock never made its temp file in .git/annex/othertmp"
    );
    // The next run (any) cleans othertmp; `add .` stages nothing of ours.
    ok(&ours(p, &["unlock", "d"]), "unlock again");
    assert!(othertmp_entries(p).is_empty(), "{:?}", othertmp_entries(p));
    ok(&ours(p, &["add", "."]), "add .");
    let st = status(p);
    assert!(!st.contains("annex-rs"), "{st}");
    support::git(p, &["commit", "-qm", "unlocked"]);
    assert_eq!(status(p), "");
    fsck_ok(p);
}

#[test]
fn a_killed_add_leaves_nothing_the_next_add_stages_and_its_hard_link_goes() {
    let dir = repo();
    let p = dir.path();
    let mut caught = false;
    for round in 0..8u8 {
        let name = format!("big{round}");
        big(p, &name, round);
        if kill_when_in_othertmp(p, &["add", &name], "ingest") {
            caught = true;
            assert!(
                debris(p).is_empty(),
                "temp files in the work tree: {:?}",
                debris(p)
            );
            break;
        }
        support::git(p, &["commit", "-qm", "add"]);
    }
    assert!(
        caught,
        "add never locked a file down into .git/annex/othertmp"
    );
    // The hard link in othertmp keeps the content's data alive until the
    // next run removes it.
    assert!(!othertmp_entries(p).is_empty());
    ok(&ours(p, &["add", "."]), "add .");
    assert!(othertmp_entries(p).is_empty(), "{:?}", othertmp_entries(p));
    let st = status(p);
    assert!(!st.contains("annex-rs"), "{st}");
    support::git(p, &["commit", "-qm", "rest"]);
    assert_eq!(status(p), "");
    fsck_ok(p);
}

#[test]
fn stale_othertmp_files_stay_while_another_process_holds_its_lock() {
    let dir = repo();
    let p = dir.path();
    fs::write(p.join("f"), "f\n").expect("write");
    ok(&ours(p, &["add", "f"]), "add");
    fs::create_dir_all(othertmp(p)).expect("mkdir");
    fs::write(othertmp(p).join("ingest.1.0"), "left by a killed add").expect("write");
    // A live process (python's lockf: a POSIX record lock, as git-annex
    // takes) holds the shared lock: nothing is cleaned.
    let mut holder = Command::new("python3")
        .args([
            "-c",
            "import fcntl,sys,time\nf=open(sys.argv[1],'a+')\nfcntl.lockf(f,fcntl.LOCK_SH)\nprint('held',flush=True)\nsys.stdin.read()",
        ])
        .arg(p.join(".git/annex/othertmp.lck"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("read");
    assert_eq!(line.trim(), "held");
    ok(&ours(p, &["find"]), "find");
    assert_eq!(othertmp_entries(p), vec!["ingest.1.0".to_string()]);
    drop(holder.stdin.take());
    holder.wait().expect("wait");
    ok(&ours(p, &["find"]), "find");
    assert!(othertmp_entries(p).is_empty(), "{:?}", othertmp_entries(p));
}

#[test]
fn a_rerun_of_unlock_stages_a_file_a_killed_unlock_left_unstaged() {
    let dir = repo();
    let p = dir.path();
    fs::write(p.join("f"), "content\n").expect("write");
    ok(&ours(p, &["add", "f"]), "add");
    support::git(p, &["commit", "-qm", "add"]);
    // What a kill after the rename and before staging leaves: the content
    // in place of the symlink, the symlink still staged.
    fs::remove_file(p.join("f")).expect("rm");
    fs::write(p.join("f"), "content\n").expect("write");
    assert!(support::git(p, &["ls-files", "-s", "f"]).starts_with("120000"));
    ok(&ours(p, &["unlock", "f"]), "unlock");
    assert!(support::git(p, &["ls-files", "-s", "f"]).starts_with("100644"));
    assert_eq!(fs::read(p.join("f")).expect("read"), b"content\n");
    support::git(p, &["commit", "-qm", "unlocked"]);
    assert_eq!(status(p), "");
    fsck_ok(p);
}

#[test]
fn a_rerun_of_lock_stages_a_file_a_killed_lock_left_unstaged() {
    let dir = repo();
    let p = dir.path();
    fs::write(p.join("f"), "content\n").expect("write");
    ok(&ours(p, &["add", "f"]), "add");
    support::git(p, &["commit", "-qm", "add"]);
    let target = fs::read_link(p.join("f")).expect("link");
    ok(&ours(p, &["unlock", "f"]), "unlock");
    support::git(p, &["commit", "-qm", "unlocked"]);
    // What a kill after the rename and before staging leaves.
    fs::remove_file(p.join("f")).expect("rm");
    std::os::unix::fs::symlink(&target, p.join("f")).expect("ln");
    assert!(support::git(p, &["ls-files", "-s", "f"]).starts_with("100644"));
    ok(&ours(p, &["lock", "f"]), "lock");
    assert!(support::git(p, &["ls-files", "-s", "f"]).starts_with("120000"));
    support::git(p, &["commit", "-qm", "locked"]);
    assert_eq!(status(p), "");
    fsck_ok(p);
}

#[test]
fn a_drop_of_content_already_gone_corrects_the_location_log() {
    let dir = repo();
    let p = dir.path();
    fs::write(p.join("f"), "content\n").expect("write");
    ok(&ours(p, &["add", "f"]), "add");
    support::git(p, &["commit", "-qm", "add"]);
    // What a drop killed between removing the content and logging it
    // (git-annex's order) leaves.
    let object = fs::canonicalize(p.join("f")).expect("object");
    let keydir = object.parent().expect("key dir");
    fs::set_permissions(keydir, fs::Permissions::from_mode(0o755)).expect("thaw");
    fs::remove_file(&object).expect("rm object");
    assert!(support::annex(p, &["whereis", "f"]).contains("[here]"));
    let out = ours(p, &["drop", "f"]);
    ok(&out, "drop");
    // No action shown, as the reference shows none for it (only that
    // the corrected log is recorded).
    assert!(!String::from_utf8_lossy(&out.stdout).contains("drop f"));
    let w = support::annex_output(p, &["whereis", "f"], None);
    assert!(
        !String::from_utf8_lossy(&w.stdout).contains("[here]"),
        "{}",
        String::from_utf8_lossy(&w.stdout)
    );
}

#[test]
fn a_file_name_of_255_bytes_can_be_added_unlocked_locked_got_and_dropped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = dir.path().join("a");
    fs::create_dir(&a).expect("mkdir");
    support::git(&a, &["init", "-q", "-b", "main"]);
    support::annex(&a, &["init", "-q", "a"]);
    let name = format!("{}.txt", "n".repeat(251));
    assert_eq!(name.len(), 255);
    fs::write(a.join(&name), "long name\n").expect("write");
    ok(&ours(&a, &["add", &name]), "add");
    support::git(&a, &["commit", "-qm", "add"]);
    support::git(dir.path(), &["clone", "-q", "a", "b"]);
    let b = dir.path().join("b");
    support::annex(&b, &["init", "-q", "b"]);
    ok(&ours(&b, &["get", &name]), "get");
    ok(&ours(&b, &["unlock", &name]), "unlock");
    assert_eq!(fs::read(b.join(&name)).expect("read"), b"long name\n");
    // Unlocked: drop puts the pointer back, get the content.
    ok(&ours(&b, &["drop", &name]), "drop of an unlocked file");
    ok(&ours(&b, &["get", &name]), "get of an unlocked file");
    assert_eq!(fs::read(b.join(&name)).expect("read"), b"long name\n");
    ok(&ours(&b, &["lock", &name]), "lock");
    assert!(
        fs::symlink_metadata(b.join(&name))
            .expect("stat")
            .file_type()
            .is_symlink()
    );
    ok(&ours(&b, &["drop", &name]), "drop");
    assert!(!b.join(&name).exists(), "the content is still here");
    assert_eq!(status(&b), "");
    assert!(debris(&b).is_empty(), "{:?}", debris(&b));
    fsck_ok(&b);
    fsck_ok(&a);
}

#[test]
fn an_index_lock_left_by_a_killed_staging_of_ours_does_not_block_the_next_run() {
    use std::os::unix::fs::MetadataExt;
    let dir = repo();
    let p = dir.path();
    fs::write(p.join("f"), "f\n").expect("write");
    // What a kill while staging leaves: index.lock, and the owner record
    // naming it.
    let lock = p.join(".git/index.lock");
    fs::write(&lock, "half an index").expect("write");
    let m = fs::metadata(&lock).expect("stat");
    fs::write(
        p.join(".git/annex-rs-index.owner"),
        format!("{}:{}\n", m.dev(), m.ino()),
    )
    .expect("write");
    ok(&ours(p, &["add", "f"]), "add");
    assert!(!lock.exists());
    assert!(support::git(p, &["ls-files", "-s", "f"]).starts_with("120000"));
    // An index.lock that is not provably ours (git's) is left alone.
    fs::write(&lock, "git's").expect("write");
    fs::write(p.join("g"), "g\n").expect("write");
    let out = ours(p, &["add", "g"]);
    assert!(!out.status.success());
    assert_eq!(fs::read(&lock).expect("read"), b"git's");
    fs::remove_file(&lock).expect("rm");
}

#[test]
fn a_git_annex_ref_lock_left_by_a_killed_commit_does_not_block_the_next_run() {
    let dir = repo();
    let p = dir.path();
    fs::write(p.join("f"), "f\n").expect("write");
    let lock = p.join(".git/refs/heads/git-annex.lock");
    fs::write(&lock, "0000000000000000000000000000000000000000\n").expect("write");
    let out = ours(p, &["add", "f"]);
    ok(&out, "add");
    assert!(!lock.exists());
    // The branch moved: the reference sees the new location.
    assert!(support::annex(p, &["whereis", "f"]).contains("[here]"));
    fsck_ok(p);
}

#[test]
fn a_get_of_content_here_but_not_logged_records_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = dir.path().join("a");
    fs::create_dir(&a).expect("mkdir");
    support::git(&a, &["init", "-q", "-b", "main"]);
    support::annex(&a, &["init", "-q", "a"]);
    fs::write(a.join("f"), "content\n").expect("write");
    support::annex(&a, &["add", "-q", "f"]);
    support::git(&a, &["commit", "-qm", "add"]);
    support::git(dir.path(), &["clone", "-q", "a", "b"]);
    let b = dir.path().join("b");
    support::annex(&b, &["init", "-q", "b"]);
    support::annex(&b, &["get", "-q", "f"]);
    // What a get killed after storing and before logging leaves.
    let key = support::annex(&b, &["lookupkey", "f"]).trim().to_string();
    let uuid = support::git(&b, &["config", "annex.uuid"])
        .trim()
        .to_string();
    support::annex(&b, &["setpresentkey", &key, &uuid, "0"]);
    assert!(!support::annex(&b, &["whereis", "f"]).contains("[here]"));
    ok(&ours(&b, &["get", "f"]), "get");
    assert!(support::annex(&b, &["whereis", "f"]).contains("[here]"));
    fsck_ok(&b);
}

#[test]
fn a_packed_refs_lock_left_by_a_killed_branch_update_does_not_block_the_next_run() {
    let dir = repo();
    let p = dir.path();
    fs::write(p.join("f"), "f\n").expect("write");
    support::git(p, &["pack-refs", "--all"]);
    // What a kill inside the update of the git-annex branch leaves: the
    // marker of the update under way, and the lock files it took since.
    fs::write(p.join(".git/annex/rs-ref.writing"), "").expect("write");
    std::thread::sleep(Duration::from_millis(20));
    let lock = p.join(".git/packed-refs.lock");
    fs::write(&lock, "").expect("write");
    ok(&ours(p, &["add", "f"]), "add");
    assert!(!lock.exists());
    assert!(!p.join(".git/annex/rs-ref.writing").exists());
    assert!(support::annex(p, &["whereis", "f"]).contains("[here]"));
    // A lock older than the marker (not the dead update's) is left alone.
    fs::write(&lock, "").expect("write");
    std::thread::sleep(Duration::from_millis(20));
    fs::write(p.join(".git/annex/rs-ref.writing"), "").expect("write");
    fs::write(p.join("g"), "g\n").expect("write");
    let out = ours(p, &["add", "g"]);
    assert!(lock.exists(), "{}", String::from_utf8_lossy(&out.stderr));
    fs::remove_file(&lock).expect("rm");
}

#[test]
fn a_ref_lock_left_in_a_local_remote_is_removed_when_the_remote_is_opened() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = dir.path().join("a");
    fs::create_dir(&a).expect("mkdir");
    support::git(&a, &["init", "-q", "-b", "main"]);
    support::annex(&a, &["init", "-q", "a"]);
    fs::write(a.join("f"), "content\n").expect("write");
    support::annex(&a, &["add", "-q", "f"]);
    support::git(&a, &["commit", "-qm", "add"]);
    support::git(dir.path(), &["clone", "-q", "a", "b"]);
    let b = dir.path().join("b");
    support::annex(&b, &["init", "-q", "b"]);
    // A copy --to a killed while it moved a's git-annex branch.
    fs::write(a.join(".git/annex/rs-ref.writing"), "").expect("write");
    std::thread::sleep(Duration::from_millis(20));
    let lock = a.join(".git/refs/heads/git-annex.lock");
    fs::write(&lock, "").expect("write");
    ok(&ours(&b, &["get", "f"]), "get");
    assert!(!lock.exists());
    // The reference can move a's branch again.
    support::annex(&a, &["merge"]);
    fsck_ok(&a);
}
