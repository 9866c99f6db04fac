//! End-to-end tests of the content pass of `sync --content`: networks of
//! three repositories (`a`, `b`, `c`, each a remote of the others) made
//! by the reference git-annex with preferred content set on each, where
//! the same steps are run by us (`sync --content`) on one copy and by the
//! reference (`sync --content`) on another. The reference is the oracle: which repository holds which key
//! afterwards, and the actions shown (`get`/`put`/`drop` lines with their
//! explanations), must be the same.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::ours;
use crate::support::{annex, annex_output, git};

/// A network of three repositories under one directory.
struct Net {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

/// The files of `a`: name and content.
fn files() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("f1.txt", b"hello\n".to_vec()),
        ("notes/huge.txt", vec![b'h'; 3000]),
        ("big.bin", vec![b'b'; 2000]),
        ("song.mp3", b"la la la la la la\n".to_vec()),
        // Wanted by no repository.
        ("small.bin", b"small\n".to_vec()),
        // The same content as f1.txt.
        ("sub/dup.txt", b"hello\n".to_vec()),
        ("sub/other.dat", b"other\n".to_vec()),
    ]
}

impl Net {
    fn repo(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// A copy of the whole network (same UUIDs, same content; remotes are
    /// relative paths, so the copy is a network of its own).
    fn copy(&self) -> Net {
        self.copy_with("b")
    }

    /// [`Net::copy`] with another repository of the root than `b` too
    /// (`b` itself again is harmless).
    fn copy_with(&self, extra: &str) -> Net {
        let dir = tempfile::tempdir().expect("temp dir");
        let st = Command::new("cp")
            .arg("-a")
            .arg(self.repo("a"))
            .arg(self.repo("b"))
            .arg(self.repo("c"))
            .arg(self.repo(extra))
            .arg(dir.path())
            .status()
            .expect("cp");
        assert!(st.success());
        Net {
            root: dir.path().to_path_buf(),
            _dir: dir,
        }
    }

    /// The git level of sync everywhere (the reference's, no content), so
    /// every repository knows every `git-annex` branch.
    fn git_sync(&self) {
        // What c pushes to a and b (`synced/git-annex`) is merged by their
        // next command.
        for r in ["a", "b", "c"] {
            annex(&self.repo(r), &["sync", "--no-content", "-q"]);
        }
    }

    /// The keys each repository has (the reference's `findkeys`).
    fn placement(&self) -> BTreeMap<&'static str, BTreeSet<String>> {
        ["a", "b", "c"]
            .into_iter()
            .map(|r| {
                let keys = annex(&self.repo(r), &["findkeys"])
                    .lines()
                    .map(str::to_owned)
                    .collect();
                (r, keys)
            })
            .collect()
    }
}

/// Makes the network: `a` holds the files (committed), `b` and `c` are
/// clones; `config` runs in the root (the reference's `wanted`, `group`,
/// `numcopies`, ...) before the branches are spread by syncing.
fn net(config: impl Fn(&Path)) -> Net {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_path_buf();
    let a = root.join("a");
    std::fs::create_dir(&a).expect("mkdir");
    git(&a, &["init", "-q", "-b", "main"]);
    annex(&a, &["init", "a"]);
    for (name, content) in files() {
        let p = a.join(name);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, content).expect("write");
    }
    annex(&a, &["add", "."]);
    git(&a, &["commit", "-q", "-m", "add"]);
    for (r, other) in [("b", "c"), ("c", "b")] {
        git(&root, &["clone", "-q", "a", r]);
        let d = root.join(r);
        git(&d, &["remote", "set-url", "origin", "../a"]);
        annex(&d, &["init", r]);
        git(&d, &["remote", "add", other, &format!("../{other}")]);
    }
    git(&a, &["remote", "add", "b", "../b"]);
    git(&a, &["remote", "add", "c", "../c"]);
    let n = Net { _dir: dir, root };
    n.git_sync();
    config(&n.root);
    n.git_sync();
    n
}

/// The remotes each repository syncs content with, in the order given to
/// both implementations.
fn remotes_of(repo: &str) -> &'static [&'static str] {
    // A step may run in a subdirectory (`a/sub`).
    match repo.split('/').next().unwrap_or(repo) {
        "a" => &["c", "b"],
        "b" => &["c", "origin"],
        _ => &["b", "origin"],
    }
}

/// The content actions of a sync's stdout: each `get`/`put`/`drop` line
/// with what it printed up to its `ok` or `failed` (the git-level lines
/// of the reference's sync around them left out).
fn actions(o: &Output) -> Vec<String> {
    let text = crate::transfer::strip_meter(&String::from_utf8_lossy(&o.stdout));
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in text.lines() {
        match block.as_mut() {
            None if ["get ", "put ", "drop "]
                .iter()
                .any(|p| line.starts_with(p)) =>
            {
                block = Some(line.to_owned());
            }
            None => continue,
            Some(b) => {
                b.push('\n');
                b.push_str(line);
            }
        }
        let t = line.trim_end();
        if t.ends_with(" ok") || t.ends_with(" failed") || t == "ok" || t == "failed" {
            out.extend(block.take());
        }
    }
    out.extend(block);
    out
}

fn ours_sync(dir: &Path, extra: &[&str], remotes: &[&str]) -> Output {
    let mut args = vec!["sync", "--content"];
    args.extend(extra);
    args.extend(remotes);
    let o = ours(dir, &args);
    assert!(
        o.status.code().is_some(),
        "ours died: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn ref_sync(dir: &Path, extra: &[&str], remotes: &[&str]) -> Output {
    let mut args = vec!["sync", "--content"];
    args.extend(extra);
    args.extend(remotes);
    annex_output(dir, &args, None)
}

/// Runs the content pass in each of `steps` (repositories, in order) on a
/// copy of `n` with ours and on another with the reference (whose sync
/// pulls first; ours is preceded by a `git fetch` of every remote, whose
/// `git-annex` branches it merges); checks that each step shows the same
/// actions and exit code, and that the repositories end holding the same
/// keys. Returns our copy and the actions of each step.
fn same_steps(n: &Net, steps: &[&str], extra: &[&str]) -> (Net, Vec<Vec<String>>) {
    same_steps_mode(n, steps, extra, true)
}

/// [`same_steps`], with `sync --content` when `content`, else a plain
/// `sync` (the default content sync of git-annex 10.20261026).
fn same_steps_mode(
    n: &Net,
    steps: &[&str],
    extra: &[&str],
    content: bool,
) -> (Net, Vec<Vec<String>>) {
    let o = n.copy();
    let r = n.copy();
    let mut shown = Vec::new();
    for step in steps {
        git(&o.repo(step), &["fetch", "-q", "--all"]);
        let remotes = remotes_of(step);
        let (ours_out, ref_out) = if content {
            (
                ours_sync(&o.repo(step), extra, remotes),
                ref_sync(&r.repo(step), extra, remotes),
            )
        } else {
            let mut args = vec!["sync"];
            args.extend(extra);
            args.extend(remotes);
            (
                ours(&o.repo(step), &args),
                annex_output(&r.repo(step), &args, None),
            )
        };
        let (mut ours_actions, mut ref_actions) = (actions(&ours_out), actions(&ref_out));
        if extra.iter().any(|a| a.starts_with("-J")) {
            // In parallel, actions finish in any order.
            ours_actions.sort();
            ref_actions.sort();
        }
        assert_eq!(
            ours_actions,
            ref_actions,
            "actions of the content pass in {step} {extra:?}\nours stderr: {}\nref stderr: {}",
            String::from_utf8_lossy(&ours_out.stderr),
            String::from_utf8_lossy(&ref_out.stderr)
        );
        assert_eq!(
            ours_out.status.code(),
            ref_out.status.code(),
            "exit code in {step}\nours stderr: {}",
            String::from_utf8_lossy(&ours_out.stderr)
        );
        shown.push(ref_actions);
    }
    assert_eq!(
        o.placement(),
        r.placement(),
        "placement after {steps:?} {extra:?}"
    );
    (o, shown)
}

fn key_of(dir: &Path, file: &str) -> String {
    annex(dir, &["lookupkey", file]).trim().to_owned()
}

/// `wanted` on each repository: `a` by `exclude=`, `b` by `include=`,
/// `c` through its group's `groupwanted` (`largerthan=`).
fn wanted_everywhere(root: &Path) {
    annex(&root.join("a"), &["wanted", "here", "exclude=*.bin"]);
    annex(&root.join("b"), &["wanted", "here", "include=*.txt"]);
    let c = root.join("c");
    annex(&c, &["group", "here", "big"]);
    annex(&c, &["groupwanted", "big", "largerthan=1000"]);
    annex(&c, &["wanted", "here", "groupwanted"]);
}

#[test]
fn three_repos_hold_what_they_want_as_the_reference() {
    let n = net(wanted_everywhere);
    let a = n.repo("a");
    let k = |f: &str| key_of(&a, f);
    let (o, shown) = same_steps(&n, &["a", "b", "c"], &[]);
    // a sends to b and c and drops big.bin; b and c then have all they want.
    assert_eq!(
        shown[0],
        [
            "put big.bin (to c...) ok",
            "drop big.bin ok",
            "put f1.txt (to b...) ok",
            "put notes/huge.txt (to c...) ok",
            "put notes/huge.txt (to b...) ok",
        ]
    );
    assert!(shown[1].is_empty() && shown[2].is_empty(), "{shown:?}");
    // Each repository holds exactly what it wants; `small.bin`, wanted
    // nowhere, stays in its only copy.
    let set = |fs: &[&str]| fs.iter().map(|f| k(f)).collect::<BTreeSet<_>>();
    let placement = o.placement();
    assert_eq!(
        placement["a"],
        set(&[
            "f1.txt",
            "notes/huge.txt",
            "song.mp3",
            "small.bin",
            "sub/other.dat"
        ])
    );
    assert_eq!(placement["b"], set(&["f1.txt", "notes/huge.txt"]));
    assert_eq!(placement["c"], set(&["notes/huge.txt", "big.bin"]));
    // A second run anywhere transfers and drops nothing.
    o.git_sync();
    for r in ["a", "b", "c"] {
        let out = ours_sync(&o.repo(r), &[], remotes_of(r));
        assert!(out.status.success(), "{out:?}");
        assert_eq!(actions(&out), Vec::<String>::new(), "second run in {r}");
    }
    assert_eq!(o.placement(), placement);
    // fsck (the reference's) finds the location logs true.
    for r in ["a", "b", "c"] {
        annex(&o.repo(r), &["fsck", "-q"]);
    }
}

#[test]
fn parallel_jobs_place_as_the_reference() {
    let n = net(wanted_everywhere);
    let (_, shown) = same_steps(&n, &["a", "b", "c"], &["-J3"]);
    assert_eq!(shown[0].len(), 5, "{shown:?}");
}

/// Nothing is wanted anywhere (`exclude=*` everywhere, `c` untrusted):
/// drops go as far as numcopies allows and no further, copies verified,
/// the refused drops explained as the reference explains them.
#[test]
fn drops_respect_numcopies_as_the_reference() {
    let n = net(|root| {
        let (a, b, c) = (root.join("a"), root.join("b"), root.join("c"));
        annex(&b, &["get", "-q", "f1.txt", "song.mp3"]);
        annex(&c, &["get", "-q", "song.mp3", "sub/other.dat"]);
        annex(&b, &["untrust", "c"]);
        for r in [&a, &b, &c] {
            annex(r, &["wanted", "here", "exclude=*"]);
        }
    });
    let (o, shown) = same_steps(&n, &["a"], &[]);
    assert!(
        shown[0].iter().any(|a| a.contains("(unsafe)")),
        "some drop refused: {shown:?}"
    );
    // Every key still has a copy.
    let placement = o.placement();
    let a = o.repo("a");
    for (f, _) in files() {
        let k = key_of(&a, f);
        assert!(
            placement.values().any(|s| s.contains(&k)),
            "{f} lost: {placement:?}"
        );
    }
    // With numcopies 2, no key with two semitrusted copies (in a and b)
    // loses one; only the untrusted copies in c may go.
    let n2 = n.copy();
    annex(&n2.repo("a"), &["numcopies", "2"]);
    n2.git_sync();
    let before = n2.placement();
    let (o2, _) = same_steps(&n2, &["a", "b"], &[]);
    let after = o2.placement();
    assert_eq!(after["a"], before["a"]);
    assert_eq!(after["b"], before["b"]);
}

#[test]
fn all_keys_as_the_reference() {
    let n = net(wanted_everywhere);
    // A key no file uses any more (an old version) is synced too.
    let a = n.repo("a");
    std::fs::remove_file(a.join("song.mp3")).expect("rm");
    git(&a, &["commit", "-q", "-a", "-m", "rm"]);
    n.git_sync();
    let (_, shown) = same_steps(&n, &["a", "b", "c"], &["--all"]);
    // The old version's key, shown by key, goes where it is wanted.
    assert!(
        shown
            .iter()
            .flatten()
            .any(|a| a.starts_with("put SHA256E-")),
        "{shown:?}"
    );
}

#[test]
fn content_of_as_the_reference() {
    let n = net(wanted_everywhere);
    let (o, _) = same_steps(&n, &["a", "b"], &["--content-of", "sub"]);
    // Only files under sub/ moved: b has f1.txt's key through sub/dup.txt.
    let a = o.repo("a");
    assert!(o.placement()["b"].contains(&key_of(&a, "sub/dup.txt")));
    assert!(!o.placement()["b"].contains(&key_of(&a, "notes/huge.txt")));
    // From a subdirectory: `--content-of` is relative to it, and names are
    // shown from the top.
    let (_, shown) = same_steps(&n, &["a/sub"], &["--content-of", "dup.txt"]);
    assert_eq!(shown[0], ["put sub/dup.txt (to b...) ok"]);
}

/// From a subdirectory with no path, the whole work tree is synced, as
/// the reference does.
#[test]
fn subdirectory_syncs_the_whole_tree_as_the_reference() {
    let n = net(wanted_everywhere);
    let (_, shown) = same_steps(&n, &["a/sub"], &[]);
    assert!(
        shown[0].iter().any(|a| a.starts_with("put f1.txt")),
        "{shown:?}"
    );
}

/// A remote with `annex-ignore` set takes no part (nothing sent to it,
/// nothing dropped from it), as in the reference.
#[test]
fn ignored_remote_as_the_reference() {
    let n = net(wanted_everywhere);
    git(&n.repo("a"), &["config", "remote.c.annex-ignore", "true"]);
    let (o, shown) = same_steps(&n, &["a"], &[]);
    assert!(o.placement()["c"].is_empty());
    assert!(!shown[0].is_empty());
}

/// `--json`: one object per action with git-annex's `command` names and
/// the fields of the reference's `put --json`, `get --json` and
/// `drop --json` for the same actions.
#[test]
fn json_objects_have_the_reference_fields() {
    let n = net(wanted_everywhere);
    let a = n.repo("a");
    let o = n.copy();
    let out = ours_sync(&o.repo("a"), &["--json"], remotes_of("a"));
    assert!(out.status.success(), "{out:?}");
    let objs: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object a line"))
        .collect();
    let fields = |v: &Value| -> BTreeSet<String> {
        v.as_object().expect("object").keys().cloned().collect()
    };
    // put f1.txt to b, as the reference's `put --json` says it.
    let put = objs
        .iter()
        .find(|v| v["command"] == "put" && v["file"] == "f1.txt")
        .expect("a put of f1.txt");
    let r = n.copy();
    let ref_put = annex(&r.repo("a"), &["put", "--json", "f1.txt"]);
    let ref_put: Vec<Value> = ref_put
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let ref_b = ref_put
        .iter()
        .find(|v| v["note"] == "to b...")
        .expect("reference put to b");
    assert_eq!(fields(put), fields(ref_b));
    for f in [
        "command",
        "file",
        "key",
        "note",
        "success",
        "uuid",
        "error-messages",
    ] {
        assert_eq!(put[f], ref_b[f], "field {f}");
    }
    // Not from a command-line item: `input` is empty.
    assert_eq!(put["input"], Value::Array(Vec::new()));
    // The drop of big.bin here, as the reference's `drop --json` gives it
    // (after the put to c).
    let drop = objs
        .iter()
        .find(|v| v["command"] == "drop" && v["file"] == "big.bin")
        .expect("a drop of big.bin");
    annex(&r.repo("a"), &["copy", "-q", "--to", "c", "big.bin"]);
    let ref_drop: Value =
        serde_json::from_str(annex(&r.repo("a"), &["drop", "--json", "big.bin"]).trim())
            .expect("json");
    assert_eq!(fields(drop), fields(&ref_drop));
    for f in ["command", "file", "key", "success", "error-messages"] {
        assert_eq!(drop[f], ref_drop[f], "field {f}");
    }
    // The get of f1.txt into b (a fresh copy), as the reference's
    // `get --json`.
    let o3 = n.copy();
    let out = ours_sync(&o3.repo("b"), &["--json"], remotes_of("b"));
    let objs: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let r2 = n.copy();
    let ref_get: Value =
        serde_json::from_str(annex(&r2.repo("b"), &["get", "--json", "f1.txt"]).trim())
            .expect("json");
    let get = objs
        .iter()
        .find(|v| v["command"] == "get" && v["file"] == "f1.txt")
        .expect("a get of f1.txt");
    assert_eq!(fields(get), fields(&ref_get));
    for f in ["command", "file", "key", "note", "success"] {
        assert_eq!(get[f], ref_get[f], "field {f}");
    }
    assert_eq!(
        key_of(&a, "f1.txt"),
        get["key"].as_str().unwrap_or_default()
    );
}

/// A file's `annex.numcopies` attribute (`.gitattributes`) is honoured for
/// its drops, as the reference honours it.
#[test]
fn numcopies_attribute_as_the_reference() {
    let n = net(|root| {
        let (a, b) = (root.join("a"), root.join("b"));
        std::fs::write(a.join(".gitattributes"), "*.mp3 annex.numcopies=2\n").expect("write");
        git(&a, &["add", ".gitattributes"]);
        git(&a, &["commit", "-q", "-m", "attributes"]);
        annex(&b, &["get", "-q", "f1.txt", "song.mp3"]);
        for r in ["a", "b", "c"] {
            annex(&root.join(r), &["wanted", "here", "exclude=*"]);
        }
    });
    let (o, shown) = same_steps(&n, &["b", "a"], &[]);
    let a = o.repo("a");
    // f1.txt went from one of them; song.mp3 (2 copies needed) stayed in both.
    let song = key_of(&a, "song.mp3");
    assert!(o.placement()["a"].contains(&song) && o.placement()["b"].contains(&song));
    assert!(
        shown.iter().flatten().any(|s| s.starts_with("drop f1.txt")),
        "{shown:?}"
    );
}

/// A remote whose repository is gone: its actions fail with the
/// reference's explanations (a put with its `--fast` hint, a get naming
/// the remotes it could not access) while the others go on.
#[test]
fn unavailable_remote_as_the_reference() {
    let n = net(wanted_everywhere);
    for (step, gone) in [("a", "c"), ("b", "a")] {
        let o = n.copy();
        let r = n.copy();
        for x in [&o, &r] {
            std::fs::rename(x.repo(gone), x.root.join("gone")).expect("mv");
        }
        let ours_out = ours_sync(&o.repo(step), &[], remotes_of(step));
        let ref_out = ref_sync(&r.repo(step), &[], remotes_of(step));
        let shown = actions(&ref_out);
        assert!(shown.iter().any(|a| a.ends_with("failed")), "{shown:?}");
        assert_eq!(
            actions(&ours_out),
            shown,
            "in {step} with {gone} gone\nours stderr: {}",
            String::from_utf8_lossy(&ours_out.stderr)
        );
        let warnings = |o: &Output| -> Vec<String> {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .filter(|l| l.starts_with("  ") && !l.starts_with("   ") && !l.contains("Pushing"))
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(
            warnings(&ours_out),
            warnings(&ref_out),
            "warnings in {step}"
        );
        assert!(!ours_out.status.success());
        // An incomplete pass leaves no record: the next one looks at
        // every file again.
        assert!(!record(&o.repo(step)).exists(), "record after {step}");
    }
}

/// In a bare repository every key is synced (there is no work tree), as
/// the reference does; keys are shown as such, and `exclude=` preferred
/// content wants keys with no file.
#[test]
fn bare_repository_as_the_reference() {
    let n = net(wanted_everywhere);
    git(&n.root, &["clone", "-q", "--bare", "a", "bare"]);
    let bare = n.repo("bare");
    annex(&bare, &["init", "bare"]);
    git(&bare, &["remote", "add", "a", "../a"]);
    let o = n.copy_with("bare");
    let r = n.copy_with("bare");
    git(&o.repo("bare"), &["fetch", "-q", "a"]);
    let ours_out = ours_sync(&o.repo("bare"), &[], &["a"]);
    let ref_out = ref_sync(&r.repo("bare"), &[], &["a"]);
    let shown = actions(&ref_out);
    assert!(
        shown.iter().any(|a| a.starts_with("get SHA256E-")),
        "{shown:?}"
    );
    assert_eq!(actions(&ours_out), shown);
    assert_eq!(
        annex(&o.repo("a"), &["findkeys"]),
        annex(&r.repo("a"), &["findkeys"])
    );
}

/// A repository past its maxsize is still sent what it wants: the
/// reference binary's sync does not refuse (checked with `maxsize b 5`).
#[test]
fn maxsize_as_the_reference() {
    let n = net(|root| {
        wanted_everywhere(root);
        annex(&root.join("a"), &["maxsize", "b", "5"]);
    });
    let (_, shown) = same_steps(&n, &["a"], &[]);
    assert!(
        shown[0]
            .iter()
            .any(|a| a.starts_with("put f1.txt (to b...)")),
        "{shown:?}"
    );
}

/// A key used by two files is kept where one of its names is wanted
/// (git-annex's `wantDrop` over the associated files), as the reference.
#[test]
fn same_content_under_a_wanted_name_is_kept_as_the_reference() {
    let n = net(|root| {
        let c = root.join("c");
        annex(&c, &["get", "-q", "f1.txt", "big.bin"]);
        annex(&c, &["wanted", "here", "include=sub/*"]);
    });
    let (o, shown) = same_steps(&n, &["c"], &[]);
    let c = o.repo("c");
    // f1.txt is not wanted by name, sub/dup.txt (same key) is: kept.
    assert!(o.placement()["c"].contains(&key_of(&c, "f1.txt")));
    assert!(
        shown[0].iter().any(|a| a.starts_with("drop big.bin")),
        "{shown:?}"
    );
}

/// Without `--content`, `--no-content` or `annex.synccontent`, git-annex
/// 10.20261026 syncs content with the repositories that have preferred
/// content configured, and with no other: here only `b` has one, so `a`
/// sends `b` what it wants and `c` receives nothing.
#[test]
fn default_content_sync_involves_only_configured_repositories_as_the_reference() {
    let n = net(|root| {
        annex(&root.join("b"), &["wanted", "here", "include=*.txt"]);
    });
    let (o, shown) = same_steps_mode(&n, &["a", "b", "c"], &[], false);
    assert!(!shown[0].is_empty(), "{shown:?}");
    assert!(
        shown.iter().flatten().all(|l| l.contains("(to b...)")),
        "{shown:?}"
    );
    assert!(o.placement()["c"].is_empty());
    // Nothing configured anywhere: a plain sync moves no content.
    let n = net(|_| {});
    let (_, shown) = same_steps_mode(&n, &["a", "b", "c"], &[], false);
    assert!(shown.iter().all(Vec::is_empty), "{shown:?}");
}

/// The record of the last complete content pass (`.git/annex/rs-sync-content`).
fn record(repo: &Path) -> PathBuf {
    repo.join(".git/annex/rs-sync-content")
}

/// Removes the object of `file` from `repo` behind git-annex's back (its
/// location log still says it is there): a pass that looks at the file
/// gets it again from a remote that has it, a pass that trusts its record
/// does not.
fn lose_object(repo: &Path, file: &str) -> PathBuf {
    let loc = annex(repo, &["contentlocation", &key_of(repo, file)]);
    let obj = repo.join(loc.trim());
    let dir = obj.parent().expect("object dir").to_path_buf();
    let st = Command::new("chmod")
        .arg("u+w")
        .arg(&dir)
        .status()
        .expect("chmod");
    assert!(st.success());
    std::fs::remove_file(&obj).expect("remove the object");
    obj
}

/// A repeated `sync --content` works from what it knows: after a complete
/// pass, an unchanged repository is not looked at again (a lost object is
/// not noticed), a change of one key's location log brings that key, and
/// only it, into the next pass, and without the record every file is
/// looked at again.
#[test]
fn repeated_content_sync_does_only_what_changed() {
    let n = net(wanted_everywhere);
    let o = n.copy();
    let a = o.repo("a");
    let first = ours_sync(&a, &[], remotes_of("a"));
    assert!(first.status.success(), "{first:?}");
    assert_eq!(actions(&first).len(), 5, "{:?}", actions(&first));
    assert!(record(&a).exists());
    assert!(a.join(".git/annex/rs-sync-content-files").exists());
    // The keys the first pass moved are looked at again, and need
    // nothing more; then nothing changed at all.
    for round in 0..2 {
        let again = ours_sync(&a, &[], remotes_of("a"));
        assert!(again.status.success(), "{again:?}");
        assert_eq!(actions(&again), Vec::<String>::new(), "round {round}");
        assert!(record(&a).exists());
    }
    // f1.txt is wanted in a and b has it: a pass looking at it would get
    // it back.
    let obj = lose_object(&a, "f1.txt");
    let skipped = ours_sync(&a, &[], remotes_of("a"));
    assert_eq!(actions(&skipped), Vec::<String>::new());
    assert!(!obj.exists());
    // b loses notes/huge.txt (which it wants) and says so: only that key
    // is looked at in a, which sends it back.
    let b = o.repo("b");
    annex(&b, &["drop", "--force", "-q", "notes/huge.txt"]);
    annex(&b, &["sync", "--no-content", "-q"]);
    let changed = ours_sync(&a, &[], remotes_of("a"));
    assert!(changed.status.success(), "{changed:?}");
    assert_eq!(
        actions(&changed),
        ["put notes/huge.txt (to b...) ok"],
        "stderr: {}",
        String::from_utf8_lossy(&changed.stderr)
    );
    assert!(!obj.exists());
    // Without the record, every file: f1.txt comes back.
    std::fs::remove_file(record(&a)).expect("rm record");
    let full = ours_sync(&a, &[], remotes_of("a"));
    assert!(full.status.success(), "{full:?}");
    assert_eq!(actions(&full), ["get f1.txt (from b...) ok"]);
    assert!(obj.exists());
    annex(&a, &["fsck", "-q"]);
}

/// What the record does not cover makes the next pass a full one: a git
/// config setting, the preferred content of a repository (a log of the
/// `git-annex` branch that is not a key's), the options, a merge left
/// conflicted, a commit that failed, and a work tree that holds changes
/// `HEAD` lacks.
#[test]
fn content_sync_record_follows_settings() {
    let n = net(wanted_everywhere);
    let o = n.copy();
    let a = o.repo("a");
    let sync = |extra: &[&str]| {
        let out = ours_sync(&a, extra, remotes_of("a"));
        assert!(out.status.success(), "{out:?}");
        actions(&out)
    };
    sync(&[]);
    sync(&[]);
    let hook = a.join(".git/hooks/pre-commit");
    let saved_hook = std::fs::read(&hook).ok();
    let changes: [(&str, &dyn Fn()); 6] = [
        ("git config", &|| {
            git(&a, &["config", "remote.b.annex-cost", "150"]);
        }),
        ("preferred content", &|| {
            annex(&a, &["wanted", "here", "exclude=*.bin and exclude=*.dat"]);
        }),
        ("options", &|| {}),
        ("conflicted merge", &|| {
            let head = git(&a, &["rev-parse", "HEAD"]);
            std::fs::write(a.join(".git/MERGE_HEAD"), head).expect("write MERGE_HEAD");
        }),
        ("failed commit", &|| {
            // A tracked file changed, and a hook refusing the commit.
            std::fs::write(&hook, "#!/bin/sh\nexit 1\n").expect("write hook");
            let st = Command::new("chmod")
                .arg("+x")
                .arg(&hook)
                .status()
                .expect("chmod");
            assert!(st.success());
            std::fs::remove_file(a.join("sub/other.dat")).expect("rm");
            std::fs::write(a.join("sub/other.dat"), "changed\n").expect("write");
        }),
        ("work tree", &|| {
            std::fs::write(a.join("untracked.txt"), "x").expect("write");
        }),
    ];
    for (what, change) in changes {
        let obj = lose_object(&a, "f1.txt");
        assert_eq!(sync(&[]), Vec::<String>::new(), "before the {what} change");
        change();
        let extra: &[&str] = match what {
            "options" => &["--all"],
            "conflicted merge" | "work tree" => &["--no-commit"],
            _ => &[],
        };
        let shown = sync(extra);
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with("get f1.txt (from b...)")),
            "after the {what} change: {shown:?}"
        );
        assert!(obj.exists(), "{what}");
        // Recorded again with the usual options (the last change leaves
        // an untracked file: no record can be trusted while it is there).
        if what == "conflicted merge" {
            std::fs::remove_file(a.join(".git/MERGE_HEAD")).expect("rm MERGE_HEAD");
        }
        if what == "failed commit" {
            match &saved_hook {
                Some(h) => std::fs::write(&hook, h).expect("restore hook"),
                None => std::fs::remove_file(&hook).expect("rm hook"),
            }
            std::fs::remove_file(a.join("sub/other.dat")).expect("rm");
            git(&a, &["checkout", "--", "sub/other.dat"]);
        }
        if what != "work tree" {
            sync(&[]);
            sync(&[]);
        }
    }
}

/// `sync --content -J3 --json-progress` (ours only: the reference's `sync`
/// takes neither `--json` nor `--json-progress`): every transfer made in
/// parallel shows its progress objects, with the action as `get -J` and
/// `copy -J` of the reference show theirs (`command`, `file`, `input`,
/// `key`, `note`), before the transfer's own object.
#[test]
fn parallel_transfers_show_json_progress() {
    let n = net(wanted_everywhere);
    let o = n.copy();
    let a = o.repo("a");
    let out = ours(
        &a,
        &["sync", "--content", "--json-progress", "-J3", "c", "b"],
    );
    assert!(out.status.success(), "{out:?}");
    let objects: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let puts: Vec<&Value> = objects
        .iter()
        .filter(|v| v["command"] == "put" && v["success"] == true)
        .collect();
    assert_eq!(puts.len(), 4, "{objects:#?}");
    for put in puts {
        let pos = objects
            .iter()
            .position(|v| std::ptr::eq(v, put))
            .expect("position");
        let progress: Vec<&Value> = objects[..pos]
            .iter()
            .filter(|v| v["action"]["key"] == put["key"] && v["action"]["note"] == put["note"])
            .collect();
        let last = progress
            .last()
            .unwrap_or_else(|| panic!("no progress before {put}"));
        assert_eq!(last["action"]["command"], "put");
        // One transfer per key and remote, though two files use a key.
        assert!(
            progress.iter().all(|p| p["action"]["file"] == put["file"]),
            "{progress:#?}"
        );
        assert_eq!(last["action"]["file"], put["file"]);
        assert_eq!(last["action"]["input"], serde_json::json!([]));
        assert_eq!(last["byte-progress"], last["total-size"]);
        assert_eq!(last["percent-progress"], "100%");
    }
}
