//! Writing the new objects of a large commit of the branch as one pack.
//!
//! A commit of many journal files (an `add` of a million files journals a
//! million location logs) writes as many blobs, and nearly as many trees;
//! as loose objects they are a file each (a million files, gigabytes of
//! disk, and slow reads until `git gc`). Above a threshold the commit
//! writes them into one pack instead, with its index, as `git fetch` does
//! past its unpack limit: objects are appended to a temp file as they
//! come (each zlib-compressed, never deltified), and at the end the
//! object count and checksum are filled in, the `.idx` (version 2) is
//! written, and both are renamed into `objects/pack/`.
//!
//! Why not gix's pack writer: `gix-pack` has one (its `data::output`
//! pipeline, with delta search), but not through the lean `gix` features
//! this workspace builds with, and a branch commit needs none of its delta
//! machinery; this writer is the few lines git's own format needs (no
//! deltas), checked by `git verify-pack` and `git fsck --strict` in tests.
//! Move to gix's writer when a lean feature exposes it.

use std::collections::HashSet;
use std::fs;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use gix::ObjectId;

use super::{BranchError, io_err};

/// How many journal files a commit stages before its objects go to a pack.
pub(crate) const PACK_THRESHOLD: usize = 1000;

/// A pack being written.
pub(crate) struct PackWriter {
    dir: PathBuf,
    out: BufWriter<tempfile::NamedTempFile>,
    offset: u64,
    /// Each object: id, offset in the pack, CRC-32 of its packed bytes.
    entries: Vec<(ObjectId, u64, u32)>,
    seen: HashSet<ObjectId>,
    kind: gix::hash::Kind,
    scratch: Vec<u8>,
}

impl PackWriter {
    /// Starts a pack in `objects_dir/pack`.
    pub fn new(objects_dir: &Path, kind: gix::hash::Kind) -> Result<PackWriter, BranchError> {
        let dir = objects_dir.join("pack");
        fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        let tmp = tempfile::Builder::new()
            .prefix("tmp_pack_")
            .tempfile_in(&dir)
            .map_err(io_err("create temp file in", &dir))?;
        let mut w = PackWriter {
            out: BufWriter::with_capacity(256 * 1024, tmp),
            dir,
            offset: 0,
            entries: Vec::new(),
            seen: HashSet::new(),
            kind,
            scratch: Vec::new(),
        };
        // The count is filled in at the end.
        w.put(b"PACK\0\0\0\x02\0\0\0\0")?;
        Ok(w)
    }

    fn put(&mut self, b: &[u8]) -> Result<(), BranchError> {
        let path = self.dir.clone();
        self.out
            .write_all(b)
            .map_err(io_err("write pack in", &path))?;
        self.offset += b.len() as u64;
        Ok(())
    }

    /// Adds an object (once: a second one with the same id is not
    /// written); returns its id.
    pub fn write(&mut self, kind: gix::object::Kind, data: &[u8]) -> Result<ObjectId, BranchError> {
        let id = gix::objs::compute_hash(self.kind, kind, data).map_err(|e| BranchError::Io {
            what: "hash object for pack in",
            path: self.dir.clone(),
            source: io::Error::other(e.to_string()),
        })?;
        if !self.seen.insert(id) {
            return Ok(id);
        }
        let type_bits: u8 = match kind {
            gix::object::Kind::Commit => 1,
            gix::object::Kind::Tree => 2,
            gix::object::Kind::Blob => 3,
            gix::object::Kind::Tag => 4,
        };
        let mut entry = std::mem::take(&mut self.scratch);
        entry.clear();
        let mut size = data.len() as u64;
        let mut byte = (type_bits << 4) | (size & 0x0f) as u8;
        size >>= 4;
        while size != 0 {
            entry.push(byte | 0x80);
            byte = (size & 0x7f) as u8;
            size >>= 7;
        }
        entry.push(byte);
        let mut z = gix::zlib::stream::deflate::Write::new(entry, gix::zlib::Compression::DEFAULT);
        let compressed = z.write_all(data).and_then(|_| z.flush());
        let entry = z.into_inner();
        if let Err(e) = compressed {
            self.scratch = entry;
            return Err(BranchError::Io {
                what: "compress object for pack in",
                path: self.dir.clone(),
                source: e,
            });
        }
        let crc = crc32(&entry);
        self.entries.push((id, self.offset, crc));
        let r = self.put(&entry);
        self.scratch = entry;
        r?;
        Ok(id)
    }

    /// How many objects were written.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Ends the pack, writes its index and renames both into place.
    /// Nothing is left when no object was written.
    pub fn finish(self) -> Result<(), BranchError> {
        let PackWriter {
            dir,
            out,
            mut entries,
            kind,
            ..
        } = self;
        let mut tmp = out.into_inner().map_err(|e| BranchError::Io {
            what: "write pack in",
            path: dir.clone(),
            source: e.into_error(),
        })?;
        if entries.is_empty() {
            return Ok(());
        }
        let count = u32::try_from(entries.len()).map_err(|_| BranchError::Io {
            what: "write pack in",
            path: dir.clone(),
            source: io::Error::other("too many objects"),
        })?;
        let f = tmp.as_file_mut();
        f.seek(SeekFrom::Start(8))
            .map_err(io_err("seek in pack in", &dir))?;
        f.write_all(&count.to_be_bytes())
            .map_err(io_err("write pack in", &dir))?;
        f.seek(SeekFrom::Start(0))
            .map_err(io_err("seek in pack in", &dir))?;
        let mut h = gix::hash::hasher(kind);
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = f
                .read(&mut buf)
                .map_err(io_err("read back pack in", &dir))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        let pack_sum = finalize(h, &dir)?;
        f.seek(SeekFrom::End(0))
            .map_err(io_err("seek in pack in", &dir))?;
        f.write_all(pack_sum.as_bytes())
            .map_err(io_err("write pack in", &dir))?;
        f.sync_all().map_err(io_err("sync pack in", &dir))?;

        // The index, version 2.
        entries.sort_unstable_by_key(|e| e.0);
        let mut idx: Vec<u8> = Vec::with_capacity(entries.len() * 32 + 2048);
        idx.extend_from_slice(b"\xfftOc\0\0\0\x02");
        let mut fanout = [0u32; 256];
        for (id, _, _) in &entries {
            fanout[usize::from(id.as_bytes()[0])] += 1;
        }
        let mut total = 0u32;
        for n in fanout {
            total += n;
            idx.extend_from_slice(&total.to_be_bytes());
        }
        for (id, _, _) in &entries {
            idx.extend_from_slice(id.as_bytes());
        }
        for (_, _, crc) in &entries {
            idx.extend_from_slice(&crc.to_be_bytes());
        }
        let mut large: Vec<u64> = Vec::new();
        for (_, off, _) in &entries {
            if *off < 0x8000_0000 {
                idx.extend_from_slice(&(*off as u32).to_be_bytes());
            } else {
                let i = 0x8000_0000u32 | large.len() as u32;
                idx.extend_from_slice(&i.to_be_bytes());
                large.push(*off);
            }
        }
        for off in large {
            idx.extend_from_slice(&off.to_be_bytes());
        }
        idx.extend_from_slice(pack_sum.as_bytes());
        let mut h = gix::hash::hasher(kind);
        h.update(&idx);
        let idx_sum = finalize(h, &dir)?;
        idx.extend_from_slice(idx_sum.as_bytes());

        let name = format!("pack-{pack_sum}");
        let pack_path = dir.join(format!("{name}.pack"));
        let idx_path = dir.join(format!("{name}.idx"));
        let mut idx_tmp = tempfile::Builder::new()
            .prefix("tmp_idx_")
            .tempfile_in(&dir)
            .map_err(io_err("create temp file in", &dir))?;
        idx_tmp
            .write_all(&idx)
            .and_then(|_| idx_tmp.as_file().sync_all())
            .map_err(io_err("write", &idx_path))?;
        #[cfg(unix)]
        {
            // Read-only, as git leaves its packs.
            use std::os::unix::fs::PermissionsExt;
            for p in [tmp.path(), idx_tmp.path()] {
                fs::set_permissions(p, fs::Permissions::from_mode(0o444))
                    .map_err(io_err("chmod", p))?;
            }
        }
        // The pack first: readers find packs by their index.
        tmp.persist(&pack_path).map_err(|e| BranchError::Io {
            what: "rename into",
            path: pack_path.clone(),
            source: e.error,
        })?;
        idx_tmp.persist(&idx_path).map_err(|e| BranchError::Io {
            what: "rename into",
            path: idx_path.clone(),
            source: e.error,
        })?;
        Ok(())
    }
}

fn finalize(h: gix::hash::Hasher, dir: &Path) -> Result<ObjectId, BranchError> {
    h.try_finalize().map_err(|e| BranchError::Io {
        what: "hash pack in",
        path: dir.to_path_buf(),
        source: io::Error::other(e.to_string()),
    })
}

/// CRC-32 (IEEE), as pack indexes record it.
fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, slot) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *slot = c;
        }
        t
    });
    let mut c = !0u32;
    for &b in data {
        c = table[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn crc32_is_the_ieee_one() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }

    /// git verifies the pack and its index, and reads every object back.
    #[test]
    fn git_reads_the_pack() {
        let dir = tempfile::tempdir().expect("tmp");
        let d = dir.path();
        let ok = Command::new("git")
            .args(["init", "-q"])
            .arg(d)
            .status()
            .expect("git")
            .success();
        assert!(ok);
        let mut w = PackWriter::new(&d.join(".git/objects"), gix::hash::Kind::Sha1).expect("new");
        let mut ids = Vec::new();
        for i in 0..300 {
            let data = format!("{i} {}\n", "x".repeat(i * 7));
            ids.push((
                w.write(gix::object::Kind::Blob, data.as_bytes())
                    .expect("w"),
                data,
            ));
        }
        // Written once.
        let again = w.write(gix::object::Kind::Blob, b"0 \n").expect("w");
        assert_eq!(again, ids[0].0);
        assert_eq!(w.len(), 300);
        w.finish().expect("finish");
        let packs: Vec<_> = fs::read_dir(d.join(".git/objects/pack"))
            .expect("ls")
            .map(|e| e.expect("e").path())
            .filter(|p| p.extension().is_some_and(|e| e == "idx"))
            .collect();
        assert_eq!(packs.len(), 1);
        let out = Command::new("git")
            .current_dir(d)
            .arg("verify-pack")
            .arg(&packs[0])
            .output()
            .expect("git");
        assert!(out.status.success(), "{out:?}");
        for (id, data) in ids.iter().step_by(37) {
            let out = Command::new("git")
                .current_dir(d)
                .args(["cat-file", "-p", &id.to_string()])
                .output()
                .expect("git");
            assert!(out.status.success(), "{out:?}");
            assert_eq!(out.stdout, data.as_bytes());
        }
        // Nothing written: nothing left.
        let w = PackWriter::new(&d.join(".git/objects"), gix::hash::Kind::Sha1).expect("new");
        w.finish().expect("finish");
        assert_eq!(
            fs::read_dir(d.join(".git/objects/pack"))
                .expect("ls")
                .count(),
            2
        );
    }
}
