//! `examinekey`, checked by the reference git-annex: a generated corpus of
//! keys through `--json`, `--format` and the default output, in batch mode
//! and not, in non-bare and bare repositories; bad keys.

use std::path::Path;
use std::process::Output;

use crate::support::{self, Rng};

/// Both sides' stdout and exit code for the same arguments and input.
fn both(dir: &Path, args: &[&str], stdin: &[u8]) -> (Output, Output) {
    let mut full = vec!["examinekey"];
    full.extend_from_slice(args);
    let ours = crate::ours_with(dir, &full, Some(stdin));
    let theirs = support::annex_output(dir, &full, Some(stdin));
    (ours, theirs)
}

fn assert_same(dir: &Path, args: &[&str], stdin: &[u8]) {
    let (o, t) = both(dir, args, stdin);
    assert_eq!(
        o.status.code(),
        t.status.code(),
        "{args:?}: exit codes; ours said {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&t.stdout),
        "{args:?}"
    );
    assert_eq!(o.stdout, t.stdout, "{args:?}");
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("panicked"),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Sizes across every magnitude, with the rounding edges of `humansize`.
fn sizes(rng: &mut Rng) -> Vec<u64> {
    let mut v = vec![
        0,
        1,
        9,
        10,
        999,
        1000,
        1001,
        1004,
        1005,
        1006,
        1015,
        1025,
        1049,
        1050,
        1994,
        1995,
        1996,
        9_995,
        99_995,
        994_999,
        995_000,
        999_499,
        999_500,
        999_999,
        1_000_000,
        1_048_576,
        1_073_741_824,
        999_999_999_999,
        1_000_000_000_000,
        1_125_899_906_842_624,
        999_999_999_999_999_999,
        1_000_000_000_000_000_000,
        u64::MAX,
    ];
    for _ in 0..150 {
        let bits = rng.below(64) as u32;
        v.push(rng.next() >> bits);
    }
    v
}

/// Keys of many backends, with names holding `/ % & :`, unicode, chunk
/// and mtime fields; no space or newline (batch mode splits on them).
fn corpus() -> Vec<String> {
    let mut rng = Rng(0x005e_ede4_a11e_u64);
    let backends = [
        "SHA256E",
        "SHA256",
        "SHA1",
        "MD5E",
        "MD5",
        "SHA512E",
        "BLAKE3_256E",
        "SHA3_256",
        "WORM",
        "URL",
        "VURL",
        "XFOOE",
    ];
    let pieces = [
        "a", "Z", "0", ".", "-", "_", "/", "%", "&", ":", "&a", "%%", "//", "é", "日本", "+", "=",
        "~", ",", "#", "?", "http://", "&s", "&c", ".tar.gz", "'", "\"", "\\",
    ];
    let mut keys = Vec::new();
    for size in sizes(&mut rng) {
        let backend: &str = rng.pick(&backends);
        let mut s = format!("{backend}-s{size}");
        if backend == "WORM" || rng.below(8) == 0 {
            s.push_str(&format!("-m{}", rng.next() % 2_000_000_000));
        }
        if rng.below(4) == 0 {
            s.push_str(&format!(
                "-S{}-C{}",
                1 + rng.next() % 1_000_000,
                1 + rng.below(50)
            ));
        }
        s.push_str("--");
        for _ in 0..1 + rng.below(10) {
            s.push_str(rng.pick(&pieces));
        }
        keys.push(s);
    }
    // Keys without a size.
    for i in 0..40 {
        let backend: &str = rng.pick(&backends);
        keys.push(format!("{backend}--n{i}{}", rng.pick(&pieces)));
    }
    keys
}

fn lines(keys: &[String], sep: u8) -> Vec<u8> {
    let mut input = Vec::new();
    for k in keys {
        input.extend_from_slice(k.as_bytes());
        input.push(sep);
    }
    input
}

const EVERY_VAR: &str = "${key}|${backend}|${bytesize}|${humansize}|${keyname}|\
${hashdirlower}|${hashdirmixed}|${mtime}|${objectpath}|${objectpointer}|${file}|\
${escaped_keyname}|${humansize;10}|${bytesize;-22}|${keyname;30}\\n";

fn check_repo(dir: &Path) {
    let keys = corpus();
    let input = lines(&keys, b'\n');

    // --json, compared field by field and then byte for byte.
    let (o, t) = both(dir, &["--json", "--batch"], &input);
    assert_eq!(o.status.code(), t.status.code());
    let parse = |b: &[u8]| -> Vec<serde_json::Value> {
        String::from_utf8_lossy(b)
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect()
    };
    let (ov, tv) = (parse(&o.stdout), parse(&t.stdout));
    assert_eq!(ov.len(), keys.len());
    assert_eq!(tv.len(), keys.len());
    for ((k, a), b) in keys.iter().zip(&ov).zip(&tv) {
        let (a, b) = (
            a.as_object().expect("record"),
            b.as_object().expect("record"),
        );
        let names: Vec<_> = a.keys().collect();
        assert_eq!(names, b.keys().collect::<Vec<_>>(), "{k}: field names");
        for name in names {
            assert_eq!(a[name], b[name], "{k}: field {name}");
        }
    }
    assert_eq!(o.stdout, t.stdout);

    // Every variable, plain and padded and escaped, with and without a file.
    let fmt = format!("--format={EVERY_VAR}");
    assert_same(dir, &[&fmt, "--batch"], &input);
    let with_files: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| format!("{k} dir/f{i}é.txt"))
        .collect();
    assert_same(dir, &[&fmt, "--batch"], &lines(&with_files, b'\n'));
    assert_same(dir, &["--json", "--batch"], &lines(&with_files, b'\n'));

    // The default output, newline- and NUL-separated input.
    assert_same(dir, &["--batch"], &input);
    assert_same(dir, &["--batch", "-z"], &lines(&keys, 0));

    // Keys as arguments, with --filename.
    let some: Vec<&str> = keys.iter().take(30).map(String::as_str).collect();
    let mut args = vec!["--json", "--filename=some/file.tar.gz"];
    args.extend(&some);
    assert_same(dir, &args, b"");
    let mut args = vec![fmt.as_str()];
    args.extend(&some);
    assert_same(dir, &args, b"");
}

#[test]
fn corpus_matches_the_reference_in_a_non_bare_repository() {
    let repo = support::new_git_repo();
    support::annex(repo.path(), &["init", "-q"]);
    check_repo(repo.path());
    // From a subdirectory the object path is relative to it.
    // Inside .git, from the top of the work tree.
    assert_same(
        &repo.path().join(".git/annex"),
        &["--format=${objectpath}\\n", "SHA256E-s10--x.txt"],
        b"",
    );
    let sub = repo.path().join("a/b");
    std::fs::create_dir_all(&sub).expect("mkdir");
    assert_same(
        &sub,
        &["--format=${objectpath}\\n", "SHA256E-s10--x.txt", "MD5--y"],
        b"",
    );
}

#[test]
fn corpus_matches_the_reference_in_a_bare_repository() {
    let dir = tempfile::tempdir().expect("temp dir");
    support::git(dir.path(), &["init", "-q", "--bare", "b.git"]);
    let bare = dir.path().join("b.git");
    support::annex(&bare, &["init", "-q"]);
    check_repo(&bare);
}

#[test]
fn formats_parse_as_the_reference_parses_them() {
    let repo = support::new_git_repo();
    let formats = [
        "",
        "plain",
        "${key}",
        "${key",
        "${key;5",
        "${ke y}\\n",
        "${a$b}{c}",
        "$${key}$",
        "${}|${;3}|${nope}\\n",
        "${key;40}|${key;-40}|${key;3}|${key;0}|${key;-0}\\n",
        "${key; 12}|${key;-x}|${key;7abc}|${key;1.5}|${key;1e2}|${key;- 9}\\n",
        "${escaped_key}|${escaped_keyname;20}|${escaped_nope}|${escaped_}\\n",
        "\\x41\\101\\t\\a\\b\\f\\r\\v\\\\\\\"\\q\\x4\\12\\xff\\377\\000end",
        // (A format ending in one `\\` makes the reference loop forever.)
        "${keyname}\\0",
        "é${keyname;12}ü${keyname;-12}|\\n",
    ];
    let keys = [
        "MD5-s1234--a\"é\tb",
        "SHA256E-s0--日本.txt",
        "WORM-s5-m99--x%y&z:w",
    ];
    for f in formats {
        let fmt = format!("--format={f}");
        let mut args = vec![fmt.as_str()];
        args.extend(keys);
        assert_same(repo.path(), &args, b"");
        // Bytes that are not UTF-8 pass through (lossily in JSON, as git-annex).
        assert_same(repo.path(), &[&fmt, "--batch"], b"MD5-s5--a\xffb\xe9\n");
    }
    for args in [&["--batch"][..], &["--batch", "--json"]] {
        assert_same(repo.path(), args, b"MD5-s5--a\xffb\xe9\n");
    }
}

#[test]
fn bad_keys_fail_as_the_reference_fails() {
    let repo = support::new_git_repo();
    for bad in [
        "",
        "bad",
        "MD5",
        "MD5-",
        "MD5-sx--a",
        "MD5-s1-m--a",
        "--",
        "MD5-S1--x",
    ] {
        assert_same(repo.path(), &[bad], b"");
        assert_same(repo.path(), &["--json", bad], b"");
        assert_same(repo.path(), &["MD5--ok", bad, "MD5--after"], b"");
    }
    // Batch mode stops at the first bad key.
    assert_same(
        repo.path(),
        &["--batch", "--json"],
        b"MD5--a\nnot a key\nMD5--b\n",
    );
    assert_same(repo.path(), &["--batch"], b"MD5--a\n\nMD5--b\n");
    assert_same(repo.path(), &["--batch", "-z"], b"MD5--a\0bad\0MD5--b\0");
    assert_same(repo.path(), &["--batch"], b"MD5--a\n-s1--x\nMD5--b\n");
    assert_same(repo.path(), &[], b"");
}

#[test]
fn outside_a_repository_fails_as_the_reference_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    for args in [
        &["MD5--a"][..],
        &["--json", "MD5--a"],
        &["--format=${key}", "bad"],
    ] {
        assert_same(dir.path(), args, b"");
    }
}
