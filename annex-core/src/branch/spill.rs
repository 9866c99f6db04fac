//! Lists of records too many to keep in memory at a million files: a
//! sorter that spills sorted runs to temp files and merges them
//! ([`Sorter`]), and an append-only list kept compact in memory and moved
//! to a temp file past a size ([`Log`]).
//!
//! A commit of the branch lists the whole journal (an `add` of a million
//! files leaves a million journal files), stages the files in path order,
//! and must remember what it changed (for git-annex's index) and what it
//! staged (to remove it once committed). Held as vectors of paths and
//! maps, that was hundreds of bytes per file; here it is a few bytes per
//! file in memory at most, and a bounded buffer beyond that. Temp files
//! are anonymous (`tempfile::tempfile_in`): nothing is left behind when
//! the process dies.
//!
//! Records are byte strings; on disk each is its length (`u32`, little
//! endian) then its bytes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// How many bytes of records a [`Sorter`] or a [`Log`] keeps in memory
/// before it writes them to a temp file.
pub(crate) const MEMORY_LIMIT: usize = 4 * 1024 * 1024;

fn write_record(w: &mut impl Write, rec: &[u8]) -> io::Result<()> {
    let len = u32::try_from(rec.len()).map_err(|_| io::Error::other("record too long"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(rec)
}

/// The next record of a run, `None` at its end.
fn read_record(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut rec = vec![0u8; u32::from_le_bytes(len) as usize];
    r.read_exact(&mut rec)?;
    Ok(Some(rec))
}

/// Sorts byte strings, spilling sorted runs of at most `limit` bytes to
/// temp files in a directory and merging them when read.
pub(crate) struct Sorter {
    dir: PathBuf,
    limit: usize,
    buf: Vec<Vec<u8>>,
    bytes: usize,
    runs: Vec<File>,
    count: usize,
}

impl Sorter {
    /// A sorter keeping up to `limit` bytes of records in memory; runs go
    /// to temp files in `dir`.
    pub(crate) fn new(dir: &Path, limit: usize) -> Sorter {
        Sorter {
            dir: dir.to_path_buf(),
            limit,
            buf: Vec::new(),
            bytes: 0,
            runs: Vec::new(),
            count: 0,
        }
    }

    /// Adds a record.
    pub(crate) fn push(&mut self, rec: Vec<u8>) -> io::Result<()> {
        // What a record costs in memory: its bytes and its vector.
        self.bytes += rec.len() + std::mem::size_of::<Vec<u8>>();
        self.count += 1;
        self.buf.push(rec);
        if self.bytes > self.limit {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> io::Result<()> {
        self.buf.sort_unstable();
        let mut w = BufWriter::with_capacity(256 * 1024, tempfile::tempfile_in(&self.dir)?);
        for rec in self.buf.drain(..) {
            write_record(&mut w, &rec)?;
        }
        let mut f = w.into_inner().map_err(|e| e.into_error())?;
        f.seek(SeekFrom::Start(0))?;
        self.runs.push(f);
        self.buf = Vec::new();
        self.bytes = 0;
        Ok(())
    }

    /// The records pushed, in byte order (equal ones each kept).
    pub(crate) fn finish(mut self) -> io::Result<Sorted> {
        if self.runs.is_empty() {
            self.buf.sort_unstable();
            return Ok(Sorted {
                count: self.count,
                mem: self.buf.into_iter(),
                runs: Vec::new(),
                heap: BinaryHeap::new(),
            });
        }
        if !self.buf.is_empty() {
            self.spill()?;
        }
        let mut runs: Vec<BufReader<File>> = self
            .runs
            .into_iter()
            .map(|f| BufReader::with_capacity(64 * 1024, f))
            .collect();
        let mut heap = BinaryHeap::new();
        for (i, r) in runs.iter_mut().enumerate() {
            if let Some(rec) = read_record(r)? {
                heap.push(Reverse((rec, i)));
            }
        }
        Ok(Sorted {
            count: self.count,
            mem: Vec::new().into_iter(),
            runs,
            heap,
        })
    }
}

/// The records of a [`Sorter`], in order.
pub(crate) struct Sorted {
    count: usize,
    mem: std::vec::IntoIter<Vec<u8>>,
    runs: Vec<BufReader<File>>,
    heap: BinaryHeap<Reverse<(Vec<u8>, usize)>>,
}

impl Sorted {
    /// How many records were pushed in all (read or not).
    pub(crate) fn total(&self) -> usize {
        self.count
    }
}

impl Iterator for Sorted {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<io::Result<Vec<u8>>> {
        if self.runs.is_empty() {
            return self.mem.next().map(Ok);
        }
        let Reverse((rec, i)) = self.heap.pop()?;
        match read_record(&mut self.runs[i]) {
            Ok(Some(next)) => self.heap.push(Reverse((next, i))),
            Ok(None) => {}
            Err(e) => {
                self.heap.clear();
                return Some(Err(e));
            }
        }
        Some(Ok(rec))
    }
}

/// An append-only list of records: encoded into one buffer, which goes
/// to a temp file (in a directory) once it holds more than `limit` bytes.
pub(crate) struct Log {
    dir: PathBuf,
    limit: usize,
    mem: Vec<u8>,
    file: Option<BufWriter<File>>,
}

impl Log {
    /// An empty list keeping up to `limit` bytes in memory.
    pub(crate) fn new(dir: &Path, limit: usize) -> Log {
        Log {
            dir: dir.to_path_buf(),
            limit,
            mem: Vec::new(),
            file: None,
        }
    }

    /// Appends a record.
    pub(crate) fn push(&mut self, rec: &[u8]) -> io::Result<()> {
        if let Some(f) = self.file.as_mut() {
            return write_record(f, rec);
        }
        write_record(&mut self.mem, rec)?;
        if self.mem.len() > self.limit {
            let mut f = BufWriter::with_capacity(256 * 1024, tempfile::tempfile_in(&self.dir)?);
            f.write_all(&self.mem)?;
            self.mem = Vec::new();
            self.file = Some(f);
        }
        Ok(())
    }

    /// The records, in the order they were pushed.
    pub(crate) fn into_iter(self) -> io::Result<LogIter> {
        let src: Box<dyn Read> = match self.file {
            Some(w) => {
                let mut f = w.into_inner().map_err(|e| e.into_error())?;
                f.seek(SeekFrom::Start(0))?;
                Box::new(BufReader::with_capacity(64 * 1024, f))
            }
            None => Box::new(io::Cursor::new(self.mem)),
        };
        Ok(LogIter { src, done: false })
    }
}

/// The records of a [`Log`].
pub(crate) struct LogIter {
    src: Box<dyn Read>,
    done: bool,
}

impl Iterator for LogIter {
    type Item = io::Result<Vec<u8>>;

    fn next(&mut self) -> Option<io::Result<Vec<u8>>> {
        if self.done {
            return None;
        }
        match read_record(&mut self.src) {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(n: usize) -> Vec<Vec<u8>> {
        // A fixed shuffle, with duplicates and an empty record.
        let mut v: Vec<Vec<u8>> = (0..n)
            .map(|i| format!("{:x}/{}", (i * 7919) % 4096, i % 97).into_bytes())
            .collect();
        v.push(Vec::new());
        v
    }

    #[test]
    fn sorter_in_memory_and_spilled_give_the_same_order() {
        let dir = tempfile::tempdir().unwrap();
        let input = records(5000);
        let mut expected = input.clone();
        expected.sort();
        for limit in [usize::MAX, 1000, 1] {
            let mut s = Sorter::new(dir.path(), limit);
            for r in &input {
                s.push(r.clone()).unwrap();
            }
            let sorted = s.finish().unwrap();
            assert_eq!(sorted.total(), input.len());
            let got: Vec<Vec<u8>> = sorted.map(|r| r.unwrap()).collect();
            assert_eq!(got, expected, "limit {limit}");
        }
        // Runs are anonymous temp files: nothing left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn sorter_of_nothing_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let s = Sorter::new(dir.path(), 10);
        let mut sorted = s.finish().unwrap();
        assert_eq!(sorted.total(), 0);
        assert!(sorted.next().is_none());
    }

    #[test]
    fn log_keeps_order_in_memory_and_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let input = records(3000);
        for limit in [usize::MAX, 100, 0] {
            let mut l = Log::new(dir.path(), limit);
            for r in &input {
                l.push(r).unwrap();
            }
            let got: Vec<Vec<u8>> = l.into_iter().unwrap().map(|r| r.unwrap()).collect();
            assert_eq!(got, input, "limit {limit}");
        }
        let empty = Log::new(dir.path(), 0);
        assert_eq!(empty.into_iter().unwrap().count(), 0);
    }

    #[test]
    fn a_truncated_run_is_an_error_not_a_short_list() {
        let mut bytes = Vec::new();
        write_record(&mut bytes, b"abcdef").unwrap();
        bytes.truncate(7);
        let mut it = LogIter {
            src: Box::new(io::Cursor::new(bytes)),
            done: false,
        };
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }
}
