//! `calckey`, checked by the reference git-annex: the same keys, lines and
//! exit codes for a generated corpus, several backends, git config and the
//! failures.

use std::path::Path;
use std::process::{Command, Output};

use crate::support;

/// Our stdout and exit code, then the reference's, for the same command.
fn both(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> [(String, Option<i32>); 2] {
    let text = |o: Output| {
        (
            String::from_utf8_lossy(&o.stdout).into_owned(),
            o.status.code(),
        )
    };
    let ours = text(crate::ours_with(dir, args, stdin));
    let theirs = text(support::annex_output(dir, args, stdin));
    [ours, theirs]
}

fn assert_same(dir: &Path, args: &[&str], stdin: Option<&[u8]>) -> String {
    let [ours, theirs] = both(dir, args, stdin);
    assert_eq!(ours, theirs, "calckey {args:?}");
    ours.0
}

/// Writes a few hundred files with varied names and sizes into `dir` (some
/// in a subdirectory) and returns their names relative to `dir`.
fn corpus(dir: &Path) -> Vec<String> {
    let stems = [
        "plain",
        "a.b.c.d",
        ".hidden",
        "..two",
        "noext",
        "tar.gz.bak",
        "é·ü",
        "日本語.テキスト",
        "space here.txt",
        "x.toolongextension123",
        "trailing.",
        "UPPER.JPEG",
        "a,b.c",
        "weird.ext€",
        "1.2.3.4.5.6",
    ];
    std::fs::create_dir_all(dir.join("sub dir")).expect("mkdir");
    let mut rng = support::Rng(0x5eed_ca1c_0de5);
    let mut names = Vec::new();
    for i in 0..300 {
        let stem = rng.pick(&stems);
        let name = if i % 5 == 0 {
            format!("sub dir/{i}{stem}")
        } else {
            format!("{i}{stem}")
        };
        let size = match rng.below(10) {
            0 => 0,
            1 => (1 << 20) + rng.below(4096),
            2 => rng.below(200_000),
            _ => rng.below(5000),
        };
        let content: Vec<u8> = (0..size).map(|_| rng.next() as u8).collect();
        std::fs::write(dir.join(&name), content).expect("write file");
        names.push(name);
    }
    names
}

#[test]
fn calckey_corpus_matches_the_reference_for_several_backends() {
    let repo = support::new_git_repo();
    let dir = repo.path();
    let names = corpus(dir);
    let batch: String = names.iter().map(|n| format!("{n}\n")).collect();
    let batch_z: String = names.iter().map(|n| format!("{n}\0")).collect();
    for backend in [
        None,
        Some("SHA1"),
        Some("MD5E"),
        Some("WORM"),
        Some("SHA512E"),
    ] {
        let flag = backend.map(|b| format!("--backend={b}"));
        let mut args = vec!["calckey"];
        args.extend(flag.as_deref());
        let mut plain = args.clone();
        plain.extend(names.iter().map(String::as_str));
        let out = assert_same(dir, &plain, None);
        assert_eq!(out.lines().count(), names.len());
        let mut with_batch = args.clone();
        with_batch.push("--batch");
        assert_eq!(assert_same(dir, &with_batch, Some(batch.as_bytes())), out);
        with_batch.push("-z");
        assert_eq!(assert_same(dir, &with_batch, Some(batch_z.as_bytes())), out);
    }
    // From a subdirectory, names relative to it (WORM records the path
    // from the top).
    let sub = dir.join("sub dir");
    let in_sub: Vec<String> = names
        .iter()
        .filter_map(|n| n.strip_prefix("sub dir/").map(str::to_string))
        .collect();
    for backend in ["--backend=WORM", "--backend=SHA256E"] {
        let mut args = vec!["calckey", backend];
        args.extend(in_sub.iter().map(String::as_str));
        assert_same(&sub, &args, None);
        let up: Vec<String> = names.iter().take(20).map(|n| format!("../{n}")).collect();
        let mut args = vec!["calckey", backend];
        args.extend(up.iter().map(String::as_str));
        assert_same(&sub, &args, None);
    }
}

#[test]
fn calckey_takes_its_defaults_from_git_config_and_dash_c() {
    let repo = support::new_git_repo();
    let dir = repo.path();
    std::fs::write(dir.join("a.b.c.d.e"), "some content").expect("write");
    std::fs::write(dir.join("x.verylongextensionpart"), "more").expect("write");
    let files = ["calckey", "a.b.c.d.e", "x.verylongextensionpart"];
    assert_same(dir, &files, None);
    support::git(dir, &["config", "annex.backend", "SHA1E"]);
    support::git(dir, &["config", "annex.maxextensions", "3"]);
    support::git(dir, &["config", "annex.maxextensionlength", "20"]);
    // .gitattributes does not change calckey's backend.
    std::fs::write(dir.join(".gitattributes"), "* annex.backend=MD5\n").expect("write");
    let out = assert_same(dir, &files, None);
    assert!(out.starts_with("SHA1E-"), "{out}");
    for c in [
        "annex.backend=MD5E",
        "annex.maxextensions=1",
        "annex.maxextensionlength=2",
        "annex.maxextensionlength=-1",
        "annex.maxextensions=-2",
        "annex.maxextensions=abc",
        "annex.backend=",
    ] {
        let mut args = vec!["calckey", "-c", c];
        args.extend(&files[1..]);
        assert_same(dir, &args, None);
    }
    assert_same(dir, &["calckey", "--backend=SHA224", "a.b.c.d.e"], None);
}

#[test]
fn calckey_failures_match_the_reference() {
    let repo = support::new_git_repo();
    let dir = repo.path();
    std::fs::write(dir.join("f.txt"), "hi\n").expect("write");
    std::fs::create_dir(dir.join("d")).expect("mkdir");
    for args in [
        &["calckey"][..],
        &["calckey", "missing"],
        &["calckey", "missing", "f.txt"],
        &["calckey", "f.txt", "missing", "f.txt"],
        &["calckey", "d", "f.txt"],
        &["calckey", "--backend=NOPE", "f.txt"],
        &["calckey", "--batch", "f.txt"],
    ] {
        assert_same(dir, args, None);
    }
    let input = b"f.txt\nmissing\nd\n\nf.txt\n";
    assert_same(dir, &["calckey", "--batch"], Some(input));
    assert_same(dir, &["calckey", "--batch", "--backend=NOPE"], Some(input));
    support::git(dir, &["config", "annex.backend", "NOPE"]);
    assert_same(dir, &["calckey", "f.txt"], None);

    // From inside .git, WORM names are relative to the git dir.
    let git_dir = dir.join(".git");
    for args in [
        &["calckey", "--backend=WORM", "config", "../f.txt"][..],
        &["calckey", "--backend=WORM", "../d/../f.txt"],
    ] {
        assert_same(&git_dir, args, None);
        assert_same(&git_dir.join("hooks"), args, None);
    }

    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(outside.path().join("f"), "x").expect("write");
    let [ours, theirs] = both(outside.path(), &["calckey", "f"], None);
    assert_eq!(ours, theirs);
    assert_eq!(ours.1, Some(1));
}

/// Names that are not UTF-8 go into keys byte for byte, as the reference
/// writes them.
#[test]
fn calckey_non_utf8_names_match_the_reference_byte_for_byte() {
    use std::os::unix::ffi::OsStrExt;
    let repo = support::new_git_repo();
    let dir = repo.path();
    let names: [&[u8]; 4] = [
        b"bad\xff.t\xe9x",
        b"z.\xc3\xa9t\xff",
        b"\xfe\xfd",
        b"ok.\xff",
    ];
    let mut input = Vec::new();
    for (i, n) in names.iter().enumerate() {
        std::fs::write(dir.join(std::ffi::OsStr::from_bytes(n)), [i as u8; 7]).expect("write");
        input.extend_from_slice(n);
        input.push(0);
    }
    for backend in ["--backend=WORM", "--backend=SHA256E", "--backend=MD5"] {
        let args = ["calckey", backend, "--batch", "-z"];
        let ours = crate::ours_with(dir, &args, Some(&input));
        let theirs = support::annex_output(dir, &args, Some(&input));
        assert_eq!(ours.stdout, theirs.stdout, "{backend}");
        assert_eq!(ours.status.code(), theirs.status.code(), "{backend}");
    }
}

/// With `GIT_DIR`, git config comes from that repository and WORM names are
/// relative to the current directory (a work tree) or the git dir (bare).
#[test]
fn calckey_honours_git_dir_as_the_reference() {
    let outer = tempfile::tempdir().expect("temp dir");
    let top = outer.path();
    let repo = top.join("r");
    std::fs::create_dir_all(repo.join("sub")).expect("mkdir");
    support::git(&repo, &["init", "-q"]);
    support::git(&repo, &["config", "annex.backend", "MD5"]);
    std::fs::write(repo.join("a.txt"), "a\n").expect("write");
    support::git(top, &["init", "-q", "--bare", "b.git"]);
    let abs = repo.join(".git");
    let cases: [(&Path, &str, &[&str]); 5] = [
        (
            &repo.join("sub"),
            "../.git",
            &["--backend=WORM", "../a.txt"],
        ),
        (top, "b.git", &["--backend=WORM", "r/a.txt"]),
        (top, "r/.git", &["r/a.txt"]),
        (top, abs.to_str().expect("utf-8"), &["r/a.txt"]),
        (top, "missing", &["r/a.txt"]),
    ];
    for (dir, git_dir, args) in cases {
        let run = |program: &Path| {
            let mut cmd = Command::new(program);
            support::hermetic(&mut cmd)
                .current_dir(dir)
                .env("GIT_DIR", git_dir)
                .arg("calckey")
                .args(args);
            let out = cmd.output().expect("run calckey");
            (out.stdout, out.status.code())
        };
        assert_eq!(
            run(Path::new(env!("CARGO_BIN_EXE_git-annex-rs"))),
            run(support::reference_git_annex()),
            "GIT_DIR={git_dir} {args:?}"
        );
    }
}
