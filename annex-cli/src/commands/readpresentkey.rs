//! `readpresentkey KEY UUID`: exit code 0 when the location log says the
//! repository has the key, 1 otherwise; nothing printed.

use annex_core::key::Key;

use crate::action::CommonArgs;
use crate::context::Ctx;
use crate::error::CommandError;

/// Arguments of `readpresentkey`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// KEY UUID.
    params: Vec<String>,
    #[command(flatten)]
    common: CommonArgs,
}

/// Answers by the exit code.
pub fn run(args: Args) -> Result<(), CommandError> {
    let [k, u] = args.params.as_slice() else {
        return Err(CommandError::failed("Wrong number of parameters"));
    };
    let key = Key::parse(k.as_bytes()).map_err(|_| CommandError::failed("bad key"))?;
    let ctx = Ctx::open(&args.common.config, true)?;
    if annex_ops::urls::is_present(&ctx, &key, u.as_bytes())? {
        Ok(())
    } else {
        Err(CommandError::exit(1))
    }
}
