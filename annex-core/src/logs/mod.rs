//! The logs of the `git-annex` branch, each in its own module, typed.
//!
//! To be filled: one module per log. [`union_merge`] is the entry point the
//! branch uses when it merges other `git-annex` branches.

/// Union-merges several versions of one file of the `git-annex` branch
/// (named by its path in the branch) into one, and compacts the result by
/// the rules of the log at that path.
///
/// For now: the lines of all versions, each kept once, in first-seen order.
pub fn union_merge(path: &[u8], versions: &[&[u8]]) -> Vec<u8> {
    let _ = path;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for v in versions {
        for line in v.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            if seen.insert(line) {
                out.extend_from_slice(line);
                out.push(b'\n');
            }
        }
    }
    out
}
