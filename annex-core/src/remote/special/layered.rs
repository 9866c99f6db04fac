//! The layer every special remote type goes through for chunking and
//! encryption, as git-annex's `Remote.Helper.Special` and
//! `Remote.Helper.Chunked` order them: a key's content is cut into chunk
//! keys (when `chunk=`), each chunk is encrypted with gpg (when
//! encrypted) and stored under the chunk key's encrypted name
//! (`GPGHMACSHA1--...`); the chunk log records the count once every chunk
//! is stored. A type only implements [`Storage`] (store a file under a
//! key, retrieve it as it is, check, remove) and is wrapped in
//! [`Layered`], which is the [`Remote`].
//!
//! Stores resume: the chunks of the content already there are not sent
//! again. Retrieval tries the chunkings recorded in the chunk log, the
//! unchunked key (first when the remote is not chunked, last when it is)
//! and the chunking of the configuration, resumes from what `dest`
//! holds, and verifies the whole content against the key. Presence needs
//! every chunk of one chunking; removal removes every chunk of every
//! chunking and records the chunks as removed.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::chunk::{ChunkConfig, ChunkLog, chunk_count, chunk_key, chunk_keys, is_stable};
use super::crypto::{Cipher, Gpg, Mac, StoredCipher, encrypt_key};
use crate::key::Key;
use crate::remote::{ContentLockGuard, Progress, Remote, RemoteError};
use crate::uuid::Uuid;

/// What a special remote type does with one stored object: the key is the
/// name the remote stores under (a chunk key, an encrypted key), the file
/// what it stores (already encrypted).
pub trait Storage: Send + Sync + std::fmt::Debug {
    /// The remote's name.
    fn name(&self) -> &str;
    /// Its UUID.
    fn uuid(&self) -> &Uuid;
    /// Its cost.
    fn cost(&self) -> f64;
    /// Stores file `src` under `key`.
    fn store_object(
        &self,
        key: &Key,
        src: &Path,
        progress: Progress<'_>,
    ) -> Result<(), RemoteError>;
    /// Copies what is stored under `key` into `dest` as it is (not
    /// verified: it may be encrypted or a chunk). [`RemoteError::NotPresent`]
    /// when it is not there.
    fn retrieve_object(
        &self,
        key: &Key,
        dest: &Path,
        progress: Progress<'_>,
    ) -> Result<(), RemoteError>;
    /// Whether something is stored under `key`; `Err` when it cannot
    /// tell.
    fn check_object(&self, key: &Key) -> Result<bool, RemoteError>;
    /// Removes what is stored under `key` (absent is success).
    fn remove_object(&self, key: &Key) -> Result<(), RemoteError>;
    /// Commits what the type journalled.
    fn commit_objects(&self) -> Result<(), RemoteError> {
        Ok(())
    }
}

/// A remote's encryption: how names and content are encrypted.
#[derive(Debug)]
pub struct Encryption {
    /// `mac=`.
    pub mac: Mac,
    /// The cipher as stored.
    pub stored: StoredCipher,
    /// How gpg runs.
    pub gpg: Gpg,
    cipher: Mutex<Option<Cipher>>,
}

impl Encryption {
    /// The encryption of a remote's configuration, `None` when it has
    /// none or when its cipher only encrypts credentials
    /// (`onlyencryptcreds=yes`: content and names are then stored as they
    /// are, as git-annex's `cipherKey` says); `Err` for a bad `mac=`.
    pub fn from_config(
        c: &std::collections::BTreeMap<String, String>,
        gpg: Gpg,
    ) -> Result<Option<Encryption>, String> {
        if c.get("onlyencryptcreds").map(String::as_str) == Some("yes") {
            return Ok(None);
        }
        let Some(stored) = StoredCipher::extract(c) else {
            return Ok(None);
        };
        let mac = match c.get("mac") {
            None => Mac::HmacSha1,
            // A value in remote.log git-annex does not know is its default.
            Some(m) => Mac::parse(m).unwrap_or(Mac::HmacSha1),
        };
        Ok(Some(Encryption {
            mac,
            stored,
            gpg,
            cipher: Mutex::new(None),
        }))
    }

    fn cipher(&self) -> Result<Cipher, RemoteError> {
        let mut c = self.cipher.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = c.as_ref() {
            return Ok(c.clone());
        }
        let got = self
            .gpg
            .decrypt_cipher(&self.stored)
            .map_err(|e| RemoteError::Refused {
                remote: String::new(),
                reason: e.to_string(),
            })?;
        *c = Some(got.clone());
        Ok(got)
    }

    fn recipients(&self) -> Vec<String> {
        match &self.stored {
            StoredCipher::Encrypted { keys, .. } | StoredCipher::SharedPubKey { keys, .. } => {
                keys.clone()
            }
            StoredCipher::Shared(_) => Vec::new(),
        }
    }
}

/// A special remote with chunking and encryption around its [`Storage`].
#[derive(Debug)]
pub struct Layered {
    inner: Box<dyn Storage>,
    chunk: ChunkConfig,
    enc: Option<Encryption>,
    log: ChunkLog,
    tmp: PathBuf,
}

impl Layered {
    /// `inner` with chunking `chunk` and encryption `enc`, in the
    /// repository at `git_dir` (its chunk log, its `annex/tmp`).
    pub fn new(
        inner: Box<dyn Storage>,
        chunk: ChunkConfig,
        enc: Option<Encryption>,
        git_dir: &Path,
    ) -> Layered {
        Layered {
            inner,
            chunk,
            enc,
            log: ChunkLog::new(git_dir),
            tmp: git_dir.join("annex").join("tmp"),
        }
    }

    fn refused(&self, reason: String) -> RemoteError {
        RemoteError::Refused {
            remote: self.inner.name().to_string(),
            reason,
        }
    }

    fn io(&self, what: &str, path: &Path, e: std::io::Error) -> RemoteError {
        self.refused(format!("cannot {what} {}: {e}", path.display()))
    }

    fn branch_err(&self, e: crate::branch::BranchError) -> RemoteError {
        RemoteError::Branch {
            remote: self.inner.name().to_string(),
            source: e,
        }
    }

    fn cipher(&self) -> Result<Option<Cipher>, RemoteError> {
        match &self.enc {
            None => Ok(None),
            Some(e) => e.cipher().map(Some).map_err(|err| match err {
                RemoteError::Refused { reason, .. } => self.refused(reason),
                other => other,
            }),
        }
    }

    /// The name a key is stored under.
    fn stored_key(&self, cipher: Option<&Cipher>, key: &Key) -> Result<Key, RemoteError> {
        match (cipher, &self.enc) {
            (Some(c), Some(e)) => encrypt_key(e.mac, c, key)
                .ok_or_else(|| self.refused("cannot make an encrypted key".to_string())),
            _ => Ok(key.clone()),
        }
    }

    /// A new empty temporary file in `annex/tmp`, unique to this call
    /// (two transfers of one key at once do not share it), removed when
    /// the returned path is dropped.
    fn tmp_file(&self, key: &Key, what: &str) -> Result<tempfile::TempPath, RemoteError> {
        std::fs::create_dir_all(&self.tmp).map_err(|e| self.io("create", &self.tmp, e))?;
        let name = String::from_utf8_lossy(&crate::objects::key_file(key)).into_owned();
        tempfile::Builder::new()
            .prefix(&format!("{name}.{what}."))
            .tempfile_in(&self.tmp)
            .map(tempfile::NamedTempFile::into_temp_path)
            .map_err(|e| self.io("create a temporary file in", &self.tmp, e))
    }

    /// A new empty file named as `key`'s object file (its basename is
    /// the key, as the reference's temporary object files are: programs
    /// such as `git-annex-remote-rclone` store a file under its own
    /// name) in a directory of `annex/tmp` unique to this call; both are
    /// removed when the returned directory is dropped.
    fn tmp_named(&self, key: &Key) -> Result<(tempfile::TempDir, PathBuf), RemoteError> {
        std::fs::create_dir_all(&self.tmp).map_err(|e| self.io("create", &self.tmp, e))?;
        let dir = tempfile::Builder::new()
            .prefix("layered.")
            .tempdir_in(&self.tmp)
            .map_err(|e| self.io("create a temporary directory in", &self.tmp, e))?;
        let name = String::from_utf8_lossy(&crate::objects::key_file(key)).into_owned();
        let path = dir.path().join(name);
        std::fs::File::create(&path).map_err(|e| self.io("create", &path, e))?;
        Ok((dir, path))
    }

    /// Stores `src` (encrypted first when the remote is) under `key`.
    fn put(
        &self,
        cipher: Option<&Cipher>,
        key: &Key,
        src: &Path,
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        let sk = self.stored_key(cipher, key)?;
        match (cipher, &self.enc) {
            (Some(c), Some(e)) => {
                let (dir, tmp) = self.tmp_named(&sk)?;
                let r = e
                    .gpg
                    .encrypt_file(c, &e.recipients(), src, &tmp)
                    .map_err(|err| self.refused(err.to_string()))
                    .and_then(|()| self.inner.store_object(&sk, &tmp, progress));
                drop(dir);
                r
            }
            _ => self.inner.store_object(&sk, src, progress),
        }
    }

    /// Retrieves what is under `key` (decrypted) into a temporary file
    /// of its own, removed when the returned path is dropped.
    fn fetch_plain(
        &self,
        cipher: Option<&Cipher>,
        key: &Key,
        progress: Progress<'_>,
    ) -> Result<tempfile::TempPath, RemoteError> {
        let sk = self.stored_key(cipher, key)?;
        let raw = self.tmp_file(key, "raw")?;
        self.inner.retrieve_object(&sk, &raw, progress)?;
        match (cipher, &self.enc) {
            (Some(c), Some(e)) => {
                let dec = self.tmp_file(key, "dec")?;
                e.gpg
                    .decrypt_file(c, &raw, &dec)
                    .map_err(|err| self.refused(err.to_string()))?;
                Ok(dec)
            }
            _ => Ok(raw),
        }
    }

    /// Fetches the content stored as `keys` (one chunking, or the whole
    /// key) into `dest`, resuming from the chunks `dest` already holds
    /// (its length read now: an attempt before may have changed it).
    /// `dest` is left alone until the first object is fetched, so that a
    /// chunking that is not there does not destroy what it holds.
    fn fetch_candidate(
        &self,
        cipher: Option<&Cipher>,
        key: &Key,
        c: &Candidate,
        dest: &Path,
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        let have = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
        // Resume: chunks wholly in dest are not fetched again.
        let (skip, size) = match c.chunking {
            Some((size, count)) => ((have / size).min(count), size),
            None => (0, 0),
        };
        let offset = skip * size;
        let open = || -> Result<std::fs::File, RemoteError> {
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(dest)
                .map_err(|e| self.io("write", dest, e))?;
            out.set_len(offset).map_err(|e| self.io("write", dest, e))?;
            out.seek(SeekFrom::End(0))
                .map_err(|e| self.io("write", dest, e))?;
            Ok(out)
        };
        let mut out: Option<std::fs::File> = None;
        let mut done = offset;
        for k in c
            .keys(key)
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        {
            let base = done;
            let plain = self.fetch_plain(cipher, &k, &mut |n| progress(base + n))?;
            let o = match out.as_mut() {
                Some(o) => o,
                None => out.insert(open()?),
            };
            let mut f = std::fs::File::open(&plain).map_err(|e| self.io("read", &plain, e))?;
            std::io::copy(&mut f, o).map_err(|e| self.io("write", dest, e))?;
            done = o.stream_position().map_err(|e| self.io("write", dest, e))?;
            progress(done);
        }
        let mut out = match out {
            Some(o) => o,
            None => open()?,
        };
        out.flush().map_err(|e| self.io("write", dest, e))?;
        Ok(())
    }

    /// The lists of keys the content may be stored as, most likely first
    /// (git-annex's `chunkKeys`): each recorded chunking, the unchunked
    /// key (first when not chunked), and the configured chunking when not
    /// recorded (speculative: logged when found present).
    fn candidates(&self, key: &Key, with_unchunked: bool) -> Result<Vec<Candidate>, RemoteError> {
        let recorded = self
            .log
            .current(self.inner.uuid(), key)
            .map_err(|e| self.branch_err(e))?;
        let mut out: Vec<Candidate> = recorded
            .iter()
            .map(|&chunking| Candidate {
                chunking: Some(chunking),
                speculative: false,
            })
            .collect();
        if with_unchunked {
            let whole = Candidate {
                chunking: None,
                speculative: false,
            };
            if matches!(self.chunk, ChunkConfig::Unpadded(_)) {
                out.push(whole);
            } else {
                out.insert(0, whole);
            }
        }
        if let (ChunkConfig::Unpadded(size), Some(len)) = (self.chunk, key.size()) {
            let count = chunk_count(len, size);
            if !recorded.contains(&(size, count)) {
                out.push(Candidate {
                    chunking: Some((size, count)),
                    speculative: true,
                });
            }
        }
        Ok(out)
    }

    fn check_list(
        &self,
        cipher: Option<&Cipher>,
        keys: impl Iterator<Item = Key>,
    ) -> Result<bool, RemoteError> {
        for k in keys {
            if !self.inner.check_object(&self.stored_key(cipher, &k)?)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// One way the content of a key may be stored: whole, or in `count`
/// chunks of `size`.
struct Candidate {
    /// (size, count), `None` for the whole key.
    chunking: Option<(u64, u64)>,
    /// Not recorded in the chunk log (the configured chunking): recorded
    /// when found present.
    speculative: bool,
}

impl Candidate {
    /// The keys stored, made one by one.
    fn keys<'a>(&self, key: &'a Key) -> Box<dyn Iterator<Item = Key> + 'a> {
        match self.chunking {
            Some((size, count)) => Box::new(chunk_keys(key, size, count)),
            None => Box::new(std::iter::once(key.clone())),
        }
    }
}

impl Remote for Layered {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn uuid(&self) -> &Uuid {
        self.inner.uuid()
    }

    fn cost(&self) -> f64 {
        self.inner.cost()
    }

    fn check_present(&self, key: &Key) -> Result<bool, RemoteError> {
        let cipher = self.cipher()?;
        let mut deferred = None;
        for c in self.candidates(key, true)? {
            match self.check_list(cipher.as_ref(), c.keys(key)) {
                Ok(true) => {
                    if let (true, Some((size, count))) = (c.speculative, c.chunking) {
                        self.log
                            .set(self.inner.uuid(), key, size, count)
                            .map_err(|e| self.branch_err(e))?;
                    }
                    return Ok(true);
                }
                Ok(false) => {}
                Err(e) => deferred = deferred.or(Some(e)),
            }
        }
        match deferred {
            Some(e) => Err(e),
            None => Ok(false),
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
        let cipher = self.cipher()?;
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| self.io("create", parent, e))?;
        }
        let mut first_err = None;
        for c in self.candidates(key, true)? {
            let attempt = self.fetch_candidate(cipher.as_ref(), key, &c, dest, progress);
            match attempt {
                Ok(()) => {
                    return match crate::backend::verify_key(key, dest) {
                        Ok(Some(false)) => {
                            let _ = std::fs::remove_file(dest);
                            Err(RemoteError::VerificationFailed)
                        }
                        Ok(_) => {
                            if key.size().is_some_and(|s| {
                                std::fs::metadata(dest).map(|m| m.len()).ok() != Some(s)
                            }) {
                                let _ = std::fs::remove_file(dest);
                                return Err(RemoteError::VerificationFailed);
                            }
                            Ok(())
                        }
                        Err(e) => Err(self.refused(e.to_string())),
                    };
                }
                Err(e) => {
                    first_err = first_err.or(Some(e));
                }
            }
        }
        Err(first_err.unwrap_or(RemoteError::NotPresent))
    }

    fn store(
        &self,
        key: &Key,
        src: &Path,
        _our_uuid: &Uuid,
        _file: &[u8],
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        let cipher = self.cipher()?;
        // Not chunked here: stored whole (the old `chunksize=` layout is
        // the storage's own, as in the reference).
        let ChunkConfig::Unpadded(size) = self.chunk else {
            return self.put(cipher.as_ref(), key, src, progress);
        };
        if !is_stable(key) {
            return self.put(cipher.as_ref(), key, src, progress);
        }
        let mut input = std::fs::File::open(src).map_err(|e| self.io("read", src, e))?;
        let len = input.metadata().map_err(|e| self.io("read", src, e))?.len();
        let count = chunk_count(len, size);
        // Resume: the chunks already stored (in order) are not sent again.
        let mut start = 0u64;
        if len > size {
            while start < count
                && self
                    .inner
                    .check_object(
                        &self.stored_key(cipher.as_ref(), &chunk_key(key, size, start + 1))?,
                    )
                    .unwrap_or(false)
            {
                start += 1;
            }
        }
        input
            .seek(SeekFrom::Start(start * size))
            .map_err(|e| self.io("read", src, e))?;
        for i in start..count {
            let k = &chunk_key(key, size, i + 1);
            let base = i * size;
            // Named as the chunk's key, as the reference's are.
            let (dir, chunk_file) = self.tmp_named(k)?;
            {
                let mut out = std::fs::File::create(&chunk_file)
                    .map_err(|e| self.io("write", &chunk_file, e))?;
                std::io::copy(&mut (&mut input).take(size), &mut out)
                    .map_err(|e| self.io("read", src, e))?;
            }
            let stored = self.put(cipher.as_ref(), k, &chunk_file, &mut |n| {
                progress(base + n.min(size))
            });
            drop(dir);
            stored?;
        }
        progress(len);
        self.log
            .set(self.inner.uuid(), key, size, count)
            .map_err(|e| self.branch_err(e))
    }

    fn remove(&self, key: &Key) -> Result<(), RemoteError> {
        let cipher = self.cipher()?;
        let lists = self.candidates(key, true)?;
        for c in &lists {
            for k in c.keys(key) {
                let stored = self.stored_key(cipher.as_ref(), &k)?;
                // A key of no known size takes its chunk count from the
                // chunk log alone, which another repository may have
                // written with any number: its chunks are removed in
                // order up to the first one not there, never counted out.
                if key.size().is_none()
                    && c.chunking.is_some()
                    && !self.inner.check_object(&stored)?
                {
                    break;
                }
                self.inner.remove_object(&stored)?;
            }
        }
        // Every chunking tried is recorded as removed, as git-annex does.
        for c in &lists {
            if let Some((size, _)) = c.chunking {
                self.log
                    .set(self.inner.uuid(), key, size, 0)
                    .map_err(|e| self.branch_err(e))?;
            }
        }
        Ok(())
    }

    fn lock_content(&self, _key: &Key) -> Result<Box<dyn ContentLockGuard>, RemoteError> {
        Err(super::cannot_lock_content(self.inner.name()))
    }

    fn commit(&self) -> Result<(), RemoteError> {
        // The chunk log stays in the repository's journal: the command
        // commits it with the location log, as git-annex does.
        self.inner.commit_objects()
    }
}

#[cfg(test)]
mod tests {
    use super::super::directory::DirectoryRemote;
    use super::*;

    fn git_init(dir: &Path) {
        let st = std::process::Command::new("git")
            .args(["init", "-q"])
            .arg(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// A repository, a directory remote in it and a WORM key of 10 bytes
    /// stored by hand in chunks of 4 (not recorded in the chunk log).
    fn setup(t: &Path) -> (PathBuf, DirectoryRemote, Key) {
        let repo = t.join("repo");
        git_init(&repo);
        let dir = t.join("d");
        std::fs::create_dir(&dir).unwrap();
        let u = Uuid::parse(b"3ac29831-cfaa-4b67-b7b8-6d476b3cfe13").unwrap();
        let inner = DirectoryRemote::new("d", u, 100.0, dir);
        let key = Key::parse(b"WORM-s10-m1--f").unwrap();
        for (i, part) in [&b"0123"[..], b"4567", b"89"].iter().enumerate() {
            let src = t.join(format!("part{i}"));
            std::fs::write(&src, part).unwrap();
            inner
                .store_object(&chunk_key(&key, 4, i as u64 + 1), &src, &mut |_| {})
                .unwrap();
        }
        (repo.join(".git"), inner, key)
    }

    #[test]
    fn retrieve_resumes_from_the_length_of_dest_at_each_attempt() {
        let t = tempfile::tempdir().unwrap();
        let (git_dir, inner, key) = setup(t.path());
        let u = Storage::uuid(&inner).clone();
        let l = Layered::new(Box::new(inner), ChunkConfig::Unpadded(4), None, &git_dir);
        // The first chunk from an interrupted transfer: the whole key is
        // tried first and is not there, then the chunks resume after it.
        let dest = t.path().join("dest");
        std::fs::write(&dest, b"0123").unwrap();
        l.retrieve(&key, &dest, &u, b"f", &mut |_| {}).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"0123456789");
        // A WORM key is not verified: what dest held is what it gets.
        std::fs::write(&dest, b"01234").unwrap();
        l.retrieve(&key, &dest, &u, b"f", &mut |_| {}).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"0123456789");
    }

    #[test]
    fn temporary_files_are_unique_per_call_and_removed() {
        let t = tempfile::tempdir().unwrap();
        let (git_dir, inner, key) = setup(t.path());
        let u = Storage::uuid(&inner).clone();
        let l = Layered::new(Box::new(inner), ChunkConfig::Unpadded(4), None, &git_dir);
        // Two transfers of one key at once (to two remotes) each have
        // their own.
        let a = l.tmp_file(&key, "chunk").unwrap();
        let b = l.tmp_file(&key, "chunk").unwrap();
        assert_ne!(a.to_path_buf(), b.to_path_buf());
        assert!(a.exists() && b.exists());
        drop((a, b));
        // Files to store are named as their key, each in its own
        // directory.
        let (da, pa) = l.tmp_named(&key).unwrap();
        let (db, pb) = l.tmp_named(&key).unwrap();
        assert_ne!(pa, pb);
        assert_eq!(pa.file_name().unwrap(), "WORM-s10-m1--f");
        assert_eq!(pa.file_name(), pb.file_name());
        drop((da, db));
        assert!(!pa.exists() && !pb.exists());
        let tmp = git_dir.join("annex").join("tmp");
        let dest = t.path().join("dest");
        l.retrieve(&key, &dest, &u, b"f", &mut |_| {}).unwrap();
        let other = Key::parse(b"WORM-s3-m1--g").unwrap();
        assert!(l.retrieve(&other, &dest, &u, b"f", &mut |_| {}).is_err());
        let src = t.path().join("src");
        std::fs::write(&src, b"abc").unwrap();
        l.store(&other, &src, &u, b"g", &mut |_| {}).unwrap_or(());
        let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
        assert!(left.is_empty(), "left in annex/tmp: {left:?}");
    }

    #[test]
    fn a_huge_chunk_count_in_the_log_is_ignored_not_allocated() {
        let t = tempfile::tempdir().unwrap();
        let (git_dir, inner, key) = setup(t.path());
        let u = Storage::uuid(&inner).clone();
        let l = Layered::new(Box::new(inner), ChunkConfig::Unpadded(4), None, &git_dir);
        // As merged from another repository.
        l.log.set(&u, &key, 4, u64::MAX).unwrap();
        l.log.set(&u, &key, 1, 1 << 40).unwrap();
        assert!(l.log.current(&u, &key).unwrap().is_empty());
        assert!(l.check_present(&key).unwrap());
        let dest = t.path().join("dest");
        l.retrieve(&key, &dest, &u, b"f", &mut |_| {}).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"0123456789");
        // A key without a size: the count is kept, its chunks made one by
        // one (the first missing ends the check).
        let nosize = Key::parse(b"WORM-m1--g").unwrap();
        l.log.set(&u, &nosize, 4, u64::MAX).unwrap();
        assert!(!l.check_present(&nosize).unwrap());
    }

    /// Regression: removing a key of no known size went through every
    /// chunk key its chunk log counts, and a log merged from elsewhere
    /// may count `u64::MAX`: a drop that never ended. It now stops at the
    /// first chunk not there.
    #[test]
    fn removing_a_sizeless_key_with_a_huge_logged_count_ends() {
        let t = tempfile::tempdir().unwrap();
        let (git_dir, inner, _key) = setup(t.path());
        let u = Storage::uuid(&inner).clone();
        let l = Layered::new(Box::new(inner), ChunkConfig::Unpadded(4), None, &git_dir);
        let nosize = Key::parse(b"WORM-m1--g").unwrap();
        l.log.set(&u, &nosize, 4, u64::MAX).unwrap();
        Remote::remove(&l, &nosize).unwrap();
        assert!(!l.check_present(&nosize).unwrap());
    }

    #[test]
    fn onlyencryptcreds_leaves_content_and_names_unencrypted() {
        let gpg = || Gpg {
            program: "gpg".to_string(),
            options: Vec::new(),
            decrypt_options: Vec::new(),
        };
        let mut c: std::collections::BTreeMap<String, String> = [
            ("encryption", "hybrid"),
            ("cipher", "YWJj"),
            ("cipherkeys", "0123456789ABCDEF"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert!(Encryption::from_config(&c, gpg()).unwrap().is_some());
        c.insert("onlyencryptcreds".to_string(), "no".to_string());
        assert!(Encryption::from_config(&c, gpg()).unwrap().is_some());
        c.insert("onlyencryptcreds".to_string(), "yes".to_string());
        assert!(Encryption::from_config(&c, gpg()).unwrap().is_none());
    }

    /// Records the name of each file given to store.
    #[derive(Debug)]
    struct Named {
        inner: DirectoryRemote,
        names: std::sync::Arc<Mutex<Vec<(String, String)>>>,
    }

    impl Storage for Named {
        fn name(&self) -> &str {
            Storage::name(&self.inner)
        }
        fn uuid(&self) -> &Uuid {
            Storage::uuid(&self.inner)
        }
        fn cost(&self) -> f64 {
            Storage::cost(&self.inner)
        }
        fn store_object(
            &self,
            key: &Key,
            src: &Path,
            progress: Progress<'_>,
        ) -> Result<(), RemoteError> {
            self.names.lock().unwrap().push((
                String::from_utf8_lossy(key.as_bytes()).into_owned(),
                src.file_name().unwrap().to_string_lossy().into_owned(),
            ));
            self.inner.store_object(key, src, progress)
        }
        fn retrieve_object(
            &self,
            key: &Key,
            dest: &Path,
            progress: Progress<'_>,
        ) -> Result<(), RemoteError> {
            self.inner.retrieve_object(key, dest, progress)
        }
        fn check_object(&self, key: &Key) -> Result<bool, RemoteError> {
            self.inner.check_object(key)
        }
        fn remove_object(&self, key: &Key) -> Result<(), RemoteError> {
            self.inner.remove_object(key)
        }
    }

    /// Regression: chunks were handed to the storage in files named
    /// `KEY.chunk.RANDOM`, and external programs that store a file under
    /// its own name (`git-annex-remote-rclone`'s `rclone copy FILE DIR`)
    /// stored them where nobody looks. Each file is now named as the key
    /// it is stored under, as the reference's temporary files are.
    #[test]
    fn chunks_are_handed_to_the_storage_in_files_named_as_their_key() {
        let t = tempfile::tempdir().unwrap();
        let (git_dir, inner, _key) = setup(t.path());
        let u = Storage::uuid(&inner).clone();
        let names = std::sync::Arc::new(Mutex::new(Vec::new()));
        let named = Named {
            inner,
            names: names.clone(),
        };
        let l = Layered::new(Box::new(named), ChunkConfig::Unpadded(4), None, &git_dir);
        let key = Key::parse(b"WORM-s6-m1--g").unwrap();
        let src = t.path().join("src");
        std::fs::write(&src, b"abcdef").unwrap();
        l.store(&key, &src, &u, b"g", &mut |_| {}).unwrap();
        let got = names.lock().unwrap().clone();
        assert_eq!(got.len(), 2);
        for (k, f) in &got {
            assert_eq!(k, f);
        }
    }
}
