//! Which files are open for writing by some process, in place of the
//! `lsof` run git-annex's assistant makes before adding files.
//!
//! We look in `/proc/<pid>/fd` once per batch of files: each descriptor's
//! target is `stat`ed (following the link) and compared by device and inode
//! with the files of the batch; for a match, `/proc/<pid>/fdinfo/<fd>`'s
//! `flags` tell whether it is open for writing. No process is started, and
//! a batch of any size costs one pass over the descriptors. Like `lsof`
//! without privileges, only processes we may inspect (our own user's) are
//! seen. A file passed here can still be reopened for writing later: the
//! ingestion compares the file's stat before and after it is hashed and
//! refuses a file that changed (`annex_core::ingest`), and the daemon sees
//! the later write as a new change.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;

/// `(device, inode)` of a file.
pub type FileId = (u64, u64);

/// The files among `candidates` that a process has open for writing.
pub fn open_for_write(candidates: &HashSet<FileId>) -> HashSet<FileId> {
    let mut found = HashSet::new();
    if candidates.is_empty() {
        return found;
    }
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return found;
    };
    for p in procs.flatten() {
        let name = p.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(meta) = std::fs::metadata(fd.path()) else {
                continue;
            };
            let id = (meta.dev(), meta.ino());
            if !candidates.contains(&id) || found.contains(&id) {
                continue;
            }
            let info = format!("/proc/{pid}/fdinfo/{}", fd.file_name().to_string_lossy());
            if std::fs::read_to_string(info).is_ok_and(|s| writing(&s)) {
                found.insert(id);
            }
        }
    }
    found
}

/// Whether an `fdinfo` text's `flags` (octal) open for writing
/// (`O_WRONLY` or `O_RDWR`).
fn writing(fdinfo: &str) -> bool {
    fdinfo
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        .is_some_and(|f| f & 0o3 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_file_open_for_writing_is_seen_and_a_closed_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut f = std::fs::File::create(&path).unwrap();
        f.write_all(b"x").unwrap();
        let m = std::fs::metadata(&path).unwrap();
        let ids: HashSet<FileId> = [(m.dev(), m.ino())].into();
        assert_eq!(open_for_write(&ids), ids);
        drop(f);
        assert!(open_for_write(&ids).is_empty());
        // Open for reading only: not a writer.
        let _r = std::fs::File::open(&path).unwrap();
        assert!(open_for_write(&ids).is_empty());
    }

    #[test]
    fn flags_parsing() {
        assert!(writing("pos:\t0\nflags:\t0100001\n"));
        assert!(writing("flags:\t02\n"));
        assert!(!writing("flags:\t0100000\n"));
        assert!(!writing("nothing"));
    }
}
