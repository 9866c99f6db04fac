//! Messages and `DATA` over a byte stream (a pipe, an ssh channel, a
//! socket), as git-annex reads and writes them: a message is one line
//! ending in `\n` (a `\r` before it is dropped); a line longer than
//! 32 KiB is refused rather than read into memory; `DATA LEN` is followed
//! by exactly LEN raw bytes and no newline.
//!
//! A peer that closes the connection in the middle of a line or of the
//! bytes of a `DATA` gives an error that says so; what was received of
//! the bytes is in the caller's sink, which must not take it for the
//! whole (the object store verifies before it moves content in).

use std::io::{BufRead, BufReader, Read, Write};

use super::message::{Message, MessageError};

/// The longest line read, as git-annex's limit.
pub const MAX_LINE: usize = 32768;

/// Why a message or data could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum P2pError {
    /// Reading from or writing to the connection failed.
    #[error("P2P connection: {what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The peer closed the connection in the middle of a line.
    #[error("P2P connection closed in the middle of a message")]
    ClosedMidLine,
    /// A line longer than [`MAX_LINE`].
    #[error("P2P protocol error: a line longer than {MAX_LINE} bytes")]
    LineTooLong,
    /// A line that is no message.
    #[error("P2P protocol error: {0}")]
    Message(#[from] MessageError),
    /// The peer closed the connection before sending all the bytes of
    /// a `DATA` it announced.
    #[error("P2P connection closed after {got} of the {expected} bytes of DATA")]
    ShortData {
        /// Bytes announced.
        expected: u64,
        /// Bytes received.
        got: u64,
    },
    /// What we were sending ended before the length we announced; the
    /// connection must be closed (the protocol has no other way out).
    #[error("the content being sent ended after {got} of the {expected} bytes announced")]
    ShortSource {
        /// Bytes announced.
        expected: u64,
        /// Bytes the source gave.
        got: u64,
    },
    /// Writing the received bytes to their destination failed.
    #[error("writing received data: {0}")]
    Sink(#[source] std::io::Error),
}

/// The reading half of a connection.
pub struct P2pReader<R> {
    inner: BufReader<R>,
}

impl<R: Read> P2pReader<R> {
    /// Reads from `inner`, buffered.
    pub fn new(inner: R) -> P2pReader<R> {
        P2pReader::with_capacity(1 << 16, inner)
    }

    /// Reads from `inner` through a buffer of `capacity` bytes.
    pub fn with_capacity(capacity: usize, inner: R) -> P2pReader<R> {
        P2pReader {
            inner: BufReader::with_capacity(capacity, inner),
        }
    }

    /// The next line, without its `\n` (nor a `\r` before it); `None`
    /// when the peer closed the connection between messages.
    pub fn read_line(&mut self) -> Result<Option<Vec<u8>>, P2pError> {
        let mut line = Vec::new();
        loop {
            let buf = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(P2pError::Io {
                        what: "reading a message",
                        source,
                    });
                }
            };
            if buf.is_empty() {
                return if line.is_empty() {
                    Ok(None)
                } else {
                    Err(P2pError::ClosedMidLine)
                };
            }
            let room = MAX_LINE - line.len();
            match buf.iter().take(room).position(|&b| b == b'\n') {
                Some(i) => {
                    line.extend_from_slice(&buf[..i]);
                    self.inner.consume(i + 1);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    return Ok(Some(line));
                }
                None => {
                    let n = buf.len().min(room);
                    line.extend_from_slice(&buf[..n]);
                    self.inner.consume(n);
                    if line.len() >= MAX_LINE {
                        return Err(P2pError::LineTooLong);
                    }
                }
            }
        }
    }

    /// The next message; `None` when the peer closed the connection
    /// between messages.
    pub fn read_message(&mut self) -> Result<Option<Message>, P2pError> {
        match self.read_line()? {
            None => Ok(None),
            Some(line) => Ok(Some(Message::parse(&line)?)),
        }
    }

    /// Copies the `len` bytes of a `DATA` to `sink`, calling `progress`
    /// with the bytes received so far.
    pub fn read_data(
        &mut self,
        len: u64,
        sink: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), P2pError> {
        let mut got: u64 = 0;
        while got < len {
            let buf = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(P2pError::Io {
                        what: "reading data",
                        source,
                    });
                }
            };
            if buf.is_empty() {
                return Err(P2pError::ShortData { expected: len, got });
            }
            let n = buf
                .len()
                .min(usize::try_from(len - got).unwrap_or(usize::MAX));
            sink.write_all(&buf[..n]).map_err(P2pError::Sink)?;
            self.inner.consume(n);
            got += n as u64;
            progress(got);
        }
        Ok(())
    }

    /// The stream underneath.
    pub fn get_ref(&self) -> &R {
        self.inner.get_ref()
    }
}

/// The writing half of a connection.
pub struct P2pWriter<W: Write> {
    inner: W,
}

impl<W: Write> P2pWriter<W> {
    /// Writes to `inner` (each message is flushed as it is sent).
    pub fn new(inner: W) -> P2pWriter<W> {
        P2pWriter { inner }
    }

    /// Sends a message.
    pub fn send(&mut self, m: &Message) -> Result<(), P2pError> {
        let mut line = m.to_line();
        line.push(b'\n');
        let io = |source| P2pError::Io {
            what: "sending a message",
            source,
        };
        self.inner.write_all(&line).map_err(io)?;
        self.inner.flush().map_err(io)
    }

    /// Sends `DATA len` and then exactly `len` bytes read from `source`,
    /// calling `progress` with the bytes sent so far. When `source` ends
    /// early the error is [`P2pError::ShortSource`], and the connection
    /// must be closed.
    pub fn send_data(
        &mut self,
        len: u64,
        source: &mut dyn Read,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), P2pError> {
        self.send(&Message::Data(len))?;
        let io = |source| P2pError::Io {
            what: "sending data",
            source,
        };
        let mut buf = vec![
            0u8;
            (1 << 20)
                .min(usize::try_from(len).unwrap_or(usize::MAX))
                .max(1)
        ];
        let mut sent: u64 = 0;
        while sent < len {
            let want = buf
                .len()
                .min(usize::try_from(len - sent).unwrap_or(usize::MAX));
            let n = match source.read(&mut buf[..want]) {
                Ok(0) => {
                    return Err(P2pError::ShortSource {
                        expected: len,
                        got: sent,
                    });
                }
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(P2pError::Sink(e)),
            };
            self.inner.write_all(&buf[..n]).map_err(io)?;
            sent += n as u64;
            progress(sent);
        }
        self.inner.flush().map_err(io)
    }

    /// The stream underneath.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_data_read_back_as_sent() {
        let mut w = P2pWriter::new(Vec::new());
        w.send(&Message::Version(4)).expect("send");
        w.send_data(3, &mut &b"foo"[..], &mut |_| {}).expect("data");
        w.send(&Message::Valid).expect("send");
        let bytes = w.get_mut().clone();
        assert_eq!(bytes, b"VERSION 4\nDATA 3\nfooVALID\n");
        let mut r = P2pReader::new(&bytes[..]);
        assert_eq!(r.read_message().expect("read"), Some(Message::Version(4)));
        assert_eq!(r.read_message().expect("read"), Some(Message::Data(3)));
        let mut got = Vec::new();
        let mut seen = 0;
        r.read_data(3, &mut got, &mut |n| seen = n).expect("data");
        assert_eq!((got.as_slice(), seen), (&b"foo"[..], 3));
        assert_eq!(r.read_message().expect("read"), Some(Message::Valid));
        assert_eq!(r.read_message().expect("eof"), None);
    }

    #[test]
    fn a_carriage_return_before_the_newline_is_dropped() {
        let mut r = P2pReader::new(&b"SUCCESS\r\n"[..]);
        assert_eq!(r.read_message().expect("read"), Some(Message::Success));
    }

    #[test]
    fn a_peer_gone_mid_line_or_mid_data_is_an_error_that_says_so() {
        let mut r = P2pReader::new(&b"SUCC"[..]);
        assert!(matches!(r.read_message(), Err(P2pError::ClosedMidLine)));
        let mut r = P2pReader::new(&b"DATA 10\nabc"[..]);
        assert_eq!(r.read_message().expect("read"), Some(Message::Data(10)));
        let mut got = Vec::new();
        let e = r.read_data(10, &mut got, &mut |_| {}).expect_err("short");
        assert!(
            matches!(
                e,
                P2pError::ShortData {
                    expected: 10,
                    got: 3
                }
            ),
            "{e}"
        );
        assert_eq!(got, b"abc");
    }

    #[test]
    fn a_line_over_32_kib_is_refused_without_reading_it_all() {
        let mut long = vec![b'E'; MAX_LINE + 10];
        long.push(b'\n');
        let mut r = P2pReader::new(&long[..]);
        assert!(matches!(r.read_line(), Err(P2pError::LineTooLong)));
        // Just under the limit is fine.
        let mut ok = b"ERROR ".to_vec();
        ok.resize(MAX_LINE - 1, b'x');
        ok.push(b'\n');
        let mut r = P2pReader::new(&ok[..]);
        assert!(matches!(r.read_message(), Ok(Some(Message::Error(_)))));
    }

    #[test]
    fn a_source_shorter_than_announced_is_an_error() {
        let mut w = P2pWriter::new(Vec::new());
        let e = w
            .send_data(5, &mut &b"ab"[..], &mut |_| {})
            .expect_err("short source");
        assert!(matches!(
            e,
            P2pError::ShortSource {
                expected: 5,
                got: 2
            }
        ));
    }
}
