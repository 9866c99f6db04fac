//! `disableremote` against the reference: on two copies of one
//! repository, each implementation disables the same special remote; the
//! output, exit code, git config, refs and what is left under
//! `.git/annex/` are the same, the remote can be enabled again, and the
//! refusals are the reference's.

use std::path::Path;
use std::process::Output;

use crate::special::{Area, ok};
use crate::support;

/// The files and directories under `dir`, relative, sorted.
fn tree(dir: &Path, base: &Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let rel = p.strip_prefix(base).expect("under").display().to_string();
        // Lock files and indexes both implementations may leave.
        if rel.ends_with(".lck") && !rel.starts_with("remotes/") || rel.starts_with("index") {
            continue;
        }
        out.push(rel);
        if p.is_dir() {
            tree(&p, base, out);
        }
    }
}

fn annex_tree(repo: &Path) -> Vec<String> {
    let base = repo.join(".git/annex");
    let mut v = Vec::new();
    tree(&base, &base, &mut v);
    // `export`: the reference makes the directory (empty) when it
    // removes a remote's export database.
    v.retain(|p| {
        !p.starts_with("journal")
            && !p.starts_with("othertmp")
            && !p.starts_with("tmp")
            && p != "export"
    });
    v.sort();
    v
}

fn stderr_lines(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .map(|l| l.replacen("git-annex-rs:", "git-annex:", 1))
        .filter(|l| !l.is_empty())
        .collect()
}

/// A repository of the reference's with a directory remote `d` and the
/// local files git-annex keeps for it, and a git remote `o` sharing
/// nothing with it.
fn setup(area: &Area) -> std::path::PathBuf {
    let r = area.repo("r");
    let dir = area.path("store");
    std::fs::create_dir(&dir).expect("mkdir");
    let d = format!("directory={}", dir.display());
    ok(&area.theirs(
        &r,
        &["initremote", "d", "type=directory", &d, "encryption=none"],
    ));
    ok(&area.theirs(&r, &["copy", "-q", "f", "--to", "d"]));
    let u = support::git(&r, &["config", "remote.d.annex-uuid"])
        .trim()
        .to_string();
    let a = r.join(".git/annex");
    for d in [
        "creds",
        "fsck",
        "fsckresults",
        "remotes",
        "transfer/failed/upload",
    ] {
        std::fs::create_dir_all(a.join(d)).expect("mkdir");
    }
    std::fs::write(a.join("creds").join(&u), "x").expect("w");
    std::fs::write(a.join("creds").join(format!("{u}-foo")), "y").expect("w");
    std::fs::write(a.join("creds/someoneelse"), "z").expect("w");
    std::fs::create_dir_all(a.join("fsck").join(&u)).expect("mkdir");
    std::fs::write(a.join("fsck").join(&u).join("state"), "1").expect("w");
    std::fs::write(a.join("fsckresults").join(&u), "").expect("w");
    std::fs::write(a.join("remotes").join(format!("{u}.lck")), "").expect("w");
    std::fs::write(a.join("remotes").join(format!("{u}.state")), "").expect("w");
    std::fs::create_dir_all(a.join("transfer/failed/upload").join(&u)).expect("mkdir");
    std::fs::write(
        a.join("transfer/failed/upload")
            .join(&u)
            .join("SHA256E-s1--x"),
        "",
    )
    .expect("w");
    support::git(&r, &["update-ref", "refs/remotes/d/foo", "HEAD"]);
    support::git(&r, &["update-ref", "refs/remotes/dd/foo", "HEAD"]);
    r
}

fn copy_repo(area: &Area, from: &Path, name: &str) -> std::path::PathBuf {
    let to = area.path(name);
    let st = std::process::Command::new("cp")
        .args(["-a"])
        .arg(from)
        .arg(&to)
        .status()
        .expect("cp");
    assert!(st.success());
    to
}

#[test]
fn disableremote_removes_what_the_references_removes() {
    let area = Area::new();
    let r = setup(&area);
    for json in [false, true] {
        let (a, b) = if json { ("tj", "oj") } else { ("t", "o") };
        let theirs_repo = copy_repo(&area, &r, a);
        let ours_repo = copy_repo(&area, &r, b);
        let mut args = vec!["disableremote", "d"];
        if json {
            args.push("--json");
        }
        let theirs = area.theirs(&theirs_repo, &args);
        let ours = area.ours(&ours_repo, &args);
        assert_eq!(
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&theirs.stdout)
        );
        assert_eq!(ours.status.code(), theirs.status.code());
        assert!(
            ours.status.success(),
            "{}",
            String::from_utf8_lossy(&ours.stderr)
        );
        assert_eq!(
            std::fs::read_to_string(ours_repo.join(".git/config")).expect("config"),
            std::fs::read_to_string(theirs_repo.join(".git/config")).expect("config")
        );
        assert_eq!(
            support::git(&ours_repo, &["for-each-ref", "--format=%(refname)"]),
            support::git(&theirs_repo, &["for-each-ref", "--format=%(refname)"])
        );
        assert_eq!(annex_tree(&ours_repo), annex_tree(&theirs_repo));
        let left = annex_tree(&ours_repo);
        assert!(left.contains(&"creds/someoneelse".to_string()), "{left:?}");
        assert!(
            !left.iter().any(|p| p.starts_with("remotes/")
                || p.starts_with("creds/") && p != "creds/someoneelse"
                || p.starts_with("fsckresults/")),
            "{left:?}"
        );
        // The branch is untouched: enabled again, it is the same remote.
        let d = format!("directory={}", area.path("store").display());
        ok(&area.ours(&ours_repo, &["enableremote", "d", &d]));
        assert_eq!(
            support::git(&ours_repo, &["config", "remote.d.annex-uuid"]),
            support::git(&r, &["config", "remote.d.annex-uuid"])
        );
    }
}

#[test]
fn disableremote_refusals_match_the_references() {
    let area = Area::new();
    let r = setup(&area);
    for args in [
        &["disableremote"][..],
        &["disableremote", "nosuch"],
        &["disableremote", "d", "o"],
    ] {
        let theirs = area.theirs(&r, args);
        let ours = area.ours(&r, args);
        assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}");
        assert_eq!(ours.stdout, theirs.stdout, "{args:?}");
        assert_eq!(stderr_lines(&ours), stderr_lines(&theirs), "{args:?}");
    }
    // Nothing changed.
    assert!(support::git(&r, &["config", "remote.d.annex-uuid"]).len() > 10);
}
