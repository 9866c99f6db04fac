//! `filter-process`: git's long-running filter process for unlocked
//! files (`filter.annex.process`), serving the clean and smudge filters of
//! [`super::smudge`] over the pkt-line protocol of [`annex_core::filter`].

use crate::commands::smudge::AnnexFilter;
use crate::error::CommandError;

/// Arguments of `filter-process` (none).
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Serves git until it closes the pipe.
pub fn run(_args: Args) -> Result<(), CommandError> {
    let mut filter = AnnexFilter::open()?;
    let stdin = std::io::stdin();
    let mut input = std::io::BufReader::new(stdin.lock());
    let mut output = std::io::BufWriter::new(std::io::stdout().lock());
    annex_core::filter::serve(&mut input, &mut output, &mut filter)?;
    Ok(())
}
