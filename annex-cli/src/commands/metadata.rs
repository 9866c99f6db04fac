//! `metadata [PATH...]`: show or change the metadata of annexed files (or
//! `--key`, `--all`): `-g FIELD` prints one field's values; `-s
//! FIELD[+-?]=VALUE`, `-t`, `-u`, `-r`, `--remove-all` change them, in
//! command-line order (a directory needs `--force`); otherwise each file's
//! metadata is shown, with the `lastchanged` fields, as git-annex does
//! (`--json`: a `fields` object). `--batch --json` reads one JSON object a
//! line (`file` or `key`, and `fields` to set) and answers each with one.
//!
//! The changes are the library's ([`annex_ops::metadata`]); this module
//! parses and renders.

use std::ffi::OsString;

use annex_core::key::Key;
use annex_core::logs::metadata::{
    MetaData, ModMeta, TAG_FIELD, illegal_field_message, legal_field, parse_mod_meta,
};
use clap::{Arg, ArgAction, ArgMatches, Args as ClapArgs, Command, FromArgMatches};
use serde_json::{Map, Value};

use crate::action::{CommonArgs, OutputArgs, Reporter, lossy};
use crate::context::Ctx;
use crate::error::{CommandError, ErrorKind};
use crate::output::outln;

use super::whereis::{Shown, for_each_key, lookup_file, os_bytes, os_str, seek_each};

/// git-annex's refusal to set metadata on a directory without `--force`.
const NEED_FORCE: &str = "Not recursively setting metadata. Use --force to do that.";

/// Arguments of `metadata`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories.
    paths: Vec<OsString>,
    /// Get the values of a single field, one a line.
    #[arg(long, short = 'g', value_name = "FIELD", value_parser = field_name)]
    get: Option<String>,
    /// The changes asked, in command-line order.
    #[command(flatten)]
    mods: ModArgs,
    /// Operate on this key instead of files.
    #[arg(long, value_name = "KEY")]
    key: Option<String>,
    /// Operate on every key the git-annex branch has a location log for.
    #[arg(long, short = 'A')]
    all: bool,
    /// Read JSON objects from stdin, one a line (needs `--json`).
    #[arg(long)]
    batch: bool,
    /// With `--batch`, input items end with NUL instead of newline.
    #[arg(short = 'z')]
    z: bool,
    /// Allow setting metadata on every file in a directory.
    #[arg(long)]
    force: bool,
    /// The file matching options (`--in`, `--copies`, `--include`, ...).
    #[command(flatten)]
    matching: crate::matching::MatchingArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    common: CommonArgs,
}

/// A field name as git-annex accepts it on the command line.
fn field_name(s: &str) -> Result<String, String> {
    if legal_field(s) {
        Ok(s.to_owned())
    } else {
        Err(illegal_field_message(s))
    }
}

/// `-s`, `-t`, `-u`, `-r`, `--remove-all`, kept in their command-line order.
#[derive(Debug, Clone, Default)]
struct ModArgs(Vec<ModMeta>);

impl ClapArgs for ModArgs {
    fn augment_args(cmd: Command) -> Command {
        let value = |id: &'static str, short: char, name: &'static str, help: &'static str| {
            Arg::new(id)
                .long(id)
                .short(short)
                .value_name(name)
                .action(ArgAction::Append)
                .allow_hyphen_values(true)
                .help(help)
        };
        cmd.arg(
            value(
                "set",
                's',
                "FIELD[+-?]=VALUE",
                "Set or unset a metadata value",
            )
            .value_parser(|s: &str| parse_mod_meta(s.as_bytes())),
        )
        .arg(value("tag", 't', "TAG", "Set a tag"))
        .arg(value("untag", 'u', "TAG", "Remove a tag"))
        .arg(value("remove", 'r', "FIELD", "Remove all values of a field").value_parser(field_name))
        .arg(
            Arg::new("remove-all")
                .long("remove-all")
                .action(ArgAction::Append)
                .num_args(0)
                .default_missing_value("true")
                .value_parser(clap::value_parser!(bool))
                .help("Remove all metadata"),
        )
        .group(
            clap::ArgGroup::new("changes")
                .args(["set", "tag", "untag", "remove", "remove-all"])
                .multiple(true)
                .conflicts_with("get"),
        )
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for ModArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut found: Vec<(usize, ModMeta)> = Vec::new();
        if let (Some(idx), Some(vals)) = (m.indices_of("set"), m.get_many::<ModMeta>("set")) {
            found.extend(idx.zip(vals.cloned()));
        }
        type Mk = fn(&str) -> ModMeta;
        let strings: [(&str, Mk); 3] = [
            ("tag", |v| {
                ModMeta::Add(TAG_FIELD.into(), v.as_bytes().to_vec())
            }),
            ("untag", |v| {
                ModMeta::Del(TAG_FIELD.into(), Some(v.as_bytes().to_vec()))
            }),
            ("remove", |v| ModMeta::Del(v.to_owned(), None)),
        ];
        for (id, mk) in strings {
            if let (Some(idx), Some(vals)) = (m.indices_of(id), m.get_many::<String>(id)) {
                found.extend(idx.zip(vals.map(|v| mk(v))));
            }
        }
        if let Some(idx) = m.indices_of("remove-all") {
            found.extend(idx.map(|i| (i, ModMeta::DelAll)));
        }
        found.sort_by_key(|(i, _)| *i);
        Ok(ModArgs(found.into_iter().map(|(_, m)| m).collect()))
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

/// What the command does to each item.
enum Mode<'a> {
    /// `-g FIELD`.
    Get(&'a str),
    /// Show everything.
    Show,
    /// Apply changes, then show.
    Set(&'a [ModMeta]),
}

/// Shows or changes metadata.
pub fn run(args: Args) -> Result<(), CommandError> {
    let selectors = [!args.paths.is_empty(), args.key.is_some(), args.all]
        .iter()
        .filter(|b| **b)
        .count();
    if selectors > 1 {
        return Err(CommandError::failed(
            "Can only specify one of file names, --all, --branch, --unused, --failed --key, or --incomplete",
        ));
    }
    let json = args.output.json || args.output.json_progress || args.output.json_error_messages;
    if args.batch && !json {
        return Err(CommandError::failed(
            "--batch is currently only supported in --json mode",
        ));
    }
    if args.batch && !args.matching.is_empty() {
        return Err(CommandError::failed(
            "combining --batch with file matching options is not currently supported",
        ));
    }
    let key_arg = match &args.key {
        Some(k) => Some(
            Key::parse(k.as_bytes())
                .map_err(|_| CommandError::failed(format!("option --key: bad key {k}")))?,
        ),
        None => None,
    };
    let quiet = args.output.quiet || json;
    let ctx = Ctx::open(&args.common.config, quiet)?;
    let mut reporter = ctx.reporter(&args.output, "metadata");
    if args.batch {
        run_batch(&ctx, &mut reporter, args.z)?;
        ctx.commit(&reporter)?;
        return reporter.finish();
    }
    let mode = match (&args.get, args.mods.0.is_empty()) {
        (Some(f), _) => Mode::Get(f),
        (None, true) => Mode::Show,
        (None, false) => Mode::Set(&args.mods.0),
    };
    let one = |reporter: &mut Reporter,
               file: Option<&[u8]>,
               key: &Key,
               input: Option<&[u8]>|
     -> Result<(), CommandError> {
        if !crate::global::size_limit_admits_key(&ctx.store, key) {
            return Ok(());
        }
        act(&ctx, reporter, &mode, file, key, input)
    };
    if let Some(key) = &key_arg {
        one(&mut reporter, None, key, None)?;
    } else if args.all || (ctx.worktree.is_none() && args.paths.is_empty()) {
        for_each_key(ctx.state.branch(), |key| {
            one(&mut reporter, None, &key, None)
        })?;
    } else {
        if matches!(mode, Mode::Set(_)) && !args.force {
            check_not_recursive(&ctx, &args.paths)?;
        }
        let matching = args.matching.matcher(&ctx)?;
        let shown = Shown::new(&ctx);
        let unmatched = seek_each(&ctx, &args.paths, |f, input| {
            if let Some((m, mctx, wanted)) = &matching {
                let item = annex_core::preferred::Item::file(&f.path, Some(&f.key));
                if !m
                    .matches(mctx, &item, wanted.as_ref())
                    .map_err(|e| CommandError::failed(e.to_string()))?
                {
                    return Ok(());
                }
            }
            let file = shown.path(&ctx, &f.path);
            let input = input.map_or_else(|| file.clone(), |i| os_bytes(i));
            one(&mut reporter, Some(&file), &f.key, Some(&input))
        })?;
        for _ in 0..unmatched {
            reporter.count_failure();
        }
    }
    if matches!(mode, Mode::Set(_)) {
        ctx.commit(&reporter)?;
    }
    crate::global::finish_size_limit(reporter.finish())
}

/// Without `--force`, each path given must name at most one file.
fn check_not_recursive(ctx: &Ctx, paths: &[OsString]) -> Result<(), CommandError> {
    if paths.is_empty() {
        return Err(CommandError::failed(NEED_FORCE));
    }
    for p in paths {
        let mut n = 0usize;
        // Unmatched paths are reported when the files are sought.
        seek_each_quiet(ctx, p, &mut n)?;
        if n > 1 {
            return Err(CommandError::failed(NEED_FORCE));
        }
    }
    Ok(())
}

/// Counts the annexed files one path names, reporting nothing.
fn seek_each_quiet(ctx: &Ctx, path: &OsString, n: &mut usize) -> Result<(), CommandError> {
    let wt = ctx.worktree()?;
    let top = wt
        .top()
        .canonicalize()
        .unwrap_or_else(|_| wt.top().to_path_buf());
    let spec = annex_core::worktree::pathspec_from_arg(&top, &ctx.cwd, std::path::Path::new(path))?;
    wt.for_each_annexed_file::<CommandError>(&[spec], |_, _| {
        *n += 1;
        Ok(())
    })?;
    Ok(())
}

/// One file or key: `-g` prints values; otherwise an action that changes
/// (with `-s` ...) and shows the metadata.
fn act(
    ctx: &Ctx,
    reporter: &mut Reporter,
    mode: &Mode<'_>,
    file: Option<&[u8]>,
    key: &Key,
    input: Option<&[u8]>,
) -> Result<(), CommandError> {
    if let Mode::Get(field) = mode {
        let md = annex_ops::metadata::get(ctx, key).map_err(failure)?;
        for v in md.values_of(field) {
            crate::output::bytes_line(&v)?;
        }
        return Ok(());
    }
    let mut action = reporter.start_opt(file, Some(key), input)?;
    let md = match mode {
        Mode::Set(mods) => annex_ops::metadata::modify(ctx, key, mods),
        _ => annex_ops::metadata::get(ctx, key),
    }
    .map_err(failure)?;
    show(&mut action, &md)?;
    action.end(true)
}

/// A library error as the command's failure.
fn failure(e: annex_ops::metadata::MetadataError) -> CommandError {
    CommandError::new(ErrorKind::Failure, e)
}

/// Adds the metadata to an action: the `fields` object in JSON, and the
/// `FIELD=VALUE` lines as a long note.
fn show(action: &mut crate::action::Action<'_>, md: &MetaData) -> Result<(), CommandError> {
    let mut fields = Map::new();
    let mut lines = String::new();
    for f in md.fields.values() {
        let values: Vec<Value> = f
            .values
            .iter()
            .filter(|(_, set)| **set)
            .map(|(v, _)| Value::String(lossy(v)))
            .collect();
        for v in f.values.iter().filter(|(_, set)| **set) {
            lines.push_str(&f.name);
            lines.push('=');
            lines.push_str(&lossy(v.0));
            lines.push('\n');
        }
        fields.insert(f.name.clone(), Value::Array(values));
    }
    action.field("fields", Value::Object(fields));
    action.long_note(&lines)
}

/// `--batch --json`: one JSON object a line; a file that is not annexed
/// gets an empty line; input that is not understood stops the command.
fn run_batch(ctx: &Ctx, reporter: &mut Reporter, nul: bool) -> Result<(), CommandError> {
    crate::batch::for_each_item(nul, |line| {
        let (target, md) = parse_batch_line(line)
            .map_err(|e| CommandError::failed(format!("Batch input parse failure: {e}")))?;
        let (file, key) = match target {
            Target::Key(k) => (None, k),
            Target::File(f) => match lookup_file(ctx, std::path::Path::new(os_str(&f)))? {
                Some(af) => (Some(ctx.display_path(&af.path)), af.key),
                None => return outln!(""),
            },
        };
        let mods: Vec<ModMeta> = md
            .fields
            .values()
            .map(|f| {
                let vs: Vec<Vec<u8>> = f.values.keys().cloned().collect();
                if vs.is_empty() {
                    ModMeta::Del(f.name.clone(), None)
                } else {
                    ModMeta::Set(f.name.clone(), vs)
                }
            })
            .collect();
        let mode = if mods.is_empty() {
            Mode::Show
        } else {
            Mode::Set(&mods)
        };
        act(ctx, reporter, &mode, file.as_deref(), &key, Some(line))
    })
}

/// What a batch line names.
enum Target {
    File(Vec<u8>),
    Key(Key),
}

/// Parses a batch line: `{"file": ..., "key": ..., "fields": {F: [V...]}}`,
/// the key winning over the file.
fn parse_batch_line(line: &[u8]) -> Result<(Target, MetaData), String> {
    let v: Value = serde_json::from_slice(line).map_err(|e| e.to_string())?;
    let Value::Object(o) = v else {
        return Err("expected an object".into());
    };
    let mut md = MetaData::default();
    match o.get("fields") {
        None | Some(Value::Null) => {}
        Some(Value::Object(fields)) => {
            for (name, vals) in fields {
                if !legal_field(name) {
                    return Err(format!(
                        "Error in $.fields: {}",
                        illegal_field_message(name)
                    ));
                }
                let Value::Array(vals) = vals else {
                    return Err("Error in $.fields: expected an array of values".into());
                };
                // A field with no value is kept, to be removed.
                md.fields
                    .entry(annex_core::logs::metadata::fold(name))
                    .or_default()
                    .name = name.clone();
                for val in vals {
                    let Value::String(s) = val else {
                        return Err("Error in $.fields: expected a string value".into());
                    };
                    md.update(name, s.as_bytes().to_vec(), true);
                }
            }
        }
        Some(_) => return Err("Error in $.fields: expected an object".into()),
    }
    if let Some(k) = o.get("key").filter(|k| !k.is_null()) {
        let Value::String(k) = k else {
            return Err("Error in $.key: expected a string".into());
        };
        let key = Key::parse(k.as_bytes()).map_err(|_| "Error in $: bad key".to_string())?;
        return Ok((Target::Key(key), md));
    }
    match o.get("file") {
        Some(Value::String(f)) => Ok((Target::File(f.as_bytes().to_vec()), md)),
        _ => Err("JSON input is missing either file or key".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_lines_parse_as_git_annex_reads_them() {
        let (t, md) =
            parse_batch_line(br#"{"file":"a","fields":{"Tag":["x","y"],"n":[]}}"#).expect("parses");
        assert!(matches!(t, Target::File(f) if f == b"a"));
        assert_eq!(md.values_of("tag"), vec![b"x".to_vec(), b"y".to_vec()]);
        assert!(md.fields.contains_key("n"));
        assert!(parse_batch_line(b"{}").is_err());
        assert!(parse_batch_line(b"notjson").is_err());
        assert!(parse_batch_line(br#"{"file":"a","fields":{"b@d":["1"]}}"#).is_err());
        assert!(parse_batch_line(br#"{"file":"a","fields":{"n":"s"}}"#).is_err());
        let (t, _) = parse_batch_line(
            br#"{"file":"a","key":"SHA256E-s0--e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}"#,
        )
        .expect("parses");
        assert!(matches!(t, Target::Key(_)));
    }
}
