//! `annex_core::p2p` against the reference's own P2P server
//! (`git-annex-shell p2pstdio DIR UUID`, what ssh runs): our
//! codec as a client speaks every exchange of the protocol with it, and a
//! client that disconnects mid-`DATA` leaves nothing in its store.

use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use annex_core::key::Key;
use annex_core::p2p::{Message, P2pReader, P2pWriter};
use annex_core::uuid::Uuid;

use crate::support::{annex, git, hermetic, new_git_repo, reference_git_annex};

const CLIENT: &str = "11111111-2222-3333-4444-555555555555";

struct Server {
    child: Child,
    r: P2pReader<ChildStdout>,
    w: P2pWriter<ChildStdin>,
}

impl Server {
    /// The reference's server in `dir`; reads its greeting and agrees
    /// on protocol version `version`.
    fn start(dir: &Path, version: u64) -> (Server, Uuid) {
        let shell = reference_git_annex().with_file_name("git-annex-shell");
        let mut cmd = Command::new(shell);
        hermetic(&mut cmd)
            .current_dir(dir)
            .arg("p2pstdio")
            .arg(dir)
            .arg(CLIENT)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd.spawn().expect("run git-annex p2pstdio");
        let r = P2pReader::new(child.stdout.take().expect("stdout"));
        let w = P2pWriter::new(child.stdin.take().expect("stdin"));
        let mut s = Server { child, r, w };
        let uuid = match s.recv() {
            Message::AuthSuccess(u) => u,
            other => panic!("greeting: {other:?}"),
        };
        s.send(Message::Version(version));
        assert_eq!(s.recv(), Message::Version(version.min(4)));
        (s, uuid)
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
    fn stop(mut self) {
        drop(self.w);
        let _ = self.child.wait();
    }
}

fn repo_with(content: &[u8]) -> (tempfile::TempDir, Key) {
    let dir = new_git_repo();
    annex(dir.path(), &["init", "server"]);
    std::fs::write(dir.path().join("a file"), content).expect("write");
    annex(dir.path(), &["add", "a file"]);
    git(dir.path(), &["commit", "-q", "-m", "add"]);
    let key = Key::parse(
        annex(dir.path(), &["lookupkey", "a file"])
            .trim()
            .as_bytes(),
    )
    .expect("key");
    (dir, key)
}

fn sha256e(content: &[u8], ext: &str) -> Key {
    use sha2::Digest;
    let hex: String = sha2::Sha256::digest(content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Key::parse(format!("SHA256E-s{}--{hex}{ext}", content.len()).as_bytes()).expect("key")
}

fn present(dir: &Path, key: &Key) -> bool {
    let out = crate::support::annex_output(dir, &["contentlocation", &key.to_string()], None);
    out.status.success()
}

#[test]
fn our_codec_speaks_version_4_with_the_reference_server() {
    let (dir, key) = repo_with(b"hello p2p\n");
    let (mut s, uuid) = Server::start(dir.path(), 9);
    let expected = git(dir.path(), &["config", "annex.uuid"]);
    assert_eq!(uuid.as_str(), expected.trim());

    assert_eq!(s.ask(Message::CheckPresent(key.clone())), Message::Success);
    let absent = sha256e(b"nowhere", ".txt");
    assert_eq!(
        s.ask(Message::CheckPresent(absent.clone())),
        Message::Failure
    );

    // GET: the content from an offset, then VALID.
    let get = Message::Get {
        offset: 6,
        file: Some(b"a file".to_vec()),
        key: key.clone(),
    };
    assert_eq!(s.ask(get), Message::Data(4));
    let mut got = Vec::new();
    s.r.read_data(4, &mut got, &mut |_| {}).expect("data");
    assert_eq!(got, b"p2p\n");
    assert_eq!(s.recv(), Message::Valid);
    s.send(Message::Success);

    // Locking: SUCCESS, then UNLOCKCONTENT has no answer.
    assert_eq!(s.ask(Message::LockContent(key.clone())), Message::Success);
    s.send(Message::UnlockContent);

    // Version 3's clock.
    assert!(matches!(
        s.ask(Message::GetTimestamp),
        Message::Timestamp(_)
    ));

    // PUT: the server asks from 0, gets DATA and VALID, stores.
    let new = b"new content\n";
    let newkey = sha256e(new, "");
    let put = Message::Put {
        file: None,
        key: newkey.clone(),
    };
    assert_eq!(s.ask(put.clone()), Message::PutFrom(0));
    s.w.send_data(new.len() as u64, &mut &new[..], &mut |_| {})
        .expect("send data");
    assert_eq!(s.ask(Message::Valid), Message::Success);
    assert_eq!(s.ask(put), Message::AlreadyHave);
    assert_eq!(
        s.ask(Message::CheckPresent(newkey.clone())),
        Message::Success
    );

    // REMOVE-BEFORE a time already past fails; REMOVE removes.
    assert_eq!(
        s.ask(Message::RemoveBefore {
            timestamp: 0,
            key: newkey.clone()
        }),
        Message::Failure
    );
    assert_eq!(s.ask(Message::Remove(newkey.clone())), Message::Success);
    assert_eq!(
        s.ask(Message::CheckPresent(newkey.clone())),
        Message::Failure
    );
    s.stop();
    assert!(present(dir.path(), &key));
    assert!(!present(dir.path(), &newkey));
}

#[test]
fn a_version_0_session_has_no_validity_message() {
    let (dir, key) = repo_with(b"v0\n");
    let (mut s, _) = Server::start(dir.path(), 0);
    let get = Message::Get {
        offset: 0,
        file: None,
        key: key.clone(),
    };
    assert_eq!(s.ask(get), Message::Data(3));
    let mut got = Vec::new();
    s.r.read_data(3, &mut got, &mut |_| {}).expect("data");
    assert_eq!(got, b"v0\n");
    // No VALID in version 0: the next message is the server's answer to
    // our next request.
    s.send(Message::Success);
    assert_eq!(s.ask(Message::CheckPresent(key)), Message::Success);
    s.stop();
}

#[test]
fn a_client_gone_mid_data_leaves_nothing_in_the_reference_store() {
    let (dir, _) = repo_with(b"x\n");
    let (mut s, _) = Server::start(dir.path(), 4);
    let content = b"0123456789";
    let key = sha256e(content, "");
    let put = Message::Put {
        file: None,
        key: key.clone(),
    };
    assert_eq!(s.ask(put), Message::PutFrom(0));
    s.send(Message::Data(10));
    use std::io::Write;
    s.w.get_mut().write_all(&content[..4]).expect("write");
    s.stop();
    assert!(!present(dir.path(), &key));
}
