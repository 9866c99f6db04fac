//! What the watcher and the startup scanner tell the committer: a path
//! (from the top of the work tree) that changed, and when it was seen.
//! What changed is not said: the committer looks at the path when it
//! handles it (present: added or re-added; absent: its removal staged),
//! so any burst of events on one path comes to one decision on what is
//! there at that moment.

use std::time::Instant;

/// One change noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The path, from the top of the work tree.
    pub path: Vec<u8>,
    /// When it was noticed.
    pub time: Instant,
    /// Noticed by the startup scan (not a live event).
    pub scanned: bool,
}

impl Change {
    /// A change seen now by the watcher.
    pub fn now(path: Vec<u8>) -> Change {
        Change {
            path,
            time: Instant::now(),
            scanned: false,
        }
    }
}
