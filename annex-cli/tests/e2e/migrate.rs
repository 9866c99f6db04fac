//! End-to-end tests: `migrate`, compared with the reference (output,
//! `--json`, exit codes, links, index, objects and the location and
//! metadata logs of the new keys).

use std::path::Path;

use crate::pair::{Pair, theirs, write_files};
use crate::support;

fn setup(d: &Path) {
    write_files(
        d,
        &[("a.txt", "a\n"), ("b", "b\n"), ("u", "u\n"), ("g", "g\n")],
    );
    // WORM keys hold the mtime: the same on both sides.
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    for f in ["a.txt", "b", "u", "g"] {
        let file = std::fs::File::options()
            .write(true)
            .open(d.join(f))
            .expect("open");
        file.set_modified(t).expect("mtime");
    }
    assert!(
        theirs(d, &["add", "--quiet", "--backend=WORM", "."], None)
            .status
            .success()
    );
    assert!(theirs(d, &["unlock", "u"], None).status.success());
    support::git(d, &["commit", "-q", "-m", "add"]);
    assert!(theirs(d, &["drop", "--force", "g"], None).status.success());
    assert!(
        theirs(d, &["metadata", "-s", "t=1", "a.txt"], None)
            .status
            .success()
    );
}

fn state(d: &Path) -> String {
    format!(
        "{}\n{}\n{:?}",
        support::git(d, &["ls-files", "-s"]),
        support::git(d, &["status", "--short"]),
        ["a.txt", "b", "g"].map(|f| std::fs::read_link(d.join(f)).ok()),
    )
}

#[test]
fn migrate_matches_the_reference() {
    let p = Pair::new(setup);
    for args in [
        &["migrate", "a.txt"][..],
        &["migrate", "--json", "b"],
        &["migrate", "u", "g"],
        &["migrate"],
        &["migrate", "--backend=MD5E", "a.txt"],
        &["migrate", "nosuch"],
    ] {
        p.same(args);
        assert_eq!(state(&p.ours), state(&p.theirs), "after {args:?}");
    }
    p.same(&["metadata", "a.txt"]);
    p.same(&["whereis", "a.txt", "b", "u"]);
    p.same_branch(|f| f.ends_with(".log.met") || f.ends_with(".log"));
}

/// The `migrate.tree` grafted by the last migration of `d`'s
/// `git-annex` branch: its files and their blobs.
fn migration_tree(d: &Path) -> String {
    let log = support::git(d, &["log", "--format=%H %s", "git-annex"]);
    let graft = log
        .lines()
        .find(|l| l.ends_with(" graft"))
        .and_then(|l| l.split(' ').next())
        .expect("a graft commit");
    support::git(d, &["ls-tree", "-r", graft, "migrate.tree"])
}

/// Regression: a migration was not recorded for other repositories. It is
/// now as the reference records it (the same `migrate.tree` of old and new
/// blobs, grafted then removed, `migrations.log`), and a clone's `git
/// annex migrate --update` (the reference's) moves its content to the new
/// keys.
#[test]
fn a_migration_is_recorded_for_other_repositories_as_the_reference() {
    let p = Pair::new(setup);
    for d in [&p.ours, &p.theirs] {
        let c = d.join(".git/clone");
        support::git(d, &["clone", "-q", ".", c.to_str().unwrap()]);
        assert!(theirs(&c, &["init", "-q", "clone"], None).status.success());
        assert!(
            theirs(&c, &["get", "-q", "a.txt", "u"], None)
                .status
                .success()
        );
    }
    p.same(&["migrate", "--backend=SHA256E", "a.txt", "u"]);
    assert_eq!(migration_tree(&p.ours), migration_tree(&p.theirs));
    for d in [&p.ours, &p.theirs] {
        let log = std::fs::read_to_string(d.join(".git/annex/migrations.log")).unwrap();
        assert!(
            log.starts_with("0000000000000000000000000000000000000000\n"),
            "{log}"
        );
        assert_eq!(log.lines().count(), 2, "{log}");
        support::git(d, &["commit", "-q", "-a", "-m", "migrated"]);
    }
    let applied = |d: &Path| {
        let c = d.join(".git/clone");
        support::git(&c, &["pull", "-q", "--no-rebase", "origin"]);
        let out = theirs(&c, &["migrate", "--update"], None);
        assert!(out.status.success(), "{out:?}");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            support::annex(&c, &["find", "--format=${file} ${key}\\n"]),
        )
    };
    let ours = applied(&p.ours);
    assert_eq!(ours, applied(&p.theirs));
    assert!(ours.1.contains("a.txt SHA256E-"), "{ours:?}");
    assert!(ours.0.contains("migrate"), "{ours:?}");
}

/// `cp -a FROM TO`: a repository copied as it is, for both programs to
/// start from the same state.
fn copy_repo(from: &Path, to: &Path) {
    let out = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .output()
        .expect("cp");
    assert!(out.status.success(), "{out:?}");
}

/// An origin whose files the reference added with WORM and then migrated
/// to SHA256E (committed), and a clone made before the migration that has
/// the content of `a.txt` and `d/c` under the old keys and has fetched
/// the origin since (the branches not merged). Returns (tempdir, origin,
/// clone).
fn migrated_elsewhere(
    migrator: fn(&Path, &[&str]) -> std::process::Output,
) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let tmp = tempfile::tempdir().expect("tmp");
    let o = tmp.path().join("origin");
    std::fs::create_dir(&o).expect("mkdir");
    support::git(&o, &["init", "-q", "-b", "main"]);
    support::annex(&o, &["init", "-q", "origin"]);
    write_files(&o, &[("a.txt", "a\n"), ("b", "b\n"), ("d/c", "c\n")]);
    support::annex(&o, &["add", "-q", "--backend=WORM", "."]);
    support::git(&o, &["commit", "-q", "-m", "add"]);
    let c = tmp.path().join("clone");
    support::git(tmp.path(), &["clone", "-q", "origin", "clone"]);
    support::annex(&c, &["init", "-q", "clone"]);
    support::annex(&c, &["get", "-q", "a.txt", "d/c"]);
    let out = migrator(&o, &["migrate", "--backend=SHA256E", "a.txt", "b", "d/c"]);
    assert!(out.status.success(), "{out:?}");
    support::git(&o, &["commit", "-q", "-a", "-m", "migrated"]);
    support::git(&c, &["fetch", "-q", "origin"]);
    (tmp, o, c)
}

fn run_ours(d: &Path, args: &[&str]) -> std::process::Output {
    crate::pair::ours(d, args, None)
}

fn run_theirs(d: &Path, args: &[&str]) -> std::process::Output {
    theirs(d, args, None)
}

/// What `--update` leaves: the objects here (name, link count) and where
/// the location log says each of the new keys is.
fn applied_state(c: &Path) -> String {
    let mut objects: Vec<String> = walk(&c.join(".git/annex/objects"))
        .into_iter()
        .map(|p| {
            use std::os::unix::fs::MetadataExt;
            let m = std::fs::metadata(&p).expect("stat");
            format!("{} {}", p.file_name().unwrap().to_string_lossy(), m.nlink())
        })
        .collect();
    objects.sort();
    format!(
        "{}\n{}",
        objects.join("\n"),
        support::annex(c, &["whereis", "--json", "--branch=origin/main"])
            .replace(&uuid_of(c), "UUID")
    )
}

fn uuid_of(d: &Path) -> String {
    support::git(d, &["config", "annex.uuid"]).trim().to_owned()
}

fn walk(d: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(d) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Runs `args` in copies of `clone` by ours and by the reference; asserts
/// the same stdout, stderr, exit code and state after, and returns our
/// stdout.
fn same_in_copies(clone: &Path, tag: &str, args: &[&str]) -> String {
    let (o, t) = (
        clone.with_file_name(format!("ours-{tag}")),
        clone.with_file_name(format!("theirs-{tag}")),
    );
    copy_repo(clone, &o);
    copy_repo(clone, &t);
    let ours = run_ours(&o, args);
    let theirs = run_theirs(&t, args);
    let clean = |out: &std::process::Output| {
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).replace("git-annex-rs:", "git-annex:"),
            out.status.code(),
        )
    };
    assert_eq!(
        clean(&ours),
        clean(&theirs),
        "{args:?}: ours (left), reference (right)"
    );
    assert_eq!(applied_state(&o), applied_state(&t), "{args:?}");
    let log = |d: &Path| std::fs::read_to_string(d.join(".git/annex/migrations.log")).ok();
    assert_eq!(
        log(&o).map(|l| l.lines().count()),
        log(&t).map(|l| l.lines().count())
    );
    // The branch commit read is noted: the tip before the final commit
    // of the journal (the commits' own ids differ with their times).
    let stop = |d: &Path| {
        let first = log(d).and_then(|l| l.lines().next().map(str::to_owned));
        let tip = support::git(d, &["rev-parse", "git-annex"]);
        let parent = support::git(d, &["rev-parse", "git-annex^"]);
        match first {
            Some(f) if f == tip.trim() => "tip",
            Some(f) if f == parent.trim() => "parent",
            Some(_) => "other",
            None => "none",
        }
    };
    assert_eq!(stop(&o), stop(&t), "the commit noted in migrations.log");
    // The content is there under the new keys, and the reference's fsck
    // finds nothing wrong.
    let fsck = support::annex_output(&o, &["fsck", "--all", "--quiet"], None);
    assert!(fsck.status.success(), "{fsck:?}");
    std::fs::remove_dir_all(&t).expect("rm");
    let _ = std::fs::rename(&o, clone.with_file_name(format!("kept-{tag}")));
    String::from_utf8_lossy(&ours.stdout).into_owned()
}

/// `migrate --update` and `--apply` apply a migration the reference made
/// in another repository as the reference does: the content of the old
/// keys linked to the new ones, logged present, `migrations.log` moved on,
/// the output (plain and `--json`, the key named when no file of the work
/// tree points at it, the file when one does) the reference's.
#[test]
fn update_applies_the_references_migration_as_the_reference() {
    let (_tmp, _o, c) = migrated_elsewhere(run_theirs);
    let out = same_in_copies(&c, "update", &["migrate", "--update"]);
    assert!(out.contains("migrate SHA256E-s2--"), "{out}");
    let out = same_in_copies(&c, "json", &["migrate", "--apply", "--json"]);
    assert!(out.contains("\"key\":\"SHA256E-s2--"), "{out}");
    // With the work tree merged: the files are named.
    support::git(&c, &["merge", "-q", "origin/main"]);
    let out = same_in_copies(&c, "merged", &["migrate", "--update"]);
    assert!(out.contains("migrate a.txt (checksum...) ok"), "{out}");
    assert!(out.contains("migrate d/c (checksum...) ok"), "{out}");
    // Applied once: neither program does anything more.
    let kept = c.with_file_name("kept-merged");
    for args in [&["migrate", "--update"][..], &["migrate", "--apply"]] {
        let again = run_ours(&kept, args);
        assert!(again.status.success(), "{again:?}");
        assert!(
            !String::from_utf8_lossy(&again.stdout).contains("migrate"),
            "{again:?}"
        );
        let ref_again = run_theirs(&kept, args);
        assert!(
            !String::from_utf8_lossy(&ref_again.stdout).contains("migrate"),
            "{ref_again:?}"
        );
    }
}

/// Our `migrate` recorded in one clone, our `migrate --update` in another:
/// the content moved to the new keys there, and the reference's fsck clean.
#[test]
fn update_applies_our_own_migration() {
    let (_tmp, _o, c) = migrated_elsewhere(run_ours);
    support::git(&c, &["merge", "-q", "origin/main"]);
    let out = same_in_copies(&c, "ours", &["migrate", "--update"]);
    assert!(out.contains("migrate a.txt (checksum...) ok"), "{out}");
}

/// `--update` goes on from where it stopped; `--apply` goes over every
/// migration again: content of an old key that came after the update is
/// migrated by `--apply` only, as the reference does.
#[test]
fn apply_also_takes_migrations_before_the_stoppoint() {
    let (_tmp, _o, c) = migrated_elsewhere(run_theirs);
    support::git(&c, &["merge", "-q", "origin/main"]);
    // Only a.txt's old content here at the update.
    let worm_c = key_at(&c, "HEAD~1", "d/c");
    support::annex(&c, &["drop", "-q", "--force", "--key", worm_c.trim()]);
    let out = run_theirs(&c, &["migrate", "--update"]);
    assert!(out.status.success(), "{out:?}");
    support::annex(&c, &["get", "-q", "--key", worm_c.trim()]);
    let out = same_in_copies(&c, "upd", &["migrate", "--update"]);
    assert!(!out.contains("migrate"), "{out}");
    let out = same_in_copies(&c, "apply", &["migrate", "--apply"]);
    assert!(out.contains("migrate d/c (checksum...) ok"), "{out}");
}

/// Regression (safety): a migration recorded in the branch whose new key
/// is not the old content's is not applied (the content is checked
/// against the new key whatever `annex.verify` says), as the reference.
#[test]
fn update_refuses_a_migration_whose_new_key_does_not_match() {
    let (_tmp, o, c) = migrated_elsewhere(run_theirs);
    // A forged migration: a.txt's old key to the new key of b (whose
    // content is not here).
    let key = |rev: &str, f: &str| key_at(&o, rev, f);
    let (old, wrong) = (key("main~1", "a.txt"), key("main", "b"));
    let blob = |k: &str| {
        let mut cmd = std::process::Command::new("git");
        support::hermetic(&mut cmd)
            .current_dir(&o)
            .args(["hash-object", "-w", "--stdin"]);
        let out = support::output_with_stdin(cmd, Some(format!("/annex/objects/{k}\n").as_bytes()));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let (ob, nb) = (blob(&old), blob(&wrong));
    let mk = |entries: String| {
        let mut cmd = std::process::Command::new("git");
        support::hermetic(&mut cmd).current_dir(&o).args(["mktree"]);
        let out = support::output_with_stdin(cmd, Some(entries.as_bytes()));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let old_t = mk(format!("100644 blob {ob}\t1\n"));
    let new_t = mk(format!("100644 blob {nb}\t1\n"));
    let mt = mk(format!(
        "040000 tree {new_t}\tnew\n040000 tree {old_t}\told\n"
    ));
    let base = support::git(&o, &["rev-parse", "git-annex^{tree}"]);
    let grafted = {
        support::git(
            &o,
            &["read-tree", "--index-output=.git/forge-index", base.trim()],
        );
        let mut cmd = std::process::Command::new("git");
        support::hermetic(&mut cmd)
            .current_dir(&o)
            .env("GIT_INDEX_FILE", o.join(".git/forge-index"))
            .args(["read-tree", "--prefix=migrate.tree/", &mt]);
        assert!(support::output_with_stdin(cmd, None).status.success());
        let mut cmd = std::process::Command::new("git");
        support::hermetic(&mut cmd)
            .current_dir(&o)
            .env("GIT_INDEX_FILE", o.join(".git/forge-index"))
            .args(["write-tree"]);
        String::from_utf8_lossy(&support::output_with_stdin(cmd, None).stdout)
            .trim()
            .to_owned()
    };
    let graft = support::git(
        &o,
        &["commit-tree", &grafted, "-p", "git-annex", "-m", "graft"],
    );
    let cleanup = support::git(
        &o,
        &[
            "commit-tree",
            base.trim(),
            "-p",
            graft.trim(),
            "-m",
            "graft cleanup",
        ],
    );
    support::git(&o, &["update-ref", "refs/heads/git-annex", cleanup.trim()]);
    support::git(&c, &["fetch", "-q", "origin"]);
    let out = same_in_copies(&c, "forged", &["migrate", "--apply"]);
    assert!(out.contains("failed"), "{out}");
    let kept = c.with_file_name("kept-forged");
    assert!(
        support::annex(
            &kept,
            &[
                "find",
                "--format=${file}\\n",
                "--branch=origin/main",
                "--in=here"
            ]
        )
        .lines()
        .all(|f| f != "b"),
        "the wrong content was taken as d/c's"
    );
}

/// The key of an annexed file at a revision (from its symlink's target).
fn key_at(d: &Path, rev: &str, file: &str) -> String {
    // The key's file name, unescaped.
    let target = support::git(d, &["cat-file", "blob", &format!("{rev}:{file}")]);
    target
        .trim()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .replace('%', "/")
        .replace("&c", ":")
        .replace("&s", "%")
        .replace("&a", "&")
}

fn setup_sizes(d: &Path) {
    write_files(d, &[("p", "p\n"), ("q", "q\n"), ("r", "r\n"), ("s", "s\n")]);
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    for f in ["p", "q", "r", "s"] {
        let file = std::fs::File::options()
            .write(true)
            .open(d.join(f))
            .expect("open");
        file.set_modified(t).expect("mtime");
    }
    assert!(
        theirs(d, &["add", "--quiet", "--backend=WORM", "."], None)
            .status
            .success()
    );
    support::git(d, &["commit", "-q", "-m", "add"]);
    assert!(theirs(d, &["drop", "--force", "q"], None).status.success());
    assert!(theirs(d, &["unlock", "s"], None).status.success());
}

/// `migrate --remove-size`: keys rekeyed without their size (to another
/// backend when it is not the target one, else only the size removed; a
/// key whose content is not here then fails as the reference's), and a
/// plain `migrate` of a key without size adds it back, as the reference
/// (output, `--json`, exit codes, links, index).
#[test]
fn remove_size_matches_the_reference() {
    let p = Pair::new(setup_sizes);
    let state = |d: &Path| {
        format!(
            "{}\n{:?}",
            support::git(d, &["ls-files", "-s"]),
            ["p", "q", "r"].map(|f| std::fs::read_link(d.join(f)).ok()),
        )
    };
    for args in [
        &["migrate", "--remove-size", "p", "q", "s"][..],
        &[
            "migrate",
            "--remove-size",
            "--backend=SHA256E",
            "--json",
            "r",
        ],
        &["migrate", "--remove-size", "p"],
        &["migrate", "p"],
        &["migrate", "--remove-size", "--backend=WORM", "p"],
        &["migrate", "--backend=WORM", "p"],
    ] {
        p.same(args);
        assert_eq!(state(&p.ours), state(&p.theirs), "after {args:?}");
    }
    assert!(
        std::fs::read_link(p.ours.join("r"))
            .expect("r is a link")
            .to_string_lossy()
            .contains("/SHA256E--"),
        "no key lost its size"
    );
    p.same(&["whereis", "p", "r"]);
}

/// `sync --content` and `pull` apply the migrations recorded elsewhere
/// before the content pass, as the reference (`annex.syncmigrations`);
/// with `annex.syncmigrations=false` they do not.
#[test]
fn sync_with_content_applies_migrations_as_the_reference() {
    let (_tmp, _o, c) = migrated_elsewhere(run_theirs);
    // b is not wanted here: no transfer in the content pass (the
    // reference draws a progress meter for one).
    support::annex(&c, &["wanted", "here", "exclude=b"]);
    let out = same_in_copies(&c, "sync", &["sync", "--no-push", "--content"]);
    assert!(out.contains("migrate a.txt (checksum...) ok"), "{out}");
    let out = same_in_copies(&c, "pull", &["pull"]);
    assert!(out.contains("migrate a.txt (checksum...) ok"), "{out}");
    // Off: no migration applied (the content pass then gets the new
    // keys from the origin, with the reference's progress meter: only the
    // migrations are compared).
    for run in [run_ours, run_theirs] {
        let d = c.with_file_name("off");
        copy_repo(&c, &d);
        let out = run(&d, &["pull", "-c", "annex.syncmigrations=false"]);
        assert!(out.status.success(), "{out:?}");
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("migrate "),
            "{out:?}"
        );
        std::fs::remove_dir_all(&d).expect("rm");
    }
}

/// Files under one hash in both its backends (`SHA256E`, `SHA256`), one
/// with an `annex.backend` attribute, and `k.txt` under a key git-annex
/// upgrades: a `SHA256` key that still carries an extension (what an old
/// `migrate` from `SHA256E` left), given its content with `reinject`.
fn setup_fast(d: &Path) {
    write_files(
        d,
        &[
            ("a.txt", "a\n"),
            ("u.txt", "u\n"),
            ("c.bin", "c\n"),
            ("d.dat", "d\n"),
            ("k.txt", "k\n"),
        ],
    );
    assert!(theirs(d, &["add", "--quiet", "."], None).status.success());
    assert!(theirs(d, &["unlock", "u.txt"], None).status.success());
    let key = key_at_worktree(d, "k.txt");
    let old = key.replacen("SHA256E-", "SHA256-", 1);
    assert!(
        theirs(d, &["fromkey", "--force", &old, "k2.txt"], None)
            .status
            .success()
    );
    std::fs::write(d.join("k-content"), "k\n").expect("write");
    let out = theirs(d, &["reinject", "k-content", "k2.txt"], None);
    assert!(out.status.success(), "reinject: {out:?}");
    std::fs::write(d.join(".gitattributes"), "*.bin annex.backend=SHA1\n").expect("write");
    support::git(d, &["add", ".gitattributes"]);
    support::git(d, &["commit", "-q", "-m", "add"]);
}

fn key_at_worktree(d: &Path, file: &str) -> String {
    let target = std::fs::read_link(d.join(file)).expect("an annexed link");
    target
        .to_string_lossy()
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string()
}

/// `migrate` between the two backends of one hash without reading the
/// content (no check of the old key: one `checksum...` for a locked file,
/// none for an unlocked one), the `annex.backend` attribute choosing the
/// backend, a key git-annex upgrades migrated within its own backend, and
/// `--force` rehashing within one backend: output, `--json`, links,
/// index and logs as the reference's.
#[test]
fn migrate_fast_upgraded_and_by_attribute_matches_the_reference() {
    let p = Pair::new(setup_fast);
    let files = ["a.txt", "c.bin", "d.dat", "k2.txt"];
    let state = |d: &Path| {
        format!(
            "{}\n{}\n{:?}",
            support::git(d, &["ls-files", "-s"]),
            support::git(d, &["status", "--short"]),
            files.map(|f| std::fs::read_link(d.join(f)).ok()),
        )
    };
    for args in [
        &["migrate", "--backend=SHA256", "a.txt"][..],
        &["migrate", "--backend=SHA256E", "--json", "a.txt"],
        &["migrate", "--backend=SHA256", "u.txt"],
        &["migrate", "c.bin", "d.dat"],
        &["migrate", "--backend=SHA256", "k2.txt"],
        &["migrate", "--force", "d.dat"],
    ] {
        p.same(args);
        assert_eq!(state(&p.ours), state(&p.theirs), "after {args:?}");
    }
    let link = |f: &str| {
        std::fs::read_link(p.ours.join(f))
            .expect("a link")
            .to_string_lossy()
            .into_owned()
    };
    assert!(link("c.bin").contains("/SHA1-"), "{}", link("c.bin"));
    assert!(!link("k2.txt").ends_with(".txt"), "{}", link("k2.txt"));
    p.same(&["fsck", "--quiet"]);
    p.same(&["whereis", "a.txt", "u.txt", "k2.txt"]);
    p.same_branch(|f| f.ends_with(".log"));
}
