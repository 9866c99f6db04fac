//! End-to-end tests of real external special remote programs from the
//! package registries, against the reference: Debian's
//! `git-annex-remote-rclone` (with `rclone`, both installed by `.ci/run`)
//! over rclone's local backend, configured by an rclone config file the
//! test writes in its own HOME. What one implementation stores through
//! the program the other gets through it, in the program's layout, and
//! drops; chunked and encrypted too.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support;

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

/// A scratch area whose HOME holds an rclone config with one remote,
/// `loc`, of rclone's local backend.
struct Area {
    dir: tempfile::TempDir,
}

impl Area {
    fn new() -> Area {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("home/.config/rclone");
        std::fs::create_dir_all(&conf).expect("rclone config dir");
        std::fs::write(conf.join("rclone.conf"), "[loc]\ntype = local\n").expect("rclone.conf");
        Area { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn run(&self, program: &Path, dir: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new(program);
        support::hermetic(&mut cmd);
        cmd.current_dir(dir)
            .env("HOME", self.path("home"))
            .env_remove("RCLONE_CONFIG")
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
}

/// The `remote.log` line of the remote named `name`, without UUID,
/// timestamp and name.
fn logged(repo: &Path, name: &str) -> String {
    let log = support::git(repo, &["cat-file", "-p", "git-annex:remote.log"]);
    log.lines()
        .find(|l| l.split(' ').any(|w| w == format!("name={name}")))
        .map(|l| {
            l.split(' ')
                .skip(1)
                .filter(|w| !w.starts_with("timestamp=") && !w.starts_with("name="))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|| panic!("no remote.log line for {name}:\n{log}"))
}

/// Every file under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
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

#[test]
fn rclone_remote_from_debian_crosses_both_ways() {
    let a = Area::new();
    let r = a.path("r");
    std::fs::create_dir(&r).expect("mkdir");
    support::git(&r, &["init", "-q"]);
    ok(&a.theirs(&r, &["init", "-q"]));
    for f in ["f", "g", "h"] {
        std::fs::write(r.join(f), format!("content of {f}, some bytes long\n")).expect("write");
    }
    ok(&a.theirs(&r, &["add", "-q", "f", "g", "h"]));
    support::git(&r, &["commit", "-q", "-m", "files"]);
    let store = a.path("store");
    std::fs::create_dir(&store).expect("mkdir");
    let init = |theirs: bool, name: &str, extra: &[&str]| {
        let prefix = format!("prefix={}", store.join(name).display());
        let mut args = vec![
            "initremote",
            name,
            "type=external",
            "externaltype=rclone",
            "target=loc",
            &prefix,
            "rclone_layout=lower",
        ];
        args.extend(extra);
        ok(&a.by(theirs, &r, &args))
    };
    let to = init(true, "rt", &["encryption=none"]);
    let oo = init(false, "ro", &["encryption=none"]);
    assert_eq!(to.replace("rt", "X"), oo.replace("ro", "X"));
    assert_eq!(
        logged(&r, "rt").replace("/rt", "/X"),
        logged(&r, "ro").replace("/ro", "/X")
    );
    // Chunked and encrypted, set up by us and read by the reference.
    init(false, "re", &["encryption=shared", "chunk=10"]);
    let key = |f: &str| ok(&a.theirs(&r, &["lookupkey", f])).trim().to_string();
    for (theirs_store, remote, file) in [(true, "rt", "f"), (false, "ro", "g"), (false, "re", "h")]
    {
        ok(&a.by(theirs_store, &r, &["copy", "--to", remote, file]));
        let stored = files(&store.join(remote));
        if remote == "re" {
            // 30 bytes in chunks of 10, under encrypted names.
            assert_eq!(stored.len(), 3, "{stored:?}");
            assert!(
                stored.iter().all(|s| s.contains("GPGHMACSHA1--")),
                "{stored:?}"
            );
        } else {
            // rclone_layout=lower: HASH/KEY, as the program lays it out.
            let hash = ok(&a.theirs(&r, &["examinekey", "--format=${hashdirlower}", &key(file)]));
            assert_eq!(stored, vec![format!("{}{}", hash.trim(), key(file))]);
        }
        ok(&a.by(theirs_store, &r, &["drop", "--force", file]));
        let got = ok(&a.by(!theirs_store, &r, &["get", "--from", remote, file]));
        assert!(got.contains("ok"), "{got}");
        assert_eq!(
            std::fs::read_to_string(r.join(file)).expect("got"),
            format!("content of {file}, some bytes long\n")
        );
        // Presence as the program tells it, the same for both.
        let fo = a.ours(&r, &["fsck", "--fast", "--from", remote, file]);
        let ft = a.theirs(&r, &["fsck", "--fast", "--from", remote, file]);
        assert_eq!(fo.status.code(), ft.status.code(), "{fo:?}\n{ft:?}");
        // The other drops it from the remote.
        ok(&a.by(!theirs_store, &r, &["drop", "--from", remote, file]));
        assert_eq!(files(&store.join(remote)), Vec::<String>::new());
    }
}
