//! `fsck` of an item through the library ([`annex_ops::fsck::Checker`]):
//! sound content, corrupted content (moved to `.git/annex/bad`, the
//! location log fixed), too few copies, the `annex.numcopies` attribute,
//! and a remote on this machine checked with `from`; each time the
//! reference's `fsck` and `whereis --json` agree with what the library
//! decided and left.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use annex_core::key::Key;
use annex_ops::fsck::{Checker, Event, FsckOptions, logged_keys, record_activity};
use annex_ops::{Annex, Item};
use test_support::{annex, git};

use crate::fixture::{self, has, open, pair, reference_succeeds, uuid_of, uuids, whereis};

const A: &[u8] = b"content of a\n";
const B: &[u8] = b"content of b\n";

/// Checks `item` (called `desc` in messages) with `options`: whether it
/// was fine, and the events shown.
fn check(annex: &Annex, options: FsckOptions, item: &Item, desc: &str) -> (bool, Vec<Event>) {
    let checker = Checker::new(annex, options).expect("set up the checks");
    let mut events = Vec::new();
    let mut on = |e: Event| {
        events.push(e);
        Ok::<(), annex_core::fsck::FsckError>(())
    };
    let ok = checker.check(item, desc, &mut on).expect("a check");
    (ok, events)
}

/// The warnings among `events`.
fn warnings(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Warning(w) => Some(w.as_str()),
            _ => None,
        })
        .collect()
}

/// Where the reference keeps `key`'s content in `dir`.
fn object_path(dir: &Path, key: &Key) -> PathBuf {
    let rel = annex(dir, &["contentlocation", &key.to_string()]);
    dir.join(rel.trim())
}

/// Overwrites `key`'s content in `dir` with as many other bytes.
fn corrupt(dir: &Path, key: &Key) {
    let obj = object_path(dir, key);
    let len = std::fs::metadata(&obj).expect("the object").len();
    std::fs::set_permissions(&obj, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let junk = vec![b'x'; usize::try_from(len).expect("a small object")];
    std::fs::write(&obj, junk).expect("corrupt the object");
}

#[test]
fn fsck_of_sound_content_is_fine_as_the_reference_finds() {
    let p = pair(&[("a", A)]);
    let ops = open(&p.origin);
    let item = fixture::item(&ops, "a");
    let (ok, events) = check(&ops, FsckOptions::default(), &item, "a");
    assert!(ok, "{events:?}");
    assert!(events.contains(&Event::Note("checksum...")), "{events:?}");
    assert!(warnings(&events).is_empty(), "{events:?}");
    // --fast does not hash.
    let fast = FsckOptions {
        fast: true,
        ..FsckOptions::default()
    };
    let (ok, events) = check(&ops, fast, &item, "a");
    assert!(ok && events.is_empty(), "{events:?}");
    // The key alone (`--key`, `--all`) is as fine, and `--all` lists it.
    let (ok, _) = check(
        &ops,
        FsckOptions::default(),
        &Item::key(item.key.clone()),
        "k",
    );
    assert!(ok);
    assert!(logged_keys(&ops).expect("keys").contains(&item.key));
    let checker = Checker::new(&ops, FsckOptions::default()).expect("checks");
    assert_eq!(checker.checked_uuid().as_str(), uuid_of(&p.origin));
    assert!(!checker.checks_dead());
    record_activity(&ops, checker.checked_uuid()).expect("record the activity");
    ops.session.commit().expect("commit");
    let activity = git(&p.origin, &["show", "git-annex:activity.log"]);
    assert!(
        activity.contains(&uuid_of(&p.origin)) && activity.contains("Fsck"),
        "{activity}"
    );
    assert!(has(&p.origin, &item.key));
    assert_eq!(whereis(&p.origin, "a"), uuids(&[&p.origin]));
    fixture::fsck_ok(&p.origin);
}

#[test]
fn corrupted_content_goes_to_bad_and_the_location_log_is_fixed() {
    let p = pair(&[("a", A), ("b", B)]);
    annex(&p.clone, &["get", "-q", "a", "b"]);
    let key = fixture::key_of(&p.clone, "a");
    corrupt(&p.clone, &key);
    let bad = p
        .clone
        .join(".git/annex/bad")
        .join(String::from_utf8_lossy(&annex_core::objects::key_file(&key)).as_ref());
    let ops = open(&p.clone);
    let item = fixture::item(&ops, "a");
    let (ok, events) = check(&ops, FsckOptions::default(), &item, "a");
    assert!(!ok, "{events:?}");
    let warned = warnings(&events);
    assert!(
        warned.len() == 1 && warned[0].starts_with("a: Bad file content; moved to "),
        "{events:?}"
    );
    assert_eq!(
        std::fs::read(&bad).expect("the bad content kept"),
        vec![b'x'; A.len()]
    );
    // b is untouched.
    let (ok, events) = check(&ops, FsckOptions::default(), &fixture::item(&ops, "b"), "b");
    assert!(ok, "{events:?}");
    ops.session.commit().expect("commit");
    drop(ops);
    assert!(!has(&p.clone, &key));
    assert_eq!(whereis(&p.clone, "a"), uuids(&[&p.origin]));
    assert_eq!(whereis(&p.clone, "b"), uuids(&[&p.origin, &p.clone]));
    // The reference finds nothing left to fix, and gets good content back.
    fixture::fsck_ok(&p.clone);
    annex(&p.clone, &["get", "-q", "a"]);
    assert_eq!(std::fs::read(p.clone.join("a")).expect("a"), A);
}

#[test]
fn too_few_copies_fail_as_the_reference_s_fsck_does() {
    let p = pair(&[("a", A)]);
    annex(&p.origin, &["numcopies", "2"]);
    let ops = open(&p.origin);
    assert_eq!(ops.numcopies, 2);
    let item = fixture::item(&ops, "a");
    let (ok, events) = check(&ops, FsckOptions::default(), &item, "a");
    assert!(!ok, "{events:?}");
    assert!(
        events.contains(&Event::MissingCopies {
            untrusted: Vec::new(),
            dead: Vec::new()
        }),
        "{events:?}"
    );
    assert_eq!(
        warnings(&events),
        ["Only 1 of 2 trustworthy copies exist of a\nBack it up with git-annex copy."]
    );
    assert!(!reference_succeeds(&p.origin, &["fsck", "a"]));
    // A forced numcopies (`--numcopies 1`) wins, as the reference's does.
    let forced = FsckOptions {
        numcopies: Some(1),
        ..FsckOptions::default()
    };
    let (ok, events) = check(&ops, forced, &item, "a");
    assert!(ok, "{events:?}");
    assert!(reference_succeeds(
        &p.origin,
        &["fsck", "--numcopies", "1", "a"]
    ));
    // Nothing was moved or unlogged: content stays where it was.
    ops.session.commit().expect("commit");
    assert!(has(&p.origin, &item.key));
    assert_eq!(whereis(&p.origin, "a"), uuids(&[&p.origin]));
}

#[test]
fn the_numcopies_attribute_is_honoured() {
    let p = pair(&[("a", A), ("b", B)]);
    std::fs::write(p.origin.join(".gitattributes"), "a annex.numcopies=2\n")
        .expect("write .gitattributes");
    git(&p.origin, &["add", ".gitattributes"]);
    git(&p.origin, &["commit", "-q", "-m", "numcopies"]);
    let ops = open(&p.origin);
    let a = fixture::item(&ops, "a");
    let b = fixture::item(&ops, "b");
    let checker = Checker::new(&ops, FsckOptions::default()).expect("checks");
    assert_eq!(checker.numcopies_for(&a), 2);
    assert_eq!(checker.numcopies_for(&b), 1);
    // The key alone has no attributes.
    assert_eq!(checker.numcopies_for(&Item::key(a.key.clone())), 1);
    let (ok, events) = check(&ops, FsckOptions::default(), &a, "a");
    assert!(!ok, "{events:?}");
    assert_eq!(
        warnings(&events),
        ["Only 1 of 2 trustworthy copies exist of a\nBack it up with git-annex copy."]
    );
    assert!(!reference_succeeds(&p.origin, &["fsck", "a"]));
    let (ok, events) = check(&ops, FsckOptions::default(), &b, "b");
    assert!(ok, "{events:?}");
    assert!(reference_succeeds(&p.origin, &["fsck", "b"]));
    // A forced numcopies overrides the attribute, as `--numcopies` does.
    let forced = FsckOptions {
        numcopies: Some(1),
        ..FsckOptions::default()
    };
    let (ok, events) = check(&ops, forced, &a, "a");
    assert!(ok, "{events:?}");
    assert!(reference_succeeds(
        &p.origin,
        &["fsck", "--numcopies", "1", "a"]
    ));
}

#[test]
fn fsck_from_a_remote_on_this_machine_moves_its_bad_content_here() {
    let p = pair(&[("a", A)]);
    let key = fixture::key_of(&p.origin, "a");
    corrupt(&p.origin, &key);
    let ops = open(&p.clone);
    let from = FsckOptions {
        from: Some("origin".to_owned()),
        ..FsckOptions::default()
    };
    let checker = Checker::new(&ops, from.clone()).expect("checks");
    assert_eq!(checker.checked_uuid().as_str(), uuid_of(&p.origin));
    let item = fixture::item(&ops, "a");
    let (ok, events) = check(&ops, from, &item, "a");
    assert!(!ok, "{events:?}");
    assert!(
        warnings(&events)
            .iter()
            .any(|w| w.starts_with("a: Bad file content;")),
        "{events:?}"
    );
    ops.session.commit().expect("commit");
    drop(ops);
    assert!(!has(&p.origin, &key));
    // The clone's location log no longer says origin has it.
    assert!(whereis(&p.clone, "a").is_empty());
    // An unknown remote is refused, in git-annex's words.
    let ops = open(&p.clone);
    let nowhere = FsckOptions {
        from: Some("nowhere".to_owned()),
        ..FsckOptions::default()
    };
    let Err(e) = Checker::new(&ops, nowhere) else {
        panic!("a remote that does not exist was accepted");
    };
    assert_eq!(
        e.to_string(),
        "there is no available git remote named \"nowhere\""
    );
}

/// A remote that is not on this machine, as `fsck --from` sees it through
/// the [`Remote`](annex_core::remote::Remote) trait: what it answers is
/// set by the test, the downloads asked of it are recorded.
#[derive(Debug)]
struct Far {
    uuid: annex_core::uuid::Uuid,
    /// `CHECKPRESENT`'s answer; `None`: it cannot be asked.
    present: Option<bool>,
    /// The content it sends; `None`: the download fails verification.
    content: Option<Vec<u8>>,
    /// Where each download was asked to go (shared with the test).
    downloads: std::sync::Arc<std::sync::Mutex<Vec<PathBuf>>>,
}

impl annex_core::remote::Remote for Far {
    fn name(&self) -> &str {
        "far"
    }
    fn uuid(&self) -> &annex_core::uuid::Uuid {
        &self.uuid
    }
    fn cost(&self) -> f64 {
        200.0
    }
    fn check_present(&self, _key: &Key) -> Result<bool, annex_core::remote::RemoteError> {
        self.present
            .ok_or_else(|| annex_core::remote::RemoteError::Unavailable {
                remote: "far".into(),
                reason: "no route to host".into(),
            })
    }
    fn retrieve(
        &self,
        _key: &Key,
        dest: &Path,
        _our_uuid: &annex_core::uuid::Uuid,
        _file: &[u8],
        _progress: annex_core::remote::Progress<'_>,
    ) -> Result<(), annex_core::remote::RemoteError> {
        self.downloads
            .lock()
            .expect("downloads")
            .push(dest.to_path_buf());
        match &self.content {
            Some(c) => {
                std::fs::create_dir_all(dest.parent().expect("a directory")).expect("mkdir");
                std::fs::write(dest, c).expect("write the download");
                Ok(())
            }
            None => Err(annex_core::remote::RemoteError::VerificationFailed),
        }
    }
    fn store(
        &self,
        _key: &Key,
        _src: &Path,
        _our_uuid: &annex_core::uuid::Uuid,
        _file: &[u8],
        _progress: annex_core::remote::Progress<'_>,
    ) -> Result<(), annex_core::remote::RemoteError> {
        panic!("fsck stores nothing")
    }
    fn remove(&self, _key: &Key) -> Result<(), annex_core::remote::RemoteError> {
        panic!("fsck of a remote over the network removes nothing")
    }
    fn lock_content(
        &self,
        _key: &Key,
    ) -> Result<Box<dyn annex_core::remote::ContentLockGuard>, annex_core::remote::RemoteError>
    {
        panic!("fsck locks nothing")
    }
    fn commit(&self) -> Result<(), annex_core::remote::RemoteError> {
        Ok(())
    }
}

const FAR_UUID: &str = "eeeeeeee-0000-4000-8000-000000000005";

/// `fsck --from` a remote reached over the network, through its
/// `Remote`: content downloaded to `.git/annex/tmp/fsckPID.KEY`, verified
/// and removed (no `checksum...` of its own: the download verified it);
/// `--fast` asks only whether the remote has it; a download that fails
/// verification fails the check in git-annex's words and leaves the
/// location log alone; a remote without the key that the log says has it
/// gets its log fixed; one that cannot be asked is `unable to check`.
#[test]
fn fsck_from_a_remote_over_the_network_downloads_and_verifies() {
    let p = pair(&[("a", A)]);
    let key = fixture::key_of(&p.clone, "a");
    git(&p.clone, &["remote", "add", "far", "ssh://far.invalid/srv"]);
    git(&p.clone, &["config", "remote.far.annex-uuid", FAR_UUID]);
    annex(
        &p.clone,
        &["setpresentkey", &key.to_string(), FAR_UUID, "1"],
    );
    let run = |present: Option<bool>, content: Option<&[u8]>, fast: bool| {
        let mut ops = open(&p.clone);
        let downloads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let far = Far {
            uuid: FAR_UUID.parse().expect("a uuid"),
            present,
            content: content.map(<[u8]>::to_vec),
            downloads: downloads.clone(),
        };
        let entry = ops
            .remotes
            .entries
            .iter_mut()
            .find(|e| e.name == "far")
            .expect("the remote far");
        entry.remote = Ok(Box::new(far));
        let options = FsckOptions {
            from: Some("far".to_owned()),
            fast,
            ..FsckOptions::default()
        };
        let item = fixture::item(&ops, "a");
        let (ok, events) = check(&ops, options, &item, "a");
        ops.session.commit().expect("commit");
        let downloads = downloads.lock().expect("downloads").clone();
        (ok, events, downloads)
    };
    let tmp = p.clone.join(".git/annex/tmp");
    let (ok, events, downloads) = run(Some(true), Some(A), false);
    assert!(ok && events.is_empty(), "{events:?}");
    let name = format!("fsck{}.{key}", std::process::id());
    assert_eq!(downloads, [tmp.join(&name)]);
    assert!(!tmp.join(&name).exists(), "the download is removed");
    let (ok, events, downloads) = run(Some(true), Some(A), true);
    assert!(
        ok && events.is_empty() && downloads.is_empty(),
        "{events:?}"
    );
    let (ok, events, _) = run(Some(true), None, false);
    assert!(!ok);
    assert_eq!(
        warnings(&events),
        [
            "Verification of content failed",
            "a: failed to download file from remote"
        ]
    );
    assert!(whereis(&p.clone, "a").contains(FAR_UUID));
    let (ok, events, _) = run(None, Some(A), false);
    assert!(!ok);
    assert_eq!(events, [Event::NoteText("unable to check far".into())]);
    assert!(whereis(&p.clone, "a").contains(FAR_UUID));
    let (ok, events, downloads) = run(Some(false), Some(A), false);
    assert!(!ok && downloads.is_empty());
    assert_eq!(events[0], Event::Note("fixing location log"));
    assert!(!whereis(&p.clone, "a").contains(FAR_UUID));
    // The reference agrees with what was left.
    assert!(reference_succeeds(&p.clone, &["fsck", "--fast", "a"]));
}
