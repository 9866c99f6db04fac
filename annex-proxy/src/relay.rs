//! git over the P2P protocol (`CONNECT`, as git-annex's `P2P/IO.hs` runs
//! it): after `CONNECT git-upload-pack` (or `git-receive-pack`) the server
//! runs that git service on its repository; what git writes goes to the
//! client in `DATA` frames, the client's `DATA` frames go to git's stdin.
//! When git exits (or the client sends `CONNECTDONE`), the server sends
//! `CONNECTDONE` with the exit code (twice, as git-annex's relay does:
//! once when its relay loop sees the end, once after), and the session
//! is over.
//!
//! The client's side is read on a thread of its own, which may stay
//! blocked on the connection until the client closes it.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;

use annex_core::p2p::{Message, P2pReader, P2pWriter, Service};

use crate::server::ServerError;

/// What the relay's threads report.
enum Event {
    /// Bytes git wrote.
    Out(Vec<u8>),
    /// git closed its stdout.
    OutEnd,
    /// The client said `CONNECTDONE` with this code.
    PeerDone(i32),
    /// The client sent something else (answered with `ERROR`), or
    /// closed the connection.
    PeerGone(Option<Message>),
}

/// Relays `service` on the repository at `path` over the connection.
pub(crate) fn relay<R: Read + Send + 'static, W: Write>(
    path: &Path,
    service: Service,
    mut r: P2pReader<R>,
    w: &mut P2pWriter<W>,
) -> Result<(), ServerError> {
    let sub = match service {
        Service::UploadPack => "upload-pack",
        Service::ReceivePack => "receive-pack",
    };
    let mut child = Command::new("git")
        .arg(sub)
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|source| ServerError::Io {
            what: "run git in",
            path: path.to_path_buf(),
            source,
        })?;
    let (tx, rx) = mpsc::channel();
    let mut git_in = child.stdin.take();
    let git_out = child.stdout.take();
    // git's output, in the order written.
    let out_tx = tx.clone();
    let reader = git_out.map(|mut out| {
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            loop {
                match out.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if out_tx.send(Event::Out(buf[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                }
            }
            let _ = out_tx.send(Event::OutEnd);
        })
    });
    // The client's frames, to git's stdin.
    std::thread::spawn(move || {
        loop {
            match r.read_message() {
                Ok(Some(Message::Data(len))) => {
                    let mut sink: Box<dyn Write> = match git_in.as_mut() {
                        Some(i) => Box::new(i),
                        None => Box::new(std::io::sink()),
                    };
                    if r.read_data(len, &mut sink, &mut |_| {}).is_err() {
                        let _ = tx.send(Event::PeerGone(None));
                        return;
                    }
                    drop(sink);
                    if let Some(i) = git_in.as_mut()
                        && i.flush().is_err()
                    {
                        git_in = None;
                    }
                }
                Ok(Some(Message::ConnectDone(code))) => {
                    drop(git_in.take());
                    let _ = tx.send(Event::PeerDone(code));
                    return;
                }
                Ok(Some(other)) => {
                    drop(git_in.take());
                    let _ = tx.send(Event::PeerGone(Some(other)));
                    return;
                }
                Ok(None) | Err(_) => {
                    drop(git_in.take());
                    let _ = tx.send(Event::PeerGone(None));
                    return;
                }
            }
        }
    });
    let code = loop {
        let Ok(ev) = rx.recv() else {
            break None;
        };
        match ev {
            Event::Out(bytes) => {
                w.send_data(bytes.len() as u64, &mut &bytes[..], &mut |_| {})?;
            }
            Event::OutEnd => break None,
            Event::PeerDone(c) => break Some(c),
            Event::PeerGone(Some(_)) => {
                w.send(&Message::Error("expected DATA or CONNECTDONE".into()))?;
                break Some(1);
            }
            Event::PeerGone(None) => break Some(1),
        }
    };
    let status = child.wait().map_err(|source| ServerError::Io {
        what: "wait for git in",
        path: path.to_path_buf(),
        source,
    })?;
    if let Some(h) = reader {
        let _ = h.join();
    }
    let code = code.unwrap_or_else(|| status.code().unwrap_or(1));
    w.send(&Message::ConnectDone(code))?;
    w.send(&Message::ConnectDone(code))?;
    Ok(())
}
