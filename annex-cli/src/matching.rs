//! git-annex's matching options as one reusable clap piece:
//! `#[command(flatten)] matching: MatchingArgs` in a command's arguments
//! gives it `--include --exclude --in --copies --lackingcopies
//! --approxlackingcopies --largerthan --smallerthan --inbackend --securehash
//! --metadata --mimetype --mimeencoding --want-get --want-drop --anything --nothing --and --or --not -( -)`, kept in their
//! command-line order as the library's [`MatchingOptions`], which
//! `annex_ops::matching` evaluates ([`Filter`], [`Matching`]).

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

pub use annex_ops::matching::{
    Filter, Matching, MatchingOpt, MatchingOptions, file_passes, resolve_repo,
};

/// The matching options of a command line, in order: the library's
/// [`MatchingOptions`] (which it dereferences to), parsed by clap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchingArgs(pub MatchingOptions);

impl MatchingArgs {
    /// The matcher of these options with what evaluating it needs: the
    /// branch's state seen from here, and here's preferred-content
    /// expression (for `--want-get`/`--want-drop`). `None` when no option
    /// was given.
    pub fn matcher<'c>(
        &self,
        ctx: &'c crate::context::Ctx,
    ) -> Result<
        Option<(
            Matching,
            annex_core::preferred::StateContext<'c>,
            Option<annex_core::preferred::Expr>,
        )>,
        crate::error::CommandError,
    > {
        if self.is_empty() {
            return Ok(None);
        }
        let m = self.build(Some(ctx.here()), |n| resolve_repo(ctx, n))?;
        let mctx = annex_core::preferred::StateContext::new(
            &ctx.state,
            Some(ctx.here().clone()),
            Some(ctx.store.clone()),
            &ctx.config,
        )?;
        let wanted = annex_ops::annex::preferred_matcher(&ctx.state, &mctx, ctx.here())?;
        Ok(Some((m, mctx, wanted)))
    }
}

impl std::ops::Deref for MatchingArgs {
    type Target = MatchingOptions;
    fn deref(&self) -> &MatchingOptions {
        &self.0
    }
}

impl From<MatchingArgs> for MatchingOptions {
    fn from(a: MatchingArgs) -> MatchingOptions {
        a.0
    }
}

/// Options that take a value and become a term of the same name (with
/// git-annex's short names).
const VALUE_TERMS: &[(&str, Option<char>, &str)] = &[
    (
        "include",
        Some('I'),
        "Match files whose path matches the glob",
    ),
    (
        "exclude",
        Some('x'),
        "Skip files whose path matches the glob",
    ),
    (
        "copies",
        Some('C'),
        "Match files with at least this many copies ([TRUST|GROUP:]N)",
    ),
    (
        "lackingcopies",
        None,
        "Match files that need this many more copies",
    ),
    (
        "approxlackingcopies",
        None,
        "Like --lackingcopies, ignoring .gitattributes",
    ),
    ("largerthan", None, "Match files larger than the size"),
    ("smallerthan", None, "Match files smaller than the size"),
    (
        "inbackend",
        Some('B'),
        "Match files using the key-value backend",
    ),
    (
        "metadata",
        None,
        "Match files with metadata: field=glob, field<N, ...",
    ),
    (
        "mimetype",
        None,
        "Match files whose content has the MIME type (glob)",
    ),
    (
        "mimeencoding",
        None,
        "Match files whose content has the MIME encoding (glob)",
    ),
];

/// Flag options, by id, long or short name, and help.
const FLAGS: &[(&str, Option<&str>, Option<char>, &str)] = &[
    (
        "securehash",
        Some("securehash"),
        None,
        "Match files using a secure hash",
    ),
    (
        "want-get",
        Some("want-get"),
        None,
        "Match files the repository wants to get",
    ),
    (
        "want-drop",
        Some("want-drop"),
        None,
        "Match files the repository wants to drop",
    ),
    (
        "and",
        Some("and"),
        None,
        "Both the previous and the next option must match",
    ),
    (
        "or",
        Some("or"),
        None,
        "Either the previous or the next option must match",
    ),
    ("not", Some("not"), None, "Invert the next option"),
    ("anything", Some("anything"), None, "Match every file"),
    ("nothing", Some("nothing"), None, "Match no file"),
    ("open", None, Some('('), "Open a group of options"),
    ("close", None, Some(')'), "Close a group of options"),
];

impl Args for MatchingArgs {
    fn augment_args(mut cmd: Command) -> Command {
        for (name, short, help) in VALUE_TERMS {
            let mut a = Arg::new(*name)
                .long(*name)
                .value_name("VALUE")
                .action(ArgAction::Append)
                .allow_hyphen_values(true)
                .help(*help);
            if let Some(s) = short {
                a = a.short(*s);
            }
            cmd = cmd.arg(a);
        }
        cmd = cmd.arg(
            Arg::new("in")
                .long("in")
                .short('i')
                .value_name("REPOSITORY")
                .action(ArgAction::Append)
                .help("Match files present in the repository"),
        );
        for (id, long, short, help) in FLAGS {
            let mut a = Arg::new(*id)
                .action(ArgAction::Append)
                .num_args(0)
                .default_missing_value("true")
                .value_parser(clap::value_parser!(bool))
                .help(*help);
            if let Some(l) = long {
                a = a.long(*l);
            }
            if let Some(s) = short {
                a = a.short(*s);
            }
            cmd = cmd.arg(a);
        }
        cmd
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for MatchingArgs {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let mut found: Vec<(usize, MatchingOpt)> = Vec::new();
        let mut values = |id: &'static str, mk: &dyn Fn(String) -> MatchingOpt| {
            if let (Some(idx), Some(vals)) = (m.indices_of(id), m.get_many::<String>(id)) {
                for (i, v) in idx.zip(vals) {
                    found.push((i, mk(v.clone())));
                }
            }
        };
        for (name, ..) in VALUE_TERMS {
            values(name, &|v| MatchingOpt::Term(name, v));
        }
        values("in", &MatchingOpt::In);
        for (id, ..) in FLAGS {
            if let Some(idx) = m.indices_of(id) {
                for i in idx {
                    let opt = match *id {
                        "securehash" => MatchingOpt::SecureHash,
                        "want-get" => MatchingOpt::WantGet,
                        "want-drop" => MatchingOpt::WantDrop,
                        "anything" => MatchingOpt::Anything,
                        "nothing" => MatchingOpt::Nothing,
                        "and" => MatchingOpt::And,
                        "or" => MatchingOpt::Or,
                        "not" => MatchingOpt::Not,
                        "open" => MatchingOpt::Open,
                        _ => MatchingOpt::Close,
                    };
                    found.push((i, opt));
                }
            }
        }
        found.sort_by_key(|(i, _)| *i);
        Ok(MatchingArgs(MatchingOptions {
            opts: found.into_iter().map(|(_, o)| o).collect(),
        }))
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        matching: MatchingArgs,
        files: Vec<String>,
    }

    fn parse(args: &[&str]) -> MatchingArgs {
        let mut v = vec!["prog"];
        v.extend_from_slice(args);
        match Cli::try_parse_from(v) {
            Ok(c) => c.matching,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn keeps_command_line_order() {
        let m = parse(&[
            "--include=*.mp3",
            "--or",
            "-(",
            "--not",
            "--largerthan",
            "1mb",
            "--exclude=b*",
            "-)",
            "--securehash",
            "file",
        ]);
        assert_eq!(
            m.opts,
            vec![
                MatchingOpt::Term("include", "*.mp3".into()),
                MatchingOpt::Or,
                MatchingOpt::Open,
                MatchingOpt::Not,
                MatchingOpt::Term("largerthan", "1mb".into()),
                MatchingOpt::Term("exclude", "b*".into()),
                MatchingOpt::Close,
                MatchingOpt::SecureHash,
            ]
        );
    }

    #[test]
    fn bad_values_fail_like_git_annex() {
        let m = parse(&["--copies=x"]);
        let e = m.build(None, |n| {
            Err(annex_ops::matching::MatchingError::NoSuchRepository(
                n.to_owned(),
            ))
        });
        assert_eq!(
            e.map(|_| ()).map_err(|e| e.to_string()),
            Err("bad number for copies".to_owned())
        );
    }
}
