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
    // git-annex's `(prefix && isus x) || (isus y && not (isus x && isus y))`.
    (y.file.starts_with(&prefix) && x.is_us) || (y.is_us && !x.is_us)
}

/// Pairs up the records of `git ls-files --unmerged -z` (stage 1 entries
/// are ignored), in the order git-annex handles them (the reverse of the
/// index order).
pub fn parse(output: &[u8]) -> Vec<Unmerged> {
    let entries: Vec<Entry> = output.split(|&c| c == 0).filter_map(parse_entry).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";
    const C: &str = "3333333333333333333333333333333333333333";

    fn side(t: ItemType, sha: &str) -> Option<Side> {
        Some(Side {
            item_type: t,
            sha: sha.into(),
        })
    }

    #[test]
    fn both_sides_one_file() {
        let out = format!("120000 {A} 1\tf\x00120000 {B} 2\tf\x00100644 {C} 3\tf\x00");
        assert_eq!(
            parse(out.as_bytes()),
            vec![Unmerged {
                file: b"f".to_vec(),
                us: side(ItemType::Symlink, B),
                them: side(ItemType::File, C),
                sibling: None,
            }]
        );
    }

    #[test]
    fn sibling_file_holds_the_other_side() {
        // As `git merge` leaves a plain file of ours against an annexed
        // file of theirs.
        let out = format!("120000 {A} 1\tf\x00120000 {B} 3\tf\x00100644 {C} 2\tf~HEAD\x00");
        assert_eq!(
            parse(out.as_bytes()),
            vec![Unmerged {
                file: b"f".to_vec(),
                us: side(ItemType::File, C),
                them: side(ItemType::Symlink, B),
                sibling: Some(b"f~HEAD".to_vec()),
            }]
        );
    }

    #[test]
    fn deleted_side_then_next_file_of_ours_pairs_like_git_annex() {
        // `a` deleted by us, `b` changed on both sides: git-annex takes
        // `b`'s stage 2 as `a`'s sibling (checked against the reference:
        // `b` leaves the tree, its version becomes a variant of `a`).
        let out = format!(
            "120000 {A} 1\ta\x00120000 {B} 3\ta\x00120000 {A} 1\tb\x00120000 {C} 2\tb\x00120000 {B} 3\tb\x00"
        );
        assert_eq!(
            parse(out.as_bytes()),
            vec![
                Unmerged {
                    file: b"b".to_vec(),
                    us: None,
                    them: side(ItemType::Symlink, B),
                    sibling: None,
                },
                Unmerged {
                    file: b"a".to_vec(),
                    us: side(ItemType::Symlink, C),
                    them: side(ItemType::Symlink, B),
                    sibling: Some(b"b".to_vec()),
                },
            ]
        );
    }

    #[test]
    fn garbage_is_skipped() {
        assert!(parse(b"").is_empty());
        assert!(parse(b"\x00\x00nonsense\x00100644 xyz 2\tf\x00").is_empty());
        assert!(parse(format!("040000 {A} 2\td\x00").as_bytes()).is_empty());
    }
}
