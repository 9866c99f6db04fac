//! `wanted`, `required REPOSITORY [EXPRESSION]` and `groupwanted GROUP
//! [EXPRESSION]`: show or set preferred and required content expressions
//! (`preferred-content.log`, `required-content.log`,
//! `group-preferred-content.log`). Evaluating them is the preferred-content
//! module's job; here they are only checked and stored.

use std::ffi::OsString;

use crate::action::{Mode, Reporter};
use crate::context::Ctx;
use crate::error::CommandError;
use crate::output::bytes_line;

use super::describe::{record, resolve, strings};

/// Arguments of `wanted`, `required` and `groupwanted`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The repository (a group for `groupwanted`) and, to set it, the expression.
    params: Vec<OsString>,
    /// Avoid the usual informational output (setting still reports).
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Override a git config setting for this command (`name=value`).
    #[arg(short = 'c', long = "config", value_name = "NAME=VALUE")]
    config: Vec<String>,
}

/// Which expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// `wanted`: a repository's preferred content.
    Wanted,
    /// `required`: a repository's required content.
    Required,
    /// `groupwanted`: a group's preferred content (`groupwanted` in expressions).
    GroupWanted,
}

impl Which {
    fn name(self) -> &'static str {
        match self {
            Which::Wanted => "wanted",
            Which::Required => "required",
            Which::GroupWanted => "groupwanted",
        }
    }
}

/// Checks an expression before it is stored, failing with the parser's
/// message (shown after `Parse error: `, as git-annex words it:
/// `Parse error: Parse failure: near "foo=bar"`).
pub fn validate_expression(expr: &str) -> Result<(), String> {
    annex_core::preferred::parse(expr.as_bytes())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Shows or sets the expression.
pub fn run(which: Which, args: Args) -> Result<(), CommandError> {
    let params = strings(&args.params);
    let (target, expr) = match params.as_slice() {
        [t] => (t, None),
        [t, e] => (t, Some(e)),
        _ => {
            return Err(CommandError::failed(match which {
                Which::GroupWanted => "Specify a group.",
                _ => "Specify a repository.",
            }));
        }
    };
    let ctx = Ctx::open(&args.config, false)?;
    let uuid = match which {
        Which::GroupWanted => None,
        _ => Some(resolve(&ctx, target)?),
    };
    let Some(expr) = expr else {
        let current = match (which, &uuid) {
            (Which::Wanted, Some(u)) => ctx.state.preferred_content()?.remove(u),
            (Which::Required, Some(u)) => ctx.state.required_content()?.remove(u),
            _ => ctx
                .state
                .group_preferred_content()?
                .remove(target.as_bytes()),
        };
        return bytes_line(&current.unwrap_or_default());
    };
    // Reported even with --quiet, as git-annex does.
    let mut reporter = Reporter::new(which.name(), Mode::Plain);
    let mut action = reporter.start(None, None, target.as_bytes())?;
    if let Err(e) = validate_expression(expr) {
        action.fail(&format!("Parse error: {e}"))?;
        action.end(false)?;
        return reporter.finish();
    }
    match (which, &uuid) {
        (Which::Wanted, Some(u)) => ctx.state.set_preferred_content(u, expr.as_bytes())?,
        (Which::Required, Some(u)) => ctx.state.set_required_content(u, expr.as_bytes())?,
        _ => ctx
            .state
            .set_group_preferred_content(target.as_bytes(), expr.as_bytes())?,
    }
    action.end(true)?;
    record(&ctx, true)?;
    reporter.finish()
}
