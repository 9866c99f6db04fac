//! `annex_sync::content`: the content pass run through the library, on a
//! repository and two clones made with the reference git-annex, preferred
//! content set with the reference, and what the pass got, put and dropped
//! checked with the reference (`whereis`, `find`, `fsck`).

use crate::support;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use annex_ops::drop::DropOutcome;
use annex_ops::get::GetOutcome;
use annex_ops::session::{OpenOptions, Session};
use annex_ops::{Annex, Observer};
use annex_sync::content::{
    ActionObserver, ContentObserver, ContentOptions, ContentPass, Kind, Outcome, Start, Stop,
    Summary,
};

/// One action of the pass as the observer saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    kind: Kind,
    file: String,
    /// The remote of a put or a drop (`None`: here), the source of a get.
    remote: Option<String>,
    ok: bool,
    /// For a refused drop: the copies it verified.
    verified: Option<usize>,
}

/// Records every action, and the notes and transfers' ends it was told of.
#[derive(Default)]
struct Recorder {
    actions: Vec<Seen>,
    notes: Vec<String>,
    ended_transfers: usize,
    unmatched: Vec<String>,
}

struct RecordAction<'a> {
    recorder: &'a mut Recorder,
    seen: Seen,
}

impl Observer for RecordAction<'_> {
    fn note(&mut self, note: &str) {
        self.recorder.notes.push(note.to_owned());
    }
    fn end(&mut self, _ok: bool) {
        self.recorder.ended_transfers += 1;
    }
}

impl ActionObserver for RecordAction<'_> {
    fn finish(&mut self, outcome: &Outcome) -> Result<(), Stop> {
        let mut seen = self.seen.clone();
        seen.ok = outcome.ok();
        match outcome {
            Outcome::Get(GetOutcome::Got { from }) => seen.remote = Some(from.clone()),
            Outcome::Drop(DropOutcome::Refused(r)) => {
                seen.verified = Some(r.check.verified_count());
            }
            _ => {}
        }
        self.recorder.actions.push(seen);
        Ok(())
    }
}

impl ContentObserver for Recorder {
    fn start(&mut self, start: &Start<'_>) -> Result<Box<dyn ActionObserver + '_>, Stop> {
        let seen = Seen {
            kind: start.kind,
            file: String::from_utf8_lossy(&start.item.top_path).into_owned(),
            remote: start.remote.map(|r| r.name.clone()),
            ok: false,
            verified: None,
        };
        Ok(Box::new(RecordAction {
            recorder: self,
            seen,
        }))
    }
    fn unmatched(&mut self, path: &OsStr) {
        self.unmatched.push(path.to_string_lossy().into_owned());
    }
}

fn seen(kind: Kind, file: &str, remote: Option<&str>, ok: bool) -> Seen {
    Seen {
        kind,
        file: file.to_owned(),
        remote: remote.map(str::to_owned),
        ok,
        verified: None,
    }
}

fn write(dir: &Path, path: &str, content: &str) {
    std::fs::write(dir.join(path), content).unwrap();
}

/// The library runs git with this process's environment: the repository
/// it works in gets an identity and the reference's filters in its own
/// config.
fn configure_for_library(dir: &Path) {
    support::git(dir, &["config", "user.name", "Test"]);
    support::git(dir, &["config", "user.email", "test@example.invalid"]);
    let exe = support::reference_git_annex().display().to_string();
    for (name, value) in [
        ("filter.annex.process", format!("{exe} filter-process")),
        ("filter.annex.clean", format!("{exe} smudge --clean -- %f")),
        ("filter.annex.smudge", format!("{exe} smudge -- %f")),
    ] {
        support::git(dir, &["config", name, &value]);
    }
}

/// `origin` with annexed `x.want`, `y.c` and `z.none`; clones `b` (where
/// the pass runs, wanting `*.want`, with `w.c` of its own) and `c`
/// (wanting `*.c`), each a remote of `b`. Preferred content is set with
/// the reference, in each repository for itself.
struct Three {
    _tmp: tempfile::TempDir,
    origin: PathBuf,
    b: PathBuf,
    c: PathBuf,
}

fn three() -> Three {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().canonicalize().unwrap();
    let origin = root.join("origin");
    let b = root.join("b");
    let c = root.join("c");
    support::git(&root, &["init", "-q", "-b", "main", "origin"]);
    support::annex(&origin, &["init", "-q", "origin"]);
    write(&origin, "x.want", "wanted by b\n");
    write(&origin, "y.c", "wanted by c\n");
    write(&origin, "z.none", "wanted by nobody\n");
    support::annex(&origin, &["add", "-q", "."]);
    support::git(&origin, &["commit", "-q", "-m", "origin"]);
    for (dir, name) in [(&b, "b"), (&c, "c")] {
        support::git(&root, &["clone", "-q", origin.to_str().unwrap(), name]);
        support::annex(dir, &["init", "-q", name]);
    }
    support::annex(&c, &["wanted", ".", "include=*.c"]);
    support::annex(&b, &["wanted", ".", "include=*.want"]);
    write(&b, "w.c", "made in b\n");
    support::annex(&b, &["add", "-q", "w.c"]);
    support::git(&b, &["commit", "-q", "-m", "b"]);
    support::git(&b, &["remote", "add", "c", c.to_str().unwrap()]);
    // b learns c's UUID and preferred content from c's git-annex branch.
    support::git(&b, &["fetch", "-q", "c"]);
    let c_uuid = support::git(&c, &["config", "annex.uuid"]);
    support::git(&b, &["config", "remote.c.annex-uuid", c_uuid.trim()]);
    support::annex(&b, &["merge", "-q"]);
    configure_for_library(&b);
    Three {
        _tmp: tmp,
        origin,
        b,
        c,
    }
}

/// Runs the pass in `dir` through the library, exchanging content with
/// `remotes`.
fn pass(dir: &Path, remotes: &[&str], jobs: usize) -> (Summary, Recorder) {
    let (session, _) = Session::open(&OpenOptions::new(dir)).expect("open");
    let mut options = ContentOptions::new(dir.to_path_buf());
    options.remotes = remotes.iter().map(|r| r.to_string()).collect();
    options.jobs = jobs;
    let content = ContentPass::new(&session, options);
    let annex = Annex::open(session).expect("annex");
    let mut recorder = Recorder::default();
    let summary = content.run(&annex, &mut recorder).expect("the pass runs");
    (summary, recorder)
}

/// The files the reference finds in `repo` (location log), from `dir`.
fn find_in(dir: &Path, repo: &str) -> Vec<String> {
    let mut v: Vec<String> = support::annex(dir, &["find", &format!("--in={repo}")])
        .lines()
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

/// The reference's `fsck` of this repository's content and, without
/// downloading, of each remote's, all fine.
fn fsck_all(dir: &Path, remotes: &[&str]) {
    support::annex(dir, &["fsck", "-q"]);
    for r in remotes {
        support::annex(dir, &["fsck", "-q", "--fast", "--from", r]);
    }
}

fn check_result(t: &Three, summary: &Summary) {
    assert_eq!(summary.failed, 0, "{summary:?}");
    assert!(summary.complete);
    // Checked by the reference, in b: what each repository has.
    assert_eq!(find_in(&t.b, "here"), ["x.want"]);
    assert_eq!(find_in(&t.b, "c"), ["w.c"]);
    assert_eq!(find_in(&t.b, "origin"), ["w.c", "x.want", "y.c", "z.none"]);
    // The logs say what is there: the content is where they say.
    fsck_all(&t.b, &["origin", "c"]);
    // And the remotes' own branches agree (each commits what b recorded
    // in it).
    support::annex(&t.c, &["fsck", "-q", "--all"]);
    support::annex(&t.origin, &["fsck", "-q", "--all"]);
    let whereis = support::annex(&t.b, &["whereis", "w.c"]);
    assert!(whereis.contains("2 copies"), "{whereis}");
    assert!(!whereis.contains("[here]"), "{whereis}");
}

#[test]
fn the_pass_gets_puts_and_drops_what_preferred_content_says() {
    let t = three();
    let (summary, rec) = pass(&t.b, &["origin", "c"], 1);
    assert_eq!(
        rec.actions,
        [
            seen(Kind::Put, "w.c", Some("origin"), true),
            seen(Kind::Put, "w.c", Some("c"), true),
            seen(Kind::Drop, "w.c", None, true),
            seen(Kind::Get, "x.want", Some("origin"), true),
        ]
    );
    assert!(
        rec.notes.contains(&"from origin...".to_owned()),
        "{:?}",
        rec.notes
    );
    assert!(rec.notes.contains(&"to c...".to_owned()), "{:?}", rec.notes);
    // Each transfer's end (two uploads, one download).
    assert_eq!(rec.ended_transfers, 3);
    assert!(summary.finished.as_ref().is_some_and(|f| f.recorded));
    check_result(&t, &summary);

    // A second pass has nothing to do, and leaves a record by which a
    // third looks at nothing.
    let (again, rec) = pass(&t.b, &["origin", "c"], 1);
    assert_eq!(rec.actions, []);
    assert!(again.complete);
    let (session, _) = Session::open(&OpenOptions::new(&t.b)).unwrap();
    let mut options = ContentOptions::new(t.b.clone());
    options.remotes = vec!["origin".into(), "c".into()];
    assert!(ContentPass::new(&session, options).up_to_date());
}

/// Asks the pass to stop as soon as its first action starts.
struct StopAtFirst {
    recorder: Recorder,
    flag: Arc<AtomicBool>,
}

impl ContentObserver for StopAtFirst {
    fn start(&mut self, start: &Start<'_>) -> Result<Box<dyn ActionObserver + '_>, Stop> {
        self.flag.store(true, Ordering::SeqCst);
        self.recorder.start(start)
    }
}

/// The assistant's stop (`ContentOptions::stop`): asked before the pass,
/// nothing is started; asked while a file is being handled, that file's
/// actions finish and are recorded and no other file is started. Either
/// pass is incomplete (no record), and the next pass does what is left.
#[test]
fn a_stopped_pass_finishes_the_file_in_hand_and_starts_no_other() {
    let t = three();
    let run = |stop_at_first: bool| {
        let (session, _) = Session::open(&OpenOptions::new(&t.b)).expect("open");
        let mut options = ContentOptions::new(t.b.clone());
        options.remotes = vec!["origin".into(), "c".into()];
        let flag = Arc::new(AtomicBool::new(!stop_at_first));
        options.stop = Some(Arc::clone(&flag));
        let content = ContentPass::new(&session, options);
        let annex = Annex::open(session).expect("annex");
        let mut obs = StopAtFirst {
            recorder: Recorder::default(),
            flag,
        };
        let summary = content.run(&annex, &mut obs).expect("the pass runs");
        (summary, obs.recorder)
    };
    let (summary, rec) = run(false);
    assert_eq!(rec.actions, []);
    assert!(!summary.complete);
    let (summary, rec) = run(true);
    assert_eq!(
        rec.actions,
        [
            seen(Kind::Put, "w.c", Some("origin"), true),
            seen(Kind::Put, "w.c", Some("c"), true),
            seen(Kind::Drop, "w.c", None, true),
        ]
    );
    assert!(!summary.complete);
    let (summary, rec) = pass(&t.b, &["origin", "c"], 1);
    assert_eq!(
        rec.actions,
        [seen(Kind::Get, "x.want", Some("origin"), true)]
    );
    check_result(&t, &summary);
}

#[test]
fn the_pass_with_jobs_transfers_on_the_queue_with_the_same_result() {
    let t = three();
    let (summary, rec) = pass(&t.b, &["origin", "c"], 4);
    // Transferred first, then each item decided and told in order, as
    // without jobs.
    assert_eq!(
        rec.actions,
        [
            seen(Kind::Put, "w.c", Some("origin"), true),
            seen(Kind::Put, "w.c", Some("c"), true),
            seen(Kind::Drop, "w.c", None, true),
            seen(Kind::Get, "x.want", Some("origin"), true),
        ]
    );
    check_result(&t, &summary);
}

#[test]
fn a_drop_the_copies_do_not_prove_is_refused_with_the_copies_verified() {
    let t = three();
    // b has z.none (which it does not want); origin's copy is gone behind
    // git-annex's back, so its log is wrong.
    support::annex(&t.b, &["get", "-q", "z.none"]);
    let key = support::annex(&t.origin, &["lookupkey", "z.none"]);
    let key = key.trim();
    let object = support::annex(&t.origin, &["contentlocation", key]);
    let object = t.origin.join(object.trim());
    let dir = object.parent().unwrap();
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::remove_file(&object).unwrap();
    // Only origin and here take part: the refused drop is the only action
    // about z.none.
    let (summary, rec) = pass(&t.b, &["origin"], 1);
    let z: Vec<&Seen> = rec.actions.iter().filter(|s| s.file == "z.none").collect();
    assert_eq!(
        z,
        [&Seen {
            kind: Kind::Drop,
            file: "z.none".into(),
            remote: None,
            ok: false,
            verified: Some(0),
        }]
    );
    // A refused drop does not fail the sync, but leaves the pass
    // incomplete (no record).
    assert_eq!(summary.failed, 0);
    assert!(!summary.complete);
    // The content is still here, as the reference sees it.
    assert!(find_in(&t.b, "here").contains(&"z.none".to_owned()));
    support::annex(&t.b, &["fsck", "-q", "z.none"]);
}

#[test]
fn a_put_to_an_unreachable_remote_fails_the_pass() {
    let t = three();
    // c moves away after b learned about it: its puts fail.
    let moved = t.c.with_file_name("c-moved");
    std::fs::rename(&t.c, &moved).unwrap();
    let (summary, rec) = pass(&t.b, &["origin", "c"], 1);
    assert!(
        rec.actions
            .contains(&seen(Kind::Put, "w.c", Some("c"), false)),
        "{:?}",
        rec.actions
    );
    // The other actions are done: w.c went to origin (which proved the
    // drop here), x.want came from it.
    assert_eq!(find_in(&t.b, "here"), ["x.want"]);
    assert!(find_in(&t.b, "origin").contains(&"w.c".to_owned()));
    assert_eq!(summary.failed, 1);
    assert!(!summary.complete);
    fsck_all(&t.b, &["origin"]);
}

#[test]
fn a_content_of_path_that_matches_nothing_is_told_and_counted() {
    let t = three();
    let (session, _) = Session::open(&OpenOptions::new(&t.b)).unwrap();
    let mut options = ContentOptions::new(t.b.clone());
    options.remotes = vec!["origin".into()];
    options.content_of = vec!["x.want".into(), "nosuch".into()];
    let content = ContentPass::new(&session, options);
    let annex = Annex::open(session).unwrap();
    let mut rec = Recorder::default();
    let summary = content.run(&annex, &mut rec).unwrap();
    assert_eq!(rec.unmatched, ["nosuch"]);
    assert_eq!(
        rec.actions,
        [seen(Kind::Get, "x.want", Some("origin"), true)]
    );
    assert_eq!(summary.failed, 1);
    assert_eq!(find_in(&t.b, "here"), ["w.c", "x.want"]);
}
