//! Shared locks on lock files, held once per process.
//!
//! git-annex locks its lock files with POSIX record locks (`fcntl`), and we
//! take the same kind so that the two see each other. Such a lock belongs
//! to the whole process and is dropped as soon as the process closes *any*
//! descriptor of the file: two threads each opening `othertmp.lck`, locking
//! it shared and closing it when done would unlock each other. So a shared
//! lock here is one open descriptor per path for the whole process, counted:
//! the first [`shared`] opens and locks it, the last guard dropped closes it.
//!
//! ```
//! # fn main() -> std::io::Result<()> {
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("othertmp.lck");
//! let a = annex_core::lockfile::shared(&path)?;
//! let b = annex_core::lockfile::shared(&path)?; // the same lock, counted twice
//! drop(a); // still locked: `b` holds it
//! drop(b); // now released
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// How many guards hold each path, with the descriptor that holds the lock.
fn registry() -> &'static Mutex<HashMap<PathBuf, (File, usize)>> {
    static R: OnceLock<Mutex<HashMap<PathBuf, (File, usize)>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A shared lock on a lock file, held while this guard lives.
#[derive(Debug)]
pub struct SharedLock {
    path: PathBuf,
}

impl SharedLock {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Takes a shared (read) lock on the file at `path`, creating it if needed,
/// waiting while another process holds it exclusively. Errors are the
/// open or lock failure, to be reported with the path.
pub fn shared(path: &Path) -> io::Result<SharedLock> {
    let path = &registry_key(path)?;
    let mut held = registry()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, count)) = held.get_mut(path) {
        *count += 1;
        return Ok(SharedLock {
            path: path.to_path_buf(),
        });
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    // Waiting here with the registry held only delays other lockers of
    // lock files in this process, which would wait for the same reason.
    rustix::fs::fcntl_lock(&file, rustix::fs::FlockOperation::LockShared)?;
    held.insert(path.to_path_buf(), (file, 1));
    Ok(SharedLock {
        path: path.to_path_buf(),
    })
}

/// Runs `f` while holding an exclusive lock on the lock file at `path`,
/// when it can be taken at once: `None` (and `f` not run) when another
/// process holds any lock on it, or when this process holds a [`shared`]
/// lock on it (taking an exclusive one would convert that lock). Other
/// threads of this process wait in [`shared`] until `f` returns. The lock
/// file is created when missing. This is how `othertmp` is cleaned: only
/// when nobody is using it.
pub fn with_exclusive_if_free<T>(path: &Path, f: impl FnOnce() -> T) -> io::Result<Option<T>> {
    let key = registry_key(path)?;
    let held = registry()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if held.contains_key(&key) {
        return Ok(None);
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&key)?;
    match rustix::fs::fcntl_lock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(e) if e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::ACCESS => {
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    }
    let out = f();
    // Closing the descriptor releases the lock; the registry is held
    // until then.
    drop(file);
    drop(held);
    Ok(Some(out))
}

/// Runs `f` while holding an exclusive lock on the lock file at `path`
/// (a POSIX record lock, as git-annex takes: a git-annex process locking
/// the same file waits for it, and the other way round), waiting for it
/// as long as another process holds it. The lock file is created when
/// missing. Not for files this process also locks with [`shared`].
pub fn with_exclusive<T>(path: &Path, f: impl FnOnce() -> T) -> io::Result<T> {
    // A record lock belongs to the whole process: other threads of this
    // one are kept out by a mutex of the path, held until the descriptor
    // is closed.
    let key = registry_key(path)?;
    let gate = {
        static GATES: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> = OnceLock::new();
        let mut gates = GATES
            .get_or_init(|| Mutex::new(HashMap::new()))
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        Arc::clone(gates.entry(key.clone()).or_default())
    };
    let _inside = gate.lock().unwrap_or_else(|p| p.into_inner());
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&key)?;
    rustix::fs::fcntl_lock(&file, rustix::fs::FlockOperation::LockExclusive)?;
    let out = f();
    // Closing the descriptor releases the lock.
    drop(file);
    Ok(out)
}

/// The one name of a lock file, however it was spelled (`./.git/...`,
/// an absolute path, a path through a symlink), found without opening the
/// file: opening and closing a second descriptor would drop the lock.
fn registry_key(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a lock file path", path.display()),
        )
    })?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Resolved once per directory and process: a lock is taken per file
    // by commands over many files, and resolving walks every component.
    static RESOLVED: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<PathBuf, PathBuf>>,
    > = std::sync::OnceLock::new();
    let cache = RESOLVED.get_or_init(Default::default);
    let known = cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(parent)
        .cloned();
    let resolved = match known {
        Some(r) => r,
        None => {
            let r = parent.canonicalize()?;
            // A relative name depends on the current directory: not kept.
            if !parent.is_absolute() {
                return Ok(r.join(name));
            }
            cache
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .insert(parent.to_path_buf(), r.clone());
            r
        }
    };
    Ok(resolved.join(name))
}

impl Drop for SharedLock {
    fn drop(&mut self) {
        let mut held = registry()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, count)) = held.get_mut(&self.path) {
            *count -= 1;
            if *count == 0 {
                // Closing the last descriptor releases the lock.
                held.remove(&self.path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a record lock does not keep out the other threads of a
    /// process; `with_exclusive` must (two `get -J` workers logging to
    /// `adjust.log` at once).
    #[test]
    fn with_exclusive_keeps_out_other_threads() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("adjust.lck");
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (p, i, m) = (path.clone(), inside.clone(), most.clone());
                std::thread::spawn(move || {
                    with_exclusive(&p, || {
                        let now = i.fetch_add(1, Ordering::SeqCst) + 1;
                        m.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        i.fetch_sub(1, Ordering::SeqCst);
                    })
                    .expect("lock");
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(
            most.load(Ordering::SeqCst),
            1,
            "two threads held it at once"
        );
    }

    /// Regression: `migrate.lck` was taken with `flock`, which a git-annex
    /// process (POSIX record locks) does not see: the exclusive lock must
    /// wait for a record lock another process holds.
    #[test]
    fn with_exclusive_waits_for_a_record_lock_held_elsewhere() {
        use std::io::{BufRead, Write};
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("migrate.lck");
        let mut child = std::process::Command::new("python3")
            .args([
                "-c",
                "import fcntl,sys\nf=open(sys.argv[1],'w')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('locked',flush=True)\nsys.stdin.readline()",
            ])
            .arg(&path)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        assert_eq!(line.trim(), "locked");
        let taken = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let t2 = taken.clone();
        let p2 = path.clone();
        let waiter = std::thread::spawn(move || {
            with_exclusive(&p2, || t2.store(true, std::sync::atomic::Ordering::SeqCst))
        });
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(
            !taken.load(std::sync::atomic::Ordering::SeqCst),
            "taken while another process held it"
        );
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"\n")
            .expect("release");
        child.wait().expect("python3 ends");
        waiter.join().expect("thread").expect("lock");
        assert!(taken.load(std::sync::atomic::Ordering::SeqCst));
    }

    /// Whether another process could take an exclusive lock on `path` now.
    fn exclusive_possible_elsewhere(path: &Path) -> bool {
        // flock(1) uses flock(2), which does not see fcntl locks, so ask
        // python's fcntl.lockf (a POSIX record lock) in a child process.
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import fcntl,sys\nf=open(sys.argv[1],'r+')\ntry:\n fcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB); print('free')\nexcept OSError: print('held')",
            ])
            .arg(path)
            .output()
            .expect("run python3");
        String::from_utf8_lossy(&out.stdout).trim() == "free"
    }

    #[test]
    fn a_second_guard_keeps_the_lock_after_the_first_is_dropped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("x.lck");
        let a = shared(&path).expect("lock");
        let b = shared(&path).expect("lock");
        assert!(!exclusive_possible_elsewhere(&path));
        drop(a);
        assert!(
            !exclusive_possible_elsewhere(&path),
            "dropping one guard unlocked the other"
        );
        drop(b);
        assert!(exclusive_possible_elsewhere(&path));
    }

    #[test]
    fn two_spellings_of_one_path_share_one_lock() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        let plain = dir.path().join("x.lck");
        let roundabout = dir.path().join("sub/../x.lck");
        let a = shared(&plain).expect("lock");
        let b = shared(&roundabout).expect("lock");
        drop(a);
        assert!(
            !exclusive_possible_elsewhere(&plain),
            "one spelling unlocked the other"
        );
        drop(b);
        assert!(exclusive_possible_elsewhere(&plain));
    }
}
