//! End-to-end tests: `metadata`, compared with the reference (what it
//! prints, `--json`, `--batch --json`, exit codes, and the metadata logs it
//! leaves in the `git-annex` branch).

use crate::pair::{Pair, annexed};

const FILES: &[(&str, &str)] = &[("a", "a\n"), ("b", "b\n"), ("d/c", "c\n"), ("d/e", "e\n")];

fn met(p: &str) -> bool {
    p.ends_with(".log.met")
}

#[test]
fn metadata_get_set_and_show_match_the_reference() {
    let p = Pair::new(annexed(FILES));
    p.same(&["metadata", "a"]);
    p.same(&["metadata", "-s", "tag=foo", "-s", "x+=bar", "a"]);
    p.same(&["metadata", "--json", "a"]);
    p.same(&["metadata", "-g", "tag", "a"]);
    p.same(&["metadata", "-g", "nosuch", "a"]);
    p.same(&["metadata", "-t", "t2", "-r", "tag", "a"]);
    p.same(&["metadata", "-s", "tag?=z", "-s", "n?=1", "b"]);
    p.same(&["metadata", "-s", "Tag+=Upper", "-s", "v=with space", "b"]);
    p.same(&["metadata", "-t", "a", "-u", "a", "b"]);
    p.same(&["metadata", "-u", "a", "-t", "a", "b"]);
    p.same(&["metadata", "-s", "lastchanged=x", "a"]);
    p.same(&["metadata", "-r", "nosuch", "a"]);
    p.same(&["metadata", "--remove-all", "b"]);
    p.same(&["metadata", "--json", "-s", "j=1", "d/c"]);
    p.same(&["metadata"]);
    p.same(&["metadata", "--all", "--json"]);
    p.same_in("d", &["metadata", "c"], None);
    p.same_branch(met);
}

#[test]
fn metadata_refusals_match_the_reference() {
    let p = Pair::new(annexed(FILES));
    p.same(&["metadata", "-s", "x=1", "d"]);
    p.same(&["metadata", "-s", "x=1"]);
    p.same(&["metadata", "-s", "x=1", "--force", "d"]);
    p.same(&["metadata", "nosuch"]);
    p.same(&["metadata", "--batch"]);
    p.same(&["metadata", "--batch", "--json", "--in", "here"]);
    p.same_code(&["metadata", "-s", "b@d=x", "a"]);
    p.same_code(&["metadata", "-s", "=x", "a"]);
    p.same_code(&["metadata", "-g", "x", "-s", "y=1", "a"]);
    p.same_branch(met);
}

#[test]
fn metadata_batch_json_matches_the_reference() {
    let p = Pair::new(annexed(FILES));
    let input = concat!(
        r#"{"file":"a","fields":{"y":["1","2"]}}"#,
        "\n",
        r#"{"file":"nosuch"}"#,
        "\n",
        r#"{"file":"a"}"#,
        "\n",
        r#"{"key":"SHA256E-s2--87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7","fields":{"y":[]}}"#,
        "\n",
        r#"{"file":"b","fields":{"Tag":["U"],"lastchanged":["x"]}}"#,
        "\n",
        r#"{"file":"d/c","key":"SHA256E-s2--0263829989b6fd954f72baaf2fc64bc2e2f01d692d4de72986ea808f6e99813f"}"#,
        "\n",
    );
    p.same_in(
        "",
        &["metadata", "--batch", "--json"],
        Some(input.as_bytes()),
    );
    p.same_branch(met);
    // Input that is not understood stops the command with exit code 1.
    for bad in [
        &b"notjson\n"[..],
        b"{\"x\":1}\n",
        b"{\"file\":\"a\",\"fields\":{\"b@d\":[\"1\"]}}\n",
    ] {
        let (o, t) = p.both_in("", &["metadata", "--batch", "--json"], Some(bad));
        assert_eq!((o.stdout, o.code), (t.stdout, t.code));
    }
}
