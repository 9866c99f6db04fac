#![no_main]
//! P2P protocol lines and streams from a peer: parsing never panics,
//! what parses prints back to a line that parses to the same line, and a
//! stream of lines and DATA is read to its end or to a clear error.
use annex_core::p2p::{Message, P2pReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::parse(data) {
        let line = m.to_line();
        assert!(!line.contains(&b'\n'));
        let again = Message::parse(&line).expect("a printed message parses");
        assert_eq!(again.to_line(), line);
    }
    let mut r = P2pReader::new(data);
    let mut sink = Vec::new();
    for _ in 0..64 {
        match r.read_message() {
            Ok(Some(Message::Data(len))) => {
                sink.clear();
                if r.read_data(len.min(1 << 20), &mut sink, &mut |_| {}).is_err() {
                    break;
                }
            }
            Ok(Some(_)) | Err(annex_core::p2p::io::P2pError::Message(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
});
