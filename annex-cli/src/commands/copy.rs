//! `copy`: copies content to (`--to`) or from (`--from`) a remote.

use super::move_::{self, Mode};
use crate::error::CommandError;

/// Arguments of `copy`.
pub type Args = move_::Args;

/// Runs `copy`.
pub fn run(args: Args) -> Result<(), CommandError> {
    move_::run_mode(args, Mode::Copy)
}
