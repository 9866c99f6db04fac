//! End-to-end tests: `registerurl`, `unregisterurl` and `readpresentkey`,
//! compared with the reference (output, `--json`, `--batch`, exit codes,
//! and the URL and location logs left in the `git-annex` branch).

use crate::pair::{Pair, annexed};

const A: &str = "SHA256E-s2--87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7";
const WEB: &str = "00000000-0000-0000-0000-000000000001";

#[test]
fn registerurl_and_unregisterurl_match_the_reference() {
    let p = Pair::new(annexed(&[("a", "a\n"), ("b", "b\n")]));
    for args in [
        &["registerurl", A, "http://example.com/a"][..],
        &["registerurl", "--json", A, "http://example.com/b"],
        &["registerurl", A, "http://example.com/a"],
        &["registerurl", "BAD", "http://x"],
        &["registerurl", A],
        &["readpresentkey", A, WEB],
        &["whereis", "a"],
        &["unregisterurl", A, "http://example.com/a"],
        &["unregisterurl", A, "http://example.com/nope"],
        &["unregisterurl", "--json", A, "http://example.com/b"],
        &["readpresentkey", A, WEB],
        &["registerurl", A, "foo"],
    ] {
        p.same(args);
    }
    let batch = format!("{A} http://x/1\n{A} http://x/2 with space\n");
    p.same_in("", &["registerurl", "--batch"], Some(batch.as_bytes()));
    let batch = format!("{A} http://x/1\n");
    p.same_in(
        "",
        &["unregisterurl", "--batch", "--json"],
        Some(batch.as_bytes()),
    );
    let (o, t) = p.both_in(
        "",
        &["registerurl", "--batch"],
        Some(format!("{A} http://x/3\nBAD http://y\n").as_bytes()),
    );
    assert_eq!((o.stdout, o.code), (t.stdout, t.code));
    p.same_branch(|f| f.ends_with(".log.web") || f.ends_with(".log"));
}

#[test]
fn readpresentkey_matches_the_reference() {
    let p = Pair::new(annexed(&[("a", "a\n")]));
    let here_t = crate::support::git(&p.theirs, &["config", "annex.uuid"]);
    let here_o = crate::support::git(&p.ours, &["config", "annex.uuid"]);
    let t = crate::pair::theirs(&p.theirs, &["readpresentkey", A, here_t.trim()], None);
    let o = crate::pair::ours(&p.ours, &["readpresentkey", A, here_o.trim()], None);
    assert_eq!((o.stdout, o.status.code()), (t.stdout, t.status.code()));
    assert_eq!(o.status.code(), Some(0));
    for args in [
        &["readpresentkey", A, WEB][..],
        &["readpresentkey", A],
        &["readpresentkey", "BAD", WEB],
        &["readpresentkey", A, "nosuch"],
    ] {
        p.same(args);
    }
}
