//! Tests of `annex_core::transfer`, `annex_core::content` and
//! `annex_core::remote` against repositories and processes of the reference
//! git-annex: its `info` sees our transfers in progress, its drop cannot
//! remove content we hold locked, and we cannot lock content it removes.

use std::path::Path;

use annex_core::content;
use annex_core::key::Key;
use annex_core::objects::ObjectStore;
use annex_core::remote::{LocalGitRemote, Remote};
use annex_core::transfer::{self, Direction, Transfer};
use annex_core::uuid::Uuid;

use crate::support::{annex, annex_output, git, new_git_repo};

fn annexed_repo(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = new_git_repo();
    annex(dir.path(), &["init", "test"]);
    for (n, c) in files {
        std::fs::write(dir.path().join(n), c).expect("write");
        annex(dir.path(), &["add", n]);
    }
    git(dir.path(), &["commit", "-q", "-m", "add"]);
    dir
}

fn key_of(dir: &Path, file: &str) -> Key {
    Key::parse(annex(dir, &["lookupkey", file]).trim().as_bytes()).expect("key")
}

#[test]
fn the_reference_info_lists_our_transfer_in_progress() {
    let repo = annexed_repo(&[("f", b"content\n")]);
    let key = key_of(repo.path(), "f");
    let other = Uuid::parse(b"11111111-2222-3333-4444-555555555555").expect("uuid");
    let git_dir = repo.path().join(".git");
    let mut t =
        Transfer::start(&git_dir, Direction::Download, &other, &key, b"f", false).expect("start");
    t.progress(4);
    let info = annex(repo.path(), &["info", "--json"]);
    let v: serde_json::Value = serde_json::from_str(info.trim()).expect("json");
    let transfers = v["transfers in progress"].as_array().expect("array");
    assert_eq!(transfers.len(), 1, "{info}");
    assert_eq!(transfers[0]["key"], key.to_string());
    assert_eq!(transfers[0]["file"], "f");
    assert_eq!(transfers[0]["transfer"], "download");
    assert_eq!(transfers[0]["remote"], other.to_string());
    // A second transfer of the same key is refused while this one runs.
    assert!(matches!(
        Transfer::start(&git_dir, Direction::Download, &other, &key, b"f", false),
        Err(transfer::TransferError::InProgress)
    ));
    t.finish(true);
    let info = annex(repo.path(), &["info", "--json"]);
    let v: serde_json::Value = serde_json::from_str(info.trim()).expect("json");
    assert_eq!(v["transfers in progress"].as_array().map(Vec::len), Some(0));
    let p = transfer::paths(&git_dir, Direction::Download, &other, &key);
    assert!(!p.info.exists() && !p.lock.exists());
}

/// Regression: asking which transfers are in progress (as a p2phttp
/// gateway does for its busy count, and the assistant's watcher for other
/// processes' transfers) opened and closed this process's own transfer
/// lock files, and closing any descriptor of a file releases the
/// process's record locks on it: another process could then start the
/// same transfer. The locks now survive the question.
#[test]
fn asking_about_transfers_in_progress_keeps_this_processs_transfer_locks() {
    let repo = annexed_repo(&[("f", b"content\n")]);
    let key = key_of(repo.path(), "f");
    let other = Uuid::parse(b"11111111-2222-3333-4444-555555555555").expect("uuid");
    let git_dir = repo.path().join(".git");
    let t =
        Transfer::start(&git_dir, Direction::Download, &other, &key, b"f", false).expect("start");
    let p = transfer::paths(&git_dir, Direction::Download, &other, &key);
    assert_eq!(transfer::in_progress(&git_dir).len(), 1);
    assert_eq!(content::lock_state(&p.lock), content::LockState::HeldHere);
    // Another process tries the lock (a POSIX record lock, as git-annex's).
    let probe = std::process::Command::new("python3")
        .arg("-c")
        .arg("import fcntl,sys\nf=open(sys.argv[1],'r+')\ntry:\n fcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB)\n print('taken')\nexcept OSError:\n print('held')")
        .arg(&p.lock)
        .output()
        .expect("python3");
    assert_eq!(String::from_utf8_lossy(&probe.stdout).trim(), "held");
    t.finish(true);
}

#[test]
fn the_reference_cannot_drop_content_we_hold_locked() {
    let repo = annexed_repo(&[("f", b"locked content\n")]);
    let key = key_of(repo.path(), "f");
    let store = ObjectStore::open(repo.path().join(".git")).expect("store");
    let lock = content::lock_shared(&store, &key).expect("lock");
    assert!(lock.path().exists());
    assert_eq!(content::present_safe(&store, &key), None);
    let out = annex_output(repo.path(), &["drop", "--force", "f"], None);
    assert!(
        !out.status.success(),
        "the reference dropped locked content"
    );
    assert!(store.has(&key));
    drop(lock);
    // Released and the lock file cleaned up: now it can.
    assert_eq!(content::present_safe(&store, &key), Some(true));
    annex(repo.path(), &["drop", "--force", "f"]);
    assert!(!store.has(&key));
}

#[test]
fn a_removal_lock_excludes_shared_locks() {
    let repo = annexed_repo(&[("f", b"x\n")]);
    let key = key_of(repo.path(), "f");
    let store = ObjectStore::open(repo.path().join(".git")).expect("store");
    let rm = content::lock_for_removal(&store, &key)
        .expect("lock")
        .expect("present");
    assert!(matches!(
        content::lock_shared(&store, &key),
        Err(content::ContentError::Locked { .. })
    ));
    assert!(rm.remove_content(&store).expect("remove"));
    drop(rm);
    assert!(!store.has(&key));
    assert!(
        content::lock_for_removal(&store, &key)
            .expect("ok")
            .is_none()
    );
    // The reference agrees the content is gone and its fsck is clean.
    let out = annex_output(repo.path(), &["fsck", "-q", "--fast", "f"], None);
    assert!(!out.status.success() || out.stdout.is_empty());
}

#[test]
fn receive_resumes_from_a_partial_file_and_verifies() {
    let repo = annexed_repo(&[("f", &[7u8; 100_000])]);
    let key = key_of(repo.path(), "f");
    let store = ObjectStore::open(repo.path().join(".git")).expect("store");
    let src = store.find(&key).expect("object");
    let dest_dir = tempfile::tempdir().expect("tmp");
    let dest = dest_dir.path().join("partial");
    std::fs::write(&dest, [7u8; 40_000]).expect("write");
    let mut seen = Vec::new();
    let r = transfer::receive(&src, &dest, &key, &mut |n| seen.push(n)).expect("receive");
    assert_eq!(r.resumed_from, 40_000);
    assert_eq!(r.size, 100_000);
    assert_eq!(r.verified, Some(true));
    assert_eq!(seen.first(), Some(&40_000));
    // A partial file with wrong bytes does not verify.
    std::fs::write(&dest, [8u8; 10]).expect("write");
    let r = transfer::receive(&src, &dest, &key, &mut |_| {}).expect("receive");
    assert_eq!(r.verified, Some(false));
    assert!(!r.ok());
}

#[test]
fn receive_of_many_blocks_hashes_on_the_side_resumes_and_refuses_corruption() {
    // Larger than the blocks the copy hands to its hashing thread, times the
    // blocks in flight, and than the 16 MiB after which write-back is
    // started early (whole and resumed); not a multiple of a block.
    let content: Vec<u8> = (0..21_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let repo = annexed_repo(&[("big", &content)]);
    let key = key_of(repo.path(), "big");
    let store = ObjectStore::open(repo.path().join(".git")).expect("store");
    let src = store.find(&key).expect("object");
    let dest_dir = tempfile::tempdir().expect("tmp");
    // Whole, from nothing.
    let dest = dest_dir.path().join("whole");
    let mut last = 0;
    let r = transfer::receive(&src, &dest, &key, &mut |n| last = n).expect("receive");
    assert_eq!(
        (r.size, r.verified, r.resumed_from),
        (21_000_000, Some(true), 0)
    );
    assert_eq!(last, 21_000_000);
    assert_eq!(std::fs::read(&dest).expect("read"), content);
    // Resumed from a partial file ending inside a block.
    let dest = dest_dir.path().join("partial");
    std::fs::write(&dest, &content[..3_333_333]).expect("write");
    let r = transfer::receive(&src, &dest, &key, &mut |_| {}).expect("receive");
    assert_eq!(
        (r.size, r.verified, r.resumed_from),
        (21_000_000, Some(true), 3_333_333)
    );
    assert_eq!(std::fs::read(&dest).expect("read"), content);
    // A source with one byte changed far into it is refused.
    let mut bad = content.clone();
    bad[18_000_001] ^= 1;
    let bad_src = dest_dir.path().join("bad-source");
    std::fs::write(&bad_src, &bad).expect("write");
    let dest = dest_dir.path().join("from-bad");
    let r = transfer::receive(&bad_src, &dest, &key, &mut |_| {}).expect("receive");
    assert_eq!(r.verified, Some(false));
    assert!(!r.ok());
    // And so is a good source resumed onto a corrupted partial file.
    let dest = dest_dir.path().join("bad-partial");
    std::fs::write(&dest, &bad[..19_000_000]).expect("write");
    let r = transfer::receive(&src, &dest, &key, &mut |_| {}).expect("receive");
    assert_eq!(r.resumed_from, 19_000_000);
    assert_eq!(r.verified, Some(false));
}

#[test]
fn a_local_remote_store_is_recorded_in_the_remotes_own_log() {
    let a = annexed_repo(&[("f", b"to be stored\n")]);
    let key = key_of(a.path(), "f");
    let b = new_git_repo();
    annex(b.path(), &["init", "b"]);
    let ours_uuid = Uuid::parse(b"11111111-2222-3333-4444-555555555555").expect("uuid");
    let remote = LocalGitRemote::open("b", b.path(), None, 100.0).expect("open");
    let src = ObjectStore::open(a.path().join(".git"))
        .expect("store")
        .find(&key)
        .expect("object");
    remote
        .store(&key, &src, &ours_uuid, b"f", &mut |_| {})
        .expect("store");
    assert!(remote.check_present(&key).expect("check"));
    remote.commit().expect("commit");
    // b's branch says b has it; its fsck agrees.
    let wh = annex(b.path(), &["whereis", "--key", key.to_string().as_str()]);
    assert!(wh.contains("b [here]"), "{wh}");
    annex(b.path(), &["fsck", "-q", "--key", key.to_string().as_str()]);
    remote.remove(&key).expect("remove");
    remote.commit().expect("commit");
    assert!(!remote.check_present(&key).expect("check"));
    let out = annex_output(
        b.path(),
        &["whereis", "--key", key.to_string().as_str()],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
}

/// Holds an `fcntl` lock on `path` in another process (python's
/// `fcntl.lockf`, the same POSIX record lock git-annex takes) until the
/// returned child is killed; `exclusive` for a removal lock, else shared.
fn hold_lock(path: &Path, exclusive: bool) -> std::process::Child {
    use std::io::BufRead;
    let script = format!(
        "import fcntl,sys,time\nf=open(sys.argv[1],'{}')\nfcntl.lockf(f,fcntl.{})\nprint('locked',flush=True)\ntime.sleep(60)",
        if exclusive { "a" } else { "r" },
        if exclusive { "LOCK_EX" } else { "LOCK_SH" }
    );
    let mut child = std::process::Command::new("python3")
        .args(["-c", &script])
        .arg(path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let out = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(out)
        .read_line(&mut line)
        .expect("read");
    assert_eq!(line.trim(), "locked");
    child
}

#[test]
fn locks_held_by_another_process_are_respected() {
    let repo = annexed_repo(&[("f", b"shared\n")]);
    let key = key_of(repo.path(), "f");
    let store = ObjectStore::open(repo.path().join(".git")).expect("store");
    let object = store.find(&key).expect("object");
    let lck = content::lock_file(&object);
    let dir = object.parent().expect("dir");
    std::process::Command::new("chmod")
        .arg("u+w")
        .arg(dir)
        .status()
        .expect("chmod");
    std::fs::write(&lck, b"").expect("lock file");
    // Another process relies on this copy (a drop proof elsewhere): we
    // cannot remove it, and cannot tell whether it is safe.
    let mut holder = hold_lock(&lck, false);
    assert!(matches!(
        content::lock_for_removal(&store, &key),
        Err(content::ContentError::Locked { .. })
    ));
    assert_eq!(content::present_safe(&store, &key), None);
    // Shared locks coexist.
    let ours = content::lock_shared(&store, &key).expect("shared with another holder");
    drop(ours);
    let _ = holder.kill();
    let _ = holder.wait();
    // Another process is removing it: we cannot lock it as a copy.
    let mut remover = hold_lock(&lck, true);
    assert!(matches!(
        content::lock_shared(&store, &key),
        Err(content::ContentError::Locked { .. })
    ));
    assert_eq!(content::present_safe(&store, &key), None);
    let _ = remover.kill();
    let _ = remover.wait();
    assert_eq!(content::present_safe(&store, &key), Some(true));
    let rm = content::lock_for_removal(&store, &key)
        .expect("lock")
        .expect("present");
    drop(rm);
    // The reference's fsck is still happy with the repository.
    annex(repo.path(), &["fsck", "-q"]);
}

#[test]
fn shared_content_locks_taken_and_dropped_at_once_by_many_threads_never_fail() {
    // Regression: dropping the last shared lock removed the lock file
    // outside the lock registry, and a thread locking the same content
    // meanwhile was told it was locked (p2phttp sent an empty GET).
    let repo = annexed_repo(&[("f", b"shared by many\n")]);
    let key = key_of(repo.path(), "f");
    let store = std::sync::Arc::new(ObjectStore::open(repo.path().join(".git")).expect("store"));
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let (store, key) = (store.clone(), key.clone());
            std::thread::spawn(move || {
                (0..300)
                    .filter(|_| content::lock_shared(&store, &key).is_err())
                    .count()
            })
        })
        .collect();
    let failed: usize = threads.into_iter().map(|t| t.join().expect("thread")).sum();
    assert_eq!(failed, 0);
    assert!(store.has(&key));
}
