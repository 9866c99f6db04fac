//! The remote daemon's two line protocols, parsed and written in one
//! place (git-annex's `RemoteDaemon.Types` and
//! `RemoteDaemon.Transport.Ssh.Types`, over its `Utility.SimpleProtocol`):
//!
//! - the control protocol between the daemon and its caller: [`Emitted`]
//!   (`CONNECTED uri`, `DISCONNECTED uri`, `SYNCING uri`,
//!   `DONESYNCING uri 1|0`, `WARNING uri text`) and [`Consumed`] (`PAUSE`,
//!   `LOSTNET`, `RESUME`, `CHANGED ref...`, `RELOAD`, `STOP`);
//! - what `git-annex-shell notifychanges` says: [`Notification`] (`READY`,
//!   `CHANGED sha...`).
//!
//! As in git-annex, a line is a command word, one white-space character,
//! and the rest; a message without parameters takes none (`PAUSE x` is an
//! error), a list is split at white space, the last field of a message
//! takes the rest of the line (a `WARNING`'s text). Lines are bytes (refs
//! need not be UTF-8); a line longer than [`MAX_LINE`] is an error, as
//! git-annex's reader refuses one.
//!
//! ```
//! use annex_sync::remotedaemon::protocol::{Consumed, Emitted};
//! assert_eq!(Consumed::parse(b"CHANGED refs/heads/main"),
//!            Ok(Consumed::Changed(vec![b"refs/heads/main".to_vec()])));
//! let m = Emitted::DoneSyncing("ssh://host/srv".into(), true);
//! assert_eq!(m.to_line(), b"DONESYNCING ssh://host/srv 1".to_vec());
//! ```

/// The longest line read, its line break aside (git-annex's
/// `getProtocolLine`).
pub const MAX_LINE: usize = 32768;

/// Why a line is not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The command word is not one of the protocol's.
    #[error("protocol error: unknown command {0:?}")]
    UnknownCommand(String),
    /// The command is known; its parameters are not what it takes.
    #[error("protocol error: bad parameters in {0:?}")]
    BadParameters(String),
    /// The line is longer than [`MAX_LINE`].
    #[error("protocol error: a line longer than {MAX_LINE} bytes")]
    TooLong,
}

/// What the daemon tells its caller. Remotes are named by their URI (a
/// remote's name can change, git-annex says), as git-annex writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Emitted {
    /// `CONNECTED uri`: a connection with the remote is made.
    Connected(String),
    /// `DISCONNECTED uri`: the connection with the remote is lost.
    Disconnected(String),
    /// `SYNCING uri`: a fetch from the remote began.
    Syncing(String),
    /// `DONESYNCING uri 1|0`: it ended, successfully or not.
    DoneSyncing(String, bool),
    /// `WARNING uri text`: something to show the user about the remote.
    Warning(String, String),
}

/// What the caller tells the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consumed {
    /// `PAUSE`: close the connections and idle.
    Pause,
    /// `LOSTNET`: the network is gone; close the connections and idle.
    LostNet,
    /// `RESUME`: undo `PAUSE` or `LOSTNET`.
    Resume,
    /// `CHANGED ref...`: refs that are new or changed here.
    Changed(Vec<Vec<u8>>),
    /// `RELOAD`: the git config changed; read the remotes again.
    Reload,
    /// `STOP`: shut down.
    Stop,
}

/// What `git-annex-shell notifychanges` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    /// `READY`: the watch is set up.
    Ready,
    /// `CHANGED sha...`: refs there changed, to these values.
    Changed(Vec<Vec<u8>>),
}

/// git-annex's white space (Haskell's `isSpace` on ASCII).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// The first word and the rest after the one white-space character that
/// ends it (git-annex's `splitWord`).
fn split_word(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|&b| is_space(b)) {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, &[]),
    }
}

/// The white-space separated words of `s` (Haskell's `words`).
fn words(s: &[u8]) -> Vec<Vec<u8>> {
    s.split(|&b| is_space(b))
        .filter(|w| !w.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn shown(line: &[u8]) -> String {
    String::from_utf8_lossy(line).into_owned()
}

/// The command word and its parameters, after the length check.
fn command(line: &[u8]) -> Result<(&[u8], &[u8]), ProtocolError> {
    if line.len() > MAX_LINE {
        return Err(ProtocolError::TooLong);
    }
    Ok(split_word(line))
}

/// A URI parameter: one word, non-empty, with a scheme.
fn uri(p: &[u8], line: &[u8]) -> Result<String, ProtocolError> {
    let ok = !p.is_empty()
        && !p.iter().any(|&b| is_space(b))
        && p.iter().position(|&b| b == b':').is_some_and(|i| {
            i > 0
                && p[0].is_ascii_alphabetic()
                && p[..i]
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        });
    match std::str::from_utf8(p) {
        Ok(s) if ok => Ok(s.to_string()),
        _ => Err(ProtocolError::BadParameters(shown(line))),
    }
}

fn join(words: &[&[u8]]) -> Vec<u8> {
    words.join(&b' ')
}

impl Emitted {
    /// Parses one line (without its line break).
    pub fn parse(line: &[u8]) -> Result<Emitted, ProtocolError> {
        let (cmd, rest) = command(line)?;
        let bad = || ProtocolError::BadParameters(shown(line));
        match cmd {
            b"CONNECTED" => Ok(Emitted::Connected(uri(rest, line)?)),
            b"DISCONNECTED" => Ok(Emitted::Disconnected(uri(rest, line)?)),
            b"SYNCING" => Ok(Emitted::Syncing(uri(rest, line)?)),
            b"DONESYNCING" => {
                let (u, status) = split_word(rest);
                let ok = match status {
                    b"1" => true,
                    b"0" => false,
                    _ => return Err(bad()),
                };
                Ok(Emitted::DoneSyncing(uri(u, line)?, ok))
            }
            b"WARNING" => {
                let (u, text) = split_word(rest);
                let text = String::from_utf8(text.to_vec()).map_err(|_| bad())?;
                Ok(Emitted::Warning(uri(u, line)?, text))
            }
            _ => Err(ProtocolError::UnknownCommand(shown(cmd))),
        }
    }

    /// The line, without its line break. A warning's text is written on
    /// one line (line breaks in it become spaces).
    pub fn to_line(&self) -> Vec<u8> {
        match self {
            Emitted::Connected(u) => join(&[b"CONNECTED", u.as_bytes()]),
            Emitted::Disconnected(u) => join(&[b"DISCONNECTED", u.as_bytes()]),
            Emitted::Syncing(u) => join(&[b"SYNCING", u.as_bytes()]),
            Emitted::DoneSyncing(u, ok) => {
                join(&[b"DONESYNCING", u.as_bytes(), if *ok { b"1" } else { b"0" }])
            }
            Emitted::Warning(u, text) => {
                let text = text.replace(['\n', '\r'], " ");
                join(&[b"WARNING", u.as_bytes(), text.as_bytes()])
            }
        }
    }

    /// The URI of the remote the message is about.
    pub fn uri(&self) -> &str {
        match self {
            Emitted::Connected(u)
            | Emitted::Disconnected(u)
            | Emitted::Syncing(u)
            | Emitted::DoneSyncing(u, _)
            | Emitted::Warning(u, _) => u,
        }
    }
}

impl Consumed {
    /// Parses one line (without its line break).
    pub fn parse(line: &[u8]) -> Result<Consumed, ProtocolError> {
        let (cmd, rest) = command(line)?;
        let none = |m: Consumed| {
            if rest.is_empty() {
                Ok(m)
            } else {
                Err(ProtocolError::BadParameters(shown(line)))
            }
        };
        match cmd {
            b"PAUSE" => none(Consumed::Pause),
            b"LOSTNET" => none(Consumed::LostNet),
            b"RESUME" => none(Consumed::Resume),
            b"RELOAD" => none(Consumed::Reload),
            b"STOP" => none(Consumed::Stop),
            b"CHANGED" => Ok(Consumed::Changed(words(rest))),
            _ => Err(ProtocolError::UnknownCommand(shown(cmd))),
        }
    }

    /// The line, without its line break.
    pub fn to_line(&self) -> Vec<u8> {
        match self {
            Consumed::Pause => b"PAUSE".to_vec(),
            Consumed::LostNet => b"LOSTNET".to_vec(),
            Consumed::Resume => b"RESUME".to_vec(),
            Consumed::Reload => b"RELOAD".to_vec(),
            Consumed::Stop => b"STOP".to_vec(),
            Consumed::Changed(refs) => changed_line(refs),
        }
    }
}

fn changed_line(refs: &[Vec<u8>]) -> Vec<u8> {
    let mut l = b"CHANGED ".to_vec();
    l.extend_from_slice(&refs.join(&b' '));
    l
}

impl Notification {
    /// Parses one line (without its line break).
    pub fn parse(line: &[u8]) -> Result<Notification, ProtocolError> {
        let (cmd, rest) = command(line)?;
        match cmd {
            b"READY" if rest.is_empty() => Ok(Notification::Ready),
            b"READY" => Err(ProtocolError::BadParameters(shown(line))),
            b"CHANGED" => Ok(Notification::Changed(words(rest))),
            _ => Err(ProtocolError::UnknownCommand(shown(cmd))),
        }
    }

    /// The line, without its line break.
    pub fn to_line(&self) -> Vec<u8> {
        match self {
            Notification::Ready => b"READY".to_vec(),
            Notification::Changed(shas) => changed_line(shas),
        }
    }
}

/// Reads one line of at most [`MAX_LINE`] bytes (a `\r` before the line
/// break dropped, as git-annex's reader drops it): `Ok(None)` at the end
/// of the input, [`ProtocolError::TooLong`] (as an I/O error of kind
/// `InvalidData`) for a longer line; a last line without a line break is
/// the end of the input, as git-annex's reader fails on it.
pub fn read_line<R: std::io::BufRead>(r: &mut R) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(None);
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                line.extend_from_slice(&buf[..i]);
                r.consume(i + 1);
                break;
            }
            None => {
                let n = buf.len();
                line.extend_from_slice(buf);
                r.consume(n);
            }
        }
        if line.len() > MAX_LINE + 1 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                ProtocolError::TooLong,
            ));
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    if line.len() > MAX_LINE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            ProtocolError::TooLong,
        ));
    }
    Ok(Some(line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn consumed_messages_parse_as_git_annex_parses_them() {
        assert_eq!(Consumed::parse(b"PAUSE"), Ok(Consumed::Pause));
        // One white-space character after the command is its separator.
        assert_eq!(Consumed::parse(b"PAUSE "), Ok(Consumed::Pause));
        assert!(matches!(
            Consumed::parse(b"PAUSE  "),
            Err(ProtocolError::BadParameters(_))
        ));
        assert!(matches!(
            Consumed::parse(b"STOP now"),
            Err(ProtocolError::BadParameters(_))
        ));
        assert_eq!(Consumed::parse(b"CHANGED"), Ok(Consumed::Changed(vec![])));
        assert_eq!(
            Consumed::parse(b"CHANGED  a\tb "),
            Ok(Consumed::Changed(vec![b"a".to_vec(), b"b".to_vec()]))
        );
        assert!(matches!(
            Consumed::parse(b"pause"),
            Err(ProtocolError::UnknownCommand(_))
        ));
        assert!(matches!(
            Consumed::parse(b""),
            Err(ProtocolError::UnknownCommand(_))
        ));
    }

    #[test]
    fn emitted_messages_round_trip_in_git_annex_form() {
        let u = "ssh://user@host:2222/~/repo".to_string();
        for (m, l) in [
            (
                Emitted::Connected(u.clone()),
                "CONNECTED ssh://user@host:2222/~/repo",
            ),
            (
                Emitted::Disconnected(u.clone()),
                "DISCONNECTED ssh://user@host:2222/~/repo",
            ),
            (
                Emitted::Syncing(u.clone()),
                "SYNCING ssh://user@host:2222/~/repo",
            ),
            (
                Emitted::DoneSyncing(u.clone(), false),
                "DONESYNCING ssh://user@host:2222/~/repo 0",
            ),
            (
                Emitted::Warning(u.clone(), "it is  gone".into()),
                "WARNING ssh://user@host:2222/~/repo it is  gone",
            ),
        ] {
            assert_eq!(m.to_line(), l.as_bytes());
            assert_eq!(Emitted::parse(l.as_bytes()), Ok(m));
        }
        for bad in [
            "DONESYNCING ssh://h/r 2",
            "DONESYNCING ssh://h/r",
            "CONNECTED",
            "CONNECTED not a uri",
            "CONNECTED :nope",
        ] {
            assert!(
                matches!(
                    Emitted::parse(bad.as_bytes()),
                    Err(ProtocolError::BadParameters(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn notifications_parse() {
        assert_eq!(Notification::parse(b"READY"), Ok(Notification::Ready));
        assert_eq!(
            Notification::parse(b"CHANGED 1234 5678"),
            Ok(Notification::Changed(vec![
                b"1234".to_vec(),
                b"5678".to_vec()
            ]))
        );
        assert!(Notification::parse(b"READY set").is_err());
        assert!(Notification::parse(b"git-annex-shell: unknown command").is_err());
    }

    #[test]
    fn lines_are_bounded_and_a_cr_is_dropped() {
        let mut r = std::io::Cursor::new(b"READY\r\nCHANGED a\nlast".to_vec());
        assert_eq!(read_line(&mut r).expect("line"), Some(b"READY".to_vec()));
        assert_eq!(
            read_line(&mut r).expect("line"),
            Some(b"CHANGED a".to_vec())
        );
        // Cut off without its line break: the end.
        assert_eq!(read_line(&mut r).expect("end"), None);
        let mut long = vec![b'x'; MAX_LINE + 1];
        long.push(b'\n');
        let mut r = std::io::BufReader::with_capacity(16, std::io::Cursor::new(long));
        assert!(read_line(&mut r).is_err());
        assert!(matches!(
            Consumed::parse(&vec![b'x'; MAX_LINE + 1]),
            Err(ProtocolError::TooLong)
        ));
    }

    fn word() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            any::<u8>().prop_filter("not space", |b| !is_space(*b)),
            1..20,
        )
    }

    fn consumed() -> impl Strategy<Value = Consumed> {
        prop_oneof![
            Just(Consumed::Pause),
            Just(Consumed::LostNet),
            Just(Consumed::Resume),
            Just(Consumed::Reload),
            Just(Consumed::Stop),
            proptest::collection::vec(word(), 0..5).prop_map(Consumed::Changed),
        ]
    }

    fn emitted() -> impl Strategy<Value = Emitted> {
        let u = "[a-z][a-z0-9+.-]{0,5}:[!-~]{0,30}";
        prop_oneof![
            u.prop_map(Emitted::Connected),
            u.prop_map(Emitted::Disconnected),
            u.prop_map(Emitted::Syncing),
            (u, any::<bool>()).prop_map(|(u, b)| Emitted::DoneSyncing(u, b)),
            (u, "[^\r\n]{0,40}").prop_map(|(u, t)| Emitted::Warning(u, t)),
        ]
    }

    proptest! {
        #[test]
        fn consumed_round_trips(m in consumed()) {
            prop_assert_eq!(Consumed::parse(&m.to_line()), Ok(m));
        }

        #[test]
        fn emitted_round_trips(m in emitted()) {
            prop_assert_eq!(Emitted::parse(&m.to_line()), Ok(m));
        }

        #[test]
        fn notifications_round_trip(shas in proptest::collection::vec(word(), 0..5)) {
            let m = Notification::Changed(shas);
            prop_assert_eq!(Notification::parse(&m.to_line()), Ok(m));
        }

        #[test]
        fn any_bytes_parse_or_fail_without_panic(line in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Consumed::parse(&line);
            let _ = Emitted::parse(&line);
            let _ = Notification::parse(&line);
            let mut r = std::io::Cursor::new(line);
            while let Ok(Some(_)) = read_line(&mut r) {}
        }
    }
}
