//! The annexed files of the work tree and index: paths and their keys.
