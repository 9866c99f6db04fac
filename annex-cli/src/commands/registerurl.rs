//! `registerurl KEY URL` and `unregisterurl KEY URL` (or `--batch` lines
//! `KEY URL`): a URL recorded for a key, or forgotten, in the web's URL
//! log ([`annex_ops::urls`]); shown as `registerurl URL ok`.
//!
//! `--remote=NAME|UUID` names the remote expected to claim the URL: the
//! web (`web` or its UUID) always does; no other remote of ours claims
//! URLs (external programs' `CLAIMURL` is not asked yet), so another
//! remote fails with the reference's note that the web claims it.

use annex_core::key::Key;

use crate::action::{CommonArgs, OutputArgs, Reporter};
use crate::context::Ctx;
use crate::error::CommandError;

/// Arguments of `registerurl` and `unregisterurl`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// KEY URL.
    params: Vec<String>,
    /// Read `KEY URL` lines from stdin.
    #[arg(long)]
    batch: bool,
    /// With `--batch`, input items end with NUL instead of newline.
    #[arg(short = 'z')]
    z: bool,
    /// The remote (name or UUID) expected to claim the URL.
    #[arg(long)]
    remote: Option<String>,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// Splits `KEY URL` (at the first space).
fn parse(line: &str) -> Result<(Key, String), String> {
    let (k, u) = line.split_once(' ').unwrap_or((line, ""));
    let key = Key::parse(k.as_bytes()).map_err(|_| format!("bad key/url {k}"))?;
    Ok((key, u.to_owned()))
}

/// Whether `r` names the web remote.
fn is_web(r: &str) -> bool {
    r == "web" || r == annex_core::uuid::WEB_UUID
}

/// Whether `r` names a remote of ours (by name or UUID).
fn remote_known(ctx: &Ctx, r: &str) -> bool {
    ctx.config
        .remotes()
        .iter()
        .any(|rc| rc.name == r || rc.uuid.as_ref().is_some_and(|u| u.as_str() == r))
        || annex_core::remote::special::configured(&ctx.config)
            .iter()
            .any(|sr| sr.name == r || sr.uuid.as_ref().is_some_and(|u| u.as_str() == r))
}

/// One URL: `COMMAND URL ok`, or the key's error.
fn act(
    ctx: &Ctx,
    reporter: &mut Reporter,
    key: Result<Key, String>,
    url: &str,
    inputs: &[&str],
    present: bool,
    remote: Option<&str>,
) -> Result<(), CommandError> {
    let mut action = reporter.start(None, None, url.as_bytes())?;
    let inputs = inputs
        .iter()
        .map(|s| serde_json::Value::String((*s).to_owned()))
        .collect();
    action.field("input", serde_json::Value::Array(inputs));
    if let Some(r) = remote
        && !is_web(r)
    {
        if remote_known(ctx, r) {
            action.note(&format!("The url {url} is claimed by remote web"))?;
        } else {
            action.fail(&format!("there is no available git remote named \"{r}\""))?;
        }
        return action.end(false);
    }
    match key {
        Ok(key) => {
            annex_ops::urls::set_url(ctx, &key, url.as_bytes(), present)?;
            action.end(true)
        }
        Err(e) => {
            action.fail(&e)?;
            action.end(false)
        }
    }
}

/// Registers (`present`) or unregisters URLs.
pub fn run(args: Args, present: bool) -> Result<(), CommandError> {
    // git-annex's batch mode answers as registerurl either way.
    let name = if present || args.batch {
        "registerurl"
    } else {
        "unregisterurl"
    };
    if !args.batch && args.params.len() != 2 {
        return Err(CommandError::failed("specify a key and an url"));
    }
    let json = args.output.json || args.output.json_progress || args.output.json_error_messages;
    let ctx = Ctx::open(&args.common.config, args.output.quiet || json)?;
    let mut reporter = ctx.reporter(&args.output, name);
    if args.batch {
        crate::batch::for_each_item(args.z, |line| {
            let text = String::from_utf8_lossy(line);
            let (key, url) = parse(&text)
                .map_err(|e| CommandError::failed(format!("Batch input parse failure: {e}")))?;
            act(
                &ctx,
                &mut reporter,
                Ok(key),
                &url,
                &[&text],
                present,
                args.remote.as_deref(),
            )
        })?;
    } else {
        let (k, url) = (&args.params[0], &args.params[1]);
        let key = Key::parse(k.as_bytes()).map_err(|_| format!("bad key/url {k}"));
        act(
            &ctx,
            &mut reporter,
            key,
            url,
            &[k, url],
            present,
            args.remote.as_deref(),
        )?;
    }
    ctx.commit(&reporter)?;
    reporter.finish()
}
