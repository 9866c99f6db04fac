//! A small real HTTP/1.1 server on 127.0.0.1 for the web remote's and
//! `addurl`'s tests (std `TcpListener`, one thread per connection, one
//! request per connection): files served with `HEAD`, `GET` and
//! `Range: bytes=N-` (206), redirects, and a download cut short once (the
//! connection closed after some bytes) to test resuming. Every request is
//! recorded so tests can assert what the client asked for.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// One request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `HEAD`...
    pub method: String,
    /// The path (with the query).
    pub path: String,
    /// The `Range` header, when sent.
    pub range: Option<String>,
}

#[derive(Default)]
struct Routes {
    files: HashMap<String, Vec<u8>>,
    redirects: HashMap<String, String>,
    cut: HashMap<String, usize>,
    dispositions: HashMap<String, String>,
    requests: Vec<Request>,
}

/// The server; stopped when dropped.
pub struct HttpServer {
    addr: SocketAddr,
    routes: Arc<Mutex<Routes>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Starts a server on a free port of 127.0.0.1.
    pub fn start() -> HttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local addr");
        let routes: Arc<Mutex<Routes>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (routes.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let r = r.clone();
                    std::thread::spawn(move || serve(conn, &r));
                }
            }
        });
        HttpServer {
            addr,
            routes,
            stop,
            thread: Some(thread),
        }
    }

    fn routes(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT/PATH` (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Serves `content` at `path`.
    pub fn put(&self, path: &str, content: &[u8]) {
        self.routes().files.insert(path.into(), content.to_vec());
    }

    /// Serves `path` with a `Content-Disposition` naming `filename`.
    pub fn disposition(&self, path: &str, filename: &str) {
        self.routes()
            .dispositions
            .insert(path.into(), filename.into());
    }

    /// Answers `path` with `302 Found` to `location`.
    pub fn redirect(&self, path: &str, location: &str) {
        self.routes().redirects.insert(path.into(), location.into());
    }

    /// The next full `GET` of `path` announces the whole length but sends
    /// only `bytes` of it, then closes the connection.
    pub fn cut_once(&self, path: &str, bytes: usize) {
        self.routes().cut.insert(path.into(), bytes);
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.routes().requests.clone()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(conn: TcpStream, routes: &Mutex<Routes>) {
    let mut reader = BufReader::new(match conn.try_clone() {
        Ok(c) => c,
        Err(_) => return,
    });
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return;
    };
    let (method, path) = (method.to_string(), path.to_string());
    let mut range = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':')
            && n.trim().eq_ignore_ascii_case("range")
        {
            range = Some(v.trim().to_string());
        }
    }
    let mut out = conn;
    let mut r = routes.lock().unwrap_or_else(|p| p.into_inner());
    r.requests.push(Request {
        method: method.clone(),
        path: path.clone(),
        range: range.clone(),
    });
    let head = method == "HEAD";
    if let Some(loc) = r.redirects.get(&path).cloned() {
        drop(r);
        let _ = write!(
            out,
            "HTTP/1.1 302 Found\r\nLocation: {loc}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        return;
    }
    let Some(body) = r.files.get(&path).cloned() else {
        drop(r);
        let _ = write!(
            out,
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        return;
    };
    let disposition = r
        .dispositions
        .get(&path)
        .map(|f| format!("Content-Disposition: attachment; filename=\"{f}\"\r\n"))
        .unwrap_or_default();
    let from = range
        .as_deref()
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.strip_suffix('-'))
        .and_then(|v| v.parse::<usize>().ok());
    let cut = if !head && from.is_none() {
        r.cut.remove(&path)
    } else {
        None
    };
    drop(r);
    match from {
        Some(f) if f >= body.len() => {
            let _ = write!(
                out,
                "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                body.len()
            );
        }
        Some(f) => {
            let _ = write!(
                out,
                "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {f}-{}/{}\r\nContent-Length: {}\r\n{disposition}Connection: close\r\n\r\n",
                body.len() - 1,
                body.len(),
                body.len() - f
            );
            if !head {
                let _ = out.write_all(&body[f..]);
            }
        }
        None => {
            let _ = write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{disposition}Connection: close\r\n\r\n",
                body.len()
            );
            if !head {
                let n = cut.unwrap_or(body.len()).min(body.len());
                let _ = out.write_all(&body[..n]);
            }
        }
    }
    let _ = out.flush();
}
