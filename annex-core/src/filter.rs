//! The smudge/clean filter and git's long-running filter process protocol
//! (`gitattributes(5)`, "Long Running Filter Process"), as `git-annex
//! filter-process` speaks it: pkt-lines, version 2, the `clean` and
//! `smudge` capabilities (no `delay`, which git-annex does not offer
//! either).
//!
//! A clean request's content is read only as far as needed to tell a
//! pointer file from other content ([`crate::pointer::MAX_POINTER_SIZE`]
//! bytes): content going to the annex is taken from the work-tree file,
//! as git-annex does, so the rest of what git sends is discarded unread.
//!
//! ```
//! use annex_core::filter::{pkt_write, pkt_flush, read_pkt, Pkt};
//! let mut out = Vec::new();
//! pkt_write(&mut out, b"version=2\n").unwrap();
//! pkt_flush(&mut out).unwrap();
//! assert_eq!(out, b"000eversion=2\n0000");
//! let mut r = &out[..];
//! assert_eq!(read_pkt(&mut r).unwrap(), Pkt::Data(b"version=2\n".to_vec()));
//! assert_eq!(read_pkt(&mut r).unwrap(), Pkt::Flush);
//! ```

use std::io::{self, Read, Write};

use crate::pointer::MAX_POINTER_SIZE;

/// The largest payload of one pkt-line.
pub const MAX_PKT_DATA: usize = 65516;

/// Errors of the filter protocol.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    /// Reading from or writing to git failed.
    #[error("filter process: {0}")]
    Io(#[from] io::Error),
    /// git sent something the protocol does not allow.
    #[error("filter process: protocol error: {0}")]
    Protocol(String),
    /// The handler failed on a file.
    #[error("filter process: {0}")]
    Handler(String),
}

/// One pkt-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pkt {
    /// `0000`.
    Flush,
    /// A line with data.
    Data(Vec<u8>),
    /// The input ended (between packets).
    Eof,
}

/// Reads one pkt-line.
pub fn read_pkt(r: &mut impl Read) -> Result<Pkt, FilterError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = r.read(&mut len[got..])?;
        if n == 0 {
            if got == 0 {
                return Ok(Pkt::Eof);
            }
            return Err(FilterError::Protocol("truncated packet length".into()));
        }
        got += n;
    }
    let s =
        std::str::from_utf8(&len).map_err(|_| FilterError::Protocol("bad packet length".into()))?;
    let n = usize::from_str_radix(s, 16)
        .map_err(|_| FilterError::Protocol(format!("bad packet length {s:?}")))?;
    match n {
        0 => Ok(Pkt::Flush),
        1..=3 => Err(FilterError::Protocol(format!("bad packet length {n}"))),
        _ => {
            let mut data = vec![0u8; n - 4];
            r.read_exact(&mut data)?;
            Ok(Pkt::Data(data))
        }
    }
}

/// Writes `data` as one pkt-line (at most [`MAX_PKT_DATA`] bytes).
pub fn pkt_write(w: &mut impl Write, data: &[u8]) -> io::Result<()> {
    debug_assert!(data.len() <= MAX_PKT_DATA);
    write!(w, "{:04x}", data.len() + 4)?;
    w.write_all(data)
}

/// Writes a flush packet.
pub fn pkt_flush(w: &mut impl Write) -> io::Result<()> {
    w.write_all(b"0000")
}

/// Writes `data` as as many pkt-lines as needed, then a flush.
pub fn pkt_write_content(w: &mut impl Write, data: &[u8]) -> io::Result<()> {
    for chunk in data.chunks(MAX_PKT_DATA) {
        pkt_write(w, chunk)?;
    }
    pkt_flush(w)
}

/// Reads packets up to the next flush; their payloads, in order.
fn read_list(r: &mut impl Read) -> Result<Option<Vec<Vec<u8>>>, FilterError> {
    let mut out = Vec::new();
    loop {
        match read_pkt(r)? {
            Pkt::Flush => return Ok(Some(out)),
            Pkt::Data(d) => out.push(d),
            Pkt::Eof if out.is_empty() => return Ok(None),
            Pkt::Eof => return Err(FilterError::Protocol("input ended in a list".into())),
        }
    }
}

/// Reads content packets until the flush, at most `limit` bytes kept;
/// returns the bytes and whether the content was complete.
fn read_content_head(r: &mut impl Read, limit: usize) -> Result<(Vec<u8>, bool), FilterError> {
    let mut out = Vec::new();
    loop {
        match read_pkt(r)? {
            Pkt::Flush => return Ok((out, true)),
            Pkt::Data(d) => {
                out.extend_from_slice(&d);
                if out.len() > limit {
                    return Ok((out, false));
                }
            }
            Pkt::Eof => return Err(FilterError::Protocol("input ended in content".into())),
        }
    }
}

/// Reads the rest of a content up to its flush into `out` (or discards it).
fn read_content_rest(r: &mut impl Read, mut out: Option<&mut Vec<u8>>) -> Result<(), FilterError> {
    loop {
        match read_pkt(r)? {
            Pkt::Flush => return Ok(()),
            Pkt::Data(d) => {
                if let Some(o) = out.as_deref_mut() {
                    o.extend_from_slice(&d);
                }
            }
            Pkt::Eof => return Err(FilterError::Protocol("input ended in content".into())),
        }
    }
}

/// What the clean filter gives git for a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CleanResult {
    /// The content as git sent it (a file going to git, or a pointer).
    Passthrough,
    /// This content instead (a pointer file).
    Replace(Vec<u8>),
}

/// What a filter does with files.
pub trait FilterHandler {
    /// The clean filter for `path` (relative to the top of the work tree):
    /// `head` is the start of the content git sent (all of it when
    /// `complete`), at least [`MAX_POINTER_SIZE`] + 1 bytes otherwise.
    fn clean(&mut self, path: &[u8], head: &[u8], complete: bool) -> Result<CleanResult, String>;
    /// The smudge filter for `path`: what to put in the work tree for the
    /// staged `content` (usually a pointer file).
    fn smudge(&mut self, path: &[u8], content: Vec<u8>) -> Result<Vec<u8>, String>;
}

/// Serves git's long-running filter process protocol on `r`/`w` until git
/// closes the pipe. A handler error answers `status=error` for that file
/// (git then fails it, or falls back as `filter.<driver>.required` says),
/// and the process goes on.
pub fn serve(
    r: &mut impl Read,
    w: &mut impl Write,
    handler: &mut dyn FilterHandler,
) -> Result<(), FilterError> {
    // Handshake.
    let hello = read_list(r)?.ok_or_else(|| FilterError::Protocol("no handshake".into()))?;
    if hello.first().map(|l| l.as_slice()) != Some(b"git-filter-client\n") {
        return Err(FilterError::Protocol("bad welcome from git".into()));
    }
    if !hello.iter().any(|l| l == b"version=2\n") {
        return Err(FilterError::Protocol("git does not speak version 2".into()));
    }
    pkt_write(w, b"git-filter-server\n")?;
    pkt_write(w, b"version=2\n")?;
    pkt_flush(w)?;
    w.flush()?;
    let caps = read_list(r)?.ok_or_else(|| FilterError::Protocol("no capabilities".into()))?;
    for cap in [&b"capability=clean\n"[..], b"capability=smudge\n"] {
        if caps.iter().any(|c| c == cap) {
            pkt_write(w, cap)?;
        }
    }
    pkt_flush(w)?;
    w.flush()?;
    loop {
        let Some(headers) = read_list(r)? else {
            return Ok(());
        };
        let mut command = None;
        let mut pathname = None;
        for h in &headers {
            let h = h.strip_suffix(b"\n").unwrap_or(h);
            if let Some(v) = h.strip_prefix(b"command=") {
                command = Some(v.to_vec());
            } else if let Some(v) = h.strip_prefix(b"pathname=") {
                pathname = Some(v.to_vec());
            }
        }
        let path = pathname.unwrap_or_default();
        match command.as_deref() {
            Some(b"clean") => {
                let (mut head, complete) = read_content_head(r, MAX_POINTER_SIZE)?;
                match handler.clean(&path, &head, complete) {
                    Ok(CleanResult::Passthrough) => {
                        if !complete {
                            read_content_rest(r, Some(&mut head))?;
                        }
                        respond(w, &head)?;
                    }
                    Ok(CleanResult::Replace(data)) => {
                        if !complete {
                            read_content_rest(r, None)?;
                        }
                        respond(w, &data)?;
                    }
                    Err(e) => {
                        if !complete {
                            read_content_rest(r, None)?;
                        }
                        eprintln!("git-annex-rs: {e}");
                        respond_error(w)?;
                    }
                }
            }
            Some(b"smudge") => {
                let (mut content, complete) = read_content_head(r, usize::MAX)?;
                if !complete {
                    read_content_rest(r, Some(&mut content))?;
                }
                match handler.smudge(&path, content) {
                    Ok(data) => respond(w, &data)?,
                    Err(e) => {
                        eprintln!("git-annex-rs: {e}");
                        respond_error(w)?;
                    }
                }
            }
            other => {
                return Err(FilterError::Protocol(format!(
                    "unknown command {:?}",
                    String::from_utf8_lossy(other.unwrap_or(b""))
                )));
            }
        }
        w.flush()?;
    }
}

fn respond(w: &mut impl Write, data: &[u8]) -> io::Result<()> {
    pkt_write(w, b"status=success\n")?;
    pkt_flush(w)?;
    pkt_write_content(w, data)?;
    // The status stays "success".
    pkt_flush(w)
}

fn respond_error(w: &mut impl Write) -> io::Result<()> {
    pkt_write(w, b"status=error\n")?;
    pkt_flush(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Upper;
    impl FilterHandler for Upper {
        fn clean(&mut self, _: &[u8], head: &[u8], complete: bool) -> Result<CleanResult, String> {
            assert!(complete);
            Ok(CleanResult::Replace(head.to_ascii_uppercase()))
        }
        fn smudge(&mut self, _: &[u8], content: Vec<u8>) -> Result<Vec<u8>, String> {
            Ok(content)
        }
    }

    #[test]
    fn conversation() {
        let mut input = Vec::new();
        for l in [&b"git-filter-client\n"[..], b"version=2\n"] {
            pkt_write(&mut input, l).unwrap();
        }
        pkt_flush(&mut input).unwrap();
        for l in [
            &b"capability=clean\n"[..],
            b"capability=smudge\n",
            b"capability=delay\n",
        ] {
            pkt_write(&mut input, l).unwrap();
        }
        pkt_flush(&mut input).unwrap();
        pkt_write(&mut input, b"command=clean\n").unwrap();
        pkt_write(&mut input, b"pathname=a\n").unwrap();
        pkt_flush(&mut input).unwrap();
        pkt_write_content(&mut input, b"abc").unwrap();
        let mut out = Vec::new();
        serve(&mut &input[..], &mut out, &mut Upper).unwrap();
        let mut r = &out[..];
        let mut lines = Vec::new();
        loop {
            match read_pkt(&mut r).unwrap() {
                Pkt::Eof => break,
                Pkt::Flush => lines.push(b"----".to_vec()),
                Pkt::Data(d) => lines.push(d),
            }
        }
        let want: Vec<&[u8]> = vec![
            b"git-filter-server\n",
            b"version=2\n",
            b"----",
            b"capability=clean\n",
            b"capability=smudge\n",
            b"----",
            b"status=success\n",
            b"----",
            b"ABC",
            b"----",
            b"----",
        ];
        assert_eq!(lines, want);
        assert!(read_pkt(&mut &b"00"[..]).is_err());
        assert!(read_pkt(&mut &b"0002"[..]).is_err());
    }
}
