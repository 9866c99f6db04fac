//! The union merge git-annex applies to the files of `git-annex` branches.
//!
//! When git-annex merges branches (and when it brings its branch index up
//! to date), a file that differs between two sides becomes the sorted,
//! de-duplicated union of the lines of both; if one side already holds
//! exactly that set of lines, its content is kept byte for byte. Files
//! present on only one side are kept. No file is ever deleted by a merge.
//!
//! ```
//! use annex_core::branch::merge::union_lines;
//! assert_eq!(union_lines(&[b"b\na\n", b"c\n"]), b"a\nb\nc\n");
//! // One side already holds every line: it is kept as it is.
//! assert_eq!(union_lines(&[b"b\na\n", b"a\n"]), b"b\na\n");
//! ```

use std::collections::BTreeSet;

fn lines(content: &[u8]) -> Vec<&[u8]> {
    // The lines as Haskell's `lines` splits them: a final newline does not
    // start an empty line.
    let mut v: Vec<&[u8]> = content.split(|&b| b == b'\n').collect();
    if content.ends_with(b"\n") || content.is_empty() {
        v.pop();
    }
    v
}

/// The union merge of several versions of one branch file, as git-annex
/// computes it: the first version whose set of lines is the union is kept
/// as it is; otherwise the union's lines, sorted bytewise, each once, each
/// followed by a newline.
pub fn union_lines(versions: &[&[u8]]) -> Vec<u8> {
    let union: BTreeSet<&[u8]> = versions.iter().flat_map(|v| lines(v)).collect();
    for v in versions {
        let set: BTreeSet<&[u8]> = lines(v).into_iter().collect();
        if set == union {
            return v.to_vec();
        }
    }
    let mut out = Vec::new();
    for l in union {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}
