//! `annex-watch`: the `watch` and `assistant` daemon.
//!
//! Not filled yet. It will hold the watcher (inotify, kqueue, FSEvents
//! through `notify`), the committer, pusher, merger and transfer threads of
//! the assistant, as the project's design notes describe.
