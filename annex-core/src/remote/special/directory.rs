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
//! read by concatenating them (without `KEY.chunkcount`, the chunks found
//! in order), as the reference does.

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

    /// The chunk files of the key in the old layout (at the first of its
    /// locations that has any), in order; `None` when there are none (or
    /// `KEY.chunkcount` names one that is missing).
    fn legacy_chunk_files(&self, key: &Key) -> Option<Vec<PathBuf>> {
        for base in self.locations(key) {
            let name = base.file_name()?.to_string_lossy().into_owned();
            let at = |ext: &str| base.with_file_name(format!("{name}{ext}"));
            if let Ok(count) = std::fs::read_to_string(at(".chunkcount")) {
                let n: usize = count.trim().parse().unwrap_or(0);
                let files: Vec<PathBuf> = (1..=n).map(|i| at(&format!(".chunk{i}"))).collect();
                return files.iter().all(|f| f.is_file()).then_some(files);
            }
            let files: Vec<PathBuf> = (1..)
                .map(|i| at(&format!(".chunk{i}")))
                .take_while(|f| f.is_file())
                .collect();
            if !files.is_empty() {
                return Some(files);
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
        // Special remotes cannot lock content: a drop checks presence
        // instead, as git-annex does.
        Err(RemoteError::Refused {
            remote: self.name.clone(),
            reason: "special remotes cannot lock content".to_string(),
        })
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
        let sources: Vec<PathBuf> = if self.legacy_chunks.is_some() {
            self.legacy_chunk_files(key).unwrap_or_default()
        } else {
            self.locations(key)
                .into_iter()
                .find(|p| p.is_file())
                .into_iter()
                .collect()
        };
        if sources.is_empty() {
            return Err(if self.dir.is_dir() {
                RemoteError::NotPresent
            } else {
                self.not_accessible()
            });
        }
        let mut out = std::fs::File::create(dest).map_err(|e| self.io("write", dest, e))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut done = 0u64;
        for src in &sources {
            let mut input = std::fs::File::open(src).map_err(|e| self.io("read", src, e))?;
            loop {
                let n = input.read(&mut buf).map_err(|e| self.io("read", src, e))?;
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
        if self.legacy_chunk_files(key).is_some() {
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
}
