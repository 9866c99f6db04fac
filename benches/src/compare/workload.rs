//! The workloads, built once per size with the reference git-annex and
//! plain git, from a seed (the same seed gives the same bytes), and the
//! per-round copies operations start from.
//!
//! Layout under the work directory: `n<N>/src` (the small files, plain),
//! `n<N>/fixtures/<fixture>/{repo,peer}`, `n<N>/shared/{repo,peer}`; the
//! same under `large-<MiB>mib/` for the large file. Remotes are recorded with
//! relative URLs (`../peer`), so a copy of a fixture directory is
//! self-contained.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::CompareError;
use super::env::{Tools, run_ok, run_ok_with_input};
use super::ops::Fixture;

/// The UUID of the repository the operations run in.
pub const UUID_MAIN: &str = "c0ffee00-0000-4000-8000-000000000001";
/// The UUID of `peer`, the local clone that is a remote.
pub const UUID_PEER: &str = "c0ffee00-0000-4000-8000-000000000002";
/// The UUID of `archive`, a third repository known only from the
/// git-annex branch.
pub const UUID_ARCHIVE: &str = "c0ffee00-0000-4000-8000-000000000003";

/// A small deterministic generator (SplitMix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// The relative path of small file `i`: five components deep, eight
/// directories a level, a few extensions (so SHA256E keys carry them).
pub fn small_file_path(i: usize) -> PathBuf {
    let mut p = PathBuf::new();
    let mut x = i / 4;
    for _ in 0..4 {
        p.push(format!("d{}", x % 8));
        x /= 8;
    }
    let ext = ["txt", "dat", "bin", "json"][i % 4];
    p.push(format!("f{i:06}.{ext}"));
    p
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CompareError + '_ {
    move |e| CompareError::io(path, e)
}

/// Writes `n` small files (64 to 4,095 bytes of random content each, all
/// different) under `dir`.
pub fn write_small_tree(dir: &Path, n: usize, seed: u64) -> Result<(), CompareError> {
    let mut buf = vec![0u8; 4096];
    for i in 0..n {
        let path = dir.join(small_file_path(i));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let mut rng = Rng::new(seed ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
        let len = 64 + (rng.next_u64() % 4032) as usize;
        rng.fill(&mut buf[..len]);
        std::fs::write(&path, &buf[..len]).map_err(io(&path))?;
    }
    Ok(())
}

/// Writes a file of `mib` MiB of random content.
pub fn write_large_file(path: &Path, mib: u64, seed: u64) -> Result<(), CompareError> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).map_err(io(path))?);
    let mut rng = Rng::new(seed ^ 0x1a26_e000);
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..mib {
        rng.fill(&mut buf);
        f.write_all(&buf).map_err(io(path))?;
    }
    f.flush().map_err(io(path))
}

/// Copies `src` to `dst` (which must not exist) with `cp -a`, sharing
/// blocks where the file system can.
pub fn copy_tree(tools: &Tools, src: &Path, dst: &Path) -> Result<(), CompareError> {
    let mut cmd = tools.command(Path::new("cp"));
    cmd.arg("-a").arg("--reflink=auto").arg(src).arg(dst);
    run_ok(cmd, &format!("cp -a {} {}", src.display(), dst.display())).map(drop)
}

/// Removes a tree, read-only directories (git-annex's object directories)
/// included. Missing is fine.
pub fn remove_tree(tools: &Tools, dir: &Path) -> Result<(), CompareError> {
    if std::fs::symlink_metadata(dir).is_err() {
        return Ok(());
    }
    // A hook git-annex ran in a repository being removed (post-receive
    // after a push) can still be writing there: try again for a while.
    let mut tries = 0;
    loop {
        let mut cmd = tools.command(Path::new("chmod"));
        cmd.arg("-R").arg("u+w").arg(dir);
        // A file vanishing under chmod is that same race.
        let _ = run_ok(cmd, &format!("chmod -R u+w {}", dir.display()));
        match std::fs::remove_dir_all(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if tries < 20 => {
                tries += 1;
                let _ = e;
                std::thread::sleep(std::time::Duration::from_millis(250));
            }
            Err(e) => return Err(CompareError::io(dir, e)),
        }
    }
}

/// Where the copies of finished rounds go instead of being deleted.
///
/// Deleting a tree on ext4 makes file creation slower for minutes
/// afterwards: the inode allocator skips inodes deleted in the last 60 to
/// 300 seconds, reading each one's inode table block to find its deletion
/// time (`recently_deleted` in `fs/ext4/ialloc.c`). With the previous
/// round's 10,000 files deleted just before, `add` of 10,000 files spent
/// three times its usual time in that scan (perf: 50 % of all samples in
/// `find_get_block_common` and `recently_deleted`, under `ext4_symlink`,
/// `ext4_mkdir` and `ext4_create`), and the extra time is the same for
/// both implementations, so it squeezed the ratio toward 1. Round copies
/// are therefore renamed into the trash, which is emptied only when it
/// holds more than [`Trash::BUDGET_FILES`] files' worth of copies, and at
/// the end of the run.
#[derive(Debug)]
pub struct Trash {
    dir: PathBuf,
    next: usize,
    files: usize,
}

impl Trash {
    /// How many workload files the trash may hold before it is emptied:
    /// ten copies of the 10,000-file workloads (the `two-remotes` fixture
    /// takes about 500 MB a copy there); at 100,000 files every copy is
    /// over it, so the trash is emptied at each round as before.
    pub const BUDGET_FILES: usize = 100_000;

    /// The trash at `dir`, emptied now if something was left there.
    pub fn new(tools: &Tools, dir: PathBuf) -> Result<Trash, CompareError> {
        remove_tree(tools, &dir)?;
        Ok(Trash {
            dir,
            next: 0,
            files: 0,
        })
    }

    /// Moves `tree` (a copy of a workload of `files` files) into the
    /// trash; missing is fine.
    pub fn discard(
        &mut self,
        tools: &Tools,
        tree: &Path,
        files: usize,
    ) -> Result<(), CompareError> {
        if std::fs::symlink_metadata(tree).is_err() {
            return Ok(());
        }
        if self.files.saturating_add(files) > Self::BUDGET_FILES {
            self.empty(tools)?;
        }
        std::fs::create_dir_all(&self.dir).map_err(|e| CompareError::io(&self.dir, e))?;
        let to = self.dir.join(self.next.to_string());
        self.next += 1;
        match std::fs::rename(tree, &to) {
            Ok(()) => {
                self.files += files;
                Ok(())
            }
            // Another file system: deleted then.
            Err(_) => remove_tree(tools, tree),
        }
    }

    /// Deletes what the trash holds.
    pub fn empty(&mut self, tools: &Tools) -> Result<(), CompareError> {
        remove_tree(tools, &self.dir)?;
        self.files = 0;
        Ok(())
    }
}

/// The number of annexed objects under `repo/.git/annex/objects`.
pub fn count_objects(repo: &Path) -> usize {
    walkdir::WalkDir::new(repo.join(".git/annex/objects"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .count()
}

/// A built workload: its directory and how many files it has.
#[derive(Debug, Clone)]
pub struct Built {
    /// `n<N>/` or `large-<MiB>mib/` under the work directory.
    pub root: PathBuf,
    /// How many annexed files it has.
    pub files: usize,
}

impl Built {
    /// The directory of a fixture (holding `repo/`, maybe `peer/`).
    pub fn fixture(&self, f: Fixture) -> PathBuf {
        self.root.join("fixtures").join(f.dir_name())
    }

    /// The shared copy read-only operations run in.
    pub fn shared(&self) -> PathBuf {
        self.root.join("shared")
    }
}

/// Runs the reference `git-annex ARGS` in `dir`.
fn annex(tools: &Tools, dir: &Path, args: &[&str]) -> Result<Vec<u8>, CompareError> {
    let mut cmd = tools.reference(dir);
    cmd.args(args);
    run_ok(
        cmd,
        &format!(
            "reference git-annex {} (in {})",
            args.join(" "),
            dir.display()
        ),
    )
}

/// Runs `git ARGS` in `dir`.
fn git(tools: &Tools, dir: &Path, args: &[&str]) -> Result<Vec<u8>, CompareError> {
    let mut cmd = tools.git(dir);
    cmd.args(args);
    run_ok(
        cmd,
        &format!("git {} (in {})", args.join(" "), dir.display()),
    )
}

/// `git init` a new repository at `dir`, with `annex.uuid` preset when
/// given (git-annex init keeps a preset UUID: fixed UUIDs keep the
/// workloads the same from run to run).
fn git_init(tools: &Tools, dir: &Path, uuid: Option<&str>) -> Result<(), CompareError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    git(tools, dir, &["init", "-q", "-b", "master"])?;
    if let Some(u) = uuid {
        git(tools, dir, &["config", "annex.uuid", u])?;
    }
    Ok(())
}

/// Builds a fixture only once per work directory: `marker` records what
/// was built, so a kept work directory (`--workdir`) is reused when the
/// parameters match.
fn once(
    dir: &Path,
    tools: &Tools,
    stamp: &str,
    build: impl FnOnce(&Path) -> Result<(), CompareError>,
) -> Result<(), CompareError> {
    let marker = dir.with_extension("built");
    if std::fs::read_to_string(&marker).is_ok_and(|s| s == stamp) && dir.exists() {
        return Ok(());
    }
    remove_tree(tools, dir)?;
    let _ = std::fs::remove_file(&marker);
    build(dir)?;
    std::fs::write(&marker, stamp).map_err(io(&marker))
}

/// Feeds `KEY UUID VALUE` lines for every key to the reference's
/// `setpresentkey --batch` in `repo`.
fn set_present(
    tools: &Tools,
    repo: &Path,
    keys: &[String],
    uuid: &str,
    value: u8,
) -> Result<(), CompareError> {
    let mut input = Vec::with_capacity(keys.len() * 120);
    for k in keys {
        writeln!(input, "{k} {uuid} {value}").map_err(io(repo))?;
    }
    let mut cmd = tools.reference(repo);
    cmd.args(["setpresentkey", "--batch"]);
    run_ok_with_input(
        cmd,
        &format!(
            "reference git-annex setpresentkey --batch (in {})",
            repo.display()
        ),
        &input,
    )
    .map(drop)
}

/// The keys of the annexed files in `repo`.
fn keys(tools: &Tools, repo: &Path) -> Result<Vec<String>, CompareError> {
    let out = annex(tools, repo, &["find", "--format=${key}\\n"])?;
    Ok(String::from_utf8_lossy(&out)
        .lines()
        .map(str::to_string)
        .collect())
}

/// Builds the small-files workload of `n` files under `root`, with the
/// fixtures in `needed` (and [`Fixture::Full`] when another needs it) and
/// the shared copy when `shared`.
pub fn build_small(
    tools: &Tools,
    root: &Path,
    n: usize,
    seed: u64,
    needed: &[Fixture],
    shared: bool,
) -> Result<Built, CompareError> {
    std::fs::create_dir_all(root.join("fixtures")).map_err(io(root))?;
    let built = Built {
        root: root.to_path_buf(),
        files: n,
    };
    let stamp = format!(
        "small v3 n={n} seed={seed} ref={}",
        tools.reference.exe.display()
    );
    let src = root.join("src");
    once(&src, tools, &stamp, |d| write_small_tree(d, n, seed))?;
    let need = |f| needed.contains(&f);
    if need(Fixture::EmptyGit) {
        once(&built.fixture(Fixture::EmptyGit), tools, &stamp, |d| {
            git_init(tools, &d.join("repo"), None)
        })?;
    }
    if need(Fixture::Unadded) {
        once(&built.fixture(Fixture::Unadded), tools, &stamp, |d| {
            unadded(tools, d, &src)
        })?;
    }
    let full = built.fixture(Fixture::Full);
    if shared
        || need(Fixture::Full)
        || need(Fixture::ContentAbsent)
        || need(Fixture::PeerEmpty)
        || need(Fixture::PeerEmptySsh)
        || need(Fixture::TwoRemotes)
    {
        once(&full, tools, &stamp, |d| full_small(tools, d, &src))?;
    }
    if need(Fixture::ContentAbsent) {
        once(&built.fixture(Fixture::ContentAbsent), tools, &stamp, |d| {
            copy_tree(tools, &full, d)?;
            annex(tools, &d.join("repo"), &["drop", "--quiet", "."]).map(drop)
        })?;
    }
    for f in [Fixture::PeerEmpty, Fixture::PeerEmptySsh] {
        if !need(f) {
            continue;
        }
        once(&built.fixture(f), tools, &stamp, |d| {
            copy_tree(tools, &full, d)?;
            remove_tree(tools, &d.join("peer/.git/annex/objects"))?;
            let repo = d.join("repo");
            let keys = keys(tools, &repo)?;
            set_present(tools, &repo, &keys, UUID_PEER, 0)
        })?;
    }
    if need(Fixture::TwoRemotes) {
        once(&built.fixture(Fixture::TwoRemotes), tools, &stamp, |d| {
            copy_tree(tools, &full, d)?;
            let repo = d.join("repo");
            git(tools, d, &["clone", "-q", "--bare", "repo", "mirror.git"])?;
            git(tools, &repo, &["remote", "add", "mirror", "../mirror.git"])?;
            // Each round runs on a fresh copy, whose inodes and ctimes
            // differ from what the index recorded: git would re-read every
            // file to check it, for both implementations, and the row would
            // time that instead of sync. Comparing mtime and size only (a
            // copy keeps them) times a no-op sync as a repository that has
            // been left alone sees it.
            git(tools, &repo, &["config", "core.checkStat", "minimal"])?;
            git(tools, &repo, &["config", "core.trustctime", "false"])?;
            // Learns mirror's UUID, pushes to it; the second run finds
            // nothing to do, as the timed runs will.
            annex(tools, &repo, &["sync", "--quiet", "--no-content"])?;
            // The mirror (no preferred content: it wants everything) gets
            // every object, so that `sync --content` has nothing to do
            // either; the last sync pushes the location logs.
            annex(tools, &repo, &["sync", "--quiet", "--content"])?;
            annex(tools, &repo, &["sync", "--quiet", "--no-content"]).map(drop)
        })?;
    }
    if shared {
        remove_tree(tools, &built.shared())?;
        copy_tree(tools, &full, &built.shared())?;
    }
    Ok(built)
}

/// An initialized repository with `src`'s files in its work tree.
fn unadded(tools: &Tools, dir: &Path, src: &Path) -> Result<(), CompareError> {
    let repo = dir.join("repo");
    git_init(tools, &repo, Some(UUID_MAIN))?;
    annex(tools, &repo, &["init", "--quiet", "main"])?;
    let mut cmd = tools.command(Path::new("cp"));
    cmd.arg("-a")
        .arg("--reflink=auto")
        .arg(src.join("."))
        .arg(&repo);
    run_ok(
        cmd,
        &format!("cp -a {}/. {}", src.display(), repo.display()),
    )
    .map(drop)
}

/// `repo` with everything added and committed, `peer` a clone holding the
/// content too, and `archive`'s UUID and presence in the git-annex branch.
fn full_small(tools: &Tools, dir: &Path, src: &Path) -> Result<(), CompareError> {
    unadded(tools, dir, src)?;
    let repo = dir.join("repo");
    let peer = dir.join("peer");
    annex(tools, &repo, &["add", "--quiet", "."])?;
    git(tools, &repo, &["commit", "-q", "-m", "bench workload"])?;
    let clone = |name: &str, uuid: &str| -> Result<PathBuf, CompareError> {
        let d = dir.join(name);
        git(tools, dir, &["clone", "-q", "repo", name])?;
        git(tools, &d, &["remote", "set-url", "origin", "../repo"])?;
        git(tools, &d, &["config", "annex.uuid", uuid])?;
        annex(tools, &d, &["init", "--quiet", name])?;
        Ok(d)
    };
    clone("peer", UUID_PEER)?;
    let archive = clone("archive", UUID_ARCHIVE)?;
    git(tools, &repo, &["remote", "add", "peer", "../peer"])?;
    git(tools, &repo, &["remote", "add", "archive", "../archive"])?;
    // Learns both UUIDs and descriptions.
    annex(tools, &repo, &["sync", "--quiet", "--no-content"])?;
    git(tools, &repo, &["remote", "remove", "archive"])?;
    remove_tree(tools, &archive)?;
    let objects = repo.join(".git/annex/objects");
    copy_tree(tools, &objects, &peer.join(".git/annex/objects"))?;
    let keys = keys(tools, &repo)?;
    set_present(tools, &repo, &keys, UUID_PEER, 1)?;
    set_present(tools, &repo, &keys, UUID_ARCHIVE, 1)?;
    // Both ends agree, so a later `sync` has nothing to do.
    annex(tools, &repo, &["sync", "--quiet", "--no-content"])?;
    // Packed, as a repository that has lived a while is.
    git(tools, &repo, &["gc", "--quiet"])?;
    git(tools, &peer, &["gc", "--quiet"]).map(drop)
}

/// Builds the large-file workload (one file of `mib` MiB) under `root`.
pub fn build_large(
    tools: &Tools,
    root: &Path,
    mib: u64,
    seed: u64,
    needed: &[Fixture],
    shared: bool,
) -> Result<Built, CompareError> {
    std::fs::create_dir_all(root.join("fixtures")).map_err(io(root))?;
    let built = Built {
        root: root.to_path_buf(),
        files: 1,
    };
    let stamp = format!(
        "large mib={mib} seed={seed} ref={}",
        tools.reference.exe.display()
    );
    let src = root.join("src");
    once(&src, tools, &stamp, |d| {
        std::fs::create_dir_all(d).map_err(io(d))?;
        write_large_file(&d.join("large.bin"), mib, seed)
    })?;
    if needed.contains(&Fixture::Unadded) {
        once(&built.fixture(Fixture::Unadded), tools, &stamp, |d| {
            unadded(tools, d, &src)
        })?;
    }
    let full = built.fixture(Fixture::Full);
    if shared || needed.contains(&Fixture::Full) {
        once(&full, tools, &stamp, |d| {
            unadded(tools, d, &src)?;
            let repo = d.join("repo");
            annex(tools, &repo, &["add", "--quiet", "."])?;
            git(tools, &repo, &["commit", "-q", "-m", "bench workload"]).map(drop)
        })?;
    }
    if shared {
        remove_tree(tools, &built.shared())?;
        copy_tree(tools, &full, &built.shared())?;
    }
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(Rng::new(7).next_u64(), Rng::new(8).next_u64());
    }

    #[test]
    fn small_paths_are_deep_and_distinct() {
        let p = small_file_path(1234);
        assert_eq!(p.components().count(), 5);
        assert_eq!(p, PathBuf::from("d4/d6/d4/d0/f001234.bin"));
        let all: std::collections::BTreeSet<PathBuf> = (0..5000).map(small_file_path).collect();
        assert_eq!(all.len(), 5000);
    }
}
