//! `--size-limit` against the reference: keys are acted on while their
//! sizes fit in what is left, the others skipped, and the command then
//! exits with code 101, as git-annex's.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{ours, support};

/// An origin with files of 1000, 2000 and 3000 bytes and a 500-byte one,
/// and a clone with none of their content.
fn pair() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let o = crate::pair::origin_in(dir.path());
    for (f, n) in [("f1", 1000), ("f2", 2000), ("f3", 3000), ("f4", 500)] {
        fs::write(o.join(f), f.repeat(n / 2)).unwrap();
    }
    support::annex(&o, &["add", "-q", "."]);
    support::git(&o, &["commit", "-q", "-m", "files"]);
    support::git(dir.path(), &["clone", "-q", "o", "c"]);
    let c = dir.path().join("c");
    support::git(
        &c,
        &[
            "config",
            "annex.uuid",
            "22222222-0000-4000-8000-000000000002",
        ],
    );
    support::annex(&c, &["init", "-q", "clone"]);
    (dir, c)
}

fn present(c: &Path) -> String {
    support::annex(c, &["find"])
}

#[test]
fn size_limit_acts_on_what_fits_and_exits_101_as_the_reference() {
    let cases: &[(&[&[&str]], &[&str])] = &[
        (&[], &["get", "--size-limit", "2500", "."]),
        (&[], &["get", "--size-limit=1kb", "--json"]),
        (&[], &["get", "--size-limit", "100000"]),
        (
            &[&["get", "-q", "."]],
            &["drop", "--force", "--size-limit", "3500"],
        ),
        (
            &[],
            &["copy", "--from", "origin", "--size-limit", "1", "f4"],
        ),
        (
            &[&["get", "-q", "f1", "f2"]],
            &["mirror", "--from", "origin", "--size-limit", "3000"],
        ),
        (&[], &["get", "--size-limit", "lots"]),
        (&[], &["fsck", "--size-limit", "1"]),
        // The listings count what they show, as the reference's.
        (
            &[&["get", "-q", "f2", "f4"]],
            &["find", "--size-limit", "2200"],
        ),
        (
            &[],
            &["find", "--in", "origin", "--size-limit", "3000", "--json"],
        ),
        (&[], &["findkeys", "--in", "origin", "--size-limit", "2000"]),
        (&[], &["findref", "HEAD", "--size-limit", "2000"]),
        (&[], &["whereis", "--size-limit", "3500"]),
        (&[], &["whereis", "--json", "--size-limit", "0"]),
        // Commands that change files count the files they act on.
        (&[&["get", "-q", "."]], &["unlock", "--size-limit", "2500"]),
        (
            &[&["get", "-q", "."], &["unlock", "-q", "."]],
            &["lock", "--size-limit", "4000", "--json"],
        ),
        (
            &[],
            &[
                "metadata",
                "-s",
                "a=b",
                "f1",
                "f2",
                "f3",
                "--size-limit",
                "3000",
            ],
        ),
        (&[&["get", "-q", "."]], &["unannex", "--size-limit", "1500"]),
        (
            &[&["get", "-q", "."]],
            &["migrate", "--backend", "MD5E", "--size-limit", "3000"],
        ),
        // Taken and ignored, as by the reference.
        (&[], &["list", "--size-limit", "1"]),
        (&[], &["info", "--fast", "--size-limit", "1", "f1"]),
    ];
    for (setup, args) in cases {
        let (_a, ca) = pair();
        let (_b, cb) = pair();
        for s in *setup {
            support::annex(&ca, s);
            support::annex(&cb, s);
        }
        let theirs = support::annex_output(&ca, args, None);
        let mine = ours(&cb, args);
        if args[0] == "fsck" {
            // Not honoured by fsck here: refused rather than ignored.
            assert_eq!(mine.status.code(), Some(1), "{args:?}");
            continue;
        }
        // `metadata` shows when it set a field: the two runs may fall in
        // different seconds.
        assert_eq!(
            mask_times(&crate::transfer::strip_meter(&String::from_utf8_lossy(
                &mine.stdout
            ))),
            mask_times(&crate::transfer::strip_meter(&String::from_utf8_lossy(
                &theirs.stdout
            ))),
            "{args:?}: stdout; stderr ours {}",
            String::from_utf8_lossy(&mine.stderr)
        );
        assert_eq!(mine.status.code(), theirs.status.code(), "{args:?}: code");
        assert_eq!(present(&cb), present(&ca), "{args:?}: content");
        assert_eq!(
            support::git(&cb, &["status", "--porcelain"]),
            support::git(&ca, &["status", "--porcelain"]),
            "{args:?}: work tree"
        );
    }
}

/// `s` with each metadata time (`YYYY-MM-DD@HH-MM-SS`) replaced by `TIME`.
fn mask_times(s: &str) -> String {
    let is_time = |w: &[u8]| {
        w.iter().enumerate().all(|(k, &c)| match k {
            4 | 7 | 13 | 16 => c == b'-',
            10 => c == b'@',
            _ => c.is_ascii_digit(),
        })
    };
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(c) = s[i..].chars().next() {
        if b.len() - i >= 19 && is_time(&b[i..i + 19]) {
            out.push_str("TIME");
            i += 19;
        } else {
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Regression: the `metadata` case compared the times it printed, and
/// failed when our run and the reference's fell in different seconds.
#[test]
fn size_limit_metadata_times_are_compared_masked() {
    assert_eq!(
        mask_times("  a-lastchanged=2026-12-07@11-55-51\n"),
        mask_times("  a-lastchanged=2026-12-07@11-55-50\n")
    );
    assert_eq!(mask_times("é 2026-12-07@11-55-51x"), "é TIMEx");
    assert_ne!(mask_times("a=1"), mask_times("a=2"));
}
