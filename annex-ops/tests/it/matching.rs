//! `annex_ops::matching` against the reference's `git annex find` (which
//! lists the files the matching options select) on repositories the
//! reference made, and its refusals word for word.

use annex_ops::matching::{Filter, MatchingOpt, MatchingOptions, file_passes};

use crate::ref_annex::{Pair, annex, annex_output, open};

/// The library's view of command-line matching options (what the CLI's
/// clap parsing gives).
fn options(args: &[&str]) -> MatchingOptions {
    const TERMS: &[&str] = &[
        "include",
        "exclude",
        "copies",
        "lackingcopies",
        "approxlackingcopies",
        "largerthan",
        "smallerthan",
        "inbackend",
        "metadata",
    ];
    let opts = args
        .iter()
        .map(|a| match *a {
            "--and" => MatchingOpt::And,
            "--or" => MatchingOpt::Or,
            "--not" => MatchingOpt::Not,
            "-(" => MatchingOpt::Open,
            "-)" => MatchingOpt::Close,
            "--securehash" => MatchingOpt::SecureHash,
            "--want-get" => MatchingOpt::WantGet,
            "--want-drop" => MatchingOpt::WantDrop,
            other => {
                let (name, value) = other
                    .strip_prefix("--")
                    .and_then(|o| o.split_once('='))
                    .unwrap_or_else(|| panic!("not a matching option: {other}"));
                if name == "in" {
                    return MatchingOpt::In(value.to_owned());
                }
                let name = TERMS
                    .iter()
                    .find(|t| **t == name)
                    .unwrap_or_else(|| panic!("not a term: {name}"));
                MatchingOpt::Term(name, value.to_owned())
            }
        })
        .collect();
    MatchingOptions { opts }
}

/// The work-tree files the library's filter lets through, sorted.
fn selected(dir: &std::path::Path, args: &[&str]) -> Vec<String> {
    let session = open(dir);
    let filter = Filter::new(&session, &options(args)).expect("filter");
    let mut out = Vec::new();
    session
        .worktree()
        .expect("work tree")
        .for_each_annexed_file(&[], |_, f| -> Result<(), annex_ops::info::InfoError> {
            if file_passes(filter.as_ref(), &f.path, &f.key)? {
                out.push(String::from_utf8(f.path).expect("utf-8 path"));
            }
            Ok(())
        })
        .expect("walk the work tree");
    out.sort();
    out
}

/// What the reference's `find` lists with the options, sorted.
fn found(dir: &std::path::Path, args: &[&str]) -> Vec<String> {
    let mut argv = vec!["find"];
    argv.extend_from_slice(args);
    let mut out: Vec<String> = annex(dir, &argv).lines().map(str::to_owned).collect();
    out.sort();
    out
}

#[test]
fn selects_the_files_the_reference_finds() {
    let pair = Pair::new();
    annex(&pair.clone, &["wanted", "here", "include=sub/*"]);
    let cases: &[&[&str]] = &[
        &["--in=here"],
        &["--in=origin", "--and", "--not", "--in=here"],
        &["--in=origin", "--not", "--in=.", "--or", "--include=*.bin"],
        &["--largerthan=4", "--or", "--include=sub/*"],
        &[
            "-(",
            "--include=*.txt",
            "--or",
            "--include=*.dat",
            "-)",
            "--not",
            "--in=here",
        ],
        &["--copies=2"],
        &["--copies=1", "--and", "--smallerthan=5"],
        &["--lackingcopies=1"],
        &["--inbackend=WORM"],
        &["--securehash"],
        &["--exclude=*.txt"],
        &["--want-get"],
        &["--want-drop"],
        &["--in=clone"],
    ];
    for args in cases {
        let ours = selected(&pair.clone, args);
        assert_eq!(ours, found(&pair.clone, args), "{args:?}");
    }
    // In the origin, which has every file and learns the clone's copy by
    // merging the clone's `git-annex` branch (as both do when they open).
    crate::ref_annex::git(&pair.origin, &["remote", "add", "clone", "../clone"]);
    crate::ref_annex::git(&pair.origin, &["fetch", "-q", "clone"]);
    for args in [
        &["--in=here"][..],
        &["--copies=2"],
        &["--not", "--copies=2"],
        &["--in=clone"],
    ] {
        let ours = selected(&pair.origin, args);
        assert_eq!(ours, found(&pair.origin, args), "origin: {args:?}");
    }
    // Cases that select something and leave something out.
    assert_eq!(selected(&pair.clone, &["--in=here"]), ["sub/b.bin"]);
    assert_eq!(selected(&pair.clone, &["--inbackend=WORM"]), ["w.dat"]);
    assert_eq!(selected(&pair.origin, &["--in=clone"]), ["sub/b.bin"]);
}

#[test]
fn refusals_have_the_references_words() {
    let pair = Pair::new();
    let session = open(&pair.clone);
    for (args, find_args) in [
        (&["--copies=x"][..], &["find", "--copies=x"][..]),
        (&["--largerthan=big"][..], &["find", "--largerthan=big"][..]),
        (&["--in=nosuch"][..], &["find", "--in=nosuch"][..]),
    ] {
        let err = Filter::new(&session, &options(args)).expect_err("refused");
        let out = annex_output(&pair.clone, find_args);
        assert!(!out.status.success(), "{find_args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&err.to_string()),
            "{args:?}: ours {err:?}, the reference's: {stderr}"
        );
    }

    let filter = Filter::new(&session, &options(&["--include=*.txt"]))
        .expect("filter")
        .expect("options given");
    assert!(filter.needs_file_name());
    let err = filter.refuse_for_keys(false).expect_err("refused for keys");
    let out = annex_output(&pair.clone, &["whereis", "--all", "--include=*.txt"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&err.to_string()),
        "ours {err}, the reference's: {stderr}"
    );

    let keys_only = Filter::new(&session, &options(&["--largerthan=4"]))
        .expect("filter")
        .expect("options given");
    assert!(!keys_only.needs_file_name());
    assert!(keys_only.refuse_for_keys(true).is_ok());
}
