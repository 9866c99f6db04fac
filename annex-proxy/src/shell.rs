//! `git-annex-shell`: what a client runs over ssh on the machine holding
//! a repository (`git-annex-shell [-c] COMMAND DIRECTORY [PARAMS ...]
//! [-- FIELD=VALUE ... --]`), with the restrictions an administrator sets
//! in its environment, refused in git-annex's words:
//!
//! - `GIT_ANNEX_SHELL_READONLY`: commands that write are blocked; `p2pstdio`
//!   serves read-only.
//! - `GIT_ANNEX_SHELL_APPENDONLY`: removal is blocked; `p2pstdio` serves
//!   append-only.
//! - `GIT_ANNEX_SHELL_LIMITED`: only git-annex-shell's own commands; git's
//!   (`git-upload-pack`, ...) are blocked.
//! - `GIT_ANNEX_SHELL_DIRECTORY`: only that repository (compared as
//!   git-annex compares: `~/` and `/~/` forms, relative to home).
//!
//! A variable counts when it is set and not empty. Served here, as
//! git-annex 10.20261026's git-annex-shell serves them:
//!
//! - `p2pstdio`: the P2P protocol ([`crate::server`]); like git-annex's,
//!   without `CONNECT` or `NOTIFYCHANGE` (its connection knows no
//!   repository to relay git to and watches no refs).
//! - `configlist` (with the `autoinit` field).
//! - `notifychanges`: `READY`, then `CHANGED SHA...` each time refs change
//!   ([`crate::refwatch`]), until the client closes its end.
//! - `inannex`, `dropkey`, `recvkey`, `sendkey`: the commands of clients
//!   older than the P2P protocol (`crate::legacy`).
//! - git's commands (and anything else, `lockcontent`, `transferinfo` and
//!   `commit` included: git-annex-shell dropped them in 8.20211028) go to
//!   `git shell -c`, word by word, as git-annex-shell hands them.
//!
//! `gcryptsetup` is refused, naming itself.

use std::ffi::OsString;
use std::os::fd::AsFd;
use std::path::{Component, Path, PathBuf};

use crate::legacy;
use crate::refwatch::RefWatcher;
use crate::server::{Server, ServerMode};
use annex_core::uuid::Uuid;

/// git-annex-shell's own commands (those of git-annex 10.20261026), and
/// the least access each needs (git-annex's read-only, append-only and
/// read-write lists). Anything else goes to git's shell, as with
/// git-annex's: `lockcontent`, `transferinfo` and `commit`, once
/// git-annex-shell commands, left it with git-annex 8.20211028.
const COMMANDS: &[(&str, Access)] = &[
    ("configlist", Access::Read),
    ("notifychanges", Access::Read),
    ("p2pstdio", Access::Read),
    ("inannex", Access::Read),
    ("sendkey", Access::Read),
    ("recvkey", Access::Append),
    ("dropkey", Access::Write),
    ("gcryptsetup", Access::Write),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Read,
    Append,
    Write,
}

/// Why git-annex-shell refuses or fails; printed as
/// `git-annex-shell: MESSAGE`, exit 1.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShellError {
    /// No command, or a builtin without its directory.
    #[error("bad parameters\n\nUsage: git-annex-shell [-c] command [parameters ...] [option ...]")]
    BadParameters,
    /// A restriction variable blocks the command.
    #[error("Action blocked by {0}")]
    Blocked(&'static str),
    /// `GIT_ANNEX_SHELL_DIRECTORY` names another repository.
    #[error("Only allowed to access {allowed} {detail}")]
    Directory {
        /// The allowed directory.
        allowed: String,
        /// `not DIR`, or why the directory is not known.
        detail: String,
    },
    /// `--uuid` names another repository.
    #[error("expected repository UUID {expected} but found {found}")]
    UnexpectedUuid {
        /// The UUID the client expects.
        expected: String,
        /// What the repository has.
        found: String,
    },
    /// A command of git-annex-shell's not served yet.
    #[error("{0} is not served by git-annex-rs yet")]
    NotServed(String),
    /// An option the command does not take (printed without the
    /// program's name, with git-annex-shell's usage).
    #[error("Invalid option `{0}'\n\n{USAGE}")]
    InvalidOption(String),
    /// An option given without its value (printed without the program's
    /// name).
    #[error("The option `{0}` expects an argument.")]
    MissingArgument(String),
    /// The P2P session failed (printed as git-annex prints a failed
    /// command: `git-annex: MESSAGE`, then `p2pstdio: 1 failed`).
    #[error("{0}")]
    Session(String),
    /// The command failed.
    #[error("{0}")]
    Failed(String),
}

/// git-annex-shell's usage, listing its commands.
const USAGE: &str = "Usage: git-annex-shell COMMAND

  git-annex-shell - Restricted login shell for git-annex only SSH access

  Plumbing commands:

  configlist    outputs relevant git configuration
  dropkey       drops annexed content for specified keys
  gcryptsetup   sets up gcrypt repository
  inannex       checks if keys are present in the annex
  notifychanges sends notification when git refs are changed
  p2pstdio      communicate in P2P protocol over stdio
  recvkey       runs rsync in server mode to receive content
  sendkey       runs rsync in server mode to send content
";

/// The restriction variables, read once.
#[derive(Debug, Clone, Default)]
pub struct Restrictions {
    readonly: bool,
    appendonly: bool,
    limited: bool,
    directory: Option<String>,
}

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

impl Restrictions {
    /// From the environment.
    pub fn from_env() -> Restrictions {
        Restrictions {
            readonly: env_set("GIT_ANNEX_SHELL_READONLY"),
            appendonly: env_set("GIT_ANNEX_SHELL_APPENDONLY"),
            limited: env_set("GIT_ANNEX_SHELL_LIMITED"),
            directory: std::env::var("GIT_ANNEX_SHELL_DIRECTORY").ok(),
        }
    }

    /// The server mode `p2pstdio` serves with.
    pub fn mode(&self) -> ServerMode {
        if self.readonly {
            ServerMode::ReadOnly
        } else if self.appendonly {
            ServerMode::AppendOnly
        } else {
            ServerMode::ReadWrite
        }
    }

    fn check_access(&self, access: Access) -> Result<(), ShellError> {
        if access != Access::Read && self.readonly {
            return Err(ShellError::Blocked("GIT_ANNEX_SHELL_READONLY"));
        }
        if access == Access::Write && self.appendonly {
            return Err(ShellError::Blocked("GIT_ANNEX_SHELL_APPENDONLY"));
        }
        Ok(())
    }

    /// `GIT_ANNEX_SHELL_DIRECTORY` allows `dir` (`None`: the command line
    /// names no directory).
    pub fn check_directory(&self, dir: Option<&str>, home: &Path) -> Result<(), ShellError> {
        let Some(allowed) = &self.directory else {
            return Ok(());
        };
        let Some(dir) = dir else {
            return Err(ShellError::Directory {
                allowed: allowed.clone(),
                detail: "and could not determine directory from command line".into(),
            });
        };
        if same_path(allowed, dir) {
            return Ok(());
        }
        let a = canonical_dir(allowed, home);
        let d = canonical_dir(dir, home);
        if same_path(&a, &d) {
            Ok(())
        } else {
            Err(ShellError::Directory {
                allowed: a,
                detail: format!("not {d}"),
            })
        }
    }
}

/// Paths equal once trailing slashes and `.` components are gone.
fn same_path(a: &str, b: &str) -> bool {
    let norm = |s: &str| -> Vec<String> {
        Path::new(s)
            .components()
            .filter(|c| !matches!(c, Component::CurDir))
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect()
    };
    norm(a) == norm(b)
}

/// A directory as git-annex compares it: `~/X` kept, `/~/X` as `~/X`,
/// anything else made absolute from home and shown as `~/X` when under
/// home.
fn canonical_dir(d: &str, home: &Path) -> String {
    if d.starts_with("~/") {
        return d.to_string();
    }
    if let Some(rest) = d.strip_prefix("/~/") {
        return format!("~/{rest}");
    }
    let abs = lexical_absolute(home, Path::new(d));
    match abs.strip_prefix(home) {
        Ok(rel) if !rel.as_os_str().is_empty() => format!("~/{}", rel.display()),
        _ => abs.display().to_string(),
    }
}

/// `base/p` with `.` and `..` resolved without touching the disk.
fn lexical_absolute(base: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The repository a command's DIRECTORY names: `~/X` and `/~/X` under
/// home, a relative path from home (ssh runs commands there).
pub fn repository_path(dir: &str, home: &Path) -> PathBuf {
    if let Some(rest) = dir.strip_prefix("/~/").or_else(|| dir.strip_prefix("~/")) {
        return home.join(rest);
    }
    if dir == "~" || dir == "/~" {
        return home.to_path_buf();
    }
    lexical_absolute(home, Path::new(dir))
}

/// Splits a command line as git-annex-shell does (`shellUnEscape`): words
/// at spaces, `'...'` and `"..."` quoting (no escapes inside).
pub fn unescape(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    while chars.peek().is_some() {
        let mut w = String::new();
        loop {
            match chars.next() {
                None | Some(' ') => break,
                Some(q @ ('\'' | '"')) => {
                    for c in chars.by_ref() {
                        if c == q {
                            break;
                        }
                        w.push(c);
                    }
                }
                Some(c) => w.push(c),
            }
        }
        words.push(w);
    }
    words
}

/// What `git-annex-shell ARGS` does.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    /// One of git-annex-shell's own commands: name, directory, the
    /// parameters before `--`, the fields between `--` markers (only
    /// those git-annex-shell takes, with sensible values), and the words
    /// after the second `--` (the client's rsync command).
    Builtin {
        cmd: String,
        dir: String,
        params: Vec<String>,
        fields: Vec<(String, String)>,
        rsync: Vec<String>,
    },
    /// Anything else goes to `git shell -c`.
    GitShell(Vec<String>),
}

fn plan(args: &[String]) -> Result<Plan, ShellError> {
    let mut args = args;
    // Leading -c options, as ssh passes them.
    while args.first().is_some_and(|a| a == "-c") {
        args = &args[1..];
    }
    let is_builtin = |c: &str| COMMANDS.iter().any(|(n, _)| *n == c);
    match args {
        [] => Err(ShellError::BadParameters),
        [cmd, dir, rest @ ..] if is_builtin(cmd) => {
            let mut parts = rest.split(|p| p == "--");
            let params = parts.next().unwrap_or_default().to_vec();
            let fields = parts
                .next()
                .unwrap_or_default()
                .iter()
                .map(|f| match f.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (f.clone(), String::new()),
                })
                .filter(|(k, v)| field_ok(k, v))
                .collect();
            let rsync = parts.collect::<Vec<_>>().join(&"--".to_string());
            Ok(Plan::Builtin {
                cmd: cmd.clone(),
                dir: dir.clone(),
                params,
                fields,
                rsync,
            })
        }
        [line] if line.starts_with("git-annex-shell ") => {
            let words: Vec<String> = unescape(line).into_iter().skip(1).collect();
            plan(&words)
        }
        [cmd, ..] if is_builtin(cmd) => Err(ShellError::BadParameters),
        other => Ok(Plan::GitShell(other.to_vec())),
    }
}

/// The fields git-annex-shell takes (git-annex's `checkField`): a
/// `remoteuuid` that looks like a UUID, `autoinit=1`; others are dropped.
fn field_ok(k: &str, v: &str) -> bool {
    match k {
        "remoteuuid" => v.chars().all(|c| c.is_alphanumeric() || c == '-'),
        "autoinit" => v == "1",
        _ => false,
    }
}

/// This machine's name, as git-annex names it in errors.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Runs `git-annex-shell` with `args` (the program name excluded);
/// returns the exit code. The P2P protocol goes over stdin and stdout.
pub fn run(args: &[OsString]) -> i32 {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let restrictions = Restrictions::from_env();
    match dispatch(&args, &restrictions) {
        Ok(code) => code,
        Err(e @ (ShellError::InvalidOption(_) | ShellError::MissingArgument(_))) => {
            eprintln!("{e}");
            1
        }
        Err(ShellError::Session(e)) => {
            eprintln!("git-annex: {e}\np2pstdio: 1 failed");
            1
        }
        Err(e) => {
            eprintln!("git-annex-shell: {e}");
            1
        }
    }
}

fn dispatch(args: &[String], r: &Restrictions) -> Result<i32, ShellError> {
    let home = home_dir();
    match plan(args)? {
        Plan::Builtin {
            cmd,
            dir,
            params,
            fields,
            rsync,
        } => {
            let access = COMMANDS
                .iter()
                .find(|(n, _)| *n == cmd)
                .map(|(_, a)| *a)
                .unwrap_or(Access::Write);
            r.check_access(access)?;
            r.check_directory(Some(&dir), &home)?;
            let path = repository_path(&dir, &home);
            if !path.is_dir() {
                // git cannot read a repository's config there.
                return Err(ShellError::Failed(format!(
                    "failed to read git config of git repository in {} on {dir}; perhaps this repository is not set up correctly or has moved",
                    hostname()
                )));
            }
            if cmd != "configlist" && cmd != "gcryptsetup" {
                annex_repository(&path)?;
            }
            let remote = fields
                .iter()
                .find(|(k, _)| k == "remoteuuid")
                .map(|(_, v)| v.as_str());
            let opts = |json| legacy::parse_options(&params, json);
            match cmd.as_str() {
                "p2pstdio" => p2pstdio(&path, &params, r.mode()),
                "configlist" => {
                    if !opts(false)?.args.is_empty() {
                        return Err(ShellError::Failed(
                            "This command takes no parameters.".into(),
                        ));
                    }
                    configlist(&path, &fields, r)
                }
                "inannex" => legacy::inannex(&path, &opts(false)?),
                "dropkey" => legacy::dropkey(&path, &opts(true)?),
                "recvkey" => legacy::recvkey(&path, &opts(false)?, remote, &rsync),
                "sendkey" => legacy::sendkey(&path, &opts(false)?, remote, &rsync),
                "notifychanges" => notifychanges(&path, &opts(false)?),
                other => Err(ShellError::NotServed(other.to_string())),
            }
        }
        Plan::GitShell(words) => {
            // git's commands have the directory last.
            let last = words.last().and_then(|w| unescape(w).pop());
            r.check_directory(last.as_deref(), &home)?;
            if r.limited {
                return Err(ShellError::Blocked("GIT_ANNEX_SHELL_LIMITED"));
            }
            // As git-annex-shell hands them: `git-shell -c` and each word
            // as its own argument (ssh gives one: the whole command).
            let before_fields = words.iter().take_while(|w| w.as_str() != "--");
            let status = std::process::Command::new("git")
                .arg("shell")
                .arg("-c")
                .args(before_fields)
                .status()
                .map_err(|e| ShellError::Failed(format!("cannot run git shell: {e}")))?;
            if status.success() {
                Ok(0)
            } else {
                Err(ShellError::Failed("git-shell failed".into()))
            }
        }
    }
}

/// The commands but `configlist` and `gcryptsetup` serve only a git-annex
/// (or gcrypt) repository.
fn annex_repository(path: &Path) -> Result<(), ShellError> {
    use annex_core::remote::{git_dir_of, repository_config, repository_uuid};
    let Some(g) = git_dir_of(path) else {
        // git's complaint first, as the reference's shows it.
        eprintln!(
            "fatal: not a git repository: '{}'",
            path.join(".git").display()
        );
        return Err(ShellError::Failed(
            "Not a git-annex or gcrypt repository.".into(),
        ));
    };
    let ok = repository_uuid(&g).is_some() || repository_config(&g, "core.gcrypt-id").is_some();
    if ok {
        Ok(())
    } else {
        Err(ShellError::Failed(
            "Not a git-annex or gcrypt repository.".into(),
        ))
    }
}

/// `configlist DIRECTORY`: the repository's UUID and gcrypt id, as
/// `annex.uuid=...` and `core.gcrypt-id=...` (empty when unset). With the
/// field `autoinit` set, a git repository not yet initialized is.
fn configlist(
    path: &Path,
    fields: &[(String, String)],
    r: &Restrictions,
) -> Result<i32, ShellError> {
    use annex_core::remote::{git_dir_of, repository_config, repository_uuid};
    let Some(git_dir) = git_dir_of(path) else {
        // As the reference: git's complaint, and nothing known.
        eprintln!(
            "fatal: not a git repository: '{}'",
            path.join(".git").display()
        );
        println!("annex.uuid=\ncore.gcrypt-id=");
        return Ok(0);
    };
    let mut uuid = repository_uuid(&git_dir);
    if uuid.is_none() && fields.iter().any(|(k, _)| k == "autoinit") {
        r.check_access(Access::Append)?;
        let repo = annex_core::repo::Repo::init(path, None)
            .map_err(|e| ShellError::Failed(e.to_string()))?;
        uuid = repo.uuid().cloned();
    }
    let gcrypt = repository_config(&git_dir, "core.gcrypt-id").unwrap_or_default();
    println!(
        "annex.uuid={}\ncore.gcrypt-id={gcrypt}",
        uuid.as_ref().map(Uuid::as_str).unwrap_or("")
    );
    Ok(0)
}

/// `p2pstdio DIRECTORY THEIRUUID [--uuid OURUUID]`.
fn p2pstdio(path: &Path, params: &[String], mode: ServerMode) -> Result<i32, ShellError> {
    // git-annex's common options (`--debug`, as its client passes it when
    // debugging) are nothing for the server to do; others are refused.
    let o = legacy::parse_options(params, false)?;
    let expected = o.uuid.as_deref();
    let positional: Vec<&str> = o.args.iter().map(String::as_str).collect();
    let [client] = positional.as_slice() else {
        return Err(ShellError::Failed("missing UUID parameter".into()));
    };
    let client = Uuid::parse(client.as_bytes()).map_err(|e| ShellError::Failed(e.to_string()))?;
    let mut server = Server::open(path, client, mode).map_err(|e| {
        ShellError::Failed(format!(
            "failed to read git config of git repository on {}; perhaps this repository is not set up correctly or has moved ({e})",
            path.display()
        ))
    })?;
    if let Some(expected) = expected
        && expected != server.uuid().as_str()
    {
        // A remote or a cluster this repository is a gateway for.
        // A repository it knows but does not proxy for is refused in
        // git-annex's words; anything else is the UUID mismatch.
        let target = match Uuid::parse(expected.as_bytes())
            .map(|t| crate::gateway::check_can_proxy(path, &t))
        {
            Ok(Ok(t)) => t,
            Ok(Err(crate::gateway::GatewayError::Protocol(msg))) => {
                return Err(ShellError::Failed(msg));
            }
            _ => None,
        };
        let Some(target) = target else {
            return Err(ShellError::UnexpectedUuid {
                expected: expected.to_string(),
                found: format!("UUID {}", server.uuid()),
            });
        };
        return proxy_stdio(path, target, mode);
    }
    // Written to directly (the standard output's line buffering would
    // look for newlines in the content and split its writes), through a
    // larger pipe where it is one (Linux).
    let stdout = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .map_err(|e| ShellError::Session(e.to_string()))?;
    #[cfg(target_os = "linux")]
    let _ = rustix::pipe::fcntl_setpipe_size(&stdout, 1 << 20);
    server
        .serve(std::io::stdin(), stdout)
        .map_err(|e| ShellError::Session(e.to_string()))?;
    Ok(0)
}

/// Serves a proxied remote or a cluster over stdin and stdout.
fn proxy_stdio(
    path: &Path,
    target: crate::gateway::Target,
    mode: ServerMode,
) -> Result<i32, ShellError> {
    let mut session = crate::gateway::Session::open(path, target, mode)
        .map_err(|e| ShellError::Session(e.to_string()))?;
    let stdout = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .map_err(|e| ShellError::Session(e.to_string()))?;
    session
        .serve(std::io::stdin(), stdout)
        .map_err(|e| ShellError::Session(e.to_string()))?;
    Ok(0)
}

/// `notifychanges DIRECTORY`: `READY`, then `CHANGED SHA...` each time
/// refs change, until the client closes stdin (git-annex's then fails
/// reading it, in its words).
fn notifychanges(path: &Path, o: &legacy::Options) -> Result<i32, ShellError> {
    use std::io::{BufRead, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    if !o.args.is_empty() {
        return Err(ShellError::Failed(
            "This command takes no parameters.".into(),
        ));
    }
    let git_dir = annex_core::remote::git_dir_of(path)
        .ok_or_else(|| ShellError::Failed(format!("{} is no git repository", path.display())))?;
    if let Some(u) = annex_core::remote::repository_uuid(&git_dir) {
        legacy::check_uuid(o.uuid.as_deref(), &u)?;
    }
    let mut watcher = RefWatcher::start(&git_dir);
    let closed = std::sync::Arc::new(AtomicBool::new(false));
    let flag = closed.clone();
    // Nothing is expected from the client; its closing ends the watch.
    std::thread::spawn(move || {
        let mut line = Vec::new();
        let mut stdin = std::io::stdin().lock();
        while matches!(stdin.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            line.clear();
        }
        flag.store(true, Ordering::SeqCst);
    });
    let mut out = std::io::stdout().lock();
    let send = |out: &mut std::io::StdoutLock, line: &[u8]| -> Result<(), ShellError> {
        out.write_all(line)
            .and_then(|()| out.flush())
            .map_err(|e| ShellError::Failed(format!("<stdout>: {e}")))
    };
    send(&mut out, b"READY\n")?;
    while let Some(shas) = watcher.wait_until(&|| closed.load(Ordering::SeqCst)) {
        let mut line = b"CHANGED ".to_vec();
        line.extend_from_slice(&shas.join(&b' '));
        line.push(b'\n');
        send(&mut out, &line)?;
    }
    Err(ShellError::Failed("<stdin>: hGetChar: end of file".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Plan, ShellError> {
        plan(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn commands_are_split_as_git_annex_shell_splits_them() {
        assert_eq!(p(&[]), Err(ShellError::BadParameters));
        assert_eq!(p(&["-c"]), Err(ShellError::BadParameters));
        assert_eq!(p(&["p2pstdio"]), Err(ShellError::BadParameters));
        assert_eq!(
            p(&[
                "p2pstdio",
                "/srv/r",
                "u1",
                "--uuid",
                "u2",
                "--",
                "remoteuuid=x",
                "--"
            ]),
            Ok(Plan::Builtin {
                cmd: "p2pstdio".into(),
                dir: "/srv/r".into(),
                params: vec!["u1".into(), "--uuid".into(), "u2".into()],
                fields: vec![("remoteuuid".into(), "x".into())],
                rsync: vec![],
            })
        );
        // Fields git-annex-shell does not take are dropped; what follows
        // the second `--` is the client's rsync command.
        assert_eq!(
            p(&[
                "recvkey",
                "/srv/r",
                "K",
                "--",
                "remoteuuid=a b",
                "autoinit=2",
                "direct=1",
                "remoteuuid=u-1",
                "--",
                "dummy",
                "rsync",
                "--server",
                "--",
                "x"
            ]),
            Ok(Plan::Builtin {
                cmd: "recvkey".into(),
                dir: "/srv/r".into(),
                params: vec!["K".into()],
                fields: vec![("remoteuuid".into(), "u-1".into())],
                rsync: ["dummy", "rsync", "--server", "--", "x"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            })
        );
        // Not git-annex-shell's any more: git's shell has them.
        assert_eq!(
            p(&["lockcontent", "/srv/r", "K"]),
            Ok(Plan::GitShell(vec![
                "lockcontent".into(),
                "/srv/r".into(),
                "K".into()
            ]))
        );
        // The login-shell form: one string starting with the program's name.
        assert_eq!(
            p(&["-c", "git-annex-shell 'p2pstdio' '/~/r' 'u1'"]),
            Ok(Plan::Builtin {
                cmd: "p2pstdio".into(),
                dir: "/~/r".into(),
                params: vec!["u1".into()],
                fields: vec![],
                rsync: vec![],
            })
        );
        assert_eq!(
            p(&["-c", "git-upload-pack '/srv/r'"]),
            Ok(Plan::GitShell(vec!["git-upload-pack '/srv/r'".into()]))
        );
    }

    #[test]
    fn restrictions_refuse_as_git_annex_shell_does() {
        let ro = Restrictions {
            readonly: true,
            ..Default::default()
        };
        assert_eq!(ro.check_access(Access::Read), Ok(()));
        assert_eq!(
            ro.check_access(Access::Append),
            Err(ShellError::Blocked("GIT_ANNEX_SHELL_READONLY"))
        );
        let ao = Restrictions {
            appendonly: true,
            ..Default::default()
        };
        assert_eq!(ao.check_access(Access::Append), Ok(()));
        assert_eq!(
            ao.check_access(Access::Write),
            Err(ShellError::Blocked("GIT_ANNEX_SHELL_APPENDONLY"))
        );
        assert_eq!(ao.mode(), ServerMode::AppendOnly);
    }

    #[test]
    fn the_directory_restriction_compares_as_git_annex_does() {
        let home = Path::new("/home/u");
        let r = Restrictions {
            directory: Some("~/repo".into()),
            ..Default::default()
        };
        assert_eq!(r.check_directory(Some("~/repo"), home), Ok(()));
        assert_eq!(r.check_directory(Some("/~/repo"), home), Ok(()));
        assert_eq!(r.check_directory(Some("/home/u/repo/"), home), Ok(()));
        assert_eq!(r.check_directory(Some("repo"), home), Ok(()));
        assert_eq!(
            r.check_directory(Some("/home/u/repo/../other"), home),
            Err(ShellError::Directory {
                allowed: "~/repo".into(),
                detail: "not ~/other".into()
            })
        );
        assert_eq!(
            r.check_directory(None, home).map_err(|e| e.to_string()),
            Err(
                "Only allowed to access ~/repo and could not determine directory from command line"
                    .into()
            )
        );
        assert_eq!(repository_path("/~/r", home), home.join("r"));
        assert_eq!(repository_path("r", home), home.join("r"));
        assert_eq!(repository_path("/srv/r", home), PathBuf::from("/srv/r"));
    }
}
