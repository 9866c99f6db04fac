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
//! this type is its [`Storage`]. Not yet: the old `chunksize=` layout
//! (refused when opened, rather than misread).

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
}

impl DirectoryRemote {
    /// The remote `name` storing in `dir`.
    pub fn new(name: &str, uuid: Uuid, cost: f64, dir: PathBuf) -> DirectoryRemote {
        DirectoryRemote {
            name: name.to_string(),
            uuid,
            cost,
            dir,
        }
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
        Remote::store(self, key, src, &self.uuid, b"", progress)
    }
    fn retrieve_object(
        &self,
        key: &Key,
        dest: &Path,
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        let Some(src) = self.locations(key).into_iter().find(|p| p.is_file()) else {
            return Err(if self.dir.is_dir() {
                RemoteError::NotPresent
            } else {
                self.not_accessible()
            });
        };
        let mut input = std::fs::File::open(&src).map_err(|e| self.io("read", &src, e))?;
        let mut out = std::fs::File::create(dest).map_err(|e| self.io("write", dest, e))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut done = 0u64;
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
        Ok(())
    }
    fn check_object(&self, key: &Key) -> Result<bool, RemoteError> {
        Remote::check_present(self, key)
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
