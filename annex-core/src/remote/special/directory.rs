//! `type=directory`: content kept in a directory (a USB drive, a mounted
//! NAS), laid out as git-annex lays it out: `DIR/HASH/KEY/KEY` with the
//! key's lower-case hash directory (`abc/def/`); the mixed-case one
//! (`Xy/Zw/`) is also looked in, as older git-annex versions wrote there.
//!
//! A store copies into `DIR/tmp/KEY/KEY`, then moves that directory into
//! place and makes the file and its directory read-only; a removal gives
//! write permission back to the key's directory, removes it and the empty
//! hash directories above it. A directory that is not there (a drive not
//! mounted) makes presence unknown, never "absent".
//!
//! Chunking (`chunk=`) and encryption go through [`super::layered`]:
//! this type is its [`Storage`]. The old `chunksize=SIZE` layout is this
//! type's own ([`DirectoryRemote::with_legacy_chunks`]): the content (the
//! encrypted content, when encrypted) in files `KEY.chunk1`, `KEY.chunk2`...
//! of at most SIZE bytes (one, empty, for an empty content) and the count
//! in `KEY.chunkcount` (a number, no newline), all in the key's directory;
//! read by concatenating them (without `KEY.chunkcount`, or with one that
//! is not a count from 1 to the key's size, the chunks found in order).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::layered::Storage;
use crate::key::Key;
use crate::objects::{hash_dir_lower, hash_dir_mixed};
use crate::remote::{ContentLockGuard, Progress, Remote, RemoteError};
use crate::uuid::Uuid;

/// A directory special remote.
#[derive(Debug)]
pub struct DirectoryRemote {
    name: String,
    uuid: Uuid,
    cost: f64,
    dir: PathBuf,
    legacy_chunks: Option<u64>,
}

impl DirectoryRemote {
    /// The remote `name` storing in `dir`.
    pub fn new(name: &str, uuid: Uuid, cost: f64, dir: PathBuf) -> DirectoryRemote {
        DirectoryRemote {
            name: name.to_string(),
            uuid,
            cost,
            dir,
            legacy_chunks: None,
        }
    }

    /// This remote storing in the old `chunksize=` layout, chunks of
    /// `size` bytes.
    pub fn with_legacy_chunks(mut self, size: u64) -> DirectoryRemote {
        self.legacy_chunks = Some(size.max(1));
        self
    }

    /// The chunks of the key in the old layout, at the first of its
    /// locations that has any; `None` when there are none. A
    /// `KEY.chunkcount` that is not a number from 1 to the key's size is
    /// not trusted: the chunks are then probed in order, as when it is
    /// missing. Nothing is allocated from the count: chunks are checked
    /// one by one.
    fn legacy_chunks(&self, key: &Key) -> Option<LegacyChunks> {
        for base in self.locations(key) {
            let name = base.file_name()?.to_string_lossy().into_owned();
            let base = base.with_file_name("");
            let count = std::fs::read_to_string(base.join(format!("{name}.chunkcount")))
                .ok()
                .and_then(|c| c.trim().parse::<u64>().ok())
                .filter(|&n| n >= 1 && key.size().is_none_or(|s| n <= s.max(1)));
            let chunks = LegacyChunks { base, name, count };
            if count.is_some() || chunks.chunk(1).is_file() {
                return Some(chunks);
            }
        }
        None
    }

    /// Stores `src` in the old chunked layout: chunk files and their count
    /// written in `DIR/tmp/KEY/`, then moved into place.
    fn store_legacy(
        &self,
        key: &Key,
        src: &Path,
        size: u64,
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        if !self.dir.is_dir() {
            return Err(self.not_accessible());
        }
        let kf = Self::key_file(key);
        let tmpdir = self.dir.join("tmp").join(&kf);
        let _ = self.remove_dir(&tmpdir);
        std::fs::create_dir_all(&tmpdir).map_err(|e| self.io("create", &tmpdir, e))?;
        let mut input = std::fs::File::open(src).map_err(|e| self.io("read", src, e))?;
        let len = input.metadata().map_err(|e| self.io("read", src, e))?.len();
        let count = len.div_ceil(size).max(1);
        let mut done = 0u64;
        for i in 1..=count {
            let f = tmpdir.join(format!("{kf}.chunk{i}"));
            let mut out = std::fs::File::create(&f).map_err(|e| self.io("write", &f, e))?;
            done += std::io::copy(&mut (&mut input).take(size), &mut out)
                .map_err(|e| self.io("write", &f, e))?;
            out.sync_all().map_err(|e| self.io("write", &f, e))?;
            progress(done);
        }
        let cf = tmpdir.join(format!("{kf}.chunkcount"));
        std::fs::write(&cf, count.to_string()).map_err(|e| self.io("write", &cf, e))?;
        let dest = self.store_dir(key);
        self.remove_dir(&dest)?;
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| self.io("create", parent, e))?;
        }
        std::fs::rename(&tmpdir, &dest).map_err(|e| self.io("move into place", &dest, e))?;
        if let Ok(rd) = std::fs::read_dir(&dest) {
            for e in rd.flatten() {
                read_only(&e.path());
            }
        }
        read_only(&dest);
        Ok(())
    }

    fn key_file(key: &Key) -> String {
        String::from_utf8_lossy(&crate::objects::key_file(key)).into_owned()
    }

    /// Where the key's content is stored (or would be).
    pub fn store_dir(&self, key: &Key) -> PathBuf {
        self.dir.join(hash_dir_lower(key)).join(Self::key_file(key))
    }

    fn locations(&self, key: &Key) -> [PathBuf; 2] {
        let kf = Self::key_file(key);
        [
            self.dir.join(hash_dir_lower(key)).join(&kf).join(&kf),
            self.dir.join(hash_dir_mixed(key)).join(&kf).join(&kf),
        ]
    }

    fn io(&self, what: &str, path: &Path, e: std::io::Error) -> RemoteError {
        RemoteError::Refused {
            remote: self.name.clone(),
            reason: format!("cannot {what} {}: {e}", path.display()),
        }
    }

    fn not_accessible(&self) -> RemoteError {
        RemoteError::Unavailable {
            remote: self.name.clone(),
            reason: format!("directory {} is not accessible", self.dir.display()),
        }
    }

    /// Removes `dir` (under the remote's directory), giving write
    /// permission back first; a missing `dir` is fine while the remote's
    /// directory is there.
    fn remove_dir(&self, dir: &Path) -> Result<(), RemoteError> {
        if let Ok(meta) = std::fs::symlink_metadata(dir) {
            use std::os::unix::fs::PermissionsExt;
            let mut p = meta.permissions();
            p.set_mode(p.mode() | 0o700);
            let _ = std::fs::set_permissions(dir, p);
        }
        match std::fs::remove_dir_all(dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.dir.is_dir() {
                    Ok(())
                } else {
                    Err(self.not_accessible())
                }
            }
            Err(e) => Err(self.io("remove", dir, e)),
        }
    }
}

/// A key's chunks in the old `chunksize=` layout, in one directory.
struct LegacyChunks {
    base: PathBuf,
    name: String,
    /// The count `KEY.chunkcount` gives, when it is trusted.
    count: Option<u64>,
}

impl LegacyChunks {
    /// The path of chunk `i` (from 1).
    fn chunk(&self, i: u64) -> PathBuf {
        self.base.join(format!("{}.chunk{i}", self.name))
    }

    /// Whether every chunk is there (with no count: the first, the
    /// others being the ones that follow it).
    fn complete(&self) -> bool {
        match self.count {
            Some(n) => (1..=n).all(|i| self.chunk(i).is_file()),
            None => self.chunk(1).is_file(),
        }
    }

    /// The chunk files in order: as many as the count says, or those
    /// there one after the other.
    fn files(&self) -> impl Iterator<Item = PathBuf> + '_ {
        let count = self.count;
        (1u64..)
            .take_while(move |&i| count.is_none_or(|n| i <= n))
            .map(|i| self.chunk(i))
            .take_while(move |f| count.is_some() || f.is_file())
    }
}

fn read_only(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mut p = meta.permissions();
        p.set_mode(p.mode() & !0o222);
        let _ = std::fs::set_permissions(path, p);
    }
}

impl Remote for DirectoryRemote {
    fn name(&self) -> &str {
        &self.name
    }

    fn uuid(&self) -> &Uuid {
        &self.uuid
    }

    fn cost(&self) -> f64 {
        self.cost
    }

    fn check_present(&self, key: &Key) -> Result<bool, RemoteError> {
        if self.locations(key).iter().any(|p| p.is_file()) {
            return Ok(true);
        }
        if self.dir.is_dir() {
            Ok(false)
        } else {
            Err(self.not_accessible())
        }
    }

    fn retrieve(
        &self,
        key: &Key,
        dest: &Path,
        _our_uuid: &Uuid,
        _file: &[u8],
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        let Some(src) = self.locations(key).into_iter().find(|p| p.is_file()) else {
            return Err(if self.dir.is_dir() {
                RemoteError::NotPresent
            } else {
                self.not_accessible()
            });
        };
        let received = crate::transfer::receive(&src, dest, key, progress)?;
        if received.ok() {
            Ok(())
        } else {
            let _ = std::fs::remove_file(dest);
            Err(RemoteError::VerificationFailed)
        }
    }

    fn store(
        &self,
        key: &Key,
        src: &Path,
        _our_uuid: &Uuid,
        _file: &[u8],
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        if !self.dir.is_dir() {
            return Err(self.not_accessible());
        }
        let kf = Self::key_file(key);
        let tmpdir = self.dir.join("tmp").join(&kf);
        std::fs::create_dir_all(&tmpdir).map_err(|e| self.io("create", &tmpdir, e))?;
        let tmpf = tmpdir.join(&kf);
        {
            let mut input = std::fs::File::open(src).map_err(|e| self.io("read", src, e))?;
            let mut out = std::fs::File::create(&tmpf).map_err(|e| self.io("write", &tmpf, e))?;
            let mut buf = vec![0u8; 1 << 20];
            let mut done = 0u64;
            loop {
                let n = input.read(&mut buf).map_err(|e| self.io("read", src, e))?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n])
                    .map_err(|e| self.io("write", &tmpf, e))?;
                done += n as u64;
                progress(done);
            }
            out.sync_all().map_err(|e| self.io("write", &tmpf, e))?;
        }
        let dest = self.store_dir(key);
        self.remove_dir(&dest)?;
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| self.io("create", parent, e))?;
        }
        std::fs::rename(&tmpdir, &dest).map_err(|e| self.io("move into place", &dest, e))?;
        read_only(&dest.join(&kf));
        read_only(&dest);
        Ok(())
    }

    fn remove(&self, key: &Key) -> Result<(), RemoteError> {
        let dest = self.store_dir(key);
        self.remove_dir(&dest)?;
        // Empty hash directories above it go too (failures do not count).
        let mut d = dest.parent().map(Path::to_path_buf);
        while let Some(dir) = d {
            if dir == self.dir || !dir.starts_with(&self.dir) || std::fs::remove_dir(&dir).is_err()
            {
                break;
            }
            d = dir.parent().map(Path::to_path_buf);
        }
        Ok(())
    }

    fn lock_content(&self, _key: &Key) -> Result<Box<dyn ContentLockGuard>, RemoteError> {
        Err(super::cannot_lock_content(&self.name))
    }

    fn commit(&self) -> Result<(), RemoteError> {
        Ok(())
    }
}

impl Storage for DirectoryRemote {
    fn name(&self) -> &str {
        &self.name
    }
    fn uuid(&self) -> &Uuid {
        &self.uuid
    }
    fn cost(&self) -> f64 {
        self.cost
    }
    fn store_object(
        &self,
        key: &Key,
        src: &Path,
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        match self.legacy_chunks {
            Some(size) => self.store_legacy(key, src, size, progress),
            None => Remote::store(self, key, src, &self.uuid, b"", progress),
        }
    }
    fn retrieve_object(
        &self,
        key: &Key,
        dest: &Path,
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        let legacy = match self.legacy_chunks {
            Some(_) => self.legacy_chunks(key).filter(LegacyChunks::complete),
            None => None,
        };
        let sources: Box<dyn Iterator<Item = PathBuf> + '_> = match &legacy {
            Some(chunks) => Box::new(chunks.files()),
            None if self.legacy_chunks.is_some() => Box::new(std::iter::empty()),
            None => Box::new(
                self.locations(key)
                    .into_iter()
                    .find(|p| p.is_file())
                    .into_iter(),
            ),
        };
        let mut sources = sources.peekable();
        if sources.peek().is_none() {
            return Err(if self.dir.is_dir() {
                RemoteError::NotPresent
            } else {
                self.not_accessible()
            });
        }
        let mut out = std::fs::File::create(dest).map_err(|e| self.io("write", dest, e))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut done = 0u64;
        for src in sources {
            let mut input = std::fs::File::open(&src).map_err(|e| self.io("read", &src, e))?;
            loop {
                let n = input.read(&mut buf).map_err(|e| self.io("read", &src, e))?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n])
                    .map_err(|e| self.io("write", dest, e))?;
                done += n as u64;
                progress(done);
            }
        }
        Ok(())
    }
    fn check_object(&self, key: &Key) -> Result<bool, RemoteError> {
        if self.legacy_chunks.is_none() {
            return Remote::check_present(self, key);
        }
        if self.legacy_chunks(key).is_some_and(|c| c.complete()) {
            Ok(true)
        } else if self.dir.is_dir() {
            Ok(false)
        } else {
            Err(self.not_accessible())
        }
    }
    fn remove_object(&self, key: &Key) -> Result<(), RemoteError> {
        Remote::remove(self, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_check_retrieve_remove() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("d");
        std::fs::create_dir(&dir).unwrap();
        let src = t.path().join("src");
        std::fs::write(&src, b"x\n").unwrap();
        let key = Key::parse(
            b"SHA256E-s2--73cb3858a687a8494ca3323053016282f3dad39d42cf62ca4e79dda2aac7d9ac",
        )
        .unwrap();
        let u = Uuid::parse(b"3ac29831-cfaa-4b67-b7b8-6d476b3cfe13").unwrap();
        let r = DirectoryRemote::new("d", u.clone(), 100.0, dir.clone());
        assert!(!r.check_present(&key).unwrap());
        r.store(&key, &src, &u, b"f", &mut |_| {}).unwrap();
        // The reference's layout for this key (seen in a directory remote
        // it wrote).
        let kf = "SHA256E-s2--73cb3858a687a8494ca3323053016282f3dad39d42cf62ca4e79dda2aac7d9ac";
        assert!(dir.join("47f/d79").join(kf).join(kf).is_file());
        assert!(r.check_present(&key).unwrap());
        let dest = t.path().join("got");
        r.retrieve(&key, &dest, &u, b"f", &mut |_| {}).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"x\n");
        r.remove(&key).unwrap();
        assert!(!r.check_present(&key).unwrap());
        assert!(!dir.join("47f").exists());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            r.check_present(&key).is_err(),
            "a missing directory is not absence"
        );
    }

    #[test]
    fn a_legacy_chunkcount_of_zero_or_garbage_is_not_trusted() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("d");
        std::fs::create_dir(&dir).unwrap();
        let src = t.path().join("src");
        std::fs::write(&src, b"0123456789").unwrap();
        let key = Key::parse(b"WORM-s10-m1--f").unwrap();
        let u = Uuid::parse(b"3ac29831-cfaa-4b67-b7b8-6d476b3cfe13").unwrap();
        let r = DirectoryRemote::new("d", u, 100.0, dir.clone()).with_legacy_chunks(4);
        r.store_object(&key, &src, &mut |_| {}).unwrap();
        let kd = r.store_dir(&key);
        std::fs::set_permissions(&kd, std::fs::Permissions::from_mode(0o755)).unwrap();
        let kf = DirectoryRemote::key_file(&key);
        let count = kd.join(format!("{kf}.chunkcount"));
        let dest = t.path().join("got");
        for bad in ["0", "", "x", "-1", "11", "18446744073709551615"] {
            let _ = std::fs::remove_file(&count);
            std::fs::write(&count, bad).unwrap();
            // Probed: the chunks there, in order.
            assert!(r.check_object(&key).unwrap(), "count {bad:?}");
            r.retrieve_object(&key, &dest, &mut |_| {}).unwrap();
            assert_eq!(std::fs::read(&dest).unwrap(), b"0123456789");
        }
        // With no chunks left, a count of 0 does not make it present.
        for i in 1..=3 {
            std::fs::remove_file(kd.join(format!("{kf}.chunk{i}"))).unwrap();
        }
        for bad in ["0", "", "x"] {
            let _ = std::fs::remove_file(&count);
            std::fs::write(&count, bad).unwrap();
            assert!(!r.check_object(&key).unwrap(), "count {bad:?}");
            assert!(matches!(
                r.retrieve_object(&key, &dest, &mut |_| {}),
                Err(RemoteError::NotPresent)
            ));
        }
        // A key without a size and a huge count: checked lazily.
        let nosize = Key::parse(b"WORM-m1--g").unwrap();
        r.store_object(&nosize, &src, &mut |_| {}).unwrap();
        let kd = r.store_dir(&nosize);
        std::fs::set_permissions(&kd, std::fs::Permissions::from_mode(0o755)).unwrap();
        let kf = DirectoryRemote::key_file(&nosize);
        let count = kd.join(format!("{kf}.chunkcount"));
        std::fs::remove_file(&count).unwrap();
        std::fs::write(&count, "18446744073709551615").unwrap();
        assert!(!r.check_object(&nosize).unwrap());
    }
}
