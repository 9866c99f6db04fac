//! Modes of what git-annex creates under `.git/annex` in a shared
//! repository (`core.sharedRepository`), other than content (see
//! [`crate::objects`], which locks content down with the shared modes).
//!
//! git-annex gives every directory and file it makes there the group's
//! read and write permission (`group`), and read for everyone too (`all`),
//! whatever the process's umask. This library creates such files in many
//! places (the journal, lock files, the branch's index, temporary files),
//! so the same modes come from the process's umask: once a shared
//! repository is opened ([`share_new_files`]), the umask stops masking
//! those bits. Work-tree files created afterwards get them too (git-annex
//! leaves those to the umask), and `core.sharedRepository=0xxx` (an exact
//! mode) is left to the umask here.
//!
//! ```no_run
//! use annex_core::objects::SharedRepository;
//! annex_core::perms::share_new_files(SharedRepository::Group);
//! ```

use std::sync::atomic::{AtomicU32, Ordering};

use crate::objects::SharedRepository;

/// The bits [`share_new_files`] unmasked, for files written with an
/// explicit mode ([`new_file_mode`]).
static UNMASKED: AtomicU32 = AtomicU32::new(0);

/// The mode of a file this library writes under `.git/annex` through a
/// private temporary file (the journal, the branch's index): `0644`, with
/// the group's write permission in a shared repository.
pub fn new_file_mode() -> u32 {
    0o644 | (UNMASKED.load(Ordering::Relaxed) & 0o666)
}

/// The umask bits `shared` wants cleared: the group's read and write
/// (`group`), and everyone's read too (`all`).
pub fn unmasked_bits(shared: SharedRepository) -> u32 {
    match shared {
        SharedRepository::Group => 0o060,
        SharedRepository::All => 0o064,
        SharedRepository::UnShared | SharedRepository::Umask(_) => 0,
    }
}

/// Makes files and directories this process creates from now on get the
/// permissions `shared` gives (see the module's documentation); nothing
/// for an unshared repository.
pub fn share_new_files(shared: SharedRepository) {
    let bits = unmasked_bits(shared);
    if bits == 0 {
        return;
    }
    UNMASKED.fetch_or(bits, Ordering::Relaxed);
    use rustix::fs::Mode;
    // umask can only be read by setting it: set, then set the result.
    let old = rustix::process::umask(Mode::empty());
    let new = Mode::from_bits_truncate(old.bits() & !bits);
    rustix::process::umask(new);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_and_all_clear_what_git_annex_adds() {
        assert_eq!(unmasked_bits(SharedRepository::Group), 0o060);
        assert_eq!(unmasked_bits(SharedRepository::All), 0o064);
        assert_eq!(unmasked_bits(SharedRepository::UnShared), 0);
        assert_eq!(unmasked_bits(SharedRepository::Umask(0o640)), 0);
        // 022 becomes 002: files 664, directories 775, as the reference's.
        assert_eq!(0o022 & !unmasked_bits(SharedRepository::Group), 0o002);
    }
}
