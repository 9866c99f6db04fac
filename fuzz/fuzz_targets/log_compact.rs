#![no_main]
//! Every log parser (the first byte picks the log kind): parsing and
//! compacting never panic, compacting is stable, and the semantic readers
//! run on anything.
use annex_core::logs::{self, LogKind};
use libfuzzer_sys::fuzz_target;

const PATHS: &[&[u8]] = &[
    b"uuid.log",
    b"remote.log",
    b"trust.log",
    b"group.log",
    b"preferred-content.log",
    b"required-content.log",
    b"group-preferred-content.log",
    b"numcopies.log",
    b"mincopies.log",
    b"config.log",
    b"maxsize.log",
    b"proxy.log",
    b"cluster.log",
    b"18c/0c3/SHA256E-s10--abc.txt.log",
    b"18c/0c3/SHA256E-s10--abc.txt.log.web",
    b"18c/0c3/SHA256E-s10--abc.txt.log.met",
    b"18c/0c3/SHA256E-s10--abc.txt.log.rmet",
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, content)) = data.split_first() else {
        return;
    };
    let path = PATHS[usize::from(sel) % PATHS.len()];
    let kind = LogKind::of_path(path).expect("known path");
    let once = kind.compact(content);
    let twice = kind.compact(&once);
    // A metadata field named like a value (`+x`, `-x`; in a `.log.rmet`
    // too) reads back as a value of the field before it, in git-annex as here: the format
    // cannot hold it, and git-annex never makes one (a field name starts
    // with a letter or digit). Compaction is stable for every other log.
    let unwritable_field = (path.ends_with(b".log.met") || path.ends_with(b".log.rmet"))
        && logs::metadata::combined(&logs::metadata::parse(content))
            .fields
            .values()
            .any(|f| f.name.starts_with(['+', '-']));
    // Likewise a line of an old-layout log with no clock whose value holds
    // a word `timestamp=…` (a remote config key named `timestamp`, say):
    // once that word ends the line, it reads as the line's clock, in
    // git-annex as here (git-annex writes a clockless line with no
    // timestamp, as we do).
    let old_layout = matches!(
        path,
        b"uuid.log"
            | b"remote.log"
            | b"trust.log"
            | b"group.log"
            | b"preferred-content.log"
            | b"required-content.log"
    );
    let clockless_timestamp_word = old_layout
        && logs::uuid::parse(content).entries().values().any(|e| {
            e.changed.is_none() && e.value.0.windows(10).any(|w| w == b"timestamp=")
        });
    if !unwritable_field && !clockless_timestamp_word {
        assert_eq!(once, twice, "compaction is stable");
    }
    let _ = logs::metadata::current_with_lastchanged(&logs::metadata::parse(content));
    let _ = logs::location::LocationLog::parse(content).present_uuids();
    let _ = logs::numcopies::current(content);
    let _ = logs::remote::current(&logs::remote::parse(content));
    let _ = annex_core::timestamp::Timestamp::parse(content);
});
