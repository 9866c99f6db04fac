//! One streaming pass over git's index (`.git/index`) that answers one
//! question for the hooks: is the index exactly a tree, and which? That
//! is the cache tree's root when it is valid and no entry carries state a
//! tree cannot hold (a merge stage, intent-to-add, skip-worktree,
//! assume-valid, a sparse directory), in an index that is whole (not
//! split).
//!
//! The entries are stepped over in a fixed buffer, never decoded into
//! memory: at 10^5 files the index is 8.8 MB, and decoding it whole (as
//! `gix::index::File` does: every entry and path allocated) cost the hook
//! 10 ms, where this pass costs about one copy of the file. The trailing
//! checksum is not verified (git verifies it when it writes the file).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// The buffer the index is read through.
const BUFFER: usize = 256 * 1024;

/// Entry flags (the 16 bits after the object id).
const ASSUME_VALID: u16 = 0x8000;
const EXTENDED: u16 = 0x4000;
const STAGE_MASK: u16 = 0x3000;
const NAME_MASK: u16 = 0x0fff;
/// Extended flags (versions 3 and 4).
const SKIP_WORKTREE: u16 = 0x4000;
const INTENT_TO_ADD: u16 = 0x2000;

/// The index read through a buffer.
struct Scan {
    file: File,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes of the file consumed so far.
    pos: u64,
}

impl Scan {
    /// The bytes read and not consumed.
    fn avail(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Makes at least `n` bytes available; `false` at the end of the file
    /// before that.
    fn fill(&mut self, n: usize) -> io::Result<bool> {
        if self.end - self.start >= n {
            return Ok(true);
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        if self.buf.len() < n {
            self.buf.resize(n.max(self.buf.len() * 2), 0);
        }
        while self.end < n {
            let got = self.file.read(&mut self.buf[self.end..])?;
            if got == 0 {
                return Ok(false);
            }
            self.end += got;
        }
        Ok(true)
    }

    fn advance(&mut self, n: usize) {
        self.start += n;
        self.pos += n as u64;
    }

    /// The offset (from the first available byte) of the first NUL at or
    /// after `from`.
    fn find_nul(&mut self, from: usize) -> io::Result<Option<usize>> {
        loop {
            if let Some(i) = self.avail().get(from..).and_then(|s| memchr::memchr(0, s)) {
                return Ok(Some(from + i));
            }
            let have = self.end - self.start;
            if !self.fill(have + 1)? {
                return Ok(None);
            }
        }
    }

    /// Skips `n` bytes, seeking past what is not buffered.
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let buffered = (self.end - self.start) as u64;
        if n <= buffered {
            self.advance(n as usize);
            return Ok(());
        }
        let beyond = n - buffered;
        self.pos += n;
        self.start = 0;
        self.end = 0;
        let offset = i64::try_from(beyond).map_err(|_| io::Error::other("extension too large"))?;
        self.file.seek(SeekFrom::Current(offset))?;
        Ok(())
    }
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The tree the index at `path` holds exactly, when it can tell: the root
/// of a valid cache tree, in a whole index (no `link` or `sdir`
/// extension) none of whose entries is unmerged, intent-to-add,
/// skip-worktree, assume-valid or a sparse directory. `hash_len` is the
/// length of the repository's object ids (20 or 32 bytes). `Ok(None)`
/// when there is no index or it cannot tell; an error when the file
/// cannot be read or is malformed.
pub(crate) fn exact_tree(path: &Path, hash_len: usize) -> io::Result<Option<Vec<u8>>> {
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    let mut s = Scan {
        file,
        buf: vec![0; BUFFER],
        start: 0,
        end: 0,
        pos: 0,
    };
    if !s.fill(12)? || &s.avail()[..4] != b"DIRC" {
        return Err(bad("not an index"));
    }
    let header = s.avail();
    let version = be32(header, 4).ok_or_else(|| bad("short header"))?;
    let count = be32(header, 8).ok_or_else(|| bad("short header"))?;
    if !(2..=4).contains(&version) {
        return Err(bad("unknown index version"));
    }
    s.advance(12);
    // ctime, mtime (8 bytes each), dev, ino, mode, uid, gid, size (4
    // each), the object id, the flags.
    let flags_at = 40 + hash_len;
    let fixed = flags_at + 2;
    let mut remaining = count;
    while remaining > 0 {
        if version < 4 {
            match step_buffered(s.avail(), remaining, hash_len, version) {
                Stepped::Refused => return Ok(None),
                Stepped::Bad(what) => return Err(bad(what)),
                Stepped::Over { bytes, entries } => {
                    s.advance(bytes);
                    remaining -= entries;
                    if entries > 0 {
                        continue;
                    }
                }
            }
        }
        // An entry the buffer does not hold whole, a long path, or
        // version 4: one entry, reading as needed.
        remaining -= 1;
        if !s.fill(fixed + 2)? && !s.fill(fixed)? {
            return Err(bad("truncated entry"));
        }
        let e = s.avail();
        let mode = be32(e, 24).ok_or_else(|| bad("truncated entry"))?;
        let flags = be16(e, flags_at).ok_or_else(|| bad("truncated entry"))?;
        if flags & (ASSUME_VALID | STAGE_MASK) != 0 || mode & 0o170_000 == 0o040_000 {
            return Ok(None);
        }
        let mut name_at = fixed;
        if flags & EXTENDED != 0 {
            if version < 3 {
                return Err(bad("extended flags in a version 2 index"));
            }
            let ext = be16(e, fixed).ok_or_else(|| bad("truncated entry"))?;
            if ext & (SKIP_WORKTREE | INTENT_TO_ADD) != 0 {
                return Ok(None);
            }
            name_at += 2;
        }
        if version == 4 {
            // A varint (how much of the previous path to drop), then the
            // rest of the path and its NUL; no padding.
            let mut at = name_at;
            loop {
                if !s.fill(at + 1)? {
                    return Err(bad("truncated entry"));
                }
                let b = s.avail()[at];
                at += 1;
                if b & 0x80 == 0 {
                    break;
                }
                if at - name_at > 9 {
                    return Err(bad("bad path compression"));
                }
            }
            let nul = s.find_nul(at)?.ok_or_else(|| bad("truncated path"))?;
            s.advance(nul + 1);
        } else {
            let name_len = usize::from(flags & NAME_MASK);
            let name_end = if name_len < usize::from(NAME_MASK) {
                name_at + name_len
            } else {
                s.find_nul(name_at)?.ok_or_else(|| bad("truncated path"))?
            };
            // 1 to 8 NULs pad the entry to a multiple of 8 bytes.
            let total = (name_end + 8) & !7;
            if !s.fill(total)? {
                return Err(bad("truncated entry"));
            }
            if s.avail()[name_end] != 0 {
                return Err(bad("path length does not match the flags"));
            }
            s.advance(total);
        }
    }
    let end = len.saturating_sub(hash_len as u64);
    if s.pos > end {
        return Err(bad("truncated index"));
    }
    let mut root = None;
    while s.pos + 8 <= end {
        if !s.fill(8)? {
            return Err(bad("truncated extension"));
        }
        let head = s.avail();
        let signature: [u8; 4] = [head[0], head[1], head[2], head[3]];
        let size = u64::from(be32(head, 4).ok_or_else(|| bad("truncated extension"))?);
        s.advance(8);
        if s.pos + size > end {
            return Err(bad("truncated extension"));
        }
        match &signature {
            b"link" | b"sdir" => return Ok(None),
            b"TREE" => {
                // The root comes first: an empty path, "ENTRIES SUBTREES\n"
                // (ENTRIES -1 when invalid), then its id when valid.
                let want = usize::try_from(size.min(64 + hash_len as u64))
                    .map_err(|_| bad("bad cache tree"))?;
                if !s.fill(want)? {
                    return Err(bad("truncated extension"));
                }
                root = parse_root(&s.avail()[..want], hash_len);
                if root.is_none() {
                    return Ok(None);
                }
            }
            _ => {}
        }
        s.skip(size)?;
    }
    if s.pos != end {
        return Err(bad("truncated extension"));
    }
    Ok(root)
}

/// What [`step_buffered`] found.
enum Stepped {
    /// An entry a tree cannot hold.
    Refused,
    /// A malformed entry.
    Bad(&'static str),
    /// Stepped over `entries` whole entries, `bytes` long.
    Over { bytes: usize, entries: u32 },
}

/// Steps over the entries of a version 2 or 3 index (`version`) wholly in `buf`, at
/// most `max` of them, stopping before one that is not whole in `buf` or
/// whose path is too long for the flags to give its length.
fn step_buffered(buf: &[u8], max: u32, hash_len: usize, version: u32) -> Stepped {
    let flags_at = 40 + hash_len;
    let fixed = flags_at + 2;
    let mut off = 0;
    let mut entries = 0;
    while entries < max {
        let Some(e) = buf.get(off..off + fixed + 2) else {
            break;
        };
        let mode = u32::from_be_bytes([e[24], e[25], e[26], e[27]]);
        let flags = u16::from_be_bytes([e[flags_at], e[flags_at + 1]]);
        if flags & (ASSUME_VALID | STAGE_MASK) != 0 || mode & 0o170_000 == 0o040_000 {
            return Stepped::Refused;
        }
        let mut name_at = fixed;
        if flags & EXTENDED != 0 {
            if version < 3 {
                return Stepped::Bad("extended flags in a version 2 index");
            }
            let ext = u16::from_be_bytes([e[fixed], e[fixed + 1]]);
            if ext & (SKIP_WORKTREE | INTENT_TO_ADD) != 0 {
                return Stepped::Refused;
            }
            name_at += 2;
        }
        let name_len = usize::from(flags & NAME_MASK);
        if name_len == usize::from(NAME_MASK) {
            break;
        }
        let name_end = name_at + name_len;
        let total = (name_end + 8) & !7;
        match buf.get(off + name_end) {
            Some(0) if off + total <= buf.len() => {}
            Some(0) | None => break,
            Some(_) => return Stepped::Bad("path length does not match the flags"),
        }
        off += total;
        entries += 1;
    }
    Stepped::Over {
        bytes: off,
        entries,
    }
}

/// The root of a cache tree extension's data, when valid.
fn parse_root(data: &[u8], hash_len: usize) -> Option<Vec<u8>> {
    let rest = data.strip_prefix(b"\0")?;
    let nl = memchr::memchr(b'\n', rest)?;
    let counts = std::str::from_utf8(&rest[..nl]).ok()?;
    let (entries, _subtrees) = counts.split_once(' ')?;
    let entries: i64 = entries.parse().ok()?;
    if entries < 0 {
        return None;
    }
    rest.get(nl + 1..nl + 1 + hash_len).map(<[u8]>::to_vec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .current_dir(dir)
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// What gix, decoding the whole index, says the same question's
    /// answer is.
    fn by_gix(top: &Path) -> Option<Vec<u8>> {
        use gix::index::entry::Flags;
        let index = gix::index::File::at(
            top.join(".git/index"),
            gix::hash::Kind::Sha1,
            false,
            gix::index::decode::Options::default(),
        )
        .ok()?;
        let tree = index.tree()?;
        let refuse = Flags::INTENT_TO_ADD | Flags::SKIP_WORKTREE | Flags::ASSUME_VALID;
        let plain = index.link().is_none()
            && index.entries().iter().all(|e| {
                e.flags.stage_raw() == 0
                    && !e.flags.intersects(refuse)
                    && e.mode != gix::index::entry::Mode::DIR
            });
        (plain && tree.num_entries.is_some()).then(|| tree.id.as_bytes().to_vec())
    }

    fn scan(top: &Path) -> Option<Vec<u8>> {
        exact_tree(&top.join(".git/index"), 20).expect("the index reads")
    }

    fn head_tree(top: &Path) -> Vec<u8> {
        let hex = git(top, &["rev-parse", "HEAD^{tree}"]);
        gix::ObjectId::from_hex(hex.as_bytes())
            .expect("hex")
            .as_bytes()
            .to_vec()
    }

    #[test]
    fn the_scan_agrees_with_a_whole_decode_on_every_kind_of_index() {
        let dir = tempfile::tempdir().expect("temp dir");
        let top = dir.path();
        git(top, &["init", "-q", "-b", "main"]);
        assert_eq!(scan(top), None, "no index yet");
        for d in 0..20 {
            std::fs::create_dir_all(top.join(format!("d{d}/e"))).expect("dir");
            for f in 0..30 {
                // Names of every length modulo 8, for the padding.
                let name = format!("d{d}/e/{}{f}", "x".repeat(f % 9));
                std::fs::write(top.join(name), format!("{d} {f}")).expect("write");
            }
        }
        git(top, &["add", "."]);
        assert_eq!(scan(top), None, "no cache tree before a commit");
        assert_eq!(scan(top), by_gix(top));
        git(top, &["commit", "-q", "-m", "one"]);
        assert_eq!(scan(top), Some(head_tree(top)), "a commit leaves it exact");
        assert_eq!(scan(top), by_gix(top));

        // A path longer than the 12 bits of the flags can say (0xfff:
        // found by its NUL), staged without a file and committed.
        let blob = git(top, &["hash-object", "-w", "d0/e/0"]);
        let long = format!("{}/f", vec!["y".repeat(200); 21].join("/"));
        assert!(long.len() > 4095);
        git(
            top,
            &[
                "update-index",
                "--add",
                "--cacheinfo",
                &format!("100644,{blob},{long}"),
            ],
        );
        assert_eq!(scan(top), None, "staged: the cache tree is invalid");
        git(top, &["commit", "-q", "-m", "long"]);
        assert_eq!(scan(top), Some(head_tree(top)));

        // Extensions after the cache tree are stepped over.
        git(top, &["update-index", "--untracked-cache"]);
        git(top, &["status", "--porcelain"]);
        assert_eq!(scan(top), Some(head_tree(top)), "with an untracked cache");

        // Version 4 (compressed paths) and 3.
        git(top, &["update-index", "--index-version", "4"]);
        assert_eq!(scan(top), Some(head_tree(top)), "version 4");
        assert_eq!(scan(top), by_gix(top));
        git(top, &["update-index", "--index-version", "3"]);
        assert_eq!(scan(top), Some(head_tree(top)), "version 3");

        // Entry states a tree does not hold.
        for (set, unset) in [
            (
                vec!["update-index", "--skip-worktree", "d1/e/0"],
                vec!["update-index", "--no-skip-worktree", "d1/e/0"],
            ),
            (
                vec!["update-index", "--assume-unchanged", "d1/e/0"],
                vec!["update-index", "--no-assume-unchanged", "d1/e/0"],
            ),
        ] {
            git(top, &set);
            assert_eq!(scan(top), None, "{set:?}");
            assert_eq!(scan(top), by_gix(top), "{set:?}");
            git(top, &unset);
            assert_eq!(scan(top), by_gix(top), "{unset:?}");
            // `write-tree` makes the cache tree valid again.
            git(top, &["write-tree"]);
            assert_eq!(scan(top), Some(head_tree(top)), "{unset:?}");
        }
        std::fs::write(top.join("new"), "new").expect("write");
        git(top, &["add", "-N", "new"]);
        assert_eq!(scan(top), by_gix(top), "intent to add");
        assert_eq!(scan(top), None, "intent to add");
        git(top, &["rm", "-q", "--cached", "new"]);

        // A split index holds only part of the entries.
        git(top, &["update-index", "--index-version", "2"]);
        git(top, &["commit", "-q", "--allow-empty", "-m", "two"]);
        assert_eq!(scan(top), Some(head_tree(top)));
        git(top, &["update-index", "--split-index"]);
        assert_eq!(scan(top), None, "split index");
        git(top, &["update-index", "--no-split-index"]);

        // A merge conflict leaves stages 1 to 3.
        git(top, &["checkout", "-q", "-b", "other"]);
        std::fs::write(top.join("d0/e/0"), "other").expect("write");
        git(top, &["commit", "-q", "-am", "other"]);
        git(top, &["checkout", "-q", "main"]);
        std::fs::write(top.join("d0/e/0"), "main").expect("write");
        git(top, &["commit", "-q", "-am", "main"]);
        let merged = Command::new("git")
            .current_dir(top)
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
            .args(["merge", "-q", "other"])
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git runs");
        assert!(!merged.status.success(), "the merge conflicts");
        assert_eq!(scan(top), None, "unmerged entries");
        assert_eq!(scan(top), by_gix(top));
    }

    #[test]
    fn a_truncated_or_foreign_file_is_an_error_not_an_answer() {
        let dir = tempfile::tempdir().expect("temp dir");
        let top = dir.path();
        git(top, &["init", "-q"]);
        std::fs::write(top.join("f"), "f").expect("write");
        git(top, &["add", "f"]);
        git(top, &["commit", "-q", "-m", "one"]);
        let index = top.join(".git/index");
        let bytes = std::fs::read(&index).expect("read");
        for cut in [0, 5, 12, 40, 70, 80] {
            std::fs::write(&index, &bytes[..cut]).expect("write");
            assert!(exact_tree(&index, 20).is_err(), "cut at {cut}");
        }
        std::fs::write(&index, b"not an index at all").expect("write");
        assert!(exact_tree(&index, 20).is_err());
    }
}
