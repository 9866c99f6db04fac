//! `--batch` input, as every git-annex command that has it reads it: one
//! item a line (or, with `-z`, items ended by NUL), the separator dropped,
//! the last item read whether or not a separator ends it.

use std::io::BufRead;

use crate::error::CommandError;

/// Calls `f` on each item of standard input, in order, until the input ends
/// or `f` fails.
pub fn for_each_item(
    nul: bool,
    mut f: impl FnMut(&[u8]) -> Result<(), CommandError>,
) -> Result<(), CommandError> {
    let sep = if nul { b'\0' } else { b'\n' };
    for item in std::io::stdin().lock().split(sep) {
        let item =
            item.map_err(|e| CommandError::failed(format!("cannot read standard input: {e}")))?;
        f(&item)?;
    }
    Ok(())
}
