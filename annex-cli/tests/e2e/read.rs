//! End-to-end tests of the read-side commands (`whereis`, `find`, `info`,
//! `lookupkey`, and `examinekey` on the same repositories): a repository
//! built by the reference git-annex with several remotes (trusted,
//! untrusted, dead), locked and unlocked files, unicode names,
//! subdirectories, content present and absent, a URL and a location change
//! left in the journal; our output compared with the reference's on it:
//! JSON field by field, plain output byte for byte, exit codes.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::support::{annex, annex_output, git};
use crate::{ours, ours_with};

/// The scenario: `a` is the repository looked at; `b`, `c`, `d`, `t` are
/// its remotes.
struct Scenario {
    _dir: tempfile::TempDir,
    a: PathBuf,
}

fn add_file(repo: &Path, rel: &str, content: &str) {
    let p = repo.join(rel);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(p, content).expect("write");
}

/// The scenario; with `dirty`, one location change stays in the journal.
fn scenario(dirty: bool) -> Scenario {
    let dir = tempfile::tempdir().expect("tmp");
    let a = dir.path().join("a");
    std::fs::create_dir(&a).expect("mkdir");
    git(&a, &["init", "-q", "-b", "main"]);
    annex(&a, &["init", "-q", "repo A"]);
    add_file(&a, "f1", "hello\n");
    add_file(&a, "sub/f2", "world\n");
    add_file(&a, "sub/ü file", "unicode\n");
    add_file(&a, "sub/deep/er/x.bin", "deep file\n");
    add_file(&a, "u1", "unlocked content\n");
    add_file(&a, "nocopy", "gone\n");
    add_file(&a, "absent", "only elsewhere\n");
    add_file(&a, "small.txt", "");
    annex(&a, &["add", "-q", "."]);
    annex(&a, &["unlock", "-q", "u1"]);
    git(&a, &["commit", "-q", "-m", "files"]);
    for (name, desc) in [("b", "repo B"), ("c", "repo C"), ("d", "repo D"), ("t", "")] {
        let r = dir.path().join(name);
        git(dir.path(), &["clone", "-q", "a", name]);
        if desc.is_empty() {
            annex(&r, &["init", "-q"]);
        } else {
            annex(&r, &["init", "-q", desc]);
        }
    }
    annex(&dir.path().join("b"), &["get", "-q", "f1", "absent"]);
    annex(&dir.path().join("c"), &["get", "-q", "sub/f2", "u1"]);
    annex(&dir.path().join("d"), &["get", "-q", "sub"]);
    annex(&dir.path().join("t"), &["get", "-q", "f1", "sub/deep"]);
    for name in ["b", "c", "d", "t"] {
        git(&a, &["remote", "add", name, &format!("../{name}")]);
        git(&a, &["fetch", "-q", name]);
    }
    annex(&a, &["merge", "-q"]);
    annex(&a, &["untrust", "-q", "c"]);
    annex(&a, &["trust", "-q", "--force", "t"]);
    annex(&a, &["dead", "-q", "d"]);
    annex(&a, &["drop", "-q", "--force", "nocopy", "absent"]);
    let f1 = annex(&a, &["lookupkey", "f1"]);
    annex(
        &a,
        &["registerurl", "-q", f1.trim(), "http://example.com/f1"],
    );
    // A copy in a repository nobody describes (no uuid.log entry, no remote).
    let f2 = annex(&a, &["lookupkey", "sub/f2"]);
    annex(
        &a,
        &[
            "setpresentkey",
            "-q",
            f2.trim(),
            "11111111-2222-3333-4444-555555555555",
            "1",
        ],
    );
    // A location change left in the journal (not committed).
    let here = git(&a, &["config", "annex.uuid"]);
    let x = annex(&a, &["lookupkey", "sub/deep/er/x.bin"]);
    let b_uuid = git(&a, &["config", "remote.b.annex-uuid"]);
    annex(
        &a,
        &[
            "setpresentkey",
            "-c",
            "annex.alwayscommit=false",
            x.trim(),
            b_uuid.trim(),
            "1",
        ],
    );
    assert!(
        std::fs::read_dir(a.join(".git/annex/journal"))
            .expect("journal")
            .next()
            .is_some(),
        "the journal holds the change"
    );
    let _ = here;
    if !dirty {
        annex(&a, &["merge", "-q"]);
    }
    Scenario { _dir: dir, a }
}

/// Runs the reference and ours with the same arguments and input.
fn both(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> (Output, Output) {
    let r = annex_output(dir, args, stdin);
    let o = ours_with(dir, args, stdin);
    (r, o)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The lines of stderr that are not the program's own messages (which
/// name the program: `git-annex:` / `git-annex-rs:`).
fn stderr_shared(b: &[u8]) -> Vec<String> {
    text(b)
        .lines()
        .filter(|l| !l.starts_with("git-annex"))
        .map(str::to_owned)
        .collect()
}

/// Plain output byte for byte, exit codes, and stderr but the program's name.
fn same_plain(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let (r, o) = both(dir, args, stdin);
    assert_eq!(
        text(&o.stdout),
        text(&r.stdout),
        "stdout of {args:?} in {}\nours stderr: {}",
        dir.display(),
        text(&o.stderr)
    );
    assert_eq!(o.stdout, r.stdout, "bytes of {args:?}");
    assert_eq!(
        o.status.code(),
        r.status.code(),
        "exit code of {args:?}: {}",
        text(&o.stderr)
    );
    assert_eq!(
        stderr_shared(&o.stderr),
        stderr_shared(&r.stderr),
        "stderr of {args:?}"
    );
    r
}

fn json_lines(b: &[u8]) -> Vec<Value> {
    text(b)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// Compares two JSON objects field by field (`ignore`: fields whose value
/// differs between runs; they must still be present in both).
fn same_fields(ours: &Value, reference: &Value, ignore: &[&str], what: &str) {
    let (Value::Object(o), Value::Object(r)) = (ours, reference) else {
        assert_eq!(ours, reference, "{what}");
        return;
    };
    let ok: Vec<&String> = o.keys().collect();
    let rk: Vec<&String> = r.keys().collect();
    assert_eq!(ok, rk, "fields of {what}");
    for (k, rv) in r {
        if ignore.contains(&k.as_str()) {
            continue;
        }
        assert_eq!(o.get(k), Some(rv), "field {k:?} of {what}");
    }
}

/// JSON output compared object by object, field by field, and exit codes.
fn same_json(dir: &Path, args: &[&str], stdin: Option<&[u8]>, ignore: &[&str]) -> Vec<Value> {
    let (r, o) = both(dir, args, stdin);
    let (rj, oj) = (json_lines(&r.stdout), json_lines(&o.stdout));
    assert_eq!(
        oj.len(),
        rj.len(),
        "objects of {args:?}: ours {oj:?}\nreference {rj:?}"
    );
    for (i, (a, b)) in oj.iter().zip(&rj).enumerate() {
        same_fields(a, b, ignore, &format!("object {i} of {args:?}"));
    }
    assert_eq!(
        o.status.code(),
        r.status.code(),
        "exit code of {args:?}: {}",
        text(&o.stderr)
    );
    rj
}

#[test]
fn whereis_matches_the_reference() {
    let s = scenario(true);
    let a = &s.a;
    let sub = a.join("sub");
    // With the journal left uncommitted, both read it over the branch.
    let keep = ["-c", "annex.alwayscommit=false"];
    same_plain(a, &[&["whereis"][..], &keep].concat(), None);
    same_json(a, &[&["whereis", "--json"][..], &keep].concat(), None, &[]);
    same_plain(a, &[&["whereis", "sub/deep"][..], &keep].concat(), None);
    assert!(
        a.join(".git/annex/journal")
            .read_dir()
            .expect("journal")
            .next()
            .is_some()
    );
    // Otherwise the journal is committed first, as git-annex does.
    let o = ours(a, &["whereis", "sub/deep"]);
    let r = annex_output(a, &["whereis", "sub/deep"], None);
    assert_eq!(
        text(&o.stdout),
        format!("(recording state in git...)\n{}", text(&r.stdout))
    );
    let r = same_plain(a, &["whereis"], None);
    // Some files have no copy: exit code 1.
    assert_eq!(r.status.code(), Some(1));
    let j = same_json(a, &["whereis", "--json"], None, &[]);
    assert!(j.len() >= 7, "{j:?}");
    same_plain(&sub, &["whereis"], None);
    same_json(&sub, &["whereis", "--json"], None, &[]);
    same_json(&sub, &["whereis", "--json", ".."], None, &[]);
    same_plain(&sub, &["whereis", "../f1", "deep"], None);
    let ok = same_plain(a, &["whereis", "f1", "sub/f2"], None);
    assert_eq!(ok.status.code(), Some(0));
    same_plain(a, &["whereis", "nonexistent", "f1"], None);
    same_plain(a, &["whereis", "-c", "core.quotepath=false", "sub"], None);
    same_plain(a, &["info", "11111111-2222-3333-4444-555555555555"], None);
    let f1 = annex(a, &["lookupkey", "f1"]);
    let f1 = f1.trim();
    same_plain(a, &["whereis", "--key", f1], None);
    same_json(a, &["whereis", "--json", "--key", f1], None, &[]);
    same_plain(a, &["whereis", "--all"], None);
    same_json(a, &["whereis", "--all", "--json"], None, &[]);
    same_plain(
        a,
        &["whereis", "--format", "${file} ${key} ${uuid} ${url}\\n"],
        None,
    );
    same_plain(
        a,
        &["whereis", "--format", "${file}:${humansize}\\n", "nocopy"],
        None,
    );
    same_plain(
        a,
        &["whereis", "--batch"],
        Some("f1\nnocopy\nnot-a-file\nsub\nsub/ü file\n".as_bytes()),
    );
    same_json(
        a,
        &["whereis", "--batch", "--json"],
        Some(b"f1\nsub/f2\n"),
        &[],
    );
    same_plain(a, &["whereis", "--batch", "-z"], Some(b"f1\0u1\0"));
    let batch_keys = format!("{f1}\nSHA256E-s1--00\n");
    same_plain(a, &["whereis", "--batch-keys"], Some(batch_keys.as_bytes()));
    same_json(
        a,
        &["whereis", "--batch-keys", "--json"],
        Some(batch_keys.as_bytes()),
        &[],
    );
    // Exit code and nothing on stdout for a mix of selectors.
    same_plain(a, &["whereis", "f1", "--key", f1], None);
}

#[test]
fn find_matches_the_reference() {
    let s = scenario(false);
    let a = &s.a;
    let sub = a.join("sub");
    for dir in [a.as_path(), sub.as_path()] {
        same_plain(dir, &["find"], None);
        same_json(dir, &["find", "--json"], None, &[]);
        same_plain(dir, &["find", "--print0"], None);
    }
    same_plain(&sub, &["find", ".."], None);
    same_json(&sub, &["find", "--json", "..", "deep"], None, &[]);
    for args in [
        &["find", "--in", "b"][..],
        &["find", "--in", "here"],
        &["find", "--in", "repo C"],
        &["find", "--in", "d"],
        &["find", "--in", "t", "--in", "b"],
        &["find", "--copies", "2"],
        &["find", "--copies", "3"],
        &["find", "--copies", "untrusted:1"],
        &["find", "--copies", "semitrusted+:2"],
    ] {
        same_plain(a, args, None);
    }
    let t_uuid = git(a, &["config", "remote.t.annex-uuid"]);
    same_plain(a, &["find", "--in", t_uuid.trim()], None);
    same_json(a, &["find", "--json", "--in", "b"], None, &[]);
    same_plain(
        a,
        &[
            "find",
            "--in",
            "b",
            "--format",
            "${file}|${key}|${backend}|${bytesize}|${humansize}|${keyname}|${hashdirlower}|${hashdirmixed}|${mtime}|${escaped_file}|${objectpath}\\n",
        ],
        None,
    );
    same_plain(
        a,
        &["find", "--format", "${file;10}|${key;-5}\\t\\\\\\n"],
        None,
    );
    same_plain(a, &["find", "nonexistent", "f1"], None);
    same_plain(
        a,
        &["find", "--batch"],
        Some("f1\nnocopy\nnot-a-file\nsub/f2\nsub/ü file\n".as_bytes()),
    );
    same_plain(a, &["find", "--batch", "-z"], Some(b"f1\0absent\0"));
    same_json(
        a,
        &["find", "--batch", "--json"],
        Some(b"f1\nabsent\n"),
        &[],
    );
}

#[test]
fn info_matches_the_reference() {
    let s = scenario(false);
    let a = &s.a;
    // The free disk space changes as other processes write: compared in
    // form only (present in both, same shape).
    let disk = "available local disk space";
    let strip = |o: &Output| -> String {
        text(&o.stdout)
            .lines()
            .filter(|l| !l.starts_with(disk))
            .map(|l| format!("{l}\n"))
            .collect()
    };
    for args in [&["info"][..], &["info", "--bytes"], &["info", "--fast"]] {
        let (r, o) = both(a, args, None);
        assert_eq!(strip(&o), strip(&r), "{args:?}");
        assert_eq!(o.status.code(), r.status.code());
        let line = |x: &Output| {
            text(&x.stdout)
                .lines()
                .find(|l| l.starts_with(disk))
                .map(|l| l.split(' ').skip(5).collect::<Vec<_>>().join(" "))
        };
        assert_eq!(line(&o), line(&r), "the reserve part of {args:?}");
    }
    same_json(a, &["info", "--json"], None, &[disk]);
    same_json(a, &["info", "--json", "--bytes"], None, &[disk]);
    for item in [
        "f1",
        "absent",
        "u1",
        "sub",
        "sub/deep",
        ".",
        "b",
        "c",
        "t",
        "here",
        "repo B",
        "not-there",
    ] {
        same_plain(a, &["info", item], None);
        same_json(a, &["info", "--json", item], None, &[]);
    }
    let b_uuid = git(a, &["config", "remote.b.annex-uuid"]);
    same_plain(a, &["info", b_uuid.trim()], None);
    same_json(a, &["info", "--json", b_uuid.trim()], None, &[]);
    same_plain(a, &["info", "--bytes", "sub"], None);
    same_plain(&a.join("sub"), &["info", "f2", "deep", "../f1"], None);
    same_json(
        &a.join("sub"),
        &["info", "--json", "ü file", "."],
        None,
        &[],
    );
    same_plain(a, &["info", "--batch"], Some(b"f1\nsub\nb\n"));
}

#[test]
fn lookupkey_and_examinekey_match_the_reference() {
    let s = scenario(false);
    let a = &s.a;
    let sub = a.join("sub");
    same_plain(a, &["lookupkey", "f1", "u1", "absent", "sub/ü file"], None);
    same_plain(a, &["lookupkey", "f1", "not-a-file", "sub"], None);
    same_plain(&sub, &["lookupkey", "f2", "../f1", "deep/er/x.bin"], None);
    same_plain(
        a,
        &["lookupkey", "--batch"],
        Some(b"f1\nnot-a-file\nsub\nsub/f2\n"),
    );
    same_plain(a, &["lookupkey", "--batch", "-z"], Some(b"f1\0u1\0"));
    same_plain(&sub, &["lookupkey", "--batch"], Some(b"f2\n../f1\n"));
    same_plain(
        a,
        &[
            "lookupkey",
            "--ref",
            "HEAD:f1",
            "HEAD:u1",
            "HEAD:nothing",
            "main:sub/f2",
        ],
        None,
    );
    // An absolute path.
    let abs = a.join("f1");
    same_plain(
        &sub,
        &["lookupkey", abs.to_str().expect("utf-8 path")],
        None,
    );
    // examinekey --json of every key of the repository.
    let keys = annex(a, &["find", "--include", "*", "--format", "${key}\\n"]);
    assert!(keys.lines().count() >= 8, "{keys}");
    for k in keys.lines() {
        same_json(a, &["examinekey", "--json", k], None, &[]);
        same_json(&sub, &["examinekey", "--json", k], None, &[]);
    }
    let o = ours(a, &["lookupkey", "f1"]);
    assert!(o.status.success());
}

#[test]
fn bare_repository_matches_the_reference() {
    let s = scenario(false);
    let root = s.a.parent().expect("parent").to_path_buf();
    git(&root, &["clone", "-q", "--bare", "a", "bare.git"]);
    let bare = root.join("bare.git");
    annex(&bare, &["init", "-q", "bare"]);
    // No paths in a bare repository: every key.
    same_plain(&bare, &["whereis"], None);
    same_json(&bare, &["whereis", "--json"], None, &[]);
    let f1 = annex(&s.a, &["lookupkey", "f1"]);
    same_plain(&bare, &["whereis", "--key", f1.trim()], None);
    same_json(
        &bare,
        &["info", "--json"],
        None,
        &["available local disk space"],
    );
    for args in [&["find"][..], &["lookupkey", "f1"]] {
        let (r, o) = both(&bare, args, None);
        assert_eq!(o.status.code(), r.status.code(), "{args:?}");
        assert_eq!(o.stdout, r.stdout, "{args:?}");
        assert_eq!(
            stderr_shared(&o.stderr),
            stderr_shared(&r.stderr),
            "{args:?}"
        );
        assert!(text(&o.stderr).contains("You cannot run this command in a bare repository."));
    }
}

/// `find` over more files than one thread's block (it reads links and
/// checks content on several threads, then prints in order): 700 files in
/// 90 directories added by us, a third of their content removed, some
/// files deleted from the work tree, one unlocked; the reference's output
/// byte for byte (plain, `--json` field by field), from the top and from a
/// subdirectory, with and without paths. Then content comes and goes and
/// both see it.
#[test]
fn find_over_many_files_matches_the_reference() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = dir.path().join("a");
    std::fs::create_dir(&a).expect("mkdir");
    git(&a, &["init", "-q", "-b", "main"]);
    annex(&a, &["init", "-q", "many"]);
    for i in 0..700 {
        add_file(
            &a,
            &format!("d{}/e{}/f{i:03}.txt", i % 30, i % 3),
            &format!("content {i}\n"),
        );
    }
    let out = ours(&a, &["add", "--quiet", "."]);
    assert!(out.status.success(), "add: {}", text(&out.stderr));
    git(&a, &["commit", "-q", "-m", "many"]);
    annex(&a, &["unlock", "-q", "d1/e1/f001.txt"]);
    let mut gone = Vec::new();
    for i in (0..700).step_by(3) {
        let f = a.join(format!("d{}/e{}/f{i:03}.txt", i % 30, i % 3));
        let Ok(target) = std::fs::read_link(&f) else {
            continue;
        };
        let obj = f.parent().expect("parent").join(target);
        let keydir = obj.parent().expect("key dir").to_path_buf();
        set_writable(&keydir);
        std::fs::remove_file(&obj).expect("rm object");
        gone.push(obj);
    }
    for i in (1..700).step_by(50) {
        let f = a.join(format!("d{}/e{}/f{i:03}.txt", i % 30, i % 3));
        std::fs::remove_file(f).expect("rm file");
    }
    let d5 = a.join("d5");
    for d in [a.as_path(), d5.as_path()] {
        same_plain(d, &["find"], None);
        same_json(d, &["find", "--json"], None, &[]);
    }
    same_plain(&d5, &["find", "..", "e0"], None);
    same_plain(&a, &["find", "d7", "d2/e2", "nosuch", "d7/e1"], None);
    // Content back for some, away for others: no answer is kept.
    for obj in gone.iter().take(20) {
        std::fs::write(obj, b"back").expect("restore");
    }
    let f = a.join("d3/e0/f003.txt");
    let obj = f
        .parent()
        .expect("parent")
        .join(std::fs::read_link(&f).expect("link"));
    set_writable(obj.parent().expect("key dir"));
    std::fs::remove_file(&obj).expect("rm object");
    same_plain(&a, &["find"], None);
    same_json(&a, &["find", "--json"], None, &[]);
}

/// Makes a directory writable (git-annex write-protects object directories).
fn set_writable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::metadata(p) {
        let mut perm = m.permissions();
        perm.set_mode(perm.mode() | 0o700);
        let _ = std::fs::set_permissions(p, perm);
    }
}
