//! The special remote setup commands: `initremote NAME PARAM=VALUE...`,
//! `enableremote NAME [PARAM=VALUE...]`, `configremote NAME
//! PARAM=VALUE...`, `renameremote OLD NEW`, `verifyremote NAME [--safe ID
//! | --unsafe]` and `pre-push` (run by git's pre-push hook: refuses while
//! a special remote is not verified). The operations are
//! `annex_ops::special` and `annex_ops::verify_remote`; this module parses
//! and reports as git-annex does.

use std::ffi::OsString;

use serde_json::Value;

use crate::action::OutputArgs;
use crate::context::Ctx;
use crate::error::CommandError;
use crate::output::outln;

/// Arguments of `initremote`, `enableremote`, `configremote` and
/// `renameremote`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The remote's name, then its parameters (`type=directory`...).
    params: Vec<OsString>,
    #[command(flatten)]
    output: OutputArgs,
    /// Override a git config setting for this command (`name=value`).
    #[arg(short = 'c', long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
}

/// Arguments of `initremote`.
#[derive(clap::Args, Debug)]
pub struct InitArgs {
    #[command(flatten)]
    common: Args,
    /// Describe the other configuration parameters of the special remote.
    #[arg(long, short = 'w')]
    whatelse: bool,
    /// A new remote that accesses the same data as this one (a remote
    /// name, description or UUID).
    #[arg(long, value_name = "REMOTE")]
    sameas: Option<String>,
    /// Keep the special remote's information out of the git-annex branch.
    #[arg(long)]
    private: bool,
}

/// `initremote`.
pub fn run_init(init: InitArgs) -> Result<(), CommandError> {
    let args = init.common;
    let words = super::describe::strings(&args.params);
    let Some((name, params)) = words.split_first() else {
        return Err(CommandError::failed("Specify a name for the remote."));
    };
    let ctx = Ctx::open(&args.config, args.output.quiet)?;
    if init.whatelse {
        return whatelse(&ctx, &args, name, params, &words);
    }
    action(&ctx, &args, "initremote", name, &words, |ctx| {
        let opts = annex_ops::special::InitOptions {
            sameas: init.sameas.clone(),
            private: init.private,
        };
        annex_ops::special::init_with(ctx, name, params, &opts).map(|s| (s.short_notes, Vec::new()))
    })
}

/// `initremote --whatelse`: the parameters not given yet, each with its
/// description (and its values, when said); JSON as one action with a
/// `whatelse` object.
fn whatelse(
    ctx: &Ctx,
    args: &Args,
    name: &str,
    params: &[String],
    words: &[String],
) -> Result<(), CommandError> {
    let docs = match annex_ops::special::whatelse(ctx, name, params) {
        Ok(d) => d,
        Err(e) => {
            // Inside the action, which shows no line of its own.
            crate::error::warn(&e.to_string());
            return Err(CommandError::quiet_failure(
                "initremote: 1 failed".to_string(),
            ));
        }
    };
    let mut reporter = ctx.reporter(&args.output, "initremote");
    if reporter.is_json() {
        let mut action = reporter.start(None, None, name.as_bytes())?;
        action.field(
            "input",
            Value::Array(words.iter().cloned().map(Value::String).collect()),
        );
        let mut m = serde_json::Map::new();
        for (n, d, v) in docs {
            m.insert(
                n,
                serde_json::json!({"description": d, "valuedescription": v}),
            );
        }
        action.field("whatelse", Value::Object(m));
        action.end(true)?;
        return reporter.finish();
    }
    for (n, d, v) in docs {
        outln!("{n}")?;
        outln!("\t{d}")?;
        if !v.is_empty() {
            outln!("\t({v})")?;
        }
    }
    Ok(())
}

/// `enableremote`.
pub fn run_enable(args: Args) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.config, args.output.quiet)?;
    let words = super::describe::strings(&args.params);
    let Some((name, params)) = words.split_first() else {
        let e = annex_ops::special::unknown_name(&ctx, "Specify the remote to enable.");
        return Err(CommandError::failed(e.to_string()));
    };
    annex_ops::special::enable_check(&ctx, name)
        .map_err(|e| CommandError::failed(e.to_string()))?;
    action(
        &ctx,
        &args,
        "enableremote",
        name,
        std::slice::from_ref(name),
        |ctx| annex_ops::special::enable(ctx, name, params).map(|s| (s.short_notes, s.notes)),
    )
}

/// `configremote`.
pub fn run_config(args: Args) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.config, args.output.quiet)?;
    let words = super::describe::strings(&args.params);
    let Some((name, params)) = words.split_first() else {
        let e = annex_ops::special::unknown_name(&ctx, "Specify the remote to configure.");
        return Err(CommandError::failed(e.to_string()));
    };
    annex_ops::special::configure_check(&ctx, name)
        .map_err(|e| CommandError::failed(e.to_string()))?;
    action(
        &ctx,
        &args,
        "configremote",
        name,
        std::slice::from_ref(name),
        |ctx| annex_ops::special::configure(ctx, name, params).map(|_| (Vec::new(), Vec::new())),
    )
}

/// `renameremote`.
pub fn run_rename(args: Args) -> Result<(), CommandError> {
    let words = super::describe::strings(&args.params);
    let [old, new] = words.as_slice() else {
        return Err(CommandError::failed(
            "Specify an old name (or uuid or description) and a new name.",
        ));
    };
    let ctx = Ctx::open(&args.config, args.output.quiet)?;
    let (uuid, config) = annex_ops::special::rename_check(&ctx, old, new)
        .map_err(|e| CommandError::failed(e.to_string()))?;
    let mut reporter = ctx.reporter(&args.output, "rename");
    let mut action = reporter.start(None, None, b"")?;
    action.field(
        "input",
        Value::Array(words.iter().cloned().map(Value::String).collect()),
    );
    match annex_ops::special::rename(&ctx, &uuid, config, new) {
        Ok(()) => action.end(true)?,
        Err(e) => {
            action.fail(&e.to_string())?;
            action.end(false)?;
        }
    }
    ctx.commit(&reporter)?;
    reporter.finish()
}

/// One action on special remote `name`: its notes printed inside it
/// (indented), its failure reported as git-annex reports one.
fn action(
    ctx: &Ctx,
    args: &Args,
    command: &str,
    name: &str,
    input: &[String],
    op: impl FnOnce(&Ctx) -> Result<(Vec<String>, Vec<String>), annex_ops::special::SpecialError>,
) -> Result<(), CommandError> {
    let mut reporter = ctx.reporter(&args.output, command);
    let mut action = reporter.start(None, None, name.as_bytes())?;
    action.field(
        "input",
        Value::Array(input.iter().cloned().map(Value::String).collect()),
    );
    match op(ctx) {
        Ok((short_notes, notes)) => {
            for n in &short_notes {
                action.note(n)?;
            }
            if !notes.is_empty() {
                // One long note (JSON's `note` ends with a newline, as
                // the reference's).
                action.long_note(&(notes.join("\n") + "\n"))?;
            }
            action.end(true)?;
        }
        Err(e) => {
            action.fail(&e.to_string())?;
            action.end(false)?;
        }
    }
    ctx.commit(&reporter)?;
    reporter.finish()
}

/// Arguments of `verifyremote`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The remote to verify.
    remote: String,
    /// The special remote's configuration is safe (the ID shown).
    #[arg(long, value_name = "ID", conflicts_with = "unsafe_")]
    safe: Option<u64>,
    /// The special remote's configuration is unsafe.
    #[arg(long = "unsafe", id = "unsafe_")]
    unsafe_: bool,
    /// Override a git config setting for this command (`name=value`).
    #[arg(short = 'c', long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
}

/// `verifyremote`.
pub fn run_verify(args: VerifyArgs) -> Result<(), CommandError> {
    let ctx = Ctx::open(&args.config, false)?;
    let name = args.remote.as_str();
    if args.safe.is_none() && !args.unsafe_ {
        let lines = annex_ops::verify_remote::status(&ctx, name)
            .map_err(|e| CommandError::failed(e.to_string()))?;
        for l in lines {
            outln!("{l}")?;
        }
        return Ok(());
    }
    let mut reporter = crate::action::Reporter::new("verifyremote", crate::action::Mode::Plain);
    let mut action = reporter.start(None, None, name.as_bytes())?;
    let result = match args.safe {
        Some(id) => annex_ops::verify_remote::safe(&ctx, name, id),
        None => annex_ops::verify_remote::unsafe_(&ctx, name),
    };
    match result {
        Ok(()) => action.end(true)?,
        Err(annex_ops::verify_remote::VerifyError::NoSuchRemote(n)) => {
            drop(action);
            return Err(CommandError::failed(format!(
                "there is no available git remote named \"{n}\"\n"
            )));
        }
        Err(e) => {
            action.warn(&e.to_string())?;
            action.end(false)?;
        }
    }
    reporter.finish()
}

/// Arguments of `pre-push`.
#[derive(clap::Args, Debug)]
pub struct PrePushArgs {
    /// What git passes to the hook (ignored).
    params: Vec<OsString>,
}

/// `pre-push`: refuses git pushes while a special remote is not verified.
pub fn run_pre_push(_args: PrePushArgs) -> Result<(), CommandError> {
    let ctx = Ctx::open(&[], true)?;
    if let Some(name) = annex_ops::verify_remote::blocking_push(&ctx) {
        return Err(CommandError::failed(format!(
            "Push prevented due to an unverified special remote. Run this command to verify it: git-annex verifyremote {name}"
        )));
    }
    Ok(())
}

/// `disableremote NAME`.
pub fn run_disable(args: Args) -> Result<(), CommandError> {
    let words = super::describe::strings(&args.params);
    let [name] = words.as_slice() else {
        return Err(CommandError::failed("Specify the remote's name."));
    };
    let ctx = Ctx::open(&args.config, args.output.quiet)?;
    let uuid = annex_ops::disable_remote::find(&ctx, name)
        .map_err(|e| CommandError::failed(e.to_string()))?;
    let mut reporter = ctx.reporter(&args.output, "disableremote");
    let mut action = reporter.start(None, None, name.as_bytes())?;
    action.field("input", Value::Array(vec![Value::String(name.clone())]));
    match annex_ops::disable_remote::disable(&ctx, name, uuid.as_ref()) {
        Ok(()) => action.end(true)?,
        Err(e) => {
            action.fail(&e.to_string())?;
            action.end(false)?;
        }
    }
    ctx.commit(&reporter)?;
    reporter.finish()
}
