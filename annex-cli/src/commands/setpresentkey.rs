//! `setpresentkey KEY UUID 1|0|X`: records in the location log that a
//! repository has (1), no longer has (0) or has lost for good (X) a key.

use annex_core::key::Key;
use annex_core::logs::presence::Status;
use annex_core::uuid::Uuid;

use crate::action::{OutputArgs, Reporter};
use crate::context::Ctx;
use crate::error::CommandError;

/// Arguments of `setpresentkey`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Read `KEY UUID VALUE` lines from stdin.
    #[arg(long = "batch")]
    batch: bool,
    /// With --batch, items are ended by NUL instead of newline.
    #[arg(short = 'z')]
    nul: bool,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    common: crate::action::CommonArgs,
    /// KEY UUID VALUE.
    #[arg(value_name = "PARAMS")]
    params: Vec<String>,
}

fn parse(words: &[&str]) -> Result<(Key, Uuid, Status), String> {
    let [k, u, v] = words else {
        return Err("Bad input. Expected: key uuid value".into());
    };
    let key = Key::parse(k.as_bytes()).map_err(|_| "bad key".to_string())?;
    let uuid = Uuid::parse(u.as_bytes()).map_err(|_| "bad uuid".to_string())?;
    let status = match *v {
        "1" => Status::Present,
        "0" => Status::Missing,
        "X" => Status::Dead,
        _ => return Err("bad value".into()),
    };
    Ok((key, uuid, status))
}

fn set(
    ctx: &Ctx,
    reporter: &mut Reporter,
    key: &Key,
    uuid: &Uuid,
    status: Status,
    input: &[u8],
) -> Result<(), CommandError> {
    let action = reporter.start(None, Some(key), input)?;
    let t = annex_core::timestamp::Clock::from_env().candidate();
    ctx.state.branch().change_opt(
        &annex_core::state::key_log_path(key, ".log"),
        std::slice::from_ref(uuid),
        |old| annex_core::logs::location::set(old, uuid, status, t),
    )?;
    action.end(true)
}

/// Runs `setpresentkey`.
pub fn run(args: Args) -> Result<(), CommandError> {
    let mut reporter = args.out.reporter("setpresentkey");
    let ctx = Ctx::open(&args.common.config, true)?;
    if args.batch {
        crate::batch::for_each_item(args.nul, |line| {
            let text = String::from_utf8_lossy(line);
            let words: Vec<&str> = text.split_whitespace().collect();
            match parse(&words) {
                Ok((k, u, s)) => set(&ctx, &mut reporter, &k, &u, s, line),
                Err(e) => {
                    eprintln!("git-annex-rs: {e}");
                    reporter.count_failure();
                    Ok(())
                }
            }
        })?;
    } else {
        let words: Vec<&str> = args.params.iter().map(String::as_str).collect();
        let (k, u, s) = parse(&words).map_err(CommandError::failed)?;
        let input = args.params.join(" ");
        set(&ctx, &mut reporter, &k, &u, s, input.as_bytes())?;
    }
    // Like git-annex's, this command leaves its change in the journal.
    reporter.finish()
}
