//! `type=rsync`: content kept where the `rsync` program reaches, a local
//! directory or `[user@]host:path` over ssh (`rsync://` daemons too), laid
//! out as git-annex lays it out there: `URL/HASH/KEY/KEY`, the key's
//! lower-case hash directory (`abc/def/`) written, the mixed-case one
//! (`Xy/Zw/`) also looked in, as older git-annex versions wrote there.
//!
//! Every operation runs `rsync` as git-annex's rsync remote runs it, so a
//! remote written by either is read by the other:
//! - store: the key's file linked (or copied) into a scratch tree
//!   `.git/annex/tmp/rsynctmp/PID/HASH/KEY/KEY`, sent with `--recursive
//!   --partial --partial-dir=.rsync-partial` (rsync writes a temp name and
//!   moves it into place only when complete; an interrupted send resumes);
//! - retrieve: `rsync --inplace URL/HASH/KEY/KEY DEST` for each layout
//!   until one works, then the content is checked against its key;
//! - checkpresent: `rsync URL/HASH/KEY/KEY` (a listing): present when it
//!   succeeds; rsync's "some files could not be transferred" (23) is
//!   absence, any other failure (the host unreachable) is "cannot tell",
//!   never absence;
//! - remove: an empty scratch directory sent with `--delete`, only the
//!   key's directories included.
//!
//! Over ssh, rsync's `-e` is ssh with the remote's `annex-ssh-options`
//! (the same [`ssh`](crate::remote::ssh) command line as the ssh remotes,
//! without connection caching), or `remote.NAME.annex-rsync-transport`
//! (`ssh OPTIONS...`, its `-p PORT` taken as the port, or `rsh OPTIONS...`).
//! `remote.NAME.annex-rsync-options`, `-upload-options` and
//! `-download-options` are passed on, except `--delete` and
//! `--delete-excluded`, which git-annex refuses too. `shellescape=no` turns
//! off quoting the remote paths for the remote shell; as git-annex, none is
//! done when rsync protects its arguments itself (3.2.4 and up, which have
//! `--old-args`).
//!
//! Chunking (`chunk=`) and encryption go through [`super::layered`]:
//! this type is its [`Storage`], each chunk or encrypted object stored
//! under its own key (`GPGHMACSHA1--...`, `KEY-S...-C...`) in the same
//! hashed layout, as git-annex's rsync remote stores them.
//!
//! Not yet: progress while a transfer runs (reported when it ends),
//! export.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::layered::Storage;
use crate::key::Key;
use crate::objects::{hash_dir_lower, hash_dir_mixed};
use crate::remote::ssh::{SshConfig, SshUrl, ssh_command};
use crate::remote::{ContentLockGuard, Progress, Remote, RemoteError};
use crate::uuid::Uuid;

/// How to reach an rsync remote, from its git config.
#[derive(Debug, Clone, Default)]
pub struct RsyncSetup {
    /// `remote.NAME.annex-rsyncurl`: a path, `[user@]host:path` or
    /// `rsync://...`.
    pub url: String,
    /// `shellescape=` of `remote.log` (`None`: yes).
    pub shellescape: Option<bool>,
    /// `remote.NAME.annex-ssh-options`, split at white space.
    pub ssh_options: Vec<String>,
    /// `remote.NAME.annex-rsync-transport`, split at white space.
    pub transport: Vec<String>,
    /// `remote.NAME.annex-rsync-options`, split at white space.
    pub options: Vec<String>,
    /// `remote.NAME.annex-rsync-upload-options`.
    pub upload_options: Vec<String>,
    /// `remote.NAME.annex-rsync-download-options`.
    pub download_options: Vec<String>,
}

/// An rsync special remote.
#[derive(Debug)]
pub struct RsyncRemote {
    name: String,
    uuid: Uuid,
    cost: f64,
    url: String,
    escape: bool,
    shell: Vec<String>,
    options: Vec<String>,
    upload: Vec<String>,
    download: Vec<String>,
    scratch: PathBuf,
}

/// Whether `url` goes through a remote shell (`host:path`; `host::path`
/// and `rsync://` are rsync's own protocol), as git-annex tells.
pub fn url_is_shell(url: &str) -> bool {
    if url.starts_with("rsync://") {
        return false;
    }
    for (i, c) in url.char_indices() {
        match c {
            '/' => return false,
            ':' => return !url[i + 1..].starts_with(':'),
            _ => {}
        }
    }
    false
}

/// Whether `url` is a path on this machine.
pub fn url_is_path(url: &str) -> bool {
    !url_is_shell(url) && !url.contains(':')
}

/// rsync's `-e` value for a command: each word in single quotes, a quote
/// inside doubled (rsync's own quoting, as git-annex writes it).
pub fn rsync_shell(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', "''")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether the installed rsync protects its arguments from the remote
/// shell (it has `--old-args`, 3.2.4 and up).
fn rsync_protects_args() -> bool {
    Command::new("rsync")
        .arg("--help")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("--old-args"))
        .unwrap_or(false)
}

fn safe_options(opts: &[String]) -> Vec<String> {
    opts.iter()
        .filter(|o| *o != "--delete" && *o != "--delete-excluded")
        .cloned()
        .collect()
}

/// rsync's exit code for "some files could not be transferred" (a file
/// that is not there).
const RSYNC_PARTIAL: i32 = 23;
/// rsync's exit code for a vanished source file.
const RSYNC_VANISHED: i32 = 24;

impl RsyncRemote {
    /// The remote `name`; `git_dir` is the repository's (its scratch
    /// trees go under `.git/annex/tmp/rsynctmp/`).
    pub fn new(
        name: &str,
        uuid: Uuid,
        cost: f64,
        setup: RsyncSetup,
        git_dir: &Path,
    ) -> Result<RsyncRemote, RemoteError> {
        let unavailable = |reason: String| RemoteError::Unavailable {
            remote: name.to_string(),
            reason,
        };
        let url = setup.url.clone();
        let shell = if url_is_shell(&url) {
            let login = url
                .split(':')
                .next()
                .and_then(|h| h.rsplit_once('@'))
                .map(|(l, _)| l.to_string());
            let loginopt: Vec<String> = login
                .into_iter()
                .flat_map(|l| ["-l".to_string(), l])
                .collect();
            let transport = if setup.transport.is_empty() {
                vec!["ssh".to_string()]
            } else {
                setup.transport.clone()
            };
            match transport.first().map(String::as_str) {
                Some("ssh") => {
                    let (port, rest) = read_port(&transport[1..]);
                    let host = url.split(':').next().unwrap_or_default().to_string();
                    let mut options = setup.ssh_options.clone();
                    options.extend(loginopt);
                    options.extend(rest);
                    let config = SshConfig {
                        options,
                        ..SshConfig::default()
                    };
                    let ssh_url = SshUrl {
                        host: host.clone(),
                        port,
                        path: String::new(),
                    };
                    let cmd = ssh_command(&ssh_url, "", &config).map_err(unavailable)?;
                    let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
                    let mut args: Vec<String> = cmd
                        .get_args()
                        .map(|a| a.to_string_lossy().into_owned())
                        .collect();
                    // rsync appends the host and its command itself.
                    args.pop();
                    if let Some(i) = args.iter().rposition(|a| *a == host) {
                        args.remove(i);
                    }
                    words.extend(args);
                    vec!["-e".to_string(), rsync_shell(&words)]
                }
                Some("rsh") => {
                    let mut words = vec!["rsh".to_string()];
                    words.extend(loginopt);
                    words.extend(transport[1..].iter().cloned());
                    vec!["-e".to_string(), rsync_shell(&words)]
                }
                _ => {
                    return Err(unavailable(format!(
                        "Unknown Rsync transport: {}",
                        transport.join(" ")
                    )));
                }
            }
        } else {
            Vec::new()
        };
        let escape = if rsync_protects_args() {
            false
        } else {
            setup.shellescape.unwrap_or(true)
        };
        Ok(RsyncRemote {
            name: name.to_string(),
            uuid,
            cost,
            url,
            escape,
            shell,
            options: safe_options(&setup.options),
            upload: safe_options(&setup.upload_options),
            download: safe_options(&setup.download_options),
            scratch: git_dir.join("annex/tmp/rsynctmp"),
        })
    }

    fn key_file(key: &Key) -> String {
        String::from_utf8_lossy(&crate::objects::key_file(key)).into_owned()
    }

    /// The key's rsync URLs, the lower-case hash layout first.
    pub fn urls(&self, key: &Key) -> [String; 2] {
        let kf = Self::key_file(key);
        let url = |h: String| {
            let base = if self.url.ends_with('/') || self.url.is_empty() {
                format!("{}{h}", self.url)
            } else {
                format!("{}/{h}", self.url)
            };
            let p = format!("{kf}/{kf}");
            let p = if self.escape && url_is_shell(&self.url) {
                crate::remote::ssh::shell_quote(&p)
            } else {
                p
            };
            format!("{base}{p}")
        };
        [url(hash_dir_lower(key)), url(hash_dir_mixed(key))]
    }

    fn failed(&self, what: &str, detail: &str) -> RemoteError {
        RemoteError::Refused {
            remote: self.name.clone(),
            reason: if detail.is_empty() {
                what.to_string()
            } else {
                format!("{what}: {detail}")
            },
        }
    }

    fn rsync(&self, extra: &[String]) -> Command {
        let mut cmd = Command::new("rsync");
        cmd.args(&self.shell).args(&self.options).args(extra);
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Runs `cmd`: its exit code (`None`: killed) and stderr.
    fn run(&self, mut cmd: Command) -> Result<(Option<i32>, String), RemoteError> {
        let out = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| self.failed("cannot run rsync", &e.to_string()))?;
        Ok((
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }

    /// A fresh, empty scratch directory (removed when dropped).
    fn scratch_dir(&self) -> Result<tempfile::TempDir, RemoteError> {
        std::fs::create_dir_all(&self.scratch).map_err(|e| {
            self.failed(
                &format!("cannot create {}", self.scratch.display()),
                &e.to_string(),
            )
        })?;
        tempfile::Builder::new()
            .prefix("rsynctmp")
            .tempdir_in(&self.scratch)
            .map_err(|e| {
                self.failed(
                    &format!("cannot create {}", self.scratch.display()),
                    &e.to_string(),
                )
            })
    }

    fn with_slash(p: &Path) -> String {
        let mut s = p.display().to_string();
        if !s.ends_with('/') {
            s.push('/');
        }
        s
    }

    /// Copies what is stored under `key` into `dest` (not verified):
    /// each layout tried in turn, `--inplace` so that an interrupted
    /// transfer resumes. [`RemoteError::NotPresent`] when rsync finds it
    /// in none of them (exit 23, or the local directory without it).
    fn fetch(&self, key: &Key, dest: &Path, progress: Progress<'_>) -> Result<(), RemoteError> {
        if let Some(dir) = dest.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let mut last = String::new();
        let mut all_missing = true;
        for u in self.urls(key) {
            let mut extra = self.download.clone();
            extra.push("--inplace".to_string());
            extra.push(u);
            extra.push(dest.display().to_string());
            let (code, err) = self.run(self.rsync(&extra))?;
            if code == Some(0) {
                let size = std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0);
                progress(size);
                return Ok(());
            }
            if code != Some(RSYNC_PARTIAL) {
                all_missing = false;
            }
            last = err;
        }
        match self.local_dir() {
            Some(dir) if dir.is_dir() && !self.urls(key).iter().any(|u| Path::new(u).exists()) => {
                return Err(RemoteError::NotPresent);
            }
            Some(_) => {}
            // Over the network: rsync's "some files could not be
            // transferred" for every layout is a file not there.
            None if all_missing => return Err(RemoteError::NotPresent),
            None => {}
        }
        Err(self.failed(
            "rsync failed -- run git annex again to resume file transfer",
            &last,
        ))
    }

    /// The local directory of a path URL, when it is one.
    fn local_dir(&self) -> Option<&Path> {
        url_is_path(&self.url).then(|| Path::new(&self.url))
    }
}

/// Splits `-p PORT` out of ssh options (the last one wins).
fn read_port(opts: &[String]) -> (Option<String>, Vec<String>) {
    let mut port = None;
    let mut rest = Vec::new();
    let mut it = opts.iter();
    while let Some(o) = it.next() {
        if o == "-p" {
            port = it.next().cloned();
        } else if let Some(p) = o.strip_prefix("-p")
            && !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_digit())
        {
            port = Some(p.to_string());
        } else {
            rest.push(o.clone());
        }
    }
    (port, rest)
}

impl Remote for RsyncRemote {
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
        // A directory not there is absent content (rsync makes it when
        // storing) unless the directory above it is not there either (a
        // drive not mounted): then nobody can tell.
        if let Some(dir) = self.local_dir()
            && !dir.is_dir()
            && !dir
                .parent()
                .is_some_and(|p| p.as_os_str().is_empty() || p.is_dir())
        {
            return Err(RemoteError::Unavailable {
                remote: self.name.clone(),
                reason: format!("{} is not accessible", dir.display()),
            });
        }
        let mut unknown = None;
        for u in self.urls(key) {
            let (code, err) = self.run(self.rsync(&[u]))?;
            match code {
                Some(0) => return Ok(true),
                Some(RSYNC_PARTIAL) | Some(RSYNC_VANISHED) => {}
                _ => unknown = Some(err),
            }
        }
        match unknown {
            None => Ok(false),
            Some(err) => Err(RemoteError::Unavailable {
                remote: self.name.clone(),
                reason: format!("rsync failed: {err}"),
            }),
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
        self.fetch(key, dest, progress)?;
        super::web::verify_download(key, dest)
    }

    fn store(
        &self,
        key: &Key,
        src: &Path,
        _our_uuid: &Uuid,
        _file: &[u8],
        progress: Progress<'_>,
    ) -> Result<(), RemoteError> {
        let tmp = self.scratch_dir()?;
        let kf = Self::key_file(key);
        let dir = tmp.path().join(hash_dir_lower(key)).join(&kf);
        std::fs::create_dir_all(&dir).map_err(|e| {
            self.failed(&format!("cannot create {}", dir.display()), &e.to_string())
        })?;
        let dest = dir.join(&kf);
        if std::fs::hard_link(src, &dest).is_err() {
            std::fs::copy(src, &dest).map_err(|e| {
                self.failed(&format!("cannot copy {}", src.display()), &e.to_string())
            })?;
        }
        let mut extra = self.upload.clone();
        extra
            .extend(["--recursive", "--partial", "--partial-dir=.rsync-partial"].map(String::from));
        extra.push(Self::with_slash(tmp.path()));
        extra.push(self.url.clone());
        let (code, err) = self.run(self.rsync(&extra))?;
        if code != Some(0) {
            return Err(self.failed(
                "rsync failed -- run git annex again to resume file transfer",
                &err,
            ));
        }
        progress(std::fs::metadata(src).map(|m| m.len()).unwrap_or(0));
        Ok(())
    }

    fn remove(&self, key: &Key) -> Result<(), RemoteError> {
        let tmp = self.scratch_dir()?;
        let kf = Self::key_file(key);
        let mut extra: Vec<String> = Vec::new();
        for h in [hash_dir_lower(key), hash_dir_mixed(key)] {
            let parent = h
                .trim_end_matches('/')
                .rsplit_once('/')
                .map(|(p, _)| p.to_string());
            if let Some(p) = parent {
                extra.push(format!("--include={p}"));
            }
            extra.push(format!("--include={h}"));
            extra.push(format!("--include={h}{kf}/***"));
        }
        extra.extend(
            [
                "--exclude=*",
                "--quiet",
                "--delete",
                "--recursive",
                "--partial",
                "--partial-dir=.rsync-partial",
            ]
            .map(String::from),
        );
        extra.push(Self::with_slash(tmp.path()));
        extra.push(self.url.clone());
        let (code, err) = self.run(self.rsync(&extra))?;
        if code != Some(0) {
            return Err(self.failed("rsync failed", &err));
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

impl Storage for RsyncRemote {
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
        self.fetch(key, dest, progress)
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
    fn urls_are_told_as_git_annex_tells_them() {
        assert!(url_is_shell("host:/dir"));
        assert!(url_is_shell("user@host:dir"));
        assert!(!url_is_shell("host::module"));
        assert!(!url_is_shell("rsync://host/module"));
        assert!(!url_is_shell("/a/b:c"));
        assert!(url_is_path("/a/b"));
        assert!(url_is_path("rel/dir"));
        assert!(!url_is_path("host::module"));
        assert_eq!(
            rsync_shell(&["ssh".into(), "-o".into(), "it's".into()]),
            "'ssh' '-o' 'it''s'"
        );
        assert_eq!(
            read_port(&["-p".into(), "22".into(), "-i".into(), "k".into()]),
            (
                Some("22".to_string()),
                vec!["-i".to_string(), "k".to_string()]
            )
        );
    }

    #[test]
    fn store_check_retrieve_remove_in_a_local_directory() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("d");
        std::fs::create_dir(&dir).unwrap();
        let git_dir = t.path().join("git");
        std::fs::create_dir(&git_dir).unwrap();
        let src = t.path().join("src");
        std::fs::write(&src, b"x\n").unwrap();
        let key = Key::parse(
            b"SHA256E-s2--73cb3858a687a8494ca3323053016282f3dad39d42cf62ca4e79dda2aac7d9ac",
        )
        .unwrap();
        let u = Uuid::parse(b"3ac29831-cfaa-4b67-b7b8-6d476b3cfe13").unwrap();
        let setup = RsyncSetup {
            url: dir.display().to_string(),
            ..RsyncSetup::default()
        };
        let r = RsyncRemote::new("r", u.clone(), 200.0, setup, &git_dir).unwrap();
        assert!(!r.check_present(&key).unwrap());
        r.store(&key, &src, &u, b"f", &mut |_| {}).unwrap();
        let kf = "SHA256E-s2--73cb3858a687a8494ca3323053016282f3dad39d42cf62ca4e79dda2aac7d9ac";
        assert!(dir.join("47f/d79").join(kf).join(kf).is_file());
        assert!(r.check_present(&key).unwrap());
        let dest = t.path().join("got");
        r.retrieve(&key, &dest, &u, b"f", &mut |_| {}).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"x\n");
        r.remove(&key).unwrap();
        assert!(!r.check_present(&key).unwrap());
        assert!(!dir.join("47f/d79").join(kf).exists());
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(!r.check_present(&key).unwrap());
        let gone = RsyncSetup {
            url: t.path().join("unmounted/d").display().to_string(),
            ..RsyncSetup::default()
        };
        let r = RsyncRemote::new("r", u.clone(), 200.0, gone, &git_dir).unwrap();
        assert!(
            r.check_present(&key).is_err(),
            "a missing drive is not absence"
        );
    }
}
