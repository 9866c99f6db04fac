#![no_main]
//! Sim files: parsing never panics; a parsed file run in a sim with no
//! repository (its large steps and file counts capped) never panics; the
//! log it leaves parses back; the saved state reads back equal (the log
//! as printed).
use annex_sim::file::{self, Command};
use annex_sim::{Detached, Sim};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(commands) = file::parse(&text) else {
        return;
    };
    let mut sim = Sim::new(1);
    let mut host = Detached::default();
    for c in commands {
        let c = match c {
            Command::Step(n) => Command::Step(n.min(50)),
            Command::StepStable(n) => Command::StepStable(n.min(50)),
            Command::AddMulti(n, s, a, b, r) => Command::AddMulti(n.clamp(1, 20), s, a, b, r),
            Command::Visit(..) | Command::Use(..) | Command::AddTree(..) => continue,
            c => c,
        };
        let _ = sim.apply(c, &mut host);
    }
    let log = file::generate(&sim.history);
    assert!(file::parse(&log).is_ok(), "the log parses: {log}");
    let mut back =
        annex_sim::persist::from_text(&annex_sim::persist::to_text(&sim)).expect("state reads back");
    // The log is kept as printed (sizes in the log's units).
    assert_eq!(back.history.len(), sim.history.len());
    back.history = sim.history.clone();
    assert_eq!(back, sim);
});
