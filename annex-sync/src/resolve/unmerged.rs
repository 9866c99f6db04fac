//! The unmerged entries of the index, paired up the way git-annex pairs
//! them (`Git.LsFiles.unmerged`): one conflict per file, with our side
//! (stage 2) and their side (stage 3), either of which may be missing, and
//! the "sibling" file (`f~HEAD`, `f~branch`) git sometimes stages one side
//! under.

/// The kind of a tree entry, from its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemType {
    /// A regular file (100644).
    File,
    /// An executable file (100755).
    Executable,
    /// A symbolic link (120000).
    Symlink,
    /// A submodule (160000).
    Commit,
}

impl ItemType {
    /// The type of the octal `mode` as git writes it, if known.
    pub fn from_mode(mode: &[u8]) -> Option<ItemType> {
        match mode {
            b"100644" => Some(ItemType::File),
            b"100755" => Some(ItemType::Executable),
            b"120000" => Some(ItemType::Symlink),
            b"160000" => Some(ItemType::Commit),
            _ => None,
        }
    }
}

/// One side of a conflict: its type and object id, `None` when that side
/// deleted the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Side {
    /// The entry's type.
    pub item_type: ItemType,
    /// The entry's object id, hex.
    pub sha: String,
}

/// A conflicted file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmerged {
    /// The file, from the top of the work tree.
    pub file: Vec<u8>,
    /// Our side (stage 2).
    pub us: Option<Side>,
    /// Their side (stage 3).
    pub them: Option<Side>,
    /// The other file staged for this conflict, when git staged one side
    /// under another name (`foo~HEAD`).
    pub sibling: Option<Vec<u8>>,
}

#[derive(Debug, Clone)]
struct Entry {
    is_us: bool,
    file: Vec<u8>,
    side: Option<Side>,
}

fn parse_entry(record: &[u8]) -> Option<Entry> {
    let tab = record.iter().position(|&c| c == b'\t')?;
    let (meta, file) = (&record[..tab], &record[tab + 1..]);
    if file.is_empty() {
        return None;
    }
    let mut words = meta
        .split(|c| c.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    let mode = words.next()?;
    let sha = words.next()?;
    let stage = words.next()?;
    let is_us = match stage {
        b"2" => true,
        b"3" => false,
        _ => return None,
    };
    let item_type = ItemType::from_mode(mode)?;
    if !(sha.len() == 40 || sha.len() == 64) || !sha.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    Some(Entry {
        is_us,
        file: file.to_vec(),
        side: Some(Side {
            item_type,
            sha: String::from_utf8_lossy(sha).into_owned(),
        }),
    })
}

/// Whether `y` is taken as the sibling of `x`. This keeps git-annex's
/// test exactly, operator precedence included: `y` is a sibling when it is
/// named `x~...` and `x` is our side, or whenever `y` is our side and `x`
/// is not.
fn is_sibling(x: &Entry, y: &Entry) -> bool {
    let mut prefix = x.file.clone();
    prefix.push(b'~');
    (y.file.starts_with(&prefix) && x.is_us) || (y.is_us && !(x.is_us && y.is_us))
}

/// Pairs up the records of `git ls-files --unmerged -z` (stage 1 entries
/// are ignored), in the order git-annex handles them (the reverse of the
/// index order).
pub fn parse(output: &[u8]) -> Vec<Unmerged> {
    let entries: Vec<Entry> = output
        .split(|&c| c == 0)
        .filter_map(parse_entry)
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < entries.len() {
        let e = &entries[i];
        // Only the next entry is looked at, as git-annex does.
        let (sib, next) = match entries.get(i + 1) {
            Some(l) if l.file == e.file || is_sibling(e, l) => (l.clone(), i + 2),
            _ => (
                Entry {
                    is_us: !e.is_us,
                    file: e.file.clone(),
                    side: None,
                },
                i + 1,
            ),
        };
        let (us, them) = if e.is_us {
            (e.side.clone(), sib.side.clone())
        } else {
            (sib.side.clone(), e.side.clone())
        };
        out.push(Unmerged {
            file: e.file.clone(),
            us,
            them,
            sibling: (sib.file != e.file).then(|| sib.file.clone()),
        });
        i = next;
    }
    out.reverse();
    out
}
