//! `annex_ops::info` against the reference's `git annex info --json
//! --bytes` on repositories the reference made.

use std::collections::BTreeMap;

use annex_core::logs::trust::TrustLevel;
use annex_core::uuid::Uuid;
use annex_ops::info::{KeyStats, Statistics};
use annex_ops::matching::{Filter, MatchingOpt, MatchingOptions};
use serde_json::Value;

use crate::ref_annex::{Pair, annex, annex_json, open};

fn num(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn bytes(v: &Value) -> u128 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a size in bytes: {v}"))
}

/// A count and a size of the reference's output against the library's.
fn same_keys(stats: &KeyStats, json: &Value, count: &str, size: &str) {
    assert_eq!(stats.count, num(&json[count]), "{count}: {json}");
    assert_eq!(stats.size, bytes(&json[size]), "{size}: {json}");
}

/// A list of repositories with a size each, by UUID.
fn sizes_of(list: &Value) -> BTreeMap<String, u128> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|r| {
            let uuid = r["uuid"].as_str().expect("uuid").to_owned();
            (uuid, bytes(&r["size"]))
        })
        .collect()
}

fn uuids_of(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|r| r["uuid"].as_str().expect("uuid").to_owned())
        .collect()
}

fn by_string(sizes: BTreeMap<Uuid, u128>) -> BTreeMap<String, u128> {
    sizes.into_iter().map(|(u, s)| (u.to_string(), s)).collect()
}

/// The repositories info lists: those of `uuid.log`, the remotes', and
/// the built-in web and bittorrent ones.
fn known(session: &annex_ops::Session) -> Vec<Uuid> {
    let mut known: Vec<Uuid> = session
        .state
        .descriptions()
        .expect("uuid.log")
        .into_keys()
        .collect();
    known.extend(
        session
            .config
            .remotes()
            .iter()
            .filter_map(|r| r.uuid.clone()),
    );
    for u in [
        "00000000-0000-0000-0000-000000000001",
        "00000000-0000-0000-0000-000000000002",
    ] {
        known.push(Uuid::parse(u.as_bytes()).expect("uuid"));
    }
    known
}

#[test]
fn overview_counts_and_sizes_as_the_reference() {
    let pair = Pair::new();
    let reference = annex_json(&pair.clone, &["info", "--json", "--bytes"]);
    let session = open(&pair.clone);
    let trust = session.state.trust_levels().expect("trust.log");
    let stats = Statistics::new(&session, None, &trust).expect("statistics");

    same_keys(
        &stats.present_keys(),
        &reference,
        "local annex keys",
        "local annex size",
    );
    let (files, present) = stats.working_tree(&[], |_| Ok(())).expect("work tree");
    same_keys(
        &files,
        &reference,
        "annexed files in working tree",
        "size of annexed files in working tree",
    );
    assert_eq!(present, stats.present_keys());
    let backends: BTreeMap<String, u64> = reference["backend usage"]
        .as_object()
        .expect("backend usage")
        .iter()
        .map(|(b, n)| (b.clone(), num(n)))
        .collect();
    assert_eq!(files.backends, backends);

    let sizes = stats.repository_sizes().expect("repository sizes");
    let total: u128 = sizes.values().sum();
    assert_eq!(
        by_string(sizes),
        sizes_of(&reference["annex sizes of repositories"])
    );
    assert_eq!(
        total,
        bytes(&reference["combined annex size of all repositories"])
    );

    let known = known(&session);
    for (level, name) in [
        (TrustLevel::Trusted, "trusted repositories"),
        (TrustLevel::SemiTrusted, "semitrusted repositories"),
        (TrustLevel::Untrusted, "untrusted repositories"),
    ] {
        let ours: Vec<String> = stats
            .repositories_at(level, &known)
            .iter()
            .map(Uuid::to_string)
            .collect();
        assert_eq!(ours, uuids_of(&reference[name]), "{name}");
    }
    let bloom = stats.bloom(1);
    assert_eq!(
        reference["bloom filter size"].as_str(),
        Some(format!("{} (0% full)", bloom.bytes).as_str())
    );
}

#[test]
fn a_directory_with_an_untrusted_copy_as_the_reference() {
    let pair = Pair::new();
    annex(&pair.clone, &["untrust", "-q", "origin"]);
    let reference = annex_json(&pair.clone, &["info", "--json", "--bytes", "sub"]);
    let overview = annex_json(&pair.clone, &["info", "--json", "--bytes", "--fast"]);
    let session = open(&pair.clone);
    let trust = session.state.trust_levels().expect("trust.log");
    let stats = Statistics::new(&session, None, &trust).expect("statistics");

    let dir = stats.directory(b"sub".to_vec(), true).expect("directory");
    same_keys(
        &dir.files,
        &reference,
        "annexed files in working tree",
        "size of annexed files in working tree",
    );
    same_keys(
        &dir.present,
        &reference,
        "local annex keys",
        "local annex size",
    );
    let copies = dir.copies.expect("slow statistics asked for");
    let variance: Vec<Value> = copies
        .numcopies_variance
        .iter()
        .rev()
        .map(|(v, n)| {
            let shown = if *v >= 0 {
                format!("+{v}")
            } else {
                v.to_string()
            };
            serde_json::json!([shown, n])
        })
        .collect();
    assert_eq!(Value::Array(variance), reference["numcopies stats"]);
    let total: u128 = copies.repositories.values().sum();
    assert_eq!(
        by_string(copies.repositories),
        sizes_of(&reference["repositories containing these files"])
    );
    assert_eq!(
        total,
        bytes(&reference["combined size of repositories containing these files"])
    );
    assert!(
        stats
            .directory(b"sub".to_vec(), false)
            .expect("fast")
            .copies
            .is_none()
    );

    let untrusted: Vec<String> = stats
        .repositories_at(TrustLevel::Untrusted, &known(&session))
        .iter()
        .map(Uuid::to_string)
        .collect();
    assert_eq!(untrusted.len(), 1);
    assert_eq!(untrusted, uuids_of(&overview["untrusted repositories"]));
}

#[test]
fn a_remote_and_a_file_as_the_reference() {
    let pair = Pair::new();
    let reference = annex_json(&pair.clone, &["info", "--json", "--bytes", "origin"]);
    let session = open(&pair.clone);
    let trust = session.state.trust_levels().expect("trust.log");
    let stats = Statistics::new(&session, None, &trust).expect("statistics");
    let remote = session.config.remote("origin").expect("remote origin");
    let r = stats.remote(remote).expect("remote statistics");
    assert_eq!(
        reference["uuid"].as_str(),
        Some(r.uuid.to_string().as_str())
    );
    assert_eq!(reference["remote"].as_str(), Some(r.name.as_str()));
    assert_eq!(
        reference["cost"].as_str(),
        Some(format!("{:?}", r.cost).as_str())
    );
    assert_eq!(
        reference["available"].as_str(),
        Some(r.available.to_string().as_str())
    );
    assert_eq!(
        reference["proxied"].as_str(),
        Some(r.proxied.to_string().as_str())
    );
    assert_eq!(
        reference["repository location"].as_str(),
        Some(r.location.as_str())
    );
    assert!(r.last_synced.is_some(), "the clone fetched origin");
    same_keys(
        &stats.repository_keys(&r.uuid).expect("remote keys"),
        &reference,
        "remote annex keys",
        "remote annex size",
    );

    let wt = session.worktree().expect("work tree");
    for (file, present) in [("sub/b.bin", true), ("a.txt", false)] {
        let reference = annex_json(&pair.clone, &["info", "--json", "--bytes", file]);
        let (key, _) = wt
            .lookup_key(file.as_bytes())
            .expect("index")
            .expect("annexed");
        let f = stats.file(&key);
        assert_eq!(reference["key"].as_str(), Some(key.to_string().as_str()));
        assert_eq!(f.present, present);
        assert_eq!(reference["present"].as_bool(), Some(f.present));
        assert_eq!(f.size.size, bytes(&reference["size"]));
    }
}

#[test]
fn matching_options_select_the_keys_counted_as_the_reference() {
    let pair = Pair::new();
    let reference = annex_json(
        &pair.clone,
        &["info", "--json", "--bytes", "--largerthan=4"],
    );
    let session = open(&pair.clone);
    let trust = session.state.trust_levels().expect("trust.log");
    let options = MatchingOptions {
        opts: vec![MatchingOpt::Term("largerthan", "4".into())],
    };
    let filter = Filter::new(&session, &options).expect("filter");
    assert!(filter.as_ref().is_some_and(|f| !f.needs_file_name()));
    let stats = Statistics::new(&session, filter.as_ref(), &trust).expect("statistics");
    same_keys(
        &stats.present_keys(),
        &reference,
        "local annex keys",
        "local annex size",
    );
    let (files, _) = stats.working_tree(&[], |_| Ok(())).expect("work tree");
    same_keys(
        &files,
        &reference,
        "annexed files in working tree",
        "size of annexed files in working tree",
    );
    let sizes = stats.repository_sizes().expect("repository sizes");
    assert_eq!(
        by_string(sizes),
        sizes_of(&reference["annex sizes of repositories"])
    );
}
