//! git-annex-shell's commands from before the P2P protocol: `inannex`,
//! `dropkey`, `recvkey`, `sendkey` (git-annex clients older than
//! 6.20180312 used them; git-annex 10.20261026's client no longer does,
//! but its git-annex-shell still serves them, and so does ours), with
//! the options they take, as git-annex-shell parses them.
//!
//! - `inannex KEY...`: exit 0 when every key's content is here, 1 at the
//!   first that is not, 100 when one cannot be told (locked for removal).
//! - `dropkey --force KEY...`: removes the content under the removal
//!   lock and records the removal in the repository's journal (not
//!   committed: the next git-annex command there commits it, as with
//!   git-annex's); `--json` reports each key.
//! - `recvkey KEY`, `sendkey KEY`: the content over rsync's protocol, as
//!   git-annex's: the real `rsync --server` runs on this side with the
//!   stdio of the connection, only `--bwlimit` taken from the client's
//!   rsync options; what `recvkey` receives is verified against its key
//!   before it enters the store, then recorded in the journal. With the
//!   field `remoteuuid`, the transfer is recorded under
//!   `.git/annex/transfer/` as git-annex records it.
//!
//! A key is parsed as git-annex parses it (`bad key` otherwise); its
//! object is always inside the store, whatever its name holds (the name
//! is escaped into one path component).

use std::path::Path;
use std::process::Command;

use annex_core::content;
use annex_core::key::Key;
use annex_core::remote::{LocalGitRemote, Remote, RemoteError};
use annex_core::transfer::{self, Direction};
use annex_core::uuid::Uuid;

use crate::shell::ShellError;

/// Options of git-annex-shell's own commands (git-annex's common
/// options, `--uuid`, and for `dropkey` its JSON and batch options).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    /// `--uuid`: the repository the client expects.
    pub uuid: Option<String>,
    /// `--force`.
    pub force: bool,
    /// `--json`.
    pub json: bool,
    /// `--batch`.
    pub batch: bool,
    /// Everything else, in order.
    pub args: Vec<String>,
}

/// Parses `params` as git-annex-shell's option parser does; `json` says
/// whether the command takes `--json` and `--batch` (only `dropkey`).
pub(crate) fn parse_options(params: &[String], json: bool) -> Result<Options, ShellError> {
    const FLAGS: &[&str] = &[
        "--force",
        "--fast",
        "-F",
        "--quiet",
        "-q",
        "--verbose",
        "-v",
        "--debug",
        "-d",
        "--no-debug",
        "--explain",
    ];
    let mut o = Options::default();
    let mut it = params.iter();
    while let Some(p) = it.next() {
        let (name, inline) = match p.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (p.as_str(), None),
        };
        let mut value = || -> Result<String, ShellError> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| ShellError::MissingArgument(name.to_string())),
            }
        };
        match name {
            "--uuid" => o.uuid = Some(value()?),
            "--debugfilter" => {
                value()?;
            }
            "--force" => o.force = true,
            "--json" | "-j" if json => o.json = true,
            // Only what `--json` prints: the errors are in it already.
            "--json-error-messages" if json => {}
            "--batch" if json => o.batch = true,
            f if FLAGS.contains(&f) && inline.is_none() => {}
            a if a.starts_with('-') && a != "-" => {
                return Err(ShellError::InvalidOption(p.clone()));
            }
            _ => o.args.push(p.clone()),
        }
    }
    Ok(o)
}

/// `--uuid`: the repository must have that UUID.
pub(crate) fn check_uuid(expected: Option<&str>, found: &Uuid) -> Result<(), ShellError> {
    match expected {
        Some(e) if e != found.as_str() => Err(ShellError::UnexpectedUuid {
            expected: e.to_string(),
            found: format!("UUID {found}"),
        }),
        _ => Ok(()),
    }
}

/// The repository at `path`, whose UUID must be the one the client
/// expects (`--uuid`), when it names one.
fn open(path: &Path, o: &Options) -> Result<LocalGitRemote, ShellError> {
    let repo = LocalGitRemote::open("here", path, None, 0.0)
        .map_err(|e| ShellError::Failed(e.to_string()))?;
    check_uuid(o.uuid.as_deref(), repo.uuid())?;
    Ok(repo)
}

/// The one key `recvkey` and `sendkey` act on (the first given; `None`
/// for none).
fn first_key(o: &Options) -> Result<Option<Key>, ShellError> {
    o.args
        .first()
        .map(|k| parse_key(k).ok_or_else(|| ShellError::Failed("bad key".into())))
        .transpose()
}

fn parse_key(s: &str) -> Option<Key> {
    Key::parse(s.as_bytes()).ok()
}

/// `inannex KEY...`: the exit code.
pub(crate) fn inannex(path: &Path, o: &Options) -> Result<i32, ShellError> {
    let repo = open(path, o)?;
    for k in &o.args {
        let key = parse_key(k).ok_or_else(|| ShellError::Failed("bad key".into()))?;
        match present_unless_removing(repo.object_store(), &key) {
            Some(true) => {}
            Some(false) => return Ok(1),
            None => return Ok(100),
        }
    }
    Ok(0)
}

/// git-annex's `inAnnexSafe` as its `inannex` reads it: `Some(true)`
/// when the content is here (a client's shared lock on it included),
/// `Some(false)` when not, `None` while a removal holds its exclusive
/// lock (it may be gone in a moment).
fn present_unless_removing(store: &annex_core::objects::ObjectStore, key: &Key) -> Option<bool> {
    let Some(object) = store.find(key) else {
        return Some(false);
    };
    let Ok(file) = std::fs::File::open(content::lock_file(&object)) else {
        return Some(true);
    };
    // A read lock conflicts only with a write (removal) lock.
    let probe = rustix::process::Flock::from(rustix::process::FlockType::ReadLock);
    match rustix::process::fcntl_getlk(&file, &probe) {
        Ok(None) => Some(true),
        Ok(Some(_)) | Err(_) => None,
    }
}

/// `dropkey [--force] [--json] KEY...`: the exit code.
pub(crate) fn dropkey(path: &Path, o: &Options) -> Result<i32, ShellError> {
    let repo = open(path, o)?;
    if !o.force {
        return Err(ShellError::Failed(
            "dropkey can cause data loss; use --force if you're sure you want to do this".into(),
        ));
    }
    if o.batch && !o.args.is_empty() {
        return Err(ShellError::Failed(
            "Cannot combine batch option with file or key options".into(),
        ));
    }
    // In batch mode, each line of stdin is a key, read as it comes (a
    // line that is no key ends it all, as with git-annex).
    let mut lines = o.batch.then(|| {
        use std::io::BufRead;
        std::io::stdin().lock().lines().map_while(Result::ok)
    });
    let mut args = o.args.iter().cloned();
    let mut next = move || match lines.as_mut() {
        Some(l) => l.next(),
        None => args.next(),
    };
    let mut failed = 0usize;
    while let Some(k) = next() {
        let k = &k;
        let Some(key) = parse_key(k) else {
            if o.batch {
                return Err(ShellError::Failed(
                    "Batch input parse failure: bad key".into(),
                ));
            }
            if o.json {
                return Err(ShellError::Failed("bad key".into()));
            }
            eprintln!("git-annex: bad key");
            failed += 1;
            continue;
        };
        let result = if repo.object_store().has(&key) {
            // Under the removal lock; the log first, in the journal.
            repo.remove(&key).map_err(|e| match e {
                // git-annex's words, without the lock file's path.
                RemoteError::Content(content::ContentError::Locked { .. }) => {
                    "content is locked".to_string()
                }
                e => e.to_string(),
            })
        } else {
            Ok(())
        };
        if let Err(e) = &result {
            eprintln!("git-annex: {e}");
            failed += 1;
        }
        if o.json {
            // git-annex's record leaves the error out of `error-messages`
            // (it went to stderr).
            let line = serde_json::json!({
                "command": "dropkey",
                "error-messages": Vec::<String>::new(),
                "input": [k],
                "key": k,
                "success": result.is_ok(),
            });
            println!("{line}");
        }
    }
    if failed > 0 {
        eprintln!("dropkey: {failed} failed");
        return Ok(1);
    }
    Ok(0)
}

/// The client's rsync options that are safe to hand to the server's
/// rsync (git-annex's `filterRsyncSafeOptions`: only `--bwlimit`, given
/// in full or by an unambiguous prefix, with its value).
pub(crate) fn safe_rsync_options(words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        let Some(long) = w.strip_prefix("--") else {
            continue;
        };
        let (name, inline) = match long.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (long, None),
        };
        if name.is_empty() || !"bwlimit".starts_with(name) {
            continue;
        }
        if let Some(v) = inline.or_else(|| it.next().cloned()) {
            out.push(format!("--bwlimit={v}"));
        }
    }
    out
}

/// rsync in server mode, as git-annex runs it, on the connection's stdio.
fn rsync_server(sender: bool, opts: &[String], file: &Path) -> bool {
    let mut cmd = Command::new("rsync");
    cmd.args(["--server", "-t", "--inplace", "-e.Lsf", "."]);
    if sender {
        cmd.arg("--sender");
    }
    cmd.args(opts).arg(file);
    match cmd.status() {
        Ok(s) => s.success(),
        Err(e) => {
            eprintln!("git-annex-shell: rsync: {e}");
            false
        }
    }
}

/// The transfer the `remoteuuid` field names, started as git-annex
/// starts it; `Ok(None)` without the field.
fn start_transfer(
    repo: &LocalGitRemote,
    remote: Option<&str>,
    direction: Direction,
    key: &Key,
) -> Result<Option<transfer::Transfer>, ()> {
    let Some(u) = remote.and_then(|u| Uuid::parse(u.as_bytes()).ok()) else {
        return Ok(None);
    };
    // The sender goes on even when another upload seems to run.
    let always = direction == Direction::Upload;
    match transfer::Transfer::start(repo.git_dir(), direction, &u, key, b"", always) {
        Ok(t) => Ok(Some(t)),
        Err(_) => {
            eprintln!("  transfer already in progress, or unable to take transfer lock");
            Err(())
        }
    }
}

/// `recvkey KEY`: receives the content with `rsync --server`; the exit
/// code (only the first key counts, as git-annex's exits after it).
pub(crate) fn recvkey(
    path: &Path,
    o: &Options,
    remote: Option<&str>,
    rsync_words: &[String],
) -> Result<i32, ShellError> {
    let repo = open(path, o)?;
    let Some(key) = first_key(o)? else {
        return Ok(0);
    };
    let Ok(t) = start_transfer(&repo, remote, Direction::Download, &key) else {
        return Ok(1);
    };
    let store = repo.object_store();
    let tmp = store.tmp_path(&key);
    if let Some(dir) = tmp.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| ShellError::Failed(format!("{}: {e}", dir.display())))?;
    }
    let ok =
        rsync_server(false, &safe_rsync_options(rsync_words), &tmp) && admit(&repo, &key, &tmp);
    if let Some(t) = t {
        t.finish(ok);
    }
    if !ok {
        return Ok(1);
    }
    repo.record_presence(&key, true)
        .map_err(|e| ShellError::Failed(e.to_string()))?;
    Ok(0)
}

/// Verifies what arrived in `tmp` and moves it into the store.
fn admit(repo: &LocalGitRemote, key: &Key, tmp: &Path) -> bool {
    let store = repo.object_store();
    if !annex_core::backend::received_content_ok(key, tmp, false) {
        eprintln!("  Verification of content failed");
        let _ = std::fs::remove_file(tmp);
        return false;
    }
    if store.has(key) {
        let _ = std::fs::remove_file(tmp);
        return true;
    }
    match store.ingest_from_temp(tmp, key) {
        Ok(_) => {
            // The repository's unlocked files of the key get the content,
            // as git-annex's receiving side fills them in.
            annex_core::pointer::populate_unlocked_of(
                repo.git_dir(),
                std::slice::from_ref(key),
                store,
            );
            true
        }
        Err(e) => {
            eprintln!("git-annex-shell: {e}");
            false
        }
    }
}

/// `sendkey KEY`: sends the content with `rsync --server --sender`; the
/// exit code.
pub(crate) fn sendkey(
    path: &Path,
    o: &Options,
    remote: Option<&str>,
    rsync_words: &[String],
) -> Result<i32, ShellError> {
    let repo = open(path, o)?;
    let Some(key) = first_key(o)? else {
        return Ok(0);
    };
    let store = repo.object_store();
    // Held while sending, so that no drop takes the content mid-way.
    let lock = content::lock_shared(store, &key).ok();
    let Some(object) = lock.as_ref().and_then(|_| store.find(&key)) else {
        eprintln!("  requested key is not present");
        return Ok(1);
    };
    let Ok(t) = start_transfer(&repo, remote, Direction::Upload, &key) else {
        return Ok(1);
    };
    let ok = rsync_server(true, &safe_rsync_options(rsync_words), &object);
    if let Some(t) = t {
        t.finish(ok);
    }
    drop(lock);
    Ok(if ok { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn only_bwlimit_reaches_the_servers_rsync() {
        assert_eq!(
            safe_rsync_options(&s(&[
                "dummy",
                "rsync",
                "--server",
                "-vlogDtpre.iLsfxCIvu",
                "--bwlimit=100",
                "--bw",
                "7",
                "--delete",
                "--files-from=/etc/passwd",
                ".",
                "x"
            ])),
            s(&["--bwlimit=100", "--bwlimit=7"])
        );
        assert!(safe_rsync_options(&s(&["--", "--=x", "-e", "sh"])).is_empty());
    }

    #[test]
    fn options_are_parsed_as_git_annex_shell_parses_them() {
        let o = parse_options(&s(&["--force", "-q", "--uuid", "u", "k1", "k2"]), false)
            .expect("parsed");
        assert_eq!(
            o,
            Options {
                uuid: Some("u".into()),
                force: true,
                args: s(&["k1", "k2"]),
                ..Default::default()
            }
        );
        assert_eq!(
            parse_options(&s(&["--json", "k"]), false),
            Err(ShellError::InvalidOption("--json".into()))
        );
        assert!(parse_options(&s(&["--json", "k"]), true).is_ok_and(|o| o.json));
        assert_eq!(
            parse_options(&s(&["--uuid"]), false),
            Err(ShellError::MissingArgument("--uuid".into()))
        );
    }
}
