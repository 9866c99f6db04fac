//! `remotedaemon`: persistent communication with remotes (the daemon is
//! `annex_sync::remotedaemon`; here only its options and its two ways of
//! running, as git-annex has them).
//!
//! - `--foreground`: the control protocol on standard input and output
//!   (one message a line); EOF on standard input stops it as `STOP` does.
//!   A line that is no message is reported on standard error and skipped
//!   (git-annex stops on it).
//! - otherwise: the daemon runs in the background, detached, its output
//!   discarded, reloading the remotes every hour (git-annex's
//!   non-interactive mode, without a pid file, as git-annex's).

use std::io::{BufRead as _, Write as _};
use std::path::Path;
use std::time::Duration;

use annex_sync::remotedaemon::protocol::{Consumed, read_line};
use annex_sync::remotedaemon::{Options, RemoteDaemon};

use crate::context::Ctx;
use crate::error::CommandError;

/// Arguments of `remotedaemon`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Avoid forking to the background; speak the control protocol on
    /// stdin/stdout.
    #[arg(long)]
    foreground: bool,
    /// Override a git config setting for this command (`name=value`).
    #[arg(short = 'c', long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
}

/// Set in the environment of the background process this command starts.
const BACKGROUND_ENV: &str = "GIT_ANNEX_RS_REMOTEDAEMON_BACKGROUND";

/// Runs the daemon.
pub fn run(args: Args) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.config, true)?;
    let top = ctx.base_dir();
    drop(ctx);
    if args.foreground {
        foreground(&top)
    } else if std::env::var_os(BACKGROUND_ENV).is_some() {
        background(&top)
    } else {
        spawn_background()
    }
}

fn start(top: &Path) -> Result<RemoteDaemon, CommandError> {
    RemoteDaemon::start(top, Options::default()).map_err(|e| CommandError::failed(e.to_string()))
}

/// The control protocol over standard input and output.
fn foreground(top: &Path) -> Result<(), CommandError> {
    let daemon = start(top)?;
    let input = daemon.sender();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        loop {
            match read_line(&mut stdin) {
                Ok(Some(line)) => match Consumed::parse(&line) {
                    Ok(m) => {
                        let stop = m == Consumed::Stop;
                        if input.send(m).is_err() || stop {
                            return;
                        }
                    }
                    Err(e) => crate::error::warn(&e.to_string()),
                },
                Ok(None) => break,
                Err(e) => {
                    crate::error::warn(&format!("<stdin>: {e}"));
                    if e.kind() != std::io::ErrorKind::InvalidData {
                        break;
                    }
                    // Skip the rest of the over-long line.
                    let mut rest = Vec::new();
                    let _ = stdin.read_until(b'\n', &mut rest);
                }
            }
        }
        // EOF: as STOP.
        let _ = input.send(Consumed::Stop);
    });
    let mut stdout = std::io::stdout().lock();
    for m in daemon.messages().iter() {
        let mut line = m.to_line();
        line.push(b'\n');
        if stdout
            .write_all(&line)
            .and_then(|()| stdout.flush())
            .is_err()
        {
            // The caller is gone: stop.
            daemon.send(Consumed::Stop);
        }
    }
    daemon.wait();
    Ok(())
}

/// The background process: the remotes reloaded every hour, messages
/// discarded; it runs until killed.
fn background(top: &Path) -> Result<(), CommandError> {
    let daemon = start(top)?;
    let hour = Duration::from_secs(60 * 60);
    let mut next = std::time::Instant::now() + hour;
    loop {
        let now = std::time::Instant::now();
        match daemon
            .messages()
            .recv_timeout(next.saturating_duration_since(now))
        {
            Ok(_) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                daemon.send(Consumed::Reload);
                next = std::time::Instant::now() + hour;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
}

/// Starts this command again in the background, detached from the
/// terminal's process group, with its output discarded.
fn spawn_background() -> Result<(), CommandError> {
    use std::os::unix::process::CommandExt as _;
    let exe = std::env::current_exe()
        .map_err(|e| CommandError::failed(format!("cannot find the running program: {e}")))?;
    std::process::Command::new(&exe)
        .args(std::env::args_os().skip(1))
        .env(BACKGROUND_ENV, "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| CommandError::failed(format!("cannot run {}: {e}", exe.display())))?;
    Ok(())
}
