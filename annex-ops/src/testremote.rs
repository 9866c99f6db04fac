//! `testremote`: the checks git-annex's `testremote` runs against a
//! remote, in its order and with its names, so that any remote can be
//! tried before it is trusted with content.
//!
//! Test keys of random content are made in this repository (`SHA256E`
//! keys whose names end in `.this-is-a-test-key`, as the reference's test
//! backend makes them: sizes around `--size`, 1 MiB by default), then, for
//! each key and each variant of the remote (the chunk sizes 0, size/100,
//! size/1000 and size, each with `encryption=none` and `encryption=shared`;
//! chunk size 0 only with `--fast`), the remote is asked to remove the
//! absent key, say it is absent, store it (twice), say it is present,
//! and the key is retrieved four times (from nothing, and resuming from
//! an empty, a one-third and a whole temporary file), each retrieval
//! checked against the key; then removed and said absent. First, a copy
//! of the remote that cannot be reached (a directory remote's directory
//! `/dev/null`, an external remote's program `!dne!`, an S3 remote's host
//! `!dne!`, as the reference makes them) must fail every request.
//!
//! As in the reference, a variant is the remote opened again with its
//! configuration changed (`chunk=`, `encryption=`), and the
//! `encryption=shared` variant encrypts only when the remote has a shared
//! cipher of its own (the reference does not make one: a remote without
//! it is tested unencrypted under that label). With readonly test files
//! (`--test-readonly`), their keys are used, nothing is stored or
//! removed, and only retrieval is tried.
//!
//! Differences from the reference: there are no export tree tests (export
//! is not implemented); no location log is written (the reference records
//! this repository as having the test keys, whose content it then
//! removes); `retrieveKeyFileCheap` has no cheap retrieval to try and
//! passes, as the reference's does for types without one.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use annex_core::key::Key;
use annex_core::remote::Remote;
use annex_core::remote::special::{self, Context};
use annex_core::uuid::Uuid;

use crate::remotes::Remotes;
use crate::session::Session;

/// Why `testremote` could not start.
#[derive(Debug, thiserror::Error)]
pub enum TestRemoteError {
    /// A user error, in git-annex's words.
    #[error("{0}")]
    User(String),
    /// Making a test key failed.
    #[error("failed to generate random key: {0}")]
    KeyGen(String),
}

/// What `testremote` is asked to do.
#[derive(Debug, Clone)]
pub struct TestOptions {
    /// `--fast`: fewer key sizes, no chunking variants.
    pub fast: bool,
    /// `--size`: the base size of the test keys.
    pub size: u64,
    /// The keys of the `--test-readonly` files (each with the file name
    /// it was given as, for the errors).
    pub readonly: Vec<(String, Option<Key>)>,
}

/// The names of the checks of an unreachable remote, in order.
pub const UNAVAILABLE_TESTS: &[&str] = &[
    "removeKey",
    "storeKey",
    "checkPresent",
    "retrieveKeyFile",
    "retrieveKeyFileCheap",
];

/// The names of the checks of one key and one variant, in order.
pub const KEY_TESTS: &[&str] = &[
    "removeKey when not present",
    "present False",
    "storeKey",
    "present True",
    "storeKey when already present",
    "present True",
    "retrieveKeyFile",
    "fsck downloaded object",
    "retrieveKeyFile resume from 0",
    "fsck downloaded object",
    "retrieveKeyFile resume from 33%",
    "fsck downloaded object",
    "retrieveKeyFile resume from end",
    "fsck downloaded object",
    "removeKey when present",
    "present False",
];

/// The top group's name.
pub const TOP_GROUP: &str = "Remote Tests";

/// Where the results go as they come.
pub trait Report {
    /// A group of checks starts.
    fn group(&mut self, name: &str);
    /// A check ended: its name, its failure message, how long it took.
    fn case(&mut self, name: &str, result: &Result<(), String>, took: Duration);
}

/// How many checks passed and failed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Checks that passed.
    pub passed: usize,
    /// Checks that failed.
    pub failed: usize,
}

/// The chunk sizes tried (git-annex's `chunkSizes`).
pub fn chunk_sizes(base: u64, fast: bool) -> Vec<u64> {
    if fast {
        vec![0]
    } else {
        vec![0, base / 100, base / 1000, base]
    }
}

/// The sizes of the test keys (git-annex's `keySizes`: never empty).
pub fn key_sizes(base: u64, fast: bool) -> Vec<u64> {
    [
        0,
        base,
        base.saturating_add(1),
        base.saturating_sub(1),
        base.saturating_mul(2),
    ]
    .into_iter()
    .filter(|&s| if fast { s <= base && s > 0 } else { s > 0 })
    .collect()
}

/// A group label's description of a key: `key size Just N` (`Nothing`
/// for a key without a size), as the reference shows it.
pub fn key_desc(key: &Key) -> String {
    match key.size() {
        Some(n) => format!("key size Just {n}"),
        None => "key size Nothing".to_string(),
    }
}

/// The configuration of a variant: `chunk=` set to `chunk`, and the
/// encryption of `encryption=none` or (`shared`) `encryption=shared` as
/// the reference's variants get it: the remote's cipher is used only when
/// it is a shared one and the variant is `shared`; otherwise the variant
/// is unencrypted.
pub fn variant_config(
    base: &BTreeMap<String, String>,
    chunk: u64,
    shared: bool,
) -> BTreeMap<String, String> {
    let mut c = base.clone();
    c.insert("chunk".to_string(), chunk.to_string());
    let keeps_cipher = shared
        && c.contains_key("cipher")
        && !c.contains_key("cipherkeys")
        && !c.contains_key("pubkeys");
    if shared {
        c.insert("encryption".to_string(), "shared".to_string());
        c.insert("highRandomQuality".to_string(), "false".to_string());
    }
    if !keeps_cipher {
        c.insert("encryption".to_string(), "none".to_string());
        for f in ["cipher", "cipherkeys", "pubkeys"] {
            c.remove(f);
        }
    }
    c
}

/// One remote under test: a variant opened here, or the remote list's.
enum Under<'a> {
    Own(Result<Box<dyn Remote>, String>),
    Listed(&'a dyn Remote),
    /// No unavailable form of this type: its checks have nothing to do.
    Nothing,
}

impl Under<'_> {
    fn get(&self) -> Option<Result<&dyn Remote, String>> {
        match self {
            Under::Own(Ok(r)) => Some(Ok(r.as_ref())),
            Under::Own(Err(e)) => Some(Err(e.clone())),
            Under::Listed(r) => Some(Ok(*r)),
            Under::Nothing => None,
        }
    }
}

/// Counts and reports one check.
fn record(
    summary: &mut Summary,
    report: &mut dyn Report,
    name: &str,
    f: &mut dyn FnMut() -> Result<(), String>,
) {
    let start = Instant::now();
    let r = f();
    report.case(name, &r, start.elapsed());
    if r.is_ok() {
        summary.passed += 1;
    } else {
        summary.failed += 1;
    }
}

/// Runs `testremote` on the remote named `name`, reporting each check to
/// `report`. `Err` when it cannot start (no such remote, a readonly file
/// that cannot be used).
pub fn run(
    session: &Session,
    name: &str,
    opts: &TestOptions,
    report: &mut dyn Report,
) -> Result<Summary, TestRemoteError> {
    let remotes = Remotes::open(session);
    let entry = remotes
        .entries
        .iter()
        .find(|e| e.name == name)
        .ok_or_else(|| {
            TestRemoteError::User(format!("there is no available git remote named \"{name}\""))
        })?;
    let listed = entry.usable().ok_or_else(|| {
        TestRemoteError::User(entry.remote.as_ref().err().cloned().unwrap_or_default())
    })?;
    let uuid = listed.uuid().clone();
    let readonly = !opts.readonly.is_empty();
    // The reference refuses for the remotes its `Remote.readonly` says
    // are readonly; `annex-readonly` does not set that there, and its
    // variants (opened again, past `adjustReadOnly`) then write to the
    // remote. Refused here: the user said not to write to it.
    if !readonly
        && session
            .config
            .get_bool(&format!("remote.{name}.annex-readonly"))
            .unwrap_or(false)
    {
        return Err(TestRemoteError::User(
            "This remote is readonly, so you need to use the --test-readonly option.".to_string(),
        ));
    }
    let keys = if readonly {
        readonly_keys(session, &uuid, &opts.readonly)?
    } else {
        let mut ks = Vec::new();
        for sz in key_sizes(opts.size, opts.fast) {
            ks.push(rand_key(session, sz)?);
        }
        ks
    };
    let Some(first_key) = keys.first().cloned() else {
        return Err(TestRemoteError::KeyGen("no key size to test".to_string()));
    };
    let top = session.base_dir();
    let ctx = Context {
        config: &session.config,
        git_dir: session.repo.git_dir(),
        top: &top,
    };
    let sr = special::configured(&session.config)
        .into_iter()
        .find(|s| s.name == name);
    let logged = crate::special::config_of(
        &session.config,
        name,
        &uuid,
        &crate::special::configs(session).unwrap_or_default(),
    );
    // The variants, each opened once.
    let mut variants: Vec<(String, Under<'_>)> = Vec::new();
    if readonly {
        variants.push(("remote".to_string(), Under::Listed(listed)));
    } else {
        for cs in chunk_sizes(opts.size, opts.fast) {
            for shared in [false, true] {
                let desc = format!(
                    "remote chunksize={cs} encryption={}",
                    if shared { "shared" } else { "none" }
                );
                let under = match &sr {
                    Some(sr) => {
                        let c = variant_config(&logged, cs, shared);
                        Under::Own(
                            special::open(&ctx, sr, uuid.clone(), c).map_err(|e| e.to_string()),
                        )
                    }
                    // A git remote has no chunking or encryption to vary.
                    None => Under::Listed(listed),
                };
                variants.push((desc, under));
            }
        }
    }
    let unavailable = match &sr {
        Some(sr) => unavailable_form(&ctx, sr, &uuid, &logged),
        None => Under::Nothing,
    };
    let mut summary = Summary::default();
    let t = Tester {
        session,
        absent: std::cell::Cell::new(false),
    };
    report.group("unavailable remote");
    {
        let k = &first_key;
        let u = unavailable.get();
        let expect_err = |what: &str, r: Option<Result<bool, String>>| match r {
            None | Some(Err(_)) => Ok(()),
            Some(Ok(v)) => Err(format!(
                "{what} of an unavailable remote succeeded (got: {v})"
            )),
        };
        let s = &mut summary;
        record(s, report, UNAVAILABLE_TESTS[0], &mut || {
            expect_err(
                "removeKey",
                u.clone()
                    .map(|r| r.and_then(|r| r.remove(k).map(|()| true).map_err(|e| e.to_string()))),
            )
        });
        record(s, report, UNAVAILABLE_TESTS[1], &mut || {
            expect_err(
                "storeKey",
                u.clone()
                    .map(|r| r.and_then(|r| t.store(r, k).map(|()| true))),
            )
        });
        record(s, report, UNAVAILABLE_TESTS[2], &mut || {
            expect_err(
                "checkPresent",
                u.clone()
                    .map(|r| r.and_then(|r| r.check_present(k).map_err(|e| e.to_string()))),
            )
        });
        record(s, report, UNAVAILABLE_TESTS[3], &mut || match &u {
            Some(Ok(r)) => match t.retrieve_only(*r, k) {
                Ok(true) => Err("(got: Right True)".to_string()),
                _ => Ok(()),
            },
            _ => Ok(()),
        });
        // No remote here has a cheap retrieval: nothing to try, as for
        // the reference's types without one.
        record(s, report, UNAVAILABLE_TESTS[4], &mut || Ok(()));
    }
    for k in &keys {
        for (desc, under) in &variants {
            report.group(&format!("{}; {desc}", key_desc(k)));
            let r = under.get();
            for (i, check) in KEY_TESTS.iter().enumerate() {
                record(&mut summary, report, check, &mut || match &r {
                    None => Ok(()),
                    Some(Err(e)) => Err(e.clone()),
                    Some(Ok(r)) => t.step(i, *r, k, readonly),
                });
            }
        }
    }
    // Clean up: the test keys removed from every variant and from here.
    if !readonly {
        for k in &keys {
            for (_, under) in &variants {
                if let Some(Ok(r)) = under.get() {
                    let _ = r.remove(k);
                }
            }
            let _ = session.store.remove(k);
            let _ = std::fs::remove_file(session.store.tmp_path(k));
        }
    }
    for (_, under) in &variants {
        if let Some(Ok(r)) = under.get() {
            let _ = r.commit();
        }
    }
    Ok(summary)
}

/// The remote as it would be if it could not be reached (the reference's
/// `mkUnavailable`), for the types that have one.
fn unavailable_form<'a>(
    ctx: &Context<'_>,
    sr: &special::SpecialRemote,
    uuid: &Uuid,
    logged: &BTreeMap<String, String>,
) -> Under<'a> {
    let open = |config: &annex_core::config::AnnexConfig, logged: BTreeMap<String, String>| {
        let c = Context {
            config,
            git_dir: ctx.git_dir,
            top: ctx.top,
        };
        Under::Own(special::open(&c, sr, uuid.clone(), logged).map_err(|e| e.to_string()))
    };
    let git = |k: &str| format!("remote.{}.annex-{k}", sr.name);
    match sr.kind.as_str() {
        "directory" => open(
            &ctx.config.with_value(&git("directory"), "/dev/null"),
            logged.clone(),
        ),
        "external" => open(
            &ctx.config.with_value(&git("externaltype"), "!dne!"),
            logged.clone(),
        ),
        "S3" => {
            let mut l = logged.clone();
            l.insert("host".to_string(), "!dne!".to_string());
            open(ctx.config, l)
        }
        _ => Under::Nothing,
    }
}

struct Tester<'s> {
    session: &'s Session,
    /// The remote was found not to have the key (`--test-readonly`):
    /// the retrieval checks then fail without touching the content here.
    absent: std::cell::Cell<bool>,
}

#[derive(Debug, Clone, Copy)]
enum Prefix {
    Empty,
    Third,
    Whole,
}

impl Tester<'_> {
    fn object(&self, k: &Key) -> Result<PathBuf, String> {
        self.session
            .store
            .find(k)
            .ok_or_else(|| "the test key's content is not present here".to_string())
    }

    fn store(&self, r: &dyn Remote, k: &Key) -> Result<(), String> {
        let src = self.object(k)?;
        r.store(k, &src, self.session.here(), b"", &mut |_| {})
            .map_err(|e| e.to_string())
    }

    fn present(&self, r: &dyn Remote, k: &Key, want: bool) -> Result<(), String> {
        match r.check_present(k) {
            Ok(v) if v == want => Ok(()),
            Ok(v) => Err(format!("present: got {v}, expected {want}")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Retrieves `k` from `r` into its temporary file here (resuming from
    /// what that holds) and moves it into the object store: whether that
    /// worked. Content already here is kept.
    fn retrieve_only(&self, r: &dyn Remote, k: &Key) -> Result<bool, String> {
        let tmp = self.session.store.tmp_path(k);
        if let Some(d) = tmp.parent() {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        if r.retrieve(k, &tmp, self.session.here(), b"", &mut |_| {})
            .is_err()
        {
            return Ok(false);
        }
        Ok(self.session.store.ingest_from_temp(&tmp, k).is_ok())
    }

    /// Removes the content here, then gets it back from `r`, the
    /// temporary file first holding `prefix` of the content (`None`: as
    /// it is). The content here is never lost: it is kept aside (a hard
    /// link, or a copy) before it is removed, and put back when the
    /// retrieval or the verification of what was retrieved fails (the
    /// reference loses it then, and its location log still says it is
    /// here). Once the remote was found not to have the key, nothing is
    /// removed or retrieved.
    fn get(&self, r: &dyn Remote, k: &Key, prefix: Option<Prefix>) -> Result<(), String> {
        if self.absent.get() {
            return Err("the remote does not have the key: not retrieved".to_string());
        }
        let tmp = self.session.store.tmp_path(k);
        if let Some(p) = prefix {
            let obj = self.object(k)?;
            let at = |p: &std::path::Path| {
                let p = p.display().to_string();
                move |e: std::io::Error| format!("{p}: {e}")
            };
            let src = std::fs::File::open(&obj).map_err(at(&obj))?;
            let len = src.metadata().map_err(at(&obj))?.len();
            let n = match p {
                Prefix::Empty => 0,
                Prefix::Third => len / 3,
                Prefix::Whole => len,
            };
            if let Some(d) = tmp.parent() {
                std::fs::create_dir_all(d).map_err(at(d))?;
            }
            let _ = std::fs::remove_file(&tmp);
            let mut dst = std::fs::File::create(&tmp).map_err(at(&tmp))?;
            std::io::copy(&mut src.take(n), &mut dst).map_err(at(&tmp))?;
        }
        let backup = self.keep_aside(k)?;
        if let Err(e) = self.remove_here(k) {
            self.discard(backup.as_deref());
            return Err(e);
        }
        let got = matches!(self.retrieve_only(r, k), Ok(true)) && self.fsck(k).is_ok();
        if got {
            self.discard(backup.as_deref());
            return Ok(());
        }
        match backup {
            Some(b) => self.put_back(k, &b).map(|()| Err("failed".to_string()))?,
            None => Err("failed".to_string()),
        }
    }

    /// A second name (a hard link, else a copy) of the content of `k`
    /// here, under `annex/tmp`, so that removing it loses nothing; `None`
    /// when there is no content here.
    fn keep_aside(&self, k: &Key) -> Result<Option<PathBuf>, String> {
        let Some(obj) = self.session.store.find(k) else {
            return Ok(None);
        };
        let dir = self.session.store.tmp_dir();
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let name = self
            .session
            .store
            .tmp_path(k)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let b = dir.join(format!("testremote-kept.{}.{name}", std::process::id()));
        let _ = std::fs::remove_file(&b);
        if std::fs::hard_link(&obj, &b).is_err() {
            let copied = (|| -> std::io::Result<()> {
                let mut src = std::fs::File::open(&obj)?;
                let mut dst = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&b)?;
                std::io::copy(&mut src, &mut dst)?;
                dst.sync_all()
            })();
            if let Err(e) = copied {
                let _ = std::fs::remove_file(&b);
                return Err(format!("keeping {} aside: {e}", obj.display()));
            }
        }
        Ok(Some(b))
    }

    fn discard(&self, backup: Option<&std::path::Path>) {
        if let Some(b) = backup {
            let _ = std::fs::remove_file(b);
        }
    }

    /// Puts the content kept aside at `b` back as the content of `k`,
    /// replacing whatever a failed retrieval left (which did not verify).
    fn put_back(&self, k: &Key, b: &std::path::Path) -> Result<(), String> {
        let kept = |e: String| format!("{e}; the content of {k} is kept at {}", b.display());
        self.remove_here(k).map_err(kept)?;
        self.session
            .store
            .ingest_from_temp(b, k)
            .map(|_| ())
            .map_err(|e| kept(e.to_string()))
    }

    fn remove_here(&self, k: &Key) -> Result<(), String> {
        let lock = annex_core::content::lock_for_removal(&self.session.store, k)
            .map_err(|e| e.to_string())?;
        if let Some(lock) = lock {
            lock.remove_content(&self.session.store)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn fsck(&self, k: &Key) -> Result<(), String> {
        let obj = self.object(k)?;
        match annex_core::backend::verify_key(k, &obj) {
            Ok(Some(true)) | Ok(None) => Ok(()),
            Ok(Some(false)) => Err("failed".to_string()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Check `i` of [`KEY_TESTS`].
    fn step(&self, i: usize, r: &dyn Remote, k: &Key, readonly: bool) -> Result<(), String> {
        let writable = |f: &dyn Fn() -> Result<(), String>| if readonly { Ok(()) } else { f() };
        match i {
            0 | 14 => writable(&|| r.remove(k).map_err(|e| e.to_string())),
            1 | 15 => writable(&|| self.present(r, k, false)),
            2 | 4 => writable(&|| self.store(r, k)),
            3 => writable(&|| self.present(r, k, true)),
            5 => {
                let p = self.present(r, k, true);
                self.absent.set(readonly && p.is_err());
                p
            }
            6 => self.get(r, k, None),
            8 => self.get(r, k, Some(Prefix::Empty)),
            10 => self.get(r, k, Some(Prefix::Third)),
            12 => self.get(r, k, Some(Prefix::Whole)),
            _ => self.fsck(k),
        }
    }
}

/// A new key of `size` random bytes, its content in the object store.
fn rand_key(session: &Session, size: u64) -> Result<Key, TestRemoteError> {
    let err = |e: std::io::Error| TestRemoteError::KeyGen(e.to_string());
    let tmpdir = session.store.tmp_dir();
    std::fs::create_dir_all(&tmpdir).map_err(err)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let path = tmpdir.join(format!("randkey.{}.{size}.{nanos}", std::process::id()));
    let mut tmp = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(err)?;
    let written = (|| -> std::io::Result<String> {
        let mut random = std::fs::File::open("/dev/urandom")?;
        let mut hasher =
            annex_core::backend::ContentHasher::new(annex_core::backend::HashKind::Sha256);
        let mut left = size;
        let mut buf = vec![0u8; 65536];
        while left > 0 {
            let n = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
            random.read_exact(&mut buf[..n])?;
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n])?;
            left -= n as u64;
        }
        tmp.flush()?;
        Ok(hasher.finish())
    })();
    drop(tmp);
    let fail = |msg: String| {
        let _ = std::fs::remove_file(&path);
        TestRemoteError::KeyGen(msg)
    };
    let hash = written.map_err(|e| fail(e.to_string()))?;
    let key = Key::parse(format!("SHA256E-s{size}--{hash}.this-is-a-test-key").as_bytes())
        .map_err(|e| fail(e.to_string()))?;
    session
        .store
        .ingest_from_temp(&path, &key)
        .map_err(|e| fail(e.to_string()))?;
    Ok(key)
}

/// The keys of the `--test-readonly` files, each checked as the
/// reference checks it.
fn readonly_keys(
    session: &Session,
    uuid: &Uuid,
    files: &[(String, Option<Key>)],
) -> Result<Vec<Key>, TestRemoteError> {
    let mut keys = Vec::new();
    for (f, k) in files {
        let Some(k) = k else {
            return Err(TestRemoteError::User(format!("{f} is not an annexed file")));
        };
        if !session.store.has(k) {
            return Err(TestRemoteError::User(format!(
                "{f} does not have its content locally present, cannot test it"
            )));
        }
        let at = session
            .state
            .whereis(k)
            .map_err(|e| TestRemoteError::User(e.to_string()))?;
        if !at.contains(uuid) {
            return Err(TestRemoteError::User(format!(
                "{f} is not stored in the remote being tested, cannot test it"
            )));
        }
        keys.push(k.clone());
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_the_references() {
        assert_eq!(key_sizes(100, true), vec![100, 99]);
        assert_eq!(key_sizes(100, false), vec![100, 101, 99, 200]);
        assert_eq!(key_sizes(1, true), vec![1]);
        assert_eq!(chunk_sizes(1048576, false), vec![0, 10485, 1048, 1048576]);
        assert_eq!(chunk_sizes(1048576, true), vec![0]);
    }

    #[test]
    fn a_shared_variant_encrypts_only_with_a_shared_cipher() {
        let mut hybrid = BTreeMap::new();
        hybrid.insert("encryption".to_string(), "hybrid".to_string());
        hybrid.insert("cipher".to_string(), "abc".to_string());
        hybrid.insert("cipherkeys".to_string(), "K".to_string());
        let v = variant_config(&hybrid, 10, true);
        assert_eq!(v.get("encryption").map(String::as_str), Some("none"));
        assert!(!v.contains_key("cipher"));
        assert_eq!(v.get("chunk").map(String::as_str), Some("10"));
        let mut shared = BTreeMap::new();
        shared.insert("encryption".to_string(), "shared".to_string());
        shared.insert("cipher".to_string(), "abc".to_string());
        let v = variant_config(&shared, 0, true);
        assert_eq!(v.get("encryption").map(String::as_str), Some("shared"));
        assert_eq!(v.get("cipher").map(String::as_str), Some("abc"));
        let v = variant_config(&shared, 0, false);
        assert_eq!(v.get("encryption").map(String::as_str), Some("none"));
        assert!(!v.contains_key("cipher"));
    }

    #[test]
    fn key_descriptions_say_just_the_size() {
        let k = Key::parse(b"SHA256E-s5--00.this-is-a-test-key").expect("key");
        assert_eq!(key_desc(&k), "key size Just 5");
        let k = Key::parse(b"WORM--x").expect("key");
        assert_eq!(key_desc(&k), "key size Nothing");
    }
}
