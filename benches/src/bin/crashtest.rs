//! `crashtest`: the crash-consistency harness. For each writing command it
//! builds a small real repository pair with the reference git-annex (`a`,
//! the origin, and `b`, its clone, where the command runs), runs the
//! command with git-annex-rs, kills it with SIGKILL after a random delay
//! (drawn from a seeded generator, up to the time the command takes when
//! left alone), and judges what is left:
//!
//! - right after the kill: nothing but the repository's own files in
//!   either work tree (`git status --porcelain --ignored`), every key's
//!   content intact wherever it is, and no key with fewer copies than
//!   before (a drop or move may leave one fewer, never none: numcopies is
//!   1 here); the reference's `fsck --fast` on a copy of `b` is run and
//!   its complaints counted (they are allowed when the rerun fixes them);
//! - then the same command is run again to completion, and must succeed
//!   (a stale lock would make it fail or hang);
//! - after the rerun: the job is done (content where the command puts it,
//!   files locked or unlocked as asked), the location logs as `b` sees
//!   them (`whereis --json`) say exactly where the content is, the
//!   reference's `fsck` passes in both repositories (`a` having merged
//!   `b`'s `git-annex` branch, so that it knows of `b`'s copies), and
//!   nothing is left in `b`'s `.git/annex/othertmp`.
//!
//! ```text
//! cargo build -p annex-cli -p benches
//! target/debug/crashtest --rounds 50 --seed 7 [--command drop,unlock]
//! ```
//!
//! Exit status: 0 when every round passed, 1 when one failed, 2 when the
//! harness itself could not run (a bad option, the reference missing).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use benches::compare::env::{Reference, Tools};
use clap::Parser;

/// The crash-consistency harness: kill -9 each writing command at random
/// points and judge what is left, and the next run.
#[derive(Parser, Debug)]
#[command(name = "crashtest", about)]
struct Args {
    /// Killed rounds per command.
    #[arg(long, default_value_t = 10)]
    rounds: usize,
    /// Seed of the kill delays (the same seed gives the same delays).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Only these commands (comma-separated): add, get, drop, copy-to,
    /// move-to, move-from, sync-content, unlock, lock. All by default.
    #[arg(long = "command", value_delimiter = ',')]
    commands: Vec<String>,
    /// Size of each of the two large files, in KiB (they widen the
    /// windows a kill can fall in).
    #[arg(long, default_value_t = 4096)]
    large_kib: usize,
    /// git-annex-rs to run (default: `git-annex-rs` next to this program).
    #[arg(long)]
    ours: Option<PathBuf>,
    /// The reference git-annex (default: $GIT_ANNEX_REF, else
    /// .annex-ref/bin/git-annex).
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Keep the directories of failed rounds (their paths are printed).
    #[arg(long)]
    keep_failures: bool,
    /// One line per round.
    #[arg(long, short)]
    verbose: bool,
    /// Rounds run at the same time (each in its own copy of the pair).
    #[arg(long, short, default_value_t = 2)]
    jobs: usize,
}

type Res<T> = Result<T, String>;

/// The writing commands under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Add,
    Get,
    Drop,
    CopyTo,
    MoveTo,
    MoveFrom,
    SyncContent,
    Unlock,
    Lock,
}

const ALL: [Cmd; 9] = [
    Cmd::Add,
    Cmd::Get,
    Cmd::Drop,
    Cmd::CopyTo,
    Cmd::MoveTo,
    Cmd::MoveFrom,
    Cmd::SyncContent,
    Cmd::Unlock,
    Cmd::Lock,
];

impl Cmd {
    fn name(self) -> &'static str {
        match self {
            Cmd::Add => "add",
            Cmd::Get => "get",
            Cmd::Drop => "drop",
            Cmd::CopyTo => "copy-to",
            Cmd::MoveTo => "move-to",
            Cmd::MoveFrom => "move-from",
            Cmd::SyncContent => "sync-content",
            Cmd::Unlock => "unlock",
            Cmd::Lock => "lock",
        }
    }

    fn args(self) -> &'static [&'static str] {
        match self {
            Cmd::Add => &["add", "."],
            Cmd::Get => &["get", "."],
            Cmd::Drop => &["drop", "."],
            Cmd::CopyTo => &["copy", "--to", "origin", "."],
            Cmd::MoveTo => &["move", "--to", "origin", "."],
            Cmd::MoveFrom => &["move", "--from", "origin", "."],
            Cmd::SyncContent => &["sync", "--content"],
            Cmd::Unlock => &["unlock", "."],
            Cmd::Lock => &["lock", "."],
        }
    }

    /// Where the content is when the command is done: (in `a`, in `b`).
    fn done(self) -> (bool, bool) {
        match self {
            Cmd::Add => (false, true),
            Cmd::Get | Cmd::CopyTo | Cmd::SyncContent | Cmd::Unlock | Cmd::Lock => (true, true),
            Cmd::Drop | Cmd::MoveTo => (true, false),
            Cmd::MoveFrom => (false, true),
        }
    }

    /// Whether the command may leave a key with one copy fewer than it
    /// had (it drops, after proving numcopies).
    fn drops(self) -> bool {
        matches!(self, Cmd::Drop | Cmd::MoveTo | Cmd::MoveFrom)
    }
}

/// xorshift64*: seeded, the same delays on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

/// One file of the round: its path in `b`'s work tree, content and key.
#[derive(Debug, Clone)]
struct File {
    path: String,
    data: Vec<u8>,
    key: String,
}

/// A built template pair for one command: copied for every round.
struct Template {
    dir: PathBuf,
    files: Vec<File>,
    uuid_a: String,
    uuid_b: String,
}

fn run(mut cmd: Command, what: &str) -> Res<Vec<u8>> {
    let o = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "{what} failed ({}): {}{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(o.stdout)
}

fn git(t: &Tools, dir: &Path, args: &[&str]) -> Res<String> {
    let mut c = t.git(dir);
    c.args(args);
    run(c, &format!("git {}", args.join(" "))).map(|o| String::from_utf8_lossy(&o).into_owned())
}

fn reference(t: &Tools, dir: &Path, args: &[&str]) -> Res<String> {
    let mut c = t.reference(dir);
    c.args(args);
    run(c, &format!("git-annex {}", args.join(" ")))
        .map(|o| String::from_utf8_lossy(&o).into_owned())
}

/// Deterministic content of `len` bytes.
fn content(seed: u64, len: usize) -> Vec<u8> {
    let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        v.extend_from_slice(&r.next().to_le_bytes());
    }
    v.truncate(len);
    v
}

/// The files of a round: four small ones (one in a subdirectory) and two
/// large ones.
fn file_set(large_kib: usize, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (i, len) in [17usize, 1024, 40_000, 3].into_iter().enumerate() {
        let path = if i == 1 {
            format!("{prefix}d/small{i}")
        } else {
            format!("{prefix}small{i}")
        };
        out.push((path, content(i as u64 + 1, len)));
    }
    for i in 0..2u64 {
        out.push((
            format!("{prefix}d/large{i}"),
            content(100 + i, large_kib * 1024),
        ));
    }
    out
}

fn write_files(dir: &Path, files: &[(String, Vec<u8>)]) -> Res<()> {
    for (p, data) in files {
        let full = dir.join(p);
        if let Some(parent) = full.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        fs::write(&full, data).map_err(|e| format!("{}: {e}", full.display()))?;
    }
    Ok(())
}

/// Builds the pair for `cmd` in `dir` with the reference, in the state
/// the command starts from.
fn build_template(t: &Tools, cmd: Cmd, dir: &Path, large_kib: usize) -> Res<Template> {
    let a = dir.join("a");
    let b = dir.join("b");
    fs::create_dir_all(&a).map_err(|e| e.to_string())?;
    git(t, &a, &["init", "-q", "-b", "main"])?;
    reference(t, &a, &["init", "-q", "a"])?;
    let set = file_set(large_kib, "");
    write_files(&a, &set)?;
    reference(t, &a, &["add", "-q", "."])?;
    git(t, &a, &["commit", "-qm", "files"])?;
    git(t, dir, &["clone", "-q", "a", "b"])?;
    // Relative, so that the pair can be copied.
    git(t, &b, &["remote", "set-url", "origin", "../a"])?;
    reference(t, &b, &["init", "-q", "b"])?;
    let mut files: Vec<File> = Vec::new();
    for (path, data) in &set {
        let key = reference(t, &a, &["lookupkey", path])?.trim().to_string();
        files.push(File {
            path: path.clone(),
            data: data.clone(),
            key,
        });
    }
    match cmd {
        Cmd::Add => {
            // New files in b, not yet added (same contents, another
            // directory).
            let new = file_set(large_kib, "new/");
            write_files(&b, &new)?;
            files = Vec::new();
            for (path, data) in new {
                let key = reference(t, &b, &["calckey", &path])?.trim().to_string();
                files.push(File { path, data, key });
            }
        }
        Cmd::Get | Cmd::MoveFrom => {}
        Cmd::Drop | Cmd::Unlock => {
            reference(t, &b, &["get", "-q", "."])?;
        }
        Cmd::Lock => {
            reference(t, &b, &["get", "-q", "."])?;
            reference(t, &b, &["unlock", "-q", "."])?;
            git(t, &b, &["commit", "-qm", "unlocked"])?;
        }
        Cmd::CopyTo | Cmd::MoveTo => {
            reference(t, &b, &["get", "-q", "."])?;
            reference(t, &a, &["drop", "-q", "--force", "."])?;
        }
        Cmd::SyncContent => {
            // b has half, a the other half.
            let half: Vec<&str> = files.iter().step_by(2).map(|f| f.path.as_str()).collect();
            let mut args = vec!["get", "-q"];
            args.extend(half.iter().copied());
            reference(t, &b, &args)?;
            let mut args = vec!["drop", "-q", "--force"];
            args.extend(half.iter().copied());
            reference(t, &a, &args)?;
        }
    }
    let uuid = |d: &Path| git(t, d, &["config", "annex.uuid"]).map(|s| s.trim().to_string());
    Ok(Template {
        dir: dir.to_path_buf(),
        files,
        uuid_a: uuid(&a)?,
        uuid_b: uuid(&b)?,
    })
}

fn copy_pair(from: &Path, to: &Path) -> Res<()> {
    fs::create_dir_all(to).map_err(|e| e.to_string())?;
    let st = Command::new("cp")
        .arg("-a")
        .arg(from.join("a"))
        .arg(from.join("b"))
        .arg(to)
        .status()
        .map_err(|e| format!("cp: {e}"))?;
    if !st.success() {
        return Err(format!("cp -a {} failed", from.display()));
    }
    Ok(())
}

/// The object file of `key` in the repository at `repo`, if present.
fn object(repo: &Path, key: &str) -> Option<PathBuf> {
    let store = annex_core::objects::ObjectStore::open(repo.join(".git")).ok()?;
    let key = annex_core::key::Key::parse(key.as_bytes()).ok()?;
    store.find(&key)
}

/// Whether `repo` holds `f`'s content; an error when what it holds is not
/// that content.
fn holds(repo: &Path, f: &File) -> Res<bool> {
    match object(repo, &f.key) {
        None => Ok(false),
        Some(p) => match fs::read(&p) {
            Ok(d) if d == f.data => Ok(true),
            Ok(_) => Err(format!(
                "{}: the object of {} is corrupt",
                repo.display(),
                f.path
            )),
            Err(e) => Err(format!("{}: {e}", p.display())),
        },
    }
}

/// How many copies of each file's content exist (for `add`, the
/// work-tree file counts when it still holds the content).
fn copies(b_dir: &Path, a_dir: &Path, files: &[File], cmd: Cmd) -> Res<Vec<usize>> {
    let mut out = Vec::new();
    for f in files {
        let mut n = holds(a_dir, f)? as usize + holds(b_dir, f)? as usize;
        if cmd == Cmd::Add && n == 0 {
            let full = b_dir.join(&f.path);
            let is_file = fs::symlink_metadata(&full)
                .map(|m| m.is_file())
                .unwrap_or(false);
            if is_file && fs::read(&full).map(|d| d == f.data).unwrap_or(false) {
                n = 1;
            }
        }
        out.push(n);
    }
    Ok(out)
}

/// Paths `git status --porcelain --ignored` shows that are not the
/// round's files (temp files, debris).
fn unexpected_in_worktree(t: &Tools, dir: &Path, files: &[File]) -> Res<Vec<String>> {
    let known: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let st = git(
        t,
        dir,
        &[
            "status",
            "--porcelain",
            "--ignored",
            "--untracked-files=all",
        ],
    )?;
    Ok(st
        .lines()
        .filter_map(|l| l.get(3..))
        .flat_map(|p| p.split(" -> "))
        .map(|p| p.trim_matches('"').to_string())
        .filter(|p| !known.contains(p.as_str()))
        .collect())
}

/// The reference's `whereis --json` in `b`: file -> UUIDs.
fn whereis(t: &Tools, b: &Path) -> Res<BTreeMap<String, BTreeSet<String>>> {
    let mut c = t.reference(b);
    c.args(["whereis", "--json"]);
    let o = c.output().map_err(|e| format!("whereis: {e}"))?;
    let mut out = BTreeMap::new();
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("whereis --json: {e}: {line}"))?;
        let file = v["file"].as_str().unwrap_or_default().to_string();
        let uuids = v["whereis"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|w| w["uuid"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        out.insert(file, uuids);
    }
    Ok(out)
}

fn fsck_passes(t: &Tools, dir: &Path, fast: bool) -> Res<()> {
    let mut c = t.reference(dir);
    c.args(["fsck", "-q"]);
    if fast {
        c.arg("--fast");
    }
    let o = c.output().map_err(|e| format!("fsck: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "the reference's fsck{} fails in {}: {}{}",
            if fast { " --fast" } else { "" },
            dir.display(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(())
}

/// Runs ours with the command in `b`, killing it with SIGKILL after
/// `kill_after` (never when `None`). Returns (whether it was killed,
/// how long it ran, its output when it finished).
fn run_ours(
    t: &Tools,
    b: &Path,
    cmd: Cmd,
    kill_after: Option<Duration>,
) -> Res<(bool, Duration, Option<std::process::Output>)> {
    let mut c = t.command(&t.ours);
    c.current_dir(b)
        .args(cmd.args())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let start = Instant::now();
    let mut child = c.spawn().map_err(|e| format!("spawn ours: {e}"))?;
    let pgid = child.id() as i32;
    let limit = Duration::from_secs(300);
    let mut killed = false;
    loop {
        if let Some(_st) = child.try_wait().map_err(|e| e.to_string())? {
            break;
        }
        let el = start.elapsed();
        if kill_after.is_some_and(|k| el >= k) {
            let _ = child.kill();
            killed = true;
            break;
        }
        if el > limit {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pgid),
                nix::sys::signal::Signal::SIGKILL,
            );
            return Err(format!("{} did not finish in {limit:?}", cmd.name()));
        }
        std::thread::sleep(Duration::from_micros(300));
    }
    let took = start.elapsed();
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    // Its children (git) finish on their own, as after a real kill; wait
    // for them before looking.
    let waited = Instant::now();
    while nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pgid), None).is_ok() {
        if waited.elapsed() > Duration::from_secs(60) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pgid),
                nix::sys::signal::Signal::SIGKILL,
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok((killed, took, if killed { None } else { Some(out) }))
}

/// What one round found.
struct Verdict {
    killed: bool,
    fsck_after_kill_complained: bool,
    failures: Vec<String>,
}

fn judge_round(
    t: &Tools,
    tpl: &Template,
    cmd: Cmd,
    dir: &Path,
    kill_after: Option<Duration>,
) -> Res<Verdict> {
    copy_pair(&tpl.dir, dir)?;
    let a = dir.join("a");
    let b = dir.join("b");
    let before = copies(&b, &a, &tpl.files, cmd)?;
    let mut failures = Vec::new();
    let (killed, _took, out) = run_ours(t, &b, cmd, kill_after)?;
    if let Some(o) = &out
        && !o.status.success()
    {
        failures.push(format!(
            "the uninterrupted run failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    // Right after the kill.
    for (name, d) in [("a", &a), ("b", &b)] {
        let odd = unexpected_in_worktree(t, d, &tpl.files)?;
        if !odd.is_empty() {
            failures.push(format!("after the kill, in {name}'s work tree: {odd:?}"));
        }
    }
    match copies(&b, &a, &tpl.files, cmd) {
        Ok(after) => {
            for ((f, n0), n1) in tpl.files.iter().zip(&before).zip(&after) {
                let floor = if cmd.drops() { (*n0).min(1) } else { *n0 };
                if *n1 < floor {
                    failures.push(format!(
                        "after the kill, {} has {n1} copies (had {n0})",
                        f.path
                    ));
                }
            }
        }
        Err(e) => failures.push(format!("after the kill: {e}")),
    }
    let fsck_after_kill_complained = if killed {
        let judge = dir.join("judge");
        copy_pair(dir, &judge)?;
        let r = fsck_passes(t, &judge.join("b"), true).is_err();
        let _ = fs::remove_dir_all(&judge);
        r
    } else {
        false
    };
    // The rerun finishes the job.
    let (_, _, out) = run_ours(t, &b, cmd, None)?;
    match out {
        Some(o) if o.status.success() => {}
        Some(o) => failures.push(format!(
            "the rerun failed ({}): {}{}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )),
        None => failures.push("the rerun did not finish".into()),
    }
    match judge_done(t, tpl, cmd, &a, &b) {
        Ok(f) => failures.extend(f),
        Err(e) => failures.push(format!("after the rerun: {e}")),
    }
    Ok(Verdict {
        killed,
        fsck_after_kill_complained,
        failures,
    })
}

/// The state after the rerun.
fn judge_done(t: &Tools, tpl: &Template, cmd: Cmd, a: &Path, b: &Path) -> Res<Vec<String>> {
    let mut failures = Vec::new();
    let (want_a, want_b) = cmd.done();
    let where_ = whereis(t, b)?;
    for f in &tpl.files {
        let in_a = holds(a, f)?;
        let in_b = holds(b, f)?;
        if (in_a, in_b) != (want_a || (cmd == Cmd::Add && in_a), want_b) {
            failures.push(format!(
                "{}: content in a: {in_a}, in b: {in_b} (want {want_a}, {want_b})",
                f.path
            ));
        }
        let mut actual = BTreeSet::new();
        if in_a {
            actual.insert(tpl.uuid_a.clone());
        }
        if in_b {
            actual.insert(tpl.uuid_b.clone());
        }
        match where_.get(&f.path) {
            Some(logged) if *logged == actual => {}
            logged => failures.push(format!(
                "{}: b's location log says {logged:?}, the content is in {actual:?}",
                f.path
            )),
        }
        let full = b.join(&f.path);
        let meta = fs::symlink_metadata(&full).map_err(|e| format!("{}: {e}", full.display()))?;
        let staged = git(t, b, &["ls-files", "-s", "--", &f.path])?;
        let mode = staged.split(' ').next().unwrap_or("");
        let unlocked = matches!(cmd, Cmd::Unlock);
        let want_mode = if unlocked { "100644" } else { "120000" };
        if mode != want_mode || meta.file_type().is_symlink() == unlocked {
            failures.push(format!(
                "{}: staged {mode:?}, work tree {} (want {})",
                f.path,
                if meta.file_type().is_symlink() {
                    "symlink"
                } else {
                    "file"
                },
                if unlocked { "unlocked" } else { "locked" }
            ));
        }
    }
    // a learns what b recorded (b's git-annex branch, as a sync would
    // bring it), so that its fsck counts b's copies.
    reference(t, b, &["merge", "-q"])?;
    git(
        t,
        a,
        &["fetch", "-q", "../b", "+git-annex:refs/remotes/b/git-annex"],
    )?;
    reference(t, a, &["merge", "-q"])?;
    for (name, d) in [("a", a), ("b", b)] {
        let odd = unexpected_in_worktree(t, d, &tpl.files)?;
        if !odd.is_empty() {
            failures.push(format!("after the rerun, in {name}'s work tree: {odd:?}"));
        }
        // The full fsck (what --fast checks and the content too); --fast
        // ran right after the kill.
        if let Err(e) = fsck_passes(t, d, false) {
            failures.push(e);
        }
    }
    let othertmp = b.join(".git/annex/othertmp");
    if let Ok(rd) = fs::read_dir(&othertmp) {
        let left: Vec<String> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if !left.is_empty() {
            failures.push(format!("left in b's .git/annex/othertmp: {left:?}"));
        }
    }
    Ok(failures)
}

#[derive(Default)]
struct Tally {
    rounds: usize,
    killed: usize,
    fsck_complaints: usize,
    failed: usize,
    calibrated_ms: u128,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match real_main(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("crashtest: {e}");
            ExitCode::from(2)
        }
    }
}

fn real_main(args: &Args) -> Res<bool> {
    let cmds: Vec<Cmd> = if args.commands.is_empty() {
        ALL.to_vec()
    } else {
        args.commands
            .iter()
            .map(|n| {
                ALL.iter()
                    .copied()
                    .find(|c| c.name() == n)
                    .ok_or_else(|| format!("unknown command {n:?}"))
            })
            .collect::<Res<_>>()?
    };
    let reference = Reference::find(args.reference.as_deref()).map_err(|e| e.to_string())?;
    let ours = match &args.ours {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("git-annex-rs"),
    };
    if !ours.is_file() {
        return Err(format!(
            "git-annex-rs not found at {} (build it: cargo build -p annex-cli, or pass --ours)",
            ours.display()
        ));
    }
    let work = tempfile::tempdir().map_err(|e| e.to_string())?;
    let tools = Tools::new(ours, reference, work.path().join("home")).map_err(|e| e.to_string())?;
    let mut rng = Rng(args.seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
    let mut all_ok = true;
    let mut tallies = Vec::new();
    for &cmd in &cmds {
        let tpl_dir = work.path().join(format!("template-{}", cmd.name()));
        let tpl = build_template(&tools, cmd, &tpl_dir, args.large_kib)?;
        let mut tally = Tally::default();
        // Calibration: the command left alone, which must pass too.
        let dir = work.path().join(format!("{}-calibrate", cmd.name()));
        let (_, took, _) = {
            copy_pair(&tpl.dir, &dir)?;
            run_ours(&tools, &dir.join("b"), cmd, None)?
        };
        fs::remove_dir_all(&dir).map_err(|e| e.to_string())?;
        let span = took.as_micros().max(1000) as u64;
        tally.calibrated_ms = took.as_millis();
        let control = work.path().join(format!("{}-control", cmd.name()));
        let v = judge_round(&tools, &tpl, cmd, &control, None)?;
        if !v.failures.is_empty() {
            all_ok = false;
            println!("{} uninterrupted: FAILED", cmd.name());
            for f in &v.failures {
                println!("    {f}");
            }
            keep_or_remove(args, &control);
        } else {
            let _ = fs::remove_dir_all(&control);
        }
        // The delays are drawn in order, whatever runs in parallel.
        let delays: Vec<Duration> = (0..args.rounds)
            .map(|_| Duration::from_micros(rng.below(span)))
            .collect();
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..args.jobs.max(1) {
                scope.spawn(|| {
                    loop {
                        let round = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&delay) = delays.get(round) else {
                            break;
                        };
                        let dir = work.path().join(format!("{}-{round}", cmd.name()));
                        let v = judge_round(&tools, &tpl, cmd, &dir, Some(delay));
                        if args.verbose {
                            let what = match &v {
                                Ok(v) if v.failures.is_empty() => "ok",
                                _ => "FAILED (details below)",
                            };
                            eprintln!("{} round {round} done: {what}", cmd.name());
                        }
                        results
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .push((round, delay, dir, v));
                    }
                });
            }
        });
        let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
        results.sort_by_key(|r| r.0);
        for (round, delay, dir, v) in results {
            let v = v?;
            tally.rounds += 1;
            tally.killed += v.killed as usize;
            tally.fsck_complaints += v.fsck_after_kill_complained as usize;
            let ok = v.failures.is_empty();
            if args.verbose || !ok {
                println!(
                    "{} round {round}: kill after {:.1} ms{}{}: {}",
                    cmd.name(),
                    delay.as_secs_f64() * 1000.0,
                    if v.killed { "" } else { " (finished first)" },
                    if v.fsck_after_kill_complained {
                        ", fsck --fast complained before the rerun"
                    } else {
                        ""
                    },
                    if ok { "ok" } else { "FAILED" }
                );
            }
            if ok {
                let _ = fs::remove_dir_all(&dir);
            } else {
                tally.failed += 1;
                all_ok = false;
                for f in &v.failures {
                    println!("    {f}");
                }
                keep_or_remove(args, &dir);
            }
        }
        let _ = fs::remove_dir_all(&tpl_dir);
        tallies.push((cmd, tally));
    }
    println!();
    println!(
        "| command | rounds | killed | fsck --fast complained before the rerun | failed | uninterrupted run (ms) |"
    );
    println!("|---|---|---|---|---|---|");
    for (cmd, t) in &tallies {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            cmd.name(),
            t.rounds,
            t.killed,
            t.fsck_complaints,
            t.failed,
            t.calibrated_ms
        );
    }
    println!(
        "seed {}, {} round(s) per command: {}",
        args.seed,
        args.rounds,
        if all_ok { "all passed" } else { "FAILURES" }
    );
    Ok(all_ok)
}

fn keep_or_remove(args: &Args, dir: &Path) {
    if args.keep_failures {
        let kept = std::env::temp_dir().join(format!(
            "crashtest-kept-{}-{}",
            std::process::id(),
            dir.file_name().and_then(|n| n.to_str()).unwrap_or("round")
        ));
        let _ = fs::remove_dir_all(&kept);
        if fs::rename(dir, &kept).is_ok() || copy_pair(dir, &kept).is_ok() {
            println!("    kept in {}", kept.display());
        }
    } else {
        let _ = fs::remove_dir_all(dir);
    }
}
