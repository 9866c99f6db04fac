//! git-annex's common options, accepted by every command and anywhere
//! after the command name as git-annex accepts them (`git-annex init -c
//! a.b=c`, `git-annex init --quiet DESC`):
//! `-c NAME=VALUE`, `--force`, `--fast`,
//! `--quiet`, `--verbose`, `--debug`, `--json-error-messages`,
//! `--time-limit`, `--numcopies`, `--mincopies`, `--trust`, `--semitrust`,
//! `--untrust`, `--size-limit` (on `get`, `copy`, `move`, `drop` and
//! `mirror`; refused, naming itself, by the other commands until they
//! honour it), ...
//!
//! [`extract`] takes them out of the arguments before the command's own
//! parser sees them, unless the command defines the option itself (then
//! its parser takes it, with the meaning the command gives it); `-c` is
//! always taken here, and [`install`] makes its overrides reach every git
//! config read of the libraries ([`annex_core::config`]). What a command
//! did not define is kept in [`get`] for the code that honours it.

use std::ffi::OsString;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use annex_core::logs::trust::TrustLevel;

use crate::error::CommandError;

/// The git-annex release whose behaviour this program matches: what
/// `version --raw` says, so that clients switching on git-annex's version
/// (DataLad) treat us as that release.
pub const ANNEX_VERSION: &str = "10.20261026";

/// This program's own version.
pub const OWN_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The common options given on the command line, for the commands that do
/// not define them themselves.
#[derive(Debug, Default, Clone)]
pub struct Globals {
    /// `-c NAME=VALUE`, in order.
    pub config: Vec<String>,
    /// `--quiet` / `-q` (`--verbose` / `-v` undoes it).
    pub quiet: bool,
    /// `--time-limit`: when the command started and how long it may run.
    pub time_limit: Option<(Instant, Duration)>,
    /// `--numcopies`, `--mincopies`, `--semitrust`, `--untrust`: given to
    /// the libraries ([`annex_core::forced`]) by [`install`].
    pub forced: annex_core::forced::Forced,
    /// `--trust REPO`: git-annex checks the name and ignores the request
    /// with a warning (trusting on the command line could lose data).
    pub trust_ignored: Vec<String>,
    /// `--size-limit`: the total size of the keys the command may act on.
    pub size_limit: Option<u64>,
}

static GLOBALS: OnceLock<Globals> = OnceLock::new();

/// The common options of this run (the defaults before [`install`]).
pub fn get() -> &'static Globals {
    GLOBALS.get_or_init(Globals::default)
}

/// Makes `globals` the options of this run: `-c` overrides go to the
/// libraries' config reads.
pub fn install(globals: Globals) -> Result<(), CommandError> {
    annex_core::config::set_command_line_overrides(globals.config.clone())
        .map_err(|e| CommandError::user(e.to_string()))?;
    annex_core::forced::set(globals.forced.clone());
    // Only the first call counts: the options of a run are fixed.
    let _ = GLOBALS.set(globals);
    Ok(())
}

/// How a common option is applied.
#[derive(Debug, Clone, Copy)]
enum Effect {
    Config,
    Quiet,
    Verbose,
    TimeLimit,
    /// `--numcopies N`.
    NumCopies,
    /// `--mincopies N`.
    MinCopies,
    /// `--trust`, `--semitrust`, `--untrust REPO`.
    Trust(TrustLevel),
    /// `--size-limit SIZE`, on the commands of [`SIZE_LIMITED`].
    SizeLimit,
    /// Accepted with its value and without effect here: `--force` and
    /// `--fast` where the command does not define them (nothing it does
    /// depends on them, as in git-annex), `--json-error-messages` where it
    /// has no JSON output, options that change only what
    /// is shown or notified (`--debug`, `--debugfilter`,
    /// `--explain`, `--notify-start`), that git-annex itself ignores
    /// (`--trust-glacier`), or that concern remotes we do not have
    /// (`--user-agent`: the web).
    Ignored,
    /// Refused, naming itself: an option that would change what a command
    /// decides and that it does not honour yet; ignoring it could act on
    /// more than the user meant.
    Unsupported,
}

/// One common option: its long name, short name, whether it takes a
/// value, and its effect.
struct Spec {
    long: &'static str,
    short: Option<char>,
    value: bool,
    effect: Effect,
}

const fn spec(long: &'static str, short: Option<char>, value: bool, effect: Effect) -> Spec {
    Spec {
        long,
        short,
        value,
        effect,
    }
}

/// git-annex's common options (CmdLine/Option.hs and the `git-annex`
/// command's own, as `git-annex COMMAND --help` lists them).
const SPECS: &[Spec] = &[
    spec("config", Some('c'), true, Effect::Config),
    spec("force", None, false, Effect::Ignored),
    spec("fast", Some('F'), false, Effect::Ignored),
    spec("quiet", Some('q'), false, Effect::Quiet),
    spec("verbose", Some('v'), false, Effect::Verbose),
    spec("debug", Some('d'), false, Effect::Ignored),
    spec("no-debug", None, false, Effect::Ignored),
    spec("debugfilter", None, true, Effect::Ignored),
    spec("explain", None, false, Effect::Ignored),
    spec("json-error-messages", None, false, Effect::Ignored),
    spec("time-limit", Some('T'), true, Effect::TimeLimit),
    spec("size-limit", None, true, Effect::SizeLimit),
    spec("numcopies", Some('N'), true, Effect::NumCopies),
    spec("mincopies", None, true, Effect::MinCopies),
    spec("trust", None, true, Effect::Trust(TrustLevel::Trusted)),
    spec(
        "semitrust",
        None,
        true,
        Effect::Trust(TrustLevel::SemiTrusted),
    ),
    spec("untrust", None, true, Effect::Trust(TrustLevel::Untrusted)),
    spec("trust-glacier", None, false, Effect::Ignored),
    spec("user-agent", None, true, Effect::Ignored),
    spec("notify-finish", None, false, Effect::Ignored),
    spec("notify-start", None, false, Effect::Ignored),
];

/// The common option `arg` spells, with its value when attached
/// (`--config=a.b=c`, `-ca.b=c`).
fn recognize(arg: &str) -> Option<(&'static Spec, Option<String>)> {
    if let Some(long) = arg.strip_prefix("--") {
        let (name, value) = match long.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (long, None),
        };
        let s = SPECS.iter().find(|s| s.long == name)?;
        if value.is_some() && !s.value {
            return None;
        }
        return Some((s, value));
    }
    let rest = arg.strip_prefix('-')?;
    let mut chars = rest.chars();
    let c = chars.next()?;
    let attached = chars.as_str();
    let s = SPECS.iter().find(|s| s.short == Some(c))?;
    match (s.value, attached.is_empty()) {
        (_, true) => Some((s, None)),
        (true, false) => Some((s, Some(attached.to_string()))),
        (false, false) => None,
    }
}

/// Whether `command` defines an option spelled as `s` is.
fn defines(command: &clap::Command, s: &Spec) -> bool {
    command
        .get_arguments()
        .any(|a| a.get_long() == Some(s.long) || (s.short.is_some() && a.get_short() == s.short))
}

/// Whether `command`'s option spelled `arg` (without an attached value)
/// takes the next argument as its value.
fn takes_value(command: &clap::Command, arg: &str) -> bool {
    let found = if let Some(long) = arg.strip_prefix("--") {
        command.get_arguments().find(|a| a.get_long() == Some(long))
    } else {
        let mut chars = arg.chars().skip(1);
        match (chars.next(), chars.next()) {
            (Some(c), None) => command.get_arguments().find(|a| a.get_short() == Some(c)),
            _ => None,
        }
    };
    found.is_some_and(|a| a.get_action().takes_values())
}

/// Takes git-annex's common options out of `args` (the program name
/// first) after the command name: `-c` always, the others when the
/// command does not define them itself. Arguments after `--`
/// are left alone. Returns the remaining arguments and the options.
pub fn extract(
    app: &clap::Command,
    args: Vec<OsString>,
) -> Result<(Vec<OsString>, Globals), CommandError> {
    let mut globals = Globals::default();
    let mut out = Vec::with_capacity(args.len());
    let mut command: Option<&clap::Command> = None;
    let mut it = args.into_iter();
    if let Some(first) = it.next() {
        out.push(first);
    }
    while let Some(arg) = it.next() {
        let Some(text) = arg.to_str().map(str::to_string) else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            out.push(arg);
            out.extend(it.by_ref());
            break;
        }
        if command.is_none() && !text.starts_with('-') {
            command = app.find_subcommand(&text);
            out.push(arg);
            continue;
        }
        // Before the command name nothing is taken: git-annex accepts its
        // options only after it (`git-annex -c a.b=c init` is refused).
        if let Some(c) = command
            && let Some((s, attached)) = recognize(&text)
            && (matches!(s.effect, Effect::Config) || !defines(c, s))
        {
            let value = if s.value {
                match attached {
                    Some(v) => Some(v),
                    None => Some(it.next().and_then(|v| v.into_string().ok()).ok_or_else(
                        || CommandError::user(format!("option --{} needs a value", s.long)),
                    )?),
                }
            } else {
                None
            };
            let effect = match s.effect {
                Effect::SizeLimit if SIZE_LIMIT_IGNORED.contains(&c.get_name()) => Effect::Ignored,
                Effect::SizeLimit if !SIZE_LIMITED.contains(&c.get_name()) => Effect::Unsupported,
                e => e,
            };
            apply(&mut globals, s, effect, value)?;
            continue;
        }
        let value_follows = !text.contains('=')
            && text.starts_with('-')
            && command.is_some_and(|c| takes_value(c, &text));
        out.push(arg);
        if value_follows && let Some(v) = it.next() {
            out.push(v);
        }
    }
    Ok((out, globals))
}

/// The commands that honour `--size-limit`.
const SIZE_LIMITED: &[&str] = &[
    "get", "copy", "move", "drop", "mirror", "find", "findkeys", "findref", "whereis", "lock",
    "unlock", "unannex", "metadata", "migrate", "fix",
];

/// The commands that take `--size-limit` without honouring it, as the
/// reference: it counts only keys that an action starts on, and these
/// start none (or show every item in one listing).
const SIZE_LIMIT_IGNORED: &[&str] = &["info", "list", "log", "whereused"];

fn apply(
    g: &mut Globals,
    s: &Spec,
    effect: Effect,
    value: Option<String>,
) -> Result<(), CommandError> {
    let value = value.unwrap_or_default();
    match effect {
        Effect::Config => g.config.push(value),
        Effect::Quiet => g.quiet = true,
        Effect::Verbose => g.quiet = false,
        Effect::TimeLimit => {
            let d = parse_duration(&value)
                .ok_or_else(|| CommandError::user(format!("bad time limit: {value}")))?;
            g.time_limit = Some((Instant::now(), d));
        }
        Effect::NumCopies => g.forced.numcopies = Some(parse_number(s.long, &value)?),
        Effect::MinCopies => g.forced.mincopies = Some(parse_number(s.long, &value)?),
        Effect::Trust(TrustLevel::Trusted) => g.trust_ignored.push(value),
        Effect::Trust(level) => g.forced.trust.push((value, level)),
        Effect::SizeLimit => {
            let size = annex_core::units::read_size(value.as_bytes())
                .and_then(|n| u64::try_from(n.max(0)).ok())
                .ok_or_else(|| {
                    CommandError::user(format!("option --size-limit: cannot parse value `{value}'"))
                })?;
            g.size_limit = Some(size);
        }
        Effect::Ignored => {}
        Effect::Unsupported => {
            return Err(CommandError::user(format!(
                "option --{} is not supported by git-annex-rs yet",
                s.long
            )));
        }
    }
    Ok(())
}

/// A number option's value, as git-annex's parser reads an `Int`;
/// otherwise its usage error.
fn parse_number(option: &str, value: &str) -> Result<i64, CommandError> {
    value
        .trim()
        .parse()
        .map_err(|_| CommandError::user(format!("option --{option}: cannot parse value `{value}'")))
}

/// A duration as git-annex writes them: numbers each followed by a unit
/// (`y`, `d`, `h`, `m`, `s`), e.g. `1h30m`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit: u64 = match c {
            'y' => 365 * 86400,
            'd' => 86400,
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        let n: u64 = number.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        number.clear();
    }
    if !number.is_empty() {
        total = total.checked_add(number.parse().ok()?)?;
    }
    if text.is_empty() {
        return None;
    }
    Some(Duration::from_secs(total))
}

/// What is left of `--size-limit` (`None` before the first key).
static SIZE_LEFT: std::sync::Mutex<Option<u64>> = std::sync::Mutex::new(None);

/// Whether `--size-limit` turned a key away.
static SIZE_REACHED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether the command may act on a key of `size` bytes under
/// `--size-limit` (always without it): when it fits in what is left, it
/// is taken from it; otherwise (or when its size is not known) the key is
/// skipped and the command will end with exit code 101, as git-annex's
/// `checkSizeLimit`. Smaller keys later may still fit.
pub fn size_limit_admits(size: impl FnOnce() -> Option<u64>) -> bool {
    let Some(limit) = get().size_limit else {
        return true;
    };
    let mut left = SIZE_LEFT.lock().unwrap_or_else(|p| p.into_inner());
    let left = left.get_or_insert(limit);
    match size() {
        Some(n) if n <= *left => {
            *left -= n;
            true
        }
        _ => {
            SIZE_REACHED.store(true, std::sync::atomic::Ordering::Relaxed);
            false
        }
    }
}

/// [`size_limit_admits`] for `key`: its size, else its content's here
/// (git-annex's `checkSizeLimit`).
pub fn size_limit_admits_key(
    store: &annex_core::objects::ObjectStore,
    key: &annex_core::key::Key,
) -> bool {
    size_limit_admits(|| {
        key.size().or_else(|| {
            let path = store.find(key)?;
            std::fs::metadata(path).ok().map(|m| m.len())
        })
    })
}

/// Whether `--size-limit` is given (commands then act one item at a time).
pub fn size_limited() -> bool {
    get().size_limit.is_some()
}

/// A command's result once `--size-limit` turned a key away: exit code
/// 101, after the failures are counted as usual (git-annex's order).
pub fn finish_size_limit(result: Result<(), CommandError>) -> Result<(), CommandError> {
    if !SIZE_REACHED.load(std::sync::atomic::Ordering::Relaxed) {
        return result;
    }
    match result {
        Ok(()) => Err(CommandError::exit(101)),
        Err(e) => Err(e.with_exit_code(101)),
    }
}

/// Whether `--time-limit` has run out: git-annex then starts no more
/// actions and exits with code 101 after saying so.
pub fn time_limit_reached() -> Option<CommandError> {
    let (start, limit) = get().time_limit?;
    if start.elapsed() < limit {
        return None;
    }
    Some(
        CommandError::quiet_failure(format!(
            "  Time limit ({}) reached! Shutting down...",
            show_duration(limit)
        ))
        .with_exit_code(101),
    )
}

/// A duration as git-annex shows it (`1h30m`, `5s`).
fn show_duration(d: Duration) -> String {
    let mut s = d.as_secs();
    let mut out = String::new();
    for (unit, n) in [("d", 86400), ("h", 3600), ("m", 60)] {
        if s >= n {
            out.push_str(&format!("{}{unit}", s / n));
            s %= n;
        }
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> clap::Command {
        clap::Command::new("p")
            .subcommand(clap::Command::new("plain").arg(clap::Arg::new("path").num_args(0..)))
            .subcommand(
                clap::Command::new("own")
                    .arg(
                        clap::Arg::new("force")
                            .long("force")
                            .action(clap::ArgAction::SetTrue),
                    )
                    .arg(clap::Arg::new("format").long("format"))
                    .arg(clap::Arg::new("path").num_args(0..)),
            )
    }

    fn run(args: &[&str]) -> (Vec<String>, Globals) {
        let (rest, g) =
            extract(&app(), args.iter().map(OsString::from).collect()).expect("extracts");
        (
            rest.into_iter()
                .map(|a| a.into_string().expect("utf-8"))
                .collect(),
            g,
        )
    }

    #[test]
    fn config_is_taken_anywhere_after_the_command_in_every_spelling() {
        let (rest, g) = run(&[
            "p",
            "plain",
            "-c",
            "a.b=1",
            "-ca.c=2",
            "x",
            "--config",
            "a.d=3",
            "--config=a.e=4",
        ]);
        assert_eq!(rest, vec!["p", "plain", "x"]);
        assert_eq!(g.config, vec!["a.b=1", "a.c=2", "a.d=3", "a.e=4"]);
        // Before the command, as git-annex: left to the parser (refused).
        let (rest, g) = run(&["p", "-c", "a.b=1", "plain"]);
        assert_eq!(rest, vec!["p", "-c", "a.b=1", "plain"]);
        assert!(g.config.is_empty());
    }

    #[test]
    fn a_commands_own_option_is_left_to_it() {
        let (rest, g) = run(&["p", "own", "--force", "--fast", "-q"]);
        assert_eq!(rest, vec!["p", "own", "--force"]);
        assert!(g.quiet);
        let (rest, g) = run(&["p", "plain", "--force", "--json-error-messages"]);
        assert_eq!(rest, vec!["p", "plain"]);
        assert!(!g.quiet);
        let unsupported = extract(
            &app(),
            ["p", "plain", "--size-limit", "3"]
                .map(OsString::from)
                .to_vec(),
        );
        assert!(unsupported.is_err());
        let getter = clap::Command::new("p").subcommand(clap::Command::new("get"));
        let (_, g) = extract(
            &getter,
            ["p", "get", "--size-limit", "1kb"]
                .map(OsString::from)
                .to_vec(),
        )
        .expect("get takes it");
        assert_eq!(g.size_limit, Some(1000));
        let (rest, g) = run(&["p", "plain", "-N", "3", "--untrust", "o", "--trust=h"]);
        assert_eq!(rest, vec!["p", "plain"]);
        assert_eq!(g.forced.numcopies, Some(3));
        assert_eq!(
            g.forced.trust,
            vec![("o".to_string(), TrustLevel::Untrusted)]
        );
        assert_eq!(g.trust_ignored, vec!["h".to_string()]);
        assert!(
            extract(
                &app(),
                ["p", "plain", "--mincopies", "x"]
                    .map(OsString::from)
                    .to_vec()
            )
            .is_err()
        );
    }

    #[test]
    fn values_of_the_commands_options_and_arguments_after_dashdash_are_kept() {
        let (rest, g) = run(&["p", "own", "--format", "-q", "--", "-c", "--force"]);
        assert_eq!(
            rest,
            vec!["p", "own", "--format", "-q", "--", "-c", "--force"]
        );
        assert!(!g.quiet && g.config.is_empty());
    }

    #[test]
    fn a_missing_value_is_a_usage_error() {
        assert!(extract(&app(), vec!["p".into(), "plain".into(), "-c".into()]).is_err());
    }

    #[test]
    fn durations_are_read_as_git_annex_writes_them() {
        assert_eq!(parse_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1x"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(show_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(show_duration(Duration::from_secs(0)), "0s");
    }

    #[test]
    fn the_version_matched_is_a_git_annex_release_number() {
        let (major, date) = ANNEX_VERSION.split_once('.').expect("MAJOR.DATE");
        assert_eq!(major, "10");
        assert!(date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()));
        assert!(!OWN_VERSION.is_empty());
    }
}
