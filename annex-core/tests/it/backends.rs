//! Integration tests: backends. Our keys are compared with the reference
//! git-annex's `calckey` (hashing backends, WORM) and `fromkey` (URL keys)
//! on generated files and URLs.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use annex_core::backend::{
    Backend, BackendError, FilenameEncoding, KeyOptions, KeySource, url::url_key,
};
use annex_core::key::Key;

use crate::support::{self, Rng};

/// Runs the reference git-annex in `dir` with a locale, feeding `stdin`;
/// panics when it fails; returns stdout.
fn annex_with_locale(dir: &Path, locale: &str, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut cmd = Command::new(support::reference_git_annex());
    support::hermetic(&mut cmd)
        .current_dir(dir)
        .args(args)
        .env("LC_ALL", locale)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn git-annex");
    let mut w = child.stdin.take().expect("stdin");
    let input = stdin.to_vec();
    let t = std::thread::spawn(move || w.write_all(&input));
    let out = child.wait_with_output().expect("wait git-annex");
    t.join().expect("writer thread").expect("write stdin");
    assert!(
        out.status.success(),
        "git-annex {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

const STEMS: &[&[u8]] = &[
    b"a",
    b"file",
    b"x y",
    "日本語".as_bytes(),
    "ü".as_bytes(),
    "emoji😀".as_bytes(),
    b"bad\xff\xfe",
    b"trunc\xe6\x97",
    b"comma,",
    b"pct%amp&colon:",
    b"q?=#~+!",
    b"new\nline",
    b"tab\there",
    b"dash-under_",
    b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
];

const PREFIXES: &[&[u8]] = &[b"", b"", b"", b".", b"..", b" "];

const EXTS: &[&[u8]] = &[
    b"",
    b"",
    b".txt",
    b".tar.gz",
    b".jpeg",
    b".jpeg2000",
    ".ü".as_bytes(),
    ".über".as_bytes(),
    ".日本".as_bytes(),
    b".",
    b"..",
    b".a.b.c",
    b".a.b.c.d",
    b".b c",
    b".A1",
    b".x-y",
    b".\xff",
    b".\xff\xfe\xfd\xfc\xfb",
    b".gz.",
    b".a..b",
    b".1.22.333.4444",
    b".verylongext.gz",
    b".gz.verylongext",
    b".tab\t",
    b".,",
];

/// File names relative to the repository top (some in subdirectories).
fn generate_names(n: usize, rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut names = Vec::with_capacity(n);
    for i in 0..n {
        let mut name = Vec::new();
        match rng.below(8) {
            0 => name.extend_from_slice(b"sub dir/"),
            1 => name.extend_from_slice("sub dir/é/".as_bytes()),
            _ => {}
        }
        name.extend_from_slice(rng.pick(PREFIXES));
        name.extend_from_slice(rng.pick(STEMS));
        // The index keeps names unique; put it sometimes after the
        // extension so extensions with digits are covered too.
        let ext = rng.pick(EXTS);
        if rng.below(6) == 0 {
            name.extend_from_slice(ext);
            name.extend_from_slice(i.to_string().as_bytes());
        } else {
            name.extend_from_slice(i.to_string().as_bytes());
            name.extend_from_slice(ext);
        }
        names.push(name);
    }
    names
}

fn write_files(dir: &Path, names: &[Vec<u8>], rng: &mut Rng) {
    std::fs::create_dir_all(dir.join("sub dir/é")).expect("mkdir");
    for (i, name) in names.iter().enumerate() {
        // Mostly small; a few of a few MiB (and the empty file).
        let size = match i % 400 {
            0 => 0,
            1 => 3 * 1024 * 1024 + 17,
            2 => 1024 * 1024,
            _ => rng.below(5000),
        };
        let mut content = Vec::with_capacity(size + 8);
        while content.len() < size {
            content.extend_from_slice(&rng.next().to_le_bytes());
        }
        content.truncate(size);
        let path = dir.join(std::ffi::OsStr::from_bytes(name));
        std::fs::write(&path, &content).expect("write test file");
    }
}

fn nul_joined(names: &[Vec<u8>]) -> Vec<u8> {
    let mut input = Vec::new();
    for n in names {
        input.extend_from_slice(n);
        input.push(0);
    }
    input
}

fn ours(dir: &Path, name: &[u8], backend: Backend, opts: &KeyOptions) -> Vec<u8> {
    let rel = Path::new(std::ffi::OsStr::from_bytes(name));
    let full = dir.join(rel);
    let source = KeySource {
        content: &full,
        name: rel,
    };
    backend
        .key_for_file(&source, opts)
        .unwrap_or_else(|e| panic!("{backend} on {full:?}: {e}"))
        .as_bytes()
        .to_vec()
}

fn compare(
    dir: &Path,
    names: &[Vec<u8>],
    backend: Backend,
    locale: &str,
    extra: &[&str],
    opts: &KeyOptions,
) {
    let b = format!("--backend={}", backend.name());
    let mut args = vec!["calckey", "--batch", "-z", &b];
    args.extend_from_slice(extra);
    let out = annex_with_locale(dir, locale, &args, &nul_joined(names));
    let lines: Vec<&[u8]> = out.split(|&c| c == b'\n').collect();
    assert_eq!(lines.len(), names.len() + 1, "{backend}: one line per file");
    let mut mismatches = Vec::new();
    for (name, want) in names.iter().zip(&lines) {
        let got = ours(dir, name, backend, opts);
        if got != *want {
            mismatches.push(format!(
                "{:?}: ours {:?} reference {:?}",
                String::from_utf8_lossy(name),
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(want)
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{backend} ({locale} {extra:?}): {} of {} differ:\n{}",
        mismatches.len(),
        names.len(),
        mismatches[..mismatches.len().min(20)].join("\n")
    );
}

#[test]
fn every_backend_matches_calckey() {
    let repo = support::new_git_repo();
    let dir = repo.path();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let names = generate_names(1100, &mut rng);
    write_files(dir, &names, &mut rng);
    let opts = KeyOptions::default();
    for backend in Backend::ALL {
        compare(dir, &names, backend, "C.UTF-8", &[], &opts);
    }
}

#[test]
fn worm_in_ascii_locale_matches_calckey() {
    let repo = support::new_git_repo();
    let dir = repo.path();
    let mut rng = Rng(0x5eed_1234_abcd_0002);
    let names = generate_names(300, &mut rng);
    write_files(dir, &names, &mut rng);
    let opts = KeyOptions {
        filename_encoding: FilenameEncoding::Ascii,
        ..KeyOptions::default()
    };
    compare(dir, &names, Backend::Worm, "C", &[], &opts);
}

#[test]
fn extension_options_match_calckey() {
    let repo = support::new_git_repo();
    let dir = repo.path();
    let mut rng = Rng(0x5eed_1234_abcd_0003);
    let names = generate_names(300, &mut rng);
    write_files(dir, &names, &mut rng);
    for (len, count) in [(0usize, 2usize), (1, 1), (8, 3), (20, 5), (4, 0)] {
        let opts = KeyOptions {
            max_extension_length: len,
            max_extensions: count,
            ..KeyOptions::default()
        };
        let l = format!("annex.maxextensionlength={len}");
        let c = format!("annex.maxextensions={count}");
        compare(
            dir,
            &names,
            Backend::Md5E,
            "C.UTF-8",
            &["-c", &l, "-c", &c],
            &opts,
        );
    }
}

fn generate_urls(n: usize, rng: &mut Rng) -> Vec<String> {
    const SCHEMES: &[&str] = &["http://", "https://", "ftp://", "file://"];
    const HOSTS: &[&str] = &[
        "example.com",
        "a.b.c.example.org:8080",
        "[::1]",
        "user@host",
    ];
    const PARTS: &[&str] = &[
        "",
        "/",
        "/a/b/c.txt",
        "/file.tar.gz",
        "/%20space%C3%A9",
        "/q?x=1&y=2",
        "/%23notfrag",
        "/~user/,comma",
        "/a+b;c=d",
        "/!$'()*",
        "/_-.",
        "/very/long/path/that/goes/on/and/on/and/on/past/sixty/four/bytes/for/sure",
    ];
    (0..n)
        .map(|i| {
            let mut u = String::new();
            u.push_str(rng.pick(SCHEMES));
            u.push_str(rng.pick(HOSTS));
            for _ in 0..rng.below(3) + 1 {
                u.push_str(rng.pick(PARTS));
            }
            u.push_str(&format!("/{i}"));
            if rng.below(4) == 0 {
                u.push_str("#frag");
            }
            u
        })
        .collect()
}

#[test]
fn url_keys_match_fromkey() {
    let repo = support::new_git_repo();
    let dir = repo.path();
    support::annex(dir, &["init", "-q", "test"]);
    let mut rng = Rng(0x5eed_1234_abcd_0004);
    let urls = generate_urls(300, &mut rng);
    let mut input = Vec::new();
    for (i, u) in urls.iter().enumerate() {
        input.extend_from_slice(format!("{u} f{i}\n").as_bytes());
    }
    annex_with_locale(dir, "C.UTF-8", &["fromkey", "--force", "--batch"], &input);
    let files: String = (0..urls.len()).map(|i| format!("f{i}\n")).collect();
    let out = annex_with_locale(dir, "C.UTF-8", &["lookupkey", "--batch"], files.as_bytes());
    let keys: Vec<&[u8]> = out.split(|&c| c == b'\n').collect();
    assert_eq!(keys.len(), urls.len() + 1);
    for (u, want) in urls.iter().zip(keys) {
        let got = url_key(u.as_bytes(), None, true, FilenameEncoding::Utf8);
        assert_eq!(
            String::from_utf8_lossy(got.as_bytes()),
            String::from_utf8_lossy(want),
            "{u}"
        );
        let url = annex_core::backend::url::other_url_key(&got).expect("VURL key");
        assert_eq!(url.backend_name(), b"URL");
        assert_eq!(url.name(), got.name());
    }
}

#[test]
fn key_for_reader_equals_key_for_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("some.tar.gz");
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &content).expect("write");
    let opts = KeyOptions::default();
    for backend in Backend::ALL {
        let from_file = backend.key_for_file(&KeySource::new(&path), &opts);
        let from_reader = backend.key_for_reader(&content[..], &path, &opts);
        if backend == Backend::Worm {
            assert!(matches!(
                from_reader,
                Err(BackendError::NeedsFile { backend: "WORM" })
            ));
            continue;
        }
        let (a, b) = (from_file.expect("file"), from_reader.expect("reader"));
        assert_eq!(a, b, "{backend}");
        assert_eq!(a.size(), Some(content.len() as u64));
        assert_eq!(Backend::for_key(&a), Some(backend));
        assert_eq!(Backend::from_name(backend.name()), Some(backend));
    }
}

/// A reader that returns data a few bytes at a time and is sometimes
/// interrupted: hashing must not depend on how reads are split.
struct Trickle<'a> {
    data: &'a [u8],
    n: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.n += 1;
        if self.n.is_multiple_of(5) {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        let k = (self.n % 7 + 1).min(buf.len()).min(self.data.len());
        buf[..k].copy_from_slice(&self.data[..k]);
        self.data = &self.data[k..];
        Ok(k)
    }
}

#[test]
fn split_reads_give_the_same_key() {
    let content: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let opts = KeyOptions::default();
    for backend in Backend::ALL.into_iter().filter(|b| *b != Backend::Worm) {
        let whole = backend
            .key_for_reader(&content[..], Path::new("x.bin"), &opts)
            .expect("whole");
        let split = backend
            .key_for_reader(
                Trickle {
                    data: &content,
                    n: 0,
                },
                Path::new("x.bin"),
                &opts,
            )
            .expect("split");
        assert_eq!(whole, split, "{backend}");
    }
}

#[test]
fn verify_matching_and_mismatching_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("f.txt");
    std::fs::write(&path, b"some content").expect("write");
    let opts = KeyOptions::default();
    for backend in Backend::ALL {
        let source = KeySource {
            content: &path,
            name: Path::new("f.txt"),
        };
        let key = backend.key_for_file(&source, &opts).expect("key");
        assert!(backend.verify(&key, &path).expect("verify"), "{backend}");
        assert_eq!(
            annex_core::backend::verify_key(&key, &path).expect("verify_key"),
            Some(true)
        );
        // Same size, different content: only WORM (no checksum) accepts it.
        let other = dir.path().join("other");
        std::fs::write(&other, b"SOME CONTENT").expect("write");
        assert_eq!(
            backend.verify(&key, &other).expect("verify"),
            backend == Backend::Worm,
            "{backend}"
        );
        // Different size: never.
        std::fs::write(&other, b"some content!").expect("write");
        assert!(!backend.verify(&key, &other).expect("verify"), "{backend}");
        // A key of another backend is an error.
        let wrong = if backend == Backend::Md5 {
            Backend::Sha1
        } else {
            Backend::Md5
        };
        assert!(matches!(
            wrong.verify(&key, &path),
            Err(BackendError::WrongBackend { .. })
        ));
    }
    // A huge key of another backend: the message stays bounded.
    let mut huge = b"SHA1-s1--".to_vec();
    huge.extend(std::iter::repeat_n(b'k', 1 << 20));
    let huge = Key::parse(&huge).expect("key");
    let msg = Backend::Md5
        .verify(&huge, &path)
        .expect_err("wrong")
        .to_string();
    assert!(msg.len() < 400, "{} bytes", msg.len());
    // Reading from a reader that fails names the file the content is for.
    struct Failing;
    impl std::io::Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("boom"))
        }
    }
    let err = Backend::Sha256
        .key_for_reader(Failing, Path::new("d/for-this.txt"), &opts)
        .expect_err("read fails");
    assert!(matches!(err, BackendError::Read { .. }), "{err}");
    assert!(err.to_string().contains("d/for-this.txt"), "{err}");
    // A missing file is an I/O error naming it.
    let missing = dir.path().join("missing");
    let key = Key::parse(b"SHA1-s1--abc").expect("key");
    match Backend::Sha1.verify(&key, &missing) {
        Err(BackendError::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected an I/O error, got {other:?}"),
    }
}

#[test]
fn verify_accepts_old_backslash_keys_and_ignores_extension() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("f");
    std::fs::write(&path, b"hello").expect("write");
    // MD5 of "hello"; the old bug left a `\` before the hash.
    for k in [
        &b"MD5-s5--5d41402abc4b2a76b9719d911017c592"[..],
        b"MD5-s5--\\5d41402abc4b2a76b9719d911017c592",
        b"MD5--5d41402abc4b2a76b9719d911017c592.txt",
    ] {
        let key = Key::parse(k).expect("key");
        assert!(Backend::Md5.verify(&key, &path).expect("verify"), "{key}");
    }
    let key = Key::parse(b"MD5E-s5--5d41402abc4b2a76b9719d911017c592.tar.gz").expect("key");
    assert!(Backend::Md5E.verify(&key, &path).expect("verify"));
    let key = Key::parse(b"MD5E-s5--5d41402abc4b2a76b9719d911017c593.tar.gz").expect("key");
    assert!(!Backend::Md5E.verify(&key, &path).expect("verify"));
}

#[test]
fn content_hasher_verifies_incrementally() {
    let key = Key::parse(
        b"SHA256E-s5--2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824.txt",
    )
    .expect("key");
    let mut h = Backend::Sha256E.hasher().expect("hasher");
    h.update(b"hel");
    h.update(b"lo");
    assert_eq!(h.bytes_hashed(), 5);
    assert!(h.matches(&key));
    let mut h = Backend::Sha256E.hasher().expect("hasher");
    h.update(b"hellO");
    assert!(!h.matches(&key));
    assert!(Backend::Worm.hasher().is_none());
}

/// A file whose size is not what `stat` said when it was opened is
/// reported as changed. Files in /proc stat as empty and read as non-empty,
/// which stands in deterministically for a file that grows while hashed.
#[test]
fn file_changing_while_hashed_is_an_error() {
    let path = PathBuf::from("/proc/self/status");
    let r = Backend::Sha256.key_for_file(&KeySource::new(&path), &KeyOptions::default());
    assert!(
        matches!(&r, Err(BackendError::Changed { path: p }) if *p == path),
        "{r:?}"
    );
}

/// A file appended to by another thread while it is hashed: every key we
/// return describes what was read at one time, or we say it changed.
#[test]
fn file_appended_concurrently_gives_consistent_key_or_error() {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("growing");
    std::fs::write(&path, vec![7u8; 4 << 20]).expect("write");
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, path) = (stop.clone(), path.clone());
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .expect("open for append");
            while !stop.load(Ordering::Relaxed) {
                f.write_all(&[1u8; 4096]).expect("append");
                std::thread::sleep(std::time::Duration::from_micros(300));
            }
        })
    };
    let mut changed = 0;
    for _ in 0..20 {
        match Backend::Blake3.key_for_file(&KeySource::new(&path), &KeyOptions::default()) {
            Err(BackendError::Changed { .. }) => changed += 1,
            Ok(key) => {
                // The key must be of a prefix of the file that was there.
                let size = key.size().expect("size") as usize;
                let content = std::fs::read(&path).expect("read");
                let prefix = Backend::Blake3
                    .key_for_reader(&content[..size], &path, &KeyOptions::default())
                    .expect("prefix key");
                assert_eq!(prefix, key);
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    assert!(
        changed > 0,
        "a file appended to all along was never seen to change"
    );
}

#[test]
fn worm_before_1970_is_an_error() {
    let repo = tempfile::tempdir().expect("tempdir");
    let path = repo.path().join("old");
    std::fs::write(&path, b"x").expect("write");
    let f = std::fs::File::options()
        .write(true)
        .open(&path)
        .expect("open");
    f.set_modified(std::time::UNIX_EPOCH - std::time::Duration::from_secs(1000))
        .expect("set mtime");
    let r = Backend::Worm.key_for_file(&KeySource::new(&path), &KeyOptions::default());
    assert!(
        matches!(r, Err(BackendError::NegativeMtime { mtime: -1000, .. })),
        "{r:?}"
    );
}

/// WORM keys are named after the file's path relative to the top of the
/// work tree, simplified, whatever form the path was given in and wherever
/// the command runs: `top_file_path_from` + `key_for_file` give what the
/// reference's `calckey` gives for the same argument in the same directory.
#[test]
fn worm_names_are_relative_to_the_top_like_calckey() {
    use annex_core::backend::path::{top_file_path, top_file_path_from};
    let repo = support::new_git_repo();
    // getcwd (which git-annex uses) gives the physical path.
    let top = repo.path().canonicalize().expect("canonical top");
    let elsewhere = tempfile::tempdir().expect("tmp");
    let out_dir = elsewhere.path().canonicalize().expect("canonical");
    std::fs::create_dir_all(top.join("d/e")).expect("mkdir");
    for (f, content) in [
        (top.join("d/a"), &b"in d"[..]),
        (top.join("top.txt"), b"at top"),
        (out_dir.join("out"), b"outside the work tree"),
    ] {
        std::fs::write(&f, content).expect("write");
    }
    let s = |p: &Path| p.to_str().expect("utf-8 temp path").to_owned();
    let top_name = s(Path::new(top.file_name().expect("name")));
    let out_rel = format!(
        "../{}/out",
        s(Path::new(out_dir.file_name().expect("name")))
    );
    let cases: Vec<(&str, String)> = vec![
        ("", "d/a".into()),
        ("", "./d/a".into()),
        ("", "d/../d/a".into()),
        ("", "d//a".into()),
        ("", "d/e/../a".into()),
        ("", "d/e/../../d/./a".into()),
        ("", s(&top.join("d/a"))),
        ("", format!("{}/./d/../d/a", s(&top))),
        ("", format!("../{top_name}/d/a")),
        ("", s(&out_dir.join("out"))),
        ("", out_rel.clone()),
        ("d", "a".into()),
        ("d", "./a".into()),
        ("d", "../d/a".into()),
        ("d", "../top.txt".into()),
        ("d", "e/../a".into()),
        ("d", s(&top.join("d/a"))),
        ("d", format!("../../{top_name}/top.txt")),
        ("d", s(&out_dir.join("out"))),
        ("d/e", "../../top.txt".into()),
        ("d/e", format!("../../{out_rel}")),
    ];
    let mut mismatches = Vec::new();
    for (sub, arg) in &cases {
        let cwd = top.join(sub);
        let want = support::annex(&cwd, &["calckey", "--backend=WORM", arg]);
        let file = Path::new(arg);
        let name = top_file_path_from(&cwd, &top, file);
        let content = cwd.join(file);
        let ours = Backend::Worm
            .key_for_file(
                &KeySource {
                    content: &content,
                    name: &name,
                },
                &KeyOptions::default(),
            )
            .expect("worm key");
        if ours.to_string() != want.trim_end() {
            mismatches.push(format!(
                "in {sub:?} {arg:?}: ours {ours} reference {}",
                want.trim_end()
            ));
        }
        // With absolute paths no current directory is needed.
        if file.is_absolute() {
            assert_eq!(top_file_path(&top, file).expect("top path"), name);
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));

    // An absolute name is refused rather than put into the key.
    let abs = top.join("d/a");
    let r = Backend::Worm.key_for_file(&KeySource::new(&abs), &KeyOptions::default());
    assert!(
        matches!(r, Err(BackendError::NameNotRelative { .. })),
        "{r:?}"
    );
}

/// The default extension limits are git-annex's (`annex.maxextensionlength`
/// 4, `annex.maxextensions` 2), and `KeyOptions::default()` uses them. That
/// they give what the reference gives without any `-c` is checked by
/// `every_backend_matches_calckey`, which runs `calckey` without options.
#[test]
fn default_extension_limits_are_git_annex_defaults() {
    use annex_core::backend::extension::{DEFAULT_MAX_EXTENSION_LENGTH, DEFAULT_MAX_EXTENSIONS};
    assert_eq!(DEFAULT_MAX_EXTENSION_LENGTH, 4);
    assert_eq!(DEFAULT_MAX_EXTENSIONS, 2);
    let opts = KeyOptions::default();
    assert_eq!(opts.max_extension_length, 4);
    assert_eq!(opts.max_extensions, 2);
    // And one name where the limits bite, against the reference run
    // without `-c`.
    let repo = support::new_git_repo();
    let name = "x.aaaaa.bb.ccc.dddd";
    std::fs::write(repo.path().join(name), b"x").expect("write");
    let want = support::annex(repo.path(), &["calckey", "--backend=MD5E", name]);
    let full = repo.path().join(name);
    let source = KeySource {
        content: &full,
        name: Path::new(name),
    };
    let ours = Backend::Md5E.key_for_file(&source, &opts).expect("key");
    assert_eq!(ours.to_string(), want.trim_end());
    assert!(ours.as_bytes().ends_with(b".ccc.dddd"), "{ours}");
}

mod properties {
    use annex_core::backend::extension::select_extension;
    use annex_core::backend::keyname::{FilenameEncoding, gen_key_name};
    use proptest::prelude::*;

    fn arb_file_name() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..100),
            prop::collection::vec(
                prop::sample::select(vec![b'.', b'a', b'Z', b'0', b' ', b'/', 0xc3, 0xa9, b'-']),
                0..30
            ),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Whatever the name and limits, the extension is empty or `.`
        /// followed by at most `count` non-empty parts of at most `len`
        /// bytes, each made of letters, digits or non-ASCII bytes, and it
        /// is a suffix of the file name.
        #[test]
        fn selected_extension_obeys_the_limits(
            name in arb_file_name(),
            len in 0usize..10,
            count in 0usize..5,
        ) {
            let ext = select_extension(&name, len, count);
            if !ext.is_empty() {
                prop_assert_eq!(ext[0], b'.');
                let parts: Vec<&[u8]> = ext[1..].split(|&b| b == b'.').collect();
                prop_assert!(parts.len() <= count);
                for p in parts {
                    prop_assert!(!p.is_empty() && p.len() <= len);
                    prop_assert!(p.iter().all(|&b| b.is_ascii_alphanumeric() || b >= 128));
                }
            }
        }

        /// Generated key names are ASCII, without spaces or newlines, and
        /// long inputs give exactly 64 bytes.
        #[test]
        fn key_names_are_ascii_and_bounded(input in prop::collection::vec(any::<u8>(), 0..200)) {
            for enc in [FilenameEncoding::Utf8, FilenameEncoding::Ascii] {
                let n = gen_key_name(&input, enc);
                prop_assert!(n.is_ascii());
                prop_assert!(!n.contains(&b' ') && !n.contains(&b'\n'));
                if input.len() > 64 {
                    prop_assert_eq!(n.len(), 64);
                } else {
                    prop_assert!(n.len() >= input.len());
                }
            }
        }
    }
}
