//! The synthetic repository builder: a git-annex repository (version 10)
//! of `N` annexed files written directly, without running `git annex add`,
//! so that 10^5 to 10^7-file workloads take minutes to make instead of
//! hours (the reference added 100,000 files in 37 minutes here).
//!
//! What is written, and how:
//! - `repo/` is `git init` plus the reference's `git annex init` (so its
//!   configuration, hooks and first `git-annex` branch commit are exactly
//!   git-annex's). File `i` is `d<i/1000>/f<i>.<ext>` (1,000 files a
//!   directory, four extensions), of 16 to 115 bytes of distinct content,
//!   with a SHA256E key. Locked files are symlinks to
//!   `.git/annex/objects/Xx/Yy/KEY/KEY`; every `unlocked_every`-th file
//!   (from directory 4 on) is unlocked: its content in the work tree (its
//!   pointer when absent), the pointer in git.
//! - Content present here is written to the object store (file 0444, key
//!   directory 0555, as git-annex freezes it).
//! - The commit of `master` and the commit of the `git-annex` branch (one
//!   location log per key, `uuid.log`, and when there is a peer its
//!   preferred content `present`) come from one `git fast-import`
//!   stream: one pack, no loose objects.
//! - The git index is written directly (version 2), with every entry's
//!   `lstat` data, so `git status` is clean without re-reading any file
//!   (and without running the filter on unlocked files).
//! - With a peer, `peer.git/` is a bare repository initialized by the
//!   reference, remote `peer` of `repo` (URL `../peer.git`), sharing
//!   `repo`'s pack (hard links) and branches; its objects (hash
//!   directories `aaa/bbb/` as in every bare repository) are hard links to
//!   `repo`'s where both have the content.
//! - A third repository, `archive`, is known from `uuid.log` only and is
//!   logged as having every key.
//!
//! Where content is, by directory (the operations of 1,000 files use
//! them): [`GET_DIR`] is absent here and present in the peer, [`COPY_DIR`]
//! here only, [`DROP_DIR`] here and in the peer, [`UNLOCK_DIR`] here only
//! and locked; the rest here (or for `present_percent` % of them) and not
//! in the peer. `plain` more files, not annexed, go under `new/` for `add`.
//!
//! [`check`] verifies a build with the reference: `git status` clean, its
//! `fsck --fast` on a sample (and ours when given), `whereis` on the
//! sample giving the expected repositories.

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use annex_core::backend::{ContentHasher, HashKind};
use annex_core::key::Key;
use annex_core::objects::{hash_dir_lower, hash_dir_mixed};

use crate::compare::CompareError;
use crate::compare::env::{Tools, run_ok};
use crate::compare::workload::{Rng, UUID_ARCHIVE, UUID_MAIN, UUID_PEER, remove_tree};

/// Files in one directory of the work tree.
pub const FILES_PER_DIR: usize = 1000;
/// Directory whose content is absent here and present in the peer.
pub const GET_DIR: &str = "d0000";
/// Directory whose content is here and not in the peer.
pub const COPY_DIR: &str = "d0001";
/// Directory whose content is here and in the peer.
pub const DROP_DIR: &str = "d0002";
/// Directory whose content is here only, every file locked.
pub const UNLOCK_DIR: &str = "d0003";
/// Where the plain (not annexed) files go, in the work tree.
pub const PLAIN_DIR: &str = "new";
/// The time of every log line and commit written (2023-11-14): anything a
/// measured command writes later is newer.
pub const TIMESTAMP: u64 = 1_700_000_000;

const EXTS: [&str; 4] = ["txt", "dat", "bin", "json"];

/// What to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// Annexed files.
    pub files: usize,
    /// Plain files under [`PLAIN_DIR`], not annexed (for `add`).
    pub plain: usize,
    /// Every this-many-th file (from directory 4 on) is unlocked; 0: none.
    pub unlocked_every: usize,
    /// Share (0 to 100) of the files outside the four special directories
    /// whose content is here.
    pub present_percent: u8,
    /// Whether to make the peer (`peer.git`).
    pub peer: bool,
    /// Seed of the content.
    pub seed: u64,
}

impl Params {
    /// A one-line description, stored with a build to know it again.
    pub fn stamp(&self) -> String {
        format!(
            "synth v1 files={} plain={} unlocked_every={} present={} peer={} seed={}",
            self.files, self.plain, self.unlocked_every, self.present_percent, self.peer, self.seed
        )
    }

    /// File `i`: its path, content, key and where its content is.
    pub fn file(&self, i: usize) -> FileSpec {
        let content = content(self.seed, b"annexed", i);
        let ext = EXTS[i % EXTS.len()];
        let key = sha256e_key(&content, ext);
        let dir = i / FILES_PER_DIR;
        let (here, in_peer) = match dir {
            0 => (false, self.peer),
            1 | 3 => (true, false),
            2 => (true, self.peer),
            _ => ((i % 100) < usize::from(self.present_percent), false),
        };
        let unlocked = dir >= 4
            && self.unlocked_every > 0
            && i % self.unlocked_every == self.unlocked_every - 1;
        FileSpec {
            path: format!("d{dir:04}/f{i:07}.{ext}"),
            key,
            content,
            here,
            in_peer,
            unlocked,
        }
    }

    /// Plain file `j`: its path under [`PLAIN_DIR`] and content (distinct
    /// from every annexed file's).
    pub fn plain_file(&self, j: usize) -> (String, Vec<u8>) {
        let ext = EXTS[j % EXTS.len()];
        (
            format!("{PLAIN_DIR}/d{:04}/g{j:07}.{ext}", j / FILES_PER_DIR),
            content(self.seed, b"plain", j),
        )
    }
}

/// One annexed file of a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// Path in the work tree.
    pub path: String,
    /// Its key (SHA256E).
    pub key: String,
    /// Its content.
    pub content: Vec<u8>,
    /// Content present in `repo`.
    pub here: bool,
    /// Content present in `peer.git`.
    pub in_peer: bool,
    /// Unlocked (pointer in git) rather than a symlink.
    pub unlocked: bool,
}

/// 16 to 115 bytes, distinct for each (`kind`, `i`): a line naming the
/// file, then hex digits from the seed.
fn content(seed: u64, kind: &[u8], i: usize) -> Vec<u8> {
    let mut rng =
        Rng::new(seed ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d) ^ kind.len() as u64);
    let len = 16 + (rng.next_u64() % 100) as usize;
    let mut c = Vec::with_capacity(len.max(32));
    c.extend_from_slice(kind);
    c.extend_from_slice(format!(" {i}\n").as_bytes());
    const HEX: &[u8; 16] = b"0123456789abcdef";
    while c.len() < len {
        c.push(HEX[(rng.next_u64() % 16) as usize]);
    }
    c
}

fn sha256e_key(content: &[u8], ext: &str) -> String {
    let mut h = ContentHasher::new(HashKind::Sha256);
    h.update(content);
    format!("SHA256E-s{}--{}.{ext}", content.len(), h.finish())
}

/// The git object id of a blob with this content.
fn blob_id(content: &[u8]) -> [u8; 20] {
    let mut h = ContentHasher::new(HashKind::Sha1);
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    hex20(&h.finish())
}

fn hex20(hex: &str) -> [u8; 20] {
    let mut out = [0u8; 20];
    for (o, pair) in out.iter_mut().zip(hex.as_bytes().chunks(2)) {
        let d = |c: u8| match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => 0,
        };
        *o = (d(pair[0]) << 4) | d(pair.get(1).copied().unwrap_or(b'0'));
    }
    out
}

/// Where a build is: `root/repo`, `root/peer.git`.
#[derive(Debug, Clone)]
pub struct Synth {
    /// The directory holding the repositories.
    pub root: PathBuf,
    /// What was built.
    pub params: Params,
}

impl Synth {
    /// The repository with the files.
    pub fn repo(&self) -> PathBuf {
        self.root.join("repo")
    }

    /// The peer (bare), when built.
    pub fn peer(&self) -> PathBuf {
        self.root.join("peer.git")
    }

    /// The list of unlocked files' paths, one a line, beside the
    /// repositories.
    pub fn unlocked_list(&self) -> PathBuf {
        self.root.join("unlocked.list")
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CompareError + '_ {
    move |e| CompareError::io(path, e)
}

fn git(tools: &Tools, dir: &Path, args: &[&str]) -> Result<Vec<u8>, CompareError> {
    let mut cmd = tools.git(dir);
    cmd.args(args);
    run_ok(
        cmd,
        &format!("git {} (in {})", args.join(" "), dir.display()),
    )
}

fn reference(tools: &Tools, dir: &Path, args: &[&str]) -> Result<Vec<u8>, CompareError> {
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

fn rev_parse(tools: &Tools, dir: &Path, rev: &str) -> Result<String, CompareError> {
    let out = git(tools, dir, &["rev-parse", "--verify", rev])?;
    Ok(String::from_utf8_lossy(&out).trim().to_string())
}

/// The line of `uuid.log` on branch `git-annex` of `dir` naming `uuid`.
fn uuid_line(tools: &Tools, dir: &Path, uuid: &str) -> Result<String, CompareError> {
    let out = git(tools, dir, &["show", "git-annex:uuid.log"])?;
    String::from_utf8_lossy(&out)
        .lines()
        .find(|l| l.starts_with(uuid))
        .map(str::to_string)
        .ok_or_else(|| CompareError::Failed {
            what: format!("reading uuid.log in {}", dir.display()),
            detail: format!("no line for {uuid}"),
        })
}

/// A writer that hashes (SHA-1) what goes through it: the index's trailer.
struct HashingWriter<W: Write> {
    inner: W,
    hash: ContentHasher,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// One entry of a version-2 git index.
fn index_entry(
    out: &mut impl Write,
    meta: &std::fs::Metadata,
    mode: u32,
    oid: &[u8; 20],
    path: &[u8],
) -> std::io::Result<()> {
    let u32s = [
        meta.ctime() as u32,
        meta.ctime_nsec() as u32,
        meta.mtime() as u32,
        meta.mtime_nsec() as u32,
        meta.dev() as u32,
        meta.ino() as u32,
        mode,
        meta.uid(),
        meta.gid(),
        meta.size() as u32,
    ];
    for v in u32s {
        out.write_all(&v.to_be_bytes())?;
    }
    out.write_all(oid)?;
    let flags = path.len().min(0xfff) as u16;
    out.write_all(&flags.to_be_bytes())?;
    out.write_all(path)?;
    // NUL-padded to a multiple of 8 bytes, at least one NUL.
    let len = 62 + path.len();
    let padded = (len + 8) / 8 * 8;
    out.write_all(&[0u8; 8][..padded - len])
}

/// Writes a file with `content`, read-only, in a read-only key directory
/// `dir` (created).
fn write_object(dir: &Path, file: &Path, content: &[u8]) -> Result<(), CompareError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    std::fs::write(file, content).map_err(io(file))?;
    freeze(dir, file)
}

fn freeze(dir: &Path, file: &Path) -> Result<(), CompareError> {
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o444)).map_err(io(file))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).map_err(io(dir))
}

/// Builds `params` under `root` (emptied first); `progress` gets a line per
/// step.
pub fn build(
    tools: &Tools,
    root: &Path,
    params: &Params,
    progress: &mut dyn FnMut(&str),
) -> Result<Synth, CompareError> {
    let started = std::time::Instant::now();
    remove_tree(tools, root)?;
    std::fs::create_dir_all(root).map_err(io(root))?;
    let synth = Synth {
        root: root.to_path_buf(),
        params: params.clone(),
    };
    let repo = synth.repo();
    let peer = synth.peer();
    std::fs::create_dir_all(&repo).map_err(io(&repo))?;
    git(tools, &repo, &["init", "-q", "-b", "master"])?;
    git(tools, &repo, &["config", "annex.uuid", UUID_MAIN])?;
    reference(tools, &repo, &["init", "-q", "main"])?;
    let mut uuid_log = vec![uuid_line(tools, &repo, UUID_MAIN)?];
    if params.peer {
        std::fs::create_dir_all(&peer).map_err(io(&peer))?;
        git(tools, &peer, &["init", "-q", "--bare", "-b", "master"])?;
        git(tools, &peer, &["config", "annex.uuid", UUID_PEER])?;
        reference(tools, &peer, &["init", "-q", "peer"])?;
        uuid_log.push(uuid_line(tools, &peer, UUID_PEER)?);
    }
    uuid_log.push(format!("{UUID_ARCHIVE} archive timestamp={TIMESTAMP}s"));

    if params.files > 0 {
        progress(&format!("writing {} annexed files", params.files));
        write_files(tools, &synth, &uuid_log)?;
        progress(&format!(
            "files and commits written ({:.0?})",
            started.elapsed()
        ));
    }
    if params.peer {
        share_with_peer(tools, &synth)?;
    }
    if params.plain > 0 {
        progress(&format!("writing {} plain files", params.plain));
        for j in 0..params.plain {
            let (path, content) = params.plain_file(j);
            let p = repo.join(&path);
            if j % FILES_PER_DIR == 0
                && let Some(parent) = p.parent()
            {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            std::fs::write(&p, &content).map_err(io(&p))?;
        }
    }
    let stamp = root.join("synth.built");
    std::fs::write(&stamp, params.stamp()).map_err(io(&stamp))?;
    progress(&format!("built in {:.1?}", started.elapsed()));
    Ok(synth)
}

/// Whether `root` holds a finished build of `params`.
pub fn is_built(root: &Path, params: &Params) -> bool {
    std::fs::read_to_string(root.join("synth.built")).is_ok_and(|s| s == params.stamp())
}

/// The work tree, the objects, the index and both commits (one
/// `git fast-import`).
fn write_files(tools: &Tools, synth: &Synth, uuid_log: &[String]) -> Result<(), CompareError> {
    let params = &synth.params;
    let repo = synth.repo();
    let peer = synth.peer();
    let mut fi = tools.git(&repo);
    fi.args(["fast-import", "--quiet", "--done", "--force"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let what = format!("git fast-import (in {})", repo.display());
    let mut child = fi.spawn().map_err(|e| CompareError::Spawn {
        what: what.clone(),
        source: e,
    })?;
    let stdin = child.stdin.take().ok_or_else(|| CompareError::Failed {
        what: what.clone(),
        detail: "no standard input".into(),
    })?;
    let result = stream(synth, uuid_log, stdin, &repo, &peer);
    let out = child.wait_with_output().map_err(|e| CompareError::Spawn {
        what: what.clone(),
        source: e,
    })?;
    if !out.status.success() {
        return Err(CompareError::Failed {
            what,
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    let index_tmp = result?;
    // The index goes in last, newer than every file it describes (an
    // entry as new as the index would be re-read by git: "racily clean").
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let index = repo.join(".git/index");
    std::fs::rename(&index_tmp, &index).map_err(io(&index))?;
    // git-annex's index of its branch described the replaced commits.
    for f in [".git/annex/index", ".git/annex/index.lck"] {
        let p = repo.join(f);
        std::fs::remove_file(&p).map_err(io(&p))?;
    }
    let f = std::fs::File::options()
        .write(true)
        .open(&index)
        .map_err(io(&index))?;
    f.set_modified(std::time::SystemTime::now())
        .map_err(io(&index))?;
    let list = synth.unlocked_list();
    let mut w = BufWriter::new(std::fs::File::create(&list).map_err(io(&list))?);
    for i in 0..params.files {
        let spec = params.file(i);
        if spec.unlocked {
            writeln!(w, "{}", spec.path).map_err(io(&list))?;
        }
    }
    w.flush().map_err(io(&list))
}

/// Writes the fast-import stream (and the files as it goes); returns the
/// index written to a temporary file.
fn stream(
    synth: &Synth,
    uuid_log: &[String],
    stdin: std::process::ChildStdin,
    repo: &Path,
    peer: &Path,
) -> Result<PathBuf, CompareError> {
    // A root commit: the branch's first commits (`git annex init`'s) are
    // loose objects of `repo`, which the peer sharing the pack would lack;
    // the new commit holds all they said (`uuid.log`). git-annex's index
    // of the branch is then made anew from it.
    let params = &synth.params;
    let mut fi = BufWriter::with_capacity(1 << 20, stdin);
    let fi_path = repo.join(".git (fast-import input)");
    let fierr = |e: std::io::Error| CompareError::io(&fi_path, e);
    let index_tmp = repo.join(".git/index.synth");
    let mut index = HashingWriter {
        inner: BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(&index_tmp).map_err(io(&index_tmp))?,
        ),
        hash: ContentHasher::new(HashKind::Sha1),
    };
    let ierr = |e: std::io::Error| CompareError::io(&index_tmp, e);
    index.write_all(b"DIRC").map_err(ierr)?;
    index.write_all(&2u32.to_be_bytes()).map_err(ierr)?;
    let count =
        u32::try_from(params.files).map_err(|_| CompareError::Usage("too many files".into()))?;
    index.write_all(&count.to_be_bytes()).map_err(ierr)?;

    let ident = format!("Bench <bench@example.invalid> {TIMESTAMP} +0000");
    let msg = format!("synthetic workload: {}\n", params.stamp());
    write!(
        fi,
        "commit refs/heads/master\ncommitter {ident}\ndata {}\n{msg}",
        msg.len()
    )
    .map_err(fierr)?;
    let objects = repo.join(".git/annex/objects");
    let peer_objects = peer.join("annex/objects");
    let mut made: HashSet<String> = HashSet::new();
    for i in 0..params.files {
        let spec = params.file(i);
        let key = Key::parse(spec.key.as_bytes()).map_err(|e| CompareError::Failed {
            what: format!("key of file {i}"),
            detail: e.to_string(),
        })?;
        let wt = repo.join(&spec.path);
        if i % FILES_PER_DIR == 0
            && let Some(parent) = wt.parent()
        {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        let mixed = hash_dir_mixed(&key);
        let obj_dir = objects.join(&mixed).join(&spec.key);
        let obj = obj_dir.join(&spec.key);
        if spec.here {
            if made.insert(mixed.clone()) {
                let d = objects.join(&mixed);
                std::fs::create_dir_all(&d).map_err(io(&d))?;
            }
            write_object(&obj_dir, &obj, &spec.content)?;
        }
        if spec.in_peer {
            let dir = peer_objects.join(hash_dir_lower(&key)).join(&spec.key);
            let file = dir.join(&spec.key);
            if spec.here {
                std::fs::create_dir_all(&dir).map_err(io(&dir))?;
                std::fs::hard_link(&obj, &file).map_err(io(&file))?;
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555))
                    .map_err(io(&dir))?;
            } else {
                write_object(&dir, &file, &spec.content)?;
            }
        }
        let (blob, mode) = if spec.unlocked {
            let pointer = format!("/annex/objects/{}\n", spec.key).into_bytes();
            let body = if spec.here { &spec.content } else { &pointer };
            std::fs::write(&wt, body).map_err(io(&wt))?;
            (pointer, 0o100644u32)
        } else {
            let depth = spec.path.matches('/').count();
            let target = format!(
                "{}.git/annex/objects/{mixed}{}/{}",
                "../".repeat(depth),
                spec.key,
                spec.key
            );
            symlink(&target, &wt).map_err(io(&wt))?;
            (target.into_bytes(), 0o120000u32)
        };
        let meta = std::fs::symlink_metadata(&wt).map_err(io(&wt))?;
        index_entry(
            &mut index,
            &meta,
            mode,
            &blob_id(&blob),
            spec.path.as_bytes(),
        )
        .map_err(ierr)?;
        write!(fi, "M {mode:o} inline {}\ndata {}\n", spec.path, blob.len()).map_err(fierr)?;
        fi.write_all(&blob).map_err(fierr)?;
        fi.write_all(b"\n").map_err(fierr)?;
    }
    index.flush().map_err(ierr)?;
    let trailer =
        hex20(&std::mem::replace(&mut index.hash, ContentHasher::new(HashKind::Sha1)).finish());
    let mut file = index
        .inner
        .into_inner()
        .map_err(|e| CompareError::io(&index_tmp, e.into_error()))?;
    file.write_all(&trailer).map_err(ierr)?;
    file.sync_all().map_err(ierr)?;

    // The git-annex branch.
    let msg = "synthetic location logs\n";
    write!(
        fi,
        "commit refs/heads/git-annex\ncommitter {ident}\ndata {}\n{msg}",
        msg.len()
    )
    .map_err(fierr)?;
    let inline = |fi: &mut BufWriter<_>, path: &str, body: &str| -> std::io::Result<()> {
        write!(fi, "M 100644 inline {path}\ndata {}\n{body}\n", body.len())
    };
    let uuids = uuid_log.join("\n") + "\n";
    inline(&mut fi, "uuid.log", &uuids).map_err(fierr)?;
    if params.peer {
        inline(
            &mut fi,
            "preferred-content.log",
            &format!("{UUID_PEER} present timestamp={TIMESTAMP}s\n"),
        )
        .map_err(fierr)?;
    }
    for i in 0..params.files {
        let spec = params.file(i);
        let key = Key::parse(spec.key.as_bytes()).map_err(|e| CompareError::Failed {
            what: format!("key of file {i}"),
            detail: e.to_string(),
        })?;
        let mut log = String::with_capacity(160);
        for (has, uuid) in [
            (spec.here, UUID_MAIN),
            (spec.in_peer, UUID_PEER),
            (true, UUID_ARCHIVE),
        ] {
            if has {
                log.push_str(&format!("{TIMESTAMP}s 1 {uuid}\n"));
            }
        }
        inline(
            &mut fi,
            &format!("{}{}.log", hash_dir_lower(&key), spec.key),
            &log,
        )
        .map_err(fierr)?;
    }
    fi.write_all(b"done\n").map_err(fierr)?;
    fi.flush().map_err(fierr)?;
    Ok(index_tmp)
}

/// The peer shares `repo`'s pack (hard links) and branches; the remote's
/// refs in `repo` say so, as after a fetch.
fn share_with_peer(tools: &Tools, synth: &Synth) -> Result<(), CompareError> {
    let repo = synth.repo();
    let peer = synth.peer();
    let pack_dir = repo.join(".git/objects/pack");
    let peer_pack = peer.join("objects/pack");
    std::fs::create_dir_all(&peer_pack).map_err(io(&peer_pack))?;
    for entry in std::fs::read_dir(&pack_dir).map_err(io(&pack_dir))? {
        let entry = entry.map_err(io(&pack_dir))?;
        let to = peer_pack.join(entry.file_name());
        if !to.exists() {
            std::fs::hard_link(entry.path(), &to).map_err(io(&to))?;
        }
    }
    let annex = rev_parse(tools, &repo, "refs/heads/git-annex")?;
    git(
        tools,
        &peer,
        &["update-ref", "refs/heads/git-annex", &annex],
    )?;
    // The peer's index of its branch described its own first commit.
    for f in ["annex/index", "annex/index.lck"] {
        let p = peer.join(f);
        let _ = std::fs::remove_file(&p);
    }
    git(tools, &repo, &["remote", "add", "peer", "../peer.git"])?;
    git(
        tools,
        &repo,
        &["config", "remote.peer.annex-uuid", UUID_PEER],
    )?;
    git(
        tools,
        &repo,
        &["update-ref", "refs/remotes/peer/git-annex", &annex],
    )?;
    if synth.params.files > 0 {
        let master = rev_parse(tools, &repo, "refs/heads/master")?;
        git(tools, &peer, &["update-ref", "refs/heads/master", &master])?;
        git(
            tools,
            &repo,
            &["update-ref", "refs/remotes/peer/master", &master],
        )?;
    }
    Ok(())
}

/// The indices of a sample of about `n` files: spread over the whole
/// range, plus the first of each special directory and a few unlocked.
pub fn sample(params: &Params, n: usize) -> Vec<usize> {
    let mut s: Vec<usize> = Vec::new();
    let files = params.files;
    if files == 0 {
        return s;
    }
    let n = n.max(1);
    for k in 0..n {
        s.push(k * files / n);
    }
    s.push(files - 1);
    for d in 0..4 {
        s.push((d * FILES_PER_DIR).min(files - 1));
    }
    if params.unlocked_every > 0 {
        let first = 4 * FILES_PER_DIR + params.unlocked_every - 1;
        for k in 0..5 {
            let i = first + k * params.unlocked_every * 997;
            if i < files {
                s.push(i);
            }
        }
    }
    s.sort_unstable();
    s.dedup();
    s
}

/// Checks a build: `git status` clean, the reference's `fsck --fast` on a
/// sample of `n` files (and `ours`'s when given), the reference's
/// `whereis` on the sample naming the expected repositories.
pub fn check(
    tools: &Tools,
    synth: &Synth,
    n: usize,
    ours: Option<&Path>,
    progress: &mut dyn FnMut(&str),
) -> Result<(), CompareError> {
    let repo = synth.repo();
    let params = &synth.params;
    let fail = |what: &str, detail: String| CompareError::Failed {
        what: format!("check of {}: {what}", repo.display()),
        detail,
    };
    let status = git(
        tools,
        &repo,
        &["status", "--porcelain", "--untracked-files=no"],
    )?;
    if !status.is_empty() {
        let s = String::from_utf8_lossy(&status);
        return Err(fail(
            "git status",
            format!(
                "not clean: {}",
                s.lines().take(5).collect::<Vec<_>>().join("; ")
            ),
        ));
    }
    progress("git status: clean");
    let idx = sample(params, n);
    let specs: Vec<FileSpec> = idx.iter().map(|&i| params.file(i)).collect();
    let paths: Vec<&str> = specs.iter().map(|s| s.path.as_str()).collect();
    let mut args = vec!["fsck", "--fast", "--quiet", "--"];
    args.extend(&paths);
    reference(tools, &repo, &args)?;
    progress(&format!(
        "reference fsck --fast of {} files: ok",
        paths.len()
    ));
    if let Some(ours) = ours {
        let mut cmd = tools.command(ours);
        cmd.current_dir(&repo).args(&args);
        run_ok(cmd, &format!("ours fsck --fast (in {})", repo.display()))?;
        progress(&format!("our fsck --fast of {} files: ok", paths.len()));
    }
    let mut args = vec!["whereis", "--json", "--"];
    args.extend(&paths);
    let out = reference(tools, &repo, &args)?;
    let mut seen = 0;
    for line in String::from_utf8_lossy(&out).lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| fail("whereis --json", e.to_string()))?;
        let file = v["file"].as_str().unwrap_or_default();
        let spec = specs
            .iter()
            .find(|s| s.path == file)
            .ok_or_else(|| fail("whereis --json", format!("unexpected file {file:?}")))?;
        if v["key"].as_str() != Some(spec.key.as_str()) {
            return Err(fail(
                "whereis",
                format!("{file}: key {} expected", spec.key),
            ));
        }
        let mut got: Vec<&str> = v["whereis"]
            .as_array()
            .map(|a| a.iter().filter_map(|r| r["uuid"].as_str()).collect())
            .unwrap_or_default();
        got.sort_unstable();
        let mut want = vec![UUID_ARCHIVE];
        if spec.here {
            want.push(UUID_MAIN);
        }
        if spec.in_peer {
            want.push(UUID_PEER);
        }
        want.sort_unstable();
        if got != want {
            return Err(fail(
                "whereis",
                format!("{file}: {got:?}, expected {want:?}"),
            ));
        }
        seen += 1;
    }
    if seen != specs.len() {
        return Err(fail(
            "whereis",
            format!("{seen} files answered, {} asked", specs.len()),
        ));
    }
    progress(&format!("reference whereis of {seen} files: as built"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_distinct_and_placed_by_directory() {
        let p = Params {
            files: 5000,
            plain: 10,
            unlocked_every: 10,
            present_percent: 50,
            peer: true,
            seed: 3,
        };
        let keys: HashSet<String> = (0..5000).map(|i| p.file(i).key).collect();
        assert_eq!(keys.len(), 5000);
        let f = p.file(0);
        assert_eq!(f.path, "d0000/f0000000.txt");
        assert!(!f.here && f.in_peer && !f.unlocked);
        let f = p.file(1001);
        assert_eq!(f.path, "d0001/f0001001.dat");
        assert!(f.here && !f.in_peer);
        assert!(p.file(2500).here && p.file(2500).in_peer);
        assert!(p.file(4009).unlocked && !p.file(3009).unlocked);
        assert!(p.file(4010).here && !p.file(4060).here);
        assert!((16..=115).contains(&f.content.len()));
        assert_eq!(p.file(77), p.file(77));
        assert_eq!(p.plain_file(3).0, "new/d0000/g0000003.json");
        assert!(!keys.contains(&sha256e_key(&p.plain_file(3).1, "json")));
    }

    #[test]
    fn blob_ids_are_gits() {
        // `printf hello | git hash-object --stdin`
        let id = blob_id(b"hello");
        assert_eq!(id, hex20("b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0"));
    }

    #[test]
    fn index_entries_are_padded_to_eight_bytes() {
        let meta = std::fs::symlink_metadata("/").expect("stat /");
        for len in 1..20 {
            let mut out = Vec::new();
            let path = vec![b'a'; len];
            index_entry(&mut out, &meta, 0o100644, &[0; 20], &path).expect("write");
            assert_eq!(out.len() % 8, 0);
            assert!(out.len() > 62 + len);
            assert_eq!(out[62 + len], 0);
        }
    }
}
