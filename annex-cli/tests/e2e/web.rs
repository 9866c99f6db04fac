//! End-to-end tests: the web special remote, `addurl` and `rmurl`
//! against a real HTTP server on 127.0.0.1 (test-support's `http`),
//! compared with the reference where both run: output, `--json`, exit
//! codes and the URL and location logs; redirects, a wrong size, an
//! interrupted download resumed, private addresses refused by default
//! (also after a redirect), and content added by one implementation got by
//! the other.

use std::path::Path;

use test_support::http::HttpServer;

use crate::pair::{Pair, Seen};
use crate::support;

/// git-annex draws a progress meter (`\r...\r`) on stdout even when it is
/// not a terminal; its speed varies, so it is taken out of each line.
fn no_meter(s: &str) -> String {
    s.split('\n')
        .map(|l| match (l.find('\r'), l.rfind('\r')) {
            (Some(a), Some(b)) => format!("{}{}", &l[..a], &l[b + 1..]),
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn same_but_meter(p: &Pair, args: &[&str], stdin: Option<&[u8]>) -> (Seen, Seen) {
    let (mut o, mut t) = p.both_in("", args, stdin);
    o.stdout = no_meter(&o.stdout);
    t.stdout = no_meter(&t.stdout);
    assert_eq!(
        o, t,
        "git-annex {args:?}: ours (left) differs from the reference (right)"
    );
    (o, t)
}

fn allow_all(dirs: &[&Path]) {
    for d in dirs {
        support::git(d, &["config", "annex.security.allowed-ip-addresses", "all"]);
    }
}

fn ours_ok(dir: &Path, args: &[&str]) -> String {
    let out = crate::ours(dir, args);
    assert!(out.status.success(), "git-annex-rs {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn addurl_and_rmurl_match_the_reference() {
    let srv = HttpServer::start();
    srv.put("/a.txt", b"hello\n");
    srv.put("/dir/b.txt", b"bee\n");
    srv.put("/other", b"different size\n");
    srv.put("/named", b"named\n");
    srv.disposition("/named", "server name.txt");
    let a = srv.url("/a.txt");
    let p = Pair::new(|_| {});
    // Refused by default: 127.0.0.1 is a loopback address.
    p.same(&["addurl", &a]);
    allow_all(&[&p.ours, &p.theirs]);
    same_but_meter(&p, &["addurl", &a], None);
    same_but_meter(&p, &["addurl", "--json", &a, "--file", "b"], None);
    same_but_meter(&p, &["addurl", "--json", "--fast", &a, "--file", "c"], None);
    same_but_meter(&p, &["addurl", "--relaxed", &a, "--file", "d"], None);
    // Already there: nothing to do.
    same_but_meter(&p, &["addurl", &a, "--file", "b"], None);
    // Another URL for an annexed file of another size.
    same_but_meter(&p, &["addurl", &srv.url("/other"), "--file", "b"], None);
    same_but_meter(&p, &["addurl", &srv.url("/nope")], None);
    same_but_meter(&p, &["addurl", "--json", &srv.url("/nope")], None);
    same_but_meter(&p, &["addurl", "--fast", &srv.url("/nope")], None);
    same_but_meter(
        &p,
        &["addurl", "--pathdepth", "1", &srv.url("/dir/b.txt")],
        None,
    );
    same_but_meter(
        &p,
        &[
            "addurl",
            "--prefix",
            "pre-",
            "--suffix",
            ".suf",
            &srv.url("/dir/b.txt"),
        ],
        None,
    );
    same_but_meter(&p, &["addurl", &srv.url("/named")], None);
    let batch = format!("{}\n{}\n", srv.url("/a.txt"), srv.url("/nope"));
    same_but_meter(
        &p,
        &["addurl", "--batch", "--json", "--file", "e"],
        Some(batch.as_bytes()),
    );
    let batch = format!(
        "{} f1\n{} sub/f2\n",
        srv.url("/a.txt"),
        srv.url("/dir/b.txt")
    );
    same_but_meter(
        &p,
        &["addurl", "--batch", "--with-files"],
        Some(batch.as_bytes()),
    );
    p.same(&["whereis", "b", "c", "d", "sub/f2"]);
    p.same(&["rmurl", "b", &a]);
    p.same(&["rmurl", "--json", "c", &a]);
    p.same_in(
        "",
        &["rmurl", "--batch"],
        Some(format!("d {a}\n").as_bytes()),
    );
    p.same(&["whereis", "b", "c", "d"]);
    p.same_branch(|f| f.ends_with(".log.web") || f.ends_with(".log"));
    for d in [&p.ours, &p.theirs] {
        assert_eq!(std::fs::read(d.join("b")).unwrap(), b"hello\n");
        assert_eq!(std::fs::read(d.join("sub/f2")).unwrap(), b"bee\n");
    }
}

#[test]
fn private_addresses_are_refused_also_after_a_redirect() {
    let srv = HttpServer::start();
    srv.put("/a.txt", b"hello\n");
    srv.redirect("/to-private", "http://10.255.255.1/secret");
    srv.redirect("/to-a", &srv.url("/a.txt"));
    let p = Pair::new(|_| {});
    // The server's own address and port allowed, nothing else.
    let allowed = format!("[127.0.0.1]:{}", srv.port());
    for d in [&p.ours, &p.theirs] {
        support::git(
            d,
            &["config", "annex.security.allowed-ip-addresses", &allowed],
        );
    }
    let (o, _) = same_but_meter(&p, &["addurl", &srv.url("/to-private")], None);
    assert!(
        o.stderr.contains(
            "Configuration of annex.security.allowed-ip-addresses does not allow accessing address 10.255.255.1"
        ),
        "{o:?}"
    );
    assert_eq!(o.code, Some(1));
    // A redirect to an allowed address is followed.
    same_but_meter(&p, &["addurl", "--file", "r", &srv.url("/to-a")], None);
    assert_eq!(std::fs::read(p.ours.join("r")).unwrap(), b"hello\n");
    // Nothing was ever asked of the private address: the redirect is
    // refused before connecting (the request log only has our server's).
    let ours_requests = srv.requests();
    assert!(ours_requests.iter().all(|r| !r.path.contains("secret")));
}

#[test]
fn web_get_resumes_an_interrupted_download_and_verifies_it() {
    let srv = HttpServer::start();
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    srv.put("/big", &content);
    let repo = support::new_git_repo();
    let d = repo.path();
    support::annex(d, &["init", "-q", "here"]);
    allow_all(&[d]);
    ours_ok(d, &["addurl", "--file", "big", &srv.url("/big")]);
    support::git(d, &["commit", "-q", "-m", "big"]);
    // The web is a copy (checked with HEAD): a plain drop is allowed.
    ours_ok(d, &["drop", "big"]);
    assert!(std::fs::read(d.join("big")).is_err());
    srv.cut_once("/big", 70_000);
    let first = crate::ours(d, &["get", "big"]);
    assert!(
        !first.status.success(),
        "an interrupted get fails: {first:?}"
    );
    let before = srv.requests().len();
    ours_ok(d, &["get", "big"]);
    assert_eq!(std::fs::read(d.join("big")).unwrap(), content);
    let resumed: Vec<_> = srv.requests()[before..]
        .iter()
        .filter(|r| r.method == "GET")
        .cloned()
        .collect();
    assert_eq!(
        resumed.first().and_then(|r| r.range.clone()).as_deref(),
        Some("bytes=70000-"),
        "the second get asks only for the rest: {resumed:?}"
    );
    // The reference agrees the content is right.
    let fsck = support::annex_output(d, &["fsck", "big"], None);
    assert!(fsck.status.success(), "{fsck:?}");
}

#[test]
fn web_get_refuses_content_of_a_wrong_size_or_hash() {
    let srv = HttpServer::start();
    srv.put("/f", b"original\n");
    let repo = support::new_git_repo();
    let d = repo.path();
    support::annex(d, &["init", "-q", "here"]);
    allow_all(&[d]);
    ours_ok(d, &["addurl", "--file", "f", &srv.url("/f")]);
    support::git(d, &["commit", "-q", "-m", "f"]);
    ours_ok(d, &["drop", "f"]);
    // Another size: refused.
    srv.put("/f", b"changed, and longer\n");
    let out = crate::ours(d, &["get", "f"]);
    assert!(!out.status.success(), "{out:?}");
    assert!(std::fs::read(d.join("f")).is_err());
    // Same size, other content: refused by the hash.
    srv.put("/f", b"ORIGINAL\n");
    let out = crate::ours(d, &["get", "f"]);
    assert!(!out.status.success(), "{out:?}");
    assert!(std::fs::read(d.join("f")).is_err());
    srv.put("/f", b"original\n");
    ours_ok(d, &["get", "f"]);
    assert_eq!(std::fs::read(d.join("f")).unwrap(), b"original\n");
}

#[test]
fn web_get_is_refused_for_a_private_address_by_default() {
    let srv = HttpServer::start();
    srv.put("/f", b"content\n");
    let repo = support::new_git_repo();
    let d = repo.path();
    support::annex(d, &["init", "-q", "here"]);
    ours_ok(d, &["addurl", "--relaxed", "--file", "f", &srv.url("/f")]);
    support::git(d, &["commit", "-q", "-m", "f"]);
    let out = crate::ours(d, &["get", "f"]);
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "annex.security.allowed-ip-addresses does not allow accessing address 127.0.0.1"
        ),
        "{out:?}"
    );
    assert!(
        srv.requests().is_empty(),
        "nothing was sent: {:?}",
        srv.requests()
    );
    ours_ok(
        d,
        &["get", "-c", "annex.security.allowed-ip-addresses=all", "f"],
    );
    assert_eq!(std::fs::read(d.join("f")).unwrap(), b"content\n");
}

#[test]
fn urls_added_by_one_implementation_are_got_by_the_other() {
    let srv = HttpServer::start();
    srv.put("/ours", b"added by us\n");
    srv.put("/theirs", b"added by the reference\n");
    let tmp = tempfile::tempdir().unwrap();
    let origin = tmp.path().join("origin");
    std::fs::create_dir(&origin).unwrap();
    support::git(&origin, &["init", "-q"]);
    support::annex(&origin, &["init", "-q", "origin"]);
    allow_all(&[&origin]);
    ours_ok(&origin, &["addurl", "--file", "ours", &srv.url("/ours")]);
    ours_ok(
        &origin,
        &["addurl", "--fast", "--file", "ours-fast", &srv.url("/ours")],
    );
    support::annex(
        &origin,
        &["addurl", "--file", "theirs", &srv.url("/theirs")],
    );
    support::annex(
        &origin,
        &[
            "addurl",
            "--relaxed",
            "--file",
            "theirs-relaxed",
            &srv.url("/theirs"),
        ],
    );
    support::git(&origin, &["commit", "-q", "-m", "urls"]);
    // A clone got by the reference from what we added, and one got by us
    // from what the reference added: from the web only.
    for (name, ours_get) in [("by-ref", false), ("by-us", true)] {
        let c = tmp.path().join(name);
        support::git(tmp.path(), &["clone", "-q", origin.to_str().unwrap(), name]);
        support::annex(&c, &["init", "-q", name]);
        allow_all(&[&c]);
        support::git(&c, &["config", "remote.origin.annex-ignore", "true"]);
        let files: &[&str] = if ours_get {
            &["theirs", "theirs-relaxed"]
        } else {
            &["ours", "ours-fast"]
        };
        for f in files {
            if ours_get {
                let out = ours_ok(&c, &["get", f]);
                assert!(out.contains("(from web...)"), "{out}");
            } else {
                support::annex(&c, &["get", f]);
            }
        }
        let want: &[u8] = if ours_get {
            b"added by the reference\n"
        } else {
            b"added by us\n"
        };
        for f in files {
            assert_eq!(std::fs::read(c.join(f)).unwrap(), want, "{name} {f}");
        }
    }
}

#[test]
fn registerurl_remote_option_matches_the_reference() {
    const K: &str = "SHA256E-s2--87428fc522803d31065e7bce3cf03fe475096631e5e07bbd7a0fde60c4cf25c7";
    let p = Pair::new(|d| {
        let store = d.join(".git").join("dr-store");
        std::fs::create_dir(&store).unwrap();
        let dir = format!("directory={}", store.display());
        support::annex(
            d,
            &[
                "initremote",
                "dr",
                "type=directory",
                &dir,
                "encryption=none",
            ],
        );
    });
    for args in [
        &["registerurl", "--remote=web", K, "http://x.invalid/1"][..],
        &[
            "registerurl",
            "--remote",
            "00000000-0000-0000-0000-000000000001",
            K,
            "http://x.invalid/2",
        ],
        &["registerurl", "--remote=dr", K, "http://x.invalid/3"],
        &[
            "registerurl",
            "--json",
            "--remote=dr",
            K,
            "http://x.invalid/3",
        ],
        &["registerurl", "--remote=nosuch", K, "http://x.invalid/4"],
    ] {
        p.same(args);
    }
    // The key's logs (the remote's own UUID differs on each side).
    p.same_branch(|f| f.contains(K));
}
