//! Tests of `annex_core::preferred`: a differential test against the
//! reference (`wanted` + `find --want-get` over a repository it built),
//! balanced picks against the reference, and property tests of the parser,
//! printer and evaluators.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use annex_core::key::Key;
use annex_core::logs::metadata::MetaData;
use annex_core::logs::trust::TrustLevel;
use annex_core::objects::ObjectStore;
use annex_core::preferred::{self, Expr, Item, MemoryContext, Mode, StateContext};
use annex_core::repo::Repo;
use annex_core::state::State;
use annex_core::uuid::Uuid;
use proptest::prelude::*;

use crate::support::{self, Rng, annex, annex_output, git};

const GROUPS: &[&str] = &["client", "backup", "archive", "grpa", "grpb", "transfer"];

const TERMS: &[&str] = &[
    "include=*",
    "include=*.mp3",
    "include=*/archive/*",
    "include=archive/*",
    "include=a/*",
    "include=f1*",
    "include=*.[mp]*",
    "include=[!a]*",
    "include=*a*/*",
    "include=f?.txt",
    "include=*/f1?.*",
    "exclude=*.txt",
    "exclude=archive/*",
    "exclude=*/archive/*",
    "exclude=public/*",
    "copies=0",
    "copies=1",
    "copies=2",
    "copies=3",
    "copies=grpa:1",
    "copies=grpb:2",
    "copies=backup:1",
    "copies=archive:1",
    "copies=trusted:1",
    "copies=untrusted:1",
    "copies=dead:1",
    "copies=semitrusted+:2",
    "copies=untrusted+:3",
    "lackingcopies=1",
    "lackingcopies=2",
    "approxlackingcopies=1",
    "approxlackingcopies=0",
    "inbackend=SHA256E",
    "inbackend=MD5",
    "inbackend=WORM",
    "inbackend=SHA1",
    "securehash",
    "inallgroup=grpa",
    "inallgroup=client",
    "inallgroup=nosuch",
    "onlyingroup=grpa",
    "onlyingroup=backup",
    "onlyingroup=nosuch",
    "smallerthan=1kb",
    "smallerthan=10",
    "largerthan=100",
    "largerthan=1mb",
    "largerthan=0.5KiB",
    "metadata=tag=a",
    "metadata=tag=*",
    "metadata=tag=B",
    "metadata=author=*smith",
    "metadata=n>5",
    "metadata=n<=3",
    "metadata=n>=abc",
    "metadata=n<10",
    "metadata=lastchanged=2*",
    "url=*example*",
    "url=http://*",
    "url=*.org/*",
    "present",
    "inpreferreddir",
    "standard",
    "groupwanted",
    "anything",
    "nothing",
    "unused",
    "balanced=grpa",
    "balanced=grpa:2",
    "fullybalanced=grpb:2",
    "balanced=backup:lackingcopies",
    "sizebalanced=grpa",
];

/// A random expression: either a random token soup (any structure the
/// reference accepts, dangling operators and stray parentheses included)
/// or a well-formed tree.
fn random_expr(rng: &mut Rng) -> String {
    if rng.below(2) == 0 {
        let n = 1 + rng.below(10);
        let mut toks = Vec::new();
        for _ in 0..n {
            let t = match rng.below(100) {
                0..=54 => rng.pick(TERMS),
                55..=66 => "and",
                67..=78 => "or",
                79..=86 => "not",
                87..=93 => "(",
                _ => ")",
            };
            toks.push(t.to_owned());
        }
        toks.join(" ")
    } else {
        tree(rng, 3)
    }
}

fn tree(rng: &mut Rng, depth: u32) -> String {
    if depth == 0 || rng.below(3) == 0 {
        return rng.pick(TERMS).to_owned();
    }
    match rng.below(4) {
        0 => format!("not {}", tree(rng, depth - 1)),
        1 => format!("({} and {})", tree(rng, depth - 1), tree(rng, depth - 1)),
        2 => format!("( {} or {} )", tree(rng, depth - 1), tree(rng, depth - 1)),
        _ => format!("{} {}", tree(rng, depth - 1), tree(rng, depth - 1)),
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    _remotes: tempfile::TempDir,
    files: Vec<(String, Key)>,
    uuids: Vec<Uuid>,
}

fn uuid_of(dir: &Path, remote: &str) -> Uuid {
    let s = git(dir, &["config", &format!("remote.{remote}.annex-uuid")]);
    Uuid::parse(s.trim().as_bytes()).expect("remote uuid")
}

/// Builds a repository with the reference: this repository and four
/// directory special remotes (trusted, untrusted, dead, semitrusted), random
/// groups, numcopies, annexed files (no content) with random locations,
/// metadata and URLs.
fn fixture(seed: u64, here_group: &str, nfiles: usize) -> Fixture {
    let mut rng = Rng(seed);
    let dir = support::new_git_repo();
    let d = dir.path();
    annex(d, &["init", "-q", "here"]);
    // Changes stay in the journal (read by both sides): fewer git runs.
    git(d, &["config", "annex.alwayscommit", "false"]);
    let remotes = tempfile::tempdir().expect("tempdir");
    let mut uuids = vec![];
    let here_uuid = git(d, &["config", "annex.uuid"]);
    uuids.push(Uuid::parse(here_uuid.trim().as_bytes()).expect("uuid"));
    for i in 1..=4 {
        let rd = remotes.path().join(format!("d{i}"));
        std::fs::create_dir(&rd).expect("mkdir");
        annex(
            d,
            &[
                "initremote",
                &format!("r{i}"),
                "type=directory",
                &format!("directory={}", rd.display()),
                "encryption=none",
            ],
        );
        uuids.push(uuid_of(d, &format!("r{i}")));
    }
    annex(d, &["trust", "--force", "r1"]);
    annex(d, &["untrust", "r2"]);
    annex(d, &["dead", "r3"]);
    annex(d, &["group", "here", here_group]);
    annex(d, &["group", "here", "grpa"]);
    for i in 1..=4 {
        for _ in 0..1 + rng.below(2) {
            annex(d, &["group", &format!("r{i}"), rng.pick(GROUPS)]);
        }
    }
    annex(d, &["groupwanted", "grpa", "standard or include=*.mp3"]);
    annex(d, &["numcopies", &(1 + rng.below(3)).to_string()]);

    let dirs = [
        "",
        "a/",
        "archive/",
        "public/",
        "b/archive/",
        "a/public/",
        "music/",
        "x/y/",
    ];
    let exts = [".mp3", ".txt", ".png", "", ".MP3"];
    let mut files = Vec::new();
    let mut fromkey = String::new();
    for i in 0..nfiles {
        let ext = rng.pick(&exts);
        let path = format!("{}f{i}{ext}", rng.pick(&dirs));
        let size = match rng.below(4) {
            0 => None,
            1 => Some(rng.below(20) as u64),
            2 => Some(rng.below(5000) as u64),
            _ => Some(rng.below(3_000_000) as u64),
        };
        let s = size.map(|s| format!("-s{s}")).unwrap_or_default();
        let key = match rng.below(5) {
            0 => format!("SHA256E{s}--{:064x}{ext}", i + 1),
            1 => format!("SHA256{s}--{:064x}", i + 1),
            2 => format!("MD5{s}--{:032x}", i + 1),
            3 => format!("SHA1{s}--{:040x}", i + 1),
            _ => format!("WORM{s}-m{i}--f{i}{ext}"),
        };
        fromkey.push_str(&format!("{key} {path}\n"));
        files.push((path, Key::parse(key.as_bytes()).expect("key")));
    }
    let out = annex_output(
        d,
        &["fromkey", "--force", "--batch"],
        Some(fromkey.as_bytes()),
    );
    assert!(out.status.success(), "fromkey: {out:?}");

    let mut present = String::new();
    let mut meta = String::new();
    let mut urls = String::new();
    for (_, key) in &files {
        for u in &uuids {
            if rng.below(3) == 0 {
                present.push_str(&format!(
                    "{} {u} 1\n",
                    String::from_utf8_lossy(key.as_bytes())
                ));
            }
        }
        let k = String::from_utf8_lossy(key.as_bytes());
        if rng.below(2) == 0 {
            let tags = ["a", "b", "A", "c"];
            let tag = rng.pick(&tags);
            let n = rng.pick(&["1", "3", "5", "7", "12", "abc", "2.5"]);
            let author = rng.pick(&["J Smith", "jsmith", "Doe"]);
            meta.push_str(&format!(
                "{{\"key\":\"{k}\",\"fields\":{{\"tag\":[\"{tag}\"],\"n\":[\"{n}\"],\"author\":[\"{author}\"]}}}}\n"
            ));
        }
        if rng.below(3) == 0 {
            let url = rng.pick(&[
                "http://example.com/x",
                "https://foo.org/y",
                "ftp://example.net/z",
            ]);
            urls.push_str(&format!("{k} {url}\n"));
        }
    }
    for (args, input) in [
        (&["setpresentkey", "--batch"][..], present),
        (&["metadata", "--batch", "--json"][..], meta),
        (&["registerurl", "--batch"][..], urls),
    ] {
        let out = annex_output(d, args, Some(input.as_bytes()));
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    Fixture {
        dir,
        _remotes: remotes,
        files,
        uuids,
    }
}

/// Our answer: which files this repository wants, by its logged preferred
/// content expression, read through our State.
fn our_wanted(dir: &Path, files: &[(String, Key)]) -> BTreeSet<String> {
    let repo = Repo::open(dir).expect("open");
    let state = State::new(repo.branch().expect("branch"));
    let here = repo.uuid().cloned().expect("uuid");
    let store = ObjectStore::open(repo.git_dir()).ok();
    let ctx =
        StateContext::new(&state, Some(here.clone()), store, &Default::default()).expect("context");
    let pc = state.preferred_content().expect("pc");
    let rc = state.required_content().expect("rc");
    let gw = state.group_preferred_content().expect("gw");
    let empty = BTreeSet::new();
    let groups = ctx.groups().get(&here).unwrap_or(&empty);
    let Some(expr) = preferred::preferred_content_matcher(
        pc.get(&here).map(|v| v.as_slice()),
        rc.get(&here).map(|v| v.as_slice()),
        groups,
        &gw,
    ) else {
        return BTreeSet::new();
    };
    let fast = expr.optimized();
    let mut out = BTreeSet::new();
    for (path, key) in files {
        let item = Item::file(path.as_bytes(), Some(key)).for_repo(Some(&here));
        let slow = expr.matches(&ctx, &item).expect("eval");
        assert_eq!(
            slow,
            fast.eval(&ctx, &item).expect("eval"),
            "optimized differs for {path}"
        );
        if slow {
            out.insert(path.clone());
        }
    }
    out
}

fn reference_wanted(dir: &Path) -> BTreeSet<String> {
    let out = annex(dir, &["find", "--want-get", "--format=${file}\\n"]);
    out.lines().map(str::to_owned).collect()
}

#[test]
fn differential_wanted_against_reference() {
    // 3 repository states x 17 expressions x 200 files = 10,200 cases.
    let mut cases = 0;
    let mut disagreements = Vec::new();
    for (batch, here_group) in ["client", "transfer", "smallarchive"].iter().enumerate() {
        let fx = fixture(0x9e37_79b9 + batch as u64, here_group, 200);
        let d = fx.dir.path();
        let mut rng = Rng(0xfeed_0000 + batch as u64);
        for _ in 0..17 {
            let expr = random_expr(&mut rng);
            if preferred::parse(expr.as_bytes()).is_err() {
                panic!("generated an expression we refuse: {expr}");
            }
            annex(d, &["wanted", ".", &expr]);
            let theirs = reference_wanted(d);
            let ours = our_wanted(d, &fx.files);
            cases += fx.files.len();
            if theirs != ours {
                disagreements.push(format!(
                    "{here_group}: {expr:?}\n  only reference: {:?}\n  only ours: {:?}",
                    theirs.difference(&ours).collect::<Vec<_>>(),
                    ours.difference(&theirs).collect::<Vec<_>>()
                ));
            }
        }
        assert_eq!(fx.uuids.len(), 5);
    }
    assert!(cases >= 10_000);
    assert!(
        disagreements.is_empty(),
        "{} of the expressions disagree:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

#[test]
fn balanced_picks_match_reference() {
    let dir = support::new_git_repo();
    let d = dir.path();
    annex(d, &["init", "-q", "here"]);
    let remotes = tempfile::tempdir().expect("tempdir");
    let mut uuids = Vec::new();
    for i in 1..=5 {
        let rd = remotes.path().join(format!("d{i}"));
        std::fs::create_dir(&rd).expect("mkdir");
        annex(
            d,
            &[
                "initremote",
                &format!("r{i}"),
                "type=directory",
                &format!("directory={}", rd.display()),
                "encryption=none",
            ],
        );
        annex(d, &["group", &format!("r{i}"), "grp"]);
        annex(d, &["wanted", &format!("r{i}"), "balanced=grp:2"]);
        uuids.push(uuid_of(d, &format!("r{i}")));
    }
    let mut input = String::new();
    let mut files = Vec::new();
    for i in 0..1000 {
        let key = format!("SHA256E-s{}--{:064x}.dat", i * 7 + 1, i * 7919 + 13);
        let path = format!("f{i}.dat");
        input.push_str(&format!("{key} {path}\n"));
        files.push((path, Key::parse(key.as_bytes()).expect("key")));
    }
    let out = annex_output(
        d,
        &["fromkey", "--force", "--batch"],
        Some(input.as_bytes()),
    );
    assert!(out.status.success(), "fromkey: {out:?}");

    let repo = Repo::open(d).expect("open");
    let state = State::new(repo.branch().expect("branch"));
    let ctx =
        StateContext::new(&state, repo.uuid().cloned(), None, &Default::default()).expect("ctx");
    let expr = preferred::parse(b"balanced=grp:2").expect("parse");
    let mut ours: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, key) in &files {
        for (i, u) in uuids.iter().enumerate() {
            let item = Item::file(path.as_bytes(), Some(key)).for_repo(Some(u));
            if expr.matches(&ctx, &item).expect("eval") {
                ours.entry(path.clone())
                    .or_default()
                    .insert(format!("r{}", i + 1));
            }
        }
    }
    let mut theirs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for i in 1..=5 {
        let r = format!("r{i}");
        let out = annex(
            d,
            &["find", &format!("--want-get-by={r}"), "--format=${file}\\n"],
        );
        for f in out.lines() {
            theirs.entry(f.to_owned()).or_default().insert(r.clone());
        }
    }
    assert_eq!(ours.len(), 1000, "every key goes to some repository");
    assert!(ours.values().all(|s| s.len() == 2), "two repositories each");
    assert_eq!(ours, theirs);
}

/// Expressions the reference refuses, with its messages (checked live).
#[test]
fn parse_errors_match_reference() {
    let dir = support::new_git_repo();
    let d = dir.path();
    annex(d, &["init", "-q"]);
    let bad = [
        "bogus",
        "include=*.mp3 bogus and copies=x",
        "copies=a:b:c",
        "copies=trusted:x",
        "lackingcopies=x",
        "smallerthan=lots",
        "largerthan=",
        "metadata=+bad=x",
        "metadata==x",
        "balanced=a:b:c",
        "fullybalanced=g:x",
        "sizebalanced=g:1.5",
        "present=yes",
        "mimetype=text/*",
        "\u{e9}t\u{e9}",
        "copies=1 approxlackingcopies=z nothing=1",
    ];
    for e in bad {
        let ours = preferred::parse(e.as_bytes()).expect_err(e);
        let out = annex_output(d, &["matchexpression", e], None);
        assert_eq!(out.status.code(), Some(42), "{e}");
        let msg = String::from_utf8_lossy(&out.stderr);
        assert_eq!(msg.trim_end(), format!("bad expression: {ours}"), "{e}");
    }
    // largefiles mode refuses preferred-content terms.
    for e in ["copies=1", "present", "include=* and standard"] {
        let ours = preferred::LargeFiles::parse(e.as_bytes()).expect_err(e);
        let out = annex_output(d, &["matchexpression", "--largefiles", e], None);
        assert_eq!(out.status.code(), Some(42), "{e}");
        let msg = String::from_utf8_lossy(&out.stderr);
        assert_eq!(msg.trim_end(), format!("bad expression: {ours}"), "{e}");
    }
}

#[test]
fn standard_groups_parse_and_print() {
    for g in preferred::standard::ALL {
        let e = preferred::parse(g.expression().as_bytes()).expect("standard parses");
        let again = preferred::parse(e.to_text().as_bytes()).expect("printed parses");
        assert_eq!(e, again, "{}", g.name());
    }
    assert_eq!(
        preferred::standard::StandardGroup::Client.expression(),
        "(include=* and ((exclude=*/archive/* and exclude=archive/*) or (not (copies=archive:1 or copies=smallarchive:1)))) or approxlackingcopies=1"
    );
}

#[test]
fn malformed_corpus_never_panics() {
    let corpus: &[&[u8]] = &[
        b"",
        b"(",
        b")",
        b"((((",
        b"))))",
        b"not",
        b"and or not",
        b"( and ) ( or )",
        b"include=[",
        b"include=[]",
        b"include=[[:nope:]]",
        b"include=[z-a]",
        b"include=\\",
        b"metadata=",
        b"metadata=f<",
        b"metadata=f>=",
        b"copies=:",
        b"copies=99999999999999999999999",
        b"largerthan=1e999",
        b"largerthan=-5",
        b"smallerthan=NaN",
        b"balanced=:",
        b"balanced=g:-1",
        b"\xff\xfe",
        b"include=\xff*",
        b"= == ===",
    ];
    let key = Key::parse(b"SHA256E-s10--abc.txt").expect("key");
    let ctx = MemoryContext::default();
    for e in corpus {
        for mode in [Mode::Preferred, Mode::LargeFiles] {
            if let Ok(x) = Expr::parse(e, mode) {
                let item = Item::file(b"a/b.txt", Some(&key));
                let _ = x.matches(&ctx, &item);
                let _ = x.optimized().eval(&ctx, &item);
                let printed = x.to_bytes();
                let y = Expr::parse(&printed, mode).expect("printed parses");
                assert_eq!(
                    x.matches(&ctx, &item),
                    y.matches(&ctx, &item),
                    "{}",
                    String::from_utf8_lossy(e)
                );
            }
        }
    }
}

// ---- property tests ----

fn term_strategy() -> impl Strategy<Value = String> {
    prop::sample::select(TERMS).prop_map(str::to_owned)
}

/// A tree without empty operands, as text with full parentheses.
fn tree_strategy() -> impl Strategy<Value = String> {
    term_strategy().prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|a| format!("not {a}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("( {a} and {b} )")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("( {a} or {b} )")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("{a} {b}")),
        ]
    })
}

/// Any token soup.
fn soup_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            6 => term_strategy(),
            1 => Just("and".to_owned()),
            1 => Just("or".to_owned()),
            1 => Just("not".to_owned()),
            1 => Just("(".to_owned()),
            1 => Just(")".to_owned()),
        ],
        0..14,
    )
    .prop_map(|v| v.join(" "))
}

fn uuids() -> Vec<Uuid> {
    (0..5)
        .map(|i| Uuid::parse(format!("0000000{i}-aaaa-bbbb-cccc-dddddddddddd").as_bytes()))
        .collect::<Result<_, _>>()
        .expect("uuids")
}

/// A random in-memory repository state and item.
fn world_strategy() -> impl Strategy<Value = (MemoryContext, String, Key)> {
    (
        prop::collection::vec(prop::collection::vec(0usize..6, 0..3), 5),
        prop::collection::vec(0usize..4, 5),
        prop::collection::vec(any::<bool>(), 5),
        1i64..4,
        prop::sample::select(vec![
            "a/f1.mp3",
            "archive/x.txt",
            "public/f2",
            "f3.png",
            "b/archive/f.mp3",
        ]),
        (0u64..3_000_000, any::<bool>(), 0usize..4),
        (any::<bool>(), any::<bool>(), 0usize..4),
    )
        .prop_map(
            |(groups, trust, present, numcopies, path, (size, sized, backend), (meta, url, n))| {
                let us = uuids();
                let mut ctx = MemoryContext::default();
                ctx.here = Some(us[0].clone());
                ctx.numcopies = Some(numcopies);
                let mut gm = BTreeMap::new();
                for (u, gs) in us.iter().zip(groups) {
                    gm.insert(
                        u.clone(),
                        gs.into_iter()
                            .map(|g| GROUPS[g].as_bytes().to_vec())
                            .collect(),
                    );
                }
                ctx.set_groups(gm);
                let levels = [
                    TrustLevel::Trusted,
                    TrustLevel::SemiTrusted,
                    TrustLevel::Untrusted,
                    TrustLevel::Dead,
                ];
                ctx.trust = us
                    .iter()
                    .cloned()
                    .zip(trust.into_iter().map(|t| levels[t]))
                    .collect();
                let s = if sized {
                    format!("-s{size}")
                } else {
                    String::new()
                };
                let kt = match backend {
                    0 => format!("SHA256E{s}--abc.mp3"),
                    1 => format!("MD5{s}--abc"),
                    2 => format!("WORM{s}--f"),
                    _ => format!("SHA1{s}--abc"),
                };
                let key = Key::parse(kt.as_bytes()).expect("key");
                let locs: Vec<Uuid> = us
                    .iter()
                    .zip(present)
                    .filter(|(_, p)| *p)
                    .map(|(u, _)| u.clone())
                    .collect();
                ctx.locations.insert(key.clone(), locs);
                if meta {
                    let mut m = MetaData::default();
                    m.update(
                        "tag",
                        [b"a".to_vec(), b"B".to_vec(), b"c".to_vec()][n % 3].clone(),
                        true,
                    );
                    m.update(
                        "n",
                        [
                            b"3".to_vec(),
                            b"7".to_vec(),
                            b"abc".to_vec(),
                            b"12".to_vec(),
                        ][n]
                            .clone(),
                        true,
                    );
                    ctx.metadata.insert(key.clone(), m);
                }
                if url {
                    ctx.urls
                        .insert(key.clone(), vec![b"http://example.com/x".to_vec()]);
                }
                ctx.repo_sizes.insert(us[1].clone(), 10u64);
                (ctx, path.to_owned(), key)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn print_parse_roundtrip(text in tree_strategy()) {
        let e = preferred::parse(text.as_bytes()).expect("parses");
        let printed = e.to_bytes();
        let again = preferred::parse(&printed).expect("printed parses");
        prop_assert_eq!(&e, &again, "printed: {}", String::from_utf8_lossy(&printed));
    }

    #[test]
    fn soup_print_keeps_meaning(text in soup_strategy(), (ctx, path, key) in world_strategy()) {
        let e = preferred::parse(text.as_bytes()).expect("parses");
        let again = preferred::parse(&e.to_bytes()).expect("printed parses");
        let us = uuids();
        for repo in &us {
            let item = Item::file(path.as_bytes(), Some(&key)).for_repo(Some(repo));
            prop_assert_eq!(e.matches(&ctx, &item), again.matches(&ctx, &item));
        }
    }

    #[test]
    fn optimized_equals_naive(text in soup_strategy(), (ctx, path, key) in world_strategy()) {
        let e = preferred::parse(text.as_bytes()).expect("parses");
        let fast = e.optimized();
        let us = uuids();
        for repo in us.iter().take(3) {
            for item in [
                Item::file(path.as_bytes(), Some(&key)).for_repo(Some(repo)),
                Item::key(&key).for_repo(Some(repo)),
            ] {
                prop_assert_eq!(e.matches(&ctx, &item), fast.eval(&ctx, &item), "{}", text);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let ctx = MemoryContext::default();
        let key = Key::parse(b"SHA256E-s10--abc.txt").expect("key");
        for mode in [Mode::Preferred, Mode::LargeFiles] {
            if let Ok(e) = Expr::parse(&bytes, mode) {
                let item = Item::file(b"a/b.txt", Some(&key));
                let _ = e.matches(&ctx, &item);
                let _ = e.optimized().eval(&ctx, &item);
            }
        }
    }
}

/// `sizebalanced`, `fullysizebalanced`, `balanced` and `fullybalanced` with
/// maxsizes and content already spread (a repository too full for a key
/// drops out): the repositories' sizes are summed from the location logs
/// (what the reference's size database holds), and the picks agree.
#[test]
fn size_balanced_picks_match_reference() {
    let dir = support::new_git_repo();
    let d = dir.path();
    annex(d, &["init", "-q", "here"]);
    git(d, &["config", "annex.alwayscommit", "false"]);
    let remotes = tempfile::tempdir().expect("tempdir");
    let mut uuids = Vec::new();
    let maxsizes = ["3000000", "5000000", "2000000", "8000000"];
    for (i, max) in maxsizes.iter().enumerate() {
        let r = format!("r{}", i + 1);
        let rd = remotes.path().join(&r);
        std::fs::create_dir(&rd).expect("mkdir");
        annex(
            d,
            &[
                "initremote",
                &r,
                "type=directory",
                &format!("directory={}", rd.display()),
                "encryption=none",
            ],
        );
        annex(d, &["group", &r, "grp"]);
        annex(d, &["maxsize", &r, max]);
        uuids.push(uuid_of(d, &r));
    }
    let mut rng = Rng(0x51ce);
    let mut input = String::new();
    let mut present = String::new();
    let mut files = Vec::new();
    for i in 0..300 {
        let size = 1000 + rng.below(60_000);
        let key = format!("SHA256E-s{size}--{:064x}.bin", i + 7);
        let path = format!("g{i}.bin");
        input.push_str(&format!("{key} {path}\n"));
        for u in &uuids {
            if rng.below(4) == 0 {
                present.push_str(&format!("{key} {u} 1\n"));
            }
        }
        files.push((path, Key::parse(key.as_bytes()).expect("key")));
    }
    for (args, stdin) in [
        (&["fromkey", "--force", "--batch"][..], input),
        (&["setpresentkey", "--batch"][..], present),
    ] {
        let out = annex_output(d, args, Some(stdin.as_bytes()));
        assert!(out.status.success(), "{args:?}: {out:?}");
    }
    for expr in [
        "fullysizebalanced=grp:2",
        "sizebalanced=grp",
        "balanced=grp:2",
        "fullybalanced=grp:3",
    ] {
        for i in 1..=4 {
            annex(d, &["wanted", &format!("r{i}"), expr]);
        }
        let repo = Repo::open(d).expect("open");
        let state = State::new(repo.branch().expect("branch"));
        let mut ctx = StateContext::new(&state, repo.uuid().cloned(), None, &Default::default())
            .expect("ctx");
        // Repository sizes from the location logs.
        let mut sizes: BTreeMap<Uuid, u64> = BTreeMap::new();
        for (_, key) in &files {
            for u in state.whereis(key).expect("whereis") {
                *sizes.entry(u).or_default() += key.size().unwrap_or(0);
            }
        }
        ctx.set_repo_sizes(sizes);
        let e = preferred::parse(expr.as_bytes()).expect("parse");
        let mut ours: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (path, key) in &files {
            for (i, u) in uuids.iter().enumerate() {
                let item = Item::file(path.as_bytes(), Some(key)).for_repo(Some(u));
                if e.matches(&ctx, &item).expect("eval") {
                    ours.entry(path.clone())
                        .or_default()
                        .insert(format!("r{}", i + 1));
                }
            }
        }
        let mut theirs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for i in 1..=4 {
            let r = format!("r{i}");
            let out = annex(
                d,
                &["find", &format!("--want-get-by={r}"), "--format=${file}\\n"],
            );
            for f in out.lines() {
                theirs.entry(f.to_owned()).or_default().insert(r.clone());
            }
        }
        assert!(!ours.is_empty(), "{expr}: something is wanted");
        assert_eq!(ours, theirs, "{expr}");
    }
}
