#![no_main]
//! The remote daemon's control protocol (both ways) and the ssh
//! notification protocol: parsing never panics, what parses prints to a
//! line that parses to the same line, and a stream of lines is read to
//! its end or to a clear error.
use annex_sync::remotedaemon::protocol::{Consumed, Emitted, Notification, read_line};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Consumed::parse(data) {
        let line = m.to_line();
        assert!(!line.contains(&b'\n'));
        let again = Consumed::parse(&line).expect("a printed message parses");
        assert_eq!(again.to_line(), line);
    }
    if let Ok(m) = Emitted::parse(data) {
        let line = m.to_line();
        assert!(!line.contains(&b'\n'));
        let again = Emitted::parse(&line).expect("a printed message parses");
        assert_eq!(again.to_line(), line);
    }
    if let Ok(m) = Notification::parse(data) {
        let line = m.to_line();
        let again = Notification::parse(&line).expect("a printed message parses");
        assert_eq!(again.to_line(), line);
    }
    let mut r = std::io::BufReader::with_capacity(64, data);
    for _ in 0..1024 {
        match read_line(&mut r) {
            Ok(Some(l)) => {
                let _ = Consumed::parse(&l);
                let _ = Notification::parse(&l);
            }
            Ok(None) | Err(_) => break,
        }
    }
});
