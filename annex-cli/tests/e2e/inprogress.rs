//! `inprogress` against the reference: a download made to look in
//! progress (its transfer information file, its temporary file, and its
//! lock held by another process, as git-annex's `get` leaves them while it
//! runs), then the same questions asked of both.

use std::fs;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::{ours, support};

/// A process holding an exclusive `fcntl` lock on a file until dropped.
struct LockHolder(Child);

impl LockHolder {
    fn hold(path: &Path) -> LockHolder {
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(
                "import fcntl, sys, time\n\
                 f = open(sys.argv[1], 'w')\n\
                 fcntl.lockf(f, fcntl.LOCK_EX)\n\
                 print('locked', flush=True)\n\
                 time.sleep(120)\n",
            )
            .arg(path)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        let out = child.stdout.take().expect("stdout");
        std::io::BufReader::new(out)
            .read_line(&mut line)
            .expect("reads");
        assert_eq!(line.trim(), "locked");
        LockHolder(child)
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A clone whose `f1` is being downloaded from origin (the lock held by
/// the returned holder); `f2` is not.
fn downloading() -> (tempfile::TempDir, PathBuf, String, LockHolder) {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("o");
    fs::create_dir(&o).unwrap();
    support::git(&o, &["init", "-q"]);
    support::annex(&o, &["init", "-q", "origin"]);
    fs::write(o.join("f1"), "one".repeat(100)).unwrap();
    fs::write(o.join("f2"), "two").unwrap();
    support::annex(&o, &["add", "-q", "."]);
    support::git(&o, &["commit", "-q", "-m", "files"]);
    support::git(dir.path(), &["clone", "-q", "o", "c"]);
    let c = dir.path().join("c");
    support::annex(&c, &["init", "-q", "clone"]);
    fs::create_dir(c.join("sub")).unwrap();
    let key = support::annex(&c, &["lookupkey", "f1"]).trim().to_string();
    let uuid = support::git(&c, &["config", "remote.origin.annex-uuid"])
        .trim()
        .to_string();
    let t = c.join(".git/annex/transfer/download");
    fs::create_dir_all(t.join("lck")).unwrap();
    fs::create_dir_all(t.join(&uuid)).unwrap();
    fs::write(t.join(&uuid).join(&key), "1700000000s 100\nf1\n").unwrap();
    fs::create_dir_all(c.join(".git/annex/tmp")).unwrap();
    fs::write(c.join(".git/annex/tmp").join(&key), "oneone").unwrap();
    let holder = LockHolder::hold(&t.join("lck").join(format!("lck.{key}")));
    (dir, c, key, holder)
}

#[test]
fn inprogress_shows_the_temporary_file_of_a_download_as_the_reference() {
    let (_d, c, key, _holder) = downloading();
    let cases: Vec<(PathBuf, Vec<String>)> = vec![
        (c.clone(), vec!["f1".into()]),
        (c.clone(), vec![]),
        (c.clone(), vec!["f2".into()]),
        (c.clone(), vec!["--all".into()]),
        (c.clone(), vec!["-A".into()]),
        (c.clone(), vec!["--key".into(), key.clone()]),
        (c.clone(), vec!["--key".into(), "SHA256E-s3--abc".into()]),
        (c.join("sub"), vec!["../f1".into()]),
        (c.join("sub"), vec!["--all".into()]),
        (c.clone(), vec!["nosuch".into()]),
    ];
    let mut shown = 0;
    for (dir, args) in &cases {
        let mut full = vec!["inprogress"];
        full.extend(args.iter().map(String::as_str));
        let theirs = support::annex_output(dir, &full, None);
        let mine = ours(dir, &full);
        assert_eq!(
            String::from_utf8_lossy(&mine.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "{full:?}: stdout; stderr ours {:?}",
            String::from_utf8_lossy(&mine.stderr)
        );
        assert_eq!(mine.status.code(), theirs.status.code(), "{full:?}: code");
        shown += usize::from(!theirs.stdout.is_empty());
    }
    // The download was seen (not every answer empty).
    assert!(shown >= 6, "{shown}");
}

#[test]
fn inprogress_shows_nothing_once_the_lock_is_released_as_the_reference() {
    let (_d, c, _key, holder) = downloading();
    drop(holder);
    for args in [&["f1"][..], &["--all"]] {
        let mut full = vec!["inprogress"];
        full.extend_from_slice(args);
        let theirs = support::annex_output(&c, &full, None);
        let mine = ours(&c, &full);
        assert_eq!(mine.stdout, theirs.stdout, "{full:?}");
        assert!(mine.stdout.is_empty());
        assert_eq!(mine.status.code(), theirs.status.code(), "{full:?}");
    }
}

/// Regression: `info` listed no transfer in progress, ever. A download
/// and an upload (to a file with a space) in progress, shown by `info`
/// as the reference shows them, in text and JSON.
#[test]
fn info_lists_transfers_in_progress_as_the_reference() {
    let (_d, c, key, _holder) = downloading();
    let uuid = support::git(&c, &["config", "remote.origin.annex-uuid"])
        .trim()
        .to_string();
    let up = c.join(".git/annex/transfer/upload").join(&uuid);
    fs::create_dir_all(&up).unwrap();
    fs::write(up.join(&key), "1700000000s 10\nsub dir/f1\n").unwrap();
    let _up_holder = LockHolder::hold(&up.join(format!("lck.{key}")));
    for args in [&["info", "--fast"][..], &["info", "--fast", "--json"]] {
        let theirs = support::annex_output(&c, args, None);
        let mine = ours(&c, args);
        let section = |out: &[u8]| -> String {
            let s = String::from_utf8_lossy(out).into_owned();
            if args.contains(&"--json") {
                let v: serde_json::Value = serde_json::from_str(&s).expect("json");
                v["transfers in progress"].to_string()
            } else {
                s.lines()
                    .skip_while(|l| !l.starts_with("transfers in progress"))
                    .take_while(|l| !l.starts_with("available"))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        };
        let shown = section(&mine.stdout);
        assert_eq!(shown, section(&theirs.stdout), "{args:?}");
        assert!(shown.contains("sub dir/f1"), "{shown}");
    }
}
