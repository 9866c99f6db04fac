//! Integration tests: logs.
//!
//! - `reference_to_us`: the reference git-annex sets values with its
//!   commands; we parse the branch files it wrote and check we read the same
//!   values the reference reports.
//! - `us_to_reference`: we write log content into the journal; the
//!   reference's commands must report what we wrote.
//! - property tests: round trips, and union merge being commutative,
//!   associative and idempotent for every log kind.
//! - a malformed-input corpus for every parser.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use annex_core::logs::{self, LogKind, presence::Status};
use annex_core::timestamp::Timestamp;
use annex_core::uuid::Uuid;

use crate::support;

const CLOCK: &str = "1700000000.5";

/// Runs the reference with a fixed vector clock; returns its stdout
/// whatever its exit status (`whereis` fails for a key with no copies).
fn ga_any(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new(support::reference_git_annex());
    support::hermetic(&mut cmd)
        .current_dir(dir)
        .args(args)
        .env("GIT_ANNEX_VECTOR_CLOCK", CLOCK)
        .stdin(std::process::Stdio::null());
    let out = cmd.output().expect("run git-annex");
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs the reference with a fixed vector clock; panics on failure.
fn ga(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new(support::reference_git_annex());
    support::hermetic(&mut cmd)
        .current_dir(dir)
        .args(args)
        .env("GIT_ANNEX_VECTOR_CLOCK", CLOCK)
        .stdin(std::process::Stdio::null());
    let out = cmd.output().expect("run git-annex");
    assert!(
        out.status.success(),
        "git-annex {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// A branch file's content: the journal's copy if there is one, else the
/// committed one, else empty.
fn branch_file(dir: &Path, path: &str) -> Vec<u8> {
    let j = dir.join(".git/annex/journal").join(journal_name(path));
    if let Ok(b) = std::fs::read(&j) {
        return b;
    }
    let mut cmd = Command::new("git");
    support::hermetic(&mut cmd)
        .current_dir(dir)
        .args(["show", &format!("git-annex:{path}")]);
    let out = cmd.output().expect("git show");
    if out.status.success() {
        out.stdout
    } else {
        Vec::new()
    }
}

/// The journal file name of a branch path (`/` becomes `_`, `_` doubles),
/// as in git-annex's Annex/Journal.hs.
fn journal_name(path: &str) -> String {
    path.replace('_', "__").replace('/', "_")
}

fn write_journal(dir: &Path, path: &str, content: &[u8]) {
    let jd = dir.join(".git/annex/journal");
    std::fs::create_dir_all(&jd).expect("journal dir");
    std::fs::write(jd.join(journal_name(path)), content).expect("write journal");
}

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s.lines().last().unwrap_or("")).expect("json output")
}

fn here_uuid(dir: &Path) -> Uuid {
    Uuid::parse(
        support::git(dir, &["config", "annex.uuid"])
            .trim()
            .as_bytes(),
    )
    .expect("uuid")
}

/// The trust level the reference's `info --json` reports for a UUID.
fn info_trust(dir: &Path, u: &Uuid) -> Option<&'static str> {
    let info = json(&ga(dir, &["info", "--fast", "--json"]));
    for (field, level) in [
        ("trusted repositories", "trusted"),
        ("semitrusted repositories", "semitrusted"),
        ("untrusted repositories", "untrusted"),
    ] {
        if let Some(list) = info[field].as_array()
            && list.iter().any(|r| r["uuid"] == u.as_str())
        {
            return Some(level);
        }
    }
    None
}

fn info_description(dir: &Path, u: &Uuid) -> Option<String> {
    let info = json(&ga(dir, &["info", "--fast", "--json"]));
    for field in [
        "trusted repositories",
        "semitrusted repositories",
        "untrusted repositories",
    ] {
        for r in info[field].as_array().into_iter().flatten() {
            if r["uuid"] == u.as_str() {
                return r["description"].as_str().map(str::to_owned);
            }
        }
    }
    None
}

fn key_dir(key: &str) -> String {
    let k = annex_core::key::Key::parse(key.as_bytes()).expect("key");
    annex_core::objects::hash_dir_lower(&k)
}

/// The UUIDs `whereis --json --key` reports (trusted or not).
fn whereis_uuids(dir: &Path, key: &str) -> BTreeSet<String> {
    let w = json(&ga_any(dir, &["whereis", "--json", "--key", key]));
    let mut s = BTreeSet::new();
    for field in ["whereis", "untrusted"] {
        for r in w[field].as_array().into_iter().flatten() {
            s.insert(r["uuid"].as_str().unwrap_or_default().to_owned());
        }
    }
    s
}

fn whereis_urls(dir: &Path, key: &str) -> BTreeSet<String> {
    let w = json(&ga(dir, &["whereis", "--json", "--key", key]));
    let mut s = BTreeSet::new();
    for r in w["whereis"].as_array().into_iter().flatten() {
        for u in r["urls"].as_array().into_iter().flatten() {
            s.insert(u.as_str().unwrap_or_default().to_owned());
        }
    }
    s
}

fn metadata_fields(dir: &Path, key: &str) -> BTreeMap<String, BTreeSet<String>> {
    let m = json(&ga(dir, &["metadata", "--json", "--key", key]));
    let mut out = BTreeMap::new();
    if let Some(obj) = m["fields"].as_object() {
        for (k, v) in obj {
            let vals = v
                .as_array()
                .into_iter()
                .flatten()
                .map(|x| x.as_str().unwrap_or_default().to_owned())
                .collect();
            out.insert(k.clone(), vals);
        }
    }
    out
}

fn our_metadata(content: &[u8]) -> BTreeMap<String, BTreeSet<String>> {
    let md = logs::metadata::current_with_lastchanged(&logs::metadata::parse(content));
    md.fields
        .values()
        .map(|f| {
            (
                f.name.clone(),
                f.values
                    .keys()
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .collect(),
            )
        })
        .collect()
}

fn lines_of(s: &str) -> BTreeSet<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn reference_to_us() {
    let repo = support::new_git_repo();
    let d = repo.path();
    ga(d, &["init", "-q", "first description"]);
    let here = here_uuid(d);

    // uuid.log
    let descs =
        |d: &Path| logs::uuid::descriptions(&logs::uuid::parse(&branch_file(d, "uuid.log")));
    assert_eq!(
        descs(d)
            .get(&here)
            .map(|v| String::from_utf8_lossy(v).into_owned()),
        info_description(d, &here)
    );
    ga(d, &["describe", "here", "second  description"]);
    assert_eq!(descs(d)[&here], b"second  description");
    assert_eq!(
        info_description(d, &here).as_deref(),
        Some("second  description")
    );

    // trust.log
    for (cmd, extra) in [
        ("untrust", None),
        ("semitrust", None),
        ("trust", Some("--force")),
        ("untrust", None),
    ] {
        let mut args = vec![cmd, "here"];
        args.extend(extra);
        ga(d, &args);
        let log = logs::trust::parse(&branch_file(d, "trust.log"));
        let ours = logs::trust::current(&log)[&here].name();
        assert_eq!(Some(ours), info_trust(d, &here), "after {cmd}");
    }

    // group.log
    ga(d, &["group", "here", "g1"]);
    ga(d, &["group", "here", "g2"]);
    ga(d, &["group", "here", "g3"]);
    ga(d, &["ungroup", "here", "g2"]);
    let groups = logs::group::current(&logs::group::parse(&branch_file(d, "group.log")));
    let ours: BTreeSet<String> = groups[&here]
        .iter()
        .map(|g| String::from_utf8_lossy(g).into_owned())
        .collect();
    assert_eq!(ours, lines_of(&ga(d, &["group", "here"])));

    // preferred / required / group preferred content
    ga(d, &["wanted", "here", "include=*.txt and  exclude=*.b"]);
    ga(d, &["required", "here", "exclude=*"]);
    ga(d, &["groupwanted", "g1", "anything"]);
    let pc = logs::preferred_content::current(&logs::preferred_content::parse(&branch_file(
        d,
        "preferred-content.log",
    )));
    assert_eq!(
        String::from_utf8_lossy(&pc[&here]),
        ga(d, &["wanted", "here"]).trim_end()
    );
    let rc = logs::preferred_content::current(&logs::preferred_content::parse(&branch_file(
        d,
        "required-content.log",
    )));
    assert_eq!(
        String::from_utf8_lossy(&rc[&here]),
        ga(d, &["required", "here"]).trim_end()
    );
    let gc = logs::preferred_content::group_current(&logs::preferred_content::parse_group(
        &branch_file(d, "group-preferred-content.log"),
    ));
    assert_eq!(
        String::from_utf8_lossy(&gc[&b"g1".to_vec()]),
        ga(d, &["groupwanted", "g1"]).trim_end()
    );

    // numcopies / mincopies
    ga(d, &["numcopies", "3"]);
    ga(d, &["numcopies", "4"]);
    ga(d, &["mincopies", "2"]);
    let n = logs::numcopies::current(&branch_file(d, "numcopies.log"));
    assert_eq!(
        n.map(|n| n.to_string()),
        Some(ga(d, &["numcopies"]).trim().to_owned())
    );
    let m = logs::numcopies::current(&branch_file(d, "mincopies.log"));
    assert_eq!(
        m.map(|n| n.to_string()),
        Some(ga(d, &["mincopies"]).trim().to_owned())
    );
    // The second numcopies advanced the fixed clock past the first.
    let nlog = logs::numcopies::parse(&branch_file(d, "numcopies.log"));
    assert_eq!(
        nlog.newest_entry().map(|e| e.changed),
        Some(
            Timestamp::parse(CLOCK.as_bytes())
                .unwrap()
                .plus_picos(1_000_000_000_000)
        )
    );

    // config.log
    ga(d, &["config", "--set", "annex.autocommit", "false"]);
    ga(
        d,
        &["config", "--set", "annex.largefiles", "largerthan=1kb"],
    );
    ga(d, &["config", "--unset", "annex.largefiles"]);
    let cfg = logs::config::current(&logs::config::parse(&branch_file(d, "config.log")));
    assert_eq!(
        String::from_utf8_lossy(&cfg[&b"annex.autocommit".to_vec()]),
        ga(d, &["config", "--get", "annex.autocommit"]).trim_end()
    );
    assert!(!cfg.contains_key(b"annex.largefiles".as_slice()));

    // maxsize.log: the reference shows sizes rounded; check the value we
    // gave it and that the reference lists the repository with a maxsize.
    ga(d, &["maxsize", "here", "1000000"]);
    let ms = logs::maxsize::current(&logs::maxsize::parse(&branch_file(d, "maxsize.log")));
    assert_eq!(ms[&here], 1_000_000);
    assert!(ga(d, &["maxsize"]).contains("1 MB"));

    // remote.log, with a value that needs escaping
    let rdir = tempfile::tempdir().expect("tempdir");
    let sub = rdir.path().join("dir");
    std::fs::create_dir_all(&sub).expect("mkdir");
    let dir_arg = format!("directory={}", sub.display());
    ga(
        d,
        &[
            "initremote",
            "dr",
            "type=directory",
            &dir_arg,
            "encryption=none",
        ],
    );
    let remotes = logs::remote::current(&logs::remote::parse(&branch_file(d, "remote.log")));
    let (ruuid, cfg) = remotes
        .iter()
        .find(|(_, c)| c.get(&b"name".to_vec()).map(Vec::as_slice) == Some(b"dr"))
        .expect("remote dr in remote.log");
    assert_eq!(cfg[&b"type".to_vec()], b"directory");
    assert_eq!(cfg[&b"encryption".to_vec()], b"none");
    // (The directory is kept in git config, not in remote.log.)
    // The reference knows this UUID as the remote dr.
    assert!(
        info_description(d, ruuid)
            .unwrap_or_default()
            .contains("dr")
    );

    // location log and URL log
    let key = "SHA256E-s3--abc.txt";
    let loc_path = format!("{}{key}.log", key_dir(key));
    ga(d, &["setpresentkey", key, here.as_str(), "1"]);
    ga(d, &["registerurl", key, "http://example.com/a"]);
    ga(d, &["registerurl", key, "http://example.com/b"]);
    ga(d, &["unregisterurl", key, "http://example.com/b"]);
    let loc = logs::location::LocationLog::parse(&branch_file(d, &loc_path));
    let ours: BTreeSet<String> = loc.present_uuids().iter().map(|u| u.to_string()).collect();
    assert_eq!(ours, whereis_uuids(d, key));
    let web = logs::web::parse(&branch_file(d, &format!("{}{key}.log.web", key_dir(key))));
    let ours: BTreeSet<String> = logs::web::urls(&web)
        .iter()
        .map(|u| String::from_utf8_lossy(u).into_owned())
        .collect();
    assert_eq!(ours, whereis_urls(d, key));
    ga(d, &["setpresentkey", key, here.as_str(), "0"]);
    let loc = logs::location::LocationLog::parse(&branch_file(d, &loc_path));
    let ours: BTreeSet<String> = loc.present_uuids().iter().map(|u| u.to_string()).collect();
    assert_eq!(ours, whereis_uuids(d, key));

    // metadata log
    let met_path = format!("{}{key}.log.met", key_dir(key));
    ga(
        d,
        &[
            "metadata",
            "--key",
            key,
            "-s",
            "tag=a",
            "-s",
            "tag=b",
            "-s",
            "Author=x y",
        ],
    );
    ga(
        d,
        &["metadata", "--key", key, "-s", "tag-=a", "-s", "note=!bang"],
    );
    ga(d, &["metadata", "--key", key, "-s", "author=z"]);
    assert_eq!(
        our_metadata(&branch_file(d, &met_path)),
        metadata_fields(d, key)
    );

    // Field names are compared with full case folding.
    let key2 = "SHA256E-s1--fold";
    for set in ["Straße=1", "STRASSE=2", "ΣΑΣ=3", "σας=4", "Ǆ=5", "ǆ=6"] {
        ga(d, &["metadata", "--key", key2, "-s", set]);
    }
    let met2 = branch_file(d, &format!("{}{key2}.log.met", key_dir(key2)));
    assert_eq!(our_metadata(&met2), metadata_fields(d, key2));
}

#[test]
fn us_to_reference() {
    let repo = support::new_git_repo();
    let d = repo.path();
    ga(d, &["init", "-q", "x"]);
    let here = here_uuid(d);
    let t = Timestamp::parse(b"1800000000.25s").unwrap();

    let new = logs::uuid::set_description(&branch_file(d, "uuid.log"), &here, b"from rust", t);
    write_journal(d, "uuid.log", &new);
    assert_eq!(info_description(d, &here).as_deref(), Some("from rust"));

    for (level, name) in [
        (logs::trust::TrustLevel::Untrusted, "untrusted"),
        (logs::trust::TrustLevel::Trusted, "trusted"),
        (logs::trust::TrustLevel::SemiTrusted, "semitrusted"),
    ] {
        let new = logs::trust::set(&branch_file(d, "trust.log"), &here, level, t);
        write_journal(d, "trust.log", &new);
        assert_eq!(info_trust(d, &here), Some(name));
    }

    let groups: BTreeSet<Vec<u8>> = [b"alpha".to_vec(), b"beta".to_vec()].into();
    let new = logs::group::set(&branch_file(d, "group.log"), &here, groups, t);
    write_journal(d, "group.log", &new);
    assert_eq!(lines_of(&ga(d, &["group", "here"])), lines_of("alpha beta"));

    let new = logs::preferred_content::set(
        &branch_file(d, "preferred-content.log"),
        &here,
        b"include=*.mp3 or largerthan=1mb",
        t,
    );
    write_journal(d, "preferred-content.log", &new);
    assert_eq!(
        ga(d, &["wanted", "here"]).trim_end(),
        "include=*.mp3 or largerthan=1mb"
    );
    let new = logs::preferred_content::set_group(
        &branch_file(d, "group-preferred-content.log"),
        b"alpha",
        b"present",
        t,
    );
    write_journal(d, "group-preferred-content.log", &new);
    assert_eq!(ga(d, &["groupwanted", "alpha"]).trim_end(), "present");

    let new = logs::numcopies::set(&branch_file(d, "numcopies.log"), 7, t);
    write_journal(d, "numcopies.log", &new);
    assert_eq!(ga(d, &["numcopies"]).trim(), "7");
    let new = logs::numcopies::set(&branch_file(d, "mincopies.log"), 2, t);
    write_journal(d, "mincopies.log", &new);
    assert_eq!(ga(d, &["mincopies"]).trim(), "2");

    let new = logs::config::set(&branch_file(d, "config.log"), b"annex.dotfiles", b"true", t);
    write_journal(d, "config.log", &new);
    assert_eq!(ga(d, &["config", "--get", "annex.dotfiles"]).trim(), "true");

    let key = "SHA256E-s5--hello.txt";
    let loc_path = format!("{}{key}.log", key_dir(key));
    let web_uuid = Uuid::parse(annex_core::uuid::WEB_UUID.as_bytes()).unwrap();
    let c = logs::location::set(&branch_file(d, &loc_path), &here, Status::Present, t)
        .expect("a change");
    let c = logs::location::set(&c, &web_uuid, Status::Present, t).expect("a change");
    write_journal(d, &loc_path, &c);
    let expect: BTreeSet<String> = [here.to_string(), web_uuid.to_string()].into();
    assert_eq!(whereis_uuids(d, key), expect);
    let c = logs::location::set(&c, &web_uuid, Status::Missing, t).expect("a change");
    assert!(logs::location::set(&c, &web_uuid, Status::Missing, t).is_none());
    write_journal(d, &loc_path, &c);
    assert_eq!(whereis_uuids(d, key), [here.to_string()].into());

    let web_path = format!("{}{key}.log.web", key_dir(key));
    let c = logs::web::set(
        &branch_file(d, &web_path),
        b"http://example.org/x",
        Status::Present,
        t,
    );
    write_journal(d, &web_path, &c);
    let c = logs::location::set(&branch_file(d, &loc_path), &web_uuid, Status::Present, t)
        .expect("a change");
    write_journal(d, &loc_path, &c);
    assert_eq!(
        whereis_urls(d, key),
        ["http://example.org/x".to_owned()].into()
    );

    let met_path = format!("{}{key}.log.met", key_dir(key));
    let mut md = logs::metadata::MetaData::default();
    md.update("Color", b"dark red".to_vec(), true);
    md.update("color", b"!blue".to_vec(), true);
    md.update("size", b"big".to_vec(), true);
    let c = logs::metadata::add(&branch_file(d, &met_path), &md, t).expect("a change");
    let mut md2 = logs::metadata::MetaData::default();
    md2.update("size", b"big".to_vec(), false);
    let c = logs::metadata::add(&c, &md2, t).expect("a change");
    write_journal(d, &met_path, &c);
    let theirs = metadata_fields(d, key);
    assert_eq!(our_metadata(&c), theirs);
    assert_eq!(
        theirs.get("color").cloned().unwrap_or_default(),
        ["!blue".to_owned(), "dark red".to_owned()].into()
    );
    assert!(!theirs.contains_key("size"));

    let new = logs::maxsize::set(&branch_file(d, "maxsize.log"), &here, 5_000_000, t);
    write_journal(d, "maxsize.log", &new);
    assert!(ga(d, &["maxsize"]).contains("5 MB"));
}

/// remote.log value escaping, on a line the reference wrote (recorded from
/// `git annex initremote rs type=rsync "rsyncurl=localhost:/tmp/a b&c"
/// encryption=none` with git-annex 10.20261026).
#[test]
fn remote_log_escaping_recorded() {
    let line: &[u8] = b"93ac210d-9dbb-45a2-aef8-3b7f953e9899 encryption=none name=rs rsyncurl=localhost:/tmp/a&32;b&38;c type=rsync timestamp=1795465249s\n";
    let log = logs::remote::parse(line);
    let cfg = logs::remote::current(&log);
    let c = cfg.values().next().expect("one remote");
    assert_eq!(c[&b"rsyncurl".to_vec()], b"localhost:/tmp/a b&c");
    assert_eq!(log.serialize(), line);
}

/// Lines the reference would skip: every parser must skip them too (and
/// keep them for rewriting), never panic.
#[test]
fn malformed_corpus() {
    let corpus: &[&[u8]] = &[
        b"",
        b"\n\n\r\r",
        b" ",
        b"x",
        b"1s",
        b"1s ",
        b"1s  ",
        b"1.s 1 u",
        b".5s 1 u",
        b"1ss 1 u",
        b"1s 2 u",
        b"1s 1",
        b"1s 11 u",
        b"-s 1 u",
        b"99999999999999999999999999999999999999999999s 1 u",
        b"\xff\xfe 1 \xff",
        b"1s \xff",
        b"1s u",
        b"timestamp=1s",
        b"u timestamp=",
        b"1s u 5x",
        b"1s u a::b",
        b"1s u a  b",
    ];
    let paths: &[&[u8]] = &[
        b"uuid.log",
        b"remote.log",
        b"trust.log",
        b"group.log",
        b"preferred-content.log",
        b"required-content.log",
        b"group-preferred-content.log",
        b"numcopies.log",
        b"mincopies.log",
        b"config.log",
        b"maxsize.log",
        b"proxy.log",
        b"cluster.log",
        b"18c/0c3/SHA256E-s10--abc.txt.log",
        b"18c/0c3/SHA256E-s10--abc.txt.log.web",
        b"18c/0c3/SHA256E-s10--abc.txt.log.met",
    ];
    for path in paths {
        let kind = LogKind::of_path(path).expect("a known log");
        for line in corpus {
            // Compacting never panics and never loses a line the parser did
            // not take: the line is either gone because it parsed, or back.
            let out = kind.compact(line);
            let again = kind.compact(&out);
            assert_eq!(out, again, "compaction is stable for {path:?} {line:?}");
        }
    }
    // Lines that are malformed for a given log come back unchanged.
    let trust_bad = b"u1 ab timestamp=1s\n";
    assert_eq!(logs::trust::parse(trust_bad).unparsed().lines().len(), 1);
    assert_eq!(LogKind::Trust.compact(trust_bad), trust_bad);
    let loc_bad = b"1s 2 u\n1s 1 u\n";
    let l = logs::presence::PresenceLog::parse(loc_bad);
    assert_eq!(l.lines().len(), 1);
    assert_eq!(l.unparsed().lines(), [b"1s 2 u".to_vec()]);
    assert!(logs::cluster::parse(b"1s ac 1  2\n").entries().is_empty());
    assert!(logs::maxsize::parse(b"1s u x5\n").entries().is_empty());
    // Trailing text after a number is ignored, as by the reference.
    assert_eq!(logs::maxsize::parse(b"1s u 5x\n").entries().len(), 1);
    assert!(logs::numcopies::parse(b"1s five\n").entries().is_empty());
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn ts() -> impl Strategy<Value = Timestamp> {
        (
            0i64..5,
            prop_oneof![Just(0i128), Just(500_000_000_000i128), 0i128..1_000_000],
        )
            .prop_map(|(s, p)| Timestamp::from_secs(s).plus_picos(p))
    }

    fn uuid() -> impl Strategy<Value = String> {
        prop_oneof![Just("u1"), Just("u2"), Just("u3"), Just("ac0000000000008x")]
            .prop_map(str::to_owned)
    }

    fn word() -> impl Strategy<Value = String> {
        "[a-z=&!+-]{0,4}"
    }

    fn line_for(kind: usize) -> BoxedStrategy<String> {
        match kind {
            // old layout UUID logs: uuid, trust, group, preferred content, remote
            0 => (uuid(), word(), word(), ts())
                .prop_map(|(u, a, b, t)| format!("{u} {a} {b} timestamp={t}"))
                .boxed(),
            1 => (
                uuid(),
                prop_oneof![Just("1"), Just("0"), Just("X"), Just("?")],
                ts(),
            )
                .prop_map(|(u, l, t)| format!("{u} {l} timestamp={t}"))
                .boxed(),
            2 => (uuid(), word(), word(), ts())
                .prop_map(|(u, a, b, t)| format!("{u} k1={a} k2={b} timestamp={t}"))
                .boxed(),
            // new layout: config, maxsize, cluster, proxy
            3 => (ts(), word(), word())
                .prop_map(|(t, k, v)| format!("{t} k{k} {v}"))
                .boxed(),
            4 => (ts(), uuid(), 0u32..100)
                .prop_map(|(t, u, n)| format!("{t} {u} {n}"))
                .boxed(),
            5 => (ts(), uuid(), uuid(), uuid())
                .prop_map(|(t, u, a, b)| format!("{t} {u} {a} {b}"))
                .boxed(),
            6 => (ts(), uuid(), uuid(), word())
                .prop_map(|(t, u, a, n)| format!("{t} {u} {a}:n{n}"))
                .boxed(),
            // single value
            7 => (ts(), 0i64..5)
                .prop_map(|(t, n)| format!("{t} {n}"))
                .boxed(),
            // presence
            8 => (ts(), prop_oneof![Just('0'), Just('1'), Just('X')], uuid())
                .prop_map(|(t, s, u)| format!("{t} {s} {u}"))
                .boxed(),
            // metadata
            _ => (ts(), word(), prop::bool::ANY, word(), word())
                .prop_map(|(t, f, s, v, g)| {
                    format!("{t} f{f} {}{v} G{g} +{v}", if s { '+' } else { '-' })
                })
                .boxed(),
        }
    }

    const KINDS: &[(&[u8], usize)] = &[
        (b"uuid.log", 0),
        (b"trust.log", 1),
        (b"group.log", 0),
        (b"preferred-content.log", 0),
        (b"required-content.log", 0),
        (b"remote.log", 2),
        (b"group-preferred-content.log", 3),
        (b"config.log", 3),
        (b"maxsize.log", 4),
        (b"cluster.log", 5),
        (b"proxy.log", 6),
        (b"numcopies.log", 7),
        (b"mincopies.log", 7),
        (b"18c/0c3/SHA256E-s10--abc.txt.log", 8),
        (b"18c/0c3/SHA256E-s10--abc.txt.log.web", 8),
        (b"18c/0c3/SHA256E-s10--abc.txt.log.met", 9),
    ];

    fn content(kind: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(line_for(kind), 0..6).prop_map(|ls| {
            let mut s = ls.join("\n");
            if !s.is_empty() {
                s.push('\n');
            }
            s.into_bytes()
        })
    }

    /// The semantic value of a log: what a reader gets from it.
    fn semantic(path: &[u8], c: &[u8]) -> String {
        match LogKind::of_path(path).expect("known") {
            LogKind::Uuid => format!("{:?}", logs::uuid::parse(c).values()),
            LogKind::Trust => format!("{:?}", logs::trust::parse(c).values()),
            LogKind::Group => format!("{:?}", logs::group::parse(c).values()),
            LogKind::Remote => format!("{:?}", logs::remote::parse(c).values()),
            LogKind::PreferredContent | LogKind::RequiredContent => {
                format!("{:?}", logs::preferred_content::parse(c).values())
            }
            LogKind::GroupPreferredContent => {
                format!("{:?}", logs::preferred_content::parse_group(c).values())
            }
            LogKind::Config => format!("{:?}", logs::config::parse(c).values()),
            LogKind::MaxSize => format!("{:?}", logs::maxsize::parse(c).values()),
            LogKind::Cluster => format!("{:?}", logs::cluster::parse(c).values()),
            LogKind::Proxy => format!("{:?}", logs::proxy::parse(c).values()),
            LogKind::NumCopies | LogKind::MinCopies => {
                format!("{:?}", logs::numcopies::current(c))
            }
            LogKind::Location(_) | LogKind::Url(_) => {
                let l = logs::presence::PresenceLog::parse(c);
                format!("{:?}", l.current())
            }
            LogKind::MetaData(_) | LogKind::RemoteMetaData(_) => {
                let l = logs::metadata::parse(c);
                format!(
                    "{:?}",
                    logs::metadata::combined(&l)
                        .fields
                        .iter()
                        .map(|(k, f)| (k.clone(), f.values.clone()))
                        .collect::<Vec<_>>()
                )
            }
        }
    }

    /// Bytes that look a bit like log lines.
    fn noisy() -> impl Strategy<Value = Vec<u8>> {
        const PARTS: &[&[u8]] = &[
            b" ",
            b"\n",
            b"1s",
            b"2.5s",
            b"1",
            b"0",
            b"X",
            b"u1",
            b"u2",
            b"+a",
            b"-a",
            b"f",
            b"timestamp=3s",
            b":",
            b"=",
            b"\r",
            b"\xff",
        ];
        prop::collection::vec(prop::sample::select(PARTS), 0..30).prop_map(|parts| parts.concat())
    }

    fn kind_and_contents(n: usize) -> impl Strategy<Value = (usize, Vec<Vec<u8>>)> {
        (0..KINDS.len())
            .prop_flat_map(move |k| (Just(k), prop::collection::vec(content(KINDS[k].1), n..=n)))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn compaction_round_trips((k, vs) in kind_and_contents(1)) {
            let path = KINDS[k].0;
            let kind = LogKind::of_path(path).unwrap();
            let c = kind.compact(&vs[0]);
            // Compacted content parses back to what it serialized from.
            prop_assert_eq!(kind.compact(&c), c.clone());
            prop_assert_eq!(semantic(path, &c), semantic(path, &vs[0]));
        }

        #[test]
        fn merge_commutative((k, vs) in kind_and_contents(2)) {
            let path = KINDS[k].0;
            let ab = logs::union_merge(path, &[&vs[0], &vs[1]]);
            let ba = logs::union_merge(path, &[&vs[1], &vs[0]]);
            prop_assert_eq!(semantic(path, &ab), semantic(path, &ba));
        }

        #[test]
        fn merge_associative((k, vs) in kind_and_contents(3)) {
            let path = KINDS[k].0;
            let ab = logs::union_merge(path, &[&vs[0], &vs[1]]);
            let ab_c = logs::union_merge(path, &[&ab, &vs[2]]);
            let bc = logs::union_merge(path, &[&vs[1], &vs[2]]);
            let a_bc = logs::union_merge(path, &[&vs[0], &bc]);
            prop_assert_eq!(semantic(path, &ab_c), semantic(path, &a_bc));
        }

        #[test]
        fn merge_idempotent((k, vs) in kind_and_contents(2)) {
            let path = KINDS[k].0;
            let ab = logs::union_merge(path, &[&vs[0], &vs[1]]);
            let ab_ab = logs::union_merge(path, &[&ab, &ab]);
            let ab_a = logs::union_merge(path, &[&ab, &vs[0]]);
            prop_assert_eq!(semantic(path, &ab_ab), semantic(path, &ab));
            prop_assert_eq!(semantic(path, &ab_a), semantic(path, &ab));
        }

        #[test]
        fn compaction_stable_on_any_bytes(k in 0..KINDS.len(), c in prop::collection::vec(prop_oneof![Just(b' '), Just(b'\n'), Just(b'1'), Just(b's'), Just(b'.'), Just(b'u'), Just(b'+'), Just(b'-'), Just(b':'), Just(b'='), any::<u8>()], 0..40)) {
            let kind = LogKind::of_path(KINDS[k].0).unwrap();
            let once = kind.compact(&c);
            prop_assert_eq!(kind.compact(&once), once);
        }

        #[test]
        fn merge_any_bytes(k in 0..KINDS.len(), a in noisy(), b in noisy()) {
            let path = KINDS[k].0;
            let ab = logs::union_merge(path, &[&a, &b]);
            let ba = logs::union_merge(path, &[&b, &a]);
            prop_assert_eq!(semantic(path, &ab), semantic(path, &ba));
            let ab_a = logs::union_merge(path, &[&ab, &a]);
            prop_assert_eq!(semantic(path, &ab_a), semantic(path, &ab));
        }

        #[test]
        fn timestamp_round_trips(p in any::<i64>()) {
            let t = Timestamp::from_picos(i128::from(p) * 1000 + 7);
            prop_assert_eq!(Timestamp::parse(t.to_string().as_bytes()), Ok(t));
        }

        #[test]
        fn plain_union_is_sorted_set(a in "[ab\n]{0,8}", b in "[ab\n]{0,8}") {
            let m = logs::union_merge(b"other/file", &[a.as_bytes(), b.as_bytes()]);
            let m2 = logs::union_merge(b"other/file", &[b.as_bytes(), a.as_bytes()]);
            let set = |x: &[u8]| -> BTreeSet<Vec<u8>> {
                let body = x.strip_suffix(b"\n").unwrap_or(x);
                if x.is_empty() { BTreeSet::new() } else { body.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect() }
            };
            let mut expect = set(a.as_bytes());
            expect.extend(set(b.as_bytes()));
            prop_assert_eq!(set(&m), expect.clone());
            prop_assert_eq!(set(&m2), expect);
        }
    }
}

/// Timestamp forms and number forms: we must read them as the reference
/// does. Each case is a two-line location log (or a numcopies log) written
/// to the journal; the reference's report is compared with ours.
#[test]
fn reference_reads_odd_forms() {
    let repo = support::new_git_repo();
    let d = repo.path();
    ga(d, &["init", "-q", "x"]);
    let here = here_uuid(d);
    let key = "SHA256E-s5--forms.txt";
    let loc_path = format!("{}{key}.log", key_dir(key));
    // First line: present at 10s. Second line: missing at an odd form; if
    // it parses and is newer, the key is not here.
    for form in [
        "11",
        "11s",
        "+11s",
        "10.5",
        "10.000000000001s",
        "10.0000000000001s",
        "-0.5s",
        "-11s",
        "10.s",
        "1e2s",
        "10s",
        "9.9999999999999s",
        " 11s",
    ] {
        let content = format!("10s 1 {here}\n{form} 0 {here}\n");
        write_journal(d, &loc_path, content.as_bytes());
        let ours: BTreeSet<String> = logs::location::LocationLog::parse(content.as_bytes())
            .present_uuids()
            .iter()
            .map(|u| u.to_string())
            .collect();
        assert_eq!(ours, whereis_uuids(d, key), "time form {form:?}");
    }
    for form in [
        "5",
        " 5 ",
        "(5)",
        "( 5 )",
        "0x10",
        "0o10",
        "-3",
        "- 3",
        "0",
        "5x",
        "+5",
        "5.0",
        "99999999999999999999",
        "5 x",
        "(5)x",
        "0x1g",
        "0x",
        "5e2",
        "5E+2",
        "5e",
        "5.",
        "07",
        "(5",
        "5)",
        "--5",
        "-(5)",
        "((7))",
        "abc",
        "",
    ] {
        let content = format!("1s {form}\n");
        write_journal(d, "numcopies.log", content.as_bytes());
        let theirs = ga(d, &["numcopies"]);
        let ours = logs::numcopies::current(content.as_bytes());
        match ours {
            Some(n) => assert_eq!(theirs.trim(), n.to_string(), "numcopies form {form:?}"),
            None => assert!(
                theirs.contains("not set"),
                "numcopies form {form:?}: {theirs}"
            ),
        }
    }
}

/// cluster.log and proxy.log as the reference writes them (initcluster,
/// updatecluster, updateproxy), checked against the UUIDs the reference
/// keeps in git config.
#[test]
fn reference_cluster_and_proxy() {
    let top = tempfile::tempdir().expect("tempdir");
    let c1 = top.path().join("c1");
    let c2 = top.path().join("c2");
    std::fs::create_dir_all(&c1).expect("mkdir");
    support::git(&c1, &["init", "-q", "-b", "main"]);
    ga(&c1, &["init", "-q", "c1"]);
    support::git(
        top.path(),
        &["clone", "-q", c1.to_str().expect("utf-8 path"), "c2"],
    );
    ga(&c2, &["init", "-q", "c2"]);
    ga(&c2, &["initcluster", "mycl"]);
    support::git(&c2, &["config", "remote.origin.annex-cluster-node", "mycl"]);
    ga(&c2, &["updatecluster"]);
    support::git(&c2, &["config", "remote.origin.annex-proxy", "true"]);
    ga(&c2, &["updateproxy"]);

    let cluster_uuid = support::git(&c2, &["config", "annex.cluster.mycl"]);
    let cluster_uuid = Uuid::parse(cluster_uuid.trim().as_bytes()).expect("cluster uuid");
    let origin_uuid = support::git(&c2, &["config", "remote.origin.annex-uuid"]);
    let origin_uuid = origin_uuid.trim().as_bytes().to_vec();

    let clusters = logs::cluster::clusters(&logs::cluster::parse(&branch_file(&c2, "cluster.log")));
    assert!(logs::cluster::is_cluster_uuid(
        cluster_uuid.as_str().as_bytes()
    ));
    assert_eq!(clusters[&cluster_uuid], [origin_uuid.clone()].into());

    let proxies = logs::proxy::current(&logs::proxy::parse(&branch_file(&c2, "proxy.log")));
    let mine = &proxies[&here_uuid(&c2)];
    let expect: BTreeSet<logs::proxy::Proxy> = [
        logs::proxy::Proxy {
            uuid: cluster_uuid.as_str().as_bytes().to_vec(),
            name: b"mycl".to_vec(),
        },
        logs::proxy::Proxy {
            uuid: origin_uuid,
            name: b"origin".to_vec(),
        },
    ]
    .into();
    assert_eq!(mine, &expect);
}

/// Several changes in one process with a fixed clock: the reference (one
/// `metadata --batch` run) advances the clock past the log's newest line
/// each time; our setter, fed the same changes, writes the same log.
#[test]
fn vector_clock_in_one_process() {
    let repo = support::new_git_repo();
    let d = repo.path();
    ga(d, &["init", "-q", "x"]);
    let key = "SHA256E-s5--clock.txt";
    let batch = format!(
        "{{\"key\":\"{key}\",\"fields\":{{\"a\":[\"1\"]}}}}\n{{\"key\":\"{key}\",\"fields\":{{\"a\":[\"2\"]}}}}\n{{\"key\":\"{key}\",\"fields\":{{\"b\":[\"3\"]}}}}\n"
    );
    let mut cmd = Command::new(support::reference_git_annex());
    support::hermetic(&mut cmd)
        .current_dir(d)
        .args(["metadata", "--batch", "--json"])
        .env("GIT_ANNEX_VECTOR_CLOCK", CLOCK)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(batch.as_bytes()).expect("write batch");
    }
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let theirs = branch_file(d, &format!("{}{key}.log.met", key_dir(key)));

    let clock = annex_core::timestamp::Clock::from_env_value(CLOCK.as_bytes());
    let mut ours = Vec::new();
    for (f, v) in [("a", "1"), ("a", "2"), ("b", "3")] {
        // --batch --json sets the field to exactly the given values.
        let cur = logs::metadata::current(&logs::metadata::parse(&ours));
        let mut md = logs::metadata::MetaData::default();
        for old in cur.values_of(f) {
            md.update(f, old, false);
        }
        md.update(f, v.as_bytes().to_vec(), true);
        ours = logs::metadata::add(&ours, &md, clock.candidate()).expect("a change");
    }
    assert_eq!(
        ours,
        theirs,
        "ours:\n{}theirs:\n{}",
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs)
    );
}

/// Which record wins: clocks, ties, missing clocks and odd trust values,
/// written to the journal and compared with what the reference reports.
#[test]
fn reference_tie_breaks() {
    let repo = support::new_git_repo();
    let d = repo.path();
    ga(d, &["init", "-q", "x"]);
    let u = here_uuid(d);
    for content in [
        format!("{u} 1\n{u} 0 timestamp=1s\n"),
        format!("{u} 0 timestamp=1s\n{u} 1\n"),
        format!("{u} 1 timestamp=1s\n{u} 0 timestamp=1s\n"),
        format!("{u} 0 timestamp=1s\n{u} 1 timestamp=1s\n"),
        format!("{u}\n"),
        format!("{u} timestamp=5s\n"),
        format!("{u} a timestamp=5s\n"),
        format!("{u} ab timestamp=5s\n"),
        format!("{u} 0 timestamp=2s\r\n\r{u} 1 timestamp=1.5s\n"),
        format!("{u} 0 timestamp=bad\n"),
    ] {
        write_journal(d, "trust.log", content.as_bytes());
        let ours = logs::trust::current(&logs::trust::parse(content.as_bytes()))
            .get(&u)
            .map_or("semitrusted", |l| l.name());
        assert_eq!(Some(ours), info_trust(d, &u), "trust.log {content:?}");
    }
    let key = "SHA256E-s5--ties.txt";
    let loc_path = format!("{}{key}.log", key_dir(key));
    for content in [
        format!("1s 1 {u}\n1s 0 {u}\n"),
        format!("1s 0 {u}\n1s 1 {u}\n"),
        format!("2s 1 {u}\n1s 0 {u}\n"),
        format!("1s X {u}\n1s 1 {u}\n"),
    ] {
        write_journal(d, &loc_path, content.as_bytes());
        let ours: BTreeSet<String> = logs::location::LocationLog::parse(content.as_bytes())
            .present_uuids()
            .iter()
            .map(|x| x.to_string())
            .collect();
        assert_eq!(ours, whereis_uuids(d, key), "location log {content:?}");
    }
}

/// Our setters, given the content before a reference command, the same
/// change and the same candidate clock, must write exactly the bytes the
/// reference wrote.
#[test]
fn setters_match_reference_bytes() {
    let repo = support::new_git_repo();
    let d = repo.path();
    ga(d, &["init", "-q", "x"]);
    let here = here_uuid(d);
    let c = Timestamp::parse(CLOCK.as_bytes()).unwrap();
    let key = "SHA256E-s5--setters.txt";
    let loc = format!("{}{key}.log", key_dir(key));
    let web = format!("{}{key}.log.web", key_dir(key));
    let web_uuid = Uuid::parse(annex_core::uuid::WEB_UUID.as_bytes()).unwrap();

    type Setter<'a> = Box<dyn Fn(&[u8]) -> Vec<u8> + 'a>;
    let steps: Vec<(&str, Vec<&str>, Setter)> = vec![
        (
            "uuid.log",
            vec!["describe", "here", "two\nlines"],
            Box::new(|old| logs::uuid::set_description(old, &here, b"two\nlines", c)),
        ),
        (
            "uuid.log",
            vec!["describe", "here", "again"],
            Box::new(|old| logs::uuid::set_description(old, &here, b"again", c)),
        ),
        (
            "trust.log",
            vec!["untrust", "here"],
            Box::new(|old| logs::trust::set(old, &here, logs::trust::TrustLevel::Untrusted, c)),
        ),
        (
            "trust.log",
            vec!["semitrust", "here"],
            Box::new(|old| logs::trust::set(old, &here, logs::trust::TrustLevel::SemiTrusted, c)),
        ),
        (
            "group.log",
            vec!["group", "here", "zeta"],
            Box::new(|old| logs::group::set(old, &here, [b"zeta".to_vec()].into(), c)),
        ),
        (
            "group.log",
            vec!["group", "here", "alpha"],
            Box::new(|old| {
                logs::group::set(old, &here, [b"zeta".to_vec(), b"alpha".to_vec()].into(), c)
            }),
        ),
        (
            "preferred-content.log",
            vec!["wanted", "here", "include=*"],
            Box::new(|old| logs::preferred_content::set(old, &here, b"include=*", c)),
        ),
        (
            "required-content.log",
            vec!["required", "here", "present"],
            Box::new(|old| logs::preferred_content::set(old, &here, b"present", c)),
        ),
        (
            "group-preferred-content.log",
            vec!["groupwanted", "zeta", "anything"],
            Box::new(|old| logs::preferred_content::set_group(old, b"zeta", b"anything", c)),
        ),
        (
            "numcopies.log",
            vec!["numcopies", "2"],
            Box::new(|old| logs::numcopies::set(old, 2, c)),
        ),
        (
            "numcopies.log",
            vec!["numcopies", "3"],
            Box::new(|old| logs::numcopies::set(old, 3, c)),
        ),
        (
            "config.log",
            vec!["config", "--set", "annex.securehashesonly", "true"],
            Box::new(|old| logs::config::set(old, b"annex.securehashesonly", b"true", c)),
        ),
        (
            "config.log",
            vec!["config", "--unset", "annex.securehashesonly"],
            Box::new(|old| logs::config::set(old, b"annex.securehashesonly", b"", c)),
        ),
        (
            "maxsize.log",
            vec!["maxsize", "here", "2000"],
            Box::new(|old| logs::maxsize::set(old, &here, 2000, c)),
        ),
        (
            loc.as_str(),
            vec!["setpresentkey", key, here.as_str(), "1"],
            Box::new(|old| {
                logs::location::set(old, &here, Status::Present, c).unwrap_or(old.to_vec())
            }),
        ),
        (
            loc.as_str(),
            vec!["setpresentkey", key, here.as_str(), "0"],
            Box::new(|old| {
                logs::location::set(old, &here, Status::Missing, c).unwrap_or(old.to_vec())
            }),
        ),
        (
            web.as_str(),
            vec!["registerurl", key, "http://example.com/one"],
            Box::new(|old| logs::web::set(old, b"http://example.com/one", Status::Present, c)),
        ),
        (
            web.as_str(),
            vec!["unregisterurl", key, "http://example.com/one"],
            Box::new(|old| logs::web::set(old, b"http://example.com/one", Status::Missing, c)),
        ),
    ];
    for (path, args, setter) in steps {
        let before = branch_file(d, path);
        ga(d, &args);
        let after = branch_file(d, path);
        let ours = setter(&before);
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&after),
            "{args:?} on {path}"
        );
    }
    // registerurl also logged the web as a location, and unregisterurl
    // removed it; check our reading of that too.
    let l = logs::location::LocationLog::parse(&branch_file(d, &loc));
    assert!(!l.present_uuids().contains(&web_uuid));
}
