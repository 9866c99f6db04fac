//! The messages of the P2P protocol, typed, and their line form.
//!
//! A line is the message's name, then its fields, each separated by one
//! space. The last field takes the rest of the line, so it may hold
//! spaces (an `ERROR` text, a `CHANGED` list); every other field is one
//! word. An associated file is not last in `GET` and `PUT`, so its
//! spaces travel as `%` (and `%` as `%%`); the reader turns a lone `%`
//! and any control character into `_`, and refuses an absolute path, as
//! git-annex does: the name is only shown, never used as a path.

use crate::key::{Key, KeyError};
use crate::uuid::Uuid;

/// A git service run over the connection by `CONNECT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `git-upload-pack` (fetch).
    UploadPack,
    /// `git-receive-pack` (push).
    ReceivePack,
}

impl Service {
    /// The service's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Service::UploadPack => "git-upload-pack",
            Service::ReceivePack => "git-receive-pack",
        }
    }
}

/// One message of the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `AUTH UUID TOKEN`: the client's UUID (none when empty) and token
    /// (lower-case ASCII letters and digits, possibly empty).
    Auth {
        /// The client's UUID.
        uuid: Option<Uuid>,
        /// The agreed token.
        token: String,
    },
    /// `AUTH-SUCCESS UUID`: the server's UUID.
    AuthSuccess(Uuid),
    /// `AUTH-FAILURE`.
    AuthFailure,
    /// `VERSION N`.
    Version(u64),
    /// `CONNECT SERVICE`.
    Connect(Service),
    /// `CONNECTDONE CODE`: the service's exit code.
    ConnectDone(i32),
    /// `NOTIFYCHANGE`.
    NotifyChange,
    /// `CHANGED REF...`.
    Changed(Vec<Vec<u8>>),
    /// `CHECKPRESENT KEY`.
    CheckPresent(Key),
    /// `LOCKCONTENT KEY`.
    LockContent(Key),
    /// `UNLOCKCONTENT`.
    UnlockContent,
    /// `REMOVE KEY`.
    Remove(Key),
    /// `REMOVE-BEFORE TIMESTAMP KEY` (version 3).
    RemoveBefore {
        /// The server's monotonic clock, in seconds.
        timestamp: u64,
        /// The key.
        key: Key,
    },
    /// `GETTIMESTAMP` (version 3).
    GetTimestamp,
    /// `GET OFFSET FILE KEY`.
    Get {
        /// Bytes of the content to skip.
        offset: u64,
        /// The associated file, shown only.
        file: Option<Vec<u8>>,
        /// The key.
        key: Key,
    },
    /// `PUT FILE KEY`.
    Put {
        /// The associated file, shown only.
        file: Option<Vec<u8>>,
        /// The key.
        key: Key,
    },
    /// `PUT-FROM OFFSET`.
    PutFrom(u64),
    /// `ALREADY-HAVE`.
    AlreadyHave,
    /// `ALREADY-HAVE-PLUS UUID...` (version 2).
    AlreadyHavePlus(Vec<Uuid>),
    /// `SUCCESS`.
    Success,
    /// `SUCCESS-PLUS UUID...` (version 2).
    SuccessPlus(Vec<Uuid>),
    /// `FAILURE`.
    Failure,
    /// `FAILURE-PLUS UUID...` (version 2).
    FailurePlus(Vec<Uuid>),
    /// `BYPASS UUID...` (version 2): cluster gateways not to go through.
    Bypass(Vec<Uuid>),
    /// `DATA LEN`, followed on the connection by exactly LEN bytes.
    Data(u64),
    /// `DATA-PRESENT` (version 4).
    DataPresent,
    /// `VALID` (version 1).
    Valid,
    /// `INVALID` (version 1).
    Invalid,
    /// `TIMESTAMP N` (version 3).
    Timestamp(u64),
    /// `ERROR TEXT`.
    Error(String),
}

/// Why a line is not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The first word names no message.
    #[error("unknown P2P message {0:?}")]
    Unknown(String),
    /// The message's fields do not parse.
    #[error("malformed P2P message {name}: {detail} (line {line:?})")]
    Malformed {
        /// The message's name.
        name: &'static str,
        /// What is wrong.
        detail: String,
        /// The line, lossily decoded and cut to 200 bytes.
        line: String,
    },
}

/// git-annex's `isSpace` on the bytes of a line (ASCII white space).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Splits at the first white-space byte, dropping it: `(word, rest)`.
fn split_word(s: &[u8]) -> (&[u8], &[u8]) {
    match s.iter().position(|&b| is_space(b)) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &[]),
    }
}

/// The white-space separated words of `s`, empty ones dropped.
fn words(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    s.split(|&b| is_space(b)).filter(|w| !w.is_empty())
}

fn lossy(line: &[u8]) -> String {
    let cut = &line[..line.len().min(200)];
    String::from_utf8_lossy(cut).into_owned()
}

/// Escapes an associated file for the wire: `%` as `%%`, white space as
/// `%`.
pub fn escape_file(file: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(file.len());
    match std::str::from_utf8(file) {
        Ok(s) => {
            for c in s.chars() {
                match c {
                    '%' => out.extend_from_slice(b"%%"),
                    c if haskell_is_space(c) => out.push(b'%'),
                    c => {
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                }
            }
        }
        Err(_) => {
            for &b in file {
                match b {
                    b'%' => out.extend_from_slice(b"%%"),
                    b if is_space(b) => out.push(b'%'),
                    b => out.push(b),
                }
            }
        }
    }
    out
}

/// Haskell's `isSpace`: ASCII white space, no-break space, and the
/// Unicode space separators.
fn haskell_is_space(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t'..='\r' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

/// An associated file given as an absolute path, which git-annex refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("absolute associated file {0:?}")]
pub struct AbsoluteFile(pub String);

/// Reads an associated file from the wire: `%%` is `%`, a lone `%` and
/// control characters become `_`; empty is none; an absolute path is
/// refused (`Err`).
pub fn unescape_file(field: &[u8]) -> Result<Option<Vec<u8>>, AbsoluteFile> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let b = field[i];
        if b == b'%' {
            if field.get(i + 1) == Some(&b'%') {
                out.push(b'%');
                i += 2;
            } else {
                out.push(b'_');
                i += 1;
            }
        } else if b < 0x20 || b == 0x7f {
            out.push(b'_');
            i += 1;
        } else if b == 0xc2 && field.get(i + 1).is_some_and(|c| (0x80..=0x9f).contains(c)) {
            // U+0080..U+009F, the C1 controls.
            out.push(b'_');
            i += 2;
        } else {
            out.push(b);
            i += 1;
        }
    }
    if out.is_empty() {
        Ok(None)
    } else if out[0] == b'/' {
        Err(AbsoluteFile(lossy(&out)))
    } else {
        Ok(Some(out))
    }
}

/// A decimal number as git-annex prints them: digits only.
fn number(field: &[u8]) -> Option<u64> {
    if field.is_empty() || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(field).ok()?.parse().ok()
}

impl Message {
    /// The message's name on the wire.
    pub fn name(&self) -> &'static str {
        match self {
            Message::Auth { .. } => "AUTH",
            Message::AuthSuccess(_) => "AUTH-SUCCESS",
            Message::AuthFailure => "AUTH-FAILURE",
            Message::Version(_) => "VERSION",
            Message::Connect(_) => "CONNECT",
            Message::ConnectDone(_) => "CONNECTDONE",
            Message::NotifyChange => "NOTIFYCHANGE",
            Message::Changed(_) => "CHANGED",
            Message::CheckPresent(_) => "CHECKPRESENT",
            Message::LockContent(_) => "LOCKCONTENT",
            Message::UnlockContent => "UNLOCKCONTENT",
            Message::Remove(_) => "REMOVE",
            Message::RemoveBefore { .. } => "REMOVE-BEFORE",
            Message::GetTimestamp => "GETTIMESTAMP",
            Message::Get { .. } => "GET",
            Message::Put { .. } => "PUT",
            Message::PutFrom(_) => "PUT-FROM",
            Message::AlreadyHave => "ALREADY-HAVE",
            Message::AlreadyHavePlus(_) => "ALREADY-HAVE-PLUS",
            Message::Success => "SUCCESS",
            Message::SuccessPlus(_) => "SUCCESS-PLUS",
            Message::Failure => "FAILURE",
            Message::FailurePlus(_) => "FAILURE-PLUS",
            Message::Bypass(_) => "BYPASS",
            Message::Data(_) => "DATA",
            Message::DataPresent => "DATA-PRESENT",
            Message::Valid => "VALID",
            Message::Invalid => "INVALID",
            Message::Timestamp(_) => "TIMESTAMP",
            Message::Error(_) => "ERROR",
        }
    }

    /// The lowest protocol version in which the message may be sent.
    pub fn min_version(&self) -> u64 {
        match self {
            Message::Valid | Message::Invalid => 1,
            Message::AlreadyHavePlus(_)
            | Message::SuccessPlus(_)
            | Message::FailurePlus(_)
            | Message::Bypass(_) => 2,
            Message::RemoveBefore { .. } | Message::GetTimestamp | Message::Timestamp(_) => 3,
            Message::DataPresent => 4,
            _ => 0,
        }
    }

    /// The message as one line, without its newline.
    pub fn to_line(&self) -> Vec<u8> {
        let mut out: Vec<u8> = self.name().as_bytes().to_vec();
        let mut field = |f: &[u8]| {
            out.push(b' ');
            out.extend_from_slice(f);
        };
        let file = |f: &Option<Vec<u8>>| f.as_deref().map(escape_file).unwrap_or_default();
        match self {
            Message::Auth { uuid, token } => {
                field(uuid.as_ref().map(Uuid::as_str).unwrap_or("").as_bytes());
                field(token.as_bytes());
            }
            Message::AuthSuccess(u) => field(u.as_str().as_bytes()),
            Message::Version(v)
            | Message::PutFrom(v)
            | Message::Data(v)
            | Message::Timestamp(v) => field(v.to_string().as_bytes()),
            Message::Connect(s) => field(s.name().as_bytes()),
            Message::ConnectDone(c) => field(c.to_string().as_bytes()),
            Message::Changed(refs) => field(&refs.join(&b' ')),
            Message::CheckPresent(k) | Message::LockContent(k) | Message::Remove(k) => {
                field(k.as_bytes())
            }
            Message::RemoveBefore { timestamp, key } => {
                field(timestamp.to_string().as_bytes());
                field(key.as_bytes());
            }
            Message::Get {
                offset,
                file: f,
                key,
            } => {
                field(offset.to_string().as_bytes());
                field(&file(f));
                field(key.as_bytes());
            }
            Message::Put { file: f, key } => {
                field(&file(f));
                field(key.as_bytes());
            }
            Message::AlreadyHavePlus(us)
            | Message::SuccessPlus(us)
            | Message::FailurePlus(us)
            | Message::Bypass(us) => {
                for u in us {
                    field(u.as_str().as_bytes());
                }
            }
            // One line, whatever the text: a newline would start a message.
            Message::Error(e) => field(e.replace(['\n', '\r'], " ").as_bytes()),
            Message::AuthFailure
            | Message::NotifyChange
            | Message::UnlockContent
            | Message::GetTimestamp
            | Message::AlreadyHave
            | Message::Success
            | Message::Failure
            | Message::DataPresent
            | Message::Valid
            | Message::Invalid => {}
        }
        out
    }

    /// Parses one line (without its newline; a `\r` before it already
    /// gone).
    pub fn parse(line: &[u8]) -> Result<Message, MessageError> {
        let (command, rest) = split_word(line);
        let name: &'static str = match KNOWN.iter().find(|n| n.as_bytes() == command) {
            Some(n) => n,
            None => return Err(MessageError::Unknown(lossy(command))),
        };
        let bad = |detail: &str| MessageError::Malformed {
            name,
            detail: detail.to_owned(),
            line: lossy(line),
        };
        let none = |m: Message| {
            if rest.is_empty() {
                Ok(m)
            } else {
                Err(bad("takes no fields"))
            }
        };
        let key = |f: &[u8]| Key::parse(f).map_err(|e: KeyError| bad(&e.to_string()));
        let num = |f: &[u8], what: &str| number(f).ok_or_else(|| bad(&format!("bad {what}")));
        let uuids = |f: &[u8]| {
            words(f)
                .map(|w| Uuid::parse(w).map_err(|e| bad(&e.to_string())))
                .collect::<Result<Vec<_>, _>>()
        };
        let file = |f: &[u8]| unescape_file(f).map_err(|e| bad(&e.to_string()));
        match name {
            "AUTH" => {
                let (u, token) = split_word(rest);
                let uuid = if u.is_empty() {
                    None
                } else {
                    Some(Uuid::parse(u).map_err(|e| bad(&e.to_string()))?)
                };
                if !token.iter().all(u8::is_ascii_alphanumeric) {
                    return Err(bad("bad auth token"));
                }
                let token = String::from_utf8_lossy(token).to_ascii_lowercase();
                Ok(Message::Auth { uuid, token })
            }
            "AUTH-SUCCESS" => Ok(Message::AuthSuccess(
                Uuid::parse(rest).map_err(|e| bad(&e.to_string()))?,
            )),
            "AUTH-FAILURE" => none(Message::AuthFailure),
            "VERSION" => Ok(Message::Version(num(rest, "version")?)),
            "CONNECT" => match rest {
                b"git-upload-pack" => Ok(Message::Connect(Service::UploadPack)),
                b"git-receive-pack" => Ok(Message::Connect(Service::ReceivePack)),
                _ => Err(bad("unknown service")),
            },
            "CONNECTDONE" => std::str::from_utf8(rest)
                .ok()
                .and_then(|s| s.parse::<i32>().ok())
                .map(Message::ConnectDone)
                .ok_or_else(|| bad("bad exit code")),
            "NOTIFYCHANGE" => none(Message::NotifyChange),
            "CHANGED" => Ok(Message::Changed(words(rest).map(<[u8]>::to_vec).collect())),
            "CHECKPRESENT" => Ok(Message::CheckPresent(key(rest)?)),
            "LOCKCONTENT" => Ok(Message::LockContent(key(rest)?)),
            "UNLOCKCONTENT" => none(Message::UnlockContent),
            "REMOVE" => Ok(Message::Remove(key(rest)?)),
            "REMOVE-BEFORE" => {
                let (ts, k) = split_word(rest);
                Ok(Message::RemoveBefore {
                    timestamp: num(ts, "timestamp")?,
                    key: key(k)?,
                })
            }
            "GETTIMESTAMP" => none(Message::GetTimestamp),
            "GET" => {
                let (off, rest) = split_word(rest);
                let (f, k) = split_word(rest);
                Ok(Message::Get {
                    offset: num(off, "offset")?,
                    file: file(f)?,
                    key: key(k)?,
                })
            }
            "PUT" => {
                let (f, k) = split_word(rest);
                Ok(Message::Put {
                    file: file(f)?,
                    key: key(k)?,
                })
            }
            "PUT-FROM" => Ok(Message::PutFrom(num(rest, "offset")?)),
            "ALREADY-HAVE" => none(Message::AlreadyHave),
            "ALREADY-HAVE-PLUS" => Ok(Message::AlreadyHavePlus(uuids(rest)?)),
            "SUCCESS" => none(Message::Success),
            "SUCCESS-PLUS" => Ok(Message::SuccessPlus(uuids(rest)?)),
            "FAILURE" => none(Message::Failure),
            "FAILURE-PLUS" => Ok(Message::FailurePlus(uuids(rest)?)),
            "BYPASS" => {
                // A set, as git-annex keeps it: sorted, each once.
                let mut us = uuids(rest)?;
                us.sort();
                us.dedup();
                Ok(Message::Bypass(us))
            }
            "DATA" => Ok(Message::Data(num(rest, "length")?)),
            "DATA-PRESENT" => none(Message::DataPresent),
            "VALID" => none(Message::Valid),
            "INVALID" => none(Message::Invalid),
            "TIMESTAMP" => Ok(Message::Timestamp(num(rest, "timestamp")?)),
            "ERROR" => Ok(Message::Error(String::from_utf8_lossy(rest).into_owned())),
            other => Err(MessageError::Unknown(other.to_owned())),
        }
    }
}

/// Every message name, as on the wire.
const KNOWN: &[&str] = &[
    "AUTH",
    "AUTH-SUCCESS",
    "AUTH-FAILURE",
    "VERSION",
    "CONNECT",
    "CONNECTDONE",
    "NOTIFYCHANGE",
    "CHANGED",
    "CHECKPRESENT",
    "LOCKCONTENT",
    "UNLOCKCONTENT",
    "REMOVE",
    "REMOVE-BEFORE",
    "GETTIMESTAMP",
    "GET",
    "PUT",
    "PUT-FROM",
    "ALREADY-HAVE",
    "ALREADY-HAVE-PLUS",
    "SUCCESS",
    "SUCCESS-PLUS",
    "FAILURE",
    "FAILURE-PLUS",
    "BYPASS",
    "DATA",
    "DATA-PRESENT",
    "VALID",
    "INVALID",
    "TIMESTAMP",
    "ERROR",
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(s: &str) -> Key {
        Key::parse(s.as_bytes()).expect("key")
    }
    fn uuid(s: &str) -> Uuid {
        Uuid::parse(s.as_bytes()).expect("uuid")
    }

    /// Lines as git-annex prints them (its `unwords` of the fields).
    #[test]
    fn lines_as_git_annex_prints_them() {
        let k = key("SHA256E-s3--abc.txt");
        let cases: Vec<(Message, &str)> = vec![
            (
                Message::Auth {
                    uuid: Some(uuid("u1")),
                    token: "abc123".into(),
                },
                "AUTH u1 abc123",
            ),
            (
                Message::Auth {
                    uuid: None,
                    token: String::new(),
                },
                "AUTH  ",
            ),
            (Message::AuthSuccess(uuid("u2")), "AUTH-SUCCESS u2"),
            (Message::Version(4), "VERSION 4"),
            (
                Message::Connect(Service::UploadPack),
                "CONNECT git-upload-pack",
            ),
            (Message::ConnectDone(0), "CONNECTDONE 0"),
            (Message::ConnectDone(128), "CONNECTDONE 128"),
            (
                Message::Changed(vec![
                    b"refs/heads/main".to_vec(),
                    b"refs/heads/git-annex".to_vec(),
                ]),
                "CHANGED refs/heads/main refs/heads/git-annex",
            ),
            (
                Message::CheckPresent(k.clone()),
                "CHECKPRESENT SHA256E-s3--abc.txt",
            ),
            (
                Message::RemoveBefore {
                    timestamp: 77,
                    key: k.clone(),
                },
                "REMOVE-BEFORE 77 SHA256E-s3--abc.txt",
            ),
            (
                Message::Get {
                    offset: 0,
                    file: None,
                    key: k.clone(),
                },
                "GET 0  SHA256E-s3--abc.txt",
            ),
            (
                Message::Get {
                    offset: 12,
                    file: Some(b"a dir/100% b".to_vec()),
                    key: k.clone(),
                },
                "GET 12 a%dir/100%%%b SHA256E-s3--abc.txt",
            ),
            (
                Message::Put {
                    file: Some(b"x".to_vec()),
                    key: k.clone(),
                },
                "PUT x SHA256E-s3--abc.txt",
            ),
            (Message::PutFrom(5), "PUT-FROM 5"),
            (
                Message::SuccessPlus(vec![uuid("a"), uuid("b")]),
                "SUCCESS-PLUS a b",
            ),
            (Message::FailurePlus(vec![]), "FAILURE-PLUS"),
            (Message::Data(3), "DATA 3"),
            (Message::DataPresent, "DATA-PRESENT"),
            (
                Message::Error("not here: at all".into()),
                "ERROR not here: at all",
            ),
        ];
        for (m, line) in cases {
            assert_eq!(String::from_utf8_lossy(&m.to_line()), line, "{m:?}");
        }
    }

    /// Fields as git-annex splits them: the last takes the rest of the
    /// line; fieldless messages refuse trailing words.
    #[test]
    fn fields_split_as_git_annex_splits_them() {
        assert_eq!(
            Message::parse(b"ERROR a  b ").expect("error"),
            Message::Error("a  b ".into())
        );
        assert_eq!(
            Message::parse(b"SUCCESS").expect("success"),
            Message::Success
        );
        assert!(Message::parse(b"SUCCESS x").is_err());
        assert_eq!(
            Message::parse(b"GET 0  SHA1--x").expect("get"),
            Message::Get {
                offset: 0,
                file: None,
                key: key("SHA1--x")
            }
        );
        // A lone % and control characters come back as _, as git-annex
        // reads them.
        assert_eq!(
            Message::parse(b"PUT a%b%%c\x01 SHA1--x").expect("put"),
            Message::Put {
                file: Some(b"a_b%c_".to_vec()),
                key: key("SHA1--x")
            }
        );
        assert!(matches!(
            Message::parse(b"PUT /etc/passwd SHA1--x"),
            Err(MessageError::Malformed { name: "PUT", .. })
        ));
        assert!(matches!(
            Message::parse(b"HELLO"),
            Err(MessageError::Unknown(_))
        ));
        assert!(Message::parse(b"DATA -1").is_err());
        assert!(Message::parse(b"DATA 99999999999999999999999").is_err());
        assert!(Message::parse(b"VERSION").is_err());
        assert!(Message::parse(b"CONNECT git-upload-archive").is_err());
        assert!(Message::parse(b"AUTH u to-ken").is_err());
        assert_eq!(
            Message::parse(b"AUTH u AbC").expect("auth"),
            Message::Auth {
                uuid: Some(uuid("u")),
                token: "abc".into()
            }
        );
        assert_eq!(
            Message::parse(b"BYPASS b a b").expect("bypass"),
            Message::Bypass(vec![uuid("a"), uuid("b")])
        );
        assert_eq!(
            Message::parse(b"CHANGED").expect("changed"),
            Message::Changed(vec![])
        );
    }

    fn arb_uuid() -> impl Strategy<Value = Uuid> {
        "[a-f0-9-]{1,36}".prop_map(|s| Uuid::parse(s.as_bytes()).expect("uuid"))
    }
    fn arb_key() -> impl Strategy<Value = Key> {
        (
            "[A-Z0-9]{1,8}",
            "[a-z0-9.]{1,20}",
            proptest::option::of(0u64..1 << 40),
        )
            .prop_map(|(b, n, s)| Key::new(b.as_bytes(), n.as_bytes()).with_size(s))
    }
    fn arb_file() -> impl Strategy<Value = Option<Vec<u8>>> {
        // What survives the trip: relative, no white space, no control
        // characters, no lone %; and what does not start with '/'.
        proptest::option::of(
            "[a-z0-9._/%]{0,12}[a-z0-9]".prop_filter_map("relative", |s| {
                (!s.starts_with('/')).then(|| s.into_bytes())
            }),
        )
    }
    fn arb_message() -> impl Strategy<Value = Message> {
        prop_oneof![
            (proptest::option::of(arb_uuid()), "[a-z0-9]{0,20}")
                .prop_map(|(uuid, token)| Message::Auth { uuid, token }),
            arb_uuid().prop_map(Message::AuthSuccess),
            Just(Message::AuthFailure),
            any::<u64>().prop_map(Message::Version),
            Just(Message::Connect(Service::ReceivePack)),
            any::<i32>().prop_map(Message::ConnectDone),
            Just(Message::NotifyChange),
            proptest::collection::vec("refs/[a-z/]{1,20}", 0..4)
                .prop_map(|v| Message::Changed(v.into_iter().map(String::into_bytes).collect())),
            arb_key().prop_map(Message::CheckPresent),
            arb_key().prop_map(Message::LockContent),
            Just(Message::UnlockContent),
            arb_key().prop_map(Message::Remove),
            (any::<u64>(), arb_key())
                .prop_map(|(timestamp, key)| Message::RemoveBefore { timestamp, key }),
            Just(Message::GetTimestamp),
            (any::<u64>(), arb_file(), arb_key()).prop_map(|(offset, file, key)| Message::Get {
                offset,
                file,
                key
            }),
            (arb_file(), arb_key()).prop_map(|(file, key)| Message::Put { file, key }),
            any::<u64>().prop_map(Message::PutFrom),
            Just(Message::AlreadyHave),
            proptest::collection::vec(arb_uuid(), 0..4).prop_map(Message::AlreadyHavePlus),
            Just(Message::Success),
            proptest::collection::vec(arb_uuid(), 0..4).prop_map(Message::SuccessPlus),
            Just(Message::Failure),
            proptest::collection::vec(arb_uuid(), 0..4).prop_map(Message::FailurePlus),
            proptest::collection::btree_set(arb_uuid(), 0..4)
                .prop_map(|s| Message::Bypass(s.into_iter().collect())),
            any::<u64>().prop_map(Message::Data),
            Just(Message::DataPresent),
            Just(Message::Valid),
            Just(Message::Invalid),
            any::<u64>().prop_map(Message::Timestamp),
            "[ -~]{0,40}".prop_map(Message::Error),
        ]
    }

    proptest! {
        #[test]
        fn every_message_round_trips(m in arb_message()) {
            let line = m.to_line();
            prop_assert!(!line.contains(&b'\n'));
            let back = Message::parse(&line);
            // A lone % in a file name is read back as _: normalise that.
            let expect = match &m {
                Message::Get { offset, file, key } => Message::Get {
                    offset: *offset,
                    file: unescape_file(&escape_file(file.as_deref().unwrap_or_default())).expect("relative"),
                    key: key.clone(),
                },
                Message::Put { file, key } => Message::Put {
                    file: unescape_file(&escape_file(file.as_deref().unwrap_or_default())).expect("relative"),
                    key: key.clone(),
                },
                other => other.clone(),
            };
            prop_assert_eq!(back, Ok(expect));
        }

        #[test]
        fn any_line_parses_or_errs_and_what_parses_prints_stably(line in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Ok(m) = Message::parse(&line) {
                let again = Message::parse(&m.to_line()).expect("a printed message parses");
                prop_assert_eq!(again.to_line(), m.to_line());
            }
        }

        #[test]
        fn an_escaped_file_is_one_word(file in proptest::collection::vec(any::<u8>(), 0..40)) {
            let e = escape_file(&file);
            prop_assert!(!e.iter().any(|&b| is_space(b)));
        }
    }
}
