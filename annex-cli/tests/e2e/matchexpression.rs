//! End-to-end tests: `matchexpression`, case by case against the reference
//! (exit code, stdout with `--explain`, stderr) over a repository the
//! reference set up.

use std::path::Path;

use crate::ours;
use crate::support::{self, Rng, annex, annex_output};

const EXPRS: &[&str] = &[
    "include=*.png and largerthan=1mb",
    "include=*",
    "exclude=*.txt",
    "include=a/*",
    "bogus and copies=x",
    "nothing and include=*",
    "copies=1",
    "copies=2",
    "copies=grpa:1",
    "copies=trusted:1",
    "lackingcopies=1",
    "approxlackingcopies=1",
    "largerthan=5",
    "smallerthan=5",
    "smallerthan=1kb or include=*.mp3",
    "present",
    "not present",
    "not copies=1",
    "inbackend=SHA256E",
    "securehash",
    "metadata=tag=a",
    "metadata=n>3",
    "url=*example*",
    "inallgroup=grpa",
    "onlyingroup=grpa",
    "inpreferreddir",
    "standard",
    "groupwanted",
    "unused",
    "anything",
    "balanced=grpa",
    "fullybalanced=grpa:2",
    "include=*.mp3 or (copies=1 and not metadata=tag=b)",
    "( include=* or",
    "include=[abc",
    "mimetype=text/*",
    "mimeencoding=binary",
    "largerthan=1kb and mimetype=image/*",
    "",
];

const FILES: &[Option<&str>] = &[None, Some("foo.png"), Some("a/b.mp3"), Some("public/x.txt")];
const KEYS: &[Option<&str>] = &[
    None,
    Some("SHA256E-s2000000--aaaa.png"),
    Some("MD5-s10--bbbb"),
    Some("WORM--nosize"),
];
const SIZES: &[Option<&str>] = &[None, Some("10mb"), Some("3"), Some("2 KiB")];
const MIMES: &[Option<&str>] = &[None, Some("text/plain"), Some("image/png")];

fn setup() -> tempfile::TempDir {
    let dir = support::new_git_repo();
    let d = dir.path();
    annex(d, &["init", "-q", "here"]);
    annex(d, &["group", "here", "grpa"]);
    annex(d, &["group", "here", "client"]);
    annex(d, &["numcopies", "2"]);
    let input = "SHA256E-s2000000--aaaa.png 00000000-0000-0000-0000-000000000001 1\n\
                 MD5-s10--bbbb 00000000-0000-0000-0000-000000000001 1\n";
    let here = support::git(d, &["config", "annex.uuid"]);
    let input = format!("{input}MD5-s10--bbbb {} 1\n", here.trim());
    let out = annex_output(d, &["setpresentkey", "--batch"], Some(input.as_bytes()));
    assert!(out.status.success(), "{out:?}");
    let meta = "{\"key\":\"MD5-s10--bbbb\",\"fields\":{\"tag\":[\"a\"],\"n\":[\"5\"]}}\n";
    let out = annex_output(d, &["metadata", "--batch", "--json"], Some(meta.as_bytes()));
    assert!(out.status.success(), "{out:?}");
    dir
}

fn compare(d: &Path, args: &[String]) -> Option<String> {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let theirs = annex_output(d, &a, None);
    let mine = ours(d, &a);
    let code = |o: &std::process::Output| o.status.code();
    // The reference says "(calculating repository sizes...)" the first
    // time a balancing term makes it compute them; we keep no sizes here.
    let text = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .replace("git-annex-rs:", "git-annex:")
            .replace("(calculating repository sizes...)\n", "")
    };
    if code(&theirs) != code(&mine)
        || text(&theirs.stdout) != text(&mine.stdout)
        || text(&theirs.stderr).lines().next() != text(&mine.stderr).lines().next()
    {
        return Some(format!(
            "{args:?}\n  reference: {:?} {:?} {:?}\n  ours:      {:?} {:?} {:?}",
            code(&theirs),
            text(&theirs.stdout),
            text(&theirs.stderr).lines().next(),
            code(&mine),
            text(&mine.stdout),
            text(&mine.stderr).lines().next()
        ));
    }
    None
}

#[test]
fn matchexpression_agrees_with_reference() {
    let dir = setup();
    let d = dir.path();
    let mut rng = Rng(0x5eed_1234);
    let mut failures = Vec::new();
    let mut cases = Vec::new();
    // Every expression once with everything provided, once with nothing,
    // plus random combinations.
    for e in EXPRS {
        cases.push(vec![
            "matchexpression".to_owned(),
            (*e).to_owned(),
            "--file=a/b.mp3".to_owned(),
            "--key=MD5-s10--bbbb".to_owned(),
            "--mimetype=text/plain".to_owned(),
            "--mimeencoding=us-ascii".to_owned(),
            "--explain".to_owned(),
        ]);
        cases.push(vec!["matchexpression".to_owned(), (*e).to_owned()]);
    }
    for _ in 0..60 {
        let mut args = vec!["matchexpression".to_owned(), rng.pick(EXPRS).to_owned()];
        if rng.below(3) == 0 {
            args.push("--largefiles".to_owned());
        }
        if let Some(f) = rng.pick(FILES) {
            args.push(format!("--file={f}"));
        }
        if let Some(k) = rng.pick(KEYS) {
            args.push(format!("--key={k}"));
        }
        if let Some(s) = rng.pick(SIZES) {
            args.push(format!("--size={s}"));
        }
        if let Some(m) = rng.pick(MIMES) {
            args.push(format!("--mimetype={m}"));
        }
        if rng.below(2) == 0 {
            args.push("--explain".to_owned());
        }
        cases.push(args);
    }
    for args in &cases {
        if let Some(f) = compare(d, args) {
            failures.push(f);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn matchexpression_outside_a_repository_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let theirs = annex_output(dir.path(), &["matchexpression", "anything"], None);
    let mine = ours(dir.path(), &["matchexpression", "anything"]);
    assert_eq!(theirs.status.code(), Some(1));
    assert_eq!(mine.status.code(), Some(1));
}

/// Glob corner cases (brackets as the reference's regex engine reads them,
/// ASCII-only POSIX classes, `/` runs, Unicode characters) and the
/// case-insensitive metadata globs, against the reference.
#[test]
fn globs_agree_with_reference() {
    let dir = setup();
    let d = dir.path();
    let cases: &[(&str, &str)] = &[
        ("a[[:space:]]b", "a b"),
        ("a[[:space:]]b", "a\\b"),
        ("a[[:space:]]b", "axb"),
        ("[]a]", "]"),
        ("[]a]", "\\"),
        ("[!]a]", "b"),
        ("[!]a]", "a"),
        ("[a-c]x", "bx"),
        ("[!a-c]x", "dx"),
        ("a/b", "a//b"),
        ("a/b", "a/./b"),
        ("a\\b", "a\\b"),
        ("a.b", "axb"),
        ("a(b", "a(b"),
        ("x*y", "x/z/y"),
        ("*.MP3", "a.mp3"),
        ("[[:alpha:]]", "\u{e9}"),
        ("[[:alpha:]]", "a"),
        ("[[:upper:]]", "\u{c9}"),
        ("[[:punct:]]", "!"),
        ("?", "\u{e9}"),
        ("??", "\u{e9}"),
        ("[\u{e0}-\u{ea}]", "\u{e9}"),
        ("a?c", "a/c"),
        ("[.]", "."),
        ("[^a]", "b"),
        ("[^a]", "a"),
        ("[a-]", "-"),
        ("[\\]", "\\"),
        ("\\[", "["),
        ("f[0-9][0-9]", "f12"),
        ("[abc", "a"),
        ("[[:nope:]]", "a"),
    ];
    let mut failures = Vec::new();
    for (g, f) in cases {
        let args = vec![
            "matchexpression".to_owned(),
            format!("include={g}"),
            format!("--file={f}"),
        ];
        if let Some(e) = compare(d, &args) {
            failures.push(e);
        }
    }
    for m in [
        "metadata=tag=A",
        "metadata=tag=[A-B]",
        "metadata=TAG=a",
        "metadata=n>=5",
        "metadata=n<5.0",
    ] {
        let args = vec![
            "matchexpression".to_owned(),
            m.to_owned(),
            "--key=MD5-s10--bbbb".to_owned(),
        ];
        if let Some(e) = compare(d, &args) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
