//! `mimetype=`/`mimeencoding=` through libmagic, against the reference
//! (built with MagicMime): `annex.largefiles` in `add`, and the matching
//! options `--mimetype`/`--mimeencoding`, on identical repositories.

use std::fs;
use std::path::Path;

use crate::{ours, support};

/// A repository initialized by the reference with files libmagic tells
/// apart: ASCII and UTF-8 text, a shell script, binary data, an empty file.
fn tree() -> tempfile::TempDir {
    let dir = support::new_git_repo();
    let p = dir.path();
    support::annex(p, &["init", "-q"]);
    fs::create_dir_all(p.join("sub")).unwrap();
    fs::write(p.join("file.txt"), "some text").unwrap();
    fs::write(p.join("file2.txt"), "some text to go to annex").unwrap();
    fs::write(p.join("sub/utf8.txt"), "h\u{e9}t\u{e9}rog\u{e8}ne\n").unwrap();
    fs::write(p.join("sub/run.sh"), "#!/bin/sh\necho hello\n").unwrap();
    fs::write(
        p.join("data.bin"),
        [0u8, 1, 2, 3, 255, 254, 0, 0, 7, 9, 0, 1],
    )
    .unwrap();
    fs::write(p.join("empty"), "").unwrap();
    dir
}

/// The staged entries (mode and path) and git status.
fn staged(p: &Path) -> String {
    let mut s = support::git(p, &["ls-files", "-s"]);
    s.push_str(&support::git(p, &["status", "--porcelain"]));
    s
}

/// `add --quiet ARGS` by the reference and by us on two trees set up alike:
/// same (empty) stdout, exit code and staged result.
fn same_add(what: &str, setup: &dyn Fn(&Path), args: &[&str]) {
    let (a, b) = (tree(), tree());
    setup(a.path());
    setup(b.path());
    let mut full = vec!["add", "--quiet"];
    full.extend_from_slice(args);
    let theirs = support::annex_output(a.path(), &full, None);
    let mine = ours(b.path(), &full);
    assert_eq!(
        mine.status.code(),
        theirs.status.code(),
        "{what}: exit code"
    );
    assert_eq!(staged(b.path()), staged(a.path()), "{what}: staged result");
    assert_eq!(
        String::from_utf8_lossy(&mine.stdout),
        String::from_utf8_lossy(&theirs.stdout),
        "{what}: stdout"
    );
}

#[test]
fn largefiles_mimetype_in_gitattributes_decides_as_the_reference() {
    // DataLad's test_add_mimetypes: text to git, everything else annexed.
    same_add(
        "not mimetype=text/*",
        &|p| {
            fs::write(
                p.join(".gitattributes"),
                "* annex.largefiles=(not(mimetype=text/*))\n",
            )
            .unwrap();
            support::git(p, &["add", ".gitattributes"]);
            support::git(p, &["commit", "-q", "-m", "attributes"]);
        },
        &["."],
    );
}

#[test]
fn largefiles_mimetype_and_mimeencoding_in_git_config_decide_as_the_reference() {
    for e in [
        "mimeencoding=binary",
        "mimetype=text/x-shellscript or mimeencoding=utf-8",
        "mimetype=inode/x-empty",
        "not mimetype=text/plain",
        "mimetype=application/* and largerthan=5b",
    ] {
        same_add(
            e,
            &|p| {
                support::git(p, &["config", "annex.largefiles", e]);
            },
            &["."],
        );
    }
}

#[test]
fn mimetype_and_mimeencoding_matching_options_match_as_the_reference() {
    let d = tree();
    let p = d.path();
    support::annex(p, &["add", "-q", "--force-large", "."]);
    support::git(p, &["commit", "-q", "-m", "added"]);
    // Content that is not here has no MIME type to match.
    support::annex(p, &["drop", "-q", "--force", "file2.txt"]);
    let cases: &[&[&str]] = &[
        &["--mimetype", "text/*"],
        &["--mimetype", "text/plain"],
        &["--not", "--mimetype", "text/*"],
        &["--mimeencoding", "binary"],
        &[
            "--mimeencoding",
            "us-ascii",
            "--or",
            "--mimeencoding",
            "utf-8",
        ],
        &["--mimetype", "application/octet-stream", "--json"],
        &["--mimetype", "inode/x-empty"],
    ];
    for args in cases {
        for cmd in ["find", "whereis"] {
            let mut full = vec![cmd];
            full.extend_from_slice(args);
            if cmd == "find" {
                full.insert(1, "--anything");
            }
            let theirs = support::annex_output(p, &full, None);
            let mine = ours(p, &full);
            assert_eq!(
                String::from_utf8_lossy(&mine.stdout),
                String::from_utf8_lossy(&theirs.stdout),
                "{full:?}: stdout; stderr ours {:?}",
                String::from_utf8_lossy(&mine.stderr)
            );
            assert_eq!(mine.status.code(), theirs.status.code(), "{full:?}: code");
        }
    }
}
