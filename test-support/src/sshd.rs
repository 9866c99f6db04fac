//! A real OpenSSH server on 127.0.0.1 for the tests of ssh remotes: a
//! throwaway host key and user key in a temp directory, a free port,
//! public-key login for the user running the tests only, stopped when
//! the [`Sshd`] is dropped. Needs `sshd` (openssh-server, which `.ci/run`
//! installs): a test that uses it fails when it is missing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running sshd.
pub struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

fn sshd_binary() -> PathBuf {
    for p in ["/usr/sbin/sshd", "/usr/bin/sshd"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!(
        "sshd is needed by this test and was not found: install openssh-server (`bash .ci/run` does)"
    )
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

fn spawn_sshd(d: &Path) -> Child {
    Command::new(sshd_binary())
        .args(["-D", "-e", "-f"])
        .arg(d.join("sshd_config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sshd")
}

/// The processes below `pid` (from `/proc`), deepest last.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            // `PID (COMM) STATE PPID ...`: COMM may hold spaces.
            let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
            if let Some(ppid) = after.split_whitespace().nth(1).and_then(|v| v.parse().ok()) {
                parents.push((p, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(q) = frontier.pop() {
        for &(p, pp) in &parents {
            if pp == q {
                out.push(p);
                frontier.push(p);
            }
        }
    }
    out
}

impl Sshd {
    /// Starts sshd; sessions get `PATH=/usr/local/bin:/usr/bin:/bin`.
    pub fn start() -> Sshd {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        for key in ["hostkey", "userkey"] {
            let st = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join(key))
                .status()
                .expect("run ssh-keygen");
            assert!(st.success(), "ssh-keygen failed");
        }
        std::fs::copy(d.join("userkey.pub"), d.join("authorized_keys")).expect("authorized_keys");
        // sshd's privilege separation directory (root only; as a user the
        // directory is not needed).
        let _ = std::fs::create_dir_all("/run/sshd");
        let port = free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/hostkey\n\
             AuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n\
             PermitRootLogin prohibit-password\nPidFile {d}/sshd.pid\n\
             SetEnv PATH=/usr/local/bin:/usr/bin:/bin\nLogLevel ERROR\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).expect("sshd_config");
        let child = spawn_sshd(d);
        let sshd = Sshd { dir, port, child };
        sshd.wait_listening();
        sshd
    }

    fn wait_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "sshd did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops sshd and every session it serves, as when the host goes
    /// away: its clients see their connections close, and new ones are
    /// refused.
    pub fn stop(&mut self) {
        for pid in descendants(self.child.id()) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts sshd again after [`Sshd::stop`], on the same port with the
    /// same keys.
    pub fn restart(&mut self) {
        self.child = spawn_sshd(self.dir.path());
        self.wait_listening();
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The ssh command line git and git-annex use to reach it
    /// (`GIT_SSH_COMMAND`, with `GIT_ANNEX_USE_GIT_SSH=1`).
    pub fn ssh_command(&self) -> String {
        format!(
            "ssh -p {} -i {} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
             -o BatchMode=yes -o LogLevel=ERROR",
            self.port,
            self.dir.path().join("userkey").display()
        )
    }

    /// Sets the environment that makes git and git-annex reach this sshd.
    pub fn client_env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("GIT_SSH_COMMAND", self.ssh_command())
            .env("GIT_ANNEX_USE_GIT_SSH", "1")
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
