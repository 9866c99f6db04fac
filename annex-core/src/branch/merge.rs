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

/// The union merge of several versions of one branch file, as git-annex
/// computes it: the first version whose set of lines is the union is kept
/// as it is; otherwise the union's lines, sorted bytewise, each once, each
/// followed by a newline. The same rule as [`crate::logs::plain_union`],
/// which it calls: the branch merges every file this way, known log or not,
/// so its commits are the ones git-annex makes.
pub fn union_lines(versions: &[&[u8]]) -> Vec<u8> {
    crate::logs::plain_union(versions)
}
