//! End-to-end tests of the preferred-content engine as the commands use
//! it: `annex.largefiles` in `add`, matching options, `--auto`; each
//! checked against the reference git-annex on an identical repository.

use std::fs;
use std::path::Path;

use crate::{ours, support};

/// A repository initialized by the reference with files of several sizes
/// and names.
fn tree() -> tempfile::TempDir {
    let dir = support::new_git_repo();
    let p = dir.path();
    support::annex(p, &["init", "-q"]);
    fs::create_dir_all(p.join("docs/old")).unwrap();
    fs::create_dir_all(p.join("media")).unwrap();
    fs::write(p.join("README.txt"), "read me\n").unwrap();
    fs::write(p.join("docs/guide.txt"), "x".repeat(3000)).unwrap();
    fs::write(p.join("docs/old/notes.md"), "notes\n").unwrap();
    fs::write(p.join("media/song.mp3"), "m".repeat(500)).unwrap();
    fs::write(p.join("media/film.mkv"), "f".repeat(5000)).unwrap();
    fs::write(p.join("media/tiny.mp3"), "t").unwrap();
    fs::write(p.join("data.bin"), "b".repeat(2048)).unwrap();
    dir
}

/// The staged entries (mode, blob: a symlink's blob is its key) and git
/// status.
fn staged(p: &Path) -> String {
    let mut s = support::git(p, &["ls-files", "-s"]);
    s.push_str(&support::git(p, &["status", "--porcelain"]));
    s
}

/// `add` on two identical trees prepared by `setup`, the reference on one
/// and us on the other: same exit code, same staged result, same error.
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
        "{what}: exit code; ours {mine:?}, theirs {theirs:?}"
    );
    assert_eq!(staged(b.path()), staged(a.path()), "{what}: staged result");
    if !theirs.status.success() {
        // The program name differs.
        assert_eq!(
            String::from_utf8_lossy(&mine.stderr)
                .replace("git-annex-rs:", "git-annex:")
                .trim(),
            String::from_utf8_lossy(&theirs.stderr).trim(),
            "{what}: error"
        );
    }
}

const EXPRESSIONS: &[&str] = &[
    "include=*.mp3 or largerthan=2kb",
    "(include=*.mp3 or include=*.mkv) and largerthan=10b",
    "not (include=docs/* or smallerthan=1kb)",
    "exclude=*.txt and ( largerthan=1KiB or include=media/* )",
    "include=docs/* and not include=*.md",
    "nothing or ( include=*.bin and not largerthan=2kib )",
    "anything and not ( exclude=*.txt or largerthan=4000 )",
    "include=*.txt bogus",
    "copies=2",
    "(include=*.mp3",
];

#[test]
fn largefiles_from_git_config_as_the_reference() {
    for e in EXPRESSIONS {
        same_add(
            e,
            &|p| {
                support::git(p, &["config", "annex.largefiles", e]);
            },
            &[],
        );
    }
}

#[test]
fn largefiles_from_gitattributes_and_branch_as_the_reference() {
    // Attribute values cannot hold spaces: parentheses separate the terms.
    let attr_exprs = [
        "(include=*.mp3)or(largerthan=2kb)",
        "not(include=docs/old/*)",
        "(largerthan=1kb)and(not(include=*.md))",
        "include=*.txt",
        "bogus",
    ];
    for e in attr_exprs {
        same_add(
            e,
            &|p| {
                fs::write(
                    p.join(".gitattributes"),
                    format!("*.mp3 annex.largefiles=nothing\ndocs/* annex.largefiles=\"{e}\"\n"),
                )
                .unwrap();
            },
            &[],
        );
    }
    // `git annex config` (the branch) is the last resort; git config wins
    // over it.
    for e in &EXPRESSIONS[..4] {
        same_add(
            e,
            &|p| {
                support::annex(p, &["config", "--set", "annex.largefiles", e]);
            },
            &[],
        );
        same_add(
            e,
            &|p| {
                support::annex(p, &["config", "--set", "annex.largefiles", "nothing"]);
                support::git(p, &["config", "annex.largefiles", e]);
            },
            &[],
        );
    }
}

/// Two repositories built by the reference in a temp dir: `origin` with
/// annexed files, metadata and a trusted `backup`-group description, and
/// `clone` (a clone of it, with its own files, some of origin's content,
/// and the remote `origin`).
fn pair() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("origin");
    let c = dir.path().join("clone");
    fs::create_dir_all(&o).unwrap();
    support::git(&o, &["init", "-q", "-b", "main"]);
    support::annex(&o, &["init", "-q", "origin"]);
    fs::create_dir_all(o.join("docs")).unwrap();
    fs::create_dir_all(o.join("media")).unwrap();
    fs::write(o.join("docs/a.txt"), "a".repeat(100)).unwrap();
    fs::write(o.join("docs/b.md"), "b".repeat(3000)).unwrap();
    fs::write(o.join("media/s.mp3"), "s".repeat(500)).unwrap();
    fs::write(o.join("media/f.mkv"), "f".repeat(5000)).unwrap();
    fs::write(o.join("top.bin"), "t".repeat(2048)).unwrap();
    support::annex(&o, &["add", "-q", "."]);
    support::git(&o, &["commit", "-q", "-m", "o"]);
    support::annex(&o, &["metadata", "-q", "-s", "tag=keep", "media/s.mp3"]);
    support::annex(&o, &["metadata", "-q", "-s", "year=2020", "docs/b.md"]);
    support::annex(&o, &["group", "here", "backup"]);
    support::git(dir.path(), &["clone", "-q", "origin", "clone"]);
    support::annex(&c, &["init", "-q", "clone"]);
    support::annex(&c, &["get", "-q", "docs/a.txt", "media/s.mp3"]);
    fs::write(c.join("mine.txt"), "m".repeat(40)).unwrap();
    fs::write(c.join("big.iso"), "i".repeat(9000)).unwrap();
    support::annex(&c, &["add", "-q", "mine.txt", "big.iso"]);
    support::git(&c, &["commit", "-q", "-m", "c"]);
    support::annex(&c, &["group", "here", "client"]);
    support::annex(&c, &["trust", "-q", "--force", "origin"]);
    dir
}

/// `find ARGS` in the clone by us and by the reference: same output and
/// exit code.
#[test]
fn find_with_matching_options_as_the_reference() {
    let d = pair();
    let c = d.path().join("clone");
    support::annex(&c, &["wanted", "here", "include=*.mp3 or largerthan=4kb"]);
    let cases: &[&[&str]] = &[
        &[],
        &["--in", "origin"],
        &["--in", "here"],
        &["--not", "--in", "here"],
        &["--copies", "2"],
        &["--copies", "trusted:1"],
        &["--copies", "backup:1"],
        &["--copies", "semitrusted+:2"],
        &["--include", "*.mp3", "--or", "--largerthan", "2kb"],
        &[
            "-(",
            "--in",
            "origin",
            "--and",
            "--copies",
            "2",
            "-)",
            "--or",
            "--include",
            "docs/*",
        ],
        &["--exclude", "docs/*", "--smallerthan", "6kb"],
        &["--metadata", "tag=keep"],
        &["--metadata", "year<2021"],
        &["--not", "--metadata", "tag=*"],
        &["--inbackend", "SHA256E"],
        &["--want-get"],
        &["--want-drop"],
        &["--want-get", "--not", "--in", "here"],
        &["--copies", "x"],
        &["--in", "nosuchremote"],
        &["--largerthan", "huge"],
    ];
    let mut distinct = std::collections::BTreeSet::new();
    for args in cases {
        let mut full = vec!["find"];
        full.extend_from_slice(args);
        let theirs = support::annex_output(&c, &full, None);
        distinct.insert(theirs.stdout.clone());
        let mine = ours(&c, &full);
        assert_eq!(
            String::from_utf8_lossy(&mine.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "find {args:?}: stdout; stderr ours {:?}, theirs {:?}",
            String::from_utf8_lossy(&mine.stderr),
            String::from_utf8_lossy(&theirs.stderr)
        );
        assert_eq!(
            mine.status.code(),
            theirs.status.code(),
            "find {args:?}: exit code"
        );
    }
}

/// `whereis ARGS` in the clone by us and by the reference: same output and
/// exit code.
#[test]
fn whereis_with_matching_options_as_the_reference() {
    let d = pair();
    let c = d.path().join("clone");
    let cases: &[&[&str]] = &[
        &["--in", "origin", "--and", "--not", "--in", "here"],
        &["--copies", "2", "--or", "--include", "*.iso"],
        &["--metadata", "tag=keep"],
        &["--all", "--largerthan", "4kb"],
        &["--json", "--include", "docs/*"],
    ];
    for args in cases {
        let mut full = vec!["whereis"];
        full.extend_from_slice(args);
        let theirs = support::annex_output(&c, &full, None);
        // Every case selects something (the test would pass vacuously
        // otherwise).
        assert!(!theirs.stdout.is_empty(), "whereis {args:?}: empty");
        let mine = ours(&c, &full);
        assert_eq!(
            String::from_utf8_lossy(&mine.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "whereis {args:?}: stdout"
        );
        assert_eq!(
            mine.status.code(),
            theirs.status.code(),
            "whereis {args:?}: exit code"
        );
    }
}

/// The files whose content is in the clone and in origin (as the
/// clone's location log says), by the reference.
fn present(clone: &Path) -> (String, String) {
    (
        support::annex(clone, &["find", "--in", "here"]),
        support::annex(clone, &["find", "--in", "origin"]),
    )
}

/// Runs `CMD ARGS` in the clone of two identical pairs prepared by
/// `setup`, the reference on one and us on the other; the same files are
/// present after, in both repositories. Returns whether the command
/// changed what is where (so a test can check it is not vacuous).
fn same_auto(what: &str, setup: &dyn Fn(&Path, &Path), args: &[&str]) -> bool {
    let (a, b) = (pair(), pair());
    for d in [&a, &b] {
        setup(&d.path().join("origin"), &d.path().join("clone"));
    }
    let ca = a.path().join("clone");
    let cb = b.path().join("clone");
    let before = present(&ca);
    let theirs = support::annex_output(&ca, args, None);
    let mine = ours(&cb, args);
    assert_eq!(
        mine.status.code(),
        theirs.status.code(),
        "{what}: exit code; ours {mine:?}"
    );
    let after = present(&ca);
    assert_eq!(
        present(&cb),
        after,
        "{what}: present in the clone and origin"
    );
    before != after
}

fn wanted_here(e: &'static str) -> impl Fn(&Path, &Path) {
    move |_: &Path, c: &Path| {
        support::annex(c, &["wanted", "here", e]);
    }
}

#[test]
fn get_auto_picks_what_the_reference_picks() {
    assert!(
        same_auto(
            "get --auto, wanted",
            &wanted_here("include=*.mkv or include=docs/*"),
            &["get", "--auto"],
        ),
        "get --auto, wanted: nothing changed"
    );
    same_auto(
        "get --auto, no wanted",
        &|_: &Path, _: &Path| {},
        &["get", "--auto"],
    );
    same_auto(
        "get --auto, numcopies 2",
        &|_: &Path, c: &Path| {
            support::annex(c, &["numcopies", "2"]);
        },
        &["get", "--auto"],
    );
    same_auto(
        "get --auto, standard client group",
        &wanted_here("standard"),
        &["get", "--auto"],
    );
}

#[test]
fn drop_auto_picks_what_the_reference_picks() {
    assert!(
        same_auto(
            "drop --auto, wanted",
            &wanted_here("include=*.mp3"),
            &["drop", "--auto"],
        ),
        "drop --auto, wanted: nothing changed"
    );
    same_auto(
        "drop --auto, no wanted",
        &|_: &Path, _: &Path| {},
        &["drop", "--auto"],
    );
    same_auto(
        "drop --auto, .gitattributes numcopies",
        &|_: &Path, c: &Path| {
            fs::write(c.join(".gitattributes"), "*.mp3 annex.numcopies=2\n").unwrap();
        },
        &["drop", "--auto"],
    );
}

#[test]
fn copy_auto_and_matching_options_as_the_reference() {
    assert!(
        same_auto(
            "copy --auto --to origin, origin wants *.iso",
            &|_: &Path, c: &Path| {
                support::annex(c, &["wanted", "origin", "include=*.iso"]);
            },
            &["copy", "--auto", "--to", "origin"],
        ),
        "copy --auto --to origin, origin wants *.iso: nothing changed"
    );
    same_auto(
        "copy --auto --to origin, backup group",
        &|_: &Path, c: &Path| {
            support::annex(c, &["wanted", "origin", "standard"]);
        },
        &["copy", "--auto", "--to", "origin"],
    );
    assert!(
        same_auto(
            "get with matching options",
            &|_: &Path, _: &Path| {},
            &[
                "get",
                "--include",
                "*.mkv",
                "--or",
                "--in",
                "origin",
                "--and",
                "--largerthan",
                "2kb",
            ],
        ),
        "get with matching options: nothing changed"
    );
    assert!(
        same_auto(
            "drop with matching options",
            &|_: &Path, _: &Path| {},
            &["drop", "--not", "--include", "*.mp3"],
        ),
        "drop with matching options: nothing changed"
    );
    same_auto(
        "copy --to with matching options",
        &|_: &Path, _: &Path| {},
        &["copy", "--to", "origin", "--smallerthan", "1kb"],
    );
}

/// git-annex's `move` has no `--auto`: both refuse it.
#[test]
fn move_auto_is_refused_as_by_the_reference() {
    let d = pair();
    let c = d.path().join("clone");
    let args = ["move", "--auto", "--to", "origin"];
    let before = present(&c);
    let theirs = support::annex_output(&c, &args, None);
    let mine = ours(&c, &args);
    assert!(!theirs.status.success());
    assert_eq!(mine.status.code(), theirs.status.code(), "{mine:?}");
    let first = |o: &[u8]| String::from_utf8_lossy(o).lines().next().map(str::to_owned);
    assert_eq!(
        first(&mine.stderr).map(|l| l.replace("git-annex-rs: ", "")),
        first(&theirs.stderr)
    );
    // Nothing moved.
    assert_eq!(present(&c), before);
}

/// `--batch` with matching options: a line whose file does not match is
/// answered with an empty line, as one that is not an annexed file; the
/// same files are transferred as by the reference.
#[test]
fn batch_input_is_matched_as_by_the_reference() {
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "get",
                "--batch",
                "--include=*.mp3",
                "--or",
                "--largerthan=4kb",
            ],
            "docs/b.md\nmedia/f.mkv\nnosuch\ntop.bin\n",
        ),
        (
            &["drop", "--batch", "--exclude=*.txt"],
            "docs/a.txt\nmedia/s.mp3\nmine.txt\n",
        ),
        (
            &["copy", "--to", "origin", "--batch", "--largerthan=1kb"],
            "mine.txt\nbig.iso\n",
        ),
    ];
    for (args, input) in cases {
        let (a, b) = (pair(), pair());
        let ca = a.path().join("clone");
        let cb = b.path().join("clone");
        let before = present(&ca);
        let theirs = support::annex_output(&ca, args, Some(input.as_bytes()));
        let mine = crate::ours_with(&cb, args, Some(input.as_bytes()));
        let out = |o: &std::process::Output| {
            crate::transfer::strip_meter(&String::from_utf8_lossy(&o.stdout))
        };
        assert_eq!(out(&mine), out(&theirs), "{args:?}: stdout");
        assert_eq!(
            mine.status.code(),
            theirs.status.code(),
            "{args:?}: exit code"
        );
        let after = present(&ca);
        assert_ne!(before, after, "{args:?}: the reference did nothing");
        assert_eq!(present(&cb), after, "{args:?}: what is where");
    }
}

/// `fsck` and `info` of a directory with matching options, and matching
/// options on file names refused with `--all`/`--key`, as by the
/// reference (run in the same repository: they only read).
#[test]
fn fsck_and_info_with_matching_options_as_the_reference() {
    let d = pair();
    let c = d.path().join("clone");
    let key = support::annex(&c, &["lookupkey", "big.iso"])
        .trim()
        .to_owned();
    let cases: &[&[&str]] = &[
        &[
            "fsck",
            "--fast",
            "--include=*.mp3",
            "--or",
            "--include=*.iso",
        ],
        &["fsck", "--fast", "--largerthan=1kb", "--json"],
        &[
            "fsck", "--fast", "--not", "--in", "origin", "docs", "mine.txt",
        ],
        &["fsck", "--fast", "--all", "--largerthan=4kb"],
        &["fsck", "--fast", "--all", "--include=*"],
        &["fsck", "--fast", "--key", &key, "--exclude=x"],
        &["get", "--all", "--include=*.mp3"],
        &["info", "--include=*.mp3", "media"],
        &["info", "--largerthan=1kb", "--json", "."],
        &["info", "--not", "--in", "here", "docs"],
        &["info", "--include=*.mp3", "big.iso"],
        &["info", "--include=*.iso", "big.iso"],
    ];
    for args in cases {
        let theirs = support::annex_output(&c, args, None);
        let mine = ours(&c, args);
        assert_eq!(
            String::from_utf8_lossy(&mine.stdout),
            String::from_utf8_lossy(&theirs.stdout),
            "{args:?}: stdout; stderr ours {:?}, theirs {:?}",
            String::from_utf8_lossy(&mine.stderr),
            String::from_utf8_lossy(&theirs.stderr)
        );
        assert_eq!(
            mine.status.code(),
            theirs.status.code(),
            "{args:?}: exit code"
        );
        if !theirs.status.success() {
            assert_eq!(
                String::from_utf8_lossy(&mine.stderr).replace("git-annex-rs:", "git-annex:"),
                String::from_utf8_lossy(&theirs.stderr),
                "{args:?}: stderr"
            );
        }
    }
}

/// `info` of the overview or of a remote with a matching option that
/// looks at file names: refused by both, exit 1, with the reference's message on stderr (the reference
/// prints the statistics before its first file-keyed one on stdout
/// first; we print none of them).
#[test]
fn info_overview_and_remote_refuse_matching_options_as_the_reference() {
    let d = pair();
    let c = d.path().join("clone");
    for args in [
        &["info", "--include=*.mp3"][..],
        &["info", "--include=*.mp3", "origin"][..],
    ] {
        let theirs = support::annex_output(&c, args, None);
        let mine = ours(&c, args);
        assert_eq!(theirs.status.code(), Some(1), "{args:?}: reference");
        assert_eq!(mine.status.code(), Some(1), "{args:?}: ours");
        let message = "File matching options cannot be applied when getting this info.";
        assert!(
            String::from_utf8_lossy(&theirs.stderr).contains(message),
            "{args:?}: reference stderr {:?}",
            String::from_utf8_lossy(&theirs.stderr)
        );
        assert!(
            String::from_utf8_lossy(&mine.stderr).contains(message),
            "{args:?}: our stderr {:?}",
            String::from_utf8_lossy(&mine.stderr)
        );
    }
}

/// `info` of the overview, a remote or a repository with matching options
/// that look at keys: every statistic counts only the matching keys, as
/// the reference counts them (the free disk space, which moves between
/// runs, left out of the comparison).
#[test]
fn info_overview_and_remote_count_matching_keys_as_the_reference() {
    let d = pair();
    let c = d.path().join("clone");
    let steady = |o: &std::process::Output| -> String {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| !l.starts_with("available local disk space"))
            .map(|l| {
                let mut l = l.to_owned();
                if let Some(i) = l.find("\"available local disk space\":\"") {
                    let rest = &l[i + 31..];
                    let end = rest.find('"').map_or(rest.len(), |e| e + 2);
                    l.replace_range(i..i + 31 + end, "");
                }
                l
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    for args in [
        &["info", "--largerthan=1kb"][..],
        &["info", "--in=here", "--json"][..],
        &["info", "--not", "--in", "here", "--bytes"][..],
        &["info", "--largerthan=1kb", "origin"][..],
        &["info", "--smallerthan=1kb", "here", "--json"][..],
    ] {
        let theirs = support::annex_output(&c, args, None);
        let mine = ours(&c, args);
        assert_eq!(mine.status.code(), theirs.status.code(), "{args:?}");
        assert_eq!(steady(&mine), steady(&theirs), "{args:?}");
    }
}
