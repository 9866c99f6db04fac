//! Looking up one path's staged blob in the work tree's index without
//! holding the index: [`SampledIndex`] reads the index once, entry by
//! entry, keeping the place of every [`SAMPLE_EVERY`]th entry, then
//! answers each lookup by going back to the sampled entry before the path
//! and reading forward from there (at most two samples' worth of
//! entries).
//!
//! Why: the filter process (`filter-process`, run by `git status`, `git
//! add`, `git update-index --refresh`) asks for the staged blob of every
//! file it cleans. gix's index (`Repository::index_or_empty`) holds every
//! entry (about 106 MB of heap at 10^6 files) for as long as the process
//! lives; the samples take about 1/64th of the paths (1 to 2 MB at 10^6
//! files) and the reader a 32 KiB buffer.
//!
//! The samples stay valid for the file they were taken from: each lookup
//! compares the path's `stat` data (device, inode, size, times) with the
//! open file's and samples again when git replaced the index (git writes
//! a new index to `index.lock` and renames it, never rewriting one in
//! place).

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use gix::ObjectId;

use crate::branch::index::{IndexError, Position, Reader};

/// One entry in how many is sampled.
pub(crate) const SAMPLE_EVERY: u32 = 64;

/// The read buffer of a lookup (a lookup reads at most two samples'
/// worth of entries, about 12 KiB for short paths).
const BUFFER: usize = 32 * 1024;

/// What identifies one version of the index file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(m: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

/// A sampled entry: its path and where it starts.
struct Sample {
    path: Vec<u8>,
    at: Position,
}

/// The samples of one version of the index file, and a reader on it.
struct Sampled {
    stamp: Stamp,
    reader: Reader,
    samples: Vec<Sample>,
}

/// The index file at one path, sampled (see the module's documentation);
/// sampled again whenever the file changes.
pub(crate) struct SampledIndex {
    path: PathBuf,
    kind: gix::hash::Kind,
    /// `None` before the first lookup, and while there is no index file.
    current: Option<Sampled>,
}

impl SampledIndex {
    /// The index at `path` (not read until the first lookup).
    pub fn new(path: &Path, kind: gix::hash::Kind) -> SampledIndex {
        SampledIndex {
            path: path.to_path_buf(),
            kind,
            current: None,
        }
    }

    /// The index file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The blob staged at `path` as git and gix's `entry_by_path` answer:
    /// its stage 0 entry, else (a conflict) stage 2, "ours"; `None` when
    /// neither is staged or there is no index. An index this cannot
    /// stream (split, sparse) is [`IndexError::Unsupported`].
    pub fn lookup(&mut self, path: &[u8]) -> Result<Option<ObjectId>, IndexError> {
        let now = match std::fs::metadata(&self.path) {
            Ok(m) => Some(Stamp::of(&m)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(IndexError::Io {
                    what: "stat",
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let Some(now) = now else {
            self.current = None;
            return Ok(None);
        };
        if self.current.as_ref().is_none_or(|c| c.stamp != now) {
            // Dropped first: one version's samples at a time.
            self.current = None;
            self.current = self.sample()?;
        }
        let Some(cur) = self.current.as_mut() else {
            return Ok(None);
        };
        // Start at the last sample strictly before the path, so that every
        // stage of the path comes after it (or at the very first entry).
        let i = cur.samples.partition_point(|s| s.path.as_slice() < path);
        let Some(start) = cur.samples.get(i.saturating_sub(1)) else {
            return Ok(None);
        };
        cur.reader.resume(&start.at)?;
        let mut ours = None;
        while cur.reader.remaining() > 0 {
            let Some(e) = cur.reader.next_entry()? else {
                break;
            };
            match e.path.as_slice().cmp(path) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Greater => break,
                std::cmp::Ordering::Equal if e.stage == 0 => return Ok(Some(e.id)),
                std::cmp::Ordering::Equal if e.stage == 2 => ours = Some(e.id),
                std::cmp::Ordering::Equal => {}
            }
        }
        Ok(ours)
    }

    /// Reads the whole file once, keeping every [`SAMPLE_EVERY`]th
    /// entry's place; `None` when there is no index file.
    fn sample(&self) -> Result<Option<Sampled>, IndexError> {
        let Some(mut reader) = Reader::open_with_capacity(&self.path, self.kind, BUFFER)? else {
            return Ok(None);
        };
        let stamp = Stamp::of(&reader.file_metadata()?);
        let mut samples = Vec::new();
        let mut n: u32 = 0;
        loop {
            let at = n.is_multiple_of(SAMPLE_EVERY).then(|| reader.position());
            // Reading past the last entry checks the extensions (a split
            // index is refused there).
            let Some(e) = reader.next_entry()? else {
                break;
            };
            if let Some(at) = at {
                samples.push(Sample { path: e.path, at });
            }
            n = n.wrapping_add(1);
        }
        samples.shrink_to_fit();
        Ok(Some(Sampled {
            stamp,
            reader,
            samples,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> Vec<u8> {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(dir)
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        out.stdout
    }

    /// Every path's staged blob as gix's whole index answers it.
    fn gix_answer(dir: &Path, path: &[u8]) -> Option<ObjectId> {
        use gix::bstr::ByteSlice;
        let repo = gix::open(dir).expect("open");
        let index = repo.index_or_empty().expect("index");
        index.entry_by_path(path.as_bstr()).map(|e| e.id)
    }

    #[test]
    fn sampled_lookups_answer_as_the_whole_index_in_every_version_and_after_changes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        git(d, &["init", "-q"]);
        // More files than several samples, in nested directories, with
        // names that sort around each other ("a", "a.b", "a/b", "a0").
        let mut names: Vec<String> = Vec::new();
        for i in 0..300 {
            names.push(format!("d{}/f{i:03}", i % 7));
        }
        for n in ["a", "a.b", "a0", "b/a", "b.c", "z"] {
            names.push(n.to_owned());
        }
        for n in &names {
            let p = d.join(n);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, n.as_bytes()).expect("write");
        }
        git(d, &["add", "."]);
        let probes: Vec<Vec<u8>> = names
            .iter()
            .map(|n| n.as_bytes().to_vec())
            .chain(
                [
                    &b""[..],
                    b"0",
                    b"a/",
                    b"d3",
                    b"d3/f",
                    b"d6/f299x",
                    b"zz",
                    b"d0/f000",
                ]
                .iter()
                .map(|p| p.to_vec()),
            )
            .collect();
        let index = d.join(".git/index");
        let mut s = SampledIndex::new(&index, gix::hash::Kind::Sha1);
        for version in ["2", "3", "4", "2"] {
            git(d, &["update-index", "--index-version", version]);
            for p in &probes {
                assert_eq!(
                    s.lookup(p).expect("lookup"),
                    gix_answer(d, p),
                    "version {version}, {}",
                    String::from_utf8_lossy(p)
                );
            }
        }
        // The index replaced: sampled again.
        std::fs::write(d.join("d1/f001"), b"changed").expect("write");
        git(d, &["add", "d1/f001"]);
        git(d, &["rm", "-q", "--cached", "d2/f002"]);
        for p in [&b"d1/f001"[..], b"d2/f002", b"z"] {
            assert_eq!(s.lookup(p).expect("lookup"), gix_answer(d, p));
        }
        assert!(s.lookup(b"d2/f002").expect("lookup").is_none());
        // No index: nothing staged.
        std::fs::remove_file(&index).expect("rm index");
        assert_eq!(s.lookup(b"z").expect("lookup"), None);
    }

    #[test]
    fn a_conflicted_path_answers_ours_across_a_sample_boundary() {
        // Stages 1, 2 and 3 of one path: its entries straddle a sample
        // boundary for some count of paths before it.
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        git(d, &["init", "-q"]);
        std::fs::write(d.join("x"), b"x").expect("write");
        git(d, &["add", "x"]);
        let x = String::from_utf8(git(d, &["rev-parse", ":x"])).expect("utf8");
        let x = x.trim();
        let index = d.join(".git/index");
        for before in [SAMPLE_EVERY - 3, SAMPLE_EVERY - 2, SAMPLE_EVERY - 1] {
            let mut info = String::new();
            for i in 0..before {
                info.push_str(&format!("100644 {x} 0\ta{i:03}\n"));
            }
            info.push_str(&format!("0 {} 0\tx\n", "0".repeat(40)));
            for stage in 1..=3 {
                info.push_str(&format!("100644 {x} {stage}\tm\n"));
            }
            let mut child = Command::new("git")
                .args(["update-index", "--index-info"])
                .current_dir(d)
                .stdin(std::process::Stdio::piped())
                .spawn()
                .expect("spawn");
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(info.as_bytes())
                .expect("write");
            assert!(child.wait().expect("wait").success());
            let mut s = SampledIndex::new(&index, gix::hash::Kind::Sha1);
            let got = s.lookup(b"m").expect("lookup");
            assert!(got.is_some(), "stage 2 found with {before} paths before");
            assert_eq!(got, gix_answer(d, b"m"));
            std::fs::remove_file(&index).expect("rm index");
        }
    }
}
