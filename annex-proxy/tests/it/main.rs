//! annex-proxy's integration tests: our P2P server and the reference's
//! (`git-annex-shell p2pstdio`) are given the same conversations, on
//! repositories the reference made, and must answer alike; what they
//! record is read back by the reference.

use std::io::{PipeReader, PipeWriter, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use annex_core::key::Key;
use annex_core::p2p::{Message, P2pReader, P2pWriter};
use annex_core::uuid::Uuid;
use annex_proxy::server::{Server, ServerMode};
use test_support::{annex, annex_output, git, hermetic, new_git_repo, reference_git_annex};

const CLIENT: &str = "11111111-2222-3333-4444-555555555555";

/// The server's end, whichever server it is.
enum Peer {
    Ours(std::thread::JoinHandle<Result<(), String>>),
    Theirs(Child),
}

/// A client's connection to a server.
struct Conn {
    r: P2pReader<Box<dyn std::io::Read + Send>>,
    w: P2pWriter<Box<dyn Write + Send>>,
    peer: Peer,
}

fn mode_env(mode: ServerMode) -> Option<&'static str> {
    match mode {
        ServerMode::ReadOnly => Some("GIT_ANNEX_SHELL_READONLY"),
        ServerMode::AppendOnly => Some("GIT_ANNEX_SHELL_APPENDONLY"),
        ServerMode::ReadWrite => None,
    }
}

impl Conn {
    fn ours(dir: &Path, mode: ServerMode) -> Conn {
        let (from_server, to_client): (PipeReader, PipeWriter) = std::io::pipe().expect("pipe");
        let (from_client, to_server): (PipeReader, PipeWriter) = std::io::pipe().expect("pipe");
        let dir = dir.to_path_buf();
        let client = Uuid::parse(CLIENT.as_bytes()).expect("uuid");
        let handle = std::thread::spawn(move || {
            let mut s = Server::open(&dir, client, mode).map_err(|e| e.to_string())?;
            s.serve(from_client, to_client).map_err(|e| e.to_string())
        });
        Conn {
            r: P2pReader::new(Box::new(from_server)),
            w: P2pWriter::new(Box::new(to_server)),
            peer: Peer::Ours(handle),
        }
    }

    fn theirs(dir: &Path, mode: ServerMode) -> Conn {
        let shell = reference_git_annex().with_file_name("git-annex-shell");
        let mut cmd = Command::new(shell);
        hermetic(&mut cmd)
            .current_dir(dir)
            .arg("p2pstdio")
            .arg(dir)
            .arg(CLIENT)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(var) = mode_env(mode) {
            cmd.env(var, "1");
        }
        let mut child = cmd.spawn().expect("git-annex-shell p2pstdio");
        let out = child.stdout.take().expect("stdout");
        let inp = child.stdin.take().expect("stdin");
        Conn {
            r: P2pReader::new(Box::new(out)),
            w: P2pWriter::new(Box::new(inp)),
            peer: Peer::Theirs(child),
        }
    }

    fn send(&mut self, m: Message) {
        self.w.send(&m).expect("send");
    }
    fn recv(&mut self) -> Message {
        self.r
            .read_message()
            .expect("read")
            .expect("a message, not EOF")
    }
    fn ask(&mut self, m: Message) -> Message {
        self.send(m);
        self.recv()
    }
    fn data(&mut self, len: u64) -> Vec<u8> {
        let mut got = Vec::new();
        self.r.read_data(len, &mut got, &mut |_| {}).expect("data");
        got
    }
    fn send_data(&mut self, bytes: &[u8]) {
        self.w
            .send_data(bytes.len() as u64, &mut &bytes[..], &mut |_| {})
            .expect("send data");
    }
    /// Closes the connection and waits for the server to end.
    fn close(self) {
        drop(self.w);
        drop(self.r);
        match self.peer {
            Peer::Ours(h) => {
                let _ = h.join().expect("server thread");
            }
            Peer::Theirs(mut c) => {
                let _ = c.wait();
            }
        }
    }
}

fn repo_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = new_git_repo();
    annex(dir.path(), &["init", "server"]);
    for (n, c) in files {
        std::fs::write(dir.path().join(n), c).expect("write");
        annex(dir.path(), &["add", n]);
    }
    git(dir.path(), &["commit", "-q", "-m", "add"]);
    dir
}

fn key_of(dir: &Path, file: &str) -> Key {
    Key::parse(annex(dir, &["lookupkey", file]).trim().as_bytes()).expect("key")
}

fn sha256e(content: &[u8]) -> Key {
    use sha2::Digest;
    let hex: String = sha2::Sha256::digest(content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Key::parse(format!("SHA256E-s{}--{hex}", content.len()).as_bytes()).expect("key")
}

/// Both servers, each on its own copy of the same kind of repository.
fn both(f: impl Fn(&mut dyn FnMut(ServerMode) -> Conn, &Path, &str) -> Vec<String>) {
    let ours_repo = repo_with(&[("a", b"hello p2p\n")]);
    let theirs_repo = repo_with(&[("a", b"hello p2p\n")]);
    let ours = f(
        &mut |m| Conn::ours(ours_repo.path(), m),
        ours_repo.path(),
        "ours",
    );
    let theirs = f(
        &mut |m| Conn::theirs(theirs_repo.path(), m),
        theirs_repo.path(),
        "theirs",
    );
    assert_eq!(ours, theirs);
}

fn show(m: &Message) -> String {
    String::from_utf8_lossy(&m.to_line()).into_owned()
}

#[test]
fn every_request_is_answered_as_the_reference_server_answers_it() {
    both(|connect, dir, _| {
        let mut log = Vec::new();
        let mut c = connect(ServerMode::ReadWrite);
        let AuthSuccessUuid(u) = greet(&mut c);
        assert_eq!(u, git(dir, &["config", "annex.uuid"]).trim());
        let a = key_of(dir, "a");
        let absent = sha256e(b"absent\n");
        ask(&mut c, &mut log, Message::Version(4));
        ask(&mut c, &mut log, Message::CheckPresent(a.clone()));
        ask(&mut c, &mut log, Message::CheckPresent(absent.clone()));
        // GET from an offset.
        let get = Message::Get {
            offset: 6,
            file: Some(b"a".to_vec()),
            key: a.clone(),
        };
        if let Message::Data(n) = ask(&mut c, &mut log, get) {
            let got = c.data(n);
            let v = c.recv();
            c.send(Message::Success);
            assert_eq!(got, b"p2p\n");
            assert_eq!(v, Message::Valid);
        }
        // GET of content not here: nothing, INVALID.
        let get = Message::Get {
            offset: 0,
            file: None,
            key: absent.clone(),
        };
        if let Message::Data(n) = ask(&mut c, &mut log, get) {
            assert_eq!(c.data(n), b"");
            assert_eq!(c.recv(), Message::Invalid);
            c.send(Message::Failure);
        }
        ask(&mut c, &mut log, Message::LockContent(a.clone()));
        c.send(Message::UnlockContent);
        ask(&mut c, &mut log, Message::LockContent(absent.clone()));
        // PUT, then PUT again.
        let new = b"new content\n";
        let newkey = sha256e(new);
        let put = Message::Put {
            file: Some(b"dir/new file".to_vec()),
            key: newkey.clone(),
        };
        if ask(&mut c, &mut log, put.clone()) == Message::PutFrom(0) {
            c.send_data(new);
            ask(&mut c, &mut log, Message::Valid);
        }
        ask(&mut c, &mut log, put);
        // PUT of content that does not match its key.
        let bad = sha256e(b"expected\n");
        let put = Message::Put {
            file: None,
            key: bad.clone(),
        };
        if ask(&mut c, &mut log, put) == Message::PutFrom(0) {
            c.send_data(b"tampered\n");
            ask(&mut c, &mut log, Message::Valid);
        }
        ask(&mut c, &mut log, Message::CheckPresent(bad));
        ask(
            &mut c,
            &mut log,
            Message::RemoveBefore {
                timestamp: 0,
                key: newkey.clone(),
            },
        );
        ask(&mut c, &mut log, Message::CheckPresent(newkey.clone()));
        ask(&mut c, &mut log, Message::Remove(newkey.clone()));
        ask(&mut c, &mut log, Message::CheckPresent(newkey.clone()));
        ask(&mut c, &mut log, Message::Remove(absent.clone()));
        // Requests a server does not take.
        ask(&mut c, &mut log, Message::UnlockContent);
        ask(
            &mut c,
            &mut log,
            Message::AuthSuccess(Uuid::parse(b"x").expect("uuid")),
        );
        c.w.get_mut()
            .write_all(b"NOSUCHTHING at all\n")
            .expect("write");
        let reply = c.recv();
        log.push(format!("NOSUCHTHING -> {}", show(&reply)));
        // A key to keep, for the log.
        let kept = b"kept\n";
        if ask(
            &mut c,
            &mut log,
            Message::Put {
                file: None,
                key: sha256e(kept),
            },
        ) == Message::PutFrom(0)
        {
            c.send_data(kept);
            ask(&mut c, &mut log, Message::Valid);
        }
        c.close();
        // What the server recorded, read by the reference.
        let whereis = annex(dir, &["whereis", "--key", &sha256e(kept).to_string()]);
        log.push(format!(
            "kept here: {}",
            whereis.contains("-- server <-- here")
        ));
        let gone = annex_output(dir, &["whereis", "--key", &newkey.to_string()], None);
        log.push(format!("removed: exit {:?}", gone.status.code()));
        log
    });
}

/// The greeting's UUID.
struct AuthSuccessUuid(String);

fn greet(c: &mut Conn) -> AuthSuccessUuid {
    match c.recv() {
        Message::AuthSuccess(u) => AuthSuccessUuid(u.as_str().to_string()),
        other => panic!("greeting: {other:?}"),
    }
}

/// Asks, and logs the exchange.
fn ask(c: &mut Conn, log: &mut Vec<String>, m: Message) -> Message {
    let reply = c.ask(m.clone());
    log.push(format!("{} -> {}", show(&m), show(&reply)));
    reply
}

#[test]
fn read_only_and_append_only_refuse_as_the_reference_does() {
    both(|connect, dir, _| {
        let mut log = Vec::new();
        let a = key_of(dir, "a");
        for mode in [ServerMode::ReadOnly, ServerMode::AppendOnly] {
            let mut c = connect(mode);
            greet(&mut c);
            c.ask(Message::Version(4));
            let content = b"appended\n";
            let put = Message::Put {
                file: None,
                key: sha256e(content),
            };
            let reply = c.ask(put);
            log.push(format!("{mode:?} PUT -> {}", show(&reply)));
            if reply == Message::PutFrom(0) {
                c.send_data(content);
                log.push(format!(
                    "{mode:?} VALID -> {}",
                    show(&c.ask(Message::Valid))
                ));
            }
            log.push(format!(
                "{mode:?} REMOVE -> {}",
                show(&c.ask(Message::Remove(a.clone())))
            ));
            log.push(format!(
                "{mode:?} CHECKPRESENT -> {}",
                show(&c.ask(Message::CheckPresent(a.clone())))
            ));
            c.close();
        }
        log
    });
}

/// The protocol's promise: content a client locked stays at least ten
/// minutes when the connection breaks before `UNLOCKCONTENT`. The
/// reference keeps it when its server process dies (checked here with a
/// kill), but releases it when the client merely closes the connection;
/// ours keeps it in both cases, as the protocol's documentation says.
#[test]
fn a_lock_outlives_a_broken_connection() {
    for side in ["ours", "theirs"] {
        let repo = repo_with(&[("a", b"hello p2p\n")]);
        let dir = repo.path();
        let a = key_of(dir, "a");
        let mut c = if side == "ours" {
            Conn::ours(dir, ServerMode::ReadWrite)
        } else {
            Conn::theirs(dir, ServerMode::ReadWrite)
        };
        greet(&mut c);
        c.ask(Message::Version(4));
        assert_eq!(
            c.ask(Message::LockContent(a.clone())),
            Message::Success,
            "{side}"
        );
        if let Peer::Theirs(child) = &mut c.peer {
            child.kill().expect("kill the reference's server");
        }
        c.close();
        let drop = annex_output(dir, &["drop", "--force", "a"], None);
        assert!(
            !drop.status.success(),
            "{side}: a locked copy was dropped: {drop:?}"
        );
        let present = annex_output(dir, &["contentlocation", &a.to_string()], None);
        assert!(present.status.success(), "{side}: content gone");
    }
}

#[test]
fn an_unlocked_lock_leaves_the_content_droppable_as_the_reference_does() {
    both(|connect, dir, _| {
        let mut log = Vec::new();
        let a = key_of(dir, "a");
        let mut c = connect(ServerMode::ReadWrite);
        greet(&mut c);
        c.ask(Message::Version(4));
        log.push(show(&c.ask(Message::LockContent(a.clone()))));
        c.send(Message::UnlockContent);
        log.push(show(&c.ask(Message::CheckPresent(a.clone()))));
        c.close();
        let drop = annex_output(dir, &["drop", "--force", "a"], None);
        log.push(format!("drop after unlock: exit {:?}", drop.status.code()));
        log
    });
}

#[test]
fn a_client_gone_mid_put_leaves_nothing_in_the_store_and_the_put_resumes() {
    both(|connect, dir, _| {
        let mut log = Vec::new();
        let content = b"0123456789";
        let key = sha256e(content);
        let put = Message::Put {
            file: None,
            key: key.clone(),
        };
        let mut c = connect(ServerMode::ReadWrite);
        greet(&mut c);
        c.ask(Message::Version(4));
        log.push(show(&c.ask(put.clone())));
        c.send(Message::Data(10));
        c.w.get_mut().write_all(&content[..4]).expect("write");
        c.close();
        let present = annex_output(dir, &["contentlocation", &key.to_string()], None);
        log.push(format!("present after: {}", present.status.success()));
        // The next PUT resumes where the data stopped.
        let mut c = connect(ServerMode::ReadWrite);
        greet(&mut c);
        c.ask(Message::Version(4));
        let reply = c.ask(put);
        log.push(show(&reply));
        if let Message::PutFrom(n) = reply {
            c.send_data(&content[n as usize..]);
            log.push(show(&c.ask(Message::Valid)));
        }
        c.close();
        let present = annex_output(dir, &["contentlocation", &key.to_string()], None);
        log.push(format!(
            "present after resume: {}",
            present.status.success()
        ));
        log
    });
}

/// A key whose name would climb out of the object store is stored inside
/// it (the name is escaped as git-annex escapes it), by ours as by the
/// reference.
#[test]
fn a_key_naming_a_path_outside_the_store_stays_inside_it() {
    both(|connect, dir, _| {
        let mut log = Vec::new();
        let content = b"x";
        let key = Key::parse(b"WORM-s1-m1--../../../../escaped").expect("key");
        let mut c = connect(ServerMode::ReadWrite);
        greet(&mut c);
        c.ask(Message::Version(4));
        let put = Message::Put {
            file: None,
            key: key.clone(),
        };
        if ask(&mut c, &mut log, put) == Message::PutFrom(0) {
            c.send_data(content);
            ask(&mut c, &mut log, Message::Valid);
        }
        ask(&mut c, &mut log, Message::CheckPresent(key.clone()));
        c.close();
        let out = annex_output(dir, &["contentlocation", &key.to_string()], None);
        let loc = String::from_utf8_lossy(&out.stdout).trim().to_string();
        log.push(format!(
            "inside the store: {}",
            loc.starts_with(".git/annex/objects/")
        ));
        for escaped in ["escaped", "../escaped", "../../escaped"] {
            assert!(!dir.join(escaped).exists(), "{escaped} written outside");
        }
        log
    });
}

/// A server that relays git (`Server::relay_git`) and notifies changes
/// (`Server::notify_changes`), as git-annex's P2P network servers do.
fn full_server(dir: &Path, mode: ServerMode) -> Conn {
    let (from_server, to_client): (PipeReader, PipeWriter) = std::io::pipe().expect("pipe");
    let (from_client, to_server): (PipeReader, PipeWriter) = std::io::pipe().expect("pipe");
    let dir = dir.to_path_buf();
    let client = Uuid::parse(CLIENT.as_bytes()).expect("uuid");
    let handle = std::thread::spawn(move || {
        let s = Server::open(&dir, client, mode).map_err(|e| e.to_string())?;
        let mut s = s.relay_git().notify_changes();
        s.serve(from_client, to_client).map_err(|e| e.to_string())
    });
    Conn {
        r: P2pReader::new(Box::new(from_server)),
        w: P2pWriter::new(Box::new(to_server)),
        peer: Peer::Ours(handle),
    }
}

/// Reads `DATA` frames until `CONNECTDONE`; gives the bytes and the code.
fn relayed(c: &mut Conn) -> (Vec<u8>, i32) {
    let mut bytes = Vec::new();
    loop {
        match c.recv() {
            Message::Data(n) => bytes.extend(c.data(n)),
            Message::ConnectDone(code) => return (bytes, code),
            other => panic!("expected DATA or CONNECTDONE: {other:?}"),
        }
    }
}

#[test]
fn connect_relays_git_upload_pack_and_receive_pack() {
    use annex_core::p2p::Service;
    let repo = repo_with(&[("a", b"hello p2p\n")]);
    let dir = repo.path();
    // What git's services list: every ref, the advertisement closed by a
    // flush packet.
    let refs = git(dir, &["for-each-ref", "--format=%(objectname) %(refname)"]);
    let lists_refs = |bytes: &[u8]| {
        let t = String::from_utf8_lossy(bytes);
        refs.lines().all(|r| t.contains(r)) && t.ends_with("0000")
    };
    for service in [Service::UploadPack, Service::ReceivePack] {
        let mut c = full_server(dir, ServerMode::ReadWrite);
        greet(&mut c);
        c.ask(Message::Version(4));
        c.send(Message::Connect(service));
        // The client is done: a flush packet ends git's conversation.
        c.send_data(b"0000");
        let (bytes, code) = relayed(&mut c);
        assert_eq!(code, 0, "{service:?}");
        assert!(
            lists_refs(&bytes),
            "{service:?}: {}",
            String::from_utf8_lossy(&bytes)
        );
        // git-annex's relay says it twice, and the session is over.
        assert_eq!(c.recv(), Message::ConnectDone(0));
        assert_eq!(c.r.read_message().expect("read"), None);
        c.close();
    }
    // The client ends first: its code comes back.
    let mut c = full_server(dir, ServerMode::ReadWrite);
    greet(&mut c);
    c.send(Message::Connect(Service::UploadPack));
    c.send(Message::ConnectDone(3));
    let (_, code) = relayed(&mut c);
    assert_eq!(code, 3);
    c.close();
    // Read-only and append-only: no receive-pack, the session ends.
    for mode in [ServerMode::ReadOnly, ServerMode::AppendOnly] {
        let mut c = full_server(dir, mode);
        greet(&mut c);
        assert_eq!(
            c.ask(Message::Connect(Service::ReceivePack)),
            Message::Error("this repository is read-only; write access denied".into())
        );
        assert_eq!(c.r.read_message().expect("read"), None);
        c.close();
        // upload-pack is allowed.
        let mut c = full_server(dir, mode);
        greet(&mut c);
        c.send(Message::Connect(Service::UploadPack));
        c.send_data(b"0000");
        let (bytes, code) = relayed(&mut c);
        assert!(lists_refs(&bytes) && code == 0, "{mode:?}");
        c.close();
    }
}

#[test]
fn a_put_of_a_key_with_a_nul_fails_the_session_and_writes_nothing() {
    let repo = repo_with(&[("a", b"hello p2p\n")]);
    let dir = repo.path();
    let mut c = Conn::ours(dir, ServerMode::ReadWrite);
    greet(&mut c);
    c.ask(Message::Version(4));
    c.w.get_mut()
        .write_all(b"PUT f WORM-s1-m1--\0escaped\n")
        .expect("write");
    assert_eq!(c.r.read_message().expect("read"), None);
    drop(c.w);
    let Peer::Ours(h) = c.peer else {
        unreachable!("ours")
    };
    let err = h
        .join()
        .expect("server thread")
        .expect_err("the session fails");
    assert!(err.contains("escaped"), "{err}");
    assert!(!dir.join(".git/annex/objects").join("escaped").exists());
}

#[test]
fn notifychange_answers_with_the_changed_refs() {
    let repo = repo_with(&[("a", b"hello p2p\n")]);
    let dir = repo.path();
    let head = git(dir, &["rev-parse", "HEAD"]).trim().to_string();
    let mut c = full_server(dir, ServerMode::ReadOnly);
    greet(&mut c);
    c.ask(Message::Version(4));
    // The refs there when the watch began come first.
    match c.ask(Message::NotifyChange) {
        Message::Changed(shas) => assert!(shas.contains(&head.as_bytes().to_vec())),
        other => panic!("{other:?}"),
    }
    let writer = {
        let dir = dir.to_path_buf();
        let head = head.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            git(&dir, &["update-ref", "refs/heads/changed", &head]);
        })
    };
    assert_eq!(
        c.ask(Message::NotifyChange),
        Message::Changed(vec![head.as_bytes().to_vec()])
    );
    writer.join().expect("writer");
    // Requests go on as usual after it.
    assert_eq!(
        c.ask(Message::CheckPresent(key_of(dir, "a"))),
        Message::Success
    );
    c.close();
}

/// Keys that would climb out of the object store, given to every request
/// that takes a key: the reference's server and ours answer alike, and
/// nothing is written outside the store.
#[test]
fn keys_naming_paths_outside_the_store_are_answered_as_the_reference_does() {
    both(|connect, dir, _| {
        let mut log = Vec::new();
        let mut c = connect(ServerMode::ReadWrite);
        greet(&mut c);
        c.ask(Message::Version(4));
        for name in [
            "WORM-s1-m1--../../escaped-x",
            "WORM-s1-m1--/etc/passwd",
            "WORM-s1-m1--a/../../escaped-b",
            "SHA256E-s1--..%2F..%2Fescaped-x",
        ] {
            let raw = name.as_bytes();
            for verb in ["CHECKPRESENT", "LOCKCONTENT", "REMOVE", "GET 0 f", "PUT f"] {
                let mut line = format!("{verb} ").into_bytes();
                line.extend_from_slice(raw);
                line.push(b'\n');
                c.w.get_mut().write_all(&line).expect("write");
                let reply = c.recv();
                log.push(format!("{verb} {name:?} -> {}", show(&reply)));
                match reply {
                    Message::Data(n) => {
                        c.data(n);
                        c.recv();
                        c.send(Message::Failure);
                    }
                    Message::Success if verb == "LOCKCONTENT" => c.send(Message::UnlockContent),
                    Message::PutFrom(_) => {
                        c.send_data(b"x");
                        log.push(show(&c.ask(Message::Valid)));
                    }
                    _ => {}
                }
            }
        }
        // A NUL in the key: no file can have that name; the requests are
        // answered as for any key not here, and a PUT fails the session.
        let nul = b"WORM-s1-m1--\0escaped-x";
        for verb in ["CHECKPRESENT", "LOCKCONTENT", "REMOVE", "GET 0 f"] {
            let mut line = format!("{verb} ").into_bytes();
            line.extend_from_slice(nul);
            line.push(b'\n');
            c.w.get_mut().write_all(&line).expect("write");
            let reply = c.recv();
            log.push(format!("{verb} NUL -> {}", show(&reply)));
            if let Message::Data(n) = reply {
                c.data(n);
                c.recv();
                c.send(Message::Failure);
            }
        }
        c.close();
        for escaped in [
            "escaped-x",
            "escaped-b",
            "../escaped-x",
            "../escaped-b",
            ".git/escaped-x",
            ".git/annex/escaped-x",
        ] {
            assert!(!dir.join(escaped).exists(), "{escaped} written outside");
        }
        log
    });
}

/// A real `git clone` through `CONNECT git-upload-pack`: git's
/// `--upload-pack` program is a shell joined to this test by two FIFOs,
/// and the test carries its bytes in `DATA` frames to the server and
/// back, as git-annex's client relays them.
#[test]
fn a_git_clone_goes_through_the_relay() {
    use annex_core::p2p::Service;
    use std::io::Read;
    let repo = repo_with(&[("a", b"hello p2p\n")]);
    let dir = repo.path();
    let work = tempfile::tempdir().expect("tempdir");
    let fifo_in = work.path().join("in");
    let fifo_out = work.path().join("out");
    for f in [&fifo_in, &fifo_out] {
        let st = Command::new("mkfifo").arg(f).status().expect("mkfifo");
        assert!(st.success());
    }
    let mut c = full_server(dir, ServerMode::ReadOnly);
    greet(&mut c);
    c.ask(Message::Version(4));
    c.send(Message::Connect(Service::UploadPack));
    let Conn { mut r, mut w, peer } = c;
    // git's requests, to the server.
    let out_path = fifo_out.clone();
    let to_server = std::thread::spawn(move || {
        let mut f = std::fs::File::open(&out_path).expect("open out");
        let mut buf = vec![0u8; 65536];
        loop {
            match f.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if w.send_data(n as u64, &mut &buf[..n], &mut |_| {}).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = w.send(&Message::ConnectDone(0));
    });
    // The server's answers, to git.
    let in_path = fifo_in.clone();
    let from_server = std::thread::spawn(move || {
        let mut f = Some(
            std::fs::OpenOptions::new()
                .write(true)
                .open(&in_path)
                .expect("open in"),
        );
        // The first CONNECTDONE ends git's side (the pipe to it closed);
        // the server's messages are then read to its end, so that it never
        // writes into a closed connection.
        let mut done = None;
        loop {
            match r.read_message() {
                Ok(Some(Message::Data(n))) => {
                    let f = f.as_mut()?;
                    r.read_data(n, f, &mut |_| {}).expect("relay data");
                    f.flush().expect("flush");
                }
                Ok(Some(Message::ConnectDone(code))) => {
                    f = None;
                    done.get_or_insert(code);
                }
                _ => return done,
            }
        }
    });
    let bridge = format!(
        "sh -c 'cat {} & cat > {}; wait' --",
        fifo_in.display(),
        fifo_out.display()
    );
    let mut clone = Command::new("git");
    hermetic(&mut clone)
        .current_dir(work.path())
        .args(["clone", "-q", "--no-local", "--upload-pack", &bridge])
        .arg(dir)
        .arg("cloned");
    let out = clone.output().expect("git clone");
    assert_eq!(from_server.join().expect("relay thread"), Some(0));
    to_server.join().expect("relay thread");
    assert!(out.status.success(), "{out:?}");
    if let Peer::Ours(h) = peer {
        h.join().expect("server thread").expect("served");
    }
    let cloned = work.path().join("cloned");
    assert_eq!(
        git(&cloned, &["rev-parse", "HEAD"]),
        git(dir, &["rev-parse", "HEAD"])
    );
    assert!(cloned.join("a").symlink_metadata().is_ok());
}

/// Regression: a PUT into a repository whose unlocked file of the key is
/// still a pointer left that file a pointer; the reference's server fills
/// it in. Ours now does too, when the session ends.
#[test]
fn a_put_fills_in_the_served_repositorys_unlocked_files_of_the_key() {
    both(|connect, dir, _| {
        let mut log = Vec::new();
        let content = b"unlocked via p2p\n";
        std::fs::write(dir.join("u"), content).expect("write");
        annex(dir, &["add", "u"]);
        annex(dir, &["unlock", "u"]);
        git(dir, &["commit", "-q", "-m", "u"]);
        let key = key_of(dir, "u");
        annex(dir, &["drop", "--force", "u"]);
        log.push(format!(
            "before: {:?}",
            std::fs::read(dir.join("u")).expect("read") == content
        ));
        let mut c = connect(ServerMode::ReadWrite);
        greet(&mut c);
        c.ask(Message::Version(4));
        let put = Message::Put {
            file: Some(b"u".to_vec()),
            key,
        };
        if ask(&mut c, &mut log, put) == Message::PutFrom(0) {
            c.send_data(content);
            ask(&mut c, &mut log, Message::Valid);
        }
        c.close();
        log.push(format!(
            "after: {:?}",
            std::fs::read(dir.join("u")).expect("read") == content
        ));
        // Its index entry is refreshed through git's clean filter, which
        // is `git-annex` on PATH: not this test's in-process server (e2e
        // `transfer::copy_to_a_local_remote_fills_in_its_unlocked_files_as_the_reference`
        // checks `git status` with our binary).
        log.push(format!("diff: {:?}", git(dir, &["diff", "--raw", "u"])));
        log
    });
}

/// Regression: a served repository's unlocked files of the keys a session
/// received were filled in only when the session ended; the reference's
/// server fills each in when its key is stored, before it answers the
/// `PUT`. Ours now does too: each file holds its content as soon as its
/// `PUT` is answered, the connection still open, for a second key as for
/// the first (the index read once, looked up per key).
#[test]
fn a_put_fills_in_the_unlocked_file_before_the_session_ends() {
    both(|connect, dir, _| {
        let mut log = Vec::new();
        let files: [(&str, &[u8]); 2] = [("u1", b"first unlocked\n"), ("u2", b"second unlocked\n")];
        for (name, content) in files {
            std::fs::write(dir.join(name), content).expect("write");
        }
        annex(dir, &["add", "u1", "u2"]);
        annex(dir, &["unlock", "u1", "u2"]);
        git(dir, &["commit", "-q", "-m", "u"]);
        let keys: Vec<Key> = files.iter().map(|(n, _)| key_of(dir, n)).collect();
        annex(dir, &["drop", "--force", "u1", "u2"]);
        let mut c = connect(ServerMode::ReadWrite);
        greet(&mut c);
        c.ask(Message::Version(4));
        for ((name, content), key) in files.iter().zip(keys) {
            let put = Message::Put {
                file: Some(name.as_bytes().to_vec()),
                key,
            };
            if ask(&mut c, &mut log, put) == Message::PutFrom(0) {
                c.send_data(content);
                ask(&mut c, &mut log, Message::Valid);
            }
            log.push(format!(
                "{name} while connected: {:?}",
                std::fs::read(dir.join(name)).expect("read") == *content
            ));
        }
        c.close();
        log
    });
}
