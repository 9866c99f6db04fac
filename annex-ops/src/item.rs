//! What an operation acts on: a key, with the work-tree file it was found
//! through when there is one.

use annex_core::key::Key;

/// One thing an operation acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The key.
    pub key: Key,
    /// The file's path from the top of the work tree (the associated
    /// file); empty for a key alone.
    pub top_path: Vec<u8>,
    /// Whether the key was found through a work-tree file (whose
    /// `.gitattributes` and name then count).
    pub is_file: bool,
    /// An unlocked file (a pointer file, or the content, in the work tree).
    pub unlocked: bool,
}

impl Item {
    /// A key alone (`--key`, `--all`).
    pub fn key(key: Key) -> Item {
        Item {
            key,
            top_path: Vec::new(),
            is_file: false,
            unlocked: false,
        }
    }

    /// A work-tree file (path from the top) and its key.
    pub fn file(top_path: Vec<u8>, key: Key, unlocked: bool) -> Item {
        Item {
            key,
            top_path,
            is_file: true,
            unlocked,
        }
    }

    /// The preferred-content engine's view of the item.
    pub fn matchable(&self) -> annex_core::preferred::Item<'_> {
        if self.is_file {
            annex_core::preferred::Item::file(&self.top_path, Some(&self.key))
        } else {
            annex_core::preferred::Item::key(&self.key)
        }
    }
}
